//! `config.toml` leaves keys it does not know to Codex; one within a typo of
//! a policy key (`sandbx_mode`) would silently decide nothing, so validation
//! warns (`CP0027`) and names the key meant. Codex's own keys stay quiet.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_policy_model::NaiveDate;
use codex_policy_model::validate::{Finding, IGNORED_NEAR_MISS, ValidationInputs, validate};

fn findings(text: &str) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let inputs = ValidationInputs {
        config: Some(path),
        ..ValidationInputs::default()
    };
    validate(&inputs, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).findings
}

#[test]
fn a_near_miss_of_a_policy_key_is_a_located_warning() {
    let text = "model = \"o3\"\nsandbx_mode = \"read-only\"\n\n[profiles.dev]\napproval_polcy = \"never\"\n\n[sandbox_workspace_writ]\nnetwork_access = true\n";
    let found: Vec<_> = findings(text)
        .into_iter()
        .filter(|f| f.code == IGNORED_NEAR_MISS.code)
        .map(|f| {
            assert!(f.snippet.as_deref().is_some_and(|s| s.contains('^')), "{f}");
            (f.line, f.column, f.key.clone().unwrap(), f.message)
        })
        .collect();
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!((found[0].0, found[0].1), (Some(2), Some(1)));
    assert_eq!(found[0].2, "sandbx_mode");
    assert!(
        found[0].3.contains("did you mean `sandbox_mode`?"),
        "{}",
        found[0].3
    );
    assert!(
        found
            .iter()
            .any(|f| f.2 == "sandbox_workspace_writ" && f.3.contains("`sandbox_workspace_write`"))
    );
    assert!(
        found
            .iter()
            .any(|f| f.2 == "profiles.dev.approval_polcy" && f.3.contains("`approval_policy`"))
    );
}

#[test]
fn codex_keys_and_far_names_are_left_alone() {
    let text = "model = \"o3\"\nmodel_provider = \"openai\"\nnotify = [\"notify-send\"]\n\
                hide_agent_reasoning = true\n[tui]\n[mcp_servers.docs]\ncommand = \"x\"\n\
                [profiles.dev]\nmodel = \"o3\"\nmodel_reasoning_effort = \"high\"\n\
                sandbox_mode = \"read-only\"\n";
    let near: Vec<_> = findings(text)
        .into_iter()
        .filter(|f| f.code == IGNORED_NEAR_MISS.code)
        .collect();
    assert!(near.is_empty(), "{near:#?}");
}

#[test]
fn nested_tables_that_leave_keys_alone_are_checked_too() {
    let text = "[permissions.workspace.filesytem]\ndeny_read = [\"/etc/hostname\"]\n\
                [projects.\"/x\"]\ntrust_levl = \"trusted\"\n\
                sandbox_network = true\n";
    let found: Vec<_> = findings(text)
        .into_iter()
        .filter(|f| f.code == IGNORED_NEAR_MISS.code)
        .map(|f| (f.key.clone().unwrap(), f.message))
        .collect();
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!(found[0].0, "permissions.workspace.filesytem");
    assert!(
        found[0].1.contains("did you mean `filesystem`?"),
        "{}",
        found[0].1
    );
    assert_eq!(found[1].0, "projects.\"/x\".trust_levl");
    assert!(
        found[1].1.contains("did you mean `trust_level`?"),
        "{}",
        found[1].1
    );
}
