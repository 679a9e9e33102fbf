//! `explain`: the effective policy and the source that decided each field.

use codex_policy::model::effective::{AllowlistMiss, EffectivePolicy, EgressRules};
use codex_policy::model::{DomainPattern, EnvironmentPolicy, HiddenPaths, NetworkMode};
use codex_policy::{Composition, ResolvedProfile, SandboxPolicy};
use serde::Serialize;

use crate::{Failure, to_json};

#[derive(Serialize)]
struct Explanation<'a> {
    profile: &'a ResolvedProfile,
    effective: &'a EffectivePolicy,
    hidden: &'a HiddenPaths,
    environment: EnvironmentView<'a>,
    warnings: Vec<String>,
}

/// The environment policy and the variables of this process it drops,
/// by name (values are never shown).
#[derive(Serialize)]
struct EnvironmentView<'a> {
    policy: &'a EnvironmentPolicy,
    dropped: Vec<String>,
}

/// The environment policy, and the names it drops here.
pub(crate) fn environment_lines(policy: &EnvironmentPolicy) -> Vec<String> {
    let mut out: Vec<String> = policy
        .describe()
        .into_iter()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                format!("environment        {line}")
            } else {
                format!("  {line}")
            }
        })
        .collect();
    let dropped = policy.dropped(std::env::vars_os());
    out.push(format!(
        "  dropped here     {}",
        if dropped.is_empty() {
            "(none)".to_owned()
        } else {
            dropped.len().to_string()
        }
    ));
    out.extend(dropped.into_iter().map(|d| format!("    {d}")));
    out
}

/// `explain` output.
pub(crate) fn render(composed: &Composition, json: bool) -> Result<String, Failure> {
    let warnings: Vec<String> = composed
        .files
        .findings
        .iter()
        .map(ToString::to_string)
        .collect();
    let e = &composed.effective;
    if json {
        return to_json(&Explanation {
            profile: &composed.resolved,
            effective: e,
            hidden: &composed.hidden,
            environment: EnvironmentView {
                policy: &composed.environment_policy,
                dropped: composed.environment_policy.dropped(std::env::vars_os()),
            },
            warnings,
        });
    }
    let policy = serde_json::to_string(&e.sandbox_policy.value).map_err(Failure::internal)?;
    let mut out = vec![
        format!(
            "profile            {} ({})",
            composed.resolved.profile, composed.resolved.source
        ),
        format!("sandbox policy     {policy}"),
        format!(
            "approval           {}  <- {}",
            composed.resolved.approval.policy, composed.resolved.approval
        ),
        format!(
            "network            {}  <- {}",
            e.network.value, e.network.decided_by
        ),
        format!(
            "network enforced   {}",
            if e.network_enforced_open {
                "open (host network)"
            } else if e.egress.is_some() {
                "filtered: enforced by the egress proxy (an empty network namespace whose only \
                 way out is the proxy)"
            } else {
                "off"
            }
        ),
        format!(
            "network mode       {}  <- {}",
            mode_text(e.network_mode.value),
            e.network_mode.decided_by
        ),
        format!(
            "deny_on_violation  {}  <- {}",
            e.deny_on_violation.value, e.deny_on_violation.decided_by
        ),
        format!(
            "managed-only       {}  <- {}",
            e.managed_allowed_domains_only.value, e.managed_allowed_domains_only.decided_by
        ),
    ];
    out.extend(chain_lines(
        &composed.resolved,
        "named profile      ",
        "  extends          ",
    ));
    if let Some(env) = &e.environment {
        out.push(format!(
            "environment        {}  <- {}",
            env.value, env.decided_by
        ));
    }
    out.extend(hidden_lines(&composed.hidden, composed.sandbox_policy()));
    out.extend(environment_lines(&composed.environment_policy));
    if !e.domains.is_empty() {
        out.push("domains:".into());
        for d in &e.domains {
            out.push(format!(
                "  {:<12} {:<32} <- {}  ({})",
                d.decision, d.pattern, d.decided_by, d.reason
            ));
        }
    }
    if let Some(rules) = &e.egress {
        out.extend(egress_lines(rules));
    }
    for note in &e.notes {
        out.push(format!("note: {note}"));
    }
    for warning in warnings {
        out.push(format!("warning: {warning}"));
    }
    Ok(out.join("\n"))
}

/// What the commands may not read: every hidden path there now, and every
/// one the configuration named; the default locations that are absent are
/// counted (a store created later is hidden from the next command).
pub(crate) fn hidden_lines(hidden: &HiddenPaths, policy: &SandboxPolicy) -> Vec<String> {
    if policy.has_full_disk_write_access() {
        return vec!["hidden paths       none (full access reads everything)".to_owned()];
    }
    let (listed, absent): (Vec<_>, Vec<_>) = hidden
        .paths
        .iter()
        .partition(|p| p.path.symlink_metadata().is_ok() || !p.decided_by.starts_with("default"));
    let mut out = vec![format!(
        "hidden paths       {} (empty and read-only inside the sandbox){}",
        listed.len(),
        if absent.is_empty() {
            String::new()
        } else {
            format!(
                "; {} more default location(s) absent now, hidden if they appear",
                absent.len()
            )
        }
    )];
    out.extend(listed.iter().map(|p| {
        let absent = if p.path.symlink_metadata().is_ok() {
            ""
        } else {
            " (absent now)"
        };
        format!("  {:<40} <- {}{absent}", printable(&p.path), p.decided_by)
    }));
    out.extend(
        hidden
            .shown
            .iter()
            .map(|(path, at)| format!("  shown: {:<33} <- {at}", printable(path))),
    );
    out
}

/// A path as one line: quoted and escaped when it holds a control
/// character (a newline in a name must not forge an output line).
fn printable(path: &std::path::Path) -> String {
    let text = path.to_string_lossy();
    if text.chars().any(char::is_control) {
        format!("{text:?}")
    } else {
        text.into_owned()
    }
}

/// The named profile that chose, and what it extends, one line each.
pub(crate) fn chain_lines(resolved: &ResolvedProfile, first: &str, rest: &str) -> Vec<String> {
    let Some(named) = &resolved.named else {
        return Vec::new();
    };
    named
        .chain
        .iter()
        .enumerate()
        .map(|(i, link)| {
            if i == 0 {
                format!(
                    "{first}{} ({link}; profile from {})",
                    named.name, named.profile_key
                )
            } else {
                format!("{rest}{link}")
            }
        })
        .collect()
}

/// A network mode and what it lets through.
fn mode_text(mode: NetworkMode) -> String {
    format!("{mode} ({})", mode.describe())
}

/// What the egress proxy lets through, one line per kind of rule.
fn egress_lines(rules: &EgressRules) -> Vec<String> {
    let list = |items: Vec<String>| {
        if items.is_empty() {
            "(none)".to_owned()
        } else {
            items.join(", ")
        }
    };
    let text = |items: &[DomainPattern]| list(items.iter().map(ToString::to_string).collect());
    let limit =
        |value: Option<std::num::NonZeroU32>| value.map_or("none".to_owned(), |v| v.to_string());
    vec![
        "egress proxy:".to_owned(),
        format!("  mode             {}", mode_text(rules.mode)),
        format!("  allow            {}", text(&rules.allow)),
        format!("  deny             {}", text(&rules.deny)),
        format!("  ask              {}", text(&rules.ask)),
        format!(
            "  internal         {}{}",
            list(rules.ip_allow.iter().map(ToString::to_string).collect()),
            if rules.loopback { " + loopback" } else { "" }
        ),
        format!(
            "  ports            {}",
            rules.ports.as_ref().map_or("any".to_owned(), |ports| list(
                ports.iter().map(ToString::to_string).collect()
            ))
        ),
        format!(
            "  limits           requests {}, in flight {}, timeout {}",
            limit(rules.max_requests),
            limit(rules.concurrency),
            rules
                .timeout_seconds
                .map_or("none".to_owned(), |s| format!("{s} s"))
        ),
        format!(
            "  allowlist miss   {}",
            match rules.allowlist_miss {
                AllowlistMiss::Deny => "deny (managed-only allowlist)",
                _ => "ask (a person could approve it)",
            }
        ),
    ]
}
