//! Agent accounts: argon2 password hashes, roles, password changes, and the first-start
//! `admin`.

pub use crate::store::{Agent, Role};

use crate::store::{Credentials, Millis, NewAgent, PasswordChange, Store, StoreError, StoreResult};
use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use rand::Rng;
use std::path::{Path, PathBuf};

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
    #[error("{0:?} is disabled; a disabled agent's password is not changed")]
    Disabled(String),
    #[error("the current password is wrong")]
    WrongPassword,
    #[error("the new password must differ from the current one")]
    SamePassword,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub const MIN_PASSWORD_CHARS: usize = 10;
/// The agent the first start creates.
pub const FIRST_ADMIN: &str = "admin";

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

/// The one strength rule, for new agents and every password change.
fn check_strength(password: &str) -> Result<(), AgentError> {
    if password.chars().count() < MIN_PASSWORD_CHARS { Err(AgentError::WeakPassword) } else { Ok(()) }
}

/// Creates an agent with a password that meets the rules.
pub async fn create_agent(
    store: &dyn Store,
    name: &str,
    password: &str,
    role: Role,
    now: Millis,
) -> Result<Agent, AgentError> {
    insert(store, name, password, role, false, now).await
}

async fn insert(
    store: &dyn Store,
    name: &str,
    password: &str,
    role: Role,
    must_change_password: bool,
    now: Millis,
) -> Result<Agent, AgentError> {
    if !valid_name(name) {
        return Err(AgentError::BadName);
    }
    check_strength(password)?;
    let owned = password.to_owned();
    let password_hash = off_thread(move || hash_password(&owned)).await?;
    let credentials = Credentials { name, password_hash: &password_hash, must_change_password };
    let agent = NewAgent { credentials, role };
    match store.insert_agent(agent, now).await? {
        Some(id) => Ok(Agent {
            id,
            name: name.to_owned(),
            role,
            disabled: false,
            must_change_password,
            display_name: None,
            photo_sha256: None,
            console_lang: None,
            languages: Vec::new(),
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

/// Who chose a new password, which decides what else changes with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChosenBy<'a> {
    /// The agent themselves, signed in with the session whose token hash this is: that
    /// session stays, every other one ends, and the password counts as their own.
    TheAgent { session_token_hash: &'a str },
    /// An admin in the console: the admin knows it, so the agent must choose their own at the
    /// next sign-in. Every session of the agent ends.
    AnAdmin,
    /// The operator on the server (`switchboard agents passwd`): it counts as the agent's own
    /// (the operator may be setting their own, or handing it over in person). Every session of
    /// the agent ends.
    TheOperator,
}

/// Sets a new password for an enabled agent under the strength rule of [`create_agent`]; see
/// [`ChosenBy`] for which sessions end. A disabled agent's password is refused
/// ([`AgentError::Disabled`]): they cannot sign in anyway, so a changed password would only
/// suggest that access was restored; [`enable_agent`] restores it, with the password they had.
pub async fn set_password(
    store: &dyn Store,
    name: &str,
    password: &str,
    chosen_by: ChosenBy<'_>,
) -> Result<(), AgentError> {
    check_strength(password)?;
    match store.agent_by_name(name).await? {
        None => return Err(AgentError::NotFound(name.to_owned())),
        Some(agent) if agent.disabled => return Err(AgentError::Disabled(name.to_owned())),
        Some(_) => {}
    }
    let owned = password.to_owned();
    let password_hash = off_thread(move || hash_password(&owned)).await?;
    let (must_change_password, keep_session) = match chosen_by {
        ChosenBy::TheAgent { session_token_hash } => (false, Some(session_token_hash)),
        ChosenBy::AnAdmin => (true, None),
        ChosenBy::TheOperator => (false, None),
    };
    let credentials = Credentials { name, password_hash: &password_hash, must_change_password };
    let change = PasswordChange { credentials, keep_session };
    if store.set_password_hash(change).await? { Ok(()) } else { Err(AgentError::NotFound(name.to_owned())) }
}

/// An agent changing their own password: the current one must be right, and the new one must
/// differ from it (the first-start `admin` would otherwise keep the password from the file).
pub async fn change_own_password(
    store: &dyn Store,
    name: &str,
    current: &str,
    new: &str,
    session_token_hash: &str,
) -> Result<(), AgentError> {
    check_new_password(current, new)?;
    let Some((_, hash)) = store.agent_with_password_hash(name).await? else {
        return Err(AgentError::NotFound(name.to_owned()));
    };
    let given = current.to_owned();
    if !off_thread(move || verify_password(&given, &hash)).await {
        return Err(AgentError::WrongPassword);
    }
    set_password(store, name, new, ChosenBy::TheAgent { session_token_hash }).await
}

/// What [`change_own_password`] checks before it looks at the current password: the strength
/// rule, and that the new one differs. Cheap, and tells nothing about the current password.
pub fn check_new_password(current: &str, new: &str) -> Result<(), AgentError> {
    check_strength(new)?;
    if current == new { Err(AgentError::SamePassword) } else { Ok(()) }
}

/// A fixed hash to verify against when the name is unknown (made once, lazily).
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password, only for timing").unwrap_or_default())
}

/// On first start there is nobody to sign in. When no agent exists, this creates `admin`
/// with a random one-time password and returns it, to be handed to the operator once;
/// otherwise `None`. The admin must choose their own password at the first sign-in.
pub async fn ensure_admin(store: &dyn Store) -> Result<Option<String>, AgentError> {
    if store.agent_count().await? > 0 {
        return Ok(None);
    }
    let password = random_password();
    match insert(store, FIRST_ADMIN, &password, Role::Admin, true, crate::store::now_millis()).await {
        Ok(_) => Ok(Some(password)),
        // Another instance made it in the meantime: its password was handed over there.
        Err(AgentError::Exists(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Where [`write_one_time_password`] puts the first admin's password, in the data folder.
pub const ONE_TIME_PASSWORD_FILE: &str = "admin-one-time-password.txt";

/// Writes the first admin's one-time password into [`ONE_TIME_PASSWORD_FILE`] in `data_dir`,
/// readable by this user only (mode 0600), and returns the file's path: logs are collected,
/// kept and shipped elsewhere, so the password never goes there.
pub fn write_one_time_password(data_dir: &Path, password: &str) -> std::io::Result<PathBuf> {
    use std::io::Write as _;
    std::fs::create_dir_all(data_dir)?;
    let path = data_dir.join(ONE_TIME_PASSWORD_FILE);
    // A file left by an earlier database goes first: the mode below applies only to a file this
    // call creates, and `create_new` never follows a link someone may have put in its place.
    match std::fs::remove_file(&path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => return Err(error),
        _ => {}
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path)?;
    writeln!(file, "{password}")?;
    file.sync_all()?;
    Ok(path)
}

/// Removes the one-time password file once it is of no use (its admin chose their own).
pub fn remove_one_time_password(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => tracing::info!(file = %path.display(), "console: removed the used one-time password file"),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
        Err(error) => {
            tracing::warn!(%error, file = %path.display(), "console: cannot remove the one-time password file")
        }
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

    #[tokio::test]
    async fn the_first_admin_must_change_the_one_time_password_under_the_same_rules() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let one_time = ensure_admin(db).await.unwrap().unwrap();
        let admin = authenticate(db, "admin", &one_time).await.unwrap().unwrap();
        assert!(admin.must_change_password, "someone else chose it");
        let anna = create_agent(db, "anna", "correct horse battery", Role::Agent, 1).await.unwrap();
        assert!(!anna.must_change_password);
        assert!(!db.agent_by_name("anna").await.unwrap().unwrap().must_change_password);

        let keep = "0".repeat(64);
        assert!(matches!(
            change_own_password(db, "admin", "wrong password!", "my own password", &keep).await,
            Err(AgentError::WrongPassword)
        ));
        assert!(matches!(
            change_own_password(db, "admin", &one_time, &one_time, &keep).await,
            Err(AgentError::SamePassword)
        ));
        assert!(matches!(
            change_own_password(db, "admin", &one_time, "short", &keep).await,
            Err(AgentError::WeakPassword)
        ));
        change_own_password(db, "admin", &one_time, "my own password", &keep).await.unwrap();
        assert!(authenticate(db, "admin", &one_time).await.unwrap().is_none(), "the old one is gone");
        let admin = authenticate(db, "admin", "my own password").await.unwrap().unwrap();
        assert!(!admin.must_change_password, "their own now");

        // An admin's reset makes the agent choose again; the operator's does not.
        set_password(db, "anna", "the admin chose this", ChosenBy::AnAdmin).await.unwrap();
        assert!(
            authenticate(db, "anna", "the admin chose this").await.unwrap().unwrap().must_change_password
        );
        set_password(db, "anna", "the operator chose this", ChosenBy::TheOperator).await.unwrap();
        assert!(
            !authenticate(db, "anna", "the operator chose this").await.unwrap().unwrap().must_change_password
        );
        assert!(matches!(
            set_password(db, "anna", "short", ChosenBy::TheOperator).await,
            Err(AgentError::WeakPassword)
        ));
        assert!(matches!(
            set_password(db, "nobody", "long enough password", ChosenBy::TheOperator).await,
            Err(AgentError::NotFound(_))
        ));
        disable_agent(db, "anna").await.unwrap();
        assert!(matches!(
            set_password(db, "anna", "long enough password", ChosenBy::TheOperator).await,
            Err(AgentError::Disabled(_))
        ));
    }

    #[test]
    fn the_one_time_password_file_is_for_its_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::write(data.join(ONE_TIME_PASSWORD_FILE), "an old one, readable by all").unwrap();
        let path = write_one_time_password(&data, "Ab3dEf6hJk").unwrap();
        assert_eq!(path, data.join(ONE_TIME_PASSWORD_FILE));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "Ab3dEf6hJk\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        remove_one_time_password(&path);
        assert!(!path.exists());
        remove_one_time_password(&path);
    }
}
