//! Every `SandboxPolicy` form in JSON and TOML: Codex's spelling deserializes
//! unchanged, serialization round-trips, and malformed input is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use codex_policy_model::{SandboxMode, SandboxPolicy};

fn all_forms() -> Vec<SandboxPolicy> {
    vec![
        SandboxPolicy::ReadOnly {
            network_access: false,
        },
        SandboxPolicy::ReadOnly {
            network_access: true,
        },
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![],
            network_access: false,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        },
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![PathBuf::from("/srv/cache"), PathBuf::from("/opt/ü b")],
            network_access: true,
            exclude_tmpdir_env_var: true,
            exclude_slash_tmp: true,
        },
        SandboxPolicy::DangerFullAccess,
    ]
}

#[test]
fn codex_json_deserializes_unchanged() {
    let cases = [
        (
            r#"{"mode":"read-only","network_access":false}"#,
            SandboxPolicy::read_only(),
        ),
        (r#"{"mode":"read-only"}"#, SandboxPolicy::read_only()),
        (
            r#"{"mode":"workspace-write","writable_roots":["/a"],"network_access":true,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":true}"#,
            SandboxPolicy::WorkspaceWrite {
                writable_roots: vec![PathBuf::from("/a")],
                network_access: true,
                exclude_tmpdir_env_var: false,
                exclude_slash_tmp: true,
            },
        ),
        (
            r#"{"mode":"workspace-write"}"#,
            SandboxPolicy::workspace_write(false),
        ),
        (
            r#"{"mode":"danger-full-access"}"#,
            SandboxPolicy::DangerFullAccess,
        ),
    ];
    for (json, expected) in cases {
        let parsed: SandboxPolicy = serde_json::from_str(json).unwrap();
        assert_eq!(parsed, expected, "{json}");
    }
}

#[test]
fn json_serialization_uses_codex_spelling() {
    assert_eq!(
        serde_json::to_string(&SandboxPolicy::read_only()).unwrap(),
        r#"{"mode":"read-only","network_access":false}"#
    );
    assert_eq!(
        serde_json::to_string(&SandboxPolicy::workspace_write(false)).unwrap(),
        r#"{"mode":"workspace-write","writable_roots":[],"network_access":false,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}"#
    );
    assert_eq!(
        serde_json::to_string(&SandboxPolicy::DangerFullAccess).unwrap(),
        r#"{"mode":"danger-full-access"}"#
    );
}

#[test]
fn every_form_round_trips_through_json_and_toml() {
    for policy in all_forms() {
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(
            serde_json::from_str::<SandboxPolicy>(&json).unwrap(),
            policy
        );
        let toml_text = toml::to_string(&policy).unwrap();
        assert_eq!(
            toml::from_str::<SandboxPolicy>(&toml_text).unwrap(),
            policy,
            "{toml_text}"
        );
    }
}

#[test]
fn toml_form_reads_like_a_config_table() {
    let policy: SandboxPolicy = toml::from_str(
        "mode = \"workspace-write\"\nwritable_roots = [\"/data\"]\nnetwork_access = true\n",
    )
    .unwrap();
    assert_eq!(
        policy,
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![PathBuf::from("/data")],
            network_access: true,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        }
    );
    let full: SandboxPolicy = toml::from_str("mode = \"danger-full-access\"").unwrap();
    assert_eq!(full, SandboxPolicy::DangerFullAccess);
}

#[test]
fn malformed_policies_are_refused() {
    for bad in [
        r#"{}"#,
        r#"{"mode":"bogus"}"#,
        r#"{"mode":"Read-Only"}"#,
        r#"{"mode":"read-only","network_access":"yes"}"#,
        r#"{"mode":"read-only","writable_roots":["/"]}"#,
        r#"{"mode":"workspace-write","netwrok_access":true}"#,
        r#"{"mode":"danger-full-access","network_access":false}"#,
        r#"{"mode":"workspace-write","writable_roots":"/"}"#,
        r#"{"mode":"read-only","mode":"danger-full-access"}"#,
        r#"{"mode":"read-only","network_access":false,"network_access":true}"#,
        r#"[]"#,
        r#"null"#,
    ] {
        assert!(
            serde_json::from_str::<SandboxPolicy>(bad).is_err(),
            "accepted {bad}"
        );
    }
}

#[test]
fn capability_queries_match_each_form() {
    let expect = [
        // (network, any write, full write, mode)
        (false, false, false, SandboxMode::ReadOnly),
        (true, false, false, SandboxMode::ReadOnly),
        (false, true, false, SandboxMode::WorkspaceWrite),
        (true, true, false, SandboxMode::WorkspaceWrite),
        (true, true, true, SandboxMode::DangerFullAccess),
    ];
    for (policy, (network, write, full, mode)) in all_forms().into_iter().zip(expect) {
        assert_eq!(policy.has_network_access(), network, "{policy:?}");
        assert_eq!(policy.allows_any_write(), write, "{policy:?}");
        assert_eq!(policy.has_full_disk_write_access(), full, "{policy:?}");
        assert_eq!(policy.mode(), mode, "{policy:?}");
    }
}

#[test]
fn schema_is_generated_from_the_type() {
    let schema = serde_json::to_value(schemars::schema_for!(SandboxPolicy)).unwrap();
    let text = schema.to_string();
    for mode in ["read-only", "workspace-write", "danger-full-access"] {
        assert!(text.contains(mode), "schema lacks {mode}: {text}");
    }
    assert!(text.contains("writable_roots"));
}
