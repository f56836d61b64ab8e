//! Comparing secrets a request carries (webhook secrets, CSRF tokens) with the expected ones.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Whether `given` is `expected`, in constant time: the digests are compared, so neither the
/// content nor the length of the secret shows in the response time.
pub fn tokens_match(expected: &str, given: &str) -> bool {
    let expected: [u8; 32] = Sha256::digest(expected.as_bytes()).into();
    let given: [u8; 32] = Sha256::digest(given.as_bytes()).into();
    bool::from(expected.ct_eq(&given))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_same_secret_matches() {
        assert!(tokens_match("s3cret", "s3cret"));
        assert!(!tokens_match("s3cret", "s3creT"));
        assert!(!tokens_match("s3cret", "s3cret-and-more"));
        assert!(!tokens_match("s3cret", ""));
    }
}
