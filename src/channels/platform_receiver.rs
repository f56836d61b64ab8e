//! The inbound half that VK, MAX and Ozon have in common: the API client it shares with the
//! outbound half (one request budget, one stop switch), where customers' photos are stored,
//! and the channel's settings. Each channel adds its own way of reading updates on top.

use crate::channels::ReceiveError;
use crate::channels::platform_api::PlatformApi;
use crate::core::dialog::{ContentKind, Input, PhotoProblem};
use crate::media::MediaStore;
use std::sync::Arc;
use std::time::Duration;

/// How long one customer photo's download may take: photos are large, and a slow platform
/// host is better waited for than the update refused and sent again.
const PHOTO_DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(60);

/// An attachment of a customer's message, as far as the dialog cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// An image to download, with the size the platform declares for it, if it does.
    Photo {
        url: String,
        declared_bytes: Option<u64>,
    },
    Unsupported(ContentKind),
}

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

    /// The dialog's inputs for one message, after `inputs` the channel put first: a photo input
    /// per image (the text as the first one's caption), the text alone when no image carried
    /// it, one `Unsupported` for whatever else came along, and `Unsupported(Other)` for a
    /// message that leaves nothing at all.
    pub async fn message_inputs(
        &self,
        mut inputs: Vec<Input>,
        text: &str,
        items: &[Item],
    ) -> Result<Vec<Input>, ReceiveError> {
        let trimmed = text.trim();
        let mut captioned = false;
        for item in items {
            if let Item::Photo { url, declared_bytes } = item {
                let caption = (!captioned && !trimmed.is_empty()).then(|| text.to_owned());
                captioned = true;
                inputs.push(self.photo(url, *declared_bytes, caption).await?);
            }
        }
        if !captioned && !trimmed.is_empty() {
            inputs.push(Input::Text { text: text.to_owned() });
        }
        // One polite answer per message is enough, however many stickers it carried.
        if let Some(kind) = items.iter().find_map(|item| match item {
            Item::Unsupported(kind) => Some(*kind),
            Item::Photo { .. } => None,
        }) {
            inputs.push(Input::Unsupported { kind });
        }
        if inputs.is_empty() {
            inputs.push(Input::Unsupported { kind: ContentKind::Other });
        }
        Ok(inputs)
    }

    /// One photo: refused without a download when the platform declares it over the size
    /// limit, otherwise [`photo_input`](Self::photo_input).
    async fn photo(
        &self,
        url: &str,
        declared_bytes: Option<u64>,
        caption: Option<String>,
    ) -> Result<Input, ReceiveError> {
        if declared_bytes.is_some_and(|bytes| bytes > self.media.max_bytes()) {
            let limit_mb = self.media.max_megabytes();
            return Ok(Input::PhotoRejected { problem: PhotoProblem::TooLarge { limit_mb } });
        }
        self.photo_input(url, caption).await
    }
}

// Written out rather than derived: a derive would ask `Settings: Clone`, and settings are
// shared through the `Arc`, never copied.
impl<Api: Clone, Settings> Clone for PlatformReceiver<Api, Settings> {
    fn clone(&self) -> Self {
        PlatformReceiver { api: self.api.clone(), media: self.media.clone(), settings: self.settings.clone() }
    }
}
