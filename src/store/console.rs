//! What the agent console and the web chat read beyond tickets: the message log with the
//! bot's replies kept structured, pages "after id N" for live updates, a change marker for the
//! queue, dashboard figures and canned replies.

use super::{Author, Millis, NewMessage, StoreResult};
use crate::core::message::{Lang, Reply};
use serde::Serialize;
use std::collections::HashMap;

/// One message of a conversation's log: the message as it was appended
/// ([`super::WriteTx::append_messages`]), with its structured original kept, so a bot reply
/// can be shown as the customer saw it, in their language.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub id: i64,
    pub message: NewMessage,
}

impl LogEntry {
    /// The bot's reply as it was sent, if this is one whose body still reads as a `Reply`
    /// (otherwise it is shown by its text alone).
    pub fn reply(&self) -> Option<Reply> {
        match (self.message.author, &self.message.body) {
            (Author::Bot, Some(body)) => serde_json::from_str(body).ok(),
            _ => None,
        }
    }
}

/// A contact's language and the page of their log that was asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactLog {
    /// `None`: no such contact (and then no messages).
    pub lang: Option<Lang>,
    pub messages: Vec<LogEntry>,
}

/// A canned reply: a ready answer in one language that agents paste and adapt.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct CannedReply {
    pub id: i64,
    pub lang: String,
    pub title: String,
    pub body: String,
    /// The set of versions (one per language) this reply belongs to: its first version's id.
    pub set_id: i64,
}

/// Everything that changes what the queue page shows, cheap to read every few seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, sqlx::FromRow)]
pub struct ChangeMarker {
    pub last_message: i64,
    pub last_ticket_update: i64,
    /// The newest ticket's id.
    pub last_ticket: i64,
}

/// The ticket columns the dashboard reads.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct TicketTimes {
    pub created_at: Millis,
    pub first_agent_reply_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub rating: Option<i64>,
    pub self_served: bool,
    pub withdrawn: bool,
}

/// A customer's answer to "Did this help?" after an FAQ answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct FaqVerdict {
    #[sqlx(rename = "created_at")]
    pub at: Millis,
    pub helped: bool,
}

/// The console's and the web chat's reads, and the canned replies agents edit.
#[async_trait::async_trait]
pub trait ConsoleStore: Send + Sync {
    /// A conversation's messages with an id above `after`, oldest first.
    async fn log_after(&self, conversation_id: i64, after: i64, limit: i64) -> StoreResult<Vec<LogEntry>>;
    /// The contact's language and their messages with an id above `after`, oldest first,
    /// without system notes.
    async fn contact_log_after(
        &self,
        channel: &str,
        external_id: &str,
        after: i64,
        limit: i64,
    ) -> StoreResult<ContactLog>;
    /// The contact's latest bot message, so a returning customer sees where they stopped.
    async fn last_bot_message(&self, channel: &str, external_id: &str) -> StoreResult<Option<LogEntry>>;
    /// Whether any ticket carries the image, or any message does (agents may see every photo).
    async fn media_is_known(&self, sha256: &str) -> StoreResult<bool>;
    /// Whether a message of this contact's conversation carries the image.
    async fn contact_has_media(&self, channel: &str, external_id: &str, sha256: &str) -> StoreResult<bool>;
    /// `status|assignee` of a ticket, for the live ticket page to notice claims and resolves.
    async fn ticket_status(&self, ticket_id: i64) -> StoreResult<Option<String>>;
    async fn change_marker(&self) -> StoreResult<ChangeMarker>;
    /// Ticket timings created at or after `since`, for the dashboard.
    async fn ticket_times(&self, since: Millis) -> StoreResult<Vec<TicketTimes>>;
    /// The customers' verdicts on FAQ answers since `since`, oldest first.
    async fn faq_verdicts(&self, since: Millis) -> StoreResult<Vec<FaqVerdict>>;

    /// One language's canned replies by title, or every language's (sets together).
    async fn canned_replies(&self, lang: Option<Lang>) -> StoreResult<Vec<CannedReply>>;
    /// A new canned reply, a version of the set `set` or (with `None`) a set of its own.
    /// `None` back when the set does not exist.
    async fn create_canned_reply(
        &self,
        lang: Lang,
        title: &str,
        body: &str,
        set: Option<i64>,
        now: Millis,
    ) -> StoreResult<Option<i64>>;
    /// `false` when there is no such reply.
    async fn update_canned_reply(
        &self,
        id: i64,
        lang: Lang,
        title: &str,
        body: &str,
        now: Millis,
    ) -> StoreResult<bool>;
    /// `false` when there is no such reply.
    async fn delete_canned_reply(&self, id: i64) -> StoreResult<bool>;

    /// The stored machine translations into `lang` of a conversation's messages, by message id.
    async fn translations(&self, conversation_id: i64, lang: Lang) -> StoreResult<HashMap<i64, String>>;
    /// Keeps the translation of a message into `lang`. `false` when the message is gone (erased
    /// since it was read) or a translation was kept already: a message is translated once.
    async fn save_translation(
        &self,
        message_id: i64,
        lang: Lang,
        text: &str,
        provider: &str,
        now: Millis,
    ) -> StoreResult<bool>;
}
