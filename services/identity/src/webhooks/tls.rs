//! TLS for https receivers: rustls on the ring provider (already built for the rest of the tree),
//! trusting the system's CA certificates (the distroless image carries Debian's bundle) and the PEM
//! roots in `identity.webhooks.extra_root_certificates_path`, if set. The server name verified is the
//! URL's host, while the connection goes to the address the dispatcher vetted; TLS 1.2 and 1.3 only,
//! HTTP/1.1 offered by ALPN.

use std::path::Path;
use std::sync::Arc;

use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

/// The client configuration every https delivery uses, built once at start.
pub(crate) fn client_config(extra_roots: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for error in &native.errors {
        tracing::warn!(%error, "a system CA certificate could not be read");
    }
    let (added, ignored) = roots.add_parsable_certificates(native.certs);
    if ignored > 0 {
        tracing::warn!(
            ignored,
            "system CA certificates rustls cannot use were skipped"
        );
    }
    if let Some(path) = extra_roots {
        let certificates =
            CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()))?;
        for certificate in certificates {
            let certificate = certificate.map_err(|e| format!("{}: {e}", path.display()))?;
            roots
                .add(certificate)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    if roots.is_empty() {
        tracing::warn!("no CA certificate found: https webhook receivers cannot be verified");
    }
    tracing::debug!(
        system_roots = added,
        total = roots.len(),
        "webhook TLS roots"
    );
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
