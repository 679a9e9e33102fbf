//! The goal: at least 200,000 events per second on one thread, with
//! redaction on. Measures redaction alone and the full record path (redact,
//! serialize, one `write(2)` per event to a real file, no fsync) over a mix of
//! clean targets and targets carrying secrets, URLs with credentials and home
//! paths.

#![allow(missing_docs, clippy::unwrap_used)]

use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, Redactor, SinkOptions};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const TARGETS: [&str; 8] = [
    "git status",
    "cargo test --workspace",
    "curl -H 'Authorization: Bearer abcdefghijklmnop1234' https://api.example.com/v1",
    "cat /home/alice/.ssh/config",
    "git clone https://bob:hunter2@git.example.com/repo.git",
    "ls -la /usr/share/doc",
    "env AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY aws s3 ls",
    "wget https://example.com/file?token=deadbeefcafe&x=1",
];

fn events() -> Vec<AuditEvent> {
    (0..1_000)
        .map(|i| {
            let decision = if i % 10 == 0 {
                AuditDecision::Denied
            } else {
                AuditDecision::Allowed
            };
            AuditEvent::now(
                "bench-session",
                Operation::CommandExec,
                TARGETS[i % TARGETS.len()],
                decision,
                "execpolicy",
            )
            .with_reason("matched prefix rule")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let redactor = Redactor::with_home(Some("/home/alice".into()), &[]);
    let mut group = c.benchmark_group("audit");
    group.throughput(Throughput::Elements(TARGETS.len() as u64));
    group.bench_function("redact_8_targets", |b| {
        b.iter(|| {
            for target in TARGETS {
                black_box(redactor.redact(black_box(target)));
            }
        });
    });

    let dir = tempfile::tempdir().unwrap();
    let options = SinkOptions::default().with_max_bytes(None);
    let mut sink = AuditSink::open(&dir.path().join("audit.jsonl"), options).unwrap();
    let batch = events();
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("record_1000_events", |b| {
        b.iter_batched(
            || batch.clone(),
            |events| {
                for event in events {
                    sink.record(event).unwrap();
                }
            },
            BatchSize::LargeInput,
        );
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
