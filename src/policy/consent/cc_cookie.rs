//! orestbida/cookieconsent (v2 and v3): the `cc_cookie` cookie.
//!
//! v3 writes `encodeURIComponent(JSON.stringify(state))` with `categories` (the names of the
//! *accepted* categories, read-only ones such as `necessary` included) and `services` (an object
//! with a key for every category of the site, accepted or not). v2 writes raw JSON (unless
//! `use_rfc_cookie` is on) with `level` (and, from 2.9, the same list as `categories`). The
//! value is read raw when it starts with `{`, otherwise (or if that fails) percent-decoded, as
//! the library's own reader does.
//!
//! The cookie is written only when the visitor accepts or rejects, so a readable cookie is a
//! decision: a category is granted when a name mapped to it is in `categories`. When the v3
//! `services` object lists a mapped name that `categories` does not, that name was refused; a
//! category is then granted only if none of its names was refused.
//!
//! A JSON object without a `categories` (or `level`) array is not malformed but records no
//! decision: the library itself reads such a cookie as "no valid consent" and shows the banner
//! again, so the visitor is still to decide. Text that is not a JSON object, or a `categories`
//! that is not an array of strings, is malformed.

use super::reading::{NameMap, Reading, Tally};
use super::text::{self, Json, JsonStr};
use crate::policy::categories::CategorySet;

/// The consent cookie (the library's default name).
pub const COOKIE: &str = "cc_cookie";

/// Default names mapped on top of the identity on our own category names.
pub(crate) const DEFAULT_EXTRA_MAP: &[(&str, &str)] = &[
    ("marketing", "advertising"),
    ("advertisement", "advertising"),
];

/// More names than this in `categories` or keys in `services` make the cookie malformed; real
/// sites have a handful, and the bound keeps the refused-name check (names × list) small.
const MAX_NAMES: usize = 64;

/// Reads a `cc_cookie` value.
pub fn read(value: &str, map: &NameMap) -> Reading {
    let value = text::unquote(value);
    text::with_json(value, |b| scan(b, map)).unwrap_or(Reading::Malformed)
}

/// Where the accepted names came from: `categories` beats `level` (v2.9 writes both).
#[derive(Copy, Clone, PartialEq, Eq)]
enum Source {
    None,
    Level,
    Categories,
}

/// The accepted names, as raw JSON string contents.
struct Accepted<'a> {
    names: [JsonStr<'a>; MAX_NAMES],
    len: usize,
    from: Source,
}

impl<'a> Accepted<'a> {
    /// Reads an array of strings into the list, replacing what was there.
    fn read(&mut self, j: &mut Json<'a>, from: Source) -> Option<()> {
        self.len = 0;
        self.from = from;
        j.array(|j| {
            let name = j.string()?;
            *self.names.get_mut(self.len)? = name;
            self.len += 1;
            Some(())
        })
    }

    fn iter(&self) -> impl Iterator<Item = JsonStr<'a>> + '_ {
        self.names.iter().take(self.len).copied()
    }
}

fn scan(b: &[u8], map: &NameMap) -> Option<Reading> {
    let mut j = Json::new(b);
    let mut accepted = Accepted {
        names: [JsonStr::EMPTY; MAX_NAMES],
        len: 0,
        from: Source::None,
    };
    let mut services = None;
    j.object(|key, j| {
        if key.eq_str("categories") {
            accepted.read(j, Source::Categories)
        } else if key.eq_str("level") && accepted.from != Source::Categories {
            accepted.read(j, Source::Level)
        } else if key.eq_str("services") && j.peek() == Some(b'{') {
            let start = j.pos();
            j.skip_value()?;
            services = b.get(start..j.pos());
            Some(())
        } else {
            j.skip_value()
        }
    })?;
    if !j.at_end() {
        return None;
    }
    if accepted.from == Source::None {
        return Some(Reading::NoDecision);
    }

    let mut tally = Tally::default();
    for name in accepted.iter() {
        if let Some(category) = name.lookup(map) {
            tally.mention(category, true);
        }
    }
    // A `services` that is not an object is ignored: `categories` alone decides.
    if let Some(services) = services {
        let mut count = 0;
        Json::new(services).object(|key, j| {
            count += 1;
            if count > MAX_NAMES {
                return None;
            }
            if let Some(category) = key.lookup(map) {
                if !accepted.iter().any(|name| name.same(key)) {
                    tally.mention(category, false);
                }
            }
            j.skip_value()
        })?;
    }
    Some(tally.finish(CategorySet::EMPTY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::categories::CategoryId;

    // essential 0, functional 1, analytics 2, advertising 3
    fn map() -> NameMap {
        NameMap::new([
            ("essential".into(), CategoryId(0)),
            ("functional".into(), CategoryId(1)),
            ("analytics".into(), CategoryId(2)),
            ("advertising".into(), CategoryId(3)),
            ("marketing".into(), CategoryId(3)),
            ("advertisement".into(), CategoryId(3)),
        ])
    }

    fn set(ids: &[u8]) -> CategorySet {
        ids.iter().map(|&i| CategoryId(i)).collect()
    }

    const MISTRAL_NECESSARY_ONLY: &str = "%7B%22categories%22%3A%5B%22necessary%22%5D%2C%22revision%22%3A1%2C%22data%22%3Anull%2C%22consentTimestamp%22%3A%222024-11-20T19%3A02%3A36.823Z%22%2C%22consentId%22%3A%2212fd04af-4af6-48a3-8531-b7cf317849d1%22%2C%22services%22%3A%7B%22necessary%22%3A%5B%5D%2C%22analytics%22%3A%5B%5D%2C%22support%22%3A%5B%5D%7D%2C%22lastConsentTimestamp%22%3A%222024-11-20T19%3A02%3A36.823Z%22%2C%22expirationTime%22%3A1747854156824%7D";
    const HIX_ALL: &str = "%7B%22categories%22%3A%5B%22necessary%22%2C%22functional%22%2C%22analytics%22%2C%22advertisement%22%5D%2C%22revision%22%3A0%2C%22data%22%3Anull%2C%22consentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22consentId%22%3A%22b5b97425-c91e-41a6-828e-a0504f76c1b7%22%2C%22services%22%3A%7B%22necessary%22%3A%5B%5D%2C%22functional%22%3A%5B%5D%2C%22analytics%22%3A%5B%5D%2C%22advertisement%22%3A%5B%5D%7D%2C%22lastConsentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22expirationTime%22%3A1751441698964%7D";
    const V2_RAW: &str = r#"{"categories":["necessary","analytics"],"level":["necessary","analytics"],"revision":0,"data":null,"rfc_cookie":false,"consent_date":"2023-05-02T10:00:00.000Z","consent_uuid":"0f8d8a3e-1b1e-4c57-9a76-3c4c0f0a8a11"}"#;
    const V2_LEVEL_ONLY: &str =
        r#"{"level":["necessary","marketing"],"revision":0,"data":null,"rfc_cookie":false}"#;

    #[test]
    fn real_v3_values() {
        assert_eq!(
            read(MISTRAL_NECESSARY_ONLY, &map()),
            Reading::decided(CategorySet::EMPTY)
        );
        assert_eq!(read(HIX_ALL, &map()), Reading::decided(set(&[1, 2, 3])));
    }

    #[test]
    fn v2_raw_json_and_level() {
        assert_eq!(read(V2_RAW, &map()), Reading::decided(set(&[2])));
        assert_eq!(read(V2_LEVEL_ONLY, &map()), Reading::decided(set(&[3])));
        // v2 with use_rfc_cookie: encoded.
        let enc = "%7B%22level%22%3A%5B%22analytics%22%5D%7D";
        assert_eq!(read(enc, &map()), Reading::decided(set(&[2])));
    }

    #[test]
    fn services_keys_not_accepted_are_refusals() {
        // marketing accepted, advertisement listed in services but not accepted: advertising denied.
        let v = r#"{"categories":["necessary","marketing"],"services":{"necessary":[],"marketing":[],"advertisement":[]}}"#;
        assert_eq!(read(v, &map()), Reading::decided(CategorySet::EMPTY));
        // Without the second name in services, marketing alone grants advertising.
        let v = r#"{"categories":["necessary","marketing"],"services":{"necessary":[],"marketing":[]}}"#;
        assert_eq!(read(v, &map()), Reading::decided(set(&[3])));
        // Escaped names compare decoded.
        let v = r#"{"categories":["m\u0061rketing"],"services":{"marketing":["x"]}}"#;
        assert_eq!(read(v, &map()), Reading::decided(set(&[3])));
    }

    #[test]
    fn no_category_list_is_no_decision() {
        assert_eq!(
            read(r#"{"revision":1,"data":null}"#, &map()),
            Reading::NoDecision
        );
        assert_eq!(read("%7B%7D", &map()), Reading::NoDecision);
    }

    #[test]
    fn empty_list_is_a_decision_granting_nothing() {
        assert_eq!(
            read(r#"{"categories":[]}"#, &map()),
            Reading::decided(CategorySet::EMPTY)
        );
    }

    #[test]
    fn malformed() {
        for v in [
            "",
            "necessary",
            "[\"analytics\"]",
            r#"{"categories":"analytics"}"#,
            r#"{"categories":[1,2]}"#,
            r#"{"categories":["analytics"}"#,
            r#"{"categories":["analytics"]}x"#,
            r#"{"categories":["analytics"],}"#,
            "%7B%22categories%22%3A%5B%22analytics%22%5D",
            "%7B%22categories%22%3A%5B%22analytics%22%5D%7D%zz",
            "%7B%22categories%22%3A%5B%22analytics%22%5D%7D%",
            "{'categories':['analytics']}",
        ] {
            assert_eq!(read(v, &map()), Reading::Malformed, "{v:?}");
        }
        let many = format!(
            r#"{{"categories":[{}"analytics"]}}"#,
            "\"x\",".repeat(MAX_NAMES)
        );
        assert_eq!(read(&many, &map()), Reading::Malformed);
        let huge = format!(
            r#"{{"categories":["analytics"],"data":"{}"}}"#,
            "a".repeat(5000)
        );
        assert_eq!(read(&huge, &map()), Reading::Malformed);
    }

    #[test]
    fn odd_services_are_ignored() {
        let v = r#"{"categories":["analytics"],"services":["analytics"]}"#;
        assert_eq!(read(v, &map()), Reading::decided(set(&[2])));
    }
}
