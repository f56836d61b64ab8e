//! The MAX channel: a bot's dialogs, through long polling (`GET /updates`) or a webhook
//! (`POST /subscriptions`), answered with `POST /messages`.
//!
//! Wiring, in the app:
//! ```text
//! let Some(settings) = settings.max else { return };     // None: MAX not configured (config::max)
//! let max = MaxChannel::new(settings, media, renderer)?;  // outbound: impl Channel
//! match max.settings().mode {
//!     MaxMode::LongPoll => spawn(longpoll::run(max.receiver(), intake, shutdown)),
//!     MaxMode::Webhook => {
//!         subscribe(&max).await?;
//!         router.merge(webhook::router(max.receiver(), intake))
//!     }
//! }
//! ```
//!
//! `api` is the typed HTTP client, `inbound` reads updates, `keyboard` lays out buttons,
//! `outbound` sends, `longpoll` and `webhook` are the two ways updates arrive.

pub mod api;
pub mod inbound;
pub mod keyboard;
pub mod longpoll;
pub mod outbound;
pub mod webhook;

use crate::config::max::MaxSettings;
use sha2::{Digest, Sha256};

pub use inbound::MaxReceiver;
pub use outbound::MaxChannel;

/// The channel name in events, contacts and outbox rows.
pub const CHANNEL: &str = "max";

/// The update types the channel asks for, in polling and in the subscription alike.
pub const UPDATE_TYPES: &[&str] =
    &["message_created", "message_callback", "message_edited", "bot_started", "bot_stopped"];

/// A stable name for the bot, for its leader lock and its saved marker. MAX tokens do not say
/// which bot they belong to, so this is a digest of the token: the secret itself never reaches
/// the database or the logs.
pub fn bot_key(settings: &MaxSettings) -> String {
    hex::encode(&Sha256::digest(settings.token.expose().as_bytes())[..8])
}

/// Webhook mode: asks MAX to post our update types to the configured URL with the secret.
/// Long-poll mode needs nothing (a bot without subscriptions is polled).
pub async fn subscribe(channel: &MaxChannel) -> Result<(), api::ApiError> {
    let settings = channel.settings();
    if settings.mode != crate::config::max::MaxMode::Webhook {
        return Ok(());
    }
    let (Some(url), Some(secret)) = (&settings.webhook_url, &settings.webhook_secret) else {
        return Ok(());
    };
    channel.receiver().api().subscribe(url, UPDATE_TYPES, secret.expose()).await?;
    tracing::info!(url, "MAX webhook subscription registered");
    Ok(())
}
