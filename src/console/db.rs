//! The console's own database access: agents, sessions, canned replies, API tokens and the
//! read queries the store does not offer (dashboard figures, log pages after an id).
//!
//! Both dialects share one SQL text where they agree (`$1` placeholders work in SQLite too);
//! [`on_db!`] repeats a query body for each pool type, so each arm is type-checked on its own.

use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// A connection pool for whichever backend the deployment runs on.
#[derive(Debug, Clone)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs the same query code against either pool: `on_db!(db, pool => expr)`.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::console::db::Db::Sqlite($pool) => $body,
            $crate::console::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// Picks the SQL text for the dialect when the two differ (JSON columns, booleans).
macro_rules! dialect {
    ($db:expr, sqlite: $sqlite:expr, postgres: $postgres:expr $(,)?) => {
        match $db {
            $crate::console::db::Db::Sqlite(_) => $sqlite,
            $crate::console::db::Db::Postgres(_) => $postgres,
        }
    };
}
pub(crate) use dialect;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("unsupported database URL scheme {0:?}")]
    UnsupportedUrl(String),
    #[error("stored data is malformed: {0}")]
    Corrupt(String),
}

pub type DbResult<T> = Result<T, DbError>;

/// Milliseconds since the Unix epoch, UTC: how the schema stores every timestamp.
pub type Millis = i64;

/// The current time as [`Millis`].
pub fn now_millis() -> Millis {
    chrono::Utc::now().timestamp_millis()
}

impl Db {
    /// Opens a small pool of its own on the database the store uses. The store's `connect`
    /// has already applied every migration (ours sit in the same folders); applying them
    /// again is a no-op, and keeps the console usable on its own in tests.
    pub async fn connect(url: &str) -> DbResult<Db> {
        let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
        let db = match scheme {
            "sqlite" => {
                let options = SqliteConnectOptions::from_str(url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                Db::Sqlite(SqlitePoolOptions::new().max_connections(4).connect_with(options).await?)
            }
            "postgres" | "postgresql" => {
                Db::Postgres(PgPoolOptions::new().max_connections(4).connect(url).await?)
            }
            other => return Err(DbError::UnsupportedUrl(other.to_owned())),
        };
        db.migrate().await?;
        Ok(db)
    }

    pub async fn migrate(&self) -> DbResult<()> {
        match self {
            Db::Sqlite(pool) => sqlx::migrate!("migrations/sqlite").run(pool).await?,
            Db::Postgres(pool) => sqlx::migrate!("migrations/postgres").run(pool).await?,
        }
        Ok(())
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    pub async fn close(&self) {
        on_db!(self, pool => pool.close().await)
    }

    /// A secret the server keeps for itself, created from `generate` on first use. Two
    /// instances starting at once agree on one value: the insert never overwrites.
    pub async fn server_secret(
        &self,
        name: &str,
        generate: impl FnOnce() -> String,
        now: Millis,
    ) -> DbResult<String> {
        let candidate = generate();
        on_db!(self, pool => {
            sqlx::query(
                "INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(&candidate)
            .bind(now)
            .execute(pool)
            .await?;
            let value: String = sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await?;
            Ok(value)
        })
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) async fn fresh_sqlite() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("console.db").display());
        let db = Db::connect(&url).await.unwrap();
        (dir, db)
    }

    #[tokio::test]
    async fn a_server_secret_is_made_once_and_kept() {
        let (_dir, db) = fresh_sqlite().await;
        let first = db.server_secret("webchat", || "one".to_owned(), 1).await.unwrap();
        let second = db.server_secret("webchat", || "two".to_owned(), 2).await.unwrap();
        assert_eq!(first, "one");
        assert_eq!(second, "one");
    }
}
