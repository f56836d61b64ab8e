//! The Telegram channel against a fake Bot API that speaks the real protocol: reading real
//! update payloads, the webhook's answers, the long-poll offset, and outbound delivery with
//! Telegram's errors. The engine is stood in for by a recording `Intake`.

use crate::support::fake_telegram::{FakeTelegram, Fault};
use crate::support::key_buttons::key_buttons;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::channel_state::{ChannelState, ChannelStates};
use switchboard::channels::telegram::{Mode, Renderer, TelegramChannel, polling, webhook};
use switchboard::channels::{
    Accepted, Channel, Delivery, DeliveryError, InboundEvent, InboundKind, Intake, IntakeError,
};
use switchboard::config::telegram::TelegramSettings;
use switchboard::core::dialog::{ContentKind, Input, PhotoProblem};
use switchboard::core::message::{Action, Button, IssueType, Lang, MediaRef, Outbound, Reply};
use switchboard::i18n::RenderedReply;
use switchboard::media::MediaStore;
use teloxide::types::Update;
use tokio::sync::{Notify, oneshot};

const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";
const BOT_ID: u64 = 123_456_789;
const SECRET: &str = "webhook_secret-42";
const CUSTOMER: i64 = 218_485_655;

// ---------------------------------------------------------------------------------------------
// Harness

/// Stands in for the engine: stores events (deduplicated by channel and event id) and
/// cursors, and can be told to fail, as a database that is down would.
#[derive(Default)]
struct RecordingIntake {
    events: Mutex<Vec<InboundEvent>>,
    seen: Mutex<HashSet<String>>,
    cursors: Mutex<HashMap<String, String>>,
    cursor_saves: Mutex<Vec<String>>,
    /// While above zero, `accept` and `accept_batch` fail (and count down).
    failures_left: AtomicUsize,
    batch_attempts: AtomicUsize,
    stored: Notify,
}

impl RecordingIntake {
    fn events(&self) -> Vec<InboundEvent> {
        self.events.lock().unwrap().clone()
    }

    fn fail_next(&self, times: usize) {
        self.failures_left.store(times, Ordering::SeqCst);
    }

    fn should_fail(&self) -> bool {
        self.failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok()
    }

    fn store(&self, event: InboundEvent) -> Accepted {
        let fresh = self.seen.lock().unwrap().insert(format!("{}/{}", event.channel, event.event_id));
        if !fresh {
            return Accepted::Duplicate;
        }
        self.events.lock().unwrap().push(event);
        self.stored.notify_waiters();
        Accepted::Applied { replies: 0 }
    }

    /// Waits (at most ten seconds) until `count` events are stored.
    async fn wait_for_events(&self, count: usize) -> Vec<InboundEvent> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let stored = self.stored.notified();
            let events = self.events();
            if events.len() >= count {
                return events;
            }
            if tokio::time::timeout_at(deadline, stored).await.is_err() {
                panic!("{} events stored, expected {count}", events.len());
            }
        }
    }
}

#[async_trait::async_trait]
impl Intake for RecordingIntake {
    async fn accept(&self, event: InboundEvent) -> Result<Accepted, IntakeError> {
        if self.should_fail() {
            return Err(IntakeError::NotStored("the test database is down".to_owned()));
        }
        Ok(self.store(event))
    }

    async fn accept_batch(&self, events: Vec<InboundEvent>) -> Result<Vec<Accepted>, IntakeError> {
        self.batch_attempts.fetch_add(1, Ordering::SeqCst);
        if self.should_fail() {
            return Err(IntakeError::NotStored("the test database is down".to_owned()));
        }
        Ok(events.into_iter().map(|event| self.store(event)).collect())
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, IntakeError> {
        Ok(self.cursors.lock().unwrap().get(name).cloned())
    }

    async fn save_cursor(&self, name: &str, value: &str) -> Result<(), IntakeError> {
        self.cursors.lock().unwrap().insert(name.to_owned(), value.to_owned());
        self.cursor_saves.lock().unwrap().push(value.to_owned());
        Ok(())
    }
}

/// The message key, then each argument's value on its own line; buttons labelled by key.
fn renderer() -> Renderer {
    Arc::new(|lang: Lang, reply: &Reply| {
        let mut text = format!("[{lang}] {}", reply.text.key);
        for (_, value) in &reply.text.args {
            text.push('\n');
            text.push_str(
                &serde_json::to_value(value).unwrap().as_str().map(str::to_owned).unwrap_or_default(),
            );
        }
        RenderedReply { text, buttons: key_buttons(reply), attachments: reply.attachments.clone() }
    })
}

/// A real 1x1 PNG.
fn tiny_png() -> Vec<u8> {
    crate::support::images::png(1, 1, 0)
}

type PollingTask = tokio::task::JoinHandle<Result<(), polling::PollingError>>;

struct TestBot {
    fake: FakeTelegram,
    channel: Arc<TelegramChannel>,
    intake: Arc<RecordingIntake>,
    media: MediaStore,
    _media_dir: tempfile::TempDir,
    webhook_url: Option<String>,
    polling: Option<(oneshot::Sender<()>, PollingTask)>,
    /// What the polling loop reports about the channel.
    states: ChannelStates,
}

#[derive(Clone, Copy, PartialEq)]
enum Start {
    /// Only the channel: for reading updates and delivering.
    Plain,
    /// The webhook route served on 127.0.0.1 and registered with the fake.
    Webhook,
}

async fn start_bot(start: Start, tweak: impl FnOnce(&mut TelegramSettings)) -> TestBot {
    let fake = FakeTelegram::start(TOKEN).await;
    let media_dir = tempfile::tempdir().unwrap();
    let media = MediaStore::new(media_dir.path(), switchboard::media::DEFAULT_MAX_BYTES);
    let intake = Arc::new(RecordingIntake::default());
    let mut settings = TelegramSettings::new(TOKEN);
    settings.api_url = Some(fake.api_url());
    settings.poll_timeout = Duration::from_secs(5);
    let listener = if start == Start::Webhook {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        settings.webhook_url = Some(format!("http://{}{}", listener.local_addr().unwrap(), webhook::PATH));
        settings.webhook_secret = Some(SECRET.to_owned());
        Some(listener)
    } else {
        None
    };
    tweak(&mut settings);
    let webhook_url = settings.webhook_url.clone();
    let channel =
        Arc::new(TelegramChannel::new(settings, media.clone(), renderer()).expect("valid settings"));
    if let Some(listener) = listener {
        let router = webhook::router(channel.clone(), intake.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        assert_eq!(channel.setup().await.unwrap(), Mode::Webhook);
    }
    let states = ChannelStates::default();
    TestBot { fake, channel, intake, media, _media_dir: media_dir, webhook_url, polling: None, states }
}

impl TestBot {
    fn start_polling(&mut self) {
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(polling::run(
            self.channel.clone(),
            self.intake.clone(),
            shutdown,
            self.states.clone(),
        ));
        self.polling = Some((stop, task));
    }

    async fn stop_polling(&mut self) {
        let (stop, task) = self.polling.take().expect("polling was started");
        stop.send(()).unwrap();
        task.await.unwrap().unwrap();
    }

    async fn read(&self, update: &Value) -> Option<InboundEvent> {
        self.channel.read_update(&parse_update(update)).await.unwrap()
    }

    fn cursor(&self) -> Option<String> {
        self.intake.cursors.lock().unwrap().get(&format!("telegram:{BOT_ID}:offset")).cloned()
    }
}

/// A fixture's updates, without the `_source` note.
fn fixture(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/fixtures/telegram/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let object = value.as_object_mut().unwrap();
    assert!(object.remove("_source").is_some(), "{name} must say where it comes from");
    match object.remove("updates") {
        Some(Value::Array(updates)) => updates,
        _ => vec![value],
    }
}

fn one(name: &str) -> Value {
    fixture(name).remove(0)
}

/// teloxide parses updates from text (not from a `Value`), as they arrive on the wire.
fn parse_update(update: &Value) -> Update {
    serde_json::from_str(&update.to_string()).unwrap()
}

fn input(event: &InboundEvent) -> &Input {
    match &event.kind {
        InboundKind::Input(input) => input,
        other => panic!("expected an input, got {other:?}"),
    }
}

fn delivery(outbox_id: i64, chat: i64, message: Outbound) -> Delivery {
    Delivery {
        outbox_id,
        external_id: chat.to_string(),
        contact_data: None,
        lang: Lang::En,
        message,
        ticket: None,
    }
}

fn agent_says(text: &str, attachments: Vec<MediaRef>) -> Outbound {
    Outbound::Agent { agent: "anna".to_owned(), text: text.to_owned(), attachments }
}

// ---------------------------------------------------------------------------------------------
// Reading real payloads

#[tokio::test]
async fn every_fixture_reads_as_the_right_event() {
    let bot = start_bot(Start::Plain, |_| {}).await;
    let png = tiny_png();
    for file_id in [
        "AgADAgAD36sxG-PX0UvQSXIn9rccdw-ACA4ABAEAAwIAA3kAAyTcBAABFgQ",
        "AgADAgAD36sxG-caption-large",
        "AgADAgAD-album-1-large",
        "AgADAgAD-album-2-large",
        "BQACAgIAAxkBAAIBdocument-png",
    ] {
        bot.fake.add_file(file_id, png.clone());
    }

    let text = bot.read(&one("text")).await.unwrap();
    assert_eq!(text.channel, "telegram");
    assert_eq!(text.event_id, format!("{BOT_ID}:892252934"));
    assert_eq!(text.external_id, "218485655");
    assert_eq!(text.language_hint.as_deref(), Some("en"));
    assert_eq!(text.display_name.as_deref(), Some("Waffle"));
    assert_eq!(input(&text), &Input::Text { text: "hello there".to_owned() });

    let command = bot.read(&one("command")).await.unwrap();
    assert_eq!(input(&command), &Input::Text { text: "/start".to_owned() });
    assert_eq!(command.language_hint.as_deref(), Some("ru"));

    let photo = bot.read(&one("photo")).await.unwrap();
    let Input::Photo { media, caption: None } = input(&photo) else { panic!("{photo:?}") };
    assert_eq!(media.content_type, "image/png");
    assert_eq!(bot.media.read(&media.sha256).await.unwrap(), Some(png.clone()));
    assert_eq!(photo.display_name.as_deref(), Some("Андрей Власов"));
    // The largest of the three sizes was fetched, and only it.
    let fetched: Vec<Value> =
        bot.fake.calls("getFile").iter().map(|call| call.params["file_id"].clone()).collect();
    assert_eq!(fetched, vec![json!("AgADAgAD36sxG-PX0UvQSXIn9rccdw-ACA4ABAEAAwIAA3kAAyTcBAABFgQ")]);

    let captioned = bot.read(&one("photo_caption")).await.unwrap();
    let Input::Photo { caption, .. } = input(&captioned) else { panic!("{captioned:?}") };
    assert_eq!(caption.as_deref(), Some("Коробка пришла мятая"));
    assert_eq!(captioned.language_hint.as_deref(), Some("ru-RU"));

    // An album arrives as one update per photo, and each is its own event.
    let album = fixture("media_group");
    assert_eq!(album.len(), 2);
    let first = bot.read(&album[0]).await.unwrap();
    let second = bot.read(&album[1]).await.unwrap();
    assert!(matches!(input(&first), Input::Photo { caption: Some(caption), .. } if caption == "both sides"));
    assert!(matches!(input(&second), Input::Photo { caption: None, .. }));
    assert_ne!(first.event_id, second.event_id);

    let document = bot.read(&one("image_document")).await.unwrap();
    assert!(matches!(input(&document), Input::Photo { caption: Some(caption), .. } if caption == "收据"));
    assert_eq!(document.language_hint.as_deref(), Some("zh-hans"));

    let pressed = bot.read(&one("callback_query")).await.unwrap();
    assert_eq!(input(&pressed), &Input::Button { action: Action::Helped });
    assert_eq!(pressed.external_id, CUSTOMER.to_string());

    // Data no release ever wrote is a stale button; without a message, the chat is the user's.
    let stale = bot.read(&one("callback_query_stale")).await.unwrap();
    assert_eq!(input(&stale), &Input::StaleButton);
    assert_eq!(stale.external_id, "12345");

    let edited = bot.read(&one("edited_message")).await.unwrap();
    assert_eq!(edited.kind, InboundKind::Edited { text: "hello there, order 12345".to_owned() });

    let blocked = bot.read(&one("my_chat_member_kicked")).await.unwrap();
    assert_eq!(blocked.kind, InboundKind::Reachability { reachable: false });
    assert_eq!(blocked.external_id, CUSTOMER.to_string());
    let unblocked = bot.read(&one("my_chat_member_member")).await.unwrap();
    assert_eq!(unblocked.kind, InboundKind::Reachability { reachable: true });

    let sticker = bot.read(&one("sticker")).await.unwrap();
    assert_eq!(input(&sticker), &Input::Unsupported { kind: ContentKind::Sticker });

    let group = bot.read(&one("group_message")).await.unwrap();
    assert_eq!(group.kind, InboundKind::GroupChat);
    assert_eq!(group.external_id, "-1001293752024");

    assert_eq!(bot.read(&one("unknown_kind")).await, None);
}

#[tokio::test]
async fn other_content_kinds_are_named_for_the_polite_reply() {
    let bot = start_bot(Start::Plain, |_| {}).await;
    let cases = [
        (
            json!({"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3, "mime_type": "audio/ogg", "file_size": 9000}}),
            ContentKind::Voice,
        ),
        (
            // From teloxide's `de_media_forwarded` test (MIT).
            json!({"video": {
                "duration": 13, "width": 512, "height": 640, "mime_type": "video/mp4",
                "file_id": "BAADAgADpgQAAgX9qEud6QcgPiOAlhYE", "file_unique_id": "", "file_size": 1381334
            }}),
            ContentKind::Video,
        ),
        (json!({"location": {"latitude": 55.75, "longitude": 37.61}}), ContentKind::Location),
        (json!({"contact": {"phone_number": "+70000000000", "first_name": "A"}}), ContentKind::Contact),
        (
            json!({"document": {"file_id": "d", "file_unique_id": "d", "mime_type": "application/pdf", "file_size": 10}}),
            ContentKind::Document,
        ),
        // teloxide cannot place this one (a voice note without its MIME type) and leaves the
        // message empty: still something the customer sent, so still a polite reply.
        (json!({"voice": {"file_id": "v", "file_unique_id": "v", "duration": 3}}), ContentKind::Other),
    ];
    for (content, kind) in cases {
        let mut update = one("text");
        let message = update["message"].as_object_mut().unwrap();
        message.remove("text");
        message.remove("link_preview_options");
        message.extend(content.as_object().unwrap().clone());
        let event = bot.read(&update).await.unwrap_or_else(|| panic!("{content} was not read"));
        assert_eq!(input(&event), &Input::Unsupported { kind }, "{content}");
    }
}

#[tokio::test]
async fn photos_over_the_limit_or_not_images_are_rejected_with_a_reason() {
    let bot = start_bot(Start::Plain, |_| {}).await;

    // Telegram says 25 MB: refused before asking for the file at all.
    let mut huge = one("photo");
    for size in huge["message"]["photo"].as_array_mut().unwrap() {
        size["file_size"] = json!(25 * 1024 * 1024);
    }
    let event = bot.read(&huge).await.unwrap();
    assert_eq!(input(&event), &Input::PhotoRejected { problem: PhotoProblem::TooLarge { limit_mb: 20 } });
    assert!(bot.fake.calls("getFile").is_empty());

    // The update understates the size, getFile tells the truth (Telegram refuses past 20 MB).
    bot.fake.add_file_claiming_size("AgADAgAD-album-1-large", tiny_png(), 21 * 1024 * 1024);
    let event = bot.read(&fixture("media_group")[0]).await.unwrap();
    assert_eq!(input(&event), &Input::PhotoRejected { problem: PhotoProblem::TooLarge { limit_mb: 20 } });

    // Sizes are optional in the Bot API: an unknown size is no reason to refuse.
    let mut unsized_document = one("image_document");
    unsized_document["message"]["document"].as_object_mut().unwrap().remove("file_size");
    bot.fake.add_file("BQACAgIAAxkBAAIBdocument-png", tiny_png());
    let event = bot.read(&unsized_document).await.unwrap();
    assert!(matches!(input(&event), Input::Photo { .. }), "{event:?}");

    // An "image" document whose bytes are not an image.
    bot.fake.add_file("BQACAgIAAxkBAAIBdocument-png", b"<html>not a picture</html>".to_vec());
    let event = bot.read(&one("image_document")).await.unwrap();
    assert_eq!(input(&event), &Input::PhotoRejected { problem: PhotoProblem::NotAnImage });
}

// ---------------------------------------------------------------------------------------------
// Webhook

#[tokio::test]
async fn webhook_setup_registers_the_secret_and_only_the_secret_gets_in() {
    let bot = start_bot(Start::Webhook, |_| {}).await;
    let url = bot.webhook_url.clone().unwrap();
    assert_eq!(bot.fake.webhook(), Some((url.clone(), Some(SECRET.to_owned()))));
    let set = bot.fake.calls("setWebhook");
    assert_eq!(
        set[0].params["allowed_updates"],
        json!(["message", "edited_message", "callback_query", "my_chat_member"])
    );

    let info: Value = reqwest::Client::new()
        .post(format!("{}/bot{TOKEN}/getWebhookInfo", bot.fake.api_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["result"]["url"], json!(url));

    let update = bot.fake.number_update(one("text"));
    let body = update.to_string().into_bytes();
    assert_eq!(bot.fake.post_raw(&url, body.clone(), None).await, 401);
    assert_eq!(bot.fake.post_raw(&url, body.clone(), Some("webhook_secret-43")).await, 401);
    assert_eq!(bot.fake.post_raw(&url, body.clone(), Some("")).await, 401);
    assert!(bot.intake.events().is_empty(), "nothing is stored without the secret");

    assert_eq!(bot.fake.post_to_webhook(&update).await, 200);
    assert_eq!(bot.intake.events().len(), 1);
    // A redelivery is answered 200 again; the engine's dedupe keeps it to one event.
    assert_eq!(bot.fake.post_to_webhook(&update).await, 200);
    assert_eq!(bot.intake.events().len(), 1);
}

/// The body limit is the channel's setting. Malformed bodies, content types and the rest of
/// the bad-input cases are in `bad_input.rs`, against the whole app.
#[tokio::test]
async fn webhook_refuses_bodies_over_its_configured_limit() {
    let bot = start_bot(Start::Webhook, |settings| settings.webhook_body_limit = 4096).await;
    let url = bot.webhook_url.clone().unwrap();
    let mut big = one("text");
    big["message"]["text"] = json!("a".repeat(8000));
    assert_eq!(bot.fake.post_raw(&url, big.to_string().into_bytes(), Some(SECRET)).await, 413);
    assert!(bot.intake.events().is_empty());
}

#[tokio::test]
async fn webhook_answers_500_until_the_update_is_stored() {
    let bot = start_bot(Start::Webhook, |_| {}).await;
    let update = bot.fake.number_update(one("text"));
    bot.intake.fail_next(1);
    assert_eq!(bot.fake.post_to_webhook(&update).await, 500);
    assert!(bot.intake.events().is_empty());
    assert_eq!(bot.fake.post_to_webhook(&update).await, 200);
    assert_eq!(bot.intake.events().len(), 1);

    // The photo cannot be fetched yet (Telegram's file server is failing): not stored, 500.
    bot.fake.add_file("AgADAgAD36sxG-PX0UvQSXIn9rccdw-ACA4ABAEAAwIAA3kAAyTcBAABFgQ", tiny_png());
    bot.fake.fail_next("getFile", Fault::TooManyRequests { retry_after: 1 });
    let photo = bot.fake.number_update(one("photo"));
    assert_eq!(bot.fake.post_to_webhook(&photo).await, 500);
    assert_eq!(bot.intake.events().len(), 1);
    assert_eq!(bot.fake.post_to_webhook(&photo).await, 200);
    assert!(matches!(input(&bot.intake.events()[1]), Input::Photo { .. }));
}

#[tokio::test]
async fn webhook_button_presses_are_answered_and_their_keyboard_removed() {
    let bot = start_bot(Start::Webhook, |_| {}).await;
    let press = bot.fake.number_update(one("callback_query"));
    assert_eq!(bot.fake.post_to_webhook(&press).await, 200);
    assert_eq!(input(&bot.intake.events()[0]), &Input::Button { action: Action::Helped });
    // Answered after the 200, so that a slow Bot API never delays the acknowledgement.
    let answered = bot.fake.wait_for_calls("answerCallbackQuery", 1).await;
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].params["callback_query_id"], json!("4382bfdwdsb323b2d9"));
    let edits = bot.fake.wait_for_calls("editMessageReplyMarkup", 1).await;
    assert_eq!(edits[0].params["chat_id"], json!(CUSTOMER));
    assert_eq!(edits[0].params["message_id"], json!(6560));

    // Stale buttons are answered too, or the customer's button would keep spinning.
    assert_eq!(bot.fake.post_to_webhook(&bot.fake.number_update(one("callback_query_stale"))).await, 200);
    assert_eq!(bot.fake.wait_for_calls("answerCallbackQuery", 2).await.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// Long polling

#[tokio::test]
async fn polling_confirms_the_offset_only_after_the_batch_is_stored() {
    let mut bot = start_bot(Start::Plain, |_| {}).await;
    assert_eq!(bot.channel.setup().await.unwrap(), Mode::Polling);
    assert_eq!(bot.fake.calls("deleteWebhook").len(), 1);

    let first = bot.fake.push_update(one("text"));
    let second = bot.fake.push_update(one("sticker"));
    bot.intake.fail_next(1);
    bot.start_polling();

    let events = bot.intake.wait_for_events(2).await;
    assert_eq!(events[0].event_id, format!("{BOT_ID}:{first}"));
    assert_eq!(events[1].event_id, format!("{BOT_ID}:{second}"));
    assert_eq!(bot.intake.batch_attempts.load(Ordering::SeqCst), 2);

    // The batch was fetched again at the old position, and confirmed only afterwards.
    let polls = bot.fake.wait_for_calls("getUpdates", 3).await;
    // The failed attempt saved nothing; the cursor moved once, past both updates. Read after
    // the third poll, which follows the save: this intake stores the events first and the
    // cursor next, so right after the events arrive the save may still be under way.
    assert_eq!(*bot.intake.cursor_saves.lock().unwrap(), vec![(second + 1).to_string()]);
    assert_eq!(polls[0].params.get("offset"), None);
    assert_eq!(polls[1].params.get("offset"), None);
    assert_eq!(polls[2].params["offset"], json!(second + 1));
    assert_eq!(
        polls[0].params["allowed_updates"],
        json!(["message", "edited_message", "callback_query", "my_chat_member"])
    );
    assert_eq!(polls[0].params["timeout"], json!(5));
    assert!(bot.fake.pending_update_ids().is_empty());
    bot.stop_polling().await;
}

#[tokio::test]
async fn failing_get_updates_shows_the_channel_as_retrying_until_telegram_answers() {
    let mut bot = start_bot(Start::Plain, |_| {}).await;
    bot.states.set("telegram", ChannelState::Up);
    bot.fake.fail_next("getUpdates", Fault::ServerError);
    bot.fake.fail_next("getUpdates", Fault::ServerError);
    bot.start_polling();
    let retrying =
        bot.states.wait_for("telegram", |state| matches!(state, ChannelState::Retrying { attempt: 2, .. }));
    tokio::time::timeout(Duration::from_secs(20), retrying).await.expect("two failures are reported");
    assert!(!bot.states.problems()[0].contains(TOKEN), "the token stays out of the reason");
    let up = bot.states.wait_for("telegram", |state| *state == ChannelState::Up);
    tokio::time::timeout(Duration::from_secs(20), up).await.expect("up again once getUpdates answers");
    bot.stop_polling().await;
}

#[tokio::test]
async fn polling_resumes_from_the_saved_offset_and_acknowledges_unknown_kinds() {
    let mut bot = start_bot(Start::Plain, |_| {}).await;
    bot.intake.cursors.lock().unwrap().insert(format!("telegram:{BOT_ID}:offset"), "10001".to_owned());
    bot.start_polling();
    let first_poll = bot.fake.wait_for_calls("getUpdates", 1).await;
    assert_eq!(first_poll[0].params["offset"], json!(10001));

    let unknown = bot.fake.push_update(one("unknown_kind"));
    let press = bot.fake.push_update(one("callback_query"));
    let events = bot.intake.wait_for_events(1).await;
    assert_eq!(events.len(), 1, "the unknown kind is acknowledged without an event");
    assert_eq!(events[0].event_id, format!("{BOT_ID}:{press}"));
    assert!(press > unknown);
    bot.fake.wait_for_calls("answerCallbackQuery", 1).await;
    bot.stop_polling().await;
    assert_eq!(bot.cursor(), Some((press + 1).to_string()));
}

#[tokio::test]
async fn polling_stores_a_photo_album_in_one_batch_and_survives_a_slow_api() {
    let mut bot = start_bot(Start::Plain, |_| {}).await;
    bot.fake.add_file("AgADAgAD-album-1-large", tiny_png());
    bot.fake.add_file("AgADAgAD-album-2-large", tiny_png());
    bot.fake.fail_next("getFile", Fault::Slow(Duration::from_millis(300)));
    for update in fixture("media_group") {
        bot.fake.push_update(update);
    }
    bot.start_polling();
    let events = bot.intake.wait_for_events(2).await;
    assert!(events.iter().all(|event| matches!(input(event), Input::Photo { .. })));
    bot.stop_polling().await;
}

// ---------------------------------------------------------------------------------------------
// Outbound

#[tokio::test]
async fn replies_carry_native_keyboards_with_encoded_actions() {
    let bot = start_bot(Start::Plain, |_| {}).await;
    let reply = Reply::new("menu-prompt")
        .row(vec![
            Button::new("menu-order", Action::Issue(IssueType::Order)),
            Button::new("menu-payment", Action::Issue(IssueType::Payment)),
        ])
        .row(vec![Button::new("menu-human", Action::Human)]);
    bot.channel.deliver(&delivery(1, CUSTOMER, Outbound::Bot(reply))).await.unwrap();

    let sent = bot.fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].params["chat_id"], json!(CUSTOMER));
    assert_eq!(sent[0].params["text"], json!("[en] menu-prompt"));
    assert_eq!(sent[0].params.get("parse_mode"), None, "plain text: nothing is read as markup");
    assert_eq!(
        sent[0].params["reply_markup"],
        json!({"inline_keyboard": [
            [{"text": "menu-order", "callback_data": "i:order"}, {"text": "menu-payment", "callback_data": "i:payment"}],
            [{"text": "menu-human", "callback_data": "human"}]
        ]})
    );
    // What comes back when pressed decodes to the same action.
    let data = sent[0].params["reply_markup"]["inline_keyboard"][0][0]["callback_data"].as_str().unwrap();
    assert_eq!(Action::decode(data), Some(Action::Issue(IssueType::Order)));
}

/// With a proxy in the environment the per-message calls go through reqwest (which honours
/// it) instead of the direct client: the same requests and the same error mapping either way.
#[tokio::test]
async fn replies_and_errors_are_the_same_through_the_proxy_capable_client() {
    let bot = start_bot(Start::Plain, |settings| settings.proxy_from_environment = true).await;
    let reply = Reply::new("menu-prompt").row(vec![Button::new("menu-human", Action::Human)]);
    bot.channel.deliver(&delivery(1, CUSTOMER, Outbound::Bot(reply))).await.unwrap();
    let sent = bot.fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].params["text"], json!("[en] menu-prompt"));
    assert_eq!(
        sent[0].params["reply_markup"],
        json!({"inline_keyboard": [[{"text": "menu-human", "callback_data": "human"}]]})
    );

    bot.fake.fail_next("sendMessage", Fault::TooManyRequests { retry_after: 9 });
    let result = bot.channel.deliver(&delivery(2, CUSTOMER, agent_says("hello", vec![]))).await;
    assert_eq!(result, Err(DeliveryError::RetryAfter(Duration::from_secs(9))));
}

#[tokio::test]
async fn long_texts_are_split_with_the_keyboard_on_the_last_part() {
    let bot = start_bot(Start::Plain, |settings| settings.rate_limits = false).await;
    let body = "Пункт выдачи 😀 работает с 9 до 21. ".repeat(300);
    let reply = Reply::new("faq-answer")
        .arg("body", body.as_str())
        .row(vec![Button::new("faq-helped", Action::Helped)]);
    bot.channel.deliver(&delivery(2, CUSTOMER, Outbound::Bot(reply))).await.unwrap();

    let sent = bot.fake.sent();
    assert!(sent.len() >= 3, "{} parts", sent.len());
    for (index, part) in sent.iter().enumerate() {
        let text = part.params["text"].as_str().unwrap();
        assert!(text.encode_utf16().count() <= 4096);
        assert_eq!(part.params.get("reply_markup").is_some(), index == sent.len() - 1);
    }
    let words = |text: &str| text.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
    let received: Vec<String> =
        sent.iter().flat_map(|part| words(part.params["text"].as_str().unwrap())).collect();
    assert_eq!(received, words(&format!("[en] faq-answer\n{body}")));
}

#[tokio::test]
async fn agent_words_go_verbatim_and_photos_are_uploaded() {
    let bot = start_bot(Start::Plain, |_| {}).await;
    let stored = bot.media.store(&tiny_png()).await.unwrap();
    let words = "Here is *your* <b>label</b> & [link](x)";
    bot.channel.deliver(&delivery(3, CUSTOMER, agent_says(words, vec![stored.clone()]))).await.unwrap();

    let sent = bot.fake.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].method, "sendMessage");
    assert_eq!(sent[0].params["text"], json!(words));
    assert_eq!(sent[1].method, "sendPhoto");
    assert_eq!(sent[1].params["chat_id"], json!(CUSTOMER.to_string()));
    assert_eq!(sent[1].uploads.len(), 1);
    // teloxide names the part and points `photo` at it, as the Bot API allows.
    assert_eq!(sent[1].params["photo"], json!(format!("attach://{}", sent[1].uploads[0].field)));
    assert_eq!(sent[1].uploads[0].bytes, tiny_png());

    // A photo that is no longer stored fails before anything is sent.
    let gone = MediaRef { sha256: "f".repeat(64), content_type: "image/png".to_owned(), bytes: 1 };
    let result = bot.channel.deliver(&delivery(4, CUSTOMER, agent_says("see", vec![gone]))).await;
    assert!(matches!(result, Err(DeliveryError::Permanent { unreachable: false, .. })), "{result:?}");
    assert_eq!(bot.fake.sent().len(), 2);
}

#[tokio::test]
async fn a_429_is_retry_after_its_exact_seconds_and_holds_only_that_chat() {
    let bot = start_bot(Start::Plain, |_| {}).await;
    bot.fake.fail_next("sendMessage", Fault::TooManyRequests { retry_after: 17 });
    let result = bot.channel.deliver(&delivery(5, CUSTOMER, agent_says("hello", vec![]))).await;
    assert_eq!(result, Err(DeliveryError::RetryAfter(Duration::from_secs(17))));

    // Until then the chat gets nothing, and Telegram is not even asked.
    let calls_before = bot.fake.calls("sendMessage").len();
    let held = bot.channel.deliver(&delivery(6, CUSTOMER, agent_says("again", vec![]))).await;
    let Err(DeliveryError::RetryAfter(wait)) = held else { panic!("{held:?}") };
    assert!(wait <= Duration::from_secs(17) && wait > Duration::ZERO, "{wait:?}");
    assert_eq!(bot.fake.calls("sendMessage").len(), calls_before);

    // Another chat is unaffected.
    bot.channel.deliver(&delivery(7, 42, agent_says("hi", vec![]))).await.unwrap();
}

#[tokio::test]
async fn a_retried_multipart_delivery_resumes_where_it_stopped() {
    let bot = start_bot(Start::Plain, |settings| settings.rate_limits = false).await;
    let text = format!("{}\n\n{}", "a".repeat(4000), "b".repeat(4000));
    bot.fake.pass_next("sendMessage");
    bot.fake.fail_next("sendMessage", Fault::TooManyRequests { retry_after: 1 });
    let first = bot.channel.deliver(&delivery(8, CUSTOMER, agent_says(&text, vec![]))).await;
    assert_eq!(first, Err(DeliveryError::RetryAfter(Duration::from_secs(1))));

    // The outbox waits retry_after, then tries again.
    while let Some(wait) = bot.channel.limits().held_for(CUSTOMER) {
        tokio::time::sleep(wait).await;
    }
    bot.channel.deliver(&delivery(8, CUSTOMER, agent_says(&text, vec![]))).await.unwrap();
    let texts: Vec<String> = bot
        .fake
        .calls("sendMessage")
        .iter()
        .map(|call| call.params["text"].as_str().unwrap()[..1].to_owned())
        .collect();
    // "a" once (not repeated), "b" refused once, then "b" delivered.
    assert_eq!(texts, vec!["a", "b", "b"]);
}

#[tokio::test]
async fn a_blocked_user_fails_permanently_and_is_marked_unreachable() {
    let bot = start_bot(Start::Plain, |_| {}).await;
    bot.fake.block_chat(CUSTOMER);
    let result = bot.channel.deliver(&delivery(9, CUSTOMER, agent_says("hello?", vec![]))).await;
    assert!(matches!(result, Err(DeliveryError::Permanent { unreachable: true, .. })), "{result:?}");

    bot.fake.fail_next("sendMessage", Fault::Forbidden("Forbidden: user is deactivated".to_owned()));
    let result = bot.channel.deliver(&delivery(10, 77, agent_says("hello?", vec![]))).await;
    assert!(matches!(result, Err(DeliveryError::Permanent { unreachable: true, .. })), "{result:?}");
}

#[tokio::test]
async fn a_bad_request_is_permanent_but_the_contact_stays_reachable() {
    let bot = start_bot(Start::Plain, |_| {}).await;
    bot.fake.fail_next("sendMessage", Fault::BadRequest("Bad Request: can't parse entities".to_owned()));
    let result = bot.channel.deliver(&delivery(11, CUSTOMER, agent_says("x", vec![]))).await;
    assert!(matches!(result, Err(DeliveryError::Permanent { unreachable: false, .. })), "{result:?}");
}

#[tokio::test]
async fn a_server_error_is_transient_and_never_shows_the_token() {
    // teloxide waits 10 s after any 5xx before returning; this test pays that once.
    let bot = start_bot(Start::Plain, |_| {}).await;
    bot.fake.fail_next("sendMessage", Fault::ServerError);
    let result = bot.channel.deliver(&delivery(12, CUSTOMER, agent_says("x", vec![]))).await;
    let Err(DeliveryError::Transient(reason)) = result else { panic!("{result:?}") };
    assert!(!reason.contains("AAHdqTcv"), "{reason}");

    // A network failure (nothing listens there) is transient too, and its URL is redacted.
    let mut settings = TelegramSettings::new(TOKEN);
    settings.api_url = Some("http://127.0.0.1:9".to_owned());
    let unreachable = TelegramChannel::new(settings, bot.media.clone(), renderer()).unwrap();
    let result = unreachable.deliver(&delivery(13, CUSTOMER, agent_says("x", vec![]))).await;
    let Err(DeliveryError::Transient(reason)) = result else { panic!("{result:?}") };
    assert!(!reason.contains("AAHdqTcv"), "{reason}");
}

#[tokio::test]
async fn setup_checks_the_token_belongs_to_the_bot() {
    let fake = FakeTelegram::start("987654321:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq").await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = TelegramSettings::new(TOKEN);
    settings.api_url = Some(fake.api_url());
    let channel = TelegramChannel::new(settings, MediaStore::new(dir.path(), 1024), renderer()).unwrap();
    // The fake knows another token: Telegram's "Unauthorized".
    assert!(channel.setup().await.is_err());
    // Polling with a token Telegram refuses stops with an error instead of spinning.
    let intake = Arc::new(RecordingIntake::default());
    let result =
        polling::run(Arc::new(channel), intake, std::future::pending(), ChannelStates::default()).await;
    assert!(matches!(result, Err(polling::PollingError::InvalidToken)), "{result:?}");

    let bad = TelegramSettings::new("not-a-token");
    let error = TelegramChannel::new(bad, MediaStore::new(dir.path(), 1024), renderer()).err().unwrap();
    assert!(error.to_string().contains("token is malformed"), "{error}");
}
