//! Replies out: a delivery becomes a few Bot API calls (text parts, then photos), paced by
//! [`Limits`](super::limits::Limits), with Telegram's answers mapped to what the outbox must
//! do. Texts go out as plain text (no `parse_mode`), so nothing a customer, an agent or a
//! translator writes is ever read as markup and nothing needs escaping.

use super::TelegramChannel;
use crate::channels::{Channel, Delivery, DeliveryError};
use crate::core::message::{MediaRef, Outbound};
use crate::i18n::RenderedButton;
use crate::message_split::split_message;
use teloxide::payloads::{SendMessage, SendPhotoSetters};
use teloxide::requests::{Request, Requester};
use teloxide::types::{ChatId, InlineKeyboardButton, InlineKeyboardMarkup, InputFile, ReplyMarkup};
use teloxide::{ApiError, RequestError};

/// The longest `sendMessage` text, in UTF-16 code units.
pub const MAX_MESSAGE_UTF16: usize = 4096;

/// Telegram's limit on `callback_data`, in bytes.
pub const MAX_CALLBACK_DATA_BYTES: usize = 64;

/// Partly sent deliveries remembered for resuming; see `record_progress`.
const MAX_DELIVERIES_IN_PROGRESS: usize = 10_000;

/// One Bot API call of a delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Text { text: String, keyboard: Option<InlineKeyboardMarkup> },
    Photo { media: MediaRef, keyboard: Option<InlineKeyboardMarkup> },
}

/// Lays a rendered message out as Bot API calls: the text split to Telegram's length, then
/// each photo; the keyboard goes on the last call, under everything it refers to.
pub fn plan(
    text: &str,
    buttons: &[Vec<RenderedButton>],
    attachments: &[MediaRef],
) -> Result<Vec<Step>, DeliveryError> {
    let mut steps: Vec<Step> = Vec::new();
    if !text.trim().is_empty() {
        steps.extend(
            split_message(text, MAX_MESSAGE_UTF16)
                .into_iter()
                .map(|text| Step::Text { text, keyboard: None }),
        );
    }
    steps.extend(attachments.iter().map(|media| Step::Photo { media: media.clone(), keyboard: None }));
    if let Some(keyboard) = keyboard(buttons)? {
        match steps.last_mut() {
            Some(Step::Text { keyboard: slot, .. } | Step::Photo { keyboard: slot, .. }) => {
                *slot = Some(keyboard)
            }
            // Telegram refuses an empty text, and buttons without words explain nothing.
            None => {
                return Err(DeliveryError::Permanent {
                    reason: "a reply with buttons but no text".to_owned(),
                    unreachable: false,
                });
            }
        }
    }
    Ok(steps)
}

/// An inline keyboard, one Telegram row per reply row. `None` when there are no buttons.
pub fn keyboard(rows: &[Vec<RenderedButton>]) -> Result<Option<InlineKeyboardMarkup>, DeliveryError> {
    let rows: Vec<Vec<InlineKeyboardButton>> = rows
        .iter()
        .filter(|row| !row.is_empty())
        .map(|row| {
            row.iter()
                .map(|button| {
                    if button.data.is_empty() || button.data.len() > MAX_CALLBACK_DATA_BYTES {
                        return Err(DeliveryError::Permanent {
                            reason: format!(
                                "callback data of {} bytes does not fit Telegram",
                                button.data.len()
                            ),
                            unreachable: false,
                        });
                    }
                    Ok(InlineKeyboardButton::callback(button.label.clone(), button.data.clone()))
                })
                .collect()
        })
        .collect::<Result<_, _>>()?;
    Ok((!rows.is_empty()).then(|| InlineKeyboardMarkup::new(rows)))
}

/// What a Bot API error means for the outbox. teloxide keeps the description but not the
/// HTTP status, so the description's standard prefix stands in for it where teloxide has no
/// variant: `Forbidden` is 403, `Bad Request` is 400.
pub fn classify(error: &RequestError) -> DeliveryError {
    match error {
        RequestError::RetryAfter(seconds) => DeliveryError::RetryAfter(seconds.duration()),
        RequestError::Api(api) => classify_api(api),
        RequestError::MigrateToChatId(_) => DeliveryError::Permanent {
            reason: "the group became a supergroup with another id".to_owned(),
            unreachable: true,
        },
        RequestError::Network(_) | RequestError::InvalidJson { .. } | RequestError::Io(_) => {
            DeliveryError::Transient(error.to_string())
        }
    }
}

/// Telegram's own description of an error (teloxide wraps unknown ones in its own words).
pub fn api_description(error: &ApiError) -> String {
    match error {
        ApiError::Unknown(description) => description.clone(),
        known => known.to_string(),
    }
}

fn classify_api(error: &ApiError) -> DeliveryError {
    let description = api_description(error);
    let unreachable = matches!(
        error,
        ApiError::BotBlocked
            | ApiError::UserDeactivated
            | ApiError::ChatNotFound
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::BotKickedFromChannel
            | ApiError::CantInitiateConversation
            | ApiError::CantTalkWithBots
    ) || description.starts_with("Forbidden");
    if unreachable {
        DeliveryError::Permanent { reason: description, unreachable: true }
    } else if matches!(error, ApiError::InvalidToken) {
        // The operator's mistake, not the message's: keep it for when the token is fixed.
        DeliveryError::Transient(description)
    } else if description.starts_with("Bad Request") {
        DeliveryError::Permanent { reason: description, unreachable: false }
    } else {
        // 5xx, flood control without `retry_after`, and anything Telegram may add later.
        DeliveryError::Transient(description)
    }
}

impl TelegramChannel {
    /// The calls one delivery needs, with every attachment's bytes confirmed present first,
    /// so a missing file fails before anything is sent.
    async fn plan_delivery(&self, delivery: &Delivery) -> Result<Vec<Step>, DeliveryError> {
        match &delivery.message {
            Outbound::Bot(reply) => {
                let rendered = (self.renderer)(delivery.lang, reply);
                plan(&rendered.text, &rendered.buttons, &rendered.attachments)
            }
            // An agent's words go out exactly as written.
            Outbound::Agent { text, attachments, .. } => plan(text, &[], attachments),
        }
    }

    async fn photo_bytes(&self, media: &MediaRef) -> Result<Vec<u8>, DeliveryError> {
        match self.media.read(&media.sha256).await {
            Ok(Some(bytes)) => Ok(bytes),
            Ok(None) => Err(DeliveryError::Permanent {
                reason: format!("attachment {} is no longer stored", media.sha256),
                unreachable: false,
            }),
            Err(error) => {
                Err(DeliveryError::Transient(format!("reading attachment {}: {error}", media.sha256)))
            }
        }
    }

    async fn send_step(&self, chat: ChatId, step: &Step) -> Result<(), DeliveryError> {
        let result = match step {
            Step::Text { text, keyboard } => {
                let mut request = SendMessage::new(chat, text.clone());
                request.reply_markup = keyboard.clone().map(ReplyMarkup::InlineKeyboard);
                self.api.send_message(&request).await
            }
            Step::Photo { media, keyboard } => {
                let bytes = self.photo_bytes(media).await?;
                let extension = media.content_type.strip_prefix("image/").unwrap_or("jpg");
                let file = InputFile::memory(bytes).file_name(format!("{}.{extension}", &media.sha256[..16]));
                let mut request = self.bot.send_photo(chat, file);
                if let Some(keyboard) = keyboard {
                    request = request.reply_markup(keyboard.clone());
                }
                request.send().await.map(drop)
            }
        };
        result.map_err(|error| match classify(&error) {
            DeliveryError::Transient(reason) => DeliveryError::Transient(self.redact(&reason)),
            other => other,
        })
    }

    fn steps_done(&self, outbox_id: i64) -> usize {
        self.progress.lock().expect("progress lock poisoned").get(&outbox_id).copied().unwrap_or(0)
    }

    fn record_progress(&self, outbox_id: i64, done: Option<usize>) {
        let mut progress = self.progress.lock().expect("progress lock poisoned");
        // Entries of deliveries the outbox gave up on are never removed by a success; a
        // bound keeps them from piling up (at worst, one retried part is sent twice).
        if progress.len() >= MAX_DELIVERIES_IN_PROGRESS {
            progress.clear();
        }
        match done {
            Some(done) => progress.insert(outbox_id, done),
            None => progress.remove(&outbox_id),
        };
    }
}

#[async_trait::async_trait]
impl Channel for TelegramChannel {
    fn name(&self) -> &'static str {
        super::CHANNEL
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        let chat = delivery.external_id.parse::<i64>().map(ChatId).map_err(|_| DeliveryError::Permanent {
            reason: format!("{:?} is not a Telegram chat id", delivery.external_id),
            unreachable: true,
        })?;
        let steps = self.plan_delivery(delivery).await?;
        for step in &steps {
            if let Step::Photo { media, .. } = step {
                self.photo_bytes(media).await?;
            }
        }
        for (index, step) in steps.iter().enumerate().skip(self.steps_done(delivery.outbox_id)) {
            self.limits.acquire(chat.0).await.map_err(DeliveryError::RetryAfter)?;
            match self.send_step(chat, step).await {
                Ok(()) => self.record_progress(delivery.outbox_id, Some(index + 1)),
                Err(error) => {
                    match &error {
                        DeliveryError::RetryAfter(wait) => self.limits.hold(chat.0, *wait),
                        DeliveryError::Permanent { .. } => self.record_progress(delivery.outbox_id, None),
                        DeliveryError::Transient(reason) => {
                            tracing::warn!(outbox_id = delivery.outbox_id, %reason, "Telegram delivery failed")
                        }
                    }
                    return Err(error);
                }
            }
        }
        self.record_progress(delivery.outbox_id, None);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use teloxide::types::Seconds;

    fn button(label: &str, data: &str) -> RenderedButton {
        RenderedButton { label: label.to_owned(), data: data.to_owned() }
    }

    fn photo(sha: char) -> MediaRef {
        MediaRef { sha256: sha.to_string().repeat(64), content_type: "image/png".to_owned(), bytes: 10 }
    }

    #[test]
    fn the_keyboard_rides_on_the_last_call() {
        let rows = vec![vec![button("Yes", "yes"), button("No", "no")], vec![button("Menu", "menu")]];
        let long = "word ".repeat(1000);
        let steps = plan(&long, &rows, &[]).unwrap();
        assert_eq!(steps.len(), 2);
        assert!(matches!(&steps[0], Step::Text { keyboard: None, .. }));
        let Step::Text { keyboard: Some(keyboard), .. } = &steps[1] else { panic!("{steps:?}") };
        assert_eq!(keyboard.inline_keyboard.len(), 2);
        assert_eq!(keyboard.inline_keyboard[0].len(), 2);

        let steps = plan("Look", &rows, &[photo('a'), photo('b')]).unwrap();
        assert_eq!(steps.len(), 3);
        assert!(matches!(&steps[2], Step::Photo { keyboard: Some(_), .. }));
        assert!(matches!(&steps[0], Step::Text { keyboard: None, .. }));
    }

    #[test]
    fn a_turn_too_long_for_one_message_is_split_between_its_paragraphs_in_russian_and_chinese() {
        use crate::core::faq::{FaqAction, Intent};
        use crate::core::message::{Action, Button, Lang, Reply};
        let i18n = crate::i18n::I18n::load(&crate::assets::LocaleSource::Embedded).expect("shipped locales");
        // Every FAQ answer four times, then a question with buttons: far longer than one message.
        let answers = Intent::ALL.into_iter().filter(|intent| intent.action() == FaqAction::Answer);
        let keys: Vec<String> = answers.map(Intent::answer_key).collect();
        let mut replies: Vec<Reply> =
            std::iter::repeat_n(&keys, 4).flatten().map(|key| Reply::new(key)).collect();
        replies.push(Reply::new(crate::core::keys::DID_IT_HELP).row(vec![
            Button::new("button-yes", Action::Helped),
            Button::new("button-no", Action::NotHelped),
        ]));
        let [turn] = crate::core::turn::messages(replies).try_into().expect("one message");
        for lang in [Lang::Ru, Lang::Zh] {
            let rendered = i18n.reply(lang, &turn);
            assert!(crate::message_split::utf16_len(&rendered.text) > MAX_MESSAGE_UTF16, "{lang}");
            let paragraphs: Vec<String> = turn.texts().map(|text| i18n.text(lang, text)).collect();
            let steps = plan(&rendered.text, &rendered.buttons, &[]).unwrap();
            let parts: Vec<&str> = steps
                .iter()
                .map(|step| match step {
                    Step::Text { text, .. } => text.as_str(),
                    Step::Photo { .. } => panic!("no photos in {lang}"),
                })
                .collect();
            assert!(parts.len() >= 2, "{lang}: {} parts", parts.len());
            assert!(parts.iter().all(|part| crate::message_split::utf16_len(part) <= MAX_MESSAGE_UTF16));
            // Cut only between paragraphs: each part is whole paragraphs, and together they
            // are every paragraph in order.
            let rejoined: Vec<&str> = parts.iter().flat_map(|part| part.split("\n\n")).collect();
            assert_eq!(rejoined, paragraphs.iter().map(|p| p.trim()).collect::<Vec<_>>(), "{lang}");
            let (last, earlier) = steps.split_last().expect("parts");
            assert!(earlier.iter().all(|step| matches!(step, Step::Text { keyboard: None, .. })), "{lang}");
            let Step::Text { keyboard: Some(keyboard), .. } = last else { panic!("{lang}: {last:?}") };
            assert_eq!(keyboard.inline_keyboard[0].len(), 2, "{lang}");
        }
    }

    #[test]
    fn refuses_callback_data_telegram_would_reject() {
        let too_long = vec![vec![button("x", &"a".repeat(65))]];
        assert!(matches!(
            plan("hi", &too_long, &[]),
            Err(DeliveryError::Permanent { unreachable: false, .. })
        ));
        let just_right = vec![vec![button("x", &"a".repeat(64))]];
        assert!(plan("hi", &just_right, &[]).is_ok());
        assert!(plan("", &just_right, &[]).is_err());
        assert_eq!(plan("", &[], &[]).unwrap(), vec![]);
    }

    #[test]
    fn maps_telegram_errors_to_outbox_decisions() {
        let check = |error: RequestError, expected: DeliveryError| assert_eq!(classify(&error), expected);
        check(
            RequestError::RetryAfter(Seconds::from_seconds(7)),
            DeliveryError::RetryAfter(std::time::Duration::from_secs(7)),
        );
        for blocked in [ApiError::BotBlocked, ApiError::UserDeactivated, ApiError::ChatNotFound] {
            assert!(matches!(
                classify(&RequestError::Api(blocked)),
                DeliveryError::Permanent { unreachable: true, .. }
            ));
        }
        let forbidden = ApiError::Unknown("Forbidden: bot can't send messages to this user".to_owned());
        assert!(matches!(
            classify(&RequestError::Api(forbidden)),
            DeliveryError::Permanent { unreachable: true, .. }
        ));
        assert!(matches!(
            classify(&RequestError::Api(ApiError::MessageTextIsEmpty)),
            DeliveryError::Permanent { unreachable: false, .. }
        ));
        let server = ApiError::Unknown("Internal Server Error".to_owned());
        assert!(matches!(classify(&RequestError::Api(server)), DeliveryError::Transient(_)));
        assert!(matches!(classify(&RequestError::Api(ApiError::InvalidToken)), DeliveryError::Transient(_)));
    }
}
