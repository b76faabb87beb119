//! Deciding what a visitor consented to, from the request's cookies and `Sec-GPC`.
//!
//! Each enabled source reads its own cookie into a [`Reading`]. Sources are tried in the configured
//! order and the first whose cookie records a decision wins. Undecided categories then follow the
//! `undecided` policy, required categories are always granted, and `Sec-GPC: 1` denies the
//! configured categories whatever the cookie says.

pub mod cc_cookie;
pub mod cookiebot;
pub mod cookieyes;
mod decide;
mod json;
pub mod klaro;
mod mapping;
pub mod native;
pub mod onetrust;
pub mod reading;
mod source;
pub mod tcf;
pub mod text;

#[cfg(test)]
mod tests;

use crate::policy::categories::{CategoryId, CategorySet};
pub use mapping::{PurposeLists, SourceConfigError, SourceTable};
pub use reading::{NameMap, Reading};
pub use source::SourceSpec;
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

    pub(crate) fn from_name(name: &str) -> Option<SourceKind> {
        SourceKind::ALL.iter().copied().find(|k| k.name() == name)
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
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum Undecided {
    /// Opt-in (GDPR): undecided categories are denied.
    #[default]
    Deny,
    /// Opt-out (CCPA): undecided categories are granted.
    Grant,
}

/// The per-category state shown by `explain`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum CategoryState {
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
    pub(crate) fn category_state(&self, id: CategoryId) -> CategoryState {
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
