//! From Ozon chat messages to [`InboundEvent`]s. A push (`TYPE_NEW_MESSAGE`) and a history
//! page carry the same message fields; [`parse_push`] reads a push body without I/O, and
//! [`OzonReceiver::events_for`] downloads images and builds the events the engine stores.
//!
//! The dedupe key is Ozon's `message_id`, the same whether the message came by push or from
//! the history fallback, so a message both bring is handled once. The conversation is the
//! chat (`chat_id`): replies go to the chat, and a buyer's later chat about another order is a
//! conversation of its own.

use super::CHANNEL;
use super::api::{ChatMessage, ChatUser, OzonApi};
use crate::channels::platform_receiver::PlatformReceiver;
use crate::channels::{InboundEvent, InboundKind, ReceiveError};
use crate::config::ozon::OzonSettings;
use crate::core::dialog::Input;
use serde::Deserialize;
use serde_json::{Value, json};

/// Ozon's ids (64-bit numbers, UUIDs) are far shorter. A longer one is not from Ozon, and an
/// unbounded dedupe key is not something a stranger may hand the database.
pub const MAX_ID_LEN: usize = 128;
/// The most images one message brings in; more are not a buyer's photos of a parcel.
const MAX_IMAGES: usize = 10;
/// The only chats the bot answers: a buyer writing to the seller.
pub const BUYER_CHAT: &str = "Buyer_Seller";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed Ozon push: {0}")]
pub struct MalformedPush(pub String);

/// One push, read.
#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    /// `TYPE_PING`: Ozon checks the endpoint is ours and alive.
    Ping,
    /// `TYPE_NEW_MESSAGE` in a buyer's chat.
    Message { chat_id: String, message: ChatMessage },
    /// Anything else (a seller's or Ozon's own message, a read mark, a posting status, a chat
    /// of another kind): acknowledged and forgotten.
    Ignored { kind: String },
}

/// Reads a push body without I/O.
pub fn parse_push(body: &[u8]) -> Result<Push, MalformedPush> {
    #[derive(Deserialize)]
    struct Common {
        message_type: String,
    }
    #[derive(Deserialize)]
    struct NewMessage {
        chat_id: String,
        #[serde(default)]
        chat_type: String,
        #[serde(flatten)]
        message: ChatMessage,
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|error| MalformedPush(format!("not JSON: {error}")))?;
    let common: Common =
        serde_json::from_value(value.clone()).map_err(|_| MalformedPush("no message_type".to_owned()))?;
    match common.message_type.as_str() {
        "TYPE_PING" => Ok(Push::Ping),
        "TYPE_NEW_MESSAGE" => {
            let push: NewMessage = serde_json::from_value(value)
                .map_err(|error| MalformedPush(format!("TYPE_NEW_MESSAGE: {error}")))?;
            check_id("chat_id", &push.chat_id)?;
            check_id("message_id", &push.message.message_id)?;
            if push.chat_type != BUYER_CHAT || !is_buyer(&push.message.user) {
                return Ok(Push::Ignored {
                    kind: format!("{} from {}", push.chat_type, push.message.user.kind),
                });
            }
            Ok(Push::Message { chat_id: push.chat_id, message: push.message })
        }
        other => Ok(Push::Ignored { kind: other.chars().take(64).collect() }),
    }
}

fn check_id(name: &str, id: &str) -> Result<(), MalformedPush> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(MalformedPush(format!("{name} is empty or too long")));
    }
    Ok(())
}

/// Whether a message is the buyer's. Ozon writes the type in varying case, and its own
/// reference examples spell it with a Cyrillic "С" (`Сustomer`), so the test is loose.
pub fn is_buyer(user: &ChatUser) -> bool {
    let kind = user.kind.to_lowercase();
    kind == "customer" || kind.ends_with("ustomer")
}

/// A message's parts: its text, and the images it links to (`![](url)` parts).
pub fn split_parts(data: &[String]) -> (String, Vec<String>) {
    let mut text = Vec::new();
    let mut images = Vec::new();
    for part in data {
        let trimmed = part.trim();
        match image_link(trimmed) {
            Some(url) => images.push(url.to_owned()),
            None if !trimmed.is_empty() => text.push(trimmed),
            None => {}
        }
    }
    (text.join("\n"), images)
}

/// The URL of a part that is only a Markdown image: `![anything](url)`.
fn image_link(part: &str) -> Option<&str> {
    let rest = part.strip_prefix("![")?;
    let (_, after) = rest.split_once("](")?;
    let url = after.strip_suffix(')')?;
    (!url.is_empty() && !url.contains(char::is_whitespace)).then_some(url)
}

/// Milliseconds since the epoch of Ozon's RFC 3339 `created_at`, if it reads.
pub fn created_millis(created_at: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(created_at).ok().map(|at| at.timestamp_millis())
}

/// Turns buyers' messages into events, downloading their images on the way.
pub type OzonReceiver = PlatformReceiver<OzonApi, OzonSettings>;

impl OzonReceiver {
    /// The events of one buyer's message: its text, or one photo event per image (the text
    /// as the first one's caption). An image that cannot be fetched right now fails the whole
    /// message, so it is not acknowledged and comes again.
    pub async fn events_for(
        &self,
        chat_id: &str,
        message: &ChatMessage,
    ) -> Result<Vec<InboundEvent>, ReceiveError> {
        let (text, images) = split_parts(&message.data);
        // What delivery needs later: the message to mark read after answering, and when the
        // buyer last wrote (Ozon lets the seller answer for a limited time after it).
        let contact_data = json!({
            "last_message_id": message.message_id,
            "last_customer_at": created_millis(&message.created_at),
        });
        let event = |suffix: usize, input: Input| {
            let event_id = match suffix {
                0 => message.message_id.clone(),
                _ => format!("{}:{suffix}", message.message_id),
            };
            InboundEvent {
                language_hint: Some(self.settings.default_language.code().to_owned()),
                contact_data: Some(contact_data.clone()),
                ..InboundEvent::new(CHANNEL, event_id, chat_id.to_owned(), InboundKind::Input(input))
            }
        };
        if images.is_empty() {
            return Ok(vec![event(0, Input::Text { text })]);
        }
        let mut events = Vec::new();
        let mut caption = (!text.is_empty()).then_some(text);
        for (index, url) in images.iter().take(MAX_IMAGES).enumerate() {
            events.push(event(index, self.photo_input(url, caption.take()).await?));
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The push of the MIT-licensed diPhantxm/ozon-api-client's notification tests.
    const NEW_MESSAGE: &str = r#"{
        "message_type": "TYPE_NEW_MESSAGE",
        "chat_id": "b646d975-0c9c-4872-9f41-8b1e57181063",
        "chat_type": "Buyer_Seller",
        "message_id": "3000000000817031942",
        "created_at": "2022-07-18T20:58:04.528Z",
        "user": {"id": "115568", "type": "Customer"},
        "data": ["Message text"],
        "seller_id": 7
    }"#;

    #[test]
    fn a_buyers_message_reads_and_everything_else_is_ignored() {
        let Push::Message { chat_id, message } = parse_push(NEW_MESSAGE.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(chat_id, "b646d975-0c9c-4872-9f41-8b1e57181063");
        assert_eq!(message.message_id, "3000000000817031942");
        assert_eq!(created_millis(&message.created_at), Some(1_658_177_884_528));
        assert_eq!(
            parse_push(br#"{"message_type": "TYPE_PING", "time": "2019-08-24T14:15:22Z"}"#).unwrap(),
            Push::Ping
        );
        let seller = NEW_MESSAGE.replace(r#""type": "Customer""#, r#""type": "Seller""#);
        assert!(matches!(parse_push(seller.as_bytes()).unwrap(), Push::Ignored { .. }));
        let support = NEW_MESSAGE.replace("Buyer_Seller", "Seller_Support");
        assert!(matches!(parse_push(support.as_bytes()).unwrap(), Push::Ignored { .. }));
        let cyrillic = NEW_MESSAGE.replace(r#""type": "Customer""#, r#""type": "Сustomer""#);
        assert!(matches!(parse_push(cyrillic.as_bytes()).unwrap(), Push::Message { .. }));
        let read = r#"{"message_type": "TYPE_MESSAGE_READ", "chat_id": "x", "last_read_message_id": "1"}"#;
        assert!(matches!(parse_push(read.as_bytes()).unwrap(), Push::Ignored { .. }));
    }

    #[test]
    fn malformed_pushes_are_refused() {
        for body in [
            "not json",
            "[]",
            r#"{"chat_id": "x"}"#,
            r#"{"message_type": "TYPE_NEW_MESSAGE", "chat_type": "Buyer_Seller"}"#,
        ] {
            assert!(parse_push(body.as_bytes()).is_err(), "{body}");
        }
        let long = NEW_MESSAGE.replace("3000000000817031942", &"9".repeat(MAX_ID_LEN + 1));
        assert!(parse_push(long.as_bytes()).is_err());
    }

    #[test]
    fn image_parts_are_told_from_text() {
        let data = vec![
            "Вот фото коробки".to_owned(),
            "![](https://api-seller.ozon.ru/v2/chat/file/abc.jpg)".to_owned(),
            "  ".to_owned(),
            "![not an image](no url here)".to_owned(),
        ];
        let (text, images) = split_parts(&data);
        assert_eq!(text, "Вот фото коробки\n![not an image](no url here)");
        assert_eq!(images, ["https://api-seller.ozon.ru/v2/chat/file/abc.jpg"]);
    }
}
