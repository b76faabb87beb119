//! No value, however hostile, panics a parser or the decision.

use super::*;

/// Runs every parser and the whole decision on one value; checks invariants of the result.
fn run_everything(value: &str) {
    let c = cats();
    let b = |k| SourceSpec::build(k, None, "consentry", &c).unwrap();
    let maps: Vec<_> = SourceKind::ALL[1..].iter().map(|&k| b(k)).collect();
    let check = |r: Reading, allowed: CategorySet| {
        if let Reading::Decided { granted, undecided } = r {
            assert!(granted.is_subset(allowed), "{value:?}: {r:?}");
            assert!(
                granted.intersection(undecided).is_empty(),
                "{value:?}: {r:?}"
            );
        }
    };
    check(native::read(value, &c), c.all());
    for spec in &maps {
        match spec {
            SourceSpec::OneTrust { map } => {
                check(onetrust::read(value, true, map), map.categories());
                check(onetrust::read(value, false, map), map.categories());
            }
            SourceSpec::Cookiebot { map } => check(cookiebot::read(value, map), map.categories()),
            SourceSpec::CookieYes { map } => check(cookieyes::read(value, map), map.categories()),
            SourceSpec::CcCookie { map } => check(cc_cookie::read(value, map), map.categories()),
            SourceSpec::Klaro { map } => check(klaro::read(value, map), map.categories()),
            SourceSpec::Tcf { map } => {
                check(tcf::read(value, map), map.categories());
                let _ = tcf::decode_core(value);
            }
            SourceSpec::Consentry { .. } => {}
        }
    }
    let p = all_sources(&c);
    for name in p.consent_cookie_names() {
        let d = p.decide(&format!("a=1; {name}={value}; b=2"), false, &c);
        assert!(d.allowed.is_subset(c.all()));
        assert!(d.granted.intersection(d.undecided).is_empty());
    }
}

/// Real values of every format, for mutation.
const SEEDS: &[&str] = &[
    OT_ACCEPT,
    OT_REJECT,
    OT_UNDECIDED,
    CB_PARTIAL,
    CY_PARTIAL,
    CY_UNDECIDED,
    CC_ACCEPT,
    CC_V2_PARTIAL,
    KLARO_MRW,
    TCF_ACCEPT,
    TCF_PURPOSES_1_3,
    "-1",
    "0",
];

/// The value part of a `name=value` seed.
fn seed_value(i: usize) -> &'static str {
    let s = SEEDS[i % SEEDS.len()];
    let s = s.split("; ").next().unwrap_or(s);
    s.split_once('=').map_or(s, |(_, v)| v)
}

proptest::proptest! {
    #[test]
    fn no_string_panics_a_parser(s in proptest::prelude::any::<String>()) {
        run_everything(&s);
    }

    #[test]
    fn no_byte_soup_panics_a_parser(
        bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)
    ) {
        run_everything(&String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn mutated_real_values_do_not_panic(
        seed in 0usize..SEEDS.len(),
        edits in proptest::collection::vec(
            (proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>(), 0u8..4),
            1..6,
        ),
    ) {
        let mut v = seed_value(seed).as_bytes().to_vec();
        for (at, byte, op) in edits {
            let at = if v.is_empty() { 0 } else { at % v.len() };
            match op {
                0 if !v.is_empty() => { v[at] = byte; }
                1 => v.insert(at, byte),
                2 if !v.is_empty() => { v.remove(at); }
                _ => v.truncate(at),
            }
        }
        run_everything(&String::from_utf8_lossy(&v));
    }

    #[test]
    fn decode_core_never_panics(s in "[A-Za-z0-9_=.+/-]{0,120}") {
        if let Ok(core) = tcf::decode_core(&s) {
            proptest::prop_assert_eq!(core.version, 2);
            proptest::prop_assert!(core.purposes_consent < 1 << 24);
            proptest::prop_assert!(core.consent_language.iter().all(u8::is_ascii_uppercase));
        }
    }
}
