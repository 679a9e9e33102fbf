//! `allowlist_expiry`: on the date itself the allowlist still applies; past it
//! (today, UTC, passed in) the entries drop out with a warning, and the network
//! stays filtered with nothing allowed from them — an expired allowlist never
//! opens the network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use codex_policy_model::effective::{DomainOutcome, EffectivePolicy, NetworkLevel, compose};
use codex_policy_model::validate::{
    ALLOWLIST_EXPIRED, Severity, Validation, ValidationInputs, validate,
};
use codex_policy_model::{DomainPattern, NaiveDate, SandboxPolicy};

const WORKSPACE_NET: SandboxPolicy = SandboxPolicy::WorkspaceWrite {
    writable_roots: Vec::new(),
    network_access: true,
    exclude_tmpdir_env_var: false,
    exclude_slash_tmp: false,
};

fn config(expiry: &str) -> String {
    format!(
        "sandbox_mode = \"workspace-write\"\n\
         \n\
         [sandbox_workspace_write]\n\
         network_access = true\n\
         allowlisted_domains = [\"api.example.dev\", \"pypi.org\"]\n\
         allowlist_expiry = {expiry}\n"
    )
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Validates `text` as config.toml on `today` and composes it for `workspace-net`.
fn on(today: &str, text: &str) -> (EffectivePolicy, Validation, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).unwrap();
    let inputs = ValidationInputs {
        config: Some(path.clone()),
        ..ValidationInputs::default()
    };
    let files = validate(&inputs, date(today));
    assert!(!files.fails(false), "{:?}", files.findings);
    let e = compose(
        &WORKSPACE_NET,
        "profile workspace-net",
        "workspace-net",
        &files,
    );
    (e, files, path)
}

fn allowed(e: &EffectivePolicy) -> Vec<String> {
    let egress = e.egress.as_ref().expect("the network stays filtered");
    egress.allow.iter().map(ToString::to_string).collect()
}

#[test]
fn on_the_expiry_date_the_allowlist_still_applies() {
    for today in ["2025-10-14", "2025-10-15"] {
        let (e, _, _) = on(today, &config("\"2025-10-15\""));
        assert_eq!(allowed(&e), ["api.example.dev", "pypi.org"], "{today}");
        assert!(e.domains.iter().all(|d| d.decision == DomainOutcome::Allow));
        assert!(
            !e.notes.iter().any(|n| n.contains("expired")),
            "{:?}",
            e.notes
        );
    }
}

#[test]
fn past_the_date_nothing_is_allowed_and_the_network_stays_filtered() {
    let (e, files, path) = on("2025-10-16", &config("\"2025-10-15\""));
    let file = path.display();
    let expiry_at = format!("{file}:6:20 sandbox_workspace_write.allowlist_expiry");

    // Never open: the sandbox keeps the host network closed, the proxy allows nothing.
    assert!(!e.network_enforced_open);
    assert!(!e.sandbox_policy.value.has_network_access());
    assert_eq!(e.network.value, NetworkLevel::Allowlist);
    assert_eq!(e.network.decided_by, expiry_at);
    assert!(allowed(&e).is_empty());

    // Provenance: each entry is listed as expired, decided by the expiry.
    let decided: Vec<(&str, DomainOutcome, &str)> = e
        .domains
        .iter()
        .map(|d| (d.pattern.as_str(), d.decision, d.decided_by.as_str()))
        .collect();
    assert_eq!(
        decided,
        [
            (
                "api.example.dev",
                DomainOutcome::Expired,
                expiry_at.as_str()
            ),
            ("pypi.org", DomainOutcome::Expired, expiry_at.as_str()),
        ]
    );
    assert_eq!(
        e.domains[0].reason,
        format!(
            "allowed at {file}:5:24 sandbox_workspace_write.allowlisted_domains[0] until \
             2025-10-15; expired, nothing is allowed from it"
        )
    );
    assert!(
        e.network_filters.contains(&format!(
            "an allowlist with no entry in force at {expiry_at}"
        )),
        "{:?}",
        e.network_filters
    );

    // The warning: a note of the composed policy, and the finding.
    assert!(
        e.notes.contains(&format!(
            "[sandbox_workspace_write] allowlisted_domains expired on 2025-10-15 ({expiry_at}): \
             domains api.example.dev, pypi.org no longer apply; the network stays filtered, \
             allowing nothing from them"
        )),
        "{:?}",
        e.notes
    );
    let finding = files
        .findings
        .iter()
        .find(|f| f.code == ALLOWLIST_EXPIRED.code)
        .expect("CP0025");
    assert_eq!(finding.severity, Severity::Warning);

    // Kept for provenance, never enforced.
    let rules = files
        .config
        .as_ref()
        .unwrap()
        .workspace_allowlist
        .as_ref()
        .unwrap();
    assert!(rules.domains.is_empty());
    assert_eq!(rules.expired.domains.len(), 2);
}

#[test]
fn an_expired_allowlist_does_not_turn_the_denies_beside_it_into_a_denylist() {
    let text = format!(
        "{}\n[permissions.workspace-net.network.domains]\n\"tracker.example\" = \"deny\"\n",
        config("\"2025-10-15\"")
    );
    let (e, _, _) = on("2025-11-01", &text);
    assert_eq!(e.network.value, NetworkLevel::Allowlist);
    let egress = e.egress.unwrap();
    assert!(egress.allow.is_empty());
    assert_eq!(
        egress.deny,
        ["tracker.example".parse::<DomainPattern>().unwrap()]
    );
}

#[test]
fn toml_dates_and_timestamps_count_by_their_utc_date() {
    // A TOML date, unquoted.
    let (e, _, _) = on("2025-10-15", &config("2025-10-15"));
    assert_eq!(allowed(&e).len(), 2);
    let (e, _, _) = on("2025-10-16", &config("2025-10-15"));
    assert!(allowed(&e).is_empty());

    // 23:00 at UTC-5 is the 16th in UTC: still in force on the 16th, not the 17th.
    for text in [
        config("\"2025-10-15T23:00:00-05:00\""),
        config("2025-10-15T23:00:00-05:00"),
    ] {
        let (e, _, _) = on("2025-10-16", &text);
        assert_eq!(allowed(&e).len(), 2, "{text}");
        let (e, _, _) = on("2025-10-17", &text);
        assert!(allowed(&e).is_empty(), "{text}");
    }
}

#[test]
fn the_documented_example_loses_its_allows_date_by_date() {
    // docs/configuration.md, "Expiring allowlists".
    let text = "sandbox_mode = \"workspace-write\"\n\
                \n\
                [sandbox_workspace_write]\n\
                network_access = true\n\
                allowlisted_domains = [\"api.example.dev\", \"pypi.org\", \"**.pythonhosted.org\"]\n\
                allowlist_expiry = \"2025-10-15\"\n\
                \n\
                [permissions.workspace-net.network]\n\
                expires = \"2025-10-31\"\n\
                \n\
                [permissions.workspace-net.network.domains]\n\
                \"staging.example.dev\" = \"allow\"\n\
                \"tracker.example\" = \"deny\"\n";
    for (today, allows) in [
        (
            "2025-10-15",
            &[
                "api.example.dev",
                "pypi.org",
                "staging.example.dev",
                "**.pythonhosted.org",
            ][..],
        ),
        ("2025-10-16", &["staging.example.dev"][..]),
        ("2025-11-01", &[][..]),
    ] {
        let (e, _, _) = on(today, text);
        assert_eq!(allowed(&e), allows, "{today}");
        assert_eq!(e.network.value, NetworkLevel::Allowlist, "{today}");
        let egress = e.egress.unwrap();
        assert_eq!(
            egress.deny,
            ["tracker.example".parse::<DomainPattern>().unwrap()]
        );
    }
}
