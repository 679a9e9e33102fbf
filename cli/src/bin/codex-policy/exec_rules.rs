//! `check`, and the terminal approver of `run`/`launch`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use codex_policy::audit::escape_for_terminal as shown;
use codex_policy::{Approval, ApprovalKind, ApprovalRequest, shell_words};

use crate::{Cli, Failure, exit, failure, print_out, to_json};

/// `codex-policy check`.
pub(crate) fn check(
    cli: &Cli,
    rules: &[PathBuf],
    command: &[String],
    audit: &crate::AuditArgs,
    json: bool,
) -> Result<u8, Failure> {
    let checker = crate::sandbox::checker(cli, rules, audit)?;
    let check = checker
        .check(command)
        .map_err(|e| failure(e, exit::INVALID_INPUT))?;
    if json {
        print_out(&codex_policy::audit::escape_json_for_terminal(&to_json(
            &check.evaluation,
        )?))?;
    } else {
        print_out(&check.explanation())?;
    }
    Ok(0)
}

/// Asks on the controlling terminal; [`Approval::Unavailable`] without one.
pub(crate) fn ask_on_terminal(request: &ApprovalRequest<'_>) -> Approval {
    // Shown with control characters made visible, so that an argument
    // cannot redraw the line to show another command.
    let words = shell_words(request.argv);
    let command = shown(&words);
    let question = match request.kind {
        ApprovalKind::RerunWithoutSandbox => format!(
            "codex-policy: `{command}` {}.\nRun it again WITHOUT the sandbox (writes anywhere, \
             full network, credential stores readable)? [y/N] ",
            shown(request.explanation)
        ),
        _ => format!(
            "codex-policy: approval needed: {}.\nRun `{command}`? [y/N] ",
            shown(request.explanation)
        ),
    };
    match ask_yes_no(&question) {
        Some(true) => Approval::Approved,
        Some(false) => Approval::Declined,
        None => Approval::Unavailable,
    }
}

/// Asks `question` on the controlling terminal: `None` when there is none
/// (standard input is not a terminal, or `/dev/tty` cannot be opened).
pub(crate) fn ask_yes_no(question: &str) -> Option<bool> {
    // SAFETY: isatty only inspects a descriptor.
    if unsafe { libc::isatty(0) } != 1 {
        return None;
    }
    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .ok()?;
    // Whatever was typed before the question appeared (or a command's fake
    // prompt collected) must not answer it.
    // SAFETY: tcflush only discards the terminal's pending input.
    unsafe { libc::tcflush(std::os::fd::AsRawFd::as_raw_fd(&tty), libc::TCIFLUSH) };
    let mut writer = &tty;
    writer
        .write_all(question.as_bytes())
        .and_then(|()| writer.flush())
        .ok()?;
    let mut answer = String::new();
    std::io::BufReader::new(&tty).read_line(&mut answer).ok()?;
    Some(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}
