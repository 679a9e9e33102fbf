//! Eight `codex-policy audit append` processes write 20,000 events each into
//! one log at once; one is killed with SIGKILL mid-stream. Every line must
//! parse, the seven survivors' events must all be there, and the killed
//! writer's events must be exactly a gapless prefix of what it was given: the
//! events whose write completed, nothing torn, nothing interleaved.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const WRITERS: usize = 8;
const EVENTS: usize = 20_000;
const KILLED: usize = 3;

fn event_line(writer: usize, seq: usize) -> String {
    format!(
        "{{\"operation\":\"command_exec\",\"target\":\"writer {writer} event {seq} git status\",\"decision\":\"allowed\",\"source\":\"test\",\"session_id\":\"writer-{writer}\"}}\n"
    )
}

fn spawn_writer(log: &std::path::Path) -> Child {
    Command::new(common::codex_policy_bin())
        .env_clear()
        .args(["audit", "append", "--file"])
        .arg(log)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn codex-policy audit append")
}

/// Sequence numbers per writer, failing on any line that is not a whole event.
fn read_sequences(log: &std::path::Path) -> BTreeMap<usize, Vec<usize>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let mut seen: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let event: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not a whole event ({e}): {line:?}", n + 1));
        let target = event["target"].as_str().unwrap();
        let words: Vec<&str> = target.split(' ').collect();
        let writer: usize = words[1].parse().unwrap();
        let seq: usize = words[3].parse().unwrap();
        assert_eq!(event["session_id"], format!("writer-{writer}"));
        seen.entry(writer).or_default().push(seq);
    }
    seen
}

#[test]
fn concurrent_writers_and_a_killed_one_leave_only_whole_events() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");

    let mut children: Vec<Child> = (0..WRITERS).map(|_| spawn_writer(&log)).collect();
    let mut feeders = Vec::new();
    for (writer, child) in children.iter_mut().enumerate() {
        let mut stdin = child.stdin.take().unwrap();
        // The killed writer gets half its events before the kill; the rest
        // follow it (and meet a closed pipe), so the kill lands mid-stream.
        let first_part = if writer == KILLED { EVENTS / 2 } else { EVENTS };
        feeders.push(std::thread::spawn(move || {
            let mut buffer = String::new();
            for seq in 0..first_part {
                buffer.push_str(&event_line(writer, seq));
            }
            // The victim's pipe may close under this very write.
            let written = stdin.write_all(buffer.as_bytes());
            assert!(written.is_ok() || writer == KILLED, "{written:?}");
            (stdin, written.is_ok())
        }));
    }

    // Kill once the victim has written a good share, but not all it was given.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let mine = text.matches(&format!("\"writer-{KILLED}\"")).count();
        if mine >= 1_000 {
            break;
        }
        assert!(Instant::now() < deadline, "victim wrote only {mine} events");
        std::thread::sleep(Duration::from_millis(2));
    }
    children[KILLED].kill().unwrap();
    let victim = children[KILLED].wait().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&victim),
        Some(libc::SIGKILL)
    );

    for (writer, feeder) in feeders.into_iter().enumerate() {
        let (mut stdin, first_part_sent) = feeder.join().unwrap();
        if writer == KILLED && first_part_sent {
            let rest: String = (EVENTS / 2..EVENTS)
                .map(|s| event_line(writer, s))
                .collect();
            assert!(
                stdin.write_all(rest.as_bytes()).is_err(),
                "the killed writer's pipe is closed"
            );
        }
        drop(stdin);
    }
    for (writer, child) in children.iter_mut().enumerate() {
        if writer == KILLED {
            continue;
        }
        let output = child.wait().unwrap();
        assert!(output.success(), "writer {writer} failed: {output:?}");
    }

    let seen = read_sequences(&log);
    for writer in 0..WRITERS {
        let seqs = seen.get(&writer).cloned().unwrap_or_default();
        if writer == KILLED {
            assert!(
                (1_000..=EVENTS / 2).contains(&seqs.len()),
                "killed writer left {} events",
                seqs.len()
            );
            let expected: Vec<usize> = (0..seqs.len()).collect();
            assert_eq!(
                seqs, expected,
                "killed writer's events are a gapless prefix"
            );
        } else {
            let expected: Vec<usize> = (0..EVENTS).collect();
            assert_eq!(seqs, expected, "writer {writer} lost or reordered events");
        }
    }
    let total: usize = seen.values().map(Vec::len).sum();
    let lines = std::fs::read_to_string(&log).unwrap().lines().count();
    assert_eq!(total, lines);
    println!(
        "durability: {lines} whole events, killed writer stopped after {}",
        seen[&KILLED].len()
    );
}
