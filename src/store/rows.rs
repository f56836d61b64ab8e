//! Reading rows into domain records, once for both backends. sqlx reads what it can: a single
//! column (`sqlx::query_scalar`), and a record whose columns are its fields as both backends
//! hand them over, numbers, text and flags (it derives `sqlx::FromRow` and is read with
//! `sqlx::query_as`). A record with a JSON column (TEXT on SQLite, JSONB on PostgreSQL), a
//! stored code or a time to convert has its mapping here, over [`RowExt`], which each backend
//! implements, and is read through [`ReadRows`]. (SQLite's batch reads on the write path are
//! the one exception: they fold their rows into one JSON array, which `sqlite.rs` decodes
//! straight into tuples, to cross sqlx's worker thread once.)

use super::{
    Agent, ContactRow, ConversationRow, DeadLetter, LogEntry, NewMessage, Note, OutboxJob, OutboxRow, Role,
    SessionRow, StoreError, StoreResult, TicketRow, TicketSummary, TranscriptEntry, parse_attachments,
    parse_author, parse_direction, parse_lang, parse_outbox_status, parse_payload, parse_priority,
    parse_status, rating_u8, to_datetime,
};
use crate::core::flood::FloodWindow;
use crate::core::message::{Lang, MediaRef};
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use sqlx::{ColumnIndex, Decode, Row, Type};

/// Typed column access with the store's error type. JSON columns come back as text whatever
/// the backend stores them as (TEXT on SQLite, JSONB on PostgreSQL).
pub(super) trait RowExt {
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn flag(&self, column: &str) -> StoreResult<bool>;
    fn opt_json_text(&self, column: &str) -> StoreResult<Option<String>>;

    fn json_text(&self, column: &str) -> StoreResult<String> {
        self.opt_json_text(column)?.ok_or_else(|| StoreError::Corrupt(format!("{column} is NULL")))
    }
}

/// Reading fetched rows through a mapping of this module, as many as were fetched:
/// `.fetch_all(..).await?.read(rows::ticket)` gives every ticket, `.fetch_optional(..)` the one
/// if there is one.
pub(super) trait ReadRows<R> {
    type Records<T>;
    fn read<T>(self, read: impl Fn(&R) -> StoreResult<T>) -> StoreResult<Self::Records<T>>;
}

impl<R> ReadRows<R> for Vec<R> {
    type Records<T> = Vec<T>;
    fn read<T>(self, read: impl Fn(&R) -> StoreResult<T>) -> StoreResult<Vec<T>> {
        self.iter().map(read).collect()
    }
}

impl<R> ReadRows<R> for Option<R> {
    type Records<T> = Option<T>;
    fn read<T>(self, read: impl Fn(&R) -> StoreResult<T>) -> StoreResult<Option<T>> {
        self.as_ref().map(read).transpose()
    }
}

/// The one column kind the backends hand over differently: JSON.
pub(super) trait JsonColumn {
    fn opt_json_text(&self, column: &str) -> StoreResult<Option<String>>;
}

impl JsonColumn for SqliteRow {
    /// Stored as TEXT.
    fn opt_json_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }
}

impl JsonColumn for PgRow {
    /// Stored as JSONB.
    fn opt_json_text(&self, column: &str) -> StoreResult<Option<String>> {
        let value: Option<serde_json::Value> = self.try_get(column)?;
        Ok(value.map(|value| value.to_string()))
    }
}

impl<R> RowExt for R
where
    R: Row + JsonColumn,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
{
    fn int(&self, column: &str) -> StoreResult<i64> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }
    fn text(&self, column: &str) -> StoreResult<String> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        Ok(self.try_get(column)?)
    }
    fn flag(&self, column: &str) -> StoreResult<bool> {
        Ok(self.try_get(column)?)
    }
    fn opt_json_text(&self, column: &str) -> StoreResult<Option<String>> {
        JsonColumn::opt_json_text(self, column)
    }
}

/// Columns: id, channel, external_id, lang, language_chosen, reachable, display_name, contact_data.
pub(super) fn contact(row: &impl RowExt) -> StoreResult<ContactRow> {
    Ok(ContactRow {
        id: row.int("id")?,
        channel: row.text("channel")?,
        external_id: row.text("external_id")?,
        lang: parse_lang(&row.text("lang")?)?,
        language_chosen: row.flag("language_chosen")?,
        reachable: row.flag("reachable")?,
        display_name: row.opt_text("display_name")?,
        contact_data: contact_data(row)?,
    })
}

/// The channel's data about a contact (the `contact_data` column), if it has any.
fn contact_data(row: &impl RowExt) -> StoreResult<Option<serde_json::Value>> {
    Ok(row.opt_json_text("contact_data")?.map(|text| serde_json::from_str(&text)).transpose()?)
}

/// Columns: id, contact_id, state, version, flood_opened_at, flood_count.
pub(super) fn conversation(row: &impl RowExt) -> StoreResult<ConversationRow> {
    Ok(ConversationRow {
        id: row.int("id")?,
        contact_id: row.int("contact_id")?,
        state: row.json_text("state")?,
        version: row.int("version")?,
        flood: flood_window(row)?,
    })
}

/// A contact's columns (see [`contact`]) with its conversation's: conversation_id, state,
/// version, flood_opened_at, flood_count.
pub(super) fn contact_with_conversation(row: &impl RowExt) -> StoreResult<(ContactRow, ConversationRow)> {
    let contact = contact(row)?;
    let conversation = ConversationRow {
        id: row.int("conversation_id")?,
        contact_id: contact.id,
        state: row.json_text("state")?,
        version: row.int("version")?,
        flood: flood_window(row)?,
    };
    Ok((contact, conversation))
}

fn flood_window(row: &impl RowExt) -> StoreResult<FloodWindow> {
    Ok(FloodWindow {
        opened_at: row.int("flood_opened_at")?,
        count: u32::try_from(row.int("flood_count")?.max(0)).unwrap_or(u32::MAX),
    })
}

/// Columns: id, conversation_id, contact_id, status, assigned_agent, priority, created_at.
pub(super) fn ticket(row: &impl RowExt) -> StoreResult<TicketRow> {
    Ok(TicketRow {
        id: row.int("id")?,
        conversation_id: row.int("conversation_id")?,
        contact_id: row.int("contact_id")?,
        status: parse_status(&row.text("status")?)?,
        assigned_agent: row.opt_text("assigned_agent")?,
        priority: parse_priority(&row.text("priority")?)?,
        created_at: row.int("created_at")?,
    })
}

/// Columns of [`super::sql::TICKET_SUMMARY_SELECT`]; attachments are filled in afterwards.
pub(super) fn ticket_summary(row: &impl RowExt) -> StoreResult<TicketSummary> {
    Ok(TicketSummary {
        id: row.int("id")?,
        conversation_id: row.int("conversation_id")?,
        status: parse_status(&row.text("status")?)?,
        issue_type: row.text("issue_type")?,
        order_id: row.opt_text("order_id")?,
        priority: parse_priority(&row.text("priority")?)?,
        language: parse_lang(&row.text("lang")?)?,
        channel: row.text("channel")?,
        external_id: row.text("external_id")?,
        display_name: row.opt_text("display_name")?,
        description: row.opt_text("description")?,
        attachments: Vec::new(),
        rating: rating_u8(row.opt_int("rating")?),
        comment: row.opt_text("comment")?,
        self_served: row.flag("self_served")?,
        withdrawn: row.flag("withdrawn")?,
        assigned_agent: row.opt_text("assigned_agent")?,
        last_customer_message: row.opt_text("last_customer_message")?,
        created_at: to_datetime(row.int("created_at")?),
        first_assigned_at: row.opt_int("first_assigned_at")?.map(to_datetime),
        first_agent_reply_at: row.opt_int("first_agent_reply_at")?.map(to_datetime),
        resolved_at: row.opt_int("resolved_at")?.map(to_datetime),
    })
}

/// Columns: ticket_id and those of [`media`].
pub(super) fn attachment(row: &impl RowExt) -> StoreResult<(i64, MediaRef)> {
    Ok((row.int("ticket_id")?, media(row)?))
}

/// Columns: sha256, content_type, bytes.
pub(super) fn media(row: &impl RowExt) -> StoreResult<MediaRef> {
    Ok(MediaRef {
        sha256: row.text("sha256")?,
        content_type: row.text("content_type")?,
        bytes: u64::try_from(row.int("bytes")?).unwrap_or_default(),
    })
}

/// Columns: id, direction, author, agent, text, attachments, created_at.
pub(super) fn transcript_entry(row: &impl RowExt) -> StoreResult<TranscriptEntry> {
    Ok(TranscriptEntry {
        id: row.int("id")?,
        direction: parse_direction(&row.text("direction")?)?,
        author: parse_author(&row.text("author")?)?,
        agent: row.opt_text("agent")?,
        text: row.opt_text("text")?,
        original: super::AgentOriginal::of_body(row.opt_json_text("body")?.as_deref()),
        attachments: parse_attachments(&row.json_text("attachments")?)?,
        at: to_datetime(row.int("created_at")?),
    })
}

/// Columns: id, agent, text, created_at.
pub(super) fn note(row: &impl RowExt) -> StoreResult<Note> {
    Ok(Note {
        id: row.int("id")?,
        agent: row.text("agent")?,
        text: row.text("text")?,
        at: to_datetime(row.int("created_at")?),
    })
}

/// Columns: id, conversation_id, contact_id, channel, external_id, contact_data, lang, payload,
/// attempts.
pub(super) fn outbox_job(row: &impl RowExt) -> StoreResult<OutboxJob> {
    Ok(OutboxJob {
        id: row.int("id")?,
        conversation_id: row.int("conversation_id")?,
        contact_id: row.int("contact_id")?,
        channel: row.text("channel")?,
        external_id: row.text("external_id")?,
        contact_data: contact_data(row)?,
        lang: parse_lang(&row.text("lang")?)?,
        payload: parse_payload(&row.json_text("payload")?)?,
        attempts: row.int("attempts")?,
    })
}

/// Columns: id, conversation_id, status, attempts, next_attempt_at, lease_until, last_error, payload.
pub(super) fn outbox_row(row: &impl RowExt) -> StoreResult<OutboxRow> {
    Ok(OutboxRow {
        id: row.int("id")?,
        conversation_id: row.int("conversation_id")?,
        status: parse_outbox_status(&row.text("status")?)?,
        attempts: row.int("attempts")?,
        next_attempt_at: row.int("next_attempt_at")?,
        lease_until: row.opt_int("lease_until")?,
        last_error: row.opt_text("last_error")?,
        payload: parse_payload(&row.json_text("payload")?)?,
    })
}

/// Columns: id, conversation_id, channel, external_id, attempts, last_error, created_at.
pub(super) fn dead_letter(row: &impl RowExt) -> StoreResult<DeadLetter> {
    Ok(DeadLetter {
        id: row.int("id")?,
        conversation_id: row.int("conversation_id")?,
        channel: row.text("channel")?,
        external_id: row.text("external_id")?,
        attempts: row.int("attempts")?,
        last_error: row.opt_text("last_error")?,
        created_at: to_datetime(row.int("created_at")?),
    })
}

/// Puts attachments (ticket id, media) on their tickets, keeping attachment order.
pub(super) fn attach_to_summaries(tickets: &mut [TicketSummary], attachments: Vec<(i64, MediaRef)>) {
    let mut by_ticket: std::collections::HashMap<i64, Vec<MediaRef>> = std::collections::HashMap::new();
    for (ticket_id, media) in attachments {
        by_ticket.entry(ticket_id).or_default().push(media);
    }
    for ticket in tickets {
        if let Some(media) = by_ticket.remove(&ticket.id) {
            ticket.attachments = media;
        }
    }
}

/// Keeps the newest (highest id) ticket of each conversation, as `sql::OPEN_TICKET` does for one.
pub(super) fn newest_per_conversation(tickets: Vec<TicketRow>) -> Vec<TicketRow> {
    let mut newest: std::collections::HashMap<i64, TicketRow> = std::collections::HashMap::new();
    for ticket in tickets {
        match newest.get(&ticket.conversation_id) {
            Some(kept) if kept.id > ticket.id => {}
            _ => {
                newest.insert(ticket.conversation_id, ticket);
            }
        }
    }
    newest.into_values().collect()
}

/// Columns: id, name, role, disabled, must_change_password, display_name, photo_sha256,
/// console_lang, languages.
pub(super) fn agent(row: &impl RowExt) -> StoreResult<Agent> {
    let role = row.text("role")?;
    Ok(Agent {
        id: row.int("id")?,
        name: row.text("name")?,
        role: Role::from_code(&role).ok_or_else(|| StoreError::Corrupt(format!("unknown role {role:?}")))?,
        disabled: row.flag("disabled")?,
        must_change_password: row.flag("must_change_password")?,
        display_name: row.opt_text("display_name")?,
        photo_sha256: row.opt_text("photo_sha256")?,
        // A code this build does not know (a newer version wrote it) is skipped, not an error.
        console_lang: row.opt_text("console_lang")?.as_deref().and_then(Lang::from_code),
        languages: row.text("languages")?.split(',').filter_map(Lang::from_code).collect(),
    })
}

/// An [`agent`]'s columns and password_hash.
pub(super) fn agent_with_password_hash(row: &impl RowExt) -> StoreResult<(Agent, String)> {
    Ok((agent(row)?, row.text("password_hash")?))
}

/// An [`agent`]'s columns and the session's csrf_token.
pub(super) fn session(row: &impl RowExt) -> StoreResult<SessionRow> {
    Ok(SessionRow { agent: agent(row)?, csrf: row.text("csrf_token")? })
}

/// Columns: id, conversation_id, direction, author, agent, text, body, attachments, event_id,
/// created_at.
pub(super) fn log_entry(row: &impl RowExt) -> StoreResult<LogEntry> {
    Ok(LogEntry {
        id: row.int("id")?,
        message: NewMessage {
            conversation_id: row.int("conversation_id")?,
            direction: parse_direction(&row.text("direction")?)?,
            author: parse_author(&row.text("author")?)?,
            agent: row.opt_text("agent")?,
            text: row.opt_text("text")?,
            body: row.opt_json_text("body")?,
            attachments: parse_attachments(&row.json_text("attachments")?)?,
            event_id: row.opt_text("event_id")?,
            at: row.int("created_at")?,
        },
    })
}
