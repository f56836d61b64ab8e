//! What the agent console keeps about the people who use it: agent accounts, signed-in
//! sessions, API tokens, and the secrets the server makes for itself. Passwords and tokens
//! arrive here already hashed (the console hashes them); the store never sees them in clear.

use super::{Millis, StoreResult};
use crate::core::message::Lang;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Agent,
    Admin,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Agent => "agent",
            Role::Admin => "admin",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        match code {
            "agent" => Some(Role::Agent),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Agent {
    pub id: i64,
    /// The login: staff see it, customers never do.
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// Someone else chose the password (the first-start `admin`): the console lets the agent
    /// do nothing else until they choose their own.
    pub must_change_password: bool,
    /// What customers see; without it they see no name at all.
    pub display_name: Option<String>,
    /// A stored media file (SHA-256) the web chat shows beside the agent's messages.
    pub photo_sha256: Option<String>,
    /// The console's language the agent chose; `None` follows the browser.
    pub console_lang: Option<Lang>,
    /// The languages the agent speaks (the queue can show only tickets in them).
    pub languages: Vec<Lang>,
}

impl Agent {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// This agent as the engine's ticket rules see them.
    pub fn actor(&self) -> crate::core::handoff::Actor {
        crate::core::handoff::Actor::new(&self.name, self.is_admin())
    }
}

/// A live session as stored: its agent and the session's CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    pub agent: Agent,
    pub csrf: String,
}

/// A session to store; `token_hash` is the SHA-256 of the cookie token.
#[derive(Debug, Clone, Copy)]
pub struct NewSession<'a> {
    pub token_hash: &'a str,
    pub agent_id: i64,
    pub csrf: &'a str,
    pub created_at: Millis,
    pub expires_at: Millis,
}

/// How agent `name` signs in: `password_hash` is the argon2 hash, and whether they must choose
/// a password of their own first.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    pub name: &'a str,
    pub password_hash: &'a str,
    pub must_change_password: bool,
}

/// An agent to store.
#[derive(Debug, Clone, Copy)]
pub struct NewAgent<'a> {
    pub credentials: Credentials<'a>,
    pub role: Role,
}

/// New credentials for an existing agent. The agent's sessions end, all but `keep_session` (the
/// SHA-256 of the session token of whoever changes their own password).
#[derive(Debug, Clone, Copy)]
pub struct PasswordChange<'a> {
    pub credentials: Credentials<'a>,
    pub keep_session: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct ApiToken {
    pub id: i64,
    pub name: String,
    pub agent: String,
    pub revoked: bool,
    pub created_at: Millis,
    pub last_used_at: Option<Millis>,
    /// When the token stops working; `None` never.
    pub expires_at: Option<Millis>,
}

/// Agents, sessions, API tokens and server secrets.
#[async_trait::async_trait]
pub trait AccountStore: Send + Sync {
    /// Inserts an agent; `None` when the name is taken.
    async fn insert_agent(&self, agent: NewAgent<'_>, now: Millis) -> StoreResult<Option<i64>>;
    /// Every agent, by name.
    async fn agents(&self) -> StoreResult<Vec<Agent>>;
    async fn agent_count(&self) -> StoreResult<i64>;
    async fn agent_by_name(&self, name: &str) -> StoreResult<Option<Agent>>;
    /// The agent with their stored password hash, for signing in.
    async fn agent_with_password_hash(&self, name: &str) -> StoreResult<Option<(Agent, String)>>;
    /// Disables an agent and ends their sessions and API tokens; `false` when there is no such
    /// agent.
    async fn disable_agent(&self, name: &str) -> StoreResult<bool>;
    /// Lets a disabled agent sign in again (their old sessions and tokens stay ended); `false`
    /// when there is no such agent.
    async fn enable_agent(&self, name: &str) -> StoreResult<bool>;
    /// Sets what customers see of an agent; `false` when there is no such agent.
    async fn set_agent_profile(
        &self,
        name: &str,
        display_name: Option<&str>,
        photo_sha256: Option<&str>,
    ) -> StoreResult<bool>;
    /// Sets the console language an agent chose (`None`: the browser's) and the languages
    /// they speak; `false` when there is no such agent.
    async fn set_agent_languages(
        &self,
        name: &str,
        console_lang: Option<Lang>,
        languages: &[Lang],
    ) -> StoreResult<bool>;
    /// Whether an active agent has this photo (the web chat serves only those).
    async fn is_agent_photo(&self, sha256: &str) -> StoreResult<bool>;
    /// Replaces an agent's password hash and sets whether they must change it, and ends every
    /// session of theirs except `keep_session` (a session token hash); in one transaction.
    /// `false` when there is no such agent.
    async fn set_password_hash(&self, change: PasswordChange<'_>) -> StoreResult<bool>;

    /// Stores a session, first deleting the ones that expired by `session.created_at`.
    async fn insert_session(&self, session: NewSession<'_>) -> StoreResult<()>;
    /// The live session with this token hash; disabled agents have none.
    async fn session(&self, token_hash: &str, now: Millis) -> StoreResult<Option<SessionRow>>;
    async fn delete_session(&self, token_hash: &str) -> StoreResult<()>;

    /// Stores a token that stops working at `expires_at` (never when `None`).
    async fn insert_api_token(
        &self,
        name: &str,
        token_hash: &str,
        agent_id: i64,
        now: Millis,
        expires_at: Option<Millis>,
    ) -> StoreResult<()>;
    async fn api_tokens(&self) -> StoreResult<Vec<ApiToken>>;
    /// `false` when there is no such token.
    async fn revoke_api_token(&self, id: i64) -> StoreResult<bool>;
    /// The enabled agent a live (not revoked, not expired by `now`) token acts for, noting the
    /// token as used at `now`.
    async fn agent_for_token_hash(&self, token_hash: &str, now: Millis) -> StoreResult<Option<Agent>>;

    /// A secret the server keeps for itself: `candidate` is stored if there is none yet, and
    /// the stored value returned. Two instances starting at once agree on one value: the
    /// insert never overwrites.
    async fn server_secret(&self, name: &str, candidate: &str, now: Millis) -> StoreResult<String>;
}
