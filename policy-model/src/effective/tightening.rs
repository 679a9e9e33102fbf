//! Policy files the sandboxed command could have written may only make the
//! policy stricter.
//!
//! A file inside a writable root of the run (or anywhere, under full disk
//! access) may have been written by an earlier sandboxed command: an agent can
//! drop a `harness.policy.json` with `deny_on_violation: false` into its
//! workspace, or create `~/.codex/config.toml` when it runs in `$HOME`. Such a
//! file is still read, because it can tighten the policy, but every key that
//! would loosen it is a [`COMMAND_WRITABLE_LOOSENS`] finding (an error) naming
//! the file, line, column and key, why, and how to fix it. "Loosen" is measured against the same run without the
//! command-writable files. The decision for every key is in
//! `docs/composition.md`.

use std::ops::Range;
use std::path::Path;

use super::composition::{NetworkLevel, compose_view};
use super::domains::DomainOutcome;
use super::view::View;
use crate::domain::DomainPattern;
use crate::files::{
    ApprovalPolicy, EgressMode, Location, NetworkAccess, NetworkRules, SocketRule, SourceFile,
    dotted, pointer_segment, shell_environment_set_key,
};
use crate::policy::{CommandWritable, SandboxMode, SandboxPolicy};
use crate::validate::{COMMAND_WRITABLE_LOOSENS, Finding, LoadedConfig, Validation};

/// What the check needs to know about the run.
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    /// The profile's sandbox policy, with `--writable-root`s applied.
    pub profile_policy: &'a SandboxPolicy,
    /// The profile's name (selects `[permissions.<name>]`).
    pub profile_name: &'a str,
    /// Whether `config.toml`'s sandbox keys chose the profile (no flag or
    /// environment variable did).
    pub profile_from_config: bool,
    /// What the command could have written.
    pub writable: &'a CommandWritable,
}

/// Every key of a command-writable file in `files` that would loosen the
/// policy; empty when no such file loosens anything.
pub fn loosening_findings(files: &Validation, run: &RunContext<'_>) -> Vec<Finding> {
    let writable = |path: &Path| run.writable.could_write(path);
    if !(files
        .codexrc
        .as_ref()
        .is_some_and(|f| writable(f.source.path()))
        || files
            .harness
            .as_ref()
            .is_some_and(|f| writable(f.source.path()))
        || files
            .config
            .as_ref()
            .is_some_and(|f| writable(f.source.path()))
        || files
            .requirements
            .as_ref()
            .is_some_and(|(s, _)| writable(s.path())))
    {
        return Vec::new();
    }
    let mut out = Vec::new();
    let finding = loosening_finding;

    if let Some(h) = files.harness.as_ref().filter(|f| writable(f.source.path())) {
        let p = &h.value;
        if !p.deny_on_violation {
            out.push(finding(
                h.locate("/deny_on_violation"),
                "deny_on_violation".into(),
                "deny_on_violation: false is monitor mode, which lets exec-policy and network \
                 violations through"
                    .into(),
                "set \"deny_on_violation\": true or remove the key",
            ));
        }
        if p.observability.sample_rate.get() < 1.0 {
            out.push(finding(
                h.locate("/observability/sample_rate"),
                "observability.sample_rate".into(),
                format!(
                    "sample_rate {} records fewer allowed events than the default 1",
                    p.observability.sample_rate.get()
                ),
                "remove sample_rate (or set it to 1)",
            ));
        }
    }

    if let Some(rc) = files.codexrc.as_ref().filter(|f| writable(f.source.path()))
        && let Some(credentials) = &rc.value.credentials
    {
        if credentials.aws_profile.is_some() {
            out.push(finding(
                rc.locate("/credentials/aws_profile"),
                "credentials.aws_profile".into(),
                "aws_profile chooses the cloud identity `launch` hands to the command".into(),
                "remove credentials.aws_profile",
            ));
        }
        for name in credentials.secrets.keys() {
            let pointer = format!("/credentials/secrets/{}", pointer_segment(name));
            out.push(finding(
                rc.locate(&pointer),
                dotted(&pointer),
                "a secret reference chooses which secret the harness fetches for the command"
                    .into(),
                "remove the entry from credentials.secrets",
            ));
        }
    }

    if let Some(config) = files.config.as_ref().filter(|f| writable(f.source.path())) {
        config_findings(config, run, &mut out, &finding);
    }
    if let Some((source, rules)) = files
        .requirements
        .as_ref()
        .filter(|(s, _)| writable(s.path()))
    {
        socket_findings(source, rules, &["experimental_network"], &mut out, &finding);
    }

    network_findings(files, run, &writable, &mut out, &finding);
    // One finding per key: a literal may be both a domain the other files do
    // not allow and an internal grant.
    let mut seen = std::collections::HashSet::new();
    out.retain(|f| seen.insert((f.file.clone(), f.line, f.column, f.key.clone())));
    out
}

type MakeFinding<'f> = dyn Fn(Location, String, String, &str) -> Finding + 'f;

/// A [`COMMAND_WRITABLE_LOOSENS`] finding: where, which key, why, and how
/// to fix it.
fn loosening_finding(location: Location, key: String, why: String, fix: &str) -> Finding {
    let mut f = Finding::new(
        COMMAND_WRITABLE_LOOSENS,
        Some(location),
        Some(key),
        format!(
            "{why}; this file lies where the sandboxed command can write, so it may only make the policy stricter"
        ),
    );
    f.fix = format!(
        "{fix}, or move the file outside every writable root of the run (pass it \
         with --policy, --runtime, --config or --requirements from a directory the \
         command cannot write)"
    );
    f
}

/// The internal destinations a command-writable `.codexrc.json` would open
/// through the egress proxy — `ip_allow`, `restricted` (the host's
/// loopback), IP literals and `localhost` in `dns_allow` (an exact literal
/// lifts the refusal of local addresses) — when the run without it does
/// not reach them: unless that run's network is open and unfiltered
/// (`baseline_open`), each is a [`COMMAND_WRITABLE_LOOSENS`] finding. A
/// literal the other files allow exactly (`baseline_allows`) is no gain.
///
/// Also for callers whose own rules filter the network (a rules file's
/// `network_rule`): they pass `baseline_open = false`.
pub fn internal_grant_findings(
    files: &Validation,
    writable: &dyn Fn(&Path) -> bool,
    baseline_open: bool,
    baseline_allows: &dyn Fn(&DomainPattern) -> bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let Some(rc) = files.codexrc.as_ref().filter(|f| writable(f.source.path())) else {
        return out;
    };
    if baseline_open {
        return out;
    }
    let ctx = &rc.value.environment_context;
    let policy = &ctx.outbound_policy;
    if ctx.network_access == NetworkAccess::Restricted {
        let pointer = "/environment_context/network_access";
        out.push(loosening_finding(
            rc.locate(pointer),
            dotted(pointer),
            "network_access restricted makes the host's loopback reachable, which the policy \
             without this file does not allow"
                .into(),
            "use \"disabled\" or remove the key",
        ));
    }
    if !policy.ip_allow.is_empty() {
        let pointer = "/environment_context/outbound_policy/ip_allow";
        out.push(loosening_finding(
            rc.locate(pointer),
            dotted(pointer),
            "ip_allow makes internal addresses reachable that the policy without this file \
             does not allow"
                .into(),
            "remove ip_allow",
        ));
    }
    if ctx.network_access == NetworkAccess::Enabled && policy.mode != EgressMode::Denylist {
        for (i, pattern) in policy.dns_allow.iter().enumerate() {
            let literal = matches!(pattern, DomainPattern::Ip(_)) || pattern.is_loopback();
            if literal && !baseline_allows(pattern) {
                let pointer = format!("/environment_context/outbound_policy/dns_allow/{i}");
                out.push(loosening_finding(
                    rc.locate(&pointer),
                    dotted(&pointer),
                    format!(
                        "allowing the literal {pattern} lifts the refusal of local addresses for \
                         it, which the policy without this file does not allow"
                    ),
                    "remove the entry (allow it in a file the command cannot write)",
                ));
            }
        }
    }
    out
}

fn config_findings(
    config: &LoadedConfig,
    run: &RunContext<'_>,
    out: &mut Vec<Finding>,
    finding: &MakeFinding<'_>,
) {
    let source = &config.source;
    let c = &config.config;
    let at = |span: Option<Range<usize>>| source.locate(span.map_or(0, |s| s.start));
    let key_at = |path: &[&str]| at(toml_key_span(source.text(), path));

    // The sandbox keys, when they chose the profile: anything but read-only
    // without network is looser than the default profile.
    if run.profile_from_config
        && let Ok(Some(chosen)) = c.configured_sandbox(source)
        && (chosen.mode != SandboxMode::ReadOnly || chosen.network_access)
    {
        let path: Vec<&str> = chosen.mode_key.split('.').collect();
        out.push(finding(
            key_at(&path),
            chosen.mode_key.clone(),
            format!(
                "{} = {}{} chooses a profile looser than the default (offline)",
                chosen.mode_key,
                chosen.mode,
                chosen
                    .network_key
                    .as_ref()
                    .map(|k| format!(" with {k} = {}", chosen.network_access))
                    .unwrap_or_default()
            ),
            "choose the profile with --profile or CODEX_SECURITY_PROFILE instead",
        ));
    }

    // A named profile can choose any mode and approval policy.
    if run.profile_from_config
        && let Some(name) = &c.profile
    {
        out.push(finding(
            at(Some(name.span())),
            "profile".into(),
            format!(
                "profile = {:?} chooses a named profile, which may loosen the policy",
                name.get_ref()
            ),
            "choose the profile with --profile or CODEX_SECURITY_PROFILE instead",
        ));
    }
    // A trusted project lets its `.codex-profile` ask for more.
    for (path, project) in &c.projects {
        if let Some(level) = project
            .trust_level
            .as_ref()
            .filter(|l| *l.get_ref() == crate::files::TrustLevel::Trusted)
        {
            out.push(finding(
                at(Some(level.span())),
                format!("projects.{path:?}.trust_level"),
                "trust_level = \"trusted\" lets the directory's .codex-profile ask for more".into(),
                "mark the directory trusted in a config file the command cannot write",
            ));
        }
    }

    if let Some(table) = &c.sandbox_workspace_write {
        if matches!(run.profile_policy, SandboxPolicy::WorkspaceWrite { .. }) {
            for root in &table.writable_roots {
                out.push(finding(
                    at(Some(root.span())),
                    "sandbox_workspace_write.writable_roots".into(),
                    format!(
                        "writable root {} adds a directory the command may write",
                        root.get_ref().display()
                    ),
                    "remove the entry (or pass --writable-root on the command line)",
                ));
            }
        }
        if let Some(approval) = table.ask_for_approval.filter(|a| loose_approval(*a)) {
            out.push(finding(
                key_at(&["sandbox_workspace_write", "ask_for_approval"]),
                "sandbox_workspace_write.ask_for_approval".into(),
                format!("ask_for_approval = {approval:?} asks less than the default (on-request)"),
                "remove the key or use \"on-request\" or \"untrusted\"",
            ));
        }
    }
    if let Some(approval) = c
        .sandbox_read_only
        .as_ref()
        .and_then(|t| t.ask_for_approval)
        .filter(|a| loose_approval(*a))
    {
        out.push(finding(
            key_at(&["sandbox_read_only", "ask_for_approval"]),
            "sandbox_read_only.ask_for_approval".into(),
            format!("ask_for_approval = {approval:?} asks less than the default (on-request)"),
            "remove the key or use \"on-request\" or \"untrusted\"",
        ));
    }
    // Codex's own approval key, top level and in the active profile.
    let mut approval_keys = vec![vec!["approval_policy".to_owned()]];
    if let Some(name) = &c.profile {
        approval_keys.push(vec![
            "profiles".to_owned(),
            name.get_ref().clone(),
            "approval_policy".to_owned(),
        ]);
    }
    for path in approval_keys {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        if let Some(value) = toml_string(source.text(), &path)
            && matches!(value.as_str(), "never" | "on-failure")
        {
            out.push(finding(
                key_at(&path),
                path.join("."),
                format!("approval_policy = {value:?} asks less than the default (on-request)"),
                "remove the key or use \"on-request\" or \"untrusted\"",
            ));
        }
    }

    if let Some(audit) = &c.audit {
        for (set, key, why) in [
            (
                audit.path.is_some(),
                "path",
                "the audit log's location decides where the evidence goes",
            ),
            (
                audit.max_bytes.is_some(),
                "max_bytes",
                "the rotation size decides how soon evidence is rotated away",
            ),
            (
                audit.keep.is_some(),
                "keep",
                "the number of rotated files kept decides how soon evidence is deleted",
            ),
        ] {
            if set {
                out.push(finding(
                    key_at(&["audit", key]),
                    format!("audit.{key}"),
                    why.into(),
                    &format!("remove [audit] {key}"),
                ));
            }
        }
    }

    // The command's environment: `inherit`, `exclude` and `include_only`
    // only take variables away; these two hand the command more.
    if let Some(env) = &c.shell_environment_policy {
        if let Some(flag) = env
            .ignore_default_excludes
            .as_ref()
            .filter(|f| *f.get_ref())
        {
            out.push(finding(
                at(Some(flag.span())),
                "shell_environment_policy.ignore_default_excludes".into(),
                "ignore_default_excludes = true hands the command variables named like \
                 credentials and values holding a secret"
                    .into(),
                "remove the key (or set it to false)",
            ));
        }
        for name in env.set.iter().flat_map(|set| set.get_ref().keys()) {
            out.push(finding(
                at(Some(name.span())),
                shell_environment_set_key(name.get_ref()),
                format!(
                    "set chooses the value of {:?} in the command's environment; a variable \
                     like LD_PRELOAD or PATH would run code of the command's choosing in a \
                     later run, unsandboxed ones included",
                    name.get_ref()
                ),
                "remove the entry (set it in a config.toml the command cannot write)",
            ));
        }
    }

    // What the profile shows again of the hidden credential stores; every
    // profile's table, since a later run may choose another profile.
    for (name, profile) in &c.permissions {
        for entry in profile.filesystem.iter().flat_map(|f| &f.allow_read) {
            out.push(finding(
                at(Some(entry.span())),
                format!("permissions.{name}.filesystem.allow_read"),
                format!(
                    "allow_read {:?} lets sandboxed commands read a hidden credential store",
                    entry.get_ref()
                ),
                "remove the entry (write it in a config.toml the command cannot write)",
            ));
        }
    }

    if let Some((name, rules)) = config
        .permissions
        .iter()
        .find(|(name, _)| name == run.profile_name)
    {
        socket_findings(
            source,
            rules,
            &["permissions", name, "network"],
            out,
            finding,
        );
    }
}

/// Codex's default is `on-request`; `on-failure` and `never` ask less.
fn loose_approval(approval: ApprovalPolicy) -> bool {
    matches!(approval, ApprovalPolicy::OnFailure | ApprovalPolicy::Never)
}

fn socket_findings(
    source: &SourceFile,
    rules: &NetworkRules,
    prefix: &[&str],
    out: &mut Vec<Finding>,
    finding: &MakeFinding<'_>,
) {
    let key_at =
        |path: &[&str]| source.locate(toml_key_span(source.text(), path).map_or(0, |s| s.start));
    if rules.dangerously_allow_all_unix_sockets {
        let path: Vec<&str> = prefix
            .iter()
            .copied()
            .chain(["dangerously_allow_all_unix_sockets"])
            .collect();
        out.push(finding(
            key_at(&path),
            path.join("."),
            "dangerously_allow_all_unix_sockets lets the command connect to any socket".into(),
            "remove the key",
        ));
    }
    for entry in rules
        .unix_sockets
        .iter()
        .filter(|e| e.rule == SocketRule::Allow)
    {
        let socket = entry.path.to_string_lossy();
        let mut path: Vec<&str> = prefix.to_vec();
        path.extend(["unix_sockets", &socket]);
        let mut location = key_at(&path);
        if location.line == 1 && location.column == 1 {
            // Legacy list form: point at the list.
            let mut legacy: Vec<&str> = prefix.to_vec();
            legacy.push("allow_unix_sockets");
            location = key_at(&legacy);
        }
        out.push(finding(
            location,
            format!("{}.unix_sockets", prefix.join(".")),
            format!("allowing the socket {socket} lets the command reach it"),
            "remove the entry",
        ));
    }
}

/// Domain allows and internal addresses: loosening when the run without the
/// command-writable files would not reach them.
fn network_findings(
    files: &Validation,
    run: &RunContext<'_>,
    writable: &dyn Fn(&Path) -> bool,
    out: &mut Vec<Finding>,
    finding: &MakeFinding<'_>,
) {
    let full = compose_view(
        run.profile_policy,
        "profile",
        run.profile_name,
        &View::of(files, &|_| true),
    );
    let baseline = compose_view(
        run.profile_policy,
        "profile",
        run.profile_name,
        &View::of(files, &|p| !writable(p)),
    );
    if full.egress.is_some() {
        let exact = |pattern: &DomainPattern| {
            baseline
                .egress
                .as_ref()
                .is_some_and(|rules| rules.allow.contains(pattern))
        };
        out.extend(internal_grant_findings(
            files,
            writable,
            baseline.network_enforced_open,
            &exact,
        ));
    }
    // Off or loopback only: no domain entry has any effect.
    if full.network.value <= NetworkLevel::LoopbackOnly {
        return;
    }
    let baseline_allows = |pattern: &DomainPattern| match baseline.network.value {
        NetworkLevel::Open | NetworkLevel::Denylist => true,
        NetworkLevel::Allowlist => baseline.domains.iter().any(|d| {
            d.decision == DomainOutcome::Allow
                && d.pattern
                    .parse::<DomainPattern>()
                    .is_ok_and(|outer| outer.covers(pattern))
        }),
        NetworkLevel::Off | NetworkLevel::LoopbackOnly => pattern.is_loopback(),
    };
    if full.network.value > NetworkLevel::LoopbackOnly {
        for d in full
            .domains
            .iter()
            .filter(|d| d.decision == DomainOutcome::Allow && writable(&d.named_in))
        {
            let Ok(pattern) = d.pattern.parse::<DomainPattern>() else {
                continue;
            };
            if baseline_allows(&pattern) {
                continue;
            }
            let (location, mut key) = split_at(&d.decided_by);
            if key.is_empty() {
                key = "domains".into();
            }
            out.push(finding(
                location,
                key,
                format!(
                    "allowing {} adds a domain that the policy without this file does not \
                     allow ({})",
                    d.pattern, baseline.network.value
                ),
                "remove the entry (allow it in a file the command cannot write)",
            ));
        }
    }
}

/// `file:line:col key` (as [`super::DomainDecision::decided_by`])
/// back into a location and a key.
fn split_at(decided_by: &str) -> (Location, String) {
    let (at, key) = decided_by.split_once(' ').unwrap_or((decided_by, ""));
    let mut parts = at.rsplitn(3, ':');
    let column = parts.next().and_then(|c| c.parse().ok()).unwrap_or(1);
    let line = parts.next().and_then(|l| l.parse().ok()).unwrap_or(1);
    let file = parts.next().unwrap_or(at);
    (
        Location {
            file: file.into(),
            line,
            column,
        },
        key.to_owned(),
    )
}

/// The span of the key at `path` in a TOML document (the last key found on
/// the way, when the full path is not there).
fn toml_key_span(text: &str, path: &[&str]) -> Option<Range<usize>> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    let mut span = None;
    for (i, key) in path.iter().enumerate() {
        let (k, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *key)?;
        span = Some(k.span());
        if i + 1 < path.len() {
            match v.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => return span,
            }
        }
    }
    span
}

/// The string at `path`, if there is one.
fn toml_string(text: &str, path: &[&str]) -> Option<String> {
    let root = toml::de::DeTable::parse(text).ok()?;
    let mut table = root.get_ref();
    for (i, key) in path.iter().enumerate() {
        let (_, v) = table.iter().find(|(k, _)| k.get_ref().as_ref() == *key)?;
        match v.get_ref() {
            toml::de::DeValue::Table(t) if i + 1 < path.len() => table = t,
            toml::de::DeValue::String(s) if i + 1 == path.len() => return Some(s.to_string()),
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_spans() {
        let text = "a = 1\n[audit]\npath = \"/x\"\n[p.q]\nr = \"never\"\n";
        let span = toml_key_span(text, &["audit", "path"]).unwrap();
        assert_eq!(&text[span], "path");
        assert_eq!(
            toml_string(text, &["p", "q", "r"]).as_deref(),
            Some("never")
        );
        assert_eq!(toml_string(text, &["a"]), None);
    }

    #[test]
    fn decided_by_splits_back() {
        let (l, k) = split_at("/w/h.json:6:9 network.egress.domains[0]");
        assert_eq!(
            (l.file.to_str(), l.line, l.column),
            (Some("/w/h.json"), 6, 9)
        );
        assert_eq!(k, "network.egress.domains[0]");
    }
}
