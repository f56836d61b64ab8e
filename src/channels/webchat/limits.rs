//! What one anonymous visitor, or one address, may cost the server: the web chat is open to
//! anyone with a browser, and a new visitor id is one `POST /chat/start` away, so every limit
//! that matters is kept per client address as well as per visitor.

use crate::config::limits::PublicLimits;
use crate::web::client::ClientAddress;
use crate::web::limits::{KeyedLimit, StreamSlot, StreamSlots};
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// More keys than this per limiter are not tracked at once (see `web::limits`).
const MAX_KEYS: usize = 100_000;

pub struct WebChatLimits {
    visitors_by_address: KeyedLimit<IpAddr>,
    photos_by_visitor: KeyedLimit<String>,
    photos_by_address: KeyedLimit<IpAddr>,
    photo_kib_by_visitor: KeyedLimit<String>,
    photo_kib_by_address: KeyedLimit<IpAddr>,
    /// Uploads being received at once: each holds its whole body in memory.
    uploads: Arc<Semaphore>,
    streams: StreamSlots,
}

/// Why a photo upload is refused before it is looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoRefusal {
    /// More photos this hour than allowed.
    TooMany,
    /// More megabytes this hour than allowed.
    TooMuch,
}

impl WebChatLimits {
    pub fn new(limits: &PublicLimits) -> WebChatLimits {
        let kib = limits.photo_megabytes_per_hour.saturating_mul(1024);
        WebChatLimits {
            visitors_by_address: KeyedLimit::per_hour(limits.visitors_per_address_per_hour, MAX_KEYS),
            photos_by_visitor: KeyedLimit::per_hour(limits.photos_per_hour, MAX_KEYS),
            photos_by_address: KeyedLimit::per_hour(limits.photos_per_hour, MAX_KEYS),
            photo_kib_by_visitor: KeyedLimit::per_hour(kib, MAX_KEYS),
            photo_kib_by_address: KeyedLimit::per_hour(kib, MAX_KEYS),
            uploads: Arc::new(Semaphore::new(limits.concurrent_photo_checks.saturating_mul(4).max(1))),
            streams: StreamSlots::new(limits.max_event_streams, limits.event_streams_per_visitor),
        }
    }

    /// Whether `address` may be given one more new visitor id this hour.
    pub fn new_visitor(&self, address: ClientAddress) -> bool {
        address.limit_key().is_none_or(|key| self.visitors_by_address.allow(&key))
    }

    /// Spends one photo of the visitor's and the address's hourly allowance.
    pub fn photo(&self, visitor: &str, address: ClientAddress) -> Result<(), PhotoRefusal> {
        let by_address = address.limit_key().is_none_or(|key| self.photos_by_address.allow(&key));
        if !by_address || !self.photos_by_visitor.allow(&visitor.to_owned()) {
            return Err(PhotoRefusal::TooMany);
        }
        Ok(())
    }

    /// Spends `bytes` of the visitor's and the address's hourly allowance of megabytes.
    pub fn photo_bytes(
        &self,
        visitor: &str,
        address: ClientAddress,
        bytes: usize,
    ) -> Result<(), PhotoRefusal> {
        let kib = u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX).max(1);
        let by_address = address.limit_key().is_none_or(|key| self.photo_kib_by_address.allow_n(&key, kib));
        if !by_address || !self.photo_kib_by_visitor.allow_n(&visitor.to_owned(), kib) {
            return Err(PhotoRefusal::TooMuch);
        }
        Ok(())
    }

    /// A turn to receive an upload, if one is free now.
    pub fn upload_turn(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.uploads).try_acquire_owned().ok()
    }

    /// A place for one more event stream of `visitor`, if there is one.
    pub fn open_stream(&self, visitor: &str) -> Option<StreamSlot> {
        self.streams.open(visitor)
    }
}

impl Default for WebChatLimits {
    fn default() -> Self {
        WebChatLimits::new(&PublicLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(address: &str) -> ClientAddress {
        ClientAddress(Some(address.parse().unwrap()))
    }

    #[test]
    fn photos_are_limited_per_visitor_and_per_address() {
        let limits = WebChatLimits::new(&PublicLimits { photos_per_hour: 2, ..PublicLimits::default() });
        assert_eq!(limits.photo("v1", at("192.0.2.1")), Ok(()));
        assert_eq!(limits.photo("v1", at("192.0.2.2")), Ok(()));
        assert_eq!(
            limits.photo("v1", at("192.0.2.3")),
            Err(PhotoRefusal::TooMany),
            "the visitor's two are spent"
        );
        // New visitors from the first address: its own allowance runs out too.
        assert_eq!(limits.photo("v2", at("192.0.2.1")), Ok(()));
        assert_eq!(limits.photo("v3", at("192.0.2.1")), Err(PhotoRefusal::TooMany));
    }

    #[test]
    fn megabytes_are_limited_per_hour() {
        let limits =
            WebChatLimits::new(&PublicLimits { photo_megabytes_per_hour: 1, ..PublicLimits::default() });
        assert_eq!(limits.photo_bytes("v1", at("192.0.2.1"), 700 * 1024), Ok(()));
        assert_eq!(limits.photo_bytes("v1", at("192.0.2.1"), 700 * 1024), Err(PhotoRefusal::TooMuch));
    }

    #[test]
    fn new_visitors_are_limited_per_address() {
        let limits =
            WebChatLimits::new(&PublicLimits { visitors_per_address_per_hour: 3, ..PublicLimits::default() });
        assert!((0..3).all(|_| limits.new_visitor(at("2001:db8::1"))));
        assert!(!limits.new_visitor(at("2001:db8::2")), "the same /64");
        assert!(limits.new_visitor(at("2001:db8:0:1::1")));
        assert!(limits.new_visitor(ClientAddress(None)), "no address known (route tests): no limit");
    }
}
