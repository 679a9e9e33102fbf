//! Events appended from another program's JSON lines: malformed, oversized
//! and hostile lines are refused with their line (and column), and the lines
//! before them are kept.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_audit::{AppendError, AuditSink, MAX_APPEND_LINE, SinkOptions, append_events, read_log};

#[test]
fn good_lines_are_kept_and_the_first_bad_one_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    let mut sink = AuditSink::open(&log, SinkOptions::default()).unwrap();
    let input = "{\"operation\":\"command_exec\",\"target\":\"curl -H 'Authorization: Bearer abcdefghijklmnop'\",\"decision\":\"denied\",\"source\":\"harness\"}\n\
                 \n\
                 {\"operation\":\"command_exec\",\"target\":\"x\",\"decision\":\"maybe\",\"source\":\"h\"}\n";
    let err = append_events(input.as_bytes(), "<stdin>", &mut sink).unwrap_err();
    assert!(err.is_bad_input());
    assert!(err.to_string().starts_with("<stdin>:3:"), "{err}");
    let events = read_log(&log).unwrap().events;
    assert_eq!(events.len(), 1);
    assert!(
        !events[0].target.contains("abcdefghijklmnop"),
        "not redacted"
    );

    let unknown = "{\"operation\":\"command_exec\",\"target\":\"x\",\"decision\":\"allowed\",\"source\":\"h\",\"extra\":1}\n";
    let err = append_events(unknown.as_bytes(), "<stdin>", &mut sink).unwrap_err();
    assert!(
        matches!(err, AppendError::Malformed { line: 1, .. }),
        "{err}"
    );

    let long = vec![b'a'; MAX_APPEND_LINE as usize + 10];
    let err = append_events(&long[..], "<stdin>", &mut sink).unwrap_err();
    assert!(matches!(err, AppendError::TooLong { line: 1, .. }), "{err}");

    let err = append_events(&b"\xff\xfe\n"[..], "<stdin>", &mut sink).unwrap_err();
    assert!(err.to_string().contains("not UTF-8"), "{err}");
    assert_eq!(read_log(&log).unwrap().events.len(), 1);
}
