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

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Where the project lives; named in the generated file's header.
const OCD_URL: &str = "https://github.com/jkwakman/Open-Cookie-Database";

/// Globs with fewer literal characters than this match too much to be trusted blindly.
const SHORT_GLOB: usize = 3;

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
    pub fn from_ocd(ocd: &str) -> Option<Category> {
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

/// Optional facts about the CSV for the generated file's header comment.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions<'a> {
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
    pub fn total_patterns(&self) -> usize {
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
pub fn import_with(csv_text: &str, options: &ImportOptions<'_>) -> Result<OcdImport, OcdError> {
    let records = read_csv(csv_text)?;
    let mut records = records.into_iter();
    let header = records.next().ok_or(OcdError::Empty)?;
    let columns = Columns::find(&header.fields)?;

    let mut importer = Importer::default();
    for record in records {
        importer.row(&columns, &header.fields, &record);
    }
    Ok(importer.finish(options))
}

// ---------------------------------------------------------------------------------------------
// CSV (RFC 4180, lenient where RFC 4180 is silent or strict)
// ---------------------------------------------------------------------------------------------

/// One CSV record and the line it starts on (1-based).
#[derive(Debug, PartialEq, Eq)]
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// Reads every record. Records end at LF, CRLF or a lone CR; blank lines are skipped. Text after
/// a closing quote (`"ab"c`) is kept, and a quote inside an unquoted field is literal.
fn read_csv(text: &str) -> Result<Vec<Record>, OcdError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let bytes = text.as_bytes();
    let mut records = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < bytes.len() {
        let start_line = line;
        let mut fields = Vec::new();
        loop {
            let mut field = String::new();
            if bytes.get(i) == Some(&b'"') {
                let open_line = line;
                i += 1;
                loop {
                    // Every byte we split at is ASCII, so the slices are on char boundaries.
                    let Some(q) = bytes[i..].iter().position(|&b| b == b'"') else {
                        return Err(OcdError::UnterminatedQuote { line: open_line });
                    };
                    let chunk = &text[i..i + q];
                    line += count_line_breaks(chunk.as_bytes());
                    field.push_str(chunk);
                    i += q + 1;
                    if bytes.get(i) == Some(&b'"') {
                        field.push('"');
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            let end = bytes[i..]
                .iter()
                .position(|&b| matches!(b, b',' | b'\n' | b'\r'))
                .map_or(bytes.len(), |p| i + p);
            field.push_str(&text[i..end]);
            fields.push(field);
            i = end;
            match bytes.get(i) {
                Some(b',') => i += 1,
                Some(b'\r') => {
                    i += if bytes.get(i + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                    line += 1;
                    break;
                }
                Some(_) => {
                    i += 1;
                    line += 1;
                    break;
                }
                None => break,
            }
        }
        let blank = fields.len() == 1 && fields[0].is_empty();
        if !blank {
            records.push(Record {
                line: start_line,
                fields,
            });
        }
    }
    Ok(records)
}

/// Line breaks (LF, CRLF or lone CR) inside a quoted field, for line numbers in messages.
fn count_line_breaks(bytes: &[u8]) -> usize {
    let mut n = 0;
    for (k, &b) in bytes.iter().enumerate() {
        if b == b'\n' || (b == b'\r' && bytes.get(k + 1) != Some(&b'\n')) {
            n += 1;
        }
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// Indexes of the columns the import reads.
struct Columns {
    id: Option<usize>,
    platform: Option<usize>,
    category: usize,
    name: usize,
    retention: Option<usize>,
    wildcard: Option<usize>,
}

impl Columns {
    fn find(header: &[String]) -> Result<Columns, OcdError> {
        let find = |name: &str| {
            header
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        const NAME: &str = "Cookie / Data Key name";
        const CATEGORY: &str = "Category";
        Ok(Columns {
            id: find("ID"),
            platform: find("Platform"),
            category: find(CATEGORY).ok_or(OcdError::MissingColumn(CATEGORY))?,
            name: find(NAME).ok_or(OcdError::MissingColumn(NAME))?,
            retention: find("Retention period"),
            wildcard: find("Wildcard match"),
        })
    }
}

/// A cookie rule: an exact name or a prefix glob (`literal*`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    /// The pattern as the configuration writes it.
    fn render(&self) -> String {
        match self {
            Pattern::Exact(name) => name.clone(),
            Pattern::Prefix(literal) => format!("{literal}*"),
        }
    }
}

/// A row that gave a pattern: for messages and the platform comment.
#[derive(Clone, Debug)]
struct Source {
    line: usize,
    row: String,
    ocd_category: String,
    platform: String,
}

#[derive(Default)]
struct Importer {
    warnings: Vec<String>,
    counts: OcdCounts,
    /// Keyed by the rendered pattern, so `abc` and `abc*` are different keys and equal globs
    /// or equal exact names meet.
    patterns: BTreeMap<String, BTreeMap<Category, Vec<Source>>>,
}

impl Importer {
    fn row(&mut self, columns: &Columns, header: &[String], record: &Record) {
        self.counts.rows += 1;
        let fields = &record.fields;
        let cell = |i: usize| fields.get(i).map_or("", |s| s.as_str());
        let id = columns
            .id
            .map(cell)
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let row = match id {
            Some(id) => format!("row {} (line {})", one_line(id), record.line),
            None => format!("row at line {}", record.line),
        };
        let column = |i: usize| one_line(header[i].trim());

        if fields.len() != header.len() {
            self.counts.skipped_malformed += 1;
            self.warnings.push(format!(
                "{row}: has {} fields but the header has {}; skipped",
                fields.len(),
                header.len()
            ));
            return;
        }

        let ocd_category = cell(columns.category).trim();
        *self
            .counts
            .ocd_categories
            .entry(ocd_category.to_string())
            .or_default() += 1;
        let Some(category) = Category::from_ocd(ocd_category) else {
            self.counts.skipped_category += 1;
            self.warnings.push(format!(
                "{row}, column {:?}: unknown category {:?}; skipped",
                column(columns.category),
                one_line(ocd_category)
            ));
            return;
        };

        let wildcard = match columns.wildcard {
            None => false,
            Some(i) => match cell(i).trim() {
                "" | "0" => false,
                "1" => true,
                other => {
                    self.counts.skipped_malformed += 1;
                    self.warnings.push(format!(
                        "{row}, column {:?}: {:?} is neither 0 nor 1; skipped",
                        column(i),
                        one_line(other)
                    ));
                    return;
                }
            },
        };

        if let Some(i) = columns.retention {
            if cell(i).trim().eq_ignore_ascii_case("local storage") {
                self.counts.skipped_local_storage += 1;
                self.warnings.push(format!(
                    "{row}, column {:?}: a local-storage key, not a cookie; skipped",
                    column(i)
                ));
                return;
            }
        }

        let name_column = column(columns.name);
        let pattern = match name_pattern(cell(columns.name), wildcard) {
            Ok((pattern, note)) => {
                if let Some(note) = note {
                    self.warnings
                        .push(format!("{row}, column {name_column:?}: {note}"));
                }
                pattern
            }
            Err(why) => {
                self.counts.skipped_name += 1;
                self.warnings
                    .push(format!("{row}, column {name_column:?}: {why}; skipped"));
                return;
            }
        };

        let platform = columns.platform.map_or("", |i| cell(i).trim());
        let sources = self
            .patterns
            .entry(pattern.render())
            .or_default()
            .entry(category)
            .or_default();
        if !sources.is_empty() {
            self.counts.duplicates += 1;
        }
        sources.push(Source {
            line: record.line,
            row,
            ocd_category: ocd_category.to_string(),
            platform: platform.to_string(),
        });
    }

    fn finish(mut self, options: &ImportOptions<'_>) -> OcdImport {
        let mut lists: [Vec<(String, String)>; 4] = Default::default();
        for (pattern, mut by_category) in std::mem::take(&mut self.patterns) {
            let (category, sources) = by_category
                .pop_last()
                .expect("every pattern has a category");
            if !by_category.is_empty() {
                self.counts.conflicts += 1;
                let mut all: Vec<&Source> = by_category.values().flatten().collect();
                all.extend(&sources);
                all.sort_by_key(|s| s.line);
                let says: Vec<String> = all
                    .iter()
                    .map(|s| format!("{} says {}", s.row, one_line(&s.ocd_category)))
                    .collect();
                self.warnings.push(format!(
                    "{pattern:?} is in several categories: {}; kept in {}, the most restrictive",
                    says.join(", "),
                    category.name()
                ));
            }
            if let Some(literal) = pattern.strip_suffix('*') {
                if literal.len() < SHORT_GLOB {
                    self.counts.short_globs += 1;
                    self.warnings.push(format!(
                        "{}: the glob {:?} has only {} literal characters and may match \
                         unrelated cookies; review it",
                        sources[0].row,
                        pattern,
                        literal.len()
                    ));
                }
            }
            let mut platforms: Vec<&str> = Vec::new();
            for s in &sources {
                if !s.platform.is_empty() && !platforms.contains(&s.platform.as_str()) {
                    platforms.push(&s.platform);
                }
            }
            lists[category as usize].push((pattern, one_line(&platforms.join(", "))));
        }
        for (n, list) in self.counts.patterns.iter_mut().zip(&lists) {
            *n = list.len();
        }

        let toml = render_toml(&lists, &self.counts, self.warnings.len(), options);
        OcdImport {
            toml,
            warnings: self.warnings,
            counts: self.counts,
        }
    }
}

/// The pattern for an OCD name, with a note for the user when it was adjusted, or why the name
/// cannot be a rule.
fn name_pattern(raw: &str, wildcard: bool) -> Result<(Pattern, Option<String>), String> {
    // Browsers trim spaces and tabs around a cookie name, so the trimmed name is the one the
    // proxy sees.
    let name = raw.trim_matches([' ', '\t']);
    let mut note = (name != raw).then(|| {
        format!(
            "{:?} has spaces or tabs around it, which browsers trim; imported as {:?}",
            raw, name
        )
    });
    if name.is_empty() {
        return Err("the name is empty".to_string());
    }
    if let Some(c) = name.chars().find(|&c| !is_name_char(c)) {
        let what = if c.is_whitespace() {
            "whitespace"
        } else if c.is_control() {
            "a control character"
        } else if !c.is_ascii() {
            "a non-ASCII character"
        } else {
            "a separator or quote"
        };
        return Err(format!(
            "{name:?} contains {what} ({c:?}) that cannot be in a cookie name"
        ));
    }
    if is_placeholder(name) {
        return Err(format!(
            "{name:?} is a placeholder (%...%), not a cookie name"
        ));
    }
    let pattern = match (name.find('*'), wildcard) {
        (None, false) => Pattern::Exact(name.to_string()),
        (None, true) => Pattern::Prefix(name.to_string()),
        (Some(star), _) if star + 1 == name.len() => {
            if !wildcard {
                let n = format!("{name:?} ends in '*'; imported as a prefix glob");
                note = Some(match note {
                    Some(prev) => format!("{prev}; {n}"),
                    None => n,
                });
            }
            Pattern::Prefix(name[..star].to_string())
        }
        (Some(_), _) => {
            return Err(format!(
                "{name:?} has a '*' before its end, which patterns read as a wildcard"
            ));
        }
    };
    if matches!(&pattern, Pattern::Prefix(literal) if literal.is_empty()) {
        return Err(format!("{name:?} would match every cookie"));
    }
    Ok((pattern, note))
}

/// What a cookie name may contain here: printable ASCII other than whitespace, `;`, `,`, `=`
/// and quotes. (Browsers accept more, but such names in a database are typing mistakes.)
fn is_name_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, ';' | ',' | '=' | '"' | '\'')
}

/// `%INTEGER%`-style placeholders, which some rows use for a variable part.
fn is_placeholder(name: &str) -> bool {
    let parts: Vec<&str> = name.split('%').collect();
    // Odd-numbered parts lie between two '%' when another part follows them.
    (1..parts.len().saturating_sub(1)).step_by(2).any(|k| {
        let p = parts[k];
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
    })
}

// ---------------------------------------------------------------------------------------------
// TOML
// ---------------------------------------------------------------------------------------------

fn render_toml(
    lists: &[Vec<(String, String)>; 4],
    counts: &OcdCounts,
    warnings: usize,
    options: &ImportOptions<'_>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Cookie categories imported from the Open Cookie Database"
    );
    let _ = writeln!(out, "# ({OCD_URL}, Apache License 2.0).");
    if let Some(source) = options.source {
        let _ = writeln!(out, "# Source: {}", one_line(source));
    }
    if let Some(version) = options.version {
        let _ = writeln!(out, "# OCD version: {}", one_line(version));
    }
    let _ = writeln!(
        out,
        "# Written by `consentry import-ocd`: {} rows, {} patterns, {} rows skipped, {} warnings.",
        counts.rows,
        counts.total_patterns(),
        counts.skipped(),
        warnings
    );
    out.push_str(
        "#\n\
         # Use it from the main configuration file, next to your own categories:\n\
         #   include = [\"ocd.toml\"]\n\
         # Patterns ending in '*' are prefix globs. A name the OCD puts in several categories is\n\
         # kept in the most restrictive one. Review before enforcing: the database describes\n\
         # common platforms, not your site.\n",
    );
    for category in Category::ALL {
        let _ = write!(out, "\n[categories.{}]\n", category.name());
        if category == Category::Essential {
            out.push_str("required = true\n");
        }
        let list = &lists[category as usize];
        if list.is_empty() {
            out.push_str("cookies = []\n");
            continue;
        }
        out.push_str("cookies = [\n");
        for (pattern, platforms) in list {
            let _ = write!(out, "    {},", toml_string(pattern));
            if !platforms.is_empty() {
                let _ = write!(out, " # {platforms}");
            }
            out.push('\n');
        }
        out.push_str("]\n");
    }
    out
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\u{c}' => out.push_str("\\f"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const HEADER: &str = "ID,Platform,Category,Cookie / Data Key name,Domain,Description,\
                          Retention period,Data Controller,User Privacy & GDPR Rights Portals,\
                          Wildcard match";

    /// One CSV row with the OCD's columns (no quoting applied: pass quoted text yourself).
    fn row(id: &str, platform: &str, category: &str, name: &str, wildcard: &str) -> String {
        format!("{id},{platform},{category},{name},,desc,1 year,Ctrl,https://x.example/,{wildcard}")
    }

    fn csv(rows: &[String]) -> String {
        let mut s = String::from(HEADER);
        for r in rows {
            s.push('\n');
            s.push_str(r);
        }
        s.push('\n');
        s
    }

    /// The parsed TOML's `categories.<name>.cookies`.
    fn cookies(toml_text: &str, category: &str) -> Vec<String> {
        let doc: toml::Table = toml::from_str(toml_text)
            .unwrap_or_else(|e| panic!("the output is not TOML: {e}\n{toml_text}"));
        doc["categories"][category]["cookies"]
            .as_array()
            .expect("a cookies array")
            .iter()
            .map(|v| v.as_str().expect("a string").to_string())
            .collect()
    }

    fn all_cookies(toml_text: &str) -> BTreeMap<&'static str, Vec<String>> {
        Category::ALL
            .iter()
            .map(|c| (c.name(), cookies(toml_text, c.name())))
            .collect()
    }

    // -- CSV --------------------------------------------------------------------------------

    fn fields(text: &str) -> Vec<Vec<String>> {
        read_csv(text)
            .unwrap()
            .into_iter()
            .map(|r| r.fields)
            .collect()
    }

    #[test]
    fn csv_plain_and_quoted_fields() {
        assert_eq!(
            fields("a,b,c\n1,\"two, and more\",\"say \"\"hi\"\"\"\n"),
            vec![
                vec!["a", "b", "c"],
                vec!["1", "two, and more", "say \"hi\""]
            ]
        );
        assert_eq!(fields("a,,\n"), vec![vec!["a", "", ""]]);
        assert_eq!(fields("\"\",x"), vec![vec!["", "x"]]);
        assert_eq!(fields("\"\"\"\""), vec![vec!["\""]]);
    }

    #[test]
    fn csv_line_endings_and_embedded_newlines() {
        let text = "h1,h2\r\n\"multi\r\nline\",x\r\n\r\n\"a\nb\nc\",y\rlast,z";
        let records = read_csv(text).unwrap();
        let got: Vec<_> = records.iter().map(|r| (r.line, r.fields.clone())).collect();
        assert_eq!(
            got,
            vec![
                (1, vec!["h1".to_string(), "h2".to_string()]),
                (2, vec!["multi\r\nline".to_string(), "x".to_string()]),
                (5, vec!["a\nb\nc".to_string(), "y".to_string()]),
                (8, vec!["last".to_string(), "z".to_string()]),
            ]
        );
    }

    #[test]
    fn csv_lenient_quotes_and_bom() {
        assert_eq!(fields("\u{feff}a,b"), vec![vec!["a", "b"]]);
        assert_eq!(fields("ab\"c,\"d\"e"), vec![vec!["ab\"c", "de"]]);
        assert_eq!(
            fields("caf\u{e9},\"\u{fc}\""),
            vec![vec!["caf\u{e9}", "\u{fc}"]]
        );
        assert_eq!(fields(""), Vec::<Vec<String>>::new());
        assert_eq!(fields("\n\n"), Vec::<Vec<String>>::new());
    }

    #[test]
    fn csv_unterminated_quote_is_an_error() {
        assert_eq!(
            read_csv("a,b\nc,\"open\n\nnever closed"),
            Err(OcdError::UnterminatedQuote { line: 2 })
        );
        assert_eq!(
            import(&format!("{HEADER}\nx,y,Analytics,\"_ga,,,0\n")).unwrap_err(),
            OcdError::UnterminatedQuote { line: 2 }
        );
    }

    // -- header -----------------------------------------------------------------------------

    #[test]
    fn header_errors() {
        assert_eq!(import("").unwrap_err(), OcdError::Empty);
        assert_eq!(import("\n\n").unwrap_err(), OcdError::Empty);
        assert_eq!(
            import("ID,Platform,Cookie / Data Key name\n").unwrap_err(),
            OcdError::MissingColumn("Category")
        );
        assert_eq!(
            import("ID,Category\n").unwrap_err(),
            OcdError::MissingColumn("Cookie / Data Key name")
        );
        let msg = OcdError::MissingColumn("Category").to_string();
        assert!(msg.contains("\"Category\""), "{msg}");
    }

    #[test]
    fn minimal_header_in_any_order_and_case() {
        let out =
            import("cookie / data key name, CATEGORY \n_ga,Analytics\nabc_,marketing\n").unwrap();
        assert_eq!(cookies(&out.toml, "analytics"), vec!["_ga"]);
        assert_eq!(cookies(&out.toml, "advertising"), vec!["abc_"]);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert_eq!(out.counts.rows, 2);
    }

    // -- mapping ----------------------------------------------------------------------------

    #[test]
    fn category_mapping() {
        let text = csv(&[
            row("1", "P", "Functional", "f1", "0"),
            row("2", "P", "Personalization", "f2", "0"),
            row("3", "P", "Analytics", "a1", "0"),
            row("4", "P", "Marketing", "m1", "0"),
            row("5", "P", "Security", "s1", "0"),
            row("6", "P", "Necessary", "n1", "0"),
            row("7", "P", "Social Media", "x1", "0"),
            row("8", "P", "", "x2", "0"),
        ]);
        let out = import(&text).unwrap();
        let all = all_cookies(&out.toml);
        assert_eq!(all["essential"], vec!["n1", "s1"]);
        assert_eq!(all["functional"], vec!["f1", "f2"]);
        assert_eq!(all["analytics"], vec!["a1"]);
        assert_eq!(all["advertising"], vec!["m1"]);
        assert_eq!(out.counts.skipped_category, 2);
        assert_eq!(out.counts.patterns, [2, 2, 1, 1]);
        assert_eq!(out.counts.ocd_categories["Social Media"], 1);
        assert_eq!(out.counts.ocd_categories["Marketing"], 1);
        assert_eq!(out.warnings.len(), 2);
        assert!(
            out.warnings[0].contains("row 7 (line 8)"),
            "{:?}",
            out.warnings
        );
        assert!(
            out.warnings[0].contains("\"Category\""),
            "{:?}",
            out.warnings
        );
        assert!(
            out.warnings[0].contains("Social Media"),
            "{:?}",
            out.warnings
        );
        assert!(out.warnings[1].contains("row 8"), "{:?}", out.warnings);
    }

    #[test]
    fn essential_is_required() {
        let out = import(&csv(&[row("1", "P", "Security", "csrf", "0")])).unwrap();
        let doc: toml::Table = toml::from_str(&out.toml).unwrap();
        let cats = doc["categories"].as_table().unwrap();
        assert_eq!(cats["essential"]["required"].as_bool(), Some(true));
        for c in ["functional", "analytics", "advertising"] {
            assert!(cats[c].get("required").is_none(), "{c}");
            assert_eq!(cats[c]["cookies"].as_array().unwrap().len(), 0);
        }
        assert_eq!(
            cats.keys().collect::<Vec<_>>(),
            vec!["advertising", "analytics", "essential", "functional"]
        );
        assert_eq!(doc.len(), 1, "only [categories.*] tables");
    }

    // -- names and globs --------------------------------------------------------------------

    #[test]
    fn wildcards_become_prefix_globs() {
        let text = csv(&[
            row("1", "Google Analytics", "Analytics", "_ga_", "1"),
            row("2", "Google Analytics", "Analytics", "_ga", "0"),
            row("3", "Adkernel", "Marketing", "SSPR_*", "0"),
            row("4", "Adkernel", "Marketing", "DSP2F_*", "1"),
            row("5", "Case", "Functional", "Abc", "0"),
            row("6", "Case", "Functional", "abc", "0"),
        ]);
        let out = import(&text).unwrap();
        let all = all_cookies(&out.toml);
        assert_eq!(all["analytics"], vec!["_ga", "_ga_*"]);
        assert_eq!(all["advertising"], vec!["DSP2F_*", "SSPR_*"]);
        assert_eq!(
            all["functional"],
            vec!["Abc", "abc"],
            "names are case-sensitive"
        );
        // Only the row whose name itself ends in '*' without the wildcard flag is noted.
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(out.warnings[0].contains("row 3"), "{:?}", out.warnings);
        assert!(
            out.warnings[0].contains("prefix glob"),
            "{:?}",
            out.warnings
        );
        assert_eq!(out.counts.skipped(), 0);
    }

    #[test]
    fn bad_stars_are_skipped() {
        let text = csv(&[
            row("1", "P", "Marketing", "a*b", "0"),
            row("2", "P", "Marketing", "*", "0"),
            row("3", "P", "Marketing", "*", "1"),
            row("4", "P", "Marketing", "ab*c", "1"),
        ]);
        let out = import(&text).unwrap();
        assert!(cookies(&out.toml, "advertising").is_empty());
        assert_eq!(out.counts.skipped_name, 4);
        assert_eq!(out.warnings.len(), 4, "{:?}", out.warnings);
    }

    #[test]
    fn short_globs_are_kept_with_a_warning() {
        let text = csv(&[
            row("1", "P", "Analytics", "_s", "1"),
            row("2", "P", "Analytics", "abc", "1"),
            row("3", "P", "Analytics", "ab", "0"),
        ]);
        let out = import(&text).unwrap();
        assert_eq!(cookies(&out.toml, "analytics"), vec!["_s*", "ab", "abc*"]);
        assert_eq!(out.counts.short_globs, 1);
        assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
        assert!(out.warnings[0].contains("row 1"), "{:?}", out.warnings);
        assert!(out.warnings[0].contains("\"_s*\""), "{:?}", out.warnings);
    }

    #[test]
    fn odd_names_are_skipped_naming_row_and_column() {
        let odd = [
            "",
            "two words",
            "a;b",
            "a,b",
            "a=b",
            "\"quoted\"",
            "it's",
            "tab\tinside",
            "soft\u{ad}hyphen",
            "caf\u{e9}",
            "ctrl\u{1}",
            "del\u{7f}",
            "line\nbreak",
            "pagead/conv/%INTEGER%",
        ];
        let rows: Vec<String> = odd
            .iter()
            .enumerate()
            .map(|(k, name)| {
                let quoted = format!("\"{}\"", name.replace('"', "\"\""));
                row(&format!("id-{k}"), "P", "Analytics", &quoted, "0")
            })
            .collect();
        let out = import(&csv(&rows)).unwrap();
        assert!(cookies(&out.toml, "analytics").is_empty(), "{}", out.toml);
        assert_eq!(out.counts.skipped_name, odd.len());
        assert_eq!(out.warnings.len(), odd.len(), "{:?}", out.warnings);
        for (k, w) in out.warnings.iter().enumerate() {
            assert!(w.contains(&format!("row id-{k} ")), "{w}");
            assert!(w.contains("column \"Cookie / Data Key name\""), "{w}");
            assert!(w.ends_with("skipped"), "{w}");
            assert!(!w.contains('\n'), "warnings are one line: {w:?}");
        }
    }

    #[test]
    fn surrounding_whitespace_is_trimmed_with_a_warning() {
        let out = import(&csv(&[row("1", "P", "Functional", "\"ce_need\t\"", "0")])).unwrap();
        assert_eq!(cookies(&out.toml, "functional"), vec!["ce_need"]);
        assert_eq!(out.warnings.len(), 1);
        assert!(out.warnings[0].contains("trim"), "{:?}", out.warnings);
    }

    #[test]
    fn unusual_but_valid_names_are_kept() {
        let names = [
            "barometric[cuid]",
            "a0_users:sess.sig",
            "crisp-client/",
            "__Host-x",
            "back\\slash",
            "a%2Fb",
            "{json}",
        ];
        let rows: Vec<String> = names
            .iter()
            .enumerate()
            .map(|(k, n)| row(&k.to_string(), "P", "Functional", n, "0"))
            .collect();
        let out = import(&csv(&rows)).unwrap();
        let mut want: Vec<String> = names.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(cookies(&out.toml, "functional"), want);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert!(out.toml.contains(r#""back\\slash","#), "{}", out.toml);
    }

    // -- duplicates and conflicts -----------------------------------------------------------

    #[test]
    fn duplicates_merge_silently() {
        let text = csv(&[
            row("1", "Google", "Marketing", "DSID", "0"),
            row("2", "DoubleClick", "Marketing", "DSID", "0"),
            row("3", "Google", "Marketing", "DSID", "0"),
            row("4", "Sec", "Security", "tok", "0"),
            row("5", "Nec", "Necessary", "tok", "0"),
        ]);
        let out = import(&text).unwrap();
        assert_eq!(cookies(&out.toml, "advertising"), vec!["DSID"]);
        assert_eq!(cookies(&out.toml, "essential"), vec!["tok"]);
        assert_eq!(out.counts.duplicates, 3);
        assert_eq!(out.counts.conflicts, 0);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
        assert!(
            out.toml.contains("\"DSID\", # Google, DoubleClick\n"),
            "{}",
            out.toml
        );
        assert!(out.toml.contains("\"tok\", # Sec, Nec\n"), "{}", out.toml);
    }

    #[test]
    fn conflicts_keep_the_most_restrictive_category() {
        let text = csv(&[
            row("1", "Adform", "Marketing", "token", "0"),
            row("2", "Xandr", "Functional", "token", "0"),
            row("3", "A", "Security", "xy_", "1"),
            row("4", "B", "Analytics", "xy_", "1"),
            row("5", "C", "Functional", "xy_", "1"),
            row("6", "D", "Functional", "chk", "0"),
            row("7", "E", "Security", "chk", "0"),
        ]);
        let out = import(&text).unwrap();
        let all = all_cookies(&out.toml);
        assert_eq!(all["advertising"], vec!["token"]);
        assert_eq!(all["analytics"], vec!["xy_*"]);
        assert_eq!(all["functional"], vec!["chk"]);
        assert!(all["essential"].is_empty());
        assert_eq!(out.counts.conflicts, 3);
        assert_eq!(out.warnings.len(), 3, "{:?}", out.warnings);
        let w = out
            .warnings
            .iter()
            .find(|w| w.contains("\"token\""))
            .unwrap();
        assert!(w.contains("row 1") && w.contains("row 2"), "{w}");
        assert!(w.contains("kept in advertising"), "{w}");
        // The comment names the platform of the kept category only.
        assert!(out.toml.contains("\"token\", # Adform\n"), "{}", out.toml);
    }

    #[test]
    fn exact_names_and_globs_may_differ_in_category() {
        let text = csv(&[
            row("1", "A", "Analytics", "abc", "1"),
            row("2", "B", "Functional", "abcdef", "0"),
            row("3", "C", "Marketing", "abc", "0"),
            row("4", "D", "Marketing", "abcd", "1"),
        ]);
        let out = import(&text).unwrap();
        let all = all_cookies(&out.toml);
        assert_eq!(all["analytics"], vec!["abc*"]);
        assert_eq!(all["functional"], vec!["abcdef"]);
        assert_eq!(all["advertising"], vec!["abc", "abcd*"]);
        assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    }

    // -- other skips ------------------------------------------------------------------------

    #[test]
    fn local_storage_keys_are_skipped() {
        let text = format!(
            "{HEADER}\n1,Q,Necessary,__cmp_key,,d,Local Storage,C,u,0\n2,Q,Necessary,real,,d,session,C,u,0\n"
        );
        let out = import(&text).unwrap();
        assert_eq!(cookies(&out.toml, "essential"), vec!["real"]);
        assert_eq!(out.counts.skipped_local_storage, 1);
        assert!(out.warnings[0].contains("row 1"), "{:?}", out.warnings);
        assert!(
            out.warnings[0].contains("\"Retention period\""),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn malformed_rows_are_skipped() {
        let text = format!(
            "{HEADER}\n1,P,Analytics,short\n{}\n{}\n",
            row("2", "P", "Analytics", "w", "yes"),
            row("3", "P", "Analytics", "ok", "")
        );
        let out = import(&text).unwrap();
        assert_eq!(cookies(&out.toml, "analytics"), vec!["ok"]);
        assert_eq!(out.counts.skipped_malformed, 2);
        assert!(
            out.warnings[0].contains("row 1 (line 2)"),
            "{:?}",
            out.warnings
        );
        assert!(out.warnings[0].contains("4 fields"), "{:?}", out.warnings);
        assert!(
            out.warnings[1].contains("\"Wildcard match\""),
            "{:?}",
            out.warnings
        );
    }

    #[test]
    fn rows_without_id_are_named_by_line() {
        let out = import(&csv(&[row("", "P", "Other", "x", "0")])).unwrap();
        assert!(
            out.warnings[0].starts_with("row at line 2,"),
            "{:?}",
            out.warnings
        );
    }

    // -- TOML -------------------------------------------------------------------------------

    #[test]
    fn toml_string_escapes() {
        let tricky = "q\"b\\t\tn\nr\rf\u{c}b\u{8}nul\u{0}del\u{7f}esc\u{1b}\u{e9}\u{1F36A}";
        let doc: toml::Table = toml::from_str(&format!("k = {}", toml_string(tricky))).unwrap();
        assert_eq!(doc["k"].as_str(), Some(tricky));
        assert_eq!(toml_string("a\"b"), r#""a\"b""#);
        assert_eq!(toml_string("\u{1}"), r#""\u0001""#);
    }

    #[test]
    fn header_and_comments_cannot_break_the_document() {
        let text = csv(&[
            row(
                "1",
                "\"Evil\nPlatform\r\n[categories.x]\"",
                "Analytics",
                "a_b",
                "0",
            ),
            row("2", "\"Tab\tbed   spaces\"", "Analytics", "c_d", "0"),
            row("3", "", "Analytics", "e_f", "0"),
        ]);
        let options = ImportOptions {
            source: Some("ocd.csv\n[bad]"),
            version: Some("v1\r\nkey = 1"),
        };
        let out = import_with(&text, &options).unwrap();
        let doc: toml::Table = toml::from_str(&out.toml).unwrap();
        assert_eq!(doc.len(), 1, "{}", out.toml);
        assert_eq!(doc["categories"].as_table().unwrap().len(), 4);
        assert_eq!(cookies(&out.toml, "analytics"), vec!["a_b", "c_d", "e_f"]);
        assert!(
            out.toml.contains("# Source: ocd.csv [bad]\n"),
            "{}",
            out.toml
        );
        assert!(
            out.toml.contains("# OCD version: v1 key = 1\n"),
            "{}",
            out.toml
        );
        assert!(
            out.toml
                .contains("\"a_b\", # Evil Platform [categories.x]\n"),
            "{}",
            out.toml
        );
        assert!(
            out.toml.contains("\"c_d\", # Tab bed spaces\n"),
            "{}",
            out.toml
        );
        assert!(out.toml.contains("    \"e_f\",\n"), "{}", out.toml);
    }

    #[test]
    fn header_comment_explains_use() {
        let out = import_with(
            &csv(&[row("1", "P", "Analytics", "_ga", "0")]),
            &ImportOptions {
                source: Some("open-cookie-database.csv"),
                version: Some("abc123 2026-01-21"),
            },
        )
        .unwrap();
        let head: Vec<&str> = out
            .toml
            .lines()
            .take_while(|l| l.starts_with('#'))
            .collect();
        let head = head.join("\n");
        assert!(head.contains("Open Cookie Database"), "{head}");
        assert!(head.contains("open-cookie-database.csv"), "{head}");
        assert!(head.contains("abc123 2026-01-21"), "{head}");
        assert!(head.contains("include = [\"ocd.toml\"]"), "{head}");
        assert!(head.contains("1 rows, 1 patterns"), "{head}");
    }

    #[test]
    fn output_is_sorted_one_per_line() {
        let text = csv(&[
            row("1", "P", "Analytics", "zeta", "0"),
            row("2", "P", "Analytics", "Alpha", "0"),
            row("3", "P", "Analytics", "_under", "0"),
            row("4", "P", "Analytics", "beta", "1"),
        ]);
        let out = import(&text).unwrap();
        let expected = "[categories.analytics]\ncookies = [\n    \"Alpha\", # P\n    \
                        \"_under\", # P\n    \"beta*\", # P\n    \"zeta\", # P\n]\n";
        assert!(out.toml.contains(expected), "{}", out.toml);
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder("pagead/conv/%INTEGER%"));
        assert!(is_placeholder("%ID%_x"));
        assert!(!is_placeholder("a%2Fb%2F"));
        assert!(!is_placeholder("100%"));
        assert!(!is_placeholder("%%"));
        assert!(!is_placeholder("a%B"));
    }

    const PROP_CATEGORIES: [&str; 7] = [
        "Functional",
        "Analytics",
        "Marketing",
        "Security",
        "Necessary",
        "Personalization",
        "Other",
    ];

    proptest! {
        #[test]
        fn any_input_imports_or_fails_cleanly(body in "[a-c_*%; \t\",\r\n\u{e9}\\\\01]{0,200}") {
            // Make some rows land on known categories and wildcard values.
            let body = body.replace('a', "Analytics").replace('1', ",1");
            if let Ok(out) = import(&format!("{HEADER}\n{body}")) {
                let doc: toml::Table = toml::from_str(&out.toml)
                    .map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(doc.len(), 1);
                let all = all_cookies(&out.toml);
                let mut seen = std::collections::HashSet::new();
                for p in all.values().flatten() {
                    prop_assert!(seen.insert(p.clone()), "{} twice", p);
                }
                prop_assert_eq!(seen.len(), out.counts.total_patterns());
            }
            let _ = import(&body);
        }

        #[test]
        fn structured_rows_round_trip(
            rows in prop::collection::vec(
                (0..PROP_CATEGORIES.len(), "[a-cA-C_*\\\\\"' ;=\t\u{e9}\u{1}-]{0,6}", any::<bool>()),
                0..30,
            )
        ) {
            let lines: Vec<String> = rows
                .iter()
                .enumerate()
                .map(|(k, (c, name, wildcard))| {
                    let name = format!("\"{}\"", name.replace('"', "\"\""));
                    let wildcard = if *wildcard { "1" } else { "0" };
                    let platform = "\"P,\"\"x\"\"\"";
                    row(&k.to_string(), platform, PROP_CATEGORIES[*c], &name, wildcard)
                })
                .collect();
            let out = import(&csv(&lines)).unwrap();
            let all = all_cookies(&out.toml);
            let mut seen = std::collections::HashSet::new();
            for p in all.values().flatten() {
                prop_assert!(seen.insert(p.clone()), "{} twice", p);
                let literal = p.strip_suffix('*').unwrap_or(p);
                let from_a_row = rows
                    .iter()
                    .any(|(_, n, _)| n.trim_matches([' ', '\t']).starts_with(literal));
                prop_assert!(from_a_row, "{} comes from no row", p);
            }
            prop_assert_eq!(out.counts.rows, rows.len());
            prop_assert_eq!(out.counts.skipped_malformed, 0);
            if !all.values().all(Vec::is_empty) {
                prop_assert!(out.toml.contains(" # P,\"x\"\n"), "{}", out.toml);
            }
        }
    }

    // -- the pinned Open Cookie Database ----------------------------------------------------

    const PINNED: &str = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/open-cookie-database.csv"
    );

    #[test]
    fn pinned_open_cookie_database() {
        let text = std::fs::read_to_string(PINNED).unwrap_or_else(|e| {
            panic!("the pinned Open Cookie Database CSV is missing: cannot read {PINNED}: {e}")
        });
        let out = import_with(
            &text,
            &ImportOptions {
                source: Some("open-cookie-database.csv"),
                version: None,
            },
        )
        .expect("the pinned CSV imports");
        let all = all_cookies(&out.toml);
        let c = &out.counts;

        // Measured on the pinned copy (2264 rows): 28 essential, 973 functional, 389 analytics,
        // 851 advertising; 8 rows skipped, 12 duplicates, 3 conflicts, 5 short globs.
        assert!(c.rows >= 2200, "{c:?}");
        for (category, min) in [
            ("essential", 25),
            ("functional", 950),
            ("analytics", 370),
            ("advertising", 830),
        ] {
            assert!(
                all[category].len() >= min,
                "{category}: {} patterns",
                all[category].len()
            );
        }
        for (k, category) in Category::ALL.iter().enumerate() {
            assert_eq!(c.patterns[k], all[category.name()].len());
        }
        assert_eq!(
            c.skipped_category, 0,
            "an OCD category is not mapped: {c:?}"
        );
        assert!(c.skipped() <= 20, "{c:?}\n{:#?}", out.warnings);
        // (Each conflict of the pinned copy involves two categories, so it absorbs one row.)
        assert_eq!(
            c.rows,
            c.total_patterns() + c.skipped() + c.duplicates + c.conflicts,
            "every row is a pattern, a skip, a duplicate or a conflict: {c:?}"
        );
        assert!(out.warnings.len() <= 40, "{:#?}", out.warnings);

        let where_is = |name: &str| -> Vec<&str> {
            all.iter()
                .filter(|(_, v)| v.iter().any(|p| p == name))
                .map(|(k, _)| *k)
                .collect()
        };
        for (name, category) in [
            ("_ga", "analytics"),
            ("_ga_*", "analytics"),
            ("_gid", "analytics"),
            ("_fbp", "advertising"),
            ("IDE", "advertising"),
            ("CookieConsent", "functional"),
            ("XSRF-TOKEN", "essential"),
            ("_rails_session", "essential"),
            ("sb-*", "essential"),
            ("token", "advertising"),
            ("SSPR_*", "advertising"),
        ] {
            assert_eq!(where_is(name), vec![category], "{name}");
        }
        // Local-storage keys, odd names and placeholders are not rules.
        for name in ["__cmpQQ_consentID", "Site History", "pagead/conv/%INTEGER%"] {
            assert!(where_is(name).is_empty(), "{name}");
        }
        assert_eq!(where_is("ce_need_secure_cookie").len(), 1);

        // No pattern is in two categories.
        let mut seen = std::collections::HashSet::new();
        for list in all.values() {
            for p in list {
                assert!(seen.insert(p.as_str()), "{p} is in two categories");
            }
        }
        // Every list is sorted.
        for (category, list) in &all {
            assert!(
                list.windows(2).all(|w| w[0] < w[1]),
                "{category} is not sorted"
            );
        }
    }
}
