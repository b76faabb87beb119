//! The operator's mapping tables (`[consent.<source>]`), typed, compiled over each source's
//! defaults against the configured categories.
//!
//! The configuration loader reads the tables from the file into [`SourceTable`]s (checking the
//! value types); here they meet the categories: every category they name must exist, purpose ids
//! must be in range, and the defaults are merged in.

use super::tcf::{self, TcfMap};
use super::NameMap;
use crate::policy::categories::{Categories, CategoryId};

/// Per category name, the TCF purpose ids it needs, in the order given.
pub type PurposeLists = Vec<(String, Vec<i64>)>;

/// What the operator wrote for one source. A source without a table uses its defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceTable {
    /// A CMP's names (keys) for our categories (values), in the order given. They replace the
    /// defaults of the same name and add to the others.
    Names(Vec<(String, String)>),
    /// `[consent.tcf]` `purposes`: per category name, the purposes it needs, in the order given.
    /// The list replaces the default one as a whole.
    TcfPurposes(PurposeLists),
}

/// A mapping table key that the operator got wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceConfigError {
    /// The key inside the source's table (`C0002`, `purposes.analytics`, ...), empty for the table.
    pub key: String,
    pub reason: String,
}

impl SourceConfigError {
    pub fn new(key: impl Into<String>, reason: impl Into<String>) -> SourceConfigError {
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
/// name wins), then the operator's entries, which replace or add to them. Every entry must name
/// a configured category.
pub(super) fn name_map<'a>(
    defaults: impl IntoIterator<Item = (&'a str, &'a str)>,
    table: &[(String, String)],
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
    for (key, category) in table {
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

/// Compiles the TCF purposes map: the defaults whose category is configured, or the operator's
/// list, which replaces them as a whole.
pub(super) fn tcf_map(
    purposes: Option<&[(String, Vec<i64>)]>,
    categories: &Categories,
) -> Result<TcfMap, SourceConfigError> {
    let Some(purposes) = purposes else {
        let entries = tcf::DEFAULT_PURPOSES
            .iter()
            .filter_map(|&(name, list)| categories.lookup(name).map(|id| (id, TcfMap::mask(list))))
            .collect();
        return Ok(TcfMap { entries });
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
        if list.is_empty() {
            return Err(SourceConfigError::new(
                key,
                "list at least one purpose (an empty list would grant the category on any TC string)",
            ));
        }
        let mut mask = 0u32;
        for &p in list {
            match u32::try_from(p) {
                Ok(p @ 1..=tcf::MAX_PURPOSE) => mask |= TcfMap::mask(&[p]),
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
