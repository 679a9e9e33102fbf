//! A session gates, sandboxes and audits each command as `run` does, and its
//! errors carry the contract's exit statuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_policy::{Error, ExecRules, Refusal, exit_code};
use common::escape::{Fixture, skip, skip_reason};
use common::session::{builder, events, rules};

#[test]
fn gate_audit_and_exit_statuses() {
    if let Some(reason) = skip_reason() {
        return skip("gate_audit_and_exit_statuses", &reason);
    }
    let fixture = Fixture::new();
    let rules = rules(
        &fixture,
        r#"prefix_rule(pattern = ["rm", "-rf"], decision = "forbidden")
prefix_rule(pattern = ["git", "push"], decision = "prompt")
"#,
    );
    let (gated, log) = builder(&fixture, "workspace");
    let session = gated
        .rules(ExecRules::Files(vec![rules.clone()]))
        .session_id("gate-1")
        .build()
        .unwrap();
    std::fs::write(fixture.workspace.join("keep"), "x").unwrap();

    // Forbidden: 126, nothing run.
    let err = session.command(["rm", "-rf", "keep"]).status().unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::Forbidden { .. })),
        "{err:?}"
    );
    assert_eq!(err.exit_status(), 126);
    assert!(fixture.workspace.join("keep").exists());

    // Asks, and no approver: refused, 126.
    let err = session.command(["git", "push"]).status().unwrap_err();
    assert!(
        matches!(err, Error::Refused(Refusal::NotApproved { .. })),
        "{err:?}"
    );
    assert_eq!(err.exit_status(), 126);

    // Without rules, nothing is gated: the sandbox alone decides.
    let (plain, _) = common::session::builder(&fixture, "workspace");
    let session = plain.session_id("gate-2").build().unwrap();

    // Not found: 127; the start and its failure are both recorded.
    let err = session
        .command(["/nonexistent/program"])
        .status()
        .unwrap_err();
    assert!(matches!(err, Error::Spawn(_)), "{err:?}");
    assert_eq!(err.exit_status(), 127);

    // The command's own status, and 128+N for a signal.
    let status = session.command(["sh", "-c", "exit 3"]).status().unwrap();
    assert_eq!(exit_code(status), 3);
    let status = session
        .command(["sh", "-c", "kill -TERM $$"])
        .status()
        .unwrap();
    assert_eq!(exit_code(status), 128 + 15, "{status:?}");

    // Sandboxed: the workspace is writable, the home is not.
    let out = session
        .command([
            "sh",
            "-c",
            &format!(
                "echo ok > made; echo pwned > {}/victim",
                fixture.home.display()
            ),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    assert!(fixture.workspace.join("made").exists());
    assert_eq!(
        std::fs::read_to_string(fixture.home.join("victim")).unwrap(),
        "original\n"
    );

    let log = events(&log);
    let kinds: Vec<(String, String)> = log
        .iter()
        .map(|e| {
            (
                e["operation"].as_str().unwrap().to_owned(),
                e["decision"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(log[0]["target"], "profile workspace", "{kinds:?}");
    assert!(
        log.iter()
            .all(|e| e["session_id"] == "gate-1" || e["session_id"] == "gate-2")
    );
    assert!(
        log.iter().any(|e| e["operation"] == "policy_load"
            && e["target"].as_str().unwrap().ends_with("session.rules")),
        "{log:?}"
    );
    let denied = log
        .iter()
        .filter(|e| e["operation"] == "command_exec" && e["decision"] == "denied")
        .count();
    let approval = log
        .iter()
        .filter(|e| e["operation"] == "command_exec" && e["decision"] == "requires_approval")
        .count();
    // The forbidden one; the ask (requires_approval) and its refusal, with
    // nobody to ask (denied).
    assert_eq!((denied, approval), (2, 1), "{kinds:?}");
    // Every recorded start has its exit: the not-found one with 127.
    let starts = log
        .iter()
        .filter(|e| e["operation"] == "sandbox_start" && e["session_id"] == "gate-2")
        .count();
    let exits: Vec<i64> = log
        .iter()
        .filter(|e| e["operation"] == "sandbox_exit" && e["session_id"] == "gate-2")
        .map(|e| e["exit_status"].as_i64().unwrap())
        .collect();
    assert_eq!(starts, 4, "{kinds:?}");
    assert_eq!(exits, vec![127, 3, 143, 2], "{kinds:?}");
}

#[test]
fn an_approver_decides_what_the_rules_ask_about() {
    if let Some(reason) = skip_reason() {
        return skip("an_approver_decides_what_the_rules_ask_about", &reason);
    }
    let fixture = Fixture::new();
    let rules = rules(
        &fixture,
        "prefix_rule(pattern = [\"touch\"], decision = \"prompt\")\n",
    );
    let (builder, log) = builder(&fixture, "workspace");
    let asked = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = asked.clone();
    let session = builder
        .rules(ExecRules::Files(vec![rules]))
        .approver(move |request| {
            seen.lock().unwrap().push(request.argv.join(" "));
            request.argv.get(1).map(String::as_str) == Some("yes")
        })
        .build()
        .unwrap();
    assert!(
        session
            .command(["touch", "yes"])
            .status()
            .unwrap()
            .success()
    );
    let err = session.command(["touch", "no"]).status().unwrap_err();
    assert_eq!(err.exit_status(), 126);
    assert!(fixture.workspace.join("yes").exists());
    assert!(!fixture.workspace.join("no").exists());
    assert_eq!(*asked.lock().unwrap(), vec!["touch yes", "touch no"]);
    // An approved command stays `requires_approval` (sampling never drops
    // it), with the approval in its reason.
    let decisions: Vec<(String, bool)> = events(&log)
        .iter()
        .filter(|e| e["operation"] == "command_exec")
        .map(|e| {
            (
                e["decision"].as_str().unwrap().to_owned(),
                e["reason"].as_str().unwrap().starts_with("approved: "),
            )
        })
        .collect();
    // Each ask is recorded, then its answer.
    assert_eq!(
        decisions,
        vec![
            ("requires_approval".to_owned(), false),
            ("requires_approval".to_owned(), true),
            ("requires_approval".to_owned(), false),
            ("denied".to_owned(), false),
        ]
    );
}

#[test]
fn variables_set_on_a_command_are_judged_by_the_rules() {
    if let Some(reason) = skip_reason() {
        return skip(
            "variables_set_on_a_command_are_judged_by_the_rules",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let rules = rules(
        &fixture,
        "prefix_rule(pattern = [\"ls\"], decision = \"allow\")\n",
    );
    let (gated, _) = builder(&fixture, "workspace");
    // Under `untrusted` only what the rules know to be safe runs unasked
    // (under `on-request` the sandbox is the boundary for the rest).
    let session = gated
        .rules(ExecRules::Files(vec![rules]))
        .approval_policy(codex_policy::ApprovalPolicy::Untrusted, "-a")
        .build()
        .unwrap();
    // A PATH that picks another `ls`, a BASH_ENV that runs a script: each is
    // a command line the rules have not allowed.
    let evil = fixture.workspace.join("bin");
    std::fs::create_dir_all(&evil).unwrap();
    for (key, value) in [
        ("PATH", evil.to_str().unwrap()),
        ("LD_PRELOAD", "/nonexistent.so"),
    ] {
        let err = session
            .command(["ls"])
            .env(key, value)
            .status()
            .unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{key}: {err:?}");
    }
    // A harmless one passes as it would on a command line.
    let status = session
        .command(["ls"])
        .env("LC_ALL", "C")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn variables_with_odd_names_cannot_hide_the_program() {
    if let Some(reason) = skip_reason() {
        return skip("variables_with_odd_names_cannot_hide_the_program", &reason);
    }
    let fixture = Fixture::new();
    let rules = rules(
        &fixture,
        "prefix_rule(pattern = [\"rm\"], decision = \"forbidden\")\n",
    );
    let (gated, _) = builder(&fixture, "workspace");
    // Even an approver that says yes to everything.
    let session = gated
        .rules(ExecRules::Files(vec![rules]))
        .approver(|_| true)
        .build()
        .unwrap();
    std::fs::write(fixture.workspace.join("victim"), "x").unwrap();
    for (key, value) in [
        ("X-Y", "1"),
        ("A.B", "1"),
        ("1", "2"),
        ("BASH_FUNC_rm%%", "() { :; }"),
    ] {
        let err = session
            .command(["rm", "victim"])
            .env(key, value)
            .status()
            .unwrap_err();
        assert!(
            matches!(err, Error::Refused(Refusal::Forbidden { .. })),
            "{key}: {err:?}"
        );
    }
    for key in ["", "A=B"] {
        let err = session
            .command(["rm", "victim"])
            .env(key, "1")
            .status()
            .unwrap_err();
        assert_eq!(err.exit_status(), 125, "{key:?}: {err:?}");
    }
    assert!(fixture.workspace.join("victim").exists());
}
