//! Clients that misbehave: malformed and oversized heads, slowloris, junk on
//! both listeners, clients and upstreams vanishing mid-tunnel. The proxy
//! answers 400/431 or closes, never panics, and keeps serving.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Once;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use codex_network_proxy::HardLimits;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

static PROXY_PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts panics on the proxy's own threads (a panicking task would not
/// stop the proxy, so liveness alone would not show it).
fn watch_for_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if std::thread::current()
                .name()
                .is_some_and(|n| n.starts_with("codex-egress-proxy"))
            {
                PROXY_PANICS.fetch_add(1, Ordering::SeqCst);
            }
            previous(info);
        }));
    });
}

fn assert_no_panic() {
    assert_eq!(PROXY_PANICS.load(Ordering::SeqCst), 0, "the proxy panicked");
}

/// The proxy still forwards a good request.
async fn still_serves(p: &TestProxy, up: &Upstream) {
    let reply = get(
        p.http,
        &format!("allowed.test:{}", up.addr.port()),
        "/alive",
    )
    .await;
    assert_eq!(reply.status, 200, "{reply:#?}");
}

/// Sends `bytes` and returns the status answered, or `None` when the proxy
/// closed without an answer.
async fn status_for(addr: std::net::SocketAddr, bytes: &[u8]) -> Option<u16> {
    let mut stream = connect(addr).await;
    let _ = stream.write_all(bytes).await;
    read_reply(&mut stream, false).await.map(|r| r.status)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_heads_are_bad_requests() {
    watch_for_panics();
    let up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    // Each refused head is recorded once, with the target its request line
    // gave, or `unknown` when it gave none.
    for (i, (bytes, target)) in [
        (&b"GARBAGE\r\n\r\n"[..], "unknown"),
        (b"GET\r\n\r\n", "unknown"),
        (
            b"GET http://allowed.test/ HTTP/9.9\r\n\r\n",
            "http://allowed.test/",
        ),
        (
            b"GET http://allowed.test/ HTTP/1.1\r\nNo-Colon-Here\r\n\r\n",
            "http://allowed.test/",
        ),
        (
            b"GET http://allowed.test/ HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "http://allowed.test/",
        ),
        (
            b"GET http://allowed.test/ HTTP/1.1\r\nX: a\0b\r\n\r\n",
            "http://allowed.test/",
        ),
        (b"GET http://allo wed.test/ HTTP/1.1\r\n\r\n", "http://allo"),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n",
            "unknown",
        ),
        (b"CONNECT  HTTP/1.1\r\n\r\n", "unknown"),
        (
            b"GET http://allowed.test/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "http://allowed.test/",
        ),
        (
            b"GET http://allowed.test/ HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            "http://allowed.test/",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let status = status_for(p.http, bytes).await;
        assert_eq!(status, Some(400), "{:?}", String::from_utf8_lossy(bytes));
        // hyper answers these itself; the event follows the answer.
        eventually(|| p.events().len() > i, "the refusal's event").await;
        let events = p.events();
        assert_eq!(events.len(), i + 1, "{events:#?}");
        assert_malformed(&events[i], target);
    }
    still_serves(&p, &up).await;
    assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_heads_are_431() {
    watch_for_panics();
    let up = upstream(Behavior::Answer).await;
    let p = start_with(
        rules(&["allowed.test"]),
        Options {
            hard: HardLimits {
                max_head_bytes: 16 * 1024,
                ..HardLimits::default()
            },
            ..Options::default()
        },
    );
    let authority = format!("allowed.test:{}", up.addr.port());
    // One huge header, complete.
    let big = format!(
        "GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\nX-Big: {}\r\n\r\n",
        "a".repeat(20 * 1024)
    );
    assert_eq!(status_for(p.http, big.as_bytes()).await, Some(431));
    // Refused and recorded, with the target as given.
    eventually(|| p.events().len() == 1, "the 431's event").await;
    let event = p.single_event();
    assert_malformed(&event, &format!("http://{authority}/"));
    assert!(
        event
            .reason
            .as_deref()
            .unwrap()
            .contains("larger than 16384 bytes"),
        "{event:?}"
    );
    // A head that never ends.
    let endless = format!(
        "GET http://{authority}/ HTTP/1.1\r\nX-Endless: {}",
        "b".repeat(64 * 1024)
    );
    assert_eq!(status_for(p.http, endless.as_bytes()).await, Some(431));
    eventually(|| p.events().len() == 2, "the 431's event").await;
    // Too many headers.
    let mut many = format!("GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\n");
    for i in 0..200 {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(status_for(p.http, many.as_bytes()).await, Some(431));
    eventually(|| p.events().len() == 3, "the 431's event").await;
    // A head just under the limit is fine.
    let fits = format!(
        "GET http://{authority}/ HTTP/1.1\r\nHost: {authority}\r\nX-Fits: {}\r\n\r\n",
        "c".repeat(12 * 1024)
    );
    assert_eq!(status_for(p.http, fits.as_bytes()).await, Some(200));
    eventually(|| p.events().len() == 4, "one event per head").await;
    let events = p.events();
    assert_eq!(events.len(), 4, "{events:#?}");
    for event in &events[..3] {
        assert_malformed(event, &format!("http://{authority}/"));
    }
    assert_eq!(events[3].decision, codex_audit::AuditDecision::Allowed);
    assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_off() {
    watch_for_panics();
    let up = upstream(Behavior::Answer).await;
    let p = start_with(
        rules(&["allowed.test"]),
        Options {
            hard: HardLimits {
                header_read_timeout: Duration::from_millis(500),
                ..HardLimits::default()
            },
            ..Options::default()
        },
    );
    // One byte every 100 ms: the head would take seconds.
    let mut slow = connect(p.http).await;
    let head = format!(
        "GET http://allowed.test:{}/ HTTP/1.1\r\nHost: allowed.test\r\nX-Padding: {}\r\n\r\n",
        up.addr.port(),
        "p".repeat(100)
    );
    let mut cut = false;
    for byte in head.bytes() {
        if slow.write_all(&[byte]).await.is_err() {
            cut = true;
            break;
        }
        // Stop as soon as the proxy has hung up.
        let mut probe = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(100), slow.read(&mut probe)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                cut = true;
                break;
            }
            // An error answer (408 or similar) then a close also counts.
            Ok(Ok(_)) => {}
            Err(_) => {}
        }
    }
    assert!(cut, "the slow client got its whole head in");
    // A client that connects and says nothing is cut off too.
    let mut silent = connect(p.http).await;
    assert!(closed_by_peer(&mut silent).await);
    still_serves(&p, &up).await;
    assert!(p.events().len() == 1, "only the good request was decided");
    assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_on_both_listeners_never_panics() {
    watch_for_panics();
    let up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    // A tiny deterministic generator: the same junk on every run.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..150 {
        let len = (next() % 300) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Half the rounds start like the real thing.
        if round % 2 == 0 {
            let prefix: &[u8] = if round % 4 == 0 {
                b"CONNECT "
            } else {
                &[5, 1, 0, 5, 1, 0, 3]
            };
            bytes.splice(0..0, prefix.iter().copied());
        }
        for addr in [p.http, p.socks] {
            let mut stream = connect(addr).await;
            let _ = stream.write_all(&bytes).await;
            let _ = stream.shutdown().await;
            let mut sink = Vec::new();
            let _ = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut sink)).await;
        }
    }
    // Truncated SOCKS requests that announce more than they send.
    for bytes in [
        &[5u8, 1, 0, 5, 1, 0, 3, 200, b'a'][..],
        &[5, 1, 0, 5, 1, 0, 4, 0, 0],
        &[5, 255],
    ] {
        let mut stream = connect(p.socks).await;
        stream.write_all(bytes).await.unwrap();
        stream.shutdown().await.unwrap();
        assert!(closed_by_peer(&mut stream).await);
    }
    still_serves(&p, &up).await;
    assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_vanishing_mid_tunnel_closes_the_upstream() {
    watch_for_panics();
    let echo = echo().await;
    let p = start(rules(&["allowed.test"]));
    let target = format!("allowed.test:{}", echo.addr.port());
    // Orderly: the client closes.
    let (reply, mut stream) = connect_tunnel(p.http, &target).await;
    assert_eq!(reply.status, 200);
    echo_roundtrip(&mut stream, b"hello").await;
    drop(stream);
    echo.wait_all_closed().await;
    // Abrupt: the client resets with unread data in flight, over SOCKS too.
    let (reply, mut stream) = connect_tunnel(p.http, &target).await;
    assert_eq!(reply.status, 200);
    stream.write_all(&vec![7u8; 256 * 1024]).await.unwrap();
    drop(stream);
    let (code, mut stream) = socks_request(
        p.socks,
        1,
        SocksTarget::Name("allowed.test"),
        echo.addr.port(),
    )
    .await;
    assert_eq!(code, Some(0));
    stream.write_all(&vec![7u8; 256 * 1024]).await.unwrap();
    drop(stream);
    echo.wait_all_closed().await;
    assert_no_panic();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_vanishing_mid_tunnel_closes_the_client() {
    watch_for_panics();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        s.write_all(b"bye").await.unwrap();
        // Dropped: the upstream goes away.
    });
    let p = start(rules(&["allowed.test"]));
    let (reply, mut stream) = connect_tunnel(p.http, &format!("allowed.test:{port}")).await;
    assert_eq!(reply.status, 200);
    let mut bye = [0u8; 3];
    stream.read_exact(&mut bye).await.unwrap();
    assert_eq!(&bye, b"bye");
    assert!(closed_by_peer(&mut stream).await);
    assert_no_panic();
}
