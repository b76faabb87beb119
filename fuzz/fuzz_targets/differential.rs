//! `explain::explain` against the proxy's own path (`decide`, `plan_request`, `cleanup_lines`,
//! `filter_set_cookies` on a header map) on the same request and response.
//!
//! Input: the first byte holds flags (`Sec-GPC: 1`, which policy, which host); the rest is split
//! on `\n`: the first line is the request's `Cookie` header, every further line one response
//! `Set-Cookie` line.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use consentry::config::Config;
use consentry::explain::{explain, Input};
use consentry::policy::categories::CategoryId;
use consentry::policy::filter::{Action, CookieEdit, Observer, Verdict};
use consentry::policy::{cleanup, set_cookie, Class, Mode, Policy};
use consentry_fuzz::check_classify;
use http::header::{HeaderMap, HeaderValue, SET_COOKIE};
use libfuzzer_sys::fuzz_target;

const NOW: i64 = 1_763_900_000;

const COMMON: &str = r#"
[listen]
http = "127.0.0.1:8080"
[upstream]
url = "http://127.0.0.1:3000"

[categories.essential]
required = true
cookies = ["_zendesk_session", "__cf_bm", "sess*", "__Host-id"]
[categories.functional]
cookies = ["ZD-settings", "ZD-*", "*.conversationStartedAt", "lang"]
[categories.analytics]
cookies = ["_ga", "_ga_*", "_gid", "_gat*", "*_analytics*", "_hj*"]
[categories.advertising]
cookies = ["_fbp", "IDE", "_gcl_*", "*_ads_*", "__Secure-3P*", "fr"]
"#;

/// Enforce, unknown cookies denied, every source, cleanup on extra paths.
const ENFORCE: &str = r#"
[consent]
mode = "enforce"
undecided = "deny"
unclassified = "deny"
sources = ["consentry", "onetrust", "cookiebot", "cookieyes", "cc_cookie", "klaro", "tcf"]
gpc = ["advertising"]
cleanup = true
cleanup_paths = ["/app"]
strip_request = true
"#;

/// Report-only, unknown cookies allowed, sources in another order.
const REPORT_ONLY: &str = r#"
[consent]
mode = "report-only"
undecided = "grant"
unclassified = "allow"
sources = ["tcf", "klaro", "cc_cookie", "cookieyes", "cookiebot", "onetrust", "consentry"]
gpc = ["advertising", "analytics"]
"#;

/// Enforce, unknown cookies judged as analytics, opt-out, strip without cleanup.
const UNCLASSIFIED_CATEGORY: &str = r#"
[consent]
mode = "enforce"
undecided = "grant"
unclassified = "analytics"
sources = ["onetrust", "consentry", "tcf", "cookiebot"]
cookie = "my_consent"
gpc = ["advertising"]
cleanup = false
strip_request = true
"#;

/// Enforce with cleanup but no stripping.
const CLEANUP_ONLY: &str = r#"
[consent]
mode = "enforce"
unclassified = "functional"
sources = ["cookieyes", "cc_cookie", "klaro", "consentry"]
cleanup = true
strip_request = false
"#;

fn policies() -> &'static [Policy] {
    static P: OnceLock<Vec<Policy>> = OnceLock::new();
    P.get_or_init(|| {
        [ENFORCE, REPORT_ONLY, UNCLASSIFIED_CATEGORY, CLEANUP_ONLY]
            .iter()
            .map(|consent| {
                let text = format!("{COMMON}{consent}");
                let c = Config::from_str(Path::new("differential.toml"), &text)
                    .unwrap_or_else(|e| panic!("fixed policy does not load: {e}"));
                (*c.policy).clone()
            })
            .collect()
    })
}

const HOSTS: [&str; 8] = [
    "www.example.com",
    "shop.example.co.uk:8443",
    "example.com",
    "localhost:8080",
    "127.0.0.1",
    "[::1]:8080",
    "a.b.c.example.org.",
    "",
];

#[derive(Default)]
struct Seen {
    lines: Vec<(Vec<u8>, Verdict)>,
    deletions: Vec<String>,
}

impl Observer for Seen {
    fn set_cookie(&mut self, line: &[u8], _name: &[u8], v: &Verdict) {
        self.lines.push((line.to_vec(), *v));
    }
    fn deletion(&mut self, _name: &str, _c: CategoryId, line: &str) {
        self.deletions.push(line.to_string());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let gpc = flags & 1 != 0;
    let policy = &policies()[usize::from(flags >> 1) % policies().len()];
    let host = HOSTS[usize::from(flags >> 3) % HOSTS.len()];

    let mut parts = rest.split(|&b| b == b'\n');
    let cookie_bytes = parts.next().unwrap_or_default();
    // The proxy reads the `Cookie` header of a request, so it is a valid header value.
    if HeaderValue::from_bytes(cookie_bytes).is_err() {
        return;
    }
    let cookie = String::from_utf8_lossy(cookie_bytes).into_owned();
    let lines: Vec<String> = parts
        .map(|l| String::from_utf8_lossy(l).into_owned())
        .collect();

    // (a) explain.
    let e = explain(
        policy,
        &Input {
            cookie: Some(cookie.clone()),
            gpc,
            host: Some(host.to_string()),
            set_cookie: lines.clone(),
        },
        NOW,
    );

    // (b) the proxy's path, step by step as `proxy::forward` takes it.
    let consent = policy.decide(&cookie, gpc);
    let plan = policy.plan_request(&consent, &cookie);
    let mut seen = Seen::default();
    let cleanup = policy.cleanup_lines(&plan, &cleanup::normalize_host(host), &mut seen);
    if let CookieEdit::Rewrite(c) = &plan.forward {
        // The proxy drops a rebuilt header that is not a valid value.
        assert!(
            HeaderValue::from_str(c).is_ok(),
            "forwarded header {c:?} invalid"
        );
    }
    // Unchanged: the request's header as it came (an empty one forwards nothing).
    let forwarded: Option<String> = plan.forward.forwarded(Some(&cookie)).map(str::to_string);
    let mut headers = HeaderMap::new();
    let valid: Vec<&String> = lines
        .iter()
        .filter(|l| HeaderValue::from_str(l).is_ok())
        .collect();
    for l in &valid {
        headers.append(SET_COOKIE, HeaderValue::from_str(l).unwrap());
    }
    let changed = policy.filter_set_cookies(&consent, &mut headers, NOW, &mut seen);
    let kept: Vec<&[u8]> = headers
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.as_bytes())
        .collect();

    // They agree.
    assert_eq!(e.set_cookie.len(), valid.len(), "one report per valid line");
    let reported: Vec<&[u8]> = e
        .set_cookie
        .iter()
        .filter(|r| r.action == "pass" || r.action == "would-block")
        .map(|r| r.line.as_bytes())
        .collect();
    assert_eq!(reported, kept, "kept lines differ");
    let unchanged =
        kept.len() == valid.len() && kept.iter().zip(&valid).all(|(k, v)| *k == v.as_bytes());
    // Changed means removed or replaced; a replacement may happen to repeat the line's bytes.
    assert!(changed || unchanged, "lines changed without being reported");
    assert_eq!(e.deletions, cleanup, "deletions differ");
    assert_eq!(e.deletions, seen.deletions);
    assert_eq!(
        e.request_cookie, forwarded,
        "forwarded Cookie header differs"
    );
    let allowed: Vec<&str> = consent
        .allowed
        .iter()
        .map(|id| policy.categories.name(id))
        .collect();
    assert_eq!(e.consent.allowed, allowed);
    assert_eq!(e.consent.state, consent.state.name());
    assert_eq!(e.consent.gpc, gpc);

    // Each line's report matches what the filter saw, in order.
    assert_eq!(seen.lines.len(), valid.len());
    for ((line, v), (r, l)) in seen.lines.iter().zip(e.set_cookie.iter().zip(&valid)) {
        assert_eq!(line.as_slice(), l.as_bytes());
        // A deleting line of a non-granted cookie is reported as the proxy's own deletion,
        // which names the same cookie and deletes it in every browser.
        if v.deletion && policy.mode == Mode::Enforce {
            assert!(
                set_cookie::is_deletion(r.line.as_bytes(), NOW),
                "{:?}",
                r.line
            );
            assert_eq!(
                set_cookie::stored_name(r.line.as_bytes()),
                set_cookie::stored_name(line)
            );
        } else {
            assert_eq!(r.line, **l);
        }
        assert_eq!(r.action, v.action.name());
        let name = set_cookie::presented_name(line);
        assert_eq!(r.name.as_bytes(), name);
        check_classify(&policy.matcher, name);

        // What must always pass does.
        let class = policy.classify(name);
        let category = policy.category_of(class);
        if class == Class::Consent
            || category.is_some_and(|c| consent.allowed.contains(c))
            || (set_cookie::is_deletion(line, NOW)
                && (policy.mode == Mode::ReportOnly || set_cookie::has_deletable_name(line)))
        {
            assert_eq!(v.action, Action::Pass, "line {:?}", r.line);
        }
        match policy.mode {
            Mode::Enforce => assert_ne!(v.action, Action::WouldBlock),
            Mode::ReportOnly => assert_ne!(v.action, Action::Block),
        }
    }

    // Every cleanup line is one the proxy can send, and expires its cookie.
    for d in &cleanup {
        assert!(
            HeaderValue::from_str(d).is_ok(),
            "cleanup line {d:?} is not a header value"
        );
        assert!(
            set_cookie::is_deletion(d.as_bytes(), NOW),
            "{d:?} does not delete"
        );
    }
    if policy.mode == Mode::ReportOnly {
        assert!(
            cleanup.is_empty() && plan.forward == CookieEdit::Keep && kept.len() == valid.len()
        );
    }
    for p in consentry::policy::cookie_header::pairs(&cookie) {
        check_classify(&policy.matcher, p.presented_name().as_bytes());
    }
});
