//! Delivery workers: claim due outbox rows, send them through their contact's channel, and
//! record the outcome (sent, retry later, dead-lettered).
//!
//! Rows reach the worker two ways: claimed from the table (rows from before a restart,
//! retries, other instances' rows on PostgreSQL), or handed over by the engine of the same
//! process right after the commit that stored them (direct delivery, [`direct`]).
//!
//! Rows of one conversation go out strictly in id order: the store never hands out a row while
//! an older row of its conversation is waiting, and a conversation's rows are sent one after
//! another by one task, stopping at the first failure. Different conversations are delivered
//! concurrently, and in [`OutboxWorker::run`] independently: a conversation stuck on a slow
//! platform call never holds back the others.
//!
//! Each outcome is recorded before the conversation's next row goes out, many conversations'
//! outcomes per transaction ([`OutcomeRecorder`]). A crash can thus leave at most one row per
//! conversation sent but not marked, and only that row is sent again after a restart.

pub mod direct;

use crate::channels::{Channel, Delivery, DeliveryError};
use crate::store::{DeliveryOutcome, Millis, OutboxJob, Store, StoreError, duration_millis, now_millis};
use futures::{FutureExt, StreamExt};
use rand::Rng;
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::Notify;
use tokio::task::JoinSet;

pub use direct::DirectDelivery;

/// How the engine reaches the outbox worker of its process ([`crate::engine::Engine::outbox_link`]).
#[derive(Clone, Default)]
pub struct OutboxLink {
    /// Notified after commits that stored rows for the claiming path (and by PostgreSQL's
    /// LISTEN for other instances' rows).
    pub wake: Arc<Notify>,
    /// Direct delivery: rows given straight to a running worker.
    pub direct: Arc<DirectDelivery>,
}

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
            concurrency: 512,
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
    link: OutboxLink,
    /// When set, the worker claims only this contact's rows (see [`only_for`](Self::only_for)).
    recipient: Option<(&'static str, String)>,
}

impl OutboxWorker {
    /// A worker for the given channels; it only claims rows of those channels, so a process
    /// that runs only some channels leaves the others' rows to the process that has them.
    pub fn new(
        store: Arc<dyn Store>,
        channels: HashMap<&'static str, Arc<dyn Channel>>,
        settings: OutboxSettings,
        link: OutboxLink,
    ) -> OutboxWorker {
        let mut names: Vec<&'static str> = channels.keys().copied().collect();
        names.sort_unstable();
        OutboxWorker { store, channels, names, settings, link, recipient: None }
    }

    /// Narrows the worker to one contact. `switchboard chat` speaks for one customer: rows of
    /// other customers of the same channel wait for their own session.
    pub fn only_for(mut self, channel: &'static str, external_id: String) -> OutboxWorker {
        self.recipient = Some((channel, external_id));
        self
    }

    async fn claim(&self, now: Millis, limit: i64) -> Result<Vec<OutboxJob>, StoreError> {
        let lease = self.settings.lease;
        match &self.recipient {
            Some((channel, external_id)) => {
                self.store.claim_outbox_of_contact(channel, external_id, now, lease, limit).await
            }
            None => self.store.claim_outbox(&self.names, now, lease, limit).await,
        }
    }

    /// Delivers at most one due row, now.
    pub async fn try_deliver_next(&self) -> Result<DeliveryAttempt, StoreError> {
        self.try_deliver_next_at(now_millis()).await
    }

    /// Delivers at most one row that is due at `now`; the attempt happens at `now` (tests drive
    /// time with this).
    pub async fn try_deliver_next_at(&self, now: Millis) -> Result<DeliveryAttempt, StoreError> {
        let mut jobs = self.claim(now, 1).await?;
        let Some(job) = jobs.pop() else { return Ok(DeliveryAttempt::Empty) };
        let outcome = self.deliver(&job, Clock::Fixed(now)).await;
        let attempt = match &outcome {
            DeliveryOutcome::Sent => DeliveryAttempt::Delivered,
            DeliveryOutcome::Retry { .. } | DeliveryOutcome::Released => DeliveryAttempt::Retry,
            DeliveryOutcome::Dead { .. } => DeliveryAttempt::DeadLettered,
        };
        let outcomes = [(job, outcome)];
        self.store.finish_outbox(&outcomes, now).await?;
        crate::telemetry::count_deliveries(&outcomes);
        Ok(attempt)
    }

    /// One round at `now`: claim a batch of due rows and deliver them, conversations in
    /// parallel and each conversation in order, recording every outcome as it happens. Retry
    /// times count from `now` (tests drive time with this; [`run`](Self::run) reads the clock).
    pub async fn deliver_due(&self, now: Millis) -> Result<RoundReport, StoreError> {
        let jobs = self.claim(now, self.settings.batch).await?;
        if jobs.is_empty() {
            return Ok(RoundReport::default());
        }
        let claimed = jobs.len();
        let groups = by_conversation(jobs);
        let recorder = OutcomeRecorder::new(Arc::clone(&self.store), now, Arc::clone(&self.link.direct));
        let outcomes: Vec<Vec<DeliveryOutcome>> = futures::stream::iter(groups)
            .map(|group| async { self.deliver_in_order(group, Clock::Fixed(now), &recorder).await.0 })
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

    /// Delivers until `shutdown` completes. Each claimed conversation is delivered in a task
    /// of its own and its outcome is recorded as soon as it is known, batched with whatever
    /// else finished meanwhile; more rows are claimed whenever fewer than `concurrency`
    /// conversations are under way. So a delivery that waits out a platform's timeout delays
    /// its own conversation only. When idle, the worker waits for a wake-up (a commit that
    /// queued rows) or the poll interval. On shutdown, deliveries under way finish and are
    /// recorded; claimed rows not yet started are released for another worker.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let worker = Arc::new(self);
        let concurrency = worker.settings.concurrency.max(1);
        // One recorder for the worker's life: outcomes of conversations finishing at about the
        // same time share a transaction, and each conversation's next row waits for its own.
        let direct = Arc::clone(&worker.link.direct);
        let recorder = Arc::new(OutcomeRecorder::new(Arc::clone(&worker.store), 0, Arc::clone(&direct)));
        let mut deliveries = Deliveries::default();
        let mut done: Vec<(OutboxJob, DeliveryOutcome)> = Vec::new();
        // Commits of this process now hand their rows over directly (see `direct`).
        direct.attach(&worker.names, worker.settings.lease);
        // The claiming query is the expensive part of the slow path, so it runs only when it
        // may find something: at start (rows from before), when a commit stored rows for it,
        // when a claimed conversation finished (its next row may be free now), after rows were
        // given back, and on every poll tick (retries that came due).
        let mut claim_due = true;
        let mut tick = tokio::time::interval(worker.settings.poll_interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let taken = direct.take();
            done.extend(taken.give_back.into_iter().map(|job| (job, DeliveryOutcome::Released)));
            deliveries.admit_handed(taken.deliver);
            if (&mut shutdown).now_or_never().is_some() {
                break;
            }
            deliveries.start(&worker, &recorder, concurrency);
            if deliveries.collect_ready(&mut done) && deliveries.has_waiting() {
                // Room was freed for claimed groups: start them before recording, so that a
                // fast channel still records a whole claimed batch in one transaction.
                continue;
            }
            claim_due |= deliveries.take_claimed_finished()
                || done.iter().any(|(_, outcome)| *outcome == DeliveryOutcome::Released);
            worker.record(&mut done).await;
            let room = deliveries.running() < concurrency;
            if claim_due && room && !deliveries.has_waiting() {
                claim_due = false;
                match worker.claim(now_millis(), worker.settings.batch).await {
                    Ok(jobs) if !jobs.is_empty() => {
                        deliveries.admit(jobs, &mut done);
                        claim_due = true;
                        continue;
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "claiming outbox rows failed"),
                }
            }
            tokio::select! {
                biased;
                () = &mut shutdown => break,
                finished = deliveries.next_finished(), if deliveries.running() > 0 => {
                    done.extend(finished);
                }
                () = direct.ready() => {}
                () = worker.link.wake.notified(), if room => claim_due = true,
                _ = tick.tick(), if room => claim_due = true,
            }
        }
        // Rows handed over but never started are given back to the claiming path.
        done.extend(direct.detach().into_iter().map(|job| (job, DeliveryOutcome::Released)));
        done.extend(deliveries.finish().await);
        worker.record(&mut done).await;
    }

    /// Records delivery outcomes. A failure is logged: the rows keep their lease, and once it
    /// runs out they are claimed and delivered again.
    async fn record(&self, done: &mut Vec<(OutboxJob, DeliveryOutcome)>) {
        if done.is_empty() {
            return;
        }
        self.link.direct.failing(done);
        match self.store.finish_outbox(done, now_millis()).await {
            Ok(()) => crate::telemetry::count_deliveries(done),
            Err(error) => tracing::warn!(%error, rows = done.len(), "recording outbox deliveries failed"),
        }
        self.link.direct.settled(done);
        done.clear();
    }

    /// Sends one conversation's rows in order. Each outcome is recorded before the next row
    /// goes out; after a failure (or a failed record) the rest are given back unsent. Returns
    /// the outcomes and whether every one of them was recorded.
    async fn deliver_in_order(
        &self,
        group: Vec<OutboxJob>,
        clock: Clock,
        recorder: &OutcomeRecorder,
    ) -> (Vec<DeliveryOutcome>, bool) {
        let mut outcomes = Vec::with_capacity(group.len());
        let mut blocked = false;
        let mut recorded = true;
        let mut released = None;
        for job in group {
            if blocked {
                released = Some(recorder.add(job, DeliveryOutcome::Released));
                outcomes.push(DeliveryOutcome::Released);
                continue;
            }
            let outcome = self.deliver(&job, clock).await;
            blocked = outcome != DeliveryOutcome::Sent;
            outcomes.push(outcome.clone());
            let number = recorder.add(job, outcome);
            if recorder.write_through(number).await.is_err() {
                blocked = true;
                recorded = false;
            }
        }
        if let Some(last) = released {
            // Give the leases back now, not when some later delivery happens to write: these
            // rows are due again as soon as the failed one is.
            recorded &= recorder.write_through(last).await.is_ok();
        }
        (outcomes, recorded)
    }

    async fn deliver(&self, job: &OutboxJob, clock: Clock) -> DeliveryOutcome {
        let Some(channel) = self.channels.get(job.channel.as_str()) else {
            // Not claimable by construction (we only claim our channels); release it anyway.
            return DeliveryOutcome::Released;
        };
        let ticket = if channel.shows_ticket_number() {
            // A number is a courtesy: without it the message still goes.
            self.store.latest_ticket_id(job.conversation_id).await.unwrap_or_else(|error| {
                tracing::warn!(%error, "could not read the ticket number for a delivery");
                None
            })
        } else {
            None
        };
        let delivery = Delivery {
            outbox_id: job.id,
            external_id: job.external_id.clone(),
            contact_data: job.contact_data.clone(),
            lang: job.lang,
            message: job.payload.clone(),
            ticket,
        };
        let started = std::time::Instant::now();
        let result = channel.deliver(&delivery).await;
        crate::telemetry::record_delivery(channel.name(), started.elapsed());
        // Waits count from when the platform answered, not from when the round began: a
        // `retry_after` is the platform's order, and the round may have been long.
        let now = clock.now();
        match result {
            Ok(()) => DeliveryOutcome::Sent,
            Err(DeliveryError::RetryAfter(wait)) => DeliveryOutcome::Retry {
                at: now.saturating_add(millis_rounded_up(wait)),
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

/// Which clock stamps what a delivery ran into.
#[derive(Debug, Clone, Copy)]
enum Clock {
    /// Everything happens at this instant (tests drive time).
    Fixed(Millis),
    /// The wall clock, read when the platform's answer arrives.
    Wall,
}

impl Clock {
    /// Rounded up to the next millisecond, so a wait counted from here never ends early.
    fn now(self) -> Millis {
        match self {
            Clock::Fixed(at) => at,
            Clock::Wall => {
                let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
                millis_rounded_up(since_epoch)
            }
        }
    }
}

fn millis_rounded_up(duration: Duration) -> Millis {
    let whole = duration_millis(duration);
    if duration.subsec_nanos() % 1_000_000 == 0 { whole } else { whole.saturating_add(1) }
}

type Outcomes = Vec<(OutboxJob, DeliveryOutcome)>;

/// The conversations [`OutboxWorker::run`] has claimed and not yet recorded: groups waiting
/// for a free slot, and groups being delivered, each in a task of its own.
#[derive(Default)]
struct Deliveries {
    waiting: VecDeque<Group>,
    /// Whether each task sent all its rows.
    running: JoinSet<bool>,
    /// Rows handed over for a conversation already waiting or being delivered: they follow
    /// once it is done.
    more: HashMap<i64, Vec<OutboxJob>>,
    /// Which conversation each task delivers (so a task that panicked can be forgotten), and
    /// whether its rows were claimed.
    tasks: HashMap<tokio::task::Id, (i64, bool)>,
    conversations: HashSet<i64>,
    /// A group of claimed rows finished since the last [`Deliveries::take_claimed_finished`].
    claimed_finished: bool,
}

/// One conversation's rows, delivered in order by one task.
struct Group {
    jobs: Vec<OutboxJob>,
    /// Taken by the claiming query (not handed over).
    claimed: bool,
}

impl Deliveries {
    fn running(&self) -> usize {
        self.running.len()
    }

    fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Groups claimed rows by conversation. A claim can hand out a row of a conversation still
    /// being delivered here: one whose failure was already recorded and whose retry is due, or
    /// a later row. Either is released (its lease given back at once, so it is claimed again
    /// when the conversation is free), never sent twice or out of order by this process. (A row
    /// still in flight comes back only if its lease ran out, which the default lease (three
    /// times the default HTTP timeout) rules out.)
    fn admit(&mut self, jobs: Vec<OutboxJob>, done: &mut Outcomes) {
        for jobs in by_conversation(jobs) {
            let conversation = jobs[0].conversation_id;
            if self.conversations.contains(&conversation) {
                done.extend(jobs.into_iter().map(|job| (job, DeliveryOutcome::Released)));
            } else {
                self.conversations.insert(conversation);
                self.waiting.push_back(Group { jobs, claimed: true });
            }
        }
    }

    /// Takes rows handed over by the engine (ids ascending per conversation). A conversation
    /// already here gets them after its current rows; the engine hands a conversation's rows
    /// over only while every pending row of it is here, so nothing older waits elsewhere.
    fn admit_handed(&mut self, jobs: Vec<OutboxJob>) {
        for jobs in by_conversation(jobs) {
            let conversation = jobs[0].conversation_id;
            if self.conversations.contains(&conversation) {
                self.more.entry(conversation).or_default().extend(jobs);
            } else {
                self.conversations.insert(conversation);
                self.waiting.push_back(Group { jobs, claimed: false });
            }
        }
    }

    /// Whether a claimed group finished since the last call.
    fn take_claimed_finished(&mut self) -> bool {
        std::mem::take(&mut self.claimed_finished)
    }

    fn start(&mut self, worker: &Arc<OutboxWorker>, recorder: &Arc<OutcomeRecorder>, concurrency: usize) {
        while self.running.len() < concurrency {
            let Some(Group { jobs, claimed }) = self.waiting.pop_front() else { break };
            let owned = jobs[0].conversation_id;
            let (worker, recorder) = (Arc::clone(worker), Arc::clone(recorder));
            let task = self.running.spawn(async move {
                // The recorder has stored every outcome by the time this returns.
                let (outcomes, recorded) = worker.deliver_in_order(jobs, Clock::Wall, &recorder).await;
                recorded && outcomes.iter().all(|outcome| *outcome == DeliveryOutcome::Sent)
            });
            self.tasks.insert(task.id(), (owned, claimed));
        }
    }

    /// Moves every finished delivery's outcomes to `done`; true if there was any.
    fn collect_ready(&mut self, done: &mut Outcomes) -> bool {
        let mut any = false;
        while let Some(joined) = self.running.try_join_next_with_id() {
            done.extend(self.settle(joined));
            any = true;
        }
        any
    }

    /// Waits for the next delivery to finish. Only call while some are running.
    async fn next_finished(&mut self) -> Outcomes {
        match self.running.join_next_with_id().await {
            Some(joined) => self.settle(joined),
            None => Vec::new(),
        }
    }

    /// Forgets a finished task. Rows handed over for its conversation meanwhile go next if
    /// everything before them was sent; otherwise they are released (returned, to be
    /// recorded), to follow the failed row through the claiming path.
    fn settle(&mut self, joined: Result<(tokio::task::Id, bool), tokio::task::JoinError>) -> Outcomes {
        let (id, all_sent) = match joined {
            Ok((id, all_sent)) => (id, all_sent),
            Err(error) => {
                // The rows keep their lease; once it runs out they are delivered again.
                tracing::error!(%error, "an outbox delivery task failed");
                (error.id(), false)
            }
        };
        let Some((conversation, claimed)) = self.tasks.remove(&id) else { return Vec::new() };
        self.claimed_finished |= claimed;
        match self.more.remove(&conversation) {
            Some(jobs) if all_sent => {
                self.waiting.push_back(Group { jobs, claimed: false });
                Vec::new()
            }
            Some(next) => {
                self.conversations.remove(&conversation);
                next.into_iter().map(|job| (job, DeliveryOutcome::Released)).collect()
            }
            None => {
                self.conversations.remove(&conversation);
                Vec::new()
            }
        }
    }

    /// For shutdown: releases what never started and waits for what is under way.
    async fn finish(mut self) -> Outcomes {
        let release = |group: Group| group.jobs.into_iter().map(|job| (job, DeliveryOutcome::Released));
        let mut done: Outcomes = self.waiting.drain(..).flat_map(release).collect();
        while let Some(joined) = self.running.join_next_with_id().await {
            done.extend(self.settle(joined));
        }
        // Whatever settling queued up again never started.
        done.extend(self.waiting.drain(..).flat_map(release));
        done.extend(self.more.drain().flat_map(|(_, jobs)| jobs).map(|job| (job, DeliveryOutcome::Released)));
        done
    }
}

/// One group per conversation, in the order conversations first appear; each group keeps the
/// rows' order. Never empty groups.
fn by_conversation(jobs: Vec<OutboxJob>) -> Vec<Vec<OutboxJob>> {
    let mut groups: Vec<Vec<OutboxJob>> = Vec::new();
    let mut group_of: HashMap<i64, usize> = HashMap::new();
    for job in jobs {
        let index = *group_of.entry(job.conversation_id).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[index].push(job);
    }
    groups
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

/// Writes delivery outcomes with group commit: callers add outcomes as deliveries finish, and
/// one of them writes everything waiting in one transaction while the others queue for their
/// turn, so concurrent conversations share commits yet each waits until its own outcome is
/// stored.
struct OutcomeRecorder {
    store: Arc<dyn Store>,
    /// Told about every written outcome, so it forgets handed-over rows once settled.
    direct: Arc<DirectDelivery>,
    /// Outcomes are stamped no earlier than this (tests drive time).
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
    /// Outcomes written (or given up on): the first `settled` added.
    settled: u64,
    /// Numbers `(first, last)` of writes that failed. Their rows keep their lease and go out
    /// again once it ends. Only recent ones are kept: callers ask right after their write.
    failed: VecDeque<(u64, u64)>,
    /// The first failure, for [`OutcomeRecorder::flush`].
    first_error: Option<StoreError>,
}

/// The write holding this outcome failed; its row stays leased.
#[derive(Debug)]
struct RecordFailed;

impl OutcomeRecorder {
    fn new(store: Arc<dyn Store>, now: Millis, direct: Arc<DirectDelivery>) -> OutcomeRecorder {
        OutcomeRecorder {
            store,
            direct,
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

    /// Writes everything still waiting; the first write error seen, if any.
    async fn flush(&self) -> Result<(), StoreError> {
        let added = self.lock().added;
        let _ = self.write_through(added).await;
        match self.lock().first_error.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// Waits for the turn unless outcome `number` is already settled, then writes the batch.
    async fn write_through(&self, number: u64) -> Result<(), RecordFailed> {
        let _turn = self.turn.lock().await;
        let (batch, first, through) = {
            let mut pending = self.lock();
            if pending.settled >= number {
                let failed = pending.failed.iter().any(|&(from, to)| (from..=to).contains(&number));
                return if failed { Err(RecordFailed) } else { Ok(()) };
            }
            (std::mem::take(&mut pending.waiting), pending.settled + 1, pending.added)
        };
        // Failures leave the fast path before they are written, sent rows once they are marked
        // (see `direct`).
        self.direct.failing(&batch);
        let result = self.store.finish_outbox(&batch, now_millis().max(self.now)).await;
        self.direct.settled(&batch);
        let mut pending = self.lock();
        pending.settled = through;
        match result {
            Ok(()) => {
                crate::telemetry::count_deliveries(&batch);
                Ok(())
            }
            Err(error) => {
                tracing::warn!(%error, rows = batch.len(), "recording delivery outcomes failed");
                if pending.failed.len() >= 64 {
                    pending.failed.pop_front();
                }
                pending.failed.push_back((first, through));
                pending.first_error.get_or_insert(error);
                Err(RecordFailed)
            }
        }
    }
}
