//! The host asks git where a repository's hooks are (when its config
//! mentions `hooksPath` or an include); that git runs unsandboxed, so it must
//! never be one the command could have planted on `$PATH`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::escape::{Fixture, skip, skip_reason};

#[test]
fn a_git_planted_on_path_is_never_run_by_the_host() {
    if let Some(reason) = skip_reason() {
        return skip("a_git_planted_on_path_is_never_run_by_the_host", &reason);
    }
    let fixture = Fixture::new();
    let bin = fixture.workspace.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let proof = fixture.home.join("git-ran");
    let fake = bin.join("git");
    std::fs::write(
        &fake,
        format!("#!/bin/sh\ntouch {}\nexit 1\n", proof.display()),
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    // A nested repository whose config makes the host ask git.
    let nested = fixture.workspace.join("sub/.git");
    std::fs::create_dir_all(nested.join("hooks")).unwrap();
    std::fs::write(nested.join("HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(nested.join("config"), "[include]\n\tpath = extra\n").unwrap();
    std::fs::write(
        fixture.workspace.join(".git/config"),
        "[core]\n[include]\n\tpath = extra\n",
    )
    .unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    let output = fixture
        .command("workspace", &["--no-audit"], &["true"])
        .env("PATH", &path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(!proof.exists(), "the host ran the git planted on PATH");
}
