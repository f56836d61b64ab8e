//! `switchboard agents add NAME [--admin]`, `agents passwd NAME`, `agents list`,
//! `agents disable NAME`.
//!
//! `add` and `passwd` read the password from the first line of standard input, so it never
//! appears in the shell history or the process list:
//! `printf '%s\n' "$PW" | switchboard agents add anna`.

use crate::console::agents::{self, AgentError, ChosenBy, Role};
use crate::store::{Store, now_millis};
use std::io::Write;
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

#[derive(Debug, clap::Args)]
pub struct AgentsArgs {
    #[command(subcommand)]
    pub command: AgentsCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum AgentsCommand {
    /// Create an agent; the password is read from standard input.
    Add {
        name: String,
        /// Admins also manage agents, canned replies and API tokens.
        #[arg(long)]
        admin: bool,
    },
    /// Set an agent's password, read from standard input; ends their console sessions.
    /// Refused for a disabled agent.
    Passwd { name: String },
    /// Show every agent with role and status.
    List,
    /// Stop an agent from signing in; ends their sessions and API tokens.
    Disable { name: String },
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
                writeln!(out, "{}\t{}\t{status}", agent.name, agent.role.code())?;
            }
        }
        AgentsCommand::Disable { name } => {
            agents::disable_agent(store, &name).await?;
            writeln!(out, "disabled {name}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::fresh_sqlite;

    async fn agents(db: &dyn Store, command: AgentsCommand, stdin: &str) -> anyhow::Result<String> {
        let mut out = Vec::new();
        run(db, AgentsArgs { command }, stdin.as_bytes(), &mut out).await?;
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
            "anna\tadmin\tactive\nbob\tagent\tactive\n"
        );
        agents(db, AgentsCommand::Disable { name: "bob".into() }, "").await.unwrap();
        assert!(agents(db, AgentsCommand::List, "").await.unwrap().contains("bob\tagent\tdisabled"));
        assert!(agents(db, AgentsCommand::Disable { name: "nobody".into() }, "").await.is_err());
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
