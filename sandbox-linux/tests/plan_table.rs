//! `plan` over described hosts: every Landlock ABI from none to 7, with and
//! without seccomp, seccomp user notification and user namespaces, for the
//! five profiles, strict and best effort. Nothing is started: the plan is a
//! pure function of the host, the policy and the working directory.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_policy_model::{EnforcementReport, Protection, ProtectionStatus, SandboxPolicy};
use codex_profiles::SecurityProfile;
use codex_sandbox_linux::{Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError};

#[derive(Debug, Clone, Copy)]
struct Host {
    abi: i32,
    seccomp: bool,
    notification: bool,
    namespaces: bool,
}

impl Host {
    fn all() -> impl Iterator<Item = Self> {
        (0..=7).flat_map(|abi| {
            (0..8).map(move |bits| Self {
                abi,
                seccomp: bits & 1 != 0,
                notification: bits & 2 != 0,
                namespaces: bits & 4 != 0,
            })
        })
    }

    fn capabilities(self) -> HostCapabilities {
        HostCapabilities::assumed("6.12.0-described")
            .with_landlock_abi((self.abi > 0).then_some(self.abi))
            .with_seccomp(self.seccomp)
            .with_seccomp_user_notification(self.notification)
            .with_namespaces(Some(self.namespaces))
    }
}

/// What each protection should be on `host` for `policy`: `None` not
/// needed, `Some(enforced)` required.
fn expected(host: Host, policy: &SandboxPolicy, protection: Protection) -> Option<bool> {
    if policy.has_full_disk_write_access() {
        return None;
    }
    let network_off = !policy.has_network_access();
    let ns = host.namespaces;
    let abi = host.abi;
    Some(match protection {
        Protection::FileWrites => abi >= 3,
        // The working directory holds a `.git`.
        Protection::ReadOnlySubpaths if policy.allows_any_write() => ns,
        Protection::ReadOnlySubpaths => return None,
        // No path is hidden in this table (see hidden_paths.rs).
        Protection::HiddenPaths => return None,
        Protection::NetworkSockets if network_off => host.seccomp,
        Protection::NetworkSockets => return None,
        Protection::SignalIsolation => abi >= 6 || ns,
        Protection::AbstractUnixIsolation => abi >= 6 || (ns && network_off),
        Protection::SyscallFilter => host.seccomp,
        Protection::NoNewPrivileges | Protection::NoCapabilities => true,
        Protection::ProcessContainment | Protection::IpcIsolation => ns,
        Protection::DeviceIsolation => ns || abi >= 5,
        Protection::PathSocketIsolation => host.seccomp && host.notification,
        other => panic!("unexpected protection {other:?}"),
    })
}

/// Each mechanism an `Enforced { by }` names exists on `host`.
fn check_mechanisms(host: Host, policy: &SandboxPolicy, protection: Protection, by: &str) {
    let what = format!("{host:?} {protection:?}: {by:?}");
    if by.contains("Landlock") {
        assert!(host.abi >= 1, "{what}");
    }
    if let Some(rest) = by.split("Landlock ABI ").nth(1) {
        let named: i32 = rest
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(named, host.abi, "{what}");
    }
    if by.contains("Landlock TCP") {
        assert!(host.abi >= 4 && !policy.has_network_access(), "{what}");
    }
    if by.contains("scope") {
        assert!(host.abi >= 6, "{what}");
    }
    if by.contains("IOCTL_DEV") {
        assert!(host.abi >= 5, "{what}");
    }
    if by.contains("seccomp") {
        assert!(host.seccomp, "{what}");
    }
    if by.contains("user notification") {
        assert!(host.seccomp && host.notification, "{what}");
    }
    if by.contains("namespace") || by.contains("private /dev") {
        assert!(host.namespaces, "{what}");
    }
    if by.contains("network namespace") {
        assert!(
            host.abi < 6 && !policy.has_network_access(),
            "an empty network namespace is used only without Landlock scopes: {what}"
        );
    }
}

fn check_report(host: Host, profile: SecurityProfile, report: &EnforcementReport) {
    let policy = profile.to_sandbox_policy();
    assert_eq!(report.protections.len(), Protection::ALL.len(), "{report}");
    for protection in Protection::ALL {
        let entries: Vec<_> = report
            .protections
            .iter()
            .filter(|p| p.protection == protection)
            .collect();
        assert_eq!(entries.len(), 1, "{protection:?} in {report}");
        let entry = entries[0];
        let context = format!("{host:?} {profile} {protection:?}: {:?}", entry.status);
        match expected(host, &policy, protection) {
            None => {
                assert!(!entry.required, "{context}");
                assert_eq!(entry.status, ProtectionStatus::NotNeeded, "{context}");
            }
            Some(enforced) => {
                assert!(entry.required, "{context}");
                match &entry.status {
                    ProtectionStatus::Enforced { by } => {
                        assert!(enforced, "{context}");
                        assert!(!by.is_empty(), "{context}");
                        check_mechanisms(host, &policy, protection, by);
                    }
                    ProtectionStatus::NotEnforced { reason } => {
                        assert!(!enforced, "{context}");
                        assert!(!reason.is_empty(), "{context}");
                        assert!(
                            report.missing().any(|m| m.protection == protection),
                            "{context}"
                        );
                    }
                    other => panic!("{context}: {other:?}"),
                }
            }
        }
    }
}

#[test]
fn plans_over_described_hosts_keep_their_invariants() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    std::fs::create_dir(cwd.join(".git")).unwrap();
    let mut plans = 0;
    for host in Host::all() {
        let best_effort = LinuxSandbox::with_host(Compatibility::BestEffort, host.capabilities());
        let strict = LinuxSandbox::with_host(Compatibility::Strict, host.capabilities());
        for profile in SecurityProfile::ALL {
            let policy = profile.to_sandbox_policy();
            // Best effort never refuses for a missing layer, and lists what
            // is missing.
            let plan = best_effort.plan(&policy, &cwd, None).unwrap_or_else(|err| {
                panic!("{host:?} {profile}: best effort refused: {err}");
            });
            check_report(host, profile, &plan.report);
            // Strict refuses exactly when a required protection is missing,
            // with the same report.
            match strict.plan(&policy, &cwd, None) {
                Ok(strict_plan) => {
                    assert!(plan.report.is_complete(), "{host:?} {profile}");
                    assert_eq!(strict_plan.report, plan.report, "{host:?} {profile}");
                }
                Err(LinuxSandboxError::Unenforceable { report }) => {
                    assert!(!plan.report.is_complete(), "{host:?} {profile}");
                    assert_eq!(report, plan.report, "{host:?} {profile}");
                    let message = LinuxSandboxError::Unenforceable {
                        report: report.clone(),
                    }
                    .to_string();
                    for missing in report.missing() {
                        assert!(message.contains(missing.protection.describe()), "{message}");
                    }
                    assert!(!message.contains("--best-effort"), "{message}");
                }
                Err(other) => panic!("{host:?} {profile}: {other}"),
            }
            if profile == SecurityProfile::Trusted {
                assert!(plan.report.is_complete());
                assert!(plan.report.missing().next().is_none());
            }
            plans += 2;
        }
    }
    assert_eq!(plans, 8 * 8 * 5 * 2);
}

/// The fully capable host enforces every profile; the host without anything
/// enforces only what needs nothing.
#[test]
fn the_extremes() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    let full = Host {
        abi: 7,
        seccomp: true,
        notification: true,
        namespaces: true,
    };
    let strict = LinuxSandbox::with_host(Compatibility::Strict, full.capabilities());
    for profile in SecurityProfile::ALL {
        let plan = strict
            .plan(&profile.to_sandbox_policy(), &cwd, None)
            .unwrap();
        assert!(plan.report.is_complete(), "{profile}: {}", plan.report);
    }
    let offline = strict
        .plan(&SecurityProfile::Offline.to_sandbox_policy(), &cwd, None)
        .unwrap();
    assert_eq!(
        offline.report.status(Protection::NetworkSockets),
        Some(&ProtectionStatus::Enforced {
            by: "seccomp + Landlock TCP bind/connect rules".into()
        })
    );
    let older = Host { abi: 4, ..full };
    let plan = LinuxSandbox::with_host(Compatibility::Strict, older.capabilities())
        .plan(&SecurityProfile::Offline.to_sandbox_policy(), &cwd, None)
        .unwrap();
    assert_eq!(
        plan.report.status(Protection::NetworkSockets),
        Some(&ProtectionStatus::Enforced {
            by: "seccomp + Landlock TCP bind/connect rules + empty network namespace".into()
        })
    );
    let nothing = Host {
        abi: 0,
        seccomp: false,
        notification: false,
        namespaces: false,
    };
    let err = LinuxSandbox::with_host(Compatibility::Strict, nothing.capabilities())
        .plan(&SecurityProfile::Offline.to_sandbox_policy(), &cwd, None)
        .unwrap_err();
    assert!(err.to_string().contains("Landlock is unavailable"), "{err}");
    LinuxSandbox::with_host(Compatibility::Strict, nothing.capabilities())
        .plan(&SecurityProfile::Trusted.to_sandbox_policy(), &cwd, None)
        .unwrap();
}
