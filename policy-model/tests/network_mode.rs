//! The network mode: every method (`full`) or only the read-only ones
//! (`limited`), who asks for it, how it composes (the most restrictive wins,
//! `full` lifts nothing), what it makes of the egress rules, and located
//! errors for a bad `[permissions.<profile>.network] mode`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codex_policy_model::NaiveDate;
use codex_policy_model::effective::{EffectivePolicy, compose};
use codex_policy_model::validate::{Finding, Validation, ValidationInputs, validate};
use codex_policy_model::{DomainPattern, NetworkMode, SandboxPolicy};

/// The date the files are validated on: these tests write no expiry date.
const TODAY: NaiveDate = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();

/// Writes `written` into `dir` and validates them (findings returned as is).
fn validated(dir: &Path, written: &[(&str, &str)]) -> Validation {
    let mut inputs = ValidationInputs::default();
    for (name, text) in written {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let slot = match *name {
            ".codexrc.json" => &mut inputs.runtime,
            "harness.policy.json" => &mut inputs.policy,
            "config.toml" => &mut inputs.config,
            "requirements.toml" => &mut inputs.requirements,
            other => panic!("{other}"),
        };
        *slot = Some(path);
    }
    validate(&inputs, TODAY)
}

/// The `net-read-only` profile's policy: read-only, with network.
const NET_READ_ONLY: SandboxPolicy = SandboxPolicy::ReadOnly {
    network_access: true,
};

/// The `workspace-net` profile's policy.
const WORKSPACE_NET: SandboxPolicy = SandboxPolicy::WorkspaceWrite {
    writable_roots: Vec::new(),
    network_access: true,
    exclude_tmpdir_env_var: true,
    exclude_slash_tmp: true,
};

const PROFILE_SOURCE: &str = "profile net-read-only (command line)";

/// Composes `policy` for the permission profile `profile` with `written`,
/// which must validate without an error. Also returns the directory's path.
fn composed(
    policy: &SandboxPolicy,
    profile: &str,
    written: &[(&str, &str)],
) -> (EffectivePolicy, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    // No file at all is what validation refuses, and composition takes.
    let files = if written.is_empty() {
        Validation::default()
    } else {
        validated(dir.path(), written)
    };
    assert!(!files.fails(false), "{:?}", files.findings);
    (compose(policy, PROFILE_SOURCE, profile, &files), dir)
}

fn codexrc(access: &str, mode: &str, hosts: &str) -> String {
    format!(
        r#"{{"environment_context": {{"name": "dev", "network_access": "{access}",
            "outbound_policy": {{"mode": "{mode}", "dns_allow": [{hosts}]}}}}}}"#
    )
}

fn limited_config(profile: &str, mode: &str) -> String {
    format!("# network mode\n[permissions.{profile}.network]\nmode = \"{mode}\"\n")
}

#[test]
fn a_read_only_sandbox_with_network_is_limited_behind_the_proxy() {
    let (e, _dir) = composed(&NET_READ_ONLY, "net-read-only", &[]);
    assert_eq!(e.network_mode.value, NetworkMode::Limited);
    assert_eq!(e.network_mode.decided_by, PROFILE_SOURCE);
    // Open with a filter: never the host's network, always the proxy.
    assert!(!e.network_enforced_open);
    assert!(!e.sandbox_policy.value.has_network_access());
    let rules = e
        .egress
        .expect("limited mode goes through the egress proxy");
    assert_eq!(rules.mode, NetworkMode::Limited);
    assert_eq!(rules.allow, [DomainPattern::Any]);
    assert!(rules.deny.is_empty() && rules.ask.is_empty());
    assert!(
        e.network_filters
            .iter()
            .any(|f| f == &format!("limited mode (GET, HEAD, OPTIONS only) from {PROFILE_SOURCE}")),
        "{:?}",
        e.network_filters
    );
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("enforced by the egress proxy")),
        "{:?}",
        e.notes
    );
}

#[test]
fn a_writable_sandbox_with_network_is_full_and_open() {
    let (e, _dir) = composed(&WORKSPACE_NET, "workspace-net", &[]);
    assert_eq!(e.network_mode.value, NetworkMode::Full);
    assert_eq!(e.network_mode.decided_by, "default");
    assert!(e.network_enforced_open);
    assert_eq!(e.egress, None);
    assert!(e.network_filters.is_empty(), "{:?}", e.network_filters);

    // Full with a filter: the proxy, every method.
    let (e, _dir) = composed(
        &WORKSPACE_NET,
        "workspace-net",
        &[(
            ".codexrc.json",
            &codexrc("enabled", "allowlist", r#""pypi.org""#),
        )],
    );
    assert_eq!(e.network_mode.value, NetworkMode::Full);
    assert_eq!(e.egress.unwrap().mode, NetworkMode::Full);
}

#[test]
fn the_permission_profile_in_force_can_ask_for_limited() {
    let config = limited_config("workspace-net", "limited");
    let (e, dir) = composed(&WORKSPACE_NET, "workspace-net", &[("config.toml", &config)]);
    assert_eq!(e.network_mode.value, NetworkMode::Limited);
    assert_eq!(
        e.network_mode.decided_by,
        format!(
            "{}:3:8 permissions.workspace-net.network.mode",
            dir.path().join("config.toml").display()
        )
    );
    assert!(!e.network_enforced_open);
    let rules = e.egress.unwrap();
    assert_eq!(rules.mode, NetworkMode::Limited);
    assert_eq!(rules.allow, [DomainPattern::Any]);
}

#[test]
fn another_profiles_table_is_not_read() {
    let config = limited_config("workspace", "limited");
    let (e, _dir) = composed(&WORKSPACE_NET, "workspace-net", &[("config.toml", &config)]);
    assert_eq!(e.network_mode.value, NetworkMode::Full);
    assert_eq!(e.network_mode.decided_by, "default");
    assert!(e.network_enforced_open);
    assert_eq!(e.egress, None);
}

#[test]
fn full_lifts_nothing() {
    let config = limited_config("net-read-only", "full");
    let (e, _dir) = composed(&NET_READ_ONLY, "net-read-only", &[("config.toml", &config)]);
    assert_eq!(e.network_mode.value, NetworkMode::Limited);
    assert_eq!(e.network_mode.decided_by, PROFILE_SOURCE);
    assert_eq!(e.egress.unwrap().mode, NetworkMode::Limited);

    // `full` on its own is the default: nothing filters.
    let config = limited_config("workspace-net", "full");
    let (e, _dir) = composed(&WORKSPACE_NET, "workspace-net", &[("config.toml", &config)]);
    assert_eq!(e.network_mode.value, NetworkMode::Full);
    assert!(e.network_enforced_open);
}

#[test]
fn an_allowlist_narrows_a_limited_network() {
    let (e, _dir) = composed(
        &NET_READ_ONLY,
        "net-read-only",
        &[(
            ".codexrc.json",
            &codexrc("enabled", "allowlist", r#""pypi.org", "**.example.com""#),
        )],
    );
    assert_eq!(e.network_mode.value, NetworkMode::Limited);
    let rules = e.egress.unwrap();
    assert_eq!(rules.mode, NetworkMode::Limited);
    let mut want: Vec<DomainPattern> = ["pypi.org", "**.example.com"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect();
    want.sort();
    assert_eq!(rules.allow, want);
}

#[test]
fn an_off_network_stays_off_in_limited_mode() {
    let (e, _dir) = composed(
        &NET_READ_ONLY,
        "net-read-only",
        &[("harness.policy.json", r#"{"network": {"enabled": false}}"#)],
    );
    assert_eq!(e.network_mode.value, NetworkMode::Limited);
    assert!(!e.network_enforced_open);
    assert_eq!(e.egress, None);
    assert!(!e.sandbox_policy.value.has_network_access());
}

/// The one finding for a config.toml with a bad `mode`, after checking it is
/// an error located in that file on `permissions.x.network.mode`.
fn bad_mode(text: &str, line: usize, column: usize) -> Finding {
    let dir = tempfile::tempdir().unwrap();
    let files = validated(dir.path(), &[("config.toml", text)]);
    assert!(files.fails(false), "{text:?} was accepted");
    assert!(files.config.is_none());
    let [finding] = files.findings.as_slice() else {
        panic!("{:?}", files.findings)
    };
    let path = dir.path().join("config.toml");
    assert_eq!(finding.file.as_deref(), Some(path.as_path()), "{finding}");
    assert_eq!(
        (finding.line, finding.column),
        (Some(line), Some(column)),
        "{finding}"
    );
    assert_eq!(
        finding.key.as_deref(),
        Some("permissions.x.network.mode"),
        "{finding}"
    );
    assert!(
        finding
            .to_string()
            .starts_with(&format!("{}:{line}:{column}: error ", path.display())),
        "{finding}"
    );
    finding.clone()
}

#[test]
fn an_unknown_mode_is_located_and_lists_the_valid_ones() {
    let f = bad_mode("[permissions.x.network]\nmode = \"readonly\"\n", 2, 8);
    assert_eq!(f.code, "CP0004");
    assert!(f.message.contains("unknown variant `readonly`"), "{f}");
    assert!(
        f.message.contains("`limited`") && f.message.contains("`full`"),
        "{f}"
    );

    let f = bad_mode("[permissions.x.network]\nmode = \"\"\n", 2, 8);
    assert!(
        f.message.contains("`limited`") && f.message.contains("`full`"),
        "{f}"
    );

    // Close to a valid one: a hint.
    let f = bad_mode("[permissions.x.network]\nmode = \"Limited\"\n", 2, 8);
    assert!(f.fix.contains("did you mean `limited`?"), "{f}");
}

#[test]
fn a_mode_of_the_wrong_type_is_located_and_lists_the_valid_ones() {
    let f = bad_mode("[permissions.x.network]\nmode = 1\n", 2, 8);
    assert_eq!(f.code, "CP0004");
    assert!(
        f.message
            .contains(r#"invalid type: integer `1`, expected one of "limited", "full""#),
        "{f}"
    );

    // A table where a string belongs: located on its header.
    let f = bad_mode(
        "model = \"o3\"\n[permissions.x.network.mode]\nlimited = true\n",
        2,
        1,
    );
    assert_eq!(f.code, "CP0004");
    assert!(
        f.message
            .contains(r#"invalid type: map, expected one of "limited", "full""#),
        "{f}"
    );
}
