//! Request smuggling and host normalization: the decision is on the host
//! the proxy connects to, and nothing else can sneak past it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use tokio::io::AsyncWriteExt;

fn request(target: &str, host: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_header_disagreeing_with_the_target_is_refused() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(rules(&["allowed.test", "other.test"]));
    let mut given = Vec::new();
    for (target, host) in [
        (
            format!("http://allowed.test:{port}/"),
            "other.test".to_owned(),
        ),
        (
            format!("http://other.test:{port}/"),
            format!("allowed.test:{port}"),
        ),
        (
            format!("http://allowed.test:{port}/"),
            format!("allowed.test:{}", port.wrapping_add(1)),
        ),
        (
            format!("http://allowed.test:{port}/"),
            format!("127.0.0.1:{port}"),
        ),
        (
            format!("http://allowed.test:{port}/"),
            "allowed.test:abc".to_owned(),
        ),
        (
            format!("http://allowed.test:{port}/"),
            "user@allowed.test".to_owned(),
        ),
    ] {
        let reply = raw(p.http, &request(&target, &host)).await;
        assert_eq!(reply.status, 400, "{target} / Host: {host}: {reply:#?}");
        given.push(target);
    }
    // Two Host headers, even agreeing ones.
    let authority = format!("allowed.test:{port}");
    let reply = raw(
        p.http,
        &format!(
            "GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\nHost: {authority}\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(reply.status, 400);
    // CONNECT too.
    let reply = raw(
        p.http,
        &format!("CONNECT allowed.test:{port} HTTP/1.1\r\nHost: other.test:{port}\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 400);
    given.push(format!("http://{authority}/"));
    given.push(format!("allowed.test:{port}"));
    assert!(up.saw_nothing());
    // Each refusal recorded once, with the target as the request gave it.
    let events = p.events();
    assert_eq!(events.len(), given.len(), "{events:#?}");
    for (event, target) in events.iter().zip(&given) {
        assert_malformed(event, target);
    }
    assert!(
        events[0]
            .reason
            .as_deref()
            .unwrap()
            .ends_with("the Host header disagrees with the target"),
        "{:?}",
        events[0]
    );
    assert!(p.resolved().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_header_agreeing_after_normalization_is_accepted() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(rules(&["allowed.test", "127.0.0.1"]));
    for (target, host) in [
        (
            format!("http://ALLOWED.Test.:{port}/n"),
            format!("allowed.test:{port}"),
        ),
        (
            format!("http://allowed.test:{port}/n"),
            "Allowed.TEST.".to_owned(),
        ),
        (
            format!("http://127.0.0.1:{port}/n"),
            format!("0x7f.0.0.1:{port}"),
        ),
    ] {
        let reply = raw(p.http, &request(&target, &host)).await;
        assert_eq!(reply.status, 200, "{target} / Host: {host}: {reply:#?}");
        up.next_seen().await;
    }
    // No Host header at all (HTTP/1.0 style) is fine too.
    let reply = raw(
        p.http,
        &format!("GET http://allowed.test:{port}/n HTTP/1.0\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 200);
    let seen = up.next_seen().await;
    assert_eq!(
        seen.header("host"),
        Some(format!("allowed.test:{port}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_info_in_the_target_is_refused() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(rules(&["allowed.test", "other.test"]));
    for target in [
        format!("http://user@allowed.test:{port}/"),
        format!("http://user:secret@allowed.test:{port}/"),
        format!("http://allowed.test:{port}@other.test:{port}/"),
    ] {
        let reply = raw(p.http, &format!("GET {target} HTTP/1.1\r\n\r\n")).await;
        assert_eq!(reply.status, 400, "{target}: {reply:#?}");
        assert!(reply.body.contains("user-info"), "{target}: {reply:#?}");
        let events = p.events();
        let event = events.last().expect("an event");
        assert_malformed(event, &target);
        assert!(event.reason.as_deref().unwrap().contains("user-info"));
    }
    let reply = raw(
        p.http,
        &format!("CONNECT user@allowed.test:{port} HTTP/1.1\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 400);
    assert!(reply.body.contains("user-info"), "{reply:#?}");
    let events = p.events();
    assert_eq!(events.len(), 4, "{events:#?}");
    assert_malformed(&events[3], &format!("user@allowed.test:{port}"));
    assert!(up.saw_nothing());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percent_encoded_and_invalid_hosts_are_refused() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(rules(&["*"]));
    let mut given = Vec::new();
    for target in [
        format!("http://allowed%2etest:{port}/"),
        format!("http://%61llowed.test:{port}/"),
        format!("http://allowed.test%00.evil:{port}/"),
        format!("http://allowed_test:{port}/"),
        format!("http://-allowed.test:{port}/"),
        format!("http://allowed..test:{port}/"),
        format!("http://[allowed.test]:{port}/"),
        format!("http://999.1:{port}/"),
        format!("http://allowed.test\\@other.test:{port}/"),
        format!("http://bücher.test:{port}/"),
    ] {
        let reply = raw(p.http, &format!("GET {target} HTTP/1.1\r\n\r\n")).await;
        assert_eq!(reply.status, 400, "{target}: {reply:#?}");
        // Some are hyper's to refuse: their event follows the answer.
        given.push(escaped(target.as_bytes()));
        eventually(|| p.events().len() == given.len(), "the event").await;
    }
    let reply = raw(
        p.http,
        &format!("CONNECT allowed%2etest:{port} HTTP/1.1\r\n\r\n"),
    )
    .await;
    assert_eq!(reply.status, 400);
    given.push(format!("allowed%2etest:{port}"));
    eventually(|| p.events().len() == given.len(), "the event").await;
    assert!(up.saw_nothing());
    let events = p.events();
    assert_eq!(events.len(), given.len(), "{events:#?}");
    for (event, target) in events.iter().zip(&given) {
        assert_malformed(event, target);
    }
    assert!(p.resolved().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_and_the_log_use_the_normalized_host() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(rules(&["allowed.test", "xn--bcher-kva.test"]));
    let reply = get(p.http, &format!("AlLoWeD.tEsT.:{port}"), "/case").await;
    assert_eq!(reply.status, 200);
    let seen = up.next_seen().await;
    assert_eq!(
        seen.header("host"),
        Some(format!("allowed.test:{port}").as_str())
    );
    let reply = get(p.http, &format!("XN--BCHER-KVA.test:{port}"), "/idn").await;
    assert_eq!(reply.status, 200);
    up.next_seen().await;
    let targets: Vec<String> = p.events().into_iter().map(|e| e.target).collect();
    assert_eq!(
        targets,
        vec![
            format!("allowed.test:{port}/case"),
            format!("xn--bcher-kva.test:{port}/idn"),
        ]
    );
    assert_eq!(p.resolved(), vec!["allowed.test", "xn--bcher-kva.test"]);
    // A trailing dot does not escape a deny entry.
    let q = start(rules(&["*"]).denying(pattern("allowed.test")));
    get(q.http, &format!("ALLOWED.test.:{port}"), "/")
        .await
        .assert_blocked(403, "deny", "denied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn framing_cannot_be_smuggled_past_the_proxy() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(rules(&["allowed.test"]));
    let authority = format!("allowed.test:{port}");
    // CL.TE: the proxy frames by Transfer-Encoding and sends no Content-Length.
    let smuggled = "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: allowed.test\r\n\r\n";
    let mut stream = connect(p.http).await;
    stream
        .write_all(
            format!(
                "POST http://{authority}/front HTTP/1.1\r\nHost: {authority}\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n{smuggled}",
                smuggled.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let first = read_reply(&mut stream, false).await;
    let seen = up.next_seen().await;
    assert_eq!(seen.request_line, "POST /front HTTP/1.1");
    assert!(seen.body.is_empty(), "{seen:#?}");
    assert!(!seen.has_header("content-length"), "{seen:#?}");
    if let Some(first) = first {
        assert!(first.status == 200 || first.status == 400, "{first:#?}");
        // What followed is a request of the client to the proxy: origin-form,
        // refused; it never reaches the upstream as a request of its own.
        if let Some(second) = read_reply(&mut stream, false).await {
            assert_eq!(second.status, 400, "{second:#?}");
        }
    }
    assert!(
        up.seen.try_recv().is_err(),
        "a smuggled request reached the upstream"
    );

    // Connection: content-length does not make the proxy drop the framing.
    let reply = raw(
        p.http,
        &format!(
            "POST http://{authority}/cl HTTP/1.1\r\nHost: {authority}\r\nConnection: content-length, host\r\nContent-Length: 5\r\n\r\nhello"
        ),
    )
    .await;
    assert_eq!(reply.status, 200);
    let seen = up.next_seen().await;
    assert_eq!(seen.body, b"hello");
    assert_eq!(seen.header("host"), Some(authority.as_str()));

    // Two different lengths: refused by the parser.
    let reply = raw(
        p.http,
        &format!(
            "POST http://{authority}/cl HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
        ),
    )
    .await;
    assert_eq!(reply.status, 400);
}
