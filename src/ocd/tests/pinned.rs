//! The pinned copy of the Open Cookie Database (`tests/fixtures/`).

use super::*;

// -- the pinned Open Cookie Database ----------------------------------------------------

const PINNED: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/open-cookie-database.csv"
);

#[test]
fn pinned_open_cookie_database() {
    let text = std::fs::read_to_string(PINNED).unwrap_or_else(|e| {
        panic!("the pinned Open Cookie Database CSV is missing: cannot read {PINNED}: {e}")
    });
    let out = import_with(
        &text,
        &ImportOptions {
            source: Some("open-cookie-database.csv"),
            version: None,
        },
    )
    .expect("the pinned CSV imports");
    let all = all_cookies(&out.toml);
    let c = &out.counts;

    // Measured on the pinned copy (2264 rows): 28 essential, 973 functional, 389 analytics,
    // 851 advertising; 8 rows skipped, 12 duplicates, 3 conflicts, 5 short globs.
    assert!(c.rows >= 2200, "{c:?}");
    for (category, min) in [
        ("essential", 25),
        ("functional", 950),
        ("analytics", 370),
        ("advertising", 830),
    ] {
        assert!(
            all[category].len() >= min,
            "{category}: {} patterns",
            all[category].len()
        );
    }
    for (k, category) in Category::ALL.iter().enumerate() {
        assert_eq!(c.patterns[k], all[category.name()].len());
    }
    assert_eq!(
        c.skipped_category, 0,
        "an OCD category is not mapped: {c:?}"
    );
    assert!(c.skipped() <= 20, "{c:?}\n{:#?}", out.warnings);
    // (Each conflict of the pinned copy involves two categories, so it absorbs one row.)
    assert_eq!(
        c.rows,
        c.total_patterns() + c.skipped() + c.duplicates + c.conflicts,
        "every row is a pattern, a skip, a duplicate or a conflict: {c:?}"
    );
    assert!(out.warnings.len() <= 40, "{:#?}", out.warnings);

    let where_is = |name: &str| -> Vec<&str> {
        all.iter()
            .filter(|(_, v)| v.iter().any(|p| p == name))
            .map(|(k, _)| *k)
            .collect()
    };
    for (name, category) in [
        ("_ga", "analytics"),
        ("_ga_*", "analytics"),
        ("_gid", "analytics"),
        ("_fbp", "advertising"),
        ("IDE", "advertising"),
        ("CookieConsent", "functional"),
        ("XSRF-TOKEN", "essential"),
        ("_rails_session", "essential"),
        ("sb-*", "essential"),
        ("token", "advertising"),
        ("SSPR_*", "advertising"),
    ] {
        assert_eq!(where_is(name), vec![category], "{name}");
    }
    // Local-storage keys, odd names and placeholders are not rules.
    for name in ["__cmpQQ_consentID", "Site History", "pagead/conv/%INTEGER%"] {
        assert!(where_is(name).is_empty(), "{name}");
    }
    assert_eq!(where_is("ce_need_secure_cookie").len(), 1);

    // No pattern is in two categories.
    let mut seen = std::collections::HashSet::new();
    for list in all.values() {
        for p in list {
            assert!(seen.insert(p.as_str()), "{p} is in two categories");
        }
    }
    // Every list is sorted.
    for (category, list) in &all {
        assert!(
            list.windows(2).all(|w| w[0] < w[1]),
            "{category} is not sorted"
        );
    }
}
