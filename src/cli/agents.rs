//! `switchboard agents add NAME [--admin]`, `agents passwd NAME`, `agents list`,
//! `agents disable NAME`, `agents enable NAME`, `agents profile NAME`.
//!
//! `add` and `passwd` read the password from the first line of standard input, so it never
//! appears in the shell history or the process list:
//! `printf '%s\n' "$PW" | switchboard agents add anna`.

use crate::console::agents::{self, AgentError, ChosenBy, Role};
use crate::core::message::Lang;
use crate::media::MediaStore;
use crate::store::{Store, now_millis};
use std::io::Write;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

#[derive(Debug, clap::Args)]
pub struct AgentsArgs {
    #[command(subcommand)]
    pub command: AgentsCommand,
    #[command(flatten)]
    pub database: super::DatabaseArgs,
}

#[derive(Debug, clap::Subcommand)]
pub enum AgentsCommand {
    /// Create an agent; the password is read from the first line of standard input.
    Add {
        /// The login name: 1-64 letters, digits, `.`, `-` or `_`.
        name: String,
        /// Admins also manage agents, canned replies and API tokens.
        #[arg(long)]
        admin: bool,
    },
    /// Set an agent's password, read from standard input; ends their console sessions.
    /// Refused for a disabled agent.
    Passwd {
        /// The agent's login name.
        name: String,
    },
    /// Show every agent with role and status.
    List,
    /// Stop an agent from signing in; ends their sessions and API tokens.
    Disable {
        /// The agent's login name.
        name: String,
    },
    /// Set what customers see of an agent: a display name and a photo (the login stays
    /// among staff; without a display name customers see no name at all).
    Profile {
        /// The agent's login name.
        name: String,
        /// The name customers see, e.g. "Anna K."; an empty value clears it.
        #[arg(long, value_name = "TEXT")]
        display_name: Option<String>,
        /// A JPEG, PNG, GIF or WebP image the web chat shows beside the agent's messages.
        #[arg(long, value_name = "PATH", conflicts_with = "no_photo")]
        photo: Option<std::path::PathBuf>,
        /// Remove the photo.
        #[arg(long)]
        no_photo: bool,
        /// The languages the agent answers customers in, e.g. `ru,zh` (of en, ru, zh); the
        /// console's queue can keep to them. An empty value clears them.
        #[arg(long, value_name = "CODES")]
        languages: Option<String>,
    },
    /// Let a disabled agent sign in again with their password (API tokens stay revoked).
    Enable {
        /// The agent's login name.
        name: String,
    },
}

/// `ru,zh` -> the languages, each once, in the order given; empty -> none.
fn parse_languages(codes: &str) -> anyhow::Result<Vec<Lang>> {
    let mut languages = Vec::new();
    for code in codes.split(',').map(str::trim).filter(|code| !code.is_empty()) {
        let Some(lang) = Lang::from_code(code) else {
            anyhow::bail!("unknown language `{code}`: use codes of en, ru, zh, e.g. --languages ru,zh");
        };
        if !languages.contains(&lang) {
            languages.push(lang);
        }
    }
    Ok(languages)
}

/// `ru,zh`, or `-` for none.
fn language_list(languages: &[Lang]) -> String {
    if languages.is_empty() {
        return "-".to_owned();
    }
    languages.iter().map(|lang| lang.code()).collect::<Vec<_>>().join(",")
}

/// The first line of standard input, without its line ending.
async fn first_line<R: AsyncBufRead + Unpin>(mut stdin: R) -> std::io::Result<String> {
    let mut line = String::new();
    stdin.read_line(&mut line).await?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// Runs one `agents` command against the store.
pub async fn run<R: AsyncBufRead + Unpin>(
    store: &dyn Store,
    media: &MediaStore,
    args: AgentsArgs,
    stdin: R,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    match args.command {
        AgentsCommand::Add { name, admin } => {
            let password = first_line(stdin).await?;
            let role = if admin { Role::Admin } else { Role::Agent };
            match agents::create_agent(store, &name, &password, role, now_millis()).await {
                Ok(agent) => writeln!(out, "created {} ({})", agent.name, agent.role.code())?,
                Err(error @ (AgentError::Exists(_) | AgentError::BadName | AgentError::WeakPassword)) => {
                    anyhow::bail!("{error}")
                }
                Err(error) => return Err(error.into()),
            }
        }
        AgentsCommand::Passwd { name } => {
            let password = first_line(stdin).await?;
            match agents::set_password(store, &name, &password, ChosenBy::TheOperator).await {
                Ok(()) => writeln!(out, "changed the password of {name}; their console sessions ended")?,
                Err(
                    error @ (AgentError::NotFound(_) | AgentError::Disabled(_) | AgentError::WeakPassword),
                ) => anyhow::bail!("{error}"),
                Err(error) => return Err(error.into()),
            }
        }
        AgentsCommand::List => {
            for agent in store.agents().await? {
                let status = if agent.disabled { "disabled" } else { "active" };
                let shown = agent.display_name.as_deref().unwrap_or("-");
                let speaks = language_list(&agent.languages);
                writeln!(out, "{}\t{}\t{status}\t{shown}\t{speaks}", agent.name, agent.role.code())?;
            }
        }
        AgentsCommand::Profile { name, display_name, photo, no_photo, languages } => {
            let Some(agent) = store.agent_by_name(&name).await? else {
                anyhow::bail!("{}", AgentError::NotFound(name));
            };
            let languages = languages.as_deref().map(parse_languages).transpose()?;
            let shown = match display_name {
                Some(text) if text.trim().is_empty() => None,
                Some(text) => Some(text),
                None => agent.display_name,
            };
            let photo = match (photo, no_photo) {
                (_, true) => None,
                (Some(path), false) => {
                    let bytes = tokio::fs::read(&path)
                        .await
                        .map_err(|error| anyhow::anyhow!("cannot read {}: {error}", path.display()))?;
                    Some(
                        media
                            .store(&bytes)
                            .await
                            .map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?
                            .sha256,
                    )
                }
                (None, false) => agent.photo_sha256,
            };
            match agents::set_profile(store, &name, shown.as_deref(), photo.as_deref()).await {
                Ok(()) => writeln!(
                    out,
                    "{name} is shown to customers as {}",
                    shown.as_deref().unwrap_or("(no name)")
                )?,
                Err(error @ AgentError::BadDisplayName) => anyhow::bail!("{error}"),
                Err(error) => return Err(error.into()),
            }
            if let Some(languages) = languages {
                store.set_agent_languages(&name, agent.console_lang, &languages).await?;
                writeln!(out, "{name} answers in {}", language_list(&languages))?;
            }
        }
        AgentsCommand::Disable { name } => {
            agents::disable_agent(store, &name).await?;
            writeln!(out, "disabled {name}")?;
        }
        AgentsCommand::Enable { name } => {
            agents::enable_agent(store, &name).await?;
            writeln!(out, "enabled {name}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::fresh_sqlite;

    async fn agents(db: &dyn Store, command: AgentsCommand, stdin: &str) -> anyhow::Result<String> {
        let media_dir = tempfile::tempdir().unwrap();
        let media = MediaStore::new(media_dir.path(), 1 << 20);
        let mut out = Vec::new();
        let args = AgentsArgs { command, database: Default::default() };
        run(db, &media, args, stdin.as_bytes(), &mut out).await?;
        Ok(String::from_utf8(out).unwrap())
    }

    #[tokio::test]
    async fn add_list_disable() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let add = AgentsCommand::Add { name: "anna".into(), admin: true };
        assert_eq!(agents(db, add, "correct horse battery\n").await.unwrap(), "created anna (admin)\n");
        assert!(
            agents::authenticate(db, "anna", "correct horse battery").await.unwrap().is_some(),
            "newline is not part of it"
        );
        let short = AgentsCommand::Add { name: "bob".into(), admin: false };
        assert!(agents(db, short, "short\n").await.unwrap_err().to_string().contains("at least"));
        let bob = AgentsCommand::Add { name: "bob".into(), admin: false };
        agents(db, bob, "another long password").await.unwrap();
        assert_eq!(
            agents(db, AgentsCommand::List, "").await.unwrap(),
            "anna\tadmin\tactive\t-\t-\nbob\tagent\tactive\t-\t-\n"
        );
        agents(db, AgentsCommand::Disable { name: "bob".into() }, "").await.unwrap();
        assert!(agents(db, AgentsCommand::List, "").await.unwrap().contains("bob\tagent\tdisabled"));
        assert!(agents(db, AgentsCommand::Disable { name: "nobody".into() }, "").await.is_err());
    }

    #[tokio::test]
    async fn a_disabled_agent_can_be_enabled_again() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let add = AgentsCommand::Add { name: "bob".into(), admin: false };
        agents(db, add, "another long password\n").await.unwrap();
        agents(db, AgentsCommand::Disable { name: "bob".into() }, "").await.unwrap();
        assert!(agents::authenticate(db, "bob", "another long password").await.unwrap().is_none());
        assert_eq!(
            agents(db, AgentsCommand::Enable { name: "bob".into() }, "").await.unwrap(),
            "enabled bob\n"
        );
        assert!(agents(db, AgentsCommand::List, "").await.unwrap().contains("bob\tagent\tactive"));
        assert!(agents::authenticate(db, "bob", "another long password").await.unwrap().is_some());
        assert!(agents(db, AgentsCommand::Enable { name: "nobody".into() }, "").await.is_err());
    }

    #[tokio::test]
    async fn a_display_name_is_what_customers_see_and_can_be_cleared() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        agents(db, AgentsCommand::Add { name: "olga".into(), admin: false }, "another long password\n")
            .await
            .unwrap();
        let profile = |display_name: Option<&str>| AgentsCommand::Profile {
            name: "olga".into(),
            display_name: display_name.map(str::to_owned),
            photo: None,
            no_photo: false,
            languages: None,
        };
        assert_eq!(
            agents(db, profile(Some("Olga K.")), "").await.unwrap(),
            "olga is shown to customers as Olga K.\n"
        );
        assert!(agents(db, AgentsCommand::List, "").await.unwrap().contains("olga\tagent\tactive\tOlga K."));
        assert!(
            agents(db, profile(Some("Olga\nK.")), "")
                .await
                .unwrap_err()
                .to_string()
                .contains("display names")
        );
        assert_eq!(db.agent_by_name("olga").await.unwrap().unwrap().display_name.as_deref(), Some("Olga K."));
        agents(db, profile(Some("")), "").await.unwrap();
        assert_eq!(db.agent_by_name("olga").await.unwrap().unwrap().display_name, None);
        let nobody = AgentsCommand::Profile {
            name: "nobody".into(),
            display_name: None,
            photo: None,
            no_photo: true,
            languages: None,
        };
        assert!(agents(db, nobody, "").await.is_err());
    }

    #[tokio::test]
    async fn the_languages_an_agent_answers_in_are_set_listed_checked_and_cleared() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        agents(db, AgentsCommand::Add { name: "wei".into(), admin: false }, "another long password\n")
            .await
            .unwrap();
        let speaks = |codes: &str| AgentsCommand::Profile {
            name: "wei".into(),
            display_name: None,
            photo: None,
            no_photo: false,
            languages: Some(codes.to_owned()),
        };
        let said = agents(db, speaks("zh, ru,zh"), "").await.unwrap();
        assert!(said.ends_with("wei answers in zh,ru\n"), "{said}");
        assert_eq!(db.agent_by_name("wei").await.unwrap().unwrap().languages, [Lang::Zh, Lang::Ru]);
        assert!(agents(db, AgentsCommand::List, "").await.unwrap().contains("wei\tagent\tactive\t-\tzh,ru"));
        let refused = agents(db, speaks("ru,de"), "").await.unwrap_err().to_string();
        assert!(refused.contains("unknown language `de`"), "{refused}");
        assert_eq!(
            db.agent_by_name("wei").await.unwrap().unwrap().languages,
            [Lang::Zh, Lang::Ru],
            "unchanged"
        );
        agents(db, speaks(""), "").await.unwrap();
        assert!(db.agent_by_name("wei").await.unwrap().unwrap().languages.is_empty());
    }

    #[tokio::test]
    async fn passwd_sets_a_password_from_stdin_under_the_same_rules() {
        let (_dir, store) = fresh_sqlite().await;
        let db = &*store;
        let add = AgentsCommand::Add { name: "anna".into(), admin: false };
        agents(db, add, "correct horse battery\n").await.unwrap();
        let passwd = |name: &str| AgentsCommand::Passwd { name: name.into() };
        assert_eq!(
            agents(db, passwd("anna"), "a fresh long password\r\n").await.unwrap(),
            "changed the password of anna; their console sessions ended\n"
        );
        assert!(agents::authenticate(db, "anna", "a fresh long password").await.unwrap().is_some());
        assert!(agents::authenticate(db, "anna", "correct horse battery").await.unwrap().is_none());
        let short = agents(db, passwd("anna"), "short\n").await.unwrap_err().to_string();
        assert!(short.contains("at least 10"), "{short}");
        let unknown = agents(db, passwd("nobody"), "a fresh long password\n").await.unwrap_err().to_string();
        assert!(unknown.contains("no agent named \"nobody\""), "{unknown}");
        agents(db, AgentsCommand::Disable { name: "anna".into() }, "").await.unwrap();
        let disabled = agents(db, passwd("anna"), "yet another password\n").await.unwrap_err().to_string();
        assert!(disabled.contains("disabled"), "{disabled}");
        let (_, hash) = db.agent_with_password_hash("anna").await.unwrap().unwrap();
        assert!(agents::verify_password("a fresh long password", &hash), "unchanged");
    }
}
