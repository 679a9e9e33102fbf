//! The file itself: mode 0600, sampling that keeps every refusal, HTTP
//! details only when asked for, rotation with retention read back in order,
//! and a torn last line reported rather than fatal.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::os::unix::fs::PermissionsExt;

use codex_audit::{
    AuditDecision, AuditEvent, AuditSink, HttpDetails, Operation, SinkOptions, log_files, read_log,
};

fn event(target: &str, decision: AuditDecision) -> AuditEvent {
    AuditEvent::now("s1", Operation::CommandExec, target, decision, "test")
}

#[test]
fn log_and_its_directory_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/audit/audit.jsonl");
    let mut sink = AuditSink::open(&path, SinkOptions::default()).unwrap();
    sink.record(event("true", AuditDecision::Allowed)).unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}

#[test]
fn sampling_never_drops_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let options = SinkOptions::default().with_sample_rate(0.0);
    let mut sink = AuditSink::open(&path, options).unwrap();
    for i in 0..300 {
        let decision = [
            AuditDecision::Allowed,
            AuditDecision::Denied,
            AuditDecision::RequiresApproval,
        ][i % 3];
        sink.record(event(&format!("cmd {i}"), decision)).unwrap();
    }
    let log = read_log(&path).unwrap();
    assert_eq!(log.events.len(), 200);
    assert!(log.events.iter().all(|e| e.decision.is_refusal()));

    // At a rate of one half, roughly half the allowed events remain.
    let half = dir.path().join("half.jsonl");
    let options = SinkOptions::default().with_sample_rate(0.5);
    let mut sink = AuditSink::open(&half, options).unwrap();
    for i in 0..2_000 {
        sink.record(event(&format!("cmd {i}"), AuditDecision::Allowed))
            .unwrap();
    }
    let kept = read_log(&half).unwrap().events.len();
    assert!((700..1_300).contains(&kept), "kept {kept} of 2000");
}

#[test]
fn http_headers_and_bodies_only_when_enabled() {
    let dir = tempfile::tempdir().unwrap();
    let details = HttpDetails::default()
        .with_method("POST")
        .with_header("X-Trace", "abc")
        .with_body("{\"q\":1}");
    for (enabled, name) in [(false, "off.jsonl"), (true, "on.jsonl")] {
        let path = dir.path().join(name);
        let options = SinkOptions::default()
            .with_http_log_headers(enabled)
            .with_http_log_bodies(enabled);
        let mut sink = AuditSink::open(&path, options).unwrap();
        let mut e = AuditEvent::now(
            "s1",
            Operation::NetworkConnect,
            "example.com:443",
            AuditDecision::Allowed,
            "proxy",
        );
        e.http = Some(details.clone());
        sink.record(e).unwrap();
        let http = read_log(&path).unwrap().events[0].http.clone().unwrap();
        assert_eq!(http.method.as_deref(), Some("POST"));
        assert_eq!(http.headers.is_empty(), !enabled);
        assert_eq!(http.body.is_none(), !enabled);
    }
}

#[test]
fn rotation_keeps_the_newest_files_and_reads_back_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let options = SinkOptions::default()
        .with_max_bytes(Some(2_000))
        .with_keep(3);
    let mut sink = AuditSink::open(&path, options).unwrap();
    for i in 0..200 {
        sink.record(event(&format!("cmd {i:04}"), AuditDecision::Allowed))
            .unwrap();
    }
    let files = log_files(&path);
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(!dir.path().join("audit.jsonl.4").exists());
    for file in &files {
        assert!(std::fs::metadata(file).unwrap().len() <= 2_000);
    }
    let log = read_log(&path).unwrap();
    assert!(log.bad_lines.is_empty());
    let numbers: Vec<usize> = log
        .events
        .iter()
        .map(|e| e.target[4..].parse().unwrap())
        .collect();
    assert_eq!(numbers.last(), Some(&199));
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "events out of order or missing inside the kept window: {numbers:?}"
    );
}

#[test]
fn a_torn_last_line_is_reported_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut sink = AuditSink::open(&path, SinkOptions::default()).unwrap();
    sink.record(event("one", AuditDecision::Allowed)).unwrap();
    sink.record(event("two", AuditDecision::Denied)).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(b"{\"timestamp\":\"2026-").unwrap();
    let log = read_log(&path).unwrap();
    assert_eq!(log.events.len(), 2);
    assert_eq!(log.bad_lines.len(), 1);
    assert!(log.bad_lines[0].torn);
    assert_eq!(log.bad_lines[0].line, 3);
}

#[test]
fn a_directory_in_the_way_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let error = AuditSink::open(dir.path(), SinkOptions::default()).unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&dir.path().display().to_string())
    );
}
