//! The page guard's configuration: `scripts = [...]` of each category (in the main file and in
//! included files) and the `[page]` table.

use std::path::{Path, PathBuf};

use super::error::{line_of, ConfigError};
use super::file::PageFile;
use crate::page::{ConsentModeMap, PageConfig};
use crate::policy::categories::{Categories, CategoryId};
use crate::policy::scripts::{ScriptMatcher, ScriptRuleError};
use crate::policy::Policy;

/// One configured script pattern and where it was written.
#[derive(Clone, Debug)]
pub struct ScriptOrigin {
    pub pattern: String,
    pub category: CategoryId,
    pub file: PathBuf,
    /// `categories.<name>.scripts`.
    pub key: String,
    pub line: usize,
}

impl ScriptOrigin {
    fn error(&self, reason: String) -> ConfigError {
        ConfigError::new(&self.file, self.key.clone(), reason).at_line(Some(self.line))
    }
}

/// Collects the `scripts` of one category of a file.
pub fn collect(
    out: &mut Vec<ScriptOrigin>,
    file: &Path,
    text: &str,
    category_name: &str,
    category: CategoryId,
    scripts: &[toml::Spanned<String>],
) {
    for s in scripts {
        out.push(ScriptOrigin {
            pattern: s.get_ref().clone(),
            category,
            file: file.to_path_buf(),
            key: format!("categories.{category_name}.scripts"),
            line: line_of(text, s.span().start),
        });
    }
}

/// Compiles the collected patterns; conflicts name the file, key and line of the second pattern.
pub fn matcher(
    origins: &[ScriptOrigin],
    categories: &Categories,
    warnings: &mut Vec<String>,
) -> Result<ScriptMatcher, ConfigError> {
    // The origin of a pattern as the matcher names it (as written, or with its host lower-cased).
    let normalized = |p: &str| {
        crate::policy::scripts::parse_pattern(p)
            .map(|(h, path)| format!("{h}{}", path.unwrap_or_default()))
            .unwrap_or_default()
    };
    let find = |pattern: &str, category: CategoryId| {
        origins.iter().find(|o| {
            o.category == category && (o.pattern == pattern || normalized(&o.pattern) == pattern)
        })
    };
    let name = |id: CategoryId| categories.name(id).to_string();
    let m = ScriptMatcher::new(origins.iter().map(|o| (o.pattern.as_str(), o.category)))
        .map_err(|e| match e {
            ScriptRuleError::Invalid { pattern, reason } => {
                match origins.iter().find(|o| o.pattern == pattern) {
                    Some(o) => o.error(format!("script pattern \"{}\": {reason}", pattern.escape_default())),
                    None => ConfigError::new(Path::new(""), "categories", reason),
                }
            }
            ScriptRuleError::Duplicate { pattern, first, second } => {
                let reason = format!(
                    "script pattern \"{pattern}\" is listed in both \"{}\" and \"{}\"",
                    name(first),
                    name(second)
                );
                match find(&pattern, second) {
                    Some(o) => o.error(reason),
                    None => ConfigError::new(Path::new(""), "categories", reason),
                }
            }
            ScriptRuleError::Tie { first, first_category, second, second_category } => {
                let reason = format!(
                    "script patterns \"{second}\" ({}) and \"{first}\" ({}) can match the same URL with the same number of literal characters: make one more specific",
                    name(second_category),
                    name(first_category)
                );
                match find(&second, second_category) {
                    Some(o) => o.error(reason),
                    None => ConfigError::new(Path::new(""), "categories", reason),
                }
            }
        })?;
    for rule in m.rules() {
        let literal_host = rule
            .host
            .bytes()
            .filter(|&b| b != b'*' && b != b'.')
            .count();
        if literal_host < 4 {
            warnings.push(format!(
                "categories.{}.scripts: \"{}\" names a very short host and may match far more sites than intended",
                categories.name(rule.category),
                rule.pattern
            ));
        }
    }
    Ok(m)
}

/// Builds `[page]` for `policy` (whose script patterns are already set).
pub fn page_config(
    path: &Path,
    text: &str,
    page: Option<&PageFile>,
    policy: &Policy,
    warnings: &mut Vec<String>,
) -> Result<PageConfig, ConfigError> {
    let default = PageFile::default();
    let page = page.unwrap_or(&default);
    let consent_mode = match page.google_consent_mode.as_ref() {
        None => Some(ConsentModeMap::defaults(&policy.categories)),
        Some(v) => {
            let line = Some(line_of(text, v.span().start));
            match v.get_ref() {
                toml::Value::Boolean(true) => Some(ConsentModeMap::defaults(&policy.categories)),
                toml::Value::Boolean(false) => None,
                toml::Value::Table(t) => {
                    let mut pairs = Vec::new();
                    for (k, v) in t {
                        let Some(c) = v.as_str() else {
                            return Err(ConfigError::new(
                                path,
                                format!("page.google_consent_mode.{k}"),
                                format!(
                                    "expected a category name (a string), found a {}",
                                    v.type_str()
                                ),
                            )
                            .at_line(line));
                        };
                        pairs.push((k.as_str(), c));
                    }
                    Some(
                        ConsentModeMap::with_overrides(&policy.categories, pairs).map_err(
                            |(k, reason)| {
                                ConfigError::new(
                                    path,
                                    format!("page.google_consent_mode.{k}"),
                                    reason,
                                )
                                .at_line(line)
                            },
                        )?,
                    )
                }
                other => {
                    return Err(ConfigError::new(
                        path,
                        "page.google_consent_mode",
                        format!(
                            "expected true, false or a table of signal = \"category\", found a {}",
                            other.type_str()
                        ),
                    )
                    .at_line(line))
                }
            }
        }
    };
    let config = PageConfig::new(
        policy,
        page.rewrite,
        page.guard.unwrap_or(true),
        consent_mode,
    );
    if !config.rewrite && !policy.scripts.is_empty() {
        warnings.push("page.rewrite = false: the script patterns are not enforced on pages".into());
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};
    use crate::policy::categories::CategoryId;
    use std::path::Path;

    const BASE: &str = r#"
[listen]
http = "127.0.0.1:8080"

[upstream]
url = "http://127.0.0.1:3000"

[categories.essential]
required = true
cookies = ["_zendesk_session"]

[categories.analytics]
cookies = ["_ga", "_ga_*"]
scripts = ["google-analytics.com", "googletagmanager.com/gtag/js?id=G-*", "*.hotjar.com"]

[categories.advertising]
cookies = ["_fbp"]
scripts = ["connect.facebook.net", "googletagmanager.com/gtag/js?id=AW-*", "snap.licdn.com"]
"#;

    fn load(text: &str) -> Result<Config, ConfigError> {
        Config::from_str(Path::new("test.toml"), text)
    }

    #[test]
    fn scripts_and_page_defaults() {
        let c = load(BASE).unwrap();
        let m = &c.policy.scripts;
        assert_eq!(m.rules().len(), 6);
        let rule = |url| m.classify_url(url).map(|r| m.rule(r).category);
        assert_eq!(
            rule("https://www.googletagmanager.com/gtag/js?id=G-1"),
            Some(CategoryId(1))
        );
        assert_eq!(
            rule("https://www.googletagmanager.com/gtag/js?id=AW-1"),
            Some(CategoryId(2))
        );
        assert_eq!(
            rule("https://static.hotjar.com/c/x.js"),
            Some(CategoryId(1))
        );
        assert!(
            c.page.rewrite,
            "rewrite defaults to on when scripts are listed"
        );
        assert!(c.page.guard);
        assert!(c.page.consent_mode.is_some());
        assert!(std::sync::Arc::ptr_eq(&c.page.scripts, &c.policy.scripts));
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn page_table() {
        let c = load(&format!(
            "{BASE}\n[page]\nrewrite = false\nguard = false\ngoogle_consent_mode = false\n"
        ))
        .unwrap();
        assert!(!c.page.rewrite && !c.page.guard && c.page.consent_mode.is_none());
        assert!(
            c.warnings
                .iter()
                .any(|w| w.contains("page.rewrite = false")),
            "{:?}",
            c.warnings
        );
        let c = load(&format!(
            "{BASE}\n[page.google_consent_mode]\nanalytics_storage = \"advertising\"\nsecurity_storage = \"essential\"\n"
        ))
        .unwrap();
        let m = c.page.consent_mode.as_ref().unwrap();
        assert!(m.entries().contains(&("analytics_storage", CategoryId(2))));
        assert!(m.entries().contains(&("security_storage", CategoryId(0))));
        // Without any script, rewriting is off unless asked for.
        let plain = BASE
            .lines()
            .filter(|l| !l.starts_with("scripts"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(!load(&plain).unwrap().page.rewrite);
        assert!(
            load(&format!("{plain}\n[page]\nrewrite = true\n"))
                .unwrap()
                .page
                .rewrite
        );
    }

    #[test]
    fn errors_name_file_key_and_line() {
        let e = load(&format!("{BASE}\n[page]\nrewrite = \"yes\"\n")).unwrap_err();
        assert_eq!(e.key, "page.rewrite");
        let e = load(&format!("{BASE}\n[page]\nfoo = 1\n")).unwrap_err();
        assert!(e.reason.contains("foo"), "{e}");
        let e = load(&format!("{BASE}\n[page]\ngoogle_consent_mode = 1\n")).unwrap_err();
        assert_eq!(e.key, "page.google_consent_mode");
        assert!(e.line.is_some());
        let e = load(&format!(
            "{BASE}\n[page.google_consent_mode]\nad_storag = \"advertising\"\n"
        ))
        .unwrap_err();
        assert_eq!(e.key, "page.google_consent_mode.ad_storag");
        let e = load(&format!(
            "{BASE}\n[page.google_consent_mode]\nad_storage = \"ads\"\n"
        ))
        .unwrap_err();
        assert!(e.reason.contains("unknown category \"ads\""), "{e}");

        let bad = BASE.replace("\"snap.licdn.com\"", "\"https://snap.licdn.com\"");
        let e = load(&bad).unwrap_err();
        assert_eq!(e.key, "categories.advertising.scripts");
        assert_eq!(e.line, Some(18));
        assert!(e.reason.contains("without its scheme"), "{e}");
        assert!(
            e.to_string()
                .starts_with("test.toml:18: categories.advertising.scripts: "),
            "{e}"
        );

        let dup = BASE.replace("\"snap.licdn.com\"", "\"Google-Analytics.com\"");
        let e = load(&dup).unwrap_err();
        assert_eq!(e.key, "categories.advertising.scripts");
        assert!(
            e.reason.contains("both \"analytics\" and \"advertising\""),
            "{e}"
        );
        assert_eq!(e.line, Some(18));

        let tie = BASE.replace("\"snap.licdn.com\"", "\"a.hotjar.co*\"");
        let e = load(&tie).unwrap_err();
        assert!(
            e.reason.contains("same number of literal characters"),
            "{e}"
        );
        assert_eq!(e.key, "categories.advertising.scripts");
    }

    #[test]
    fn included_files_carry_scripts() {
        let dir = std::env::temp_dir().join(format!("consentry-scripts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("more.toml"),
            "[categories.analytics]\nscripts = [\"clarity.ms\"]\n[categories.advertising]\nscripts = [\"analytics.tiktok.com\"]\n",
        )
        .unwrap();
        let main = dir.join("main.toml");
        std::fs::write(&main, format!("include = [\"more.toml\"]\n{BASE}")).unwrap();
        let c = Config::load(&main).unwrap();
        let m = &c.policy.scripts;
        assert_eq!(m.rules().len(), 8);
        let cat = |url| m.classify_url(url).map(|r| m.rule(r).category);
        assert_eq!(cat("https://www.clarity.ms/tag/x"), Some(CategoryId(1)));
        assert_eq!(
            cat("https://analytics.tiktok.com/i18n/pixel/events.js"),
            Some(CategoryId(2))
        );
        // A conflict in the include names the include's file and line.
        std::fs::write(
            dir.join("more.toml"),
            "[categories.advertising]\n\nscripts = [\"google-analytics.com\"]\n",
        )
        .unwrap();
        let e = Config::load(&main).unwrap_err();
        assert_eq!(e.file, dir.join("more.toml"));
        assert_eq!(e.line, Some(3));
        assert_eq!(e.key, "categories.advertising.scripts");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_shipped_configuration_loads_with_the_catalogue_scripts() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/zendesk.toml");
        let c = Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
        let m = &c.policy.scripts;
        assert!(m.rules().len() > 100, "{}", m.rules().len());
        assert!(c.page.rewrite);
        let cat = |url: &str| {
            m.classify_url(url)
                .map(|r| c.policy.categories.name(m.rule(r).category).to_string())
        };
        for (url, want) in [
            (
                "https://www.googletagmanager.com/gtag/js?id=G-ABC",
                "analytics",
            ),
            (
                "https://www.googletagmanager.com/gtag/js?id=AW-123",
                "advertising",
            ),
            (
                "https://www.googletagmanager.com/gtag/js?id=DC-123",
                "advertising",
            ),
            (
                "https://www.googletagmanager.com/gtm.js?id=GTM-X",
                "analytics",
            ),
            (
                "https://connect.facebook.net/en_US/fbevents.js",
                "advertising",
            ),
            (
                "https://www.facebook.com/tr?id=1&ev=PageView&noscript=1",
                "advertising",
            ),
            ("https://static.hotjar.com/c/hotjar-1.js?sv=6", "analytics"),
            ("https://www.clarity.ms/tag/abc", "analytics"),
            (
                "https://snap.licdn.com/li.lms-analytics/insight.min.js",
                "advertising",
            ),
            (
                "https://analytics.tiktok.com/i18n/pixel/events.js",
                "advertising",
            ),
            ("https://bat.bing.com/bat.js", "advertising"),
            ("https://widget.intercom.io/widget/abc", "functional"),
            (
                "https://static.zdassets.com/ekr/snippet.js?key=abc",
                "functional",
            ),
            ("https://www.youtube-nocookie.com/embed/x", "functional"),
            ("https://www.youtube.com/embed/x", "advertising"),
        ] {
            assert_eq!(cat(url).as_deref(), Some(want), "{url}");
        }
        // The seed vendor's own consent banner and first-party scripts stay unclassified.
        assert_eq!(cat("https://www.zendesk.com/app.js"), None);
        assert_eq!(cat("https://consent.cookiebot.com/uc.js"), None);
        // The example configuration (without the catalogue) loads too.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/consentry.toml");
        Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}
