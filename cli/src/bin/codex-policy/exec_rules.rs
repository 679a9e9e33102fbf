//! `check`, and the exec-policy gate of `run`/`launch`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use codex_policy::ResolvedProfile;
use codex_policy::execpolicy::{
    Decision, Evaluation, Policy, PolicyLoader, RuleMatch, verify_paths,
};

use crate::{Failure, exit, print_out, to_json};

/// The rules files, or the built-in default policy when none is given.
pub(crate) fn load(rules: &[PathBuf], error_status: u8) -> Result<Policy, Failure> {
    let loader = if rules.is_empty() {
        PolicyLoader::with_default_policy()
    } else {
        let mut loader = PolicyLoader::new();
        rules
            .iter()
            .try_for_each(|file| loader.load_file(file))
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

/// `codex-policy check`.
pub(crate) fn check(
    resolved: &ResolvedProfile,
    rules: &[PathBuf],
    command: &[String],
    json: bool,
) -> Result<u8, Failure> {
    let policy = load(rules, exit::INVALID_INPUT)?;
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::internal(format!("current directory: {e}")))?;
    let evaluation = evaluate(&policy, resolved, &cwd, command);
    if json {
        print_out(&to_json(&evaluation)?)?;
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
                "  {:<10} prefix rule {defined_at}: {}{}",
                decision.as_str(),
                matched_prefix.join(" "),
                justification
                    .as_deref()
                    .map(|j| format!(" — {}", j.trim()))
                    .unwrap_or_default()
            ),
            RuleMatch::ProgramMatch {
                program,
                outcome,
                reason,
                defined_at,
                ..
            } => format!(
                "  {:<10} program {program} ({defined_at}){}",
                serde_json::to_value(outcome)
                    .ok()
                    .and_then(|j| j.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                reason
                    .as_deref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default()
            ),
            RuleMatch::ShellRuleMatch { script, reason, .. } => {
                format!("  prompt     shell: {reason}: {script}")
            }
        });
    }
    lines.join("\n")
}

/// The exec-policy gate before `run`/`launch` start a command: `Ok` to go on.
/// In monitor mode (`deny_on_violation: false`) a refusal is reported and
/// the command runs anyway; file-system restrictions still apply.
pub(crate) fn gate(
    rules: &[PathBuf],
    resolved: &ResolvedProfile,
    cwd: &Path,
    argv: &[String],
    monitor: bool,
) -> Result<(), Failure> {
    if rules.is_empty() {
        return Ok(());
    }
    let policy = load(rules, exit::CANNOT_START)?;
    let evaluation = evaluate(&policy, resolved, cwd, argv);
    let decision = evaluation.decision.map(|v| v.decision());
    let why = || {
        let detail = describe(&evaluation);
        detail
            .lines()
            .skip(1)
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("; ")
    };
    match decision {
        None | Some(Decision::Allow) => Ok(()),
        Some(_) if monitor => {
            eprintln!(
                "codex-policy: monitor mode: the exec policy would refuse this command ({}); running it",
                why()
            );
            Ok(())
        }
        Some(Decision::Forbidden) => Err(Failure::new(
            exit::REFUSED,
            format!("refused by the exec policy: {}", why()),
        )),
        Some(Decision::Prompt) => {
            if ask(&format!(
                "codex-policy: the exec policy asks for approval ({}).\nRun `{}`? [y/N] ",
                why(),
                argv.join(" ")
            )) {
                Ok(())
            } else {
                Err(Failure::new(
                    exit::REFUSED,
                    format!(
                        "needs approval and was not approved (no terminal to ask on, or declined): {}",
                        why()
                    ),
                ))
            }
        }
    }
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
