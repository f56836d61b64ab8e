//! The web chat's view of the message log ([`ChatLog`]), read with the console's own queries.

use crate::channels::webchat::{ChatAuthor, ChatLog, ChatPage, LoggedMessage};
use crate::console::db::{Db, DbError, dialect, on_db};
use crate::core::message::{Lang, MediaRef, Reply};
use sqlx::Row;

const MESSAGES_AFTER_SQLITE: &str = "\
    SELECT m.id, m.author, m.agent, m.text, m.body, m.attachments, m.event_id \
    FROM contacts c JOIN conversations v ON v.contact_id = c.id JOIN messages m ON m.conversation_id = v.id \
    WHERE c.channel = $1 AND c.external_id = $2 AND m.id > $3 AND m.author <> 'system' \
    ORDER BY m.id LIMIT $4";

const MESSAGES_AFTER_POSTGRES: &str = "\
    SELECT m.id, m.author, m.agent, m.text, m.body::text AS body, m.attachments::text AS attachments, m.event_id \
    FROM contacts c JOIN conversations v ON v.contact_id = c.id JOIN messages m ON m.conversation_id = v.id \
    WHERE c.channel = $1 AND c.external_id = $2 AND m.id > $3 AND m.author <> 'system' \
    ORDER BY m.id LIMIT $4";

const HAS_MEDIA_SQLITE: &str = "\
    SELECT EXISTS (SELECT 1 FROM contacts c JOIN conversations v ON v.contact_id = c.id \
    JOIN messages m ON m.conversation_id = v.id \
    WHERE c.channel = $1 AND c.external_id = $2 AND instr(m.attachments, $3) > 0)";

const HAS_MEDIA_POSTGRES: &str = "\
    SELECT EXISTS (SELECT 1 FROM contacts c JOIN conversations v ON v.contact_id = c.id \
    JOIN messages m ON m.conversation_id = v.id \
    WHERE c.channel = $1 AND c.external_id = $2 AND strpos(m.attachments::text, $3) > 0)";

struct RawMessage {
    id: i64,
    author: String,
    agent: Option<String>,
    text: Option<String>,
    body: Option<String>,
    attachments: String,
    event_id: Option<String>,
}

fn to_logged(raw: RawMessage) -> Result<Option<LoggedMessage>, DbError> {
    let author = match raw.author.as_str() {
        "customer" => ChatAuthor::Customer,
        "bot" => ChatAuthor::Bot,
        "agent" => ChatAuthor::Agent,
        _ => return Ok(None),
    };
    let attachments: Vec<MediaRef> = serde_json::from_str(&raw.attachments)
        .map_err(|problem| DbError::Corrupt(format!("message {} attachments: {problem}", raw.id)))?;
    let reply = match (author, &raw.body) {
        (ChatAuthor::Bot, Some(body)) => serde_json::from_str::<Reply>(body).ok(),
        _ => None,
    };
    Ok(Some(LoggedMessage {
        id: raw.id,
        author,
        agent: raw.agent,
        text: raw.text,
        reply,
        structured: author == ChatAuthor::Customer && raw.body.is_some(),
        attachments,
        event_id: raw.event_id,
    }))
}

#[async_trait::async_trait]
impl ChatLog for Db {
    async fn messages_after(
        &self,
        channel: &str,
        external_id: &str,
        after: i64,
        limit: i64,
    ) -> anyhow::Result<ChatPage> {
        let lang: Option<String> = on_db!(self, pool => sqlx::query_scalar(
            "SELECT lang FROM contacts WHERE channel = $1 AND external_id = $2",
        )
        .bind(channel)
        .bind(external_id)
        .fetch_optional(pool)
        .await?);
        let Some(lang) = lang else { return Ok(ChatPage { lang: None, messages: Vec::new() }) };
        if limit <= 0 {
            return Ok(ChatPage { lang: Lang::from_code(&lang), messages: Vec::new() });
        }
        let sql = dialect!(self, sqlite: MESSAGES_AFTER_SQLITE, postgres: MESSAGES_AFTER_POSTGRES);
        let raws: Vec<RawMessage> = on_db!(self, pool => {
            let rows = sqlx::query(sql).bind(channel).bind(external_id).bind(after).bind(limit).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok::<_, sqlx::Error>(RawMessage {
                        id: row.try_get("id")?,
                        author: row.try_get("author")?,
                        agent: row.try_get("agent")?,
                        text: row.try_get("text")?,
                        body: row.try_get("body")?,
                        attachments: row.try_get("attachments")?,
                        event_id: row.try_get("event_id")?,
                    })
                })
                .collect::<Result<_, _>>()?
        });
        let mut messages = Vec::with_capacity(raws.len());
        for raw in raws {
            messages.extend(to_logged(raw)?);
        }
        Ok(ChatPage { lang: Lang::from_code(&lang), messages })
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
        let sql = dialect!(self, sqlite: HAS_MEDIA_SQLITE, postgres: HAS_MEDIA_POSTGRES);
        let found: bool = on_db!(self, pool => sqlx::query_scalar(sql)
            .bind(channel)
            .bind(external_id)
            .bind(format!("\"{sha256}\""))
            .fetch_one(pool)
            .await?);
        Ok(found)
    }
}

/// The web chat cookie key: the configured secret when there is one, otherwise a random
/// one generated on first start and kept in the database (so cookies survive restarts and
/// every instance signs alike).
pub async fn webchat_cookie_key(
    db: &Db,
    configured: Option<&crate::config::Secret>,
) -> Result<crate::channels::webchat::CookieKey, DbError> {
    use crate::channels::webchat::CookieKey;
    if let Some(secret) = configured {
        return Ok(CookieKey::new(secret.expose()));
    }
    let stored = db
        .server_secret("webchat_cookie_key", CookieKey::generate_secret, crate::console::db::now_millis())
        .await?;
    Ok(CookieKey::new(&stored))
}
