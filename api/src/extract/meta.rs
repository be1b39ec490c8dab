//! Request metadata for audit events: the request id and the client address.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpMessage as _, HttpRequest, dev::Payload, web};

use crate::error::ApiError;
use crate::middleware::RequestId;
use crate::state::AppState;

/// Where a request came from, for the audit log.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    /// The `X-Request-Id` of this request.
    pub request_id: Option<String>,
    /// The client address (from `Forwarded` or `X-Forwarded-For` only when configured to trust
    /// them, see [`client_address`]).
    pub client_ip: Option<String>,
    /// The `User-Agent`, printable characters only, at most 256 (kept, sealed, with a session).
    pub user_agent: Option<String>,
}

impl FromRequest for RequestMeta {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let peer = req.peer_addr().map(|a| a.ip());
        let hops = req
            .app_data::<web::Data<AppState>>()
            .filter(|s| s.settings.trust_forwarded_for)
            .map_or(0, |s| usize::from(s.settings.trusted_proxy_hops));
        let header =
            |name: &str| -> Vec<&str> { req.headers().get_all(name).filter_map(|v| v.to_str().ok()).collect() };
        let client_ip =
            client_address(&header("forwarded"), &header("x-forwarded-for"), peer, hops).map(|ip| ip.to_string());
        let request_id = req.extensions().get::<RequestId>().map(|r| r.0.clone());
        let user_agent = req
            .headers()
            .get(actix_web::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().filter(|c| !c.is_control()).take(256).collect::<String>())
            .filter(|ua| !ua.trim().is_empty());
        ready(Ok(Self { request_id, client_ip, user_agent }))
    }
}

/// The client's address under the trusted-proxy model.
///
/// With `hops` = 0 (the default: `VCAO_TRUST_FORWARDED_FOR` off) the peer address of the
/// connection, whatever the headers say. Behind `hops` proxies that each append the address they
/// saw, the entry `hops` from the right of the forwarding list is the one the outermost trusted
/// proxy recorded; everything left of it is what the client claimed, and must not choose its
/// throttle bucket or its audit trail. `Forwarded` (RFC 7239, its `for=` parameters) is read when
/// present, else `X-Forwarded-For`; several header lines make one list. An entry that is not an
/// IP address (`unknown`, an obfuscated `_name`, junk) or a list shorter than `hops` gives the
/// peer address: never text a client wrote.
#[must_use]
pub fn client_address(
    forwarded: &[&str],
    x_forwarded_for: &[&str],
    peer: Option<std::net::IpAddr>,
    hops: usize,
) -> Option<std::net::IpAddr> {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<String> = if forwarded.is_empty() {
        x_forwarded_for.iter().flat_map(|line| line.split(',')).map(|e| e.trim().to_owned()).collect()
    } else {
        forwarded.iter().flat_map(|line| line.split(',')).map(forwarded_for).collect()
    };
    let chosen = entries.len().checked_sub(hops).and_then(|i| entries.get(i));
    chosen.and_then(|entry| parse_ip(entry)).or(peer)
}

/// The `for=` value of one `Forwarded` element (`for=192.0.2.60;proto=http`), unquoted; empty
/// when it has none.
fn forwarded_for(element: &str) -> String {
    element
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
        .map(|(_, value)| value.trim().trim_matches('"').to_owned())
        .unwrap_or_default()
}

/// An address with or without a port: `192.0.2.60`, `192.0.2.60:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`.
fn parse_ip(entry: &str) -> Option<std::net::IpAddr> {
    if let Ok(ip) = entry.parse::<std::net::IpAddr>() {
        return Some(ip);
    }
    if let Ok(sock) = entry.parse::<std::net::SocketAddr>() {
        return Some(sock.ip());
    }
    entry.strip_prefix('[').and_then(|rest| rest.strip_suffix(']')).and_then(|ip| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use super::client_address;

    fn ip(text: &str) -> Option<IpAddr> {
        text.parse().ok()
    }

    #[test]
    fn without_trust_the_peer_is_the_client_whatever_the_headers_say() {
        let peer = ip("10.0.0.9");
        assert_eq!(client_address(&["for=6.6.6.6"], &["6.6.6.6"], peer, 0), peer);
    }

    #[test]
    fn behind_one_proxy_the_entry_it_appended_counts_not_what_the_client_claimed() {
        let peer = ip("10.0.0.9");
        assert_eq!(client_address(&[], &["6.6.6.6, 203.0.113.7"], peer, 1), ip("203.0.113.7"));
        assert_eq!(client_address(&[], &["6.6.6.6", "203.0.113.7:5555"], peer, 1), ip("203.0.113.7"));
        assert_eq!(client_address(&[], &["6.6.6.6, 203.0.113.7, 10.0.0.2"], peer, 2), ip("203.0.113.7"));
        let forwarded = ["for=6.6.6.6, for=\"[2001:db8:cafe::17]:4711\";proto=https"];
        assert_eq!(client_address(&forwarded, &["9.9.9.9"], peer, 1), ip("2001:db8:cafe::17"));
        assert_eq!(client_address(&["For=198.51.100.3;by=10.0.0.1"], &[], peer, 1), ip("198.51.100.3"));
    }

    #[test]
    fn anything_but_an_address_gives_the_peer() {
        let peer = ip("10.0.0.9");
        for (forwarded, xff) in [
            (vec![], vec!["not-an-ip"]),
            (vec!["for=unknown"], vec![]),
            (vec!["for=_hidden"], vec![]),
            (vec!["proto=https"], vec![]),
            (vec![], vec![]),
            (vec![], vec!["<script>"]),
        ] {
            assert_eq!(client_address(&forwarded, &xff, peer, 1), peer, "{forwarded:?} {xff:?}");
        }
        // Fewer entries than trusted hops: the list did not come through all the proxies.
        assert_eq!(client_address(&[], &["203.0.113.7"], peer, 2), peer);
    }
}
