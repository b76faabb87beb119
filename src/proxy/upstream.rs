//! The upstream client.
//!
//! An `http://` upstream gets a lean pool of HTTP/1.1 keep-alive connections of its own: one
//! upstream, one protocol, so a checkout is a pop from a stack. A connection goes back to the pool
//! when the response body has been read to its end, and leaves it when it has been idle for
//! `pool_idle_timeout` (shorter than typical upstream keep-alive, so the upstream rarely closes a
//! connection just as a request is written to it; when it does, a request that was not sent yet
//! is retried on another connection). Profiles showed the general-purpose client (keyed pool,
//! connect racing, a task per request) costing about a tenth of the CPU of a proxied request.
//!
//! An `https://` upstream uses hyper-util's client with rustls, which also negotiates h2 by ALPN.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio::net::TcpStream;

use super::body::RequestBody;
use super::error::ProxyError;
use crate::config::Upstream;

/// Upstream responses may carry many `Set-Cookie` lines (hyper's default stops at 100).
const MAX_HEADERS: usize = 1000;
const MAX_BUF: usize = 1024 * 1024;
/// Idle connections kept at most; beyond, the oldest is closed.
const MAX_IDLE: usize = 1024;
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

type TlsClient = Client<HttpsConnector<HttpConnector>, RequestBody>;

/// The client for one configuration's upstream.
pub enum UpstreamClient {
    Plain(Arc<Pool>),
    Tls(Box<TlsClient>),
}

/// Builds the client for an upstream. Fails only on an unreadable `upstream.ca` file.
pub fn client(up: &Upstream) -> Result<UpstreamClient, String> {
    if !up.https {
        return Ok(UpstreamClient::Plain(Arc::new(Pool::new(up))));
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(up.connect_timeout));
    http.set_keepalive(Some(TCP_KEEPALIVE));

    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = &up.ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("upstream.ca: cannot read \"{}\": {e}", ca.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("upstream.ca: \"{}\": {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "upstream.ca: \"{}\" holds no certificate",
                ca.display()
            ));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("upstream.ca: \"{}\": {e}", ca.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);

    Ok(UpstreamClient::Tls(Box::new(
        Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .pool_idle_timeout(up.pool_idle_timeout)
            .pool_max_idle_per_host(MAX_IDLE)
            .http1_max_headers(MAX_HEADERS)
            .http1_max_buf_size(MAX_BUF)
            .build(connector),
    )))
}

impl UpstreamClient {
    /// The same pool, for a new configuration with the same `http://` upstream. An `https://`
    /// client is rebuilt instead (its `upstream.ca` file may have changed).
    pub fn reused(&self) -> Option<UpstreamClient> {
        match self {
            UpstreamClient::Plain(pool) => Some(UpstreamClient::Plain(pool.clone())),
            UpstreamClient::Tls(_) => None,
        }
    }

    /// Sends `req` (an absolute URI on the upstream's scheme and authority) and returns the
    /// response head; the body streams.
    pub async fn request(
        &self,
        req: Request<RequestBody>,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
        match self {
            UpstreamClient::Plain(pool) => pool.request(req).await,
            UpstreamClient::Tls(client) => client
                .request(req)
                .await
                .map(|r| r.map(UpstreamBody::unpooled))
                .map_err(ProxyError::from_client),
        }
    }
}

/// Keep-alive HTTP/1.1 connections to one `http://` upstream.
pub struct Pool {
    host: String,
    port: u16,
    authority: HeaderValue,
    connect_timeout: Duration,
    idle_timeout: Duration,
    idle: Mutex<VecDeque<Idle>>,
    reaper_started: AtomicBool,
}

struct Idle {
    send: SendRequest<RequestBody>,
    since: Instant,
}

impl Pool {
    fn new(up: &Upstream) -> Pool {
        let host = up.authority.host();
        Pool {
            // An IPv6 literal is bracketed in the authority, not in a socket address.
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: up.authority.port_u16().unwrap_or(80),
            authority: HeaderValue::from_str(up.authority.as_str())
                .expect("an authority is a valid header value"),
            connect_timeout: up.connect_timeout,
            idle_timeout: up.pool_idle_timeout,
            idle: Mutex::new(VecDeque::new()),
            reaper_started: AtomicBool::new(false),
        }
    }

    async fn request(
        self: &Arc<Self>,
        mut req: Request<RequestBody>,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
        // Origin-form on the wire (RFC 9112 §3.2.1); a request without Host gets the upstream's.
        let path = req
            .uri()
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| http::uri::PathAndQuery::from_static("/"));
        *req.uri_mut() = http::Uri::from(path);
        if !req.headers().contains_key(HOST) {
            req.headers_mut().insert(HOST, self.authority.clone());
        }
        loop {
            let (mut send, reused) = match self.checkout() {
                Some(send) => (send, true),
                None => (self.connect().await?, false),
            };
            match send.try_send_request(req).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = UpstreamBody::pooled(body, send, self);
                    return Ok(Response::from_parts(parts, body));
                }
                Err(mut e) => match e.take_message() {
                    // The connection closed before the request was written (the upstream ended
                    // an idle keep-alive connection): try the next one. Each retry uses up an
                    // idle connection, and a fresh connection is never retried, so this ends.
                    Some(r) if reused => req = r,
                    _ => return Err(ProxyError::from_hyper(e.into_error())),
                },
            }
        }
    }

    /// The most recently used idle connection that is still open and fresh.
    fn checkout(&self) -> Option<SendRequest<RequestBody>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(c) = idle.pop_back() {
            if c.since.elapsed() < self.idle_timeout && c.send.is_ready() {
                return Some(c.send);
            }
        }
        None
    }

    async fn connect(self: &Arc<Self>) -> Result<SendRequest<RequestBody>, ProxyError> {
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Err(_) => return Err(ProxyError::ConnectTimeout),
            Ok(Err(e)) => {
                return Err(ProxyError::Connect(format!(
                    "{}:{}: {e}",
                    self.host, self.port
                )))
            }
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let _ = socket2::SockRef::from(&stream)
            .set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE));
        let (send, conn) = hyper::client::conn::http1::Builder::new()
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_BUF)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(ProxyError::from_hyper)?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream connection closed with an error");
            }
        });
        self.start_reaper();
        Ok(send)
    }

    /// Puts a connection whose exchange is over back, once it can take a request.
    fn release(self: Arc<Self>, mut send: SendRequest<RequestBody>) {
        if send.is_ready() {
            self.put(send);
        } else if !send.is_closed() {
            // The connection task has not noticed the end of the exchange yet (or a request
            // body is still being written): wait for it on the side. (A body dropped while the
            // runtime shuts down has no runtime left to wait on; its connection just closes.)
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    if send.ready().await.is_ok() {
                        self.put(send);
                    }
                });
            }
        }
    }

    fn put(&self, send: SendRequest<RequestBody>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() >= MAX_IDLE {
            idle.pop_front();
        }
        idle.push_back(Idle {
            send,
            since: Instant::now(),
        });
    }

    /// Closes the connections idle for longer than `pool_idle_timeout` (they are the oldest, at
    /// the front).
    fn prune(&self) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while idle
            .front()
            .is_some_and(|c| c.since.elapsed() >= self.idle_timeout || c.send.is_closed())
        {
            idle.pop_front();
        }
    }

    /// One task per pool closes idle connections on time, even when no request comes to notice;
    /// it ends with the pool (a reload builds a new one).
    fn start_reaper(self: &Arc<Self>) {
        if self.reaper_started.swap(true, Ordering::Relaxed) {
            return;
        }
        let weak: Weak<Pool> = Arc::downgrade(self);
        let every = (self.idle_timeout / 2).max(Duration::from_millis(100));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match weak.upgrade() {
                    Some(pool) => pool.prune(),
                    None => return,
                }
            }
        });
    }
}

/// An upstream response body. For a pooled connection it returns the connection to the pool
/// when the body has been read to its end; a body dropped before its end closes the connection
/// (hyper cannot reuse a connection with unread data).
pub struct UpstreamBody {
    inner: Incoming,
    pooled: Option<(SendRequest<RequestBody>, Arc<Pool>)>,
    done: bool,
}

impl UpstreamBody {
    fn unpooled(inner: Incoming) -> UpstreamBody {
        UpstreamBody {
            inner,
            pooled: None,
            done: false,
        }
    }

    fn pooled(inner: Incoming, send: SendRequest<RequestBody>, pool: &Arc<Pool>) -> UpstreamBody {
        let done = inner.is_end_stream();
        let mut body = UpstreamBody {
            inner,
            pooled: Some((send, pool.clone())),
            done,
        };
        // HEAD, 204 and 304 responses have no body to read: the connection is free now.
        if done {
            body.release();
        }
        body
    }

    fn release(&mut self) {
        if let Some((send, pool)) = self.pooled.take() {
            pool.release(send);
        }
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let frame = Pin::new(&mut this.inner).poll_frame(cx);
        match &frame {
            Poll::Ready(None) => {
                this.done = true;
                this.release();
            }
            // The last frame of a body of known length: hyper's server may not poll again.
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => {
                this.done = true;
                this.release();
            }
            Poll::Ready(Some(Err(_))) => {
                // A broken exchange: the connection is not reused.
                this.pooled = None;
            }
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for UpstreamBody {
    fn drop(&mut self) {
        if self.done || self.inner.is_end_stream() {
            self.release();
        }
    }
}
