//! What making a Seatbelt profile costs, once per session on macOS: the
//! workspace policy's profile with no hidden path and with every default
//! credential store hidden (28 paths, each matched as given and resolved),
//! against the model's own writable-roots computation the profile builds on.

#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;

use codex_policy_model::{DEFAULT_HIDDEN_IN_HOME, SandboxPolicy};
use codex_sandbox_macos::{SeatbeltNetwork, SeatbeltProfile};
use criterion::{Criterion, criterion_group, criterion_main};

fn seatbelt(c: &mut Criterion) {
    let home = tempfile::tempdir().unwrap();
    let project = home.path().join("project");
    std::fs::create_dir_all(project.join(".git/hooks")).unwrap();
    let policy = SandboxPolicy::workspace_write(false);
    let hidden: Vec<_> = DEFAULT_HIDDEN_IN_HOME
        .iter()
        .map(|relative| home.path().join(relative))
        .collect();
    let mut group = c.benchmark_group("seatbelt");
    group.bench_function("writable_roots_baseline", |b| {
        b.iter(|| black_box(policy.writable_roots(&project, None).unwrap()))
    });
    group.bench_function("profile_workspace", |b| {
        b.iter(|| {
            black_box(
                SeatbeltProfile::builder(&policy, &project)
                    .tmpdir(None)
                    .build()
                    .unwrap(),
            )
        })
    });
    group.bench_function("profile_workspace_28_hidden_proxy", |b| {
        b.iter(|| {
            black_box(
                SeatbeltProfile::builder(&policy, &project)
                    .tmpdir(None)
                    .hidden_paths(hidden.iter().cloned())
                    .network(SeatbeltNetwork::Proxy {
                        http: 3128,
                        socks: 1080,
                    })
                    .build()
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, seatbelt);
criterion_main!(benches);
