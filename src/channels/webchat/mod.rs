//! The website chat: a widget on the store's pages (`static/widget.js`) talks to these routes.
//!
//! - `POST /chat/start` gives the browser its signed visitor cookie.
//! - `GET /chat/events` is a Server-Sent Events stream of the visitor's conversation, read from
//!   the message log: first everything after the last id the widget saw (`?after=N` or the
//!   `Last-Event-ID` header an `EventSource` sends when it reconnects), then new messages as
//!   they are delivered. Event ids are log ids, so nothing is lost or repeated.
//! - `POST /chat/messages` sends text or a button press; `POST /chat/photos` uploads an image.
//!   Each carries a client-made id: a message resent after a network error is deduplicated
//!   by the engine.
//!
//! The outbound half ([`WebChatChannel`]) only wakes the visitor's open streams; the log
//! already holds what was said.

pub mod cookie;
pub mod hub;
pub mod limits;
pub mod message;
mod routes;

pub use cookie::{CookieKey, VISITOR_COOKIE};
pub use hub::WebChatHub;
pub use limits::WebChatLimits;
pub use routes::router;

use crate::channels::{Channel, Delivery, DeliveryError, Intake, Renderer};
use crate::core::message::{Lang, MediaRef, Reply};
use crate::media::MediaStore;
use std::sync::Arc;
use std::time::Duration;

pub const CHANNEL: &str = "webchat";

/// Delivers to browsers by waking their event streams.
#[derive(Clone)]
pub struct WebChatChannel {
    hub: Arc<WebChatHub>,
}

impl WebChatChannel {
    pub fn new(hub: Arc<WebChatHub>) -> WebChatChannel {
        WebChatChannel { hub }
    }
}

#[async_trait::async_trait]
impl Channel for WebChatChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    /// Always succeeds: the message is in the log, and a visitor who is not connected right
    /// now reads it when the widget reconnects.
    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        let woken = self.hub.wake(&delivery.external_id);
        tracing::debug!(outbox_id = delivery.outbox_id, streams = woken, "web chat delivery");
        Ok(())
    }
}

/// Who wrote a logged message, as the widget shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatAuthor {
    Customer,
    Bot,
    Agent,
}

/// One message of a visitor's conversation, as the log has it.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggedMessage {
    pub id: i64,
    pub author: ChatAuthor,
    /// The agent as customers are shown them (their display name), never their login.
    pub agent: Option<String>,
    /// The agent's photo (SHA-256 of a stored image), when they have one.
    pub agent_photo: Option<String>,
    pub text: Option<String>,
    /// The bot's structured reply, rendered for the visitor's language when sent.
    pub reply: Option<Reply>,
    /// Whether the customer's message was a button press or another non-text input.
    pub structured: bool,
    pub attachments: Vec<MediaRef>,
    pub event_id: Option<String>,
}

/// A page of a visitor's conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatPage {
    /// The visitor's current language (`None` before their first message).
    pub lang: Option<Lang>,
    pub messages: Vec<LoggedMessage>,
}

/// Reads the message log for the web chat. The engine implements it over its store, so this
/// channel never touches the store itself.
#[async_trait::async_trait]
pub trait ChatLog: Send + Sync {
    /// Messages of the visitor's conversation (`visitor` is their web chat contact id) with an
    /// id above `after`, oldest first.
    async fn messages_after(&self, visitor: &str, after: i64, limit: i64) -> anyhow::Result<ChatPage>;
    /// Whether the image is an active agent's photo (any visitor may see those).
    async fn is_agent_photo(&self, sha256: &str) -> anyhow::Result<bool>;
    /// Whether the image was sent in this visitor's conversation (so only they may fetch it).
    async fn conversation_has_media(
        &self,
        channel: &str,
        external_id: &str,
        sha256: &str,
    ) -> anyhow::Result<bool>;
}

/// Web chat settings the app fills from its configuration.
#[derive(Debug, Clone)]
pub struct WebChatSettings {
    /// Mark the visitor cookie `Secure` (the site is served over HTTPS).
    pub secure_cookies: bool,
    /// The language the widget starts in when the browser tells us nothing we speak.
    pub default_lang: Lang,
    /// How often an open stream reads the log even without a wake-up. Covers deliveries made
    /// by another instance (PostgreSQL deployments) whose hub this process cannot see.
    pub poll_interval: Duration,
    /// Largest JSON request body.
    pub max_message_bytes: usize,
}

impl Default for WebChatSettings {
    fn default() -> Self {
        WebChatSettings {
            secure_cookies: false,
            default_lang: Lang::En,
            poll_interval: Duration::from_secs(3),
            max_message_bytes: 32 * 1024,
        }
    }
}

/// Everything the web chat routes need.
#[derive(Clone)]
pub struct WebChatState {
    pub intake: Arc<dyn Intake>,
    pub log: Arc<dyn ChatLog>,
    pub hub: Arc<WebChatHub>,
    pub media: MediaStore,
    pub render: Renderer,
    pub cookie_key: CookieKey,
    pub settings: WebChatSettings,
    /// What one visitor or one address may cost: shared by every clone of the state.
    pub limits: Arc<WebChatLimits>,
}
