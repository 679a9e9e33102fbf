//! A rules file written in the form Codex's execpolicy reads loads unchanged and
//! decides as Codex does: keyed by program, per-token alternatives, `decision`
//! defaulting to `allow`, strictest match wins, nothing matched means no
//! decision, absolute paths as they are only through `host_executable` (an unlisted
//! path is stricter here than in Codex: judged by its name, at best prompt).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codex_execpolicy::{Decision, Policy, PolicyLoader};

fn policy() -> Policy {
    let mut loader = PolicyLoader::new();
    loader
        .load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/codex-style.rules"))
        .unwrap_or_else(|e| panic!("{e}"));
    loader.finish()
}

#[test]
fn decisions_follow_codex_semantics() {
    let policy = policy();
    let decide = |command: &str| {
        let argv = shlex::split(command).unwrap();
        policy.check(&argv).decision.map(|v| v.decision())
    };
    let cases: &[(&str, Option<Decision>)] = &[
        ("make test", Some(Decision::Allow)),
        ("make docs -j4", Some(Decision::Allow)),
        ("make release", None),
        ("cargo test --workspace", Some(Decision::Allow)),
        ("cargo publish", Some(Decision::Forbidden)),
        ("cargo publish --dry-run", Some(Decision::Forbidden)),
        ("cargo fmt", None),
        ("/usr/local/cargo/bin/cargo build", Some(Decision::Allow)),
        (
            "/home/dev/.cargo/bin/cargo publish",
            Some(Decision::Forbidden),
        ),
        // Stricter than Codex: an unlisted path is judged by the rules of its
        // name, at best prompt (docs/execpolicy.md, "Paths").
        ("/tmp/cargo build", Some(Decision::Prompt)),
        ("kubectl apply -f x.yaml", Some(Decision::Prompt)),
        ("kubectl get pods", None),
        ("terraform apply", Some(Decision::Prompt)),
        ("terraform plan", None),
    ];
    for (command, expected) in cases {
        assert_eq!(decide(command), *expected, "{command}");
    }
}

#[test]
fn justifications_keep_their_text_and_network_rules_are_exposed() {
    let policy = policy();
    let evaluation = policy.check(&["make".into(), "fmt".into()]);
    let json = serde_json::to_value(&evaluation).unwrap();
    let justification = json["matchedRules"][0]["prefixRuleMatch"]["justification"]
        .as_str()
        .unwrap();
    assert!(
        justification.contains("Safe: fixed targets"),
        "{justification}"
    );

    let rules = policy.network_rules();
    assert_eq!(rules.len(), 2);
    assert_eq!(
        rules[0].host, "crates.io",
        "the port is dropped, as in Codex"
    );
    assert_eq!(rules[1].host, "tracker.example");
    assert_eq!(
        rules[1].decision,
        Decision::Forbidden,
        "`deny` is Codex's spelling of forbidden"
    );
}
