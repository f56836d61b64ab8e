//! VK settings: read from `SWITCHBOARD_VK_*`, checked once at start-up so that a missing token or
//! a callback server without its secret is a clear error instead of a silent failure later.
//! [`VkSettings`] is plain data the VK channel imports; reading it is this module's job.

use super::variables::{SettingsError, api_url, host_list, language, none_set, one_of};
use super::{ConfigError, MIN_WEBHOOK_SECRET_CHARS, Source};
use crate::core::message::Lang;
use crate::secret::Secret;
use std::num::NonZeroU32;
use std::time::Duration;

/// VK's public API endpoint; tests point the channel at a fake server instead.
pub const DEFAULT_API_URL: &str = "https://api.vk.com";
/// VK allows a community token 20 requests per second.
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 20;
/// How long one Long Poll request may hang waiting for events (VK's maximum is 90).
pub const DEFAULT_LONGPOLL_WAIT_SECS: u32 = 25;
/// How long one API call may take by default before it counts as lost.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// Where VK serves customers' photos (each with its subdomains, such as `sun9-80.userapi.com`):
/// the only hosts photos are downloaded from, besides the configured API's own address.
pub const DEFAULT_MEDIA_HOSTS: [&str; 4] = ["userapi.com", "vkuserphoto.ru", "vk.com", "vk.me"];

/// How events reach us from VK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VkMode {
    /// We ask VK for events (Bots Long Poll): works behind NAT, needs one leader process.
    LongPoll,
    /// VK posts events to our HTTP route (Callback API): needs a public URL.
    Callback,
}

/// Everything the VK channel needs. Secrets are wrapped in [`Secret`], so `Debug` is safe to log.
#[derive(Debug, Clone)]
pub struct VkSettings {
    /// The community access token (`SWITCHBOARD_VK_TOKEN`).
    pub token: Secret,
    /// The community id, without the minus sign (`SWITCHBOARD_VK_GROUP_ID`).
    pub group_id: u64,
    pub mode: VkMode,
    /// The string VK expects back when it confirms a Callback API server.
    pub confirmation: Option<String>,
    /// The Callback API secret VK puts into every event it posts.
    pub secret: Option<Secret>,
    /// Where the API lives, without a trailing slash (`https://api.vk.com`).
    pub api_url: String,
    /// The language for customers whose client does not tell us theirs (VK's audience is
    /// mostly Russian-speaking, so Russian by default).
    pub default_language: Lang,
    /// The request budget per second for the token; `None` switches limiting off (benchmarks
    /// against a fake server only).
    pub requests_per_second: Option<NonZeroU32>,
    /// Seconds one Long Poll request waits for events (clamped to VK's 1 to 90).
    pub longpoll_wait_secs: u32,
    /// The domains (with their subdomains) customer photos may be downloaded from over HTTPS
    /// (`SWITCHBOARD_VK_MEDIA_HOSTS`); the API URL's own address is always allowed too.
    pub media_hosts: Vec<String>,
    /// How long one API call may take before it counts as lost and the outbox retries it
    /// (`SWITCHBOARD_HTTP_TIMEOUT_SECS`).
    pub request_timeout: Duration,
}

impl VkSettings {
    /// Settings with the defaults for everything but the token and the community.
    pub fn new(token: impl Into<String>, group_id: u64, mode: VkMode) -> VkSettings {
        VkSettings {
            token: Secret::new(token),
            group_id,
            mode,
            confirmation: None,
            secret: None,
            api_url: DEFAULT_API_URL.to_owned(),
            default_language: Lang::Ru,
            requests_per_second: NonZeroU32::new(DEFAULT_REQUESTS_PER_SECOND),
            longpoll_wait_secs: DEFAULT_LONGPOLL_WAIT_SECS,
            media_hosts: DEFAULT_MEDIA_HOSTS.iter().map(|host| (*host).to_owned()).collect(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Checks the combination: a token, a community, and in callback mode both the
    /// confirmation string and the secret (without the secret anyone could post events).
    pub fn validate(&self) -> Result<(), VkSettingsError> {
        if self.token.expose().trim().is_empty() {
            return Err(VkSettingsError::TokenEmpty);
        }
        if self.group_id == 0 {
            return Err(VkSettingsError::GroupIdZero);
        }
        if !(self.api_url.starts_with("https://") || self.api_url.starts_with("http://")) {
            return Err(VkSettingsError::ApiUrl(self.api_url.clone()));
        }
        if self.request_timeout.is_zero() {
            return Err(VkSettingsError::RequestTimeout);
        }
        if self.mode == VkMode::Callback {
            if self.confirmation.as_deref().is_none_or(|value| value.trim().is_empty()) {
                return Err(VkSettingsError::ConfirmationMissing);
            }
            if self.secret.as_ref().is_none_or(|secret| secret.expose().trim().is_empty()) {
                return Err(VkSettingsError::SecretMissing);
            }
        }
        if self
            .secret
            .as_ref()
            .is_some_and(|secret| secret.expose().chars().count() < MIN_WEBHOOK_SECRET_CHARS)
        {
            return Err(VkSettingsError::SecretTooShort);
        }
        if let Some(bad) = self.media_hosts.iter().find(|host| !super::is_domain(host)) {
            return Err(VkSettingsError::MediaHosts(bad.clone()));
        }
        Ok(())
    }
}

/// A VK configuration Switchboard refuses to start with; [`VkSettingsError::variable`] names
/// the variable to fix. Messages never contain the token or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VkSettingsError {
    #[error("other SWITCHBOARD_VK_* variables are set, but the community access token is missing")]
    TokenMissing,
    #[error("the community access token is empty")]
    TokenEmpty,
    #[error("expected the community id (a number), but it is not set")]
    GroupIdMissing,
    #[error("expected the community id as a number (for `club123` write 123), got {0:?}")]
    GroupIdNotANumber(String),
    #[error("expected the community id, a positive number")]
    GroupIdZero,
    #[error("expected `longpoll` or `callback`, got {0:?}")]
    Mode(String),
    #[error("expected an http(s) URL such as {default}, got {0:?}", default = DEFAULT_API_URL)]
    ApiUrl(String),
    #[error("expected one of en, ru, zh, got {0:?}")]
    DefaultLanguage(String),
    #[error("expected requests per second (1 or more) or `off`, got {0:?}")]
    RateLimit(String),
    #[error("the VK request timeout must be longer than zero")]
    RequestTimeout,
    #[error("callback mode needs the confirmation string shown in the community's API settings")]
    ConfirmationMissing,
    #[error("callback mode needs the secret key set in the community's Callback API settings")]
    SecretMissing,
    #[error("the secret key must be at least {MIN_WEBHOOK_SECRET_CHARS} characters, so it cannot be guessed")]
    SecretTooShort,
    #[error("expected comma-separated domains such as `userapi.com,vk.com`, got {0:?}")]
    MediaHosts(String),
}

impl SettingsError for VkSettingsError {
    fn variable(&self) -> &'static str {
        match self {
            VkSettingsError::TokenMissing | VkSettingsError::TokenEmpty => "SWITCHBOARD_VK_TOKEN",
            VkSettingsError::GroupIdMissing
            | VkSettingsError::GroupIdNotANumber(_)
            | VkSettingsError::GroupIdZero => "SWITCHBOARD_VK_GROUP_ID",
            VkSettingsError::Mode(_) => "SWITCHBOARD_VK_MODE",
            VkSettingsError::ApiUrl(_) => "SWITCHBOARD_VK_API_URL",
            VkSettingsError::DefaultLanguage(_) => "SWITCHBOARD_VK_DEFAULT_LANGUAGE",
            VkSettingsError::RateLimit(_) => "SWITCHBOARD_VK_RATE_LIMIT",
            VkSettingsError::RequestTimeout => "SWITCHBOARD_HTTP_TIMEOUT_SECS",
            VkSettingsError::ConfirmationMissing => "SWITCHBOARD_VK_CONFIRMATION",
            VkSettingsError::SecretMissing | VkSettingsError::SecretTooShort => "SWITCHBOARD_VK_SECRET",
            VkSettingsError::MediaHosts(_) => "SWITCHBOARD_VK_MEDIA_HOSTS",
        }
    }
}

/// Reads `SWITCHBOARD_VK_*`. `Ok(None)` when none of them is set: VK is simply not used.
/// Every API call may take `request_timeout` (`SWITCHBOARD_HTTP_TIMEOUT_SECS`).
pub(super) fn read(
    source: &dyn Source,
    request_timeout: Duration,
) -> Result<Option<VkSettings>, ConfigError> {
    const ALL: [&str; 9] = [
        "SWITCHBOARD_VK_TOKEN",
        "SWITCHBOARD_VK_GROUP_ID",
        "SWITCHBOARD_VK_MODE",
        "SWITCHBOARD_VK_CONFIRMATION",
        "SWITCHBOARD_VK_SECRET",
        "SWITCHBOARD_VK_API_URL",
        "SWITCHBOARD_VK_DEFAULT_LANGUAGE",
        "SWITCHBOARD_VK_RATE_LIMIT",
        "SWITCHBOARD_VK_MEDIA_HOSTS",
    ];
    if none_set(source, &ALL) {
        return Ok(None);
    }
    let token = source.get("SWITCHBOARD_VK_TOKEN").ok_or(VkSettingsError::TokenMissing)?;
    let group_id = match source.get("SWITCHBOARD_VK_GROUP_ID") {
        None => return Err(VkSettingsError::GroupIdMissing.into()),
        Some(raw) => parse_group_id(&raw)?,
    };
    let modes = [("longpoll", VkMode::LongPoll), ("callback", VkMode::Callback)];
    let mode =
        one_of(source, "SWITCHBOARD_VK_MODE", &modes, VkMode::LongPoll).map_err(VkSettingsError::Mode)?;
    let mut settings = VkSettings::new(token, group_id, mode);
    settings.confirmation = source.get("SWITCHBOARD_VK_CONFIRMATION");
    settings.secret = source.get("SWITCHBOARD_VK_SECRET").map(Secret::new);
    settings.api_url = api_url(source, "SWITCHBOARD_VK_API_URL").unwrap_or(settings.api_url);
    settings.default_language =
        language(source, "SWITCHBOARD_VK_DEFAULT_LANGUAGE", settings.default_language)
            .map_err(VkSettingsError::DefaultLanguage)?;
    if let Some(limit) = source.get("SWITCHBOARD_VK_RATE_LIMIT") {
        settings.requests_per_second = if limit.eq_ignore_ascii_case("off") {
            None
        } else {
            let parsed = limit.parse::<u32>().ok().and_then(NonZeroU32::new);
            Some(parsed.ok_or_else(|| VkSettingsError::RateLimit(limit.clone()))?)
        };
    }
    settings.media_hosts = host_list(source, "SWITCHBOARD_VK_MEDIA_HOSTS").unwrap_or(settings.media_hosts);
    settings.request_timeout = request_timeout;
    settings.validate()?;
    Ok(Some(settings))
}

fn parse_group_id(raw: &str) -> Result<u64, VkSettingsError> {
    // Communities are often written as `-123` (their owner id) or `club123`; accept the first,
    // explain the second.
    let digits = raw.trim().trim_start_matches('-');
    digits
        .parse::<u64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| VkSettingsError::GroupIdNotANumber(raw.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&'static str, &'static str)]) -> Result<Option<VkSettings>, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        read(&env, DEFAULT_REQUEST_TIMEOUT)
    }

    #[test]
    fn absent_means_not_configured_and_defaults_fill_the_rest() {
        assert!(load(&[]).unwrap().is_none());
        let settings = load(&[("SWITCHBOARD_VK_TOKEN", "vk1.a.token"), ("SWITCHBOARD_VK_GROUP_ID", "-2170")])
            .unwrap()
            .unwrap();
        assert_eq!(settings.group_id, 2170);
        assert_eq!(settings.mode, VkMode::LongPoll);
        assert_eq!(settings.api_url, DEFAULT_API_URL);
        assert_eq!(settings.default_language, Lang::Ru);
        assert_eq!(settings.requests_per_second.map(NonZeroU32::get), Some(20));
    }

    #[test]
    fn missing_or_contradictory_settings_name_the_variable() {
        let cases: &[(&[(&'static str, &'static str)], &str)] = &[
            (&[("SWITCHBOARD_VK_GROUP_ID", "1")], "SWITCHBOARD_VK_TOKEN"),
            (&[("SWITCHBOARD_VK_TOKEN", "t")], "SWITCHBOARD_VK_GROUP_ID"),
            (
                &[("SWITCHBOARD_VK_TOKEN", "t"), ("SWITCHBOARD_VK_GROUP_ID", "club1")],
                "SWITCHBOARD_VK_GROUP_ID",
            ),
            (&[("SWITCHBOARD_VK_TOKEN", "t"), ("SWITCHBOARD_VK_GROUP_ID", "0")], "SWITCHBOARD_VK_GROUP_ID"),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_MODE", "push"),
                ],
                "SWITCHBOARD_VK_MODE",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_MODE", "callback"),
                    ("SWITCHBOARD_VK_SECRET", "s"),
                ],
                "SWITCHBOARD_VK_CONFIRMATION",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_MODE", "callback"),
                    ("SWITCHBOARD_VK_CONFIRMATION", "c0ffee"),
                ],
                "SWITCHBOARD_VK_SECRET",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_API_URL", "api.vk.com"),
                ],
                "SWITCHBOARD_VK_API_URL",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_RATE_LIMIT", "0"),
                ],
                "SWITCHBOARD_VK_RATE_LIMIT",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_DEFAULT_LANGUAGE", "de"),
                ],
                "SWITCHBOARD_VK_DEFAULT_LANGUAGE",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_MODE", "callback"),
                    ("SWITCHBOARD_VK_CONFIRMATION", "c0ffee"),
                    ("SWITCHBOARD_VK_SECRET", "fifteen-chars!!"),
                ],
                "SWITCHBOARD_VK_SECRET",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_MEDIA_HOSTS", "userapi.com,,vk.com"),
                ],
                "SWITCHBOARD_VK_MEDIA_HOSTS",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_MEDIA_HOSTS", "https://userapi.com"),
                ],
                "SWITCHBOARD_VK_MEDIA_HOSTS",
            ),
            (
                &[
                    ("SWITCHBOARD_VK_TOKEN", "t"),
                    ("SWITCHBOARD_VK_GROUP_ID", "1"),
                    ("SWITCHBOARD_VK_MEDIA_HOSTS", "10.0.0.1"),
                ],
                "SWITCHBOARD_VK_MEDIA_HOSTS",
            ),
        ];
        for (pairs, variable) in cases {
            let error = load(pairs).unwrap_err();
            assert_eq!(error.variable, *variable, "{pairs:?}: {error}");
        }
        let mut empty_token = VkSettings::new("  ", 1, VkMode::LongPoll);
        assert_eq!(empty_token.validate().unwrap_err().variable(), "SWITCHBOARD_VK_TOKEN");
        empty_token.token = Secret::new("t");
        assert!(empty_token.validate().is_ok());
    }

    #[test]
    fn callback_mode_with_everything_is_accepted_and_secrets_stay_out_of_debug() {
        let settings = load(&[
            ("SWITCHBOARD_VK_TOKEN", "vk1.a.very-secret"),
            ("SWITCHBOARD_VK_GROUP_ID", "42"),
            ("SWITCHBOARD_VK_MODE", "callback"),
            ("SWITCHBOARD_VK_CONFIRMATION", "c0ffee"),
            ("SWITCHBOARD_VK_SECRET", "hunter2-hunter2-hunter2"),
            ("SWITCHBOARD_VK_API_URL", "http://127.0.0.1:9/"),
            ("SWITCHBOARD_VK_RATE_LIMIT", "off"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.mode, VkMode::Callback);
        assert_eq!(settings.api_url, "http://127.0.0.1:9");
        assert_eq!(settings.media_hosts, DEFAULT_MEDIA_HOSTS);
        assert_eq!(settings.requests_per_second, None);
        let debug = format!("{settings:?}");
        assert!(!debug.contains("very-secret") && !debug.contains("hunter2"), "{debug}");
    }

    #[test]
    fn media_hosts_can_be_replaced() {
        let settings = load(&[
            ("SWITCHBOARD_VK_TOKEN", "t"),
            ("SWITCHBOARD_VK_GROUP_ID", "1"),
            ("SWITCHBOARD_VK_MEDIA_HOSTS", " UserAPI.com , cdn.example.org"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.media_hosts, ["userapi.com", "cdn.example.org"]);
    }
}
