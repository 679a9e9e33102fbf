//! The four environment patterns of the runtime-control files, as typed values: `init` writes
//! them, and each one validates without a finding.

use std::num::{NonZeroU16, NonZeroU32};

use super::{
    CodexRc, Egress, EgressMode, EnvironmentContext, EnvironmentName, HarnessPolicy, Limits,
    NetworkAccess, NetworkGate, Observability, OutboundPolicy, PolicyVersion, SampleRate,
};
use crate::domain::DomainPattern;

/// An environment pattern of the runtime-control files.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{EnvironmentName, HarnessPolicy, RuntimePattern, SourceFile};
///
/// let pattern: RuntimePattern = "production".parse()?;
/// let (rc, policy) = pattern.files("./.codex-policy");
/// assert_eq!(rc.environment_context.name, EnvironmentName::Production);
/// assert!(policy.deny_on_violation);
/// // Written out as JSON, the file reads back as the same policy.
/// let json = serde_json::to_vec_pretty(&policy)?;
/// let source = SourceFile::from_bytes(Path::new("harness.policy.json"), json)?;
/// let reread = HarnessPolicy::parse(source)?;
/// assert_eq!(reread.value, policy);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimePattern {
    /// Local development: broad allowlist with wildcards, violations logged.
    Development,
    /// Integration testing: explicit domains, fail-loud.
    Sandbox,
    /// Production: explicit domains, HTTPS only, no wildcards, fail-loud.
    Production,
    /// Localhost only, network gate closed.
    AirGapped,
}

fn ports(list: &[u16]) -> Vec<NonZeroU16> {
    list.iter().filter_map(|p| NonZeroU16::new(*p)).collect()
}

fn domains(list: &[&str]) -> Vec<DomainPattern> {
    list.iter().filter_map(|d| d.parse().ok()).collect()
}

fn limits(requests: u32, concurrency: u32, timeout: u32) -> Option<Limits> {
    Some(Limits {
        http_max_requests: NonZeroU32::new(requests),
        http_concurrency: NonZeroU32::new(concurrency),
        timeout_seconds: NonZeroU32::new(timeout),
    })
}

impl RuntimePattern {
    /// All patterns.
    pub const ALL: [Self; 4] = [
        Self::Development,
        Self::Sandbox,
        Self::Production,
        Self::AirGapped,
    ];

    /// The pattern's name on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Sandbox => "sandbox",
            Self::Production => "production",
            Self::AirGapped => "air-gapped",
        }
    }

    /// `.codexrc.json` and `harness.policy.json` of the pattern; `$schema` is
    /// set to `schema_dir`/{codexrc,harness-policy}.schema.json.
    pub fn files(self, schema_dir: &str) -> (CodexRc, HarnessPolicy) {
        let (
            name,
            access,
            dns,
            port_list,
            limit,
            deny,
            enabled,
            egress_domains,
            egress_ports,
            observability,
        ) = match self {
            Self::Development => (
                EnvironmentName::Dev,
                NetworkAccess::Enabled,
                domains(&[
                    "*.example.com",
                    "*.cloudprovider.com",
                    "localhost",
                    "127.0.0.1",
                ]),
                ports(&[80, 443, 5432, 3000]),
                limits(500, 10, 180),
                false,
                true,
                domains(&["*.example.com", "*.cloudprovider.com"]),
                Vec::new(),
                Observability::default(),
            ),
            Self::Sandbox => {
                let list = domains(&[
                    "api.sandbox.example.com",
                    "db.sandbox.example.com",
                    "auth.example.com",
                ]);
                (
                    EnvironmentName::Sandbox,
                    NetworkAccess::Enabled,
                    list.clone(),
                    ports(&[443, 5432]),
                    limits(200, 8, 120),
                    true,
                    true,
                    list,
                    ports(&[443, 5432]),
                    Observability::default(),
                )
            }
            Self::Production => {
                let list = domains(&[
                    "api.example.com",
                    "db.prod-region.provider.com",
                    "auth.example.com",
                ]);
                (
                    EnvironmentName::Production,
                    NetworkAccess::Enabled,
                    list.clone(),
                    ports(&[443]),
                    limits(100, 4, 60),
                    true,
                    true,
                    list,
                    ports(&[443]),
                    Observability {
                        http_log_bodies: false,
                        http_log_headers: false,
                        sample_rate: SampleRate::new(0.1).unwrap_or_default(),
                    },
                )
            }
            Self::AirGapped => (
                EnvironmentName::AirGapped,
                NetworkAccess::Restricted,
                domains(&["localhost", "127.0.0.1"]),
                ports(&[3000, 5432, 8080]),
                limits(50, 2, 30),
                true,
                false,
                Vec::new(),
                Vec::new(),
                Observability::default(),
            ),
        };
        let rc = CodexRc {
            schema: Some(format!("{schema_dir}/codexrc.schema.json")),
            environment_context: EnvironmentContext {
                name,
                network_access: access,
                outbound_policy: OutboundPolicy {
                    mode: EgressMode::Allowlist,
                    dns_allow: dns,
                    ip_allow: Vec::new(),
                    port_allow: port_list,
                },
                telemetry: None,
            },
            credentials: None,
            environments: Default::default(),
            limits: limit,
        };
        let policy = HarnessPolicy {
            schema: Some(format!("{schema_dir}/harness-policy.schema.json")),
            version: PolicyVersion::V1_0,
            network: NetworkGate {
                enabled,
                egress: enabled.then_some(Egress {
                    mode: EgressMode::Allowlist,
                    domains: egress_domains,
                    ports: egress_ports,
                }),
            },
            observability,
            deny_on_violation: deny,
        };
        (rc, policy)
    }
}

impl std::str::FromStr for RuntimePattern {
    type Err = UnknownRuntimePattern;

    fn from_str(text: &str) -> Result<Self, UnknownRuntimePattern> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or_else(|| UnknownRuntimePattern {
                given: text.to_owned(),
            })
    }
}

/// A name that is not one of [`RuntimePattern::ALL`].
///
/// # Examples
///
/// ```
/// use codex_policy_model::{RuntimePattern, UnknownRuntimePattern};
///
/// let err: UnknownRuntimePattern = "staging".parse::<RuntimePattern>().unwrap_err();
/// assert_eq!(err.given(), "staging");
/// assert_eq!(
///     err.to_string(),
///     "unknown pattern \"staging\"; expected development, sandbox, production or air-gapped"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown pattern {given:?}; expected development, sandbox, production or air-gapped")]
pub struct UnknownRuntimePattern {
    given: String,
}

impl UnknownRuntimePattern {
    /// The name that was given.
    pub fn given(&self) -> &str {
        &self.given
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pattern_names_round_trip() {
        for pattern in RuntimePattern::ALL {
            assert_eq!(pattern.as_str().parse(), Ok(pattern));
        }
    }

    #[test]
    fn unknown_pattern_is_typed_and_lists_the_names() {
        let err = "staging".parse::<RuntimePattern>().unwrap_err();
        assert_eq!(err.given(), "staging");
        assert_eq!(
            err.to_string(),
            "unknown pattern \"staging\"; expected development, sandbox, production or air-gapped"
        );
    }
}
