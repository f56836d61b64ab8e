//! Standard Webhooks signatures (https://www.standardwebhooks.com/): the store contract signs
//! requests and answers with them, so a store can verify ours with any of the specification's
//! libraries and we verify theirs the same way.
//!
//! The signed content is `{webhook-id}.{webhook-timestamp}.{body}`; the signature is
//! `v1,` and the base64 of its HMAC-SHA256 under the key (the bytes behind `whsec_`). A
//! `webhook-signature` header may carry several space-separated signatures (key rotation);
//! one match is enough. Timestamps more than five minutes away from now are refused, so a
//! captured message cannot be replayed later. The `standardwebhooks` crate does the same in
//! ~250 lines, but has had one release (2024) and would add `time` and a second `base64`;
//! this module is tested with the specification's published vector instead.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";
/// How far a message's timestamp may be from now, either way.
pub const TOLERANCE_SECS: i64 = 5 * 60;

/// A signing key. `Debug` does not show it.
#[derive(Clone)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SigningKey(…)")
    }
}

impl SigningKey {
    pub fn from_bytes(key: Vec<u8>) -> SigningKey {
        SigningKey(key)
    }

    /// From `whsec_<base64>` (or the bare base64), as the specification's libraries accept.
    pub fn from_secret(secret: &str) -> Option<SigningKey> {
        let encoded = secret.trim();
        let encoded = encoded.strip_prefix("whsec_").unwrap_or(encoded);
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .filter(|key| !key.is_empty())
            .map(SigningKey)
    }

    fn mac(&self, id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("any key length"));
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    /// The `webhook-signature` value for this message: `v1,<base64>`.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let digest = self.mac(id, timestamp, body).finalize().into_bytes();
        format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(digest))
    }

    /// Checks a message's three headers against its body at `now` (seconds since the epoch).
    /// Signatures are compared in constant time (`Mac::verify_slice`).
    pub fn verify(
        &self,
        id: &str,
        timestamp: &str,
        signatures: &str,
        body: &[u8],
        now: i64,
    ) -> Result<(), SignatureError> {
        if id.is_empty() {
            return Err(SignatureError::Missing(HEADER_ID));
        }
        let timestamp: i64 =
            timestamp.trim().parse().map_err(|_| SignatureError::Missing(HEADER_TIMESTAMP))?;
        if (now - timestamp).abs() > TOLERANCE_SECS {
            return Err(SignatureError::Stale);
        }
        let matches = signatures.split_whitespace().any(|candidate| {
            let Some(("v1", encoded)) = candidate.split_once(',') else { return false };
            let Ok(given) = base64::engine::general_purpose::STANDARD.decode(encoded) else { return false };
            self.mac(id, timestamp, body).verify_slice(&given).is_ok()
        });
        if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the {0} header is missing or unreadable")]
    Missing(&'static str),
    #[error("the timestamp is more than five minutes away from now")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

#[cfg(test)]
mod tests {
    use super::*;

    // The test vector published with the specification and used by its reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TIMESTAMP: i64 = 1_614_265_330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn key() -> SigningKey {
        SigningKey::from_secret(SECRET).expect("the vector's secret")
    }

    #[test]
    fn signing_reproduces_the_published_vector() {
        assert_eq!(key().sign(ID, TIMESTAMP, BODY), SIGNATURE);
        assert_eq!(SigningKey::from_secret(&SECRET[6..]).unwrap().sign(ID, TIMESTAMP, BODY), SIGNATURE);
    }

    #[test]
    fn the_published_vector_verifies_within_five_minutes_only() {
        let key = key();
        let timestamp = TIMESTAMP.to_string();
        assert_eq!(key.verify(ID, &timestamp, SIGNATURE, BODY, TIMESTAMP + 299), Ok(()));
        assert_eq!(key.verify(ID, &timestamp, SIGNATURE, BODY, TIMESTAMP - 299), Ok(()));
        assert_eq!(key.verify(ID, &timestamp, SIGNATURE, BODY, TIMESTAMP + 301), Err(SignatureError::Stale));
        assert_eq!(key.verify(ID, &timestamp, SIGNATURE, BODY, TIMESTAMP - 301), Err(SignatureError::Stale));
    }

    #[test]
    fn one_matching_signature_among_several_is_enough_and_tampering_is_caught() {
        let key = key();
        let timestamp = TIMESTAMP.to_string();
        let rotated = format!("v1,bm9wZQ== v2,xyz {SIGNATURE}");
        assert_eq!(key.verify(ID, &timestamp, &rotated, BODY, TIMESTAMP), Ok(()));
        let tampered = br#"{"test": 2432232315}"#;
        assert_eq!(key.verify(ID, &timestamp, SIGNATURE, tampered, TIMESTAMP), Err(SignatureError::Mismatch));
        assert_eq!(
            key.verify("msg_other", &timestamp, SIGNATURE, BODY, TIMESTAMP),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            key.verify(ID, &timestamp, "v1,not base64!", BODY, TIMESTAMP),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            key.verify(ID, "soon", SIGNATURE, BODY, TIMESTAMP),
            Err(SignatureError::Missing(HEADER_TIMESTAMP))
        );
        assert_eq!(
            key.verify("", &timestamp, SIGNATURE, BODY, TIMESTAMP),
            Err(SignatureError::Missing(HEADER_ID))
        );
    }
}
