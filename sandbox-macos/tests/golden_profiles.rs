//! Golden profiles: each case's text and parameters, compared with the file
//! in `tests/golden/`. The fixture's directory is written `$ROOT` in the
//! parameters; the text holds no path at all. `UPDATE_GOLDEN=1 cargo test`
//! rewrites the files — review the diff.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use codex_policy_model::SandboxPolicy;
use codex_sandbox_macos::{SeatbeltNetwork, SeatbeltProfile, UnixSockets};
use common::{Fixture, check_profile, workspace};

fn golden(name: &str, fixture: &Fixture, profile: &SeatbeltProfile) {
    check_profile(profile);
    let root = fixture.root.to_str().expect("UTF-8 fixture");
    let mut actual = profile.text().to_owned();
    actual.push_str("\n;;;; parameters, passed as -D NAME=VALUE (not part of the profile)\n");
    for (name, value) in profile.parameters() {
        let value = value.to_str().expect("UTF-8 value").replace(root, "$ROOT");
        actual.push_str(&format!("; {name}={value}\n"));
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.sb"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with UPDATE_GOLDEN=1)", path.display()));
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name}: differs from {} at line {}\n--- actual ---\n{actual}",
            path.display(),
            line + 1
        );
    }
}

#[test]
fn read_only() {
    let f = Fixture::new();
    let p = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .build()
        .expect("profile");
    golden("read_only", &f, &p);
}

#[test]
fn workspace_write_with_git() {
    let f = Fixture::new();
    f.mkdir(".git/hooks");
    let p = f
        .builder(&workspace(vec![], false), &f.root)
        .build()
        .expect("profile");
    golden("workspace_git", &f, &p);
}

#[test]
fn workspace_extra_roots_without_slash_tmp() {
    let f = Fixture::new();
    let cwd = f.mkdir("project");
    f.mkdir("cache");
    f.mkdir("project/.git");
    let policy = workspace(vec!["../cache".into(), f.root.join("missing")], false);
    let p = f.builder(&policy, &cwd).build().expect("profile");
    golden("workspace_extra_roots", &f, &p);
}

#[test]
fn network_full() {
    let f = Fixture::new();
    let p = f
        .builder(&workspace(vec![], true), &f.root)
        .build()
        .expect("profile");
    golden("network_full", &f, &p);
}

#[test]
fn network_proxy() {
    let f = Fixture::new();
    let p = f
        .builder(&workspace(vec![], false), &f.root)
        .network(SeatbeltNetwork::Proxy {
            http: 3128,
            socks: 1080,
        })
        .build()
        .expect("profile");
    golden("network_proxy", &f, &p);
}

#[test]
fn unix_sockets_allowed() {
    let f = Fixture::new();
    let p = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .unix_sockets(UnixSockets::Allow(vec![
            f.root.join("agent.sock"),
            f.root.join("run"),
        ]))
        .build()
        .expect("profile");
    golden("unix_sockets_allow", &f, &p);
}

#[test]
fn unix_sockets_all() {
    let f = Fixture::new();
    let p = f
        .builder(&SandboxPolicy::read_only(), &f.root)
        .unix_sockets(UnixSockets::AllowAll)
        .build()
        .expect("profile");
    golden("unix_sockets_all", &f, &p);
}

#[test]
fn hidden_paths() {
    let f = Fixture::new();
    let cwd = f.mkdir("project");
    let p = f
        .builder(&workspace(vec![], false), &cwd)
        .hidden_paths([f.root.join("home/.ssh"), cwd.join("deep/.env")])
        .build()
        .expect("profile");
    golden("hidden_paths", &f, &p);
}

#[test]
fn protected_paths() {
    let f = Fixture::new();
    let p = f
        .builder(&workspace(vec![], false), &f.root)
        .protected_paths([f.root.join("logs/audit.jsonl"), f.root.join("codex-home")])
        .build()
        .expect("profile");
    golden("protected_paths", &f, &p);
}

/// The report's sample: a workspace with one `.git` root, the egress proxy,
/// one hidden path.
#[test]
fn sample_workspace_proxy_hidden() {
    let f = Fixture::new();
    let cwd = f.mkdir("project");
    f.mkdir("project/.git");
    let p = f
        .builder(&workspace(vec![], false), &cwd)
        .network(SeatbeltNetwork::Proxy {
            http: 3128,
            socks: 1080,
        })
        .hidden_paths([f.root.join("home/.aws")])
        .build()
        .expect("profile");
    golden("sample_workspace_proxy_hidden", &f, &p);
}
