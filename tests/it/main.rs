//! The integration tests, in one binary: one link of the whole dependency tree instead of one
//! per file, and one `support` module that every test shares (so an unused helper is a
//! warning, not a hidden leftover). Each module is an area; its documentation says what it
//! covers.
//!
//! The crash and multi-instance runs live here too. They need no isolation of their own: the
//! processes they kill are real `switchboard` binaries they start (`support/instance.rs`), each
//! on its own database, ports and folder, and nothing in this process is global to them.
//! `tests/metrics.rs` is the one other binary, because the Prometheus recorder it installs is
//! global to a process and no other test may record beside it.
//!
//! Tests that need a service are ignored, with the reason, when it is missing: PostgreSQL
//! (`SWITCHBOARD_TEST_POSTGRES`) and Chromium with chromedriver (`SWITCHBOARD_TEST_BROWSER`).
//! `build.rs` turns those variables into the `switchboard_test_postgres` and
//! `switchboard_test_browser` cfgs.

mod support;

mod abuse;
mod architecture;
mod bad_input;
mod browser;
mod cli;
mod crash;
mod email_e2e;
mod engine;
mod faults;
mod max;
mod max_e2e;
mod multi_instance;
mod orders;
mod ops;
mod ozon_e2e;
mod store_story;
mod telegram;
mod telegram_e2e;
mod translation;
mod vk;
mod vk_e2e;
mod web;
