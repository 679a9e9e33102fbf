//! The checks on parsed runtime-control files: production and denylist rules
//! for each file's egress list, credentials `launch` exports, and whether
//! `.codexrc.json` and `harness.policy.json` agree; and on `config.toml`'s
//! allowlists: expired, expiring soon, or without effect.

use std::collections::BTreeSet;

use chrono::NaiveDate;

use super::LoadedConfig;
use super::findings::*;
use crate::domain::DomainPattern;
use crate::files::{
    CodexConfig, CodexRc, Egress, EgressMode, EnvironmentName, HarnessPolicy, Located, Location,
    NetworkAccess, NetworkRules, dotted,
};
use crate::policy::SandboxMode;

/// How many days before its expiry date a block is reported
/// ([`ALLOWLIST_EXPIRES_SOON`]): a week, so a weekly review sees it in time.
const EXPIRY_NOTICE_DAYS: i64 = 7;

fn at<T>(file: &Located<T>, pointer: &str) -> Option<Location> {
    Some(file.locate(pointer))
}

fn key(pointer: &str) -> Option<String> {
    Some(dotted(pointer))
}

/// Production/denylist checks shared by both files' egress lists.
fn check_patterns<T>(
    file: &Located<T>,
    list_pointer: &str,
    mode: EgressMode,
    patterns: &[DomainPattern],
    production: bool,
    out: &mut Vec<Finding>,
) {
    for (i, pattern) in patterns.iter().enumerate() {
        let pointer = format!("{list_pointer}/{i}");
        if pattern.is_global_wildcard() && mode == EgressMode::Denylist {
            out.push(Finding::new(
                WILDCARD_IN_DENYLIST,
                at(file, &pointer),
                key(&pointer),
                "`*` in a deny list".into(),
            ));
        } else if pattern.is_global_wildcard() && production {
            out.push(Finding::new(
                GLOBAL_WILDCARD_IN_PRODUCTION,
                at(file, &pointer),
                key(&pointer),
                "`*` allows every domain in production".into(),
            ));
        } else if pattern.is_wildcard() && production {
            out.push(Finding::new(
                PRODUCTION_WILDCARD,
                at(file, &pointer),
                key(&pointer),
                format!("wildcard `{pattern}` in production"),
            ));
        }
    }
}

fn check_mode<T>(
    file: &Located<T>,
    pointer: &str,
    mode: EgressMode,
    production: bool,
    out: &mut Vec<Finding>,
) {
    if production && mode != EgressMode::Allowlist {
        out.push(Finding::new(
            PRODUCTION_NOT_ALLOWLIST,
            at(file, pointer),
            key(pointer),
            format!("egress mode is {mode:?} in production").to_lowercase(),
        ));
    } else if mode == EgressMode::Open {
        out.push(Finding::new(
            OPEN_EGRESS,
            at(file, pointer),
            key(pointer),
            "egress mode is \"open\"".into(),
        ));
    }
}

/// An AWS region as AWS names them (`us-east-1`, `eu-central-2`,
/// `us-gov-west-1`): `launch` exports it to the command and SDKs build
/// endpoint host names from it.
fn valid_aws_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    region.len() <= 32
        && parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// An AWS profile name `launch` can export: printable ASCII letters, digits
/// and `_ . @ + -`, as the AWS CLI writes them.
fn valid_aws_profile(profile: &str) -> bool {
    !profile.is_empty()
        && profile.len() <= 128
        && profile
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.@+-".contains(&b))
}

pub(super) fn check_codexrc(rc: &Located<CodexRc>, out: &mut Vec<Finding>) {
    if let Some(credentials) = &rc.value.credentials {
        for (pointer, value, valid, expected) in [
            (
                "/credentials/aws_region",
                credentials.aws_region.as_deref(),
                valid_aws_region as fn(&str) -> bool,
                "an AWS region such as \"us-east-1\"",
            ),
            (
                "/credentials/aws_profile",
                credentials.aws_profile.as_deref(),
                valid_aws_profile,
                "a profile name of letters, digits and _ . @ + -",
            ),
        ] {
            if let Some(value) = value.filter(|v| !valid(v)) {
                out.push(Finding::new(
                    INVALID_VALUE,
                    at(rc, pointer),
                    key(pointer),
                    format!(
                        "{:?} is not {expected}; launch exports it to the command",
                        value
                    ),
                ));
            }
        }
    }
    let ctx = &rc.value.environment_context;
    let production = ctx.name == EnvironmentName::Production;
    let policy = &ctx.outbound_policy;
    let base = "/environment_context/outbound_policy";
    check_mode(rc, &format!("{base}/mode"), policy.mode, production, out);
    check_patterns(
        rc,
        &format!("{base}/dns_allow"),
        policy.mode,
        &policy.dns_allow,
        production,
        out,
    );
    let has_rules = !policy.dns_allow.is_empty() || !policy.port_allow.is_empty();
    if ctx.network_access == NetworkAccess::Disabled && has_rules {
        out.push(Finding::new(
            RULES_WITHOUT_EFFECT,
            at(rc, base),
            key(base),
            "network_access is \"disabled\": outbound_policy has no effect".into(),
        ));
    }
    if ctx.network_access == NetworkAccess::Enabled
        && policy.mode == EgressMode::Allowlist
        && policy.dns_allow.is_empty()
        && policy.ip_allow.is_empty()
    {
        out.push(Finding::new(
            EMPTY_ALLOWLIST,
            at(rc, base),
            key(base),
            "network_access is \"enabled\" but the allowlist is empty".into(),
        ));
    }
}

pub(super) fn check_harness(
    policy: &Located<HarnessPolicy>,
    environment: Option<EnvironmentName>,
    out: &mut Vec<Finding>,
) {
    let production = environment == Some(EnvironmentName::Production);
    let p = &policy.value;
    if !p.deny_on_violation {
        if production {
            out.push(Finding::new(
                PRODUCTION_MONITOR_MODE,
                at(policy, "/deny_on_violation"),
                key("/deny_on_violation"),
                "deny_on_violation is false in production (monitor mode)".into(),
            ));
        } else if environment == Some(EnvironmentName::Sandbox) {
            out.push(Finding::new(
                MONITOR_MODE_IN_SANDBOX,
                at(policy, "/deny_on_violation"),
                key("/deny_on_violation"),
                "deny_on_violation is false in the sandbox environment".into(),
            ));
        }
    }
    if let Some(egress) = &p.network.egress {
        if !p.network.enabled {
            out.push(Finding::new(
                RULES_WITHOUT_EFFECT,
                at(policy, "/network/egress"),
                key("/network/egress"),
                "network.enabled is false: network.egress has no effect".into(),
            ));
        }
        check_mode(policy, "/network/egress/mode", egress.mode, production, out);
        check_patterns(
            policy,
            "/network/egress/domains",
            egress.mode,
            &egress.domains,
            production,
            out,
        );
    }
    if production && (p.observability.http_log_bodies || p.observability.http_log_headers) {
        out.push(Finding::new(
            PRODUCTION_HTTP_LOGGING,
            at(policy, "/observability"),
            key("/observability"),
            "HTTP bodies or headers are logged in production".into(),
        ));
    }
}

/// Loopback entries are local reach, not egress; the environment patterns list them
/// in `dns_allow` only.
fn egress_names(patterns: &[DomainPattern]) -> BTreeSet<String> {
    patterns
        .iter()
        .filter(|p| !p.is_loopback())
        .map(ToString::to_string)
        .collect()
}

pub(super) fn check_alignment(
    rc: &Located<CodexRc>,
    policy: &Located<HarnessPolicy>,
    out: &mut Vec<Finding>,
) {
    let access = rc.value.environment_context.network_access;
    let enabled = policy.value.network.enabled;
    if (access == NetworkAccess::Enabled) != enabled {
        out.push(Finding::new(
            NETWORK_MISMATCH,
            at(policy, "/network/enabled"),
            key("/network/enabled"),
            format!(
                "{}: network_access is \"{}\" but network.enabled is {enabled}",
                rc.source.path().display(),
                access.as_str()
            ),
        ));
    }
    let rc_policy = &rc.value.environment_context.outbound_policy;
    let empty = Egress::default();
    let egress = policy.value.network.egress.as_ref().unwrap_or(&empty);
    if egress_names(&rc_policy.dns_allow) != egress_names(&egress.domains) {
        out.push(Finding::new(
            ALLOWLIST_DIFFERS,
            at(policy, "/network/egress/domains"),
            key("/network/egress/domains"),
            format!("differs from dns_allow in {}", rc.source.path().display()),
        ));
    }
    let ports = |list: &[std::num::NonZeroU16]| list.iter().copied().collect::<BTreeSet<_>>();
    if !rc_policy.port_allow.is_empty()
        && !egress.ports.is_empty()
        && ports(&rc_policy.port_allow) != ports(&egress.ports)
    {
        out.push(Finding::new(
            PORTS_DIFFER,
            at(policy, "/network/egress/ports"),
            key("/network/egress/ports"),
            format!("differs from port_allow in {}", rc.source.path().display()),
        ));
    }
}

/// `config.toml`: blocks past their expiry date or close to it, and an
/// `allowlisted_domains` the file's own sandbox choice leaves without effect.
pub(super) fn check_config(config: &LoadedConfig, today: NaiveDate, out: &mut Vec<Finding>) {
    for miss in CodexConfig::near_misses(&config.source) {
        let mut finding = Finding::new(
            IGNORED_NEAR_MISS,
            Some(miss.location),
            Some(miss.key.clone()),
            format!(
                "`{}` is not a key codex-policy knows, so it is left to Codex and decides \
                 nothing here; did you mean `{}`?",
                miss.key, miss.meant
            ),
        );
        finding.snippet = miss.snippet;
        out.push(finding);
    }
    let blocks = config
        .workspace_allowlist
        .iter()
        .map(|rules| {
            (
                "[sandbox_workspace_write] allowlisted_domains".to_owned(),
                rules,
            )
        })
        .chain(
            config
                .permissions
                .iter()
                .map(|(name, rules)| (format!("[permissions.{name}.network]"), rules)),
        );
    for (block, rules) in blocks {
        check_expiry(&block, rules, today, out);
    }

    let source = &config.source;
    if let Some(list) = config
        .config
        .sandbox_workspace_write
        .as_ref()
        .and_then(|t| t.allowlisted_domains.as_ref())
        && let Ok(Some(chosen)) = config.config.configured_sandbox(source)
        && !(chosen.mode == SandboxMode::WorkspaceWrite && chosen.network_access)
    {
        out.push(Finding::new(
            RULES_WITHOUT_EFFECT,
            Some(source.locate(list.span().start)),
            Some("sandbox_workspace_write.allowlisted_domains".into()),
            format!(
                "{} = {}{}: allowlisted_domains open nothing; they apply to workspace-write \
                 with network_access = true",
                chosen.mode_key,
                chosen.mode,
                if chosen.network_access {
                    ""
                } else {
                    " without network"
                }
            ),
        ));
    }
}

fn check_expiry(block: &str, rules: &NetworkRules, today: NaiveDate, out: &mut Vec<Finding>) {
    let Some(expiry) = &rules.expiry else {
        return;
    };
    let days = expiry.days_left(today);
    let finding = |code, message| {
        Finding::new(
            code,
            Some(expiry.location.clone()),
            Some(expiry.key.clone()),
            message,
        )
    };
    if days < 0 {
        let what = if rules.expired.is_empty() {
            "it had no allow entries, so nothing changed".to_owned()
        } else {
            let mut what = format!("{} no longer apply", rules.expired);
            if !rules.expired.domains.is_empty() {
                what.push_str("; the network stays filtered, allowing nothing from them");
            }
            what
        };
        out.push(finding(
            ALLOWLIST_EXPIRED,
            format!("{block} expired on {}: {what}", expiry.date),
        ));
    } else if days <= EXPIRY_NOTICE_DAYS {
        let when = match days {
            0 => "today is its last day".to_owned(),
            1 => "1 day left".to_owned(),
            n => format!("{n} days left"),
        };
        out.push(finding(
            ALLOWLIST_EXPIRES_SOON,
            format!(
                "{block} expires on {} ({when}): its allow entries then no longer apply",
                expiry.date
            ),
        ));
    }
}
