//! OneTrust: the `OptanonConsent` cookie, with `OptanonAlertBoxClosed` as the decision marker.
//!
//! `OptanonConsent` is a form-urlencoded query string (`key=value&key=value`, `+` is a space,
//! `%3A` is `:`, `%2C` is `,`). Its `groups` field lists `GroupId:State` pairs, state `1` for an
//! active (consented) group and `0` for an inactive one. Some writers store it already decoded
//! (`groups=C0001:1,C0002:0`); both forms read the same.
//!
//! OneTrust writes the cookie before the visitor chooses, holding the default state of the
//! visitor's geolocation rule (all `0` for opt-in templates, all `1` for implied ones). So the
//! cookie records a decision only when the banner was closed (`OptanonAlertBoxClosed` present)
//! or the visitor interacted (`interactionCount` above zero).

use super::reading::{NameMap, Reading, Tally};
use super::text::{self, Decoding, MAX_VALUE_LEN};
use crate::policy::categories::CategorySet;

/// The consent cookie.
pub const CONSENT_COOKIE: &str = "OptanonConsent";
/// Present (holding the time the banner was closed) once the visitor dismissed the banner.
pub const ALERT_BOX_CLOSED_COOKIE: &str = "OptanonAlertBoxClosed";

/// The default group map: `(OneTrust group id, our category name)`.
pub(crate) const DEFAULT_MAP: &[(&str, &str)] = &[
    ("C0002", "analytics"),
    ("C0003", "functional"),
    ("C0004", "advertising"),
    ("C0005", "advertising"),
];

/// The fields of `OptanonConsent` the decision reads.
const FIELDS: [&[u8]; 3] = [b"groups", b"interactionCount", b"AwaitingReconsent"];

/// The longest encoded key that can decode to one of [`FIELDS`] (each byte as `%XX`).
const MAX_ENCODED_KEY: usize = 3 * "AwaitingReconsent".len();

/// Which of [`FIELDS`] a raw query key names. Keys are compared decoded, but only a key with
/// something to decode pays for it.
fn field(key: &[u8]) -> Option<usize> {
    let find = |k: &[u8]| FIELDS.iter().position(|f| *f == k);
    if !key.iter().any(|&b| b == b'%' || b == b'+') {
        find(key)
    } else if key.len() <= MAX_ENCODED_KEY {
        text::with_decoded(key, Decoding::Form, find).flatten()
    } else {
        None
    }
}

/// Reads an `OptanonConsent` value. `alert_box_closed` tells whether the request also carried a
/// non-empty `OptanonAlertBoxClosed` cookie.
pub fn read(consent: &str, alert_box_closed: bool, map: &NameMap) -> Reading {
    let consent = text::unquote(consent).as_bytes();
    if consent.len() > MAX_VALUE_LEN {
        return Reading::Malformed;
    }
    // The raw (still encoded) values; the first occurrence of a key wins, as
    // `URLSearchParams.get` reads it.
    let mut values: [Option<&[u8]>; 3] = [None; 3];
    for part in text::split_on(consent, b'&') {
        let (key, value) = match memchr::memchr(b'=', part) {
            Some(eq) => {
                let (k, v) = part.split_at(eq);
                (k, v.get(1..).unwrap_or_default())
            }
            None => (part, &b""[..]),
        };
        if let Some(slot) = field(key).and_then(|i| values.get_mut(i)) {
            slot.get_or_insert(value);
        }
    }
    let [groups, interaction_count, awaiting_reconsent] = values;

    // OneTrust always writes `groups`, even before any interaction: without it this is not a
    // OneTrust consent cookie.
    let Some(groups) = groups else {
        return Reading::Malformed;
    };
    let interactions = match interaction_count {
        None => 0,
        Some(v) => match parse_count(v) {
            Some(n) => n,
            None => return Reading::Malformed,
        },
    };
    // The publisher asked every visitor to consent again (new purposes or vendors) and this one
    // has not answered yet: the groups still hold the answer to the old question, which does not
    // cover what is asked now, so nothing is decided until the visitor answers.
    if awaiting_reconsent.is_some_and(|v| text::trim(v).eq_ignore_ascii_case(b"true")) {
        return Reading::NoDecision;
    }
    // Banner never closed and no interaction: `groups` holds the template's defaults, not a
    // choice. (A closed banner counts as a decision even with `interactionCount=0`, which has
    // been seen in real cookie jars.)
    if !alert_box_closed && interactions == 0 {
        return Reading::NoDecision;
    }

    text::with_decoded(groups, Decoding::Form, |groups| {
        let mut tally = Tally::default();
        for entry in text::split_on(groups, b',') {
            let entry = text::trim(entry);
            let Some(colon) = entry.iter().position(|&b| b == b':') else {
                // An empty entry (trailing comma) or a bare id: nothing to read.
                continue;
            };
            let (id, state) = entry.split_at(colon);
            let state = text::trim(state.get(1..).unwrap_or_default());
            if let Some(category) = text::lookup(map, text::trim(id)) {
                // Only `1` is consent; `0` and anything unknown is not.
                tally.mention(category, state == b"1");
            }
        }
        tally.finish(CategorySet::EMPTY)
    })
    .unwrap_or(Reading::Malformed)
}

/// `interactionCount`: a small decimal integer (spaces, as `+`, tolerated around it).
fn parse_count(raw: &[u8]) -> Option<u32> {
    let mut v = raw;
    while let [b' ' | b'+', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'+'] = v {
        v = rest;
    }
    if v.is_empty() || v.len() > 9 {
        return None;
    }
    v.iter().try_fold(0u32, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::categories::CategoryId;

    // essential 0, functional 1, analytics 2, advertising 3
    fn map() -> NameMap {
        NameMap::new([
            ("C0002".into(), CategoryId(2)),
            ("C0003".into(), CategoryId(1)),
            ("C0004".into(), CategoryId(3)),
            ("C0005".into(), CategoryId(3)),
        ])
    }

    fn set(ids: &[u8]) -> CategorySet {
        ids.iter().map(|&i| CategoryId(i)).collect()
    }

    const ACCEPT_ALL: &str = "isGpcEnabled=0&datestamp=Sat+Feb+07+2026+12%3A16%3A58+GMT%2B0800+(China+Standard+Time)&version=202502.1.0&browserGpcFlag=0&isIABGlobal=false&identifierType=Cookie+Unique+Id&hosts=&consentId=cacc8f29-8ccc-40d7-93e4-f44683563657&interactionCount=1&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0003%3A1%2CC0004%3A1%2CC0002%3A1%2CV2STACK42%3A1&iType=1&intType=1&geolocation=JP%3B13&AwaitingReconsent=false";
    const REJECT_ALL: &str = "isGpcEnabled=1&datestamp=Fri+Feb+13+2026+22%3A25%3A29+GMT%2B0100+(hora+est%C3%A1ndar+de+Europa+central)&version=202512.1.0&browserGpcFlag=1&isIABGlobal=false&consentId=3134823156&isAnonUser=0&interactionCount=2&intType=2&hosts=&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A0%2CC0003%3A0%2CC0004%3A0%2CC0005%3A0%2CV2STACK42%3A0%2CC0035%3A0%2CC0038%3A0&genVendors=V2%3A0%2CV1%3A0%2C&crTime=1770283241677&geolocation=IT%3B25&AwaitingReconsent=false";
    const UNDECIDED_OPT_IN: &str = "isGpcEnabled=0&datestamp=Mon+Jun+16+2025+17%3A48%3A11+GMT%2B0530+(India+Standard+Time)&version=202501.2.0&browserGpcFlag=0&isIABGlobal=false&hosts=&consentId=9f5da6c6-8680-4a0a-8100-807611edb626&interactionCount=0&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0005%3A0%2CC0002%3A0%2CC0003%3A0%2CC0004%3A0&AwaitingReconsent=false";
    const UNDECIDED_IMPLIED: &str = "isGpcEnabled=0&version=202501.2.0&interactionCount=0&landingPath=https%3A%2F%2Fwww.yelp.com%2Fbiz%2Fsome-place&groups=BG51%3A1%2CC0003%3A1%2CC0002%3A1%2CC0001%3A1%2CC0004%3A1";
    const LEGACY: &str = "consentId=abc&datestamp=Tue+Mar+01+2022&version=6.32.0&isIABGlobal=false&hosts=&landingPath=NotLandingPage&groups=1%3A1%2C2%3A1%2C3%3A1%2C4%3A0&geolocation=%3B&AwaitingReconsent=false";

    #[test]
    fn accept_all() {
        assert_eq!(
            read(ACCEPT_ALL, true, &map()),
            Reading::decided(set(&[1, 2, 3]))
        );
        // interactionCount=1 decides even without the alert-box cookie.
        assert_eq!(
            read(ACCEPT_ALL, false, &map()),
            Reading::decided(set(&[1, 2, 3]))
        );
    }

    #[test]
    fn reject_all() {
        assert_eq!(
            read(REJECT_ALL, true, &map()),
            Reading::decided(CategorySet::EMPTY)
        );
    }

    #[test]
    fn partial_and_several_groups_per_category() {
        let v = REJECT_ALL.replace("C0002%3A0", "C0002%3A1");
        assert_eq!(read(&v, true, &map()), Reading::decided(set(&[2])));
        // C0004 granted but C0005 (same category) refused: advertising is denied.
        let v = REJECT_ALL.replace("C0004%3A0", "C0004%3A1");
        assert_eq!(read(&v, true, &map()), Reading::decided(CategorySet::EMPTY));
        // C0005 absent, C0004 granted: advertising granted.
        let v = "interactionCount=1&groups=C0004%3A1%2CC0002%3A0";
        assert_eq!(read(v, true, &map()), Reading::decided(set(&[3])));
    }

    #[test]
    fn unmentioned_categories_are_denied() {
        let v = "interactionCount=1&groups=C0001%3A1%2CC0002%3A1";
        assert_eq!(read(v, true, &map()), Reading::decided(set(&[2])));
    }

    #[test]
    fn no_decision_before_interaction() {
        assert_eq!(read(UNDECIDED_OPT_IN, false, &map()), Reading::NoDecision);
        // Implied template: defaults say 1, still no decision.
        assert_eq!(read(UNDECIDED_IMPLIED, false, &map()), Reading::NoDecision);
        // Banner closed: a decision, even with interactionCount=0.
        assert_eq!(
            read(UNDECIDED_IMPLIED, true, &map()),
            Reading::decided(set(&[1, 2, 3]))
        );
        // interactionCount missing counts as zero.
        assert_eq!(read("groups=C0002%3A1", false, &map()), Reading::NoDecision);
    }

    #[test]
    fn awaiting_reconsent_is_no_decision() {
        let v = ACCEPT_ALL.replace("AwaitingReconsent=false", "AwaitingReconsent=true");
        assert_eq!(read(&v, true, &map()), Reading::NoDecision);
        let v = ACCEPT_ALL.replace("AwaitingReconsent=false", "AwaitingReconsent=TRUE");
        assert_eq!(read(&v, true, &map()), Reading::NoDecision);
    }

    #[test]
    fn decoded_and_mixed_forms() {
        let v = "interactionCount=1&groups=C0001:1,C0002:0,C0003:1,C0004:1,C0005:1";
        assert_eq!(read(v, false, &map()), Reading::decided(set(&[1, 3])));
        let v = "interactionCount=1&groups=C0001%3a1,C0002:1%2cC0003%3A0";
        assert_eq!(read(v, false, &map()), Reading::decided(set(&[2])));
        // Spaces (`+`) around entries are tolerated.
        let v = "interactionCount=1&groups=C0002%3A1%2C+C0003%3A1";
        assert_eq!(read(v, false, &map()), Reading::decided(set(&[1, 2])));
        // Quoted cookie value.
        let v = "\"interactionCount=1&groups=C0002%3A1\"";
        assert_eq!(read(v, false, &map()), Reading::decided(set(&[2])));
        // An encoded key still names the field.
        let v = "interactionCount=1&group%73=C0002%3A1";
        assert_eq!(read(v, false, &map()), Reading::decided(set(&[2])));
    }

    #[test]
    fn legacy_numeric_groups_need_a_mapping() {
        assert_eq!(
            read(LEGACY, true, &map()),
            Reading::decided(CategorySet::EMPTY)
        );
        let legacy = NameMap::new([("2".into(), CategoryId(2)), ("4".into(), CategoryId(3))]);
        assert_eq!(read(LEGACY, true, &legacy), Reading::decided(set(&[2])));
    }

    #[test]
    fn first_groups_field_wins_and_unknown_states_are_not_consent() {
        let v = "interactionCount=1&groups=C0002%3A1&groups=C0003%3A1";
        assert_eq!(read(v, false, &map()), Reading::decided(set(&[2])));
        let v = "interactionCount=1&groups=C0002%3Atrue%2CC0003%3A2%2CC0004%3A%2CC0005";
        assert_eq!(read(v, false, &map()), Reading::decided(CategorySet::EMPTY));
    }

    #[test]
    fn malformed() {
        assert_eq!(read("", true, &map()), Reading::Malformed);
        assert_eq!(read("garbage", true, &map()), Reading::Malformed);
        assert_eq!(read("interactionCount=1", true, &map()), Reading::Malformed);
        assert_eq!(
            read("interactionCount=x&groups=C0002%3A1", true, &map()),
            Reading::Malformed
        );
        assert_eq!(
            read(
                "interactionCount=99999999999&groups=C0002%3A1",
                true,
                &map()
            ),
            Reading::Malformed
        );
        let huge = format!("interactionCount=1&groups=C0002%3A1&x={}", "a".repeat(5000));
        assert_eq!(read(&huge, true, &map()), Reading::Malformed);
        // Odd bytes are data, not separators; nothing maps, nothing is granted.
        let v = "interactionCount=1&groups=C0002%FF%3A1%2C%00%2C\u{e9}%3A1";
        assert_eq!(read(v, true, &map()), Reading::decided(CategorySet::EMPTY));
        // An empty groups list after a decision grants nothing.
        assert_eq!(
            read("interactionCount=3&groups=", true, &map()),
            Reading::decided(CategorySet::EMPTY)
        );
    }
}
