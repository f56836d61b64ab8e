//! The pure heart of Switchboard.
//!
//! Nothing in here does I/O, reads the clock, draws random numbers or knows which
//! messenger a customer uses. Everything outside passes in what a decision needs
//! (see [`dialog::Ctx`]) and carries out what comes back ([`dialog::Transition`]).
//! `tests/it/architecture.rs` enforces that this module imports only `std` and `serde`.

pub mod choices;
pub mod dialog;
pub mod entities;
pub mod faq;
pub mod flood;
pub mod handoff;
pub mod keys;
pub mod message;
pub mod order;
pub mod order_id;
pub mod turn;
pub mod understanding;
