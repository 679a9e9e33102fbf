//! The root certificates of limited mode: what the proxy verifies upstream
//! servers against, and what the command is told to trust (those roots and
//! the run's certificate authority, in one bundle).

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

use crate::ca::InspectionCa;
use crate::error::ProxyError;

/// The certificates upstream servers are verified against. A certificate
/// that does not chain to one of them is refused (`502`, reason
/// `upstream_tls`), never ignored.
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{InspectionCa, ProxyError, UpstreamRoots};
///
/// // A company's own authority, as its PEM file holds it.
/// let company = InspectionCa::generate()?;
/// let roots = UpstreamRoots::from_pem(company.certificate_pem().as_bytes(), "corp-ca.pem")?;
/// assert_eq!((roots.len(), roots.origin()), (1, "corp-ca.pem"));
///
/// // What a command in limited mode trusts: those roots, then the run's authority.
/// let bundle = roots.trust_bundle(&InspectionCa::generate()?);
/// assert_eq!(bundle.matches("-----BEGIN CERTIFICATE-----").count(), 2);
///
/// let err = UpstreamRoots::from_pem(b"no certificate here", "empty.pem").unwrap_err();
/// assert!(matches!(err, ProxyError::UpstreamRoots(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct UpstreamRoots {
    certificates: Vec<CertificateDer<'static>>,
    origin: String,
    problems: Vec<String>,
}

impl std::fmt::Debug for UpstreamRoots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamRoots")
            .field("certificates", &self.certificates.len())
            .field("origin", &self.origin)
            .field("problems", &self.problems)
            .finish()
    }
}

impl UpstreamRoots {
    /// The system's roots, as OpenSSL-based tools find them: the files
    /// `SSL_CERT_FILE` and `SSL_CERT_DIR` of this process name when either is
    /// set (so that a corporate or a test authority works), the platform's
    /// store otherwise. Files that could not be read are listed in
    /// [`UpstreamRoots::problems`]; none found is not an error here (every
    /// upstream TLS connection is then refused), so check
    /// [`UpstreamRoots::is_empty`].
    pub fn system() -> Self {
        let found = rustls_native_certs::load_native_certs();
        let origin = match (
            std::env::var_os("SSL_CERT_FILE"),
            std::env::var_os("SSL_CERT_DIR"),
        ) {
            (None, None) => "the system's certificate store".to_owned(),
            (file, dir) => {
                let mut named = Vec::new();
                if let Some(file) = file {
                    named.push(format!("SSL_CERT_FILE={}", file.to_string_lossy()));
                }
                if let Some(dir) = dir {
                    named.push(format!("SSL_CERT_DIR={}", dir.to_string_lossy()));
                }
                named.join(", ")
            }
        };
        Self {
            certificates: dedup(found.certs),
            origin,
            problems: found.errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// The certificates of a PEM text (other PEM sections are skipped);
    /// `origin` says where they came from.
    ///
    /// # Errors
    ///
    /// [`ProxyError::UpstreamRoots`] when a certificate section is malformed
    /// or there is none.
    pub fn from_pem(pem: &[u8], origin: impl Into<String>) -> Result<Self, ProxyError> {
        let origin = origin.into();
        let certificates = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ProxyError::UpstreamRoots(format!("{origin}: {e}")))?;
        if certificates.is_empty() {
            return Err(ProxyError::UpstreamRoots(format!(
                "{origin}: no certificate in it"
            )));
        }
        Ok(Self {
            certificates: dedup(certificates),
            origin,
            problems: Vec::new(),
        })
    }

    /// How many certificates.
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    /// No certificate at all: every upstream TLS connection will be refused.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }

    /// Where they came from (`the system's certificate store`,
    /// `SSL_CERT_FILE=/path`).
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Certificate files that could not be read.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }

    /// The bundle a command in limited mode trusts (PEM): these roots, so
    /// that TLS the proxy does not inspect keeps working, then the run's
    /// certificate authority.
    pub fn trust_bundle(&self, ca: &InspectionCa) -> String {
        let mut bundle = String::new();
        for der in &self.certificates {
            bundle.push_str(&pem_certificate(der));
        }
        bundle.push_str(ca.certificate_pem());
        if !bundle.ends_with('\n') {
            bundle.push('\n');
        }
        bundle
    }

    /// The client side of the proxy's upstream connections: these roots,
    /// TLS 1.2 and 1.3, HTTP/1.1.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, ProxyError> {
        let mut store = RootCertStore::empty();
        let (_added, _skipped) = store.add_parsable_certificates(self.certificates.iter().cloned());
        let mut config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(|e| ProxyError::Inspection(e.to_string()))?
                .with_root_certificates(store)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// The variables that tell common tools to trust `bundle` (the file
/// [`UpstreamRoots::trust_bundle`] wrote): OpenSSL's `SSL_CERT_FILE`, curl's
/// `CURL_CA_BUNDLE`, Python requests' `REQUESTS_CA_BUNDLE`, Node's
/// `NODE_EXTRA_CA_CERTS`, git's `GIT_SSL_CAINFO`, pip's `PIP_CERT` and
/// cargo's `CARGO_HTTP_CAINFO`.
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{InspectionCa, UpstreamRoots, trust_environment};
///
/// let ca = InspectionCa::generate()?;
/// let dir = tempfile::tempdir()?;
/// let bundle = dir.path().join("ca-bundle.pem");
/// std::fs::write(&bundle, UpstreamRoots::system().trust_bundle(&ca))?;
///
/// let env = trust_environment(&bundle);
/// let path = bundle.display().to_string();
/// assert!(env.contains(&("SSL_CERT_FILE", path.clone())));
/// assert!(env.contains(&("NODE_EXTRA_CA_CERTS", path)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn trust_environment(bundle: &Path) -> Vec<(&'static str, String)> {
    let path = bundle.display().to_string();
    TRUST_VARIABLES
        .iter()
        .map(|name| (*name, path.clone()))
        .collect()
}

/// See [`trust_environment`].
const TRUST_VARIABLES: [&str; 7] = [
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
    "REQUESTS_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "PIP_CERT",
    "CARGO_HTTP_CAINFO",
];

/// The same certificate found twice (a bundle file and the hashed links of
/// a certificate directory) is kept once, in the order first found.
fn dedup(certificates: Vec<CertificateDer<'static>>) -> Vec<CertificateDer<'static>> {
    let mut seen = HashSet::new();
    certificates
        .into_iter()
        .filter(|c| seen.insert(c.as_ref().to_vec()))
        .collect()
}

fn pem_certificate(der: &[u8]) -> String {
    pem::encode_config(
        &pem::Pem::new("CERTIFICATE", der.to_vec()),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}
