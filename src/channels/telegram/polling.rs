//! Long polling with our own `getUpdates` loop. The offset is what tells Telegram an update
//! may be forgotten, so it moves only after the whole batch is durably stored
//! with the new offset ([`Intake::accept_batch_at`] returned `Ok`: one transaction holds both).
//! A crash anywhere before that gets the same batch again, and the engine's dedupe on
//! `event_id` makes the repeat harmless.

use super::TelegramChannel;
use crate::channel_state::{ChannelStates, Reporter};
use crate::channels::{Backoff, Intake};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use teloxide::payloads::GetUpdates;
use teloxide::types::Update;
use teloxide::{ApiError, RequestError};

/// The first wait after a failure; it doubles up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Polling stopped for a reason only an operator can fix.
#[derive(Debug, thiserror::Error)]
pub enum PollingError {
    #[error("Telegram rejected the bot token; polling stopped")]
    InvalidToken,
}

/// Polls until `shutdown` completes, handing each batch to `intake`. Failures (network,
/// Telegram, storage) are logged and retried with backoff, and while `getUpdates` fails
/// `states` says the channel is retrying; only an invalid token ends the loop with an error.
/// A batch being stored when `shutdown` fires is finished first.
///
/// The stored offset is read on the caller's runtime; the loop then runs on a thread of its
/// own (`own_thread`): each round waits for the engine's commit of the one before, and its
/// wake-ups must not queue behind the deliveries that commit started. Nothing in the loop uses
/// the store's connections (a batch reaches the engine's writer through a channel), so on
/// PostgreSQL no pooled connection is opened on a runtime that ends with the loop.
pub async fn run(
    channel: Arc<TelegramChannel>,
    intake: Arc<dyn Intake>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    states: ChannelStates,
) -> Result<(), PollingError> {
    let mut shutdown = Box::pin(shutdown);
    let Some(offset) = stored_offset(&channel, intake.as_ref(), &mut shutdown).await else {
        return Ok(());
    };
    let polling = poll_from(channel, intake, shutdown, states, offset);
    // Only a panic of the loop drops its result; the caller then starts polling again.
    crate::own_thread::spawn("telegram-poller", polling).await.unwrap_or(Ok(()))
}

/// The offset stored by the last batch (`None`: nothing yet), read with retries; `None` if
/// `shutdown` fired first.
async fn stored_offset(
    channel: &TelegramChannel,
    intake: &dyn Intake,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
) -> Option<Option<i32>> {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    loop {
        match intake.cursor(&channel.cursor_name()).await {
            Ok(stored) => return Some(stored.and_then(|value| value.parse().ok())),
            Err(error) => {
                tracing::warn!(%error, "reading the Telegram offset failed; retrying");
                if backoff.pause_unless(&mut *shutdown).await {
                    return None;
                }
            }
        }
    }
}

async fn poll_from(
    channel: Arc<TelegramChannel>,
    intake: Arc<dyn Intake>,
    mut shutdown: impl Future<Output = ()> + Send + Unpin,
    states: ChannelStates,
    mut offset: Option<i32>,
) -> Result<(), PollingError> {
    let health = Reporter::new(super::CHANNEL, states);
    let cursor_name = channel.cursor_name();
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    tracing::info!(bot_id = channel.bot_id(), ?offset, "Telegram long polling started");

    loop {
        let updates = tokio::select! {
            () = &mut shutdown => return Ok(()),
            result = get_updates(&channel, offset) => result,
        };
        let updates = match updates {
            Ok(updates) => {
                health.answered();
                updates
            }
            Err(RequestError::Api(ApiError::InvalidToken)) => return Err(PollingError::InvalidToken),
            Err(RequestError::RetryAfter(seconds)) => {
                tracing::warn!(seconds = seconds.seconds(), "getUpdates rate limited");
                if wait_or_shutdown(seconds.duration(), &mut shutdown).await {
                    return Ok(());
                }
                continue;
            }
            Err(error) => {
                let reason = channel.redact(&error);
                tracing::warn!(error = %reason, "getUpdates failed; retrying");
                health.failed(&reason);
                if backoff.pause_unless(&mut shutdown).await {
                    return Ok(());
                }
                continue;
            }
        };
        if updates.is_empty() {
            backoff.reset();
            continue;
        }
        match store_batch(&channel, intake.as_ref(), &cursor_name, &updates).await {
            Ok(next) => {
                offset = Some(next);
                backoff.reset();
                channel.follow_up(updates);
            }
            Err(reason) => {
                // The offset stays: Telegram sends the same batch again.
                tracing::warn!(%reason, "a Telegram batch was not stored; it will be fetched again");
                if backoff.pause_unless(&mut shutdown).await {
                    return Ok(());
                }
            }
        }
    }
}

async fn get_updates(channel: &TelegramChannel, offset: Option<i32>) -> Result<Vec<Update>, RequestError> {
    let settings = channel.settings();
    let timeout = u32::try_from(settings.poll_timeout.as_secs()).unwrap_or(50);
    let mut request = GetUpdates::new();
    request.offset = offset;
    request.timeout = Some(timeout);
    request.limit = Some(settings.poll_limit);
    request.allowed_updates = Some(super::allowed_updates());
    channel.api.get_updates(&request).await
}

/// Reads, stores and confirms one batch; returns the next offset. Nothing is confirmed unless
/// every step succeeded.
async fn store_batch(
    channel: &TelegramChannel,
    intake: &dyn Intake,
    cursor_name: &str,
    updates: &[Update],
) -> Result<i32, String> {
    let mut events = Vec::with_capacity(updates.len());
    for update in updates {
        match channel.read_update(update).await {
            Ok(Some(event)) => events.push(event),
            Ok(None) => {}
            Err(error) => return Err(format!("update {}: {error}", update.id.0)),
        }
    }
    let next = updates.iter().map(|update| update.id.as_offset()).max().expect("the batch is not empty");
    intake
        .accept_batch_at(events, (cursor_name, &next.to_string()))
        .await
        .map_err(|error| error.to_string())?;
    Ok(next)
}

async fn wait_or_shutdown(wait: Duration, shutdown: &mut (impl Future<Output = ()> + Unpin)) -> bool {
    tokio::select! {
        () = shutdown => true,
        () = tokio::time::sleep(wait) => false,
    }
}
