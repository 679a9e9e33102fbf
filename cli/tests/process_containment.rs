//! `run` never leaves a process behind: not when the command exits with
//! background children still running, and not when codex-policy itself is
//! killed with SIGKILL.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::escape::{Fixture, skip, skip_reason};

/// Pids of live processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Zombies are already dead; only running processes count.
            let zombie = stat
                .rsplit(')')
                .next()
                .is_some_and(|rest| rest.trim_start().starts_with('Z'));
            !zombie && String::from_utf8_lossy(&cmdline).contains(marker)
        })
        .collect()
}

/// Polls until `done` holds, for at most `limit`; the bound keeps a broken
/// sandbox from hanging the suite.
fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

fn unique_sleep(tag: &str) -> String {
    // `sleep` accepts a fraction: the digits make the command line unique.
    format!("300.{}{}", std::process::id(), tag)
}

#[test]
fn killing_codex_policy_kills_every_sandboxed_process() {
    if let Some(reason) = skip_reason() {
        return skip(
            "killing_codex_policy_kills_every_sandboxed_process",
            &reason,
        );
    }
    for profile in ["offline", "workspace", "workspace-net"] {
        let fixture = Fixture::new();
        let marker = unique_sleep(&profile.len().to_string());
        let mut parent = fixture
            .command(
                profile,
                &[],
                &[
                    "sh",
                    "-c",
                    &format!("sleep {marker} & sleep {marker}; wait"),
                ],
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || processes_with(&marker).len()
                >= 2),
            "{profile}: the sandboxed sleeps never started"
        );
        parent.kill().unwrap();
        parent.wait().unwrap();
        assert!(
            wait_until(Duration::from_secs(10), || processes_with(&marker)
                .is_empty()),
            "{profile}: processes survived SIGKILL of codex-policy: {:?}",
            processes_with(&marker)
        );
    }
}

#[test]
fn background_processes_end_with_the_command() {
    if let Some(reason) = skip_reason() {
        return skip("background_processes_end_with_the_command", &reason);
    }
    let fixture = Fixture::new();
    let marker = unique_sleep("9");
    let output = fixture.run("workspace", &[], &format!("sleep {marker} & exit 0"));
    assert!(output.status.success(), "{output:?}");
    assert!(
        wait_until(Duration::from_secs(10), || processes_with(&marker)
            .is_empty()),
        "a background process outlived the sandbox: {:?}",
        processes_with(&marker)
    );
}

/// Started from a thread that exits while the command runs: codex-policy and
/// its sandbox live on (a parent-death signal follows the thread that forked,
/// not the process), and the command finishes.
#[test]
fn a_launching_thread_that_exits_does_not_kill_the_run() {
    if let Some(reason) = skip_reason() {
        return skip("a_launching_thread_that_exits", &reason);
    }
    let fixture = Fixture::new();
    for profile in ["workspace", "workspace-net"] {
        let marker = fixture.workspace.join(format!("finished-{profile}"));
        let script = format!("sleep 0.3; echo done > {}", marker.display());
        let command = fixture.command(profile, &[], &["sh", "-c", &script]);
        // The thread spawns and returns at once; its exit is the event.
        let mut child = std::thread::spawn(move || {
            let mut command = command;
            command
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .join()
        .unwrap();
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(0), "{profile}: {status:?}");
        assert_eq!(
            std::fs::read_to_string(&marker).ok().as_deref(),
            Some("done\n"),
            "{profile}: the command did not finish"
        );
    }
}
