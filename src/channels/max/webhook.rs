//! The webhook route: MAX posts each update here (after `POST /subscriptions`) and retries
//! until it gets a 200. We answer 200 only after the update is durably stored, and check the
//! `X-Max-Bot-Api-Secret` header in constant time before reading anything else.
//!
//! Refusals follow the scheme of the other webhooks: a missing or wrong secret 401, a body over
//! the limit 413, one declared as anything but JSON 415, one that is not a MAX update 400.
//! Update types we do not handle are answered 200 and not stored. MAX drops the subscription
//! after 8 hours of failed posts, so how long the posts have been refused without a break is
//! logged and kept as a metric (`switchboard_webhook_failing_seconds{channel="max"}`).

use super::CHANNEL;
use super::inbound::{MaxReceiver, ReceiveError, parse_update};
use crate::channels::{Intake, ReadUpdate};
use crate::web::content_type;
use crate::web::token::tokens_match;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Where MAX posts updates; `SWITCHBOARD_MAX_WEBHOOK_URL` ends in this path.
pub const WEBHOOK_PATH: &str = "/webhooks/max";
/// The header MAX puts the subscription's secret in.
pub const SECRET_HEADER: &str = "x-max-bot-api-secret";
/// MAX updates are small; anything much larger is not from MAX.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Refused posts for this long in a row are logged as an error: half of the 8 hours after
/// which MAX unsubscribes, time enough to fix the cause.
const FAILING_ALARM: Duration = Duration::from_secs(4 * 3600);

#[derive(Clone)]
struct WebhookState {
    receiver: MaxReceiver,
    intake: Arc<dyn Intake>,
    streak: Arc<FailingStreak>,
}

/// How long MAX's posts have been refused without a break, kept as the
/// `switchboard_webhook_failing_seconds` gauge and logged as an error past [`FAILING_ALARM`].
#[derive(Default)]
struct FailingStreak {
    /// When the current run of refused posts began; `None` after a post was taken.
    since: Mutex<Option<Instant>>,
}

impl FailingStreak {
    fn taken(&self) {
        *self.since.lock().expect("webhook streak lock poisoned") = None;
        crate::telemetry::record_webhook_failing(CHANNEL, Duration::ZERO);
    }

    fn refused(&self) {
        self.refused_at(Instant::now());
    }

    fn refused_at(&self, now: Instant) {
        let since = *self.since.lock().expect("webhook streak lock poisoned").get_or_insert(now);
        let failing = now.saturating_duration_since(since);
        crate::telemetry::record_webhook_failing(CHANNEL, failing);
        if failing >= FAILING_ALARM {
            tracing::error!(
                failing_secs = failing.as_secs(),
                "MAX webhook posts have been refused for hours; MAX unsubscribes after 8 hours of failures"
            );
        }
    }
}

/// The webhook route at [`WEBHOOK_PATH`], ready to be merged into the app's router.
pub fn router(receiver: MaxReceiver, intake: Arc<dyn Intake>) -> Router {
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(WebhookState { receiver, intake, streak: Arc::default() })
}

/// Reads a webhook body into an update value, without I/O: it must be a JSON object.
/// [`parse_update`] then reads the update itself.
pub fn parse_body(body: &[u8]) -> Result<serde_json::Value, super::inbound::MalformedUpdate> {
    let value: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| super::inbound::MalformedUpdate(format!("not JSON: {error}")))?;
    if !value.is_object() {
        return Err(super::inbound::MalformedUpdate("not a JSON object".to_owned()));
    }
    Ok(value)
}

fn plain(status: StatusCode, body: &'static str) -> Response {
    (status, body).into_response()
}

async fn receive(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> Response {
    let settings = state.receiver.settings();
    // Fails closed: without a configured secret nothing is accepted.
    let given = headers.get(SECRET_HEADER).and_then(|value| value.to_str().ok());
    let secret_matches = match (&settings.webhook_secret, given) {
        (Some(expected), Some(given)) => tokens_match(expected.expose(), given),
        _ => false,
    };
    if !secret_matches {
        tracing::warn!("MAX webhook post with a wrong or missing secret; refused");
        return plain(StatusCode::UNAUTHORIZED, "bad secret");
    }
    if !content_type::webhook_accepts(&headers) {
        return plain(StatusCode::UNSUPPORTED_MEDIA_TYPE, "expected application/json");
    }
    let update = match parse_body(&body).and_then(|value| parse_update(&value)) {
        Ok(update) => update,
        Err(error) => {
            tracing::warn!(%error, "malformed MAX webhook body");
            return plain(StatusCode::BAD_REQUEST, "malformed update");
        }
    };
    let received = match state.receiver.receive(update).await {
        Ok(received) => received,
        Err(ReceiveError::Malformed(error)) => {
            tracing::warn!(%error, "unreadable MAX update");
            return plain(StatusCode::BAD_REQUEST, "malformed update");
        }
        Err(error @ ReceiveError::Unavailable(_)) => {
            // Not 200: MAX will post the update again.
            tracing::warn!(%error, "MAX update not taken in; MAX will retry");
            state.streak.refused();
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again");
        }
    };
    if !received.events.is_empty()
        && let Err(error) = state.intake.accept_batch(received.events).await
    {
        tracing::error!(%error, "MAX update not stored; MAX will retry");
        state.streak.refused();
        return plain(StatusCode::SERVICE_UNAVAILABLE, "try again");
    }
    state.streak.taken();
    state.receiver.answer_presses_later(received.presses);
    plain(StatusCode::OK, "ok")
}

#[cfg(test)]
mod tests {
    use super::*;
    use metrics_exporter_prometheus::PrometheusBuilder;

    fn gauge(rendered: &str) -> f64 {
        let prefix = r#"switchboard_webhook_failing_seconds{channel="max"} "#;
        let line = rendered.lines().find_map(|line| line.strip_prefix(prefix));
        line.unwrap_or_else(|| panic!("no gauge in\n{rendered}")).parse().unwrap()
    }

    #[test]
    fn the_gauge_says_how_long_posts_have_been_refused_and_a_taken_post_resets_it() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let streak = FailingStreak::default();
        let five_hours = Duration::from_secs(5 * 3600);
        let began = Instant::now();
        metrics::with_local_recorder(&recorder, || {
            streak.refused_at(began);
            // Five hours of refusals later (given rather than waited for).
            streak.refused_at(began + five_hours);
        });
        assert_eq!(gauge(&handle.render()), five_hours.as_secs_f64());
        metrics::with_local_recorder(&recorder, || streak.taken());
        assert_eq!(gauge(&handle.render()), 0.0);
        assert!(streak.since.lock().unwrap().is_none());
    }
}
