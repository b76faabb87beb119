//! `consentry import-ocd`: turn an Open Cookie Database CSV into `[categories.*]` TOML.
//!
//! The Open Cookie Database (<https://github.com/jkwakman/Open-Cookie-Database>) lists cookie
//! names with the platform that sets them and a category. This module reads its CSV export
//! (RFC 4180: quoted fields, doubled quotes, embedded commas and newlines, CRLF), maps its
//! categories to consentry's default ones and writes a TOML file meant for `include = [...]`.
//!
//! Rows that cannot become a sound rule are skipped with a warning naming the row and column:
//! unknown categories, names a browser would never send back as such (whitespace, control
//! characters, separators, quotes, non-ASCII), placeholders, local-storage keys. A pattern found
//! in several categories is kept once, in the most restrictive of them, so the output never has
//! an exact name in two categories nor two equal globs in different ones.

mod category;
mod records;
mod render;
mod rows;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use category::Category;

/// Optional facts about the CSV for the generated file's header comment.
#[derive(Clone, Debug, Default)]
pub(crate) struct ImportOptions<'a> {
    /// Where the CSV came from (a file name or URL).
    pub source: Option<&'a str>,
    /// The OCD version (for example the commit and date of the export).
    pub version: Option<&'a str>,
}

/// What an import did, row by row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OcdCounts {
    /// Data rows read (not counting the header and blank lines).
    pub rows: usize,
    /// Rows per OCD category value, as written in the CSV.
    pub ocd_categories: BTreeMap<String, usize>,
    /// Patterns written per category, indexed like [`Category::ALL`].
    pub patterns: [usize; 4],
    /// Rows skipped because their category has no counterpart.
    pub skipped_category: usize,
    /// Rows skipped because their name cannot be a cookie rule.
    pub skipped_name: usize,
    /// Rows skipped because they describe a local-storage key, not a cookie.
    pub skipped_local_storage: usize,
    /// Rows skipped because they do not fit the header (field count, `Wildcard match` value).
    pub skipped_malformed: usize,
    /// Rows whose pattern and category an earlier row already gave (merged, not warned about).
    pub duplicates: usize,
    /// Patterns that rows put in several categories (kept in the most restrictive one).
    pub conflicts: usize,
    /// Globs written with fewer than three literal characters.
    pub short_globs: usize,
}

impl OcdCounts {
    /// Patterns written in one category.
    pub fn patterns_in(&self, category: Category) -> usize {
        self.patterns[category as usize]
    }

    /// All patterns written.
    pub(crate) fn total_patterns(&self) -> usize {
        self.patterns.iter().sum()
    }

    /// All rows skipped, whatever the reason.
    pub fn skipped(&self) -> usize {
        self.skipped_category
            + self.skipped_name
            + self.skipped_local_storage
            + self.skipped_malformed
    }
}

/// The result of an import: the TOML text, and what a user should review.
#[derive(Clone, Debug)]
pub struct OcdImport {
    pub toml: String,
    pub warnings: Vec<String>,
    pub counts: OcdCounts,
}

/// Why a CSV could not be imported at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OcdError {
    #[error("the CSV is empty: there is no header line")]
    Empty,
    #[error("the CSV header has no {0:?} column; is this an Open Cookie Database export?")]
    MissingColumn(&'static str),
    #[error("line {line}: a quoted field is never closed")]
    UnterminatedQuote { line: usize },
}

/// Imports an Open Cookie Database CSV with no header facts.
pub fn import(csv_text: &str) -> Result<OcdImport, OcdError> {
    import_with(csv_text, &ImportOptions::default())
}

/// Imports an Open Cookie Database CSV; `options` go into the header comment.
pub(crate) fn import_with(
    csv_text: &str,
    options: &ImportOptions<'_>,
) -> Result<OcdImport, OcdError> {
    let records = records::read(csv_text)?;
    let mut records = records.into_iter();
    let header = records.next().ok_or(OcdError::Empty)?;
    let columns = rows::Columns::find(&header.fields)?;

    let mut importer = rows::Importer::default();
    for record in records {
        importer.row(&columns, &header.fields, &record);
    }
    Ok(importer.finish(options))
}
/// Text made safe for one line of a message or a TOML comment: control characters (newlines
/// included) become spaces, and runs of whitespace one space.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.trim().chars() {
        if c.is_whitespace() || c.is_control() {
            space = true;
        } else {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        }
    }
    out
}
