//! `schema <name>` prints JSON Schemas generated from the types.

#![allow(clippy::unwrap_used)]

mod common;

use common::codex_policy;

#[test]
fn sandbox_policy_schema_covers_every_mode_and_forbids_extra_keys() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(home.path(), &[], &["schema", "sandbox-policy"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let schema = run.json();
    let variants = schema["oneOf"].as_array().unwrap();
    let modes: Vec<&str> = variants
        .iter()
        .map(|v| v["properties"]["mode"]["const"].as_str().unwrap())
        .collect();
    assert_eq!(
        modes,
        ["read-only", "workspace-write", "danger-full-access"]
    );
    assert!(variants.iter().all(|v| v["additionalProperties"] == false));
}

#[test]
fn config_schema_describes_the_sandbox_tables() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(home.path(), &[], &["schema", "config"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let text = run.stdout;
    for key in [
        "sandbox_mode",
        "sandbox_workspace_write",
        "writable_roots",
        "network_access",
    ] {
        assert!(text.contains(key), "schema lacks {key}");
    }
}

#[test]
fn config_schema_describes_the_network_mode() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(home.path(), &[], &["schema", "config"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let schema = run.json();
    let defs = &schema["$defs"];
    let mode = &defs["ProfileNetworkTable"]["properties"]["mode"];
    assert!(
        mode["anyOf"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["$ref"] == "#/$defs/NetworkMode"),
        "{mode}"
    );
    let names: Vec<&str> = defs["NetworkMode"]["oneOf"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["const"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["limited", "full"]);
}
