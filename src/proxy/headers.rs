//! Header operations of a transparent reverse proxy (RFC 9110 §7.6): hop-by-hop removal, the
//! forwarding headers and `Via`, and the few request and response headers the proxy reads or
//! writes itself (`Cookie`, `Sec-GPC`, `Cache-Control`, `Upgrade`, `TE`).

use std::borrow::Cow;
use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, COOKIE, TE, UPGRADE, VIA};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1, plus the legacy
/// `Keep-Alive` and `Proxy-Connection`). Static names: removing by `HeaderName` skips parsing.
/// `Trailer` is not one of them: it announces end-to-end trailer fields (RFC 9110 §6.6.2).
static HOP_BY_HOP: [HeaderName; 8] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    http::header::PROXY_AUTHENTICATE,
    http::header::PROXY_AUTHORIZATION,
    TE,
    http::header::TRANSFER_ENCODING,
    UPGRADE,
];

/// [`HOP_BY_HOP`] as text, in the same order: comparing `&str`s needs no lookup of a standard
/// header's text per comparison.
const HOP_BY_HOP_TEXT: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// The tokens of a comma-separated header (`#token` lists, RFC 9110 §5.6.1) across all its
/// fields, trimmed, empty elements skipped.
pub fn tokens<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a [u8]> {
    headers.get_all(name).iter().flat_map(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .map(<[u8]>::trim_ascii)
            .filter(|t| !t.is_empty())
    })
}

/// Whether the comma-separated header `name` lists `token` (case-insensitively).
pub fn has_token(headers: &HeaderMap, name: &HeaderName, token: &str) -> bool {
    tokens(headers, name).any(|t| t.eq_ignore_ascii_case(token.as_bytes()))
}

/// `Sec-GPC`, the Global Privacy Control request header.
pub static SEC_GPC: HeaderName = HeaderName::from_static("sec-gpc");

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes the hop-by-hop headers: the fixed list and every header named in `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names, noting which of the fixed list are present: most messages carry
    // none of them, or only `Connection`, and each removal is a hash lookup.
    let mut present: u16 = 0;
    for k in headers.keys() {
        if let Some(i) = hop_by_hop_index(k) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return;
    }
    // The names `Connection` lists (rarely more than one or two); `keep-alive` and `close` are
    // the common ones and need no lookup of their own.
    if present & 1 != 0 {
        let listed: Vec<HeaderName> = tokens(headers, &CONNECTION)
            .filter(|t| !t.eq_ignore_ascii_case(b"keep-alive") && !t.eq_ignore_ascii_case(b"close"))
            .filter_map(|t| HeaderName::from_bytes(t).ok())
            .collect();
        for name in listed {
            headers.remove(name);
        }
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

/// The position of `name` in [`HOP_BY_HOP`]. Header names are lower case, so comparing the
/// text (by length first) is exact and cheaper than nine `HeaderName` comparisons.
fn hop_by_hop_index(name: &HeaderName) -> Option<usize> {
    let name = name.as_str();
    HOP_BY_HOP_TEXT.iter().position(|h| *h == name)
}

/// Whether a header name, in any case, is one of [`HOP_BY_HOP`] (for heads parsed from bytes).
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP_TEXT
        .iter()
        .any(|h| h.len() == name.len() && h.eq_ignore_ascii_case(name))
}

/// Whether the request asks for `TE: trailers`, the one `TE` value a proxy passes on (gRPC uses it).
pub fn wants_trailers(headers: &HeaderMap) -> bool {
    has_token(headers, &TE, "trailers")
}

/// Adds the forwarding headers: appends the client address to `X-Forwarded-For`, and sets
/// `X-Forwarded-Proto` and `X-Forwarded-Host` to what this hop saw.
pub fn add_forwarded(
    headers: &mut HeaderMap,
    client: IpAddr,
    https: bool,
    host: Option<&HeaderValue>,
) {
    let mut buf = [0u8; 64];
    let ip = ip_text(client.to_canonical(), &mut buf);
    let prev = headers
        .get(&X_FORWARDED_FOR)
        .map(|v| v.as_bytes().trim_ascii())
        .filter(|p| !p.is_empty());
    let value = match prev {
        Some(prev) => {
            let mut v = Vec::with_capacity(prev.len() + 2 + ip.len());
            v.extend_from_slice(prev);
            v.extend_from_slice(b", ");
            v.extend_from_slice(ip);
            HeaderValue::from_bytes(&v)
        }
        None => HeaderValue::from_bytes(ip),
    };
    if let Ok(v) = value {
        headers.insert(X_FORWARDED_FOR.clone(), v);
    }
    headers.insert(
        X_FORWARDED_PROTO.clone(),
        HeaderValue::from_static(if https { "https" } else { "http" }),
    );
    match host {
        Some(h) => {
            headers.insert(X_FORWARDED_HOST.clone(), h.clone());
        }
        None => {
            headers.remove(&X_FORWARDED_HOST);
        }
    }
}

/// The address as text, written into `buf` (an IPv4 address by hand: `Display` goes through
/// the formatting machinery and is a visible part of a proxied request's cost).
pub fn ip_text(ip: IpAddr, buf: &mut [u8; 64]) -> &[u8] {
    match ip {
        IpAddr::V4(v4) => {
            let mut n = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    buf[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    buf[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    buf[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                buf[n] = b'0' + octet % 10;
                n += 1;
            }
            &buf[..n]
        }
        IpAddr::V6(v6) => {
            use std::io::Write;
            let mut cursor = std::io::Cursor::new(&mut buf[..]);
            // An IPv6 address is at most 45 characters: it always fits.
            let _ = write!(cursor, "{v6}");
            let n = cursor.position() as usize;
            &buf[..n]
        }
    }
}

/// Appends this hop to `Via` (RFC 9110 §7.6.3): `1.1 consentry`, `2 consentry`.
pub fn add_via(headers: &mut HeaderMap, version: http::Version) {
    headers.append(VIA, HeaderValue::from_static(via_value(version)));
}

/// This hop's `Via` element for a message of `version`.
pub fn via_value(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_10 => "1.0 consentry",
        http::Version::HTTP_2 => "2 consentry",
        http::Version::HTTP_3 => "3 consentry",
        _ => "1.1 consentry",
    }
}

/// Whether a message asks to switch protocols (`Connection: upgrade` plus `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE) && has_token(headers, &CONNECTION, "upgrade")
}

/// Whether a `101` response's protocol is one the client asked for: the upstream's `Upgrade`
/// names one protocol, which must be among the tokens of the client's `Upgrade`.
pub fn upgrade_was_asked(asked: &HeaderMap, response: &HeaderMap) -> bool {
    let mut chosen = tokens(response, &UPGRADE);
    let (Some(proto), None) = (chosen.next(), chosen.next()) else {
        return false;
    };
    tokens(asked, &UPGRADE).any(|t| t.eq_ignore_ascii_case(proto))
}

/// The request's cookies as one header value: HTTP/2 clients may split `Cookie` into several
/// fields, which are joined with `; ` (RFC 9113 §8.2.3).
pub fn joined_cookies(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    let mut values = headers.get_all(COOKIE).iter();
    let first = values.next()?;
    // Cookie headers are nearly always valid UTF-8: checking that is much cheaper than the
    // lossy conversion, which is left for the rare other case.
    fn text(v: &HeaderValue) -> Cow<'_, str> {
        match std::str::from_utf8(v.as_bytes()) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(v.as_bytes()),
        }
    }
    let mut out = text(first);
    for v in values {
        let s = out.to_mut();
        s.push_str("; ");
        s.push_str(&text(v));
    }
    Some(out)
}

/// `Sec-GPC: 1`.
pub fn is_gpc(headers: &HeaderMap) -> bool {
    headers
        .get(&SEC_GPC)
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn removes_fixed_and_connection_listed_headers() {
        let mut h = map(&[
            ("connection", "keep-alive, X-Secret , close"),
            ("connection", "x-other"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("x-other", "2"),
            ("proxy-connection", "keep-alive"),
            ("proxy-authorization", "Basic x"),
            ("te", "trailers"),
            ("trailer", "x-checksum"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-kept", "3"),
            ("set-cookie", "a=1"),
        ]);
        remove_hop_by_hop(&mut h);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort();
        // `Trailer` is end-to-end: it announces the trailer fields of the message.
        assert_eq!(names, vec!["set-cookie", "trailer", "x-kept"]);
    }

    #[test]
    fn connection_tokens_that_are_not_header_names_are_ignored() {
        let mut h = map(&[("connection", "bad token, ,"), ("x-a", "1")]);
        remove_hop_by_hop(&mut h);
        assert!(h.contains_key("x-a"));
    }

    #[test]
    fn forwarded_headers() {
        let mut h = map(&[
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-host", "spoofed"),
        ]);
        let host = HeaderValue::from_static("shop.example.com");
        add_forwarded(&mut h, "192.0.2.1".parse().unwrap(), false, Some(&host));
        assert_eq!(h["x-forwarded-for"], "203.0.113.7, 192.0.2.1");
        assert_eq!(h["x-forwarded-proto"], "http");
        assert_eq!(h["x-forwarded-host"], "shop.example.com");

        let mut h = HeaderMap::new();
        add_forwarded(&mut h, "::ffff:192.0.2.1".parse().unwrap(), true, None);
        assert_eq!(h["x-forwarded-for"], "192.0.2.1");
        assert_eq!(h["x-forwarded-proto"], "https");
        assert!(!h.contains_key("x-forwarded-host"));
    }

    #[test]
    fn addresses_are_written_as_display_writes_them() {
        let mut buf = [0u8; 64];
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "10.20.30.40",
            "192.168.100.255",
            "255.255.255.255",
            "9.99.100.199",
            "::1",
            "2001:db8::8a2e:370:7334",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert_eq!(ip_text(ip, &mut buf), ip.to_string().as_bytes(), "{ip}");
        }
        for a in 0..=255u8 {
            let ip = IpAddr::from([a, 255 - a, a / 3, a.wrapping_mul(7)]);
            assert_eq!(ip_text(ip, &mut buf), ip.to_string().as_bytes());
        }
    }

    #[test]
    fn hop_by_hop_index_covers_the_fixed_list() {
        for name in &HOP_BY_HOP {
            assert_eq!(
                hop_by_hop_index(name).map(|i| &HOP_BY_HOP[i]),
                Some(name),
                "{name}"
            );
        }
        assert_eq!(hop_by_hop_index(&http::header::SET_COOKIE), None);
        for (name, text) in HOP_BY_HOP.iter().zip(HOP_BY_HOP_TEXT) {
            assert_eq!(name.as_str(), text);
            assert!(is_hop_by_hop(&text.to_ascii_uppercase()), "{text}");
        }
        assert!(!is_hop_by_hop("Set-Cookie"));
        assert!(!is_hop_by_hop("trailer"));
        let mut h = map(&[("keep-alive", "timeout=5"), ("x-a", "1")]);
        remove_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-a"));
    }

    #[test]
    fn via_is_appended() {
        let mut h = map(&[("via", "1.1 cdn")]);
        add_via(&mut h, http::Version::HTTP_11);
        add_via(&mut h, http::Version::HTTP_2);
        let v: Vec<_> = h
            .get_all("via")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(v, vec!["1.1 cdn", "1.1 consentry", "2 consentry"]);
    }

    #[test]
    fn upgrade_and_trailers_detection() {
        assert!(is_upgrade(&map(&[
            ("connection", "keep-alive, Upgrade"),
            ("upgrade", "websocket")
        ])));
        assert!(!is_upgrade(&map(&[("upgrade", "websocket")])));
        assert!(!is_upgrade(&map(&[("connection", "upgrade")])));
        assert!(wants_trailers(&map(&[("te", "gzip, trailers")])));
        assert!(!wants_trailers(&map(&[("te", "gzip")])));
    }

    #[test]
    fn a_switch_must_be_to_a_protocol_the_client_asked_for() {
        let asked = map(&[("upgrade", "h2c, WebSocket")]);
        assert!(upgrade_was_asked(&asked, &map(&[("upgrade", "websocket")])));
        assert!(upgrade_was_asked(&asked, &map(&[("upgrade", "h2c")])));
        assert!(!upgrade_was_asked(
            &map(&[("upgrade", "h2c")]),
            &map(&[("upgrade", "websocket")])
        ));
        assert!(!upgrade_was_asked(&asked, &HeaderMap::new()));
        assert!(!upgrade_was_asked(
            &asked,
            &map(&[("upgrade", "websocket, h2c")])
        ));
    }

    #[test]
    fn cookies_are_joined_and_gpc_read() {
        let mut h = HeaderMap::new();
        assert!(joined_cookies(&h).is_none());
        h.append(COOKIE, HeaderValue::from_static("a=1"));
        assert!(matches!(joined_cookies(&h), Some(Cow::Borrowed("a=1"))));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(joined_cookies(&h).unwrap(), "a=1; b=2");
        assert!(!is_gpc(&h));
        h.insert("sec-gpc", HeaderValue::from_static(" 1 "));
        assert!(is_gpc(&h));
        h.insert("sec-gpc", HeaderValue::from_static("0"));
        assert!(!is_gpc(&h));
    }
}
