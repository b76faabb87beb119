//! Headless Chromium over WebDriver (chromedriver) for browser tests: finding the binaries (a
//! failure when they are missing and `CI` is set, a notice otherwise), a chromedriver in its own
//! process group that is killed with its browsers on drop, and page helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::{Client as Browser, ClientBuilder};
use http::Request;
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use super::{body_bytes, client, full};

/// How long one wait in the browser may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(15);

/// Finds an executable on `PATH`.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// chromium and chromedriver, or `None` (with a notice) when they are missing outside CI.
pub fn browser_binaries() -> Option<(PathBuf, PathBuf)> {
    let chromium = which("chromium").or_else(|| which("chromium-browser"));
    let driver = which("chromedriver");
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        (c, d) => {
            let missing: Vec<&str> = [(c.is_none(), "chromium"), (d.is_none(), "chromedriver")]
                .iter()
                .filter(|(m, _)| *m)
                .map(|(_, n)| *n)
                .collect();
            let msg = format!(
                "browser tests need {} on PATH (Debian packages: chromium, chromium-driver)",
                missing.join(" and ")
            );
            if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
                panic!("{msg}; CI is set, so this is a failure");
            }
            eprintln!("NOTICE: skipping the browser tests: {msg}");
            None
        }
    }
}

/// A running chromedriver in its own process group, with the browsers it starts. Dropping it
/// (also while a failing test unwinds) kills that group and removes the browser profiles.
pub struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
    profiles: Vec<PathBuf>,
}

impl Driver {
    pub async fn start(chromedriver: &Path, chromium: PathBuf) -> Driver {
        use std::os::unix::process::CommandExt;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", chromedriver.display()));
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
            chromium,
            profiles: Vec::new(),
        };
        let c = client();
        let status = format!("http://127.0.0.1:{port}/status");
        let deadline = Instant::now() + WAIT;
        loop {
            let req = Request::get(status.as_str()).body(full("")).unwrap();
            if let Ok(r) = c.request(req).await {
                let body: Value = serde_json::from_slice(&body_bytes(r).await).unwrap_or_default();
                if body["value"]["ready"] == json!(true) {
                    return driver;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer {status} within {WAIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A new headless browser session with a fresh profile and the extra command-line `args`.
    pub async fn browser(&mut self, args: &[String]) -> Browser {
        static N: AtomicUsize = AtomicUsize::new(0);
        let profile = std::env::temp_dir().join(format!(
            "consentry-chrome-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        self.profiles.push(profile.clone());
        let mut all = vec![
            "--headless=new".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--window-size=1280,1000".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        all.extend(args.iter().cloned());
        let caps = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {"binary": self.chromium, "args": all},
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("cannot start a browser session: {e}"))
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and any browser it left behind.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        for p in &self.profiles {
            let _ = std::fs::remove_dir_all(p);
        }
    }
}

/// Runs `script` (a function body) in the page and returns its value; panics on a script error.
pub async fn eval(b: &Browser, script: &str) -> Value {
    b.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
}

/// Runs `script` until it returns `true`; errors (a page being replaced) count as not yet.
pub async fn wait_until(b: &Browser, what: &str, script: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(Value::Bool(true)) = b.execute(script, vec![]).await {
            return;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The names of the cookies the browser holds for the current page (WebDriver's view of the
/// jar, HttpOnly cookies included), sorted.
pub async fn jar_names(b: &Browser) -> Vec<String> {
    let mut names: Vec<String> = b
        .get_all_cookies()
        .await
        .unwrap()
        .iter()
        .map(|c| c.name().to_string())
        .collect();
    names.sort();
    names
}
