//! Through the real binary: a domain rule from any file never leaves the host
//! network open, a policy file the sandboxed command could have written may
//! only tighten the policy, and conflicting mode keys are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Run;

/// A directory outside `/tmp` (a writable root of the workspace profiles).
fn base() -> tempfile::TempDir {
    let base = common::escape::fixture_base().expect("a fixture directory outside /tmp");
    tempfile::tempdir_in(base).unwrap()
}

fn real(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap()
}

/// Runs the binary in `cwd` with `HOME` = `home` and only `env` besides.
fn run(cwd: &Path, home: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = Command::new(common::codex_policy_bin());
    cmd.env_clear()
        .env("HOME", home)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(cwd)
        .args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn explain_shows_a_filtered_network_closed_for_every_source() {
    let dir = base();
    let root = real(dir.path());
    let (ws, home, codex_home) = (root.join("ws"), root.join("home"), root.join("codex"));
    for d in [&ws, &home, &codex_home] {
        std::fs::create_dir_all(d).unwrap();
    }
    let req = root.join("requirements.toml");
    /// A source's name, how to write its files, the extra arguments.
    type Case<'a> = (&'a str, Box<dyn Fn() + 'a>, Vec<&'a str>);
    let cases: Vec<Case<'_>> = vec![
        (
            "requirements deny-only",
            Box::new(|| {
                std::fs::write(
                    &req,
                    "[experimental_network.domains]\n\"**.tracker.example\" = \"deny\"\n",
                )
                .unwrap()
            }),
            vec!["--requirements", req.to_str().unwrap()],
        ),
        (
            "managed_allowed_domains_only",
            Box::new(|| {
                std::fs::write(
                    &req,
                    "[experimental_network]\nmanaged_allowed_domains_only = true\n",
                )
                .unwrap()
            }),
            vec!["--requirements", req.to_str().unwrap()],
        ),
        (
            "config.toml permissions",
            Box::new(|| {
                std::fs::write(
                    codex_home.join("config.toml"),
                    "[permissions.workspace-net.network.domains]\n\"evil.example\" = \"deny\"\n",
                )
                .unwrap()
            }),
            vec![],
        ),
        (
            ".codexrc.json",
            Box::new(|| {
                std::fs::write(
                    ws.join(".codexrc.json"),
                    r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                        "outbound_policy": {"mode": "denylist", "dns_allow": ["evil.example"]}}}"#,
                )
                .unwrap()
            }),
            vec![],
        ),
        (
            "harness.policy.json egress",
            Box::new(|| {
                std::fs::write(
                    ws.join("harness.policy.json"),
                    r#"{"network": {"enabled": true, "egress": {"mode": "open", "domains": ["a.example"]}}}"#,
                )
                .unwrap()
            }),
            vec![],
        ),
    ];
    for (what, write, extra) in cases {
        for f in [
            ws.join(".codexrc.json"),
            ws.join("harness.policy.json"),
            codex_home.join("config.toml"),
            req.clone(),
        ] {
            let _ = std::fs::remove_file(f);
        }
        write();
        let env = [("CODEX_HOME", codex_home.to_str().unwrap())];
        let mut args = vec!["--profile", "workspace-net", "explain"];
        args.extend(&extra);
        let r = run(&ws, &home, &env, &[&args[..], &["--json"]].concat());
        assert_eq!(r.status, 0, "{what}: {}", r.stderr);
        let e = &r.json()["effective"];
        assert_eq!(e["network_enforced_open"], false, "{what}: {e}");
        assert_eq!(
            e["sandbox_policy"]["value"]["network_access"], false,
            "{what}"
        );
        assert!(
            !e["network_filters"].as_array().unwrap().is_empty(),
            "{what}"
        );
        assert_ne!(
            e["network"]["value"], "off",
            "{what}: the level asked for is shown"
        );
        let r = run(&ws, &home, &env, &args);
        assert_eq!(r.status, 0, "{what}: {}", r.stderr);
        assert!(
            r.stdout
                .contains("network enforced   filtered: enforced by the egress proxy"),
            "{what}: {}",
            r.stdout
        );
        assert!(
            r.stdout
                .contains("the command runs in an empty network namespace"),
            "{what}: {}",
            r.stdout
        );
        assert!(
            !r.stdout.contains("open (host network)"),
            "{what}: {}",
            r.stdout
        );
    }
}

#[test]
fn a_workspace_harness_file_cannot_switch_on_monitor_mode_or_sampling() {
    let dir = base();
    let root = real(dir.path());
    let ws = root.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(ws.join("victim"), "keep me").unwrap();
    std::fs::write(
        root.join("no-rm.rules"),
        "prefix_rule(pattern = [\"rm\"], decision = \"forbidden\")\n",
    )
    .unwrap();
    let rules = root.join("no-rm.rules");
    for (text, key) in [
        (
            "{\n  \"deny_on_violation\": false\n}\n",
            "harness.policy.json:2:3: error CP0024 [deny_on_violation]",
        ),
        (
            "{\n  \"observability\": {\"sample_rate\": 0}\n}\n",
            "harness.policy.json:2:21: error CP0024 [observability.sample_rate]",
        ),
    ] {
        std::fs::write(ws.join("harness.policy.json"), text).unwrap();
        let r = run(
            &ws,
            &root,
            &[],
            &[
                "--profile",
                "workspace",
                "run",
                "--rules",
                rules.to_str().unwrap(),
                "--no-audit",
                "--",
                "rm",
                "victim",
            ],
        );
        assert_eq!(r.status, 125, "{}", r.stderr);
        assert!(r.stderr.contains(key), "{}", r.stderr);
        assert!(r.stderr.contains("nothing was started"), "{}", r.stderr);
        assert!(ws.join("victim").exists(), "rm ran");
        let r = run(&ws, &root, &[], &["--profile", "workspace", "explain"]);
        assert_eq!(r.status, 125, "{}", r.stderr);
        assert!(r.stderr.contains(key), "{}", r.stderr);
        let r = run(
            &ws,
            &root,
            &[("CODEX_SECURITY_PROFILE", "workspace")],
            &["validate", "--json"],
        );
        assert_eq!(r.status, 1, "{}", r.stdout);
        let report = r.json();
        let codes: Vec<_> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect();
        assert!(codes.contains(&"CP0024".to_owned()), "{report}");
        // Under a read-only profile the command could not have written it.
        let r = run(&ws, &root, &[], &["--profile", "offline", "explain"]);
        assert_eq!(r.status, 0, "{}", r.stderr);
    }
    // The same file outside every writable root is the user's choice.
    let outside = root.join("policies");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::rename(ws.join("harness.policy.json"), outside.join("h.json")).unwrap();
    std::fs::write(outside.join("h.json"), "{\"deny_on_violation\": false}").unwrap();
    let policy = outside.join("h.json");
    let r = run(
        &ws,
        &root,
        &[],
        &[
            "--profile",
            "workspace",
            "explain",
            "--policy",
            policy.to_str().unwrap(),
        ],
    );
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("deny_on_violation  false"),
        "{}",
        r.stdout
    );
    // ...but not through a symlink the command could have planted.
    std::os::unix::fs::symlink(&policy, ws.join("harness.policy.json")).unwrap();
    let r = run(&ws, &root, &[], &["--profile", "workspace", "explain"]);
    assert_eq!(r.status, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("CP0024 [deny_on_violation]"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_codex_home_the_command_could_create_cannot_add_writable_roots() {
    let dir = base();
    let home = real(dir.path()).join("home");
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    // As if an earlier run in $HOME created ~/.codex/config.toml.
    std::fs::write(
        home.join(".codex/config.toml"),
        "[sandbox_workspace_write]\nwritable_roots = [\"/etc\"]\n",
    )
    .unwrap();
    let r = run(
        &home,
        &home,
        &[],
        &["--profile", "workspace", "run", "--no-audit", "--", "true"],
    );
    assert_eq!(r.status, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains(
            ".codex/config.toml:2:19: error CP0024 [sandbox_workspace_write.writable_roots]"
        ),
        "{}",
        r.stderr
    );
    // The same config chosen by the file itself, run from $HOME.
    std::fs::write(
        home.join(".codex/config.toml"),
        "[sandbox]\nmode = \"workspace-write\"\nnetwork_access = true\n",
    )
    .unwrap();
    let r = run(&home, &home, &[], &["explain"]);
    assert_eq!(r.status, 125, "{}", r.stderr);
    assert!(r.stderr.contains("CP0024 [sandbox.mode]"), "{}", r.stderr);
    // Run from elsewhere, the home is out of reach and the file decides.
    let elsewhere = real(dir.path()).join("project");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let r = run(&elsewhere, &home, &[], &["explain"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("profile            workspace-net"),
        "{}",
        r.stdout
    );
}

#[test]
fn an_active_named_profile_in_a_writable_config_is_refused() {
    let dir = base();
    let home = real(dir.path());
    std::fs::write(
        home.join("config.toml"),
        "profile = \"fast\"\nsandbox_mode = \"read-only\"\n[profiles.fast]\nsandbox_mode = \"danger-full-access\"\n",
    )
    .unwrap();
    let env = [("CODEX_HOME", home.to_str().unwrap())];
    // The named profile's keys replace the top-level ones, and say so.
    let r = run(&home, &home, &env, &["--show-profile"]);
    assert_eq!(r.status, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("profile:        trusted")
            && r.stdout.contains("profile, profiles.fast.sandbox_mode"),
        "{}",
        r.stdout
    );
    // But this config.toml lies where the command could write: it may not
    // choose a named profile.
    let r = run(&home, &home, &env, &["run", "--", "true"]);
    assert_eq!(r.status, 125, "{}", r.stderr);
    assert!(
        r.stderr.contains("config.toml:1:11") && r.stderr.contains("CP0024"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_rules_file_in_the_workspace_is_loaded_tightening_only() {
    let dir = base();
    let root = real(dir.path());
    let ws = root.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    std::fs::write(
        ws.join("mine.rules"),
        "prefix_rule(pattern = [\"rm\"], decision = \"allow\")\n",
    )
    .unwrap();
    let args = [
        "--profile",
        "workspace",
        "run",
        "--rules",
        "mine.rules",
        "--no-audit",
        "--",
        "true",
    ];
    let r = run(&ws, &root, &[], &args);
    assert_eq!(r.status, 125, "{}", r.stderr);
    assert!(r.stderr.contains("tightening-only"), "{}", r.stderr);
    // A forbidding rule is fine there (it only tightens); nothing runs past it.
    std::fs::write(
        ws.join("mine.rules"),
        "prefix_rule(pattern = [\"true\"], decision = \"forbidden\")\n",
    )
    .unwrap();
    let r = run(&ws, &root, &[], &args);
    assert_eq!(r.status, 126, "{}", r.stderr);
}
