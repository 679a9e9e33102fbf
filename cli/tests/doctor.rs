//! `doctor` reports the host and, per profile, whether it is fully enforceable;
//! `debug landlock` runs the command and lists the rules applied.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::codex_policy;
use common::escape::{Fixture, skip, skip_reason};

#[test]
fn doctor_json_lists_host_and_every_profile() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(home.path(), &[], &["doctor", "--json"]);
    let report = run.json();
    assert!(report["host"]["kernel"].is_string());
    assert!(report["host"]["seccomp"].is_boolean());
    let profiles: Vec<&str> = report["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["profile"].as_str().unwrap())
        .collect();
    assert_eq!(
        profiles,
        [
            "offline",
            "net-read-only",
            "workspace",
            "workspace-net",
            "trusted"
        ]
    );
    let all_ok = report["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["fully_enforceable"] == true);
    assert_eq!(run.status, if all_ok { 0 } else { 1 }, "{}", run.stdout);
    // Trusted asks for nothing, so it is enforceable anywhere.
    assert_eq!(report["profiles"][4]["fully_enforceable"], true);
}

#[test]
fn doctor_human_output_names_each_layer() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(home.path(), &[], &["doctor"]);
    for needle in [
        "kernel:",
        "landlock:",
        "seccomp:",
        "user namespaces:",
        "profile workspace:",
    ] {
        assert!(
            run.stdout.contains(needle),
            "{needle} not in {}",
            run.stdout
        );
    }
}

#[test]
fn debug_landlock_lists_the_rules_applied() {
    if let Some(reason) = skip_reason() {
        return skip("debug_landlock_lists_the_rules_applied", &reason);
    }
    let fixture = Fixture::new();
    let output = fixture
        .invoke("workspace", &["debug", "landlock"], &[], &["true"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    let ws = fixture.workspace.display().to_string();
    for needle in [
        format!("rule: landlock write: {ws}"),
        format!("rule: mount: read-only bind {ws}/.git"),
        format!("rule: mount: pinned (cannot be moved) {ws}"),
        "rule: seccomp EPERM: socket() of any family but AF_UNIX".to_owned(),
        "enforced     file writes confined to the writable roots".to_owned(),
    ] {
        assert!(err.contains(&needle), "{needle:?} not in:\n{err}");
    }
    // The rights by name, not as a Rust debug dump.
    assert!(err.contains(": handled write-file, "), "{err}");
    assert!(!err.contains("BitFlags"), "{err}");
}

/// The read-only network's upstream roots come from `SSL_CERT_FILE` when it
/// is set (as OpenSSL-based tools do); none found is said.
#[test]
fn doctor_reports_the_upstream_roots_of_the_read_only_network() {
    let home = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = params.self_signed(&key).unwrap();
    let roots = home.path().join("roots.pem");
    std::fs::write(&roots, ca.pem()).unwrap();
    let roots = roots.to_str().unwrap();

    let run = codex_policy(
        home.path(),
        &[("SSL_CERT_FILE", roots)],
        &["doctor", "--json"],
    );
    let report = run.json();
    assert_eq!(report["upstream_roots"], 1, "{}", run.stdout);
    assert_eq!(
        report["upstream_roots_origin"],
        format!("SSL_CERT_FILE={roots}")
    );
    let run = codex_policy(home.path(), &[("SSL_CERT_FILE", roots)], &["doctor"]);
    assert!(
        run.stdout.contains(&format!(
            "read-only network: HTTPS inspected; upstream servers verified against 1 \
             certificate(s) from SSL_CERT_FILE={roots}"
        )),
        "{}",
        run.stdout
    );

    let missing = home.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let run = codex_policy(home.path(), &[("SSL_CERT_FILE", missing)], &["doctor"]);
    assert!(
        run.stdout.contains("0 certificate(s)")
            && run
                .stdout
                .contains("every inspected HTTPS request would be refused"),
        "{}",
        run.stdout
    );
}
