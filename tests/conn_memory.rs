//! A keep-alive connection on the own HTTP/1.1 path keeps its buffers between requests: once the
//! first exchange has sized them, later requests allocate no buffer again (an upstream read
//! buffer allocated and zeroed per request cost a third of the instructions of a proxied request).
//!
//! Its own test binary, so that the allocator's counter sees no other test's work.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use common::*;

/// Counts allocations of at least [`LARGE`] bytes, from every thread.
struct CountingLarge;

const LARGE: usize = 4096;
static LARGE_ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for CountingLarge {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            LARGE_ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            LARGE_ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= LARGE {
            LARGE_ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingLarge = CountingLarge;

const ANSWER: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: _ga=GA1.1.1; Path=/\r\n\r\nok";

/// An upstream that answers every request head with [`ANSWER`], reading into a stack buffer.
async fn upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let mut held = 0;
                loop {
                    match s.read(&mut buf[held..]).await {
                        Ok(n) if n > 0 => held += n,
                        _ => return,
                    }
                    while let Some(end) = buf[..held].windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.copy_within(end + 4..held, 0);
                        held -= end + 4;
                        if s.write_all(ANSWER).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

/// One request on `s`, reading the answer into a stack buffer until its body `ok` arrived.
async fn one(s: &mut TcpStream) {
    s.write_all(b"GET / HTTP/1.1\r\nHost: shop\r\nCookie: consentry=none; _ga=1\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 2048];
    let mut held = 0;
    while !buf[..held].ends_with(b"\r\n\r\nok") {
        let n = s.read(&mut buf[held..]).await.unwrap();
        assert!(n > 0, "the proxy closed the connection");
        held += n;
    }
    assert!(buf.starts_with(b"HTTP/1.1 200 OK\r\n"));
}

#[tokio::test]
async fn keep_alive_requests_allocate_no_buffer_again() {
    let up = upstream().await;
    // One worker: the connection's buffers are the ones measured.
    let config = fast_config(up).replace("workers = 2", "workers = 1");
    assert!(config.contains("workers = 1"));
    let p = proxy_with(&config, Default::default()).await;
    let mut s = TcpStream::connect(p.http.unwrap()).await.unwrap();
    for _ in 0..5 {
        one(&mut s).await;
    }
    let before = LARGE_ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..100 {
        one(&mut s).await;
    }
    let large = LARGE_ALLOCATIONS.load(Ordering::SeqCst) - before;
    assert_eq!(
        large, 0,
        "100 requests on a warm connection allocated {large} blocks of {LARGE} bytes or more"
    );
    drop(s);
    p.drain().await;
}
