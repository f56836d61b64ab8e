//! VK keyboards: inline `callback` buttons when the customer's client supports them, a regular
//! keyboard of `text` buttons otherwise, always within VK's size limits. A button's meaning
//! travels in its payload as `{"sb": "<Action::encode()>"}`, so a press comes back as data we
//! decode, never as label text we would have to guess from.

use crate::i18n::RenderedButton;
use serde_json::{Value, json};

/// The payload field that carries our `Action` encoding.
pub const PAYLOAD_KEY: &str = "sb";
/// VK cuts labels at 40 characters; we shorten them ourselves so the cut is visible.
pub const MAX_LABEL_CHARS: usize = 40;

/// VK's limits for one keyboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub per_row: usize,
    pub rows: usize,
    pub total: usize,
}

pub const INLINE_LIMITS: Limits = Limits { per_row: 5, rows: 6, total: 10 };
pub const REGULAR_LIMITS: Limits = Limits { per_row: 5, rows: 10, total: 40 };

/// What the customer's VK client can show, from `client_info` of their last message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCapabilities {
    pub keyboard: bool,
    pub inline_keyboard: bool,
    pub callback_buttons: bool,
}

impl ClientCapabilities {
    /// Every VK client that can write to a community shows a regular keyboard of text buttons;
    /// that is what we assume until a message tells us more.
    pub const UNKNOWN: ClientCapabilities =
        ClientCapabilities { keyboard: true, inline_keyboard: false, callback_buttons: false };

    /// Reads what [`contact_data`] stored on the contact.
    pub fn from_contact_data(data: Option<&Value>) -> ClientCapabilities {
        let Some(data) = data.filter(|data| data.is_object()) else { return ClientCapabilities::UNKNOWN };
        let flag = |name: &str, default: bool| data.get(name).and_then(Value::as_bool).unwrap_or(default);
        let callback_buttons = data
            .get("button_actions")
            .and_then(Value::as_array)
            .is_some_and(|actions| actions.iter().any(|action| action.as_str() == Some("callback")));
        ClientCapabilities {
            keyboard: flag("keyboard", true),
            inline_keyboard: flag("inline_keyboard", false),
            callback_buttons,
        }
    }
}

/// The facts from VK's `client_info` that delivery needs, as stored on the contact.
pub fn contact_data(client_info: &Value) -> Value {
    json!({
        "button_actions": client_info.get("button_actions").cloned().unwrap_or_else(|| json!([])),
        "keyboard": client_info.get("keyboard").and_then(Value::as_bool).unwrap_or(true),
        "inline_keyboard": client_info.get("inline_keyboard").and_then(Value::as_bool).unwrap_or(false),
    })
}

/// The payload string for one button.
pub fn payload(data: &str) -> String {
    json!({ PAYLOAD_KEY: data }).to_string()
}

/// What a payload that came back with a press or a message means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadMeaning {
    /// One of ours: the `Action::encode()` string, still to be decoded.
    Ours(String),
    /// VK's own "Start" button on a new conversation (`{"command":"start"}`).
    Start,
    /// Something else: an old keyboard from other software, or a forgery.
    Foreign,
}

/// Reads a payload. VK sends it as a JSON string inside the message, or as an object in
/// `message_event`; both are accepted.
pub fn read_payload(payload: &Value) -> PayloadMeaning {
    let parsed;
    let object = match payload {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(value) => {
                parsed = value;
                &parsed
            }
            Err(_) => return PayloadMeaning::Foreign,
        },
        other => other,
    };
    if let Some(data) = object.get(PAYLOAD_KEY).and_then(Value::as_str) {
        return PayloadMeaning::Ours(data.to_owned());
    }
    if object.get("command").and_then(Value::as_str) == Some("start") {
        return PayloadMeaning::Start;
    }
    PayloadMeaning::Foreign
}

/// The `keyboard` parameter for `messages.send`, or `None` when there is nothing to show (no
/// buttons, or a client without keyboards).
pub fn build(rows: &[Vec<RenderedButton>], client: ClientCapabilities) -> Option<Value> {
    if rows.iter().all(Vec::is_empty) {
        return None;
    }
    let (inline, limits, kind) = if client.inline_keyboard {
        (true, INLINE_LIMITS, if client.callback_buttons { "callback" } else { "text" })
    } else if client.keyboard {
        (false, REGULAR_LIMITS, "text")
    } else {
        return None;
    };
    let laid_out = lay_out(rows, limits);
    let buttons: Vec<Vec<Value>> = laid_out
        .iter()
        .map(|row| {
            row.iter()
                .map(|button| {
                    json!({
                        "action": {
                            "type": kind,
                            "label": shorten(&button.label),
                            "payload": payload(&button.data),
                        },
                        "color": "secondary",
                    })
                })
                .collect()
        })
        .collect();
    Some(if inline {
        json!({ "inline": true, "buttons": buttons })
    } else {
        // One-time: the regular keyboard folds away once pressed, so an old choice does not
        // stay under the input field after the dialog has moved on.
        json!({ "one_time": true, "buttons": buttons })
    })
}

/// Fits rows into VK's limits: a row that is too wide is wrapped, and what does not fit at all
/// is left out (and logged: the dialog offers fewer choices than VK can show only by mistake).
pub fn lay_out(rows: &[Vec<RenderedButton>], limits: Limits) -> Vec<Vec<&RenderedButton>> {
    let mut laid_out: Vec<Vec<&RenderedButton>> = Vec::new();
    let mut placed = 0;
    let mut dropped = 0;
    for row in rows {
        for chunk in row.chunks(limits.per_row) {
            let room = limits.total - placed;
            if laid_out.len() == limits.rows || room == 0 {
                dropped += chunk.len();
                continue;
            }
            let taken: Vec<&RenderedButton> = chunk.iter().take(room).collect();
            dropped += chunk.len() - taken.len();
            placed += taken.len();
            laid_out.push(taken);
        }
    }
    if dropped > 0 {
        tracing::warn!(dropped, ?limits, "a VK keyboard had more buttons than VK allows; some were left out");
    }
    laid_out
}

fn shorten(label: &str) -> String {
    if label.chars().count() <= MAX_LABEL_CHARS {
        return label.to_owned();
    }
    let mut short: String = label.chars().take(MAX_LABEL_CHARS - 1).collect();
    short.push('…');
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::numbered_buttons;

    fn shape(rows: &[Vec<&RenderedButton>]) -> Vec<usize> {
        rows.iter().map(Vec::len).collect()
    }

    #[test]
    fn layout_respects_row_width_rows_and_total() {
        let check = |rows: &[usize], limits: Limits, expected: &[usize]| {
            let input = numbered_buttons(rows);
            assert_eq!(shape(&lay_out(&input, limits)), expected, "{rows:?} in {limits:?}");
        };
        check(&[2, 2], INLINE_LIMITS, &[2, 2]);
        check(&[7], INLINE_LIMITS, &[5, 2]);
        check(&[1; 8], INLINE_LIMITS, &[1; 6]);
        check(&[5, 5, 5], INLINE_LIMITS, &[5, 5]);
        check(&[4, 4, 4], INLINE_LIMITS, &[4, 4, 2]);
        check(&[12], REGULAR_LIMITS, &[5, 5, 2]);
        check(&[1; 12], REGULAR_LIMITS, &[1; 10]);
        check(&[5; 9], REGULAR_LIMITS, &[5; 8]);
    }

    #[test]
    fn inline_callback_when_the_client_can_and_text_buttons_otherwise() {
        let rows = vec![vec![RenderedButton { label: "Yes".into(), data: "yes".into() }]];
        let callback = ClientCapabilities::from_contact_data(Some(
            &json!({"button_actions": ["text", "callback"], "keyboard": true, "inline_keyboard": true}),
        ));
        let keyboard = build(&rows, callback).unwrap();
        assert_eq!(keyboard["inline"], true);
        assert_eq!(keyboard["buttons"][0][0]["action"]["type"], "callback");
        assert_eq!(keyboard["buttons"][0][0]["action"]["payload"], r#"{"sb":"yes"}"#);

        let inline_text = ClientCapabilities::from_contact_data(Some(
            &json!({"button_actions": ["text"], "keyboard": true, "inline_keyboard": true}),
        ));
        assert_eq!(build(&rows, inline_text).unwrap()["buttons"][0][0]["action"]["type"], "text");

        let regular = build(&rows, ClientCapabilities::from_contact_data(None)).unwrap();
        assert_eq!(regular["one_time"], true);
        assert!(regular.get("inline").is_none());
        assert_eq!(regular["buttons"][0][0]["action"]["type"], "text");

        let none = ClientCapabilities { keyboard: false, inline_keyboard: false, callback_buttons: false };
        assert_eq!(build(&rows, none), None);
        assert_eq!(build(&[], callback), None);
    }

    #[test]
    fn long_labels_are_shortened_visibly() {
        let long = "Д".repeat(60);
        let rows = vec![vec![RenderedButton { label: long, data: "yes".into() }]];
        let keyboard = build(&rows, ClientCapabilities::UNKNOWN).unwrap();
        let label = keyboard["buttons"][0][0]["action"]["label"].as_str().unwrap();
        assert_eq!(label.chars().count(), MAX_LABEL_CHARS);
        assert!(label.ends_with('…'));
    }

    #[test]
    fn payloads_round_trip_and_strangers_are_told_apart() {
        assert_eq!(read_payload(&Value::String(payload("i:order"))), PayloadMeaning::Ours("i:order".into()));
        assert_eq!(read_payload(&json!({"sb": "yes"})), PayloadMeaning::Ours("yes".into()));
        assert_eq!(read_payload(&Value::String(r#"{"command":"start"}"#.into())), PayloadMeaning::Start);
        assert_eq!(read_payload(&json!({"foo": "bar"})), PayloadMeaning::Foreign);
        assert_eq!(read_payload(&Value::String("not json".into())), PayloadMeaning::Foreign);
        assert!(payload("withdraw").len() <= 255);
    }
}
