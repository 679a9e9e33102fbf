//! `.codexrc.json` (runtime environment) and `harness.policy.json` (enforcement
//! policy), every key of the runtime-control format with its documented default. Unknown keys are
//! errors (with a "did you mean" hint); `$schema` is allowed.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::num::{NonZeroU16, NonZeroU32};
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::json_source::{JsonLocator, parse_json};
use super::{ConfigError, Location, SourceFile};
use crate::domain::DomainPattern;

/// `.codexrc.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CodexRc {
    /// The JSON Schema this file follows (ignored).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Where this runtime is and what it may reach.
    pub environment_context: EnvironmentContext,
    /// Cloud credentials: names and secret references, never secret values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// Free-form settings per environment name (`api_url`, …).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environments: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    /// Resource limits for the session's HTTP traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Limits>,
}

/// `environment_context`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexRc, EgressMode, EnvironmentName, NetworkAccess, SourceFile};
///
/// let text = br#"{"environment_context": {"name": "sandbox"}}"#.to_vec();
/// let rc = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text)?)?.value;
/// let context = &rc.environment_context;
/// assert_eq!(context.name, EnvironmentName::Sandbox);
/// // Keys left out take their documented defaults.
/// assert_eq!(context.network_access, NetworkAccess::Restricted);
/// assert_eq!(context.outbound_policy.mode, EgressMode::Allowlist);
/// assert!(context.telemetry.is_none());
///
/// // The file must say which environment it describes.
/// let text = br#"{"limits": {}}"#.to_vec();
/// assert!(CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text)?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct EnvironmentContext {
    /// The environment; `production` turns on the strictest checks.
    pub name: EnvironmentName,
    /// Network reach (default `restricted`).
    #[serde(default)]
    pub network_access: NetworkAccess,
    /// What outbound traffic is allowed when network access is `enabled`.
    #[serde(default)]
    pub outbound_policy: OutboundPolicy,
    /// Tracing and header redaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub telemetry: Option<Telemetry>,
}

/// The environments of the runtime-control files.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexRc, EnvironmentName, SourceFile};
///
/// let text = br#"{"environment_context": {"name": "air-gapped"}}"#.to_vec();
/// let rc = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text)?)?;
/// let name = rc.value.environment_context.name;
/// assert_eq!(name, EnvironmentName::AirGapped);
/// assert_eq!(name.to_string(), "air-gapped");
/// assert_eq!(EnvironmentName::Production.as_str(), "production");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EnvironmentName {
    /// Local development.
    Dev,
    /// Integration testing, staging.
    Sandbox,
    /// Production workloads: allowlist only, no wildcards, fail-loud.
    Production,
    /// Localhost only.
    AirGapped,
}

impl EnvironmentName {
    /// The name as written in files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Dev => "dev",
            Self::Sandbox => "sandbox",
            Self::Production => "production",
            Self::AirGapped => "air-gapped",
        }
    }
}

impl fmt::Display for EnvironmentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `environment_context.network_access`.
///
/// # Examples
///
/// ```
/// use codex_policy_model::NetworkAccess;
///
/// // As `CODEX_NETWORK_ACCESS` or `environment_context.network_access` says it.
/// let access: NetworkAccess = "disabled".parse()?;
/// assert_eq!(access, NetworkAccess::Disabled);
/// assert_eq!(access.to_string(), "disabled");
/// assert_eq!(NetworkAccess::default(), NetworkAccess::Restricted);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NetworkAccess {
    /// Outbound network, subject to `outbound_policy`.
    Enabled,
    /// Loopback and explicitly allowed internal addresses (`ip_allow`) only.
    #[default]
    Restricted,
    /// No network at all.
    Disabled,
}

impl NetworkAccess {
    /// The value as written in files and in `CODEX_NETWORK_ACCESS`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Restricted => "restricted",
            Self::Disabled => "disabled",
        }
    }
}

impl fmt::Display for NetworkAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for NetworkAccess {
    type Err = UnknownNetworkAccess;

    fn from_str(text: &str) -> Result<Self, UnknownNetworkAccess> {
        match text {
            "enabled" => Ok(Self::Enabled),
            "restricted" => Ok(Self::Restricted),
            "disabled" => Ok(Self::Disabled),
            other => Err(UnknownNetworkAccess {
                given: other.to_owned(),
            }),
        }
    }
}

/// A name that is not a [`NetworkAccess`] level (`CODEX_NETWORK_ACCESS=open`).
///
/// # Examples
///
/// ```
/// use codex_policy_model::{NetworkAccess, UnknownNetworkAccess};
///
/// let err: UnknownNetworkAccess = "open".parse::<NetworkAccess>().unwrap_err();
/// assert_eq!(err.given(), "open");
/// assert_eq!(
///     err.to_string(),
///     "\"open\" is not a network access level; expected enabled, restricted or disabled"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{given:?} is not a network access level; expected enabled, restricted or disabled")]
pub struct UnknownNetworkAccess {
    given: String,
}

impl UnknownNetworkAccess {
    /// The text that was given.
    pub fn given(&self) -> &str {
        &self.given
    }
}

/// How an egress list is read.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexRc, EgressMode, SourceFile};
///
/// let text = br#"{"environment_context": {"name": "dev", "network_access": "enabled",
///     "outbound_policy": {"mode": "denylist", "dns_allow": ["tracker.example.com"]}}}"#;
/// let rc = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text.to_vec())?)?;
/// assert_eq!(rc.value.environment_context.outbound_policy.mode, EgressMode::Denylist);
/// // Written in files in kebab case; `allowlist` when left out.
/// assert_eq!(serde_json::to_string(&EgressMode::Open)?, "\"open\"");
/// assert_eq!(EgressMode::default(), EgressMode::Allowlist);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EgressMode {
    /// Only the listed hosts (the default, and the only mode for production).
    #[default]
    Allowlist,
    /// Everything except the listed hosts.
    Denylist,
    /// Everything (development only).
    Open,
}

/// `environment_context.outbound_policy`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexRc, EgressMode, SourceFile};
///
/// let text = br#"{"environment_context": {"name": "sandbox", "network_access": "restricted",
///     "outbound_policy": {"dns_allow": ["*.sandbox.example.com"],
///                         "ip_allow": ["10.0.0.0/8"], "port_allow": [443, 5432]}}}"#;
/// let rc = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text.to_vec())?)?;
/// let policy = &rc.value.environment_context.outbound_policy;
/// assert_eq!(policy.mode, EgressMode::Allowlist);
/// assert_eq!(policy.dns_allow[0].to_string(), "*.sandbox.example.com");
/// assert!(policy.ip_allow[0].contains("10.1.2.3".parse()?));
/// assert_eq!(policy.port_allow.iter().map(|p| p.get()).collect::<Vec<_>>(), [443, 5432]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OutboundPolicy {
    /// How `dns_allow` is read (default `allowlist`).
    #[serde(default)]
    pub mode: EgressMode,
    /// Host patterns.
    #[serde(default)]
    pub dns_allow: Vec<DomainPattern>,
    /// Internal addresses or networks reachable when network access is `restricted`.
    #[serde(default)]
    pub ip_allow: Vec<IpRule>,
    /// Destination ports (1–65535); empty means any.
    #[serde(default)]
    pub port_allow: Vec<NonZeroU16>,
}

/// `environment_context.telemetry`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexRc, SourceFile};
///
/// let text = br#"{"environment_context": {"name": "dev",
///     "telemetry": {"trace": true, "redact_headers": ["Authorization", "X-Api-Key"]}}}"#;
/// let rc = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text.to_vec())?)?;
/// let telemetry = rc.value.environment_context.telemetry.ok_or("no telemetry")?;
/// assert!(telemetry.trace);
/// assert_eq!(telemetry.redact_headers, ["Authorization", "X-Api-Key"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Telemetry {
    /// Record traces of network activity.
    #[serde(default)]
    pub trace: bool,
    /// Header names whose values are redacted in logs.
    #[serde(default)]
    pub redact_headers: Vec<String>,
}

/// `credentials`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexRc, SourceFile};
///
/// let text = br#"{"environment_context": {"name": "dev"},
///   "credentials": {"aws_profile": "dev-readonly", "aws_region": "us-east-1",
///     "secrets": {"db_password": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db"}}}"#;
/// let rc = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text.to_vec())?)?;
/// let credentials = rc.value.credentials.ok_or("no credentials")?;
/// assert_eq!(credentials.aws_profile.as_deref(), Some("dev-readonly"));
/// assert!(credentials.secrets["db_password"].as_str().starts_with("arn:aws:secretsmanager:"));
///
/// // A secret value where a reference belongs is refused.
/// let text = br#"{"environment_context": {"name": "dev"},
///   "credentials": {"secrets": {"db_password": "hunter2"}}}"#;
/// let source = SourceFile::from_bytes(Path::new(".codexrc.json"), text.to_vec())?;
/// assert!(CodexRc::parse(source).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Credentials {
    /// AWS profile name, exported as `AWS_PROFILE` by `launch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_profile: Option<String>,
    /// AWS region, exported as `AWS_REGION` by `launch`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    /// Secret names mapped to references (ARNs and similar), fetched at run time.
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretRef>,
}

/// `limits`: positive integers.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexRc, SourceFile};
///
/// let text = br#"{"environment_context": {"name": "sandbox"},
///   "limits": {"http_max_requests": 200, "timeout_seconds": 120}}"#;
/// let rc = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text.to_vec())?)?;
/// let limits = rc.value.limits.ok_or("no limits")?;
/// assert_eq!(limits.http_max_requests.map(|n| n.get()), Some(200));
/// assert_eq!(limits.http_concurrency, None);
///
/// // Zero is not a limit.
/// let text = br#"{"environment_context": {"name": "sandbox"},
///   "limits": {"http_concurrency": 0}}"#;
/// let err = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text.to_vec())?)
///     .unwrap_err();
/// assert_eq!(err.diagnostic().and_then(|d| d.key.as_deref()), Some("limits.http_concurrency"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Limits {
    /// Most HTTP requests in one session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_max_requests: Option<NonZeroU32>,
    /// Most HTTP requests at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_concurrency: Option<NonZeroU32>,
    /// Longest request, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<NonZeroU32>,
}

/// `harness.policy.json`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{HarnessPolicy, PolicyVersion, SourceFile};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("harness.policy.json");
/// std::fs::write(
///     &path,
///     r#"{"network": {"enabled": true, "egress": {"domains": ["api.example.com"]}}}"#,
/// )?;
/// let policy = HarnessPolicy::load(&path)?.value;
/// assert!(policy.network.enabled);
/// // Keys left out take their documented defaults: version 1.0, violations blocked.
/// assert_eq!(policy.version, PolicyVersion::V1_0);
/// assert!(policy.deny_on_violation);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct HarnessPolicy {
    /// The JSON Schema this file follows (ignored).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Format version; only `"1.0"` exists.
    #[serde(default = "default_version")]
    pub version: PolicyVersion,
    /// The sandbox-level network gate.
    #[serde(default)]
    pub network: NetworkGate,
    /// What network activity is logged.
    #[serde(default)]
    pub observability: Observability,
    /// `true` (default): block violations; `false`: monitor mode, log and allow.
    #[serde(default = "default_true")]
    pub deny_on_violation: bool,
}

fn default_true() -> bool {
    true
}

fn default_version() -> PolicyVersion {
    PolicyVersion::V1_0
}

/// `version` of `harness.policy.json`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{HarnessPolicy, PolicyVersion, SourceFile};
///
/// let path = Path::new("harness.policy.json");
/// let text = br#"{"version": "1.0"}"#.to_vec();
/// let policy = HarnessPolicy::parse(SourceFile::from_bytes(path, text)?)?;
/// assert_eq!(policy.value.version, PolicyVersion::V1_0);
/// // No other version exists.
/// let err = HarnessPolicy::parse(SourceFile::from_bytes(path, br#"{"version": "2.0"}"#.to_vec())?)
///     .unwrap_err();
/// assert_eq!(err.diagnostic().and_then(|d| d.key.as_deref()), Some("version"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub enum PolicyVersion {
    /// The runtime-control format.
    #[serde(rename = "1.0")]
    V1_0,
}

/// `network`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{HarnessPolicy, NetworkGate, SourceFile};
///
/// let path = Path::new("harness.policy.json");
/// // Without a `network` key the gate is closed: every network system call is blocked.
/// let text = br#"{"version": "1.0"}"#.to_vec();
/// let closed = HarnessPolicy::parse(SourceFile::from_bytes(path, text)?)?;
/// assert_eq!(closed.value.network, NetworkGate::default());
/// assert!(!closed.value.network.enabled);
///
/// let text = br#"{"network": {"enabled": true, "egress": {"domains": ["api.example.com"]}}}"#;
/// let open = HarnessPolicy::parse(SourceFile::from_bytes(path, text.to_vec())?)?;
/// assert!(open.value.network.enabled && open.value.network.egress.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct NetworkGate {
    /// Hard gate: `false` (default) blocks every network system call.
    #[serde(default)]
    pub enabled: bool,
    /// Egress rules when enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Egress>,
}

/// `network.egress`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{EgressMode, HarnessPolicy, SourceFile};
///
/// let text = br#"{"network": {"enabled": true,
///     "egress": {"domains": ["api.example.com", "*.example.net"], "ports": [443]}}}"#;
/// let source = SourceFile::from_bytes(Path::new("harness.policy.json"), text.to_vec())?;
/// let policy = HarnessPolicy::parse(source)?;
/// let egress = policy.value.network.egress.ok_or("no egress rules")?;
/// assert_eq!(egress.mode, EgressMode::Allowlist);
/// let domains: Vec<String> = egress.domains.iter().map(ToString::to_string).collect();
/// assert_eq!(domains, ["api.example.com", "*.example.net"]);
/// assert_eq!(egress.ports.iter().map(|p| p.get()).collect::<Vec<_>>(), [443]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Egress {
    /// How `domains` is read (default `allowlist`).
    #[serde(default)]
    pub mode: EgressMode,
    /// Host patterns.
    #[serde(default)]
    pub domains: Vec<DomainPattern>,
    /// Destination ports (1–65535); empty means any.
    #[serde(default)]
    pub ports: Vec<NonZeroU16>,
}

/// `observability`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{HarnessPolicy, SourceFile};
///
/// let path = Path::new("harness.policy.json");
/// let text = br#"{"observability": {"http_log_headers": true, "sample_rate": 0.25}}"#;
/// let policy = HarnessPolicy::parse(SourceFile::from_bytes(path, text.to_vec())?)?;
/// let observability = policy.value.observability;
/// assert!(observability.http_log_headers && !observability.http_log_bodies);
/// assert_eq!(observability.sample_rate.get(), 0.25);
///
/// let text = br#"{"observability": {"sample_rate": 1.5}}"#;
/// let err = HarnessPolicy::parse(SourceFile::from_bytes(path, text.to_vec())?).unwrap_err();
/// assert!(err.to_string().contains("sample_rate 1.5 is outside 0..=1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Observability {
    /// Log HTTP bodies of network events.
    #[serde(default)]
    pub http_log_bodies: bool,
    /// Log HTTP headers of network events.
    #[serde(default)]
    pub http_log_headers: bool,
    /// Share of allowed events recorded, 0 to 1 (denials are always recorded).
    #[serde(default)]
    pub sample_rate: SampleRate,
}

/// A probability in `0.0..=1.0` (default 1).
///
/// # Examples
///
/// ```
/// use codex_policy_model::SampleRate;
///
/// let tenth = SampleRate::new(0.1).ok_or("out of range")?;
/// assert_eq!(tenth.get(), 0.1);
/// assert!(SampleRate::new(1.5).is_none());
/// // By default every allowed event is recorded.
/// assert_eq!(SampleRate::default().get(), 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, schemars::JsonSchema)]
#[schemars(transparent)]
pub struct SampleRate(#[schemars(range(min = 0.0, max = 1.0))] f64);

impl SampleRate {
    /// A rate in `0.0..=1.0`, or `None`.
    pub fn new(rate: f64) -> Option<Self> {
        (0.0..=1.0).contains(&rate).then_some(Self(rate))
    }

    /// The rate.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl Default for SampleRate {
    fn default() -> Self {
        Self(1.0)
    }
}

impl<'de> Deserialize<'de> for SampleRate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let rate = f64::deserialize(deserializer)?;
        if (0.0..=1.0).contains(&rate) {
            Ok(Self(rate))
        } else {
            Err(serde::de::Error::custom(format!(
                "sample_rate {rate} is outside 0..=1"
            )))
        }
    }
}

/// An IP address or a CIDR network (`10.0.0.0/8`, `fd00::/8`).
///
/// # Examples
///
/// ```
/// use codex_policy_model::IpRule;
///
/// let network: IpRule = "10.0.0.0/8".parse()?;
/// assert!(network.contains("10.1.2.3".parse()?));
/// assert!(!network.contains("192.168.0.1".parse()?));
/// // A plain address is a full-length prefix, and displays as written.
/// let host: IpRule = "fd00::1".parse()?;
/// assert_eq!(host.prefix, 128);
/// assert_eq!(host.to_string(), "fd00::1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpRule {
    /// The network address.
    pub address: IpAddr,
    /// Prefix length; a plain address is a full-length prefix.
    pub prefix: u8,
}

impl IpRule {
    /// Whether `ip` is inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpRule {
    type Err = IpRuleError;

    fn from_str(text: &str) -> Result<Self, IpRuleError> {
        let (address, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| IpRuleError::NotAnAddress {
            input: text.to_owned(),
        })?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| {
                IpRuleError::PrefixLength {
                    input: text.to_owned(),
                    max,
                }
            })?,
        };
        Ok(Self { address, prefix })
    }
}

/// Why a text is not an [`IpRule`].
///
/// # Examples
///
/// ```
/// use codex_policy_model::{IpRule, IpRuleError};
///
/// let err = "10.0.0/8".parse::<IpRule>().unwrap_err();
/// assert!(matches!(err, IpRuleError::NotAnAddress { .. }));
///
/// let err = "10.0.0.0/33".parse::<IpRule>().unwrap_err();
/// assert!(matches!(err, IpRuleError::PrefixLength { max: 32, .. }));
/// assert_eq!(err.to_string(), "\"10.0.0.0/33\": prefix length must be 0..=32");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IpRuleError {
    /// The part before any `/` is not an IPv4 or IPv6 address.
    #[error("{input:?} is not an IP address or CIDR network")]
    NotAnAddress {
        /// The rule as written.
        input: String,
    },
    /// The part after `/` is not a prefix length the address family has.
    #[error("{input:?}: prefix length must be 0..={max}")]
    PrefixLength {
        /// The rule as written.
        input: String,
        /// The longest prefix of the address family: 32 or 128.
        max: u8,
    },
}

impl fmt::Display for IpRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let full = if self.address.is_ipv4() { 32 } else { 128 };
        if self.prefix == full {
            write!(f, "{}", self.address)
        } else {
            write!(f, "{}/{}", self.address, self.prefix)
        }
    }
}

/// A reference to a secret held elsewhere: an AWS ARN, a GCP secret path, an
/// Azure Key Vault URL, `vault:`, `op://`, `ssm:`, `secretsmanager:`, `env:` —
/// never the value.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SecretRef;
///
/// let reference: SecretRef = "op://engineering/db/password".parse()?;
/// assert_eq!(reference.as_str(), "op://engineering/db/password");
/// assert!("projects/acme/secrets/db-password".parse::<SecretRef>().is_ok());
/// // A value is not a reference.
/// assert!("hunter2".parse::<SecretRef>().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef(String);

impl SecretRef {
    /// The reference text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretRef {
    type Err = SecretRefError;

    fn from_str(text: &str) -> Result<Self, SecretRefError> {
        let is_reference = text.starts_with("arn:")
            || (text.starts_with("projects/") && text.contains("/secrets/"))
            || (text.starts_with("https://") && text.contains(".vault.azure.net/secrets/"))
            || ["vault:", "op://", "ssm:", "env:", "secretsmanager:"]
                .iter()
                .any(|scheme| text.starts_with(scheme));
        if is_reference && text.len() <= 2048 && !text.chars().any(char::is_whitespace) {
            Ok(Self(text.to_owned()))
        } else {
            Err(SecretRefError)
        }
    }
}

/// A text that is not a [`SecretRef`]. It never holds the text: that may be
/// the secret itself.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{SecretRef, SecretRefError};
///
/// let err: SecretRefError = "correct-horse-battery-staple".parse::<SecretRef>().unwrap_err();
/// // The message says what is expected, never what was written.
/// assert!(err.to_string().starts_with("not a secret reference"));
/// assert!(!err.to_string().contains("horse"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error(
    "not a secret reference (expected an ARN, projects/…/secrets/…, a Key Vault URL, vault:, \
     op://, ssm:, secretsmanager: or env:); secret values never belong in config"
)]
pub struct SecretRefError;

macro_rules! string_serde {
    ($ty:ty, $name:literal, $description:literal) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(&DisplayVia(self))
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = std::borrow::Cow::<str>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
        impl schemars::JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                $name.into()
            }
            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "description": $description })
            }
        }
    };
}

/// Adapts the types above to `collect_str`.
struct DisplayVia<'a, T>(&'a T);

impl fmt::Display for DisplayVia<'_, IpRule> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for DisplayVia<'_, SecretRef> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.0)
    }
}

string_serde!(
    IpRule,
    "IpRule",
    "An IP address or CIDR network, e.g. 10.0.0.0/8."
);
string_serde!(
    SecretRef,
    "SecretRef",
    "A secret reference (arn:…, projects/…/secrets/…, Key Vault URL, vault:, op://, ssm:, secretsmanager:, env:)."
);

/// A parsed runtime file and where its keys are.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{HarnessPolicy, SourceFile};
///
/// let text = b"{\n  \"version\": \"1.0\",\n  \"network\": {\"enabled\": false}\n}\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("harness.policy.json"), text)?;
/// let file = HarnessPolicy::parse(source)?;
/// assert!(!file.value.network.enabled);
/// // Which keys the file writes, and where, for messages that point at them.
/// assert!(file.contains("/network/enabled"));
/// assert!(!file.contains("/deny_on_violation"));
/// assert_eq!(file.locate("/network/enabled").to_string(), "harness.policy.json:3:15");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Located<T> {
    /// The file's text and path.
    pub source: SourceFile,
    /// The parsed value.
    pub value: T,
    /// Where each key is.
    pub(crate) locator: JsonLocator,
}

impl<T> Located<T> {
    /// The location of a JSON pointer (`/network/egress/domains/0`) in the
    /// file: of the key itself, else of its nearest present ancestor.
    pub fn locate(&self, pointer: &str) -> Location {
        self.source.locate(self.locator.offset(pointer))
    }

    /// Whether the file writes the key at `pointer` (rather than leaving it
    /// to its default).
    pub fn contains(&self, pointer: &str) -> bool {
        self.locator.contains(pointer)
    }
}

impl CodexRc {
    /// Reads and parses `.codexrc.json`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`], [`ConfigError::NotARegularFile`] or [`ConfigError::TooLarge`]
    /// when `path` cannot be read as a configuration file (see [`SourceFile::read`]);
    /// [`ConfigError::Invalid`] when the file is not UTF-8 or [`CodexRc::parse`] refuses it.
    pub fn load(path: &Path) -> Result<Located<Self>, ConfigError> {
        Self::parse(SourceFile::read(path)?)
    }

    /// Parses text already read.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the text is not a single valid JSON document, or has a
    /// duplicate key, an unknown key, or a value that does not fit its key.
    ///
    /// ```
    /// use std::path::Path;
    /// use codex_policy_model::{CodexRc, SourceFile};
    ///
    /// let text = b"{\n  \"environment_context\": {\"name\": \"dev\"}\n}".to_vec();
    /// let rc = CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), text)?)?;
    /// // Where a key is written, for messages that point at it.
    /// assert_eq!(rc.locate("/environment_context/name").line, 2);
    ///
    /// let duplicate = br#"{"limits": {}, "limits": {}}"#.to_vec();
    /// assert!(CodexRc::parse(SourceFile::from_bytes(Path::new(".codexrc.json"), duplicate)?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(source: SourceFile) -> Result<Located<Self>, ConfigError> {
        let (value, locator) = parse_json(&source)?;
        Ok(Located {
            source,
            value,
            locator,
        })
    }
}

impl HarnessPolicy {
    /// Reads and parses `harness.policy.json`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`], [`ConfigError::NotARegularFile`] or [`ConfigError::TooLarge`]
    /// when `path` cannot be read as a configuration file (see [`SourceFile::read`]);
    /// [`ConfigError::Invalid`] when the file is not UTF-8 or [`HarnessPolicy::parse`] refuses it.
    pub fn load(path: &Path) -> Result<Located<Self>, ConfigError> {
        Self::parse(SourceFile::read(path)?)
    }

    /// Parses text already read.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the text is not a single valid JSON document, or has a
    /// duplicate key, an unknown key, or a value that does not fit its key.
    pub fn parse(source: SourceFile) -> Result<Located<Self>, ConfigError> {
        let (value, locator) = parse_json(&source)?;
        Ok(Located {
            source,
            value,
            locator,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_network_access_is_typed_and_says_what_was_expected() {
        assert_eq!("restricted".parse(), Ok(NetworkAccess::Restricted));
        let err = "open".parse::<NetworkAccess>().unwrap_err();
        assert_eq!(err.given(), "open");
        assert_eq!(
            err.to_string(),
            "\"open\" is not a network access level; expected enabled, restricted or disabled"
        );
    }

    #[test]
    fn malformed_ip_rules_are_typed() {
        let rule: IpRule = "10.0.0.0/8".parse().unwrap();
        assert!(rule.contains("10.1.2.3".parse().unwrap()));
        assert_eq!("fd00::1".parse::<IpRule>().unwrap().prefix, 128);

        let err = "10.0.0/8".parse::<IpRule>().unwrap_err();
        assert_eq!(
            err,
            IpRuleError::NotAnAddress {
                input: "10.0.0/8".into()
            }
        );
        assert_eq!(
            err.to_string(),
            "\"10.0.0/8\" is not an IP address or CIDR network"
        );

        for (text, max) in [("10.0.0.0/33", 32), ("fd00::/129", 128), ("10.0.0.0/x", 32)] {
            let err = text.parse::<IpRule>().unwrap_err();
            assert_eq!(
                err,
                IpRuleError::PrefixLength {
                    input: text.into(),
                    max
                }
            );
            assert_eq!(
                err.to_string(),
                format!("{text:?}: prefix length must be 0..={max}")
            );
        }
    }

    #[test]
    fn a_secret_value_is_refused_without_being_echoed() {
        assert!(
            "arn:aws:secretsmanager:us-east-1:1:secret:x"
                .parse::<SecretRef>()
                .is_ok()
        );
        let secret = "hunter2-not-a-reference";
        let err = secret.parse::<SecretRef>().unwrap_err();
        assert_eq!(err, SecretRefError);
        let message = err.to_string();
        assert!(
            message.starts_with("not a secret reference (expected an ARN"),
            "{message}"
        );
        assert!(!message.contains(secret), "{message}");
    }

    #[test]
    fn string_types_report_their_typed_error_through_serde() {
        let err = serde_json::from_str::<IpRule>("\"10.0.0.0/99\"").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("\"10.0.0.0/99\": prefix length must be 0..=32"),
            "{err}"
        );
        let err = serde_json::from_str::<NetworkAccess>("\"on\"").unwrap_err();
        assert!(err.to_string().contains("unknown variant `on`"), "{err}");
    }
}
