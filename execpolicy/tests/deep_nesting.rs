//! Deep input is a clear refusal, never a stack overflow: a shell script
//! nested far beyond the bound is `prompt` with a reason, a rules file nested
//! far beyond it is a located error. Everything runs on the normal test
//! thread stack, at depths far beyond the bounds (100,000) and just below them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_execpolicy::{Decision, MAX_RULES_NESTING, MAX_SHELL_OPENERS, PolicyLoader, RuleMatch};

const DEEP: usize = 100_000;

fn shell_scripts(n: usize) -> Vec<(&'static str, String)> {
    vec![
        ("braces", format!("{}ls{}", "{ ".repeat(n), "; }".repeat(n))),
        ("subshells", format!("{}ls{}", "(".repeat(n), ")".repeat(n))),
        (
            "substitutions",
            format!("echo {}x{}", "$(".repeat(n), ")".repeat(n)),
        ),
        (
            "quoted substitutions",
            format!("echo \"{}x{}\"", "$(echo \"".repeat(n), "\")".repeat(n)),
        ),
        (
            "ifs",
            format!("{}ls{}", "if true; then ".repeat(n), "; fi".repeat(n)),
        ),
        (
            "cases",
            format!("{}ls{}", "case x in x) ".repeat(n), " ;; esac".repeat(n)),
        ),
        ("tests", format!("[[ {} -f x ]]", "! ".repeat(n))),
        (
            "parameters",
            format!("echo {}x{}", "${a:-".repeat(n), "}".repeat(n)),
        ),
        ("backquotes", format!("echo {}", "`".repeat(n))),
        ("pipes", format!("ls{}", " | ls".repeat(n))),
        ("and-lists", format!("ls{}", " && ls".repeat(n))),
    ]
}

fn policy() -> codex_execpolicy::Policy {
    let mut loader = PolicyLoader::new();
    loader
        .load_str(
            "r.star",
            "prefix_rule(pattern = [\"ls\"])\nprefix_rule(pattern = [\"rm\"], decision = \"forbidden\")\n",
        )
        .unwrap();
    loader.finish()
}

#[test]
fn a_deeply_nested_shell_script_needs_approval_with_a_reason() {
    let policy = policy();
    for (what, script) in shell_scripts(DEEP) {
        for shell in [["bash", "-c"], ["sh", "-lc"]] {
            let argv = vec![shell[0].to_owned(), shell[1].to_owned(), script.clone()];
            let evaluation = policy.check(&argv);
            let decision = evaluation.decision.map(|v| v.decision());
            assert_eq!(decision, Some(Decision::Prompt), "{what}");
            assert_eq!(policy.decide(&argv), evaluation.decision, "{what}");
            let reasons: Vec<&str> = evaluation
                .matched_rules
                .iter()
                .filter_map(|m| match m {
                    RuleMatch::ShellRuleMatch { reason, .. } => Some(reason.as_str()),
                    _ => None,
                })
                .collect();
            assert!(
                reasons
                    .iter()
                    .any(|r| r.contains("nesting constructs") || r.contains("longer than")),
                "{what}: {reasons:?}"
            );
        }
    }
}

#[test]
fn nesting_just_under_the_bound_is_parsed_without_overflow() {
    let policy = policy();
    // Each construct at the largest depth the bound lets through.
    for n in [MAX_SHELL_OPENERS / 2, MAX_SHELL_OPENERS] {
        for (what, script) in shell_scripts(n) {
            let argv = vec!["bash".to_owned(), "-c".to_owned(), script];
            let decision = policy.check(&argv).decision.map(|v| v.decision());
            assert!(
                matches!(decision, Some(Decision::Prompt | Decision::Allow)),
                "{what} at {n}: {decision:?}"
            );
        }
    }
    // A forbidden command inside nesting within the bound is still found.
    let script = format!("{}rm x{}", "{ ".repeat(20), "; }".repeat(20));
    let argv = vec!["bash".to_owned(), "-c".to_owned(), script];
    assert_eq!(
        policy.decide(&argv).map(|v| v.decision()),
        Some(Decision::Forbidden)
    );
}

#[test]
fn shells_nested_in_shells_stop_at_a_bound() {
    let policy = policy();
    let mut argv = vec!["ls".to_owned()];
    for _ in 0..200 {
        argv = vec![
            "bash".to_owned(),
            "-c".to_owned(),
            shlex::try_join(argv.iter().map(String::as_str)).unwrap(),
        ];
        if argv[2].len() > 200_000 {
            break;
        }
    }
    let decision = policy.decide(&argv).map(|v| v.decision());
    assert_eq!(decision, Some(Decision::Prompt));
    let mut argv = vec!["ls".to_owned()];
    for _ in 0..DEEP {
        argv.insert(0, "env".to_owned());
    }
    assert_eq!(
        policy.decide(&argv).map(|v| v.decision()),
        Some(Decision::Prompt)
    );
    let mut argv = vec!["rm".to_owned()];
    for _ in 0..DEEP {
        argv.insert(0, "LD_PRELOAD=x".to_owned());
    }
    assert_eq!(
        policy.decide(&argv).map(|v| v.decision()),
        Some(Decision::Prompt)
    );
    // A few wrappers are fine.
    let argv: Vec<String> = ["env", "nice", "timeout", "5", "env", "ls"]
        .map(String::from)
        .to_vec();
    assert_eq!(
        policy.decide(&argv).map(|v| v.decision()),
        Some(Decision::Allow)
    );
}

fn rules_files(n: usize) -> Vec<(&'static str, String)> {
    let mut indented = String::new();
    for i in 0..n.min(1400) {
        indented.push_str(&" ".repeat(i));
        indented.push_str("if True:\n");
    }
    indented.push_str(&" ".repeat(n.min(1400)));
    indented.push_str("pass\n");
    vec![
        (
            "lists",
            format!("x = {}1{}\n", "[".repeat(n), "]".repeat(n)),
        ),
        (
            "parentheses",
            format!("x = {}1{}\n", "(".repeat(n), ")".repeat(n)),
        ),
        (
            "dicts",
            format!("x = {}{}\n", "{1: ".repeat(n), "}".repeat(n)),
        ),
        ("sums", format!("x = 1{}\n", " + 1".repeat(n))),
        ("negations", format!("x = {}1\n", "-".repeat(n))),
        ("nots", format!("x = {}True\n", "not ".repeat(n))),
        ("indexing", format!("x = [1]\ny = x{}\n", "[0]".repeat(n))),
        ("calls", format!("y = flag{}\n", "(\"-a\")".repeat(n))),
        ("lambdas", format!("x = {}1\n", "lambda: ".repeat(n))),
        (
            "conditionals",
            format!("x = {}1\n", "1 if True else ".repeat(n)),
        ),
        (
            "continued lines",
            format!("x = 1{}\n", " \\\n + 1".repeat(n)),
        ),
        ("f-string", format!("x = f\"{{{}}}\"\n", "[".repeat(n))),
        (
            "pattern",
            format!(
                "prefix_rule(pattern = {}\"ls\"{})\n",
                "[".repeat(n),
                "]".repeat(n)
            ),
        ),
        ("indented blocks", indented),
    ]
}

#[test]
fn a_deeply_nested_rules_file_is_a_located_error() {
    for (what, text) in rules_files(DEEP) {
        let text = if text.len() > codex_execpolicy::MAX_RULES_BYTES {
            // Keep under the size limit so the nesting bound is what refuses.
            let cut: String = text
                .chars()
                .take(codex_execpolicy::MAX_RULES_BYTES - 16)
                .collect();
            format!("{cut}\n")
        } else {
            text
        };
        let err = PolicyLoader::new()
            .load_str("deep.star", &text)
            .expect_err(what);
        assert_eq!(err.file, "deep.star", "{what}");
        assert!(err.line >= 1 && err.column >= 1, "{what}: {err}");
        let message = err.to_string();
        assert!(
            message.starts_with(&format!("deep.star:{}:{}:", err.line, err.column)),
            "{what}: {message}"
        );
        let expected = if what == "f-string" {
            "only a name is allowed"
        } else {
            "nesting deeper than"
        };
        assert!(message.contains(expected), "{what}: {message}");
    }
}

#[test]
fn rules_nested_just_under_the_bound_load_or_fail_cleanly() {
    for n in [
        MAX_RULES_NESTING / 2,
        MAX_RULES_NESTING - 2,
        MAX_RULES_NESTING,
    ] {
        for (what, text) in rules_files(n) {
            // Either loads or is a located error; never a crash.
            if let Err(err) = PolicyLoader::new().load_str("edge.star", &text) {
                assert!(err.line >= 1, "{what} at {n}: {err}");
            }
        }
    }
    // A declarative file of ordinary depth loads.
    PolicyLoader::new()
        .load_str(
            "ok.star",
            "prefix_rule(pattern = [\"git\", [\"status\", \"log\"]], decision = \"prompt\",\n    match = [[\"git\", \"status\"]], not_match = [\"git push\"])\n",
        )
        .unwrap();
}
