//! HTTP plumbing shared by every part that serves requests: the web chat, the agent console
//! and the platforms' webhooks. It lives here so that none of them imports another for it
//! (`tests/architecture.rs` checks that channels import neither the console nor each other).

pub mod client;
pub mod content_type;
pub mod cookie;
pub mod limits;
pub mod media;
pub mod server;
pub mod token;
