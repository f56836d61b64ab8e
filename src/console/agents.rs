//! Agent accounts: argon2 password hashes, roles, and the first-start `admin`.

pub use crate::store::{Agent, Role};

use crate::store::{Millis, Store, StoreError, StoreResult};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::Rng;

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
    #[error("display names are 1-64 characters, without line breaks or control characters")]
    BadDisplayName,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
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

/// Creates an agent with a password that meets the rules.
pub async fn create_agent(
    store: &dyn Store,
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
    let owned = password.to_owned();
    let hash = off_thread(move || hash_password(&owned)).await?;
    match store.insert_agent(name, &hash, role, now).await? {
        Some(id) => Ok(Agent {
            id,
            name: name.to_owned(),
            role,
            disabled: false,
            display_name: None,
            photo_sha256: None,
        }),
        None => Err(AgentError::Exists(name.to_owned())),
    }
}

/// The agent if the name exists, is enabled and the password matches. An unknown name
/// still costs one hash verification, so timing does not tell which names exist.
pub async fn authenticate(store: &dyn Store, name: &str, password: &str) -> StoreResult<Option<Agent>> {
    let found = store.agent_with_password_hash(name).await?;
    let hash = found.as_ref().map_or_else(|| dummy_hash().to_owned(), |(_, hash)| hash.clone());
    let password = password.to_owned();
    let matches = off_thread(move || verify_password(&password, &hash)).await;
    Ok(found.and_then(|(agent, _)| (matches && !agent.disabled).then_some(agent)))
}

/// Runs password hashing on the blocking pool, a few at a time. argon2 takes tens of
/// milliseconds of a core and ~19 MB per hash by design; run on the async workers, a flood of
/// sign-in attempts would stall every other request, and run without a bound, exhaust memory.
pub async fn off_thread<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    static TURNS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let turns = TURNS.get_or_init(|| {
        tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
    });
    let _turn = turns.acquire().await.expect("the semaphore is never closed");
    tokio::task::spawn_blocking(work).await.expect("password hashing does not panic")
}

/// Disables an agent and ends their sessions and API tokens at once.
pub async fn disable_agent(store: &dyn Store, name: &str) -> Result<(), AgentError> {
    if store.disable_agent(name).await? { Ok(()) } else { Err(AgentError::NotFound(name.to_owned())) }
}

/// What customers are shown of an agent: a display name (1-64 characters, no control
/// characters) and a stored photo. `None` clears either.
pub async fn set_profile(
    store: &dyn Store,
    name: &str,
    display_name: Option<&str>,
    photo_sha256: Option<&str>,
) -> Result<(), AgentError> {
    let display_name = display_name.map(str::trim);
    if let Some(shown) = display_name
        && (!(1..=64).contains(&shown.chars().count()) || shown.chars().any(char::is_control))
    {
        return Err(AgentError::BadDisplayName);
    }
    if store.set_agent_profile(name, display_name, photo_sha256).await? {
        Ok(())
    } else {
        Err(AgentError::NotFound(name.to_owned()))
    }
}

/// Lets a disabled agent sign in again with their password; sessions and API tokens ended by
/// disabling stay ended.
pub async fn enable_agent(store: &dyn Store, name: &str) -> Result<(), AgentError> {
    if store.enable_agent(name).await? { Ok(()) } else { Err(AgentError::NotFound(name.to_owned())) }
}

pub async fn set_password(store: &dyn Store, name: &str, password: &str) -> Result<(), AgentError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AgentError::WeakPassword);
    }
    let owned = password.to_owned();
    let hash = off_thread(move || hash_password(&owned)).await?;
    if store.set_password_hash(name, &hash).await? {
        Ok(())
    } else {
        Err(AgentError::NotFound(name.to_owned()))
    }
}

/// A fixed hash to verify against when the name is unknown (made once, lazily).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password, only for timing").unwrap_or_default())
}

/// On first start there is nobody to sign in. When no agent exists, this creates `admin`
/// with a random password and returns it, to be printed once; otherwise `None`.
pub async fn ensure_admin(store: &dyn Store) -> Result<Option<String>, AgentError> {
    if store.agent_count().await? > 0 {
        return Ok(None);
    }
    let password = random_password();
    match create_agent(store, "admin", &password, Role::Admin, crate::store::now_millis()).await {
        Ok(_) => Ok(Some(password)),
        // Another instance made it in the meantime: its password was printed there.
        Err(AgentError::Exists(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::fresh_sqlite;

    #[tokio::test]
    async fn accounts_sign_in_and_can_be_disabled() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let password = ensure_admin(db).await.unwrap().expect("first start makes an admin");
        assert_eq!(ensure_admin(db).await.unwrap(), None, "only once");
        let admin = authenticate(db, "admin", &password).await.unwrap().unwrap();
        assert!(admin.is_admin());

        create_agent(db, "anna", "correct horse battery", Role::Agent, 1).await.unwrap();
        assert!(matches!(
            create_agent(db, "anna", "correct horse battery", Role::Agent, 1).await,
            Err(AgentError::Exists(_))
        ));
        assert!(matches!(
            create_agent(db, "bad name", "long enough pw", Role::Agent, 1).await,
            Err(AgentError::BadName)
        ));
        assert!(matches!(
            create_agent(db, "bob", "short", Role::Agent, 1).await,
            Err(AgentError::WeakPassword)
        ));
        assert!(authenticate(db, "anna", "wrong password").await.unwrap().is_none());
        assert!(authenticate(db, "nobody", "correct horse battery").await.unwrap().is_none());
        assert_eq!(
            authenticate(db, "anna", "correct horse battery").await.unwrap().unwrap().role,
            Role::Agent
        );

        disable_agent(db, "anna").await.unwrap();
        assert!(authenticate(db, "anna", "correct horse battery").await.unwrap().is_none());
        assert!(matches!(disable_agent(db, "nobody").await, Err(AgentError::NotFound(_))));
        let names: Vec<String> = db.agents().await.unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["admin", "anna"]);
    }
}
