//! The request `Cookie` header parser: `pairs`, `get` and `Pair::presented_name`.
#![no_main]

use consentry::policy::{cookie_header, set_cookie};
use consentry_fuzz::is_subslice;
use libfuzzer_sys::fuzz_target;

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

fuzz_target!(|data: &[u8]| {
    let header = String::from_utf8_lossy(data);
    let h: &str = &header;
    let pairs: Vec<_> = cookie_header::pairs(h).collect();

    // One pair per non-blank `;`-separated part, in order.
    let parts: Vec<&str> = h
        .split(';')
        .map(|p| p.trim_matches(is_ws))
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(pairs.len(), parts.len());

    for (p, part) in pairs.iter().zip(&parts) {
        assert_eq!(p.raw, *part);
        assert!(!p.raw.is_empty(), "empty pair");
        for s in [p.name, p.value, p.raw] {
            assert!(
                is_subslice(s.as_bytes(), h.as_bytes()),
                "{s:?} not in the input"
            );
            assert!(
                is_subslice(s.as_bytes(), p.raw.as_bytes()),
                "{s:?} not in its pair"
            );
            assert!(!s.contains(';'));
            assert_eq!(s, s.trim_matches(is_ws), "{s:?} not trimmed");
        }
        assert!(!p.name.contains('='), "name {:?} holds '='", p.name);
        if p.raw.contains('=') {
            // `name = value`, cut at the first `=`.
            let (n, v) = p.raw.split_once('=').unwrap();
            assert_eq!(p.name, n.trim_matches(is_ws));
            assert_eq!(p.value, v.trim_matches(is_ws));
        } else {
            assert_eq!(p.name, "");
            assert_eq!(p.value, p.raw);
        }

        // The presented name is the same whether the pair is read from a `Cookie` header or
        // from a `Set-Cookie` line holding just that pair.
        let presented = p.presented_name();
        assert!(is_subslice(presented.as_bytes(), p.raw.as_bytes()));
        assert!(!presented.contains('='));
        assert_eq!(
            presented.as_bytes(),
            set_cookie::presented_name(p.raw.as_bytes()),
            "pair {:?}",
            p.raw
        );
        if !p.name.is_empty() {
            assert_eq!(presented, p.name);
        }

        // `get` returns the first pair of that name.
        let first = pairs.iter().find(|q| q.name == p.name).unwrap();
        assert_eq!(cookie_header::get(h, p.name), Some(first.value));
    }

    // A header rebuilt from the raw pairs (as the proxy forwards one without some cookies)
    // parses to the same pairs.
    let rebuilt = parts.join("; ");
    let again: Vec<_> = cookie_header::pairs(&rebuilt).collect();
    assert_eq!(again.len(), pairs.len());
    for (a, b) in again.iter().zip(&pairs) {
        assert_eq!((a.name, a.value, a.raw), (b.name, b.value, b.raw));
    }

    // A name no pair has is not found.
    if !pairs.iter().any(|p| p.name == "consentry-fuzz-absent") {
        assert_eq!(cookie_header::get(h, "consentry-fuzz-absent"), None);
    }
});
