//! MAX settings: read from `SWITCHBOARD_MAX_*`, checked once at start-up so that a missing token,
//! a webhook without its public URL or secret, or an unreadable extra root certificate is a
//! clear error instead of a silent failure later. [`MaxSettings`] is plain data the MAX channel
//! imports; reading it is this module's job.

use super::variables::{SettingsError, api_url, host_list, language, none_set, on_off, one_of};
use super::{ConfigError, MIN_WEBHOOK_SECRET_CHARS, Source};
use crate::core::message::Lang;
use crate::secret::Secret;
use std::time::Duration;

/// The MAX Bot API's production host; tests point the channel at a fake server instead.
pub const DEFAULT_API_URL: &str = "https://platform-api2.max.ru";
/// How long one `GET /updates` may hang waiting for updates (MAX allows 0 to 90 seconds).
pub const DEFAULT_LONGPOLL_TIMEOUT_SECS: u32 = 30;
/// How long one API call may take by default before it counts as lost.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);
/// MAX takes a webhook secret of up to 256 of `A-Z a-z 0-9 _ -`; ours is at least
/// [`MIN_WEBHOOK_SECRET_CHARS`] long, so it cannot be guessed.
const SECRET_LENGTHS: std::ops::RangeInclusive<usize> = MIN_WEBHOOK_SECRET_CHARS..=256;
/// Where MAX serves customers' images (each with its subdomains, such as `i.oneme.ru`): the
/// only hosts images are downloaded from, besides the configured API's own address.
pub const DEFAULT_MEDIA_HOSTS: [&str; 2] = ["oneme.ru", "max.ru"];

/// How updates reach us from MAX.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxMode {
    /// We ask for updates (`GET /updates`): works behind NAT, needs one leader process.
    LongPoll,
    /// MAX posts updates to our HTTP route (`POST /subscriptions`): needs a public URL.
    Webhook,
}

/// Everything the MAX channel needs. Secrets are wrapped in [`Secret`], so `Debug` is safe to log.
#[derive(Debug, Clone)]
pub struct MaxSettings {
    /// The bot token (`SWITCHBOARD_MAX_TOKEN`), sent as the `Authorization` header.
    pub token: Secret,
    pub mode: MaxMode,
    /// The public URL MAX posts to in webhook mode, ending in `/webhooks/max`.
    pub webhook_url: Option<String>,
    /// The secret MAX sends back in `X-Max-Bot-Api-Secret` with every webhook post.
    pub webhook_secret: Option<Secret>,
    /// Where the API lives, without a trailing slash.
    pub api_url: String,
    /// A PEM root certificate to trust besides the built-in ones (the production host's chain
    /// ends in the Russian Ministry of Digital Development's root, which common trust stores
    /// lack). Verification stays on.
    pub extra_root_pem: Option<String>,
    /// The language for customers whose update carries no locale (MAX's audience is mostly
    /// Russian-speaking, so Russian by default).
    pub default_language: Lang,
    /// Whether our own send limits (2 messages a second per chat, 30 requests a second per
    /// bot) apply; off only for benchmarks against a fake server.
    pub rate_limits: bool,
    /// Seconds one `GET /updates` waits for updates.
    pub longpoll_timeout_secs: u32,
    /// The domains (with their subdomains) customer images may be downloaded from over HTTPS
    /// (`SWITCHBOARD_MAX_MEDIA_HOSTS`); the API URL's own address is always allowed too.
    pub media_hosts: Vec<String>,
    /// How long one API call may take before it counts as lost and the outbox retries it
    /// (`SWITCHBOARD_HTTP_TIMEOUT_SECS`).
    pub request_timeout: Duration,
}

impl MaxSettings {
    /// Settings with the defaults for everything but the token and the mode.
    pub fn new(token: impl Into<String>, mode: MaxMode) -> MaxSettings {
        MaxSettings {
            token: Secret::new(token),
            mode,
            webhook_url: None,
            webhook_secret: None,
            api_url: DEFAULT_API_URL.to_owned(),
            extra_root_pem: None,
            default_language: Lang::Ru,
            rate_limits: true,
            longpoll_timeout_secs: DEFAULT_LONGPOLL_TIMEOUT_SECS,
            media_hosts: DEFAULT_MEDIA_HOSTS.iter().map(|host| (*host).to_owned()).collect(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// Checks the combination: a token, an http(s) API URL, and in webhook mode a public
    /// http(s) URL and a secret MAX accepts (without the secret anyone could post updates).
    pub fn validate(&self) -> Result<(), MaxSettingsError> {
        if self.token.expose().trim().is_empty() {
            return Err(MaxSettingsError::TokenEmpty);
        }
        if !is_http_url(&self.api_url) {
            return Err(MaxSettingsError::ApiUrl(self.api_url.clone()));
        }
        if self.request_timeout.is_zero() {
            return Err(MaxSettingsError::RequestTimeout);
        }
        if let Some(bad) = self.media_hosts.iter().find(|host| !super::is_domain(host)) {
            return Err(MaxSettingsError::MediaHosts(bad.clone()));
        }
        if self.mode == MaxMode::Webhook {
            match &self.webhook_url {
                None => return Err(MaxSettingsError::WebhookUrlMissing),
                Some(url) if !is_http_url(url) => return Err(MaxSettingsError::WebhookUrl(url.clone())),
                Some(_) => {}
            }
            let Some(secret) = &self.webhook_secret else { return Err(MaxSettingsError::SecretMissing) };
            let secret = secret.expose();
            let allowed = |character: char| character.is_ascii_alphanumeric() || "_-".contains(character);
            if !SECRET_LENGTHS.contains(&secret.len()) || !secret.chars().all(allowed) {
                return Err(MaxSettingsError::SecretShape);
            }
        }
        Ok(())
    }
}

fn is_http_url(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// A MAX configuration Switchboard refuses to start with; [`MaxSettingsError::variable`] names
/// the variable to fix. Messages never contain the token or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaxSettingsError {
    #[error("other SWITCHBOARD_MAX_* variables are set, but the bot token is missing")]
    TokenMissing,
    #[error("the bot token is empty")]
    TokenEmpty,
    #[error("expected `longpoll` or `webhook`, got {0:?}")]
    Mode(String),
    #[error("expected an http(s) URL such as {default}, got {0:?}", default = DEFAULT_API_URL)]
    ApiUrl(String),
    #[error("webhook mode needs the public URL MAX posts to (ending in /webhooks/max)")]
    WebhookUrlMissing,
    #[error("expected an http(s) URL ending in /webhooks/max, got {0:?}")]
    WebhookUrl(String),
    #[error("webhook mode needs a secret for the X-Max-Bot-Api-Secret header")]
    SecretMissing,
    #[error(
        "expected {MIN_WEBHOOK_SECRET_CHARS} to 256 characters of A-Z, a-z, 0-9, _ and - (MAX allows only these; fewer could be guessed)"
    )]
    SecretShape,
    #[error("expected comma-separated domains such as `oneme.ru,max.ru`, got {0:?}")]
    MediaHosts(String),
    #[error("cannot read the PEM file {path:?}: {problem}")]
    RootPemUnreadable { path: String, problem: String },
    #[error("expected a PEM file with a certificate (-----BEGIN CERTIFICATE-----) at {0:?}")]
    RootPemNotACertificate(String),
    #[error("expected one of en, ru, zh, got {0:?}")]
    DefaultLanguage(String),
    #[error("expected `on` or `off`, got {0:?}")]
    RateLimit(String),
    #[error("the MAX request timeout must be longer than zero")]
    RequestTimeout,
}

impl SettingsError for MaxSettingsError {
    fn variable(&self) -> &'static str {
        match self {
            MaxSettingsError::TokenMissing | MaxSettingsError::TokenEmpty => "SWITCHBOARD_MAX_TOKEN",
            MaxSettingsError::Mode(_) => "SWITCHBOARD_MAX_MODE",
            MaxSettingsError::ApiUrl(_) => "SWITCHBOARD_MAX_API_URL",
            MaxSettingsError::WebhookUrlMissing | MaxSettingsError::WebhookUrl(_) => {
                "SWITCHBOARD_MAX_WEBHOOK_URL"
            }
            MaxSettingsError::SecretMissing | MaxSettingsError::SecretShape => {
                "SWITCHBOARD_MAX_WEBHOOK_SECRET"
            }
            MaxSettingsError::RootPemUnreadable { .. } | MaxSettingsError::RootPemNotACertificate(_) => {
                "SWITCHBOARD_MAX_EXTRA_ROOT_PEM"
            }
            MaxSettingsError::DefaultLanguage(_) => "SWITCHBOARD_MAX_DEFAULT_LANGUAGE",
            MaxSettingsError::MediaHosts(_) => "SWITCHBOARD_MAX_MEDIA_HOSTS",
            MaxSettingsError::RateLimit(_) => "SWITCHBOARD_MAX_RATE_LIMIT",
            MaxSettingsError::RequestTimeout => "SWITCHBOARD_HTTP_TIMEOUT_SECS",
        }
    }
}

/// Reads `SWITCHBOARD_MAX_*`. `Ok(None)` when none of them is set: MAX is simply not used.
/// Every API call may take `request_timeout` (`SWITCHBOARD_HTTP_TIMEOUT_SECS`).
pub(super) fn read(
    source: &dyn Source,
    request_timeout: Duration,
) -> Result<Option<MaxSettings>, ConfigError> {
    const ALL: [&str; 9] = [
        "SWITCHBOARD_MAX_TOKEN",
        "SWITCHBOARD_MAX_MODE",
        "SWITCHBOARD_MAX_WEBHOOK_URL",
        "SWITCHBOARD_MAX_WEBHOOK_SECRET",
        "SWITCHBOARD_MAX_API_URL",
        "SWITCHBOARD_MAX_EXTRA_ROOT_PEM",
        "SWITCHBOARD_MAX_DEFAULT_LANGUAGE",
        "SWITCHBOARD_MAX_RATE_LIMIT",
        "SWITCHBOARD_MAX_MEDIA_HOSTS",
    ];
    if none_set(source, &ALL) {
        return Ok(None);
    }
    let token = source.get("SWITCHBOARD_MAX_TOKEN").ok_or(MaxSettingsError::TokenMissing)?;
    let modes = [("longpoll", MaxMode::LongPoll), ("webhook", MaxMode::Webhook)];
    let mode =
        one_of(source, "SWITCHBOARD_MAX_MODE", &modes, MaxMode::LongPoll).map_err(MaxSettingsError::Mode)?;
    let mut settings = MaxSettings::new(token, mode);
    settings.webhook_url = source.get("SWITCHBOARD_MAX_WEBHOOK_URL");
    settings.webhook_secret = source.get("SWITCHBOARD_MAX_WEBHOOK_SECRET").map(Secret::new);
    settings.api_url = api_url(source, "SWITCHBOARD_MAX_API_URL").unwrap_or(settings.api_url);
    if let Some(path) = source.get("SWITCHBOARD_MAX_EXTRA_ROOT_PEM") {
        settings.extra_root_pem = Some(read_root_pem(&path)?);
    }
    settings.default_language =
        language(source, "SWITCHBOARD_MAX_DEFAULT_LANGUAGE", settings.default_language)
            .map_err(MaxSettingsError::DefaultLanguage)?;
    settings.rate_limits = on_off(source, "SWITCHBOARD_MAX_RATE_LIMIT", settings.rate_limits)
        .map_err(MaxSettingsError::RateLimit)?;
    settings.media_hosts = host_list(source, "SWITCHBOARD_MAX_MEDIA_HOSTS").unwrap_or(settings.media_hosts);
    settings.request_timeout = request_timeout;
    settings.validate()?;
    Ok(Some(settings))
}

/// The PEM text of the extra root certificate; whether it parses is the HTTP client's to say
/// when the channel starts, this only catches a wrong path or a file of another kind.
fn read_root_pem(path: &str) -> Result<String, MaxSettingsError> {
    let text = std::fs::read_to_string(path).map_err(|error| MaxSettingsError::RootPemUnreadable {
        path: path.to_owned(),
        problem: error.to_string(),
    })?;
    if !text.contains("-----BEGIN CERTIFICATE-----") {
        return Err(MaxSettingsError::RootPemNotACertificate(path.to_owned()));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&'static str, &str)]) -> Result<Option<MaxSettings>, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        read(&env, DEFAULT_REQUEST_TIMEOUT)
    }

    #[test]
    fn absent_means_not_configured_and_defaults_fill_the_rest() {
        assert!(load(&[]).unwrap().is_none());
        let settings = load(&[("SWITCHBOARD_MAX_TOKEN", "max-token")]).unwrap().unwrap();
        assert_eq!(settings.mode, MaxMode::LongPoll);
        assert_eq!(settings.api_url, DEFAULT_API_URL);
        assert_eq!(settings.default_language, Lang::Ru);
        assert!(settings.rate_limits);
        assert!(settings.extra_root_pem.is_none());
        assert_eq!(settings.media_hosts, DEFAULT_MEDIA_HOSTS);
    }

    #[test]
    fn missing_or_contradictory_settings_name_the_variable() {
        let folder = tempfile::tempdir().unwrap();
        let not_pem = folder.path().join("root.txt");
        std::fs::write(&not_pem, "hello").unwrap();
        let not_pem = not_pem.display().to_string();
        let webhook = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![("SWITCHBOARD_MAX_TOKEN", "t"), ("SWITCHBOARD_MAX_MODE", "webhook")];
            pairs.extend_from_slice(extra);
            pairs
        };
        let cases: Vec<(Vec<(&'static str, &str)>, &str)> = vec![
            (vec![("SWITCHBOARD_MAX_MODE", "longpoll")], "SWITCHBOARD_MAX_TOKEN"),
            (vec![("SWITCHBOARD_MAX_TOKEN", " ")], "SWITCHBOARD_MAX_TOKEN"),
            (vec![("SWITCHBOARD_MAX_TOKEN", "t"), ("SWITCHBOARD_MAX_MODE", "push")], "SWITCHBOARD_MAX_MODE"),
            (
                vec![("SWITCHBOARD_MAX_TOKEN", "t"), ("SWITCHBOARD_MAX_API_URL", "platform-api2.max.ru")],
                "SWITCHBOARD_MAX_API_URL",
            ),
            (
                webhook(&[("SWITCHBOARD_MAX_WEBHOOK_SECRET", "secret_1_secret_1")]),
                "SWITCHBOARD_MAX_WEBHOOK_URL",
            ),
            (
                webhook(&[
                    ("SWITCHBOARD_MAX_WEBHOOK_URL", "example.com/webhooks/max"),
                    ("SWITCHBOARD_MAX_WEBHOOK_SECRET", "secret_1_secret_1"),
                ]),
                "SWITCHBOARD_MAX_WEBHOOK_URL",
            ),
            (
                webhook(&[("SWITCHBOARD_MAX_WEBHOOK_URL", "https://example.com/webhooks/max")]),
                "SWITCHBOARD_MAX_WEBHOOK_SECRET",
            ),
            (
                webhook(&[
                    ("SWITCHBOARD_MAX_WEBHOOK_URL", "https://example.com/webhooks/max"),
                    ("SWITCHBOARD_MAX_WEBHOOK_SECRET", "has spaces!"),
                ]),
                "SWITCHBOARD_MAX_WEBHOOK_SECRET",
            ),
            (
                webhook(&[
                    ("SWITCHBOARD_MAX_WEBHOOK_URL", "https://example.com/webhooks/max"),
                    ("SWITCHBOARD_MAX_WEBHOOK_SECRET", "fifteen_chars_x"),
                ]),
                "SWITCHBOARD_MAX_WEBHOOK_SECRET",
            ),
            (
                vec![
                    ("SWITCHBOARD_MAX_TOKEN", "t"),
                    ("SWITCHBOARD_MAX_EXTRA_ROOT_PEM", "/nonexistent/root.pem"),
                ],
                "SWITCHBOARD_MAX_EXTRA_ROOT_PEM",
            ),
            (
                vec![("SWITCHBOARD_MAX_TOKEN", "t"), ("SWITCHBOARD_MAX_EXTRA_ROOT_PEM", not_pem.as_str())],
                "SWITCHBOARD_MAX_EXTRA_ROOT_PEM",
            ),
            (
                vec![("SWITCHBOARD_MAX_TOKEN", "t"), ("SWITCHBOARD_MAX_DEFAULT_LANGUAGE", "de")],
                "SWITCHBOARD_MAX_DEFAULT_LANGUAGE",
            ),
            (
                vec![("SWITCHBOARD_MAX_TOKEN", "t"), ("SWITCHBOARD_MAX_RATE_LIMIT", "5")],
                "SWITCHBOARD_MAX_RATE_LIMIT",
            ),
            (
                vec![("SWITCHBOARD_MAX_TOKEN", "t"), ("SWITCHBOARD_MAX_MEDIA_HOSTS", "oneme.ru,,max.ru")],
                "SWITCHBOARD_MAX_MEDIA_HOSTS",
            ),
            (
                vec![("SWITCHBOARD_MAX_TOKEN", "t"), ("SWITCHBOARD_MAX_MEDIA_HOSTS", "10.0.0.1")],
                "SWITCHBOARD_MAX_MEDIA_HOSTS",
            ),
        ];
        for (pairs, variable) in &cases {
            let error = load(pairs).unwrap_err();
            assert_eq!(error.variable, *variable, "{pairs:?}: {error}");
        }
    }

    #[test]
    fn webhook_mode_with_everything_is_accepted_and_secrets_stay_out_of_debug() {
        let folder = tempfile::tempdir().unwrap();
        let pem = folder.path().join("root.pem");
        std::fs::write(&pem, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").unwrap();
        let pem = pem.display().to_string();
        let settings = load(&[
            ("SWITCHBOARD_MAX_TOKEN", "very-secret-token"),
            ("SWITCHBOARD_MAX_MODE", "webhook"),
            ("SWITCHBOARD_MAX_WEBHOOK_URL", "https://support.example.com/webhooks/max"),
            ("SWITCHBOARD_MAX_WEBHOOK_SECRET", "hunter2_hunter2_hunter2"),
            ("SWITCHBOARD_MAX_MEDIA_HOSTS", " OneMe.ru , cdn.example.org"),
            ("SWITCHBOARD_MAX_API_URL", "http://127.0.0.1:9/"),
            ("SWITCHBOARD_MAX_EXTRA_ROOT_PEM", pem.as_str()),
            ("SWITCHBOARD_MAX_RATE_LIMIT", "off"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.mode, MaxMode::Webhook);
        assert_eq!(settings.api_url, "http://127.0.0.1:9");
        assert!(!settings.rate_limits);
        assert_eq!(settings.media_hosts, ["oneme.ru", "cdn.example.org"]);
        assert!(settings.extra_root_pem.as_deref().is_some_and(|text| text.contains("MIIB")));
        let debug = format!("{settings:?}");
        assert!(!debug.contains("very-secret") && !debug.contains("hunter2"), "{debug}");
    }
}
