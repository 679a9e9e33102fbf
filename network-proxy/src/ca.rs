//! The certificate authority of one run: made in memory when the run
//! starts, it signs a leaf certificate for each host the command reaches
//! over HTTPS in limited mode, so that the proxy can read (and refuse) the
//! requests inside TLS. Its private key never leaves this process; only the
//! certificate is written, for the command to trust.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use codex_policy_model::Host;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use time::{Duration, OffsetDateTime};

use crate::error::ProxyError;

/// How long the run's certificates are valid: a run is expected to be far
/// shorter, and a certificate nobody may use later is better expired.
const VALIDITY: Duration = Duration::days(7);

/// Leaf configurations kept at once; past it the cache starts again (a
/// command reaching more hosts than this costs a signature per host, not
/// memory).
const MAX_CACHED_HOSTS: usize = 1024;

/// What the client is offered: HTTP/1.1 only. A client that would speak
/// HTTP/2 falls back to HTTP/1.1 (ALPN), which keeps every request in one
/// parser the proxy checks.
const ALPN_HTTP1: &[u8] = b"http/1.1";

/// A certificate authority made for one run (see the module docs). Cheap to
/// clone: clones share the key and the cache of leaf certificates.
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{EgressProxy, InspectionCa, UpstreamRoots};
/// use codex_policy_model::NetworkMode;
/// use codex_policy_model::effective::EgressRules;
///
/// let ca = InspectionCa::generate()?;
/// assert!(ca.certificate_pem().starts_with("-----BEGIN CERTIFICATE-----"));
/// // Limited mode: the proxy reads HTTPS with certificates this authority signs.
/// let rules = EgressRules::open().with_mode(NetworkMode::Limited);
/// let proxy = EgressProxy::builder(rules)
///     .inspection(ca.clone(), UpstreamRoots::system())
///     .start()?;
/// let in_use = proxy.inspection_ca().ok_or("no authority")?;
/// assert_eq!(in_use.certificate_der(), ca.certificate_der());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct InspectionCa {
    inner: Arc<Inner>,
}

struct Inner {
    issuer: Issuer<'static, KeyPair>,
    certificate: CertificateDer<'static>,
    certificate_pem: String,
    not_after: OffsetDateTime,
    /// One key for every leaf of the run (the hosts differ, the holder is
    /// the same proxy), loaded once for rustls.
    leaf_key: KeyPair,
    leaf_signing_key: Arc<dyn rustls::sign::SigningKey>,
    provider: Arc<CryptoProvider>,
    leaves: Mutex<HashMap<Host, Arc<ServerConfig>>>,
}

impl fmt::Debug for InspectionCa {
    /// Nothing of the keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InspectionCa").finish_non_exhaustive()
    }
}

impl InspectionCa {
    /// A fresh key pair and a self-signed CA certificate (ECDSA P-256, valid
    /// from an hour ago for seven days, may sign leaf certificates only).
    ///
    /// # Errors
    ///
    /// [`ProxyError::Inspection`] when the key or a certificate cannot be made.
    pub fn generate() -> Result<Self, ProxyError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let now = OffsetDateTime::now_utc();
        let key = KeyPair::generate().map_err(inspection)?;
        let mut params = CertificateParams::default();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "codex-policy");
        name.push(
            DnType::CommonName,
            format!("codex-policy run CA {}", hex(&random_bytes(&provider, 6)?)),
        );
        params.distinguished_name = name;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.not_before = now - Duration::hours(1);
        params.not_after = now + VALIDITY;
        params.serial_number = Some(SerialNumber::from_slice(&serial(&provider)?));
        let certificate = params.self_signed(&key).map_err(inspection)?;
        let not_after = params.not_after;
        let leaf_key = KeyPair::generate().map_err(inspection)?;
        let leaf_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let leaf_signing_key = provider
            .key_provider
            .load_private_key(leaf_der)
            .map_err(inspection)?;
        Ok(Self {
            inner: Arc::new(Inner {
                certificate_pem: certificate.pem(),
                certificate: certificate.der().clone(),
                issuer: Issuer::new(params, key),
                not_after,
                leaf_key,
                leaf_signing_key,
                provider,
                leaves: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The CA certificate, PEM: what a command must trust.
    pub fn certificate_pem(&self) -> &str {
        &self.inner.certificate_pem
    }

    /// The CA certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.inner.certificate
    }

    /// The TLS server configuration that presents a certificate for `host`,
    /// made on first use and cached for the run.
    pub(crate) fn server_config(&self, host: &Host) -> Result<Arc<ServerConfig>, ProxyError> {
        let mut leaves = self
            .inner
            .leaves
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(config) = leaves.get(host) {
            return Ok(Arc::clone(config));
        }
        let config = Arc::new(self.make_server_config(host)?);
        if leaves.len() >= MAX_CACHED_HOSTS {
            leaves.clear();
        }
        leaves.insert(host.clone(), Arc::clone(&config));
        Ok(config)
    }

    fn make_server_config(&self, host: &Host) -> Result<ServerConfig, ProxyError> {
        let inner = &self.inner;
        let (san, common_name) = match host {
            Host::Ip(ip) => (SanType::IpAddress(*ip), ip.to_string()),
            Host::Name(name) => (
                SanType::DnsName(name.as_str().try_into().map_err(inspection)?),
                name.as_str().to_owned(),
            ),
        };
        let mut params = CertificateParams::default();
        params.subject_alt_names = vec![san];
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, common_name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        params.not_before = OffsetDateTime::now_utc() - Duration::hours(1);
        params.not_after = inner.not_after;
        params.serial_number = Some(SerialNumber::from_slice(&serial(&inner.provider)?));
        let leaf = params
            .signed_by(&inner.leaf_key, &inner.issuer)
            .map_err(inspection)?;
        let certified = Arc::new(CertifiedKey::new(
            vec![leaf.der().clone(), inner.certificate.clone()],
            Arc::clone(&inner.leaf_signing_key),
        ));
        let mut config = ServerConfig::builder_with_provider(Arc::clone(&inner.provider))
            .with_safe_default_protocol_versions()
            .map_err(inspection)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(OneCertificate(certified)));
        config.alpn_protocols = vec![ALPN_HTTP1.to_vec()];
        Ok(config)
    }
}

/// Presents the one certificate made for the host the command asked the
/// proxy for, whatever name its TLS hello gives (a client that asked for
/// another name fails its own verification).
#[derive(Debug)]
struct OneCertificate(Arc<CertifiedKey>);

impl ResolvesServerCert for OneCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

fn inspection(e: impl fmt::Display) -> ProxyError {
    ProxyError::Inspection(e.to_string())
}

fn random_bytes(provider: &CryptoProvider, n: usize) -> Result<Vec<u8>, ProxyError> {
    let mut bytes = vec![0u8; n];
    provider
        .secure_random
        .fill(&mut bytes)
        .map_err(|_| ProxyError::Inspection("no random numbers".into()))?;
    Ok(bytes)
}

/// A positive 16-byte serial number.
fn serial(provider: &CryptoProvider) -> Result<Vec<u8>, ProxyError> {
    let mut bytes = random_bytes(provider, 16)?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x01;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
