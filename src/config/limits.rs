//! Limits on what strangers on the public surface (web chat, console sign-in, webhooks) may
//! cost the server: connections, event streams, sign-in attempts, new visitors and photo uploads.
//! Every limit has a default sized for one small store on one machine; each can be raised.

use super::{ConfigError, Source, number_in};
use ipnet::IpNet;
use std::time::Duration;

/// The limits `serve` applies, as plain data (`web::limits` and the routes enforce them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicLimits {
    /// Reverse proxies whose `X-Forwarded-For` is believed (`SWITCHBOARD_TRUSTED_PROXIES`).
    /// Empty: the client address is always the connection's peer.
    pub trusted_proxies: Vec<IpNet>,
    /// Open HTTP connections at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// How long a client has to send a request's headers (slowloris protection; hyper starts
    /// the clock when the connection is accepted and again when it waits for the next
    /// request, so an idle keep-alive connection is closed after it too).
    pub header_read_timeout: Duration,
    /// How long one request may take to be answered (event streams excepted: their answer
    /// starts at once and then runs).
    pub request_timeout: Duration,
    /// Open event streams (web chat and console live pages) in total, and per web chat visitor.
    pub max_event_streams: usize,
    pub event_streams_per_visitor: usize,
    /// New web chat visitors (`/chat/start` without a cookie) per client address per hour.
    pub visitors_per_address_per_hour: u32,
    /// Photo uploads per hour, per visitor and per client address: how many, and how many
    /// megabytes.
    pub photos_per_hour: u32,
    pub photo_megabytes_per_hour: u32,
    /// Photos decoded at once (decoding takes a core).
    pub concurrent_photo_checks: usize,
    /// Below this much free space on the media folder's disk, uploads are refused (507) so the
    /// database beside it keeps room to write.
    pub media_min_free_megabytes: u64,
    /// Console sign-in attempts per minute, per agent name and per client address.
    pub login_attempts_per_name: u32,
    pub login_attempts_per_address: u32,
}

impl Default for PublicLimits {
    fn default() -> Self {
        PublicLimits {
            trusted_proxies: Vec::new(),
            max_connections: 4096,
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_event_streams: 2000,
            event_streams_per_visitor: 4,
            visitors_per_address_per_hour: 120,
            photos_per_hour: 30,
            photo_megabytes_per_hour: 100,
            concurrent_photo_checks: 2,
            media_min_free_megabytes: 256,
            login_attempts_per_name: 5,
            login_attempts_per_address: 30,
        }
    }
}

pub(super) fn read(source: &dyn Source) -> Result<PublicLimits, ConfigError> {
    let default = PublicLimits::default();
    let trusted_proxies = match source.get("SWITCHBOARD_TRUSTED_PROXIES") {
        None => Vec::new(),
        Some(list) => parse_networks("SWITCHBOARD_TRUSTED_PROXIES", &list)?,
    };
    let seconds = |variable, range, fallback: Duration| -> Result<Duration, ConfigError> {
        Ok(number_in(source, variable, range, "seconds")?.map_or(fallback, Duration::from_secs))
    };
    Ok(PublicLimits {
        trusted_proxies,
        max_connections: number_in(source, "SWITCHBOARD_MAX_CONNECTIONS", 16..=1_000_000, "connections")?
            .unwrap_or(default.max_connections),
        header_read_timeout: seconds(
            "SWITCHBOARD_HEADER_TIMEOUT_SECS",
            1..=300,
            default.header_read_timeout,
        )?,
        request_timeout: seconds("SWITCHBOARD_REQUEST_TIMEOUT_SECS", 5..=3600, default.request_timeout)?,
        max_event_streams: number_in(source, "SWITCHBOARD_MAX_EVENT_STREAMS", 1..=1_000_000, "streams")?
            .unwrap_or(default.max_event_streams),
        event_streams_per_visitor: default.event_streams_per_visitor,
        visitors_per_address_per_hour: number_in(
            source,
            "SWITCHBOARD_WEBCHAT_VISITORS_PER_HOUR",
            1..=1_000_000,
            "new visitors per address per hour",
        )?
        .unwrap_or(default.visitors_per_address_per_hour),
        photos_per_hour: number_in(source, "SWITCHBOARD_WEBCHAT_PHOTOS_PER_HOUR", 1..=100_000, "photos")?
            .unwrap_or(default.photos_per_hour),
        photo_megabytes_per_hour: number_in(
            source,
            "SWITCHBOARD_WEBCHAT_PHOTO_MB_PER_HOUR",
            1..=100_000,
            "megabytes",
        )?
        .unwrap_or(default.photo_megabytes_per_hour),
        concurrent_photo_checks: default.concurrent_photo_checks,
        media_min_free_megabytes: number_in(
            source,
            "SWITCHBOARD_MEDIA_MIN_FREE_MB",
            0..=10_000_000,
            "megabytes",
        )?
        .unwrap_or(default.media_min_free_megabytes),
        login_attempts_per_name: default.login_attempts_per_name,
        login_attempts_per_address: default.login_attempts_per_address,
    })
}

/// `10.0.0.1, 192.168.0.0/16, ::1`: addresses or networks, comma- or space-separated.
pub(super) fn parse_networks(variable: &'static str, list: &str) -> Result<Vec<IpNet>, ConfigError> {
    list.split([',', ' '])
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>().or_else(|_| item.parse::<std::net::IpAddr>().map(IpNet::from)).map_err(
                |_| {
                    ConfigError::new(
                        variable,
                        format!(
                            "expected addresses or networks such as 10.0.0.1 or 10.0.0.0/8, got {item:?}"
                        ),
                    )
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_and_overrides() {
        let none: HashMap<&str, &str> = HashMap::new();
        assert_eq!(read(&none).unwrap(), PublicLimits::default());
        let set: HashMap<&str, &str> = HashMap::from([
            ("SWITCHBOARD_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1"),
            ("SWITCHBOARD_MEDIA_MIN_FREE_MB", "0"),
            ("SWITCHBOARD_WEBCHAT_PHOTOS_PER_HOUR", "3"),
        ]);
        let limits = read(&set).unwrap();
        let proxies: Vec<String> = limits.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(proxies, ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]);
        assert_eq!((limits.media_min_free_megabytes, limits.photos_per_hour), (0, 3));
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let bad: HashMap<&str, &str> = HashMap::from([("SWITCHBOARD_TRUSTED_PROXIES", "10.0.0.0/8, proxy")]);
        assert_eq!(read(&bad).unwrap_err().variable, "SWITCHBOARD_TRUSTED_PROXIES");
        let bad: HashMap<&str, &str> = HashMap::from([("SWITCHBOARD_MAX_CONNECTIONS", "2")]);
        assert_eq!(read(&bad).unwrap_err().variable, "SWITCHBOARD_MAX_CONNECTIONS");
    }
}
