//! The `Set-Cookie` line reader: `presented_name`, `stored_name`, `expiry`, `is_deletion`.
#![no_main]

use consentry::policy::set_cookie::{self, Expiry};
use consentry_fuzz::is_subslice;
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_763_900_000;

fn trimmed(s: &[u8]) -> bool {
    !matches!(s.first(), Some(b' ' | b'\t')) && !matches!(s.last(), Some(b' ' | b'\t'))
}

fuzz_target!(|line: &[u8]| {
    let pair_end = line.iter().position(|&b| b == b';').unwrap_or(line.len());

    let name = set_cookie::presented_name(line);
    assert!(is_subslice(name, line), "name not a subslice of the line");
    assert!(
        is_subslice(name, &line[..pair_end]),
        "name outside the name-value pair"
    );
    assert!(!name.contains(&b'=') && !name.contains(&b';'));
    assert!(trimmed(name));

    let stored = set_cookie::stored_name(line);
    assert!(is_subslice(stored, &line[..pair_end]));
    assert!(!stored.contains(&b'=') && trimmed(stored));
    if !stored.is_empty() {
        assert_eq!(stored, name, "a named cookie presents its name");
    }

    // Only the attributes decide the expiry: another name-value pair changes nothing.
    let expiry = set_cookie::expiry(line);
    let mut other = b"x=y".to_vec();
    other.extend_from_slice(&line[pair_end..]);
    assert_eq!(set_cookie::expiry(&other), expiry);

    // Chromium's reading too depends on the attributes only.
    let chromium = set_cookie::chromium_expiry(line);
    assert_eq!(set_cookie::chromium_expiry(&other), chromium);

    // `is_deletion` is the RFC's reading and Chromium's agreeing, at any time.
    let expired = |e: Expiry, now: i64| match e {
        Expiry::Session => false,
        Expiry::MaxAge(m) => m <= 0,
        Expiry::Expires(t) => t <= now,
    };
    for now in [i64::MIN, -1, 0, NOW, i64::MAX] {
        assert_eq!(
            set_cookie::is_deletion(line, now),
            expired(expiry, now) && expired(chromium, now),
            "now {now}"
        );
    }
    if expiry == Expiry::Session || chromium == Expiry::Session {
        assert!(!set_cookie::is_deletion(line, i64::MAX));
    }
    if let Expiry::Expires(t) = expiry {
        // Within the range of cookie dates: 1601-01-01 to 9999-12-31.
        assert!(
            (-11_644_473_600..=253_402_300_799).contains(&t),
            "expires {t}"
        );
    }
    if let Expiry::Expires(t) = chromium {
        // Chromium's years have up to five digits (two-digit ones in 1970-2069).
        assert!(
            (-62_200_000_000..=3_093_600_000_000).contains(&t),
            "expires {t}"
        );
    }
    // A deleting line of a cookie with a name can be replaced by the proxy's own deletion,
    // which deletes in every browser.
    if set_cookie::is_deletion(line, NOW) {
        if let Some(own) = set_cookie::own_deletion(line) {
            assert!(set_cookie::is_deletion(own.as_bytes(), NOW), "{own:?}");
            assert_eq!(set_cookie::stored_name(own.as_bytes()), stored);
        }
    }
    if line[pair_end..].is_empty() {
        assert_eq!(expiry, Expiry::Session);
    }
});
