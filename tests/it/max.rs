//! The MAX channel's readers against payloads from the official Go client's `stabs/` folder
//! (`tests/fixtures/max/`, the source and any change noted in each file): updates in both the
//! polling page and the webhook shape, and MAX's error answers.

use serde_json::Value;
use std::path::Path;
use switchboard::channels::max::api::ApiError;
use switchboard::channels::max::inbound::{Item, MaxUpdate, button_input, parse_update};
use switchboard::channels::max::webhook::parse_body;
use switchboard::core::dialog::{ContentKind, Input};
use switchboard::core::message::{Action, IssueType};

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/max").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    let value: Value = serde_json::from_str(&text).unwrap();
    assert!(value["_source"].as_str().is_some_and(|source| source.contains("max-bot-api-client-go")));
    value
}

/// The one update of a `GET /updates` page fixture.
fn polled(name: &str) -> MaxUpdate {
    let page = &fixture(name)["page"];
    assert!(page["marker"].is_i64(), "a page carries the next marker");
    let updates = page["updates"].as_array().unwrap();
    assert_eq!(updates.len(), 1);
    parse_update(&updates[0]).unwrap()
}

/// A webhook body fixture, read as the route reads it.
fn posted(name: &str) -> MaxUpdate {
    let body = serde_json::to_vec(&fixture(name)["body"]).unwrap();
    parse_update(&parse_body(&body).unwrap()).unwrap()
}

#[test]
fn a_press_of_one_of_our_buttons_becomes_its_action() {
    let MaxUpdate::Press(press) = polled("message_callback.json") else { panic!("a press") };
    assert!(press.callback_id.starts_with("f9LHodD0cOJf4"));
    assert_eq!(press.dedupe_id, format!("c:{}", press.callback_id));
    assert_eq!(press.user_id, 123_456_789);
    assert_eq!(press.locale.as_deref(), Some("ru"));
    assert_eq!(press.message_text.as_deref(), Some("Hello, John Doe! Your message: empty"));
    assert_eq!(
        button_input(press.payload.as_deref()),
        Input::Button { action: Action::Issue(IssueType::Order) }
    );
    // The stab's own payload is not ours: a stale button, never a guess.
    assert_eq!(button_input(Some("picture")), Input::StaleButton);
    assert_eq!(button_input(None), Input::StaleButton);
}

#[test]
fn start_stop_and_edit_updates_are_read_with_stable_keys() {
    let started = polled("bot_started.json");
    assert_eq!(
        started,
        MaxUpdate::Started {
            dedupe_id: "s:123456789:1775025604499".into(),
            user_id: 123_456_789,
            payload: Some("link-7f3a".into()),
            locale: Some("ru".into()),
        }
    );
    assert_eq!(polled("bot_started.json"), started, "a redelivery has the same key");
    assert_eq!(
        posted("bot_stopped.json"),
        MaxUpdate::Stopped { dedupe_id: "x:123456789:1775025604499".into(), user_id: 123_456_789 }
    );
    assert_eq!(
        polled("message_edited.json"),
        MaxUpdate::Edited {
            dedupe_id: "e:mid.000000000adf429c019d47b1ce4600ff:1775025604499".into(),
            user_id: 123_456_789,
            text: "hi bot".into(),
        }
    );
}

#[test]
fn messages_are_keyed_by_mid_with_images_and_unsupported_kinds_told_apart() {
    let MaxUpdate::Message(message) = polled("message_created_image.json") else { panic!("a message") };
    assert_eq!(message.dedupe_id, "m:mid.ffffbdb48e6c3775019d496b34394b84");
    assert_eq!(message.external_id, "123456789");
    assert!(!message.group_chat);
    assert_eq!(message.text, "the base is cracked");
    assert_eq!(message.locale.as_deref(), Some("en"));
    assert_eq!(message.display_name.as_deref(), Some("John Doe"));
    assert_eq!(
        message.items,
        [
            Item::Photo {
                url: "https://i.oneme.ru/i?r=BTGBPUwtwgYUeoFhO7rESmr8".into(),
                declared_bytes: None
            },
            Item::Unsupported(ContentKind::Sticker)
        ]
    );

    let MaxUpdate::Message(chat) = posted("message_created_chat.json") else { panic!("a message") };
    assert!(chat.group_chat);
    assert_eq!(chat.external_id, "chat:-70801090403050");
}

#[test]
fn webhook_bodies_that_are_not_updates_are_refused() {
    assert!(parse_body(b"not json").is_err());
    assert!(parse_body(b"[1, 2]").is_err());
    let no_type = parse_body(br#"{"timestamp": 1}"#).unwrap();
    assert!(parse_update(&no_type).is_err());
    let no_sender =
        parse_body(br#"{"update_type": "message_created", "message": {"body": {"mid": "m"}}}"#).unwrap();
    assert!(parse_update(&no_sender).is_err());
}

#[test]
fn error_answers_become_what_to_do() {
    let cases = fixture("errors.json");
    let answers: Vec<ApiError> = cases["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|case| {
            let body = serde_json::to_vec(&case["body"]).unwrap();
            ApiError::from_answer(case["status"].as_u64().unwrap() as u16, &body, None)
        })
        .collect();
    assert_eq!(
        answers,
        [ApiError::AttachmentNotReady, ApiError::Auth { message: "Invalid access_token".into() }]
    );
}
