//! SOCKS5 (RFC 1928): CONNECT by name, IPv4 and IPv6; refusals; the
//! commands, methods, versions and address types that are not served; curl.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use codex_network_proxy::HardLimits;
use codex_policy_model::IpRule;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONNECT: u8 = 1;
const BIND: u8 = 2;
const UDP_ASSOCIATE: u8 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_by_name_ipv4_and_ipv6() {
    let echo4 = echo().await;
    let echo6 = echo_on("[::1]:0").await;
    let rules = rules(&["allowed.test", "127.0.0.1", "::1"]).with_ip_allow(vec![
        "127.0.0.1/32".parse::<IpRule>().unwrap(),
        "::1/128".parse::<IpRule>().unwrap(),
    ]);
    let p = start(rules);
    let cases = [
        (SocksTarget::Name("allowed.test"), echo4.addr.port()),
        (SocksTarget::Name("ALLOWED.test."), echo4.addr.port()),
        (SocksTarget::V4([127, 0, 0, 1]), echo4.addr.port()),
        (
            SocksTarget::V6(std::net::Ipv6Addr::LOCALHOST.octets()),
            echo6.addr.port(),
        ),
    ];
    for (target, port) in cases {
        let (code, mut stream) = socks_request(p.socks, CONNECT, target, port).await;
        assert_eq!(code, Some(0));
        echo_roundtrip(&mut stream, b"through socks").await;
    }
    let targets: Vec<String> = p.events().into_iter().map(|e| e.target).collect();
    assert_eq!(
        targets,
        vec![
            format!("allowed.test:{}", echo4.addr.port()),
            format!("allowed.test:{}", echo4.addr.port()),
            format!("127.0.0.1:{}", echo4.addr.port()),
            format!("[::1]:{}", echo6.addr.port()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_answer_0x02_and_never_resolve_or_connect() {
    let echo = echo().await;
    let port = echo.addr.port();
    let p = start(
        rules(&["allowed.test", "**.allowed.test"])
            .denying(pattern("denied.allowed.test"))
            .with_ports(ports(&[port])),
    );
    for (target, port) in [
        (SocksTarget::Name("other.test"), port),
        (SocksTarget::Name("denied.allowed.test"), port),
        (SocksTarget::Name("allowed.test"), 1),
        (SocksTarget::V4([127, 0, 0, 2]), port),
        (SocksTarget::V4([10, 0, 0, 1]), port),
        (SocksTarget::Name("0x7f.0.0.2"), port),
        (
            SocksTarget::V6(
                "::ffff:127.0.0.2"
                    .parse::<std::net::Ipv6Addr>()
                    .unwrap()
                    .octets(),
            ),
            port,
        ),
    ] {
        let (code, mut stream) = socks_request(p.socks, CONNECT, target, port).await;
        assert_eq!(code, Some(0x02));
        assert!(closed_by_peer(&mut stream).await);
    }
    assert_eq!(echo.accepted(), 0);
    assert!(p.resolved().is_empty(), "{:?}", p.resolved());
    let reasons: Vec<String> = p
        .events()
        .into_iter()
        .map(|e| e.reason.unwrap_or_default())
        .collect();
    assert!(reasons[0].starts_with("not_allowed:"), "{reasons:?}");
    assert!(reasons[1].starts_with("denied:"), "{reasons:?}");
    assert!(reasons[2].starts_with("port_not_allowed:"), "{reasons:?}");
    for r in &reasons[3..] {
        assert!(r.starts_with("not_allowed_local:"), "{reasons:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bind_and_udp_associate_are_not_supported() {
    let p = start(rules(&["*"]));
    for command in [BIND, UDP_ASSOCIATE, 0x09] {
        let (code, _) = socks_request(p.socks, command, SocksTarget::V4([127, 0, 0, 1]), 80).await;
        assert_eq!(code, Some(0x07), "command {command}");
    }
    let events = p.events();
    assert_eq!(events.len(), 3, "{events:#?}");
    for (event, command) in events.iter().zip([BIND, UDP_ASSOCIATE, 0x09]) {
        assert_malformed(event, "127.0.0.1:80");
        let reason = event.reason.as_deref().unwrap();
        assert!(
            reason.contains(&format!("command 0x{command:02x} not supported")),
            "{reason}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_address_type_is_0x08() {
    let p = start(rules(&["*"]));
    let mut stream = connect(p.socks).await;
    stream.write_all(&[5, 1, 0]).await.unwrap();
    let mut method = [0u8; 2];
    stream.read_exact(&mut method).await.unwrap();
    stream
        .write_all(&[5, 1, 0, 9, 1, 2, 3, 4, 0, 80])
        .await
        .unwrap();
    assert_eq!(read_socks_reply(&mut stream).await, Some(0x08));
    assert_malformed(&p.single_event(), "unknown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_acceptable_method_is_0xff() {
    let p = start(rules(&["*"]));
    let mut stream = connect(p.socks).await;
    // Username/password and GSSAPI only.
    stream.write_all(&[5, 2, 2, 1]).await.unwrap();
    let mut answer = [0u8; 2];
    stream.read_exact(&mut answer).await.unwrap();
    assert_eq!(answer, [5, 0xff]);
    assert!(closed_by_peer(&mut stream).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_versions_are_closed_without_an_answer() {
    let p = start(rules(&["*"]));
    // SOCKS4 CONNECT to 127.0.0.1:80.
    let mut stream = connect(p.socks).await;
    stream
        .write_all(&[4, 1, 0, 80, 127, 0, 0, 1, b'u', 0])
        .await
        .unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert_eq!(n, 0, "answered {:?}", &buf[..n]);
    // A SOCKS5 greeting, then a request of another version.
    let mut stream = connect(p.socks).await;
    stream.write_all(&[5, 1, 0]).await.unwrap();
    let mut method = [0u8; 2];
    stream.read_exact(&mut method).await.unwrap();
    stream
        .write_all(&[4, 1, 0, 1, 127, 0, 0, 1, 0, 80])
        .await
        .unwrap();
    assert_eq!(read_socks_reply(&mut stream).await, Some(0x01));
    // Neither named a destination: one event each (one per connection).
    let events = p.events();
    assert_eq!(events.len(), 2, "{events:#?}");
    for event in &events {
        assert_malformed(event, "unknown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_failure_is_0x04_and_refused_connection_0x05() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = start(rules(&["**.allowed.test"]));
    let (code, _) = socks_request(
        p.socks,
        CONNECT,
        SocksTarget::Name("nowhere.allowed.test"),
        80,
    )
    .await;
    assert_eq!(code, Some(0x04));
    let (code, _) = socks_request(p.socks, CONNECT, SocksTarget::Name("allowed.test"), port).await;
    assert_eq!(code, Some(0x05));
    // Not a host name at all.
    let (code, _) = socks_request(p.socks, CONNECT, SocksTarget::Name("bad name%00"), 80).await;
    assert_eq!(code, Some(0x04));
    // A name that does not resolve is not decided (nothing logged); the
    // allowed one is; the last is a malformed request.
    let events = p.events();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_malformed(&events[1], "bad\\x20name%00:80");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let p = start_with(
        rules(&["*"]),
        Options {
            hard: HardLimits {
                handshake_timeout: Duration::from_millis(300),
                ..HardLimits::default()
            },
            ..Options::default()
        },
    );
    let mut stream = connect(p.socks).await;
    stream.write_all(&[5, 1]).await.unwrap(); // the method list never comes
    assert!(closed_by_peer(&mut stream).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_with_socks5_hostname() {
    let mut up = upstream(Behavior::Answer).await;
    let p = start(rules(&["allowed.test"]));
    let proxy = format!("{}", p.socks);
    let url = format!("http://allowed.test:{}/via-socks", up.addr.port());
    let Some(out) = curl(&["--socks5-hostname", &proxy, &url]).await else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "upstream saw /via-socks"
    );
    assert_eq!(up.next_seen().await.request_line, "GET /via-socks HTTP/1.1");
    // The name reached the proxy, not a local resolver.
    assert_eq!(p.resolved(), vec!["allowed.test".to_owned()]);

    let refused = format!("http://other.test:{}/", up.addr.port());
    let Some(out) = curl(&["--socks5-hostname", &proxy, &refused]).await else {
        return;
    };
    assert!(!out.status.success(), "{out:?}");
}
