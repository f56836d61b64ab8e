//! Updates in: what each Telegram update means for support, as an [`InboundEvent`].
//!
//! Reading is two steps. [`read`] is pure: it decides what an update is, from the update
//! alone. Images are then fetched (`getFile`, then the file download) and stored through
//! [`MediaStore`](crate::media::MediaStore) before the event exists, because the event carries
//! the stored image. A failure to fetch or store is [`InboundError`]: the update is not
//! acknowledged, and Telegram delivers it again.

use super::TelegramChannel;
use crate::channels::{InboundEvent, InboundKind};
use crate::core::dialog::{ContentKind, Input, PhotoProblem};
use crate::core::message::Action;

use futures::StreamExt;
use std::sync::Arc;
use teloxide::net::Download;
use teloxide::payloads::{AnswerCallbackQuery, EditMessageReplyMarkup};
use teloxide::requests::{Request, Requester};
use teloxide::types::{
    CallbackQuery, ChatId, ChatMemberUpdated, FileId, MaybeInaccessibleMessage, Message, MessageKind, Update,
    UpdateKind, User,
};
use teloxide::{ApiError, RequestError};

/// The update could not be turned into an event right now. Nothing was stored; the update
/// must not be acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    #[error("the update cannot be read now: {0}")]
    Unavailable(String),
}

/// What an update means, before any file is fetched.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    /// Complete as it is.
    Event(InboundKind),
    /// A photo (the largest size) or an image document, still on Telegram's servers.
    Image {
        file_id: String,
        /// What Telegram says the file weighs, checked before downloading anything.
        file_size: u32,
        caption: Option<String>,
    },
}

/// Who an update is from and where to answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sender {
    pub chat_id: i64,
    pub language_hint: Option<String>,
    pub display_name: Option<String>,
}

/// Decides what an update means. `None`: nothing for support (service messages, channel
/// posts, bots, kinds we never asked for, kinds teloxide could not parse): acknowledged and
/// dropped.
pub fn read(update: &Update) -> Option<(Sender, Reading)> {
    match &update.kind {
        UpdateKind::Message(message) => read_message(message),
        UpdateKind::EditedMessage(message) => read_edit(message),
        UpdateKind::CallbackQuery(query) => read_callback(query),
        UpdateKind::MyChatMember(change) => read_membership(change),
        _ => None,
    }
}

/// What the customer's content is, for a message in a private chat.
fn read_message(message: &Message) -> Option<(Sender, Reading)> {
    if message.chat.is_channel() || message.from.as_ref().is_some_and(|user| user.is_bot) {
        return None;
    }
    let sender = sender(message.chat.id, message.from.as_ref());
    let in_group = message.chat.is_group() || message.chat.is_supergroup();
    match message.kind {
        MessageKind::Common(_) if in_group => return Some((sender, Reading::Event(InboundKind::GroupChat))),
        MessageKind::Common(_) => {}
        // teloxide leaves a message empty when it cannot place its content (a Bot API
        // addition, a field it did not expect). The customer still sent something.
        MessageKind::Empty {} if !in_group => {
            let unknown = Input::Unsupported { kind: ContentKind::Other };
            return Some((sender, Reading::Event(InboundKind::Input(unknown))));
        }
        // Service messages (someone joined, a title changed, a pin) are nobody's request.
        _ => return None,
    }
    let caption = message.caption().map(str::to_owned);
    let input = if let Some(text) = message.text() {
        Input::Text { text: text.to_owned() }
    } else if let Some(sizes) = message.photo() {
        // Telegram lists sizes smallest first, but nothing promises that: pick by pixels.
        let largest = sizes
            .iter()
            .max_by_key(|size| (u64::from(size.width) * u64::from(size.height), size.file.size))?;
        let image =
            Reading::Image { file_id: largest.file.id.0.clone(), file_size: largest.file.size, caption };
        return Some((sender, image));
    } else if let Some(document) = message.document() {
        // An image sent "as a file" keeps its full quality; it is a photo all the same.
        let is_image = document.mime_type.as_ref().is_some_and(|mime| mime.type_() == "image");
        if is_image {
            let image = Reading::Image {
                file_id: document.file.id.0.clone(),
                file_size: document.file.size,
                caption,
            };
            return Some((sender, image));
        }
        Input::Unsupported { kind: ContentKind::Document }
    } else {
        Input::Unsupported { kind: unsupported_kind(message) }
    };
    Some((sender, Reading::Event(InboundKind::Input(input))))
}

fn unsupported_kind(message: &Message) -> ContentKind {
    if message.sticker().is_some() {
        ContentKind::Sticker
    } else if message.voice().is_some() {
        ContentKind::Voice
    } else if message.audio().is_some() {
        ContentKind::Audio
    } else if message.video().is_some() || message.video_note().is_some() || message.animation().is_some() {
        ContentKind::Video
    } else if message.location().is_some() || message.venue().is_some() {
        ContentKind::Location
    } else if message.contact().is_some() {
        ContentKind::Contact
    } else if message.poll().is_some() {
        ContentKind::Poll
    } else {
        ContentKind::Other
    }
}

/// An edit is logged for the agent; only private chats, and only edits that have words.
fn read_edit(message: &Message) -> Option<(Sender, Reading)> {
    if !message.chat.is_private() || message.from.as_ref().is_some_and(|user| user.is_bot) {
        return None;
    }
    let text = message.text().or(message.caption())?;
    let kind = InboundKind::Edited { text: text.to_owned() };
    Some((sender(message.chat.id, message.from.as_ref()), Reading::Event(kind)))
}

/// A button press. Data that does not decode (an old keyboard, a forged press) is still an
/// event, so the dialog can answer politely.
fn read_callback(query: &CallbackQuery) -> Option<(Sender, Reading)> {
    let chat_id = match &query.message {
        Some(message) if !message.chat().is_private() => return None,
        Some(message) => message.chat().id,
        // Buttons on inline-mode messages carry no chat; a user's private chat id is their id.
        None => ChatId(i64::try_from(query.from.id.0).ok()?),
    };
    let input = match query.data.as_deref().and_then(Action::decode) {
        Some(action) => Input::Button { action },
        None => Input::StaleButton,
    };
    Some((sender(chat_id, Some(&query.from)), Reading::Event(InboundKind::Input(input))))
}

/// In a private chat, `my_chat_member` means the customer blocked (kicked) or unblocked the bot.
fn read_membership(change: &ChatMemberUpdated) -> Option<(Sender, Reading)> {
    if !change.chat.is_private() {
        return None;
    }
    let gone = change.new_chat_member.is_banned() || change.new_chat_member.is_left();
    let kind = InboundKind::Reachability { reachable: !gone };
    Some((sender(change.chat.id, Some(&change.from)), Reading::Event(kind)))
}

fn sender(chat_id: ChatId, user: Option<&User>) -> Sender {
    Sender {
        chat_id: chat_id.0,
        language_hint: user.and_then(|user| user.language_code.clone()),
        display_name: user.map(User::full_name).filter(|name| !name.trim().is_empty()),
    }
}

/// A size Telegram stated. `file_size` is optional in the Bot API and teloxide fills a missing
/// one with `u32::MAX`: that means "unknown", and the download itself is then capped.
fn known_size(file_size: u32) -> Option<u64> {
    (file_size != u32::MAX).then_some(u64::from(file_size))
}

/// Callback queries always get `answerCallbackQuery`, or the customer's button keeps spinning.
pub fn callback_to_answer(update: &Update) -> Option<&CallbackQuery> {
    match &update.kind {
        UpdateKind::CallbackQuery(query) => Some(query),
        _ => None,
    }
}

impl TelegramChannel {
    /// The event to store for `update`, with any image already fetched and stored.
    /// `Ok(None)`: nothing for support; acknowledge the update and move on.
    pub async fn read_update(&self, update: &Update) -> Result<Option<InboundEvent>, InboundError> {
        let Some((sender, reading)) = read(update) else {
            tracing::debug!(update_id = update.id.0, "Telegram update ignored");
            return Ok(None);
        };
        let kind = match reading {
            Reading::Event(kind) => kind,
            Reading::Image { file_id, file_size, caption } => {
                InboundKind::Input(self.fetch_image(&file_id, file_size, caption).await?)
            }
        };
        Ok(Some(InboundEvent {
            channel: super::CHANNEL,
            event_id: self.event_id(update.id.0),
            external_id: sender.chat_id.to_string(),
            language_hint: sender.language_hint,
            display_name: sender.display_name,
            contact_data: None,
            kind,
        }))
    }

    /// Runs [`after_stored`](Self::after_stored) for the button presses among `updates` in a
    /// task of its own: those calls are best effort and may wait out a stalled Bot API (up to
    /// the request timeout), which must hold up neither the webhook's answer to Telegram nor
    /// the next `getUpdates`.
    pub fn follow_up(self: &Arc<Self>, updates: Vec<Update>) {
        let presses: Vec<Update> =
            updates.into_iter().filter(|update| callback_to_answer(update).is_some()).collect();
        if presses.is_empty() {
            return;
        }
        let channel = Arc::clone(self);
        let work = async move {
            for press in &presses {
                channel.after_stored(press).await;
            }
        };
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn(work)),
            None => drop(tokio::spawn(work)),
        }
    }

    /// What follows once the update's event is stored: the pressed button stops spinning
    /// (`answerCallbackQuery`) and its keyboard is removed, so it cannot be pressed twice.
    /// Both are best effort: failures are logged only (the event is already safe), and a chat
    /// that Telegram asked us to leave alone (429) gets neither; a 429 here holds the chat for
    /// the outbox too.
    pub async fn after_stored(&self, update: &Update) {
        let Some(query) = callback_to_answer(update) else { return };
        let chat = match &query.message {
            Some(message) => message.chat().id.0,
            None => i64::try_from(query.from.id.0).unwrap_or_default(),
        };
        if self.limits.held_for(chat).is_some() {
            return;
        }
        if let Err(error) = self.api.answer_callback_query(&AnswerCallbackQuery::new(query.id.clone())).await
        {
            tracing::debug!(error = %self.redact(&error), "answerCallbackQuery failed");
            if let RequestError::RetryAfter(wait) = error {
                self.limits.hold(chat, wait.duration());
                return;
            }
        }
        if let Some(MaybeInaccessibleMessage::Regular(message)) = &query.message {
            let removal = self
                .api
                .edit_message_reply_markup(&EditMessageReplyMarkup::new(message.chat.id, message.id))
                .await;
            if let Err(error) = removal {
                tracing::debug!(error = %self.redact(&error), "removing a pressed keyboard failed");
                if let RequestError::RetryAfter(wait) = error {
                    self.limits.hold(chat, wait.duration());
                }
            }
        }
    }

    /// Fetches an image within the media limit and stores it. A file that is too large or not
    /// an image becomes [`Input::PhotoRejected`], so the customer is told why.
    async fn fetch_image(
        &self,
        file_id: &str,
        file_size: u32,
        caption: Option<String>,
    ) -> Result<Input, InboundError> {
        let limit = self.media.max_bytes();
        let too_large =
            Input::PhotoRejected { problem: PhotoProblem::TooLarge { limit_mb: self.media.max_megabytes() } };
        if known_size(file_size).is_some_and(|size| size > limit) {
            return Ok(too_large);
        }
        let file = match self.bot.get_file(FileId(file_id.to_owned())).send().await {
            Ok(file) => file,
            Err(RequestError::Api(ApiError::Unknown(description)))
                if description.contains("file is too big") =>
            {
                return Ok(too_large);
            }
            Err(RequestError::Api(error)) if self.is_client_error(&error) => {
                tracing::warn!(error = %self.redact(&error), "Telegram refused getFile; telling the customer");
                return Ok(Input::PhotoRejected { problem: PhotoProblem::NotAnImage });
            }
            Err(error) => return Err(InboundError::Unavailable(format!("getFile: {}", self.redact(&error)))),
        };
        if known_size(file.meta.size).is_some_and(|size| size > limit) {
            return Ok(too_large);
        }
        // Stop reading as soon as the limit is passed, whatever the metadata said.
        let mut bytes = Vec::with_capacity(known_size(file.meta.size).unwrap_or(0) as usize);
        let mut stream = self.bot.download_file_stream(&file.path);
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| {
                InboundError::Unavailable(format!(
                    "downloading a file: {}",
                    self.redact(&error.without_url())
                ))
            })?;
            if (bytes.len() + chunk.len()) as u64 > limit {
                return Ok(too_large);
            }
            bytes.extend_from_slice(&chunk);
        }
        match self.media.store(&bytes).await {
            Ok(media) => Ok(Input::Photo { media, caption }),
            Err(refused) => match refused.problem_for_customer(self.media.max_megabytes()) {
                Some(problem) => Ok(Input::PhotoRejected { problem }),
                None => Err(InboundError::Unavailable(format!("storing an image: {refused}"))),
            },
        }
    }

    /// Telegram's 400s say the request itself is wrong; asking again will not help.
    fn is_client_error(&self, error: &ApiError) -> bool {
        super::outbound::api_description(error).starts_with("Bad Request")
    }
}
