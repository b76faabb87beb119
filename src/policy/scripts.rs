//! The compiled script-URL matcher of the page guard.
//!
//! A script pattern is `host` or `host/path`. It is matched against a URL without its scheme:
//! the host part matches that host and every subdomain of it (case-insensitive); the path part,
//! when there is one, matches as a prefix of the URL's path and query; `*` matches any run of
//! characters in either part.
//!
//! Precedence follows the cookie patterns: the pattern with more literal (non-`*`) characters
//! wins; between equal patterns of one category, the first declared. Two patterns of different
//! categories with the same number of literal characters that can match one URL are rejected when
//! the matcher is built, as is one pattern listed in two categories.
//!
//! Patterns whose host has no `*` are kept in a hash map keyed by host. Classifying a URL looks up
//! each of its host's parent domains (`a.b.example.com`, `b.example.com`, `example.com`, `com`), so
//! the cost per URL grows with the number of labels in its host, not with the number of patterns.
//! Patterns with a `*` in the host are indexed by the literal text after their last `*`, in a trie
//! walked from the end of the host.

use std::collections::HashMap;

use rustc_hash::FxHashMap;

use super::categories::{CategoryId, CategorySet};
use super::glob;
use super::trie::Trie;

/// Index of a rule in [`ScriptMatcher::rules`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ScriptRuleId(pub u32);

/// One configured script pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptRule {
    /// The pattern as configured (its host part lower-cased).
    pub pattern: Box<str>,
    pub category: CategoryId,
    /// The host part, lower-case.
    pub host: Box<str>,
    /// The path part (starting with `/`), when the pattern has one.
    pub path: Option<Box<str>>,
    /// Literal characters of the pattern: its precedence weight.
    pub weight: usize,
}

impl ScriptRule {
    fn host_is_glob(&self) -> bool {
        self.host.contains('*')
    }

    /// Whether this rule's host part matches `host` (lower-case, no port).
    pub fn matches_host(&self, host: &str) -> bool {
        host_matches(&self.host, host)
    }

    /// Whether this rule's path part matches a URL's path and query.
    fn matches_path(&self, path_and_query: &str) -> bool {
        match self.path.as_deref() {
            None => true,
            Some(p) if !p.contains('*') => path_and_query.starts_with(p),
            Some(p) => prefix_glob_matches(p.as_bytes(), path_and_query.as_bytes()),
        }
    }
}

/// Why a set of script patterns cannot be compiled. Patterns are named as configured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScriptRuleError {
    /// A pattern the matcher cannot use.
    Invalid { pattern: String, reason: String },
    /// One pattern listed in two categories.
    Duplicate {
        pattern: String,
        first: CategoryId,
        second: CategoryId,
    },
    /// Two patterns of different categories with equal weight that can match the same URL.
    Tie {
        first: String,
        first_category: CategoryId,
        second: String,
        second_category: CategoryId,
    },
}

/// Characters a script pattern may contain besides letters and digits.
fn allowed_host_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'*')
}

/// Splits a pattern into its lower-cased host and its path, checking both.
pub fn parse_pattern(pattern: &str) -> Result<(String, Option<String>), String> {
    if pattern.is_empty() {
        return Err("a script pattern cannot be empty".into());
    }
    let lower = pattern.to_ascii_lowercase();
    if lower.starts_with("http:") || lower.starts_with("https:") || pattern.starts_with("//") {
        return Err(
            "write the pattern without its scheme, as `host` or `host/path` (it matches http and https)"
                .into(),
        );
    }
    if let Some(c) = pattern.chars().find(|&c| {
        c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '#' | '\\')
    }) {
        return Err(format!(
            "contains {c:?}, which a URL pattern cannot contain"
        ));
    }
    let (host, path) = match pattern.find('/') {
        Some(i) => (&pattern[..i], Some(&pattern[i..])),
        None => (pattern, None),
    };
    if host.is_empty() {
        return Err("the pattern has no host: write `host` or `host/path`".into());
    }
    if let Some(c) = host.bytes().find(|&b| !allowed_host_byte(b)) {
        return Err(format!(
            "host part \"{host}\" contains {:?}: a host is letters, digits, `.`, `-` and `*` (no port)",
            c as char
        ));
    }
    if host.bytes().all(|b| b == b'*' || b == b'.') {
        return Err(format!(
            "host part \"{host}\" has no literal characters and would match every site"
        ));
    }
    if host.starts_with('.') || host.ends_with('.') || host.contains("..") {
        return Err(format!(
            "host part \"{host}\" has an empty label (a host matches its subdomains already: write `example.com`, not `.example.com`)"
        ));
    }
    Ok((host.to_ascii_lowercase(), path.map(str::to_string)))
}

/// Whether a host pattern (lower-case, maybe with `*`) matches `host` (lower-case) itself or one
/// of its subdomains.
fn host_matches(pattern: &str, host: &str) -> bool {
    if !pattern.contains('*') {
        return host.len() >= pattern.len()
            && host.ends_with(pattern)
            && (host.len() == pattern.len()
                || host.as_bytes()[host.len() - pattern.len() - 1] == b'.');
    }
    if glob::matches(pattern.as_bytes(), host.as_bytes()) {
        return true;
    }
    // A subdomain: some `.` in the host after which the pattern matches.
    host.bytes()
        .enumerate()
        .filter(|&(_, b)| b == b'.')
        .any(|(i, _)| glob::matches(pattern.as_bytes(), &host.as_bytes()[i + 1..]))
}

/// Whether glob `pattern` matches a prefix of `text` (the glob with a `*` appended).
fn prefix_glob_matches(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut n) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p == pattern.len() {
            return true;
        }
        if n == text.len() {
            return pattern[p..].iter().all(|&b| b == b'*');
        }
        if pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if pattern[p] == text[n] {
            p += 1;
            n += 1;
        } else if let Some((sp, sn)) = star {
            p = sp + 1;
            n = sn + 1;
            star = Some((sp, sn + 1));
        } else {
            return false;
        }
    }
}

/// Whether some host matches both host patterns.
fn hosts_overlap(a: &str, b: &str) -> bool {
    if !a.contains('*') && !b.contains('*') {
        return host_matches(a, b) || host_matches(b, a);
    }
    let (sa, sb) = (format!("*.{a}"), format!("*.{b}"));
    glob::overlap(a, b) || glob::overlap(&sa, b) || glob::overlap(a, &sb) || glob::overlap(&sa, &sb)
}

/// Whether some path and query matches both path parts (`None`: any path).
fn paths_overlap(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (None, _) | (_, None) => true,
        (Some(a), Some(b)) => glob::overlap(&format!("{a}*"), &format!("{b}*")),
    }
}

/// The parts of a URL the matcher looks at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UrlParts<'u> {
    /// The host as written (maybe upper-case), without user info, port or trailing dot.
    pub host: &'u str,
    /// The path and query (`/` when the URL has neither), without the fragment.
    pub path_and_query: &'u str,
}

/// Splits a URL into host and path. Accepted forms: `http://` or `https://` URLs (any case),
/// protocol-relative `//host/...`, and `host/...` written without a scheme. Anything else (a
/// relative path, `data:`, `javascript:`, ...) has no host and gives `None`.
pub fn url_parts(url: &str) -> Option<UrlParts<'_>> {
    let rest = if let Some(r) = url.strip_prefix("//") {
        r
    } else if let Some(colon) = url.find(':') {
        let scheme = &url[..colon];
        let after = &url[colon + 1..];
        if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") {
            after.strip_prefix("//")?
        } else if scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'+')
            && !scheme.contains('.')
        {
            // Another scheme (`data:`, `javascript:`, `blob:`, ...): not a network URL we match.
            return None;
        } else {
            // `host:port/...` written without a scheme.
            url
        }
    } else {
        url
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut authority = &rest[..end];
    if let Some(at) = authority.rfind('@') {
        authority = &authority[at + 1..];
    }
    let host = match authority.rfind(':') {
        Some(i) if !authority.starts_with('[') || authority[..i].ends_with(']') => &authority[..i],
        _ => authority,
    };
    let host = host.strip_suffix('.').unwrap_or(host);
    if host.is_empty() {
        return None;
    }
    let tail = &rest[end..];
    let tail = &tail[..tail.find('#').unwrap_or(tail.len())];
    let path_and_query = if tail.is_empty() { "/" } else { tail };
    Some(UrlParts {
        host,
        path_and_query,
    })
}

/// Longest host the matcher looks at (a DNS name has at most 253 characters).
const MAX_HOST: usize = 253;

/// All configured script patterns, compiled.
#[derive(Clone, Debug, Default)]
pub struct ScriptMatcher {
    rules: Vec<ScriptRule>,
    /// Rules whose host has no `*`, by host; each list best first.
    by_host: FxHashMap<Box<str>, Vec<ScriptRuleId>>,
    /// Rules with a `*` in the host, keyed by the reversed literal text after the last `*`.
    host_globs: Trie<ScriptRuleId>,
    /// Categories that have at least one pattern.
    categories: CategorySet,
}

impl ScriptMatcher {
    /// Compiles `(pattern, category)` pairs in declaration order. The same pattern listed twice in
    /// one category is accepted once.
    pub fn new<'a>(
        patterns: impl IntoIterator<Item = (&'a str, CategoryId)>,
    ) -> Result<ScriptMatcher, ScriptRuleError> {
        let mut rules: Vec<ScriptRule> = Vec::new();
        let mut seen: HashMap<String, CategoryId> = HashMap::new();
        for (pattern, category) in patterns {
            let (host, path) =
                parse_pattern(pattern).map_err(|reason| ScriptRuleError::Invalid {
                    pattern: pattern.to_string(),
                    reason,
                })?;
            let normalized = match &path {
                Some(p) => format!("{host}{p}"),
                None => host.clone(),
            };
            match seen.get(&normalized) {
                Some(&c) if c == category => continue,
                Some(&c) => {
                    return Err(ScriptRuleError::Duplicate {
                        pattern: pattern.to_string(),
                        first: c,
                        second: category,
                    })
                }
                None => {
                    seen.insert(normalized.clone(), category);
                }
            }
            rules.push(ScriptRule {
                weight: glob::literal_len(&normalized),
                pattern: normalized.into(),
                category,
                host: host.into(),
                path: path.map(Into::into),
            });
        }
        check_ties(&rules)?;

        let mut order: Vec<ScriptRuleId> = (0..rules.len() as u32).map(ScriptRuleId).collect();
        order.sort_by(|a, b| {
            let (ra, rb) = (&rules[a.0 as usize], &rules[b.0 as usize]);
            rb.weight.cmp(&ra.weight).then(a.cmp(b))
        });
        let mut by_host: FxHashMap<Box<str>, Vec<ScriptRuleId>> = FxHashMap::default();
        let mut host_globs = Trie::new();
        let mut categories = CategorySet::EMPTY;
        for id in order {
            let rule = &rules[id.0 as usize];
            categories.insert(rule.category);
            if rule.host_is_glob() {
                let suffix = &rule.host[rule.host.rfind('*').map_or(0, |i| i + 1)..];
                host_globs.insert(suffix.bytes().rev(), id);
            } else {
                by_host.entry(rule.host.clone()).or_default().push(id);
            }
        }
        Ok(ScriptMatcher {
            rules,
            by_host,
            host_globs,
            categories,
        })
    }

    pub fn rules(&self) -> &[ScriptRule] {
        &self.rules
    }

    pub fn rule(&self, id: ScriptRuleId) -> &ScriptRule {
        &self.rules[id.0 as usize]
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The categories that have at least one script pattern.
    pub fn categories(&self) -> CategorySet {
        self.categories
    }

    /// The rule that classifies `url` (see [`url_parts`] for the forms accepted), by the
    /// precedence above. `None` when no pattern matches or the URL has no host.
    pub fn classify_url(&self, url: &str) -> Option<ScriptRuleId> {
        let parts = url_parts(url)?;
        let mut buf = [0u8; MAX_HOST];
        let host = lower_host(parts.host, &mut buf)?;
        self.best(host, |r| r.matches_path(parts.path_and_query))
    }

    /// The most specific rule of a category in `among` whose host part matches `host` (path parts
    /// are ignored): what holds back a resource hint to a bare origin.
    pub fn classify_host(&self, host: &str, among: CategorySet) -> Option<ScriptRuleId> {
        let mut buf = [0u8; MAX_HOST];
        let host = host.strip_suffix('.').unwrap_or(host);
        let host = lower_host(host, &mut buf)?;
        self.best(host, |r| among.contains(r.category))
    }

    /// The best rule whose host matches `host` (lower-case) and that `accept` accepts.
    fn best(&self, host: &str, accept: impl Fn(&ScriptRule) -> bool) -> Option<ScriptRuleId> {
        let mut best: Option<ScriptRuleId> = None;
        let better = |best: Option<ScriptRuleId>, id: ScriptRuleId| match best {
            None => true,
            Some(b) => {
                let (rb, r) = (&self.rules[b.0 as usize], &self.rules[id.0 as usize]);
                r.weight > rb.weight || (r.weight == rb.weight && id < b)
            }
        };
        let consider = |ids: &[ScriptRuleId], best: &mut Option<ScriptRuleId>, check_host: bool| {
            for &id in ids {
                if !better(*best, id) {
                    // Lists are sorted best first: nothing further here can win.
                    return;
                }
                let rule = &self.rules[id.0 as usize];
                if (!check_host || rule.matches_host(host)) && accept(rule) {
                    *best = Some(id);
                    return;
                }
            }
        };
        // Literal hosts: the host itself and each parent domain.
        if !self.by_host.is_empty() {
            let mut at = 0usize;
            loop {
                if let Some(ids) = self.by_host.get(&host[at..]) {
                    consider(ids, &mut best, false);
                }
                match host[at..].find('.') {
                    Some(i) => at += i + 1,
                    None => break,
                }
            }
        }
        if !self.host_globs.is_empty() {
            self.host_globs
                .walk(host.bytes().rev(), |ids| consider(ids, &mut best, true));
        }
        best
    }
}

/// Lower-cases a host into `buf`; `None` when it is too long or not ASCII.
fn lower_host<'b>(host: &str, buf: &'b mut [u8; MAX_HOST]) -> Option<&'b str> {
    if host.len() > MAX_HOST || !host.is_ascii() {
        return None;
    }
    let out = &mut buf[..host.len()];
    out.copy_from_slice(host.as_bytes());
    out.make_ascii_lowercase();
    std::str::from_utf8(out).ok()
}

/// Rejects two rules of different categories with equal weight that can match one URL.
fn check_ties(rules: &[ScriptRule]) -> Result<(), ScriptRuleError> {
    let mut by_weight: HashMap<usize, Vec<usize>> = HashMap::new();
    for (i, r) in rules.iter().enumerate() {
        by_weight.entry(r.weight).or_default().push(i);
    }
    let mut groups: Vec<&Vec<usize>> = by_weight.values().collect();
    groups.sort_by_key(|g| g[0]);
    for ids in groups {
        for (k, &a) in ids.iter().enumerate() {
            for &b in &ids[k + 1..] {
                let (ra, rb) = (&rules[a], &rules[b]);
                if ra.category != rb.category
                    && hosts_overlap(&ra.host, &rb.host)
                    && paths_overlap(ra.path.as_deref(), rb.path.as_deref())
                {
                    return Err(ScriptRuleError::Tie {
                        first: ra.pattern.to_string(),
                        first_category: ra.category,
                        second: rb.pattern.to_string(),
                        second_category: rb.category,
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const FUN: CategoryId = CategoryId(1);
    const ANA: CategoryId = CategoryId(2);
    const ADV: CategoryId = CategoryId(3);

    fn matcher(p: &[(&str, CategoryId)]) -> ScriptMatcher {
        ScriptMatcher::new(p.iter().copied()).unwrap()
    }

    fn class(m: &ScriptMatcher, url: &str) -> Option<(String, CategoryId)> {
        m.classify_url(url).map(|id| {
            let r = m.rule(id);
            (r.pattern.to_string(), r.category)
        })
    }

    #[test]
    fn url_forms() {
        let p = |u| url_parts(u).map(|p| (p.host, p.path_and_query));
        assert_eq!(
            p("https://www.example.com/a?b#c"),
            Some(("www.example.com", "/a?b"))
        );
        assert_eq!(p("HTTP://Example.COM"), Some(("Example.COM", "/")));
        assert_eq!(
            p("//cdn.example.com/x.js"),
            Some(("cdn.example.com", "/x.js"))
        );
        assert_eq!(p("example.com/x.js"), Some(("example.com", "/x.js")));
        assert_eq!(
            p("https://u:p@example.com:8443/x"),
            Some(("example.com", "/x"))
        );
        assert_eq!(p("https://example.com./x"), Some(("example.com", "/x")));
        assert_eq!(p("https://example.com?x=1"), Some(("example.com", "?x=1")));
        assert_eq!(p("example.com:8080/x"), Some(("example.com", "/x")));
        assert_eq!(p("data:text/javascript,alert(1)"), None);
        assert_eq!(p("javascript:void(0)"), None);
        assert_eq!(p("https:///x"), None);
        assert_eq!(p("ftp://example.com/x"), None);
    }

    #[test]
    fn host_matches_itself_and_subdomains_only() {
        let m = matcher(&[("google-analytics.com", ANA)]);
        assert!(class(&m, "https://google-analytics.com/analytics.js").is_some());
        assert!(class(&m, "https://www.google-analytics.com/analytics.js").is_some());
        assert!(class(&m, "https://WWW.Google-Analytics.COM/g/collect").is_some());
        assert!(class(&m, "https://region1.ssl.google-analytics.com/").is_some());
        assert!(class(&m, "https://notgoogle-analytics.com/").is_none());
        assert!(class(&m, "https://google-analytics.com.evil.net/").is_none());
        assert!(class(&m, "/google-analytics.com/x.js").is_none());
    }

    #[test]
    fn path_is_a_prefix_of_path_and_query() {
        let m = matcher(&[
            ("googletagmanager.com/gtag/js?id=G-*", ANA),
            ("googletagmanager.com/gtag/js?id=AW-*", ADV),
            ("googletagmanager.com/gtag/js?id=DC-*", ADV),
            ("googletagmanager.com/gtm.js", ANA),
        ]);
        let gtag = |id: &str| format!("https://www.googletagmanager.com/gtag/js?id={id}");
        assert_eq!(class(&m, &gtag("G-ABC123")).unwrap().1, ANA);
        assert_eq!(class(&m, &gtag("AW-123456")).unwrap().1, ADV);
        assert_eq!(class(&m, &gtag("DC-99")).unwrap().1, ADV);
        assert_eq!(class(&m, &gtag("UA-1")), None);
        assert_eq!(
            class(
                &m,
                "https://www.googletagmanager.com/gtm.js?id=GTM-XXXX&l=dataLayer"
            )
            .unwrap()
            .1,
            ANA
        );
        assert_eq!(
            class(&m, "https://www.googletagmanager.com/ns.html?id=GTM-X"),
            None
        );
        // Paths are case-sensitive, hosts are not.
        assert_eq!(class(&m, "https://WWW.GOOGLETAGMANAGER.COM/GTM.JS"), None);
    }

    #[test]
    fn globs_in_host_and_path() {
        let m = matcher(&[
            ("*.hotjar.com", ANA),
            ("static.hotjar.com/c/hotjar-*.js", FUN),
            ("cdn-*.example.net", ADV),
        ]);
        assert_eq!(
            class(&m, "https://static.hotjar.com/c/hotjar-123.js?sv=6")
                .unwrap()
                .1,
            FUN
        );
        assert_eq!(
            class(&m, "https://script.hotjar.com/modules.js").unwrap().1,
            ANA
        );
        // `*.hotjar.com` needs a subdomain.
        assert_eq!(class(&m, "https://hotjar.com/"), None);
        assert_eq!(class(&m, "https://cdn-7.example.net/a.js").unwrap().1, ADV);
        assert_eq!(
            class(&m, "https://x.cdn-7.example.net/a.js").unwrap().1,
            ADV
        );
        assert_eq!(class(&m, "https://cdn.example.net/a.js"), None);
    }

    #[test]
    fn most_specific_wins() {
        let m = matcher(&[
            ("google.com", ADV),
            ("www.google.com/recaptcha", FUN),
            ("doubleclick.net", ADV),
            ("stats.g.doubleclick.net", ANA),
        ]);
        assert_eq!(
            class(&m, "https://www.google.com/recaptcha/api.js")
                .unwrap()
                .1,
            FUN
        );
        assert_eq!(
            class(&m, "https://www.google.com/pagead/1p-user-list")
                .unwrap()
                .1,
            ADV
        );
        assert_eq!(
            class(&m, "https://stats.g.doubleclick.net/j/collect")
                .unwrap()
                .1,
            ANA
        );
        assert_eq!(class(&m, "https://ad.doubleclick.net/x").unwrap().1, ADV);
    }

    #[test]
    fn first_declared_wins_between_equal_patterns_of_one_category() {
        let m = matcher(&[("a.example.com", ANA), ("example.com/a", ANA)]);
        assert_eq!(
            class(&m, "https://a.example.com/abcdef").unwrap().0,
            "a.example.com"
        );
    }

    #[test]
    fn conflicts_are_errors() {
        assert!(matches!(
            ScriptMatcher::new([("connect.facebook.net", ADV), ("Connect.Facebook.net", ANA)]),
            Err(ScriptRuleError::Duplicate { .. })
        ));
        assert!(
            ScriptMatcher::new([("connect.facebook.net", ADV), ("connect.facebook.net", ADV)])
                .is_ok()
        );
        // Equal weight, one URL matches both: `b.a.com/x` for `a.com/x` (7) and `b.a.com` (7).
        assert!(matches!(
            ScriptMatcher::new([("a.com/x", ANA), ("b.a.com", ADV)]),
            Err(ScriptRuleError::Tie { .. })
        ));
        // Equal weight but disjoint paths or hosts: fine.
        assert!(ScriptMatcher::new([("a.com/x", ANA), ("a.com/y", ADV)]).is_ok());
        assert!(ScriptMatcher::new([("aa.com", ANA), ("bb.com", ADV)]).is_ok());
        assert!(matches!(
            ScriptMatcher::new([("*.a.com", ANA), ("x.a.co*", ADV)]),
            Err(ScriptRuleError::Tie { .. })
        ));
    }

    #[test]
    fn invalid_patterns() {
        for bad in [
            "",
            "https://example.com/x",
            "//example.com",
            "/path/only",
            "*",
            "*.*",
            ".example.com",
            "example..com",
            "exa mple.com",
            "example.com:8080/x",
            "example.com/a#b",
            "example.com/\"x",
        ] {
            assert!(
                matches!(
                    ScriptMatcher::new([(bad, ANA)]),
                    Err(ScriptRuleError::Invalid { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn resource_hint_hosts() {
        let m = matcher(&[
            ("googletagmanager.com/gtag/js?id=G-*", ANA),
            ("www.google.com/recaptcha", FUN),
            ("*.hotjar.com", ANA),
        ]);
        let ana = CategorySet::single(ANA);
        let id = m.classify_host("www.googletagmanager.com", ana).unwrap();
        assert_eq!(&*m.rule(id).pattern, "googletagmanager.com/gtag/js?id=G-*");
        assert!(m.classify_host("static.hotjar.com", ana).is_some());
        assert!(m.classify_host("WWW.GOOGLE.COM", ana).is_none());
        assert!(m
            .classify_host("www.google.com", CategorySet::single(FUN))
            .is_some());
    }

    #[test]
    fn agrees_with_a_scan_of_every_rule() {
        let patterns = [
            ("google-analytics.com", ANA),
            ("googletagmanager.com/gtag/js?id=G-*", ANA),
            ("googletagmanager.com/gtag/js?id=AW-*", ADV),
            ("googletagmanager.com", FUN),
            ("*.hotjar.com", ANA),
            ("static.hotjar.com/c/*", FUN),
            ("facebook.net", ADV),
            ("connect.facebook.net/*/fbevents.js", ADV),
            ("*.clarity.ms", ANA),
            ("x*y.example.org/a*b", FUN),
        ];
        let m = matcher(&patterns);
        let urls = [
            "https://www.google-analytics.com/analytics.js",
            "https://www.googletagmanager.com/gtag/js?id=G-1",
            "https://www.googletagmanager.com/gtag/js?id=AW-1",
            "https://www.googletagmanager.com/gtm.js?id=GTM-1",
            "https://static.hotjar.com/c/hotjar-1.js",
            "https://script.hotjar.com/x",
            "https://connect.facebook.net/en_US/fbevents.js",
            "https://connect.facebook.net/signals/config/1",
            "https://www.clarity.ms/tag/abc",
            "https://clarity.ms/tag/abc",
            "https://xay.example.org/aXb",
            "https://q.xy.example.org/ab?c",
            "https://xy.example.org/b",
            "https://example.org/",
        ];
        for url in urls {
            let parts = url_parts(url).unwrap();
            let host = parts.host.to_ascii_lowercase();
            let expected = patterns
                .iter()
                .enumerate()
                .filter(|(_, (p, _))| {
                    let (h, path) = parse_pattern(p).unwrap();
                    host_matches(&h, &host)
                        && path.is_none_or(|path| {
                            prefix_glob_matches(path.as_bytes(), parts.path_and_query.as_bytes())
                        })
                })
                .max_by(|(i, (a, _)), (j, (b, _))| {
                    glob::literal_len(a)
                        .cmp(&glob::literal_len(b))
                        .then(j.cmp(i))
                })
                .map(|(i, _)| i);
            assert_eq!(m.classify_url(url).map(|r| r.0 as usize), expected, "{url}");
        }
    }

    #[test]
    fn prefix_globs() {
        assert!(prefix_glob_matches(
            b"/gtag/js?id=G-*",
            b"/gtag/js?id=G-1&x"
        ));
        assert!(prefix_glob_matches(b"/a*c", b"/abbbcd"));
        assert!(!prefix_glob_matches(b"/a*c", b"/abbbd"));
        assert!(prefix_glob_matches(b"", b"/x"));
        assert!(!prefix_glob_matches(b"/abc", b"/ab"));
    }
}
