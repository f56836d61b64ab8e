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
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::process::ExitCode;

/// Switchboard: a customer-support bot for Telegram, VK and the web chat.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
pub struct Cli {
    /// Database URL (overrides SWITCHBOARD_DATABASE_URL): sqlite://PATH or postgres://...
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
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
    },
    /// Talk to the bot as a customer, in this terminal.
    Chat(chat::ChatArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Manage agent accounts for the console.
    Agents(agents::AgentsArgs),
    /// Look at tickets.
    #[command(subcommand)]
    Tickets(tickets::TicketsCommand),
    /// Try and evaluate the FAQ classifier.
    #[command(subcommand)]
    Faq(faq::FaqCommand),
    /// Translator tools: check the locale files.
    Locales(locales::LocalesCommand),
    /// Delete messages, delivered replies, dedupe records and photos older than an age.
    Retention(privacy::RetentionArgs),
    /// Customers' data: erase one person on request.
    #[command(subcommand)]
    Contacts(privacy::ContactsCommand),
}

/// Runs the parsed command line. Configuration errors come back as [`ConfigError`] so `main`
/// can print them as one line and exit with 2.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Serve { bind: None, metrics_bind: None });
    let (bind, metrics_bind) = match &command {
        Command::Serve { bind, metrics_bind } => (*bind, *metrics_bind),
        _ => (None, None),
    };
    let overrides = Overrides { bind, metrics_bind, database_url: cli.database_url };
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
        Command::Migrate => {
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
            let result = agents::run(
                &*store,
                args,
                tokio::io::BufReader::new(tokio::io::stdin()),
                &mut std::io::stdout(),
            )
            .await;
            store.close().await;
            result?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Tickets(command) => {
            crate::app::init_tracing(&settings, Some("warn"));
            tickets::run(settings, command).await
        }
        Command::Retention(args) => {
            crate::app::init_tracing(&settings, Some("warn"));
            privacy::retention(settings, args).await
        }
        Command::Contacts(command) => {
            crate::app::init_tracing(&settings, Some("warn"));
            privacy::contacts(settings, command).await
        }
        Command::Faq(_) | Command::Locales(_) => unreachable!("handled without a runtime"),
    }
}

/// Whether an error is a configuration problem (exit code 2) rather than a failure.
pub fn config_error(error: &anyhow::Error) -> Option<&ConfigError> {
    error.downcast_ref::<ConfigError>()
}
