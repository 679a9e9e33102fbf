//! What a sandboxed command costs an embedder: `Session` spawn-and-wait of
//! `true` (workspace profile, audit off and on) against
//! `std::process::Command` spawn-and-wait of `true`, and against spawning
//! bubblewrap's workspace equivalent, in one run (`cargo xtask bench` reads
//! the medians into docs/benchmarks.md).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use codex_policy::{AuditDestination, Environment, Session};
use criterion::{Criterion, criterion_group, criterion_main};

fn session_spawn(c: &mut Criterion) {
    // Outside /tmp, which the workspace profile may write.
    let base = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).unwrap();
    let workspace = dir.path().join("workspace");
    let home = dir.path().join("home");
    std::fs::create_dir_all(workspace.join(".git")).unwrap();
    std::fs::create_dir_all(home.join(".codex")).unwrap();
    let env = Environment::from_vars([
        ("HOME", home.clone().into_os_string()),
        ("PATH", "/usr/bin:/bin".into()),
    ]);
    let session = |audit: AuditDestination| {
        Session::builder()
            .profile("workspace".parse().unwrap())
            .cwd(&workspace)
            .environment(env.clone())
            .audit(audit)
            .build()
            .expect("a workspace session on this host")
    };
    let quiet = session(AuditDestination::Off);
    let audited = session(AuditDestination::File(home.join("audit.jsonl")));

    let mut group = c.benchmark_group("session");
    group.bench_function("std_command_true", |b| {
        b.iter(|| assert!(Command::new("true").status().unwrap().success()));
    });
    group.bench_function("session_true_audit_off", |b| {
        b.iter(|| assert!(quiet.command(["true"]).status().unwrap().success()));
    });
    group.bench_function("session_true_audit_on", |b| {
        b.iter(|| assert!(audited.command(["true"]).status().unwrap().success()));
    });
    let ws = workspace.display().to_string();
    let git = format!("{ws}/.git");
    let bwrap_available = Command::new("bwrap").arg("--version").output().is_ok();
    if bwrap_available {
        group.bench_function("bwrap_workspace_true", |b| {
            b.iter(|| {
                let status = Command::new("bwrap")
                    .args(["--ro-bind", "/", "/"])
                    .args(["--bind", &ws, &ws, "--bind", "/tmp", "/tmp"])
                    .args(["--ro-bind", &git, &git])
                    .args(["--unshare-user", "--unshare-net", "--unshare-pid"])
                    .args(["--new-session", "--die-with-parent", "--chdir", &ws])
                    .args(["--", "true"])
                    .status()
                    .unwrap();
                assert!(status.success());
            });
        });
    } else {
        eprintln!("SKIPPED bwrap_workspace_true: bubblewrap is not installed");
    }
    group.finish();
}

criterion_group!(benches, session_spawn);
criterion_main!(benches);
