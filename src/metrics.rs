//! Prometheus metrics. Label values are resolved once per configuration (or once per series, on
//! first use) so the request path only increments atomics.
//!
//! Labels stay bounded whatever cookie names upstreams invent: `rule` is a configured pattern,
//! `(consent)` or `(unclassified)`, and `category` a configured category or `(unclassified)`.
//!
//! The counters are shared by all workers, not sharded per worker: with two workers under load on
//! both cores, a build with every request-path increment removed used the same CPU per request
//! (median 25.4 µs over 6 interleaved rounds, both builds), so shards would buy nothing
//! measurable.

use std::sync::OnceLock;

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

use crate::page::{PageEvent, PageObserver, Tag};
use crate::policy::categories::Categories;
use crate::policy::categories::CategoryId;
use crate::policy::consent::{Consent, ConsentState, SourceKind};
use crate::policy::filter::{Action, Observer, Verdict};
use crate::policy::scripts::ScriptMatcher;
use crate::policy::Policy;
use std::sync::Arc;

/// Label for cookies no rule names and no category holds.
pub(crate) const UNCLASSIFIED: &str = "(unclassified)";

/// Every metric family, registered once per process.
pub struct Metrics {
    registry: Registry,
    blocked: IntCounterVec,
    would_block: IntCounterVec,
    passed: IntCounterVec,
    deletions: IntCounterVec,
    stripped: IntCounterVec,
    consent: IntCounterVec,
    pub gpc: IntCounter,
    /// `consentry_http_requests_total` for 1xx..5xx, resolved once.
    requests: [IntCounter; 5],
    pub duration: Histogram,
    upstream_errors: IntCounterVec,
    reloads: IntCounterVec,
    /// `consentry_page_elements_blocked_total`.
    page_blocked: IntCounterVec,
    /// The most frequent unclassified cookie names.
    pub unclassified: crate::unclassified::TopNames,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let v = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(v.clone()))
        .expect("metric registered once");
    v
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let blocked = counter_vec(
            &r,
            "consentry_set_cookie_blocked_total",
            "Set-Cookie lines removed because their category was not consented to.",
            &["category", "rule"],
        );
        let would_block = counter_vec(
            &r,
            "consentry_set_cookie_would_block_total",
            "Set-Cookie lines report-only mode would have removed.",
            &["category", "rule"],
        );
        let passed = counter_vec(
            &r,
            "consentry_set_cookie_passed_total",
            "Set-Cookie lines passed through.",
            &["category"],
        );
        let deletions = counter_vec(&r, "consentry_cookie_deletions_total", "Expiring Set-Cookie lines added for cookies of non-granted categories the browser sent.", &["category"]);
        let stripped = counter_vec(
            &r,
            "consentry_request_cookies_stripped_total",
            "Cookies removed from the Cookie header sent upstream.",
            &["category"],
        );
        let consent = counter_vec(
            &r,
            "consentry_consent_total",
            "Requests by the consent source that decided and the state it recorded.",
            &["source", "state"],
        );
        let gpc = IntCounter::new(
            "consentry_gpc_requests_total",
            "Requests carrying Sec-GPC: 1.",
        )
        .expect("valid metric");
        r.register(Box::new(gpc.clone()))
            .expect("metric registered once");
        let requests = counter_vec(
            &r,
            "consentry_http_requests_total",
            "Proxied requests by response status class.",
            &["code"],
        );
        let duration = Histogram::with_opts(
            HistogramOpts::new(
                "consentry_http_request_duration_seconds",
                "Time from receiving a request to sending its response headers.",
            )
            .buckets(vec![
                0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
                10.0, 30.0, 60.0,
            ]),
        )
        .expect("valid metric");
        r.register(Box::new(duration.clone()))
            .expect("metric registered once");
        let upstream_errors = counter_vec(
            &r,
            "consentry_upstream_errors_total",
            "Upstream failures by kind.",
            &["kind"],
        );
        let reloads = counter_vec(
            &r,
            "consentry_config_reloads_total",
            "Configuration reloads by result.",
            &["result"],
        );
        let page_blocked = counter_vec(
            &r,
            "consentry_page_elements_blocked_total",
            "Page elements neutralised (or, in report-only mode, that would be) because their URL matches a script pattern of a category not granted.",
            &["category", "rule", "element"],
        );
        let build = IntGaugeVec::new(
            Opts::new("consentry_build_info", "Build information."),
            &["version"],
        )
        .expect("valid metric");
        r.register(Box::new(build.clone()))
            .expect("metric registered once");
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        // Series that exist from the start, so dashboards and alerts see zeros rather than gaps.
        for kind in ["connect", "timeout", "protocol"] {
            upstream_errors.with_label_values(&[kind]);
        }
        for result in ["ok", "error"] {
            reloads.with_label_values(&[result]);
        }
        let requests =
            ["1xx", "2xx", "3xx", "4xx", "5xx"].map(|code| requests.with_label_values(&[code]));
        Metrics {
            registry: r,
            blocked,
            would_block,
            passed,
            deletions,
            stripped,
            consent,
            gpc,
            requests,
            duration,
            upstream_errors,
            reloads,
            page_blocked,
            unclassified: Default::default(),
        }
    }

    /// The samples of one counter family: each series' labels and value.
    pub fn samples(&self, family: &str) -> Vec<(Vec<(String, String)>, f64)> {
        self.registry
            .gather()
            .into_iter()
            .filter(|f| f.name() == family)
            .flat_map(|f| {
                f.get_metric()
                    .iter()
                    .map(|m| {
                        let labels = m
                            .get_label()
                            .iter()
                            .map(|l| (l.name().to_string(), l.value().to_string()))
                            .collect();
                        (labels, m.get_counter().get_value())
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding cannot fail");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }

    pub fn request(&self, status: http::StatusCode) {
        let class = (status.as_u16() / 100).clamp(1, 5) as usize - 1;
        self.requests[class].inc();
    }

    pub(crate) fn upstream_error(&self, kind: &'static str) {
        self.upstream_errors.with_label_values(&[kind]).inc();
    }

    pub fn reload(&self, ok: bool) {
        self.reloads
            .with_label_values(&[if ok { "ok" } else { "error" }])
            .inc();
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Counter handles for one policy, resolved lazily per series.
pub struct PolicyMetrics {
    rule_blocked: Vec<OnceLock<IntCounter>>,
    rule_would: Vec<OnceLock<IntCounter>>,
    /// Per category, plus one slot for "no category", for unclassified/consent lines.
    other_blocked: Vec<OnceLock<IntCounter>>,
    other_would: Vec<OnceLock<IntCounter>>,
    passed: Vec<OnceLock<IntCounter>>,
    deletions: Vec<OnceLock<IntCounter>>,
    stripped: Vec<OnceLock<IntCounter>>,
    /// `[source][state]`, source index `SourceKind::ALL.len()` meaning `none`.
    consent: Vec<[IntCounter; 5]>,
}

fn lazy(n: usize) -> Vec<OnceLock<IntCounter>> {
    (0..n).map(|_| OnceLock::new()).collect()
}

impl PolicyMetrics {
    pub fn new(metrics: &Metrics, policy: &Policy) -> PolicyMetrics {
        let rules = policy.matcher.rules().len();
        let cats = policy.categories.len() + 1;
        let consent = SourceKind::ALL
            .iter()
            .map(|k| k.name())
            .chain(std::iter::once("none"))
            .map(|source| {
                std::array::from_fn(|i| {
                    metrics
                        .consent
                        .with_label_values(&[source, ConsentState::ALL[i].name()])
                })
            })
            .collect();
        PolicyMetrics {
            rule_blocked: lazy(rules),
            rule_would: lazy(rules),
            other_blocked: lazy(cats),
            other_would: lazy(cats),
            passed: lazy(cats),
            deletions: lazy(cats),
            stripped: lazy(cats),
            consent,
        }
    }

    pub fn consent(&self, consent: &Consent) {
        let idx = |k: SourceKind| {
            SourceKind::ALL
                .iter()
                .position(|&x| x == k)
                .unwrap_or(SourceKind::ALL.len())
        };
        let source = match (consent.source, consent.state) {
            (Some(k), _) => idx(k),
            (None, ConsentState::Invalid) => consent.invalid.map_or(SourceKind::ALL.len(), idx),
            _ => SourceKind::ALL.len(),
        };
        let state = ConsentState::ALL
            .iter()
            .position(|&s| s == consent.state)
            .unwrap_or(0);
        self.consent[source][state].inc();
        // A malformed cookie passed over for a later source's decision is counted as well.
        if let (Some(_), Some(bad)) = (consent.source, consent.invalid) {
            self.consent[idx(bad)][4].inc();
        }
    }

    /// An observer that counts one request's cookie decisions.
    pub fn observer<'a>(&'a self, metrics: &'a Metrics, policy: &'a Policy) -> Counting<'a> {
        Counting {
            pm: self,
            metrics,
            policy,
        }
    }
}

/// Counts filter decisions into [`PolicyMetrics`].
pub struct Counting<'a> {
    pm: &'a PolicyMetrics,
    metrics: &'a Metrics,
    policy: &'a Policy,
}

impl Counting<'_> {
    fn cat_slot(&self, c: Option<CategoryId>) -> usize {
        c.map_or(self.policy.categories.len(), CategoryId::index)
    }

    fn cat_label(&self, c: Option<CategoryId>) -> &str {
        c.map_or(UNCLASSIFIED, |c| self.policy.categories.name(c))
    }

    fn category_counter(
        &self,
        cells: &[OnceLock<IntCounter>],
        vec: &IntCounterVec,
        c: Option<CategoryId>,
    ) -> IntCounter {
        cells[self.cat_slot(c)]
            .get_or_init(|| vec.with_label_values(&[self.cat_label(c)]))
            .clone()
    }
}

impl Observer for Counting<'_> {
    fn set_cookie(&mut self, _line: &[u8], name: &[u8], v: &Verdict) {
        if v.class == crate::policy::Class::Unclassified {
            self.metrics.unclassified.record(name);
        }
        let slot = self.cat_slot(v.category);
        match v.action {
            Action::Pass => {
                self.pm.passed[slot]
                    .get_or_init(|| {
                        self.metrics
                            .passed
                            .with_label_values(&[self.cat_label(v.category)])
                    })
                    .inc();
            }
            Action::Block | Action::WouldBlock => {
                let (vec, per_rule, per_cat) = if v.action == Action::Block {
                    (
                        &self.metrics.blocked,
                        &self.pm.rule_blocked,
                        &self.pm.other_blocked,
                    )
                } else {
                    (
                        &self.metrics.would_block,
                        &self.pm.rule_would,
                        &self.pm.other_would,
                    )
                };
                let cell = match v.rule() {
                    Some(r) => &per_rule[r.0 as usize],
                    None => &per_cat[slot],
                };
                cell.get_or_init(|| {
                    vec.with_label_values(&[
                        self.cat_label(v.category),
                        self.policy.rule_label(v.class),
                    ])
                })
                .inc();
            }
        }
    }

    fn deletion(&mut self, _name: &str, category: CategoryId, _line: &str) {
        self.category_counter(&self.pm.deletions, &self.metrics.deletions, Some(category))
            .inc();
    }

    fn stripped(&mut self, _name: &str, category: CategoryId) {
        self.category_counter(&self.pm.stripped, &self.metrics.stripped, Some(category))
            .inc();
    }
}

/// Counter handles of the page guard for one policy: one cell per (script rule, element), so
/// labels stay bounded by the configuration whatever pages contain.
pub struct PageMetrics {
    vec: IntCounterVec,
    scripts: Arc<ScriptMatcher>,
    categories: Categories,
    cells: Vec<OnceLock<IntCounter>>,
}

impl PageMetrics {
    pub fn new(metrics: &Metrics, policy: &Policy) -> Arc<PageMetrics> {
        let cells = policy.scripts.rules().len() * Tag::ALL.len();
        Arc::new(PageMetrics {
            vec: metrics.page_blocked.clone(),
            scripts: policy.scripts.clone(),
            categories: policy.categories.clone(),
            cells: lazy(cells),
        })
    }

    /// An observer for one response, counting into these cells.
    pub fn observer(self: &Arc<Self>) -> PageCounting {
        PageCounting(self.clone())
    }
}

/// Counts neutralised page elements (`block` and `would-block`; activations are not counted).
pub struct PageCounting(Arc<PageMetrics>);

impl PageObserver for PageCounting {
    fn element(&mut self, e: &PageEvent<'_>) {
        let pm = &*self.0;
        let Some(rule) = e.action.rule() else {
            return;
        };
        let r = rule.0 as usize;
        if r >= pm.scripts.rules().len() {
            return;
        }
        let cell = &pm.cells[r * Tag::ALL.len() + e.element.index()];
        cell.get_or_init(|| {
            let rule = pm.scripts.rule(rule);
            pm.vec.with_label_values(&[
                pm.categories.name(rule.category),
                &rule.pattern,
                e.element.name(),
            ])
        })
        .inc();
    }
}

#[cfg(test)]
mod page_tests {
    use super::*;
    use crate::page::PageAction;
    use crate::policy::categories::CategoryId;
    use crate::policy::scripts::ScriptRuleId;

    #[test]
    fn page_elements_are_counted_per_category_rule_and_element() {
        let m = Metrics::new();
        let p = crate::policy::testing::policy(
            crate::policy::Mode::Enforce,
            crate::policy::Unclassified::Deny,
        )
        .with_scripts(
            ScriptMatcher::new([
                ("connect.facebook.net", CategoryId(3)),
                ("hotjar.com", CategoryId(2)),
            ])
            .unwrap(),
        );
        let pm = PageMetrics::new(&m, &p);
        let mut obs = pm.observer();
        let ev = |element, action| PageEvent {
            element,
            url: "https://connect.facebook.net/x.js",
            category: CategoryId(3),
            action,
        };
        obs.element(&ev(Tag::Script, PageAction::Block(ScriptRuleId(0))));
        obs.element(&ev(Tag::Script, PageAction::WouldBlock(ScriptRuleId(0))));
        obs.element(&ev(Tag::Img, PageAction::Block(ScriptRuleId(0))));
        obs.element(&ev(Tag::Script, PageAction::Activate("consentry")));
        let mut samples = m.samples("consentry_page_elements_blocked_total");
        samples.sort_by(|a, b| a.0.cmp(&b.0));
        let label = |s: &(Vec<(String, String)>, f64)| {
            s.0.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        assert_eq!(samples.len(), 2);
        assert_eq!(
            label(&samples[0]),
            "category=advertising,element=img,rule=connect.facebook.net"
        );
        assert_eq!(samples[0].1, 1.0);
        assert_eq!(
            label(&samples[1]),
            "category=advertising,element=script,rule=connect.facebook.net"
        );
        assert_eq!(samples[1].1, 2.0);
        assert!(m
            .render()
            .contains("# TYPE consentry_page_elements_blocked_total counter"));
    }
}
