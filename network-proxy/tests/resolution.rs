//! Names are resolved once, only when allowed, and every address must pass:
//! DNS rebinding, no DNS leak for refused names, localhost never resolved.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_network_proxy::{Resolver, SystemResolver};
use codex_policy_model::IpRule;
use codex_policy_model::effective::EgressRules;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_name_resolving_to_a_local_address_is_refused() {
    let echo = echo().await;
    let port = echo.addr.port();
    // No ip_allow: rebind.test -> 127.0.0.1 is a rebinding attempt.
    let p = start(rules_no_ip_allow(&["rebind.test", "v6.test"]));
    get(p.http, &format!("rebind.test:{port}"), "/")
        .await
        .assert_blocked(403, "deny", "not_allowed_local");
    let (reply, _) = connect_tunnel(p.http, &format!("rebind.test:{port}")).await;
    reply.assert_blocked(403, "deny", "not_allowed_local");
    let (code, _) = socks_request(p.socks, 1, SocksTarget::Name("rebind.test"), port).await;
    assert_eq!(code, Some(0x02));
    let (reply, _) = connect_tunnel(p.http, &format!("v6.test:{port}")).await;
    reply.assert_blocked(403, "deny", "not_allowed_local");
    assert_eq!(echo.accepted(), 0);
    // Resolved once per attempt, never again.
    assert_eq!(
        p.resolved(),
        vec!["rebind.test", "rebind.test", "rebind.test", "v6.test"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_resolved_address_must_pass_not_only_the_first() {
    let echo = echo().await;
    // mixed.test -> 127.0.0.1 (in ip_allow) and 127.0.0.2 (not).
    let p = start(rules(&["mixed.test"]));
    let (reply, _) = connect_tunnel(p.http, &format!("mixed.test:{}", echo.addr.port())).await;
    reply.assert_blocked(403, "deny", "not_allowed_local");
    assert_eq!(echo.accepted(), 0);
    // With the whole of 127/8 allowed it goes through, to the first address.
    let q =
        start(rules(&["mixed.test"]).with_ip_allow(vec!["127.0.0.0/8".parse::<IpRule>().unwrap()]));
    let (reply, mut s) = connect_tunnel(q.http, &format!("mixed.test:{}", echo.addr.port())).await;
    assert_eq!(reply.status, 200);
    echo_roundtrip(&mut s, b"ok").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denied_address_is_refused_whatever_name_leads_to_it() {
    let echo = echo().await;
    let p = start(rules(&["allowed.test"]).denying(pattern("127.0.0.1")));
    let (reply, _) = connect_tunnel(p.http, &format!("allowed.test:{}", echo.addr.port())).await;
    reply.assert_blocked(403, "deny", "denied");
    assert_eq!(echo.accepted(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_names_are_never_resolved() {
    let echo = echo().await;
    let port = echo.addr.port();
    let p = start(
        rules(&["allowed.test"])
            .denying(pattern("other.test"))
            .with_ports(ports(&[port])),
    );
    let _ = connect_tunnel(p.http, &format!("other.test:{port}")).await;
    let _ = connect_tunnel(p.http, &format!("monitor.test:{port}")).await;
    let _ = connect_tunnel(p.http, &format!("allowed.test:{}", port.wrapping_add(1))).await;
    let _ = socks_request(p.socks, 1, SocksTarget::Name("slow.test"), port).await;
    let _ = get(p.http, &format!("denied.test:{port}"), "/").await;
    assert!(p.resolved().is_empty(), "DNS leak: {:?}", p.resolved());
    let (reply, _) = connect_tunnel(p.http, &format!("allowed.test:{port}")).await;
    assert_eq!(reply.status, 200);
    assert_eq!(p.resolved(), vec!["allowed.test"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_is_connected_to_directly_never_resolved() {
    let echo = echo().await;
    let port = echo.addr.port();
    for rules in [
        EgressRules::open().with_loopback(true),
        rules_no_ip_allow(&["localhost"]),
    ] {
        let p = start(rules);
        let (reply, mut s) = connect_tunnel(p.http, &format!("localhost:{port}")).await;
        assert_eq!(reply.status, 200, "{reply:#?}");
        echo_roundtrip(&mut s, b"local").await;
        let (code, mut s) = socks_request(p.socks, 1, SocksTarget::Name("LocalHost."), port).await;
        assert_eq!(code, Some(0));
        echo_roundtrip(&mut s, b"local").await;
        assert!(p.resolved().is_empty(), "{:?}", p.resolved());
    }
    // `*` does not name localhost.
    let p = start(rules(&["*"]));
    let (reply, _) = connect_tunnel(p.http, &format!("localhost:{port}")).await;
    reply.assert_blocked(403, "deny", "not_allowed_local");
    // A denied loopback address covers localhost.
    let p = start(
        EgressRules::open()
            .with_loopback(true)
            .denying(pattern("127.0.0.1")),
    );
    let (reply, _) = connect_tunnel(p.http, &format!("localhost:{port}")).await;
    reply.assert_blocked(403, "deny", "denied");
    assert!(p.resolved().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn localhost_tries_ipv4_then_ipv6() {
    // Only ::1 listens: 127.0.0.1 refuses, the next address answers.
    let echo = echo_on("[::1]:0").await;
    let p = start(EgressRules::open().with_loopback(true));
    let (reply, mut s) = connect_tunnel(p.http, &format!("localhost:{}", echo.addr.port())).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    echo_roundtrip(&mut s, b"v6").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loopback_literals_need_loopback_or_ip_allow() {
    let echo = echo().await;
    let port = echo.addr.port();
    let p = start(rules_no_ip_allow(&["*"]));
    for literal in [
        "127.0.0.1",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
        "[::ffff:127.0.0.1]",
    ] {
        let (reply, _) = connect_tunnel(p.http, &format!("{literal}:{port}")).await;
        reply.assert_blocked(403, "deny", "not_allowed_local");
    }
    assert_eq!(echo.accepted(), 0);
    let q = start(rules(&["*"]));
    for literal in ["127.0.0.1", "127.1", "[::ffff:127.0.0.1]"] {
        let (reply, mut s) = connect_tunnel(q.http, &format!("{literal}:{port}")).await;
        assert_eq!(reply.status, 200, "{literal}: {reply:#?}");
        echo_roundtrip(&mut s, literal.as_bytes()).await;
    }
    assert!(p.resolved().is_empty() && q.resolved().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_resolver_reads_the_hosts_file() {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    if !hosts.lines().any(|l| {
        !l.trim_start().starts_with('#') && l.split_whitespace().skip(1).any(|n| n == "localhost")
    }) {
        println!("SKIPPED: /etc/hosts does not name localhost");
        return;
    }
    let ips = SystemResolver.resolve("localhost", 80).await.unwrap();
    assert!(
        !ips.is_empty() && ips.iter().all(|ip| ip.is_loopback()),
        "{ips:?}"
    );
}

/// A service on the host bound to the unspecified address answers on every
/// address of the host's interfaces: none of them may be reached through
/// the proxy, unless listed exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hosts_own_addresses_are_refused_as_local() {
    let found = host_interface_addresses();
    let Some(&v4) = found.iter().find(|ip| ip.is_ipv4()) else {
        println!("SKIPPED: this host has no non-loopback IPv4 address ({found:?})");
        return;
    };
    let v6 = found.iter().copied().find(|ip| ip.is_ipv6());
    for ip in std::iter::once(v4).chain(v6) {
        // Whether the address is also in a local range: then the host check is
        // not the only thing refusing it (the unit tests of `decide` cover a
        // public host address).
        println!(
            "{ip}: also in a local or special-purpose range: {}",
            codex_network_proxy::is_local(ip)
        );
        assert!(codex_network_proxy::is_host_address(ip), "{ip}");
        let echo = if ip.is_ipv4() {
            echo_on("0.0.0.0:0").await
        } else {
            echo_on("[::]:0").await
        };
        let port = echo.addr.port();
        let literal = match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        };
        // Every public destination allowed, no ip_allow: refused by literal,
        // over both protocols, and by a name resolving to it.
        let names = move |host: &str, _: u16| -> std::io::Result<Vec<std::net::IpAddr>> {
            match host {
                "host.test" => Ok(vec![ip]),
                _ => Err(std::io::Error::new(std::io::ErrorKind::NotFound, "unknown")),
            }
        };
        let p = codex_network_proxy::EgressProxy::builder(rules_no_ip_allow(&["*"]))
            .resolver(names)
            .start()
            .unwrap();
        let (http, socks) = p
            .bind(
                "127.0.0.1:0".parse().unwrap(),
                "127.0.0.1:0".parse().unwrap(),
            )
            .unwrap();
        let (reply, _) = connect_tunnel(http, &format!("{literal}:{port}")).await;
        reply.assert_blocked(403, "deny", "not_allowed_local");
        let target = match ip {
            std::net::IpAddr::V4(v4) => SocksTarget::V4(v4.octets()),
            std::net::IpAddr::V6(v6) => SocksTarget::V6(v6.octets()),
        };
        let (code, _) = socks_request(socks, 1, target, port).await;
        assert_eq!(code, Some(0x02));
        let (reply, _) = connect_tunnel(http, &format!("host.test:{port}")).await;
        reply.assert_blocked(403, "deny", "not_allowed_local");
        if let std::net::IpAddr::V4(v4) = ip {
            let (reply, _) =
                connect_tunnel(http, &format!("[{}]:{port}", v4.to_ipv6_mapped())).await;
            reply.assert_blocked(403, "deny", "not_allowed_local");
        }
        assert_eq!(echo.accepted(), 0, "{ip}");

        // Listed exactly as a literal, it is reached.
        let q = start(rules_no_ip_allow(&[&ip.to_string()]));
        let (reply, mut s) = connect_tunnel(q.http, &format!("{literal}:{port}")).await;
        assert_eq!(reply.status, 200, "{ip}: {reply:#?}");
        echo_roundtrip(&mut s, b"own address").await;
        assert_eq!(echo.accepted(), 1, "{ip}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_address_needing_approval_is_asked_whatever_name_leads_to_it() {
    let echo = echo().await;
    let port = echo.addr.port();
    // allowed.test resolves to 127.0.0.1 (in ip_allow), which needs approval.
    let p = start(rules(&["allowed.test", "other.test"]).asking(pattern("127.0.0.1")));
    let (reply, _) = connect_tunnel(p.http, &format!("allowed.test:{port}")).await;
    reply.assert_blocked(403, "ask", "not_allowed");
    let (code, _) = socks_request(p.socks, 1, SocksTarget::Name("other.test"), port).await;
    assert_eq!(code, Some(0x02));
    // localhost, whose addresses are fixed, too.
    let q = start(
        EgressRules::open()
            .with_loopback(true)
            .asking(pattern("127.0.0.1")),
    );
    let (reply, _) = connect_tunnel(q.http, &format!("localhost:{port}")).await;
    reply.assert_blocked(403, "ask", "not_allowed");
    assert_eq!(echo.accepted(), 0);
    // A name that needs approval is never resolved.
    let r = start(rules(&["allowed.test"]).asking(pattern("allowed.test")));
    let (reply, _) = connect_tunnel(r.http, &format!("allowed.test:{port}")).await;
    reply.assert_blocked(403, "ask", "not_allowed");
    assert!(r.resolved().is_empty(), "{:?}", r.resolved());
}
