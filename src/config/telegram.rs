//! Telegram settings: [`TelegramSettings`] is the plain struct the Telegram channel imports;
//! [`read`] fills it from `SWITCHBOARD_TELEGRAM_*` and [`TelegramSettings::validate`] says what a
//! valid configuration is.

use super::{ConfigError, MIN_WEBHOOK_SECRET_CHARS, Source, number_in, variables::SettingsError};
use std::fmt;
use std::time::Duration;

/// The public Bot API.
pub const DEFAULT_API_URL: &str = "https://api.telegram.org";

/// How long one Bot API call may take by default (a long poll adds its own wait).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Bot API calls in flight at once by default: far more than the public API's limits let a bot
/// use (about 30 messages a second) even at a second per call, and with it 300 conversations
/// answered at full speed against a local server (BENCHMARKS.md) as fast as with no bound.
pub const DEFAULT_API_CONNECTIONS: u16 = 64;

/// Settings for one Telegram bot.
#[derive(Clone)]
pub struct TelegramSettings {
    /// The token from @BotFather: `<bot id>:<secret>`. Never logged.
    pub token: String,
    /// Base URL of the Bot API (a local Bot API server, or a fake in tests). `None`: the public API.
    pub api_url: Option<String>,
    /// Public HTTPS URL of our webhook route. `None`: long polling.
    pub webhook_url: Option<String>,
    /// What Telegram sends back in `X-Telegram-Bot-Api-Secret-Token`; required with a webhook.
    pub webhook_secret: Option<String>,
    /// Per-chat and per-bot send limits. Only a benchmark against a fake API turns them off.
    pub rate_limits: bool,
    /// How long one `getUpdates` call may wait for updates.
    pub poll_timeout: Duration,
    /// How many updates one `getUpdates` call may return (1-100).
    pub poll_limit: u8,
    /// The largest webhook body accepted; real updates are a few kilobytes.
    pub webhook_body_limit: usize,
    /// How long one Bot API call may take before it counts as lost and the outbox retries it.
    pub request_timeout: Duration,
    /// How many webhook requests Telegram may have open at once (1-100, given to
    /// `setWebhook`). Every request waits for its group commit, so more connections mean
    /// bigger groups and more updates per second; Telegram's own default is 40.
    pub webhook_max_connections: u8,
    /// How many `sendMessage`, `answerCallbackQuery` and `editMessageReplyMarkup` calls may be
    /// in flight at once (1-1000). Every call in flight holds a connection with its buffers
    /// (and, to the real API, a TLS session); without a bound, 300 busy conversations opened
    /// some 400 connections. Calls beyond it wait for a free one.
    pub api_connections: u16,
    /// A proxy is set in the environment (`HTTPS_PROXY` and the like). reqwest honours it, so
    /// then every Bot API call goes through reqwest, none through the direct client of `api`.
    pub proxy_from_environment: bool,
}

impl TelegramSettings {
    /// Settings for `token` with the defaults: public API, long polling, limits on.
    pub fn new(token: impl Into<String>) -> TelegramSettings {
        TelegramSettings {
            token: token.into(),
            api_url: None,
            webhook_url: None,
            webhook_secret: None,
            rate_limits: true,
            poll_timeout: Duration::from_secs(30),
            poll_limit: 100,
            webhook_body_limit: 1024 * 1024,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            webhook_max_connections: 100,
            api_connections: DEFAULT_API_CONNECTIONS,
            proxy_from_environment: false,
        }
    }

    /// Checks everything that can be checked without asking Telegram, with errors an operator
    /// can act on.
    pub fn validate(&self) -> Result<(), TelegramSettingsError> {
        bot_id_from_token(&self.token)?;
        if let Some(api_url) = &self.api_url {
            let parsed = reqwest::Url::parse(api_url).map_err(|error| {
                TelegramSettingsError::ApiUrl(format!("{api_url:?} is not a URL: {error}"))
            })?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
                return Err(TelegramSettingsError::ApiUrl(format!(
                    "{api_url:?} must be an http(s) base URL"
                )));
            }
        }
        if let Some(webhook_url) = &self.webhook_url {
            let parsed = reqwest::Url::parse(webhook_url).map_err(|error| {
                TelegramSettingsError::WebhookUrl(format!("{webhook_url:?} is not a URL: {error}"))
            })?;
            // The public Bot API only calls HTTPS webhooks; a local Bot API server may use http.
            let https_required = self.api_url.is_none();
            let scheme_ok = parsed.scheme() == "https" || (!https_required && parsed.scheme() == "http");
            if !scheme_ok {
                return Err(TelegramSettingsError::WebhookUrl(format!(
                    "{webhook_url:?} must be an https URL (Telegram does not call plain http webhooks)"
                )));
            }
            let Some(secret) = &self.webhook_secret else {
                return Err(TelegramSettingsError::WebhookSecret(
                    "a webhook needs a secret token, so that only Telegram can post updates".to_owned(),
                ));
            };
            validate_secret(secret)?;
        }
        if self.poll_timeout > Duration::from_secs(50) {
            return Err(TelegramSettingsError::Polling(
                "the long-poll timeout must be at most 50 seconds".to_owned(),
            ));
        }
        if !(1..=100).contains(&self.poll_limit) {
            return Err(TelegramSettingsError::Polling(
                "the getUpdates limit must be between 1 and 100".to_owned(),
            ));
        }
        if !(1..=100).contains(&self.webhook_max_connections) {
            return Err(TelegramSettingsError::WebhookMaxConnections);
        }
        if !(1..=1000).contains(&self.api_connections) {
            return Err(TelegramSettingsError::ApiConnections);
        }
        if self.webhook_body_limit < 1024 {
            return Err(TelegramSettingsError::WebhookBodyLimit);
        }
        if self.request_timeout.is_zero() {
            return Err(TelegramSettingsError::RequestTimeout);
        }
        Ok(())
    }

    /// The bot's numeric id: the part of the token before the colon.
    pub fn bot_id(&self) -> Result<u64, TelegramSettingsError> {
        bot_id_from_token(&self.token)
    }
}

/// Secrets stay out of logs even when the whole settings struct is printed.
impl fmt::Debug for TelegramSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TelegramSettings")
            .field("token", &"<redacted>")
            .field("api_url", &self.api_url)
            .field("webhook_url", &self.webhook_url)
            .field("webhook_secret", &self.webhook_secret.as_ref().map(|_| "<redacted>"))
            .field("rate_limits", &self.rate_limits)
            .field("poll_timeout", &self.poll_timeout)
            .field("poll_limit", &self.poll_limit)
            .field("webhook_body_limit", &self.webhook_body_limit)
            .field("request_timeout", &self.request_timeout)
            .field("webhook_max_connections", &self.webhook_max_connections)
            .field("api_connections", &self.api_connections)
            .finish()
    }
}

/// A configuration Switchboard refuses to start with. Messages never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelegramSettingsError {
    #[error(
        "the Telegram token is malformed: expected `<digits>:<at least 30 of A-Z a-z 0-9 _ ->`, as @BotFather \
         gives it"
    )]
    Token,
    #[error("SWITCHBOARD_TELEGRAM_API_URL: {0}")]
    ApiUrl(String),
    #[error("SWITCHBOARD_TELEGRAM_WEBHOOK_URL: {0}")]
    WebhookUrl(String),
    #[error("the Telegram webhook secret: {0}")]
    WebhookSecret(String),
    #[error("Telegram polling: {0}")]
    Polling(String),
    #[error("the Telegram webhook body limit must be at least 1 KiB")]
    WebhookBodyLimit,
    #[error("SWITCHBOARD_HTTP_TIMEOUT_SECS: the Bot API request timeout must be longer than zero")]
    RequestTimeout,
    #[error("SWITCHBOARD_TELEGRAM_WEBHOOK_MAX_CONNECTIONS: expected 1 to 100 (Telegram's range)")]
    WebhookMaxConnections,
    #[error("SWITCHBOARD_TELEGRAM_API_CONNECTIONS: expected 1 to 1000 calls at once")]
    ApiConnections,
}

impl SettingsError for TelegramSettingsError {
    fn variable(&self) -> &'static str {
        match self {
            TelegramSettingsError::Token => "SWITCHBOARD_TELEGRAM_TOKEN",
            TelegramSettingsError::ApiUrl(_) => "SWITCHBOARD_TELEGRAM_API_URL",
            TelegramSettingsError::WebhookUrl(_) => "SWITCHBOARD_TELEGRAM_WEBHOOK_URL",
            TelegramSettingsError::WebhookSecret(_) => "SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET",
            TelegramSettingsError::WebhookMaxConnections => "SWITCHBOARD_TELEGRAM_WEBHOOK_MAX_CONNECTIONS",
            TelegramSettingsError::ApiConnections => "SWITCHBOARD_TELEGRAM_API_CONNECTIONS",
            TelegramSettingsError::Polling(_) | TelegramSettingsError::WebhookBodyLimit => {
                "SWITCHBOARD_TELEGRAM_TOKEN"
            }
            TelegramSettingsError::RequestTimeout => "SWITCHBOARD_HTTP_TIMEOUT_SECS",
        }
    }
}

/// Reads `SWITCHBOARD_TELEGRAM_*`. `Ok(None)` when no token is set: Telegram is simply not used.
/// Every Bot API call may take `request_timeout` (`SWITCHBOARD_HTTP_TIMEOUT_SECS`).
pub(super) fn read(
    source: &dyn Source,
    request_timeout: Duration,
) -> Result<Option<TelegramSettings>, ConfigError> {
    let Some(token) = source.get("SWITCHBOARD_TELEGRAM_TOKEN") else {
        let dependent = ["SWITCHBOARD_TELEGRAM_WEBHOOK_URL", "SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET"];
        if let Some(variable) = dependent.into_iter().find(|variable| source.get(variable).is_some()) {
            return Err(ConfigError::new(
                "SWITCHBOARD_TELEGRAM_TOKEN",
                format!("{variable} is set, but the bot token is missing"),
            ));
        }
        return Ok(None);
    };
    let mut settings = TelegramSettings::new(token.trim());
    settings.api_url = source.get("SWITCHBOARD_TELEGRAM_API_URL");
    settings.webhook_url = source.get("SWITCHBOARD_TELEGRAM_WEBHOOK_URL");
    settings.webhook_secret = source.get("SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET");
    settings.request_timeout = request_timeout;
    // The variables reqwest reads for its proxy (it also reads the lower-case forms).
    settings.proxy_from_environment =
        ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"]
            .into_iter()
            .any(|variable| source.get(variable).is_some_and(|value| !value.trim().is_empty()));
    if settings.webhook_url.is_some() && settings.webhook_secret.is_none() {
        return Err(ConfigError::new(
            "SWITCHBOARD_TELEGRAM_WEBHOOK_SECRET",
            "a webhook needs a secret (16-256 characters of A-Z a-z 0-9 _ -) so forged updates are refused",
        ));
    }
    if let Some(value) = source.get("SWITCHBOARD_TELEGRAM_RATE_LIMIT") {
        settings.rate_limits = match value.as_str() {
            "on" => true,
            "off" => false,
            other => {
                return Err(ConfigError::new(
                    "SWITCHBOARD_TELEGRAM_RATE_LIMIT",
                    format!("expected `on` or `off` (off only against a test server), got {other:?}"),
                ));
            }
        };
    }
    if let Some(connections) =
        number_in(source, "SWITCHBOARD_TELEGRAM_WEBHOOK_MAX_CONNECTIONS", 1..=100, "connections")?
    {
        settings.webhook_max_connections = connections;
    }
    if let Some(connections) =
        number_in(source, "SWITCHBOARD_TELEGRAM_API_CONNECTIONS", 1..=1000, "calls in flight")?
    {
        settings.api_connections = connections;
    }
    settings.validate()?;
    Ok(Some(settings))
}

/// `^\d+:[A-Za-z0-9_-]{30,}$`, without a regex engine.
fn bot_id_from_token(token: &str) -> Result<u64, TelegramSettingsError> {
    let (id, secret) = token.split_once(':').ok_or(TelegramSettingsError::Token)?;
    let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit());
    let secret_ok = secret.len() >= 30 && secret.bytes().all(is_token_byte);
    if !id_ok || !secret_ok {
        return Err(TelegramSettingsError::Token);
    }
    id.parse().map_err(|_| TelegramSettingsError::Token)
}

/// Telegram's rule for `secret_token` (up to 256 characters of `A-Za-z0-9_-`), and ours: at
/// least [`MIN_WEBHOOK_SECRET_CHARS`], so it cannot be guessed.
fn validate_secret(secret: &str) -> Result<(), TelegramSettingsError> {
    if secret.len() < MIN_WEBHOOK_SECRET_CHARS || secret.len() > 256 {
        return Err(TelegramSettingsError::WebhookSecret(format!(
            "it must be {MIN_WEBHOOK_SECRET_CHARS} to 256 characters long"
        )));
    }
    if !secret.bytes().all(is_token_byte) {
        return Err(TelegramSettingsError::WebhookSecret(
            "only the characters A-Z, a-z, 0-9, _ and - are allowed".to_owned(),
        ));
    }
    Ok(())
}

fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq";

    #[test]
    fn accepts_botfather_tokens_and_reads_the_bot_id() {
        let settings = TelegramSettings::new(TOKEN);
        assert_eq!(settings.validate(), Ok(()));
        assert_eq!(settings.bot_id(), Ok(123_456_789));
    }

    #[test]
    fn rejects_malformed_tokens() {
        for token in [
            "",
            ":AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq",
            "12a:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq",
            "123:short",
            "123:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw!",
            "123 AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq",
            "99999999999999999999999:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq",
        ] {
            assert_eq!(
                TelegramSettings::new(token).validate(),
                Err(TelegramSettingsError::Token),
                "{token:?}"
            );
        }
    }

    #[test]
    fn a_webhook_needs_https_and_a_well_formed_secret() {
        let mut settings = TelegramSettings::new(TOKEN);
        settings.webhook_url = Some("https://support.example.com/webhooks/telegram".to_owned());
        assert!(matches!(settings.validate(), Err(TelegramSettingsError::WebhookSecret(_))));
        settings.webhook_secret = Some("s3cret_token-16c".to_owned());
        assert_eq!(settings.validate(), Ok(()));
        for bad in ["", "s3cret_token-15", "with space and more", "ünïcode-and-longer", &"a".repeat(257)] {
            settings.webhook_secret = Some(bad.to_owned());
            assert!(matches!(settings.validate(), Err(TelegramSettingsError::WebhookSecret(_))), "{bad:?}");
        }
        settings.webhook_secret = Some("a".repeat(256));
        assert_eq!(settings.validate(), Ok(()));

        settings.webhook_url = Some("http://support.example.com/hook".to_owned());
        assert!(matches!(settings.validate(), Err(TelegramSettingsError::WebhookUrl(_))));
        settings.api_url = Some("http://127.0.0.1:8081".to_owned());
        assert_eq!(settings.validate(), Ok(()));
        settings.api_url = Some("not a url".to_owned());
        assert!(matches!(settings.validate(), Err(TelegramSettingsError::ApiUrl(_))));
        settings.api_url = None;
        settings.webhook_url = Some("https://support.example.com/hook".to_owned());
        for connections in [0, 101] {
            settings.webhook_max_connections = connections;
            assert_eq!(
                settings.validate(),
                Err(TelegramSettingsError::WebhookMaxConnections),
                "{connections}"
            );
        }
        settings.webhook_max_connections = 1;
        assert_eq!(settings.validate(), Ok(()));
        for connections in [0, 1001] {
            settings.api_connections = connections;
            assert_eq!(settings.validate(), Err(TelegramSettingsError::ApiConnections), "{connections}");
        }
        settings.api_connections = 1;
        assert_eq!(settings.validate(), Ok(()));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let mut settings = TelegramSettings::new(TOKEN);
        settings.webhook_secret = Some("hunter2hunter2".to_owned());
        let printed = format!("{settings:?}");
        assert!(!printed.contains("AAHdqTcv"), "{printed}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}
