//! Transport: TLS with SNI and ALPN, HTTP/2 both ways, h2c, upgrades, limits, slow clients.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::tls::{path_str, TestCa};
use common::*;
use http::{Request, Response, Version};
use http_body_util::BodyExt;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn cookie_upstream() -> std::net::SocketAddr {
    upstream(|req| async move {
        Response::builder()
            .header("set-cookie", "_zendesk_session=s; Path=/")
            .header("set-cookie", "_ga=GA1.2; Path=/")
            .header("set-cookie", "_fbp=fb.1; Path=/")
            .header(
                "x-seen-host",
                req.headers()
                    .get("host")
                    .cloned()
                    .unwrap_or(http::HeaderValue::from_static("")),
            )
            .body(full("ok"))
            .unwrap()
    })
    .await
}

fn tls_config(up: std::net::SocketAddr, ca: &TestCa) -> String {
    let (cert, key, _) = ca.leaf("shop", &["shop.test"]);
    let (ocert, okey, _) = ca.leaf("other", &["other.test", "*.other.test"]);
    config_text(up, "").replace(
        "[listen]\nhttp = \"127.0.0.1:0\"\n",
        &format!(
            "[listen]\nhttp = \"127.0.0.1:0\"\nhttps = \"127.0.0.1:0\"\n\n[tls]\ncert = \"{}\"\nkey = \"{}\"\n[[tls.sni]]\nhost = \"other.test\"\ncert = \"{}\"\nkey = \"{}\"\n[[tls.sni]]\nhost = \"*.other.test\"\ncert = \"{}\"\nkey = \"{}\"\n",
            path_str(&cert), path_str(&key), path_str(&ocert), path_str(&okey), path_str(&ocert), path_str(&okey)
        ),
    )
}

#[tokio::test]
async fn tls_with_h2_and_http11_strips_cookies() {
    let ca = TestCa::new("alpn");
    let up = cookie_upstream().await;
    let p = proxy_with(&tls_config(up, &ca), Default::default()).await;
    let addr = p.https.unwrap();

    // HTTP/2 chosen by ALPN.
    let tls = ca.connect(addr, "shop.test", &[b"h2", b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let req = Request::get("https://shop.test/page")
        .header("cookie", "consentry=analytics")
        .body(full(""))
        .unwrap();
    let r = send.send_request(req).await.unwrap();
    assert_eq!(r.version(), Version::HTTP_2);
    assert_eq!(
        set_cookies(&r),
        vec!["_zendesk_session=s; Path=/", "_ga=GA1.2; Path=/"]
    );
    assert_eq!(r.headers()["x-seen-host"], "shop.test");
    assert_eq!(body_bytes(r).await, "ok");

    // HTTP/1.1 chosen by ALPN.
    let tls = ca.connect(addr, "shop.test", &[b"http/1.1"]).await;
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = Request::get("/")
        .header("host", "shop.test")
        .body(full(""))
        .unwrap();
    let r = send.send_request(req).await.unwrap();
    assert_eq!(r.version(), Version::HTTP_11);
    assert_eq!(set_cookies(&r), vec!["_zendesk_session=s; Path=/"]);
    p.drain().await;
}

#[tokio::test]
async fn sni_chooses_the_certificate() {
    let ca = TestCa::new("sni");
    let up = cookie_upstream().await;
    let p = proxy_with(&tls_config(up, &ca), Default::default()).await;
    let addr = p.https.unwrap();
    let shop = std::fs::read_to_string(ca.dir.join("shop.pem")).unwrap();
    let other = std::fs::read_to_string(ca.dir.join("other.pem")).unwrap();
    let der = |pem: &str| {
        use rustls::pki_types::pem::PemObject;
        rustls::pki_types::CertificateDer::from_pem_slice(pem.as_bytes()).unwrap()
    };
    for (sni, want) in [
        ("shop.test", &shop),
        ("other.test", &other),
        ("a.other.test", &other),
    ] {
        let tls = ca.connect(addr, sni, &[b"http/1.1"]).await;
        let got = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
        assert_eq!(got, der(want), "{sni}");
    }
    p.drain().await;
}

#[tokio::test]
async fn h2c_with_prior_knowledge() {
    let up = cookie_upstream().await;
    let p = proxy(up, "").await;
    let tcp = TcpStream::connect(p.http.unwrap()).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    tokio::spawn(conn);
    // HTTP/2 clients may split Cookie into several fields.
    let req = Request::get("http://shop.example/")
        .header("cookie", "consentry=analytics")
        .header("cookie", "other=1")
        .body(full(""))
        .unwrap();
    let r = send.send_request(req).await.unwrap();
    assert_eq!(r.version(), Version::HTTP_2);
    assert_eq!(
        set_cookies(&r),
        vec!["_zendesk_session=s; Path=/", "_ga=GA1.2; Path=/"]
    );
    assert_eq!(r.headers()["x-seen-host"], "shop.example");
    p.drain().await;
}

#[tokio::test]
async fn https_upstream_with_a_private_ca_speaks_h2() {
    let ca = TestCa::new("upstream");
    let acceptor = ca.acceptor("upstream", &["127.0.0.1"], &[b"h2", b"http/1.1"]);
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(s).await else {
                    return;
                };
                let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
                let svc = service_fn(|req: Request<hyper::body::Incoming>| async move {
                    Ok::<_, std::convert::Infallible>(
                        Response::builder()
                            .header("x-upstream-version", format!("{:?}", req.version()))
                            .header("set-cookie", "_ga=1")
                            .header("set-cookie", "_zendesk_session=2")
                            .body(full("secure"))
                            .unwrap(),
                    )
                });
                if h2 {
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                } else {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), svc)
                        .await;
                }
            });
        }
    });
    let text = config_text(up, "").replace(
        &format!("url = \"http://{up}\""),
        &format!(
            "url = \"https://{up}\"\nca = \"{}\"",
            path_str(&ca.ca_path())
        ),
    );
    let p = proxy_with(&text, Default::default()).await;
    let r = get(&client(), p.http.unwrap(), "/", None).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-upstream-version"], "HTTP/2.0");
    assert_eq!(set_cookies(&r), vec!["_zendesk_session=2"]);
    assert_eq!(body_bytes(r).await, "secure");

    // Without the private CA the upstream is not trusted: 502.
    let text = config_text(up, "").replace(
        &format!("url = \"http://{up}\""),
        &format!("url = \"https://{up}\""),
    );
    let p2 = proxy_with(&text, Default::default()).await;
    assert_eq!(
        get(&client(), p2.http.unwrap(), "/", None).await.status(),
        502
    );
    p.drain().await;
    p2.drain().await;
}

#[tokio::test]
async fn websocket_upgrade_tunnels_and_filters_the_101() {
    // An upstream that accepts the upgrade and echoes whatever arrives on the tunnel.
    let up = upstream(|mut req| async move {
        assert_eq!(req.headers()["upgrade"], "websocket");
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let mut io = TokioIo::new(on.await.unwrap());
            let mut buf = [0u8; 1024];
            loop {
                let n = io.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                io.write_all(&buf[..n]).await.unwrap();
            }
        });
        Response::builder()
            .status(101)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            .header("set-cookie", "_ga=1")
            .header("set-cookie", "_zendesk_session=ws")
            .body(full(""))
            .unwrap()
    })
    .await;
    let p = proxy(up, "").await;
    let mut s = TcpStream::connect(p.http.unwrap()).await.unwrap();
    s.write_all(b"GET /chat HTTP/1.1\r\nHost: shop.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap().to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    assert!(
        head.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    assert!(head.contains("set-cookie: _zendesk_session=ws"), "{head}");
    assert!(!head.contains("_ga=1"), "{head}");
    for msg in [&b"hello"[..], b"\x81\x05world", &[0u8; 3000]] {
        s.write_all(msg).await.unwrap();
        let mut echo = vec![0u8; msg.len()];
        tokio::time::timeout(Duration::from_secs(5), s.read_exact(&mut echo))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&echo, msg);
    }
    p.drain().await;
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let up = cookie_upstream().await;
    let text = config_text(up, "").replace("workers = 2", "workers = 2\nmax_header_bytes = 16384");
    let p = proxy_with(&text, Default::default()).await;
    let mut s = TcpStream::connect(p.http.unwrap()).await.unwrap();
    let big = "a".repeat(20_000);
    s.write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-Big: {big}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );

    // Too many header fields.
    let text = config_text(up, "").replace("workers = 2", "workers = 2\nmax_headers = 20");
    let p2 = proxy_with(&text, Default::default()).await;
    let mut s = TcpStream::connect(p2.http.unwrap()).await.unwrap();
    let many: String = (0..30).map(|i| format!("X-H{i}: v\r\n")).collect();
    s.write_all(format!("GET / HTTP/1.1\r\nHost: x\r\n{many}\r\n").as_bytes())
        .await
        .unwrap();
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    p.drain().await;
    p2.drain().await;
}

#[tokio::test]
async fn request_bodies_over_the_limit_get_413() {
    let up = upstream(|req| async move {
        let n = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes().len())
            .unwrap_or(0);
        Response::new(full(n.to_string()))
    })
    .await;
    let text = config_text(up, "").replace("workers = 2", "workers = 2\nmax_body_bytes = 1000");
    let p = proxy_with(&text, Default::default()).await;
    let c = client();
    let post = |body: Vec<u8>| {
        Request::post(format!("http://{}/", p.http.unwrap()))
            .body(full(body))
            .unwrap()
    };
    let r = c.request(post(vec![b'x'; 1000])).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(body_bytes(r).await, "1000");
    // Declared too large: refused before anything reaches the upstream.
    let r = c.request(post(vec![b'x'; 1001])).await.unwrap();
    assert_eq!(r.status(), 413);
    // Chunked and too large: cut while streaming.
    let mut s = TcpStream::connect(p.http.unwrap()).await.unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..3 {
        s.write_all(b"258\r\n").await.unwrap();
        s.write_all(&[b'y'; 600]).await.unwrap();
        s.write_all(b"\r\n").await.unwrap();
    }
    s.write_all(b"0\r\n\r\n").await.unwrap();
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    p.drain().await;
}

#[tokio::test]
async fn slowloris_is_cut_at_the_header_timeout_while_others_are_served() {
    let up = cookie_upstream().await;
    let p = proxy(up, "").await; // header_read_timeout = 2s
    let addr = p.http.unwrap();
    // Clients that never finish their headers, and one that never sends a byte.
    let mut slow = Vec::new();
    for _ in 0..5 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(s);
    }
    slow.push(TcpStream::connect(addr).await.unwrap());
    let started = std::time::Instant::now();
    // Meanwhile, others are served.
    let c = client();
    for _ in 0..5 {
        assert_eq!(get(&c, addr, "/", None).await.status(), 200);
    }
    for mut s in slow {
        let mut buf = [0u8; 256];
        // The proxy closes the connection (possibly after a 408) within the timeout plus slack.
        let r = tokio::time::timeout(Duration::from_secs(6), async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => continue,
                }
            }
        })
        .await;
        assert!(r.is_ok(), "a slow client was not cut");
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "cut too early: {:?}",
        started.elapsed()
    );
    p.drain().await;
}

#[tokio::test]
async fn drain_lets_in_flight_requests_finish_and_turns_readyz_503() {
    let up = upstream(|_req| async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        Response::new(full("finished"))
    })
    .await;
    let p = proxy(up, "").await;
    let addr = p.http.unwrap();
    let admin = p.admin.unwrap();
    let c = client();
    let inflight = tokio::spawn({
        let c = c.clone();
        async move {
            let r = get(&c, addr, "/slow", None).await;
            (r.status(), body_bytes(r).await)
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let shared = p.shared.clone();
    let drain = tokio::spawn(p.drain());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(shared.is_draining());
    assert_eq!(admin_get(&client(), admin, "/readyz").await.0, 503);
    // New connections are no longer accepted.
    assert!(
        TcpStream::connect(addr).await.is_err() || {
            let r = tokio::time::timeout(
                Duration::from_secs(2),
                client().request(
                    Request::get(format!("http://{addr}/"))
                        .body(full(""))
                        .unwrap(),
                ),
            )
            .await;
            !matches!(r, Ok(Ok(_)))
        }
    );
    let (status, body) = inflight.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, "finished");
    assert!(drain.await.unwrap(), "drain did not finish cleanly");
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_instead_of_failing() {
    let up = cookie_upstream().await;
    let text = config_text(up, "").replace("workers = 2", "workers = 2\nmax_connections = 2");
    let p = proxy_with(&text, Default::default()).await;
    let addr = p.http.unwrap();
    let seen = Arc::new(Mutex::new(0));
    // Two idle keep-alive connections take both slots.
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).await.unwrap();
        held.push(s);
    }
    // A third client waits...
    let third = tokio::spawn({
        let seen = seen.clone();
        async move {
            let r = get(&client(), addr, "/", None).await;
            *seen.lock().unwrap() += 1;
            r.status()
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(*seen.lock().unwrap(), 0, "served beyond max_connections");
    // ...and is served once a slot frees up.
    drop(held.pop());
    let status = tokio::time::timeout(Duration::from_secs(5), third)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    p.drain().await;
}

#[tokio::test]
async fn reload_keeps_unchanged_listeners_and_rebinds_changed_ones() {
    let up = cookie_upstream().await;
    let text = config_text(up, "");
    let p = proxy_with(&text, Default::default()).await;
    let old = p.http.unwrap();
    let c = client();
    // Pin the configured address to the bound one, so the next reload sees it unchanged.
    let pinned = text.replacen("http = \"127.0.0.1:0\"", &format!("http = \"{old}\""), 1);
    let cfg = |t: &str| {
        consentry::config::Config::from_str(std::path::Path::new("test.toml"), &with_http1(t))
            .unwrap()
    };
    // Unchanged address: the same socket keeps serving, a keep-alive connection stays open.
    let mut keep = TcpStream::connect(old).await.unwrap();
    p.reload(cfg(&pinned)).await.unwrap();
    p.reload(cfg(&pinned)).await.unwrap();
    keep.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    keep.read_exact(&mut buf).await.unwrap();
    assert!(buf.starts_with(b"HTTP/1.1 200"));
    // A changed address: the new one serves, the old one stops accepting.
    let free = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    p.reload(cfg(&text.replacen(
        "http = \"127.0.0.1:0\"",
        &format!("http = \"{free}\""),
        1,
    )))
    .await
    .unwrap();
    assert_eq!(get(&c, free, "/", None).await.status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        TcpStream::connect(old).await.is_err(),
        "the old listener still accepts"
    );
    // A reload whose address cannot be bound reports the error and keeps serving.
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let e = p
        .reload(cfg(&text.replacen(
            "http = \"127.0.0.1:0\"",
            &format!("http = \"{}\"", busy.local_addr().unwrap()),
            1,
        )))
        .await
        .unwrap_err();
    assert!(e.contains("listen.http"), "{e}");
    assert_eq!(get(&c, free, "/", None).await.status(), 200);
    p.drain().await;
}

#[tokio::test]
async fn idle_http2_connections_are_closed_after_idle_timeout() {
    let up = cookie_upstream().await;
    let text = config_text(up, "").replace("workers = 2", "workers = 2\nidle_timeout = \"1s\"");
    let p = proxy_with(&text, Default::default()).await;
    let tcp = TcpStream::connect(p.http.unwrap()).await.unwrap();
    let (mut send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let r = send
        .send_request(Request::get("http://x/").body(full("")).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    drop(r);
    // The server sends GOAWAY and closes; the client connection task ends.
    let ended = tokio::time::timeout(Duration::from_secs(5), conn).await;
    assert!(ended.is_ok(), "the idle HTTP/2 connection was not closed");
    p.drain().await;
}
