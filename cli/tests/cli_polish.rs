//! The command line's edges a first-time user meets: flags a command would
//! ignore are refused, every error has one prefix, a closed pipe ends
//! quietly, `check` records what the gate would do, located errors show
//! their line with a caret (secrets masked), and help speaks of the
//! product's own concepts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
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

/// Runs the binary in `dir` with only the variables in `env` (`HOME` is `dir`
/// unless `env` sets it), its standard error a pipe whose reading end is
/// already closed: the status it exits with.
fn status_with_stderr_closed(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> i32 {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut command = Command::new(codex_policy_bin());
    command
        .env_clear()
        .env("HOME", dir)
        .envs(env.iter().copied())
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(writer);
    let status = command.status().unwrap();
    status
        .code()
        .unwrap_or_else(|| panic!("{args:?} was killed: {status:?}"))
}

#[test]
fn a_closed_standard_error_keeps_the_contract_status() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let not_executable = dir.join("not-executable");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    for (args, status) in [
        // Refused by the exec policy: a line on stderr, then 126.
        (&["run", "--", "rm", "-rf", "/"][..], 126),
        // clap's own error path.
        (&["--bogus"], 2),
        // The refusal of a flag the command would ignore.
        (&["run", "--json", "--", "true"], 2),
        // A warning first (--yolo), then the command that cannot be found:
        // the message comes from the child, which must not die of SIGPIPE.
        (&["--yolo", "run", "--", "no-such-command-anywhere"], 127),
        (
            &["--yolo", "run", "--", not_executable.to_str().unwrap()],
            126,
        ),
        // A dry run that writes its command line on stderr.
        (&["debug", "seatbelt", "--", "true"], 0),
    ] {
        assert_eq!(
            status_with_stderr_closed(dir, &[], args),
            status,
            "{args:?} with standard error closed"
        );
    }
}

#[test]
fn global_flags_an_elevation_or_a_command_without_config_would_ignore_are_refused() {
    let home = tempfile::tempdir().unwrap();
    let codex_home = home.path().join("codex-home");
    std::fs::create_dir(&codex_home).unwrap();
    let env = [("CODEX_HOME", codex_home.to_str().unwrap())];
    // A config.toml that does not even exist: refused before it is read.
    let config = home.path().join("missing.toml");
    let config = config.to_str().unwrap();
    let grant = ["--to", "workspace", "--for", "1m", "--reason", "t", "--yes"];
    let with = |before: &[&'static str], after: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = before.iter().map(|s| (*s).to_owned()).collect();
        args.extend(after.iter().map(|s| (*s).to_owned()));
        args
    };
    for (args, flag, command) in [
        (
            with(&["elevate"], &[&grant[..], &["--json"]].concat()),
            "--json",
            "elevate --to",
        ),
        (
            with(&["elevate", "--revoke", "--json"], &[]),
            "--json",
            "elevate --revoke",
        ),
        (
            with(&["--profile", "trusted", "elevate"], &grant),
            "--profile",
            "elevate --to",
        ),
        (
            with(&["elevate", "--status", "--profile", "workspace"], &[]),
            "--profile",
            "elevate --status",
        ),
        (
            vec![
                "--config".into(),
                config.into(),
                "schema".into(),
                "config".into(),
            ],
            "--config",
            "schema",
        ),
        (
            vec!["--config".into(), config.into(), "doctor".into()],
            "--config",
            "doctor",
        ),
        (
            vec![
                "--config".into(),
                config.into(),
                "init".into(),
                "--pattern".into(),
                "sandbox".into(),
                "--dir".into(),
                home.path().join("init").to_str().unwrap().into(),
            ],
            "--config",
            "init --pattern",
        ),
        (
            vec![
                "--config".into(),
                config.into(),
                "elevate".into(),
                "--status".into(),
            ],
            "--config",
            "elevate --status",
        ),
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = codex_policy(home.path(), &env, &args);
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
    // Nothing was granted, nothing initialized.
    assert!(std::fs::read_dir(&codex_home).unwrap().next().is_none());
    assert!(!home.path().join("init").exists());

    // Where the flag does something, it is accepted.
    let run = codex_policy(home.path(), &env, &["elevate", "--status", "--json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["status"], "none");
    // --show-profile prints JSON whatever the command does with it.
    let run = codex_policy(
        home.path(),
        &env,
        &["--show-profile", "--json", "run", "--", "true"],
    );
    assert_ne!(run.status, 2, "{}", run.stderr);
    assert!(!run.stderr.contains("has no effect"), "{}", run.stderr);
    let shown: serde_json::Value = serde_json::Deserializer::from_str(&run.stdout)
        .into_iter()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(shown["profile"], "offline", "{shown}");
    // `audit` reads the log config.toml names: --config is read, so a
    // missing one is an error of its own, not a refused flag.
    let run = codex_policy(home.path(), &env, &["--config", config, "audit", "tail"]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("missing.toml"), "{}", run.stderr);
}

#[test]
fn empty_or_relative_variables_are_refused_with_the_documented_status() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let config = dir.join("config.toml");
    std::fs::write(&config, "approval_policy = \"on-request\"\n").unwrap();
    let config = config.to_str().unwrap();
    for (env, args, status, message) in [
        // validate reads the environment as every other command does, even
        // with --config.
        (
            ("CODEX_HOME", ""),
            &["--config", config, "validate"][..],
            1,
            "CODEX_HOME is set but empty",
        ),
        (
            ("CODEX_HOME", "relative/codex"),
            &["--config", config, "validate"],
            1,
            "CODEX_HOME is the relative path",
        ),
        // doctor exits 0 or 1; a bad variable is invalid input.
        (
            ("CODEX_HOME", ""),
            &["doctor"],
            1,
            "CODEX_HOME is set but empty",
        ),
        (
            ("CODEX_HOME", "relative/codex"),
            &["doctor"],
            1,
            "CODEX_HOME is the relative path",
        ),
        // Set but empty is not unset: no fallback to the project's files.
        (
            ("CODEX_RUNTIME_CONFIG", ""),
            &["validate"],
            1,
            "CODEX_RUNTIME_CONFIG is set but empty",
        ),
        (
            ("CODEX_POLICY_FILE", ""),
            &["validate"],
            1,
            "CODEX_POLICY_FILE is set but empty",
        ),
        (
            ("CODEX_RUNTIME_CONFIG", ""),
            &["explain"],
            1,
            "CODEX_RUNTIME_CONFIG is set but empty",
        ),
        (
            ("CODEX_POLICY_FILE", ""),
            &["check", "--no-audit", "--", "ls"],
            1,
            "CODEX_POLICY_FILE is set but empty",
        ),
        // run reports bad configuration with 125: nothing was started.
        (
            ("CODEX_POLICY_FILE", ""),
            &["run", "--", "true"],
            125,
            "CODEX_POLICY_FILE is set but empty",
        ),
        // With CODEX_HOME unset, HOME decides where ~/.codex is: set but
        // empty is refused, never read as unset (which would find no
        // config.toml and no audit log, and carry on).
        (
            ("HOME", ""),
            &["--show-profile"],
            1,
            "HOME is set but empty",
        ),
        (
            ("HOME", ""),
            &["check", "--", "true"],
            1,
            "HOME is set but empty",
        ),
        (("HOME", ""), &["explain"], 1, "HOME is set but empty"),
        (("HOME", ""), &["validate"], 1, "HOME is set but empty"),
        (("HOME", ""), &["doctor"], 1, "HOME is set but empty"),
        (
            ("HOME", ""),
            &["run", "--", "true"],
            125,
            "HOME is set but empty",
        ),
        (
            ("HOME", ""),
            &["launch", "--", "true"],
            125,
            "HOME is set but empty",
        ),
        // Every command that starts something says 125, as run does.
        (
            ("HOME", ""),
            &["debug", "landlock", "--", "true"],
            125,
            "HOME is set but empty",
        ),
        (
            ("HOME", ""),
            &["debug", "seatbelt", "--", "true"],
            125,
            "HOME is set but empty",
        ),
        (("HOME", ""), &["proxy"], 125, "HOME is set but empty"),
        (
            ("CODEX_HOME", ""),
            &["proxy"],
            125,
            "CODEX_HOME is set but empty",
        ),
    ] {
        let run = codex_policy(dir, &[env], args);
        assert_eq!(run.status, status, "{env:?} {args:?}: {}", run.stderr);
        assert!(
            run.stderr.starts_with(&format!(
                "codex-policy: error: environment variable {message}"
            )),
            "{env:?} {args:?}: {}",
            run.stderr
        );
        assert!(run.stdout.is_empty(), "{env:?} {args:?}: {}", run.stdout);
    }
}

#[test]
fn audit_tail_and_query_read_the_log_config_toml_names() {
    let test = "audit_tail_and_query_read_the_log_config_toml_names";
    // config.toml may choose the log only where no sandboxed command could
    // have written it: outside /tmp.
    let Some(base) = common::escape::fixture_base() else {
        return common::escape::skip(test, "no directory outside /tmp for fixtures");
    };
    let dir = tempfile::tempdir_in(base).unwrap();
    let dir = dir.path().canonicalize().unwrap();
    let codex_home = dir.join("codex-home");
    std::fs::create_dir(&codex_home).unwrap();
    let chosen = dir.join("a1/log.jsonl");
    let config_text = format!("[audit]\npath = {:?}\n", chosen.to_str().unwrap());
    let explicit = dir.join("explicit.toml");
    std::fs::write(&explicit, &config_text).unwrap();
    let explicit = explicit.to_str().unwrap();
    let run = |env: &[(&str, &str)], args: &[&str]| {
        let output = Command::new(codex_policy_bin())
            .env_clear()
            .env("HOME", &dir)
            .envs(env.iter().copied())
            .current_dir(&dir)
            .args(args)
            .output()
            .unwrap();
        (
            output.status.code().unwrap(),
            String::from_utf8(output.stdout).unwrap(),
            String::from_utf8(output.stderr).unwrap(),
        )
    };
    let sessions = |stdout: &str| -> Vec<String> {
        let events: Vec<serde_json::Value> = serde_json::from_str(stdout).unwrap();
        events
            .iter()
            .map(|e| e["session_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let codex_home_env = [("CODEX_HOME", codex_home.to_str().unwrap())];

    // The file given with --config.
    let (status, _, stderr) = run(
        &codex_home_env,
        &[
            "--config",
            explicit,
            "check",
            "--session-id",
            "s-explicit",
            "--",
            "ls",
        ],
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(
        chosen.exists(),
        "check did not write where config.toml says"
    );
    for args in [
        &["--config", explicit, "--json", "audit", "tail"][..],
        &[
            "--config",
            explicit,
            "--json",
            "audit",
            "query",
            "--session",
            "s-explicit",
        ],
    ] {
        let (status, stdout, stderr) = run(&codex_home_env, args);
        assert_eq!(status, 0, "{args:?}: {stderr}");
        assert_eq!(sessions(&stdout), ["s-explicit"], "{args:?}");
    }

    // The one in Codex's home.
    std::fs::write(codex_home.join("config.toml"), &config_text).unwrap();
    let (status, _, stderr) = run(
        &codex_home_env,
        &["check", "--session-id", "s-home", "--", "ls"],
    );
    assert_eq!(status, 0, "{stderr}");
    let (status, stdout, stderr) = run(&codex_home_env, &["--json", "audit", "tail"]);
    assert_eq!(status, 0, "{stderr}");
    assert_eq!(sessions(&stdout), ["s-explicit", "s-home"]);
    assert!(!codex_home.join("audit").exists());

    // --file still wins.
    let other = dir.join("other.jsonl");
    std::fs::write(&other, "").unwrap();
    let (status, stdout, stderr) = run(
        &codex_home_env,
        &["--json", "audit", "tail", "--file", other.to_str().unwrap()],
    );
    assert_eq!(status, 0, "{stderr}");
    assert!(sessions(&stdout).is_empty(), "{stdout}");

    // A config.toml with errors cannot say which log: refused, not guessed.
    std::fs::write(codex_home.join("config.toml"), "[audit]\npath = 3\n").unwrap();
    let (status, stdout, stderr) = run(&codex_home_env, &["audit", "tail"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("config.toml:2:"), "{stderr}");
}

#[test]
fn a_remedy_is_labelled_help_in_every_human_message() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let config = dir.join("config.toml");
    std::fs::write(&config, "approval_policy = \"sometimes\"\n").unwrap();
    let config = config.to_str().unwrap();
    let policy = dir.join("harness.policy.json");
    std::fs::write(&policy, "{\"deny_on_violation\": 3}").unwrap();
    let policy = policy.to_str().unwrap();
    let validate = codex_policy(
        dir,
        &[],
        &["--config", config, "validate", "--policy", policy],
    );
    assert_eq!(validate.status, 1, "{}", validate.stderr);
    let run = codex_policy(dir, &[], &["run", "--policy", policy, "--", "true"]);
    assert_eq!(run.status, 125, "{}", run.stderr);
    for text in [&validate.stdout, &run.stderr] {
        assert!(text.contains("\n  help: "), "{text}");
        assert!(!text.contains("fix:"), "{text}");
    }
    // JSON keeps its documented field.
    let json = codex_policy(
        dir,
        &[],
        &["--config", config, "--json", "validate", "--policy", policy],
    );
    assert!(
        json.json()["findings"][0]["fix"].is_string(),
        "{}",
        json.stdout
    );
}

#[test]
fn a_log_that_cannot_be_written_refuses_a_run_and_the_proxy_and_a_check_says_so() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let log_dir = dir.to_str().unwrap();
    // deny_on_violation is in force (the default).
    let check = codex_policy(dir, &[], &["check", "--audit-log", log_dir, "--", "ls"]);
    assert_eq!(check.status, 0, "{}", check.stderr);
    assert!(
        check
            .stderr
            .contains("continuing without recording, since nothing is enforced here"),
        "{}",
        check.stderr
    );
    assert!(!check.stderr.contains("monitor mode"), "{}", check.stderr);
    // run, which would start one, still refuses.
    let run = codex_policy(dir, &[], &["run", "--audit-log", log_dir, "--", "true"]);
    assert_eq!(run.status, 125, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("refusing because deny_on_violation is in force"),
        "{}",
        run.stderr
    );
    // So does the proxy, which enforces the network policy: it must not
    // serve unrecorded. (`timeout` only bounds a regression that serves.)
    let proxy = Command::new("timeout")
        .args(["60", codex_policy_bin()])
        .args([
            "--profile",
            "workspace-net",
            "proxy",
            "--audit-log",
            log_dir,
        ])
        .args(["--listen", "127.0.0.1:0", "--socks", "127.0.0.1:0"])
        .env_clear()
        .env("HOME", dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&proxy.stderr);
    assert_eq!(proxy.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains("refusing because deny_on_violation is in force"),
        "{stderr}"
    );
}

#[test]
fn a_proxy_address_off_loopback_is_a_usage_error_whatever_the_profile() {
    let home = tempfile::tempdir().unwrap();
    // offline: the network is off, which would be 125 — the address is
    // judged first.
    for args in [
        &["proxy", "--listen", "0.0.0.0:3128"][..],
        &["proxy", "--socks", "0.0.0.0:1080"],
        &[
            "--profile",
            "workspace-net",
            "proxy",
            "--listen",
            "0.0.0.0:3128",
        ],
    ] {
        let run = codex_policy(home.path(), &[], args);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("is not a loopback address"),
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_command_that_cannot_be_found_or_executed_is_said_plainly() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path();
    let not_executable = dir.join("notes.txt");
    std::fs::write(&not_executable, "hello\n").unwrap();
    for (command, status, message) in [
        (
            "no-such-command-anywhere",
            127,
            "codex-policy: error: command not found: no-such-command-anywhere\n".to_owned(),
        ),
        // An empty name is shown, not left blank.
        (
            "",
            127,
            "codex-policy: error: command not found: ''\n".to_owned(),
        ),
        (
            not_executable.to_str().unwrap(),
            126,
            format!(
                "codex-policy: error: command not executable: {} (permission denied)\n",
                not_executable.display()
            ),
        ),
    ] {
        let run = codex_policy(dir, &[], &["--profile", "trusted", "run", "--", command]);
        assert_eq!(run.status, status, "{command}: {}", run.stderr);
        assert!(run.stderr.ends_with(&message), "{command}: {}", run.stderr);
        assert!(
            !run.stderr.contains("os error"),
            "{command}: {}",
            run.stderr
        );
    }

    // A script that is there, whose `#!` interpreter is not: the kernel
    // says "not found", but the command was found. Still 127, as a shell.
    let project = tempfile::tempdir().unwrap();
    let script = project.path().join("badinterp");
    std::fs::write(&script, "#!/nonexistent/interp\necho ran\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = Command::new(codex_policy_bin())
        .env_clear()
        .env("HOME", dir)
        .current_dir(project.path())
        .args(["run", "--best-effort", "--", "./badinterp"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(output.status.code(), Some(127), "{stderr}");
    assert!(
        stderr.ends_with(
            "codex-policy: error: cannot execute ./badinterp: its interpreter (the #! line) \
             was not found\n"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("command not found"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn warnings_have_one_style() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(
        home.path(),
        &[],
        &["--yolo", "check", "--no-audit", "--", "ls"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .starts_with("codex-policy: warning: --dangerously-bypass-approvals-and-sandbox"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("WARNING"), "{}", run.stderr);
}
