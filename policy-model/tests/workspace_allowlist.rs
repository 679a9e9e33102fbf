//! `[sandbox_workspace_write] allowlisted_domains` in force: with network, a
//! filtered network through the egress proxy that allows exactly these domains,
//! as `[permissions.<profile>.network.domains]` allow entries would, with
//! provenance naming config.toml and the key; without network, or outside
//! workspace-write, they open nothing and a note says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use codex_policy_model::effective::{
    AllowlistMiss, DomainOutcome, EffectivePolicy, NetworkLevel, compose,
};
use codex_policy_model::validate::{RULES_WITHOUT_EFFECT, Validation, ValidationInputs, validate};
use codex_policy_model::{DomainPattern, NaiveDate, SandboxPolicy};

/// Two weeks before the expiry date the configs below write.
const TODAY: NaiveDate = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();

const WORKSPACE_NET: SandboxPolicy = SandboxPolicy::WorkspaceWrite {
    writable_roots: Vec::new(),
    network_access: true,
    exclude_tmpdir_env_var: false,
    exclude_slash_tmp: false,
};

const ALLOWLIST: &str = "sandbox_mode = \"workspace-write\"\n\
                         \n\
                         [sandbox_workspace_write]\n\
                         network_access = true\n\
                         allowlisted_domains = [\"api.example.dev\", \"pypi.org\"]\n\
                         allowlist_expiry = \"2025-10-15\"\n";

fn validated(dir: &Path, config: &str) -> (Validation, PathBuf) {
    let path = dir.join("config.toml");
    std::fs::write(&path, config).unwrap();
    let inputs = ValidationInputs {
        config: Some(path.clone()),
        ..ValidationInputs::default()
    };
    (validate(&inputs, TODAY), path)
}

fn composed(policy: &SandboxPolicy, config: &str) -> (EffectivePolicy, Validation, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (files, path) = validated(dir.path(), config);
    assert!(!files.fails(false), "{:?}", files.findings);
    let e = compose(policy, "profile workspace-net", "workspace-net", &files);
    (e, files, path)
}

fn patterns(list: &[&str]) -> Vec<DomainPattern> {
    let mut out: Vec<DomainPattern> = list.iter().map(|p| p.parse().unwrap()).collect();
    out.sort();
    out
}

#[test]
fn with_network_the_allowlist_filters_and_names_its_source() {
    let (e, files, path) = composed(&WORKSPACE_NET, ALLOWLIST);
    assert!(files.findings.is_empty(), "{:?}", files.findings);
    let file = path.display();

    assert_eq!(e.network.value, NetworkLevel::Allowlist);
    assert_eq!(
        e.network.decided_by,
        format!("{file}:5:24 sandbox_workspace_write.allowlisted_domains")
    );
    // Filtered: the sandbox keeps the host network closed, the proxy is the way out.
    assert!(!e.network_enforced_open);
    assert!(!e.sandbox_policy.value.has_network_access());
    let egress = e.egress.as_ref().expect("a filtered network");
    assert_eq!(egress.allow, patterns(&["api.example.dev", "pypi.org"]));
    assert!(egress.deny.is_empty());
    assert_eq!(egress.allowlist_miss, AllowlistMiss::Ask);

    let decided: Vec<(&str, DomainOutcome, &str)> = e
        .domains
        .iter()
        .map(|d| (d.pattern.as_str(), d.decision, d.decided_by.as_str()))
        .collect();
    let first = format!("{file}:5:24 sandbox_workspace_write.allowlisted_domains[0]");
    let second = format!("{file}:5:43 sandbox_workspace_write.allowlisted_domains[1]");
    assert_eq!(
        decided,
        [
            ("api.example.dev", DomainOutcome::Allow, first.as_str()),
            ("pypi.org", DomainOutcome::Allow, second.as_str()),
        ]
    );
    assert!(
        e.network_filters[0].contains("2 domain rule(s), first at"),
        "{:?}",
        e.network_filters
    );
}

#[test]
fn the_allowlist_takes_the_path_of_permission_allow_entries() {
    let (listed, _, _) = composed(&WORKSPACE_NET, ALLOWLIST);
    let (mapped, _, _) = composed(
        &WORKSPACE_NET,
        "[permissions.workspace-net.network.domains]\n\
         \"api.example.dev\" = \"allow\"\n\
         \"pypi.org\" = \"allow\"\n",
    );
    assert_eq!(listed.egress, mapped.egress);
    assert_eq!(listed.network.value, mapped.network.value);

    // Deny wins over the allowlist, as over any allow entry.
    let (e, _, path) = composed(
        &WORKSPACE_NET,
        &format!(
            "{ALLOWLIST}\n[permissions.workspace-net.network.domains]\n\"pypi.org\" = \"deny\"\n"
        ),
    );
    let egress = e.egress.unwrap();
    assert_eq!(egress.allow, patterns(&["api.example.dev"]));
    assert_eq!(egress.deny, patterns(&["pypi.org"]));
    let pypi = e
        .domains
        .iter()
        .find(|d| d.pattern == "pypi.org" && d.decision == DomainOutcome::Deny)
        .unwrap();
    assert_eq!(pypi.decided_by, format!("{}:9:14", path.display()));
}

#[test]
fn an_empty_allowlist_allows_nothing_and_stays_filtered() {
    let (e, _, path) = composed(
        &WORKSPACE_NET,
        "[sandbox_workspace_write]\nallowlisted_domains = []\n",
    );
    assert_eq!(e.network.value, NetworkLevel::Allowlist);
    assert_eq!(
        e.network.decided_by,
        format!(
            "{}:2:23 sandbox_workspace_write.allowlisted_domains",
            path.display()
        )
    );
    assert!(!e.network_enforced_open);
    assert!(e.egress.unwrap().allow.is_empty());
}

#[test]
fn without_network_the_allowlist_opens_nothing() {
    let config = "sandbox_mode = \"workspace-write\"\n\
                  [sandbox_workspace_write]\n\
                  network_access = false\n\
                  allowlisted_domains = [\"api.example.dev\"]\n";
    let dir = tempfile::tempdir().unwrap();
    let (files, path) = validated(dir.path(), config);
    let e = compose(
        &SandboxPolicy::workspace_write(false),
        "profile workspace (config.toml)",
        "workspace",
        &files,
    );
    assert_eq!(e.network.value, NetworkLevel::Off);
    assert!(e.egress.is_none());
    assert!(!e.sandbox_policy.value.has_network_access());
    assert!(e.domains.is_empty(), "{:?}", e.domains);
    let file = path.display();
    assert!(
        e.notes.contains(&format!(
            "[sandbox_workspace_write] allowlisted_domains ({file}:4:23) have no effect: the \
             sandbox is workspace-write without network; they apply to workspace-write with \
             network"
        )),
        "{:?}",
        e.notes
    );

    // `validate` says so too, where the file itself chooses no network.
    let finding = files
        .findings
        .iter()
        .find(|f| f.code == RULES_WITHOUT_EFFECT.code)
        .expect("CP0020");
    assert_eq!(
        (finding.line, finding.column, finding.key.as_deref()),
        (
            Some(4),
            Some(23),
            Some("sandbox_workspace_write.allowlisted_domains")
        )
    );
    assert!(finding.message.contains("without network"), "{finding}");
}

#[test]
fn outside_workspace_write_the_allowlist_does_not_apply() {
    let config = "[sandbox_workspace_write]\nallowlisted_domains = [\"api.example.dev\"]\n";
    for policy in [
        SandboxPolicy::ReadOnly {
            network_access: true,
        },
        SandboxPolicy::DangerFullAccess,
    ] {
        let (e, _, _) = composed(&policy, config);
        assert!(
            e.domains.iter().all(|d| d.pattern != "api.example.dev"),
            "{:?}",
            e.domains
        );
        assert!(
            e.notes
                .iter()
                .any(|n| n.contains("allowlisted_domains") && n.contains("have no effect")),
            "{policy:?}: {:?}",
            e.notes
        );
    }
}
