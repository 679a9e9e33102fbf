//! The validation corpus: every directory under `tests/corpus/` holds some of
//! `.codexrc.json`, `harness.policy.json`, `config.toml`, `requirements.toml`
//! and an `expected` file listing the exact findings, one per line:
//! `CODE severity file:line:column key`. Run with `CORPUS_BLESS=1` to rewrite
//! the expectations after a deliberate change, then review the diff.
//!
//! Hostile inputs too large to commit (10 MB) are generated here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use codex_policy_model::NaiveDate;
use codex_policy_model::validate::{Finding, ValidationInputs, validate};

/// The date the files are validated on: these tests write no expiry date.
const TODAY: NaiveDate = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();

fn inputs(dir: &Path) -> ValidationInputs {
    let file = |name: &str| Some(dir.join(name)).filter(|p| p.exists());
    ValidationInputs {
        runtime: file(".codexrc.json"),
        policy: file("harness.policy.json"),
        config: file("config.toml"),
        requirements: file("requirements.toml"),
    }
}

fn line(finding: &Finding) -> String {
    let place = match (&finding.file, finding.line, finding.column) {
        (Some(file), Some(l), Some(c)) => {
            format!("{}:{l}:{c}", file.file_name().unwrap().to_string_lossy())
        }
        _ => "-".into(),
    };
    format!(
        "{} {} {place} {}",
        finding.code,
        finding.severity,
        finding.key.as_deref().unwrap_or("-")
    )
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn every_case_gives_exactly_the_expected_findings() {
    let bless = std::env::var_os("CORPUS_BLESS").is_some();
    let mut mismatches = Vec::new();
    let mut files = 0;
    for dir in cases() {
        let inputs = inputs(&dir);
        files += [
            &inputs.runtime,
            &inputs.policy,
            &inputs.config,
            &inputs.requirements,
        ]
        .iter()
        .filter(|f| f.is_some())
        .count();
        let got: Vec<String> = validate(&inputs, TODAY).findings.iter().map(line).collect();
        let expected_path = dir.join("expected");
        if bless {
            let text: String = got.iter().map(|l| format!("{l}\n")).collect();
            std::fs::write(&expected_path, text).unwrap();
            continue;
        }
        let expected: Vec<String> = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("{} has no expected file", dir.display()))
            .lines()
            .map(str::to_owned)
            .collect();
        if got != expected {
            mismatches.push(format!(
                "{}:\n  expected {expected:#?}\n  got      {got:#?}",
                dir.file_name().unwrap().to_string_lossy()
            ));
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("valid-") {
            assert!(got.is_empty(), "{name} must be clean: {got:?}");
        } else {
            assert!(!got.is_empty(), "{name} must produce a finding");
        }
    }
    assert!(files >= 60, "the corpus has {files} configuration files");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn no_finding_message_contains_a_secret_value() {
    for dir in cases()
        .into_iter()
        .filter(|d| d.to_string_lossy().contains("secret"))
    {
        for finding in validate(&inputs(&dir), TODAY).findings {
            let text = finding.to_string();
            for secret in [
                "sk-1234567890",
                "actual-password-here",
                "ghp_abcdef",
                "AKIAIOSFODNN7EXAMPLE",
                "hunter2",
            ] {
                assert!(
                    !text.contains(secret),
                    "{} leaks {secret}: {text}",
                    dir.display()
                );
            }
        }
    }
}

#[test]
fn a_ten_megabyte_file_is_refused_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".codexrc.json");
    let mut text = String::from(
        "{\"environment_context\": {\"name\": \"dev\"}, \"environments\": {\"dev\": {\"blob\": \"",
    );
    text.push_str(&"x".repeat(10 * 1024 * 1024));
    text.push_str("\"}}}");
    std::fs::write(&path, text).unwrap();
    let findings = validate(
        &ValidationInputs {
            runtime: Some(path.clone()),
            ..Default::default()
        },
        TODAY,
    )
    .findings;
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0].code, "CP0001");
    assert!(
        findings[0].message.contains("larger than"),
        "{}",
        findings[0].message
    );
    assert_eq!(findings[0].file.as_deref(), Some(path.as_path()));
}

#[test]
fn missing_files_and_nothing_to_validate() {
    let findings = validate(
        &ValidationInputs {
            policy: Some(PathBuf::from("/nonexistent/harness.policy.json")),
            ..Default::default()
        },
        TODAY,
    )
    .findings;
    assert_eq!(findings[0].code, "CP0001");
    assert_eq!(
        validate(&ValidationInputs::default(), TODAY).findings[0].code,
        "CP0006"
    );
}

#[test]
fn composition_never_loosens_the_profile() {
    use codex_policy_model::SandboxPolicy;
    use codex_policy_model::effective::{NetworkLevel, compose};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let profiles = [
        SandboxPolicy::read_only(),
        SandboxPolicy::ReadOnly {
            network_access: true,
        },
        SandboxPolicy::workspace_write(false),
        SandboxPolicy::workspace_write(true),
        SandboxPolicy::DangerFullAccess,
    ];
    for dir in cases().into_iter().filter(|d| d.starts_with(&root)) {
        let files = validate(&inputs(&dir), TODAY);
        if files.fails(false) {
            continue;
        }
        for profile in &profiles {
            let effective = compose(profile, "profile", "workspace", &files);
            let policy = &effective.sandbox_policy.value;
            // Never more network, never more writes than the profile.
            assert!(
                !policy.has_network_access() || profile.has_network_access(),
                "{dir:?}"
            );
            assert!(
                !policy.allows_any_write() || profile.allows_any_write(),
                "{dir:?}"
            );
            assert!(!policy.has_full_disk_write_access() || profile.has_full_disk_write_access());
            if !profile.has_network_access() {
                assert_eq!(effective.network.value, NetworkLevel::Off, "{dir:?}");
            }
            // A closed harness gate closes the network whatever the profile.
            if files
                .harness
                .as_ref()
                .is_some_and(|h| !h.value.network.enabled)
            {
                assert!(!policy.has_network_access(), "{dir:?}");
            }
        }
    }
}
