//! Work that must not queue behind the main runtime's tasks runs on a thread of its own, with
//! a single-threaded Tokio runtime. After each commit the main runtime has hundreds of
//! deliveries to poll; a task on the critical path of the next commit (the engine's writer,
//! the long-poll loop) would otherwise wait behind all of them at every wake-up, and on a
//! machine with little CPU to spare those waits add up to most of a round.
//!
//! Only work whose I/O is not tied to the main runtime belongs there: SQLite connections live
//! on sqlx's own threads, and Tokio channels work across runtimes. Sockets belong to the
//! runtime that opened them and die with it. The engine's writer therefore runs on its own
//! thread on both backends, and on PostgreSQL opens its own connection there
//! (`Store::writer_for_this_runtime`). The Telegram long-poll loop runs on its own thread on
//! both backends too: it reads its stored offset (through the store's pool) before it moves
//! there, and its batches reach the writer through a channel.

use std::future::Future;
use tokio::sync::oneshot;

/// Runs `work` on a new thread called `name`; the receiver gets its output. If no thread (or
/// no runtime on it) can be started, that is logged and `work` runs on the caller's runtime
/// instead, so it is never lost.
pub fn spawn<Work>(name: &str, work: Work) -> oneshot::Receiver<Work::Output>
where
    Work: Future + Send + 'static,
    Work::Output: Send + 'static,
{
    let (finished, done) = oneshot::channel();
    let shared = tokio::runtime::Handle::current();
    let run = async move {
        let _ = finished.send(work.await);
    };
    // The work goes to the thread through a channel: if the thread cannot start, its end of the
    // channel is dropped with it and the send hands the work back.
    let (hand, handed) = std::sync::mpsc::sync_channel(1);
    let thread_name = name.to_owned();
    let started = std::thread::Builder::new().name(thread_name.clone()).spawn(move || {
        let Ok(run) = handed.recv() else { return };
        match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime.block_on(run),
            Err(error) => {
                tracing::error!(%error, thread = %thread_name, "cannot start a runtime; running on the shared runtime");
                shared.spawn(run);
            }
        }
    });
    if let Err(error) = &started {
        tracing::warn!(%error, name, "cannot start a thread; running on the shared runtime");
    }
    if let Err(std::sync::mpsc::SendError(run)) = hand.send(run) {
        tokio::spawn(run);
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_its_own_named_thread_and_reports_when_done() {
        let (seen, name) = oneshot::channel();
        let done = spawn("own-thread-test", async move {
            // A timer proves the runtime the work runs on has its drivers enabled.
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let _ = seen.send(std::thread::current().name().map(str::to_owned));
        });
        assert_eq!(name.await.expect("the work ran").as_deref(), Some("own-thread-test"));
        done.await.expect("the work finished and said so");
    }
}
