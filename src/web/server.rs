//! The public HTTP server: axum's router on hyper's HTTP/1 connections, with the limits a
//! public service needs and `axum::serve` does not set.
//!
//! - **Connections** are capped: past the cap, new ones wait in the kernel's accept backlog
//!   rather than each taking a task, buffers and a file descriptor.
//! - **Headers** must arrive within the header-read timeout, or the connection is closed: a
//!   client that opens connections and sends a request a byte at a time (slowloris) holds each
//!   for that long at most, and one that sends nothing at all is closed too (hyper starts the
//!   clock when the connection is accepted), as is an idle keep-alive connection. hyper applies
//!   it only with a timer, which `axum::serve` does not give it.
//! - **Answers** are bounded by the request timeout (`tower_http`'s, applied by the app):
//!   a slow upload cannot hold a handler forever.
//!
//! Each request carries the peer's address as axum's `ConnectInfo`, and the trusted proxies,
//! so `web::client::ClientAddress` can tell who is asking.

use crate::web::client::TrustedProxies;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// What [`serve`] enforces per connection.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    pub trusted_proxies: TrustedProxies,
}

/// Serves `router` on `listener` until `stop` is cancelled, then waits for open connections to
/// finish their requests (event streams are ended by `http::end_event_streams_on`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => permit.expect("the semaphore is never closed"),
            () = stop.cancelled() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // pause briefly instead of spinning, and keep serving.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stop.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let (router, proxies) = (router.clone(), limits.trusted_proxies.clone());
        let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            request.extensions_mut().insert(proxies.clone());
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // Timeouts and clients that hang up mid-request end here; nothing to act on.
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
