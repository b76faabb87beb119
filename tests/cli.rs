//! The `consentry` binary: check, explain, import-ocd, and run with signals and file reloads.

mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::process::consentry;
use common::*;
use http::Response;

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("consentry-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn example() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("config/consentry.toml")
        .display()
        .to_string()
}

#[test]
fn check_summarises_and_rejects() {
    let (code, out, _) = consentry(&["check", "--config", &example()]);
    assert_eq!(code, 0);
    assert!(out.contains(": OK"), "{out}");
    assert!(out.contains("essential"), "{out}");
    assert!(out.contains("warnings: none"), "{out}");

    let d = tmpdir("check");
    let bad = d.join("bad.toml");
    std::fs::write(&bad, "[listen]\nhttp = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:1\"\n[consent]\ngpc = [\"nope\"]\n[categories.a]\ncookies = [\"x\"]\n").unwrap();
    let (code, _, err) = consentry(&["check", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.toml: consent.gpc: unknown category \"nope\""),
        "{err}"
    );
    let (code, _, err) = consentry(&["run", "--config", bad.to_str().unwrap()]);
    assert_eq!(code, 1, "run must not start on a bad file");
    assert!(err.contains("consent.gpc"), "{err}");
}

#[test]
fn explain_json_has_the_contract_shape() {
    let (code, out, _) = consentry(&[
        "explain",
        "--config",
        &example(),
        "--cookie",
        "session=abc; consentry=functional; _ga=GA1.2",
        "--host",
        "www.example.com",
        "--set-cookie",
        "_ga=GA1.2.3.4; Path=/",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["consent"]["source"], "consentry");
    assert_eq!(v["consent"]["state"], "partial");
    assert_eq!(v["consent"]["gpc"], false);
    assert_eq!(
        v["consent"]["allowed"],
        serde_json::json!(["essential", "functional"])
    );
    assert_eq!(
        v["set_cookie"][0],
        serde_json::json!({"line": "_ga=GA1.2.3.4; Path=/", "name": "_ga", "category": "analytics", "rule": "_ga", "action": "block"})
    );
    assert_eq!(
        v["deletions"][1],
        "_ga=; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Path=/; Domain=example.com"
    );
    assert_eq!(v["request_cookie"], "session=abc; consentry=functional");
    let (code, out, _) = consentry(&[
        "explain",
        "--config",
        &example(),
        "--gpc",
        "--set-cookie",
        "_fbp=1",
    ]);
    assert_eq!(code, 0);
    assert!(out.contains("Sec-GPC: 1") && out.contains("block"), "{out}");
}

#[test]
fn import_ocd_output_is_accepted_by_check() {
    let csv = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/open-cookie-database.csv");
    assert!(
        csv.exists(),
        "the pinned Open Cookie Database copy is missing at {}",
        csv.display()
    );
    let d = tmpdir("ocd");
    let out = d.join("ocd.toml");
    let (code, _, err) = consentry(&[
        "import-ocd",
        csv.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("patterns from"), "{err}");
    let main = d.join("main.toml");
    std::fs::write(
        &main,
        "include = [\"ocd.toml\"]\n[listen]\nhttp = \"127.0.0.1:8080\"\n[upstream]\nurl = \"http://127.0.0.1:3000\"\n\
         [categories.essential]\nrequired = true\n[categories.functional]\n[categories.analytics]\n[categories.advertising]\n",
    )
    .unwrap();
    let (code, out, err) = consentry(&["check", "--config", main.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("advertising") && out.contains("rules"),
        "{out}"
    );
    let (_, out, _) = consentry(&[
        "explain",
        "--config",
        main.to_str().unwrap(),
        "--set-cookie",
        "_ga=1",
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["set_cookie"][0]["category"], "analytics");
}

fn run_config(up: SocketAddr, extra_essential: &str) -> String {
    config_text(up, "")
        .replace("response_timeout = \"1s\"", "response_timeout = \"5s\"")
        .replace(
            "cookies = [\"_zendesk_session\", \"__cf_bm\"]",
            &format!("cookies = [\"_zendesk_session\", \"__cf_bm\"{extra_essential}]"),
        )
}

async fn reloads(c: &Client, admin: SocketAddr, result: &str) -> f64 {
    let (_, m) = admin_get(c, admin, "/metrics").await;
    metric(
        &m,
        &format!("consentry_config_reloads_total{{result=\"{result}\"}}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reloads_on_sighup_and_file_change_and_drains_on_sigterm() {
    let up = upstream(|req| async move {
        if req.uri().path() == "/slow" {
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        Response::builder()
            .header("set-cookie", "_ga=GA1.1")
            .header("set-cookie", "_zendesk_session=s")
            .body(full("ok"))
            .unwrap()
    })
    .await;
    let d = tmpdir("run");
    let cfg = d.join("consentry.toml");
    std::fs::write(&cfg, run_config(up, "")).unwrap();
    let p = common::process::Proc::start(&cfg);
    let c = client();
    assert_eq!(
        set_cookies(&get(&c, p.http, "/", None).await),
        vec!["_zendesk_session=s"]
    );

    // SIGHUP reloads even when nothing changed.
    p.signal("-HUP");
    p.wait_log("configuration reloaded");
    assert_eq!(reloads(&c, p.admin, "ok").await, 1.0);

    // A request in flight across a reload finishes on the configuration it started with.
    let slow = tokio::spawn({
        let c = c.clone();
        let addr = p.http;
        async move { set_cookies(&get(&c, addr, "/slow", None).await) }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A file change reloads without a signal: `_ga` becomes essential.
    std::fs::write(
        &cfg,
        run_config(up, "")
            .replace(
                "cookies = [\"_ga\", \"_ga_*\", \"_gid\"]",
                "cookies = [\"_ga_*\", \"_gid\"]",
            )
            .replace("\"__cf_bm\"]", "\"__cf_bm\", \"_ga\"]"),
    )
    .unwrap();
    p.wait_log("configuration reloaded");
    assert_eq!(
        set_cookies(&get(&c, p.http, "/", None).await),
        vec!["_ga=GA1.1", "_zendesk_session=s"]
    );
    assert_eq!(
        slow.await.unwrap(),
        vec!["_zendesk_session=s"],
        "the in-flight request switched configuration"
    );
    assert_eq!(reloads(&c, p.admin, "ok").await, 2.0);

    // A bad file is logged and counted; the old rules stay.
    std::fs::write(&cfg, "[listen]\nhttp = 1\n").unwrap();
    p.wait_log("configuration reload failed");
    assert_eq!(reloads(&c, p.admin, "error").await, 1.0);
    assert_eq!(
        set_cookies(&get(&c, p.http, "/", None).await),
        vec!["_ga=GA1.1", "_zendesk_session=s"]
    );

    // SIGTERM drains a slow in-flight request, then the process exits 0.
    let slow = tokio::spawn({
        let c = c.clone();
        let addr = p.http;
        async move { get(&c, addr, "/slow", None).await.status() }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    p.signal("-TERM");
    assert_eq!(slow.await.unwrap(), 200);
    let mut p = p;
    let started = Instant::now();
    let status = loop {
        if let Some(s) = p.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the process did not exit after draining"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status:?}");
}
