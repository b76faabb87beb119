//! What one consent source's cookie says, and the helpers every source parser shares.

use crate::policy::categories::{CategoryId, CategorySet};

/// The result of reading one source's consent cookie that is present on the request.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reading {
    /// The cookie exists but records no decision yet: the next source is tried.
    NoDecision,
    /// The cookie could not be read. It is treated as absent (and counted), never as consent.
    Malformed,
    /// A decision. `granted` categories are granted, `undecided` ones stay undecided and every
    /// other category is denied.
    Decided {
        granted: CategorySet,
        undecided: CategorySet,
    },
}

impl Reading {
    /// A decision with nothing left undecided.
    pub fn decided(granted: CategorySet) -> Reading {
        Reading::Decided {
            granted,
            undecided: CategorySet::EMPTY,
        }
    }
}

/// Maps a consent platform's group, category or service names to ours.
///
/// Several CMP names may map to one category. Lookups scan a short vector: tables have a handful
/// of entries and this sits on the request path, where a scan beats hashing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NameMap {
    entries: Vec<(Box<str>, CategoryId)>,
}

impl NameMap {
    pub fn new(entries: impl IntoIterator<Item = (Box<str>, CategoryId)>) -> NameMap {
        NameMap {
            entries: entries.into_iter().collect(),
        }
    }

    /// The category the CMP name maps to; unmapped names are ignored by callers.
    pub fn get(&self, cmp_name: &str) -> Option<CategoryId> {
        self.entries
            .iter()
            .find(|(n, _)| &**n == cmp_name)
            .map(|&(_, c)| c)
    }

    /// Like [`NameMap::get`], for a name in raw bytes (bytes that are not UTF-8 match nothing).
    pub(crate) fn get_bytes(&self, cmp_name: &[u8]) -> Option<CategoryId> {
        self.entries
            .iter()
            .find(|(n, _)| n.as_bytes() == cmp_name)
            .map(|&(_, c)| c)
    }

    /// Like [`NameMap::get`], comparing names ASCII case-insensitively.
    pub fn get_ignore_case(&self, cmp_name: &str) -> Option<CategoryId> {
        self.entries
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(cmp_name))
            .map(|&(_, c)| c)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, CategoryId)> {
        self.entries.iter().map(|(n, c)| (&**n, *c))
    }

    /// Every category some CMP name maps to.
    pub fn categories(&self) -> CategorySet {
        self.entries.iter().map(|&(_, c)| c).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Accumulates the groups a decided cookie mentions. A category is granted only when every group
/// mapped to it that the cookie mentions is granted; a category the cookie does not mention is
/// denied (unless the caller marks it undecided).
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct Tally {
    granted: CategorySet,
    refused: CategorySet,
}

impl Tally {
    pub fn mention(&mut self, category: CategoryId, granted: bool) {
        if granted {
            self.granted.insert(category);
        } else {
            self.refused.insert(category);
        }
    }

    /// Categories the cookie mentioned at all.
    pub(crate) fn mentioned(&self) -> CategorySet {
        self.granted.union(self.refused)
    }

    pub fn granted(&self) -> CategorySet {
        self.granted.difference(self.refused)
    }

    /// The decision, with `undecided` categories left undecided unless the cookie mentioned them.
    pub fn finish(self, undecided: CategorySet) -> Reading {
        Reading::Decided {
            granted: self.granted(),
            undecided: undecided.difference(self.mentioned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_grants_only_when_every_mentioned_group_is_granted() {
        let a = CategoryId(1);
        let b = CategoryId(2);
        let mut t = Tally::default();
        t.mention(a, true);
        t.mention(a, false);
        t.mention(b, true);
        assert_eq!(
            t.finish(CategorySet::EMPTY),
            Reading::decided(CategorySet::single(b))
        );
    }

    #[test]
    fn tally_keeps_unmentioned_undecided_only() {
        let a = CategoryId(1);
        let b = CategoryId(2);
        let mut t = Tally::default();
        t.mention(a, false);
        let undecided: CategorySet = [a, b].into_iter().collect();
        assert_eq!(
            t.finish(undecided),
            Reading::Decided {
                granted: CategorySet::EMPTY,
                undecided: CategorySet::single(b)
            }
        );
    }

    #[test]
    fn name_map_lookup() {
        let m = NameMap::new([
            ("C0002".into(), CategoryId(1)),
            ("C0004".into(), CategoryId(2)),
        ]);
        assert_eq!(m.get("C0002"), Some(CategoryId(1)));
        assert_eq!(m.get("c0002"), None);
        assert_eq!(m.get_ignore_case("c0002"), Some(CategoryId(1)));
        assert_eq!(m.get("C0009"), None);
        assert_eq!(m.get_bytes(b"C0004"), Some(CategoryId(2)));
        assert_eq!(m.get_bytes(b"C0004\xff"), None);
        assert_eq!(m.categories().len(), 2);
    }
}
