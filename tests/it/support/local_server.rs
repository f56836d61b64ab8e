//! What every fake HTTP server in `support/` starts with: a listener on a free port of
//! 127.0.0.1, and a task serving its routes that stops when the fake is dropped, so a test's
//! fakes never outlive it.

use axum::Router;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A listener on a free port of 127.0.0.1, and its base URL (`http://127.0.0.1:<port>`).
pub async fn local_listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind a free local port");
    let url = format!("http://{}", listener.local_addr().unwrap());
    (listener, url)
}

/// The task serving a fake's routes; dropping it stops the server.
pub struct ServerTask(JoinHandle<()>);

impl Drop for ServerTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves `app` on `listener` until the returned task is dropped.
pub fn serve(listener: TcpListener, app: Router) -> ServerTask {
    ServerTask(tokio::spawn(async move {
        axum::serve(listener, app).await.expect("the fake server serves");
    }))
}
