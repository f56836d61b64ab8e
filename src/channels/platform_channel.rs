//! The outbound half that VK, MAX and Ozon have in common: the channel holds its inbound half
//! (the API client, the media store, the settings) and the renderer of bot replies. Each
//! channel builds its own and delivers on top ([`Channel`](crate::channels::Channel)).

use crate::channels::platform_api::{PlatformApi, PlatformCallError};
use crate::channels::platform_receiver::PlatformReceiver;
use crate::channels::{DeliveryError, Renderer};
use crate::media::MediaStore;
use std::sync::Arc;

/// Why a channel whose client needs nothing but its settings (VK, MAX) could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error(transparent)]
    Settings(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Client(#[from] crate::web::platform::PlatformClientError),
}

/// A platform channel. Cheap to clone; clones share the client's request budget and stop switch.
pub struct PlatformChannel<Api, Settings> {
    pub(crate) inbound: PlatformReceiver<Api, Settings>,
    pub(crate) render: Renderer,
}

impl<Api: Clone, Settings> PlatformChannel<Api, Settings> {
    pub(crate) fn with(api: Api, media: MediaStore, render: Renderer, settings: Settings) -> Self {
        PlatformChannel { inbound: PlatformReceiver::new(api, media, Arc::new(settings)), render }
    }

    /// The inbound half, sharing this channel's client, request budget and media store.
    pub fn receiver(&self) -> PlatformReceiver<Api, Settings> {
        self.inbound.clone()
    }

    pub fn settings(&self) -> &Settings {
        self.inbound.settings()
    }

    pub fn api(&self) -> &Api {
        self.inbound.api()
    }

    pub(crate) fn media(&self) -> &MediaStore {
        &self.inbound.media
    }
}

impl<Api: PlatformApi, Settings> PlatformChannel<Api, Settings> {
    /// True once the platform rejected our credentials; nothing is sent or polled any more.
    pub fn is_stopped(&self) -> bool {
        self.inbound.api.platform().is_stopped()
    }

    /// A delivery's first step: refused at once, in the words of the platform's `Error`, once
    /// the platform rejected our credentials.
    pub fn refuse_when_stopped<Error: PlatformCallError>(&self) -> Result<(), DeliveryError> {
        if self.is_stopped() {
            return Err(DeliveryError::from_platform(&Error::stopped()));
        }
        Ok(())
    }
}

// Written out rather than derived, as for the receiver: settings are shared, never copied.
impl<Api: Clone, Settings> Clone for PlatformChannel<Api, Settings> {
    fn clone(&self) -> Self {
        PlatformChannel { inbound: self.inbound.clone(), render: self.render.clone() }
    }
}
