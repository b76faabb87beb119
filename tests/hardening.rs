//! What a hostile outside test broke, one test per finding: amplification by cleanup, blocked
//! cookies passing as "deletions", HTTP/2 upstreams, hosts injected into cleanup lines, stalled
//! upstream bodies, trailers, client faults counted as upstream faults, ambiguous framing both
//! ways, CONNECT, unasked protocol switches. Each failed before its fix.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::tls::{path_str, TestCa};
use common::*;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// An upstream that reads each request head and answers `response` raw, then keeps the
/// connection open for `hold` (a stalled body) before closing it.
async fn raw_upstream(response: &'static [u8], hold: Duration) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = s.write_all(response).await;
                tokio::time::sleep(hold).await;
            });
        }
    });
    addr
}

async fn metrics_text(p: &consentry::server::Running) -> String {
    admin_get(&client(), p.admin.unwrap(), "/metrics").await.1
}

/// 1. A deep host and 60 KB of distinct denied cookie names: the response head stays bounded.
#[tokio::test]
async fn cleanup_amplification_is_bounded() {
    let up = upstream(|_req| async { Response::new(full("ok")) }).await;
    let p = proxy(up, "").await;
    let cookie: Vec<String> = (0..6111).map(|i| format!("_ga_{i}=")).collect();
    let cookie = cookie.join(";");
    assert!(cookie.len() > 50_000);
    let raw = format!(
        "GET / HTTP/1.1\r\nHost: a.b.c.d.e.f.g.h.i.j.example.com\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    let resp = exchange(p.http.unwrap(), raw.as_bytes()).await;
    assert_eq!(status_of(&resp), "200", "{}", &resp[..resp.len().min(300)]);
    let head = &resp[..resp.find("\r\n\r\n").unwrap()];
    let lines = head
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .count();
    assert!(
        head.len() < 40 * 1024,
        "response head of {} bytes",
        head.len()
    );
    assert!(lines > 0 && lines <= 512, "{lines} lines");
    // A normal visitor's cleanup is unchanged: each cookie on the host and every parent.
    let resp = exchange(
        p.http.unwrap(),
        b"GET / HTTP/1.1\r\nHost: www.example.com\r\nCookie: _ga=1; _fbp=2\r\nConnection: close\r\n\r\n",
    )
    .await;
    let lines: Vec<&str> = resp
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .collect();
    assert_eq!(lines.len(), 2 * 3, "{lines:?}");
    p.drain().await;
}

/// 2. Lines only the RFC reads as deletions never reach the browser; real deletions pass as
/// the proxy's own lines.
#[tokio::test]
async fn blocked_cookies_do_not_escape_as_deletions() {
    let up = upstream(|_req| async {
        let mut r = Response::new(full(""));
        for l in [
            "_ga=E1; Max-Age=0; Max-Age=+34560000; Path=/",
            "_ga=E2; Max-Age=0; Max-Age=abc",
            "_gid=E3; Expires=Thu, 1st Jan 1970 00:00:00 GMT",
            "_fbp=E4; Max-Age=0; Path=/shop; Domain=.localtest.me; Secure; HttpOnly; SameSite=None",
        ] {
            r.headers_mut()
                .append("set-cookie", http::HeaderValue::from_static(l));
        }
        r
    })
    .await;
    let p = proxy(up, "").await;
    let r = get(&client(), p.http.unwrap(), "/", Some("consentry=none")).await;
    let lines = set_cookies(&r);
    assert!(
        lines.iter().all(|l| !l.contains("E1")
            && !l.contains("E2")
            && !l.contains("E3")
            && !l.contains("E4")),
        "{lines:?}"
    );
    assert_eq!(
        lines,
        vec![
            "_fbp=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/shop; Domain=localtest.me; Secure"
        ]
    );
    p.drain().await;
}

/// A TLS upstream speaking h2 only, answering 400 (as nginx does) to a request carrying both
/// `:authority` and a `host` field, and echoing the authority it got.
async fn h2_upstream(ca: &TestCa) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let acceptor = ca.acceptor("h2-upstream", &["127.0.0.1"], &[b"h2"]);
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = l.local_addr().unwrap();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            let s = s.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let authority = req.uri().authority().map(|a| a.to_string());
                    let host = req.headers().get("host").cloned();
                    s.lock().unwrap().push(format!("{authority:?} {host:?}"));
                    let status = if host.is_some() { 400 } else { 200 };
                    async move {
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .status(status)
                                .header("x-authority", authority.unwrap_or_default())
                                .header("set-cookie", "_ga=1")
                                .body(full("h2"))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    (up, seen)
}

/// 3. An h2 upstream gets one authority: the client's host, in `:authority`, no `host`.
#[tokio::test]
async fn https_upstream_over_h2_gets_one_authority() {
    let ca = TestCa::new("h2-authority");
    let (up, seen) = h2_upstream(&ca).await;
    let text = config_text(up, "").replace(
        &format!("url = \"http://{up}\""),
        &format!(
            "url = \"https://{up}\"\nca = \"{}\"",
            path_str(&ca.ca_path())
        ),
    );
    let p = proxy_with(&text, Default::default()).await;
    for _ in 0..3 {
        let resp = exchange(
            p.http.unwrap(),
            b"GET /x?y=1 HTTP/1.1\r\nHost: shop.example.com\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(status_of(&resp), "200", "{resp}");
        assert!(resp.contains("x-authority: shop.example.com"), "{resp}");
        assert!(!resp.contains("_ga=1"), "{resp}");
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter().all(|s| s == "Some(\"shop.example.com\") None"),
        "{seen:?}"
    );
    p.drain().await;
}

/// 4. A host that is not a host name or an IP literal is refused before it reaches a line.
#[tokio::test]
async fn invalid_hosts_are_refused() {
    let up = upstream(|_req| async { Response::new(full("ok")) }).await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    for host in [
        "www.example.com;Domain=evil.com;Path=/x",
        "a..example.com",
        "www.example.com Domain=x",
        "exa\"mple.com",
        "example.com:80x",
    ] {
        let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\nCookie: _ga=1\r\n\r\n");
        let resp = exchange(addr, raw.as_bytes()).await;
        assert_eq!(status_of(&resp), "400", "{host}: {resp}");
        assert!(!resp.contains("Domain="), "{host}: {resp}");
    }
    for host in [
        "WWW.Example.COM:8080",
        "[::1]:8080",
        "127.0.0.1",
        "example.com.",
    ] {
        let raw =
            format!("GET / HTTP/1.1\r\nHost: {host}\r\nCookie: _ga=1\r\nConnection: close\r\n\r\n");
        let resp = exchange(addr, raw.as_bytes()).await;
        assert_eq!(status_of(&resp), "200", "{host}: {resp}");
    }
    p.drain().await;
}

/// 5. Headers and one chunk, then silence: the response is aborted after `read_timeout`.
#[tokio::test]
async fn a_stalled_upstream_body_is_timed_out() {
    let up = raw_upstream(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        Duration::from_secs(30),
    )
    .await;
    let text = config_text(up, "").replace(
        "response_timeout = \"1s\"",
        "response_timeout = \"1s\"\nread_timeout = \"300ms\"",
    );
    let p = proxy_with(&text, Default::default()).await;
    let started = Instant::now();
    let mut s = TcpStream::connect(p.http.unwrap()).await.unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    assert!(r.is_ok(), "the client connection stayed open");
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    let text = String::from_utf8_lossy(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("hello"), "{text}");
    // Truncated: no last chunk.
    assert!(!text.ends_with("0\r\n\r\n"), "{text}");
    let m = metrics_text(&p).await;
    assert_eq!(
        metric(&m, "consentry_upstream_errors_total{kind=\"timeout\"}"),
        1.0
    );
    p.drain().await;
}

/// 6. Trailers reach a client that asked for them, without `Set-Cookie`.
#[tokio::test]
async fn trailers_pass_without_set_cookie() {
    let up = raw_upstream(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum, set-cookie\r\n\r\n5\r\nhello\r\n0\r\nx-checksum: abc\r\nset-cookie: _ga=T1\r\n\r\n",
        Duration::from_millis(0),
    )
    .await;
    let p = proxy(up, "").await;
    // HTTP/1.1 with `TE: trailers`.
    let tcp = TcpStream::connect(p.http.unwrap()).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/")
        .header("host", "a")
        .header("te", "trailers")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers");
    assert_eq!(trailers["x-checksum"], "abc");
    assert!(!trailers.contains_key("set-cookie"));
    assert_eq!(collected.to_bytes(), "hello");

    // HTTP/2 (cleartext, prior knowledge).
    let tcp = TcpStream::connect(p.http.unwrap()).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("http://a/")
        .body(http_body_util::Empty::<Bytes>::new())
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let collected = resp.into_body().collect().await.unwrap();
    let trailers = collected.trailers().cloned().expect("trailers");
    assert_eq!(trailers["x-checksum"], "abc");
    assert!(!trailers.contains_key("set-cookie"));
    p.drain().await;
}

/// 7. A client's broken chunked body is the client's 400, not an upstream error.
#[tokio::test]
async fn a_broken_client_body_is_a_400() {
    let up = upstream(|req| async move {
        let _ = req.into_body().collect().await;
        Response::new(full("ok"))
    })
    .await;
    let p = proxy(up, "").await;
    let resp = exchange(
        p.http.unwrap(),
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\nmore\r\n0\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&resp), "400", "{resp}");
    let m = metrics_text(&p).await;
    assert_eq!(
        metric(&m, "consentry_upstream_errors_total{kind=\"protocol\"}"),
        0.0
    );
    assert_eq!(
        metric(&m, "consentry_http_requests_total{code=\"4xx\"}"),
        1.0
    );
    p.drain().await;
}

/// 8. An upstream response with both `Content-Length` and `Transfer-Encoding` is refused.
#[tokio::test]
async fn an_upstream_response_with_both_lengths_is_refused() {
    let up = raw_upstream(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        Duration::from_millis(0),
    )
    .await;
    let p = proxy(up, "").await;
    let resp = exchange(
        p.http.unwrap(),
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&resp), "502", "{resp}");
    assert!(!resp.contains("hel"), "{resp}");
    p.drain().await;
}

/// 9, 12. CONNECT is answered locally; a request with both lengths is refused and closed, on
/// the first request of a connection and on a later one.
#[tokio::test]
async fn connect_and_ambiguous_requests_never_reach_the_upstream() {
    let seen: Arc<Mutex<usize>> = Arc::default();
    let s = seen.clone();
    let up = upstream(move |_req| {
        *s.lock().unwrap() += 1;
        async { Response::new(full("ok")) }
    })
    .await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    let resp = exchange(
        addr,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&resp), "405", "{resp}");
    assert!(resp.to_ascii_lowercase().contains("allow: get"), "{resp}");
    let resp = exchange(
        addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .await;
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    assert_eq!(resp.matches("HTTP/1.1").count(), 1, "{resp}");
    assert!(*seen.lock().unwrap() <= 1);
    p.drain().await;
}

/// 10. A 101 nobody asked for, or to another protocol, is an upstream error.
#[tokio::test]
async fn unasked_protocol_switches_are_refused() {
    let up = raw_upstream(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
        Duration::from_secs(2),
    )
    .await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    let resp = exchange(addr, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert_eq!(status_of(&resp), "502", "{resp}");
    let resp = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&resp), "502", "{resp}");
    let resp = exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: WebSocket\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&resp), "101", "{resp}");
    let m = metrics_text(&p).await;
    assert_eq!(
        metric(&m, "consentry_upstream_errors_total{kind=\"protocol\"}"),
        2.0
    );
    p.drain().await;
}

/// Metrics count what happened: a request answered 502 sent no deletions and stripped no
/// cookie from a request that never left; its consent was decided and counted once.
#[tokio::test]
async fn failed_requests_count_no_deletions() {
    let unused = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gone = unused.local_addr().unwrap();
    drop(unused);
    let p = proxy(gone, "").await;
    let r = get(&client(), p.http.unwrap(), "/", Some("_ga=1; _fbp=2")).await;
    assert_eq!(r.status(), 502);
    assert!(set_cookies(&r).is_empty());
    let m = metrics_text(&p).await;
    for series in [
        "consentry_cookie_deletions_total{category=\"analytics\"}",
        "consentry_cookie_deletions_total{category=\"advertising\"}",
        "consentry_request_cookies_stripped_total{category=\"analytics\"}",
    ] {
        assert_eq!(metric(&m, series), 0.0, "{series}");
    }
    assert_eq!(
        metric(
            &m,
            "consentry_consent_total{source=\"none\",state=\"undecided\"}"
        ),
        1.0,
        "{m}"
    );
    // The same request answered by an upstream counts them.
    let up = upstream(|_req| async { Response::new(full("ok")) }).await;
    let p2 = proxy(up, "").await;
    let r = get(&client(), p2.http.unwrap(), "/", Some("_ga=1; _fbp=2")).await;
    assert_eq!(r.status(), 200);
    let m = metrics_text(&p2).await;
    assert_eq!(
        metric(
            &m,
            "consentry_cookie_deletions_total{category=\"analytics\"}"
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            "consentry_request_cookies_stripped_total{category=\"analytics\"}"
        ),
        1.0
    );
    p.drain().await;
    p2.drain().await;
}

/// 14. Admin responses are not sniffed, and the status page runs no script.
#[tokio::test]
async fn admin_responses_carry_nosniff_and_the_status_page_a_csp() {
    let up = upstream(|_req| async { Response::new(full("ok")) }).await;
    let p = proxy(up, "").await;
    let admin = p.admin.unwrap();
    for path in ["/", "/metrics", "/healthz", "/unclassified", "/nope"] {
        let r = client()
            .request(
                Request::get(format!("http://{admin}{path}"))
                    .body(full(""))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.headers()["x-content-type-options"], "nosniff", "{path}");
        if path == "/" {
            let csp = r.headers()["content-security-policy"].to_str().unwrap();
            assert!(csp.starts_with("default-src 'none'"), "{csp}");
            assert!(!csp.contains("script-src"), "{csp}");
        }
    }
    p.drain().await;
}
