//! Request smuggling and desync, as one table: each case is raw bytes sent on one client
//! connection to the proxy, in front of an origin that reads strictly (CRLF only, one framing,
//! `chunked` as the only coding) and records every request it gets whole. Each case has exactly
//! one of two outcomes:
//!
//! - **rejected**: the first answer is a 4xx (or 501, for a transfer coding the proxy does not
//!   implement, RFC 9112 §6.1), no further answer follows on the connection, and no whole request
//!   reaches the origin. Request bodies stream, so when the error is in the body (a bad chunk)
//!   the origin may see the start of a message the proxy then abandons, never a whole one;
//! - **forwarded**: exactly the listed requests reach the origin, in order, each with exactly the
//!   listed body, each carrying the proxy's `Via` (so none was tunnelled past it), and the client
//!   gets exactly one answer per request, the origin's, in order.
//!
//! Where the RFCs let a recipient either reject or accept (a repeated identical
//! `Content-Length`, RFC 9110 §8.6; bare LF line ends in the head, RFC 9112 §2.2), the table
//! follows the proxy's reference HTTP/1.1 implementation and says so; nginx's answer is noted
//! where it differs.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wire::{Conn, Message, Read};
use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// What reached the origin.
#[derive(Debug)]
enum Event {
    /// A whole request.
    Request(Message),
    /// A message the proxy started and abandoned.
    Aborted(String),
    /// Bytes that break HTTP/1.1: the proxy forwarded something it must not.
    Invalid(String),
}

/// An origin on 127.0.0.1:0 that records what it reads and answers each request with a small
/// keep-alive response whose body is `seen N`, N counting the origin's requests from 0.
async fn recording_origin() -> (SocketAddr, Arc<Mutex<Vec<Event>>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let log: Arc<Mutex<Vec<Event>>> = Arc::default();
    let seen = Arc::new(AtomicUsize::new(0));
    let events = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let events = events.clone();
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut c = Conn::new(s);
                loop {
                    match c.read_request(Duration::from_secs(30)).await {
                        Read::Message(m) => {
                            events.lock().unwrap().push(Event::Request(m));
                            let body = format!("seen {}", seen.fetch_add(1, Ordering::SeqCst));
                            let resp = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                                body.len()
                            );
                            if c.stream.write_all(resp.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        Read::Truncated(why) => {
                            events.lock().unwrap().push(Event::Aborted(why));
                            return;
                        }
                        Read::Invalid(why) => {
                            events.lock().unwrap().push(Event::Invalid(why));
                            return;
                        }
                        Read::Closed | Read::Timeout { .. } => return,
                    }
                }
            });
        }
    });
    (addr, log)
}

/// A request expected at the origin.
#[derive(Clone, Copy)]
struct Fwd {
    method: &'static str,
    target: &'static str,
    body: &'static [u8],
    /// The `Host` the origin must see, when the case is about it.
    host: Option<&'static str>,
    /// Headers that must not reach the origin.
    absent: &'static [&'static str],
}

const fn fwd(method: &'static str, target: &'static str, body: &'static [u8]) -> Fwd {
    Fwd {
        method,
        target,
        body,
        host: None,
        absent: &[],
    }
}

enum Outcome {
    Rejected,
    Forwarded(&'static [Fwd]),
    /// Where the RFCs let a recipient either refuse the message or take it: rejected (as nginx
    /// does), or forwarded exactly as listed (as hyper does). Both leave the two hops agreeing.
    Either(&'static [Fwd]),
}
use Outcome::*;

const POST_HELLO: &[Fwd] = &[fwd("POST", "/", b"hello")];

/// The table: name, the bytes the client sends, the outcome.
const CASES: &[(&str, &[u8], Outcome)] = &[
    // CL.TE and TE.CL: both framings in one request, in either order (RFC 9112 §6.1: "ought to
    // be handled as an error"; nginx 400).
    ("CL.TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", Rejected),
    ("TE.CL", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n2c\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\nX: GPOST\r\n\r\n0\r\n\r\n", Rejected),
    ("CL.TE with Content-Length 0", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    // TE.TE: a Transfer-Encoding one side might not read as chunked. A request whose final
    // coding is not chunked has no reliable length (RFC 9112 §6.1: 400); a coding the proxy does
    // not implement is a 501 (nginx answers 501 to anything but exactly `chunked`).
    ("TE xchunked with CL", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("TE xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", Rejected),
    ("TE chunked, identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("TE identity", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("TE gzip, chunked (a coding the proxy cannot pass on)", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("TE duplicated: chunked then xchunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("TE duplicated: xchunked then chunked", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    // Two fields naming chunked once each: the final coding is chunked and the body is read once
    // as chunked, then re-framed for the origin, so both hops agree on its end (hyper); nginx and
    // the own HTTP/1.1 path refuse it (400).
    ("TE duplicated: chunked twice", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Either(POST_HELLO)),
    ("TE on HTTP/1.0", b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("TE with a vertical tab", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\x0bchunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("TE with a space before the colon", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding : chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("TE folded onto Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Rejected),
    // Whitespace around a field value is not part of it (RFC 9110 §5.5): these are `chunked`.
    ("TE value with leading spaces", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:   chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Forwarded(POST_HELLO)),
    ("TE value with a trailing tab", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\t\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Forwarded(POST_HELLO)),
    ("TE in upper case", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n5\r\nhello\r\n0\r\n\r\n", Forwarded(POST_HELLO)),
    // Content-Length = 1*DIGIT (RFC 9110 §8.6); invalid or conflicting values are a 400
    // (RFC 9112 §6.3).
    ("CL conflicting duplicates", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", Rejected),
    ("CL conflicting list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\nhello!", Rejected),
    // Identical repeats: RFC 9110 §8.6 lets a recipient either refuse them or take the one
    // value. hyper takes repeated fields; nginx and the own HTTP/1.1 path refuse them (400); a
    // list in one field is refused by all.
    ("CL identical duplicates", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", Either(POST_HELLO)),
    ("CL identical list", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\nhello", Rejected),
    ("CL signed +5", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\nhello", Rejected),
    ("CL negative", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\nhello", Rejected),
    ("CL spaced 5 5", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 5\r\n\r\nhello", Rejected),
    ("CL non-digit 5x", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\nhello", Rejected),
    ("CL hex 0x5", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\nhello", Rejected),
    ("CL empty", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\nhello", Rejected),
    ("CL overflowing u64", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\nhello", Rejected),
    ("CL with leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 005\r\n\r\nhello", Forwarded(POST_HELLO)),
    // Field syntax (RFC 9112 §5).
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n", Rejected),
    ("space before the colon", b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad : 1\r\n\r\n", Rejected),
    ("tab before the colon", b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad\t: 1\r\n\r\n", Rejected),
    ("space inside a field name", b"GET / HTTP/1.1\r\nHost: a\r\nX Bad: 1\r\n\r\n", Rejected),
    ("empty field name", b"GET / HTTP/1.1\r\nHost: a\r\n: 1\r\n\r\n", Rejected),
    ("bare CR inside a value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rX-Injected: 2\r\n\r\n", Rejected),
    ("bare CR ending a line", b"GET / HTTP/1.1\r\nHost: a\rX-A: 1\r\n\r\n", Rejected),
    ("NUL in a value", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n", Rejected),
    ("NUL in a name", b"GET / HTTP/1.1\r\nHost: a\r\nX-\x00A: 1\r\n\r\n", Rejected),
    // Bare LF line ends in the head: RFC 9112 §2.2 lets a recipient accept them; the origin gets
    // a head re-written with CRLF (it refuses anything else).
    ("bare LF head", b"GET /lf HTTP/1.1\nHost: a\nX-A: 1\n\n", Forwarded(&[fwd("GET", "/lf", b"")])),
    ("bare LF head with a body", b"POST /lf HTTP/1.1\nHost: a\nContent-Length: 5\n\nhello", Forwarded(&[fwd("POST", "/lf", b"hello")])),
    // Chunked framing (RFC 9112 §7.1).
    ("chunk size overflow", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n", Rejected),
    ("chunk size 0x5", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("chunk size negative", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", Rejected),
    ("chunk data longer than its size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", Rejected),
    ("no CRLF after chunk data", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", Rejected),
    ("bare LF in chunk framing", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n", Rejected),
    ("chunk extensions", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;ext=1\r\nhe\r\n3;a=b;c=\"d;e\"\r\nllo\r\n0;last\r\n\r\n", Forwarded(POST_HELLO)),
    ("chunk sizes in upper case with leading zeros", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n000A\r\n0123456789\r\n0\r\n\r\n", Forwarded(&[fwd("POST", "/", b"0123456789")])),
    ("empty chunked body", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", Forwarded(&[fwd("POST", "/", b"")])),
    ("trailers, then a pipelined request", b"POST /t HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n", Forwarded(&[fwd("POST", "/t", b"hello"), fwd("GET", "/after", b"")])),
    // Pipelining after a body: the next request starts exactly where the body ends.
    ("pipelined after a Content-Length body", b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: a\r\n\r\n", Forwarded(&[fwd("POST", "/a", b"hello"), fwd("GET", "/b", b"")])),
    ("pipelined after a chunked body", b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n", Forwarded(&[fwd("POST", "/a", b"hello"), fwd("GET", "/b", b"")])),
    ("a body that looks like a request", b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 35\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", Forwarded(&[fwd("POST", "/a", b"GET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n")])),
    ("a GET with a body, then a request", b"GET /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: a\r\n\r\n", Forwarded(&[fwd("GET", "/a", b"hello"), fwd("GET", "/b", b"")])),
    ("Expect: 100-continue with its body", b"POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", Forwarded(&[fwd("POST", "/e", b"hello")])),
    // Host (RFC 9112 §3.2).
    ("two Host fields", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", Rejected),
    ("missing Host on HTTP/1.1", b"GET / HTTP/1.1\r\nX-A: 1\r\n\r\n", Rejected),
    ("missing Host on HTTP/1.0", b"GET /ten HTTP/1.0\r\n\r\n", Forwarded(&[fwd("GET", "/ten", b"")])),
    // The target's authority wins over Host (RFC 9112 §3.2.2): the origin sees one host.
    ("absolute-form against Host", b"GET http://other.example/abs HTTP/1.1\r\nHost: shop.example\r\n\r\n", Forwarded(&[Fwd { host: Some("other.example"), ..fwd("GET", "/abs", b"") }])),
    // Upgrade is only a request to switch with the `upgrade` connection option (RFC 9110
    // §7.8): without it the request is plain, loses the hop-by-hop field, and what follows is
    // the next request, not a tunnel.
    ("Upgrade without Connection: upgrade", b"GET /up HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n", Forwarded(&[Fwd { absent: &["upgrade"], ..fwd("GET", "/up", b"") }, fwd("GET", "/next", b"")])),
    // Fields the Connection header names are hop-by-hop (RFC 9110 §7.6.1).
    ("Connection-nominated fields", b"GET /c HTTP/1.1\r\nHost: a\r\nConnection: x-secret, keep-alive\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n\r\n", Forwarded(&[Fwd { absent: &["x-secret", "keep-alive", "connection"], ..fwd("GET", "/c", b"") }])),
];

fn rejected_status(status: u16) -> bool {
    (400..500).contains(&status) || status == 501
}

/// Runs one case against its own origin and proxy; returns what went wrong.
async fn run(name: &'static str, raw: &'static [u8], outcome: &'static Outcome) -> Vec<String> {
    let (origin, log) = recording_origin().await;
    // Every case runs at once: a loaded machine must not turn a forwarded request into a 504.
    let text =
        config_text(origin, "").replace("response_timeout = \"1s\"", "response_timeout = \"20s\"");
    assert!(text.contains("response_timeout = \"20s\""), "{text}");
    let p = proxy_with(&text, Default::default()).await;
    let mut problems = Vec::new();
    let mut s = TcpStream::connect(p.http.unwrap()).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut c = Conn::new(s);
    let expected = match outcome {
        Rejected => 1,
        Forwarded(list) | Either(list) => list.len(),
    };
    let mut answers = Vec::new();
    let end = loop {
        // The expected answers may take a while on a loaded machine; after them, a short
        // silence (or the close) ends the case.
        let wait = if answers.len() < expected {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(300)
        };
        match c.read_response("GET", wait).await {
            Read::Message(m) => answers.push(m),
            other => break other,
        }
    };
    if !matches!(end, Read::Closed | Read::Timeout { started: false }) {
        problems.push(format!("the client connection ended with {end:?}"));
    }
    let statuses: Vec<u16> = answers.iter().map(Message::status).collect();
    let events = std::mem::take(&mut *log.lock().unwrap());
    for e in &events {
        if let Event::Invalid(why) = e {
            problems.push(format!("the origin got bytes that are not HTTP/1.1: {why}"));
        }
    }
    let requests: Vec<&Message> = events
        .iter()
        .filter_map(|e| match e {
            Event::Request(m) => Some(m),
            _ => None,
        })
        .collect();
    let seen = |m: &Message| format!("{} {} {:?}", m.method_or_status, m.target, m.body_text());
    let outcome = match outcome {
        Either(_) if statuses.first().is_some_and(|&s| rejected_status(s)) => &Rejected,
        Either(list) => &Forwarded(list),
        o => o,
    };
    match outcome {
        Rejected => {
            if statuses.len() != 1 || !rejected_status(statuses[0]) {
                problems.push(format!(
                    "expected one 4xx answer, got {statuses:?} {:?}",
                    answers.iter().map(Message::body_text).collect::<Vec<_>>()
                ));
            }
            if !requests.is_empty() {
                problems.push(format!(
                    "requests reached the origin: {:?}",
                    requests.iter().map(|m| seen(m)).collect::<Vec<_>>()
                ));
            }
        }
        Forwarded(list) => {
            for e in &events {
                if let Event::Aborted(why) = e {
                    problems.push(format!("the origin saw an abandoned message: {why}"));
                }
            }
            let bodies: Vec<String> = answers.iter().map(Message::body_text).collect();
            let want: Vec<String> = (0..list.len()).map(|i| format!("seen {i}")).collect();
            if statuses.iter().any(|&s| s != 200) || bodies != want {
                problems.push(format!(
                    "expected the origin's {} answers, got {statuses:?} {bodies:?}",
                    list.len()
                ));
            }
            if requests.len() != list.len() {
                problems.push(format!(
                    "expected {} requests at the origin, got {:?}",
                    list.len(),
                    requests.iter().map(|m| seen(m)).collect::<Vec<_>>()
                ));
            }
            for (m, f) in requests.iter().zip(list.iter()) {
                if m.method_or_status != f.method || m.target != f.target || m.body != f.body {
                    problems.push(format!(
                        "expected {} {} {:?} at the origin, got {}",
                        f.method,
                        f.target,
                        String::from_utf8_lossy(f.body),
                        seen(m)
                    ));
                }
                let via = m.all("via");
                if !via
                    .iter()
                    .any(|v| String::from_utf8_lossy(v).contains("consentry"))
                {
                    problems.push(format!(
                        "{} reached the origin without the proxy's Via",
                        seen(m)
                    ));
                }
                if let Some(h) = f.host {
                    if m.all("host") != [h.as_bytes()] {
                        problems.push(format!("expected Host {h}, got {:?}", m.header("host")));
                    }
                }
                for name in f.absent {
                    if !m.all(name).is_empty() {
                        problems.push(format!("{name} reached the origin"));
                    }
                }
            }
        }
        Either(_) => unreachable!("resolved to one of the two above"),
    }
    p.drain().await;
    problems
        .into_iter()
        .map(|p| format!("{name}: {p}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_is_rejected_or_forwarded_exactly() {
    let tasks: Vec<_> = CASES
        .iter()
        .map(|(name, raw, outcome)| tokio::spawn(run(name, raw, outcome)))
        .collect();
    let mut problems = Vec::new();
    for t in tasks {
        problems.extend(t.await.unwrap());
    }
    assert!(
        problems.is_empty(),
        "{} problems in {} cases:\n{}",
        problems.len(),
        CASES.len(),
        problems.join("\n")
    );
}
