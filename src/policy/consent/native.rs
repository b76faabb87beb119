//! The native consent cookie: `consentry=<category>,<category>,...`.
//!
//! The value lists the granted categories, separated by `,` (or its percent-encoding `%2C`, as
//! `encodeURIComponent` writes it). `all` grants every category; an empty value or `none` is a
//! decision that grants nothing, and so does a value that lists `none` beside anything else (a
//! contradiction never grants). Category names the configuration does not know are ignored; a
//! token with characters no category name can have makes the cookie malformed.

use super::reading::Reading;
use crate::policy::categories::{Categories, CategorySet};

/// Reads a native cookie value against the configured categories.
pub fn read(value: &str, categories: &Categories) -> Reading {
    let value = value.trim_matches(|c| c == ' ' || c == '\t' || c == '"');
    let mut granted = CategorySet::EMPTY;
    let mut none = false;
    for token in split_list(value) {
        let token = token.trim_matches(|c| c == ' ' || c == '\t' || c == '+');
        if token.is_empty() {
            continue;
        }
        if !token.bytes().all(is_name_byte) {
            return Reading::Malformed;
        }
        match token {
            "all" => granted = categories.all(),
            "none" => none = true,
            name => {
                if let Some(id) = categories.lookup(name) {
                    granted.insert(id);
                }
            }
        }
    }
    // `none` beside other entries is a contradiction: it grants nothing rather than anything.
    if none {
        granted = CategorySet::EMPTY;
    }
    Reading::decided(granted)
}

/// Bytes a category name may contain in the cookie.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':')
}

/// Splits on `,` and on `%2C` / `%2c`.
fn split_list(value: &str) -> impl Iterator<Item = &str> {
    let bytes = value.as_bytes();
    let mut start = 0;
    let mut i = 0;
    let mut done = false;
    std::iter::from_fn(move || {
        if done {
            return None;
        }
        while i < bytes.len() {
            if bytes[i] == b',' {
                let tok = &value[start..i];
                i += 1;
                start = i;
                return Some(tok);
            }
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && bytes[i + 1] == b'2'
                && (bytes[i + 2] | 0x20) == b'c'
            {
                let tok = &value[start..i];
                i += 3;
                start = i;
                return Some(tok);
            }
            i += 1;
        }
        done = true;
        Some(&value[start..])
    })
}

/// The value a banner writes for a set of granted categories (used by the demo and in tests).
pub fn encode(granted: CategorySet, categories: &Categories) -> String {
    if granted.is_empty() {
        return "none".to_string();
    }
    granted
        .iter()
        .map(|id| categories.name(id))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::categories::CategoryId;

    fn cats() -> Categories {
        Categories::new([
            ("essential", true),
            ("functional", false),
            ("analytics", false),
            ("advertising", false),
        ])
    }

    fn set(ids: &[u8]) -> CategorySet {
        ids.iter().map(|&i| CategoryId(i)).collect()
    }

    #[test]
    fn lists_granted_categories() {
        assert_eq!(
            read("functional,analytics", &cats()),
            Reading::decided(set(&[1, 2]))
        );
        assert_eq!(
            read("analytics%2Cadvertising", &cats()),
            Reading::decided(set(&[2, 3]))
        );
        assert_eq!(
            read("analytics%2cfunctional", &cats()),
            Reading::decided(set(&[1, 2]))
        );
        assert_eq!(read(" analytics , ", &cats()), Reading::decided(set(&[2])));
        assert_eq!(read("\"analytics\"", &cats()), Reading::decided(set(&[2])));
    }

    #[test]
    fn all_none_and_empty() {
        assert_eq!(read("all", &cats()), Reading::decided(set(&[0, 1, 2, 3])));
        assert_eq!(read("none", &cats()), Reading::decided(CategorySet::EMPTY));
        assert_eq!(read("", &cats()), Reading::decided(CategorySet::EMPTY));
    }

    #[test]
    fn none_beside_anything_grants_nothing() {
        for v in [
            "none,all",
            "all,none",
            "analytics,none",
            "none%2Cadvertising",
        ] {
            assert_eq!(
                read(v, &cats()),
                Reading::decided(CategorySet::EMPTY),
                "{v}"
            );
        }
        assert_eq!(
            read("all,analytics", &cats()),
            Reading::decided(set(&[0, 1, 2, 3]))
        );
    }

    #[test]
    fn unknown_names_are_ignored_and_case_matters() {
        assert_eq!(
            read("Analytics,marketing", &cats()),
            Reading::decided(CategorySet::EMPTY)
        );
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(read("{\"a\":1}", &cats()), Reading::Malformed);
        assert_eq!(read("analytics;x", &cats()), Reading::Malformed);
        assert_eq!(read("%", &cats()), Reading::Malformed);
    }

    #[test]
    fn encode_round_trips() {
        let c = cats();
        let v = encode(set(&[1, 3]), &c);
        assert_eq!(v, "functional,advertising");
        assert_eq!(read(&v, &c), Reading::decided(set(&[1, 3])));
        assert_eq!(
            read(&encode(CategorySet::EMPTY, &c), &c),
            Reading::decided(CategorySet::EMPTY)
        );
    }
}
