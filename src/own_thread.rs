//! Work that must not queue behind the main runtime's tasks runs on a thread of its own, with
//! a single-threaded Tokio runtime. After each commit the main runtime has hundreds of
//! deliveries to poll; a task on the critical path of the next commit (the engine's writer,
//! the long-poll loop) would otherwise wait behind all of them at every wake-up, and on a
//! machine with little CPU to spare those waits add up to most of a round.
//!
//! Only work whose I/O is not tied to the main runtime belongs here: SQLite connections live on
//! sqlx's own threads, and Tokio channels work across runtimes. Sockets opened on this thread
//! are driven by its runtime, so it must outlive every user of them; the work given here runs
//! for as long as the process serves.

use std::future::Future;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

/// Runs `work` to completion on a new thread called `name`. The receiver resolves once it has
/// finished (or could not start, which is logged). If no thread can be started, `work` runs
/// on the caller's runtime instead, so it is never lost.
pub fn spawn<Work>(name: &str, work: Work) -> oneshot::Receiver<()>
where
    Work: Future<Output = ()> + Send + 'static,
{
    let (finished, done) = oneshot::channel();
    // Shared with the thread so that a failed start can still hand the work to the runtime.
    let slot = Arc::new(Mutex::new(Some((work, finished))));
    let for_thread = Arc::clone(&slot);
    let started = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
        let Some((work, finished)) = take(&for_thread) else { return };
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(work),
            Err(error) => tracing::error!(%error, thread = %std::thread::current().name().unwrap_or(""), "cannot start a runtime"),
        }
        let _ = finished.send(());
    });
    if let Err(error) = started {
        tracing::warn!(%error, name, "cannot start a thread; running on the shared runtime");
        if let Some((work, finished)) = take(&slot) {
            tokio::spawn(async move {
                work.await;
                let _ = finished.send(());
            });
        }
    }
    done
}

fn take<T>(slot: &Mutex<Option<T>>) -> Option<T> {
    slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_its_own_named_thread_and_reports_when_done() {
        let (seen, name) = oneshot::channel();
        let done = spawn("own-thread-test", async move {
            // A timer proves the thread's runtime has its drivers enabled.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let _ = seen.send(std::thread::current().name().map(str::to_owned));
        });
        assert_eq!(name.await.unwrap().as_deref(), Some("own-thread-test"));
        done.await.expect("the work finished and said so");
    }
}
