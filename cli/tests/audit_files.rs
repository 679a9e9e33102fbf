//! The real binary against a hostile audit log location: a symlink, a dangling
//! symlink, a FIFO, a directory, a hard link, a rotated sibling that is a link —
//! `run` refuses with 125 before starting the command, and nothing is written
//! or created elsewhere; `audit tail|query` refuse them without hanging and
//! print whatever the log holds with control characters made visible; `check`
//! writes where `run` would; a command that cannot be executed still closes
//! its `sandbox_start` with a `sandbox_exit`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::codex_policy_bin;
use common::escape::{Fixture, fixture_base, skip, skip_reason};

/// Runs `command` and fails the test if it has not ended after a generous
/// while (then kills it): a FIFO opened the blocking way never returns. Any
/// ending passes; this is a watchdog, not a timing assertion.
fn finishes(what: &str, mut command: Command) -> Output {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn codex-policy");
    let pid = child.id();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(child.wait_with_output());
    });
    match receive.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: signalling the child this test started.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("{what}: codex-policy never returned (blocked on the log?)");
        }
    }
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn events(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn fixture_or_skip(test: &str) -> Option<Fixture> {
    if fixture_base().is_none() {
        skip(test, "no directory outside /tmp for fixtures");
        return None;
    }
    Some(Fixture::new())
}

/// `audit ARGS` with the fixture's home.
fn audit(fixture: &Fixture, args: &[&str]) -> Command {
    let mut command = Command::new(codex_policy_bin());
    command
        .env_clear()
        .env("HOME", &fixture.home)
        .env("CODEX_HOME", &fixture.codex_home)
        .arg("audit")
        .args(args);
    command
}

#[test]
fn run_refuses_a_log_it_cannot_open_safely_before_starting_the_command() {
    let Some(fixture) =
        fixture_or_skip("run_refuses_a_log_it_cannot_open_safely_before_starting_the_command")
    else {
        return;
    };
    let victim = fixture.home.join("victim");
    let marker = fixture.workspace.join("ran");
    let log = fixture.workspace.join("review.jsonl");
    let log_arg = log.to_str().unwrap();
    let elsewhere = fixture.home.join("created-through-the-link");
    type Plant = fn(&Path, &Path, &Path);
    let cases: [(&str, Plant, &str); 5] = [
        (
            "symlink to a file",
            |log, victim, _| std::os::unix::fs::symlink(victim, log).unwrap(),
            "symbolic link",
        ),
        (
            "dangling symlink",
            |log, _, elsewhere| std::os::unix::fs::symlink(elsewhere, log).unwrap(),
            "symbolic link",
        ),
        ("FIFO", |log, _, _| mkfifo(log), "FIFO"),
        (
            "directory",
            |log, _, _| std::fs::create_dir(log).unwrap(),
            "a directory",
        ),
        (
            "hard link",
            |log, victim, _| std::fs::hard_link(victim, log).unwrap(),
            "hard links",
        ),
    ];
    // `trusted` needs no sandbox: this is the unsandboxed run the issue names.
    for (what, plant, named) in cases {
        plant(&log, &victim, &elsewhere);
        let output = finishes(
            what,
            fixture.command("trusted", &["--audit-log", log_arg], &["touch", "ran"]),
        );
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(125), "{what}: {err}");
        assert!(
            err.contains(log_arg) && err.contains(named),
            "{what}: {err}"
        );
        assert!(
            !marker.exists(),
            "{what}: the command ran without its trail"
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n");
        assert!(!elsewhere.exists(), "{what}: created through the link");
        if log.is_dir() && !log.is_symlink() {
            std::fs::remove_dir(&log).unwrap();
        } else {
            std::fs::remove_file(&log).unwrap();
        }
    }
}

#[test]
fn monitor_mode_warns_and_still_never_writes_through_the_link() {
    // Monitor mode may only come from a file the command cannot write, which
    // under `trusted` is none: this needs the workspace profile's sandbox.
    if let Some(reason) = skip_reason() {
        return skip(
            "monitor_mode_warns_and_still_never_writes_through_the_link",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let victim = fixture.home.join("victim");
    let log = fixture.workspace.join("review.jsonl");
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    let policy = fixture.home.join("harness.policy.json");
    std::fs::write(&policy, r#"{"deny_on_violation": false}"#).unwrap();
    let output = fixture
        .command(
            "workspace",
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--audit-log",
                log.to_str().unwrap(),
            ],
            &["touch", "ran"],
        )
        .output()
        .unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        err.contains("warning") && err.contains("symbolic link"),
        "{err}"
    );
    assert!(fixture.workspace.join("ran").exists());
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n");
}

#[test]
fn a_sandboxed_command_cannot_point_the_next_runs_log_elsewhere() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_sandboxed_command_cannot_point_the_next_runs_log_elsewhere",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let victim = fixture.home.join("victim");
    let log = fixture.workspace.join("review.jsonl");
    let log_arg = log.to_str().unwrap();
    // The sandboxed command replaces its own log with a link out of the
    // workspace (once the sandbox keeps the log read-only, it cannot: either
    // way the next run must not write to the victim).
    let first = fixture.run(
        "workspace",
        &["--audit-log", log_arg],
        "rm -f review.jsonl && ln -s ../home/victim review.jsonl",
    );
    let replaced = log.is_symlink();
    let second = finishes(
        "the run after",
        fixture.command("trusted", &["--audit-log", log_arg], &["true"]),
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n");
    if replaced {
        assert_eq!(second.status.code(), Some(125), "{}", stderr(&second));
        assert!(stderr(&second).contains("symbolic link"));
    } else {
        assert_eq!(second.status.code(), Some(0), "{first:?} {second:?}");
    }
}

#[test]
fn audit_tail_and_query_refuse_links_and_fifos_without_hanging() {
    let Some(fixture) =
        fixture_or_skip("audit_tail_and_query_refuse_links_and_fifos_without_hanging")
    else {
        return;
    };
    let dir = fixture.home.join("logs");
    std::fs::create_dir(&dir).unwrap();
    let fifo = dir.join("fifo.jsonl");
    mkfifo(&fifo);
    let output = finishes(
        "tail of a FIFO",
        audit(&fixture, &["tail", "--file", fifo.to_str().unwrap()]),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("FIFO"), "{}", stderr(&output));

    let link = dir.join("link.jsonl");
    std::os::unix::fs::symlink(fixture.home.join("victim"), &link).unwrap();
    let output = finishes(
        "query of a link",
        audit(&fixture, &["query", "--file", link.to_str().unwrap()]),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("symbolic link"),
        "{}",
        stderr(&output)
    );

    // A real log whose rotated sibling is a link (to a FIFO: no hang either).
    let log = dir.join("audit.jsonl");
    let mut append = audit(&fixture, &["append", "--file", log.to_str().unwrap()]);
    append.stdin(Stdio::piped());
    let mut child = append.spawn().unwrap();
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        br#"{"operation":"command_exec","target":"ls","decision":"allowed","source":"t"}
"#,
    )
    .unwrap();
    assert!(child.wait().unwrap().success());
    let sibling = PathBuf::from(format!("{}.1", log.display()));
    std::os::unix::fs::symlink(&fifo, &sibling).unwrap();
    let output = finishes(
        "tail with a linked rotated file",
        audit(&fixture, &["tail", "--file", log.to_str().unwrap()]),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains(sibling.to_str().unwrap()) && err.contains("symbolic link"),
        "{err}"
    );
    // `audit append` refuses the link as `run` does.
    let output = finishes(
        "append to a link",
        audit(&fixture, &["append", "--file", link.to_str().unwrap()]),
    );
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(fixture.home.join("victim")).unwrap(),
        "original\n"
    );
}

/// Control characters a crafted argument could use to redraw the line.
const HOSTILE: &str = "echo safe\r\x1b[2K\x1b]0;t\x07rm -rf ~\x08\u{9b}31m\u{202e}gpj.exe\u{2066}";

fn has_raw_controls(text: &str) -> bool {
    text.chars().any(|c| {
        (c.is_control() && c != '\n')
            || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    })
}

#[test]
fn tail_and_query_print_control_characters_visibly() {
    let Some(fixture) = fixture_or_skip("tail_and_query_print_control_characters_visibly") else {
        return;
    };
    let log = fixture.home.join("audit.jsonl");
    let log_arg = log.to_str().unwrap();
    // A forged line (any field may be hostile) and an appended one.
    let forged = serde_json::json!({
        "timestamp": "2026-01-01T00:00:00.000Z\x1b[1A",
        "session_id": "s",
        "operation": "command_exec",
        "target": HOSTILE,
        "decision": "denied",
        "source": "t\r\x1b[31m",
    });
    std::fs::write(&log, format!("{forged}\n")).unwrap();
    let mut append = audit(&fixture, &["append", "--file", log_arg]);
    append.stdin(Stdio::piped());
    let mut child = append.spawn().unwrap();
    let line = serde_json::json!({
        "operation": "command_exec", "target": HOSTILE, "decision": "allowed", "source": "t",
    });
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        format!("{line}\n").as_bytes(),
    )
    .unwrap();
    assert!(child.wait().unwrap().success());

    let output = audit(&fixture, &["tail", "--file", log_arg])
        .output()
        .unwrap();
    let table = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!has_raw_controls(&table), "{table:?}");
    assert!(
        table.contains(
            "echo safe\\r\\x1b[2K\\x1b]0;t\\x07rm -rf ~\\x08\\u{9b}31m\\u{202e}gpj.exe\\u{2066}"
        ),
        "{table}"
    );
    assert!(table.contains("t\\r\\x1b[31m"), "{table}");

    let output = audit(&fixture, &["query", "--file", log_arg, "--json"])
        .output()
        .unwrap();
    let json = String::from_utf8(output.stdout).unwrap();
    assert!(!has_raw_controls(&json), "{json:?}");
    // Still the same JSON: the target comes back exactly.
    let all: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|e| e["target"] == HOSTILE), "{all:?}");
}

#[test]
fn check_prints_matched_command_text_visibly() {
    let Some(fixture) = fixture_or_skip("check_prints_matched_command_text_visibly") else {
        return;
    };
    let rules = fixture.home.join("r.rules");
    std::fs::write(
        &rules,
        "prefix_rule(pattern = [\"rm\", \"-rf\\x1b[2K\\r\"], decision = \"prompt\", \
         justification = \"no\\x1b]0;x\\x07\")\n",
    )
    .unwrap();
    let output = Command::new(codex_policy_bin())
        .env_clear()
        .env("HOME", &fixture.home)
        .env("CODEX_HOME", &fixture.codex_home)
        .current_dir(&fixture.workspace)
        .args([
            "check",
            "--no-audit",
            "--rules",
            rules.to_str().unwrap(),
            "--",
        ])
        .args(["rm", "-rf\x1b[2K\r", "/"])
        .output()
        .unwrap();
    let text = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!has_raw_controls(&text), "{text:?}");
    assert!(text.contains("rm -rf\\x1b[2K\\r"), "{text}");
    // --json: the same JSON, nothing raw.
    let output = Command::new(codex_policy_bin())
        .env_clear()
        .env("HOME", &fixture.home)
        .current_dir(&fixture.workspace)
        .args(["check", "--json", "--no-audit", "--"])
        .args(["echo", "\u{202e}\u{9b}x"])
        .output()
        .unwrap();
    let json = String::from_utf8(output.stdout.clone()).unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!has_raw_controls(&json), "{json:?}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&json).is_ok(),
        "{json}"
    );
}

#[test]
fn check_writes_where_config_toml_sends_the_log() {
    let Some(fixture) = fixture_or_skip("check_writes_where_config_toml_sends_the_log") else {
        return;
    };
    let chosen = fixture.home.join("configured/audit.jsonl");
    std::fs::write(
        fixture.codex_home.join("config.toml"),
        format!("[audit]\npath = {:?}\n", chosen.to_str().unwrap()),
    )
    .unwrap();
    let output = Command::new(codex_policy_bin())
        .env_clear()
        .env("HOME", &fixture.home)
        .env("CODEX_HOME", &fixture.codex_home)
        .current_dir(&fixture.workspace)
        .args(["check", "--session-id", "c-conf", "--", "git", "status"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let log = events(&chosen);
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["operation"], "command_exec");
    assert_eq!(log[0]["session_id"], "c-conf");
    assert!(!fixture.codex_home.join("audit").exists());
    // `run` honours the same setting: both end up in one file. (Not under
    // `trusted`, where config.toml is writable by the command and so may not
    // choose the log.)
    if let Some(reason) = skip_reason() {
        return skip(
            "check_writes_where_config_toml_sends_the_log (run)",
            &reason,
        );
    }
    let output = fixture
        .command("workspace", &["--session-id", "r-conf"], &["true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(events(&chosen).iter().any(|e| e["session_id"] == "r-conf"));
    assert!(!fixture.codex_home.join("audit").exists());
}

/// `sandbox_start` then `sandbox_exit` with `status`, and no denied start.
fn assert_start_then_exit(log: &[serde_json::Value], status: i64, profile: &str) {
    let ops: Vec<(&str, &str)> = log
        .iter()
        .filter(|e| {
            e["operation"]
                .as_str()
                .is_some_and(|o| o.starts_with("sandbox_"))
        })
        .map(|e| {
            (
                e["operation"].as_str().unwrap(),
                e["decision"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [("sandbox_start", "allowed"), ("sandbox_exit", "allowed")],
        "{profile}: {log:?}"
    );
    let exit = log
        .iter()
        .find(|e| e["operation"] == "sandbox_exit")
        .unwrap();
    assert_eq!(exit["exit_status"], status, "{profile}: {exit}");
    assert!(exit["duration_ms"].is_u64(), "{profile}: {exit}");
}

#[test]
fn a_command_that_cannot_be_executed_still_ends_its_sandbox() {
    let Some(fixture) = fixture_or_skip("a_command_that_cannot_be_executed_still_ends_its_sandbox")
    else {
        return;
    };
    let script = fixture.workspace.join("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\ntrue\n").unwrap();
    let sandboxed = skip_reason();
    if let Some(reason) = &sandboxed {
        skip(
            "a_command_that_cannot_be_executed_still_ends_its_sandbox (workspace profile)",
            reason,
        );
    }
    let profiles: &[&str] = if sandboxed.is_none() {
        &["trusted", "workspace"]
    } else {
        &["trusted"]
    };
    for profile in profiles {
        for (program, status) in [
            ("no-such-command-here", 127),
            (script.to_str().unwrap(), 126),
        ] {
            let log = fixture.home.join(format!("{profile}-{status}.jsonl"));
            let output = fixture
                .command(profile, &["--audit-log", log.to_str().unwrap()], &[program])
                .output()
                .unwrap();
            assert_eq!(
                output.status.code(),
                Some(i32::try_from(status).unwrap()),
                "{profile} {program}: {}",
                stderr(&output)
            );
            let log = events(&log);
            assert_start_then_exit(&log, status, profile);
            if *profile == "trusted" {
                // Where codex-policy itself saw the exec fail, the reason says so.
                let exit = log
                    .iter()
                    .find(|e| e["operation"] == "sandbox_exit")
                    .unwrap();
                let reason = exit["reason"].as_str().unwrap_or_default();
                assert!(reason.contains("did not start"), "{exit}");
            }
        }
    }
}

/// A directory symlink the sandboxed command planted on the way to the log
/// (`ws/logs -> elsewhere`): the next run refuses (125) instead of creating
/// the log wherever the link points; a link outside the writable roots (the
/// user's own) is followed as usual.
#[test]
fn a_planted_directory_link_on_the_way_to_the_log_is_not_followed() {
    if let Some(reason) = skip_reason() {
        return skip("a_planted_directory_link", &reason);
    }
    let fixture = Fixture::new();
    let victim = fixture.home.join("victim-dir");
    std::fs::create_dir_all(&victim).unwrap();
    // What the command can do in its workspace.
    let planted = fixture
        .command(
            "workspace",
            &["--no-audit"],
            &["ln", "-s", victim.to_str().unwrap(), "logs"],
        )
        .output()
        .unwrap();
    assert_eq!(planted.status.code(), Some(0), "{planted:?}");
    let log = fixture.workspace.join("logs/review.jsonl");
    let output = fixture
        .command(
            "workspace",
            &["--audit-log", log.to_str().unwrap()],
            &["touch", "ran"],
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("symbolic link"), "{stderr}");
    assert!(
        !victim.join("review.jsonl").exists(),
        "the log was created through the link"
    );
    assert!(!fixture.workspace.join("ran").exists(), "the command ran");

    // The user's own link, outside every writable root, is fine.
    let own = fixture.home.join("own-logs");
    std::os::unix::fs::symlink(&victim, &own).unwrap();
    let output = fixture
        .command(
            "workspace",
            &["--audit-log", own.join("review.jsonl").to_str().unwrap()],
            &["true"],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(victim.join("review.jsonl").exists());
}

/// A log inside the workspace: the command cannot plant rotated files of
/// forged events — the names rotation writes (`.1` … `.keep`) exist and are
/// read-only inside the sandbox, and readers take no `.N` beyond `keep`.
#[test]
fn planted_rotated_files_are_neither_writable_nor_read() {
    if let Some(reason) = skip_reason() {
        return skip("planted_rotated_files", &reason);
    }
    let fixture = Fixture::new();
    let log = fixture.workspace.join("review.jsonl");
    let forged = r#"{"timestamp":"2020-01-01T00:00:00.000Z","session_id":"forged","operation":"sandbox_exit","target":"x","decision":"allowed","source":"sandbox"}"#;
    let script = format!(
        "echo '{forged}' > review.jsonl.1; echo '{forged}' > review.jsonl.6; \
         mkdir review.jsonl.99; true"
    );
    let output = fixture
        .command(
            "workspace",
            &["--audit-log", log.to_str().unwrap()],
            &["sh", "-c", &script],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        !std::fs::read_to_string(log.with_extension("jsonl.1"))
            .unwrap_or_default()
            .contains("forged"),
        "review.jsonl.1 was written from inside"
    );
    for action in [&["tail"][..], &["query", "--session", "forged"][..]] {
        let mut command = Command::new(codex_policy_bin());
        command
            .env_clear()
            .env("HOME", &fixture.home)
            .env("CODEX_HOME", &fixture.codex_home)
            .arg("audit")
            .args(action)
            .arg("--file")
            .arg(&log);
        let shown = finishes("audit reader", command);
        let stdout = String::from_utf8_lossy(&shown.stdout);
        assert_eq!(shown.status.code(), Some(0), "{action:?}: {shown:?}");
        // The planted event's date; the real ones quote it only in their targets.
        assert!(
            !stdout.lines().any(|l| l.starts_with("2020-01-01")),
            "{action:?} showed a planted event: {stdout}"
        );
    }
}
