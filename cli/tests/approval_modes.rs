//! The gate under each approval policy: every mode × every decision class,
//! run for real (`codex-policy run`, no terminal: an ask is a refusal that
//! says how to approve), printed as a table; then the ask driven through a
//! real pseudo-terminal, and every ask, answer and refusal in the audit log.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::codex_policy;
use common::pty::run_on_pty;

/// One command line per decision class, decided by these rules.
const RULES: &str = r#"
define_program(program = "cat", options = [], args = [ARG_RFILES], should_match = ["cat a.txt"])
define_program(program = "cp", options = [], args = [ARG_RFILE, ARG_WFILE], should_match = ["cp a b"])
prefix_rule(pattern = ["echo", "ask"], decision = "prompt", justification = "asking on purpose")
prefix_rule(pattern = ["echo", "no"], decision = "forbidden", justification = "never echo no")
"#;

const CLASSES: [(&str, &[&str]); 6] = [
    ("safe", &["cat", "a.txt"]),
    ("match", &["cp", "a.txt", "b.txt"]),
    ("unmatched", &["true"]),
    ("unverified", &["cat", "-A", "a.txt"]),
    ("prompt", &["echo", "ask"]),
    ("forbidden", &["echo", "no"]),
];

struct Project {
    home: tempfile::TempDir,
    dir: tempfile::TempDir,
    /// Outside every writable root (not under /tmp): rules there are
    /// loaded in full, not tightening-only.
    rules: tempfile::TempDir,
}

impl Project {
    fn new() -> Self {
        let home = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let rules = tempfile::Builder::new()
            .prefix("codex-policy-approval-")
            .tempdir_in(common::escape::fixture_base().expect("a directory outside /tmp"))
            .unwrap();
        std::fs::write(dir.path().join("a.txt"), "a\n").unwrap();
        std::fs::write(rules.path().join("rules.star"), RULES).unwrap();
        Self { home, dir, rules }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn args(&self, extra: &[&str], command: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        args.extend(
            [
                "run",
                "--cwd",
                &self.path(""),
                "--rules",
                &self.rules.path().join("rules.star").display().to_string(),
                "--audit-log",
                &self.path("audit.jsonl"),
                "--",
            ]
            .map(str::to_owned),
        );
        args.extend(command.iter().map(|s| (*s).to_owned()));
        args
    }

    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn outcome(status: i32, stderr: &str) -> &'static str {
    match status {
        126 if stderr.contains("refused by the exec policy") => "refuse",
        126 if stderr.contains("never asks") => "refuse",
        126 if stderr.contains("nobody to ask") => "ask",
        126 => "126?",
        _ if stderr.contains("codex-policy: error") => "error",
        _ => "run",
    }
}

#[test]
fn every_mode_by_every_class() {
    let expected: [(&str, [&str; 6]); 4] = [
        ("untrusted", ["run", "ask", "ask", "ask", "ask", "refuse"]),
        ("on-request", ["run", "run", "run", "run", "ask", "refuse"]),
        ("on-failure", ["run", "run", "run", "run", "ask", "refuse"]),
        ("never", ["run", "run", "run", "run", "refuse", "refuse"]),
    ];
    let mut table = vec![format!(
        "{:<12}{}",
        "mode",
        CLASSES.map(|(c, _)| format!("{c:<12}")).concat()
    )];
    let mut mismatches = Vec::new();
    for (mode, want) in expected {
        let project = Project::new();
        let mut row = format!("{mode:<12}");
        for ((class, command), want) in CLASSES.iter().zip(want) {
            let args = project.args(&["--profile", "workspace", "-a", mode], command);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let run = codex_policy(project.home.path(), &[], &args);
            let got = outcome(run.status, &run.stderr);
            row.push_str(&format!("{got:<12}"));
            if got != want {
                mismatches.push(format!(
                    "{mode} × {class}: got {got}, want {want}\n{}",
                    run.stderr
                ));
            }
        }
        table.push(row);
    }
    println!("{}", table.join("\n"));
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn without_a_terminal_an_ask_says_how_to_approve() {
    let project = Project::new();
    let args = project.args(&["--profile", "workspace"], &["echo", "ask"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = codex_policy(project.home.path(), &[], &args);
    println!("{}", run.stderr);
    assert_eq!(run.status, 126);
    for part in [
        "asking on purpose",
        "approval policy on-request",
        "nobody to ask",
        "terminal",
        "--rules",
    ] {
        assert!(
            run.stderr.contains(part),
            "missing {part:?}: {}",
            run.stderr
        );
    }
    let untrusted = project.args(&["--profile", "workspace", "-a", "untrusted"], &["true"]);
    let untrusted: Vec<&str> = untrusted.iter().map(String::as_str).collect();
    let run = codex_policy(project.home.path(), &[], &untrusted);
    assert_eq!(run.status, 126);
    assert!(run.stderr.contains("-a on-request"), "{}", run.stderr);
    // Each ask and its refusal are in the log.
    let events: Vec<_> = project
        .events()
        .into_iter()
        .filter(|e| e["operation"] == "command_exec")
        .collect();
    let reasons: Vec<&str> = events
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    println!("{reasons:#?}");
    assert!(reasons.iter().filter(|r| r.starts_with("asking:")).count() == 2);
    assert!(
        reasons
            .iter()
            .filter(|r| r.starts_with("refused: nobody to ask"))
            .count()
            == 2
    );
}

#[test]
fn a_yes_on_the_terminal_runs_the_command() {
    let project = Project::new();
    let args = project.args(&["--profile", "workspace"], &["echo", "ask"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_on_pty(project.home.path(), &[], &args, &["y"]);
    println!("{}", run.screen);
    assert_eq!(run.questions, 1);
    assert!(run.screen.contains("asking on purpose") && run.screen.contains("`echo ask`"));
    assert_eq!(run.status, 0, "{}", run.screen);
    assert!(
        run.screen.lines().any(|l| l.trim() == "ask"),
        "{}",
        run.screen
    );
    let reasons: Vec<String> = project
        .events()
        .iter()
        .filter(|e| e["operation"] == "command_exec")
        .map(|e| format!("{} {}", e["decision"], e["reason"]))
        .collect();
    println!("{reasons:#?}");
    assert!(reasons[0].contains("requires_approval") && reasons[0].contains("asking:"));
    assert!(reasons[1].contains("requires_approval") && reasons[1].contains("approved:"));
}

#[test]
fn a_no_on_the_terminal_refuses() {
    let project = Project::new();
    for answer in ["n", "", "yes please"] {
        let args = project.args(&["--profile", "workspace", "-a", "untrusted"], &["true"]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = run_on_pty(project.home.path(), &[], &args, &[answer]);
        println!("{answer:?}: {}", run.screen);
        assert_eq!(run.status, 126, "{answer:?}: {}", run.screen);
        assert!(run.screen.contains("the answer was no"), "{}", run.screen);
    }
    let declined = project
        .events()
        .iter()
        .filter(|e| {
            e["decision"] == "denied" && e["reason"].as_str().unwrap().starts_with("declined")
        })
        .count();
    assert_eq!(declined, 3);
}

#[test]
fn the_question_shows_control_characters_instead_of_obeying_them() {
    let project = Project::new();
    let args = project.args(
        &["--profile", "workspace"],
        &["echo", "ask", "\u{1b}[2K\rrm -rf /"],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_on_pty(project.home.path(), &[], &args, &["n"]);
    assert!(!run.screen.contains('\u{1b}'), "{:?}", run.screen);
    assert_eq!(run.status, 126);
}

#[test]
fn on_failure_offers_a_rerun_without_the_sandbox() {
    let project = Project::new();
    let outside = &project.rules;
    let target = outside.path().join("written");
    let script = format!("echo x > {}", target.display());
    let args = project.args(
        &["--profile", "workspace", "-a", "on-failure"],
        &["sh", "-c", &script],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Declined: the sandbox's failure stands.
    let run = run_on_pty(project.home.path(), &[], &args, &["n"]);
    println!("{}", run.screen);
    assert_eq!(run.questions, 1, "{}", run.screen);
    assert!(run.screen.contains("WITHOUT the sandbox"), "{}", run.screen);
    assert_ne!(run.status, 0);
    assert!(!target.exists());
    // Approved: it runs again, unrestricted, and the rerun is audited.
    let run = run_on_pty(project.home.path(), &[], &args, &["y"]);
    assert_eq!(run.status, 0, "{}", run.screen);
    assert!(target.exists());
    let events = project.events();
    let elevation: Vec<_> = events
        .iter()
        .filter(|e| e["operation"] == "elevation")
        .collect();
    println!("{elevation:#?}");
    assert_eq!(elevation.len(), 2);
    assert!(
        elevation[1]["reason"]
            .as_str()
            .unwrap()
            .contains("approved")
    );
    assert!(events.iter().any(|e| {
        e["operation"] == "sandbox_start"
            && e["reason"]
                .as_str()
                .unwrap()
                .contains("WITHOUT the sandbox")
    }));
    // No terminal: no rerun.
    std::fs::remove_file(&target).unwrap();
    let run = codex_policy(project.home.path(), &[], &args);
    assert_ne!(run.status, 0);
    assert!(!target.exists());
}

#[test]
fn on_request_does_not_offer_a_rerun() {
    let project = Project::new();
    let args = project.args(&["--profile", "workspace"], &["sh", "-c", "exit 3"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_on_pty(project.home.path(), &[], &args, &[]);
    assert_eq!(run.status, 3);
    assert_eq!(run.questions, 0, "{}", run.screen);
}

#[test]
fn the_default_policy_gates_every_run() {
    let project = Project::new();
    let home = project.home.path();
    let cwd = project.path("");
    // Offline: even if the gate failed, the sandbox is read-only.
    let run = codex_policy(home, &[], &["run", "--cwd", &cwd, "--", "rm", "-rf", "/"]);
    println!("{}", run.stderr);
    assert_eq!(run.status, 126, "{}", run.stderr);
    assert!(
        run.stderr.contains("refused by the exec policy"),
        "{}",
        run.stderr
    );
    let run = codex_policy(home, &[], &["run", "--cwd", &cwd, "--", "cat", "a.txt"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
}

#[test]
fn trusted_with_never_runs_what_would_ask_and_says_so() {
    let project = Project::new();
    // Under trusted the command could write any file: rules are loaded
    // tightening-only, so this file holds the prompt rule alone.
    std::fs::write(
        project.rules.path().join("rules.star"),
        "prefix_rule(pattern = [\"echo\", \"ask\"], decision = \"prompt\")\n\
         prefix_rule(pattern = [\"echo\", \"no\"], decision = \"forbidden\")\n",
    )
    .unwrap();
    // Forbidden stays refused, --yolo or not.
    let forbidden = project.args(&["--yolo"], &["echo", "no"]);
    let forbidden: Vec<&str> = forbidden.iter().map(String::as_str).collect();
    let run = codex_policy(project.home.path(), &[], &forbidden);
    assert_eq!(run.status, 126, "{}", run.stderr);
    let args = project.args(&["--yolo"], &["echo", "ask"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = codex_policy(project.home.path(), &[], &args);
    println!("{}", run.stderr);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("codex-policy: warning: --dangerously-bypass-approvals-and-sandbox"),
        "{}",
        run.stderr
    );
    let bypassed = project.events().iter().any(|e| {
        e["decision"] == "requires_approval"
            && e["reason"]
                .as_str()
                .unwrap()
                .starts_with("approval bypassed")
    });
    assert!(bypassed);
    let load = project
        .events()
        .into_iter()
        .find(|e| e["operation"] == "policy_load")
        .unwrap();
    assert!(
        load["reason"].as_str().unwrap().contains("--yolo"),
        "{load}"
    );
}

#[test]
fn monitor_mode_runs_what_would_ask_and_records_it() {
    let project = Project::new();
    let policy = project
        .rules
        .path()
        .join("harness.policy.json")
        .display()
        .to_string();
    std::fs::write(&policy, r#"{"deny_on_violation": false}"#).unwrap();
    let args = project.args(&["--profile", "workspace"], &["echo", "ask"]);
    let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run_at = args.iter().position(|a| *a == "run").unwrap();
    args.splice(run_at + 1..run_at + 1, ["--policy", policy.as_str()]);
    let run = codex_policy(project.home.path(), &[], &args);
    println!("{}", run.stderr);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stderr.contains("monitor mode"), "{}", run.stderr);
    assert!(
        project
            .events()
            .iter()
            .any(|e| e["decision"] == "requires_approval"
                && e["reason"].as_str().unwrap().starts_with("monitor mode"))
    );
}

#[test]
fn a_download_piped_into_a_shell_asks_and_never_refuses_it() {
    let project = Project::new();
    let home = project.home.path();
    let cwd = project.path("");
    let pipe = ["bash", "-c", "curl -s file:///dev/null | sh"];
    let mut args = vec![
        "--profile",
        "offline",
        "run",
        "--cwd",
        &cwd,
        "--no-audit",
        "--",
    ];
    args.extend(pipe);
    let run = codex_policy(home, &[], &args);
    println!("{}", run.stderr);
    assert_eq!(run.status, 126, "{}", run.stderr);
    assert!(
        run.stderr.contains("(prompt") && run.stderr.contains("nobody to ask"),
        "{}",
        run.stderr
    );
    args.splice(2..2, ["-a", "never"]);
    let run = codex_policy(home, &[], &args);
    assert_eq!(run.status, 126, "{}", run.stderr);
    assert!(run.stderr.contains("never asks"), "{}", run.stderr);
}

#[test]
fn forbidden_command_lines_behind_unknown_wrappers_or_odd_paths_are_refused() {
    let project = Project::new();
    let home = project.home.path();
    let cwd = project.path("");
    // Harmless stand-ins, under a read-only profile: if the gate let one
    // through, the sandbox would still refuse it.
    for line in [
        &["taskset", "1", "mkfs.ext4", "/dev/nonexistent-codex-policy"][..],
        &["strace", "-f", "rm", "-rf", "/"],
        &["rm", "-rf", "/./"],
        &["rm", "-rf", "/usr/../"],
        &["rm", "-rf", "///"],
        &["dd", "if=/dev/zero", "of=/dev//sda", "count=0"],
        &["dd", "if=/dev/zero", "of=/dev/./sda", "count=0"],
    ] {
        let mut args = vec![
            "--profile",
            "offline",
            "-a",
            "never",
            "run",
            "--cwd",
            &cwd,
            "--no-audit",
            "--",
        ];
        args.extend(line);
        let run = codex_policy(home, &[], &args);
        println!("{line:?}: {}", run.stderr.trim());
        assert_eq!(run.status, 126, "{line:?}: {}", run.stderr);
        assert!(
            run.stderr.contains("refused by the exec policy"),
            "{}",
            run.stderr
        );
    }
    // A lone name is no command line: `man mkfs.ext4` is not forbidden.
    let run = codex_policy(home, &[], &["check", "--", "man", "mkfs.ext4"]);
    assert!(
        !run.stdout.starts_with("decision: forbidden"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_script_part_no_rule_covers_is_unmatched_and_hidden_code_unverified() {
    let project = Project::new();
    let home = project.home.path();
    let cwd = project.path("");
    for (script, class) in [("exit 0", "unmatched"), ("eval \"$X\"", "unverified")] {
        let run = codex_policy(
            home,
            &[],
            &[
                "--profile",
                "workspace",
                "-a",
                "untrusted",
                "run",
                "--cwd",
                &cwd,
                "--no-audit",
                "--",
                "bash",
                "-c",
                script,
            ],
        );
        assert_eq!(run.status, 126, "{}", run.stderr);
        assert!(
            run.stderr.contains(&format!("({class})")),
            "{script}: {}",
            run.stderr
        );
    }
}

#[test]
fn typed_ahead_input_does_not_answer_the_question() {
    let project = Project::new();
    // The command prints a look-alike question and fails; the `y` typed for
    // it arrives before codex-policy asks, and must be discarded.
    let script = "printf 'Overwrite? [y/N] '; sleep 1; exit 1";
    let args = project.args(
        &["--profile", "workspace", "-a", "on-failure"],
        &["sh", "-c", script],
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_on_pty(project.home.path(), &[], &args, &["y"]);
    println!("{}", run.screen);
    // The look-alike, and the real question (which quotes the script, so
    // its `[y/N]` shows twice there).
    assert!(run.screen.contains("WITHOUT the sandbox"), "{}", run.screen);
    assert_ne!(
        run.status, 0,
        "the rerun must not have been approved: {}",
        run.screen
    );
    assert!(!project.events().iter().any(
        |e| e["operation"] == "elevation" && e["reason"].as_str().unwrap().contains("approved")
    ));
}
