//! Cookie dates (RFC 6265 §5.1.1): `cookie_date::parse` against a plain reference implementation
//! of the same algorithm, plus the range and a formatting round trip.
#![no_main]

use consentry::policy::cookie_date;
use libfuzzer_sys::fuzz_target;

/// 1601-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
const MIN: i64 = -11_644_473_600;
const MAX: i64 = 253_402_300_799;

fn is_delimiter(b: u8) -> bool {
    b == 0x09
        || (0x20..=0x2F).contains(&b)
        || (0x3B..=0x40).contains(&b)
        || (0x5B..=0x60).contains(&b)
        || (0x7B..=0x7E).contains(&b)
}

/// `min*max DIGIT` at the start of `t`, followed by the end or a non-digit.
fn digits(t: &[u8], min: usize, max: usize) -> Option<(u32, &[u8])> {
    let n = t.iter().take_while(|b| b.is_ascii_digit()).count();
    if n < min || n > max {
        return None;
    }
    let v = std::str::from_utf8(&t[..n]).ok()?.parse().ok()?;
    Some((v, &t[n..]))
}

fn time(t: &[u8]) -> Option<(u32, u32, u32)> {
    let (h, rest) = digits(t, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (m, rest) = digits(rest, 1, 2)?;
    let rest = rest.strip_prefix(b":")?;
    let (s, _) = digits(rest, 1, 2)?;
    Some((h, m, s))
}

fn month(t: &[u8]) -> Option<u32> {
    let names = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let p = t.get(..3)?.to_ascii_lowercase();
    names
        .iter()
        .position(|m| m.as_bytes() == p.as_slice())
        .map(|i| i as u32 + 1)
}

fn leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

/// Days since 0001-01-01 of January 1st of `y` (proleptic Gregorian).
fn days_before_year(y: i64) -> i64 {
    let y = y - 1;
    365 * y + y / 4 - y / 100 + y / 400
}

fn month_lengths(y: i64) -> [i64; 12] {
    [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ]
}

fn reference(s: &str) -> Option<i64> {
    let (mut t, mut d, mut mo, mut y) = (None, None, None, None);
    for token in s.as_bytes().split(|&b| is_delimiter(b)) {
        if token.is_empty() {
            continue;
        }
        if t.is_none() {
            if let Some(v) = time(token) {
                t = Some(v);
                continue;
            }
        }
        if d.is_none() {
            if let Some((v, _)) = digits(token, 1, 2) {
                d = Some(v);
                continue;
            }
        }
        if mo.is_none() {
            if let Some(v) = month(token) {
                mo = Some(v);
                continue;
            }
        }
        if y.is_none() {
            if let Some((v, _)) = digits(token, 2, 4) {
                y = Some(v);
                continue;
            }
        }
    }
    let ((h, mi, se), d, mo, mut y) = (t?, d?, mo?, y?);
    if (70..=99).contains(&y) {
        y += 1900;
    }
    if y <= 69 {
        y += 2000;
    }
    if d < 1 || d > 31 || y < 1601 || h > 23 || mi > 59 || se > 59 {
        return None;
    }
    let y = i64::from(y);
    let lengths = month_lengths(y);
    if i64::from(d) > lengths[mo as usize - 1] {
        return None;
    }
    let days = days_before_year(y) - days_before_year(1970)
        + lengths[..mo as usize - 1].iter().sum::<i64>()
        + i64::from(d)
        - 1;
    Some(days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(se))
}

/// Formats seconds since the epoch as an IMF-fixdate (`Thu, 01 Jan 1970 00:00:00 GMT`).
fn format(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let mut y = 1970 + days.div_euclid(366) - 1;
    while days_before_year(y + 1) - days_before_year(1970) <= days {
        y += 1;
    }
    while days_before_year(y) - days_before_year(1970) > days {
        y -= 1;
    }
    let mut doy = days - (days_before_year(y) - days_before_year(1970));
    let mut m = 0;
    for (i, len) in month_lengths(y).iter().enumerate() {
        if doy < *len {
            m = i;
            break;
        }
        doy -= len;
    }
    let names = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    format!(
        "{wd}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        doy + 1,
        names[m],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let got = cookie_date::parse(&s);
    assert_eq!(got, reference(&s), "input {s:?}");
    if let Some(t) = got {
        assert!((MIN..=MAX).contains(&t), "{t} outside 1601..=9999");
        let f = format(t);
        assert_eq!(cookie_date::parse(&f), Some(t), "round trip through {f:?}");
    }
});
