//! The statements behind retention and erasure (`crate::privacy` says what each deletes,
//! keeps or anonymises, and why). Retention deletes rows no conversation state depends on, so
//! it runs here directly, in small batches; erasure, and retention's reset of idle
//! conversations, change conversations and therefore run inside one of the engine's write
//! transactions ([`super::WriteTx::erase_contact`], [`super::WriteTx::reset_idle_conversations`]).
//! Afterwards [`PrivacyStore::flush_deletions`] makes sure the deleted text is gone from the
//! database's files too.

use super::{Millis, StoreResult};
use serde::Serialize;

/// What retention deletes or clears once it is older than its cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expired {
    /// Message-log rows, except in conversations with an open ticket.
    Messages,
    /// Outbox rows that were sent or dead-lettered (never pending ones).
    DeliveredOutbox,
    /// Processed-event (dedupe) rows.
    ProcessedEvents,
    /// Agents' notes on tickets resolved before the cutoff.
    TicketNotes,
    /// Feedback (reviews) left before the cutoff.
    Feedback,
    /// Order lookups answered before the cutoff (numbers, verifiers, the orders found).
    OrderLookups,
    /// The customer's words on tickets resolved before the cutoff: description, order number
    /// and rating comment are cleared; the ticket row stays for the dashboard (one row per
    /// ticket cleared).
    ClosedTicketTexts,
    /// Display names of contacts with nothing since the cutoff: no message, no conversation
    /// change, no ticket open or resolved since (one row per name cleared).
    IdleContactNames,
}

/// What [`super::WriteTx::erase_contact`] removed, and the photo references around it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErasedContact {
    /// The contact row that remains, anonymised (its platform id is now `erased:<id>`).
    pub contact_id: i64,
    pub rows: ErasureCounts,
    /// The person's attachment lists and outbox payloads (JSON), read before the deletes.
    pub their_documents: Vec<String>,
    /// The photos attached to the person's tickets (SHA-256 names), read before the deletes.
    pub their_ticket_photos: Vec<String>,
    /// Every photo reference left once the erasure commits (see
    /// [`PrivacyStore::referenced_media`]), read inside the same transaction.
    pub remaining: Vec<String>,
}

/// How many rows an erasure deleted or anonymised, by kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ErasureCounts {
    pub messages: u64,
    pub outbox_rows: u64,
    pub feedback: u64,
    pub ticket_attachments: u64,
    pub ticket_notes: u64,
    /// Dedupe rows of the person's events (the ids of their messages, and web chat ids, which
    /// start with the visitor's id).
    pub processed_events: u64,
    pub tickets_anonymised: u64,
    /// Open tickets closed as withdrawn (part of `tickets_anonymised`).
    pub tickets_closed: u64,
    /// Order lookups the person asked for (numbers, verifiers, the orders found).
    pub order_lookups: u64,
}

/// Retention's deletes and the photo references they leave.
#[async_trait::async_trait]
pub trait PrivacyStore: Send + Sync {
    /// Deletes (or clears) up to `limit` rows of the kind that aged out before `cutoff`, in a
    /// transaction of their own; returns how many rows went or were cleared.
    async fn delete_expired(&self, kind: Expired, cutoff: Millis, limit: i64) -> StoreResult<u64>;
    /// Makes what retention or erasure deleted unreadable in the database's files. SQLite
    /// overwrites deleted content with zeros as it deletes (`secure_delete`, set on every
    /// connection), but older copies of the pages stay in the write-ahead log: this copies the
    /// log into the database and truncates it. `false` when the log could not be truncated now
    /// (another process kept reading it); the next run tries again. PostgreSQL: nothing here
    /// (its dead rows are reclaimed by vacuum).
    async fn flush_deletions(&self) -> StoreResult<bool>;
    /// Every photo the database still refers to: message attachment lists and outbox payloads
    /// (JSON documents) and ticket photos (bare SHA-256 names), one per row.
    async fn referenced_media(&self) -> StoreResult<Vec<String>>;
}
