//! `validate`, `init`, `explain` and `launch` on real files, through the binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::codex_policy_bin;
use common::escape::{skip, skip_reason};

fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let output = Command::new(codex_policy_bin())
        .env_clear()
        .env("HOME", dir)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn corpus(case: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../policy-model/tests/corpus")
        .join(case)
}

/// A project directory outside the shared temp dirs: files in `/tmp` count as
/// ones a sandboxed command could have planted, and may not loosen.
fn project_dir() -> tempfile::TempDir {
    tempfile::tempdir_in(common::escape::fixture_base().expect("a fixture base")).unwrap()
}

#[test]
fn init_writes_each_pattern_clean_and_never_overwrites() {
    for pattern in ["development", "sandbox", "production", "air-gapped"] {
        let dir = project_dir();
        let (status, _, err) = run_in(dir.path(), &["init", "--pattern", pattern]);
        assert_eq!(status, 0, "{err}");
        let (status, out, _) = run_in(dir.path(), &["validate", "--strict"]);
        assert_eq!(status, 0, "{pattern}: {out}");
        assert!(out.contains("0 error(s), 0 warning(s)"), "{out}");

        std::fs::write(dir.path().join("harness.policy.json"), "{}").unwrap();
        let (status, _, err) = run_in(dir.path(), &["init", "--pattern", pattern]);
        assert_eq!(status, 1);
        assert!(err.contains("--force"), "{err}");
        assert!(err.contains(" already exist; nothing was written"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("harness.policy.json")).unwrap(),
            "{}"
        );
        let (status, _, _) = run_in(dir.path(), &["init", "--pattern", pattern, "--force"]);
        assert_eq!(status, 0);
    }
    let dir = tempfile::tempdir().unwrap();
    let (status, _, err) = run_in(dir.path(), &["init", "--pattern", "staging"]);
    assert_eq!(status, 2, "{err}");
}

#[test]
fn validate_exit_codes_json_and_strict() {
    let dir = tempfile::tempdir().unwrap();
    let case = corpus("allowlist-differs");
    let runtime = case.join(".codexrc.json");
    let policy = case.join("harness.policy.json");
    let args = [
        "validate",
        "--runtime",
        runtime.to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
    ];
    let (status, _, _) = run_in(dir.path(), &args);
    assert_eq!(status, 0, "warnings alone pass");
    let (status, _, _) = run_in(dir.path(), &[&args[..], &["--strict"]].concat());
    assert_eq!(status, 1, "--strict fails on warnings");
    let (status, out, _) = run_in(dir.path(), &[&args[..], &["--json"]].concat());
    assert_eq!(status, 0);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["warnings"], 1);
    assert_eq!(report["findings"][0]["code"], "CP0011");
    assert!(report["findings"][0]["line"].is_number());

    let bad = corpus("production-monitor-mode");
    let (status, out, _) = run_in(&bad, &["validate"]);
    assert_eq!(status, 1, "{out}");
    assert!(
        out.contains("harness.policy.json:16:3: error CP0012"),
        "{out}"
    );

    let (status, out, _) = run_in(dir.path(), &["validate"]);
    assert_eq!(status, 1);
    assert!(out.contains("CP0006"), "{out}");
    let (status, out, _) = run_in(dir.path(), &["validate", "--policy", "/nonexistent/p.json"]);
    assert_eq!(status, 1);
    assert!(out.contains("CP0001"), "{out}");
}

#[test]
fn explain_json_names_the_deciding_file_for_each_domain_and_deny_on_violation() {
    let case = corpus("valid-production-with-requirements");
    let (status, out, err) = run_in(
        &case,
        &[
            "--profile",
            "workspace-net",
            "explain",
            "--requirements",
            "requirements.toml",
            "--json",
        ],
    );
    assert_eq!(status, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    let effective = &report["effective"];
    assert!(
        effective["deny_on_violation"]["decided_by"]
            .as_str()
            .unwrap()
            .contains("harness.policy.json:")
    );
    assert_eq!(effective["network"]["value"], "allowlist");
    assert!(
        effective["network"]["decided_by"]
            .as_str()
            .unwrap()
            .contains("harness.policy.json")
    );
    let domains = effective["domains"].as_array().unwrap();
    assert!(!domains.is_empty());
    for d in domains {
        let by = d["decided_by"].as_str().unwrap();
        assert!(
            by.contains(".codexrc.json:")
                || by.contains("harness.policy.json:")
                || by.contains("requirements.toml:"),
            "{d}"
        );
    }
    let decision = |pattern: &str, file: &str| {
        domains
            .iter()
            .find(|d| d["pattern"] == pattern && d["decided_by"].as_str().unwrap().contains(file))
            .map(|d| d["decision"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        decision("api.example.com", "requirements.toml").as_deref(),
        Some("allow")
    );
    assert_eq!(
        decision("api.example.com", ".codexrc.json").as_deref(),
        Some("not-allowed")
    );
    assert_eq!(
        decision("**.tracker.example", "requirements.toml").as_deref(),
        Some("deny")
    );
}

#[test]
fn launch_validates_first_injects_the_environment_and_propagates_status() {
    if let Some(reason) = skip_reason() {
        return skip("launch_validates_first", &reason);
    }
    let dir = tempfile::tempdir_in(common::escape::fixture_base().unwrap()).unwrap();
    let (status, _, _) = run_in(dir.path(), &["init", "--pattern", "sandbox"]);
    assert_eq!(status, 0);
    let (status, out, err) = run_in(
        dir.path(),
        &[
            "--profile",
            "workspace",
            "launch",
            "--",
            "sh",
            "-c",
            "echo $CODEX_CONTEXT_NAME $CODEX_NETWORK_ACCESS $(basename $CODEX_POLICY_FILE) $(basename $CODEX_RUNTIME_CONFIG); exit 7",
        ],
    );
    assert_eq!(status, 7, "{err}");
    assert_eq!(
        out.trim(),
        "sandbox enabled harness.policy.json .codexrc.json"
    );

    // A broken file: nothing starts, status 125.
    std::fs::write(
        dir.path().join("harness.policy.json"),
        r#"{"deny_on_violation": "yes"}"#,
    )
    .unwrap();
    let (status, _, err) = run_in(
        dir.path(),
        &["--profile", "workspace", "launch", "--", "touch", "started"],
    );
    assert_eq!(status, 125, "{err}");
    assert!(
        err.contains("harness.policy.json:1:") && err.contains("nothing was started"),
        "{err}"
    );
    assert!(!dir.path().join("started").exists());
}

#[test]
fn harness_gate_closes_the_network_even_for_a_network_profile() {
    if let Some(reason) = skip_reason() {
        return skip("harness_gate_closes_the_network", &reason);
    }
    let dir = tempfile::tempdir_in(common::escape::fixture_base().unwrap()).unwrap();
    let (status, _, _) = run_in(dir.path(), &["init", "--pattern", "air-gapped"]);
    assert_eq!(status, 0);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (_, _, err) = run_in(
        dir.path(),
        &[
            "--profile",
            "workspace-net",
            "run",
            "--",
            "bash",
            "-c",
            &format!("echo hi > /dev/tcp/127.0.0.1/{port}"),
        ],
    );
    listener.set_nonblocking(true).unwrap();
    assert!(
        listener.accept().is_err(),
        "connected despite network.enabled=false: {err}"
    );
    assert!(err.contains("Operation not permitted"), "{err}");
}

#[test]
fn project_files_are_found_in_the_cwd_given_to_run() {
    let project = project_dir();
    let (status, _, _) = run_in(project.path(), &["init", "--pattern", "production"]);
    assert_eq!(status, 0);
    let elsewhere = tempfile::tempdir().unwrap();
    let (status, out, err) = run_in(
        elsewhere.path(),
        &[
            "explain",
            "--cwd",
            project.path().to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(status, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        report["effective"]["environment"]["value"], "production",
        "{out}"
    );
}
