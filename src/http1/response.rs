//! Response heads on the own HTTP/1.1 path: the upstream's head parsed with `httparse`, its
//! framing checked, and the head the client gets written from the parsed pieces with the
//! proxy's edits: hop-by-hop fields removed, the `Set-Cookie` lines the policy kept (judged on
//! the raw bytes), the cleanup lines, `Cache-Control: private` when the cookies changed, `Via`.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::request::{field, nominated, parse_length};
use crate::proxy::error::ProxyError;
use crate::proxy::headers::is_hop_by_hop;

const STACK_HEADERS: usize = 64;
/// The longest upstream response head.
pub const MAX_HEAD: usize = 1024 * 1024;

/// A parsed response head, borrowing the exchange's buffer.
pub struct Head<'h, 'b> {
    pub code: u16,
    pub reason: &'b str,
    pub minor: u8,
    pub headers: &'h [httparse::Header<'b>],
    pub len: usize,
}

pub enum Parsed<'h, 'b> {
    Partial,
    Invalid,
    Head(Head<'h, 'b>),
}

/// Parses the response head at the start of `buf` and passes it to `f`: on a stack array, or
/// (for many fields, such as a hundred `Set-Cookie` lines) on one sized by the head's lines.
pub fn with_head<R>(buf: &[u8], f: impl FnOnce(Parsed<'_, '_>) -> R) -> R {
    let mut stack = [httparse::EMPTY_HEADER; STACK_HEADERS];
    let mut resp = httparse::Response::new(&mut stack);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(len)) => f(Parsed::Head(Head {
            code: resp.code.unwrap_or(0),
            reason: resp.reason.unwrap_or(""),
            minor: resp.version.unwrap_or(1),
            headers: resp.headers,
            len,
        })),
        Ok(httparse::Status::Partial) => f(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => {
            let lines = memchr::memchr_iter(b'\n', buf).count() + 1;
            let mut heap = vec![httparse::EMPTY_HEADER; lines];
            let mut resp = httparse::Response::new(&mut heap);
            match resp.parse(buf) {
                Ok(httparse::Status::Complete(len)) => f(Parsed::Head(Head {
                    code: resp.code.unwrap_or(0),
                    reason: resp.reason.unwrap_or(""),
                    minor: resp.version.unwrap_or(1),
                    headers: resp.headers,
                    len,
                })),
                Ok(httparse::Status::Partial) => f(Parsed::Partial),
                Err(_) => f(Parsed::Invalid),
            }
        }
        Err(_) => f(Parsed::Invalid),
    }
}

/// How the response body is framed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// No body (HEAD, 204, 304).
    None,
    Length(u64),
    Chunked,
    /// Up to the upstream's close.
    UntilClose,
}

/// What the exchange needs to know of a response head.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    pub body: Body,
    /// The upstream keeps the connection open after this response.
    pub keep_alive: bool,
    /// A `1xx` other than `101`: skipped, the real response follows.
    pub interim: bool,
}

fn is(name: &str, wanted: &str) -> bool {
    name.len() == wanted.len() && name.eq_ignore_ascii_case(wanted)
}

/// Checks the framing of a response to a request (`head`: a HEAD request).
pub fn judge(h: &Head<'_, '_>, head: bool) -> Result<Facts, ProxyError> {
    // `httparse` reads any three digits; a status below 100 is no HTTP status (hyper refuses
    // it, and it must not reach the client).
    if h.code < 100 {
        return Err(ProxyError::Protocol("invalid status code".into()));
    }
    if (100..200).contains(&h.code) && h.code != 101 {
        return Ok(Facts {
            body: Body::None,
            keep_alive: true,
            interim: true,
        });
    }
    if h.code == 101 {
        return Err(ProxyError::BadResponse(
            "a protocol switch the client did not ask for",
        ));
    }
    let mut te: Option<bool> = None;
    let mut length: Option<u64> = None;
    let mut bad_length = false;
    let mut close = false;
    let mut keep_alive = false;
    for f in h.headers {
        let n = f.name;
        if is(n, "transfer-encoding") {
            // The last element of the last field decides, an empty one included: hyper reads
            // `chunked,` as not chunked, so the body is read to the close and the connection
            // not reused, whichever reading the upstream meant. A value with a byte outside
            // visible ASCII (and tab) is not chunked either, as hyper reads it.
            let visible = f
                .value
                .iter()
                .all(|&b| b == b'\t' || (0x20..0x7f).contains(&b));
            let last = f.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            te = Some(visible && last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if is(n, "content-length") {
            match parse_length(f.value) {
                Some(v) if length.is_none_or(|l| l == v) => length = Some(v),
                _ => bad_length = true,
            }
        } else if is(n, "connection") {
            for t in f.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                close |= t.eq_ignore_ascii_case(b"close");
                keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    if te.is_some() && (length.is_some() || bad_length) {
        return Err(ProxyError::BadResponse(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    if te.is_some() && h.minor == 0 {
        // RFC 9112 §6.1: faulty framing (hyper refuses it).
        return Err(ProxyError::BadResponse(
            "Transfer-Encoding in an HTTP/1.0 response",
        ));
    }
    let keep_alive = !close && (h.minor == 1 || keep_alive);
    let body = if head || h.code == 204 || h.code == 304 {
        Body::None
    } else if let Some(chunked) = te {
        if chunked {
            Body::Chunked
        } else {
            Body::UntilClose
        }
    } else if bad_length {
        return Err(ProxyError::Protocol("invalid Content-Length".into()));
    } else {
        match length {
            Some(0) => Body::None,
            Some(n) => Body::Length(n),
            None => Body::UntilClose,
        }
    };
    Ok(Facts {
        body,
        keep_alive: keep_alive && body != Body::UntilClose,
        interim: false,
    })
}

/// The edits the proxy makes to a response head (decided before it is written).
pub struct Edits<'a> {
    /// The `Set-Cookie` lines sent: the upstream's the policy kept, then the cleanup lines.
    pub set_cookies: Vec<Cow<'a, [u8]>>,
    /// The one `Cache-Control` field replacing the upstream's, when the response became private.
    pub cache_control: Option<Vec<u8>>,
    /// `X-Consentry-Blocked` / `X-Consentry-Deleted` (demo mode).
    pub debug: Option<(String, String)>,
}

/// Writes the status line and fields of the head the client gets (without the framing fields
/// the proxy adds and the closing empty line).
pub fn write_fields(out: &mut Vec<u8>, h: &Head<'_, '_>, edits: &Edits<'_>) {
    out.extend_from_slice(b"HTTP/1.1 ");
    let mut code = [b'0'; 3];
    code[0] += (h.code / 100 % 10) as u8;
    code[1] += (h.code / 10 % 10) as u8;
    code[2] += (h.code % 10) as u8;
    out.extend_from_slice(&code);
    out.push(b' ');
    out.extend_from_slice(h.reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    let listed = nominated(h.headers);
    for f in h.headers {
        let n = f.name;
        if is_hop_by_hop(n)
            || is(n, "set-cookie")
            || (edits.cache_control.is_some() && is(n, "cache-control"))
            || (edits.debug.is_some()
                && (is(n, "x-consentry-blocked") || is(n, "x-consentry-deleted")))
            || listed.iter().any(|l| l.eq_ignore_ascii_case(n.as_bytes()))
        {
            continue;
        }
        field(out, n, f.value);
    }
    for line in &edits.set_cookies {
        field(out, "set-cookie", line);
    }
    if let Some(cc) = &edits.cache_control {
        field(out, "cache-control", cc);
    }
    if let Some((blocked, deleted)) = &edits.debug {
        field(out, "x-consentry-blocked", blocked.as_bytes());
        field(out, "x-consentry-deleted", deleted.as_bytes());
    }
    if !h.headers.iter().any(|f| is(f.name, "date")) {
        // As hyper's server does for a response without one.
        date(out);
    }
    field(
        out,
        "via",
        if h.minor == 0 {
            b"1.0 consentry"
        } else {
            b"1.1 consentry"
        },
    );
}

/// Writes a `Date` field for now, formatted once a second per thread.
pub fn date(out: &mut Vec<u8>) {
    use std::cell::RefCell;
    use std::time::{SystemTime, UNIX_EPOCH};
    thread_local! {
        static CACHE: RefCell<(u64, String)> = const { RefCell::new((0, String::new())) };
    }
    let now = SystemTime::now();
    let secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs || c.1.is_empty() {
            *c = (secs, httpdate::fmt_http_date(now));
        }
        field(out, "date", c.1.as_bytes());
    });
}

/// Whether the response is one the page guard may rewrite (a single `text/html`
/// `Content-Type`); the precise checks are the page guard's own, on a header map.
pub fn maybe_html(h: &Head<'_, '_>) -> bool {
    let mut types = h.headers.iter().filter(|f| is(f.name, "content-type"));
    match (types.next(), types.next()) {
        (Some(f), None) => {
            let v = f.value.split(|&b| b == b';').next().unwrap_or(b"");
            v.trim_ascii().eq_ignore_ascii_case(b"text/html")
        }
        _ => false,
    }
}

/// The fields of a written head (status line skipped) as a header map, for the page guard.
pub fn to_map(written: &[u8]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in written.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) {
            map.append(n, v);
        }
    }
    map
}

/// Writes the status line of a written head again, followed by the fields of `map`.
pub fn write_map(out: &mut Vec<u8>, status_line: &[u8], map: &HeaderMap) {
    out.extend_from_slice(status_line);
    for (n, v) in map {
        field(out, n.as_str(), v.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(raw: &[u8], head: bool) -> Result<Facts, u16> {
        with_head(raw, |p| match p {
            Parsed::Head(h) => judge(&h, head).map_err(|e| e.status().as_u16()),
            Parsed::Partial => Err(0),
            Parsed::Invalid => Err(1),
        })
    }

    #[test]
    fn framing_of_responses() {
        let ok = |body, keep_alive| {
            Ok(Facts {
                body,
                keep_alive,
                interim: false,
            })
        };
        assert_eq!(
            facts(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", false),
            ok(Body::Length(5), true)
        );
        assert_eq!(
            facts(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true),
            ok(Body::None, true)
        );
        assert_eq!(
            facts(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                false
            ),
            ok(Body::Chunked, true)
        );
        assert_eq!(
            facts(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", false),
            ok(Body::UntilClose, false)
        );
        // Found by the differential fuzz target: an empty last element is not `chunked`.
        assert_eq!(
            facts(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n",
                false
            ),
            ok(Body::UntilClose, false)
        );
        assert_eq!(
            facts(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked , \r\n\r\n",
                false
            ),
            ok(Body::UntilClose, false)
        );
        // Found by the differential fuzz target: a byte outside visible ASCII in the value.
        assert_eq!(
            facts(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: \xa8 ,chunked\r\n\r\n",
                false
            ),
            ok(Body::UntilClose, false)
        );
        assert_eq!(
            facts(b"HTTP/1.1 200 OK\r\n\r\n", false),
            ok(Body::UntilClose, false)
        );
        assert_eq!(
            facts(
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
                false
            ),
            ok(Body::None, true)
        );
        assert_eq!(
            facts(b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", false),
            ok(Body::Length(1), false)
        );
        assert_eq!(
            facts(
                b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n",
                false
            ),
            ok(Body::Length(1), false)
        );
        assert_eq!(
            facts(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                false
            ),
            ok(Body::Length(1), true)
        );
        assert_eq!(
            facts(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                false
            ),
            Err(502)
        );
        assert_eq!(
            facts(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                false
            ),
            Err(502)
        );
        assert_eq!(facts(b"HTTP/1.1 101 Switching\r\n\r\n", false), Err(502));
        // Found by the differential fuzz target: hyper refuses a status below 100.
        assert_eq!(
            facts(b"HTTP/1.1 000 Zero\r\nContent-Length: 2\r\n\r\n", false),
            Err(502)
        );
        assert_eq!(facts(b"HTTP/1.1 099 X\r\n\r\n", true), Err(502));
        // Found by the differential fuzz target: hyper refuses chunked HTTP/1.0 responses.
        assert_eq!(
            facts(
                b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                false
            ),
            Err(502)
        );
        assert!(
            facts(b"HTTP/1.1 100 Continue\r\n\r\n", false)
                .unwrap()
                .interim
        );
        assert_eq!(facts(b"HTTP/1.1 200 OK\r\nX: 1\r\n", false), Err(0));
        assert_eq!(facts(b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", false), Err(1));
    }

    #[test]
    fn every_split_of_a_response_head_parses_alike() {
        let raw: &[u8] = b"HTTP/1.1 200 Fine\r\nSet-Cookie: a=1\r\nContent-Length: 2\r\n\r\nok";
        let len = raw.len() - 2;
        for cut in 0..raw.len() {
            let got = with_head(&raw[..cut], |p| match p {
                Parsed::Head(h) => Some((h.code, h.reason.to_string(), h.len)),
                _ => None,
            });
            if cut < len {
                assert_eq!(got, None, "cut at {cut}");
            } else {
                assert_eq!(got, Some((200, "Fine".to_string(), len)), "cut at {cut}");
            }
        }
    }

    #[test]
    fn many_set_cookie_lines_are_parsed_on_the_heap() {
        let mut raw = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..300 {
            raw.extend_from_slice(format!("Set-Cookie: c{i}=1\r\n").as_bytes());
        }
        raw.extend_from_slice(b"\r\n");
        let n = with_head(&raw, |p| match p {
            Parsed::Head(h) => h.headers.len(),
            _ => 0,
        });
        assert_eq!(n, 300);
    }

    #[test]
    fn the_client_head_is_written_with_the_edits() {
        let raw: &[u8] = b"HTTP/1.1 200 OK\nDate: Thu, 01 Jan 2026 00:00:00 GMT\nConnection: x-hop\nX-Hop: 1\nSet-Cookie: _ga=1\nCache-Control: public, max-age=60\nSet-Cookie: sid=2\nTransfer-Encoding: chunked\nVia: 1.1 app\n\n";
        let text = with_head(raw, |p| {
            let Parsed::Head(h) = p else {
                panic!("not parsed")
            };
            let edits = Edits {
                set_cookies: vec![Cow::Borrowed(&b"sid=2"[..])],
                cache_control: Some(b"max-age=60, private".to_vec()),
                debug: None,
            };
            let mut out = Vec::new();
            write_fields(&mut out, &h, &edits);
            String::from_utf8(out).unwrap()
        });
        assert_eq!(
            text,
            "HTTP/1.1 200 OK\r\ndate: Thu, 01 Jan 2026 00:00:00 GMT\r\nvia: 1.1 app\r\nset-cookie: sid=2\r\ncache-control: max-age=60, private\r\nvia: 1.1 consentry\r\n"
        );
        let map = to_map(text.as_bytes());
        assert_eq!(map.get_all("via").iter().count(), 2);
        let mut again = Vec::new();
        write_map(&mut again, b"HTTP/1.1 200 OK\r\n", &map);
        assert!(again.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert_eq!(to_map(&again), map);
    }
}
