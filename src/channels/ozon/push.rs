//! The push route: Ozon posts notifications to the URL the seller registered in the seller
//! account, here `/webhooks/ozon/<secret>`. Ozon does not sign its pushes, so the secret path
//! segment (compared in constant time) is what keeps strangers out, with an optional list of
//! addresses pushes may come from.
//!
//! `TYPE_PING` is answered as Ozon requires (`version`, `name`, `time`), a buyer's message is
//! answered `{"result": true}` only after it is durably stored; until then Ozon gets an error
//! in its own shape (`{"error": {"code", "message", "details"}}`) and sends it again, and the
//! history fallback (`history.rs`) finds it in any case.

use super::inbound::{OzonReceiver, Push, parse_push};
use crate::channels::{Intake, ReceiveError};
use crate::web::client::ClientAddress;
use crate::web::token::tokens_match;
use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::json;
use std::sync::Arc;

/// The route; the last segment is `SWITCHBOARD_OZON_PUSH_SECRET`.
pub const PUSH_PATH: &str = "/webhooks/ozon/{secret}";
/// Ozon's notifications are small; anything much larger is not from Ozon.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

#[derive(Clone)]
struct PushState {
    receiver: OzonReceiver,
    intake: Arc<dyn Intake>,
}

/// The push route, ready to be merged into the app's router (only when a push secret is set).
pub fn router(receiver: OzonReceiver, intake: Arc<dyn Intake>) -> Router {
    Router::new()
        .route(PUSH_PATH, post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(PushState { receiver, intake })
}

/// An answer in the shape Ozon's push documentation gives for errors.
fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({"error": {"code": code, "message": message, "details": null}}))).into_response()
}

fn taken() -> Response {
    (StatusCode::OK, Json(json!({"result": true}))).into_response()
}

async fn receive(
    State(state): State<PushState>,
    Path(secret): Path<String>,
    address: ClientAddress,
    body: Bytes,
) -> Response {
    let settings = state.receiver.settings();
    let secret_matches =
        settings.push_secret.as_ref().is_some_and(|expected| tokens_match(expected.expose(), &secret));
    if !secret_matches {
        tracing::warn!("Ozon push to a wrong secret path; refused");
        return error(StatusCode::UNAUTHORIZED, "ERROR_UNKNOWN", "unknown endpoint");
    }
    if !settings.push_allow.is_empty()
        && !address.0.is_some_and(|ip| settings.push_allow.iter().any(|network| network.contains(&ip)))
    {
        tracing::warn!(address = ?address.0, "Ozon push from an address outside SWITCHBOARD_OZON_PUSH_ALLOW; refused");
        return error(StatusCode::FORBIDDEN, "ERROR_UNKNOWN", "address not allowed");
    }
    let push = match parse_push(&body) {
        Ok(push) => push,
        Err(problem) => {
            tracing::warn!(%problem, "malformed Ozon push");
            return error(StatusCode::BAD_REQUEST, "ERROR_PARAMETER_VALUE_MISSED", "malformed notification");
        }
    };
    match push {
        Push::Ping => {
            let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            (
                StatusCode::OK,
                Json(json!({"version": env!("CARGO_PKG_VERSION"), "name": "switchboard", "time": time})),
            )
                .into_response()
        }
        Push::Ignored { .. } => taken(),
        Push::Message { chat_id, message } => {
            let events = match state.receiver.events_for(&chat_id, &message).await {
                Ok(events) => events,
                Err(ReceiveError::Malformed(problem)) => {
                    tracing::warn!(%problem, "unreadable Ozon message");
                    return error(
                        StatusCode::BAD_REQUEST,
                        "ERROR_PARAMETER_VALUE_MISSED",
                        "malformed message",
                    );
                }
                Err(problem @ ReceiveError::Unavailable(_)) => {
                    tracing::warn!(%problem, "Ozon message not taken in; Ozon will retry");
                    return error(StatusCode::INTERNAL_SERVER_ERROR, "ERROR_UNKNOWN", "try again");
                }
            };
            match state.intake.accept_batch(events).await {
                Ok(_) => taken(),
                Err(problem) => {
                    tracing::error!(%problem, "Ozon message not stored; Ozon will retry");
                    error(StatusCode::INTERNAL_SERVER_ERROR, "ERROR_UNKNOWN", "try again")
                }
            }
        }
    }
}
