//! The `cookie` crate as an independent reading of `Set-Cookie` lines: for ordinary, well-formed
//! lines it must find the same name as `presented_name`, and a `Max-Age` of zero or less must be
//! a zero max-age to it and a deletion to consentry.

use consentry::policy::set_cookie::{expiry, is_deletion, presented_name, Expiry};
use cookie::time::Duration;
use cookie::Cookie;
use proptest::prelude::*;

/// Some moment in 2026, for `is_deletion`.
const NOW: i64 = 1_780_000_000;

/// Token characters (RFC 9110) for names.
const NAME: &str = "[A-Za-z0-9!#$%&'*+.^_`|~-]{1,24}";
/// Cookie-octets for values: no whitespace, quotes, commas, semicolons or backslashes.
const VALUE: &str = "[A-Za-z0-9!#$%&'()*+./:<=>?@\\[\\]^_`{|}~-]{0,40}";

/// Attributes that leave the name and the max-age alone.
const ATTRS: &[&str] = &[
    "Path=/",
    "Path=/shop",
    "Domain=example.com",
    "Domain=.example.org",
    "Secure",
    "HttpOnly",
    "SameSite=Lax",
    "SameSite=None",
    "Partitioned",
    "Expires=Wed, 21 Oct 2026 07:28:00 GMT",
];

fn line(name: &str, value: &str, attrs: &[usize], extra: Option<&str>) -> String {
    let mut l = format!("{name}={value}");
    for &a in attrs {
        l.push_str("; ");
        l.push_str(ATTRS[a]);
    }
    if let Some(e) = extra {
        l.push_str("; ");
        l.push_str(e);
    }
    l
}

#[test]
fn real_lines_agree() {
    for l in [
        "_ga=GA1.2.1402942530.1700000000; Path=/; Domain=.example.com; Max-Age=63072000",
        "_fbp=fb.1.1700000000000.123456789; Path=/; Expires=Thu, 01 Jan 2027 00:00:00 GMT",
        "ZD-settings=%7B%22a%22%3A1%7D; Path=/; SameSite=Lax",
        "__Host-session=abc; Path=/; Secure; HttpOnly",
        "token=a=b=c; Path=/",
        "consentry=analytics,functional; Path=/; Max-Age=31536000; SameSite=Lax",
    ] {
        let parsed = Cookie::parse(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
        assert_eq!(
            parsed.name().as_bytes(),
            presented_name(l.as_bytes()),
            "{l:?}"
        );
        assert!(!is_deletion(l.as_bytes(), NOW), "{l:?}");
    }
    for l in [
        "_ga=; Path=/; Max-Age=0",
        "_ga=deleted; Domain=.example.com; Path=/; Max-Age=-1",
        "IDE=x; Max-Age=3600; Max-Age=0",
    ] {
        let parsed = Cookie::parse(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
        assert_eq!(parsed.max_age(), Some(Duration::ZERO), "{l:?}");
        assert!(is_deletion(l.as_bytes(), NOW), "{l:?}");
    }
}

proptest! {
    #[test]
    fn names_agree(
        name in NAME,
        value in VALUE,
        attrs in prop::collection::vec(0..ATTRS.len(), 0..5),
        spaces in any::<bool>(),
    ) {
        // Spaces around the name and value are trimmed by both.
        let name_part = if spaces { format!(" {name} ") } else { name.clone() };
        let value_part = if spaces { format!(" {value}") } else { value.clone() };
        let l = line(&name_part, &value_part, &attrs, None);
        let parsed = Cookie::parse(l.as_str())
            .map_err(|e| TestCaseError::fail(format!("{l:?}: {e}")))?;
        prop_assert_eq!(parsed.name(), name.as_str(), "{:?}", l);
        prop_assert_eq!(presented_name(l.as_bytes()), name.as_bytes(), "{:?}", l);
    }

    #[test]
    fn zero_or_negative_max_age_is_a_deletion(
        name in NAME,
        value in VALUE,
        attrs in prop::collection::vec(0..ATTRS.len(), 0..5),
        age in 0i64..=100_000,
    ) {
        let l = line(&name, &value, &attrs, Some(&format!("Max-Age=-{age}")));
        let parsed = Cookie::parse(l.as_str())
            .map_err(|e| TestCaseError::fail(format!("{l:?}: {e}")))?;
        prop_assert_eq!(parsed.max_age(), Some(Duration::ZERO), "{:?}", l);
        prop_assert!(is_deletion(l.as_bytes(), NOW), "{:?}", l);

        let l = line(&name, &value, &attrs, Some("Max-Age=0"));
        let parsed = Cookie::parse(l.as_str())
            .map_err(|e| TestCaseError::fail(format!("{l:?}: {e}")))?;
        prop_assert_eq!(parsed.max_age(), Some(Duration::ZERO), "{:?}", l);
        prop_assert_eq!(expiry(l.as_bytes()), Expiry::MaxAge(0));
        prop_assert!(is_deletion(l.as_bytes(), NOW), "{:?}", l);
    }

    #[test]
    fn positive_max_age_agrees(
        name in NAME,
        value in VALUE,
        age in 1i64..=400 * 86_400,
    ) {
        let l = line(&name, &value, &[0], Some(&format!("Max-Age={age}")));
        let parsed = Cookie::parse(l.as_str())
            .map_err(|e| TestCaseError::fail(format!("{l:?}: {e}")))?;
        prop_assert_eq!(parsed.max_age(), Some(Duration::seconds(age)), "{:?}", l);
        prop_assert_eq!(expiry(l.as_bytes()), Expiry::MaxAge(age));
        prop_assert!(!is_deletion(l.as_bytes(), NOW), "{:?}", l);
    }
}
