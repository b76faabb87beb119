//! The codecs around the rewriter: the upstream's content coding decoded into the rewriter and
//! its output encoded again in the same coding, each step streaming into bounded buffers.

use std::io::{self, Write};

use super::*;

/// Compression level of re-encoded bodies: fast ones, as a web server compressing on the fly.
pub(super) const GZIP_LEVEL: u32 = 5;
pub(super) const BROTLI_QUALITY: u32 = 5;
pub(super) const BROTLI_WINDOW: u32 = 22;
pub(super) const ZSTD_LEVEL: i32 = 3;
/// Buffer size of the brotli writers.
pub(super) const BROTLI_BUFFER: usize = 16 * 1024;

/// The encoder at the end of the chain, writing into a buffer that each frame drains.
pub(super) enum Encoder {
    Identity(Vec<u8>),
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
    Zlib(flate2::write::ZlibEncoder<Vec<u8>>),
    Deflate(flate2::write::DeflateEncoder<Vec<u8>>),
    Brotli(Box<brotli::CompressorWriter<Vec<u8>>>),
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    /// Report-only: nothing is produced.
    Discard,
}

impl Encoder {
    pub(super) fn new(coding: Coding, zlib: bool) -> io::Result<Encoder> {
        let level = flate2::Compression::new(GZIP_LEVEL);
        Ok(match coding {
            Coding::Identity => Encoder::Identity(Vec::new()),
            Coding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(Vec::new(), level)),
            Coding::Deflate if zlib => {
                Encoder::Zlib(flate2::write::ZlibEncoder::new(Vec::new(), level))
            }
            Coding::Deflate => {
                Encoder::Deflate(flate2::write::DeflateEncoder::new(Vec::new(), level))
            }
            Coding::Brotli => Encoder::Brotli(Box::new(brotli::CompressorWriter::new(
                Vec::new(),
                BROTLI_BUFFER,
                BROTLI_QUALITY,
                BROTLI_WINDOW,
            ))),
            Coding::Zstd => {
                Encoder::Zstd(zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?)
            }
        })
    }

    pub(super) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Identity(v) => {
                v.extend_from_slice(data);
                Ok(())
            }
            Encoder::Gzip(e) => e.write_all(data),
            Encoder::Zlib(e) => e.write_all(data),
            Encoder::Deflate(e) => e.write_all(data),
            Encoder::Brotli(e) => e.write_all(data),
            Encoder::Zstd(e) => e.write_all(data),
            Encoder::Discard => Ok(()),
        }
    }

    pub(super) fn buffer(&mut self) -> Option<&mut Vec<u8>> {
        match self {
            Encoder::Identity(v) => Some(v),
            Encoder::Gzip(e) => Some(e.get_mut()),
            Encoder::Zlib(e) => Some(e.get_mut()),
            Encoder::Deflate(e) => Some(e.get_mut()),
            Encoder::Brotli(e) => Some(e.get_mut()),
            Encoder::Zstd(e) => Some(e.get_mut()),
            Encoder::Discard => None,
        }
    }

    /// Flushes what was written so far into the buffer (a sync flush) and takes the buffer.
    pub(super) fn flush_take(&mut self) -> io::Result<Vec<u8>> {
        match self {
            Encoder::Identity(_) | Encoder::Discard => {}
            Encoder::Gzip(e) => e.flush()?,
            Encoder::Zlib(e) => e.flush()?,
            Encoder::Deflate(e) => e.flush()?,
            Encoder::Brotli(e) => e.flush()?,
            Encoder::Zstd(e) => e.flush()?,
        }
        Ok(self.buffer().map(std::mem::take).unwrap_or_default())
    }

    /// Ends the stream and returns the last bytes.
    pub(super) fn finish(self) -> io::Result<Vec<u8>> {
        match self {
            Encoder::Identity(v) => Ok(v),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Zlib(e) => e.finish(),
            Encoder::Deflate(e) => e.finish(),
            Encoder::Brotli(e) => Ok(e.into_inner()),
            Encoder::Zstd(e) => e.finish(),
            Encoder::Discard => Ok(Vec::new()),
        }
    }
}

/// The decoder's output: the rewriter, then the encoder.
pub(super) struct Downstream {
    rewriter: Rewriter,
    encoder: Option<Encoder>,
    scratch: Vec<u8>,
    /// The most bytes waiting between the rewriter and the encoder.
    high_water: usize,
}

impl Downstream {
    pub(super) fn pump(&mut self) -> io::Result<()> {
        self.rewriter.drain_into(&mut self.scratch);
        self.high_water = self.high_water.max(self.scratch.len());
        if !self.scratch.is_empty() {
            match self.encoder.as_mut() {
                Some(e) => e.write_all(&self.scratch)?,
                None => return Err(io::Error::other("the encoder is not chosen yet")),
            }
            self.scratch.clear();
        }
        Ok(())
    }
}

impl Write for Downstream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.rewriter.write(buf).map_err(io::Error::other)?;
        self.pump()?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.pump()
    }
}

/// The decoder at the start of the chain.
enum Decoder {
    Identity(Downstream),
    Gzip(Box<flate2::write::MultiGzDecoder<Downstream>>),
    Zlib(Box<flate2::write::ZlibDecoder<Downstream>>),
    Deflate(Box<flate2::write::DeflateDecoder<Downstream>>),
    /// `deflate` before its first two bytes tell zlib from raw.
    DeflateUnknown(Downstream, Vec<u8>),
    Brotli(Box<brotli::DecompressorWriter<Downstream>>),
    Zstd(Box<zstd::stream::write::Decoder<'static, Downstream>>),
}

/// Whether two bytes start a zlib stream (RFC 1950: CM 8, a window of at most 32 KiB, and the
/// header check).
pub(super) fn is_zlib_header(b0: u8, b1: u8) -> bool {
    b0 & 0x0f == 8 && b0 >> 4 <= 7 && (u16::from(b0) << 8 | u16::from(b1)) % 31 == 0
}

impl Decoder {
    pub(super) fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Decoder::Identity(d) => d.write_all(data),
            Decoder::Gzip(d) => d.write_all(data),
            Decoder::Zlib(d) => d.write_all(data),
            Decoder::Deflate(d) => d.write_all(data),
            Decoder::Brotli(d) => d.write_all(data),
            Decoder::Zstd(d) => d.write_all(data),
            Decoder::DeflateUnknown(_, head) => {
                head.extend_from_slice(data);
                Ok(())
            }
        }
    }

    /// Once a `deflate` body's first two bytes are in, the zlib or raw decoder replaces the
    /// waiting one and gets them.
    pub(super) fn resolve_deflate(self) -> io::Result<Decoder> {
        let Decoder::DeflateUnknown(mut down, head) = self else {
            return Ok(self);
        };
        if head.len() < 2 {
            return Ok(Decoder::DeflateUnknown(down, head));
        }
        let zlib = is_zlib_header(head[0], head[1]);
        if down.encoder.is_none() {
            down.encoder = Some(Encoder::new(Coding::Deflate, zlib)?);
        }
        let mut d = if zlib {
            Decoder::Zlib(Box::new(flate2::write::ZlibDecoder::new(down)))
        } else {
            Decoder::Deflate(Box::new(flate2::write::DeflateDecoder::new(down)))
        };
        d.write_all(&head)?;
        Ok(d)
    }

    pub(super) fn downstream(&mut self) -> &mut Downstream {
        match self {
            Decoder::Identity(d) | Decoder::DeflateUnknown(d, _) => d,
            Decoder::Gzip(d) => d.get_mut(),
            Decoder::Zlib(d) => d.get_mut(),
            Decoder::Deflate(d) => d.get_mut(),
            Decoder::Brotli(d) => d.get_mut(),
            Decoder::Zstd(d) => d.get_mut(),
        }
    }

    pub(super) fn flush(&mut self) -> io::Result<()> {
        match self {
            Decoder::Identity(d) | Decoder::DeflateUnknown(d, _) => d.flush(),
            Decoder::Gzip(d) => d.flush(),
            Decoder::Zlib(d) => d.flush(),
            Decoder::Deflate(d) => d.flush(),
            Decoder::Brotli(d) => d.flush(),
            Decoder::Zstd(d) => d.flush(),
        }
    }

    /// Ends the input and returns the downstream.
    pub(super) fn finish(self) -> io::Result<Downstream> {
        match self {
            Decoder::Identity(d) => Ok(d),
            Decoder::DeflateUnknown(d, head) => {
                if head.is_empty() {
                    Ok(d)
                } else {
                    Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "deflate body ends after one byte",
                    ))
                }
            }
            Decoder::Gzip(d) => d.finish(),
            Decoder::Zlib(d) => d.finish(),
            Decoder::Deflate(d) => d.finish(),
            Decoder::Brotli(mut d) => {
                d.close()?;
                d.into_inner().map_err(|_| {
                    io::Error::new(io::ErrorKind::UnexpectedEof, "truncated brotli body")
                })
            }
            Decoder::Zstd(d) => d.finish(),
        }
    }
}

/// The whole chain for one body.
pub(super) struct Pipeline {
    /// Always `Some` between calls (taken only while a `deflate` decoder is resolved).
    decoder: Option<Decoder>,
}

impl Pipeline {
    pub(super) fn new(coding: Coding, rewriter: Rewriter, discard: bool) -> io::Result<Pipeline> {
        let encoder = if discard {
            Some(Encoder::Discard)
        } else if coding == Coding::Deflate {
            // Chosen once the first bytes tell zlib from raw deflate.
            None
        } else {
            Some(Encoder::new(coding, false)?)
        };
        let down = Downstream {
            rewriter,
            encoder,
            scratch: Vec::new(),
            high_water: 0,
        };
        let decoder = match coding {
            Coding::Identity => Decoder::Identity(down),
            Coding::Gzip => Decoder::Gzip(Box::new(flate2::write::MultiGzDecoder::new(down))),
            Coding::Deflate => Decoder::DeflateUnknown(down, Vec::new()),
            Coding::Brotli => Decoder::Brotli(Box::new(brotli::DecompressorWriter::new(
                down,
                BROTLI_BUFFER,
            ))),
            Coding::Zstd => Decoder::Zstd(Box::new(zstd::stream::write::Decoder::new(down)?)),
        };
        Ok(Pipeline {
            decoder: Some(decoder),
        })
    }

    /// Pushes one input frame through and returns the output it produced.
    pub(super) fn push(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut decoder = self.decoder.take().expect("a decoder between calls");
        let result = decoder.write_all(data);
        let decoder = match decoder {
            d @ Decoder::DeflateUnknown(..) => d.resolve_deflate()?,
            d => d,
        };
        let decoder = self.decoder.insert(decoder);
        result?;
        decoder.flush()?;
        let down = decoder.downstream();
        down.pump()?;
        match down.encoder.as_mut() {
            Some(e) => e.flush_take(),
            None => Ok(Vec::new()),
        }
    }

    /// Ends the input and returns the last output.
    pub(super) fn finish(self) -> io::Result<Vec<u8>> {
        let decoder = self.decoder.expect("a decoder between calls");
        let mut down = decoder.finish()?;
        down.rewriter.end().map_err(io::Error::other)?;
        down.pump()?;
        match down.encoder.take() {
            Some(e) => e.finish(),
            None => Ok(Vec::new()),
        }
    }

    pub(super) fn high_water(&mut self) -> usize {
        let Some(decoder) = self.decoder.as_mut() else {
            return 0;
        };
        let down = decoder.downstream();
        down.high_water + down.rewriter.high_water()
    }
}
