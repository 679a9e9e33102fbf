//! Plain HTTP through the proxy: forwarding in origin-form, header
//! stripping seen at the upstream, keep-alive, block answers, curl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_policy_model::effective::AllowlistMiss;
use common::*;
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_in_origin_form_with_the_target_as_host() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    let authority = format!("allowed.test:{}", up.addr.port());
    let reply = get(p.http, &authority, "/a/b?x=1&y=2").await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.body, "upstream saw /a/b?x=1&y=2");
    assert_eq!(reply.header("x-upstream"), Some("yes"));
    let seen = up.next_seen().await;
    assert_eq!(seen.request_line, "GET /a/b?x=1&y=2 HTTP/1.1");
    assert_eq!(seen.header("host"), Some(authority.as_str()));
    assert_eq!(p.resolved(), vec!["allowed.test".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strips_proxy_and_hop_by_hop_headers_but_keeps_the_rest() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    let authority = format!("allowed.test:{}", up.addr.port());
    let reply = raw(
        p.http,
        &format!(
            "GET http://{authority}/ HTTP/1.1\r\n\
             Host: {authority}\r\n\
             Proxy-Authorization: Basic c2VjcmV0OnNlY3JldA==\r\n\
             Proxy-Connection: keep-alive\r\n\
             Connection: keep-alive, X-Hop-Secret, Content-Length\r\n\
             X-Hop-Secret: do-not-forward\r\n\
             Keep-Alive: timeout=5\r\n\
             TE: trailers\r\n\
             Trailer: X-Checksum\r\n\
             Upgrade: websocket\r\n\
             X-End-To-End: keep-me\r\n\
             Authorization: Bearer for-the-origin\r\n\
             \r\n"
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let seen = up.next_seen().await;
    for gone in [
        "proxy-authorization",
        "proxy-connection",
        "connection",
        "x-hop-secret",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
    ] {
        assert!(
            !seen.has_header(gone),
            "{gone} reached the upstream: {seen:#?}"
        );
    }
    assert_eq!(seen.header("x-end-to-end"), Some("keep-me"));
    assert_eq!(seen.header("authorization"), Some("Bearer for-the-origin"));
    // The upstream's own hop-by-hop headers do not reach the client either.
    assert_eq!(reply.header("keep-alive"), None, "{reply:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_bodies_with_length_and_chunked() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    let authority = format!("allowed.test:{}", up.addr.port());
    let reply = raw(
        p.http,
        &format!(
            "POST http://{authority}/post HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 11\r\n\r\nhello world"
        ),
    )
    .await;
    assert_eq!(reply.status, 200);
    assert_eq!(up.next_seen().await.body, b"hello world");

    let reply = raw(
        p.http,
        &format!(
            "POST http://{authority}/chunked HTTP/1.1\r\nHost: {authority}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        ),
    )
    .await;
    assert_eq!(reply.status, 200);
    let seen = up.next_seen().await;
    assert_eq!(seen.body, b"hello world");
    assert_eq!(
        seen.header("transfer-encoding"),
        Some("chunked"),
        "{seen:#?}"
    );
    assert!(!seen.has_header("content-length"), "{seen:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_client_gets_one_decision_per_request() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    let port = up.addr.port();
    let mut stream = connect(p.http).await;
    for (host, expect) in [
        ("allowed.test", 200),
        ("other.test", 403),
        ("allowed.test", 200),
    ] {
        stream
            .write_all(
                format!("GET http://{host}:{port}/k HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let reply = read_reply(&mut stream, false)
            .await
            .expect("the connection stayed open");
        assert_eq!(reply.status, expect, "{host}: {reply:#?}");
    }
    assert_eq!(up.next_seen().await.request_line, "GET /k HTTP/1.1");
    assert_eq!(up.next_seen().await.request_line, "GET /k HTTP/1.1");
    assert_eq!(p.events().len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_answers_name_the_destination_and_the_reason() {
    let mut up = upstream(Behavior::Answer).await;
    let port = up.addr.port();
    let p = start(
        rules(&["allowed.test", "**.allowed.test"])
            .denying(pattern("denied.allowed.test"))
            .with_ports(ports(&[port])),
    );

    let reply = get(p.http, &format!("other.test:{port}"), "/").await;
    reply.assert_blocked(403, "ask", "not_allowed");
    assert_eq!(
        reply.body,
        format!("codex-policy: other.test:{port} refused: not in the allowlist (not_allowed)\n")
    );
    get(p.http, &format!("denied.allowed.test:{port}"), "/")
        .await
        .assert_blocked(403, "deny", "denied");
    get(p.http, "allowed.test:1", "/")
        .await
        .assert_blocked(403, "deny", "port_not_allowed");
    get(p.http, &format!("127.0.0.2:{port}"), "/")
        .await
        .assert_blocked(403, "deny", "not_allowed_local");
    assert!(up.saw_nothing());
    // Refused names were never resolved.
    assert!(p.resolved().is_empty(), "{:?}", p.resolved());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_allowlist_answers_deny_not_ask() {
    let p = start(rules(&["allowed.test"]).with_allowlist_miss(AllowlistMiss::Deny));
    get(p.http, "other.test:80", "/")
        .await
        .assert_blocked(403, "deny", "not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origin_form_and_other_schemes_are_bad_requests() {
    let p = start(rules(&["*"]));
    let reply = raw(
        p.http,
        "GET /index.html HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400, "{reply:#?}");
    assert!(reply.body.contains("absolute-form"), "{reply:#?}");
    let reply = raw(
        p.http,
        "GET https://allowed.test/ HTTP/1.1\r\nHost: allowed.test\r\n\r\n",
    )
    .await;
    assert_eq!(reply.status, 400, "{reply:#?}");
    let reply = raw(p.http, "OPTIONS * HTTP/1.1\r\nHost: allowed.test\r\n\r\n").await;
    assert_eq!(reply.status, 400, "{reply:#?}");
    // Refused and recorded, each with the destination it named.
    let events = p.events();
    assert_eq!(events.len(), 3, "{events:#?}");
    assert_malformed(&events[0], "allowed.test/index.html");
    assert_malformed(&events[1], "https://allowed.test/");
    assert_malformed(&events[2], "allowed.test");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_refusing_the_connection_is_a_bad_gateway() {
    // Bind then drop: a port with nothing listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = start(rules(&["allowed.test"]));
    let reply = get(p.http, &format!("allowed.test:{port}"), "/").await;
    assert_eq!(reply.status, 502, "{reply:#?}");
    let reply = get(p.http, "unknown-name.allowed.test:80", "/").await;
    assert_eq!(reply.status, 403, "not allowed: {reply:#?}");
    let p = start(rules(&["**.allowed.test"]));
    let reply = get(p.http, "unknown-name.allowed.test:80", "/").await;
    assert_eq!(reply.status, 502, "does not resolve: {reply:#?}");
    assert!(reply.body.contains("could not resolve"), "{reply:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_responses_stream_through_intact() {
    const SIZE: usize = 8 * 1024 * 1024 + 17;
    let up = upstream(Behavior::Big(SIZE)).await;
    let p = start(rules(&["allowed.test"]));
    let reply = get(p.http, &format!("allowed.test:{}", up.addr.port()), "/big").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body.len(), SIZE);
    assert!(reply.body.bytes().all(|b| b == b'x'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_through_the_proxy() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    let proxy = format!("http://{}", p.http);
    let url = format!("http://allowed.test:{}/from-curl?q=1", up.addr.port());
    let Some(out) = curl(&[
        "-x",
        &proxy,
        "-H",
        "Proxy-Authorization: Basic Zm9vOmJhcg==",
        &url,
    ])
    .await
    else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "upstream saw /from-curl?q=1"
    );
    let seen = up.next_seen().await;
    assert!(!seen.has_header("proxy-authorization"), "{seen:#?}");
    assert!(!seen.has_header("proxy-connection"), "{seen:#?}");

    let Some(out) = curl(&[
        "-x",
        &proxy,
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "http://other.test/",
    ])
    .await
    else {
        return;
    };
    assert_eq!(String::from_utf8_lossy(&out.stdout), "403");
}
