//! A filtered network fails closed: without the namespaces it is made of,
//! a strict sandbox refuses (125, the reason named) and a best-effort one
//! keeps the network off — never open — and says the egress proxy is not
//! reachable; a policy that has the network ignores the option; unusable
//! ports are refused.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;

use codex_policy_model::{EgressPorts, Protection, ProtectionStatus, SandboxPolicy};
use codex_sandbox_linux::{Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError};
use common::{bash, has_pending, host_tcp_server, skip, tcp_probe, text, unusable_host};

fn described(namespaces: bool) -> HostCapabilities {
    HostCapabilities::assumed("6.12.0-described")
        .with_landlock_abi(Some(6))
        .with_seccomp(true)
        .with_seccomp_user_notification(true)
        .with_namespaces(Some(namespaces))
}

fn network_status(report: &codex_policy_model::EnforcementReport) -> ProtectionStatus {
    report.status(Protection::NetworkSockets).cloned().unwrap()
}

#[test]
fn plan_with_namespaces_filters_the_network() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    // ABI 6 has the abstract-unix scope, ABI 4 does not: the filtered
    // network's own namespace provides it there.
    for abi in [6, 4] {
        let host = described(true).with_landlock_abi(Some(abi));
        let ports = EgressPorts {
            http: 8080,
            socks: 9050,
        };
        let sandbox = LinuxSandbox::with_host(Compatibility::Strict, host).filtered_network(ports);
        let plan = sandbox
            .plan(&SandboxPolicy::workspace_write(false), dir.path(), None)
            .unwrap();
        assert!(plan.report.is_complete(), "ABI {abi}: {}", plan.report);
        match network_status(&plan.report) {
            ProtectionStatus::Enforced { by } => {
                assert!(by.starts_with("filtered network"), "{by}");
                assert!(
                    by.contains("127.0.0.1:8080") && by.contains(":9050"),
                    "{by}"
                );
            }
            other => panic!("ABI {abi}: {other:?}"),
        }
        assert!(matches!(
            plan.report.status(Protection::AbstractUnixIsolation),
            Some(ProtectionStatus::Enforced { .. })
        ));
    }
}

#[test]
fn strict_without_namespaces_refuses() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sandbox = LinuxSandbox::with_host(Compatibility::Strict, described(false))
        .filtered_network(EgressPorts::default());
    for policy in [
        SandboxPolicy::workspace_write(false),
        SandboxPolicy::read_only(),
    ] {
        let err = sandbox.plan(&policy, dir.path(), None).unwrap_err();
        assert!(
            matches!(err, LinuxSandboxError::FilteredNetworkUnavailable { .. }),
            "{err:?}"
        );
        assert_eq!(err.exit_status(), 125);
        assert!(
            err.to_string()
                .contains("the filtered network needs user and network namespaces"),
            "{err}"
        );
    }
}

#[test]
fn best_effort_without_namespaces_keeps_the_network_off() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, described(false))
        .filtered_network(EgressPorts::default());
    let plan = sandbox
        .plan(&SandboxPolicy::workspace_write(false), &cwd, None)
        .unwrap();
    match network_status(&plan.report) {
        ProtectionStatus::Enforced { by } => {
            assert!(by.starts_with("seccomp"), "{by}");
            assert!(
                by.contains("the egress proxy is not reachable, the network is off"),
                "{by}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Without seccomp either, the line still says the network is meant off.
    let bare = LinuxSandbox::with_host(
        Compatibility::BestEffort,
        described(false).with_seccomp(false),
    )
    .filtered_network(EgressPorts::default());
    let bare_plan = bare
        .plan(&SandboxPolicy::workspace_write(false), &cwd, None)
        .unwrap();
    match network_status(&bare_plan.report) {
        ProtectionStatus::NotEnforced { reason } => {
            assert!(
                reason.contains("the egress proxy is not reachable"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Started for real on this host (its layers but the namespaces): the
    // network is off, as without the option.
    if let Some(reason) = unusable_host() {
        return skip("best_effort_without_namespaces (start)", &reason);
    }
    let probed = HostCapabilities::probe(true).with_namespaces(Some(false));
    let sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, probed)
        .filtered_network(EgressPorts::default());
    let plan = sandbox
        .plan(&SandboxPolicy::workspace_write(false), &cwd, None)
        .unwrap();
    let prepared = sandbox.prepare(plan).unwrap();
    assert_eq!(prepared.egress_ports(), None);
    assert!(prepared.network_disabled());
    let server = host_tcp_server(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let port = server.local_addr().unwrap().port();
    let script = format!(
        "{}test \"$CODEX_SANDBOX_NETWORK_DISABLED\" = 1 && echo network-disabled",
        tcp_probe("127.0.0.1", port)
    );
    let started = prepared.spawn(&mut bash(&script)).unwrap();
    assert!(started.egress_listeners.is_none());
    let output = started.child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("refused 127.0.0.1 {port}\nnetwork-disabled\n"),
        "{}",
        text(&output)
    );
    assert!(!has_pending(&server));
}

#[test]
fn a_policy_with_the_network_ignores_the_option() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    // Even where a filtered network could not be built: nothing to filter.
    let sandbox = LinuxSandbox::with_host(Compatibility::Strict, described(false))
        .filtered_network(EgressPorts::default());
    let err = sandbox
        .plan(&SandboxPolicy::workspace_write(true), &cwd, None)
        .unwrap_err();
    assert!(
        matches!(err, LinuxSandboxError::Unenforceable { .. }),
        "only the missing namespaces themselves: {err:?}"
    );
    if let Some(reason) = unusable_host() {
        return skip("a_policy_with_the_network_ignores_the_option", &reason);
    }
    let sandbox = LinuxSandbox::new().filtered_network(EgressPorts::default());
    let plan = sandbox
        .plan(&SandboxPolicy::workspace_write(true), &cwd, None)
        .unwrap();
    assert_eq!(network_status(&plan.report), ProtectionStatus::NotNeeded);
    let prepared = sandbox.prepare(plan).unwrap();
    assert_eq!(prepared.egress_ports(), None);
    assert!(!prepared.network_disabled());
    let server = host_tcp_server(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let port = server.local_addr().unwrap().port();
    let started = prepared
        .spawn(&mut bash(&tcp_probe("127.0.0.1", port)))
        .unwrap();
    assert!(started.egress_listeners.is_none());
    let output = started.child.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        format!("reached 127.0.0.1 {port}\n"),
        "{}",
        text(&output)
    );
}

#[test]
fn unusable_ports_are_refused() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    for ports in [
        EgressPorts {
            http: 3128,
            socks: 3128,
        },
        EgressPorts {
            http: 0,
            socks: 1080,
        },
    ] {
        let sandbox =
            LinuxSandbox::with_host(Compatibility::Strict, described(true)).filtered_network(ports);
        let err = sandbox
            .plan(&SandboxPolicy::read_only(), dir.path(), None)
            .unwrap_err();
        assert!(
            matches!(err, LinuxSandboxError::InvalidEgressPorts { .. }),
            "{err:?}"
        );
        assert_eq!(err.exit_status(), 125);
    }
}
