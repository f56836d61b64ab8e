//! The multi-instance backend: several Switchboard processes share one PostgreSQL database.
//!
//! Batch writes pass one array per column and expand them with `UNNEST`, so statement texts
//! are static. Conversations are locked (`FOR UPDATE`, in id order) for the whole group
//! commit, so two instances never interleave one conversation; outbox rows are claimed with
//! `FOR UPDATE SKIP LOCKED` and a lease.
//!
//! A group commit waits for the server at every statement, so the write path sends as few
//! as it can, each doing a table's (or several tables') work for the whole batch: on the
//! engine writer's own connection (`own_connection`, which saves the pool's checks) an inbound batch
//! is `BEGIN`; the long-poll positions with the dedupe of event ids; the contacts with their
//! conversations, locked; their open tickets with their pending outbox rows; every write of
//! the batch in one statement of data-modifying `WITH` parts ([`WRITE_BATCH`]); `COMMIT`.
//! Only new contacts, queue figures the steps ask for, and rarer changes add statements. The
//! writes of one statement run in one snapshot and never touch a row twice (new tickets and
//! withdrawn ones are different rows), so splitting them would not change what they do.

use super::counted::Counted;
use super::own_connection::{Conn, OwnConnection};
use super::rows::{self, ReadRows, RowExt};
use super::sql;
use super::tcp_nodelay;
use super::{
    Backend, BatchWrites, ConnectOptions, ContactRow, ContactUpsert, ConversationRow, ConversationUpdate,
    DeliveryOutcome, EventKey, FaqOutcomeRow, Millis, NewMessage, NewOutbox, NewTicket, OutboxClaim,
    OutboxJob, Store, StoreError, StoreResult, TicketChange, TicketRow, WriteTx, priority_rank,
};
use crate::core::handoff::TicketStatus;
use crate::core::message::MediaRef;
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgListener, PgPool, PgPoolOptions};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinHandle;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Marks delivered rows sent: `$1` the time, `$2` the ids.
const SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $1, lease_until = NULL WHERE id = ANY($2)";

/// The NOTIFY channel that wakes outbox workers in every instance.
const OUTBOX_CHANNEL: &str = "switchboard_outbox";

/// Serialises outbox claims across instances for the instant of the claim (not the delivery).
/// Without it, two claimers could each see a different row of one conversation as "oldest
/// unleased" while the other's lease is still uncommitted, and deliver them out of order.
const CLAIM_LOCK_KEY: i64 = 0x5357_4244_4f42; // "SWBDOB"

/// PostgreSQL implementation of [`Store`].
pub struct PostgresStore {
    pool: PgPool,
    /// Connections with `synchronous_commit = off` for delivery outcomes ("sent" marks,
    /// retries, dead letters): their commit does not wait for the WAL to reach the disk.
    /// Losing one to a crash of the server only means a reply is sent again, which the outbox
    /// allows anyway. It never weakens the engine's commits: WAL is written in order, so the
    /// next synchronous commit flushes every record before it. (SQLite's bookkeeping
    /// connection is the same idea.)
    bookkeeping: PgPool,
    /// The engine writer's own connection, in the store [`Store::writer_for_this_runtime`]
    /// returns; `None` in the shared store, whose transactions come from `pool`.
    writer: Option<Arc<OwnConnection<PgConnection>>>,
    listeners: Mutex<Vec<JoinHandle<()>>>,
}

impl PostgresStore {
    pub async fn connect(url: &str, options: &ConnectOptions) -> StoreResult<PostgresStore> {
        let connect: PgConnectOptions = url.parse()?;
        // A clear reason within seconds, instead of the pool's "timed out" after thirty.
        super::pg_connect::probe(&connect, options.wait_for_server).await?;
        let pool =
            pool_options(&connect, options.max_connections.max(2)).connect_with(connect.clone()).await?;
        let bookkeeping =
            pool_options(&connect, 4).connect_with(connect.options([("synchronous_commit", "off")])).await?;
        Ok(PostgresStore { pool, bookkeeping, writer: None, listeners: Mutex::new(Vec::new()) })
    }
}

/// The server's TCP port, unless the connection goes through a Unix socket.
fn server_port(connect: &PgConnectOptions) -> Option<u16> {
    connect.get_socket().is_none().then(|| connect.get_port())
}

/// A pooled connection idle for longer than this is checked with a round trip before it is
/// handed out; one idle for less was checked when it came back (sqlx always does that), so the
/// check would be a second round trip on every busy statement for nothing.
const CHECK_IF_IDLE_FOR: Duration = Duration::from_secs(1);

/// Pool settings shared by every pool: over TCP, each new connection gets Nagle's algorithm
/// turned off (see `tcp_nodelay`), and only connections idle for a while are checked before use
/// ([`CHECK_IF_IDLE_FOR`]).
fn pool_options(connect: &PgConnectOptions, max_connections: u32) -> PgPoolOptions {
    let server_port = server_port(connect);
    PgPoolOptions::new()
        .max_connections(max_connections)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if let Some(server_port) = server_port {
                    no_delay(conn, server_port).await?;
                }
                Ok(())
            })
        })
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > CHECK_IF_IDLE_FOR {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// A connection outside any pool, with Nagle's algorithm off.
async fn connect_with_no_delay(options: &PgConnectOptions) -> StoreResult<PgConnection> {
    let mut conn = sqlx::ConnectOptions::connect(options).await?;
    if let Some(server_port) = server_port(options) {
        no_delay(&mut conn, server_port).await?;
    }
    Ok(conn)
}

/// Turns Nagle's algorithm off on a new connection's socket, if it can be found.
async fn no_delay(conn: &mut sqlx::PgConnection, server_port: u16) -> Result<(), sqlx::Error> {
    // NULL over a Unix socket; a proxy in between reports its own port, which matches nothing.
    let port: Option<i32> = sqlx::query_scalar("SELECT inet_client_port()").fetch_one(&mut *conn).await?;
    let Some(local_port) = port.and_then(|port| u16::try_from(port).ok()) else { return Ok(()) };
    match tcp_nodelay::enable(local_port, server_port) {
        Ok(tcp_nodelay::Outcome::Set) => {
            tracing::debug!(local_port, "Nagle's algorithm is off on a PostgreSQL connection")
        }
        Ok(tcp_nodelay::Outcome::NotFound) => {
            tracing::debug!(
                local_port,
                "no socket of this process matches the PostgreSQL connection; Nagle stays on"
            )
        }
        Err(error) => tracing::debug!(%error, "cannot turn Nagle's algorithm off on a PostgreSQL connection"),
    }
    Ok(())
}

fn codes(values: impl Iterator<Item = Option<String>>) -> Vec<Option<String>> {
    values.collect()
}

/// What only PostgreSQL does; the rest of [`Store`] is `shared`.
impl PostgresStore {
    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>> {
        let tx = match &self.writer {
            // One round trip: BEGIN.
            Some(writer) => {
                PostgresTx { tx: Counted::new(Conn::Own(writer.begin("BEGIN").await?), 1), plain_scans: true }
            }
            // Usually one: BEGIN (sqlx checks a pooled connection before handing it out only
            // after `CHECK_IF_IDLE_FOR` idle, which a busy engine's never is).
            None => {
                PostgresTx { tx: Counted::new(Conn::Pooled(self.pool.begin().await?), 1), plain_scans: false }
            }
        };
        Ok(Box::new(tx))
    }

    /// The engine's writer runs one transaction at a time on a connection of its own (see
    /// `own_connection`), opened now so that a server that refuses it is an error at start. It
    /// starts with `enable_bitmapscan = off`: direct delivery's lookup of pending outbox rows
    /// must be a plain index scan (see `PostgresTx::open_tickets_and_pending_outbox`), and every other
    /// statement of the writer reads by key, where bitmap scans win nothing. The
    /// pools of this store open nothing unless used.
    async fn writer_for_this_runtime(&self) -> StoreResult<Option<Box<dyn Store>>> {
        let connect = self.pool.connect_options();
        let writer_options = connect.as_ref().clone().options([("enable_bitmapscan", "off")]);
        let writer = OwnConnection::open(Box::new(move || {
            let options = writer_options.clone();
            Box::pin(async move { connect_with_no_delay(&options).await })
        }))
        .await?;
        let pool = pool_options(&connect, 1).connect_lazy_with((*connect).clone());
        let bookkeeping =
            pool_options(&connect, 1).connect_lazy_with(self.bookkeeping.connect_options().as_ref().clone());
        let listeners = Mutex::new(Vec::new());
        Ok(Some(Box::new(PostgresStore { pool, bookkeeping, writer: Some(writer), listeners })))
    }

    async fn set_cursor(&self, name: &str, value: &str, now: Millis) -> StoreResult<()> {
        sqlx::query(sql::SET_CURSOR).bind(name).bind(value).bind(now).execute(&self.pool).await?;
        Ok(())
    }

    /// Leases the rows of `claim`; see `Store::claim_outbox`.
    async fn claim(&self, claim: OutboxClaim<'_>) -> StoreResult<Vec<OutboxJob>> {
        const CANDIDATES: &str =
            concat!(sql::due_outbox!("o.channel = ANY($1)"), " FOR UPDATE OF o SKIP LOCKED");
        const CANDIDATES_OF_CONTACT: &str = concat!(
            sql::due_outbox!("o.channel = ANY($1) AND c.external_id = $4"),
            " FOR UPDATE OF o SKIP LOCKED"
        );
        const LEASE: &str = "UPDATE outbox SET lease_until = $1 WHERE id = ANY($2)";
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(CLAIM_LOCK_KEY).execute(&mut *tx).await?;
        let names: Vec<&str> = claim.channels.to_vec();
        let query = claim.due_rows(CANDIDATES, CANDIDATES_OF_CONTACT, names);
        let found = query.fetch_all(&mut *tx).await?;
        let jobs = found.read(rows::outbox_job)?;
        if !jobs.is_empty() {
            let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
            sqlx::query(LEASE).bind(claim.until).bind(ids).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(jobs)
    }

    /// Marks rows sent: one statement, which is its own transaction (one round trip instead of
    /// three), on a bookkeeping connection.
    async fn mark_sent(&self, ids: &[i64], now: Millis) -> StoreResult<()> {
        sqlx::query(SENT).bind(now).bind(ids).execute(&self.bookkeeping).await?;
        Ok(())
    }

    /// Records outcomes of which some failed, in one transaction on a bookkeeping connection.
    async fn finish_mixed(
        &self,
        sent: &[i64],
        outcomes: &[(OutboxJob, DeliveryOutcome)],
        now: Millis,
    ) -> StoreResult<()> {
        let mut tx = self.bookkeeping.begin().await?;
        if !sent.is_empty() {
            sqlx::query(SENT).bind(now).bind(sent).execute(&mut *tx).await?;
        }
        record_failures(&mut tx, outcomes, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn listen_for_outbox(&self, wake: Arc<tokio::sync::Notify>) -> StoreResult<()> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(OUTBOX_CHANNEL).await?;
        let task = tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(_) => wake.notify_one(),
                    Err(error) => {
                        // The listener reconnects on the next recv; workers poll meanwhile.
                        tracing::warn!(%error, "outbox LISTEN connection failed");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        });
        self.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(task);
        Ok(())
    }

    async fn release_abandoned_leases(&self) -> StoreResult<u64> {
        Ok(0)
    }

    /// Deleted rows stay in their pages until vacuum reclaims them, which PostgreSQL runs on
    /// its own (autovacuum); there is no log of ours to cut.
    async fn flush_deletions(&self) -> StoreResult<bool> {
        Ok(true)
    }

    async fn try_lead(&self, name: &str) -> StoreResult<Option<super::Leadership>> {
        super::leader::try_lead_postgres(&self.pool, name).await
    }

    async fn close(&self) {
        for task in self.listeners.lock().unwrap_or_else(std::sync::PoisonError::into_inner).drain(..) {
            task.abort();
        }
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
        self.bookkeeping.close().await;
        self.pool.close().await;
    }
}

struct PostgresTx {
    tx: Counted<Conn<Postgres>>,
    /// Bitmap scans are off for the rest of the transaction (on the writer's own connection,
    /// for all of it): see [`PostgresTx::open_tickets_and_pending_outbox`].
    plain_scans: bool,
}

/// Every write of a group commit in one statement (see the module documentation and
/// `WriteTx::write_batch`), one array per column: new tickets ($1-$12, in slice order),
/// withdrawn tickets ($14), the message log ($15-$23), FAQ outcomes ($24-$28), new states
/// ($29-$33, saved where the version still matches), outbox rows ($34-$40, in slice order);
/// $13 is the time. An empty part writes nothing. Rows out: `('ticket', id)` per new ticket,
/// `('outbox', id)` per outbox row, and `('saved', n)`, the states saved. `$notify` adds a
/// NOTIFY to the outbox's channel ($41), delivered at commit.
///
/// Most commits withdraw no ticket. The `cardinality` test makes that part a one-time filter in
/// the statement's generic plan, so nothing is scanned then: with the estimates of a young
/// database the plan scanned all of `tickets` for an empty list (0.5 ms of a 5 ms statement
/// in `bench/compare.sh`, BENCHMARKS.md round 4).
macro_rules! write_batch {
    ($notify:literal, $notified:literal) => {
        concat!(
            "WITH new_tickets AS (INSERT INTO tickets (conversation_id, contact_id, status, issue_type, \
               order_id, priority, priority_rank, description, lang, self_served, created_at, updated_at, \
               resolved_at) \
             SELECT u.conversation_id, u.contact_id, u.status, u.issue_type, u.order_id, u.priority, \
               u.priority_rank, u.description, u.lang, u.self_served, u.created_at, u.created_at, u.resolved_at \
             FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], \
               $7::bigint[], $8::text[], $9::text[], $10::boolean[], $11::bigint[], $12::bigint[]) WITH ORDINALITY \
               AS u(conversation_id, contact_id, status, issue_type, order_id, priority, priority_rank, \
               description, lang, self_served, created_at, resolved_at, n) \
             ORDER BY u.n RETURNING id), \
           withdrawn AS (UPDATE tickets SET status = 'resolved', withdrawn = TRUE, resolved_at = $13::bigint, \
             updated_at = $13::bigint WHERE id = ANY($14::bigint[]) AND cardinality($14::bigint[]) > 0), \
           logged AS (INSERT INTO messages (conversation_id, direction, author, agent, text, body, attachments, \
               event_id, created_at) \
             SELECT u.conversation_id, u.direction, u.author, u.agent, u.text, u.body::jsonb, u.attachments::jsonb, \
               u.event_id, u.created_at \
             FROM UNNEST($15::bigint[], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], \
               $21::text[], $22::text[], $23::bigint[]) WITH ORDINALITY \
               AS u(conversation_id, direction, author, agent, text, body, attachments, event_id, created_at, n) \
             ORDER BY u.n), \
           faq AS (INSERT INTO faq_outcomes (conversation_id, intent, helped, lang, created_at) \
             SELECT u.conversation_id, u.intent, u.helped, u.lang, u.created_at \
             FROM UNNEST($24::bigint[], $25::text[], $26::boolean[], $27::text[], $28::bigint[]) WITH ORDINALITY \
               AS u(conversation_id, intent, helped, lang, created_at, n) ORDER BY u.n), \
           saved AS (UPDATE conversations c SET state = u.state::jsonb, version = c.version + 1, \
               updated_at = $13::bigint, flood_opened_at = u.flood_opened_at, flood_count = u.flood_count \
             FROM UNNEST($29::bigint[], $30::text[], $31::bigint[], $32::bigint[], $33::bigint[]) \
               AS u(id, state, version, flood_opened_at, flood_count) \
             WHERE c.id = u.id AND c.version = u.version RETURNING c.id), \
           queued AS (INSERT INTO outbox (conversation_id, contact_id, channel, payload, lang, status, attempts, \
               next_attempt_at, lease_until, created_at) \
             SELECT u.conversation_id, u.contact_id, u.channel, u.payload::jsonb, u.lang, 'pending', 0, u.at, \
               u.lease_until, u.at \
             FROM UNNEST($34::bigint[], $35::bigint[], $36::text[], $37::text[], $38::text[], $39::bigint[], \
               $40::bigint[]) WITH ORDINALITY AS u(conversation_id, contact_id, channel, payload, lang, at, \
               lease_until, n) \
             ORDER BY u.n RETURNING id)",
            $notify,
            " SELECT 'ticket' AS kind, id FROM new_tickets UNION ALL SELECT 'outbox', id FROM queued \
             UNION ALL SELECT 'saved', count(*) FROM saved",
            $notified
        )
    };
}

const WRITE_BATCH: &str = write_batch!("", "");
const WRITE_BATCH_AND_NOTIFY: &str = write_batch!(
    ", notified AS (SELECT pg_notify($41, '') AS sent)",
    " UNION ALL SELECT 'notified', 0 FROM notified"
);

/// What [`WRITE_BATCH`] wrote.
#[derive(Default)]
struct Written {
    /// In slice order.
    tickets: Vec<i64>,
    /// In slice order.
    outbox: Vec<i64>,
    saved: u64,
}

/// What only PostgreSQL does; the rest of [`WriteTx`] is `shared`.
impl PostgresTx {
    fn commit_round_trips(&self) -> u64 {
        match self.tx.inner() {
            // COMMIT.
            Conn::Own(_) => 1,
            // COMMIT, and the check sqlx makes of a connection given back to its pool.
            Conn::Pooled(_) => 2,
        }
    }

    async fn record_events(&mut self, keys: &[EventKey], now: Millis) -> StoreResult<Vec<bool>> {
        self.record_events_at(keys, &[], now).await
    }

    /// The positions and the dedupe in one statement.
    async fn record_events_at(
        &mut self,
        keys: &[EventKey],
        cursors: &[(&str, &str)],
        now: Millis,
    ) -> StoreResult<Vec<bool>> {
        // Events sorted, so two instances inserting overlapping keys wait on each other
        // instead of deadlocking.
        const RECORD: &str = "WITH positions AS (INSERT INTO cursors (name, value, updated_at) \
               SELECT p.name, p.value, $3 FROM UNNEST($4::text[], $5::text[]) AS p(name, value) \
               ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at) \
             INSERT INTO processed_events (channel, event_id, processed_at) \
             SELECT u.channel, u.event_id, $3 FROM UNNEST($1::text[], $2::text[]) AS u(channel, event_id) \
             ORDER BY u.channel, u.event_id \
             ON CONFLICT DO NOTHING RETURNING channel, event_id";
        if keys.is_empty() && cursors.is_empty() {
            return Ok(Vec::new());
        }
        // One statement cannot change a row twice: of one cursor's positions, the last.
        let mut last: Vec<(&str, &str)> = Vec::with_capacity(cursors.len());
        for &(name, position) in cursors {
            match last.iter_mut().find(|(known, _)| *known == name) {
                Some(entry) => entry.1 = position,
                None => last.push((name, position)),
            }
        }
        let inserted: Vec<(String, String)> = sqlx::query_as(RECORD)
            .bind(keys.iter().map(|key| key.channel.as_str()).collect::<Vec<_>>())
            .bind(keys.iter().map(|key| key.event_id.as_str()).collect::<Vec<_>>())
            .bind(now)
            .bind(last.iter().map(|(name, _)| *name).collect::<Vec<_>>())
            .bind(last.iter().map(|(_, position)| *position).collect::<Vec<_>>())
            .fetch_all(&mut *self.tx)
            .await?;
        let fresh: HashSet<(String, String)> = inserted.into_iter().collect();
        Ok(keys.iter().map(|key| fresh.contains(&(key.channel.clone(), key.event_id.clone()))).collect())
    }

    /// Contacts that have a conversation come with it, locked, in one statement; contacts to
    /// write (new ones, changed names or data) and conversations to create cost more.
    /// Conversations are locked before contacts are written, as the steps do when they
    /// change a contact's language; erasure takes the contact first, and the server breaks
    /// the rare deadlock between the two, which the engine retries (`StoreError::Conflict`).
    async fn contacts_and_conversations(
        &mut self,
        contacts: &[ContactUpsert],
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<(Vec<ContactRow>, Vec<ConversationRow>)> {
        const LOCKED: &str = "SELECT c.id, c.channel, c.external_id, c.lang, c.language_chosen, c.reachable, \
             c.display_name, c.contact_data, v.id AS conversation_id, v.state, v.version, v.flood_opened_at, \
             v.flood_count FROM contacts c JOIN conversations v ON v.contact_id = c.id \
             WHERE (c.channel, c.external_id) IN (SELECT * FROM UNNEST($1::text[], $2::text[])) \
             ORDER BY v.id FOR UPDATE OF v";
        if contacts.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let found = sqlx::query(LOCKED)
            .bind(contacts.iter().map(|c| c.channel.as_str()).collect::<Vec<_>>())
            .bind(contacts.iter().map(|c| c.external_id.as_str()).collect::<Vec<_>>())
            .fetch_all(&mut *self.tx)
            .await?;
        let mut known = HashMap::with_capacity(found.len());
        let mut conversations = Vec::with_capacity(contacts.len());
        for row in &found {
            let (contact, conversation) = rows::contact_with_conversation(row)?;
            known.insert(contact.key(), contact);
            conversations.push(conversation);
        }
        let writes = super::contacts_to_write(contacts, &known);
        if !writes.is_empty() {
            for row in self.write_contacts(&writes, now).await? {
                known.insert(row.key(), row);
            }
        }
        if conversations.len() < known.len() {
            // Contacts without a conversation (new ones): another instance may be creating
            // the same, which the insert skips and the load then finds.
            let have: HashSet<i64> = conversations.iter().map(|c| c.contact_id).collect();
            let mut missing: Vec<i64> =
                known.values().map(|c| c.id).filter(|id| !have.contains(id)).collect();
            missing.sort_unstable();
            self.create_conversations(&missing, initial_state, now).await?;
            conversations.extend(self.conversations_of(&missing).await?);
        }
        Ok((known.into_values().collect(), conversations))
    }

    async fn find_contacts(&mut self, contacts: &[ContactUpsert]) -> StoreResult<Vec<ContactRow>> {
        const FIND: &str = "SELECT id, channel, external_id, lang, language_chosen, reachable, display_name, \
             contact_data FROM contacts WHERE (channel, external_id) IN (SELECT * FROM UNNEST($1::text[], $2::text[]))";
        let found = sqlx::query(FIND)
            .bind(contacts.iter().map(|c| c.channel.as_str()).collect::<Vec<_>>())
            .bind(contacts.iter().map(|c| c.external_id.as_str()).collect::<Vec<_>>())
            .fetch_all(&mut *self.tx)
            .await?;
        found.read(rows::contact)
    }

    /// Inserts new contacts and updates the name and data of known ones; returns their rows.
    /// Sorted by key, so two instances writing overlapping contacts wait instead of deadlocking.
    async fn write_contacts(
        &mut self,
        writes: &[&ContactUpsert],
        now: Millis,
    ) -> StoreResult<Vec<ContactRow>> {
        const UPSERT: &str = sql::upsert_contacts!(
            "SELECT u.channel, u.external_id, u.lang, u.display_name, u.contact_data::jsonb, $6, $6 \
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[]) \
               AS u(channel, external_id, lang, display_name, contact_data) \
             ORDER BY u.channel, u.external_id"
        );
        let mut data = Vec::with_capacity(writes.len());
        for contact in writes {
            data.push(contact.contact_data.as_ref().map(serde_json::to_string).transpose()?);
        }
        let written = sqlx::query(UPSERT)
            .bind(writes.iter().map(|c| c.channel.as_str()).collect::<Vec<_>>())
            .bind(writes.iter().map(|c| c.external_id.as_str()).collect::<Vec<_>>())
            .bind(writes.iter().map(|c| c.lang_if_new.code()).collect::<Vec<_>>())
            .bind(codes(writes.iter().map(|c| c.display_name.clone())))
            .bind(data)
            .bind(now)
            .fetch_all(&mut *self.tx)
            .await?;
        written.read(rows::contact)
    }

    /// The conversations of these contacts that exist, locked (in id order) until commit.
    async fn conversations_of(&mut self, contact_ids: &[i64]) -> StoreResult<Vec<ConversationRow>> {
        const LOAD: &str = "SELECT id, contact_id, state, version, flood_opened_at, flood_count \
             FROM conversations WHERE contact_id = ANY($1) ORDER BY id FOR UPDATE";
        sqlx::query(LOAD).bind(contact_ids).fetch_all(&mut *self.tx).await?.read(rows::conversation)
    }

    /// Creates conversations at `initial_state` for contacts that have none. One created
    /// meanwhile by another instance is skipped by ON CONFLICT (and loaded afterwards).
    async fn create_conversations(
        &mut self,
        contact_ids: &[i64],
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<()> {
        const CREATE: &str = "INSERT INTO conversations (contact_id, state, version, created_at, updated_at) \
             SELECT u.id, $2::jsonb, 0, $3, $3 FROM UNNEST($1::bigint[]) AS u(id) ORDER BY u.id \
             ON CONFLICT (contact_id) DO NOTHING";
        sqlx::query(CREATE).bind(contact_ids).bind(initial_state).bind(now).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Writes new states where the version still matches; returns how many rows it changed.
    async fn write_states(&mut self, updates: &[ConversationUpdate], now: Millis) -> StoreResult<u64> {
        let batch = BatchWrites { states: updates, ..BatchWrites::default() };
        Ok(self.write(&batch, now).await?.saved)
    }

    async fn append_messages(&mut self, messages: &[NewMessage]) -> StoreResult<()> {
        if !messages.is_empty() {
            self.write(&BatchWrites { messages, ..BatchWrites::default() }, 0).await?;
        }
        Ok(())
    }

    async fn enqueue(&mut self, outbox: &[NewOutbox]) -> StoreResult<Vec<i64>> {
        if outbox.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.write(&BatchWrites { outbox, ..BatchWrites::default() }, 0).await?.outbox)
    }

    async fn insert_tickets(&mut self, tickets: &[NewTicket]) -> StoreResult<Vec<i64>> {
        if tickets.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.write(&BatchWrites { tickets, ..BatchWrites::default() }, 0).await?.tickets)
    }

    async fn record_faq_outcomes(&mut self, faq_outcomes: &[FaqOutcomeRow]) -> StoreResult<()> {
        if !faq_outcomes.is_empty() {
            self.write(&BatchWrites { faq_outcomes, ..BatchWrites::default() }, 0).await?;
        }
        Ok(())
    }

    /// Withdraws tickets in one statement (see `WriteTx::update_tickets`).
    async fn withdraw_tickets(&mut self, ids: &[i64], now: Millis) -> StoreResult<()> {
        let changes: Vec<(i64, TicketChange)> = ids.iter().map(|&id| (id, TicketChange::Withdraw)).collect();
        self.write(&BatchWrites { ticket_changes: &changes, ..BatchWrites::default() }, now).await?;
        Ok(())
    }

    /// In one statement, unless a new ticket has photos (their rows need the ticket's id) or
    /// a ticket change is not a withdrawal: then the tickets go first, one by one.
    async fn write_batch(&mut self, batch: &BatchWrites<'_>, now: Millis) -> StoreResult<Vec<i64>> {
        let one_statement = batch.tickets.iter().all(|ticket| ticket.draft.photos.is_empty())
            && batch.ticket_changes.iter().all(|(_, change)| *change == TicketChange::Withdraw);
        let rest = if one_statement {
            *batch
        } else {
            super::composed::write_tickets(self, batch, now).await?;
            BatchWrites { tickets: &[], ticket_changes: &[], ..*batch }
        };
        let written = self.write(&rest, now).await?;
        if written.saved != batch.states.len() as u64 {
            return Err(StoreError::Conflict);
        }
        Ok(written.outbox)
    }

    /// Runs [`WRITE_BATCH`]. Ticket changes must all be withdrawals; photos are not written.
    async fn write(&mut self, batch: &BatchWrites<'_>, now: Millis) -> StoreResult<Written> {
        let tickets = batch.tickets;
        let drafts = || tickets.iter().map(|ticket| &ticket.draft);
        let withdrawn: Vec<i64> = batch.ticket_changes.iter().map(|(id, _)| *id).collect();
        let messages = batch.messages;
        let mut bodies = Vec::with_capacity(messages.len());
        let mut attachments = Vec::with_capacity(messages.len());
        for message in messages {
            bodies.push(message.body.as_deref());
            attachments.push(serde_json::to_string(&message.attachments)?);
        }
        let faq = batch.faq_outcomes;
        let states = batch.states;
        let outbox = batch.outbox;
        let mut payloads = Vec::with_capacity(outbox.len());
        for row in outbox {
            payloads.push(serde_json::to_string(&row.payload)?);
        }
        // Delivered at commit, to every instance's workers; rows handed to this process's
        // worker (stored leased) need nobody.
        let notify = outbox.iter().any(|row| row.lease_until.is_none());
        let query = sqlx::query_as(if notify { WRITE_BATCH_AND_NOTIFY } else { WRITE_BATCH })
            .bind(tickets.iter().map(|t| t.conversation_id).collect::<Vec<_>>())
            .bind(tickets.iter().map(|t| t.contact_id).collect::<Vec<_>>())
            .bind(tickets.iter().map(|t| t.status.code()).collect::<Vec<_>>())
            .bind(drafts().map(|d| d.issue.code()).collect::<Vec<_>>())
            .bind(drafts().map(|d| d.order_id.as_ref().map(|id| id.as_str())).collect::<Vec<_>>())
            .bind(drafts().map(|d| d.priority.code()).collect::<Vec<_>>())
            .bind(drafts().map(|d| priority_rank(d.priority)).collect::<Vec<_>>())
            .bind(drafts().map(|d| d.description.as_deref()).collect::<Vec<_>>())
            .bind(tickets.iter().map(|t| t.lang.code()).collect::<Vec<_>>())
            .bind(tickets.iter().map(|t| t.self_served).collect::<Vec<_>>())
            .bind(tickets.iter().map(|t| t.at).collect::<Vec<_>>())
            .bind(
                tickets
                    .iter()
                    .map(|t| (t.status == TicketStatus::Resolved).then_some(t.at))
                    .collect::<Vec<_>>(),
            )
            .bind(now)
            .bind(withdrawn)
            .bind(messages.iter().map(|m| m.conversation_id).collect::<Vec<_>>())
            .bind(messages.iter().map(|m| m.direction.code()).collect::<Vec<_>>())
            .bind(messages.iter().map(|m| m.author.code()).collect::<Vec<_>>())
            .bind(messages.iter().map(|m| m.agent.as_deref()).collect::<Vec<_>>())
            .bind(messages.iter().map(|m| m.text.as_deref()).collect::<Vec<_>>())
            .bind(bodies)
            .bind(attachments)
            .bind(messages.iter().map(|m| m.event_id.as_deref()).collect::<Vec<_>>())
            .bind(messages.iter().map(|m| m.at).collect::<Vec<_>>())
            .bind(faq.iter().map(|o| o.conversation_id).collect::<Vec<_>>())
            .bind(faq.iter().map(|o| o.intent.name()).collect::<Vec<_>>())
            .bind(faq.iter().map(|o| o.helped).collect::<Vec<_>>())
            .bind(faq.iter().map(|o| o.lang.code()).collect::<Vec<_>>())
            .bind(faq.iter().map(|o| o.at).collect::<Vec<_>>())
            .bind(states.iter().map(|u| u.id).collect::<Vec<_>>())
            .bind(states.iter().map(|u| u.state.as_str()).collect::<Vec<_>>())
            .bind(states.iter().map(|u| u.expected_version).collect::<Vec<_>>())
            .bind(states.iter().map(|u| u.flood.opened_at).collect::<Vec<_>>())
            .bind(states.iter().map(|u| i64::from(u.flood.count)).collect::<Vec<_>>())
            .bind(outbox.iter().map(|r| r.conversation_id).collect::<Vec<_>>())
            .bind(outbox.iter().map(|r| r.contact_id).collect::<Vec<_>>())
            .bind(outbox.iter().map(|r| r.channel.as_str()).collect::<Vec<_>>())
            .bind(payloads)
            .bind(outbox.iter().map(|r| r.lang.code()).collect::<Vec<_>>())
            .bind(outbox.iter().map(|r| r.at).collect::<Vec<_>>())
            .bind(outbox.iter().map(|r| r.lease_until).collect::<Vec<_>>());
        let query = if notify { query.bind(OUTBOX_CHANNEL) } else { query };
        let rows: Vec<(String, i64)> = query.fetch_all(&mut *self.tx).await?;
        let mut written = Written::default();
        for (kind, id) in rows {
            match kind.as_str() {
                "ticket" => written.tickets.push(id),
                "outbox" => written.outbox.push(id),
                "saved" => written.saved = u64::try_from(id).unwrap_or(0),
                _ => {}
            }
        }
        // Each part draws its sequence's values row by row in slice order (its ORDER BY), so
        // sorted ids are in slice order.
        written.tickets = super::ticket_ids_in_slice_order(written.tickets, tickets.len())?;
        written.outbox.sort_unstable();
        Ok(written)
    }

    async fn pending_outbox(&mut self, conversation_ids: &[i64]) -> StoreResult<HashMap<i64, Vec<i64>>> {
        Ok(self.open_tickets_and_pending_outbox(&[], conversation_ids).await?.1)
    }

    async fn open_tickets(&mut self, conversation_ids: &[i64]) -> StoreResult<Vec<TicketRow>> {
        Ok(self.open_tickets_and_pending_outbox(conversation_ids, &[]).await?.0)
    }

    /// One statement for both. The pending rows are read by a plain index scan, never the
    /// bitmap scan the planner would pick: the partial index keeps an entry for every row
    /// since sent until VACUUM removes it, and only index scans mark those entries dead as
    /// they pass them. With a bitmap scan each lookup walked all of them again (one run:
    /// 20,000 entries and 5,400 heap pages to find 20 rows). The writer's own connection has
    /// bitmap scans off for good (`writer_for_this_runtime`); a pooled one turns them off for
    /// the rest of the transaction, which reads by key from here on too.
    async fn open_tickets_and_pending_outbox(
        &mut self,
        conversation_ids: &[i64],
        pending_of: &[i64],
    ) -> StoreResult<(Vec<TicketRow>, HashMap<i64, Vec<i64>>)> {
        const BOTH: &str = "SELECT 'ticket' AS kind, id, conversation_id, contact_id, status, assigned_agent, \
             priority, created_at FROM tickets WHERE conversation_id = ANY($1) AND status IN ('queued', 'assigned') \
             UNION ALL SELECT 'outbox', id, conversation_id, NULL, NULL, NULL, NULL, NULL FROM outbox \
             WHERE status = 'pending' AND conversation_id = ANY($2)";
        if conversation_ids.is_empty() && pending_of.is_empty() {
            return Ok((Vec::new(), HashMap::new()));
        }
        if !pending_of.is_empty() && !self.plain_scans {
            sqlx::query("SET LOCAL enable_bitmapscan = off").execute(&mut *self.tx).await?;
            self.plain_scans = true;
        }
        let found =
            sqlx::query(BOTH).bind(conversation_ids).bind(pending_of).fetch_all(&mut *self.tx).await?;
        let mut tickets = Vec::new();
        let mut pending = Vec::new();
        for row in &found {
            if row.text("kind")? == "ticket" {
                tickets.push(rows::ticket(row)?);
            } else {
                pending.push((row.int("conversation_id")?, row.int("id")?));
            }
        }
        Ok((rows::newest_per_conversation(tickets), super::group_ids(pending)))
    }

    /// Locks the ticket's conversation first, then the ticket: the order the inbound path
    /// takes them in, so an agent action and a customer message cannot deadlock.
    async fn ticket_for_update(&mut self, ticket_id: i64) -> StoreResult<Option<TicketRow>> {
        const CONVERSATION: &str = "SELECT id FROM conversations \
             WHERE id = (SELECT conversation_id FROM tickets WHERE id = $1) FOR UPDATE";
        const TICKET: &str = "SELECT id, conversation_id, contact_id, status, assigned_agent, priority, \
             created_at FROM tickets WHERE id = $1 FOR UPDATE";
        sqlx::query(CONVERSATION).bind(ticket_id).fetch_optional(&mut *self.tx).await?;
        sqlx::query(TICKET).bind(ticket_id).fetch_optional(&mut *self.tx).await?.read(rows::ticket)
    }

    async fn attach(&mut self, ticket_id: i64, media: &[MediaRef], now: Millis) -> StoreResult<()> {
        const ATTACH: &str = "INSERT INTO ticket_attachments (ticket_id, sha256, content_type, bytes, created_at) \
             SELECT $1, u.sha256, u.content_type, u.bytes, $2 \
             FROM UNNEST($3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS u(sha256, content_type, bytes, n) \
             ORDER BY u.n ON CONFLICT (ticket_id, sha256) DO NOTHING";
        if media.is_empty() {
            return Ok(());
        }
        sqlx::query(ATTACH)
            .bind(ticket_id)
            .bind(now)
            .bind(media.iter().map(|m| m.sha256.as_str()).collect::<Vec<_>>())
            .bind(media.iter().map(|m| m.content_type.as_str()).collect::<Vec<_>>())
            .bind(media.iter().map(|m| i64::try_from(m.bytes).unwrap_or(i64::MAX)).collect::<Vec<_>>())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.tx.into_inner().commit().await
    }
}

super::shared::impl_store!(PostgresStore, PostgresTx, Postgres, Backend::Postgres);
super::orders::impl_orders!(PostgresStore, PostgresTx);

/// The statements of `shared` that PostgreSQL reads differently: JSON columns are JSONB (cast
/// to text to search them), and rows a transaction changes are locked first.
mod dialect {
    pub(super) const CONVERSATION_FOR_UPDATE: &str = "SELECT id, contact_id, state, version, flood_opened_at, \
         flood_count FROM conversations WHERE id = $1 FOR UPDATE";
    pub(super) const MEDIA_IN_MESSAGES: &str =
        "SELECT EXISTS (SELECT 1 FROM messages WHERE strpos(attachments::text, $1) > 0) AS found";
    pub(super) const CONTACT_HAS_MEDIA: &str = "SELECT EXISTS (SELECT 1 FROM contacts c \
         JOIN conversations v ON v.contact_id = c.id JOIN messages m ON m.conversation_id = v.id \
         WHERE c.channel = $1 AND c.external_id = $2 AND strpos(m.attachments::text, $3) > 0) AS found";
    /// Taken first, like the engine's upsert does: the two never wait on each other in a cycle.
    pub(super) const CONTACT_TO_ERASE: &str =
        "SELECT id FROM contacts WHERE channel = $1 AND external_id = $2 FOR UPDATE";
    pub(super) const THEIR_DOCUMENTS: &str = "SELECT m.attachments::text AS refs FROM messages m \
         JOIN conversations v ON v.id = m.conversation_id WHERE v.contact_id = $1 AND m.attachments <> '[]'::jsonb \
         UNION ALL SELECT payload::text AS refs FROM outbox \
         WHERE contact_id = $1 AND strpos(payload::text, 'sha256') > 0";
    pub(super) const RESET_CONVERSATION: &str = "UPDATE conversations SET state = $2::jsonb, \
         version = version + 1, flood_opened_at = 0, flood_count = 0, updated_at = $3 WHERE contact_id = $1";
    /// See `WriteTx::reset_idle_conversations`: `$1` idle before, `$2` the initial state, `$3`
    /// now, `$4` the limit.
    pub(super) const RESET_IDLE_CONVERSATIONS: &str = "UPDATE conversations SET state = $2::jsonb, \
         version = version + 1, flood_opened_at = 0, flood_count = 0, updated_at = $3 WHERE id IN \
         (SELECT v.id FROM conversations v WHERE v.updated_at < $1 AND v.state <> $2::jsonb \
           AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.conversation_id = v.id \
             AND t.status IN ('queued', 'assigned')) \
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = v.id AND m.created_at >= $1) \
         ORDER BY v.id LIMIT $4)";
    pub(super) const REFERENCED_MEDIA: &str = "SELECT attachments::text AS refs FROM messages \
         WHERE attachments <> '[]'::jsonb \
         UNION ALL SELECT payload::text AS refs FROM outbox WHERE strpos(payload::text, 'sha256') > 0 \
         UNION ALL SELECT DISTINCT sha256 AS refs FROM ticket_attachments \
         UNION ALL SELECT photo_sha256 AS refs FROM agents WHERE photo_sha256 IS NOT NULL";
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::config::{ProcessEnv, Source as _};

    /// Needs a server: runs when `SWITCHBOARD_TEST_POSTGRES` names one (as CI does).
    #[tokio::test]
    async fn pool_connections_have_nagle_off() {
        let Some(url) = ProcessEnv.get("SWITCHBOARD_TEST_POSTGRES") else {
            eprintln!("skipped: SWITCHBOARD_TEST_POSTGRES is not set (PostgreSQL tests skipped)");
            return;
        };
        let server_port = url.parse::<PgConnectOptions>().unwrap().get_port();
        let store = PostgresStore::connect(&url, &ConnectOptions::default()).await.unwrap();
        // Several connections at once, so more than the pool's first one is checked.
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(store.pool.acquire().await.unwrap());
        }
        for conn in &mut held {
            let port: Option<i32> =
                sqlx::query_scalar("SELECT inet_client_port()").fetch_one(&mut **conn).await.unwrap();
            let local_port = u16::try_from(port.expect("a TCP connection")).unwrap();
            assert_eq!(
                tcp_nodelay::is_set(local_port, server_port).unwrap(),
                Some(true),
                "port {local_port}"
            );
        }
        drop(held);
        store.close().await;
    }

    /// Delivery outcomes commit without waiting for the disk; the engine's commits still wait.
    #[tokio::test]
    async fn only_bookkeeping_connections_commit_asynchronously() {
        let Some(url) = ProcessEnv.get("SWITCHBOARD_TEST_POSTGRES") else {
            eprintln!("skipped: SWITCHBOARD_TEST_POSTGRES is not set (PostgreSQL tests skipped)");
            return;
        };
        let store = PostgresStore::connect(&url, &ConnectOptions::default()).await.unwrap();
        let show = "SHOW synchronous_commit";
        let bookkeeping: String = sqlx::query_scalar(show).fetch_one(&store.bookkeeping).await.unwrap();
        let engine: String = sqlx::query_scalar(show).fetch_one(&store.pool).await.unwrap();
        assert_eq!(bookkeeping, "off");
        assert_ne!(engine, "off");
        store.close().await;
    }
}
