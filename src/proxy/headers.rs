//! Header operations of a transparent reverse proxy (RFC 9110 §7.6): hop-by-hop removal, the
//! forwarding headers and `Via`.

use std::net::IpAddr;

use http::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, TE, UPGRADE, VIA};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1, plus the legacy
/// `Keep-Alive` and `Proxy-Connection`). Static names: removing by `HeaderName` skips parsing.
static HOP_BY_HOP: [HeaderName; 9] = [
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    http::header::PROXY_AUTHENTICATE,
    http::header::PROXY_AUTHORIZATION,
    TE,
    http::header::TRAILER,
    http::header::TRANSFER_ENCODING,
    UPGRADE,
];

/// `Sec-GPC`, the Global Privacy Control request header.
pub static SEC_GPC: HeaderName = HeaderName::from_static("sec-gpc");

pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
pub static X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");

/// Removes the hop-by-hop headers: the fixed list and every header named in `Connection`.
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names first: most messages carry none of these, or only `Connection`.
    if !headers.keys().any(|k| HOP_BY_HOP.contains(k)) {
        return;
    }
    // The names `Connection` lists (rarely more than one or two); `keep-alive` and `close` are
    // the common ones and need no lookup of their own.
    let mut listed: Vec<HeaderName> = Vec::new();
    for value in headers.get_all(CONNECTION) {
        for token in value.as_bytes().split(|&b| b == b',') {
            let token = token.trim_ascii();
            if token.eq_ignore_ascii_case(b"keep-alive")
                || token.eq_ignore_ascii_case(b"close")
                || token.is_empty()
            {
                continue;
            }
            if let Ok(name) = HeaderName::from_bytes(token) {
                listed.push(name);
            }
        }
    }
    for name in listed {
        headers.remove(name);
    }
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
}

/// Whether the request asks for `TE: trailers`, the one `TE` value a proxy passes on (gRPC uses it).
pub fn wants_trailers(headers: &HeaderMap) -> bool {
    headers.get_all(TE).iter().any(|v| {
        v.to_str()
            .map(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
            })
            .unwrap_or(false)
    })
}

/// Adds the forwarding headers: appends the client address to `X-Forwarded-For`, and sets
/// `X-Forwarded-Proto` and `X-Forwarded-Host` to what this hop saw.
pub fn add_forwarded(
    headers: &mut HeaderMap,
    client: IpAddr,
    https: bool,
    host: Option<&HeaderValue>,
) {
    let ip = client.to_canonical().to_string();
    let xff = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
        Some(prev) if !prev.trim().is_empty() => format!("{prev}, {ip}"),
        _ => ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
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

/// Appends this hop to `Via` (RFC 9110 §7.6.3): `1.1 consentry`, `2 consentry`.
pub fn add_via(headers: &mut HeaderMap, version: http::Version) {
    let v = match version {
        http::Version::HTTP_10 => "1.0 consentry",
        http::Version::HTTP_2 => "2 consentry",
        http::Version::HTTP_3 => "3 consentry",
        _ => "1.1 consentry",
    };
    headers.append(VIA, HeaderValue::from_static(v));
}

/// Whether a message asks to switch protocols (`Connection: upgrade` plus `Upgrade`).
pub fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(UPGRADE)
        && headers.get_all(CONNECTION).iter().any(|v| {
            v.to_str()
                .map(|s| {
                    s.split(',')
                        .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
                })
                .unwrap_or(false)
        })
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
            ("trailer", "x"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-kept", "3"),
            ("set-cookie", "a=1"),
        ]);
        remove_hop_by_hop(&mut h);
        let mut names: Vec<_> = h.keys().map(|k| k.as_str()).collect();
        names.sort();
        assert_eq!(names, vec!["set-cookie", "x-kept"]);
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
}
