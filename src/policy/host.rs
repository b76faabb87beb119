//! The request's host, read once and checked: the one parser behind cleanup's `Domain=`
//! attributes, the upstream's `Host`/`:authority` and the logs.
//!
//! A host that reaches a `Set-Cookie` line the proxy writes must be a host name or an IP
//! literal and nothing else: `www.example.com;Domain=evil.com` would inject attributes, and
//! `a..example.com` would walk to a domain the visitor never asked for.

use std::borrow::Cow;
use std::net::{Ipv4Addr, Ipv6Addr};

/// Longest host name (RFC 1035 §2.3.4, without the trailing dot).
pub const MAX_HOST_LEN: usize = 253;
const MAX_LABEL_LEN: usize = 63;

/// A checked authority (`host[:port]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host<'a> {
    /// Lower case, without port, IPv6 brackets or a trailing dot.
    pub name: Cow<'a, str>,
    /// An IPv4 or IPv6 literal.
    pub is_ip: bool,
}

/// Parses a `Host` header or URI authority: a host name of letters, digits, `-` and `_` in
/// non-empty labels of at most 63 bytes (253 in all, an optional trailing dot), an IPv4
/// address, or a bracketed IPv6 address, each with an optional decimal port. `None` for
/// anything else (user info, empty labels, `;`, spaces, an empty host).
pub fn parse(authority: &[u8]) -> Option<Host<'_>> {
    let (host, port) = split_port(authority)?;
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    if let Some(inner) = host.strip_prefix(b"[") {
        let inner = inner.strip_suffix(b"]")?;
        let text = std::str::from_utf8(inner).ok()?;
        text.parse::<Ipv6Addr>().ok()?;
        return Some(Host {
            name: lower(text),
            is_ip: true,
        });
    }
    let host = host.strip_suffix(b".").unwrap_or(host);
    if host.is_empty() || host.len() > MAX_HOST_LEN {
        return None;
    }
    for label in host.split(|&b| b == b'.') {
        if label.is_empty()
            || label.len() > MAX_LABEL_LEN
            || !label
                .iter()
                .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
    }
    // Only ASCII bytes are left.
    let text = std::str::from_utf8(host).ok()?;
    Some(Host {
        name: lower(text),
        is_ip: text.parse::<Ipv4Addr>().is_ok(),
    })
}

/// `host` and the port text after the last `:` (an IPv6 literal keeps its colons inside the
/// brackets).
fn split_port(a: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    if a.first() == Some(&b'[') {
        let close = a.iter().position(|&b| b == b']')?;
        return match &a[close + 1..] {
            [] => Some((a, None)),
            [b':', port @ ..] => Some((&a[..=close], Some(port))),
            _ => None,
        };
    }
    match a.iter().position(|&b| b == b':') {
        Some(i) => Some((&a[..i], Some(&a[i + 1..]))),
        None => Some((a, None)),
    }
}

fn lower(s: &str) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(s.to_ascii_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(a: &str) -> Option<String> {
        parse(a.as_bytes()).map(|h| h.name.into_owned())
    }

    #[test]
    fn host_names_and_ports() {
        assert_eq!(
            name("WWW.Example.COM:8080").as_deref(),
            Some("www.example.com")
        );
        assert_eq!(name("example.com.").as_deref(), Some("example.com"));
        assert_eq!(name("localhost").as_deref(), Some("localhost"));
        assert_eq!(
            name("my_host.example.com").as_deref(),
            Some("my_host.example.com")
        );
        assert_eq!(
            name("xn--mnchen-3ya.de").as_deref(),
            Some("xn--mnchen-3ya.de")
        );
        assert!(matches!(
            parse(b"www.example.com"),
            Some(Host {
                name: Cow::Borrowed(_),
                ..
            })
        ));
    }

    #[test]
    fn ip_literals() {
        let h = parse(b"127.0.0.1:80").unwrap();
        assert_eq!((h.name.as_ref(), h.is_ip), ("127.0.0.1", true));
        let h = parse(b"[::1]:8080").unwrap();
        assert_eq!((h.name.as_ref(), h.is_ip), ("::1", true));
        let h = parse(b"[::FFFF:127.0.0.1]").unwrap();
        assert_eq!((h.name.as_ref(), h.is_ip), ("::ffff:127.0.0.1", true));
        assert_eq!(name("[::1"), None);
        assert_eq!(name("[zz]"), None);
        assert_eq!(name("[::1]x"), None);
        assert_eq!(name("::1"), None);
    }

    #[test]
    fn injections_and_malformed_hosts_are_refused() {
        for bad in [
            "www.example.com;Domain=evil.com;Path=/x",
            "a..example.com",
            ".example.com",
            "example.com..",
            "",
            ":80",
            "example.com:",
            "example.com:80x",
            "example.com:123456",
            "user@example.com",
            "exa mple.com",
            "example.com\t",
            "ex\u{e4}mple.com",
            "a,b.example.com",
            "a/b",
        ] {
            assert_eq!(name(bad), None, "{bad:?}");
        }
        let long = format!("{}.com", "a.".repeat(126));
        assert!(long.len() > MAX_HOST_LEN);
        assert_eq!(name(&long), None);
        assert_eq!(name(&format!("{}.com", "a".repeat(64))), None);
        assert!(name(&format!("{}.com", "a".repeat(63))).is_some());
    }
}
