//! Starting the whole app in-process for end-to-end tests, with an outbox that polls and backs
//! off in milliseconds, so a test waits only briefly for deliveries and retries.

use std::time::Duration;
use switchboard::app::Running;
use switchboard::config::Settings;
use switchboard::outbox::OutboxSettings;

pub fn outbox() -> OutboxSettings {
    OutboxSettings {
        poll_interval: Duration::from_millis(20),
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_secs(1),
        ..OutboxSettings::default()
    }
}

/// Starts the app and waits until its channels have set themselves up (they do that in the
/// background, so that an unreachable platform does not hold the rest).
pub async fn start(settings: Settings, listener: tokio::net::TcpListener) -> Running {
    let running = switchboard::app::start_with(settings, listener, outbox()).await.expect("the app starts");
    running.channels.settled().await;
    running
}

/// The app on a test's own database, which the test may stop and start again (a restart keeps
/// the database) and finally drops with the database.
pub struct Restartable {
    running: Option<Running>,
    pub db: crate::support::engine_fixtures::TestDb,
}

impl Restartable {
    pub fn new(db: crate::support::engine_fixtures::TestDb) -> Restartable {
        Restartable { running: None, db }
    }

    pub async fn start(
        &mut self,
        settings: Settings,
        listener: tokio::net::TcpListener,
        outbox: OutboxSettings,
    ) {
        let running = switchboard::app::start_with(settings, listener, outbox).await.expect("the app starts");
        self.running = Some(running);
    }

    pub async fn stop(&mut self) {
        self.running.take().expect("the app is running").stop().await;
    }

    /// Stops the app if it runs, then drops the database.
    pub async fn finish(mut self) {
        if self.running.is_some() {
            self.stop().await;
        }
        self.db.drop_database().await;
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("the app is running")
    }

    pub fn store(&self) -> &std::sync::Arc<dyn switchboard::store::Store> {
        &self.running().app.store
    }
}
