//! Text helpers the consent-cookie parsers share: bounded percent-decoding into a stack buffer,
//! and a small JSON scanner for the flat objects some consent platforms store.
//!
//! Everything here is written for hostile input: lengths are capped, nesting is bounded, nothing
//! indexes past a slice or splits a `str` off a character boundary, and no heap allocation
//! happens.

use super::reading::NameMap;
use crate::policy::categories::CategoryId;

/// The longest cookie value a parser looks at. RFC 6265bis makes browsers drop a cookie whose
/// name and value together exceed 4096 octets, so a longer value was not written by a banner;
/// parsers read it as malformed instead of scanning it.
pub const MAX_VALUE_LEN: usize = 4096;

/// Decoded values up to this length use a small stack buffer; longer ones (up to
/// [`MAX_VALUE_LEN`]) a larger one.
const SMALL_BUF: usize = 512;

/// How `%XX` escapes and `+` are read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Decoding {
    /// `application/x-www-form-urlencoded`, as `URLSearchParams` reads it: `+` is a space and an
    /// invalid escape stays literal.
    Form,
    /// `decodeURIComponent`/`unescape`-style: `+` stays literal, an invalid escape stays literal.
    Lenient,
    /// `decodeURIComponent` as `JSON.parse(decodeURIComponent(v))` readers use it: `+` stays
    /// literal and an invalid escape fails the whole value.
    Strict,
}

/// Strips one pair of surrounding double quotes (RFC 6265 allows a quoted cookie value) and
/// surrounding spaces and tabs.
pub fn unquote(value: &str) -> &str {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner,
        None => v,
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `input` into `out`; `None` when `out` is too small or a strict escape is invalid.
fn decode_into(input: &[u8], how: Decoding, out: &mut [u8]) -> Option<usize> {
    let mut i = 0;
    let mut n = 0;
    while let Some(&b) = input.get(i) {
        let (byte, used) = match b {
            b'%' => match (
                input.get(i + 1).copied().and_then(hex),
                input.get(i + 2).copied().and_then(hex),
            ) {
                (Some(h), Some(l)) => ((h << 4) | l, 3),
                _ if how == Decoding::Strict => return None,
                _ => (b'%', 1),
            },
            b'+' if how == Decoding::Form => (b' ', 1),
            _ => (b, 1),
        };
        *out.get_mut(n)? = byte;
        n += 1;
        i += used;
    }
    Some(n)
}

/// Runs `f` on the percent-decoded bytes of `input`, without allocating: a value with nothing to
/// decode is passed through, others are decoded into a stack buffer. `None` when `input` is
/// longer than [`MAX_VALUE_LEN`] or, with [`Decoding::Strict`], holds an invalid escape.
pub fn with_decoded<R>(input: &str, how: Decoding, f: impl FnOnce(&[u8]) -> R) -> Option<R> {
    let bytes = input.as_bytes();
    if bytes.len() > MAX_VALUE_LEN {
        return None;
    }
    let needs = bytes
        .iter()
        .any(|&b| b == b'%' || (b == b'+' && how == Decoding::Form));
    if !needs {
        return Some(f(bytes));
    }
    if bytes.len() <= SMALL_BUF {
        let mut buf = [0u8; SMALL_BUF];
        let n = decode_into(bytes, how, &mut buf)?;
        Some(f(buf.get(..n)?))
    } else {
        let mut buf = [0u8; MAX_VALUE_LEN];
        let n = decode_into(bytes, how, &mut buf)?;
        Some(f(buf.get(..n)?))
    }
}

/// Trims ASCII spaces and tabs from both ends of a byte slice.
pub fn trim(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// Looks a byte-string name up in a [`NameMap`] (names that are not UTF-8 match nothing).
pub fn lookup(map: &NameMap, name: &[u8]) -> Option<CategoryId> {
    std::str::from_utf8(name).ok().and_then(|s| map.get(s))
}

/// How deep [`Json::skip_value`] follows nested arrays and objects before giving up.
const MAX_DEPTH: u32 = 16;

/// The raw text of a JSON string between its quotes, escapes validated but not decoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct JsonStr<'a>(pub &'a [u8]);

impl JsonStr<'_> {
    /// Whether the decoded string equals `s`. Escapes are decoded on the fly; a lone surrogate
    /// equals nothing.
    pub fn eq_str(self, s: &str) -> bool {
        if !self.0.contains(&b'\\') {
            return self.0 == s.as_bytes();
        }
        let want = s.as_bytes();
        let mut w = 0;
        let mut chars = Unescape {
            raw: self.0,
            pos: 0,
        };
        loop {
            match chars.next_char() {
                None => return w == want.len(),
                Some(None) => return false,
                Some(Some(c)) => {
                    let mut tmp = [0u8; 4];
                    let enc = c.encode_utf8(&mut tmp).as_bytes();
                    match want.get(w..w + enc.len()) {
                        Some(part) if part == enc => w += enc.len(),
                        _ => return false,
                    }
                }
            }
        }
    }

    /// Decodes the string into `buf`; `None` if it does not fit or is not Unicode text.
    pub fn decode_into(self, buf: &mut [u8]) -> Option<&str> {
        let mut n = 0;
        let mut chars = Unescape {
            raw: self.0,
            pos: 0,
        };
        while let Some(c) = chars.next_char() {
            let c = c?;
            let len = c.len_utf8();
            c.encode_utf8(buf.get_mut(n..n + len)?);
            n += len;
        }
        std::str::from_utf8(buf.get(..n)?).ok()
    }

    /// The category the decoded string maps to.
    pub fn lookup(self, map: &NameMap) -> Option<CategoryId> {
        if !self.0.contains(&b'\\') {
            return lookup(map, self.0);
        }
        map.iter().find(|(n, _)| self.eq_str(n)).map(|(_, c)| c)
    }
}

/// Decodes the escapes of a validated [`JsonStr`] one character at a time.
struct Unescape<'a> {
    raw: &'a [u8],
    pos: usize,
}

impl Unescape<'_> {
    fn hex4(&mut self) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..4 {
            v = (v << 4) | u32::from(hex(*self.raw.get(self.pos)?)?);
            self.pos += 1;
        }
        Some(v)
    }

    /// `None` at the end; `Some(None)` for text that is no Unicode scalar (a lone surrogate,
    /// or bytes that are not UTF-8).
    fn next_char(&mut self) -> Option<Option<char>> {
        let b = *self.raw.get(self.pos)?;
        if b != b'\\' {
            // Copy one UTF-8 sequence.
            let len = match b {
                0x00..=0x7f => 1,
                0xc0..=0xdf => 2,
                0xe0..=0xef => 3,
                _ => 4,
            };
            let seq = self.raw.get(self.pos..self.pos + len);
            self.pos += len;
            return Some(
                seq.and_then(|s| std::str::from_utf8(s).ok())
                    .and_then(|s| s.chars().next()),
            );
        }
        let esc = *self.raw.get(self.pos + 1)?;
        self.pos += 2;
        Some(match esc {
            b'"' => Some('"'),
            b'\\' => Some('\\'),
            b'/' => Some('/'),
            b'b' => Some('\u{8}'),
            b'f' => Some('\u{c}'),
            b'n' => Some('\n'),
            b'r' => Some('\r'),
            b't' => Some('\t'),
            b'u' => {
                let Some(hi) = self.hex4() else {
                    return Some(None);
                };
                if (0xd800..0xdc00).contains(&hi) {
                    if self.raw.get(self.pos..self.pos + 2) != Some(b"\\u") {
                        return Some(None);
                    }
                    self.pos += 2;
                    match self.hex4() {
                        Some(lo) if (0xdc00..0xe000).contains(&lo) => {
                            char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))
                        }
                        _ => None,
                    }
                } else {
                    char::from_u32(hi)
                }
            }
            _ => None,
        })
    }
}

/// A forward-only JSON scanner over a byte slice. Every method returns `None` on text that is not
/// JSON; after that the scanner's position is unspecified and it should be dropped.
pub struct Json<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Json<'a> {
    pub fn new(b: &'a [u8]) -> Json<'a> {
        Json { b, pos: 0 }
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.b.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The current position in the input (before any whitespace).
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// The next significant byte, without consuming it.
    pub fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.pos).copied()
    }

    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        self.ws();
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    /// Whether only whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string; its escapes are validated, control characters rejected.
    pub fn string(&mut self) -> Option<JsonStr<'a>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        loop {
            match *self.b.get(self.pos)? {
                b'"' => {
                    let s = self.b.get(start..self.pos)?;
                    self.pos += 1;
                    return Some(JsonStr(s));
                }
                b'\\' => match *self.b.get(self.pos + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                    b'u' => {
                        let digits = self.b.get(self.pos + 2..self.pos + 6)?;
                        if !digits.iter().all(u8::is_ascii_hexdigit) {
                            return None;
                        }
                        self.pos += 6;
                    }
                    _ => return None,
                },
                0x00..=0x1f => return None,
                _ => self.pos += 1,
            }
        }
    }

    /// A boolean, or `None` (position unchanged apart from whitespace) if the next value is not
    /// one.
    pub fn boolean(&mut self) -> Option<bool> {
        if self.literal(b"true") {
            Some(true)
        } else if self.literal(b"false") {
            Some(false)
        } else {
            None
        }
    }

    fn number(&mut self) -> Option<()> {
        self.ws();
        let digits = |s: &mut Self| {
            let start = s.pos;
            while let Some(b'0'..=b'9') = s.b.get(s.pos) {
                s.pos += 1;
            }
            s.pos > start
        };
        if self.b.get(self.pos) == Some(&b'-') {
            self.pos += 1;
        }
        if !digits(self) {
            return None;
        }
        if self.b.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return None;
            }
        }
        if let Some(b'e' | b'E') = self.b.get(self.pos) {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.b.get(self.pos) {
                self.pos += 1;
            }
            if !digits(self) {
                return None;
            }
        }
        Some(())
    }

    /// Skips any value, following at most [`MAX_DEPTH`] levels of nesting.
    pub fn skip_value(&mut self) -> Option<()> {
        self.skip_nested(0)
    }

    fn skip_nested(&mut self, depth: u32) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' => self.object(|_, j| j.skip_nested(depth + 1)),
            b'[' => self.array(|j| j.skip_nested(depth + 1)),
            b't' | b'f' => self.boolean().map(drop),
            b'n' => self.literal(b"null").then_some(()),
            _ => self.number(),
        }
    }

    /// An object: calls `member` with each key, positioned at its value, which `member` must
    /// consume.
    pub fn object(
        &mut self,
        mut member: impl FnMut(JsonStr<'a>, &mut Self) -> Option<()>,
    ) -> Option<()> {
        if !self.eat(b'{') {
            return None;
        }
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let key = self.string()?;
            if !self.eat(b':') {
                return None;
            }
            member(key, self)?;
            if self.eat(b'}') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    /// An array: calls `element` positioned at each element, which `element` must consume.
    pub fn array(&mut self, mut element: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if !self.eat(b'[') {
            return None;
        }
        if self.eat(b']') {
            return Some(());
        }
        loop {
            element(self)?;
            if self.eat(b']') {
                return Some(());
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }
}

/// Decodes a value that holds a JSON document either raw or percent-encoded (as
/// `encodeURIComponent(JSON.stringify(x))` writes it) and runs `f` on its bytes. A value that
/// starts with `{` is tried raw first, as the libraries' own readers do, then decoded.
pub fn with_json<R>(value: &str, mut f: impl FnMut(&[u8]) -> Option<R>) -> Option<R> {
    if value.len() > MAX_VALUE_LEN {
        return None;
    }
    if value.starts_with('{') {
        if let Some(r) = f(value.as_bytes()) {
            return Some(r);
        }
        if !value.contains('%') {
            return None;
        }
    }
    with_decoded(value, Decoding::Strict, f).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str, how: Decoding) -> Option<String> {
        with_decoded(s, how, |b| String::from_utf8_lossy(b).into_owned())
    }

    #[test]
    fn percent_decoding_modes() {
        assert_eq!(dec("a%3Ab+c", Decoding::Form).unwrap(), "a:b c");
        assert_eq!(dec("a%3ab+c", Decoding::Lenient).unwrap(), "a:b+c");
        assert_eq!(dec("100%", Decoding::Lenient).unwrap(), "100%");
        assert_eq!(dec("%zz%4", Decoding::Form).unwrap(), "%zz%4");
        assert_eq!(dec("%zz", Decoding::Strict), None);
        assert_eq!(dec("%4", Decoding::Strict), None);
        assert_eq!(dec("plain", Decoding::Strict).unwrap(), "plain");
        assert_eq!(dec("%E2%82%AC", Decoding::Strict).unwrap(), "€");
    }

    #[test]
    fn long_values_use_the_large_buffer_and_are_capped() {
        let v = "%41".repeat(1000);
        assert_eq!(dec(&v, Decoding::Strict).unwrap(), "A".repeat(1000));
        let too_long = "a".repeat(MAX_VALUE_LEN + 1);
        assert_eq!(dec(&too_long, Decoding::Lenient), None);
    }

    #[test]
    fn unquote_and_trim() {
        assert_eq!(unquote(" \"abc\" "), "abc");
        assert_eq!(unquote("\"abc"), "\"abc");
        assert_eq!(unquote("\""), "\"");
        assert_eq!(trim(b" \tx y\t "), b"x y");
        assert_eq!(trim(b"   "), b"");
    }

    #[test]
    fn json_scanner_reads_nested_values() {
        let doc = br#" {"a": [1, -2.5e3, "x\"y", true, null], "b": {"c": {}}, "d": false} "#;
        let mut j = Json::new(doc);
        let mut keys = Vec::new();
        j.object(|k, j| {
            keys.push(String::from_utf8_lossy(k.0).into_owned());
            j.skip_value()
        })
        .unwrap();
        assert!(j.at_end());
        assert_eq!(keys, ["a", "b", "d"]);
    }

    #[test]
    fn json_scanner_rejects_bad_text() {
        for bad in [
            &b"{"[..],
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"[1 2]",
            b"\"\\x\"",
            b"\"a\nb\"",
            b"-",
            b"1.",
            b"tru",
            b"\"\\u12\"",
        ] {
            assert_eq!(Json::new(bad).skip_value(), None, "{:?}", bad);
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert_eq!(Json::new(deep.as_bytes()).skip_value(), None);
        let ok = "[".repeat(10) + &"]".repeat(10);
        assert_eq!(Json::new(ok.as_bytes()).skip_value(), Some(()));
    }

    #[test]
    fn json_string_equality_decodes_escapes() {
        assert!(JsonStr(b"abc").eq_str("abc"));
        assert!(!JsonStr(b"abc").eq_str("ab"));
        assert!(JsonStr(br"a\u0062c").eq_str("abc"));
        assert!(JsonStr(br"\/\\\n").eq_str("/\\\n"));
        assert!(JsonStr(br"\ud83d\ude00").eq_str("😀"));
        assert!(JsonStr("caf\\u00e9".as_bytes()).eq_str("café"));
        assert!(!JsonStr(br"\ud83d").eq_str("\u{fffd}"));
        assert!(!JsonStr(br"a\u0062").eq_str("abc"));
        assert!(!JsonStr(br"a\u0062cd").eq_str("abc"));
        let mut buf = [0u8; 8];
        assert_eq!(JsonStr(br"a\u0062c").decode_into(&mut buf), Some("abc"));
        assert_eq!(JsonStr(br"\ud83d").decode_into(&mut buf), None);
        assert_eq!(JsonStr(b"123456789").decode_into(&mut buf), None);
    }

    #[test]
    fn with_json_tries_raw_then_decoded() {
        let raw = with_json("{\"a\":1}", |b| Some(b.len()));
        assert_eq!(raw, Some(7));
        let enc = with_json("%7B%22a%22%3A1%7D", |b| {
            Json::new(b).skip_value().map(|_| b.len())
        });
        assert_eq!(enc, Some(7));
        // Partly encoded: raw parse fails, decoded parse succeeds.
        let part = with_json("{%22a%22:1}", |b| {
            Json::new(b).skip_value().map(|_| b.len())
        });
        assert_eq!(part, Some(7));
        assert_eq!(with_json("%7B%zz", |_| Some(())), None);
    }
}
