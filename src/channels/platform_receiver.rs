//! The inbound half that VK, MAX and Ozon have in common: the API client it shares with the
//! outbound half (one request budget, one stop switch), where customers' photos are stored,
//! and the channel's settings. Each channel adds its own way of reading updates on top.

use crate::channels::ReceiveError;
use crate::channels::platform_api::PlatformApi;
use crate::core::dialog::Input;
use crate::media::MediaStore;
use std::sync::Arc;
use std::time::Duration;

/// How long one customer photo's download may take: photos are large, and a slow platform
/// host is better waited for than the update refused and sent again.
const PHOTO_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

pub struct PlatformReceiver<Api, Settings> {
    pub(crate) api: Api,
    pub(crate) media: MediaStore,
    pub(crate) settings: Arc<Settings>,
}

impl<Api, Settings> PlatformReceiver<Api, Settings> {
    pub fn new(api: Api, media: MediaStore, settings: Arc<Settings>) -> Self {
        PlatformReceiver { api, media, settings }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The client shared with the outbound half.
    pub fn api(&self) -> &Api {
        &self.api
    }
}

impl<Api: PlatformApi, Settings> PlatformReceiver<Api, Settings> {
    /// Downloads one customer photo from the platform's hosts within the size limit, stores it
    /// through the media checks, and gives the input it makes (with `caption`). A download that
    /// fails now is `Unavailable`: the update is not acknowledged, so it comes again.
    pub async fn photo_input(&self, url: &str, caption: Option<String>) -> Result<Input, ReceiveError> {
        let client = self.api.platform();
        let fetched =
            self.media.fetch(client.http(), client.download_hosts(), url, PHOTO_DOWNLOAD_TIMEOUT).await;
        Ok(fetched.map_err(|error| ReceiveError::Unavailable(error.0))?.into_input(caption))
    }
}

// Written out rather than derived: a derive would ask `Settings: Clone`, and settings are
// shared through the `Arc`, never copied.
impl<Api: Clone, Settings> Clone for PlatformReceiver<Api, Settings> {
    fn clone(&self) -> Self {
        PlatformReceiver { api: self.api.clone(), media: self.media.clone(), settings: self.settings.clone() }
    }
}
