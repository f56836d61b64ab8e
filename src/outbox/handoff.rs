//! The fast path from the engine to this process's delivery worker.
//!
//! Normally a reply waits in the outbox table until a worker claims it: a query for due rows,
//! then a write taking a lease. Instead, the engine can give the rows it just committed
//! straight to its own process's worker, stored already leased so that no claim (of this
//! instance or another) takes them. The reply then goes out as soon as its transaction has
//! committed, and the claiming query and lease write are saved.
//!
//! Order per conversation must hold across both paths. The rule: the engine hands a
//! conversation's new rows over only when **every** pending row of that conversation in the
//! database is one this worker holds from an earlier hand-over ([`Handoff::holding_all`],
//! comparing row ids). Otherwise (a row waiting for a retry, rows from before a restart, rows
//! a claim has taken, here or in another instance) the new rows are stored unleased and
//! follow the claiming path, which never hands out a row while an older one of its
//! conversation is leased or waiting. The engine compares inside its write transaction, while
//! nobody else can add rows to those conversations (SQLite: the one write lock; PostgreSQL:
//! the conversation rows are locked). Outcomes can still be recorded meanwhile, and
//! [`Handoff::settled`] forgets a row *before* its outcome is written. So a row the database
//! still lists as pending may be one the worker no longer holds, never the reverse, and that
//! only sends new rows the slow way.

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

    /// Of `conversations`, those whose every pending row (`pending`: row ids by conversation,
    /// as the database lists them inside the engine's transaction) the worker holds. Only
    /// their new rows may be handed over.
    pub fn holding_all(&self, conversations: &[i64], pending: &HashMap<i64, Vec<i64>>) -> HashSet<i64> {
        let state = self.lock();
        conversations
            .iter()
            .copied()
            .filter(|conversation| {
                pending.get(conversation).is_none_or(|ids| ids.iter().all(|id| state.held_ids.contains(id)))
            })
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

    /// Forgets rows whose outcome is about to be written. Called before the write, so that
    /// from then on the database lists them as pending (until the write commits, or for good
    /// if it fails: they stay leased and come back through the claiming path) while the worker
    /// no longer holds them, which keeps new rows of their conversations off the fast path.
    /// Rows that were never handed over are ignored.
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
    fn new_rows_go_fast_only_where_every_pending_row_is_held() {
        let handoff = Handoff::default();
        handoff.attach(&["telegram"], Duration::from_secs(60));
        handoff.hand(vec![job(1, 10), job(2, 11)]);
        let pending = HashMap::from([
            // Everything pending is held.
            (10, vec![1]),
            // Held, but an older row waits for its retry elsewhere.
            (11, vec![2, 7]),
            // Only rows this worker does not hold: the same count as conversation 10's.
            (12, vec![3]),
        ]);
        let fast = handoff.holding_all(&[10, 11, 12, 13], &pending);
        // Conversation 13 has nothing pending at all.
        assert_eq!(fast, HashSet::from([10, 13]));

        // Once a row's outcome is on its way to the database, the row is no longer held, so a
        // reply committed before that write lands cannot overtake a retry.
        handoff.settled(&[(
            job(1, 10),
            DeliveryOutcome::Retry { at: 100, count_attempt: true, error: "hiccup".to_owned() },
        )]);
        assert!(handoff.holding_all(&[10], &pending).is_empty());
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
