//! Shared setup for the fuzz targets: the default categories, each source with its default map,
//! and checks that several targets make.

use std::sync::OnceLock;

use consentry::policy::categories::{Categories, CategorySet};
use consentry::policy::consent::{NameMap, Reading, SourceKind, SourceSpec, TcfMap};
use consentry::policy::rules::{Matcher, RuleId};

/// essential (required), functional, analytics, advertising: the names the default maps use.
pub fn categories() -> &'static Categories {
    static CATS: OnceLock<Categories> = OnceLock::new();
    CATS.get_or_init(|| {
        Categories::new([
            ("essential", true),
            ("functional", false),
            ("analytics", false),
            ("advertising", false),
        ])
    })
}

/// The `advertising` category as a set (what `consent.gpc` lists by default).
pub fn advertising() -> CategorySet {
    CategorySet::single(categories().lookup("advertising").expect("advertising"))
}

/// A source built from its defaults, exactly as the configuration builds it without a table.
pub fn spec(kind: SourceKind) -> SourceSpec {
    SourceSpec::build(kind, None, "consentry", categories()).expect("default source map")
}

/// Every source, in the default `consent.sources` order.
pub fn all_specs() -> &'static [SourceSpec] {
    static SPECS: OnceLock<Vec<SourceSpec>> = OnceLock::new();
    SPECS.get_or_init(|| SourceKind::ALL.iter().map(|&k| spec(k)).collect())
}

/// The default name map of a CMP source.
pub fn name_map(kind: SourceKind) -> &'static NameMap {
    all_specs()
        .iter()
        .find_map(|s| match s {
            SourceSpec::OneTrust { map }
            | SourceSpec::Cookiebot { map }
            | SourceSpec::CookieYes { map }
            | SourceSpec::CcCookie { map }
            | SourceSpec::Klaro { map }
                if s.kind() == kind =>
            {
                Some(map)
            }
            _ => None,
        })
        .expect("a source with a name map")
}

/// The default TCF purpose map.
pub fn tcf_map() -> &'static TcfMap {
    all_specs()
        .iter()
        .find_map(|s| match s {
            SourceSpec::Tcf { map } => Some(map),
            _ => None,
        })
        .expect("the tcf source")
}

/// A `Decided` reading grants (or leaves undecided) only categories the source's map covers,
/// and never holds a category as both granted and undecided.
pub fn check_reading(r: Reading, covered: CategorySet) {
    if let Reading::Decided { granted, undecided } = r {
        assert!(
            granted.is_subset(covered),
            "granted {granted:?} outside the map's categories {covered:?}"
        );
        assert!(
            undecided.is_subset(covered),
            "undecided {undecided:?} outside the map's categories {covered:?}"
        );
        assert!(
            granted.intersection(undecided).is_empty(),
            "granted {granted:?} and undecided {undecided:?} overlap"
        );
    }
}

/// Whether `value` reaches a source unchanged when sent as `name=value` in a `Cookie` header:
/// the header parser splits on `;` and trims spaces and tabs.
pub fn survives_cookie_header(value: &str) -> bool {
    !value.contains(';') && value.trim_matches(|c| c == ' ' || c == '\t') == value
}

/// Reads `value` through the source's own cookie lookup (`SourceSpec::read` on a `Cookie`
/// header) and checks it agrees with reading the value directly.
pub fn check_via_header(kind: SourceKind, cookie: &str, value: &str, direct: Reading) {
    if !survives_cookie_header(value) {
        return;
    }
    let header = format!("session=1; {cookie}={value}; {cookie}=shadowed");
    let via = spec(kind).read(&header, categories());
    assert_eq!(via, Some(direct), "header {header:?}");
}

/// Whether `s` lies inside `within` (the same memory).
pub fn is_subslice(s: &[u8], within: &[u8]) -> bool {
    let (start, end) = (s.as_ptr() as usize, s.as_ptr() as usize + s.len());
    let (lo, hi) = (
        within.as_ptr() as usize,
        within.as_ptr() as usize + within.len(),
    );
    s.is_empty() || (lo <= start && end <= hi)
}

/// A plain glob match: `*` matches any run of bytes, everything else itself. Dynamic programming
/// over name prefixes, a different algorithm from the crate's two-pointer matcher, so the two
/// check each other.
pub fn glob_matches(pattern: &[u8], name: &[u8]) -> bool {
    // reach[j]: the pattern read so far can match name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &c in pattern {
        if c == b'*' {
            for j in 1..=name.len() {
                reach[j] = reach[j] || reach[j - 1];
            }
        } else {
            for j in (1..=name.len()).rev() {
                reach[j] = reach[j - 1] && name[j - 1] == c;
            }
            reach[0] = false;
        }
    }
    reach[name.len()]
}

/// Checks `Matcher::classify` against a scan of every rule with [`glob_matches`]: the rule it
/// returns matches, an exact name beats any glob, a glob beats only globs with fewer literal
/// characters, and `None` means no rule matches.
pub fn check_classify(matcher: &Matcher, name: &[u8]) {
    let got = matcher.classify(name);
    let matching: Vec<usize> = matcher
        .rules()
        .iter()
        .enumerate()
        .filter(|(_, r)| glob_matches(r.pattern.as_bytes(), name))
        .map(|(i, _)| i)
        .collect();
    match got {
        None => assert!(
            matching.is_empty(),
            "classify({:?}) = None, but {:?} match",
            String::from_utf8_lossy(name),
            matching
                .iter()
                .map(|&i| &*matcher.rules()[i].pattern)
                .collect::<Vec<_>>()
        ),
        Some(RuleId(id)) => {
            let r = matcher.rule(RuleId(id));
            assert!(
                glob_matches(r.pattern.as_bytes(), name),
                "classify({:?}) = {:?}, which does not match",
                String::from_utf8_lossy(name),
                r.pattern
            );
            for &i in &matching {
                let q = &matcher.rules()[i];
                let better = if r.is_glob {
                    !q.is_glob || q.literal_len > r.literal_len
                } else {
                    false
                };
                assert!(
                    !better,
                    "classify({:?}) = {:?}, but {:?} is more specific",
                    String::from_utf8_lossy(name),
                    r.pattern,
                    q.pattern
                );
            }
        }
    }
}

pub mod http1;
