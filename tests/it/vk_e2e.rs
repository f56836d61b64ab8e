//! End to end: the real app (`app::start_with`: engine, store, outbox, texts, FAQ model and the
//! VK channel) against the fake VK, in Long Poll and in Callback mode, each test on a fresh
//! SQLite file (one also on PostgreSQL when `SWITCHBOARD_TEST_POSTGRES` is set).
//!
//! The customer's side is played by events pushed to the fake's Long Poll server or posted to
//! the app's Callback route; what the customer sees is what the fake recorded as shown. Every
//! wait polls for an outcome with a deadline; nothing asserts how long anything took.

use crate::support::conversation;
use crate::support::engine_fixtures::TestDb;
use crate::support::fake_vk::{self, FakeVk, VisibleMessage, png};
use crate::support::quick_app::Restartable;
use crate::support::store_identity::{IDENTITY_SECRET, mint_link_token};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use switchboard::channels::vk::{callback, longpoll};
use switchboard::config::vk::VkMode;
use switchboard::config::{Overrides, Settings};
use switchboard::core::handoff::Actor;
use switchboard::core::message::Lang;
use switchboard::outbox::OutboxSettings;
use switchboard::store::{OutboxRow, OutboxStatus, TicketSummary, now_millis};

/// The customer of most tests (the peer of the VK fixtures).
const CUSTOMER: i64 = 564_321;
/// A second customer, whose replies prove the outbox went round while the first one waited.
const OTHER: i64 = 777_001;
const ORDER_ID: &str = "12345678-0001";
/// A description the FAQ model does not recognise, so the flow ends in a queued ticket.
const DESCRIPTION: &str = "The lamp arrived with a cracked base.";
/// How long any single outcome may take before the test gives up (flood control asks for
/// half a minute, so its wait is longer).
const DEADLINE: Duration = Duration::from_secs(20);
const FLOOD_DEADLINE: Duration = Duration::from_secs(60);

/// What the customer's VK client can show (VK's `client_info`); `lang_id` 3 is English.
#[derive(Clone, Copy)]
enum Client {
    /// Text buttons on a regular keyboard only.
    TextButtons,
    /// Inline keyboards with callback buttons.
    CallbackButtons,
}

impl Client {
    fn info(self) -> Value {
        match self {
            Client::TextButtons => json!({"button_actions": ["text"], "keyboard": true,
                "inline_keyboard": false, "carousel": false, "lang_id": 3}),
            Client::CallbackButtons => json!({"button_actions": ["text", "callback", "open_link"],
                "keyboard": true, "inline_keyboard": true, "carousel": false, "lang_id": 3}),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events as VK sends them

fn envelope(kind: &str, event_id: &str, object: Value) -> Value {
    json!({"type": kind, "object": object, "group_id": fake_vk::GROUP_ID, "event_id": event_id, "v": "5.199"})
}

fn message_new(event_id: &str, peer: i64, client: Client, message: Value) -> Value {
    let mut message = message;
    let fields = message.as_object_mut().unwrap();
    for (name, value) in [("peer_id", json!(peer)), ("from_id", json!(peer)), ("out", json!(0))] {
        fields.insert(name.to_owned(), value);
    }
    fields.insert("date".to_owned(), json!(1_700_000_000));
    envelope("message_new", event_id, json!({"message": message, "client_info": client.info()}))
}

fn text(event_id: &str, peer: i64, text: &str) -> Value {
    message_new(event_id, peer, Client::TextButtons, json!({"text": text}))
}

/// A press of a text button: VK sends the label as the text and the payload as a string.
fn text_button(event_id: &str, peer: i64, label: &str, payload: &str) -> Value {
    message_new(event_id, peer, Client::TextButtons, json!({"text": label, "payload": payload}))
}

/// A press of a callback button (`message_event`): the payload arrives as an object.
fn callback_press(event_id: &str, press_id: &str, peer: i64, payload: &str) -> Value {
    let payload: Value = serde_json::from_str(payload).unwrap();
    envelope(
        "message_event",
        event_id,
        json!({"user_id": peer, "peer_id": peer, "event_id": press_id, "payload": payload,
            "conversation_message_id": 1235}),
    )
}

fn reachability(event_id: &str, user: i64, allowed: bool) -> Value {
    let kind = if allowed { "message_allow" } else { "message_deny" };
    let mut object = json!({"user_id": user});
    if allowed {
        object["key"] = json!("e2e");
    }
    envelope(kind, event_id, object)
}

// ---------------------------------------------------------------------------------------------
// Harness

/// The real app, talking to a fake VK.
struct Vk {
    mode: VkMode,
    fake: FakeVk,
    app: Restartable,
    media_dir: tempfile::TempDir,
    http: reqwest::Client,
}

fn outbox_settings() -> OutboxSettings {
    OutboxSettings {
        poll_interval: Duration::from_millis(20),
        base_backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(400),
        ..OutboxSettings::default()
    }
}

impl Vk {
    async fn start(mode: VkMode) -> Vk {
        Vk::start_on(mode, TestDb::sqlite()).await
    }

    async fn start_on(mode: VkMode, db: TestDb) -> Vk {
        let mut vk = Vk {
            mode,
            fake: FakeVk::start().await,
            app: Restartable::new(db),
            media_dir: tempfile::tempdir().unwrap(),
            http: reqwest::Client::new(),
        };
        vk.launch().await;
        vk
    }

    /// Starts the app on the test's database and media folder, configured the way an operator
    /// would: through the environment variables the README documents.
    async fn launch(&mut self) {
        let group_id = fake_vk::GROUP_ID.to_string();
        let media_dir = self.media_dir.path().display().to_string();
        let mode = match self.mode {
            VkMode::LongPoll => "longpoll",
            VkMode::Callback => "callback",
        };
        let env: HashMap<&str, &str> = [
            ("SWITCHBOARD_DATABASE_URL", self.app.db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
            ("SWITCHBOARD_VK_TOKEN", fake_vk::TOKEN),
            ("SWITCHBOARD_VK_GROUP_ID", group_id.as_str()),
            ("SWITCHBOARD_VK_MODE", mode),
            ("SWITCHBOARD_VK_CONFIRMATION", fake_vk::CONFIRMATION),
            ("SWITCHBOARD_VK_SECRET", fake_vk::SECRET),
            ("SWITCHBOARD_VK_API_URL", self.fake.base_url.as_str()),
            ("SWITCHBOARD_IDENTITY_SECRET", IDENTITY_SECRET),
        ]
        .into_iter()
        .collect();
        let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let polls_before = self.fake.polls().len();
        self.app.start(settings, listener, outbox_settings()).await;
        if self.mode == VkMode::LongPoll {
            // Like VK, the fake hands a new poller only what arrives after it connected.
            eventually("the app's first long poll", DEADLINE, || self.fake.polls().len() > polls_before)
                .await;
        }
    }

    /// Delivers an event the way the mode does: onto the Long Poll server, or posted to the
    /// Callback route (which must acknowledge it with `ok`).
    async fn send(&self, event: Value) {
        match self.mode {
            VkMode::LongPoll => self.fake.push_event(event),
            VkMode::Callback => {
                let mut event = event;
                event["secret"] = json!(fake_vk::SECRET);
                let (status, body) = self.post(&event).await;
                assert_eq!((status, body.as_str()), (200, "ok"), "callback answer to {event}");
            }
        }
    }

    async fn post(&self, body: &Value) -> (u16, String) {
        let url = format!("http://{}{}", self.app.running().address, callback::CALLBACK_PATH);
        let response = self.http.post(url).json(body).send().await.expect("the app answers");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// What `peer` has been shown so far.
    fn shown(&self, peer: i64) -> Vec<VisibleMessage> {
        self.fake.visible().into_iter().filter(|message| message.peer_id == peer).collect()
    }

    /// Waits until `peer` has been shown `count` messages, and checks no more arrived.
    async fn wait_shown(&self, peer: i64, count: usize) -> Vec<VisibleMessage> {
        self.wait_shown_within(peer, count, DEADLINE).await
    }

    async fn wait_shown_within(&self, peer: i64, count: usize, deadline: Duration) -> Vec<VisibleMessage> {
        let what = format!("{count} messages shown to {peer}");
        eventually(&what, deadline, || self.shown(peer).len() >= count).await;
        let shown = self.shown(peer);
        assert_eq!(shown.len(), count, "more than expected: {:#?}", texts(&shown));
        shown
    }

    fn sends_to(&self, peer: i64) -> Vec<BTreeParams> {
        self.fake
            .calls_of("messages.send")
            .into_iter()
            .filter(|call| call.params.get("peer_id") == Some(&peer.to_string()))
            .map(|call| call.params)
            .collect()
    }

    async fn customer_log(&self, peer: i64) -> Vec<String> {
        conversation::customer_log(self.app.store(), "vk", &peer.to_string()).await
    }

    async fn outbox(&self, peer: i64) -> Vec<OutboxRow> {
        conversation::outbox(self.app.store(), "vk", &peer.to_string()).await
    }

    async fn queued_tickets(&self) -> Vec<TicketSummary> {
        conversation::queued_tickets(self.app.store()).await
    }
}

type BTreeParams = std::collections::BTreeMap<String, String>;

/// Polls `check` every 20 ms until it holds; panics naming `what` after `deadline`.
async fn eventually(what: &str, deadline: Duration, mut check: impl FnMut() -> bool) {
    let give_up = tokio::time::Instant::now() + deadline;
    while !check() {
        assert!(tokio::time::Instant::now() < give_up, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`eventually`] for conditions that need the database.
async fn eventually_async<F: std::future::Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) {
    let give_up = tokio::time::Instant::now() + DEADLINE;
    while !check().await {
        assert!(tokio::time::Instant::now() < give_up, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn texts(shown: &[VisibleMessage]) -> Vec<&str> {
    shown.iter().map(|message| message.text.as_str()).collect()
}

/// The payload of the button labelled `label` on a message's keyboard.
fn button_payload(message: &VisibleMessage, label: &str) -> String {
    let keyboard = message.keyboard.as_ref().unwrap_or_else(|| panic!("no keyboard on {:?}", message.text));
    keyboard["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap())
        .find(|button| button["action"]["label"] == label)
        .and_then(|button| button["action"]["payload"].as_str())
        .unwrap_or_else(|| panic!("no button {label:?} in {keyboard}"))
        .to_owned()
}

fn modes() -> [VkMode; 2] {
    [VkMode::LongPoll, VkMode::Callback]
}

// ---------------------------------------------------------------------------------------------
// A full conversation

/// From `/start` to a queued ticket: the menu keyboard, the order number, a photo (the largest
/// size downloaded and stored), "Done", the description.
async fn full_conversation(vk: &Vk) {
    vk.send(text("conv-1", CUSTOMER, "/start")).await;
    // The greeting and the menu are one message, the menu's keyboard under it.
    let shown = vk.wait_shown(CUSTOMER, 1).await;
    crate::support::turns::check_greeting_then_menu(&shown[0].text);
    let menu = shown[0].keyboard.as_ref().expect("the menu has a keyboard");
    assert_eq!(menu["one_time"], true, "a client without callback buttons gets a regular keyboard: {menu}");
    assert_eq!(menu["buttons"][0][0]["action"]["type"], "text");

    // The customer taps "Problem with an order"; VK sends the label with the button's payload.
    let order = button_payload(&shown[0], "Problem with an order");
    vk.send(text_button("conv-2", CUSTOMER, "Problem with an order", &order)).await;
    let shown = vk.wait_shown(CUSTOMER, 2).await;
    assert!(shown[1].text.starts_with("Please send your order number, for example 12345678-0001."));

    vk.send(text("conv-3", CUSTOMER, ORDER_ID)).await;
    let shown = vk.wait_shown(CUSTOMER, 3).await;
    assert_eq!(
        shown[2].text,
        format!(
            "Got it: order {ORDER_ID}.\n\nPlease send a photo of the item and of the problem. You can send several."
        )
    );

    // Only the largest size is served: picking a smaller one would fail the download.
    let photo = png(1280, 960);
    let large = vk.fake.serve_file("impg/lamp-z.jpg", photo.clone());
    let small = format!("{}/files/impg/lamp-s.jpg", vk.fake.base_url);
    let attachment = json!({"type": "photo", "photo": {"id": 457_281_400, "owner_id": CUSTOMER, "sizes": [
        {"type": "s", "url": small, "width": 75, "height": 56},
        {"type": "z", "url": large, "width": 1280, "height": 960},
    ]}});
    vk.send(message_new(
        "conv-4",
        CUSTOMER,
        Client::TextButtons,
        json!({"text": "", "attachments": [attachment]}),
    ))
    .await;
    let shown = vk.wait_shown(CUSTOMER, 4).await;
    assert_eq!(shown[3].text, "Photo received. Send more, or press \"Done\".");

    let done = button_payload(&shown[3], "Done");
    vk.send(text_button("conv-5", CUSTOMER, "Done", &done)).await;
    let shown = vk.wait_shown(CUSTOMER, 5).await;
    assert_eq!(shown[4].text, "Please describe what happened in a few sentences.");

    vk.send(text("conv-6", CUSTOMER, DESCRIPTION)).await;
    let shown = vk.wait_shown(CUSTOMER, 6).await;
    assert!(shown[5].text.starts_with("I've passed your request to our team. You're number 1 in line."));
    button_payload(&shown[5], "Withdraw request");

    // Each reply went out once, each with its own random_id.
    let random_ids: HashSet<i32> = shown.iter().map(|message| message.random_id).collect();
    assert_eq!(random_ids.len(), shown.len());
    assert_eq!(vk.sends_to(CUSTOMER).len(), shown.len());

    let tickets = vk.queued_tickets().await;
    assert_eq!(tickets.len(), 1, "{tickets:#?}");
    let ticket = &tickets[0];
    assert_eq!((ticket.channel.as_str(), ticket.external_id.as_str()), ("vk", "564321"));
    assert_eq!(ticket.issue_type, "order");
    assert_eq!(ticket.order_id.as_deref(), Some(ORDER_ID));
    assert_eq!(ticket.description.as_deref(), Some(DESCRIPTION));
    assert_eq!(ticket.language, Lang::En, "VK's lang_id 3 is English");
    assert_eq!(ticket.attachments.len(), 1);
    let stored = &ticket.attachments[0];
    assert_eq!(
        (stored.sha256.as_str(), stored.content_type.as_str()),
        (conversation::sha256_hex(&photo).as_str(), "image/png")
    );
    assert_eq!(vk.app.running().app.media.read(&stored.sha256).await.unwrap(), Some(photo));

    // The photo's entry has no text; it carries the photo instead.
    assert_eq!(vk.customer_log(CUSTOMER).await, ["/start", "[i:order]", ORDER_ID, "", "[done]", DESCRIPTION]);
}

#[tokio::test]
async fn a_full_conversation_with_a_photo_and_a_keyboard_ends_in_a_queued_ticket() {
    for mode in modes() {
        let vk = Vk::start(mode).await;
        full_conversation(&vk).await;
        vk.app.finish().await;
    }
}

#[tokio::test]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn a_full_conversation_on_postgresql() {
    let db = TestDb::postgres().await;
    let vk = Vk::start_on(VkMode::Callback, db).await;
    full_conversation(&vk).await;
    vk.app.finish().await;
}

// ---------------------------------------------------------------------------------------------
// Callback buttons and redeliveries

#[tokio::test]
async fn a_callback_button_press_is_answered_and_moves_the_dialog_on() {
    for mode in modes() {
        let vk = Vk::start(mode).await;
        let start = message_new("press-1", CUSTOMER, Client::CallbackButtons, json!({"text": "/start"}));
        vk.send(start).await;
        let shown = vk.wait_shown(CUSTOMER, 1).await;
        let menu = shown[0].keyboard.as_ref().unwrap();
        assert_eq!(menu["inline"], true, "{menu}");
        assert_eq!(menu["buttons"][0][0]["action"]["type"], "callback");

        let delivery = button_payload(&shown[0], "Delivery");
        vk.send(callback_press("press-2", "a1b2c3d4e5f6", CUSTOMER, &delivery)).await;
        let shown = vk.wait_shown(CUSTOMER, 2).await;
        assert!(shown[1].text.starts_with("Which order are you waiting for?"), "{}", shown[1].text);

        eventually("the press to be answered", DEADLINE, || {
            !vk.fake.calls_of("messages.sendMessageEventAnswer").is_empty()
        })
        .await;
        let answers = vk.fake.calls_of("messages.sendMessageEventAnswer");
        assert_eq!(answers.len(), 1, "{answers:?}");
        let answer = &answers[0].params;
        assert_eq!(answer["event_id"], "a1b2c3d4e5f6");
        assert_eq!((answer["user_id"].as_str(), answer["peer_id"].as_str()), ("564321", "564321"));

        // The press is in the log as the customer's, and the conversation waits for the order.
        assert_eq!(vk.customer_log(CUSTOMER).await, ["/start", "[i:delivery]"]);
        vk.send(text("press-3", CUSTOMER, ORDER_ID)).await;
        let shown = vk.wait_shown(CUSTOMER, 3).await;
        assert!(shown[2].text.starts_with(&format!("Got it: order {ORDER_ID}.\n\n")), "{}", shown[2].text);
        vk.app.finish().await;
    }
}

#[tokio::test]
async fn the_same_event_delivered_twice_has_one_effect_and_one_reply() {
    for mode in modes() {
        let vk = Vk::start(mode).await;
        let start = text("twice-1", CUSTOMER, "/start");
        vk.send(start.clone()).await;
        vk.wait_shown(CUSTOMER, 1).await;
        // VK delivers it again (no `ok` reached it, or the poll position was not saved).
        vk.send(start).await;

        // A button press delivered twice starts the flow once.
        let shown = vk.shown(CUSTOMER);
        let order = button_payload(&shown[0], "Problem with an order");
        let press = text_button("twice-2", CUSTOMER, "Problem with an order", &order);
        vk.send(press.clone()).await;
        vk.send(press).await;

        // Events are taken in order, so once the next one is answered the repeats are done.
        vk.send(text("twice-3", CUSTOMER, "/help")).await;
        let shown = vk.wait_shown(CUSTOMER, 3).await;
        let texts = texts(&shown);
        assert!(
            texts[0].starts_with("Hello!") && texts[1].starts_with("Please send your order number"),
            "{texts:?}"
        );
        assert!(texts[2].starts_with("I can help with orders"), "{texts:?}");
        assert!(texts[2].ends_with(&format!("\n\n{}", texts[1])), "help repeats the question: {texts:?}");
        assert_eq!(vk.sends_to(CUSTOMER).len(), 3);
        assert_eq!(vk.customer_log(CUSTOMER).await, ["/start", "[i:order]", "/help"]);
        assert_eq!(vk.outbox(CUSTOMER).await.len(), 3, "no reply was queued for a repeat");
        vk.app.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Delivery failures

#[tokio::test]
async fn a_retried_send_reuses_its_random_id_and_is_shown_once() {
    for mode in modes() {
        let vk = Vk::start(mode).await;
        // VK shows the greeting, but its answer is lost on the way back: the outbox retries.
        vk.fake.lose_next_answer("messages.send");
        vk.send(text("retry-1", CUSTOMER, "/start")).await;
        let shown = vk.wait_shown(CUSTOMER, 1).await;
        assert!(shown[0].text.starts_with("Hello!"));
        assert!(shown[0].text.contains("\n\nWhat can I help you with?"), "the menu still comes second");
        eventually("the retry", DEADLINE, || vk.sends_to(CUSTOMER).len() >= 2).await;
        let sends = vk.sends_to(CUSTOMER);
        assert_eq!(sends.len(), 2, "{sends:#?}");
        assert_eq!(sends[0]["random_id"], sends[1]["random_id"], "the retry reuses the random_id");
        assert_eq!(sends[1]["random_id"], shown[0].random_id.to_string());

        // A transient VK error (10, internal) before VK took the message: sent again, shown once.
        vk.fake.fail_next("messages.send", 10);
        vk.send(text("retry-2", CUSTOMER, "/help")).await;
        let shown = vk.wait_shown(CUSTOMER, 2).await;
        assert!(shown[1].text.starts_with("I can help with orders"));
        let sends = vk.sends_to(CUSTOMER);
        assert_eq!(sends.len(), 4, "{sends:#?}");
        assert_eq!(sends[2]["random_id"], sends[3]["random_id"]);
        assert_ne!(sends[2]["random_id"], sends[0]["random_id"], "the next row has a random_id of its own");

        // VK shows a message before the worker records it as sent: wait for the bookkeeping.
        eventually_async("every row marked sent", || async {
            vk.outbox(CUSTOMER).await.iter().all(|row| row.status == OutboxStatus::Sent)
        })
        .await;
        let rows = vk.outbox(CUSTOMER).await;
        assert_eq!(rows.iter().map(|row| row.attempts).collect::<Vec<_>>(), [1, 1]);
        assert!(rows[0].last_error.as_deref().is_some_and(|error| error.contains("502")), "{rows:#?}");
        vk.app.finish().await;
    }
}

#[tokio::test]
async fn flood_control_delays_the_reply_which_is_then_shown_once() {
    // Flood control (9) asks for half a minute, "too many requests" (6) for a second.
    for (mode, code, pause_millis) in [(VkMode::LongPoll, 9, 30_000), (VkMode::Callback, 6, 1_000)] {
        let vk = Vk::start(mode).await;
        let asked_at = now_millis();
        vk.fake.fail_next("messages.send", code);
        vk.send(text("flood-1", CUSTOMER, "/help")).await;
        let shown = vk.wait_shown_within(CUSTOMER, 1, FLOOD_DEADLINE).await;
        assert!(shown[0].text.starts_with("I can help with orders"));
        let sends = vk.sends_to(CUSTOMER);
        assert_eq!(sends.len(), 2, "{sends:#?}");
        assert_eq!(sends[0]["random_id"], sends[1]["random_id"]);

        eventually_async("the row marked sent", || async {
            vk.outbox(CUSTOMER).await.iter().all(|row| row.status == OutboxStatus::Sent)
        })
        .await;
        let rows = vk.outbox(CUSTOMER).await;
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.attempts, 0, "waiting out a rate limit is not the row's fault");
        assert!(row.last_error.as_deref().is_some_and(|error| error.contains("rate limited")), "{row:?}");
        assert!(row.next_attempt_at >= asked_at + pause_millis, "retried no earlier than VK asked: {row:?}");
        vk.app.finish().await;
    }
}

/// Puts the customer in the queue and returns the ticket id.
async fn queue_a_ticket(vk: &Vk, peer: i64, event_id: &str) -> i64 {
    vk.send(text(event_id, peer, "/agent")).await;
    let shown = vk.wait_shown(peer, 1).await;
    assert!(shown[0].text.starts_with("I've passed your request to our team."), "{}", shown[0].text);
    let tickets = vk.queued_tickets().await;
    tickets.iter().find(|ticket| ticket.external_id == peer.to_string()).expect("a queued ticket").id
}

async fn reachable(vk: &Vk, peer: i64) -> bool {
    vk.app.store().contact("vk", &peer.to_string()).await.unwrap().expect("a contact").reachable
}

#[tokio::test]
async fn a_customer_who_denies_messages_gets_nothing_until_they_allow_them_or_write_again() {
    for mode in modes() {
        let vk = Vk::start(mode).await;
        let ticket = queue_a_ticket(&vk, CUSTOMER, "deny-1").await;

        vk.send(reachability("deny-2", CUSTOMER, false)).await;
        eventually_async("the contact marked unreachable", || async { !reachable(&vk, CUSTOMER).await })
            .await;

        // An agent takes the ticket and writes: both replies wait.
        let engine = &vk.app.running().app.engine;
        engine.claim(ticket, "olga").await.unwrap();
        engine
            .agent_reply(ticket, &Actor::new("olga", false), "Could you send the order number?", Vec::new())
            .await
            .unwrap();
        // Another customer is answered meanwhile: the outbox has gone round since the agent wrote.
        vk.send(text("deny-3", OTHER, "/help")).await;
        vk.wait_shown(OTHER, 1).await;
        assert_eq!(vk.shown(CUSTOMER).len(), 1, "nothing is sent to a customer who denied messages");
        assert_eq!(vk.sends_to(CUSTOMER).len(), 1, "not even tried");
        let rows = vk.outbox(CUSTOMER).await;
        assert_eq!(rows.iter().filter(|row| row.status == OutboxStatus::Pending).count(), 2, "{rows:#?}");

        // They allow messages again: what waited goes out, in order.
        vk.send(reachability("deny-4", CUSTOMER, true)).await;
        let shown = vk.wait_shown(CUSTOMER, 3).await;
        // `olga` has no display name: the customer hears of the team, never the login.
        assert_eq!(shown[1].text, "A member of our support team has joined the conversation.");
        assert_eq!(shown[2].text, "Could you send the order number?");
        assert!(reachable(&vk, CUSTOMER).await);

        // VK itself refuses (901: messages not allowed): given up, and the contact is flagged.
        vk.fake.fail_next("messages.send", 901);
        engine
            .agent_reply(ticket, &Actor::new("olga", false), "Are you still there?", Vec::new())
            .await
            .unwrap();
        eventually_async("the contact flagged by error 901", || async { !reachable(&vk, CUSTOMER).await })
            .await;
        engine
            .agent_reply(ticket, &Actor::new("olga", false), "We will wait for your answer.", Vec::new())
            .await
            .unwrap();
        vk.send(text("deny-5", OTHER, "/menu")).await;
        vk.wait_shown(OTHER, 2).await;
        assert_eq!(vk.shown(CUSTOMER).len(), 3);
        assert_eq!(vk.sends_to(CUSTOMER).len(), 4, "one refused try, then nothing");
        let dead = vk.app.store().dead_letters(10).await.unwrap();
        assert_eq!(dead.len(), 1, "{dead:#?}");
        assert!(dead[0].last_error.as_deref().is_some_and(|error| error.contains("901")), "{dead:#?}");

        // Writing to the community lets it answer again (VK delivers to people who wrote to
        // it), so the customer's own message ends the flag: what waited goes out, then the answer.
        vk.send(text("deny-6", CUSTOMER, "/help")).await;
        let shown = vk.wait_shown(CUSTOMER, 5).await;
        assert_eq!(shown[3].text, "We will wait for your answer.");
        assert!(shown[4].text.starts_with("I can help with orders"), "{}", shown[4].text);
        assert!(reachable(&vk, CUSTOMER).await);
        vk.app.finish().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Mode-specific

#[tokio::test]
async fn callback_posts_with_a_wrong_secret_are_refused_and_nothing_is_stored() {
    let vk = Vk::start(VkMode::Callback).await;
    let confirmation =
        json!({"type": "confirmation", "group_id": fake_vk::GROUP_ID, "secret": fake_vk::SECRET});
    assert_eq!(vk.post(&confirmation).await, (200, fake_vk::CONFIRMATION.to_owned()));

    let mut forged = text("forged-1", CUSTOMER, "/start");
    for secret in [Some("secret_654321"), Some(""), None] {
        match secret {
            Some(secret) => forged["secret"] = json!(secret),
            None => {
                forged.as_object_mut().unwrap().remove("secret");
            }
        }
        let (status, _) = vk.post(&forged).await;
        assert_eq!(status, 403, "secret {secret:?}");
    }
    let mut confirmation = confirmation;
    confirmation["secret"] = json!("secret_654321");
    assert_eq!(vk.post(&confirmation).await.0, 403, "no confirmation string without the secret");

    assert!(
        vk.app.store().contact("vk", &CUSTOMER.to_string()).await.unwrap().is_none(),
        "no contact stored"
    );
    assert_eq!(vk.app.store().pending_outbox().await.unwrap(), 0);
    assert!(vk.fake.calls_of("messages.send").is_empty());

    // The genuine event with the same id is not shadowed by the forgeries.
    vk.send(text("forged-1", CUSTOMER, "/start")).await;
    vk.wait_shown(CUSTOMER, 1).await;
    assert_eq!(vk.customer_log(CUSTOMER).await, ["/start"]);
    vk.app.finish().await;
}

#[tokio::test]
async fn long_poll_key_expiry_loses_and_doubles_nothing() {
    let mut vk = Vk::start(VkMode::LongPoll).await;
    let cursor = longpoll::cursor_name(fake_vk::GROUP_ID);
    vk.send(text("lp-1", CUSTOMER, "/start")).await;
    vk.wait_shown(CUSTOMER, 1).await;

    // failed 2: the key expired under the waiting request. The poller gets a new key and
    // keeps its position, so the next event is read.
    vk.fake.fail_next_poll(2);
    eventually("a poll with the new key", DEADLINE, || {
        vk.fake.polls().iter().any(|poll| poll.key == "key-1")
    })
    .await;
    vk.send(text("lp-2", CUSTOMER, "/help")).await;
    vk.wait_shown(CUSTOMER, 2).await;

    // The key expires again and the first request for a new one fails: an event that arrives
    // while the poller has no key at all is still read, once.
    let servers_before = vk.fake.calls_of("groups.getLongPollServer").len();
    vk.fake.fail_next("groups.getLongPollServer", 10);
    vk.fake.fail_next_poll(2);
    eventually("the refused key request", DEADLINE, || {
        vk.fake.calls_of("groups.getLongPollServer").len() > servers_before
    })
    .await;
    vk.send(text("lp-3", CUSTOMER, "/menu")).await;
    vk.wait_shown(CUSTOMER, 3).await;
    assert!(vk.fake.polls().iter().any(|poll| poll.key == "key-2"));

    // failed 3: a new key and a new position; nothing already read comes back.
    vk.fake.fail_next_poll(3);
    eventually("a poll with the key after failed 3", DEADLINE, || {
        vk.fake.polls().iter().any(|poll| poll.key == "key-3")
    })
    .await;
    vk.send(text("lp-4", CUSTOMER, "/help")).await;
    vk.wait_shown(CUSTOMER, 4).await;

    let log = ["/start", "/help", "/menu", "/help"];
    assert_eq!(vk.customer_log(CUSTOMER).await, log);
    assert_eq!(vk.sends_to(CUSTOMER).len(), 4);
    let saved = vk.fake.current_ts();
    eventually_async("the position saved", || async {
        vk.app.store().cursor(&cursor).await.unwrap().as_deref() == Some(saved.as_str())
    })
    .await;

    // A restart resumes from the saved position: what arrived while down is read, once.
    vk.app.stop().await;
    vk.fake.push_event(text("lp-5", CUSTOMER, "/menu"));
    vk.launch().await;
    vk.wait_shown(CUSTOMER, 5).await;
    let mut log = log.to_vec();
    log.push("/menu");
    assert_eq!(vk.customer_log(CUSTOMER).await, log);
    vk.app.finish().await;
}

/// The store's account page offers `vk.me/<community>?ref=<token>`: the first message from it
/// carries the one-time token as `ref`, which links the VK contact to the store's customer.
#[tokio::test]
async fn a_deep_links_ref_links_the_contact_to_the_stores_customer() {
    let vk = Vk::start(VkMode::Callback).await;
    let base = format!("http://{}", vk.app.running().address);
    let token = mint_link_token(&vk.http, &base, "cust-vk", "ann@example.com").await;

    // VK's "Start" button sends its label with the start payload, and `ref` from the link.
    let start = json!({"text": "Начать", "payload": r#"{"command":"start"}"#, "ref": token});
    vk.send(message_new("ref-1", CUSTOMER, Client::TextButtons, start)).await;
    let shown = vk.wait_shown(CUSTOMER, 2).await;
    assert!(shown[0].text.starts_with("Your account is connected"), "{}", shown[0].text);
    assert!(shown[1].text.starts_with("Hello!"), "then the greeting and the topics: {shown:?}");
    assert!(shown[1].keyboard.is_some(), "then the greeting and the topics: {shown:?}");
    let linked = vk.app.store().contacts_of_customer("cust-vk").await.unwrap();
    assert_eq!(linked.len(), 1, "{linked:?}");
    assert_eq!(
        (linked[0].channel.as_str(), linked[0].external_id.as_str()),
        ("vk", CUSTOMER.to_string().as_str())
    );
    vk.app.finish().await;
}
