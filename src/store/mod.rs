//! Durable storage: contacts, conversations, the message log, tickets, processed events and the
//! outbox, behind one trait with a SQLite and a PostgreSQL implementation.
//!
//! The trait speaks the domain, not SQL. Writes happen inside a [`WriteTx`] whose methods take
//! whole batches (every event of one group commit), so a batch costs a handful of statements
//! however many events it holds. Queries are runtime queries: no database is needed to build.
//!
//! Every timestamp is [`Millis`]: milliseconds since the Unix epoch, UTC. The caller passes
//! `now` in, so tests can drive time explicitly.
//!
//! Every SQL statement of the program lives in this module. [`Store`] is what the engine, the
//! outbox and the CLI use; the console's accounts ([`AccountStore`]), its and the web chat's
//! reads ([`ConsoleStore`]) and retention ([`PrivacyStore`]) are traits of their own that every
//! store also implements. Code both backends run alike is written once (`shared`); each
//! backend keeps only its dialect.

mod accounts;
mod composed;
mod console;
mod counted;
mod leader;
pub(crate) mod orders;
mod own_connection;
mod pg_connect;
mod postgres;
mod privacy;
mod rows;
mod shared;
mod sql;
mod sqlite;
mod tcp_nodelay;

pub use accounts::{
    AccountStore, Agent, ApiToken, Credentials, NewAgent, NewSession, PasswordChange, Role, SessionRow,
};
pub use console::{CannedReply, ChangeMarker, ConsoleStore, ContactLog, FaqVerdict, LogEntry, TicketTimes};
pub use leader::{Leadership, lock_key as leader_lock_key, wait_for_leadership};
pub use orders::{
    ClaimedLookup, CompletedLookup, CustomerRow, LinkedContact, LinkedCustomer, LookupAnswer, NewOrderLookup,
    OrderStore, OrderTx,
};
pub use pg_connect::Unreachable;
pub use postgres::PostgresStore;
pub use privacy::{ErasedContact, ErasureCounts, Expired, PrivacyStore};
pub use sqlite::{SqliteDurability, SqliteStore};

use crate::core::dialog::TicketDraft;
use crate::core::faq::Intent;
use crate::core::flood::FloodWindow;
use crate::core::handoff::TicketStatus;
use crate::core::message::{Lang, MediaRef, Outbound, Priority};
use chrono::{DateTime, TimeZone, Utc};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Milliseconds since the Unix epoch (UTC): how every timestamp is stored.
pub type Millis = i64;

/// The current time as [`Millis`].
pub fn now_millis() -> Millis {
    Utc::now().timestamp_millis()
}

/// A [`Millis`] as a calendar time, for display and JSON.
pub fn to_datetime(at: Millis) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(at).single().unwrap_or_default()
}

/// A duration as [`Millis`], saturating.
pub fn duration_millis(duration: Duration) -> Millis {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// PostgreSQL could not be reached at start; says why, without credentials.
    #[error(transparent)]
    Unreachable(pg_connect::Unreachable),
    /// The URL names no backend we have. Only the scheme is kept, never credentials.
    #[error("unsupported database URL scheme {0:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    /// Another writer changed the conversation since it was loaded (another instance, or a
    /// second process on the same SQLite file), or PostgreSQL gave up a transaction to a
    /// serialization failure or a deadlock. The batch is rolled back and may be retried.
    #[error("a conversation was changed concurrently")]
    Conflict,
    /// A stored value that this version cannot read.
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
    #[error("could not encode a stored document: {0}")]
    Json(#[from] serde_json::Error),
}

pub type StoreResult<T> = Result<T, StoreError>;

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> Self {
        // PostgreSQL's serialization failure (40001) and deadlock (40P01): the transaction was
        // rolled back because of a concurrent one, and running it again may well succeed.
        let concurrent = matches!(
            &error,
            sqlx::Error::Database(db) if matches!(db.code().as_deref(), Some("40001") | Some("40P01"))
        );
        if concurrent { StoreError::Conflict } else { StoreError::Database(error) }
    }
}

/// Options that apply when connecting.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// SQLite only: see [`SqliteDurability`].
    pub sqlite_durability: SqliteDurability,
    /// Pool size. SQLite writes are serialised anyway; readers use the rest.
    pub max_connections: u32,
    /// PostgreSQL only: how long to keep trying to reach the server at start (0: once).
    pub wait_for_server: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            sqlite_durability: SqliteDurability::Full,
            max_connections: 8,
            wait_for_server: Duration::ZERO,
        }
    }
}

/// Opens the database the URL names, applies pending migrations and returns it as a store.
/// `sqlite://PATH` creates the file if missing; `postgres://` or `postgresql://` selects PostgreSQL.
pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<Arc<dyn Store>> {
    let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
    let store: Arc<dyn Store> = match scheme {
        "sqlite" => Arc::new(SqliteStore::connect(url, options).await?),
        "postgres" | "postgresql" => Arc::new(PostgresStore::connect(url, options).await?),
        other => return Err(StoreError::UnsupportedUrl(other.to_owned())),
    };
    store.migrate().await?;
    Ok(store)
}

/// Which backend a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The storage interface of the engine, the outbox, the CLI and the console.
#[async_trait::async_trait]
pub trait Store: AccountStore + ConsoleStore + PrivacyStore + OrderStore + Send + Sync {
    fn backend(&self) -> Backend;

    /// Applies pending migrations (also done by [`connect`]).
    async fn migrate(&self) -> StoreResult<()>;

    /// Whether every migration this build knows has been applied (`/readyz`).
    async fn migrations_applied(&self) -> StoreResult<bool>;

    /// Starts a write transaction. SQLite: `BEGIN IMMEDIATE`, serialised in-process so writers
    /// queue fairly instead of spinning on the busy handler.
    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>>;

    /// Write transactions for a writer that runs on a runtime of its own (`own_thread`),
    /// opened on connections that belong to the calling runtime. `None`: [`Store::begin`]
    /// serves any runtime (SQLite's connections live on sqlx's own threads). PostgreSQL's
    /// connections are sockets of the runtime that opened them, so it opens a pool of one
    /// connection for the caller; close it with [`Store::close`] before that runtime ends.
    async fn writer_for_this_runtime(&self) -> StoreResult<Option<Box<dyn Store>>> {
        Ok(None)
    }

    // ---- reads ----

    async fn contact(&self, channel: &str, external_id: &str) -> StoreResult<Option<ContactRow>>;
    /// The newest ticket of a conversation, whatever its status: the number a channel that
    /// shows one (email, in its subjects) puts on the conversation's messages.
    async fn latest_ticket_id(&self, conversation_id: i64) -> StoreResult<Option<i64>>;
    async fn conversation_of_contact(&self, contact_id: i64) -> StoreResult<Option<ConversationRow>>;
    /// One page of the tickets with the given status (all when `None`): queued ones in queue
    /// order (priority, then age), the others newest first.
    async fn list_tickets(&self, status: Option<TicketStatus>, page: Page)
    -> StoreResult<Vec<TicketSummary>>;
    /// [`Store::list_tickets`] narrowed to tickets in these languages (all when `None`).
    async fn list_tickets_in_languages(
        &self,
        status: Option<TicketStatus>,
        languages: Option<&[crate::core::message::Lang]>,
        page: Page,
    ) -> StoreResult<Vec<TicketSummary>>;
    /// How many tickets wait in the queue in these languages (all when `None`).
    async fn queued_in_languages(&self, languages: Option<&[crate::core::message::Lang]>)
    -> StoreResult<u32>;
    /// One ticket with its conversation's transcript and the internal notes.
    async fn ticket(&self, ticket_id: i64) -> StoreResult<Option<TicketDetail>>;
    /// A conversation's message log, oldest first.
    async fn transcript(&self, conversation_id: i64) -> StoreResult<Vec<TranscriptEntry>>;
    /// Outbox rows that gave up, newest first.
    async fn dead_letters(&self, limit: i64) -> StoreResult<Vec<DeadLetter>>;
    /// Queue figures: how many wait, recent waits, agents on duty.
    async fn queue_overview(&self) -> StoreResult<QueueOverview>;
    /// Queued tickets ahead of this one in queue order; `None` if it does not exist.
    async fn tickets_ahead(&self, ticket_id: i64) -> StoreResult<Option<u32>>;
    async fn cursor(&self, name: &str) -> StoreResult<Option<String>>;
    async fn set_cursor(&self, name: &str, value: &str, now: Millis) -> StoreResult<()>;

    // ---- outbox ----

    /// Leases up to `limit` due rows of the given channels until `now + lease`. A row is due
    /// when it is pending, its time has come, its contact is reachable, nobody holds a live
    /// lease on it, and no older row of its conversation is still waiting (per-conversation
    /// order). Rows come back oldest first.
    async fn claim_outbox(
        &self,
        channels: &[&'static str],
        now: Millis,
        lease: Duration,
        limit: i64,
    ) -> StoreResult<Vec<OutboxJob>>;
    /// As [`claim_outbox`](Self::claim_outbox), for one contact of one channel only: a process
    /// that speaks for one customer (`switchboard chat`) must never take another's rows.
    async fn claim_outbox_of_contact(
        &self,
        channel: &'static str,
        external_id: &str,
        now: Millis,
        lease: Duration,
        limit: i64,
    ) -> StoreResult<Vec<OutboxJob>>;
    /// Records what happened to claimed rows, in one transaction.
    async fn finish_outbox(&self, outcomes: &[(OutboxJob, DeliveryOutcome)], now: Millis) -> StoreResult<()>;
    async fn outbox_row(&self, id: i64) -> StoreResult<Option<OutboxRow>>;
    /// Pending rows of the given conversation, oldest first (tests, console).
    async fn outbox_of_conversation(&self, conversation_id: i64) -> StoreResult<Vec<OutboxRow>>;
    async fn pending_outbox(&self) -> StoreResult<i64>;
    /// Called once by `serve` before its outbox worker starts; returns how many leases it gave
    /// back. SQLite: one process owns the file, so a lease found at start was taken by a process
    /// that died (a crash between claiming rows and recording them); its rows go out again now
    /// instead of when the lease ends. PostgreSQL: live instances hold leases too, so nothing is
    /// released; a dead instance's rows go out once their lease ends.
    async fn release_abandoned_leases(&self) -> StoreResult<u64>;
    /// Wakes `wake` whenever another process queues outbox rows (PostgreSQL LISTEN). SQLite
    /// has no cross-process signal; workers fall back to polling there.
    async fn listen_for_outbox(&self, wake: Arc<tokio::sync::Notify>) -> StoreResult<()>;

    /// Tries once to make this process the leader of the long-poll source `name` (see
    /// [`Leadership`]); `None` while another process leads it.
    async fn try_lead(&self, name: &str) -> StoreResult<Option<Leadership>>;

    async fn close(&self);
}

/// One write transaction. Dropping it without [`WriteTx::commit`] rolls back.
#[async_trait::async_trait]
pub trait WriteTx: OrderTx + Send {
    /// Records events as processed. Returns, per key, whether it was new (`false`: a
    /// redelivery). Keys must be distinct.
    async fn record_events(&mut self, keys: &[EventKey], now: Millis) -> StoreResult<Vec<bool>>;
    /// [`WriteTx::set_cursor`] for each of `cursors` (name, position; of two positions of one
    /// name the later wins), then [`WriteTx::record_events`]: what a group commit starts
    /// with, in one round trip on PostgreSQL.
    async fn record_events_at(
        &mut self,
        keys: &[EventKey],
        cursors: &[(&str, &str)],
        now: Millis,
    ) -> StoreResult<Vec<bool>>;
    /// Creates contacts that do not exist yet (with `lang_if_new`), updates name and channel
    /// data when given, and returns every contact, in no particular order.
    async fn upsert_contacts(
        &mut self,
        contacts: &[ContactUpsert],
        now: Millis,
    ) -> StoreResult<Vec<ContactRow>>;
    /// Each contact's conversation, created at `initial_state` when missing. PostgreSQL locks
    /// the rows (`FOR UPDATE`, in id order) until commit.
    async fn load_conversations(
        &mut self,
        contact_ids: &[i64],
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<Vec<ConversationRow>>;
    /// [`WriteTx::upsert_contacts`], then [`WriteTx::load_conversations`] of those contacts:
    /// on PostgreSQL, contacts that have a conversation are read with it, locked, in one
    /// round trip, so only new contacts and changed ones cost more.
    async fn contacts_and_conversations(
        &mut self,
        contacts: &[ContactUpsert],
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<(Vec<ContactRow>, Vec<ConversationRow>)>;
    /// One conversation with its contact, locked like [`WriteTx::load_conversations`].
    async fn conversation_for_update(
        &mut self,
        conversation_id: i64,
    ) -> StoreResult<Option<(ConversationRow, ContactRow)>>;
    /// Writes new states. Each update names the version it was computed from; if any row has
    /// moved on, nothing is guaranteed and [`StoreError::Conflict`] is returned.
    async fn save_conversations(&mut self, updates: &[ConversationUpdate], now: Millis) -> StoreResult<()>;
    async fn append_messages(&mut self, messages: &[NewMessage]) -> StoreResult<()>;
    /// Saves a channel's long-poll position with the events read before it.
    async fn set_cursor(&mut self, name: &str, value: &str, now: Millis) -> StoreResult<()>;
    /// Queues outbox rows; returns their ids, which increase in slice order.
    async fn enqueue(&mut self, rows: &[NewOutbox]) -> StoreResult<Vec<i64>>;
    /// The ids of the pending (not yet sent or dead, leased or not) outbox rows of each of
    /// these conversations; conversations without any are left out.
    async fn pending_outbox(&mut self, conversation_ids: &[i64]) -> StoreResult<HashMap<i64, Vec<i64>>>;

    async fn queue_overview(&mut self) -> StoreResult<QueueOverview>;
    /// Queued tickets ahead of the conversation's open ticket; `None` without one.
    async fn tickets_ahead_of_conversation(&mut self, conversation_id: i64) -> StoreResult<Option<u32>>;
    /// The conversation's queued or assigned ticket.
    async fn open_ticket(&mut self, conversation_id: i64) -> StoreResult<Option<TicketRow>>;
    /// The queued or assigned ticket of each of these conversations that has one.
    async fn open_tickets(&mut self, conversation_ids: &[i64]) -> StoreResult<Vec<TicketRow>>;
    /// [`WriteTx::open_tickets`] of `conversation_ids` and [`WriteTx::pending_outbox`] of
    /// `pending_of`, in one round trip on PostgreSQL.
    async fn open_tickets_and_pending_outbox(
        &mut self,
        conversation_ids: &[i64],
        pending_of: &[i64],
    ) -> StoreResult<(Vec<TicketRow>, HashMap<i64, Vec<i64>>)>;
    async fn latest_resolved_ticket(&mut self, conversation_id: i64) -> StoreResult<Option<i64>>;
    /// A ticket, locked until commit on PostgreSQL.
    async fn ticket_for_update(&mut self, ticket_id: i64) -> StoreResult<Option<TicketRow>>;
    async fn insert_ticket(&mut self, ticket: &NewTicket) -> StoreResult<i64>;
    /// Inserts tickets in slice order; returns their ids in the same order.
    async fn insert_tickets(&mut self, tickets: &[NewTicket]) -> StoreResult<Vec<i64>> {
        let mut ids = Vec::with_capacity(tickets.len());
        for ticket in tickets {
            ids.push(self.insert_ticket(ticket).await?);
        }
        Ok(ids)
    }
    /// Adds photos to a ticket; a photo already attached is not added twice.
    async fn attach(&mut self, ticket_id: i64, media: &[MediaRef], now: Millis) -> StoreResult<()>;
    async fn update_ticket(&mut self, ticket_id: i64, change: &TicketChange, now: Millis) -> StoreResult<()>;
    /// Applies changes in slice order.
    async fn update_tickets(&mut self, changes: &[(i64, TicketChange)], now: Millis) -> StoreResult<()> {
        for (ticket_id, change) in changes {
            self.update_ticket(*ticket_id, change, now).await?;
        }
        Ok(())
    }
    async fn add_note(&mut self, ticket_id: i64, agent: &str, text: &str, now: Millis) -> StoreResult<i64>;
    /// Queued tickets created at or before `waiting_since` and not reminded after
    /// `reminded_before`, oldest first.
    async fn tickets_due_reminder(
        &mut self,
        waiting_since: Millis,
        reminded_before: Millis,
        limit: i64,
    ) -> StoreResult<Vec<TicketRow>>;

    async fn set_contact_language(
        &mut self,
        contact_id: i64,
        lang: Lang,
        chosen: bool,
        now: Millis,
    ) -> StoreResult<()>;
    async fn set_contact_reachable(
        &mut self,
        contact_id: i64,
        reachable: bool,
        now: Millis,
    ) -> StoreResult<()>;
    /// Erases the person `external_id` on `channel` (see `crate::privacy`): deletes their log,
    /// outbox rows, feedback, ticket photos and notes, anonymises their tickets and contact,
    /// and puts their conversation back at `initial_state` with a new version. `None`: no
    /// such contact. PostgreSQL locks the contact first, as the inbound path does.
    async fn erase_contact(
        &mut self,
        channel: &str,
        external_id: &str,
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<Option<ErasedContact>>;
    /// Puts up to `limit` conversations back at `initial_state` (with a new version) that have
    /// had nothing since `idle_before`: no state change, no message, and no open ticket. What
    /// a customer left half-way (a description, a caption, a question) goes with the old
    /// state. Returns how many were reset.
    async fn reset_idle_conversations(
        &mut self,
        idle_before: Millis,
        initial_state: &str,
        limit: i64,
        now: Millis,
    ) -> StoreResult<u64>;
    /// Records how FAQ answers fared, in one statement for the whole batch.
    async fn record_faq_outcomes(&mut self, outcomes: &[FaqOutcomeRow]) -> StoreResult<()>;
    /// A group commit's last writes, in this order: new tickets (with their photos), ticket
    /// changes, the message log, FAQ outcomes, outbox rows, new states. Returns the outbox
    /// rows' ids (see [`WriteTx::enqueue`]); a state whose version moved on is
    /// [`StoreError::Conflict`]. One round trip on PostgreSQL when no new ticket has photos
    /// and every ticket change is a withdrawal.
    async fn write_batch(&mut self, batch: &BatchWrites<'_>, now: Millis) -> StoreResult<Vec<i64>>;
    async fn record_feedback(
        &mut self,
        conversation_id: i64,
        text: &str,
        lang: Lang,
        now: Millis,
    ) -> StoreResult<()>;

    async fn commit(self: Box<Self>) -> StoreResult<()>;

    /// Database round trips so far (on SQLite, statements: nothing crosses a network), for
    /// the engine's timeline. `BEGIN` and, on a pooled PostgreSQL connection, the pool's
    /// check of the connection are counted from the start.
    fn round_trips(&self) -> u64;
    /// The round trips [`WriteTx::commit`] will add: `COMMIT`, and what giving the connection
    /// back costs.
    fn commit_round_trips(&self) -> u64;
}

// ---- write-side records ----

/// What [`WriteTx::write_batch`] writes.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchWrites<'a> {
    pub tickets: &'a [NewTicket],
    pub ticket_changes: &'a [(i64, TicketChange)],
    pub messages: &'a [NewMessage],
    pub faq_outcomes: &'a [FaqOutcomeRow],
    pub outbox: &'a [NewOutbox],
    /// Sorted by conversation id.
    pub states: &'a [ConversationUpdate],
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKey {
    pub channel: String,
    pub event_id: String,
}

#[derive(Debug, Clone)]
pub struct ContactUpsert {
    pub channel: String,
    pub external_id: String,
    /// The language a brand-new contact starts with; ignored for existing contacts.
    pub lang_if_new: Lang,
    pub display_name: Option<String>,
    pub contact_data: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactRow {
    pub id: i64,
    pub channel: String,
    pub external_id: String,
    pub lang: Lang,
    pub language_chosen: bool,
    pub reachable: bool,
    pub display_name: Option<String>,
    pub contact_data: Option<serde_json::Value>,
}

impl ContactRow {
    /// (channel, external id): how a contact is known on its platform.
    fn key(&self) -> (String, String) {
        (self.channel.clone(), self.external_id.clone())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub id: i64,
    pub contact_id: i64,
    /// The serialised `core::dialog::State`, as stored (may be unreadable after a bad edit).
    pub state: String,
    pub version: i64,
    /// Flood control's window (`core::flood`), kept with the conversation.
    pub flood: FloodWindow,
}

#[derive(Debug, Clone)]
pub struct ConversationUpdate {
    pub id: i64,
    pub state: String,
    /// The version the new state was computed from; the row becomes `expected_version + 1`.
    pub expected_version: i64,
    pub flood: FloodWindow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn code(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    Customer,
    Bot,
    Agent,
    /// Notes from Switchboard itself (for example a state that could not be read).
    System,
}

impl Author {
    pub fn code(self) -> &'static str {
        match self {
            Author::Customer => "customer",
            Author::Bot => "bot",
            Author::Agent => "agent",
            Author::System => "system",
        }
    }

    pub fn from_code(code: &str) -> Option<Author> {
        [Author::Customer, Author::Bot, Author::Agent, Author::System].into_iter().find(|a| a.code() == code)
    }
}

/// One row of the message log.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    pub conversation_id: i64,
    pub direction: Direction,
    pub author: Author,
    /// The agent's name for agent messages.
    pub agent: Option<String>,
    /// What a person reads: the customer's or agent's words; for bot replies the message key.
    pub text: Option<String>,
    /// The structured original (`Input` or `Reply`) as JSON text, so a transcript can be
    /// re-rendered. Text, not a `serde_json::Value`: it is serialised once, straight from the
    /// typed value, on the engine's hot path.
    pub body: Option<String>,
    pub attachments: Vec<MediaRef>,
    pub event_id: Option<String>,
    pub at: Millis,
}

#[derive(Debug, Clone)]
pub struct NewOutbox {
    pub conversation_id: i64,
    pub contact_id: i64,
    pub channel: String,
    pub payload: Outbound,
    pub lang: Lang,
    pub at: Millis,
    /// Set when the row goes straight to this process's worker (see `outbox::direct`): it is
    /// stored already claimed, so no other worker takes it while it is being delivered.
    pub lease_until: Option<Millis>,
}

#[derive(Debug, Clone)]
pub struct NewTicket {
    pub conversation_id: i64,
    pub contact_id: i64,
    pub draft: TicketDraft,
    pub status: TicketStatus,
    pub self_served: bool,
    pub lang: Lang,
    pub at: Millis,
}

/// The parts of a ticket the engine decides on.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRow {
    pub id: i64,
    pub conversation_id: i64,
    pub contact_id: i64,
    pub status: TicketStatus,
    pub assigned_agent: Option<String>,
    pub priority: Priority,
    pub created_at: Millis,
}

/// A change to one ticket; each sets the timestamps the dashboard reads.
#[derive(Debug, Clone, PartialEq)]
pub enum TicketChange {
    /// Claimed or transferred: status assigned, `first_assigned_at` kept from the first time.
    Assign {
        agent: String,
    },
    /// Back to the queue without an agent.
    Release,
    Resolve,
    Reopen {
        agent: String,
    },
    /// The customer no longer needs it: closed as resolved and marked withdrawn.
    Withdraw,
    Rate {
        stars: u8,
    },
    Comment {
        comment: String,
    },
    /// An agent wrote to the customer (sets `first_agent_reply_at` once).
    AgentReplied,
    /// The customer was told their queue position again.
    Reminded,
}

#[derive(Debug, Clone)]
pub struct FaqOutcomeRow {
    pub conversation_id: i64,
    pub intent: Intent,
    pub helped: bool,
    pub lang: Lang,
    pub at: Millis,
}

/// Which rows of a listing to read: `limit` rows after skipping `offset`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub offset: i64,
    pub limit: i64,
}

impl Page {
    /// Rows per page when a request names none.
    pub const DEFAULT_SIZE: i64 = 50;
    /// The most rows one request may ask for.
    pub const MAX_SIZE: i64 = 200;

    pub fn first(limit: i64) -> Page {
        Page { offset: 0, limit }
    }

    /// Page `number` (from 0) of `size` rows, both clamped to what a request may ask.
    pub fn numbered(number: i64, size: i64) -> Page {
        let limit = size.clamp(1, Page::MAX_SIZE);
        Page { offset: number.clamp(0, 1_000_000).saturating_mul(limit), limit }
    }

    pub fn next(self) -> Page {
        Page { offset: self.offset.saturating_add(self.limit), limit: self.limit }
    }
}

/// Queue figures, read once per batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueOverview {
    pub queued_high: u32,
    pub queued_normal: u32,
    pub queued_low: u32,
    /// Recent waits from creation to first claim, in seconds, newest first.
    pub recent_waits_secs: Vec<i64>,
    /// Agents currently holding a ticket (at least an indication of who is on duty).
    pub agents_on_duty: u32,
}

impl QueueOverview {
    /// Tickets a new ticket of `priority` would wait behind.
    pub fn ahead_of_new(&self, priority: Priority) -> u32 {
        match priority {
            Priority::High => self.queued_high,
            Priority::Normal => self.queued_high + self.queued_normal,
            Priority::Low => self.queued_high + self.queued_normal + self.queued_low,
        }
    }

    /// A ticket of `priority` joined the queue (`true`) or left it.
    pub fn count(&mut self, priority: Priority, joined: bool) {
        let counter = match priority {
            Priority::High => &mut self.queued_high,
            Priority::Normal => &mut self.queued_normal,
            Priority::Low => &mut self.queued_low,
        };
        *counter = if joined { counter.saturating_add(1) } else { counter.saturating_sub(1) };
    }

    pub fn expected_wait_minutes(&self, ahead: u32) -> Option<u32> {
        crate::core::handoff::expected_wait_minutes(&self.recent_waits_secs, ahead, self.agents_on_duty)
    }
}

// ---- outbox records ----

/// A claimed outbox row with what delivery needs.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxJob {
    pub id: i64,
    pub conversation_id: i64,
    pub contact_id: i64,
    pub channel: String,
    pub external_id: String,
    pub contact_data: Option<serde_json::Value>,
    pub lang: Lang,
    pub payload: Outbound,
    pub attempts: i64,
}

/// The rows one outbox claim takes (see [`Store::claim_outbox`]): the due rows of `channels`,
/// only those of the contact `recipient` when there is one, at most `limit`, leased `until`.
#[derive(Debug, Clone, Copy)]
struct OutboxClaim<'a> {
    channels: &'a [&'static str],
    recipient: Option<&'a str>,
    now: Millis,
    until: Millis,
    limit: i64,
}

impl<'a> OutboxClaim<'a> {
    fn new(
        channels: &'a [&'static str],
        recipient: Option<&'a str>,
        now: Millis,
        lease: Duration,
        limit: i64,
    ) -> OutboxClaim<'a> {
        OutboxClaim { channels, recipient, now, until: now.saturating_add(duration_millis(lease)), limit }
    }

    /// The backend's statement that reads the due rows, with the claim's parameters: `every`
    /// reads those of all the channels' contacts, `of_recipient` those of the recipient (`$4`);
    /// `channels` is the channel list as the backend passes a list (`$1`).
    fn due_rows<'t, DB: sqlx::Database>(
        &self,
        every: &'static str,
        of_recipient: &'static str,
        channels: impl sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    ) -> sqlx::query::Query<'static, DB, DB::Arguments>
    where
        i64: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
        &'a str: sqlx::Encode<'t, DB> + sqlx::Type<DB>,
    {
        let statement = if self.recipient.is_some() { of_recipient } else { every };
        let query = sqlx::query(statement).bind(channels).bind(self.now).bind(self.limit);
        match self.recipient {
            Some(external_id) => query.bind(external_id),
            None => query,
        }
    }
}

/// What happened to one claimed row.
#[derive(Debug, Clone, PartialEq)]
pub enum DeliveryOutcome {
    Sent,
    /// Try again at `at`. `count_attempt` is false when the platform asked us to wait
    /// (rate limit): that is not the row's fault.
    Retry {
        at: Millis,
        count_attempt: bool,
        error: String,
    },
    /// Give up; with `unreachable`, also stop sending to the contact until they are back.
    Dead {
        error: String,
        unreachable: bool,
    },
    /// Not attempted (an earlier row of its conversation failed): give the lease back.
    Released,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboxStatus {
    Pending,
    Sent,
    Dead,
}

impl OutboxStatus {
    pub fn from_code(code: &str) -> Option<OutboxStatus> {
        match code {
            "pending" => Some(OutboxStatus::Pending),
            "sent" => Some(OutboxStatus::Sent),
            "dead" => Some(OutboxStatus::Dead),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxRow {
    pub id: i64,
    pub conversation_id: i64,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: Millis,
    pub lease_until: Option<Millis>,
    pub last_error: Option<String>,
    pub payload: Outbound,
}

// ---- read models (the tickets CLI JSON) ----

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketSummary {
    pub id: i64,
    pub conversation_id: i64,
    pub status: TicketStatus,
    pub issue_type: String,
    pub order_id: Option<String>,
    pub priority: Priority,
    pub language: Lang,
    pub channel: String,
    pub external_id: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub attachments: Vec<MediaRef>,
    pub rating: Option<u8>,
    pub comment: Option<String>,
    pub self_served: bool,
    pub withdrawn: bool,
    pub assigned_agent: Option<String>,
    pub last_customer_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub first_assigned_at: Option<DateTime<Utc>>,
    pub first_agent_reply_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: TicketSummary,
    pub messages: Vec<TranscriptEntry>,
    pub notes: Vec<Note>,
    /// The order as it was looked up for this ticket's conversation (with an order source).
    pub order: Option<crate::core::order::Order>,
    /// The store's customer the contact is linked to, with every contact of theirs.
    pub customer: Option<LinkedCustomer>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptEntry {
    pub id: i64,
    pub direction: Direction,
    pub author: Author,
    pub agent: Option<String>,
    /// What the customer read (or wrote).
    pub text: Option<String>,
    /// An agent's reply as the agent wrote it, when `text` is its translation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original: Option<AgentOriginal>,
    pub attachments: Vec<MediaRef>,
    pub at: DateTime<Utc>,
}

/// An agent's words in the language they wrote them, kept beside the translation the customer
/// got (the log row's `text`), in the row's structured body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct AgentOriginal {
    pub lang: Lang,
    pub text: String,
}

impl AgentOriginal {
    /// The structured body of an agent's log row that carries its original.
    pub fn body(&self) -> String {
        serde_json::json!({ "original": self }).to_string()
    }

    /// The original in an agent row's body, if it has one.
    pub fn of_body(body: Option<&str>) -> Option<AgentOriginal> {
        #[derive(serde::Deserialize)]
        struct Body {
            original: AgentOriginal,
        }
        serde_json::from_str::<Body>(body?).ok().map(|body| body.original)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Note {
    pub id: i64,
    pub agent: String,
    pub text: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub id: i64,
    pub conversation_id: i64,
    pub channel: String,
    pub external_id: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

// ---- helpers shared by both backends ----

/// The changes of one ticket batch, split into withdrawals (one statement for all of them) and
/// the rest (one statement each), or `None` when a ticket is both withdrawn and otherwise
/// changed, or withdrawn twice: then their order matters and everything goes one by one.
fn split_withdrawals(changes: &[(i64, TicketChange)]) -> Option<SplitChanges<'_>> {
    let withdrawn: HashSet<i64> =
        changes.iter().filter(|(_, change)| *change == TicketChange::Withdraw).map(|(id, _)| *id).collect();
    let others: Vec<&(i64, TicketChange)> =
        changes.iter().filter(|(_, change)| *change != TicketChange::Withdraw).collect();
    let withdrawals = changes.len() - others.len();
    if withdrawn.len() != withdrawals || others.iter().any(|(id, _)| withdrawn.contains(id)) {
        return None;
    }
    let mut withdrawn: Vec<i64> = withdrawn.into_iter().collect();
    withdrawn.sort_unstable();
    Some(SplitChanges { withdrawn, others })
}

/// What [`split_withdrawals`] returns.
struct SplitChanges<'a> {
    /// Tickets to withdraw, ascending.
    withdrawn: Vec<i64>,
    /// Every other change, in order.
    others: Vec<&'a (i64, TicketChange)>,
}

/// Of the contacts a batch names, those to write: new ones, and known ones whose name or data
/// changed. Most events come from contacts we know, and rewriting their rows every batch would
/// cost writes (WAL, and on PostgreSQL a new row version) for nothing. `known` is keyed by
/// (channel, external id).
fn contacts_to_write<'a>(
    contacts: &'a [ContactUpsert],
    known: &HashMap<(String, String), ContactRow>,
) -> Vec<&'a ContactUpsert> {
    contacts
        .iter()
        .filter(|contact| match known.get(&(contact.channel.clone(), contact.external_id.clone())) {
            None => true,
            Some(row) => {
                contact.display_name.as_ref().is_some_and(|name| row.display_name.as_ref() != Some(name))
                    || contact
                        .contact_data
                        .as_ref()
                        .is_some_and(|data| row.contact_data.as_ref() != Some(data))
            }
        })
        .collect()
}

/// The ids a batch insert of tickets returned, in the order of the batch: each row took the
/// next id as it went in, in batch order, so ascending ids are batch order whatever order
/// RETURNING used. A batch that lost rows is an error.
fn ticket_ids_in_slice_order(mut ids: Vec<i64>, expected: usize) -> StoreResult<Vec<i64>> {
    ids.sort_unstable();
    if ids.len() != expected {
        return Err(StoreError::Corrupt(format!("inserted {} of {expected} tickets", ids.len())));
    }
    Ok(ids)
}

/// `(conversation, row id)` pairs grouped by conversation.
fn group_ids(pairs: Vec<(i64, i64)>) -> HashMap<i64, Vec<i64>> {
    let mut grouped: HashMap<i64, Vec<i64>> = HashMap::new();
    for (conversation, id) in pairs {
        grouped.entry(conversation).or_default().push(id);
    }
    grouped
}

/// Whether `applied` (the versions recorded as successful) covers every migration of `migrator`.
fn all_applied(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> bool {
    migrator.iter().all(|migration| applied.contains(&migration.version))
}

fn parse_lang(code: &str) -> StoreResult<Lang> {
    Lang::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("unknown language {code:?}")))
}

fn parse_status(code: &str) -> StoreResult<TicketStatus> {
    TicketStatus::from_code(code)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown ticket status {code:?}")))
}

fn parse_priority(code: &str) -> StoreResult<Priority> {
    Priority::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("unknown priority {code:?}")))
}

fn parse_outbox_status(code: &str) -> StoreResult<OutboxStatus> {
    OutboxStatus::from_code(code)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown outbox status {code:?}")))
}

fn parse_author(code: &str) -> StoreResult<Author> {
    Author::from_code(code).ok_or_else(|| StoreError::Corrupt(format!("unknown author {code:?}")))
}

fn parse_direction(code: &str) -> StoreResult<Direction> {
    match code {
        "in" => Ok(Direction::In),
        "out" => Ok(Direction::Out),
        other => Err(StoreError::Corrupt(format!("unknown direction {other:?}"))),
    }
}

fn priority_rank(priority: Priority) -> i64 {
    match priority {
        Priority::High => 1,
        Priority::Normal => 0,
        Priority::Low => -1,
    }
}

fn parse_attachments(json: &str) -> StoreResult<Vec<MediaRef>> {
    serde_json::from_str(json).map_err(|error| StoreError::Corrupt(format!("attachments: {error}")))
}

fn parse_payload(json: &str) -> StoreResult<Outbound> {
    serde_json::from_str(json).map_err(|error| StoreError::Corrupt(format!("outbox payload: {error}")))
}

fn count_u32(count: i64) -> u32 {
    u32::try_from(count.max(0)).unwrap_or(u32::MAX)
}

fn rating_u8(rating: Option<i64>) -> Option<u8> {
    rating.and_then(|stars| u8::try_from(stars).ok())
}

/// Languages as the store keeps them: comma-separated codes (`ru,zh`).
pub(crate) fn language_codes(languages: &[crate::core::message::Lang]) -> String {
    languages.iter().map(|lang| lang.code()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A store on a fresh SQLite file in a temporary folder (kept while the folder lives).
    pub(crate) async fn fresh_sqlite() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = connect(&url, &ConnectOptions::default()).await.unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn a_server_secret_is_made_once_and_kept() {
        let (_dir, store) = fresh_sqlite().await;
        let first = store.server_secret("webchat", "one", 1).await.unwrap();
        let second = store.server_secret("webchat", "two", 2).await.unwrap();
        assert_eq!(first, "one");
        assert_eq!(second, "one");
    }
}
