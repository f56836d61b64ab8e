//! `/healthz` and `/readyz`: ready means the database answers and every migration this build
//! knows has been applied.

use crate::support::engine_fixtures::TestDb;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use switchboard::store::Store;
use tower::ServiceExt;

async fn get(store: &Arc<dyn Store>, path: &str) -> (StatusCode, String) {
    let router = switchboard::http::health_router(Arc::clone(store));
    let response = router.oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn readiness_story(db: TestDb) {
    let store = db.connect().await;
    assert_eq!(get(&store, "/healthz").await, (StatusCode::OK, "ok".to_owned()));
    assert_eq!(get(&store, "/readyz").await, (StatusCode::OK, "ready".to_owned()));

    // A database one migration behind this build (as when an older binary migrated it).
    let forget_latest = "DELETE FROM _sqlx_migrations \
         WHERE version = (SELECT max(version) FROM _sqlx_migrations) RETURNING version";
    db.scalar(forget_latest).await;
    assert_eq!(
        get(&store, "/readyz").await,
        (StatusCode::SERVICE_UNAVAILABLE, "migrations pending".to_owned())
    );

    // No database at all: still alive, not ready.
    store.close().await;
    assert_eq!(get(&store, "/healthz").await.0, StatusCode::OK);
    assert_eq!(
        get(&store, "/readyz").await,
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable".to_owned())
    );
    db.drop_database().await;
}

#[tokio::test]
async fn readiness_on_sqlite() {
    readiness_story(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn readiness_on_postgres() {
    readiness_story(TestDb::postgres().await).await;
}
