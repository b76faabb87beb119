//! The upstream connection pool: reuse, release after HEAD/304, idle timeout, and upstreams that
//! close keep-alive connections.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::*;

/// Connections an upstream accepted in total, and holds open now.
#[derive(Default)]
struct Counts {
    accepted: AtomicUsize,
    open: AtomicUsize,
}

/// An HTTP/1.1 upstream that counts its connections. `/close` answers with `Connection: close`,
/// `/304` with 304, `/big` with 256 KiB, `/huge` with 64 MiB; everything else with a short body
/// and a Set-Cookie.
async fn counting_upstream() -> (SocketAddr, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let counts = Arc::new(Counts::default());
    let c = counts.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            c.accepted.fetch_add(1, Ordering::SeqCst);
            c.open.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            tokio::spawn(async move {
                let svc = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    let mut r = Response::builder().header("set-cookie", "_ga=1; Path=/");
                    let body = match req.uri().path() {
                        "/close" => {
                            r = r.header("connection", "close");
                            full("bye")
                        }
                        "/304" => {
                            r = r.status(StatusCode::NOT_MODIFIED);
                            full("")
                        }
                        "/big" => full(vec![b'x'; 256 * 1024]),
                        // More than loopback's socket buffers can hold (at most 32 MiB received
                        // and 4 MiB sent here), so a client that stops reading stops the relay.
                        "/huge" => full(vec![b'x'; 64 << 20]),
                        _ => full("hello"),
                    };
                    Ok::<_, Infallible>(r.body(body).unwrap())
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
                c.open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (addr, counts)
}

async fn request(c: &Client, proxy: SocketAddr, method: Method, path: &str) -> StatusCode {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{proxy}{path}"))
        .body(full(""))
        .unwrap();
    let r = c.request(req).await.unwrap();
    let status = r.status();
    body_bytes(r).await;
    status
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..100 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test]
async fn sequential_requests_share_one_upstream_connection() {
    let (up, counts) = counting_upstream().await;
    let p = proxy(up, "").await;
    let c = client();
    let addr = p.http.unwrap();
    for _ in 0..20 {
        assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
        assert_eq!(request(&c, addr, Method::GET, "/big").await, StatusCode::OK);
    }
    // Responses without a body free their connection too.
    for _ in 0..10 {
        assert_eq!(request(&c, addr, Method::HEAD, "/").await, StatusCode::OK);
        assert_eq!(
            request(&c, addr, Method::GET, "/304").await,
            StatusCode::NOT_MODIFIED
        );
    }
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
    p.drain().await;
}

#[tokio::test]
async fn concurrent_requests_then_reuse() {
    let (up, counts) = counting_upstream().await;
    let p = proxy(up, "").await;
    let c = client();
    let addr = p.http.unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { request(&c, addr, Method::GET, "/big").await })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    let after_burst = counts.accepted.load(Ordering::SeqCst);
    assert!((1..=40).contains(&after_burst), "{after_burst}");
    for _ in 0..20 {
        assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
    }
    assert_eq!(counts.accepted.load(Ordering::SeqCst), after_burst);
    p.drain().await;
}

#[tokio::test]
async fn connection_close_from_the_upstream_is_respected() {
    let (up, counts) = counting_upstream().await;
    let p = proxy(up, "").await;
    let c = client();
    let addr = p.http.unwrap();
    for _ in 0..5 {
        assert_eq!(
            request(&c, addr, Method::GET, "/close").await,
            StatusCode::OK
        );
    }
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 5);
    eventually("the upstream's connections closed", || {
        counts.open.load(Ordering::SeqCst) == 0
    })
    .await;
    p.drain().await;
}

#[tokio::test]
async fn idle_connections_are_closed_after_pool_idle_timeout() {
    let (up, counts) = counting_upstream().await;
    let text = config_text(up, "").replace(
        "response_timeout = \"1s\"",
        "response_timeout = \"1s\"\npool_idle_timeout = \"300ms\"",
    );
    let p = proxy_with(&text, Default::default()).await;
    let c = client();
    let addr = p.http.unwrap();
    assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
    assert_eq!(counts.open.load(Ordering::SeqCst), 1);
    // Closed by the proxy with no request coming to notice.
    eventually("the idle upstream connection closed", || {
        counts.open.load(Ordering::SeqCst) == 0
    })
    .await;
    assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
    p.drain().await;
}

/// An upstream with a short keep-alive that does not announce it: after each answer it waits
/// 50 ms for the next request on the connection, then closes it.
async fn short_keepalive_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                loop {
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        let read =
                            tokio::time::timeout(Duration::from_millis(50), s.read(&mut buf));
                        match read.await {
                            Ok(Ok(n)) if n > 0 => got.extend_from_slice(&buf[..n]),
                            _ => return,
                        }
                    }
                    let end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    got.drain(..end);
                    if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn connections_the_upstream_closed_while_idle_are_not_used() {
    let up = short_keepalive_upstream().await;
    let p = proxy(up, "").await;
    let c = client();
    let addr = p.http.unwrap();
    for _ in 0..5 {
        assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Back to back, one connection serves them all.
    for _ in 0..20 {
        assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
    }
    p.drain().await;
}

#[tokio::test]
async fn a_client_that_leaves_mid_body_does_not_return_the_connection() {
    let (up, counts) = counting_upstream().await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    let mut s = TcpStream::connect(addr).await.unwrap();
    // 256 KiB can fit in the sockets' buffers whole, and then the exchange ends cleanly and its
    // connection is rightly reused: the body must be larger than they can hold.
    s.write_all(b"GET /huge HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = s.read(&mut buf).await.unwrap();
    assert!(n > 0);
    drop(s);
    // The half-read exchange cannot be reused: its upstream connection is closed.
    eventually("the upstream connection closed", || {
        counts.open.load(Ordering::SeqCst) == 0
    })
    .await;
    let c = client();
    assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 2);
    p.drain().await;
}

#[tokio::test]
async fn a_reload_keeps_upstream_connections_unless_the_upstream_changes() {
    let load = |up: SocketAddr, tag: &str| {
        consentry::config::Config::from_str(
            std::path::Path::new("test.toml"),
            &config_text(up, &format!("# {tag}")),
        )
        .unwrap()
    };
    let (up, counts) = counting_upstream().await;
    let p = proxy(up, "").await;
    let c = client();
    let addr = p.http.unwrap();
    assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
    p.reload(load(up, "same upstream")).await.unwrap();
    assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);

    let (up2, counts2) = counting_upstream().await;
    p.reload(load(up2, "new upstream")).await.unwrap();
    assert_eq!(request(&c, addr, Method::GET, "/").await, StatusCode::OK);
    assert_eq!(counts2.accepted.load(Ordering::SeqCst), 1);
    assert_eq!(counts.accepted.load(Ordering::SeqCst), 1);
    p.drain().await;
}
