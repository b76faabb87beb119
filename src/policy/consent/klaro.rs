//! Klaro: the `klaro` cookie.
//!
//! The value is `encodeURIComponent(JSON.stringify(consents))` (very old versions stored the raw
//! JSON), where `consents` maps each of the site's *service* names to `true` or `false`:
//! `{"googleAnalytics":true,"youtube":false}`. Which purpose a service serves lives in the
//! site's Klaro configuration, not in the cookie, so the operator maps service names to our
//! categories (our category names map to themselves by default).
//!
//! Klaro writes the cookie only when the visitor saves a choice, so a readable cookie is a
//! decision. A configured service missing from it (the site added it after the visitor chose)
//! has not been decided: Klaro asks again. A category whose configured services are all missing
//! stays undecided; a category with at least one service in the cookie follows the services
//! present (granted only if each is `true`). A cookie that holds none of the configured services
//! says nothing about our categories and records no decision, so the next source is tried.

use super::reading::{NameMap, Reading, Tally};
use super::text::{self, Json};

/// The consent cookie (Klaro's default `storageName`).
pub const COOKIE: &str = "klaro";

/// Reads a `klaro` value.
pub fn read(value: &str, map: &NameMap) -> Reading {
    let value = text::unquote(value);
    text::with_json(value, |b| scan(b, map)).unwrap_or(Reading::Malformed)
}

fn scan(b: &[u8], map: &NameMap) -> Option<Reading> {
    let mut j = Json::new(b);
    let mut tally = Tally::default();
    j.object(|service, j| {
        match service.lookup(map) {
            // A configured service must be `true` or `false`.
            Some(category) => tally.mention(category, j.boolean()?),
            // Others are not ours to read; any JSON value is accepted.
            None => j.skip_value()?,
        }
        Some(())
    })?;
    if !j.at_end() {
        return None;
    }
    if tally.mentioned().is_empty() {
        return Some(Reading::NoDecision);
    }
    Some(tally.finish(map.categories()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::categories::{CategoryId, CategorySet};
    use crate::policy::consent::text::MAX_VALUE_LEN;

    // essential 0, functional 1, analytics 2, advertising 3
    fn mrw_map() -> NameMap {
        NameMap::new([
            ("necessary-cookies".into(), CategoryId(0)),
            ("preferences".into(), CategoryId(1)),
            ("google-analytics".into(), CategoryId(2)),
            ("google-ads".into(), CategoryId(3)),
        ])
    }

    fn set(ids: &[u8]) -> CategorySet {
        ids.iter().map(|&i| CategoryId(i)).collect()
    }

    const MRW: &str = "%7B%22necessary-cookies%22%3Atrue%2C%22preferences%22%3Afalse%2C%22google-analytics%22%3Afalse%2C%22google-ads%22%3Afalse%7D";
    const CMS: &str = "%7B%22klaro%22%3Atrue%2C%22cms%22%3Atrue%2C%22adsense%22%3Afalse%2C%22youtube%22%3Afalse%2C%22twitter%22%3Afalse%2C%22matomo%22%3Afalse%7D";
    const CREOPARD: &str =
        "%7B%22other-1%22%3Atrue%2C%22analytical-cookies-3%22%3Atrue%2C%22tracking-cookies-5%22%3Atrue%7D";

    #[test]
    fn real_values() {
        assert_eq!(read(MRW, &mrw_map()), Reading::decided(set(&[0])));
        let map = NameMap::new([
            ("cms".into(), CategoryId(1)),
            ("youtube".into(), CategoryId(1)),
            ("matomo".into(), CategoryId(2)),
            ("adsense".into(), CategoryId(3)),
            ("twitter".into(), CategoryId(3)),
        ]);
        // cms granted but youtube refused: functional denied.
        assert_eq!(read(CMS, &map), Reading::decided(CategorySet::EMPTY));
        let map = NameMap::new([
            ("other-1".into(), CategoryId(1)),
            ("analytical-cookies-3".into(), CategoryId(2)),
            ("tracking-cookies-5".into(), CategoryId(3)),
        ]);
        assert_eq!(read(CREOPARD, &map), Reading::decided(set(&[1, 2, 3])));
    }

    #[test]
    fn raw_json_from_old_versions() {
        let v = r#"{"preferences":true,"google-analytics":true,"google-ads":false}"#;
        assert_eq!(
            read(v, &mrw_map()),
            Reading::Decided {
                granted: set(&[1, 2]),
                undecided: set(&[0])
            }
        );
    }

    #[test]
    fn missing_services_leave_their_category_undecided() {
        let map = NameMap::new([
            ("matomo".into(), CategoryId(2)),
            ("googleAnalytics".into(), CategoryId(2)),
            ("youtube".into(), CategoryId(1)),
            ("adsense".into(), CategoryId(3)),
        ]);
        // Only matomo is in the cookie: analytics follows it; functional and advertising have
        // no service in the cookie and stay undecided.
        let v = "%7B%22matomo%22%3Atrue%7D";
        assert_eq!(
            read(v, &map),
            Reading::Decided {
                granted: set(&[2]),
                undecided: set(&[1, 3])
            }
        );
        // None of the configured services: nothing decided.
        assert_eq!(read("{}", &map), Reading::NoDecision);
        assert_eq!(read(CMS, &mrw_map()), Reading::NoDecision);
    }

    #[test]
    fn unmapped_services_take_any_value() {
        let v = r#"{"x":{"a":[1,2]},"y":"s","youtube":true,"z":null}"#;
        let map = NameMap::new([("youtube".into(), CategoryId(1))]);
        assert_eq!(read(v, &map), Reading::decided(set(&[1])));
    }

    #[test]
    fn malformed() {
        for v in [
            "",
            "true",
            "[]",
            r#"{"preferences":"true"}"#,
            r#"{"preferences":1}"#,
            r#"{"preferences":null}"#,
            r#"{"preferences":true"#,
            r#"{"preferences":true} {}"#,
            "%7B%22preferences%22%3Atrue",
            "%7B%22preferences%22%3Atrue%7D%E",
            "{preferences:true}",
        ] {
            assert_eq!(read(v, &mrw_map()), Reading::Malformed, "{v:?}");
        }
        let deep = format!(r#"{{"x":{}1{}}}"#, "[".repeat(64), "]".repeat(64));
        assert_eq!(read(&deep, &mrw_map()), Reading::Malformed);
        let huge = format!(r#"{{"x":"{}"}}"#, "a".repeat(5000));
        assert_eq!(read(&huge, &mrw_map()), Reading::Malformed);
        // Escaped names are decoded; a cookie full of them still reads in one pass.
        let escaped = format!(
            r#"{{{}"google-\u0061nalytics":true}}"#,
            r#""pref\u0065rence":false,"#.repeat(150)
        );
        assert!(escaped.len() < MAX_VALUE_LEN);
        assert_eq!(
            read(&escaped, &mrw_map()),
            Reading::Decided {
                granted: set(&[2]),
                undecided: set(&[0, 1, 3])
            }
        );
        let huge = format!(r#"{{"x":"{}"}}"#, "a".repeat(MAX_VALUE_LEN));
        assert_eq!(read(&huge, &mrw_map()), Reading::Malformed);
    }
}
