//! TLS termination: certificates from PEM files, chosen by SNI, ALPN `h2` and `http/1.1`,
//! TLS 1.2 and 1.3 only. Built per configuration, so certificates reload with it.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::config::Tls;

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Loads a certificate chain and its key into a signing identity.
fn load(
    cert: &Path,
    key: &Path,
    key_name: &str,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("{key_name}.cert \"{}\": {e}", cert.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{key_name}.cert \"{}\": {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "{key_name}.cert \"{}\": no certificate in the file",
            cert.display()
        ));
    }
    let der = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("{key_name}.key \"{}\": {e}", key.display()))?;
    let signing = provider
        .key_provider
        .load_private_key(der)
        .map_err(|e| format!("{key_name}.key \"{}\": {e}", key.display()))?;
    let ck = CertifiedKey::new(chain, signing);
    ck.keys_match().map_err(|e| {
        format!(
            "{key_name}: the key \"{}\" does not match the certificate: {e}",
            key.display()
        )
    })?;
    Ok(Arc::new(ck))
}

/// Picks a certificate by the SNI host name: exact names first, then `*.domain` wildcards, then
/// the default `[tls]` certificate.
#[derive(Debug)]
struct SniResolver {
    default: Arc<CertifiedKey>,
    exact: HashMap<String, Arc<CertifiedKey>>,
    wildcard: HashMap<String, Arc<CertifiedKey>>,
}

impl SniResolver {
    fn pick(&self, name: Option<&str>) -> Arc<CertifiedKey> {
        let Some(name) = name else {
            return self.default.clone();
        };
        let name = name.to_ascii_lowercase();
        if let Some(k) = self.exact.get(&name) {
            return k.clone();
        }
        if let Some((_, parent)) = name.split_once('.') {
            if let Some(k) = self.wildcard.get(parent) {
                return k.clone();
            }
        }
        self.default.clone()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.pick(hello.server_name()))
    }
}

/// Builds the acceptor for a `[tls]` configuration.
pub fn acceptor(tls: &Tls) -> Result<TlsAcceptor, String> {
    let provider = provider();
    let default = load(&tls.cert, &tls.key, "tls", &provider)?;
    let mut exact = HashMap::new();
    let mut wildcard = HashMap::new();
    for (i, sni) in tls.sni.iter().enumerate() {
        let key = load(&sni.cert, &sni.key, &format!("tls.sni[{i}]"), &provider)?;
        match sni.host.strip_prefix("*.") {
            Some(parent) => wildcard.insert(parent.to_string(), key),
            None => exact.insert(sni.host.clone(), key),
        };
    }
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(SniResolver {
            default,
            exact,
            wildcard,
        }));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
