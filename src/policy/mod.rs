//! The consent and cookie policy: a pure core with no I/O.
//!
//! Everything here works on strings and header values already in memory, so it can be unit
//! tested, fuzzed and benchmarked without a network, and `consentry explain` runs exactly the code
//! the proxy runs.

pub mod categories;
pub mod cleanup;
pub mod consent;
pub mod cookie_date;
pub mod cookie_header;
pub mod filter;
pub mod glob;
pub mod host;
pub mod rules;
pub mod scripts;
pub mod set_cookie;
mod trie;

use categories::{Categories, CategoryId};
use consent::{Consent, ConsentPolicy};
use rules::{Matcher, RuleId};
use scripts::ScriptMatcher;

use std::sync::Arc;

/// `consent.mode`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// Remove what is not consented to.
    #[default]
    Enforce,
    /// Count what would be removed and change nothing.
    ReportOnly,
}

/// `consent.unclassified`: what a cookie no rule names is judged as.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Unclassified {
    #[default]
    Deny,
    Allow,
    Category(CategoryId),
}

/// How a cookie name is classified.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Class {
    /// A configured rule names it.
    Rule(RuleId),
    /// It is the consent cookie of an enabled source: always essential.
    Consent,
    /// No rule names it.
    Unclassified,
}

/// The compiled policy: everything needed to decide a request and filter its response.
#[derive(Clone, Debug)]
pub struct Policy {
    pub categories: Categories,
    pub matcher: Matcher,
    pub consent: ConsentPolicy,
    pub mode: Mode,
    pub unclassified: Unclassified,
    pub cleanup: bool,
    pub cleanup_paths: Vec<Box<str>>,
    pub strip_request: bool,
    /// The script patterns of the page guard (`scripts = [...]` of each category); empty unless
    /// the configuration sets some (see [`Policy::with_scripts`]).
    pub scripts: Arc<ScriptMatcher>,
    /// Names of the enabled sources' consent cookies.
    consent_cookies: Vec<Box<str>>,
}

/// `consent.cleanup` and `consent.cleanup_paths`: expiring the cookies of categories that are
/// not granted when the browser sends them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Whether such cookies are expired (on by default).
    pub enabled: bool,
    /// Paths besides `/` to expire them on.
    pub paths: Vec<Box<str>>,
}

impl Default for CleanupOptions {
    fn default() -> CleanupOptions {
        CleanupOptions {
            enabled: true,
            paths: Vec::new(),
        }
    }
}

/// Everything a [`Policy`] is made of, by name.
#[derive(Clone, Debug)]
pub struct PolicyParts {
    pub categories: Categories,
    pub matcher: Matcher,
    pub consent: ConsentPolicy,
    pub mode: Mode,
    pub unclassified: Unclassified,
    pub cleanup: CleanupOptions,
    /// `consent.strip_request`: remove cookies of categories that are not granted from the
    /// request's `Cookie` header.
    pub strip_request: bool,
}

impl Policy {
    pub fn new(parts: PolicyParts) -> Policy {
        let PolicyParts {
            categories,
            matcher,
            consent,
            mode,
            unclassified,
            cleanup,
            strip_request,
        } = parts;
        let mut consent_cookies: Vec<Box<str>> = consent
            .consent_cookie_names()
            .into_iter()
            .map(Into::into)
            .collect();
        consent_cookies.sort();
        consent_cookies.dedup();
        Policy {
            categories,
            matcher,
            consent,
            mode,
            unclassified,
            cleanup: cleanup.enabled,
            cleanup_paths: cleanup.paths,
            strip_request,
            scripts: Arc::default(),
            consent_cookies,
        }
    }

    /// The same policy with these script patterns.
    pub fn with_scripts(mut self, scripts: ScriptMatcher) -> Policy {
        self.scripts = Arc::new(scripts);
        self
    }

    /// Decides a request's consent from its joined `Cookie` header and `Sec-GPC: 1`.
    pub fn decide(&self, cookies: &str, gpc: bool) -> Consent {
        self.consent.decide(cookies, gpc, &self.categories)
    }

    pub fn consent_cookies(&self) -> &[Box<str>] {
        &self.consent_cookies
    }

    /// Classifies a cookie by the name it presents.
    pub fn classify(&self, name: &[u8]) -> Class {
        if self.consent_cookies.iter().any(|c| c.as_bytes() == name) {
            return Class::Consent;
        }
        match self.matcher.classify(name) {
            Some(rule) => Class::Rule(rule),
            None => Class::Unclassified,
        }
    }

    /// The category a class is judged under: a rule's category, the first required category for
    /// consent cookies, and for unclassified names the `unclassified` category if one is set.
    pub fn category_of(&self, class: Class) -> Option<CategoryId> {
        match class {
            Class::Rule(r) => Some(self.matcher.rule(r).category),
            Class::Consent => self.categories.required().iter().next(),
            Class::Unclassified => match self.unclassified {
                Unclassified::Category(c) => Some(c),
                _ => None,
            },
        }
    }

    /// The metrics/explain label of the rule behind a class: the pattern, `(consent)` for consent
    /// cookies and `(unclassified)` otherwise.
    pub(crate) fn rule_label(&self, class: Class) -> &str {
        match class {
            Class::Rule(r) => &self.matcher.rule(r).pattern,
            Class::Consent => "(consent)",
            Class::Unclassified => "(unclassified)",
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small policy shared by unit tests.
    use super::*;
    use consent::{SourceSpec, Undecided};

    pub fn policy(mode: Mode, unclassified: Unclassified) -> Policy {
        let categories = Categories::new([
            ("essential", true),
            ("functional", false),
            ("analytics", false),
            ("advertising", false),
        ]);
        let matcher = Matcher::new([
            ("_zendesk_session", CategoryId(0)),
            ("__cf_bm", CategoryId(0)),
            ("ZD-settings", CategoryId(1)),
            ("*.conversationStartedAt", CategoryId(1)),
            ("_ga", CategoryId(2)),
            ("_ga_*", CategoryId(2)),
            ("_gid", CategoryId(2)),
            ("_fbp", CategoryId(3)),
            ("IDE", CategoryId(3)),
            ("_gcl_*", CategoryId(3)),
        ])
        .unwrap();
        let consent = ConsentPolicy {
            sources: vec![SourceSpec::Consentry {
                cookie: "consentry".into(),
            }],
            undecided: Undecided::Deny,
            gpc: [CategoryId(3)].into_iter().collect(),
        };
        Policy::new(PolicyParts {
            categories,
            matcher,
            consent,
            mode,
            unclassified,
            cleanup: CleanupOptions::default(),
            strip_request: true,
        })
    }
}
