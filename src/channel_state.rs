//! What each channel is doing: up, still trying to start (and why), or stopped for good (and
//! why). A channel whose platform cannot be reached at start keeps trying in the background
//! while everything else serves (`app`); `/readyz`, `/metrics` and the console's banner read
//! the states from here. A module of its own so that none of those readers imports another.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::sync::watch;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelState {
    /// The first attempt to start is under way.
    Starting,
    Up,
    /// Start failed `attempt` times so far; the next attempt is scheduled.
    Retrying {
        reason: String,
        attempt: u32,
    },
    /// Will not run until the configuration changes and the process restarts.
    Stopped {
        reason: String,
    },
}

impl ChannelState {
    /// The state's name as `/metrics` labels it.
    pub fn code(&self) -> &'static str {
        match self {
            ChannelState::Starting => "starting",
            ChannelState::Up => "up",
            ChannelState::Retrying { .. } => "retrying",
            ChannelState::Stopped { .. } => "stopped",
        }
    }

    pub const CODES: [&'static str; 4] = ["starting", "up", "retrying", "stopped"];
}

impl fmt::Display for ChannelState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelState::Starting | ChannelState::Up => f.write_str(self.code()),
            ChannelState::Retrying { reason, attempt } => {
                write!(f, "retrying after {attempt} failed attempt(s): {reason}")
            }
            ChannelState::Stopped { reason } => write!(f, "stopped: {reason}"),
        }
    }
}

/// The states of this process's channels, shared by whoever starts them and whoever reports.
#[derive(Debug, Clone)]
pub struct ChannelStates(Arc<watch::Sender<BTreeMap<&'static str, ChannelState>>>);

impl Default for ChannelStates {
    fn default() -> Self {
        ChannelStates(Arc::new(watch::Sender::new(BTreeMap::new())))
    }
}

impl ChannelStates {
    pub fn set(&self, channel: &'static str, state: ChannelState) {
        self.0.send_modify(|states| {
            states.insert(channel, state);
        });
    }

    /// Every channel's state, by name.
    pub fn all(&self) -> Vec<(&'static str, ChannelState)> {
        self.0.borrow().iter().map(|(name, state)| (*name, state.clone())).collect()
    }

    /// One line per channel that is not up, for people (the console's banner).
    pub fn problems(&self) -> Vec<String> {
        self.all()
            .into_iter()
            .filter(|(_, state)| *state != ChannelState::Up)
            .map(|(name, state)| format!("{name}: {state}"))
            .collect()
    }

    /// Waits until `channel` is in a state that `wanted` accepts.
    pub async fn wait_for(&self, channel: &str, wanted: impl Fn(&ChannelState) -> bool) {
        let mut changes = self.0.subscribe();
        // The sender lives as long as `self`, so waiting cannot fail.
        let _ = changes.wait_for(|states| states.get(channel).is_some_and(&wanted)).await;
    }

    /// Waits until no channel is starting or retrying: each is up or has stopped.
    pub async fn settled(&self) {
        let mut changes = self.0.subscribe();
        let _ = changes
            .wait_for(|states| {
                states.values().all(|state| matches!(state, ChannelState::Up | ChannelState::Stopped { .. }))
            })
            .await;
    }
}

/// How a running loop (a long poll) reports its channel: failures in a row since the platform
/// last answered make it `Retrying`; an answer after them makes it `Up` again.
pub struct Reporter {
    channel: &'static str,
    states: ChannelStates,
    failures: AtomicU32,
}

impl Reporter {
    pub fn new(channel: &'static str, states: ChannelStates) -> Reporter {
        Reporter { channel, states, failures: AtomicU32::new(0) }
    }

    pub fn failed(&self, reason: &dyn fmt::Display) {
        let attempt = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        self.states.set(self.channel, ChannelState::Retrying { reason: reason.to_string(), attempt });
    }

    pub fn answered(&self) {
        if self.failures.swap(0, Ordering::Relaxed) > 0 {
            self.states.set(self.channel, ChannelState::Up);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_as_sentences_and_only_trouble_is_a_problem() {
        let states = ChannelStates::default();
        states.set("webchat", ChannelState::Up);
        states.set("telegram", ChannelState::Retrying { reason: "connection refused".into(), attempt: 3 });
        states.set("vk", ChannelState::Stopped { reason: "the token was refused".into() });
        assert_eq!(
            states.problems(),
            [
                "telegram: retrying after 3 failed attempt(s): connection refused",
                "vk: stopped: the token was refused"
            ]
        );
        states.set("telegram", ChannelState::Up);
        assert_eq!(states.problems(), ["vk: stopped: the token was refused"]);
        assert_eq!(states.all().len(), 3);
    }

    #[test]
    fn a_reporter_counts_failures_in_a_row_until_an_answer() {
        let states = ChannelStates::default();
        let reporter = Reporter::new("vk", states.clone());
        reporter.answered();
        assert!(states.all().is_empty(), "an answer with no failure before changes nothing");
        reporter.failed(&"timed out");
        reporter.failed(&"timed out");
        assert_eq!(states.problems(), ["vk: retrying after 2 failed attempt(s): timed out"]);
        reporter.answered();
        assert_eq!(states.all(), [("vk", ChannelState::Up)]);
    }
}
