//! `check` and the exec-policy gate of `run`, through the binary.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::codex_policy;
use common::escape::{Fixture, skip, skip_reason};

fn rules_file(dir: &std::path::Path, text: &str) -> String {
    let path = dir.join("rules.star");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn check_uses_the_default_policy_and_prints_codex_json() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(home.path(), &[], &["check", "--json", "--", "ls", "-la"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert_eq!(run.json()["decision"], "safe");
    assert_eq!(
        run.json()["matchedRules"][0]["programMatch"]["program"],
        "ls"
    );

    let run = codex_policy(
        home.path(),
        &[],
        &["check", "--json", "--", "bash", "-lc", "ls && rm -rf /"],
    );
    assert_eq!(run.json()["decision"], "forbidden", "{}", run.stdout);

    let run = codex_policy(home.path(), &[], &["check", "--", "find", ".", "-delete"]);
    assert!(
        run.stdout.starts_with("decision: unverified"),
        "{}",
        run.stdout
    );
}

#[test]
fn check_with_rules_files_and_bad_rules() {
    let home = tempfile::tempdir().unwrap();
    let rules = rules_file(
        home.path(),
        "prefix_rule(pattern = [\"git\", \"push\"], decision = \"forbidden\", justification = \"no pushing\")\n",
    );
    let run = codex_policy(
        home.path(),
        &[],
        &[
            "check", "--rules", &rules, "--json", "--", "git", "push", "origin",
        ],
    );
    assert_eq!(run.json()["decision"], "forbidden");
    assert_eq!(
        run.json()["matchedRules"][0]["prefixRuleMatch"]["justification"],
        "no pushing"
    );

    let bad = rules_file(
        home.path(),
        "prefix_rule(pattern = [\"git\"],\n  decision = \"nope\")\n",
    );
    let run = codex_policy(home.path(), &[], &["check", "--rules", &bad, "--", "git"]);
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.contains("rules.star:1:1: decision must be"),
        "{}",
        run.stderr
    );

    let run = codex_policy(home.path(), &[], &["check", "--"]);
    assert_eq!(run.status, 2);
}

#[test]
fn run_consults_the_rules_first() {
    if let Some(reason) = skip_reason() {
        return skip("run_consults_the_rules_first", &reason);
    }
    let fixture = Fixture::new();
    let rules = rules_file(
        &fixture.home,
        "prefix_rule(pattern = [\"touch\", \"forbidden\"], decision = \"forbidden\", justification = \"not this file\")\n\
         prefix_rule(pattern = [\"touch\", \"ask\"], decision = \"prompt\")\n\
         prefix_rule(pattern = [\"touch\"], decision = \"allow\")\n",
    );
    let run = |target: &str| {
        fixture
            .command("workspace", &["--rules", &rules], &["touch", target])
            .output()
            .unwrap()
    };

    let output = run("forbidden");
    assert_eq!(output.status.code(), Some(126));
    assert!(String::from_utf8_lossy(&output.stderr).contains("not this file"));
    assert!(
        !fixture.workspace.join("forbidden").exists(),
        "a forbidden command ran"
    );

    // No terminal to ask on (stdin is /dev/null): refused.
    let output = run("ask");
    assert_eq!(output.status.code(), Some(126));
    assert!(!fixture.workspace.join("ask").exists());

    let output = run("allowed");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(fixture.workspace.join("allowed").exists());

    let broken = rules_file(&fixture.home, "prefix_rule(\n");
    let output = fixture
        .command("workspace", &["--rules", &broken], &["true"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(125));
}

#[test]
fn monitor_mode_reports_and_runs() {
    if let Some(reason) = skip_reason() {
        return skip("monitor_mode_reports_and_runs", &reason);
    }
    let fixture = Fixture::new();
    let rules = rules_file(
        &fixture.home,
        "prefix_rule(pattern = [\"touch\"], decision = \"forbidden\")\n",
    );
    // Monitor mode from a file the command cannot write: one in the workspace
    // may only make the policy stricter.
    let policy = fixture.home.join("harness.policy.json");
    std::fs::write(
        &policy,
        r#"{"network": {"enabled": false}, "deny_on_violation": false}"#,
    )
    .unwrap();
    let output = fixture
        .command(
            "workspace",
            &["--rules", &rules, "--policy", policy.to_str().unwrap()],
            &["touch", "done"],
        )
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("monitor mode"));
    assert!(fixture.workspace.join("done").exists());
}

#[test]
fn probe_entry() {
    common::probe::entry();
}

/// A `network_rule` in a rules file is a domain rule: under `workspace-net`
/// it makes the network filtered — the host's network is out of reach, the
/// egress proxy is the only way out — and `run` says so.
#[test]
fn a_network_rule_in_a_rules_file_filters_the_network() {
    use common::probe::{self, Verdict};
    if let Some(reason) = skip_reason() {
        return skip("a_network_rule_closes_the_network", &reason);
    }
    let fixture = Fixture::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port().to_string();
    let argv = probe::argv();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    for (rules, open) in [
        (None, true),
        (
            Some(
                "network_rule(host = \"evil.example.com\", protocol = \"https\", decision = \"deny\")\n",
            ),
            false,
        ),
    ] {
        let mut extra: Vec<String> = Vec::new();
        if let Some(text) = rules {
            extra.push("--rules".into());
            extra.push(rules_file(&fixture.home, text));
        }
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let output = probe::command(
            fixture.command("workspace-net", &extra, &argv),
            "tcp-connect",
            &port,
        )
        .output()
        .unwrap();
        assert_eq!(
            Verdict::of(&output) == Verdict::Allowed,
            open,
            "rules {rules:?}: {output:?}"
        );
        if !open {
            assert!(
                String::from_utf8_lossy(&output.stderr).contains("through the egress proxy"),
                "{output:?}"
            );
        }
    }
}
