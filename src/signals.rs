//! Process signals: SIGTERM and SIGINT drain and exit; SIGHUP reloads the configuration.

use crate::server::{Reloader, Running};

/// Spawns the signal handlers for a running proxy.
pub fn install(running: &Running, reloader: Reloader) {
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
    tokio::spawn(async move {
        let Ok(mut hup) = signal(SignalKind::hangup()) else {
            tracing::error!("cannot install the SIGHUP handler");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the configuration");
            reloader.reload().await;
        }
    });
}
