//! Reads and writes bounded by a connection's [`Timer`], and the read buffer they fill.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::deadlines::Timer;

/// Why a wait ended without its bytes.
#[derive(Debug)]
pub enum Wait {
    Io(io::Error),
    /// The connection's deadline passed (or it was idle and the server drains).
    Due,
}

/// A read buffer: bytes `start..end` of `data` are unread. Its memory is kept between requests.
pub struct Buf {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl Buf {
    pub fn new(prefix: Vec<u8>, capacity: usize) -> Buf {
        let end = prefix.len();
        let mut data = prefix;
        data.resize(capacity.max(end), 0);
        Buf {
            data,
            start: 0,
            end,
        }
    }

    /// The unread bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// The bytes the buffer can hold before it grows (0: nothing allocated yet).
    pub fn capacity(&self) -> usize {
        self.data.len()
    }

    /// Marks `n` bytes read.
    pub fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The unread bytes, taking them out (the buffer's memory goes with them).
    pub fn take(self) -> Vec<u8> {
        let mut data = self.data;
        data.truncate(self.end);
        data.drain(..self.start);
        data
    }

    /// Room for at least `want` more bytes at the end: unread bytes move to the front, and the
    /// buffer grows only when they fill it.
    fn room(&mut self, want: usize) {
        if self.data.len() - self.end >= want {
            return;
        }
        if self.start > 0 {
            self.data.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.data.len() - self.end < want {
            let grow = (self.data.len()).max(want);
            self.data.resize(self.data.len() + grow, 0);
        }
    }

    /// Reads once from `io` (at least 1 byte unless the peer closed: `Ok(0)`).
    pub async fn read_from<S: AsyncRead + Unpin>(
        &mut self,
        io: &mut S,
        timer: &Timer,
    ) -> Result<usize, Wait> {
        self.room(4096);
        poll_fn(|cx| {
            let mut rb = ReadBuf::new(&mut self.data[self.end..]);
            match Pin::new(&mut *io).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    self.end += n;
                    Poll::Ready(Ok(n))
                }
                Poll::Ready(Err(e)) => Poll::Ready(Err(Wait::Io(e))),
                Poll::Pending => {
                    if timer.poll_due(cx) {
                        Poll::Ready(Err(Wait::Due))
                    } else {
                        Poll::Pending
                    }
                }
            }
        })
        .await
    }
}

/// Writes all of `data` to `io`, flushing it.
pub async fn write_all<S: AsyncWrite + Unpin>(
    io: &mut S,
    mut data: &[u8],
    timer: &Timer,
) -> Result<(), Wait> {
    poll_fn(|cx| {
        while !data.is_empty() {
            match Pin::new(&mut *io).poll_write(cx, data) {
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Err(Wait::Io(io::ErrorKind::WriteZero.into())))
                }
                Poll::Ready(Ok(n)) => data = &data[n..],
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Wait::Io(e))),
                Poll::Pending => {
                    return if timer.poll_due(cx) {
                        Poll::Ready(Err(Wait::Due))
                    } else {
                        Poll::Pending
                    }
                }
            }
        }
        match Pin::new(&mut *io).poll_flush(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(Wait::Io(e))),
            Poll::Pending => {
                if timer.poll_due(cx) {
                    Poll::Ready(Err(Wait::Due))
                } else {
                    Poll::Pending
                }
            }
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_buffer_compacts_before_it_grows() {
        let mut b = Buf::new(b"abcdef".to_vec(), 8);
        b.consume(4);
        assert_eq!(b.bytes(), b"ef");
        b.room(6);
        assert_eq!(b.bytes(), b"ef");
        assert_eq!(b.data.len(), 8);
        b.room(100);
        assert!(b.data.len() >= 102);
        assert_eq!(b.bytes(), b"ef");
        b.consume(2);
        assert!(b.is_empty());
        assert_eq!(Buf::new(b"xyz".to_vec(), 16).take(), b"xyz");
    }
}
