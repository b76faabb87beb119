//! Configuration errors: every one names the file, the key (and line where known) and the reason.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    /// Dotted key path (`consent.gpc`, `categories.analytics.cookies`), empty for the whole file.
    pub key: String,
    pub line: Option<usize>,
    pub reason: String,
}

impl ConfigError {
    pub fn new(file: &Path, key: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            file: file.to_path_buf(),
            key: key.into(),
            line: None,
            reason: reason.into(),
        }
    }

    pub fn at_line(mut self, line: Option<usize>) -> ConfigError {
        self.line = line;
        self
    }

    /// Converts a TOML parse or type error, recovering the line and, for a well-formed TOML
    /// document, the dotted key from the span. No other text of the file reaches the error: a
    /// file that is not TOML at all (`/proc/self/environ` named by mistake) gets its line only,
    /// and quoted values are left out of the parser's message.
    pub fn from_toml(file: &Path, text: &str, err: &toml::de::Error) -> ConfigError {
        let is_toml = text.parse::<toml::Table>().is_ok();
        let (line, key) = match err.span() {
            Some(span) => (
                Some(line_of(text, span.start)),
                if is_toml {
                    key_at(text, span.start).unwrap_or_default()
                } else {
                    String::new()
                },
            ),
            None => (None, String::new()),
        };
        ConfigError {
            file: file.to_path_buf(),
            key,
            line,
            reason: without_quoted(err.message().trim()),
        }
    }
}

/// The message without the text of quoted values (`invalid type: string "s3cret", expected a
/// boolean` becomes `invalid type: string, expected a boolean`); back-quoted names (the keys
/// the parser expected) stay.
fn without_quoted(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(i) = rest.find('"') {
        let Some(j) = rest[i + 1..].find('"') else {
            break;
        };
        out.push_str(rest[..i].trim_end_matches(' '));
        rest = &rest[i + 1 + j + 1..];
    }
    out.push_str(rest);
    out
}

/// 1-based line number of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The dotted key written on the line holding `offset`: the nearest `[table]` header above it
/// joined with the key before `=` on that line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let offset = offset.min(text.len());
    let start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[start..].lines().next().unwrap_or("");
    let trimmed = line.trim();
    let header = |l: &str| -> Option<String> {
        let l = l.trim();
        let inner = l
            .strip_prefix("[[")
            .and_then(|r| r.strip_suffix("]]"))
            .or_else(|| l.strip_prefix('[').and_then(|r| r.strip_suffix(']')))?;
        Some(inner.trim().to_string())
    };
    if let Some(h) = header(trimmed) {
        return Some(h);
    }
    let key = trimmed.split('=').next()?.trim().trim_matches('"');
    let table = text[..start].lines().rev().find_map(header);
    Some(match table {
        Some(t) if !key.is_empty() => format!("{t}.{key}"),
        Some(t) => t,
        None => key.to_string(),
    })
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        write!(f, ": {}", self.reason)
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_left_out() {
        assert_eq!(
            without_quoted("invalid type: string \"s3cret\", expected a boolean"),
            "invalid type: string, expected a boolean"
        );
        assert_eq!(
            without_quoted("unknown field `urll`, expected one of `url`"),
            "unknown field `urll`, expected one of `url`"
        );
        assert_eq!(without_quoted("a \"b"), "a \"b");
    }

    #[test]
    fn text_that_is_not_toml_is_not_quoted() {
        let text = "SECRET_NAME=v4lue\u{0}PATH=/usr/bin\u{0}";
        let e = toml::from_str::<toml::Table>(text).unwrap_err();
        let c = ConfigError::from_toml(Path::new("/proc/self/environ"), text, &e);
        let shown = c.to_string();
        assert!(!shown.contains("SECRET_NAME"), "{shown}");
        assert!(!shown.contains("PATH"), "{shown}");
        assert!(
            !shown.contains("v4lue") && !shown.contains("/usr/bin"),
            "{shown}"
        );
        assert_eq!(c.key, "");
        assert_eq!(c.line, Some(1));
    }
}
