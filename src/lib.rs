//! Switchboard: a customer-support bot. Modules are listed in reading order; see
//! ARCHITECTURE.md for the map and the rules between them.

pub mod channels;
pub mod cli;
pub mod config;
pub mod console;
pub mod core;
pub mod engine;
pub mod i18n;
pub mod media;
pub mod order_format;
pub mod outbox;
pub mod store;
