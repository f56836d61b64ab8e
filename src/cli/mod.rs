//! The `switchboard` command line: one module per subcommand area. `main.rs` only parses and
//! dispatches, so everything here is callable (and testable) as a library.

pub mod agents;
pub mod chat;
pub mod faq;
pub mod faq_messages;
pub mod locales;
pub mod privacy;
pub mod tickets;

use crate::config::{ConfigError, Overrides, ProcessEnv, Settings};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Switchboard: a customer-support bot for Telegram, VK and the web chat.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Which database a command opens. Only the commands that use one take it.
#[derive(Debug, Default, Args)]
pub struct DatabaseArgs {
    /// Database URL: sqlite://PATH or postgres://USER@HOST/DB (default: SWITCHBOARD_DATABASE_URL,
    /// else sqlite://switchboard.db).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the bot: web chat, agent console, and every configured channel (the default).
    Serve {
        /// Address to listen on (overrides SWITCHBOARD_BIND).
        #[arg(long, value_name = "ADDR")]
        bind: Option<SocketAddr>,
        /// Serve Prometheus metrics at /metrics on this address (overrides SWITCHBOARD_METRICS_BIND).
        #[arg(long, value_name = "ADDR")]
        metrics_bind: Option<SocketAddr>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Talk to the bot as a customer, in this terminal.
    Chat(chat::ChatArgs),
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Manage agent accounts for the console.
    Agents(agents::AgentsArgs),
    /// Look at tickets and undeliverable replies.
    Tickets(tickets::TicketsArgs),
    /// Try and evaluate the FAQ classifier.
    #[command(subcommand)]
    Faq(faq::FaqCommand),
    /// Translator tools: check the locale files.
    Locales(locales::LocalesCommand),
    /// Delete messages, delivered replies, dedupe records and photos older than an age.
    Retention(privacy::RetentionArgs),
    /// Customers' data: erase one person on request.
    Contacts(privacy::ContactsArgs),
}

impl Command {
    /// The `--database-url` given to a command that opens the database.
    fn database_url(&self) -> Option<String> {
        let database = match self {
            Command::Serve { database, .. } | Command::Migrate { database } => database,
            Command::Chat(args) => &args.database,
            Command::Agents(args) => &args.database,
            Command::Tickets(args) => &args.database,
            Command::Retention(args) => &args.database,
            Command::Contacts(args) => &args.database,
            Command::Faq(_) | Command::Locales(_) => return None,
        };
        database.database_url.clone()
    }
}

/// Runs the parsed command line. Configuration errors come back as [`ConfigError`] so `main`
/// can print them as one line and exit with 2.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve {
        bind: None,
        metrics_bind: None,
        database: DatabaseArgs::default(),
    });
    let (bind, metrics_bind) = match &command {
        Command::Serve { bind, metrics_bind, .. } => (*bind, *metrics_bind),
        _ => (None, None),
    };
    let overrides = Overrides { bind, metrics_bind, database_url: command.database_url() };
    match command {
        // Commands that need no settings and no runtime.
        Command::Locales(command) => locales::run(command),
        Command::Faq(command) => faq::run(command),
        command => {
            let settings = Settings::from_env(&ProcessEnv, &overrides)?;
            let runtime = tokio::runtime::Runtime::new()?;
            let result = runtime.block_on(run_async(settings, command));
            // Dropping a runtime waits for its blocking threads without limit; whatever a
            // cut-short shutdown left running must not hold the exit.
            runtime.shutdown_background();
            result
        }
    }
}

async fn run_async(settings: Settings, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { .. } => {
            crate::app::init_tracing(&settings, None);
            crate::app::serve(settings).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Chat(args) => {
            crate::app::init_tracing(&settings, Some("warn"));
            chat::run(settings, args).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { .. } => {
            crate::app::init_tracing(&settings, None);
            let store = crate::app::connect_store(&settings).await?;
            store.migrate().await?;
            store.close().await;
            println!("Migrations applied to {}", settings.database_url.redacted());
            Ok(ExitCode::SUCCESS)
        }
        Command::Agents(args) => {
            crate::app::init_tracing(&settings, Some("warn"));
            let store = crate::app::connect_store(&settings).await?;
            let media = crate::media::MediaStore::new(settings.media_dir.clone(), settings.media_max_bytes);
            let result = agents::run(
                &*store,
                &media,
                args,
                tokio::io::BufReader::new(tokio::io::stdin()),
                &mut std::io::stdout(),
            )
            .await;
            store.close().await;
            result?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tickets(args) => {
            crate::app::init_tracing(&settings, Some("warn"));
            tickets::run(settings, args.command).await
        }
        Command::Retention(args) => {
            crate::app::init_tracing(&settings, Some("warn"));
            privacy::retention(settings, args).await
        }
        Command::Contacts(args) => {
            crate::app::init_tracing(&settings, Some("warn"));
            privacy::contacts(settings, args.command).await
        }
        Command::Faq(_) | Command::Locales(_) => unreachable!("handled without a runtime"),
    }
}

/// Whether an error is a configuration problem (exit code 2) rather than a failure.
pub fn config_error(error: &anyhow::Error) -> Option<&ConfigError> {
    error.downcast_ref::<ConfigError>()
}

/// Whether a command failed only because whoever read its output stopped reading
/// (`switchboard tickets show 4 | head -2`): that is a normal end, not an error.
pub fn output_closed(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory as _;

    /// Every subcommand, with its path (`tickets list`).
    fn commands(command: &clap::Command, path: String, found: &mut Vec<(String, clap::Command)>) {
        for sub in command.get_subcommands() {
            let path = format!("{path} {}", sub.get_name()).trim().to_owned();
            found.push((path.clone(), sub.clone()));
            commands(sub, path, found);
        }
    }

    fn all_commands() -> Vec<(String, clap::Command)> {
        let mut root = Cli::command();
        root.build();
        let mut found = vec![(String::new(), root.clone())];
        commands(&root, String::new(), &mut found);
        found
    }

    #[test]
    fn every_argument_and_option_is_described() {
        for (path, command) in all_commands() {
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "`switchboard {path}`: {id} has no help text");
                for value in arg.get_possible_values() {
                    assert!(
                        value.get_help().is_some(),
                        "`switchboard {path} --{id}`: {} is not described",
                        value.get_name()
                    );
                }
            }
        }
    }

    #[test]
    fn only_commands_that_open_the_database_take_database_url() {
        let mut with: Vec<String> = all_commands()
            .into_iter()
            .filter(|(_, command)| command.get_arguments().any(|arg| arg.get_id() == "database_url"))
            .map(|(path, _)| path)
            .filter(|path| !path.contains(' '))
            .collect();
        with.sort();
        assert_eq!(with, ["agents", "chat", "contacts", "migrate", "retention", "serve", "tickets"]);
    }

    #[test]
    fn help_texts_show_no_unset_variables_and_chat_explains_what_to_type() {
        for (path, mut command) in all_commands() {
            let help = command.render_long_help().to_string();
            assert!(!help.contains("[env:"), "`switchboard {path} --help`:\n{help}");
        }
        let (_, mut chat) = all_commands().into_iter().find(|(path, _)| path == "chat").unwrap();
        let help = chat.render_long_help().to_string();
        for must in ["/photo PATH", "button", "/agent", "/menu", "/cancel", "/language", "/help"] {
            assert!(help.contains(must), "chat --help lacks {must}:\n{help}");
        }
    }

    #[test]
    fn tickets_list_takes_all_as_a_status() {
        let cli = Cli::try_parse_from(["switchboard", "tickets", "list", "--status", "all"]).unwrap();
        let Some(Command::Tickets(args)) = cli.command else { panic!("tickets") };
        assert!(matches!(
            args.command,
            tickets::TicketsCommand::List { status: tickets::StatusArg::All, .. }
        ));
        let cli = Cli::try_parse_from(["switchboard", "tickets", "list", "--database-url", "sqlite://x.db"])
            .unwrap();
        assert_eq!(cli.command.unwrap().database_url().as_deref(), Some("sqlite://x.db"));
        assert!(
            Cli::try_parse_from(["switchboard", "locales", "check", "--database-url", "sqlite://x.db"])
                .is_err()
        );
    }

    #[test]
    fn a_closed_pipe_is_a_normal_end() {
        let closed =
            anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe)).context("writing");
        assert!(output_closed(&closed));
        assert!(!output_closed(&anyhow::anyhow!("the database is gone")));
    }
}
