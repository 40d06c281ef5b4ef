//! Who sent a request: the one client address every per-address rule uses (sign-in and
//! enrollment limits, the `/metrics` loopback check, the request's log span).
//!
//! Behind a reverse proxy the TCP peer is the proxy, so every client would share one limit.
//! With `trusted_proxies` set, a request whose peer is one of them is taken from the
//! right-most `X-Forwarded-For` address that is not itself a trusted proxy: each proxy
//! appends the address it received the request from, so everything right of that address
//! was written by proxies we trust, and everything left of it by the client (who may write
//! anything). A peer outside `trusted_proxies` is the client, whatever headers it sends.
//!
//! Written here rather than taken from a crate: the crates for axum read one fixed header
//! position (right-most, left-most) without a list of trusted ranges, which is wrong as soon
//! as there are two proxies in a row (a load balancer in front of nginx). CIDR ranges are
//! `ipnet`'s.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use serde::{Deserialize, Deserializer};

use crate::api::{AppState, ConnAddrs, LocalAddr};
use crate::error::ServerError;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

/// The request's client address (see the module docs); put on every request by [`resolve`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ServerError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ClientIp>().copied().ok_or_else(|| {
            // Only a server not built by `api::router` + `serve` gets here.
            ServerError::Io(std::io::Error::other(
                "no client address: the router was served without its connection info",
            ))
        })
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`trusted_proxies`): CIDR ranges, or
/// single addresses. Empty (the default): none, the TCP peer is always the client.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Each of `items` a CIDR range (`10.0.0.0/8`, `fd00::/8`) or one address (`127.0.0.1`).
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        items
            .into_iter()
            .map(|s| {
                let s = s.trim();
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                    .map(|n| n.trunc())
                    .map_err(|_| {
                        format!("{s:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(ToString::to_string))
            .finish()
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<String>::deserialize(d)?;
        TrustedProxies::parse(items.iter().map(String::as_str)).map_err(serde::de::Error::custom)
    }
}

// Only the deploy example's test serializes a Config.
#[cfg(test)]
impl serde::Serialize for TrustedProxies {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

/// `X-Forwarded-For` from a trusted proxy that cannot be read where it matters.
#[derive(Debug, PartialEq, Eq)]
pub struct Malformed(pub String);

/// The client of a request from `peer` carrying the `X-Forwarded-For` header lines `xff`
/// (in order; several lines are one comma-separated list).
///
/// `Ok(peer)` when the peer is not trusted or no header came; otherwise the right-most
/// address not in `trusted` (all of them trusted: the left-most, the request began inside).
/// Entries left of the chosen address are never parsed: they are the client's to write, and
/// garbage there must not move the client into the proxy's bucket. An entry that must be read
/// and is not an address (`ip` or `ip:port`) is [`Malformed`]; the caller then uses the peer.
pub fn client_of<'a>(
    peer: IpAddr,
    xff: impl DoubleEndedIterator<Item = &'a HeaderValue>,
    trusted: &TrustedProxies,
) -> Result<IpAddr, Malformed> {
    let peer = peer.to_canonical();
    if !trusted.contains(peer) {
        return Ok(peer);
    }
    let mut last = None;
    for line in xff.rev() {
        let text = line
            .to_str()
            .map_err(|_| Malformed("not visible ASCII".to_owned()))?;
        for entry in text.rsplit(',') {
            let ip = parse_entry(entry)?;
            if !trusted.contains(ip) {
                return Ok(ip);
            }
            last = Some(ip);
        }
    }
    Ok(last.unwrap_or(peer))
}

fn parse_entry(entry: &str) -> Result<IpAddr, Malformed> {
    let e = entry.trim();
    e.parse::<IpAddr>()
        .or_else(|_| e.parse::<SocketAddr>().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
        .map_err(|_| {
            Malformed(format!(
                "{:?} is not an address",
                e.chars().take(64).collect::<String>()
            ))
        })
}

/// [`client_of`] for a request's headers, logging (and falling back to the peer on) a
/// malformed header.
pub fn client_from_headers(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> IpAddr {
    match client_of(peer, headers.get_all(X_FORWARDED_FOR).iter(), trusted) {
        Ok(ip) => ip,
        Err(Malformed(why)) => {
            tracing::warn!(
                %peer,
                why,
                "X-Forwarded-For from a trusted proxy is malformed; counting the request \
                 against the proxy's own address"
            );
            peer.to_canonical()
        }
    }
}

/// Middleware (inside the trace layer, so its warning and the `client` it records belong to
/// the request's span): puts [`ClientIp`] and the server's own [`LocalAddr`] on the request.
/// Without connection info (a router not served by `serve`) it adds neither, and handlers
/// that need the client answer 500.
pub async fn resolve(State(state): State<Arc<AppState>>, mut req: Request, next: Next) -> Response {
    if let Some(ConnectInfo(c)) = req.extensions().get::<ConnectInfo<ConnAddrs>>().copied() {
        let client =
            client_from_headers(c.remote.ip(), req.headers(), &state.config.trusted_proxies);
        tracing::Span::current().record("client", tracing::field::display(client));
        req.extensions_mut().insert(ClientIp(client));
        if let Some(local) = c.local {
            req.extensions_mut().insert(LocalAddr(local));
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(items: &[&str]) -> TrustedProxies {
        TrustedProxies::parse(items.iter().copied()).unwrap()
    }

    fn client(peer: &str, lines: &[&str], t: &TrustedProxies) -> Result<IpAddr, Malformed> {
        let values: Vec<HeaderValue> = lines
            .iter()
            .map(|l| HeaderValue::from_str(l).unwrap())
            .collect();
        client_of(peer.parse().unwrap(), values.iter(), t)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let none = TrustedProxies::default();
        assert_eq!(
            client("203.0.113.9", &["10.1.1.1"], &none),
            Ok(ip("203.0.113.9"))
        );
        let t = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            client("127.0.0.1", &["10.1.1.1, 198.51.100.1"], &t),
            Ok(ip("127.0.0.1"))
        );
        // Not even garbage in the header matters.
        assert_eq!(
            client("203.0.113.9", &["nonsense"], &t),
            Ok(ip("203.0.113.9"))
        );
    }

    #[test]
    fn a_trusted_peer_forwards_the_right_most_untrusted_address() {
        let t = trusted(&["127.0.0.1", "10.0.0.0/8"]);
        assert_eq!(
            client("127.0.0.1", &["198.51.100.7"], &t),
            Ok(ip("198.51.100.7"))
        );
        // The client prepends whatever it likes; the proxies' part decides.
        assert_eq!(
            client(
                "127.0.0.1",
                &["127.0.0.1, 1.2.3.4, 198.51.100.7, 10.9.8.7"],
                &t
            ),
            Ok(ip("198.51.100.7"))
        );
        // Garbage the client wrote left of its own address is never read.
        assert_eq!(
            client("127.0.0.1", &["garbage, ::zz, 198.51.100.7"], &t),
            Ok(ip("198.51.100.7"))
        );
        // Several header lines are one list, in order.
        assert_eq!(
            client("127.0.0.1", &["198.51.100.7", "10.0.0.2, 10.0.0.3"], &t),
            Ok(ip("198.51.100.7"))
        );
        // Ports and IPv6, also mapped IPv4 peers.
        assert_eq!(
            client("::ffff:127.0.0.1", &["198.51.100.7:4711"], &t),
            Ok(ip("198.51.100.7"))
        );
        assert_eq!(
            client("127.0.0.1", &["[2001:db8::1]:443"], &t),
            Ok(ip("2001:db8::1"))
        );
        assert_eq!(
            client("127.0.0.1", &["2001:db8::1"], &t),
            Ok(ip("2001:db8::1"))
        );
        // No header: the peer; every address trusted: the left-most, where it began.
        assert_eq!(client("10.0.0.1", &[], &t), Ok(ip("10.0.0.1")));
        assert_eq!(
            client("127.0.0.1", &["10.0.0.5, 10.0.0.6"], &t),
            Ok(ip("10.0.0.5"))
        );
    }

    #[test]
    fn a_malformed_header_where_it_is_read_is_refused() {
        let t = trusted(&["127.0.0.1/32", "10.0.0.0/8"]);
        for bad in [
            "unknown",
            "",
            "198.51.100.7, ",
            "198.51.100.7,,10.0.0.1",
            "1.2.3.4/8",
        ] {
            assert!(client("127.0.0.1", &[bad], &t).is_err(), "{bad:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(X_FORWARDED_FOR, HeaderValue::from_static("unknown"));
        assert_eq!(
            client_from_headers(ip("127.0.0.1"), &headers, &t),
            ip("127.0.0.1")
        );
        headers.insert(
            X_FORWARDED_FOR,
            HeaderValue::from_bytes(b"\xff1.2.3.4").unwrap(),
        );
        assert_eq!(
            client_from_headers(ip("127.0.0.1"), &headers, &t),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn trusted_proxies_parse_ranges_and_addresses() {
        let t = trusted(&["127.0.0.1", "10.1.2.3/8", "fd00::/8"]);
        assert!(t.contains(ip("127.0.0.1")) && !t.contains(ip("127.0.0.2")));
        assert!(t.contains(ip("10.200.0.1")) && t.contains(ip("::ffff:10.0.0.1")));
        assert!(t.contains(ip("fd12::1")) && !t.contains(ip("fe80::1")));
        assert_eq!(
            format!("{t:?}"),
            r#"["127.0.0.1/32", "10.0.0.0/8", "fd00::/8"]"#
        );
        let e = TrustedProxies::parse(["10.0.0.0/33"]).unwrap_err();
        assert!(e.contains("10.0.0.0/33"), "{e}");
        assert!(TrustedProxies::parse(["localhost"]).is_err());
    }
}
