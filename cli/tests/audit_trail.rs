//! What `run` and `check` leave in the audit log, where it goes, what happens
//! when it cannot be written, and reading it back with `audit tail|query`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::codex_policy_bin;
use common::escape::{Fixture, skip, skip_reason};

fn events(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn audit(fixture: &Fixture, args: &[&str]) -> std::process::Output {
    Command::new(codex_policy_bin())
        .env_clear()
        .env("HOME", &fixture.home)
        .env("CODEX_HOME", &fixture.codex_home)
        .arg("audit")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn run_records_load_start_and_exit_in_one_session() {
    if let Some(reason) = skip_reason() {
        return skip("run_records_load_start_and_exit_in_one_session", &reason);
    }
    let fixture = Fixture::new();
    let secret = "sk-abcdefghijklmnopqrstuvwx0123";
    let rules = fixture.home.join("allow.rules");
    std::fs::write(
        &rules,
        "prefix_rule(pattern = [\"exit\"], decision = \"allow\")\n",
    )
    .unwrap();
    let output = fixture
        .command(
            "workspace",
            &[
                "--session-id",
                "review-42",
                "--rules",
                rules.to_str().unwrap(),
            ],
            &["sh", "-c", "exit 3", secret],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(3), "{output:?}");
    // No --audit-log: the default place under $CODEX_HOME.
    let path = fixture.codex_home.join("audit/audit.jsonl");
    let log = events(&path);
    let operations: Vec<&str> = log
        .iter()
        .map(|e| e["operation"].as_str().unwrap())
        .collect();
    assert_eq!(log[0]["operation"], "policy_load");
    assert_eq!(log[0]["target"], "profile workspace");
    assert!(
        log.iter().any(|e| e["operation"] == "policy_load"
            && e["target"].as_str().unwrap().ends_with("allow.rules")),
        "{operations:?}"
    );
    assert!(operations.contains(&"command_exec"), "{operations:?}");
    let start = operations
        .iter()
        .position(|o| *o == "sandbox_start")
        .unwrap();
    let exit = operations
        .iter()
        .position(|o| *o == "sandbox_exit")
        .unwrap();
    assert!(start < exit);
    assert_eq!(log[exit]["exit_status"], 3);
    assert!(log[exit]["duration_ms"].is_u64());
    assert!(log.iter().all(|e| e["session_id"] == "review-42"));
    assert!(log.iter().all(|e| e["profile"] == "workspace"));
    // RFC 3339, UTC, milliseconds.
    let stamp = log[0]["timestamp"].as_str().unwrap();
    assert!(stamp.ends_with('Z') && stamp.len() == "2026-01-01T00:00:00.000Z".len());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(secret), "argv secret written: {text}");
    assert!(
        !text.contains(fixture.home.to_str().unwrap()),
        "home path written"
    );
}

#[test]
fn each_run_gets_its_own_session_and_no_audit_writes_nothing() {
    if let Some(reason) = skip_reason() {
        return skip(
            "each_run_gets_its_own_session_and_no_audit_writes_nothing",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let path = fixture.home.join("chosen.jsonl");
    let path_arg = path.to_str().unwrap();
    for _ in 0..2 {
        let output = fixture
            .command("workspace", &["--audit-log", path_arg], &["true"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    }
    let sessions: std::collections::BTreeSet<String> = events(&path)
        .iter()
        .map(|e| e["session_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    assert!(!fixture.codex_home.join("audit").exists());

    let output = fixture
        .command("workspace", &["--no-audit"], &["true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(!fixture.codex_home.join("audit").exists());
}

#[test]
fn an_unwritable_log_refuses_the_command_unless_in_monitor_mode() {
    if let Some(reason) = skip_reason() {
        return skip(
            "an_unwritable_log_refuses_the_command_unless_in_monitor_mode",
            &reason,
        );
    }
    let fixture = Fixture::new();
    // A regular file where the log's directory should be.
    let blocker = fixture.home.join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let log = blocker.join("audit.jsonl");
    let log = log.to_str().unwrap();
    let marker = fixture.workspace.join("ran");
    let output = fixture
        .command("workspace", &["--audit-log", log], &["touch", "ran"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("audit log cannot be written"), "{stderr}");
    assert!(stderr.contains("not-a-dir"), "{stderr}");
    assert!(!marker.exists(), "the command ran without its audit trail");

    // Monitor mode from a file the command cannot write (one in the workspace
    // may only tighten the policy).
    let policy = fixture.home.join("harness.policy.json");
    std::fs::write(&policy, r#"{"deny_on_violation": false}"#).unwrap();
    let output = fixture
        .command(
            "workspace",
            &["--policy", policy.to_str().unwrap(), "--audit-log", log],
            &["touch", "ran"],
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("warning: the audit log cannot be written"));
    assert!(marker.exists());
}

#[test]
fn check_records_the_decision_and_query_filters_it() {
    let fixture = match skip_reason() {
        // `check` needs no sandbox, but the fixture wants a place outside /tmp.
        Some(reason) if reason.contains("fixture") => {
            return skip("check_records_the_decision_and_query_filters_it", &reason);
        }
        _ => Fixture::new(),
    };
    let path = fixture.home.join("check.jsonl");
    let path_arg = path.to_str().unwrap();
    for argv in [["git", "status"], ["rm", "-rf"]] {
        let output = Command::new(codex_policy_bin())
            .env_clear()
            .env("HOME", &fixture.home)
            .current_dir(&fixture.workspace)
            .args(["check", "--audit-log", path_arg, "--session-id", "c1", "--"])
            .args(argv)
            .output()
            .unwrap();
        assert!(output.status.code().is_some_and(|c| c < 2), "{output:?}");
    }
    let log = events(&path);
    assert_eq!(log.len(), 2, "{log:?}");
    assert!(log.iter().all(|e| e["operation"] == "command_exec"));
    assert_eq!(log[0]["target"], "git status");

    let output = audit(
        &fixture,
        &[
            "query",
            "--file",
            path_arg,
            "--operation",
            "command_exec",
            "--session",
            "c1",
            "--json",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let all: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(all.len(), 2);

    let decision = log[1]["decision"].as_str().unwrap();
    let output = audit(
        &fixture,
        &[
            "query",
            "--file",
            path_arg,
            "--decision",
            decision,
            "--json",
        ],
    );
    let picked: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(picked.iter().all(|e| e["decision"] == decision));
    assert!(picked.iter().any(|e| e["target"] == "rm -rf"));

    let output = audit(
        &fixture,
        &[
            "query",
            "--file",
            path_arg,
            "--until",
            "2000-01-01T00:00:00Z",
            "--json",
        ],
    );
    let none: Vec<serde_json::Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert!(none.is_empty());

    let output = audit(&fixture, &["tail", "--file", path_arg, "-n", "1"]);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.starts_with("1 event(s)") && table.contains("rm -rf"),
        "{table}"
    );
}

#[test]
fn bad_audit_input_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.jsonl");
    let path_arg = path.to_str().unwrap();
    let run = |args: &[&str], stdin: &str| {
        let mut child = Command::new(codex_policy_bin())
            .env_clear()
            .env("HOME", dir.path())
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The refusal of an oversized line may close the pipe before all is sent.
        let _ = std::io::Write::write_all(&mut child.stdin.take().unwrap(), stdin.as_bytes());
        child.wait_with_output().unwrap()
    };
    // A missing log is an error, not an empty answer.
    let out = run(&["audit", "tail", "--file", path_arg], "");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no audit log here"));
    // Unknown filter values name the flag.
    let out = run(
        &["audit", "query", "--file", path_arg, "--decision", "maybe"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--decision"));
    let out = run(
        &["audit", "query", "--file", path_arg, "--since", "yesterday"],
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    // Malformed appended events name the line and column; nothing after is written.
    let good = r#"{"operation":"command_exec","target":"ls","decision":"allowed","source":"t"}"#;
    let input = format!("{good}\n{{\"operation\":\"command_exec\",\"extra\":1}}\n{good}\n");
    let out = run(&["audit", "append", "--file", path_arg], &input);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr.contains("<stdin>:2:"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    // Oversized and non-UTF-8 lines are refused with their line number.
    let huge = format!("{}\n", "x".repeat(2 * 1024 * 1024));
    let out = run(&["audit", "append", "--file", path_arg], &huge);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("<stdin>:1: line longer than"));
    let mut child = Command::new(codex_policy_bin())
        .env_clear()
        .args(["audit", "append", "--file", path_arg])
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"\xff\xfe\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not UTF-8"));
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 1);
    // A torn last line is a note, and the whole events still come back.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"timest"))
        .unwrap();
    let out = run(&["audit", "query", "--file", path_arg, "--json"], "");
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("torn last line"));
    let events: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(events.len(), 1);
}

/// A secret inside a `bash -c` script is redacted like one given as separate
/// arguments: each argument is redacted on its own before the line is joined.
#[test]
fn secrets_inside_a_shell_script_are_redacted() {
    if let Some(reason) = skip_reason() {
        return skip("secrets_inside_a_shell_script", &reason);
    }
    let fixture = Fixture::new();
    let log = fixture.home.join("audit.jsonl");
    let output = fixture
        .command(
            "workspace",
            &["--audit-log", log.to_str().unwrap()],
            &[
                "sh",
                "-c",
                "true curl --password hunter2 -u admin:adminpass",
            ],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        !text.contains("hunter2") && !text.contains("adminpass"),
        "{text}"
    );
}
