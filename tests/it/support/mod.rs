//! Test support shared by the integration tests: fake platform servers with fault injection,
//! fresh databases and engine fixtures, the app started in-process or as a real process, the
//! scripted customer crowd, a headless browser, and real mail servers (Dovecot, aiosmtpd).

pub mod browser;
pub mod conversation;
pub mod customer_crowd;
pub mod engine_fixtures;
pub mod fake_deepl;
pub mod fake_libretranslate;
pub mod fake_max;
pub mod fake_ozon;
pub mod fake_store;
pub mod fake_telegram;
pub mod fake_vk;
pub mod faults;
pub mod forms;
pub mod images;
pub mod instance;
pub mod key_buttons;
pub mod local_server;
pub mod mail_servers;
pub mod quick_app;
pub mod store_identity;
pub mod turns;
pub mod web_app;
