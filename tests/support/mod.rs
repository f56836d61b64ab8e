//! Test support shared by the integration tests: fake platform servers and fixtures.

pub mod fake_telegram;
pub mod fake_vk;
pub mod faults;
pub mod quick_app;
