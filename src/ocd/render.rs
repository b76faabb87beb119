//! Writing the `[categories.*]` TOML document.
//!
//! The document is built as a `toml_edit` structure (tables, arrays and string values, which
//! the crate quotes), so no text here needs escaping. What `toml` itself cannot write are the
//! comments: the header, and the platforms that set each cookie after its array entry. Those
//! go into the structure's decorations; they pass through [`one_line`] first, so a comment can
//! never end its line and inject TOML.

use toml_edit::{Array, DocumentMut, Item, Table, Value};

use super::{one_line, Category, ImportOptions, OcdCounts};

/// Where the project lives; named in the generated file's header.
const OCD_URL: &str = "https://github.com/jkwakman/Open-Cookie-Database";

/// The patterns written per category (indexed like [`Category::ALL`]), each with the platforms
/// that set it, sorted.
pub(super) type Lists = [Vec<(String, String)>; 4];

/// What a user should read at the top of the file.
fn header(counts: &OcdCounts, warnings: usize, options: &ImportOptions<'_>) -> String {
    let mut lines = vec![
        "# Cookie categories imported from the Open Cookie Database".to_string(),
        format!("# ({OCD_URL}, Apache License 2.0)."),
    ];
    if let Some(source) = options.source {
        lines.push(format!("# Source: {}", one_line(source)));
    }
    if let Some(version) = options.version {
        lines.push(format!("# OCD version: {}", one_line(version)));
    }
    lines.push(format!(
        "# Written by `consentry import-ocd`: {} rows, {} patterns, {} rows skipped, {} warnings.",
        counts.rows,
        counts.total_patterns(),
        counts.skipped(),
        warnings
    ));
    lines.extend(
        [
            "#",
            "# Use it from the main configuration file, next to your own categories:",
            "#   include = [\"ocd.toml\"]",
            "# Patterns ending in '*' are prefix globs. A name the OCD puts in several categories is",
            "# kept in the most restrictive one. Review before enforcing: the database describes",
            "# common platforms, not your site.",
        ]
        .map(String::from),
    );
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// One pattern per line, each followed by a comment naming its platforms (when known).
fn cookies(list: &[(String, String)]) -> Array {
    let comment = |platforms: &str| {
        if platforms.is_empty() {
            String::new()
        } else {
            format!(" # {}", one_line(platforms))
        }
    };
    let mut array = Array::new();
    let mut previous = None;
    for (pattern, platforms) in list {
        let mut value = Value::from(pattern.as_str());
        // An entry's prefix comes after the comma that ends the entry before it, so the comment
        // of that entry goes there.
        let before = previous.map(comment).unwrap_or_default();
        value.decor_mut().set_prefix(format!("{before}\n    "));
        value.decor_mut().set_suffix("");
        array.push_formatted(value);
        previous = Some(platforms.as_str());
    }
    if let Some(last) = previous {
        array.set_trailing_comma(true);
        array.set_trailing(format!("{}\n", comment(last)));
    }
    array
}

/// The TOML document for the patterns of each category.
pub(super) fn toml(
    lists: &Lists,
    counts: &OcdCounts,
    warnings: usize,
    options: &ImportOptions<'_>,
) -> String {
    let mut categories = Table::new();
    categories.set_implicit(true);
    for (k, category) in Category::ALL.into_iter().enumerate() {
        let mut table = Table::new();
        if category == Category::Essential {
            table.insert("required", toml_edit::value(true));
        }
        table.insert("cookies", Item::Value(Value::Array(cookies(&lists[k]))));
        let prefix = if k == 0 {
            format!("{}\n", header(counts, warnings, options))
        } else {
            "\n".to_string()
        };
        table.decor_mut().set_prefix(prefix);
        table.set_position(Some(k as isize));
        categories.insert(category.name(), Item::Table(table));
    }
    let mut doc = DocumentMut::new();
    doc.insert("categories", Item::Table(categories));
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parsed document's `categories.<name>.cookies`.
    fn cookies_of(text: &str, name: &str) -> Vec<String> {
        let doc: toml::Table = toml::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        doc["categories"][name]["cookies"]
            .as_array()
            .expect("a cookies array")
            .iter()
            .map(|v| v.as_str().expect("a string").to_string())
            .collect()
    }

    #[test]
    fn strings_round_trip_whatever_they_hold() {
        let tricky = "q\"b\\t\tn\nr\rf\u{c}b\u{8}nul\u{0}del\u{7f}esc\u{1b}\u{e9}\u{1F36A}";
        for s in [tricky, "a\"b", "\u{1}", "back\\slash", "it's", "'\"\"\"'"] {
            let mut lists = Lists::default();
            lists[2].push((s.to_string(), format!("P {s}")));
            let text = toml(&lists, &OcdCounts::default(), 0, &ImportOptions::default());
            assert_eq!(cookies_of(&text, "analytics"), vec![s], "{text}");
        }
    }

    #[test]
    fn empty_categories_are_empty_arrays() {
        let text = toml(
            &Lists::default(),
            &OcdCounts::default(),
            0,
            &ImportOptions::default(),
        );
        for category in Category::ALL {
            assert!(cookies_of(&text, category.name()).is_empty());
        }
        assert!(
            text.contains("[categories.advertising]\ncookies = []\n"),
            "{text}"
        );
        assert!(text.contains("[categories.essential]\nrequired = true\ncookies = []\n\n"));
    }
}
