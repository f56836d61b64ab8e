//! Helpers for the engine and store tests: fresh databases (a SQLite file, or a uniquely named
//! PostgreSQL database dropped afterwards), a recording channel, and small stand-ins for the
//! order-ID rule and the FAQ model.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use switchboard::channels::{Channel, Delivery, DeliveryError, InboundEvent, InboundKind};
use switchboard::core::dialog::Input;
use switchboard::core::faq::{Intent, IntentClassifier, Match};
use switchboard::core::message::{Action, Lang};
use switchboard::core::order_id::OrderIdFormat;
use switchboard::engine::{Engine, EngineSettings};
use switchboard::store::{self, ConnectOptions, Store};

/// The channel name the fixtures use.
pub const CHANNEL: &str = "test";

/// A database for one test. SQLite lives in a temporary folder; PostgreSQL gets a database of
/// its own, dropped by [`TestDb::drop_database`].
pub struct TestDb {
    pub url: String,
    admin_url: Option<String>,
    name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("switchboard.db").display());
        TestDb { url, admin_url: None, name: None, _dir: Some(dir) }
    }

    /// A fresh database on the PostgreSQL server that `SWITCHBOARD_TEST_POSTGRES` names.
    ///
    /// Every test that calls this carries
    /// `#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: ...")]`, so it
    /// shows up as ignored, with that reason, when the variable was not set for the build
    /// (`build.rs`); a test that runs anyway (`--ignored`) without the variable fails here
    /// rather than passing without having tested anything.
    pub async fn postgres() -> TestDb {
        let admin_url = std::env::var("SWITCHBOARD_TEST_POSTGRES")
            .expect("SWITCHBOARD_TEST_POSTGRES must name a PostgreSQL server for this test");
        let name = format!("switchboard_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("SWITCHBOARD_TEST_POSTGRES must name a reachable server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create the test database");
        let url = with_database(&admin_url, &name);
        TestDb { url, admin_url: Some(admin_url), name: Some(name), _dir: None }
    }

    pub async fn connect(&self) -> Arc<dyn Store> {
        store::connect(&self.url, &ConnectOptions::default()).await.expect("connect to the test database")
    }

    /// The first column of the first row of a statement of the test's own, run outside the
    /// store (to look at rows the program does not read back).
    pub async fn scalar(&self, sql: &'static str) -> i64 {
        if self.url.starts_with("sqlite:") {
            let pool = sqlx::SqlitePool::connect(&self.url).await.expect("open the SQLite file");
            let value = sqlx::query_scalar(sql).fetch_one(&pool).await.expect("the test's query");
            pool.close().await;
            value
        } else {
            let pool = sqlx::PgPool::connect(&self.url).await.expect("connect to PostgreSQL");
            let value = sqlx::query_scalar(sql).fetch_one(&pool).await.expect("the test's query");
            pool.close().await;
            value
        }
    }

    /// Drops the PostgreSQL database (a no-op for SQLite, whose folder goes with `self`).
    pub async fn drop_database(self) {
        if let (Some(admin_url), Some(name)) = (&self.admin_url, &self.name) {
            let mut admin =
                <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await.expect("reconnect");
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")))
                .execute(&mut admin)
                .await
                .expect("drop the test database");
        }
    }
}

/// The same server URL with another database name (keeps any `?options`).
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// Order IDs look like `AB-1234`: two letters, a dash, four or more digits.
pub struct TwoLettersDashDigits;

impl OrderIdFormat for TwoLettersDashDigits {
    fn accepts(&self, candidate: &str) -> bool {
        let Some((letters, digits)) = candidate.split_once('-') else { return false };
        letters.len() == 2
            && letters.chars().all(|c| c.is_ascii_uppercase())
            && digits.len() >= 4
            && digits.chars().all(|c| c.is_ascii_digit())
    }

    fn example(&self) -> &str {
        "AB-1234"
    }
}

/// A lookup table standing in for the trained model: exact (lower-cased) phrases only.
pub struct PhraseTable(HashMap<String, Intent>);

impl PhraseTable {
    pub fn small() -> PhraseTable {
        let phrases = [
            ("how do i get an invoice", Intent::GetInvoice),
            ("i want to talk to a human", Intent::ContactHumanAgent),
            ("where is my parcel", Intent::TrackOrder),
        ];
        PhraseTable(phrases.into_iter().map(|(text, intent)| (text.to_owned(), intent)).collect())
    }
}

impl IntentClassifier for PhraseTable {
    fn classify(&self, _lang: Lang, text: &str) -> Option<Match> {
        self.0.get(&text.trim().to_lowercase()).map(|intent| Match { intent: *intent, confidence: 1.0 })
    }
}

pub fn settings() -> EngineSettings {
    EngineSettings::new(Arc::new(TwoLettersDashDigits), Arc::new(PhraseTable::small()), Lang::En)
}

pub fn start_engine(store: &Arc<dyn Store>) -> Engine {
    Engine::start(Arc::clone(store), settings())
}

pub fn event(external_id: &str, event_id: &str, kind: InboundKind) -> InboundEvent {
    InboundEvent {
        channel: CHANNEL,
        event_id: event_id.to_owned(),
        external_id: external_id.to_owned(),
        language_hint: Some("en-GB".to_owned()),
        display_name: Some(format!("Customer {external_id}")),
        contact_data: None,
        kind,
    }
}

pub fn text(external_id: &str, event_id: &str, text: &str) -> InboundEvent {
    event(external_id, event_id, InboundKind::Input(Input::Text { text: text.to_owned() }))
}

pub fn button(external_id: &str, event_id: &str, action: Action) -> InboundEvent {
    event(external_id, event_id, InboundKind::Input(Input::Button { action }))
}

/// A channel that records what it is asked to deliver, and fails on request.
pub struct RecordingChannel {
    delivered: Mutex<Vec<Delivery>>,
    failures: Mutex<HashMap<String, VecDeque<DeliveryError>>>,
    /// While closed, deliveries wait here (see [`RecordingChannel::close_gate`]).
    gate: tokio::sync::Semaphore,
}

impl RecordingChannel {
    pub fn new() -> Arc<RecordingChannel> {
        Arc::new(RecordingChannel {
            delivered: Mutex::new(Vec::new()),
            failures: Mutex::new(HashMap::new()),
            gate: tokio::sync::Semaphore::new(tokio::sync::Semaphore::MAX_PERMITS),
        })
    }

    /// Makes deliveries wait until [`RecordingChannel::open_gate`], so a test can look at rows
    /// while they are being delivered.
    pub fn close_gate(&self) {
        self.gate.forget_permits(tokio::sync::Semaphore::MAX_PERMITS);
    }

    pub fn open_gate(&self) {
        self.gate.add_permits(tokio::sync::Semaphore::MAX_PERMITS - self.gate.available_permits());
    }

    /// The next delivery to `external_id` fails with `error` (queued in order).
    pub fn fail_next(&self, external_id: &str, error: DeliveryError) {
        self.failures.lock().unwrap().entry(external_id.to_owned()).or_default().push_back(error);
    }

    pub fn delivered(&self) -> Vec<Delivery> {
        self.delivered.lock().unwrap().clone()
    }

    /// The messages delivered to one contact, in order: each a bot message's keys (its texts,
    /// in order) or an agent's `agent:TEXT`.
    pub fn keys_for(&self, external_id: &str) -> Vec<Vec<String>> {
        self.delivered()
            .iter()
            .filter(|delivery| delivery.external_id == external_id)
            .map(|delivery| match &delivery.message {
                switchboard::core::message::Outbound::Bot(reply) => {
                    reply.texts().map(|text| text.key.clone()).collect()
                }
                switchboard::core::message::Outbound::Agent { text, .. } => vec![format!("agent:{text}")],
            })
            .collect()
    }

    pub fn channels(self: &Arc<Self>) -> HashMap<&'static str, Arc<dyn Channel>> {
        let channel: Arc<dyn Channel> = Arc::clone(self) as Arc<dyn Channel>;
        HashMap::from([(CHANNEL, channel)])
    }
}

#[async_trait::async_trait]
impl Channel for RecordingChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        drop(self.gate.acquire().await.expect("the gate is never closed for good"));
        let failure =
            self.failures.lock().unwrap().get_mut(&delivery.external_id).and_then(VecDeque::pop_front);
        match failure {
            Some(error) => Err(error),
            None => {
                self.delivered.lock().unwrap().push(delivery.clone());
                Ok(())
            }
        }
    }
}
