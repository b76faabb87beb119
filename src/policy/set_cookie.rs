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

/// The expiry as Chromium reads the attributes: the *last* `Max-Age` wins whatever it says and
/// beats `Expires` when it is an integer (a leading `+` allowed); when it is not, the last
/// `Expires` decides, read with Chromium's own date parser. Chromium reads at most 16 pairs of a
/// line (the name-value pair included) and ignores the rest.
pub fn chromium_expiry(line: &[u8]) -> Expiry {
    const MAX_PAIRS: usize = 16;
    let mut max_age: Option<&[u8]> = None;
    let mut expires: Option<&[u8]> = None;
    let attrs = match line.iter().position(|&b| b == b';') {
        Some(i) => &line[i + 1..],
        None => return Expiry::Session,
    };
    for attr in attrs.split(|&b| b == b';').take(MAX_PAIRS - 1) {
        let (name, value) = split_attr(attr);
        if name.eq_ignore_ascii_case(b"max-age") {
            max_age = Some(value);
        } else if name.eq_ignore_ascii_case(b"expires") {
            expires = Some(value);
        }
    }
    if let Some(m) = max_age.and_then(parse_chromium_int) {
        return Expiry::MaxAge(m);
    }
    match expires.and_then(cookie_date::parse_chromium) {
        Some(t) => Expiry::Expires(t),
        None => Expiry::Session,
    }
}

/// `base::StringToInt64`: an optional sign, then digits only; out-of-range values saturate.
fn parse_chromium_int(v: &[u8]) -> Option<i64> {
    let (neg, digits) = match v {
        [b'-', rest @ ..] => (true, rest),
        [b'+', rest @ ..] => (false, rest),
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

fn split_attr(attr: &[u8]) -> (&[u8], &[u8]) {
    match attr.iter().position(|&b| b == b'=') {
        Some(i) => (trim(&attr[..i]), trim(&attr[i + 1..])),
        None => (trim(attr), &b""[..]),
    }
}

fn expired(e: Expiry, now: i64) -> bool {
    match e {
        Expiry::Session => false,
        Expiry::MaxAge(m) => m <= 0,
        Expiry::Expires(t) => t <= now,
    }
}

/// Whether the line deletes its cookie at time `now` (seconds since the epoch) in every
/// browser: its expiry is not in the future under the RFC 6265bis reading *and* under
/// Chromium's. (`_ga=x; Max-Age=0; Max-Age=+34560000` deletes for the RFC, whose `Max-Age`
/// must not start with `+`, and lives 400 days in Chromium.)
pub fn is_deletion(line: &[u8], now: i64) -> bool {
    expired(expiry(line), now) && expired(chromium_expiry(line), now)
}

/// `Expires` in the past, for user agents that ignore `Max-Age`.
pub const EPOCH: &str = "Thu, 01 Jan 1970 00:00:00 GMT";

/// The deletion the proxy sends in place of a deleting line of a non-granted cookie, so that no
/// byte of the upstream's line reaches the browser: the stored name with an empty value,
/// `Max-Age=0`, an `Expires` in 1970, and the line's `Path`, `Domain`, `Secure` and
/// `Partitioned` where they are well formed (a malformed `Path` or `Domain` is left out: the
/// browser then targets the default path or the host-only cookie, as it would have for the
/// upstream's line, or the line deleted nothing). `None` for a nameless cookie, which cannot
/// be deleted by name.
pub fn own_deletion(line: &[u8]) -> Option<String> {
    if !has_deletable_name(line) {
        return None;
    }
    let name = std::str::from_utf8(stored_name(line)).ok()?;
    let mut path: Option<&[u8]> = None;
    let mut domain: Option<&[u8]> = None;
    let (mut secure, mut partitioned) = (false, false);
    if let Some(i) = line.iter().position(|&b| b == b';') {
        for attr in line[i + 1..].split(|&b| b == b';') {
            let (key, value) = split_attr(attr);
            if key.eq_ignore_ascii_case(b"path") {
                path = Some(value);
            } else if key.eq_ignore_ascii_case(b"domain") {
                domain = Some(value);
            } else if key.eq_ignore_ascii_case(b"secure") {
                secure = true;
            } else if key.eq_ignore_ascii_case(b"partitioned") {
                partitioned = true;
            }
        }
    }
    let path = path.filter(|p| is_cookie_path(p));
    let domain = domain
        .map(|d| d.strip_prefix(b".").unwrap_or(d))
        .filter(|d| is_cookie_domain(d));
    let secure =
        secure || partitioned || name.starts_with("__Secure-") || name.starts_with("__Host-");
    let mut out = String::with_capacity(name.len() + 96);
    out.push_str(name);
    out.push_str("=; Max-Age=0; Expires=");
    out.push_str(EPOCH);
    if let Some(p) = path {
        out.push_str("; Path=");
        out.push_str(std::str::from_utf8(p).ok()?);
    }
    if let Some(d) = domain {
        out.push_str("; Domain=");
        out.push_str(&String::from_utf8_lossy(d).to_ascii_lowercase());
    }
    if secure {
        out.push_str("; Secure");
    }
    if partitioned {
        out.push_str("; Partitioned");
    }
    Some(out)
}

/// Whether the line's cookie has a name the proxy can write a deletion for: not empty, and
/// visible ASCII (spaces and tabs inside allowed).
pub fn has_deletable_name(line: &[u8]) -> bool {
    let name = stored_name(line);
    !name.is_empty()
        && name
            .iter()
            .all(|&b| b == b'\t' || (b' '..0x7f).contains(&b))
}

/// A `Path` value a browser uses as given: starts with `/`, visible ASCII, at most 1024 bytes.
fn is_cookie_path(p: &[u8]) -> bool {
    p.first() == Some(&b'/') && p.len() <= 1024 && p.iter().all(|&b| (0x21..0x7f).contains(&b))
}

/// A `Domain` value that is a host name: labels of letters, digits, `-` and `_`, none empty,
/// at most 253 bytes.
fn is_cookie_domain(d: &[u8]) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && d.split(|&b| b == b'.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
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
        // The last Max-Age wins.
        assert!(is_deletion(b"a=1; Max-Age=60; Max-Age=0", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=0; Max-Age=60", NOW));
        // An invalid last Max-Age: the RFC ignores it and reads the earlier 0, Chromium takes it,
        // cannot parse it and keeps a session cookie. Not a deletion in every browser.
        assert_eq!(expiry(b"a=1; Max-Age=0; Max-Age=abc"), Expiry::MaxAge(0));
        assert_eq!(
            chromium_expiry(b"a=1; Max-Age=0; Max-Age=abc"),
            Expiry::Session
        );
        assert!(!is_deletion(b"a=1; Max-Age=0; Max-Age=abc", NOW));
        // A leading `+` is no Max-Age for the RFC, and 400 days for Chromium.
        assert!(!is_deletion(b"_ga=E1; Max-Age=0; Max-Age=+34560000", NOW));
        assert_eq!(
            chromium_expiry(b"_ga=E1; Max-Age=0; Max-Age=+34560000"),
            Expiry::MaxAge(34_560_000)
        );
        assert!(!is_deletion(b"a=1; Max-Age=abc", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=1.5", NOW));
        assert!(!is_deletion(b"a=1; Max-Age=", NOW));
        // `+0`: no Max-Age for the RFC (a session cookie), zero for Chromium.
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
        // The last valid Expires wins for the RFC, the last one for Chromium.
        assert!(is_deletion(
            b"a=1; Expires=Fri, 01 Jan 2100 00:00:00 GMT; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
            NOW
        ));
        // The RFC ignores the invalid last one and reads 1970; Chromium reads a session cookie.
        assert!(!is_deletion(
            b"a=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Expires=not a date",
            NOW
        ));
        // Dates only the RFC's parser accepts.
        assert!(!is_deletion(
            b"_ga=E1; Expires=Thu, 1st Jan 1970 00:00:00 GMT",
            NOW
        ));
        assert!(!is_deletion(
            b"_ga=E1; Expires=Thu, 01x Jan 1970 00:00:00 GMT",
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

    #[test]
    fn chromium_reads_sixteen_pairs_at_most() {
        let mut line = String::from("a=1");
        for i in 0..15 {
            line.push_str(&format!("; x{i}"));
        }
        line.push_str("; Max-Age=0");
        assert_eq!(expiry(line.as_bytes()), Expiry::MaxAge(0));
        assert_eq!(chromium_expiry(line.as_bytes()), Expiry::Session);
        assert!(!is_deletion(line.as_bytes(), NOW));
    }

    #[test]
    fn own_deletions_keep_only_well_formed_scope() {
        let own = |l: &str| own_deletion(l.as_bytes());
        assert_eq!(
            own("_ga=GA1; Max-Age=0; Path=/shop; Domain=.Example.com; Secure; Partitioned; HttpOnly")
                .unwrap(),
            "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/shop; Domain=example.com; Secure; Partitioned"
        );
        assert_eq!(
            own(" _gid =x; Max-Age=0").unwrap(),
            "_gid=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
        // Malformed scope is left out; the last Path wins.
        assert_eq!(
            own("a=1; Max-Age=0; Path=shop; Domain=ex..com").unwrap(),
            "a=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            own("a=1; Path=/x; Path=/y; Max-Age=0").unwrap(),
            "a=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/y"
        );
        assert_eq!(
            own("__Host-id=1; Max-Age=0; Path=/").unwrap(),
            "__Host-id=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Secure"
        );
        assert_eq!(own("=_ga=1; Max-Age=0"), None);
        assert_eq!(own("_ga"), None);
        for l in [
            "_ga=GA1; Max-Age=0; Path=/shop; Domain=example.com; Secure",
            "a=1; Max-Age=0; Max-Age=+1",
        ] {
            assert!(is_deletion(own(l).unwrap().as_bytes(), NOW));
        }
    }
}
