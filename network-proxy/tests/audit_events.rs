//! One audit event per decision: fields, event names, requires_approval for
//! ask, monitor mode, HTTP details, and a failing audit callback (fail closed).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::num::NonZeroU32;

use codex_audit::{AuditDecision, Operation};
use codex_policy_model::effective::AllowlistMiss;
use common::*;

const DOMAIN: &str = "codex.network_proxy.domain_policy_decision";
const BLOCK: &str = "codex.network_proxy.block_decision";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_request_is_logged_with_every_field() {
    let up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(rules(&["allowed.test"]));
    assert_eq!(
        get(p.http, &format!("allowed.test:{port}"), "/p?q=1")
            .await
            .status,
        200
    );
    let e = p.single_event();
    assert_eq!(e.session_id, "test-session");
    assert_eq!(e.operation, Operation::NetworkConnect);
    assert_eq!(e.target, format!("allowed.test:{port}/p?q=1"));
    assert_eq!(e.decision, AuditDecision::Allowed);
    assert_eq!(e.source, "network-proxy");
    assert_eq!(e.event_name.as_deref(), Some(DOMAIN));
    assert!(e.reason.as_deref().unwrap().starts_with("allowed"), "{e:?}");
    let http = e.http.expect("http details");
    assert_eq!(http.method.as_deref(), Some("GET"));
    assert!(
        http.headers.is_empty() && http.body.is_none(),
        "not asked for: {http:?}"
    );
    // The timestamp is RFC 3339 UTC with milliseconds.
    assert!(
        e.timestamp.ends_with('Z') && e.timestamp.len() == 24,
        "{}",
        e.timestamp
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_refusal_has_its_decision_reason_and_event_name() {
    let echo = echo().await;
    let port = echo.addr.port();
    // No ip_allow: a.allowed.test resolves to 127.0.0.1 (rebinding).
    let p = start(
        rules_no_ip_allow(&["allowed.test", "**.allowed.test"])
            .denying(pattern("denied.allowed.test"))
            .with_ports(ports(&[port])),
    );
    let cases = [
        (
            "other.test",
            port,
            AuditDecision::RequiresApproval,
            "not_allowed",
            DOMAIN,
        ),
        (
            "denied.allowed.test",
            port,
            AuditDecision::Denied,
            "denied",
            DOMAIN,
        ),
        (
            "127.0.0.9",
            port,
            AuditDecision::Denied,
            "not_allowed_local",
            BLOCK,
        ),
        (
            "allowed.test",
            1,
            AuditDecision::Denied,
            "port_not_allowed",
            BLOCK,
        ),
        (
            "a.allowed.test",
            port,
            AuditDecision::Denied,
            "not_allowed_local",
            BLOCK,
        ),
    ];
    for (host, port, _, _, _) in &cases {
        let (reply, _) = connect_tunnel(p.http, &format!("{host}:{port}")).await;
        assert_eq!(reply.status, 403);
    }
    let events = p.events();
    assert_eq!(events.len(), cases.len(), "{events:#?}");
    for (event, (host, port, decision, code, name)) in events.iter().zip(cases) {
        assert_eq!(event.target, format!("{host}:{port}"));
        assert_eq!(event.decision, decision, "{event:?}");
        let reason = event.reason.as_deref().unwrap();
        assert!(reason.starts_with(&format!("{code}: ")), "{reason}");
        assert!(
            reason.len() > code.len() + 2,
            "words follow the code: {reason}"
        );
        assert_eq!(event.event_name.as_deref(), Some(name), "{event:?}");
        assert!(event.http.is_none());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_miss_is_denied_not_requires_approval() {
    let p = start(rules(&["allowed.test"]).with_allowlist_miss(AllowlistMiss::Deny));
    let (code, _) = socks_request(p.socks, 1, SocksTarget::Name("other.test"), 443).await;
    assert_eq!(code, Some(2));
    let e = p.single_event();
    assert_eq!(e.decision, AuditDecision::Denied);
    assert_eq!(e.event_name.as_deref(), Some(DOMAIN));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_lets_violations_through_and_logs_them() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    // No ip_allow: every name of the test resolver is a rebinding attempt.
    let p = start(
        rules_no_ip_allow(&["allowed.test"])
            .denying(pattern("denied.test"))
            .with_ports(ports(&[1]))
            .with_limits(NonZeroU32::new(3), None, None)
            .with_monitor(true),
    );
    let cases = [
        ("other.test", "not_allowed", DOMAIN),
        ("denied.test", "denied", DOMAIN),
        ("allowed.test", "port_not_allowed", BLOCK),
        ("127.0.0.1", "not_allowed_local", BLOCK),
    ];
    for (host, _, _) in cases {
        let reply = get(p.http, &format!("{host}:{port}"), "/m").await;
        assert_eq!(reply.status, 200, "{host}: {reply:#?}");
        assert_eq!(up.next_seen().await.request_line, "GET /m HTTP/1.1");
    }
    let events = p.events();
    assert_eq!(events.len(), cases.len());
    for (event, (host, code, name)) in events.iter().zip(cases) {
        assert_eq!(event.target, format!("{host}:{port}/m"));
        assert_eq!(event.decision, AuditDecision::Denied, "never sampled away");
        let reason = event.reason.as_deref().unwrap();
        assert!(
            reason.starts_with(&format!(
                "monitor mode: let through; would be refused: {code}"
            )),
            "{reason}"
        );
        assert_eq!(event.event_name.as_deref(), Some(name));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_reports_rebinding_and_limits() {
    let echo = echo().await;
    let port = echo.addr.port();
    let p = start(
        rules_no_ip_allow(&["rebind.test", "allowed.test"])
            .with_limits(NonZeroU32::new(1), None, None)
            .with_monitor(true),
    );
    // Allowed name, local address: let through, logged as rebinding.
    let (code, mut s) = socks_request(p.socks, 1, SocksTarget::Name("rebind.test"), port).await;
    assert_eq!(code, Some(0));
    echo_roundtrip(&mut s, b"m").await;
    // Past max_requests (and local): the first violation is reported.
    let (code, mut s) = socks_request(p.socks, 1, SocksTarget::Name("allowed.test"), port).await;
    assert_eq!(code, Some(0));
    echo_roundtrip(&mut s, b"m").await;
    let reasons: Vec<String> = p.events().into_iter().map(|e| e.reason.unwrap()).collect();
    assert!(
        reasons[0].contains("would be refused: not_allowed_local"),
        "{reasons:?}"
    );
    assert!(
        reasons[1].contains("would be refused: not_allowed_local"),
        "{reasons:?}"
    );

    let q = start(
        rules(&["allowed.test"])
            .with_limits(NonZeroU32::new(1), None, None)
            .with_monitor(true),
    );
    for _ in 0..2 {
        let (code, _) = socks_request(q.socks, 1, SocksTarget::Name("allowed.test"), port).await;
        assert_eq!(code, Some(0));
    }
    let events = q.events();
    assert_eq!(events[0].decision, AuditDecision::Allowed);
    assert!(
        events[1]
            .reason
            .as_deref()
            .unwrap()
            .contains("would be refused: limit_exceeded")
    );
    assert_eq!(events[1].event_name.as_deref(), Some(BLOCK));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_keeps_hard_limits_and_refuses_malformed_input() {
    let p = start(rules(&["allowed.test"]).with_monitor(true));
    let reply = raw(
        p.http,
        "GET /origin-form HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400);
    let reply = raw(p.http, "GET http://user@allowed.test/ HTTP/1.1\r\n\r\n").await;
    assert_eq!(reply.status, 400);
    let huge = format!(
        "GET http://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\nX-Big: {}\r\n\r\n",
        "a".repeat(100 * 1024)
    );
    let reply = raw(p.http, &huge).await;
    assert_eq!(reply.status, 431);
    // Refused all the same, and recorded as refusals, not as violations.
    eventually(|| p.events().len() == 3, "three events").await;
    let events = p.events();
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_malformed(&events[0], "allowed.test/origin-form");
    assert_malformed(&events[1], "http://user@allowed.test/");
    assert_malformed(&events[2], "http://allowed.test/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_audit_callback_refuses_the_request() {
    let mut up = upstream(Behavior::Answer).await;
    let echo = echo().await;
    let p = start_with(
        rules(&["allowed.test"]),
        Options {
            audit_fails: true,
            ..Options::default()
        },
    );
    let reply = get(p.http, &format!("allowed.test:{}", up.addr.port()), "/").await;
    assert_eq!(reply.status, 503, "{reply:#?}");
    assert_eq!(reply.header("content-type"), Some("text/plain"));
    assert!(reply.body.contains("audit"), "{reply:#?}");
    let (reply, _) = connect_tunnel(p.http, &format!("allowed.test:{}", echo.addr.port())).await;
    assert_eq!(reply.status, 503);
    let (code, _) = socks_request(
        p.socks,
        1,
        SocksTarget::Name("allowed.test"),
        echo.addr.port(),
    )
    .await;
    assert_eq!(code, Some(0x01));
    // A refusal that cannot be logged is still refused, and says why.
    let reply = get(p.http, "other.test:80", "/").await;
    assert_eq!(reply.status, 503);
    assert!(up.saw_nothing());
    assert_eq!(echo.accepted(), 0);
    assert_eq!(
        p.events().len(),
        4,
        "each decision was handed to the callback"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_details_carry_headers_and_small_bodies_when_asked() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start_with(
        rules(&["allowed.test"]),
        Options {
            log_http: (true, true),
            ..Options::default()
        },
    );
    let authority = format!("allowed.test:{port}");
    let send = |path: &str, extra: &str, body: &str| {
        format!(
            "POST http://{authority}{path} HTTP/1.1\r\nHost: {authority}\r\nX-Trace: t-1\r\nProxy-Authorization: Basic eDp5\r\n{extra}\r\n{body}"
        )
    };
    let small = "a=1&b=2";
    let reply = raw(
        p.http,
        &send(
            "/small",
            &format!("Content-Length: {}\r\n", small.len()),
            small,
        ),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        up.next_seen().await.body,
        small.as_bytes(),
        "the body still goes upstream"
    );
    let large = "z".repeat(4097);
    let reply = raw(
        p.http,
        &send(
            "/large",
            &format!("Content-Length: {}\r\n", large.len()),
            &large,
        ),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(up.next_seen().await.body.len(), 4097);
    let reply = raw(
        p.http,
        &send(
            "/chunked",
            "Transfer-Encoding: chunked\r\n",
            "3\r\nabc\r\n0\r\n\r\n",
        ),
    )
    .await;
    assert_eq!(reply.status, 200);
    up.next_seen().await;

    let events = p.events();
    assert_eq!(events.len(), 3);
    let http: Vec<_> = events.into_iter().map(|e| e.http.unwrap()).collect();
    assert_eq!(http[0].method.as_deref(), Some("POST"));
    assert!(
        http[0]
            .headers
            .contains(&("x-trace".to_owned(), "t-1".to_owned())),
        "{:?}",
        http[0]
    );
    assert!(
        !http[0]
            .headers
            .iter()
            .any(|(n, _)| n == "proxy-authorization"),
        "the proxy's own credentials are not logged: {:?}",
        http[0]
    );
    assert_eq!(http[0].body.as_deref(), Some(small));
    assert!(http[1].body.is_none(), "over 4 KiB");
    assert!(http[2].body.is_none(), "no Content-Length");
    assert!(!http[2].headers.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_without_bodies() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start_with(
        rules(&["allowed.test"]),
        Options {
            log_http: (true, false),
            ..Options::default()
        },
    );
    let authority = format!("allowed.test:{}", up.addr.port());
    let reply = raw(
        p.http,
        &format!(
            "POST http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 2\r\n\r\nhi"
        ),
    )
    .await;
    assert_eq!(reply.status, 200);
    up.next_seen().await;
    let http = p.single_event().http.unwrap();
    assert!(http.headers.iter().any(|(n, _)| n == "host"));
    assert!(http.body.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ask_is_logged_requires_approval_and_monitor_mode_lets_it_through() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(rules(&["allowed.test"]).asking(pattern("allowed.test")));
    get(p.http, &format!("allowed.test:{port}"), "/a")
        .await
        .assert_blocked(403, "ask", "not_allowed");
    let e = p.single_event();
    assert_eq!(e.decision, AuditDecision::RequiresApproval);
    assert_eq!(e.event_name.as_deref(), Some(DOMAIN));
    assert!(e.reason.as_deref().unwrap().starts_with("not_allowed: "));
    assert!(up.saw_nothing());

    let q = start(
        rules(&["allowed.test"])
            .asking(pattern("allowed.test"))
            .with_monitor(true),
    );
    let reply = get(q.http, &format!("allowed.test:{port}"), "/m").await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(up.next_seen().await.request_line, "GET /m HTTP/1.1");
    let e = q.single_event();
    assert_eq!(e.decision, AuditDecision::Denied);
    assert!(
        e.reason
            .as_deref()
            .unwrap()
            .starts_with("monitor mode: let through; would be refused: not_allowed"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_malformed_request_is_recorded_once() {
    let p = start(rules(&["allowed.test"]));
    // (request, target as given, what the reason says: the proxy's words,
    // or hyper's for what it refuses itself)
    let cases: Vec<(String, String, &str)> = vec![
        (
            "GET http://allowed.test:81/ HTTP/1.1\r\nHost: other.test:81\r\n\r\n".into(),
            "http://allowed.test:81/".into(),
            "the Host header disagrees with the target",
        ),
        (
            "GET http://u:p@allowed.test/ HTTP/1.1\r\n\r\n".into(),
            "http://u:p@allowed.test/".into(),
            "user-info",
        ),
        (
            "GET http://allowed%2etest/ HTTP/1.1\r\n\r\n".into(),
            "http://allowed%2etest/".into(),
            "invalid URI",
        ),
        (
            "GET http://allowed_test/ HTTP/1.1\r\n\r\n".into(),
            "http://allowed_test/".into(),
            "invalid host",
        ),
        (
            "CONNECT allowed.test HTTP/1.1\r\n\r\n".into(),
            "allowed.test".into(),
            "no port",
        ),
        (
            "CONNECT allowed.test:0 HTTP/1.1\r\n\r\n".into(),
            "allowed.test:0".into(),
            "port 0",
        ),
    ];
    for (i, (request, target, why)) in cases.iter().enumerate() {
        let reply = raw(p.http, request).await;
        assert_eq!(reply.status, 400, "{request}: {reply:#?}");
        eventually(|| p.events().len() > i, "the event").await;
        let events = p.events();
        assert_eq!(events.len(), i + 1, "{events:#?}");
        assert_malformed(&events[i], target);
        assert!(
            events[i].reason.as_deref().unwrap().contains(why),
            "{:?}",
            events[i]
        );
    }
    // SOCKS5: a name that is no host name, and port 0.
    let (code, _) = socks_request(p.socks, 1, SocksTarget::Name("a\u{7f}b"), 443).await;
    assert_eq!(code, Some(0x04));
    let (code, _) = socks_request(p.socks, 1, SocksTarget::Name("allowed.test"), 0).await;
    assert_eq!(code, Some(0x01));
    let events = p.events();
    assert_eq!(events.len(), cases.len() + 2, "{events:#?}");
    assert_malformed(&events[cases.len()], "a\\x7fb:443");
    assert_malformed(&events[cases.len() + 1], "allowed.test:0");
    assert!(p.resolved().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_is_recorded_once_per_connection() {
    use tokio::io::AsyncWriteExt;
    let p = start(rules(&["allowed.test"]));
    // Fifty origin-form requests with no Host on one connection, then a head
    // hyper cannot parse: one event, target unknown.
    let mut stream = connect(p.http).await;
    let mut flood = "GET / HTTP/1.1\r\n\r\n".repeat(50);
    flood.push_str("\x01\x02 junk\r\n\r\n");
    stream.write_all(flood.as_bytes()).await.unwrap();
    for _ in 0..50 {
        let reply = read_reply(&mut stream, false).await.expect("an answer");
        assert_eq!(reply.status, 400);
    }
    assert_eq!(
        read_reply(&mut stream, false).await.map(|r| r.status),
        Some(400)
    );
    assert!(closed_by_peer(&mut stream).await);
    let events = p.events();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_malformed(&events[0], "unknown");
    // Each new connection may record one.
    let reply = raw(p.http, "\x01 more junk\r\n\r\n").await;
    assert_eq!(reply.status, 400);
    eventually(|| p.events().len() == 2, "the second connection's event").await;
    assert_malformed(&p.events()[1], "unknown");
    assert_eq!(p.events().len(), 2, "{:#?}", p.events());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_request_is_refused_even_when_the_audit_fails() {
    let p = start_with(
        rules(&["allowed.test"]),
        Options {
            audit_fails: true,
            ..Options::default()
        },
    );
    let reply = raw(p.http, "GET http://user@allowed.test/ HTTP/1.1\r\n\r\n").await;
    assert_eq!(reply.status, 400, "{reply:#?}");
    let (code, _) = socks_request(p.socks, 1, SocksTarget::Name("allowed.test"), 0).await;
    assert_eq!(code, Some(0x01));
    let events = p.events();
    assert_eq!(
        events.len(),
        2,
        "each was handed to the callback: {events:#?}"
    );
    assert_malformed(&events[0], "http://user@allowed.test/");
    assert_malformed(&events[1], "allowed.test:0");
}

/// The bytes an event carries that a client chose.
fn carried(event: &codex_audit::AuditEvent) -> usize {
    let http = event.http.as_ref().map_or(0, |h| {
        h.method.as_ref().map_or(0, String::len)
            + h.headers
                .iter()
                .map(|(n, v)| n.len() + v.len())
                .sum::<usize>()
            + h.body.as_ref().map_or(0, String::len)
    });
    event.target.len() + event.reason.as_ref().map_or(0, String::len) + http
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_bounded_whatever_the_request_carries() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start_with(
        rules(&["allowed.test"]),
        Options {
            log_http: (true, true),
            ..Options::default()
        },
    );
    let long_path = format!("/{}", "p".repeat(60 * 1024));
    // Allowed: the upstream gets the whole path, the event a bounded one.
    let reply = get(p.http, &format!("allowed.test:{port}"), &long_path).await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        up.next_seen().await.request_line,
        format!("GET {long_path} HTTP/1.1")
    );
    // Refused, many times over.
    for _ in 0..100 {
        get(p.http, &format!("other.test:{port}"), &long_path)
            .await
            .assert_blocked(403, "ask", "not_allowed");
    }
    // Malformed, with the long path in the target.
    let reply = raw(
        p.http,
        &format!("GET http://user@allowed.test:{port}{long_path} HTTP/1.1\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 400);
    let events = p.events();
    assert_eq!(events.len(), 102);
    for (i, event) in events.iter().enumerate() {
        assert!(event.target.len() <= 1024, "{i}: {}", event.target.len());
        assert!(
            event.target.ends_with(" bytes cut]"),
            "{i}: {}",
            event.target
        );
        let kept = event.target.find('…').unwrap();
        let cut: usize = event.target[kept + '…'.len_utf8() + 1..]
            .trim_end_matches(" bytes cut]")
            .parse()
            .unwrap();
        let given = if i == 101 {
            format!("http://user@allowed.test:{port}{long_path}")
        } else if i == 0 {
            format!("allowed.test:{port}{long_path}")
        } else {
            format!("other.test:{port}{long_path}")
        };
        assert_eq!(kept + cut, given.len(), "{i}: the count is exact");
        assert!(given.starts_with(&event.target[..kept]), "{i}");
        assert!(carried(event) < 4 * 1024, "{i}: {}", carried(event));
    }

    // Headers: each value bounded, all of them bounded; bodies bounded.
    let authority = format!("allowed.test:{port}");
    let mut head = format!("POST http://{authority}/h HTTP/1.1\r\nHost: {authority}\r\n");
    for i in 0..40 {
        head.push_str(&format!("X-{i}: {}\r\n", "v".repeat(1500)));
    }
    let body = vec![0xffu8; 4096]; // each byte becomes a 3-byte U+FFFD
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut request = head.into_bytes();
    request.extend_from_slice(&body);
    let mut stream = connect(p.http).await;
    tokio::io::AsyncWriteExt::write_all(&mut stream, &request)
        .await
        .unwrap();
    let reply = read_reply(&mut stream, false).await.expect("an answer");
    assert_eq!(reply.status, 200);
    assert_eq!(
        up.next_seen().await.body.len(),
        4096,
        "the body goes upstream whole"
    );
    let event = p.events().pop().unwrap();
    let http = event.http.as_ref().unwrap();
    assert!(
        http.headers.iter().all(|(_, v)| v.len() <= 1024),
        "{http:?}"
    );
    let total: usize = http.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    assert!(total <= 8 * 1024, "{total}");
    let (name, value) = http.headers.last().unwrap();
    assert_eq!(name, "…", "the last entry says headers were cut");
    assert!(value.ends_with(" headers cut]"), "{value}");
    assert!(
        http.headers
            .iter()
            .any(|(n, v)| n == "x-0" && v.ends_with(" bytes cut]")),
        "{http:?}"
    );
    assert!(http.body.as_ref().unwrap().len() <= 4096);
    assert!(carried(&event) < 14 * 1024, "{}", carried(&event));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_request_line_is_recorded_bounded() {
    let p = start_with(
        rules(&["allowed.test"]),
        Options {
            hard: codex_network_proxy::HardLimits {
                max_head_bytes: 16 * 1024,
                ..codex_network_proxy::HardLimits::default()
            },
            ..Options::default()
        },
    );
    let target = format!("http://allowed.test/{}", "q".repeat(20 * 1024));
    let reply = raw(p.http, &format!("GET {target} HTTP/1.1\r\n\r\n")).await;
    assert_eq!(reply.status, 431);
    eventually(|| p.events().len() == 1, "the 431's event").await;
    let event = p.single_event();
    assert!(event.target.len() <= 1024, "{}", event.target.len());
    assert!(target.starts_with(&event.target[..event.target.find('…').unwrap()]));
    assert!(event.target.ends_with(" bytes cut]"), "{}", event.target);
    assert!(
        event
            .reason
            .as_deref()
            .unwrap()
            .starts_with("malformed request: ")
    );
}
