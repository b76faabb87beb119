//! Opt-in markup: elements a page marks as belonging to a category and leaves inert
//! (`<script type="text/plain" ...>`, `<iframe data-src=...>`) until consent. The rewriter
//! activates them server-side when their category is granted.
//!
//! Conventions read (the consent platforms' names go through the same `[consent.*]` tables as
//! their cookies, and only for the sources in `consent.sources`):
//! - consentry: `data-consentry-category="analytics"` (a comma-separated list is accepted);
//! - Cookiebot: `data-cookieconsent="statistics"` (comma-separated; `ignore` is not a category);
//! - orestbida/cookieconsent (`cc_cookie`): `data-category="analytics"` (v3) or
//!   `data-cookiecategory="analytics"` (v2); a `!name` (run when rejected) is never activated;
//! - OneTrust: `class="optanon-category-C0002"` (`optanon-category-C0002-C0004`: all groups);
//! - Klaro: `data-name="service"`, a service of the `[consent.klaro]` table;
//! - CookieYes: `data-cookieyes="cookieyes-analytics"`.
//!
//! An element is activated when every category its markup names (that the tables map) is
//! allowed. Names no table maps are ignored; markup naming no mapped category is left alone.

use crate::policy::categories::{Categories, CategorySet};
use crate::policy::consent::{NameMap, SourceSpec};
use crate::policy::Policy;

/// The name maps of the enabled consent platforms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OptIn {
    pub cookiebot: Option<NameMap>,
    pub cc_cookie: Option<NameMap>,
    pub onetrust: Option<NameMap>,
    pub klaro: Option<NameMap>,
    pub cookieyes: Option<NameMap>,
}

/// Where a deferred URL waits, and the attribute it goes back to.
pub const DEFERRED_ATTRS: &[(&str, &str)] = &[
    ("data-consentry-src", "src"),
    ("data-consentry-href", "href"),
    ("data-consentry-srcset", "srcset"),
    ("data-consentry-data", "data"),
    // Cookiebot's convention for iframes.
    ("data-cookieblock-src", "src"),
    // OneTrust, Klaro and CookieYes.
    ("data-src", "src"),
    // Klaro.
    ("data-href", "href"),
];

impl OptIn {
    /// The maps of the sources `policy` reads.
    pub fn from_policy(policy: &Policy) -> OptIn {
        let mut o = OptIn::default();
        for s in &policy.consent.sources {
            match s {
                SourceSpec::Cookiebot { map } => o.cookiebot = Some(map.clone()),
                SourceSpec::CcCookie { map } => o.cc_cookie = Some(map.clone()),
                SourceSpec::OneTrust { map } => o.onetrust = Some(map.clone()),
                SourceSpec::Klaro { map } => o.klaro = Some(map.clone()),
                SourceSpec::CookieYes { map } => o.cookieyes = Some(map.clone()),
                SourceSpec::Consentry { .. } | SourceSpec::Tcf { .. } => {}
            }
        }
        o
    }

    /// The categories an element's opt-in markup names, and the first convention found; `None`
    /// when it has no markup naming a mapped category. `attr` reads an attribute's value.
    pub fn categories(
        &self,
        categories: &Categories,
        attr: impl Fn(&str) -> Option<String>,
    ) -> Option<(CategorySet, &'static str)> {
        let mut set = CategorySet::EMPTY;
        let mut convention: Option<&'static str> = None;
        let mut note = |found: CategorySet, name: &'static str| {
            if !found.is_empty() {
                set = set.union(found);
                convention.get_or_insert(name);
            }
        };
        if let Some(v) = attr("data-consentry-category") {
            note(
                list(&v).filter_map(|n| categories.lookup(n)).collect(),
                "consentry",
            );
        }
        if let (Some(map), Some(v)) = (&self.cookiebot, attr("data-cookieconsent")) {
            note(list(&v).filter_map(|n| map.get(n)).collect(), "cookiebot");
        }
        if let Some(map) = &self.cc_cookie {
            for key in ["data-category", "data-cookiecategory"] {
                if let Some(v) = attr(key) {
                    note(
                        list(&v)
                            .filter(|n| !n.starts_with('!'))
                            .filter_map(|n| map.get(n))
                            .collect(),
                        "cc_cookie",
                    );
                }
            }
        }
        if let (Some(map), Some(v)) = (&self.onetrust, attr("class")) {
            let groups: CategorySet = v
                .split_ascii_whitespace()
                .filter_map(|c| c.strip_prefix("optanon-category-"))
                .flat_map(|g| g.split('-'))
                .filter_map(|g| map.get(g))
                .collect();
            note(groups, "onetrust");
        }
        if let (Some(map), Some(v)) = (&self.klaro, attr("data-name")) {
            note(map.get(v.trim()).into_iter().collect(), "klaro");
        }
        if let (Some(map), Some(v)) = (&self.cookieyes, attr("data-cookieyes")) {
            note(
                list(&v)
                    .filter_map(|n| n.strip_prefix("cookieyes-"))
                    .filter_map(|n| map.get(n))
                    .collect(),
                "cookieyes",
            );
        }
        convention.map(|c| (set, c))
    }
}

/// The names of a comma- or space-separated list.
fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split([',', ' ', '\t', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::categories::CategoryId;
    use crate::policy::consent::{SourceKind, SourceSpec};

    fn cats() -> Categories {
        Categories::new([
            ("essential", true),
            ("functional", false),
            ("analytics", false),
            ("advertising", false),
        ])
    }

    fn optin(c: &Categories) -> OptIn {
        let b = |k| SourceSpec::build(k, None, "consentry", c).unwrap();
        let map = |k| match b(k) {
            SourceSpec::Cookiebot { map }
            | SourceSpec::CcCookie { map }
            | SourceSpec::OneTrust { map }
            | SourceSpec::Klaro { map }
            | SourceSpec::CookieYes { map } => Some(map),
            _ => None,
        };
        OptIn {
            cookiebot: map(SourceKind::Cookiebot),
            cc_cookie: map(SourceKind::CcCookie),
            onetrust: map(SourceKind::OneTrust),
            klaro: map(SourceKind::Klaro),
            cookieyes: map(SourceKind::CookieYes),
        }
    }

    fn of(attrs: &[(&str, &str)]) -> Option<(Vec<u8>, &'static str)> {
        let c = cats();
        optin(&c)
            .categories(&c, |n| {
                attrs
                    .iter()
                    .find(|(k, _)| *k == n)
                    .map(|(_, v)| v.to_string())
            })
            .map(|(s, conv)| (s.iter().map(|id: CategoryId| id.0).collect(), conv))
    }

    #[test]
    fn each_convention() {
        assert_eq!(
            of(&[("data-consentry-category", "analytics")]),
            Some((vec![2], "consentry"))
        );
        assert_eq!(
            of(&[("data-cookieconsent", "statistics, marketing")]),
            Some((vec![2, 3], "cookiebot"))
        );
        assert_eq!(of(&[("data-cookieconsent", "ignore")]), None);
        assert_eq!(
            of(&[("data-category", "analytics")]),
            Some((vec![2], "cc_cookie"))
        );
        assert_eq!(
            of(&[("data-cookiecategory", "marketing")]),
            Some((vec![3], "cc_cookie"))
        );
        assert_eq!(of(&[("data-category", "!analytics")]), None);
        assert_eq!(
            of(&[("class", "x optanon-category-C0002-C0004 y")]),
            Some((vec![2, 3], "onetrust"))
        );
        assert_eq!(of(&[("class", "optanon-category-C0001")]), None);
        assert_eq!(of(&[("data-name", "analytics")]), Some((vec![2], "klaro")));
        assert_eq!(
            of(&[("data-cookieyes", "cookieyes-analytics")]),
            Some((vec![2], "cookieyes"))
        );
        assert_eq!(
            of(&[("data-cookieyes", "cookieyes-advertisement")]),
            Some((vec![3], "cookieyes"))
        );
        assert_eq!(of(&[("data-x", "analytics")]), None);
    }
}
