//! The admin status page at `/`: blocked and passed cookies per category and per rule since
//! start, with bars, and the unclassified names. Self-contained HTML, no external assets.

use std::fmt::Write;

/// The status page's style sheet, inlined (the page is self-contained; its CSP allows only
/// inline styles).
const STATUS_CSS: &str = include_str!("assets/status.css");

use crate::html::escape;
use crate::metrics::Metrics;

/// Sums samples by one label.
fn by_label(samples: &[(Vec<(String, String)>, f64)], label: &str) -> Vec<(String, f64)> {
    let mut out: Vec<(String, f64)> = Vec::new();
    for (labels, v) in samples {
        let key = labels
            .iter()
            .find(|(k, _)| k == label)
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, total)) => *total += v,
            None => out.push((key, *v)),
        }
    }
    out.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out
}

fn bars(html: &mut String, title: &str, rows: &[(String, f64)], class: &str) {
    let _ = write!(html, "<section><h2>{}</h2>", escape(title));
    let rows: Vec<_> = rows.iter().filter(|(_, v)| *v > 0.0).collect();
    if rows.is_empty() {
        html.push_str("<p class=\"empty\">nothing yet</p></section>");
        return;
    }
    let max = rows.iter().map(|(_, v)| *v).fold(1.0, f64::max);
    html.push_str("<table>");
    for (name, v) in rows {
        let pct = (v / max * 100.0).max(0.5);
        let _ = write!(
            html,
            "<tr><th>{}</th><td class=\"bar\"><span class=\"{class}\" style=\"width:{pct:.1}%\"></span></td><td class=\"n\">{v}</td></tr>",
            escape(name)
        );
    }
    html.push_str("</table></section>");
}

/// Renders the page.
pub fn render(metrics: &Metrics, draining: bool) -> String {
    let blocked = metrics.samples("consentry_set_cookie_blocked_total");
    let would = metrics.samples("consentry_set_cookie_would_block_total");
    let passed = metrics.samples("consentry_set_cookie_passed_total");
    let deletions = metrics.samples("consentry_cookie_deletions_total");
    let requests = metrics.samples("consentry_http_requests_total");
    let consent = metrics.samples("consentry_consent_total");
    let page = metrics.samples("consentry_page_elements_blocked_total");
    // A fold from +0.0: `sum` of no samples is -0.0, which would print as "-0".
    let total = |s: &[(Vec<(String, String)>, f64)]| s.iter().fold(0.0, |acc, (_, v)| acc + v);

    let mut html = String::with_capacity(16 * 1024);
    html.push_str(concat!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        "<title>consentry status</title><style>",
    ));
    html.push_str(STATUS_CSS);
    html.push_str("</style></head><body>");
    let _ = write!(
        html,
        "<header><h1>consentry</h1><p>version {} &middot; {} &middot; <a style=\"color:#b9c0cf\" href=\"/metrics\">/metrics</a> &middot; <a style=\"color:#b9c0cf\" href=\"/unclassified\">/unclassified</a></p></header><main>",
        env!("CARGO_PKG_VERSION"),
        if draining { "draining" } else { "ready" }
    );
    let _ = write!(
        html,
        "<section><h2>Since start</h2><div class=\"kpi\"><div><b id=\"requests\">{}</b>requests</div><div><b id=\"blocked\">{}</b>cookies blocked</div><div><b>{}</b>would block (report-only)</div><div><b>{}</b>cookies passed</div><div><b>{}</b>deletions sent</div></div></section>",
        total(&requests),
        total(&blocked),
        total(&would),
        total(&passed),
        total(&deletions)
    );
    bars(
        &mut html,
        "Blocked per category",
        &by_label(&blocked, "category"),
        "blocked",
    );
    bars(
        &mut html,
        "Passed per category",
        &by_label(&passed, "category"),
        "passed",
    );
    let mut rules = by_label(&blocked, "rule");
    rules.truncate(30);
    bars(&mut html, "Blocked per rule (top 30)", &rules, "blocked");
    if total(&would) > 0.0 {
        bars(
            &mut html,
            "Would block per category (report-only)",
            &by_label(&would, "category"),
            "would",
        );
    }
    if total(&page) > 0.0 {
        bars(
            &mut html,
            "Page elements held back per category",
            &by_label(&page, "category"),
            "blocked",
        );
        bars(
            &mut html,
            "Page elements held back per element",
            &by_label(&page, "element"),
            "blocked",
        );
        let mut page_rules = by_label(&page, "rule");
        page_rules.truncate(30);
        bars(
            &mut html,
            "Page elements held back per script pattern (top 30)",
            &page_rules,
            "blocked",
        );
    }
    bars(
        &mut html,
        "Deletions per category",
        &by_label(&deletions, "category"),
        "deleted",
    );
    bars(
        &mut html,
        "Consent decisions by state",
        &by_label(&consent, "state"),
        "plain",
    );
    bars(
        &mut html,
        "Consent decisions by source",
        &by_label(&consent, "source"),
        "plain",
    );
    let top: Vec<(String, f64)> = metrics
        .unclassified
        .top()
        .into_iter()
        .take(30)
        .map(|e| (e.name, e.count as f64))
        .collect();
    bars(
        &mut html,
        "Unclassified cookie names (classify them!)",
        &top,
        "plain",
    );
    html.push_str("</main></body></html>");
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hostile_names() {
        let m = Metrics::new();
        m.unclassified.record(b"<script>alert(1)</script>");
        let html = render(&m, false);
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("consentry status"));
    }

    #[test]
    fn empty_totals_read_zero_not_minus_zero() {
        let html = render(&Metrics::new(), false);
        assert!(!html.contains("<b>-0</b>"), "{html}");
        assert!(html.contains("<b>0</b>would block (report-only)"));
    }
}
