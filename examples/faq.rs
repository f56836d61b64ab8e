//! Runs `switchboard faq ...` on its own, for measuring the classifier before (and apart
//! from) the main binary: `cargo run --release --example faq -- eval --lang en --csv FILE`.

use clap::Parser;
use std::process::ExitCode;
use switchboard::cli::faq::{FaqCommand, run};

/// The `faq` subcommands of `switchboard`.
#[derive(Parser)]
#[command(name = "switchboard faq")]
struct Cli {
    #[command(subcommand)]
    command: FaqCommand,
}

fn main() -> anyhow::Result<ExitCode> {
    run(Cli::parse().command)
}
