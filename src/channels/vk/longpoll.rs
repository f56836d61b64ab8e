//! Bots Long Poll: `groups.getLongPollServer`, then `a_check` requests in a loop. The position
//! (`ts`) is saved through [`Intake::accept_batch_at`] in the transaction of the batch it follows,
//! so a crash re-reads events instead of losing them (the engine drops the repeats).
//!
//! Run it on one process only (the leader); several pollers would each take every event.

use super::api::{ApiError, PollAnswer};
use super::inbound::VkReceiver;
use crate::channel_state::{ChannelStates, Reporter};
use crate::channels::{Backoff, Intake, PlatformError, ReadUpdate, take_in_round, until_shutdown};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

const FIRST_PAUSE: Duration = Duration::from_secs(1);
const LONGEST_PAUSE: Duration = Duration::from_secs(60);

/// The cursor name under which the Long Poll `ts` is kept, one per community.
pub fn cursor_name(group_id: u64) -> String {
    format!("vk:{group_id}:longpoll_ts")
}

#[derive(Debug, thiserror::Error)]
pub enum LongPollError {
    /// VK rejected the token; polling cannot go on until the configuration is fixed.
    #[error(transparent)]
    Fatal(ApiError),
}

/// Polls until `shutdown` completes (`Ok`) or VK rejects the token (`Err`). Every other failure
/// is logged and retried with a growing pause; while VK cannot be reached, `states` says the
/// channel is retrying, and why.
pub async fn run(
    receiver: VkReceiver,
    intake: Arc<dyn Intake>,
    shutdown: impl Future<Output = ()> + Send,
    states: ChannelStates,
) -> Result<(), LongPollError> {
    let health = Reporter::new(super::CHANNEL, states);
    let stopped = || tracing::info!("VK long poll stopped");
    until_shutdown(shutdown, poll_forever(&receiver, intake.as_ref(), &health), stopped).await
}

struct Session {
    server: String,
    key: String,
}

async fn poll_forever(
    receiver: &VkReceiver,
    intake: &dyn Intake,
    health: &Reporter,
) -> Result<(), LongPollError> {
    let settings = receiver.settings();
    let cursor = cursor_name(settings.group_id);
    let mut backoff = Backoff::new(FIRST_PAUSE, LONGEST_PAUSE);
    let mut ts = loop {
        match intake.cursor(&cursor).await {
            Ok(saved) => break saved,
            Err(error) => {
                tracing::warn!(%error, "could not read the saved VK long poll position; retrying");
                backoff.pause().await;
            }
        }
    };
    let mut session: Option<Session> = None;
    loop {
        let Some(current) = &session else {
            match receiver.api().get_long_poll_server(settings.group_id).await {
                Ok(server) => {
                    health.answered();
                    // A saved position wins: it is where the stored events end.
                    ts.get_or_insert(server.ts);
                    session = Some(Session { server: server.server, key: server.key });
                    tracing::info!(group_id = settings.group_id, "VK long poll connected");
                }
                Err(error) if error.is_fatal() => return Err(LongPollError::Fatal(error)),
                Err(error) => {
                    tracing::warn!(%error, "could not get a VK long poll server; retrying");
                    health.failed(&error);
                    backoff.pause().await;
                }
            }
            continue;
        };
        let position = ts.clone().unwrap_or_default();
        let answer =
            receiver.api().poll(&current.server, &current.key, &position, settings.longpoll_wait_secs).await;
        match answer {
            Ok(PollAnswer::Updates { ts: next, updates }) => {
                if updates.is_empty() {
                    ts = Some(next);
                    backoff.reset();
                    continue;
                }
                match take_in_round(intake, receiver, &updates, (&cursor, &next)).await {
                    Ok(received) => {
                        // Stored, with the position after them: only now may polling move on.
                        ts = Some(next);
                        backoff.reset();
                        receiver.answer_presses_later(received.presses);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "VK events could not be stored; polling them again");
                        backoff.pause().await;
                    }
                }
            }
            Ok(PollAnswer::HistoryLost { ts: next }) => {
                tracing::warn!("VK long poll history was lost; continuing from VK's position");
                if let Err(error) = intake.save_cursor(&cursor, &next).await {
                    tracing::warn!(%error, "could not save the VK long poll position");
                }
                ts = Some(next);
            }
            Ok(PollAnswer::KeyExpired) => {
                tracing::info!("VK long poll key expired; getting a new one");
                session = None;
            }
            Ok(PollAnswer::InformationLost) => {
                tracing::warn!("VK long poll information was lost; getting a new key and position");
                session = None;
                ts = None;
            }
            Err(error) if error.is_fatal() => return Err(LongPollError::Fatal(error)),
            Err(error) => {
                tracing::warn!(%error, "VK long poll request failed; retrying");
                health.failed(&error);
                // The server may be gone; a fresh one is cheap to ask for.
                session = None;
                backoff.pause().await;
            }
        }
    }
}
