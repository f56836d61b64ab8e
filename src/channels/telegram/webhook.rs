//! The webhook route. Telegram posts one update per request and redelivers until it gets a
//! 2xx, so the answer follows the event's fate:
//! - secret token missing or wrong: 401, nothing read or stored;
//! - a body over the limit: 413; declared as anything but JSON: 415; not an update: 400;
//! - stored (or a known duplicate, or nothing for support): 200;
//! - not stored (storage or Telegram's file server unavailable): 500, and Telegram retries.

use super::TelegramChannel;
use crate::channels::Intake;
use crate::web::content_type;
use crate::web::token::tokens_match;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::Deserialize;
use serde::de::IgnoredAny;
use std::sync::Arc;
use teloxide::types::{Update, UpdateKind};

/// Where the route listens; `SWITCHBOARD_TELEGRAM_WEBHOOK_URL` should point here.
pub const PATH: &str = "/webhooks/telegram";

/// The header in which Telegram echoes the `secret_token` given to `setWebhook`.
pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

#[derive(Clone)]
struct Webhook {
    channel: Arc<TelegramChannel>,
    intake: Arc<dyn Intake>,
}

/// A router with one route, `POST` [`PATH`], for the app router to merge. It uses the secret
/// from the channel's settings; without one every request is refused.
pub fn router(channel: Arc<TelegramChannel>, intake: Arc<dyn Intake>) -> Router {
    let body_limit = channel.settings().webhook_body_limit;
    Router::new()
        .route(PATH, post(receive))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(Webhook { channel, intake })
}

async fn receive(State(webhook): State<Webhook>, headers: HeaderMap, body: Bytes) -> StatusCode {
    if !secret_matches(webhook.channel.settings().webhook_secret.as_deref(), &headers) {
        tracing::warn!("Telegram webhook call with a missing or wrong secret token");
        return StatusCode::UNAUTHORIZED;
    }
    if !content_type::webhook_accepts(&headers) {
        tracing::warn!("Telegram webhook body declared as something other than JSON");
        return StatusCode::UNSUPPORTED_MEDIA_TYPE;
    }
    let Some(update) = parse_body(&body) else {
        tracing::warn!(bytes = body.len(), "malformed Telegram webhook body");
        return StatusCode::BAD_REQUEST;
    };
    let event = match webhook.channel.read_update(&update).await {
        Ok(event) => event,
        Err(error) => {
            tracing::warn!(update_id = update.id.0, %error, "Telegram update not read; Telegram will retry");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    };
    if let Some(event) = event {
        if let Err(error) = webhook.intake.accept(event).await {
            tracing::warn!(update_id = update.id.0, %error, "Telegram update not stored; Telegram will retry");
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
    }
    webhook.channel.follow_up(vec![update]);
    StatusCode::OK
}

/// Constant-time comparison, so response timing reveals nothing about the secret.
fn secret_matches(expected: Option<&str>, headers: &HeaderMap) -> bool {
    let given = headers.get(SECRET_HEADER).and_then(|value| value.to_str().ok());
    let (Some(expected), Some(given)) = (expected, given) else { return false };
    tokens_match(expected, given)
}

/// An update, or `None` for a body that is not one: not JSON, no numeric `update_id`, or one
/// of the kinds we read in a shape that does not parse. Kinds we do not know are updates
/// (acknowledged and ignored), so a Bot API addition never makes Telegram retry forever.
pub fn parse_body(body: &[u8]) -> Option<Update> {
    // teloxide's `Update` parses a kind it cannot read, known or not, as `UpdateKind::Error`
    // with nothing in it, so which keys the body had is read in a first pass that builds
    // nothing (not a `serde_json::Value`, which allocated every node of every update).
    let outline: Outline = serde_json::from_slice(body).ok()?;
    let update: Update = serde_json::from_slice(body).ok()?;
    if outline.names_known_kind() && matches!(update.kind, UpdateKind::Error(_)) {
        return None;
    }
    Some(update)
}

/// What [`parse_body`] needs to know of a body besides the parsed update: its id is a number
/// that fits, and which of the update kinds Switchboard reads it names (one of those that does
/// not parse is a malformed body, not an update kind from the future). Values are skipped.
#[derive(Deserialize)]
struct Outline {
    #[serde(rename = "update_id")]
    _id: u32,
    #[serde(default)]
    message: Named,
    #[serde(default)]
    edited_message: Named,
    #[serde(default)]
    callback_query: Named,
    #[serde(default)]
    my_chat_member: Named,
}

impl Outline {
    fn names_known_kind(&self) -> bool {
        [&self.message, &self.edited_message, &self.callback_query, &self.my_chat_member]
            .iter()
            .any(|kind| kind.0)
    }
}

/// Whether a key is in the body, whatever its value (`null` included, which `Option` would
/// read as absent).
#[derive(Default)]
struct Named(bool);

impl<'de> Deserialize<'de> for Named {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Named, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| Named(true))
    }
}

/// `read` is exercised against real payloads in `tests/it/telegram.rs`; this checks only the
/// body gate, which needs no server.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::telegram::inbound;

    #[test]
    fn only_well_formed_updates_pass_the_body_gate() {
        assert!(parse_body(br#"{"update_id":1,"message":{"message_id":1,"date":1,"chat":{"id":1,"type":"private"},"text":"hi"}}"#).is_some());
        assert!(parse_body(br#"{"update_id":2,"brand_new_kind":{"x":1}}"#).is_some());
        assert!(parse_body(b"not json").is_none());
        assert!(parse_body(br#"{"message":{}}"#).is_none());
        assert!(parse_body(br#"{"update_id":"3"}"#).is_none());
        assert!(parse_body(br#"{"update_id":-3}"#).is_none());
        assert!(parse_body(br#"[1,2]"#).is_none());
        assert!(parse_body(br#"{"update_id":4,"message":"garbage"}"#).is_none());
        assert!(parse_body(br#"{"update_id":5,"callback_query":null}"#).is_none());
        assert!(parse_body(br#"{"update_id":4294967296,"brand_new_kind":{}}"#).is_none());
        assert!(inbound::read(&parse_body(br#"{"update_id":2,"brand_new_kind":{}}"#).unwrap()).is_none());
    }

    #[test]
    fn the_secret_must_be_present_and_exact() {
        let mut headers = HeaderMap::new();
        assert!(!secret_matches(Some("abc"), &headers));
        headers.insert(SECRET_HEADER, "abd".parse().unwrap());
        assert!(!secret_matches(Some("abc"), &headers));
        assert!(!secret_matches(None, &headers));
        headers.insert(SECRET_HEADER, "abcd".parse().unwrap());
        assert!(!secret_matches(Some("abc"), &headers));
        headers.insert(SECRET_HEADER, "abc".parse().unwrap());
        assert!(secret_matches(Some("abc"), &headers));
    }
}
