//! Request framing as the client sent it, read alongside hyper on HTTP/1.1 connections.
//!
//! hyper's parser accepts a request carrying both `Transfer-Encoding` and `Content-Length`: it
//! drops `Content-Length`, reads the chunked body and closes the connection afterwards. Such a
//! request is the classic smuggling probe, and nginx and Envoy answer it 400. hyper hands over
//! no trace of the dropped header, so this watcher follows the byte stream the way a server
//! does (heads with `httparse`, then the body by its framing) and remembers which request of
//! the connection was ambiguous. The proxy answers that request 400 and closes.
//!
//! The watcher never decides anything else: on whatever it does not follow (a parse error, a
//! protocol switch, an oversized head) it stops watching, and hyper's own answer stands.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Headers a watched head may have (more: stop watching; hyper has its own limit).
const MAX_HEADERS: usize = 128;
/// Longest chunk-size or trailer line followed.
const MAX_LINE: usize = 4096;

#[derive(Debug, PartialEq, Eq)]
enum State {
    /// Reading a request head.
    Head,
    /// Skipping a body of known length.
    Fixed(u64),
    /// Reading a chunk-size line.
    ChunkSize,
    /// Skipping chunk data, then its CRLF.
    ChunkData(u64),
    ChunkEnd,
    /// Reading trailer lines up to the empty one.
    Trailers,
    /// Not following any more.
    Off,
}

/// Follows the requests of one connection.
#[derive(Debug)]
pub struct Watcher {
    state: State,
    buf: Vec<u8>,
    max_head: usize,
    /// Heads read so far.
    heads: u64,
    /// Index + 1 of the first request with both lengths (0: none).
    ambiguous: Arc<AtomicU64>,
}

impl Watcher {
    pub fn new(max_head: usize) -> Watcher {
        Watcher {
            state: State::Head,
            buf: Vec::new(),
            max_head,
            heads: 0,
            ambiguous: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A watcher that follows nothing (HTTP/2 connections).
    pub fn disabled() -> Watcher {
        let mut w = Watcher::new(0);
        w.state = State::Off;
        w
    }

    /// What the service asks: was request `index` (0-based) of the connection ambiguous?
    pub fn verdicts(&self) -> Verdicts {
        Verdicts(self.ambiguous.clone())
    }

    /// Follows the next bytes the client sent.
    pub fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            match self.state {
                State::Off => return,
                State::Head => {
                    // The usual case: a whole head in one read, followed from the read itself.
                    if self.buf.is_empty() {
                        if let Some(end) = find(bytes, b"\r\n\r\n").map(|i| i + 4) {
                            self.head(&bytes[..end]);
                            bytes = &bytes[end..];
                            continue;
                        }
                    }
                    let from = self.buf.len().saturating_sub(3);
                    self.buf.extend_from_slice(bytes);
                    let Some(end) = find(&self.buf[from..], b"\r\n\r\n").map(|i| from + i + 4)
                    else {
                        if self.buf.len() > self.max_head {
                            self.off();
                        }
                        return;
                    };
                    let rest_from = end - (self.buf.len() - bytes.len());
                    let mut head = std::mem::take(&mut self.buf);
                    self.head(&head[..end]);
                    bytes = &bytes[rest_from.min(bytes.len())..];
                    if self.state != State::Off {
                        head.clear();
                        self.buf = head;
                    }
                }
                State::Fixed(n) => {
                    let take = (bytes.len() as u64).min(n);
                    bytes = &bytes[take as usize..];
                    self.state = if n == take {
                        State::Head
                    } else {
                        State::Fixed(n - take)
                    };
                }
                State::ChunkData(n) => {
                    let take = (bytes.len() as u64).min(n);
                    bytes = &bytes[take as usize..];
                    self.state = if n == take {
                        State::ChunkEnd
                    } else {
                        State::ChunkData(n - take)
                    };
                }
                State::ChunkSize | State::ChunkEnd | State::Trailers => {
                    let Some(i) = memchr::memchr(b'\n', bytes) else {
                        self.buf.extend_from_slice(bytes);
                        if self.buf.len() > MAX_LINE {
                            self.off();
                        }
                        return;
                    };
                    if self.buf.is_empty() {
                        self.line(&bytes[..=i]);
                    } else {
                        self.buf.extend_from_slice(&bytes[..=i]);
                        let mut line = std::mem::take(&mut self.buf);
                        self.line(&line);
                        line.clear();
                        self.buf = line;
                    }
                    bytes = &bytes[i + 1..];
                }
            }
        }
    }

    fn off(&mut self) {
        self.state = State::Off;
        self.buf = Vec::new();
    }

    /// A complete request head (ending with the empty line).
    fn head(&mut self, head: &[u8]) {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            _ => return self.off(),
        }
        let index = self.heads;
        self.heads += 1;
        if req.method == Some("CONNECT") {
            return self.off();
        }
        let mut te: Option<&[u8]> = None;
        let mut cl: Option<u64> = None;
        let mut cl_seen = false;
        let mut upgrade = false;
        for h in req.headers.iter() {
            if h.name.eq_ignore_ascii_case("transfer-encoding") {
                te = Some(h.value);
            } else if h.name.eq_ignore_ascii_case("content-length") {
                let v = parse_length(h.value);
                if cl_seen && v != cl {
                    return self.off();
                }
                cl_seen = true;
                cl = v;
            } else if h.name.eq_ignore_ascii_case("upgrade") {
                upgrade = true;
            }
        }
        if te.is_some() && cl_seen {
            // The connection ends with this request: nothing after it is read.
            self.ambiguous.store(index + 1, Ordering::Relaxed);
            return self.off();
        }
        if upgrade {
            // Possibly a tunnel after this request: its bytes are not HTTP.
            return self.off();
        }
        self.state = match (te, cl_seen, cl) {
            (Some(te), _, _) if last_coding_is_chunked(te) => State::ChunkSize,
            (Some(_), _, _) => State::Off,
            (None, false, _) | (None, true, Some(0)) => State::Head,
            (None, true, Some(n)) => State::Fixed(n),
            (None, true, None) => State::Off,
        };
    }

    /// A chunk-size line, the CRLF after chunk data, or a trailer line (each ending in LF).
    fn line(&mut self, line: &[u8]) {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        self.state = match self.state {
            State::ChunkSize => {
                let size = text
                    .split(|&b| b == b';')
                    .next()
                    .unwrap_or(b"")
                    .trim_ascii();
                match parse_hex(size) {
                    Some(0) => State::Trailers,
                    Some(n) => State::ChunkData(n),
                    None => State::Off,
                }
            }
            State::ChunkEnd if text.is_empty() => State::ChunkSize,
            State::Trailers if text.is_empty() => State::Head,
            State::Trailers => State::Trailers,
            _ => State::Off,
        };
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn parse_length(v: &[u8]) -> Option<u64> {
    let v = v.trim_ascii();
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(v).ok()?.parse().ok()
}

fn parse_hex(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 15 || !v.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u64::from_str_radix(std::str::from_utf8(v).ok()?, 16).ok()
}

fn last_coding_is_chunked(te: &[u8]) -> bool {
    te.rsplit(|&b| b == b',')
        .next()
        .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"))
}

/// The watcher's findings, read by the service of the same connection.
#[derive(Clone)]
pub struct Verdicts(Arc<AtomicU64>);

impl Verdicts {
    /// Whether request `index` (0-based, in the order hyper dispatches them) had both
    /// `Transfer-Encoding` and `Content-Length`.
    pub fn ambiguous(&self, index: u64) -> bool {
        self.0.load(Ordering::Relaxed) == index + 1
    }
}

/// A client stream whose reads are followed by a [`Watcher`].
pub struct Watched<S> {
    inner: S,
    watcher: Watcher,
}

impl<S> Watched<S> {
    pub fn new(inner: S, watcher: Watcher) -> Watched<S> {
        Watched { inner, watcher }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if r.is_ready() && this.watcher.state != State::Off {
            this.watcher.feed(&buf.filled()[before..]);
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of every size from 1 up, and returns the ambiguous index.
    fn ambiguous_at(stream: &[u8]) -> Option<u64> {
        let mut found = None;
        for step in 1..=stream.len() {
            let mut w = Watcher::new(65536);
            for piece in stream.chunks(step) {
                w.feed(piece);
            }
            let v = w.ambiguous.load(Ordering::Relaxed).checked_sub(1);
            if step > 1 {
                assert_eq!(v, found, "split in pieces of {step}");
            }
            found = v;
        }
        found
    }

    #[test]
    fn both_lengths_are_found_in_any_request_of_the_connection() {
        assert_eq!(
            ambiguous_at(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            Some(0)
        );
        let stream: &[u8] = b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\n\
POST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
POST /3 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-T: 1\r\n\r\n\
POST /4 HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n";
        assert_eq!(ambiguous_at(stream), Some(3));
    }

    #[test]
    fn bodies_that_look_like_heads_are_skipped() {
        let body = b"GET /x HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut stream = format!(
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        stream.extend_from_slice(body);
        stream.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(ambiguous_at(&stream), None);
        let mut chunked =
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        chunked.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
        chunked.extend_from_slice(body);
        chunked.extend_from_slice(b"\r\n0\r\n\r\n");
        assert_eq!(ambiguous_at(&chunked), None);
    }

    #[test]
    fn what_it_does_not_follow_turns_it_off() {
        for stream in [
            &b"GARBAGE\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nPOST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(ambiguous_at(stream), None);
        }
        let mut w = Watcher::new(64);
        w.feed(&[b'a'; 100]);
        assert_eq!(w.state, State::Off);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_in_any_pieces_never_panic(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            step in 1usize..64,
        ) {
            let mut w = Watcher::new(256);
            for piece in data.chunks(step) {
                w.feed(piece);
            }
        }
    }
}
