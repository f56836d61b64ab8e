//! `POST /api/link-tokens`: the store asks for a one-time token that links a messenger contact
//! to one of its customers (see `crate::customers` and `docs/order-lookup.md`).
//!
//! The body is a signed identity with the purpose `link-token`:
//! `{"customer_id", "email", "ts", "sig"}`, at most five minutes old. The answer is
//! `201 {"token", "expires_at"}`; the store shows the token as a deep link
//! (`https://t.me/<bot>?start=<token>`). A wrong or stale signature is 401 and stores nothing;
//! without `SWITCHBOARD_IDENTITY_SECRET` the route answers 404.

use super::ConsoleState;
use crate::customers::{self, Purpose, SignedIdentity};
use crate::store::now_millis;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub(crate) async fn create(State(state): State<ConsoleState>, body: Bytes) -> Response {
    let Some(secret) = &state.settings.identity_secret else {
        return refusal(StatusCode::NOT_FOUND, "not_configured");
    };
    let Ok(identity) = serde_json::from_slice::<SignedIdentity>(&body) else {
        return refusal(StatusCode::BAD_REQUEST, "bad_json");
    };
    let now = now_millis();
    if let Err(problem) = identity.verify(secret.expose(), Purpose::LinkToken, now / 1000) {
        tracing::info!(%problem, "refused a link-token request");
        return refusal(StatusCode::UNAUTHORIZED, "bad_signature");
    }
    let token = customers::new_link_token();
    let expires_at = now + customers::LINK_TOKEN_TTL_SECS * 1000;
    let stored = state
        .store
        .insert_link_token(
            &customers::link_token_hash(&token),
            &identity.customer_id,
            identity.email.as_deref(),
            expires_at,
            now,
        )
        .await;
    match stored {
        Ok(()) => {
            let expires = crate::store::to_datetime(expires_at).to_rfc3339();
            (StatusCode::CREATED, Json(json!({ "token": token, "expires_at": expires }))).into_response()
        }
        Err(problem) => {
            tracing::warn!(%problem, "could not store a link token");
            refusal(StatusCode::SERVICE_UNAVAILABLE, "try_again")
        }
    }
}

fn refusal(status: StatusCode, code: &str) -> Response {
    (status, Json(json!({ "error": code }))).into_response()
}
