//! Switchboard: a customer-support bot. Modules are listed in reading order; see
//! ARCHITECTURE.md for the map and the rules between them.

pub mod core;
pub mod secret;
pub mod business_hours;
pub mod config;
pub mod order_format;
pub mod assets;
pub mod i18n;
pub mod faq_phrases;
pub mod media;
pub mod store;
pub mod translate;
pub mod web;
pub mod message_split;
pub mod channels;
pub mod channel_state;
pub mod telemetry;
pub mod own_thread;
pub mod engine;
pub mod outbox;
pub mod bench;
pub mod console;
pub mod privacy;
pub mod http;
pub mod app;
pub mod cli;
