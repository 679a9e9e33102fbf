//! Fail closed on hosts that lack a kernel feature, simulated by running
//! codex-policy itself under a seccomp filter: without user namespaces (as in
//! most containers) or without Landlock. Strict runs refuse with 125 and say what
//! is missing; `--best-effort` runs with Landlock and seccomp alone, prints what
//! is not enforced, and still confines writes and network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Command, Output};

use common::escape::{Fixture, skip, skip_reason};
use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

enum Missing {
    UserNamespaces,
    Landlock,
}

fn filter(missing: &Missing) -> Vec<BpfProgram> {
    let errno = |rules: BTreeMap<i64, Vec<SeccompRule>>, errno: i32| -> BpfProgram {
        SeccompFilter::new(
            rules,
            SeccompAction::Allow,
            SeccompAction::Errno(errno as u32),
            ARCH,
        )
        .unwrap()
        .try_into()
        .unwrap()
    };
    match missing {
        Missing::UserNamespaces => {
            let newuser = || {
                vec![
                    SeccompRule::new(vec![
                        SeccompCondition::new(
                            0,
                            SeccompCmpArgLen::Qword,
                            SeccompCmpOp::MaskedEq(libc::CLONE_NEWUSER as u64),
                            libc::CLONE_NEWUSER as u64,
                        )
                        .unwrap(),
                    ])
                    .unwrap(),
                ]
            };
            let rules =
                BTreeMap::from([(libc::SYS_unshare, newuser()), (libc::SYS_clone, newuser())]);
            // Like Docker's default profile: clone3 is refused (ENOSYS) so libc
            // uses clone, whose flags a filter can see.
            let clone3 = BTreeMap::from([(libc::SYS_clone3, vec![])]);
            vec![errno(rules, libc::EPERM), errno(clone3, libc::ENOSYS)]
        }
        Missing::Landlock => vec![errno(
            BTreeMap::from([
                (libc::SYS_landlock_create_ruleset, vec![]),
                (libc::SYS_landlock_add_rule, vec![]),
                (libc::SYS_landlock_restrict_self, vec![]),
            ]),
            libc::ENOSYS,
        )],
    }
}

/// Runs `command` (codex-policy) on a host that lacks `missing`.
fn on_simulated_host(mut command: Command, missing: &Missing) -> Output {
    let programs = filter(missing);
    // SAFETY: apply_filter only calls prctl and seccomp, both async-signal-safe.
    unsafe {
        command.pre_exec(move || {
            for program in &programs {
                seccompiler::apply_filter(program).map_err(std::io::Error::other)?;
            }
            Ok(())
        });
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const PROBE: &str = "echo inside > inside.txt; echo pwned > \"$HOME/victim\"; \
                     exec bash -c \"echo hi > /dev/tcp/127.0.0.1/$PORT\"";

#[test]
fn without_user_namespaces_strict_refuses_and_best_effort_still_confines() {
    if let Some(reason) = skip_reason() {
        return skip("without_user_namespaces", &reason);
    }
    for profile in ["offline", "workspace"] {
        let fixture = Fixture::new();
        let output = on_simulated_host(
            fixture.command(profile, &[], &["touch", "ran"]),
            &Missing::UserNamespaces,
        );
        assert_eq!(
            output.status.code(),
            Some(125),
            "{profile}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("user namespaces"),
            "{}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("--best-effort"),
            "{}",
            stderr(&output)
        );
        assert!(
            !fixture.workspace.join("ran").exists(),
            "{profile}: the command ran"
        );
    }

    let fixture = Fixture::new();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut command = fixture.command("workspace", &["--best-effort"], &["sh", "-c", PROBE]);
    command.env("PORT", &port);
    let output = on_simulated_host(command, &Missing::UserNamespaces);
    let err = stderr(&output);
    assert!(err.contains("running WITHOUT these protections"), "{err}");
    assert!(err.contains(".git, .codex and .agents read-only"), "{err}");
    assert!(err.contains("die with it"), "{err}");
    // Landlock and seccomp alone still hold writes and the network.
    assert!(fixture.workspace.join("inside.txt").exists(), "{err}");
    assert_eq!(
        fixture.read(&fixture.home.join("victim")).as_deref(),
        Some("original\n")
    );
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "a TCP connection left the sandbox"
    );
}

#[test]
fn without_landlock_strict_refuses_and_best_effort_reports_unconfined_writes() {
    if let Some(reason) = skip_reason() {
        return skip("without_landlock", &reason);
    }
    let fixture = Fixture::new();
    let output = on_simulated_host(
        fixture.command("workspace", &[], &["touch", "ran"]),
        &Missing::Landlock,
    );
    assert_eq!(output.status.code(), Some(125), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("file writes confined"),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("Landlock"), "{}", stderr(&output));
    assert!(!fixture.workspace.join("ran").exists());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let mut command = fixture.command("workspace", &["--best-effort"], &["sh", "-c", PROBE]);
    command.env("PORT", &port);
    let output = on_simulated_host(command, &Missing::Landlock);
    let err = stderr(&output);
    assert!(
        err.contains("file writes confined to the writable roots"),
        "{err}"
    );
    // The .git bind mount and seccomp still apply.
    assert!(fixture.workspace.join("inside.txt").exists(), "{err}");
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "a TCP connection left the sandbox"
    );
}

#[test]
fn offline_without_user_namespaces_best_effort_keeps_every_write_out() {
    if let Some(reason) = skip_reason() {
        return skip("offline_without_user_namespaces", &reason);
    }
    let fixture = Fixture::new();
    let output = on_simulated_host(
        fixture.command(
            "offline",
            &["--best-effort"],
            &["sh", "-c", "echo x > inside.txt"],
        ),
        &Missing::UserNamespaces,
    );
    assert_ne!(output.status.code(), Some(0));
    assert!(!fixture.workspace.join("inside.txt").exists());
    assert!(
        stderr(&output).contains("running WITHOUT"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn without_user_namespaces_hidden_credential_stores_refuse_and_best_effort_says_so() {
    if let Some(reason) = skip_reason() {
        return skip("without_user_namespaces_hidden_paths", &reason);
    }
    let fixture = Fixture::new();
    let key = fixture.home.join(".ssh/id_ed25519");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "SECRET-KEY").unwrap();
    let output = on_simulated_host(
        fixture.command("offline", &[], &["cat", key.to_str().unwrap()]),
        &Missing::UserNamespaces,
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(125), "{err}");
    assert!(err.contains("hidden paths (credential stores)"), "{err}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("SECRET"));

    // Best effort runs, says the stores are readable, and still filters the
    // environment (that needs no kernel feature).
    let mut command = fixture.command(
        "offline",
        &["--best-effort"],
        &["sh", "-c", "echo token=$GITHUB_TOKEN"],
    );
    command.env("GITHUB_TOKEN", "gh-value");
    let output = on_simulated_host(command, &Missing::UserNamespaces);
    let err = stderr(&output);
    assert!(err.contains("running WITHOUT these protections"), "{err}");
    assert!(err.contains("hidden paths unreadable"), "{err}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("token=") && !stdout.contains("gh-value"),
        "{stdout}"
    );

    // doctor says so too.
    let doctor = on_simulated_host(
        {
            let mut doctor = Command::new(common::codex_policy_bin());
            doctor.arg("doctor").env("HOME", &fixture.home);
            doctor
        },
        &Missing::UserNamespaces,
    );
    let text = String::from_utf8_lossy(&doctor.stdout);
    assert!(text.contains("CANNOT be hidden here"), "{text}");
}
