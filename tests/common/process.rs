//! The `consentry` binary as a child process: one-shot commands, and `consentry run` with the
//! addresses it logged (JSON logs).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Runs `consentry ARGS` to its end with no standard input: (exit code, stdout, stderr).
pub fn consentry(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_consentry"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A running `consentry run` child, with the addresses it logged.
pub struct Proc {
    pub child: Child,
    pub http: SocketAddr,
    pub admin: SocketAddr,
    pub logs: mpsc::Receiver<String>,
}

impl Proc {
    /// Starts `consentry run` on the configuration file `config` (which gets `server.http1`
    /// from `CONSENTRY_TEST_HTTP1` first, see [`super::with_http1`]).
    pub fn start(config: &Path) -> Proc {
        Proc::start_logging(config, "info")
    }

    /// Starts with `RUST_LOG` set to `filter`.
    pub fn start_logging(config: &Path, filter: &str) -> Proc {
        if let Ok(text) = std::fs::read_to_string(config) {
            let wanted = super::with_http1(&text);
            if wanted != text {
                std::fs::write(config, wanted).unwrap();
            }
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_consentry"))
            .args([
                "run",
                "--config",
                config.to_str().unwrap(),
                "--log-format",
                "json",
            ])
            .env("RUST_LOG", filter)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut http, mut admin) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.is_none() || admin.is_none() {
            let line = rx
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the proxy did not start");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
            let addr = v["addr"].as_str().and_then(|a| a.parse().ok());
            match v["message"].as_str() {
                Some("proxy listening") => http = addr,
                Some("admin listening") => admin = addr,
                _ => {}
            }
        }
        Proc {
            child,
            http: http.unwrap(),
            admin: admin.unwrap(),
            logs: rx,
        }
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {sig} failed");
    }

    /// Waits for a log line containing `text`.
    pub fn wait_log(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let line = self
                .logs
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .unwrap_or_else(|_| panic!("no log line with {text:?}"));
            if line.contains(text) {
                return;
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
