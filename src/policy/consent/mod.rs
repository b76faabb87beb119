//! Deciding what a visitor consented to, from the request's cookies and `Sec-GPC`.
//!
//! Each enabled source reads its own cookie into a [`Reading`]. Sources are tried in the configured
//! order and the first whose cookie records a decision wins. Undecided categories then follow the
//! `undecided` policy, required categories are always granted, and `Sec-GPC: 1` denies the
//! configured categories whatever the cookie says.

pub mod cc_cookie;
pub mod cookiebot;
pub mod cookieyes;
pub mod klaro;
pub mod native;
pub mod onetrust;
pub mod reading;
pub mod tcf;
pub mod text;

use crate::policy::categories::{Categories, CategoryId, CategorySet};
use crate::policy::cookie_header;
pub use reading::{NameMap, Reading, Tally};
pub use tcf::TcfMap;

/// The consent sources consentry can read, by their `consent.sources` name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SourceKind {
    Consentry,
    OneTrust,
    Cookiebot,
    CookieYes,
    CcCookie,
    Klaro,
    Tcf,
}

impl SourceKind {
    /// Every source, in the default `consent.sources` order.
    pub const ALL: &'static [SourceKind] = &[
        SourceKind::Consentry,
        SourceKind::OneTrust,
        SourceKind::Cookiebot,
        SourceKind::CookieYes,
        SourceKind::CcCookie,
        SourceKind::Klaro,
        SourceKind::Tcf,
    ];

    /// The name used in `consent.sources`, in metrics and in `explain`.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Consentry => "consentry",
            SourceKind::OneTrust => "onetrust",
            SourceKind::Cookiebot => "cookiebot",
            SourceKind::CookieYes => "cookieyes",
            SourceKind::CcCookie => "cc_cookie",
            SourceKind::Klaro => "klaro",
            SourceKind::Tcf => "tcf",
        }
    }

    pub fn from_name(name: &str) -> Option<SourceKind> {
        SourceKind::ALL.iter().copied().find(|k| k.name() == name)
    }
}

/// One enabled source with its compiled mapping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceSpec {
    /// The native cookie, under the configured name.
    Consentry { cookie: Box<str> },
    /// OneTrust group ids (`C0002`, ...) to our categories.
    OneTrust { map: NameMap },
    /// Cookiebot categories (`preferences`, `statistics`, `marketing`) to ours.
    Cookiebot { map: NameMap },
    /// CookieYes category slugs to ours.
    CookieYes { map: NameMap },
    /// orestbida/cookieconsent category names to ours.
    CcCookie { map: NameMap },
    /// Klaro service names to our categories.
    Klaro { map: NameMap },
    /// TCF purposes each category needs.
    Tcf { map: TcfMap },
}

/// A mapping table key that the operator got wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfigError {
    /// The key inside the source's table (`C0002`, `purposes.analytics`, ...), empty for the table.
    pub key: String,
    pub reason: String,
}

impl SourceConfigError {
    fn new(key: impl Into<String>, reason: impl Into<String>) -> SourceConfigError {
        SourceConfigError {
            key: key.into(),
            reason: reason.into(),
        }
    }
}

fn unknown_category(name: &str, categories: &Categories) -> String {
    let known: Vec<&str> = categories.ids().map(|id| categories.name(id)).collect();
    format!(
        "unknown category `{name}` (configured: {})",
        known.join(", ")
    )
}

/// Compiles a CMP name map: the defaults whose category is configured (the first default for a
/// name wins), then the operator's table, whose entries replace or add to them. Every table value
/// must name a configured category.
fn name_map<'a>(
    defaults: impl IntoIterator<Item = (&'a str, &'a str)>,
    table: Option<&toml::Table>,
    categories: &Categories,
) -> Result<NameMap, SourceConfigError> {
    let mut entries: Vec<(Box<str>, CategoryId)> = Vec::new();
    for (name, category) in defaults {
        if entries.iter().any(|(n, _)| &**n == name) {
            continue;
        }
        // A default whose category this site does not have is dropped, so a site without (say)
        // an `advertising` category loads with the defaults.
        if let Some(id) = categories.lookup(category) {
            entries.push((name.into(), id));
        }
    }
    for (key, value) in table.into_iter().flatten() {
        let Some(category) = value.as_str() else {
            return Err(SourceConfigError::new(
                key,
                format!(
                    "expected a category name (a string), found a {}",
                    value.type_str()
                ),
            ));
        };
        let Some(id) = categories.lookup(category) else {
            return Err(SourceConfigError::new(
                key,
                unknown_category(category, categories),
            ));
        };
        match entries.iter_mut().find(|(n, _)| **n == **key) {
            Some(entry) => entry.1 = id,
            None => entries.push((key.as_str().into(), id)),
        }
    }
    Ok(NameMap::new(entries))
}

/// Compiles `[consent.tcf]`: `purposes = { <category> = [<purpose id>, ...], ... }`. The
/// operator's `purposes` table replaces the default one as a whole.
fn tcf_map(
    table: Option<&toml::Table>,
    categories: &Categories,
) -> Result<TcfMap, SourceConfigError> {
    if let Some(key) = table
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| *k != "purposes")
    {
        return Err(SourceConfigError::new(
            key,
            "unknown key (the only key of [consent.tcf] is `purposes`)",
        ));
    }
    let Some(purposes) = table.and_then(|t| t.get("purposes")) else {
        let entries = tcf::DEFAULT_PURPOSES
            .iter()
            .filter_map(|&(name, list)| categories.lookup(name).map(|id| (id, TcfMap::mask(list))))
            .collect();
        return Ok(TcfMap { entries });
    };
    let Some(purposes) = purposes.as_table() else {
        return Err(SourceConfigError::new(
            "purposes",
            format!(
                "expected a table of category = [purpose ids], found a {}",
                purposes.type_str()
            ),
        ));
    };
    let mut entries = Vec::new();
    for (name, list) in purposes {
        let key = format!("purposes.{name}");
        let Some(id) = categories.lookup(name) else {
            return Err(SourceConfigError::new(
                key,
                unknown_category(name, categories),
            ));
        };
        let Some(list) = list.as_array() else {
            return Err(SourceConfigError::new(
                key,
                format!(
                    "expected an array of purpose ids (1 to {}), found a {}",
                    tcf::MAX_PURPOSE,
                    list.type_str()
                ),
            ));
        };
        if list.is_empty() {
            return Err(SourceConfigError::new(
                key,
                "list at least one purpose (an empty list would grant the category on any TC string)",
            ));
        }
        let mut mask = 0u32;
        for p in list {
            match p.as_integer() {
                Some(p @ 1..=24) => mask |= TcfMap::mask(&[p as u32]),
                _ => {
                    return Err(SourceConfigError::new(
                        key,
                        format!(
                            "purpose ids are integers from 1 to {}, found {p}",
                            tcf::MAX_PURPOSE
                        ),
                    ))
                }
            }
        }
        entries.push((id, mask));
    }
    Ok(TcfMap { entries })
}

impl SourceSpec {
    /// Builds the source named in `consent.sources`, applying the operator's `[consent.<name>]`
    /// table over the defaults. `native_cookie` is `consent.cookie`.
    pub fn build(
        kind: SourceKind,
        table: Option<&toml::Table>,
        native_cookie: &str,
        categories: &Categories,
    ) -> Result<SourceSpec, SourceConfigError> {
        let identity = || {
            categories
                .ids()
                .map(|id| (categories.name(id), categories.name(id)))
        };
        Ok(match kind {
            SourceKind::Consentry => {
                if let Some(t) = table {
                    if let Some(k) = t.keys().next() {
                        return Err(SourceConfigError {
                            key: k.clone(),
                            reason: "the native cookie has no mapping table (set `consent.cookie` for its name)".into(),
                        });
                    }
                }
                SourceSpec::Consentry {
                    cookie: native_cookie.into(),
                }
            }
            SourceKind::OneTrust => SourceSpec::OneTrust {
                map: name_map(onetrust::DEFAULT_MAP.iter().copied(), table, categories)?,
            },
            SourceKind::Cookiebot => SourceSpec::Cookiebot {
                map: name_map(cookiebot::DEFAULT_MAP.iter().copied(), table, categories)?,
            },
            SourceKind::CookieYes => SourceSpec::CookieYes {
                map: name_map(cookieyes::DEFAULT_MAP.iter().copied(), table, categories)?,
            },
            SourceKind::CcCookie => SourceSpec::CcCookie {
                map: name_map(
                    identity().chain(cc_cookie::DEFAULT_EXTRA_MAP.iter().copied()),
                    table,
                    categories,
                )?,
            },
            SourceKind::Klaro => SourceSpec::Klaro {
                map: name_map(identity(), table, categories)?,
            },
            SourceKind::Tcf => SourceSpec::Tcf {
                map: tcf_map(table, categories)?,
            },
        })
    }

    pub fn kind(&self) -> SourceKind {
        match self {
            SourceSpec::Consentry { .. } => SourceKind::Consentry,
            SourceSpec::OneTrust { .. } => SourceKind::OneTrust,
            SourceSpec::Cookiebot { .. } => SourceKind::Cookiebot,
            SourceSpec::CookieYes { .. } => SourceKind::CookieYes,
            SourceSpec::CcCookie { .. } => SourceKind::CcCookie,
            SourceSpec::Klaro { .. } => SourceKind::Klaro,
            SourceSpec::Tcf { .. } => SourceKind::Tcf,
        }
    }

    /// The cookies this source reads: its main cookie and, for OneTrust, the banner-closed one.
    fn names(&self) -> [Option<&str>; 2] {
        match self {
            SourceSpec::Consentry { cookie } => [Some(cookie), None],
            SourceSpec::OneTrust { .. } => [
                Some(onetrust::CONSENT_COOKIE),
                Some(onetrust::ALERT_BOX_CLOSED_COOKIE),
            ],
            SourceSpec::Cookiebot { .. } => [Some(cookiebot::COOKIE), None],
            SourceSpec::CookieYes { .. } => [Some(cookieyes::COOKIE), None],
            SourceSpec::CcCookie { .. } => [Some(cc_cookie::COOKIE), None],
            SourceSpec::Klaro { .. } => [Some(klaro::COOKIE), None],
            SourceSpec::Tcf { .. } => [Some(tcf::COOKIE), None],
        }
    }

    /// The names of the cookies this source reads. They are always essential.
    pub fn cookie_names(&self) -> Vec<&str> {
        self.names().into_iter().flatten().collect()
    }

    /// Reads this source from a `Cookie` header. `None` when its cookie is absent.
    pub fn read(&self, cookies: &str, categories: &Categories) -> Option<Reading> {
        let [a, b] = self.names();
        let first = a.and_then(|n| cookie_header::get(cookies, n));
        let second = b.and_then(|n| cookie_header::get(cookies, n));
        self.read_values(first, second, categories)
    }

    /// Reads this source from the values of its cookies (see [`SourceSpec::names`]).
    fn read_values(
        &self,
        main: Option<&str>,
        second: Option<&str>,
        categories: &Categories,
    ) -> Option<Reading> {
        let main = main?;
        Some(match self {
            SourceSpec::Consentry { .. } => native::read(main, categories),
            SourceSpec::OneTrust { map } => {
                let closed = second.is_some_and(|v| !v.is_empty());
                onetrust::read(main, closed, map)
            }
            SourceSpec::Cookiebot { map } => cookiebot::read(main, map),
            SourceSpec::CookieYes { map } => cookieyes::read(main, map),
            SourceSpec::CcCookie { map } => cc_cookie::read(main, map),
            SourceSpec::Klaro { map } => klaro::read(main, map),
            SourceSpec::Tcf { map } => tcf::read(main, map),
        })
    }
}

/// Sources a single pass over the `Cookie` header can serve at once (more are read one by one).
const ONE_PASS_SOURCES: usize = 16;

/// What the visitor's choice amounts to, as counted in `consentry_consent_total{state}`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum ConsentState {
    /// No source recorded a decision.
    Undecided,
    /// Every optional category granted.
    All,
    /// Some optional categories granted.
    Partial,
    /// No optional category granted.
    None,
    /// The only consent cookie present was malformed.
    Invalid,
}

impl ConsentState {
    pub const ALL: &'static [ConsentState] = &[
        ConsentState::Undecided,
        ConsentState::All,
        ConsentState::Partial,
        ConsentState::None,
        ConsentState::Invalid,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ConsentState::Undecided => "undecided",
            ConsentState::All => "all",
            ConsentState::Partial => "partial",
            ConsentState::None => "none",
            ConsentState::Invalid => "invalid",
        }
    }
}

/// What to do with categories the visitor has not decided on.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Undecided {
    /// Opt-in (GDPR): undecided categories are denied.
    Deny,
    /// Opt-out (CCPA): undecided categories are granted.
    Grant,
}

/// The per-category state shown by `explain`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum CategoryState {
    Granted,
    Denied,
    Undecided,
}

impl CategoryState {
    pub fn name(self) -> &'static str {
        match self {
            CategoryState::Granted => "granted",
            CategoryState::Denied => "denied",
            CategoryState::Undecided => "undecided",
        }
    }
}

/// The consent part of the compiled policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsentPolicy {
    pub sources: Vec<SourceSpec>,
    pub undecided: Undecided,
    /// Categories `Sec-GPC: 1` denies.
    pub gpc: CategorySet,
}

/// One request's consent.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Consent {
    /// The source whose cookie decided, if any.
    pub source: Option<SourceKind>,
    pub state: ConsentState,
    /// A malformed consent cookie that was passed over, if any.
    pub invalid: Option<SourceKind>,
    /// Whether the request carried `Sec-GPC: 1`.
    pub gpc: bool,
    /// Granted by the visitor (required categories included, GPC applied).
    pub granted: CategorySet,
    /// Neither granted nor denied by the visitor.
    pub undecided: CategorySet,
    /// The effective result: the categories whose cookies may be set.
    pub allowed: CategorySet,
}

impl Consent {
    /// The visitor's state for one category, before the undecided policy.
    pub fn category_state(&self, id: CategoryId) -> CategoryState {
        if self.granted.contains(id) {
            CategoryState::Granted
        } else if self.undecided.contains(id) {
            CategoryState::Undecided
        } else {
            CategoryState::Denied
        }
    }

    /// The label for `consentry_consent_total{source}`.
    pub fn source_name(&self) -> &'static str {
        self.source
            .or(if self.state == ConsentState::Invalid {
                self.invalid
            } else {
                None
            })
            .map_or("none", SourceKind::name)
    }
}

impl ConsentPolicy {
    /// Decides one request's consent from its `Cookie` header (all `Cookie` fields joined with
    /// `; `, or empty) and whether it carried `Sec-GPC: 1`.
    pub fn decide(&self, cookies: &str, gpc: bool, categories: &Categories) -> Consent {
        let all = categories.all();
        let required = categories.required();
        let optional = all.difference(required);

        let mut invalid = None;
        let mut winner = None;
        if !cookies.is_empty() {
            // One pass over the header collects the first value of every consent cookie.
            let mut found: [[Option<&str>; 2]; ONE_PASS_SOURCES] = [[None; 2]; ONE_PASS_SOURCES];
            let names: [[Option<&str>; 2]; ONE_PASS_SOURCES] = std::array::from_fn(|i| {
                self.sources.get(i).map_or([None, None], SourceSpec::names)
            });
            // Lengths of the wanted names as a bit set: most cookies are skipped on length alone.
            let lengths: u64 = names.iter().flatten().flatten().fold(0, |m, n| {
                if n.len() < 64 {
                    m | 1 << n.len()
                } else {
                    m | 1 << 63
                }
            });
            for pair in cookie_header::pairs(cookies) {
                let len = pair.name.len().min(63);
                if lengths & (1 << len) == 0 {
                    continue;
                }
                for (i, pair_names) in names.iter().enumerate().take(self.sources.len()) {
                    for (slot, name) in pair_names.iter().enumerate() {
                        if *name == Some(pair.name) && found[i][slot].is_none() {
                            found[i][slot] = Some(pair.value);
                        }
                    }
                }
            }
            for (i, source) in self.sources.iter().enumerate() {
                let reading = if i < ONE_PASS_SOURCES {
                    source.read_values(found[i][0], found[i][1], categories)
                } else {
                    source.read(cookies, categories)
                };
                match reading {
                    None | Some(Reading::NoDecision) => {}
                    Some(Reading::Malformed) => {
                        invalid.get_or_insert(source.kind());
                    }
                    Some(Reading::Decided { granted, undecided }) => {
                        winner = Some((source.kind(), granted, undecided));
                        break;
                    }
                }
            }
        }

        let (source, mut granted, undecided, state) = match winner {
            Some((kind, granted, undecided)) => {
                let granted = granted.intersection(all);
                let undecided = undecided.intersection(all).difference(granted);
                let opt_granted = granted.intersection(optional);
                let state = if opt_granted == optional {
                    ConsentState::All
                } else if opt_granted.is_empty() {
                    ConsentState::None
                } else {
                    ConsentState::Partial
                };
                (Some(kind), granted, undecided, state)
            }
            None => {
                let state = if invalid.is_some() {
                    ConsentState::Invalid
                } else {
                    ConsentState::Undecided
                };
                (None, CategorySet::EMPTY, all, state)
            }
        };

        granted = granted.union(required);
        let mut undecided = undecided.difference(required);
        if gpc {
            granted = granted.difference(self.gpc.difference(required));
            undecided = undecided.difference(self.gpc.difference(required));
        }
        let mut allowed = granted;
        if self.undecided == Undecided::Grant {
            allowed = allowed.union(undecided);
        }
        Consent {
            source,
            state,
            invalid,
            gpc,
            granted,
            undecided,
            allowed,
        }
    }

    /// Names of every consent cookie of the enabled sources (always essential).
    pub fn consent_cookie_names(&self) -> Vec<&str> {
        self.sources.iter().flat_map(|s| s.cookie_names()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cats() -> Categories {
        Categories::new([
            ("essential", true),
            ("functional", false),
            ("analytics", false),
            ("advertising", false),
        ])
    }

    fn set(ids: &[u8]) -> CategorySet {
        ids.iter().map(|&i| CategoryId(i)).collect()
    }

    fn policy(undecided: Undecided) -> ConsentPolicy {
        ConsentPolicy {
            sources: vec![SourceSpec::Consentry {
                cookie: "consentry".into(),
            }],
            undecided,
            gpc: set(&[3]),
        }
    }

    #[test]
    fn no_cookie_is_undecided_and_follows_policy() {
        let c = cats();
        let d = policy(Undecided::Deny).decide("session=1", false, &c);
        assert_eq!(d.state, ConsentState::Undecided);
        assert_eq!(d.source, None);
        assert_eq!(d.source_name(), "none");
        assert_eq!(d.allowed, set(&[0]));
        assert_eq!(d.category_state(CategoryId(0)), CategoryState::Granted);
        assert_eq!(d.category_state(CategoryId(2)), CategoryState::Undecided);

        let g = policy(Undecided::Grant).decide("", false, &c);
        assert_eq!(g.allowed, set(&[0, 1, 2, 3]));
        assert_eq!(g.granted, set(&[0]));
    }

    #[test]
    fn native_cookie_decides() {
        let c = cats();
        let d = policy(Undecided::Grant).decide("a=b; consentry=analytics; c=d", false, &c);
        assert_eq!(d.source, Some(SourceKind::Consentry));
        assert_eq!(d.state, ConsentState::Partial);
        // A decision denies every category not listed, whatever the undecided policy.
        assert_eq!(d.allowed, set(&[0, 2]));
        assert_eq!(d.category_state(CategoryId(3)), CategoryState::Denied);

        let all = policy(Undecided::Deny).decide("consentry=all", false, &c);
        assert_eq!(all.state, ConsentState::All);
        assert_eq!(all.allowed, set(&[0, 1, 2, 3]));

        let none = policy(Undecided::Grant).decide("consentry=", false, &c);
        assert_eq!(none.state, ConsentState::None);
        assert_eq!(none.allowed, set(&[0]));
    }

    #[test]
    fn gpc_denies_configured_categories_whatever_the_cookie_says() {
        let c = cats();
        let d = policy(Undecided::Deny).decide("consentry=all", true, &c);
        assert!(d.gpc);
        assert_eq!(d.allowed, set(&[0, 1, 2]));
        assert_eq!(d.category_state(CategoryId(3)), CategoryState::Denied);
        let g = policy(Undecided::Grant).decide("", true, &c);
        assert_eq!(g.allowed, set(&[0, 1, 2]));
    }

    #[test]
    fn gpc_never_denies_required_categories() {
        let c = cats();
        let mut p = policy(Undecided::Deny);
        p.gpc = set(&[0, 3]);
        let d = p.decide("consentry=all", true, &c);
        assert!(d.allowed.contains(CategoryId(0)));
    }

    #[test]
    fn malformed_cookie_is_absent_and_counted() {
        let c = cats();
        let d = policy(Undecided::Grant).decide("consentry={\"x\":1}", false, &c);
        assert_eq!(d.state, ConsentState::Invalid);
        assert_eq!(d.source, None);
        assert_eq!(d.invalid, Some(SourceKind::Consentry));
        assert_eq!(d.source_name(), "consentry");
        // Treated as absent: the undecided policy applies.
        assert_eq!(d.allowed, set(&[0, 1, 2, 3]));
    }

    #[test]
    fn build_rejects_a_native_mapping_table() {
        let c = cats();
        let mut t = toml::Table::new();
        t.insert("x".into(), toml::Value::String("y".into()));
        let e = SourceSpec::build(SourceKind::Consentry, Some(&t), "consentry", &c).unwrap_err();
        assert_eq!(e.key, "x");
        assert!(SourceSpec::build(SourceKind::Consentry, None, "consentry", &c).is_ok());
    }

    fn table(text: &str) -> toml::Table {
        text.parse().unwrap()
    }

    /// Every source enabled in the default order, with the defaults except a Klaro service map.
    fn all_sources(c: &Categories) -> ConsentPolicy {
        let klaro = table(
            r#"
            necessary-cookies = "essential"
            preferences = "functional"
            google-analytics = "analytics"
            google-ads = "advertising"
            "#,
        );
        let sources = SourceKind::ALL
            .iter()
            .map(|&k| {
                let t = (k == SourceKind::Klaro).then_some(&klaro);
                SourceSpec::build(k, t, "consentry", c).unwrap()
            })
            .collect();
        ConsentPolicy {
            sources,
            undecided: Undecided::Deny,
            gpc: set(&[3]),
        }
    }

    // Real values (see the per-format modules for their provenance).
    const OT_ACCEPT: &str = "OptanonConsent=isGpcEnabled=0&datestamp=Sat+Feb+07+2026+12%3A16%3A58+GMT%2B0800+(China+Standard+Time)&version=202502.1.0&browserGpcFlag=0&isIABGlobal=false&identifierType=Cookie+Unique+Id&hosts=&consentId=cacc8f29-8ccc-40d7-93e4-f44683563657&interactionCount=1&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0003%3A1%2CC0004%3A1%2CC0002%3A1%2CV2STACK42%3A1&iType=1&intType=1&geolocation=JP%3B13&AwaitingReconsent=false; OptanonAlertBoxClosed=2026-02-07T04:16:58.102Z";
    const OT_REJECT: &str = "OptanonAlertBoxClosed=2026-02-13T21:25:29.861Z; OptanonConsent=isGpcEnabled=1&datestamp=Fri+Feb+13+2026+22%3A25%3A29+GMT%2B0100+(hora+est%C3%A1ndar+de+Europa+central)&version=202512.1.0&browserGpcFlag=1&isIABGlobal=false&consentId=3134823156&isAnonUser=0&interactionCount=2&intType=2&hosts=&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A0%2CC0003%3A0%2CC0004%3A0%2CC0005%3A0%2CV2STACK42%3A0%2CC0035%3A0%2CC0038%3A0&genVendors=V2%3A0%2CV1%3A0%2C&crTime=1770283241677&geolocation=IT%3B25&AwaitingReconsent=false";
    const OT_PARTIAL: &str = "OptanonConsent=isGpcEnabled=0&version=202512.1.0&interactionCount=1&intType=6&landingPath=NotLandingPage&groups=C0001%3A1%2CC0002%3A1%2CC0003%3A0%2CC0004%3A0%2CC0005%3A0&AwaitingReconsent=false; OptanonAlertBoxClosed=2026-02-13T21:25:29.861Z";
    const OT_UNDECIDED: &str = "OptanonConsent=isGpcEnabled=0&datestamp=Mon+Jun+16+2025+17%3A48%3A11+GMT%2B0530+(India+Standard+Time)&version=202501.2.0&browserGpcFlag=0&isIABGlobal=false&hosts=&consentId=9f5da6c6-8680-4a0a-8100-807611edb626&interactionCount=0&isAnonUser=1&landingPath=NotLandingPage&groups=C0001%3A1%2CC0005%3A0%2CC0002%3A0%2CC0003%3A0%2CC0004%3A0&AwaitingReconsent=false";
    const OT_RECONSENT: &str = "OptanonConsent=interactionCount=3&groups=C0002%3A1%2CC0003%3A1&AwaitingReconsent=true; OptanonAlertBoxClosed=2025-01-01T00:00:00.000Z";
    const CB_REJECT: &str = "CookieConsent={stamp:%27PuSKzMgziAFdTLa5FzFSr4vbvlQnA4IdhLZfeZ+9fBM/j32CWy3XGA==%27%2Cnecessary:true%2Cpreferences:false%2Cstatistics:false%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1738313789122%2Cregion:%27ee%27}";
    const CB_ACCEPT: &str = "CookieConsent={stamp:%27Rm4fk9DeBCocbMY0P1wAkhbWQwf/ZwpnE42dfSJEeEb1ig7OJsnysA==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:true%2Cmethod:%27explicit%27%2Cver:1%2Cutc:1684336814039%2Cregion:%27ro%27}";
    const CB_PARTIAL: &str = "CookieConsent={stamp:%27JF1BlMmicaH7oY2UaAIErFsbGcumN9Nk3waAQxcgqrg4VhDrwOmjZg==%27%2Cnecessary:true%2Cpreferences:true%2Cstatistics:true%2Cmarketing:false%2Cmethod:%27explicit%27%2Cver:2%2Cutc:1765222520311%2Cregion:%27fr%27}";
    const CY_ACCEPT: &str = "cookieyes-consent=consentid:d2JnOWNtWmgyM0pMdEU0ZkZXSGhzdE9BaTkxekF3WEk,consent:yes,action:yes,necessary:yes,functional:yes,analytics:yes,performance:yes,advertisement:yes,other:yes";
    const CY_REJECT: &str = "cookieyes-consent=consentid:WHRLbHhJZVJlTXR3b0F4MUpUQWNCZDRNbXRpTWNEcmE,consent:no,action:yes,necessary:yes,functional:no,analytics:no,performance:no,advertisement:no,other:no";
    const CY_PARTIAL: &str = "cookieyes-consent=consentid:x,consent:yes,action:yes,necessary:yes,functional:yes,analytics:no,performance:no,advertisement:yes,other:no";
    const CY_UNDECIDED: &str = "cookieyes-consent=consentid:a0luUlByM3NGTFp2dkMyQkJXdHoxdHFVeHI2TEM5Yms,consent:no,action:,necessary:yes,functional:yes,analytics:no,performance:no,advertisement:no";
    const CC_REJECT: &str = "cc_cookie=%7B%22categories%22%3A%5B%22necessary%22%5D%2C%22revision%22%3A1%2C%22data%22%3Anull%2C%22consentTimestamp%22%3A%222024-11-20T19%3A02%3A36.823Z%22%2C%22consentId%22%3A%2212fd04af-4af6-48a3-8531-b7cf317849d1%22%2C%22services%22%3A%7B%22necessary%22%3A%5B%5D%2C%22analytics%22%3A%5B%5D%2C%22support%22%3A%5B%5D%7D%2C%22lastConsentTimestamp%22%3A%222024-11-20T19%3A02%3A36.823Z%22%2C%22expirationTime%22%3A1747854156824%7D";
    const CC_ACCEPT: &str = "cc_cookie=%7B%22categories%22%3A%5B%22necessary%22%2C%22functional%22%2C%22analytics%22%2C%22advertisement%22%5D%2C%22revision%22%3A0%2C%22data%22%3Anull%2C%22consentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22consentId%22%3A%22b5b97425-c91e-41a6-828e-a0504f76c1b7%22%2C%22services%22%3A%7B%22necessary%22%3A%5B%5D%2C%22functional%22%3A%5B%5D%2C%22analytics%22%3A%5B%5D%2C%22advertisement%22%3A%5B%5D%7D%2C%22lastConsentTimestamp%22%3A%222025-01-01T07%3A34%3A58.963Z%22%2C%22expirationTime%22%3A1751441698964%7D";
    const CC_V2_PARTIAL: &str = r#"cc_cookie={"categories":["necessary","analytics"],"level":["necessary","analytics"],"revision":0,"data":null,"rfc_cookie":false,"consent_date":"2023-05-02T10:00:00.000Z","consent_uuid":"0f8d8a3e-1b1e-4c57-9a76-3c4c0f0a8a11"}"#;
    const KLARO_MRW: &str = "klaro=%7B%22necessary-cookies%22%3Atrue%2C%22preferences%22%3Afalse%2C%22google-analytics%22%3Atrue%2C%22google-ads%22%3Afalse%7D";
    const KLARO_PARTLY_MISSING: &str = "klaro=%7B%22preferences%22%3Atrue%7D";
    const TCF_ACCEPT: &str = "euconsent-v2=CQTQT4AQTQT4AAGABCENBvFsAP_gAELAABp4IzQHwAFAANAAqABwAEAALQAZAA0ACKAEwAKQAYgA3gBzAEIAI4ATQApACEAFDAPaAhsBGoC2gF5gMZAZIA0IBqIELgIzAIRADAAUAI4AhAA4SAYABUADgAIIAZABoAEwAN4AhABNAHtAXmAyQCFw6AWABUADgAIIAZABoAEwAMQAbwBNAHtAXmAyQhACADEAG8lAGAA4AEwAMQB7QF5gMkKQCQAKgAcABAADQAJgAYgD2gLzAZIVAAgAKKAAQAZA.YAAAAAAAAAAA";
    const TCF_REJECT_LI: &str = "euconsent-v2=CQEyKcAQEyKcAAGABBENBGFgAAAAAEPgABBoAAAOWgJAAkABkAEcARwAnAByADnAIAAQcAjgBdQFSgLUAXQAvMBggDFgHLABBQAIC6CgAEAjgAAA.YAAAAAAAAAAA";
    const TCF_PURPOSES_1_3: &str = "euconsent-v2=COvFyGBOvFyGBAbAAAENAPCAAOAAAAAAAAAAAEEUACCKAAA";

    /// Unrelated cookies a real request carries around the consent cookie.
    fn header(consent: &[&str]) -> String {
        let mut parts = vec![
            "_ga=GA1.2.1402942530.1700000000",
            "_gid=GA1.2.987654321.1700000000",
            "session=abc",
        ];
        parts.extend_from_slice(consent);
        parts.extend_from_slice(&[
            "_fbp=fb.1.1700000000000.123456789",
            "theme=dark",
            "__cf_bm=Zm9v.YmFy-1700000000-0-AQ==",
            "_gcl_au=1.1.1234.1700000000",
        ]);
        parts.join("; ")
    }

    #[test]
    fn every_format_through_decide() {
        use ConsentState as S;
        use SourceKind as K;
        let c = cats();
        let p = all_sources(&c);
        type Case<'a> = (&'a str, &'a [&'a str], Option<K>, S, &'a [u8], Option<K>);
        // (case, consent cookies, deciding source, state, allowed, malformed source passed over)
        #[rustfmt::skip]
        let cases: &[Case] = &[
            ("nothing", &[], None, S::Undecided, &[0], None),
            ("native", &["consentry=analytics"], Some(K::Consentry), S::Partial, &[0, 2], None),
            ("onetrust accept", &[OT_ACCEPT], Some(K::OneTrust), S::All, &[0, 1, 2, 3], None),
            ("onetrust reject", &[OT_REJECT], Some(K::OneTrust), S::None, &[0], None),
            ("onetrust partial", &[OT_PARTIAL], Some(K::OneTrust), S::Partial, &[0, 2], None),
            ("onetrust undecided", &[OT_UNDECIDED], None, S::Undecided, &[0], None),
            ("onetrust reconsent", &[OT_RECONSENT], None, S::Undecided, &[0], None),
            ("onetrust garbage", &["OptanonConsent=hello"], None, S::Invalid, &[0], Some(K::OneTrust)),
            ("cookiebot reject", &[CB_REJECT], Some(K::Cookiebot), S::None, &[0], None),
            ("cookiebot accept", &[CB_ACCEPT], Some(K::Cookiebot), S::All, &[0, 1, 2, 3], None),
            ("cookiebot partial", &[CB_PARTIAL], Some(K::Cookiebot), S::Partial, &[0, 1, 2], None),
            ("cookiebot 0", &["CookieConsent=0"], Some(K::Cookiebot), S::None, &[0], None),
            ("cookiebot -1", &["CookieConsent=-1"], Some(K::Cookiebot), S::All, &[0, 1, 2, 3], None),
            ("cookiebot -2", &["CookieConsent=-2"], None, S::Invalid, &[0], Some(K::Cookiebot)),
            ("cookiebot other tool", &["CookieConsent=true"], None, S::Invalid, &[0], Some(K::Cookiebot)),
            ("cookieyes accept", &[CY_ACCEPT], Some(K::CookieYes), S::All, &[0, 1, 2, 3], None),
            ("cookieyes reject", &[CY_REJECT], Some(K::CookieYes), S::None, &[0], None),
            ("cookieyes partial", &[CY_PARTIAL], Some(K::CookieYes), S::Partial, &[0, 1, 3], None),
            ("cookieyes undecided", &[CY_UNDECIDED], None, S::Undecided, &[0], None),
            ("cc_cookie reject", &[CC_REJECT], Some(K::CcCookie), S::None, &[0], None),
            ("cc_cookie accept", &[CC_ACCEPT], Some(K::CcCookie), S::All, &[0, 1, 2, 3], None),
            ("cc_cookie v2 partial", &[CC_V2_PARTIAL], Some(K::CcCookie), S::Partial, &[0, 2], None),
            ("cc_cookie no list", &["cc_cookie=%7B%22revision%22%3A0%7D"], None, S::Undecided, &[0], None),
            ("klaro partial", &[KLARO_MRW], Some(K::Klaro), S::Partial, &[0, 2], None),
            ("klaro partly missing", &[KLARO_PARTLY_MISSING], Some(K::Klaro), S::Partial, &[0, 1], None),
            ("klaro garbage", &["klaro=%7B%22preferences%22%3A1%7D"], None, S::Invalid, &[0], Some(K::Klaro)),
            ("klaro without configured services", &["klaro=%7B%22youtube%22%3Atrue%7D", TCF_PURPOSES_1_3], Some(K::Tcf), S::Partial, &[0, 1], None),
            ("tcf accept", &[TCF_ACCEPT], Some(K::Tcf), S::All, &[0, 1, 2, 3], None),
            ("tcf reject with LI", &[TCF_REJECT_LI], Some(K::Tcf), S::None, &[0], None),
            ("tcf purposes 1-3", &[TCF_PURPOSES_1_3], Some(K::Tcf), S::Partial, &[0, 1], None),
            ("tcf v1", &["euconsent-v2=BOEFEAyOEFEAyAHABDENAI4AAAB9vABAASA"], None, S::Invalid, &[0], Some(K::Tcf)),
            // Precedence: the first source in `sources` order that decides wins.
            ("native before onetrust", &[OT_ACCEPT, "consentry=none"], Some(K::Consentry), S::None, &[0], None),
            ("onetrust before tcf", &[TCF_ACCEPT, OT_REJECT], Some(K::OneTrust), S::None, &[0], None),
            ("cookiebot before cookieyes", &[CY_ACCEPT, CB_PARTIAL], Some(K::Cookiebot), S::Partial, &[0, 1, 2], None),
            // No decision falls through to the next source.
            ("undecided onetrust falls through", &[OT_UNDECIDED, CB_PARTIAL], Some(K::Cookiebot), S::Partial, &[0, 1, 2], None),
            ("undecided cookieyes falls through", &[CY_UNDECIDED, TCF_PURPOSES_1_3], Some(K::Tcf), S::Partial, &[0, 1], None),
            // Malformed is skipped (and recorded), the next source decides.
            ("malformed cookiebot skipped", &["CookieConsent=-2", CY_PARTIAL], Some(K::CookieYes), S::Partial, &[0, 1, 3], Some(K::Cookiebot)),
            ("malformed native skipped", &["consentry={x}", TCF_ACCEPT], Some(K::Tcf), S::All, &[0, 1, 2, 3], Some(K::Consentry)),
            ("first malformed recorded", &["klaro=[]", "CookieConsent=-2"], None, S::Invalid, &[0], Some(K::Cookiebot)),
        ];
        for (name, consent, source, state, allowed, invalid) in cases {
            let h = header(consent);
            let d = p.decide(&h, false, &c);
            assert_eq!(d.source, *source, "{name}: source");
            assert_eq!(d.state, *state, "{name}: state");
            assert_eq!(d.allowed, set(allowed), "{name}: allowed");
            assert_eq!(d.invalid, *invalid, "{name}: invalid");
        }
    }

    #[test]
    fn klaro_missing_services_stay_undecided_and_follow_the_policy() {
        let c = cats();
        let mut p = all_sources(&c);
        let h = header(&[KLARO_PARTLY_MISSING]);
        let d = p.decide(&h, false, &c);
        assert_eq!(d.category_state(CategoryId(1)), CategoryState::Granted);
        assert_eq!(d.category_state(CategoryId(2)), CategoryState::Undecided);
        assert_eq!(d.category_state(CategoryId(3)), CategoryState::Undecided);
        p.undecided = Undecided::Grant;
        let d = p.decide(&h, false, &c);
        assert_eq!(d.allowed, set(&[0, 1, 2, 3]));
        // GPC still denies advertising.
        let d = p.decide(&h, true, &c);
        assert_eq!(d.allowed, set(&[0, 1, 2]));
    }

    #[test]
    fn onetrust_alert_box_cookie_decides() {
        let c = cats();
        let p = all_sources(&c);
        let with_box = format!("{OT_UNDECIDED}; OptanonAlertBoxClosed=2025-06-16T12:18:11.000Z");
        let d = p.decide(&header(&[&with_box]), false, &c);
        assert_eq!(d.source, Some(SourceKind::OneTrust));
        assert_eq!(d.state, ConsentState::None);
        // An empty alert-box cookie does not count.
        let empty_box = format!("{OT_UNDECIDED}; OptanonAlertBoxClosed=");
        let d = p.decide(&header(&[&empty_box]), false, &c);
        assert_eq!(d.source, None);
        assert_eq!(d.state, ConsentState::Undecided);
    }

    #[test]
    fn source_names_and_order() {
        let names: Vec<_> = SourceKind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "consentry",
                "onetrust",
                "cookiebot",
                "cookieyes",
                "cc_cookie",
                "klaro",
                "tcf"
            ]
        );
        for &k in SourceKind::ALL {
            assert_eq!(SourceKind::from_name(k.name()), Some(k));
        }
        assert_eq!(SourceKind::from_name("OneTrust"), None);
    }

    #[test]
    fn consent_cookie_names() {
        let c = cats();
        let p = all_sources(&c);
        assert_eq!(
            p.consent_cookie_names(),
            [
                "consentry",
                "OptanonConsent",
                "OptanonAlertBoxClosed",
                "CookieConsent",
                "cookieyes-consent",
                "cc_cookie",
                "klaro",
                "euconsent-v2"
            ]
        );
        for s in &p.sources {
            assert_eq!(
                SourceKind::from_name(s.kind().name()),
                Some(s.kind()),
                "{s:?}"
            );
        }
    }

    fn map_of(spec: &SourceSpec) -> Vec<(String, u8)> {
        let map = match spec {
            SourceSpec::OneTrust { map }
            | SourceSpec::Cookiebot { map }
            | SourceSpec::CookieYes { map }
            | SourceSpec::CcCookie { map }
            | SourceSpec::Klaro { map } => map,
            _ => panic!("no name map"),
        };
        map.iter().map(|(n, c)| (n.to_string(), c.0)).collect()
    }

    fn pairs(v: &[(&str, u8)]) -> Vec<(String, u8)> {
        v.iter().map(|&(n, c)| (n.to_string(), c)).collect()
    }

    #[test]
    fn default_maps() {
        let c = cats();
        let b = |k| SourceSpec::build(k, None, "consentry", &c).unwrap();
        assert_eq!(
            map_of(&b(SourceKind::OneTrust)),
            pairs(&[("C0002", 2), ("C0003", 1), ("C0004", 3), ("C0005", 3)])
        );
        assert_eq!(
            map_of(&b(SourceKind::Cookiebot)),
            pairs(&[("preferences", 1), ("statistics", 2), ("marketing", 3)])
        );
        assert_eq!(
            map_of(&b(SourceKind::CookieYes)),
            pairs(&[
                ("functional", 1),
                ("analytics", 2),
                ("performance", 2),
                ("advertisement", 3)
            ])
        );
        assert_eq!(
            map_of(&b(SourceKind::CcCookie)),
            pairs(&[
                ("essential", 0),
                ("functional", 1),
                ("analytics", 2),
                ("advertising", 3),
                ("marketing", 3),
                ("advertisement", 3)
            ])
        );
        assert_eq!(
            map_of(&b(SourceKind::Klaro)),
            pairs(&[
                ("essential", 0),
                ("functional", 1),
                ("analytics", 2),
                ("advertising", 3)
            ])
        );
        assert_eq!(
            b(SourceKind::Tcf),
            SourceSpec::Tcf {
                map: TcfMap {
                    entries: vec![
                        (CategoryId(1), 0b1),
                        (CategoryId(2), 0b1_1000_0001),
                        (CategoryId(3), 0b100_1111),
                    ]
                }
            }
        );
    }

    #[test]
    fn defaults_for_missing_categories_are_dropped() {
        // A site without an advertising category (and with a `marketing` one of its own).
        let c = Categories::new([
            ("essential", true),
            ("analytics", false),
            ("marketing", false),
        ]);
        let b = |k| SourceSpec::build(k, None, "consentry", &c).unwrap();
        assert_eq!(map_of(&b(SourceKind::OneTrust)), pairs(&[("C0002", 1)]));
        // Identity wins over the default `marketing -> advertising`.
        assert_eq!(
            map_of(&b(SourceKind::CcCookie)),
            pairs(&[("essential", 0), ("analytics", 1), ("marketing", 2)])
        );
        assert_eq!(
            b(SourceKind::Tcf),
            SourceSpec::Tcf {
                map: TcfMap {
                    entries: vec![(CategoryId(1), 0b1_1000_0001)]
                }
            }
        );
    }

    #[test]
    fn operator_tables_override_and_extend_defaults() {
        let c = cats();
        let t = table(
            r#"
            C0002 = "functional"
            C0007 = "advertising"
            "4" = "analytics"
            "#,
        );
        let s = SourceSpec::build(SourceKind::OneTrust, Some(&t), "consentry", &c).unwrap();
        assert_eq!(
            map_of(&s),
            pairs(&[
                ("C0002", 1),
                ("C0003", 1),
                ("C0004", 3),
                ("C0005", 3),
                ("4", 2),
                ("C0007", 3)
            ])
        );
        let t = table(r#"necessary = "essential""#);
        let s = SourceSpec::build(SourceKind::Cookiebot, Some(&t), "consentry", &c).unwrap();
        assert_eq!(map_of(&s).last(), Some(&("necessary".to_string(), 0)));
        let t = table("purposes = { analytics = [1, 7, 10] }");
        let s = SourceSpec::build(SourceKind::Tcf, Some(&t), "consentry", &c).unwrap();
        // The operator's table replaces the defaults as a whole.
        assert_eq!(
            s,
            SourceSpec::Tcf {
                map: TcfMap {
                    entries: vec![(CategoryId(2), 0b10_0100_0001)]
                }
            }
        );
    }

    #[test]
    fn mapping_errors_name_the_key() {
        let c = cats();
        let err =
            |k, text: &str| SourceSpec::build(k, Some(&table(text)), "consentry", &c).unwrap_err();
        let e = err(SourceKind::OneTrust, r#"C0002 = "analytic""#);
        assert_eq!(e.key, "C0002");
        assert!(
            e.reason.contains("unknown category `analytic`"),
            "{}",
            e.reason
        );
        assert!(e
            .reason
            .contains("essential, functional, analytics, advertising"));
        let e = err(SourceKind::Cookiebot, "statistics = 1");
        assert_eq!(e.key, "statistics");
        assert!(e.reason.contains("string"), "{}", e.reason);
        let e = err(SourceKind::Klaro, r#"matomo = ["analytics"]"#);
        assert_eq!(e.key, "matomo");
        let e = err(SourceKind::Tcf, r#"analytics = [1]"#);
        assert_eq!(e.key, "analytics");
        assert!(e.reason.contains("purposes"), "{}", e.reason);
        let e = err(SourceKind::Tcf, r#"purposes = [1]"#);
        assert_eq!(e.key, "purposes");
        let e = err(SourceKind::Tcf, "purposes = { marketing = [1] }");
        assert_eq!(e.key, "purposes.marketing");
        for bad in ["[0]", "[25]", "[\"1\"]", "[1.0]", "[]", "1"] {
            let e = err(
                SourceKind::Tcf,
                &format!("purposes = {{ analytics = {bad} }}"),
            );
            assert_eq!(e.key, "purposes.analytics", "{bad}");
        }
    }

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
                SourceSpec::Cookiebot { map } => {
                    check(cookiebot::read(value, map), map.categories())
                }
                SourceSpec::CookieYes { map } => {
                    check(cookieyes::read(value, map), map.categories())
                }
                SourceSpec::CcCookie { map } => {
                    check(cc_cookie::read(value, map), map.categories())
                }
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
}
