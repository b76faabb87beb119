//! The upstream exchange of one owned request, run inside the client connection's task: the
//! request head and body sent, the response head read and filtered, the body relayed (counted
//! copy for `Content-Length`, strict chunked decoding framed again, or up to the upstream's
//! close), through the page rewrite for HTML pages.
//!
//! A reused connection that fails before any response byte is the idle keep-alive race: the
//! request is sent again on another connection when that is safe (the first write failed, or
//! the request is idempotent and has no body). The connection goes back to the idle stack only
//! when the body ended exactly at its framing end, with nothing after it and keep-alive on.

use std::borrow::Cow;

use bytes::Bytes;
use http_body_util::Empty;
use tokio::io::{AsyncRead, AsyncWrite};

use super::chunked::{self, Decoder, Out};
use super::conn::{Conn, Prepared, UpIo};
use super::io::{write_all, Buf, Wait};
use super::request::{valid_value, Framing};
use super::response::{self, Body, Edits, Facts, Parsed};
use super::upstream::Upstream;
use crate::page::body::RewriteBody;
use crate::policy::filter::Observer;
use crate::proxy::error::ProxyError;
use crate::proxy::{now_secs, RequestObserver, Runtime};

/// Upstream bytes read at once.
const UP_BUF: usize = 16 * 1024;
/// A response body this small that came with its head goes out in the same write.
const COALESCE: usize = 64 * 1024;

/// Why an exchange did not complete.
pub(crate) enum Failure {
    /// Nothing was sent to the client yet: it gets this error. `body_read`: the request's body
    /// was read to its end (else the connection closes after the answer).
    Respond { error: ProxyError, body_read: bool },
    /// The response broke off after its head went out: the connection closes.
    Abort,
}

enum SendError {
    /// The first write failed: nothing of the request was consumed.
    Retry,
    Fail(ProxyError),
}

enum HeadError {
    /// The connection closed (or was reset) before any byte of a response.
    Closed,
    Fail(ProxyError),
}

fn is(name: &str, wanted: &str) -> bool {
    name.len() == wanted.len() && name.eq_ignore_ascii_case(wanted)
}

/// Runs the exchange; returns whether the client connection can go on.
pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Conn<S>,
    rt: &Runtime,
    up: &Upstream,
    p: &Prepared,
) -> Result<bool, Failure> {
    // connect, request and response head: within response_timeout, as on the hyper path.
    c.timer.set(up.response_timeout);
    // Allocated once per client connection and kept between exchanges (it is empty after each).
    if c.up_buf.capacity() == 0 {
        c.up_buf = Buf::new(Vec::new(), UP_BUF);
    }
    let mut body_read = p.framing == Framing::None;
    let (mut io, ready) = loop {
        let (mut io, reused) = match up.checkout() {
            Some(io) => (io, true),
            None => match up.connect().await {
                Ok(io) => (io, false),
                Err(error) => return Err(Failure::Respond { error, body_read }),
            },
        };
        match send(c, &mut io, p, rt.config.server.max_body_bytes).await {
            Ok(()) => body_read = true,
            Err(SendError::Retry) if reused => continue,
            Err(SendError::Retry) => {
                let error = ProxyError::Protocol("the upstream connection failed".into());
                return Err(Failure::Respond { error, body_read });
            }
            Err(SendError::Fail(error)) => return Err(Failure::Respond { error, body_read }),
        }
        match read_head(c, &mut io, rt, p).await {
            Ok(ready) => break (io, ready),
            Err(HeadError::Closed) if reused && p.framing == Framing::None && p.idempotent => {
                c.up_buf.consume(c.up_buf.len());
                continue;
            }
            Err(HeadError::Closed) => {
                let error = ProxyError::Protocol(
                    "the upstream closed the connection before a response".into(),
                );
                return Err(Failure::Respond { error, body_read });
            }
            Err(HeadError::Fail(error)) => {
                c.up_buf.consume(c.up_buf.len());
                return Err(Failure::Respond { error, body_read });
            }
        }
    };
    let Ready {
        facts,
        mut rewrite,
        code,
    } = ready;
    c.count(code, p.started);
    let chunk_out = rewrite.is_some() || matches!(facts.body, Body::Chunked | Body::UntilClose);
    let clean = relay(c, &mut io, up, &facts, &mut rewrite, chunk_out).await;
    let reusable = clean && facts.keep_alive && c.up_buf.is_empty();
    c.up_buf.consume(c.up_buf.len());
    if !clean {
        return Err(Failure::Abort);
    }
    if reusable {
        up.put(io);
    }
    Ok(true)
}

/// Sends the request head and body.
async fn send<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Conn<S>,
    io: &mut UpIo,
    p: &Prepared,
    max_body: Option<u64>,
) -> Result<(), SendError> {
    let write_failed = |w: Wait, first: bool| match w {
        Wait::Due => SendError::Fail(ProxyError::ResponseTimeout),
        Wait::Io(_) if first => SendError::Retry,
        Wait::Io(e) => SendError::Fail(ProxyError::Protocol(Box::new(e))),
    };
    let read_failed = |w: Wait| match w {
        Wait::Due => SendError::Fail(ProxyError::ResponseTimeout),
        Wait::Io(e) => SendError::Fail(ProxyError::ClientBody(Box::new(e))),
    };
    let broke_off = || {
        SendError::Fail(ProxyError::ClientBody(
            "the client closed the connection mid-body".into(),
        ))
    };
    let mut out = std::mem::take(&mut c.out);
    out.clear();
    out.extend_from_slice(&c.up_head);
    let result = async {
        match p.framing {
            Framing::None => write_all(io, &out, &c.timer)
                .await
                .map_err(|w| write_failed(w, true)),
            Framing::Length(n) => {
                let have = (c.buf.len() as u64).min(n) as usize;
                out.extend_from_slice(&c.buf.bytes()[..have]);
                write_all(io, &out, &c.timer)
                    .await
                    .map_err(|w| write_failed(w, true))?;
                c.buf.consume(have);
                let mut remaining = n - have as u64;
                while remaining > 0 {
                    match c.buf.read_from(&mut c.io, &c.timer).await {
                        Ok(0) => return Err(broke_off()),
                        Ok(_) => {}
                        Err(w) => return Err(read_failed(w)),
                    }
                    let take = (c.buf.len() as u64).min(remaining) as usize;
                    write_all(io, &c.buf.bytes()[..take], &c.timer)
                        .await
                        .map_err(|w| write_failed(w, false))?;
                    c.buf.consume(take);
                    remaining -= take as u64;
                }
                Ok(())
            }
            Framing::Chunked => {
                let mut dec = Decoder::new();
                let mut total = 0u64;
                let mut first = true;
                loop {
                    let mut used = 0;
                    let mut end = false;
                    loop {
                        let (n, o) = dec
                            .decode(&c.buf.bytes()[used..])
                            .map_err(|e| SendError::Fail(ProxyError::ClientBody(Box::new(e))))?;
                        used += n;
                        match o {
                            Out::Data(d) => {
                                total += d.len() as u64;
                                if max_body.is_some_and(|limit| total > limit) {
                                    return Err(SendError::Fail(ProxyError::BodyTooLarge));
                                }
                                chunked::frame(&mut out, d);
                            }
                            Out::More => break,
                            Out::End => {
                                out.extend_from_slice(chunked::LAST);
                                end = true;
                                break;
                            }
                        }
                    }
                    if !out.is_empty() {
                        write_all(io, &out, &c.timer)
                            .await
                            .map_err(|w| write_failed(w, first))?;
                        first = false;
                        out.clear();
                    }
                    c.buf.consume(used);
                    if end {
                        return Ok(());
                    }
                    match c.buf.read_from(&mut c.io, &c.timer).await {
                        Ok(0) => return Err(broke_off()),
                        Ok(_) => {}
                        Err(w) => return Err(read_failed(w)),
                    }
                }
            }
        }
    }
    .await;
    c.out = out;
    result
}

/// A response head read, checked and written for the client into `out`.
struct Ready {
    facts: Facts,
    rewrite: Option<RewriteBody<Empty<Bytes>>>,
    code: u16,
}

/// Reads the response head (skipping interim `1xx` ones) and writes the client's head.
async fn read_head<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Conn<S>,
    io: &mut UpIo,
    rt: &Runtime,
    p: &Prepared,
) -> Result<Ready, HeadError> {
    let mut got_any = false;
    loop {
        if !c.up_buf.is_empty() {
            let out = &mut c.out;
            let step = response::with_head(c.up_buf.bytes(), |parsed| match parsed {
                Parsed::Partial => None,
                Parsed::Invalid => Some(Err(HeadError::Fail(ProxyError::Protocol(
                    "malformed response head".into(),
                )))),
                Parsed::Head(h) => Some(match response::judge(&h, p.head) {
                    Err(e) => Err(HeadError::Fail(e)),
                    Ok(f) if f.interim => Ok((h.len, None)),
                    Ok(f) => {
                        let rewrite = client_head(out, &h, &f, rt, c.shared.as_ref(), p);
                        Ok((
                            h.len,
                            Some(Ready {
                                facts: f,
                                rewrite,
                                code: h.code,
                            }),
                        ))
                    }
                }),
            });
            match step {
                None if c.up_buf.len() > response::MAX_HEAD => {
                    return Err(HeadError::Fail(ProxyError::Protocol(
                        "response head too large".into(),
                    )))
                }
                None => {}
                Some(Err(e)) => return Err(e),
                Some(Ok((len, ready))) => {
                    c.up_buf.consume(len);
                    if let Some(ready) = ready {
                        return Ok(ready);
                    }
                    continue;
                }
            }
        }
        match c.up_buf.read_from(io, &c.timer).await {
            Ok(0) if !got_any => return Err(HeadError::Closed),
            Ok(0) => {
                return Err(HeadError::Fail(ProxyError::Protocol(
                    "the upstream closed the connection mid-head".into(),
                )))
            }
            Ok(_) => got_any = true,
            Err(Wait::Due) => return Err(HeadError::Fail(ProxyError::ResponseTimeout)),
            Err(Wait::Io(e))
                if !got_any
                    && matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                    ) =>
            {
                return Err(HeadError::Closed)
            }
            Err(Wait::Io(e)) => return Err(HeadError::Fail(ProxyError::Protocol(Box::new(e)))),
        }
    }
}

/// Writes the head the client gets into `out`: the policy's edits, then the page guard's for
/// an HTML page it rewrites (returned), then the framing.
fn client_head(
    out: &mut Vec<u8>,
    h: &response::Head<'_, '_>,
    facts: &Facts,
    rt: &Runtime,
    shared: &crate::proxy::Shared,
    p: &Prepared,
) -> Option<RewriteBody<Empty<Bytes>>> {
    let policy = &rt.config.policy;
    let decision = &p.decision;
    let (mut blocked, mut deleted) = (Vec::new(), Vec::new());
    let mut set_cookies: Vec<Cow<'_, [u8]>> = Vec::new();
    let changed = {
        let mut obs = RequestObserver {
            inner: rt.policy_metrics.observer(&shared.metrics, policy),
            names: shared.debug_headers.then_some((&mut blocked, &mut deleted)),
        };
        let lines = h
            .headers
            .iter()
            .filter(|f| is(f.name, "set-cookie"))
            .map(|f| f.value);
        let mut changed =
            policy.filter_set_cookie_lines(&decision.consent, lines, now_secs(), &mut obs, |l| {
                set_cookies.push(l)
            });
        for (line, (name, category)) in decision.cleanup.iter().zip(&decision.deleted) {
            if valid_value(line.as_bytes()) {
                set_cookies.push(Cow::Borrowed(line.as_bytes()));
                changed = true;
                obs.deletion(name, *category, line);
            }
        }
        for (name, category) in &decision.stripped {
            obs.stripped(name, *category);
        }
        changed
    };
    let cache_control = if changed {
        crate::cache::private_value(
            h.headers
                .iter()
                .filter(|f| is(f.name, "cache-control"))
                .map(|f| f.value),
        )
    } else {
        None
    };
    let debug = shared
        .debug_headers
        .then(|| (blocked.join(", "), deleted.join(", ")))
        .filter(|(b, d)| valid_value(b.as_bytes()) && valid_value(d.as_bytes()));
    let edits = Edits {
        set_cookies,
        cache_control,
        debug,
    };
    out.clear();
    response::write_fields(out, h, &edits);
    let has_body = !p.head && h.code != 204 && h.code != 304;
    let mut rewrite = None;
    if has_body && rt.config.page.rewrite && response::maybe_html(h) {
        let mut map = response::to_map(out);
        if let Ok(rw) = rt.page.rewrite(
            &rt.config,
            &decision.consent,
            true,
            &mut map,
            Empty::<Bytes>::new(),
        ) {
            let status_end = memchr::memchr(b'\n', out).map_or(0, |i| i + 1);
            let status_line = out[..status_end].to_vec();
            out.clear();
            response::write_map(out, &status_line, &map);
            rewrite = Some(rw);
        }
    }
    if rewrite.is_some() || matches!(facts.body, Body::Chunked | Body::UntilClose) {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
    }
    if p.close {
        out.extend_from_slice(b"connection: close\r\n");
    }
    out.extend_from_slice(b"\r\n");
    rewrite
}

/// Relays the response body after the head in `out`. Returns whether it ended cleanly (at its
/// framing end, or at the upstream's close for a body delimited by it).
async fn relay<S: AsyncRead + AsyncWrite + Unpin>(
    c: &mut Conn<S>,
    io: &mut UpIo,
    up: &Upstream,
    facts: &Facts,
    rewrite: &mut Option<RewriteBody<Empty<Bytes>>>,
    chunk_out: bool,
) -> bool {
    let mut out = std::mem::take(&mut c.out);
    let clean = async {
        let mut dec = (facts.body == Body::Chunked).then(Decoder::new);
        let mut remaining = match facts.body {
            Body::Length(n) => n,
            _ => 0,
        };
        let mut pieces: Vec<Bytes> = Vec::new();
        let mut emit =
            |out: &mut Vec<u8>, data: &[u8], rewrite: &mut Option<RewriteBody<Empty<Bytes>>>| {
                match rewrite {
                    Some(rw) => {
                        if rw.feed(Bytes::copy_from_slice(data), &mut pieces).is_err() {
                            return false;
                        }
                        for piece in pieces.drain(..) {
                            chunked::frame(out, &piece);
                        }
                    }
                    None if chunk_out => chunked::frame(out, data),
                    None => out.extend_from_slice(data),
                }
                true
            };
        loop {
            let mut ended = false;
            match facts.body {
                Body::None => ended = true,
                Body::Length(_) => {
                    let take = (c.up_buf.len() as u64).min(remaining) as usize;
                    if take > 0 && !emit(&mut out, &c.up_buf.bytes()[..take], rewrite) {
                        return false;
                    }
                    c.up_buf.consume(take);
                    remaining -= take as u64;
                    ended = remaining == 0;
                }
                Body::Chunked => {
                    let dec = dec.as_mut().expect("a chunked body has its decoder");
                    let mut used = 0;
                    loop {
                        let Ok((n, o)) = dec.decode(&c.up_buf.bytes()[used..]) else {
                            tracing::debug!("malformed chunked body from the upstream");
                            return false;
                        };
                        used += n;
                        match o {
                            Out::Data(d) => {
                                if !emit(&mut out, d, rewrite) {
                                    return false;
                                }
                            }
                            Out::More => break,
                            Out::End => {
                                ended = true;
                                break;
                            }
                        }
                    }
                    c.up_buf.consume(used);
                }
                Body::UntilClose => {
                    let n = c.up_buf.len();
                    if n > 0 && !emit(&mut out, c.up_buf.bytes(), rewrite) {
                        return false;
                    }
                    c.up_buf.consume(n);
                }
            }
            if ended {
                return true;
            }
            if out.len() >= COALESCE || !out.is_empty() && c.up_buf.is_empty() {
                c.timer.set(c.limits.idle_timeout);
                if write_all(&mut c.io, &out, &c.timer).await.is_err() {
                    return false;
                }
                out.clear();
            }
            c.timer.set(up.read_timeout);
            match c.up_buf.read_from(io, &c.timer).await {
                Ok(0) if facts.body == Body::UntilClose => return true,
                Ok(0) => {
                    tracing::debug!("the upstream closed the connection mid-body");
                    return false;
                }
                Ok(_) => {}
                Err(Wait::Due) => {
                    c.shared.metrics.upstream_error("timeout");
                    tracing::warn!(
                        timeout = ?up.read_timeout,
                        "upstream body stalled: response aborted"
                    );
                    return false;
                }
                Err(Wait::Io(e)) => {
                    tracing::debug!(error = %e, "upstream body failed");
                    return false;
                }
            }
        }
    }
    .await;
    let mut done = clean;
    if done {
        if let Some(rw) = rewrite.as_mut() {
            let mut pieces = Vec::new();
            done = rw.finish(&mut pieces).is_ok();
            for piece in pieces {
                chunked::frame(&mut out, &piece);
            }
        }
    }
    if done {
        if chunk_out {
            out.extend_from_slice(chunked::LAST);
        }
        c.timer.set(c.limits.idle_timeout);
        done = write_all(&mut c.io, &out, &c.timer).await.is_ok();
    } else if !out.is_empty() {
        // What arrived before the failure still goes out; the connection then closes.
        c.timer.set(c.limits.idle_timeout);
        let _ = write_all(&mut c.io, &out, &c.timer).await;
    }
    out.clear();
    c.out = out;
    done
}
