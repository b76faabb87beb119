//! The TOML file as users write it. Every table rejects unknown keys; values are checked and
//! converted into the internal [`Config`](super::Config) in one place (`super::build`).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub listen: ListenFile,
    pub tls: Option<TlsFile>,
    #[serde(default)]
    pub server: ServerFile,
    #[serde(default)]
    pub admin: AdminFile,
    pub upstream: Option<UpstreamFile>,
    #[serde(default)]
    pub consent: ConsentFile,
    #[serde(default)]
    pub categories: BTreeMap<String, toml::Spanned<CategoryFile>>,
    pub page: Option<PageFile>,
}

/// `[page]`: the page guard.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageFile {
    pub rewrite: Option<bool>,
    pub guard: Option<bool>,
    /// `true`, `false`, or a table of Consent Mode signal = category (checked when built).
    pub google_consent_mode: Option<toml::Spanned<toml::Value>>,
}

/// An included file: only more cookie and script lists.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludeFile {
    #[serde(default)]
    pub categories: BTreeMap<String, IncludedCategory>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncludedCategory {
    /// Optional; when given it must agree with the main file.
    pub required: Option<bool>,
    #[serde(default)]
    pub cookies: Vec<String>,
    #[serde(default)]
    pub scripts: Vec<toml::Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenFile {
    pub http: Option<String>,
    pub https: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFile {
    pub cert: String,
    pub key: String,
    #[serde(default)]
    pub sni: Vec<SniFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SniFile {
    pub host: String,
    pub cert: String,
    pub key: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerFile {
    pub workers: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pub shutdown_grace: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub header_read_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
    pub max_header_bytes: Option<usize>,
    pub max_headers: Option<usize>,
    pub max_connections: Option<usize>,
    pub max_body_bytes: Option<u64>,
    pub max_concurrent_streams: Option<u32>,
    pub http1: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminFile {
    pub listen: Option<String>,
    pub token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamFile {
    pub url: String,
    #[serde(default, with = "humantime_serde")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub response_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub read_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub pool_idle_timeout: Option<Duration>,
    pub ca: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentFile {
    pub mode: Option<String>,
    pub undecided: Option<String>,
    pub unclassified: Option<String>,
    pub sources: Option<Vec<String>>,
    pub cookie: Option<String>,
    pub gpc: Option<Vec<String>>,
    pub cleanup: Option<bool>,
    pub cleanup_paths: Option<Vec<String>>,
    pub strip_request: Option<bool>,
    pub onetrust: Option<toml::Table>,
    pub cookiebot: Option<toml::Table>,
    pub cookieyes: Option<toml::Table>,
    pub cc_cookie: Option<toml::Table>,
    pub klaro: Option<toml::Table>,
    pub tcf: Option<toml::Table>,
    /// The native cookie has no table; accepted here only to report a clear error.
    pub consentry: Option<toml::Table>,
}

impl ConsentFile {
    /// The operator's mapping table for a source, by its `consent.sources` name.
    pub fn table(&self, source: &str) -> Option<&toml::Table> {
        match source {
            "onetrust" => self.onetrust.as_ref(),
            "cookiebot" => self.cookiebot.as_ref(),
            "cookieyes" => self.cookieyes.as_ref(),
            "cc_cookie" => self.cc_cookie.as_ref(),
            "klaro" => self.klaro.as_ref(),
            "tcf" => self.tcf.as_ref(),
            "consentry" => self.consentry.as_ref(),
            _ => None,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryFile {
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub cookies: Vec<String>,
    /// Script URL patterns of the page guard.
    #[serde(default)]
    pub scripts: Vec<toml::Spanned<String>>,
}
