//! The shared workload: `../shared/bench/execpolicy_workload.py` (from the
//! workspace root) writes `rules.star` (1,000 prefix rules) and `argv.txt`
//! (1,000 four-token command lines); this runs it into the target directory
//! and measures, on those files: loading the rules, `Policy::decide` and
//! `Policy::check` over every command line, the same lines wrapped in
//! `bash -lc`, and obtaining the embedded default policy ready to decide.
//! `EXECPOLICY_WORKLOAD` names another copy of the generator.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::process::Command;

use codex_execpolicy::{Policy, PolicyLoader};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Runs the generator and returns the rules text and the command lines.
fn workload() -> (String, Vec<Vec<String>>) {
    let generator = std::env::var_os("EXECPOLICY_WORKLOAD").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../shared/bench/execpolicy_workload.py")
        },
        PathBuf::from,
    );
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("execpolicy-workload");
    std::fs::create_dir_all(&dir).unwrap();
    let status = Command::new("python3")
        .arg(&generator)
        .arg(&dir)
        .status()
        .unwrap_or_else(|e| panic!("python3 {}: {e}", generator.display()));
    assert!(status.success(), "{} failed", generator.display());
    let rules = std::fs::read_to_string(dir.join("rules.star")).unwrap();
    let argv = std::fs::read_to_string(dir.join("argv.txt")).unwrap();
    let commands = argv
        .lines()
        .map(|line| line.split(' ').map(String::from).collect())
        .collect();
    (rules, commands)
}

fn load(text: &str) -> Policy {
    let mut loader = PolicyLoader::new();
    loader.load_str("rules.star", text).unwrap();
    loader.finish()
}

fn bench(c: &mut Criterion) {
    let (text, commands) = workload();
    let policy = load(&text);
    assert_eq!(policy.prefix_rule_count(), 1_000);
    assert_eq!(commands.len(), 1_000);
    assert!(commands.iter().all(|c| c.len() == 4));
    // The same answers from both entry points, and a workload that decides.
    let decided = commands
        .iter()
        .filter(|c| {
            let decision = policy.decide(c);
            assert_eq!(decision, policy.check(c).decision, "{c:?}");
            decision.is_some()
        })
        .count();
    assert!(decided > 0 && decided < 1_000, "{decided} decided");

    c.bench_function("execpolicy/load_1000_prefix_rules", |b| {
        b.iter(|| load(black_box(&text)))
    });
    c.bench_function("execpolicy/default_policy_ready", |b| {
        b.iter(|| {
            black_box(PolicyLoader::with_default_policy())
                .unwrap()
                .finish()
        })
    });

    let mut group = c.benchmark_group("execpolicy");
    group.throughput(Throughput::Elements(commands.len() as u64));
    group.bench_function("decide_plain_argv", |b| {
        b.iter(|| {
            commands
                .iter()
                .filter(|c| policy.decide(black_box(c)).is_some())
                .count()
        })
    });
    group.bench_function("check_plain_argv_with_explanation", |b| {
        b.iter(|| {
            commands
                .iter()
                .map(|c| black_box(policy.check(black_box(c))))
                .filter(|e| e.decision.is_some())
                .count()
        })
    });
    let wrapped: Vec<Vec<String>> = commands
        .iter()
        .map(|c| vec!["bash".into(), "-lc".into(), c.join(" ")])
        .collect();
    group.bench_function("decide_bash_lc_wrapped", |b| {
        b.iter(|| {
            wrapped
                .iter()
                .filter(|c| policy.decide(black_box(c)).is_some())
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
