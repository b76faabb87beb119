//! A small JSON scanner for the flat objects some consent platforms store, written for hostile
//! input like the rest of [`super::text`]: nesting is bounded, strings are validated in place and
//! nothing is allocated.

use super::reading::NameMap;
use super::text::{hex, lookup, with_decoded, Decoding, MAX_VALUE_LEN};
use crate::policy::categories::CategoryId;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `x` that is below `n` (`n <= 0x80`). Exact for the lowest such
/// byte, which is all the callers use.
fn bytes_below(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(n)) & !x & HIGH
}

/// The high bit of each byte of `x` equal to `b` (exact for the lowest one).
fn bytes_equal(x: u64, b: u8) -> u64 {
    bytes_below(x ^ (ONES * u64::from(b)), 1)
}

/// The index of the first `"`, `\\` or control character in `s`, eight bytes at a time. (A
/// class of 34 bytes is more than `memchr` searches for, which is three at most.)
fn find_string_special(s: &[u8]) -> Option<usize> {
    let mut chunks = s.chunks_exact(8);
    let mut base = 0;
    for chunk in &mut chunks {
        let Ok(bytes) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let x = u64::from_le_bytes(bytes);
        let h = bytes_equal(x, b'"') | bytes_equal(x, b'\\') | bytes_below(x, 0x20);
        if h != 0 {
            return Some(base + (h.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|p| base + p)
}

/// How deep [`Json::skip_value`] follows nested arrays and objects before giving up.
const MAX_DEPTH: u32 = 16;

/// The longest decoded name an escaped JSON string is looked up as.
pub(crate) const MAX_ESCAPED_NAME: usize = 256;

/// The raw text of a JSON string between its quotes, escapes validated but not decoded.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct JsonStr<'a> {
    raw: &'a [u8],
    escaped: bool,
}

impl<'a> JsonStr<'a> {
    pub(crate) const EMPTY: JsonStr<'static> = JsonStr {
        raw: b"",
        escaped: false,
    };

    /// Wraps raw string contents (escapes are assumed valid).
    #[cfg(test)]
    pub(crate) fn new(raw: &'a [u8]) -> JsonStr<'a> {
        JsonStr {
            raw,
            escaped: raw.contains(&b'\\'),
        }
    }

    /// The text between the quotes, escapes undecoded.
    #[cfg(test)]
    pub(crate) fn raw(self) -> &'a [u8] {
        self.raw
    }

    /// Whether the decoded string equals `s`. Escapes are decoded on the fly; a lone surrogate
    /// equals nothing.
    pub(crate) fn eq_str(self, s: &str) -> bool {
        if !self.escaped {
            return self.raw == s.as_bytes();
        }
        let want = s.as_bytes();
        let mut w = 0;
        let mut chars = Unescape {
            raw: self.raw,
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

    /// Whether two strings are equal once decoded.
    pub fn same(self, other: JsonStr<'_>) -> bool {
        if !self.escaped && !other.escaped {
            return self.raw == other.raw;
        }
        let mut buf = [0u8; MAX_ESCAPED_NAME];
        match (self.escaped, other.escaped) {
            (true, false) => std::str::from_utf8(other.raw).is_ok_and(|s| self.eq_str(s)),
            (false, true) => std::str::from_utf8(self.raw).is_ok_and(|s| other.eq_str(s)),
            _ => other.decode_into(&mut buf).is_some_and(|s| self.eq_str(s)),
        }
    }

    /// Decodes the string into `buf`; `None` if it does not fit or is not Unicode text.
    pub(crate) fn decode_into(self, buf: &mut [u8]) -> Option<&str> {
        let mut n = 0;
        let mut chars = Unescape {
            raw: self.raw,
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

    /// The category the decoded string maps to. An escaped string is decoded once (into a stack
    /// buffer) and then compared, so a cookie full of escaped names costs no more than a plain
    /// one; an escaped name longer than [`MAX_ESCAPED_NAME`] once decoded maps to nothing.
    pub fn lookup(self, map: &NameMap) -> Option<CategoryId> {
        if !self.escaped {
            return lookup(map, self.raw);
        }
        let mut buf = [0u8; MAX_ESCAPED_NAME];
        self.decode_into(&mut buf)
            .and_then(|name| map.get_bytes(name.as_bytes()))
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
        if b.is_ascii() && b != b'\\' {
            self.pos += 1;
            return Some(Some(char::from(b)));
        }
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
pub(crate) struct Json<'a> {
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
    pub(crate) fn peek(&mut self) -> Option<u8> {
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
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string; its escapes are validated, control characters rejected.
    pub fn string(&mut self) -> Option<JsonStr<'a>> {
        if !self.eat(b'"') {
            return None;
        }
        let start = self.pos;
        let mut escaped = false;
        loop {
            let rest = self.b.get(self.pos..)?;
            let stop = find_string_special(rest)?;
            self.pos += stop;
            match *rest.get(stop)? {
                b'"' => {
                    let raw = self.b.get(start..self.pos)?;
                    self.pos += 1;
                    return Some(JsonStr { raw, escaped });
                }
                b'\\' => {
                    escaped = true;
                    match *rest.get(stop + 1)? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                        b'u' => {
                            let digits = rest.get(stop + 2..stop + 6)?;
                            if !digits.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.pos += 6;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
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

    /// Skips any value, following at most 16 levels of nested arrays and objects.
    pub(crate) fn skip_value(&mut self) -> Option<()> {
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
    pub(crate) fn object(
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
pub(crate) fn with_json<R>(value: &str, mut f: impl FnMut(&[u8]) -> Option<R>) -> Option<R> {
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
    with_decoded(value.as_bytes(), Decoding::Strict, f).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_scanner_reads_nested_values() {
        let doc = br#" {"a": [1, -2.5e3, "x\"y", true, null], "b": {"c": {}}, "d": false} "#;
        let mut j = Json::new(doc);
        let mut keys = Vec::new();
        j.object(|k, j| {
            keys.push(String::from_utf8_lossy(k.raw()).into_owned());
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
    fn string_scan_finds_the_first_special_byte() {
        for (s, want) in [
            (&b""[..], None),
            (b"abc", None),
            (b"abcdefghijklmnop", None),
            (b"\"", Some(0)),
            (b"abcdefg\"", Some(7)),
            (b"abcdefgh\"", Some(8)),
            (b"abcdefghijk\\x\"", Some(11)),
            (b"ab\ncd\"", Some(2)),
            (b"\xc3\xa9\xff\x80abcdef\x1f", Some(10)),
            (b"\x7f\x20!#[]~\xe2\x82\xac0123456789", None),
        ] {
            assert_eq!(find_string_special(s), want, "{s:?}");
        }
        // Every position and every byte value, against the plain definition.
        for len in 0..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    let plain = v.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
                    assert_eq!(find_string_special(&v), plain, "{v:?}");
                }
            }
        }
    }

    #[test]
    fn escaped_names_are_looked_up_decoded() {
        let map = NameMap::new([
            ("googleAnalytics".into(), CategoryId(2)),
            ("caf\u{e9}".into(), CategoryId(1)),
        ]);
        assert_eq!(
            JsonStr::new(b"googleAnalytics").lookup(&map),
            Some(CategoryId(2))
        );
        assert_eq!(
            JsonStr::new(br"google\u0041nalytics").lookup(&map),
            Some(CategoryId(2))
        );
        assert_eq!(
            JsonStr::new(br"caf\u00e9").lookup(&map),
            Some(CategoryId(1))
        );
        assert_eq!(JsonStr::new(br"caf\u00e8").lookup(&map), None);
        let long = format!("{}\\u0041", "a".repeat(MAX_ESCAPED_NAME));
        assert_eq!(JsonStr::new(long.as_bytes()).lookup(&map), None);
    }

    #[test]
    fn json_string_equality_decodes_escapes() {
        assert!(JsonStr::new(b"abc").eq_str("abc"));
        assert!(!JsonStr::new(b"abc").eq_str("ab"));
        assert!(JsonStr::new(br"a\u0062c").eq_str("abc"));
        assert!(JsonStr::new(br"\/\\\n").eq_str("/\\\n"));
        assert!(JsonStr::new(br"\ud83d\ude00").eq_str("😀"));
        assert!(JsonStr::new("caf\\u00e9".as_bytes()).eq_str("café"));
        assert!(!JsonStr::new(br"\ud83d").eq_str("\u{fffd}"));
        assert!(!JsonStr::new(br"a\u0062").eq_str("abc"));
        assert!(!JsonStr::new(br"a\u0062cd").eq_str("abc"));
        assert!(JsonStr::new(br"a\u0062c").same(JsonStr::new(b"abc")));
        assert!(JsonStr::new(b"abc").same(JsonStr::new(br"\u0061bc")));
        assert!(JsonStr::new(br"\u0061bc").same(JsonStr::new(br"a\u0062c")));
        assert!(!JsonStr::new(br"\u0061bc").same(JsonStr::new(br"a\u0062d")));
        assert!(!JsonStr::new(b"abc").same(JsonStr::new(b"abd")));
        let mut buf = [0u8; 8];
        assert_eq!(
            JsonStr::new(br"a\u0062c").decode_into(&mut buf),
            Some("abc")
        );
        assert_eq!(JsonStr::new(br"\ud83d").decode_into(&mut buf), None);
        assert_eq!(JsonStr::new(b"123456789").decode_into(&mut buf), None);
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
