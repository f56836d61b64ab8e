//! Where customer photos may be downloaded from. A VK event names the URL of each photo, and
//! downloading whatever it names would let anyone who can get an event to us (a forged
//! callback, a message VK passes on) make the server fetch addresses of our own network. So
//! photos come only over HTTPS from VK's hosts (`VkSettings::media_hosts`, each with its
//! subdomains) or from the configured API's own address (the test fake serves both), and a
//! redirect is followed only to such a URL.

use crate::config::vk::VkSettings;
use reqwest::Url;
use reqwest::redirect::{Attempt, Policy};

/// Redirects followed at most per request.
const MAX_REDIRECTS: usize = 5;

#[derive(Debug, Clone)]
pub struct DownloadHosts {
    domains: Vec<String>,
    api_origin: Option<Origin>,
}

/// Scheme, host and port: what must match the API URL's exactly.
type Origin = (String, String, Option<u16>);

fn origin(url: &Url) -> Option<Origin> {
    Some((url.scheme().to_owned(), url.host_str()?.to_owned(), url.port_or_known_default()))
}

impl DownloadHosts {
    pub fn new(settings: &VkSettings) -> DownloadHosts {
        DownloadHosts {
            domains: settings.media_hosts.clone(),
            api_origin: Url::parse(&settings.api_url).ok().as_ref().and_then(origin),
        }
    }

    /// Whether a photo may be fetched from `url`.
    pub fn allows(&self, url: &Url) -> bool {
        if self.api_origin.is_some() && self.api_origin == origin(url) {
            return true;
        }
        // An address literal never ends in `.<domain>`, so only names can match below.
        let Some(host) = url.host_str() else { return false };
        url.scheme() == "https"
            && url.port().is_none()
            && self.domains.iter().any(|domain| {
                host == domain || host.strip_suffix(domain.as_str()).is_some_and(|sub| sub.ends_with('.'))
            })
    }

    /// For the HTTP client: follow a redirect only to an allowed URL, a few at most; otherwise
    /// the redirect itself is the answer (and no photo).
    pub fn redirect_policy(&self) -> Policy {
        let hosts = self.clone();
        Policy::custom(move |attempt: Attempt<'_>| {
            if attempt.previous().len() < MAX_REDIRECTS && hosts.allows(attempt.url()) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::vk::VkMode;

    #[test]
    fn only_vk_hosts_over_https_and_the_api_itself() {
        let mut settings = VkSettings::new("t", 1, VkMode::LongPoll);
        settings.api_url = "http://127.0.0.1:8055".to_owned();
        let hosts = DownloadHosts::new(&settings);
        let allows = |url: &str| hosts.allows(&Url::parse(url).unwrap());
        for good in [
            "https://sun9-80.userapi.com/impg/x.jpg?size=604x403",
            "https://userapi.com/x.jpg",
            "https://pp.vk.me/c1/x.jpg",
            "https://sun1-2.vkuserphoto.ru/x.jpg",
            "https://vk.com/doc1_2?hash=3",
            "http://127.0.0.1:8055/files/a.png",
        ] {
            assert!(allows(good), "{good}");
        }
        for bad in [
            "http://sun9-80.userapi.com/x.jpg",
            "https://sun9-80.userapi.com:8443/x.jpg",
            "https://evil-userapi.com/x.jpg",
            "https://userapi.com.evil.example/x.jpg",
            "https://169.254.169.254/latest/meta-data",
            "http://127.0.0.1:8056/files/a.png",
            "http://localhost:8055/files/a.png",
            "https://127.0.0.1:8055/files/a.png",
            "file:///etc/passwd",
        ] {
            assert!(!allows(bad), "{bad}");
        }
    }
}
