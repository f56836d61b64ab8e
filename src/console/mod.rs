//! The agent console (server-rendered pages, live updates over SSE) and the agent JSON API.

pub mod agents;
pub mod db;
