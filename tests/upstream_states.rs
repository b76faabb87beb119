//! The upstream exchange as a state machine: an upstream that, at every point of an exchange,
//! closes, stalls past the proxy's timeouts, or sends bytes after the body (response
//! poisoning), with clients in sequence and interleaved over keep-alive. The request's path
//! picks what the upstream does (`/<behaviour>/<tag>`), and every answer carries the request's
//! tag, so that:
//!
//! - no answer reaches the wrong client: each client checks the tag of each answer it gets;
//! - no broken, stalled or poisoned upstream connection is used again: the upstream marks such a
//!   connection dirty and reports any request that arrives on it (and in sequence, the next
//!   request comes on a connection the upstream never saw before);
//! - a client whose response cannot be completed sees its connection closed after the part it
//!   got, never a short body presented as complete;
//! - a request is sent again only after the idle keep-alive race (a reused connection that
//!   closed with no byte of the response read), and only when it is idempotent: the upstream
//!   never sees a POST twice.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::wire::{Conn, Read};
use common::*;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// Longer than the proxy's `response_timeout` and `read_timeout` in these tests.
const STALL: Duration = Duration::from_millis(3000);

/// What the upstream does with one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum B {
    Ok,
    CloseBeforeStatus,
    CloseMidHead,
    CloseAfterHead,
    CloseMidLength,
    CloseMidChunked,
    CloseAfterBody,
    StallBeforeStatus,
    StallMidHead,
    StallAfterHead,
    StallMidLength,
    StallMidChunked,
    ExtraAfterLength,
    ExtraAfterChunked,
    ExtraWhileIdle,
}

const ALL: [B; 15] = [
    B::Ok,
    B::CloseBeforeStatus,
    B::CloseMidHead,
    B::CloseAfterHead,
    B::CloseMidLength,
    B::CloseMidChunked,
    B::CloseAfterBody,
    B::StallBeforeStatus,
    B::StallMidHead,
    B::StallAfterHead,
    B::StallMidLength,
    B::StallMidChunked,
    B::ExtraAfterLength,
    B::ExtraAfterChunked,
    B::ExtraWhileIdle,
];

/// What the client must see.
#[derive(Debug, PartialEq, Eq)]
enum Want {
    /// The upstream's answer, whole, with the request's tag.
    Answer,
    /// A whole error answer from the proxy with this status.
    Status(u16),
    /// The connection closed before a whole response: after the head and part of the body, or
    /// before anything (the head had not been sent when the body failed).
    Cut,
}

impl B {
    fn name(self) -> String {
        format!("{self:?}")
    }

    fn from_name(s: &str) -> Option<B> {
        ALL.into_iter().find(|b| b.name() == s)
    }

    fn want(self) -> Want {
        match self {
            B::Ok
            | B::CloseAfterBody
            | B::ExtraAfterLength
            | B::ExtraAfterChunked
            | B::ExtraWhileIdle => Want::Answer,
            B::CloseBeforeStatus | B::CloseMidHead => Want::Status(502),
            B::StallBeforeStatus | B::StallMidHead => Want::Status(504),
            B::CloseAfterHead
            | B::CloseMidLength
            | B::CloseMidChunked
            | B::StallAfterHead
            | B::StallMidLength
            | B::StallMidChunked => Want::Cut,
        }
    }

    /// Whether the upstream connection cannot serve another request after this exchange.
    fn spoils(self) -> bool {
        !matches!(self, B::Ok)
    }
}

/// One request as the upstream read it.
#[derive(Clone, Debug)]
struct Seen {
    conn: usize,
    /// Requests read before it on the same connection.
    nth: usize,
    method: String,
    behaviour: B,
    tag: String,
}

#[derive(Default)]
struct Log {
    accepted: usize,
    seen: Vec<Seen>,
    violations: Vec<String>,
}

const POISON: &[u8] = b"HTTP/1.1 200 OK\r\nX-Tag: POISON\r\nContent-Length: 6\r\n\r\nPOISON";

async fn upstream_states() -> (SocketAddr, Arc<Mutex<Log>>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let log: Arc<Mutex<Log>> = Arc::default();
    let shared = log.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let log = shared.clone();
            let conn = {
                let mut log = log.lock().unwrap();
                log.accepted += 1;
                log.accepted - 1
            };
            tokio::spawn(serve(s, conn, log));
        }
    });
    (addr, log)
}

async fn serve(s: TcpStream, conn: usize, log: Arc<Mutex<Log>>) {
    let mut c = Conn::new(s);
    let mut dirty: Option<String> = None;
    for nth in 0.. {
        let m = match c.read_request(Duration::from_secs(30)).await {
            Read::Message(m) => m,
            Read::Closed | Read::Timeout { .. } | Read::Truncated(_) => return,
            Read::Invalid(why) => {
                log.lock()
                    .unwrap()
                    .violations
                    .push(format!("invalid request: {why}"));
                return;
            }
        };
        let mut parts = m.target.trim_start_matches('/').splitn(2, '/');
        let behaviour = parts.next().and_then(B::from_name).unwrap_or(B::Ok);
        let tag = parts.next().unwrap_or("").to_string();
        {
            let mut log = log.lock().unwrap();
            if let Some(what) = &dirty {
                log.violations.push(format!(
                    "{} {tag} arrived on connection {conn} after {what}",
                    m.method_or_status
                ));
            }
            if m.method_or_status == "POST" && m.body != tag.as_bytes() {
                log.violations
                    .push(format!("POST {tag} arrived with body {:?}", m.body_text()));
            }
            log.seen.push(Seen {
                conn,
                nth,
                method: m.method_or_status.clone(),
                behaviour,
                tag: tag.clone(),
            });
        }
        let s = &mut c.stream;
        let answer = format!(
            "HTTP/1.1 200 OK\r\nX-Tag: {tag}\r\nContent-Length: {}\r\n\r\n{tag}",
            tag.len()
        );
        let head_100 = format!("HTTP/1.1 200 OK\r\nX-Tag: {tag}\r\nContent-Length: 100\r\n\r\n");
        let head_chunked =
            format!("HTTP/1.1 200 OK\r\nX-Tag: {tag}\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunked_answer = format!("{head_chunked}{:x}\r\n{tag}\r\n0\r\n\r\n", tag.len());
        let w = match behaviour {
            B::Ok => s.write_all(answer.as_bytes()).await,
            B::CloseBeforeStatus => return,
            B::CloseMidHead => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX-Tag: ").await;
                return;
            }
            B::CloseAfterHead => {
                let _ = s.write_all(head_100.as_bytes()).await;
                return;
            }
            B::CloseMidLength => {
                let _ = s
                    .write_all(format!("{head_100}0123456789").as_bytes())
                    .await;
                return;
            }
            B::CloseMidChunked => {
                let _ = s
                    .write_all(format!("{head_chunked}5\r\nhello\r\na\r\nhel").as_bytes())
                    .await;
                return;
            }
            B::CloseAfterBody => {
                let _ = s.write_all(answer.as_bytes()).await;
                return;
            }
            B::StallBeforeStatus => {
                tokio::time::sleep(STALL).await;
                s.write_all(b"HTTP/1.1 200 OK\r\nX-Tag: LATE\r\nContent-Length: 4\r\n\r\nLATE")
                    .await
            }
            B::StallMidHead => {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nX-Tag: ").await;
                tokio::time::sleep(STALL).await;
                s.write_all(b"LATE\r\nContent-Length: 4\r\n\r\nLATE").await
            }
            B::StallAfterHead => {
                let _ = s.write_all(head_100.as_bytes()).await;
                tokio::time::sleep(STALL).await;
                s.write_all(&[b'L'; 100]).await
            }
            B::StallMidLength => {
                let _ = s
                    .write_all(format!("{head_100}0123456789").as_bytes())
                    .await;
                tokio::time::sleep(STALL).await;
                s.write_all(&[b'L'; 90]).await
            }
            B::StallMidChunked => {
                let _ = s
                    .write_all(format!("{head_chunked}5\r\nhello\r\n").as_bytes())
                    .await;
                tokio::time::sleep(STALL).await;
                s.write_all(b"0\r\n\r\n").await
            }
            B::ExtraAfterLength => s.write_all(&[answer.as_bytes(), POISON].concat()).await,
            B::ExtraAfterChunked => {
                s.write_all(&[chunked_answer.as_bytes(), POISON].concat())
                    .await
            }
            B::ExtraWhileIdle => {
                let _ = s.write_all(answer.as_bytes()).await;
                tokio::time::sleep(Duration::from_millis(30)).await;
                s.write_all(POISON).await
            }
        };
        if w.is_err() {
            return;
        }
        if behaviour.spoils() {
            dirty = Some(format!("{behaviour:?} on it"));
        }
    }
}

/// A proxy in front of `up` with short upstream timeouts (still long enough for a loaded
/// machine to answer a plain request), and client connections kept while the stalls run.
async fn proxy_short_timeouts(up: SocketAddr) -> consentry::server::Running {
    // One worker: idle upstream connections are kept per worker, and the reuse checks below
    // follow one pool (two clients may land on different workers otherwise).
    let text = config_text(up, "")
        .replace("workers = 2", "workers = 1")
        .replace(
            "response_timeout = \"1s\"",
            "response_timeout = \"1500ms\"\nread_timeout = \"1s\"",
        )
        .replace(
            "header_read_timeout = \"2s\"",
            "header_read_timeout = \"30s\"",
        );
    assert!(text.contains("read_timeout = \"1s\""), "{text}");
    assert!(text.contains("header_read_timeout = \"30s\""), "{text}");
    assert!(text.contains("workers = 1"), "{text}");
    proxy_with(&text, Default::default()).await
}

/// A keep-alive client connection to the proxy that reconnects after a close.
struct Client {
    proxy: SocketAddr,
    conn: Option<Conn<TcpStream>>,
    /// Tags of plain requests answered 502: allowed only if the upstream never read them (the
    /// idle keep-alive race lost, the request not sent again).
    raced: Vec<String>,
}

impl Client {
    fn new(proxy: SocketAddr) -> Client {
        Client {
            proxy,
            conn: None,
            raced: Vec::new(),
        }
    }

    /// Sends one request with behaviour `b` and checks what comes back; returns what went wrong.
    async fn exchange(&mut self, method: &str, b: B, tag: &str) -> Option<String> {
        if self.conn.is_none() {
            let s = TcpStream::connect(self.proxy).await.unwrap();
            self.conn = Some(Conn::new(s));
        }
        let c = self.conn.as_mut().unwrap();
        let path = format!("/{}/{tag}", b.name());
        let req = if method == "POST" {
            format!(
                "POST {path} HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n{tag}",
                tag.len()
            )
        } else {
            format!("{method} {path} HTTP/1.1\r\nHost: a\r\n\r\n")
        };
        if c.stream.write_all(req.as_bytes()).await.is_err() {
            self.conn = None;
            return Some(format!(
                "{method} {path}: the proxy closed before the request"
            ));
        }
        let got = c.read_response(method, Duration::from_secs(5)).await;
        let what = format!("{method} {path}");
        let problem = match (&got, b.want()) {
            (Read::Message(m), Want::Answer) if b == B::Ok && m.status() == 502 => {
                self.raced.push(tag.to_string());
                None
            }
            (Read::Message(m), Want::Answer) => (m.status() != 200
                || m.body != tag.as_bytes()
                || m.header("x-tag").as_deref() != Some(tag))
            .then(|| {
                format!(
                    "{what}: got {} x-tag={:?} body={:?}",
                    m.status(),
                    m.header("x-tag"),
                    m.body_text()
                )
            }),
            (Read::Message(m), Want::Status(s)) => (m.status() != s).then(|| {
                format!(
                    "{what}: expected {s}, got {} x-tag={:?} body={:?}",
                    m.status(),
                    m.header("x-tag"),
                    m.body_text()
                )
            }),
            (Read::Truncated(_) | Read::Closed, Want::Cut) => None,
            (other, want) => Some(format!("{what}: expected {want:?}, got {other:?}")),
        };
        let keep = match &got {
            Read::Message(m) => !m
                .header("connection")
                .is_some_and(|v| v.eq_ignore_ascii_case("close")),
            _ => false,
        };
        if !keep {
            self.conn = None;
        }
        if b == B::ExtraWhileIdle {
            // Let the stray bytes arrive while the connection is idle: bytes arriving while
            // another request is in flight would be indistinguishable from its answer.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        problem
    }
}

/// Checks the upstream's log: no request on a dirty connection, and every request seen once,
/// except an idempotent one sent again after the idle keep-alive race.
fn check_log(log: &Log, raced: &[String], problems: &mut Vec<String>) {
    problems.extend(log.violations.iter().cloned());
    for tag in raced {
        if log.seen.iter().any(|s| &s.tag == tag) {
            problems.push(format!(
                "GET {tag} reached the upstream and was answered 502"
            ));
        }
    }
    let mut tags: Vec<&str> = log.seen.iter().map(|s| s.tag.as_str()).collect();
    tags.sort_unstable();
    tags.dedup();
    for tag in tags {
        let tries: Vec<&Seen> = log.seen.iter().filter(|s| s.tag == tag).collect();
        let last = tries.len() - 1;
        for (i, t) in tries.iter().enumerate().take(last) {
            let race = t.nth > 0 && t.behaviour == B::CloseBeforeStatus;
            let idempotent = matches!(t.method.as_str(), "GET" | "HEAD");
            if !(race && idempotent) {
                problems.push(format!(
                    "{} {tag} was sent again after attempt {} ({:?}, request {} on its connection)",
                    t.method, i, t.behaviour, t.nth
                ));
            }
        }
    }
    assert!(
        log.seen.iter().any(|s| s.nth > 0),
        "no upstream connection was ever reused, so reuse of a dirty one could not be seen"
    );
}

/// Two clients take turns: one request of each behaviour, then a plain request from the other
/// client, which must get its own answer on an upstream connection that is clean.
async fn every_state_in_sequence(method: &str) {
    let (up, log) = upstream_states().await;
    let p = proxy_short_timeouts(up).await;
    let addr = p.http.unwrap();
    let (mut a, mut b) = (Client::new(addr), Client::new(addr));
    let mut problems = Vec::new();
    let mut n = 0;
    for behaviour in ALL {
        n += 1;
        problems.extend(a.exchange(method, behaviour, &format!("a{n}")).await);
        problems.extend(b.exchange("GET", B::Ok, &format!("b{n}")).await);
    }
    let raced = [std::mem::take(&mut a.raced), std::mem::take(&mut b.raced)].concat();
    // Clients gone first: a drain waits for open client connections.
    drop((a, b));
    p.drain().await;
    let log = log.lock().unwrap();
    check_log(&log, &raced, &mut problems);
    // After an exchange that spoils its connection, the next request comes on a connection the
    // upstream had not seen before; after a clean one, on the same connection.
    for pair in log.seen.windows(2) {
        let (before, next) = (&pair[0], &pair[1]);
        if before.tag == next.tag {
            continue;
        }
        if before.behaviour.spoils() && next.nth != 0 {
            problems.push(format!(
                "{} came on connection {} after {:?} there",
                next.tag, next.conn, before.behaviour
            ));
        }
        if !before.behaviour.spoils() && next.conn != before.conn {
            problems.push(format!(
                "{} opened connection {} after a clean exchange on {}",
                next.tag, next.conn, before.conn
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test]
async fn every_state_in_sequence_get() {
    every_state_in_sequence("GET").await;
}

#[tokio::test]
async fn every_state_in_sequence_post() {
    every_state_in_sequence("POST").await;
}

/// Four clients at once, each going through every behaviour in its own order with both methods.
/// Stray bytes sent while a connection is idle are left out: with other clients' requests in
/// flight, they may land after the next request was written, and then no HTTP/1.1 client can
/// tell them from that request's answer (the sequential test covers them).
#[tokio::test]
async fn every_state_interleaved() {
    let (up, log) = upstream_states().await;
    let p = proxy_short_timeouts(up).await;
    let addr = p.http.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            tokio::spawn(async move {
                let mut c = Client::new(addr);
                let mut problems = Vec::new();
                let all: Vec<B> = ALL
                    .into_iter()
                    .filter(|&b| b != B::ExtraWhileIdle)
                    .collect();
                // Steps coprime to the number of behaviours: each client meets every one.
                let step = [1, 3, 5, 9][i];
                for (k, j) in (0..all.len()).enumerate() {
                    let behaviour = all[(j * step + i) % all.len()];
                    let method = if (k + i) % 2 == 0 { "GET" } else { "POST" };
                    problems.extend(c.exchange(method, behaviour, &format!("c{i}-{k}")).await);
                    problems.extend(c.exchange("GET", B::Ok, &format!("c{i}-{k}-ok")).await);
                }
                (problems, c.raced)
            })
        })
        .collect();
    let (mut problems, mut raced) = (Vec::new(), Vec::new());
    for t in tasks {
        let (p, r) = t.await.unwrap();
        problems.extend(p);
        raced.extend(r);
    }
    check_log(&log.lock().unwrap(), &raced, &mut problems);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    p.drain().await;
}
