//! Per-customer flood control as a pure decision.
//!
//! A customer who sends more than `limit` messages within one window gets one polite notice;
//! what they send after it, until the window ends, is logged for the agent but not run through
//! the dialog. The window is fixed: it opens with the first message after the previous window
//! ended and lasts `window_millis`. A fixed window needs only two numbers per conversation
//! (when it opened, how many messages it has seen), which the engine loads and saves with the
//! conversation row, so the count survives restarts and is shared by every instance.

use serde::{Deserialize, Serialize};

/// The stored state of one conversation's window. The default (opened at 0, nothing counted)
/// is what a new conversation starts with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FloodWindow {
    /// When the current window opened, in milliseconds since the Unix epoch.
    pub opened_at: i64,
    /// Customer messages counted in the current window.
    pub count: u32,
}

/// What to do with one customer message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloodVerdict {
    /// Within the limit: run it through the dialog.
    Allow,
    /// The first message over the limit: send the notice instead of a dialog step.
    Notice,
    /// Over the limit and already told: log it, say nothing.
    Quiet,
}

/// How many messages a customer may send per window; `limit == 0` turns flood control off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FloodRule {
    pub limit: u32,
    pub window_millis: i64,
}

impl FloodRule {
    /// The rule for `limit` messages per minute.
    pub fn per_minute(limit: u32) -> FloodRule {
        FloodRule { limit, window_millis: 60_000 }
    }

    pub fn is_off(&self) -> bool {
        self.limit == 0
    }
}

impl FloodWindow {
    /// Counts one customer message sent at `now` and says what to do with it. With the rule
    /// off the window is left untouched (nothing to save).
    pub fn register(&mut self, now: i64, rule: FloodRule) -> FloodVerdict {
        if rule.is_off() {
            return FloodVerdict::Allow;
        }
        // A message stamped a little before the window opened belongs to it: another instance
        // (or a batch that waited for the write lock) opened it with a slightly later clock,
        // and a new window for every such message would let a burst spread over two instances
        // through twice. A clock that went back further than a window (a corrected clock)
        // opens a new window: better one extra allowance than a customer silenced for long.
        let elapsed = now.saturating_sub(self.opened_at);
        if self.count == 0 || elapsed >= rule.window_millis || elapsed <= -rule.window_millis {
            *self = FloodWindow { opened_at: now, count: 0 };
        }
        self.count = self.count.saturating_add(1);
        if self.count <= rule.limit {
            FloodVerdict::Allow
        } else if self.count - 1 == rule.limit {
            FloodVerdict::Notice
        } else {
            FloodVerdict::Quiet
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(window: &mut FloodWindow, rule: FloodRule, times: &[i64]) -> Vec<FloodVerdict> {
        times.iter().map(|&now| window.register(now, rule)).collect()
    }

    #[test]
    fn the_first_message_over_the_limit_gets_the_notice_and_later_ones_are_quiet() {
        use FloodVerdict::{Allow, Notice, Quiet};
        let rule = FloodRule { limit: 3, window_millis: 60_000 };
        let mut window = FloodWindow::default();
        let verdicts = run(&mut window, rule, &[1_000, 1_001, 1_002, 1_003, 1_004, 60_999]);
        assert_eq!(verdicts, vec![Allow, Allow, Allow, Notice, Quiet, Quiet]);
        assert_eq!(window, FloodWindow { opened_at: 1_000, count: 6 });
    }

    #[test]
    fn a_new_window_starts_fresh_once_the_old_one_has_passed() {
        use FloodVerdict::{Allow, Notice};
        let rule = FloodRule { limit: 1, window_millis: 60_000 };
        let mut window = FloodWindow::default();
        assert_eq!(run(&mut window, rule, &[5_000, 6_000]), vec![Allow, Notice]);
        assert_eq!(run(&mut window, rule, &[65_000, 65_001]), vec![Allow, Notice]);
        assert_eq!(window, FloodWindow { opened_at: 65_000, count: 2 });
    }

    #[test]
    fn off_means_every_message_is_allowed_and_nothing_changes() {
        let mut window = FloodWindow { opened_at: 7, count: 3 };
        for now in 0..100 {
            assert_eq!(window.register(now, FloodRule::per_minute(0)), FloodVerdict::Allow);
        }
        assert_eq!(window, FloodWindow { opened_at: 7, count: 3 });
    }

    #[test]
    fn a_clock_that_went_back_more_than_a_window_opens_a_new_window() {
        let rule = FloodRule { limit: 1, window_millis: 60_000 };
        let mut window = FloodWindow { opened_at: 100_000, count: 5 };
        assert_eq!(window.register(30_000, rule), FloodVerdict::Allow);
        assert_eq!(window, FloodWindow { opened_at: 30_000, count: 1 });
    }

    #[test]
    fn a_message_stamped_just_before_the_window_opened_counts_in_it() {
        // Two instances: one opened the window at 100 000, the other's clock (or a batch that
        // waited for the lock) says 99 990.
        let rule = FloodRule { limit: 2, window_millis: 60_000 };
        let mut window = FloodWindow { opened_at: 100_000, count: 2 };
        assert_eq!(window.register(99_990, rule), FloodVerdict::Notice);
        assert_eq!(window, FloodWindow { opened_at: 100_000, count: 3 });
        assert_eq!(window.register(40_001, rule), FloodVerdict::Quiet);
    }

    #[test]
    fn counts_saturate_instead_of_wrapping() {
        let rule = FloodRule { limit: u32::MAX, window_millis: i64::MAX };
        let mut window = FloodWindow { opened_at: 0, count: u32::MAX - 1 };
        assert_eq!(window.register(1, rule), FloodVerdict::Allow);
        assert_eq!(window.register(2, rule), FloodVerdict::Allow);
        assert_eq!(window.count, u32::MAX);
    }
}
