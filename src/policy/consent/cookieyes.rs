//! CookieYes (the SaaS script and the WordPress plugin from 3.0): the `cookieyes-consent` cookie.
//!
//! The value is `key:value` pairs joined by raw commas, in this order: `consentid`, `consent`,
//! `action`, then one pair per category slug (`necessary`, `functional`, `analytics`,
//! `performance`, `advertisement`, `other`, or the site's own), each `yes`, `no` or empty:
//! `consentid:…,consent:yes,action:yes,necessary:yes,functional:no,analytics:yes,…`.
//!
//! The script writes the cookie on the first page view with `action` empty and each category at
//! its default; only a click (or closing the banner) sets `action:yes`. So a value whose `action`
//! is anything but `yes` records no decision. Once decided, the per-category values are the
//! choice; the `consent` flag is `yes` for a custom selection that refused some categories, so
//! it is not read.
//!
//! The writer does not percent-encode, but the reader uses `unescape`, so escapes are decoded
//! (`+` stays literal) when present.

use super::reading::{NameMap, Reading, Tally};
use super::text::{self, Decoding, MAX_VALUE_LEN};
use crate::policy::categories::CategorySet;

/// The consent cookie.
pub const COOKIE: &str = "cookieyes-consent";

/// The default category map: `(CookieYes category slug, our category name)`.
pub(crate) const DEFAULT_MAP: &[(&str, &str)] = &[
    ("functional", "functional"),
    ("analytics", "analytics"),
    ("performance", "analytics"),
    ("advertisement", "advertising"),
];

/// Reads a `cookieyes-consent` value.
pub fn read(value: &str, map: &NameMap) -> Reading {
    let value = text::unquote(value);
    if value.len() > MAX_VALUE_LEN {
        return Reading::Malformed;
    }
    text::with_decoded(value.as_bytes(), Decoding::Lenient, |b| scan(b, map))
        .flatten()
        .unwrap_or(Reading::Malformed)
}

fn scan(b: &[u8], map: &NameMap) -> Option<Reading> {
    let mut tally = Tally::default();
    let mut action = None;
    let mut pairs = 0;
    for entry in text::split_on(b, b',') {
        let entry = text::trim(entry);
        if entry.is_empty() {
            continue;
        }
        // Every entry is `key:value`; anything else is not a CookieYes cookie.
        let colon = memchr::memchr(b':', entry)?;
        let (key, value) = entry.split_at(colon);
        let value = text::trim(value.get(1..)?);
        let key = text::trim(key);
        if key.is_empty() || !key.iter().all(|&c| is_slug_byte(c)) {
            return None;
        }
        pairs += 1;
        if key == b"action" {
            action.get_or_insert(value);
        } else if key != b"consentid" && key != b"consent" {
            if let Some(category) = text::lookup(map, key) {
                // `yes` is consent; `no`, empty or anything else is not.
                tally.mention(category, value == b"yes");
            }
        }
    }
    if pairs == 0 {
        return None;
    }
    if action != Some(b"yes".as_slice()) {
        return Some(Reading::NoDecision);
    }
    Some(tally.finish(CategorySet::EMPTY))
}

/// Bytes a CookieYes key (a category slug or a fixed key) is made of.
fn is_slug_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::categories::CategoryId;

    // essential 0, functional 1, analytics 2, advertising 3
    fn map() -> NameMap {
        NameMap::new([
            ("functional".into(), CategoryId(1)),
            ("analytics".into(), CategoryId(2)),
            ("performance".into(), CategoryId(2)),
            ("advertisement".into(), CategoryId(3)),
        ])
    }

    fn set(ids: &[u8]) -> CategorySet {
        ids.iter().map(|&i| CategoryId(i)).collect()
    }

    const ACCEPT: &str = "consentid:d2JnOWNtWmgyM0pMdEU0ZkZXSGhzdE9BaTkxekF3WEk,consent:yes,action:yes,necessary:yes,functional:yes,analytics:yes,performance:yes,advertisement:yes,other:yes";
    const REJECT: &str = "consentid:WHRLbHhJZVJlTXR3b0F4MUpUQWNCZDRNbXRpTWNEcmE,consent:no,action:yes,necessary:yes,functional:no,analytics:no,performance:no,advertisement:no,other:no";
    const UNDECIDED: &str = "consentid:a0luUlByM3NGTFp2dkMyQkJXdHoxdHFVeHI2TEM5Yms,consent:no,action:,necessary:yes,functional:yes,analytics:no,performance:no,advertisement:no";
    const PLACEHOLDER: &str = "consentid:YjZOOUV4T2h6UkFoTUwzM2ZpWGE0SFFpZXZaUXFhMk8,consent:,action:,necessary:,functional:,analytics:,performance:,advertisement:,other:";
    const ODD: &str = "consentid:U0pYR3owbVB5ZGlxMG4xTWJ2NTBHMGdkcFNHZ0tTRVY,consent:yes,action:no,necessary:yes,functional:yes,analytics:yes,performance:yes,advertisement:yes,other:yes";

    #[test]
    fn accept_and_reject() {
        assert_eq!(read(ACCEPT, &map()), Reading::decided(set(&[1, 2, 3])));
        assert_eq!(read(REJECT, &map()), Reading::decided(CategorySet::EMPTY));
    }

    #[test]
    fn no_decision_without_action_yes() {
        assert_eq!(read(UNDECIDED, &map()), Reading::NoDecision);
        assert_eq!(read(PLACEHOLDER, &map()), Reading::NoDecision);
        assert_eq!(read(ODD, &map()), Reading::NoDecision);
        assert_eq!(
            read("consentid:x,consent:yes,analytics:yes", &map()),
            Reading::NoDecision
        );
    }

    #[test]
    fn partial_uses_categories_not_the_consent_flag() {
        // A custom save: consent:yes although advertisement was refused.
        let v = ACCEPT.replace("advertisement:yes", "advertisement:no");
        assert_eq!(read(&v, &map()), Reading::decided(set(&[1, 2])));
        // analytics and performance both map to analytics: one refusal denies it.
        let v = ACCEPT.replace("performance:yes", "performance:no");
        assert_eq!(read(&v, &map()), Reading::decided(set(&[1, 3])));
        // consent:no does not override granted categories.
        let v = REJECT.replace("functional:no", "functional:yes");
        assert_eq!(read(&v, &map()), Reading::decided(set(&[1])));
    }

    #[test]
    fn missing_and_empty_categories_are_denied() {
        let v = "consentid:x,consent:yes,action:yes,necessary:yes,analytics:yes,functional:";
        assert_eq!(read(v, &map()), Reading::decided(set(&[2])));
        let v = "consentid:x,consent:yes,action:yes,analytics:YES,functional:1";
        assert_eq!(read(v, &map()), Reading::decided(CategorySet::EMPTY));
    }

    #[test]
    fn encoded_and_spaced_forms() {
        let v = "consentid%3Ax%2Cconsent%3Ayes%2Caction%3Ayes%2Canalytics%3Ayes";
        assert_eq!(read(v, &map()), Reading::decided(set(&[2])));
        let v = "consentid:a+b/c, action:yes , analytics : yes,";
        assert_eq!(read(v, &map()), Reading::decided(set(&[2])));
    }

    #[test]
    fn malformed() {
        for v in [
            "",
            ",,",
            "yes",
            "consentid:x,action:yes,analytics",
            "consentid:x,action:yes,{analytics}:yes",
            ":yes",
            "{\"action\":\"yes\"}",
            "action:yes,caf\u{e9}:yes",
        ] {
            assert_eq!(read(v, &map()), Reading::Malformed, "{v:?}");
        }
        let huge = format!("action:yes,analytics:yes,x:{}", "a".repeat(5000));
        assert_eq!(read(&huge, &map()), Reading::Malformed);
    }
}
