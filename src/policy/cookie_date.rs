//! Cookie dates as browsers read them: the `Expires` attribute of a `Set-Cookie` line.
//!
//! This is the algorithm of RFC 6265, section 5.1.1 (unchanged in RFC 6265bis). The value is cut
//! into date-tokens at delimiters; each token, in order, is tried as the time, then the
//! day-of-month, then the month, then the year, and fills the first of those not found yet that
//! it matches. Every token may carry trailing junk (`00:00:00GMT`, `1st`, `January`). Time zones
//! are ignored: cookie dates are always UTC.
//!
//! It runs in one pass over the bytes, never allocates and never panics, whatever the input.

/// Seconds since the Unix epoch (UTC) of a cookie date, or `None` when a browser would ignore
/// the `Expires` attribute because the date is invalid.
pub fn parse(s: &str) -> Option<i64> {
    let mut time: Option<(u32, u32, u32)> = None;
    let mut day: Option<u32> = None;
    let mut month: Option<u32> = None;
    let mut year: Option<u32> = None;

    for token in s
        .as_bytes()
        .split(|&b| is_delimiter(b))
        .filter(|t| !t.is_empty())
    {
        if time.is_none() {
            if let Some(t) = parse_time(token) {
                time = Some(t);
                continue;
            }
        }
        if day.is_none() {
            if let Some(d) = digits_then_non_digit(token, 1, 2) {
                day = Some(d);
                continue;
            }
        }
        if month.is_none() {
            if let Some(m) = parse_month(token) {
                month = Some(m);
                continue;
            }
        }
        if year.is_none() {
            if let Some(y) = digits_then_non_digit(token, 2, 4) {
                year = Some(y);
                continue;
            }
        }
    }

    let (hour, minute, second) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year <= 69 {
        year += 2000;
    }
    if !(1..=31).contains(&day) || year < 1601 || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second))
}

/// Seconds since the epoch of an `Expires` value as Chromium reads it (its own parser, not the
/// RFC's): tokens split at ASCII punctuation and spaces except `:`; a token starting with a
/// letter may be the month (matched on its first three letters); one with a `:` is the time
/// (`h:m:s`, one or two digits each); another token starting with a digit is the day of month
/// when it is at most two characters long and no day was found yet, else the year when at most
/// five characters long (its leading digits); anything else is ignored. `1st Jan 1970` has no
/// day for Chromium (`1st` is taken as the year), so the date is invalid and the cookie lives
/// for the session. `None` when Chromium would ignore the attribute.
///
/// Out-of-range fields that Chromium saturates (a year past 9999) read as far in the future;
/// a field it rejects (day 31 of a 30-day month, hour 24) is invalid.
pub fn parse_chromium(s: &[u8]) -> Option<i64> {
    const DELIMITERS: &[u8] = b"\t !\"#$%&'()*+,-./;<=>?@[\\]^_`{|}~";
    let mut time: Option<(u32, u32, u32)> = None;
    let mut day: Option<u32> = None;
    let mut month: Option<u32> = None;
    let mut year: Option<u32> = None;
    for token in s
        .split(|b| DELIMITERS.contains(b))
        .filter(|t| !t.is_empty())
    {
        if !token[0].is_ascii_digit() {
            if month.is_none() {
                month = parse_month(token);
            }
        } else if token.contains(&b':') {
            if time.is_none() {
                time = scan_time(token);
            }
        } else if day.is_none() && token.len() <= 2 {
            day = Some(atoi(token));
        } else if year.is_none() && token.len() <= 5 {
            year = Some(atoi(token));
        }
    }
    let (hour, minute, second) = time?;
    let (day, month, mut year) = (day?, month?, year?);
    if (70..=99).contains(&year) {
        year += 1900;
    } else if year <= 69 {
        year += 2000;
    }
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    if day > days_in_month(year, month) {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some(days * 86_400 + i64::from(hour * 3600 + minute * 60 + second.min(59)))
}

/// C's `atoi` on a token that starts with a digit: its leading digits (at most five here).
fn atoi(token: &[u8]) -> u32 {
    token
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'))
}

/// `sscanf("%2u:%2u:%2u")` on a token that starts with a digit: three fields of one or two
/// digits separated by `:`, anything after the third ignored.
fn scan_time(token: &[u8]) -> Option<(u32, u32, u32)> {
    let (hour, n) = leading_digits(token, 1, 2)?;
    let rest = token[n..].strip_prefix(b":")?;
    let (minute, n) = leading_digits_prefix(rest, 2)?;
    let rest = rest[n..].strip_prefix(b":")?;
    let (second, _) = leading_digits_prefix(rest, 2)?;
    Some((hour, minute, second))
}

/// One to `max` digits at the start of `bytes`, which may go on with more digits (`%2u` stops
/// reading after two).
fn leading_digits_prefix(bytes: &[u8], max: usize) -> Option<(u32, usize)> {
    let n = bytes
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if n == 0 {
        return None;
    }
    Some((atoi(&bytes[..n]), n))
}

/// `delimiter = %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E`
fn is_delimiter(b: u8) -> bool {
    matches!(b, 0x09 | 0x20..=0x2F | 0x3B..=0x40 | 0x5B..=0x60 | 0x7B..=0x7E)
}

/// Reads `min..=max` ASCII digits at the start of `bytes`, which must be followed by the end or a
/// non-digit. Returns the value and the number of digits read.
fn leading_digits(bytes: &[u8], min: usize, max: usize) -> Option<(u32, usize)> {
    let n = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    let value = bytes[..n]
        .iter()
        .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
    Some((value, n))
}

/// `min*max DIGIT ( non-digit *OCTET )`: the day-of-month (1-2 digits) and year (2-4 digits).
fn digits_then_non_digit(token: &[u8], min: usize, max: usize) -> Option<u32> {
    leading_digits(token, min, max).map(|(v, _)| v)
}

/// `time = hms-time ( non-digit *OCTET )`, `hms-time = time-field ":" time-field ":" time-field`,
/// `time-field = 1*2DIGIT`.
fn parse_time(token: &[u8]) -> Option<(u32, u32, u32)> {
    let (hour, n) = leading_digits(token, 1, 2)?;
    let rest = token[n..].strip_prefix(b":")?;
    let (minute, n) = leading_digits(rest, 1, 2)?;
    let rest = rest[n..].strip_prefix(b":")?;
    let (second, _) = leading_digits(rest, 1, 2)?;
    Some((hour, minute, second))
}

/// `month = ( "jan" / "feb" / ... / "dec" ) *OCTET`, case-insensitive. Returns 1..=12.
fn parse_month(token: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"jan", b"feb", b"mar", b"apr", b"may", b"jun", b"jul", b"aug", b"sep", b"oct", b"nov",
        b"dec",
    ];
    let prefix = token.get(..3)?;
    let lower = [
        prefix[0].to_ascii_lowercase(),
        prefix[1].to_ascii_lowercase(),
        prefix[2].to_ascii_lowercase(),
    ];
    MONTHS
        .iter()
        .position(|m| **m == lower)
        .map(|i| i as u32 + 1)
}

fn is_leap(year: u32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 }; // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// 1601-01-01T00:00:00Z, the earliest date a cookie date may name.
    const MIN_SECS: i64 = -11_644_473_600;
    /// 9999-12-31T23:59:59Z, the latest date four year digits can name.
    const MAX_SECS: i64 = 253_402_300_799;

    /// The civil date of a day count from 1970-01-01 (H. Hinnant's `civil_from_days`).
    fn civil_from_days(z: i64) -> (i64, u32, u32) {
        let z = z + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        (
            if m <= 2 {
                era * 400 + yoe + 1
            } else {
                era * 400 + yoe
            },
            m,
            d,
        )
    }

    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTH_NAMES: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];

    struct Parts {
        weekday: &'static str,
        year: i64,
        month: &'static str,
        day: u32,
        hour: i64,
        minute: i64,
        second: i64,
    }

    fn parts(secs: i64) -> Parts {
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        Parts {
            weekday: WEEKDAYS[days.rem_euclid(7) as usize],
            year,
            month: MONTH_NAMES[month as usize - 1],
            day,
            hour: rem / 3600,
            minute: rem / 60 % 60,
            second: rem % 60,
        }
    }

    /// IMF-fixdate (RFC 9110), the form servers should send: `Sun, 06 Nov 1994 08:49:37 GMT`.
    fn format_imf(secs: i64) -> String {
        let p = parts(secs);
        format!(
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            p.weekday, p.day, p.month, p.year, p.hour, p.minute, p.second
        )
    }

    /// The obsolete RFC 850 form with a two-digit year: `Sunday, 06-Nov-94 08:49:37 GMT`.
    fn format_rfc850(secs: i64) -> String {
        let p = parts(secs);
        format!(
            "{}day, {:02}-{}-{:02} {:02}:{:02}:{:02} GMT",
            p.weekday,
            p.day,
            p.month,
            p.year % 100,
            p.hour,
            p.minute,
            p.second
        )
    }

    /// C's asctime() form: `Sun Nov  6 08:49:37 1994`.
    fn format_asctime(secs: i64) -> String {
        let p = parts(secs);
        format!(
            "{} {} {:>2} {:02}:{:02}:{:02} {}",
            p.weekday, p.month, p.day, p.hour, p.minute, p.second, p.year
        )
    }

    #[test]
    fn formatter_sanity() {
        assert_eq!(format_imf(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(format_imf(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(format_imf(MIN_SECS), "Mon, 01 Jan 1601 00:00:00 GMT");
        assert_eq!(format_imf(MAX_SECS), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(format_rfc850(784_111_777), "Sunday, 06-Nov-94 08:49:37 GMT");
        assert_eq!(format_asctime(784_111_777), "Sun Nov  6 08:49:37 1994");
    }

    #[test]
    fn common_forms() {
        let cases: &[(&str, i64)] = &[
            ("Thu, 01 Jan 1970 00:00:00 GMT", 0),
            ("Thursday, 01-Jan-70 00:00:00 GMT", 0),
            ("Thu Jan  1 00:00:00 1970", 0),
            ("Wed, 09 Jun 2021 10:18:14 GMT", 1_623_233_894),
            ("01 Jan 2038 00:00:00", 2_145_916_800),
            ("Sat, 31-Dec-9999 23:59:59 GMT", MAX_SECS),
            ("Sun, 06 Nov 1994 08:49:37 GMT", 784_111_777),
            ("Sunday, 06-Nov-94 08:49:37 GMT", 784_111_777),
            ("Sun Nov  6 08:49:37 1994", 784_111_777),
            // 2^31 seconds: the 32-bit rollover must not matter.
            ("Tue, 19 Jan 2038 03:14:08 GMT", 2_147_483_648),
            ("Mon, 01 Jan 1601 00:00:00 GMT", MIN_SECS),
            ("Thu, 29 Feb 2024 12:00:00 GMT", 1_709_208_000),
            ("Tue, 29 Feb 2000 00:00:00 GMT", 951_782_400),
        ];
        for &(s, want) in cases {
            assert_eq!(parse(s), Some(want), "{s:?}");
        }
    }

    /// The distinct Expires values of the http-state parser tests (`parser.json`).
    const HTTP_STATE_DATES: &[(&str, i64)] = &[
        // 0002
        ("Fri, 07 Aug 2019 08:04:19 GMT", 1_565_165_059),
        // 0003: the 2007 cookie is already expired, the 2027 one is stored.
        ("Fri, 07 Aug 2007 08:04:19 GMT", 1_186_473_859),
        ("Fri, 07 Aug 2027 08:04:19 GMT", 1_817_625_859),
        // The attribute value runs to the next ';', so ", baz=qux" is junk after the date.
        ("Fri 07 Aug 2019 08:04:19 GMT, baz=qux", 1_565_165_059),
        ("Sun, 18-Apr-2027 21:06:29 GMT", 1_808_082_389),
        ("Thu, 10 Apr 1980 16:33:12 GMT", 324_232_392),
    ];

    #[test]
    fn http_state_parser_json_dates() {
        for &(s, want) in HTTP_STATE_DATES {
            assert_eq!(parse(s), Some(want), "{s:?}");
        }
        // The suite's own date (VERSION): 2007 is in its past, 2027 in its future.
        let suite_date = parse("09 Aug 2017 00:00:00").unwrap();
        assert!(parse("Fri, 07 Aug 2007 08:04:19 GMT").unwrap() < suite_date);
        assert!(parse("Fri, 07 Aug 2027 08:04:19 GMT").unwrap() > suite_date);
        assert!(parse("Sun, 18-Apr-2027 21:06:29 GMT ").unwrap() > suite_date);
    }

    #[test]
    fn every_expires_in_parser_json_parses() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/http-state-parser.json"
        );
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
            panic!("the http-state test data is missing: cannot read {path}: {e}")
        });
        let cases: serde_json::Value = serde_json::from_str(&text).expect("parser.json is JSON");
        let mut seen = 0;
        for case in cases.as_array().expect("an array of cases") {
            for line in case["received"].as_array().expect("received lines") {
                let line = line.as_str().expect("a string");
                for attr in line.split(';').skip(1) {
                    let (key, value) = attr.split_once('=').unwrap_or((attr, ""));
                    if key.trim().eq_ignore_ascii_case("expires") {
                        seen += 1;
                        let value = value.trim();
                        let want = HTTP_STATE_DATES.iter().find(|(s, _)| *s == value);
                        let want = want.unwrap_or_else(|| {
                            panic!("test {}: {value:?} is not in the table", case["test"])
                        });
                        assert_eq!(parse(value), Some(want.1), "test {}", case["test"]);
                    }
                }
            }
        }
        assert!(seen >= 8, "only {seen} Expires attributes found");
    }

    #[test]
    fn token_rules() {
        // Trailing junk after each field is allowed.
        assert_eq!(parse("1st January 1970 00:00:00GMT"), Some(0));
        assert_eq!(parse("01 JANUARY 1970 0:0:0"), Some(0));
        assert_eq!(parse("01 jAn 1970 00:00:00"), Some(0));
        assert_eq!(parse("1970 Jan 01 00:00:00"), Some(0));
        assert_eq!(parse("00:00:00 01 Jan 1970"), Some(0));
        assert_eq!(parse("01/Jan/1970 00:00:00"), Some(0));
        assert_eq!(parse("Jan-01-1970T00:00:00Z"), None); // "1970T00:00:00Z" is the year token
        assert_eq!(parse("01 Jan 1970 1:2:3"), Some(3723));
        assert_eq!(parse("01 Jan 1970 01:02:03.456"), Some(3723));
        assert_eq!(parse("01 Jan 1970 01:02:03+0200"), Some(3723)); // time zones are ignored
                                                                    // Leading and trailing delimiters.
        assert_eq!(parse("  ,;01 Jan 1970 00:00:00;, "), Some(0));
        // Only the first match of each field counts: the second time and day are other tokens.
        assert_eq!(parse("01 Jan 1970 00:00:00 12:34:56"), Some(0));
        // The first two-digit token is the day; the next one is the year.
        assert_eq!(
            parse("Jan 02 03 00:00:00"),
            Some(parse("02 Jan 2003 00:00:00").unwrap())
        );
        // Non-ASCII bytes are non-delimiters and do not break anything.
        assert_eq!(parse("01 Jan 1970 00:00:00 \u{e9}t\u{e9}"), Some(0));
        assert_eq!(parse("01\u{e9} Jan 1970 00:00:00"), Some(0));
    }

    #[test]
    fn two_digit_years() {
        assert_eq!(parse("01 Jan 70 00:00:00"), parse("01 Jan 1970 00:00:00"));
        assert_eq!(parse("01 Jan 99 00:00:00"), parse("01 Jan 1999 00:00:00"));
        assert_eq!(parse("01 Jan 00 00:00:00"), parse("01 Jan 2000 00:00:00"));
        assert_eq!(parse("01 Jan 69 00:00:00"), parse("01 Jan 2069 00:00:00"));
        // The adjustment applies to the value whatever the number of digits.
        assert_eq!(parse("01 Jan 0070 00:00:00"), Some(0));
        assert_eq!(parse("01 Jan 069 00:00:00"), parse("01 Jan 2069 00:00:00"));
        // 100..=1600 stay as they are and are too early.
        assert_eq!(parse("01 Jan 100 00:00:00"), None);
        assert_eq!(parse("31 Dec 1600 23:59:59"), None);
    }

    #[test]
    fn invalid_dates() {
        for s in [
            "",
            "   ",
            "GMT",
            "Thu, 01 Jan 1970",          // no time
            "Thu, Jan 1970 00:00:00",    // no day ("1970" is too long for a day)
            "Thu, 01 1970 00:00:00",     // no month
            "Thu, 01 Jan 00:00:00",      // no year
            "Thu, 00 Jan 1970 00:00:00", // day 0
            "Thu, 32 Jan 1970 00:00:00",
            "Thu, 01 Jan 1970 24:00:00",
            "Thu, 01 Jan 1970 00:60:00",
            "Thu, 01 Jan 1970 00:00:60", // no leap seconds
            "Thu, 01 Jan 1970 00:00",    // h:m only is not a time
            "Thu, 01 Jan 1970 000:00:00",
            "Thu, 01 Jan 1970 00:00:000",
            "Thu, 01 Jan 1970 00::00",
            "Thu, 01 Jan 1 00:00:00",        // one-digit year
            "Thu, 01 Jan 19700 00:00:00",    // five-digit year
            "Thu, 001 Jan 1970 00:00:00",    // no day: "001" is the year (2001)
            "Fri, 30 Feb 2024 00:00:00 GMT", // invalid calendar day
            "Fri, 29 Feb 2023 00:00:00 GMT",
            "Fri, 29 Feb 1900 00:00:00 GMT",
            "Fri, 31 Apr 2024 00:00:00 GMT",
            "Fri, 31 Jun 2024 00:00:00 GMT",
            "Fri, 31 Sep 2024 00:00:00 GMT",
            "Fri, 31 Nov 2024 00:00:00 GMT",
            "Ja 01 1970 00:00:00",
            "0",
            "-1",
        ] {
            assert_eq!(parse(s), None, "{s:?}");
        }
    }

    #[test]
    fn month_lengths() {
        for (m, len) in MONTH_NAMES
            .iter()
            .zip([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
        {
            assert!(parse(&format!("{len} {m} 2023 00:00:00")).is_some(), "{m}");
            assert_eq!(
                parse(&format!("{} {m} 2023 00:00:00", len + 1)),
                None,
                "{m}"
            );
        }
        assert!(parse("29 Feb 2000 00:00:00").is_some());
        assert!(parse("29 Feb 2400 00:00:00").is_some());
        assert!(parse("29 Feb 9996 00:00:00").is_some());
        assert_eq!(parse("29 Feb 2100 00:00:00"), None);
    }

    #[test]
    fn huge_and_hostile_inputs() {
        let long_digits = "9".repeat(100_000);
        assert_eq!(parse(&long_digits), None);
        let s = format!("01 Jan 1970 00:00:00 {long_digits}");
        assert_eq!(parse(&s), Some(0));
        let s = format!("{} 01 Jan 1970 00:00:00", ",".repeat(100_000));
        assert_eq!(parse(&s), Some(0));
        let s = "99:99:99 ".repeat(10_000);
        assert_eq!(parse(&s), None);
        assert_eq!(parse("\0\u{7f}\u{ffff}"), None);
    }

    #[test]
    fn days_from_civil_matches_known_values() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1601, 1, 1), MIN_SECS / 86_400);
        assert_eq!(days_from_civil(9999, 12, 31), MAX_SECS / 86_400);
        for d in (MIN_SECS / 86_400..=MAX_SECS / 86_400).step_by(997) {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, day), d);
        }
    }

    proptest! {
        #[test]
        fn never_panics(s in any::<String>()) {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_date_like_text(s in "[0-9A-Za-z:, -]{0,64}") {
            if let Some(t) = parse(&s) {
                prop_assert!((MIN_SECS..=MAX_SECS).contains(&t));
            }
        }

        #[test]
        fn imf_fixdate_round_trips(secs in MIN_SECS..=MAX_SECS) {
            prop_assert_eq!(parse(&format_imf(secs)), Some(secs));
        }

        #[test]
        fn asctime_round_trips(secs in MIN_SECS..=MAX_SECS) {
            prop_assert_eq!(parse(&format_asctime(secs)), Some(secs));
        }

        #[test]
        fn rfc850_round_trips_in_two_digit_range(secs in 0i64..3_155_760_000) {
            // 1970..=2069: the two-digit window.
            prop_assert_eq!(parse(&format_rfc850(secs)), Some(secs));
        }
    }

    #[test]
    fn chromium_reads_the_usual_formats() {
        for v in [
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Thursday, 01-Jan-70 00:00:00 GMT",
            "Thu Jan  1 00:00:00 1970",
            "01 Jan 1970 00:00:00",
        ] {
            assert_eq!(parse_chromium(v.as_bytes()), Some(0), "{v}");
        }
        assert_eq!(
            parse_chromium(b"Fri, 01 Jan 2100 00:00:00 GMT"),
            parse("Fri, 01 Jan 2100 00:00:00 GMT")
        );
    }

    #[test]
    fn chromium_rejects_what_the_rfc_reads() {
        // The RFC takes the leading digits of `1st` and `01x` as the day; Chromium takes a
        // three-character numeric token as the year and finds no day.
        for v in [
            "Thu, 1st Jan 1970 00:00:00 GMT",
            "Thu, 01x Jan 1970 00:00:00 GMT",
            "Thu, 01 Jan 1970 00:00 GMT",
            "Thu, 31 Jun 1970 00:00:00 GMT",
        ] {
            assert_eq!(parse_chromium(v.as_bytes()), None, "{v}");
        }
        assert_eq!(parse("Thu, 1st Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse("Thu, 01x Jan 1970 00:00:00 GMT"), Some(0));
    }

    proptest! {
        #[test]
        fn chromium_never_panics(s in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_chromium(&s);
        }
    }
}
