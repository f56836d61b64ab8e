//! The `switchboard` command line: one module per subcommand area. `main.rs` only parses and
//! dispatches, so everything here is callable (and testable) as a library.

pub mod locales;

use clap::{Parser, Subcommand};

/// Switchboard: a customer-support bot for Telegram, VK and the web chat.
#[derive(Debug, Parser)]
#[command(name = "switchboard", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Translator tools: check the locale files.
    Locales(locales::LocalesCommand),
}
