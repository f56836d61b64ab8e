//! Which conversation a letter belongs to, without asking the store.
//!
//! A conversation by email is a thread, named by a token: the contact's `external_id`. Every
//! letter we send carries the token twice, in its `Message-ID` (`sb.<token>.<mac>.<row>@domain`,
//! which the customer's program puts in `In-Reply-To` and `References`) and in its `Reply-To`
//! (`support+<token>.<mac>@domain`). The `mac` is an HMAC of the token and the customer's address
//! under the channel's key, so a reply joins the thread only when it comes from the address the
//! thread belongs to: someone who saw or guessed a token cannot read themselves into another
//! customer's conversation (their letter starts a thread of its own).
//!
//! A letter that answers none of ours starts a thread whose token is derived from its own
//! `Message-ID` under the same key, so the same letter delivered twice names the same thread.

use super::parse::ParsedLetter;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Hex characters of a thread token (80 bits).
const TOKEN_HEX: usize = 20;
/// Hex characters of the address check (64 bits).
const MAC_HEX: usize = 16;

#[derive(Clone)]
pub struct Threads {
    key: Vec<u8>,
    /// Our address's local part and domain: `support`, `shop.example`.
    local: String,
    domain: String,
}

impl Threads {
    pub fn new(key: &[u8], from_address: &str) -> Threads {
        let (local, domain) = from_address.rsplit_once('@').unwrap_or((from_address, "localhost"));
        Threads { key: key.to_vec(), local: local.to_lowercase(), domain: domain.to_lowercase() }
    }

    fn hmac_hex(&self, parts: &[&str], length: usize) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(part.as_bytes());
            mac.update(b"\0");
        }
        let mut digest = hex::encode(mac.finalize().into_bytes());
        digest.truncate(length);
        digest
    }

    /// The token of a new thread started by the letter whose id (or digest) is `root`.
    pub fn new_thread(&self, root: &str) -> String {
        self.hmac_hex(&["thread", root], TOKEN_HEX)
    }

    fn mac(&self, token: &str, address: &str) -> String {
        self.hmac_hex(&["reply", token, &address.to_lowercase()], MAC_HEX)
    }

    /// The `Message-ID` (without angle brackets) of the letter for outbox row `row`.
    pub fn message_id(&self, token: &str, address: &str, row: i64) -> String {
        format!("sb.{token}.{}.{row}@{}", self.mac(token, address), self.domain)
    }

    /// The `Reply-To` address of the thread's letters to `address`.
    pub fn reply_address(&self, token: &str, address: &str) -> String {
        format!("{}+{token}.{}@{}", self.local, self.mac(token, address), self.domain)
    }

    /// The thread a letter from `from` answers: through one of our Message-IDs among its
    /// parents, or through our reply address among its recipients. Only a mac made for `from`
    /// counts.
    pub fn thread_of(&self, letter: &ParsedLetter, from: &str) -> Option<String> {
        let from_addresses = letter.recipients.iter().filter_map(|address| {
            let (local, domain) = address.rsplit_once('@')?;
            if domain != self.domain {
                return None;
            }
            let (base, tag) = local.split_once('+')?;
            if base != self.local {
                return None;
            }
            tag.split_once('.')
        });
        self.ours(&letter.parents)
            .chain(from_addresses)
            .find_map(|(token, mac)| self.verified(token, mac, from))
    }

    /// The thread of one of our Message-IDs, when it was made for `address` (a bounce names
    /// the letter and the address it could not reach).
    pub fn thread_of_id(&self, message_id: &str, address: &str) -> Option<String> {
        let ids = [message_id.to_owned()];
        self.ours(&ids).find_map(|(token, mac)| self.verified(token, mac, address))
    }

    /// `(token, mac)` of each of our Message-IDs among `ids`.
    fn ours<'a>(&self, ids: &'a [String]) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        let domain = self.domain.clone();
        ids.iter().filter_map(move |id| {
            let (local, at) = id.rsplit_once('@')?;
            if !at.eq_ignore_ascii_case(&domain) {
                return None;
            }
            let mut pieces = local.strip_prefix("sb.")?.split('.');
            Some((pieces.next()?, pieces.next()?))
        })
    }

    fn verified(&self, token: &str, mac: &str, address: &str) -> Option<String> {
        let well_formed = token.len() == TOKEN_HEX && token.bytes().all(|b| b.is_ascii_hexdigit());
        let expected = self.mac(token, address);
        (well_formed && bool::from(expected.as_bytes().ct_eq(mac.to_ascii_lowercase().as_bytes())))
            .then(|| token.to_ascii_lowercase())
    }

    /// Whether the id is one of ours (a letter we sent, seen again in the mailbox).
    pub fn is_ours(&self, message_id: &str) -> bool {
        message_id.starts_with("sb.")
            && message_id
                .rsplit_once('@')
                .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(&self.domain))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(parents: &[&str], recipients: &[&str]) -> ParsedLetter {
        ParsedLetter {
            message_id: Some("new@example.org".into()),
            parents: parents.iter().map(|id| (*id).to_owned()).collect(),
            from_address: Some("anna@example.org".into()),
            from_name: None,
            recipients: recipients.iter().map(|id| (*id).to_owned()).collect(),
            subject: String::new(),
            content_language: None,
            automatic: None,
            bounce: None,
            text: String::new(),
            images: Vec::new(),
            other_attachments: Vec::new(),
        }
    }

    #[test]
    fn a_reply_from_the_same_address_finds_its_thread_and_no_one_else_does() {
        let threads = Threads::new(b"key", "support@shop.example");
        let token = threads.new_thread("first@example.org");
        assert_eq!(token, threads.new_thread("first@example.org"), "the same letter, the same thread");
        let ours = threads.message_id(&token, "Anna@example.org", 7);
        assert!(threads.is_ours(&ours));
        let reply = letter(&["other@x", &ours], &["support@shop.example"]);
        assert_eq!(threads.thread_of(&reply, "anna@example.org"), Some(token.clone()));
        assert_eq!(threads.thread_of(&reply, "mallory@example.org"), None);

        let by_address = letter(&[], &[&threads.reply_address(&token, "anna@example.org")]);
        assert_eq!(threads.thread_of(&by_address, "anna@example.org"), Some(token.clone()));
        assert_eq!(threads.thread_of(&by_address, "mallory@example.org"), None);

        let other_key = Threads::new(b"another key", "support@shop.example");
        assert_eq!(other_key.thread_of(&reply, "anna@example.org"), None);
        assert_eq!(threads.thread_of(&letter(&["sb.zz.yy.1@shop.example"], &[]), "anna@example.org"), None);
        assert_eq!(threads.thread_of_id(&ours, "anna@example.org"), Some(token.clone()));
        assert_eq!(threads.thread_of_id(&ours, "mallory@example.org"), None);
    }
}
