//! Request bodies on their way upstream: streamed frame by frame, with an optional size limit.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;

/// The error a body raises when it passes `max_body_bytes`.
#[derive(Debug, thiserror::Error)]
#[error("request body exceeds the limit of {0} bytes")]
pub struct LimitExceeded(pub u64);

/// The client's request body failed (a malformed chunk, a connection that broke off): the
/// client's fault, answered 400 and never counted against the upstream.
#[derive(Debug, thiserror::Error)]
#[error("the client's request body failed")]
pub struct ClientBodyError(#[source] pub hyper::Error);

pub use super::error::BoxError;

/// A client request body forwarded upstream without buffering.
pub struct RequestBody {
    inner: Incoming,
    remaining: Option<u64>,
    limit: u64,
}

impl RequestBody {
    pub fn new(inner: Incoming, limit: Option<u64>) -> RequestBody {
        RequestBody {
            inner,
            remaining: limit,
            limit: limit.unwrap_or(0),
        }
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(rem), Some(data)) = (this.remaining.as_mut(), frame.data_ref()) {
                    let n = data.len() as u64;
                    if n > *rem {
                        return Poll::Ready(Some(Err(Box::new(LimitExceeded(this.limit)))));
                    }
                    *rem -= n;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Box::new(ClientBodyError(e))))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The body of a response sent to a client: the upstream's, streamed; the upstream's page,
/// rewritten as it streams; or a short local one.
pub enum ResponseBody {
    Upstream(super::upstream::UpstreamBody),
    Page(Box<crate::page::body::RewriteBody<super::upstream::UpstreamBody>>),
    Local(http_body_util::Full<Bytes>),
}

impl Body for ResponseBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ResponseBody::Upstream(b) => Pin::new(b).poll_frame(cx),
            ResponseBody::Page(b) => Pin::new(&mut **b).poll_frame(cx),
            ResponseBody::Local(b) => Pin::new(b).poll_frame(cx).map_err(|e| match e {}),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ResponseBody::Upstream(b) => b.is_end_stream(),
            ResponseBody::Page(b) => b.is_end_stream(),
            ResponseBody::Local(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ResponseBody::Upstream(b) => b.size_hint(),
            ResponseBody::Page(b) => b.size_hint(),
            ResponseBody::Local(b) => b.size_hint(),
        }
    }
}
