//! Ozon settings: read from `SWITCHBOARD_OZON_*`, checked once at start-up. With them, the
//! seller's buyer chats become the `ozon` channel: pushes arrive at a route whose path holds a
//! secret (Ozon does not sign its pushes), optionally only from listed addresses, and the chat
//! history is read as a fallback. [`OzonSettings`] is plain data the channel imports.

use super::variables::{SettingsError, api_url, language, none_set, on_off};
use super::{ConfigError, MIN_WEBHOOK_SECRET_CHARS, Source};
use crate::core::message::Lang;
use crate::secret::Secret;
use ipnet::IpNet;
use std::time::Duration;

/// The Seller API's production host; tests point the channel at a fake server instead.
pub const DEFAULT_API_URL: &str = "https://api-seller.ozon.ru";
/// How often the chat list is read for messages no push brought (a missed push, downtime).
pub const DEFAULT_HISTORY_POLL: Duration = Duration::from_secs(60);
/// How long one API call may take by default before it counts as lost.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything the Ozon channel needs. Secrets are wrapped in [`Secret`], so `Debug` is safe.
#[derive(Debug, Clone)]
pub struct OzonSettings {
    /// The seller's `Client-Id` (`SWITCHBOARD_OZON_CLIENT_ID`).
    pub client_id: String,
    /// The seller's `Api-Key` (`SWITCHBOARD_OZON_API_KEY`).
    pub api_key: Secret,
    /// Where the API lives, without a trailing slash.
    pub api_url: String,
    /// The path segment that makes the push route unguessable (`/webhooks/ozon/<secret>`).
    /// Without it the push route is not served and only the history is read.
    pub push_secret: Option<Secret>,
    /// Addresses pushes are accepted from (`SWITCHBOARD_OZON_PUSH_ALLOW`); empty: any.
    pub push_allow: Vec<IpNet>,
    /// How often the history fallback reads the chat list.
    pub history_poll: Duration,
    /// The language for buyers until they write (Ozon's buyers are mostly Russian-speaking).
    pub default_language: Lang,
    /// Whether our own pace for the seller's `Client-Id` applies; off only for benchmarks.
    pub rate_limits: bool,
    /// How long one API call may take (`SWITCHBOARD_HTTP_TIMEOUT_SECS`).
    pub request_timeout: Duration,
}

impl OzonSettings {
    /// Settings with the defaults for everything but the seller's credentials.
    pub fn new(client_id: impl Into<String>, api_key: impl Into<String>) -> OzonSettings {
        OzonSettings {
            client_id: client_id.into(),
            api_key: Secret::new(api_key),
            api_url: DEFAULT_API_URL.to_owned(),
            push_secret: None,
            push_allow: Vec::new(),
            history_poll: DEFAULT_HISTORY_POLL,
            default_language: Lang::Ru,
            rate_limits: true,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    pub fn validate(&self) -> Result<(), OzonSettingsError> {
        if self.client_id.is_empty() || !self.client_id.chars().all(|c| c.is_ascii_digit()) {
            return Err(OzonSettingsError::ClientId);
        }
        if self.api_key.expose().trim().is_empty() {
            return Err(OzonSettingsError::ApiKeyEmpty);
        }
        if !(self.api_url.starts_with("https://") || self.api_url.starts_with("http://")) {
            return Err(OzonSettingsError::ApiUrl(self.api_url.clone()));
        }
        if let Some(secret) = &self.push_secret {
            let secret = secret.expose();
            let allowed = |c: char| c.is_ascii_alphanumeric() || "_-".contains(c);
            if secret.len() < MIN_WEBHOOK_SECRET_CHARS || secret.len() > 256 || !secret.chars().all(allowed) {
                return Err(OzonSettingsError::PushSecretShape);
            }
        }
        if self.request_timeout.is_zero() {
            return Err(OzonSettingsError::RequestTimeout);
        }
        Ok(())
    }
}

/// An Ozon configuration Switchboard refuses to start with; [`OzonSettingsError::variable`]
/// names the variable to fix. Messages never contain the key or the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OzonSettingsError {
    #[error("other SWITCHBOARD_OZON_* variables are set, but the seller's Client-Id is missing")]
    ClientIdMissing,
    #[error("expected the seller's Client-Id, a number")]
    ClientId,
    #[error("other SWITCHBOARD_OZON_* variables are set, but the seller's Api-Key is missing")]
    ApiKeyMissing,
    #[error("the Api-Key is empty")]
    ApiKeyEmpty,
    #[error("expected an http(s) URL such as {default}, got {0:?}", default = DEFAULT_API_URL)]
    ApiUrl(String),
    #[error(
        "expected {MIN_WEBHOOK_SECRET_CHARS} to 256 characters of A-Z, a-z, 0-9, _ and - (it is part of the push URL; fewer could be guessed)"
    )]
    PushSecretShape,
    #[error("expected one of en, ru, zh, got {0:?}")]
    DefaultLanguage(String),
    #[error("expected `on` or `off`, got {0:?}")]
    RateLimit(String),
    #[error("the Ozon request timeout must be longer than zero")]
    RequestTimeout,
}

impl SettingsError for OzonSettingsError {
    fn variable(&self) -> &'static str {
        match self {
            OzonSettingsError::ClientIdMissing | OzonSettingsError::ClientId => "SWITCHBOARD_OZON_CLIENT_ID",
            OzonSettingsError::ApiKeyMissing | OzonSettingsError::ApiKeyEmpty => "SWITCHBOARD_OZON_API_KEY",
            OzonSettingsError::ApiUrl(_) => "SWITCHBOARD_OZON_API_URL",
            OzonSettingsError::PushSecretShape => "SWITCHBOARD_OZON_PUSH_SECRET",
            OzonSettingsError::DefaultLanguage(_) => "SWITCHBOARD_OZON_DEFAULT_LANGUAGE",
            OzonSettingsError::RateLimit(_) => "SWITCHBOARD_OZON_RATE_LIMIT",
            OzonSettingsError::RequestTimeout => "SWITCHBOARD_HTTP_TIMEOUT_SECS",
        }
    }
}

/// Reads `SWITCHBOARD_OZON_*`. `Ok(None)` when none of them is set: Ozon is not used.
pub(super) fn read(
    source: &dyn Source,
    request_timeout: Duration,
) -> Result<Option<OzonSettings>, ConfigError> {
    const ALL: [&str; 8] = [
        "SWITCHBOARD_OZON_CLIENT_ID",
        "SWITCHBOARD_OZON_API_KEY",
        "SWITCHBOARD_OZON_API_URL",
        "SWITCHBOARD_OZON_PUSH_SECRET",
        "SWITCHBOARD_OZON_PUSH_ALLOW",
        "SWITCHBOARD_OZON_HISTORY_POLL_SECS",
        "SWITCHBOARD_OZON_DEFAULT_LANGUAGE",
        "SWITCHBOARD_OZON_RATE_LIMIT",
    ];
    if none_set(source, &ALL) {
        return Ok(None);
    }
    let client_id = source.get("SWITCHBOARD_OZON_CLIENT_ID").ok_or(OzonSettingsError::ClientIdMissing)?;
    let api_key = source.get("SWITCHBOARD_OZON_API_KEY").ok_or(OzonSettingsError::ApiKeyMissing)?;
    let mut settings = OzonSettings::new(client_id.trim(), api_key);
    settings.api_url = api_url(source, "SWITCHBOARD_OZON_API_URL").unwrap_or(settings.api_url);
    settings.push_secret = source.get("SWITCHBOARD_OZON_PUSH_SECRET").map(Secret::new);
    if let Some(list) = source.get("SWITCHBOARD_OZON_PUSH_ALLOW") {
        settings.push_allow = super::limits::parse_networks("SWITCHBOARD_OZON_PUSH_ALLOW", &list)?;
    }
    if let Some(seconds) =
        super::number_in(source, "SWITCHBOARD_OZON_HISTORY_POLL_SECS", 5..=3600, "seconds")?
    {
        settings.history_poll = Duration::from_secs(seconds);
    }
    settings.default_language =
        language(source, "SWITCHBOARD_OZON_DEFAULT_LANGUAGE", settings.default_language)
            .map_err(OzonSettingsError::DefaultLanguage)?;
    settings.rate_limits = on_off(source, "SWITCHBOARD_OZON_RATE_LIMIT", settings.rate_limits)
        .map_err(OzonSettingsError::RateLimit)?;
    settings.request_timeout = request_timeout;
    settings.validate()?;
    Ok(Some(settings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(pairs: &[(&'static str, &str)]) -> Result<Option<OzonSettings>, ConfigError> {
        let env: HashMap<&str, &str> = pairs.iter().copied().collect();
        read(&env, DEFAULT_REQUEST_TIMEOUT)
    }

    #[test]
    fn absent_means_not_configured_and_defaults_fill_the_rest() {
        assert!(load(&[]).unwrap().is_none());
        let settings = load(&[("SWITCHBOARD_OZON_CLIENT_ID", "836"), ("SWITCHBOARD_OZON_API_KEY", "key")])
            .unwrap()
            .unwrap();
        assert_eq!(settings.api_url, DEFAULT_API_URL);
        assert_eq!(settings.history_poll, DEFAULT_HISTORY_POLL);
        assert_eq!(settings.default_language, Lang::Ru);
        assert!(settings.push_secret.is_none() && settings.push_allow.is_empty());
    }

    #[test]
    fn missing_or_wrong_settings_name_the_variable() {
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![("SWITCHBOARD_OZON_CLIENT_ID", "836"), ("SWITCHBOARD_OZON_API_KEY", "k")];
            pairs.extend_from_slice(extra);
            pairs
        };
        let cases: Vec<(Vec<(&'static str, &str)>, &str)> = vec![
            (vec![("SWITCHBOARD_OZON_API_KEY", "k")], "SWITCHBOARD_OZON_CLIENT_ID"),
            (vec![("SWITCHBOARD_OZON_CLIENT_ID", "836")], "SWITCHBOARD_OZON_API_KEY"),
            (
                vec![("SWITCHBOARD_OZON_CLIENT_ID", "seller"), ("SWITCHBOARD_OZON_API_KEY", "k")],
                "SWITCHBOARD_OZON_CLIENT_ID",
            ),
            (with(&[("SWITCHBOARD_OZON_API_URL", "api-seller.ozon.ru")]), "SWITCHBOARD_OZON_API_URL"),
            (with(&[("SWITCHBOARD_OZON_PUSH_SECRET", "short")]), "SWITCHBOARD_OZON_PUSH_SECRET"),
            (
                with(&[("SWITCHBOARD_OZON_PUSH_SECRET", "has/slash/in/the/path")]),
                "SWITCHBOARD_OZON_PUSH_SECRET",
            ),
            (with(&[("SWITCHBOARD_OZON_PUSH_ALLOW", "ozon")]), "SWITCHBOARD_OZON_PUSH_ALLOW"),
            (with(&[("SWITCHBOARD_OZON_HISTORY_POLL_SECS", "1")]), "SWITCHBOARD_OZON_HISTORY_POLL_SECS"),
            (with(&[("SWITCHBOARD_OZON_DEFAULT_LANGUAGE", "de")]), "SWITCHBOARD_OZON_DEFAULT_LANGUAGE"),
            (with(&[("SWITCHBOARD_OZON_RATE_LIMIT", "5")]), "SWITCHBOARD_OZON_RATE_LIMIT"),
        ];
        for (pairs, variable) in &cases {
            let error = load(pairs).unwrap_err();
            assert_eq!(error.variable, *variable, "{pairs:?}: {error}");
        }
    }

    #[test]
    fn everything_set_is_read_and_secrets_stay_out_of_debug() {
        let settings = load(&[
            ("SWITCHBOARD_OZON_CLIENT_ID", "836"),
            ("SWITCHBOARD_OZON_API_KEY", "very-secret-key"),
            ("SWITCHBOARD_OZON_API_URL", "http://127.0.0.1:9/"),
            ("SWITCHBOARD_OZON_PUSH_SECRET", "hunter2_hunter2_hunter2"),
            ("SWITCHBOARD_OZON_PUSH_ALLOW", "195.34.21.0/24, 10.0.0.1"),
            ("SWITCHBOARD_OZON_HISTORY_POLL_SECS", "15"),
            ("SWITCHBOARD_OZON_RATE_LIMIT", "off"),
        ])
        .unwrap()
        .unwrap();
        assert_eq!(settings.api_url, "http://127.0.0.1:9");
        assert_eq!(settings.push_allow.len(), 2);
        assert_eq!(settings.history_poll, Duration::from_secs(15));
        assert!(!settings.rate_limits);
        let debug = format!("{settings:?}");
        assert!(!debug.contains("very-secret") && !debug.contains("hunter2"), "{debug}");
    }
}
