//! Secret environment variables stay out of the command's environment:
//! Codex's `[shell_environment_policy]` (each `inherit`, the default
//! excludes, `exclude`, `include_only`, `set`) decides what a command gets,
//! `launch`'s variables still arrive, `explain` names what is dropped without
//! values, and the sandbox's first process (which holds the caller's whole
//! environment) cannot be read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::escape::{Fixture, skip, skip_reason};

/// The variables every case starts from.
const CALLER: [(&str, &str); 9] = [
    ("PATH", "/usr/local/bin:/usr/bin:/bin"),
    ("GITHUB_TOKEN", "gh-value"),
    ("my_api_key", "key-value"),
    ("DB_PASSWORD", "pw-value"),
    ("AWS_SECRET_ACCESS_KEY", "aws-value"),
    ("GIT_CREDENTIAL_HELPER", "cred-value"),
    ("INNOCENT_URL", "postgres://app:hunter2@db.internal/app"),
    ("PASTED", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("EDITOR", "vi"),
];

/// Runs `env` through `codex-policy --profile PROFILE run` with `config`
/// as config.toml; the variables the command saw.
fn command_env(
    dir: &Path,
    profile: &str,
    config: &str,
    subcommand: &str,
) -> (i32, BTreeMap<String, String>, String) {
    let home = dir.join("home");
    let codex_home = home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(codex_home.join("config.toml"), config).unwrap();
    let mut env: Vec<(&str, &str)> = CALLER.to_vec();
    let codex_home_text = codex_home.to_str().unwrap().to_owned();
    env.push(("CODEX_HOME", &codex_home_text));
    let cwd = dir.to_str().unwrap();
    let run = common::codex_policy(
        &home,
        &env,
        &["--profile", profile, subcommand, "--cwd", cwd, "--", "env"],
    );
    let vars = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (run.status, vars, run.stderr)
}

fn names(vars: &BTreeMap<String, String>) -> Vec<&str> {
    vars.keys().map(String::as_str).collect()
}

const SECRETS: [&str; 7] = [
    "GITHUB_TOKEN",
    "my_api_key",
    "DB_PASSWORD",
    "AWS_SECRET_ACCESS_KEY",
    "GIT_CREDENTIAL_HELPER",
    "INNOCENT_URL",
    "PASTED",
];

#[test]
fn by_default_secret_names_and_values_are_dropped_and_the_rest_inherited() {
    let dir = tempfile::tempdir().unwrap();
    let (status, vars, stderr) = command_env(dir.path(), "trusted", "", "run");
    assert_eq!(status, 0, "{stderr}");
    for secret in SECRETS {
        assert!(!vars.contains_key(secret), "{secret} leaked: {vars:?}");
    }
    assert_eq!(vars.get("EDITOR").map(String::as_str), Some("vi"));
    assert!(vars.contains_key("PATH") && vars.contains_key("HOME"));
    for value in ["gh-value", "key-value", "pw-value", "hunter2", "ghp_"] {
        assert!(!vars.values().any(|v| v.contains(value)), "{value} leaked");
    }
}

#[test]
fn each_inherit_value() {
    let dir = tempfile::tempdir().unwrap();
    let config = |inherit: &str| format!("[shell_environment_policy]\ninherit = \"{inherit}\"\n");
    let (status, all, stderr) = command_env(dir.path(), "trusted", &config("all"), "run");
    assert_eq!(status, 0, "{stderr}");
    assert!(all.contains_key("EDITOR"));
    let (_, core, _) = command_env(dir.path(), "trusted", &config("core"), "run");
    assert!(!core.contains_key("EDITOR"), "{core:?}");
    assert!(
        core.contains_key("PATH") && core.contains_key("HOME"),
        "{core:?}"
    );
    let (_, none, _) = command_env(dir.path(), "trusted", &config("none"), "run");
    for name in names(&none) {
        // Only what the harness itself sets for every command.
        assert!(name.starts_with("CODEX_"), "inherit none kept {name}");
    }
}

#[test]
fn ignore_default_excludes_exclude_set_and_include_only() {
    // Under `offline` nothing is writable: a config.toml anywhere may loosen
    // (under `trusted` every file is command-writable, and these keys would
    // be refused, as `a_config_the_command_could_write_...` shows).
    if let Some(reason) = skip_reason() {
        return skip(
            "ignore_default_excludes_exclude_set_and_include_only",
            &reason,
        );
    }
    let dir = tempfile::tempdir_in(common::escape::fixture_base().unwrap()).unwrap();
    let (_, vars, stderr) = command_env(
        dir.path(),
        "offline",
        "[shell_environment_policy]\nignore_default_excludes = true\nexclude = [\"*_key\", \"ED?TOR\"]\n",
        "run",
    );
    assert_eq!(
        vars.get("GITHUB_TOKEN").map(String::as_str),
        Some("gh-value"),
        "{stderr}"
    );
    assert!(
        !vars.contains_key("my_api_key"),
        "exclude is case-insensitive"
    );
    assert!(!vars.contains_key("EDITOR"), "? matches one character");

    let (_, vars, _) = command_env(
        dir.path(),
        "offline",
        "[shell_environment_policy]\nset = { CI = \"1\", EDITOR = \"nano\" }\n",
        "run",
    );
    assert_eq!(vars.get("CI").map(String::as_str), Some("1"));
    assert_eq!(vars.get("EDITOR").map(String::as_str), Some("nano"));

    let (_, vars, _) = command_env(
        dir.path(),
        "offline",
        "[shell_environment_policy]\ninclude_only = [\"PATH\", \"CI\"]\nset = { CI = \"1\", OTHER = \"x\" }\n",
        "run",
    );
    let kept: Vec<&str> = names(&vars)
        .into_iter()
        .filter(|n| !n.starts_with("CODEX_"))
        .collect();
    assert_eq!(kept, ["CI", "PATH"], "include_only filters set too");
}

#[test]
fn launch_variables_arrive_whatever_the_policy() {
    if let Some(reason) = skip_reason() {
        return skip("launch_variables_arrive_whatever_the_policy", &reason);
    }
    let dir = tempfile::tempdir_in(common::escape::fixture_base().unwrap()).unwrap();
    std::fs::write(
        dir.path().join(".codexrc.json"),
        r#"{"environment_context":{"name":"dev","network_access":"disabled"},
            "credentials":{"aws_profile":"dev-profile"}}"#,
    )
    .unwrap();
    let (status, vars, stderr) = command_env(
        dir.path(),
        "offline",
        "[shell_environment_policy]\ninherit = \"none\"\ninclude_only = [\"NOTHING\"]\n",
        "launch",
    );
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(
        vars.get("CODEX_CONTEXT_NAME").map(String::as_str),
        Some("dev")
    );
    assert!(vars.contains_key("CODEX_RUNTIME_CONFIG"), "{vars:?}");
    assert_eq!(
        vars.get("AWS_PROFILE").map(String::as_str),
        Some("dev-profile")
    );
}

#[test]
fn explain_names_what_is_dropped_and_never_a_value() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut env = CALLER.to_vec();
    env.push(("CODEX_HOME", "/nonexistent-codex-home"));
    for json in [false, true] {
        let mut args = vec!["--profile", "workspace", "explain"];
        if json {
            args.push("--json");
        }
        let run = common::codex_policy(&home, &env, &args);
        assert_eq!(run.status, 0, "{}", run.stderr);
        for secret in SECRETS {
            assert!(
                run.stdout.contains(secret),
                "{secret} not listed: {}",
                run.stdout
            );
        }
        for (_, value) in &CALLER[1..8] {
            assert!(!run.stdout.contains(value), "value {value} shown");
        }
        assert!(!run.stdout.contains("hunter2"));
    }
}

#[test]
fn the_sandbox_first_process_does_not_give_the_secrets_away() {
    if let Some(reason) = skip_reason() {
        return skip(
            "the_sandbox_first_process_does_not_give_the_secrets_away",
            &reason,
        );
    }
    let fixture = Fixture::new();
    // Every process of the sandbox a command could look into: its PID 1
    // (a copy of codex-policy, which holds the caller's whole environment)
    // and every other pid it can see.
    let script = "for p in /proc/[0-9]*; do cat $p/environ 2>/dev/null | tr '\\0' '\\n'; done; \
                  echo done";
    for profile in ["offline", "workspace"] {
        let output = fixture
            .command(profile, &[], &["sh", "-c", script])
            .env("GITHUB_TOKEN", "gh-value")
            .env("PASTED", "ghp_abcdefghijklmnopqrstuvwxyz0123456789")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("done"), "{profile}: {stdout}");
        assert!(!stdout.contains("gh-value"), "{profile} leaked: {stdout}");
        assert!(!stdout.contains("ghp_"), "{profile} leaked: {stdout}");
    }
    // The library's spawn path too (a reaper between the caller and the
    // sandbox).
    let session = codex_policy::Session::builder()
        .profile("workspace".parse().unwrap())
        .cwd(&fixture.workspace)
        .environment(common::session::environment(&fixture))
        .rules(codex_policy::ExecRules::None)
        .build()
        .unwrap();
    // SAFETY: the test sets a variable of its own before spawning; no other
    // thread of this test binary reads the environment meanwhile.
    unsafe { std::env::set_var("SECRET_FOR_SPAWN", "spawn-value") };
    let output = session.command(["sh", "-c", script]).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("done"));
    assert!(!stdout.contains("spawn-value"), "leaked: {stdout}");
}

#[test]
fn a_config_the_command_could_write_may_not_loosen_the_environment() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_config_the_command_could_write_may_not_loosen_the_environment",
            &reason,
        );
    }
    let fixture = Fixture::new();
    // Codex's home inside the workspace: its config.toml is command-writable.
    let codex_home = fixture.workspace.join("codex-home");
    std::fs::create_dir_all(&codex_home).unwrap();
    for (config, key) in [
        (
            "[shell_environment_policy]\nignore_default_excludes = true\n",
            "shell_environment_policy.ignore_default_excludes",
        ),
        (
            "[shell_environment_policy]\nset = { LD_PRELOAD = \"/tmp/x.so\" }\n",
            "shell_environment_policy.set.LD_PRELOAD",
        ),
        (
            "[permissions.workspace.filesystem]\nallow_read = [\"~/.ssh\"]\n",
            "permissions.workspace.filesystem.allow_read",
        ),
    ] {
        std::fs::write(codex_home.join("config.toml"), config).unwrap();
        let output = fixture
            .command("workspace", &[], &["true"])
            .env("CODEX_HOME", &codex_home)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(125), "{config}: {stderr}");
        assert!(
            stderr.contains("CP0024") && stderr.contains(key),
            "{config}: {stderr}"
        );
    }
}

#[test]
fn bad_policies_are_located_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (config, key) in [
        ("inherit = \"some\"", "shell_environment_policy.inherit"),
        ("exclude = [\"A=B\"]", "shell_environment_policy.exclude"),
        (
            "include_only = [\"\"]",
            "shell_environment_policy.include_only",
        ),
        ("unknown = 1", "unknown"),
        ("set = { \"\" = \"x\" }", "shell_environment_policy.set"),
    ] {
        let (status, vars, stderr) = command_env(
            dir.path(),
            "trusted",
            &format!("# policy\n[shell_environment_policy]\n{config}\n"),
            "run",
        );
        assert_eq!(status, 125, "{config}: {stderr}");
        assert!(vars.is_empty(), "{config}: the command ran");
        assert!(stderr.contains("config.toml:3:"), "{config}: {stderr}");
        assert!(stderr.contains(key), "{config}: {stderr}");
    }
}

#[test]
fn host_processes_and_their_command_lines_are_not_visible() {
    if let Some(reason) = skip_reason() {
        return skip(
            "host_processes_and_their_command_lines_are_not_visible",
            &reason,
        );
    }
    let fixture = Fixture::new();
    // A host process with a password on its command line, as clients are
    // often started (`mysql -pSECRET`).
    let mut host = std::process::Command::new("sh")
        .args(["-c", "sleep 30; true", "host-arg-SECRET-pw"])
        .spawn()
        .unwrap();
    // Seen from the host once it has started (exec may not have happened yet).
    let seen = (0..500).any(|_| {
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", host.id())).unwrap_or_default();
        let found = String::from_utf8_lossy(&cmdline).contains("SECRET");
        if !found {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        found
    });
    assert!(seen, "the host process never showed its command line");
    let script = "cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; ls -d /proc/[0-9]* | wc -l";
    for profile in ["offline", "workspace"] {
        let output = fixture.run(profile, &[], script);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{profile}: {stdout}");
        assert!(
            !stdout.contains("SECRET"),
            "{profile} sees the host: {stdout}"
        );
        let count: usize = stdout.lines().last().unwrap().trim().parse().unwrap();
        // PID 1 (the sandbox's first process), the shell, cat/ls, tr, wc.
        assert!(count < 10, "{profile}: {count} processes visible: {stdout}");
    }
    host.kill().unwrap();
    host.wait().unwrap();
}
