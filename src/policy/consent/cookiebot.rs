//! Cookiebot: the `CookieConsent` cookie.
//!
//! Three shapes are written:
//! - bare `0`: the visitor declined, only strictly necessary cookies may be set;
//! - bare `-1`: the visitor is outside any region that requires consent, everything is accepted;
//! - a JavaScript object literal (unquoted keys, single-quoted strings), usually with `'` and `,`
//!   percent-encoded and `{ } :` raw:
//!   `{stamp:'…',necessary:true,preferences:false,statistics:true,marketing:false,method:'explicit',ver:1,utc:…,region:'de'}`.
//!
//! The value is only percent-decoded: `stamp` is standard base64, whose `+` is literal. Other
//! software (Salesforce Experience Cloud, home-grown banners) also writes a `CookieConsent`
//! cookie, so the value is recognised by shape: anything that is not `0`, `-1` or an object
//! literal with a `stamp` key (`-2`, `true`, `1`, ...) is malformed and never read as consent.

use super::reading::{NameMap, Reading, Tally};
use super::text::{self, Decoding, MAX_VALUE_LEN};
use crate::policy::categories::CategorySet;

/// The consent cookie.
pub const COOKIE: &str = "CookieConsent";

/// The default category map: `(Cookiebot category, our category name)`.
pub(crate) const DEFAULT_MAP: &[(&str, &str)] = &[
    ("preferences", "functional"),
    ("statistics", "analytics"),
    ("marketing", "advertising"),
];

/// Reads a `CookieConsent` value.
pub fn read(value: &str, map: &NameMap) -> Reading {
    let value = text::unquote(value);
    match value {
        // Declined: every optional category is denied.
        "0" => return Reading::decided(CategorySet::EMPTY),
        // Consent not required where the visitor is: every Cookiebot category is accepted (ours
        // that no Cookiebot category maps to are not Cookiebot's to grant).
        "-1" => return Reading::decided(map.categories()),
        _ => {}
    }
    if value.len() > MAX_VALUE_LEN || !(value.starts_with('{') || value.starts_with("%7B")) {
        return Reading::Malformed;
    }
    text::with_decoded(value.as_bytes(), Decoding::Lenient, |b| scan(b, map))
        .flatten()
        .unwrap_or(Reading::Malformed)
}

/// Scans a decoded object literal. `None` when it is not one, or lacks `stamp`.
fn scan(b: &[u8], map: &NameMap) -> Option<Reading> {
    let mut s = Scanner { b, pos: 0 };
    s.expect(b'{')?;
    let mut tally = Tally::default();
    let mut stamp = false;
    if s.peek() == Some(b'}') {
        s.pos += 1;
    } else {
        loop {
            let key = s.key()?;
            s.expect(b':')?;
            let value = s.value()?;
            if key == b"stamp" {
                stamp = true;
            } else if let Some(category) = text::lookup(map, key) {
                match value {
                    Value::Bool(granted) => tally.mention(category, granted),
                    // A category whose value is not a boolean: not a Cookiebot cookie.
                    Value::Other => return None,
                }
            }
            match s.next_byte()? {
                b',' => continue,
                b'}' => break,
                _ => return None,
            }
        }
    }
    if s.peek().is_some() || !stamp {
        return None;
    }
    Some(tally.finish(CategorySet::EMPTY))
}

enum Value {
    Bool(bool),
    Other,
}

/// A scanner for the flat object literal Cookiebot writes.
struct Scanner<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
        self.b.get(self.pos).copied()
    }

    fn next_byte(&mut self) -> Option<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    fn expect(&mut self, c: u8) -> Option<()> {
        (self.next_byte()? == c).then_some(())
    }

    /// A bare identifier, or a single- or double-quoted name.
    fn key(&mut self) -> Option<&'a [u8]> {
        match self.peek()? {
            q @ (b'\'' | b'"') => self.quoted(q),
            _ => {
                let start = self.pos;
                while let Some(c) = self.b.get(self.pos) {
                    if c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                let key = self.b.get(start..self.pos)?;
                (!key.is_empty()).then_some(key)
            }
        }
    }

    /// The text of a quoted string (a backslash escapes the next byte).
    fn quoted(&mut self, quote: u8) -> Option<&'a [u8]> {
        self.pos += 1;
        let start = self.pos;
        loop {
            let rest = self.b.get(self.pos..)?;
            let stop = memchr::memchr2(quote, b'\\', rest)?;
            if *rest.get(stop)? == quote {
                let s = self.b.get(start..self.pos + stop)?;
                self.pos += stop + 1;
                return Some(s);
            }
            self.pos += stop + 2;
        }
    }

    /// A scalar value: boolean, quoted string, number or `null`.
    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            q @ (b'\'' | b'"') => self.quoted(q).map(|_| Value::Other),
            _ => {
                let start = self.pos;
                while let Some(c) = self.b.get(self.pos) {
                    if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'+' | b'.') {
                        self.pos += 1;
                    } else {
                        break;
                    }
                }
                match self.b.get(start..self.pos)? {
                    b"true" => Some(Value::Bool(true)),
                    b"false" => Some(Value::Bool(false)),
                    b"" => None,
                    word if word == b"null" || is_number(word) => Some(Value::Other),
                    _ => None,
                }
            }
        }
    }
}

fn is_number(w: &[u8]) -> bool {
    let digits = w.strip_prefix(b"-").unwrap_or(w);
    !digits.is_empty()
        && digits.iter().all(|c| c.is_ascii_digit() || *c == b'.')
        && digits.first().is_some_and(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::categories::CategoryId;

    // essential 0, functional 1, analytics 2, advertising 3
    fn map() -> NameMap {
        NameMap::new([
            ("preferences".into(), CategoryId(1)),
            ("statistics".into(), CategoryId(2)),
            ("marketing".into(), CategoryId(3)),
        ])
    }

    fn set(ids: &[u8]) -> CategorySet {
        ids.iter().map(|&i| CategoryId(i)).collect()
    }

    const REJECTED: &str = "{stamp:%27PuSKzMgziAFdTLa5FzFSr4vbvlQnA4IdhLZfeZ+9fBM/j32CWy3XGA==%27%2Cnecessary:true%2Cpreferences:false%2Cstatistics:false%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1738313789122%2Cregion:%27ee%27}";
    const ACCEPTED: &str = "{stamp:%27Rm4fk9DeBCocbMY0P1wAkhbWQwf/ZwpnE42dfSJEeEb1ig7OJsnysA==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:true%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1684336814039%2Cregion:%27ro%27}";
    const PARTIAL: &str = "{stamp:%27JF1BlMmicaH7oY2UaAIErFsbGcumN9Nk3waAQxcgqrg4VhDrwOmjZg==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:2%2Cutc:1765222520311%2Cregion:%27fr%27}";
    const IMPLIED: &str = "{stamp:%27-1%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:true%2Cmethod:%27implied%27%2Cver:1%2Cutc:1751841903047%2Cregion:%27US-37%27}";
    const OLD: &str = "{stamp:%270lIcpTegmrXke0YX5PV8GQveHMzQq0C2e1NI4/Bw/d5voEO6b2VlnQ==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:false%2Cmarketing:false%2Cver:1%2Cutc:1647157895720%2Cregion:%27lt%27}";
    const UNENCODED: &str = "{stamp:'IupX8H2MQByHJ6OkV6tV5h07Jfa3CdZW37eiTq4xeq152kyW7v/zTQ==',necessary:true,preferences:false,statistics:false,marketing:false,method:'explicit',ver:1,utc:1729950414219,region:'it'}";

    #[test]
    fn bare_values() {
        assert_eq!(read("0", &map()), Reading::decided(CategorySet::EMPTY));
        assert_eq!(read("-1", &map()), Reading::decided(set(&[1, 2, 3])));
        assert_eq!(read("\"-1\"", &map()), Reading::decided(set(&[1, 2, 3])));
    }

    #[test]
    fn unknown_bare_values_are_malformed() {
        for v in [
            "-2", "1", "2", "-0", "00", "true", "yes", "", " ", "null", "[]",
        ] {
            assert_eq!(read(v, &map()), Reading::Malformed, "{v:?}");
        }
    }

    #[test]
    fn real_objects() {
        assert_eq!(read(REJECTED, &map()), Reading::decided(CategorySet::EMPTY));
        assert_eq!(read(ACCEPTED, &map()), Reading::decided(set(&[1, 2, 3])));
        assert_eq!(read(PARTIAL, &map()), Reading::decided(set(&[1, 2])));
        assert_eq!(read(IMPLIED, &map()), Reading::decided(set(&[1, 2, 3])));
        assert_eq!(read(OLD, &map()), Reading::decided(set(&[1])));
        assert_eq!(
            read(UNENCODED, &map()),
            Reading::decided(CategorySet::EMPTY)
        );
    }

    #[test]
    fn fully_encoded_and_json_shaped_objects() {
        let full = "%7Bstamp%3A%27abc%2B%2F%3D%3D%27%2Cnecessary%3Atrue%2Cpreferences%3Atrue%2Cstatistics%3Afalse%2Cmarketing%3Atrue%7D";
        assert_eq!(read(full, &map()), Reading::decided(set(&[1, 3])));
        let json = r#"{"stamp":"x","necessary":true,"preferences":false,"statistics":true,"marketing":false}"#;
        assert_eq!(read(json, &map()), Reading::decided(set(&[2])));
        // `+` inside stamp is not a space, and spaces between tokens are allowed.
        let spaced = "{ stamp : 'a+b' , statistics : true }";
        assert_eq!(read(spaced, &map()), Reading::decided(set(&[2])));
    }

    #[test]
    fn missing_categories_are_denied() {
        let v = "{stamp:%27x%27%2Cnecessary:true%2Cstatistics:true}";
        assert_eq!(read(v, &map()), Reading::decided(set(&[2])));
    }

    #[test]
    fn other_shapes_are_malformed() {
        for v in [
            // no stamp: not Cookiebot's
            "{necessary:true,statistics:true}",
            "{}",
            // wrong types for a mapped category
            "{stamp:'x',statistics:'true'}",
            "{stamp:'x',statistics:1}",
            "{stamp:'x',statistics:{a:1}}",
            // truncated
            "{stamp:%27PuSKzMgz",
            "{stamp:'x',statistics:true",
            "{stamp:'x',statistics:",
            "{stamp:'x',",
            // trailing garbage
            "{stamp:'x'}x",
            "{stamp:'x'};",
            // bad tokens
            "{stamp:'x',,statistics:true}",
            "{stamp:'x',statistics:tru}",
            "{stamp:'x',:true}",
            "{stamp:'x',a b:true}",
            "{stamp:'x',n:-}",
            "%7B%7D",
            "{\u{e9}:1}",
        ] {
            assert_eq!(read(v, &map()), Reading::Malformed, "{v:?}");
        }
        let huge = format!("{{stamp:'{}',statistics:true}}", "a".repeat(5000));
        assert_eq!(read(&huge, &map()), Reading::Malformed);
    }

    #[test]
    fn unmapped_keys_take_any_scalar() {
        let v = "{stamp:'x',ver:-1.5,region:null,iab2:'CPx',statistics:true}";
        assert_eq!(read(v, &map()), Reading::decided(set(&[2])));
    }
}
