//! The VK channel against a fake VK speaking the real protocol: fixtures from public suites,
//! the Callback API route, the Long Poll loop, and delivery through `messages.send`.
//!
//! The engine is not part of these tests: a recording `Intake` stands in for it, storing
//! events, deduplicating on (channel, event id) and keeping cursors, so the channel's own
//! promises (acknowledge only after storing, save `ts` only after storing) are checked here.

use crate::support::fake_vk::{self, FakeVk, png};
use crate::support::key_buttons::key_buttons;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use switchboard::channel_state::{ChannelState, ChannelStates};
use switchboard::channels::vk::{VkChannel, callback, inbound::Received, longpoll};
use switchboard::channels::{
    Accepted, Channel, Delivery, DeliveryError, InboundEvent, InboundKind, Intake, IntakeError, Renderer,
};
use switchboard::config::vk::{VkMode, VkSettings};
use switchboard::core::dialog::{ContentKind, Input, PhotoProblem};
use switchboard::core::message::{Action, Button, IssueType, Lang, MediaRef, Outbound, Reply};
use switchboard::i18n::RenderedReply;
use switchboard::media::MediaStore;
use tower::ServiceExt;

/// Stands in for the engine: stores events once per (channel, event id), keeps cursors, and
/// can be told to refuse the next batches (as if the database were down).
#[derive(Default)]
struct RecordingIntake {
    events: Mutex<Vec<InboundEvent>>,
    seen: Mutex<HashSet<(String, String)>>,
    duplicates: AtomicUsize,
    cursors: Mutex<HashMap<String, String>>,
    saved: Mutex<Vec<String>>,
    refuse: AtomicUsize,
}

impl RecordingIntake {
    fn events(&self) -> Vec<InboundEvent> {
        self.events.lock().unwrap().clone()
    }

    fn inputs(&self) -> Vec<Input> {
        self.events()
            .into_iter()
            .filter_map(|event| match event.kind {
                InboundKind::Input(input) => Some(input),
                _ => None,
            })
            .collect()
    }

    fn saved(&self) -> Vec<String> {
        self.saved.lock().unwrap().clone()
    }
}

#[async_trait::async_trait]
impl Intake for RecordingIntake {
    async fn accept(&self, event: InboundEvent) -> Result<Accepted, IntakeError> {
        Ok(self.accept_batch(vec![event]).await?.remove(0))
    }

    async fn accept_batch(&self, events: Vec<InboundEvent>) -> Result<Vec<Accepted>, IntakeError> {
        if self.refuse.load(Ordering::SeqCst) > 0 {
            self.refuse.fetch_sub(1, Ordering::SeqCst);
            return Err(IntakeError::NotStored("the test refuses this batch".to_owned()));
        }
        let mut results = Vec::new();
        for event in events {
            if self.seen.lock().unwrap().insert((event.channel.to_owned(), event.event_id.clone())) {
                self.events.lock().unwrap().push(event);
                results.push(Accepted::Applied { replies: 0 });
            } else {
                self.duplicates.fetch_add(1, Ordering::SeqCst);
                results.push(Accepted::Duplicate);
            }
        }
        Ok(results)
    }

    async fn cursor(&self, name: &str) -> Result<Option<String>, IntakeError> {
        Ok(self.cursors.lock().unwrap().get(name).cloned())
    }

    async fn save_cursor(&self, name: &str, value: &str) -> Result<(), IntakeError> {
        self.cursors.lock().unwrap().insert(name.to_owned(), value.to_owned());
        self.saved.lock().unwrap().push(value.to_owned());
        Ok(())
    }
}

/// Renders a reply as its key followed by its text arguments, with buttons labelled by key.
fn renderer() -> Renderer {
    Arc::new(|_lang: Lang, reply: &Reply| {
        let mut text = reply.text.key.clone();
        for (_, value) in &reply.text.args {
            if let switchboard::core::message::Arg::Text(value) = value {
                text = value.clone();
            }
        }
        RenderedReply { text, buttons: key_buttons(reply), attachments: reply.attachments.clone() }
    })
}

struct Setup {
    fake: FakeVk,
    channel: VkChannel,
    intake: Arc<RecordingIntake>,
    media: MediaStore,
    _media_dir: tempfile::TempDir,
}

async fn setup_with(mode: VkMode, max_bytes: u64, adjust: impl FnOnce(&mut VkSettings)) -> Setup {
    let fake = FakeVk::start().await;
    let media_dir = tempfile::tempdir().unwrap();
    let media = MediaStore::new(media_dir.path(), max_bytes);
    let mut settings = fake.settings(mode);
    adjust(&mut settings);
    let channel = VkChannel::new(settings, media.clone(), renderer()).unwrap();
    Setup { fake, channel, intake: Arc::new(RecordingIntake::default()), media, _media_dir: media_dir }
}

async fn setup(mode: VkMode) -> Setup {
    setup_with(mode, switchboard::media::DEFAULT_MAX_BYTES, |_| {}).await
}

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/vk").join(name);
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    value.as_object_mut().unwrap().remove("_source");
    value
}

/// Points VK's photo URLs at the fake's file server.
fn rewrite_photo_urls(value: &mut Value, fake: &FakeVk) {
    match value {
        Value::String(text) if text.starts_with("https://sun9-80.userapi.com/") => {
            *text = text.replace("https://sun9-80.userapi.com/", &format!("{}/files/", fake.base_url));
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_photo_urls(item, fake)),
        Value::Object(map) => map.values_mut().for_each(|item| rewrite_photo_urls(item, fake)),
        _ => {}
    }
}

/// Waits for a condition that another task makes true; gives up after half a minute.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..600 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("gave up waiting for {what}");
}

fn single_input(received: &Received) -> Input {
    assert_eq!(received.events.len(), 1, "{received:?}");
    match &received.events[0].kind {
        InboundKind::Input(input) => input.clone(),
        other => panic!("expected an input, got {other:?}"),
    }
}

fn delivery(outbox_id: i64, contact_data: Option<Value>, message: Outbound) -> Delivery {
    Delivery { outbox_id, external_id: "564321".into(), contact_data, lang: Lang::Ru, message, ticket: None }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[tokio::test]
async fn photo_fixture_downloads_the_largest_size_of_each_photo() {
    let vk = setup(VkMode::LongPoll).await;
    let mut event = fixture("message_new_photos.json");
    rewrite_photo_urls(&mut event, &vk.fake);
    // Only the largest copies are served: a smaller pick would 404 and be rejected.
    let first = png(266, 109);
    let second = png(1280, 1024);
    vk.fake.serve_file("impg/d13Zho8k/cHa2yTAlsB0-x.jpg", first.clone());
    vk.fake.serve_file("impg/e24Aip9l/dIb3zUBmtC1-z.jpg", second.clone());

    let received = vk.channel.receiver().receive_value(&event).await.unwrap();

    let ids: Vec<&str> = received.events.iter().map(|event| event.event_id.as_str()).collect();
    assert_eq!(
        ids,
        ["2ca14315a711218d7392a46b44e22e74ad6273c3", "2ca14315a711218d7392a46b44e22e74ad6273c3#1"]
    );
    let photos: Vec<(String, Option<String>)> = received
        .events
        .iter()
        .map(|event| match &event.kind {
            InboundKind::Input(Input::Photo { media, caption }) => (media.sha256.clone(), caption.clone()),
            other => panic!("expected a photo, got {other:?}"),
        })
        .collect();
    assert_eq!(
        photos,
        [(sha256_hex(&first), Some("The box arrived crushed".to_owned())), (sha256_hex(&second), None)]
    );
    assert_eq!(vk.media.read(&sha256_hex(&second)).await.unwrap(), Some(second));
    let event = &received.events[0];
    assert_eq!((event.channel, event.external_id.as_str()), ("vk", "259166248"));
    assert_eq!(event.language_hint.as_deref(), Some("ru"));
    let contact = event.contact_data.as_ref().unwrap();
    assert_eq!(contact["inline_keyboard"], false);
    assert!(contact["button_actions"].as_array().unwrap().contains(&json!("callback")));
}

#[tokio::test]
async fn photos_too_large_missing_or_not_images_are_rejected_politely() {
    let vk = setup_with(VkMode::LongPoll, 64, |_| {}).await;
    let mut big = png(10, 10);
    big.resize(1000, 0);
    let url_big = vk.fake.serve_file("big.jpg", big);
    let url_text = vk.fake.serve_file("note.jpg", b"<html>not a picture</html>".to_vec());
    let url_gone = format!("{}/files/gone.jpg", vk.fake.base_url);
    let receiver = vk.channel.receiver();
    let check = |url: String, expected: PhotoProblem| {
        let receiver = receiver.clone();
        async move {
            let event = json!({"type": "message_new", "event_id": url.clone(), "object": {"message": {
                "peer_id": 5, "from_id": 5, "text": "", "attachments": [{"type": "photo", "photo": {
                    "sizes": [{"type": "x", "url": url, "width": 604, "height": 400}]}}]}}});
            let received = receiver.receive_value(&event).await.unwrap();
            assert_eq!(single_input(&received), Input::PhotoRejected { problem: expected });
        }
    };
    check(url_big, PhotoProblem::TooLarge { limit_mb: 0 }).await;
    check(url_text, PhotoProblem::NotAnImage).await;
    check(url_gone, PhotoProblem::NotAnImage).await;

    // An image sent as a file announces its size: too large is known without downloading.
    let document = json!({"type": "message_new", "object": {"message": {"peer_id": 5, "from_id": 5, "text": "",
        "attachments": [{"type": "doc", "doc": {"type": 4, "size": 5_000_000, "url": format!("{}/files/none", vk.fake.base_url)}}]}}});
    let received = receiver.receive_value(&document).await.unwrap();
    assert_eq!(
        single_input(&received),
        Input::PhotoRejected { problem: PhotoProblem::TooLarge { limit_mb: 0 } }
    );
}

#[tokio::test]
async fn photos_come_only_from_vk_hosts_and_redirects_lead_nowhere_else() {
    let vk = setup(VkMode::LongPoll).await;
    let photo = png(20, 20);
    let from_vk = vk.fake.serve_file("ok.png", photo.clone());
    // The same server under another name: not VK's host, nor the configured API's address.
    let elsewhere = from_vk.replace("127.0.0.1", "localhost");
    let redirected = vk.fake.redirect_to(&elsewhere);
    let receiver = vk.channel.receiver();
    let receive = |url: String| {
        let receiver = receiver.clone();
        async move {
            let event = json!({"type": "message_new", "event_id": url.clone(), "object": {"message": {
                "peer_id": 5, "from_id": 5, "text": "", "attachments": [{"type": "photo", "photo": {
                    "sizes": [{"type": "x", "url": url, "width": 604, "height": 400}]}}]}}});
            single_input(&receiver.receive_value(&event).await.unwrap())
        }
    };
    for url in [elsewhere, redirected] {
        assert_eq!(
            receive(url.clone()).await,
            Input::PhotoRejected { problem: PhotoProblem::NotAnImage },
            "{url}"
        );
    }
    assert!(vk.fake.downloads().is_empty(), "nothing was fetched: {:?}", vk.fake.downloads());
    assert!(matches!(receive(from_vk).await, Input::Photo { .. }));
    assert_eq!(vk.fake.downloads(), ["ok.png"]);
}

#[tokio::test]
async fn the_other_fixtures_become_the_inputs_the_dialog_expects() {
    let vk = setup(VkMode::LongPoll).await;
    let receiver = vk.channel.receiver();

    let envelope = fixture("longpoll_envelope.json");
    let updates = envelope["updates"].as_array().unwrap();
    assert_eq!(
        receiver.receive_value(&updates[0]).await.unwrap(),
        Received::default(),
        "wall posts are ignored"
    );
    let text = receiver.receive_value(&updates[1]).await.unwrap();
    assert_eq!(single_input(&text), Input::Text { text: "test".into() });
    assert_eq!(text.events[0].language_hint.as_deref(), Some("en"));
    assert_eq!(text.events[0].contact_data.as_ref().unwrap()["inline_keyboard"], true);

    let press = receiver.receive_value(&fixture("message_event.json")).await.unwrap();
    assert_eq!(single_input(&press), Input::Button { action: Action::Issue(IssueType::Order) });
    assert_eq!(press.presses.len(), 1);
    assert_eq!(press.presses[0].press_id, "3159dc190b1g");
    assert_eq!(press.events[0].external_id, "564321");

    let sticker = receiver.receive_value(&fixture("message_new_sticker.json")).await.unwrap();
    assert_eq!(single_input(&sticker), Input::Unsupported { kind: ContentKind::Sticker });

    let button = receiver.receive_value(&fixture("message_new_button.json")).await.unwrap();
    assert_eq!(single_input(&button), Input::Button { action: Action::Issue(IssueType::Payment) });
    // No lang_id in this client_info: the configured default applies.
    assert_eq!(button.events[0].language_hint.as_deref(), Some("ru"));

    let deny = receiver.receive_value(&fixture("message_deny.json")).await.unwrap();
    assert_eq!(deny.events.len(), 1);
    assert_eq!(deny.events[0].kind, InboundKind::Reachability { reachable: false });
    assert_eq!(deny.events[0].external_id, "564321");

    // Variations on the same shapes: a stale payload, VK's Start button, a group chat, a voice
    // message, a text with a link.
    let message = |message: Value| json!({"type": "message_new", "object": {"message": message}});
    let cases = [
        (
            json!({"peer_id": 9, "from_id": 9, "text": "Old", "payload": "{\"sb\":\"i:pizza\"}"}),
            Input::StaleButton,
        ),
        (
            json!({"peer_id": 9, "from_id": 9, "text": "Old", "payload": "{\"cmd\":\"x\"}"}),
            Input::StaleButton,
        ),
        (
            json!({"peer_id": 9, "from_id": 9, "text": "Start", "payload": "{\"command\":\"start\"}"}),
            Input::Text { text: "/start".into() },
        ),
        (
            json!({"peer_id": 9, "from_id": 9, "text": "", "attachments": [{"type": "audio_message", "audio_message": {}}]}),
            Input::Unsupported { kind: ContentKind::Voice },
        ),
        (
            json!({"peer_id": 9, "from_id": 9, "text": "see https://example.com", "attachments": [{"type": "link", "link": {"url": "https://example.com"}}]}),
            Input::Text { text: "see https://example.com".into() },
        ),
    ];
    for (body, expected) in cases {
        let received = receiver.receive_value(&message(body.clone())).await.unwrap();
        assert_eq!(single_input(&received), expected, "{body}");
    }
    let edit = |out: i64| {
        json!({"type": "message_edit", "event_id": format!("edit-{out}"), "object": {
            "peer_id": 9, "from_id": if out == 1 { -123456 } else { 9 }, "out": out, "text": "order 12345, not 12354"}})
    };
    let edited = receiver.receive_value(&edit(0)).await.unwrap();
    assert_eq!(edited.events[0].kind, InboundKind::Edited { text: "order 12345, not 12354".into() });
    assert_eq!(receiver.receive_value(&edit(1)).await.unwrap(), Received::default(), "our own edits");

    let chat = receiver
        .receive_value(&message(json!({"peer_id": 2_000_000_001, "from_id": 9, "text": "hi all"})))
        .await
        .unwrap();
    assert_eq!(chat.events[0].kind, InboundKind::GroupChat);
}

async fn post(router: &axum::Router, body: impl Into<Body>) -> (StatusCode, String) {
    let request = Request::post(callback::CALLBACK_PATH)
        .header("content-type", "application/json")
        .body(body.into())
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(bytes.to_vec()).unwrap())
}

#[tokio::test]
async fn callback_confirmation_and_secret_cases_from_vksdk() {
    let vk = setup(VkMode::Callback).await;
    let router = callback::router(vk.channel.receiver(), vk.intake.clone());
    let suite = fixture("callback_cases.json");
    assert_eq!(suite["confirmation"], fake_vk::CONFIRMATION);
    assert_eq!(suite["secret"], fake_vk::SECRET);
    for case in suite["cases"].as_array().unwrap() {
        let before = vk.intake.events().len();
        let (status, answer) = post(&router, case["body"].to_string()).await;
        let name = case["name"].as_str().unwrap();
        assert_eq!(status.as_u16(), case["status"].as_u64().unwrap() as u16, "{name}: {answer}");
        if let Some(expected) = case["answer"].as_str() {
            assert_eq!(answer, expected, "{name}");
        }
        assert_eq!(vk.intake.events().len() - before, case["stored"].as_u64().unwrap() as usize, "{name}");
    }
    // A secret check that compares lengths first would still refuse these; so must we.
    for secret in ["", "secret_123456789", "SECRET_1234567890", "secret_1234567890-and-more"] {
        let body = json!({"type": "confirmation", "group_id": fake_vk::GROUP_ID, "secret": secret});
        assert_eq!(post(&router, body.to_string()).await.0, StatusCode::FORBIDDEN, "{secret:?}");
    }
}

#[tokio::test]
async fn callback_acknowledges_only_stored_events_and_answers_button_presses() {
    let vk = setup(VkMode::Callback).await;
    let router = callback::router(vk.channel.receiver(), vk.intake.clone());
    let press = fixture("message_event.json").to_string();

    // The database is down: no `ok`, so VK retries; the spinner is not stopped either.
    vk.intake.refuse.store(1, Ordering::SeqCst);
    let (status, _) = post(&router, press.clone()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(vk.intake.events().is_empty());
    assert!(vk.fake.calls_of("messages.sendMessageEventAnswer").is_empty());

    // VK's retry is stored and acknowledged, and the press is answered.
    assert_eq!(post(&router, press.clone()).await, (StatusCode::OK, "ok".to_owned()));
    assert_eq!(vk.intake.inputs(), [Input::Button { action: Action::Issue(IssueType::Order) }]);
    // Answered after the `ok`, so that a slow answer never delays the acknowledgement.
    eventually("the press to be answered", || {
        !vk.fake.calls_of("messages.sendMessageEventAnswer").is_empty()
    })
    .await;
    let answers = vk.fake.calls_of("messages.sendMessageEventAnswer");
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].params["event_id"], "3159dc190b1g");
    assert_eq!(answers[0].params["user_id"], "564321");
    assert_eq!(answers[0].params["peer_id"], "564321");

    // The same event delivered twice: acknowledged again, stored once.
    assert_eq!(post(&router, press).await, (StatusCode::OK, "ok".to_owned()));
    assert_eq!(vk.intake.events().len(), 1);
    assert_eq!(vk.intake.duplicates.load(Ordering::SeqCst), 1);
}

fn text_event(id: &str, text: &str) -> Value {
    json!({"type": "message_new", "group_id": fake_vk::GROUP_ID, "event_id": id, "v": "5.199", "object": {
        "message": {"peer_id": 564321, "from_id": 564321, "id": 1, "text": text, "out": 0},
        "client_info": {"button_actions": ["text", "callback"], "keyboard": true, "inline_keyboard": true, "lang_id": 0}}})
}

fn texts(intake: &RecordingIntake) -> Vec<String> {
    intake
        .inputs()
        .into_iter()
        .filter_map(|input| match input {
            Input::Text { text } => Some(text),
            _ => None,
        })
        .collect()
}

/// Runs the long poll in a task until the returned sender fires.
fn start_long_poll(
    vk: &Setup,
    states: ChannelStates,
) -> (tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<Result<(), longpoll::LongPollError>>) {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    (stop, tokio::spawn(longpoll::run(vk.channel.receiver(), vk.intake.clone(), shutdown, states)))
}

#[tokio::test]
async fn long_poll_recovers_from_failed_1_2_3_and_saves_ts_only_after_storing() {
    let vk = setup(VkMode::LongPoll).await;
    vk.intake.refuse.store(1, Ordering::SeqCst);
    let (stop, poller) = start_long_poll(&vk, ChannelStates::default());
    // Like VK, the fake only delivers events that arrive after the poller connected.
    eventually("the first poll", || !vk.fake.polls().is_empty()).await;
    vk.fake.push_event(text_event("ev-a", "first"));

    eventually("the first event", || texts(&vk.intake) == ["first"]).await;
    // The refused batch was polled again from the same position, and the position was saved
    // only once the batch was stored.
    let polls = vk.fake.polls();
    assert!(polls.len() >= 2, "{polls:?}");
    assert!(polls.iter().take(2).all(|poll| poll.ts == "1000"), "{polls:?}");
    assert!(polls.iter().all(|poll| poll.wait == "1"), "{polls:?}");
    eventually("the saved position", || vk.intake.saved() == ["1001"]).await;

    // failed 1: history lost; carry on from VK's ts.
    vk.fake.fail_next_poll(1);
    eventually("failed 1 to be served", || vk.fake.pending_poll_failures() == 0).await;
    vk.fake.push_event(text_event("ev-b", "second"));
    eventually("the event after failed 1", || texts(&vk.intake) == ["first", "second"]).await;

    // failed 2: the key expired; a new key, the same ts.
    vk.fake.fail_next_poll(2);
    eventually("failed 2 to be served", || vk.fake.pending_poll_failures() == 0).await;
    vk.fake.push_event(text_event("ev-c", "third"));
    eventually("the event after failed 2", || texts(&vk.intake) == ["first", "second", "third"]).await;
    assert!(vk.fake.calls_of("groups.getLongPollServer").len() >= 2);
    assert!(vk.fake.polls().iter().any(|poll| poll.key == "key-1"), "the new key was used");

    // failed 3: a new key and a new ts.
    // Events before the new ts are lost by definition, so push only once the poller is back.
    vk.fake.fail_next_poll(3);
    eventually("a poll with the key after failed 3", || {
        vk.fake.polls().iter().any(|poll| poll.key == "key-2")
    })
    .await;
    vk.fake.push_event(text_event("ev-d", "fourth"));
    eventually("the event after failed 3", || texts(&vk.intake).len() == 4).await;
    eventually("the last position saved", || vk.intake.saved().last() == Some(&vk.fake.current_ts())).await;

    stop.send(()).unwrap();
    assert!(poller.await.unwrap().is_ok());
    assert_eq!(vk.intake.duplicates.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn long_poll_resumes_from_the_saved_position() {
    let vk = setup(VkMode::LongPoll).await;
    vk.fake.push_event(text_event("ev-old", "already stored"));
    vk.fake.push_event(text_event("ev-new", "missed while down"));
    vk.intake.cursors.lock().unwrap().insert(longpoll::cursor_name(fake_vk::GROUP_ID), "1001".into());
    let (stop, poller) = start_long_poll(&vk, ChannelStates::default());
    eventually("the missed event", || !vk.intake.events().is_empty()).await;
    assert_eq!(texts(&vk.intake), ["missed while down"]);
    eventually("the saved position", || vk.intake.saved() == ["1002"]).await;
    stop.send(()).unwrap();
    assert!(poller.await.unwrap().is_ok());
}

#[tokio::test]
async fn an_unreachable_long_poll_server_shows_as_retrying_until_vk_answers() {
    let vk = setup(VkMode::LongPoll).await;
    vk.fake.fail_next("groups.getLongPollServer", 10);
    let states = ChannelStates::default();
    states.set("vk", ChannelState::Up);
    let (stop, poller) = start_long_poll(&vk, states.clone());
    let retrying = states.wait_for("vk", |state| matches!(state, ChannelState::Retrying { attempt: 1, .. }));
    tokio::time::timeout(std::time::Duration::from_secs(20), retrying).await.expect("reported as retrying");
    let up = states.wait_for("vk", |state| *state == ChannelState::Up);
    tokio::time::timeout(std::time::Duration::from_secs(20), up).await.expect("up again once VK answers");
    stop.send(()).unwrap();
    assert!(poller.await.unwrap().is_ok());
}

#[tokio::test]
async fn a_rejected_token_stops_polling_and_sending() {
    let vk = setup_with(VkMode::LongPoll, 1024, |settings| {
        settings.token = switchboard::secret::Secret::new("revoked")
    })
    .await;
    let states = ChannelStates::default();
    let result =
        longpoll::run(vk.channel.receiver(), vk.intake.clone(), std::future::pending(), states).await;
    assert!(result.is_err(), "{result:?}");
    assert!(vk.channel.is_stopped());
    let calls = vk.fake.calls().len();
    let error = vk.channel.deliver(&delivery(1, None, Outbound::Bot(Reply::new("hello")))).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Permanent { unreachable: false, .. }), "{error:?}");
    assert_eq!(vk.fake.calls().len(), calls, "nothing is sent after the token was rejected");
}

#[tokio::test]
async fn a_token_rejected_while_sending_stops_the_channel() {
    let vk = setup(VkMode::LongPoll).await;
    vk.fake.fail_next("messages.send", 5);
    let error = vk.channel.deliver(&delivery(1, None, Outbound::Bot(Reply::new("hello")))).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Permanent { unreachable: false, .. }), "{error:?}");
    assert!(vk.channel.is_stopped());
    assert!(vk.channel.deliver(&delivery(2, None, Outbound::Bot(Reply::new("again")))).await.is_err());
    assert_eq!(vk.fake.calls_of("messages.send").len(), 1);
}

fn menu() -> Reply {
    Reply::new("menu-prompt")
        .row(
            IssueType::MENU
                .iter()
                .map(|issue| Button::new(&format!("issue-{}", issue.code()), Action::Issue(*issue)))
                .collect(),
        )
        .row(vec![Button::new("button-human", Action::Human)])
}

#[tokio::test]
async fn keyboards_follow_what_the_client_can_show() {
    let vk = setup(VkMode::LongPoll).await;
    let callback_client =
        json!({"button_actions": ["text", "callback"], "keyboard": true, "inline_keyboard": true});
    vk.channel.deliver(&delivery(1, Some(callback_client), Outbound::Bot(menu()))).await.unwrap();
    vk.channel.deliver(&delivery(2, None, Outbound::Bot(menu()))).await.unwrap();

    let visible = vk.fake.visible();
    let inline = visible[0].keyboard.as_ref().unwrap();
    assert_eq!(inline["inline"], true);
    let rows = inline["buttons"].as_array().unwrap();
    let widths: Vec<usize> = rows.iter().map(|row| row.as_array().unwrap().len()).collect();
    assert_eq!(widths, [5, 2, 1], "seven issue types wrap at five per row");
    assert_eq!(rows[0][0]["action"]["type"], "callback");
    assert_eq!(rows[0][0]["action"]["label"], "issue-order");
    assert_eq!(rows[0][0]["action"]["payload"], r#"{"sb":"i:order"}"#);

    let regular = visible[1].keyboard.as_ref().unwrap();
    assert_eq!(regular["one_time"], true);
    assert_eq!(regular["buttons"][2][0]["action"]["type"], "text");
    assert_eq!(regular["buttons"][2][0]["action"]["payload"], r#"{"sb":"human"}"#);

    // Past VK's inline limit of ten buttons, the rest is left out rather than refused by VK.
    let crowded = Reply::new("too-many")
        .row((1..=5).map(|stars| Button::new("star", Action::Rate(stars))).collect())
        .row((1..=5).map(|stars| Button::new("star", Action::Rate(stars))).collect())
        .row(vec![Button::new("button-menu", Action::Menu)]);
    let client = json!({"button_actions": ["callback"], "keyboard": true, "inline_keyboard": true});
    vk.channel.deliver(&delivery(3, Some(client), Outbound::Bot(crowded))).await.unwrap();
    let keyboard = vk.fake.visible()[2].keyboard.clone().unwrap();
    let total: usize =
        keyboard["buttons"].as_array().unwrap().iter().map(|row| row.as_array().unwrap().len()).sum();
    assert_eq!(total, 10);
}

#[tokio::test]
async fn a_retried_send_reuses_its_random_id_and_is_shown_once() {
    let vk = setup(VkMode::LongPoll).await;
    let row = delivery(41, None, Outbound::Bot(Reply::new("ask-order-id")));
    vk.fake.fail_next("messages.send", 6);
    assert_eq!(vk.channel.deliver(&row).await, Err(DeliveryError::RetryAfter(Duration::from_secs(1))));
    vk.channel.deliver(&row).await.unwrap();
    // The worker crashed before marking the row sent, and sends it once more.
    vk.channel.deliver(&row).await.unwrap();

    let sends = vk.fake.calls_of("messages.send");
    assert_eq!(sends.len(), 3);
    let random_ids: HashSet<&String> = sends.iter().map(|call| &call.params["random_id"]).collect();
    assert_eq!(random_ids.len(), 1, "{sends:?}");
    let visible = vk.fake.visible();
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0].text, "ask-order-id");
    assert_eq!(visible[0].peer_id, 564321);

    // Another row gets another id.
    vk.channel.deliver(&delivery(42, None, Outbound::Bot(Reply::new("ask-photo")))).await.unwrap();
    assert_eq!(vk.fake.visible().len(), 2);
    assert_ne!(vk.fake.visible()[1].random_id, visible[0].random_id);
}

#[tokio::test]
async fn flood_control_internal_errors_and_denied_messages_map_to_outbox_decisions() {
    let vk = setup(VkMode::LongPoll).await;
    let row = delivery(7, None, Outbound::Bot(Reply::new("hello")));
    vk.fake.fail_next("messages.send", 9);
    assert_eq!(vk.channel.deliver(&row).await, Err(DeliveryError::RetryAfter(Duration::from_secs(30))));
    vk.fake.fail_next("messages.send", 10);
    assert!(matches!(vk.channel.deliver(&row).await, Err(DeliveryError::Transient(_))));
    vk.fake.fail_next("messages.send", 901);
    assert!(matches!(
        vk.channel.deliver(&row).await,
        Err(DeliveryError::Permanent { unreachable: true, .. })
    ));
    assert!(vk.fake.visible().is_empty());
    assert!(!vk.channel.is_stopped());
    vk.channel.deliver(&row).await.unwrap();
    assert_eq!(vk.fake.visible().len(), 1);
}

#[tokio::test]
async fn photos_are_uploaded_saved_and_attached() {
    let vk = setup(VkMode::LongPoll).await;
    let image = png(640, 480);
    let stored: MediaRef = vk.media.store(&image).await.unwrap();
    let mut reply = Reply::new("photo-received");
    reply.attachments.push(stored);
    vk.channel.deliver(&delivery(5, None, Outbound::Bot(reply))).await.unwrap();

    let methods: Vec<String> = vk.fake.calls().into_iter().map(|call| call.method).collect();
    assert_eq!(methods, ["photos.getMessagesUploadServer", "photos.saveMessagesPhoto", "messages.send"]);
    assert_eq!(vk.fake.calls()[0].params["peer_id"], "564321");
    assert_eq!(vk.fake.uploads(), [image]);
    let visible = vk.fake.visible();
    assert_eq!(visible[0].attachment.as_deref(), Some("photo-123456_501_k1"));
    assert_eq!(visible[0].text, "photo-received");
}

#[tokio::test]
async fn agent_words_go_out_verbatim_and_long_text_is_split() {
    let vk = setup(VkMode::LongPoll).await;
    let said = "<b>Hello</b> *there* {$name}";
    let agent = Outbound::Agent { agent: "olga".into(), text: said.into(), attachments: Vec::new() };
    vk.channel.deliver(&delivery(8, None, agent)).await.unwrap();
    assert_eq!(vk.fake.visible()[0].text, said);
    assert_eq!(vk.fake.visible()[0].keyboard, None);

    let long = "Подробный ответ. ".repeat(600);
    let reply = Reply::new("faq-answer")
        .arg("body", long.clone())
        .row(vec![Button::new("button-yes", Action::Helped)]);
    vk.channel.deliver(&delivery(9, None, Outbound::Bot(reply))).await.unwrap();
    let parts: Vec<_> = vk.fake.visible().into_iter().skip(1).collect();
    assert_eq!(parts.len(), 3);
    assert!(parts.iter().all(|part| part.text.encode_utf16().count() <= 4096));
    assert_eq!(parts.iter().map(|part| part.text.as_str()).collect::<Vec<_>>().join(" "), long.trim_end());
    assert!(parts[..2].iter().all(|part| part.keyboard.is_none()), "buttons go under the last part");
    assert!(parts[2].keyboard.is_some());
    let ids: HashSet<i32> = parts.iter().map(|part| part.random_id).collect();
    assert_eq!(ids.len(), 3);
}
