//! The engine: every inbound event and every agent action becomes one durable state change.
//!
//! A single writer task owns all writes. Callers put a job on a bounded queue and await a
//! oneshot; the writer takes every job that is ready (up to [`EngineSettings::max_batch`]
//! events), applies them in arrival order inside ONE transaction (group commit), commits once,
//! and only then answers all callers. One fsync thus covers hundreds of events, a later event
//! of a conversation sees the state an earlier one left, and per-conversation order is the
//! arrival order.
//!
//! Per event: dedupe on (channel, event id) -> upsert the contact -> load the conversation ->
//! `core::dialog::step` -> ticket changes, message log, outbox rows, new state. Agent actions
//! (claim, reply, resolve, ...) go through the same writer, each in its own transaction.

use crate::channels::{Accepted, AcceptedBatch, InboundEvent, InboundKind, Intake, IntakeError};
use crate::core::choices;
use crate::core::dialog::{
    self, Ctx, Effect, Input, OrderAccess, QueueSnapshot, State, TicketOutcome, Transition,
};
use crate::core::faq::{IntentClassifier, Remembering};
use crate::core::flood::{FloodRule, FloodVerdict, FloodWindow};
use crate::core::handoff::{Actor, AgentMove, ClaimDecision, TicketStatus, decide_claim, move_allowed};
use crate::core::keys;
use crate::core::message::{Action, Lang, MediaRef, Outbound, Priority, Reply};
use crate::core::order::{self, LookupOutcome, OrderLookup};
use crate::core::order_id::OrderIdFormat;
use crate::core::turn;
use crate::orders::{ContactRef, CustomerRef, OrderQuery, StoredLookup};
use crate::outbox::OutboxLink;
use crate::store::{
    AgentOriginal, Author, BatchWrites, ContactRow, ContactUpsert, ConversationRow, ConversationUpdate,
    Direction, ErasedContact, EventKey, FaqOutcomeRow, LookupAnswer, Millis, NewMessage, NewOrderLookup,
    NewOutbox, NewTicket, OutboxJob, QueueOverview, Store, StoreError, TicketChange, TicketRow, WriteTx,
    duration_millis, now_millis,
};
use crate::telemetry::{self, EngineMetrics};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

mod chat_log;
mod tickets;
pub mod timeline;

use tickets::TicketBook;
use timeline::{CommitClock, Stage, Timeline};

/// Outside business hours, when agents are back (already formatted for customers); `None`
/// while agents are on duty. Takes the current time in milliseconds since the Unix epoch.
pub type AgentsBackAt = Arc<dyn Fn(Millis) -> Option<String> + Send + Sync>;

/// Maps a platform's language hint (`ru-RU`, `zh-hans`, none) to the language a new contact
/// starts in. The i18n module provides the real negotiation.
pub type Negotiate = Arc<dyn Fn(Option<&str>) -> Lang + Send + Sync>;

/// What the engine consults besides the store.
#[derive(Clone)]
pub struct EngineSettings {
    pub order_ids: Arc<dyn OrderIdFormat + Send + Sync>,
    pub faq: Arc<dyn IntentClassifier + Send + Sync>,
    pub negotiate: Negotiate,
    /// Business hours: customers queued outside them are told when agents are back.
    pub agents_back_at: AgentsBackAt,
    /// The most events one group commit takes.
    pub max_batch: usize,
    /// How many jobs may wait for the writer before callers are slowed down.
    pub queue_capacity: usize,
    /// Per-customer flood control (`core::flood`); off unless set.
    pub flood: FloodRule,
    /// Channels where anyone can start a conversation without an account (the web chat):
    /// their customers' bare requests for a person queue at low priority (`core::dialog`).
    pub anonymous_channels: Vec<&'static str>,
    /// An order source is configured: the dialog looks order numbers up (`crate::orders`).
    pub orders_enabled: bool,
    /// `SWITCHBOARD_IDENTITY_SECRET`: signed identities and link tokens are accepted
    /// (`crate::customers`).
    pub identity_secret: Option<crate::secret::Secret>,
    /// Channels without buttons (email, Ozon's chat): replies offer their buttons as numbered
    /// lines, and a message that is one of those numbers presses the button (`core::choices`).
    pub numbered_channels: Vec<&'static str>,
}

impl EngineSettings {
    /// Settings with a simple language rule (the hint's primary subtag if we speak it, else
    /// `default_lang`), 512 events per batch and room for 4096 waiting jobs.
    pub fn new(
        order_ids: Arc<dyn OrderIdFormat + Send + Sync>,
        faq: Arc<dyn IntentClassifier + Send + Sync>,
        default_lang: Lang,
    ) -> EngineSettings {
        let negotiate: Negotiate = Arc::new(move |hint: Option<&str>| {
            hint.and_then(|hint| hint.split(['-', '_']).next())
                .and_then(|primary| Lang::from_code(&primary.to_ascii_lowercase()))
                .unwrap_or(default_lang)
        });
        EngineSettings {
            order_ids,
            faq,
            negotiate,
            agents_back_at: Arc::new(|_| None),
            max_batch: 512,
            queue_capacity: 4096,
            flood: FloodRule::per_minute(0),
            anonymous_channels: Vec::new(),
            orders_enabled: false,
            identity_secret: None,
            numbered_channels: Vec::new(),
        }
    }

    /// Signed-in customers: identities signed with this secret, and link tokens.
    pub fn with_identity_secret(mut self, secret: Option<crate::secret::Secret>) -> EngineSettings {
        self.identity_secret = secret;
        self
    }

    /// Order numbers are looked up (an order source runs beside the engine).
    pub fn with_orders(mut self, enabled: bool) -> EngineSettings {
        self.orders_enabled = enabled;
        self
    }

    pub fn with_numbered_channels(mut self, channels: &[&'static str]) -> EngineSettings {
        self.numbered_channels = channels.to_vec();
        self
    }

    fn numbered(&self, channel: &str) -> bool {
        self.numbered_channels.contains(&channel)
    }

    pub fn with_anonymous_channels(mut self, channels: &[&'static str]) -> EngineSettings {
        self.anonymous_channels = channels.to_vec();
        self
    }

    pub fn with_flood_rule(mut self, flood: FloodRule) -> EngineSettings {
        self.flood = flood;
        self
    }

    pub fn with_agents_back_at(mut self, agents_back_at: AgentsBackAt) -> EngineSettings {
        self.agents_back_at = agents_back_at;
        self
    }

    pub fn with_negotiate(mut self, negotiate: Negotiate) -> EngineSettings {
        self.negotiate = negotiate;
        self
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The writer task is gone (shut down or crashed); nothing was stored.
    #[error("the engine is not running")]
    Stopped,
    #[error("ticket {0} does not exist")]
    TicketNotFound(i64),
    /// The ticket's status does not allow this action (`core::handoff::move_allowed`).
    #[error("ticket {ticket} is {status:?}; {action} is not possible")]
    NotAllowed { ticket: i64, status: TicketStatus, action: &'static str },
    /// Only the agent who holds a ticket (or an admin) writes to its customer or moves it
    /// (`core::handoff::Actor::may_act_on`).
    #[error("ticket {ticket} is not assigned to {agent}")]
    NotAssignedTo { ticket: i64, agent: String },
    #[error("an agent message needs text or an attachment")]
    EmptyMessage,
}

/// The answer to [`Engine::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimResult {
    Claimed,
    AlreadyYours,
    TakenBy(String),
    Closed,
}

/// Agents appear in these by login (`agent`, `by`: what tickets and the console record) and,
/// where customers are told something, by `shown`: the display name, or empty, never the login.
enum AgentOp {
    Claim {
        ticket: i64,
        agent: String,
        shown: String,
    },
    /// Release, transfer, resolve or reopen.
    Move(TicketMove),
    Reply {
        ticket: i64,
        by: Actor,
        shown: String,
        text: String,
        attachments: Vec<MediaRef>,
        /// The agent's own words when `text` is their translation.
        original: Option<AgentOriginal>,
    },
    Note {
        ticket: i64,
        agent: String,
        text: String,
    },
    Reminders {
        older_than: Duration,
        interval: Duration,
    },
    /// A person's data, on request (see `crate::privacy`).
    Erase {
        channel: String,
        external_id: String,
    },
    /// Retention: conversations idle since before `idle_before` go back to the menu.
    ResetIdle {
        idle_before: Millis,
        limit: i64,
    },
    /// The order source answered lookup `id` (see `crate::orders::worker`).
    CompleteLookup {
        id: i64,
        outcome: LookupOutcome,
    },
}

/// What release, transfer, resolve and reopen each do: check who asks and that the move is
/// allowed from the ticket's status, change the ticket, then tell its conversation.
struct TicketMove {
    ticket: i64,
    by: Actor,
    allowed: AgentMove,
    change: TicketChange,
    input: Input,
}

#[derive(Debug)]
enum AgentOutcome {
    Claim(ClaimResult),
    Done,
    Note(i64),
    Reminded(usize),
    Erased(Option<ErasedContact>),
    Reset(u64),
}

enum Job {
    Inbound { batch: Inbound, reply: InboundReply },
    Agent { op: AgentOp, reply: oneshot::Sender<Result<AgentOutcome, EngineError>> },
    Shutdown,
}

impl Job {
    fn weight(&self) -> usize {
        match self {
            Job::Inbound { batch, .. } => batch.events.len().max(1),
            Job::Agent { .. } | Job::Shutdown => 1,
        }
    }
}

/// The running engine. Cheap to share behind an `Arc`; channels see it as an [`Intake`].
pub struct Engine {
    jobs: mpsc::Sender<Job>,
    inner: Arc<Inner>,
    /// Resolves when the writer has stopped.
    writer: Mutex<Option<oneshot::Receiver<()>>>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// Where the writer begins its transactions when `store` cannot serve its runtime
    /// ([`Store::writer_for_this_runtime`]); set by the writer as it starts.
    writer_store: std::sync::OnceLock<Box<dyn Store>>,
    settings: EngineSettings,
    outbox: OutboxLink,
    metrics: EngineMetrics,
    /// Wakes the order-lookup worker when a transaction stored a lookup.
    lookups: Arc<tokio::sync::Notify>,
    /// Where the group commits' time goes.
    timeline: Timeline,
}

impl Engine {
    /// Starts the writer task. Must be called inside a Tokio runtime.
    pub fn start(store: Arc<dyn Store>, settings: EngineSettings) -> Engine {
        let (jobs, queue) = mpsc::channel(settings.queue_capacity.max(1));
        let metrics = EngineMetrics::register();
        let inner = Arc::new(Inner {
            store,
            writer_store: std::sync::OnceLock::new(),
            settings,
            outbox: OutboxLink::default(),
            metrics,
            lookups: Arc::new(tokio::sync::Notify::new()),
            timeline: Timeline::default(),
        });
        let runs = Arc::clone(&inner);
        // On a thread of its own (see `own_thread`): the writer's many short waits on the
        // database would otherwise queue behind the deliveries that start after each commit.
        let writer = crate::own_thread::spawn("engine-writer", writer_loop(runs, queue));
        Engine { jobs, inner, writer: Mutex::new(Some(writer)) }
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// Where the inbound group commits' time went so far, stage by stage (see [`timeline`]).
    pub fn timeline(&self) -> timeline::Totals {
        self.inner.timeline.totals()
    }

    /// How commits reach this process's outbox worker: a wake-up for rows to claim, and the
    /// direct delivery of rows to send at once. Give it to the [`crate::outbox::OutboxWorker`].
    pub fn outbox_link(&self) -> OutboxLink {
        self.inner.outbox.clone()
    }

    /// Notified after each commit that stored an order lookup: give it to the
    /// [`crate::orders::worker::LookupWorker`].
    pub fn lookup_wake(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.inner.lookups)
    }

    /// Feeds the order source's answer to lookup `id` to its conversation, once: a second
    /// answer to the same lookup (a worker that lost its lease) changes nothing.
    pub async fn complete_lookup(&self, id: i64, outcome: LookupOutcome) -> Result<(), EngineError> {
        self.agent(AgentOp::CompleteLookup { id, outcome }).await.map(drop)
    }

    /// The engine's one inbound entry, behind every [`Intake`] method: applies `events` in
    /// order and, with `cursor` (name, position), saves a channel's position after them, all in
    /// one transaction. Returns only after that transaction has committed, so the caller may
    /// then acknowledge the events to the platform.
    async fn submit(
        &self,
        events: Vec<InboundEvent>,
        cursor: Option<(&str, &str)>,
    ) -> Result<Vec<Accepted>, EngineError> {
        if events.is_empty() && cursor.is_none() {
            return Ok(Vec::new());
        }
        let cursor = cursor.map(|(name, position)| (name.to_owned(), position.to_owned()));
        let (reply, answer) = oneshot::channel();
        let batch = Inbound { events, cursor, submitted: Instant::now() };
        self.jobs.send(Job::Inbound { batch, reply }).await.map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// An agent takes a ticket. Atomic: of two agents claiming at once exactly one wins.
    pub async fn claim(&self, ticket: i64, agent: &str) -> Result<ClaimResult, EngineError> {
        let shown = self.shown_name(agent).await?;
        self.agent_outcome(AgentOp::Claim { ticket, agent: agent.to_owned(), shown }).await
    }

    /// Puts an assigned ticket back in the queue; the customer is told their position.
    pub async fn release(&self, ticket: i64, by: &Actor) -> Result<(), EngineError> {
        self.move_ticket(ticket, by, AgentMove::Release, TicketChange::Release, Input::TicketReleased).await
    }

    /// Hands a ticket to another agent.
    pub async fn transfer(&self, ticket: i64, by: &Actor, to_agent: &str) -> Result<(), EngineError> {
        let change = TicketChange::Assign { agent: to_agent.to_owned() };
        let input = Input::TicketAssigned { agent: self.shown_name(to_agent).await? };
        self.move_ticket(ticket, by, AgentMove::Transfer, change, input).await
    }

    /// Sends an agent's words to the customer (logged, then delivered through the outbox).
    pub async fn agent_reply(
        &self,
        ticket: i64,
        by: &Actor,
        text: &str,
        attachments: Vec<MediaRef>,
    ) -> Result<(), EngineError> {
        self.send_agent_words(ticket, by, text.to_owned(), attachments, None).await
    }

    /// Sends `sent`, the translation of an agent's words, to the customer; the log keeps both
    /// (the customer's text, and the agent's original in the row's body). Translating happens
    /// before this is called, never on the writer.
    pub async fn agent_reply_translated(
        &self,
        ticket: i64,
        by: &Actor,
        sent: &str,
        original: AgentOriginal,
    ) -> Result<(), EngineError> {
        self.send_agent_words(ticket, by, sent.to_owned(), Vec::new(), Some(original)).await
    }

    async fn send_agent_words(
        &self,
        ticket: i64,
        by: &Actor,
        text: String,
        attachments: Vec<MediaRef>,
        original: Option<AgentOriginal>,
    ) -> Result<(), EngineError> {
        let shown = self.shown_name(&by.name).await?;
        let op = AgentOp::Reply { ticket, by: by.clone(), shown, text, attachments, original };
        self.agent(op).await.map(drop)
    }

    /// Resolves a ticket; the bot asks the customer for a rating.
    pub async fn resolve(&self, ticket: i64, by: &Actor) -> Result<(), EngineError> {
        self.move_ticket(ticket, by, AgentMove::Resolve, TicketChange::Resolve, Input::TicketResolved).await
    }

    /// Reopens a resolved ticket for the agent who asks.
    pub async fn reopen(&self, ticket: i64, by: &Actor) -> Result<(), EngineError> {
        let change = TicketChange::Reopen { agent: by.name.clone() };
        let input = Input::TicketReopened { agent: self.shown_name(&by.name).await? };
        self.move_ticket(ticket, by, AgentMove::Reopen, change, input).await
    }

    async fn move_ticket(
        &self,
        ticket: i64,
        by: &Actor,
        allowed: AgentMove,
        change: TicketChange,
        input: Input,
    ) -> Result<(), EngineError> {
        let step = TicketMove { ticket, by: by.clone(), allowed, change, input };
        self.agent(AgentOp::Move(step)).await.map(drop)
    }

    /// What customers are shown of an agent: their display name, or nothing (the dialog then
    /// speaks of "our support team"); never the login.
    async fn shown_name(&self, agent: &str) -> Result<String, EngineError> {
        let found = self.store().agent_by_name(agent).await?;
        Ok(found.and_then(|agent| agent.display_name).unwrap_or_default())
    }

    /// An internal note on a ticket, never shown to the customer. Returns the note id.
    pub async fn add_note(&self, ticket: i64, agent: &str, text: &str) -> Result<i64, EngineError> {
        self.agent_outcome(AgentOp::Note { ticket, agent: agent.to_owned(), text: text.to_owned() }).await
    }

    /// Tells customers whose ticket has waited longer than `older_than` where they stand, at
    /// most once per ticket per `interval`. Returns how many were reminded.
    pub async fn queue_reminders(
        &self,
        older_than: Duration,
        interval: Duration,
    ) -> Result<usize, EngineError> {
        self.agent_outcome(AgentOp::Reminders { older_than, interval }).await
    }

    /// Erases the person `external_id` on `channel` in one of the writer's transactions, so
    /// their conversation is reset like any other state change (see `crate::privacy` for what
    /// goes and what stays). `None`: no such contact.
    pub async fn erase_contact(
        &self,
        channel: &str,
        external_id: &str,
    ) -> Result<Option<ErasedContact>, EngineError> {
        let op = AgentOp::Erase { channel: channel.to_owned(), external_id: external_id.to_owned() };
        self.agent_outcome(op).await
    }

    /// Puts up to `limit` conversations that have had nothing since `idle_before` (no change,
    /// no message, no open ticket) back at the menu, in one of the writer's transactions, so
    /// what a customer left half-way in the dialog state does not outlive the retention
    /// period. Returns how many were reset.
    pub async fn reset_idle_conversations(
        &self,
        idle_before: Millis,
        limit: i64,
    ) -> Result<u64, EngineError> {
        self.agent_outcome(AgentOp::ResetIdle { idle_before, limit }).await
    }

    /// Lets the writer finish the jobs already queued, then stops it.
    pub async fn shutdown(&self) {
        let _ = self.jobs.send(Job::Shutdown).await;
        let writer = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
    }

    async fn agent(&self, op: AgentOp) -> Result<AgentOutcome, EngineError> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job::Agent { op, reply }).await.map_err(|_| EngineError::Stopped)?;
        answer.await.map_err(|_| EngineError::Stopped)?
    }

    /// [`agent`](Self::agent) for an operation whose outcome carries a value.
    async fn agent_outcome<T: FromOutcome>(&self, op: AgentOp) -> Result<T, EngineError> {
        T::from_outcome(self.agent(op).await?).ok_or(EngineError::Stopped)
    }
}

/// What a channel learns of an event the engine could not apply: it was not stored.
fn not_stored(error: EngineError) -> IntakeError {
    IntakeError::NotStored(error.to_string())
}

/// The value an agent operation's one kind of outcome carries.
trait FromOutcome: Sized {
    fn from_outcome(outcome: AgentOutcome) -> Option<Self>;
}

macro_rules! from_outcome {
    ($($variant:ident => $value:ty),* $(,)?) => {$(
        impl FromOutcome for $value {
            fn from_outcome(outcome: AgentOutcome) -> Option<$value> {
                match outcome {
                    AgentOutcome::$variant(value) => Some(value),
                    // Each operation has exactly one outcome kind; anything else is a bug in
                    // this file, and an error is kinder to the console than a panic.
                    other => {
                        tracing::error!(outcome = ?other, "agent operation returned an unexpected outcome");
                        None
                    }
                }
            }
        }
    )*};
}

from_outcome!(Claim => ClaimResult, Note => i64, Reminded => usize, Erased => Option<ErasedContact>, Reset => u64);

#[async_trait::async_trait]
impl Intake for Engine {
    async fn accept(&self, event: InboundEvent) -> Result<Accepted, IntakeError> {
        let mut accepted = self.submit(vec![event], None).await.map_err(not_stored)?;
        accepted.pop().ok_or_else(|| not_stored(EngineError::Stopped))
    }

    async fn accept_batch(&self, events: Vec<InboundEvent>) -> AcceptedBatch {
        self.submit(events, None).await.map_err(not_stored)
    }

    async fn accept_batch_at(&self, events: Vec<InboundEvent>, at: (&str, &str)) -> AcceptedBatch {
        self.submit(events, Some(at)).await.map_err(not_stored)
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, IntakeError> {
        self.inner.store.cursor(name).await.map_err(|error| IntakeError::NotStored(error.to_string()))
    }

    async fn save_cursor(&self, name: &str, value: &str) -> Result<(), IntakeError> {
        self.inner
            .store
            .set_cursor(name, value, now_millis())
            .await
            .map_err(|error| IntakeError::NotStored(error.to_string()))
    }
}

// ---- the writer ----

/// How often a batch that hit a concurrent change is retried before the callers get an error.
const ATTEMPTS: usize = 3;

async fn writer_loop(inner: Arc<Inner>, mut queue: mpsc::Receiver<Job>) {
    match inner.store.writer_for_this_runtime().await {
        Ok(Some(store)) => {
            let _ = inner.writer_store.set(store);
        }
        Ok(None) => {}
        // The shared store still works from here, only with its wake-ups on the main runtime.
        Err(error) => {
            tracing::warn!(%error, "the engine's writer has no connection of its own; using the shared pool")
        }
    }
    process_jobs(&inner, &mut queue).await;
    if let Some(store) = inner.writer_store.get() {
        store.close().await;
    }
}

async fn process_jobs(inner: &Inner, queue: &mut mpsc::Receiver<Job>) {
    while let Some(first) = queue.recv().await {
        let mut weight = first.weight();
        let mut jobs = vec![first];
        while weight < inner.settings.max_batch {
            match queue.try_recv() {
                Ok(job) => {
                    weight += job.weight();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        if inner.process(jobs).await {
            break;
        }
        inner.timeline.log_now_and_then();
    }
}

type InboundReply = oneshot::Sender<Result<Vec<Accepted>, EngineError>>;

/// Inbound events of one caller, with the long-poll position to save alongside them.
struct Inbound {
    events: Vec<InboundEvent>,
    /// (cursor name, position)
    cursor: Option<(String, String)>,
    /// When the caller handed it to the writer.
    submitted: Instant,
}

impl Inner {
    /// The store the writer's transactions begin on.
    fn write_store(&self) -> &dyn Store {
        self.writer_store.get().map_or(&*self.store, |store| &**store)
    }

    /// Runs jobs in arrival order; consecutive inbound jobs share one transaction. Returns
    /// whether a shutdown was requested.
    async fn process(&self, jobs: Vec<Job>) -> bool {
        let mut run: Vec<(Inbound, InboundReply)> = Vec::new();
        for job in jobs {
            match job {
                Job::Inbound { batch, reply } => run.push((batch, reply)),
                Job::Agent { op, reply } => {
                    self.flush_inbound(std::mem::take(&mut run)).await;
                    let _ = reply.send(self.agent_with_retry(&op).await);
                }
                Job::Shutdown => {
                    self.flush_inbound(run).await;
                    return true;
                }
            }
        }
        self.flush_inbound(run).await;
        false
    }

    async fn flush_inbound(&self, run: Vec<(Inbound, InboundReply)>) {
        if run.is_empty() {
            return;
        }
        let all: Vec<InboundEvent> = run.iter().flat_map(|(batch, _)| batch.events.iter().cloned()).collect();
        let cursors: Vec<&(String, String)> =
            run.iter().filter_map(|(batch, _)| batch.cursor.as_ref()).collect();
        let started = Instant::now();
        let waited = run
            .iter()
            .map(|(batch, _)| started.duration_since(batch.submitted) * batch.events.len() as u32)
            .sum();
        match self.inbound_with_retry(&all, &cursors, waited).await {
            Ok(mut results) => {
                for (batch, reply) in run.into_iter().rev() {
                    let mine = results.split_off(results.len() - batch.events.len());
                    let _ = reply.send(Ok(mine));
                }
            }
            Err(error) if run.len() == 1 => {
                if let Some((_, reply)) = run.into_iter().next() {
                    let _ = reply.send(Err(error));
                }
            }
            Err(error) => {
                // One bad event must not keep a whole batch from being stored: apply each
                // caller's events on their own so only the faulty one is refused.
                tracing::warn!(%error, jobs = run.len(), "group commit failed; applying its jobs one by one");
                for (batch, reply) in run {
                    let cursor: Vec<&(String, String)> = batch.cursor.iter().collect();
                    let waited = batch.submitted.elapsed() * batch.events.len() as u32;
                    let _ = reply.send(self.inbound_with_retry(&batch.events, &cursor, waited).await);
                }
            }
        }
    }

    /// `waited`: how long the events waited for the writer, summed over them.
    async fn inbound_with_retry(
        &self,
        events: &[InboundEvent],
        cursors: &[&(String, String)],
        waited: Duration,
    ) -> Result<Vec<Accepted>, EngineError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let mut clock = CommitClock::start(events.len(), waited);
            match self.apply_inbound(events, cursors, &mut clock).await {
                Err(EngineError::Store(error)) if attempt < ATTEMPTS && retryable(&error) => {
                    tracing::debug!(%error, attempt, "retrying a batch after a concurrent change");
                    attempt += 1;
                }
                Ok(results) => {
                    self.timeline.record(&clock);
                    self.metrics.commit_seconds.record(started.elapsed());
                    self.metrics.commit_events.record(events.len() as f64);
                    telemetry::count_inbound(events, &results);
                    return Ok(results);
                }
                other => return other,
            }
        }
    }

    async fn agent_with_retry(&self, op: &AgentOp) -> Result<AgentOutcome, EngineError> {
        let mut attempt = 1;
        loop {
            match self.apply_agent(op).await {
                Err(EngineError::Store(error)) if attempt < ATTEMPTS && retryable(&error) => attempt += 1,
                other => return other,
            }
        }
    }

    /// One group commit of inbound events, and of the long-poll positions read after them.
    async fn apply_inbound(
        &self,
        events: &[InboundEvent],
        cursors: &[&(String, String)],
        clock: &mut CommitClock,
    ) -> Result<Vec<Accepted>, EngineError> {
        let mut tx = self.write_store().begin().await?;
        clock.lap(Stage::Begin, tx.round_trips());
        // Read once the transaction has begun (it may have waited for the write lock), so that
        // batches are stamped in the order they commit.
        let now = now_millis();
        let mut results = vec![Accepted::Duplicate; events.len()];
        // In arrival order, so a later position of the same cursor wins.
        let cursors: Vec<(&str, &str)> =
            cursors.iter().map(|(name, position)| (name.as_str(), position.as_str())).collect();

        // Dedupe: within the batch first (a platform may resend while we are still working),
        // then against everything stored before.
        let mut first_index: HashMap<(&str, &str), usize> = HashMap::with_capacity(events.len());
        let mut keys = Vec::with_capacity(events.len());
        let mut key_event = Vec::with_capacity(events.len());
        for (index, event) in events.iter().enumerate() {
            if first_index.insert((event.channel, event.event_id.as_str()), index).is_none() {
                keys.push(EventKey { channel: event.channel.to_owned(), event_id: event.event_id.clone() });
                key_event.push(index);
            }
        }
        let fresh = tx.record_events_at(&keys, &cursors, now).await?;
        clock.lap(Stage::Dedupe, tx.round_trips());
        let fresh: Vec<usize> =
            key_event.into_iter().zip(fresh).filter_map(|(index, is_new)| is_new.then_some(index)).collect();
        if fresh.is_empty() {
            let round_trips = tx.round_trips() + tx.commit_round_trips();
            tx.commit().await?;
            clock.lap(Stage::Commit, round_trips);
            return Ok(results);
        }

        // Contacts and conversations of every fresh event, in one statement each.
        let mut upserts: HashMap<(&str, &str), ContactUpsert> = HashMap::new();
        for &index in &fresh {
            let event = &events[index];
            let entry =
                upserts.entry((event.channel, event.external_id.as_str())).or_insert_with(|| ContactUpsert {
                    channel: event.channel.to_owned(),
                    external_id: event.external_id.clone(),
                    lang_if_new: (self.settings.negotiate)(event.language_hint.as_deref()),
                    display_name: None,
                    contact_data: None,
                });
            // The latest values win: they describe the contact as it is now.
            if event.display_name.is_some() {
                entry.display_name.clone_from(&event.display_name);
            }
            if event.contact_data.is_some() {
                entry.contact_data.clone_from(&event.contact_data);
            }
        }
        let mut upserts: Vec<ContactUpsert> = upserts.into_values().collect();
        upserts.sort_by(|a, b| (&a.channel, &a.external_id).cmp(&(&b.channel, &b.external_id)));
        let initial = serde_json::to_string(&State::Menu).map_err(StoreError::from)?;
        let (contacts, rows) = tx.contacts_and_conversations(&upserts, &initial, now).await?;
        clock.lap(Stage::Conversations, tx.round_trips());

        let mut writes = Writes::default();
        let mut by_contact: HashMap<i64, ConversationRow> =
            rows.into_iter().map(|row| (row.contact_id, row)).collect();
        let mut conversations: HashMap<(String, String), Conversation> =
            HashMap::with_capacity(contacts.len());
        for contact in contacts {
            let row = by_contact.remove(&contact.id).ok_or_else(|| {
                StoreError::Corrupt(format!("contact {} has no conversation after creating one", contact.id))
            })?;
            let key = (contact.channel.clone(), contact.external_id.clone());
            conversations.insert(key, Conversation::load(row, contact, now, &mut writes));
        }

        self.prefetch(&mut *tx, conversations.values(), &mut writes).await?;
        clock.lap(Stage::Prefetch, tx.round_trips());

        let mut queue = None;
        for index in fresh {
            let event = &events[index];
            let key = (event.channel.to_owned(), event.external_id.clone());
            let conversation = conversations
                .get_mut(&key)
                .ok_or_else(|| StoreError::Corrupt(format!("no conversation loaded for event {index}")))?;
            let replies =
                self.apply_event(&mut *tx, conversation, event, &mut queue, now, &mut writes).await?;
            results[index] = Accepted::Applied { replies };
        }

        clock.lap(Stage::Steps, tx.round_trips());
        let changed: Vec<&Conversation> = conversations.values().filter(|c| c.changed).collect();
        self.finish(tx, changed, writes, now, clock).await?;
        Ok(results)
    }

    /// Reads, in one go, what the batch's steps and its direct delivery need of these
    /// conversations: their open tickets, and which of them may have their new rows handed
    /// over (see [`Inner::lease_for_direct_delivery`]). That second question is answered
    /// here, right after the conversations were locked, rather than when the rows exist:
    /// from the lock to the commit nobody else adds rows to them, and a held row that fails
    /// meanwhile puts its conversation on direct delivery's failed list, whose new rows are
    /// given back when handed over. Answered any later, a reply marked sent in between
    /// would make its conversation look as if it had rows the worker does not hold.
    async fn prefetch(
        &self,
        tx: &mut dyn WriteTx,
        conversations: impl Iterator<Item = &Conversation>,
        writes: &mut Writes,
    ) -> Result<(), EngineError> {
        let direct = &self.outbox.direct;
        let attached = direct.lease().is_some();
        let mut ids = Vec::new();
        let mut candidates = Vec::new();
        for conversation in conversations {
            ids.push(conversation.id);
            if attached && direct.accepts(&conversation.contact.channel) {
                candidates.push(conversation.id);
            }
        }
        let (open, pending) = tx.open_tickets_and_pending_outbox(&ids, &candidates).await?;
        writes.tickets.know(&ids, open);
        writes.handed_over = Some(direct.holding_all(&candidates, &pending));
        Ok(())
    }

    /// Writes the log, the outbox and the new states, commits, and wakes the outbox.
    async fn finish(
        &self,
        mut tx: Box<dyn WriteTx>,
        changed: Vec<&Conversation>,
        mut writes: Writes,
        now: Millis,
        clock: &mut CommitClock,
    ) -> Result<(), EngineError> {
        if self.settings.orders_enabled && !writes.order_snapshots.is_empty() {
            // The snapshots go on tickets this batch may have opened.
            writes.tickets.flush(&mut *tx, now).await?;
            writes.order_snapshots.sort_unstable();
            writes.order_snapshots.dedup();
            let since = now.saturating_sub(ORDER_ON_TICKET_MILLIS);
            for &conversation in &writes.order_snapshots {
                tx.snapshot_order_on_tickets(conversation, since, now).await?;
            }
        }
        let mut updates = Vec::with_capacity(changed.len());
        for conversation in changed {
            updates.push(ConversationUpdate {
                id: conversation.id,
                state: StoredState::to_json(&conversation.state, &conversation.choices)?,
                expected_version: conversation.version,
                flood: conversation.flood,
            });
        }
        updates.sort_by_key(|update| update.id);
        clock.lap(Stage::Tickets, tx.round_trips());
        let handed_over = writes.handed_over.take();
        self.lease_for_direct_delivery(&mut *tx, &mut writes.outbox, &writes.recipients, handed_over, now)
            .await?;
        clock.lap(Stage::HandOver, tx.round_trips());
        let (tickets, ticket_changes) = writes.tickets.take_unwritten();
        let batch = BatchWrites {
            tickets: &tickets,
            ticket_changes: &ticket_changes,
            messages: &writes.messages,
            faq_outcomes: &writes.faq_outcomes,
            outbox: &writes.outbox,
            states: &updates,
        };
        let ids = tx.write_batch(&batch, now).await?;
        clock.lap(Stage::Writes, tx.round_trips());
        let round_trips = tx.round_trips() + tx.commit_round_trips();
        tx.commit().await?;
        clock.lap(Stage::Commit, round_trips);

        let (handed, stored): (Vec<_>, Vec<_>) =
            writes.outbox.into_iter().zip(ids).partition(|(row, _)| row.lease_until.is_some());
        if !handed.is_empty() {
            let recipients = &writes.recipients;
            self.outbox
                .direct
                .hand(handed.into_iter().map(|(row, id)| handed_job(row, id, recipients)).collect());
        }
        if !stored.is_empty() || writes.wake_outbox {
            self.outbox.wake.notify_one();
        }
        if writes.wake_lookups {
            self.lookups.notify_one();
        }
        Ok(())
    }

    /// Marks the rows this process's worker can deliver at once (see `outbox::direct`): those
    /// of conversations whose every pending row the worker already holds. No other transaction
    /// can add rows to these conversations while we compare: on SQLite this one holds the
    /// write lock, on PostgreSQL it has locked their conversation rows (`FOR UPDATE`).
    /// `handed_over`: the conversations [`Inner::prefetch`] found so, if it ran; otherwise they
    /// are looked up now.
    async fn lease_for_direct_delivery(
        &self,
        tx: &mut dyn WriteTx,
        rows: &mut [NewOutbox],
        recipients: &HashMap<i64, Recipient>,
        handed_over: Option<HashSet<i64>>,
        now: Millis,
    ) -> Result<(), EngineError> {
        if rows.is_empty() {
            return Ok(());
        }
        let Some(lease) = self.outbox.direct.lease() else { return Ok(()) };
        let direct = &self.outbox.direct;
        // Rows to an unreachable contact wait in the table, as the claiming path keeps them.
        let deliverable = |row: &NewOutbox| {
            direct.accepts(&row.channel) && recipients.get(&row.contact_id).is_some_and(|r| r.reachable)
        };
        let fast = match handed_over {
            Some(fast) => fast,
            None => {
                let mut candidates: Vec<i64> =
                    rows.iter().filter(|row| deliverable(row)).map(|row| row.conversation_id).collect();
                if candidates.is_empty() {
                    return Ok(());
                }
                candidates.sort_unstable();
                candidates.dedup();
                let pending = tx.pending_outbox(&candidates).await?;
                direct.holding_all(&candidates, &pending)
            }
        };
        let until = now.saturating_add(duration_millis(lease));
        for row in rows.iter_mut().filter(|row| deliverable(row)) {
            if fast.contains(&row.conversation_id) {
                row.lease_until = Some(until);
            }
        }
        Ok(())
    }

    async fn apply_event(
        &self,
        tx: &mut dyn WriteTx,
        conversation: &mut Conversation,
        event: &InboundEvent,
        queue: &mut Option<QueueOverview>,
        now: Millis,
        writes: &mut Writes,
    ) -> Result<usize, EngineError> {
        match &event.kind {
            InboundKind::Input(input) => {
                if is_support_side(input) {
                    // Only the engine's own agent operations may say a ticket was assigned or
                    // resolved; a channel passing one through is ignored, not obeyed.
                    tracing::warn!(channel = event.channel, "ignored a support-side input from a channel");
                    return Ok(0);
                }
                writes.messages.push(customer_message(conversation.id, &event.event_id, input, now));
                // A customer who writes to us can be answered again (VK lets a community reply
                // to whoever wrote to it; a Telegram user must unblock the bot to write), so a
                // flag from an earlier refusal must not keep this answer and older ones back.
                if !conversation.contact.reachable {
                    tx.set_contact_reachable(conversation.contact.id, true, now).await?;
                    conversation.contact.reachable = true;
                    writes.wake_outbox = true;
                }
                // A deep link's `/start <token>`: the contact is linked to the store's customer
                // the token names, once; the dialog does not see the token.
                if let Input::Text { text } = input
                    && self.settings.identity_secret.is_some()
                    && let Some(token) = crate::customers::link_token_in_start(text)
                {
                    let hash = crate::customers::link_token_hash(token);
                    let key = match tx.use_link_token(&hash, now).await? {
                        Some((store_id, email)) => {
                            tx.link_contact(conversation.contact.id, &store_id, email.as_deref(), now)
                                .await?;
                            keys::ACCOUNT_LINKED
                        }
                        None => keys::ACCOUNT_LINK_INVALID,
                    };
                    let lang = conversation.contact.lang;
                    writes.bot_reply(conversation, Reply::new(key), lang, now);
                    return Ok(1);
                }
                // Flood control: over the limit, the message stays in the log (written above)
                // but skips the dialog; the first one over gets a notice.
                let rule = self.settings.flood;
                if !rule.is_off() {
                    conversation.changed = true;
                    match conversation.flood.register(now, rule) {
                        FloodVerdict::Allow => {}
                        verdict => {
                            telemetry::count_flood_limited(event.channel);
                            if verdict == FloodVerdict::Quiet {
                                return Ok(0);
                            }
                            let lang = conversation.contact.lang;
                            writes.bot_reply(conversation, Reply::new(keys::FLOOD_NOTICE), lang, now);
                            return Ok(1);
                        }
                    }
                }
                // On a channel without buttons, "2" presses the second button on offer; the log
                // above keeps what the customer typed.
                let input = match input {
                    Input::Text { text } if self.settings.numbered(event.channel) => {
                        match choices::pick(text, &conversation.choices) {
                            Some(action) => Input::Button { action },
                            None => input.clone(),
                        }
                    }
                    // A letter whose own words (quotes and signature trimmed) are only the number.
                    // It stays a letter, so that its answer is still one letter.
                    Input::Email(letter)
                        if self.settings.numbered(event.channel) && letter.photos.is_empty() =>
                    {
                        let mut letter = letter.clone();
                        letter.pressed = choices::pick(&letter.text, &conversation.choices);
                        Input::Email(letter)
                    }
                    _ => input.clone(),
                };
                let started = Instant::now();
                let replies = self.run_step(tx, conversation, input, queue, now, writes).await;
                self.metrics.dialog_step.record(started.elapsed());
                replies
            }
            InboundKind::Edited { text } => {
                writes.messages.push(NewMessage {
                    conversation_id: conversation.id,
                    direction: Direction::In,
                    author: Author::Customer,
                    agent: None,
                    text: Some(text.clone()),
                    body: Some(r#"{"edited":true}"#.to_owned()),
                    attachments: Vec::new(),
                    event_id: Some(event.event_id.clone()),
                    at: now,
                });
                Ok(0)
            }
            InboundKind::Reachability { reachable } => {
                tx.set_contact_reachable(conversation.contact.id, *reachable, now).await?;
                conversation.contact.reachable = *reachable;
                writes.wake_outbox |= *reachable;
                Ok(0)
            }
            InboundKind::Identify { identity } => {
                let Some(secret) = &self.settings.identity_secret else { return Ok(0) };
                let verified = identity.verify(
                    secret.expose(),
                    crate::customers::Purpose::Webchat,
                    now.div_euclid(1000),
                );
                match verified {
                    Ok(()) => {
                        let current = tx.customer_of_contact(conversation.contact.id).await?;
                        if current.is_none_or(|customer| customer.store_id != identity.customer_id) {
                            let email = identity.email.as_deref();
                            tx.link_contact(conversation.contact.id, &identity.customer_id, email, now)
                                .await?;
                        }
                    }
                    // The conversation goes on as a guest's.
                    Err(problem) => {
                        tracing::info!(channel = event.channel, %problem, "ignored a signed identity")
                    }
                }
                Ok(0)
            }
            InboundKind::GroupChat => {
                let lang = conversation.contact.lang;
                writes.bot_reply(conversation, Reply::new(keys::GROUP_CHAT_NOT_SUPPORTED), lang, now);
                Ok(1)
            }
        }
    }

    /// Runs one input through the dialog and carries out what it decided. Returns how many
    /// replies were queued.
    async fn run_step(
        &self,
        tx: &mut dyn WriteTx,
        conversation: &mut Conversation,
        input: Input,
        queue: &mut Option<QueueOverview>,
        now: Millis,
        writes: &mut Writes,
    ) -> Result<usize, EngineError> {
        // Most steps never look at the queue, and counting it costs queries. The step is pure,
        // so run it with two different made-up queues: if the results agree, the queue does
        // not matter and the first result stands.
        let probe = |ahead: u32, wait: Option<u32>| QueueSnapshot {
            ahead,
            expected_wait_minutes: wait,
            agents_back_at: None,
        };
        // Every run of this step asks the model about the same text; it answers once.
        let faq = Remembering::new(self.settings.faq.as_ref());
        let possible =
            self.settings.orders_enabled && self.lookup_possible(conversation, &input, now, &faq, GENEROUS);
        let orders = self.order_access(tx, conversation, possible, now).await?;
        let mut transition = self.step(conversation, input.clone(), probe(0, None), now, &faq, orders);
        if transition != self.step(conversation, input.clone(), probe(1, Some(1)), now, &faq, orders) {
            let queue_now = snapshot(tx, conversation, queue, Priority::Normal, writes, now).await?;
            transition = self.step(conversation, input.clone(), queue_now, now, &faq, orders);
            // A new ticket's position depends on its priority, which only the step knows.
            if let Some(priority) = opened_priority(&transition)
                && priority != Priority::Normal
            {
                let queue_now = snapshot(tx, conversation, queue, priority, writes, now).await?;
                transition = self.step(conversation, input, queue_now, now, &faq, orders);
            }
        }

        let lang = transition.language(conversation.contact.lang);
        let Transition { state, replies, effects } = transition;
        for effect in effects {
            carry_out(tx, conversation, effect, queue, writes, now).await?;
        }
        // One message per turn where it can be one (`core::turn`): one outbox row, one log row.
        let replies = turn::messages(replies);
        let count = replies.len();
        if self.settings.numbered(&conversation.contact.channel)
            && let Some(offered) = choices::offered(&replies)
            && offered != conversation.choices
        {
            conversation.choices = offered;
            conversation.changed = true;
        }
        for reply in replies {
            writes.bot_reply(conversation, reply, lang, now);
        }
        if conversation.state != state {
            conversation.state = state;
            conversation.changed = true;
        }
        Ok(count)
    }

    /// What the step may do with order numbers. Whether the contact is linked and how many
    /// failed lookups it has left cost two reads, so, like the queue, they are read only when
    /// they can matter: for a lookup's answer, and when a step run with the most generous
    /// values (linked, every try left) asks for a lookup. Less generous values only ever
    /// take lookups away, so a step that asks for none with these asks for none with the
    /// real ones.
    async fn order_access(
        &self,
        tx: &mut dyn WriteTx,
        conversation: &Conversation,
        possible: bool,
        now: Millis,
    ) -> Result<OrderAccess, EngineError> {
        if !self.settings.orders_enabled {
            return Ok(OrderAccess::default());
        }
        if !possible {
            return Ok(GENEROUS);
        }
        let contact = conversation.contact.id;
        let linked = tx.customer_of_contact(contact).await?.is_some();
        let since = now.saturating_sub(order::FAILED_LOOKUP_WINDOW_MILLIS);
        let failures = tx.failed_lookups_since(contact, since).await?;
        Ok(OrderAccess {
            enabled: true,
            linked,
            tries_left: order::FAILED_LOOKUPS_PER_HOUR.saturating_sub(failures),
        })
    }

    /// Whether this input is a lookup's answer, or asks for a lookup with `generous` access.
    fn lookup_possible(
        &self,
        conversation: &Conversation,
        input: &Input,
        now: Millis,
        faq: &dyn IntentClassifier,
        generous: OrderAccess,
    ) -> bool {
        matches!(input, Input::OrderLooked { .. }) || {
            let trial = self.step(conversation, input.clone(), QueueSnapshot::default(), now, faq, generous);
            trial.effects.iter().any(|effect| matches!(effect, Effect::LookupOrder { .. }))
        }
    }

    fn step(
        &self,
        conversation: &Conversation,
        input: Input,
        mut queue: QueueSnapshot,
        now: Millis,
        faq: &dyn IntentClassifier,
        orders: OrderAccess,
    ) -> Transition {
        // Business hours change what the queue messages say, not where the customer stands, so
        // they are added to every snapshot, the probes included.
        queue.agents_back_at = (self.settings.agents_back_at)(now);
        let ctx = Ctx {
            lang: conversation.contact.lang,
            language_chosen: conversation.contact.language_chosen,
            order_ids: self.settings.order_ids.as_ref(),
            faq,
            queue,
            anonymous: self.settings.anonymous_channels.contains(&conversation.contact.channel.as_str()),
            orders,
        };
        dialog::step(conversation.state.clone(), input, &ctx)
    }

    // ---- agent side ----

    async fn apply_agent(&self, op: &AgentOp) -> Result<AgentOutcome, EngineError> {
        let mut tx = self.write_store().begin().await?;
        let now = now_millis();
        let mut writes = Writes::default();
        let mut queue = None;
        let mut touched = Vec::new();
        let mut claimed_after: Option<Millis> = None;
        let outcome = match op {
            AgentOp::Claim { ticket, agent, shown } => {
                let found = ticket_for_update(&mut *tx, *ticket).await?;
                match decide_claim(found.status, found.assigned_agent.as_deref(), agent) {
                    ClaimDecision::Claim => {
                        claimed_after = Some(now.saturating_sub(found.created_at));
                        tx.update_ticket(found.id, &TicketChange::Assign { agent: agent.clone() }, now)
                            .await?;
                        let input = Input::TicketAssigned { agent: shown.clone() };
                        touched
                            .push(self.drive(&mut *tx, &found, input, &mut queue, now, &mut writes).await?);
                        AgentOutcome::Claim(ClaimResult::Claimed)
                    }
                    ClaimDecision::AlreadyYours => AgentOutcome::Claim(ClaimResult::AlreadyYours),
                    ClaimDecision::TakenBy(owner) => AgentOutcome::Claim(ClaimResult::TakenBy(owner)),
                    ClaimDecision::Closed => AgentOutcome::Claim(ClaimResult::Closed),
                }
            }
            AgentOp::Move(step) => {
                let found = allowed(&mut *tx, step.ticket, &step.by, step.allowed).await?;
                tx.update_ticket(found.id, &step.change, now).await?;
                let input = step.input.clone();
                touched.push(self.drive(&mut *tx, &found, input, &mut queue, now, &mut writes).await?);
                AgentOutcome::Done
            }
            AgentOp::Reply { ticket, by, shown, text, attachments, original } => {
                if text.trim().is_empty() && attachments.is_empty() {
                    return Err(EngineError::EmptyMessage);
                }
                let found = ticket_for_update(&mut *tx, *ticket).await?;
                if found.status != TicketStatus::Assigned || !by.may_act_on(found.assigned_agent.as_deref()) {
                    return Err(EngineError::NotAssignedTo { ticket: *ticket, agent: by.name.clone() });
                }
                let (row, contact) = tx
                    .conversation_for_update(found.conversation_id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt(format!("ticket {ticket} has no conversation")))?;
                let conversation = Conversation::load(row, contact, now, &mut writes);
                writes.agent_reply(
                    &conversation,
                    (&by.name, shown),
                    (text, original.as_ref()),
                    attachments,
                    now,
                );
                tx.update_ticket(found.id, &TicketChange::AgentReplied, now).await?;
                touched.push(conversation);
                AgentOutcome::Done
            }
            AgentOp::Note { ticket, agent, text } => {
                let found = ticket_for_update(&mut *tx, *ticket).await?;
                AgentOutcome::Note(tx.add_note(found.id, agent, text, now).await?)
            }
            AgentOp::Reminders { older_than, interval } => {
                let waiting_since = now.saturating_sub(duration_millis(*older_than));
                let reminded_before = now.saturating_sub(duration_millis(*interval));
                let due = tx.tickets_due_reminder(waiting_since, reminded_before, 500).await?;
                for found in &due {
                    tx.update_ticket(found.id, &TicketChange::Reminded, now).await?;
                    let conversation = self
                        .drive(&mut *tx, found, Input::QueueReminder, &mut queue, now, &mut writes)
                        .await?;
                    touched.push(conversation);
                }
                AgentOutcome::Reminded(due.len())
            }
            AgentOp::Erase { channel, external_id } => {
                let initial = serde_json::to_string(&State::Menu).map_err(StoreError::from)?;
                AgentOutcome::Erased(tx.erase_contact(channel, external_id, &initial, now).await?)
            }
            AgentOp::ResetIdle { idle_before, limit } => {
                let initial = serde_json::to_string(&State::Menu).map_err(StoreError::from)?;
                AgentOutcome::Reset(tx.reset_idle_conversations(*idle_before, &initial, *limit, now).await?)
            }
            AgentOp::CompleteLookup { id, outcome } => {
                if let Some(conversation) =
                    self.complete_lookup(&mut *tx, *id, outcome, &mut queue, now, &mut writes).await?
                {
                    touched.push(conversation);
                }
                AgentOutcome::Done
            }
        };
        let changed: Vec<&Conversation> = touched.iter().filter(|c| c.changed).collect();
        // Agent actions are not part of the inbound timeline: their clock is not recorded.
        self.finish(tx, changed, writes, now, &mut CommitClock::start(0, Duration::ZERO)).await?;
        if let Some(waited) = claimed_after {
            self.metrics.handoff_wait.record(Duration::from_millis(u64::try_from(waited).unwrap_or(0)));
        }
        Ok(outcome)
    }

    /// Records the answer to lookup `id` and feeds it to its conversation, if the lookup was
    /// still open (else `None`: it was answered before, and nothing changes).
    async fn complete_lookup(
        &self,
        tx: &mut dyn WriteTx,
        id: i64,
        outcome: &LookupOutcome,
        queue: &mut Option<QueueOverview>,
        now: Millis,
        writes: &mut Writes,
    ) -> Result<Option<Conversation>, EngineError> {
        let found = match outcome {
            LookupOutcome::Answered { lookup: OrderLookup::Found { order } } => Some(order),
            _ => None,
        };
        let outcome_json = serde_json::to_string(outcome).map_err(StoreError::from)?;
        let order_json = found.map(serde_json::to_string).transpose().map_err(StoreError::from)?;
        let answer = LookupAnswer {
            id,
            outcome: &outcome_json,
            order: found.zip(order_json.as_deref()).map(|(order, json)| (order.id.as_str(), json)),
            at: now,
        };
        let Some(done) = tx.complete_order_lookup(&answer).await? else { return Ok(None) };
        let stored: StoredLookup = serde_json::from_str(&done.query).map_err(StoreError::from)?;
        let (row, contact) = tx
            .conversation_for_update(done.conversation_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("lookup {id} has no conversation")))?;
        let mut conversation = Conversation::load(row, contact, now, writes);
        let order_ref = stored.query.order_ref.clone();
        let input = Input::OrderLooked { purpose: stored.purpose, order_ref, outcome: outcome.clone() };
        // The step sees the allowance as it was before this answer, which may be the failure
        // that uses it up.
        self.run_step(tx, &mut conversation, input, queue, now, writes).await?;
        if let LookupOutcome::Answered { lookup } = outcome
            && order::is_failure(lookup, stored.query.order_ref.is_some(), stored.query.verifier.is_some())
        {
            tx.mark_lookup_failed(id).await?;
        }
        if found.is_some() {
            writes.order_snapshots.push(conversation.id);
        }
        Ok(Some(conversation))
    }

    /// Feeds a support-side input to the ticket's conversation.
    async fn drive(
        &self,
        tx: &mut dyn WriteTx,
        ticket: &TicketRow,
        input: Input,
        queue: &mut Option<QueueOverview>,
        now: Millis,
        writes: &mut Writes,
    ) -> Result<Conversation, EngineError> {
        let (row, contact) = tx
            .conversation_for_update(ticket.conversation_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("ticket {} has no conversation", ticket.id)))?;
        let mut conversation = Conversation::load(row, contact, now, writes);
        self.run_step(tx, &mut conversation, input, queue, now, writes).await?;
        Ok(conversation)
    }
}

async fn ticket_for_update(tx: &mut dyn WriteTx, ticket: i64) -> Result<TicketRow, EngineError> {
    tx.ticket_for_update(ticket).await?.ok_or(EngineError::TicketNotFound(ticket))
}

/// The ticket, locked, when `by` may make `agent_move` on it in its current status.
async fn allowed(
    tx: &mut dyn WriteTx,
    ticket: i64,
    by: &Actor,
    agent_move: AgentMove,
) -> Result<TicketRow, EngineError> {
    let found = ticket_for_update(tx, ticket).await?;
    if !by.may_act_on(found.assigned_agent.as_deref()) {
        return Err(EngineError::NotAssignedTo { ticket, agent: by.name.clone() });
    }
    if !move_allowed(found.status, agent_move) {
        return Err(EngineError::NotAllowed { ticket, status: found.status, action: agent_move.name() });
    }
    Ok(found)
}

fn retryable(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict)
}

fn is_support_side(input: &Input) -> bool {
    matches!(
        input,
        Input::TicketAssigned { .. }
            | Input::TicketReleased
            | Input::TicketResolved
            | Input::TicketReopened { .. }
            | Input::QueueReminder
            | Input::OrderLooked { .. }
    )
}

fn opened_priority(transition: &Transition) -> Option<Priority> {
    transition.effects.iter().find_map(|effect| match effect {
        Effect::OpenTicket { draft, outcome: TicketOutcome::Queued } => Some(draft.priority),
        _ => None,
    })
}

/// The queue as the step should see it: the conversation's own ticket position when it has
/// one waiting, else where a new ticket of `priority` would land.
async fn snapshot(
    tx: &mut dyn WriteTx,
    conversation: &Conversation,
    queue: &mut Option<QueueOverview>,
    priority: Priority,
    writes: &mut Writes,
    now: Millis,
) -> Result<QueueSnapshot, EngineError> {
    let queued = matches!(conversation.state, State::Queued { .. } | State::Assigned { .. });
    // The reads below count tickets in the database, so queued ticket writes go first. Once
    // the overview is loaded, the batch keeps it up to date itself (see `carry_out`), so a new
    // ticket's position needs neither a read nor a flush.
    if queue.is_none() || queued {
        writes.tickets.flush(tx, now).await?;
    }
    let overview = match queue {
        Some(overview) => overview,
        None => queue.insert(tx.queue_overview().await?),
    };
    let own = if queued { tx.tickets_ahead_of_conversation(conversation.id).await? } else { None };
    let ahead = own.unwrap_or_else(|| overview.ahead_of_new(priority));
    Ok(QueueSnapshot {
        ahead,
        expected_wait_minutes: overview.expected_wait_minutes(ahead),
        agents_back_at: None,
    })
}

/// Carries out one effect of a step inside the transaction.
async fn carry_out(
    tx: &mut dyn WriteTx,
    conversation: &mut Conversation,
    effect: Effect,
    queue: &mut Option<QueueOverview>,
    writes: &mut Writes,
    now: Millis,
) -> Result<(), EngineError> {
    let tickets = &mut writes.tickets;
    match effect {
        Effect::OpenTicket { draft, outcome } => {
            // The order looked up in this conversation goes on the ticket (see `finish`).
            writes.order_snapshots.push(conversation.id);
            let (status, self_served) = match outcome {
                TicketOutcome::Queued => (TicketStatus::Queued, false),
                TicketOutcome::SelfServed => (TicketStatus::Resolved, true),
            };
            let priority = draft.priority;
            tickets.insert(NewTicket {
                conversation_id: conversation.id,
                contact_id: conversation.contact.id,
                draft,
                status,
                self_served,
                lang: conversation.contact.lang,
                at: now,
            });
            if let (TicketStatus::Queued, Some(overview)) = (status, queue.as_mut()) {
                overview.count(priority, true);
            }
        }
        Effect::AttachToTicket { media } => match tickets.open_ticket(tx, conversation.id, now).await? {
            Some(ticket) => tx.attach(ticket.id, std::slice::from_ref(&media), now).await?,
            None => tracing::debug!(
                conversation = conversation.id,
                "photo without an open ticket stays in the log"
            ),
        },
        Effect::WithdrawTicket => {
            if let Some(ticket) = tickets.open_ticket(tx, conversation.id, now).await? {
                tickets.change(&ticket, TicketChange::Withdraw);
                if let (TicketStatus::Queued, Some(overview)) = (ticket.status, queue.as_mut()) {
                    overview.count(ticket.priority, false);
                }
            }
        }
        Effect::RateTicket { stars } => {
            tickets.flush(tx, now).await?;
            if let Some(ticket) = tx.latest_resolved_ticket(conversation.id).await? {
                tx.update_ticket(ticket, &TicketChange::Rate { stars }, now).await?;
            }
        }
        Effect::CommentTicket { comment } => {
            tickets.flush(tx, now).await?;
            if let Some(ticket) = tx.latest_resolved_ticket(conversation.id).await? {
                tx.update_ticket(ticket, &TicketChange::Comment { comment }, now).await?;
            }
        }
        Effect::SetLanguage { lang, chosen } => {
            conversation.contact.lang = lang;
            conversation.contact.language_chosen |= chosen;
            tx.set_contact_language(conversation.contact.id, lang, chosen, now).await?;
        }
        Effect::FaqOutcome { intent, helped } => writes.faq_outcomes.push(FaqOutcomeRow {
            conversation_id: conversation.id,
            intent,
            helped,
            lang: conversation.contact.lang,
            at: now,
        }),
        Effect::Feedback { text } => {
            tx.record_feedback(conversation.id, &text, conversation.contact.lang, now).await?;
        }
        Effect::LookupOrder { purpose, order_ref, verifier } => {
            let customer = tx
                .customer_of_contact(conversation.contact.id)
                .await?
                .map(|customer| CustomerRef { id: customer.store_id, email: customer.email });
            let query = OrderQuery {
                order_ref: order_ref.map(|id| id.as_str().to_owned()),
                verifier,
                contact: ContactRef {
                    channel: conversation.contact.channel.clone(),
                    id: conversation.contact.external_id.clone(),
                },
                customer,
                locale: conversation.contact.lang,
            };
            let query = serde_json::to_string(&StoredLookup { purpose, query }).map_err(StoreError::from)?;
            let lookup = NewOrderLookup {
                conversation_id: conversation.id,
                contact_id: conversation.contact.id,
                query,
                at: now,
            };
            tx.insert_order_lookup(&lookup).await?;
            writes.wake_lookups = true;
        }
    }
    Ok(())
}

/// The most a step may do with order numbers: linked, every failed lookup still allowed. See
/// `Inner::order_access`.
const GENEROUS: OrderAccess =
    OrderAccess { enabled: true, linked: true, tries_left: order::FAILED_LOOKUPS_PER_HOUR };

/// How long a looked-up order stays relevant for a ticket opened in the same conversation.
const ORDER_ON_TICKET_MILLIS: Millis = 24 * 60 * 60 * 1000;

/// A conversation as the writer holds it during one transaction.
struct Conversation {
    id: i64,
    contact: ContactRow,
    state: State,
    /// What a number typed as a message picks, on channels without buttons (`core::choices`).
    choices: Vec<Action>,
    /// The version as loaded; the save checks it has not moved.
    version: i64,
    /// Flood control's window, saved with the state.
    flood: FloodWindow,
    changed: bool,
}

impl Conversation {
    /// Reads the stored state. One that no longer parses (a bad manual edit, a removed
    /// variant) restarts the conversation at the menu; the old text is kept in the log for
    /// whoever investigates.
    fn load(row: ConversationRow, contact: ContactRow, now: Millis, writes: &mut Writes) -> Conversation {
        let (StoredState { state, choices }, changed) = match serde_json::from_str::<StoredState>(&row.state)
        {
            Ok(stored) => (stored, false),
            Err(error) => {
                tracing::warn!(conversation = row.id, %error, "unreadable dialog state; restarting at the menu");
                writes.messages.push(NewMessage {
                    conversation_id: row.id,
                    direction: Direction::In,
                    author: Author::System,
                    agent: None,
                    text: Some(format!("unreadable dialog state replaced by the menu: {}", row.state)),
                    body: None,
                    attachments: Vec::new(),
                    event_id: None,
                    at: now,
                });
                (StoredState { state: State::Menu, choices: Vec::new() }, true)
            }
        };
        Conversation { id: row.id, contact, state, choices, version: row.version, flood: row.flood, changed }
    }
}

/// What `conversations.state` holds: the dialog's state and, beside its fields, the choices on
/// offer by number (absent when there are none, so rows of channels with buttons, and rows
/// written before choices existed, read and write exactly as before).
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredState {
    #[serde(flatten)]
    state: State,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    choices: Vec<Action>,
}

impl StoredState {
    fn to_json(state: &State, choices: &[Action]) -> Result<String, StoreError> {
        #[derive(serde::Serialize)]
        struct Borrowed<'a> {
            #[serde(flatten)]
            state: &'a State,
            #[serde(skip_serializing_if = "<[Action]>::is_empty")]
            choices: &'a [Action],
        }
        Ok(serde_json::to_string(&Borrowed { state, choices })?)
    }
}

/// Rows a transaction appends at the end, in order.
#[derive(Default)]
struct Writes {
    messages: Vec<NewMessage>,
    outbox: Vec<NewOutbox>,
    /// Who each outbox row goes to, by contact id: what a handed-over row needs besides itself.
    recipients: HashMap<i64, Recipient>,
    tickets: TicketBook,
    faq_outcomes: Vec<FaqOutcomeRow>,
    wake_outbox: bool,
    /// A lookup was stored: wake the lookup worker after the commit.
    wake_lookups: bool,
    /// Conversations whose tickets get the newest looked-up order (with an order source).
    order_snapshots: Vec<i64>,
    /// Conversations whose new rows may be handed over to this process's worker, when
    /// [`Inner::prefetch`] found out; `None`: look it up when the rows are written.
    handed_over: Option<HashSet<i64>>,
}

struct Recipient {
    external_id: String,
    contact_data: Option<serde_json::Value>,
    reachable: bool,
}

/// A committed row as the worker gets it when handed over.
fn handed_job(row: NewOutbox, id: i64, recipients: &HashMap<i64, Recipient>) -> OutboxJob {
    let recipient = recipients.get(&row.contact_id);
    OutboxJob {
        id,
        conversation_id: row.conversation_id,
        contact_id: row.contact_id,
        channel: row.channel,
        external_id: recipient.map(|r| r.external_id.clone()).unwrap_or_default(),
        contact_data: recipient.and_then(|r| r.contact_data.clone()),
        lang: row.lang,
        payload: row.payload,
        attempts: 0,
    }
}

impl Writes {
    fn bot_reply(&mut self, conversation: &Conversation, reply: Reply, lang: Lang, now: Millis) {
        self.messages.push(NewMessage {
            conversation_id: conversation.id,
            direction: Direction::Out,
            author: Author::Bot,
            agent: None,
            // The keys of its paragraphs, as the rendered text separates them: a reader of the
            // bare log (the JSON API's transcript) sees every text of a joined turn.
            text: Some(reply.texts().map(|text| text.key.as_str()).collect::<Vec<_>>().join("\n\n")),
            // The whole reply, buttons included: the web chat replays the log to a reconnecting
            // widget, and the console shows which button a customer pressed by its label.
            body: serde_json::to_string(&reply).ok(),
            attachments: reply.attachments.clone(),
            event_id: None,
            at: now,
        });
        self.send(conversation, Outbound::Bot(reply), lang, now);
    }

    /// Logs the reply under the agent's login and sends it under the name customers see.
    fn agent_reply(
        &mut self,
        conversation: &Conversation,
        (agent, shown): (&str, &str),
        (text, original): (&str, Option<&AgentOriginal>),
        attachments: &[MediaRef],
        now: Millis,
    ) {
        self.messages.push(NewMessage {
            conversation_id: conversation.id,
            direction: Direction::Out,
            author: Author::Agent,
            agent: Some(agent.to_owned()),
            text: Some(text.to_owned()),
            body: original.map(AgentOriginal::body),
            attachments: attachments.to_vec(),
            event_id: None,
            at: now,
        });
        let payload = Outbound::Agent {
            agent: shown.to_owned(),
            text: text.to_owned(),
            attachments: attachments.to_vec(),
        };
        self.send(conversation, payload, conversation.contact.lang, now);
    }

    /// Queues `payload` for the conversation's contact in the outbox.
    fn send(&mut self, conversation: &Conversation, payload: Outbound, lang: Lang, now: Millis) {
        self.outbox.push(NewOutbox {
            conversation_id: conversation.id,
            contact_id: conversation.contact.id,
            channel: conversation.contact.channel.clone(),
            payload,
            lang,
            at: now,
            lease_until: None,
        });
        self.note_recipient(&conversation.contact);
    }

    fn note_recipient(&mut self, contact: &ContactRow) {
        self.recipients.entry(contact.id).or_insert_with(|| Recipient {
            external_id: contact.external_id.clone(),
            contact_data: contact.contact_data.clone(),
            reachable: contact.reachable,
        });
    }
}

/// A letter as the agent reads it in the log: its subject, its whole text, and the
/// attachments that were not kept as photos.
fn letter_for_agents(letter: &crate::core::dialog::Letter) -> String {
    let mut text = String::new();
    if !letter.subject.trim().is_empty() {
        text.push_str(&format!("Subject: {}\n\n", letter.subject.trim()));
    }
    text.push_str(letter.original.trim_end());
    if !letter.other_attachments.is_empty() {
        text.push_str(&format!("\n\n[attachments not kept: {}]", letter.other_attachments.join("; ")));
    }
    if !letter.refused_photos.is_empty() {
        text.push_str(&format!("\n\n[images refused: {}]", letter.refused_photos.len()));
    }
    text
}

/// The log row for what a customer sent. Button presses and refusals get a short bracketed
/// text so a transcript reads naturally; the structured input is kept beside it.
fn customer_message(conversation_id: i64, event_id: &str, input: &Input, now: Millis) -> NewMessage {
    let (text, attachments, structured) = match input {
        Input::Text { text } => (Some(text.clone()), Vec::new(), false),
        Input::Button { action } => (Some(format!("[{}]", action.encode())), Vec::new(), true),
        Input::StaleButton => (Some("[stale button]".to_owned()), Vec::new(), true),
        Input::Photo { media, caption } => (caption.clone(), vec![media.clone()], true),
        Input::PhotoRejected { .. } => (Some("[photo refused]".to_owned()), Vec::new(), true),
        Input::Unsupported { kind } => (Some(format!("[{}]", kind.code())), Vec::new(), true),
        // The whole letter, as received: the dialog read a trimmed copy, the agent reads this.
        Input::Email(letter) => (Some(letter_for_agents(letter)), letter.photos.clone(), false),
        other => (None, Vec::new(), !matches!(other, Input::Text { .. })),
    };
    NewMessage {
        conversation_id,
        direction: Direction::In,
        author: Author::Customer,
        agent: None,
        text,
        body: if structured { serde_json::to_string(input).ok() } else { None },
        attachments,
        event_id: Some(event_id.to_owned()),
        at: now,
    }
}

#[async_trait::async_trait]
impl crate::orders::worker::LookupDone for Engine {
    async fn lookup_done(&self, id: i64, outcome: LookupOutcome) -> Result<(), String> {
        self.complete_lookup(id, outcome).await.map_err(|error| error.to_string())
    }
}
