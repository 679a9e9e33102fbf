//! Wrappers, prefixes and variables that change what runs: every one is either
//! unwrapped (and the command inside decided, so a forbidden rule holds through
//! it) or makes the command at best `prompt` — never allowed. Each row is
//! checked with `check` and `decide`, and the table is printed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

use codex_execpolicy::{Policy, PolicyLoader};

const RULES: &str = r#"
prefix_rule(pattern = ["rm"], decision = "forbidden", justification = "no deletes")
prefix_rule(pattern = [["ls", "cat", "echo", "true"]], decision = "allow")
prefix_rule(pattern = ["git", ["status", "diff", "log"]], decision = "allow")
prefix_rule(pattern = ["sudo"], decision = "prompt")
host_executable(name = "ls", paths = ["/usr/bin/ls"])
"#;

fn rules() -> Policy {
    let mut loader = PolicyLoader::new();
    loader.load_str("rules.star", RULES).unwrap();
    loader.finish()
}

fn defaults() -> Policy {
    PolicyLoader::with_default_policy().unwrap().finish()
}

/// A forbidden `rm` through every wrapper form.
const FORBIDDEN_THROUGH_WRAPPERS: &[&str] = &[
    "rm -rf /",
    "rbash -c 'rm x'",
    "/bin/rm -rf /",
    "/usr/bin/rm x",
    "./rm x",
    "../../bin/rm x",
    "//bin//rm x",
    "/usr/bin/../bin/rm x",
    "env rm x",
    "env X-Y=1 rm -rf x",
    "env A.B=1 1=2 rm x",
    "env 'BASH_FUNC_ls%%=() { :; }' rm x",
    "env -u HOME rm x",
    "env -uHOME rm x",
    "env --unset=HOME rm x",
    "env -i rm x",
    "env -i PATH=/bin rm x",
    "env -- rm x",
    "env -C /tmp rm x",
    "env --chdir=/tmp rm x",
    "env -S 'rm -rf /'",
    "env --split-string='rm x'",
    "env -v -0 rm x",
    "env LD_PRELOAD=./evil.so rm x",
    "/usr/bin/env rm x",
    "/tmp/env rm x",
    "command rm x",
    "command -p rm x",
    "command -- rm x",
    "exec rm x",
    "exec -a ls rm x",
    "builtin exec rm x",
    "nice rm x",
    "nice -n 5 rm x",
    "nice -5 rm x",
    "nohup rm x",
    "time rm x",
    "time -p rm x",
    "timeout 5 rm x",
    "timeout -k 1 -s KILL 5 rm x",
    "stdbuf -oL rm x",
    "setsid -f rm x",
    "ionice -c 3 rm x",
    "sudo rm x",
    "sudo -u root -E rm x",
    "sudo -- rm x",
    "doas rm x",
    "xargs rm",
    "xargs -0 -n 1 rm -f",
    "busybox rm x",
    "find . -name x -exec rm {} ;",
    "find . -execdir rm {} +",
    "eval 'rm x'",
    "bash -c 'rm x'",
    "bash -xc 'rm x'",
    "bash -ec 'rm x'",
    "bash -lc 'rm x'",
    "bash -ic 'rm x'",
    "bash -eux -c 'rm x'",
    "bash -c -x 'rm x'",
    "bash --norc -c 'rm x'",
    "bash --noprofile --norc -c 'rm x'",
    "bash --rcfile /tmp/x -c 'rm x'",
    "sh -o errexit -c 'rm x'",
    "sh -o pipefail -o nounset -c 'rm x'",
    "bash -O extglob -c 'rm x'",
    "bash +e -c 'rm x'",
    "bash -c 'rm x' name extra args",
    "bash -c 'rm \"$@\"' name -rf /",
    "zsh -c 'rm x'",
    "dash -c 'rm x'",
    "ksh -c 'rm x'",
    "/bin/sh -c 'rm x'",
    "./sh -c 'rm x'",
    "bash -c '\\rm x'",
    "bash -c \"'rm' x\"",
    "bash -c '\"r\"m x'",
    "bash -c 'command rm x'",
    "bash -c 'exec rm x'",
    "bash -c 'time rm x'",
    "bash -c '! rm x'",
    "bash -c 'true && rm x'",
    "bash -c 'true || rm x'",
    "bash -c 'true; rm x'",
    "bash -c 'ls | rm x'",
    "bash -c 'rm x &'",
    "bash -c 'A=1 rm x'",
    "bash -c 'LD_PRELOAD=x rm x'",
    "bash -c '{ rm x; }'",
    "bash -c '(rm x)'",
    "bash -c 'if true; then rm x; fi'",
    "bash -c 'if false; then :; elif true; then :; else rm x; fi'",
    "bash -c 'for f in a; do rm $f; done'",
    "bash -c 'while true; do rm x; done'",
    "bash -c 'case a in a) rm x;; esac'",
    "bash -c 'f() { rm x; }; f'",
    "bash -c 'ls $(rm x)'",
    "bash -c 'ls \"$(rm x)\"'",
    "bash -c 'ls `rm x`'",
    "bash -c 'echo $(echo $(rm x))'",
    "bash -c 'rm $HOME'",
    "bash -c 'cat <(rm x)'",
    "bash -c 'rm x > /tmp/out'",
    "bash -c \"eval 'rm x'\"",
    "bash -c \"sh -c 'env -u X rm x'\"",
    "env sh -c 'rm x'",
    "env A=1 bash -lc 'nice timeout 5 rm x'",
    "sudo -u root bash -c 'rm x'",
    "xargs sh -c 'rm x'",
    "timeout 5 env -i bash --norc -xc 'command exec rm x'",
];

/// Variables and prefixes that change what runs: never allowed, whatever the
/// command (here all safe programs).
const NEVER_ALLOWED: &[&str] = &[
    // A value built by `printf -v` (no `$(` to see), evaluated as a subscript.
    r#"bash -c "printf -v x 'a[\x24(rm v)]'; printf -v 'y[x]' 1""#,
    r#"bash -c "printf -v x 'a[\x24(rm v)]'; test -v 'y[x]'""#,
    // xtrace expands PS4 before every command.
    r#"bash -xc "printf -v PS4 '\x24(rm v)'; true""#,
    r#"bash -x -c "printf -v PS4 '\044(rm v)'; true""#,
    // A builtin that evaluates a quoted array subscript again runs `$(…)`.
    "bash -c 'echo x; printf -v \"a[\\$(rm victim)]\" y'",
    "bash -c \"echo 'a[$(rm victim)]'\"",
    // Launchers whose arguments are not read.
    "taskset 1 rm victim",
    "setarch x86_64 rm victim",
    "chrt -o 0 rm victim",
    "prlimit rm victim",
    "script -qc 'rm victim' /dev/null",
    "flock /tmp/l rm victim",
    "LD_PRELOAD=./evil.so ls",
    "LD_LIBRARY_PATH=. ls",
    "LD_AUDIT=./a.so ls",
    "GIT_EXTERNAL_DIFF='sh -c id' git diff",
    "env GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0='touch pwned' git status",
    "GIT_CONFIG_PARAMETERS=\"'core.pager=id'\" git log",
    "GIT_PAGER=id git log",
    "GIT_EDITOR=id git status",
    "GIT_SSH_COMMAND=id git status",
    "GIT_ASKPASS=./x git status",
    "GIT_EXEC_PATH=/tmp git status",
    "GIT_DIR=/tmp/evil git status",
    "GIT_WORK_TREE=/tmp git status",
    "HOME=/tmp/evil git status",
    "PATH=.:$PATH ls",
    "PATH=/tmp ls",
    "BASH_ENV=./x bash -c ls",
    "ENV=./x sh -c ls",
    "PS4='$(id)' bash -xc ls",
    "SHELLOPTS=xtrace bash -c ls",
    "IFS=/ bash -c ls",
    "PYTHONPATH=. ls",
    "PYTHONSTARTUP=x ls",
    "PERL5OPT=-Mx ls",
    "PERL5LIB=. ls",
    "RUBYOPT=-rx ls",
    "NODE_OPTIONS='--require ./x' ls",
    "LANG=../../tmp/x ls",
    "SOME_UNKNOWN_VARIABLE=1 ls",
    "env LD_PRELOAD=./evil.so ls",
    "env -i LD_PRELOAD=./evil.so ls",
    "env -S 'LD_PRELOAD=x ls'",
    "env -C /tmp ls",
    "env -a sh ls",
    "env --frobnicate ls",
    "bash -c 'LD_PRELOAD=./evil.so ls'",
    "bash -c 'GIT_EXTERNAL_DIFF=x git diff'",
    "bash -c 'export LD_PRELOAD=x; ls'",
    "bash -c 'LD_PRELOAD=x; ls'",
    "bash -kc 'ls LD_PRELOAD=x'",
    "bash -s -c ls",
    "bash -o keyword -c ls",
    "bash --frobnicate -c ls",
    "/tmp/bash -c ls",
    "./timeout 5 ls",
    "/home/u/bin/env ls",
    "/tmp/ls",
    "./ls -la",
    "/usr/local/bin/git status",
    "bash -c '\"A=1\" ls'",
    "exec -a x ls",
    "time -o out.txt ls",
    "xargs ls",
    "sudo ls",
    "ls\u{fffd}",
    "bash -c 'ls; ls &'",
];

/// Harmless forms that stay allowed.
const STILL_ALLOWED: &[&str] = &[
    "ls",
    "/usr/bin/ls",
    "LANG=C ls",
    "LC_ALL=C.UTF-8 TZ=Europe/Paris git status",
    "env TERM=dumb NO_COLOR=1 ls",
    "env -i ls",
    "env -u GIT_DIR git status",
    "env -- ls",
    "command ls",
    "nice -n 10 timeout 5 ls",
    "nohup ls",
    "time ls",
    "bash -c ls",
    "bash -lc 'git status && ls'",
    "bash -ec 'ls; cat f'",
    "bash --norc --noprofile -c ls",
    "sh -o errexit -o pipefail -c 'ls | cat'",
    "bash -c 'ls' name extra",
    "bash -c '! ls'",
    "bash -c 'time ls'",
    "eval ls",
    "/bin/bash -lc 'LANG=C ls'",
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
    evaluation
        .decision
        .map_or_else(|| "none".into(), |v| v.decision().as_str().to_owned())
}

fn run_table(name: &str, policy: &Policy, commands: &[&str], ok: impl Fn(&str) -> bool) -> usize {
    let mut out = format!("\n== {name} ==\n");
    let mut failures = 0;
    for command in commands {
        let got = decision(policy, command);
        let good = ok(&got);
        failures += usize::from(!good);
        out.push_str(&format!(
            "{:<70} {:<10} {}\n",
            command,
            got,
            if good { "ok" } else { "MISMATCH" }
        ));
    }
    out.push_str(&format!(
        "{} cases, {failures} mismatched\n",
        commands.len()
    ));
    let _ = std::io::stderr().write_all(out.as_bytes());
    failures
}

#[test]
fn a_forbidden_rule_holds_through_every_wrapper() {
    let failures = run_table(
        "forbidden rm through wrappers",
        &rules(),
        FORBIDDEN_THROUGH_WRAPPERS,
        |d| d == "forbidden",
    );
    assert_eq!(failures, 0, "see the table above");
}

#[test]
fn what_changes_what_runs_is_never_allowed() {
    for (name, policy) in [("rules", rules()), ("default policy", defaults())] {
        let failures = run_table(
            &format!("never allowed ({name})"),
            &policy,
            NEVER_ALLOWED,
            |d| d == "prompt" || d == "forbidden",
        );
        assert_eq!(failures, 0, "see the table above ({name})");
    }
}

#[test]
fn harmless_forms_stay_allowed() {
    let failures = run_table("still allowed", &rules(), STILL_ALLOWED, |d| d == "allow");
    assert_eq!(failures, 0, "see the table above");
}

#[test]
fn the_default_policy_does_not_call_wrapped_commands_safe() {
    let policy = defaults();
    for command in [
        "LD_PRELOAD=./evil.so ls",
        "GIT_EXTERNAL_DIFF='sh -c id' git diff",
        "env GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=core.fsmonitor GIT_CONFIG_VALUE_0=x git status",
        "/tmp/ls",
        "./sed -n p f",
        "/usr/bin/../bin/ls",
    ] {
        let evaluation = policy.check(&words(command));
        let decision = evaluation.decision.map(|v| v.decision().as_str());
        assert_eq!(decision, Some("prompt"), "{command}: {evaluation:?}");
    }
    // The known locations stay safe.
    let evaluation = policy.check(&words("/bin/ls -la"));
    assert_eq!(
        serde_json::to_value(evaluation.decision).unwrap(),
        "safe",
        "{evaluation:?}"
    );
}

#[test]
fn wrappers_are_decided_by_their_own_rules_too() {
    let policy = rules();
    // `sudo` has a prompt rule: `sudo ls` is not allowed although `ls` is.
    let evaluation = policy.check(&words("sudo ls"));
    assert_eq!(evaluation.decision.unwrap().decision().as_str(), "prompt");
    assert_eq!(evaluation.commands, vec![words("ls")]);

    let mut loader = PolicyLoader::new();
    loader
        .load_str(
            "r.star",
            r#"
prefix_rule(pattern = ["bash"], decision = "forbidden")
prefix_rule(pattern = ["ls"])
"#,
        )
        .unwrap();
    let policy = loader.finish();
    for command in ["bash -lc ls", "env bash -c ls", "timeout 5 bash -xc ls"] {
        assert_eq!(
            policy.decide(&words(command)).unwrap().decision().as_str(),
            "forbidden",
            "{command}"
        );
    }
}

#[test]
fn the_reason_names_what_made_it_unverifiable() {
    let json = serde_json::to_value(rules().check(&words("LD_PRELOAD=./evil.so ls"))).unwrap();
    let reasons: Vec<&str> = json["matchedRules"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["shellRuleMatch"]["reason"].as_str())
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("LD_PRELOAD")),
        "{reasons:?}"
    );
    let json = serde_json::to_value(rules().check(&words("/tmp/ls"))).unwrap();
    assert!(
        json.to_string().contains("not a known location of ls"),
        "{json}"
    );
}
