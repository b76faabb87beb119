//! The two sides of the HTTP/1.1 differential targets: the own path's parsers driven the way
//! its connection loop and exchange drive them (a buffer parsed again after each read, bodies
//! decoded as the bytes arrive), and hyper's server and client over `tokio::io::duplex`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use consentry::http1::chunked::{Decoder, Out};
use consentry::http1::request::{self, Framing, Parsed, Verdict};
use consentry::http1::response::{self, Body};
use consentry::policy::filter::CookieEdit;
use consentry::proxy::error::ProxyError;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Fields per head for both sides (hyper's default).
const MAX_HEADERS: usize = 100;

/// Splits the input after its first two bytes at an offset they give.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    if data.len() < 2 {
        return (data, &[]);
    }
    let at = u16::from_le_bytes([data[0], data[1]]) as usize;
    let rest = &data[2..];
    rest.split_at(at % (rest.len() + 1))
}

/// Field values per lower-case name, in order.
pub type Fields = BTreeMap<String, Vec<Vec<u8>>>;

/// A body: `Ok(Some(bytes))` complete, `Ok(None)` still waiting for bytes, `Err` malformed.
pub type BodyResult = Result<Option<Vec<u8>>, String>;

#[derive(Debug)]
pub struct OwnRequest {
    pub method: String,
    pub target: String,
    /// The fields as sent (name, value), in order.
    pub fields: Vec<(String, Vec<u8>)>,
    pub framing: Framing,
    pub body: BodyResult,
    /// The bytes after the head.
    pub rest: Vec<u8>,
    /// The head written for the upstream.
    pub upstream: Vec<u8>,
}

impl OwnRequest {
    pub fn fields_by_name(&self) -> Fields {
        by_name(self.fields.iter().map(|(n, v)| (n.as_str(), v.as_slice())))
    }
}

fn by_name<'a>(fields: impl Iterator<Item = (&'a str, &'a [u8])>) -> Fields {
    let mut map = Fields::new();
    for (n, v) in fields {
        map.entry(n.to_ascii_lowercase())
            .or_default()
            .push(v.to_vec());
    }
    map
}

#[derive(Debug)]
pub enum FastRequest {
    HandOver,
    Partial,
    /// Refused, with the reason.
    Refused(&'static str),
    Own(OwnRequest),
}

/// The refusals the own path makes on purpose where hyper is more lenient: ambiguous framing
/// (CL with TE, a coding other than one final `chunked`, repeated or listed Content-Length)
/// and the Host checks.
pub const STRICTER: &[&str] = &[
    "both Transfer-Encoding and Content-Length",
    "a Transfer-Encoding other than chunked",
    "more than one Content-Length",
    "invalid Content-Length",
    "an HTTP/1.1 request needs exactly one Host header",
    "invalid host",
    "more fields than allowed",
];

/// The own path: the head parsed from the first read, and again with the second read if it
/// was partial; then the body framed from the bytes after the head.
pub fn own_request(first: &[u8], second: &[u8]) -> FastRequest {
    let whole = [first, second].concat();
    let mut buf: &[u8] = first;
    loop {
        let step = request::with_head(buf, MAX_HEADERS, |parsed| match parsed {
            Parsed::Partial => None,
            Parsed::TooManyHeaders => Some(FastRequest::Refused("more fields than allowed")),
            Parsed::Invalid => Some(FastRequest::Refused("not an HTTP/1.x head")),
            Parsed::Head(h) => Some(match request::judge(&h, None) {
                Verdict::HandOver => FastRequest::HandOver,
                Verdict::Refuse(ProxyError::BadRequest(why)) => FastRequest::Refused(why),
                Verdict::Refuse(e) => panic!("refused without a body limit: {e}"),
                Verdict::Own(facts) => {
                    let mut upstream = Vec::new();
                    request::write_upstream(
                        &mut upstream,
                        &h,
                        &facts,
                        &CookieEdit::Keep,
                        "192.0.2.7".parse().expect("an address"),
                        false,
                    );
                    let fields = h
                        .headers
                        .iter()
                        .map(|f| (f.name.to_string(), f.value.to_vec()))
                        .collect();
                    let body_start = h.len;
                    let body = own_body(facts.framing, first, second, body_start);
                    FastRequest::Own(OwnRequest {
                        method: h.method.to_string(),
                        target: facts.target.to_string(),
                        fields,
                        framing: facts.framing,
                        body,
                        rest: whole[body_start..].to_vec(),
                        upstream,
                    })
                }
            }),
        });
        match step {
            Some(r) => return r,
            None if buf.len() == whole.len() => return FastRequest::Partial,
            None => buf = &whole,
        }
    }
}

/// The body after a head ending at `start` of the stream `first ++ second`, decoded read by read.
fn own_body(framing: Framing, first: &[u8], second: &[u8], start: usize) -> BodyResult {
    let reads: Vec<&[u8]> = if start <= first.len() {
        vec![&first[start..], second]
    } else {
        vec![&second[start - first.len()..]]
    };
    match framing {
        Framing::None => Ok(Some(Vec::new())),
        Framing::Length(n) => {
            let rest = reads.concat();
            Ok((rest.len() as u64 >= n).then(|| rest[..n as usize].to_vec()))
        }
        Framing::Chunked => decode_chunked(&reads).map(|(data, end)| end.map(|_| data)),
    }
}

/// Decodes a chunked body fed in `reads`: the data and, when it ended, the bytes consumed.
pub fn decode_chunked(reads: &[&[u8]]) -> Result<(Vec<u8>, Option<usize>), String> {
    let mut dec = Decoder::new();
    let mut data = Vec::new();
    let mut consumed = 0;
    for read in reads {
        let mut rest = *read;
        loop {
            let (n, out) = dec.decode(rest).map_err(|e| e.to_string())?;
            rest = &rest[n..];
            consumed += n;
            match out {
                Out::Data(d) => data.extend_from_slice(d),
                Out::More => break,
                Out::End => return Ok((data, Some(consumed))),
            }
        }
    }
    Ok((data, None))
}

#[derive(Debug)]
pub struct HyperHead {
    pub method: String,
    pub target: String,
    pub fields: Fields,
    pub body: BodyResult,
}

#[derive(Debug)]
pub enum HyperRequest {
    /// Still waiting for the rest of the head.
    Partial,
    /// The connection failed before a request reached the service.
    Rejected(String),
    Head(HyperHead),
}

fn runtime() -> tokio::runtime::Runtime {
    // Paused time: a timeout fires as soon as every task waits, so "hyper waits for more
    // bytes" costs no wall time.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a runtime")
}

/// Writes `first`, lets the peer read it, then writes `second`; keeps the stream open.
async fn feed(io: &mut tokio::io::DuplexStream, first: &[u8], second: &[u8]) {
    for part in [first, second] {
        if !part.is_empty() && io.write_all(part).await.is_err() {
            return;
        }
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
    }
}

/// hyper's server: the first request it hands to the service, and its body.
pub fn hyper_request(first: &[u8], second: &[u8]) -> HyperRequest {
    runtime().block_on(async {
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let seen: Arc<Mutex<Option<HyperHead>>> = Arc::default();
        let record = seen.clone();
        let service =
            hyper::service::service_fn(move |req: http::Request<hyper::body::Incoming>| {
                let record = record.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let first_request = {
                        let mut slot = record.lock().expect("not poisoned");
                        if slot.is_none() {
                            *slot = Some(HyperHead {
                                method: parts.method.to_string(),
                                target: parts.uri.to_string(),
                                fields: by_name(
                                    parts
                                        .headers
                                        .iter()
                                        .map(|(n, v)| (n.as_str(), v.as_bytes())),
                                ),
                                body: Ok(None),
                            });
                            true
                        } else {
                            false
                        }
                    };
                    let collected = body.collect().await;
                    if first_request {
                        let mut slot = record.lock().expect("not poisoned");
                        if let Some(h) = slot.as_mut() {
                            h.body = match collected {
                                Ok(c) => Ok(Some(c.to_bytes().to_vec())),
                                Err(e) => Err(e.to_string()),
                            };
                        }
                    }
                    Ok::<_, Infallible>(http::Response::new(Empty::<Bytes>::new()))
                }
            });
        let conn = tokio::spawn(
            hyper::server::conn::http1::Builder::new()
                .max_headers(MAX_HEADERS)
                .serve_connection(TokioIo::new(server), service),
        );
        let (first, second) = (first.to_vec(), second.to_vec());
        let writer = tokio::spawn(async move {
            feed(&mut client, &first, &second).await;
            // Drain the responses, keep the stream open.
            let mut sink = vec![0u8; 4096];
            while let Ok(n) = client.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        });
        tokio::time::sleep(Duration::from_secs(30)).await;
        let finished = conn.is_finished();
        conn.abort();
        writer.abort();
        let outcome = conn.await;
        let head = seen.lock().expect("not poisoned").take();
        match head {
            Some(h) => HyperRequest::Head(h),
            None if finished => HyperRequest::Rejected(match outcome {
                Ok(Err(e)) => e.to_string(),
                Ok(Ok(())) => "closed".into(),
                Err(e) => e.to_string(),
            }),
            None => HyperRequest::Partial,
        }
    })
}

/// The head written for the upstream: CRLF line ends only, no NUL, parses again with
/// `httparse` to the same method and target, and frames the body as the client's head did
/// (exactly one `content-length` with the length, or one `transfer-encoding: chunked`).
pub fn upstream_framing(o: &OwnRequest) {
    let up = &o.upstream;
    assert!(!up.contains(&0), "NUL in the upstream head");
    for (i, &b) in up.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(up.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
            b'\n' => assert!(i > 0 && up[i - 1] == b'\r', "bare LF at {i}"),
            _ => {}
        }
    }
    let mut fields = vec![httparse::EMPTY_HEADER; o.fields.len() + 16];
    let mut req = httparse::Request::new(&mut fields);
    let text = String::from_utf8_lossy(up);
    match req.parse(up) {
        Ok(httparse::Status::Complete(n)) => assert_eq!(n, up.len(), "{text}"),
        other => panic!("the upstream head does not parse: {other:?}\n{text}"),
    }
    assert_eq!(req.method, Some(o.method.as_str()), "{text}");
    assert_eq!(req.path, Some(o.target.as_str()), "{text}");
    let lengths: Vec<&[u8]> = req
        .headers
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("content-length"))
        .map(|f| f.value)
        .collect();
    let codings: Vec<&[u8]> = req
        .headers
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("transfer-encoding"))
        .map(|f| f.value)
        .collect();
    match o.framing {
        Framing::Chunked => {
            assert!(lengths.is_empty(), "content-length with chunked\n{text}");
            assert_eq!(codings, [b"chunked"], "{text}");
        }
        Framing::Length(n) => {
            assert!(codings.is_empty(), "{text}");
            assert_eq!(lengths.len(), 1, "{text}");
            assert_eq!(request::parse_length(lengths[0]), Some(n), "{text}");
        }
        Framing::None => {
            assert!(codings.is_empty(), "{text}");
            assert!(
                lengths.iter().all(|v| request::parse_length(v) == Some(0)),
                "{text}"
            );
        }
    }
}

/// The own path's view of an upstream response.
#[derive(Debug)]
pub struct OwnResponse {
    pub code: u16,
    pub fields: Fields,
    /// The body, or why it broke.
    pub body: Result<Vec<u8>, String>,
    /// The connection could carry another exchange.
    pub reusable: bool,
    /// Bytes of the stream the response took.
    pub consumed: usize,
    /// Where the final head ended and how its body was framed.
    pub head_end: usize,
    pub framing: Body,
}

#[derive(Debug)]
pub enum FastResponse {
    /// Refused for a reason hyper does not share (framing the own path treats as hostile).
    RefusedStricter(&'static str),
    /// No usable head (invalid, or the stream ended before it did).
    Broken(String),
    Response(OwnResponse),
}

/// The own path: heads parsed from the buffer after each read (interim `1xx` heads skipped),
/// then the body relayed from the bytes after the head, the stream ending after `second`.
pub fn own_response(first: &[u8], second: &[u8], head_request: bool) -> FastResponse {
    let whole = [first, second].concat();
    let mut at = 0;
    let mut have = first.len();
    loop {
        let step = response::with_head(&whole[at..have], |parsed| match parsed {
            response::Parsed::Partial => None,
            response::Parsed::Invalid => Some(Err(FastResponse::Broken("invalid head".into()))),
            response::Parsed::Head(h) => Some(match response::judge(&h, head_request) {
                Err(ProxyError::BadResponse(why)) => Err(FastResponse::RefusedStricter(why)),
                Err(e) => Err(FastResponse::Broken(e.to_string())),
                Ok(f) if f.interim => Ok((h.len, None)),
                Ok(f) => Ok((
                    h.len,
                    Some((
                        h.code,
                        by_name(h.headers.iter().map(|f| (f.name, f.value))),
                        f,
                    )),
                )),
            }),
        });
        match step {
            None if have == whole.len() => {
                return FastResponse::Broken("the stream ended inside the head".into())
            }
            None => have = whole.len(),
            Some(Err(r)) => return r,
            Some(Ok((len, None))) => at += len,
            Some(Ok((len, Some((code, fields, facts))))) => {
                let start = at + len;
                // The reads the relay sees after the head: the rest of what was buffered, then
                // what came after.
                let reads: Vec<&[u8]> = if have > start {
                    vec![&whole[start..have], &whole[have..]]
                } else {
                    vec![&whole[start..]]
                };
                let (body, consumed) = match facts.body {
                    Body::None => (Ok(Vec::new()), start),
                    Body::Length(n) => {
                        let rest = &whole[start..];
                        if rest.len() as u64 >= n {
                            (Ok(rest[..n as usize].to_vec()), start + n as usize)
                        } else {
                            (Err("the stream ended mid-body".into()), whole.len())
                        }
                    }
                    Body::Chunked => match decode_chunked(&reads) {
                        Ok((data, Some(n))) => (Ok(data), start + n),
                        Ok((_, None)) => (Err("the stream ended mid-body".into()), whole.len()),
                        Err(e) => (Err(e), whole.len()),
                    },
                    Body::UntilClose => (Ok(whole[start..].to_vec()), whole.len()),
                };
                let reusable = facts.keep_alive && body.is_ok();
                return FastResponse::Response(OwnResponse {
                    code,
                    fields,
                    body,
                    reusable,
                    consumed,
                    head_end: start,
                    framing: facts.body,
                });
            }
        }
    }
}

#[derive(Debug)]
pub enum HyperResponse {
    /// No response: the error.
    Failed(String),
    Response {
        code: u16,
        fields: Fields,
        body: Result<Vec<u8>, String>,
    },
}

/// hyper's client: one request (`GET` or `HEAD`) on a connection whose upstream answers with
/// `first`, then `second`, then closes.
pub fn hyper_response(first: &[u8], second: &[u8], head_request: bool) -> HyperResponse {
    runtime().block_on(async {
        let (client, mut upstream) = tokio::io::duplex(64 * 1024);
        let (first, second) = (first.to_vec(), second.to_vec());
        let origin = tokio::spawn(async move {
            // Answer once the request arrived.
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match upstream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            feed(&mut upstream, &first, &second).await;
            let _ = upstream.shutdown().await;
            // Keep reading so the client's writes never block.
            while let Ok(n) = upstream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        });
        let result = async {
            let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
                .max_headers(1024)
                .handshake::<_, Empty<Bytes>>(TokioIo::new(client))
                .await
                .map_err(|e| e.to_string())?;
            let driver = tokio::spawn(conn);
            let req = http::Request::builder()
                .method(if head_request { "HEAD" } else { "GET" })
                .uri("/")
                .header("host", "origin.example")
                .body(Empty::<Bytes>::new())
                .expect("a request");
            let resp = sender.send_request(req).await.map_err(|e| e.to_string());
            let out = match resp {
                Err(e) => HyperResponse::Failed(e),
                Ok(resp) => {
                    let (parts, body) = resp.into_parts();
                    let body = body
                        .collect()
                        .await
                        .map(|c| c.to_bytes().to_vec())
                        .map_err(|e| e.to_string());
                    HyperResponse::Response {
                        code: parts.status.as_u16(),
                        fields: by_name(
                            parts
                                .headers
                                .iter()
                                .map(|(n, v)| (n.as_str(), v.as_bytes())),
                        ),
                        body,
                    }
                }
            };
            driver.abort();
            Ok::<_, String>(out)
        };
        let out = match tokio::time::timeout(Duration::from_secs(30), result).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => HyperResponse::Failed(e),
            Err(_) => HyperResponse::Failed("timed out".into()),
        };
        origin.abort();
        out
    })
}

/// What a plain reference reading of RFC 9112 §7.1 with the own decoder's documented limits
/// (at most 15 hex digits; lines over 4000 bytes and trailers over 12 KiB count as
/// over the decoder's limits of 4096 and 16 KiB, which it counts slightly differently) makes of a chunked
/// body: `Some(true)` valid (ended, or valid so far), `Some(false)` invalid or over a limit.
/// Written as a scan over whole lines, unlike the decoder's byte-at-a-time state machine.
pub fn strict_chunked_ok(body: &[u8]) -> bool {
    let visible = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80;
    // A CRLF-ended line at `at`: Ok(Some(line)), Ok(None) when the input ends first.
    let line = |at: usize| -> Result<Option<&[u8]>, ()> {
        let rest = &body[at.min(body.len())..];
        match rest.iter().position(|&b| b == b'\n') {
            None => {
                let text = rest.strip_suffix(b"\r").unwrap_or(rest);
                if text.len() > 4000 || text.contains(&b'\r') {
                    return Err(());
                }
                Ok(None)
            }
            Some(lf) if lf > 0 && rest[lf - 1] == b'\r' && lf + 1 <= 4000 + 2 => {
                Ok(Some(&rest[..lf - 1]))
            }
            Some(_) => Err(()),
        }
    };
    let mut at = 0;
    loop {
        let size_line = match line(at) {
            Err(()) => return false,
            Ok(None) => {
                let rest = &body[at..];
                let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
                return size_prefix_ok(rest, &visible);
            }
            Ok(Some(l)) => l,
        };
        let Some(size) = size_ok(size_line, &visible) else {
            return false;
        };
        at += size_line.len() + 2;
        if size == 0 {
            let mut trailers = 0;
            loop {
                match line(at) {
                    Err(()) => return false,
                    Ok(None) => {
                        let rest = &body[at..];
                        let cr = rest.ends_with(b"\r");
                        let rest = rest.strip_suffix(b"\r").unwrap_or(rest);
                        let name = rest.iter().take_while(|&&b| is_tchar(b)).count();
                        // A name not yet followed by its colon is valid so far, unless the
                        // line is already ending (`name\r`).
                        let name_ok = (name == rest.len() && (!cr || rest.is_empty()))
                            || (name > 0 && name < rest.len() && rest[name] == b':');
                        return rest.iter().all(|&b| visible(b))
                            && name_ok
                            && trailers + rest.len() <= 12 * 1024;
                    }
                    Ok(Some([])) => return trailers + 2 <= 12 * 1024,
                    Ok(Some(l)) => {
                        if !l.iter().all(|&b| visible(b)) || !field_line(l) {
                            return false;
                        }
                        trailers += l.len() + 2;
                        if trailers > 12 * 1024 {
                            return false;
                        }
                        at += l.len() + 2;
                    }
                }
            }
        }
        let end = at as u64 + size;
        if end >= body.len() as u64 {
            return true;
        }
        at = end as usize;
        match &body[at..] {
            [b'\r', b'\n', ..] => at += 2,
            [b'\r'] => return true,
            _ => return false,
        }
    }
}

/// A complete chunk-size line: the size, when valid.
fn size_ok(l: &[u8], visible: &impl Fn(u8) -> bool) -> Option<u64> {
    let digits = l.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 || digits > 15 {
        return None;
    }
    let rest = &l[digits..];
    let spaces = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let rest = &rest[spaces..];
    if !(rest.is_empty() || rest[0] == b';' && rest.iter().all(|&b| visible(b))) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(&l[..digits]).ok()?, 16).ok()
}

/// The start of a chunk-size line that has not ended yet.
fn size_prefix_ok(l: &[u8], visible: &impl Fn(u8) -> bool) -> bool {
    let digits = l.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits > 15 || l.len() > 4000 {
        return false;
    }
    if digits == 0 {
        return l.is_empty();
    }
    let rest = &l[digits..];
    let spaces = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let rest = &rest[spaces..];
    rest.is_empty() || rest[0] == b';' && rest.iter().all(|&b| visible(b))
}

/// A byte of a token (RFC 9110 §5.6.2).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// A field line: a non-empty token, then a colon.
fn field_line(l: &[u8]) -> bool {
    let name = l.iter().take_while(|&&b| is_tchar(b)).count();
    name > 0 && l.get(name) == Some(&b':')
}
