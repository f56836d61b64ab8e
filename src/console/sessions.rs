//! Signed-in browsers. The session token lives only in an HttpOnly, SameSite=Strict cookie;
//! the database keeps its SHA-256. Each session has its own CSRF token, which every form
//! carries and which is compared in constant time.

use crate::console::agents::{Agent, Role};
use crate::console::db::{Db, DbError, DbResult, Millis, on_db};
use crate::web::token::tokens_match;
use sha2::{Digest, Sha256};
use sqlx::Row;

pub const SESSION_COOKIE: &str = "sb_session";
/// Before sign-in there is no session: the login form's CSRF token is a second cookie that
/// the form must repeat (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "sb_login";

/// A signed-in agent and their session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub agent: Agent,
    pub csrf: String,
    token_hash: String,
}

impl Session {
    /// Whether a submitted form token is this session's, in constant time.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        tokens_match(&self.csrf, submitted)
    }
}

/// 32 random bytes as hex.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Db {
    /// Starts a session; returns the cookie token (only its hash is stored).
    pub async fn create_session(&self, agent_id: i64, now: Millis, ttl_millis: Millis) -> DbResult<String> {
        let token = random_token();
        let csrf = random_token();
        on_db!(self, pool => {
            sqlx::query("DELETE FROM agent_sessions WHERE expires_at <= $1").bind(now).execute(pool).await?;
            sqlx::query(
                "INSERT INTO agent_sessions (token_hash, agent_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(hash_token(&token))
            .bind(agent_id)
            .bind(&csrf)
            .bind(now)
            .bind(now.saturating_add(ttl_millis))
            .execute(pool)
            .await?;
        });
        Ok(token)
    }

    /// The live session for a cookie token, if any; disabled agents have none.
    pub async fn session(&self, token: &str, now: Millis) -> DbResult<Option<Session>> {
        if token.len() != 64 {
            return Ok(None);
        }
        let token_hash = hash_token(token);
        on_db!(self, pool => {
            let row = sqlx::query(
                "SELECT a.id, a.name, a.role, a.disabled, s.csrf_token FROM agent_sessions s JOIN agents a ON a.id = s.agent_id \
                 WHERE s.token_hash = $1 AND s.expires_at > $2 AND a.disabled = FALSE",
            )
            .bind(&token_hash)
            .bind(now)
            .fetch_optional(pool)
            .await?;
            let Some(row) = row else { return Ok(None) };
            let role: String = row.try_get("role")?;
            Ok(Some(Session {
                agent: Agent {
                    id: row.try_get("id")?,
                    name: row.try_get("name")?,
                    role: Role::from_code(&role).ok_or_else(|| DbError::Corrupt(format!("unknown role {role:?}")))?,
                    disabled: row.try_get("disabled")?,
                },
                csrf: row.try_get("csrf_token")?,
                token_hash,
            }))
        })
    }

    pub async fn end_session(&self, session: &Session) -> DbResult<()> {
        on_db!(self, pool => sqlx::query("DELETE FROM agent_sessions WHERE token_hash = $1")
            .bind(&session.token_hash)
            .execute(pool)
            .await
            .map(drop))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::db::tests::fresh_sqlite;

    #[tokio::test]
    async fn sessions_expire_end_and_die_with_their_agent() {
        let (_dir, db) = fresh_sqlite().await;
        let agent = db.create_agent("anna", "correct horse battery", Role::Agent, 0).await.unwrap();
        let token = db.create_session(agent.id, 1_000, 60_000).await.unwrap();
        let session = db.session(&token, 2_000).await.unwrap().expect("live session");
        assert_eq!(session.agent.name, "anna");
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches("0".repeat(64).as_str()));
        assert!(!session.csrf_matches(""));
        assert!(db.session(&token, 61_000).await.unwrap().is_none(), "expired");
        assert!(db.session(&random_token(), 2_000).await.unwrap().is_none(), "unknown token");

        db.end_session(&session).await.unwrap();
        assert!(db.session(&token, 2_000).await.unwrap().is_none(), "signed out");

        let again = db.create_session(agent.id, 1_000, 60_000).await.unwrap();
        db.disable_agent("anna").await.unwrap();
        assert!(db.session(&again, 2_000).await.unwrap().is_none(), "disabled agents lose their sessions");
    }
}
