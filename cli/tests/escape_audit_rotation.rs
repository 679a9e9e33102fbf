//! A log inside the workspace, rotated by other runs while a command is
//! running: the rotated files stay read-only for that command (rotation
//! keeps every file in place; renaming them would end their read-only binds
//! in the running sandbox).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::escape::{Fixture, skip, skip_reason};

#[test]
fn rotation_by_other_runs_does_not_unprotect_the_log() {
    if let Some(reason) = skip_reason() {
        return skip("rotation_by_other_runs_does_not_unprotect_the_log", &reason);
    }
    let fixture = Fixture::new();
    std::fs::write(
        fixture.codex_home.join("config.toml"),
        "[audit]\nmax_bytes = 3000\nkeep = 2\n",
    )
    .unwrap();
    let log = fixture.workspace.join("review.jsonl");
    let log_arg = log.to_str().unwrap();
    let script = "touch started; while [ ! -e go ]; do sleep 0.05; done; \
                  echo forged >> review.jsonl; echo forged >> review.jsonl.1; \
                  echo forged >> review.jsonl.2; : > review.jsonl.1; true";
    let mut long = fixture
        .command(
            "workspace",
            &["--audit-log", log_arg],
            &["sh", "-c", script],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fixture.workspace.join("started").exists() {
        assert!(Instant::now() < deadline, "the long command never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Other runs fill the log past max_bytes several times.
    for _ in 0..12 {
        let output = fixture
            .command("workspace", &["--audit-log", log_arg], &["true"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(0), "{output:?}");
    }
    let rotated = |n: usize| std::path::PathBuf::from(format!("{log_arg}.{n}"));
    let kept_before = std::fs::read_to_string(rotated(1)).unwrap();
    assert!(!kept_before.is_empty(), "no rotation happened");
    std::fs::write(fixture.workspace.join("go"), "").unwrap();
    long.wait().unwrap();
    for path in [log.clone(), rotated(1), rotated(2)] {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            !text.lines().any(|l| l == "forged"),
            "{} was written from inside the sandbox",
            path.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(rotated(1)).unwrap(),
        kept_before,
        "a rotated file was emptied from inside"
    );
}
