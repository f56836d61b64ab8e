//! What every order source gets around it: an overall timeout, a short cache of answers, and a
//! circuit breaker, so that a slow or failing store costs each customer at most the timeout
//! once, and then nothing until it may have recovered.

use super::{OrderLookup, OrderQuery, OrderSourceError, Sources};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How many answers are kept at most. Queries are keyed by what customers type, so the map is
/// bounded: when full, expired entries go, and if none has expired the oldest half goes.
pub const CACHE_ENTRIES: usize = 10_000;
/// Failures in a row that open the circuit.
pub const BREAKER_FAILURES: u32 = 5;
/// How long an open circuit refuses lookups before one is let through to test the store.
pub const BREAKER_OPEN_FOR: Duration = Duration::from_secs(30);

/// The guard's settings.
#[derive(Debug, Clone, Copy)]
pub struct GuardSettings {
    pub timeout: Duration,
    pub cache_ttl: Duration,
}

/// [`Sources`] behind a timeout, a cache and a circuit breaker.
pub struct GuardedSources {
    sources: Sources,
    settings: GuardSettings,
    cache: Mutex<HashMap<OrderQuery, (Instant, OrderLookup)>>,
    breaker: Mutex<Breaker>,
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    /// A trial lookup is out while the circuit is half open: others are still refused.
    trial_out: bool,
}

impl GuardedSources {
    pub fn new(sources: Sources, settings: GuardSettings) -> GuardedSources {
        GuardedSources {
            sources,
            settings,
            cache: Mutex::new(HashMap::new()),
            breaker: Mutex::new(Breaker::default()),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    pub fn timeout(&self) -> Duration {
        self.settings.timeout
    }

    /// Asks the sources; `None` when no source takes the query.
    pub async fn lookup(&self, query: &OrderQuery) -> Option<Result<OrderLookup, OrderSourceError>> {
        let now = Instant::now();
        if let Some(answer) = self.cached(query, now) {
            return Some(Ok(answer));
        }
        if !self.may_try(now) {
            return Some(Err(OrderSourceError::CircuitOpen));
        }
        let result = match tokio::time::timeout(self.settings.timeout, self.sources.lookup(query)).await {
            Ok(result) => result,
            Err(_) => Some(Err(OrderSourceError::Unavailable(format!(
                "no answer within {} ms",
                self.settings.timeout.as_millis()
            )))),
        };
        match &result {
            Some(Ok(answer)) => {
                self.succeeded();
                self.remember(query, answer.clone(), Instant::now());
            }
            Some(Err(_)) => self.failed(Instant::now()),
            None => self.succeeded(),
        }
        result
    }

    fn cached(&self, query: &OrderQuery, now: Instant) -> Option<OrderLookup> {
        let cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .get(query)
            .filter(|(at, _)| now.duration_since(*at) < self.settings.cache_ttl)
            .map(|(_, a)| a.clone())
    }

    fn remember(&self, query: &OrderQuery, answer: OrderLookup, now: Instant) {
        if self.settings.cache_ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() >= CACHE_ENTRIES {
            let ttl = self.settings.cache_ttl;
            cache.retain(|_, (at, _)| now.duration_since(*at) < ttl);
        }
        if cache.len() >= CACHE_ENTRIES {
            let mut ages: Vec<Instant> = cache.values().map(|(at, _)| *at).collect();
            ages.sort_unstable();
            let cutoff = ages[ages.len() / 2];
            cache.retain(|_, (at, _)| *at > cutoff);
        }
        cache.insert(query.clone(), (now, answer));
    }

    /// Whether a lookup may go to the store: the circuit is closed, or it has been open long
    /// enough and no other trial is out.
    fn may_try(&self, now: Instant) -> bool {
        let mut breaker = self.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        match breaker.open_until {
            None => true,
            Some(until) if now >= until && !breaker.trial_out => {
                breaker.trial_out = true;
                true
            }
            Some(_) => false,
        }
    }

    fn succeeded(&self) {
        let mut breaker = self.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *breaker = Breaker::default();
    }

    fn failed(&self, now: Instant) {
        let mut breaker = self.breaker.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        breaker.failures = breaker.failures.saturating_add(1);
        breaker.trial_out = false;
        if breaker.failures >= BREAKER_FAILURES || breaker.open_until.is_some() {
            if breaker.open_until.is_none() {
                tracing::warn!(
                    failures = breaker.failures,
                    "the order source keeps failing; pausing lookups"
                );
            }
            breaker.open_until = Some(now + BREAKER_OPEN_FOR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::Lang;
    use crate::orders::{ContactRef, OrderSource};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    struct Counting {
        calls: AtomicU32,
        answer: Result<OrderLookup, OrderSourceError>,
        delay: Duration,
    }

    #[async_trait::async_trait]
    impl OrderSource for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }

        async fn lookup(&self, _query: &OrderQuery) -> Result<OrderLookup, OrderSourceError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(self.delay).await;
            self.answer.clone()
        }
    }

    fn query(order_ref: &str) -> OrderQuery {
        OrderQuery {
            order_ref: Some(order_ref.to_owned()),
            verifier: None,
            contact: ContactRef { channel: "webchat".into(), id: "v1".into() },
            customer: None,
            locale: Lang::En,
        }
    }

    fn guarded(source: Arc<Counting>, timeout: Duration) -> GuardedSources {
        let settings = GuardSettings { timeout, cache_ttl: Duration::from_secs(60) };
        GuardedSources::new(Sources::new(vec![source]), settings)
    }

    #[tokio::test]
    async fn answers_are_cached_and_failures_open_the_circuit() {
        let good = Arc::new(Counting {
            calls: AtomicU32::new(0),
            answer: Ok(OrderLookup::NotFound),
            delay: Duration::ZERO,
        });
        let guard = guarded(Arc::clone(&good), Duration::from_secs(1));
        for _ in 0..3 {
            assert_eq!(guard.lookup(&query("1")).await, Some(Ok(OrderLookup::NotFound)));
        }
        assert_eq!(good.calls.load(Ordering::SeqCst), 1, "the same question is asked once");

        let down = Arc::new(Counting {
            calls: AtomicU32::new(0),
            answer: Err(OrderSourceError::Unavailable("HTTP 503".into())),
            delay: Duration::ZERO,
        });
        let guard = guarded(Arc::clone(&down), Duration::from_secs(1));
        for n in 0..BREAKER_FAILURES + 3 {
            let answer = guard.lookup(&query(&n.to_string())).await;
            assert!(matches!(answer, Some(Err(_))));
        }
        assert_eq!(down.calls.load(Ordering::SeqCst), BREAKER_FAILURES, "an open circuit asks nobody");
        assert_eq!(guard.lookup(&query("x")).await, Some(Err(OrderSourceError::CircuitOpen)));
    }

    #[tokio::test]
    async fn a_slow_source_is_cut_off_at_the_timeout() {
        let slow = Arc::new(Counting {
            calls: AtomicU32::new(0),
            answer: Ok(OrderLookup::NotFound),
            delay: Duration::from_secs(10),
        });
        let guard = guarded(slow, Duration::from_millis(50));
        let started = Instant::now();
        assert!(matches!(guard.lookup(&query("1")).await, Some(Err(OrderSourceError::Unavailable(_)))));
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
