//! Delivering outbox rows to a buyer's chat: `POST /v1/chat/send/message` with plain text of
//! 1 to 1,000 characters (longer replies are split), buttons written as numbered lines
//! (`channels::numbered`), photos through `POST /v1/chat/send/file`, then `POST /v2/chat/read`
//! up to the buyer's last message, so the seller's account shows the chat as answered.
//!
//! Ozon lets a seller answer only for a while after the buyer wrote ([`window`]); a reply Ozon
//! refuses past it is dead-lettered with that reason in words, which the console shows on the
//! ticket. Ozon has no idempotency key: a send whose answer is lost is
//! shown twice when retried, as on the other channels.

use super::CHANNEL;
use super::api::{ApiError, OzonApi};
use super::window;
use crate::channels::numbered::numbered_text;
use crate::channels::platform_channel::PlatformChannel;
use crate::channels::{Channel, Delivery, DeliveryError, Renderer, message_parts, stored_image};
use crate::config::ozon::OzonSettings;
use crate::core::message::{MediaRef, Outbound};
use crate::media::MediaStore;

/// Ozon's limit for one message's text, in characters (UTF-16 units never undercount them).
pub const OZON_MESSAGE_CHARS: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum OzonSetupError {
    #[error(transparent)]
    Settings(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Client(#[from] super::api::ClientError),
}

/// Why sending files stopped: Ozon's answer (explained like a text's), or our own storage.
enum Sent {
    Api(ApiError),
    Delivery(DeliveryError),
}

/// The Ozon channel: delivers outbox rows, and hands out the inbound half
/// ([`OzonReceiver`](super::inbound::OzonReceiver)) for the push route and the history fallback.
pub type OzonChannel = PlatformChannel<OzonApi, OzonSettings>;

impl OzonChannel {
    pub fn new(
        settings: OzonSettings,
        media: MediaStore,
        render: Renderer,
    ) -> Result<OzonChannel, OzonSetupError> {
        settings.validate().map_err(crate::config::ConfigError::from)?;
        let api = OzonApi::new(&settings)?;
        Ok(OzonChannel::with(api, media, render, settings))
    }

    async fn send_files(&self, chat_id: &str, attachments: &[MediaRef]) -> Result<(), Sent> {
        for (index, media) in attachments.iter().enumerate() {
            let stored =
                stored_image(self.media(), media, "an Ozon message").await.map_err(Sent::Delivery)?;
            let Some(bytes) = stored else { continue };
            let extension = if media.content_type == "image/png" { "png" } else { "jpg" };
            self.api()
                .send_file(chat_id, &format!("photo-{}.{extension}", index + 1), &bytes)
                .await
                .map_err(Sent::Api)?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Channel for OzonChannel {
    fn name(&self) -> &'static str {
        CHANNEL
    }

    async fn deliver(&self, delivery: &Delivery) -> Result<(), DeliveryError> {
        self.refuse_when_stopped::<ApiError>()?;
        let chat_id = delivery.external_id.as_str();
        let facts = window::ChatFacts::from_contact_data(delivery.contact_data.as_ref());
        // Ozon's refusal of a reply after the window says little; the agent is told why.
        let explain = |error: ApiError| -> DeliveryError {
            let now = chrono::Utc::now().timestamp_millis();
            match (&error, window::over(&facts, now)) {
                (ApiError::Refused { .. }, Some(over)) => {
                    DeliveryError::Permanent { reason: format!("{over} (Ozon: {error})"), unreachable: false }
                }
                _ => error.into(),
            }
        };
        let (text, attachments) = match &delivery.message {
            Outbound::Bot(reply) => {
                (numbered_text(&self.render, delivery.lang, reply), reply.attachments.clone())
            }
            // An agent's words go out exactly as written.
            Outbound::Agent { text, attachments, .. } => (text.clone(), attachments.clone()),
        };
        let parts = message_parts(&text, OZON_MESSAGE_CHARS, "Ozon")?;
        self.send_files(chat_id, &attachments).await.map_err(|error| match error {
            Sent::Api(error) => explain(error),
            Sent::Delivery(error) => error,
        })?;
        for part in &parts {
            self.api().send_message(chat_id, part).await.map_err(explain)?;
        }
        // Best effort: the answer is out; an unread mark left behind costs the seller nothing
        // but a badge, and the next answer clears it.
        if let Some(last) = &facts.last_message_id
            && let Err(error) = self.api().mark_read(chat_id, last).await
        {
            tracing::warn!(%error, "could not mark an Ozon chat read");
        }
        tracing::debug!(outbox_id = delivery.outbox_id, "delivered to Ozon");
        Ok(())
    }
}
