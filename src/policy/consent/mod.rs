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

    /// The names of the cookies this source reads. They are always essential.
    pub fn cookie_names(&self) -> Vec<&str> {
        match self {
            SourceSpec::Consentry { cookie } => vec![cookie],
            SourceSpec::OneTrust { .. } => {
                vec![onetrust::CONSENT_COOKIE, onetrust::ALERT_BOX_CLOSED_COOKIE]
            }
            SourceSpec::Cookiebot { .. } => vec![cookiebot::COOKIE],
            SourceSpec::CookieYes { .. } => vec![cookieyes::COOKIE],
            SourceSpec::CcCookie { .. } => vec![cc_cookie::COOKIE],
            SourceSpec::Klaro { .. } => vec![klaro::COOKIE],
            SourceSpec::Tcf { .. } => vec![tcf::COOKIE],
        }
    }

    /// Reads this source from a `Cookie` header. `None` when its cookie is absent.
    pub fn read(&self, cookies: &str, categories: &Categories) -> Option<Reading> {
        let get = |name| cookie_header::get(cookies, name);
        Some(match self {
            SourceSpec::Consentry { cookie } => native::read(get(cookie)?, categories),
            SourceSpec::OneTrust { map } => {
                let consent = get(onetrust::CONSENT_COOKIE)?;
                let closed = get(onetrust::ALERT_BOX_CLOSED_COOKIE).is_some_and(|v| !v.is_empty());
                onetrust::read(consent, closed, map)
            }
            SourceSpec::Cookiebot { map } => cookiebot::read(get(cookiebot::COOKIE)?, map),
            SourceSpec::CookieYes { map } => cookieyes::read(get(cookieyes::COOKIE)?, map),
            SourceSpec::CcCookie { map } => cc_cookie::read(get(cc_cookie::COOKIE)?, map),
            SourceSpec::Klaro { map } => klaro::read(get(klaro::COOKIE)?, map),
            SourceSpec::Tcf { map } => tcf::read(get(tcf::COOKIE)?, map),
        })
    }
}

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
            for source in &self.sources {
                match source.read(cookies, categories) {
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
}
