//! Limited mode (read-only network) on plain HTTP: only `GET`, `HEAD` and
//! `OPTIONS` without a body or an upgrade reach the upstream; everything
//! else is refused `403 method_not_allowed` and audited. Monitor mode lets
//! it through and logs the violation; full mode is unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_audit::{AuditDecision, AuditEvent};
use codex_network_proxy::{InspectionCa, UpstreamRoots};
use codex_policy_model::NetworkMode;
use codex_policy_model::effective::EgressRules;
use common::*;
use tokio::io::AsyncWriteExt;

const BLOCK: &str = "codex.network_proxy.block_decision";

fn limited(allow: &[&str]) -> EgressRules {
    rules(allow).with_mode(NetworkMode::Limited)
}

/// A proxy in limited mode with an authority and roots of its own (no
/// system store needed).
fn start_limited(rules: EgressRules) -> TestProxy {
    let ca = InspectionCa::generate().unwrap();
    let roots = UpstreamRoots::from_pem(ca.certificate_pem().as_bytes(), "test").unwrap();
    start_with(
        rules,
        Options {
            inspection: Some((ca, roots)),
            ..Options::default()
        },
    )
}

/// The events whose reason starts with `prefix`.
fn events_with_reason(p: &TestProxy, prefix: &str) -> Vec<AuditEvent> {
    p.events()
        .into_iter()
        .filter(|e| e.reason.as_deref().unwrap_or_default().starts_with(prefix))
        .collect()
}

/// Asserts the one `method_not_allowed` refusal of `method` on `target`
/// (`host:port/path (why)`).
fn assert_refusal_event(p: &TestProxy, method: &str, target: &str) {
    let events = p.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.decision, AuditDecision::Denied, "{event:#?}");
    assert_eq!(event.event_name.as_deref(), Some(BLOCK), "{event:#?}");
    assert!(
        event
            .reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("method_not_allowed: "),
        "{event:#?}"
    );
    assert_eq!(event.target, target, "{event:#?}");
    assert_eq!(
        event.http.as_ref().and_then(|h| h.method.as_deref()),
        Some(method),
        "{event:#?}"
    );
}

/// Sends `raw` and reads only the response head (a `HEAD` answer announces
/// a body it does not carry).
async fn raw_head_only(addr: std::net::SocketAddr, request: &str) -> Reply {
    let mut stream = connect(addr).await;
    stream.write_all(request.as_bytes()).await.unwrap();
    read_reply(&mut stream, true).await.expect("no response")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_head_and_options_pass() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start_limited(limited(&["allowed.test"]));
    let authority = format!("allowed.test:{}", up.addr.port());

    let reply = get(p.http, &authority, "/read?x=1").await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.body, "upstream saw /read?x=1");
    assert_eq!(up.next_seen().await.request_line, "GET /read?x=1 HTTP/1.1");

    let reply = raw_head_only(
        p.http,
        &format!("HEAD http://{authority}/h HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.header("x-upstream"), Some("yes"), "{reply:#?}");
    assert_eq!(up.next_seen().await.request_line, "HEAD /h HTTP/1.1");

    let reply = raw(
        p.http,
        &format!("OPTIONS http://{authority}/o HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.body, "upstream saw /o");
    assert_eq!(up.next_seen().await.request_line, "OPTIONS /o HTTP/1.1");

    // Three allowed events, with their methods; no refusal.
    let events = p.events();
    let methods: Vec<_> = events
        .iter()
        .map(|e| {
            assert_eq!(e.decision, AuditDecision::Allowed, "{e:#?}");
            e.http.as_ref().and_then(|h| h.method.clone()).unwrap()
        })
        .collect();
    assert_eq!(methods, ["GET", "HEAD", "OPTIONS"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn write_and_unknown_methods_are_refused_and_audited() {
    let mut up = upstream(Behavior::Answer).await;
    let authority = format!("allowed.test:{}", up.addr.port());
    for method in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "PURGE", "get"] {
        let p = start_limited(limited(&["allowed.test"]));
        let reply = raw(
            p.http,
            &format!(
                "{method} http://{authority}/w HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n"
            ),
        )
        .await;
        reply.assert_blocked(403, "deny", "method_not_allowed");
        assert_eq!(reply.header("connection"), Some("close"), "{reply:#?}");
        assert_refusal_event(&p, method, &format!("{authority}/w (method {method})"));
    }
    // Nothing reached the upstream, not even a connection.
    assert!(up.saw_nothing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_with_a_body_is_refused() {
    let mut up = upstream(Behavior::Answer).await;
    let authority = format!("allowed.test:{}", up.addr.port());
    let with_length = format!(
        "GET http://{authority}/b HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 5\r\n\r\nhello"
    );
    let chunked = format!(
        "GET http://{authority}/b HTTP/1.1\r\nHost: {authority}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    );
    for request in [with_length, chunked] {
        let p = start_limited(limited(&["allowed.test"]));
        let reply = raw(p.http, &request).await;
        reply.assert_blocked(403, "deny", "method_not_allowed");
        assert_refusal_event(&p, "GET", &format!("{authority}/b (a request body on GET)"));
    }
    assert!(up.saw_nothing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_are_refused() {
    let mut up = upstream(Behavior::Answer).await;
    let authority = format!("allowed.test:{}", up.addr.port());
    for (upgrade, extra) in [
        (
            "websocket",
            "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        ),
        ("h2c", "HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"),
    ] {
        let p = start_limited(limited(&["allowed.test"]));
        let reply = raw(
            p.http,
            &format!(
                "GET http://{authority}/ws HTTP/1.1\r\nHost: {authority}\r\nConnection: Upgrade\r\nUpgrade: {upgrade}\r\n{extra}\r\n"
            ),
        )
        .await;
        reply.assert_blocked(403, "deny", "method_not_allowed");
        assert_refusal_event(
            &p,
            "GET",
            &format!("{authority}/ws (an upgrade to {upgrade})"),
        );
    }
    assert!(up.saw_nothing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_with_content_length_zero_passes() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start_limited(limited(&["allowed.test"]));
    let authority = format!("allowed.test:{}", up.addr.port());
    let reply = raw(
        p.http,
        &format!(
            "GET http://{authority}/z HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.body, "upstream saw /z");
    let seen = up.next_seen().await;
    assert_eq!(seen.request_line, "GET /z HTTP/1.1");
    assert!(seen.body.is_empty());
    assert!(events_with_reason(&p, "method_not_allowed").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_lets_a_post_through_and_logs_the_violation() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start_limited(limited(&["allowed.test"]).with_monitor(true));
    let authority = format!("allowed.test:{}", up.addr.port());
    let reply = raw(
        p.http,
        &format!(
            "POST http://{authority}/m HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 5\r\n\r\nhello"
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.body, "upstream saw /m");
    let seen = up.next_seen().await;
    assert_eq!(seen.request_line, "POST /m HTTP/1.1");
    assert_eq!(seen.body, b"hello");

    let violations = events_with_reason(
        &p,
        "monitor mode: let through; would be refused: method_not_allowed",
    );
    assert_eq!(violations.len(), 1, "{:#?}", p.events());
    let v = &violations[0];
    assert_eq!(v.decision, AuditDecision::Denied, "{v:#?}");
    assert_eq!(v.event_name.as_deref(), Some(BLOCK), "{v:#?}");
    assert_eq!(v.target, format!("{authority}/m (method POST)"));
    assert_eq!(
        v.http.as_ref().and_then(|h| h.method.as_deref()),
        Some("POST")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_mode_still_forwards_a_post() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    assert!(p.proxy.inspection_ca().is_none());
    let authority = format!("allowed.test:{}", up.addr.port());
    let reply = raw(
        p.http,
        &format!(
            "POST http://{authority}/f HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 5\r\n\r\nhello"
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let seen = up.next_seen().await;
    assert_eq!(seen.request_line, "POST /f HTTP/1.1");
    assert_eq!(seen.body, b"hello");
    let event = p.single_event();
    assert_eq!(event.decision, AuditDecision::Allowed, "{event:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_host_is_refused_for_the_host_not_the_method() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start_limited(limited(&["allowed.test"]).denying(pattern("denied.test")));
    let authority = format!("denied.test:{}", up.addr.port());
    let reply = raw(
        p.http,
        &format!(
            "POST http://{authority}/d HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 0\r\n\r\n"
        ),
    )
    .await;
    reply.assert_blocked(403, "deny", "denied");
    let event = p.single_event();
    assert_eq!(event.decision, AuditDecision::Denied, "{event:#?}");
    assert!(
        event
            .reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("denied: "),
        "{event:#?}"
    );
    assert_eq!(event.target, format!("{authority}/d"));
    assert!(up.saw_nothing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limited_mode_without_an_inspection_makes_its_own_authority() {
    let p = start(limited(&["allowed.test"]));
    let ca = p
        .proxy
        .inspection_ca()
        .expect("limited mode has an authority");
    assert!(
        ca.certificate_pem()
            .starts_with("-----BEGIN CERTIFICATE-----"),
        "{}",
        ca.certificate_pem()
    );
    assert!(!ca.certificate_der().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_reads_but_cannot_write() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start_limited(limited(&["allowed.test"]));
    let proxy = format!("http://{}", p.http);
    let url = format!("http://allowed.test:{}/c", up.addr.port());

    let Some(out) = curl(&["-x", &proxy, &url]).await else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "upstream saw /c");
    assert_eq!(up.next_seen().await.request_line, "GET /c HTTP/1.1");

    let Some(out) = curl(&["-I", "-x", &proxy, &url]).await else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("HTTP/1.1 200"),
        "{out:?}"
    );
    assert_eq!(up.next_seen().await.request_line, "HEAD /c HTTP/1.1");

    let Some(out) = curl(&["-i", "-x", &proxy, "-d", "secret=1", &url]).await else {
        return;
    };
    let stdout = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(stdout.starts_with("http/1.1 403"), "{out:?}");
    assert!(
        stdout.contains("x-codex-policy-reason: method_not_allowed"),
        "{out:?}"
    );
    assert!(up.seen.try_recv().is_err(), "the upstream saw the POST");
}
