//! The web chat's read side: the engine, which takes the visitor's messages in through
//! [`Intake`](crate::channels::Intake), also hands the log back through
//! [`ChatLog`], read from its store. So the web chat reaches the store only through traits it
//! defines itself.

use super::Engine;
use crate::channels::webchat::{self, ChatAuthor, ChatLog, ChatPage, LoggedMessage};
use crate::store::{Author, LogEntry};
use std::collections::HashMap;

#[async_trait::async_trait]
impl ChatLog for Engine {
    async fn messages_after(&self, visitor: &str, after: i64, limit: i64) -> anyhow::Result<ChatPage> {
        let log = self.store().contact_log_after(webchat::CHANNEL, visitor, after, limit).await?;
        // The log keeps the agent's login (for staff); the visitor sees their public face.
        let mut shown: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
        if log.messages.iter().any(|entry| entry.message.author == Author::Agent) {
            for agent in self.store().agents().await? {
                shown.insert(agent.name, (agent.display_name, agent.photo_sha256));
            }
        }
        let messages = log.messages.into_iter().filter_map(|entry| logged(entry, &shown)).collect();
        Ok(ChatPage { lang: log.lang, messages })
    }

    async fn is_agent_photo(&self, sha256: &str) -> anyhow::Result<bool> {
        Ok(self.store().is_agent_photo(sha256).await?)
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

/// A log row as the widget shows it; Switchboard's own notes are not the visitor's to see,
/// and an agent appears by display name and photo (`shown`, by login) or not by name at all.
fn logged(
    entry: LogEntry,
    shown: &HashMap<String, (Option<String>, Option<String>)>,
) -> Option<LoggedMessage> {
    let reply = entry.reply();
    let LogEntry { id, message } = entry;
    let author = match message.author {
        Author::Customer => ChatAuthor::Customer,
        Author::Bot => ChatAuthor::Bot,
        Author::Agent => ChatAuthor::Agent,
        Author::System => return None,
    };
    let (agent, agent_photo) = match (&message.agent, author) {
        (Some(login), ChatAuthor::Agent) => shown.get(login).cloned().unwrap_or((None, None)),
        _ => (None, None),
    };
    Some(LoggedMessage {
        id,
        author,
        agent,
        agent_photo,
        text: message.text,
        reply,
        structured: author == ChatAuthor::Customer && message.body.is_some(),
        attachments: message.attachments,
        event_id: message.event_id,
    })
}
