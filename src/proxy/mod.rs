//! The reverse proxy: one request in, consent decided, the request forwarded, the response's
//! cookies filtered, the response streamed back.

pub mod body;
pub mod error;
pub mod headers;
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
    HeaderValue, CACHE_CONTROL, CONNECTION, CONTENT_TYPE, COOKIE, HOST, SET_COOKIE, TE, UPGRADE,
};
use http::{HeaderMap, Request, Response, StatusCode, Version};
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;

use crate::config::Config;
use crate::metrics::{Metrics, PolicyMetrics};
use crate::policy::categories::CategoryId;
use crate::policy::filter::{Action, Observer, Verdict};
use crate::policy::Policy;
use body::RequestBody;
use error::ProxyError;
use upstream::{UpstreamBody, UpstreamClient};

/// The body of a response sent to a client: the upstream's, streamed, or a short local one.
pub type ResponseBody = Either<UpstreamBody, Full<Bytes>>;

/// Everything one configuration needs at request time. Swapped whole on reload; a request keeps
/// the snapshot it started with.
pub struct Runtime {
    pub config: Arc<Config>,
    pub policy_metrics: PolicyMetrics,
    pub client: UpstreamClient,
    /// The TLS acceptor of `[tls]`, certificates loaded.
    pub tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Runtime {
    /// The runtime of `config`. Given the one it replaces, it keeps that one's upstream
    /// connections when the upstream settings did not change, so a reload does not make every
    /// request in flight open a new connection.
    pub fn new(
        config: Arc<Config>,
        metrics: &Metrics,
        previous: Option<&Runtime>,
    ) -> Result<Runtime, String> {
        let reused = previous
            .filter(|prev| prev.config.upstream == config.upstream)
            .and_then(|prev| prev.client.reused());
        let client = match reused {
            Some(c) => c,
            None => upstream::client(&config.upstream)?,
        };
        Ok(Runtime {
            policy_metrics: PolicyMetrics::new(metrics, &config.policy),
            client,
            tls: config
                .tls
                .as_ref()
                .map(crate::server::tls::acceptor)
                .transpose()?,
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

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A short local response.
pub fn local_response(status: StatusCode, text: &'static str) -> Response<ResponseBody> {
    let mut r = Response::new(Either::Right(Full::new(Bytes::from_static(
        text.as_bytes(),
    ))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// The request's cookies as one header value: HTTP/2 clients may split `Cookie` into several
/// fields, which are joined with `; ` (RFC 9113 §8.2.3).
fn joined_cookies(headers: &HeaderMap) -> Option<Cow<'_, str>> {
    let mut values = headers.get_all(COOKIE).iter();
    let first = values.next()?;
    // Cookie headers are nearly always valid UTF-8: checking that is much cheaper than the
    // lossy conversion, which is left for the rare other case.
    fn text(v: &HeaderValue) -> Cow<'_, str> {
        match std::str::from_utf8(v.as_bytes()) {
            Ok(s) => Cow::Borrowed(s),
            Err(_) => String::from_utf8_lossy(v.as_bytes()),
        }
    }
    let mut out = text(first);
    for v in values {
        let s = out.to_mut();
        s.push_str("; ");
        s.push_str(&text(v));
    }
    Some(out)
}

fn is_gpc(headers: &HeaderMap) -> bool {
    headers
        .get(&headers::SEC_GPC)
        .is_some_and(|v| v.as_bytes().trim_ascii() == b"1")
}

/// Marks a response so shared caches do not store it: `private` replaces `public` and
/// `s-maxage`, unless the response is already `private` or `no-store`.
fn make_private(headers: &mut HeaderMap) {
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("private"));
        return;
    }
    let mut directives: Vec<String> = Vec::new();
    for v in headers.get_all(CACHE_CONTROL) {
        for d in String::from_utf8_lossy(v.as_bytes()).split(',') {
            let d = d.trim();
            if !d.is_empty() {
                directives.push(d.to_string());
            }
        }
    }
    let name = |d: &str| {
        d.split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    if directives
        .iter()
        .any(|d| matches!(name(d).as_str(), "private" | "no-store"))
    {
        return;
    }
    directives.retain(|d| !matches!(name(d).as_str(), "public" | "s-maxage"));
    directives.push("private".into());
    if let Ok(v) = HeaderValue::from_str(&directives.join(", ")) {
        headers.insert(CACHE_CONTROL, v);
    }
}

/// Counts metrics and, in demo mode, remembers the names it blocked and deleted.
struct RequestObserver<'a, O> {
    inner: O,
    names: Option<(&'a mut Vec<String>, &'a mut Vec<String>)>,
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

/// Handles one client request. Never fails: errors become 502/504/413 responses.
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
        Err(e) => {
            if let Some(kind) = e.upstream_kind() {
                shared.metrics.upstream_error(kind);
                tracing::warn!(error = %e, status = e.status().as_u16(), "upstream request failed");
            } else {
                tracing::info!(error = %e, status = e.status().as_u16(), "request rejected");
            }
            let mut r = local_response(e.status(), e.body());
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                r.headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            r
        }
    };
    shared.metrics.request(resp.status());
    shared
        .metrics
        .duration
        .observe(started.elapsed().as_secs_f64());
    Ok(resp)
}

async fn forward(
    shared: &Shared,
    rt: &Runtime,
    mut req: Request<Incoming>,
    peer: SocketAddr,
    https: bool,
) -> Result<Response<ResponseBody>, ProxyError> {
    let config = &rt.config;
    let policy: &Policy = &config.policy;
    let metrics = &shared.metrics;

    // Consent.
    let gpc = is_gpc(req.headers());
    if gpc {
        metrics.gpc.inc();
    }
    let cookies = joined_cookies(req.headers());
    let cookie_text = cookies.as_deref().unwrap_or("");
    let consent = policy.decide(cookie_text, gpc);
    rt.policy_metrics.consent(&consent);
    let plan = policy.plan_request(&consent, cookie_text);
    // The request's host: the authority of an absolute-form target (HTTP/1.1, RFC 9112 §3.2.2)
    // or of HTTP/2's :authority wins over Host. HTTP/1.1 needs exactly one Host.
    let hosts = req.headers().get_all(HOST).iter().count();
    if hosts > 1
        || (hosts == 0 && req.version() == Version::HTTP_11 && req.uri().authority().is_none())
    {
        return Err(ProxyError::BadRequest(
            "an HTTP/1.1 request needs exactly one Host header",
        ));
    }
    let host_value = match req.uri().authority() {
        Some(a) => HeaderValue::from_str(a.as_str()).ok(),
        None => req.headers().get(HOST).cloned(),
    };
    let mut blocked_names = Vec::new();
    let mut deleted_names = Vec::new();
    let mut obs = RequestObserver {
        inner: rt.policy_metrics.observer(metrics, policy),
        names: shared
            .debug_headers
            .then_some((&mut blocked_names, &mut deleted_names)),
    };
    // The host only matters for the deletions of denied request cookies.
    let host = match &host_value {
        Some(h) if !plan.denied.is_empty() => h
            .to_str()
            .map(crate::policy::cleanup::normalize_host)
            .unwrap_or_default(),
        _ => String::new(),
    };
    let cleanup = policy.cleanup_lines(&plan, &host, &mut obs);
    policy.report_stripped(&plan, &mut obs);
    let new_cookie = plan.forward.clone();
    drop(cookies);

    // The upstream request.
    let upgrade = req.version() == Version::HTTP_11 && headers::is_upgrade(req.headers());
    let client_upgrade = if upgrade {
        Some(hyper::upgrade::on(&mut req))
    } else {
        None
    };
    let (mut parts, body) = req.into_parts();
    let upgrade_proto = parts.headers.get(UPGRADE).cloned();
    let trailers = headers::wants_trailers(&parts.headers);
    headers::remove_hop_by_hop(&mut parts.headers);
    if let Some(p) = upgrade_proto.filter(|_| upgrade) {
        parts.headers.insert(UPGRADE, p);
        parts
            .headers
            .insert(CONNECTION, HeaderValue::from_static("upgrade"));
    }
    if trailers {
        parts
            .headers
            .insert(TE, HeaderValue::from_static("trailers"));
    }
    match new_cookie {
        Some(Some(c)) => {
            parts.headers.remove(COOKIE);
            if let Ok(v) = HeaderValue::from_str(&c) {
                parts.headers.insert(COOKIE, v);
            }
        }
        Some(None) => {
            parts.headers.remove(COOKIE);
        }
        None => {
            // HTTP/2 clients may send several Cookie fields; HTTP/1.1 upstreams want one.
            if parts.headers.get_all(COOKIE).iter().nth(1).is_some() {
                if let Some(joined) = joined_cookies(&parts.headers).map(|c| c.into_owned()) {
                    if let Ok(v) = HeaderValue::from_str(&joined) {
                        parts.headers.insert(COOKIE, v);
                    }
                }
            }
        }
    }
    if let Some(h) = &host_value {
        parts.headers.insert(HOST, h.clone());
    }
    headers::add_forwarded(&mut parts.headers, peer.ip(), https, host_value.as_ref());
    headers::add_via(&mut parts.headers, parts.version);
    // The client's path and query, on the upstream's scheme and authority (no copies: the
    // URI parts are reference-counted).
    let mut uri = std::mem::take(&mut parts.uri).into_parts();
    uri.scheme = Some(if config.upstream.https {
        http::uri::Scheme::HTTPS
    } else {
        http::uri::Scheme::HTTP
    });
    uri.authority = Some(config.upstream.authority.clone());
    if uri.path_and_query.is_none() {
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    parts.uri = http::Uri::from_parts(uri)
        .map_err(|e| ProxyError::Protocol(format!("cannot build the upstream URI: {e}")))?;
    parts.version = Version::HTTP_11;
    if let Some(limit) = config.server.max_body_bytes {
        let declared = parts
            .headers
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(ProxyError::BodyTooLarge);
        }
    }
    let up_req = Request::from_parts(parts, RequestBody::new(body, config.server.max_body_bytes));

    let mut resp =
        match tokio::time::timeout(config.upstream.response_timeout, rt.client.request(up_req))
            .await
        {
            Err(_) => return Err(ProxyError::ResponseTimeout),
            Ok(Err(e)) => return Err(e),
            Ok(Ok(r)) => r,
        };

    // The response.
    let switching = resp.status() == StatusCode::SWITCHING_PROTOCOLS;
    let up_upgrade = resp.headers().get(UPGRADE).cloned();
    let server_upgrade = if switching && client_upgrade.is_some() {
        Some(hyper::upgrade::on(&mut resp))
    } else {
        None
    };
    let up_version = resp.version();
    let headers = resp.headers_mut();
    headers::remove_hop_by_hop(headers);
    let mut changed = policy.filter_set_cookies(&consent, headers, now_secs(), &mut obs);
    for line in &cleanup {
        if let Ok(v) = HeaderValue::from_str(line) {
            headers.append(SET_COOKIE, v);
            changed = true;
        }
    }
    if changed {
        make_private(headers);
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

    if let (Some(client_up), Some(server_up)) = (client_upgrade, server_upgrade) {
        if let Some(p) = up_upgrade {
            resp.headers_mut().insert(UPGRADE, p);
        }
        resp.headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("upgrade"));
        tokio::spawn(async move {
            match tokio::try_join!(client_up, server_up) {
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
    Ok(resp.map(Either::Left))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_replaces_public_and_s_maxage() {
        let mut h = HeaderMap::new();
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=600, s-maxage=3600"),
        );
        make_private(&mut h);
        assert_eq!(h[CACHE_CONTROL], "max-age=600, private");
        let mut h = HeaderMap::new();
        make_private(&mut h);
        assert_eq!(h[CACHE_CONTROL], "private");
        let mut h = HeaderMap::new();
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        make_private(&mut h);
        assert_eq!(h[CACHE_CONTROL], "no-store");
        let mut h = HeaderMap::new();
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("Private, max-age=0"),
        );
        make_private(&mut h);
        assert_eq!(h[CACHE_CONTROL], "Private, max-age=0");
    }

    #[test]
    fn cookies_are_joined_and_gpc_read() {
        let mut h = HeaderMap::new();
        assert!(joined_cookies(&h).is_none());
        h.append(COOKIE, HeaderValue::from_static("a=1"));
        assert!(matches!(joined_cookies(&h), Some(Cow::Borrowed("a=1"))));
        h.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(joined_cookies(&h).unwrap(), "a=1; b=2");
        assert!(!is_gpc(&h));
        h.insert("sec-gpc", HeaderValue::from_static(" 1 "));
        assert!(is_gpc(&h));
        h.insert("sec-gpc", HeaderValue::from_static("0"));
        assert!(!is_gpc(&h));
    }
}
