//! Wakes the open event streams of one visitor when something was delivered to them.
//!
//! The hub carries no messages, only "look again": the message log is the source of truth,
//! so a stream that misses a wake-up loses nothing, it just reads the log a little later.

use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::broadcast;

#[derive(Debug, Default)]
pub struct WebChatHub {
    visitors: Mutex<HashMap<String, broadcast::Sender<()>>>,
}

impl WebChatHub {
    pub fn new() -> WebChatHub {
        WebChatHub::default()
    }

    /// A receiver that gets a value whenever [`WebChatHub::wake`] is called for `visitor`.
    pub fn subscribe(&self, visitor: &str) -> broadcast::Receiver<()> {
        let mut visitors = self.visitors.lock().expect("hub lock");
        // Forget visitors whose every stream has closed, so the map does not grow forever.
        visitors.retain(|_, sender| sender.receiver_count() > 0);
        visitors.entry(visitor.to_owned()).or_insert_with(|| broadcast::channel(4).0).subscribe()
    }

    /// Wakes every open stream of `visitor`; returns how many there were.
    pub fn wake(&self, visitor: &str) -> usize {
        let visitors = self.visitors.lock().expect("hub lock");
        visitors.get(visitor).and_then(|sender| sender.send(()).ok()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn wakes_only_the_visitor_named() {
        let hub = WebChatHub::new();
        let mut anna = hub.subscribe("anna");
        let mut bob = hub.subscribe("bob");
        assert_eq!(hub.wake("anna"), 1);
        assert_eq!(anna.recv().await, Ok(()));
        assert!(bob.try_recv().is_err());
        drop(bob);
        assert_eq!(hub.wake("bob"), 0);
        assert_eq!(hub.wake("nobody"), 0);
    }
}
