//! Escape suite, network: with network off nothing leaves the sandbox — TCP and
//! UDP to listeners on the host's loopback (IPv4 and IPv6), bash `/dev/tcp`, curl,
//! raw and netlink sockets. With the read-only network (`net-read-only`) the
//! command has a network namespace of its own whose only way out is the egress
//! proxy, which refuses the host's loopback: nothing reaches the listeners
//! either. With network on, the host network is unchanged. Listeners live in
//! this test process; they decide what got through.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::{TcpListener, UdpSocket};

use common::escape::{Fixture, Outcome, PROFILES, Table, skip, skip_reason};

/// The host's network, directly.
fn host_network(profile: &str) -> bool {
    matches!(profile, "workspace-net" | "trusted")
}

/// Some network: the host's, or (`net-read-only`) a namespace of its own
/// behind the egress proxy.
fn network_allowed(profile: &str) -> bool {
    host_network(profile) || profile == "net-read-only"
}

/// Accepts whatever connected while the sandboxed command ran.
fn tcp_reached(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    listener.accept().is_ok()
}

#[test]
fn network_escapes() {
    if let Some(reason) = skip_reason() {
        return skip("network_escapes", &reason);
    }
    let curl = ["/usr/bin/curl", "/bin/curl"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let ipv6 = TcpListener::bind("[::1]:0").is_ok();
    let mut table = Table::new("network");
    for profile in PROFILES {
        let fixture = Fixture::new();
        let expected = Outcome::allowed_if(host_network(profile));

        for (name, host) in [
            ("TCP to host loopback (bash /dev/tcp)", "127.0.0.1"),
            ("TCP to host loopback over IPv6", "::1"),
        ] {
            if host == "::1" && !ipv6 {
                skip("network_escapes IPv6 row", "the host has no ::1");
                continue;
            }
            let listener = TcpListener::bind((host, 0)).unwrap();
            let port = listener.local_addr().unwrap().port();
            let output = fixture.run(
                profile,
                &[],
                &format!("exec bash -c 'echo hi > /dev/tcp/{host}/{port}'"),
            );
            table.record(
                profile,
                name,
                expected,
                Outcome::allowed_if(tcp_reached(&listener)),
                &output,
            );
        }

        match curl {
            Some(curl) => {
                let listener = TcpListener::bind("127.0.0.1:0").unwrap();
                let port = listener.local_addr().unwrap().port();
                let output = fixture.run(
                    profile,
                    &[],
                    &format!("{curl} -s --max-time 1 http://127.0.0.1:{port}/ ; true"),
                );
                table.record(
                    profile,
                    "curl to host loopback",
                    expected,
                    Outcome::allowed_if(tcp_reached(&listener)),
                    &output,
                );
            }
            None => skip("network_escapes curl row", "curl is not installed"),
        }

        let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = receiver.local_addr().unwrap().port();
        let output = fixture.run(
            profile,
            &[],
            &format!("exec bash -c 'echo hi > /dev/udp/127.0.0.1/{port}'"),
        );
        receiver.set_nonblocking(true).unwrap();
        // Loopback delivery is synchronous: a datagram sent is queued by now.
        let received = receiver.recv(&mut [0u8; 16]).is_ok();
        table.record(
            profile,
            "UDP to host loopback (checked by receiver)",
            expected,
            Outcome::allowed_if(received),
            &output,
        );

        // AF_NETLINK (16), SOCK_RAW (3), NETLINK_ROUTE (0): the kernel's own
        // routing socket; any process may open one when network is on.
        let output = fixture.run(profile, &[], "perl -e 'socket(S, 16, 3, 0) or exit 1'");
        table.record(
            profile,
            "open a netlink socket",
            Outcome::allowed_if(network_allowed(profile)),
            Outcome::allowed_if(output.status.success()),
            &output,
        );

        // Raw sockets need CAP_NET_RAW on the host: only the unsandboxed profile,
        // and only as root, could open one.
        if !host_network(profile) {
            let output = fixture.run(profile, &[], "perl -e 'socket(S, 2, 3, 1) or exit 1'");
            table.record(
                profile,
                "open a raw IPv4 socket",
                Outcome::Refused,
                Outcome::allowed_if(output.status.success()),
                &output,
            );
        }

        let output = fixture.run(
            profile,
            &[],
            "test \"$CODEX_SANDBOX_NETWORK_DISABLED\" != 1",
        );
        table.record(
            profile,
            "CODEX_SANDBOX_NETWORK_DISABLED unset",
            Outcome::allowed_if(network_allowed(profile)),
            Outcome::allowed_if(output.status.success()),
            &output,
        );
    }
    table.finish();
}
