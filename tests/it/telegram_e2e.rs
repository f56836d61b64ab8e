//! The whole app against the fake Bot API, in long-polling and in webhook mode: what a
//! Telegram customer sees (the fake records every call the bot makes) and what support gets
//! (read back from the store and the media folder). Each test has its own SQLite file; the
//! order conversation also runs on PostgreSQL when `SWITCHBOARD_TEST_POSTGRES` is set.
//!
//! Outcomes are awaited by polling the fake's records with a deadline; nothing asserts how
//! fast anything happened. "Nothing was sent" is shown with a barrier: a second customer
//! writes afterwards and gets an answer, and the outbox delivers rows oldest first, so a
//! reply wrongly sent to the first customer would have gone out before it.

use crate::support::engine_fixtures::TestDb;
use crate::support::fake_telegram::{Call, FakeTelegram, Fault, fixture};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use switchboard::app::Running;
use switchboard::channel_state::ChannelState;
use switchboard::config::{Overrides, Settings};
use switchboard::core::handoff::{Actor, TicketStatus};
use switchboard::core::message::MediaRef;
use switchboard::store::{ConnectOptions, Direction, Store, TranscriptEntry};

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
const BOT_ID: u64 = 123_456_789;
const SECRET: &str = "e2e_webhook-secret";
/// How long any awaited outcome may take before the test fails.
const DEADLINE: Duration = Duration::from_secs(20);

const ANN: i64 = 218_485_655;
const BORIS: i64 = 250_918_540;
const LI: i64 = 330_012_007;
/// A second customer whose answered message proves the outbox has moved past earlier rows.
const SENTINEL: i64 = 777_000_111;

// ---------------------------------------------------------------------------------------------
// Harness

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Polling,
    Webhook,
}

/// The real app (`app::start_with`) on port 0, its database and media folder, and the fake
/// Bot API it talks to. It can be stopped and started again on the same database.
struct Bot {
    mode: Mode,
    fake: FakeTelegram,
    db: TestDb,
    media_dir: tempfile::TempDir,
    running: Option<Running>,
    next_message_id: std::sync::atomic::AtomicI64,
}

impl Bot {
    async fn start(mode: Mode) -> Bot {
        Bot::start_on(mode, TestDb::sqlite()).await
    }

    async fn start_on(mode: Mode, db: TestDb) -> Bot {
        let fake = FakeTelegram::start(TOKEN).await;
        let media_dir = tempfile::tempdir().expect("a media folder");
        let mut bot = Bot {
            mode,
            fake,
            db,
            media_dir,
            running: None,
            next_message_id: std::sync::atomic::AtomicI64::new(7000),
        };
        bot.launch().await;
        bot
    }

    /// Starts the app with the settings an operator would give it, pointed at the fake.
    async fn launch(&mut self) {
        assert!(self.running.is_none(), "the app is already running");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the app");
        let webhook_url = format!(
            "http://{}{}",
            listener.local_addr().unwrap(),
            switchboard::channels::telegram::webhook::PATH
        );
        let api_url = self.fake.api_url();
        let media_dir = self.media_dir.path().display().to_string();
        let mut env: HashMap<&str, &str> = HashMap::from([
            ("SWITCHBOARD_DATABASE_URL", self.db.url.as_str()),
            ("SWITCHBOARD_MEDIA_DIR", media_dir.as_str()),
            ("SWITCHBOARD_TELEGRAM_TOKEN", TOKEN),
            ("SWITCHBOARD_TELEGRAM_API_URL", api_url.as_str()),
        ]);
        if self.mode == Mode::Webhook {
            env.insert("SWITCHBOARD_TELEGRAM_WEBHOOK_URL", webhook_url.as_str());
            env.insert("SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET", SECRET);
        }
        let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
        let running = crate::support::quick_app::start(settings, listener).await;
        match self.mode {
            Mode::Webhook => {
                settled(|| self.fake.webhook().is_some()).await;
                let (url, secret) = self.fake.webhook().expect("start-up registered the webhook");
                assert_eq!(url, webhook_url);
                assert_eq!(secret.as_deref(), Some(SECRET));
                // Every open webhook request waits for a group commit: more of them, bigger groups.
                let registered = self.fake.calls("setWebhook").pop().expect("setWebhook was called");
                // teloxide sends setWebhook as a form, so the number arrives as text.
                let connections = &registered.params["max_connections"];
                let connections = connections.as_u64().or_else(|| connections.as_str()?.parse().ok());
                assert_eq!(connections, Some(100), "{:?}", registered.params);
            }
            Mode::Polling => {
                settled(|| self.fake.webhook().is_none()).await;
                assert!(self.fake.webhook().is_none(), "start-up removed any webhook");
            }
        }
        self.running = Some(running);
    }

    async fn stop(&mut self) {
        self.running.take().expect("the app is running").stop().await;
    }

    /// Stops the app and drops a PostgreSQL database.
    async fn finish(mut self) {
        if self.running.is_some() {
            self.stop().await;
        }
        self.db.drop_database().await;
    }

    fn running(&self) -> &Running {
        self.running.as_ref().expect("the app is running")
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.running().app.store
    }

    /// Hands an update to the bot the way Telegram would in this mode: queued for
    /// `getUpdates`, or posted to the webhook with the registered secret (which must answer
    /// 200). Returns the update with the `update_id` it was given.
    async fn deliver(&self, mut update: Value) -> Value {
        match self.mode {
            Mode::Polling => {
                let id = self.fake.push_update(update.clone());
                update["update_id"] = json!(id);
            }
            Mode::Webhook => {
                update = self.fake.number_update(update);
                assert_eq!(self.fake.post_to_webhook(&update).await, 200, "the webhook accepted {update}");
            }
        }
        update
    }

    /// Delivers an update Telegram already delivered once, with the same `update_id`.
    /// Webhook: Telegram posts it again (it got no 200 in time). Long polling: the app stops
    /// as if it crashed after storing the update but before saving the new offset; the offset
    /// is put back, Telegram still has the update, and the app starts again.
    async fn redeliver(&mut self, update: &Value) {
        match self.mode {
            Mode::Webhook => {
                assert_eq!(self.fake.post_to_webhook(update).await, 200, "a redelivery is acknowledged");
            }
            Mode::Polling => {
                self.stop().await;
                let update_id = update["update_id"].as_u64().expect("a numbered update");
                let store = switchboard::store::connect(&self.db.url, &ConnectOptions::default())
                    .await
                    .expect("reopen the database");
                let cursor = format!("telegram:{BOT_ID}:offset");
                store
                    .set_cursor(&cursor, &update_id.to_string(), switchboard::store::now_millis())
                    .await
                    .expect("put the offset back");
                store.close().await;
                self.fake.redeliver(update.clone());
                self.launch().await;
                // Acknowledged: the next getUpdates confirmed it, so Telegram forgot it.
                wait_until("the redelivered update to be confirmed", || {
                    !self.fake.pending_update_ids().contains(&update_id)
                })
                .await;
            }
        }
    }

    fn message_id(&self) -> i64 {
        self.next_message_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// A private-chat text message from `chat`, whose app is set to `lang`.
    fn text(&self, chat: i64, lang: &str, text: &str) -> Value {
        let mut update = fixture("text");
        let message = &mut update["message"];
        message["message_id"] = json!(self.message_id());
        message["text"] = json!(text);
        customer(message, chat, lang);
        update
    }

    /// A photo (three sizes, the largest being `file_id`) from `chat`.
    fn photo(&self, chat: i64, lang: &str, file_id: &str) -> Value {
        let mut update = fixture("photo");
        let message = &mut update["message"];
        message["message_id"] = json!(self.message_id());
        message["photo"][2]["file_id"] = json!(file_id);
        customer(message, chat, lang);
        update
    }

    /// A press of an inline button carrying `data`, on a message the bot sent to `chat`.
    fn press(&self, chat: i64, lang: &str, data: &str) -> Value {
        let mut update = fixture("callback_query");
        let query = &mut update["callback_query"];
        query["id"] = json!(format!("cbq-{}", self.message_id()));
        query["data"] = json!(data);
        query["from"]["id"] = json!(chat);
        query["from"]["language_code"] = json!(lang);
        query["message"]["chat"]["id"] = json!(chat);
        update
    }

    /// `chat` blocked the bot (`kicked`) or unblocked it (`member`).
    fn membership(&self, chat: i64, fixture_name: &str) -> Value {
        let mut update = fixture(fixture_name);
        let change = &mut update["my_chat_member"];
        change["chat"]["id"] = json!(chat);
        change["from"]["id"] = json!(chat);
        update
    }

    /// Every sendMessage/sendPhoto call to `chat`, including ones the fake failed.
    fn sends_to(&self, chat: i64) -> Vec<Call> {
        self.fake.sent().into_iter().filter(|call| call.chat() == Some(chat)).collect()
    }

    /// Waits until `chat` has been sent at least `count` messages; returns all their texts.
    async fn wait_for_sends(&self, chat: i64, count: usize) -> Vec<String> {
        wait_until(&format!("{count} messages to chat {chat}"), || self.sends_to(chat).len() >= count).await;
        self.sends_to(chat).iter().map(text_of).collect()
    }

    /// Waits for `expected.len()` further messages to `chat` (after the first `already`) and
    /// checks that each contains its expected phrases, in that order (a bot turn is one
    /// message, its texts paragraphs of it). Returns the new total.
    async fn expect_replies(&self, chat: i64, already: usize, expected: &[&[&str]]) -> usize {
        let total = already + expected.len();
        let texts = self.wait_for_sends(chat, total).await;
        crate::support::turns::check_messages(&texts[already..], expected);
        total
    }

    async fn contact_reachable(&self, chat: i64) -> Option<bool> {
        let contact = self.store().contact("telegram", &chat.to_string()).await.expect("read the contact");
        contact.map(|contact| contact.reachable)
    }

    async fn transcript(&self, chat: i64) -> Vec<TranscriptEntry> {
        let store = self.store();
        let contact =
            store.contact("telegram", &chat.to_string()).await.unwrap().expect("the customer is known");
        let conversation = store
            .conversation_of_contact(contact.id)
            .await
            .unwrap()
            .expect("the customer has a conversation");
        store.transcript(conversation.id).await.unwrap()
    }

    /// The barrier: the sentinel says /start and the answer reaches it.
    async fn sentinel_is_answered(&self) {
        self.deliver(self.text(SENTINEL, "en", "/start")).await;
        self.expect_replies(SENTINEL, 0, &[&["Hello!", "What can I help you with?"]]).await;
    }
}

/// Makes `message` come from `chat`, a private chat with the customer.
fn customer(message: &mut Value, chat: i64, lang: &str) {
    message["from"]["id"] = json!(chat);
    message["from"]["language_code"] = json!(lang);
    message["chat"]["id"] = json!(chat);
}

fn text_of(call: &Call) -> String {
    match call.method.as_str() {
        "sendPhoto" => "<photo>".to_owned(),
        _ => call.params["text"].as_str().unwrap_or_default().to_owned(),
    }
}

/// The `callback_data` of every button under a sent message.
fn buttons_of(call: &Call) -> Vec<String> {
    call.params["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_array)
        .flatten()
        .filter_map(|button| button["callback_data"].as_str().map(str::to_owned))
        .collect()
}

/// Polls `condition` until it holds, failing the test after [`DEADLINE`].
async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition() {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// [`wait_until`] for conditions that read the store.
async fn wait_for<F, Fut>(what: &str, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A real 1x1 PNG; `seed` makes each one distinct.
fn tiny_png(seed: u8) -> Vec<u8> {
    crate::support::images::png(1, 1, seed)
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

// ---------------------------------------------------------------------------------------------
// 1. An order problem with a photo, ending in a queued ticket

async fn order_problem_with_a_photo(bot: Bot) {
    let png = tiny_png(1);
    let file_id = "AgADAgAD-e2e-order-photo-large";
    bot.fake.add_file(file_id, png.clone());

    bot.deliver(bot.text(ANN, "en", "/start")).await;
    // The greeting and the menu are one message, the menu's buttons under it.
    let mut seen = bot.expect_replies(ANN, 0, &[&["Hello!", "What can I help you with?"]]).await;
    let menu = bot.sends_to(ANN).pop().unwrap();
    assert!(buttons_of(&menu).contains(&"i:order".to_owned()), "the menu offers an order problem: {menu:?}");

    bot.deliver(bot.press(ANN, "en", "i:order")).await;
    seen = bot.expect_replies(ANN, seen, &[&["Please send your order number"]]).await;
    // Every button press is answered, so the customer's client stops its spinner.
    wait_until("the button press to be answered", || !bot.fake.calls("answerCallbackQuery").is_empty()).await;

    bot.deliver(bot.text(ANN, "en", "1234")).await;
    seen = bot.expect_replies(ANN, seen, &[&["doesn't look like an order number"]]).await;

    bot.deliver(bot.text(ANN, "en", "12345678-0001")).await;
    seen = bot.expect_replies(ANN, seen, &[&["Got it: order 12345678-0001.", "Please send a photo"]]).await;

    bot.deliver(bot.photo(ANN, "en", file_id)).await;
    seen = bot.expect_replies(ANN, seen, &[&["Photo received."]]).await;
    let fetched: Vec<Value> =
        bot.fake.calls("getFile").iter().map(|call| call.params["file_id"].clone()).collect();
    assert_eq!(fetched, vec![json!(file_id)], "only the largest size is downloaded");

    bot.deliver(bot.press(ANN, "en", "done")).await;
    seen = bot.expect_replies(ANN, seen, &[&["Please describe what happened"]]).await;

    bot.deliver(bot.text(ANN, "en", "The lid of the teapot arrived in three pieces.")).await;
    bot.expect_replies(ANN, seen, &[&["I've passed your request to our team. You're number 1 in line."]])
        .await;

    // What support gets: one queued ticket with everything the customer gave.
    let sha256 = sha256_hex(&png);
    let photo =
        MediaRef { sha256: sha256.clone(), content_type: "image/png".to_owned(), bytes: png.len() as u64 };
    let store = bot.store();
    let queued = store
        .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(100_000))
        .await
        .unwrap();
    assert_eq!(queued.len(), 1, "{queued:#?}");
    let ticket = &queued[0];
    assert_eq!(ticket.channel, "telegram");
    assert_eq!(ticket.external_id, ANN.to_string());
    assert_eq!(ticket.issue_type, "order");
    assert_eq!(ticket.order_id.as_deref(), Some("12345678-0001"));
    assert_eq!(ticket.description.as_deref(), Some("The lid of the teapot arrived in three pieces."));
    assert_eq!(ticket.attachments, vec![photo.clone()]);
    let detail = store.ticket(ticket.id).await.unwrap().expect("the ticket reads back");
    assert!(
        detail
            .messages
            .iter()
            .any(|entry| entry.direction == Direction::In && entry.attachments == vec![photo.clone()]),
        "the photo is in the transcript: {:#?}",
        detail.messages
    );

    // The photo itself, stored by content in the media folder.
    let path = bot.media_dir.path().join(&sha256[..2]).join(&sha256);
    assert_eq!(std::fs::read(&path).expect("the photo is stored"), png);

    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_problem_with_a_photo_by_long_polling() {
    order_problem_with_a_photo(Bot::start(Mode::Polling).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_problem_with_a_photo_by_webhook() {
    order_problem_with_a_photo(Bot::start(Mode::Webhook).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(switchboard_test_postgres), ignore = "needs PostgreSQL: set SWITCHBOARD_TEST_POSTGRES")]
async fn order_problem_with_a_photo_on_postgres() {
    let db = TestDb::postgres().await;
    order_problem_with_a_photo(Bot::start_on(Mode::Webhook, db).await).await;
}

// ---------------------------------------------------------------------------------------------
// 2. FAQ questions, answered in the customer's language

async fn faq_questions_in_three_languages(bot: Bot) {
    let cases = [
        (ANN, "en", "how do I reset my password", "To reset your password", "Did this help?"),
        (BORIS, "ru", "Как восстановить пароль? Я его забыл", "Чтобы сбросить пароль", "Это помогло?"),
        (LI, "zh-hans", "我忘记密码了，怎么办", "重置密码", "这对您有帮助吗？"),
    ];
    for (chat, lang, question, _, _) in cases {
        bot.deliver(bot.text(chat, lang, question)).await;
    }
    for (chat, _, _, answer, did_it_help) in cases {
        // The answer and the question are one message, the question's buttons under it.
        bot.expect_replies(chat, 0, &[&[answer, did_it_help]]).await;
        let question = bot.sends_to(chat).pop().unwrap();
        assert_eq!(buttons_of(&question)[..2], ["yes".to_owned(), "no".to_owned()], "{question:?}");
    }
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faq_questions_in_three_languages_by_long_polling() {
    faq_questions_in_three_languages(Bot::start(Mode::Polling).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faq_questions_in_three_languages_by_webhook() {
    faq_questions_in_three_languages(Bot::start(Mode::Webhook).await).await;
}

// ---------------------------------------------------------------------------------------------
// 3. A redelivered update changes nothing

async fn a_redelivered_update_changes_nothing(mut bot: Bot) {
    let question = "how do I reset my password";
    let update = bot.deliver(bot.text(ANN, "en", question)).await;
    let seen = bot.expect_replies(ANN, 0, &[&["To reset your password", "Did this help?"]]).await;

    bot.redeliver(&update).await;
    // Rows of one conversation go out in order: a reply to the redelivery would come before
    // the answer to the next message.
    bot.deliver(bot.text(ANN, "en", "/menu")).await;
    bot.expect_replies(ANN, seen, &[&["What can I help you with?"]]).await;
    assert_eq!(
        bot.sends_to(ANN).len(),
        2,
        "{:#?}",
        bot.sends_to(ANN).iter().map(text_of).collect::<Vec<_>>()
    );

    let logged: Vec<TranscriptEntry> = bot
        .transcript(ANN)
        .await
        .into_iter()
        .filter(|entry| entry.direction == Direction::In && entry.text.as_deref() == Some(question))
        .collect();
    assert_eq!(logged.len(), 1, "one message-log row for the question: {logged:#?}");
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_update_changes_nothing_by_long_polling() {
    a_redelivered_update_changes_nothing(Bot::start(Mode::Polling).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_update_changes_nothing_by_webhook() {
    a_redelivered_update_changes_nothing(Bot::start(Mode::Webhook).await).await;
}

// ---------------------------------------------------------------------------------------------
// 4. A 429 holds that chat for exactly retry_after

const RETRY_AFTER_SECS: u32 = 2;

async fn too_many_requests_waits_retry_after(bot: Bot) {
    bot.fake.fail_next("sendMessage", Fault::TooManyRequests { retry_after: RETRY_AFTER_SECS });
    bot.deliver(bot.text(ANN, "en", "/start")).await;
    bot.deliver(bot.text(ANN, "en", "how do I reset my password")).await;

    let texts = bot.wait_for_sends(ANN, 3).await;
    let calls = bot.sends_to(ANN);
    // The refused greeting is sent again, before the next answer: order is kept across the wait.
    assert!(texts[0].contains("Hello!"), "{texts:#?}");
    assert_eq!(texts[1], texts[0], "{texts:#?}");
    assert!(texts[2].contains("To reset your password"), "{texts:#?}");
    assert_eq!(texts.len(), 3, "nothing was sent twice after the retry: {texts:#?}");
    // Both instants were taken by the fake as the calls arrived: an ordering fact.
    let waited = calls[1].at.duration_since(calls[0].at);
    assert!(
        waited >= Duration::from_secs(RETRY_AFTER_SECS.into()),
        "the retry came {waited:?} after the 429 with retry_after {RETRY_AFTER_SECS}"
    );
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_retry_after_by_long_polling() {
    too_many_requests_waits_retry_after(Bot::start(Mode::Polling).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_requests_waits_retry_after_by_webhook() {
    too_many_requests_waits_retry_after(Bot::start(Mode::Webhook).await).await;
}

// ---------------------------------------------------------------------------------------------
// 5. A customer who blocked the bot

async fn a_blocked_user_is_not_written_to(bot: Bot) {
    // (a) Telegram refuses a send with 403: the contact becomes unreachable, and the rest of
    // the replies wait instead of being sent.
    bot.fake.block_chat(BORIS);
    bot.deliver(bot.text(BORIS, "ru", "/start")).await;
    bot.wait_for_sends(BORIS, 1).await;
    wait_for("the 403 to mark Boris unreachable", || async {
        bot.contact_reachable(BORIS).await == Some(false)
    })
    .await;

    // (b) The customer blocks the bot (my_chat_member: kicked): unreachable at once, so an
    // agent's reply is held.
    bot.deliver(bot.text(ANN, "en", "/agent")).await;
    let seen = bot.expect_replies(ANN, 0, &[&["I've passed your request to our team."]]).await;
    bot.deliver(bot.membership(ANN, "my_chat_member_kicked")).await;
    wait_for("my_chat_member to mark Ann unreachable", || async {
        bot.contact_reachable(ANN).await == Some(false)
    })
    .await;
    let ticket = bot
        .store()
        .list_tickets(Some(TicketStatus::Queued), switchboard::store::Page::first(100_000))
        .await
        .unwrap();
    let ticket = ticket.iter().find(|ticket| ticket.external_id == ANN.to_string()).expect("Ann's ticket").id;
    let engine = &bot.running().app.engine;
    engine.claim(ticket, "anna").await.expect("claim");
    engine
        .agent_reply(ticket, &Actor::new("anna", false), "Hello Ann, I'm looking at it.", Vec::new())
        .await
        .expect("reply");

    bot.sentinel_is_answered().await;
    assert_eq!(bot.sends_to(BORIS).len(), 1, "only the refused greeting was tried");
    assert_eq!(bot.sends_to(ANN).len(), seen, "nothing after the block");

    // Unblocking releases what waited, in order.
    bot.deliver(bot.membership(ANN, "my_chat_member_member")).await;
    // `anna` has no display name: Ann hears of the team, never the login.
    bot.expect_replies(ANN, seen, &[&["A member of our support team"], &["Hello Ann, I'm looking at it."]])
        .await;
    bot.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_is_not_written_to_by_long_polling() {
    a_blocked_user_is_not_written_to(Bot::start(Mode::Polling).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_user_is_not_written_to_by_webhook() {
    a_blocked_user_is_not_written_to(Bot::start(Mode::Webhook).await).await;
}

// ---------------------------------------------------------------------------------------------
// 6. A webhook call without the right secret

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_with_a_wrong_secret_gets_401_and_stores_nothing() {
    let bot = Bot::start(Mode::Webhook).await;
    let update = bot.fake.number_update(bot.text(ANN, "en", "/start"));
    let (url, _) = bot.fake.webhook().unwrap();
    let body = update.to_string().into_bytes();
    assert_eq!(bot.fake.post_raw(&url, body.clone(), Some("not-the-secret")).await, 401);
    assert_eq!(bot.fake.post_raw(&url, body.clone(), Some(&SECRET[..SECRET.len() - 1])).await, 401);
    assert_eq!(bot.fake.post_raw(&url, body.clone(), None).await, 401);

    assert!(bot.store().contact("telegram", &ANN.to_string()).await.unwrap().is_none(), "no contact stored");
    assert_eq!(bot.store().pending_outbox().await.unwrap(), 0, "no reply queued");
    // Not even recorded as seen: the genuine delivery of the same update is processed.
    assert_eq!(bot.fake.post_to_webhook(&update).await, 200);
    bot.expect_replies(ANN, 0, &[&["Hello!", "What can I help you with?"]]).await;
    bot.finish().await;
}

// ---------------------------------------------------------------------------------------------
// 7. A Bot API that cannot be reached, or refuses the token, at start

/// Starts the app against `fake` with `token`, long polling, without waiting for the Telegram
/// channel: the rest of the app must serve while it sets itself up.
async fn start_without_waiting(fake: &FakeTelegram, token: &str) -> (Running, tempfile::TempDir, TestDb) {
    let db = TestDb::sqlite();
    let media_dir = tempfile::tempdir().expect("a media folder");
    let api_url = fake.api_url();
    let media = media_dir.path().display().to_string();
    let env: HashMap<&str, &str> = HashMap::from([
        ("SWITCHBOARD_DATABASE_URL", db.url.as_str()),
        ("SWITCHBOARD_MEDIA_DIR", media.as_str()),
        ("SWITCHBOARD_TELEGRAM_TOKEN", token),
        ("SWITCHBOARD_TELEGRAM_API_URL", api_url.as_str()),
    ]);
    let settings = Settings::from_env(&env, &Overrides::default()).expect("valid settings");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the app");
    let running = switchboard::app::start_with(settings, listener, crate::support::quick_app::outbox())
        .await
        .expect("the app starts whatever the Bot API says");
    (running, media_dir, db)
}

async fn get_text(url: String) -> (u16, String) {
    let response = reqwest::get(url).await.expect("the app answers");
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn channel_becomes(running: &Running, wanted: fn(&ChannelState) -> bool) {
    let waiting = running.channels.wait_for(switchboard::channels::telegram::CHANNEL, wanted);
    tokio::time::timeout(DEADLINE, waiting).await.expect("the Telegram channel reaches the state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_bot_api_is_retried_while_the_web_chat_and_console_serve() {
    let fake = FakeTelegram::start(TOKEN).await;
    fake.fail_next("getMe", Fault::ServerError);
    fake.fail_next("getMe", Fault::ServerError);
    let (running, _media, _db) = start_without_waiting(&fake, TOKEN).await;
    let base = format!("http://{}", running.address);

    channel_becomes(&running, |state| matches!(state, ChannelState::Retrying { .. })).await;
    let (status, body) = get_text(format!("{base}/readyz")).await;
    assert_eq!(status, 200, "a channel that is down does not make the app unready: {body}");
    assert!(body.starts_with("ready\n"), "{body}");
    assert!(body.contains("channel telegram: retrying after"), "{body}");
    assert!(body.contains("channel webchat: up"), "{body}");
    assert!(!body.contains(TOKEN), "{body}");
    assert_eq!(get_text(format!("{base}/")).await.0, 200, "the store page with the web chat");
    assert_eq!(get_text(format!("{base}/console/login")).await.0, 200, "the console");

    // The Bot API answers again: the channel sets itself up and polls.
    channel_becomes(&running, |state| *state == ChannelState::Up).await;
    assert!(get_text(format!("{base}/readyz")).await.1.contains("channel telegram: up"));
    let mut update = fixture("text");
    update["message"]["text"] = json!("/start");
    customer(&mut update["message"], ANN, "en");
    fake.push_update(update);
    let sent = fake.wait_for_calls("sendMessage", 1).await;
    assert_eq!(sent[0].params["chat_id"], json!(ANN));
    assert_eq!(fake.calls("getMe").len(), 3, "two failures, then success");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_bot_api_refuses_stops_the_channel_and_the_rest_serves() {
    let fake = FakeTelegram::start(TOKEN).await;
    let refused = "987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
    let (running, _media, _db) = start_without_waiting(&fake, refused).await;
    let base = format!("http://{}", running.address);

    channel_becomes(&running, |state| matches!(state, ChannelState::Stopped { .. })).await;
    let (status, body) = get_text(format!("{base}/readyz")).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("channel telegram: stopped: Telegram refused"), "{body}");
    assert!(!body.contains(refused), "the token stays out of it: {body}");
    assert_eq!(get_text(format!("{base}/")).await.0, 200);
    running.stop().await;
}

/// Waits (boundedly) until `done` holds: the channel sets itself up in the background, so a
/// platform that does not answer never holds up the rest, and its calls may come just after
/// the start. The caller asserts afterwards.
async fn settled(done: impl Fn() -> bool) {
    for _ in 0..1500 {
        if done() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
