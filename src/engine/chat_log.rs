//! The web chat's read side: the engine, which takes the visitor's messages in through
//! [`Intake`](crate::channels::Intake), also hands the log back through
//! [`ChatLog`], read from its store. So the web chat reaches the store only through traits it
//! defines itself.

use super::Engine;
use crate::channels::webchat::{ChatAuthor, ChatLog, ChatPage, LoggedMessage};
use crate::store::{Author, LogEntry};

#[async_trait::async_trait]
impl ChatLog for Engine {
    async fn messages_after(
        &self,
        channel: &str,
        external_id: &str,
        after: i64,
        limit: i64,
    ) -> anyhow::Result<ChatPage> {
        let log = self.store().contact_log_after(channel, external_id, after, limit).await?;
        Ok(ChatPage { lang: log.lang, messages: log.messages.into_iter().filter_map(logged).collect() })
    }

    async fn conversation_has_media(
        &self,
        channel: &str,
        external_id: &str,
        sha256: &str,
    ) -> anyhow::Result<bool> {
        let well_formed = sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !well_formed {
            return Ok(false);
        }
        Ok(self.store().contact_has_media(channel, external_id, sha256).await?)
    }
}

/// A log row as the widget shows it; Switchboard's own notes are not the visitor's to see.
fn logged(entry: LogEntry) -> Option<LoggedMessage> {
    let author = match entry.author {
        Author::Customer => ChatAuthor::Customer,
        Author::Bot => ChatAuthor::Bot,
        Author::Agent => ChatAuthor::Agent,
        Author::System => return None,
    };
    let reply = entry.reply();
    Some(LoggedMessage {
        id: entry.id,
        author,
        agent: entry.agent,
        text: entry.text,
        reply,
        structured: author == ChatAuthor::Customer && entry.body.is_some(),
        attachments: entry.attachments,
        event_id: entry.event_id,
    })
}
