//! `--show-profile`: which profile applies and which source chose it.

#![allow(clippy::unwrap_used)]

mod common;

use common::codex_policy;
use serde_json::json;

#[test]
fn empty_codex_home_gives_offline_by_default() {
    let home = tempfile::tempdir().unwrap();
    let codex_home = home.path().to_str().unwrap();
    let run = codex_policy(
        home.path(),
        &[("CODEX_HOME", codex_home)],
        &["--show-profile", "--json"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["profile"], "offline");
    assert_eq!(out["source"], json!({"kind": "default"}));
    assert_eq!(
        out["sandbox_policy"],
        json!({"mode": "read-only", "network_access": false})
    );
    assert_eq!(
        out["capabilities"],
        json!({"network": false, "write": false, "full_write": false, "file_writes": "none"})
    );
}

#[test]
fn environment_variable_chooses() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(
        home.path(),
        &[("CODEX_SECURITY_PROFILE", "workspace-net")],
        &["--show-profile", "--json"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["profile"], "workspace-net");
    assert_eq!(
        out["source"],
        json!({"kind": "environment", "variable": "CODEX_SECURITY_PROFILE"})
    );
    assert_eq!(out["capabilities"]["network"], true);
}

#[test]
fn command_line_wins_over_environment() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(
        home.path(),
        &[("CODEX_SECURITY_PROFILE", "workspace-net")],
        &["--profile", "trusted", "--show-profile", "--json"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["profile"], "trusted");
    assert_eq!(
        out["source"],
        json!({"kind": "command-line", "flag": "--profile"})
    );
    assert_eq!(out["sandbox_policy"], json!({"mode": "danger-full-access"}));
    assert_eq!(out["overridden"][0]["profile"], "workspace-net");
}

#[test]
fn config_file_in_codex_home_chooses() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        "[sandbox]\nmode = \"workspace-write\"\nnetwork_access = true\n",
    )
    .unwrap();
    let run = codex_policy(
        home.path(),
        &[("CODEX_HOME", home.path().to_str().unwrap())],
        &["--show-profile", "--json"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = run.json();
    assert_eq!(out["profile"], "workspace-net");
    assert_eq!(
        out["source"],
        json!({
            "kind": "config-file",
            "path": config.to_str().unwrap(),
            "keys": ["sandbox.mode", "sandbox.network_access"],
        })
    );
}

#[test]
fn config_flag_and_default_home_location_are_read() {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".codex")).unwrap();
    std::fs::write(
        home.path().join(".codex/config.toml"),
        "sandbox_mode = \"workspace-write\"\n",
    )
    .unwrap();
    let run = codex_policy(home.path(), &[], &["--show-profile", "--json"]);
    assert_eq!(run.json()["profile"], "workspace");

    let other = home.path().join("other.toml");
    std::fs::write(
        &other,
        "sandbox_mode = \"read-only\"\n[sandbox_read_only]\nnetwork_access = true\n",
    )
    .unwrap();
    let run = codex_policy(
        home.path(),
        &[],
        &[
            "--config",
            other.to_str().unwrap(),
            "--show-profile",
            "--json",
        ],
    );
    assert_eq!(run.json()["profile"], "net-read-only");
}

#[test]
fn human_output_names_profile_source_and_capabilities() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(
        home.path(),
        &[("CODEX_SECURITY_PROFILE", "workspace")],
        &["--show-profile"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    for needle in [
        "profile:        workspace\n",
        "chosen by:      environment (CODEX_SECURITY_PROFILE)",
        "file writes:    workspace and temp dirs only",
        "network:        denied",
        r#"sandbox policy: {"mode":"workspace-write""#,
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle:?} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn every_profile_flag_resolves_to_itself() {
    let home = tempfile::tempdir().unwrap();
    for name in [
        "offline",
        "net-read-only",
        "workspace",
        "workspace-net",
        "trusted",
    ] {
        let run = codex_policy(
            home.path(),
            &[],
            &["--show-profile", "--json", "--profile", name],
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        assert_eq!(run.json()["profile"], name);
    }
}

#[test]
fn the_read_only_network_is_named_as_such() {
    let home = tempfile::tempdir().unwrap();
    let codex_home = home.path().to_str().unwrap();
    for (profile, network) in [
        (
            "net-read-only",
            "network:        read-only, through the egress proxy (GET, HEAD, OPTIONS only; HTTPS inspected)",
        ),
        ("workspace-net", "network:        allowed"),
        ("offline", "network:        denied"),
    ] {
        let run = codex_policy(
            home.path(),
            &[("CODEX_HOME", codex_home)],
            &["--profile", profile, "--show-profile"],
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        assert!(
            run.stdout.lines().any(|line| line == network),
            "{profile}: {}",
            run.stdout
        );
    }
}
