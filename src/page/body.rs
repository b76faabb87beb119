//! The response side of the page guard: which responses are rewritten, what their head loses,
//! and a body wrapper that decodes, rewrites and re-encodes the upstream's body as it streams.
//!
//! ```text
//! upstream frame -> decoder (gzip / deflate / br / zstd / identity) -> Rewriter -> encoder (same coding) -> client frame
//! ```
//!
//! The codecs are the write-based streaming ones of `flate2`, `brotli` and `zstd`: each input
//! frame is pushed through the chain and the encoder is flushed, so the client gets the rewritten
//! start of the page while the upstream is still sending the rest, and memory stays bounded
//! whatever the page's size (a frame's worth of output, the rewriter's bounded buffers, the
//! codecs' windows).
//!
//! Use:
//! 1. `let plan = PagePlan::new(&policy, &consent, &page_config);`
//! 2. if [`should_rewrite`]`(resp.headers(), &plan)`: unless the plan is report-only, call
//!    [`prepare_head`] on the response headers; wrap the body with [`RewriteBody::for_response`]
//!    (or [`RewriteBody::new`] with the [`Coding`] and charset of the response).

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::header::{
    ACCEPT_RANGES, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG,
};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use lol_html::AsciiCompatibleEncoding;

use super::rewrite::{encoding_of, Rewriter, UnreadableCharset};
use super::{PageObserver, PagePlan, Prelude};

/// The error of a rewritten body: the upstream's, or a body that does not decode.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

mod codec;
use codec::*;

/// A `Content-Encoding` the rewriter can decode and re-encode.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Coding {
    Identity,
    Gzip,
    /// `deflate`: zlib-wrapped (RFC 9110) or, as some servers send it, raw; re-encoded the same way.
    Deflate,
    Brotli,
    Zstd,
}

impl Coding {
    /// The single coding of a response; `None` when it has several or one this proxy does not
    /// know (such a response is passed through unchanged).
    pub fn of(headers: &HeaderMap) -> Option<Coding> {
        let mut found = Coding::Identity;
        for v in headers.get_all(CONTENT_ENCODING) {
            let v = v.to_str().ok()?;
            for token in v.split(',') {
                let token = token.trim();
                let c = if token.eq_ignore_ascii_case("identity") || token.is_empty() {
                    continue;
                } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip")
                {
                    Coding::Gzip
                } else if token.eq_ignore_ascii_case("deflate") {
                    Coding::Deflate
                } else if token.eq_ignore_ascii_case("br") {
                    Coding::Brotli
                } else if token.eq_ignore_ascii_case("zstd") {
                    Coding::Zstd
                } else {
                    return None;
                };
                if found != Coding::Identity {
                    return None;
                }
                found = c;
            }
        }
        Some(found)
    }
}

/// Whether the response is one `text/html` page (a single `Content-Type` naming it).
pub fn is_html(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(v), None) = (values.next(), values.next()) else {
        return false;
    };
    v.to_str().is_ok_and(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .eq_ignore_ascii_case("text/html")
    })
}

/// The charset of the `Content-Type`: `Ok(None)` when it names none, `Err` when the rewriter
/// cannot read it.
pub fn charset_of(
    headers: &HeaderMap,
) -> Result<Option<AsciiCompatibleEncoding>, UnreadableCharset> {
    match headers.get(CONTENT_TYPE).map(|v| v.to_str()) {
        Some(Ok(v)) => encoding_of(v),
        Some(Err(_)) => Err(UnreadableCharset),
        None => Ok(None),
    }
}

/// Whether a response's body goes through [`RewriteBody`] for this plan: a `text/html` response
/// in a coding and charset the rewriter reads, not a partial one, and a plan with something to
/// do. Call it only for responses that have a body (not to `HEAD`, not `1xx`/`204`/`304`).
pub fn should_rewrite(headers: &HeaderMap, plan: &PagePlan) -> bool {
    !plan.is_noop()
        && is_html(headers)
        && !headers.contains_key(CONTENT_RANGE)
        && Coding::of(headers).is_some()
        && charset_of(headers).is_ok()
}

/// Edits the head of a response whose body is rewritten: its length and strong validator no
/// longer hold, integrity headers and byte ranges neither, and it depends on the visitor's
/// consent, so shared caches must not keep it. A weak `ETag` stays.
pub fn prepare_head(headers: &mut HeaderMap) {
    headers.remove(CONTENT_LENGTH);
    headers.remove(ACCEPT_RANGES);
    for name in ["content-md5", "digest", "content-digest", "repr-digest"] {
        headers.remove(name);
    }
    let strong = headers
        .get_all(ETAG)
        .iter()
        .any(|v| !v.as_bytes().starts_with(b"W/"));
    if strong {
        headers.remove(ETAG);
    }
    crate::cache::make_private(headers);
}

/// A response body rewritten as it streams (or, in report-only mode, passed through unchanged
/// while the rewriter observes a copy).
pub struct RewriteBody<B> {
    inner: B,
    /// `None` once the input ended or when there is nothing to do.
    pipeline: Option<Pipeline>,
    /// Report-only: input frames go out unchanged.
    observe_only: bool,
    /// Frames ready to go out.
    ready: VecDeque<Frame<Bytes>>,
    /// The inner body ended (or failed).
    done: bool,
    /// The most bytes held at once inside the wrapper (see [`RewriteBody::max_buffered`]).
    max_buffered: usize,
}

impl<B> RewriteBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    /// Wraps `inner`, a body in `coding` whose page is rewritten for `plan`; `prelude` is inserted
    /// first in the page (after the Consent Mode snippet) and `observer` gets every element
    /// neutralised or activated. The page is read as UTF-8 unless a `<meta charset>` says
    /// otherwise; see [`RewriteBody::with_charset`].
    pub fn new(
        inner: B,
        plan: PagePlan,
        coding: Coding,
        prelude: &Prelude,
        observer: Box<dyn PageObserver>,
    ) -> RewriteBody<B> {
        RewriteBody::build(inner, plan, coding, None, prelude, observer)
    }

    /// The wrapper for a response, from its headers (coding and charset); `None` when
    /// [`should_rewrite`] says the body passes as it is.
    pub fn for_response(
        inner: B,
        headers: &HeaderMap,
        plan: PagePlan,
        prelude: &Prelude,
        observer: Box<dyn PageObserver>,
    ) -> Result<RewriteBody<B>, B> {
        if !should_rewrite(headers, &plan) {
            return Err(inner);
        }
        let (Some(coding), Ok(charset)) = (Coding::of(headers), charset_of(headers)) else {
            return Err(inner);
        };
        Ok(RewriteBody::build(
            inner, plan, coding, charset, prelude, observer,
        ))
    }

    /// [`RewriteBody::new`] for a page in a known charset (the `Content-Type`'s).
    pub fn with_charset(
        inner: B,
        plan: PagePlan,
        coding: Coding,
        charset: AsciiCompatibleEncoding,
        prelude: &Prelude,
        observer: Box<dyn PageObserver>,
    ) -> RewriteBody<B> {
        RewriteBody::build(inner, plan, coding, Some(charset), prelude, observer)
    }

    fn build(
        inner: B,
        plan: PagePlan,
        coding: Coding,
        charset: Option<AsciiCompatibleEncoding>,
        prelude: &Prelude,
        observer: Box<dyn PageObserver>,
    ) -> RewriteBody<B> {
        let observe_only = plan.is_report_only();
        let pipeline = if plan.is_noop() {
            None
        } else {
            let rewriter = Rewriter::new(plan, prelude, observer, charset);
            match Pipeline::new(coding, rewriter, observe_only) {
                Ok(p) => Some(p),
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start the page rewrite codec; the page passes unchanged");
                    None
                }
            }
        };
        RewriteBody {
            inner,
            observe_only: observe_only || pipeline.is_none(),
            pipeline,
            ready: VecDeque::new(),
            done: false,
            max_buffered: 0,
        }
    }

    /// The most bytes the wrapper held at once: one frame's output, the bytes between the
    /// rewriter and the encoder, the rewriter's unread output and inline script text (the codecs'
    /// fixed windows and `lol_html`'s bounded tag buffer aside).
    pub fn max_buffered(&self) -> usize {
        self.max_buffered
    }

    fn note(&mut self, frame_len: usize) {
        let inside = self.pipeline.as_mut().map_or(0, Pipeline::high_water);
        self.max_buffered = self.max_buffered.max(frame_len + inside);
    }

    /// Pushes a data frame through the pipeline.
    fn data(&mut self, data: Bytes) -> Result<(), BoxError> {
        if self.observe_only {
            if let Some(p) = self.pipeline.as_mut() {
                if let Err(e) = p.push(&data) {
                    tracing::debug!(error = %e, "report-only page observation stopped");
                    self.pipeline = None;
                }
            }
            self.note(data.len());
            self.ready.push_back(Frame::data(data));
            return Ok(());
        }
        let Some(p) = self.pipeline.as_mut() else {
            self.ready.push_back(Frame::data(data));
            return Ok(());
        };
        let out = p.push(&data).map_err(|e| -> BoxError { Box::new(e) })?;
        self.note(out.len());
        if !out.is_empty() {
            self.ready.push_back(Frame::data(Bytes::from(out)));
        }
        Ok(())
    }

    /// Ends the pipeline: its last bytes go out.
    fn end(&mut self) -> Result<(), BoxError> {
        let Some(p) = self.pipeline.take() else {
            return Ok(());
        };
        let result = p.finish();
        if self.observe_only {
            if let Err(e) = result {
                tracing::debug!(error = %e, "report-only page observation ended with an error");
            }
            return Ok(());
        }
        let out = result.map_err(|e| -> BoxError { Box::new(e) })?;
        self.note(out.len());
        if !out.is_empty() {
            self.ready.push_back(Frame::data(Bytes::from(out)));
        }
        Ok(())
    }
}

impl<B> RewriteBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    /// Used as a transform the caller feeds (its inner body unused): pushes the next bytes of
    /// the page and appends what is ready to go out to `out`.
    pub fn feed(&mut self, data: Bytes, out: &mut Vec<Bytes>) -> Result<(), BoxError> {
        let r = self.data(data);
        out.extend(self.ready.drain(..).filter_map(|f| f.into_data().ok()));
        if r.is_err() {
            self.done = true;
            self.pipeline = None;
        }
        r
    }

    /// Ends a fed transform: the page's last bytes go to `out`.
    pub fn finish(&mut self, out: &mut Vec<Bytes>) -> Result<(), BoxError> {
        self.done = true;
        let r = self.end();
        out.extend(self.ready.drain(..).filter_map(|f| f.into_data().ok()));
        r
    }
}

impl<B> Body for RewriteBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        loop {
            if let Some(f) = this.ready.pop_front() {
                return Poll::Ready(Some(Ok(f)));
            }
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.done = true;
                    if let Err(e) = this.end() {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    this.pipeline = None;
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        if let Err(e) = this.data(data) {
                            this.done = true;
                            this.pipeline = None;
                            return Poll::Ready(Some(Err(e)));
                        }
                    }
                    Err(frame) => {
                        // Trailers end the body: the page's last bytes go first.
                        this.done = true;
                        if let Err(e) = this.end() {
                            return Poll::Ready(Some(Err(e)));
                        }
                        this.ready.push_back(frame);
                    }
                },
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done && self.ready.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        if self.pipeline.is_none() && !self.done && self.ready.is_empty() {
            // Passing through untouched: the inner body's size holds.
            return self.inner.size_hint();
        }
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::page::rewrite::rewrite_page;
    use crate::page::tests::{full_page, plan_for};
    use crate::page::{IgnorePage, Recorder};
    use crate::policy::Mode;
    use http::header::{HeaderValue, CACHE_CONTROL};
    use std::collections::VecDeque;
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A body of fixed frames, counting how many were taken.
    struct Frames {
        frames: VecDeque<Bytes>,
        taken: Arc<AtomicUsize>,
        trailers: Option<HeaderMap>,
    }

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            match self.frames.pop_front() {
                Some(b) => {
                    self.taken.fetch_add(1, Ordering::SeqCst);
                    Poll::Ready(Some(Ok(Frame::data(b))))
                }
                None => Poll::Ready(self.trailers.take().map(|t| Ok(Frame::trailers(t)))),
            }
        }
    }

    fn frames(data: &[u8], size: usize) -> Frames {
        Frames {
            frames: data.chunks(size).map(Bytes::copy_from_slice).collect(),
            taken: Arc::default(),
            trailers: None,
        }
    }

    fn poll<B: Body + Unpin>(b: &mut B) -> Option<Result<Frame<B::Data>, B::Error>> {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        match Pin::new(b).poll_frame(&mut cx) {
            Poll::Ready(f) => f,
            Poll::Pending => panic!("test bodies are always ready"),
        }
    }

    fn collect<B: Body<Data = Bytes> + Unpin>(b: &mut B) -> (Vec<u8>, Option<HeaderMap>)
    where
        B::Error: std::fmt::Debug,
    {
        let mut out = Vec::new();
        let mut trailers = None;
        while let Some(f) = poll(b) {
            match f.unwrap().into_data() {
                Ok(d) => out.extend_from_slice(&d),
                Err(f) => trailers = f.into_trailers().ok(),
            }
        }
        (out, trailers)
    }

    fn encode(coding: Coding, zlib: bool, data: &[u8]) -> Vec<u8> {
        let mut e = Encoder::new(coding, zlib).unwrap();
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn decode(coding: Coding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match coding {
            Coding::Identity => out.extend_from_slice(data),
            Coding::Gzip => {
                flate2::read::MultiGzDecoder::new(data)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Deflate if is_zlib_header(data[0], data[1]) => {
                flate2::read::ZlibDecoder::new(data)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Deflate => {
                flate2::read::DeflateDecoder::new(data)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Brotli => {
                brotli::Decompressor::new(data, 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Coding::Zstd => out = zstd::decode_all(data).unwrap(),
        }
        out
    }

    fn denied_plan() -> PagePlan {
        plan_for(Mode::Enforce, "consentry=none")
    }

    #[test]
    fn every_coding_round_trips() {
        let page = full_page().repeat(20);
        let want = rewrite_page(
            page.as_bytes(),
            denied_plan(),
            &Prelude::none(),
            Box::new(IgnorePage),
        )
        .unwrap();
        let cases = [
            (Coding::Identity, false),
            (Coding::Gzip, false),
            (Coding::Deflate, true),
            (Coding::Deflate, false),
            (Coding::Brotli, false),
            (Coding::Zstd, false),
        ];
        for (coding, zlib) in cases {
            let encoded = encode(coding, zlib, page.as_bytes());
            for size in [1, 7, 1000, 1 << 20] {
                let mut body = RewriteBody::new(
                    frames(&encoded, size),
                    denied_plan(),
                    coding,
                    &Prelude::none(),
                    Box::new(IgnorePage),
                );
                let (out, _) = collect(&mut body);
                if coding == Coding::Deflate {
                    assert_eq!(
                        is_zlib_header(out[0], out[1]),
                        zlib,
                        "deflate keeps its wrapping"
                    );
                }
                assert_eq!(
                    decode(coding, &out),
                    want,
                    "{coding:?} zlib={zlib} frames of {size}"
                );
            }
        }
    }

    #[test]
    fn corrupt_and_truncated_bodies_fail() {
        let page = full_page();
        for coding in [Coding::Gzip, Coding::Brotli, Coding::Zstd, Coding::Deflate] {
            let mut encoded = encode(coding, true, page.as_bytes());
            encoded.truncate(encoded.len() / 2);
            let mut body = RewriteBody::new(
                frames(&encoded, 100),
                denied_plan(),
                coding,
                &Prelude::none(),
                Box::new(IgnorePage),
            );
            let mut failed = false;
            while let Some(f) = poll(&mut body) {
                if f.is_err() {
                    failed = true;
                    break;
                }
            }
            assert!(failed, "{coding:?}: a truncated body is an error");
        }
        let mut body = RewriteBody::new(
            frames(b"\x1f\x8b\x08garbage-garbage", 4),
            denied_plan(),
            Coding::Gzip,
            &Prelude::none(),
            Box::new(IgnorePage),
        );
        let mut failed = false;
        while let Some(f) = poll(&mut body) {
            failed |= f.is_err();
            if failed {
                break;
            }
        }
        assert!(failed);
    }

    #[test]
    fn report_only_passes_the_bytes_and_counts() {
        let page = full_page();
        let encoded = encode(Coding::Gzip, false, page.as_bytes());
        let rec = Recorder::default();
        let mut body = RewriteBody::new(
            frames(&encoded, 333),
            plan_for(Mode::ReportOnly, "consentry=none"),
            Coding::Gzip,
            &Prelude::none(),
            Box::new(rec.clone()),
        );
        let (out, _) = collect(&mut body);
        assert_eq!(out, encoded, "byte-identical");
        let ev = rec.events();
        assert_eq!(ev.len(), 12);
        assert!(ev.iter().all(|e| e.action.name() == "would-block"));
    }

    #[test]
    fn nothing_to_do_passes_byte_identical_with_its_size() {
        let page = full_page();
        let config = Arc::new(crate::page::PageConfig {
            rewrite: false,
            ..(**plan_for(Mode::Enforce, "").config()).clone()
        });
        let p = crate::policy::testing::policy(Mode::Enforce, crate::policy::Unclassified::Deny);
        let plan = PagePlan::new(&p, &p.decide("", false), &config);
        assert!(plan.is_noop());
        let inner = frames(page.as_bytes(), 100);
        let mut body = RewriteBody::new(
            inner,
            plan,
            Coding::Identity,
            &Prelude::none(),
            Box::new(IgnorePage),
        );
        let (out, _) = collect(&mut body);
        assert_eq!(out, page.as_bytes());
    }

    #[test]
    fn trailers_follow_the_last_bytes() {
        let page = full_page();
        let mut t = HeaderMap::new();
        t.insert("x-checksum", HeaderValue::from_static("1"));
        let mut inner = frames(page.as_bytes(), 500);
        inner.trailers = Some(t.clone());
        let mut body = RewriteBody::new(
            inner,
            denied_plan(),
            Coding::Identity,
            &Prelude::none(),
            Box::new(IgnorePage),
        );
        let (out, trailers) = collect(&mut body);
        let want = rewrite_page(
            page.as_bytes(),
            denied_plan(),
            &Prelude::none(),
            Box::new(IgnorePage),
        )
        .unwrap();
        assert_eq!(out, want);
        assert_eq!(trailers, Some(t));
    }

    /// A page of `total` bytes made on the fly, in frames of `frame` bytes: a head with trackers,
    /// then paragraphs, inline scripts and pixels over and over.
    struct BigPage {
        made: usize,
        total: usize,
        frame: usize,
        pending: Vec<u8>,
        taken: Arc<AtomicUsize>,
    }

    impl Body for BigPage {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            let this = &mut *self;
            if this.made >= this.total && this.pending.is_empty() {
                return Poll::Ready(None);
            }
            while this.pending.len() < this.frame && this.made < this.total {
                let part: &[u8] = if this.made == 0 {
                    b"<!DOCTYPE html><html><head><meta charset=utf-8><script async src=\"https://www.googletagmanager.com/gtag/js?id=G-1\"></script></head><body>"
                } else {
                    b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p><script>var x=1;</script><img src=\"https://www.facebook.com/tr?id=1\"><a href=\"/x\">x</a>\n"
                };
                this.pending.extend_from_slice(part);
                this.made += part.len();
            }
            let n = this.pending.len().min(this.frame);
            let chunk: Vec<u8> = this.pending.drain(..n).collect();
            this.taken.fetch_add(1, Ordering::SeqCst);
            Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
        }
    }

    #[test]
    fn a_50_mib_page_streams_with_bounded_memory() {
        let taken = Arc::new(AtomicUsize::new(0));
        let inner = BigPage {
            made: 0,
            total: 50 << 20,
            frame: 16 * 1024,
            pending: Vec::new(),
            taken: taken.clone(),
        };
        let rec = Recorder::default();
        let mut body = RewriteBody::new(
            inner,
            denied_plan(),
            Coding::Identity,
            &Prelude::none(),
            Box::new(IgnorePage),
        );
        // The first bytes come out after the first frame, long before the page ends.
        let first = poll(&mut body).unwrap().unwrap().into_data().unwrap();
        assert!(first.starts_with(b"<!DOCTYPE html>"));
        assert_eq!(taken.load(Ordering::SeqCst), 1, "one input frame read");
        let mut total = first.len();
        let mut frames_out = 1;
        while let Some(f) = poll(&mut body) {
            total += f.unwrap().into_data().unwrap().len();
            frames_out += 1;
        }
        drop(rec);
        assert!(total > 50 << 20, "every pixel gained attributes: {total}");
        assert!(frames_out > 3000, "{frames_out} frames");
        let max = body.max_buffered();
        assert!(max < 128 * 1024, "held at most {max} bytes");
    }

    #[test]
    fn a_compression_bomb_is_decoded_with_bounded_memory() {
        // 64 MiB of page from a few hundred KiB of gzip: each frame's output is re-encoded
        // before the next one is read.
        let mut page = b"<html><body>".to_vec();
        page.extend(std::iter::repeat_n(b' ', 64 << 20));
        page.extend_from_slice(b"<img src=\"https://www.facebook.com/tr\"></body></html>");
        let encoded = encode(Coding::Gzip, false, &page);
        assert!(encoded.len() < 1 << 20);
        let mut body = RewriteBody::new(
            frames(&encoded, 16 * 1024),
            denied_plan(),
            Coding::Gzip,
            &Prelude::none(),
            Box::new(IgnorePage),
        );
        let (out, _) = collect(&mut body);
        let decoded = decode(Coding::Gzip, &out);
        assert!(decoded.ends_with(b"<img data-consentry-src=\"https://www.facebook.com/tr\" data-consentry-category=\"advertising\"></body></html>"));
        let max = body.max_buffered();
        assert!(max < 512 * 1024, "held at most {max} bytes");
    }

    #[test]
    fn which_responses_are_rewritten() {
        let plan = denied_plan();
        let h = |pairs: &[(&str, &str)]| {
            let mut m = HeaderMap::new();
            for (k, v) in pairs {
                m.append(
                    http::header::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                    HeaderValue::from_str(v).unwrap(),
                );
            }
            m
        };
        assert!(should_rewrite(
            &h(&[("content-type", "text/html; charset=utf-8")]),
            &plan
        ));
        assert!(should_rewrite(
            &h(&[("content-type", "TEXT/HTML"), ("content-encoding", "br")]),
            &plan
        ));
        assert!(should_rewrite(
            &h(&[
                ("content-type", "text/html;charset=windows-1252"),
                ("content-encoding", "gzip")
            ]),
            &plan
        ));
        assert!(!should_rewrite(
            &h(&[("content-type", "application/json")]),
            &plan
        ));
        assert!(!should_rewrite(&h(&[]), &plan));
        assert!(!should_rewrite(
            &h(&[("content-type", "text/html; charset=utf-16")]),
            &plan
        ));
        assert!(!should_rewrite(
            &h(&[
                ("content-type", "text/html"),
                ("content-encoding", "compress")
            ]),
            &plan
        ));
        assert!(!should_rewrite(
            &h(&[
                ("content-type", "text/html"),
                ("content-encoding", "gzip, br")
            ]),
            &plan
        ));
        assert!(!should_rewrite(
            &h(&[
                ("content-type", "text/html"),
                ("content-encoding", "gzip"),
                ("content-encoding", "gzip")
            ]),
            &plan
        ));
        assert!(!should_rewrite(
            &h(&[
                ("content-type", "text/html"),
                ("content-range", "bytes 0-9/100")
            ]),
            &plan
        ));
        assert_eq!(
            Coding::of(&h(&[("content-encoding", "identity")])),
            Some(Coding::Identity)
        );
        assert_eq!(
            Coding::of(&h(&[("content-encoding", "x-gzip")])),
            Some(Coding::Gzip)
        );
        assert_eq!(
            Coding::of(&h(&[("content-encoding", "zstd")])),
            Some(Coding::Zstd)
        );
        assert_eq!(
            Coding::of(&h(&[("content-encoding", "Deflate")])),
            Some(Coding::Deflate)
        );
    }

    #[test]
    fn the_head_of_a_rewritten_response() {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_LENGTH, HeaderValue::from_static("1234"));
        h.insert(ETAG, HeaderValue::from_static("\"abc\""));
        h.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60, s-maxage=600"),
        );
        h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        h.insert("content-md5", HeaderValue::from_static("x"));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        prepare_head(&mut h);
        assert!(h.get(CONTENT_LENGTH).is_none());
        assert!(h.get(ETAG).is_none());
        assert!(h.get(ACCEPT_RANGES).is_none());
        assert!(h.get("content-md5").is_none());
        assert_eq!(h[CACHE_CONTROL], "max-age=60, private");
        assert_eq!(h[CONTENT_ENCODING], "gzip", "re-encoded in the same coding");
        let mut h = HeaderMap::new();
        h.insert(ETAG, HeaderValue::from_static("W/\"abc\""));
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        prepare_head(&mut h);
        assert_eq!(h[ETAG], "W/\"abc\"", "a weak validator stays");
        assert_eq!(h[CACHE_CONTROL], "no-store");
        let mut h = HeaderMap::new();
        prepare_head(&mut h);
        assert_eq!(h[CACHE_CONTROL], "private");
    }

    #[test]
    fn for_response_reads_coding_and_charset() {
        let page = "<html><head><meta charset=\"windows-1252\"></head><body>caf\u{e9}<img src=\"https://www.facebook.com/tr\"></body></html>";
        let (latin1, _, _) = encoding_rs::WINDOWS_1252.encode(page);
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=windows-1252"),
        );
        let Ok(mut body) = RewriteBody::for_response(
            frames(&latin1, 5),
            &h,
            denied_plan(),
            &Prelude::none(),
            Box::new(IgnorePage),
        ) else {
            panic!("an HTML page is rewritten");
        };
        let (out, _) = collect(&mut body);
        let (text, _, bad) = encoding_rs::WINDOWS_1252.decode(&out);
        assert!(!bad);
        assert!(text.contains("caf\u{e9}<img data-consentry-src"), "{text}");
        let json = {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h
        };
        assert!(RewriteBody::for_response(
            frames(b"{}", 5),
            &json,
            denied_plan(),
            &Prelude::none(),
            Box::new(IgnorePage)
        )
        .is_err());
    }
}
