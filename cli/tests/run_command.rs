//! `run` passes stdio through and follows the exit-status contract: the
//! command's own status, 128+N for signal N, 125 when codex-policy cannot start
//! it, 126 not executable, 127 not found.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::Stdio;

use common::escape::{Fixture, skip, skip_reason};

#[test]
fn exit_statuses_follow_the_contract() {
    if let Some(reason) = skip_reason() {
        return skip("exit_statuses_follow_the_contract", &reason);
    }
    let fixture = Fixture::new();
    let not_executable = fixture.workspace.join("not-executable");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    let not_executable = not_executable.to_str().unwrap();
    for profile in ["offline", "workspace", "trusted"] {
        let cases: [(&[&str], i32); 6] = [
            (&["true"], 0),
            (&["sh", "-c", "exit 7"], 7),
            (&["sh", "-c", "kill -TERM $$"], 143),
            (&["sh", "-c", "kill -KILL $$"], 137),
            (&["/nonexistent/program"], 127),
            (&[not_executable], 126),
        ];
        for (argv, expected) in cases {
            let output = fixture.command(profile, &[], argv).output().unwrap();
            // codex-policy always waits (to record the exit), so a command killed
            // by signal N comes back as codex-policy's own exit code 128+N.
            assert_eq!(
                output.status.code(),
                Some(expected),
                "{profile} {argv:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn stdin_stdout_and_stderr_pass_through() {
    if let Some(reason) = skip_reason() {
        return skip("stdin_stdout_and_stderr_pass_through", &reason);
    }
    let fixture = Fixture::new();
    let mut child = fixture
        .command("workspace", &[], &["sh", "-c", "cat; echo to-stderr >&2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"through the sandbox\n")
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    assert_eq!(output.stdout, b"through the sandbox\n");
    assert_eq!(output.stderr, b"to-stderr\n");
}

#[test]
fn bad_run_input_is_refused_before_anything_starts() {
    let fixture = Fixture::new();
    let cases: [(&[&str], &[&str], i32, &str); 4] = [
        (
            &["--cwd", "/nonexistent/dir"],
            &["true"],
            125,
            "/nonexistent/dir",
        ),
        (&["--writable-root", "/srv"], &["true"], 2, "read-only"),
        (&[], &[], 2, "CMD"),
        (&["--no-such-flag"], &["true"], 2, "--no-such-flag"),
    ];
    for (extra, argv, status, needle) in cases {
        let profile = if extra.contains(&"--writable-root") {
            "offline"
        } else {
            "workspace"
        };
        let output = fixture.command(profile, extra, argv).output().unwrap();
        let err = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(status), "{extra:?}: {err}");
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
}

#[test]
fn extra_writable_roots_are_writable_and_nothing_else() {
    if let Some(reason) = skip_reason() {
        return skip(
            "extra_writable_roots_are_writable_and_nothing_else",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let extra = fixture.home.join("cache");
    std::fs::create_dir(&extra).unwrap();
    let output = fixture
        .command(
            "workspace",
            &["--writable-root", extra.to_str().unwrap()],
            &[
                "sh",
                "-c",
                "echo ok > \"$HOME/cache/x\"; echo no > \"$HOME/victim\"",
            ],
        )
        .output()
        .unwrap();
    assert!(extra.join("x").exists(), "{output:?}");
    assert_eq!(
        fixture.read(&fixture.home.join("victim")).as_deref(),
        Some("original\n")
    );
}

#[test]
fn ctrl_c_reaches_the_command_not_just_the_sandbox() {
    if let Some(reason) = skip_reason() {
        return skip("ctrl_c_reaches_the_command_not_just_the_sandbox", &reason);
    }
    use std::io::{BufRead, BufReader};
    use std::os::unix::process::CommandExt;
    let fixture = Fixture::new();
    for profile in ["offline", "workspace"] {
        // A command that handles SIGINT itself, as an interactive program would.
        let mut command = fixture.command(
            profile,
            &[],
            &[
                "sh",
                "-c",
                "trap 'exit 3' INT; echo ready; while :; do sleep 0.05; done",
            ],
        );
        // Its own process group stands in for the terminal's foreground group.
        command.process_group(0).stdout(Stdio::piped());
        // As from a terminal: SIGINT not ignored, whatever this test inherited
        // (a job started in the background by a non-interactive shell ignores
        // it, and a shell cannot trap a signal ignored when it started).
        // SAFETY: signal(2) is async-signal-safe; it only resets a disposition.
        unsafe {
            command.pre_exec(|| {
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = command.spawn().unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut ready)
            .unwrap();
        assert_eq!(ready, "ready\n");
        // What the terminal does on Ctrl-C: SIGINT to the whole group.
        // SAFETY: signalling a process group we created.
        unsafe { libc::kill(-(child.id() as i32), libc::SIGINT) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(3), "{profile}: {status:?}");
    }
}

#[test]
fn sigterm_to_codex_policy_reaches_the_command_for_a_graceful_stop() {
    if let Some(reason) = skip_reason() {
        return skip("sigterm_reaches_the_command", &reason);
    }
    use std::io::{BufRead, BufReader, Read};
    let fixture = Fixture::new();
    for profile in ["offline", "workspace"] {
        let mut child = fixture
            .command(
                profile,
                &[],
                &[
                    "sh",
                    "-c",
                    "trap 'echo graceful; exit 5' TERM; echo ready; while :; do sleep 0.05; done",
                ],
            )
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut ready = String::new();
        stdout.read_line(&mut ready).unwrap();
        assert_eq!(ready, "ready\n");
        // What a harness does to stop a command: SIGTERM to codex-policy alone.
        // SAFETY: signalling a child we spawned.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut rest = String::new();
        stdout.read_to_string(&mut rest).unwrap();
        let status = child.wait().unwrap();
        assert_eq!(rest, "graceful\n", "{profile}");
        assert_eq!(status.code(), Some(5), "{profile}: {status:?}");
    }
}
