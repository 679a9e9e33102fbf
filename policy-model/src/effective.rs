//! The effective policy: the security profile's sandbox policy composed with
//! `.codexrc.json`, `harness.policy.json`, managed `requirements.toml` and
//! `config.toml` permission rules. Most restrictive wins, denies win over
//! allows, and every field records the source that decided it.

use std::fmt;

use serde::Serialize;

use crate::validate::Validation;
use crate::{
    DomainMatcher, DomainPattern, DomainRule, EgressMode, EnvironmentName, Host, NetworkAccess,
    SandboxPolicy,
};

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

/// The decision on one domain pattern named by any source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainDecision {
    /// The normalized pattern.
    pub pattern: String,
    /// `allow`, `deny`, or `not-allowed` (named, but dropped by a stricter source).
    pub decision: &'static str,
    /// The file (and location) that decided.
    pub decided_by: String,
    /// Why, in words.
    pub reason: String,
    /// The file that named the pattern (which may not be the one that decided).
    #[serde(skip)]
    pub(crate) named_in: std::path::PathBuf,
}

/// The composed policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EffectivePolicy {
    /// The sandbox policy as it will be enforced (network adjusted below).
    pub sandbox_policy: Decided<SandboxPolicy>,
    /// The network level the configuration asks for.
    pub network: Decided<NetworkLevel>,
    /// Whether the sandbox lets the command use the network at all: only when
    /// the level is open *and* nothing filters it.
    pub network_enforced_open: bool,
    /// What makes the network *filtered* (a domain rule from any file, a
    /// managed-only allowlist, a port list or a limit), each with where it was
    /// written. Filtering needs the egress proxy, which this release does not
    /// have, so a filtered network is enforced closed — never open.
    pub network_filters: Vec<String>,
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
    /// stricter, never looser).
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

/// The files composition reads, possibly a subset of a [`Validation`].
pub(crate) struct View<'a> {
    pub(crate) codexrc: Option<&'a crate::Located<crate::CodexRc>>,
    pub(crate) harness: Option<&'a crate::Located<crate::HarnessPolicy>>,
    pub(crate) config: Option<&'a crate::validate::LoadedConfig>,
    pub(crate) requirements: Option<&'a (crate::SourceFile, crate::NetworkRules)>,
}

impl<'a> View<'a> {
    /// The files of `files` whose path `include` accepts.
    pub(crate) fn of(files: &'a Validation, include: &dyn Fn(&std::path::Path) -> bool) -> Self {
        Self {
            codexrc: files.codexrc.as_ref().filter(|f| include(f.source.path())),
            harness: files.harness.as_ref().filter(|f| include(f.source.path())),
            config: files.config.as_ref().filter(|f| include(f.source.path())),
            requirements: files
                .requirements
                .as_ref()
                .filter(|(s, _)| include(s.path())),
        }
    }
}

pub(crate) fn compose_view(
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
    if let Some(rc) = &files.codexrc {
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
    // Managed requirements and config.toml permission rules filter by domain:
    // any allow entry (or a managed-only allowlist) means only allowed domains,
    // deny entries alone mean everything but them. Never open.
    for (rules, at, managed_only_at) in rule_sources(profile_name, files) {
        let level = if rules.managed_allowed_domains_only
            || rules.domains.iter().any(|e| e.rule == DomainRule::Allow)
        {
            NetworkLevel::Allowlist
        } else if !rules.domains.is_empty() {
            NetworkLevel::Denylist
        } else {
            continue;
        };
        let decided_by = match rules.domains.first() {
            Some(first) if !rules.managed_allowed_domains_only => {
                format!("{} {at}.domains", first.at)
            }
            _ => managed_only_at,
        };
        levels.push((level, decided_by));
    }
    // Most restrictive wins; on a tie the first (the more authoritative) source.
    let (level, decided_by) = levels
        .iter()
        .min_by_key(|(level, _)| *level)
        .cloned()
        .unwrap_or((NetworkLevel::Off, "default".into()));

    let domains = domain_decisions(profile_name, files);
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
            let decided_by = if h.locator.contains("/deny_on_violation") {
                where_(h, "/deny_on_violation")
            } else {
                format!("{} (default)", h.source.path().display())
            };
            Decided::new(h.value.deny_on_violation, decided_by)
        },
    );

    let mut notes = Vec::new();
    let network_filters = network_filters(profile_name, files, &domains);
    // The sandbox opens the host network only for `open` with nothing that
    // filters it; every other level, and any domain rule, port list or limit,
    // needs the egress proxy, which is not part of this release. Closing the
    // network is stricter than any of them, never looser.
    let network_enforced_open = level == NetworkLevel::Open && network_filters.is_empty();
    if matches!(
        level,
        NetworkLevel::LoopbackOnly | NetworkLevel::Allowlist | NetworkLevel::Denylist
    ) {
        notes.push(format!(
            "network is {level} by configuration; domain and address filtering needs the egress \
             proxy, which this release does not have, so the sandbox keeps the network OFF"
        ));
    } else if level == NetworkLevel::Open && !network_filters.is_empty() {
        notes.push(format!(
            "network is open but filtered by configuration ({}); filtering needs the egress \
             proxy, which this release does not have, so the sandbox keeps the network OFF",
            network_filters.join("; ")
        ));
    }
    if !deny_on_violation.value {
        notes.push(
            "monitor mode (deny_on_violation: false): file-system restrictions stay enforced"
                .into(),
        );
    }
    let sandbox_policy = with_network(profile_policy, network_enforced_open);
    EffectivePolicy {
        sandbox_policy: Decided::new(sandbox_policy, profile_source),
        network: Decided::new(level, decided_by),
        network_enforced_open,
        network_filters,
        domains,
        deny_on_violation,
        environment: files.codexrc.as_ref().map(|rc| {
            Decided::new(
                rc.value.environment_context.name,
                where_(rc, "/environment_context/name"),
            )
        }),
        managed_allowed_domains_only: managed_only,
        unix_sockets: allowed_sockets(profile_name, files),
        notes,
    }
}

/// See [`EffectivePolicy::unix_sockets`]: most restrictive wins.
fn allowed_sockets(profile_name: &str, files: &View<'_>) -> Vec<std::path::PathBuf> {
    use crate::network_rules::SocketRule;
    let sources = rule_sources(profile_name, files);
    let allowed_by = |rules: &crate::NetworkRules, path: &std::path::Path| {
        rules
            .unix_sockets
            .iter()
            .any(|e| e.path == path && e.rule == SocketRule::Allow)
    };
    let managed = files
        .requirements
        .map(|(_, rules)| rules)
        .filter(|rules| !rules.unix_sockets.is_empty());
    let mut out: Vec<std::path::PathBuf> = sources
        .iter()
        .flat_map(|(rules, _, _)| &rules.unix_sockets)
        .filter(|e| e.rule == SocketRule::Allow)
        .map(|e| e.path.clone())
        .filter(|path| {
            !sources.iter().any(|(rules, _, _)| {
                rules
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

/// The rule maps that apply: managed requirements, and config.toml's
/// `[permissions.<profile>.network]` for the profile in force; each with its
/// key prefix and where a managed-only allowlist would be decided.
fn rule_sources<'a>(
    profile_name: &str,
    files: &View<'a>,
) -> Vec<(&'a crate::NetworkRules, String, String)> {
    let mut out = Vec::new();
    if let Some((source, rules)) = &files.requirements {
        out.push((
            rules,
            "experimental_network".to_owned(),
            format!(
                "{} experimental_network.managed_allowed_domains_only",
                source.path().display()
            ),
        ));
    }
    if let Some(config) = &files.config
        && let Some((name, rules)) = config
            .permissions
            .iter()
            .find(|(name, _)| name == profile_name)
    {
        out.push((rules, format!("permissions.{name}.network"), String::new()));
    }
    out
}

/// Everything that filters the network, with where it was written: every
/// domain any source names, a managed-only allowlist, port lists, address
/// lists and limits.
fn network_filters(
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
    for (rules, _, managed_only_at) in rule_sources(profile_name, files) {
        if rules.managed_allowed_domains_only {
            out.push(managed_only_at);
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

fn where_<T>(file: &crate::Located<T>, pointer: &str) -> String {
    format!("{} {}", file.locate(pointer), crate::dotted(pointer))
}

pub(crate) fn with_network(policy: &SandboxPolicy, open: bool) -> SandboxPolicy {
    match policy {
        SandboxPolicy::ReadOnly { .. } => SandboxPolicy::ReadOnly {
            network_access: open,
        },
        SandboxPolicy::WorkspaceWrite {
            writable_roots,
            exclude_tmpdir_env_var,
            exclude_slash_tmp,
            ..
        } => SandboxPolicy::WorkspaceWrite {
            writable_roots: writable_roots.clone(),
            network_access: open,
            exclude_tmpdir_env_var: *exclude_tmpdir_env_var,
            exclude_slash_tmp: *exclude_slash_tmp,
        },
        // Full access has no network switch; a closed network must be honoured
        // by the strictest policy that has one.
        SandboxPolicy::DangerFullAccess if !open => SandboxPolicy::workspace_write(false),
        other => other.clone(),
    }
}

/// One entry a source contributes: pattern, allow/deny, where.
struct Named {
    pattern: DomainPattern,
    rule: DomainRule,
    at: String,
    file: std::path::PathBuf,
    managed: bool,
    runtime_file: Option<usize>,
}

/// Adds a runtime file's egress list: its entries, and (for an allowlist) the
/// list itself, which every other runtime file's allowed domain must pass.
fn add_runtime_list<T>(
    named: &mut Vec<Named>,
    runtime_lists: &mut Vec<(Vec<DomainPattern>, String)>,
    file: &crate::Located<T>,
    pointer: &str,
    mode: EgressMode,
    patterns: &[DomainPattern],
) {
    let rule = if mode == EgressMode::Denylist {
        DomainRule::Deny
    } else {
        DomainRule::Allow
    };
    let list_index = (rule == DomainRule::Allow).then_some(runtime_lists.len());
    for (i, pattern) in patterns.iter().enumerate() {
        named.push(Named {
            pattern: pattern.clone(),
            rule,
            at: where_(file, &format!("{pointer}/{i}")),
            file: file.source.path().to_path_buf(),
            managed: false,
            runtime_file: list_index,
        });
    }
    if list_index.is_some() {
        runtime_lists.push((patterns.to_vec(), file.source.path().display().to_string()));
    }
}

fn domain_decisions(profile_name: &str, files: &View<'_>) -> Vec<DomainDecision> {
    let mut named: Vec<Named> = Vec::new();
    let mut runtime_lists: Vec<(Vec<DomainPattern>, String)> = Vec::new();
    if let Some(rc) = &files.codexrc {
        let policy = &rc.value.environment_context.outbound_policy;
        let pointer = "/environment_context/outbound_policy/dns_allow";
        add_runtime_list(
            &mut named,
            &mut runtime_lists,
            rc,
            pointer,
            policy.mode,
            &policy.dns_allow,
        );
    }
    if let Some(h) = &files.harness
        && let Some(egress) = &h.value.network.egress
    {
        let pointer = "/network/egress/domains";
        add_runtime_list(
            &mut named,
            &mut runtime_lists,
            h,
            pointer,
            egress.mode,
            &egress.domains,
        );
    }
    if let Some((source, rules)) = &files.requirements {
        for e in &rules.domains {
            named.push(Named {
                pattern: e.pattern.clone(),
                rule: e.rule,
                at: e.at.clone(),
                file: source.path().to_path_buf(),
                managed: true,
                runtime_file: None,
            });
        }
    }
    if let Some(config) = &files.config
        && let Some((_, rules)) = config
            .permissions
            .iter()
            .find(|(name, _)| name == profile_name)
    {
        for e in &rules.domains {
            named.push(Named {
                pattern: e.pattern.clone(),
                rule: e.rule,
                at: e.at.clone(),
                file: config.source.path().to_path_buf(),
                managed: false,
                runtime_file: None,
            });
        }
    }

    let managed_only = files
        .requirements
        .as_ref()
        .is_some_and(|(_, r)| r.managed_allowed_domains_only);
    let denies: Vec<&Named> = named
        .iter()
        .filter(|n| n.rule == DomainRule::Deny)
        .collect();
    let matchers: Vec<DomainMatcher> = runtime_lists
        .iter()
        .map(|(list, _)| DomainMatcher::new(list))
        .collect();

    let mut out: Vec<DomainDecision> = Vec::new();
    for n in &named {
        let (decision, decided_by, reason) = if n.rule == DomainRule::Deny {
            ("deny", n.at.clone(), "denied (deny always wins)".to_owned())
        } else if let Some(deny) = denies.iter().find(|d| covers(&d.pattern, &n.pattern)) {
            (
                "deny",
                deny.at.clone(),
                format!("allowed at {} but denied here; deny wins", n.at),
            )
        } else if managed_only && !n.managed {
            (
                "not-allowed",
                n.at.clone(),
                "managed_allowed_domains_only: only managed allow entries count".to_owned(),
            )
        } else if is_loopback(&n.pattern) {
            (
                "allow",
                n.at.clone(),
                "local address (loopback is not external egress)".to_owned(),
            )
        } else if let Some(missing) = n.runtime_file.and_then(|own| {
            matchers
                .iter()
                .zip(&runtime_lists)
                .enumerate()
                .find(|(i, (m, (list, _)))| {
                    *i != own && !list.contains(&n.pattern) && !matches_exact(m, &n.pattern)
                })
        }) {
            let (_, (_, (_, file))) = missing;
            (
                "not-allowed",
                n.at.clone(),
                format!("not allowed by {file}: both runtime files must allow a domain"),
            )
        } else {
            (
                "allow",
                n.at.clone(),
                if n.managed {
                    "managed baseline".into()
                } else {
                    "allowed".into()
                },
            )
        };
        let pattern = n.pattern.to_string();
        if !out
            .iter()
            .any(|d| d.pattern == pattern && d.decided_by == decided_by)
        {
            out.push(DomainDecision {
                pattern,
                decision,
                decided_by,
                reason,
                named_in: n.file.clone(),
            });
        }
    }
    out
}

/// `localhost` and loopback addresses: local reach, which `validate` also leaves
/// out of the two files' egress comparison.
pub(crate) fn is_loopback(pattern: &DomainPattern) -> bool {
    match pattern {
        DomainPattern::Ip(ip) => ip.is_loopback(),
        DomainPattern::Exact(name) => name.as_str() == "localhost",
        _ => false,
    }
}

/// Whether deny pattern `deny` covers everything `allowed` names.
fn covers(deny: &DomainPattern, allowed: &DomainPattern) -> bool {
    if deny == allowed || deny.is_global_wildcard() {
        return true;
    }
    let matcher = DomainMatcher::new([deny]);
    matches_exact(&matcher, allowed)
}

/// For an exact name or IP, whether `matcher` matches it.
fn matches_exact(matcher: &DomainMatcher, pattern: &DomainPattern) -> bool {
    match pattern {
        DomainPattern::Exact(name) => matcher.matches(&Host::Name(name.clone())),
        DomainPattern::Ip(ip) => matcher.matches(&Host::Ip(*ip)),
        _ => false,
    }
}
