//! A strict decoder of the chunked transfer coding (RFC 9112 §7.1), fed the bytes as they
//! arrive: it hands out the chunk data (which the proxy frames again itself) and refuses what
//! a request smuggler plays with: a size that overflows or is not hex, a line not ended by
//! CRLF, bytes other than CRLF after the data, control bytes in extensions, an endless line.
//! Trailer fields are read and dropped.

/// Longest chunk-size line (with extensions) or trailer line, and all trailers together.
const MAX_LINE: usize = 4096;
const MAX_TRAILERS: usize = 16 * 1024;
/// Hex digits of a chunk size at most: 15 keep it below 2^60.
const MAX_SIZE_DIGITS: u32 = 15;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum State {
    /// The chunk size's digits.
    Size,
    /// Whitespace after the size, before `;` or CR.
    SizeSpace,
    /// An extension, up to CR.
    Ext,
    /// The LF of a chunk-size line.
    SizeLf,
    /// Chunk data still to come.
    Data,
    DataCr,
    DataLf,
    /// The start of a trailer line (or the CR of the final empty line).
    TrailerStart,
    /// A trailer field's name, up to its colon.
    TrailerName,
    /// A trailer field's value.
    Trailer,
    TrailerLf,
    /// The LF of the final empty line.
    EndLf,
    Done,
}

/// A framing error: the body, and the connection it came on, cannot be trusted.
#[derive(Copy, Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("malformed chunked body: {0}")]
pub struct ChunkError(pub &'static str);

/// What one call to [`Decoder::decode`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Out<'a> {
    /// Chunk data.
    Data(&'a [u8]),
    /// Nothing more in this input: feed more bytes.
    More,
    /// The body ended (the last chunk and the trailers read).
    End,
}

#[derive(Debug)]
pub struct Decoder {
    state: State,
    size: u64,
    digits: u32,
    line: usize,
    trailers: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new()
    }
}

impl Decoder {
    pub fn new() -> Decoder {
        Decoder {
            state: State::Size,
            size: 0,
            digits: 0,
            line: 0,
            trailers: 0,
        }
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from `input`; returns the bytes consumed and what they gave. Call again with the
    /// rest of the input until it returns [`Out::More`] or [`Out::End`].
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<(usize, Out<'a>), ChunkError> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Data => {
                    let n = (input.len() - i).min(self.size.min(usize::MAX as u64) as usize);
                    self.size -= n as u64;
                    if self.size == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok((i + n, Out::Data(&input[i..i + n])));
                }
                State::Size => match hex(b) {
                    Some(d) => {
                        self.digits += 1;
                        if self.digits > MAX_SIZE_DIGITS {
                            return Err(ChunkError("chunk size too large"));
                        }
                        self.size = self.size << 4 | d as u64;
                    }
                    None if self.digits == 0 => return Err(ChunkError("chunk size is not hex")),
                    None => match b {
                        b' ' | b'\t' => self.state = State::SizeSpace,
                        b';' => self.state = State::Ext,
                        b'\r' => self.state = State::SizeLf,
                        _ => return Err(ChunkError("chunk size is not hex")),
                    },
                },
                State::SizeSpace => match b {
                    b' ' | b'\t' => {}
                    b';' => self.state = State::Ext,
                    b'\r' => self.state = State::SizeLf,
                    _ => return Err(ChunkError("bytes after the chunk size")),
                },
                State::Ext => match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                    _ => return Err(ChunkError("control byte in a chunk extension")),
                },
                State::SizeLf => {
                    if b != b'\n' {
                        return Err(ChunkError("chunk size line not ended by CRLF"));
                    }
                    self.line = 0;
                    self.digits = 0;
                    if self.size == 0 {
                        self.state = State::TrailerStart;
                    } else {
                        self.state = State::Data;
                    }
                }
                State::DataCr => {
                    if b != b'\r' {
                        return Err(ChunkError("chunk data not followed by CRLF"));
                    }
                    self.state = State::DataLf;
                }
                State::DataLf => {
                    if b != b'\n' {
                        return Err(ChunkError("chunk data not followed by CRLF"));
                    }
                    self.state = State::Size;
                }
                State::TrailerStart => match b {
                    b'\r' => self.state = State::EndLf,
                    b'\n' => return Err(ChunkError("bare LF in the trailers")),
                    _ => {
                        self.line = 0;
                        self.state = State::TrailerName;
                        continue;
                    }
                },
                // A trailer line is a field line (`name: value`), as hyper reads it.
                State::TrailerName => match b {
                    b':' if self.line > 0 => self.state = State::Trailer,
                    _ if is_tchar(b) => {}
                    _ => return Err(ChunkError("invalid trailer field name")),
                },
                State::Trailer => match b {
                    b'\r' => self.state = State::TrailerLf,
                    b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                    _ => return Err(ChunkError("control byte in a trailer")),
                },
                State::TrailerLf => {
                    if b != b'\n' {
                        return Err(ChunkError("trailer line not ended by CRLF"));
                    }
                    self.state = State::TrailerStart;
                }
                State::EndLf => {
                    if b != b'\n' {
                        return Err(ChunkError("chunked body not ended by CRLF"));
                    }
                    self.state = State::Done;
                    return Ok((i + 1, Out::End));
                }
                State::Done => return Ok((i, Out::End)),
            }
            // Every byte outside chunk data counts against the line and trailer limits.
            self.line += 1;
            if self.line > MAX_LINE {
                return Err(ChunkError("chunk line too long"));
            }
            if matches!(
                self.state,
                State::TrailerName
                    | State::Trailer
                    | State::TrailerLf
                    | State::TrailerStart
                    | State::EndLf
            ) {
                self.trailers += 1;
                if self.trailers > MAX_TRAILERS {
                    return Err(ChunkError("trailers too large"));
                }
            }
            i += 1;
        }
        if self.state == State::Done {
            return Ok((i, Out::End));
        }
        Ok((i, Out::More))
    }
}

/// A byte of a token (RFC 9110 §5.6.2), as field names are made of.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Appends one chunk carrying `data` (nothing for empty data: that would end the body).
pub fn frame(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    let mut digits = [0u8; 16];
    let mut n = data.len();
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The end of a chunked body (no trailers).
pub const LAST: &[u8] = b"0\r\n\r\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes: the data, and whether it ended and where.
    fn run(input: &[u8], step: usize) -> Result<(Vec<u8>, Option<usize>), ChunkError> {
        let mut d = Decoder::new();
        let mut data = Vec::new();
        let mut fed = 0;
        for piece in input.chunks(step) {
            let mut rest = piece;
            loop {
                let (n, out) = d.decode(rest)?;
                let at = fed + n;
                rest = &rest[n..];
                fed += n;
                match out {
                    Out::Data(b) => data.extend_from_slice(b),
                    Out::More => break,
                    Out::End => return Ok((data, Some(at))),
                }
            }
        }
        Ok((data, None))
    }

    /// The same result at every split of the input.
    fn every_split(input: &[u8]) -> Result<(Vec<u8>, Option<usize>), ChunkError> {
        let whole = run(input, input.len().max(1));
        for step in 1..input.len() {
            assert_eq!(run(input, step), whole, "pieces of {step}");
        }
        whole
    }

    #[test]
    fn decodes_at_every_split() {
        let body = b"5\r\nhello\r\n6;name=value\r\n world\r\n0\r\nX-Sum: 1\r\n\r\nGET /next";
        let (data, end) = every_split(body).unwrap();
        assert_eq!(data, b"hello world");
        assert_eq!(end, Some(body.len() - b"GET /next".len()));
        let (data, end) = every_split(b"A \t\r\n0123456789\r\n0\r\n\r\n").unwrap();
        assert_eq!(data, b"0123456789");
        assert_eq!(end, Some(22));
        assert_eq!(every_split(b"0\r\n\r\n").unwrap(), (vec![], Some(5)));
        assert_eq!(every_split(b"5\r\nhel").unwrap(), (b"hel".to_vec(), None));
    }

    #[test]
    fn refuses_ambiguous_framing() {
        for bad in [
            &b"5\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhelloX\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"+5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"\r\n",
            b"5 5\r\nhello\r\n0\r\n\r\n",
            b"10000000000000000\r\n",
            b"fffffffffffffffff\r\n",
            b"5;a\x00b\r\nhello\r\n0\r\n\r\n",
            b"5\r\r\nhello\r\n0\r\n\r\n",
            b"0\r\n\n",
            b"0\r\nX: 1\n\r\n",
            b"0\r\nX: 1\r\n\r\r",
            // Found by the differential fuzz targets: trailer lines that are no field lines,
            // which hyper refuses.
            b"0\r\nhello\r\n\r\n",
            b"0\r\nX-\xff: 1\r\n\r\n",
            b"0\r\n: 1\r\n\r\n",
            b"0\r\nX : 1\r\n\r\n",
            b"0\r\nGET / HTTP/1.1\r\n\r\n",
        ] {
            assert!(
                every_split(bad).is_err(),
                "{:?} was accepted",
                String::from_utf8_lossy(bad)
            );
        }
        let long = [&b"5;"[..], &[b'a'; 5000], b"\r\n"].concat();
        assert!(every_split(&long).is_err());
    }

    #[test]
    fn frames_chunks() {
        let mut out = Vec::new();
        frame(&mut out, b"");
        frame(&mut out, b"hello");
        frame(&mut out, &[b'x'; 300]);
        out.extend_from_slice(LAST);
        let (data, end) = run(&out, out.len()).unwrap();
        assert_eq!(data.len(), 305);
        assert_eq!(end, Some(out.len()));
        assert!(out.starts_with(b"5\r\nhello\r\n12c\r\n"));
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_in_any_pieces_never_panic_and_agree(
            data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            step in 1usize..32,
        ) {
            let whole = run(&data, data.len().max(1));
            proptest::prop_assert_eq!(run(&data, step), whole);
        }

        #[test]
        fn framed_data_decodes_back(
            pieces in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300), 0..8),
            step in 1usize..64,
        ) {
            let mut out = Vec::new();
            for p in &pieces {
                frame(&mut out, p);
            }
            out.extend_from_slice(LAST);
            let (data, end) = run(&out, step).unwrap();
            proptest::prop_assert_eq!(data, pieces.concat());
            proptest::prop_assert_eq!(end, Some(out.len()));
        }
    }
}
