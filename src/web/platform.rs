//! What the thin platform clients (VK, MAX, Ozon) share: one reqwest client that follows a
//! redirect only to the platform's download hosts, the API's base URL, how long one call may
//! take, and the stop switch thrown when the platform rejects our credentials. Each client
//! adds its own request shape, error answers and pace on top.

use crate::web::downloads::DownloadHosts;
use reqwest::header::HeaderMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How a platform client is built.
pub struct PlatformOptions<'a> {
    /// Where the API lives; a trailing slash is dropped.
    pub api_url: &'a str,
    /// Domains (with their subdomains) customers' photos may come from, besides the API's own
    /// address.
    pub media_hosts: &'a [String],
    /// A PEM root certificate to trust besides the built-in ones (verification stays on).
    pub extra_root_pem: Option<&'a str>,
    /// Headers every request carries (Ozon's seller credentials); mark secret ones sensitive.
    pub default_headers: HeaderMap,
    pub request_timeout: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum PlatformClientError {
    #[error("the extra root certificate does not parse: {0}")]
    RootCertificate(reqwest::Error),
    #[error("the HTTP client could not be built: {0}")]
    Build(reqwest::Error),
}

/// The shared part of a platform client. Cheap to clone; clones share the stop switch.
#[derive(Clone)]
pub struct PlatformClient {
    http: reqwest::Client,
    downloads: DownloadHosts,
    api_url: String,
    request_timeout: Duration,
    stopped: Arc<AtomicBool>,
}

impl PlatformClient {
    pub fn new(options: PlatformOptions<'_>) -> Result<PlatformClient, PlatformClientError> {
        let downloads = DownloadHosts::new(options.media_hosts, options.api_url);
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .redirect(downloads.redirect_policy())
            .default_headers(options.default_headers);
        if let Some(pem) = options.extra_root_pem {
            let certificate = reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(PlatformClientError::RootCertificate)?;
            builder = builder.add_root_certificate(certificate);
        }
        Ok(PlatformClient {
            http: builder.build().map_err(PlatformClientError::Build)?,
            downloads,
            api_url: options.api_url.trim_end_matches('/').to_owned(),
            request_timeout: options.request_timeout,
            stopped: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The HTTP client: for API calls, and for downloading customers' photos and uploading
    /// ours. It follows a redirect only to a URL [`DownloadHosts`] allows.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Where customers' photos may be downloaded from.
    pub fn download_hosts(&self) -> &DownloadHosts {
        &self.downloads
    }

    /// The API's base URL, without a trailing slash.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// How long one plain API call may take before it counts as lost.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// True once the platform rejected our credentials: every later call fails at once.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    /// Throws the stop switch. Returns true the first time only, so the caller logs the
    /// rejection once, loudly, and not on every call that follows.
    pub fn stop(&self) -> bool {
        !self.stopped.swap(true, Ordering::SeqCst)
    }
}

/// A transport failure as text, without the URL: URLs may carry keys or signatures.
pub fn transport_error(error: reqwest::Error) -> String {
    error.without_url().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stop_switch_is_thrown_once_and_shared_by_clones() {
        let client = PlatformClient::new(PlatformOptions {
            api_url: "http://127.0.0.1:9/",
            media_hosts: &[],
            extra_root_pem: None,
            default_headers: HeaderMap::new(),
            request_timeout: Duration::from_secs(1),
        })
        .unwrap();
        assert_eq!(client.api_url(), "http://127.0.0.1:9");
        let clone = client.clone();
        assert!(!clone.is_stopped());
        assert!(client.stop(), "the first stop reports itself");
        assert!(!clone.stop(), "later ones do not");
        assert!(clone.is_stopped());
    }
}
