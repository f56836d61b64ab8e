//! The anonymous visitor's identity: a random id in an HttpOnly cookie, signed with
//! HMAC-SHA256 so a visitor cannot step into someone else's conversation by editing it.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const VISITOR_COOKIE: &str = "sb_visitor";

/// The key that signs visitor cookies. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct CookieKey(Vec<u8>);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(***)")
    }
}

impl CookieKey {
    /// From configured or stored secret text; at least 32 bytes of it are expected.
    pub fn new(secret: &str) -> CookieKey {
        CookieKey(secret.as_bytes().to_vec())
    }

    /// A fresh random secret (64 hex digits) for the database to keep.
    pub fn generate_secret() -> String {
        let bytes: [u8; 32] = rand::random();
        hex::encode(bytes)
    }

    fn mac(&self, visitor: &str) -> Hmac<Sha256> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(visitor.as_bytes());
        mac
    }

    /// `visitor.signature`, the cookie value.
    pub fn sign(&self, visitor: &str) -> String {
        format!("{visitor}.{}", hex::encode(self.mac(visitor).finalize().into_bytes()))
    }

    /// The visitor id if the value carries a valid signature (checked in constant time).
    pub fn verify(&self, value: &str) -> Option<String> {
        let (visitor, signature) = value.rsplit_once('.')?;
        if !valid_visitor_id(visitor) {
            return None;
        }
        let signature = hex::decode(signature).ok()?;
        self.mac(visitor).verify_slice(&signature).ok()?;
        Some(visitor.to_owned())
    }
}

/// Visitor ids are what [`new_visitor_id`] makes: 32 lowercase hex digits.
fn valid_visitor_id(visitor: &str) -> bool {
    visitor.len() == 32 && visitor.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub fn new_visitor_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_untampered_cookies_name_a_visitor() {
        let key = CookieKey::new("0123456789abcdef0123456789abcdef");
        let visitor = new_visitor_id();
        let cookie = key.sign(&visitor);
        assert_eq!(key.verify(&cookie), Some(visitor.clone()));

        let other = new_visitor_id();
        let forged = format!("{other}.{}", cookie.rsplit_once('.').unwrap().1);
        assert_eq!(key.verify(&forged), None);
        assert_eq!(CookieKey::new("another key, just as long as that").verify(&cookie), None);
        for junk in ["", ".", "abc", "../../etc.passwd", &format!("{visitor}.zz"), &visitor] {
            assert_eq!(key.verify(junk), None, "{junk:?}");
        }
    }
}
