//! Direct delivery: the fast path from the engine to this process's delivery worker.
//!
//! Normally a reply waits in the outbox table until a worker claims it: a query for due rows,
//! then a write taking a lease. Instead, the engine can give the rows it just committed
//! straight to its own process's worker, stored already leased so that no claim (of this
//! instance or another) takes them. The reply then goes out as soon as its transaction has
//! committed, and the claiming query and lease write are saved.
//!
//! Order per conversation must hold across both paths. The rule: the engine hands a
//! conversation's new rows over only when **every** pending row of that conversation in the
//! database is one this worker holds from an earlier hand-over ([`DirectDelivery::holding_all`],
//! comparing row ids inside the engine's write transaction, while nobody else can add rows to
//! those conversations: SQLite's one write lock, PostgreSQL's locked conversation rows).
//! Otherwise (a row waiting for a retry, rows from before a restart, rows a claim has taken,
//! here or in another instance) the new rows are stored unleased and follow the claiming path,
//! which never hands out a row while an older one of its conversation is leased or waiting.
//! A held row stays held until its "sent" mark is committed ([`DirectDelivery::settled`]), so a
//! conversation whose last reply is being marked keeps the fast path.
//!
//! A held row that fails (a retry, a dead letter, a row given back) is different: its
//! conversation's later rows must wait behind it on the claiming path. [`DirectDelivery::failing`]
//! forgets such a row before its outcome is written and puts its conversation on a list that
//! [`DirectDelivery::holding_all`] refuses. That list also covers the engine having found the row
//! still held just before it failed: rows it then hands over for a listed conversation are
//! not delivered but given back ([`Taken::give_back`]) to follow the failed one. A
//! conversation leaves the list once the engine finds nothing of it pending that the worker
//! does not hold, that is, once the failed row has gone out by the slow path.

use crate::store::{DeliveryOutcome, OutboxJob};
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;

/// Shared by the engine (which hands rows over) and the worker (which takes them).
#[derive(Default)]
pub struct DirectDelivery {
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
    /// Handed-over rows for conversations on the `failed` list, to be given back.
    give_back: Vec<OutboxJob>,
    /// Handed-over rows whose outcome is not committed yet, per conversation.
    held: HashMap<i64, usize>,
    held_ids: HashSet<i64>,
    /// Conversations with a handed-over row that did not go out; kept off the fast path until
    /// the engine finds nothing of theirs pending that the worker does not hold.
    failed: HashSet<i64>,
}

/// What the worker takes from [`DirectDelivery::take`].
#[derive(Debug, Default)]
pub struct Taken {
    /// Rows to deliver, in commit order.
    pub deliver: Vec<OutboxJob>,
    /// Rows handed over for a conversation whose earlier row failed meanwhile: record them
    /// released, so that they follow that row through the claiming path.
    pub give_back: Vec<OutboxJob>,
}

impl DirectDelivery {
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
        let mut left = std::mem::take(&mut state.queue);
        left.append(&mut state.give_back);
        left
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
    /// A conversation on the `failed` list whose pending rows are all held (its failed row
    /// has gone out by the claiming path since) leaves the list here.
    pub fn holding_all(&self, conversations: &[i64], pending: &HashMap<i64, Vec<i64>>) -> HashSet<i64> {
        let mut state = self.lock();
        let state = &mut *state;
        let mut fast = HashSet::new();
        for &conversation in conversations {
            let all_held =
                pending.get(&conversation).is_none_or(|ids| ids.iter().all(|id| state.held_ids.contains(id)));
            if all_held {
                state.failed.remove(&conversation);
                fast.insert(conversation);
            }
        }
        fast
    }

    /// Gives committed rows (stored leased) to the worker. Call after the commit, in commit
    /// order. Without an attached worker the rows stay in the queue for [`detach`]'s caller,
    /// or, at the latest, are claimed again once their lease ends.
    ///
    /// [`detach`]: DirectDelivery::detach
    pub fn hand(&self, jobs: Vec<OutboxJob>) {
        if jobs.is_empty() {
            return;
        }
        let mut state = self.lock();
        for job in jobs {
            if state.failed.contains(&job.conversation_id) {
                state.give_back.push(job);
                continue;
            }
            *state.held.entry(job.conversation_id).or_default() += 1;
            state.held_ids.insert(job.id);
            state.queue.push(job);
        }
        drop(state);
        self.ready.notify_one();
    }

    /// Rows handed over since the last call.
    pub fn take(&self) -> Taken {
        let mut state = self.lock();
        Taken { deliver: std::mem::take(&mut state.queue), give_back: std::mem::take(&mut state.give_back) }
    }

    /// Resolves when rows may be waiting in [`take`](DirectDelivery::take).
    pub async fn ready(&self) {
        self.ready.notified().await;
    }

    /// Called before outcomes are written: held rows that did not go out are forgotten now,
    /// and their conversations listed as failed (see the module documentation). Sent rows stay
    /// held until [`settled`](DirectDelivery::settled).
    pub fn failing(&self, outcomes: &[(OutboxJob, DeliveryOutcome)]) {
        let mut state = self.lock();
        for (job, outcome) in outcomes {
            if *outcome != DeliveryOutcome::Sent && state.forget(job) {
                state.failed.insert(job.conversation_id);
            }
        }
    }

    /// Called once outcomes are written (or their write failed: the rows stay leased and come
    /// back through the claiming path): forgets the rows. Rows that were never handed over are
    /// ignored.
    pub fn settled(&self, outcomes: &[(OutboxJob, DeliveryOutcome)]) {
        let mut state = self.lock();
        for (job, _) in outcomes {
            state.forget(job);
        }
    }
}

impl State {
    /// Stops holding a row; whether it was held.
    fn forget(&mut self, job: &OutboxJob) -> bool {
        if !self.held_ids.remove(&job.id) {
            return false;
        }
        if let Some(count) = self.held.get_mut(&job.conversation_id) {
            *count -= 1;
            if *count == 0 {
                self.held.remove(&job.conversation_id);
            }
        }
        true
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
        let direct = DirectDelivery::default();
        direct.attach(&["telegram"], Duration::from_secs(60));
        assert!(direct.accepts("telegram"));
        assert!(!direct.accepts("vk"));
        direct.hand(vec![job(1, 10), job(2, 10), job(3, 11)]);
        assert_eq!(direct.held([10, 11, 12]), HashMap::from([(10, 2), (11, 1), (12, 0)]));
        let taken = direct.take();
        assert_eq!(taken.deliver.iter().map(|job| job.id).collect::<Vec<_>>(), vec![1, 2, 3]);
        assert!(taken.give_back.is_empty());
        assert!(direct.take().deliver.is_empty());

        // A row that was never handed over does not disturb the counts.
        direct.settled(&[(job(1, 10), DeliveryOutcome::Sent), (job(99, 10), DeliveryOutcome::Sent)]);
        assert_eq!(direct.held([10]), HashMap::from([(10, 1)]));
        // Settling twice counts once.
        direct.settled(&[(job(1, 10), DeliveryOutcome::Sent)]);
        assert_eq!(direct.held([10]), HashMap::from([(10, 1)]));
        direct.settled(&[(job(2, 10), DeliveryOutcome::Released), (job(3, 11), DeliveryOutcome::Sent)]);
        assert_eq!(direct.held([10, 11]), HashMap::from([(10, 0), (11, 0)]));
    }

    #[test]
    fn new_rows_go_fast_only_where_every_pending_row_is_held() {
        let direct = DirectDelivery::default();
        direct.attach(&["telegram"], Duration::from_secs(60));
        direct.hand(vec![job(1, 10), job(2, 11)]);
        let pending = HashMap::from([
            // Everything pending is held.
            (10, vec![1]),
            // Held, but an older row waits for its retry elsewhere.
            (11, vec![2, 7]),
            // Only rows this worker does not hold: the same count as conversation 10's.
            (12, vec![3]),
        ]);
        let fast = direct.holding_all(&[10, 11, 12, 13], &pending);
        // Conversation 13 has nothing pending at all.
        assert_eq!(fast, HashSet::from([10, 13]));

        // A sent row being marked stays held: the conversation keeps the fast path.
        direct.failing(&[(job(1, 10), DeliveryOutcome::Sent)]);
        assert_eq!(direct.holding_all(&[10], &pending), HashSet::from([10]));
        direct.settled(&[(job(1, 10), DeliveryOutcome::Sent)]);
        // Marked: the database no longer lists it, and the worker no longer holds it.
        assert_eq!(direct.holding_all(&[10], &HashMap::new()), HashSet::from([10]));
    }

    #[test]
    fn a_failed_row_keeps_later_rows_of_its_conversation_off_the_fast_path() {
        let direct = DirectDelivery::default();
        direct.attach(&["telegram"], Duration::from_secs(60));
        direct.hand(vec![job(1, 10)]);
        // The engine checks while row 1 is in flight: the conversation looks fine...
        let pending = HashMap::from([(10, vec![1])]);
        assert_eq!(direct.holding_all(&[10], &pending), HashSet::from([10]));
        // ...then row 1 fails before the engine hands over row 2.
        let retry = DeliveryOutcome::Retry { at: 100, count_attempt: true, error: "hiccup".to_owned() };
        direct.failing(&[(job(1, 10), retry.clone())]);
        direct.settled(&[(job(1, 10), retry)]);
        let _ = direct.take();
        direct.hand(vec![job(2, 10), job(3, 11)]);
        let taken = direct.take();
        assert_eq!(taken.deliver.iter().map(|job| job.id).collect::<Vec<_>>(), vec![3]);
        assert_eq!(taken.give_back.iter().map(|job| job.id).collect::<Vec<_>>(), vec![2]);
        assert_eq!(direct.held([10]), HashMap::from([(10, 0)]));

        // While row 1 waits for its retry, the conversation stays on the slow path.
        let waiting = HashMap::from([(10, vec![1, 2])]);
        assert!(direct.holding_all(&[10], &waiting).is_empty());
        // Once the claiming path has sent both, it is back on the fast path.
        assert_eq!(direct.holding_all(&[10], &HashMap::new()), HashSet::from([10]));
        direct.hand(vec![job(4, 10)]);
        assert_eq!(direct.take().deliver.iter().map(|job| job.id).collect::<Vec<_>>(), vec![4]);
    }

    #[test]
    fn detaching_returns_what_was_not_taken_and_refuses_more() {
        let direct = DirectDelivery::default();
        direct.attach(&["telegram"], Duration::from_secs(60));
        direct.hand(vec![job(5, 1)]);
        let left = direct.detach();
        assert_eq!(left.len(), 1);
        assert!(!direct.accepts("telegram"));
        assert_eq!(direct.lease(), None);
    }
}
