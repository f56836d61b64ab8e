//! Signed-in browsers and API tokens. The session token lives only in an HttpOnly,
//! SameSite=Strict cookie; the database keeps its SHA-256, as it does of API tokens. Each
//! session has its own CSRF token, which every form carries and which is compared in constant
//! time.

use crate::console::agents::Agent;
use crate::store::{Millis, NewSession, Store, StoreResult};
use crate::web::token::tokens_match;
use sha2::{Digest, Sha256};

pub const SESSION_COOKIE: &str = "sb_session";
/// Before sign-in there is no session: the login form's CSRF token is a second cookie that
/// the form must repeat (double submit).
pub const LOGIN_CSRF_COOKIE: &str = "sb_login";

/// A signed-in agent and their session's CSRF token.
#[derive(Debug, Clone)]
pub struct Session {
    pub agent: Agent,
    pub csrf: String,
    /// What every page should warn about (a channel that is down), filled in per request.
    pub banners: Vec<String>,
    /// The console's language for this request (the agent's choice, else the browser's),
    /// filled in per request.
    pub tr: crate::console::texts::Tr,
    token_hash: String,
}

impl Session {
    /// Whether a submitted form token is this session's, in constant time.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        tokens_match(&self.csrf, submitted)
    }

    /// The SHA-256 of the cookie token: which session to keep when the agent changes their
    /// password.
    pub fn token_hash(&self) -> &str {
        &self.token_hash
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

/// Starts a session; returns the cookie token (only its hash is stored).
pub async fn create_session(
    store: &dyn Store,
    agent_id: i64,
    now: Millis,
    ttl_millis: Millis,
) -> StoreResult<String> {
    let token = random_token();
    let csrf = random_token();
    let session = NewSession {
        token_hash: &hash_token(&token),
        agent_id,
        csrf: &csrf,
        created_at: now,
        expires_at: now.saturating_add(ttl_millis),
    };
    store.insert_session(session).await?;
    Ok(token)
}

/// The live session for a cookie token, if any; disabled agents have none.
pub async fn session(store: &dyn Store, token: &str, now: Millis) -> StoreResult<Option<Session>> {
    if token.len() != 64 {
        return Ok(None);
    }
    let token_hash = hash_token(token);
    let found = store.session(&token_hash, now).await?;
    Ok(found.map(|row| Session {
        agent: row.agent,
        csrf: row.csrf,
        banners: Vec::new(),
        tr: Default::default(),
        token_hash,
    }))
}

pub async fn end_session(store: &dyn Store, session: &Session) -> StoreResult<()> {
    store.delete_session(&session.token_hash).await
}

/// Creates an API token for an agent that stops working at `expires_at` (never when `None`);
/// returns the token text, shown once and stored hashed.
pub async fn create_api_token(
    store: &dyn Store,
    name: &str,
    agent_id: i64,
    now: Millis,
    expires_at: Option<Millis>,
) -> StoreResult<String> {
    let token = format!("sbt_{}", random_token());
    store.insert_api_token(name, &hash_token(&token), agent_id, now, expires_at).await?;
    Ok(token)
}

/// The agent a bearer token acts for, if the token is live (not revoked, not expired) and the
/// agent enabled. The
/// token is looked up by its SHA-256, so its text is never compared directly.
pub async fn agent_for_token(store: &dyn Store, token: &str, now: Millis) -> StoreResult<Option<Agent>> {
    if !token.starts_with("sbt_") || token.len() != 68 {
        return Ok(None);
    }
    store.agent_for_token_hash(&hash_token(token), now).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::agents::{
        ChosenBy, Role, change_own_password, create_agent, disable_agent, set_password,
    };
    use crate::core::message::Lang;
    use crate::store::ChangeMarker;
    use crate::store::tests::fresh_sqlite;

    #[tokio::test]
    async fn sessions_expire_end_and_die_with_their_agent() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let agent = create_agent(db, "anna", "correct horse battery", Role::Agent, 0).await.unwrap();
        let token = create_session(db, agent.id, 1_000, 60_000).await.unwrap();
        let session = session(db, &token, 2_000).await.unwrap().expect("live session");
        assert_eq!(session.agent.name, "anna");
        assert!(session.csrf_matches(&session.csrf.clone()));
        assert!(!session.csrf_matches("0".repeat(64).as_str()));
        assert!(!session.csrf_matches(""));
        assert!(super::session(db, &token, 61_000).await.unwrap().is_none(), "expired");
        assert!(super::session(db, &random_token(), 2_000).await.unwrap().is_none(), "unknown token");

        end_session(db, &session).await.unwrap();
        assert!(super::session(db, &token, 2_000).await.unwrap().is_none(), "signed out");

        let again = create_session(db, agent.id, 1_000, 60_000).await.unwrap();
        disable_agent(db, "anna").await.unwrap();
        assert!(
            super::session(db, &again, 2_000).await.unwrap().is_none(),
            "disabled agents lose their sessions"
        );
    }

    #[tokio::test]
    async fn canned_replies_and_tokens() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let id = db
            .create_canned_reply(Lang::En, "Refund", "Your refund is on its way.", None, 1)
            .await
            .unwrap()
            .unwrap();
        db.create_canned_reply(Lang::Ru, "Возврат", "Деньги вернутся.", None, 1).await.unwrap();
        assert_eq!(db.canned_replies(Some(Lang::En)).await.unwrap().len(), 1);
        assert!(db.update_canned_reply(id, Lang::En, "Refund sent", "Sent today.", 2).await.unwrap());
        assert_eq!(db.canned_replies(None).await.unwrap()[0].title, "Refund sent");
        assert!(db.delete_canned_reply(id).await.unwrap());
        assert_eq!(db.canned_replies(None).await.unwrap().len(), 1);

        let agent =
            create_agent(db, "bot-integration", "correct horse battery", Role::Agent, 0).await.unwrap();
        let token = create_api_token(db, "crm", agent.id, 5, None).await.unwrap();
        assert_eq!(agent_for_token(db, &token, 6).await.unwrap().unwrap().name, "bot-integration");
        assert!(agent_for_token(db, "sbt_nope", 6).await.unwrap().is_none());
        let listed = db.api_tokens().await.unwrap();
        assert_eq!(listed[0].last_used_at, Some(6));
        db.revoke_api_token(listed[0].id).await.unwrap();
        assert!(agent_for_token(db, &token, 7).await.unwrap().is_none());
        assert_eq!(db.change_marker().await.unwrap(), ChangeMarker::default());
    }

    #[tokio::test]
    async fn a_token_with_an_expiry_works_until_then_and_not_after() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let agent = create_agent(db, "crm-bot", "correct horse battery", Role::Agent, 0).await.unwrap();
        let token = create_api_token(db, "nightly sync", agent.id, 1_000, Some(5_000)).await.unwrap();
        assert_eq!(db.api_tokens().await.unwrap()[0].expires_at, Some(5_000));
        assert!(agent_for_token(db, &token, 4_999).await.unwrap().is_some(), "before the end");
        assert!(agent_for_token(db, &token, 5_000).await.unwrap().is_none(), "expired at the end");
        assert_eq!(
            db.api_tokens().await.unwrap()[0].last_used_at,
            Some(4_999),
            "an expired token is not even noted as used"
        );
    }

    #[tokio::test]
    async fn a_password_change_ends_every_other_session_of_the_agent() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let anna = create_agent(db, "anna", "correct horse battery", Role::Agent, 0).await.unwrap();
        let bob = create_agent(db, "bob", "another long password", Role::Agent, 0).await.unwrap();
        let here = create_session(db, anna.id, 1_000, 60_000).await.unwrap();
        let laptop = create_session(db, anna.id, 1_000, 60_000).await.unwrap();
        let bobs = create_session(db, bob.id, 1_000, 60_000).await.unwrap();
        let current = session(db, &here, 2_000).await.unwrap().unwrap();

        change_own_password(db, "anna", "correct horse battery", "a brand new secret", current.token_hash())
            .await
            .unwrap();
        assert!(session(db, &here, 2_000).await.unwrap().is_some(), "the session that changed it stays");
        assert!(session(db, &laptop, 2_000).await.unwrap().is_none(), "her other sessions end");
        assert!(session(db, &bobs, 2_000).await.unwrap().is_some(), "nobody else's");

        set_password(db, "anna", "chosen by the admin", ChosenBy::AnAdmin).await.unwrap();
        assert!(session(db, &here, 2_000).await.unwrap().is_none(), "an admin's reset ends all of them");
    }
}
