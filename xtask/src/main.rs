//! Project tasks, run as `cargo xtask <task>`.
//!
//! - `ci`: exactly what `.ci/run` checks: formatting, clippy with warnings denied
//!   (the workspace, and the facade as an embedder builds it without default
//!   features), committed JSON Schemas up to date, the README's test command, and
//!   the library example run, closing with one total line (`tests: N passed, N
//!   failed, N skipped`) summed over every test binary; a test that printed
//!   `SKIPPED name: reason` counts as skipped, not passed.
//! - `bench`: sandbox start-up against bare `true` and bubblewrap (hyperfine),
//!   `validate` against bare `true`, and the criterion benchmarks, written into
//!   `docs/benchmarks.md`. `bench egress` runs only the egress proxy's section,
//!   `bench limited` only the read-only network's (HTTPS inspected),
//!   `bench validate` only `validate`'s.
//! - `schema [--check]`: regenerate (or check) `docs/schemas/*.schema.json`.
//! - `check-examples`: every public entry point of the library crates has a
//!   doc-test example (run by `ci` too).
//! - `check-macos`: `cargo check` for macOS (run by `ci` where the target is
//!   installed).

mod bench;
mod bench_limited;
mod examples;
mod schema;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, ExitCode, Stdio};

/// The README's test command. `.ci/run` and `cargo xtask ci` both run it.
const TEST_COMMAND: &[&str] = &["test", "--workspace"];

/// Set on a host that cannot run every test (no user namespaces, not
/// root, no curl): its skips are then reported, not failed.
const ALLOW_SKIPS: &str = "CODEX_ALLOW_SKIPS";

/// The checks before the tests, cheapest first.
const CHECKS: &[&[&str]] = &[
    &["fmt", "--all", "--", "--check"],
    &[
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ],
    // The facade as an embedder who wants profiles, the sandbox and the audit
    // log builds it (README): no clap, no Starlark, no shell parser.
    &[
        "clippy",
        "-p",
        "codex-policy",
        "--no-default-features",
        "--",
        "-D",
        "warnings",
    ],
    // Every published crate packages: metadata, license files, readme, and
    // versioned dependencies on each other. Not rebuilt from the packages
    // (--no-verify): the tests below build the same sources.
    &[
        "package",
        "--workspace",
        "--exclude",
        "xtask",
        "--no-verify",
        "--allow-dirty",
        "--quiet",
    ],
];

/// The library example, run after the tests: a session from build to audit.
const EXAMPLE: &[&str] = &[
    "run",
    "--quiet",
    "-p",
    "codex-policy",
    "--example",
    "harness",
];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // Every task works from the workspace root, wherever it was started.
    if let Err(e) = std::env::set_current_dir(workspace_root()) {
        eprintln!("xtask: cannot enter the workspace root: {e}");
        return ExitCode::FAILURE;
    }
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["ci"] => report(ci()),
        ["bench"] => report(bench::bench()),
        ["bench", "egress"] => report(bench::section_only("egress")),
        ["bench", "limited"] => report(bench::section_only("limited")),
        ["bench", "secrets"] => report(bench::section_only("secrets")),
        ["bench", "seatbelt"] => report(bench::section_only("seatbelt")),
        ["bench", "validate"] => report(bench::section_only("validate")),
        ["check-macos"] => report(check_macos()),
        ["check-examples"] => report(examples::check_examples(&workspace_root())),
        ["schema"] => report(schema::schema(false)),
        ["schema", "--check"] => report(schema::schema(true)),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | bench [egress|limited|secrets|seatbelt|validate] | schema [--check] | check-macos | check-examples"
            );
            ExitCode::from(2)
        }
    }
}

fn report(result: Result<(), String>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The macOS target `check-macos` builds for.
const MACOS_TARGET: &str = "x86_64-apple-darwin";

/// `cargo check` of the facade (library and binary) and of the Seatbelt
/// crate with its tests for macOS, from any
/// host with the target installed: the Seatbelt backend's code paths are
/// compiled at least. `ring` compiles C in its build script; a check links
/// nothing, so a stand-in compiler writes empty objects (`xtask/stub-cc`).
fn check_macos() -> Result<(), String> {
    if !macos_target_installed() {
        return Err(format!(
            "the {MACOS_TARGET} target is not installed: `rustup target add {MACOS_TARGET}`"
        ));
    }
    let stub = workspace_root().join("xtask/stub-cc");
    let key = MACOS_TARGET.replace('-', "_");
    // The facade's library and binary; the Seatbelt crate with its tests.
    for args in [
        &["check", "-p", "codex-policy"][..],
        &["check", "-p", "codex-sandbox-macos", "--all-targets"],
    ] {
        eprintln!("xtask: cargo {} --target {MACOS_TARGET}", args.join(" "));
        let status = cargo()
            .args(args)
            .args(["--target", MACOS_TARGET])
            .env(format!("CC_{key}"), &stub)
            .env(format!("AR_{key}"), "ar")
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("the macOS check failed ({status})"));
        }
    }
    Ok(())
}

fn macos_target_installed() -> bool {
    Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == MACOS_TARGET)
        })
        .unwrap_or(false)
}

/// The workspace root: the directory above this crate's.
fn workspace_root() -> std::path::PathBuf {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Where cargo puts what it builds, as cargo itself says
/// (`CARGO_TARGET_DIR`, `build.target-dir` or `target/`).
fn target_dir() -> Result<std::path::PathBuf, String> {
    let output = cargo()
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("cannot run cargo metadata: {e}"))?;
    if !output.status.success() {
        return Err("cargo metadata failed".into());
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)
        .map_err(|e| format!("cargo metadata's output: {e}"))?;
    metadata["target_directory"]
        .as_str()
        .map(std::path::PathBuf::from)
        .ok_or_else(|| "cargo metadata names no target directory".into())
}

fn cargo_path() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn cargo() -> Command {
    Command::new(cargo_path())
}

fn ci() -> Result<(), String> {
    for step in CHECKS {
        eprintln!("xtask: cargo {}", step.join(" "));
        let status = cargo()
            .args(*step)
            .status()
            .map_err(|e| format!("cannot run cargo: {e}"))?;
        if !status.success() {
            return Err(format!("`cargo {}` failed ({status})", step.join(" ")));
        }
    }
    // The API documentation builds without a warning (every intra-doc link
    // resolves, no link to a private item).
    eprintln!("xtask: RUSTDOCFLAGS=\"-D warnings\" cargo doc --workspace --no-deps");
    let status = cargo()
        .args(["doc", "--workspace", "--no-deps", "--quiet"])
        .env("RUSTDOCFLAGS", "-D warnings")
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo doc` failed ({status})"));
    }
    eprintln!("xtask: cargo xtask schema --check");
    schema::schema(true)?;
    eprintln!("xtask: cargo xtask check-examples");
    examples::check_examples(&workspace_root())?;
    if macos_target_installed() {
        check_macos()?;
    } else {
        eprintln!(
            "xtask: not checking the macOS build: the {MACOS_TARGET} target is not installed"
        );
    }
    run_tests()?;
    eprintln!("xtask: cargo {}", EXAMPLE.join(" "));
    let status = cargo()
        .args(EXAMPLE)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err(format!("`cargo {}` failed ({status})", EXAMPLE.join(" ")));
    }
    Ok(())
}

/// Runs the test command, passing its output through while adding up the
/// `test result:` lines of every test binary.
fn run_tests() -> Result<(), String> {
    eprintln!("xtask: cargo {}", TEST_COMMAND.join(" "));
    let mut child = cargo()
        .args(TEST_COMMAND)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let mut totals = Totals::default();
    // Skips are printed on standard error (uncaptured): passed through and
    // counted on a thread of their own, so neither pipe can fill up.
    let skipped = child.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            let mut count = 0u64;
            let mut err = std::io::stderr().lock();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                count += u64::from(line.starts_with("SKIPPED "));
                let _ = writeln!(err, "{line}");
            }
            count
        })
    });
    if let Some(stdout) = child.stdout.take() {
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(stdout).lines() {
            let line = line.map_err(|e| format!("reading test output: {e}"))?;
            totals.add(&line);
            writeln!(out, "{line}").map_err(|e| format!("writing test output: {e}"))?;
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for cargo: {e}"))?;
    let skipped = skipped
        .and_then(|reader| reader.join().ok())
        .unwrap_or_default();
    // A skipping test returns early and libtest counts it as passed.
    totals.passed = totals.passed.saturating_sub(skipped);
    totals.ignored += skipped;
    println!(
        "tests: {} passed, {} failed, {} skipped",
        totals.passed, totals.failed, totals.ignored
    );
    if !status.success() {
        return Err(format!(
            "`cargo {}` failed ({status})",
            TEST_COMMAND.join(" ")
        ));
    }
    if totals.passed == 0 {
        return Err("no test ran".to_owned());
    }
    // CI's host runs every test: a skip there is a test that did not run
    // and would pass unnoticed. A host that lacks what a test needs says so.
    if skipped > 0 && std::env::var_os(ALLOW_SKIPS).is_none() {
        return Err(format!(
            "{skipped} test(s) skipped, each saying why above; this host is expected to run \
             every test (on a host that lacks what they need, set {ALLOW_SKIPS}=1)"
        ));
    }
    Ok(())
}

#[derive(Default)]
struct Totals {
    passed: u64,
    failed: u64,
    ignored: u64,
}

impl Totals {
    /// Adds one libtest summary: `test result: ok. 8 passed; 0 failed; 1 ignored; …`.
    fn add(&mut self, line: &str) {
        let Some(rest) = line.strip_prefix("test result: ") else {
            return;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(count) = count.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                "ignored" => self.ignored += count,
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Totals;

    #[test]
    fn adds_libtest_summaries() {
        let mut totals = Totals::default();
        totals.add("test result: ok. 8 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.04s");
        totals
            .add("test result: FAILED. 2 passed; 3 failed; 0 ignored; 0 measured; 0 filtered out");
        totals.add("running 8 tests");
        assert_eq!((totals.passed, totals.failed, totals.ignored), (10, 3, 1));
    }
}
