//! Rotation keeps every file where it is (same inode): a sandbox that holds
//! the log and its rotated files read-only with a bind mount on each keeps
//! holding them; and writers in several processes lose no line to it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::MetadataExt;

use codex_audit::{
    AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions, read_log, read_log_kept,
};

fn event(target: &str) -> AuditEvent {
    AuditEvent::now(
        "s",
        Operation::CommandExec,
        target,
        AuditDecision::Allowed,
        "test",
    )
}

#[test]
fn rotated_files_keep_their_inodes_and_their_order() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let options = SinkOptions::default()
        .with_max_bytes(Some(1_000))
        .with_keep(3);
    let mut sink = AuditSink::open(&log, options).unwrap();
    sink.reserve_rotated_names().unwrap();
    let inode = |n: usize| {
        let path = if n == 0 {
            log.clone()
        } else {
            std::path::PathBuf::from(format!("{}.{n}", log.display()))
        };
        std::fs::metadata(path).unwrap().ino()
    };
    let before: Vec<u64> = (0..=3).map(inode).collect();
    for i in 0..60 {
        sink.record(event(&format!("event {i:03}"))).unwrap();
    }
    let after: Vec<u64> = (0..=3).map(inode).collect();
    assert_eq!(before, after, "a file was replaced by rotation");
    // Oldest first across the files, newest last, no gap at the end.
    let targets: Vec<String> = read_log(&log)
        .unwrap()
        .events
        .iter()
        .map(|e| e.target.clone())
        .collect();
    assert!(targets.len() > 10, "{targets:?}");
    let mut sorted = targets.clone();
    sorted.sort();
    assert_eq!(targets, sorted);
    assert_eq!(targets.last().unwrap(), "event 059");
}

#[test]
fn concurrent_writers_lose_nothing_to_rotation() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    // Enough rotated files to keep everything written.
    let options = SinkOptions::default()
        .with_max_bytes(Some(20_000))
        .with_keep(100);
    std::thread::scope(|scope| {
        for writer in 0..4 {
            let (log, options) = (&log, options.clone());
            scope.spawn(move || {
                let mut sink = AuditSink::open(log, options).unwrap();
                for i in 0..500 {
                    sink.record(event(&format!("w{writer} {i}"))).unwrap();
                }
            });
        }
    });
    let contents = read_log_kept(&log, 100).unwrap();
    assert!(contents.bad_lines.is_empty(), "{:?}", contents.bad_lines);
    assert_eq!(contents.events.len(), 2_000);
}

#[test]
fn a_lock_held_by_a_reader_does_not_stop_the_log() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let options = SinkOptions::default()
        .with_max_bytes(Some(300))
        .with_keep(2);
    let mut sink = AuditSink::open(&log, options).unwrap();
    sink.record(event("before")).unwrap();
    // What a sandboxed command can do: open the log read-only and lock it.
    let reader = std::fs::File::open(&log).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(reader.as_raw_fd(), libc::LOCK_EX) }, 0);
    for i in 0..3 {
        sink.record(event(&format!("while locked {i}"))).unwrap();
    }
    drop(reader);
    let targets: Vec<String> = read_log(&log)
        .unwrap()
        .events
        .into_iter()
        .map(|e| e.target)
        .collect();
    assert!(targets.iter().any(|t| t == "while locked 2"), "{targets:?}");
}
