//! `validate` on a controlled date: allowlists past their expiry date are
//! `CP0025`, those expiring within 7 days (the date itself included) `CP0026`,
//! both warnings located at the date with its key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use codex_policy_model::NaiveDate;
use codex_policy_model::validate::{
    ALLOWLIST_EXPIRED, ALLOWLIST_EXPIRES_SOON, Finding, Severity, Validation, ValidationInputs,
    validate,
};

/// The workspace allowlist expires on the 15th (line 4), the permission table
/// on the 20th (line 7).
const CONFIG: &str = "[sandbox_workspace_write]\n\
                      network_access = true\n\
                      allowlisted_domains = [\"api.example.dev\"]\n\
                      allowlist_expiry = \"2025-10-15\"\n\
                      \n\
                      [permissions.dev.network]\n\
                      expires = \"2025-10-20\"\n\
                      [permissions.dev.network.domains]\n\
                      \"pypi.org\" = \"allow\"\n";

const WORKSPACE_KEY: &str = "sandbox_workspace_write.allowlist_expiry";
const PERMISSIONS_KEY: &str = "permissions.dev.network.expires";

fn on(today: &str) -> (Validation, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, CONFIG).unwrap();
    let inputs = ValidationInputs {
        config: Some(path.clone()),
        ..ValidationInputs::default()
    };
    let v = validate(&inputs, today.parse::<NaiveDate>().unwrap());
    (v, path, dir)
}

/// `(code, line, column, key)` of every finding.
fn summary(findings: &[Finding]) -> Vec<(&'static str, usize, usize, &str)> {
    findings
        .iter()
        .map(|f| {
            (
                f.code,
                f.line.unwrap(),
                f.column.unwrap(),
                f.key.as_deref().unwrap(),
            )
        })
        .collect()
}

const EXPIRED: &str = ALLOWLIST_EXPIRED.code;
const SOON: &str = ALLOWLIST_EXPIRES_SOON.code;

#[test]
fn nothing_to_say_more_than_a_week_ahead() {
    let (v, _, _dir) = on("2025-10-07");
    assert!(v.findings.is_empty(), "{:?}", v.findings);
}

#[test]
fn a_week_ahead_and_on_the_date_itself_expiry_is_near() {
    let (v, path, _dir) = on("2025-10-08");
    assert_eq!(summary(&v.findings), [(SOON, 4, 20, WORKSPACE_KEY)]);
    let f = &v.findings[0];
    assert_eq!(f.file.as_deref(), Some(path.as_path()));
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.message,
        "[sandbox_workspace_write] allowlisted_domains expires on 2025-10-15 (7 days left): \
         its allow entries then no longer apply"
    );

    let (v, _, _dir) = on("2025-10-15");
    assert_eq!(
        summary(&v.findings),
        [(SOON, 4, 20, WORKSPACE_KEY), (SOON, 7, 11, PERMISSIONS_KEY)]
    );
    assert!(
        v.findings[0].message.contains("(today is its last day)"),
        "{}",
        v.findings[0]
    );
    assert!(
        v.findings[1].message.contains("(5 days left)"),
        "{}",
        v.findings[1]
    );
}

#[test]
fn past_the_date_expiry_is_reported_with_what_no_longer_applies() {
    let (v, path, _dir) = on("2025-10-16");
    assert_eq!(
        summary(&v.findings),
        [
            (EXPIRED, 4, 20, WORKSPACE_KEY),
            (SOON, 7, 11, PERMISSIONS_KEY)
        ]
    );
    let f = &v.findings[0];
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(
        f.message,
        "[sandbox_workspace_write] allowlisted_domains expired on 2025-10-15: domains \
         api.example.dev no longer apply; the network stays filtered, allowing nothing from them"
    );
    assert_eq!(
        f.to_string().lines().next().unwrap(),
        format!(
            "{}:4:20: warning CP0025 [{WORKSPACE_KEY}]: {}",
            path.display(),
            f.message
        )
    );

    let (v, _, _dir) = on("2025-12-01");
    assert_eq!(
        summary(&v.findings),
        [
            (EXPIRED, 4, 20, WORKSPACE_KEY),
            (EXPIRED, 7, 11, PERMISSIONS_KEY)
        ]
    );
    // Warnings: the files still compose; `--strict` fails.
    assert!(!v.fails(false));
    assert!(v.fails(true));
}
