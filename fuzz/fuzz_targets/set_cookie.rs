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

    // `is_deletion` agrees with `expiry`, at any time.
    for now in [i64::MIN, -1, 0, NOW, i64::MAX] {
        let expected = match expiry {
            Expiry::Session => false,
            Expiry::MaxAge(m) => m <= 0,
            Expiry::Expires(t) => t <= now,
        };
        assert_eq!(set_cookie::is_deletion(line, now), expected, "now {now}");
    }
    match expiry {
        Expiry::Session => assert!(!set_cookie::is_deletion(line, i64::MAX)),
        Expiry::MaxAge(_) => {
            // Max-Age does not depend on the clock.
            assert_eq!(
                set_cookie::is_deletion(line, i64::MIN),
                set_cookie::is_deletion(line, i64::MAX)
            );
        }
        Expiry::Expires(t) => {
            // Within the range of cookie dates: 1601-01-01 to 9999-12-31.
            assert!(
                (-11_644_473_600..=253_402_300_799).contains(&t),
                "expires {t}"
            );
        }
    }
    if line[pair_end..].is_empty() {
        assert_eq!(expiry, Expiry::Session);
    }
});
