//! From VK events to [`InboundEvent`]s. Parsing is split from fetching: [`parse_update`] reads
//! an event (Callback API body or Long Poll update, the same shape) without I/O, and
//! [`VkReceiver::receive`] downloads photos into the [`MediaStore`] and builds the events the
//! engine stores.

use super::CHANNEL;
use super::api::VkApi;
use super::keyboard::{self, PayloadMeaning};
pub use crate::channels::platform_receiver::Item;
use crate::channels::platform_receiver::PlatformReceiver;
use crate::channels::{InboundEvent, InboundKind, message_events};
use crate::config::vk::VkSettings;
use crate::core::dialog::{ContentKind, Input};
use crate::core::message::Action;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Peer ids from here up are group chats, not private conversations.
const FIRST_CHAT_PEER_ID: i64 = 2_000_000_000;
/// VK's `doc.type` for images sent as files.
const DOC_TYPE_IMAGE: i64 = 4;
/// VK's event ids are 40 hexadecimal digits. A longer one is not from VK, and it would become
/// a dedupe key that PostgreSQL's index cannot hold (a database error VK would retry forever).
pub const MAX_EVENT_ID_LEN: usize = 128;

/// The common wrapper of every event: `{"type", "object", "group_id", "event_id", "secret"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub kind: String,
    pub object: Value,
    pub group_id: Option<u64>,
    /// VK's id of this event; older API versions did not send one.
    pub event_id: Option<String>,
    /// Present on Callback API posts when a secret is configured.
    pub secret: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed VK event: {0}")]
pub struct MalformedEvent(pub String);

impl Envelope {
    /// Reads the wrapper; only `type` is required.
    pub fn parse(value: &Value) -> Result<Envelope, MalformedEvent> {
        let kind = value
            .get("type")
            .and_then(Value::as_str)
            .ok_or_else(|| MalformedEvent("no `type` field".to_owned()))?
            .to_owned();
        let event_id = value.get("event_id").and_then(Value::as_str).map(str::to_owned);
        if event_id.as_ref().is_some_and(|id| id.len() > MAX_EVENT_ID_LEN) {
            return Err(MalformedEvent(format!("an `event_id` over {MAX_EVENT_ID_LEN} bytes")));
        }
        Ok(Envelope {
            kind,
            object: value.get("object").cloned().unwrap_or(Value::Null),
            group_id: value.get("group_id").and_then(Value::as_i64).map(i64::unsigned_abs),
            event_id,
            secret: value.get("secret").and_then(Value::as_str).map(str::to_owned),
        })
    }

    /// The dedupe key. VK's `event_id` when there is one; otherwise a hash of the event itself,
    /// which is the same for every redelivery of it.
    pub fn dedupe_id(&self) -> String {
        match &self.event_id {
            Some(id) if !id.is_empty() => id.clone(),
            _ => {
                let digest = Sha256::digest(format!("{}\n{}", self.kind, self.object).as_bytes());
                format!("h:{}", &hex::encode(digest)[..40])
            }
        }
    }
}

/// One event, read.
#[derive(Debug, Clone, PartialEq)]
pub enum VkUpdate {
    Message(IncomingMessage),
    ButtonPress(ButtonPress),
    /// `message_edit` of a customer's own message in a private conversation.
    Edited {
        dedupe_id: String,
        peer_id: i64,
        text: String,
    },
    /// `message_allow` (true) or `message_deny` (false).
    Reachability {
        dedupe_id: String,
        user_id: i64,
        reachable: bool,
    },
    /// An event type we do not handle: acknowledged and forgotten.
    Ignored {
        kind: String,
    },
}

/// `message_new`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncomingMessage {
    pub dedupe_id: String,
    pub peer_id: i64,
    pub from_id: i64,
    pub text: String,
    /// The payload of the keyboard button that sent this message, if any.
    pub payload: Option<Value>,
    pub items: Vec<Item>,
    /// `client_info`: which keyboards the client shows, and its language.
    pub client_info: Option<Value>,
    /// `ref`: the parameter of the `vk.me/<community>?ref=...` link the customer came by,
    /// when it is an account-link token (`crate::customers`).
    pub link_token: Option<String>,
}

/// `message_event`: a callback button was pressed.
#[derive(Debug, Clone, PartialEq)]
pub struct ButtonPress {
    pub dedupe_id: String,
    /// The id VK wants back in `messages.sendMessageEventAnswer`.
    pub press_id: String,
    pub user_id: i64,
    pub peer_id: i64,
    pub payload: Option<Value>,
}

/// Reads one event without any I/O.
pub fn parse_update(envelope: &Envelope) -> Result<VkUpdate, MalformedEvent> {
    let object = &envelope.object;
    let dedupe_id = envelope.dedupe_id();
    match envelope.kind.as_str() {
        "message_new" => {
            // Since API 5.103 the message is wrapped with `client_info`; accept the old shape too.
            let message = object.get("message").unwrap_or(object);
            let peer_id = integer(message, "peer_id")?;
            let from_id = message.get("from_id").and_then(Value::as_i64).unwrap_or(peer_id);
            let text = message.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
            let payload = message.get("payload").filter(|payload| !payload.is_null()).cloned();
            let mut items: Vec<Item> = message
                .get("attachments")
                .and_then(Value::as_array)
                .map(|attachments| attachments.iter().filter_map(item).collect())
                .unwrap_or_default();
            if message.get("geo").is_some_and(|geo| !geo.is_null()) {
                items.push(Item::Unsupported(ContentKind::Location));
            }
            Ok(VkUpdate::Message(IncomingMessage {
                dedupe_id,
                peer_id,
                from_id,
                text,
                payload,
                items,
                client_info: object.get("client_info").filter(|info| info.is_object()).cloned(),
                link_token: message
                    .get("ref")
                    .and_then(Value::as_str)
                    .filter(|link| crate::customers::looks_like_link_token(link))
                    .map(str::to_owned),
            }))
        }
        "message_edit" => {
            let message = object.get("message").unwrap_or(object);
            let peer_id = integer(message, "peer_id")?;
            let from_id = message.get("from_id").and_then(Value::as_i64).unwrap_or(peer_id);
            let outgoing = message.get("out").and_then(Value::as_i64) == Some(1);
            // The community's own edits (an agent fixing a typo) and chat edits are not the
            // customer's words.
            if outgoing || from_id <= 0 || peer_id >= FIRST_CHAT_PEER_ID {
                return Ok(VkUpdate::Ignored { kind: envelope.kind.clone() });
            }
            let text = message.get("text").and_then(Value::as_str).unwrap_or_default().to_owned();
            Ok(VkUpdate::Edited { dedupe_id, peer_id, text })
        }
        "message_event" => Ok(VkUpdate::ButtonPress(ButtonPress {
            dedupe_id,
            press_id: object
                .get("event_id")
                .and_then(Value::as_str)
                .ok_or_else(|| MalformedEvent("message_event without `event_id`".to_owned()))?
                .to_owned(),
            user_id: integer(object, "user_id")?,
            peer_id: integer(object, "peer_id")?,
            payload: object.get("payload").filter(|payload| !payload.is_null()).cloned(),
        })),
        "message_allow" | "message_deny" => Ok(VkUpdate::Reachability {
            dedupe_id,
            user_id: integer(object, "user_id")?,
            reachable: envelope.kind == "message_allow",
        }),
        other => Ok(VkUpdate::Ignored { kind: other.to_owned() }),
    }
}

fn integer(object: &Value, field: &str) -> Result<i64, MalformedEvent> {
    object.get(field).and_then(Value::as_i64).ok_or_else(|| MalformedEvent(format!("no numeric `{field}`")))
}

/// One attachment. Links are dropped: VK adds them for URLs that are already in the text. A
/// photo is its largest size; an image sent as a file comes with its declared size.
fn item(attachment: &Value) -> Option<Item> {
    let kind = attachment.get("type").and_then(Value::as_str)?;
    let body = attachment.get(kind).unwrap_or(&Value::Null);
    let unsupported = |kind| Some(Item::Unsupported(kind));
    match kind {
        "photo" => match largest_photo_url(body) {
            Some(url) => Some(Item::Photo { url, declared_bytes: None }),
            None => unsupported(ContentKind::Other),
        },
        "doc" => {
            let url = body.get("url").and_then(Value::as_str);
            match (body.get("type").and_then(Value::as_i64), url) {
                (Some(DOC_TYPE_IMAGE), Some(url)) => Some(Item::Photo {
                    url: url.to_owned(),
                    declared_bytes: body.get("size").and_then(Value::as_u64),
                }),
                _ => unsupported(ContentKind::Document),
            }
        }
        "link" => None,
        "sticker" | "graffiti" => unsupported(ContentKind::Sticker),
        "audio_message" => unsupported(ContentKind::Voice),
        "audio" | "audio_playlist" | "podcast" => unsupported(ContentKind::Audio),
        "video" | "video_message" | "story" | "clip" => unsupported(ContentKind::Video),
        "poll" => unsupported(ContentKind::Poll),
        _ => unsupported(ContentKind::Other),
    }
}

/// VK's size letters from small to large (`o`-`r` are crops used for previews), for photos
/// whose sizes carry no dimensions.
const SIZE_LETTERS: &str = "smopqrxyzw";

/// The URL of the largest copy: by width x height, then by the size letter.
pub fn largest_photo_url(photo: &Value) -> Option<String> {
    let mut candidates: Vec<&Value> =
        photo.get("sizes").and_then(Value::as_array).map(|sizes| sizes.iter().collect()).unwrap_or_default();
    if let Some(original) = photo.get("orig_photo").filter(|original| original.is_object()) {
        candidates.push(original);
    }
    candidates
        .into_iter()
        .filter_map(|size| {
            let url = size.get("url").or_else(|| size.get("src")).and_then(Value::as_str)?;
            let dimension = |name| size.get(name).and_then(Value::as_u64).unwrap_or(0);
            // Saturating: VK's numbers are not ours to trust, and an overflow would panic (debug)
            // or wrap into a tiny area (release). Found by the `vk_event` fuzz target.
            let area = dimension("width").saturating_mul(dimension("height"));
            let letter = size.get("type").and_then(Value::as_str).unwrap_or_default();
            let rank = match letter {
                "base" | "orig" | "max" => SIZE_LETTERS.len() + 1,
                letter => letter
                    .chars()
                    .next()
                    .and_then(|first| SIZE_LETTERS.find(first))
                    .map_or(0, |position| position + 1),
            };
            Some(((area, rank), url))
        })
        .max_by_key(|(order, _)| *order)
        .map(|(_, url)| url.to_owned())
}

/// VK's `lang_id` as a language tag for negotiation.
pub fn language_of(lang_id: i64) -> Option<&'static str> {
    Some(match lang_id {
        0 => "ru",
        1 => "uk",
        2 | 114 => "be",
        3 => "en",
        4 => "es",
        5 => "fi",
        6 => "de",
        7 => "it",
        15 => "pl",
        16 => "fr",
        65 => "uz",
        82 => "tr",
        97 => "kk",
        _ => return None,
    })
}

/// What VK events became: events for the engine and callback button presses to answer.
pub type Received = crate::channels::Received<ButtonPress>;

pub use crate::channels::ReceiveError;

/// The inbound half of the VK channel, shared by the Long Poll loop and the Callback API route.
pub type VkReceiver = PlatformReceiver<VkApi, VkSettings>;

impl VkReceiver {
    /// Reads a raw event (a Callback API body or one Long Poll update) and turns it into events.
    pub async fn receive_value(&self, value: &Value) -> Result<Received, ReceiveError> {
        let update = Envelope::parse(value).and_then(|envelope| parse_update(&envelope));
        self.receive(update.map_err(ReceiveError::malformed)?).await
    }

    /// Turns one event into inbound events, downloading photos on the way.
    pub async fn receive(&self, update: VkUpdate) -> Result<Received, ReceiveError> {
        match update {
            VkUpdate::Ignored { kind } => {
                tracing::debug!(kind, "VK event type not handled; acknowledged");
                Ok(Received::default())
            }
            VkUpdate::Edited { dedupe_id, peer_id, text } => {
                let kind = InboundKind::Edited { text };
                Ok(Received::one(InboundEvent::new(CHANNEL, dedupe_id, peer_id.to_string(), kind)))
            }
            VkUpdate::Reachability { dedupe_id, user_id, reachable } => {
                let kind = InboundKind::Reachability { reachable };
                Ok(Received::one(InboundEvent::new(CHANNEL, dedupe_id, user_id.to_string(), kind)))
            }
            VkUpdate::ButtonPress(press) => {
                let kind = InboundKind::Input(button_input(press.payload.as_ref()));
                let event =
                    InboundEvent::new(CHANNEL, press.dedupe_id.clone(), press.peer_id.to_string(), kind);
                Ok(Received::press(event, press))
            }
            VkUpdate::Message(message) => self.message(message).await,
        }
    }

    async fn message(&self, message: IncomingMessage) -> Result<Received, ReceiveError> {
        if message.from_id <= 0 {
            // Another community or the bot itself: nobody to help.
            return Ok(Received::default());
        }
        let language_hint = message
            .client_info
            .as_ref()
            .and_then(|info| info.get("lang_id"))
            .and_then(Value::as_i64)
            .and_then(language_of)
            .map_or_else(|| self.settings.default_language.code().to_owned(), str::to_owned);
        let contact_data = message.client_info.as_ref().map(keyboard::contact_data);
        let kinds: Vec<InboundKind> = if message.peer_id >= FIRST_CHAT_PEER_ID {
            vec![InboundKind::GroupChat]
        } else {
            self.inputs(&message).await?.into_iter().map(InboundKind::Input).collect()
        };
        let events = message_events(&message.dedupe_id, kinds, |event_id, kind| InboundEvent {
            language_hint: Some(language_hint.clone()),
            contact_data: contact_data.clone(),
            ..InboundEvent::new(CHANNEL, event_id, message.peer_id.to_string(), kind)
        });
        Ok(Received::events(events))
    }

    async fn inputs(&self, message: &IncomingMessage) -> Result<Vec<Input>, ReceiveError> {
        // A `vk.me/...?ref=<token>` link: the token goes first, as Telegram's `/start <token>`,
        // so the contact is linked before the message is answered.
        let mut inputs: Vec<Input> =
            message.link_token.iter().map(|token| Input::Text { text: format!("/start {token}") }).collect();
        if let Some(payload) = &message.payload {
            inputs.push(match keyboard::read_payload(payload) {
                PayloadMeaning::Start => Input::Text { text: "/start".to_owned() },
                _ => button_input(Some(payload)),
            });
            return Ok(inputs);
        }
        self.message_inputs(inputs, &message.text, &message.items).await
    }
}

#[async_trait::async_trait]
impl crate::channels::ReadUpdate for VkReceiver {
    type Update = Value;
    type Press = ButtonPress;

    async fn read_update(&self, update: &Value) -> Result<Received, ReceiveError> {
        self.receive_value(update).await
    }

    async fn answer_presses(&self, presses: &[ButtonPress]) {
        for press in presses {
            if let Err(error) =
                self.api.send_message_event_answer(&press.press_id, press.user_id, press.peer_id).await
            {
                tracing::warn!(%error, "could not answer a VK callback button press");
            }
        }
    }
}

/// A press of one of our buttons, or a stale one when the payload is not ours or no longer
/// decodes.
pub fn button_input(payload: Option<&Value>) -> Input {
    match payload.map(keyboard::read_payload) {
        Some(PayloadMeaning::Ours(data)) => match Action::decode(&data) {
            Some(action) => Input::Button { action },
            None => Input::StaleButton,
        },
        _ => Input::StaleButton,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_largest_size_wins_by_area_then_by_letter() {
        let photo = json!({"sizes": [
            {"type": "s", "url": "s", "width": 75, "height": 31},
            {"type": "x", "url": "x", "width": 266, "height": 109},
            {"type": "r", "url": "r", "width": 266, "height": 109},
            {"type": "o", "url": "o", "width": 130, "height": 87},
        ]});
        assert_eq!(largest_photo_url(&photo).as_deref(), Some("x"));
        let without_dimensions = json!({"sizes": [
            {"type": "m", "url": "m", "width": 0, "height": 0},
            {"type": "z", "url": "z", "width": 0, "height": 0},
            {"type": "x", "url": "x", "width": 0, "height": 0},
        ]});
        assert_eq!(largest_photo_url(&without_dimensions).as_deref(), Some("z"));
        let with_original = json!({"sizes": [{"type": "w", "url": "w", "width": 2560, "height": 1440}],
            "orig_photo": {"type": "base", "url": "orig", "width": 4000, "height": 3000}});
        assert_eq!(largest_photo_url(&with_original).as_deref(), Some("orig"));
        assert_eq!(largest_photo_url(&json!({})), None);
    }

    /// Regression for a crash the `vk_event` fuzz target found: dimensions whose product does
    /// not fit in 64 bits.
    #[test]
    fn absurd_photo_dimensions_do_not_overflow() {
        let photo = json!({"sizes": [
            {"type": "x", "url": "x", "width": 266, "height": 106_744_073_709_551_619_u64},
            {"type": "z", "url": "z", "width": 1280, "height": 1024},
            {"type": "w", "url": "w", "width": u64::MAX, "height": u64::MAX},
        ]});
        assert_eq!(largest_photo_url(&photo).as_deref(), Some("w"));
        let event = json!({"type": "message_new", "object": {"message": {"peer_id": 1, "from_id": 1,
            "attachments": [{"type": "photo", "photo": photo}]}}});
        let update = parse_update(&Envelope::parse(&event).unwrap()).unwrap();
        let VkUpdate::Message(message) = update else { panic!("a message: {update:?}") };
        assert_eq!(message.items, [Item::Photo { url: "w".into(), declared_bytes: None }]);
    }

    #[test]
    fn a_ref_that_is_a_link_token_is_kept_and_anything_else_is_not() {
        let token = "Q2xpY2tIZXJlVG9MaW5rWW91ckFjY28";
        assert!(crate::customers::looks_like_link_token(&format!("{token}x")));
        let read = |reference: &str| {
            let event = json!({"type": "message_new", "object": {"message": {"peer_id": 1, "from_id": 1,
                "text": "hi", "ref": reference}}});
            let VkUpdate::Message(message) = parse_update(&Envelope::parse(&event).unwrap()).unwrap() else {
                panic!("a message")
            };
            message.link_token
        };
        assert_eq!(read(&format!("{token}x")), Some(format!("{token}x")));
        assert_eq!(read("summer-sale"), None);
    }

    #[test]
    fn events_without_an_id_get_a_stable_hash() {
        let value = json!({"type": "message_deny", "object": {"user_id": 7}, "group_id": 1});
        let first = Envelope::parse(&value).unwrap();
        let again = Envelope::parse(&value.clone()).unwrap();
        assert_eq!(first.dedupe_id(), again.dedupe_id());
        assert!(first.dedupe_id().starts_with("h:"));
        let other = Envelope::parse(&json!({"type": "message_deny", "object": {"user_id": 8}})).unwrap();
        assert_ne!(first.dedupe_id(), other.dedupe_id());
    }

    #[test]
    fn attachments_map_to_content_kinds() {
        let check = |attachment: Value, expected: Option<Item>| {
            assert_eq!(item(&attachment), expected, "{attachment}")
        };
        check(
            json!({"type": "sticker", "sticker": {"sticker_id": 9}}),
            Some(Item::Unsupported(ContentKind::Sticker)),
        );
        check(
            json!({"type": "audio_message", "audio_message": {}}),
            Some(Item::Unsupported(ContentKind::Voice)),
        );
        check(json!({"type": "wall", "wall": {}}), Some(Item::Unsupported(ContentKind::Other)));
        check(json!({"type": "video", "video": {}}), Some(Item::Unsupported(ContentKind::Video)));
        check(
            json!({"type": "doc", "doc": {"type": 1, "url": "u"}}),
            Some(Item::Unsupported(ContentKind::Document)),
        );
        check(
            json!({"type": "doc", "doc": {"type": 4, "url": "u", "size": 10}}),
            Some(Item::Photo { url: "u".into(), declared_bytes: Some(10) }),
        );
        check(json!({"type": "link", "link": {"url": "https://example.com"}}), None);
    }

    #[test]
    fn lang_ids_map_to_tags() {
        assert_eq!(language_of(0), Some("ru"));
        assert_eq!(language_of(3), Some("en"));
        assert_eq!(language_of(1), Some("uk"));
        assert_eq!(language_of(999), None);
    }
}
