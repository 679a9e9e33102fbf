//! A command-writable `config.toml` may only tighten, allowlist included: its
//! `allowlisted_domains` narrow an open network, but a domain the run without
//! the file does not allow is `CP0024` at the entry; an expired one adds nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codex_policy_model::tightening::{RunContext, loosening_findings};
use codex_policy_model::validate::{Validation, ValidationInputs, validate};
use codex_policy_model::{CommandWritable, NaiveDate, SandboxPolicy};

const WORKSPACE_NET: SandboxPolicy = SandboxPolicy::WorkspaceWrite {
    writable_roots: Vec::new(),
    network_access: true,
    exclude_tmpdir_env_var: true,
    exclude_slash_tmp: true,
};

const CONFIG: &str = "[sandbox_workspace_write]\n\
                      allowlisted_domains = [\"api.example.dev\", \"pypi.org\"]\n\
                      allowlist_expiry = \"2025-10-15\"\n";

/// A harness allowlist outside the workspace that allows only pypi.org.
const HARNESS: &str =
    r#"{"network": {"enabled": true, "egress": {"mode": "allowlist", "domains": ["pypi.org"]}}}"#;

/// config.toml in the workspace (`cwd`), harness.policy.json (if any) outside it.
fn loosening(today: &str, harness: Option<&str>) -> Vec<(String, usize, usize)> {
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cwd = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let config = cwd.path().join("config.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let mut inputs = ValidationInputs {
        config: Some(config),
        ..ValidationInputs::default()
    };
    if let Some(text) = harness {
        let path = outside.path().join("harness.policy.json");
        std::fs::write(&path, text).unwrap();
        inputs.policy = Some(path);
    }
    let v: Validation = validate(&inputs, today.parse::<NaiveDate>().unwrap());
    assert!(!v.fails(false), "{:?}", v.findings);
    let writable = CommandWritable::for_policy(&WORKSPACE_NET, cwd.path(), None).unwrap();
    assert!(writable.could_write(&cwd.path().join("config.toml")));
    assert!(!writable.could_write(Path::new(outside.path())));
    loosening_findings(
        &v,
        &RunContext {
            profile_policy: &WORKSPACE_NET,
            profile_name: "workspace-net",
            profile_from_config: false,
            writable: &writable,
        },
    )
    .into_iter()
    .map(|f| (f.key.unwrap(), f.line.unwrap(), f.column.unwrap()))
    .collect()
}

#[test]
fn narrowing_an_open_network_is_allowed() {
    assert!(loosening("2025-10-01", None).is_empty());
}

#[test]
fn a_domain_the_rest_of_the_policy_does_not_allow_is_refused_at_its_entry() {
    assert_eq!(
        loosening("2025-10-01", Some(HARNESS)),
        [(
            "sandbox_workspace_write.allowlisted_domains[0]".to_owned(),
            2,
            24
        )]
    );
}

#[test]
fn an_expired_allowlist_adds_nothing() {
    assert!(loosening("2025-10-16", Some(HARNESS)).is_empty());
}
