//! `expires` in `[permissions.<profile>.network]`: past the date the table's
//! allow entries (domains, sockets, `dangerously_allow_all_unix_sockets`) drop
//! out with a warning; its deny entries and `mode = "limited"` stay, and the
//! network stays an allowlist, never "everything but the denies".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use codex_policy_model::effective::{DomainOutcome, EffectivePolicy, NetworkLevel, compose};
use codex_policy_model::validate::{Validation, ValidationInputs, validate};
use codex_policy_model::{DomainPattern, NaiveDate, NetworkMode, SandboxPolicy};

const WORKSPACE_NET: SandboxPolicy = SandboxPolicy::WorkspaceWrite {
    writable_roots: Vec::new(),
    network_access: true,
    exclude_tmpdir_env_var: false,
    exclude_slash_tmp: false,
};

const TABLE: &str = "[permissions.workspace-net.network]\n\
                     expires = \"2025-10-15\"\n\
                     mode = \"limited\"\n\
                     dangerously_allow_all_unix_sockets = true\n\
                     \n\
                     [permissions.workspace-net.network.domains]\n\
                     \"api.example.dev\" = \"allow\"\n\
                     \"tracker.example\" = \"deny\"\n\
                     \n\
                     [permissions.workspace-net.network.unix_sockets]\n\
                     \"/run/agent.sock\" = \"allow\"\n\
                     \"/run/docker.sock\" = \"none\"\n";

fn on(today: &str, text: &str) -> (EffectivePolicy, Validation, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let inputs = ValidationInputs {
        config: Some(path.clone()),
        ..ValidationInputs::default()
    };
    let files = validate(&inputs, today.parse::<NaiveDate>().unwrap());
    assert!(!files.fails(false), "{:?}", files.findings);
    let e = compose(
        &WORKSPACE_NET,
        "profile workspace-net",
        "workspace-net",
        &files,
    );
    (e, files, path)
}

fn patterns(list: &[&str]) -> Vec<DomainPattern> {
    list.iter().map(|p| p.parse().unwrap()).collect()
}

#[test]
fn until_the_date_every_entry_applies() {
    let (e, _, _) = on("2025-10-15", TABLE);
    let egress = e.egress.unwrap();
    assert_eq!(egress.allow, patterns(&["api.example.dev"]));
    assert_eq!(egress.deny, patterns(&["tracker.example"]));
    assert_eq!(e.unix_sockets, [PathBuf::from("/run/agent.sock")]);
    assert_eq!(e.network_mode.value, NetworkMode::Limited);
}

#[test]
fn past_the_date_allows_drop_and_restrictions_stay() {
    let (e, files, path) = on("2025-10-16", TABLE);
    let file = path.display();
    let expires_at = format!("{file}:2:11 permissions.workspace-net.network.expires");

    let egress = e.egress.as_ref().expect("still filtered");
    assert!(egress.allow.is_empty());
    assert_eq!(egress.deny, patterns(&["tracker.example"]));
    assert!(e.unix_sockets.is_empty());
    // `mode = "limited"` only restricts: it stays, and so does the proxy's mode.
    assert_eq!(e.network_mode.value, NetworkMode::Limited);
    assert_eq!(egress.mode, NetworkMode::Limited);
    // The denies alone would read as "everything but these": the table stays an allowlist.
    assert_eq!(e.network.value, NetworkLevel::Allowlist);
    assert_eq!(e.network.decided_by, expires_at);
    assert!(!e.network_enforced_open);

    let api = e
        .domains
        .iter()
        .find(|d| d.pattern == "api.example.dev")
        .unwrap();
    assert_eq!(
        (api.decision, api.decided_by.as_str()),
        (DomainOutcome::Expired, expires_at.as_str())
    );
    assert!(
        e.notes.contains(&format!(
            "[permissions.workspace-net.network] expired on 2025-10-15 ({expires_at}): domains \
             api.example.dev and unix sockets /run/agent.sock and \
             dangerously_allow_all_unix_sockets no longer apply; the network stays filtered, \
             allowing nothing from them"
        )),
        "{:?}",
        e.notes
    );

    let (_, rules) = &files.config.as_ref().unwrap().permissions[0];
    assert!(!rules.dangerously_allow_all_unix_sockets);
    assert!(rules.expired.dangerously_allow_all_unix_sockets);
    assert_eq!(rules.unix_sockets.len(), 1, "the `none` entry stays");
}

#[test]
fn a_table_without_allow_entries_loses_nothing() {
    let text = "[permissions.workspace-net.network]\n\
                expires = \"2025-10-15\"\n\
                [permissions.workspace-net.network.domains]\n\
                \"tracker.example\" = \"deny\"\n";
    let (before, _, _) = on("2025-10-01", text);
    let (after, _, _) = on("2025-11-01", text);
    assert_eq!(after.network.value, NetworkLevel::Denylist);
    assert_eq!(before.egress, after.egress);
    assert!(
        !after.notes.iter().any(|n| n.contains("expired")),
        "{:?}",
        after.notes
    );
}

#[test]
fn another_profile_s_expired_table_changes_nothing_here() {
    let text = TABLE.replace("workspace-net", "other");
    let (e, _, _) = on("2025-11-01", &text);
    assert_eq!(e.network.value, NetworkLevel::Open);
    assert!(e.network_enforced_open);
    assert!(e.notes.is_empty(), "{:?}", e.notes);
}
