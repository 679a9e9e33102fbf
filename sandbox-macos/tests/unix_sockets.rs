//! The unix-socket map: none, allowed by name (bind and connect at or
//! beneath each path), or all; under a full network too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_policy_model::{Protection, ProtectionStatus, SandboxPolicy};
use codex_sandbox_macos::{SeatbeltNetwork, UnixSockets};
use common::{Fixture, check_profile, param, workspace};

const BIND_ALL: &str = "(allow network-bind (local unix-socket))";
const CONNECT_ALL: &str = "(allow network-outbound (remote unix-socket))";

#[test]
fn none_allows_no_socket() {
    let f = Fixture::new();
    let p = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .build()
        .expect("profile");
    let t = p.text();
    assert!(
        !t.contains("(local unix-socket") && !t.contains("(remote unix-socket"),
        "{t}"
    );
    assert!(!t.contains("(allow network"), "{t}");
    assert!(matches!(
        p.report().status(Protection::PathSocketIsolation),
        Some(ProtectionStatus::Enforced { .. })
    ));
}

#[test]
fn allowed_sockets_get_a_bind_and_a_connect_rule_each() {
    let f = Fixture::new();
    let a = f.root.join("a.sock");
    let dir = f.mkdir("sockets");
    let p = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .unix_sockets(UnixSockets::Allow(vec![a.clone(), dir.clone()]))
        .build()
        .expect("profile");
    check_profile(&p);
    assert_eq!(param(&p, "UNIX_SOCKET_0"), Some(&a.into_os_string()));
    assert_eq!(param(&p, "UNIX_SOCKET_1"), Some(&dir.into_os_string()));
    for name in ["UNIX_SOCKET_0", "UNIX_SOCKET_1"] {
        assert!(p.text().contains(&format!(
            "(allow network-bind (local unix-socket (subpath (param \"{name}\"))))"
        )));
        assert!(p.text().contains(&format!(
            "(allow network-outbound (remote unix-socket (subpath (param \"{name}\"))))"
        )));
    }
    assert!(!p.text().contains(BIND_ALL) && !p.text().contains(CONNECT_ALL));
}

#[test]
fn a_linked_socket_is_allowed_at_its_target_too() {
    let f = Fixture::new();
    let target = f.mkdir("real");
    let link = f.root.join("link");
    std::os::unix::fs::symlink(&target, &link).expect("symlink");
    let p = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .unix_sockets(UnixSockets::Allow(vec![link.clone()]))
        .build()
        .expect("profile");
    assert_eq!(param(&p, "UNIX_SOCKET_0"), Some(&link.into_os_string()));
    assert_eq!(param(&p, "UNIX_SOCKET_1"), Some(&target.into_os_string()));
}

#[test]
fn allow_all_is_one_broad_pair_of_rules() {
    let f = Fixture::new();
    let p = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .unix_sockets(UnixSockets::AllowAll)
        .build()
        .expect("profile");
    assert!(p.text().contains(BIND_ALL) && p.text().contains(CONNECT_ALL));
    assert!(
        p.parameters()
            .iter()
            .all(|(n, _)| !n.starts_with("UNIX_SOCKET"))
    );
    // Unix sockets only: IP stays closed.
    assert!(!p.text().contains("(allow network*)"));
    assert!(!p.text().contains("(remote tcp"));
}

#[test]
fn full_network_keeps_unix_sockets_confined_unless_all() {
    let f = Fixture::new();
    let p = f
        .builder(&workspace(vec![], true), &f.root)
        .build()
        .expect("profile");
    let t = p.text();
    let allow = t.find("(allow network*)").expect("full network");
    let deny = t
        .find("(deny network-outbound (remote unix-socket))")
        .expect("deny after");
    assert!(allow < deny, "the deny must come after the broad allow");
    assert!(t.contains("(deny network-bind (local unix-socket))"));

    let sock = f.root.join("x.sock");
    let p = f
        .builder(&workspace(vec![], true), &f.root)
        .unix_sockets(UnixSockets::Allow(vec![sock]))
        .build()
        .expect("profile");
    let t = p.text();
    let deny = t
        .find("(deny network-outbound (remote unix-socket))")
        .expect("deny");
    let allow = t
        .find("(allow network-outbound (remote unix-socket (subpath (param \"UNIX_SOCKET_0\"))))")
        .expect("allowed one");
    assert!(deny < allow, "the named socket must come after the deny");

    let p = f
        .builder(&workspace(vec![], true), &f.root)
        .unix_sockets(UnixSockets::AllowAll)
        .build()
        .expect("profile");
    assert!(
        !p.text()
            .contains("(deny network-outbound (remote unix-socket))")
    );
}

#[test]
fn proxy_allows_only_the_two_ports() {
    let f = Fixture::new();
    let p = f
        .builder(&workspace(vec![], false), &f.root)
        .network(SeatbeltNetwork::Proxy {
            http: 3128,
            socks: 1080,
        })
        .build()
        .expect("profile");
    let t = p.text();
    let outbound: Vec<&str> = t
        .lines()
        .filter(|l| l.starts_with("(allow network"))
        .collect();
    assert_eq!(
        outbound,
        [
            "(allow network-outbound (remote tcp \"localhost:3128\")) ; HTTP proxy",
            "(allow network-outbound (remote tcp \"localhost:1080\")) ; SOCKS5 proxy",
        ]
    );
    assert!(!t.contains("mDNSResponder") && !t.contains("network-inbound"));
}
