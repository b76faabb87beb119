//! Where a failure came from decides the status the client sees: the client's own fault is a
//! 4xx and never counts as an upstream error; the upstream's is a 502 or 504 and counts under
//! its `kind`. Each variant keeps its cause, and the log line carries the whole chain.

use std::error::Error as StdError;

use http::StatusCode;

use super::body::{ClientBodyError, LimitExceeded};

pub type BoxError = Box<dyn StdError + Send + Sync>;

/// A request the proxy could not complete.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream refused or reset the connection, its address could not be resolved, or
    /// the TLS handshake with it failed.
    #[error("upstream connection to {addr} failed")]
    Connect {
        addr: String,
        #[source]
        source: BoxError,
    },
    /// Connecting took longer than `connect_timeout`.
    #[error("upstream connect timed out")]
    ConnectTimeout,
    /// The response headers took longer than `response_timeout`.
    #[error("upstream response timed out")]
    ResponseTimeout,
    /// The upstream answered with something that is not HTTP, or closed mid-response.
    #[error("upstream protocol error")]
    Protocol(#[source] BoxError),
    /// The upstream's response is HTTP but one the proxy refuses to pass on.
    #[error("upstream response refused: {0}")]
    BadResponse(&'static str),
    /// The request is malformed in a way hyper's parser lets through.
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The client's request body broke off or was malformed (a bad chunk, a reset).
    #[error("the client's request body failed")]
    ClientBody(#[source] BoxError),
    /// A method the proxy does not forward (`CONNECT`).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The client's body exceeded `max_body_bytes`.
    #[error("request body larger than the configured limit")]
    BodyTooLarge,
    /// A transfer coding other than `chunked`: the proxy decodes only chunked, and would pass
    /// the rest on without saying so (RFC 9112 §6.1: 501).
    #[error("transfer coding not implemented")]
    TransferCoding,
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::Connect { .. } | ProxyError::Protocol(_) | ProxyError::BadResponse(_) => {
                StatusCode::BAD_GATEWAY
            }
            ProxyError::ConnectTimeout | ProxyError::ResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::BadRequest(_) | ProxyError::ClientBody(_) => StatusCode::BAD_REQUEST,
            ProxyError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::TransferCoding => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// The `kind` label of `consentry_upstream_errors_total`, if this is an upstream failure.
    pub fn upstream_kind(&self) -> Option<&'static str> {
        match self {
            ProxyError::Connect { .. } => Some("connect"),
            ProxyError::ConnectTimeout | ProxyError::ResponseTimeout => Some("timeout"),
            ProxyError::Protocol(_) | ProxyError::BadResponse(_) => Some("protocol"),
            ProxyError::BodyTooLarge
            | ProxyError::BadRequest(_)
            | ProxyError::ClientBody(_)
            | ProxyError::MethodNotAllowed
            | ProxyError::TransferCoding => None,
        }
    }

    /// Whether the client connection is closed after the response (its framing can no longer
    /// be trusted, or the rest of its body would be read for nothing).
    pub fn closes_connection(&self) -> bool {
        matches!(
            self,
            ProxyError::BodyTooLarge
                | ProxyError::BadRequest(_)
                | ProxyError::ClientBody(_)
                | ProxyError::TransferCoding
        )
    }

    /// The short plain-text body sent to the client.
    pub fn body(&self) -> &'static str {
        match self {
            ProxyError::Connect { .. } | ProxyError::Protocol(_) | ProxyError::BadResponse(_) => {
                "502 Bad Gateway: the upstream could not be reached or answered badly\n"
            }
            ProxyError::ConnectTimeout | ProxyError::ResponseTimeout => {
                "504 Gateway Timeout: the upstream did not answer in time\n"
            }
            ProxyError::BodyTooLarge => "413 Content Too Large\n",
            ProxyError::BadRequest(_) | ProxyError::ClientBody(_) => "400 Bad Request\n",
            ProxyError::MethodNotAllowed => "405 Method Not Allowed\n",
            ProxyError::TransferCoding => "501 Not Implemented: transfer coding\n",
        }
    }

    /// Classifies an error of an upstream exchange: a failure of the client's own body found
    /// anywhere in the cause chain is the client's; everything else the upstream's.
    pub fn from_exchange(err: hyper::Error) -> ProxyError {
        let mut source: Option<&(dyn StdError + 'static)> = err.source();
        while let Some(e) = source {
            if e.is::<LimitExceeded>() {
                return ProxyError::BodyTooLarge;
            }
            if e.is::<ClientBodyError>() {
                return ProxyError::ClientBody(Box::new(err));
            }
            source = e.source();
        }
        ProxyError::Protocol(Box::new(err))
    }

    /// The error and its causes on one line, for the log.
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut source = self.source();
        while let Some(e) = source {
            s.push_str(": ");
            s.push_str(&e.to_string());
            source = e.source();
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_kinds() {
        let io = || -> BoxError { Box::new(std::io::Error::other("refused")) };
        let connect = ProxyError::Connect {
            addr: "127.0.0.1:1".into(),
            source: io(),
        };
        assert_eq!(connect.status(), StatusCode::BAD_GATEWAY);
        assert_eq!(connect.upstream_kind(), Some("connect"));
        assert_eq!(
            connect.chain(),
            "upstream connection to 127.0.0.1:1 failed: refused"
        );
        assert_eq!(ProxyError::Protocol(io()).status(), StatusCode::BAD_GATEWAY);
        assert_eq!(
            ProxyError::BadResponse("x").upstream_kind(),
            Some("protocol")
        );
        assert_eq!(
            ProxyError::ConnectTimeout.status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            ProxyError::ResponseTimeout.status(),
            StatusCode::GATEWAY_TIMEOUT
        );
        assert_eq!(
            ProxyError::BodyTooLarge.status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        assert_eq!(ProxyError::ResponseTimeout.upstream_kind(), Some("timeout"));
        assert_eq!(ProxyError::BodyTooLarge.upstream_kind(), None);
        assert!(ProxyError::ConnectTimeout.body().starts_with("504"));
        let client = ProxyError::ClientBody(io());
        assert_eq!(client.status(), StatusCode::BAD_REQUEST);
        assert_eq!(client.upstream_kind(), None);
        assert!(client.closes_connection());
        assert_eq!(
            ProxyError::MethodNotAllowed.status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        let coding = ProxyError::TransferCoding;
        assert_eq!(coding.status(), StatusCode::NOT_IMPLEMENTED);
        assert_eq!(coding.upstream_kind(), None);
        assert!(coding.closes_connection());
    }
}
