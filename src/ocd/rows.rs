//! Turning rows into patterns: which columns to read, which names can be rules, and how rows
//! that name one pattern are merged.

use std::collections::BTreeMap;

use super::records::Record;
use super::render::{self, Lists};
use super::{one_line, Category, ImportOptions, OcdCounts, OcdError, OcdImport};

/// Globs with fewer literal characters than this match too much to be trusted blindly.
const SHORT_GLOB: usize = 3;

/// Indexes of the columns the import reads.
pub(super) struct Columns {
    id: Option<usize>,
    platform: Option<usize>,
    category: usize,
    name: usize,
    retention: Option<usize>,
    wildcard: Option<usize>,
}

impl Columns {
    pub(super) fn find(header: &[String]) -> Result<Columns, OcdError> {
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
pub(super) struct Importer {
    warnings: Vec<String>,
    counts: OcdCounts,
    /// Keyed by the rendered pattern, so `abc` and `abc*` are different keys and equal globs
    /// or equal exact names meet.
    patterns: BTreeMap<String, BTreeMap<Category, Vec<Source>>>,
}

impl Importer {
    pub(super) fn row(&mut self, columns: &Columns, header: &[String], record: &Record) {
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

    pub(super) fn finish(mut self, options: &ImportOptions<'_>) -> OcdImport {
        let mut lists: Lists = Default::default();
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

        let toml = render::toml(&lists, &self.counts, self.warnings.len(), options);
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
pub(super) fn is_placeholder(name: &str) -> bool {
    let parts: Vec<&str> = name.split('%').collect();
    // Odd-numbered parts lie between two '%' when another part follows them.
    (1..parts.len().saturating_sub(1)).step_by(2).any(|k| {
        let p = parts[k];
        !p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
    })
}
