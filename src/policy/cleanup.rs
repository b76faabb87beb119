//! Expiring cookies the browser already holds, on every domain they may have been set on.
//!
//! A cookie set by a page script on `.example.com` is a different cookie from a host-only one on
//! `www.example.com`, and a browser deletes it only for a `Set-Cookie` naming the same domain and
//! path. So each cookie gets one expiring line for the host-only cookie and one per domain from
//! the request host up to its registrable domain (public suffix list), never on a public suffix.

use std::net::IpAddr;

use super::set_cookie::EPOCH;

/// Domains a cookie is expired on at most: the host, the registrable domain and the parents
/// nearest to it. Hosts deeper than that are rare, and each domain is one more line per cookie.
pub const MAX_DOMAINS: usize = 4;

/// The host of a `Host` header or URI authority, lowercased, without port or IPv6 brackets;
/// empty when it is not a valid host ([`super::host::parse`]). A bare IPv6 address is taken
/// as one.
pub fn normalize_host(authority: &str) -> String {
    let a = authority.trim();
    match super::host::parse(a.as_bytes()) {
        Some(h) => h.name.into_owned(),
        None if a.parse::<std::net::Ipv6Addr>().is_ok() => a.to_ascii_lowercase(),
        None => String::new(),
    }
}

/// The domains to send `Domain=` deletions for: the host itself and each parent down to the
/// registrable domain, at most [`MAX_DOMAINS`] of them (the host and the domains nearest the
/// registrable one are kept). Empty for IP addresses, single-label hosts and public suffixes.
pub fn cookie_domains(host: &str) -> Vec<&str> {
    if host.is_empty() || host.parse::<IpAddr>().is_ok() || !host.contains('.') {
        return Vec::new();
    }
    let registrable = match psl::domain_str(host) {
        Some(d) => d,
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut d = host;
    loop {
        out.push(d);
        if d.len() <= registrable.len() {
            break;
        }
        match d.find('.') {
            Some(i) => d = &d[i + 1..],
            None => break,
        }
    }
    if out.len() > MAX_DOMAINS {
        out.drain(1..out.len() - (MAX_DOMAINS - 1));
    }
    out
}

/// The expiring `Set-Cookie` lines for one cookie name: host-only and each domain of
/// [`cookie_domains`], for `Path=/` and each extra path.
pub fn expiring_lines(name: &str, host: &str, extra_paths: &[Box<str>]) -> Vec<String> {
    let mut out = Vec::new();
    expiring_lines_into(name, &cookie_domains(host), extra_paths, &mut out);
    out
}

/// [`expiring_lines`] with the host's domains worked out once (they are the same for every
/// cookie of a request), appending to `out`.
pub fn expiring_lines_into(
    name: &str,
    domains: &[&str],
    extra_paths: &[Box<str>],
    out: &mut Vec<String>,
) {
    let secure = name.starts_with("__Secure-") || name.starts_with("__Host-");
    let host_only = name.starts_with("__Host-");
    let domains = if host_only { &[][..] } else { domains };
    out.reserve((1 + domains.len()) * (1 + extra_paths.len()));
    let paths = std::iter::once("/").chain(extra_paths.iter().map(|p| &**p));
    for path in paths {
        if host_only && path != "/" {
            continue;
        }
        let mut base = String::with_capacity(name.len() + path.len() + 64);
        base.push_str(name);
        base.push_str("=; Max-Age=0; Expires=");
        base.push_str(EPOCH);
        base.push_str("; Path=");
        base.push_str(path);
        if secure {
            base.push_str("; Secure");
        }
        for d in domains {
            let mut line = String::with_capacity(base.len() + 9 + d.len());
            line.push_str(&base);
            line.push_str("; Domain=");
            line.push_str(d);
            out.push(line);
        }
        out.push(base);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalized() {
        assert_eq!(normalize_host("WWW.Example.COM:8080"), "www.example.com");
        assert_eq!(normalize_host("example.com."), "example.com");
        assert_eq!(normalize_host("[::1]:8080"), "::1");
        assert_eq!(normalize_host("::1"), "::1");
        assert_eq!(normalize_host("127.0.0.1:80"), "127.0.0.1");
        assert_eq!(normalize_host("www.example.com;Domain=evil.com"), "");
        assert_eq!(normalize_host("a..example.com"), "");
    }

    #[test]
    fn domains_down_to_the_registrable_domain() {
        assert_eq!(
            cookie_domains("www.shop.example.co.uk"),
            vec![
                "www.shop.example.co.uk",
                "shop.example.co.uk",
                "example.co.uk"
            ]
        );
        assert_eq!(
            cookie_domains("www.example.com"),
            vec!["www.example.com", "example.com"]
        );
        assert_eq!(cookie_domains("example.com"), vec!["example.com"]);
        assert_eq!(
            cookie_domains("demo.localtest.me"),
            vec!["demo.localtest.me", "localtest.me"]
        );
    }

    #[test]
    fn no_domain_lines_for_ips_single_labels_and_suffixes() {
        assert!(cookie_domains("127.0.0.1").is_empty());
        assert!(cookie_domains("::1").is_empty());
        assert!(cookie_domains("localhost").is_empty());
        assert!(cookie_domains("co.uk").is_empty());
        assert!(cookie_domains("github.io").is_empty());
        assert!(cookie_domains("").is_empty());
    }

    #[test]
    fn the_domain_walk_is_bounded() {
        assert_eq!(
            cookie_domains("a.b.c.d.e.f.g.h.i.j.example.com"),
            vec![
                "a.b.c.d.e.f.g.h.i.j.example.com",
                "i.j.example.com",
                "j.example.com",
                "example.com"
            ]
        );
        assert_eq!(cookie_domains("a.b.c.example.com").len(), MAX_DOMAINS);
    }

    #[test]
    fn idn_hosts_in_punycode() {
        assert_eq!(
            cookie_domains("www.xn--mnchen-3ya.de"),
            vec!["www.xn--mnchen-3ya.de", "xn--mnchen-3ya.de"]
        );
    }

    #[test]
    fn lines_for_host_only_and_each_domain() {
        let lines = expiring_lines("_ga", "www.example.com", &[]);
        assert_eq!(
            lines,
            vec![
                "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=www.example.com",
                "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=example.com",
                "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/",
            ]
        );
        for l in &lines {
            assert!(crate::policy::set_cookie::is_deletion(l.as_bytes(), 0));
        }
    }

    #[test]
    fn extra_paths_and_prefixed_names() {
        let lines = expiring_lines("_fbp", "127.0.0.1", &["/shop".into()]);
        assert_eq!(lines.len(), 2);
        assert!(lines[1].contains("Path=/shop"));
        let host = expiring_lines("__Host-id", "www.example.com", &["/shop".into()]);
        assert_eq!(
            host,
            vec!["__Host-id=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure"]
        );
        let sec = expiring_lines("__Secure-x", "example.com", &[]);
        assert!(sec.iter().all(|l| l.contains("; Secure")));
        assert_eq!(sec.len(), 2);
    }
}
