//! The embedded backend: one SQLite file in WAL mode.
//!
//! Batch writes pass their rows as one JSON array and expand it with `json_each`, so every
//! statement text is static (prepared once, cached by sqlx) whatever the batch size.

use super::rows::{self, RowExt};
use super::sql;
use super::{
    Backend, ConnectOptions, ContactRow, ContactUpsert, ConversationRow, ConversationUpdate, DeadLetter,
    DeliveryOutcome, EventKey, FaqOutcomeRow, Millis, NewMessage, NewOutbox, NewTicket, OutboxJob, OutboxRow,
    QueueOverview, Store, StoreError, StoreResult, TicketChange, TicketDetail, TicketRow, TicketSummary,
    TranscriptEntry, WriteTx, count_u32, duration_millis, priority_rank,
};
use crate::core::handoff::TicketStatus;
use crate::core::message::{Lang, MediaRef};
use serde_json::{Value, json};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use std::collections::HashSet;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// How hard SQLite works to keep a committed transaction.
///
/// [`SqliteDurability::Full`] (`synchronous=FULL`, the default) fsyncs the write-ahead log on
/// every commit: an event acknowledged to a platform survives a power loss. Group commit makes
/// that affordable, because one fsync covers a whole batch of events.
///
/// [`SqliteDurability::Normal`] (`synchronous=NORMAL`) fsyncs only at checkpoints. In WAL mode
/// the database can never be corrupted by this, and a process crash loses nothing, but a power
/// loss or kernel crash can roll back the last transactions, including events already
/// acknowledged to a platform (which will then not redeliver them). Choose it only when the
/// machine's storage or the deployment makes that loss acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SqliteDurability {
    #[default]
    Full,
    Normal,
}

/// SQLite implementation of [`Store`].
pub struct SqliteStore {
    pool: SqlitePool,
    /// SQLite allows one writer at a time. Writers of this process queue here, in order,
    /// instead of sleeping in SQLite's busy handler; `busy_timeout` still covers writers in
    /// other processes (a `switchboard chat` beside `switchboard serve`).
    write_lock: Arc<Mutex<()>>,
}

impl SqliteStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<SqliteStore> {
        let synchronous = match options.sqlite_durability {
            SqliteDurability::Full => SqliteSynchronous::Full,
            SqliteDurability::Normal => SqliteSynchronous::Normal,
        };
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(synchronous)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(options.max_connections.max(2))
            .connect_with(connect)
            .await?;
        Ok(SqliteStore { pool, write_lock: Arc::new(Mutex::new(())) })
    }

    async fn begin_immediate(&self) -> StoreResult<SqliteTx> {
        let guard = Arc::clone(&self.write_lock).lock_owned().await;
        let tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        Ok(SqliteTx { tx, _guard: guard })
    }
}

/// JSON arrays cannot hold SQL NULL and text side by side without care: `None` becomes JSON
/// `null`, which `->>` reads back as SQL NULL.
fn opt_json(value: Option<String>) -> Value {
    value.map_or(Value::Null, Value::String)
}

#[async_trait::async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> Backend {
        Backend::Sqlite
    }

    async fn migrate(&self) -> StoreResult<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>> {
        Ok(Box::new(self.begin_immediate().await?))
    }

    async fn contact(&self, channel: &str, external_id: &str) -> StoreResult<Option<ContactRow>> {
        let row = sqlx::query(sql::CONTACT_BY_KEY)
            .bind(channel)
            .bind(external_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(rows::contact).transpose()
    }

    async fn conversation_of_contact(&self, contact_id: i64) -> StoreResult<Option<ConversationRow>> {
        let row =
            sqlx::query(sql::CONVERSATION_OF_CONTACT).bind(contact_id).fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::conversation).transpose()
    }

    async fn list_tickets(&self, status: Option<TicketStatus>) -> StoreResult<Vec<TicketSummary>> {
        let code = status.map(TicketStatus::code);
        let found = sqlx::query(sql::TICKET_SUMMARIES).bind(code).fetch_all(&self.pool).await?;
        let mut tickets = found.iter().map(rows::ticket_summary).collect::<StoreResult<Vec<_>>>()?;
        let attachments = sqlx::query(sql::ATTACHMENTS_BY_STATUS).bind(code).fetch_all(&self.pool).await?;
        let attachments = attachments.iter().map(rows::attachment).collect::<StoreResult<Vec<_>>>()?;
        rows::attach_to_summaries(&mut tickets, attachments);
        rows::sort_for_listing(&mut tickets);
        Ok(tickets)
    }

    async fn ticket(&self, ticket_id: i64) -> StoreResult<Option<TicketDetail>> {
        let Some(row) =
            sqlx::query(sql::TICKET_SUMMARY_BY_ID).bind(ticket_id).fetch_optional(&self.pool).await?
        else {
            return Ok(None);
        };
        let mut ticket = rows::ticket_summary(&row)?;
        let attachments =
            sqlx::query(sql::ATTACHMENTS_OF_TICKET).bind(ticket_id).fetch_all(&self.pool).await?;
        ticket.attachments = attachments
            .iter()
            .map(|row| rows::attachment(row).map(|(_, media)| media))
            .collect::<StoreResult<Vec<_>>>()?;
        let messages = self.transcript(ticket.conversation_id).await?;
        let notes = sqlx::query(sql::NOTES_OF_TICKET).bind(ticket_id).fetch_all(&self.pool).await?;
        let notes = notes.iter().map(rows::note).collect::<StoreResult<Vec<_>>>()?;
        Ok(Some(TicketDetail { ticket, messages, notes }))
    }

    async fn transcript(&self, conversation_id: i64) -> StoreResult<Vec<TranscriptEntry>> {
        let found = sqlx::query(sql::TRANSCRIPT).bind(conversation_id).fetch_all(&self.pool).await?;
        found.iter().map(rows::transcript_entry).collect()
    }

    async fn dead_letters(&self, limit: i64) -> StoreResult<Vec<DeadLetter>> {
        let found = sqlx::query(sql::DEAD_LETTERS).bind(limit).fetch_all(&self.pool).await?;
        found.iter().map(rows::dead_letter).collect()
    }

    async fn queue_overview(&self) -> StoreResult<QueueOverview> {
        let mut conn = self.pool.acquire().await?;
        queue_overview(&mut conn).await
    }

    async fn tickets_ahead(&self, ticket_id: i64) -> StoreResult<Option<u32>> {
        let row =
            sqlx::query(sql::TICKETS_AHEAD_OF_TICKET).bind(ticket_id).fetch_optional(&self.pool).await?;
        Ok(row.map(|row| row.int("ahead")).transpose()?.map(count_u32))
    }

    async fn cursor(&self, name: &str) -> StoreResult<Option<String>> {
        let row = sqlx::query(sql::CURSOR).bind(name).fetch_optional(&self.pool).await?;
        row.map(|row| row.text("value")).transpose()
    }

    async fn set_cursor(&self, name: &str, value: &str, now: Millis) -> StoreResult<()> {
        let mut tx = self.begin_immediate().await?;
        sqlx::query(sql::SET_CURSOR).bind(name).bind(value).bind(now).execute(&mut *tx.tx).await?;
        tx.tx.commit().await?;
        Ok(())
    }

    async fn claim_outbox(
        &self,
        channels: &[&'static str],
        now: Millis,
        lease: Duration,
        limit: i64,
    ) -> StoreResult<Vec<OutboxJob>> {
        const CANDIDATES: &str = "SELECT o.id, o.conversation_id, o.contact_id, o.channel, c.external_id, \
             c.contact_data, o.lang, o.payload, o.attempts \
             FROM outbox o JOIN contacts c ON c.id = o.contact_id \
             WHERE o.status = 'pending' AND o.channel IN (SELECT value FROM json_each($1)) \
             AND o.next_attempt_at <= $2 AND (o.lease_until IS NULL OR o.lease_until <= $2) AND c.reachable \
             AND NOT EXISTS (SELECT 1 FROM outbox p WHERE p.status = 'pending' \
               AND p.conversation_id = o.conversation_id AND p.id < o.id \
               AND (p.next_attempt_at > $2 OR (p.lease_until IS NOT NULL AND p.lease_until > $2))) \
             ORDER BY o.id LIMIT $3";
        const LEASE: &str =
            "UPDATE outbox SET lease_until = $1 WHERE id IN (SELECT value FROM json_each($2))";
        let mut tx = self.begin_immediate().await?;
        let names = serde_json::to_string(channels)?;
        let found = sqlx::query(CANDIDATES).bind(names).bind(now).bind(limit).fetch_all(&mut *tx.tx).await?;
        let jobs = found.iter().map(rows::outbox_job).collect::<StoreResult<Vec<_>>>()?;
        if !jobs.is_empty() {
            let ids = serde_json::to_string(&jobs.iter().map(|job| job.id).collect::<Vec<_>>())?;
            let until = now.saturating_add(duration_millis(lease));
            sqlx::query(LEASE).bind(until).bind(ids).execute(&mut *tx.tx).await?;
        }
        tx.tx.commit().await?;
        Ok(jobs)
    }

    async fn finish_outbox(&self, outcomes: &[(OutboxJob, DeliveryOutcome)], now: Millis) -> StoreResult<()> {
        const SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $1, lease_until = NULL \
             WHERE id IN (SELECT value FROM json_each($2))";
        if outcomes.is_empty() {
            return Ok(());
        }
        let mut tx = self.begin_immediate().await?;
        let sent: Vec<i64> = outcomes
            .iter()
            .filter(|(_, outcome)| *outcome == DeliveryOutcome::Sent)
            .map(|(job, _)| job.id)
            .collect();
        if !sent.is_empty() {
            sqlx::query(SENT).bind(now).bind(serde_json::to_string(&sent)?).execute(&mut *tx.tx).await?;
        }
        for (job, outcome) in outcomes {
            match outcome {
                DeliveryOutcome::Sent => {}
                DeliveryOutcome::Retry { at, count_attempt, error } => {
                    sqlx::query(sql::OUTBOX_RETRY)
                        .bind(job.id)
                        .bind(*at)
                        .bind(i64::from(*count_attempt))
                        .bind(error)
                        .execute(&mut *tx.tx)
                        .await?;
                }
                DeliveryOutcome::Dead { error, unreachable } => {
                    sqlx::query(sql::OUTBOX_DEAD).bind(job.id).bind(error).execute(&mut *tx.tx).await?;
                    if *unreachable {
                        sqlx::query(sql::SET_CONTACT_REACHABLE)
                            .bind(job.contact_id)
                            .bind(false)
                            .bind(now)
                            .execute(&mut *tx.tx)
                            .await?;
                    }
                }
                DeliveryOutcome::Released => {
                    sqlx::query(sql::OUTBOX_RELEASE).bind(job.id).execute(&mut *tx.tx).await?;
                }
            }
        }
        tx.tx.commit().await?;
        Ok(())
    }

    async fn outbox_row(&self, id: i64) -> StoreResult<Option<OutboxRow>> {
        let row = sqlx::query(sql::OUTBOX_ROW).bind(id).fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::outbox_row).transpose()
    }

    async fn outbox_of_conversation(&self, conversation_id: i64) -> StoreResult<Vec<OutboxRow>> {
        let found =
            sqlx::query(sql::OUTBOX_OF_CONVERSATION).bind(conversation_id).fetch_all(&self.pool).await?;
        found.iter().map(rows::outbox_row).collect()
    }

    async fn pending_outbox(&self) -> StoreResult<i64> {
        let row = sqlx::query(sql::PENDING_OUTBOX).fetch_one(&self.pool).await?;
        row.int("pending")
    }

    async fn listen_for_outbox(&self, _wake: Arc<tokio::sync::Notify>) -> StoreResult<()> {
        Ok(())
    }

    async fn release_abandoned_leases(&self) -> StoreResult<u64> {
        const RELEASE: &str =
            "UPDATE outbox SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL";
        Ok(sqlx::query(RELEASE).execute(&self.pool).await?.rows_affected())
    }

    /// One process owns the file, so it always leads (see `leader`).
    async fn try_lead(&self, name: &str) -> StoreResult<Option<super::Leadership>> {
        Ok(Some(super::Leadership::sole_process(name)))
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

async fn queue_overview(conn: &mut sqlx::SqliteConnection) -> StoreResult<QueueOverview> {
    let counts = sqlx::query(sql::QUEUE_COUNTS).fetch_one(&mut *conn).await?;
    let waits = sqlx::query(sql::RECENT_WAITS).fetch_all(&mut *conn).await?;
    Ok(QueueOverview {
        queued_high: count_u32(counts.int("high")?),
        queued_normal: count_u32(counts.int("normal")?),
        agents_on_duty: count_u32(counts.int("agents")?),
        recent_waits_secs: waits.iter().map(|row| row.int("wait")).collect::<StoreResult<_>>()?,
    })
}

struct SqliteTx {
    tx: Transaction<'static, Sqlite>,
    _guard: OwnedMutexGuard<()>,
}

#[async_trait::async_trait]
impl WriteTx for SqliteTx {
    async fn record_events(&mut self, keys: &[EventKey], now: Millis) -> StoreResult<Vec<bool>> {
        // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT.
        const RECORD: &str = "INSERT INTO processed_events (channel, event_id, processed_at) \
             SELECT value ->> 0, value ->> 1, $1 FROM json_each($2) WHERE true \
             ON CONFLICT DO NOTHING RETURNING channel, event_id";
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let batch: Vec<Value> = keys.iter().map(|key| json!([key.channel, key.event_id])).collect();
        let inserted = sqlx::query(RECORD)
            .bind(now)
            .bind(serde_json::to_string(&batch)?)
            .fetch_all(&mut *self.tx)
            .await?;
        let mut fresh = HashSet::with_capacity(inserted.len());
        for row in &inserted {
            fresh.insert((row.text("channel")?, row.text("event_id")?));
        }
        Ok(keys.iter().map(|key| fresh.contains(&(key.channel.clone(), key.event_id.clone()))).collect())
    }

    async fn upsert_contacts(
        &mut self,
        contacts: &[ContactUpsert],
        now: Millis,
    ) -> StoreResult<Vec<ContactRow>> {
        const UPSERT: &str = "INSERT INTO contacts (channel, external_id, lang, display_name, contact_data, \
             created_at, updated_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, $1, $1 \
             FROM json_each($2) WHERE true \
             ON CONFLICT (channel, external_id) DO UPDATE SET \
               display_name = coalesce(excluded.display_name, contacts.display_name), \
               contact_data = coalesce(excluded.contact_data, contacts.contact_data), \
               updated_at = excluded.updated_at \
             RETURNING id, channel, external_id, lang, language_chosen, reachable, display_name, contact_data";
        if contacts.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = Vec::with_capacity(contacts.len());
        for contact in contacts {
            let data = contact.contact_data.as_ref().map(serde_json::to_string).transpose()?;
            batch.push(json!([
                contact.channel,
                contact.external_id,
                contact.lang_if_new.code(),
                opt_json(contact.display_name.clone()),
                opt_json(data),
            ]));
        }
        let found = sqlx::query(UPSERT)
            .bind(now)
            .bind(serde_json::to_string(&batch)?)
            .fetch_all(&mut *self.tx)
            .await?;
        found.iter().map(rows::contact).collect()
    }

    async fn load_conversations(
        &mut self,
        contact_ids: &[i64],
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<Vec<ConversationRow>> {
        const CREATE: &str = "INSERT INTO conversations (contact_id, state, version, created_at, updated_at) \
             SELECT value, $1, 0, $2, $2 FROM json_each($3) WHERE true ON CONFLICT (contact_id) DO NOTHING";
        const LOAD: &str = "SELECT id, contact_id, state, version FROM conversations \
             WHERE contact_id IN (SELECT value FROM json_each($1))";
        if contact_ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = serde_json::to_string(contact_ids)?;
        sqlx::query(CREATE).bind(initial_state).bind(now).bind(&ids).execute(&mut *self.tx).await?;
        let found = sqlx::query(LOAD).bind(ids).fetch_all(&mut *self.tx).await?;
        found.iter().map(rows::conversation).collect()
    }

    async fn conversation_for_update(
        &mut self,
        conversation_id: i64,
    ) -> StoreResult<Option<(ConversationRow, ContactRow)>> {
        const LOAD: &str = "SELECT id, contact_id, state, version FROM conversations WHERE id = $1";
        const CONTACT: &str = "SELECT id, channel, external_id, lang, language_chosen, reachable, display_name, \
             contact_data FROM contacts WHERE id = $1";
        let Some(row) = sqlx::query(LOAD).bind(conversation_id).fetch_optional(&mut *self.tx).await? else {
            return Ok(None);
        };
        let conversation = rows::conversation(&row)?;
        let contact = sqlx::query(CONTACT).bind(conversation.contact_id).fetch_one(&mut *self.tx).await?;
        Ok(Some((conversation, rows::contact(&contact)?)))
    }

    async fn save_conversations(&mut self, updates: &[ConversationUpdate], now: Millis) -> StoreResult<()> {
        const SAVE: &str = "UPDATE conversations SET state = u.value ->> 1, version = version + 1, updated_at = $1 \
             FROM json_each($2) AS u \
             WHERE conversations.id = u.value ->> 0 AND conversations.version = u.value ->> 2";
        if updates.is_empty() {
            return Ok(());
        }
        let batch: Vec<Value> =
            updates.iter().map(|update| json!([update.id, update.state, update.expected_version])).collect();
        let done =
            sqlx::query(SAVE).bind(now).bind(serde_json::to_string(&batch)?).execute(&mut *self.tx).await?;
        if done.rows_affected() != updates.len() as u64 {
            return Err(StoreError::Conflict);
        }
        Ok(())
    }

    async fn append_messages(&mut self, messages: &[NewMessage]) -> StoreResult<()> {
        const APPEND: &str = "INSERT INTO messages (conversation_id, direction, author, agent, text, body, \
             attachments, event_id, created_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
             value ->> 7, value ->> 8 FROM json_each($1) ORDER BY key";
        if messages.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(messages.len());
        for message in messages {
            let body = message.body.as_ref().map(serde_json::to_string).transpose()?;
            batch.push(json!([
                message.conversation_id,
                message.direction.code(),
                message.author.code(),
                opt_json(message.agent.clone()),
                opt_json(message.text.clone()),
                opt_json(body),
                serde_json::to_string(&message.attachments)?,
                opt_json(message.event_id.clone()),
                message.at,
            ]));
        }
        sqlx::query(APPEND).bind(serde_json::to_string(&batch)?).execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn enqueue(&mut self, outbox: &[NewOutbox]) -> StoreResult<()> {
        const ENQUEUE: &str = "INSERT INTO outbox (conversation_id, contact_id, channel, payload, lang, status, \
             attempts, next_attempt_at, created_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, 'pending', 0, \
             value ->> 5, value ->> 5 FROM json_each($1) ORDER BY key";
        if outbox.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(outbox.len());
        for row in outbox {
            batch.push(json!([
                row.conversation_id,
                row.contact_id,
                row.channel,
                serde_json::to_string(&row.payload)?,
                row.lang.code(),
                row.at,
            ]));
        }
        sqlx::query(ENQUEUE).bind(serde_json::to_string(&batch)?).execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn queue_overview(&mut self) -> StoreResult<QueueOverview> {
        queue_overview(&mut self.tx).await
    }

    async fn tickets_ahead_of_conversation(&mut self, conversation_id: i64) -> StoreResult<Option<u32>> {
        let row = sqlx::query(sql::TICKETS_AHEAD_OF_CONVERSATION)
            .bind(conversation_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|row| row.int("ahead")).transpose()?.map(count_u32))
    }

    async fn open_ticket(&mut self, conversation_id: i64) -> StoreResult<Option<TicketRow>> {
        let row = sqlx::query(sql::OPEN_TICKET).bind(conversation_id).fetch_optional(&mut *self.tx).await?;
        row.as_ref().map(rows::ticket).transpose()
    }

    async fn latest_resolved_ticket(&mut self, conversation_id: i64) -> StoreResult<Option<i64>> {
        let row = sqlx::query(sql::LATEST_RESOLVED_TICKET)
            .bind(conversation_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        row.map(|row| row.int("id")).transpose()
    }

    async fn ticket_for_update(&mut self, ticket_id: i64) -> StoreResult<Option<TicketRow>> {
        let row =
            sqlx::query(sql::TICKET_COLUMNS_BY_ID).bind(ticket_id).fetch_optional(&mut *self.tx).await?;
        row.as_ref().map(rows::ticket).transpose()
    }

    async fn insert_ticket(&mut self, ticket: &NewTicket) -> StoreResult<i64> {
        let draft = &ticket.draft;
        let resolved_at = (ticket.status == TicketStatus::Resolved).then_some(ticket.at);
        let row = sqlx::query(sql::INSERT_TICKET)
            .bind(ticket.conversation_id)
            .bind(ticket.contact_id)
            .bind(ticket.status.code())
            .bind(draft.issue.code())
            .bind(draft.order_id.as_ref().map(|id| id.as_str().to_owned()))
            .bind(draft.priority.code())
            .bind(priority_rank(draft.priority))
            .bind(draft.description.as_deref())
            .bind(ticket.lang.code())
            .bind(ticket.self_served)
            .bind(ticket.at)
            .bind(resolved_at)
            .fetch_one(&mut *self.tx)
            .await?;
        row.int("id")
    }

    async fn attach(&mut self, ticket_id: i64, media: &[MediaRef], now: Millis) -> StoreResult<()> {
        const ATTACH: &str = "INSERT INTO ticket_attachments (ticket_id, sha256, content_type, bytes, created_at) \
             SELECT $1, value ->> 0, value ->> 1, value ->> 2, $2 FROM json_each($3) WHERE true \
             ON CONFLICT (ticket_id, sha256) DO NOTHING";
        if media.is_empty() {
            return Ok(());
        }
        let batch: Vec<Value> =
            media.iter().map(|media| json!([media.sha256, media.content_type, media.bytes])).collect();
        sqlx::query(ATTACH)
            .bind(ticket_id)
            .bind(now)
            .bind(serde_json::to_string(&batch)?)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn update_ticket(&mut self, ticket_id: i64, change: &TicketChange, now: Millis) -> StoreResult<()> {
        let query = match change {
            TicketChange::Assign { agent } => {
                sqlx::query(sql::TICKET_ASSIGN).bind(ticket_id).bind(agent).bind(now)
            }
            TicketChange::Release => sqlx::query(sql::TICKET_RELEASE).bind(ticket_id).bind(now),
            TicketChange::Resolve => sqlx::query(sql::TICKET_RESOLVE).bind(ticket_id).bind(now),
            TicketChange::Reopen { agent } => {
                sqlx::query(sql::TICKET_REOPEN).bind(ticket_id).bind(agent).bind(now)
            }
            TicketChange::Withdraw => sqlx::query(sql::TICKET_WITHDRAW).bind(ticket_id).bind(now),
            TicketChange::Rate { stars } => {
                sqlx::query(sql::TICKET_RATE).bind(ticket_id).bind(i64::from(*stars)).bind(now)
            }
            TicketChange::Comment { comment } => {
                sqlx::query(sql::TICKET_COMMENT).bind(ticket_id).bind(comment).bind(now)
            }
            TicketChange::AgentReplied => sqlx::query(sql::TICKET_AGENT_REPLIED).bind(ticket_id).bind(now),
            TicketChange::Reminded => sqlx::query(sql::TICKET_REMINDED).bind(ticket_id).bind(now),
        };
        query.execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn add_note(&mut self, ticket_id: i64, agent: &str, text: &str, now: Millis) -> StoreResult<i64> {
        let row = sqlx::query(sql::INSERT_NOTE)
            .bind(ticket_id)
            .bind(agent)
            .bind(text)
            .bind(now)
            .fetch_one(&mut *self.tx)
            .await?;
        row.int("id")
    }

    async fn tickets_due_reminder(
        &mut self,
        waiting_since: Millis,
        reminded_before: Millis,
        limit: i64,
    ) -> StoreResult<Vec<TicketRow>> {
        let found = sqlx::query(sql::TICKETS_DUE_REMINDER)
            .bind(waiting_since)
            .bind(reminded_before)
            .bind(limit)
            .fetch_all(&mut *self.tx)
            .await?;
        found.iter().map(rows::ticket).collect()
    }

    async fn set_contact_language(
        &mut self,
        contact_id: i64,
        lang: Lang,
        chosen: bool,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_CONTACT_LANGUAGE)
            .bind(contact_id)
            .bind(lang.code())
            .bind(chosen)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn set_contact_reachable(
        &mut self,
        contact_id: i64,
        reachable: bool,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(sql::SET_CONTACT_REACHABLE)
            .bind(contact_id)
            .bind(reachable)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn record_faq_outcome(&mut self, outcome: &FaqOutcomeRow) -> StoreResult<()> {
        sqlx::query(sql::INSERT_FAQ_OUTCOME)
            .bind(outcome.conversation_id)
            .bind(outcome.intent.name())
            .bind(outcome.helped)
            .bind(outcome.lang.code())
            .bind(outcome.at)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn record_feedback(
        &mut self,
        conversation_id: i64,
        text: &str,
        lang: Lang,
        now: Millis,
    ) -> StoreResult<()> {
        sqlx::query(sql::INSERT_FEEDBACK)
            .bind(conversation_id)
            .bind(text)
            .bind(lang.code())
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let SqliteTx { tx, _guard } = *self;
        tx.commit().await?;
        Ok(())
    }
}
