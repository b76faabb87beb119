//! A small load generator for the measurements wrk cannot make:
//!
//! - `rate`: an open-loop fixed request rate over keep-alive HTTP/1.1 connections, with latency
//!   percentiles (the added latency of a proxy at moderate load);
//! - `tls`: full TLS handshakes per second (a new connection, no resumption, one request each);
//! - `h2`: HTTP/2 over TLS with many streams in flight on a few connections;
//! - `cert`: writes a self-signed certificate for the servers under test.
//!
//! It prints one line of `key=value` pairs that `benches/compare.sh` reads, e.g.
//! `mode=rate requests=20000 errors=0 seconds=10.00 rps=2000.0 p50_us=180 p90_us=230 p99_us=410 ...`.
//!
//! ```sh
//! cargo run --release --example loadgen -- rate http://127.0.0.1:8080/ --rate 2000
//! cargo run --release --example loadgen -- tls https://127.0.0.1:8443/ --concurrency 16
//! cargo run --release --example loadgen -- h2 https://127.0.0.1:8443/ --connections 2 --streams 50
//! ```
//!
//! It runs on one thread: pin it with `taskset` to a core the server under test does not use.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use bytes::Bytes;
use clap::{Parser, Subcommand};
use http::{HeaderName, HeaderValue, Request, Uri};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::net::TcpStream;
use tokio::time::Instant;

mod page_html;

#[derive(Parser)]
#[command(about = "Fixed-rate latency, TLS handshake rate and HTTP/2 throughput on loopback")]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// Target URL (http:// for `rate`, https:// for `tls` and `h2`)
    url: Uri,
    /// Seconds to measure (after a warm-up request per connection)
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Extra request header, `Name: value`; repeatable
    #[arg(long = "header", short = 'H')]
    headers: Vec<String>,
}

#[derive(Subcommand)]
enum Mode {
    /// Open loop: REQUESTS per second spread evenly over keep-alive HTTP/1.1 connections
    Rate {
        #[command(flatten)]
        common: Common,
        /// Requests per second in total
        #[arg(long)]
        rate: u32,
        /// Keep-alive connections the rate is spread over
        #[arg(long, default_value_t = 16)]
        connections: usize,
    },
    /// Closed loop: each worker opens a connection, does a full TLS handshake and one request
    Tls {
        #[command(flatten)]
        common: Common,
        /// Handshakes in flight
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Closed loop: HTTP/2 over TLS (ALPN h2), STREAMS requests in flight per connection
    H2 {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value_t = 2)]
        connections: usize,
        #[arg(long, default_value_t = 50)]
        streams: usize,
    },
    /// Writes cert.pem and key.pem (ECDSA P-256, self-signed, for localhost and 127.0.0.1)
    Cert { dir: PathBuf },
    /// Prints the page-guard benchmark page (the vendors' tags, padded to about BYTES)
    Page {
        #[arg(long, default_value_t = 50 * 1024)]
        bytes: usize,
    },
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = match cli.mode {
        Mode::Cert { dir } => return write_cert(&dir),
        Mode::Page { bytes } => {
            print!("{}", page_html::page(bytes));
            return Ok(());
        }
        Mode::Rate {
            common,
            rate,
            connections,
        } => rt.block_on(run_rate(Target::new(&common)?, rate, connections))?,
        Mode::Tls {
            common,
            concurrency,
        } => rt.block_on(run_tls(Target::new(&common)?, concurrency))?,
        Mode::H2 {
            common,
            connections,
            streams,
        } => rt.block_on(run_h2(Target::new(&common)?, connections, streams))?,
    };
    println!("{report}");
    Ok(())
}

/// Where to send what, parsed once.
#[derive(Clone)]
struct Target {
    addr: SocketAddr,
    host: String,
    uri: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    duration: Duration,
}

impl Target {
    fn new(c: &Common) -> Result<Target> {
        let authority = c.url.authority().context("the URL needs a host and port")?;
        let port = authority
            .port_u16()
            .unwrap_or(if c.url.scheme_str() == Some("https") {
                443
            } else {
                80
            });
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let addr: SocketAddr = match host {
            "localhost" => SocketAddr::from(([127, 0, 0, 1], port)),
            h => SocketAddr::new(
                h.parse().context("the URL's host must be an IP address")?,
                port,
            ),
        };
        let mut headers = Vec::new();
        for h in &c.headers {
            let (name, value) = h
                .split_once(':')
                .with_context(|| format!("header {h:?} is not `Name: value`"))?;
            headers.push((
                HeaderName::try_from(name.trim())?,
                HeaderValue::try_from(value.trim())?,
            ));
        }
        if !c.duration.is_finite() || c.duration <= 0.0 {
            bail!("--duration must be positive");
        }
        Ok(Target {
            addr,
            host: authority.as_str().to_string(),
            uri: c.url.path_and_query().map_or("/", |p| p.as_str()).parse()?,
            headers,
            duration: Duration::from_secs_f64(c.duration),
        })
    }

    /// The request: origin-form for HTTP/1.1, absolute-form (which carries :authority) for h2.
    fn request(&self, h2: bool, close: bool) -> Request<Empty<Bytes>> {
        let mut b = Request::get(if h2 {
            format!("https://{}{}", self.host, self.uri)
        } else {
            self.uri.to_string()
        });
        if !h2 {
            b = b.header(http::header::HOST, &self.host);
        }
        if close {
            b = b.header(http::header::CONNECTION, "close");
        }
        for (n, v) in &self.headers {
            b = b.header(n, v);
        }
        b.body(Empty::new()).expect("request parts were validated")
    }
}

/// Latencies in microseconds and the count of failed requests.
#[derive(Default)]
struct Samples {
    micros: Vec<u32>,
    errors: u64,
}

impl Samples {
    fn record(&mut self, d: Duration) {
        self.micros
            .push(u32::try_from(d.as_micros()).unwrap_or(u32::MAX));
    }

    fn merge(&mut self, other: Samples) {
        self.micros.extend(other.micros);
        self.errors += other.errors;
    }

    fn report(mut self, mode: &str, elapsed: Duration, extra: &str) -> String {
        self.micros.sort_unstable();
        let n = self.micros.len();
        let pct = |p: f64| -> u32 {
            if n == 0 {
                return 0;
            }
            let i = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            self.micros[i]
        };
        let secs = elapsed.as_secs_f64();
        format!(
            "mode={mode} requests={n} errors={} seconds={secs:.2} rps={:.1} p50_us={} p90_us={} \
             p99_us={} p999_us={} max_us={}{extra}",
            self.errors,
            n as f64 / secs,
            pct(0.50),
            pct(0.90),
            pct(0.99),
            pct(0.999),
            self.micros.last().copied().unwrap_or(0),
        )
    }
}

/// Sends one request and reads the whole body; an error or a non-2xx status is a failure.
async fn exchange<B>(
    send: &mut hyper::client::conn::http1::SendRequest<B>,
    req: Request<B>,
) -> Result<()>
where
    B: hyper::body::Body + 'static,
{
    finish(send.send_request(req).await?).await
}

/// Reads a response's whole body; a non-2xx status is a failure.
async fn finish(resp: http::Response<hyper::body::Incoming>) -> Result<()> {
    let status = resp.status();
    resp.into_body().collect().await?;
    if !status.is_success() {
        bail!("status {status}");
    }
    Ok(())
}

/// Closed loop: runs `one` back to back until `end`, timing each; stops at the first failure.
async fn closed_loop<F, Fut>(end: Instant, mut one: F) -> Samples
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<()>>,
{
    let mut s = Samples::default();
    while Instant::now() < end {
        let began = Instant::now();
        match one().await {
            Ok(()) => s.record(began.elapsed()),
            Err(_) => {
                s.errors += 1;
                break;
            }
        }
    }
    s
}

/// Waits for every task and merges their samples.
async fn gather(tasks: Vec<tokio::task::JoinHandle<Samples>>) -> Result<Samples> {
    let mut all = Samples::default();
    for task in tasks {
        all.merge(task.await?);
    }
    Ok(all)
}

async fn http1<I>(io: I) -> Result<hyper::client::conn::http1::SendRequest<Empty<Bytes>>>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io)).await?;
    tokio::spawn(conn);
    Ok(send)
}

/// Open loop: connection `i` of `n` sends at `start + i*interval/n + k*interval`. A request's
/// latency runs from its send, or from its scheduled time when the previous answer on the
/// connection came back after that time (so a stall is not hidden: no coordinated omission).
async fn run_rate(t: Target, rate: u32, connections: usize) -> Result<String> {
    if rate == 0 || connections == 0 {
        bail!("--rate and --connections must be positive");
    }
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        let tcp = TcpStream::connect(t.addr).await?;
        tcp.set_nodelay(true)?;
        let mut s = http1(tcp).await?;
        exchange(&mut s, t.request(false, false))
            .await
            .context("warm-up request")?;
        senders.push(s);
    }
    let interval = Duration::from_secs_f64(connections as f64 / f64::from(rate));
    let start = Instant::now() + Duration::from_millis(20);
    let end = start + t.duration;
    let mut tasks = Vec::with_capacity(connections);
    for (i, mut send) in senders.into_iter().enumerate() {
        let t = t.clone();
        let offset = interval.mul_f64(i as f64 / connections as f64);
        tasks.push(tokio::spawn(async move {
            let mut s = Samples::default();
            let mut prev_done = start;
            for k in 0u32.. {
                let due = start + offset + interval * k;
                if due >= end {
                    break;
                }
                tokio::time::sleep_until(due).await;
                let now = Instant::now();
                let from = if prev_done > due { due } else { now };
                match exchange(&mut send, t.request(false, false)).await {
                    Ok(()) => {
                        prev_done = Instant::now();
                        s.record(prev_done - from);
                    }
                    Err(_) => {
                        s.errors += 1;
                        break;
                    }
                }
            }
            s
        }));
    }
    let all = gather(tasks).await?;
    let elapsed = Instant::now().max(end) - start;
    Ok(all.report(
        "rate",
        elapsed,
        &format!(" target_rps={rate} connections={connections}"),
    ))
}

/// A TLS client for loopback benchmarks: it does the whole handshake, including checking the
/// server's signature, but accepts any certificate (the servers under test use a throwaway
/// self-signed one). Resumption is off so every connection is a full handshake.
fn tls_client(alpn: &[u8]) -> Arc<rustls::ClientConfig> {
    #[derive(Debug)]
    struct AnyCertificate(Arc<CryptoProvider>);
    impl ServerCertVerifier for AnyCertificate {
        fn verify_server_cert(
            &self,
            _: &CertificateDer<'_>,
            _: &[CertificateDer<'_>],
            _: &ServerName<'_>,
            _: &[u8],
            _: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(
                message,
                cert,
                dss,
                &self.0.signature_verification_algorithms,
            )
        }
        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut c = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    c.alpn_protocols = vec![alpn.to_vec()];
    c.resumption = rustls::client::Resumption::disabled();
    Arc::new(c)
}

async fn tls_connect(
    t: &Target,
    config: &Arc<rustls::ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(t.addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(t.host.split(':').next().unwrap_or("localhost").to_string())
        .unwrap_or_else(|_| ServerName::try_from("localhost").expect("valid name"));
    Ok(tokio_rustls::TlsConnector::from(config.clone())
        .connect(name, tcp)
        .await?)
}

async fn run_tls(t: Target, concurrency: usize) -> Result<String> {
    if concurrency == 0 {
        bail!("--concurrency must be positive");
    }
    let config = tls_client(b"http/1.1");
    let one = |t: Target, config: Arc<rustls::ClientConfig>| async move {
        let tls = tls_connect(&t, &config).await?;
        let mut send = http1(tls).await?;
        exchange(&mut send, t.request(false, true)).await
    };
    one(t.clone(), config.clone())
        .await
        .context("first TLS request")?;
    let start = Instant::now();
    let end = start + t.duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (t, config) = (t.clone(), config.clone());
        tasks.push(tokio::spawn(async move {
            closed_loop(end, || one(t.clone(), config.clone())).await
        }));
    }
    let all = gather(tasks).await?;
    Ok(all.report(
        "tls",
        start.elapsed(),
        &format!(" concurrency={concurrency}"),
    ))
}

async fn run_h2(t: Target, connections: usize, streams: usize) -> Result<String> {
    if connections == 0 || streams == 0 {
        bail!("--connections and --streams must be positive");
    }
    let config = tls_client(b"h2");
    let mut senders = Vec::with_capacity(connections);
    for _ in 0..connections {
        let tls = tls_connect(&t, &config).await?;
        if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
            bail!("the server did not choose h2 by ALPN");
        }
        let (mut send, conn) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls)).await?;
        tokio::spawn(conn);
        finish(send.send_request(t.request(true, false)).await?)
            .await
            .context("warm-up request")?;
        senders.push(send);
    }
    let start = Instant::now();
    let end = start + t.duration;
    let mut tasks = Vec::with_capacity(connections * streams);
    for send in &senders {
        for _ in 0..streams {
            let (t, mut send) = (t.clone(), send.clone());
            tasks.push(tokio::spawn(async move {
                closed_loop(end, || {
                    let sent = send.send_request(t.request(true, false));
                    async move { finish(sent.await?).await }
                })
                .await
            }));
        }
    }
    let all = gather(tasks).await?;
    Ok(all.report(
        "h2",
        start.elapsed(),
        &format!(" connections={connections} streams={streams}"),
    ))
}

fn write_cert(dir: &std::path::Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let key = rcgen::KeyPair::generate()?;
    let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])?;
    let cert = params.self_signed(&key)?;
    std::fs::write(dir.join("cert.pem"), cert.pem())?;
    std::fs::write(dir.join("key.pem"), key.serialize_pem())?;
    println!("wrote {}/cert.pem and key.pem", dir.display());
    Ok(())
}
