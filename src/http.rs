//! The HTTP surface, as one axum `Router`: health checks here, and the routers each channel
//! and the console contribute, merged by `app::serve`. `/metrics` has an address of its own
//! (see `telemetry`).

use crate::channel_state::ChannelStates;
use crate::store::Store;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use futures::StreamExt;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// `/healthz` (the process answers) and `/readyz` (the database answers and its schema is
/// the one this build expects).
pub fn health_router(store: Arc<dyn Store>) -> Router {
    health_router_with(store, ChannelStates::default())
}

/// [`health_router`] whose `/readyz` also lists each channel's state, one line per channel
/// after the verdict. A channel that is down does not make the process unready: the web chat
/// and the console still serve, and taking the instance out of a load balancer would stop
/// them too.
pub fn health_router_with(store: Arc<dyn Store>, channels: ChannelStates) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready_with_channels))
        .with_state((store, channels))
}

async fn ready_with_channels(
    State((store, channels)): State<(Arc<dyn Store>, ChannelStates)>,
) -> (StatusCode, String) {
    let (status, verdict) = ready(store).await;
    let mut body = verdict.to_owned();
    for (name, state) in channels.all() {
        body.push_str(&format!("\nchannel {name}: {state}"));
    }
    (status, body)
}

async fn ready(store: Arc<dyn Store>) -> (StatusCode, &'static str) {
    if let Err(error) = store.pending_outbox().await {
        tracing::warn!(%error, "readiness check: the database does not answer");
        return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable");
    }
    match store.migrations_applied().await {
        Ok(true) => (StatusCode::OK, "ready"),
        Ok(false) => {
            tracing::warn!("readiness check: database migrations are pending");
            (StatusCode::SERVICE_UNAVAILABLE, "migrations pending")
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check: the migration history cannot be read");
            (StatusCode::SERVICE_UNAVAILABLE, "migrations pending")
        }
    }
}

/// Answers 408 to a request whose response has not started within `timeout` (a slow
/// upload, a stalled handler). Event streams start their response at once, so they run on.
pub fn with_request_timeout(router: Router, timeout: std::time::Duration) -> Router {
    router.layer(tower_http::timeout::TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
}

/// Ends every server-sent event stream (web chat, console live updates) when `stop` is
/// cancelled. A graceful shutdown waits for open responses, and these never end by
/// themselves; the browsers reconnect and resume from the last id they saw.
pub fn end_event_streams_on(router: Router, stop: CancellationToken) -> Router {
    router.layer(axum::middleware::map_response(move |response: Response| {
        let stop = stop.clone();
        async move {
            let is_event_stream = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .is_some_and(|value| value.starts_with("text/event-stream"));
            if !is_event_stream {
                return response;
            }
            let (parts, body) = response.into_parts();
            let stream = body.into_data_stream().take_until(stop.cancelled_owned());
            Response::from_parts(parts, Body::from_stream(stream))
        }
    }))
}
