//! The fast path from the engine to this process's delivery worker.
//!
//! Normally a reply waits in the outbox table until a worker claims it: a query for due rows,
//! then a write taking a lease. On SQLite, where one process owns the database, the engine can
//! instead give the rows it just committed straight to the worker, stored already leased so
//! the claiming path leaves them alone. The reply then goes out as soon as its transaction has
//! committed, and the claiming query and lease write are saved.
//!
//! Order per conversation must hold across both paths. The rule: the engine hands a
//! conversation's new rows over only when **every** pending row of that conversation in the
//! database is one the worker holds from an earlier hand-over. Otherwise (a row waiting for a
//! retry, rows from before a restart, rows a claim has taken) the new rows are stored unleased
//! and follow the claiming path, which never hands out a row while an older one of its
//! conversation is leased or waiting. The engine compares the database's pending count with
//! [`Handoff::held`] inside its write transaction. On SQLite every write of the process holds
//! the one write lock, so while the engine compares, no outcome can be recorded; and
//! [`Handoff::settled`] forgets a row only after its outcome is committed. The two counts can
//! thus disagree only in the safe direction (the database already settled a row the worker
//! still counts), which sends the new rows the slow way.

use crate::store::{DeliveryOutcome, OutboxJob};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Shared by the engine (which hands rows over) and the worker (which takes them).
#[derive(Default)]
pub struct Handoff {
    state: Mutex<State>,
    ready: Notify,
}

#[derive(Default)]
struct State {
    /// The channels of the attached worker; empty while none is attached.
    channels: Vec<&'static str>,
    /// The worker's lease: how long a handed-over row is reserved for it.
    lease: Option<Duration>,
    /// Rows handed over and not yet taken by the worker.
    queue: Vec<OutboxJob>,
    /// Handed-over rows whose outcome is not committed yet, per conversation.
    held: HashMap<i64, usize>,
    held_ids: HashSet<i64>,
}

impl Handoff {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A worker delivering these channels takes hand-overs from now on; rows handed to it are
    /// stored leased for `lease`.
    pub fn attach(&self, channels: &[&'static str], lease: Duration) {
        let mut state = self.lock();
        state.channels = channels.to_vec();
        state.lease = Some(lease);
    }

    /// The attached worker's lease; `None` while no worker takes hand-overs.
    pub fn lease(&self) -> Option<Duration> {
        self.lock().lease
    }

    /// The worker stops taking hand-overs; returns the rows handed over but not taken, which
    /// the caller must release (they are stored leased).
    pub fn detach(&self) -> Vec<OutboxJob> {
        let mut state = self.lock();
        state.channels.clear();
        state.lease = None;
        std::mem::take(&mut state.queue)
    }

    /// Whether rows of this channel may be handed over.
    pub fn accepts(&self, channel: &str) -> bool {
        self.lock().channels.contains(&channel)
    }

    /// How many handed-over rows of each of these conversations are not settled yet.
    pub fn held(&self, conversations: impl IntoIterator<Item = i64>) -> HashMap<i64, usize> {
        let state = self.lock();
        conversations
            .into_iter()
            .map(|conversation| (conversation, state.held.get(&conversation).copied().unwrap_or(0)))
            .collect()
    }

    /// Gives committed rows (stored leased) to the worker. Call after the commit, in commit
    /// order. Without an attached worker the rows stay in the queue for [`detach`]'s caller,
    /// or, at the latest, are claimed again once their lease ends.
    ///
    /// [`detach`]: Handoff::detach
    pub fn hand(&self, jobs: Vec<OutboxJob>) {
        if jobs.is_empty() {
            return;
        }
        let mut state = self.lock();
        for job in &jobs {
            *state.held.entry(job.conversation_id).or_default() += 1;
            state.held_ids.insert(job.id);
        }
        state.queue.extend(jobs);
        drop(state);
        self.ready.notify_one();
    }

    /// Rows handed over since the last call, in commit order.
    pub fn take(&self) -> Vec<OutboxJob> {
        std::mem::take(&mut self.lock().queue)
    }

    /// Resolves when rows may be waiting in [`take`](Handoff::take).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Forgets rows whose outcome has been written (or whose write failed: they stay leased
    /// in the database and come back through the claiming path). Rows that were never handed
    /// over are ignored.
    pub fn settled(&self, outcomes: &[(OutboxJob, DeliveryOutcome)]) {
        let mut state = self.lock();
        for (job, _) in outcomes {
            if state.held_ids.remove(&job.id)
                && let Some(count) = state.held.get_mut(&job.conversation_id)
            {
                *count -= 1;
                if *count == 0 {
                    state.held.remove(&job.conversation_id);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::{Lang, Outbound};

    fn job(id: i64, conversation_id: i64) -> OutboxJob {
        OutboxJob {
            id,
            conversation_id,
            contact_id: conversation_id,
            channel: "telegram".to_owned(),
            external_id: conversation_id.to_string(),
            contact_data: None,
            lang: Lang::En,
            payload: Outbound::Agent {
                agent: "a".to_owned(),
                text: "hi".to_owned(),
                attachments: Vec::new(),
            },
            attempts: 0,
        }
    }

    #[test]
    fn held_counts_follow_hand_overs_and_settlements() {
        let handoff = Handoff::default();
        handoff.attach(&["telegram"], Duration::from_secs(60));
        assert!(handoff.accepts("telegram"));
        assert!(!handoff.accepts("vk"));
        handoff.hand(vec![job(1, 10), job(2, 10), job(3, 11)]);
        assert_eq!(handoff.held([10, 11, 12]), HashMap::from([(10, 2), (11, 1), (12, 0)]));
        let taken = handoff.take();
        assert_eq!(taken.iter().map(|job| job.id).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(handoff.take().is_empty());

        // A row that was never handed over does not disturb the counts.
        handoff.settled(&[(job(1, 10), DeliveryOutcome::Sent), (job(99, 10), DeliveryOutcome::Sent)]);
        assert_eq!(handoff.held([10]), HashMap::from([(10, 1)]));
        // Settling twice counts once.
        handoff.settled(&[(job(1, 10), DeliveryOutcome::Sent)]);
        assert_eq!(handoff.held([10]), HashMap::from([(10, 1)]));
        handoff.settled(&[(job(2, 10), DeliveryOutcome::Released), (job(3, 11), DeliveryOutcome::Sent)]);
        assert_eq!(handoff.held([10, 11]), HashMap::from([(10, 0), (11, 0)]));
    }

    #[test]
    fn detaching_returns_what_was_not_taken_and_refuses_more() {
        let handoff = Handoff::default();
        handoff.attach(&["telegram"], Duration::from_secs(60));
        handoff.hand(vec![job(5, 1)]);
        let left = handoff.detach();
        assert_eq!(left.len(), 1);
        assert!(!handoff.accepts("telegram"));
        assert_eq!(handoff.lease(), None);
    }
}
