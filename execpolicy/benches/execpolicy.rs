//! The shape: 1,000 prefix rules (200 programs × 5 rules, each with a
//! two-way alternative in the second token, decisions mixed) and 1,000
//! four-token commands of which 20 % name unknown programs. Measures loading,
//! the plain-argv decision, and shell-wrapper normalization separately.

#![allow(missing_docs, clippy::unwrap_used)]

use codex_execpolicy::{Policy, PolicyLoader};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn rules_text() -> String {
    let decisions = ["allow", "prompt", "forbidden"];
    let mut text = String::new();
    for program in 0..200 {
        for rule in 0..5 {
            text.push_str(&format!(
                "prefix_rule(pattern = [\"prog{program}\", [\"sub{rule}a\", \"sub{rule}b\"], \"arg{rule}\"], decision = \"{}\")\n",
                decisions[(program + rule) % 3]
            ));
        }
    }
    text
}

fn commands() -> Vec<Vec<String>> {
    (0..1_000)
        .map(|i| {
            let program = (i * 7) % 200;
            let rule = i % 5;
            let name = if i % 5 == 0 {
                format!("unknown{i}")
            } else {
                format!("prog{program}")
            };
            let alt = if i % 2 == 0 { "a" } else { "b" };
            vec![
                name,
                format!("sub{rule}{alt}"),
                format!("arg{rule}"),
                format!("file{i}.txt"),
            ]
        })
        .collect()
}

fn load(text: &str) -> Policy {
    let mut loader = PolicyLoader::new();
    loader.load_str("bench.rules", text).unwrap();
    loader.finish()
}

fn bench(c: &mut Criterion) {
    let text = rules_text();
    let policy = load(&text);
    assert_eq!(policy.prefix_rule_count(), 1_000);
    let commands = commands();
    let decided = commands
        .iter()
        .filter(|c| policy.check(c).decision.is_some())
        .count();
    assert_eq!(decided, 800, "80 % of the commands name known programs");

    c.bench_function("execpolicy/load_1000_prefix_rules", |b| {
        b.iter(|| load(black_box(&text)))
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
                .filter(|c| policy.check(black_box(c)).decision.is_some())
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
