//! Policy limits of a run (`max_requests`, `concurrency`, `timeout_seconds`)
//! and the hard limit on open connections.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::num::NonZeroU32;
use std::time::Duration;

use codex_network_proxy::HardLimits;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn n(v: u32) -> Option<NonZeroU32> {
    NonZeroU32::new(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_requests_counts_requests_and_tunnels_of_one_run() {
    let up = upstream(Behavior::Answer).await;
    let echo = echo().await;
    let limited = || rules(&["allowed.test"]).with_limits(n(3), None, None);
    let p = start(limited());
    let authority = format!("allowed.test:{}", up.addr.port());
    assert_eq!(get(p.http, &authority, "/1").await.status, 200);
    let (reply, _tunnel) =
        connect_tunnel(p.http, &format!("allowed.test:{}", echo.addr.port())).await;
    assert_eq!(reply.status, 200);
    let (code, _socks) = socks_request(
        p.socks,
        1,
        SocksTarget::Name("allowed.test"),
        echo.addr.port(),
    )
    .await;
    assert_eq!(code, Some(0));
    // The fourth of the run, whatever its protocol.
    let reply = get(p.http, &authority, "/4").await;
    reply.assert_blocked(429, "deny", "limit_exceeded");
    let (reply, _) = connect_tunnel(p.http, &format!("allowed.test:{}", echo.addr.port())).await;
    reply.assert_blocked(429, "deny", "limit_exceeded");
    let (code, _) = socks_request(
        p.socks,
        1,
        SocksTarget::Name("allowed.test"),
        echo.addr.port(),
    )
    .await;
    assert_eq!(code, Some(0x02));
    let last = p.events().pop().unwrap();
    assert_eq!(
        last.event_name.as_deref(),
        Some("codex.network_proxy.block_decision")
    );
    assert!(last.reason.unwrap().starts_with("limit_exceeded:"));

    // Another run counts from zero.
    let q = start(limited());
    assert_eq!(get(q.http, &authority, "/again").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_waits_for_a_slot_then_gives_up() {
    let echo = echo().await;
    let target = format!("allowed.test:{}", echo.addr.port());
    // One in flight; wait (and idle) up to 1 s.
    let p = start(rules(&["allowed.test"]).with_limits(None, n(1), n(1)));
    let (reply, mut first) = connect_tunnel(p.http, &target).await;
    assert_eq!(reply.status, 200);
    // Keep the first tunnel busy while the second waits for its slot.
    let keep_busy = tokio::spawn(async move {
        for _ in 0..10 {
            echo_roundtrip(&mut first, b"busy").await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        first
    });
    let (reply, _) = connect_tunnel(p.http, &target).await;
    reply.assert_blocked(429, "deny", "limit_exceeded");
    let first = keep_busy.await.unwrap();
    drop(first);
    // The slot comes back when the tunnel closes.
    let mut ok = false;
    for _ in 0..50 {
        let (reply, _) = connect_tunnel(p.http, &target).await;
        if reply.status == 200 {
            ok = true;
            break;
        }
    }
    assert!(ok, "the slot never came back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_request_gets_the_slot_when_it_frees() {
    let echo = echo().await;
    let target = format!("allowed.test:{}", echo.addr.port());
    let p = start(rules(&["allowed.test"]).with_limits(None, n(1), n(15)));
    let (reply, first) = connect_tunnel(p.http, &target).await;
    assert_eq!(reply.status, 200);
    let http = p.http;
    let waiting_target = target.clone();
    let second = tokio::spawn(async move { connect_tunnel(http, &waiting_target).await });
    // Let the second one reach the proxy and wait, then free the slot.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!second.is_finished(), "the second tunnel did not wait");
    drop(first);
    let (reply, mut stream) = second.await.unwrap();
    assert_eq!(reply.status, 200);
    echo_roundtrip(&mut stream, b"second").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_upstream_times_out() {
    let up = upstream(Behavior::Stall).await;
    let p = start(rules(&["allowed.test"]).with_limits(None, None, n(1)));
    let reply = get(
        p.http,
        &format!("allowed.test:{}", up.addr.port()),
        "/stall",
    )
    .await;
    assert_eq!(reply.status, 504, "{reply:#?}");
    assert!(reply.body.contains("timed out"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_midway_is_cut_at_the_deadline() {
    let up = upstream(Behavior::StallMidBody).await;
    let p = start(rules(&["allowed.test"]).with_limits(None, None, n(1)));
    let authority = format!("allowed.test:{}", up.addr.port());
    let mut stream = connect(p.http).await;
    stream
        .write_all(
            format!("GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
    let mut got = Vec::new();
    let ended = tokio::time::timeout(PATIENCE, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(k) => got.extend_from_slice(&buf[..k]),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the connection was not cut");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.ends_with("half!"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_tunnel_is_closed_and_a_busy_one_is_not() {
    let echo = echo().await;
    let target = format!("allowed.test:{}", echo.addr.port());
    let p = start(rules(&["allowed.test"]).with_limits(None, None, n(1)));
    let (reply, mut busy) = connect_tunnel(p.http, &target).await;
    assert_eq!(reply.status, 200);
    let (reply, mut idle) = connect_tunnel(p.http, &target).await;
    assert_eq!(reply.status, 200);
    echo_roundtrip(&mut idle, b"once").await;
    // Busy for 2.5 s, twice the idle timeout, bytes every 250 ms.
    for _ in 0..10 {
        echo_roundtrip(&mut busy, b"ping").await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    echo_roundtrip(&mut busy, b"still open").await;
    assert!(
        closed_by_peer(&mut idle).await,
        "the idle tunnel stayed open"
    );
    // The busy one's own idle time runs from its last byte.
    assert!(closed_by_peer(&mut busy).await);
    echo.wait_all_closed().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_hard_limit_are_closed_at_once() {
    let p = start_with(
        rules(&["*"]),
        Options {
            hard: HardLimits {
                max_connections: 2,
                ..HardLimits::default()
            },
            ..Options::default()
        },
    );
    let mut first = connect(p.http).await;
    let _second = connect(p.socks).await;
    // Both are accepted (the proxy waits for their first bytes); the third
    // is closed without a word.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut third = connect(p.http).await;
    assert!(closed_by_peer(&mut third).await);
    // The first still works.
    first
        .write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(read_reply(&mut first, false).await.unwrap().status, 400);
    drop(first);
    // A freed place is given to the next connection.
    let mut served = false;
    for _ in 0..50 {
        let mut next = connect(p.http).await;
        next.write_all(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n")
            .await
            .unwrap();
        if read_reply(&mut next, false).await.is_some() {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served);
}
