//! The Grafana dashboard (`deploy/grafana/`) checked against the metrics the binary exports.
//!
//! Every file is required: a missing one fails its test, it is never skipped.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use common::deploy::*;
use consentry::config::Config;
use consentry::metrics::{Metrics, PolicyMetrics};
use serde_json::Value;

// ---------------------------------------------------------------------------------------------
// Grafana

/// The metric families of the contract (PRODUCT.md) and their types.
const CONTRACT: &[(&str, &str)] = &[
    ("consentry_set_cookie_blocked_total", "counter"),
    ("consentry_set_cookie_would_block_total", "counter"),
    ("consentry_set_cookie_passed_total", "counter"),
    ("consentry_cookie_deletions_total", "counter"),
    ("consentry_request_cookies_stripped_total", "counter"),
    ("consentry_consent_total", "counter"),
    ("consentry_gpc_requests_total", "counter"),
    ("consentry_http_requests_total", "counter"),
    ("consentry_http_request_duration_seconds", "histogram"),
    ("consentry_upstream_errors_total", "counter"),
    ("consentry_config_reloads_total", "counter"),
    ("consentry_build_info", "gauge"),
];

/// What the binary exports: every family (name -> type) and every sample name, from a metrics
/// registry that has seen one enforcing and one report-only request (label sets are created on
/// first use, and the text format leaves out families with none).
fn exported() -> (BTreeMap<String, String>, BTreeSet<String>) {
    let metrics = Metrics::new();
    let cm_docs = k8s("configmap.yaml");
    let toml = text_at(&cm_docs[0], &["data", "consentry.toml"], "configmap.yaml").to_string();
    let report_only = toml.replace("mode = \"enforce\"", "mode = \"report-only\"");
    assert_ne!(toml, report_only);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for text in [toml, report_only] {
        let config = Config::from_str(Path::new("consentry.toml"), &text).unwrap();
        let policy = &*config.policy;
        let pm = PolicyMetrics::new(&metrics, policy);
        let consent = policy.decide("consentry=functional; _ga=GA1.2; _fbp=fb.1", false);
        pm.consent(&consent);
        let mut obs = pm.observer(&metrics, policy);
        let mut headers = http::HeaderMap::new();
        for line in [
            "_ga=GA1.2.3.4; Path=/",
            "ZD-settings=x; Path=/",
            "invented=1",
        ] {
            headers.append(http::header::SET_COOKIE, line.parse().unwrap());
        }
        policy.filter_set_cookies(&consent, &mut headers, now, &mut obs);
        let plan = policy.plan_request(&consent, "_ga=GA1.2; _fbp=fb.1; session=abc");
        policy.cleanup_lines(&plan, "www.example.com", &mut obs);
        policy.report_stripped(&plan, &mut obs);
    }
    metrics.gpc.inc();
    metrics.duration.observe(0.01);

    let rendered = metrics.render();
    let mut families = BTreeMap::new();
    let mut samples = BTreeSet::new();
    for line in rendered.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, ty) = rest.split_once(' ').unwrap();
            families.insert(name.to_string(), ty.to_string());
        } else if !line.starts_with('#') && !line.is_empty() {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            samples.insert(line[..end].to_string());
        }
    }
    (families, samples)
}

fn metric_names(expr: &str) -> BTreeSet<String> {
    // Drop string literals (label values, regexes) first.
    let mut code = String::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for ch in expr.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if ch == '\\' && q != '`' {
                    escaped = true;
                } else if ch == q {
                    quote = None;
                }
            }
            None if matches!(ch, '"' | '\'' | '`') => quote = Some(ch),
            None => code.push(ch),
        }
    }
    assert!(quote.is_none(), "unterminated string in {expr}");
    consentry_words(&code)
}

/// Words that start with `consentry_`.
fn consentry_words(code: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut word = String::new();
    for ch in code.chars().chain(std::iter::once(' ')) {
        if ch.is_ascii_alphanumeric() || ch == '_' || ch == ':' {
            word.push(ch);
        } else {
            // A colon may be part of a (recorded) metric name, but not its last character.
            let w = word.trim_end_matches(':');
            if w.starts_with("consentry_") {
                names.insert(w.to_string());
            }
            word.clear();
        }
    }
    names
}

fn balanced(expr: &str) -> bool {
    let mut stack = Vec::new();
    let mut quote = None;
    for ch in expr.chars() {
        if let Some(q) = quote {
            if ch == q {
                quote = None;
            }
            continue;
        }
        let open = match ch {
            '"' => {
                quote = Some(ch);
                continue;
            }
            '(' | '[' | '{' => {
                stack.push(ch);
                continue;
            }
            ')' => '(',
            ']' => '[',
            '}' => '{',
            _ => continue,
        };
        if stack.pop() != Some(open) {
            return false;
        }
    }
    stack.is_empty() && quote.is_none()
}

/// Every panel, rows' nested panels included.
fn panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(inner) = p["panels"].as_array() {
            out.extend(inner.iter());
        }
    }
    out
}

#[test]
fn the_exported_metrics_are_the_contract() {
    let (families, samples) = exported();
    for (name, ty) in CONTRACT {
        assert_eq!(
            families.get(*name).map(String::as_str),
            Some(*ty),
            "the binary does not export {name} as a {ty}"
        );
    }
    assert!(samples.contains("consentry_http_request_duration_seconds_bucket"));
    assert!(samples.contains("consentry_http_request_duration_seconds_sum"));
    assert!(samples.contains("consentry_http_request_duration_seconds_count"));
}

#[test]
fn dashboard_queries_only_exported_metrics_and_uses_them_all() {
    let text = read(DASHBOARD);
    let dash: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD}: {e}"));
    let (families, samples) = exported();

    let schema = dash["schemaVersion"].as_i64().expect("schemaVersion");
    assert!(
        (36..=41).contains(&schema),
        "{DASHBOARD}: schemaVersion {schema}"
    );
    assert!(dash["uid"].is_string() && dash["title"].is_string());

    // The data source is chosen at import (or provisioning) through the DS_PROMETHEUS variable.
    let vars = dash["templating"]["list"]
        .as_array()
        .expect("templating.list");
    let ds_var = vars
        .iter()
        .find(|v| v["name"] == "DS_PROMETHEUS")
        .unwrap_or_else(|| panic!("{DASHBOARD}: no DS_PROMETHEUS variable"));
    assert_eq!(ds_var["type"], "datasource");
    assert_eq!(ds_var["query"], "prometheus");
    let ds_ok = |ds: &Value| ds["uid"] == "${DS_PROMETHEUS}" && ds["type"] == "prometheus";

    let mut exprs: Vec<(String, String)> = Vec::new();
    for v in vars.iter().filter(|v| v["type"] == "query") {
        assert!(
            ds_ok(&v["datasource"]),
            "{DASHBOARD}: variable {} data source",
            v["name"]
        );
        let q = v["query"]["query"]
            .as_str()
            .or(v["query"].as_str())
            .expect("variable query");
        exprs.push((format!("variable {}", v["name"]), q.to_string()));
    }
    let mut ids = BTreeSet::new();
    for p in panels(&dash) {
        let title = p["title"].as_str().unwrap_or("?").to_string();
        assert!(
            ids.insert(p["id"].as_i64().expect("panel id")),
            "{DASHBOARD}: duplicate panel id in {title}"
        );
        let g = &p["gridPos"];
        let (x, w) = (
            g["x"].as_i64().expect("gridPos.x"),
            g["w"].as_i64().expect("gridPos.w"),
        );
        assert!(
            x >= 0 && w > 0 && x + w <= 24,
            "{DASHBOARD}: {title}: gridPos"
        );
        if p["type"] == "row" {
            continue;
        }
        assert!(ds_ok(&p["datasource"]), "{DASHBOARD}: {title}: data source");
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("{DASHBOARD}: {title}: no targets"));
        assert!(!targets.is_empty(), "{DASHBOARD}: {title}: no targets");
        let mut refs = BTreeSet::new();
        for t in targets {
            assert!(
                t.get("datasource").is_none_or(ds_ok),
                "{DASHBOARD}: {title}: target data source"
            );
            assert!(
                refs.insert(t["refId"].as_str().expect("refId")),
                "{DASHBOARD}: {title}: duplicate refId"
            );
            let e = t["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{DASHBOARD}: {title}: a target without expr"));
            exprs.push((title.clone(), e.to_string()));
        }
    }

    let mut used = BTreeSet::new();
    for (where_, e) in &exprs {
        assert!(
            !e.contains("__name__"),
            "{DASHBOARD}: {where_}: name matchers cannot be checked: {e}"
        );
        assert!(
            balanced(e),
            "{DASHBOARD}: {where_}: unbalanced brackets: {e}"
        );
        let names = metric_names(e);
        assert!(
            !names.is_empty(),
            "{DASHBOARD}: {where_}: no consentry metric in {e}"
        );
        for n in names {
            assert!(
                samples.contains(&n),
                "{DASHBOARD}: {where_}: {n} is not a metric consentry exports"
            );
            used.insert(n);
        }
    }
    // Anywhere else in the file (descriptions), names must be real too.
    for n in consentry_words(&text) {
        let family_or_sample = samples.contains(&n) || families.contains_key(&n);
        assert!(
            family_or_sample,
            "{DASHBOARD}: mentions {n}, which consentry does not export"
        );
    }
    for (family, ty) in CONTRACT {
        let series: Vec<String> = if *ty == "histogram" {
            ["_bucket", "_sum", "_count"]
                .iter()
                .map(|s| format!("{family}{s}"))
                .collect()
        } else {
            vec![family.to_string()]
        };
        assert!(
            series.iter().any(|s| used.contains(s)),
            "{DASHBOARD}: no panel shows {family}"
        );
    }
    // Quantiles come from the histogram's buckets, aggregated by `le`.
    assert!(exprs
        .iter()
        .any(|(_, e)| e.contains("histogram_quantile(0.5")
            && e.contains("consentry_http_request_duration_seconds_bucket")
            && e.contains("by (le)")));
    assert!(exprs
        .iter()
        .any(|(_, e)| e.contains("histogram_quantile(0.99")));
}
