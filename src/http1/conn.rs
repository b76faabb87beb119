//! One client connection on the own HTTP/1.1 path: request heads read and judged, each owned
//! request exchanged with an upstream connection inside this task, the response relayed, and
//! the connection kept alive, closed, or handed over to hyper at a request boundary.
//!
//! Timeouts keep the meaning they have on the hyper path: a request head must arrive within
//! `server.header_read_timeout` (then 408 if part of it came, and close), a connection with no
//! request for `server.idle_timeout` closes, the upstream's response head must come within
//! `upstream.response_timeout` (504) and its body may pause at most `upstream.read_timeout`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::deadlines::{now_ms, Timer};
use super::exchange::{self, Failure};
use super::io::{write_all, Buf, Wait};
use super::request::{self, Framing, Parsed, Verdict};
use crate::config::Server;
use crate::proxy::error::ProxyError;
use crate::proxy::{self, Decision, Shared};
use crate::server::conn::Proto;
use crate::server::rewind::Rewind;

/// How long, and how many bytes, a connection closing after an error answer is drained.
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: usize = 1024 * 1024;

/// Requests served back to back before the task lets others run.
const FAIR_BATCH: u32 = 16;

/// A request as the exchange needs it, once its head is judged.
pub(crate) struct Prepared {
    pub head_len: usize,
    pub framing: Framing,
    /// The client asked to close after this request.
    pub close: bool,
    /// A HEAD request (its response has no body).
    pub head: bool,
    /// May be sent again after the upstream closed an idle connection under it.
    pub idempotent: bool,
    pub decision: Decision,
    pub started: Instant,
}

/// What the head at the start of the buffer is.
enum Step {
    Partial,
    TooLarge,
    Invalid,
    HandOver,
    Refuse(ProxyError),
    /// The proxy answers itself (the client guard's routes): the answer, whether the
    /// connection closes after it, and the head's length.
    Local(Vec<u8>, bool, usize),
    Own(Box<Prepared>),
}

/// How a connection's service ended.
enum End {
    Close,
    HandOver,
}

/// The connection's state between requests.
pub(crate) struct Conn<S> {
    pub io: S,
    pub buf: Buf,
    /// The next bytes written to the client (a head, and body bytes that go with it).
    pub out: Vec<u8>,
    /// The head written upstream.
    pub up_head: Vec<u8>,
    /// Bytes read from the upstream.
    pub up_buf: Buf,
    pub timer: Timer,
    pub peer: SocketAddr,
    pub https: bool,
    pub shared: Arc<Shared>,
    pub limits: Server,
}

/// Serves an HTTP/1.1 connection whose first bytes (`prefix`) were already read.
pub async fn serve<S>(
    io: S,
    prefix: Vec<u8>,
    peer: SocketAddr,
    https: bool,
    shared: Arc<Shared>,
    limits: Server,
    shutdown: CancellationToken,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut conn = Conn {
        io,
        buf: Buf::new(prefix, 8192),
        out: Vec::with_capacity(4096),
        up_head: Vec::with_capacity(1024),
        up_buf: Buf::new(Vec::new(), 0),
        timer: Timer::new(shutdown.clone()),
        peer,
        https,
        shared,
        limits,
    };
    if let End::Close = conn.run().await {
        // A clean close (a TLS close_notify, a FIN after the last response), briefly.
        use tokio::io::AsyncWriteExt;
        let _ = tokio::time::timeout(LINGER, conn.io.shutdown()).await;
    } else {
        let Conn {
            io,
            buf,
            shared,
            limits,
            timer,
            ..
        } = conn;
        // hyper keeps its own timers from here on.
        drop(timer);
        crate::server::conn::serve(
            Rewind::new(buf.take(), io),
            Proto::Http1,
            peer,
            https,
            shared,
            &limits,
            shutdown,
        )
        .await;
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    async fn run(&mut self) -> End {
        let mut batch = 0u32;
        loop {
            // The wait for a head: header_read_timeout (restarted for each head, as hyper does)
            // and, while nothing came yet, idle_timeout.
            let head_due = Timer::after(self.limits.header_read_timeout);
            let idle_due = Timer::after(self.limits.idle_timeout);
            let step = loop {
                if !self.buf.is_empty() {
                    match self.step() {
                        Step::Partial => {}
                        step => break step,
                    }
                }
                if self.buf.is_empty() && self.timer.draining() {
                    return End::Close;
                }
                self.timer.set_idle(self.buf.is_empty());
                self.timer.set_at(if self.buf.is_empty() {
                    head_due.min(idle_due)
                } else {
                    head_due
                });
                let read = self.buf.read_from(&mut self.io, &self.timer).await;
                self.timer.set_idle(false);
                match read {
                    Ok(0) | Err(Wait::Io(_)) => return End::Close,
                    Err(Wait::Due) => {
                        if !self.buf.is_empty() && now_ms() >= head_due {
                            tracing::debug!(peer = %self.peer, "request head timed out");
                            self.simple(408, "408 Request Timeout\n").await;
                        }
                        return End::Close;
                    }
                    Ok(_) => {}
                }
            };
            let p = match step {
                Step::Partial => unreachable!("a partial head is read on"),
                Step::HandOver => return End::HandOver,
                Step::TooLarge => {
                    self.simple(431, "").await;
                    return End::Close;
                }
                Step::Invalid => {
                    self.simple(400, "").await;
                    return End::Close;
                }
                Step::Refuse(e) => {
                    // Counted before the answer is written, as the hyper path counts it: a
                    // client that reads the answer then the metrics finds it counted.
                    self.count(e.status().as_u16(), Instant::now());
                    self.error(&e, false, true).await;
                    return End::Close;
                }
                Step::Local(bytes, close, _) => {
                    if write_all(&mut self.io, &bytes, &self.timer).await.is_err() || close {
                        return End::Close;
                    }
                    continue;
                }
                Step::Own(p) => p,
            };
            match self.forward(&p).await {
                Ok(true) if !p.close => {}
                _ => return End::Close,
            }
            batch += 1;
            if batch >= FAIR_BATCH {
                batch = 0;
                tokio::task::yield_now().await;
            }
        }
    }

    /// Judges the head at the start of the buffer (all of it synchronous: the head borrows the
    /// buffer). For an owned request the upstream head is written into `up_head`.
    fn step(&mut self) -> Step {
        let shared = &*self.shared;
        let rt = shared.current.load();
        let max_body = rt.config.server.max_body_bytes;
        let (peer, https) = (self.peer.ip(), self.https);
        let up_head = &mut self.up_head;
        let max_head = self.limits.max_header_bytes.max(8192);
        let buffered = self.buf.len();
        request::with_head(self.buf.bytes(), self.limits.max_headers, |parsed| {
            let head = match parsed {
                Parsed::Partial if buffered > max_head => return Step::TooLarge,
                Parsed::Head(h) if h.len > max_head => return Step::TooLarge,
                Parsed::Partial => return Step::Partial,
                Parsed::TooManyHeaders => return Step::TooLarge,
                Parsed::Invalid => return Step::Invalid,
                Parsed::Head(h) => h,
            };
            let facts = match request::judge(&head, max_body) {
                Verdict::HandOver => return Step::HandOver,
                Verdict::Refuse(e) => return Step::Refuse(e),
                Verdict::Own(f) => f,
            };
            let started = Instant::now();
            let decision = proxy::decide_from(
                &rt,
                &shared.metrics,
                facts.gpc,
                facts.cookies.as_deref().unwrap_or(""),
                Some(facts.host),
            );
            let is_head = head.method == "HEAD";
            if let Some(a) = rt
                .page
                .local_parts(head.method, facts.path, &decision.consent)
            {
                let close = facts.close || facts.framing != Framing::None;
                let mut out = Vec::with_capacity(256 + a.body.len());
                out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
                request::field(&mut out, "content-type", a.content_type.as_bytes());
                request::field(&mut out, "cache-control", a.cache_control.as_bytes());
                request::field(&mut out, "x-content-type-options", b"nosniff");
                super::response::date(&mut out);
                request::field(
                    &mut out,
                    "content-length",
                    a.body.len().to_string().as_bytes(),
                );
                if close {
                    request::field(&mut out, "connection", b"close");
                }
                out.extend_from_slice(b"\r\n");
                if !is_head {
                    out.extend_from_slice(&a.body);
                }
                shared.metrics.request(http::StatusCode::OK);
                shared
                    .metrics
                    .duration
                    .observe(started.elapsed().as_secs_f64());
                return Step::Local(out, close, head.len);
            }
            up_head.clear();
            request::write_upstream(up_head, &head, &facts, &decision.forward, peer, https);
            Step::Own(Box::new(Prepared {
                head_len: head.len,
                framing: facts.framing,
                close: facts.close,
                head: is_head,
                idempotent: matches!(
                    head.method,
                    "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
                ),
                decision,
                started,
            }))
        })
        .consume_head(&mut self.buf)
    }

    /// One owned request: exchanged with the upstream and relayed. Returns whether the client
    /// connection can serve another request.
    async fn forward(&mut self, p: &Prepared) -> Result<bool, ()> {
        let rt = self.shared.current.load_full();
        let Some(up) = rt.http1.as_ref() else {
            // The configuration changed to an https:// upstream: hyper serves the next requests.
            let e = ProxyError::BadResponse("the upstream changed while the request was read");
            self.error(&e, p.head, true).await;
            return Err(());
        };
        match exchange::run(self, &rt, up, p).await {
            Ok(keep) => Ok(keep),
            Err(Failure::Respond { error, body_read }) => {
                proxy::note_error(&self.shared, &error);
                let close = !body_read || error.closes_connection();
                self.count(error.status().as_u16(), p.started);
                let ok = self.error(&error, p.head, close).await;
                if ok && !close {
                    Ok(true)
                } else {
                    Err(())
                }
            }
            Err(Failure::Abort) => Err(()),
        }
    }

    /// Counts a response sent for a request, as the hyper path counts it.
    pub fn count(&self, status: u16, started: Instant) {
        let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
        self.shared.metrics.request(status);
        self.shared
            .metrics
            .duration
            .observe(started.elapsed().as_secs_f64());
    }

    /// Writes the local response for `e` (no body for a HEAD request). Returns whether it was
    /// written.
    async fn error(&mut self, e: &ProxyError, head: bool, close: bool) -> bool {
        let status = e.status();
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        status_line(&mut out, status.as_u16());
        request::field(&mut out, "content-type", b"text/plain; charset=utf-8");
        super::response::date(&mut out);
        let body = e.body();
        request::field(
            &mut out,
            "content-length",
            body.len().to_string().as_bytes(),
        );
        if matches!(e, ProxyError::MethodNotAllowed) {
            request::field(&mut out, "allow", proxy::ALLOWED.as_bytes());
        }
        if close || e.closes_connection() {
            request::field(&mut out, "connection", b"close");
        }
        out.extend_from_slice(b"\r\n");
        if !head {
            out.extend_from_slice(body.as_bytes());
        }
        self.timer.set(self.limits.idle_timeout);
        let ok = write_all(&mut self.io, &out, &self.timer).await.is_ok();
        self.out = out;
        if ok && (close || e.closes_connection()) {
            self.linger().await;
        }
        ok
    }

    /// Writes a bare status answer before closing (a head the proxy cannot read).
    async fn simple(&mut self, code: u16, body: &str) {
        let mut out = Vec::with_capacity(128);
        status_line(&mut out, code);
        request::field(
            &mut out,
            "content-length",
            body.len().to_string().as_bytes(),
        );
        request::field(&mut out, "connection", b"close");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(body.as_bytes());
        self.timer.set(
            self.limits
                .idle_timeout
                .min(self.limits.header_read_timeout),
        );
        if write_all(&mut self.io, &out, &self.timer).await.is_ok() {
            self.linger().await;
        }
    }

    /// Before closing after an answer sent while the client may still be sending: ends the
    /// write side and reads what still comes for a moment, so the client's unread bytes do not
    /// turn the close into a reset that loses the answer.
    async fn linger(&mut self) {
        use tokio::io::AsyncWriteExt;
        self.timer.set(LINGER);
        if tokio::time::timeout(LINGER, self.io.shutdown())
            .await
            .is_err()
        {
            return;
        }
        let mut drained = 0;
        while drained < LINGER_BYTES {
            self.buf.consume(self.buf.len());
            match self.buf.read_from(&mut self.io, &self.timer).await {
                Ok(n) if n > 0 => drained += n,
                _ => return,
            }
        }
    }
}

/// `HTTP/1.1 <code> <reason>` CRLF.
pub fn status_line(out: &mut Vec<u8>, code: u16) {
    let s = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::BAD_GATEWAY);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(s.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(s.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// The exchange's upstream connection type.
pub type UpIo = TcpStream;

impl Step {
    /// Marks the judged head read (a body that follows is read by the exchange; a local
    /// answer to a request with a body closes the connection).
    fn consume_head(self, buf: &mut Buf) -> Step {
        match &self {
            Step::Own(p) => buf.consume(p.head_len),
            Step::Local(_, _, len) => buf.consume(*len),
            _ => {}
        }
        self
    }
}
