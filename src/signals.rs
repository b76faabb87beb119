//! Process signals: SIGTERM and SIGINT drain and exit; SIGHUP reloads the configuration.

use std::path::PathBuf;
use std::sync::Arc;

use crate::config::Config;
use crate::proxy::Shared;
use crate::server::Running;

/// Spawns the signal handlers for a running proxy.
pub fn install(running: &Running, path: PathBuf) {
    use tokio::signal::unix::{signal, SignalKind};
    let token = running.shutdown_token();
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            tracing::error!("cannot install SIGTERM/SIGINT handlers");
            return;
        };
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM: draining"),
            _ = int.recv() => tracing::info!("SIGINT: draining"),
        }
        token.cancel();
    });
    let shared: Arc<Shared> = running.shared.clone();
    let handle = ReloadHandle { shared, path };
    tokio::spawn(async move {
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::error!("cannot install the SIGHUP handler");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            handle.reload();
        }
    });
}

/// What a reload needs, without borrowing the [`Running`] handle.
pub struct ReloadHandle {
    pub shared: Arc<Shared>,
    pub path: PathBuf,
}

impl ReloadHandle {
    pub fn reload(&self) -> bool {
        let result = Config::load(&self.path)
            .map_err(|e| e.to_string())
            .and_then(|c| crate::server::swap(&self.shared, c));
        let ok = match result {
            Ok(()) => {
                tracing::info!(path = %self.path.display(), "configuration reloaded");
                true
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed; keeping the old one");
                false
            }
        };
        self.shared.metrics.reload(ok);
        ok
    }
}
