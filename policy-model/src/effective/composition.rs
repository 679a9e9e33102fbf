//! Composition: the profile's policy and the validated files into one
//! [`EffectivePolicy`], the most restrictive source winning each field.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::domains::{DomainDecision, domain_decisions};
use super::egress::EgressRules;
use super::view::{View, where_};
use crate::files::{
    DomainRule, EgressMode, EnvironmentName, NetworkAccess, NetworkRules, SocketRule,
};
use crate::policy::{NetworkMode, SandboxPolicy};
use crate::validate::Validation;

/// A value and the source that decided it (`harness.policy.json:4:5
/// network.enabled`, `profile workspace (command line)`, `default`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decided<T> {
    /// The value.
    pub value: T,
    /// Who decided it.
    pub decided_by: String,
}

impl<T> Decided<T> {
    fn new(value: T, decided_by: impl Into<String>) -> Self {
        Self {
            value,
            decided_by: decided_by.into(),
        }
    }
}

/// How much network a policy allows, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NetworkLevel {
    /// No network.
    Off,
    /// Loopback and explicitly allowed internal addresses only.
    LoopbackOnly,
    /// Only allowed domains.
    Allowlist,
    /// Everything but denied domains.
    Denylist,
    /// Everything.
    Open,
}

impl fmt::Display for NetworkLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Off => "off",
            Self::LoopbackOnly => "loopback only",
            Self::Allowlist => "allowlisted domains only",
            Self::Denylist => "all but denied domains",
            Self::Open => "open",
        })
    }
}

/// The composed policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EffectivePolicy {
    /// The sandbox policy as it will be enforced (network adjusted below).
    pub sandbox_policy: Decided<SandboxPolicy>,
    /// The network level the configuration asks for.
    pub network: Decided<NetworkLevel>,
    /// Whether the sandbox lets the command use the network at all: only when
    /// the level is open *and* nothing filters it.
    pub network_enforced_open: bool,
    /// Every method, or only the read-only ones (`limited`): the
    /// `net-read-only` profile (a read-only sandbox with network) and any
    /// `[permissions.<profile>.network] mode = "limited"` ask for limited; the
    /// most restrictive wins (`full` lifts nothing).
    pub network_mode: Decided<NetworkMode>,
    /// What makes the network *filtered* (a domain rule from any file, a
    /// managed-only allowlist, an allowlist with no entry in force, a port
    /// list or a limit), each with where it was written.
    pub network_filters: Vec<String>,
    /// For a filtered network (a level between off and open, or open with
    /// any filter): the rules the egress proxy enforces. The sandbox then
    /// gives the command an empty network namespace whose only way out is
    /// the proxy — never the host's network.
    pub egress: Option<EgressRules>,
    /// Decisions on every domain pattern any source named.
    pub domains: Vec<DomainDecision>,
    /// Block violations (`true`) or monitor (`false`).
    pub deny_on_violation: Decided<bool>,
    /// The environment, when `.codexrc.json` names one.
    pub environment: Option<Decided<EnvironmentName>>,
    /// Managed-only allowlist in force.
    pub managed_allowed_domains_only: Decided<bool>,
    /// Path-named unix sockets the command may connect to (the `unix_sockets`
    /// maps): allowed by some source, refused (`none`) by none, and inside the
    /// managed requirements' own allows when those name any socket.
    /// `dangerously_allow_all_unix_sockets` is not honoured: every other socket
    /// outside the sandbox stays refused.
    pub unix_sockets: Vec<std::path::PathBuf>,
    /// What the enforcement cannot do yet and how it compensates (always
    /// stricter, never looser); allow entries that expired (named, with the
    /// date and where it is written) and an `allowlisted_domains` the sandbox
    /// leaves without effect.
    pub notes: Vec<String>,
}

/// Composes `profile_policy` (chosen by `profile_source`; `profile_name` picks
/// the `[permissions.<name>]` table of config.toml) with validated files.
pub fn compose(
    profile_policy: &SandboxPolicy,
    profile_source: &str,
    profile_name: &str,
    files: &Validation,
) -> EffectivePolicy {
    compose_view(
        profile_policy,
        profile_source,
        profile_name,
        &View::of(files, &|_| true),
    )
}

pub(super) fn compose_view(
    profile_policy: &SandboxPolicy,
    profile_source: &str,
    profile_name: &str,
    files: &View<'_>,
) -> EffectivePolicy {
    let mut levels: Vec<(NetworkLevel, String)> = Vec::new();
    levels.push((
        if profile_policy.has_network_access() {
            NetworkLevel::Open
        } else {
            NetworkLevel::Off
        },
        profile_source.to_owned(),
    ));
    if let Some(h) = &files.harness {
        let gate = &h.value.network;
        let level = match (&gate.enabled, &gate.egress) {
            (false, _) => NetworkLevel::Off,
            (true, None) => NetworkLevel::Open,
            (true, Some(e)) => level_of(e.mode),
        };
        let pointer = if gate.enabled && gate.egress.is_some() {
            "/network/egress/mode"
        } else {
            "/network/enabled"
        };
        levels.push((level, where_(h, pointer)));
    }
    let mut codexrc_level = None;
    if let Some(rc) = &files.codexrc {
        codexrc_level = Some(levels.len());
        let ctx = &rc.value.environment_context;
        let level = match ctx.network_access {
            NetworkAccess::Disabled => NetworkLevel::Off,
            NetworkAccess::Restricted => NetworkLevel::LoopbackOnly,
            _ => level_of(ctx.outbound_policy.mode),
        };
        let pointer = if ctx.network_access == NetworkAccess::Enabled {
            "/environment_context/outbound_policy/mode"
        } else {
            "/environment_context/network_access"
        };
        levels.push((level, where_(rc, pointer)));
    }
    // Managed requirements and config.toml rules filter by domain: any allow
    // entry (or a managed-only allowlist, or an allowlist whose entries
    // expired or that names none) means only allowed domains, deny entries
    // alone mean everything but them. Never open.
    for source in rule_sources(profile_policy, profile_name, files) {
        let rules = source.rules;
        let first = rules
            .domains
            .first()
            .map(|e| format!("{} {}", e.at, source.domains_key));
        let level = if rules.managed_allowed_domains_only {
            Some((NetworkLevel::Allowlist, source.managed_only_at))
        } else if rules.domains.iter().any(|e| e.rule == DomainRule::Allow) {
            first.map(|at| (NetworkLevel::Allowlist, at))
        } else if let Some(at) = &rules.allowlist_at {
            Some((NetworkLevel::Allowlist, at.clone()))
        } else {
            first.map(|at| (NetworkLevel::Denylist, at))
        };
        levels.extend(level);
    }
    // Most restrictive wins; on a tie the first (the more authoritative) source.
    let (level, decided_by) = levels
        .iter()
        .min_by_key(|(level, _)| *level)
        .cloned()
        .unwrap_or((NetworkLevel::Off, "default".into()));

    let domains = domain_decisions(profile_policy, profile_name, files);
    let managed_only = files
        .requirements
        .as_ref()
        .filter(|(_, rules)| rules.managed_allowed_domains_only)
        .map_or_else(
            || Decided::new(false, "default"),
            |(source, _)| {
                Decided::new(
                    true,
                    format!(
                        "{} experimental_network.managed_allowed_domains_only",
                        source.path().display()
                    ),
                )
            },
        );
    let deny_on_violation = files.harness.as_ref().map_or_else(
        || Decided::new(true, "default (fail closed)"),
        |h| {
            let decided_by = if h.contains("/deny_on_violation") {
                where_(h, "/deny_on_violation")
            } else {
                format!("{} (default)", h.source.path().display())
            };
            Decided::new(h.value.deny_on_violation, decided_by)
        },
    );

    let mut notes = Vec::new();
    let network_mode = network_mode(profile_policy, profile_source, profile_name, files);
    let mut network_filters = network_filters(profile_policy, profile_name, files, &domains);
    if network_mode.value == NetworkMode::Limited {
        network_filters.push(format!(
            "limited mode (GET, HEAD, OPTIONS only) from {}",
            network_mode.decided_by
        ));
    }
    // The sandbox opens the host network only for `open` with nothing that
    // filters it; every other level above off, and any domain rule, port
    // list or limit, goes through the egress proxy: an empty network
    // namespace whose only way out is the proxy. Never the open network.
    let network_enforced_open = level == NetworkLevel::Open && network_filters.is_empty();
    let filtered = matches!(
        level,
        NetworkLevel::LoopbackOnly | NetworkLevel::Allowlist | NetworkLevel::Denylist
    ) || (level == NetworkLevel::Open && !network_filters.is_empty());
    let egress = filtered.then(|| {
        // What the other sources grant of internal destinations: a
        // domain-filtering source (allow or deny list) grants none beyond
        // the literals it names, so `.codexrc.json`'s `restricted` loopback
        // and `ip_allow` count only where no other source filters by domain.
        let all: Vec<NetworkLevel> = levels.iter().map(|(level, _)| *level).collect();
        super::egress::egress_rules(
            &super::egress::Sources {
                level,
                levels: &all,
                codexrc: codexrc_level,
                managed_only: managed_only.value,
                monitor: !deny_on_violation.value,
                mode: network_mode.value,
            },
            &domains,
            files,
        )
    });
    if filtered {
        notes.push(format!(
            "network is {level}{}: enforced by the egress proxy (the command runs in an empty \
             network namespace whose only way out is the proxy)",
            if network_filters.is_empty() {
                String::new()
            } else {
                format!(", filtered by {}", network_filters.join("; "))
            }
        ));
    }
    if !deny_on_violation.value {
        notes.push(
            "monitor mode (deny_on_violation: false): file-system restrictions stay enforced"
                .into(),
        );
    }
    notes.extend(expiry_notes(profile_policy, profile_name, files));
    let sandbox_policy = profile_policy.with_network(network_enforced_open);
    EffectivePolicy {
        sandbox_policy: Decided::new(sandbox_policy, profile_source),
        network: Decided::new(level, decided_by),
        network_enforced_open,
        network_mode,
        network_filters,
        egress,
        domains,
        deny_on_violation,
        environment: files.codexrc.as_ref().map(|rc| {
            Decided::new(
                rc.value.environment_context.name,
                where_(rc, "/environment_context/name"),
            )
        }),
        managed_allowed_domains_only: managed_only,
        unix_sockets: allowed_sockets(profile_policy, profile_name, files),
        notes,
    }
}

/// See [`EffectivePolicy::unix_sockets`]: most restrictive wins.
fn allowed_sockets(
    profile_policy: &SandboxPolicy,
    profile_name: &str,
    files: &View<'_>,
) -> Vec<PathBuf> {
    let sources = rule_sources(profile_policy, profile_name, files);
    let allowed_by = |rules: &NetworkRules, path: &Path| {
        rules
            .unix_sockets
            .iter()
            .any(|e| e.path == path && e.rule == SocketRule::Allow)
    };
    let managed = files
        .requirements
        .map(|(_, rules)| rules)
        .filter(|rules| !rules.unix_sockets.is_empty());
    let mut out: Vec<PathBuf> = sources
        .iter()
        .flat_map(|source| &source.rules.unix_sockets)
        .filter(|e| e.rule == SocketRule::Allow)
        .map(|e| e.path.clone())
        .filter(|path| {
            !sources.iter().any(|source| {
                source
                    .rules
                    .unix_sockets
                    .iter()
                    .any(|e| e.path == *path && e.rule == SocketRule::None)
            }) && managed.is_none_or(|m| allowed_by(m, path))
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// A block of domain and socket rules that applies.
struct RuleSource<'a> {
    rules: &'a NetworkRules,
    /// What the block is called in notes.
    name: String,
    /// The key its domain entries are written under.
    domains_key: String,
    /// Where a managed-only allowlist would be decided.
    managed_only_at: String,
}

/// The rule blocks that apply: managed requirements; config.toml's
/// `[permissions.<profile>.network]` for the profile in force; and its
/// `[sandbox_workspace_write] allowlisted_domains` for a workspace-write
/// sandbox with network.
fn rule_sources<'a>(
    profile_policy: &SandboxPolicy,
    profile_name: &str,
    files: &View<'a>,
) -> Vec<RuleSource<'a>> {
    let mut out = Vec::new();
    if let Some((source, rules)) = &files.requirements {
        out.push(RuleSource {
            rules,
            name: "[experimental_network]".to_owned(),
            domains_key: "experimental_network.domains".to_owned(),
            managed_only_at: format!(
                "{} experimental_network.managed_allowed_domains_only",
                source.path().display()
            ),
        });
    }
    if let Some(config) = &files.config
        && let Some((name, rules)) = config
            .permissions
            .iter()
            .find(|(name, _)| name == profile_name)
    {
        out.push(RuleSource {
            rules,
            name: format!("[permissions.{name}.network]"),
            domains_key: format!("permissions.{name}.network.domains"),
            managed_only_at: String::new(),
        });
    }
    if let Some(rules) = files.workspace_allowlist(profile_policy) {
        out.push(RuleSource {
            rules,
            name: "[sandbox_workspace_write] allowlisted_domains".to_owned(),
            domains_key: "sandbox_workspace_write.allowlisted_domains".to_owned(),
            managed_only_at: String::new(),
        });
    }
    out
}

/// What expired, and an `allowlisted_domains` the sandbox leaves without
/// effect: the allow entries a block no longer applies are named, so a run
/// that suddenly reaches less says why.
fn expiry_notes(
    profile_policy: &SandboxPolicy,
    profile_name: &str,
    files: &View<'_>,
) -> Vec<String> {
    let mut out = Vec::new();
    for source in rule_sources(profile_policy, profile_name, files) {
        let rules = source.rules;
        if let Some(expiry) = &rules.expiry
            && !rules.expired.is_empty()
        {
            out.push(format!(
                "{} expired on {} ({}): {} no longer apply{}",
                source.name,
                expiry.date,
                expiry.at(),
                rules.expired,
                if rules.expired.domains.is_empty() {
                    ""
                } else {
                    "; the network stays filtered, allowing nothing from them"
                }
            ));
        }
    }
    if files.workspace_allowlist(profile_policy).is_none()
        && let Some(config) = files.config
        && let Some(list) = config
            .config
            .sandbox_workspace_write
            .as_ref()
            .and_then(|t| t.allowlisted_domains.as_ref())
    {
        out.push(format!(
            "[sandbox_workspace_write] allowlisted_domains ({}) have no effect: the sandbox is \
             {}{}; they apply to workspace-write with network",
            config.source.locate(list.span().start),
            profile_policy.mode(),
            if profile_policy.has_network_access() {
                ""
            } else {
                " without network"
            }
        ));
    }
    out
}

/// The network mode: `limited` for a read-only sandbox with network (the
/// `net-read-only` profile) or where a permission profile asks for it.
fn network_mode(
    profile_policy: &SandboxPolicy,
    profile_source: &str,
    profile_name: &str,
    files: &View<'_>,
) -> Decided<NetworkMode> {
    if profile_policy.network_mode() == NetworkMode::Limited {
        return Decided::new(NetworkMode::Limited, profile_source);
    }
    rule_sources(profile_policy, profile_name, files)
        .into_iter()
        .filter_map(|source| source.rules.mode.as_ref())
        .find(|entry| entry.mode == NetworkMode::Limited)
        .map_or_else(
            || Decided::new(NetworkMode::Full, "default"),
            |entry| Decided::new(NetworkMode::Limited, entry.at.clone()),
        )
}

/// Everything that filters the network, with where it was written: every
/// domain any source names, a managed-only allowlist, an allowlist with no
/// entry in force, port lists, address lists and limits.
fn network_filters(
    profile_policy: &SandboxPolicy,
    profile_name: &str,
    files: &View<'_>,
    domains: &[DomainDecision],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    if !domains.is_empty() {
        out.push(format!(
            "{} domain rule(s), first at {}",
            domains.len(),
            domains[0].decided_by
        ));
    }
    for source in rule_sources(profile_policy, profile_name, files) {
        let rules = source.rules;
        if rules.managed_allowed_domains_only {
            out.push(source.managed_only_at);
        } else if let Some(at) = &rules.allowlist_at
            && !rules.domains.iter().any(|e| e.rule == DomainRule::Allow)
        {
            out.push(format!("an allowlist with no entry in force at {at}"));
        }
    }
    if let Some(h) = &files.harness
        && let Some(egress) = &h.value.network.egress
        && !egress.ports.is_empty()
    {
        out.push(format!("ports at {}", where_(h, "/network/egress/ports")));
    }
    if let Some(rc) = &files.codexrc {
        let policy = &rc.value.environment_context.outbound_policy;
        if !policy.port_allow.is_empty() {
            out.push(format!(
                "ports at {}",
                where_(rc, "/environment_context/outbound_policy/port_allow")
            ));
        }
        if !policy.ip_allow.is_empty() {
            out.push(format!(
                "addresses at {}",
                where_(rc, "/environment_context/outbound_policy/ip_allow")
            ));
        }
        if rc.value.limits.as_ref().is_some_and(|l| {
            l.http_max_requests.is_some()
                || l.http_concurrency.is_some()
                || l.timeout_seconds.is_some()
        }) {
            out.push(format!("limits at {}", where_(rc, "/limits")));
        }
    }
    out
}

fn level_of(mode: EgressMode) -> NetworkLevel {
    match mode {
        EgressMode::Denylist => NetworkLevel::Denylist,
        EgressMode::Open => NetworkLevel::Open,
        _ => NetworkLevel::Allowlist,
    }
}
