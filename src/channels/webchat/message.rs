//! The body of `POST /chat/messages`, read without any I/O: `{"id": client id, "text": ...}` or
//! `{"id": client id, "button": data}`. Kept apart from the route so it can be tested and
//! fuzzed on bytes alone.

use crate::core::dialog::Input;
use crate::core::message::Action;
use crate::customers::SignedIdentity;
use axum::http::StatusCode;
use serde::Deserialize;

/// One message from the widget, ready for the engine.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    /// The widget's id for this message; a resend carries the same one.
    pub client_id: String,
    pub input: Input,
    /// The signed-in customer, as the store's page signed them (the widget's `data-`
    /// attributes); checked by the engine.
    pub identity: Option<SignedIdentity>,
}

/// Why a body is not a message. Each maps to one status and one code the widget can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not JSON at all (empty, truncated, invalid UTF-8, nested past the parser's limit).
    #[error("the body is not JSON")]
    NotJson,
    /// JSON, but not a message object (`null`, an array, a number where text belongs).
    #[error("the JSON is not a message")]
    NotAMessage,
    #[error("the client id is missing or not 8-64 letters, digits, `-` or `_`")]
    BadId,
    /// Neither words nor a button, or both at once.
    #[error("the message has no text and no button")]
    Empty,
}

impl MessageError {
    pub fn status(self) -> StatusCode {
        match self {
            MessageError::NotJson | MessageError::BadId | MessageError::Empty => StatusCode::BAD_REQUEST,
            MessageError::NotAMessage => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The `error` code in the JSON answer.
    pub fn code(self) -> &'static str {
        match self {
            MessageError::NotJson => "bad_json",
            MessageError::NotAMessage => "not_a_message",
            MessageError::BadId => "bad_id",
            MessageError::Empty => "empty_message",
        }
    }
}

#[derive(Deserialize)]
struct Body {
    id: String,
    #[serde(default)]
    text: Option<String>,
    /// A button's data, as the widget received it.
    #[serde(default)]
    button: Option<String>,
    #[serde(default)]
    identity: Option<SignedIdentity>,
}

/// Reads a message body. A button whose data does not decode (an old page, a forged press) is
/// still a message: the dialog answers it politely as a stale button.
pub fn parse_message(body: &[u8]) -> Result<ChatMessage, MessageError> {
    // Two steps, so that the status says which problem it is: a body that is not JSON at all
    // is 400 even when its start would already fail the message shape (`[[[...` unclosed).
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|_| MessageError::NotJson)?;
    let body: Body = serde_json::from_value(value).map_err(|_| MessageError::NotAMessage)?;
    if !valid_client_id(&body.id) {
        return Err(MessageError::BadId);
    }
    let input = match (body.text, body.button) {
        (Some(text), None) if !text.trim().is_empty() => Input::Text { text },
        (None, Some(data)) => match Action::decode(&data) {
            Some(action) => Input::Button { action },
            None => Input::StaleButton,
        },
        _ => return Err(MessageError::Empty),
    };
    Ok(ChatMessage { client_id: body.id, input, identity: body.identity })
}

/// Client message ids: what the widget makes (a UUID), bounded so they fit the dedupe key.
pub fn valid_client_id(id: &str) -> bool {
    (8..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::message::IssueType;

    fn check(body: &str, expected: Result<Input, MessageError>) {
        let parsed = parse_message(body.as_bytes()).map(|message| message.input);
        assert_eq!(parsed, expected, "{body}");
    }

    #[test]
    fn text_and_button_presses_become_inputs() {
        check(r#"{"id":"client-0001","text":"hello"}"#, Ok(Input::Text { text: "hello".into() }));
        check(
            r#"{"id":"client-0001","button":"i:order","extra":1}"#,
            Ok(Input::Button { action: Action::Issue(IssueType::Order) }),
        );
        check(r#"{"id":"client-0001","button":"zz:unknown"}"#, Ok(Input::StaleButton));
    }

    #[test]
    fn each_kind_of_bad_body_has_its_own_error() {
        check("", Err(MessageError::NotJson));
        check(r#"{"id":"client-0001","te"#, Err(MessageError::NotJson));
        check(&"[".repeat(1000), Err(MessageError::NotJson));
        check("null", Err(MessageError::NotAMessage));
        check("[]", Err(MessageError::NotAMessage));
        check(r#"{"id":12345678,"text":"hi"}"#, Err(MessageError::NotAMessage));
        check(r#"{"id":"client-0001","text":5}"#, Err(MessageError::NotAMessage));
        check(r#"{"text":"hi"}"#, Err(MessageError::NotAMessage));
        check(r#"{"id":"../x","text":"hi"}"#, Err(MessageError::BadId));
        check(&format!(r#"{{"id":"{}","text":"hi"}}"#, "a".repeat(65)), Err(MessageError::BadId));
        check(r#"{"id":"client-0001","text":"   "}"#, Err(MessageError::Empty));
        check(r#"{"id":"client-0001"}"#, Err(MessageError::Empty));
        check(r#"{"id":"client-0001","text":"hi","button":"i:order"}"#, Err(MessageError::Empty));
        assert_eq!(parse_message(b"{\"id\":\"client-0001\",\"text\":\"\xff\"}"), Err(MessageError::NotJson));
    }
}
