//! The `switchboard` binary: parse the command line, load settings, run. Everything else lives
//! in the library (see ARCHITECTURE.md).

use clap::Parser;
use std::process::ExitCode;
use switchboard::cli::{Cli, Command};

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth knowing about.
    if let Err(error) = dotenvy::dotenv()
        && !error.not_found()
    {
        eprintln!("switchboard: .env: {error}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Locales(command)) => switchboard::cli::locales::run(command),
        None => Ok(ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("switchboard: {error:#}");
            ExitCode::FAILURE
        }
    }
}
