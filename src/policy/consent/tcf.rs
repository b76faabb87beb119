//! IAB TCF v2.x: the TC string in the `euconsent-v2` cookie.
//!
//! A TC string is `.`-separated segments, each base64url without padding, bits big-endian from
//! the left. Only the core segment (the text before the first `.`) is read, and only its fixed
//! fields up to `PublisherCC` (213 bits, 36 characters): the vendor sections, publisher
//! restrictions and the other segments are never decoded, so the work per request is bounded
//! whatever the string's length.
//!
//! Consent is read from `PurposesConsent` alone. Legitimate interest is not consent and never
//! grants anything: a "reject all" string may still carry LI bits.

use super::reading::Reading;
use super::text::{self, MAX_VALUE_LEN};
use crate::policy::categories::{CategoryId, CategorySet};
use std::fmt;

/// The consent cookie (the de-facto name; TCF leaves storage to the CMP).
pub const COOKIE: &str = "euconsent-v2";

/// The highest purpose id with a bit in `PurposesConsent`.
pub(crate) const MAX_PURPOSE: u32 = 24;

/// The default purpose lists: `(our category name, purposes that must all have consent)`.
pub(crate) const DEFAULT_PURPOSES: &[(&str, &[u32])] = &[
    ("functional", &[1]),
    ("analytics", &[1, 8, 9]),
    ("advertising", &[1, 2, 3, 4, 7]),
];

/// Bits of the core segment's fixed fields, `Version` through `PublisherCC`.
const CORE_FIXED_BITS: usize = 213;
/// Base64 characters that carry [`CORE_FIXED_BITS`].
const CORE_FIXED_CHARS: usize = CORE_FIXED_BITS.div_ceil(6);

/// Which purposes each category needs. A category is granted when every purpose of its mask
/// (bit `p - 1` for purpose `p`) has consent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcfMap {
    pub entries: Vec<(CategoryId, u32)>,
}

impl TcfMap {
    /// The mask of a list of purpose ids (each `1..=24`).
    pub fn mask(purposes: &[u32]) -> u32 {
        purposes
            .iter()
            .filter(|p| (1..=MAX_PURPOSE).contains(p))
            .fold(0, |m, p| m | 1 << (p - 1))
    }

    /// Every category with a purpose list.
    pub fn categories(&self) -> CategorySet {
        self.entries.iter().map(|&(c, _)| c).collect()
    }
}

/// The fixed fields of a TC string's core segment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TcCore {
    pub version: u8,
    /// Deciseconds since the Unix epoch.
    pub created: u64,
    /// Deciseconds since the Unix epoch.
    pub last_updated: u64,
    pub cmp_id: u16,
    pub cmp_version: u16,
    pub consent_screen: u8,
    /// Two upper-case ASCII letters.
    pub consent_language: [u8; 2],
    pub vendor_list_version: u16,
    pub tcf_policy_version: u8,
    pub is_service_specific: bool,
    pub use_non_standard_texts: bool,
    /// Bit `f - 1` for special feature `f` (1..=12).
    pub special_feature_opt_ins: u16,
    /// Bit `p - 1` for purpose `p` (1..=24).
    pub purposes_consent: u32,
    /// Bit `p - 1` for purpose `p` (1..=24). Never read as consent.
    pub purposes_li_transparency: u32,
    pub purpose_one_treatment: bool,
    /// Two upper-case ASCII letters (`AA` when unset).
    pub publisher_cc: [u8; 2],
}

impl TcCore {
    pub fn created_ms(&self) -> u64 {
        self.created.saturating_mul(100)
    }

    pub fn last_updated_ms(&self) -> u64 {
        self.last_updated.saturating_mul(100)
    }

    /// Whether purpose `p` (1-based) has consent.
    pub fn purpose_consent(&self, p: u32) -> bool {
        (1..=MAX_PURPOSE).contains(&p) && self.purposes_consent & (1 << (p - 1)) != 0
    }

    /// The purposes with consent, ascending.
    pub fn purposes_consented(&self) -> impl Iterator<Item = u32> + '_ {
        (1..=MAX_PURPOSE).filter(|&p| self.purpose_consent(p))
    }
}

/// Why a TC string could not be read.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum TcError {
    /// No core segment.
    Empty,
    /// Longer than any cookie a browser keeps.
    TooLong,
    /// A character outside the base64url (or standard base64) alphabet.
    InvalidCharacter,
    /// Too short for the core segment's fixed fields.
    Truncated,
    /// Not a version 2 string.
    Version(u8),
    /// A letter field (language, country) above `Z`.
    InvalidLetter,
}

impl fmt::Display for TcError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TcError::Empty => f.write_str("empty TC string"),
            TcError::TooLong => f.write_str("TC string too long"),
            TcError::InvalidCharacter => f.write_str("invalid base64url character"),
            TcError::Truncated => f.write_str("TC string too short for its core fields"),
            TcError::Version(v) => write!(f, "TC string version {v}, expected 2"),
            TcError::InvalidLetter => f.write_str("invalid letter in a language or country"),
        }
    }
}

impl std::error::Error for TcError {}

fn sextet(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'-' | b'+' => Some(62),
        b'_' | b'/' => Some(63),
        _ => None,
    }
}

/// The fixed fields' bits: ten characters (60 bits) per word, the first bit of each word in its
/// bit 59.
struct Bits {
    words: [u64; 4],
    pos: usize,
}

impl Bits {
    /// Packs the first [`CORE_FIXED_CHARS`] characters; `None` on a character outside the
    /// alphabet.
    fn new(chars: &[u8]) -> Option<Bits> {
        let mut words = [0u64; 4];
        for (i, &c) in chars.iter().take(CORE_FIXED_CHARS).enumerate() {
            let word = words.get_mut(i / 10)?;
            *word |= u64::from(sextet(c)?) << (54 - 6 * (i % 10));
        }
        Some(Bits { words, pos: 0 })
    }

    /// The next `n` bits (`1..=36`).
    fn read(&mut self, n: usize) -> u64 {
        let w = self.pos / 60;
        let off = self.pos % 60;
        let hi = u128::from(self.words.get(w).copied().unwrap_or(0));
        let lo = u128::from(self.words.get(w + 1).copied().unwrap_or(0));
        // 120 bits, left-aligned.
        let both = (hi << 68) | (lo << 8);
        self.pos += n;
        ((both << off) >> (128 - n)) as u64
    }

    /// A set of `n` ids whose first bit is id 1: returned with bit `i - 1` for id `i`.
    fn id_set(&mut self, n: usize) -> u32 {
        (self.read(n) as u32).reverse_bits() >> (32 - n)
    }

    fn letters(&mut self) -> Result<[u8; 2], TcError> {
        let mut out = [0u8; 2];
        for slot in &mut out {
            let v = self.read(6) as u8;
            if v > 25 {
                return Err(TcError::InvalidLetter);
            }
            *slot = b'A' + v;
        }
        Ok(out)
    }
}

/// Decodes the fixed fields of a TC string's core segment. Accepts a whole TC string (other
/// segments are ignored), `=` padding, and the standard base64 alphabet's `+` and `/`. Only the
/// characters holding the fixed fields are looked at; the rest of the core segment (the vendor
/// sections) is neither decoded nor checked.
pub fn decode_core(tc: &str) -> Result<TcCore, TcError> {
    let tc = text::unquote(tc);
    if tc.len() > MAX_VALUE_LEN {
        return Err(TcError::TooLong);
    }
    let core = tc.split('.').next().unwrap_or_default();
    let core = core.trim_end_matches('=').as_bytes();
    if core.is_empty() {
        return Err(TcError::Empty);
    }
    let mut b = Bits::new(core).ok_or(TcError::InvalidCharacter)?;
    let version = b.read(6) as u8;
    if version != 2 {
        return Err(TcError::Version(version));
    }
    if core.len() < CORE_FIXED_CHARS {
        return Err(TcError::Truncated);
    }
    Ok(TcCore {
        version,
        created: b.read(36),
        last_updated: b.read(36),
        cmp_id: b.read(12) as u16,
        cmp_version: b.read(12) as u16,
        consent_screen: b.read(6) as u8,
        consent_language: b.letters()?,
        vendor_list_version: b.read(12) as u16,
        tcf_policy_version: b.read(6) as u8,
        is_service_specific: b.read(1) == 1,
        use_non_standard_texts: b.read(1) == 1,
        special_feature_opt_ins: b.id_set(12) as u16,
        purposes_consent: b.id_set(24),
        purposes_li_transparency: b.id_set(24),
        purpose_one_treatment: b.read(1) == 1,
        publisher_cc: b.letters()?,
    })
}

/// Reads a `euconsent-v2` value. A readable TC string is a decision: a category with a purpose
/// list is granted when each of its purposes has consent and denied otherwise; every other
/// category is denied.
pub fn read(value: &str, map: &TcfMap) -> Reading {
    let Ok(core) = decode_core(value) else {
        return Reading::Malformed;
    };
    let granted = map
        .entries
        .iter()
        .filter(|&&(_, mask)| core.purposes_consent & mask == mask)
        .map(|&(c, _)| c)
        .collect();
    Reading::decided(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(mask: u32) -> Vec<u32> {
        (1..=24).filter(|p| mask & (1 << (p - 1)) != 0).collect()
    }

    fn range(a: u32, b: u32) -> Vec<u32> {
        (a..=b).collect()
    }

    // essential 0, functional 1, analytics 2, advertising 3
    fn map() -> TcfMap {
        TcfMap {
            entries: vec![
                (CategoryId(1), TcfMap::mask(&[1])),
                (CategoryId(2), TcfMap::mask(&[1, 8, 9])),
                (CategoryId(3), TcfMap::mask(&[1, 2, 3, 4, 7])),
            ],
        }
    }

    fn set(ids: &[u8]) -> CategorySet {
        ids.iter().map(|&i| CategoryId(i)).collect()
    }

    const V1: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";
    const V1_WITH_PUB: &str = "COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA.ZAAgH9794ulA";
    const V2: &str = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA";
    const V3: &str =
        "CGL23UdMFJzvuA9ACCENAXCEAC0AAGrAAA5YA5ht7-_d_7_vd-f-nrf4_4A4hM4JCKoK4YhmAqABgAEgAA";
    const V4: &str = "CO51ctPO51ctPCnABBDEA3CsAP_AAAAAAAYgGkNf_X_fb2vj-_5999t0eY1f9_63v-wzjgeNs-8Nyd_X_L4Xr2MyvB36pq4KuR4Eu3LBAQdlHOHcTQmQwIkVqTLsbk2Mq7NKJ7LEilMbM2dYGH9vn9XTuZCY70_sf__z_3-_-___67f-L2wAAADhIBQAFQAQAA0ACYAE8ARwAtwB-gIvAXmKgBgBMAEcAvMZADACYAI4BeY6AaABUAEAANAAmABPAEcAJgAW4A_QCLAIvAXmAxglAFACYAI4AW4CLwF5lIBYAFQAQAA0ACYAE8AW4A_QCLAIvAXmAxghACACYAI4.f_gAAAAAAWAA";
    const V5: &str =
        "CQSbk4AQSbk4ANwAAAENAwCgAAAAAAAAAAYgACPAAAAA.IDKQA4AAgAKAGQAygAAA.YAAAAAAAAAAA";
    const V6: &str = "CQGiOUAQGiOUAAHABBENBLFgAAAAAAAAAAAAAAAAAAAA.YAAAAAAAAAAA";
    const V7: &str = "CQTQT4AQTQT4AAGABCENBvFsAP_gAELAABp4IzQHwAFAANAAqABwAEAALQAZAA0ACKAEwAKQAYgA3gBzAEIAI4ATQApACEAFDAPaAhsBGoC2gF5gMZAZIA0IBqIELgIzAIRADAAUAI4AhAA4SAYABUADgAIIAZABoAEwAN4AhABNAHtAXmAyQCFw6AWABUADgAIIAZABoAEwAMQAbwBNAHtAXmAyQhACADEAG8lAGAA4AEwAMQB7QF5gMkKQCQAKgAcABAADQAJgAYgD2gLzAZIVAAgAKKAAQAZA.YAAAAAAAAAAA";
    const V8: &str = "CQEyKcAQEyKcAAGABBENBGFgAAAAAEPgABBoAAAOWgJAAkABkAEcARwAnAByADnAIAAQcAjgBdQFSgLUAXQAvMBggDFgHLABBQAIC6CgAEAjgAAA.YAAAAAAAAAAA";
    const V9: &str =
        "CPt3fQAPt3fQACNAFAENDLCgAAAAAAAAACiQAAAOCgDAB-AIsAZ8A6QDBAHBAAAA.YAAAAAAAAAAA";

    /// Midnight UTC of a day as deciseconds (`days` since the epoch).
    fn day_ds(days: u64) -> u64 {
        days * 86_400 * 10
    }

    #[test]
    fn v1_library_vector() {
        for s in [V1, V1_WITH_PUB] {
            let c = decode_core(s).unwrap();
            assert_eq!(c.version, 2);
            assert_eq!(c.created_ms(), 1_582_243_059_300);
            assert_eq!(c.last_updated_ms(), 1_582_243_059_300);
            assert_eq!(c.cmp_id, 27);
            assert_eq!(c.cmp_version, 0);
            assert_eq!(c.consent_screen, 0);
            assert_eq!(&c.consent_language, b"EN");
            assert_eq!(c.vendor_list_version, 15);
            assert_eq!(c.tcf_policy_version, 2);
            assert!(!c.is_service_specific);
            assert!(!c.use_non_standard_texts);
            assert_eq!(c.special_feature_opt_ins, 0);
            assert_eq!(ids(c.purposes_consent), [1, 2, 3]);
            assert_eq!(c.purposes_li_transparency, 0);
            assert!(!c.purpose_one_treatment);
            assert_eq!(&c.publisher_cc, b"AA");
        }
    }

    #[test]
    fn v2_core_only_nothing_consented() {
        let c = decode_core(V2).unwrap();
        assert_eq!(c.created, 1_650_492_000 * 10);
        assert_eq!(c.last_updated, 1_650_492_000 * 10);
        assert_eq!(c.cmp_id, 31);
        assert_eq!(c.cmp_version, 640);
        assert_eq!(c.consent_screen, 1);
        assert_eq!(&c.consent_language, b"EN");
        assert_eq!(c.vendor_list_version, 126);
        assert_eq!(c.tcf_policy_version, 2);
        assert!(c.is_service_specific);
        assert_eq!(c.special_feature_opt_ins, 0);
        assert_eq!(c.purposes_consent, 0);
        assert_eq!(c.purposes_li_transparency, 0);
        assert_eq!(&c.publisher_cc, b"DE");
    }

    #[test]
    fn v3_ranges_and_li() {
        let c = decode_core(V3).unwrap();
        assert_eq!(c.created_ms(), 664_138_268_500);
        assert_eq!(c.last_updated_ms(), 1_297_135_921_400);
        assert_eq!(c.cmp_id, 61);
        assert_eq!(c.cmp_version, 2);
        assert_eq!(c.consent_screen, 2);
        assert_eq!(&c.consent_language, b"EN");
        assert_eq!(c.vendor_list_version, 23);
        assert_eq!(c.tcf_policy_version, 2);
        assert_eq!(c.special_feature_opt_ins, 0b10);
        assert_eq!(ids(c.purposes_consent), [3, 5, 6, 8]);
        assert_eq!(ids(c.purposes_li_transparency), [2, 3, 5, 7, 9, 10]);
        assert_eq!(&c.publisher_cc, b"HL");
    }

    #[test]
    fn v4_real_cmp_with_restrictions() {
        let c = decode_core(V4).unwrap();
        assert_eq!(c.created_ms(), 1_600_269_806_300);
        assert_eq!(c.cmp_id, 167);
        assert_eq!(c.cmp_version, 1);
        assert_eq!(c.consent_screen, 1);
        assert_eq!(&c.consent_language, b"DE");
        assert_eq!(c.vendor_list_version, 55);
        assert_eq!(c.tcf_policy_version, 2);
        assert!(c.is_service_specific);
        assert_eq!(c.special_feature_opt_ins, 0b11);
        assert_eq!(ids(c.purposes_consent), range(1, 10));
        assert_eq!(c.purposes_li_transparency, 0);
        assert_eq!(&c.publisher_cc, b"DE");
    }

    #[test]
    fn v5_spec_example() {
        let c = decode_core(V5).unwrap();
        // 2025-06-03 is day 20242 since the epoch.
        assert_eq!(c.created, day_ds(20_242));
        assert_eq!(c.last_updated, day_ds(20_242));
        assert_eq!(c.cmp_id, 880);
        assert_eq!(c.cmp_version, 0);
        assert_eq!(&c.consent_language, b"EN");
        assert_eq!(c.vendor_list_version, 48);
        assert_eq!(c.tcf_policy_version, 2);
        assert!(c.is_service_specific);
        assert_eq!(c.purposes_consent, 0);
        assert_eq!(c.purposes_li_transparency, 0);
        assert_eq!(&c.publisher_cc, b"DE");
    }

    #[test]
    fn v6_didomi_reject_all() {
        let c = decode_core(V6).unwrap();
        assert_eq!(c.created, day_ds(20_011)); // 2024-10-15
        assert_eq!(c.cmp_id, 7);
        assert_eq!(c.cmp_version, 1);
        assert_eq!(c.consent_screen, 1);
        assert_eq!(&c.consent_language, b"EN");
        assert_eq!(c.vendor_list_version, 75);
        assert_eq!(c.tcf_policy_version, 5);
        assert!(c.is_service_specific);
        assert_eq!(c.special_feature_opt_ins, 0);
        assert_eq!(c.purposes_consent, 0);
        assert_eq!(c.purposes_li_transparency, 0);
        assert_eq!(&c.publisher_cc, b"AA");
    }

    #[test]
    fn v7_sourcepoint_accept_all() {
        let c = decode_core(V7).unwrap();
        assert_eq!(c.created, day_ds(20_258)); // 2025-06-19
        assert_eq!(c.cmp_id, 6);
        assert_eq!(c.cmp_version, 1);
        assert_eq!(c.consent_screen, 2);
        assert_eq!(&c.consent_language, b"EN");
        assert_eq!(c.vendor_list_version, 111);
        assert_eq!(c.tcf_policy_version, 5);
        assert_eq!(c.special_feature_opt_ins, 0b11);
        assert_eq!(ids(c.purposes_consent), range(1, 11));
        assert_eq!(ids(c.purposes_li_transparency), [2, 7, 9, 10]);
        assert_eq!(&c.publisher_cc, b"NP");
    }

    #[test]
    fn v8_sourcepoint_reject_with_li() {
        let c = decode_core(V8).unwrap();
        assert_eq!(c.created, day_ds(19_977)); // 2024-09-11
        assert_eq!(c.cmp_id, 6);
        assert_eq!(c.vendor_list_version, 70);
        assert_eq!(c.tcf_policy_version, 5);
        assert_eq!(c.purposes_consent, 0);
        assert_eq!(ids(c.purposes_li_transparency), [2, 7, 8, 9, 10, 11]);
        assert_eq!(&c.publisher_cc, b"IN");
    }

    #[test]
    fn v9_ublock_reject() {
        let c = decode_core(V9).unwrap();
        assert_eq!(c.created, day_ds(19_532)); // 2023-06-24
        assert_eq!(c.cmp_id, 141);
        assert_eq!(c.cmp_version, 5);
        assert_eq!(&c.consent_language, b"EN");
        assert_eq!(c.vendor_list_version, 203);
        assert_eq!(c.tcf_policy_version, 2);
        assert_eq!(c.purposes_consent, 0);
        assert_eq!(c.purposes_li_transparency, 0);
        assert_eq!(&c.publisher_cc, b"US");
    }

    #[test]
    fn reading_grants_per_purpose_lists() {
        // V1: purposes 1-3 only. Functional (1) granted; analytics needs 8, 9; advertising 4, 7.
        assert_eq!(read(V1, &map()), Reading::decided(set(&[1])));
        assert_eq!(read(V2, &map()), Reading::decided(CategorySet::EMPTY));
        // V3: no purpose 1, so nothing.
        assert_eq!(read(V3, &map()), Reading::decided(CategorySet::EMPTY));
        assert_eq!(read(V4, &map()), Reading::decided(set(&[1, 2, 3])));
        assert_eq!(read(V5, &map()), Reading::decided(CategorySet::EMPTY));
        assert_eq!(read(V6, &map()), Reading::decided(CategorySet::EMPTY));
        assert_eq!(read(V7, &map()), Reading::decided(set(&[1, 2, 3])));
        // LI bits for 2, 7-11 grant nothing.
        assert_eq!(read(V8, &map()), Reading::decided(CategorySet::EMPTY));
        assert_eq!(read(V9, &map()), Reading::decided(CategorySet::EMPTY));
    }

    /// Encodes the fixed core fields (test helper for building strings).
    fn encode_core(c: &TcCore) -> String {
        let mut bits = Vec::new();
        let mut put = |v: u64, n: usize| {
            for i in (0..n).rev() {
                bits.push((v >> i) & 1 == 1);
            }
        };
        let id_set = |m: u32, n: usize| u64::from(m.reverse_bits() >> (32 - n));
        put(u64::from(c.version), 6);
        put(c.created, 36);
        put(c.last_updated, 36);
        put(u64::from(c.cmp_id), 12);
        put(u64::from(c.cmp_version), 12);
        put(u64::from(c.consent_screen), 6);
        put(u64::from(c.consent_language[0] - b'A'), 6);
        put(u64::from(c.consent_language[1] - b'A'), 6);
        put(u64::from(c.vendor_list_version), 12);
        put(u64::from(c.tcf_policy_version), 6);
        put(u64::from(c.is_service_specific), 1);
        put(u64::from(c.use_non_standard_texts), 1);
        put(id_set(u32::from(c.special_feature_opt_ins), 12), 12);
        put(id_set(c.purposes_consent, 24), 24);
        put(id_set(c.purposes_li_transparency, 24), 24);
        put(u64::from(c.purpose_one_treatment), 1);
        put(u64::from(c.publisher_cc[0] - b'A'), 6);
        put(u64::from(c.publisher_cc[1] - b'A'), 6);
        // An empty vendor consent section (MaxVendorId 0, bitfield) and LI section.
        put(0, 17);
        put(0, 17);
        put(0, 12);
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        bits.chunks(6)
            .map(|ch| {
                let v = ch
                    .iter()
                    .enumerate()
                    .fold(0, |v, (i, &b)| v | (usize::from(b) << (5 - i)));
                char::from(ALPHABET[v])
            })
            .collect()
    }

    #[test]
    fn encoder_round_trips_the_vectors() {
        for v in [V1, V2, V3, V4, V5, V6, V7, V8, V9] {
            let c = decode_core(v).unwrap();
            assert_eq!(decode_core(&encode_core(&c)).unwrap(), c, "{v}");
        }
    }

    #[test]
    fn legitimate_interest_never_grants() {
        let mut c = decode_core(V8).unwrap();
        c.purposes_consent = 0;
        c.purposes_li_transparency = (1 << 24) - 1;
        let s = encode_core(&c);
        assert_eq!(
            decode_core(&s).unwrap().purposes_li_transparency,
            (1 << 24) - 1
        );
        assert_eq!(read(&s, &map()), Reading::decided(CategorySet::EMPTY));
        // Consent to 1, 8 and 9 (LI for everything else): functional and analytics.
        c.purposes_consent = TcfMap::mask(&[1, 8, 9]);
        assert_eq!(
            read(&encode_core(&c), &map()),
            Reading::decided(set(&[1, 2]))
        );
        // Every purpose but 7: advertising denied.
        c.purposes_consent = ((1 << 24) - 1) & !TcfMap::mask(&[7]);
        assert_eq!(
            read(&encode_core(&c), &map()),
            Reading::decided(set(&[1, 2]))
        );
        c.purposes_consent = (1 << 24) - 1;
        assert_eq!(
            read(&encode_core(&c), &map()),
            Reading::decided(set(&[1, 2, 3]))
        );
    }

    #[test]
    fn tolerated_spellings() {
        let base = decode_core(V7).unwrap();
        // Standard base64 alphabet and padding.
        let std_alpha = V7.replace('-', "+").replace('_', "/");
        assert_eq!(decode_core(&std_alpha).unwrap(), base);
        assert_eq!(
            decode_core(&format!("{V2}==")).unwrap(),
            decode_core(V2).unwrap()
        );
        assert_eq!(
            decode_core(&format!("\"{V2}\"")).unwrap(),
            decode_core(V2).unwrap()
        );
        // Only the fixed fields are needed: a core cut right after PublisherCC still decodes.
        let cut = V4.get(..CORE_FIXED_CHARS).unwrap();
        assert_eq!(decode_core(cut).unwrap(), decode_core(V4).unwrap());
    }

    #[test]
    fn errors() {
        assert_eq!(decode_core(""), Err(TcError::Empty));
        assert_eq!(decode_core(".YAAAAAAAAAAA"), Err(TcError::Empty));
        assert_eq!(decode_core("===="), Err(TcError::Empty));
        assert_eq!(
            decode_core(V2.get(..CORE_FIXED_CHARS - 1).unwrap()),
            Err(TcError::Truncated)
        );
        assert_eq!(decode_core("C"), Err(TcError::Truncated));
        // TCF v1 strings start with B (version 1).
        assert_eq!(
            decode_core("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"),
            Err(TcError::Version(1))
        );
        assert_eq!(decode_core("A"), Err(TcError::Version(0)));
        assert_eq!(
            decode_core(&V2.replace('f', "!")),
            Err(TcError::InvalidCharacter)
        );
        assert_eq!(
            decode_core(&V2.replace('f', " ")),
            Err(TcError::InvalidCharacter)
        );
        assert_eq!(
            decode_core("CPXxRfAPXxRfAA=KABENB-CgAAAAAAAAAAYgAAAAAAAA"),
            Err(TcError::InvalidCharacter)
        );
        // Past the fixed fields nothing is looked at.
        assert!(decode_core(&format!("{V2}=x")).is_ok());
        assert_eq!(decode_core("CPXxRf\u{e9}"), Err(TcError::InvalidCharacter));
        let huge = format!("{V2}.{}", "A".repeat(MAX_VALUE_LEN));
        assert_eq!(decode_core(&huge), Err(TcError::TooLong));
        // Language letters above Z: set the language field (bits 108..120) to all ones.
        let mut chars: Vec<u8> = V2.bytes().collect();
        chars[18] = b'_';
        chars[19] = b'_';
        let bad = String::from_utf8(chars).unwrap();
        assert_eq!(decode_core(&bad), Err(TcError::InvalidLetter));
        for e in [TcError::Empty, TcError::Version(3), TcError::InvalidLetter] {
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(read("", &map()), Reading::Malformed);
        assert_eq!(
            read("BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA", &map()),
            Reading::Malformed
        );
    }

    #[test]
    fn masks() {
        assert_eq!(TcfMap::mask(&[1, 2, 24]), 0b1000_0000_0000_0000_0000_0011);
        assert_eq!(TcfMap::mask(&[0, 25]), 0);
        assert_eq!(map().categories(), set(&[1, 2, 3]));
    }
}
