//! The `switchboard` binary: parse the command line and run it. Everything else lives in the
//! library (see ARCHITECTURE.md).

use clap::Parser;
use std::process::ExitCode;
use switchboard::cli::{self, Cli};

/// jemalloc, with one arena and memory handed back within a second (`.cargo/config.toml`):
/// glibc's malloc kept more memory for the same load (BENCHMARKS.md, round 5).
#[cfg(not(windows))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    // A missing .env is normal; a broken one is worth knowing about.
    if let Err(error) = switchboard::config::load_dotenv() {
        eprintln!("switchboard: .env: {error}");
        return ExitCode::from(2);
    }
    match cli::run(Cli::parse()) {
        Ok(code) => code,
        Err(error) => {
            if cli::output_closed(&error) {
                return ExitCode::SUCCESS;
            }
            if let Some(config_error) = cli::config_error(&error) {
                eprintln!("switchboard: configuration: {config_error}");
                return ExitCode::from(2);
            }
            eprintln!("switchboard: {error:#}");
            ExitCode::FAILURE
        }
    }
}
