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
pub(crate) const MAX_VALUE_LEN: usize = 4096;

/// Decoded values up to this length use a small stack buffer; longer ones (up to
/// [`MAX_VALUE_LEN`]) a larger one.
const SMALL_BUF: usize = 512;

/// How `%XX` escapes and `+` are read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Decoding {
    /// `application/x-www-form-urlencoded`, as `URLSearchParams` reads it: `+` is a space and an
    /// invalid escape stays literal.
    Form,
    /// As JavaScript's `unescape` reads it: `+` stays literal, an invalid escape stays literal.
    Lenient,
    /// `decodeURIComponent` as `JSON.parse(decodeURIComponent(v))` readers use it: `+` stays
    /// literal and an invalid escape fails the whole value.
    Strict,
}

/// Strips one pair of surrounding double quotes (RFC 6265 allows a quoted cookie value) and
/// surrounding spaces and tabs.
pub(crate) fn unquote(value: &str) -> &str {
    let v = value.trim_matches(|c| c == ' ' || c == '\t');
    match v.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner,
        None => v,
    }
}

/// The value of each hex digit, `0xff` for other bytes.
const HEX: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

pub(super) fn hex(b: u8) -> Option<u8> {
    let v = HEX[usize::from(b)];
    (v != 0xff).then_some(v)
}

/// The index of the first byte of `s` that needs decoding.
fn find_special(s: &[u8], how: Decoding) -> Option<usize> {
    match how {
        Decoding::Form => memchr::memchr2(b'%', b'+', s),
        Decoding::Lenient | Decoding::Strict => memchr::memchr(b'%', s),
    }
}

/// Decodes `input` into `out`; `None` when `out` is shorter than `input` or a strict escape is
/// invalid.
fn decode_into(input: &[u8], how: Decoding, out: &mut [u8]) -> Option<usize> {
    // Decoding never lengthens, so `n <= i` and every write below is in bounds.
    let out = out.get_mut(..input.len())?;
    let mut i = 0;
    let mut n = 0;
    while let Some(&b) = input.get(i) {
        let slot = out.get_mut(n)?;
        n += 1;
        i += 1;
        *slot = match b {
            b'%' => {
                let pair = input
                    .get(i..i + 2)
                    .and_then(|p| <&[u8; 2]>::try_from(p).ok());
                match pair.map(|&[h, l]| (HEX[usize::from(h)], HEX[usize::from(l)])) {
                    Some((h, l)) if h | l < 16 => {
                        i += 2;
                        (h << 4) | l
                    }
                    _ if how == Decoding::Strict => return None,
                    _ => b'%',
                }
            }
            b'+' if how == Decoding::Form => b' ',
            _ => b,
        };
    }
    Some(n)
}

/// Runs `f` on the percent-decoded bytes of `input`, without allocating: a value with nothing to
/// decode is passed through, others are decoded into a stack buffer. `None` when `input` is
/// longer than [`MAX_VALUE_LEN`] or, with [`Decoding::Strict`], holds an invalid escape.
pub(crate) fn with_decoded<R>(
    input: &[u8],
    how: Decoding,
    f: impl FnOnce(&[u8]) -> R,
) -> Option<R> {
    if input.len() > MAX_VALUE_LEN {
        return None;
    }
    let Some(first) = find_special(input, how) else {
        return Some(f(input));
    };
    let (plain, rest) = input.split_at(first);
    if input.len() <= SMALL_BUF {
        let mut buf = [0u8; SMALL_BUF];
        buf.get_mut(..first)?.copy_from_slice(plain);
        let n = decode_into(rest, how, buf.get_mut(first..)?)?;
        Some(f(buf.get(..first + n)?))
    } else {
        let mut buf = [0u8; MAX_VALUE_LEN];
        buf.get_mut(..first)?.copy_from_slice(plain);
        let n = decode_into(rest, how, buf.get_mut(first..)?)?;
        Some(f(buf.get(..first + n)?))
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
    map.get_bytes(name)
}

/// Splits `s` on every `sep`, like `<[u8]>::split`, finding separators with `memchr`.
pub(crate) fn split_on(s: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr::memchr(sep, r) {
            Some(i) => {
                let (part, tail) = r.split_at(i);
                rest = tail.get(1..);
                Some(part)
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

pub(crate) use super::json::{with_json, Json, JsonStr};

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(s: &str, how: Decoding) -> Option<String> {
        with_decoded(s.as_bytes(), how, |b| {
            String::from_utf8_lossy(b).into_owned()
        })
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
    fn byte_search_and_split() {
        for len in 0..20 {
            for at in 0..len {
                for b in [0u8, b'&', b',', 0x7f, 0x80, 0xa6, 0xff] {
                    let mut v = vec![b'a'; len];
                    v[at] = b;
                    for needle in [b'&', b',', 0u8, 0xff, b'a'] {
                        let plain = v.iter().position(|&c| c == needle);
                        assert_eq!(memchr::memchr(needle, &v), plain, "{v:?} {needle}");
                    }
                }
            }
        }
        for s in [
            &b""[..],
            b"&",
            b"a&&b",
            b"&a&",
            b"abcdefghij&klmnopqrstu&",
            b"no separator",
        ] {
            let mine: Vec<&[u8]> = split_on(s, b'&').collect();
            let std: Vec<&[u8]> = s.split(|&c| c == b'&').collect();
            assert_eq!(mine, std, "{s:?}");
        }
    }

    /// Percent-decoding one byte at a time, as the definition reads.
    fn reference_decode(input: &[u8], how: Decoding) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut i = 0;
        while let Some(&b) = input.get(i) {
            i += 1;
            match b {
                b'%' => {
                    let pair = input.get(i..i + 2).and_then(|p| {
                        let text = std::str::from_utf8(p).ok()?;
                        u8::from_str_radix(text, 16)
                            .ok()
                            .filter(|_| p.iter().all(u8::is_ascii_hexdigit))
                    });
                    match pair {
                        Some(v) => {
                            out.push(v);
                            i += 2;
                        }
                        None if how == Decoding::Strict => return None,
                        None => out.push(b'%'),
                    }
                }
                b'+' if how == Decoding::Form => out.push(b' '),
                _ => out.push(b),
            }
        }
        Some(out)
    }

    proptest::proptest! {
        #[test]
        fn decoding_matches_the_byte_by_byte_definition(
            bytes in proptest::collection::vec(
                proptest::sample::select(&b"%+aF0g9 \xff"[..]),
                0..700,
            )
        ) {
            for how in [Decoding::Form, Decoding::Lenient, Decoding::Strict] {
                let got = with_decoded(&bytes, how, <[u8]>::to_vec);
                proptest::prop_assert_eq!(got, reference_decode(&bytes, how), "{:?}", how);
            }
        }
    }
}
