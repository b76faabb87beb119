//! The page guard in the request path: the response body phase for HTML pages, and the two
//! same-origin answers the client guard needs (the visitor's consent, and the guard script when
//! a page's CSP wants it as a file).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    HeaderName, HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY,
    CONTENT_SECURITY_POLICY_REPORT_ONLY, CONTENT_TYPE,
};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::Full;

use super::body::ResponseBody;
use super::upstream::UpstreamBody;
use crate::config::Config;
use crate::metrics::{Metrics, PageMetrics};
use crate::page::body::{is_html, prepare_head, should_rewrite, RewriteBody};
use crate::page::csp::{self, Placement};
use crate::page::guard::{self, Guard};
use crate::page::{PagePlan, Prelude};
use crate::policy::consent::Consent;

/// What the page guard needs per configuration (built once at load).
pub struct PageRuntime {
    /// The client guard, when `page.guard` is on and pages are rewritten.
    guard: Option<Arc<Guard>>,
    metrics: Arc<PageMetrics>,
}

impl PageRuntime {
    pub fn new(config: &Config, metrics: &Metrics) -> PageRuntime {
        let page = &config.page;
        let policy = &config.policy;
        let guard = (page.rewrite && page.guard).then(|| {
            let scripts: Vec<(&str, &str)> = policy
                .scripts
                .rules()
                .iter()
                .map(|r| (&*r.pattern, policy.categories.name(r.category)))
                .collect();
            Arc::new(Guard::new(policy, &scripts).with_consent_mode(page.consent_mode.as_ref()))
        });
        PageRuntime {
            guard,
            metrics: PageMetrics::new(metrics, policy),
        }
    }

    /// Answers the client guard's own requests: `GET /.consentry/consent` (the visitor's
    /// decision, from this request's cookies: the Rust policy stays the only judge) and the
    /// guard script's versioned path. `None` for every other request, which goes upstream.
    pub fn local_answer(
        &self,
        method: &Method,
        path: &str,
        consent: &Consent,
    ) -> Option<Response<ResponseBody>> {
        let a = self.local_parts(method.as_str(), path, consent)?;
        let mut r = Response::new(ResponseBody::Local(Full::new(a.body)));
        *r.status_mut() = StatusCode::OK;
        let h = r.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(a.content_type));
        h.insert(CACHE_CONTROL, HeaderValue::from_static(a.cache_control));
        h.insert(
            http::header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        Some(r)
    }

    /// What [`PageRuntime::local_answer`] answers, as parts (a `200` with `nosniff`).
    pub fn local_parts(&self, method: &str, path: &str, consent: &Consent) -> Option<LocalAnswer> {
        let guard = self.guard.as_ref()?;
        if method != "GET" && method != "HEAD" {
            return None;
        }
        let (body, content_type, cache_control) = if path == guard::CONSENT_PATH {
            (
                Bytes::from(guard.consent_response(consent)),
                "application/json",
                guard::CONSENT_CACHE_CONTROL,
            )
        } else if path == guard::guard_path() {
            (
                Bytes::from_static(guard::GUARD_JS.as_bytes()),
                guard::GUARD_CONTENT_TYPE,
                guard::GUARD_CACHE_CONTROL,
            )
        } else {
            return None;
        };
        Some(LocalAnswer {
            body,
            content_type,
            cache_control,
        })
    }

    /// The body phase: an HTML page with something to change is rewritten as it streams (its
    /// head edited: no length, no strong validator, `private`, the CSP extended for the guard
    /// only as far as it needs); everything else passes as it is.
    pub fn body(
        &self,
        config: &Config,
        consent: &Consent,
        has_body: bool,
        headers: &mut HeaderMap,
        body: UpstreamBody,
    ) -> ResponseBody {
        match self.rewrite(config, consent, has_body, headers, body) {
            Ok(rewritten) => ResponseBody::Page(Box::new(rewritten)),
            Err(body) => ResponseBody::Upstream(body),
        }
    }

    /// The rewrite of [`PageRuntime::body`] for any body: `Err` gives the body back when the
    /// response passes as it is (its head untouched).
    pub fn rewrite<B>(
        &self,
        config: &Config,
        consent: &Consent,
        has_body: bool,
        headers: &mut HeaderMap,
        body: B,
    ) -> Result<RewriteBody<B>, B>
    where
        B: http_body::Body<Data = Bytes> + Unpin,
        B::Error: Into<super::error::BoxError>,
    {
        // Most responses are not pages: that is told from the head before any per-visitor plan
        // (and its Consent Mode snippet) is built.
        if !has_body || !config.page.rewrite || !is_html(headers) {
            return Err(body);
        }
        let mut plan = PagePlan::new(&config.policy, consent, &config.page);
        if !should_rewrite(headers, &plan) {
            return Err(body);
        }
        let report_only = plan.is_report_only();
        let mut prelude = Prelude::default();
        // The guard goes on pages where something is held back; with every category granted
        // the page passes as it came (opt-in markup aside).
        if let Some(guard) = self.guard.as_ref().filter(|_| !plan.denied().is_empty()) {
            let enforce = values(headers, &CONTENT_SECURITY_POLICY);
            let report = values(headers, &CONTENT_SECURITY_POLICY_REPORT_ONLY);
            let csp = csp::plan(
                &enforce.iter().map(String::as_str).collect::<Vec<_>>(),
                &report.iter().map(String::as_str).collect::<Vec<_>>(),
            );
            if let Some(form) = &csp.form {
                // The guard sends the Consent Mode default itself: one inline script fewer
                // for the page's CSP to allow.
                plan = plan.without_consent_mode();
                prelude.html = guard::prelude(&guard.data(consent), form);
                if let Placement::Nonce(n) = &form.placement {
                    prelude.nonce = Some(n.clone());
                }
                if !report_only {
                    replace(headers, CONTENT_SECURITY_POLICY, csp.enforce);
                    replace(
                        headers,
                        CONTENT_SECURITY_POLICY_REPORT_ONLY,
                        csp.report_only,
                    );
                }
            }
        }
        if !report_only {
            prepare_head(headers);
        }
        RewriteBody::for_response(
            body,
            headers,
            plan,
            &prelude,
            Box::new(self.metrics.observer()),
        )
    }
}

/// A response the proxy answers itself for the client guard.
pub struct LocalAnswer {
    pub body: Bytes,
    pub content_type: &'static str,
    pub cache_control: &'static str,
}

fn values(headers: &HeaderMap, name: &HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

/// Puts `lines` in place of the header's fields, when the CSP plan changed them.
fn replace(headers: &mut HeaderMap, name: HeaderName, lines: Option<Vec<String>>) {
    let Some(lines) = lines else { return };
    headers.remove(&name);
    for l in lines {
        if let Ok(v) = HeaderValue::from_str(&l) {
            headers.append(name.clone(), v);
        }
    }
}
