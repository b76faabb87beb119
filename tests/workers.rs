//! Thread per core, seen from outside: `consentry run` with `workers = 2` accepts connections on
//! both worker threads (each worker logs the connections it accepts, at debug level), keeps doing
//! so after a reload, and holds `max_connections` over both workers together.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::process::Proc;
use common::*;
use http::Response;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

/// The accept log line's target.
const DEBUG_ACCEPTS: &str = "info,consentry::server=debug";

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("consentry-workers-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The workers named by the "connection accepted" lines logged so far.
fn accepting_workers(p: &Proc) -> Vec<u64> {
    let mut workers = Vec::new();
    while let Ok(line) = p.logs.recv_timeout(Duration::from_millis(200)) {
        let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if v["message"] == "connection accepted" {
            workers.push(v["worker"].as_u64().expect("the line names its worker"));
        }
    }
    workers
}

/// One request on a connection of its own; the response's status.
async fn one_request(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out))
        .await
        .expect("no response within 10 s")
        .unwrap();
    status_of(&String::from_utf8_lossy(&out)).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_workers_accept_connections_before_and_after_a_reload() {
    let up = upstream(|_| async { Response::new(full("ok")) }).await;
    let d = tmpdir("accept");
    let cfg = d.join("consentry.toml");
    let text = config_text(up, "");
    assert!(text.contains("workers = 2"));
    std::fs::write(&cfg, &text).unwrap();
    let p = Proc::start_logging(&cfg, DEBUG_ACCEPTS);
    // The kernel spreads connections over the workers' sockets by a hash of their addresses:
    // 32 connections all landing on one of two workers would happen once in 2^31 runs.
    for _ in 0..32 {
        assert_eq!(one_request(p.http, "/").await, "200");
    }
    let seen = accepting_workers(&p);
    assert_eq!(seen.len(), 32, "one accept line per connection");
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&0, &1])
    );

    // A reload keeps the listener (same address) and every worker's socket of it.
    std::fs::write(&cfg, format!("{text}\n# touched\n")).unwrap();
    p.signal("-HUP");
    p.wait_log("configuration reloaded");
    for _ in 0..32 {
        assert_eq!(one_request(p.http, "/").await, "200");
    }
    let seen = accepting_workers(&p);
    assert_eq!(seen.len(), 32);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&0, &1])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_connections_holds_across_workers() {
    // Requests to /hold wait at a gate; the upstream records how many wait at once.
    let gate = Arc::new(Semaphore::new(0));
    let (inflight, most) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let up = upstream({
        let (gate, inflight, most) = (gate.clone(), inflight.clone(), most.clone());
        move |_| {
            let (gate, inflight, most) = (gate.clone(), inflight.clone(), most.clone());
            async move {
                let n = inflight.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(n, Ordering::SeqCst);
                gate.acquire().await.unwrap().forget();
                inflight.fetch_sub(1, Ordering::SeqCst);
                Response::new(full("ok"))
            }
        }
    })
    .await;
    let d = tmpdir("limit");
    let cfg = d.join("consentry.toml");
    let text = config_text(up, "")
        .replace("workers = 2", "workers = 2\nmax_connections = 3")
        .replace("response_timeout = \"1s\"", "response_timeout = \"20s\"");
    std::fs::write(&cfg, &text).unwrap();
    let p = Proc::start_logging(&cfg, DEBUG_ACCEPTS);

    const CLIENTS: usize = 16;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| tokio::spawn(one_request(p.http, "/hold")))
        .collect();
    // Three connections are served; the others wait (accepted or queued), none refused.
    let started = Instant::now();
    while inflight.load(Ordering::SeqCst) < 3 && started.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inflight.load(Ordering::SeqCst), 3);
    assert!(clients.iter().all(|c| !c.is_finished()));

    // Opening the gate lets every client through, never more than three at once.
    gate.add_permits(CLIENTS);
    for c in clients {
        assert_eq!(c.await.unwrap(), "200");
    }
    assert_eq!(
        most.load(Ordering::SeqCst),
        3,
        "served beyond max_connections"
    );
    // Both workers served some of them (the bound is over the two together).
    let seen = accepting_workers(&p);
    assert_eq!(seen.len(), CLIENTS);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([&0, &1])
    );
}
