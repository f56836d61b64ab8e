//! Reads the console needs beyond the store's: a conversation's log with the bot's structured
//! replies (so they are shown as the customer saw them), pages "after id N" for live updates,
//! a change marker for the queue, canned replies and API tokens.

use crate::console::agents::{Agent, Role};
use crate::console::db::{Db, DbError, DbResult, Millis, dialect, on_db};
use crate::console::sessions::hash_token;
use crate::core::message::{Lang, MediaRef, Reply};
use serde::Serialize;
use sqlx::Row;

/// One logged message of a conversation, with the bot's reply kept structured.
#[derive(Debug, Clone, PartialEq)]
pub struct LogEntry {
    pub id: i64,
    pub author: String,
    pub agent: Option<String>,
    pub text: Option<String>,
    pub reply: Option<Reply>,
    pub attachments: Vec<MediaRef>,
    pub at: Millis,
}

/// id, author, agent, text, body (JSON text), attachments (JSON text), created_at.
type RawLogRow = (i64, String, Option<String>, Option<String>, Option<String>, String, i64);

const LOG_AFTER_SQLITE: &str = "\
    SELECT id, author, agent, text, body, attachments, created_at FROM messages \
    WHERE conversation_id = $1 AND id > $2 ORDER BY id LIMIT $3";
const LOG_AFTER_POSTGRES: &str = "\
    SELECT id, author, agent, text, body::text AS body, attachments::text AS attachments, created_at FROM messages \
    WHERE conversation_id = $1 AND id > $2 ORDER BY id LIMIT $3";

/// A canned reply: a ready answer in one language that agents paste and adapt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CannedReply {
    pub id: i64,
    pub lang: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub agent: String,
    pub revoked: bool,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
}

/// Everything that changes what the queue page shows, cheap to read every few seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeMarker {
    pub last_message: i64,
    pub last_ticket_update: i64,
    pub tickets: i64,
}

/// The ticket columns the dashboard reads.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketTimes {
    pub created_at: Millis,
    pub first_agent_reply_at: Option<Millis>,
    pub resolved_at: Option<Millis>,
    pub rating: Option<i64>,
    pub self_served: bool,
    pub withdrawn: bool,
}

impl Db {
    /// A conversation's messages with an id above `after`, oldest first.
    pub async fn log_after(&self, conversation_id: i64, after: i64, limit: i64) -> DbResult<Vec<LogEntry>> {
        let sql = dialect!(self, sqlite: LOG_AFTER_SQLITE, postgres: LOG_AFTER_POSTGRES);
        let raws: Vec<RawLogRow> = on_db!(self, pool => {
            let rows = sqlx::query(sql).bind(conversation_id).bind(after).bind(limit).fetch_all(pool).await?;
            rows.iter()
                .map(|row| {
                    Ok::<_, sqlx::Error>((
                        row.try_get("id")?,
                        row.try_get("author")?,
                        row.try_get("agent")?,
                        row.try_get("text")?,
                        row.try_get("body")?,
                        row.try_get("attachments")?,
                        row.try_get("created_at")?,
                    ))
                })
                .collect::<Result<_, _>>()?
        });
        raws.into_iter()
            .map(|(id, author, agent, text, body, attachments, at)| {
                let attachments: Vec<MediaRef> = serde_json::from_str(&attachments)
                    .map_err(|problem| DbError::Corrupt(format!("message {id} attachments: {problem}")))?;
                let reply = match (author.as_str(), body) {
                    ("bot", Some(body)) => serde_json::from_str::<Reply>(&body).ok(),
                    _ => None,
                };
                Ok(LogEntry { id, author, agent, text, reply, attachments, at })
            })
            .collect()
    }

    /// Whether any ticket carries the image, or any message does (agents may see every photo).
    pub async fn media_is_known(&self, sha256: &str) -> DbResult<bool> {
        let found: bool = on_db!(self, pool => sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM ticket_attachments WHERE sha256 = $1)",
        )
        .bind(sha256)
        .fetch_one(pool)
        .await?);
        if found {
            return Ok(true);
        }
        let sql = dialect!(self,
            sqlite: "SELECT EXISTS (SELECT 1 FROM messages WHERE instr(attachments, $1) > 0)",
            postgres: "SELECT EXISTS (SELECT 1 FROM messages WHERE strpos(attachments::text, $1) > 0)",
        );
        let found: bool = on_db!(self, pool => sqlx::query_scalar(sql)
            .bind(format!("\"{sha256}\""))
            .fetch_one(pool)
            .await?);
        Ok(found)
    }

    /// `status|assignee` of a ticket, for the live ticket page to notice claims and resolves.
    pub async fn ticket_status(&self, ticket_id: i64) -> DbResult<Option<String>> {
        on_db!(self, pool => {
            let row = sqlx::query("SELECT status, assigned_agent FROM tickets WHERE id = $1")
                .bind(ticket_id)
                .fetch_optional(pool)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let status: String = row.try_get("status")?;
            let agent: Option<String> = row.try_get("assigned_agent")?;
            Ok(Some(format!("{status}|{}", agent.unwrap_or_default())))
        })
    }

    pub async fn change_marker(&self) -> DbResult<ChangeMarker> {
        on_db!(self, pool => {
            let row = sqlx::query(
                "SELECT (SELECT COALESCE(MAX(id), 0) FROM messages) AS last_message, \
                 (SELECT COALESCE(MAX(updated_at), 0) FROM tickets) AS last_ticket_update, \
                 (SELECT COUNT(*) FROM tickets) AS tickets",
            )
            .fetch_one(pool)
            .await?;
            Ok(ChangeMarker {
                last_message: row.try_get("last_message")?,
                last_ticket_update: row.try_get("last_ticket_update")?,
                tickets: row.try_get("tickets")?,
            })
        })
    }

    /// Ticket timings created at or after `since`, for the dashboard.
    pub async fn ticket_times(&self, since: Millis) -> DbResult<Vec<TicketTimes>> {
        on_db!(self, pool => {
            let rows = sqlx::query(
                "SELECT created_at, first_agent_reply_at, resolved_at, rating, self_served, withdrawn FROM tickets \
                 WHERE created_at >= $1 ORDER BY created_at",
            )
            .bind(since)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(TicketTimes {
                        created_at: row.try_get("created_at")?,
                        first_agent_reply_at: row.try_get("first_agent_reply_at")?,
                        resolved_at: row.try_get("resolved_at")?,
                        rating: row.try_get("rating")?,
                        self_served: row.try_get("self_served")?,
                        withdrawn: row.try_get("withdrawn")?,
                    })
                })
                .collect()
        })
    }

    /// FAQ verdicts since `since`: (answers that helped, all answered).
    pub async fn faq_outcomes(&self, since: Millis) -> DbResult<(i64, i64)> {
        on_db!(self, pool => {
            let rows = sqlx::query("SELECT helped FROM faq_outcomes WHERE created_at >= $1")
                .bind(since)
                .fetch_all(pool)
                .await?;
            let mut helped = 0;
            for row in &rows {
                if row.try_get::<bool, _>("helped")? {
                    helped += 1;
                }
            }
            Ok((helped, rows.len() as i64))
        })
    }

    // ---- canned replies ----

    pub async fn canned_replies(&self, lang: Option<Lang>) -> DbResult<Vec<CannedReply>> {
        on_db!(self, pool => {
            let rows = match lang {
                Some(lang) => sqlx::query("SELECT id, lang, title, body FROM canned_replies WHERE lang = $1 ORDER BY title, id")
                    .bind(lang.code())
                    .fetch_all(pool)
                    .await?,
                None => sqlx::query("SELECT id, lang, title, body FROM canned_replies ORDER BY lang, title, id")
                    .fetch_all(pool)
                    .await?,
            };
            rows.iter()
                .map(|row| {
                    Ok(CannedReply {
                        id: row.try_get("id")?,
                        lang: row.try_get("lang")?,
                        title: row.try_get("title")?,
                        body: row.try_get("body")?,
                    })
                })
                .collect()
        })
    }

    pub async fn create_canned_reply(
        &self,
        lang: Lang,
        title: &str,
        body: &str,
        now: Millis,
    ) -> DbResult<i64> {
        on_db!(self, pool => Ok(sqlx::query_scalar(
            "INSERT INTO canned_replies (lang, title, body, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
        )
        .bind(lang.code())
        .bind(title)
        .bind(body)
        .bind(now)
        .fetch_one(pool)
        .await?))
    }

    pub async fn update_canned_reply(
        &self,
        id: i64,
        lang: Lang,
        title: &str,
        body: &str,
        now: Millis,
    ) -> DbResult<bool> {
        on_db!(self, pool => Ok(sqlx::query(
            "UPDATE canned_replies SET lang = $1, title = $2, body = $3, updated_at = $4 WHERE id = $5",
        )
        .bind(lang.code())
        .bind(title)
        .bind(body)
        .bind(now)
        .bind(id)
        .execute(pool)
        .await?
        .rows_affected() == 1))
    }

    pub async fn delete_canned_reply(&self, id: i64) -> DbResult<bool> {
        on_db!(self, pool => Ok(sqlx::query("DELETE FROM canned_replies WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected() == 1))
    }

    // ---- API tokens ----

    /// Creates a token for an agent; returns the token text, shown once and stored hashed.
    pub async fn create_api_token(&self, name: &str, agent_id: i64, now: Millis) -> DbResult<String> {
        let token = format!("sbt_{}", crate::console::sessions::random_token());
        on_db!(self, pool => sqlx::query(
            "INSERT INTO api_tokens (name, token_hash, agent_id, revoked, created_at) VALUES ($1, $2, $3, FALSE, $4)",
        )
        .bind(name)
        .bind(hash_token(&token))
        .bind(agent_id)
        .bind(now)
        .execute(pool)
        .await
        .map(drop))?;
        Ok(token)
    }

    pub async fn api_tokens(&self) -> DbResult<Vec<ApiToken>> {
        on_db!(self, pool => {
            let rows = sqlx::query(
                "SELECT t.id, t.name, a.name AS agent, t.revoked, t.created_at, t.last_used_at \
                 FROM api_tokens t JOIN agents a ON a.id = t.agent_id ORDER BY t.id",
            )
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|row| {
                    Ok(ApiToken {
                        id: row.try_get("id")?,
                        name: row.try_get("name")?,
                        agent: row.try_get("agent")?,
                        revoked: row.try_get("revoked")?,
                        created_at: row.try_get("created_at")?,
                        last_used_at: row.try_get("last_used_at")?,
                    })
                })
                .collect()
        })
    }

    pub async fn revoke_api_token(&self, id: i64) -> DbResult<bool> {
        on_db!(self, pool => Ok(sqlx::query("UPDATE api_tokens SET revoked = TRUE WHERE id = $1")
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected() == 1))
    }

    /// The agent a bearer token acts for, if the token is live and the agent enabled. The
    /// token is looked up by its SHA-256, so its text is never compared directly.
    pub async fn agent_for_token(&self, token: &str, now: Millis) -> DbResult<Option<Agent>> {
        if !token.starts_with("sbt_") || token.len() != 68 {
            return Ok(None);
        }
        let token_hash = hash_token(token);
        on_db!(self, pool => {
            let row = sqlx::query(
                "SELECT a.id, a.name, a.role, a.disabled FROM api_tokens t JOIN agents a ON a.id = t.agent_id \
                 WHERE t.token_hash = $1 AND t.revoked = FALSE AND a.disabled = FALSE",
            )
            .bind(&token_hash)
            .fetch_optional(pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE token_hash = $2")
                .bind(now)
                .bind(&token_hash)
                .execute(pool)
                .await?;
            let role: String = row.try_get("role")?;
            Ok(Some(Agent {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                role: Role::from_code(&role).ok_or_else(|| DbError::Corrupt(format!("unknown role {role:?}")))?,
                disabled: row.try_get("disabled")?,
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::db::tests::fresh_sqlite;

    #[tokio::test]
    async fn canned_replies_and_tokens() {
        let (_dir, db) = fresh_sqlite().await;
        let id = db.create_canned_reply(Lang::En, "Refund", "Your refund is on its way.", 1).await.unwrap();
        db.create_canned_reply(Lang::Ru, "Возврат", "Деньги вернутся.", 1).await.unwrap();
        assert_eq!(db.canned_replies(Some(Lang::En)).await.unwrap().len(), 1);
        assert!(db.update_canned_reply(id, Lang::En, "Refund sent", "Sent today.", 2).await.unwrap());
        assert_eq!(db.canned_replies(None).await.unwrap()[0].title, "Refund sent");
        assert!(db.delete_canned_reply(id).await.unwrap());
        assert_eq!(db.canned_replies(None).await.unwrap().len(), 1);

        let agent =
            db.create_agent("bot-integration", "correct horse battery", Role::Agent, 0).await.unwrap();
        let token = db.create_api_token("crm", agent.id, 5).await.unwrap();
        assert_eq!(db.agent_for_token(&token, 6).await.unwrap().unwrap().name, "bot-integration");
        assert!(db.agent_for_token("sbt_nope", 6).await.unwrap().is_none());
        let listed = db.api_tokens().await.unwrap();
        assert_eq!(listed[0].last_used_at, Some(6));
        db.revoke_api_token(listed[0].id).await.unwrap();
        assert!(db.agent_for_token(&token, 7).await.unwrap().is_none());
        assert_eq!(db.change_marker().await.unwrap(), ChangeMarker::default());
    }
}
