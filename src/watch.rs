//! Reload on file change: the configuration, its includes and its certificates are watched
//! (their directories, so editors that replace files and Kubernetes ConfigMap symlink swaps are
//! seen too). Changes are debounced and reloaded only when a watched file's content changed.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio_util::sync::CancellationToken;

use crate::server::Reloader;

/// How long the files must be quiet before a reload.
pub(crate) const DEBOUNCE: Duration = Duration::from_millis(300);

/// A fingerprint of the watched files' contents (missing files count as empty).
fn fingerprint(files: &[PathBuf]) -> u64 {
    let mut h = DefaultHasher::new();
    for f in files {
        f.hash(&mut h);
        std::fs::read(f).unwrap_or_default().hash(&mut h);
    }
    h.finish()
}

fn directories(files: &[PathBuf]) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = files
        .iter()
        .map(|f| {
            f.parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."))
                .to_path_buf()
        })
        .collect();
    dirs.sort();
    dirs.dedup();
    dirs
}

/// Watches until `stop`. Returns an error only when the watcher cannot start.
pub async fn run(reloader: Reloader, stop: CancellationToken) -> notify::Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
    let mut watcher: RecommendedWatcher =
        notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
            if res.is_ok() {
                let _ = tx.send(());
            }
        })?;
    let mut files = reloader.watched_files();
    let mut dirs = directories(&files);
    for d in &dirs {
        watcher.watch(d, RecursiveMode::NonRecursive)?;
    }
    let mut last = fingerprint(&files);
    loop {
        tokio::select! {
            ev = rx.recv() => if ev.is_none() { return Ok(()) },
            _ = stop.cancelled() => return Ok(()),
        }
        // Debounce: wait until no event arrived for DEBOUNCE.
        loop {
            tokio::select! {
                ev = rx.recv() => if ev.is_none() { return Ok(()) },
                _ = tokio::time::sleep(DEBOUNCE) => break,
                _ = stop.cancelled() => return Ok(()),
            }
        }
        let now = fingerprint(&files);
        if now == last {
            continue;
        }
        last = now;
        tracing::info!("configuration files changed: reloading");
        reloader.reload().await;
        // The new configuration may name other files.
        let new_files = reloader.watched_files();
        if new_files != files {
            let new_dirs = directories(&new_files);
            for d in dirs.iter().filter(|d| !new_dirs.contains(d)) {
                let _ = watcher.unwatch(d);
            }
            for d in new_dirs.iter().filter(|d| !dirs.contains(d)) {
                if let Err(e) = watcher.watch(d, RecursiveMode::NonRecursive) {
                    tracing::warn!(dir = %d.display(), error = %e, "cannot watch");
                }
            }
            files = new_files;
            dirs = new_dirs;
            last = fingerprint(&files);
        }
    }
}
