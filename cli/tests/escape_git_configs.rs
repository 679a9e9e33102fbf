//! What the host reads to protect repositories is what the command could
//! plant: a FIFO for a git config must not hang the host, a `.git` that is a
//! symlink still has its git directory protected, and a `core.hooksPath` from
//! any config git reads (`$XDG_CONFIG_HOME/git/config` too) is honoured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::escape::{Fixture, skip, skip_reason};

fn mkfifo(path: &std::path::Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[test]
fn planted_git_configs_neither_hang_nor_unprotect() {
    if let Some(reason) = skip_reason() {
        return skip("planted_git_configs_neither_hang_nor_unprotect", &reason);
    }
    let fixture = Fixture::new();
    let ws = &fixture.workspace;
    // A nested repository whose config is a FIFO, and one whose `.git` is a link.
    std::fs::create_dir_all(ws.join("fifo/.git")).unwrap();
    std::fs::write(ws.join("fifo/.git/HEAD"), "ref: refs/heads/main\n").unwrap();
    mkfifo(&ws.join("fifo/.git/config"));
    mkfifo(&ws.join("fifo/.git/config.worktree"));
    std::fs::create_dir_all(ws.join("realgit/hooks")).unwrap();
    std::fs::write(ws.join("realgit/HEAD"), "ref: refs/heads/main\n").unwrap();
    std::fs::write(ws.join("realgit/config"), "[core]\n").unwrap();
    std::fs::create_dir_all(ws.join("linked")).unwrap();
    std::os::unix::fs::symlink("../realgit", ws.join("linked/.git")).unwrap();

    let mut run = fixture
        .command(
            "workspace",
            &["--no-audit"],
            &["sh", "-c", "echo evil > linked/.git/hooks/pre-commit"],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("codex-policy hung on a FIFO planted as a git config");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_ne!(status.code(), Some(0), "the hook was written");
    assert!(!ws.join("realgit/hooks/pre-commit").exists());

    // core.hooksPath from $XDG_CONFIG_HOME/git/config, as git reads it.
    let xdg = fixture.home.join("xdg");
    std::fs::create_dir_all(xdg.join("git")).unwrap();
    std::fs::write(xdg.join("git/config"), "[core]\n\thooksPath = .githooks\n").unwrap();
    let Some(git) = ["/usr/local/bin/git", "/usr/bin/git", "/bin/git"]
        .into_iter()
        .find(|g| std::path::Path::new(g).exists())
    else {
        return skip(
            "planted_git_configs_neither_hang_nor_unprotect (hooksPath part)",
            "no system git to read configs as git does",
        );
    };
    // A real repository (git's own layout), nested in the workspace.
    let made = std::process::Command::new(git)
        .args(["init", "-q", "nested"])
        .current_dir(ws)
        .env("XDG_CONFIG_HOME", &xdg)
        .status()
        .unwrap();
    assert!(made.success());
    let output = fixture
        .command(
            "workspace",
            &["--no-audit"],
            &[
                "sh",
                "-c",
                "mkdir -p nested/.githooks; echo evil > nested/.githooks/pre-commit",
            ],
        )
        .env("XDG_CONFIG_HOME", &xdg)
        .output()
        .unwrap();
    assert_ne!(output.status.code(), Some(0), "{output:?}");
    assert!(!ws.join("nested/.githooks/pre-commit").exists());
}
