//! Orders (issue 20), end to end: the real app (`app::start_with`) with the fake Bot API and
//! the fake store of `support/fake_store.rs`, which implements the documented contract. What
//! the customer reads comes from the fake Telegram's records, what support gets from the
//! store. Outcomes are awaited with a deadline; the one figure about time (how long the
//! polite answer took while the store stalled) is printed, and what is asserted is that the
//! configured timeout is the one in force.

use crate::support::engine_fixtures::TestDb;
use crate::support::fake_store::{self, FakeStore, Mode, StoredOrder};
use crate::support::fake_telegram::{Call, FakeTelegram, fixture};
use crate::support::store_identity::{IDENTITY_SECRET, mint_link_token, signed};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use switchboard::app::Running;
use switchboard::config::{Overrides, Settings};
use switchboard::core::message::{Action, Reply};
use switchboard::customers::Purpose;
use switchboard::store::{Author, Page, Store};

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
        Shop::open_on(TestDb::sqlite()).await
    }

    async fn open_on(db: TestDb) -> Shop {
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
            db,
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
            ("SWITCHBOARD_IDENTITY_SECRET", IDENTITY_SECRET),
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
        message["message_id"] =
            json!(self.next_message_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
        message["text"] = json!(text);
        message["from"]["id"] = json!(chat);
        message["from"]["language_code"] = json!("en");
        message["chat"]["id"] = json!(chat);
        self.telegram.push_update(update);
    }

    fn press(&self, chat: i64, data: &str) {
        let mut update = fixture("callback_query");
        let query = &mut update["callback_query"];
        query["id"] =
            json!(format!("cbq-{}", self.next_message_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
        query["data"] = json!(data);
        query["from"]["id"] = json!(chat);
        query["from"]["language_code"] = json!("en");
        query["message"]["chat"]["id"] = json!(chat);
        self.telegram.push_update(update);
    }

    fn texts_to(&self, chat: i64) -> Vec<String> {
        self.telegram.sent().iter().filter(|call| call.chat() == Some(chat)).map(text_of).collect()
    }

    /// Waits for `expected.len()` more messages to `chat` after the first `already`, each
    /// containing its phrases in that order (a bot turn is one message). Returns the new total.
    async fn expect(&self, chat: i64, already: usize, expected: &[&[&str]]) -> usize {
        let total = already + expected.len();
        wait_until(&format!("{total} messages to {chat}"), || self.texts_to(chat).len() >= total).await;
        crate::support::turns::check_messages(&self.texts_to(chat)[already..], expected);
        total
    }
}

/// What an agent sees of ticket `id`: the JSON API's answer and the console's ticket page.
async fn agent_views(shop: &Shop, id: i64) -> (Value, String) {
    use switchboard::console::sessions;
    use switchboard::store::{Credentials, NewAgent, Role, now_millis};
    let store = shop.app_store();
    let credentials =
        Credentials { name: "olga", password_hash: "not used here", must_change_password: false };
    let agent = NewAgent { credentials, role: Role::Agent };
    let agent_id = match store.insert_agent(agent, now_millis()).await.unwrap() {
        Some(id) => id,
        None => store.agent_by_name("olga").await.unwrap().expect("olga").id,
    };
    let token =
        sessions::create_api_token(&**store, "orders-test", agent_id, now_millis(), None).await.unwrap();
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

/// A web chat visitor (the widget's cookie) on the running app.
struct Visitor {
    client: reqwest::Client,
    base: String,
    cookie: String,
    next: u32,
}

impl Visitor {
    async fn arrive(shop: &Shop) -> Visitor {
        let base = format!("http://{}", shop.running.as_ref().unwrap().address);
        let client = reqwest::Client::new();
        let started = client.post(format!("{base}/chat/start")).send().await.unwrap();
        assert_eq!(started.status(), 200);
        let cookie = crate::support::forms::cookie_of(&started, "sb_visitor").expect("a visitor cookie");
        Visitor { client, base, cookie, next: 1 }
    }

    /// Sends `text` as the widget does, with the page's signed identity when there is one.
    async fn say(&mut self, text: &str, identity: Option<Value>) {
        let mut body = json!({"id": format!("message-{:04}", self.next), "text": text});
        self.next += 1;
        if let Some(identity) = identity {
            body["identity"] = identity;
        }
        let said = self
            .client
            .post(format!("{}/chat/messages", self.base))
            .header("cookie", &self.cookie)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(said.status(), 200, "{}", said.text().await.unwrap_or_default());
    }
}

/// The bot's messages (as stored in the log) in the conversation of the store's customer on
/// `channel`, once there are at least `count`.
async fn bot_replies(shop: &Shop, customer: &str, channel: &str, count: usize) -> Vec<Reply> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let mut replies = Vec::new();
        let contacts = shop.app_store().contacts_of_customer(customer).await.unwrap();
        if let Some(contact) = contacts.iter().find(|contact| contact.channel == channel) {
            let row = shop.app_store().contact(channel, &contact.external_id).await.unwrap().unwrap();
            let conversation = shop.app_store().conversation_of_contact(row.id).await.unwrap().unwrap();
            for entry in shop.app_store().log_after(conversation.id, 0, 200).await.unwrap() {
                if entry.message.author == Author::Bot {
                    replies.push(entry.reply().expect("a bot row holds its reply"));
                }
            }
        }
        if replies.len() >= count {
            return replies;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {count} replies to {customer}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An admin presses "Unlink all their contacts" on ticket `id`'s page.
async fn unlink_as_admin(shop: &Shop, id: i64) {
    use switchboard::console::sessions;
    use switchboard::store::{Credentials, NewAgent, Role, now_millis};
    let store = shop.app_store();
    let credentials =
        Credentials { name: "vera", password_hash: "not used here", must_change_password: false };
    let admin = NewAgent { credentials, role: Role::Admin };
    let admin_id = store.insert_agent(admin, now_millis()).await.unwrap().expect("a new admin");
    let session = sessions::create_session(&**store, admin_id, now_millis(), 3_600_000).await.unwrap();
    let cookie = format!("{}={session}", sessions::SESSION_COOKIE);
    let address = shop.running.as_ref().unwrap().address;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let page = client
        .get(format!("http://{address}/console/tickets/{id}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("customer/unlink"), "an admin is offered it: {page}");
    let csrf = crate::support::forms::csrf_in(&page);
    let pressed = client
        .post(format!("http://{address}/console/tickets/{id}/customer/unlink"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(pressed.status(), 303, "{}", pressed.text().await.unwrap_or_default());
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
    let mut seen = shop.expect(ANN, 0, &[&[ASKS_FOR_EMAIL]]).await;
    shop.say(ANN, "it's ann@example.com");
    seen = shop
        .expect(
            ANN,
            seen,
            &[&[
                "Order 12345678-0001 is on its way (the store says: Handed to the courier).",
                "Carrier: CDEK. Tracking number: 1234567890. Expected delivery: 2026-12-10. \
                 Track it here: https://track.example/1234567890",
                "Did this help?",
            ]],
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
    shop.expect(ANN, seen, &[&["I've passed your request to our team"]]).await;
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
    five_wrong_tries(Shop::open().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn five_wrong_tries_on_postgres() {
    five_wrong_tries(Shop::open_on(TestDb::postgres().await).await).await;
}

async fn five_wrong_tries(mut shop: Shop) {
    let mut seen = 0;
    for attempt in 1..=5 {
        shop.say(BORIS, if attempt == 1 { "Where is my order 12345678-0001?" } else { ORDER });
        seen = shop.expect(BORIS, seen, &[&[ASKS_FOR_EMAIL]]).await;
        shop.say(BORIS, "boris@example.com");
        let expected = if attempt < 5 { NOT_FOUND } else { STOPPED };
        seen = shop.expect(BORIS, seen, &[&[expected]]).await;
        println!("attempt {attempt}: {}", shop.texts_to(BORIS).last().unwrap());
    }
    // The same two questions five times: the store answered each once, the cache the rest.
    let asked = shop.store.requests().len();
    assert_eq!(asked, 2, "{:#?}", shop.store.requests());
    assert!(
        shop.store
            .requests()
            .iter()
            .all(|request| request["order_ref"] == ORDER && request["customer"].is_null()),
        "nothing else was asked"
    );

    // The count is in the database: a restart does not reset it.
    shop.stop().await;
    shop.launch().await;
    shop.say(BORIS, ORDER);
    seen = shop.expect(BORIS, seen, &[&[STOPPED]]).await;
    assert_eq!(shop.store.requests().len(), asked, "no lookup once the tries are used up");

    // A person is one press away, and the ticket says which order it was about.
    shop.press(BORIS, "human");
    shop.expect(BORIS, seen, &[&["I've passed your request to our team"]]).await;
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
    let seen = shop.expect(LI, 0, &[&["Sorry, I can't reach our order system right now"]]).await;
    let took = asked.elapsed();
    println!(
        "polite answer while the store stalled: {} ms (timeout {} ms)",
        took.as_millis(),
        timeout.as_millis()
    );
    let offer = shop.telegram.sent().into_iter().rfind(|call| call.chat() == Some(LI)).expect("the answer");
    let buttons = offer.params["reply_markup"].to_string();
    assert!(buttons.contains("\"human\""), "a person is offered: {buttons}");

    // Down (503): the same answer.
    shop.store.set_mode(Mode::Down);
    shop.say(LI, "Where is my order 12345678-0001?");
    shop.expect(LI, seen, &[&["Sorry, I can't reach our order system right now"]]).await;
    shop.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_web_chat_customer_gets_status_and_tracking_without_typing_a_number() {
    let shop = Shop::open().await;
    let mut visitor = Visitor::arrive(&shop).await;
    visitor.say("Where is my order?", Some(signed(Purpose::Webchat, "cust-ann", "ann@example.com"))).await;
    // One message: the status, the tracking, and "did this help?" with its buttons.
    let replies = bot_replies(&shop, "cust-ann", "webchat", 1).await;
    let keys: Vec<&str> = replies[0].texts().map(|text| text.key.as_str()).collect();
    assert_eq!(keys, ["order-status", "order-tracking", "did-it-help"], "{replies:#?}");
    assert!(replies[0].all_buttons().any(|button| button.action == Action::NotHelped), "{replies:#?}");
    let tracking = serde_json::to_string(&replies[0].more[0].args).unwrap();
    assert!(tracking.contains("https://track.example/1234567890"), "{tracking}");
    let requests = shop.store.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    assert!(requests[0]["order_ref"].is_null(), "no number was typed");
    assert_eq!(requests[0]["customer"], json!({"id": "cust-ann", "email": "ann@example.com"}));

    // A forged identity links nobody: that visitor is a guest and is asked for a number.
    let mut forger = Visitor::arrive(&shop).await;
    let mut forged = signed(Purpose::Webchat, "cust-ann", "ann@example.com");
    forged["customer_id"] = json!("cust-boris");
    forger.say("Where is my order?", Some(forged)).await;
    wait_until("the forger's message to be handled", || shop.store.requests().len() == 1).await;
    assert!(shop.app_store().contacts_of_customer("cust-boris").await.unwrap().is_empty());
    shop.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_telegram_contact_links_through_the_deep_link_and_the_agent_sees_one_customer_across_channels() {
    deep_link(Shop::open().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn the_deep_link_and_one_customer_across_channels_on_postgres() {
    deep_link(Shop::open_on(TestDb::postgres().await).await).await;
}

async fn deep_link(shop: Shop) {
    let base = format!("http://{}", shop.running.as_ref().unwrap().address);
    let client = reqwest::Client::new();

    // The store asks for a token on its account page; a wrong signature gets nothing.
    let mut forged = signed(Purpose::LinkToken, "cust-ann", "ann@example.com");
    forged["customer_id"] = json!("cust-boris");
    let refused = client.post(format!("{base}/api/link-tokens")).json(&forged).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let webchat_identity = signed(Purpose::Webchat, "cust-ann", "ann@example.com");
    let refused =
        client.post(format!("{base}/api/link-tokens")).json(&webchat_identity).send().await.unwrap();
    assert_eq!(refused.status(), 401, "a web page's identity mints no link token");
    let token = mint_link_token(&client, &base, "cust-ann", "ann@example.com").await;

    // t.me/<bot>?start=<token> makes Telegram send `/start <token>`.
    shop.say(ANN, &format!("/start {token}"));
    let mut seen = shop.expect(ANN, 0, &[&["Your account is connected"]]).await;
    shop.say(ANN, "Where is my order?");
    seen = shop
        .expect(
            ANN,
            seen,
            &[&[
                "Order 12345678-0001 is on its way",
                "Track it here: https://track.example/1234567890",
                "Did this help?",
            ]],
        )
        .await;
    // The token works once.
    shop.say(BORIS, &format!("/start {token}"));
    shop.expect(BORIS, 0, &[&["This link has expired or has already been used"]]).await;

    // The same customer on the web chat: one customer, two contacts, on every ticket.
    let mut visitor = Visitor::arrive(&shop).await;
    visitor.say("hello", Some(webchat_identity)).await;
    wait_until("the web chat contact to be linked", || {
        futures::executor::block_on(shop.app_store().contacts_of_customer("cust-ann")).unwrap().len() == 2
    })
    .await;
    shop.press(ANN, "no");
    shop.expect(ANN, seen, &[&["I've passed your request to our team"]]).await;
    let tickets = shop.app_store().list_tickets(None, Page::first(10)).await.unwrap();
    let ticket = tickets.iter().find(|ticket| ticket.external_id == ANN.to_string()).expect("a ticket");
    let (api, page) = agent_views(&shop, ticket.id).await;
    assert_eq!(api["customer"]["store_id"], "cust-ann", "{api:#}");
    let channels: Vec<&str> = api["customer"]["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["telegram", "webchat"]);
    assert!(page.contains("cust-ann &#60;ann@example.com&#62;"), "escaped: {page}");
    assert!(page.contains("<li>telegram: ") && page.contains("<li>webchat: "), "{page}");

    // Unlinking works per customer, from the console (an admin's button): every contact at once.
    assert!(!page.contains("customer/unlink"), "only admins are offered it");
    unlink_as_admin(&shop, ticket.id).await;
    let (api, _) = agent_views(&shop, ticket.id).await;
    let engine = &shop.running.as_ref().unwrap().app.engine;
    assert!(api["customer"].is_null(), "{api:#}");
    assert_eq!(switchboard::privacy::unlink_customer(engine, "cust-ann").await.unwrap(), None);
    shop.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_a_customer_erases_every_linked_contact() {
    let shop = Shop::open().await;
    let mut visitor = Visitor::arrive(&shop).await;
    visitor.say("Where is my order?", Some(signed(Purpose::Webchat, "cust-ann", "ann@example.com"))).await;
    bot_replies(&shop, "cust-ann", "webchat", 1).await;
    let contact = shop.app_store().contacts_of_customer("cust-ann").await.unwrap().remove(0);
    let running = shop.running.as_ref().unwrap();
    let reports = switchboard::privacy::erase_customer(&running.app.engine, &running.app.media, "cust-ann")
        .await
        .unwrap()
        .expect("a known customer");
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].rows.order_lookups, 1, "the lookup (and the order found) went too");
    assert!(shop.app_store().contact("webchat", &contact.external_id).await.unwrap().is_none());
    assert!(shop.app_store().contacts_of_customer("cust-ann").await.unwrap().is_empty());
    shop.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookup_cut_short_by_a_restart_is_asked_again_and_answered_once() {
    let mut shop = Shop::open().await;
    shop.store.set_mode(Mode::Stalled(Duration::from_secs(30)));
    shop.say(LI, "Where is my order 12345678-0001?");
    wait_until("the store to be asked", || shop.store.requests().len() == 1).await;
    // The process goes away while the store is still thinking; the lookup stays stored.
    shop.stop().await;
    shop.store.set_mode(Mode::Up);
    shop.launch().await;
    // Once the lease (timeout + 5 s) has run out, the lookup is asked again and answered.
    let seen = shop.expect(LI, 0, &[&[ASKS_FOR_EMAIL]]).await;
    assert_eq!(shop.store.requests().len(), 2, "asked again after the restart");
    shop.say(LI, "li@example.com");
    let seen = shop.expect(LI, seen, &[&[NOT_FOUND]]).await;
    // A late answer to the first lookup (the first process's, had it lived) finds it done and
    // changes nothing: the next reply is the one to the next message.
    let engine = &shop.running.as_ref().unwrap().app.engine;
    engine.complete_lookup(1, switchboard::core::order::LookupOutcome::Unavailable).await.unwrap();
    shop.say(LI, ORDER);
    shop.expect(LI, seen, &[&[ASKS_FOR_EMAIL]]).await;
    let texts = shop.texts_to(LI);
    assert!(!texts.iter().any(|text| text.contains("can't reach our order system")), "{texts:#?}");
    assert_eq!(texts.iter().filter(|text| text.contains(ASKS_FOR_EMAIL)).count(), 2, "{texts:#?}");
    shop.finish().await;
}
