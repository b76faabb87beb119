//! Listeners and the process lifecycle: bind, accept within the connection limit, serve, and
//! drain on shutdown.

pub mod accept;
pub mod clock;
pub mod conn;
pub mod framing;
pub mod idle;
pub mod rewind;
pub mod tls;
pub mod workers;

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
    /// The addresses bound at start (useful with port 0).
    pub http: Option<SocketAddr>,
    pub https: Option<SocketAddr>,
    pub admin: Option<SocketAddr>,
    pub shared: Arc<Shared>,
    inner: Arc<Inner>,
}

/// What the lifecycle and reloads share.
struct Inner {
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    admin_shutdown: CancellationToken,
    tracker: TaskTracker,
    admin_tracker: TaskTracker,
    limit: Arc<Semaphore>,
    listeners: tokio::sync::Mutex<Vec<Bound>>,
    /// The worker threads: each proxy listener has a socket and an accept loop on every worker.
    workers: workers::Workers,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Role {
    Http,
    Https,
    Admin,
}

impl Role {
    fn key(self) -> &'static str {
        match self {
            Role::Http => "listen.http",
            Role::Https => "listen.https",
            Role::Admin => "admin.listen",
        }
    }

    fn wanted(self, c: &Config) -> Option<SocketAddr> {
        match self {
            Role::Http => c.listen.http,
            Role::Https => c.listen.https,
            Role::Admin => c.admin.listen,
        }
    }
}

/// One listening socket and the token that stops its accept loop.
struct Bound {
    role: Role,
    configured: SocketAddr,
    local: SocketAddr,
    stop: CancellationToken,
}

/// Binds a listener, naming the config key in the error.
async fn bind(addr: SocketAddr, key: &str) -> io::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| io::Error::new(e.kind(), format!("{key} {addr}: cannot listen: {e}")))
}

impl Inner {
    /// Binds `addr` for `role` and starts its accept loop (for a proxy listener, one per worker).
    async fn open(&self, role: Role, addr: SocketAddr) -> io::Result<Bound> {
        if role != Role::Admin {
            return self.open_proxy(role, addr);
        }
        let l = bind(addr, role.key()).await?;
        let local = l.local_addr()?;
        let stop = self.admin_shutdown.child_token();
        tracing::info!(addr = %local, "admin listening");
        self.admin_tracker.spawn(admin::serve(
            l,
            self.shared.clone(),
            stop.clone(),
            self.admin_tracker.clone(),
        ));
        Ok(Bound {
            role,
            configured: addr,
            local,
            stop,
        })
    }

    /// Binds a proxy listener's sockets, one per worker, and starts an accept loop on each.
    fn open_proxy(&self, role: Role, addr: SocketAddr) -> io::Result<Bound> {
        let group = workers::bind_group(addr, self.workers.count()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("{} {addr}: cannot listen: {e}", role.key()),
            )
        })?;
        let local = group[0].local_addr()?;
        let stop = self.shutdown.child_token();
        tracing::info!(
            addr = %local,
            tls = role == Role::Https,
            workers = group.len(),
            "proxy listening"
        );
        let mut group = group.into_iter().map(Some).collect::<Vec<_>>();
        self.workers.spawn_each(&self.tracker, |worker| {
            proxy_listener(
                group[worker].take().expect("one socket per worker"),
                role == Role::Https,
                self.shared.clone(),
                self.limit.clone(),
                stop.clone(),
                self.shutdown.clone(),
                self.tracker.clone(),
            )
        });
        Ok(Bound {
            role,
            configured: addr,
            local,
            stop,
        })
    }

    /// Makes the listeners match `config`: unchanged addresses keep their sockets, changed ones
    /// are bound anew (the old socket stops accepting; its connections finish), removed ones close.
    async fn rebind(&self, config: &Config) -> Result<(), String> {
        let mut listeners = self.listeners.lock().await;
        let mut errors = Vec::new();
        for role in [Role::Http, Role::Https, Role::Admin] {
            let wanted = role.wanted(config);
            let current = listeners.iter().position(|b| b.role == role);
            match (current, wanted) {
                // Unchanged (or now naming the port a `:0` listener got): keep the socket.
                (Some(i), Some(addr))
                    if listeners[i].configured == addr || listeners[i].local == addr =>
                {
                    listeners[i].configured = addr;
                }
                (current, Some(addr)) => match self.open(role, addr).await {
                    Ok(b) => {
                        if let Some(i) = current {
                            listeners.remove(i).stop.cancel();
                        }
                        listeners.push(b);
                    }
                    Err(e) => errors.push(e.to_string()),
                },
                (Some(i), None) => {
                    tracing::info!(
                        key = role.key(),
                        "listener removed by the new configuration"
                    );
                    listeners.remove(i).stop.cancel();
                }
                (None, None) => {}
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

/// The TLS acceptor of `[tls]`, certificates loaded.
fn acceptor(config: &Config) -> io::Result<Option<tokio_rustls::TlsAcceptor>> {
    config
        .tls
        .as_ref()
        .map(tls::acceptor)
        .transpose()
        .map_err(io::Error::other)
}

/// Binds every configured listener and starts serving.
///
/// The calling runtime is worker 0; `server.workers - 1` more worker threads start here.
pub async fn start(config: Config, opts: Options) -> io::Result<Running> {
    let workers = workers::Workers::start(config.server.workers)?;
    let metrics = Arc::new(Metrics::new());
    let config = Arc::new(config);
    let runtime = Runtime::new(config.clone(), &metrics, None, acceptor(&config)?)
        .map_err(io::Error::other)?;
    let shared = Arc::new(Shared::new(runtime, metrics, opts.debug_headers));
    let inner = Arc::new(Inner {
        shared: shared.clone(),
        shutdown: CancellationToken::new(),
        admin_shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
        admin_tracker: TaskTracker::new(),
        limit: Arc::new(Semaphore::new(config.server.max_connections)),
        listeners: tokio::sync::Mutex::new(Vec::new()),
        workers,
    });
    let mut bound = Vec::new();
    for role in [Role::Http, Role::Https, Role::Admin] {
        if let Some(addr) = role.wanted(&config) {
            bound.push(inner.open(role, addr).await?);
        }
    }
    let local = |r: Role| bound.iter().find(|b| b.role == r).map(|b| b.local);
    let running = Running {
        http: local(Role::Http),
        https: local(Role::Https),
        admin: local(Role::Admin),
        shared,
        inner: inner.clone(),
    };
    *inner.listeners.lock().await = bound;
    for w in &config.warnings {
        tracing::warn!("{w}");
    }
    Ok(running)
}

/// A worker's accept loop on its socket of a proxy listener: each connection within
/// `max_connections` (counted over all workers), served on this worker as cleartext (HTTP/1.1
/// or h2c, sniffed) or TLS.
async fn proxy_listener(
    listener: std::net::TcpListener,
    tls: bool,
    shared: Arc<Shared>,
    limit: Arc<Semaphore>,
    stop: CancellationToken,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    // Registered with this worker's runtime: its connections are served here.
    let listener = match TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "cannot register a listening socket");
            return;
        }
    };
    let worker = workers::current();
    accept::accept_loop(listener, Some(limit), stop, tracker, |stream, peer| {
        tracing::debug!(worker, %peer, "connection accepted");
        let rt = shared.current.load();
        let limits = rt.config.server.clone();
        let acceptor = if tls {
            // The configuration lost its [tls] table: nothing to serve TLS with.
            Some(rt.tls.as_ref()?.clone())
        } else {
            None
        };
        let (shared, shutdown) = (shared.clone(), shutdown.clone());
        Some(async move {
            match acceptor {
                Some(a) => conn::serve_tls(stream, a, peer, shared, limits, shutdown).await,
                None => conn::serve_plain(stream, peer, shared, limits, shutdown).await,
            }
        })
    })
    .await
}

impl Running {
    /// A token that starts the drain when cancelled (signal handlers hold one).
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// What reloads the configuration of this proxy from `path`.
    pub fn reloader(&self, path: std::path::PathBuf) -> Reloader {
        Reloader {
            inner: self.inner.clone(),
            path,
        }
    }

    /// Waits for the shutdown token, then drains: `/readyz` turns 503, listeners close, in-flight
    /// requests get `shutdown_grace` to finish. Returns whether everything finished in time.
    pub async fn run_until_shutdown(self) -> bool {
        self.inner.shutdown.cancelled().await;
        self.drain().await
    }

    /// Drains now (see [`Running::run_until_shutdown`]).
    pub async fn drain(self) -> bool {
        let inner = &self.inner;
        let grace = inner.shared.current.load().config.server.shutdown_grace;
        inner.shared.draining.store(true, Ordering::Relaxed);
        inner.shutdown.cancel();
        inner.tracker.close();
        let clean = tokio::time::timeout(grace, inner.tracker.wait())
            .await
            .is_ok();
        if clean {
            tracing::info!("drained: every in-flight request finished");
        } else {
            tracing::warn!(grace = ?grace, "shutdown grace elapsed with requests still in flight");
        }
        inner.admin_shutdown.cancel();
        inner.admin_tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(1), inner.admin_tracker.wait()).await;
        inner.workers.stop();
        clean
    }

    /// Swaps in a new configuration for new requests (in-flight ones finish on the old one) and
    /// re-binds listeners whose address changed.
    pub async fn reload(&self, config: Config) -> Result<(), String> {
        reload_into(&self.inner, config).await
    }
}

async fn reload_into(inner: &Inner, config: Config) -> Result<(), String> {
    let previous = inner.shared.current.load_full();
    let tls = acceptor(&config).map_err(|e| e.to_string())?;
    let runtime = Runtime::new(
        Arc::new(config),
        &inner.shared.metrics,
        Some(&previous),
        tls,
    )?;
    drop(previous);
    for w in &runtime.config.warnings {
        tracing::warn!("{w}");
    }
    if runtime.config.server.workers != inner.workers.count() {
        tracing::warn!(
            running = inner.workers.count(),
            configured = runtime.config.server.workers,
            "server.workers takes effect at the next start"
        );
    }
    let runtime = Arc::new(runtime);
    inner.shared.current.store(runtime.clone());
    inner.rebind(&runtime.config).await
}

/// Reloads a running proxy's configuration file. A bad file keeps the old configuration.
#[derive(Clone)]
pub struct Reloader {
    inner: Arc<Inner>,
    pub path: std::path::PathBuf,
}

impl Reloader {
    /// Loads the file and swaps it in; logs and counts the result.
    pub async fn reload(&self) -> bool {
        let result = match Config::load(&self.path) {
            Ok(c) => reload_into(&self.inner, c).await,
            Err(e) => Err(e.to_string()),
        };
        // Counted before it is logged, so whoever reads the log line sees the counter moved.
        self.inner.shared.metrics.reload(result.is_ok());
        match result {
            Ok(()) => {
                tracing::info!(path = %self.path.display(), "configuration reloaded");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed; keeping the previous configuration");
                false
            }
        }
    }

    /// The files whose change should trigger a reload: the configuration and what it names.
    pub fn watched_files(&self) -> Vec<std::path::PathBuf> {
        let rt = self.inner.shared.current.load();
        let c = &rt.config;
        let mut files = vec![self.path.clone()];
        files.extend(c.includes.iter().cloned());
        if let Some(t) = &c.tls {
            files.push(t.cert.clone());
            files.push(t.key.clone());
            for s in &t.sni {
                files.push(s.cert.clone());
                files.push(s.key.clone());
            }
        }
        files
    }
}
