//! The page guard from the command line: `consentry explain --html` and `consentry check`, on the
//! shipped configuration with the tracker catalogue.

mod common;

use std::path::{Path, PathBuf};

use common::process::consentry;

fn zendesk() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/zendesk.toml")
        .display()
        .to_string()
}

const PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Help</title>
<script async src="https://www.googletagmanager.com/gtag/js?id=G-ABC123"></script>
<script>window.dataLayer=window.dataLayer||[];function gtag(){dataLayer.push(arguments);}gtag('js',new Date());gtag('config','G-ABC123');</script>
<script>!function(f,b,e,v,n,t,s){if(f.fbq)return;n=f.fbq=function(){n.callMethod?n.callMethod.apply(n,arguments):n.queue.push(arguments)};if(!f._fbq)f._fbq=n;n.push=n;n.loaded=!0;n.version='2.0';n.queue=[];t=b.createElement(e);t.async=!0;t.src=v;s=b.getElementsByTagName(e)[0];s.parentNode.insertBefore(t,s)}(window,document,'script','https://connect.facebook.net/en_US/fbevents.js');fbq('init','1');fbq('track','PageView');</script>
<noscript><img height="1" width="1" src="https://www.facebook.com/tr?id=1&ev=PageView&noscript=1"/></noscript>
<script type="application/ld+json">{"@type":"Organization","url":"https://connect.facebook.net/"}</script>
</head><body><h1>Help center</h1>
<script id="ze-snippet" src="https://static.zdassets.com/ekr/snippet.js?key=abc"></script>
</body></html>
"#;

fn page_file(tag: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("consentry-page-{tag}-{}.html", std::process::id()));
    std::fs::write(&p, PAGE).unwrap();
    p
}

#[test]
fn explain_html_prints_the_rewritten_page() {
    let file = page_file("text");
    let (code, out, err) = consentry(&[
        "explain",
        "--config",
        &zendesk(),
        "--cookie",
        "consentry=functional",
        "--html",
        file.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    // Consent Mode first in <head>, after the charset.
    assert!(
        out.contains(
            "<meta charset=\"utf-8\"><script>(function(){var w=window;w.dataLayer=w.dataLayer||[];"
        ),
        "{out}"
    );
    assert!(out.contains("\"analytics_storage\":\"denied\""));
    assert!(out.contains("\"functionality_storage\":\"granted\""));
    assert!(out.contains("<script async src=\"https://www.googletagmanager.com/gtag/js?id=G-ABC123\" type=\"text/plain\" data-consentry-category=\"analytics\"></script>"), "{out}");
    assert!(out.contains("<script type=\"text/plain\" data-consentry-category=\"advertising\">!function(f,b,e,v,n,t,s)"), "{out}");
    assert!(
        out.contains(
            "data-consentry-src=\"https://www.facebook.com/tr?id=1&ev=PageView&noscript=1\""
        ),
        "{out}"
    );
    assert!(out.contains("<script type=\"application/ld+json\">{\"@type\":\"Organization\",\"url\":\"https://connect.facebook.net/\"}</script>"));
    // The support widget is functional, which this visitor granted.
    assert!(out.contains("<script id=\"ze-snippet\" src=\"https://static.zdassets.com/ekr/snippet.js?key=abc\"></script>"));
    std::fs::remove_file(file).unwrap();
}

#[test]
fn explain_html_json_lists_the_page_elements() {
    let file = page_file("json");
    let (code, out, err) = consentry(&[
        "explain",
        "--config",
        &zendesk(),
        "--html",
        file.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["consent"]["state"], "undecided");
    assert_eq!(
        v["page"],
        serde_json::json!([
            {"element": "script", "url": "https://www.googletagmanager.com/gtag/js?id=G-ABC123", "category": "analytics", "rule": "googletagmanager.com/gtag/js?id=G-*", "action": "block"},
            {"element": "script", "url": "connect.facebook.net/en_US/fbevents.js", "category": "advertising", "rule": "connect.facebook.net", "action": "block"},
            {"element": "img", "url": "https://www.facebook.com/tr?id=1&ev=PageView&noscript=1", "category": "advertising", "rule": "facebook.com/tr", "action": "block"},
            {"element": "script", "url": "https://static.zdassets.com/ekr/snippet.js?key=abc", "category": "functional", "rule": "zdassets.com", "action": "block"}
        ])
    );
    // Without --html there is no `page` key.
    let (_, out, _) = consentry(&["explain", "--config", &zendesk(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(v.get("page").is_none());
    // A missing file is an error naming it.
    let (code, _, err) = consentry(&[
        "explain",
        "--config",
        &zendesk(),
        "--html",
        "/nonexistent/page.html",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("/nonexistent/page.html"), "{err}");
    std::fs::remove_file(file).unwrap();
}

#[test]
fn check_reports_script_patterns_and_page_settings() {
    let (code, out, err) = consentry(&["check", "--config", &zendesk()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("page: rewrite on, guard on, google consent mode on ("),
        "{out}"
    );
    let analytics = out
        .lines()
        .find(|l| l.trim_start().starts_with("analytics"))
        .unwrap();
    assert!(analytics.contains(" scripts"), "{analytics}");
    let n: usize = analytics
        .split(", ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    assert!(n > 20, "{analytics}");
}
