//! Request heads on the own HTTP/1.1 path: parsed with `httparse` (into a stack array, on the
//! heap only when there are many fields), checked strictly, and written again for the upstream
//! from the parsed pieces with CRLF line ends and the proxy's edits (hop-by-hop and
//! Connection-nominated fields removed, `Cookie` as the request plan says, `X-Forwarded-*`,
//! `Via`). Raw byte ranges of the client's head are never forwarded.

use std::borrow::Cow;
use std::net::IpAddr;

use crate::policy::filter::CookieEdit;
use crate::policy::host;
use crate::proxy::error::ProxyError;
use crate::proxy::headers::{ip_text, is_hop_by_hop};

/// Header fields parsed on the stack; more are parsed again into a heap array.
const STACK_HEADERS: usize = 64;

/// A parsed request head, borrowing the connection's buffer.
pub struct Head<'h, 'b> {
    pub method: &'b str,
    /// The request target as sent.
    pub target: &'b str,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub headers: &'h [httparse::Header<'b>],
    /// Bytes of the head, the empty line included.
    pub len: usize,
}

/// What parsing the start of a buffer gave.
pub enum Parsed<'h, 'b> {
    /// The head is not complete yet.
    Partial,
    /// More header fields than `server.max_headers`.
    TooManyHeaders,
    /// Not an HTTP/1.x request head.
    Invalid,
    Head(Head<'h, 'b>),
}

/// Parses the head at the start of `buf` and passes it to `f` (the header array lives here).
pub fn with_head<R>(buf: &[u8], max_headers: usize, f: impl FnOnce(Parsed<'_, '_>) -> R) -> R {
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let limit = max_headers.min(STACK_HEADERS);
    let mut req = httparse::Request::new(&mut stack[..limit]);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(len)) => {
            let head = Head {
                method: req.method.unwrap_or(""),
                target: req.path.unwrap_or(""),
                minor: req.version.unwrap_or(1),
                headers: req.headers,
                len,
            };
            f(Parsed::Head(head))
        }
        Ok(httparse::Status::Partial) => f(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) if max_headers > STACK_HEADERS => {
            let mut heap = vec![httparse::EMPTY_HEADER; max_headers];
            let mut req = httparse::Request::new(&mut heap);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(len)) => {
                    let head = Head {
                        method: req.method.unwrap_or(""),
                        target: req.path.unwrap_or(""),
                        minor: req.version.unwrap_or(1),
                        headers: req.headers,
                        len,
                    };
                    f(Parsed::Head(head))
                }
                Ok(httparse::Status::Partial) => f(Parsed::Partial),
                Err(httparse::Error::TooManyHeaders) => f(Parsed::TooManyHeaders),
                Err(_) => f(Parsed::Invalid),
            }
        }
        Err(httparse::Error::TooManyHeaders) => f(Parsed::TooManyHeaders),
        Err(_) => f(Parsed::Invalid),
    }
}

/// How the request body is framed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// What the proxy makes of a parsed head.
pub enum Verdict<'b> {
    /// Served on this path.
    Own(Facts<'b>),
    /// Something this path leaves to hyper: the connection is handed over from this head on.
    HandOver,
    /// Answered with this error, and the connection closed.
    Refuse(ProxyError),
}

/// What the rest of the request's handling needs from its head.
pub struct Facts<'b> {
    pub framing: Framing,
    /// The client asked to close the connection after this request.
    pub close: bool,
    /// The `Host` field's value (checked).
    pub host: &'b [u8],
    pub gpc: bool,
    /// The `Cookie` fields, joined.
    pub cookies: Option<Cow<'b, str>>,
    /// The target forwarded: as sent, without a fragment.
    pub target: &'b str,
    /// The path without the query (for the proxy's own answers).
    pub path: &'b str,
    /// The client sent `Content-Length: 0` (forwarded as such).
    pub zero_length: bool,
}

fn is(name: &str, wanted: &str) -> bool {
    name.len() == wanted.len() && name.eq_ignore_ascii_case(wanted)
}

/// The comma-separated tokens of a field value, trimmed, empty ones skipped.
fn tokens(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// A `Content-Length` value: digits only (no sign, no space inside, no list), any number of
/// leading zeros (RFC 9110 §8.6 `1*DIGIT`, as hyper reads it), at most `u64::MAX - 2` (hyper
/// refuses the two values above it, which it keeps as markers).
pub fn parse_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter()
        .try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add((d - b'0') as u64)
        })
        .filter(|&n| n <= u64::MAX - 2)
}

/// An origin-form target as hyper's `http::Uri` reads it: `None` for one it refuses (a byte
/// outside what it accepts in the path or the query, or over its length limit), else the
/// target without its fragment (which hyper drops).
pub fn origin_target(target: &str) -> Option<&str> {
    /// Bytes `http` accepts as they are in a path (besides `?`, `#` and bytes over 0x7f).
    fn path_byte(b: u8) -> bool {
        matches!(b, 0x21 | 0x22 | 0x24..=0x3B | 0x3D | 0x40..=0x5F | 0x61..=0x7E)
    }
    /// And in a query.
    fn query_byte(b: u8) -> bool {
        matches!(b, 0x21 | 0x24..=0x3B | 0x3D | 0x3F..=0x7E)
    }
    let bytes = target.as_bytes();
    if bytes.is_empty() || bytes.len() >= u16::MAX as usize {
        return None;
    }
    let mut query = false;
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'#' => return Some(&target[..i]),
            b'?' if !query => query = true,
            0x80.. => {}
            _ if query && query_byte(b) => {}
            _ if !query && path_byte(b) => {}
            _ => return None,
        }
    }
    Some(target)
}

/// Checks a head and decides who serves it.
pub fn judge<'b>(head: &Head<'_, 'b>, max_body: Option<u64>) -> Verdict<'b> {
    // What hyper keeps: HTTP/1.0, CONNECT and targets other than origin-form.
    if head.minor != 1 || head.method == "CONNECT" || !head.target.starts_with('/') {
        return Verdict::HandOver;
    }
    let bad = |why: &'static str| Verdict::Refuse(ProxyError::BadRequest(why));
    let mut host: Option<&[u8]> = None;
    let mut hosts = 0;
    let mut te: Option<&[u8]> = None;
    let mut tes = 0;
    let mut length: Option<&[u8]> = None;
    let mut lengths = 0;
    let mut close = false;
    let mut gpc: Option<bool> = None;
    let mut cookies: Option<Cow<'b, str>> = None;
    for h in head.headers {
        let n = h.name;
        match n.len() {
            4 if is(n, "host") => {
                hosts += 1;
                host = Some(h.value);
            }
            6 if is(n, "cookie") => {
                let text = match std::str::from_utf8(h.value) {
                    Ok(s) => Cow::Borrowed(s),
                    Err(_) => String::from_utf8_lossy(h.value),
                };
                cookies = Some(match cookies {
                    None => text,
                    Some(prev) => {
                        let mut joined = prev.into_owned();
                        joined.push_str("; ");
                        joined.push_str(&text);
                        Cow::Owned(joined)
                    }
                });
            }
            6 if is(n, "expect") => return Verdict::HandOver,
            7 if is(n, "upgrade") || is(n, "trailer") => return Verdict::HandOver,
            2 if is(n, "te") && tokens(h.value).any(|t| t.eq_ignore_ascii_case(b"trailers")) => {
                return Verdict::HandOver;
            }
            7 if is(n, "sec-gpc") => {
                gpc.get_or_insert(h.value.trim_ascii() == b"1");
            }
            10 if is(n, "connection") => {
                close |= tokens(h.value).any(|t| t.eq_ignore_ascii_case(b"close"));
            }
            14 if is(n, "content-length") => {
                lengths += 1;
                length = Some(h.value);
            }
            17 if is(n, "transfer-encoding") => {
                tes += 1;
                te = Some(h.value);
            }
            _ => {}
        }
    }
    if te.is_some() && length.is_some() {
        return bad("both Transfer-Encoding and Content-Length");
    }
    if hosts != 1 {
        return bad("an HTTP/1.1 request needs exactly one Host header");
    }
    let host = host.unwrap_or_default();
    if host::parse(host).is_none() {
        return bad("invalid host");
    }
    let framing = if let Some(te) = te {
        if tes > 1 || !te.trim_ascii().eq_ignore_ascii_case(b"chunked") {
            return bad("a Transfer-Encoding other than chunked");
        }
        Framing::Chunked
    } else if let Some(v) = length {
        if lengths > 1 {
            return bad("more than one Content-Length");
        }
        match parse_length(v) {
            None => return bad("invalid Content-Length"),
            Some(n) if max_body.is_some_and(|limit| n > limit) => {
                return Verdict::Refuse(ProxyError::BodyTooLarge)
            }
            Some(0) => Framing::None,
            Some(n) => Framing::Length(n),
        }
    } else {
        Framing::None
    };
    let Some(target) = origin_target(head.target) else {
        return bad("invalid request target");
    };
    let path = target.split('?').next().unwrap_or(target);
    Verdict::Own(Facts {
        framing,
        close,
        host,
        gpc: gpc.unwrap_or(false),
        cookies,
        target,
        path,
        zero_length: length.is_some() && framing == Framing::None,
    })
}

/// Writes `name: value` CRLF, the name in lower case (as the hyper path sends it).
pub fn field(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend(name.bytes().map(|b| b.to_ascii_lowercase()));
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Whether `v` may be sent as a field value (what `HeaderValue` accepts).
pub fn valid_value(v: &[u8]) -> bool {
    v.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f))
}

/// The names a `Connection` field nominates as hop-by-hop (besides `keep-alive` and `close`).
pub fn nominated<'b>(headers: &[httparse::Header<'b>]) -> Vec<&'b [u8]> {
    let mut out = Vec::new();
    for h in headers {
        if is(h.name, "connection") {
            out.extend(tokens(h.value).filter(|t| {
                !t.eq_ignore_ascii_case(b"keep-alive") && !t.eq_ignore_ascii_case(b"close")
            }));
        }
    }
    out
}

/// Writes the head sent upstream for an owned request.
pub fn write_upstream(
    out: &mut Vec<u8>,
    head: &Head<'_, '_>,
    facts: &Facts<'_>,
    cookie: &CookieEdit,
    peer: IpAddr,
    https: bool,
) {
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(facts.target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let listed = nominated(head.headers);
    let mut forwarded_for: Option<&[u8]> = None;
    let mut cookie_done = false;
    for h in head.headers {
        let n = h.name;
        // The framing fields are written from the judged framing below: a `Connection` field
        // nominating `Content-Length` must not leave the body unframed for the upstream.
        if is_hop_by_hop(n)
            || is(n, "content-length")
            || listed.iter().any(|l| l.eq_ignore_ascii_case(n.as_bytes()))
        {
            continue;
        }
        if is(n, "cookie") {
            if !cookie_done {
                cookie_done = true;
                let v: Option<&[u8]> = match cookie {
                    CookieEdit::Keep => facts.cookies.as_deref().map(str::as_bytes),
                    CookieEdit::Rewrite(c) => Some(c.as_bytes()),
                    CookieEdit::Remove => None,
                };
                if let Some(v) = v.filter(|v| valid_value(v)) {
                    field(out, "cookie", v);
                }
            }
            continue;
        }
        if n.len() >= 15 && n[..12].eq_ignore_ascii_case("x-forwarded-") {
            if is(n, "x-forwarded-for") {
                forwarded_for = forwarded_for.or(Some(h.value));
                continue;
            }
            if is(n, "x-forwarded-proto") || is(n, "x-forwarded-host") {
                continue;
            }
        }
        field(out, n, h.value);
    }
    match facts.framing {
        Framing::Chunked => out.extend_from_slice(b"transfer-encoding: chunked\r\n"),
        Framing::Length(n) => {
            out.extend_from_slice(b"content-length: ");
            out.extend_from_slice(n.to_string().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        // A `Content-Length: 0` the client sent (some origins want one on a POST).
        Framing::None if facts.zero_length => out.extend_from_slice(b"content-length: 0\r\n"),
        Framing::None => {}
    }
    out.extend_from_slice(b"x-forwarded-for: ");
    if let Some(prev) = forwarded_for
        .map(<[u8]>::trim_ascii)
        .filter(|p| !p.is_empty())
    {
        out.extend_from_slice(prev);
        out.extend_from_slice(b", ");
    }
    let mut ip = [0u8; 64];
    out.extend_from_slice(ip_text(peer.to_canonical(), &mut ip));
    out.extend_from_slice(b"\r\nx-forwarded-proto: ");
    out.extend_from_slice(if https { b"https" } else { b"http" });
    out.extend_from_slice(b"\r\nx-forwarded-host: ");
    out.extend_from_slice(facts.host);
    out.extend_from_slice(b"\r\nvia: 1.1 consentry\r\n\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses and judges `raw`; the outcome as text (`own <framing>`, `hand-over`, or the
    /// refusal's status).
    fn outcome(raw: &[u8]) -> String {
        with_head(raw, 100, |p| match p {
            Parsed::Partial => "partial".into(),
            Parsed::TooManyHeaders => "431".into(),
            Parsed::Invalid => "400".into(),
            Parsed::Head(h) => match judge(&h, Some(1000)) {
                Verdict::Own(f) => format!("own {:?}", f.framing),
                Verdict::HandOver => "hand-over".into(),
                Verdict::Refuse(e) => e.status().as_u16().to_string(),
            },
        })
    }

    #[test]
    fn every_split_of_a_head_is_partial_until_the_last_byte() {
        let raw: &[u8] = b"POST /a?b=1 HTTP/1.1\r\nHost: shop.example\r\nContent-Length: 5\r\nCookie: a=1\r\n\r\nhello";
        let head_len = raw.len() - 5;
        for cut in 0..head_len {
            assert_eq!(outcome(&raw[..cut]), "partial", "cut at {cut}");
        }
        for cut in head_len..=raw.len() {
            assert_eq!(outcome(&raw[..cut]), "own Length(5)", "cut at {cut}");
        }
    }

    #[test]
    fn content_length_is_digits_with_any_leading_zeros_up_to_hypers_limit() {
        assert_eq!(parse_length(b"0"), Some(0));
        assert_eq!(parse_length(b" 42 "), Some(42));
        let zeros = format!("{}4099276460824344804", "0".repeat(60));
        assert_eq!(
            parse_length(zeros.as_bytes()),
            Some(4_099_276_460_824_344_804)
        );
        assert_eq!(parse_length(b"18446744073709551613"), Some(u64::MAX - 2));
        // Found by the response target: hyper refuses the two largest values.
        for bad in [
            &b"18446744073709551615"[..],
            b"0018446744073709551614",
            b"18446744073709551616",
            b"",
            b"+1",
            b"-1",
            b"1 2",
            b"1,1",
            b"0x10",
        ] {
            assert_eq!(parse_length(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ambiguous_framing_is_refused() {
        let cases: &[(&[u8], &str)] = &[
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3 3\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", "413"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "400"),
            (b"GET / HTTP/1.1\r\n\r\n", "400"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "400"),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "400"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n", "400"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX : 1\r\n\r\n", "400"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", "400"),
            (b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", "400"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked \r\n\r\n", "own Chunked"),
            (b"GET / HTTP/1.1\nHost: a\n\n", "own None"),
            (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", "own None"),
        ];
        for (raw, want) in cases {
            assert_eq!(&outcome(raw), want, "{}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn targets_are_read_as_hyper_reads_them() {
        // Found by the differential fuzz target: bytes `http::Uri` refuses were forwarded, and
        // a fragment hyper drops reached the upstream.
        for bad in [
            &b"GET /a>b HTTP/1.1\r\nHost: a\r\n\r\n"[..],
            b"GET /a<b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a`b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a?b\"c HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a?b<c HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(outcome(bad), "400", "{}", String::from_utf8_lossy(bad));
        }
        let text = upstream(b"GET /a\"{}|^?b=[x]`~#frag?x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(
            text.starts_with("GET /a\"{}|^?b=[x]`~ HTTP/1.1\r\n"),
            "{text}"
        );
        assert_eq!(origin_target("/#x"), Some("/"));
        assert_eq!(origin_target("/a?b?c"), Some("/a?b?c"));
    }

    #[test]
    fn what_hyper_keeps_is_handed_over() {
        for raw in [
            &b"GET / HTTP/1.0\r\n\r\n"[..],
            b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
            b"GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTE: trailers\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(
                outcome(raw),
                "hand-over",
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn many_fields_are_parsed_on_the_heap_up_to_the_limit() {
        let mut raw = b"GET / HTTP/1.1\r\nHost: a\r\n".to_vec();
        for i in 0..90 {
            raw.extend_from_slice(format!("X-{i}: {i}\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        assert_eq!(outcome(&raw), "own None");
        let mut more = raw[..raw.len() - 2].to_vec();
        for i in 0..20 {
            more.extend_from_slice(format!("Y-{i}: {i}\r\n").as_bytes());
        }
        more.extend_from_slice(b"\r\n");
        assert_eq!(outcome(&more), "431");
    }

    /// The upstream head for `raw` as judged, with the cookies kept.
    fn upstream(raw: &[u8]) -> String {
        with_head(raw, 100, |p| {
            let Parsed::Head(h) = p else {
                panic!("not parsed")
            };
            let Verdict::Own(f) = judge(&h, None) else {
                panic!("not owned")
            };
            let mut out = Vec::new();
            write_upstream(
                &mut out,
                &h,
                &f,
                &CookieEdit::Keep,
                "10.0.0.1".parse().unwrap(),
                false,
            );
            String::from_utf8(out).unwrap()
        })
    }

    #[test]
    fn a_connection_field_never_removes_the_body_framing() {
        // Found by the differential fuzz target: `Connection: content-length` dropped the
        // field while the body was still sent, so the upstream read the body as a new request.
        let text = upstream(b"POST / HTTP/1.1\r\nHost: a\r\nConnection: content-length\r\nContent-Length: 3\r\n\r\nabc");
        assert!(text.contains("\r\ncontent-length: 3\r\n"), "{text}");
        let text = upstream(b"POST / HTTP/1.1\r\nHost: a\r\nConnection: transfer-encoding, content-length\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert!(
            text.contains("\r\ntransfer-encoding: chunked\r\n"),
            "{text}"
        );
        assert!(!text.contains("content-length"), "{text}");
        let text = upstream(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 00\r\n\r\n");
        assert_eq!(text.matches("content-length: 0\r\n").count(), 1, "{text}");
        let text = upstream(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(!text.contains("content-length"), "{text}");
    }

    #[test]
    fn the_upstream_head_is_written_from_the_pieces() {
        let raw: &[u8] = b"GET /p?q HTTP/1.1\nHost: Shop.example\nConnection: keep-alive, X-Hop\nX-Hop: 1\nKeep-Alive: 5\nCookie: _ga=1\nX-Forwarded-For: 203.0.113.9\nX-Forwarded-Host: spoof\nVia: 1.1 cdn\nCookie: sid=2\nAccept: */*\n\n";
        let text = with_head(raw, 100, |p| {
            let Parsed::Head(h) = p else {
                panic!("not parsed")
            };
            let Verdict::Own(f) = judge(&h, None) else {
                panic!("not owned")
            };
            assert_eq!(f.cookies.as_deref(), Some("_ga=1; sid=2"));
            let mut out = Vec::new();
            write_upstream(
                &mut out,
                &h,
                &f,
                &CookieEdit::Keep,
                "10.0.0.1".parse().unwrap(),
                true,
            );
            String::from_utf8(out).unwrap()
        });
        assert_eq!(
            text,
            "GET /p?q HTTP/1.1\r\nhost: Shop.example\r\ncookie: _ga=1; sid=2\r\nvia: 1.1 cdn\r\naccept: */*\r\n\
x-forwarded-for: 203.0.113.9, 10.0.0.1\r\nx-forwarded-proto: https\r\nx-forwarded-host: Shop.example\r\nvia: 1.1 consentry\r\n\r\n"
        );
    }
}
