//! Escape suite, protected paths and their ancestors: what is protected when a
//! run starts — the repository, its git dir, the hooks directory
//! `core.hooksPath` names, `.codex`, `$CODEX_HOME`, the audit log — can be
//! neither written, moved, shadowed nor replaced from inside, even when an
//! ancestor lies inside a writable root (`--writable-root` on a parent, a
//! project under `/tmp`). As root and as an unprivileged user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::codex_policy_bin;
use common::escape::{Outcome, Table, fixture_base, skip, skip_reason};
use common::probe;

/// `base/outer/mid/repo` with a git dir, a hooks directory, `.codex`; Codex's
/// home at `base/outer/codex-home`; `outer` is given as a writable root.
struct Nested {
    _dir: tempfile::TempDir,
    outer: PathBuf,
    repo: PathBuf,
    codex_home: PathBuf,
    home: PathBuf,
}

impl Nested {
    fn new(base: &Path) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("codex-policy-ancestors-")
            .tempdir_in(base)
            .unwrap();
        let root = dir.path().canonicalize().unwrap();
        let outer = root.join("outer");
        let repo = outer.join("mid/repo");
        let codex_home = outer.join("codex-home");
        let home = root.join("home");
        for d in [
            repo.join(".git/hooks"),
            repo.join(".githooks"),
            repo.join(".codex"),
            codex_home.clone(),
            home.clone(),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::write(
            repo.join(".git/config"),
            "[core]\n\tbare = false\n\thooksPath = .githooks\n",
        )
        .unwrap();
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::write(repo.join(".githooks/pre-commit"), "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::write(codex_home.join("config.toml"), "# empty\n").unwrap();
        Self {
            _dir: dir,
            outer,
            repo,
            codex_home,
            home,
        }
    }

    fn run(&self, script: &str, nobody: bool) -> std::process::Output {
        let mut command = Command::new(codex_policy_bin());
        command
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &self.home)
            .env("CODEX_HOME", &self.codex_home)
            .args(["--profile", "workspace", "run", "--cwd"])
            .arg(&self.repo)
            .arg("--writable-root")
            .arg(&self.outer)
            .args(["--audit-log", "review.jsonl", "--", "sh", "-c", script])
            .current_dir(&self.repo)
            .stdin(Stdio::null());
        if nobody {
            command = probe::as_nobody(&command).expect("setpriv");
        }
        command.output().unwrap()
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A line the attack wrote (the log itself records the command line, which
/// names the word inside a longer line).
fn forged(log: &Path) -> bool {
    read(log).lines().any(|line| line == "forged")
}

#[test]
fn protected_paths_and_their_ancestors_hold() {
    if let Some(reason) = skip_reason() {
        return skip("escape_ancestors", &reason);
    }
    let base = fixture_base().unwrap();
    let mut table = Table::new("protected paths and ancestors");
    type Escaped = fn(&Nested) -> bool;
    let attacks: [(&str, &str, Escaped); 12] = [
        ("echo ok > made.txt", "control: write in the repo", |n| {
            n.repo.join("made.txt").exists()
        }),
        (
            "mv ../../mid ../../mid2",
            "move the repo's grandparent",
            |n| !n.repo.exists(),
        ),
        ("mv ../repo ../repo2", "move the repository", |n| {
            !n.repo.exists()
        }),
        ("mv .git git-moved", "move .git aside", |n| {
            !n.repo.join(".git").exists()
        }),
        (
            "echo evil > .git/hooks/pre-commit",
            "write a git hook",
            |n| n.repo.join(".git/hooks/pre-commit").exists(),
        ),
        (
            "echo evil > .githooks/pre-commit",
            "write the core.hooksPath hook",
            |n| read(&n.repo.join(".githooks/pre-commit")).contains("evil"),
        ),
        ("mv .githooks hooks2", "move the hooks directory", |n| {
            !n.repo.join(".githooks").exists()
        }),
        (
            "echo '[sandbox]' > \"$CODEX_HOME/config.toml\"",
            "write $CODEX_HOME/config.toml",
            |n| read(&n.codex_home.join("config.toml")).contains("sandbox"),
        ),
        ("mv \"$CODEX_HOME\" ../../ch2", "move $CODEX_HOME", |n| {
            !n.codex_home.exists()
        }),
        (
            "echo forged >> review.jsonl",
            "append to the audit log",
            |n| forged(&n.repo.join("review.jsonl")),
        ),
        (
            "rm -f review.jsonl; ln -s /etc/hostname review.jsonl",
            "replace the audit log with a link",
            |n| n.repo.join("review.jsonl").is_symlink(),
        ),
        (
            "mv review.jsonl r2; echo forged > review.jsonl",
            "move the audit log aside",
            |n| forged(&n.repo.join("review.jsonl")),
        ),
    ];
    for nobody in [false, true] {
        let who = if nobody { "nobody" } else { "root" };
        for (script, label, escaped) in attacks {
            let nested = Nested::new(&base);
            if nobody {
                probe::give_to_nobody(nested.outer.parent().unwrap());
            }
            let output = nested.run(script, nobody);
            table.record(
                "workspace",
                &format!("{label} as {who}"),
                Outcome::allowed_if(label.starts_with("control")),
                Outcome::allowed_if(escaped(&nested)),
                &output,
            );
        }
    }
    table.finish();
}

/// A project under `/tmp` (a writable root of the workspace profile): its
/// parent directory cannot be moved to make room for a planted repository.
#[test]
fn a_project_under_tmp_cannot_be_moved_aside() {
    if let Some(reason) = skip_reason() {
        return skip("a_project_under_tmp", &reason);
    }
    let mut table = Table::new("project under /tmp");
    for nobody in [false, true] {
        let who = if nobody { "nobody" } else { "root" };
        let dir = tempfile::Builder::new()
            .prefix("codex-policy-tmp-project-")
            .tempdir_in("/tmp")
            .unwrap();
        let parent = dir.path().canonicalize().unwrap();
        let repo = parent.join("repo");
        std::fs::create_dir_all(repo.join(".git/hooks")).unwrap();
        let home = parent.join("home");
        std::fs::create_dir_all(&home).unwrap();
        if nobody {
            probe::give_to_nobody(&parent);
        }
        let moved = parent.with_extension("moved");
        let script = format!(
            "mv {p} {m} && mkdir -p {p}/repo/.git/hooks && echo evil > {p}/repo/.git/hooks/pre-commit",
            p = parent.display(),
            m = moved.display()
        );
        let mut command = Command::new(codex_policy_bin());
        command
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("CODEX_HOME", home.join(".codex"))
            .args(["--profile", "workspace", "run", "--no-audit", "--cwd"])
            .arg(&repo)
            .args(["--", "sh", "-c", &script])
            .stdin(Stdio::null());
        if nobody {
            command = probe::as_nobody(&command).expect("setpriv");
        }
        let output = command.output().unwrap();
        let escaped = moved.exists() || repo.join(".git/hooks/pre-commit").exists();
        let _ = std::fs::remove_dir_all(&moved);
        table.record(
            "workspace",
            &format!("mv the project's parent in /tmp as {who}"),
            Outcome::Refused,
            Outcome::allowed_if(escaped),
            &output,
        );
    }
    table.finish();
}

/// Repositories below the working directory (a vendored clone) and in other
/// writable roots (one under `/tmp`) exist when the run starts: their hooks,
/// config and place are protected too.
#[test]
fn nested_repositories_are_protected() {
    if let Some(reason) = skip_reason() {
        return skip("nested_repositories", &reason);
    }
    let mut table = Table::new("nested repositories");
    let base = fixture_base().unwrap();
    let dir = tempfile::Builder::new()
        .prefix("codex-policy-nested-")
        .tempdir_in(&base)
        .unwrap();
    let ws = dir.path().canonicalize().unwrap().join("ws");
    let vendored = ws.join("vendor/lib");
    std::fs::create_dir_all(vendored.join(".git/hooks")).unwrap();
    std::fs::write(vendored.join(".git/config"), "[core]\n").unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let tmp_repo = tempfile::Builder::new()
        .prefix("codex-policy-tmp-repo-")
        .tempdir_in("/tmp")
        .unwrap();
    let tmp_git = tmp_repo.path().canonicalize().unwrap().join(".git");
    std::fs::create_dir_all(tmp_git.join("hooks")).unwrap();
    // A nested repository whose `.git` is a file naming its git dir elsewhere
    // (a submodule, `git init --separate-git-dir`): that git dir is protected.
    let pointed = tmp_repo.path().canonicalize().unwrap().join("separate");
    std::fs::create_dir_all(pointed.join("hooks")).unwrap();
    let sub = ws.join("sub");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::write(sub.join(".git"), format!("gitdir: {}\n", pointed.display())).unwrap();
    let attempts = [
        (
            format!("echo evil > {}/hooks/post-commit", pointed.display()),
            "write the hook of a nested .git file's git dir",
            pointed.join("hooks/post-commit"),
        ),
        (
            format!("echo evil > {}/.git/hooks/pre-commit", vendored.display()),
            "write a vendored repository's hook",
            vendored.join(".git/hooks/pre-commit"),
        ),
        (
            format!(
                "echo '[core] fsmonitor = evil' >> {}/.git/config; mkdir {}/.git/x",
                vendored.display(),
                vendored.display()
            ),
            "change a vendored repository's config",
            vendored.join(".git/x"),
        ),
        (
            format!(
                "mv {} {}/moved && mkdir -p {}/.git/hooks/pre-commit",
                vendored.display(),
                ws.display(),
                vendored.display()
            ),
            "move a vendored repository aside",
            vendored.join(".git/hooks/pre-commit"),
        ),
        (
            format!("echo evil > {}/hooks/pre-commit", tmp_git.display()),
            "write the hook of a repository in /tmp",
            tmp_git.join("hooks/pre-commit"),
        ),
    ];
    for (script, label, evidence) in attempts {
        let output = Command::new(codex_policy_bin())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("CODEX_HOME", home.join(".codex"))
            .args(["--profile", "workspace", "run", "--no-audit", "--cwd"])
            .arg(&ws)
            .args(["--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        table.record(
            "workspace",
            label,
            Outcome::Refused,
            Outcome::allowed_if(evidence.exists()),
            &output,
        );
    }
    table.finish();
}

/// The working directory's `.git` file whose `gitdir:` path goes through a
/// symlink inside a writable root: binding the git dir would protect nothing
/// (the link can be re-pointed at a planted one), so the run is refused (125)
/// and nothing runs.
#[test]
fn a_git_dir_behind_a_replaceable_link_is_refused() {
    if let Some(reason) = skip_reason() {
        return skip("a_git_dir_behind_a_replaceable_link", &reason);
    }
    let base = fixture_base().unwrap();
    let dir = tempfile::Builder::new()
        .prefix("codex-policy-gitdir-link-")
        .tempdir_in(&base)
        .unwrap();
    let ws = dir.path().canonicalize().unwrap().join("ws");
    std::fs::create_dir_all(ws.join("gd/hooks")).unwrap();
    std::os::unix::fs::symlink("gd", ws.join("gdlink")).unwrap();
    // The working directory's own repository: refused. (A nested one gets a
    // warning: one under /tmp must not stop every run.)
    std::fs::write(ws.join(".git"), "gitdir: gdlink\n").unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let output = Command::new(codex_policy_bin())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .env("CODEX_HOME", home.join(".codex"))
        .args(["--profile", "workspace", "run", "--no-audit", "--cwd"])
        .arg(&ws)
        .args(["--", "touch", "ran"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("gdlink"), "{stderr}");
    assert!(!ws.join("ran").exists(), "the command ran");
}

/// `core.hooksPath` naming a directory that does not exist yet: the command
/// could create it and fill it for the host's next commit, so `run` creates
/// it empty first (and says so) and it is read-only inside.
#[test]
fn a_missing_hooks_path_is_created_and_protected() {
    if let Some(reason) = skip_reason() {
        return skip("a_missing_hooks_path", &reason);
    }
    let base = fixture_base().unwrap();
    let dir = tempfile::Builder::new()
        .prefix("codex-policy-hookspath-")
        .tempdir_in(&base)
        .unwrap();
    let repo = dir.path().canonicalize().unwrap().join("repo");
    std::fs::create_dir_all(repo.join(".git/hooks")).unwrap();
    std::fs::write(
        repo.join(".git/config"),
        "[core]\n\thooksPath = .githooks\n",
    )
    .unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let output = Command::new(codex_policy_bin())
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", &home)
        .env("CODEX_HOME", home.join(".codex"))
        .args(["--profile", "workspace", "run", "--no-audit", "--cwd"])
        .arg(&repo)
        .args([
            "--",
            "sh",
            "-c",
            "mkdir -p .githooks; echo evil > .githooks/pre-commit",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("core.hooksPath"), "{stderr}");
    assert!(repo.join(".githooks").is_dir(), "{stderr}");
    assert!(
        !repo.join(".githooks/pre-commit").exists(),
        "a hook was planted: {stderr}"
    );
}

/// `core.hooksPath` read as git reads it (a trailing comment), and one that
/// passes through a symlink or `..` inside the workspace, which the command
/// could re-point before the host's next commit: the first is protected, the
/// others refuse the run (125).
#[test]
fn hooks_path_is_read_as_git_reads_it() {
    if let Some(reason) = skip_reason() {
        return skip("hooks_path_is_read_as_git_reads_it", &reason);
    }
    let git_found = Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !git_found {
        return skip("hooks_path_is_read_as_git_reads_it", "git is not installed");
    }
    let base = fixture_base().unwrap();
    for (value, prepare, refused) in [
        ("hooks ; shared hooks", None, false),
        ("lnk/hooks", Some("lnk"), true),
        ("sub/../hk", None, true),
    ] {
        let dir = tempfile::Builder::new()
            .prefix("codex-policy-hookspath-git-")
            .tempdir_in(&base)
            .unwrap();
        let repo = dir.path().canonicalize().unwrap().join("repo");
        std::fs::create_dir_all(repo.join(".git/hooks")).unwrap();
        std::fs::write(repo.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
        std::fs::create_dir_all(repo.join(".git/objects")).unwrap();
        std::fs::create_dir_all(repo.join(".git/refs")).unwrap();
        std::fs::write(
            repo.join(".git/config"),
            format!("[core]\n\tbare = false\n\thooksPath = {value}\n"),
        )
        .unwrap();
        if let Some(link) = prepare {
            std::fs::create_dir_all(repo.join("real/hooks")).unwrap();
            std::os::unix::fs::symlink("real", repo.join(link)).unwrap();
        }
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        let output = Command::new(codex_policy_bin())
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &home)
            .env("CODEX_HOME", home.join(".codex"))
            .args(["--profile", "workspace", "run", "--no-audit", "--cwd"])
            .arg(&repo)
            .args([
                "--",
                "sh",
                "-c",
                "mkdir -p hooks && echo evil > hooks/pre-commit; echo ran > ran",
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if refused {
            assert_eq!(output.status.code(), Some(125), "{value}: {stderr}");
            assert!(!repo.join("ran").exists(), "{value}: the command ran");
        } else {
            assert!(repo.join("ran").exists(), "{value}: {stderr}");
            assert!(
                !repo.join("hooks/pre-commit").exists(),
                "{value}: a hook was planted where git looks: {stderr}"
            );
        }
    }
}
