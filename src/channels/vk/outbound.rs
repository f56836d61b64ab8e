//! Delivering outbox rows through `messages.send`: rendered text split within VK's limit (at
//! paragraph breaks first), keyboards laid out for the customer's client under the last part,
//! photos uploaded first, and a `random_id` per message part derived from the outbox row, so a
//! retried delivery is never shown twice.

use super::CHANNEL;
use super::api::{ApiError, OutgoingMessage, VkApi};
use super::keyboard::{self, ClientCapabilities};
use crate::channels::platform_channel::{PlatformChannel, SetupError};
use crate::channels::{Channel, Delivery, DeliveryError, Renderer, message_parts, stored_image};
use crate::config::vk::VkSettings;
use crate::core::message::{MediaRef, Outbound};
use crate::i18n::RenderedButton;
use crate::media::MediaStore;

/// VK's limit for one message is 4096 characters; we count UTF-16 units, the stricter reading.
pub const MAX_MESSAGE_UNITS: usize = 4096;
/// At most this many messages per outbox row (about 130 000 characters): `random_id` leaves
/// room for this many parts per row.
pub const MAX_PARTS: usize = 32;
/// VK accepts at most 10 attachments per message.
pub const MAX_ATTACHMENTS: usize = 10;

/// The VK channel: delivers outbox rows, and hands out the inbound half
/// ([`VkReceiver`](super::inbound::VkReceiver)) for the Long Poll loop or the Callback API route.
pub type VkChannel = PlatformChannel<VkApi, VkSettings>;

impl VkChannel {
    /// Validates the settings and builds the client.
    pub fn new(settings: VkSettings, media: MediaStore, render: Renderer) -> Result<VkChannel, SetupError> {
        settings.validate().map_err(crate::config::ConfigError::from)?;
        let api = VkApi::new(&settings)?;
        Ok(VkChannel::with(api, media, render, settings))
    }

    async fn upload(&self, peer_id: i64, attachments: &[MediaRef]) -> Result<Option<String>, DeliveryError> {
        let mut uploaded = Vec::new();
        for media in attachments.iter().take(MAX_ATTACHMENTS) {
            let Some(bytes) = stored_image(self.media(), media, "a VK message").await? else { continue };
            uploaded.push(self.api().upload_message_photo(peer_id, bytes, &media.content_type).await?);
        }
        Ok((!uploaded.is_empty()).then(|| uploaded.join(",")))
    }
}

#[async_trait::async_trait]
impl Channel for VkChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        self.refuse_when_stopped::<ApiError>()?;
        let peer_id: i64 = delivery.external_id.parse().map_err(|_| DeliveryError::Permanent {
            reason: format!("{:?} is not a VK peer id", delivery.external_id),
            unreachable: false,
        })?;
        let (text, buttons, attachments): (String, Vec<Vec<RenderedButton>>, Vec<MediaRef>) =
            match &delivery.message {
                Outbound::Bot(reply) => {
                    let rendered = (self.render)(delivery.lang, reply);
                    (rendered.text, rendered.buttons, rendered.attachments)
                }
                // An agent's words go out exactly as written.
                Outbound::Agent { text, attachments, .. } => (text.clone(), Vec::new(), attachments.clone()),
            };
        let parts = message_parts(&text, MAX_MESSAGE_UNITS, "VK")?;
        let attachment = self.upload(peer_id, &attachments).await?;
        if parts.is_empty() && attachment.is_none() {
            tracing::warn!(outbox_id = delivery.outbox_id, "nothing to send to VK: empty text, no images");
            return Ok(());
        }
        let capabilities = ClientCapabilities::from_contact_data(delivery.contact_data.as_ref());
        let keyboard = keyboard::build(&buttons, capabilities).map(|keyboard| keyboard.to_string());
        let parts = if parts.is_empty() { vec![String::new()] } else { parts };
        let last = parts.len() - 1;
        for (index, part) in parts.into_iter().enumerate() {
            let message = OutgoingMessage {
                peer_id,
                random_id: random_id(delivery.outbox_id, index),
                message: part,
                // Images go with the first part, buttons under the last.
                attachment: if index == 0 { attachment.clone() } else { None },
                keyboard: if index == last { keyboard.clone() } else { None },
            };
            self.api().send_message(&message).await?;
        }
        tracing::debug!(outbox_id = delivery.outbox_id, peer_id, "delivered to VK");
        Ok(())
    }
}

/// The `random_id` of one part of one outbox row: the same on every retry, so VK drops a
/// repeated send instead of showing it twice. Rows map to distinct ids until about 67 million
/// rows apart, far beyond the window in which VK remembers ids.
pub fn random_id(outbox_id: i64, part: usize) -> i32 {
    let slot = i128::from(outbox_id) * MAX_PARTS as i128 + part as i128;
    let id = slot.rem_euclid(i128::from(i32::MAX)) + 1;
    i32::try_from(id).expect("rem_euclid keeps the id below i32::MAX")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_stable_distinct_and_in_range() {
        assert_eq!(random_id(41, 0), random_id(41, 0));
        assert_ne!(random_id(41, 0), random_id(41, 1));
        assert_ne!(random_id(41, 1), random_id(42, 0));
        for outbox_id in [0, 1, i64::MAX, i64::MIN, -5, 67_108_863, 67_108_864] {
            for part in [0, MAX_PARTS - 1] {
                assert!(random_id(outbox_id, part) > 0, "{outbox_id}/{part}");
            }
        }
    }
}
