//! A child handle dropped before its command ended: the command and every
//! process of its sandbox are killed and reaped, and the end is recorded.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::escape::{Fixture, skip, skip_reason};
use common::session::{builder, events};

/// Host processes whose command line holds `marker`.
fn processes_with(marker: &str) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|line| String::from_utf8_lossy(&line).contains(marker))
        })
        .collect()
}

/// Waits (bounded) until `done` holds; whether it did.
fn eventually(done: impl Fn() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    done()
}

#[test]
fn dropping_the_handle_kills_and_reaps_everything() {
    if let Some(reason) = skip_reason() {
        return skip("dropping_the_handle_kills_and_reaps_everything", &reason);
    }
    let fixture = Fixture::new();
    let (builder, log) = builder(&fixture, "workspace");
    let session = builder.build().unwrap();
    // Unique durations mark this test's sleepers among the host's processes.
    let nonce = std::process::id();
    let (inner, outer) = (format!("300.{nonce}1"), format!("300.{nonce}2"));
    let child = session
        .command(["sh", "-c", &format!("sleep {inner} & sleep {outer}; wait")])
        .spawn()
        .unwrap();
    let pid = child.id();
    assert!(
        eventually(|| !processes_with(&inner).is_empty() && !processes_with(&outer).is_empty()),
        "the sleepers never started"
    );
    drop(child);
    // Reaped: no zombie left of the process we started.
    let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(
        state.is_empty() || !state.contains(") Z "),
        "zombie: {state}"
    );
    assert!(
        eventually(|| processes_with(&inner).is_empty() && processes_with(&outer).is_empty()),
        "left running: {:?} {:?}",
        processes_with(&inner),
        processes_with(&outer)
    );
    let exit = events(&log)
        .into_iter()
        .find(|e| e["operation"] == "sandbox_exit")
        .expect("the end is recorded");
    assert_eq!(exit["exit_status"], 128 + 9, "{exit}");
    assert!(
        exit["reason"].as_str().unwrap().contains("dropped"),
        "{exit}"
    );
}
