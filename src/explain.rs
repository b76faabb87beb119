//! `consentry explain`: decide offline exactly as the proxy would, through the same functions.

use serde::Serialize;

use crate::policy::categories::CategoryId;
use crate::policy::filter::{Observer, Verdict};
use crate::policy::Policy;

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Explanation {
    pub consent: ConsentReport,
    pub set_cookie: Vec<LineReport>,
    pub deletions: Vec<String>,
    pub request_cookie: Option<String>,
    /// With `--html`: each element of the page neutralised (or that would be) or activated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page: Option<Vec<PageReport>>,
}

/// One element of `consentry explain --html`.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct PageReport {
    /// `script`, `iframe`, `img`, `embed`, `object` or `link`.
    pub element: String,
    pub url: String,
    pub category: String,
    /// The script pattern that matched, or `(opt-in <convention>)` for activated markup.
    pub rule: String,
    /// `block`, `would-block` or `activate`.
    pub action: String,
}

/// What a page becomes for the visitor of an explanation.
#[derive(Debug)]
pub struct PageExplanation {
    /// The rewritten page (the page itself when nothing is rewritten).
    pub html: Vec<u8>,
    pub page: Vec<PageReport>,
}

/// Rewrites `html` exactly as the proxy would for the visitor of `input`, with `prelude` (the
/// client guard's elements) inserted as the proxy inserts it.
pub fn explain_page(
    policy: &Policy,
    config: &std::sync::Arc<crate::page::PageConfig>,
    input: &Input,
    html: &[u8],
    prelude: &crate::page::Prelude,
) -> Result<PageExplanation, String> {
    use crate::page::{PageAction, PagePlan, Recorder};
    let consent = policy.decide(input.cookie.as_deref().unwrap_or(""), input.gpc);
    let plan = PagePlan::new(policy, &consent, config);
    let recorder = Recorder::default();
    let out = if plan.is_noop() {
        html.to_vec()
    } else {
        let report_only = plan.is_report_only();
        let out =
            crate::page::rewrite::rewrite_page(html, plan, prelude, Box::new(recorder.clone()))
                .map_err(|e| format!("cannot rewrite the page: {e}"))?;
        if report_only {
            html.to_vec()
        } else {
            out
        }
    };
    let page = recorder
        .events()
        .into_iter()
        .map(|e| PageReport {
            element: e.element.name().to_string(),
            url: e.url,
            category: config.categories.name(e.category).to_string(),
            rule: match e.action {
                PageAction::Block(r) | PageAction::WouldBlock(r) => {
                    config.scripts.rule(r).pattern.to_string()
                }
                PageAction::Activate(convention) => format!("(opt-in {convention})"),
            },
            action: e.action.name().to_string(),
        })
        .collect();
    Ok(PageExplanation { html: out, page })
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct ConsentReport {
    pub source: String,
    pub state: String,
    pub gpc: bool,
    /// Category name → `granted` / `denied` / `undecided`, in configuration order.
    pub categories: indexmap_like::OrderedMap,
    pub allowed: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct LineReport {
    pub line: String,
    pub name: String,
    pub category: Option<String>,
    pub rule: String,
    pub action: String,
}

/// A JSON object that keeps insertion order (categories in configuration order).
pub(crate) mod indexmap_like {
    use serde::ser::{Serialize, SerializeMap, Serializer};

    #[derive(Debug, Default, PartialEq, Eq)]
    pub struct OrderedMap(pub Vec<(String, String)>);

    impl Serialize for OrderedMap {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            let mut m = s.serialize_map(Some(self.0.len()))?;
            for (k, v) in &self.0 {
                m.serialize_entry(k, v)?;
            }
            m.end()
        }
    }
}

/// The inputs of one explanation.
#[derive(Debug, Default, Clone)]
pub struct Input {
    /// The request's `Cookie` header.
    pub cookie: Option<String>,
    pub gpc: bool,
    /// The request's host (for cleanup domains).
    pub host: Option<String>,
    /// Response `Set-Cookie` lines.
    pub set_cookie: Vec<String>,
}

#[derive(Default)]
struct Collect {
    lines: Vec<(Verdict, Vec<u8>)>,
    deletions: Vec<String>,
}

impl Observer for Collect {
    fn set_cookie(&mut self, _line: &[u8], name: &[u8], v: &Verdict) {
        self.lines.push((*v, name.to_vec()));
    }
    fn deletion(&mut self, _name: &str, _c: CategoryId, line: &str) {
        self.deletions.push(line.to_string());
    }
}

/// Explains what the proxy does with one request and response, at time `now`.
pub fn explain(policy: &Policy, input: &Input, now: i64) -> Explanation {
    let cookie = input.cookie.as_deref().unwrap_or("");
    let consent = policy.decide(cookie, input.gpc);
    let plan = policy.plan_request(&consent, cookie);
    let host = crate::policy::cleanup::normalize_host(input.host.as_deref().unwrap_or(""));
    let mut obs = Collect::default();
    let cleanup = policy.cleanup_lines(&plan, &host, &mut obs);
    debug_assert_eq!(cleanup, obs.deletions);

    // The same filter the proxy runs, over a header map built from the lines.
    let mut headers = http::HeaderMap::new();
    let mut reports = Vec::new();
    let mut invalid = Vec::new();
    for (i, l) in input.set_cookie.iter().enumerate() {
        match http::HeaderValue::from_str(l) {
            Ok(v) => {
                headers.append(http::header::SET_COOKIE, v);
            }
            Err(_) => invalid.push(i),
        }
    }
    let mut lines = Collect::default();
    policy.filter_set_cookies(&consent, &mut headers, now, &mut lines);
    let valid: Vec<&String> = input
        .set_cookie
        .iter()
        .enumerate()
        .filter(|(i, _)| !invalid.contains(i))
        .map(|(_, l)| l)
        .collect();
    for (line, (v, name)) in valid.into_iter().zip(lines.lines) {
        // A deleting line of a non-granted cookie is reported with the deletion the proxy sends.
        let sent = match policy.sent_line(line.as_bytes(), &v) {
            Some(std::borrow::Cow::Owned(own)) => String::from_utf8_lossy(&own).into_owned(),
            _ => line.clone(),
        };
        reports.push(LineReport {
            line: sent,
            name: String::from_utf8_lossy(&name).into_owned(),
            category: v.category.map(|c| policy.categories.name(c).to_string()),
            rule: policy.rule_label(v.class).to_string(),
            action: v.action.name().to_string(),
        });
    }

    let cats = &policy.categories;
    let request_cookie = plan
        .forward
        .forwarded(input.cookie.as_deref())
        .map(str::to_string);
    Explanation {
        consent: ConsentReport {
            source: consent.source.map_or("none", |s| s.name()).to_string(),
            state: consent.state.name().to_string(),
            gpc: consent.gpc,
            categories: indexmap_like::OrderedMap(
                cats.ids()
                    .map(|id| {
                        (
                            cats.name(id).to_string(),
                            consent.category_state(id).name().to_string(),
                        )
                    })
                    .collect(),
            ),
            allowed: consent
                .allowed
                .iter()
                .map(|id| cats.name(id).to_string())
                .collect(),
        },
        set_cookie: reports,
        deletions: cleanup,
        request_cookie,
        page: None,
    }
}

/// The human-readable form of an explanation.
pub(crate) fn to_text(e: &Explanation) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let c = &e.consent;
    let _ = writeln!(
        s,
        "consent: source {}, state {}{}",
        c.source,
        c.state,
        if c.gpc { ", Sec-GPC: 1" } else { "" }
    );
    for (name, state) in &c.categories.0 {
        let _ = writeln!(s, "  {name:<20} {state}");
    }
    let _ = writeln!(
        s,
        "allowed: {}",
        if c.allowed.is_empty() {
            "(nothing)".to_string()
        } else {
            c.allowed.join(", ")
        }
    );
    if !e.set_cookie.is_empty() {
        let _ = writeln!(s, "set-cookie:");
        for l in &e.set_cookie {
            let _ = writeln!(
                s,
                "  {:<11} {:<24} category {:<14} rule {}",
                l.action,
                l.name,
                l.category.as_deref().unwrap_or("(none)"),
                l.rule
            );
        }
    }
    if !e.deletions.is_empty() {
        let _ = writeln!(s, "deletions added:");
        for d in &e.deletions {
            let _ = writeln!(s, "  Set-Cookie: {d}");
        }
    }
    let _ = writeln!(
        s,
        "cookie header forwarded: {}",
        e.request_cookie.as_deref().unwrap_or("(none)")
    );
    if let Some(page) = &e.page {
        let _ = writeln!(s, "page:");
        for p in page {
            let _ = writeln!(
                s,
                "  {:<11} {:<7} category {:<14} rule {}  {}",
                p.action, p.element, p.category, p.rule, p.url
            );
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::testing::policy;
    use crate::policy::{Mode, Unclassified};

    #[test]
    fn explains_like_the_contract_example() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let e = explain(
            &p,
            &Input {
                cookie: Some("session=abc; consentry=functional; _ga=GA1.2.3.4".into()),
                gpc: false,
                host: Some("www.example.com".into()),
                set_cookie: vec![
                    "_ga=GA1.2.3.4; Path=/".into(),
                    "ZD-settings=1".into(),
                    "x=1".into(),
                ],
            },
            0,
        );
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["consent"]["source"], "consentry");
        assert_eq!(json["consent"]["state"], "partial");
        assert_eq!(json["consent"]["gpc"], false);
        assert_eq!(json["consent"]["categories"]["essential"], "granted");
        assert_eq!(json["consent"]["categories"]["functional"], "granted");
        assert_eq!(json["consent"]["categories"]["analytics"], "denied");
        assert_eq!(
            json["consent"]["allowed"],
            serde_json::json!(["essential", "functional"])
        );
        assert_eq!(
            json["set_cookie"][0],
            serde_json::json!({"line": "_ga=GA1.2.3.4; Path=/", "name": "_ga", "category": "analytics", "rule": "_ga", "action": "block"})
        );
        assert_eq!(json["set_cookie"][1]["action"], "pass");
        assert_eq!(json["set_cookie"][2]["category"], serde_json::Value::Null);
        assert_eq!(json["set_cookie"][2]["rule"], "(unclassified)");
        assert_eq!(
            json["deletions"],
            serde_json::json!([
                "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=www.example.com",
                "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=example.com",
                "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/"
            ])
        );
        assert_eq!(json["request_cookie"], "session=abc; consentry=functional");
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4);
        let cats: Vec<_> = e
            .consent
            .categories
            .0
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(
            cats,
            vec!["essential", "functional", "analytics", "advertising"]
        );
        assert!(to_text(&e).contains("block"));
    }

    #[test]
    fn explains_a_page() {
        let config = crate::page::tests::page_config(Mode::Enforce);
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let input = Input {
            cookie: Some("consentry=analytics".into()),
            ..Input::default()
        };
        let html = concat!(
            "<head><script async src=\"https://www.googletagmanager.com/gtag/js?id=G-1\"></script>",
            "<script src=\"https://connect.facebook.net/en_US/fbevents.js\"></script></head>",
            "<body><img data-consentry-src=\"/p.gif\" data-consentry-category=\"analytics\"></body>"
        );
        let e = explain_page(
            &p,
            &config,
            &input,
            html.as_bytes(),
            &crate::page::Prelude::none(),
        )
        .unwrap();
        let out = String::from_utf8(e.html).unwrap();
        assert!(
            out.contains(
                "<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-1\"></script>"
            ),
            "{out}"
        );
        assert!(
            out.contains(
                "fbevents.js\" type=\"text/plain\" data-consentry-category=\"advertising\""
            ),
            "{out}"
        );
        let json = serde_json::to_value(&e.page).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"element": "script", "url": "https://connect.facebook.net/en_US/fbevents.js", "category": "advertising", "rule": "connect.facebook.net", "action": "block"},
                {"element": "img", "url": "/p.gif", "category": "analytics", "rule": "(opt-in consentry)", "action": "activate"}
            ])
        );
        // Report-only: the page is unchanged, the list says what would be blocked.
        let config = crate::page::tests::page_config(Mode::ReportOnly);
        let p = policy(Mode::ReportOnly, Unclassified::Deny);
        let e = explain_page(
            &p,
            &config,
            &input,
            html.as_bytes(),
            &crate::page::Prelude::none(),
        )
        .unwrap();
        assert_eq!(e.html, html.as_bytes());
        assert_eq!(e.page[0].action, "would-block");
    }

    #[test]
    fn no_cookie_means_null_request_cookie_and_undecided() {
        let p = policy(Mode::ReportOnly, Unclassified::Deny);
        let e = explain(
            &p,
            &Input {
                set_cookie: vec!["_fbp=1".into()],
                ..Input::default()
            },
            0,
        );
        assert_eq!(e.request_cookie, None);
        assert_eq!(e.consent.source, "none");
        assert_eq!(e.consent.state, "undecided");
        assert_eq!(e.consent.categories.0[3].1, "undecided");
        assert_eq!(e.set_cookie[0].action, "would-block");
        assert!(e.deletions.is_empty());
    }

    #[test]
    fn a_deleting_line_is_reported_with_the_proxys_own_deletion() {
        let p = policy(Mode::Enforce, Unclassified::Deny);
        let e = explain(
            &p,
            &Input {
                cookie: Some("consentry=none".into()),
                set_cookie: vec![
                    "_ga=GA1; Max-Age=0; Path=/; Domain=example.com; HttpOnly".into(),
                    "_ga=GA1; Max-Age=0; Max-Age=+34560000".into(),
                ],
                ..Input::default()
            },
            0,
        );
        assert_eq!(e.set_cookie[0].action, "pass");
        assert_eq!(
            e.set_cookie[0].line,
            "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=example.com"
        );
        assert_eq!(e.set_cookie[1].action, "block");
    }
}
