//! Two escapes closed in composition: a domain rule (or limit) from any file
//! never leaves the host network open, and a policy file the sandboxed command
//! could have written may only make the policy stricter.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

use std::path::{Path, PathBuf};

use codex_policy_model::NaiveDate;
use codex_policy_model::effective::{NetworkLevel, compose};
use codex_policy_model::tightening::{RunContext, loosening_findings};
use codex_policy_model::validate::{Validation, ValidationInputs, validate};
use codex_policy_model::{CommandWritable, SandboxPolicy};

/// The date the files are validated on: these tests write no expiry date.
const TODAY: NaiveDate = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();

/// Files written into `dir` by name (`.codexrc.json`, `harness.policy.json`,
/// `config.toml`, `requirements.toml`), validated.
fn files(dir: &Path, written: &[(&str, &str)]) -> Validation {
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
    let v = validate(&inputs, TODAY);
    assert!(!v.fails(false), "{:?}", v.findings);
    v
}

const NET: SandboxPolicy = SandboxPolicy::WorkspaceWrite {
    writable_roots: Vec::new(),
    network_access: true,
    exclude_tmpdir_env_var: true,
    exclude_slash_tmp: true,
};

#[test]
fn a_domain_rule_or_limit_from_any_source_filters_the_network() {
    let cases: &[(&str, &[(&str, &str)], NetworkLevel)] = &[
        (
            "managed deny-only",
            &[(
                "requirements.toml",
                "[experimental_network.domains]\n\"**.tracker.example\" = \"deny\"\n",
            )],
            NetworkLevel::Denylist,
        ),
        (
            "managed legacy deny list",
            &[(
                "requirements.toml",
                "[experimental_network]\ndenied_domains = [\"evil.example\"]\n",
            )],
            NetworkLevel::Denylist,
        ),
        (
            "managed_allowed_domains_only alone",
            &[(
                "requirements.toml",
                "[experimental_network]\nmanaged_allowed_domains_only = true\n",
            )],
            NetworkLevel::Allowlist,
        ),
        (
            "managed allow",
            &[(
                "requirements.toml",
                "[experimental_network.domains]\n\"api.example.com\" = \"allow\"\n",
            )],
            NetworkLevel::Allowlist,
        ),
        (
            "config.toml permissions deny",
            &[(
                "config.toml",
                "[permissions.workspace-net.network.domains]\n\"evil.example\" = \"deny\"\n",
            )],
            NetworkLevel::Denylist,
        ),
        (
            "config.toml permissions allow",
            &[(
                "config.toml",
                "[permissions.workspace-net.network.domains]\n\"ok.example\" = \"allow\"\n",
            )],
            NetworkLevel::Allowlist,
        ),
        (
            ".codexrc.json open with entries",
            &[(
                ".codexrc.json",
                r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                    "outbound_policy": {"mode": "open", "dns_allow": ["a.example"]}}}"#,
            )],
            NetworkLevel::Open,
        ),
        (
            ".codexrc.json denylist",
            &[(
                ".codexrc.json",
                r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                    "outbound_policy": {"mode": "denylist", "dns_allow": ["a.example"]}}}"#,
            )],
            NetworkLevel::Denylist,
        ),
        (
            ".codexrc.json open with limits only",
            &[(
                ".codexrc.json",
                r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                    "outbound_policy": {"mode": "open"}}, "limits": {"http_max_requests": 5}}"#,
            )],
            NetworkLevel::Open,
        ),
        (
            "harness egress open with ports",
            &[(
                "harness.policy.json",
                r#"{"network": {"enabled": true, "egress": {"mode": "open", "ports": [443]}}}"#,
            )],
            NetworkLevel::Open,
        ),
        (
            "harness denylist",
            &[(
                "harness.policy.json",
                r#"{"network": {"enabled": true, "egress": {"mode": "denylist", "domains": ["x.example"]}}}"#,
            )],
            NetworkLevel::Denylist,
        ),
    ];
    for (what, written, level) in cases {
        let dir = tempfile::tempdir().unwrap();
        let v = files(dir.path(), written);
        for profile in [NET.clone(), SandboxPolicy::DangerFullAccess] {
            let e = compose(&profile, "profile", "workspace-net", &v);
            assert_eq!(e.network.value, *level, "{what}");
            assert!(!e.network_enforced_open, "{what}: open");
            assert!(
                !e.sandbox_policy.value.has_network_access(),
                "{what}: {:?}",
                e.sandbox_policy.value
            );
            assert!(!e.network_filters.is_empty(), "{what}");
            assert!(
                e.notes
                    .iter()
                    .any(|n| n.contains("enforced by the egress proxy")),
                "{what}: {:?}",
                e.notes
            );
            assert!(e.egress.is_some(), "{what}: filtered without egress rules");
            assert!(
                e.network.decided_by.contains(dir.path().to_str().unwrap())
                    || *level == NetworkLevel::Open,
                "{what}: {}",
                e.network.decided_by
            );
        }
    }
}

#[test]
fn only_an_unfiltered_open_network_stays_open() {
    let dir = tempfile::tempdir().unwrap();
    let v = files(
        dir.path(),
        &[
            ("harness.policy.json", r#"{"network": {"enabled": true}}"#),
            (
                "config.toml",
                // Rules for another profile do not apply to workspace-net.
                "[permissions.workspace.network.domains]\n\"evil.example\" = \"deny\"\n",
            ),
        ],
    );
    let e = compose(&NET, "profile", "workspace-net", &v);
    assert_eq!(e.network.value, NetworkLevel::Open);
    assert!(e.network_enforced_open && e.network_filters.is_empty());
    assert!(e.sandbox_policy.value.has_network_access());
}

fn writable_in(dir: &Path) -> CommandWritable {
    CommandWritable::for_policy(&SandboxPolicy::workspace_write(false), dir, None).unwrap()
}

fn real(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

#[test]
fn command_writable_follows_roots_and_every_symlink_on_the_way() {
    let base = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let base = real(base.path());
    let ws = base.join("ws");
    let outside = base.join("outside");
    std::fs::create_dir_all(ws.join("sub")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("h.json"), "{}").unwrap();
    let w = CommandWritable::for_policy(
        &SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![],
            network_access: false,
            exclude_tmpdir_env_var: true,
            exclude_slash_tmp: true,
        },
        &ws,
        None,
    )
    .unwrap();
    assert!(
        w.could_write(&ws.join("harness.policy.json")),
        "not there yet"
    );
    assert!(w.could_write(&ws.join("sub/../x.json")));
    assert!(
        w.could_write(&ws.join(".codex/config.toml")),
        "read-only subpaths count"
    );
    assert!(!w.could_write(&outside.join("h.json")));
    assert!(!w.could_write(&ws.join("../outside/h.json")));
    // A symlink in the workspace to a file outside: the link decides.
    std::os::unix::fs::symlink(outside.join("h.json"), ws.join("link.json")).unwrap();
    assert!(w.could_write(&ws.join("link.json")));
    // A symlink outside pointing into the workspace: the target decides.
    std::os::unix::fs::symlink(ws.join("sub"), outside.join("into-ws")).unwrap();
    assert!(w.could_write(&outside.join("into-ws/h.json")));
    // A symlinked directory in the workspace.
    std::os::unix::fs::symlink(&outside, ws.join("dirlink")).unwrap();
    assert!(w.could_write(&ws.join("dirlink/h.json")));

    assert!(!CommandWritable::nothing().could_write(&ws.join("x")));
    let all = CommandWritable::for_policy(&SandboxPolicy::DangerFullAccess, &ws, None).unwrap();
    assert!(all.everything() && all.could_write(Path::new("/etc/codex/requirements.toml")));
    let ro = CommandWritable::for_policy(&SandboxPolicy::read_only(), &ws, None).unwrap();
    assert!(!ro.could_write(&ws.join("harness.policy.json")));
}

fn check(
    v: &Validation,
    writable: &CommandWritable,
    from_config: bool,
) -> Vec<(String, usize, usize, String)> {
    check_with(
        v,
        writable,
        from_config,
        &SandboxPolicy::workspace_write(false),
        "workspace",
    )
}

fn check_with(
    v: &Validation,
    writable: &CommandWritable,
    from_config: bool,
    policy: &SandboxPolicy,
    name: &str,
) -> Vec<(String, usize, usize, String)> {
    loosening_findings(
        v,
        &RunContext {
            profile_policy: policy,
            profile_name: name,
            profile_from_config: from_config,
            writable,
        },
    )
    .into_iter()
    .map(|f| {
        assert_eq!(f.code, "CP0024");
        assert!(
            f.message.contains("may only make the policy stricter"),
            "{}",
            f.message
        );
        assert!(f.fix.contains("outside every writable root"), "{}", f.fix);
        (
            f.key.unwrap_or_default(),
            f.line.unwrap(),
            f.column.unwrap(),
            f.message,
        )
    })
    .collect()
}

#[test]
fn a_command_writable_harness_file_may_not_loosen() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let v = files(
        dir.path(),
        &[(
            "harness.policy.json",
            "{\n  \"observability\": {\"sample_rate\": 0},\n  \"deny_on_violation\": false\n}",
        )],
    );
    let got = check(&v, &writable_in(dir.path()), false);
    let keys: Vec<_> = got
        .iter()
        .map(|(k, l, c, _)| (k.as_str(), *l, *c))
        .collect();
    assert_eq!(
        keys,
        [
            ("deny_on_violation", 3, 3),
            ("observability.sample_rate", 2, 21)
        ],
        "{got:?}"
    );
    assert!(got[0].3.contains("monitor mode"));
    // The same file where the command cannot write is fine.
    assert!(check(&v, &CommandWritable::nothing(), false).is_empty());
    // Under full access every file is command-writable.
    let all =
        CommandWritable::for_policy(&SandboxPolicy::DangerFullAccess, dir.path(), None).unwrap();
    assert_eq!(check(&v, &all, false).len(), 2);

    // Tightening keys are welcome.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let v = files(
        dir.path(),
        &[(
            "harness.policy.json",
            r#"{"network": {"enabled": true, "egress": {"mode": "denylist", "domains": ["x.example"], "ports": [443]}},
               "observability": {"sample_rate": 1, "http_log_headers": true}, "deny_on_violation": true}"#,
        )],
    );
    assert!(check(&v, &writable_in(dir.path()), false).is_empty());
}

#[test]
fn a_command_writable_config_toml_may_not_loosen() {
    let home = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let text = "approval_policy = \"never\"\nsandbox_mode = \"workspace-write\"\n\
                [sandbox_workspace_write]\nnetwork_access = true\nwritable_roots = [\"/srv\"]\n\
                ask_for_approval = \"on-failure\"\nexclude_slash_tmp = true\n\
                [audit]\npath = \"/tmp/elsewhere.jsonl\"\nkeep = 1\nfsync = \"each-event\"\n\
                [permissions.workspace.network]\ndangerously_allow_all_unix_sockets = true\n\
                [permissions.workspace.network.unix_sockets]\n\"/run/docker.sock\" = \"allow\"\n\
                \"/run/other.sock\" = \"none\"\n";
    let v = files(home.path(), &[("config.toml", text)]);
    let got = check(&v, &writable_in(home.path()), true);
    let keys: Vec<_> = got.iter().map(|(k, l, _, _)| (k.as_str(), *l)).collect();
    assert_eq!(
        keys,
        [
            ("sandbox_mode", 2),
            ("sandbox_workspace_write.writable_roots", 5),
            ("sandbox_workspace_write.ask_for_approval", 6),
            ("approval_policy", 1),
            ("audit.path", 9),
            ("audit.keep", 10),
            (
                "permissions.workspace.network.dangerously_allow_all_unix_sockets",
                13
            ),
            ("permissions.workspace.network.unix_sockets", 15),
        ],
        "{got:#?}"
    );
    // When a flag chose the profile, the file's mode has no effect.
    let got = check(&v, &writable_in(home.path()), false);
    assert!(!got.iter().any(|(k, ..)| k == "sandbox_mode"));
    // Not command-writable: all of it is the user's own choice.
    assert!(check(&v, &CommandWritable::nothing(), true).is_empty());

    // A read-only mode chosen by the file is never looser than the default.
    let home = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let v = files(
        home.path(),
        &[(
            "config.toml",
            "sandbox_mode = \"read-only\"\n[audit]\nfsync = \"each-event\"\n",
        )],
    );
    assert!(check(&v, &writable_in(home.path()), true).is_empty());
}

#[test]
fn command_writable_domain_allows_may_not_widen_the_rest_of_the_policy() {
    let trusted = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let requirements = trusted.path().join("requirements.toml");
    std::fs::write(
        &requirements,
        "[experimental_network.domains]\n\"api.example.com\" = \"allow\"\n\"**.cdn.example\" = \"allow\"\n",
    )
    .unwrap();
    let rc = ws.path().join(".codexrc.json");
    std::fs::write(
        &rc,
        r#"{"environment_context": {"name": "dev", "network_access": "enabled",
            "outbound_policy": {"dns_allow": ["api.example.com", "x.cdn.example", "evil.example"]}},
            "credentials": {"aws_profile": "admin", "aws_region": "eu-west-1",
            "secrets": {"DB": "arn:aws:secretsmanager:us-east-1:1:secret:db"}}}"#,
    )
    .unwrap();
    let v = validate(
        &ValidationInputs {
            runtime: Some(rc.clone()),
            requirements: Some(requirements),
            ..Default::default()
        },
        TODAY,
    );
    assert!(!v.fails(false), "{:?}", v.findings);
    let w = writable_in(ws.path());
    let net = SandboxPolicy::workspace_write(true);
    let got = check_with(&v, &w, false, &net, "workspace-net");
    let keys: Vec<_> = got.iter().map(|(k, ..)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "credentials.aws_profile",
            "credentials.secrets.DB",
            "environment_context.outbound_policy.dns_allow[2]",
        ],
        "{got:#?}"
    );
    assert!(got[2].3.contains("evil.example"), "{}", got[2].3);

    // Without a managed allowlist the profile allows every domain: an allowlist
    // in the workspace only narrows it.
    let v = validate(
        &ValidationInputs {
            runtime: Some(rc),
            ..Default::default()
        },
        TODAY,
    );
    let got = check_with(&v, &w, false, &net, "workspace-net");
    assert!(
        !got.iter().any(|(k, ..)| k.contains("dns_allow")),
        "{got:?}"
    );
    // With the network off, allows have no effect at all.
    let got = check_with(
        &v,
        &w,
        false,
        &SandboxPolicy::workspace_write(false),
        "workspace",
    );
    assert!(
        !got.iter().any(|(k, ..)| k.contains("dns_allow")),
        "{got:?}"
    );
}

#[test]
fn command_writable_ip_allow_may_not_open_internal_addresses() {
    let trusted = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let harness = trusted.path().join("harness.policy.json");
    std::fs::write(
        &harness,
        r#"{"network": {"enabled": true, "egress": {"domains": ["api.example.com"]}}}"#,
    )
    .unwrap();
    let rc = ws.path().join(".codexrc.json");
    std::fs::write(
        &rc,
        r#"{"environment_context": {"name": "dev", "network_access": "restricted",
            "outbound_policy": {"ip_allow": ["10.0.0.0/8"]}}}"#,
    )
    .unwrap();
    let v = validate(
        &ValidationInputs {
            runtime: Some(rc),
            policy: Some(harness),
            ..Default::default()
        },
        TODAY,
    );
    let got = check_with(
        &v,
        &writable_in(ws.path()),
        false,
        &SandboxPolicy::workspace_write(true),
        "workspace-net",
    );
    assert!(
        got.iter()
            .any(|(k, ..)| k == "environment_context.outbound_policy.ip_allow"),
        "{got:?}"
    );
}

/// A command-writable `.codexrc.json` may open internal destinations (its
/// `ip_allow`, `restricted` loopback, IP literals and `localhost`) only where
/// the run without it reaches them anyway: an open, unfiltered network. A
/// ports-only harness filters too.
#[test]
fn command_writable_internal_grants_need_an_unfiltered_baseline() {
    let trusted = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let ws = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let harness = trusted.path().join("harness.policy.json");
    std::fs::write(
        &harness,
        r#"{"network": {"enabled": true, "egress": {"mode": "open", "ports": [8000]}}}"#,
    )
    .unwrap();
    let planted = [
        (
            r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                "outbound_policy": {"mode": "open", "ip_allow": ["127.0.0.0/8"]}}}"#,
            "environment_context.outbound_policy.ip_allow",
        ),
        (
            r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                "outbound_policy": {"mode": "allowlist", "dns_allow": ["example.com", "127.0.0.1"]}}}"#,
            "environment_context.outbound_policy.dns_allow[1]",
        ),
        (
            r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                "outbound_policy": {"mode": "allowlist", "dns_allow": ["localhost"]}}}"#,
            "environment_context.outbound_policy.dns_allow[0]",
        ),
        (
            r#"{"environment_context": {"name": "dev", "network_access": "restricted"}}"#,
            "environment_context.network_access",
        ),
    ];
    for (text, key) in planted {
        let rc = ws.path().join(".codexrc.json");
        std::fs::write(&rc, text).unwrap();
        for (with_harness, flagged) in [(true, true), (false, false)] {
            let v = validate(
                &ValidationInputs {
                    runtime: Some(rc.clone()),
                    policy: with_harness.then(|| harness.clone()),
                    ..Default::default()
                },
                TODAY,
            );
            let got = check_with(
                &v,
                &writable_in(ws.path()),
                false,
                &SandboxPolicy::workspace_write(true),
                "workspace-net",
            );
            assert_eq!(
                got.iter().any(|(k, ..)| k == key),
                flagged,
                "{key} (harness: {with_harness}): {got:?}"
            );
        }
    }
}
