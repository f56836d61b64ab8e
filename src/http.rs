//! The HTTP surface, as one axum `Router`: health checks here, and the routers each channel
//! and the console contribute, merged by `app::serve`.

use crate::store::Store;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use std::sync::Arc;

/// `/healthz` (the process answers) and `/readyz` (the database answers too).
pub fn health_router(store: Arc<dyn Store>) -> Router {
    Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(ready)).with_state(store)
}

async fn ready(State(store): State<Arc<dyn Store>>) -> (StatusCode, &'static str) {
    match store.pending_outbox().await {
        Ok(_) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "readiness check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
