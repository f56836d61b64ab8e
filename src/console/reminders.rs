//! The background task that tells queued customers where they stand when nobody has claimed
//! their ticket for a while (`Engine::queue_reminders`).

use crate::engine::Engine;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// When queued customers hear from the bot again.
#[derive(Debug, Clone)]
pub struct QueueReminderSettings {
    /// A ticket unclaimed this long gets a reminder (the app's `queue_reminder_after`).
    pub after: Duration,
    /// At most one reminder per ticket per this long.
    pub interval: Duration,
    /// How often the task looks for due tickets.
    pub check_every: Duration,
}

impl QueueReminderSettings {
    pub fn new(after: Duration) -> QueueReminderSettings {
        QueueReminderSettings { after, interval: after, check_every: Duration::from_secs(30) }
    }
}

/// Sends due reminders every `check_every` until `shutdown` completes. With several
/// instances each may run it: the engine marks a ticket reminded in the same transaction,
/// so a ticket is reminded once per interval.
pub async fn run_queue_reminders(
    engine: Arc<Engine>,
    settings: QueueReminderSettings,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(settings.check_every) => {}
        }
        match engine.queue_reminders(settings.after, settings.interval).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "queue reminders sent"),
            Err(problem) => tracing::warn!(error = %problem, "queue reminders failed"),
        }
    }
}
