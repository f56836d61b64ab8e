//! The Callback API route: VK posts each event here and retries until it reads `ok`. We
//! answer `ok` only after the event is durably stored, check the secret in constant time
//! before acting on anything, and answer the confirmation request with the configured string.
//!
//! VK puts the secret inside the JSON body, so the body is read first: a body over the limit
//! is 413, one declared as anything but JSON 415, one that is not a VK event 400; then a
//! missing or wrong secret is 403. Event types we do not handle are answered `ok` and not
//! stored: VK would otherwise retry them and, after several errors, stop calling us.

use super::inbound::{Envelope, MalformedEvent, ReceiveError, VkReceiver, parse_update};
use crate::channels::{Intake, ReadUpdate};
use crate::web::content_type;
use crate::web::token::tokens_match;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::Arc;

/// Where VK posts events; enter `https://<your host>/webhooks/vk` in the community settings.
pub const CALLBACK_PATH: &str = "/webhooks/vk";
/// VK events are small; anything much larger is not from VK.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Clone)]
struct CallbackState {
    receiver: VkReceiver,
    intake: Arc<dyn Intake>,
}

/// The Callback API route at [`CALLBACK_PATH`], ready to be merged into the app's router.
pub fn router(receiver: VkReceiver, intake: Arc<dyn Intake>) -> Router {
    Router::new()
        .route(CALLBACK_PATH, post(handle))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(CallbackState { receiver, intake })
}

/// Reads a Callback API body into its envelope, without I/O: the body must be a JSON object
/// with a `type` (see [`Envelope::parse`]). [`parse_update`] then reads the event itself.
pub fn parse_body(body: &[u8]) -> Result<Envelope, MalformedEvent> {
    let value = serde_json::from_slice::<serde_json::Value>(body)
        .map_err(|error| MalformedEvent(format!("not JSON: {error}")))?;
    Envelope::parse(&value)
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (status, body).into_response()
}

async fn handle(State(state): State<CallbackState>, headers: HeaderMap, body: Bytes) -> Response {
    if !content_type::webhook_accepts(&headers) {
        return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected application/json");
    }
    let envelope = match parse_body(&body) {
        Ok(envelope) => envelope,
        Err(error) => {
            tracing::warn!(%error, "malformed VK callback body");
            return plain(StatusCode::BAD_REQUEST, "malformed event");
        }
    };
    let settings = state.receiver.settings();
    // Fails closed: without a configured secret nothing is accepted.
    let secret_matches = match (&settings.secret, &envelope.secret) {
        (Some(expected), Some(given)) => tokens_match(expected.expose(), given),
        _ => false,
    };
    if !secret_matches {
        tracing::warn!(kind = envelope.kind, "VK callback with a wrong or missing secret; refused");
        return plain(StatusCode::FORBIDDEN, "bad secret");
    }
    if envelope.group_id.is_some_and(|group_id| group_id != settings.group_id) {
        tracing::warn!(group_id = envelope.group_id, "VK callback for another community; refused");
        return plain(StatusCode::FORBIDDEN, "wrong community");
    }
    if envelope.kind == "confirmation" {
        return match &settings.confirmation {
            Some(confirmation) => (StatusCode::OK, confirmation.clone()).into_response(),
            None => {
                tracing::error!(
                    "VK asks to confirm the callback server, but SWITCHBOARD_VK_CONFIRMATION is not set"
                );
                plain(StatusCode::INTERNAL_SERVER_ERROR, "not configured")
            }
        };
    }
    let update = match parse_update(&envelope) {
        Ok(update) => update,
        Err(error) => {
            tracing::warn!(%error, "unreadable VK callback event");
            return plain(StatusCode::BAD_REQUEST, "malformed event");
        }
    };
    let received = match state.receiver.receive(update).await {
        Ok(received) => received,
        Err(ReceiveError::Malformed(error)) => {
            tracing::warn!(%error, "unreadable VK callback event");
            return plain(StatusCode::BAD_REQUEST, "malformed event");
        }
        Err(error @ ReceiveError::Unavailable(_)) => {
            // Not `ok`: VK will post the event again.
            tracing::warn!(%error, "VK callback event not taken in; VK will retry");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
    };
    if !received.events.is_empty()
        && let Err(error) = state.intake.accept_batch(received.events).await
    {
        tracing::error!(%error, "VK callback event not stored; VK will retry");
        return plain(StatusCode::SERVICE_UNAVAILABLE, "try again");
    }
    state.receiver.answer_presses_later(received.presses);
    plain(StatusCode::OK, "ok")
}
