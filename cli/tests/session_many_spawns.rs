//! One session, many commands: the policy, rules and sandbox prepared once
//! serve every start, and every start is audited under the one session id.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::escape::{Fixture, skip, skip_reason};
use common::session::{builder, events};

#[test]
fn a_hundred_commands_from_one_session() {
    if let Some(reason) = skip_reason() {
        return skip("a_hundred_commands_from_one_session", &reason);
    }
    let fixture = Fixture::new();
    let (builder, log) = builder(&fixture, "workspace");
    let session = builder.session_id("many").build().unwrap();
    for i in 0..100 {
        let out = session
            .command(["sh", "-c", "echo $1 > out.$1; cat out.$1", "sh"])
            .arg(i.to_string())
            .output()
            .unwrap();
        assert!(out.status.success(), "{i}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{i}\n"));
    }
    // Still sandboxed at the end: .git stays read-only.
    let out = session
        .command(["sh", "-c", "echo x > .git/hooks/pre-commit"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!fixture.workspace.join(".git/hooks/pre-commit").exists());

    let log = events(&log);
    assert!(log.iter().all(|e| e["session_id"] == "many"));
    let loads = log
        .iter()
        .filter(|e| e["operation"] == "policy_load")
        .count();
    let starts = log
        .iter()
        .filter(|e| e["operation"] == "sandbox_start")
        .count();
    let exits = log
        .iter()
        .filter(|e| e["operation"] == "sandbox_exit")
        .count();
    assert_eq!((loads, starts, exits), (1, 101, 101));
}

#[test]
fn a_repository_created_by_one_command_is_protected_for_the_next() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_repository_created_by_one_command_is_protected_for_the_next",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let (builder, _) = builder(&fixture, "workspace");
    let session = builder.build().unwrap();
    // A nested repository the first command lays out by hand …
    let out = session
        .command([
            "sh",
            "-c",
            "mkdir -p sub/.git/hooks && echo '[core]' > sub/.git/config && \
             echo 'ref: refs/heads/main' > sub/.git/HEAD",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // … is a repository like any other for the second: hooks read-only.
    let out = session
        .command(["sh", "-c", "echo evil > sub/.git/hooks/pre-commit"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(!fixture.workspace.join("sub/.git/hooks/pre-commit").exists());
}

#[test]
fn a_repository_created_at_the_top_during_the_session_is_protected() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_repository_created_at_the_top_during_the_session_is_protected",
            &reason,
        );
    }
    let fixture = Fixture::new();
    // No repository when the session is built.
    std::fs::remove_dir_all(fixture.workspace.join(".git")).unwrap();
    let (builder, _) = builder(&fixture, "workspace");
    let session = builder.build().unwrap();
    let out = session
        .command([
            "sh",
            "-c",
            "mkdir -p .git/hooks && echo '[core]' > .git/config && \
             echo 'ref: refs/heads/main' > .git/HEAD",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    for write in [
        "echo evil > .git/hooks/pre-commit",
        "echo '[core] hooksPath = /x' >> .git/config",
    ] {
        let out = session.command(["sh", "-c", write]).output().unwrap();
        assert!(!out.status.success(), "{write}: {out:?}");
    }
    assert!(!fixture.workspace.join(".git/hooks/pre-commit").exists());
}
