//! The argument vector and the `Command` that start a command under a profile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::OsString;
use std::process::Command;

use codex_policy_model::{Protection, ProtectionStatus};
use codex_sandbox_macos::{SANDBOX_EXEC, SeatbeltNetwork};
use common::{Fixture, workspace};

#[test]
fn argv_is_absolute_sandbox_exec_then_text_then_definitions_then_command() {
    let f = Fixture::new();
    let p = f
        .builder(&workspace(vec![], false), &f.root)
        .hidden_paths([f.root.join("secret")])
        .build()
        .expect("profile");
    let command: Vec<OsString> = vec!["-rf-looking".into(), "a b".into()];
    let argv = p.sandbox_exec_argv(&command);
    assert_eq!(SANDBOX_EXEC, "/usr/bin/sandbox-exec");
    assert_eq!(argv[0], SANDBOX_EXEC);
    assert_eq!(argv[1], "-p");
    assert_eq!(argv[2], p.text());
    let n = p.parameters().len();
    for (i, (name, value)) in p.parameters().iter().enumerate() {
        assert_eq!(argv[3 + 2 * i], "-D");
        let mut def = OsString::from(name);
        def.push("=");
        def.push(value);
        assert_eq!(argv[4 + 2 * i], def);
    }
    assert_eq!(argv[3 + 2 * n], "--");
    assert_eq!(&argv[4 + 2 * n..], command.as_slice());
}

#[test]
fn command_keeps_program_args_dir_and_environment() {
    let f = Fixture::new();
    let p = f
        .builder(&workspace(vec![], false), &f.root)
        .build()
        .expect("profile");
    let mut original = Command::new("make");
    original
        .args(["-j4", "test"])
        .current_dir(&f.root)
        .env("A", "1")
        .env_remove("B");
    let wrapped = p.command(&original);
    assert_eq!(wrapped.get_program(), SANDBOX_EXEC);
    let args: Vec<&std::ffi::OsStr> = wrapped.get_args().collect();
    let tail: Vec<&str> = args[args.len() - 4..]
        .iter()
        .map(|a| a.to_str().unwrap_or("?"))
        .collect();
    assert_eq!(tail, ["--", "make", "-j4", "test"]);
    assert_eq!(wrapped.get_current_dir(), Some(f.root.as_path()));
    let envs: Vec<_> = wrapped.get_envs().collect();
    assert!(envs.contains(&("A".as_ref(), Some("1".as_ref()))));
    assert!(envs.contains(&("B".as_ref(), None)));
}

#[test]
fn report_names_what_seatbelt_enforces_and_what_it_does_not() {
    let f = Fixture::new();
    let p = f
        .builder(&workspace(vec![], false), &f.root)
        .network(SeatbeltNetwork::Proxy {
            http: 3128,
            socks: 1080,
        })
        .hidden_paths([f.root.join("secret")])
        .build()
        .expect("profile");
    let report = p.report();
    for protection in [
        Protection::FileWrites,
        Protection::ReadOnlySubpaths,
        Protection::HiddenPaths,
        Protection::NetworkSockets,
        Protection::SignalIsolation,
        Protection::PathSocketIsolation,
    ] {
        assert!(
            matches!(report.status(protection), Some(ProtectionStatus::Enforced { by }) if by == "Seatbelt"),
            "{protection}"
        );
    }
    assert!(matches!(
        report.status(Protection::SyscallFilter),
        Some(ProtectionStatus::NotEnforced { .. })
    ));
    assert!(report.is_complete(), "what is not enforced is not required");
    assert!(report.rules.iter().any(|r| r.starts_with("hidden ")));
}
