//! Telegram's send limits, kept on our side so that the bot rarely meets a 429: about one
//! message a second per chat (short bursts allowed) and 30 messages a second per bot. When
//! Telegram does answer 429, the chat is held for exactly `retry_after` and every delivery to
//! it in that time is handed back to the outbox with the remaining wait.

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Messages a chat may receive back to back before the one-per-second pace applies.
pub const CHAT_BURST: u32 = 3;
/// Messages per second per chat, after the burst.
pub const CHAT_PER_SECOND: u32 = 1;
/// Messages per second for the whole bot (and the burst allowed at once).
pub const BOT_PER_SECOND: u32 = 30;

/// How often (in acquisitions) idle chats are dropped from the per-chat table.
const FORGET_IDLE_CHATS_EVERY: u64 = 4096;

/// The send limits of one bot. `Limits::new(false)` lets everything through at once (for
/// benchmarks against a fake API), but still honours a 429's `retry_after`.
pub struct Limits {
    per_chat: Option<DefaultKeyedRateLimiter<i64>>,
    per_bot: Option<DefaultDirectRateLimiter>,
    held_until: Mutex<HashMap<i64, Instant>>,
    acquisitions: AtomicU64,
}

impl Limits {
    pub fn new(enabled: bool) -> Limits {
        if enabled {
            Limits::with_quotas(Some(chat_quota()), Some(bot_quota()))
        } else {
            Limits::with_quotas(None, None)
        }
    }

    /// Limits with other rates; `None` switches that limit off. Tests use slow rates so that
    /// counting allowances never depends on how fast the machine runs.
    pub fn with_quotas(per_chat: Option<Quota>, per_bot: Option<Quota>) -> Limits {
        Limits {
            per_chat: per_chat.map(RateLimiter::keyed),
            per_bot: per_bot.map(RateLimiter::direct),
            held_until: Mutex::new(HashMap::new()),
            acquisitions: AtomicU64::new(0),
        }
    }

    pub fn enabled(&self) -> bool {
        self.per_chat.is_some()
    }

    /// Waits until one message may go to `chat`. Returns the remaining wait instead when the
    /// chat is held after a 429: waiting that long belongs in the outbox, not in a worker.
    pub async fn acquire(&self, chat: i64) -> Result<(), Duration> {
        if let Some(wait) = self.held_for(chat) {
            return Err(wait);
        }
        self.forget_idle_chats_now_and_then();
        if let Some(per_chat) = &self.per_chat {
            per_chat.until_key_ready(&chat).await;
        }
        if let Some(per_bot) = &self.per_bot {
            per_bot.until_ready().await;
        }
        Ok(())
    }

    /// Takes one message's allowance for `chat` if it is available now; otherwise says how
    /// long until it would be. Never waits.
    pub fn try_acquire(&self, chat: i64) -> Result<(), Duration> {
        if let Some(wait) = self.held_for(chat) {
            return Err(wait);
        }
        let clock = DefaultClock::default();
        if let Some(per_chat) = &self.per_chat {
            per_chat.check_key(&chat).map_err(|not_until| not_until.wait_time_from(clock.now()))?;
        }
        if let Some(per_bot) = &self.per_bot {
            per_bot.check().map_err(|not_until| not_until.wait_time_from(clock.now()))?;
        }
        Ok(())
    }

    /// Telegram said 429 with `retry_after` for this chat: send nothing to it before then.
    pub fn hold(&self, chat: i64, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        let mut held = self.held_until.lock().expect("limits lock poisoned");
        let entry = held.entry(chat).or_insert(until);
        *entry = (*entry).max(until);
    }

    /// How much longer `chat` is held after a 429, if it is.
    pub fn held_for(&self, chat: i64) -> Option<Duration> {
        let now = Instant::now();
        let mut held = self.held_until.lock().expect("limits lock poisoned");
        match held.get(&chat) {
            Some(until) if *until > now => Some(*until - now),
            Some(_) => {
                held.remove(&chat);
                None
            }
            None => None,
        }
    }

    fn forget_idle_chats_now_and_then(&self) {
        let count = self.acquisitions.fetch_add(1, Ordering::Relaxed);
        if count % FORGET_IDLE_CHATS_EVERY == FORGET_IDLE_CHATS_EVERY - 1 {
            if let Some(per_chat) = &self.per_chat {
                per_chat.retain_recent();
                per_chat.shrink_to_fit();
            }
            let now = Instant::now();
            self.held_until.lock().expect("limits lock poisoned").retain(|_, until| *until > now);
        }
    }
}

/// About one message a second per chat, after a short burst.
pub fn chat_quota() -> Quota {
    Quota::per_second(nonzero(CHAT_PER_SECOND)).allow_burst(nonzero(CHAT_BURST))
}

/// Thirty messages a second for the whole bot.
pub fn bot_quota() -> Quota {
    Quota::per_second(nonzero(BOT_PER_SECOND))
}

fn nonzero(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).expect("limit constants are positive")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real burst sizes, but refilled once an hour: counts cannot depend on timing.
    fn slow_limits() -> Limits {
        let per_chat = Quota::per_hour(nonzero(1)).allow_burst(nonzero(CHAT_BURST));
        let per_bot = Quota::per_hour(nonzero(1)).allow_burst(nonzero(BOT_PER_SECOND));
        Limits::with_quotas(Some(per_chat), Some(per_bot))
    }

    #[test]
    fn the_real_rates_are_telegrams() {
        assert_eq!(chat_quota().burst_size().get(), CHAT_BURST);
        assert_eq!(chat_quota().replenish_interval(), Duration::from_secs(1));
        assert_eq!(bot_quota().burst_size().get(), 30);
        assert_eq!(bot_quota().replenish_interval(), Duration::from_secs(1) / 30);
        assert!(Limits::new(true).enabled());
    }

    #[test]
    fn a_chat_gets_its_burst_then_must_wait_while_other_chats_are_unaffected() {
        let limits = slow_limits();
        for _ in 0..CHAT_BURST {
            assert_eq!(limits.try_acquire(1), Ok(()));
        }
        let wait = limits.try_acquire(1).expect_err("the burst is used up");
        assert!(wait > Duration::ZERO, "{wait:?}");
        assert_eq!(limits.try_acquire(2), Ok(()));
    }

    #[test]
    fn the_bot_as_a_whole_gets_its_allowance_across_chats() {
        let limits = slow_limits();
        let sent = (0..100i64).filter(|chat| limits.try_acquire(*chat).is_ok()).count();
        assert_eq!(sent, BOT_PER_SECOND as usize);
    }

    #[test]
    fn limits_can_be_switched_off_for_benchmarks() {
        let limits = Limits::new(false);
        assert!(!limits.enabled());
        assert!((0..1000).all(|_| limits.try_acquire(7).is_ok()));
    }

    #[test]
    fn a_hold_after_429_applies_to_that_chat_only_even_without_limits() {
        let limits = Limits::new(false);
        limits.hold(5, Duration::from_secs(3600));
        let wait = limits.try_acquire(5).expect_err("held");
        assert!(wait > Duration::from_secs(60) && wait <= Duration::from_secs(3600), "{wait:?}");
        assert_eq!(limits.try_acquire(6), Ok(()));
        // A shorter hold never shortens a longer one.
        limits.hold(5, Duration::from_secs(1));
        assert!(limits.held_for(5).unwrap() > Duration::from_secs(60));
    }
}
