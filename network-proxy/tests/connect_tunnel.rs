//! CONNECT tunnels: TLS end to end (rustls and curl), refusal before any
//! byte is tunnelled, bytes sent ahead of the 200, bulk transfer, bad targets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Instant;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_through_a_tunnel_with_a_rust_client() {
    let server = tls::server();
    let p = start(rules(&["allowed.test"]));
    let target = format!("allowed.test:{}", server.addr.port());
    let (reply, stream) = connect_tunnel(p.http, &target).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    let cert = server.cert.clone();
    let answer = tokio::task::spawn_blocking(move || tls::get_over(stream, &cert, "allowed.test"))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with("hello over tls"), "{answer}");
    let event = p.single_event();
    assert_eq!(event.target, target);
    assert!(event.http.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_through_a_tunnel_with_curl() {
    let server = tls::server();
    let p = start(rules(&["allowed.test"]));
    let url = format!("https://allowed.test:{}/", server.addr.port());
    let proxy = format!("http://{}", p.http);
    let Some(out) = curl(&["-k", "--proxytunnel", "-x", &proxy, &url]).await else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello over tls");

    // Refused: curl reports the proxy's answer, the server never sees a byte.
    let refused = format!("https://other.test:{}/", server.addr.port());
    let Some(out) = curl(&["-k", "--proxytunnel", "-x", &proxy, &refused]).await else {
        return;
    };
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("403"),
        "{out:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusal_comes_before_any_byte_is_tunnelled() {
    let echo = echo().await;
    let p = start(rules(&["allowed.test"]));
    for (target, decision, reason) in [
        (
            format!("other.test:{}", echo.addr.port()),
            "ask",
            "not_allowed",
        ),
        (
            format!("127.0.0.3:{}", echo.addr.port()),
            "deny",
            "not_allowed_local",
        ),
        (
            format!("[::1]:{}", echo.addr.port()),
            "deny",
            "not_allowed_local",
        ),
    ] {
        let mut stream = connect(p.http).await;
        // The client sends its first tunnel bytes right behind the CONNECT.
        stream
            .write_all(
                format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\nEARLY-BYTES")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let reply = read_reply(&mut stream, true).await.expect("an answer");
        reply.assert_blocked(403, decision, reason);
        assert!(
            closed_by_peer(&mut stream).await,
            "a refused CONNECT closes"
        );
    }
    assert_eq!(echo.accepted(), 0, "the destination was contacted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_sent_ahead_of_the_answer_are_tunnelled() {
    let echo = echo().await;
    let p = start(rules(&["allowed.test"]));
    let target = format!("allowed.test:{}", echo.addr.port());
    let mut stream = connect(p.http).await;
    stream
        .write_all(
            format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\nPIPELINED").as_bytes(),
        )
        .await
        .unwrap();
    let reply = read_reply(&mut stream, true).await.unwrap();
    assert_eq!(reply.status, 200);
    let mut back = [0u8; 9];
    stream.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"PIPELINED");
    echo_roundtrip(&mut stream, b"and more").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ipv6_literal_and_name_targets() {
    let echo = echo_on("[::1]:0").await;
    // ::1 is local: the name needs it in ip_allow (the literal is listed exactly).
    let p = start(rules(&["v6.test", "::1"]).with_ip_allow(vec!["::1/128".parse().unwrap()]));
    for target in [
        format!("v6.test:{}", echo.addr.port()),
        format!("[::1]:{}", echo.addr.port()),
    ] {
        let (reply, mut stream) = connect_tunnel(p.http, &target).await;
        assert_eq!(reply.status, 200, "{target}: {reply:#?}");
        echo_roundtrip(&mut stream, target.as_bytes()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_needs_a_port_and_not_port_zero() {
    let p = start(rules(&["*"]));
    for (i, target) in [
        "allowed.test",
        "allowed.test:",
        "allowed.test:0",
        "allowed.test:65536",
        "allowed.test:+80",
        "http://allowed.test:80/",
    ]
    .into_iter()
    .enumerate()
    {
        let reply = raw(
            p.http,
            &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
        )
        .await;
        assert_eq!(reply.status, 400, "{target}: {reply:#?}");
        // Recorded once, with the destination as given (hyper refuses some
        // itself: their event follows the answer).
        eventually(|| p.events().len() > i, "the event").await;
        let events = p.events();
        assert_eq!(events.len(), i + 1, "{events:#?}");
        assert_malformed(&events[i], target);
    }
    assert!(p.resolved().is_empty());
}

/// Bulk transfer through a tunnel compared with a direct loopback download.
/// Prints the ratio; asserts only integrity (timings vary on shared CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_transfer_is_intact() {
    const SIZE: usize = 64 * 1024 * 1024;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let block: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
        loop {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let block = block.clone();
            tokio::spawn(async move {
                let mut left = SIZE;
                while left > 0 {
                    let n = left.min(block.len());
                    if s.write_all(&block[..n]).await.is_err() {
                        return;
                    }
                    left -= n;
                }
            });
        }
    });
    async fn drain(mut s: tokio::net::TcpStream) -> (usize, u64) {
        let mut buf = vec![0u8; 256 * 1024];
        let (mut total, mut sum) = (0usize, 0u64);
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                return (total, sum);
            }
            for (i, b) in buf[..n].iter().enumerate() {
                assert_eq!(*b, ((total + i) % (64 * 1024) % 251) as u8);
            }
            sum += buf[..n].iter().map(|&b| u64::from(b)).sum::<u64>();
            total += n;
        }
    }
    let start_direct = Instant::now();
    let (direct, _) = drain(tokio::net::TcpStream::connect(addr).await.unwrap()).await;
    let direct_time = start_direct.elapsed();

    let p = start(rules(&["allowed.test"]));
    let (reply, stream) = connect_tunnel(p.http, &format!("allowed.test:{}", addr.port())).await;
    assert_eq!(reply.status, 200);
    let start_tunnel = Instant::now();
    let (tunnelled, _) = drain(stream).await;
    let tunnel_time = start_tunnel.elapsed();
    assert_eq!(direct, SIZE);
    assert_eq!(tunnelled, SIZE);
    println!(
        "direct {direct_time:?}, tunnelled {tunnel_time:?}: {:.2}x of direct throughput",
        direct_time.as_secs_f64() / tunnel_time.as_secs_f64()
    );
}
