//! `ConsentPolicy::decide` with every source, on an arbitrary `Cookie` header. The first byte
//! holds the flags: `Sec-GPC: 1`, the undecided policy, and the source order (default or
//! reversed).
#![no_main]

use consentry::policy::consent::{ConsentPolicy, ConsentState, Reading, Undecided};
use consentry_fuzz::{advertising, all_specs, categories};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let gpc = flags & 1 != 0;
    let undecided = if flags & 2 != 0 {
        Undecided::Grant
    } else {
        Undecided::Deny
    };
    let mut sources = all_specs().to_vec();
    if flags & 4 != 0 {
        sources.reverse();
    }
    let policy = ConsentPolicy {
        sources,
        undecided,
        gpc: advertising(),
    };
    let cats = categories();
    let cookies = String::from_utf8_lossy(rest);
    let c = policy.decide(&cookies, gpc, cats);

    let (all, required) = (cats.all(), cats.required());
    assert!(required.is_subset(c.allowed), "required not allowed: {c:?}");
    assert!(required.is_subset(c.granted));
    assert!(c.allowed.is_subset(all) && c.granted.is_subset(all) && c.undecided.is_subset(all));
    assert!(c.granted.intersection(c.undecided).is_empty());
    assert_eq!(c.gpc, gpc);
    if gpc {
        assert!(
            c.allowed.intersection(policy.gpc).is_empty(),
            "GPC category allowed: {c:?}"
        );
    }
    match undecided {
        Undecided::Deny => assert_eq!(c.allowed, c.granted),
        Undecided::Grant => assert_eq!(c.allowed, c.granted.union(c.undecided)),
    }

    // The first source whose cookie records a decision wins; malformed ones are passed over.
    let readings: Vec<_> = policy
        .sources
        .iter()
        .map(|s| s.read(&cookies, cats))
        .collect();
    let winner = readings
        .iter()
        .position(|r| matches!(r, Some(Reading::Decided { .. })));
    assert_eq!(c.source, winner.map(|i| policy.sources[i].kind()));
    match winner {
        Some(_) => assert!(matches!(
            c.state,
            ConsentState::All | ConsentState::Partial | ConsentState::None
        )),
        None => {
            let malformed = readings.contains(&Some(Reading::Malformed));
            assert_eq!(
                c.state,
                if malformed {
                    ConsentState::Invalid
                } else {
                    ConsentState::Undecided
                }
            );
            // Nothing decided: only the required categories are granted.
            assert_eq!(c.granted, required);
        }
    }

    // GPC only ever takes its categories away.
    let other = policy.decide(&cookies, !gpc, cats);
    let (with, without) = if gpc { (c, other) } else { (other, c) };
    assert_eq!(with.allowed, without.allowed.difference(policy.gpc));
    assert_eq!((with.source, with.state), (without.source, without.state));
});
