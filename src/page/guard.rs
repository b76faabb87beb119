//! The client page guard: the script the proxy adds first to every page it rewrites, and the data
//! it runs on.
//!
//! The script ([`GUARD_JS`], from `assets/guard.js`, minified by the build) is the same for every
//! visitor, so its CSP hash is constant and it can be served as a cacheable same-origin file
//! ([`guard_path`]). What differs per visitor is a JSON data block ([`GuardData`]) placed right
//! before it: `<script type="application/json">` is a data block, never executed, so no CSP
//! applies to it. The same JSON answers the consent endpoint ([`CONSENT_PATH`]), which the guard
//! asks when the page writes a consent cookie: the proxy's policy stays the only place consent is
//! decided.
//!
//! The data holds, for the categories the visitor has not granted, their cookie and script
//! patterns, plus the patterns of granted categories that outrank one of them (so the browser
//! applies the same precedence as the proxy: an exact cookie name beats any glob, more literal
//! characters win), the enabled sources' consent cookie names and the Google Consent Mode state.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use base64::Engine as _;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::csp::{GuardForm, Placement};
use super::ConsentModeMap;
use crate::policy::categories::{CategoryId, CategorySet};
use crate::policy::consent::Consent;
use crate::policy::{glob, Policy};

/// The guard's script as served, minified.
pub const GUARD_JS: &str = include_str!(concat!(env!("OUT_DIR"), "/guard.min.js"));

/// The readable source the build minifies.
#[cfg(test)]
const GUARD_SOURCE: &str = include_str!("assets/guard.js");

/// The endpoint the guard asks for a new decision: `GET`, answered from the request's cookies
/// with [`consent_response`] as `application/json` and `Cache-Control: no-store`.
pub const CONSENT_PATH: &str = "/.consentry/consent";

/// `Cache-Control` of the consent endpoint's answers.
pub const CONSENT_CACHE_CONTROL: &str = "no-store";

/// `Cache-Control` of [`guard_path`]: its name changes with its content.
pub const GUARD_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// `Content-Type` of [`guard_path`].
pub const GUARD_CONTENT_TYPE: &str = "text/javascript; charset=utf-8";

/// The `id` of the data block the guard reads.
pub const DATA_ID: &str = "consentry-guard-data";

static DIGEST: LazyLock<ring::digest::Digest> =
    LazyLock::new(|| ring::digest::digest(&ring::digest::SHA256, GUARD_JS.as_bytes()));

static HASH: LazyLock<String> = LazyLock::new(|| {
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(DIGEST.as_ref())
    )
});

static PATH: LazyLock<String> = LazyLock::new(|| {
    let mut p = String::from("/.consentry/guard.");
    for b in &DIGEST.as_ref()[..8] {
        let _ = write!(p, "{b:02x}");
    }
    p.push_str(".js");
    p
});

/// The CSP hash source of [`GUARD_JS`] as an inline script, without quotes: `sha256-…`.
pub fn guard_hash() -> &'static str {
    &HASH
}

/// Where the proxy serves [`GUARD_JS`]: `/.consentry/guard.<first 16 hex digits of its
/// SHA-256>.js`.
pub fn guard_path() -> &'static str {
    &PATH
}

/// One pattern with its category and the categories it outranks somewhere.
#[derive(Clone, Debug)]
struct Entry {
    pattern: Box<str>,
    category: CategoryId,
    /// Categories with a pattern that this one beats on some name (URL) both can match.
    beats: CategorySet,
}

/// What the guard data is built from, compiled once per policy: the pairwise precedence work
/// is done here, so [`Guard::data`] is linear in the number of patterns.
#[derive(Clone, Debug)]
pub struct Guard {
    categories: Vec<Box<str>>,
    cookies: Vec<Entry>,
    scripts: Vec<Entry>,
    consent_cookies: Vec<Box<str>>,
    consent_mode: Option<Vec<(Box<str>, CategoryId)>>,
}

impl Guard {
    /// Compiles the guard's view of `policy`, with the script patterns as
    /// `(pattern, category name)` in declaration order (patterns of unknown categories are
    /// ignored). Consent Mode follows [`ConsentModeMap::default`].
    pub fn new(policy: &Policy, scripts: &[(&str, &str)]) -> Guard {
        let cats = &policy.categories;
        let rules = policy.matcher.rules();
        let cookies = rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let beats = rules
                    .iter()
                    .enumerate()
                    .filter(|(j, d)| {
                        d.category != r.category
                            && d.is_glob
                            && if r.is_glob {
                                (r.literal_len > d.literal_len
                                    || (r.literal_len == d.literal_len && i < *j))
                                    && glob::overlap(&r.pattern, &d.pattern)
                            } else {
                                glob::matches(d.pattern.as_bytes(), r.pattern.as_bytes())
                            }
                    })
                    .map(|(_, d)| d.category)
                    .collect();
                Entry {
                    pattern: r.pattern.clone(),
                    category: r.category,
                    beats,
                }
            })
            .collect();
        let known: Vec<(&str, CategoryId)> = scripts
            .iter()
            .filter_map(|&(p, c)| cats.lookup(c).map(|id| (p, id)))
            .collect();
        let scripts = known
            .iter()
            .enumerate()
            .map(|(i, &(p, c))| {
                let beats = known
                    .iter()
                    .enumerate()
                    .filter(|&(j, &(q, d))| {
                        let (wp, wq) = (glob::literal_len(p), glob::literal_len(q));
                        d != c && (wp > wq || (wp == wq && i < j)) && hosts_overlap(p, q)
                    })
                    .map(|(_, &(_, d))| d)
                    .collect();
                Entry {
                    pattern: p.into(),
                    category: c,
                    beats,
                }
            })
            .collect();
        let mut guard = Guard {
            categories: cats.ids().map(|id| cats.name(id).into()).collect(),
            cookies,
            scripts,
            consent_cookies: policy.consent_cookies().to_vec(),
            consent_mode: None,
        };
        guard.set_consent_mode(Some(&ConsentModeMap::defaults(&policy.categories)));
        guard
    }

    /// Replaces the Consent Mode map (`[page.google_consent_mode]`); `None` sends no Consent
    /// Mode at all.
    pub fn with_consent_mode(mut self, map: Option<&ConsentModeMap>) -> Guard {
        self.set_consent_mode(map);
        self
    }

    fn set_consent_mode(&mut self, map: Option<&ConsentModeMap>) {
        self.consent_mode = map.map(|m| {
            m.entries()
                .iter()
                .map(|&(signal, category)| (signal.into(), category))
                .collect()
        });
    }

    /// The data block for one visitor.
    pub fn data(self: &Arc<Guard>, consent: &Consent) -> GuardData {
        let all = CategorySet::first(self.categories.len());
        let denied_set = all.difference(consent.allowed);
        let denied: Vec<CategoryId> = denied_set.iter().collect();
        let index = |c: CategoryId| denied.iter().position(|&d| d == c).map(|i| i as i32);
        let pick = |entries: &'_ [Entry]| -> Vec<(usize, i32)> {
            entries
                .iter()
                .enumerate()
                .filter_map(|(i, e)| match index(e.category) {
                    Some(d) => Some((i, d)),
                    None if !e.beats.intersection(denied_set).is_empty() => Some((i, -1)),
                    None => None,
                })
                .collect()
        };
        let cookies = pick(&self.cookies);
        let scripts = pick(&self.scripts);
        GuardData {
            guard: Arc::clone(self),
            denied,
            allowed: consent.allowed.intersection(all),
            cookies,
            scripts,
        }
    }

    /// The consent endpoint's answer for one visitor: the same JSON as the data block.
    pub fn consent_response(self: &Arc<Guard>, consent: &Consent) -> String {
        self.data(consent).to_json()
    }
}

/// Whether two script patterns can match URLs of one host: their hosts, each standing for
/// itself and its subdomains, share a subdomain. Conservative (paths are not compared): it only
/// decides which granted patterns travel with the denied ones.
fn hosts_overlap(a: &str, b: &str) -> bool {
    let host = |p: &str| {
        format!(
            "*.{}",
            p.split('/').next().unwrap_or("").to_ascii_lowercase()
        )
    };
    glob::overlap(&host(a), &host(b))
}

/// The guard's data for one visitor; serialises to the compact JSON the script reads.
#[derive(Clone, Debug)]
pub struct GuardData {
    guard: Arc<Guard>,
    denied: Vec<CategoryId>,
    allowed: CategorySet,
    /// `(index into the guard's cookie entries, index into denied or -1)`.
    cookies: Vec<(usize, i32)>,
    /// The same for script entries.
    scripts: Vec<(usize, i32)>,
}

impl GuardData {
    /// Builds the data for one visitor in one go, the per-policy work included (a proxy keeps
    /// an `Arc<Guard>` per policy and calls [`Guard::data`] instead). `scripts` as in
    /// [`Guard::new`].
    pub fn new(policy: &Policy, consent: &Consent, scripts: &[(&str, &str)]) -> GuardData {
        Arc::new(Guard::new(policy, scripts)).data(consent)
    }

    /// Names of the granted categories, in declaration order.
    pub fn allowed(&self) -> Vec<&str> {
        self.allowed
            .iter()
            .map(|c| &*self.guard.categories[c.index()])
            .collect()
    }

    /// Names of the categories not granted, in declaration order.
    pub fn denied(&self) -> Vec<&str> {
        self.denied
            .iter()
            .map(|&c| &*self.guard.categories[c.index()])
            .collect()
    }

    /// `(pattern, denied category)` of the cookie patterns the guard holds back, and `(pattern,
    /// None)` for granted patterns sent along because they outrank a denied one.
    pub fn cookie_patterns(&self) -> Vec<(&str, Option<&str>)> {
        self.patterns(&self.guard.cookies, &self.cookies)
    }

    /// The same for script patterns.
    pub fn script_patterns(&self) -> Vec<(&str, Option<&str>)> {
        self.patterns(&self.guard.scripts, &self.scripts)
    }

    fn patterns<'s>(
        &'s self,
        entries: &'s [Entry],
        picked: &[(usize, i32)],
    ) -> Vec<(&'s str, Option<&'s str>)> {
        let names = self.denied();
        picked
            .iter()
            .map(|&(i, d)| {
                (
                    &*entries[i].pattern,
                    usize::try_from(d).ok().map(|d| names[d]),
                )
            })
            .collect()
    }

    /// The Consent Mode state: `(key, granted)` in the map's order; `None` when disabled.
    pub fn consent_mode(&self) -> Option<Vec<(&str, bool)>> {
        self.guard.consent_mode.as_ref().map(|m| {
            m.iter()
                .map(|(k, c)| (&**k, self.allowed.contains(*c)))
                .collect()
        })
    }

    /// The JSON the guard reads. `<` is written `\u003c`, so the text can sit in a `<script>`
    /// element whatever the patterns hold.
    pub fn to_json(&self) -> String {
        let json = serde_json::to_string(self).expect("guard data serialises");
        json.replace('<', "\\u003c")
    }
}

struct Names<'a>(&'a Guard, Vec<CategoryId>);

impl Serialize for Names<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.1.len()))?;
        for c in &self.1 {
            seq.serialize_element(&*self.0.categories[c.index()])?;
        }
        seq.end()
    }
}

struct Patterns<'a>(&'a [Entry], &'a [(usize, i32)]);

impl Serialize for Patterns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.1.len()))?;
        for &(i, d) in self.1 {
            seq.serialize_element(&(&*self.0[i].pattern, d))?;
        }
        seq.end()
    }
}

struct Mode<'a>(Vec<(&'a str, bool)>);

impl Serialize for Mode<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for &(k, granted) in &self.0 {
            map.serialize_entry(k, if granted { "granted" } else { "denied" })?;
        }
        map.end()
    }
}

impl Serialize for GuardData {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let g = &*self.guard;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("d", &Names(g, self.denied.clone()))?;
        map.serialize_entry("a", &Names(g, self.allowed.iter().collect()))?;
        map.serialize_entry("c", &Patterns(&g.cookies, &self.cookies))?;
        map.serialize_entry("s", &Patterns(&g.scripts, &self.scripts))?;
        let consent: Vec<&str> = g.consent_cookies.iter().map(|c| &**c).collect();
        map.serialize_entry("n", &consent)?;
        if let Some(mode) = self.consent_mode() {
            map.serialize_entry("g", &Mode(mode))?;
        }
        map.end()
    }
}

/// The HTML the rewriter inserts first in `<head>`: the data block, then the guard in `form`.
pub fn prelude(data: &GuardData, form: &GuardForm) -> String {
    let json = data.to_json();
    let mut out = String::with_capacity(json.len() + GUARD_JS.len() + 128);
    out.push_str("<script type=\"application/json\" id=\"");
    out.push_str(DATA_ID);
    out.push('"');
    if !form.live {
        out.push_str(" data-live=\"0\"");
    }
    out.push('>');
    out.push_str(&json);
    out.push_str("</script>");
    match &form.placement {
        Placement::Inline | Placement::Hash => {
            out.push_str("<script>");
            out.push_str(GUARD_JS);
            out.push_str("</script>");
        }
        Placement::Nonce(nonce) => {
            out.push_str("<script nonce=\"");
            push_attr(&mut out, nonce);
            out.push_str("\">");
            out.push_str(GUARD_JS);
            out.push_str("</script>");
        }
        Placement::External => {
            out.push_str("<script src=\"");
            out.push_str(guard_path());
            out.push_str("\"></script>");
        }
    }
    out
}

/// Appends an attribute value, escaped for a double-quoted attribute.
fn push_attr(out: &mut String, v: &str) {
    for c in v.chars() {
        match c {
            '"' => out.push_str("&quot;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            c => out.push(c),
        }
    }
}

/// The consent endpoint's JSON for one visitor (see [`Guard::consent_response`]; a proxy keeps
/// a [`Guard`] per policy rather than calling this per request).
pub fn consent_response(policy: &Policy, consent: &Consent, scripts: &[(&str, &str)]) -> String {
    GuardData::new(policy, consent, scripts).to_json()
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;
    use crate::policy::categories::Categories;
    use crate::policy::consent::{ConsentPolicy, SourceKind, SourceSpec, Undecided};
    use crate::policy::rules::Matcher;
    use crate::policy::testing;
    use crate::policy::{CleanupOptions, Mode, PolicyParts, Unclassified};

    const SCRIPTS: &[(&str, &str)] = &[
        ("google-analytics.com", "analytics"),
        ("googletagmanager.com/gtag/js?id=G-*", "analytics"),
        ("*.hotjar.com", "analytics"),
        ("connect.facebook.net", "advertising"),
        ("googletagmanager.com/gtag/js?id=AW-*", "advertising"),
        ("snap.licdn.com", "advertising"),
        ("widget.example.net", "nonexistent"),
    ];

    fn policy() -> Policy {
        testing::policy(Mode::Enforce, Unclassified::Deny)
    }

    fn data(cookie: &str) -> GuardData {
        let p = policy();
        GuardData::new(&p, &p.decide(cookie, false), SCRIPTS)
    }

    fn json(d: &GuardData) -> serde_json::Value {
        serde_json::from_str(&d.to_json()).unwrap()
    }

    #[test]
    fn the_served_script_is_the_minified_source() {
        assert!(
            GUARD_JS.len() * 2 < GUARD_SOURCE.len(),
            "{} bytes",
            GUARD_JS.len()
        );
        // Comments are gone, the strings the guard depends on are still there.
        assert!(!GUARD_JS.contains("// "));
        for s in [
            DATA_ID,
            CONSENT_PATH,
            "data-consentry-",
            "text/plain",
            "'consent'",
            "dataLayer",
        ] {
            let s = s.replace('\'', "`");
            assert!(
                GUARD_JS.contains(&s) || GUARD_JS.contains(&s.replace('`', "\"")),
                "{s} is not in the served script"
            );
        }
        // It can sit inline in HTML: no end tag or comment opener, and no CR (the HTML parser
        // would turn CRLF into LF and change the hash).
        let lower = GUARD_JS.to_ascii_lowercase();
        assert!(!lower.contains("</script") && !lower.contains("<!--"));
        assert!(!GUARD_JS.contains('\r'));
    }

    #[test]
    fn the_script_fits_the_size_budget() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(GUARD_JS.as_bytes()).unwrap();
        let size = gz.finish().unwrap().len();
        eprintln!(
            "guard script: {} bytes, {size} bytes gzipped",
            GUARD_JS.len()
        );
        assert!(
            size < 3 * 1024,
            "the guard is {size} bytes gzipped, over 3 KiB"
        );
    }

    #[test]
    fn hash_and_path_name_the_served_bytes() {
        let hash = guard_hash();
        let b64 = hash.strip_prefix("sha256-").unwrap();
        let digest = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(
            digest,
            ring::digest::digest(&ring::digest::SHA256, GUARD_JS.as_bytes()).as_ref()
        );
        let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(guard_path(), format!("/.consentry/guard.{hex}.js"));
    }

    #[test]
    fn undecided_holds_every_optional_category() {
        let d = data("");
        assert_eq!(d.denied(), ["functional", "analytics", "advertising"]);
        assert_eq!(d.allowed(), ["essential"]);
        assert_eq!(
            d.cookie_patterns(),
            [
                ("ZD-settings", Some("functional")),
                ("*.conversationStartedAt", Some("functional")),
                ("_ga", Some("analytics")),
                ("_ga_*", Some("analytics")),
                ("_gid", Some("analytics")),
                ("_fbp", Some("advertising")),
                ("IDE", Some("advertising")),
                ("_gcl_*", Some("advertising")),
            ]
        );
        let scripts: Vec<&str> = d.script_patterns().iter().map(|p| p.0).collect();
        assert_eq!(
            scripts,
            SCRIPTS[..6].iter().map(|p| p.0).collect::<Vec<_>>(),
            "patterns of unknown categories are dropped"
        );
    }

    #[test]
    fn granted_categories_are_not_held() {
        let d = data("consentry=analytics");
        assert_eq!(d.denied(), ["functional", "advertising"]);
        assert_eq!(d.allowed(), ["essential", "analytics"]);
        let cookies: Vec<&str> = d.cookie_patterns().iter().map(|p| p.0).collect();
        assert_eq!(
            cookies,
            [
                "ZD-settings",
                "*.conversationStartedAt",
                "_fbp",
                "IDE",
                "_gcl_*"
            ]
        );
        // Nothing outranks an advertising pattern here, so no granted pattern travels.
        assert_eq!(
            d.script_patterns(),
            [
                ("connect.facebook.net", Some("advertising")),
                ("googletagmanager.com/gtag/js?id=AW-*", Some("advertising")),
                ("snap.licdn.com", Some("advertising")),
            ]
        );
        let all = data("consentry=all");
        assert!(all.denied().is_empty());
        assert!(all.cookie_patterns().is_empty() && all.script_patterns().is_empty());
    }

    /// A policy whose granted rules outrank denied ones on some names.
    fn overlapping() -> Policy {
        let categories = Categories::new([
            ("essential", true),
            ("analytics", false),
            ("advertising", false),
        ]);
        let matcher = Matcher::new([
            ("_ga*", CategoryId(2)),
            ("_gat", CategoryId(1)),
            ("_gcl_*", CategoryId(2)),
            ("_gcl_keep*", CategoryId(1)),
            ("x*", CategoryId(1)),
            ("session", CategoryId(0)),
        ])
        .unwrap();
        let consent = ConsentPolicy {
            sources: vec![SourceSpec::Consentry {
                cookie: "consentry".into(),
            }],
            undecided: Undecided::Deny,
            gpc: CategorySet::EMPTY,
        };
        Policy::new(PolicyParts {
            categories,
            matcher,
            consent,
            mode: Mode::Enforce,
            unclassified: Unclassified::Deny,
            cleanup: CleanupOptions::default(),
            strip_request: true,
        })
    }

    #[test]
    fn granted_rules_that_outrank_denied_ones_travel_along() {
        let p = overlapping();
        let scripts = [
            ("googletagmanager.com", "advertising"),
            ("www.googletagmanager.com/gtag/js?id=G-*", "analytics"),
            ("google-analytics.com", "analytics"),
        ];
        let d = GuardData::new(&p, &p.decide("consentry=analytics", false), &scripts);
        assert_eq!(d.denied(), ["advertising"]);
        // `_gat` (exact) beats `_ga*`; `_gcl_keep*` (more literal characters) beats `_gcl_*`;
        // `x*` and `session` never compete with a denied rule.
        assert_eq!(
            d.cookie_patterns(),
            [
                ("_ga*", Some("advertising")),
                ("_gat", None),
                ("_gcl_*", Some("advertising")),
                ("_gcl_keep*", None)
            ]
        );
        assert_eq!(
            d.script_patterns(),
            [
                ("googletagmanager.com", Some("advertising")),
                ("www.googletagmanager.com/gtag/js?id=G-*", None),
            ]
        );
        let v = json(&d);
        assert_eq!(
            v["c"],
            serde_json::json!([["_ga*", 0], ["_gat", -1], ["_gcl_*", 0], ["_gcl_keep*", -1]])
        );
        // With everything denied, the granted ones are simply denied patterns of their own.
        let d = GuardData::new(&p, &p.decide("", false), &scripts);
        assert_eq!(d.cookie_patterns().len(), 5);
        assert!(d.cookie_patterns().iter().all(|(_, c)| c.is_some()));
    }

    #[test]
    fn the_json_is_compact_and_complete() {
        let d = data("consentry=analytics");
        let v = json(&d);
        assert_eq!(v["d"], serde_json::json!(["functional", "advertising"]));
        assert_eq!(v["a"], serde_json::json!(["essential", "analytics"]));
        assert_eq!(v["c"][2], serde_json::json!(["_fbp", 1]));
        assert_eq!(v["s"][0], serde_json::json!(["connect.facebook.net", 1]));
        assert_eq!(v["n"], serde_json::json!(["consentry"]));
        assert_eq!(
            v["g"],
            serde_json::json!({
                "ad_storage": "denied", "ad_user_data": "denied", "ad_personalization": "denied",
                "analytics_storage": "granted",
                "functionality_storage": "denied", "personalization_storage": "denied"
            })
        );
        // Keys keep the map's order.
        let text = d.to_json();
        assert!(text.find("\"ad_storage\"").unwrap() < text.find("\"analytics_storage\"").unwrap());
        assert_eq!(v.as_object().unwrap().len(), 6);
    }

    #[test]
    fn consent_mode_follows_its_map() {
        let p = policy();
        let consent = p.decide("consentry=functional", false);
        let map =
            ConsentModeMap::with_overrides(&p.categories, [("analytics_storage", "functional")])
                .unwrap();
        let guard = Arc::new(Guard::new(&p, &[]).with_consent_mode(Some(&map)));
        let data = guard.data(&consent);
        let mode = data.consent_mode().unwrap();
        assert!(mode.contains(&("analytics_storage", true)), "{mode:?}");
        assert!(mode.contains(&("functionality_storage", true)), "{mode:?}");
        assert!(mode.contains(&("ad_storage", false)), "{mode:?}");
        let off = Arc::new(Guard::new(&p, &[]).with_consent_mode(None));
        assert!(json(&off.data(&consent)).get("g").is_none());
    }

    #[test]
    fn consent_cookies_of_every_enabled_source_are_listed() {
        let mut p = policy();
        let cats = p.categories.clone();
        p.consent.sources = [SourceKind::Consentry, SourceKind::OneTrust, SourceKind::Tcf]
            .iter()
            .map(|&k| SourceSpec::build(k, None, "consentry", &cats).unwrap())
            .collect();
        let p = Policy::new(PolicyParts {
            categories: p.categories.clone(),
            matcher: p.matcher.clone(),
            consent: p.consent.clone(),
            mode: p.mode,
            unclassified: p.unclassified,
            cleanup: CleanupOptions {
                enabled: p.cleanup,
                paths: Vec::new(),
            },
            strip_request: true,
        });
        let v = json(&GuardData::new(&p, &p.decide("", false), &[]));
        let mut names: Vec<String> = serde_json::from_value(v["n"].clone()).unwrap();
        names.sort();
        assert_eq!(
            names,
            [
                "OptanonAlertBoxClosed",
                "OptanonConsent",
                "consentry",
                "euconsent-v2"
            ]
        );
    }

    #[test]
    fn markup_in_patterns_cannot_close_the_data_block() {
        let categories = Categories::new([("essential", true), ("analytics", false)]);
        let matcher =
            Matcher::new([("</script><script>alert(1)</script>", CategoryId(1))]).unwrap();
        let consent = ConsentPolicy {
            sources: vec![SourceSpec::Consentry {
                cookie: "consentry".into(),
            }],
            undecided: Undecided::Deny,
            gpc: CategorySet::EMPTY,
        };
        let p = Policy::new(PolicyParts {
            categories,
            matcher,
            consent,
            mode: Mode::Enforce,
            unclassified: Unclassified::Deny,
            cleanup: CleanupOptions::default(),
            strip_request: true,
        });
        let d = GuardData::new(&p, &p.decide("", false), &[("<!--x.com", "analytics")]);
        let text = d.to_json();
        assert!(!text.contains('<'), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["c"][0][0], "</script><script>alert(1)</script>");
        assert_eq!(v["s"][0][0], "<!--x.com");
    }

    #[test]
    fn prelude_in_each_form() {
        let d = data("");
        let block = format!(
            "<script type=\"application/json\" id=\"{DATA_ID}\">{}</script>",
            d.to_json()
        );
        let inline = format!("<script>{GUARD_JS}</script>");
        let p = prelude(&d, &GuardForm::inline());
        assert_eq!(p, format!("{block}{inline}"));
        let p = prelude(
            &d,
            &GuardForm {
                placement: Placement::Hash,
                live: true,
            },
        );
        assert_eq!(p, format!("{block}{inline}"));
        let p = prelude(
            &d,
            &GuardForm {
                placement: Placement::Nonce("a+b/c=".into()),
                live: true,
            },
        );
        assert_eq!(
            p,
            format!("{block}<script nonce=\"a+b/c=\">{GUARD_JS}</script>")
        );
        let p = prelude(
            &d,
            &GuardForm {
                placement: Placement::External,
                live: false,
            },
        );
        assert_eq!(
            p,
            format!(
                "<script type=\"application/json\" id=\"{DATA_ID}\" data-live=\"0\">{}</script><script src=\"{}\"></script>",
                d.to_json(),
                guard_path()
            )
        );
        // A nonce is escaped even though csp::plan only ever yields base64 ones.
        let p = prelude(
            &d,
            &GuardForm {
                placement: Placement::Nonce("\"><x".into()),
                live: true,
            },
        );
        assert!(p.contains("nonce=\"&quot;>&lt;x\""));
    }

    #[test]
    fn the_endpoint_answers_the_same_json() {
        let p = policy();
        let consent = p.decide("consentry=advertising", false);
        assert_eq!(
            consent_response(&p, &consent, SCRIPTS),
            GuardData::new(&p, &consent, SCRIPTS).to_json()
        );
        let guard = Arc::new(Guard::new(&p, SCRIPTS));
        assert_eq!(
            guard.consent_response(&consent),
            consent_response(&p, &consent, SCRIPTS)
        );
    }

    #[test]
    fn hosts_overlap_is_about_subdomains() {
        assert!(hosts_overlap(
            "googletagmanager.com",
            "www.googletagmanager.com/gtag/js"
        ));
        assert!(hosts_overlap("www.x.com/a", "WWW.X.COM/b"));
        assert!(hosts_overlap("*.hotjar.com", "static.hotjar.com"));
        assert!(!hosts_overlap("ab.com", "b.com"));
        assert!(!hosts_overlap(
            "google-analytics.com",
            "googletagmanager.com"
        ));
    }
}
