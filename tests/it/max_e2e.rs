//! End to end: the real app (`app::start_with`: engine, store, outbox, texts, FAQ model and the
//! MAX channel) against the fake MAX, in long-poll and in webhook mode, each test on a fresh
//! SQLite file (one also on PostgreSQL when `SWITCHBOARD_TEST_POSTGRES` is set).
//!
//! The customer's side is played by updates queued on the fake's `GET /updates` or posted to
//! the app's webhook route with the secret header; what the customer sees is what the fake
//! recorded as shown. Updates are shaped after the official Go client's stabs. Every wait polls
//! for an outcome with a deadline; nothing asserts how long anything took.

use crate::support::conversation;
use crate::support::engine_fixtures::TestDb;
use crate::support::fake_max::{self, ApiCall, Failure, FakeMax, Shown};
use crate::support::images::png;
use crate::support::quick_app;
use crate::support::quick_app::Restartable;
use crate::support::store_identity::{IDENTITY_SECRET, mint_link_token};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use switchboard::channels::max::{self as max_channel, longpoll, webhook};
use switchboard::config::max::{MaxMode, MaxSettings};
use switchboard::config::{Overrides, Settings};
use switchboard::core::handoff::Actor;
use switchboard::core::message::Lang;
use switchboard::store::{OutboxRow, OutboxStatus, now_millis};

/// The customer of most tests (the user of the stabs).
const CUSTOMER: i64 = 123_456_789;
/// A second customer, whose replies prove the outbox went round while the first one waited.
const OTHER: i64 = 398_398_398;
const ORDER_ID: &str = "12345678-0001";
/// A description the FAQ model does not recognise, so the flow ends in a queued ticket.
const DESCRIPTION: &str = "The lamp arrived with a cracked base.";
const DEADLINE: Duration = Duration::from_secs(20);
/// MAX's timestamps are milliseconds; the stabs' one.
const TIMESTAMP: i64 = 1_775_025_604_499;

// ---------------------------------------------------------------------------------------------
// Updates as MAX sends them

fn user(id: i64) -> Value {
    json!({"user_id": id, "first_name": "John", "last_name": "Doe", "is_bot": false,
        "last_activity_time": 1_775_053_249_000_i64, "name": "John Doe"})
}

fn message_created(mid: &str, from: i64, text: &str, attachments: Value) -> Value {
    json!({"update_type": "message_created", "timestamp": TIMESTAMP, "user_locale": "en",
    "message": {
        "recipient": {"chat_id": 182_182_182, "chat_type": "dialog", "user_id": fake_max::BOT_USER_ID},
        "timestamp": TIMESTAMP,
        "body": {"mid": mid, "seq": 1, "text": text, "attachments": attachments},
        "sender": user(from),
    }})
}

fn text(mid: &str, from: i64, text: &str) -> Value {
    message_created(mid, from, text, json!([]))
}

/// A press of a callback button under `message` (as shown), carrying `payload`.
fn press(callback_id: &str, from: i64, payload: &str, message: &Shown) -> Value {
    json!({"update_type": "message_callback", "timestamp": TIMESTAMP, "user_locale": "en",
    "callback": {"timestamp": TIMESTAMP, "callback_id": callback_id, "payload": payload, "user": user(from)},
    "message": {
        "recipient": {"chat_id": 182_182_182, "chat_type": "dialog", "user_id": from},
        "timestamp": TIMESTAMP,
        "body": {"mid": "mid.shown", "seq": 1, "text": message.text},
        "sender": {"user_id": fake_max::BOT_USER_ID, "name": "UniBot", "is_bot": true},
    }})
}

fn bot_event(kind: &str, from: i64, timestamp: i64) -> Value {
    json!({"update_type": kind, "timestamp": timestamp, "chat_id": 182_182_182, "user": user(from),
        "user_locale": "en"})
}

// ---------------------------------------------------------------------------------------------
// Harness

/// The real app, talking to a fake MAX.
struct Max {
    mode: MaxMode,
    fake: FakeMax,
    app: Restartable,
    media_dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl Max {
    async fn start(mode: MaxMode) -> Max {
        Max::start_on(mode, TestDb::sqlite()).await
    }

    async fn start_on(mode: MaxMode, db: TestDb) -> Max {
        let mut max = Max {
            mode,
            fake: FakeMax::start().await,
            app: Restartable::new(db),
            media_dir: tempfile::tempdir().unwrap(),
            http: reqwest::Client::new(),
        };
        max.launch().await;
        max
    }

    /// Starts the app on the test's database and media folder, configured the way an operator
    /// would: through the environment variables the README documents.
    async fn launch(&mut self) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let webhook_url = format!("http://{}{}", listener.local_addr().unwrap(), webhook::WEBHOOK_PATH);
        let media_dir = self.media_dir.path().display().to_string();
        let mode = match self.mode {
            MaxMode::LongPoll => "longpoll",
            MaxMode::Webhook => "webhook",
        };
        let env: HashMap<&str, &str> = [
            ("SWITCHBOARD_DATABASE_URL", self.app.db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
            ("SWITCHBOARD_MAX_TOKEN", fake_max::TOKEN),
            ("SWITCHBOARD_MAX_MODE", mode),
            ("SWITCHBOARD_MAX_WEBHOOK_URL", webhook_url.as_str()),
            ("SWITCHBOARD_MAX_WEBHOOK_SECRET", fake_max::SECRET),
            ("SWITCHBOARD_MAX_API_URL", self.fake.base_url.as_str()),
            ("SWITCHBOARD_IDENTITY_SECRET", IDENTITY_SECRET),
        ]
        .into_iter()
        .collect();
        let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
        let polls_before = self.fake.polls().len();
        self.app.start(settings, listener, quick_app::outbox()).await;
        if self.mode == MaxMode::LongPoll {
            eventually("the app's first long poll", || self.fake.polls().len() > polls_before).await;
        }
    }

    /// Delivers an update the way the mode does: queued for `GET /updates`, or posted to the
    /// webhook route with the secret (which must answer 200).
    async fn send(&self, update: Value) {
        match self.mode {
            MaxMode::LongPoll => self.fake.push_update(update),
            MaxMode::Webhook => {
                let (status, body) = self.post(&update, Some(fake_max::SECRET)).await;
                assert_eq!((status, body.as_str()), (200, "ok"), "webhook answer to {update}");
            }
        }
    }

    async fn post(&self, body: &Value, secret: Option<&str>) -> (u16, String) {
        let url = format!("http://{}{}", self.app.running().address, webhook::WEBHOOK_PATH);
        let mut request = self.http.post(url).json(body);
        if let Some(secret) = secret {
            request = request.header("X-Max-Bot-Api-Secret", secret);
        }
        let response = request.send().await.expect("the app answers");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// What `user` has been shown so far.
    fn shown(&self, user: i64) -> Vec<Shown> {
        let to = format!("user_id={user}");
        self.fake.shown().into_iter().filter(|message| message.to == to).collect()
    }

    /// Waits until `user` has been shown `count` messages, and checks no more arrived.
    async fn wait_shown(&self, user: i64, count: usize) -> Vec<Shown> {
        eventually(&format!("{count} messages shown to {user}"), || self.shown(user).len() >= count).await;
        let shown = self.shown(user);
        assert_eq!(shown.len(), count, "more than expected: {:#?}", texts(&shown));
        shown
    }

    fn sends_to(&self, user: i64) -> Vec<ApiCall> {
        let id = user.to_string();
        self.fake
            .calls_to("messages")
            .into_iter()
            .filter(|call| call.query.get("user_id") == Some(&id))
            .collect()
    }

    async fn customer_log(&self, user: i64) -> Vec<String> {
        conversation::customer_log(self.app.store(), "max", &user.to_string()).await
    }

    async fn outbox(&self, user: i64) -> Vec<OutboxRow> {
        conversation::outbox(self.app.store(), "max", &user.to_string()).await
    }

    async fn reachable(&self, user: i64) -> bool {
        self.app.store().contact("max", &user.to_string()).await.unwrap().expect("a contact").reachable
    }

    /// Waits until every outbox row of `user` is marked sent.
    async fn all_sent(&self, user: i64) {
        let give_up = tokio::time::Instant::now() + DEADLINE;
        while !self.outbox(user).await.iter().all(|row| row.status == OutboxStatus::Sent) {
            assert!(tokio::time::Instant::now() < give_up, "gave up waiting for every row of {user} sent");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
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

fn texts(shown: &[Shown]) -> Vec<&str> {
    shown.iter().map(|message| message.text.as_str()).collect()
}

/// The payload of the button labelled `label` on a message's keyboard.
fn button_payload(message: &Shown, label: &str) -> String {
    let keyboard = message.keyboard.as_ref().unwrap_or_else(|| panic!("no keyboard on {:?}", message.text));
    keyboard
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .find(|button| button["text"] == label)
        .map(|button| {
            assert_eq!(button["type"], "callback", "{button}");
            button["payload"].as_str().unwrap().to_owned()
        })
        .unwrap_or_else(|| panic!("no button {label:?} in {keyboard}"))
}

fn modes() -> [MaxMode; 2] {
    [MaxMode::LongPoll, MaxMode::Webhook]
}

// ---------------------------------------------------------------------------------------------
// A full conversation

/// From the Start button to a queued ticket: the menu keyboard pressed, the order number, a
/// photo (downloaded and stored through the media checks), "Done" pressed, the description;
/// then an agent answers with the photo, uploaded to MAX while it says the image is not ready.
async fn full_conversation(max: &Max) {
    max.send(bot_event("bot_started", CUSTOMER, TIMESTAMP)).await;
    // The greeting and the menu are one message, the menu's keyboard under it.
    let shown = max.wait_shown(CUSTOMER, 1).await;
    crate::support::turns::check_greeting_then_menu(&shown[0].text);

    let order = button_payload(&shown[0], "Problem with an order");
    max.send(press("cb-order", CUSTOMER, &order, &shown[0])).await;
    let shown = max.wait_shown(CUSTOMER, 2).await;
    assert!(shown[1].text.starts_with("Please send your order number, for example 12345678-0001."));
    // The press is answered: the spinner stops and the menu keeps its text without its buttons.
    eventually("the press answered", || !max.fake.calls_to("answers").is_empty()).await;
    let answer = &max.fake.calls_to("answers")[0];
    assert_eq!(answer.query["callback_id"], "cb-order");
    assert_eq!(answer.body, json!({"message": {"text": shown[0].text, "attachments": []}}));

    max.send(text("mid.3", CUSTOMER, ORDER_ID)).await;
    let shown = max.wait_shown(CUSTOMER, 3).await;
    assert_eq!(
        shown[2].text,
        format!(
            "Got it: order {ORDER_ID}.\n\nPlease send a photo of the item and of the problem. You can send several."
        )
    );

    let photo = png(640, 480, 7);
    let url = max.fake.serve_file("i/lamp.png", photo.clone());
    let image = json!([{"type": "image", "payload": {"photo_id": 4_520_001, "token": "tok.1", "url": url}}]);
    max.send(message_created("mid.4", CUSTOMER, "", image)).await;
    let shown = max.wait_shown(CUSTOMER, 4).await;
    assert_eq!(shown[3].text, "Photo received. Send more, or press \"Done\".");

    let done = button_payload(&shown[3], "Done");
    max.send(press("cb-done", CUSTOMER, &done, &shown[3])).await;
    let shown = max.wait_shown(CUSTOMER, 5).await;
    assert_eq!(shown[4].text, "Please describe what happened in a few sentences.");

    max.send(text("mid.6", CUSTOMER, DESCRIPTION)).await;
    let shown = max.wait_shown(CUSTOMER, 6).await;
    assert!(shown[5].text.starts_with("I've passed your request to our team. You're number 1 in line."));
    button_payload(&shown[5], "Withdraw request");
    assert_eq!(max.sends_to(CUSTOMER).len(), shown.len(), "each reply sent once");

    let tickets = conversation::queued_tickets(max.app.store()).await;
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    let ticket = &tickets[0];
    assert_eq!((ticket.channel.as_str(), ticket.external_id.as_str()), ("max", "123456789"));
    assert_eq!(ticket.order_id.as_deref(), Some(ORDER_ID));
    assert_eq!(ticket.description.as_deref(), Some(DESCRIPTION));
    assert_eq!(ticket.language, Lang::En, "MAX's user_locale en");
    assert_eq!(ticket.attachments.len(), 1);
    let stored = ticket.attachments[0].clone();
    assert_eq!(
        (stored.sha256.as_str(), stored.content_type.as_str()),
        (conversation::sha256_hex(&photo).as_str(), "image/png")
    );
    assert_eq!(max.app.running().app.media.read(&stored.sha256).await.unwrap(), Some(photo.clone()));
    assert_eq!(
        max.customer_log(CUSTOMER).await,
        ["/start", "[i:order]", ORDER_ID, "", "[done]", DESCRIPTION]
    );

    // An agent answers with the photo: uploaded, then sent once MAX has processed it.
    let engine = &max.app.running().app.engine;
    engine.claim(ticket.id, "olga").await.unwrap();
    let shown = max.wait_shown(CUSTOMER, 7).await;
    assert_eq!(shown[6].text, "A member of our support team has joined the conversation.");
    max.fake.fail_next("messages", Failure::AttachmentNotReady);
    engine
        .agent_reply(ticket.id, &Actor::new("olga", false), "Is this the crack?", vec![stored])
        .await
        .unwrap();
    let shown = max.wait_shown(CUSTOMER, 8).await;
    assert_eq!(shown[7].text, "Is this the crack?");
    assert_eq!(shown[7].images, [1]);
    assert_eq!(max.fake.uploads(), [photo], "the stored image went up once");
}

#[tokio::test]
async fn a_full_conversation_with_a_photo_and_keyboard_presses_ends_in_a_queued_ticket() {
    for mode in modes() {
        let max = Max::start(mode).await;
        full_conversation(&max).await;
        max.app.finish().await;
    }
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn a_full_conversation_on_postgresql() {
    let max = Max::start_on(MaxMode::Webhook, TestDb::postgres().await).await;
    full_conversation(&max).await;
    max.app.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Redeliveries

#[tokio::test]
async fn the_same_update_delivered_twice_has_one_effect_and_one_reply() {
    for mode in modes() {
        let max = Max::start(mode).await;
        let start = text("mid.twice-1", CUSTOMER, "/start");
        max.send(start.clone()).await;
        let shown = max.wait_shown(CUSTOMER, 1).await;
        // MAX delivers it again (no 200 reached it, or the marker was not saved).
        max.send(start).await;

        // A button press delivered twice starts the flow once.
        let order = button_payload(&shown[0], "Problem with an order");
        let pressed = press("cb-twice", CUSTOMER, &order, &shown[0]);
        max.send(pressed.clone()).await;
        max.send(pressed).await;

        // Updates are taken in order, so once the next one is answered the repeats are done.
        max.send(text("mid.twice-3", CUSTOMER, "/help")).await;
        let shown = max.wait_shown(CUSTOMER, 3).await;
        let texts = texts(&shown);
        assert!(texts[1].starts_with("Please send your order number"), "{texts:?}");
        assert!(texts[2].starts_with("I can help with orders"), "{texts:?}");
        assert_eq!(max.sends_to(CUSTOMER).len(), 3);
        assert_eq!(max.customer_log(CUSTOMER).await, ["/start", "[i:order]", "/help"]);
        assert_eq!(max.outbox(CUSTOMER).await.len(), 3, "no reply was queued for a repeat");
        max.app.finish().await;
    }
}

#[tokio::test]
async fn an_update_whose_photo_cannot_be_fetched_yet_is_not_acknowledged_until_it_is_stored() {
    for mode in modes() {
        let max = Max::start(mode).await;
        let url = max.fake.file_unavailable("i/later.png");
        let image =
            json!([{"type": "image", "payload": {"photo_id": 4_520_002, "token": "tok.2", "url": url}}]);
        let update = message_created("mid.later", CUSTOMER, "the base is cracked", image);
        match mode {
            MaxMode::Webhook => {
                // Not 200: MAX posts it again later.
                let (status, _) = max.post(&update, Some(fake_max::SECRET)).await;
                assert_eq!(status, 503);
            }
            MaxMode::LongPoll => {
                // The round is not stored, so the marker stays and the update is polled again.
                let polls = max.fake.polls().len();
                max.fake.push_update(update.clone());
                eventually("the update polled again", || max.fake.polls().len() >= polls + 2).await;
                let repeated = max.fake.polls()[polls..].iter().filter(|marker| marker.is_none()).count();
                assert!(repeated >= 2, "the marker did not move on: {:?}", max.fake.polls());
            }
        }
        assert!(
            max.app.store().contact("max", &CUSTOMER.to_string()).await.unwrap().is_none(),
            "nothing stored"
        );

        let photo = png(320, 240, 9);
        max.fake.serve_file("i/later.png", photo);
        if mode == MaxMode::Webhook {
            max.send(update).await;
        }
        let shown = max.wait_shown(CUSTOMER, 1).await;
        assert!(shown[0].text.starts_with("Thanks for the photo."), "{}", shown[0].text);
        assert_eq!(max.customer_log(CUSTOMER).await, ["the base is cracked"], "stored once");
        max.app.finish().await;
    }
}

#[tokio::test]
async fn an_image_url_outside_maxs_hosts_is_never_fetched() {
    let max = Max::start(MaxMode::Webhook).await;
    // Another port of the same address: not the API's own origin, and not a MAX host.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = format!("http://{}/latest/meta-data.png", listener.local_addr().unwrap());
    let image =
        json!([{"type": "image", "payload": {"photo_id": 4_520_003, "token": "tok.3", "url": elsewhere}}]);
    max.send(message_created("mid.elsewhere", CUSTOMER, "", image)).await;
    let shown = max.wait_shown(CUSTOMER, 1).await;
    assert!(shown[0].text.starts_with("That file doesn't look like a picture."), "{}", shown[0].text);
    // A download would have connected before the answer was written; nothing is waiting.
    let listener = listener.into_std().unwrap();
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "nothing connected to the address the update named");
    assert!(std::fs::read_dir(max.media_dir.path()).unwrap().next().is_none(), "no file stored");
    max.app.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Delivery failures

#[tokio::test]
async fn a_429_waits_and_a_503_backs_off_and_each_reply_is_shown_once() {
    for mode in modes() {
        let max = Max::start(mode).await;
        let asked_at = now_millis();
        max.fake.fail_next("messages", Failure::TooManyRequests);
        max.send(text("mid.flood-1", CUSTOMER, "/help")).await;
        let shown = max.wait_shown(CUSTOMER, 1).await;
        assert!(shown[0].text.starts_with("I can help with orders"));
        max.all_sent(CUSTOMER).await;
        let rows = max.outbox(CUSTOMER).await;
        assert_eq!(rows[0].attempts, 0, "waiting out a rate limit is not the row's fault");
        assert!(
            rows[0].last_error.as_deref().is_some_and(|error| error.contains("rate limited")),
            "{rows:?}"
        );
        assert!(rows[0].next_attempt_at >= asked_at + 1000, "retried no earlier than a second: {rows:?}");

        max.fake.fail_next("messages", Failure::Unavailable);
        max.send(text("mid.flood-2", CUSTOMER, "/menu")).await;
        max.wait_shown(CUSTOMER, 2).await;
        max.all_sent(CUSTOMER).await;
        let rows = max.outbox(CUSTOMER).await;
        assert_eq!(rows[1].attempts, 1, "{rows:#?}");
        assert!(rows[1].last_error.as_deref().is_some_and(|error| error.contains("503")), "{rows:#?}");
        assert_eq!(max.sends_to(CUSTOMER).len(), 4, "two refused tries, two shown");
        max.app.finish().await;
    }
}

/// Puts the customer in the queue and returns the ticket id.
async fn queue_a_ticket(max: &Max, user: i64, mid: &str) -> i64 {
    max.send(text(mid, user, "/agent")).await;
    let shown = max.wait_shown(user, 1).await;
    assert!(shown[0].text.starts_with("I've passed your request to our team."), "{}", shown[0].text);
    let tickets = conversation::queued_tickets(max.app.store()).await;
    tickets.iter().find(|ticket| ticket.external_id == user.to_string()).expect("a queued ticket").id
}

#[tokio::test]
async fn a_customer_who_stopped_the_bot_gets_nothing_until_they_write_again() {
    for mode in modes() {
        let max = Max::start(mode).await;
        let ticket = queue_a_ticket(&max, CUSTOMER, "mid.stop-1").await;

        max.send(bot_event("bot_stopped", CUSTOMER, TIMESTAMP + 1)).await;
        let give_up = tokio::time::Instant::now() + DEADLINE;
        while max.reachable(CUSTOMER).await {
            assert!(tokio::time::Instant::now() < give_up, "the contact was never marked unreachable");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // An agent takes the ticket and writes: both replies wait.
        let engine = &max.app.running().app.engine;
        engine.claim(ticket, "olga").await.unwrap();
        engine
            .agent_reply(ticket, &Actor::new("olga", false), "Could you send the order number?", Vec::new())
            .await
            .unwrap();
        // Another customer is answered meanwhile: the outbox has gone round since the agent wrote.
        max.send(text("mid.stop-other", OTHER, "/help")).await;
        max.wait_shown(OTHER, 1).await;
        assert_eq!(
            max.sends_to(CUSTOMER).len(),
            1,
            "nothing is even tried for a customer who stopped the bot"
        );
        let rows = max.outbox(CUSTOMER).await;
        assert_eq!(rows.iter().filter(|row| row.status == OutboxStatus::Pending).count(), 2, "{rows:#?}");

        // They start the bot again and write: what waited goes out, in order, then the answer.
        max.send(bot_event("bot_started", CUSTOMER, TIMESTAMP + 2)).await;
        eventually("what waited shown", || max.shown(CUSTOMER).len() >= 3).await;
        let shown = max.shown(CUSTOMER);
        assert_eq!(shown[1].text, "A member of our support team has joined the conversation.");
        assert_eq!(shown[2].text, "Could you send the order number?");
        assert!(max.reachable(CUSTOMER).await);

        // MAX itself refuses (403): given up at once, and the contact is flagged.
        max.fake.fail_next("messages", Failure::Forbidden);
        engine
            .agent_reply(ticket, &Actor::new("olga", false), "Are you still there?", Vec::new())
            .await
            .unwrap();
        let give_up = tokio::time::Instant::now() + DEADLINE;
        while max.reachable(CUSTOMER).await {
            assert!(tokio::time::Instant::now() < give_up, "the contact was never flagged by the 403");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let dead = max.app.store().dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1, "{dead:#?}");
        assert!(dead[0].last_error.as_deref().is_some_and(|error| error.contains("403")), "{dead:#?}");
        max.app.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Mode-specific

#[tokio::test]
async fn webhook_mode_subscribes_and_refuses_posts_with_a_wrong_secret_storing_nothing() {
    let max = Max::start(MaxMode::Webhook).await;
    // The subscription is made in the background, so the app serves while MAX is unreachable.
    eventually("the webhook subscribed", || !max.fake.calls_to("subscriptions").is_empty()).await;
    let subscriptions = max.fake.calls_to("subscriptions");
    assert_eq!(subscriptions.len(), 1, "{subscriptions:#?}");
    let subscription = &subscriptions[0].body;
    assert_eq!(subscription["secret"], fake_max::SECRET);
    assert!(subscription["url"].as_str().is_some_and(|url| url.ends_with("/webhooks/max")), "{subscription}");
    assert_eq!(subscription["update_types"], json!(max_channel::UPDATE_TYPES));

    let forged = text("mid.forged-1", CUSTOMER, "/start");
    for secret in [Some("max_webhook_secret_2"), Some(""), None] {
        let (status, _) = max.post(&forged, secret).await;
        assert_eq!(status, 401, "secret {secret:?}");
    }
    assert!(
        max.app.store().contact("max", &CUSTOMER.to_string()).await.unwrap().is_none(),
        "no contact stored"
    );
    assert_eq!(max.app.store().pending_outbox().await.unwrap(), 0);
    assert!(max.fake.calls_to("messages").is_empty());

    // A body that is not an update is refused too, with the right secret.
    assert_eq!(max.post(&json!({"timestamp": 1}), Some(fake_max::SECRET)).await.0, 400);

    // The genuine update with the same mid is not shadowed by the forgeries.
    max.send(forged).await;
    max.wait_shown(CUSTOMER, 1).await;
    assert_eq!(max.customer_log(CUSTOMER).await, ["/start"]);
    max.app.finish().await;
}

#[tokio::test]
async fn long_polling_saves_the_marker_with_the_batch_and_resumes_from_it() {
    let mut max = Max::start(MaxMode::LongPoll).await;
    let settings = MaxSettings::new(fake_max::TOKEN, MaxMode::LongPoll);
    let cursor = longpoll::cursor_name(&max_channel::bot_key(&settings));
    max.send(text("mid.lp-1", CUSTOMER, "/start")).await;
    max.send(text("mid.lp-2", CUSTOMER, "/help")).await;
    max.wait_shown(CUSTOMER, 2).await;
    let saved = max.fake.current_marker().to_string();
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while max.app.store().cursor(&cursor).await.unwrap().as_deref() != Some(saved.as_str()) {
        assert!(tokio::time::Instant::now() < give_up, "the marker was never saved");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // A restart resumes from the saved marker: what arrived while down is read, once.
    max.app.stop().await;
    max.fake.push_update(text("mid.lp-3", CUSTOMER, "/menu"));
    max.launch().await;
    max.wait_shown(CUSTOMER, 3).await;
    assert!(max.fake.polls().contains(&Some(saved.parse().unwrap())), "{:?}", max.fake.polls());
    assert_eq!(max.customer_log(CUSTOMER).await, ["/start", "/help", "/menu"]);
    max.app.finish().await;
}

/// The store's account page offers a MAX deep link whose start payload is a one-time token:
/// the `bot_started` update carrying it links the MAX contact to the store's customer, once.
#[tokio::test]
async fn a_deep_links_start_payload_links_the_contact_to_the_stores_customer_once() {
    let max = Max::start(MaxMode::Webhook).await;
    let base = format!("http://{}", max.app.running().address);
    let token = mint_link_token(&max.http, &base, "cust-max", "ann@example.com").await;

    let mut started = bot_event("bot_started", CUSTOMER, TIMESTAMP);
    started["payload"] = json!(token);
    max.send(started).await;
    let shown = max.wait_shown(CUSTOMER, 1).await;
    assert!(shown[0].text.starts_with("Your account is connected"), "{}", shown[0].text);
    let linked = max.app.store().contacts_of_customer("cust-max").await.unwrap();
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!((linked[0].channel.as_str(), linked[0].external_id.as_str()), ("max", "123456789"));

    // Someone else who got hold of the link later: the token has been used.
    let mut again = bot_event("bot_started", OTHER, TIMESTAMP + 1);
    again["payload"] = json!(token);
    max.send(again).await;
    let shown = max.wait_shown(OTHER, 1).await;
    assert!(shown[0].text.starts_with("This link has expired or has already been used"), "{}", shown[0].text);
    assert_eq!(max.app.store().contacts_of_customer("cust-max").await.unwrap().len(), 1);
    max.app.finish().await;
}
