//! Serving one client connection: choose HTTP/1.1 or HTTP/2, apply the limits, drain on shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_util::sync::CancellationToken;

use std::sync::atomic::{AtomicU64, Ordering};

use super::framing::{Watched, Watcher};
use super::idle::{Activity, Tracked};
use super::rewind::Rewind;
use crate::config::Server;
use crate::proxy::{self, Shared};

/// The HTTP/2 connection preface a prior-knowledge client sends first.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Which protocol a connection speaks.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Proto {
    Http1,
    Http2,
}

/// Reads just enough of a cleartext connection to tell an HTTP/2 preface from an HTTP/1 request,
/// within `timeout` (hyper's own sniffing has no timeout, so a silent client would hold the
/// connection forever). Returns the bytes read, to be replayed.
pub async fn sniff<S: AsyncRead + Unpin>(
    io: &mut S,
    timeout: Duration,
) -> Option<(Proto, Vec<u8>)> {
    let mut buf = Vec::with_capacity(H2_PREFACE.len());
    let read = async {
        loop {
            let mut chunk = [0u8; 24];
            let want = H2_PREFACE.len() - buf.len();
            let n = io.read(&mut chunk[..want]).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if !H2_PREFACE.starts_with(&buf) {
                return Some(Proto::Http1);
            }
            if buf.len() == H2_PREFACE.len() {
                return Some(Proto::Http2);
            }
        }
    };
    let proto = tokio::time::timeout(timeout, read).await.ok()??;
    Some((proto, buf))
}

/// Runs a hyper server connection to its end; on shutdown or idleness it closes gracefully
/// (HTTP/1.1: no more keep-alive; HTTP/2: GOAWAY) and waits for in-flight requests.
macro_rules! drive {
    ($conn:ident, $shutdown:ident, $idle:ident) => {{
        tokio::pin!($conn);
        tokio::select! {
            r = $conn.as_mut() => log_conn_end(r),
            _ = $shutdown.cancelled() => {
                $conn.as_mut().graceful_shutdown();
                log_conn_end($conn.await);
            }
            _ = $idle => {
                $conn.as_mut().graceful_shutdown();
                log_conn_end($conn.await);
            }
        }
    }};
}

/// Serves HTTP on an established (and, for TLS, handshaken) stream until it closes or, after
/// `shutdown`, until in-flight requests finish.
pub async fn serve<S>(
    io: S,
    proto: Proto,
    peer: SocketAddr,
    https: bool,
    shared: Arc<Shared>,
    limits: &Server,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Idle: no request in flight and no byte moved for idle_timeout. (HTTP/1.1 keep-alive
    // connections are also bounded by header_read_timeout, which hyper restarts while it waits
    // for the next request head.)
    let activity = Activity::new();
    // HTTP/1.1: the requests' framing as the client sent it, which hyper does not keep.
    let watcher = (proto == Proto::Http1).then(|| Watcher::new(limits.max_header_bytes.max(8192)));
    let verdicts = watcher.as_ref().map(Watcher::verdicts);
    let dispatched = AtomicU64::new(0);
    let svc = {
        let activity = activity.clone();
        service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            let guard = activity.begin();
            let index = dispatched.fetch_add(1, Ordering::Relaxed);
            if verdicts.as_ref().is_some_and(|v| v.ambiguous(index)) {
                req.extensions_mut().insert(proxy::AmbiguousFraming);
            }
            let fut = proxy::handle(shared.clone(), req, peer, https);
            async move {
                let r = fut.await;
                drop(guard);
                r
            }
        })
    };
    let io = TokioIo::new(Tracked::new(
        Watched::new(io, watcher.unwrap_or_else(Watcher::disabled)),
        activity.clone(),
    ));
    let idle = activity.idle(limits.idle_timeout);
    match proto {
        Proto::Http1 => {
            let mut b = hyper::server::conn::http1::Builder::new();
            b.timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_header_bytes.max(8192))
                .max_headers(limits.max_headers)
                .keep_alive(true);
            let conn = b.serve_connection(io, svc).with_upgrades();
            drive!(conn, shutdown, idle);
        }
        Proto::Http2 => {
            let mut b = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
            b.timer(TokioTimer::new())
                .max_concurrent_streams(limits.max_concurrent_streams)
                .max_header_list_size(limits.max_header_bytes.min(u32::MAX as usize) as u32)
                .keep_alive_interval(Some(Duration::from_secs(30)))
                .keep_alive_timeout(Duration::from_secs(20));
            let conn = b.serve_connection(io, svc);
            drive!(conn, shutdown, idle);
        }
    }
}

/// Whether HTTP/1.1 goes to the own path: configured so, and an upstream it can reach.
fn fast(shared: &Shared, limits: &Server) -> bool {
    limits.http1 == crate::config::Http1::Fast && shared.current.load().http1.is_some()
}

fn log_conn_end(r: Result<(), hyper::Error>) {
    if let Err(e) = r {
        tracing::debug!(error = %e, "client connection ended with an error");
    }
}

/// Sniffs and serves a cleartext connection.
pub async fn serve_plain<S>(
    mut io: S,
    peer: SocketAddr,
    shared: Arc<Shared>,
    limits: Server,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Some((proto, prefix)) = sniff(&mut io, limits.header_read_timeout).await else {
        tracing::debug!(%peer, "connection closed or silent before a request");
        return;
    };
    if proto == Proto::Http1 && fast(&shared, &limits) {
        return crate::http1::serve(io, prefix, peer, false, shared, limits, shutdown).await;
    }
    serve(
        Rewind::new(prefix, io),
        proto,
        peer,
        false,
        shared,
        &limits,
        shutdown,
    )
    .await;
}

/// Completes the TLS handshake (within the header timeout) and serves the protocol ALPN chose.
pub async fn serve_tls<S>(
    io: S,
    acceptor: tokio_rustls::TlsAcceptor,
    peer: SocketAddr,
    shared: Arc<Shared>,
    limits: Server,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let tls = match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let proto = match tls.get_ref().1.alpn_protocol() {
        Some(b"h2") => Proto::Http2,
        _ => Proto::Http1,
    };
    if proto == Proto::Http1 && fast(&shared, &limits) {
        return crate::http1::serve(tls, Vec::new(), peer, true, shared, limits, shutdown).await;
    }
    serve(tls, proto, peer, true, shared, &limits, shutdown).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn sniffs_http1_and_http2() {
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        let (p, buf) = sniff(&mut b, Duration::from_secs(1)).await.unwrap();
        assert_eq!(p, Proto::Http1);
        assert_eq!(buf, b"GET / HTTP/1.1\r\n");

        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(H2_PREFACE).await.unwrap();
        let (p, buf) = sniff(&mut b, Duration::from_secs(1)).await.unwrap();
        assert_eq!(p, Proto::Http2);
        assert_eq!(buf, H2_PREFACE);

        // `PRI` is a prefix of the preface but `PRIX` is not.
        let (mut a, mut b) = tokio::io::duplex(64);
        a.write_all(b"PRIX / HTTP/1.1\r\n").await.unwrap();
        assert_eq!(
            sniff(&mut b, Duration::from_secs(1)).await.unwrap().0,
            Proto::Http1
        );
    }

    #[tokio::test]
    async fn a_silent_client_is_cut_at_the_timeout() {
        let (_a, mut b) = tokio::io::duplex(64);
        let started = std::time::Instant::now();
        assert!(sniff(&mut b, Duration::from_millis(50)).await.is_none());
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn a_closed_connection_is_none() {
        let (a, mut b) = tokio::io::duplex(64);
        drop(a);
        assert!(sniff(&mut b, Duration::from_secs(1)).await.is_none());
    }
}
