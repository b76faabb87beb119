//! Configuration: the TOML file types ([`file`]) are converted into one validated [`Config`].
//! Nothing outside this module sees the file types, and nothing here does network I/O.

pub mod consent;
pub mod error;
pub mod file;
pub mod page;
mod policy;
mod read;

use policy::build_policy;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use error::ConfigError;
use file::{FileConfig, IncludeFile};

use crate::policy::categories::{Categories, CategoryId, MAX_CATEGORIES};
use crate::policy::consent::{ConsentPolicy, SourceConfigError, SourceKind, SourceSpec, Undecided};
use crate::policy::rules::{Matcher, RuleError};
use crate::policy::{CleanupOptions, Mode, Policy, PolicyParts, Unclassified};

/// The default configuration path of `run`, `check` and `explain`.
pub const DEFAULT_PATH: &str = "config/consentry.toml";

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub path: PathBuf,
    pub listen: Listen,
    pub tls: Option<Tls>,
    pub server: Server,
    pub admin: Admin,
    pub upstream: Upstream,
    pub policy: Arc<Policy>,
    /// `[page]`: the page guard (its script patterns are `policy.scripts`).
    pub page: Arc<crate::page::PageConfig>,
    /// The included files, resolved.
    pub includes: Vec<PathBuf>,
    /// Things worth telling the operator that do not stop the configuration from loading.
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub sni: Vec<SniCert>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SniCert {
    pub host: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub workers: usize,
    pub shutdown_grace: Duration,
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub max_connections: usize,
    /// `None`: unlimited.
    pub max_body_bytes: Option<u64>,
    pub max_concurrent_streams: u32,
    /// Which code serves HTTP/1.1 connections.
    pub http1: Http1,
}

/// `server.http1`: the proxy's own HTTP/1.1 path, or hyper's.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Http1 {
    Fast,
    Hyper,
}

impl Http1 {
    /// The default when the key is absent.
    pub const DEFAULT: Http1 = Http1::Fast;

    fn parse(v: &str) -> Option<Http1> {
        match v {
            "fast" => Some(Http1::Fast),
            "hyper" => Some(Http1::Hyper),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admin {
    pub listen: Option<SocketAddr>,
    pub token: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub uri: http::Uri,
    pub https: bool,
    pub authority: http::uri::Authority,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    /// The longest silence between two reads of a response body; then the response is aborted.
    pub read_timeout: Duration,
    pub pool_idle_timeout: Duration,
    pub ca: Option<PathBuf>,
}

impl Config {
    /// Reads, parses and validates the file at `path` and its includes.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = read::config_file(path, "")?;
        Config::from_str(path, &text)
    }

    /// Parses and validates `text` as if read from `path` (includes are read relative to it).
    pub fn from_str(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let file: FileConfig =
            toml::from_str(text).map_err(|e| ConfigError::from_toml(path, text, &e))?;
        build(path, text, file)
    }
}

fn duration_or(d: Option<Duration>, default: Duration) -> Duration {
    d.unwrap_or(default)
}

fn parse_addr(path: &Path, key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse::<SocketAddr>().map_err(|_| {
        ConfigError::new(
            path,
            key,
            format!("\"{v}\" is not an address with a port, such as \"127.0.0.1:8080\" or \"[::]:8080\""),
        )
    })
}

/// Characters a cookie pattern may not contain: they cannot be part of a cookie name.
/// Characters no cookie name a browser stores can hold (RFC 6265bis §5.6: controls, and `;`
/// and `=`, which end a name). Spaces, quotes and commas inside a name are stored and sent.
fn bad_pattern_char(c: char) -> bool {
    c.is_control() || matches!(c, ';' | '=')
}

fn valid_category_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.parent().unwrap_or(Path::new(".")).join(p)
    }
}

fn build(path: &Path, text: &str, file: FileConfig) -> Result<Config, ConfigError> {
    let err = |key: &str, reason: String| ConfigError::new(path, key, reason);
    let mut warnings = Vec::new();

    // [listen]
    let listen = Listen {
        http: file
            .listen
            .http
            .as_deref()
            .map(|v| parse_addr(path, "listen.http", v))
            .transpose()?,
        https: file
            .listen
            .https
            .as_deref()
            .map(|v| parse_addr(path, "listen.https", v))
            .transpose()?,
    };
    if listen.http.is_none() && listen.https.is_none() {
        return Err(err(
            "listen",
            "no listener: set listen.http and/or listen.https".into(),
        ));
    }

    // [tls]
    let tls = file.tls.as_ref().map(|t| Tls {
        cert: resolve(path, &t.cert),
        key: resolve(path, &t.key),
        sni: t
            .sni
            .iter()
            .map(|s| SniCert {
                host: s.host.to_ascii_lowercase(),
                cert: resolve(path, &s.cert),
                key: resolve(path, &s.key),
            })
            .collect(),
    });
    if listen.https.is_some() && tls.is_none() {
        return Err(err(
            "listen.https",
            "an https listener needs a [tls] table with cert and key".into(),
        ));
    }
    if listen.https.is_none() && tls.is_some() {
        warnings.push("[tls] is set but listen.https is not: TLS is not used".into());
    }

    // [server]
    let s = &file.server;
    let workers = match s.workers {
        Some(0) => return Err(err("server.workers", "must be at least 1".into())),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let max_header_bytes = s.max_header_bytes.unwrap_or(65536);
    if max_header_bytes < 8192 {
        return Err(err(
            "server.max_header_bytes",
            "must be at least 8192 (hyper's smallest read buffer)".into(),
        ));
    }
    let server = Server {
        workers,
        shutdown_grace: duration_or(s.shutdown_grace, Duration::from_secs(30)),
        header_read_timeout: duration_or(s.header_read_timeout, Duration::from_secs(10)),
        idle_timeout: duration_or(s.idle_timeout, Duration::from_secs(60)),
        max_header_bytes,
        max_headers: s.max_headers.unwrap_or(100),
        max_connections: s.max_connections.unwrap_or(25_000),
        max_body_bytes: match s.max_body_bytes {
            None | Some(0) => None,
            Some(n) => Some(n),
        },
        max_concurrent_streams: s.max_concurrent_streams.unwrap_or(200),
        http1: match s.http1.as_deref() {
            None => Http1::DEFAULT,
            Some(v) => Http1::parse(v).ok_or_else(|| {
                err(
                    "server.http1",
                    format!("\"{v}\" is neither \"fast\" nor \"hyper\""),
                )
            })?,
        },
    };
    for (key, d) in [
        ("server.header_read_timeout", server.header_read_timeout),
        ("server.idle_timeout", server.idle_timeout),
    ] {
        if d.is_zero() {
            return Err(err(key, "must be longer than 0s".into()));
        }
    }
    if server.max_connections == 0 {
        return Err(err("server.max_connections", "must be at least 1".into()));
    }

    // [admin]
    let admin = Admin {
        listen: match file.admin.listen.as_deref() {
            None => Some(SocketAddr::from(([127, 0, 0, 1], 9090))),
            Some("") => None,
            Some(v) => Some(parse_addr(path, "admin.listen", v)?),
        },
        token: file.admin.token.clone().filter(|t| !t.is_empty()),
    };
    if let Some(a) = admin.listen {
        if !a.ip().to_canonical().is_loopback() && admin.token.is_none() {
            warnings.push(format!(
                "admin.listen {a} is not a loopback address and admin.token is not set: metrics are open to the network"
            ));
        }
    }

    // [upstream]
    let up = file.upstream.as_ref().ok_or_else(|| {
        err(
            "upstream.url",
            "missing: set the URL of the site behind the proxy".into(),
        )
    })?;
    let uri: http::Uri = up
        .url
        .parse()
        .map_err(|e| err("upstream.url", format!("\"{}\" is not a URL: {e}", up.url)))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            return Err(err(
                "upstream.url",
                format!("\"{}\" must start with http:// or https://", up.url),
            ))
        }
    };
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| err("upstream.url", format!("\"{}\" has no host", up.url)))?;
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(err(
            "upstream.url",
            "a path or query in the upstream URL is not supported: requests keep their own path"
                .into(),
        ));
    }
    let upstream = Upstream {
        uri,
        https,
        authority,
        connect_timeout: duration_or(up.connect_timeout, Duration::from_secs(3)),
        response_timeout: duration_or(up.response_timeout, Duration::from_secs(60)),
        read_timeout: duration_or(up.read_timeout, Duration::from_secs(60)),
        pool_idle_timeout: duration_or(up.pool_idle_timeout, Duration::from_secs(4)),
        ca: up.ca.as_deref().map(|c| resolve(path, c)),
    };
    for (key, d) in [
        ("upstream.connect_timeout", upstream.connect_timeout),
        ("upstream.response_timeout", upstream.response_timeout),
        ("upstream.read_timeout", upstream.read_timeout),
    ] {
        if d.is_zero() {
            return Err(err(key, "must be longer than 0s".into()));
        }
    }
    if upstream.ca.is_some() && !https {
        warnings.push("upstream.ca is set but the upstream is plain http://".into());
    }

    let policy = build_policy(path, text, &file, &mut warnings)?;
    let page = page::page_config(path, text, file.page.as_ref(), &policy, &mut warnings)?;

    Ok(Config {
        path: path.to_path_buf(),
        includes: file.include.iter().map(|i| resolve(path, i)).collect(),
        listen,
        tls,
        server,
        admin,
        upstream,
        policy: Arc::new(policy),
        page: Arc::new(page),
        warnings,
    })
}

#[cfg(test)]
mod tests;
