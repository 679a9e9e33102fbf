//! `check`, and the terminal approver of `run`/`launch`.

use std::io::{BufRead, Write};
use std::path::PathBuf;

use codex_policy::audit::escape_for_terminal as shown;
use codex_policy::{ApprovalRequest, shell_words};

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

/// Asks on the controlling terminal; `false` without one.
pub(crate) fn ask_on_terminal(request: &ApprovalRequest<'_>) -> bool {
    // Shown with control characters made visible, so that an argument
    // cannot redraw the line to show another command.
    let question = format!(
        "codex-policy: the exec policy asks for approval ({}).\nRun `{}`? [y/N] ",
        request.explanation,
        shown(&shell_words(request.argv))
    );
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
