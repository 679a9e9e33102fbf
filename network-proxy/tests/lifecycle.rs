//! Starting, listening (handed-over sockets and loopback binds), stopping,
//! and the environment a child is given.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_network_proxy::{EgressProxy, ProxyError, proxy_environment};
use codex_policy_model::EgressListeners;
use codex_policy_model::effective::EgressRules;
use common::*;

#[test]
fn the_running_proxy_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<codex_network_proxy::RunningProxy>();
    shareable::<codex_network_proxy::CompiledRules>();
    fn sendable<T: Send>() {}
    sendable::<codex_network_proxy::EgressProxyBuilder>();
}

#[test]
fn bind_refuses_non_loopback_addresses() {
    let proxy = EgressProxy::builder(EgressRules::open()).start().unwrap();
    for (http, socks) in [
        ("0.0.0.0:0", "127.0.0.1:0"),
        ("127.0.0.1:0", "[::]:0"),
        ("192.0.2.1:3128", "127.0.0.1:0"),
    ] {
        let err = proxy
            .bind(http.parse().unwrap(), socks.parse().unwrap())
            .unwrap_err();
        assert!(matches!(err, ProxyError::NotLoopback { .. }), "{err}");
    }
    let (http, socks) = proxy
        .bind("127.0.0.1:0".parse().unwrap(), "[::1]:0".parse().unwrap())
        .unwrap();
    assert!(http.ip().is_loopback() && http.port() != 0);
    assert!(socks.ip().is_loopback() && socks.port() != 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_handed_over_blocking_listeners() {
    let echo = echo().await;
    let http = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let socks = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let (http_addr, socks_addr) = (http.local_addr().unwrap(), socks.local_addr().unwrap());
    let proxy = EgressProxy::builder(rules(&["allowed.test"]))
        .resolver(|_: &str, _: u16| Ok(vec![LOCALHOST]))
        .start()
        .unwrap();
    proxy.serve(EgressListeners { http, socks }).unwrap();
    let target = format!("allowed.test:{}", echo.addr.port());
    let (reply, mut s) = connect_tunnel(http_addr, &target).await;
    assert_eq!(reply.status, 200);
    echo_roundtrip(&mut s, b"http").await;
    let (code, mut s) = socks_request(
        socks_addr,
        1,
        SocksTarget::Name("allowed.test"),
        echo.addr.port(),
    )
    .await;
    assert_eq!(code, Some(0));
    echo_roundtrip(&mut s, b"socks").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_listeners_and_open_tunnels() {
    let echo = echo().await;
    let p = start(rules(&["allowed.test"]));
    let (reply, mut tunnel) =
        connect_tunnel(p.http, &format!("allowed.test:{}", echo.addr.port())).await;
    assert_eq!(reply.status, 200);
    echo_roundtrip(&mut tunnel, b"before").await;
    let idle_client = connect(p.http).await;
    p.proxy.stop();
    assert!(closed_by_peer(&mut tunnel).await);
    echo.wait_all_closed().await;
    drop(idle_client);
    assert!(
        tokio::net::TcpStream::connect(p.http).await.is_err(),
        "still listening"
    );
    assert!(
        tokio::net::TcpStream::connect(p.socks).await.is_err(),
        "still listening"
    );
    // Idempotent, and nothing starts again.
    p.proxy.stop();
    let err = p
        .proxy
        .bind(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap_err();
    assert!(matches!(err, ProxyError::Stopped), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_proxy_stops_it() {
    let p = start(rules(&["allowed.test"]));
    let http = p.http;
    drop(p);
    assert!(tokio::net::TcpStream::connect(http).await.is_err());
}

#[test]
fn the_environment_points_every_client_at_the_proxy() {
    let env = proxy_environment(
        "127.0.0.1:3128".parse().unwrap(),
        "127.0.0.1:1080".parse().unwrap(),
    );
    let get = |name: &str| {
        env.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"] {
        assert_eq!(get(name), "http://127.0.0.1:3128");
    }
    for name in ["ALL_PROXY", "all_proxy"] {
        assert_eq!(get(name), "socks5h://127.0.0.1:1080");
    }
    assert_eq!(get("NO_PROXY"), "");
    assert_eq!(get("no_proxy"), "");
    assert_eq!(env.len(), 8);
    let v6 = proxy_environment("[::1]:3128".parse().unwrap(), "[::1]:1080".parse().unwrap());
    assert_eq!(v6[0].1, "http://[::1]:3128");
}
