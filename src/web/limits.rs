//! Rate limits keyed by what a stranger sends (an address, a name, a visitor id), bounded in
//! memory: governor counts, and this wrapper keeps its map from growing without end. When the
//! map reaches its cap, keys whose limit has fully recovered are dropped (they would start
//! fresh anyway); if it is still full, every new key is refused until some recover. Under a
//! flood of made-up keys the limit then fails closed instead of taking the process's memory.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::collections::HashMap;
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub struct KeyedLimit<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    max_keys: usize,
}

impl<K: Hash + Eq + Clone> KeyedLimit<K> {
    /// `amount` units per `period` per key (all of them may be spent at once), for at most
    /// `max_keys` keys at a time.
    pub fn new(amount: u32, period: Duration, max_keys: usize) -> KeyedLimit<K> {
        let amount = NonZeroU32::new(amount.max(1)).expect("at least one");
        let quota =
            Quota::with_period(period / amount.get()).expect("a period longer than zero").allow_burst(amount);
        KeyedLimit { limiter: RateLimiter::keyed(quota), max_keys: max_keys.max(1) }
    }

    pub fn per_minute(amount: u32, max_keys: usize) -> KeyedLimit<K> {
        KeyedLimit::new(amount, Duration::from_secs(60), max_keys)
    }

    pub fn per_hour(amount: u32, max_keys: usize) -> KeyedLimit<K> {
        KeyedLimit::new(amount, Duration::from_secs(3600), max_keys)
    }

    /// Spends one unit of `key`'s allowance; `false` when it is used up.
    pub fn allow(&self, key: &K) -> bool {
        self.allow_n(key, 1)
    }

    /// Spends `units` at once (nothing is spent when they are not all there).
    pub fn allow_n(&self, key: &K, units: u32) -> bool {
        if !self.room_for_keys() {
            return false;
        }
        let units = NonZeroU32::new(units.max(1)).expect("at least one");
        matches!(self.limiter.check_key_n(key, units), Ok(Ok(())))
    }

    /// Keys held now (for tests and metrics).
    pub fn len(&self) -> usize {
        self.limiter.len()
    }

    pub fn is_empty(&self) -> bool {
        self.limiter.is_empty()
    }

    fn room_for_keys(&self) -> bool {
        if self.limiter.len() < self.max_keys {
            return true;
        }
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
        self.limiter.len() < self.max_keys
    }
}

/// Open event streams, in total and per key (a visitor, an agent): each holds a connection, a
/// task and a timer for as long as a browser keeps it, so neither one browser nor all of them
/// together may open them without bound.
pub struct StreamSlots {
    total: usize,
    per_key: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream's place; dropping it (the stream ended) frees it.
pub struct StreamSlot {
    key: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl StreamSlots {
    pub fn new(total: usize, per_key: usize) -> StreamSlots {
        StreamSlots { total: total.max(1), per_key: per_key.max(1), open: Arc::default() }
    }

    /// A place for one more stream of `key`, unless the key or everyone is at the limit.
    pub fn open(&self, key: &str) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let everyone: usize = open.values().sum();
        let mine = open.get(key).copied().unwrap_or(0);
        if everyone >= self.total || mine >= self.per_key {
            return None;
        }
        *open.entry(key.to_owned()).or_insert(0) += 1;
        Some(StreamSlot { key: key.to_owned(), open: Arc::clone(&self.open) })
    }

    /// Streams open now.
    pub fn count(&self) -> usize {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().sum()
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key() {
        let limit = KeyedLimit::per_minute(3, 100);
        assert!((0..3).all(|_| limit.allow(&"a")));
        assert!(!limit.allow(&"a"), "a's minute is used up");
        assert!(limit.allow(&"b"), "b has its own");
        assert!(!limit.allow_n(&"b", 3), "two left, three asked: nothing spent");
        assert!(limit.allow_n(&"b", 2));
    }

    #[test]
    fn the_map_is_bounded_and_pruned() {
        // A made-up key per request: the map stops at its cap and refuses new keys...
        let limit = KeyedLimit::per_minute(5, 50);
        let admitted = (0..10_000).filter(|n| limit.allow(&format!("name-{n}"))).count();
        assert_eq!(admitted, 50);
        assert!(limit.len() <= 50, "{} keys held", limit.len());

        // ...until keys recover: a tiny period lets every key start fresh at once.
        let quick = KeyedLimit::new(1, Duration::from_millis(1), 10);
        assert_eq!((0..10).filter(|n| quick.allow(n)).count(), 10);
        std::thread::sleep(Duration::from_millis(5));
        assert!(quick.allow(&99), "recovered keys are pruned to make room");
        assert!(quick.len() <= 10);
    }

    #[test]
    fn streams_are_limited_per_key_and_in_total() {
        let slots = StreamSlots::new(3, 2);
        let a1 = slots.open("a").expect("first");
        let _a2 = slots.open("a").expect("second");
        assert!(slots.open("a").is_none(), "two per key");
        let _b1 = slots.open("b").expect("b's first");
        assert!(slots.open("c").is_none(), "three in all");
        drop(a1);
        assert_eq!(slots.count(), 2);
        assert!(slots.open("c").is_some(), "a closed stream frees its place");
    }
}
