//! Writable-root computation on a real file system: canonicalization, folding,
//! `$TMPDIR`, protected subpaths, git worktrees.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use codex_policy_model::{
    ProtectedHomes, SandboxPolicy, SkipReason, WritableRoot, WritableRootsError,
};

/// A workspace-write policy that leaves `/tmp` out, so temp-dir fixtures are not
/// folded into it (one test below checks that folding on purpose).
fn policy(roots: &[&Path]) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: roots.iter().map(|p| p.to_path_buf()).collect(),
        network_access: false,
        exclude_tmpdir_env_var: false,
        exclude_slash_tmp: true,
    }
}

fn real(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap()
}

fn protected_of(root: &WritableRoot) -> Vec<PathBuf> {
    root.read_only_subpaths.clone()
}

#[test]
fn cwd_is_a_root_with_codex_agents_and_codex_profile_protected_even_when_absent() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = real(dir.path());
    let roots = policy(&[]).writable_roots(&cwd, None).unwrap();
    assert_eq!(roots.roots.len(), 1);
    assert_eq!(roots.roots[0].root, cwd);
    assert_eq!(
        protected_of(&roots.roots[0]),
        vec![
            cwd.join(".agents"),
            cwd.join(".codex"),
            cwd.join(".codex-profile")
        ]
    );
    assert!(roots.allows_write_to(&cwd.join("src/lib.rs")));
    assert!(!roots.allows_write_to(&cwd.join(".codex/config.toml")));
    assert!(!roots.allows_write_to(&cwd.join(".agents")));
    assert!(!roots.allows_write_to(Path::new("/etc/passwd")));
}

#[test]
fn git_directory_is_protected_when_present() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = real(dir.path());
    fs::create_dir(cwd.join(".git")).unwrap();
    let roots = policy(&[]).writable_roots(&cwd, None).unwrap();
    assert!(protected_of(&roots.roots[0]).contains(&cwd.join(".git")));
    assert!(!roots.allows_write_to(&cwd.join(".git/hooks/pre-commit")));
    // A sibling whose name merely starts with `.git` is not protected.
    assert!(roots.allows_write_to(&cwd.join(".gitignore")));
}

#[test]
fn symlinked_cwd_resolves_to_the_real_directory() {
    let dir = tempfile::tempdir().unwrap();
    let base = real(dir.path());
    let target = base.join("real-project");
    fs::create_dir(&target).unwrap();
    fs::create_dir(target.join(".git")).unwrap();
    let link = base.join("link-to-project");
    symlink(&target, &link).unwrap();

    let roots = policy(&[]).writable_roots(&link, None).unwrap();
    assert_eq!(roots.roots.len(), 1);
    assert_eq!(roots.roots[0].root, target);
    assert!(protected_of(&roots.roots[0]).contains(&target.join(".git")));
}

#[test]
fn tmpdir_inside_cwd_is_folded_into_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = real(dir.path());
    let tmp = cwd.join("target/tmp");
    fs::create_dir_all(&tmp).unwrap();
    let roots = policy(&[])
        .writable_roots(&cwd, Some(tmp.as_os_str()))
        .unwrap();
    assert_eq!(roots.roots.len(), 1, "{roots:?}");
    assert_eq!(roots.roots[0].root, cwd);
    assert!(roots.skipped.is_empty());
}

#[test]
fn tmpdir_outside_cwd_is_its_own_root_unless_excluded() {
    let cwd_dir = tempfile::tempdir().unwrap();
    let tmp_dir = tempfile::tempdir().unwrap();
    let cwd = real(cwd_dir.path());
    let tmp = real(tmp_dir.path());

    let roots = policy(&[])
        .writable_roots(&cwd, Some(tmp.as_os_str()))
        .unwrap();
    let listed: Vec<_> = roots.roots.iter().map(|r| r.root.clone()).collect();
    assert!(listed.contains(&cwd) && listed.contains(&tmp), "{listed:?}");

    let excluded = SandboxPolicy::WorkspaceWrite {
        writable_roots: vec![],
        network_access: false,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    };
    let roots = excluded
        .writable_roots(&cwd, Some(tmp.as_os_str()))
        .unwrap();
    assert_eq!(roots.roots.len(), 1);
    assert_eq!(roots.roots[0].root, cwd);
}

#[test]
fn relative_or_missing_tmpdir_is_skipped_and_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = real(dir.path());
    let roots = policy(&[])
        .writable_roots(&cwd, Some(OsStr::new("relative/tmp")))
        .unwrap();
    assert_eq!(roots.roots.len(), 1);
    assert_eq!(roots.skipped[0].reason, SkipReason::NotAbsolute);

    let missing = cwd.join("does-not-exist");
    let roots = policy(&[])
        .writable_roots(&cwd, Some(missing.as_os_str()))
        .unwrap();
    assert_eq!(roots.skipped[0].path, missing);
    assert_eq!(roots.skipped[0].reason, SkipReason::DoesNotExist);

    // An empty TMPDIR means "unset".
    let roots = policy(&[])
        .writable_roots(&cwd, Some(OsStr::new("")))
        .unwrap();
    assert!(roots.skipped.is_empty());
}

#[test]
fn slash_tmp_is_included_by_default_and_absorbs_roots_under_it() {
    let dir = tempfile::tempdir_in("/tmp").unwrap();
    let cwd = real(dir.path());
    fs::create_dir(cwd.join(".git")).unwrap();
    let roots = SandboxPolicy::workspace_write(false)
        .writable_roots(&cwd, None)
        .unwrap();
    let tmp = real(Path::new("/tmp"));
    assert_eq!(roots.roots.len(), 1, "{roots:?}");
    assert_eq!(roots.roots[0].root, tmp);
    // Folding must not make the inner root's `.git` writable.
    assert!(protected_of(&roots.roots[0]).contains(&cwd.join(".git")));
    assert!(!roots.allows_write_to(&cwd.join(".git/config")));
    assert!(roots.allows_write_to(&cwd.join("notes.txt")));
}

#[test]
fn nested_and_duplicate_roots_fold_into_the_outermost() {
    let dir = tempfile::tempdir().unwrap();
    let base = real(dir.path());
    let outer = base.join("outer");
    let inner = outer.join("inner");
    let cwd = inner.join("project");
    fs::create_dir_all(cwd.join(".git")).unwrap();
    fs::create_dir_all(inner.join(".codex")).unwrap();
    let sibling = base.join("outer-sibling");
    fs::create_dir(&sibling).unwrap();

    let roots = policy(&[
        &inner,
        &outer,
        &outer,
        &sibling,
        Path::new("inner/../inner"),
    ])
    .writable_roots(&cwd, None)
    .unwrap();
    let listed: Vec<_> = roots.roots.iter().map(|r| r.root.clone()).collect();
    assert_eq!(listed, vec![outer.clone(), sibling.clone()]);
    let protected = protected_of(&roots.roots[0]);
    for path in [
        outer.join(".codex"),
        inner.join(".codex"),
        cwd.join(".git"),
        cwd.join(".agents"),
    ] {
        assert!(protected.contains(&path), "{path:?} not in {protected:?}");
    }
}

#[test]
fn relative_configured_roots_resolve_against_cwd() {
    let dir = tempfile::tempdir().unwrap();
    let base = real(dir.path());
    let cwd = base.join("project");
    let cache = base.join("cache");
    fs::create_dir_all(&cwd).unwrap();
    fs::create_dir_all(&cache).unwrap();
    let roots = policy(&[Path::new("../cache")])
        .writable_roots(&cwd, None)
        .unwrap();
    let listed: Vec<_> = roots.roots.iter().map(|r| r.root.clone()).collect();
    assert_eq!(listed, vec![cache, cwd]);
}

#[test]
fn missing_and_non_directory_roots_are_reported_not_granted() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = real(dir.path());
    let file = cwd.join("a-file");
    fs::write(&file, "x").unwrap();
    let missing = Path::new("/nonexistent/codex-policy-test");
    let roots = policy(&[missing, &file])
        .writable_roots(&cwd, None)
        .unwrap();
    assert_eq!(roots.roots.len(), 1);
    let reasons: Vec<_> = roots.skipped.iter().map(|s| s.reason).collect();
    assert_eq!(
        reasons,
        vec![SkipReason::DoesNotExist, SkipReason::NotADirectory]
    );
}

#[test]
fn worktree_git_file_protects_the_file_its_git_dir_and_common_dir() {
    let dir = tempfile::tempdir().unwrap();
    let base = real(dir.path());
    // A main repository and a linked worktree, laid out as `git worktree add` does.
    let main_git = base.join("main/.git");
    let wt_git_dir = main_git.join("worktrees/feature");
    fs::create_dir_all(main_git.join("hooks")).unwrap();
    fs::create_dir_all(&wt_git_dir).unwrap();
    fs::write(wt_git_dir.join("commondir"), "../..\n").unwrap();
    let worktree = base.join("feature");
    fs::create_dir(&worktree).unwrap();
    fs::write(
        worktree.join(".git"),
        "gitdir: ../main/.git/worktrees/feature\n",
    )
    .unwrap();

    // Only the worktree is writable: the main repository is outside every root,
    // so its paths are read-only already and are not listed.
    let roots = policy(&[]).writable_roots(&worktree, None).unwrap();
    assert_eq!(
        protected_of(&roots.roots[0]),
        vec![
            worktree.join(".agents"),
            worktree.join(".codex"),
            worktree.join(".codex-profile"),
            worktree.join(".git"),
        ]
    );

    // With the parent writable too, the real git dir and the shared one are protected.
    let roots = policy(&[&base]).writable_roots(&worktree, None).unwrap();
    assert_eq!(roots.roots.len(), 1);
    let protected = protected_of(&roots.roots[0]);
    for path in [worktree.join(".git"), wt_git_dir.clone(), main_git.clone()] {
        assert!(protected.contains(&path), "{path:?} not in {protected:?}");
    }
    assert!(!roots.allows_write_to(&main_git.join("hooks/post-checkout")));
    assert!(roots.allows_write_to(&worktree.join("src.rs")));
}

#[test]
fn malformed_git_pointer_still_protects_the_file_itself() {
    let dir = tempfile::tempdir().unwrap();
    let cwd = real(dir.path());
    for content in [
        "",
        "not a pointer",
        "gitdir:",
        "gitdir: /nonexistent/x",
        "\u{0}\u{ff}",
    ] {
        fs::write(cwd.join(".git"), content).unwrap();
        let roots = policy(&[]).writable_roots(&cwd, None).unwrap();
        assert_eq!(
            protected_of(&roots.roots[0]),
            vec![
                cwd.join(".agents"),
                cwd.join(".codex"),
                cwd.join(".codex-profile"),
                cwd.join(".git")
            ],
            "{content:?}"
        );
    }
}

#[test]
fn symlinked_protected_names_protect_their_targets() {
    let dir = tempfile::tempdir().unwrap();
    let base = real(dir.path());
    let cwd = base.join("project");
    let elsewhere = cwd.join("vendor/real-codex");
    fs::create_dir_all(&elsewhere).unwrap();
    symlink(&elsewhere, cwd.join(".codex")).unwrap();
    let roots = policy(&[]).writable_roots(&cwd, None).unwrap();
    let protected = protected_of(&roots.roots[0]);
    assert!(protected.contains(&cwd.join(".codex")));
    assert!(protected.contains(&elsewhere), "{protected:?}");
}

#[test]
fn read_only_and_full_access_have_no_writable_roots() {
    let dir = tempfile::tempdir().unwrap();
    for policy in [SandboxPolicy::read_only(), SandboxPolicy::DangerFullAccess] {
        let roots = policy.writable_roots(dir.path(), None).unwrap();
        assert!(roots.roots.is_empty() && roots.skipped.is_empty());
    }
}

#[test]
fn missing_or_file_cwd_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("gone");
    assert!(matches!(
        policy(&[]).writable_roots(&missing, None),
        Err(WritableRootsError::Cwd { .. })
    ));
    let file = dir.path().join("file");
    fs::write(&file, "").unwrap();
    let err = policy(&[]).writable_roots(&file, None).unwrap_err();
    assert!(matches!(err, WritableRootsError::CwdNotADirectory { .. }));
    assert!(err.to_string().contains("not a directory"));
}

/// `$TMPDIR` is attacker-influenced environment: when it is or contains a path
/// that must stay read-only, it is skipped with the path named, never granted.
#[test]
fn tmpdir_that_is_or_contains_a_protected_path_is_skipped() {
    let base = tempfile::tempdir().unwrap();
    let base = real(base.path());
    let home = base.join("home");
    let codex_home = base.join("codex-home");
    let repo = base.join("repo");
    let cwd = repo.join("sub");
    let sibling = base.join("scratch");
    for d in [&home, &codex_home, &repo.join(".git"), &cwd, &sibling] {
        fs::create_dir_all(d).unwrap();
    }
    let mut homes = ProtectedHomes::default();
    homes.home = Some(home.clone());
    homes.codex_home = Some(codex_home.clone());
    let roots_for = |tmpdir: &Path| {
        policy(&[])
            .writable_roots_protecting(&cwd, Some(tmpdir.as_os_str()), &homes)
            .unwrap()
    };
    for (tmpdir, protected) in [
        (PathBuf::from("/"), None),
        (base.clone(), None),
        (repo.clone(), Some(repo.clone())),
        (repo.join(".git"), Some(repo.join(".git"))),
        (cwd.join(".."), Some(repo.clone())),
        (home.clone(), Some(home.clone())),
        (codex_home.clone(), Some(codex_home.clone())),
    ] {
        let roots = roots_for(&tmpdir);
        assert_eq!(roots.roots.len(), 1, "{tmpdir:?}: {roots:?}");
        assert_eq!(roots.roots[0].root, cwd);
        assert_eq!(roots.skipped.len(), 1, "{tmpdir:?}");
        let skipped = &roots.skipped[0];
        assert_eq!(skipped.path, tmpdir);
        assert_eq!(skipped.reason, SkipReason::ContainsProtectedPath);
        let held = skipped.protected.clone().unwrap();
        assert!(
            held.starts_with(real(&tmpdir)),
            "{held:?} not in {tmpdir:?}"
        );
        if let Some(expected) = protected {
            assert_eq!(held, expected, "{tmpdir:?}");
        }
        assert!(
            skipped.to_string().contains("must stay read-only"),
            "{skipped}"
        );
    }
    // The working directory itself adds nothing and is no threat.
    let roots = roots_for(&cwd);
    assert!(roots.skipped.is_empty(), "{:?}", roots.skipped);
    fs::create_dir(cwd.join(".agents")).unwrap();
    let roots = roots_for(&cwd.join(".agents"));
    assert_eq!(roots.skipped[0].reason, SkipReason::ContainsProtectedPath);

    // Harmless temp dirs are still roots: a sibling, or one inside the home.
    let inside_home = home.join("tmp");
    fs::create_dir(&inside_home).unwrap();
    for ok in [&sibling, &inside_home] {
        let roots = roots_for(ok);
        assert!(roots.skipped.is_empty(), "{ok:?}: {:?}", roots.skipped);
        assert!(roots.roots.iter().any(|r| &r.root == ok));
    }
    // A symlink to a protected directory is judged by its target.
    let link = sibling.join("link-to-home");
    symlink(&home, &link).unwrap();
    assert_eq!(
        roots_for(&link).skipped[0].reason,
        SkipReason::ContainsProtectedPath
    );
}
