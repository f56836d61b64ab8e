//! Command-line subcommands, one module each. `main.rs` parses them with clap and runs them.

pub mod faq;
