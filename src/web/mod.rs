//! HTTP plumbing shared by every part that serves requests: the web chat, the agent console
//! and the platforms' webhooks; and, for the channels that fetch customers' photos, which
//! hosts they may fetch from (`downloads`). It lives here so that none of them imports another
//! for it (`tests/architecture.rs` checks that channels import neither the console nor each
//! other).

pub mod client;
pub mod content_type;
pub mod cookie;
pub mod downloads;
pub mod limits;
pub mod media;
pub mod platform;
pub mod server;
pub mod token;
