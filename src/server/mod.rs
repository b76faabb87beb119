//! Listeners and the process lifecycle: bind, accept within the connection limit, serve, and
//! drain on shutdown.

pub mod conn;
pub mod rewind;
pub mod tls;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::proxy::{Runtime, Shared};

/// How a process runs beyond its configuration.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Add the demo's `X-Consentry-Blocked` / `X-Consentry-Deleted` response headers.
    pub debug_headers: bool,
}

/// A started proxy.
pub struct Running {
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub shared: Arc<Shared>,
    shutdown: CancellationToken,
    admin_shutdown: CancellationToken,
    tracker: TaskTracker,
    admin_tracker: TaskTracker,
}

/// Binds a listener, naming the config key in the error.
async fn bind(addr: SocketAddr, key: &str) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("{key} {addr}: cannot listen: {e}")))
}

/// Binds every configured listener and starts serving.
pub async fn start(config: Config, opts: Options) -> io::Result<Running> {
    let metrics = Arc::new(Metrics::new());
    let config = Arc::new(config);
    let runtime = Runtime::new(config.clone(), &metrics).map_err(io::Error::other)?;
    let shared = Arc::new(Shared::new(runtime, metrics, opts.debug_headers));
    let shutdown = CancellationToken::new();
    let admin_shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let admin_tracker = TaskTracker::new();
    let limit = Arc::new(Semaphore::new(config.server.max_connections));

    let mut running = Running {
        http: None,
        https: None,
        admin: None,
        shared: shared.clone(),
        shutdown: shutdown.clone(),
        admin_shutdown: admin_shutdown.clone(),
        tracker: tracker.clone(),
        admin_tracker: admin_tracker.clone(),
    };
    if let Some(addr) = config.listen.http {
        let l = bind(addr, "listen.http").await?;
        running.http = Some(l.local_addr()?);
        tracing::info!(addr = %running.http.unwrap(), "proxy listening (http)");
        tracker.spawn(accept_loop(
            l,
            false,
            shared.clone(),
            limit.clone(),
            shutdown.clone(),
            tracker.clone(),
        ));
    }
    if let Some(addr) = config.listen.https {
        let l = bind(addr, "listen.https").await?;
        running.https = Some(l.local_addr()?);
        tracing::info!(addr = %running.https.unwrap(), "proxy listening (https)");
        tracker.spawn(accept_loop(
            l,
            true,
            shared.clone(),
            limit.clone(),
            shutdown.clone(),
            tracker.clone(),
        ));
    }
    if let Some(addr) = config.admin.listen {
        let l = bind(addr, "admin.listen").await?;
        running.admin = Some(l.local_addr()?);
        tracing::info!(addr = %running.admin.unwrap(), "admin listening");
        admin_tracker.spawn(admin::serve(
            l,
            shared.clone(),
            admin_shutdown.clone(),
            admin_tracker.clone(),
        ));
    }
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    Ok(running)
}

async fn accept_loop(
    listener: TcpListener,
    tls: bool,
    shared: Arc<Shared>,
    limit: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        // Beyond max_connections, wait for a slot before accepting: the kernel queues the rest.
        let permit = tokio::select! {
            p = limit.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = shutdown.cancelled() => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => return,
        };
        let _ = stream.set_nodelay(true);
        let rt = shared.current.load();
        let limits = rt.config.server.clone();
        let acceptor = if tls {
            match &rt.tls {
                Some(a) => Some(a.clone()),
                // The configuration lost its [tls] table: nothing to serve TLS with.
                None => continue,
            }
        } else {
            None
        };
        drop(rt);
        let (shared, shutdown) = (shared.clone(), shutdown.clone());
        tracker.spawn(async move {
            match acceptor {
                Some(a) => conn::serve_tls(stream, a, peer, shared, limits, shutdown).await,
                None => conn::serve_plain(stream, peer, shared, limits, shutdown).await,
            }
            drop(permit);
        });
    }
}

impl Running {
    /// A token that starts the drain when cancelled (signal handlers hold one).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits for the shutdown token, then drains: `/readyz` turns 503, listeners close, in-flight
    /// requests get `grace` to finish. Returns whether everything finished in time.
    pub async fn run_until_shutdown(self) -> bool {
        self.shutdown.cancelled().await;
        self.drain().await
    }

    /// Drains now (see [`Running::run_until_shutdown`]).
    pub async fn drain(self) -> bool {
        let grace = self.shared.current.load().config.server.shutdown_grace;
        self.shared.draining.store(true, Ordering::Relaxed);
        self.shutdown.cancel();
        self.tracker.close();
        let clean = tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok();
        if clean {
            tracing::info!("drained: every in-flight request finished");
        } else {
            tracing::warn!(grace = ?grace, "shutdown grace elapsed with requests still in flight");
        }
        self.admin_shutdown.cancel();
        self.admin_tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(1), self.admin_tracker.wait()).await;
        clean
    }

    /// Swaps in a new configuration for new requests; in-flight ones finish on the old one.
    pub fn reload(&self, config: Config) -> Result<(), String> {
        swap(&self.shared, config)
    }
}

/// Builds the runtime of a new configuration and swaps it in atomically.
pub fn swap(shared: &Shared, config: Config) -> Result<(), String> {
    let runtime = Runtime::new(Arc::new(config), &shared.metrics)?;
    for w in &runtime.config.warnings {
        tracing::warn!("{w}");
    }
    shared.current.store(Arc::new(runtime));
    Ok(())
}
