//! `check`, and the exec-policy gate of `run`/`launch`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use codex_policy::ResolvedProfile;
use codex_policy::execpolicy::{
    Decision, Evaluation, Policy, PolicyLoader, RuleMatch, verify_paths,
};

use codex_policy::audit::{AuditDecision, Operation, escape_for_terminal as shown};

use crate::audit::{AuditTrail, TrailOptions, audit_target, shell_words};
use crate::{Failure, exit, print_out, to_json};

/// The rules files, or the built-in default policy when none is given. A
/// rules file the sandboxed command could have written is loaded
/// tightening-only: it may forbid or prompt, never allow.
pub(crate) fn load(
    rules: &[PathBuf],
    error_status: u8,
    writable: &codex_policy::model::CommandWritable,
) -> Result<Policy, Failure> {
    let loader = if rules.is_empty() {
        PolicyLoader::with_default_policy()
    } else {
        let mut loader = PolicyLoader::new();
        rules
            .iter()
            .try_for_each(|file| {
                loader
                    .tightening_only(writable.could_write(file))
                    .load_file(file)
            })
            .map(|()| loader)
    };
    loader
        .map(PolicyLoader::finish)
        .map_err(|e| Failure::new(error_status, e))
}

/// Decides on `argv` and verifies its written paths against the profile.
pub(crate) fn evaluate(
    policy: &Policy,
    resolved: &ResolvedProfile,
    cwd: &Path,
    argv: &[String],
) -> Evaluation {
    let mut evaluation = policy.check(argv);
    let tmpdir = std::env::var_os("TMPDIR");
    verify_paths(
        &mut evaluation,
        &resolved.sandbox_policy,
        cwd,
        tmpdir.as_deref(),
    );
    evaluation
}

/// The audit decision and reason of an evaluation.
fn audit_view(evaluation: &Evaluation, why: String) -> (AuditDecision, Option<String>) {
    match evaluation.decision.map(|v| v.decision()) {
        None => (AuditDecision::Allowed, Some("no rule matched".into())),
        Some(Decision::Allow) => (AuditDecision::Allowed, Some(why)),
        Some(Decision::Prompt) => (AuditDecision::RequiresApproval, Some(why)),
        Some(Decision::Forbidden) => (AuditDecision::Denied, Some(why)),
    }
}

/// The matched rules in one line.
fn summary(evaluation: &Evaluation) -> String {
    describe(evaluation)
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `codex-policy check`.
pub(crate) fn check(
    resolved: &ResolvedProfile,
    rules: &[PathBuf],
    command: &[String],
    audit: &crate::AuditArgs,
    files: &codex_policy::model::validate::Validation,
    json: bool,
) -> Result<u8, Failure> {
    // `check` starts nothing, so nothing the command wrote is in question.
    let policy = load(rules, exit::INVALID_INPUT, &Default::default())?;
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::internal(format!("current directory: {e}")))?;
    let evaluation = evaluate(&policy, resolved, &cwd, command);
    let mut trail = AuditTrail::open(
        TrailOptions {
            explicit_path: audit.audit_log.as_deref(),
            session_id: audit.session_id.as_deref(),
            disabled: audit.no_audit,
            fail_closed: false,
            profile: Some(resolved.profile.to_string()),
            writable: None,
        },
        files,
    )?;
    let (decision, reason) = audit_view(&evaluation, summary(&evaluation));
    let mut event = trail.event(
        Operation::CommandExec,
        audit_target(command),
        decision,
        "execpolicy",
    );
    event.reason = reason;
    trail.record(event)?;
    if json {
        print_out(&codex_policy::audit::escape_json_for_terminal(&to_json(
            &evaluation,
        )?))?;
    } else {
        print_out(&describe(&evaluation))?;
    }
    Ok(0)
}

fn describe(evaluation: &Evaluation) -> String {
    let decision = evaluation.decision.map_or_else(
        || "none (no rule matched)".to_owned(),
        |v| {
            serde_json::to_value(v)
                .ok()
                .and_then(|j| j.as_str().map(str::to_owned))
                .unwrap_or_default()
        },
    );
    let mut lines = vec![format!("decision: {decision}")];
    for matched in &evaluation.matched_rules {
        lines.push(match matched {
            RuleMatch::PrefixRuleMatch {
                matched_prefix,
                decision,
                justification,
                defined_at,
                ..
            } => format!(
                "  {:<10} prefix rule {}: {}{}",
                decision.as_str(),
                shown(&defined_at.to_string()),
                shown(&matched_prefix.join(" ")),
                justification
                    .as_deref()
                    .map(|j| format!(" — {}", shown(j.trim())))
                    .unwrap_or_default()
            ),
            RuleMatch::ProgramMatch {
                program,
                outcome,
                reason,
                defined_at,
                ..
            } => format!(
                "  {:<10} program {} ({}){}",
                shown(&program.to_string()),
                shown(&defined_at.to_string()),
                serde_json::to_value(outcome)
                    .ok()
                    .and_then(|j| j.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                reason
                    .as_deref()
                    .map(|r| format!(" — {}", shown(r)))
                    .unwrap_or_default()
            ),
            RuleMatch::ShellRuleMatch { script, reason, .. } => {
                format!("  prompt     shell: {}: {}", shown(reason), shown(script))
            }
        });
    }
    lines.join("\n")
}

/// The exec-policy gate before `run`/`launch` start a command: `Ok` to go on.
/// Every decision is recorded; `Ok(true)` when the rules hold `network_rule`
/// entries, which filter the network like any domain rule. In monitor mode
/// (`deny_on_violation: false`) a refusal is reported and the command runs
/// anyway; file-system restrictions still apply.
pub(crate) fn gate(
    rules: &[PathBuf],
    resolved: &ResolvedProfile,
    run_policy: &codex_policy::SandboxPolicy,
    cwd: &Path,
    argv: &[String],
    monitor: bool,
    trail: &mut AuditTrail,
) -> Result<bool, Failure> {
    if rules.is_empty() {
        return Ok(false);
    }
    let tmpdir = std::env::var_os("TMPDIR");
    // The run's own policy (profile, files and --writable-root composed): a
    // rules file under any root the command may write only tightens.
    let writable =
        codex_policy::model::CommandWritable::for_policy(run_policy, cwd, tmpdir.as_deref())
            .map_err(|e| Failure::new(exit::CANNOT_START, e))?;
    let policy = load(rules, exit::CANNOT_START, &writable)?;
    let evaluation = evaluate(&policy, resolved, cwd, argv);
    let why = summary(&evaluation);
    let (mut decision, reason) = audit_view(&evaluation, why.clone());
    let outcome = match evaluation.decision.map(|v| v.decision()) {
        None | Some(Decision::Allow) => Ok(()),
        Some(_) if monitor => {
            eprintln!(
                "codex-policy: monitor mode: the exec policy would refuse this command ({why}); running it"
            );
            Ok(())
        }
        Some(Decision::Forbidden) => Err(Failure::new(
            exit::REFUSED,
            format!("refused by the exec policy: {why}"),
        )),
        Some(Decision::Prompt) => {
            // Shown with control characters made visible, so that an argument
            // cannot redraw the line to show another command.
            if ask(&format!(
                "codex-policy: the exec policy asks for approval ({why}).\nRun `{}`? [y/N] ",
                shown(&shell_words(argv))
            )) {
                decision = AuditDecision::Allowed;
                Ok(())
            } else {
                Err(Failure::new(
                    exit::REFUSED,
                    format!(
                        "needs approval and was not approved (no terminal to ask on, or declined): {why}"
                    ),
                ))
            }
        }
    };
    let mut event = trail.event(
        Operation::CommandExec,
        audit_target(argv),
        decision,
        "execpolicy",
    );
    event.reason = match (&outcome, monitor, decision) {
        (Ok(()), true, AuditDecision::Denied | AuditDecision::RequiresApproval) => {
            reason.map(|r| format!("monitor mode, allowed: {r}"))
        }
        _ => reason,
    };
    trail.record(event)?;
    // `network_rule` entries are domain rules: they make the network filtered.
    outcome.map(|()| !policy.network_rules().is_empty())
}

/// Asks on the controlling terminal; `false` without one.
fn ask(question: &str) -> bool {
    // SAFETY: isatty only inspects a descriptor.
    if unsafe { libc::isatty(0) } != 1 {
        return false;
    }
    let Ok(tty) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
    else {
        return false;
    };
    let mut writer = &tty;
    if writer
        .write_all(question.as_bytes())
        .and_then(|()| writer.flush())
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    std::io::BufReader::new(&tty).read_line(&mut answer).is_ok()
        && matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}
