//! `.git`, `.codex`, `.agents` and `.codex-profile` stay read-only in every
//! writable root, whether or not they exist, and their ancestors inside the
//! root cannot be renamed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use codex_sandbox_macos::SeatbeltProfile;
use common::{Fixture, param, workspace};

/// The read-only subpaths the profile excludes from root `i`.
fn read_only_of(profile: &SeatbeltProfile, i: usize) -> Vec<PathBuf> {
    let prefix = format!("WRITABLE_ROOT_{i}_RO_");
    let mut out = Vec::new();
    for (name, value) in profile.parameters() {
        if name.starts_with(&prefix) {
            assert!(
                profile
                    .text()
                    .contains(&format!("(require-not (subpath (param \"{name}\")))")),
                "{name} not excluded"
            );
            out.push(PathBuf::from(value));
        }
    }
    out
}

fn pinned(profile: &SeatbeltProfile) -> Vec<PathBuf> {
    profile
        .parameters()
        .iter()
        .filter(|(n, _)| n.starts_with("PINNED_"))
        .map(|(n, v)| {
            assert!(profile.text().contains(&format!(
                "(deny file-write-unlink (literal (param \"{n}\")))"
            )));
            PathBuf::from(v)
        })
        .collect()
}

#[test]
fn every_root_protects_the_agent_files_and_git_even_absent() {
    let f = Fixture::new();
    let cwd = f.mkdir("a");
    let other = f.mkdir("b");
    let profile = f
        .builder(&workspace(vec![other.clone()], false), &cwd)
        .build()
        .expect("profile");
    for (i, root) in [&cwd, &other].into_iter().enumerate() {
        let ro = read_only_of(&profile, i);
        // `.git` too, though there is none: a command may not make one.
        for name in [".codex", ".agents", ".codex-profile", ".git"] {
            assert!(
                ro.contains(&root.join(name)),
                "{name} of {}",
                root.display()
            );
        }
        assert!(pinned(&profile).contains(root), "root itself pinned");
    }
}

#[test]
fn a_root_with_git_protects_it() {
    let f = Fixture::new();
    f.mkdir(".git/hooks");
    let profile = f
        .builder(&workspace(vec![], false), &f.root)
        .build()
        .expect("profile");
    assert_eq!(
        param(&profile, "WRITABLE_ROOT_0"),
        Some(&f.root.clone().into_os_string())
    );
    let ro = read_only_of(&profile, 0);
    for name in [".git", ".codex", ".agents", ".codex-profile"] {
        assert!(ro.contains(&f.root.join(name)), "{name}");
    }
}

#[test]
fn a_worktree_git_file_protects_its_git_dir() {
    let f = Fixture::new();
    let cwd = f.mkdir("wt");
    let git_dir = f.mkdir("main/.git/worktrees/wt");
    std::fs::write(cwd.join(".git"), format!("gitdir: {}\n", git_dir.display())).expect("write");
    // The git dir lies outside every root: read-only already, so only the
    // pointer file is excluded in the root.
    let profile = f
        .builder(&workspace(vec![], false), &cwd)
        .build()
        .expect("profile");
    assert!(read_only_of(&profile, 0).contains(&cwd.join(".git")));
}

#[test]
fn nested_roots_keep_the_inner_protection_and_pin_the_way() {
    let f = Fixture::new();
    let cwd = f.mkdir("outer/inner");
    f.mkdir("outer/inner/.git");
    let outer = f.root.join("outer");
    let profile = f
        .builder(&workspace(vec![outer.clone()], false), &cwd)
        .build()
        .expect("profile");
    assert!(param(&profile, "WRITABLE_ROOT_1").is_none(), "folded");
    let ro = read_only_of(&profile, 0);
    assert!(ro.contains(&cwd.join(".git")));
    assert!(ro.contains(&cwd.join(".codex")));
    let pins = pinned(&profile);
    assert!(pins.contains(&outer) && pins.contains(&cwd), "{pins:?}");
}

#[test]
fn protected_paths_are_excluded_from_every_root_and_pinned() {
    let f = Fixture::new();
    let a = f.mkdir("a");
    let b = f.mkdir("b");
    let audit = a.join("logs/deep/audit.jsonl");
    let profile = f
        .builder(&workspace(vec![b], false), &a)
        .protected_paths([audit.clone()])
        .build()
        .expect("profile");
    assert_eq!(
        param(&profile, "PROTECTED_0"),
        Some(&audit.clone().into_os_string())
    );
    let text = profile.text();
    assert_eq!(
        text.matches("(require-not (subpath (param \"PROTECTED_0\")))")
            .count(),
        2,
        "{text}"
    );
    let pins = pinned(&profile);
    for dir in [a.join("logs/deep"), a.join("logs"), a.clone()] {
        assert!(
            pins.contains(&dir),
            "{} not pinned: {pins:?}",
            dir.display()
        );
    }
}

#[test]
fn read_only_policies_write_nowhere() {
    let f = Fixture::new();
    let profile = f
        .builder(&codex_policy_model::SandboxPolicy::read_only(), &f.root)
        .build()
        .expect("profile");
    assert!(!profile.text().contains("(allow file-write*"));
    assert!(profile.parameters().is_empty());
}

#[test]
fn case_variants_of_the_protected_names_are_refused_anywhere() {
    let f = Fixture::new();
    let profile = f
        .builder(&workspace(vec![], false), &f.root)
        .build()
        .expect("profile");
    // APFS folds case: `.Codex` is `.codex` to the host. The rules that say
    // so hold no path, and come after every allow (later rules win).
    let text = profile.text();
    let last_allow = text.rfind("(allow file-write*").expect("an allow");
    for rule in [
        r#"(deny file-write* (regex #"/\.[Cc][Oo][Dd][Ee][Xx](/|$)"))"#,
        r#"(deny file-write* (regex #"/\.[Aa][Gg][Ee][Nn][Tt][Ss](/|$)"))"#,
        r#"(deny file-write* (regex #"/\.[Cc][Oo][Dd][Ee][Xx]-[Pp][Rr][Oo][Ff][Ii][Ll][Ee](/|$)"))"#,
        r#"(deny file-write* (regex #"/\.(G[Ii][Tt]|g(I[Tt]|iT))(/|$)"))"#,
    ] {
        let at = text
            .find(rule)
            .unwrap_or_else(|| panic!("{rule} missing:\n{text}"));
        assert!(at > last_allow, "{rule} comes before an allow");
    }
    // A read-only profile has no writable root, and needs none of them.
    let read_only = f
        .builder(&codex_policy_model::SandboxPolicy::read_only(), &f.root)
        .build()
        .expect("profile");
    assert!(!read_only.text().contains("[Cc][Oo][Dd][Ee][Xx]"));
}
