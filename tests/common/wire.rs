//! HTTP/1.1 on raw sockets, read strictly: requests as an origin receives them (to record
//! exactly what reached it) and responses as a client receives them (to tell a complete response
//! from a truncated one). Only CRLF line ends, one framing per message, `chunked` as the only
//! transfer coding: whatever a proxy forwards must pass this reader.
#![allow(dead_code)]

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt};

/// Longest head or chunk line read.
const MAX_HEAD: usize = 256 * 1024;

/// A message read whole.
#[derive(Clone, Debug, Default)]
pub struct Message {
    /// The method (requests) or the status code (responses).
    pub method_or_status: String,
    /// The request target (requests) or the reason phrase (responses).
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl Message {
    /// Every value of header `name`.
    pub fn all(&self, name: &str) -> Vec<&[u8]> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .collect()
    }

    /// The first value of header `name`, as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.all(name)
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    pub fn status(&self) -> u16 {
        self.method_or_status.parse().unwrap_or(0)
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What one read of a message gave.
#[derive(Debug)]
pub enum Read {
    Message(Message),
    /// The peer closed before the first byte of a message.
    Closed,
    /// The peer closed in the middle of a message: the bytes do not make a whole one.
    Truncated(String),
    /// The bytes break HTTP/1.1 framing or syntax (what a proxy must never forward).
    Invalid(String),
    /// Nothing more within the time allowed, in the middle of a message or not.
    Timeout {
        started: bool,
    },
}

/// One side of a connection, with the bytes read past the last message.
pub struct Conn<S> {
    pub stream: S,
    buf: Vec<u8>,
}

enum Step<T> {
    Got(T),
    Eof,
    Timeout,
}

impl<S: AsyncRead + Unpin> Conn<S> {
    pub fn new(stream: S) -> Conn<S> {
        Conn {
            stream,
            buf: Vec::new(),
        }
    }

    /// Bytes read past the last message.
    pub fn pending(&self) -> &[u8] {
        &self.buf
    }

    async fn fill(&mut self, wait: Duration) -> Step<()> {
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout(wait, self.stream.read(&mut chunk)).await {
            Err(_) => Step::Timeout,
            Ok(Ok(0)) | Ok(Err(_)) => Step::Eof,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Step::Got(())
            }
        }
    }

    /// Reads up to the next CRLF-terminated line (returned without it), or the head's end.
    async fn line(&mut self, wait: Duration, started: bool) -> Result<Vec<u8>, Read> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                if i == 0 || self.buf[i - 1] != b'\r' {
                    return Err(Read::Invalid("a line ends in a bare LF".into()));
                }
                let line: Vec<u8> = self.buf.drain(..=i).take(i - 1).collect();
                if line.contains(&b'\r') {
                    return Err(Read::Invalid("a bare CR inside a line".into()));
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Read::Invalid("a line longer than 256 KiB".into()));
            }
            match self.fill(wait).await {
                Step::Got(()) => {}
                Step::Eof => return Err(Read::Truncated("closed in a line".into())),
                Step::Timeout => return Err(Read::Timeout { started }),
            }
        }
    }

    async fn exact(&mut self, n: usize, wait: Duration) -> Result<Vec<u8>, Read> {
        while self.buf.len() < n {
            match self.fill(wait).await {
                Step::Got(()) => {}
                Step::Eof => {
                    return Err(Read::Truncated(format!(
                        "closed after {} of {n} body bytes",
                        self.buf.len()
                    )))
                }
                Step::Timeout => return Err(Read::Timeout { started: true }),
            }
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// A head: the start line and the fields, each line ending in CRLF, no obs-fold.
    async fn head(&mut self, wait: Duration) -> Result<(String, String, String, Message), Read> {
        // Wait for the first byte, so that a clean close is told from a truncated message.
        while self.buf.is_empty() {
            match self.fill(wait).await {
                Step::Got(()) => {}
                Step::Eof => return Err(Read::Closed),
                Step::Timeout => return Err(Read::Timeout { started: false }),
            }
        }
        let start = self.line(wait, true).await?;
        let start = String::from_utf8(start).map_err(|_| Read::Invalid("start line".into()))?;
        let mut parts = start.splitn(3, ' ');
        let (a, b, c) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        let mut msg = Message::default();
        loop {
            let line = self.line(wait, true).await?;
            if line.is_empty() {
                break;
            }
            if line[0] == b' ' || line[0] == b'\t' {
                return Err(Read::Invalid("obs-fold".into()));
            }
            let colon = line
                .iter()
                .position(|&b| b == b':')
                .ok_or_else(|| Read::Invalid("a field line without a colon".into()))?;
            let name = &line[..colon];
            if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
                return Err(Read::Invalid(format!(
                    "field name {:?}",
                    String::from_utf8_lossy(name)
                )));
            }
            let value = line[colon + 1..].trim_ascii();
            if value
                .iter()
                .any(|&b| b == 0 || b == 0x7f || (b < 0x20 && b != b'\t'))
            {
                return Err(Read::Invalid("a control byte in a field value".into()));
            }
            msg.headers.push((
                String::from_utf8_lossy(name).to_ascii_lowercase(),
                value.to_vec(),
            ));
        }
        Ok((a, b, c, msg))
    }

    /// The body by its framing: `None` framing means no body.
    async fn body(&mut self, msg: &Message, wait: Duration) -> Result<Vec<u8>, Read> {
        let te = msg.all("transfer-encoding");
        let cl = msg.all("content-length");
        if !te.is_empty() && !cl.is_empty() {
            return Err(Read::Invalid(
                "both Transfer-Encoding and Content-Length".into(),
            ));
        }
        if cl.len() > 1 {
            return Err(Read::Invalid("more than one Content-Length".into()));
        }
        if !te.is_empty() {
            if te.len() > 1 || !te[0].eq_ignore_ascii_case(b"chunked") {
                return Err(Read::Invalid(format!(
                    "Transfer-Encoding {:?}",
                    te.iter()
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .collect::<Vec<_>>()
                )));
            }
            return self.chunked(wait).await;
        }
        match cl.first() {
            None => Ok(Vec::new()),
            Some(v) => {
                let n = std::str::from_utf8(v)
                    .ok()
                    .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
                    .and_then(|t| t.parse::<usize>().ok())
                    .ok_or_else(|| Read::Invalid("Content-Length".into()))?;
                self.exact(n, wait).await
            }
        }
    }

    async fn chunked(&mut self, wait: Duration) -> Result<Vec<u8>, Read> {
        let mut body = Vec::new();
        loop {
            let line = self.line(wait, true).await?;
            let size = line.split(|&b| b == b';').next().unwrap_or(b"");
            if size.is_empty() || size.len() > 15 || !size.iter().all(u8::is_ascii_hexdigit) {
                return Err(Read::Invalid(format!(
                    "chunk size {:?}",
                    String::from_utf8_lossy(&line)
                )));
            }
            let n = usize::from_str_radix(std::str::from_utf8(size).unwrap(), 16).unwrap();
            if n == 0 {
                // Trailers up to the empty line.
                while !self.line(wait, true).await?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.exact(n, wait).await?);
            if !self.line(wait, true).await?.is_empty() {
                return Err(Read::Invalid("no CRLF after chunk data".into()));
            }
        }
    }

    /// The next request, waiting at most `wait` for each read.
    pub async fn read_request(&mut self, wait: Duration) -> Read {
        let (method, target, version, mut msg) = match self.head(wait).await {
            Ok(h) => h,
            Err(r) => return r,
        };
        if version != "HTTP/1.1" {
            return Read::Invalid(format!("request version {version:?}"));
        }
        msg.method_or_status = method;
        msg.target = target;
        match self.body(&msg, wait).await {
            Ok(body) => {
                msg.body = body;
                Read::Message(msg)
            }
            Err(r) => r,
        }
    }

    /// The next final response (interim 1xx responses are skipped) to a request with `method`.
    /// A body framed by the connection's end is read to the end.
    pub async fn read_response(&mut self, method: &str, wait: Duration) -> Read {
        loop {
            let (version, status, reason, mut msg) = match self.head(wait).await {
                Ok(h) => h,
                Err(r) => return r,
            };
            if !version.starts_with("HTTP/1.") {
                return Read::Invalid(format!("response version {version:?}"));
            }
            msg.method_or_status = status;
            msg.target = reason;
            let code = msg.status();
            if (100..200).contains(&code) && code != 101 {
                continue;
            }
            if method == "HEAD" || code == 204 || code == 304 || code == 101 {
                return Read::Message(msg);
            }
            if msg.all("transfer-encoding").is_empty() && msg.all("content-length").is_empty() {
                // Delimited by the close.
                loop {
                    match self.fill(wait).await {
                        Step::Got(()) => {}
                        Step::Eof => break,
                        Step::Timeout => return Read::Timeout { started: true },
                    }
                }
                msg.body = std::mem::take(&mut self.buf);
                return Read::Message(msg);
            }
            return match self.body(&msg, wait).await {
                Ok(body) => {
                    msg.body = body;
                    Read::Message(msg)
                }
                Err(r) => r,
            };
        }
    }

    /// Whether the peer closes within `wait` with no further byte (extra bytes are returned).
    pub async fn closes_within(&mut self, wait: Duration) -> Result<bool, Vec<u8>> {
        if !self.buf.is_empty() {
            return Err(std::mem::take(&mut self.buf));
        }
        match self.fill(wait).await {
            Step::Eof => Ok(true),
            Step::Timeout => Ok(false),
            Step::Got(()) => Err(std::mem::take(&mut self.buf)),
        }
    }
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}
