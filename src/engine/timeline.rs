//! Where a group commit's time goes: the writer's clock, stage by stage, with the database
//! round trips each stage made.
//!
//! Always on (a clock read per stage per group commit costs nothing next to a statement).
//! `cargo bench --bench engine` prints the totals ([`crate::engine::Engine::timeline`]); a
//! running server logs them every [`LOG_EVERY`] at debug level under the target [`TARGET`]
//! (`SWITCHBOARD_LOG=warn,switchboard::engine::timeline=debug`), each line covering the
//! window since the one before, so a benchmark's warm-up does not blur its figures.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tracing target of the periodic log lines.
pub const TARGET: &str = "switchboard::engine::timeline";
/// How often a running server logs its timeline (when [`TARGET`] is enabled at debug level).
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// The parts of an inbound group commit, in the order they happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Taking the connection and `BEGIN`.
    Begin,
    /// Long-poll positions and the dedupe of event ids.
    Dedupe,
    /// Reading (and writing new or changed) contacts.
    Contacts,
    /// Loading and locking the conversations (creating missing ones).
    Conversations,
    /// What the steps need of the batch's conversations: their open tickets (and, where it is
    /// read up front, what direct delivery needs to know).
    Prefetch,
    /// The dialog steps, with what they read and write while they run (queue figures).
    Steps,
    /// Writing the tickets the steps opened or withdrew.
    Tickets,
    /// Direct delivery's lookup of the conversations' pending outbox rows, where it is read
    /// at the end.
    HandOver,
    /// The message log, outbox rows and new states (on PostgreSQL now with the tickets).
    Writes,
    /// `COMMIT` (its fsync) and giving the connection back.
    Commit,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Stage::Begin,
        Stage::Dedupe,
        Stage::Contacts,
        Stage::Conversations,
        Stage::Prefetch,
        Stage::Steps,
        Stage::Tickets,
        Stage::HandOver,
        Stage::Writes,
        Stage::Commit,
    ];

    fn index(self) -> usize {
        self as usize
    }

    fn name(self) -> &'static str {
        match self {
            Stage::Begin => "begin",
            Stage::Dedupe => "cursor + dedupe",
            Stage::Contacts => "contacts",
            Stage::Conversations => "conversations (locked)",
            Stage::Prefetch => "open tickets (+ pending outbox)",
            Stage::Steps => "dialog steps",
            Stage::Tickets => "ticket writes",
            Stage::HandOver => "direct delivery's lookup",
            Stage::Writes => "log, outbox rows, states",
            Stage::Commit => "commit",
        }
    }
}

const STAGES: usize = Stage::ALL.len();

/// Sums over some group commits.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Totals {
    pub commits: u64,
    pub events: u64,
    /// Summed over events: how long each waited between its caller's submission and the
    /// start of the group commit that took it.
    pub waited: Duration,
    pub spent: [Duration; STAGES],
    pub round_trips: [u64; STAGES],
}

impl Totals {
    pub fn spent_in(&self, stage: Stage) -> Duration {
        self.spent[stage.index()]
    }

    pub fn round_trips_in(&self, stage: Stage) -> u64 {
        self.round_trips[stage.index()]
    }

    pub fn round_trips(&self) -> u64 {
        self.round_trips.iter().sum()
    }

    /// What happened since `earlier` (a copy of these totals taken before).
    pub fn since(&self, earlier: &Totals) -> Totals {
        let mut delta = self.clone();
        delta.commits -= earlier.commits;
        delta.events -= earlier.events;
        delta.waited = delta.waited.saturating_sub(earlier.waited);
        for index in 0..STAGES {
            delta.spent[index] = delta.spent[index].saturating_sub(earlier.spent[index]);
            delta.round_trips[index] -= earlier.round_trips[index];
        }
        delta
    }

    fn add(&mut self, commit: &CommitClock) {
        self.commits += 1;
        self.events += commit.events;
        self.waited += commit.waited;
        for index in 0..STAGES {
            self.spent[index] += commit.spent[index];
            self.round_trips[index] += commit.round_trips[index];
        }
    }
}

impl fmt::Display for Totals {
    /// A table: per group commit, each stage's milliseconds, share and round trips.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let commits = self.commits.max(1) as f64;
        let busy: Duration = self.spent.iter().sum();
        writeln!(
            f,
            "  {} group commits, {:.1} events, {:.2} ms and {:.1} round trips each; an event waited {:.2} ms for its commit to start",
            self.commits,
            self.events as f64 / commits,
            busy.as_secs_f64() * 1000.0 / commits,
            self.round_trips() as f64 / commits,
            self.waited.as_secs_f64() * 1000.0 / self.events.max(1) as f64,
        )?;
        writeln!(f, "  {:<30} {:>8} {:>6} {:>12}", "stage", "ms", "share", "round trips")?;
        for stage in Stage::ALL {
            let spent = self.spent_in(stage);
            writeln!(
                f,
                "  {:<30} {:>8.2} {:>5.0}% {:>12.1}",
                stage.name(),
                spent.as_secs_f64() * 1000.0 / commits,
                100.0 * spent.as_secs_f64() / busy.as_secs_f64().max(f64::EPSILON),
                self.round_trips_in(stage) as f64 / commits,
            )?;
        }
        Ok(())
    }
}

/// The engine's running totals, and when they were last logged.
#[derive(Default)]
pub(super) struct Timeline {
    totals: Mutex<Totals>,
    logged: Mutex<Option<(Instant, Totals)>>,
}

impl Timeline {
    pub(super) fn totals(&self) -> Totals {
        self.totals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(super) fn record(&self, commit: &CommitClock) {
        self.totals.lock().unwrap_or_else(std::sync::PoisonError::into_inner).add(commit);
    }

    /// Logs the window since the last line, at most every [`LOG_EVERY`], when enabled.
    pub(super) fn log_now_and_then(&self) {
        if !tracing::enabled!(target: TARGET, tracing::Level::DEBUG) {
            return;
        }
        let mut logged = self.logged.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        let totals = self.totals();
        match &*logged {
            Some((at, _)) if now.duration_since(*at) < LOG_EVERY => {}
            Some((_, before)) => {
                let window = totals.since(before);
                tracing::debug!(target: TARGET, "group commits of the last {LOG_EVERY:?}:\n{window}");
                *logged = Some((now, totals));
            }
            None => *logged = Some((now, totals)),
        }
    }
}

/// One group commit's clock: each [`lap`](CommitClock::lap) charges the time and round trips
/// since the previous one to a stage.
pub(super) struct CommitClock {
    last: Instant,
    last_round_trips: u64,
    events: u64,
    waited: Duration,
    spent: [Duration; STAGES],
    round_trips: [u64; STAGES],
}

impl CommitClock {
    /// Starts now, for `events` events that waited `waited` in all since they were submitted.
    pub(super) fn start(events: usize, waited: Duration) -> CommitClock {
        CommitClock {
            last: Instant::now(),
            last_round_trips: 0,
            events: events as u64,
            waited,
            spent: [Duration::ZERO; STAGES],
            round_trips: [0; STAGES],
        }
    }

    /// Charges what happened since the last lap to `stage`; `round_trips` is the
    /// transaction's count so far.
    pub(super) fn lap(&mut self, stage: Stage, round_trips: u64) {
        let now = Instant::now();
        self.spent[stage.index()] += now.duration_since(self.last);
        self.round_trips[stage.index()] += round_trips.saturating_sub(self.last_round_trips);
        self.last = now;
        self.last_round_trips = round_trips;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn laps_charge_time_and_round_trips_to_their_stage() {
        let mut clock = CommitClock::start(3, Duration::from_millis(6));
        clock.lap(Stage::Begin, 2);
        clock.lap(Stage::Dedupe, 3);
        clock.lap(Stage::Commit, 5);
        let mut totals = Totals::default();
        totals.add(&clock);
        let first = totals.clone();
        totals.add(&clock);
        assert_eq!(totals.commits, 2);
        assert_eq!(totals.events, 6);
        assert_eq!(totals.round_trips_in(Stage::Begin), 4);
        assert_eq!(totals.round_trips_in(Stage::Dedupe), 2);
        assert_eq!(totals.round_trips_in(Stage::Steps), 0);
        assert_eq!(totals.round_trips(), 10);
        let window = totals.since(&first);
        assert_eq!(window.commits, 1);
        assert_eq!(window.round_trips(), 5);
        assert_eq!(window.waited, Duration::from_millis(6));
        let table = window.to_string();
        assert!(table.contains("1 group commits, 3.0 events"), "{table}");
        assert!(table.contains("cursor + dedupe"), "{table}");
    }
}
