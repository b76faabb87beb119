//! Shared helpers for integration tests: in-process upstreams and proxies on 127.0.0.1:0.
#![allow(dead_code)]

pub mod deploy;
pub mod process;
pub mod tls;
pub mod wire;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use consentry::config::Config;
use consentry::server::{self, Running};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
pub type TestBody = BoxBody<Bytes, BoxError>;

pub fn full(b: impl Into<Bytes>) -> TestBody {
    Full::new(b.into())
        .map_err(|e: Infallible| match e {})
        .boxed()
}

/// Starts an HTTP/1.1 upstream on 127.0.0.1:0 answering with `f`.
pub async fn upstream<F, Fut>(f: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<TestBody>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let f = Arc::new(f);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let f = f.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let fut = f(req);
                    async move { Ok::<_, Infallible>(fut.await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .with_upgrades()
                    .await;
            });
        }
    });
    addr
}

/// The HTTP/1.1 path the tests run against: `CONSENTRY_TEST_HTTP1` (`fast` or `hyper`), or
/// the configuration's default when unset.
pub fn http1_path() -> Option<String> {
    let v = std::env::var("CONSENTRY_TEST_HTTP1").ok()?;
    match v.as_str() {
        "fast" | "hyper" => Some(v),
        "" => None,
        other => panic!("CONSENTRY_TEST_HTTP1 is \"{other}\": it must be \"fast\" or \"hyper\""),
    }
}

/// `text` with `server.http1` set to [`http1_path`] (unchanged when it is unset or the text
/// sets the key itself).
pub fn with_http1(text: &str) -> String {
    let Some(path) = http1_path() else {
        return text.to_string();
    };
    if text.lines().any(|l| l.trim_start().starts_with("http1 =")) {
        return text.to_string();
    }
    let line = format!("http1 = \"{path}\"");
    match text.lines().position(|l| l.trim() == "[server]") {
        Some(i) => {
            let mut lines: Vec<&str> = text.lines().collect();
            lines.insert(i + 1, &line);
            let mut out = lines.join("\n");
            out.push('\n');
            out
        }
        None => format!("{text}\n[server]\n{line}\n"),
    }
}

/// The test configuration: categories like the contract's example, upstream at `up`.
pub fn config_text(up: SocketAddr, consent_extra: &str) -> String {
    with_http1(&format!(
        r#"
[listen]
http = "127.0.0.1:0"

[admin]
listen = "127.0.0.1:0"

[server]
workers = 2
shutdown_grace = "5s"
header_read_timeout = "2s"

[upstream]
url = "http://{up}"
connect_timeout = "1s"
response_timeout = "1s"

[consent]
{consent_extra}

[categories.essential]
required = true
cookies = ["_zendesk_session", "__cf_bm"]

[categories.functional]
cookies = ["ZD-settings", "*.conversationStartedAt"]

[categories.analytics]
cookies = ["_ga", "_ga_*", "_gid"]

[categories.advertising]
cookies = ["_fbp", "IDE", "_gcl_*"]
"#
    ))
}

/// [`config_text`] on the own HTTP/1.1 path, whatever `CONSENTRY_TEST_HTTP1` says.
pub fn fast_config(up: SocketAddr) -> String {
    let text: String = config_text(up, "")
        .lines()
        .filter(|l| !l.starts_with("http1 ="))
        .map(|l| format!("{l}\n"))
        .collect();
    text.replace("[server]\n", "[server]\nhttp1 = \"fast\"\n")
}

pub async fn proxy_with(text: &str, opts: server::Options) -> Running {
    let config = Config::from_str(Path::new("test.toml"), &with_http1(text))
        .unwrap_or_else(|e| panic!("{e}"));
    server::start(config, opts).await.unwrap()
}

pub async fn proxy(up: SocketAddr, consent_extra: &str) -> Running {
    proxy_with(&config_text(up, consent_extra), server::Options::default()).await
}

pub type Client = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    TestBody,
>;

pub fn client() -> Client {
    hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build_http()
}

/// A GET through the proxy with optional Cookie header.
pub async fn get(
    c: &Client,
    proxy: SocketAddr,
    path: &str,
    cookie: Option<&str>,
) -> Response<Incoming> {
    let mut b = Request::get(format!("http://{proxy}{path}"));
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    c.request(b.body(full("")).unwrap()).await.unwrap()
}

pub async fn body_bytes(r: Response<Incoming>) -> Bytes {
    r.into_body().collect().await.unwrap().to_bytes()
}

pub fn set_cookies<B>(r: &Response<B>) -> Vec<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// GET on the admin listener.
pub async fn admin_get(c: &Client, admin: SocketAddr, path: &str) -> (u16, String) {
    let r = c
        .request(
            Request::get(format!("http://{admin}{path}"))
                .body(full(""))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status().as_u16();
    (
        status,
        String::from_utf8(body_bytes(r).await.to_vec()).unwrap(),
    )
}

/// Everything the proxy answers on one raw connection until it closes (or 3 s pass).
pub async fn exchange(addr: SocketAddr, raw: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(raw).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(3), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// The status code of a raw HTTP/1.1 response.
pub fn status_of(resp: &str) -> &str {
    resp.get(9..12).unwrap_or("")
}

/// The value of one sample in Prometheus text, e.g. `metric{a="b"}`; 0 when absent.
pub fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| {
            l.strip_prefix(series)
                .and_then(|rest| rest.strip_prefix(' '))
        })
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

/// A 64-bit FNV-1a checksum, for comparing large bodies without keeping two copies.
#[derive(Clone, Copy)]
pub struct Fnv(pub u64);
impl Fnv {
    pub fn new() -> Fnv {
        Fnv(0xcbf29ce484222325)
    }
    pub fn update(&mut self, data: &[u8]) {
        for &b in data {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x100000001b3);
        }
    }
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
