//! The engine writer's own connection, outside any pool, on both backends.
//!
//! The writer runs one transaction at a time, so a pool gives it nothing but costs round
//! trips: sqlx checks a pooled connection when it takes it back (an empty query to the
//! PostgreSQL server, a message to and from SQLite's worker thread), and with a pool of one
//! the next `BEGIN` waits for that check. Held here, the connection goes straight from one
//! transaction to the next: `BEGIN` is the first round trip and `COMMIT` the last. On a busy
//! machine each round trip is a wake-up of another thread, and a writer busy from one commit
//! to the next (SQLite's under the webhook's load) waited for that check at every `BEGIN`.
//!
//! A transaction dropped without a commit (an error, a conflict to retry) is rolled back at
//! once, before the connection can begin another. A connection that fails at a `BEGIN` (the
//! server restarted, the network dropped it) is replaced by a new one; nothing had been sent
//! on it yet, so that is safe to do.

use super::StoreResult;
use futures::future::BoxFuture;
use sqlx::{Connection, Database, Executor, Transaction};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Opens a new connection for [`OwnConnection`], with whatever each backend sets up on it.
pub(super) type Connect<C> = Box<dyn Fn() -> BoxFuture<'static, StoreResult<C>> + Send + Sync>;

/// The one connection. A transaction holds the slot's lock from its `BEGIN` until the
/// connection is back, rolled back if it did not commit.
pub(super) struct OwnConnection<C> {
    connect: Connect<C>,
    slot: Arc<Mutex<Option<Idle<C>>>>,
}

struct Idle<C> {
    conn: C,
    /// Handed back by a transaction that did not commit and whose rollback did not run (or
    /// failed): it must be rolled back first.
    in_transaction: bool,
}

impl<C> OwnConnection<C>
where
    C: Connection + 'static,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    /// Connects now, so that a database that refuses the connection is an error at start.
    pub(super) async fn open(connect: Connect<C>) -> StoreResult<Arc<OwnConnection<C>>> {
        let conn = connect().await?;
        let slot = Arc::new(Mutex::new(Some(Idle { conn, in_transaction: false })));
        Ok(Arc::new(OwnConnection { connect, slot }))
    }

    /// Begins a transaction with `begin` (the backend's `BEGIN`, with any setting it starts
    /// with) on the connection, or on a new one if it was lost. Waits while another
    /// transaction, or the rollback of one given up, has the connection.
    pub(super) async fn begin(&self, begin: &'static str) -> StoreResult<OwnTransaction<C>> {
        let mut slot = Arc::clone(&self.slot).lock_owned().await;
        if let Some(Idle { mut conn, in_transaction }) = slot.take() {
            let rolled_back = match in_transaction {
                true => conn.execute(sqlx::raw_sql("ROLLBACK")).await.map(drop),
                false => Ok(()),
            };
            // No `BEGIN` on a connection whose rollback failed: it is replaced below.
            let begun = match rolled_back {
                Ok(()) => conn.execute(sqlx::raw_sql(begin)).await.map(drop),
                Err(error) => Err(error),
            };
            match begun {
                Ok(()) => return Ok(OwnTransaction { conn: Some(conn), slot: Some(slot) }),
                Err(error) => {
                    tracing::info!(%error, "the engine's own database connection failed; opening a new one")
                }
            }
        }
        let mut conn = (self.connect)().await?;
        conn.execute(sqlx::raw_sql(begin)).await?;
        Ok(OwnTransaction { conn: Some(conn), slot: Some(slot) })
    }

    /// Closes the connection once no transaction has it.
    pub(super) async fn close(&self) {
        if let Some(Idle { conn, .. }) = self.slot.lock().await.take() {
            let _ = conn.close().await;
        }
    }
}

/// A transaction on the writer's connection; the connection goes back when it ends.
pub(super) struct OwnTransaction<C>
where
    C: Connection + 'static,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    /// `None` only once ended.
    conn: Option<C>,
    slot: Option<OwnedMutexGuard<Option<Idle<C>>>>,
}

impl<C> OwnTransaction<C>
where
    C: Connection + 'static,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    pub(super) async fn commit(mut self) -> StoreResult<()> {
        let (Some(mut conn), Some(mut slot)) = (self.conn.take(), self.slot.take()) else { return Ok(()) };
        let committed = conn.execute(sqlx::raw_sql("COMMIT")).await;
        // After a failed COMMIT the database has ended the transaction, unless the connection
        // broke; either way the next BEGIN finds out.
        *slot = Some(Idle { conn, in_transaction: committed.is_err() });
        committed?;
        Ok(())
    }
}

/// A transaction given up is rolled back at once, in a task that keeps the connection until
/// it is done: what it holds (SQLite's write lock, PostgreSQL's row locks) must not wait for
/// the next transaction, which may be long in coming. Should that task not run (the runtime is
/// shutting down), the next `BEGIN` rolls back first.
impl<C> Drop for OwnTransaction<C>
where
    C: Connection + 'static,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    fn drop(&mut self) {
        let (Some(conn), Some(mut slot)) = (self.conn.take(), self.slot.take()) else { return };
        *slot = Some(Idle { conn, in_transaction: true });
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            if let Some(idle) = slot.as_mut() {
                if idle.conn.execute(sqlx::raw_sql("ROLLBACK")).await.is_ok() {
                    idle.in_transaction = false;
                }
            }
        });
    }
}

impl<C> Deref for OwnTransaction<C>
where
    C: Connection + 'static,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    type Target = C;

    fn deref(&self) -> &C {
        self.conn.as_ref().expect("a transaction has its connection until it ends")
    }
}

impl<C> DerefMut for OwnTransaction<C>
where
    C: Connection + 'static,
    for<'c> &'c mut C: Executor<'c, Database = C::Database>,
{
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().expect("a transaction has its connection until it ends")
    }
}

/// A write transaction's connection: the writer's own, or one from a pool.
pub(super) enum Conn<DB: Database>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    Own(OwnTransaction<DB::Connection>),
    Pooled(Transaction<'static, DB>),
}

impl<DB: Database> Conn<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub(super) async fn commit(self) -> StoreResult<()> {
        match self {
            Conn::Own(tx) => tx.commit().await,
            Conn::Pooled(tx) => Ok(tx.commit().await?),
        }
    }
}

impl<DB: Database> Deref for Conn<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Target = DB::Connection;

    fn deref(&self) -> &DB::Connection {
        match self {
            Conn::Own(tx) => tx,
            Conn::Pooled(tx) => tx,
        }
    }
}

impl<DB: Database> DerefMut for Conn<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    fn deref_mut(&mut self) -> &mut DB::Connection {
        match self {
            Conn::Own(tx) => tx,
            Conn::Pooled(tx) => tx,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
    use sqlx::{ConnectOptions, Row};

    async fn count(conn: &mut SqliteConnection) -> i64 {
        sqlx::query("SELECT count(*) FROM notes").fetch_one(conn).await.unwrap().get(0)
    }

    /// A transaction given up is rolled back before the next one begins on the same
    /// connection, and only what was committed stays.
    #[tokio::test]
    async fn a_transaction_given_up_is_rolled_back_before_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let options = SqliteConnectOptions::new().filename(dir.path().join("own.db")).create_if_missing(true);
        let own = OwnConnection::open(Box::new(move || {
            let options = options.clone();
            Box::pin(async move { Ok(options.connect().await?) })
        }))
        .await
        .unwrap();
        let mut tx = own.begin("BEGIN IMMEDIATE").await.unwrap();
        sqlx::raw_sql("CREATE TABLE notes (text TEXT)").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = own.begin("BEGIN IMMEDIATE").await.unwrap();
        sqlx::raw_sql("INSERT INTO notes VALUES ('dropped')").execute(&mut *tx).await.unwrap();
        drop(tx);
        let mut tx = own.begin("BEGIN IMMEDIATE").await.unwrap();
        assert_eq!(count(&mut tx).await, 0, "the dropped insert is gone");
        sqlx::raw_sql("INSERT INTO notes VALUES ('kept')").execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();

        let mut tx = own.begin("BEGIN").await.unwrap();
        assert_eq!(count(&mut tx).await, 1);
        drop(tx);
        own.close().await;
    }
}
