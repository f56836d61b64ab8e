//! The engine writer's own PostgreSQL connection, outside any pool.
//!
//! The writer runs one transaction at a time, so a pool gives it nothing but costs two round
//! trips per group commit: sqlx checks a pooled connection when it hands it out and again
//! when it takes it back (an empty query each time), and with a pool of one the next
//! `BEGIN` waits for the second check. Held here, the connection goes straight from one
//! transaction to the next: `BEGIN` is the first round trip and `COMMIT` the last.
//!
//! A transaction dropped without a commit (an error, a conflict to retry) hands the
//! connection back marked as still in its transaction, and the next `BEGIN` is sent as
//! `ROLLBACK; BEGIN` in one round trip. A connection that fails there (the server restarted,
//! the network dropped it) is replaced by a new one; nothing had been sent on it yet, so
//! that is safe to do.
//!
//! The connection starts with `enable_bitmapscan = off`: direct delivery's lookup of pending
//! outbox rows must be a plain index scan (see `PostgresTx::open_tickets_and_pending`), and
//! every other statement of the writer reads by key, where bitmap scans win nothing.

use super::StoreResult;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Executor};
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex};

/// The one connection, between transactions.
pub(super) struct WriterConnection {
    options: PgConnectOptions,
    idle: Mutex<Option<Idle>>,
}

struct Idle {
    conn: PgConnection,
    /// Handed back by a transaction that did not commit: it must be rolled back first.
    in_transaction: bool,
}

impl WriterConnection {
    /// Connects now, so that a server that refuses the connection is an error at start.
    pub(super) async fn open(options: &PgConnectOptions) -> StoreResult<Arc<WriterConnection>> {
        let options = options.clone().options([("enable_bitmapscan", "off")]);
        let conn = connect(&options).await?;
        let idle = Mutex::new(Some(Idle { conn, in_transaction: false }));
        Ok(Arc::new(WriterConnection { options, idle }))
    }

    /// Begins a transaction on the connection (a new one if it was lost).
    pub(super) async fn begin(self: &Arc<Self>) -> StoreResult<OwnTransaction> {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(Idle { mut conn, in_transaction }) = idle {
            let begin = if in_transaction { "ROLLBACK; BEGIN" } else { "BEGIN" };
            match conn.execute(sqlx::raw_sql(begin)).await {
                Ok(_) => return Ok(OwnTransaction { conn: Some(conn), home: Arc::clone(self) }),
                Err(error) => {
                    tracing::info!(%error, "the engine's PostgreSQL connection failed; opening a new one")
                }
            }
        }
        let mut conn = connect(&self.options).await?;
        conn.execute(sqlx::raw_sql("BEGIN")).await?;
        Ok(OwnTransaction { conn: Some(conn), home: Arc::clone(self) })
    }

    fn put_back(&self, conn: PgConnection, in_transaction: bool) {
        *self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(Idle { conn, in_transaction });
    }

    /// Closes the connection if it is idle (a transaction under way closes it when dropped).
    pub(super) async fn close(&self) {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(Idle { conn, .. }) = idle {
            let _ = sqlx::Connection::close(conn).await;
        }
    }
}

async fn connect(options: &PgConnectOptions) -> StoreResult<PgConnection> {
    let mut conn = options.connect().await?;
    if let Some(server_port) = super::server_port(options) {
        super::no_delay(&mut conn, server_port).await?;
    }
    Ok(conn)
}

/// A transaction on the writer's connection; the connection goes back when it ends.
pub(super) struct OwnTransaction {
    /// `None` only once committed.
    conn: Option<PgConnection>,
    home: Arc<WriterConnection>,
}

impl OwnTransaction {
    pub(super) async fn commit(mut self) -> StoreResult<()> {
        let Some(mut conn) = self.conn.take() else { return Ok(()) };
        let committed = conn.execute(sqlx::raw_sql("COMMIT")).await;
        // After a failed COMMIT the server has ended the transaction, unless the connection
        // broke; either way the next BEGIN finds out.
        self.home.put_back(conn, committed.is_err());
        committed?;
        Ok(())
    }
}

impl Drop for OwnTransaction {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.home.put_back(conn, true);
        }
    }
}

impl Deref for OwnTransaction {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        self.conn.as_ref().expect("a transaction has its connection until it ends")
    }
}

impl DerefMut for OwnTransaction {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("a transaction has its connection until it ends")
    }
}
