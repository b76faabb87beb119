//! The admin listener: `/metrics`, `/healthz`, `/readyz`, `/unclassified` and a status page at `/`.

pub mod page;

use std::sync::Arc;

use bytes::Bytes;
use http::header::{
    HeaderValue, AUTHORIZATION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, WWW_AUTHENTICATE,
    X_CONTENT_TYPE_OPTIONS,
};
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::proxy::Shared;
use crate::server::accept::{accept_loop, serve_local};

const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

fn text(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// The status page's policy: its own inline style only; no script, frame, form or base URL.
const STATUS_PAGE_CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn token_matches(given: &[u8], expected: &[u8]) -> bool {
    if given.len() != expected.len() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

fn authorized<B>(req: &Request<B>, token: Option<&str>) -> bool {
    let Some(token) = token else { return true };
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| bearer(v.as_bytes()))
        .is_some_and(|given| token_matches(given, token.as_bytes()))
}

/// The credentials of a `Bearer` authorization (the scheme is case-insensitive, RFC 9110 §11.1).
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer")
        || !rest.first().is_some_and(|&b| b == b' ' || b == b'\t')
    {
        return None;
    }
    Some(rest.trim_ascii())
}

/// Answers one admin request.
pub fn respond<B>(shared: &Shared, req: &Request<B>) -> Response<Full<Bytes>> {
    const PLAIN: &str = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            PLAIN,
            "method not allowed\n",
        );
    }
    let rt = shared.current.load();
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, PLAIN, "ok\n"),
        "/readyz" => {
            if shared.is_draining() {
                text(StatusCode::SERVICE_UNAVAILABLE, PLAIN, "draining\n")
            } else {
                text(StatusCode::OK, PLAIN, "ready\n")
            }
        }
        "/metrics" | "/unclassified" | "/"
            if !authorized(req, rt.config.admin.token.as_deref()) =>
        {
            let mut r = text(StatusCode::UNAUTHORIZED, PLAIN, "unauthorized\n");
            r.headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            shared.metrics.render(),
        ),
        "/unclassified" => {
            let body = serde_json::json!({
                "capacity": crate::unclassified::CAPACITY,
                "names": shared.metrics.unclassified.top(),
            });
            text(StatusCode::OK, "application/json", body.to_string())
        }
        "/" => {
            let mut r = text(
                StatusCode::OK,
                "text/html; charset=utf-8",
                page::render(&shared.metrics, shared.is_draining()),
            );
            r.headers_mut().insert(
                CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(STATUS_PAGE_CSP),
            );
            r
        }
        _ => text(StatusCode::NOT_FOUND, PLAIN, "not found\n"),
    }
}

/// Serves the admin endpoints until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let stop = shutdown.clone();
    accept_loop(listener, None, stop, tracker, move |stream, _| {
        let shared = shared.clone();
        Some(serve_local(
            stream,
            HEADER_READ_TIMEOUT,
            shutdown.clone(),
            move |req| respond(&shared, req),
        ))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let req = |v: Option<&str>| {
            let mut b = Request::builder();
            if let Some(v) = v {
                b = b.header(AUTHORIZATION, v);
            }
            b.body(()).unwrap()
        };
        assert!(authorized(&req(None), None));
        assert!(!authorized(&req(None), Some("s3cret")));
        assert!(authorized(&req(Some("Bearer s3cret")), Some("s3cret")));
        assert!(!authorized(&req(Some("Bearer s3cre")), Some("s3cret")));
        assert!(!authorized(&req(Some("Basic s3cret")), Some("s3cret")));
        // The scheme is case-insensitive.
        assert!(authorized(&req(Some("bearer s3cret")), Some("s3cret")));
        assert!(authorized(&req(Some("BEARER  s3cret ")), Some("s3cret")));
        assert!(!authorized(&req(Some("Bearers3cret")), Some("s3cret")));
        assert!(!authorized(&req(Some("bearer")), Some("s3cret")));
    }
}
