//! Where a failure came from decides the status the client sees.

use std::error::Error as StdError;

use http::StatusCode;

use super::body::LimitExceeded;

/// A request the proxy could not complete.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The upstream refused or reset the connection, or its address could not be resolved.
    #[error("upstream connection failed: {0}")]
    Connect(String),
    /// Connecting took longer than `connect_timeout`.
    #[error("upstream connect timed out")]
    ConnectTimeout,
    /// The response headers took longer than `response_timeout`.
    #[error("upstream response timed out")]
    ResponseTimeout,
    /// The upstream answered with something that is not HTTP, or closed mid-response.
    #[error("upstream protocol error: {0}")]
    Protocol(String),
    /// The request is malformed in a way hyper's parser lets through (missing or repeated Host).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The client's body exceeded `max_body_bytes`.
    #[error("request body larger than the configured limit")]
    BodyTooLarge,
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::Connect(_) | ProxyError::Protocol(_) => StatusCode::BAD_GATEWAY,
            ProxyError::ConnectTimeout | ProxyError::ResponseTimeout => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::BadRequest(_) => StatusCode::BAD_REQUEST,
        }
    }

    /// The `kind` label of `consentry_upstream_errors_total`, if this is an upstream failure.
    pub fn upstream_kind(&self) -> Option<&'static str> {
        match self {
            ProxyError::Connect(_) => Some("connect"),
            ProxyError::ConnectTimeout | ProxyError::ResponseTimeout => Some("timeout"),
            ProxyError::Protocol(_) => Some("protocol"),
            ProxyError::BodyTooLarge | ProxyError::BadRequest(_) => None,
        }
    }

    /// The short plain-text body sent to the client.
    pub fn body(&self) -> &'static str {
        match self {
            ProxyError::Connect(_) | ProxyError::Protocol(_) => {
                "502 Bad Gateway: the upstream could not be reached or answered badly\n"
            }
            ProxyError::ConnectTimeout | ProxyError::ResponseTimeout => {
                "504 Gateway Timeout: the upstream did not answer in time\n"
            }
            ProxyError::BodyTooLarge => "413 Content Too Large\n",
            ProxyError::BadRequest(_) => "400 Bad Request\n",
        }
    }

    /// Classifies an error of the upstream client.
    pub fn from_client(err: hyper_util::client::legacy::Error) -> ProxyError {
        let mut source: Option<&(dyn StdError + 'static)> = err.source();
        while let Some(e) = source {
            if e.is::<LimitExceeded>() {
                return ProxyError::BodyTooLarge;
            }
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::TimedOut && err.is_connect() {
                    return ProxyError::ConnectTimeout;
                }
            }
            source = e.source();
        }
        if err.is_connect() {
            ProxyError::Connect(chain(&err))
        } else {
            ProxyError::Protocol(chain(&err))
        }
    }
}

impl ProxyError {
    /// Classifies an error of a pooled upstream connection (its handshake or an exchange).
    pub fn from_hyper(err: hyper::Error) -> ProxyError {
        let mut source: Option<&(dyn StdError + 'static)> = err.source();
        while let Some(e) = source {
            if e.is::<LimitExceeded>() {
                return ProxyError::BodyTooLarge;
            }
            source = e.source();
        }
        ProxyError::Protocol(chain(&err))
    }
}

/// The error and its causes on one line.
fn chain(err: &dyn StdError) -> String {
    let mut s = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        s.push_str(": ");
        s.push_str(&e.to_string());
        source = e.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_kinds() {
        assert_eq!(
            ProxyError::Connect("x".into()).status(),
            StatusCode::BAD_GATEWAY
        );
        assert_eq!(
            ProxyError::Protocol("x".into()).status(),
            StatusCode::BAD_GATEWAY
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
    }
}
