//! End to end: the real app (`app::start_with`: engine, store, outbox, texts, FAQ model and the
//! Ozon channel) against the fake Ozon Seller API, on a fresh SQLite file per test (one also on
//! PostgreSQL when `SWITCHBOARD_TEST_POSTGRES` is set).
//!
//! The buyer's side is played by messages added to the fake's chats, posted to the app's push
//! route as Ozon posts them (shaped as tests/fixtures/ozon/push_new_message.json) or left for
//! the history fallback to find; what the buyer sees is what the fake recorded as the seller's
//! messages. Every wait polls for an outcome with a deadline; nothing asserts how long
//! anything took.

use crate::support::conversation;
use crate::support::engine_fixtures::TestDb;
use crate::support::fake_ozon::{self, Failure, FakeOzon};
use crate::support::quick_app::{self, Restartable};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use switchboard::channels::ozon::window::AFTER_BUYER_MILLIS;
use switchboard::config::{Overrides, Settings};
use switchboard::core::handoff::Actor;
use switchboard::store::{OutboxStatus, now_millis};

const SECRET: &str = "ozon_push_secret_4d1c";
const CHAT: &str = "b646d975-0c9c-4872-9f41-8b1e57181063";
const OTHER_CHAT: &str = "7f0e1c2a-5b7d-4e3a-9c1f-2a4b6c8d0e11";
const DEADLINE: Duration = Duration::from_secs(20);
/// The Russian line under every list of choices (locales/ru/dialog.ftl `choices-hint`).
const HINT_RU: &str = "Ответьте номером выбранного варианта.";

struct Ozon {
    fake: FakeOzon,
    app: Restartable,
    http: reqwest::Client,
    /// `SWITCHBOARD_OZON_PUSH_ALLOW`, if the test sets it.
    allow: Option<&'static str>,
}

impl Ozon {
    async fn start() -> Ozon {
        Ozon::start_on(TestDb::sqlite()).await
    }

    async fn new(db: TestDb) -> Ozon {
        Ozon {
            fake: FakeOzon::start().await,
            app: Restartable::new(db),
            http: reqwest::Client::new(),
            allow: None,
        }
    }

    async fn start_on(db: TestDb) -> Ozon {
        let mut ozon = Ozon::new(db).await;
        ozon.launch().await;
        ozon
    }

    /// Starts the app configured the way an operator would: through the environment variables
    /// the README documents.
    async fn launch(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let media_dir = tempfile::tempdir().unwrap().keep().display().to_string();
        let mut env: HashMap<&str, &str> = [
            ("SWITCHBOARD_DATABASE_URL", self.app.db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
            ("SWITCHBOARD_OZON_CLIENT_ID", fake_ozon::CLIENT_ID),
            ("SWITCHBOARD_OZON_API_KEY", fake_ozon::API_KEY),
            ("SWITCHBOARD_OZON_API_URL", self.fake.base_url.as_str()),
            ("SWITCHBOARD_OZON_PUSH_SECRET", SECRET),
            ("SWITCHBOARD_OZON_HISTORY_POLL_SECS", "5"),
            ("SWITCHBOARD_OZON_RATE_LIMIT", "off"),
        ]
        .into_iter()
        .collect();
        if let Some(allow) = self.allow {
            env.insert("SWITCHBOARD_OZON_PUSH_ALLOW", allow);
        }
        let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
        let lists_before = self.fake.calls_to("/v3/chat/list").len();
        self.app.start(settings, listener, quick_app::outbox()).await;
        // The history fallback's first round runs at start: after it, the app is settled.
        eventually("the first history round", || self.fake.calls_to("/v3/chat/list").len() > lists_before)
            .await;
    }

    async fn post(&self, secret: &str, body: &Value) -> (u16, Value) {
        let url = format!("http://{}/webhooks/ozon/{secret}", self.app.running().address);
        let response = self.http.post(url).json(body).send().await.expect("the app answers");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// The buyer writes `text` and Ozon pushes it; the push must be taken.
    async fn buyer_pushes(&self, chat: &str, text: &str) -> u64 {
        let id = self.fake.buyer_writes(chat, text);
        let (status, body) = self.post(SECRET, &self.fake.push_of(chat, id)).await;
        assert_eq!((status, body), (200, json!({"result": true})), "push of {text:?}");
        id
    }

    /// Waits until the seller has written `count` messages in `chat`, and checks no more came.
    async fn wait_seller(&self, chat: &str, count: usize) -> Vec<String> {
        eventually(&format!("{count} seller messages in {chat}"), || {
            self.fake.seller_texts(chat).len() >= count
        })
        .await;
        let texts = self.fake.seller_texts(chat);
        assert_eq!(texts.len(), count, "more than expected: {texts:#?}");
        texts
    }

    async fn customer_log(&self, chat: &str) -> Vec<String> {
        conversation::customer_log(self.app.store(), "ozon", chat).await
    }
}

/// Polls `check` every 20 ms until it holds; panics naming `what` after [`DEADLINE`].
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while !check() {
        assert!(tokio::time::Instant::now() < give_up, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_pushed_message_is_answered_in_the_chat_with_numbered_choices_and_a_number_picks_one() {
    let ozon = Ozon::start().await;
    // Ozon's handshake, as the fixture's TYPE_PING.
    let (status, answer) =
        ozon.post(SECRET, &json!({"message_type": "TYPE_PING", "time": "2019-08-24T14:15:22Z"})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["name"], "switchboard");
    assert!(answer["version"].is_string() && answer["time"].is_string(), "{answer}");
    // A stranger without the secret path gets nothing in.
    let id = ozon.fake.buyer_writes(CHAT, "Здравствуйте");
    let (status, _) = ozon.post("wrong_secret_wrong_secret", &ozon.fake.push_of(CHAT, id)).await;
    assert_eq!(status, 401);
    // Pushes of other kinds are acknowledged and forgotten (the fixture's others).
    let fixture: Value =
        serde_json::from_str(include_str!("../fixtures/ozon/push_other_types.json")).expect("fixture reads");
    for other in fixture["others"].as_array().unwrap() {
        assert_eq!(ozon.post(SECRET, other).await, (200, json!({"result": true})), "{other}");
    }

    let (status, _) = ozon.post(SECRET, &ozon.fake.push_of(CHAT, id)).await;
    assert_eq!(status, 200);
    // One message: the greeting, then the topics as numbered lines.
    let menu = ozon.wait_seller(CHAT, 1).await.remove(0);
    assert!(menu.starts_with("Здравствуйте!"), "the greeting comes first: {menu}");
    assert!(menu.contains("\n\nЧем могу помочь?"), "then the question: {menu}");
    assert!(menu.contains("\n1. ") && menu.ends_with(HINT_RU), "a Russian menu with numbers: {menu}");
    eventually("the chat marked read up to the buyer's message", || ozon.fake.read_up_to(CHAT) == id).await;

    // Ozon pushes the same message again: handled once.
    assert_eq!(ozon.post(SECRET, &ozon.fake.push_of(CHAT, id)).await.0, 200);

    // "4" picks the fourth topic (delivery), which asks for the order number.
    ozon.buyer_pushes(CHAT, "4").await;
    let asked = ozon.wait_seller(CHAT, 2).await.remove(1);
    assert!(asked.contains("номер заказа"), "{asked}");
    assert_eq!(ozon.customer_log(CHAT).await, ["Здравствуйте", "4"]);
    ozon.app.finish().await;
}

#[tokio::test]
async fn pushes_from_outside_the_allowed_addresses_are_refused() {
    let mut ozon = Ozon::new(TestDb::sqlite()).await;
    ozon.allow = Some("10.20.30.0/24");
    ozon.launch().await;
    let id = ozon.fake.buyer_writes(CHAT, "/help");
    let (status, answer) = ozon.post(SECRET, &ozon.fake.push_of(CHAT, id)).await;
    assert_eq!(status, 403, "{answer}");
    assert!(answer["error"]["message"].is_string(), "Ozon's error shape: {answer}");
    ozon.app.stop().await;
    ozon.allow = Some("10.20.30.0/24, 127.0.0.1");
    ozon.launch().await;
    // The history may have found it meanwhile; either way it is answered once.
    assert_eq!(ozon.post(SECRET, &ozon.fake.push_of(CHAT, id)).await.0, 200);
    ozon.wait_seller(CHAT, 1).await;
    ozon.app.finish().await;
}

#[tokio::test]
async fn messages_missed_while_down_come_from_the_history_exactly_once() {
    messages_missed_while_down(TestDb::sqlite()).await;
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn messages_missed_while_down_come_from_the_history_exactly_once_on_postgres() {
    messages_missed_while_down(TestDb::postgres().await).await;
}

async fn messages_missed_while_down(db: TestDb) {
    // A chat from before Switchboard was connected: history, not to be answered.
    let mut ozon = Ozon::new(db).await;
    ozon.fake.buyer_writes_at(OTHER_CHAT, &["Старый вопрос"], Some(now_millis() - 3_600_000));
    ozon.launch().await;
    ozon.buyer_pushes(CHAT, "/help").await;
    ozon.wait_seller(CHAT, 1).await;

    ozon.app.stop().await;
    // Written while Switchboard is down; Ozon's pushes of them are lost.
    let missed = [ozon.fake.buyer_writes(CHAT, "/menu"), ozon.fake.buyer_writes(CHAT, "/agent")];
    ozon.launch().await;
    ozon.wait_seller(CHAT, 3).await;
    assert_eq!(ozon.customer_log(CHAT).await, ["/help", "/menu", "/agent"]);

    // Ozon retries a push late: the engine knows the message by its id.
    for id in missed {
        assert_eq!(ozon.post(SECRET, &ozon.fake.push_of(CHAT, id)).await.0, 200);
    }
    // Another round of the history passes over the same messages without taking them again.
    let rounds = ozon.fake.calls_to("/v3/chat/list").len();
    eventually("another history round", || ozon.fake.calls_to("/v3/chat/list").len() > rounds + 1).await;
    assert_eq!(ozon.customer_log(CHAT).await, ["/help", "/menu", "/agent"], "each message once");
    ozon.wait_seller(CHAT, 3).await;
    assert!(
        ozon.fake.seller_texts(OTHER_CHAT).is_empty(),
        "a chat older than the connection is not answered"
    );
    ozon.app.finish().await;
}

#[tokio::test]
async fn an_agents_long_reply_is_split_a_429_waits_and_a_reply_after_the_window_is_dead_lettered() {
    let ozon = Ozon::start().await;
    ozon.buyer_pushes(CHAT, "/agent").await;
    ozon.wait_seller(CHAT, 1).await;
    let tickets = conversation::queued_tickets(ozon.app.store()).await;
    let ticket = tickets.iter().find(|ticket| ticket.external_id == CHAT).expect("a queued ticket").id;
    let engine = &ozon.app.running().app.engine;
    engine.claim(ticket, "olga").await.unwrap();
    ozon.wait_seller(CHAT, 2).await;

    ozon.fake.fail_next("/v1/chat/send/message", Failure::TooManyRequests);
    let long: String = "Мы проверили ваш заказ. ".repeat(100);
    engine.agent_reply(ticket, &Actor::new("olga", false), &long, Vec::new()).await.unwrap();
    let texts = ozon.wait_seller(CHAT, 5).await;
    let parts = &texts[2..];
    assert!(
        parts.iter().all(|part| part.chars().count() <= 1000),
        "{:?}",
        parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>()
    );
    assert_eq!(
        parts.join(" ").split_whitespace().collect::<Vec<_>>(),
        long.split_whitespace().collect::<Vec<_>>()
    );

    // An agent's photo goes out as a file.
    let photo = crate::support::images::png(40, 30, 90);
    let stored = ozon.app.running().app.media.store(&photo).await.unwrap();
    engine
        .agent_reply(ticket, &Actor::new("olga", false), "Вот так выглядит упаковка", vec![stored])
        .await
        .unwrap();
    ozon.wait_seller(CHAT, 6).await;
    let files = ozon.fake.files();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!((files[0].chat_id.as_str(), files[0].name.as_str()), (CHAT, "photo-1.png"));
    assert!(files[0].bytes.starts_with(b"\x89PNG"), "a PNG was sent");

    // A buyer whose last message is three days old: Ozon refuses the answer.
    let old =
        ozon.fake.buyer_writes_at(OTHER_CHAT, &["/agent"], Some(now_millis() - 3 * AFTER_BUYER_MILLIS / 2));
    assert_eq!(ozon.post(SECRET, &ozon.fake.push_of(OTHER_CHAT, old)).await.0, 200);
    let give_up = tokio::time::Instant::now() + DEADLINE;
    let dead = loop {
        let rows = conversation::outbox(ozon.app.store(), "ozon", OTHER_CHAT).await;
        if let Some(row) = rows.into_iter().find(|row| row.status == OutboxStatus::Dead) {
            break row;
        }
        assert!(tokio::time::Instant::now() < give_up, "gave up waiting for a dead letter");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let reason = dead.last_error.unwrap_or_default();
    assert!(reason.contains("outside Ozon's reply window") && reason.contains("Chat is closed"), "{reason}");
    assert!(ozon.fake.seller_texts(OTHER_CHAT).is_empty());
    assert_eq!(ozon.fake.refused(), [(OTHER_CHAT.to_owned(), "window".to_owned())]);

    // The agent sees on the ticket that the customer never got it, and why.
    let tickets = conversation::queued_tickets(ozon.app.store()).await;
    let late = tickets.iter().find(|ticket| ticket.external_id == OTHER_CHAT).expect("a queued ticket").id;
    let page = ozon.console_page(&format!("/console/tickets/{late}")).await;
    assert!(page.contains("Not delivered") && page.contains("reply window"), "{page}");
    ozon.app.finish().await;
}

impl Ozon {
    /// A console page as a signed-in admin sees it.
    async fn console_page(&self, path: &str) -> String {
        use crate::support::forms::{cookie_of, csrf_in};
        use reqwest::header::COOKIE;
        const PASSWORD: &str = "correct horse battery staple";
        let store = self.app.store();
        switchboard::console::agents::create_agent(
            &**store,
            "ada",
            PASSWORD,
            switchboard::store::Role::Admin,
            0,
        )
        .await
        .unwrap();
        let base = format!("http://{}", self.app.running().address);
        let page = self.http.get(format!("{base}/console/login")).send().await.unwrap();
        let login_cookie = cookie_of(&page, "sb_login").expect("a login cookie");
        let csrf = csrf_in(&page.text().await.unwrap());
        let no_redirects =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let signed_in = no_redirects
            .post(format!("{base}/console/login"))
            .header(COOKIE, login_cookie)
            .form(&[("csrf", csrf.as_str()), ("name", "ada"), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        let session = cookie_of(&signed_in, "sb_session").expect("a session cookie");
        let page = no_redirects.get(format!("{base}{path}")).header(COOKIE, session).send().await.unwrap();
        assert_eq!(page.status(), 200);
        page.text().await.unwrap()
    }
}

#[tokio::test]
async fn a_buyer_asking_about_a_posting_gets_its_status_from_ozon() {
    let ozon = Ozon::start().await;
    let postings: Value =
        serde_json::from_str(include_str!("../fixtures/ozon/postings.json")).expect("fixture reads");
    ozon.fake.add_posting("fbs", postings["fbs_delivering"].clone());
    ozon.fake.add_posting("fbo", postings["fbo_at_pickup_point"].clone());

    ozon.buyer_pushes(CHAT, "Где мой заказ 57195475-0050-3?").await;
    // One message: the status, the parcel, and "did this help?" with its choices numbered.
    let answer = ozon.wait_seller(CHAT, 1).await.remove(0);
    let status = answer.find("57195475-0050-3 в пути").unwrap_or_else(|| panic!("the status: {answer}"));
    let parcel = answer.find("OZN-57195475").unwrap_or_else(|| panic!("the parcel: {answer}"));
    assert!(status < parcel && answer.contains("Ozon Логистика"), "{answer}");
    assert!(answer.ends_with(HINT_RU), "{answer}");
    assert_eq!(ozon.fake.calls_to("/v3/posting/fbs/get").len(), 1);
    assert!(ozon.fake.calls_to("/v2/posting/fbo/get").is_empty(), "found as FBS, FBO not asked");

    // An FBO posting: not an FBS one, so the second method answers.
    ozon.buyer_pushes(OTHER_CHAT, "где заказ 16965409-0014-1").await;
    let answer = ozon.wait_seller(OTHER_CHAT, 1).await.remove(0);
    assert!(answer.contains("16965409-0014-1"), "{answer}");
    assert_eq!(ozon.fake.calls_to("/v2/posting/fbo/get").len(), 1);
    ozon.app.finish().await;
}
