//! Signed-in customers: how the store tells Switchboard who a customer is.
//!
//! Both ways use `SWITCHBOARD_IDENTITY_SECRET`, which only the store and Switchboard know:
//!
//! - **The web chat widget** carries a *signed identity* in its `data-` attributes: the
//!   store's customer id, their email, a Unix timestamp and
//!   `hex(HMAC-SHA256(secret, "webchat\n{ts}\n{customer_id}\n{email}"))`. It is accepted for
//!   [`WEBCHAT_MAX_AGE_SECS`] after `ts`, so a page rendered today stops working tomorrow.
//! - **Messenger contacts** link with a one-time token the store asks for with
//!   `POST /api/link-tokens`, whose body is the same kind of signed identity with the purpose
//!   `link-token` (accepted for five minutes either way), and shows as a deep link
//!   (`t.me/<bot>?start=<token>`). Tokens are 192 random bits, stored only as their SHA-256,
//!   expire after [`LINK_TOKEN_TTL_SECS`] and work once.
//!
//! The purposes differ so that an identity copied out of a web page cannot be used to mint a
//! link token for someone else's messenger account.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a web chat identity is accepted after its timestamp.
pub const WEBCHAT_MAX_AGE_SECS: i64 = 24 * 60 * 60;
/// How far in the future a timestamp may be (clocks differ), and how old a link-token request
/// may be.
pub const CLOCK_SKEW_SECS: i64 = 5 * 60;
/// A link token's life.
pub const LINK_TOKEN_TTL_SECS: i64 = 15 * 60;
/// The longest customer id and email accepted.
pub const MAX_CUSTOMER_ID_CHARS: usize = 128;
pub const MAX_EMAIL_CHARS: usize = 254;

/// What a signature is for; part of the signed text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Webchat,
    LinkToken,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Webchat => "webchat",
            Purpose::LinkToken => "link-token",
        }
    }

    /// How old a signature of this purpose may be.
    fn max_age_secs(self) -> i64 {
        match self {
            Purpose::Webchat => WEBCHAT_MAX_AGE_SECS,
            Purpose::LinkToken => CLOCK_SKEW_SECS,
        }
    }
}

/// A customer as the store signed them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedIdentity {
    pub customer_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Unix seconds when the store signed it.
    pub ts: i64,
    /// Hex HMAC-SHA256; see the module documentation.
    pub sig: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("the customer id or email is empty, too long or contains control characters")]
    Malformed,
    #[error("the signature is too old or from the future")]
    Expired,
    #[error("the signature does not match")]
    Mismatch,
}

/// The signature the store computes; public so tests and the documentation's example agree.
pub fn sign(secret: &str, purpose: Purpose, ts: i64, customer_id: &str, email: Option<&str>) -> String {
    hex::encode(mac(secret, purpose, ts, customer_id, email).finalize().into_bytes())
}

fn mac(secret: &str, purpose: Purpose, ts: i64, customer_id: &str, email: Option<&str>) -> Hmac<Sha256> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!("any key length"));
    mac.update(format!("{}\n{ts}\n{customer_id}\n{}", purpose.label(), email.unwrap_or("")).as_bytes());
    mac
}

impl SignedIdentity {
    /// Checks the signature (in constant time) and its age at `now` (Unix seconds).
    pub fn verify(&self, secret: &str, purpose: Purpose, now: i64) -> Result<(), IdentityError> {
        let plain = |text: &str, max: usize| {
            !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control)
        };
        if !plain(&self.customer_id, MAX_CUSTOMER_ID_CHARS)
            || self.email.as_deref().is_some_and(|email| !plain(email, MAX_EMAIL_CHARS))
        {
            return Err(IdentityError::Malformed);
        }
        if self.ts > now + CLOCK_SKEW_SECS || now - self.ts > purpose.max_age_secs() {
            return Err(IdentityError::Expired);
        }
        let given = hex::decode(self.sig.trim()).map_err(|_| IdentityError::Mismatch)?;
        mac(secret, purpose, self.ts, &self.customer_id, self.email.as_deref())
            .verify_slice(&given)
            .map_err(|_| IdentityError::Mismatch)
    }
}

/// A new link token: 24 random bytes, base64url without padding (32 characters, within
/// Telegram's 64 for a `start` parameter and its alphabet).
pub fn new_link_token() -> String {
    let mut bytes = [0_u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored of a token: its SHA-256, hex.
pub fn link_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether a `/start` payload has the shape of a link token (anything else is not looked up).
pub fn looks_like_link_token(payload: &str) -> bool {
    payload.len() == 32 && payload.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The token in a `/start <token>` message (a Telegram deep link, or another channel's start
/// payload passed on the same way), if it has a token's shape.
pub fn link_token_in_start(text: &str) -> Option<&str> {
    let rest = text.trim().strip_prefix("/start")?;
    let rest = rest.strip_prefix(char::is_whitespace)?.trim();
    looks_like_link_token(rest).then_some(rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "a-store-secret-of-at-least-32-characters";

    fn identity(ts: i64) -> SignedIdentity {
        SignedIdentity {
            customer_id: "cust-42".into(),
            email: Some("ann@example.com".into()),
            ts,
            sig: sign(SECRET, Purpose::Webchat, ts, "cust-42", Some("ann@example.com")),
        }
    }

    #[test]
    fn a_fresh_identity_verifies_and_a_changed_one_does_not() {
        let now = 1_800_000_000;
        assert_eq!(identity(now - 60).verify(SECRET, Purpose::Webchat, now), Ok(()));
        let mut other = identity(now);
        other.customer_id = "cust-43".into();
        assert_eq!(other.verify(SECRET, Purpose::Webchat, now), Err(IdentityError::Mismatch));
        assert_eq!(
            identity(now).verify("another-secret-of-at-least-32-chars!", Purpose::Webchat, now),
            Err(IdentityError::Mismatch)
        );
        // A web page's identity is no link-token request.
        assert_eq!(identity(now).verify(SECRET, Purpose::LinkToken, now), Err(IdentityError::Mismatch));
    }

    #[test]
    fn identities_expire() {
        let now = 1_800_000_000;
        assert_eq!(
            identity(now - WEBCHAT_MAX_AGE_SECS - 1).verify(SECRET, Purpose::Webchat, now),
            Err(IdentityError::Expired)
        );
        assert_eq!(
            identity(now + CLOCK_SKEW_SECS + 1).verify(SECRET, Purpose::Webchat, now),
            Err(IdentityError::Expired)
        );
        let mut request = identity(now - CLOCK_SKEW_SECS - 1);
        request.sig = sign(SECRET, Purpose::LinkToken, request.ts, "cust-42", Some("ann@example.com"));
        assert_eq!(request.verify(SECRET, Purpose::LinkToken, now), Err(IdentityError::Expired));
    }

    #[test]
    fn tokens_have_one_shape_and_are_found_in_start_messages() {
        let token = new_link_token();
        assert!(looks_like_link_token(&token), "{token}");
        assert_ne!(token, new_link_token());
        assert_eq!(link_token_in_start(&format!("/start {token}")), Some(token.as_str()));
        assert_eq!(link_token_in_start("/start"), None);
        assert_eq!(link_token_in_start("/start hello"), None);
        assert_eq!(link_token_in_start(&format!("/starting {token}")), None);
        assert_eq!(link_token_hash("x").len(), 64);
    }
}
