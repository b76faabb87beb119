//! The one accept loop every listener runs (proxy, admin, demo site), and the HTTP/1.1 server
//! for the small local handlers (admin endpoints, demo site).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Pause after a failed accept (out of file descriptors and the like) instead of spinning.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Accepts connections until `stop`, each served by the future `serve` makes for it (`None`
/// drops the connection) as a task of `tracker`. With a `limit`, a connection takes a slot as it
/// is accepted and holds it for its life; while none is free it is not served, and further
/// connections queue in the kernel. (The slot is taken after the accept, not before: with one
/// listening socket per worker, a worker waiting for a connection must not hold a slot that a
/// connection on another worker's socket could use.)
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    limit: Option<Arc<Semaphore>>,
    stop: CancellationToken,
    tracker: TaskTracker,
    mut serve: F,
) where
    F: FnMut(TcpStream, SocketAddr) -> Option<Fut>,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let permit = match &limit {
            Some(l) => match l.clone().try_acquire_owned() {
                Ok(p) => Some(p),
                Err(_) => tokio::select! {
                    p = l.clone().acquire_owned() => match p { Ok(p) => Some(p), Err(_) => return },
                    _ = stop.cancelled() => return,
                },
            },
            None => None,
        };
        let _ = stream.set_nodelay(true);
        let Some(fut) = serve(stream, peer) else {
            continue;
        };
        tracker.spawn(async move {
            fut.await;
            drop(permit);
        });
    }
}

/// Serves one HTTP/1.1 connection with a local handler until it closes or, after `shutdown`,
/// until its current request is answered.
pub async fn serve_local<H>(
    stream: TcpStream,
    header_read_timeout: Duration,
    shutdown: CancellationToken,
    handler: H,
) where
    H: Fn(&Request<Incoming>) -> Response<Full<Bytes>> + Send + Sync + 'static,
{
    let handler = Arc::new(handler);
    let svc = service_fn(move |req: Request<Incoming>| {
        let r = handler(&req);
        async move { Ok::<_, Infallible>(r) }
    });
    let mut b = hyper::server::conn::http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let conn = b.serve_connection(TokioIo::new(stream), svc);
    tokio::pin!(conn);
    let r = tokio::select! {
        r = conn.as_mut() => r,
        _ = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = r {
        tracing::debug!(error = %e, "local connection ended with an error");
    }
}
