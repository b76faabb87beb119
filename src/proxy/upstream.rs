//! The pooled upstream client: keep-alive connections with an idle timeout shorter than typical
//! upstream keep-alive, a connect timeout, TCP_NODELAY, and TLS (h2 by ALPN) for https:// upstreams.

use std::sync::Arc;

use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use super::body::RequestBody;
use crate::config::Upstream;

pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, RequestBody>;

/// Builds the client for an upstream. Fails only on an unreadable `upstream.ca` file.
pub fn client(up: &Upstream) -> Result<UpstreamClient, String> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(up.connect_timeout));
    http.set_keepalive(Some(std::time::Duration::from_secs(30)));

    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(ca) = &up.ca {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .map_err(|e| format!("upstream.ca: cannot read \"{}\": {e}", ca.display()))?
            .collect::<Result<_, _>>()
            .map_err(|e| format!("upstream.ca: \"{}\": {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!(
                "upstream.ca: \"{}\" holds no certificate",
                ca.display()
            ));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| format!("upstream.ca: \"{}\": {e}", ca.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);

    Ok(Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(up.pool_idle_timeout)
        .pool_max_idle_per_host(1024)
        // Upstream responses may carry many Set-Cookie lines (hyper's default stops at 100).
        .http1_max_headers(1000)
        .http1_max_buf_size(1024 * 1024)
        .build(connector))
}
