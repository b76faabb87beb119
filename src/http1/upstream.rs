//! Upstream connections of the own HTTP/1.1 path: opened by the client connection that needs
//! one, used inside its task, and kept per thread in a stack of idle connections (the most
//! recently used first) that only that thread's connections and sweeper touch.
//!
//! A connection goes back only after an exchange that ended cleanly: the response body read
//! exactly to its framing end, no byte after it, no `Connection: close`. The sweeper closes
//! connections idle longer than `upstream.pool_idle_timeout`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use super::deadlines;
use crate::config::Upstream as UpstreamConfig;
use crate::proxy::error::ProxyError;

/// Idle connections one thread keeps at most; beyond, the oldest is closed.
const MAX_IDLE: usize = 256;
const TCP_KEEPALIVE: Duration = Duration::from_secs(30);

/// A cleartext upstream, as the own path reaches it.
#[derive(Debug)]
pub struct Upstream {
    host: String,
    port: u16,
    /// Tells this upstream's idle connections from another's (after a reload).
    key: u64,
    /// `Host` for requests that carry none.
    pub authority: String,
    connect_timeout: Duration,
    idle_timeout: Duration,
    pub response_timeout: Duration,
    pub read_timeout: Duration,
}

impl Upstream {
    /// The own path's view of an `http://` upstream; `None` for `https://` (served by hyper).
    pub fn new(up: &UpstreamConfig) -> Option<Upstream> {
        if up.https {
            return None;
        }
        let host = up
            .authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let port = up.authority.port_u16().unwrap_or(80);
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&host, port).hash(&mut h);
            h.finish()
        };
        Some(Upstream {
            key,
            host,
            port,
            authority: up.authority.as_str().to_string(),
            connect_timeout: up.connect_timeout,
            idle_timeout: up.pool_idle_timeout,
            response_timeout: up.response_timeout,
            read_timeout: up.read_timeout,
        })
    }

    fn addr(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The most recently used idle connection to this upstream that is still fresh and, as far
    /// as can be told without waiting, open. The bool says it was reused.
    pub fn checkout(&self) -> Option<TcpStream> {
        let local = deadlines::local();
        let mut idle = local.idle.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        while let Some(i) = idle.conns.iter().rposition(|c| c.key == self.key) {
            let c = idle.conns.remove(i).expect("the index was just found");
            let age = now.saturating_duration_since(c.since);
            if age >= self.idle_timeout {
                continue;
            }
            // A close (or stray bytes) the upstream sent while the connection was idle: cheap to
            // tell, as the runtime records readiness (no system call unless it saw the socket
            // readable), and it spares a request that cannot be sent again (a POST) the race.
            if !looks_open(&c.io) {
                continue;
            }
            return Some(c.io);
        }
        None
    }

    /// Puts a connection whose exchange ended cleanly back.
    pub fn put(&self, io: TcpStream) {
        let local = deadlines::local();
        {
            let mut idle = local.idle.lock().unwrap_or_else(|p| p.into_inner());
            if idle.conns.len() >= MAX_IDLE {
                idle.conns.pop_front();
            }
            idle.conns.push_back(Idle {
                key: self.key,
                io,
                since: Instant::now(),
                expires: Instant::now() + self.idle_timeout,
            });
        }
        local.ensure_sweeper();
    }

    /// Opens a new connection within `connect_timeout`.
    pub async fn connect(&self) -> Result<TcpStream, ProxyError> {
        let connect = TcpStream::connect((self.host.as_str(), self.port));
        let stream = match tokio::time::timeout(self.connect_timeout, connect).await {
            Err(_) => return Err(ProxyError::ConnectTimeout),
            Ok(Err(e)) => {
                return Err(ProxyError::Connect {
                    addr: self.addr(),
                    source: Box::new(e),
                })
            }
            Ok(Ok(s)) => s,
        };
        let _ = stream.set_nodelay(true);
        let _ = socket2::SockRef::from(&stream)
            .set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(TCP_KEEPALIVE));
        Ok(stream)
    }
}

/// Whether an idle connection shows no sign of the upstream having closed it (or sent
/// anything, which would make it unusable too).
fn looks_open(io: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    matches!(io.try_read(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

struct Idle {
    key: u64,
    io: TcpStream,
    since: Instant,
    expires: Instant,
}

/// One thread's idle upstream connections, oldest first.
#[derive(Default)]
pub struct IdleStack {
    conns: VecDeque<Idle>,
}

impl IdleStack {
    /// Closes the connections idle past their upstream's `pool_idle_timeout`.
    pub fn prune(&mut self, now: Instant) {
        self.conns.retain(|c| c.expires > now);
    }

    pub fn is_empty(&self) -> bool {
        self.conns.is_empty()
    }

    /// Lets the connections go without closing them through the runtime (at thread exit; the
    /// operating system closes them with the process).
    pub fn leak(self) {
        for c in self.conns {
            std::mem::forget(c.io);
        }
    }
}
