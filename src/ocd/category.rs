//! The mapping from the Open Cookie Database's categories to consentry's default ones.

/// consentry's default categories, ordered from least to most restrictive: when the OCD puts
/// one name in several categories, the greatest wins.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Essential,
    Functional,
    Analytics,
    Advertising,
}

impl Category {
    pub const ALL: [Category; 4] = [
        Category::Essential,
        Category::Functional,
        Category::Analytics,
        Category::Advertising,
    ];

    /// The category's name in the configuration (`[categories.<name>]`).
    pub fn name(self) -> &'static str {
        match self {
            Category::Essential => "essential",
            Category::Functional => "functional",
            Category::Analytics => "analytics",
            Category::Advertising => "advertising",
        }
    }

    /// consentry's category for an OCD category, or `None` for one it does not know.
    pub(crate) fn from_ocd(ocd: &str) -> Option<Category> {
        let ocd = ocd.trim();
        let is = |s: &str| ocd.eq_ignore_ascii_case(s);
        if is("Functional") || is("Personalization") || is("Personalisation") {
            Some(Category::Functional)
        } else if is("Analytics") {
            Some(Category::Analytics)
        } else if is("Marketing") {
            Some(Category::Advertising)
        } else if is("Security") || is("Necessary") {
            Some(Category::Essential)
        } else {
            None
        }
    }
}
