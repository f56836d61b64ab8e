//! The lookup worker: carries out the lookups the dialog asked for, outside the engine's
//! writer, and hands each answer back to the engine.
//!
//! Lookups are rows of `order_lookups`, written in the transaction of the step that asked. The
//! worker leases them (so one process asks the store once per lease), asks the sources
//! (behind [`GuardedSources`]: timeout, cache, circuit breaker), and calls
//! [`LookupDone::complete_lookup`], which the engine implements: it records the answer and
//! runs the dialog step in one transaction, only if the lookup was still open. A crash
//! before that leaves the row open; once its lease runs out, it is claimed again.

use super::guard::GuardedSources;
use super::{LookupOutcome, OrderSourceError, StoredLookup};
use crate::store::{ClaimedLookup, Millis, OrderStore, duration_millis, now_millis};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};

/// How many lookups one claim takes, and how many run at once.
pub const BATCH: i64 = 32;
/// How long a claimed lookup is ours beyond the sources' timeout before another worker (or
/// this process after a restart) may take it: room for the engine's transaction.
pub const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// How often the table is looked at without a wake-up (lookups of another instance, leases
/// that ran out).
pub const POLL: Duration = Duration::from_secs(2);

/// Where answers go: the engine.
#[async_trait::async_trait]
pub trait LookupDone: Send + Sync {
    async fn lookup_done(&self, id: i64, outcome: LookupOutcome) -> Result<(), String>;
}

pub struct LookupWorker {
    store: Arc<dyn OrderStore>,
    sources: Arc<GuardedSources>,
    done: Arc<dyn LookupDone>,
    wake: Arc<Notify>,
    running: Arc<Semaphore>,
    lease: Duration,
}

impl LookupWorker {
    pub fn new(
        store: Arc<dyn OrderStore>,
        sources: Arc<GuardedSources>,
        done: Arc<dyn LookupDone>,
        wake: Arc<Notify>,
    ) -> LookupWorker {
        let running = Arc::new(Semaphore::new(usize::try_from(BATCH).unwrap_or(32)));
        let lease = sources.timeout() + LEASE_MARGIN;
        LookupWorker { store, sources, done, wake, running, lease }
    }

    /// Runs until `stop` resolves. Lookups already started finish on their own tasks; one
    /// cut short by the process's end is claimed again after the restart.
    pub async fn run(self, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            let claimed = tokio::select! {
                claimed = self.claim_once() => claimed,
                () = &mut stop => return,
            };
            if claimed == 0 {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                    () = &mut stop => return,
                }
            }
        }
    }

    /// Claims what is due and starts each lookup in a task of its own. Returns how many.
    pub async fn claim_once(&self) -> usize {
        let free = self.running.available_permits();
        if free == 0 {
            // Every slot is busy: wait for one rather than claim rows nobody can start.
            drop(self.running.acquire().await);
            return 0;
        }
        let now = now_millis();
        let until: Millis = now.saturating_add(duration_millis(self.lease));
        let limit = i64::try_from(free).unwrap_or(BATCH).min(BATCH);
        let claimed = match self.store.claim_order_lookups(now, until, limit).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(%error, "could not claim order lookups");
                tokio::time::sleep(POLL).await;
                return 0;
            }
        };
        let count = claimed.len();
        for lookup in claimed {
            let Ok(permit) = Arc::clone(&self.running).acquire_owned().await else { return count };
            let sources = Arc::clone(&self.sources);
            let done = Arc::clone(&self.done);
            tokio::spawn(async move {
                let id = lookup.id;
                let outcome = ask(&sources, &lookup).await;
                if let Err(error) = done.lookup_done(id, outcome).await {
                    // The row stays open; its lease runs out and it is tried again.
                    tracing::warn!(lookup = id, %error, "could not record an order lookup's answer");
                }
                drop(permit);
            });
        }
        count
    }
}

/// Asks the sources one stored question. Whatever goes wrong becomes an outcome the dialog
/// can tell the customer about; the reason goes to the log (never the query: it may hold an
/// email or phone number).
async fn ask(sources: &GuardedSources, lookup: &ClaimedLookup) -> LookupOutcome {
    let stored: StoredLookup = match serde_json::from_str(&lookup.query) {
        Ok(stored) => stored,
        Err(error) => {
            tracing::error!(lookup = lookup.id, %error, "an unreadable stored lookup");
            return LookupOutcome::Unavailable;
        }
    };
    match sources.lookup(&stored.query).await {
        None => LookupOutcome::NotConfigured,
        Some(Ok(lookup)) => LookupOutcome::Answered { lookup },
        Some(Err(error)) => {
            match &error {
                OrderSourceError::CircuitOpen => {
                    tracing::debug!(lookup = lookup.id, %error, "order lookup refused")
                }
                _ => tracing::warn!(lookup = lookup.id, %error, "order lookup failed"),
            }
            LookupOutcome::Unavailable
        }
    }
}
