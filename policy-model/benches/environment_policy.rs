//! The environment policy on a realistic environment: 200 variables, a
//! quarter of them named like credentials or holding one, filtered with the
//! default policy and with a configured one (`exclude`, `include_only`,
//! `set`). What every command of a session pays before it starts.

#![allow(missing_docs, clippy::unwrap_used)]

use std::ffi::OsString;
use std::hint::black_box;

use codex_policy_model::{CodexConfig, EnvironmentPolicy, SourceFile};
use criterion::{Criterion, criterion_group, criterion_main};

fn environment() -> Vec<(OsString, OsString)> {
    (0..200)
        .map(|i| {
            let (name, value) = match i % 8 {
                0 => (format!("SERVICE_{i}_TOKEN"), format!("t{i}")),
                1 => (
                    format!("DATABASE_URL_{i}"),
                    format!("postgres://app:pw{i}@db/app"),
                ),
                _ => (
                    format!("BUILD_SETTING_{i}"),
                    format!("/usr/local/lib/value-{i}:/opt/tool/{i}/bin"),
                ),
            };
            (name.into(), value.into())
        })
        .collect()
}

fn configured() -> EnvironmentPolicy {
    let source = SourceFile::from_bytes(
        std::path::Path::new("config.toml"),
        b"[shell_environment_policy]\nexclude = [\"AWS_*\", \"*_PRIVATE\"]\n\
          include_only = [\"PATH\", \"HOME\", \"BUILD_*\", \"CI\"]\nset = { CI = \"1\" }\n"
            .to_vec(),
    )
    .unwrap();
    let config = CodexConfig::parse(&source).unwrap();
    EnvironmentPolicy::from_config(&source, config.shell_environment_policy.as_ref()).unwrap()
}

fn bench(c: &mut Criterion) {
    let vars = environment();
    let default = EnvironmentPolicy::default();
    let configured = configured();
    let mut group = c.benchmark_group("environment");
    group.bench_function("apply_default_200_variables", |b| {
        b.iter(|| black_box(default.apply(black_box(vars.clone()))));
    });
    group.bench_function("apply_configured_200_variables", |b| {
        b.iter(|| black_box(configured.apply(black_box(vars.clone()))));
    });
    group.bench_function("clone_200_variables_baseline", |b| {
        b.iter(|| black_box(black_box(&vars).clone()));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
