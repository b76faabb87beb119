//! Thread per core: `server.workers` threads, each running a single-threaded runtime with its own
//! listening socket per proxy listener (`SO_REUSEPORT`), so the kernel spreads connections over
//! the workers and a connection lives on the worker that accepted it, with no shared accept queue
//! and no task moving between threads.
//!
//! Worker 0 is the runtime that started the proxy (it also runs the admin listener, signals and
//! reloads); workers 1.. are threads started here. With one worker nothing is started and the
//! listener is an ordinary socket, as a single-process server's.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::runtime::Handle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::clock;

/// The accept backlog of each listening socket (tokio's default).
const BACKLOG: i32 = 1024;

thread_local! {
    static WORKER: Cell<usize> = const { Cell::new(0) };
}

/// The index of the worker this thread runs (0 outside the worker threads).
pub fn current() -> usize {
    WORKER.with(Cell::get)
}

/// A single-threaded runtime whose thread keeps a coarse clock ([`clock`]).
pub fn runtime() -> io::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_current_thread();
    clock::install(&mut b).enable_all().build()
}

/// The worker threads beyond worker 0.
pub struct Workers {
    count: usize,
    handles: Vec<Handle>,
    /// Ends the threads (their runtimes drop whatever tasks are left).
    exit: CancellationToken,
}

impl Workers {
    /// Starts `count - 1` worker threads.
    pub fn start(count: usize) -> io::Result<Workers> {
        let exit = CancellationToken::new();
        let mut handles = Vec::new();
        for id in 1..count.max(1) {
            let rt = runtime()?;
            handles.push(rt.handle().clone());
            let exit = exit.clone();
            std::thread::Builder::new()
                .name(format!("consentry-w{id}"))
                .spawn(move || {
                    WORKER.with(|w| w.set(id));
                    clock::tick();
                    rt.block_on(async move {
                        tokio::spawn(clock::run(exit.clone()));
                        exit.cancelled().await;
                    });
                })?;
        }
        Ok(Workers {
            count: count.max(1),
            handles,
            exit,
        })
    }

    /// How many workers serve (worker 0 included).
    pub fn count(&self) -> usize {
        self.count
    }

    /// Runs `make(worker)`'s future on each worker as a task of `tracker`; worker 0's on the
    /// current runtime.
    pub fn spawn_each<F, Fut>(&self, tracker: &TaskTracker, mut make: F)
    where
        F: FnMut(usize) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        tracker.spawn(make(0));
        for (i, h) in self.handles.iter().enumerate() {
            tracker.spawn_on(make(i + 1), h);
        }
    }

    /// Ends the worker threads.
    pub fn stop(&self) {
        self.exit.cancel();
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.exit.cancel();
    }
}

/// One listening socket, non-blocking, for a tokio listener; with `reuse_port`, one of a group
/// bound to the same address.
fn listen(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

/// `count` listening sockets on `addr`, one per worker: with several, each has `SO_REUSEPORT`
/// and the kernel balances new connections between them. A `:0` port is chosen by the first
/// bind and shared by the others.
pub fn bind_group(addr: SocketAddr, count: usize) -> io::Result<Vec<std::net::TcpListener>> {
    let reuse = count > 1;
    let first = listen(addr, reuse)?;
    let local = first.local_addr()?;
    let mut group = vec![first];
    for _ in 1..count {
        group.push(listen(local, true)?);
    }
    Ok(group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_shares_one_port_and_a_single_socket_does_not() {
        let group = bind_group("127.0.0.1:0".parse().unwrap(), 3).unwrap();
        let port = group[0].local_addr().unwrap().port();
        assert!(group.iter().all(|l| l.local_addr().unwrap().port() == port));
        // A lone listener keeps the usual rule: its address cannot be bound twice.
        let single = bind_group("127.0.0.1:0".parse().unwrap(), 1).unwrap();
        assert!(bind_group(single[0].local_addr().unwrap(), 1).is_err());
        assert!(bind_group(single[0].local_addr().unwrap(), 2).is_err());
    }

    #[test]
    fn worker_threads_know_their_index() {
        let rt = runtime().unwrap();
        rt.block_on(async {
            let workers = Workers::start(3).unwrap();
            assert_eq!(workers.count(), 3);
            let tracker = TaskTracker::new();
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            workers.spawn_each(&tracker, |i| {
                let tx = tx.clone();
                async move {
                    let coarse = i == 0 || clock::is_coarse();
                    tx.send((i, current(), coarse)).unwrap();
                }
            });
            drop(tx);
            let mut seen = Vec::new();
            while let Some(x) = rx.recv().await {
                seen.push(x);
            }
            seen.sort();
            assert_eq!(seen, [(0, 0, true), (1, 1, true), (2, 2, true)]);
            tracker.close();
            tracker.wait().await;
            workers.stop();
        });
    }
}
