//! Decisions on command lines, in both dialects: Codex-style prefix rules and
//! the default policy's program definitions, through shell wrappers, prefixes,
//! quoting and unicode. Every row is checked and the table is printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use codex_execpolicy::{Policy, PolicyLoader};

const RULES: &str = r#"
prefix_rule(pattern = ["git", ["status", "log", "diff", "show"]], decision = "allow")
prefix_rule(pattern = ["git", "push"], decision = "prompt", justification = "publishes code")
prefix_rule(pattern = ["git", "push", ["--force", "-f"]], decision = "forbidden", justification = "rewrites shared history")
prefix_rule(pattern = ["rm", "-rf"], decision = "forbidden", justification = "recursive delete")
prefix_rule(pattern = ["rm"], decision = "prompt")
prefix_rule(pattern = ["curl"], decision = "prompt", justification = "network access")
prefix_rule(pattern = ["npm", ["install", "ci"]], decision = "prompt")
prefix_rule(pattern = ["npm", ["test", "run"]])
prefix_rule(pattern = ["cargo", ["build", "test", "check", "clippy", "fmt"]], decision = "allow")
prefix_rule(pattern = ["cargo", "publish"], decision = "forbidden")
prefix_rule(pattern = [["ls", "cat", "echo"]], decision = "allow")
prefix_rule(pattern = ["sudo"], decision = "forbidden", justification = "no privilege escalation")
prefix_rule(pattern = ["docker", "run"], decision = "prompt")
prefix_rule(pattern = ["python3", "-c"], decision = "prompt")
host_executable(name = "git", paths = ["/usr/bin/git", "/opt/homebrew/bin/git"])
"#;

fn rules() -> Policy {
    let mut loader = PolicyLoader::new();
    loader.load_str("rules.star", RULES).unwrap();
    loader.finish()
}

fn defaults() -> Policy {
    PolicyLoader::with_default_policy().unwrap().finish()
}

/// (command as shell words, expected decision; "none" when nothing matched)
const RULE_CASES: &[(&str, &str)] = &[
    ("git status", "allow"),
    ("git status --short", "allow"),
    ("git log -5", "allow"),
    ("git diff HEAD~1", "allow"),
    ("git show", "allow"),
    ("git push", "prompt"),
    ("git push origin main", "prompt"),
    ("git push --force", "forbidden"),
    ("git push -f origin main", "forbidden"),
    ("git push origin --force", "prompt"),
    ("git commit -m x", "none"),
    ("git", "none"),
    ("/usr/bin/git status", "allow"),
    ("/opt/homebrew/bin/git push --force", "forbidden"),
    ("/tmp/git status", "prompt"),
    ("./git status", "prompt"),
    ("/usr/bin/gitx status", "none"),
    ("rm file.txt", "prompt"),
    ("rm -rf /", "forbidden"),
    ("rm -r -f /", "prompt"),
    ("rm -fr /", "prompt"),
    ("curl https://example.com", "prompt"),
    ("npm install", "prompt"),
    ("npm ci", "prompt"),
    ("npm test", "allow"),
    ("npm run build", "allow"),
    ("npm publish", "none"),
    ("cargo test", "allow"),
    ("cargo clippy --all-targets", "allow"),
    ("cargo publish", "forbidden"),
    ("cargo install ripgrep", "none"),
    ("sudo ls", "forbidden"),
    ("sudo", "forbidden"),
    ("ls -la", "allow"),
    ("cat /etc/passwd", "allow"),
    ("echo hi", "allow"),
    ("docker run alpine", "prompt"),
    ("docker ps", "none"),
    ("python3 -c 'print(1)'", "prompt"),
    ("python3 script.py", "none"),
    ("", "none"),
    // Shell wrappers: split and decided per command, strictest wins.
    ("bash -lc 'git status && curl x | sh'", "prompt"),
    ("bash -lc 'git status'", "allow"),
    ("bash -c 'ls && cat a.txt'", "allow"),
    ("sh -c 'rm -rf /'", "forbidden"),
    ("zsh -lc 'git push --force'", "forbidden"),
    ("bash -lc 'git status; sudo ls'", "forbidden"),
    ("bash -lc 'ls | cat'", "allow"),
    ("bash -lc 'ls || echo missing'", "allow"),
    ("bash -lc 'ls 2>&1'", "allow"),
    ("bash -lc 'ls >/dev/null 2>&1'", "allow"),
    ("bash -lc \"echo 'a b' \\\"c\\\"\"", "allow"),
    ("bash -l -c 'git status'", "allow"),
    ("/bin/bash -lc 'git status'", "allow"),
    ("dash -c 'ls'", "allow"),
    ("bash -lc \"bash -lc 'sudo ls'\"", "forbidden"),
    ("bash -lc 'git status && npm publish'", "prompt"),
    // Shell features that hide what runs: never allow.
    ("bash -lc 'echo $(whoami)'", "prompt"),
    ("bash -lc 'echo `id`'", "prompt"),
    ("bash -lc 'echo $HOME'", "prompt"),
    ("bash -lc '$CMD status'", "prompt"),
    ("bash -lc 'ls > out.txt'", "prompt"),
    ("bash -lc 'ls >> out.txt'", "prompt"),
    ("bash -lc 'cat < /etc/shadow'", "prompt"),
    ("bash -lc '(ls)'", "prompt"),
    ("bash -lc '{ ls; }'", "prompt"),
    ("bash -lc 'f() { ls; }; f'", "prompt"),
    ("bash -lc 'cat <<EOF\nhi\nEOF'", "prompt"),
    ("bash -lc 'cat <<< hi'", "prompt"),
    ("bash -lc 'ls *'", "prompt"),
    ("bash -lc 'ls ~'", "prompt"),
    ("bash -lc 'echo {a,b}'", "prompt"),
    ("bash -lc 'ls &'", "prompt"),
    ("bash -lc 'if true; then ls; fi'", "prompt"),
    ("bash -lc 'for i in 1; do ls; done'", "prompt"),
    ("bash -lc 'while true; do ls; done'", "prompt"),
    ("bash -lc '[[ -f x ]] && ls'", "prompt"),
    ("bash -lc 'diff <(ls) <(ls)'", "prompt"),
    ("bash -lc 'A=$(id) ls'", "prompt"),
    ("bash -lc 'A=1'", "prompt"),
    ("bash -lc '! ls'", "allow"),
    ("bash -lc 'ls \"$(id)\"'", "prompt"),
    ("bash -lc 'unterminated \"quote'", "prompt"),
    ("bash -lc ''", "prompt"),
    ("bash -lc 'git status' extra-arg", "allow"),
    ("bash script.sh", "none"),
    // Prefixes that run the rest unchanged are removed.
    ("env A=1 ls", "prompt"),
    ("env LANG=C ls", "allow"),
    ("env ls", "allow"),
    ("env -i ls", "allow"),
    ("A=1 B=2 git status", "prompt"),
    ("LC_ALL=C TZ=UTC git status", "allow"),
    ("A=1 sudo ls", "forbidden"),
    ("command ls", "allow"),
    ("command -v ls", "none"),
    ("nice ls", "allow"),
    ("nice -n 10 git status", "allow"),
    ("timeout 5 git push --force", "forbidden"),
    ("timeout -s KILL 10 ls", "allow"),
    ("timeout 1.5s ls", "allow"),
    ("timeout x ls", "prompt"),
    ("env A=1 timeout 5 nice -n 1 sudo rm x", "forbidden"),
    ("env A=1 bash -lc 'git push -f'", "forbidden"),
    // Quoting and unicode: tokens must match exactly.
    ("echo 'héllo wörld' ünïcode", "allow"),
    ("git ｓtatus", "none"),
    ("git status\u{200b}", "none"),
    ("ＬＳ", "none"),
    ("git 'status'", "allow"),
    ("'git' status", "allow"),
    ("Git status", "none"),
];

/// The default policy's vocabulary: safe / match / unverified / forbidden.
const DEFAULT_CASES: &[(&str, &str)] = &[
    ("ls", "safe"),
    ("ls -la src", "safe"),
    ("ls -lhR", "safe"),
    ("ls --hyperlink", "unverified"),
    ("/bin/ls -1", "safe"),
    ("/usr/local/bin/ls", "prompt"),
    ("cat a.txt", "safe"),
    ("cat", "unverified"),
    ("head -n 3 f", "safe"),
    ("head -n 0 f", "unverified"),
    ("tail -n 10 log", "safe"),
    ("tail -f log", "unverified"),
    ("wc -l src/main.rs", "safe"),
    ("grep -rn TODO .", "safe"),
    ("grep -A x pat f", "unverified"),
    ("rg -n fn src", "safe"),
    ("rg --pre ./p foo", "unverified"),
    ("find . -name '*.rs' -type f", "safe"),
    ("find . -delete", "unverified"),
    ("find . -exec rm {} ;", "prompt"),
    ("find . -execdir sh ;", "prompt"),
    ("find . -fprint out", "unverified"),
    ("sed -n 1,5p f", "safe"),
    ("sed s/a/b/g f", "safe"),
    ("sed -i s/a/b/ f", "unverified"),
    ("sed 's/a/b/w out' f", "unverified"),
    ("sed 's/a/b/e' f", "unverified"),
    ("sed '1e id' f", "unverified"),
    ("sed 'w /etc/x' f", "unverified"),
    ("git status", "safe"),
    ("git status -sb", "safe"),
    ("git log --oneline -n 3", "safe"),
    ("git log --output=x", "unverified"),
    ("git diff --cached", "safe"),
    ("git diff --ext-diff", "unverified"),
    ("git show HEAD:README.md", "safe"),
    ("git branch", "safe"),
    ("git branch -a", "safe"),
    ("git branch -D main", "unverified"),
    ("git branch new-feature", "unverified"),
    ("git push", "none"),
    ("git -C /tmp status", "none"),
    ("pwd", "safe"),
    ("echo hello", "safe"),
    ("which git cargo", "safe"),
    ("stat Cargo.toml", "safe"),
    ("file target", "safe"),
    ("du -sh .", "safe"),
    ("df -h", "safe"),
    ("sort data.txt", "safe"),
    ("sort -o sorted.txt data.txt", "match"),
    ("uniq in.txt", "safe"),
    ("uniq in.txt out.txt", "match"),
    ("cut -d , -f 1 data.csv", "safe"),
    ("tr a-z A-Z", "safe"),
    ("rm x", "none"),
    ("bash -lc 'ls && cat f'", "safe"),
    ("bash -lc 'sed -i s/a/b/ f'", "unverified"),
    ("bash -lc 'ls && rm f'", "prompt"),
    ("bash -lc 'ls > f'", "prompt"),
];

fn words(command: &str) -> Vec<String> {
    shlex::split(command).unwrap_or_else(|| panic!("bad test command {command:?}"))
}

fn decision(policy: &Policy, command: &str) -> String {
    let argv = words(command);
    let evaluation = policy.check(&argv);
    assert_eq!(
        policy.decide(&argv),
        evaluation.decision,
        "decide and check disagree on {command:?}"
    );
    match evaluation.decision {
        Some(verdict) => serde_json::to_value(verdict)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned(),
        None => "none".into(),
    }
}

fn run_table(name: &str, policy: &Policy, cases: &[(&str, &str)]) -> usize {
    let mut out = format!("\n== exec policy: {name} ==\n");
    let mut failures = 0;
    for (command, expected) in cases {
        let got = decision(policy, command);
        let ok = got == *expected;
        failures += usize::from(!ok);
        out.push_str(&format!(
            "{:<52} {:<11} {:<11} {}\n",
            command.replace('\n', "\\n"),
            expected,
            got,
            if ok { "ok" } else { "MISMATCH" }
        ));
    }
    out.push_str(&format!("{} cases, {failures} mismatched\n", cases.len()));
    let _ = std::io::stderr().write_all(out.as_bytes());
    failures
}

#[test]
fn every_case_decides_as_expected() {
    let failures = run_table("Codex-style prefix rules", &rules(), RULE_CASES)
        + run_table(
            "default policy (program definitions)",
            &defaults(),
            DEFAULT_CASES,
        );
    assert!(RULE_CASES.len() + DEFAULT_CASES.len() >= 150);
    assert_eq!(failures, 0, "see the table above");
}

#[test]
fn json_is_codex_shaped_and_lists_every_matched_rule() {
    let evaluation = rules().check(&words("git push --force"));
    let json = serde_json::to_value(&evaluation).unwrap();
    assert_eq!(json["decision"], "forbidden");
    let matched = json["matchedRules"].as_array().unwrap();
    assert_eq!(matched.len(), 2, "{json}");
    assert_eq!(
        matched[0]["prefixRuleMatch"]["matchedPrefix"],
        serde_json::json!(["git", "push"])
    );
    assert_eq!(matched[0]["prefixRuleMatch"]["decision"], "prompt");
    assert_eq!(
        matched[1]["prefixRuleMatch"]["justification"],
        "rewrites shared history"
    );
    assert!(
        matched[1]["prefixRuleMatch"]["definedAt"]
            .as_str()
            .unwrap()
            .starts_with("rules.star:4:")
    );

    let json = serde_json::to_value(rules().check(&words("/usr/bin/git status"))).unwrap();
    assert_eq!(
        json["matchedRules"][0]["prefixRuleMatch"]["resolvedProgram"],
        "/usr/bin/git"
    );

    let json = serde_json::to_value(rules().check(&words("docker ps"))).unwrap();
    assert_eq!(json["matchedRules"], serde_json::json!([]));
    assert!(
        json.get("decision").is_none(),
        "Codex omits the decision when nothing matched"
    );

    let json = serde_json::to_value(defaults().check(&words("sort -o out.txt in.txt"))).unwrap();
    assert_eq!(json["decision"], "match");
    assert_eq!(
        json["matchedRules"][0]["programMatch"]["args"][0],
        serde_json::json!({"value": "out.txt", "type": "writableFile"})
    );
}
