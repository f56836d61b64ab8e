//! From MAX updates to [`InboundEvent`]s. Parsing is split from fetching: [`parse_update`] reads
//! an update (a webhook body or one element of `GET /updates`, the same shape) without I/O, and
//! [`MaxReceiver::receive`] downloads images into the [`MediaStore`] and builds the events the
//! engine stores.
//!
//! MAX updates carry no id of their own. The dedupe key is the message's `body.mid` for new
//! messages, the press's `callback_id` for button presses, and for the rest a tuple that is the
//! same on every redelivery: the update type, the user, and MAX's timestamp of the update.

use super::CHANNEL;
use super::api::{MaxApi, Recipient};
use super::keyboard;
pub use crate::channels::platform_receiver::Item;
use crate::channels::platform_receiver::PlatformReceiver;
use crate::channels::{InboundEvent, InboundKind, message_events};
use crate::config::max::MaxSettings;
use crate::core::dialog::{ContentKind, Input};
use crate::core::message::Action;
use serde_json::{Value, json};

/// MAX's message ids and callback ids are well under this. A longer one is not from MAX, and
/// an unbounded dedupe key is not something a stranger may hand the database.
pub const MAX_ID_LEN: usize = 256;
/// The prefix of a group chat's external id; a dialog's is the user id alone.
pub const CHAT_PREFIX: &str = "chat:";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed MAX update: {0}")]
pub struct MalformedUpdate(pub String);

/// One update, read.
#[derive(Debug, Clone, PartialEq)]
pub enum MaxUpdate {
    /// `message_created`.
    Message(IncomingMessage),
    /// `message_callback`: one of our buttons was pressed.
    Press(ButtonPress),
    /// `bot_started`: the user opened the dialog with the Start button or a deep link.
    Started {
        dedupe_id: String,
        user_id: i64,
        /// The deep link's payload, for account linking.
        payload: Option<String>,
        locale: Option<String>,
    },
    /// `bot_stopped`: the user stopped the bot; nothing reaches them until they write again.
    Stopped { dedupe_id: String, user_id: i64 },
    /// `message_edited` of a customer's own message in a dialog.
    Edited { dedupe_id: String, user_id: i64, text: String },
    /// An update type we do not handle: acknowledged and forgotten.
    Ignored { kind: String },
}

/// `message_created`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMessage {
    pub dedupe_id: String,
    /// The user id in a dialog, `chat:<id>` in a group chat.
    pub external_id: String,
    pub group_chat: bool,
    pub text: String,
    pub items: Vec<Item>,
    pub locale: Option<String>,
    pub display_name: Option<String>,
}

/// `message_callback`.
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonPress {
    pub dedupe_id: String,
    /// The id MAX wants back in `POST /answers`.
    pub callback_id: String,
    pub user_id: i64,
    pub payload: Option<String>,
    /// The text of the message that carried the keyboard, for the answer that removes it.
    pub message_text: Option<String>,
    pub locale: Option<String>,
}

/// Reads one update without any I/O.
pub fn parse_update(update: &Value) -> Result<MaxUpdate, MalformedUpdate> {
    let kind = update
        .get("update_type")
        .and_then(Value::as_str)
        .ok_or_else(|| MalformedUpdate("no `update_type` field".to_owned()))?;
    let locale = update.get("user_locale").and_then(Value::as_str).map(str::to_owned);
    let timestamp = update.get("timestamp").and_then(Value::as_i64).unwrap_or_default();
    match kind {
        "message_created" => {
            let message = object(update, "message")?;
            let sender = object(message, "sender")?;
            if sender.get("is_bot").and_then(Value::as_bool) == Some(true) {
                return Ok(MaxUpdate::Ignored { kind: kind.to_owned() });
            }
            let body = object(message, "body")?;
            let mid = bounded_id(body, "mid")?;
            let recipient = object(message, "recipient")?;
            let group_chat = recipient.get("chat_type").and_then(Value::as_str) != Some("dialog");
            let external_id = if group_chat {
                format!("{CHAT_PREFIX}{}", integer(recipient, "chat_id")?)
            } else {
                integer(sender, "user_id")?.to_string()
            };
            let items = body
                .get("attachments")
                .and_then(Value::as_array)
                .map(|attachments| attachments.iter().filter_map(item).collect())
                .unwrap_or_default();
            Ok(MaxUpdate::Message(IncomingMessage {
                dedupe_id: format!("m:{mid}"),
                external_id,
                group_chat,
                text: body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
                items,
                locale,
                display_name: sender.get("name").and_then(Value::as_str).map(str::to_owned),
            }))
        }
        "message_callback" => {
            let callback = object(update, "callback")?;
            let callback_id = bounded_id(callback, "callback_id")?;
            let user_id = integer(object(callback, "user")?, "user_id")?;
            let message_text = update
                .get("message")
                .and_then(|message| message.get("body"))
                .and_then(|body| body.get("text"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok(MaxUpdate::Press(ButtonPress {
                dedupe_id: format!("c:{callback_id}"),
                callback_id,
                user_id,
                payload: callback.get("payload").and_then(Value::as_str).map(str::to_owned),
                message_text,
                locale,
            }))
        }
        "bot_started" => {
            let user_id = integer(object(update, "user")?, "user_id")?;
            Ok(MaxUpdate::Started {
                dedupe_id: format!("s:{user_id}:{timestamp}"),
                user_id,
                payload: update.get("payload").and_then(Value::as_str).map(str::to_owned),
                locale,
            })
        }
        "bot_stopped" => {
            let user_id = integer(object(update, "user")?, "user_id")?;
            Ok(MaxUpdate::Stopped { dedupe_id: format!("x:{user_id}:{timestamp}"), user_id })
        }
        "message_edited" => {
            let message = object(update, "message")?;
            let sender = object(message, "sender")?;
            let dialog = message.get("recipient").and_then(|recipient| recipient.get("chat_type"))
                == Some(&json!("dialog"));
            // The bot's own edits and group chats are not a customer's words.
            if !dialog || sender.get("is_bot").and_then(Value::as_bool) == Some(true) {
                return Ok(MaxUpdate::Ignored { kind: kind.to_owned() });
            }
            let body = object(message, "body")?;
            let mid = bounded_id(body, "mid")?;
            let user_id = integer(sender, "user_id")?;
            Ok(MaxUpdate::Edited {
                // The edit keeps the message's mid; its time tells one edit from the next.
                dedupe_id: format!("e:{mid}:{timestamp}"),
                user_id,
                text: body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
            })
        }
        other => Ok(MaxUpdate::Ignored { kind: other.to_owned() }),
    }
}

fn object<'a>(value: &'a Value, field: &str) -> Result<&'a Value, MalformedUpdate> {
    value
        .get(field)
        .filter(|inner| inner.is_object())
        .ok_or_else(|| MalformedUpdate(format!("no `{field}` object")))
}

fn integer(value: &Value, field: &str) -> Result<i64, MalformedUpdate> {
    value.get(field).and_then(Value::as_i64).ok_or_else(|| MalformedUpdate(format!("no numeric `{field}`")))
}

fn bounded_id(value: &Value, field: &str) -> Result<String, MalformedUpdate> {
    match value.get(field).and_then(Value::as_str) {
        Some(id) if !id.is_empty() && id.len() <= MAX_ID_LEN => Ok(id.to_owned()),
        Some(_) => Err(MalformedUpdate(format!("`{field}` is empty or over {MAX_ID_LEN} bytes"))),
        None => Err(MalformedUpdate(format!("no `{field}`"))),
    }
}

/// One attachment. Link previews (`share`) are dropped, as their URL is already in the text,
/// and keyboards are the bot's own. MAX gives an image's full-size URL, not its size.
fn item(attachment: &Value) -> Option<Item> {
    let kind = attachment.get("type").and_then(Value::as_str)?;
    let unsupported = |kind| Some(Item::Unsupported(kind));
    match kind {
        "image" => {
            match attachment.get("payload").and_then(|payload| payload.get("url")).and_then(Value::as_str) {
                Some(url) => Some(Item::Photo { url: url.to_owned(), declared_bytes: None }),
                None => unsupported(ContentKind::Other),
            }
        }
        "share" | "inline_keyboard" => None,
        "sticker" => unsupported(ContentKind::Sticker),
        "audio" => unsupported(ContentKind::Voice),
        "video" => unsupported(ContentKind::Video),
        "file" => unsupported(ContentKind::Document),
        "location" => unsupported(ContentKind::Location),
        "contact" => unsupported(ContentKind::Contact),
        _ => unsupported(ContentKind::Other),
    }
}

/// Where a delivery goes, from a contact's external id.
pub fn recipient_of(external_id: &str) -> Option<Recipient> {
    match external_id.strip_prefix(CHAT_PREFIX) {
        Some(chat) => chat.parse().ok().map(Recipient::Chat),
        None => external_id.parse().ok().map(Recipient::User),
    }
}

/// What MAX updates became: events for the engine and button presses to answer.
pub type Received = crate::channels::Received<ButtonPress>;

pub use crate::channels::ReceiveError;

/// The inbound half of the MAX channel, shared by the long-poll loop and the webhook route.
pub type MaxReceiver = PlatformReceiver<MaxApi, MaxSettings>;

impl MaxReceiver {
    fn event(
        &self,
        event_id: String,
        external_id: String,
        locale: Option<&str>,
        kind: InboundKind,
    ) -> InboundEvent {
        let language = locale.unwrap_or(self.settings.default_language.code());
        InboundEvent {
            language_hint: Some(language.to_owned()),
            ..InboundEvent::new(CHANNEL, event_id, external_id, kind)
        }
    }

    /// Turns one update into inbound events, downloading images on the way.
    pub async fn receive(&self, update: MaxUpdate) -> Result<Received, ReceiveError> {
        match update {
            MaxUpdate::Ignored { kind } => {
                tracing::debug!(kind, "MAX update type not handled; acknowledged");
                Ok(Received::default())
            }
            MaxUpdate::Edited { dedupe_id, user_id, text } => Ok(Received::one(self.event(
                dedupe_id,
                user_id.to_string(),
                None,
                InboundKind::Edited { text },
            ))),
            MaxUpdate::Stopped { dedupe_id, user_id } => Ok(Received::one(self.event(
                dedupe_id,
                user_id.to_string(),
                None,
                InboundKind::Reachability { reachable: false },
            ))),
            MaxUpdate::Started { dedupe_id, user_id, locale, payload } => {
                // Pressing Start is how a MAX customer says hello: the dialog greets them. A
                // deep link's account-link token goes along as Telegram's does (`/start <token>`),
                // so the engine links the contact; any other payload is not passed on.
                let text = match payload.as_deref().filter(|p| crate::customers::looks_like_link_token(p)) {
                    Some(token) => format!("/start {token}"),
                    None => "/start".to_owned(),
                };
                let input = Input::Text { text };
                Ok(Received::one(self.event(
                    dedupe_id,
                    user_id.to_string(),
                    locale.as_deref(),
                    InboundKind::Input(input),
                )))
            }
            MaxUpdate::Press(press) => {
                let event = self.event(
                    press.dedupe_id.clone(),
                    press.user_id.to_string(),
                    press.locale.as_deref(),
                    InboundKind::Input(button_input(press.payload.as_deref())),
                );
                Ok(Received::press(event, press))
            }
            MaxUpdate::Message(message) => self.message(message).await,
        }
    }

    async fn message(&self, message: IncomingMessage) -> Result<Received, ReceiveError> {
        let kinds: Vec<InboundKind> = if message.group_chat {
            vec![InboundKind::GroupChat]
        } else {
            let inputs = self.message_inputs(Vec::new(), &message.text, &message.items).await?;
            inputs.into_iter().map(InboundKind::Input).collect()
        };
        let events = message_events(&message.dedupe_id, kinds, |event_id, kind| InboundEvent {
            display_name: message.display_name.clone(),
            ..self.event(event_id, message.external_id.clone(), message.locale.as_deref(), kind)
        });
        Ok(Received::events(events))
    }
}

#[async_trait::async_trait]
impl crate::channels::ReadUpdate for MaxReceiver {
    type Update = Value;
    type Press = ButtonPress;

    /// A raw update (a webhook body or one element of `GET /updates`) into events.
    async fn read_update(&self, update: &Value) -> Result<Received, ReceiveError> {
        self.receive(parse_update(update).map_err(ReceiveError::malformed)?).await
    }

    async fn answer_presses(&self, presses: &[ButtonPress]) {
        // Each answer stops the spinner and takes the keyboard off the message, keeping its
        // text, so an old choice cannot be pressed again.
        for press in presses {
            // Without the message (deleted meanwhile) there is no keyboard and no spinner left.
            let Some(text) = &press.message_text else { continue };
            let body = json!({"message": {"text": text, "attachments": []}});
            if let Err(error) = self.api.answer_callback(&press.callback_id, &body).await {
                tracing::warn!(%error, "could not answer a MAX button press");
            }
        }
    }
}

/// A press of one of our buttons, or a stale one when the payload is not ours or no longer
/// decodes.
pub fn button_input(payload: Option<&str>) -> Input {
    match payload.and_then(keyboard::read_payload).and_then(Action::decode) {
        Some(action) => Input::Button { action },
        None => Input::StaleButton,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_map_to_content_kinds() {
        let check = |attachment: Value, expected: Option<Item>| {
            assert_eq!(item(&attachment), expected, "{attachment}")
        };
        check(
            json!({"type": "image", "payload": {"photo_id": 1, "token": "t", "url": "https://i/1.jpg"}}),
            Some(Item::Photo { url: "https://i/1.jpg".into(), declared_bytes: None }),
        );
        check(json!({"type": "image", "payload": {}}), Some(Item::Unsupported(ContentKind::Other)));
        check(
            json!({"type": "sticker", "payload": {"code": "x"}}),
            Some(Item::Unsupported(ContentKind::Sticker)),
        );
        check(json!({"type": "audio", "payload": {}}), Some(Item::Unsupported(ContentKind::Voice)));
        check(json!({"type": "file", "payload": {}}), Some(Item::Unsupported(ContentKind::Document)));
        check(json!({"type": "location", "latitude": 1.0}), Some(Item::Unsupported(ContentKind::Location)));
        check(json!({"type": "share", "payload": {"url": "https://example.com"}}), None);
        check(json!({"type": "inline_keyboard", "payload": {"buttons": []}}), None);
    }

    #[test]
    fn recipients_come_back_from_external_ids() {
        assert_eq!(recipient_of("123456789"), Some(Recipient::User(123_456_789)));
        assert_eq!(recipient_of("chat:-70801090403050"), Some(Recipient::Chat(-70_801_090_403_050)));
        assert_eq!(recipient_of("chat:x"), None);
        assert_eq!(recipient_of("vk"), None);
    }

    #[test]
    fn ids_that_are_missing_or_too_long_are_malformed() {
        let update = |mid: Value| {
            json!({"update_type": "message_created", "timestamp": 1, "message": {
                "sender": {"user_id": 1}, "recipient": {"chat_type": "dialog", "chat_id": 2},
                "body": {"mid": mid, "text": "hi"}}})
        };
        assert!(parse_update(&update(json!("mid.1"))).is_ok());
        assert!(parse_update(&update(json!("m".repeat(MAX_ID_LEN + 1)))).is_err());
        assert!(parse_update(&update(json!(""))).is_err());
        assert!(parse_update(&update(Value::Null)).is_err());
        assert!(parse_update(&json!({"timestamp": 1})).is_err());
        assert_eq!(
            parse_update(&json!({"update_type": "dialog_muted", "timestamp": 1})).unwrap(),
            MaxUpdate::Ignored { kind: "dialog_muted".into() }
        );
    }
}
