//! Fault injection: the whole app (Telegram by webhook, VK by Callback API, one SQLite file)
//! against fake platforms that answer one send call in ten with a fault, in turn: a 429 with
//! `retry_after` (VK: error 6), a 500, a stall past the bot's HTTP timeout, and a dropped
//! connection. Thirty customers per platform go through the same scripted dialog at once, each
//! writing only after the bot's previous answer arrived, as people do.
//!
//! What must hold, and how it is checked after the run:
//! - every reply is delivered, in order, none lost: each chat sees exactly the script's replies
//!   in the script's order, and every outbox row ends `sent`;
//! - nothing is doubled where the platform deduplicates: VK shows each reply once, although the
//!   bot resent the ones whose answers were lost (same `random_id`);
//! - Telegram cannot deduplicate. A stalled or dropped `sendMessage` that Telegram carried out
//!   leaves the bot not knowing it was sent, so it sends it again and the customer sees it
//!   twice. The fake decides which faults are carried out (half of the stalls and dropped
//!   connections) and marks those messages as unanswered; the test checks that each such
//!   message is followed by its identical resend, and that the duplicates are exactly those;
//! - no request for a chat arrives before its hold has passed: after a 429, `retry_after`;
//!   after VK's error 6 (which gives no time), the channel's pause. Both instants come from the
//!   fake's own clock: this checks an order of events, not a speed.
//!
//! Rate limits are switched off (they would only slow the run); the 429 hold is the platform's
//! order and applies regardless. The run is bounded: every step has a deadline, and so has the
//! whole test.
//!
//! Two smaller tests pin down what the big one found in the outbox: a retry time counts from
//! the refusal, not from the start of the delivery round, and a delivery stuck on a slow
//! platform holds back only its own conversation.

use crate::support::engine_fixtures::{self, TestDb};
use crate::support::fake_telegram::{FakeTelegram, Shown};
use crate::support::fake_vk::{self, FakeVk, VisibleMessage};
use crate::support::faults::{CYCLE, FaultKind, FaultPlan, SendCall, early_retries};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use switchboard::app::Running;
use switchboard::channels::vk::api::TOO_MANY_REQUESTS_PAUSE;
use switchboard::channels::{Channel, Delivery, DeliveryError, Intake};
use switchboard::config::{Overrides, Settings};
use switchboard::outbox::{OutboxSettings, OutboxWorker};
use switchboard::store::{Millis, OutboxStatus, Store, now_millis};

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
const SECRET: &str = "faults_webhook-secret";
const CUSTOMERS_PER_PLATFORM: i64 = 30;
/// The bot's client gives up on a platform call after this long...
const HTTP_TIMEOUT_SECS: u64 = 2;
/// ...and a stalled call is answered only after this long.
const PLAN: FaultPlan = FaultPlan { every: 10, retry_after_secs: 2, stall: Duration::from_secs(4) };
/// How long one step of one customer may take (several faults in a row, each with its wait).
const STEP_DEADLINE: Duration = Duration::from_secs(60);
/// How long the whole dialog of every customer may take.
const RUN_DEADLINE: Duration = Duration::from_secs(150);

/// What the customer does at one step, and the bot's answer it waits for: one message, given
/// by the beginnings of its paragraphs.
struct Step {
    input: Input,
    reply: Vec<String>,
}

enum Input {
    Text(String),
    /// A press of the button with this label under the bot's last message.
    Press(&'static str),
}

/// A payment problem from `/start` to a queued ticket and a follow-up message: seven messages
/// (nine texts), two button presses. The order number differs per customer.
fn script(customer: i64) -> Vec<Step> {
    let order = format!("12345678-{:04}", customer % 10_000);
    let step = |input: Input, paragraphs: &[&str]| Step {
        input,
        reply: paragraphs.iter().map(|paragraph| (*paragraph).to_owned()).collect(),
    };
    vec![
        step(
            Input::Text("/start".to_owned()),
            &["Hello! I'm the store's support assistant.", "What can I help you with?"],
        ),
        step(Input::Press("Payment"), &["Which order is the payment for?"]),
        step(Input::Text("1234".to_owned()), &["That doesn't look like an order number."]),
        Step {
            input: Input::Text(order.clone()),
            reply: vec![format!("Got it: order {order}."), "If you have a photo or a screenshot".to_owned()],
        },
        step(Input::Press("Skip"), &["Please describe what happened"]),
        step(
            Input::Text("The lamp arrived with a cracked base.".to_owned()),
            &["I've passed your request to our team."],
        ),
        // "Any news?" in the queue is a question about the request: the answer is its place.
        step(Input::Text("Any news?".to_owned()), &["You're number"]),
    ]
}

fn expected_replies(customer: i64) -> Vec<Vec<String>> {
    script(customer).into_iter().map(|step| step.reply).collect()
}

fn telegram_chat(customer: i64) -> i64 {
    500_000_000 + customer
}

fn vk_peer(customer: i64) -> i64 {
    600_000 + customer
}

// ---------------------------------------------------------------------------------------------
// Harness

struct Run {
    telegram: FakeTelegram,
    vk: FakeVk,
    db: TestDb,
    _media: tempfile::TempDir,
    running: Running,
    http: reqwest::Client,
}

impl Run {
    async fn start() -> Run {
        let telegram = FakeTelegram::start_with_faults(TOKEN, PLAN).await;
        let vk = FakeVk::start_with_faults(PLAN).await;
        let db = TestDb::sqlite();
        let media = tempfile::tempdir().expect("a media folder");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the app");
        let webhook_url = format!(
            "http://{}{}",
            listener.local_addr().unwrap(),
            switchboard::channels::telegram::webhook::PATH
        );
        let (telegram_url, media_dir) = (telegram.api_url(), media.path().display().to_string());
        let group_id = fake_vk::GROUP_ID.to_string();
        let timeout = HTTP_TIMEOUT_SECS.to_string();
        let env: HashMap<&str, &str> = HashMap::from([
            ("SWITCHBOARD_DATABASE_URL", db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
            ("SWITCHBOARD_HTTP_TIMEOUT_SECS", timeout.as_str()),
            ("SWITCHBOARD_TELEGRAM_TOKEN", TOKEN),
            ("SWITCHBOARD_TELEGRAM_API_URL", telegram_url.as_str()),
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", webhook_url.as_str()),
            ("SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET", SECRET),
            ("SWITCHBOARD_TELEGRAM_RATE_LIMIT", "off"),
            ("SWITCHBOARD_VK_TOKEN", fake_vk::TOKEN),
            ("SWITCHBOARD_VK_GROUP_ID", group_id.as_str()),
            ("SWITCHBOARD_VK_MODE", "callback"),
            ("SWITCHBOARD_VK_CONFIRMATION", fake_vk::CONFIRMATION),
            ("SWITCHBOARD_VK_SECRET", fake_vk::SECRET),
            ("SWITCHBOARD_VK_API_URL", vk.base_url.as_str()),
            ("SWITCHBOARD_VK_RATE_LIMIT", "off"),
        ]);
        let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
        let running = crate::support::quick_app::start(settings, listener).await;
        Run { telegram, vk, db, _media: media, running, http: reqwest::Client::new() }
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.running.app.store
    }

    async fn finish(self) {
        self.running.stop().await;
        self.db.drop_database().await;
    }

    // ---- Telegram's side

    /// What the bot believes it sent to `chat`: the shown messages whose answer reached it.
    fn telegram_answered(&self, chat: i64) -> Vec<Shown> {
        self.telegram.shown(chat).into_iter().filter(|shown| shown.answered).collect()
    }

    async fn telegram_customer(&self, customer: i64) {
        let chat = telegram_chat(customer);
        let mut expected = 0;
        for (number, step) in script(customer).into_iter().enumerate() {
            let update = match &step.input {
                Input::Text(text) => telegram_text(chat, 7000 + number as i64, text),
                Input::Press(label) => {
                    let last = self.telegram_answered(chat).pop().expect("a message with buttons");
                    telegram_press(chat, &format!("cbq-{chat}-{number}"), &callback_data(&last, label))
                }
            };
            let update = self.telegram.number_update(update);
            assert_eq!(self.telegram.post_to_webhook(&update).await, 200, "the webhook took {update}");
            expected += 1;
            let what = format!("{expected} replies in Telegram chat {chat}");
            eventually(&what, || self.telegram_answered(chat).len() >= expected).await;
        }
    }

    // ---- VK's side

    fn vk_shown(&self, peer: i64) -> Vec<VisibleMessage> {
        self.vk.visible().into_iter().filter(|message| message.peer_id == peer).collect()
    }

    async fn vk_customer(&self, customer: i64) {
        let peer = vk_peer(customer);
        let mut expected = 0;
        for (number, step) in script(customer).into_iter().enumerate() {
            let event_id = format!("ev-{peer}-{number}");
            let event = match &step.input {
                Input::Text(text) => vk_text(&event_id, peer, text),
                Input::Press(label) => {
                    let last = self.vk_shown(peer).pop().expect("a message with buttons");
                    vk_press(&event_id, &format!("press-{peer}-{number}"), peer, &vk_payload(&last, label))
                }
            };
            let url = format!(
                "http://{}{}",
                self.running.address,
                switchboard::channels::vk::callback::CALLBACK_PATH
            );
            let response = self.http.post(url).json(&event).send().await.expect("the app answers VK");
            let status = response.status().as_u16();
            assert_eq!((status, response.text().await.unwrap().as_str()), (200, "ok"), "VK event {event}");
            expected += 1;
            eventually(&format!("{expected} replies to VK peer {peer}"), || {
                self.vk_shown(peer).len() >= expected
            })
            .await;
        }
    }

    /// Every outbox row of the customer's conversation, once none is waiting any more.
    async fn settled_outbox(&self, channel: &str, external_id: i64) -> Vec<OutboxStatus> {
        let store = self.store();
        let contact = store.contact(channel, &external_id.to_string()).await.unwrap().expect("a contact");
        let conversation =
            store.conversation_of_contact(contact.id).await.unwrap().expect("a conversation").id;
        let deadline = tokio::time::Instant::now() + STEP_DEADLINE;
        loop {
            let statuses: Vec<OutboxStatus> = store
                .outbox_of_conversation(conversation)
                .await
                .unwrap()
                .into_iter()
                .map(|row| row.status)
                .collect();
            if statuses.iter().all(|status| *status != OutboxStatus::Pending) {
                return statuses;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{channel} {external_id}: outbox rows still pending: {statuses:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Polls `condition` until it holds, failing the test after [`STEP_DEADLINE`].
async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + STEP_DEADLINE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---- Telegram updates (shapes from tests/fixtures/telegram, adapted from teloxide, MIT)

fn telegram_text(chat: i64, message_id: i64, text: &str) -> Value {
    json!({"message": {
        "message_id": message_id,
        "from": {"id": chat, "is_bot": false, "first_name": "Customer", "language_code": "en"},
        "chat": {"id": chat, "first_name": "Customer", "type": "private"},
        "date": 1_700_000_000,
        "text": text,
    }})
}

fn telegram_press(chat: i64, query_id: &str, data: &str) -> Value {
    json!({"callback_query": {
        "id": query_id,
        "from": {"id": chat, "is_bot": false, "first_name": "Customer", "language_code": "en"},
        "message": {
            "message_id": 1,
            "from": {"id": 123_456_789, "is_bot": true, "first_name": "Switchboard"},
            "chat": {"id": chat, "first_name": "Customer", "type": "private"},
            "date": 1_700_000_000,
            "text": "a question with buttons",
        },
        "chat_instance": format!("instance-{chat}"),
        "data": data,
    }})
}

/// The `callback_data` of the button labelled `label` under a shown message.
fn callback_data(shown: &Shown, label: &str) -> String {
    shown.reply_markup["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .find(|button| button["text"] == label)
        .and_then(|button| button["callback_data"].as_str())
        .unwrap_or_else(|| panic!("no button {label:?} under {:?}", shown.text))
        .to_owned()
}

// ---- VK events (shapes as in vk_e2e.rs)

/// A client with callback buttons, in English (`lang_id` 3).
fn vk_client() -> Value {
    json!({"button_actions": ["text", "callback"], "keyboard": true, "inline_keyboard": true,
        "carousel": false, "lang_id": 3})
}

fn vk_envelope(kind: &str, event_id: &str, object: Value) -> Value {
    json!({"type": kind, "object": object, "group_id": fake_vk::GROUP_ID, "event_id": event_id,
        "v": "5.199", "secret": fake_vk::SECRET})
}

fn vk_text(event_id: &str, peer: i64, text: &str) -> Value {
    let message = json!({"text": text, "peer_id": peer, "from_id": peer, "out": 0, "date": 1_700_000_000});
    vk_envelope("message_new", event_id, json!({"message": message, "client_info": vk_client()}))
}

fn vk_press(event_id: &str, press_id: &str, peer: i64, payload: &str) -> Value {
    let payload: Value = serde_json::from_str(payload).expect("a button payload is JSON");
    vk_envelope(
        "message_event",
        event_id,
        json!({"user_id": peer, "peer_id": peer, "event_id": press_id, "payload": payload,
            "conversation_message_id": 1}),
    )
}

fn vk_payload(message: &VisibleMessage, label: &str) -> String {
    let keyboard = message.keyboard.as_ref().unwrap_or_else(|| panic!("no keyboard on {:?}", message.text));
    keyboard["buttons"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .find(|button| button["action"]["label"] == label)
        .and_then(|button| button["action"]["payload"].as_str())
        .unwrap_or_else(|| panic!("no button {label:?} in {keyboard}"))
        .to_owned()
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Each message has its expected paragraphs, each beginning with its phrase, in order, and
/// nothing else was delivered.
fn assert_replies(platform: &str, chat: i64, texts: &[String], expected: &[Vec<String>]) {
    assert_eq!(texts.len(), expected.len(), "{platform} {chat}: {texts:#?}");
    for (text, phrases) in texts.iter().zip(expected) {
        let paragraphs: Vec<&str> = text.split("\n\n").collect();
        assert_eq!(paragraphs.len(), phrases.len(), "{platform} {chat}: {text:?} in {texts:#?}");
        for (paragraph, phrase) in paragraphs.iter().zip(phrases) {
            assert!(
                paragraph.starts_with(phrase.as_str()),
                "{platform} {chat}: expected {phrase:?} first in {paragraph:?}, in {texts:#?}"
            );
        }
    }
}

/// How many send calls met each fault, and how many of those were carried out.
fn fault_counts(calls: &[SendCall], methods: &[&str]) -> HashMap<FaultKind, (usize, usize)> {
    let mut counts = HashMap::new();
    for call in calls.iter().filter(|call| methods.contains(&call.method.as_str())) {
        if let Some(fault) = call.fault {
            let entry: &mut (usize, usize) = counts.entry(fault.kind).or_default();
            entry.0 += 1;
            entry.1 += usize::from(fault.applied);
        }
    }
    counts
}

fn report(platform: &str, calls: &[SendCall]) {
    let counts = fault_counts(calls, &calls.iter().map(|call| call.method.as_str()).collect::<Vec<_>>());
    let kinds: Vec<String> = CYCLE
        .iter()
        .map(|kind| {
            let (met, applied) = counts.get(kind).copied().unwrap_or_default();
            format!("{kind:?} {met} ({applied} carried out)")
        })
        .collect();
    println!("{platform}: {} send calls, faults: {}", calls.len(), kinds.join(", "));
}

/// Telegram: what the bot believes it sent is exactly the script; every message whose answer
/// was lost is followed by its identical resend; the duplicates are exactly the send calls the
/// fake carried out without answering. Returns the number of duplicates.
fn check_telegram_chat(run: &Run, customer: i64) -> usize {
    let chat = telegram_chat(customer);
    let shown = run.telegram.shown(chat);
    let answered: Vec<String> = shown
        .iter()
        .filter(|shown| shown.answered)
        .map(|shown| shown.text.clone().unwrap_or_default())
        .collect();
    assert_replies("Telegram", chat, &answered, &expected_replies(customer));
    let mut duplicates = 0;
    for (index, lost) in shown.iter().enumerate().filter(|(_, shown)| !shown.answered) {
        let resend = shown.get(index + 1).unwrap_or_else(|| panic!("chat {chat}: no resend of {lost:?}"));
        assert_eq!(
            (&resend.text, &resend.reply_markup),
            (&lost.text, &lost.reply_markup),
            "chat {chat}: the message after a lost answer is its resend"
        );
        duplicates += 1;
    }
    duplicates
}

/// VK: exactly the script, each reply shown once with its own `random_id`.
fn check_vk_peer(run: &Run, customer: i64) {
    let peer = vk_peer(customer);
    let shown = run.vk_shown(peer);
    let texts: Vec<String> = shown.iter().map(|message| message.text.clone()).collect();
    assert_replies("VK", peer, &texts, &expected_replies(customer));
    let ids: HashSet<i32> = shown.iter().map(|message| message.random_id).collect();
    assert_eq!(ids.len(), shown.len(), "peer {peer}: every reply has its own random_id");
}

// ---------------------------------------------------------------------------------------------
// The test

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reply_arrives_in_order_through_429s_500s_stalls_and_dropped_connections() {
    let run = Run::start().await;

    let customers = (0..CUSTOMERS_PER_PLATFORM).flat_map(|customer| {
        let run = &run;
        [
            futures::future::Either::Left(run.telegram_customer(customer)),
            futures::future::Either::Right(run.vk_customer(customer)),
        ]
    });
    tokio::time::timeout(RUN_DEADLINE, futures::future::join_all(customers))
        .await
        .expect("every customer finished the dialog in time");

    // None lost, none stuck: every outbox row of every conversation was sent.
    for customer in 0..CUSTOMERS_PER_PLATFORM {
        for (channel, id) in [("telegram", telegram_chat(customer)), ("vk", vk_peer(customer))] {
            let statuses = run.settled_outbox(channel, id).await;
            assert_eq!(statuses.len(), expected_replies(customer).len(), "{channel} {id}");
            assert!(
                statuses.iter().all(|status| *status == OutboxStatus::Sent),
                "{channel} {id}: {statuses:?}"
            );
        }
    }

    // Telegram.
    let telegram_calls = run.telegram.send_calls();
    report("Telegram", &telegram_calls);
    let duplicates: usize =
        (0..CUSTOMERS_PER_PLATFORM).map(|customer| check_telegram_chat(&run, customer)).sum();
    let counts = fault_counts(&telegram_calls, &["sendMessage", "sendPhoto"]);
    let carried_out: usize = counts.values().map(|(_, applied)| applied).sum();
    println!(
        "Telegram: {duplicates} duplicate messages seen by customers, one per carried-out stall or drop"
    );
    assert_eq!(
        duplicates, carried_out,
        "duplicates are exactly the sends whose answers were lost: {counts:?}"
    );
    for kind in CYCLE {
        assert!(
            counts.get(&kind).is_some_and(|(met, _)| *met > 0),
            "sendMessage met no {kind:?}: {counts:?}"
        );
    }
    let early = early_retries(&telegram_calls, &["sendMessage", "sendPhoto"], retry_after());
    println!(
        "Telegram: {} holds after a 429 checked",
        refusals(&telegram_calls, &["sendMessage", "sendPhoto"])
    );
    assert!(early.is_empty(), "requests before retry_after had passed:\n{}", early.join("\n"));

    // VK.
    let vk_calls = run.vk.send_calls();
    report("VK", &vk_calls);
    for customer in 0..CUSTOMERS_PER_PLATFORM {
        check_vk_peer(&run, customer);
    }
    let counts = fault_counts(&vk_calls, &["messages.send"]);
    let carried_out: usize = counts.values().map(|(_, applied)| applied).sum();
    let dropped = run.vk.dropped_repeats();
    println!("VK: {dropped} resends of messages already shown, dropped by random_id; none shown twice");
    assert_eq!(
        dropped, carried_out,
        "each send whose answer was lost was resent with its random_id: {counts:?}"
    );
    for kind in CYCLE {
        assert!(
            counts.get(&kind).is_some_and(|(met, _)| *met > 0),
            "messages.send met no {kind:?}: {counts:?}"
        );
    }
    let early = early_retries(&vk_calls, &["messages.send"], TOO_MANY_REQUESTS_PAUSE);
    println!("VK: {} pauses after error 6 checked", refusals(&vk_calls, &["messages.send"]));
    assert!(early.is_empty(), "requests before VK's pause after error 6 had passed:\n{}", early.join("\n"));

    // One call in ten met a fault, on both platforms.
    for calls in [&telegram_calls, &vk_calls] {
        let faults = calls.iter().filter(|call| call.fault.is_some()).count();
        assert_eq!(faults, calls.len() / PLAN.every, "one send call in {} met a fault", PLAN.every);
    }
    run.finish().await;
}

/// How many calls of `methods` were refused with a 429 (VK: error 6).
fn refusals(calls: &[SendCall], methods: &[&str]) -> usize {
    calls.iter().filter(|call| call.refused_at.is_some() && methods.contains(&call.method.as_str())).count()
}

fn retry_after() -> Duration {
    Duration::from_secs(PLAN.retry_after_secs.into())
}

// ---------------------------------------------------------------------------------------------
// The outbox on its own, with channels that misbehave on cue

/// A channel for the engine fixtures' contacts: `slow-refusal` is refused with a 60-second
/// `retry_after` after a moment's work; `stuck` waits until the test opens `gate`; everyone
/// else is delivered at once.
struct Misbehaving {
    refused_at: std::sync::Mutex<Vec<Millis>>,
    gate: tokio::sync::Semaphore,
    entered_gate: std::sync::atomic::AtomicBool,
    delivered: std::sync::Mutex<Vec<String>>,
}

impl Misbehaving {
    fn new() -> Arc<Misbehaving> {
        Arc::new(Misbehaving {
            refused_at: std::sync::Mutex::new(Vec::new()),
            gate: tokio::sync::Semaphore::new(0),
            entered_gate: std::sync::atomic::AtomicBool::new(false),
            delivered: std::sync::Mutex::new(Vec::new()),
        })
    }

    fn delivered_to(&self, external_id: &str) -> usize {
        self.delivered.lock().unwrap().iter().filter(|to| *to == external_id).count()
    }

    fn worker(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        engine: &switchboard::engine::Engine,
    ) -> OutboxWorker {
        let channel: Arc<dyn Channel> = Arc::clone(self) as Arc<dyn Channel>;
        let settings =
            OutboxSettings { poll_interval: Duration::from_millis(20), ..OutboxSettings::default() };
        let channels = HashMap::from([(engine_fixtures::CHANNEL, channel)]);
        OutboxWorker::new(Arc::clone(store), channels, settings, engine.outbox_link())
    }
}

#[async_trait::async_trait]
impl Channel for Misbehaving {
    fn name(&self) -> &'static str {
        engine_fixtures::CHANNEL
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        match delivery.external_id.as_str() {
            "slow-refusal" => {
                // Some work before the refusal, as a real call takes time: the round that
                // claimed the row began before this.
                tokio::time::sleep(Duration::from_millis(300)).await;
                self.refused_at.lock().unwrap().push(now_millis());
                return Err(DeliveryError::RetryAfter(Duration::from_secs(60)));
            }
            "stuck" => {
                self.entered_gate.store(true, std::sync::atomic::Ordering::SeqCst);
                self.gate.acquire().await.expect("the gate stays open").forget();
            }
            _ => {}
        }
        self.delivered.lock().unwrap().push(delivery.external_id.clone());
        Ok(())
    }
}

/// Runs `worker` until the returned sender is dropped or used.
fn run_worker(worker: OutboxWorker) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_counts_from_the_refusal_not_from_the_start_of_the_round() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = engine_fixtures::start_engine(&store);
    let channel = Misbehaving::new();
    engine.accept(engine_fixtures::text("slow-refusal", "u1", "/menu")).await.unwrap();
    let contact = store.contact(engine_fixtures::CHANNEL, "slow-refusal").await.unwrap().unwrap();
    let conversation = store.conversation_of_contact(contact.id).await.unwrap().unwrap().id;

    let (stop, worker) = run_worker(channel.worker(&store, &engine));
    let deadline = tokio::time::Instant::now() + STEP_DEADLINE;
    let row = loop {
        let row = store.outbox_of_conversation(conversation).await.unwrap().remove(0);
        if row.last_error.is_some() {
            break row;
        }
        assert!(tokio::time::Instant::now() < deadline, "the refusal was never recorded: {row:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let _ = stop.send(());
    worker.await.unwrap();

    let refused_at = channel.refused_at.lock().unwrap()[0];
    assert_eq!(row.status, OutboxStatus::Pending);
    assert!(
        row.next_attempt_at >= refused_at + 60_000,
        "the retry is due {} ms after the refusal, not 60 000",
        row.next_attempt_at - refused_at
    );
    engine.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_stuck_on_a_slow_platform_holds_back_only_its_own_conversation() {
    let db = TestDb::sqlite();
    let store = db.connect().await;
    let engine = engine_fixtures::start_engine(&store);
    let channel = Misbehaving::new();
    engine.accept(engine_fixtures::text("stuck", "s1", "/menu")).await.unwrap();
    engine.accept(engine_fixtures::text("free", "f1", "/menu")).await.unwrap();
    let (stop, worker) = run_worker(channel.worker(&store, &engine));

    eventually("the stuck delivery to begin", || {
        channel.entered_gate.load(std::sync::atomic::Ordering::SeqCst)
    })
    .await;
    eventually("the first reply to the other customer", || channel.delivered_to("free") >= 1).await;
    // The other customer writes again while the stuck delivery still waits: the answer must
    // not wait with it.
    engine.accept(engine_fixtures::text("free", "f2", "/help")).await.unwrap();
    eventually("the second reply to the other customer", || channel.delivered_to("free") >= 2).await;
    assert_eq!(channel.delivered_to("stuck"), 0);

    channel.gate.add_permits(1);
    eventually("the stuck reply once the platform answers", || channel.delivered_to("stuck") == 1).await;
    let _ = stop.send(());
    worker.await.unwrap();
    engine.shutdown().await;
}
