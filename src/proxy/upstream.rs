//! The upstream client: one upstream, its own connections.
//!
//! HTTP/1.1 connections (to `http://` upstreams, and to `https://` ones that do not offer h2)
//! are kept alive in a stack per worker thread: a checkout is a pop from the stack of the worker
//! that serves the request, so a connection is used on the thread whose runtime drives it and
//! workers never wait on each other's stacks. A connection goes back when the response
//! body has been read to its end, and leaves when it has been idle for `pool_idle_timeout`
//! (shorter than typical upstream keep-alive, so the upstream rarely closes a connection just
//! as a request is written to it; when it does, a request that was not sent yet is retried on
//! another connection). An `https://` upstream that selects h2 by ALPN gets one multiplexed
//! connection shared by every request.
//!
//! The request carries one authority: on HTTP/1.1 the `Host` header (the client's, kept), on
//! h2 the `:authority` pseudo-header with the same value and no `host` field (RFC 9113
//! §8.3.1; servers such as nginx refuse a request with both).

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{HOST, SET_COOKIE};
use http::{HeaderValue, Request, Response};
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use super::body::RequestBody;
use super::error::{BoxError, ProxyError};
use crate::config::Upstream;
use crate::metrics::Metrics;
use crate::server::workers;

/// Upstream responses may carry many `Set-Cookie` lines (hyper's default stops at 100).
const MAX_HEADERS: usize = 1000;
const MAX_BUF: usize = 1024 * 1024;
/// Idle connections kept at most (over all workers); beyond, the oldest is closed.
const MAX_IDLE: usize = 1024;
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// The client for one configuration's upstream.
pub struct UpstreamClient {
    pool: Arc<Pool>,
}

/// Builds the client for an upstream, its idle connections kept per worker (`workers` of them).
/// Fails only on an unreadable `upstream.ca` file.
pub fn client(up: &Upstream, workers: usize) -> Result<UpstreamClient, String> {
    let tls = if up.https {
        let host = up.authority.host();
        let name = host.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(name.to_string())
            .map_err(|e| format!("upstream.url: \"{name}\" is not a TLS server name: {e}"))?;
        Some(Tls {
            connector: tokio_rustls::TlsConnector::from(tls_config(up)?),
            server_name,
        })
    } else {
        None
    };
    Ok(UpstreamClient {
        pool: Arc::new(Pool::new(up, tls, workers)),
    })
}

/// The rustls client configuration for an `https://` upstream: the web PKI roots plus
/// `upstream.ca`, ALPN offering h2 and HTTP/1.1.
fn tls_config(up: &Upstream) -> Result<Arc<rustls::ClientConfig>, String> {
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
    let mut tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(tls))
}

impl UpstreamClient {
    /// The same connections, for a new configuration with the same `http://` upstream. An
    /// `https://` client is rebuilt instead (its `upstream.ca` file may have changed).
    pub fn reused(&self) -> Option<UpstreamClient> {
        if self.pool.tls.is_some() {
            return None;
        }
        Some(UpstreamClient {
            pool: self.pool.clone(),
        })
    }

    /// Sends `req` (origin-form target; its `Host` header, if any, is the authority the
    /// upstream sees) and returns the response head; the body streams.
    pub async fn request(
        &self,
        req: Request<RequestBody>,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
        self.pool.request(req).await
    }
}

struct Tls {
    connector: tokio_rustls::TlsConnector,
    server_name: ServerName<'static>,
}

/// Connections to one upstream.
struct Pool {
    host: String,
    port: u16,
    authority: HeaderValue,
    tls: Option<Tls>,
    connect_timeout: Duration,
    idle_timeout: Duration,
    read_timeout: Duration,
    /// One stack per worker, indexed by [`workers::current`]; each is locked only by its own
    /// worker's thread, except by the reaper once per half idle timeout.
    idle: Box<[Mutex<VecDeque<Idle>>]>,
    /// Idle connections kept per worker at most.
    max_idle: usize,
    /// The shared h2 connection of an `https://` upstream that chose h2.
    h2: Mutex<Option<http2::SendRequest<RequestBody>>>,
    reaper_started: AtomicBool,
}

struct Idle {
    send: http1::SendRequest<RequestBody>,
    since: Instant,
}

/// A new connection, by the protocol the upstream chose.
enum Fresh {
    H1(http1::SendRequest<RequestBody>),
    H2(http2::SendRequest<RequestBody>),
}

impl Pool {
    fn new(up: &Upstream, tls: Option<Tls>, workers: usize) -> Pool {
        let workers = workers.max(1);
        let host = up.authority.host();
        Pool {
            // An IPv6 literal is bracketed in the authority, not in a socket address.
            host: host
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            port: up
                .authority
                .port_u16()
                .unwrap_or(if tls.is_some() { 443 } else { 80 }),
            authority: HeaderValue::from_str(up.authority.as_str())
                .expect("an authority is a valid header value"),
            tls,
            connect_timeout: up.connect_timeout,
            idle_timeout: up.pool_idle_timeout,
            read_timeout: up.read_timeout,
            idle: (0..workers).map(|_| Mutex::new(VecDeque::new())).collect(),
            max_idle: (MAX_IDLE / workers).max(1),
            h2: Mutex::new(None),
            reaper_started: AtomicBool::new(false),
        }
    }

    async fn request(
        self: &Arc<Self>,
        mut req: Request<RequestBody>,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
        if !req.headers().contains_key(HOST) {
            req.headers_mut().insert(HOST, self.authority.clone());
        }
        if let Some(send) = self.shared_h2() {
            return self.send_h2(send, req).await;
        }
        loop {
            let (mut send, reused) = match self.checkout() {
                Some(send) => (send, true),
                None => match self.connect().await? {
                    Fresh::H1(send) => (send, false),
                    Fresh::H2(send) => return self.send_h2(send, req).await,
                },
            };
            match send.try_send_request(req).await {
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = UpstreamBody::new(body, self.read_timeout, Some((send, self)));
                    return Ok(Response::from_parts(parts, body));
                }
                Err(mut e) => match e.take_message() {
                    // The connection closed before the request was written (the upstream ended
                    // an idle keep-alive connection): try the next one. Each retry uses up an
                    // idle connection, and a fresh connection is never retried, so this ends.
                    Some(r) if reused => req = r,
                    _ => return Err(ProxyError::from_exchange(e.into_error())),
                },
            }
        }
    }

    /// Sends on an h2 connection: the `Host` value becomes the `:authority` and the `host`
    /// field is removed, so the upstream sees one authority.
    async fn send_h2(
        &self,
        mut send: http2::SendRequest<RequestBody>,
        mut req: Request<RequestBody>,
    ) -> Result<Response<UpstreamBody>, ProxyError> {
        let authority = req
            .headers_mut()
            .remove(HOST)
            .unwrap_or_else(|| self.authority.clone());
        let mut parts = std::mem::take(req.uri_mut()).into_parts();
        parts.scheme = Some(http::uri::Scheme::HTTPS);
        parts.authority = Some(
            http::uri::Authority::try_from(authority.as_bytes())
                .map_err(|_| ProxyError::BadRequest("the request's host is not an authority"))?,
        );
        if parts.path_and_query.is_none() {
            parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
        }
        *req.uri_mut() = http::Uri::from_parts(parts)
            .map_err(|_| ProxyError::BadRequest("the request's host is not an authority"))?;
        *req.version_mut() = http::Version::HTTP_2;
        send.ready().await.map_err(ProxyError::from_exchange)?;
        let resp = send
            .send_request(req)
            .await
            .map_err(ProxyError::from_exchange)?;
        let (parts, body) = resp.into_parts();
        Ok(Response::from_parts(
            parts,
            UpstreamBody::new(body, self.read_timeout, None),
        ))
    }

    /// The shared h2 connection, while it is open.
    fn shared_h2(&self) -> Option<http2::SendRequest<RequestBody>> {
        let mut slot = self.h2.lock().unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(s) if !s.is_closed() => Some(s.clone()),
            Some(_) => {
                *slot = None;
                None
            }
            None => None,
        }
    }

    /// This worker's idle stack.
    fn local(&self) -> std::sync::MutexGuard<'_, VecDeque<Idle>> {
        self.idle[workers::current() % self.idle.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// This worker's most recently used idle connection that is still open and fresh.
    fn checkout(&self) -> Option<http1::SendRequest<RequestBody>> {
        let mut idle = self.local();
        while let Some(c) = idle.pop_back() {
            if c.since.elapsed() < self.idle_timeout && c.send.is_ready() {
                return Some(c.send);
            }
        }
        None
    }

    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    async fn connect(self: &Arc<Self>) -> Result<Fresh, ProxyError> {
        let connect = async {
            let stream = TcpStream::connect((self.host.as_str(), self.port))
                .await
                .map_err(|e| ProxyError::Connect {
                    addr: self.addr(),
                    source: Box::new(e),
                })?;
            let _ = stream.set_nodelay(true);
            let _ = socket2::SockRef::from(&stream)
                .set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE));
            match &self.tls {
                None => Ok(Fresh::H1(self.handshake_h1(stream).await?)),
                Some(tls) => {
                    let stream = tls
                        .connector
                        .connect(tls.server_name.clone(), stream)
                        .await
                        .map_err(|e| ProxyError::Connect {
                            addr: self.addr(),
                            source: Box::new(e),
                        })?;
                    if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                        self.handshake_h2(stream).await.map(Fresh::H2)
                    } else {
                        self.handshake_h1(stream).await.map(Fresh::H1)
                    }
                }
            }
        };
        let fresh = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| ProxyError::ConnectTimeout)??;
        self.start_reaper();
        Ok(fresh)
    }

    async fn handshake_h1<S>(&self, io: S) -> Result<http1::SendRequest<RequestBody>, ProxyError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send, conn) = http1::Builder::new()
            .max_headers(MAX_HEADERS)
            .max_buf_size(MAX_BUF)
            .handshake(TokioIo::new(io))
            .await
            .map_err(ProxyError::from_exchange)?;
        tokio::spawn(async move {
            if let Err(e) = conn.with_upgrades().await {
                tracing::debug!(error = %e, "upstream connection closed with an error");
            }
        });
        Ok(send)
    }

    async fn handshake_h2<S>(&self, io: S) -> Result<http2::SendRequest<RequestBody>, ProxyError>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (send, conn) = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_BUF as u32)
            .handshake(TokioIo::new(io))
            .await
            .map_err(ProxyError::from_exchange)?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "upstream h2 connection closed with an error");
            }
        });
        *self.h2.lock().unwrap_or_else(|p| p.into_inner()) = Some(send.clone());
        Ok(send)
    }

    /// Puts a connection whose exchange is over back, once it can take a request.
    fn release(self: Arc<Self>, mut send: http1::SendRequest<RequestBody>) {
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

    fn put(&self, send: http1::SendRequest<RequestBody>) {
        let mut idle = self.local();
        if idle.len() >= self.max_idle {
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
        for shard in self.idle.iter() {
            let mut idle = shard.lock().unwrap_or_else(|p| p.into_inner());
            while idle
                .front()
                .is_some_and(|c| c.since.elapsed() >= self.idle_timeout || c.send.is_closed())
            {
                idle.pop_front();
            }
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

/// The upstream was silent for longer than `upstream.read_timeout` in the middle of a body.
#[derive(Debug, thiserror::Error)]
#[error("the upstream sent no body data for {0:?}")]
pub struct ReadTimeout(pub Duration);

/// An upstream response body, streamed to the client.
///
/// - A pooled HTTP/1.1 connection goes back to the pool when the body has been read to its end;
///   a body dropped before its end closes the connection (hyper cannot reuse a connection with
///   unread data).
/// - Silence longer than `read_timeout` between two frames aborts the body (the client sees a
///   truncated response, as with nginx's `proxy_read_timeout`), and counts as an upstream
///   timeout.
/// - `Set-Cookie` fields in trailers are dropped: nothing judges them, and no browser stores
///   them anyway.
pub struct UpstreamBody {
    inner: Incoming,
    pooled: Option<(http1::SendRequest<RequestBody>, Arc<Pool>)>,
    done: bool,
    read_timeout: Duration,
    /// Armed while waiting for the next frame; allocated at the first wait.
    deadline: Option<Pin<Box<Sleep>>>,
    armed: bool,
    metrics: Option<Arc<Metrics>>,
}

impl UpstreamBody {
    fn new(
        inner: Incoming,
        read_timeout: Duration,
        pooled: Option<(http1::SendRequest<RequestBody>, &Arc<Pool>)>,
    ) -> UpstreamBody {
        let done = inner.is_end_stream();
        let mut body = UpstreamBody {
            inner,
            pooled: pooled.map(|(send, pool)| (send, pool.clone())),
            done,
            read_timeout,
            deadline: None,
            armed: false,
            metrics: None,
        };
        // HEAD, 204 and 304 responses have no body to read: the connection is free now.
        if done {
            body.release();
        }
        body
    }

    /// Counts a read timeout of this body in `consentry_upstream_errors_total`.
    pub fn count_errors_in(&mut self, metrics: Arc<Metrics>) {
        self.metrics = Some(metrics);
    }

    fn release(&mut self) {
        if let Some((send, pool)) = self.pooled.take() {
            pool.release(send);
        }
    }

    /// Polls the read deadline while no frame is ready.
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let at = tokio::time::Instant::now() + self.read_timeout;
        let sleep = self
            .deadline
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if !self.armed {
            sleep.as_mut().reset(at);
            self.armed = true;
        }
        sleep.as_mut().poll(cx)
    }
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Pending => {
                if this.poll_deadline(cx).is_ready() {
                    this.pooled = None;
                    this.done = true;
                    if let Some(m) = &this.metrics {
                        m.upstream_error("timeout");
                    }
                    tracing::warn!(
                        timeout = ?this.read_timeout,
                        "upstream body stalled: response aborted"
                    );
                    return Poll::Ready(Some(Err(Box::new(ReadTimeout(this.read_timeout)))));
                }
                return Poll::Pending;
            }
            Poll::Ready(f) => f,
        };
        this.armed = false;
        match frame {
            None => {
                this.done = true;
                this.release();
                Poll::Ready(None)
            }
            Some(Ok(mut frame)) => {
                // The last frame of a body of known length: hyper's server may not poll again.
                if this.inner.is_end_stream() {
                    this.done = true;
                    this.release();
                }
                if let Some(trailers) = frame.trailers_mut() {
                    if trailers.remove(SET_COOKIE).is_some() {
                        tracing::debug!("dropped Set-Cookie from the upstream's trailers");
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Some(Err(e)) => {
                // A broken exchange: the connection is not reused.
                this.pooled = None;
                Poll::Ready(Some(Err(Box::new(e))))
            }
        }
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
