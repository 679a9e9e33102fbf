//! Writable-file arguments must land inside a writable root, outside the
//! protected subpaths, after symlinks and `..` are resolved.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codex_execpolicy::{Policy, PolicyLoader, ProgramOutcome, Verdict, verify_paths};
use codex_policy_model::SandboxPolicy;

fn policy() -> Policy {
    PolicyLoader::with_default_policy().unwrap().finish()
}

fn verdict(policy: &Policy, sandbox: &SandboxPolicy, cwd: &Path, command: &str) -> Option<Verdict> {
    let argv = shlex::split(command).unwrap();
    let mut evaluation = policy.check(&argv);
    verify_paths(&mut evaluation, sandbox, cwd, None);
    evaluation.decision
}

#[test]
fn writes_are_checked_against_the_roots() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cwd = dir.path().join("ws");
    std::fs::create_dir_all(cwd.join(".git")).unwrap();
    std::fs::create_dir(dir.path().join("outside")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("outside"), cwd.join("escape")).unwrap();
    let policy = policy();
    let workspace = SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![],
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    };
    let program = |outcome| Some(Verdict::Program(outcome));
    for (command, expected) in [
        (
            "sort -o sorted.txt data.txt",
            program(ProgramOutcome::Match),
        ),
        (
            "sort -o sub/../sorted.txt data.txt",
            program(ProgramOutcome::Unverified),
        ),
        (
            "sort -o ../outside/x.txt data.txt",
            program(ProgramOutcome::Unverified),
        ),
        (
            "sort -o escape/x.txt data.txt",
            program(ProgramOutcome::Unverified),
        ),
        (
            "sort -o .git/config data.txt",
            program(ProgramOutcome::Unverified),
        ),
        (
            "sort -o /etc/passwd data.txt",
            program(ProgramOutcome::Unverified),
        ),
        ("uniq in.txt out.txt", program(ProgramOutcome::Match)),
        ("uniq in.txt ../../x", program(ProgramOutcome::Unverified)),
        ("cat data.txt", program(ProgramOutcome::Safe)),
    ] {
        assert_eq!(
            verdict(&policy, &workspace, &cwd, command),
            expected,
            "{command}"
        );
    }
    // No writes at all: a write is forbidden, not merely unverified.
    assert_eq!(
        verdict(
            &policy,
            &SandboxPolicy::read_only(),
            &cwd,
            "sort -o sorted.txt data.txt"
        ),
        program(ProgramOutcome::Forbidden)
    );
    // Full access writes anywhere.
    assert_eq!(
        verdict(
            &policy,
            &SandboxPolicy::DangerFullAccess,
            &cwd,
            "sort -o /etc/x data.txt"
        ),
        program(ProgramOutcome::Match)
    );
}
