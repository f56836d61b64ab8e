//! Agent accounts: argon2 password hashes, roles, and the first-start `admin`.

use crate::console::db::{Db, DbError, DbResult, Millis, on_db};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::Rng;
use serde::Serialize;
use sqlx::Row;

/// What an agent may do. Admins also manage agents, canned replies and API tokens.
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
    pub name: String,
    pub role: Role,
    pub disabled: bool,
}

impl Agent {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("agent names are 1-64 letters, digits, '.', '-' or '_'")]
    BadName,
    #[error("passwords need at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("an agent named {0:?} already exists")]
    Exists(String),
    #[error("no agent named {0:?}")]
    NotFound(String),
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Db(#[from] DbError),
}

pub const MIN_PASSWORD_CHARS: usize = 10;

/// Agent names appear in chats ("Anna joined"), URLs and logs: keep them plain.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

pub fn hash_password(password: &str) -> Result<String, AgentError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| AgentError::Hash(error.to_string()))
}

/// Checks a password against a stored hash. argon2's verifier compares in constant time.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    Argon2::default().verify_password(password.as_bytes(), stored_hash).is_ok()
}

/// A random password of 20 letters and digits (about 119 bits).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

fn agent_from_row<R: Row>(row: &R) -> DbResult<Agent>
where
    for<'r> &'r str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    let role: String = row.try_get("role")?;
    Ok(Agent {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        role: Role::from_code(&role).ok_or_else(|| DbError::Corrupt(format!("unknown role {role:?}")))?,
        disabled: row.try_get("disabled")?,
    })
}

impl Db {
    pub async fn create_agent(
        &self,
        name: &str,
        password: &str,
        role: Role,
        now: Millis,
    ) -> Result<Agent, AgentError> {
        if !valid_name(name) {
            return Err(AgentError::BadName);
        }
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AgentError::WeakPassword);
        }
        let hash = hash_password(password)?;
        let inserted: Option<i64> = on_db!(self, pool => sqlx::query_scalar(
            "INSERT INTO agents (name, password_hash, role, disabled, created_at) VALUES ($1, $2, $3, FALSE, $4) \
             ON CONFLICT (name) DO NOTHING RETURNING id",
        )
        .bind(name)
        .bind(&hash)
        .bind(role.code())
        .bind(now)
        .fetch_optional(pool)
        .await
        .map_err(DbError::from)?);
        match inserted {
            Some(id) => Ok(Agent { id, name: name.to_owned(), role, disabled: false }),
            None => Err(AgentError::Exists(name.to_owned())),
        }
    }

    pub async fn agents(&self) -> DbResult<Vec<Agent>> {
        on_db!(self, pool => {
            let rows = sqlx::query("SELECT id, name, role, disabled FROM agents ORDER BY name").fetch_all(pool).await?;
            rows.iter().map(agent_from_row).collect()
        })
    }

    pub async fn agent_by_name(&self, name: &str) -> DbResult<Option<Agent>> {
        on_db!(self, pool => {
            let row = sqlx::query("SELECT id, name, role, disabled FROM agents WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
            row.as_ref().map(agent_from_row).transpose()
        })
    }

    /// The agent if the name exists, is enabled and the password matches. An unknown name
    /// still costs one hash verification, so timing does not tell which names exist.
    pub async fn authenticate(&self, name: &str, password: &str) -> DbResult<Option<Agent>> {
        let found: Option<(Agent, String)> = on_db!(self, pool => {
            let row = sqlx::query("SELECT id, name, role, disabled, password_hash FROM agents WHERE name = $1")
                .bind(name)
                .fetch_optional(pool)
                .await?;
            match row {
                Some(row) => Some((agent_from_row(&row)?, row.try_get::<String, _>("password_hash")?)),
                None => None,
            }
        });
        match found {
            Some((agent, hash)) => Ok((verify_password(password, &hash) && !agent.disabled).then_some(agent)),
            None => {
                let _ = verify_password(password, dummy_hash());
                Ok(None)
            }
        }
    }

    /// Disables an agent and ends their sessions and API tokens at once.
    pub async fn disable_agent(&self, name: &str) -> Result<(), AgentError> {
        let id: Option<i64> = on_db!(self, pool => sqlx::query_scalar(
            "UPDATE agents SET disabled = TRUE WHERE name = $1 RETURNING id",
        )
        .bind(name)
        .fetch_optional(pool)
        .await
        .map_err(DbError::from)?);
        let Some(id) = id else { return Err(AgentError::NotFound(name.to_owned())) };
        on_db!(self, pool => {
            sqlx::query("DELETE FROM agent_sessions WHERE agent_id = $1").bind(id).execute(pool).await.map_err(DbError::from)?;
            sqlx::query("UPDATE api_tokens SET revoked = TRUE WHERE agent_id = $1").bind(id).execute(pool).await.map_err(DbError::from)?;
        });
        Ok(())
    }

    pub async fn set_password(&self, name: &str, password: &str) -> Result<(), AgentError> {
        if password.chars().count() < MIN_PASSWORD_CHARS {
            return Err(AgentError::WeakPassword);
        }
        let hash = hash_password(password)?;
        let changed = on_db!(self, pool => sqlx::query("UPDATE agents SET password_hash = $1 WHERE name = $2")
            .bind(&hash)
            .bind(name)
            .execute(pool)
            .await
            .map_err(DbError::from)?
            .rows_affected());
        if changed == 0 { Err(AgentError::NotFound(name.to_owned())) } else { Ok(()) }
    }
}

/// A fixed hash to verify against when the name is unknown (made once, lazily).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password, only for timing").unwrap_or_default())
}

/// On first start there is nobody to sign in. When no agent exists, this creates `admin`
/// with a random password and returns it, to be printed once; otherwise `None`.
pub async fn ensure_admin(db: &Db) -> Result<Option<String>, AgentError> {
    let count: i64 = on_db!(db, pool => sqlx::query_scalar("SELECT COUNT(*) FROM agents")
        .fetch_one(pool)
        .await
        .map_err(DbError::from)?);
    if count > 0 {
        return Ok(None);
    }
    let password = random_password();
    match db.create_agent("admin", &password, Role::Admin, crate::console::db::now_millis()).await {
        Ok(_) => Ok(Some(password)),
        // Another instance made it in the meantime: its password was printed there.
        Err(AgentError::Exists(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::db::tests::fresh_sqlite;

    #[tokio::test]
    async fn accounts_sign_in_and_can_be_disabled() {
        let (_dir, db) = fresh_sqlite().await;
        let password = ensure_admin(&db).await.unwrap().expect("first start makes an admin");
        assert_eq!(ensure_admin(&db).await.unwrap(), None, "only once");
        let admin = db.authenticate("admin", &password).await.unwrap().unwrap();
        assert!(admin.is_admin());

        db.create_agent("anna", "correct horse battery", Role::Agent, 1).await.unwrap();
        assert!(matches!(
            db.create_agent("anna", "correct horse battery", Role::Agent, 1).await,
            Err(AgentError::Exists(_))
        ));
        assert!(matches!(
            db.create_agent("bad name", "long enough pw", Role::Agent, 1).await,
            Err(AgentError::BadName)
        ));
        assert!(matches!(
            db.create_agent("bob", "short", Role::Agent, 1).await,
            Err(AgentError::WeakPassword)
        ));
        assert!(db.authenticate("anna", "wrong password").await.unwrap().is_none());
        assert!(db.authenticate("nobody", "correct horse battery").await.unwrap().is_none());
        assert_eq!(
            db.authenticate("anna", "correct horse battery").await.unwrap().unwrap().role,
            Role::Agent
        );

        db.disable_agent("anna").await.unwrap();
        assert!(db.authenticate("anna", "correct horse battery").await.unwrap().is_none());
        assert!(matches!(db.disable_agent("nobody").await, Err(AgentError::NotFound(_))));
        let names: Vec<String> = db.agents().await.unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["admin", "anna"]);
    }
}
