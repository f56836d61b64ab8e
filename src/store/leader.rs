//! Leadership of a long-poll source (Telegram `getUpdates`, VK Bots Long Poll) among the
//! processes that share one database. A platform hands each update to whichever poller asks
//! first, so two pollers of one bot would race each other; exactly one process polls, the
//! others wait to take over.
//!
//! - PostgreSQL: a session advisory lock (`pg_try_advisory_lock`) on a connection of its own,
//!   detached from the pool and held for as long as the process leads. PostgreSQL releases a
//!   session lock when its connection ends, so a leader that dies (crash, SIGKILL, lost
//!   network) frees the lock without anyone cleaning up. A keeper task checks the connection
//!   every [`CHECK_INTERVAL`]; when a check fails or hangs, leadership counts as lost and the
//!   caller must stop polling (the server may already have handed the lock to another process).
//! - SQLite: the process that has the file open is the only one, so it always leads. Running a
//!   second `serve` on the same SQLite file is not a supported deployment (several instances
//!   need PostgreSQL), and nothing here arbitrates between two such processes.
//!
//! Leadership is fenced by time, not by a token: a leader whose lock connection fails notices
//! within [`CHECK_INTERVAL`] + [`CHECK_TIMEOUT`] and stops, so a new leader waits that long
//! ([`TAKEOVER_GRACE`]) before it polls. Only a leader stalled for longer than that (a paused
//! process) could overlap with its successor; the engine's dedupe on the platform's event id
//! makes an update stored by both count once.

use super::{StoreError, StoreResult};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnection, PgPool};
use sqlx::{Connection, PgExecutor};
use std::future::Future;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often a leader checks that its lock connection is alive.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// How long a new leader waits before it polls: the longest a leader that lost its lock may
/// take to notice and stop.
pub const TAKEOVER_GRACE: Duration = CHECK_INTERVAL.saturating_add(CHECK_TIMEOUT);
/// How often a process that does not lead tries to take over.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// A check that takes longer than this counts as a lost connection.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The advisory lock key for a leadership name: the first 8 bytes of a SHA-256, so the key is
/// the same in every process and every release (a std hasher makes no such promise).
pub fn lock_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("switchboard leader\n{name}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// Held while this process leads `name`. Dropping it gives leadership up (the lock connection
/// is closed, which releases the lock); [`Leadership::release`] does the same and waits for it.
pub struct Leadership {
    name: String,
    lost: CancellationToken,
    /// Asks the keeper to unlock and close; `None` for the embedded database.
    resign: Option<CancellationToken>,
    keeper: Option<tokio::task::JoinHandle<()>>,
}

impl Leadership {
    /// Leadership on an embedded database: the only process that has it open leads, for good.
    pub fn sole_process(name: &str) -> Leadership {
        Leadership { name: name.to_owned(), lost: CancellationToken::new(), resign: None, keeper: None }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Completes when leadership is lost; never for the embedded database. The future owns what
    /// it needs, so it can be handed to a polling loop as its stop signal.
    pub fn lost(&self) -> impl Future<Output = ()> + Send + 'static {
        self.lost.clone().cancelled_owned()
    }

    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }

    /// Gives leadership up now, so another process can take over without waiting.
    pub async fn release(mut self) {
        if let Some(resign) = &self.resign {
            resign.cancel();
        }
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.await;
        }
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        if let Some(resign) = &self.resign {
            resign.cancel();
        }
    }
}

impl std::fmt::Debug for Leadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leadership").field("name", &self.name).field("lost", &self.is_lost()).finish()
    }
}

/// Waits until this process leads `name`, trying every [`RETRY_INTERVAL`] plus up to a second
/// of jitter (so waiting processes do not knock in step), then for [`TAKEOVER_GRACE`] when the
/// lock is shared with other processes; `None` if `stop` fires first. Database errors are
/// logged and retried like a lock held elsewhere.
pub async fn wait_for_leadership(
    store: &dyn super::Store,
    name: &str,
    stop: &CancellationToken,
) -> Option<Leadership> {
    let mut waiting_logged = false;
    loop {
        match store.try_lead(name).await {
            Ok(Some(leadership)) if leadership.resign.is_none() => return Some(leadership),
            Ok(Some(leadership)) => {
                tokio::select! {
                    () = stop.cancelled() => return None,
                    () = tokio::time::sleep(TAKEOVER_GRACE) => {}
                }
                if !leadership.is_lost() {
                    return Some(leadership);
                }
            }
            Ok(None) if !waiting_logged => {
                tracing::info!(leadership = name, "another process leads; waiting to take over");
                waiting_logged = true;
            }
            Ok(None) => {}
            Err(error) => tracing::warn!(leadership = name, %error, "could not try the leader lock"),
        }
        let jitter = Duration::from_millis(rand::random_range(0..1000));
        tokio::select! {
            () = stop.cancelled() => return None,
            () = tokio::time::sleep(RETRY_INTERVAL + jitter) => {}
        }
    }
}

/// Tries once to take the advisory lock for `name`; `None` when another session holds it.
pub(super) async fn try_lead_postgres(pool: &PgPool, name: &str) -> StoreResult<Option<Leadership>> {
    let key = lock_key(name);
    let mut connection = pool.acquire().await?;
    let acquired: bool =
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)").bind(key).fetch_one(&mut *connection).await?;
    if !acquired {
        // Nothing is held: the connection goes back to the pool as it came.
        return Ok(None);
    }
    // The lock belongs to this session: the connection must never serve other queries from the
    // pool, and it lives exactly as long as the leadership.
    let connection = connection.detach();
    let lost = CancellationToken::new();
    let resign = CancellationToken::new();
    let keeper = tokio::spawn(keep(connection, key, name.to_owned(), lost.clone(), resign.clone()));
    Ok(Some(Leadership { name: name.to_owned(), lost, resign: Some(resign), keeper: Some(keeper) }))
}

/// Checks the lock connection until told to resign (then unlocks and closes it) or until a
/// check fails (then reports the loss and drops the connection).
async fn keep(
    mut connection: PgConnection,
    key: i64,
    name: String,
    lost: CancellationToken,
    resign: CancellationToken,
) {
    loop {
        tokio::select! {
            () = resign.cancelled() => {
                // Closing the session would release the lock too; unlocking first is explicit.
                let _ = tokio::time::timeout(CHECK_TIMEOUT, unlock(&mut connection, key)).await;
                let _ = tokio::time::timeout(CHECK_TIMEOUT, connection.close()).await;
                return;
            }
            () = tokio::time::sleep(CHECK_INTERVAL) => {}
        }
        let check = tokio::time::timeout(CHECK_TIMEOUT, connection.ping()).await;
        let problem = match check {
            Ok(Ok(())) => continue,
            Ok(Err(error)) => StoreError::from(error).to_string(),
            Err(_) => format!("no answer within {CHECK_TIMEOUT:?}"),
        };
        tracing::warn!(leadership = %name, %problem, "the leader lock connection failed; leadership lost");
        lost.cancel();
        return;
    }
}

async fn unlock(executor: impl PgExecutor<'_>, key: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT pg_advisory_unlock($1)").bind(key).fetch_one(executor).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_tell_names_apart() {
        assert_eq!(lock_key("telegram:123"), lock_key("telegram:123"));
        assert_ne!(lock_key("telegram:123"), lock_key("telegram:124"));
        assert_ne!(lock_key("telegram:123"), lock_key("vk:123"));
        // Pinned: processes of different releases sharing a database must agree on the key,
        // or both would lead during a rolling upgrade.
        assert_eq!(lock_key("telegram:123"), -6_860_101_593_438_628_239);
    }

    #[tokio::test]
    async fn the_embedded_database_leads_until_released() {
        let leadership = Leadership::sole_process("vk:1");
        assert!(!leadership.is_lost());
        let lost = leadership.lost();
        assert!(tokio::time::timeout(Duration::from_millis(10), lost).await.is_err());
        leadership.release().await;
    }
}
