//! The egress rules composed for a filtered network: what the proxy is told
//! to allow, deny, reach and count, from every source, most restrictive
//! winning.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codex_policy_model::NaiveDate;
use codex_policy_model::effective::{AllowlistMiss, EgressRules, compose};
use codex_policy_model::validate::{Validation, ValidationInputs, validate};
use codex_policy_model::{DomainPattern, SandboxPolicy};

/// The date the files are validated on: these tests write no expiry date.
const TODAY: NaiveDate = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();

fn files(dir: &Path, written: &[(&str, &str)]) -> Validation {
    let mut inputs = ValidationInputs::default();
    for (name, text) in written {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        let slot = match *name {
            ".codexrc.json" => &mut inputs.runtime,
            "harness.policy.json" => &mut inputs.policy,
            "config.toml" => &mut inputs.config,
            "requirements.toml" => &mut inputs.requirements,
            other => panic!("{other}"),
        };
        *slot = Some(path);
    }
    let v = validate(&inputs, TODAY);
    assert!(!v.fails(false), "{:?}", v.findings);
    v
}

const NET: SandboxPolicy = SandboxPolicy::WorkspaceWrite {
    writable_roots: Vec::new(),
    network_access: true,
    exclude_tmpdir_env_var: true,
    exclude_slash_tmp: true,
};

fn egress(written: &[(&str, &str)]) -> Option<EgressRules> {
    let dir = tempfile::tempdir().unwrap();
    compose(
        &NET,
        "profile",
        "workspace-net",
        &files(dir.path(), written),
    )
    .egress
}

fn patterns(list: &[&str]) -> Vec<DomainPattern> {
    let mut out: Vec<DomainPattern> = list.iter().map(|p| p.parse().unwrap()).collect();
    out.sort();
    out
}

fn codexrc(access: &str, mode: &str, hosts: &str, extra: &str) -> String {
    format!(
        r#"{{"environment_context": {{"name": "dev", "network_access": "{access}",
            "outbound_policy": {{"mode": "{mode}", "dns_allow": [{hosts}]{extra}}}}}}}"#
    )
}

#[test]
fn an_unfiltered_network_has_no_egress_rules() {
    assert_eq!(
        egress(&[("harness.policy.json", r#"{"network": {"enabled": true}}"#)]),
        None
    );
    // Off is off: no proxy, whatever the lists say.
    assert_eq!(
        egress(&[(
            ".codexrc.json",
            &codexrc("disabled", "allowlist", r#""a.example""#, "")
        )]),
        None
    );
}

#[test]
fn an_allowlist_allows_what_every_source_allows_and_denies_what_any_denies() {
    let rules = egress(&[
        (
            ".codexrc.json",
            &codexrc(
                "enabled",
                "allowlist",
                r#""pypi.org", "**.example.com""#,
                "",
            ),
        ),
        (
            "requirements.toml",
            "[experimental_network.domains]\n\"bad.example.com\" = \"deny\"\n",
        ),
    ])
    .unwrap();
    assert_eq!(rules.allow, patterns(&["pypi.org", "**.example.com"]));
    assert_eq!(rules.deny, patterns(&["bad.example.com"]));
    assert_eq!(rules.allowlist_miss, AllowlistMiss::Ask);
    assert!(!rules.loopback && !rules.monitor && rules.ports.is_none());
}

#[test]
fn a_denylist_allows_every_other_host() {
    let rules = egress(&[(
        ".codexrc.json",
        &codexrc("enabled", "denylist", r#""tracker.example""#, ""),
    )])
    .unwrap();
    assert_eq!(rules.allow, [DomainPattern::Any]);
    assert_eq!(rules.deny, patterns(&["tracker.example"]));
}

#[test]
fn restricted_reaches_loopback_and_the_listed_addresses_only() {
    let rules = egress(&[(
        ".codexrc.json",
        &codexrc(
            "restricted",
            "allowlist",
            r#""pypi.org""#,
            r#", "ip_allow": ["10.1.0.0/16"]"#,
        ),
    )])
    .unwrap();
    assert!(rules.allow.is_empty(), "{:?}", rules.allow);
    assert!(rules.loopback);
    assert_eq!(rules.ip_allow.len(), 1);
    assert!(rules.ip_allow[0].contains("10.1.2.3".parse().unwrap()));
}

#[test]
fn every_port_list_must_name_a_port() {
    let rules = egress(&[
        (
            ".codexrc.json",
            &codexrc("enabled", "allowlist", r#""a.example""#, r#", "port_allow": [443, 80, 8080]"#),
        ),
        (
            "harness.policy.json",
            r#"{"network": {"enabled": true, "egress": {"mode": "allowlist", "domains": ["a.example"], "ports": [8080, 443, 22]}}}"#,
        ),
    ])
    .unwrap();
    let ports: Vec<u16> = rules.ports.unwrap().iter().map(|p| p.get()).collect();
    assert_eq!(ports, [443, 8080]);
}

#[test]
fn limits_and_monitor_mode_reach_the_proxy() {
    let rules = egress(&[
        (
            ".codexrc.json",
            r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                "outbound_policy": {"mode": "open"}},
               "limits": {"http_max_requests": 7, "http_concurrency": 2, "timeout_seconds": 30}}"#,
        ),
        (
            "harness.policy.json",
            r#"{"network": {"enabled": true}, "deny_on_violation": false}"#,
        ),
    ])
    .unwrap();
    assert_eq!(rules.allow, [DomainPattern::Any]);
    assert_eq!(rules.max_requests.map(|v| v.get()), Some(7));
    assert_eq!(rules.concurrency.map(|v| v.get()), Some(2));
    assert_eq!(rules.timeout_seconds.map(|v| v.get()), Some(30));
    assert!(rules.monitor);
}

#[test]
fn a_managed_only_allowlist_denies_a_miss_without_asking() {
    let rules = egress(&[
        (
            ".codexrc.json",
            &codexrc("enabled", "allowlist", r#""user.example""#, ""),
        ),
        (
            "requirements.toml",
            "[experimental_network]\nmanaged_allowed_domains_only = true\n\
             [experimental_network.domains]\n\"managed.example\" = \"allow\"\n",
        ),
    ])
    .unwrap();
    assert_eq!(rules.allow, patterns(&["managed.example"]));
    assert_eq!(rules.allowlist_miss, AllowlistMiss::Deny);
}

/// Internal destinations are reachable only where every source grants them:
/// a source that filters by domain grants none beyond the literals it names.
#[test]
fn internal_destinations_need_every_source() {
    // ip_allow under another file's allowlist: that file grants no internal
    // address, so ip_allow counts for nothing.
    let rules = egress(&[
        (
            ".codexrc.json",
            &codexrc(
                "enabled",
                "allowlist",
                r#""example.com""#,
                r#", "ip_allow": ["0.0.0.0/0", "::/0"]"#,
            ),
        ),
        (
            "harness.policy.json",
            r#"{"network": {"enabled": true, "egress": {"mode": "allowlist", "domains": ["example.com"]}}}"#,
        ),
    ])
    .unwrap();
    assert!(rules.ip_allow.is_empty(), "{:?}", rules.ip_allow);
    // `restricted` under a managed allowlist: loopback is not the managed
    // baseline's to give away, and the names are not restricted's.
    let rules = egress(&[
        (".codexrc.json", &codexrc("restricted", "allowlist", "", "")),
        (
            "requirements.toml",
            "[experimental_network]\nmanaged_allowed_domains_only = true\n\
             [experimental_network.domains]\n\"example.com\" = \"allow\"\n",
        ),
    ])
    .unwrap();
    assert!(!rules.loopback && rules.allow.is_empty(), "{rules:?}");
    // Local literals allowlisted by one file, under another's deny list
    // (which grants public destinations only): dropped; names stay.
    let rules = egress(&[
        (
            ".codexrc.json",
            &codexrc(
                "enabled",
                "allowlist",
                r#""127.0.0.1", "localhost", "::1", "169.254.169.254", "example.com""#,
                "",
            ),
        ),
        (
            "harness.policy.json",
            r#"{"network": {"enabled": true, "egress": {"mode": "denylist", "domains": ["evil.example"]}}}"#,
        ),
    ])
    .unwrap();
    assert_eq!(rules.allow, patterns(&["example.com"]));
    // A managed-only allowlist ignores the user's ip_allow.
    let rules = egress(&[
        (
            ".codexrc.json",
            &codexrc(
                "enabled",
                "allowlist",
                "",
                r#", "ip_allow": ["10.0.0.0/8"]"#,
            ),
        ),
        (
            "requirements.toml",
            "[experimental_network]\nmanaged_allowed_domains_only = true\n",
        ),
    ])
    .unwrap();
    assert!(rules.ip_allow.is_empty(), "{:?}", rules.ip_allow);
    // Alone (the profile's network is open), the file's own grants count.
    let rules = egress(&[(
        ".codexrc.json",
        &codexrc(
            "enabled",
            "allowlist",
            r#""127.0.0.1""#,
            r#", "ip_allow": ["10.0.0.0/8"]"#,
        ),
    )])
    .unwrap();
    assert_eq!(rules.allow, patterns(&["127.0.0.1"]));
    assert_eq!(rules.ip_allow.len(), 1);
}
