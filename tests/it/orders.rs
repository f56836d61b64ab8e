//! Orders (issue 20), end to end: the real app (`app::start_with`) with the fake Bot API and
//! the fake store of `support/fake_store.rs`, which implements the documented contract. What
//! the customer reads comes from the fake Telegram's records, what support gets from the
//! store. Outcomes are awaited with a deadline; the one figure about time (how long the
//! polite answer took while the store stalled) is printed, and what is asserted is that the
//! configured timeout is the one in force.

use crate::support::engine_fixtures::TestDb;
use crate::support::fake_store::{self, FakeStore, Mode, StoredOrder};
use crate::support::fake_telegram::{Call, FakeTelegram};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use switchboard::app::Running;
use switchboard::config::{Overrides, Settings};
use switchboard::store::{Page, Store};

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
const DEADLINE: Duration = Duration::from_secs(20);
const ORDER: &str = "12345678-0001";

const ANN: i64 = 218_485_655;
const BORIS: i64 = 250_918_540;
const LI: i64 = 330_012_007;

/// The app on long polling against the fake Bot API and the fake store.
struct Shop {
    telegram: FakeTelegram,
    store: FakeStore,
    db: TestDb,
    media_dir: tempfile::TempDir,
    running: Option<Running>,
    next_message_id: std::sync::atomic::AtomicI64,
}

impl Shop {
    async fn open() -> Shop {
        let store = FakeStore::start().await;
        store.add_order(
            ORDER,
            StoredOrder {
                email: "ann@example.com".into(),
                customer_id: "cust-ann".into(),
                order: fake_store::order_in_transit(ORDER),
            },
        );
        let mut shop = Shop {
            telegram: FakeTelegram::start(TOKEN).await,
            store,
            db: TestDb::sqlite(),
            media_dir: tempfile::tempdir().expect("a media folder"),
            running: None,
            next_message_id: std::sync::atomic::AtomicI64::new(9000),
        };
        shop.launch().await;
        shop
    }

    fn settings(&self) -> Settings {
        let api_url = self.telegram.api_url();
        let media_dir = self.media_dir.path().display().to_string();
        let env: HashMap<&str, &str> = HashMap::from([
            ("SWITCHBOARD_DATABASE_URL", self.db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
            ("SWITCHBOARD_TELEGRAM_TOKEN", TOKEN),
            ("SWITCHBOARD_TELEGRAM_API_URL", api_url.as_str()),
            ("SWITCHBOARD_ORDERS_URL", self.store.url.as_str()),
            ("SWITCHBOARD_ORDERS_SECRET", fake_store::SECRET),
        ]);
        Settings::from_env(&env, &Overrides::default()).expect("valid settings")
    }

    async fn launch(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the app");
        self.running = Some(crate::support::quick_app::start(self.settings(), listener).await);
    }

    async fn stop(&mut self) {
        self.running.take().expect("the app is running").stop().await;
    }

    async fn finish(mut self) {
        if self.running.is_some() {
            self.stop().await;
        }
        self.db.drop_database().await;
    }

    fn app_store(&self) -> &std::sync::Arc<dyn Store> {
        &self.running.as_ref().expect("the app is running").app.store
    }

    fn say(&self, chat: i64, text: &str) {
        let mut update = fixture("text");
        let message = &mut update["message"];
        message["message_id"] = json!(self.next_message_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        message["text"] = json!(text);
        message["from"]["id"] = json!(chat);
        message["from"]["language_code"] = json!("en");
        message["chat"]["id"] = json!(chat);
        self.telegram.push_update(update);
    }

    fn press(&self, chat: i64, data: &str) {
        let mut update = fixture("callback_query");
        let query = &mut update["callback_query"];
        query["id"] = json!(format!("cbq-{}", self.next_message_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
        query["data"] = json!(data);
        query["from"]["id"] = json!(chat);
        query["from"]["language_code"] = json!("en");
        query["message"]["chat"]["id"] = json!(chat);
        self.telegram.push_update(update);
    }

    fn texts_to(&self, chat: i64) -> Vec<String> {
        self.telegram.sent().iter().filter(|call| chat_of(call) == Some(chat)).map(text_of).collect()
    }

    /// Waits for `expected.len()` more messages to `chat` after the first `already`, each
    /// containing its phrase. Returns the new total.
    async fn expect(&self, chat: i64, already: usize, expected: &[&str]) -> usize {
        let total = already + expected.len();
        wait_until(&format!("{total} messages to {chat}"), || self.texts_to(chat).len() >= total).await;
        let texts = self.texts_to(chat);
        for (text, phrase) in texts[already..].iter().zip(expected) {
            assert!(text.contains(phrase), "expected {phrase:?} in {text:?}; everything sent: {texts:#?}");
        }
        total
    }
}

/// What an agent sees of ticket `id`: the JSON API's answer and the console's ticket page.
async fn agent_views(shop: &Shop, id: i64) -> (Value, String) {
    use switchboard::console::sessions;
    use switchboard::store::{NewAgent, Role, now_millis};
    let store = shop.app_store();
    let agent = NewAgent { name: "olga", password_hash: "not used here", role: Role::Agent, must_change_password: false };
    let agent_id = match store.insert_agent(agent, now_millis()).await.unwrap() {
        Some(id) => id,
        None => store.agent_by_name("olga").await.unwrap().expect("olga").id,
    };
    let token = sessions::create_api_token(&**store, "orders-test", agent_id, now_millis(), None).await.unwrap();
    let session = sessions::create_session(&**store, agent_id, now_millis(), 3_600_000).await.unwrap();
    let address = shop.running.as_ref().unwrap().address;
    let client = reqwest::Client::new();
    let api = client
        .get(format!("http://{address}/api/tickets/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let page = client
        .get(format!("http://{address}/console/tickets/{id}"))
        .header("cookie", format!("{}={session}", sessions::SESSION_COOKIE))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    (api, page.text().await.unwrap())
}

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/telegram/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("_source").expect("fixtures say where they come from");
    value
}

fn chat_of(call: &Call) -> Option<i64> {
    let chat = &call.params["chat_id"];
    chat.as_i64().or_else(|| chat.as_str().and_then(|text| text.parse().ok()))
}

fn text_of(call: &Call) -> String {
    call.params["text"].as_str().unwrap_or_default().to_owned()
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

const ASKS_FOR_EMAIL: &str = "Please send the email address the order was placed with";
const NOT_FOUND: &str = "I couldn't find order 12345678-0001";
const STOPPED: &str = "Several order numbers in a row didn't match";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_proves_the_order_is_theirs_gets_status_and_tracking_and_the_ticket_carries_the_order() {
    let shop = Shop::open().await;

    shop.say(ANN, "Where is my order 12345678-0001?");
    let mut seen = shop.expect(ANN, 0, &[ASKS_FOR_EMAIL]).await;
    shop.say(ANN, "it's ann@example.com");
    seen = shop
        .expect(
            ANN,
            seen,
            &[
                "Order 12345678-0001 is on its way (the store says: Handed to the courier).",
                "Carrier: CDEK. Tracking number: 1234567890. Expected delivery: 2026-12-10. \
                 Track it here: https://track.example/1234567890",
                "Did this help?",
            ],
        )
        .await;

    // What the store was asked: the contract's fields, the verifier only the second time.
    let requests = shop.store.requests();
    assert_eq!(requests.len(), 2, "{requests:#?}");
    assert_eq!(requests[0]["order_ref"], ORDER);
    assert_eq!(requests[0]["contact"], json!({"channel": "telegram", "id": ANN.to_string()}));
    assert_eq!(requests[0]["locale"], "en");
    assert!(requests[0]["verifier"].is_null());
    assert_eq!(requests[1]["verifier"], json!({"email": "ann@example.com"}));

    // Not helped: a person takes it, and the ticket carries the order without asking again.
    shop.press(ANN, "no");
    shop.expect(ANN, seen, &["I've passed your request to our team"]).await;
    let tickets = shop.app_store().list_tickets(None, Page::first(10)).await.unwrap();
    let ticket = tickets.iter().find(|ticket| ticket.external_id == ANN.to_string()).expect("a ticket");
    assert_eq!(ticket.order_id.as_deref(), Some(ORDER));
    let (api, page) = agent_views(&shop, ticket.id).await;
    assert_eq!(api["order"]["status"], "in_transit", "{api:#}");
    assert_eq!(api["order"]["items"][0], json!({"title": "Blue ceramic mug", "qty": 2}));
    assert!(page.contains("In transit (Handed to the courier)"), "{page}");
    assert!(page.contains("2 × Blue ceramic mug"), "{page}");
    assert!(page.contains("href=\"https://track.example/1234567890\""), "{page}");
    shop.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_with_a_wrong_verifier_is_refused_and_stopped_after_five_tries_even_across_a_restart() {
    let mut shop = Shop::open().await;
    let mut seen = 0;
    for attempt in 1..=5 {
        shop.say(BORIS, if attempt == 1 { "Where is my order 12345678-0001?" } else { ORDER });
        seen = shop.expect(BORIS, seen, &[ASKS_FOR_EMAIL]).await;
        shop.say(BORIS, "boris@example.com");
        let expected = if attempt < 5 { NOT_FOUND } else { STOPPED };
        seen = shop.expect(BORIS, seen, &[expected]).await;
        println!("attempt {attempt}: {}", shop.texts_to(BORIS).last().unwrap());
    }
    // The same two questions five times: the store answered each once, the cache the rest.
    let asked = shop.store.requests().len();
    assert_eq!(asked, 2, "{:#?}", shop.store.requests());
    assert!(
        shop.store.requests().iter().all(|request| request["order_ref"] == ORDER && request["customer"].is_null()),
        "nothing else was asked"
    );

    // The count is in the database: a restart does not reset it.
    shop.stop().await;
    shop.launch().await;
    shop.say(BORIS, ORDER);
    seen = shop.expect(BORIS, seen, &[STOPPED]).await;
    assert_eq!(shop.store.requests().len(), asked, "no lookup once the tries are used up");

    // A person is one press away, and the ticket says which order it was about.
    shop.press(BORIS, "human");
    shop.expect(BORIS, seen, &["I've passed your request to our team"]).await;
    shop.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_down_gets_a_polite_answer_and_a_person_within_the_timeout() {
    let shop = Shop::open().await;
    let timeout = shop.settings().orders.expect("orders are configured").timeout;
    assert_eq!(timeout, Duration::from_secs(3), "the documented default is in force");

    // Stalled: no answer at all within the timeout.
    shop.store.set_mode(Mode::Stalled(Duration::from_secs(15)));
    let asked = Instant::now();
    shop.say(LI, "Where is my order 12345678-0001?");
    let seen = shop.expect(LI, 0, &["Sorry, I can't reach our order system right now"]).await;
    let took = asked.elapsed();
    println!("polite answer while the store stalled: {} ms (timeout {} ms)", took.as_millis(), timeout.as_millis());
    let offer = shop.telegram.sent().into_iter().rfind(|call| chat_of(call) == Some(LI)).expect("the answer");
    let buttons = offer.params["reply_markup"].to_string();
    assert!(buttons.contains("\"human\""), "a person is offered: {buttons}");

    // Down (503): the same answer.
    shop.store.set_mode(Mode::Down);
    shop.say(LI, "Where is my order 12345678-0001?");
    shop.expect(LI, seen, &["Sorry, I can't reach our order system right now"]).await;
    shop.finish().await;
}
