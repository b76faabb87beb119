//! Hostile clients and faulty upstreams over raw sockets: request smuggling, malformed framing,
//! header injection, and upstreams that misbehave. After each case the proxy still serves the
//! next client, and nothing leaks.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Counts the requests the upstream sees, and remembers their raw heads as parsed.
async fn recording_upstream() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let addr = upstream(move |req| {
        let line = format!(
            "{} {} host={:?} cl={:?} te={:?}",
            req.method(),
            req.uri(),
            req.headers().get("host"),
            req.headers().get("content-length"),
            req.headers().get("transfer-encoding")
        );
        s.lock().unwrap().push(line);
        async move {
            use http_body_util::BodyExt;
            let body = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            Response::new(full(format!("got {} bytes", body.len())))
        }
    })
    .await;
    (addr, seen)
}

async fn still_serves(addr: std::net::SocketAddr) {
    let r = get(&client(), addr, "/after", None).await;
    assert_eq!(r.status(), 200, "the proxy stopped serving");
}

#[tokio::test]
async fn request_smuggling_and_malformed_framing_are_refused() {
    let (up, seen) = recording_upstream().await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    let cases: &[(&str, &[u8], &[&str])] = &[
        // Content-Length and Transfer-Encoding together: refused, as nginx and Envoy do, and
        // the smuggled request never reaches the upstream.
        ("CL+TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n", &["400"]),
        ("duplicate Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", &["400"]),
        ("non-numeric Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\nhello", &["400"]),
        ("obs-fold", b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n", &["400"]),
        ("bad chunk size", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", &["400", "502", ""]),
        ("chunked not last", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n", &["400", "501"]),
        ("space before colon", b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad : 1\r\n\r\n", &["400"]),
        ("bare LF header injection", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\rX-Injected: 2\r\n\r\n", &["400"]),
        ("NUL in header", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\x002\r\n\r\n", &["400"]),
        ("oversized request line", &[b"GET /".as_slice(), &[b'a'; 70_000], b" HTTP/1.1\r\nHost: a\r\n\r\n"].concat(), &["414", "431", "400"]),
        ("invalid method", b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", &["400"]),
        ("HTTP/2 version on h1", b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", &["400", "505"]),
    ];
    for (name, raw, allowed) in cases {
        let before = seen.lock().unwrap().len();
        let resp = exchange(addr, raw).await;
        let status = status_of(&resp);
        assert!(
            allowed.contains(&status),
            "{name}: got {status:?} in {resp:?}"
        );
        let new: Vec<String> = seen.lock().unwrap()[before..].to_vec();
        assert!(
            !new.iter().any(|l| l.contains("/smuggled")),
            "{name}: a smuggled request reached the upstream: {new:?}"
        );
        still_serves(addr).await;
    }
    p.drain().await;
}

#[tokio::test]
async fn protocol_edge_cases_are_handled() {
    let (up, seen) = recording_upstream().await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();

    // HTTP/1.0 without Host: served (Host is only required from HTTP/1.1), and closed after.
    let resp = exchange(addr, b"GET /ten HTTP/1.0\r\n\r\n").await;
    assert_eq!(status_of(&resp), "200", "{resp}");

    // HTTP/1.1 without Host is a 400 (RFC 9112 §3.2).
    let resp = exchange(addr, b"GET / HTTP/1.1\r\n\r\n").await;
    assert_eq!(status_of(&resp), "400", "{resp}");
    let resp = exchange(addr, b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n").await;
    assert_eq!(status_of(&resp), "400", "{resp}");

    // An absolute URI whose authority differs from Host: the request target wins and Host is
    // ignored (RFC 9112 §3.2.2), so the upstream sees one consistent host, never two.
    let before = seen.lock().unwrap().len();
    let resp = exchange(
        addr,
        b"GET http://other.example/abs HTTP/1.1\r\nHost: shop.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status_of(&resp), "200", "{resp}");
    let line = seen.lock().unwrap()[before].clone();
    assert!(
        line.contains("/abs") && line.contains("host=Some(\"other.example\")"),
        "{line}"
    );

    // Pipelined requests on one connection are answered in order.
    let resp = exchange(addr, b"GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET /p2 HTTP/1.1\r\nHost: a\r\n\r\nGET /p3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await;
    assert_eq!(resp.matches("HTTP/1.1 200").count(), 3, "{resp}");

    // A chunked body with trailers and extensions is forwarded whole.
    let resp = exchange(addr, b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n").await;
    assert!(resp.contains("got 11 bytes"), "{resp}");
    still_serves(addr).await;
    p.drain().await;
}

/// An upstream that does something raw on every connection.
async fn raw_upstream<F, Fut>(f: F) -> std::net::SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let f = Arc::new(f);
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let f = f.clone();
            tokio::spawn(async move { f(s).await });
        }
    });
    addr
}

async fn read_request(s: &mut TcpStream) {
    let mut buf = vec![0u8; 8192];
    let mut head = Vec::new();
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).await.unwrap_or(0);
        if n == 0 {
            return;
        }
        head.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn upstream_faults_become_clean_errors() {
    let c = client();
    // Closes mid-headers.
    let up = raw_upstream(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/pl")
            .await;
    })
    .await;
    let p = proxy(up, "").await;
    assert_eq!(get(&c, p.http.unwrap(), "/", None).await.status(), 502);
    p.drain().await;

    // Closes mid-body: the client sees an aborted body, never a complete-looking short one.
    let up = raw_upstream(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
            .await;
        let _ = s.write_all(&[b'x'; 1000]).await;
    })
    .await;
    let p = proxy(up, "").await;
    let r = get(&c, p.http.unwrap(), "/", None).await;
    assert_eq!(r.status(), 200);
    use http_body_util::BodyExt;
    assert!(
        r.into_body().collect().await.is_err(),
        "a truncated body was presented as complete"
    );
    // On the wire: the proxy must not end a chunked/CL body cleanly.
    let resp = exchange(p.http.unwrap(), b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").await;
    assert!(resp.contains("content-length: 100000"), "{resp}");
    assert!(resp.len() < 100_000, "{}", resp.len());
    p.drain().await;

    // A garbage status line.
    let up = raw_upstream(|mut s| async move {
        read_request(&mut s).await;
        let _ = s.write_all(b"HTTP/1.1 2OO Fine\r\n\r\n").await;
    })
    .await;
    let p = proxy(up, "").await;
    assert_eq!(get(&c, p.http.unwrap(), "/", None).await.status(), 502);
    p.drain().await;

    // Slow headers: 504 at response_timeout (1 s in the test config).
    let up = raw_upstream(|mut s| async move {
        read_request(&mut s).await;
        tokio::time::sleep(Duration::from_secs(3)).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let p = proxy(up, "").await;
    assert_eq!(get(&c, p.http.unwrap(), "/", None).await.status(), 504);
    p.drain().await;
}

#[tokio::test]
async fn huge_and_many_set_cookie_lines() {
    let big_value = "v".repeat(64 * 1024);
    let up = upstream(move |req| {
        let big_value = big_value.clone();
        async move {
            let mut r = Response::builder();
            if req.uri().path() == "/many" {
                for i in 0..100 {
                    r = r.header(
                        "set-cookie",
                        format!("{}{i}=x; Path=/", if i % 2 == 0 { "_ga_" } else { "app_" }),
                    );
                }
            } else {
                r = r.header("set-cookie", format!("_ga={big_value}; Path=/"));
                r = r.header(
                    "set-cookie",
                    format!("_zendesk_session={big_value}; Path=/"),
                );
            }
            r.body(full("ok")).unwrap()
        }
    })
    .await;
    let text = config_text(up, "unclassified = \"allow\"");
    let p = proxy_with(&text, Default::default()).await;
    let c = client();
    let r = get(&c, p.http.unwrap(), "/many", None).await;
    let lines = set_cookies(&r);
    assert_eq!(lines.len(), 50);
    assert!(lines.iter().all(|l| l.starts_with("app_")));
    let r = get(&c, p.http.unwrap(), "/big", None).await;
    let lines = set_cookies(&r);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].starts_with("_zendesk_session=") && lines[0].len() > 64 * 1024);
    p.drain().await;
}

#[tokio::test]
async fn faults_leak_no_tasks_or_connections() {
    let up = raw_upstream(|mut s| async move {
        read_request(&mut s).await;
        let _ = s
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\npartial")
            .await;
    })
    .await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    let metrics = tokio::runtime::Handle::current().metrics();
    let settle = || async { tokio::time::sleep(Duration::from_millis(300)).await };
    // Warm up, then measure.
    for _ in 0..5 {
        let _ = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
    }
    settle().await;
    let before = metrics.num_alive_tasks();
    for _ in 0..200 {
        let _ = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        )
        .await;
        // And clients that vanish mid-request.
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nab")
            .await
            .unwrap();
        drop(s);
    }
    settle().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = metrics.num_alive_tasks();
    assert!(
        after <= before + 2,
        "tasks leaked: {before} before, {after} after"
    );
    still_serves_with_fresh_upstream(&p).await;
    p.drain().await;
}

async fn still_serves_with_fresh_upstream(p: &consentry::server::Running) {
    // The admin listener still answers, so the process is healthy.
    let (status, _) = admin_get(&client(), p.admin.unwrap(), "/healthz").await;
    assert_eq!(status, 200);
}
