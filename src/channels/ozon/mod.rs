//! The Ozon channel: a seller's buyer chats in Ozon's marketplace. Buyers' messages arrive as
//! push notifications (`push.rs`, when `SWITCHBOARD_OZON_PUSH_SECRET` is set) and, as a
//! fallback and after downtime, from the chat history (`history.rs`, on the leader); answers
//! go out through `POST /v1/chat/send/message` (`outbound.rs`). Ozon's chat has no buttons:
//! replies offer their choices as numbered lines, and the engine reads a number back as the
//! button (`core::choices`, `EngineSettings::numbered_channels`).
//!
//! `api` is the typed Seller API client, `inbound` reads messages into events, `window` knows
//! when Ozon accepts an answer.

pub mod api;
pub mod history;
pub mod inbound;
pub mod outbound;
pub mod push;
pub mod window;

pub use inbound::OzonReceiver;
pub use outbound::{OzonChannel, OzonSetupError};

/// The channel name in events, contacts and outbox rows.
pub const CHANNEL: &str = "ozon";

/// The leader lock of the history fallback, one per seller.
pub fn leadership(client_id: &str) -> String {
    format!("ozon:{client_id}")
}
