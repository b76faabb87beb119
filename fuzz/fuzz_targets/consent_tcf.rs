//! IAB TCF: `tcf::decode_core` against a plain bit-by-bit reference decoder of the core
//! segment's fixed fields, and `tcf::read` with the default purpose map.
#![no_main]

use consentry::policy::categories::CategorySet;
use consentry::policy::consent::tcf::{self, TcError};
use consentry::policy::consent::{Reading, SourceKind};
use consentry_fuzz::{check_reading, check_via_header, tcf_map};
use libfuzzer_sys::fuzz_target;

/// The characters that hold the fixed fields (`Version` .. `PublisherCC`, 213 bits).
const FIXED_CHARS: usize = 36;

fn sextet(c: u8) -> Option<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    A.iter().position(|&x| x == c).map(|i| i as u8).or(match c {
        b'-' | b'+' => Some(62),
        b'_' | b'/' => Some(63),
        _ => None,
    })
}

struct Reader {
    bits: Vec<bool>,
    pos: usize,
}

impl Reader {
    fn int(&mut self, n: usize) -> u64 {
        let mut v = 0;
        for _ in 0..n {
            v = v << 1 | u64::from(self.bits.get(self.pos).copied().unwrap_or(false));
            self.pos += 1;
        }
        v
    }
    /// `n` bits, the first for id 1: bit `i - 1` set for id `i`.
    fn ids(&mut self, n: usize) -> u32 {
        let mut v = 0;
        for i in 0..n {
            if self.int(1) == 1 {
                v |= 1 << i;
            }
        }
        v
    }
    fn letters(&mut self) -> Result<[u8; 2], TcError> {
        let a = self.int(6) as u8;
        let b = self.int(6) as u8;
        if a > 25 || b > 25 {
            return Err(TcError::InvalidLetter);
        }
        Ok([b'A' + a, b'A' + b])
    }
}

fn reference(tc: &str) -> Result<tcf::TcCore, TcError> {
    let tc = tc.trim_matches(|c| c == ' ' || c == '\t');
    let tc = tc
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(tc);
    if tc.len() > 4096 {
        return Err(TcError::TooLong);
    }
    let core = tc.split('.').next().unwrap_or("").trim_end_matches('=');
    if core.is_empty() {
        return Err(TcError::Empty);
    }
    let mut bits = Vec::new();
    for &c in core.as_bytes().iter().take(FIXED_CHARS) {
        let v = sextet(c).ok_or(TcError::InvalidCharacter)?;
        for i in (0..6).rev() {
            bits.push(v >> i & 1 == 1);
        }
    }
    let mut r = Reader { bits, pos: 0 };
    let version = r.int(6) as u8;
    if version != 2 {
        return Err(TcError::Version(version));
    }
    if core.len() < FIXED_CHARS {
        return Err(TcError::Truncated);
    }
    Ok(tcf::TcCore {
        version,
        created: r.int(36),
        last_updated: r.int(36),
        cmp_id: r.int(12) as u16,
        cmp_version: r.int(12) as u16,
        consent_screen: r.int(6) as u8,
        consent_language: r.letters()?,
        vendor_list_version: r.int(12) as u16,
        tcf_policy_version: r.int(6) as u8,
        is_service_specific: r.int(1) == 1,
        use_non_standard_texts: r.int(1) == 1,
        special_feature_opt_ins: r.ids(12) as u16,
        purposes_consent: r.ids(24),
        purposes_li_transparency: r.ids(24),
        purpose_one_treatment: r.int(1) == 1,
        publisher_cc: r.letters()?,
    })
}

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let core = tcf::decode_core(&value);
    assert_eq!(core, reference(&value), "input {value:?}");

    let map = tcf_map();
    let r = tcf::read(&value, map);
    check_reading(r, map.categories());
    match core {
        Err(_) => assert_eq!(r, Reading::Malformed),
        Ok(c) => {
            // A category is granted exactly when every purpose of its list has consent;
            // legitimate interest never counts.
            let expected: CategorySet = map
                .entries
                .iter()
                .filter(|&&(_, mask)| {
                    (1..=24).all(|p| mask & 1 << (p - 1) == 0 || c.purpose_consent(p))
                })
                .map(|&(id, _)| id)
                .collect();
            assert_eq!(r, Reading::decided(expected));
            assert!(c.consent_language.iter().all(u8::is_ascii_uppercase));
            assert!(c.publisher_cc.iter().all(u8::is_ascii_uppercase));
        }
    }
    check_via_header(SourceKind::Tcf, tcf::COOKIE, &value, r);
});
