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
