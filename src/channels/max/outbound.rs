//! Delivering outbox rows through `POST /messages`: rendered text split within MAX's 4,000
//! characters, images uploaded first and sent with the first part, the inline keyboard under
//! the last, each message paced to MAX's 2 a second per chat. MAX has no idempotency key, so a
//! send whose answer is lost is shown twice when retried (at most one message per crash or
//! lost answer, as on Telegram).

use super::CHANNEL;
use super::api::{ApiError, MaxApi, Recipient};
use super::inbound::recipient_of;
use super::keyboard;
use crate::channels::platform_channel::{PlatformChannel, SetupError};
use crate::channels::{Channel, Delivery, DeliveryError, Renderer, message_parts, stored_image};
use crate::config::max::MaxSettings;
use crate::core::message::{MediaRef, Outbound};
use crate::media::MediaStore;
use serde_json::{Value, json};
use std::time::Duration;

/// MAX's limit for one message's text.
pub const MAX_MESSAGE_UTF16: usize = 4000;
/// How long to wait, try after try, for MAX to finish processing an uploaded image before the
/// delivery goes back to the outbox (which then uploads it again).
const NOT_READY_PAUSES: [Duration; 4] =
    [Duration::from_millis(250), Duration::from_millis(500), Duration::from_secs(1), Duration::from_secs(2)];

/// The MAX channel: delivers outbox rows, and hands out the inbound half
/// ([`MaxReceiver`](super::MaxReceiver)) for the long-poll loop or the webhook route.
pub type MaxChannel = PlatformChannel<MaxApi, MaxSettings>;

impl MaxChannel {
    /// Validates the settings and builds the client.
    pub fn new(settings: MaxSettings, media: MediaStore, render: Renderer) -> Result<MaxChannel, SetupError> {
        settings.validate().map_err(crate::config::ConfigError::from)?;
        let api = MaxApi::new(&settings)?;
        Ok(MaxChannel::with(api, media, render, settings))
    }

    /// Uploads the images; each becomes one `image` attachment.
    async fn upload(&self, attachments: &[MediaRef]) -> Result<Vec<Value>, DeliveryError> {
        let mut uploaded = Vec::new();
        for media in attachments {
            let Some(bytes) = stored_image(self.media(), media, "a MAX message").await? else { continue };
            let payload = self.api().upload_image(bytes, &media.content_type).await?;
            uploaded.push(json!({"type": "image", "payload": payload}));
        }
        Ok(uploaded)
    }

    /// Sends one message, waiting for MAX to finish an uploaded image when it says it has not.
    async fn send(&self, recipient: Recipient, body: &Value) -> Result<(), ApiError> {
        let mut pauses = NOT_READY_PAUSES.iter();
        loop {
            self.api().pace_chat(recipient).await;
            match self.api().send_message(recipient, body).await {
                Err(ApiError::AttachmentNotReady) => match pauses.next() {
                    Some(pause) => tokio::time::sleep(*pause).await,
                    None => return Err(ApiError::AttachmentNotReady),
                },
                other => return other,
            }
        }
    }
}

#[async_trait::async_trait]
impl Channel for MaxChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        self.refuse_when_stopped::<ApiError>()?;
        let recipient = recipient_of(&delivery.external_id).ok_or_else(|| DeliveryError::Permanent {
            reason: format!("{:?} is not a MAX user or chat id", delivery.external_id),
            unreachable: false,
        })?;
        let (text, buttons, attachments) = match &delivery.message {
            Outbound::Bot(reply) => {
                let rendered = (self.render)(delivery.lang, reply);
                (rendered.text, rendered.buttons, rendered.attachments)
            }
            // An agent's words go out exactly as written.
            Outbound::Agent { text, attachments, .. } => (text.clone(), Vec::new(), attachments.clone()),
        };
        let mut parts = message_parts(&text, MAX_MESSAGE_UTF16, "MAX")?;
        let images = self.upload(&attachments).await?;
        if parts.is_empty() && images.is_empty() {
            tracing::warn!(outbox_id = delivery.outbox_id, "nothing to send to MAX: empty text, no images");
            return Ok(());
        }
        let keyboard = keyboard::build(&buttons);
        if parts.is_empty() {
            parts.push(String::new());
        }
        let last = parts.len() - 1;
        for (index, part) in parts.into_iter().enumerate() {
            // Images go with the first part, buttons under the last.
            let mut attached: Vec<Value> = if index == 0 { images.clone() } else { Vec::new() };
            if index == last {
                attached.extend(keyboard.clone());
            }
            let body = json!({"text": part, "attachments": attached, "notify": true});
            self.send(recipient, &body).await?;
        }
        tracing::debug!(outbox_id = delivery.outbox_id, "delivered to MAX");
        Ok(())
    }
}
