//! The decision on every domain pattern any file names, and who decided it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::view::{View, where_};
use crate::domain::{DomainMatcher, DomainPattern, Host};
use crate::files::{DomainRule, EgressMode, Located, NetworkRules};
use crate::policy::SandboxPolicy;

/// The decision on one domain pattern named by any source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DomainDecision {
    /// The normalized pattern.
    pub pattern: String,
    /// Allowed, denied, or named but dropped by a stricter source.
    pub decision: DomainOutcome,
    /// The file (and location) that decided.
    pub decided_by: String,
    /// Why, in words.
    pub reason: String,
    /// The file that named the pattern (which may not be the one that decided).
    #[serde(skip)]
    pub(super) named_in: PathBuf,
    /// The pattern itself, for the egress rules.
    #[serde(skip)]
    pub(super) parsed: DomainPattern,
}

/// What composition decided for one domain pattern; serialized (and shown)
/// as `allow`, `deny`, `not-allowed` or `expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DomainOutcome {
    /// Allowed by the source that named it, and by every source that must agree.
    Allow,
    /// Denied by some source: deny always wins.
    Deny,
    /// Named by a source, but dropped by a stricter one: a managed-only
    /// allowlist, or the other runtime file's allowlist.
    NotAllowed,
    /// Allowed until an expiry date that is past: no longer applies, and
    /// the network stays filtered without it.
    Expired,
}

impl DomainOutcome {
    /// The decision as serialized: `allow`, `deny`, `not-allowed` or `expired`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny => "deny",
            Self::NotAllowed => "not-allowed",
            Self::Expired => "expired",
        }
    }
}

impl fmt::Display for DomainOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// One entry a source contributes: pattern, allow/deny, where.
struct Named {
    pattern: DomainPattern,
    rule: DomainRule,
    at: String,
    file: PathBuf,
    managed: bool,
    runtime_file: Option<usize>,
    /// For an allow entry past its expiry: where the expiry is written, and its date.
    expired: Option<(String, chrono::NaiveDate)>,
}

/// Adds a block's entries: those in force, and the allow entries its expiry
/// dropped. `list_key` names a list's entries by index (`key[0]`); a map's
/// entries are named by their own key, which their location already shows.
fn add_rules(
    named: &mut Vec<Named>,
    rules: &NetworkRules,
    file: &Path,
    managed: bool,
    list_key: Option<&str>,
) {
    let at = |i: usize, at: &str| match list_key {
        Some(key) => format!("{at} {key}[{i}]"),
        None => at.to_owned(),
    };
    for (i, e) in rules.domains.iter().enumerate() {
        named.push(Named {
            pattern: e.pattern.clone(),
            rule: e.rule,
            at: at(i, &e.at),
            file: file.to_path_buf(),
            managed,
            runtime_file: None,
            expired: None,
        });
    }
    if let Some(expiry) = &rules.expiry {
        for (i, e) in rules.expired.domains.iter().enumerate() {
            named.push(Named {
                pattern: e.pattern.clone(),
                rule: e.rule,
                at: at(i, &e.at),
                file: file.to_path_buf(),
                managed,
                runtime_file: None,
                expired: Some((expiry.at(), expiry.date)),
            });
        }
    }
}

/// Adds a runtime file's egress list: its entries, and (for an allowlist) the
/// list itself, which every other runtime file's allowed domain must pass.
fn add_runtime_list<T>(
    named: &mut Vec<Named>,
    runtime_lists: &mut Vec<(Vec<DomainPattern>, String)>,
    file: &Located<T>,
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
            expired: None,
        });
    }
    if list_index.is_some() {
        runtime_lists.push((patterns.to_vec(), file.source.path().display().to_string()));
    }
}

/// The decision on every domain pattern any file names: deny wins, a
/// managed-only allowlist drops what the managed requirements do not allow,
/// both runtime files must allow a domain, and an expired entry allows nothing.
/// `profile_policy` decides whether `[sandbox_workspace_write]
/// allowlisted_domains` apply.
pub(super) fn domain_decisions(
    profile_policy: &SandboxPolicy,
    profile_name: &str,
    files: &View<'_>,
) -> Vec<DomainDecision> {
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
        add_rules(&mut named, rules, source.path(), true, None);
    }
    if let Some(config) = &files.config {
        if let Some((_, rules)) = config
            .permissions
            .iter()
            .find(|(name, _)| name == profile_name)
        {
            add_rules(&mut named, rules, config.source.path(), false, None);
        }
        if let Some(rules) = files.workspace_allowlist(profile_policy) {
            add_rules(
                &mut named,
                rules,
                config.source.path(),
                false,
                Some("sandbox_workspace_write.allowlisted_domains"),
            );
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
        let (decision, decided_by, reason) = if let Some((expiry_at, date)) = &n.expired {
            (
                DomainOutcome::Expired,
                expiry_at.clone(),
                format!(
                    "allowed at {} until {date}; expired, nothing is allowed from it",
                    n.at
                ),
            )
        } else if n.rule == DomainRule::Deny {
            (
                DomainOutcome::Deny,
                n.at.clone(),
                "denied (deny always wins)".to_owned(),
            )
        } else if let Some(deny) = denies.iter().find(|d| covers(&d.pattern, &n.pattern)) {
            (
                DomainOutcome::Deny,
                deny.at.clone(),
                format!("allowed at {} but denied here; deny wins", n.at),
            )
        } else if managed_only && !n.managed {
            (
                DomainOutcome::NotAllowed,
                n.at.clone(),
                "managed_allowed_domains_only: only managed allow entries count".to_owned(),
            )
        } else if n.pattern.is_loopback() {
            (
                DomainOutcome::Allow,
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
                DomainOutcome::NotAllowed,
                n.at.clone(),
                format!("not allowed by {file}: both runtime files must allow a domain"),
            )
        } else {
            (
                DomainOutcome::Allow,
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
                parsed: n.pattern.clone(),
            });
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_keep_their_spelling() {
        for (decision, text) in [
            (DomainOutcome::Allow, "allow"),
            (DomainOutcome::Deny, "deny"),
            (DomainOutcome::NotAllowed, "not-allowed"),
            (DomainOutcome::Expired, "expired"),
        ] {
            assert_eq!(decision.as_str(), text);
            assert_eq!(
                serde_json::to_value(decision).unwrap(),
                serde_json::Value::from(text)
            );
        }
        // Shown in columns by `explain`: width and alignment apply.
        assert_eq!(format!("[{:<12}]", DomainOutcome::Deny), "[deny        ]");
    }
}
