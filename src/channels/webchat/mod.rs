//! The website chat: a widget on the store's pages talks to these routes.
pub mod cookie;
pub mod hub;
