//! Rules files the sandboxed command could have written are loaded
//! tightening-only: they may add prompt and forbidden rules, nothing that
//! loosens the policy. Anything that would is a located error saying what was
//! expected and how to fix it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_execpolicy::{Decision, LoadError, PolicyLoader, Verdict};

fn load_untrusted(text: &str) -> Result<codex_execpolicy::Policy, LoadError> {
    let mut loader = PolicyLoader::with_default_policy().unwrap();
    loader.tightening_only(true);
    loader.load_str("workspace.rules", text)?;
    Ok(loader.finish())
}

fn assert_refused(text: &str, line: usize, column: usize, needle: &str) {
    let err = load_untrusted(text)
        .err()
        .unwrap_or_else(|| panic!("loaded: {text}"));
    assert_eq!(err.file, "workspace.rules", "{err}");
    assert_eq!((err.line, err.column), (line, column), "{err}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("workspace.rules:{line}:{column}:")),
        "{message}"
    );
    for expected in [
        "tightening-only",
        "may only make the policy stricter",
        "to fix",
        needle,
    ] {
        assert!(message.contains(expected), "{expected:?} not in {message}");
    }
}

#[test]
fn anything_that_loosens_is_a_located_error() {
    assert_refused(
        "prefix_rule(pattern = [\"curl\"], decision = \"allow\")\n",
        1,
        1,
        "decision is \"allow\"",
    );
    // `allow` is the default decision.
    assert_refused(
        "\n# comment\n  \nprefix_rule(pattern = [\"git\", \"push\"])\n",
        4,
        1,
        "(the default when none is given)",
    );
    assert_refused(
        "prefix_rule(pattern = [\"rm\"], decision = \"forbidden\")\nhost_executable(name = \"rm\", paths = [\"/tmp/rm\"])\n",
        2,
        1,
        "host_executable",
    );
    assert_refused(
        "define_program(program = \"curl\", args = [ARG_OPAQUE_VALUES])\n",
        1,
        1,
        "define_program without `forbidden`",
    );
    assert_refused(
        "network_rule(host = \"evil.example\", protocol = \"https\", decision = \"allow\")\n",
        1,
        1,
        "network_rule",
    );
    assert_refused(
        "x = 1\nif x:\n    prefix_rule(pattern = [\"ls\"], decision = \"allow\")\n",
        3,
        5,
        "allow",
    );
}

#[test]
fn stricter_rules_load_and_apply() {
    let policy = load_untrusted(
        r#"
prefix_rule(pattern = ["curl"], decision = "forbidden", justification = "no network")
prefix_rule(pattern = ["git", "push"], decision = "prompt")
prefix_rule(pattern = ["sed"], decision = "prompt")
define_program(program = "wget", args = [ARG_OPAQUE_VALUES], forbidden = "no downloads")
network_rule(host = "evil.example", protocol = "https", decision = "deny")
network_rule(host = "other.example", protocol = "https", decision = "prompt")
"#,
    )
    .unwrap();
    let decide = |command: &str| {
        policy
            .decide(&shlex::split(command).unwrap())
            .map(Verdict::decision)
    };
    assert_eq!(decide("curl x"), Some(Decision::Forbidden));
    assert_eq!(decide("git push"), Some(Decision::Prompt));
    assert_eq!(decide("wget x"), Some(Decision::Forbidden));
    // The default policy called this safe; the workspace file made it stricter.
    assert_eq!(decide("sed -n 1p f"), Some(Decision::Prompt));
    assert_eq!(decide("ls"), Some(Decision::Allow));
    assert_eq!(policy.network_rules().len(), 2);
}

#[test]
fn a_prompt_rule_cannot_hide_a_forbidden_definition() {
    let mut loader = PolicyLoader::new();
    loader
        .load_str(
            "trusted.rules",
            "define_program(program = \"curl\", args = [ARG_OPAQUE_VALUES], forbidden = \"no network\")\n",
        )
        .unwrap();
    loader.tightening_only(true);
    loader
        .load_str(
            "workspace.rules",
            "prefix_rule(pattern = [\"curl\"], decision = \"prompt\")\n",
        )
        .unwrap();
    let policy = loader.finish();
    let argv: Vec<String> = ["curl", "x"].map(String::from).to_vec();
    assert_eq!(
        policy.decide(&argv).map(Verdict::decision),
        Some(Decision::Forbidden)
    );
    assert_eq!(policy.decide(&argv), policy.check(&argv).decision);
}

#[test]
fn the_mode_applies_to_the_files_loaded_after_it_and_can_be_turned_off() {
    let mut loader = PolicyLoader::new();
    loader
        .load_str("trusted.rules", "prefix_rule(pattern = [\"ls\"])\n")
        .unwrap();
    loader.tightening_only(true);
    assert!(
        loader
            .load_str("workspace.rules", "prefix_rule(pattern = [\"cat\"])\n")
            .is_err()
    );
    loader.tightening_only(false);
    loader
        .load_str("trusted2.rules", "prefix_rule(pattern = [\"cat\"])\n")
        .unwrap();
    // A file refused half-way is an error for the caller to act on; files
    // loaded with full trust work as before.
    let policy = loader.finish();
    let argv: Vec<String> = vec!["ls".into()];
    assert_eq!(
        policy.decide(&argv).map(Verdict::decision),
        Some(Decision::Allow)
    );
}
