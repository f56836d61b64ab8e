//! Delivery workers: claim due outbox rows, send them through their contact's channel, and
//! record the outcome (sent, retry later, dead-lettered).
//!
//! Rows of one conversation go out strictly in id order: the store never hands out a row while
//! an older row of its conversation is waiting, and within a claimed batch a conversation's
//! rows are sent one after another, stopping at the first failure. Different conversations
//! are delivered concurrently.
//!
//! Each outcome is recorded before the conversation's next row goes out, many conversations'
//! outcomes per transaction ([`OutcomeRecorder`]). A crash can thus leave at most one row per
//! conversation sent but not marked, and only that row is sent again after a restart.

use crate::channels::{Channel, Delivery, DeliveryError};
use crate::store::{DeliveryOutcome, Millis, OutboxJob, Store, StoreError, duration_millis, now_millis};
use futures::StreamExt;
use rand::Rng;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How workers pace themselves.
#[derive(Debug, Clone)]
pub struct OutboxSettings {
    /// How long a claimed row is reserved; a worker that dies mid-delivery loses its claim
    /// after this and another worker re-sends the row.
    pub lease: Duration,
    /// Transient failures before a row is dead-lettered.
    pub max_attempts: i64,
    /// Rows claimed per round.
    pub batch: i64,
    /// Conversations delivered at the same time.
    pub concurrency: usize,
    /// How often an idle worker looks for due rows even without a wake-up.
    pub poll_interval: Duration,
    /// First transient backoff; doubles per attempt up to `max_backoff`, with jitter.
    pub base_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for OutboxSettings {
    fn default() -> Self {
        OutboxSettings {
            lease: Duration::from_secs(60),
            max_attempts: 12,
            batch: 256,
            concurrency: 64,
            poll_interval: Duration::from_millis(500),
            base_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(3600),
        }
    }
}

/// What one synchronous delivery attempt did (for tests and tools).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryAttempt {
    Delivered,
    /// Nothing is due.
    Empty,
    /// The row failed and will be tried again later.
    Retry,
    /// The row failed for good.
    DeadLettered,
}

/// Counts from one round of [`OutboxWorker::deliver_due`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub dead: usize,
}

pub struct OutboxWorker {
    store: Arc<dyn Store>,
    channels: HashMap<&'static str, Arc<dyn Channel>>,
    names: Vec<&'static str>,
    settings: OutboxSettings,
    wake: Arc<Notify>,
}

impl OutboxWorker {
    /// A worker for the given channels; it only claims rows of those channels, so a process
    /// that runs only some channels leaves the others' rows to the process that has them.
    pub fn new(
        store: Arc<dyn Store>,
        channels: HashMap<&'static str, Arc<dyn Channel>>,
        settings: OutboxSettings,
        wake: Arc<Notify>,
    ) -> OutboxWorker {
        let mut names: Vec<&'static str> = channels.keys().copied().collect();
        names.sort_unstable();
        OutboxWorker { store, channels, names, settings, wake }
    }

    /// Delivers at most one due row, now.
    pub async fn try_deliver_next(&self) -> Result<DeliveryAttempt, StoreError> {
        self.try_deliver_next_at(now_millis()).await
    }

    /// Delivers at most one row that is due at `now` (tests drive time with this).
    pub async fn try_deliver_next_at(&self, now: Millis) -> Result<DeliveryAttempt, StoreError> {
        let mut jobs = self.store.claim_outbox(&self.names, now, self.settings.lease, 1).await?;
        let Some(job) = jobs.pop() else { return Ok(DeliveryAttempt::Empty) };
        let outcome = self.deliver(&job, now).await;
        let attempt = match &outcome {
            DeliveryOutcome::Sent => DeliveryAttempt::Delivered,
            DeliveryOutcome::Retry { .. } | DeliveryOutcome::Released => DeliveryAttempt::Retry,
            DeliveryOutcome::Dead { .. } => DeliveryAttempt::DeadLettered,
        };
        self.store.finish_outbox(&[(job, outcome)], now).await?;
        Ok(attempt)
    }

    /// One round: claim a batch of due rows and deliver them, conversations in parallel and
    /// each conversation in order, recording every outcome as it happens.
    pub async fn deliver_due(&self, now: Millis) -> Result<RoundReport, StoreError> {
        let jobs =
            self.store.claim_outbox(&self.names, now, self.settings.lease, self.settings.batch).await?;
        if jobs.is_empty() {
            return Ok(RoundReport::default());
        }
        let claimed = jobs.len();
        let mut groups: Vec<Vec<OutboxJob>> = Vec::new();
        let mut group_of: HashMap<i64, usize> = HashMap::new();
        for job in jobs {
            let index = *group_of.entry(job.conversation_id).or_insert_with(|| {
                groups.push(Vec::new());
                groups.len() - 1
            });
            groups[index].push(job);
        }
        let recorder = OutcomeRecorder::new(self.store.as_ref(), now);
        let outcomes: Vec<Vec<DeliveryOutcome>> = futures::stream::iter(groups)
            .map(|group| self.deliver_in_order(group, now, &recorder))
            .buffer_unordered(self.settings.concurrency.max(1))
            .collect()
            .await;
        recorder.flush().await?;
        let mut report = RoundReport { claimed, ..RoundReport::default() };
        for outcome in outcomes.iter().flatten() {
            match outcome {
                DeliveryOutcome::Sent => report.delivered += 1,
                DeliveryOutcome::Retry { .. } => report.retried += 1,
                DeliveryOutcome::Dead { .. } => report.dead += 1,
                DeliveryOutcome::Released => {}
            }
        }
        Ok(report)
    }

    /// Delivers until `shutdown` completes: rounds back to back while there is work, then
    /// waits for a wake-up (a commit that queued rows) or the poll interval.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let busy = match self.deliver_due(now_millis()).await {
                Ok(report) => report.claimed > 0,
                Err(error) => {
                    tracing::warn!(%error, "outbox round failed");
                    false
                }
            };
            if busy {
                // Yield between rounds so a shutdown request is noticed under load.
                tokio::select! {
                    biased;
                    () = &mut shutdown => return,
                    () = tokio::task::yield_now() => continue,
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = self.wake.notified() => {}
                () = tokio::time::sleep(self.settings.poll_interval) => {}
            }
        }
    }

    /// Sends one conversation's rows in order. Each outcome is recorded before the next row
    /// goes out; after a failure (or a failed record) the rest are given back unsent.
    async fn deliver_in_order(
        &self,
        group: Vec<OutboxJob>,
        now: Millis,
        recorder: &OutcomeRecorder<'_>,
    ) -> Vec<DeliveryOutcome> {
        let mut outcomes = Vec::with_capacity(group.len());
        let mut blocked = false;
        for job in group {
            if blocked {
                recorder.add(job, DeliveryOutcome::Released);
                outcomes.push(DeliveryOutcome::Released);
                continue;
            }
            let outcome = self.deliver(&job, now).await;
            blocked = outcome != DeliveryOutcome::Sent;
            outcomes.push(outcome.clone());
            if recorder.record(job, outcome).await.is_err() {
                blocked = true;
            }
        }
        outcomes
    }

    async fn deliver(&self, job: &OutboxJob, now: Millis) -> DeliveryOutcome {
        let Some(channel) = self.channels.get(job.channel.as_str()) else {
            // Not claimable by construction (we only claim our channels); release it anyway.
            return DeliveryOutcome::Released;
        };
        let delivery = Delivery {
            outbox_id: job.id,
            external_id: job.external_id.clone(),
            contact_data: job.contact_data.clone(),
            lang: job.lang,
            message: job.payload.clone(),
        };
        match channel.deliver(&delivery).await {
            Ok(()) => DeliveryOutcome::Sent,
            Err(DeliveryError::RetryAfter(wait)) => DeliveryOutcome::Retry {
                at: now.saturating_add(duration_millis(wait)),
                count_attempt: false,
                error: format!("rate limited for {wait:?}"),
            },
            Err(DeliveryError::Transient(reason)) => {
                let attempts = job.attempts + 1;
                if attempts >= self.settings.max_attempts {
                    dead_letter(job, format!("gave up after {attempts} attempts: {reason}"), false)
                } else {
                    let wait = self.backoff(attempts);
                    tracing::debug!(outbox = job.id, attempts, ?wait, "transient delivery failure");
                    DeliveryOutcome::Retry {
                        at: now.saturating_add(duration_millis(wait)),
                        count_attempt: true,
                        error: reason,
                    }
                }
            }
            Err(DeliveryError::Permanent { reason, unreachable }) => dead_letter(job, reason, unreachable),
        }
    }

    /// Exponential backoff with "equal jitter": half the delay is fixed, half random, so
    /// retries of many rows spread out but none comes back too early.
    fn backoff(&self, attempts: i64) -> Duration {
        let exponent = u32::try_from(attempts.saturating_sub(1).clamp(0, 30)).unwrap_or(30);
        let full = self
            .settings
            .base_backoff
            .saturating_mul(2u32.saturating_pow(exponent))
            .min(self.settings.max_backoff);
        let half = full / 2;
        let jitter_millis = rand::rng().random_range(0..=u64::try_from(half.as_millis()).unwrap_or(u64::MAX));
        half + Duration::from_millis(jitter_millis)
    }
}

fn dead_letter(job: &OutboxJob, error: String, unreachable: bool) -> DeliveryOutcome {
    // Never the message text: it may hold customer data.
    tracing::warn!(
        outbox = job.id,
        conversation = job.conversation_id,
        channel = %job.channel,
        attempts = job.attempts + 1,
        unreachable,
        %error,
        "outbox row dead-lettered"
    );
    DeliveryOutcome::Dead { error, unreachable }
}

/// Records delivery outcomes with group commit: a caller adds its outcome and waits for a
/// transaction that contains it; whoever gets the turn first writes everything added so far in
/// one [`Store::finish_outbox`]. Many conversations' rows thus share a transaction, yet no row
/// waits for a whole round to end before it counts as sent.
struct OutcomeRecorder<'a> {
    store: &'a dyn Store,
    now: Millis,
    pending: std::sync::Mutex<PendingOutcomes>,
    /// Held by the caller that is writing a batch; the others queue behind it.
    turn: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct PendingOutcomes {
    waiting: Vec<(OutboxJob, DeliveryOutcome)>,
    /// Outcomes added so far; each caller's outcome is numbered by this count.
    added: u64,
    /// Outcomes known to be committed: the first `recorded` added.
    recorded: u64,
    /// The first failed write. Its rows keep their lease and go out again once it ends.
    failed: Option<StoreError>,
}

/// An earlier write of the round failed; the rows stay leased.
#[derive(Debug)]
struct RecordFailed;

impl<'a> OutcomeRecorder<'a> {
    fn new(store: &'a dyn Store, now: Millis) -> OutcomeRecorder<'a> {
        OutcomeRecorder {
            store,
            now,
            pending: std::sync::Mutex::new(PendingOutcomes::default()),
            turn: tokio::sync::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PendingOutcomes> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds an outcome to be written with the next batch, without waiting.
    fn add(&self, job: OutboxJob, outcome: DeliveryOutcome) -> u64 {
        let mut pending = self.lock();
        pending.waiting.push((job, outcome));
        pending.added += 1;
        pending.added
    }

    /// Adds an outcome and returns once it is committed.
    async fn record(&self, job: OutboxJob, outcome: DeliveryOutcome) -> Result<(), RecordFailed> {
        let number = self.add(job, outcome);
        self.write_through(number).await
    }

    /// Writes everything still waiting; the round's first write error, if any.
    async fn flush(self) -> Result<(), StoreError> {
        let added = self.lock().added;
        let _ = self.write_through(added).await;
        match self.pending.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner).failed {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Waits for the turn unless outcome `number` is already committed, then writes the batch.
    async fn write_through(&self, number: u64) -> Result<(), RecordFailed> {
        let _turn = self.turn.lock().await;
        let (batch, through) = {
            let mut pending = self.lock();
            if pending.failed.is_some() {
                return Err(RecordFailed);
            }
            if pending.recorded >= number {
                return Ok(());
            }
            (std::mem::take(&mut pending.waiting), pending.added)
        };
        let result = self.store.finish_outbox(&batch, now_millis().max(self.now)).await;
        let mut pending = self.lock();
        match result {
            Ok(()) => {
                pending.recorded = through;
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, rows = batch.len(), "recording delivery outcomes failed");
                pending.failed = Some(error);
                Err(RecordFailed)
            }
        }
    }
}
