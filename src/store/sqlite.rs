//! The embedded backend: one SQLite file in WAL mode.
//!
//! Batch writes pass their rows as one JSON array and expand it with `jsonb_each`, so every
//! statement text is static (prepared once, cached by sqlx) whatever the batch size. (`jsonb_`
//! rather than `json_`: its elements stay in SQLite's binary JSON, so `value ->> N` reads a
//! field without parsing the element's text again for every column.) Batch reads on the write
//! path fold their rows into one JSON array, so sqlx hands over one row instead of hundreds.

use super::composed;
use super::counted::Counted;
use super::own_connection::{Conn, OwnConnection};
use super::rows::{self, ReadRows, RowExt};
use super::sql;
use super::{
    Backend, BatchWrites, ConnectOptions, ContactRow, ContactUpsert, ConversationRow, ConversationUpdate,
    DeliveryOutcome, EventKey, FaqOutcomeRow, Millis, NewMessage, NewOutbox, NewTicket, OutboxClaim,
    OutboxJob, Store, StoreError, StoreResult, TicketRow, WriteTx, priority_rank,
};
use crate::core::handoff::TicketStatus;
use crate::core::message::MediaRef;
use serde_json::{Value, json};
use sqlx::Sqlite;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

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
    /// For reads.
    pool: SqlitePool,
    /// Copies the log back into the database file beside the writer; see
    /// [`checkpoint_in_the_background`].
    checkpointer: tokio::task::JoinHandle<()>,
    /// The one connection every write of this process goes through: the engine's transactions
    /// and the outbox's "sent" marks. In WAL mode a connection drops its whole page cache when
    /// it begins a transaction after another connection has committed, so with the engine and
    /// the marks on two connections every batch started cold and read each B-tree page it
    /// touched back from the OS. Writes queue for the one write lock anyway (`write_lock`),
    /// so one connection costs no concurrency.
    writer: Arc<OwnConnection<SqliteConnection>>,
    /// The configured `synchronous` level, which every write transaction on `writer` starts
    /// with (see [`SqliteStore::mark_sent`] for why it is set each time).
    durability: SqliteDurability,
    /// One connection with `synchronous=NORMAL` for the rarer outbox bookkeeping: claims with
    /// their leases, retries, dead letters. Losing such a commit to a power loss only means a
    /// reply is sent again, which the outbox allows anyway (a crash between sending and marking
    /// does the same). It never weakens the engine's commits: in WAL mode the next FULL commit
    /// fsyncs the log, and every frame written before it, so nothing an engine commit relies on
    /// can be lost.
    bookkeeping: SqlitePool,
    /// "Sent" marks waiting for the write lock; see [`SqliteStore::mark_sent`].
    marks: Arc<std::sync::Mutex<Vec<PendingMark>>>,
    /// How many write transactions on `writer` have begun or wait for the write lock; see
    /// [`WriterTurn`].
    writer_turns: Arc<watch::Sender<usize>>,
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
            // Multi-row statements keep a statement journal for a partial rollback; in memory
            // it costs no file writes (it is never needed after a crash).
            .pragma("temp_store", "memory")
            // Checkpoint every ~32 MiB of log instead of every 4 MiB: pages rewritten by many
            // batches (conversations, outbox rows, index leaves) are copied back to the database
            // once per checkpoint, so fewer checkpoints mean less copying and fewer fsyncs.
            .pragma("wal_autocheckpoint", "8000")
            // Deleted content is overwritten with zeros, so text that retention or erasure
            // removed is not left readable in free space of the file (with
            // `PrivacyStore::flush_deletions` for the log). On every connection and for every
            // delete: a page split or an update frees space too, and a copy left there by any
            // earlier write would outlive the row's erasure. The pages written anyway are
            // zeroed in place; only freed whole pages cost a write of their own.
            .pragma("secure_delete", "on")
            .foreign_keys(true);
        let pool = pool_options(options.max_connections.max(2)).connect_with(connect.clone()).await?;
        // The writer leaves checkpoints to `checkpointer` (below): done by the committing
        // connection, a checkpoint of ~32 MiB of log held the engine's commit for tens of
        // milliseconds. Its own limit is only a backstop, should the checkpointer fall behind.
        let writer_options = connect
            .clone()
            .pragma("wal_autocheckpoint", WRITER_CHECKPOINT_BACKSTOP)
            // 8 MiB of page cache for the writer (SQLite's default, which the readers keep,
            // is 2 MiB): its working set (indexes, the newest log and outbox pages) stays in
            // memory instead of being read back from the OS on every batch.
            .pragma("cache_size", "-8192");
        // Outside any pool (see `own_connection`).
        let writer = OwnConnection::open(Box::new(move || {
            let options = writer_options.clone();
            Box::pin(async move { Ok(sqlx::ConnectOptions::connect(&options).await?) })
        }))
        .await?;
        let bookkeeping =
            pool_options(1).connect_with(connect.synchronous(SqliteSynchronous::Normal)).await?;
        let checkpointer = tokio::spawn(checkpoint_in_the_background(bookkeeping.clone()));
        Ok(SqliteStore {
            pool,
            checkpointer,
            writer,
            durability: options.sqlite_durability,
            bookkeeping,
            marks: Arc::default(),
            writer_turns: Arc::new(watch::Sender::new(0)),
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    /// A write transaction on the writer connection, at the configured durability.
    async fn begin_immediate(&self) -> StoreResult<SqliteTx> {
        let begin = match self.durability {
            SqliteDurability::Full => "PRAGMA synchronous = FULL; BEGIN IMMEDIATE",
            SqliteDurability::Normal => "PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE",
        };
        let turn = WriterTurn::enter(&self.writer_turns);
        let guard = Arc::clone(&self.write_lock).lock_owned().await;
        let tx = Conn::Own(self.writer.begin(begin).await?);
        Ok(SqliteTx {
            tx: Counted::new(tx, 1),
            on_writer: Some(OnWriter { marks: Arc::clone(&self.marks), _turn: turn }),
            _guard: guard,
        })
    }

    async fn begin_on(&self, pool: &SqlitePool) -> StoreResult<SqliteTx> {
        let guard = Arc::clone(&self.write_lock).lock_owned().await;
        let tx = Conn::Pooled(pool.begin_with("BEGIN IMMEDIATE").await?);
        Ok(SqliteTx { tx: Counted::new(tx, 1), on_writer: None, _guard: guard })
    }

    /// Marks delivered rows sent. While a write transaction on the writer connection (the
    /// engine's) is under way or waiting to begin, the marks wait for it and go into its commit
    /// (see `SqliteTx::commit`). Only when there is none does this call take the write lock and
    /// write every mark waiting by then, in one transaction on the writer connection with
    /// `synchronous=NORMAL` (the reasoning is at `bookkeeping`; the next write transaction sets
    /// the configured level again, since each begins by setting it).
    ///
    /// So under load most marks cost no commit of their own, and a transaction that begins to wait
    /// for the lock does not queue behind marks that could go with it: the task writing marks
    /// runs on the shared runtime, and while it held the write lock each of its wake-ups queued
    /// behind that runtime's deliveries, with the engine's next `BEGIN` waiting behind it. Marks
    /// still write on their own in the moments between two of the engine's transactions.
    async fn mark_sent(&self, ids: &[i64], now: Millis) -> StoreResult<()> {
        let (done, written) = tokio::sync::oneshot::channel();
        let mut turns = self.writer_turns.subscribe();
        lock_marks(&self.marks).push(PendingMark { ids: ids.to_vec(), at: now, done });
        let mut written = written;
        let writer_idle = async {
            loop {
                // The store holds the sender, so this waits for no transaction, not for an error.
                let _ = turns.wait_for(|&turns| turns == 0).await;
                let guard = self.write_lock.lock().await;
                // A transaction that began to wait while this call queued for the lock takes
                // the marks into its commit; writing them first would hold it up.
                if *turns.borrow() == 0 {
                    break guard;
                }
            }
        };
        tokio::select! {
            biased;
            result = &mut written => return result.unwrap_or(Err(StoreError::Corrupt("a sent mark was dropped".into()))),
            _guard = writer_idle => {
                let marks = std::mem::take(&mut *lock_marks(&self.marks));
                if !marks.is_empty() {
                    let result = self.write_marks(&marks).await;
                    settle_marks(marks, &result);
                }
            }
        }
        written.await.unwrap_or(Err(StoreError::Corrupt("a sent mark was dropped".into())))
    }

    /// Writes `marks` in a transaction of their own, without an fsync; the caller holds the
    /// write lock.
    async fn write_marks(&self, marks: &[PendingMark]) -> StoreResult<()> {
        let json = marks_json(marks)?;
        let mut tx = self.writer.begin("PRAGMA synchronous = NORMAL; BEGIN IMMEDIATE").await?;
        sqlx::query(MARK_SENT).bind(json).execute(&mut *tx).await?;
        tx.commit().await
    }
}

/// Pool settings shared by every pool. A pooled connection is not checked before it is handed
/// out: an embedded database has no server or network to lose, so the check (a round trip to
/// the connection's worker thread) found nothing, while each of the writer's transactions and
/// marks paid for it. sqlx still checks a connection when it comes back, which also sends the
/// rollback of a transaction dropped without a commit.
fn pool_options(max_connections: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new().max_connections(max_connections).test_before_acquire(false)
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.checkpointer.abort();
    }
}

/// The writer connection's automatic checkpoint, in pages of log (4 KiB each): far above what
/// the background checkpointer lets the log reach.
const WRITER_CHECKPOINT_BACKSTOP: &str = "32000";

/// How often the background checkpointer looks at the log.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(200);

/// Runs passive checkpoints on `connection` (not the writer's) every [`CHECKPOINT_INTERVAL`]
/// until the store closes. A passive checkpoint never waits for or blocks the writer: it
/// copies the frames committed so far into the database file while commits go on, and once
/// it has copied them all the writer starts the log from its beginning again. Failures
/// (the file busy with another process's checkpoint) are retried at the next interval.
async fn checkpoint_in_the_background(connection: SqlitePool) {
    let mut interval = tokio::time::interval(CHECKPOINT_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        if connection.is_closed() {
            return;
        }
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&connection).await {
            tracing::debug!(%error, "a background checkpoint failed; retrying at the next interval");
        }
    }
}

/// A "sent" mark waiting to be written, and who waits for it.
struct PendingMark {
    ids: Vec<i64>,
    at: Millis,
    done: tokio::sync::oneshot::Sender<StoreResult<()>>,
}

/// Marks rows sent, each at its own time: `$1` is a JSON array of `[id, sent_at]`.
const MARK_SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = m.value ->> 1, lease_until = NULL \
     FROM jsonb_each($1) AS m WHERE outbox.id = m.value ->> 0";

fn lock_marks(marks: &std::sync::Mutex<Vec<PendingMark>>) -> std::sync::MutexGuard<'_, Vec<PendingMark>> {
    marks.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn marks_json(marks: &[PendingMark]) -> StoreResult<String> {
    let pairs: Vec<(i64, Millis)> =
        marks.iter().flat_map(|mark| mark.ids.iter().map(move |&id| (id, mark.at))).collect();
    Ok(serde_json::to_string(&pairs)?)
}

/// Tells everyone waiting for these marks how the write went.
fn settle_marks(marks: Vec<PendingMark>, result: &Result<(), impl std::fmt::Display>) {
    for mark in marks {
        let answer = match result {
            Ok(()) => Ok(()),
            Err(error) => Err(StoreError::Corrupt(format!("recording sent rows failed: {error}"))),
        };
        let _ = mark.done.send(answer);
    }
}

/// What only SQLite does; the rest of [`Store`] is `shared`.
impl SqliteStore {
    async fn begin(&self) -> StoreResult<Box<dyn WriteTx>> {
        Ok(Box::new(self.begin_immediate().await?))
    }

    /// Every runtime may use the store's own connections: sqlx runs SQLite's on threads of its
    /// own.
    async fn writer_for_this_runtime(&self) -> StoreResult<Option<Box<dyn Store>>> {
        Ok(None)
    }

    async fn set_cursor(&self, name: &str, value: &str, now: Millis) -> StoreResult<()> {
        let mut tx = self.begin_immediate().await?;
        WriteTx::set_cursor(&mut tx, name, value, now).await?;
        tx.tx.into_inner().commit().await?;
        Ok(())
    }

    /// Leases the rows of `claim`; see `Store::claim_outbox`.
    async fn claim(&self, claim: OutboxClaim<'_>) -> StoreResult<Vec<OutboxJob>> {
        const CANDIDATES: &str = concat!(
            "SELECT json_group_array(json_array(id, conversation_id, contact_id, channel, external_id, ",
            "contact_data, lang, payload, attempts)) AS due FROM (",
            sql::due_outbox!("o.channel IN (SELECT value FROM jsonb_each($1))"),
            ")"
        );
        const CANDIDATES_OF_CONTACT: &str = concat!(
            "SELECT json_group_array(json_array(id, conversation_id, contact_id, channel, external_id, ",
            "contact_data, lang, payload, attempts)) AS due FROM (",
            sql::due_outbox!("o.channel IN (SELECT value FROM jsonb_each($1)) AND c.external_id = $4"),
            ")"
        );
        const LEASE: &str =
            "UPDATE outbox SET lease_until = $1 WHERE id IN (SELECT value FROM jsonb_each($2))";
        let mut tx = self.begin_on(&self.bookkeeping).await?;
        let names = serde_json::to_string(claim.channels)?;
        let query = claim.due_rows(CANDIDATES, CANDIDATES_OF_CONTACT, names);
        let found = query.fetch_one(&mut *tx.tx).await?;
        let mut jobs = aggregate::<Vec<OutboxTuple>>(found, "due")?
            .into_iter()
            .map(job_from_tuple)
            .collect::<StoreResult<Vec<_>>>()?;
        jobs.sort_by_key(|job| job.id);
        if !jobs.is_empty() {
            let ids = serde_json::to_string(&jobs.iter().map(|job| job.id).collect::<Vec<_>>())?;
            sqlx::query(LEASE).bind(claim.until).bind(ids).execute(&mut *tx.tx).await?;
        }
        tx.tx.into_inner().commit().await?;
        Ok(jobs)
    }

    /// Records outcomes of which some failed, in one transaction on the bookkeeping connection.
    async fn finish_mixed(
        &self,
        sent: &[i64],
        outcomes: &[(OutboxJob, DeliveryOutcome)],
        now: Millis,
    ) -> StoreResult<()> {
        const SENT: &str = "UPDATE outbox SET status = 'sent', sent_at = $1, lease_until = NULL \
             WHERE id IN (SELECT value FROM jsonb_each($2))";
        let mut tx = self.begin_on(&self.bookkeeping).await?;
        if !sent.is_empty() {
            sqlx::query(SENT).bind(now).bind(serde_json::to_string(sent)?).execute(&mut *tx.tx).await?;
        }
        record_failures(&mut tx.tx, outcomes, now).await?;
        tx.tx.into_inner().commit().await?;
        Ok(())
    }

    async fn listen_for_outbox(&self, _wake: Arc<tokio::sync::Notify>) -> StoreResult<()> {
        Ok(())
    }

    async fn release_abandoned_leases(&self) -> StoreResult<u64> {
        const RELEASE: &str =
            "UPDATE outbox SET lease_until = NULL WHERE status = 'pending' AND lease_until IS NOT NULL";
        Ok(sqlx::query(RELEASE).execute(&self.pool).await?.rows_affected())
    }

    /// Copies the write-ahead log into the database file and truncates the log, so the old
    /// page images it holds (deleted text among them) are gone; see
    /// `PrivacyStore::flush_deletions`. This process's writers wait meanwhile (the write lock);
    /// readers and other processes are waited for up to the busy timeout.
    async fn flush_deletions(&self) -> StoreResult<bool> {
        let _writers_wait = self.write_lock.lock().await;
        let busy: i64 =
            sqlx::query_scalar("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.bookkeeping).await?;
        Ok(busy == 0)
    }

    /// One process owns the file, so it always leads (see `leader`).
    async fn try_lead(&self, name: &str) -> StoreResult<Option<super::Leadership>> {
        Ok(Some(super::Leadership::sole_process(name)))
    }

    async fn close(&self) {
        self.checkpointer.abort();
        self.bookkeeping.close().await;
        self.writer.close().await;
        self.pool.close().await;
    }
}

struct SqliteTx {
    tx: Counted<Conn<Sqlite>>,
    /// Only on the writer connection.
    on_writer: Option<OnWriter>,
    _guard: OwnedMutexGuard<()>,
}

/// What a transaction on the writer connection has besides the connection.
struct OnWriter {
    /// The store's waiting "sent" marks, taken into the commit.
    marks: Arc<std::sync::Mutex<Vec<PendingMark>>>,
    /// Counted until the commit (or the rollback) is over.
    _turn: WriterTurn,
}

/// A write transaction on the writer connection, from before it waits for the write lock
/// until it is over. While any is counted, "sent" marks leave the lock to it and wait to be
/// written with its commit ([`SqliteStore::mark_sent`]); marks that come after the commit took
/// the waiting ones go into the next transaction's, or, if none is counted by the time this one
/// ends, are written by their own caller.
struct WriterTurn(Arc<watch::Sender<usize>>);

impl WriterTurn {
    fn enter(turns: &Arc<watch::Sender<usize>>) -> WriterTurn {
        turns.send_modify(|turns| *turns += 1);
        WriterTurn(Arc::clone(turns))
    }
}

impl Drop for WriterTurn {
    fn drop(&mut self) {
        self.0.send_modify(|turns| *turns -= 1);
    }
}

/// What only SQLite does; the rest of [`WriteTx`] is `shared`.
impl SqliteTx {
    fn commit_round_trips(&self) -> u64 {
        1
    }

    async fn record_events_at(
        &mut self,
        keys: &[EventKey],
        cursors: &[(&str, &str)],
        now: Millis,
    ) -> StoreResult<Vec<bool>> {
        composed::record_events_at(self, keys, cursors, now).await
    }

    async fn contacts_and_conversations(
        &mut self,
        contacts: &[ContactUpsert],
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<(Vec<ContactRow>, Vec<ConversationRow>)> {
        composed::contacts_and_conversations(self, contacts, initial_state, now).await
    }

    async fn open_tickets_and_pending_outbox(
        &mut self,
        conversation_ids: &[i64],
        pending_of: &[i64],
    ) -> StoreResult<(Vec<TicketRow>, HashMap<i64, Vec<i64>>)> {
        composed::open_tickets_and_pending_outbox(self, conversation_ids, pending_of).await
    }

    async fn write_batch(&mut self, batch: &BatchWrites<'_>, now: Millis) -> StoreResult<Vec<i64>> {
        composed::write_batch(self, batch, now).await
    }

    async fn record_events(&mut self, keys: &[EventKey], now: Millis) -> StoreResult<Vec<bool>> {
        // One result row naming the redeliveries, then a plain insert of the rest: cheaper than
        // a RETURNING row per key, and safe because `BEGIN IMMEDIATE` holds the write lock.
        const SEEN: &str = "SELECT json_group_array(k.key) AS seen FROM jsonb_each($1) AS k \
             JOIN processed_events p ON p.channel = k.value ->> 0 AND p.event_id = k.value ->> 1";
        // `WHERE true` tells SQLite's parser that ON CONFLICT belongs to the INSERT.
        const RECORD: &str = "INSERT INTO processed_events (channel, event_id, processed_at) \
             SELECT value ->> 0, value ->> 1, $1 FROM jsonb_each($2) WHERE true ON CONFLICT DO NOTHING";
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let batch: Vec<(&str, &str)> =
            keys.iter().map(|key| (key.channel.as_str(), key.event_id.as_str())).collect();
        let batch = serde_json::to_string(&batch)?;
        let seen: Vec<usize> =
            aggregate(sqlx::query(SEEN).bind(&batch).fetch_one(&mut *self.tx).await?, "seen")?;
        let mut fresh = vec![true; keys.len()];
        for index in seen {
            if let Some(slot) = fresh.get_mut(index) {
                *slot = false;
            }
        }
        let new: Vec<(&str, &str)> = keys
            .iter()
            .zip(&fresh)
            .filter(|(_, fresh)| **fresh)
            .map(|(key, _)| (key.channel.as_str(), key.event_id.as_str()))
            .collect();
        if !new.is_empty() {
            sqlx::query(RECORD).bind(now).bind(serde_json::to_string(&new)?).execute(&mut *self.tx).await?;
        }
        Ok(fresh)
    }

    /// The stored contacts among these keys.
    async fn find_contacts(&mut self, contacts: &[ContactUpsert]) -> StoreResult<Vec<ContactRow>> {
        const FIND: &str = "SELECT json_group_array(json_array(c.id, c.channel, c.external_id, c.lang, \
             c.language_chosen, c.reachable, c.display_name, c.contact_data)) AS found \
             FROM jsonb_each($1) AS k JOIN contacts c ON c.channel = k.value ->> 0 AND c.external_id = k.value ->> 1";
        let keys: Vec<(&str, &str)> =
            contacts.iter().map(|c| (c.channel.as_str(), c.external_id.as_str())).collect();
        let found = sqlx::query(FIND).bind(serde_json::to_string(&keys)?).fetch_one(&mut *self.tx).await?;
        aggregate::<Vec<ContactTuple>>(found, "found")?.into_iter().map(contact_from_tuple).collect()
    }

    /// Inserts new contacts and updates the name and data of known ones; returns their rows.
    async fn write_contacts(
        &mut self,
        writes: &[&ContactUpsert],
        now: Millis,
    ) -> StoreResult<Vec<ContactRow>> {
        const UPSERT: &str = sql::upsert_contacts!(
            "SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, $1, $1 \
             FROM jsonb_each($2) WHERE true"
        );
        let mut batch = Vec::with_capacity(writes.len());
        for contact in writes {
            let data = contact.contact_data.as_ref().map(serde_json::to_string).transpose()?;
            batch.push((
                contact.channel.as_str(),
                contact.external_id.as_str(),
                contact.lang_if_new.code(),
                contact.display_name.as_deref(),
                data,
            ));
        }
        let written = sqlx::query(UPSERT)
            .bind(now)
            .bind(serde_json::to_string(&batch)?)
            .fetch_all(&mut *self.tx)
            .await?;
        written.read(rows::contact)
    }

    /// The conversations of these contacts that exist.
    async fn conversations_of(&mut self, contact_ids: &[i64]) -> StoreResult<Vec<ConversationRow>> {
        const LOAD: &str = "SELECT json_group_array(json_array(id, contact_id, state, version, flood_opened_at, \
             flood_count)) AS found FROM conversations WHERE contact_id IN (SELECT value FROM jsonb_each($1))";
        let found =
            sqlx::query(LOAD).bind(serde_json::to_string(contact_ids)?).fetch_one(&mut *self.tx).await?;
        Ok(aggregate::<Vec<ConversationTuple>>(found, "found")?
            .into_iter()
            .map(conversation_from_tuple)
            .collect())
    }

    /// Creates conversations at `initial_state` for contacts that have none.
    async fn create_conversations(
        &mut self,
        contact_ids: &[i64],
        initial_state: &str,
        now: Millis,
    ) -> StoreResult<()> {
        const CREATE: &str = "INSERT INTO conversations (contact_id, state, version, created_at, updated_at) \
             SELECT value, $1, 0, $2, $2 FROM jsonb_each($3) WHERE true ON CONFLICT (contact_id) DO NOTHING";
        let ids = serde_json::to_string(contact_ids)?;
        sqlx::query(CREATE).bind(initial_state).bind(now).bind(ids).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Writes new states where the version still matches; returns how many rows it changed.
    async fn write_states(&mut self, updates: &[ConversationUpdate], now: Millis) -> StoreResult<u64> {
        const SAVE: &str = "UPDATE conversations SET state = u.value ->> 1, version = version + 1, updated_at = $1, \
             flood_opened_at = u.value ->> 3, flood_count = u.value ->> 4 FROM jsonb_each($2) AS u \
             WHERE conversations.id = u.value ->> 0 AND conversations.version = u.value ->> 2";
        let batch: Vec<(i64, &str, i64, i64, u32)> = updates
            .iter()
            .map(|u| (u.id, u.state.as_str(), u.expected_version, u.flood.opened_at, u.flood.count))
            .collect();
        let done =
            sqlx::query(SAVE).bind(now).bind(serde_json::to_string(&batch)?).execute(&mut *self.tx).await?;
        Ok(done.rows_affected())
    }

    async fn append_messages(&mut self, messages: &[NewMessage]) -> StoreResult<()> {
        const APPEND: &str = "INSERT INTO messages (conversation_id, direction, author, agent, text, body, \
             attachments, event_id, created_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
             value ->> 7, value ->> 8 FROM jsonb_each($1) ORDER BY key";
        if messages.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(messages.len());
        for message in messages {
            batch.push((
                message.conversation_id,
                message.direction.code(),
                message.author.code(),
                message.agent.as_deref(),
                message.text.as_deref(),
                message.body.as_deref(),
                serde_json::to_string(&message.attachments)?,
                message.event_id.as_deref(),
                message.at,
            ));
        }
        sqlx::query(APPEND).bind(serde_json::to_string(&batch)?).execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn enqueue(&mut self, outbox: &[NewOutbox]) -> StoreResult<Vec<i64>> {
        const ENQUEUE: &str = "INSERT INTO outbox (conversation_id, contact_id, channel, payload, lang, status, \
             attempts, next_attempt_at, lease_until, created_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, 'pending', 0, \
             value ->> 5, value ->> 6, value ->> 5 FROM jsonb_each($1) ORDER BY key";
        if outbox.is_empty() {
            return Ok(Vec::new());
        }
        let mut batch = Vec::with_capacity(outbox.len());
        for row in outbox {
            batch.push((
                row.conversation_id,
                row.contact_id,
                row.channel.as_str(),
                serde_json::to_string(&row.payload)?,
                row.lang.code(),
                row.at,
                row.lease_until,
            ));
        }
        let done = sqlx::query(ENQUEUE).bind(serde_json::to_string(&batch)?).execute(&mut *self.tx).await?;
        // The rows went in one after another, in slice order, and SQLite gives each new row one
        // more than the largest id so far (`BEGIN IMMEDIATE` holds the write lock, so nobody
        // else inserts in between): their ids are the run ending at the last one. That saves a
        // RETURNING row per outbox row.
        let count =
            i64::try_from(outbox.len()).map_err(|_| StoreError::Corrupt("outbox batch too large".into()))?;
        let last = done.last_insert_rowid();
        if done.rows_affected() != outbox.len() as u64 || last < count {
            return Err(StoreError::Corrupt(format!(
                "outbox insert gave {} rows ending at id {last}",
                done.rows_affected()
            )));
        }
        Ok((last - count + 1..=last).collect())
    }

    async fn pending_outbox(&mut self, conversation_ids: &[i64]) -> StoreResult<HashMap<i64, Vec<i64>>> {
        const PENDING: &str = "SELECT json_group_array(json_array(o.conversation_id, o.id)) AS pending \
             FROM jsonb_each($1) AS c JOIN outbox o ON o.conversation_id = c.value AND o.status = 'pending'";
        if conversation_ids.is_empty() {
            return Ok(HashMap::new());
        }
        let found = sqlx::query(PENDING)
            .bind(serde_json::to_string(conversation_ids)?)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(super::group_ids(aggregate::<Vec<(i64, i64)>>(found, "pending")?))
    }

    async fn open_tickets(&mut self, conversation_ids: &[i64]) -> StoreResult<Vec<TicketRow>> {
        const OPEN: &str = "SELECT json_group_array(json_array(id, conversation_id, contact_id, status, \
             assigned_agent, priority, created_at)) AS open FROM tickets \
             WHERE conversation_id IN (SELECT value FROM jsonb_each($1)) AND status IN ('queued', 'assigned')";
        if conversation_ids.is_empty() {
            return Ok(Vec::new());
        }
        let found =
            sqlx::query(OPEN).bind(serde_json::to_string(conversation_ids)?).fetch_one(&mut *self.tx).await?;
        let tuples: Vec<TicketTuple> = aggregate(found, "open")?;
        let tickets = tuples.into_iter().map(ticket_from_tuple).collect::<StoreResult<Vec<_>>>()?;
        Ok(rows::newest_per_conversation(tickets))
    }

    async fn ticket_for_update(&mut self, ticket_id: i64) -> StoreResult<Option<TicketRow>> {
        let query = sqlx::query(sql::TICKET_COLUMNS_BY_ID).bind(ticket_id);
        query.fetch_optional(&mut *self.tx).await?.read(rows::ticket)
    }

    async fn insert_tickets(&mut self, tickets: &[NewTicket]) -> StoreResult<Vec<i64>> {
        const INSERT: &str = "INSERT INTO tickets (conversation_id, contact_id, status, issue_type, order_id, \
             priority, priority_rank, description, lang, self_served, created_at, updated_at, resolved_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, \
             value ->> 7, value ->> 8, value ->> 9, value ->> 10, value ->> 10, value ->> 11 \
             FROM jsonb_each($1) ORDER BY key RETURNING id";
        if tickets.is_empty() {
            return Ok(Vec::new());
        }
        let batch: Vec<_> = tickets
            .iter()
            .map(|ticket| {
                let draft = &ticket.draft;
                (
                    ticket.conversation_id,
                    ticket.contact_id,
                    ticket.status.code(),
                    draft.issue.code(),
                    draft.order_id.as_ref().map(|id| id.as_str()),
                    draft.priority.code(),
                    priority_rank(draft.priority),
                    draft.description.as_deref(),
                    ticket.lang.code(),
                    ticket.self_served,
                    ticket.at,
                    (ticket.status == TicketStatus::Resolved).then_some(ticket.at),
                )
            })
            .collect();
        let ids =
            sqlx::query_scalar(INSERT).bind(serde_json::to_string(&batch)?).fetch_all(&mut *self.tx).await?;
        // Rows are inserted in slice order under the write lock, and a rowid table gives each
        // new row the next id.
        super::ticket_ids_in_slice_order(ids, tickets.len())
    }

    async fn attach(&mut self, ticket_id: i64, media: &[MediaRef], now: Millis) -> StoreResult<()> {
        const ATTACH: &str = "INSERT INTO ticket_attachments (ticket_id, sha256, content_type, bytes, created_at) \
             SELECT $1, value ->> 0, value ->> 1, value ->> 2, $2 FROM jsonb_each($3) WHERE true \
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

    async fn record_faq_outcomes(&mut self, outcomes: &[FaqOutcomeRow]) -> StoreResult<()> {
        const RECORD: &str = "INSERT INTO faq_outcomes (conversation_id, intent, helped, lang, created_at) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4 FROM jsonb_each($1) ORDER BY key";
        if outcomes.is_empty() {
            return Ok(());
        }
        let batch: Vec<(i64, &str, bool, &str, Millis)> = outcomes
            .iter()
            .map(|o| (o.conversation_id, o.intent.name(), o.helped, o.lang.code(), o.at))
            .collect();
        sqlx::query(RECORD).bind(serde_json::to_string(&batch)?).execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Withdraws tickets in one statement (see `WriteTx::update_tickets`).
    async fn withdraw_tickets(&mut self, ids: &[i64], now: Millis) -> StoreResult<()> {
        const WITHDRAW: &str = "UPDATE tickets SET status = 'resolved', withdrawn = TRUE, resolved_at = $1, \
             updated_at = $1 WHERE id IN (SELECT value FROM jsonb_each($2))";
        sqlx::query(WITHDRAW).bind(now).bind(serde_json::to_string(ids)?).execute(&mut *self.tx).await?;
        Ok(())
    }

    async fn commit(self: Box<Self>) -> StoreResult<()> {
        let SqliteTx { tx, on_writer, _guard } = *self;
        let mut tx = tx.into_inner();
        // Marks that queued for the write lock while this transaction ran go in with it; their
        // writers learn the outcome here and write nothing themselves.
        let Some(OnWriter { marks: queue, _turn }) = on_writer else {
            tx.commit().await?;
            return Ok(());
        };
        let taken = std::mem::take(&mut *lock_marks(&queue));
        if taken.is_empty() {
            tx.commit().await?;
            return Ok(());
        }
        let written = match marks_json(&taken) {
            Ok(json) => sqlx::query(MARK_SENT).bind(json).execute(&mut *tx).await.map(drop),
            Err(error) => {
                lock_marks(&queue).extend(taken);
                return Err(error);
            }
        };
        let committed = match written {
            Ok(()) => tx.commit().await,
            Err(error) => Err(error.into()),
        };
        match committed {
            Ok(()) => {
                settle_marks(taken, &StoreResult::Ok(()));
                Ok(())
            }
            Err(error) => {
                // Nothing of this transaction is stored, the marks included: they wait again,
                // and their writers write them once this lock is free.
                lock_marks(&queue).extend(taken);
                Err(error)
            }
        }
    }
}

super::shared::impl_store!(SqliteStore, SqliteTx, Sqlite, Backend::Sqlite);
super::orders::impl_orders!(SqliteStore, SqliteTx);

/// The statements of `shared` that SQLite reads differently: JSON columns are TEXT, and there
/// are no row locks (the one write lock serialises writers).
mod dialect {
    pub(super) const CONVERSATION_FOR_UPDATE: &str = "SELECT id, contact_id, state, version, flood_opened_at, \
         flood_count FROM conversations WHERE id = $1";
    pub(super) const MEDIA_IN_MESSAGES: &str =
        "SELECT EXISTS (SELECT 1 FROM messages WHERE instr(attachments, $1) > 0) AS found";
    pub(super) const CONTACT_HAS_MEDIA: &str = "SELECT EXISTS (SELECT 1 FROM contacts c \
         JOIN conversations v ON v.contact_id = c.id JOIN messages m ON m.conversation_id = v.id \
         WHERE c.channel = $1 AND c.external_id = $2 AND instr(m.attachments, $3) > 0) AS found";
    pub(super) const CONTACT_TO_ERASE: &str =
        "SELECT id FROM contacts WHERE channel = $1 AND external_id = $2";
    pub(super) const THEIR_DOCUMENTS: &str = "SELECT m.attachments AS refs FROM messages m \
         JOIN conversations v ON v.id = m.conversation_id WHERE v.contact_id = $1 AND m.attachments <> '[]' \
         UNION ALL SELECT payload AS refs FROM outbox WHERE contact_id = $1 AND instr(payload, 'sha256') > 0";
    pub(super) const RESET_CONVERSATION: &str = "UPDATE conversations SET state = $2, version = version + 1, \
         flood_opened_at = 0, flood_count = 0, updated_at = $3 WHERE contact_id = $1";
    /// See `WriteTx::reset_idle_conversations`: `$1` idle before, `$2` the initial state, `$3`
    /// now, `$4` the limit.
    pub(super) const RESET_IDLE_CONVERSATIONS: &str = "UPDATE conversations SET state = $2, \
         version = version + 1, flood_opened_at = 0, flood_count = 0, updated_at = $3 WHERE id IN \
         (SELECT v.id FROM conversations v WHERE v.updated_at < $1 AND v.state <> $2 \
           AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.conversation_id = v.id \
             AND t.status IN ('queued', 'assigned')) \
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = v.id AND m.created_at >= $1) \
         ORDER BY v.id LIMIT $4)";
    pub(super) const REFERENCED_MEDIA: &str = "SELECT attachments AS refs FROM messages WHERE attachments <> '[]' \
         UNION ALL SELECT payload AS refs FROM outbox WHERE instr(payload, 'sha256') > 0 \
         UNION ALL SELECT DISTINCT sha256 AS refs FROM ticket_attachments \
         UNION ALL SELECT photo_sha256 AS refs FROM agents WHERE photo_sha256 IS NOT NULL";
}

// ---- one-row batch reads ----
//
// A read that returns a row per conversation would cross sqlx's worker-thread channel once per
// row. Batch reads on the write path instead fold their rows into one JSON array
// (`json_group_array`) and decode it here in one go.

/// id, channel, external_id, lang, language_chosen, reachable, display_name, contact_data.
type ContactTuple = (i64, String, String, String, i64, i64, Option<String>, Option<String>);
/// id, contact_id, state, version, flood_opened_at, flood_count.
type ConversationTuple = (i64, i64, String, i64, i64, i64);
/// id, conversation_id, contact_id, status, assigned_agent, priority, created_at.
type TicketTuple = (i64, i64, i64, String, Option<String>, String, i64);
/// id, conversation_id, contact_id, channel, external_id, contact_data, lang, payload, attempts.
type OutboxTuple = (i64, i64, i64, String, String, Option<String>, String, String, i64);

fn aggregate<T: serde::de::DeserializeOwned>(row: sqlx::sqlite::SqliteRow, column: &str) -> StoreResult<T> {
    let text = row.text(column)?;
    serde_json::from_str(&text).map_err(|error| StoreError::Corrupt(format!("{column}: {error}")))
}

fn contact_from_tuple(tuple: ContactTuple) -> StoreResult<ContactRow> {
    let (id, channel, external_id, lang, language_chosen, reachable, display_name, contact_data) = tuple;
    Ok(ContactRow {
        id,
        channel,
        external_id,
        lang: super::parse_lang(&lang)?,
        language_chosen: language_chosen != 0,
        reachable: reachable != 0,
        display_name,
        contact_data: contact_data.map(|text| serde_json::from_str(&text)).transpose()?,
    })
}

fn job_from_tuple(tuple: OutboxTuple) -> StoreResult<OutboxJob> {
    let (id, conversation_id, contact_id, channel, external_id, contact_data, lang, payload, attempts) =
        tuple;
    Ok(OutboxJob {
        id,
        conversation_id,
        contact_id,
        channel,
        external_id,
        contact_data: contact_data.map(|text| serde_json::from_str(&text)).transpose()?,
        lang: super::parse_lang(&lang)?,
        payload: super::parse_payload(&payload)?,
        attempts,
    })
}

fn ticket_from_tuple(tuple: TicketTuple) -> StoreResult<TicketRow> {
    let (id, conversation_id, contact_id, status, assigned_agent, priority, created_at) = tuple;
    Ok(TicketRow {
        id,
        conversation_id,
        contact_id,
        status: super::parse_status(&status)?,
        assigned_agent,
        priority: super::parse_priority(&priority)?,
        created_at,
    })
}

fn conversation_from_tuple(tuple: ConversationTuple) -> ConversationRow {
    let (id, contact_id, state, version, opened_at, count) = tuple;
    let count = u32::try_from(count.max(0)).unwrap_or(u32::MAX);
    ConversationRow { id, contact_id, state, version, flood: super::FloodWindow { opened_at, count } }
}
