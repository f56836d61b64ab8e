//! Long polling: `GET /updates` in a loop. The position (`marker`) is saved through
//! [`Intake::accept_batch_at`] in the transaction of the batch it follows, so a crash re-reads
//! updates instead of losing them (the engine drops the repeats by their dedupe keys).
//!
//! Run it on one process only (the leader); several pollers would each take every update.

use super::UPDATE_TYPES;
use super::api::ApiError;
use super::inbound::MaxReceiver;
use crate::channels::{Backoff, Intake, PlatformError, ReadUpdate, take_in_round, until_shutdown};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// The cursor name under which the marker is kept, one per bot.
pub fn cursor_name(bot_key: &str) -> String {
    format!("max:{bot_key}:marker")
}

#[derive(Debug, thiserror::Error)]
pub enum LongPollError {
    /// MAX rejected the token; polling cannot go on until the configuration is fixed.
    #[error(transparent)]
    Fatal(ApiError),
}

/// Polls until `shutdown` completes (`Ok`) or MAX rejects the token (`Err`). Every other failure
/// is logged and retried with a growing pause.
pub async fn run(
    receiver: MaxReceiver,
    intake: Arc<dyn Intake>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), LongPollError> {
    let stopped = || tracing::info!("MAX long polling stopped");
    until_shutdown(shutdown, poll_forever(&receiver, intake.as_ref()), stopped).await
}

async fn poll_forever(receiver: &MaxReceiver, intake: &dyn Intake) -> Result<(), LongPollError> {
    let cursor = cursor_name(&super::bot_key(receiver.settings()));
    let mut backoff = Backoff::new(FIRST_PAUSE, LONGEST_PAUSE);
    let mut marker: Option<i64> = loop {
        match intake.cursor(&cursor).await {
            // A saved marker that does not read as a number is treated as none: MAX then hands
            // out what it still holds, and the engine drops what was stored before.
            Ok(saved) => break saved.and_then(|saved| saved.parse().ok()),
            Err(error) => {
                tracing::warn!(%error, "could not read the saved MAX marker; retrying");
                backoff.pause().await;
            }
        }
    };
    tracing::info!("MAX long polling started");
    loop {
        let timeout = receiver.settings().longpoll_timeout_secs;
        match receiver.api().get_updates(marker, timeout, UPDATE_TYPES).await {
            Ok(list) => {
                let next = list.marker.or(marker);
                if list.updates.is_empty() {
                    marker = next;
                    backoff.reset();
                    continue;
                }
                let position = next.map(|next| next.to_string()).unwrap_or_default();
                match take_in_round(intake, receiver, &list.updates, (&cursor, &position)).await {
                    Ok(received) => {
                        // Stored, with the marker after them: only now may polling move on.
                        marker = next;
                        backoff.reset();
                        receiver.answer_presses_later(received.presses);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "MAX updates could not be stored; polling them again");
                        backoff.pause().await;
                    }
                }
            }
            Err(error) if error.is_fatal() => return Err(LongPollError::Fatal(error)),
            Err(error) => {
                tracing::warn!(%error, "MAX long poll request failed; retrying");
                backoff.pause().await;
            }
        }
    }
}
