//! [`client_ip`]: who asked, as far as the proxy can tell, for
//! `[log] client_ip`: the peer, or the address a trusted proxy reported.

use std::net::IpAddr;

use http::HeaderMap;
use ipnet::IpNet;

/// The peer, unless it is one of `trusted`: then the rightmost address of
/// `X-Forwarded-For` that is not trusted itself (each trusted hop appended
/// the one before it; anything left of the first untrusted one is what a
/// client claimed). An entry that is no address stops the walk at the last
/// trusted hop; with every entry trusted, the leftmost.
///
/// Each entry is read on its own, from the header's bytes (one entry that is
/// not ASCII does not hide the others), and an IPv4 address written as
/// IPv6 (`::ffff:10.0.0.2`, as a dual-stack listener sees IPv4 peers) is
/// read as the IPv4 address it is.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|block| block.contains(ip));
    let peer = peer.to_canonical();
    if !is_trusted(&peer) {
        return peer;
    }
    let entries: Vec<&[u8]> = headers
        .get_all("x-forwarded-for")
        .iter()
        .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
        .collect();
    let mut client = peer;
    for entry in entries.iter().rev() {
        let ip = std::str::from_utf8(entry)
            .ok()
            .and_then(|entry| entry.trim().parse::<IpAddr>().ok())
            .map(|ip| ip.to_canonical());
        match ip {
            Some(ip) if is_trusted(&ip) => client = ip,
            Some(ip) => return ip,
            None => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(xff: &[&'static str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in xff {
            headers.append("x-forwarded-for", HeaderValue::from_static(value));
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_claims() {
        let trusted = ["10.0.0.0/8".parse().unwrap()];
        assert_eq!(
            client_ip(ip("203.0.113.9"), &headers(&["198.51.100.1"]), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn behind_trusted_hops_the_rightmost_untrusted_address() {
        let trusted = ["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        // A client's own claim (1.1.1.1), the client (203.0.113.7), then two
        // trusted ingresses.
        let chain = headers(&["1.1.1.1, 203.0.113.7", "10.0.0.2"]);
        assert_eq!(
            client_ip(ip("10.0.0.3"), &chain, &trusted),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_ip(ip("fd00::1"), &headers(&["2001:db8::5"]), &trusted),
            ip("2001:db8::5")
        );
        // No header: the trusted peer itself.
        assert_eq!(
            client_ip(ip("10.0.0.3"), &headers(&[]), &trusted),
            ip("10.0.0.3")
        );
        // Garbage stops the walk at the last trusted hop.
        assert_eq!(
            client_ip(ip("10.0.0.3"), &headers(&["not-an-ip, 10.0.0.2"]), &trusted),
            ip("10.0.0.2")
        );
        // One entry that is not ASCII hides nothing to its right.
        let mut raw = HeaderMap::new();
        raw.append(
            "x-forwarded-for",
            HeaderValue::from_bytes(b"caf\xc3\xa9, 203.0.113.7, 10.0.0.2").unwrap(),
        );
        assert_eq!(client_ip(ip("10.0.0.3"), &raw, &trusted), ip("203.0.113.7"));
        // A dual-stack listener's IPv4 peer matches IPv4 blocks.
        assert_eq!(
            client_ip(ip("::ffff:10.0.0.3"), &headers(&["203.0.113.8"]), &trusted),
            ip("203.0.113.8")
        );
        // Every entry trusted: the leftmost.
        assert_eq!(
            client_ip(ip("10.0.0.3"), &headers(&["10.9.9.9, 10.0.0.2"]), &trusted),
            ip("10.9.9.9")
        );
    }
}
