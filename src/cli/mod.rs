//! Command-line subcommands, one module each. `main.rs` parses them with clap and calls `run`.

pub mod locales;
