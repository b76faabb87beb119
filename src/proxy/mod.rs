//! The reverse proxy. One request, read top to bottom as phases ([`forward`]):
//!
//! 1. [`validate`]: refuse what must not be forwarded (method, framing, host, body limit);
//! 2. [`decide`]: the visitor's consent and what becomes of the cookies the browser sent;
//! 3. [`upstream_request`]: the request the upstream gets (hop-by-hop headers, `Cookie`,
//!    forwarding headers, origin-form target);
//! 4. [`send`]: to the upstream, bounded by `response_timeout`;
//! 5. [`respond`]: the response head checked and filtered (`Set-Cookie`, cleanup lines,
//!    caching), metrics counted for what was sent;
//! 6. [`tunnel`]: for a protocol switch both sides asked for, the bytes relayed both ways.
//!
//! Each phase only reads what the earlier ones produced; errors say where they came from
//! ([`error::ProxyError`]) and that decides the status.

pub mod body;
pub mod error;
pub mod headers;
pub mod page;
pub mod upstream;

use std::borrow::Cow;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::header::{
    HeaderValue, ALLOW, CONNECTION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE, TE,
    TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, Method, Request, Response, StatusCode, Version};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::config::Config;
use crate::metrics::{Metrics, PolicyMetrics};
use crate::policy::categories::CategoryId;
use crate::policy::consent::Consent;
use crate::policy::filter::{Action, CookieEdit, Observer, Verdict};
use crate::policy::{host, Policy};
use body::RequestBody;
use error::ProxyError;
use upstream::{UpstreamBody, UpstreamClient};

pub use body::ResponseBody;

/// Everything one configuration needs at request time. Swapped whole on reload; a request keeps
/// the snapshot it started with.
pub struct Runtime {
    pub config: Arc<Config>,
    pub policy_metrics: PolicyMetrics,
    pub client: UpstreamClient,
    /// The TLS acceptor of `[tls]`, certificates loaded.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    /// The page guard: HTML rewrite and the client guard's answers.
    pub page: page::PageRuntime,
    /// The upstream as the own HTTP/1.1 path reaches it (`http://` upstreams only).
    pub http1: Option<crate::http1::upstream::Upstream>,
}

impl Runtime {
    /// The runtime of `config`, serving TLS with `tls` (the server loads the certificates).
    /// Given the one it replaces, it keeps that one's upstream connections when the upstream
    /// settings did not change, so a reload does not make every request in flight open a new
    /// connection.
    pub fn new(
        config: Arc<Config>,
        metrics: &Metrics,
        previous: Option<&Runtime>,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Result<Runtime, String> {
        let reused = previous
            .filter(|prev| prev.config.upstream == config.upstream)
            .and_then(|prev| prev.client.reused());
        let client = match reused {
            Some(c) => c,
            None => upstream::client(&config.upstream, config.server.workers)?,
        };
        Ok(Runtime {
            policy_metrics: PolicyMetrics::new(metrics, &config.policy),
            page: page::PageRuntime::new(&config, metrics),
            http1: crate::http1::upstream::Upstream::new(&config.upstream),
            client,
            tls,
            config,
        })
    }
}

/// State shared by every connection of the process.
pub struct Shared {
    pub current: ArcSwap<Runtime>,
    pub metrics: Arc<Metrics>,
    /// Set while draining: `/readyz` answers 503.
    pub draining: AtomicBool,
    /// Add `X-Consentry-Blocked` / `X-Consentry-Deleted` (cookie names only) for the demo page.
    pub debug_headers: bool,
}

impl Shared {
    pub fn new(runtime: Runtime, metrics: Arc<Metrics>, debug_headers: bool) -> Shared {
        Shared {
            current: ArcSwap::from_pointee(runtime),
            metrics,
            draining: AtomicBool::new(false),
            debug_headers,
        }
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A short local response.
pub fn local_response(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut r = Response::new(ResponseBody::Local(Full::new(Bytes::from_static(
        text.as_bytes(),
    ))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Handles one client request. Never fails: errors become 4xx/5xx responses.
pub async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
    peer: SocketAddr,
    https: bool,
) -> Result<Response<ResponseBody>, Infallible> {
    let started = Instant::now();
    let rt = shared.current.load_full();
    let resp = match forward(&shared, &rt, req, peer, https).await {
        Ok(r) => r,
        Err(e) => error_response(&shared, e),
    };
    shared.metrics.request(resp.status());
    shared
        .metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    Ok(resp)
}

/// The local response for a failed request, logged with its cause chain and counted when the
/// upstream is to blame.
fn error_response(shared: &Shared, e: ProxyError) -> Response<ResponseBody> {
    note_error(shared, &e);
    let mut r = local_response(e.status(), e.body());
    if e.closes_connection() {
        r.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    if matches!(e, ProxyError::MethodNotAllowed) {
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static(ALLOWED));
    }
    r
}

/// Logs a failed request with its cause chain and counts it when the upstream is to blame.
pub(crate) fn note_error(shared: &Shared, e: &ProxyError) {
    let status = e.status().as_u16();
    match e.upstream_kind() {
        Some(kind) => {
            shared.metrics.upstream_error(kind);
            tracing::warn!(error = %e.chain(), status, "upstream request failed");
        }
        None => tracing::info!(error = %e.chain(), status, "request rejected"),
    }
}

/// The `Allow` field of a 405.
pub(crate) const ALLOWED: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, TRACE";

/// The phases of one request, in order.
async fn forward(
    shared: &Shared,
    rt: &Runtime,
    req: Request<Incoming>,
    peer: SocketAddr,
    https: bool,
) -> Result<Response<ResponseBody>, ProxyError> {
    let target = validate(&req, &rt.config)?;
    let decision = decide(rt, &shared.metrics, req.headers(), &target);
    if let Some(local) = rt
        .page
        .local_answer(req.method(), req.uri().path(), &decision.consent)
    {
        return Ok(local);
    }
    let (up_req, upgrade) = upstream_request(&rt.config, req, &target, &decision, peer, https)?;
    let resp = send(rt, up_req).await?;
    respond(shared, rt, resp, &target, &decision, upgrade)
}

/// Marks an HTTP/1.1 request that carried both `Transfer-Encoding` and `Content-Length`.
#[derive(Clone, Copy, Debug)]
pub struct AmbiguousFraming;

/// What phase 1 learned about the request.
struct Target {
    /// The authority the upstream sees: an absolute-form target's (RFC 9112 §3.2.2) or
    /// HTTP/2's `:authority`, else `Host`. Checked by [`host::parse`].
    host: Option<HeaderValue>,
    /// An HTTP/1.1 protocol switch (`Connection: upgrade` with `Upgrade`).
    upgrade: bool,
    /// A `HEAD` request: its response has no body to rewrite.
    head: bool,
}

/// Phase 1: refuses what must not be forwarded.
fn validate(req: &Request<Incoming>, config: &Config) -> Result<Target, ProxyError> {
    if req.method() == Method::CONNECT {
        return Err(ProxyError::MethodNotAllowed);
    }
    let h = req.headers();
    // Both Transfer-Encoding and Content-Length (RFC 9112 §6.1): a smuggling probe, refused as
    // nginx and Envoy do, and the connection closed. hyper drops Content-Length before the
    // request gets here; the server's framing watcher marks it.
    if req.extensions().get::<AmbiguousFraming>().is_some() {
        return Err(ProxyError::BadRequest(
            "both Transfer-Encoding and Content-Length",
        ));
    }
    // Transfer codings other than chunked, even before a final chunked: hyper decodes the
    // chunked framing only, and the rest would reach the upstream as content with no field
    // saying so (Transfer-Encoding is hop-by-hop). nginx answers 501 too.
    if headers::tokens(h, &TRANSFER_ENCODING).any(|t| !t.eq_ignore_ascii_case(b"chunked")) {
        return Err(ProxyError::TransferCoding);
    }
    // HTTP/1.1 needs exactly one Host (RFC 9112 §3.2).
    let hosts = h.get_all(HOST).iter().count();
    if hosts > 1
        || (hosts == 0 && req.version() == Version::HTTP_11 && req.uri().authority().is_none())
    {
        return Err(ProxyError::BadRequest(
            "an HTTP/1.1 request needs exactly one Host header",
        ));
    }
    let host = match req.uri().authority() {
        Some(a) => Some(
            HeaderValue::from_str(a.as_str())
                .map_err(|_| ProxyError::BadRequest("invalid authority"))?,
        ),
        None => h.get(HOST).cloned(),
    };
    if let Some(v) = &host {
        if host::parse(v.as_bytes()).is_none() {
            return Err(ProxyError::BadRequest("invalid host"));
        }
    }
    if let Some(limit) = config.server.max_body_bytes {
        let declared = h
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(ProxyError::BodyTooLarge);
        }
    }
    Ok(Target {
        host,
        upgrade: req.version() == Version::HTTP_11 && headers::is_upgrade(h),
        head: req.method() == Method::HEAD,
    })
}

/// Phase 2's result: the visitor's consent and the request plan. Nothing of it is counted
/// until the response that carries it is returned.
pub(crate) struct Decision {
    pub(crate) consent: Consent,
    /// The `Cookie` header sent upstream.
    pub(crate) forward: CookieEdit,
    /// Expiring lines for cookies of non-granted categories the browser sent.
    pub(crate) cleanup: Vec<String>,
    /// The cookie name and category of each cleanup line, in order.
    pub(crate) deleted: Vec<(Box<str>, CategoryId)>,
    /// Cookies removed from the forwarded `Cookie` header.
    pub(crate) stripped: Vec<(Box<str>, CategoryId)>,
}

/// Records cleanup and stripping decisions, to be counted once the response is returned.
#[derive(Default)]
struct Deferred {
    deleted: Vec<(Box<str>, CategoryId)>,
    stripped: Vec<(Box<str>, CategoryId)>,
}

impl Observer for Deferred {
    fn deletion(&mut self, name: &str, category: CategoryId, _line: &str) {
        self.deleted.push((name.into(), category));
    }
    fn stripped(&mut self, name: &str, category: CategoryId) {
        self.stripped.push((name.into(), category));
    }
}

/// Phase 2: decides the request's consent (counted here: the request was decided) and plans
/// what becomes of its cookies.
fn decide(rt: &Runtime, metrics: &Metrics, headers: &HeaderMap, target: &Target) -> Decision {
    let cookies = headers::joined_cookies(headers);
    decide_from(
        rt,
        metrics,
        headers::is_gpc(headers),
        cookies.as_deref().unwrap_or(""),
        target.host.as_ref().map(HeaderValue::as_bytes),
    )
}

/// [`decide`] from what it reads of the request: `Sec-GPC`, the joined `Cookie` fields and
/// the authority.
pub(crate) fn decide_from(
    rt: &Runtime,
    metrics: &Metrics,
    gpc: bool,
    cookie_text: &str,
    target_host: Option<&[u8]>,
) -> Decision {
    let policy: &Policy = &rt.config.policy;
    if gpc {
        metrics.gpc.inc();
    }
    let consent = policy.decide(cookie_text, gpc);
    rt.policy_metrics.consent(&consent);
    let plan = policy.plan_request(&consent, cookie_text);
    // The host only matters for the deletions of denied request cookies.
    let host = match target_host {
        Some(h) if !plan.denied.is_empty() => host::parse(h).map(|h| h.name),
        _ => None,
    };
    let mut deferred = Deferred::default();
    let cleanup = policy.cleanup_lines(&plan, host.as_deref().unwrap_or(""), &mut deferred);
    policy.report_stripped(&plan, &mut deferred);
    Decision {
        consent,
        forward: plan.forward,
        cleanup,
        deleted: deferred.deleted,
        stripped: deferred.stripped,
    }
}

/// A protocol switch the client asked for: its side of the tunnel and the protocols it named.
struct ClientUpgrade {
    on: hyper::upgrade::OnUpgrade,
    asked: HeaderMap,
}

/// Phase 3: the request the upstream gets.
fn upstream_request(
    config: &Config,
    mut req: Request<Incoming>,
    target: &Target,
    decision: &Decision,
    peer: SocketAddr,
    https: bool,
) -> Result<(Request<RequestBody>, Option<ClientUpgrade>), ProxyError> {
    let on_upgrade = target.upgrade.then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    let upgrade = on_upgrade.map(|on| {
        let mut asked = HeaderMap::new();
        for v in parts.headers.get_all(UPGRADE) {
            asked.append(UPGRADE, v.clone());
        }
        ClientUpgrade { on, asked }
    });
    let trailers = headers::wants_trailers(&parts.headers);
    headers::remove_hop_by_hop(&mut parts.headers);
    if let Some(u) = &upgrade {
        for v in u.asked.get_all(UPGRADE) {
            parts.headers.append(UPGRADE, v.clone());
        }
        parts
            .headers
            .insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if trailers {
        parts
            .headers
            .insert(TE, HeaderValue::from_static("trailers"));
    }
    match &decision.forward {
        CookieEdit::Rewrite(c) => match HeaderValue::from_str(c) {
            Ok(v) => {
                parts.headers.insert(COOKIE, v);
            }
            Err(_) => {
                parts.headers.remove(COOKIE);
            }
        },
        CookieEdit::Remove => {
            parts.headers.remove(COOKIE);
        }
        CookieEdit::Keep => {
            // HTTP/2 clients may send several Cookie fields; HTTP/1.1 upstreams want one.
            if parts.headers.get_all(COOKIE).iter().nth(1).is_some() {
                if let Some(joined) = headers::joined_cookies(&parts.headers).map(Cow::into_owned) {
                    if let Ok(v) = HeaderValue::from_str(&joined) {
                        parts.headers.insert(COOKIE, v);
                    }
                }
            }
        }
    }
    if let Some(h) = &target.host {
        parts.headers.insert(HOST, h.clone());
    }
    headers::add_forwarded(&mut parts.headers, peer.ip(), https, target.host.as_ref());
    headers::add_via(&mut parts.headers, parts.version);
    // Origin-form (RFC 9112 §3.2.1): the client's path and query, reference-counted, no copy.
    parts.uri = http::Uri::from(
        parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")),
    );
    parts.version = Version::HTTP_11;
    let body = RequestBody::new(body, config.server.max_body_bytes);
    Ok((Request::from_parts(parts, body), upgrade))
}

/// Phase 4: the upstream's response head, within `response_timeout`.
async fn send(
    rt: &Runtime,
    req: Request<RequestBody>,
) -> Result<Response<UpstreamBody>, ProxyError> {
    match tokio::time::timeout(rt.config.upstream.response_timeout, rt.client.request(req)).await {
        Err(_) => Err(ProxyError::ResponseTimeout),
        Ok(r) => r,
    }
}

/// Counts metrics and, in demo mode, remembers the names it blocked and deleted.
pub(crate) struct RequestObserver<'a, O> {
    pub(crate) inner: O,
    pub(crate) names: Option<(&'a mut Vec<String>, &'a mut Vec<String>)>,
}

impl<O: Observer> Observer for RequestObserver<'_, O> {
    fn set_cookie(&mut self, line: &[u8], name: &[u8], v: &Verdict) {
        self.inner.set_cookie(line, name, v);
        if let Some((blocked, _)) = self.names.as_mut() {
            if v.action == Action::Block {
                blocked.push(String::from_utf8_lossy(name).into_owned());
            }
        }
    }
    fn deletion(&mut self, name: &str, category: CategoryId, line: &str) {
        self.inner.deletion(name, category, line);
        if let Some((_, deleted)) = self.names.as_mut() {
            if !deleted.iter().any(|d| d == name) {
                deleted.push(name.to_string());
            }
        }
    }
    fn stripped(&mut self, name: &str, category: CategoryId) {
        self.inner.stripped(name, category);
    }
}

/// Phase 5: checks and filters the upstream's response head, and counts what the response
/// carries.
fn respond(
    shared: &Shared,
    rt: &Runtime,
    mut resp: Response<UpstreamBody>,
    target: &Target,
    decision: &Decision,
    upgrade: Option<ClientUpgrade>,
) -> Result<Response<ResponseBody>, ProxyError> {
    let policy: &Policy = &rt.config.policy;
    let metrics = &shared.metrics;
    // RFC 9112 §6.3: a response with both is refused, as nginx does, rather than forwarded
    // with a length that does not describe the decoded body.
    if resp.version() < Version::HTTP_2
        && resp.headers().contains_key(TRANSFER_ENCODING)
        && resp.headers().contains_key(CONTENT_LENGTH)
    {
        return Err(ProxyError::BadResponse(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    // A switch is only passed on when the client asked for it, and to one of its protocols.
    let switch = if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        match upgrade {
            Some(u) if headers::upgrade_was_asked(&u.asked, resp.headers()) => {
                let proto = resp.headers().get(UPGRADE).cloned();
                Some((u.on, hyper::upgrade::on(&mut resp), proto))
            }
            _ => {
                return Err(ProxyError::BadResponse(
                    "a protocol switch the client did not ask for",
                ))
            }
        }
    } else {
        None
    };

    let up_version = resp.version();
    let mut blocked_names = Vec::new();
    let mut deleted_names = Vec::new();
    let mut obs = RequestObserver {
        inner: rt.policy_metrics.observer(metrics, policy),
        names: shared
            .debug_headers
            .then_some((&mut blocked_names, &mut deleted_names)),
    };
    let headers = resp.headers_mut();
    headers::remove_hop_by_hop(headers);
    let mut changed = policy.filter_set_cookies(&decision.consent, headers, now_secs(), &mut obs);
    for (line, (name, category)) in decision.cleanup.iter().zip(&decision.deleted) {
        if let Ok(v) = HeaderValue::from_str(line) {
            headers.append(SET_COOKIE, v);
            changed = true;
            obs.deletion(name, *category, line);
        }
    }
    for (name, category) in &decision.stripped {
        obs.stripped(name, *category);
    }
    if changed {
        crate::cache::make_private(headers);
    }
    if shared.debug_headers {
        for (name, list) in [
            ("x-consentry-blocked", &blocked_names),
            ("x-consentry-deleted", &deleted_names),
        ] {
            if let Ok(v) = HeaderValue::from_str(&list.join(", ")) {
                headers.insert(name, v);
            }
        }
    }
    headers::add_via(headers, up_version);
    *resp.version_mut() = Version::HTTP_11;
    resp.body_mut().count_errors_in(metrics.clone());

    if let Some((client, server, proto)) = switch {
        if let Some(p) = proto {
            resp.headers_mut().insert(UPGRADE, p);
        }
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("upgrade"));
        tunnel(client, server);
        return Ok(resp.map(ResponseBody::Upstream));
    }
    // The body phase: the page guard on HTML pages.
    let status = resp.status();
    let has_body = !target.head
        && !status.is_informational()
        && status != StatusCode::NO_CONTENT
        && status != StatusCode::NOT_MODIFIED;
    let (mut parts, body) = resp.into_parts();
    let body = rt.page.body(
        &rt.config,
        &decision.consent,
        has_body,
        &mut parts.headers,
        body,
    );
    Ok(Response::from_parts(parts, body))
}

/// Phase 6: relays the bytes of a switched connection both ways until either side closes.
fn tunnel(client: hyper::upgrade::OnUpgrade, server: hyper::upgrade::OnUpgrade) {
    tokio::spawn(async move {
        match tokio::try_join!(client, server) {
            Ok((c, s)) => {
                let mut c = TokioIo::new(c);
                let mut s = TokioIo::new(s);
                if let Err(e) = tokio::io::copy_bidirectional(&mut c, &mut s).await {
                    tracing::debug!(error = %e, "upgraded tunnel closed with an error");
                }
            }
            Err(e) => tracing::debug!(error = %e, "protocol upgrade failed"),
        }
    });
}
