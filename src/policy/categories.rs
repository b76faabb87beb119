//! Cookie categories as the compiled policy sees them: small integer ids and bit sets.
//!
//! Category names are the operator's; once a configuration is loaded every category is an index
//! into [`Categories`], so a visitor's consent is a pair of `u64` masks and never allocates.

use std::fmt;

/// The most categories one configuration may declare (one bit each in a [`CategorySet`]).
pub(crate) const MAX_CATEGORIES: usize = 64;

/// Index of a category in [`Categories`] (declaration order).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CategoryId(pub u8);

impl CategoryId {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// A set of categories as a bit mask.
#[derive(Copy, Clone, Default, PartialEq, Eq, Hash)]
pub struct CategorySet(u64);

impl CategorySet {
    pub(crate) const EMPTY: CategorySet = CategorySet(0);

    /// The set of the first `n` categories.
    pub fn first(n: usize) -> CategorySet {
        debug_assert!(n <= MAX_CATEGORIES);
        if n >= 64 {
            CategorySet(u64::MAX)
        } else {
            CategorySet((1u64 << n) - 1)
        }
    }

    pub fn single(id: CategoryId) -> CategorySet {
        CategorySet(1u64 << id.0)
    }

    pub fn contains(self, id: CategoryId) -> bool {
        self.0 & (1u64 << id.0) != 0
    }

    pub fn insert(&mut self, id: CategoryId) {
        self.0 |= 1u64 << id.0;
    }

    pub fn remove(&mut self, id: CategoryId) {
        self.0 &= !(1u64 << id.0);
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn union(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 | other.0)
    }

    pub fn intersection(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 & other.0)
    }

    pub fn difference(self, other: CategorySet) -> CategorySet {
        CategorySet(self.0 & !other.0)
    }

    pub fn is_subset(self, other: CategorySet) -> bool {
        self.0 & !other.0 == 0
    }

    /// Ids in ascending order.
    pub fn iter(self) -> impl Iterator<Item = CategoryId> {
        let mut bits = self.0;
        std::iter::from_fn(move || {
            if bits == 0 {
                return None;
            }
            let i = bits.trailing_zeros();
            bits &= bits - 1;
            Some(CategoryId(i as u8))
        })
    }
}

impl FromIterator<CategoryId> for CategorySet {
    fn from_iter<T: IntoIterator<Item = CategoryId>>(iter: T) -> Self {
        let mut set = CategorySet::EMPTY;
        for id in iter {
            set.insert(id);
        }
        set
    }
}

impl fmt::Debug for CategorySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter().map(|c| c.0)).finish()
    }
}

/// The configured categories: names in declaration order and which are required.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Categories {
    names: Vec<Box<str>>,
    required: CategorySet,
}

impl Categories {
    /// Builds the table. Callers (config validation) guarantee unique names and at most
    /// [`MAX_CATEGORIES`] entries.
    pub fn new<'a>(entries: impl IntoIterator<Item = (&'a str, bool)>) -> Categories {
        let mut cats = Categories::default();
        for (name, required) in entries {
            assert!(cats.names.len() < MAX_CATEGORIES, "too many categories");
            assert!(cats.lookup(name).is_none(), "duplicate category {name}");
            let id = CategoryId(cats.names.len() as u8);
            cats.names.push(name.into());
            if required {
                cats.required.insert(id);
            }
        }
        cats
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    pub fn all(&self) -> CategorySet {
        CategorySet::first(self.names.len())
    }

    pub fn required(&self) -> CategorySet {
        self.required
    }

    pub fn name(&self, id: CategoryId) -> &str {
        &self.names[id.index()]
    }

    pub fn lookup(&self, name: &str) -> Option<CategoryId> {
        self.names
            .iter()
            .position(|n| &**n == name)
            .map(|i| CategoryId(i as u8))
    }

    pub fn ids(&self) -> impl Iterator<Item = CategoryId> {
        (0..self.names.len()).map(|i| CategoryId(i as u8))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let a = CategoryId(0);
        let b = CategoryId(5);
        let c = CategoryId(63);
        let s: CategorySet = [a, c].into_iter().collect();
        assert!(s.contains(a) && s.contains(c) && !s.contains(b));
        assert_eq!(s.len(), 2);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![a, c]);
        let t = CategorySet::single(b).union(CategorySet::single(a));
        assert_eq!(s.intersection(t), CategorySet::single(a));
        assert_eq!(s.difference(t), CategorySet::single(c));
        assert!(CategorySet::single(a).is_subset(s));
        assert!(!t.is_subset(s));
        assert_eq!(CategorySet::first(64).len(), 64);
        assert_eq!(CategorySet::first(3).len(), 3);
        assert!(CategorySet::first(0).is_empty());
    }

    #[test]
    fn table_lookup_and_required() {
        let cats = Categories::new([("essential", true), ("analytics", false)]);
        assert_eq!(cats.lookup("analytics"), Some(CategoryId(1)));
        assert_eq!(cats.lookup("Analytics"), None);
        assert_eq!(cats.name(CategoryId(0)), "essential");
        assert_eq!(cats.required(), CategorySet::single(CategoryId(0)));
        assert_eq!(cats.all().len(), 2);
    }
}
