//! Upstream TLS: the certificates the proxy trusts when `upstream` is
//! `https://`. The system's roots by default, or, with `upstream_ca`, only
//! the certificates in that PEM file (an internal CA in front of Keycloak,
//! say). rustls with aws-lc-rs does the work; nothing here is hand-made
//! cryptography.

use std::path::Path;
use std::sync::Arc;

use http::Uri;
use hyper_rustls::ConfigBuilderExt as _;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};

/// The TLS client settings for `upstream`. An `http://` upstream needs no
/// roots, so none are read; an error is one line naming the key.
pub(crate) fn client_config(upstream: &Uri, ca: Option<&Path>) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("TLS: {error}"))?;
    let config = match (upstream.scheme_str(), ca) {
        (_, Some(path)) => builder
            .with_root_certificates(roots_from(path)?)
            .with_no_client_auth(),
        (Some("https"), None) => builder
            .with_native_roots()
            .map_err(|error| {
                format!("`upstream` is https and the system has no usable root certificates ({error}); give `upstream_ca`")
            })?
            .with_no_client_auth(),
        _ => builder
            .with_root_certificates(RootCertStore::empty())
            .with_no_client_auth(),
    };
    Ok(config)
}

/// Every certificate in a PEM file, as the only roots trusted.
fn roots_from(path: &Path) -> Result<RootCertStore, String> {
    let refuse = |why: String| format!("`upstream_ca` {}: {why}", path.display());
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| refuse(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| refuse(error.to_string()))?;
    if certificates.is_empty() {
        return Err(refuse("no certificate in the file".into()));
    }
    let mut roots = RootCertStore::empty();
    for certificate in certificates {
        roots
            .add(certificate)
            .map_err(|error| refuse(error.to_string()))?;
    }
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused_by_name() {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), "not a certificate\n").unwrap();
        let upstream: Uri = "https://auth.internal:8443".parse().unwrap();
        let error = client_config(&upstream, Some(file.path())).unwrap_err();
        assert!(error.starts_with("`upstream_ca` "), "{error}");
        assert!(error.contains("no certificate"), "{error}");
    }

    #[test]
    fn a_missing_file_is_refused_by_name() {
        let upstream: Uri = "https://auth.internal:8443".parse().unwrap();
        let error = client_config(&upstream, Some(Path::new("/nonexistent/ca.pem"))).unwrap_err();
        assert!(
            error.starts_with("`upstream_ca` /nonexistent/ca.pem"),
            "{error}"
        );
    }

    #[test]
    fn an_http_upstream_reads_no_roots() {
        let upstream: Uri = "http://127.0.0.1:8000".parse().unwrap();
        assert!(client_config(&upstream, None).is_ok());
    }
}
