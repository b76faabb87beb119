//! End-to-end behaviour of the proxy: a real in-process upstream and the real proxy on loopback.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Set-Cookie lines the test upstream sends, one per category plus an unclassified one, with
/// odd spacing and attributes that must survive byte for byte.
const LINES: &[&str] = &[
    "_zendesk_session=abc123; Path=/; HttpOnly; Secure; SameSite=Lax",
    "_ga=GA1.2.3.4;  Path=/;Max-Age=63072000 ; Domain=example.com",
    "_ga_XYZ=GS1.1.17; Path=/",
    "ZD-settings={\"a\":1}; Path=/",
    "_fbp=fb.1.2.3; Expires=Wed, 01 Jan 2099 00:00:00 GMT; Path=/",
    "mystery=1",
];

async fn cookie_upstream() -> std::net::SocketAddr {
    upstream(|_req| async {
        let mut r = Response::builder().header("content-type", "text/plain");
        for l in LINES {
            r = r.header("set-cookie", *l);
        }
        r.body(full("hello")).unwrap()
    })
    .await
}

#[tokio::test]
async fn strips_set_cookie_lines_per_consent() {
    let up = cookie_upstream().await;
    let p = proxy(up, "").await;
    let c = client();
    let addr = p.http.unwrap();

    // No consent: only essential cookies pass; the response is marked private.
    let r = get(&c, addr, "/", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(set_cookies(&r), vec![LINES[0]]);
    assert_eq!(r.headers()["cache-control"], "private");
    assert_eq!(body_bytes(r).await, "hello");

    // Analytics granted: its lines pass, byte-identical.
    let r = get(&c, addr, "/", Some("consentry=analytics")).await;
    assert_eq!(set_cookies(&r), vec![LINES[0], LINES[1], LINES[2]]);

    // Everything: all classified lines; the unclassified one is still denied.
    let r = get(&c, addr, "/", Some("consentry=all")).await;
    assert_eq!(set_cookies(&r), LINES[..5].to_vec());

    // GPC denies advertising whatever the cookie says.
    let req = Request::get(format!("http://{addr}/"))
        .header("cookie", "consentry=all")
        .header("sec-gpc", "1")
        .body(full(""))
        .unwrap();
    let r = c.request(req).await.unwrap();
    assert_eq!(set_cookies(&r), LINES[..4].to_vec());
    p.drain().await;
}

#[tokio::test]
async fn unchanged_responses_are_untouched() {
    let up = upstream(|_req| async {
        Response::builder()
            .header("set-cookie", "_zendesk_session=1; Path=/")
            .header("cache-control", "public, max-age=60")
            .body(full("x"))
            .unwrap()
    })
    .await;
    let p = proxy(up, "").await;
    let r = get(&client(), p.http.unwrap(), "/", None).await;
    assert_eq!(set_cookies(&r), vec!["_zendesk_session=1; Path=/"]);
    assert_eq!(r.headers()["cache-control"], "public, max-age=60");
    p.drain().await;
}

#[tokio::test]
async fn report_only_changes_nothing_but_counts() {
    let up = cookie_upstream().await;
    let p = proxy(up, "mode = \"report-only\"").await;
    let c = client();
    let r = get(
        &c,
        p.http.unwrap(),
        "/",
        Some("consentry=none; _ga=GA1.2; _fbp=x"),
    )
    .await;
    assert_eq!(set_cookies(&r), LINES.to_vec());
    assert!(r.headers().get("cache-control").is_none());
    let (_, m) = admin_get(&c, p.admin.unwrap(), "/metrics").await;
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_would_block_total{category="analytics",rule="_ga"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_would_block_total{category="(unclassified)",rule="(unclassified)"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_blocked_total{category="analytics",rule="_ga"}"#
        ),
        0.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_cookie_deletions_total{category="analytics"}"#
        ),
        0.0
    );
    p.drain().await;
}

#[tokio::test]
async fn cleanup_expires_and_strips_request_cookies() {
    let seen: Arc<Mutex<Option<String>>> = Arc::default();
    let s = seen.clone();
    let up = upstream(move |req| {
        *s.lock().unwrap() = req
            .headers()
            .get("cookie")
            .map(|v| v.to_str().unwrap().to_string());
        async { Response::new(full("ok")) }
    })
    .await;
    let p = proxy(up, "").await;
    let c = client();
    let req = Request::get(format!("http://{}/", p.http.unwrap()))
        .header("host", "www.shop.example.co.uk")
        .header(
            "cookie",
            "_zendesk_session=s1; _ga=GA1.2.3; consentry=functional; _gcl_au=1.1; app=7",
        )
        .body(full(""))
        .unwrap();
    let r = c.request(req).await.unwrap();
    let lines = set_cookies(&r);
    for name in ["_ga", "_gcl_au"] {
        for domain in [
            "; Domain=www.shop.example.co.uk",
            "; Domain=shop.example.co.uk",
            "; Domain=example.co.uk",
            "",
        ] {
            let want = format!(
                "{name}=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/{domain}"
            );
            assert!(lines.contains(&want), "missing {want} in {lines:?}");
        }
    }
    assert_eq!(lines.len(), 8);
    assert_eq!(r.headers()["cache-control"], "private");
    assert_eq!(
        seen.lock().unwrap().as_deref(),
        Some("_zendesk_session=s1; consentry=functional; app=7")
    );
    let (_, m) = admin_get(&c, p.admin.unwrap(), "/metrics").await;
    assert_eq!(
        metric(
            &m,
            r#"consentry_cookie_deletions_total{category="analytics"}"#
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_request_cookies_stripped_total{category="advertising"}"#
        ),
        1.0
    );
    p.drain().await;
}

#[tokio::test]
async fn several_lines_and_byte_identical_kept_lines() {
    // Lines with bytes a header may carry but a str may not, and a comma inside one line.
    let up = upstream(|_req| async {
        let mut r = Response::new(full(""));
        let h = r.headers_mut();
        h.append(
            "set-cookie",
            http::HeaderValue::from_bytes(b"_zendesk_session=\xe9t\xe9; Path=/").unwrap(),
        );
        h.append(
            "set-cookie",
            http::HeaderValue::from_static(
                "ZD-settings=a,b=c; Expires=Wed, 01 Jan 2099 00:00:00 GMT",
            ),
        );
        h.append("set-cookie", http::HeaderValue::from_static("=_ga=GA1.2"));
        h.append(
            "set-cookie",
            http::HeaderValue::from_static("_ga=; Max-Age=0"),
        );
        r
    })
    .await;
    let p = proxy(up, "").await;
    let r = get(
        &client(),
        p.http.unwrap(),
        "/",
        Some("consentry=functional"),
    )
    .await;
    let raw: Vec<&[u8]> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    assert_eq!(
        raw,
        vec![
            &b"_zendesk_session=\xe9t\xe9; Path=/"[..],
            b"ZD-settings=a,b=c; Expires=Wed, 01 Jan 2099 00:00:00 GMT",
            // A deletion of a non-granted cookie passes as the proxy's own line.
            b"_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT",
        ]
    );
    p.drain().await;
}

#[tokio::test]
async fn large_bodies_stream_both_ways() {
    const SIZE: usize = 8 * 1024 * 1024;
    // The upstream checksums the request body and answers with a large generated body.
    let up = upstream(|req| async move {
        let mut h = Fnv::new();
        let mut n = 0usize;
        let mut body = req.into_body();
        while let Some(f) = body.frame().await {
            if let Ok(d) = f.unwrap().into_data() {
                h.update(&d);
                n += d.len();
            }
        }
        let chunks: Vec<Result<Frame<Bytes>, BoxError>> = pattern(SIZE, 2)
            .chunks(64 * 1024)
            .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
            .collect();
        Response::builder()
            .header("x-request-len", n.to_string())
            .header("x-request-sum", h.0.to_string())
            .body(StreamBody::new(futures_stream(chunks)).boxed())
            .unwrap()
    })
    .await;
    let p = proxy(up, "").await;
    let data = pattern(SIZE, 1);
    let mut want = Fnv::new();
    want.update(&data);
    // A chunked request body (no Content-Length), sent in pieces.
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = data
        .chunks(100_000)
        .map(|c| Ok(Frame::data(Bytes::copy_from_slice(c))))
        .collect();
    let req = Request::post(format!("http://{}/upload", p.http.unwrap()))
        .body(StreamBody::new(futures_stream(frames)).boxed())
        .unwrap();
    let r = client().request(req).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-len"], SIZE.to_string().as_str());
    assert_eq!(r.headers()["x-request-sum"], want.0.to_string().as_str());
    let mut got = Fnv::new();
    let mut n = 0;
    let mut body = r.into_body();
    while let Some(f) = body.frame().await {
        if let Ok(d) = f.unwrap().into_data() {
            got.update(&d);
            n += d.len();
        }
    }
    let mut expect = Fnv::new();
    expect.update(&pattern(SIZE, 2));
    assert_eq!(n, SIZE);
    assert_eq!(got.0, expect.0);
    p.drain().await;
}

/// A stream over prepared items.
fn futures_stream<T: Send + Unpin + 'static>(
    items: Vec<T>,
) -> impl futures_core::Stream<Item = T> + Send {
    struct S<I>(I);
    impl<I: Iterator + Unpin> futures_core::Stream for S<I> {
        type Item = I::Item;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<I::Item>> {
            std::task::Poll::Ready(self.0.next())
        }
    }
    S(items.into_iter())
}

#[tokio::test]
async fn response_bodies_are_streamed_not_buffered() {
    // The upstream sends a first chunk, then waits until the client has seen it before finishing.
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let rx = Arc::new(Mutex::new(Some(rx)));
    let up = upstream(move |_req| {
        let rx = rx.lock().unwrap().take();
        async move {
            let (btx, brx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(4);
            tokio::spawn(async move {
                btx.send(Ok(Frame::data(Bytes::from_static(b"first"))))
                    .await
                    .unwrap();
                if let Some(rx) = rx {
                    let _ = rx.await;
                }
                btx.send(Ok(Frame::data(Bytes::from_static(b"second"))))
                    .await
                    .unwrap();
            });
            Response::new(StreamBody::new(tokio_stream(brx)).boxed())
        }
    })
    .await;
    let p = proxy(up, "").await;
    let r = get(&client(), p.http.unwrap(), "/", None).await;
    let mut body = r.into_body();
    let first = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("first chunk arrives before the upstream finishes")
        .unwrap()
        .unwrap();
    assert_eq!(first.into_data().unwrap(), "first");
    tx.send(()).unwrap();
    let rest = body.collect().await.unwrap().to_bytes();
    assert_eq!(rest, "second");
    p.drain().await;
}

fn tokio_stream<T: Send + 'static>(
    rx: tokio::sync::mpsc::Receiver<T>,
) -> impl futures_core::Stream<Item = T> + Send {
    struct S<T>(tokio::sync::mpsc::Receiver<T>);
    impl<T> futures_core::Stream for S<T> {
        type Item = T;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<T>> {
            self.0.poll_recv(cx)
        }
    }
    S(rx)
}

#[tokio::test]
async fn head_204_and_304_have_no_body() {
    let up = upstream(|req| async move {
        let status = match req.uri().path() {
            "/204" => StatusCode::NO_CONTENT,
            "/304" => StatusCode::NOT_MODIFIED,
            _ => StatusCode::OK,
        };
        let body = if status == StatusCode::OK {
            "content"
        } else {
            ""
        };
        Response::builder()
            .status(status)
            .header("set-cookie", "_ga=1")
            .header("content-length", "7")
            .body(full(body))
            .unwrap()
    })
    .await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    // Raw sockets: check the framing on the wire, and that the connection stays usable.
    let mut s = TcpStream::connect(addr).await.unwrap();
    for (method, path, status) in [
        ("HEAD", "/", 200),
        ("GET", "/204", 204),
        ("GET", "/304", 304),
        ("GET", "/", 200),
    ] {
        s.write_all(format!("{method} {path} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let head = read_head(&mut s).await;
        assert!(head.starts_with(&format!("HTTP/1.1 {status}")), "{head}");
        assert!(!head.to_ascii_lowercase().contains("set-cookie"), "{head}");
        if method == "GET" && status == 200 {
            let mut buf = [0u8; 7];
            s.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"content");
        }
    }
    p.drain().await;
}

/// Reads one response head (up to the blank line) from a raw socket.
async fn read_head(s: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert!(
            n > 0,
            "connection closed mid-head: {}",
            String::from_utf8_lossy(&head)
        );
        head.push(b[0]);
    }
    String::from_utf8(head).unwrap()
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_and_forwarding_headers_added() {
    let seen: Arc<Mutex<Option<http::HeaderMap>>> = Arc::default();
    let s = seen.clone();
    let up = upstream(move |req| {
        *s.lock().unwrap() = Some(req.headers().clone());
        async {
            Response::builder()
                .header("connection", "x-hop-resp")
                .header("x-hop-resp", "1")
                .header("keep-alive", "timeout=5")
                .header("x-end-to-end", "1")
                .body(full("ok"))
                .unwrap()
        }
    })
    .await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    let mut sock = TcpStream::connect(addr).await.unwrap();
    sock.write_all(
        b"GET /path?q=1 HTTP/1.1\r\nHost: shop.example.com\r\nConnection: keep-alive, x-hop-req\r\nX-Hop-Req: secret\r\nKeep-Alive: timeout=5\r\nProxy-Authorization: Basic eA==\r\nTE: gzip\r\nX-Forwarded-For: 203.0.113.9\r\nX-Custom: kept\r\n\r\n",
    )
    .await
    .unwrap();
    let head = read_head(&mut sock).await.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200"), "{head}");
    assert!(!head.contains("x-hop-resp"), "{head}");
    assert!(!head.contains("keep-alive: timeout"), "{head}");
    assert!(head.contains("x-end-to-end: 1"), "{head}");
    assert!(head.contains("via: 1.1 consentry"), "{head}");

    let h = seen.lock().unwrap().take().unwrap();
    assert_eq!(h["host"], "shop.example.com");
    assert!(h.get("x-hop-req").is_none());
    assert!(h.get("keep-alive").is_none());
    assert!(h.get("proxy-authorization").is_none());
    assert!(h.get("te").is_none());
    assert_eq!(h["x-custom"], "kept");
    assert_eq!(h["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
    assert_eq!(h["x-forwarded-proto"], "http");
    assert_eq!(h["x-forwarded-host"], "shop.example.com");
    assert_eq!(h["via"], "1.1 consentry");
    p.drain().await;
}

#[tokio::test]
async fn unreachable_upstream_is_502_and_slow_upstream_is_504() {
    // A port with nothing listening: bind, take the address, close.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let p = proxy(closed, "").await;
    let c = client();
    let r = get(&c, p.http.unwrap(), "/", None).await;
    assert_eq!(r.status(), 502);
    assert!(String::from_utf8_lossy(&body_bytes(r).await).starts_with("502"));
    let (_, m) = admin_get(&c, p.admin.unwrap(), "/metrics").await;
    assert_eq!(
        metric(&m, r#"consentry_upstream_errors_total{kind="connect"}"#),
        1.0
    );
    assert_eq!(
        metric(&m, r#"consentry_http_requests_total{code="5xx"}"#),
        1.0
    );
    p.drain().await;

    let slow = upstream(|_req| async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        Response::new(full("late"))
    })
    .await;
    let p = proxy(slow, "").await;
    let started = std::time::Instant::now();
    let r = get(&c, p.http.unwrap(), "/", None).await;
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    let (_, m) = admin_get(&c, p.admin.unwrap(), "/metrics").await;
    assert_eq!(
        metric(&m, r#"consentry_upstream_errors_total{kind="timeout"}"#),
        1.0
    );
    p.drain().await;
}

#[tokio::test]
async fn garbage_from_the_upstream_is_502() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"this is not http\r\n\r\n").await;
        }
    });
    let p = proxy(addr, "").await;
    let c = client();
    let r = get(&c, p.http.unwrap(), "/", None).await;
    assert_eq!(r.status(), 502);
    let (_, m) = admin_get(&c, p.admin.unwrap(), "/metrics").await;
    assert_eq!(
        metric(&m, r#"consentry_upstream_errors_total{kind="protocol"}"#),
        1.0
    );
    p.drain().await;
}

#[tokio::test]
async fn metrics_count_traffic() {
    let up = cookie_upstream().await;
    let p = proxy(up, "").await;
    let c = client();
    let addr = p.http.unwrap();
    get(&c, addr, "/", None).await;
    get(&c, addr, "/", Some("consentry=analytics")).await;
    let req = Request::get(format!("http://{addr}/"))
        .header("cookie", "consentry=all")
        .header("sec-gpc", "1")
        .body(full(""))
        .unwrap();
    c.request(req).await.unwrap();
    get(&c, addr, "/", Some("consentry={bad}")).await;

    let (status, m) = admin_get(&c, p.admin.unwrap(), "/metrics").await;
    assert_eq!(status, 200);
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_blocked_total{category="analytics",rule="_ga"}"#
        ),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_blocked_total{category="analytics",rule="_ga_*"}"#
        ),
        2.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_blocked_total{category="advertising",rule="_fbp"}"#
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_blocked_total{category="(unclassified)",rule="(unclassified)"}"#
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_passed_total{category="essential"}"#
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_set_cookie_passed_total{category="analytics"}"#
        ),
        4.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_consent_total{source="none",state="undecided"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_consent_total{source="consentry",state="partial"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_consent_total{source="consentry",state="all"}"#
        ),
        1.0
    );
    assert_eq!(
        metric(
            &m,
            r#"consentry_consent_total{source="consentry",state="invalid"}"#
        ),
        1.0
    );
    assert_eq!(metric(&m, "consentry_gpc_requests_total"), 1.0);
    assert_eq!(
        metric(&m, r#"consentry_http_requests_total{code="2xx"}"#),
        4.0
    );
    assert_eq!(
        metric(&m, "consentry_http_request_duration_seconds_count"),
        4.0
    );
    assert!(m.contains(&format!(
        "consentry_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    )));
    for family in [
        "consentry_upstream_errors_total",
        "consentry_config_reloads_total",
    ] {
        assert!(m.contains(family), "{family} missing");
    }
    // Health endpoints.
    assert_eq!(admin_get(&c, p.admin.unwrap(), "/healthz").await.0, 200);
    assert_eq!(admin_get(&c, p.admin.unwrap(), "/readyz").await.0, 200);
    assert_eq!(admin_get(&c, p.admin.unwrap(), "/nope").await.0, 404);
    p.drain().await;
}

#[tokio::test]
async fn metrics_token_is_enforced() {
    let up = cookie_upstream().await;
    let text = config_text(up, "").replace(
        "listen = \"127.0.0.1:0\"\n",
        "listen = \"127.0.0.1:0\"\ntoken = \"t0ken\"\n",
    );
    let p = proxy_with(&text, consentry::server::Options::default()).await;
    let c = client();
    let admin = p.admin.unwrap();
    assert_eq!(admin_get(&c, admin, "/metrics").await.0, 401);
    let r = c
        .request(
            Request::get(format!("http://{admin}/metrics"))
                .header("authorization", "Bearer t0ken")
                .body(full(""))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Health stays open for probes.
    assert_eq!(admin_get(&c, admin, "/healthz").await.0, 200);
    p.drain().await;
}

#[tokio::test]
async fn invented_cookie_names_keep_labels_bounded_and_feed_unclassified() {
    let n = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let up = upstream(move |_req| {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async move {
            let mut r = Response::builder();
            // 30 fresh names per response, plus one that recurs.
            for k in 0..30 {
                r = r.header("set-cookie", format!("inv_{i}_{k}=v"));
            }
            r.header("set-cookie", "_recurring_tracker=1")
                .body(full(""))
                .unwrap()
        }
    })
    .await;
    let p = proxy(up, "").await;
    let c = client();
    for _ in 0..100 {
        get(&c, p.http.unwrap(), "/", None).await;
    }
    let admin = p.admin.unwrap();
    let (_, m) = admin_get(&c, admin, "/metrics").await;
    let series = m
        .lines()
        .filter(|l| l.starts_with("consentry_set_cookie_blocked_total{"))
        .count();
    assert_eq!(series, 1, "3100 names must share one (unclassified) series");
    assert!(
        !m.contains("inv_"),
        "invented names leaked into metric labels"
    );
    let (status, body) = admin_get(&c, admin, "/unclassified").await;
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let names = v["names"].as_array().unwrap();
    assert!(names.len() <= 100);
    assert_eq!(names[0]["name"], "_recurring_tracker");
    assert!(names[0]["count"].as_u64().unwrap() >= 100);
    let (status, html) = admin_get(&c, admin, "/").await;
    assert_eq!(status, 200);
    assert!(html.contains("Blocked per category") && html.contains("_recurring_tracker"));
    p.drain().await;
}
