//! The history fallback: every `history_poll`, the chats with unread messages
//! (`POST /v3/chat/list`) and, for each buyer's chat, the messages after the last one taken in
//! (`POST /v3/chat/history`, oldest first). It brings what no push brought: a push Ozon gave up
//! on, messages sent while Switchboard was down, a push route not configured at all.
//!
//! Each chat has a durable cursor, the id of the last message read from it, saved through
//! [`Intake::accept_batch_at`] in the transaction of the messages it covers: a crash re-reads
//! messages instead of losing them, and the engine drops repeats (and messages a push already
//! brought) by their `message_id`. A chat read for the first time is read from its latest page,
//! and only messages written after the fallback first ran are taken in, so connecting a seller
//! with years of chats does not answer old messages.
//!
//! Run it on one process only (the leader).

use super::api::{ApiError, ChatHistory, ChatMessage};
use super::inbound::{BUYER_CHAT, OzonReceiver, created_millis, is_buyer};
use crate::channels::{Intake, IntakeError, PlatformError, ReceiveError, until_shutdown};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Pages of the chat list one round reads at most; the rest waits for the next round.
const MAX_LIST_PAGES: usize = 20;
/// Pages of one chat's history one round reads at most.
const MAX_HISTORY_PAGES: usize = 20;
const LONGEST_PAUSE: Duration = Duration::from_secs(300);

/// Where a chat's position is kept.
pub fn chat_cursor(client_id: &str, chat_id: &str) -> String {
    format!("ozon:{client_id}:chat:{chat_id}")
}

/// When the fallback first ran (milliseconds): older messages of unseen chats are history.
pub fn since_cursor(client_id: &str) -> String {
    format!("ozon:{client_id}:since")
}

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Ozon rejected the seller's credentials: reading cannot go on until they are fixed.
    #[error(transparent)]
    Fatal(ApiError),
}

#[derive(Debug, thiserror::Error)]
enum RoundError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    #[error(transparent)]
    Intake(#[from] IntakeError),
}

/// Reads the history every `history_poll` until `shutdown` completes (`Ok`) or Ozon rejects
/// the credentials (`Err`). Other failures are logged, and the next round tries again after a
/// pause that grows while they last.
pub async fn run(
    receiver: OzonReceiver,
    intake: Arc<dyn Intake>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), HistoryError> {
    let stopped = || tracing::info!("Ozon history reading stopped");
    until_shutdown(shutdown, read_forever(&receiver, intake.as_ref()), stopped).await
}

async fn read_forever(receiver: &OzonReceiver, intake: &dyn Intake) -> Result<(), HistoryError> {
    let interval = receiver.settings().history_poll;
    let mut pause = interval;
    loop {
        match round(receiver, intake).await {
            Ok(taken) => {
                if taken > 0 {
                    tracing::info!(messages = taken, "Ozon messages taken in from the chat history");
                }
                pause = interval;
            }
            Err(RoundError::Api(error)) if error.is_fatal() => return Err(HistoryError::Fatal(error)),
            Err(error) => {
                tracing::warn!(%error, "reading the Ozon chat history failed; trying again later");
                pause = (pause * 2).min(LONGEST_PAUSE.max(interval));
            }
        }
        tokio::time::sleep(pause).await;
    }
}

/// One pass over the unread chats; how many messages it took in.
async fn round(receiver: &OzonReceiver, intake: &dyn Intake) -> Result<usize, RoundError> {
    let client_id = &receiver.settings().client_id;
    let since = match intake.cursor(&since_cursor(client_id)).await? {
        Some(saved) => saved.parse::<i64>().unwrap_or(0),
        None => {
            let now = chrono::Utc::now().timestamp_millis();
            intake.save_cursor(&since_cursor(client_id), &now.to_string()).await?;
            now
        }
    };
    let mut taken = 0;
    let mut cursor = String::new();
    for _ in 0..MAX_LIST_PAGES {
        let page = receiver.api().unread_chats(&cursor).await?;
        for info in page.chats.iter().filter(|info| info.chat.chat_type == BUYER_CHAT) {
            taken += read_chat(receiver, intake, &info.chat.chat_id, since).await?;
        }
        if !page.has_next || page.cursor.is_empty() || page.cursor == cursor {
            break;
        }
        cursor = page.cursor;
    }
    Ok(taken)
}

/// Takes in one chat's messages after its cursor, a page per transaction.
async fn read_chat(
    receiver: &OzonReceiver,
    intake: &dyn Intake,
    chat_id: &str,
    since: i64,
) -> Result<usize, RoundError> {
    let name = chat_cursor(&receiver.settings().client_id, chat_id);
    let mut after = intake.cursor(&name).await?;
    let mut taken = 0;
    for _ in 0..MAX_HISTORY_PAGES {
        let ChatHistory { mut messages, has_next } =
            receiver.api().history(chat_id, after.as_deref()).await?;
        // Oldest first, whichever way the page came; the cursor's own message is not news.
        messages.sort_by_key(|message| message.message_id.parse::<u64>().unwrap_or(u64::MAX));
        messages.retain(|message| Some(&message.message_id) != after.as_ref());
        let Some(last) = messages.last().map(|message| message.message_id.clone()) else { break };
        let first_read = after.is_none();
        let mut events = Vec::new();
        for message in messages.iter().filter(|message| news(message, first_read, since)) {
            events.extend(receiver.events_for(chat_id, message).await?);
        }
        taken += events.len();
        intake.accept_batch_at(events, (&name, &last)).await?;
        after = Some(last);
        // A first read starts from the latest page: there is nothing newer to page to.
        if !has_next || first_read {
            break;
        }
    }
    Ok(taken)
}

/// Whether a message is one to take in: the buyer's, and on a chat's first read not older
/// than the fallback itself.
fn news(message: &ChatMessage, first_read: bool, since: i64) -> bool {
    is_buyer(&message.user)
        && (!first_read || created_millis(&message.created_at).is_some_and(|at| at >= since))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::ozon::api::ChatUser;

    fn message(kind: &str, created_at: &str) -> ChatMessage {
        ChatMessage {
            message_id: "1".to_owned(),
            user: ChatUser { id: "7".to_owned(), kind: kind.to_owned() },
            created_at: created_at.to_owned(),
            data: vec!["hi".to_owned()],
            is_image: false,
        }
    }

    #[test]
    fn only_buyers_messages_are_news_and_a_first_read_skips_the_past() {
        let since = created_millis("2026-12-07T10:00:00Z").unwrap();
        assert!(news(&message("Customer", "2026-12-07T10:00:01Z"), true, since));
        assert!(!news(&message("Customer", "2026-12-06T10:00:00Z"), true, since));
        assert!(
            news(&message("Customer", "2026-12-06T10:00:00Z"), false, since),
            "after a cursor, all are news"
        );
        assert!(!news(&message("Seller", "2026-12-07T10:00:01Z"), false, since));
        assert!(!news(&message("crm", "2026-12-07T10:00:01Z"), false, since));
    }
}
