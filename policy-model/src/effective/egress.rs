//! The network half of the effective policy as the egress proxy enforces
//! it: which destinations, which ports, which limits, and what to log.

use std::num::{NonZeroU16, NonZeroU32};

use serde::Serialize;

use super::composition::NetworkLevel;
use super::domains::{DomainDecision, DomainOutcome};
use super::view::View;
use crate::domain::DomainPattern;
use crate::files::IpRule;
use crate::policy::NetworkMode;

/// What the egress proxy answers for a destination no allow entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum AllowlistMiss {
    /// A person could approve it (`x-codex-policy-decision: ask`).
    Ask,
    /// Nobody may: a managed-only allowlist is in force.
    Deny,
}

/// The rules of a filtered network, composed from every source (see
/// [`EffectivePolicy::egress`](super::EffectivePolicy::egress)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EgressRules {
    /// Destinations allowed by name or IP literal (`*` for every public host).
    pub allow: Vec<DomainPattern>,
    /// Destinations denied by any source: deny always wins.
    pub deny: Vec<DomainPattern>,
    /// Destinations that need a person's approval (a rules file's
    /// `network_rule` with `prompt`): refused with `ask`, even when the
    /// allow list names them. Only a deny comes before.
    pub ask: Vec<DomainPattern>,
    /// Internal addresses and networks that may be reached although they are
    /// local or private (`ip_allow`). They grant internal addresses only: a
    /// public address must be allowed by the allow list.
    pub ip_allow: Vec<IpRule>,
    /// The host's loopback is reachable (`network_access: restricted`).
    pub loopback: bool,
    /// Destination ports allowed; `None`: any. Every source that lists ports
    /// must list a port for it to be allowed.
    pub ports: Option<Vec<NonZeroU16>>,
    /// Requests and tunnels per run.
    pub max_requests: Option<NonZeroU32>,
    /// Requests and tunnels in flight at once.
    pub concurrency: Option<NonZeroU32>,
    /// Longest request, and longest idle tunnel, in seconds.
    pub timeout_seconds: Option<NonZeroU32>,
    /// What an allowlist miss is answered.
    pub allowlist_miss: AllowlistMiss,
    /// Monitor mode (`deny_on_violation: false`): what would be refused is let
    /// through and logged as a violation.
    pub monitor: bool,
    /// Every method, or only the read-only ones (`limited`: HTTPS is then
    /// inspected with a certificate authority made for the run).
    pub mode: NetworkMode,
}

impl EgressRules {
    /// Rules that allow every public destination on every port, with no
    /// limit: a starting point for embedders who build their own.
    pub fn open() -> Self {
        Self {
            allow: vec![DomainPattern::Any],
            deny: Vec::new(),
            ask: Vec::new(),
            ip_allow: Vec::new(),
            loopback: false,
            ports: None,
            max_requests: None,
            concurrency: None,
            timeout_seconds: None,
            allowlist_miss: AllowlistMiss::Ask,
            monitor: false,
            mode: NetworkMode::Full,
        }
    }

    /// These rules with `pattern` added to the allow list.
    #[must_use]
    pub fn allowing(mut self, pattern: DomainPattern) -> Self {
        if self.allow == [DomainPattern::Any] {
            self.allow.clear();
        }
        self.allow.push(pattern);
        self
    }

    /// These rules with `pattern` added to the deny list.
    #[must_use]
    pub fn denying(mut self, pattern: DomainPattern) -> Self {
        self.deny.push(pattern);
        self
    }

    /// These rules with `pattern` needing approval.
    #[must_use]
    pub fn asking(mut self, pattern: DomainPattern) -> Self {
        self.ask.push(pattern);
        self
    }

    /// These rules with only `ports` allowed.
    #[must_use]
    pub fn with_ports(mut self, ports: Vec<NonZeroU16>) -> Self {
        self.ports = Some(ports);
        self
    }

    /// These rules with `ip_allow` entries.
    #[must_use]
    pub fn with_ip_allow(mut self, ip_allow: Vec<IpRule>) -> Self {
        self.ip_allow = ip_allow;
        self
    }

    /// These rules with the host's loopback reachable or not.
    #[must_use]
    pub fn with_loopback(mut self, loopback: bool) -> Self {
        self.loopback = loopback;
        self
    }

    /// These rules with limits (requests per run, in flight, seconds).
    #[must_use]
    pub fn with_limits(
        mut self,
        max_requests: Option<NonZeroU32>,
        concurrency: Option<NonZeroU32>,
        timeout_seconds: Option<NonZeroU32>,
    ) -> Self {
        self.max_requests = max_requests;
        self.concurrency = concurrency;
        self.timeout_seconds = timeout_seconds;
        self
    }

    /// These rules with an allowlist miss answered `miss`.
    #[must_use]
    pub fn with_allowlist_miss(mut self, miss: AllowlistMiss) -> Self {
        self.allowlist_miss = miss;
        self
    }

    /// These rules with only read-only methods let through (`limited`), or
    /// every method (`full`).
    #[must_use]
    pub fn with_mode(mut self, mode: NetworkMode) -> Self {
        self.mode = mode;
        self
    }

    /// These rules in monitor mode (or not).
    #[must_use]
    pub fn with_monitor(mut self, monitor: bool) -> Self {
        self.monitor = monitor;
        self
    }
}

/// What the egress rules are composed from besides the files: the composed
/// level, every source's level (and which one is `.codexrc.json`'s),
/// managed-only, monitor mode.
pub(super) struct Sources<'a> {
    pub(super) level: NetworkLevel,
    pub(super) levels: &'a [NetworkLevel],
    pub(super) codexrc: Option<usize>,
    pub(super) managed_only: bool,
    pub(super) monitor: bool,
    pub(super) mode: NetworkMode,
}

/// The egress rules for a composed network level, from the decisions on
/// every domain pattern and the files' ports, addresses and limits.
///
/// Internal destinations are reachable only where every source grants
/// them: a source that filters by domain (an allow or a deny list) grants
/// no internal address beyond the literals it names, so `.codexrc.json`'s
/// loopback (`restricted`) and `ip_allow` count only when no other source
/// filters by domain and no managed-only allowlist is in force; and an
/// allowed IP literal or `localhost` — which lifts the proxy's refusal of
/// local addresses — is dropped when another source is a deny list (which
/// grants public destinations only) or loopback-only.
pub(super) fn egress_rules(
    sources: &Sources<'_>,
    domains: &[DomainDecision],
    files: &View<'_>,
) -> EgressRules {
    let level = sources.level;
    let with = |outcome: DomainOutcome| -> Vec<DomainPattern> {
        let mut out: Vec<DomainPattern> = domains
            .iter()
            .filter(|d| d.decision == outcome)
            .map(|d| d.parsed.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    };
    let others_filter_by_domain = sources
        .levels
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != sources.codexrc)
        .any(|(_, l)| matches!(l, NetworkLevel::Allowlist | NetworkLevel::Denylist));
    let literals_granted_by_all = !sources
        .levels
        .iter()
        .any(|l| matches!(l, NetworkLevel::Denylist | NetworkLevel::LoopbackOnly));
    let internal_from_codexrc = !others_filter_by_domain && !sources.managed_only;
    let allow = match level {
        NetworkLevel::Denylist | NetworkLevel::Open => vec![DomainPattern::Any],
        NetworkLevel::Allowlist => {
            let mut allow = with(DomainOutcome::Allow);
            if !literals_granted_by_all {
                allow.retain(|p| !matches!(p, DomainPattern::Ip(_)) && !p.is_loopback());
            }
            allow
        }
        _ => Vec::new(),
    };
    let mut port_lists: Vec<Vec<NonZeroU16>> = Vec::new();
    let mut ip_allow = Vec::new();
    let mut limits = (None, None, None);
    if let Some(h) = &files.harness
        && let Some(egress) = &h.value.network.egress
        && !egress.ports.is_empty()
    {
        port_lists.push(egress.ports.clone());
    }
    if let Some(rc) = &files.codexrc {
        let policy = &rc.value.environment_context.outbound_policy;
        if !policy.port_allow.is_empty() {
            port_lists.push(policy.port_allow.clone());
        }
        if internal_from_codexrc {
            ip_allow.clone_from(&policy.ip_allow);
        }
        if let Some(l) = &rc.value.limits {
            limits = (l.http_max_requests, l.http_concurrency, l.timeout_seconds);
        }
    }
    // Every list must name a port: the most restrictive wins.
    let ports = port_lists.split_first().map(|(first, rest)| {
        let mut ports: Vec<NonZeroU16> = first
            .iter()
            .copied()
            .filter(|p| rest.iter().all(|list| list.contains(p)))
            .collect();
        ports.sort();
        ports.dedup();
        ports
    });
    EgressRules {
        allow,
        deny: with(DomainOutcome::Deny),
        ask: Vec::new(),
        ip_allow,
        loopback: level == NetworkLevel::LoopbackOnly && internal_from_codexrc,
        ports,
        max_requests: limits.0,
        concurrency: limits.1,
        timeout_seconds: limits.2,
        allowlist_miss: if sources.managed_only {
            AllowlistMiss::Deny
        } else {
            AllowlistMiss::Ask
        },
        monitor: sources.monitor,
        mode: sources.mode,
    }
}
