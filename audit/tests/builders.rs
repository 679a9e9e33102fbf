//! The option, filter and event types grow without breaking callers: they
//! are built from their defaults with `with_*` methods, and the JSON of an
//! event is unchanged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_audit::{
    AuditDecision, AuditEvent, Filter, FsyncPolicy, HttpDetails, Operation, SinkOptions,
};

#[test]
fn sink_options_are_built_from_the_defaults() {
    let options = SinkOptions::default()
        .with_fsync(FsyncPolicy::EachEvent)
        .with_max_bytes(None)
        .with_keep(2)
        .with_sample_rate(0.25)
        .with_http_log_headers(true)
        .with_http_log_bodies(true)
        .with_redact_headers(vec!["X-Api-Key".into()]);
    assert_eq!(options.fsync, FsyncPolicy::EachEvent);
    assert_eq!(options.max_bytes, None);
    assert_eq!(options.keep, 2);
    assert!((options.sample_rate - 0.25).abs() < f64::EPSILON);
    assert!(options.http_log_headers && options.http_log_bodies);
    assert_eq!(options.redact_headers, ["X-Api-Key"]);
}

#[test]
fn filters_are_built_condition_by_condition() {
    let event = AuditEvent::now(
        "s1",
        Operation::CommandExec,
        "curl x",
        AuditDecision::Denied,
        "execpolicy",
    );
    assert!(Filter::default().matches(&event));
    let since: chrono::DateTime<chrono::Utc> = "2000-01-01T00:00:00Z".parse().unwrap();
    let all = Filter::default()
        .with_decision(AuditDecision::Denied)
        .with_operation(Operation::CommandExec)
        .with_source("execpolicy".to_owned())
        .with_session("s1".to_owned())
        .with_since(since)
        .with_until(None);
    assert!(all.matches(&event));
    assert!(!all.clone().with_session("s2".to_owned()).matches(&event));
    assert!(!all.clone().with_until(since).matches(&event));
    // `None` lifts a condition again, as the CLI's optional flags do.
    assert!(
        all.with_decision(Some(AuditDecision::Allowed))
            .with_decision(None)
            .matches(&event)
    );
}

#[test]
fn an_events_json_is_unchanged() {
    let line = r#"{"timestamp":"2026-11-23T18:30:00.123Z","session_id":"s1","operation":"network_connect","target":"example.com:443","decision":"requires_approval","reason":"why","source":"proxy","exit_status":3,"duration_ms":12,"profile":"workspace","event.name":"codex.network_proxy.block_decision","http":{"method":"POST","headers":[["X-Trace","abc"]],"body":"b"}}"#;
    let event: AuditEvent = serde_json::from_str(line).unwrap();
    assert_eq!(serde_json::to_string(&event).unwrap(), line);
    let http = HttpDetails::default()
        .with_method("POST")
        .with_header("X-Trace", "abc")
        .with_body("b");
    assert_eq!(event.http.as_ref(), Some(&http));

    let mut built = AuditEvent::now(
        "s1",
        Operation::NetworkConnect,
        "example.com:443",
        AuditDecision::RequiresApproval,
        "proxy",
    )
    .with_reason("why")
    .with_profile("workspace")
    .with_http(http);
    built.timestamp = event.timestamp.clone();
    built.exit_status = Some(3);
    built.duration_ms = Some(12);
    built.event_name = Some("codex.network_proxy.block_decision".into());
    assert_eq!(built, event);
}
