//! The enabled sources with their compiled mappings, and reading each from its cookies.

use super::mapping::{name_map, tcf_map, SourceConfigError, SourceTable};
use super::{cc_cookie, cookiebot, cookieyes, klaro, native, onetrust, tcf};
use super::{NameMap, Reading, SourceKind, TcfMap};
use crate::policy::categories::Categories;
use crate::policy::cookie_header;

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

impl SourceSpec {
    /// Builds the source named in `consent.sources`, applying the operator's table (read from
    /// `[consent.<name>]`; `None` for none) over the defaults. `native_cookie` is
    /// `consent.cookie`.
    pub fn build(
        kind: SourceKind,
        table: Option<&SourceTable>,
        native_cookie: &str,
        categories: &Categories,
    ) -> Result<SourceSpec, SourceConfigError> {
        let identity = || {
            categories
                .ids()
                .map(|id| (categories.name(id), categories.name(id)))
        };
        // The operator's names for a CMP source; a table of the other shape is a loader bug,
        // reported rather than ignored.
        let names = || match table {
            None => Ok(&[][..]),
            Some(SourceTable::Names(entries)) => Ok(entries.as_slice()),
            Some(SourceTable::TcfPurposes(_)) => Err(SourceConfigError::new(
                "",
                format!("{} maps names to categories, not purposes", kind.name()),
            )),
        };
        Ok(match kind {
            SourceKind::Consentry => {
                if table.is_some() {
                    return Err(SourceConfigError::new(
                        "",
                        "the native cookie has no mapping table (set `consent.cookie` for its name)",
                    ));
                }
                SourceSpec::Consentry {
                    cookie: native_cookie.into(),
                }
            }
            SourceKind::OneTrust => SourceSpec::OneTrust {
                map: name_map(onetrust::DEFAULT_MAP.iter().copied(), names()?, categories)?,
            },
            SourceKind::Cookiebot => SourceSpec::Cookiebot {
                map: name_map(cookiebot::DEFAULT_MAP.iter().copied(), names()?, categories)?,
            },
            SourceKind::CookieYes => SourceSpec::CookieYes {
                map: name_map(cookieyes::DEFAULT_MAP.iter().copied(), names()?, categories)?,
            },
            SourceKind::CcCookie => SourceSpec::CcCookie {
                map: name_map(
                    identity().chain(cc_cookie::DEFAULT_EXTRA_MAP.iter().copied()),
                    names()?,
                    categories,
                )?,
            },
            SourceKind::Klaro => SourceSpec::Klaro {
                map: name_map(identity(), names()?, categories)?,
            },
            SourceKind::Tcf => SourceSpec::Tcf {
                map: match table {
                    None => tcf_map(None, categories)?,
                    Some(SourceTable::TcfPurposes(purposes)) => {
                        tcf_map(Some(purposes), categories)?
                    }
                    Some(SourceTable::Names(_)) => {
                        return Err(SourceConfigError::new(
                            "",
                            "tcf maps categories to purposes, not names",
                        ))
                    }
                },
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
    pub(super) fn names(&self) -> [Option<&str>; 2] {
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
    pub(crate) fn cookie_names(&self) -> Vec<&str> {
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
    pub(super) fn read_values(
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
