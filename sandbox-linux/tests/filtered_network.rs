//! A filtered network, started with `spawn`: the command reaches the egress
//! proxy's two listeners on its own loopback and nothing else — not the
//! host's loopback (TCP over IPv4 and IPv6, UDP), not the host's other
//! interfaces; it sees only `lo`, holds no capability, is not told the
//! network is off, and holds no listener itself; concurrent sandboxes each
//! have their own namespace and listeners on the same ports.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::net::{Ipv6Addr, SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Barrier};

use codex_policy_model::{EgressPorts, Protection, ProtectionStatus, SandboxPolicy};
use codex_sandbox_linux::{LinuxSandbox, PreparedSandbox};
use common::{
    bash, cloexec, echo_once, has_pending, host_address, host_tcp_server, host_udp_socket,
    interfaces, run_with_proxy, skip, tcp_probe, text, unusable_host,
};

fn workspace() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let path = dir.path().canonicalize().unwrap();
    (dir, path)
}

fn prepare(cwd: &std::path::Path) -> PreparedSandbox {
    let sandbox = LinuxSandbox::new().filtered_network(EgressPorts::default());
    let plan = sandbox
        .plan(&SandboxPolicy::workspace_write(false), cwd, None)
        .unwrap();
    sandbox.prepare(plan).unwrap()
}

#[test]
fn the_command_reaches_the_egress_listeners_from_a_spawning_thread() {
    if let Some(reason) = unusable_host() {
        return skip("reaches_the_egress_listeners", &reason);
    }
    let (_dir, cwd) = workspace();
    let prepared = Arc::new(prepare(&cwd));
    assert_eq!(prepared.egress_ports(), Some(EgressPorts::default()));
    assert!(!prepared.network_disabled());
    let status = prepared
        .report()
        .status(Protection::NetworkSockets)
        .cloned();
    match status {
        Some(ProtectionStatus::Enforced { by }) => {
            assert!(by.contains("empty network namespace"), "{by}");
            assert!(
                by.contains("127.0.0.1:3128") && by.contains(":1080"),
                "{by}"
            );
        }
        other => panic!("expected an enforced filtered network, got {other:?}"),
    }
    assert!(prepared.report().is_complete(), "{}", prepared.report());

    // Started from a thread that is gone by the time the proxy serves.
    let spawner = Arc::clone(&prepared);
    let mut started = std::thread::spawn(move || {
        spawner
            .spawn(&mut bash(
                "exec 3<>/dev/tcp/127.0.0.1/3128; echo hi-http >&3; cat <&3; exec 3>&-\n\
                 exec 4<>/dev/tcp/127.0.0.1/1080; echo hi-socks >&4; cat <&4",
            ))
            .unwrap()
    })
    .join()
    .unwrap();
    let listeners = started.egress_listeners.take().expect("the listeners");
    // Handed out close-on-exec: the caller's other children do not get them.
    assert!(cloexec(&listeners.http) && cloexec(&listeners.socks));
    assert_eq!(
        listeners.http.local_addr().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], 3128))
    );
    assert_eq!(
        listeners.socks.local_addr().unwrap(),
        SocketAddr::from(([127, 0, 0, 1], 1080))
    );
    let http = echo_once(listeners.http);
    let socks = echo_once(listeners.socks);
    let output = started.child.wait_with_output().unwrap();
    assert_eq!(http.join().unwrap().as_deref(), Ok("hi-http\n"));
    assert_eq!(socks.join().unwrap().as_deref(), Ok("hi-socks\n"));
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hi-http\nhi-socks\n"
    );
}

#[test]
fn the_host_is_out_of_reach() {
    if let Some(reason) = unusable_host() {
        return skip("the_host_is_out_of_reach", &reason);
    }
    let (_dir, cwd) = workspace();
    let prepared = prepare(&cwd);
    // Servers of the host, each checked reachable from the host first.
    let v4 = host_tcp_server(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let v4_port = v4.local_addr().unwrap().port();
    let mut script = tcp_probe("127.0.0.1", v4_port);
    let v6 = host_tcp_server(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)));
    match &v6 {
        Some(server) => script += &tcp_probe("::1", server.local_addr().unwrap().port()),
        None => skip(
            "the_host_is_out_of_reach (::1)",
            "the host has no IPv6 loopback",
        ),
    }
    let outer = host_address().and_then(|ip| {
        let server = host_tcp_server(SocketAddr::V4(SocketAddrV4::new(ip, 0)))?;
        Some((ip, server))
    });
    match &outer {
        Some((ip, server)) => {
            script += &tcp_probe(&ip.to_string(), server.local_addr().unwrap().port());
        }
        None => skip(
            "the_host_is_out_of_reach (other interface)",
            "the host has no IPv4 address outside 127/8",
        ),
    }
    let udp = host_udp_socket();
    let udp_port = udp.local_addr().unwrap().port();
    script += &format!(
        "echo udp-probe > /dev/udp/127.0.0.1/{udp_port} 2>/dev/null; \
         echo udp-probe > /dev/udp/127.0.0.1/{udp_port} 2>/dev/null; true\n"
    );
    if let Some((ip, _)) = &outer {
        script += &format!("echo udp-probe > /dev/udp/{ip}/{udp_port} 2>/dev/null; true\n");
    }

    let mut started = prepared.spawn(&mut bash(&script)).unwrap();
    // Held, not served: a connection to them would wait, not be refused.
    let _listeners = started.egress_listeners.take().unwrap();
    let output = started.child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", text(&output));
    assert!(!stdout.contains("reached"), "{}", text(&output));
    let expected = 1 + usize::from(v6.is_some()) + usize::from(outer.is_some());
    assert_eq!(
        stdout.matches("refused").count(),
        expected,
        "{}",
        text(&output)
    );
    assert!(
        !has_pending(&v4),
        "a connection reached the host's loopback"
    );
    if let Some(v6) = &v6 {
        assert!(!has_pending(v6), "a connection reached the host's ::1");
    }
    if let Some((_, server)) = &outer {
        assert!(!has_pending(server), "a connection reached the host");
    }
    udp.set_read_timeout(Some(std::time::Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 64];
    let received = udp.recv_from(&mut buf);
    assert!(
        received.is_err(),
        "a datagram from the sandbox reached the host: {received:?}"
    );
}

#[test]
fn the_command_sees_an_empty_namespace_and_holds_nothing_of_it() {
    if let Some(reason) = unusable_host() {
        return skip("the_command_sees_an_empty_namespace", &reason);
    }
    let (_dir, cwd) = workspace();
    let prepared = prepare(&cwd);
    let ip =
        std::path::Path::new("/usr/sbin/ip").exists() || std::path::Path::new("/sbin/ip").exists();
    let script = format!(
        "cat /proc/net/dev; echo @@\n\
         {}echo @@\n\
         grep CapEff /proc/self/status; echo @@\n\
         env; echo @@\n\
         ls -l /proc/self/fd; echo @@\n\
         readlink /proc/self/ns/net\n\
         exec 3<>/dev/tcp/127.0.0.1/3128; echo done >&3; cat <&3 >/dev/null\n\
         exec 4<>/dev/tcp/127.0.0.1/1080; echo done >&4; cat <&4 >/dev/null\n",
        if ip {
            "PATH=/usr/sbin:/sbin:$PATH ip -o link\n"
        } else {
            ""
        }
    );
    let (output, http, socks) = run_with_proxy(&prepared, &mut bash(&script));
    assert!(output.status.success(), "{}", text(&output));
    assert!(http.is_ok() && socks.is_ok(), "{http:?} {socks:?}");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let parts: Vec<&str> = stdout.split("@@\n").collect();
    assert_eq!(parts.len(), 6, "{stdout}");
    assert_eq!(interfaces(parts[0]), ["lo"], "{}", parts[0]);
    if ip {
        let links: Vec<&str> = parts[1].lines().collect();
        assert_eq!(links.len(), 1, "{}", parts[1]);
        assert!(links[0].starts_with("1: lo:"), "{}", parts[1]);
        assert!(links[0].contains("UP"), "lo is up: {}", parts[1]);
    } else {
        skip(
            "the_command_sees_an_empty_namespace (ip link)",
            "no `ip` here",
        );
    }
    assert_eq!(parts[2].trim(), "CapEff:\t0000000000000000");
    assert!(
        !parts[3].contains("CODEX_SANDBOX_NETWORK_DISABLED"),
        "{}",
        parts[3]
    );
    // Only stdio (null, pipes) and ls's own directory: no socket.
    assert!(!parts[4].contains("socket:"), "{}", parts[4]);
    let host_net = std::fs::read_link("/proc/self/ns/net").unwrap();
    assert_ne!(parts[5].trim(), host_net.to_string_lossy(), "{stdout}");
}

#[test]
fn concurrent_sandboxes_each_have_their_own_listeners_on_the_same_ports() {
    if let Some(reason) = unusable_host() {
        return skip("concurrent_sandboxes", &reason);
    }
    let (_dir, cwd) = workspace();
    let prepared = Arc::new(prepare(&cwd));
    const SANDBOXES: usize = 3;
    let barrier = Arc::new(Barrier::new(SANDBOXES));
    // Every sandbox is started (its listeners bound on 3128 and 1080) before
    // any command goes on: they all exist at once.
    let started: Vec<_> = (0..SANDBOXES)
        .map(|i| {
            let (prepared, barrier) = (Arc::clone(&prepared), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                let mut command = bash(&format!(
                    "read go; readlink /proc/self/ns/net\n\
                     exec 3<>/dev/tcp/127.0.0.1/3128; echo sandbox-{i} >&3; cat <&3"
                ));
                command.stdin(Stdio::piped());
                prepared.spawn(&mut command).unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    let mut servers = Vec::new();
    let mut children = Vec::new();
    for mut sandbox in started {
        let listeners = sandbox.egress_listeners.take().unwrap();
        servers.push(echo_once(listeners.http));
        let stdin = sandbox.child.stdin.take().unwrap();
        children.push((sandbox.child, stdin));
    }
    let mut outputs = Vec::new();
    for (child, mut stdin) in children {
        writeln!(stdin, "go").unwrap();
        drop(stdin);
        outputs.push(child.wait_with_output().unwrap());
    }
    let mut namespaces = Vec::new();
    for (i, (output, server)) in outputs.iter().zip(servers).enumerate() {
        assert!(output.status.success(), "{i}: {}", text(output));
        // Each sandbox's connection went to its own listener.
        assert_eq!(server.join().unwrap(), Ok(format!("sandbox-{i}\n")));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let mut lines = stdout.lines();
        namespaces.push(lines.next().unwrap().to_owned());
        assert_eq!(lines.next(), Some(format!("sandbox-{i}").as_str()));
    }
    namespaces.sort();
    namespaces.dedup();
    assert_eq!(namespaces.len(), SANDBOXES, "{namespaces:?}");
}

/// The namespace is the boundary: TCP and route netlink sockets open (and
/// find only the namespace), raw and packet sockets need capabilities the
/// command lacks, and families that reach past a network namespace (vsock
/// to a hypervisor) or other netlink protocols are refused by seccomp.
#[test]
fn only_socket_families_the_namespace_confines_open() {
    if let Some(reason) = unusable_host() {
        return skip("only_socket_families_the_namespace_confines_open", &reason);
    }
    if !std::path::Path::new("/usr/bin/perl").exists() {
        return skip(
            "only_socket_families_the_namespace_confines_open",
            "no /usr/bin/perl",
        );
    }
    let (_dir, cwd) = workspace();
    let prepared = prepare(&cwd);
    // (family, type, protocol, name): AF_INET 2, AF_NETLINK 16, AF_PACKET
    // 17, AF_VSOCK 40; SOCK_STREAM 1, SOCK_DGRAM 2, SOCK_RAW 3.
    let probe = r#"/usr/bin/perl -e 'for my $t ([2,1,0,"tcp"],[2,2,0,"udp"],[16,3,0,"netlink-route"],[2,3,1,"raw-icmp"],[17,3,0,"packet"],[40,1,0,"vsock"],[16,3,9,"netlink-audit"]) { if (socket(my $s, $t->[0], $t->[1], $t->[2])) { print "open $t->[3]\n" } else { print "refused $t->[3]\n" } }'"#;
    let mut started = prepared.spawn(&mut bash(probe)).unwrap();
    let _listeners = started.egress_listeners.take().unwrap();
    let output = started.child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "open tcp\nopen udp\nopen netlink-route\nrefused raw-icmp\nrefused packet\n\
         refused vsock\nrefused netlink-audit\n",
        "{}",
        text(&output)
    );
}
