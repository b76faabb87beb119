//! The own HTTP/1.1 path (`server.http1 = "fast"`) where it differs from hyper's in how it
//! works: request bodies relayed by its own decoder (chunked, pipelined after a body), upstream
//! connections never reused after extra bytes, and what it hands over to hyper mid-connection.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::*;

/// A hyper upstream that records each request's path and body, and answers `ok`.
async fn recording() -> (SocketAddr, Arc<Mutex<Vec<(String, String)>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let s = seen.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<hyper::body::Incoming>| {
                    let s = s.clone();
                    async move {
                        let path = req.uri().path().to_string();
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        s.lock()
                            .unwrap()
                            .push((path, String::from_utf8_lossy(&body).into_owned()));
                        Ok::<_, Infallible>(Response::new(full("ok")))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test]
async fn chunked_and_pipelined_bodies_reach_the_upstream_whole_and_in_order() {
    let (up, seen) = recording().await;
    let p = proxy_with(&fast_config(up), Default::default()).await;
    let raw: &[u8] = b"POST /a HTTP/1.1\r\nHost: shop\r\nTransfer-Encoding: chunked\r\n\r\n\
5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n\
POST /b HTTP/1.1\r\nHost: shop\r\nContent-Length: 3\r\n\r\nabc\
GET /c HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n";
    let resp = exchange(p.http.unwrap(), raw).await;
    assert_eq!(resp.matches("HTTP/1.1 200 OK").count(), 3, "{resp}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            ("/a".to_string(), "hello world".to_string()),
            ("/b".to_string(), "abc".to_string()),
            ("/c".to_string(), String::new()),
        ]
    );
    p.drain().await;
}

/// A raw upstream: answers every request head with `answer`, counting its connections.
async fn raw_upstream(answer: &'static [u8]) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let a = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            a.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    while let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        got.drain(..end + 4);
                        if s.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                    match s.read(&mut buf).await {
                        Ok(n) if n > 0 => got.extend_from_slice(&buf[..n]),
                        _ => return,
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn an_upstream_connection_with_bytes_after_the_body_is_not_reused() {
    let (up, accepted) =
        raw_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON").await;
    let p = proxy_with(&fast_config(up), Default::default()).await;
    let addr = p.http.unwrap();
    for _ in 0..3 {
        let resp = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(resp.ends_with("\r\n\r\nok"), "{resp}");
        assert!(!resp.contains("POISON"), "{resp}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
    p.drain().await;
}

#[tokio::test]
async fn a_clean_exchange_returns_the_connection_for_the_next_request() {
    let (up, accepted) = raw_upstream(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
    // Idle upstream connections are pooled per worker, and the kernel spreads client
    // connections over the workers' listeners: with one worker, every request meets the pool.
    let config = fast_config(up).replace("workers = 2", "workers = 1");
    assert!(config.contains("workers = 1"));
    let p = proxy_with(&config, Default::default()).await;
    let addr = p.http.unwrap();
    for _ in 0..3 {
        let resp = exchange(
            addr,
            b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(resp.ends_with("\r\n\r\nok"), "{resp}");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
    p.drain().await;
}

#[tokio::test]
async fn expect_continue_is_handed_to_hyper_on_the_same_connection() {
    let (up, seen) = recording().await;
    let p = proxy_with(&fast_config(up), Default::default()).await;
    let mut s = TcpStream::connect(p.http.unwrap()).await.unwrap();
    // One request served by the own path, then one it hands over.
    s.write_all(b"GET /first HTTP/1.1\r\nHost: shop\r\n\r\nPOST /second HTTP/1.1\r\nHost: shop\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("100 Continue") {
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
            .await
            .expect("no 100 Continue")
            .unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    s.write_all(b"body").await.unwrap();
    while String::from_utf8_lossy(&got).matches("200 OK").count() < 2 {
        let n = tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf))
            .await
            .expect("no second response")
            .unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(
        seen.lock().unwrap().clone(),
        vec![
            ("/first".to_string(), String::new()),
            ("/second".to_string(), "body".to_string())
        ]
    );
    p.drain().await;
}
