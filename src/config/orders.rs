//! Order lookups and signed-in customers: `SWITCHBOARD_ORDERS_*` (the store's order-lookup
//! contract, `docs/order-lookup.md`) and `SWITCHBOARD_IDENTITY_SECRET` (the key the store signs
//! web chat identities and account-link tokens with). Checked once at start-up; the values are
//! plain data `crate::orders` and the channels import.

use super::{ConfigError, Source, variables::SettingsError};
use crate::secret::Secret;
use base64::Engine as _;
use std::time::Duration;

/// How long Switchboard waits for the store's answer before telling the customer the store
/// cannot be reached.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an answer is reused for the same question.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// The Standard Webhooks specification asks for keys of 24 to 64 bytes.
const KEY_BYTES: std::ops::RangeInclusive<usize> = 24..=64;
/// The shortest identity secret accepted: it signs who a customer is.
pub const MIN_IDENTITY_SECRET_CHARS: usize = 32;

/// The store's order-lookup endpoint and the key both sides sign with.
#[derive(Debug, Clone)]
pub struct OrdersSettings {
    /// Where Switchboard POSTs lookups (`SWITCHBOARD_ORDERS_URL`).
    pub url: String,
    /// The signing key, decoded from `whsec_<base64>` (`SWITCHBOARD_ORDERS_SECRET`).
    pub key: Secret,
    /// `SWITCHBOARD_ORDERS_TIMEOUT_MS` (default 3 s).
    pub timeout: Duration,
    pub cache_ttl: Duration,
}

/// The key the store signs who a customer is with (`SWITCHBOARD_IDENTITY_SECRET`).
#[derive(Debug, Clone)]
pub struct IdentitySettings {
    pub secret: Secret,
}

/// An orders or identity configuration Switchboard refuses to start with; the message never
/// contains a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrdersSettingsError {
    #[error("SWITCHBOARD_ORDERS_SECRET is set, but the URL to look orders up at is missing")]
    UrlMissing,
    #[error("expected an http(s) URL, got {0:?}")]
    Url(String),
    #[error(
        "the store's order endpoint needs a signing secret (whsec_ followed by base64 of 24 to 64 bytes)"
    )]
    SecretMissing,
    #[error("expected whsec_ followed by base64 of 24 to 64 bytes (Standard Webhooks)")]
    SecretShape,
    #[error("expected a whole number of milliseconds from 100 to 30000, got {0:?}")]
    Timeout(String),
    #[error("expected at least {MIN_IDENTITY_SECRET_CHARS} characters (it signs who a customer is)")]
    IdentitySecretShort,
}

impl SettingsError for OrdersSettingsError {
    fn variable(&self) -> &'static str {
        match self {
            OrdersSettingsError::UrlMissing | OrdersSettingsError::Url(_) => "SWITCHBOARD_ORDERS_URL",
            OrdersSettingsError::SecretMissing | OrdersSettingsError::SecretShape => {
                "SWITCHBOARD_ORDERS_SECRET"
            }
            OrdersSettingsError::Timeout(_) => "SWITCHBOARD_ORDERS_TIMEOUT_MS",
            OrdersSettingsError::IdentitySecretShort => "SWITCHBOARD_IDENTITY_SECRET",
        }
    }
}

/// Decodes a Standard Webhooks secret: `whsec_` and the base64 of the key bytes.
pub fn decode_webhook_secret(secret: &str) -> Result<Vec<u8>, OrdersSettingsError> {
    let encoded = secret.trim().strip_prefix("whsec_").ok_or(OrdersSettingsError::SecretShape)?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| OrdersSettingsError::SecretShape)?;
    if !KEY_BYTES.contains(&key.len()) {
        return Err(OrdersSettingsError::SecretShape);
    }
    Ok(key)
}

/// Reads `SWITCHBOARD_ORDERS_*`. `Ok(None)` when neither the URL nor the secret is set: there
/// is no order source, and the dialog asks for order numbers without looking them up.
pub(super) fn read(source: &dyn Source) -> Result<Option<OrdersSettings>, ConfigError> {
    let url = source.get("SWITCHBOARD_ORDERS_URL");
    let secret = source.get("SWITCHBOARD_ORDERS_SECRET");
    let (url, secret) = match (url, secret) {
        (None, None) => return Ok(None),
        (None, Some(_)) => return Err(OrdersSettingsError::UrlMissing.into()),
        (Some(_), None) => return Err(OrdersSettingsError::SecretMissing.into()),
        (Some(url), Some(secret)) => (url, secret),
    };
    let url = url.trim().to_owned();
    if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
        return Err(OrdersSettingsError::Url(url).into());
    }
    let key = decode_webhook_secret(&secret)?;
    let timeout = match source.get("SWITCHBOARD_ORDERS_TIMEOUT_MS") {
        None => DEFAULT_TIMEOUT,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(millis) if (100..=30_000).contains(&millis) => Duration::from_millis(millis),
            _ => return Err(OrdersSettingsError::Timeout(raw).into()),
        },
    };
    Ok(Some(OrdersSettings {
        url,
        key: Secret::new(base64::engine::general_purpose::STANDARD.encode(key)),
        timeout,
        cache_ttl: DEFAULT_CACHE_TTL,
    }))
}

/// Reads `SWITCHBOARD_IDENTITY_SECRET`. `Ok(None)` when unset: no signed-in customers.
pub(super) fn read_identity(source: &dyn Source) -> Result<Option<IdentitySettings>, ConfigError> {
    let Some(secret) = source.get("SWITCHBOARD_IDENTITY_SECRET") else { return Ok(None) };
    if secret.trim().chars().count() < MIN_IDENTITY_SECRET_CHARS {
        return Err(OrdersSettingsError::IdentitySecretShort.into());
    }
    Ok(Some(IdentitySettings { secret: Secret::new(secret.trim()) }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    #[test]
    fn unset_means_no_order_source() {
        assert!(read(&HashMap::new()).unwrap().is_none());
        assert!(read_identity(&HashMap::new()).unwrap().is_none());
    }

    #[test]
    fn a_complete_configuration_reads() {
        let source = HashMap::from([
            ("SWITCHBOARD_ORDERS_URL", "https://shop.example/switchboard/orders"),
            ("SWITCHBOARD_ORDERS_SECRET", SECRET),
        ]);
        let settings = read(&source).unwrap().unwrap();
        assert_eq!(settings.timeout, DEFAULT_TIMEOUT);
        assert_eq!(settings.url, "https://shop.example/switchboard/orders");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[("SWITCHBOARD_ORDERS_SECRET", SECRET)], "SWITCHBOARD_ORDERS_URL"),
            (&[("SWITCHBOARD_ORDERS_URL", "https://shop.example/o")], "SWITCHBOARD_ORDERS_SECRET"),
            (
                &[
                    ("SWITCHBOARD_ORDERS_URL", "https://shop.example/o"),
                    ("SWITCHBOARD_ORDERS_SECRET", "whsec_c2hvcnQ="),
                ],
                "SWITCHBOARD_ORDERS_SECRET",
            ),
            (
                &[
                    ("SWITCHBOARD_ORDERS_URL", "https://shop.example/o"),
                    ("SWITCHBOARD_ORDERS_SECRET", SECRET),
                    ("SWITCHBOARD_ORDERS_TIMEOUT_MS", "0"),
                ],
                "SWITCHBOARD_ORDERS_TIMEOUT_MS",
            ),
            (
                &[("SWITCHBOARD_ORDERS_URL", "ftp://x"), ("SWITCHBOARD_ORDERS_SECRET", SECRET)],
                "SWITCHBOARD_ORDERS_URL",
            ),
        ];
        for (pairs, variable) in cases {
            let source: HashMap<&str, &str> = pairs.iter().copied().collect();
            let error = read(&source).expect_err("refused");
            assert_eq!(error.variable, variable, "{pairs:?}");
            assert!(!error.problem.contains("MfKQ9r8G"), "the secret is never printed");
        }
        let short = HashMap::from([("SWITCHBOARD_IDENTITY_SECRET", "short")]);
        assert_eq!(read_identity(&short).expect_err("short").variable, "SWITCHBOARD_IDENTITY_SECRET");
    }
}
