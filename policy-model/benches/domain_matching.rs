//! Domain matching at scale: 10,000 patterns (exact, `*.x`, `**.x` mixed),
//! 1,000 lookups per iteration, three quarters of them hits. Reports lookups per
//! second for already normalized names, and the cost of normalizing raw ones.

#![allow(missing_docs, clippy::unwrap_used)]

use codex_policy_model::{DomainMatcher, DomainPattern, Host};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

fn patterns() -> Vec<DomainPattern> {
    (0..10_000)
        .map(|i| match i % 3 {
            0 => format!("svc{i}.team{}.example{}.com", i % 97, i % 13),
            1 => format!("*.team{i}.corp{}.net", i % 7),
            _ => format!("**.zone{i}.org"),
        })
        .map(|text| text.parse().unwrap())
        .collect()
}

/// Raw names as a client would send them (mixed case, some trailing dots): one
/// quarter each exact hits, subdomain hits, apex-and-subdomain hits, misses.
fn raw_names() -> Vec<String> {
    (0..1_000)
        .map(|i| {
            let m = (i * 7919) % 3_333;
            match i % 4 {
                0 => {
                    let k = 3 * m;
                    format!("Svc{k}.Team{}.Example{}.com", k % 97, k % 13)
                }
                1 => {
                    let k = 3 * m + 1;
                    format!("api.TEAM{k}.corp{}.net.", k % 7)
                }
                2 => format!("deep.a.Zone{}.org", 3 * m + 2),
                _ => format!("miss{i}.unknown{}.io", i % 31),
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let patterns = patterns();
    let matcher = DomainMatcher::new(&patterns);
    let raw = raw_names();
    let normalized: Vec<String> = raw
        .iter()
        .map(|r| match Host::parse(r).unwrap() {
            Host::Name(name) => name.as_str().to_owned(),
            Host::Ip(ip) => ip.to_string(),
        })
        .collect();
    let hits = normalized
        .iter()
        .filter(|n| matcher.matches_normalized(n))
        .count();
    assert!(
        (700..=800).contains(&hits),
        "fixture should be ~75% hits, got {hits}"
    );

    let mut group = c.benchmark_group("domain_matching");
    group.throughput(Throughput::Elements(normalized.len() as u64));
    group.bench_function("lookup_normalized_10k_patterns", |b| {
        b.iter(|| {
            normalized
                .iter()
                .filter(|n| matcher.matches_normalized(black_box(n)))
                .count()
        })
    });
    group.bench_function("normalize_only", |b| {
        b.iter(|| {
            raw.iter()
                .filter(|r| Host::parse(black_box(r)).is_ok())
                .count()
        })
    });
    group.bench_function("normalize_and_lookup", |b| {
        b.iter(|| {
            raw.iter()
                .filter(|r| Host::parse(black_box(r)).is_ok_and(|h| matcher.matches(&h)))
                .count()
        })
    });
    group.finish();
    c.bench_function("domain_matcher_build_10k_patterns", |b| {
        b.iter(|| DomainMatcher::new(black_box(&patterns)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
