//! A small agent harness: one session, a few "agent" commands decided on,
//! run sandboxed with their output captured, then the audit trail read back.
//!
//! ```sh
//! cargo run -p codex-policy --example harness [PROJECT_DIR]
//! ```
//!
//! Without a directory it works in a new temporary one. It needs no
//! configuration: the profile is `workspace` (write the project, no network),
//! the rules are a small file written next to the log, and the log is a
//! file of its own.

use codex_policy::audit::read_log;
use codex_policy::execpolicy::Decision;
use codex_policy::{AuditDestination, Error, ExecRules, Session};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let scratch = tempfile::tempdir()?;
    let project = match std::env::args_os().nth(1) {
        Some(dir) => std::path::PathBuf::from(dir),
        None => scratch.path().join("project"),
    };
    std::fs::create_dir_all(&project)?;
    // Outside every writable root of the session (the project, /tmp), so the
    // commands can neither change the rules nor touch the log.
    let state = tempfile::Builder::new()
        .prefix(".harness-state-")
        .tempdir_in(std::env::current_dir()?)?;
    let rules = state.path().join("agent.rules");
    std::fs::write(
        &rules,
        r#"prefix_rule(pattern = ["rm", "-rf"], decision = "forbidden", justification = "no recursive deletes")
prefix_rule(pattern = ["git", "push"], decision = "prompt")
"#,
    )?;
    let log = state.path().join("audit.jsonl");

    // 1. Resolve, compose, load the rules, prepare the sandbox: once.
    let session = Session::builder()
        .profile("workspace".parse()?)
        .cwd(&project)
        .rules(ExecRules::Files(vec![rules]))
        .audit(AuditDestination::File(log.clone()))
        // A harness without a human: commands the rules ask about are refused.
        .approver(|request| {
            println!("  (asked to approve `{}`: no)", request.argv.join(" "));
            false
        })
        .build()?;
    println!(
        "profile {} — {}",
        session.composition().resolved.profile,
        session.id()
    );

    // 2. The agent's plan.
    let plan: &[&[&str]] = &[
        &["touch", "main.rs"],
        &["ls", "-a"],
        // No rule against it; the sandbox refuses the write.
        &["touch", "/etc/codex-policy-example"],
        // Forbidden by the rules: never started.
        &["rm", "-rf", "."],
        // The rules ask; the approver says no.
        &["git", "push"],
    ];
    for argv in plan {
        // 3. Ask first (a question: nothing recorded), then run (gated again,
        //    and that decision is recorded).
        if let Some(check) = session.check(argv)?
            && check.decision() == Some(Decision::Forbidden)
        {
            println!("$ {}\n  skipped: {}", argv.join(" "), check.summary());
            continue;
        }
        match session.command(*argv).output() {
            Ok(output) => println!(
                "$ {}\n  exit {}: {} {}",
                argv.join(" "),
                codex_policy::exit_code(output.status),
                String::from_utf8_lossy(&output.stdout)
                    .trim()
                    .replace('\n', " "),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(Error::Refused(refusal)) => println!("$ {}\n  refused: {refusal}", argv.join(" ")),
            Err(other) => return Err(other.into()),
        }
    }

    // 4. The evidence.
    let trail = read_log(&log)?;
    println!("\n{} audit events:", trail.events.len());
    for event in &trail.events {
        println!(
            "  {:?} {:?} {}",
            event.operation, event.decision, event.target
        );
    }
    Ok(())
}
