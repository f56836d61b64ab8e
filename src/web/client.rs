//! Who is asking: the client address a request came from, for per-address limits.
//!
//! The address is the connection's peer. Behind a reverse proxy every peer is the proxy, so
//! when the peer is one of the configured trusted proxies (`SWITCHBOARD_TRUSTED_PROXIES`), the
//! client is read from `X-Forwarded-For`: walking it from the right (the entries proxies
//! appended last), the first address that is not itself a trusted proxy. Entries further left
//! were written by the client and are never believed. Without trusted proxies the header is
//! ignored entirely, so nobody can choose their own address by setting it.

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// The configured trusted proxies; the app puts them into every request's extensions.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    pub fn new(networks: Vec<IpNet>) -> TrustedProxies {
        TrustedProxies(Arc::new(networks))
    }

    fn trusts(&self, address: IpAddr) -> bool {
        let address = canonical(address);
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client behind `peer`, given the request's headers.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let forwarded = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .collect::<Vec<_>>();
        let mut client = peer;
        for entry in forwarded.into_iter().rev() {
            let Ok(address) = entry.parse::<IpAddr>() else {
                // A malformed entry: nothing left of it can be trusted; the last good hop stands.
                break;
            };
            client = canonical(address);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

/// The client's address, when the server was started with connect info (the app's server
/// is); `None` in route tests that call the router directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl ClientAddress {
    /// The key per-address limits count under: the address itself for IPv4, its /64 network
    /// for IPv6 (one subscriber usually holds a whole /64, so per-address limits on single v6
    /// addresses would be no limit at all).
    pub fn limit_key(self) -> Option<IpAddr> {
        self.0.map(limit_key)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ClientAddress, Self::Rejection> {
        let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() else {
            return Ok(ClientAddress(None));
        };
        let proxies = parts.extensions.get::<TrustedProxies>().cloned().unwrap_or_default();
        Ok(ClientAddress(Some(proxies.client(peer.ip(), &parts.headers))))
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, as dual-stack sockets report v4 peers) are
/// the IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        v4 => v4,
    }
}

fn limit_key(address: IpAddr) -> IpAddr {
    match canonical(address) {
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_header_is_ignored_without_trusted_proxies() {
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("203.0.113.7"), &forwarded("198.51.100.1")), ip("203.0.113.7"));
    }

    #[test]
    fn behind_a_trusted_proxy_the_rightmost_untrusted_entry_is_the_client() {
        let proxies = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        // The client wrote "1.1.1.1" itself; the proxy appended the real peer.
        let headers = forwarded("1.1.1.1, 198.51.100.9");
        assert_eq!(proxies.client(ip("10.0.0.2"), &headers), ip("198.51.100.9"));
        // Two proxies in a row.
        assert_eq!(proxies.client(ip("10.0.0.2"), &forwarded("198.51.100.9, 10.0.0.3")), ip("198.51.100.9"));
        // An untrusted peer's header is not read.
        assert_eq!(proxies.client(ip("203.0.113.7"), &headers), ip("203.0.113.7"));
        // No header, or garbage: the proxy itself is all we know.
        assert_eq!(proxies.client(ip("10.0.0.2"), &HeaderMap::new()), ip("10.0.0.2"));
        assert_eq!(proxies.client(ip("10.0.0.2"), &forwarded("nonsense")), ip("10.0.0.2"));
    }

    #[test]
    fn ipv6_clients_are_limited_per_64_and_mapped_v4_is_v4() {
        let a = ClientAddress(Some(ip("2001:db8:1:2:aaaa::1")));
        let b = ClientAddress(Some(ip("2001:db8:1:2:ffff::9")));
        let other = ClientAddress(Some(ip("2001:db8:1:3::1")));
        assert_eq!(a.limit_key(), b.limit_key());
        assert_ne!(a.limit_key(), other.limit_key());
        assert_eq!(ClientAddress(Some(ip("::ffff:192.0.2.1"))).limit_key(), Some(ip("192.0.2.1")));
    }
}
