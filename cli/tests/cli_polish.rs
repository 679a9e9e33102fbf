//! The command line's edges a first-time user meets: flags a command would
//! ignore are refused, every error has one prefix, a closed pipe ends
//! quietly, `check` records what the gate would do, located errors show
//! their line with a caret (secrets masked), and help speaks of the
//! product's own concepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::process::{Command, Stdio};

use common::{codex_policy, codex_policy_bin};

#[test]
fn a_global_flag_the_command_would_ignore_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    for (args, flag, command) in [
        (&["run", "--json", "--", "true"][..], "--json", "run"),
        (
            &["--json", "init", "--pattern", "sandbox"],
            "--json",
            "init --pattern",
        ),
        (&["--json", "proxy"], "--json", "proxy"),
        (&["--json", "schema", "config"], "--json", "schema"),
        (&["--profile", "offline", "doctor"], "--profile", "doctor"),
        (
            &["--profile", "offline", "schema", "config"],
            "--profile",
            "schema",
        ),
        (
            &["--full-auto", "audit", "tail"],
            "--full-auto",
            "audit tail",
        ),
        (
            &["-a", "never", "init", "--template", "ci"],
            "--ask-for-approval",
            "init --template",
        ),
    ] {
        let run = codex_policy(
            home.path(),
            &[("CODEX_HOME", home.path().to_str().unwrap())],
            args,
        );
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!(
                "codex-policy: error: {flag} has no effect on `{command}`"
            )),
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{args:?} printed {}", run.stdout);
    }
    // Nothing was written by the refused `init`s.
    assert!(!config.exists());
    assert!(std::fs::read_dir(home.path()).unwrap().next().is_none());
    // Where the flag does something, it is accepted.
    let run = codex_policy(home.path(), &[], &["--json", "doctor"]);
    assert!(run.status == 0 || run.status == 1, "{}", run.stderr);
    run.json();
}

#[test]
fn usage_errors_carry_the_same_prefix_as_every_other_error() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["bogus"][..],
        &["run"],
        &["--profile", "nonsense", "explain"],
    ] {
        let run = codex_policy(home.path(), &[], args);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with("codex-policy: error: "),
            "{args:?}: {}",
            run.stderr
        );
    }
    // Help and version are not errors.
    let help = codex_policy(home.path(), &[], &["--help"]);
    assert_eq!(help.status, 0);
    assert!(help.stdout.contains("Usage: codex-policy"));
}

#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    let mut child = Command::new(codex_policy_bin())
        .args(["schema", "config"])
        .env_clear()
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Read one byte, then close the pipe, as `| head -c1` does.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(first, *b"{");
    assert!(status.success(), "{status:?}: {stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn check_records_what_the_gate_would_do_not_an_approval_nobody_gave() {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("audit.jsonl");
    let log_arg = log.to_str().unwrap();
    let last_event = || {
        let text = std::fs::read_to_string(&log).unwrap();
        serde_json::from_str::<serde_json::Value>(text.lines().last().unwrap()).unwrap()
    };
    for (approval, decision, reason) in [
        (
            "on-request",
            "allowed",
            "no rule matched; would run in the sandbox (approval on-request)",
        ),
        (
            "untrusted",
            "requires_approval",
            "no rule matched; would ask first (approval untrusted)",
        ),
    ] {
        let run = codex_policy(
            home.path(),
            &[],
            &[
                "-a",
                approval,
                "check",
                "--audit-log",
                log_arg,
                "--",
                "some-tool-no-rule-knows",
            ],
        );
        assert_eq!(run.status, 0, "{}", run.stderr);
        let event = last_event();
        assert_eq!(event["decision"], decision, "{event}");
        assert_eq!(event["reason"], reason, "{event}");
    }
    // A forbidden command is denied whatever the mode.
    codex_policy(
        home.path(),
        &[],
        &["check", "--audit-log", log_arg, "--", "rm", "-rf", "/"],
    );
    let event = last_event();
    assert_eq!(event["decision"], "denied", "{event}");
    assert!(
        event["reason"]
            .as_str()
            .unwrap()
            .ends_with("would be refused (approval on-request)"),
        "{event}"
    );
}

#[test]
fn located_errors_show_the_line_with_a_caret_and_mask_quoted_values() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        "approval_policy = \"on-request\"\n[permissions.workspace.filesystem]\ndeny_reed = [\"~/private-notes\"]\n",
    )
    .unwrap();
    let run = codex_policy(
        dir,
        &[],
        &["--config", config.to_str().unwrap(), "validate"],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    let expected = "\n  |\n3 | deny_reed = [\"…\"]\n  | ^^^^^^^^^\n";
    assert!(run.stdout.contains(expected), "{}", run.stdout);
    assert!(!run.stdout.contains("private-notes"), "{}", run.stdout);
    assert!(
        run.stdout.contains("did you mean `deny_read`?"),
        "{}",
        run.stdout
    );

    // A value under the caret is shown, unless it looks like a secret.
    std::fs::write(&config, "approval_policy = \"sometimes\"\n").unwrap();
    let run = codex_policy(
        dir,
        &[],
        &["--config", config.to_str().unwrap(), "run", "--", "true"],
    );
    assert_eq!(run.status, 125, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("1 | approval_policy = \"sometimes\"\n  |                   ^"),
        "{}",
        run.stderr
    );
    let token = "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB";
    let rc = dir.join(".codexrc.json");
    std::fs::write(
        &rc,
        format!("{{\"credentials\": {{\"tokne\": \"{token}\"}}}}"),
    )
    .unwrap();
    let run = codex_policy(dir, &[], &["validate", "--runtime", rc.to_str().unwrap()]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("{\"credentials\": {\"tokne\": \"…\"}}"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(token), "{}", run.stdout);
}

#[test]
fn help_texts_speak_of_the_products_own_concepts() {
    let home = tempfile::tempdir().unwrap();
    let mut texts = vec![codex_policy(home.path(), &[], &["--help"]).stdout];
    for command in [
        "run", "launch", "explain", "audit", "check", "doctor", "debug", "validate", "init",
        "elevate", "proxy", "schema",
    ] {
        let help = codex_policy(home.path(), &[], &[command, "--help"]);
        assert_eq!(help.status, 0, "{command}: {}", help.stderr);
        texts.push(help.stdout);
    }
    for text in texts {
        let lower = text.to_lowercase();
        assert!(!lower.contains("seed"), "{text}");
        assert!(!lower.contains("docs/"), "{text}");
    }
}

#[test]
fn an_empty_codex_home_is_refused_by_every_command_alike() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["validate"][..],
        &["--show-profile"],
        &["explain"],
        &["run", "--", "true"],
    ] {
        let run = codex_policy(home.path(), &[("CODEX_HOME", "")], args);
        assert_ne!(run.status, 0, "{args:?} accepted an empty CODEX_HOME");
        assert!(
            run.stderr.contains("CODEX_HOME is set but empty"),
            "{args:?}: {}",
            run.stderr
        );
    }
}
