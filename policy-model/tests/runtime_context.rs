//! The runtime-context API: file first, environment fallback,
//! actionable network errors, and no silent fallback from a broken file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::ffi::OsString;

use codex_policy_model::{ContextSource, NetworkAccess, RuntimeContext, RuntimeContextError};

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<OsString> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
        .collect();
    move |key| map.get(key).cloned()
}

#[test]
fn environment_fallback_defaults_to_dev_and_restricted() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = RuntimeContext::load_with(env(&[]), dir.path()).unwrap();
    assert_eq!(
        (ctx.name.as_str(), ctx.network_access),
        ("dev", NetworkAccess::Restricted)
    );
    assert_eq!(ctx.source, ContextSource::Environment);
    let err = ctx.validate_network_access().unwrap_err().to_string();
    assert!(
        err.contains("network_access=restricted") && err.contains("CODEX_NETWORK_ACCESS"),
        "{err}"
    );
    assert!(err.contains("codex-policy launch"), "{err}");

    let ctx = RuntimeContext::load_with(
        env(&[
            ("CODEX_CONTEXT_NAME", "sandbox"),
            ("CODEX_NETWORK_ACCESS", "enabled"),
        ]),
        dir.path(),
    )
    .unwrap();
    assert_eq!(ctx.name, "sandbox");
    assert!(ctx.validate_network_access().is_ok());
}

#[test]
fn file_wins_and_carries_environment_config() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".codexrc.json"),
        r#"{"environment_context": {"name": "sandbox", "network_access": "enabled",
            "outbound_policy": {"dns_allow": ["api.sandbox.example.com"]}},
            "environments": {"sandbox": {"api_url": "https://api.sandbox.example.com"}}}"#,
    )
    .unwrap();
    let ctx = RuntimeContext::load_with(env(&[("CODEX_NETWORK_ACCESS", "disabled")]), dir.path())
        .unwrap();
    assert_eq!(ctx.network_access, NetworkAccess::Enabled);
    assert_eq!(
        ctx.environment_config.unwrap()["api_url"],
        "https://api.sandbox.example.com"
    );
    assert!(matches!(ctx.source, ContextSource::File(_)));
}

#[test]
fn broken_or_missing_explicit_file_is_an_error_not_a_fallback() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.json");
    let err = RuntimeContext::load_with(
        env(&[("CODEX_RUNTIME_CONFIG", missing.to_str().unwrap())]),
        dir.path(),
    )
    .unwrap_err();
    assert!(matches!(err, RuntimeContextError::Config(_)));

    // Set but empty names no file: refused, never read as unset (which
    // would pick up the .codexrc.json of the directory instead).
    std::fs::write(dir.path().join(".codexrc.json"), "{}").unwrap();
    let err =
        RuntimeContext::load_with(env(&[("CODEX_RUNTIME_CONFIG", "")]), dir.path()).unwrap_err();
    assert!(
        matches!(err, RuntimeContextError::EmptyRuntimeConfig),
        "{err}"
    );

    std::fs::write(dir.path().join(".codexrc.json"), "{ not json").unwrap();
    let err = RuntimeContext::load_with(env(&[]), dir.path()).unwrap_err();
    assert!(err.to_string().contains(".codexrc.json:1:"), "{err}");
}

#[test]
fn bad_network_variable_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let err =
        RuntimeContext::load_with(env(&[("CODEX_NETWORK_ACCESS", "on")]), dir.path()).unwrap_err();
    assert!(err.to_string().contains("CODEX_NETWORK_ACCESS"), "{err}");
    let RuntimeContextError::NetworkVariable(inner) = &err else {
        panic!("expected NetworkVariable, got {err:?}");
    };
    assert_eq!(inner.given(), "on");
    assert_eq!(
        err.to_string(),
        "environment variable CODEX_NETWORK_ACCESS: \"on\" is not a network access level; \
         expected enabled, restricted or disabled"
    );
}
