//! Load and soak: many concurrent keep-alive connections, a bounded number of requests, a
//! configuration reload every second, zero errors and flat memory.
//!
//! The default (light) run holds 1,000 connections and sends 20,000 requests. The heavy run —
//! 10,000 connections and 1,000,000 requests — is enabled with `CONSENTRY_HEAVY=1` (release mode
//! recommended: `CONSENTRY_HEAVY=1 cargo test --release --test load -- --nocapture`).
//! The proxy runs as its own process (the real binary), so its memory is measured alone.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")
                .map(|v| v.trim().trim_end_matches(" kB").trim().parse().unwrap_or(0))
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_connections_many_requests_reloads_and_flat_memory() {
    let heavy = std::env::var("CONSENTRY_HEAVY").is_ok_and(|v| v == "1");
    let (conns, total, active) = if heavy {
        (10_000usize, 1_000_000usize, 256usize)
    } else {
        (1_000, 20_000, 64)
    };

    let up = upstream(|_req| async {
        Response::builder()
            .header("set-cookie", "_zendesk_session=s; Path=/")
            .header("set-cookie", "_ga=GA1.1; Path=/")
            .header("set-cookie", "_fbp=fb.1; Path=/")
            .body(full("ok"))
            .unwrap()
    })
    .await;
    let dir = std::env::temp_dir().join(format!("consentry-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("consentry.toml");
    let text = config_text(up, "")
        .replace("response_timeout = \"1s\"", "response_timeout = \"10s\"")
        .replace(
            "header_read_timeout = \"2s\"",
            &format!(
                "header_read_timeout = \"60s\"\nidle_timeout = \"120s\"\nmax_connections = {}",
                conns + 100
            ),
        );
    std::fs::write(&cfg, &text).unwrap();
    let proc = common::process::Proc::start(&cfg);
    let pid = proc.child.id();
    let (addr, admin) = (proc.http, proc.admin);

    // Open every connection first and keep them all alive.
    let mut senders = Vec::with_capacity(conns);
    for _ in 0..conns {
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (send, conn) = hyper::client::conn::http1::handshake::<_, TestBody>(TokioIo::new(tcp))
            .await
            .unwrap();
        tokio::spawn(conn);
        senders.push(send);
    }
    let rss_start = rss_kib(pid);

    // A reload every second for the whole run.
    let stop_reloads = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reloader = {
        let stop = stop_reloads.clone();
        let cfg = cfg.clone();
        let text = text.clone();
        tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(1)).await;
                n += 1;
                std::fs::write(&cfg, format!("# reload {n}\n{text}")).unwrap();
            }
            n
        })
    };

    let sent = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let permits = Arc::new(tokio::sync::Semaphore::new(active));
    let rss_mid = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(conns);
    for mut send in senders {
        let (sent, errors, permits, rss_mid) = (
            sent.clone(),
            errors.clone(),
            permits.clone(),
            rss_mid.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let _permit = permits.acquire().await.unwrap();
                let i = sent.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    return;
                }
                if i == total / 2 {
                    rss_mid.store(rss_kib(pid) as usize, Ordering::Relaxed);
                }
                if send.ready().await.is_err() {
                    errors.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let req = Request::get("/")
                    .header("host", "shop.test")
                    .header("cookie", "consentry=analytics")
                    .body(full(""))
                    .unwrap();
                match send.send_request(req).await {
                    Ok(r)
                        if r.status() == 200
                            && r.headers().get_all("set-cookie").iter().count() == 2 =>
                    {
                        if r.into_body().collect().await.is_err() {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    stop_reloads.store(true, Ordering::Relaxed);
    let reloads_written = reloader.await.unwrap();
    let rss_end = rss_kib(pid);
    let rss_mid = rss_mid.load(Ordering::Relaxed) as u64;

    let (_, m) = admin_get(&client(), admin, "/metrics").await;
    let ok_reloads = metric(&m, r#"consentry_config_reloads_total{result="ok"}"#);
    let err_reloads = metric(&m, r#"consentry_config_reloads_total{result="error"}"#);
    println!(
        "load: {conns} connections, {total} requests in {elapsed:.1?} ({:.0} req/s), errors {}, reloads {ok_reloads} ok / {err_reloads} error ({reloads_written} written), proxy RSS {rss_start} KiB with connections open, {rss_mid} KiB at 50%, {rss_end} KiB at the end",
        total as f64 / elapsed.as_secs_f64(),
        errors.load(Ordering::Relaxed),
    );
    drop(proc);
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(
        errors.load(Ordering::Relaxed),
        0,
        "failed requests under load"
    );
    assert_eq!(err_reloads, 0.0);
    assert!(
        ok_reloads >= 1.0 && reloads_written >= 1,
        "no reload happened during the load"
    );
    // Flat memory: from half way to the end, growth stays small. The first half warms the
    // buffers of connections used in rotation (in the heavy run, RSS rises over the first
    // ~700,000 requests, then stays within a few MiB through 2,500,000).
    assert!(
        rss_end <= rss_mid + 16 * 1024,
        "RSS grew from {rss_mid} KiB to {rss_end} KiB"
    );
}
