//! Command-line subcommands beside `serve`.

pub mod agents;
