//! `explain` shows the network mode (every method, or only the read-only
//! ones) and the source that asked for it, in text and in JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{Run, codex_policy};

/// `explain` for `profile`, with `config` (if any) as `$CODEX_HOME/config.toml`
/// and an empty project directory.
fn explain(profile: &str, config: Option<&str>, json: bool) -> (Run, tempfile::TempDir) {
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("project");
    std::fs::create_dir(&project).unwrap();
    if let Some(text) = config {
        std::fs::write(home.path().join("config.toml"), text).unwrap();
    }
    let mut args = vec![
        "--profile",
        profile,
        "explain",
        "--cwd",
        project.to_str().unwrap(),
    ];
    if json {
        args.push("--json");
    }
    let run = codex_policy(
        home.path(),
        &[("CODEX_HOME", home.path().to_str().unwrap())],
        &args,
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    (run, home)
}

fn assert_contains(text: &str, needle: &str) {
    assert!(text.contains(needle), "{needle:?} not in:\n{text}");
}

#[test]
fn net_read_only_is_limited_behind_the_egress_proxy() {
    let (run, _home) = explain("net-read-only", None, false);
    let out = &run.stdout;
    assert_contains(
        out,
        "network mode       limited (GET, HEAD, OPTIONS only; HTTPS inspected)  \
         <- profile net-read-only (command line (--profile))",
    );
    assert_contains(
        out,
        "network enforced   filtered: enforced by the egress proxy",
    );
    assert_contains(
        out,
        "egress proxy:\n  mode             limited (GET, HEAD, OPTIONS only; HTTPS inspected)",
    );
    assert_contains(out, "  allow            *\n");

    let (run, _home) = explain("net-read-only", None, true);
    let effective = &run.json()["effective"];
    assert_eq!(effective["network_mode"]["value"], "limited", "{effective}");
    assert_eq!(
        effective["network_mode"]["decided_by"],
        "profile net-read-only (command line (--profile))"
    );
    assert_eq!(effective["egress"]["mode"], "limited", "{effective}");
    assert_eq!(effective["network_enforced_open"], false);
}

#[test]
fn workspace_net_is_full_and_open_by_default() {
    let (run, _home) = explain("workspace-net", None, false);
    assert_contains(
        &run.stdout,
        "network mode       full (every method)  <- default",
    );
    assert_contains(&run.stdout, "network enforced   open (host network)");
    assert!(!run.stdout.contains("egress proxy:"), "{}", run.stdout);

    let (run, _home) = explain("workspace-net", None, true);
    let effective = &run.json()["effective"];
    assert_eq!(effective["network_mode"]["value"], "full", "{effective}");
    assert!(effective["egress"].is_null(), "{effective}");
}

#[test]
fn a_permission_profile_in_config_toml_asks_for_limited() {
    let config = "[permissions.workspace-net.network]\nmode = \"limited\"\n";
    let (run, home) = explain("workspace-net", Some(config), false);
    let at = format!(
        "{}:2:8 permissions.workspace-net.network.mode",
        Path::new(home.path()).join("config.toml").display()
    );
    assert_contains(
        &run.stdout,
        &format!("network mode       limited (GET, HEAD, OPTIONS only; HTTPS inspected)  <- {at}"),
    );
    assert_contains(
        &run.stdout,
        "network enforced   filtered: enforced by the egress proxy",
    );
    assert_contains(
        &run.stdout,
        "  mode             limited (GET, HEAD, OPTIONS only; HTTPS inspected)",
    );

    let (run, home) = explain("workspace-net", Some(config), true);
    let effective = &run.json()["effective"];
    assert_eq!(effective["network_mode"]["value"], "limited", "{effective}");
    assert_eq!(
        effective["network_mode"]["decided_by"],
        format!(
            "{}:2:8 permissions.workspace-net.network.mode",
            home.path().join("config.toml").display()
        )
    );
    assert_eq!(effective["egress"]["mode"], "limited", "{effective}");
}
