//! Reading a `Set-Cookie` field line as a browser does (RFC 6265bis §5.4 and §5.6).
//!
//! Only two facts matter to consent enforcement: the name the cookie will present, and whether
//! the line deletes the cookie. Both are read from the raw bytes without allocating. A line is
//! never joined with another or split on commas.

use super::cookie_date;

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(mut s: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = s {
        if is_ws(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if is_ws(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// The name-value pair of a line: the text before its first `;`.
fn pair(line: &[u8]) -> &[u8] {
    match line.iter().position(|&b| b == b';') {
        Some(i) => &line[..i],
        None => line,
    }
}

/// The cookie's name as the browser stores it: the text of the pair before its first `=`,
/// trimmed; empty for a pair with no `=` (a nameless cookie).
pub fn stored_name(line: &[u8]) -> &[u8] {
    let pair = pair(line);
    match pair.iter().position(|&b| b == b'=') {
        Some(i) => trim(&pair[..i]),
        None => b"",
    }
}

/// The name the cookie presents to servers, which is what rules classify. For a named cookie it
/// is its name. A nameless cookie is sent back as its bare value, so it presents the text of its
/// value before the first `=`: `=_ga=GA1.2` presents `_ga`, and a bare `_ga` presents `_ga`.
pub fn presented_name(line: &[u8]) -> &[u8] {
    let pair = pair(line);
    let value = match pair.iter().position(|&b| b == b'=') {
        Some(i) => {
            let name = trim(&pair[..i]);
            if !name.is_empty() {
                return name;
            }
            &pair[i + 1..]
        }
        None => pair,
    };
    let value = trim(value);
    match value.iter().position(|&b| b == b'=') {
        Some(i) => trim(&value[..i]),
        None => value,
    }
}

/// The expiry a line sets, read as a browser reads the attributes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// A session cookie: neither a valid `Max-Age` nor a valid `Expires`.
    Session,
    /// `Max-Age` in seconds (the last valid one; it beats `Expires`).
    MaxAge(i64),
    /// `Expires` as seconds since the epoch (the last valid one).
    Expires(i64),
}

/// Reads the `Max-Age` and `Expires` attributes. The last valid `Max-Age` wins and beats any
/// `Expires`; a `Max-Age` that is not an optional `-` followed by digits is ignored, and so is an
/// `Expires` that is not a cookie date.
pub fn expiry(line: &[u8]) -> Expiry {
    let mut max_age: Option<i64> = None;
    let mut expires: Option<i64> = None;
    let attrs = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[i + 1..],
        None => return Expiry::Session,
    };
    for attr in attrs.split(|&b| b == b';') {
        let (name, value) = match attr.iter().position(|&b| b == b'=') {
            Some(i) => (trim(&attr[..i]), trim(&attr[i + 1..])),
            None => (trim(attr), &b""[..]),
        };
        if name.eq_ignore_ascii_case(b"max-age") {
            if let Some(v) = parse_max_age(value) {
                max_age = Some(v);
            }
        } else if name.eq_ignore_ascii_case(b"expires") {
            if let Some(t) = std::str::from_utf8(value).ok().and_then(cookie_date::parse) {
                expires = Some(t);
            }
        }
    }
    match (max_age, expires) {
        (Some(m), _) => Expiry::MaxAge(m),
        (None, Some(e)) => Expiry::Expires(e),
        (None, None) => Expiry::Session,
    }
}

/// RFC 6265bis §5.6.2: the first character is a digit or `-`, the rest digits. Values beyond
/// the i64 range saturate (browsers clamp them too).
fn parse_max_age(v: &[u8]) -> Option<i64> {
    let (neg, digits) = match v {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, v),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        n = n.saturating_mul(10).saturating_add((d - b'0') as i64);
    }
    Some(if neg { -n } else { n })
}

/// Whether the line deletes its cookie at time `now` (seconds since the epoch): its expiry is not
/// in the future.
pub fn is_deletion(line: &[u8], now: i64) -> bool {
    match expiry(line) {
        Expiry::Session => false,
        Expiry::MaxAge(m) => m <= 0,
        Expiry::Expires(t) => t <= now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(line: &str) -> &str {
        std::str::from_utf8(presented_name(line.as_bytes())).unwrap()
    }

    const NOW: i64 = 1_763_900_000; // 2025-11-23

    #[test]
    fn names_are_extracted_as_browsers_do() {
        assert_eq!(name("_ga=GA1.2.3.4; Path=/"), "_ga");
        assert_eq!(name("  _ga  =GA1.2; Path=/"), "_ga");
        assert_eq!(name("\t_gid\t=x"), "_gid");
        assert_eq!(name("a=b=c; Domain=example.com"), "a");
        assert_eq!(
            name("id=a,b,c; Expires=Wed, 09 Jun 2021 10:18:14 GMT"),
            "id"
        );
        assert_eq!(name("session"), "session");
        assert_eq!(name("=_ga=GA1.2"), "_ga");
        assert_eq!(name("= _ga =GA1.2"), "_ga");
        assert_eq!(name("=value"), "value");
        assert_eq!(name(" =; Path=/"), "");
        assert_eq!(name(""), "");
        assert_eq!(name(";a=b"), "");
        assert_eq!(stored_name(b"=_ga=GA1.2"), b"");
        assert_eq!(stored_name(b"_ga"), b"");
        assert_eq!(stored_name(b" x =1"), b"x");
    }

    #[test]
    fn commas_inside_one_line_are_not_separators() {
        // One line, one cookie: the comma in Expires and in the value splits nothing.
        let line = "a=1,b=2; Expires=Thu, 01 Jan 2099 00:00:00 GMT";
        assert_eq!(name(line), "a");
        assert!(!is_deletion(line.as_bytes(), NOW));
    }

    #[test]
    fn max_age_wins_and_beats_expires() {
        let past = "Thu, 01 Jan 1970 00:00:00 GMT";
        let future = "Fri, 01 Jan 2100 00:00:00 GMT";
        assert!(is_deletion(b"a=; Max-Age=0", NOW));
        assert!(is_deletion(b"a=; max-age=-1", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=60", NOW));
        assert!(!is_deletion(
            format!("a=1; Expires={past}; Max-Age=60").as_bytes(),
            NOW
        ));
        assert!(is_deletion(
            format!("a=1; Expires={future}; Max-Age=0").as_bytes(),
            NOW
        ));
        // The last valid Max-Age wins.
        assert!(is_deletion(b"a=1; Max-Age=60; Max-Age=0", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=0; Max-Age=60", NOW));
        // Invalid Max-Age values are ignored, not treated as zero.
        assert!(is_deletion(b"a=1; Max-Age=0; Max-Age=abc", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=abc", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=1.5", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=+0", NOW));
        assert!(is_deletion(
            format!("a=1; Max-Age=x; Expires={past}").as_bytes(),
            NOW
        ));
        assert_eq!(
            expiry(b"a=1; Max-Age=99999999999999999999999"),
            Expiry::MaxAge(i64::MAX)
        );
    }

    #[test]
    fn expires_in_the_past_deletes() {
        assert!(is_deletion(
            b"a=; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            NOW
        ));
        assert!(is_deletion(
            b"a=; expires=Thursday, 01-Jan-70 00:00:01 GMT; Path=/",
            NOW
        ));
        assert!(!is_deletion(
            b"a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT",
            NOW
        ));
        // The last valid Expires wins; an invalid one is ignored.
        assert!(is_deletion(
            b"a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            NOW
        ));
        assert!(is_deletion(
            b"a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=not a date",
            NOW
        ));
        assert!(!is_deletion(b"a=1; Expires=yesterday", NOW));
        assert!(!is_deletion(b"a=1", NOW));
        assert!(!is_deletion(b"a=1; Path=/; Secure; HttpOnly", NOW));
    }

    #[test]
    fn attribute_names_are_case_insensitive_and_trimmed() {
        assert!(is_deletion(b"a=1;  MAX-AGE = 0 ", NOW));
        assert!(is_deletion(
            b"a=1;\tExPiReS=Thu, 01 Jan 1970 00:00:00 GMT",
            NOW
        ));
    }

    #[test]
    fn non_utf8_bytes_do_not_break_extraction() {
        assert_eq!(presented_name(b"\xff\xfe=1; Max-Age=0"), b"\xff\xfe");
        assert!(is_deletion(b"\xff=1; Max-Age=0", NOW));
        assert!(!is_deletion(b"a=1; Expires=\xff\xff", NOW));
    }
}
