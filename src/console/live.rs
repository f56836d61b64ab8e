//! One watcher of the store for every live console page: it reads the change marker (three
//! index lookups) once per interval and tells every open queue and ticket page when something
//! changed, so the database is asked once per interval however many tabs agents keep open. It
//! runs only while some page listens.

use crate::store::{ChangeMarker, Store};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

#[derive(Default)]
pub struct LiveWatcher {
    running: Mutex<Option<watch::Sender<ChangeMarker>>>,
}

impl LiveWatcher {
    /// A receiver told of every change from now on; starts the watcher if it is not running.
    pub fn subscribe(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        interval: Duration,
    ) -> watch::Receiver<ChangeMarker> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = running.as_ref() {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(ChangeMarker::default());
        *running = Some(sender.clone());
        tokio::spawn(Arc::clone(self).watch(Arc::clone(store), interval, sender));
        receiver
    }

    async fn watch(
        self: Arc<Self>,
        store: Arc<dyn Store>,
        interval: Duration,
        sender: watch::Sender<ChangeMarker>,
    ) {
        let mut first = true;
        loop {
            {
                // Checked under the lock, so no page can subscribe to a watcher about to stop.
                let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
                if sender.receiver_count() == 0 {
                    *running = None;
                    return;
                }
            }
            match store.change_marker().await {
                Ok(marker) => {
                    // The first reading is the baseline; pages hear of changes after it.
                    let announce = !first;
                    sender.send_if_modified(|current| {
                        let changed = *current != marker;
                        *current = marker;
                        changed && announce
                    });
                    first = false;
                }
                Err(problem) => tracing::warn!(error = %problem, "console: reading the change marker failed"),
            }
            tokio::time::sleep(interval).await;
        }
    }
}
