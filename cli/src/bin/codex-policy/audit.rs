//! `audit tail|query|append`: reading the log back, and appending to it.

use std::path::{Path, PathBuf};

use codex_policy::audit::{
    AuditEvent, AuditSink, Filter, SinkOptions, append_events, escape_for_terminal,
    escape_json_for_terminal, log_files_kept, read_log_kept,
};

use crate::{Cli, Failure, exit, failure, print_out, to_json};

/// The log `audit tail|query|append` work on, and its rotation.
pub(crate) struct Log {
    path: PathBuf,
    options: SinkOptions,
}

/// `--file`, else the log `run` and `check` write to (`[audit] path` of
/// config.toml, else `$CODEX_HOME/audit/audit.jsonl`), as the library finds it.
pub(crate) fn log(cli: &Cli, file: Option<&Path>) -> Result<Log, Failure> {
    let configured = codex_policy::configured_audit_log(
        file,
        cli.config.as_deref(),
        &codex_policy::Environment::process(),
    )
    .map_err(|e| failure(e, exit::INVALID_INPUT))?;
    let path = configured.path.ok_or_else(|| {
        Failure::new(
            exit::INVALID_INPUT,
            "no audit log location (no [audit] path in config.toml, no CODEX_HOME or HOME); \
             pass --file",
        )
    })?;
    Ok(Log {
        path,
        options: configured.options,
    })
}

/// `audit tail|query`.
pub(crate) fn show(
    log: &Log,
    filter: &Filter,
    last: Option<usize>,
    json: bool,
) -> Result<u8, Failure> {
    let (path, keep) = (&log.path, log.options.keep);
    // Whatever the log holds, and the names of its files, may come from the
    // sandboxed command: printed with control characters made visible.
    let shown = |text: &str| escape_for_terminal(text).into_owned();
    if log_files_kept(path, keep).is_empty() {
        return Err(Failure::new(
            exit::INVALID_INPUT,
            format!("{}: no audit log here", shown(&path.to_string_lossy())),
        ));
    }
    let log = read_log_kept(path, keep)
        .map_err(|e| Failure::new(exit::INVALID_INPUT, shown(&e.to_string())))?;
    for bad in &log.bad_lines {
        crate::print_err(&format!(
            "codex-policy: note: {}:{}: {} ({})\n",
            shown(&bad.file.to_string_lossy()),
            bad.line,
            if bad.torn {
                "torn last line, a writer stopped mid-event"
            } else {
                "not an audit event"
            },
            shown(&bad.error)
        ));
    }
    let mut events: Vec<&AuditEvent> = log.events.iter().filter(|e| filter.matches(e)).collect();
    if let Some(n) = last {
        events = events.split_off(events.len().saturating_sub(n));
    }
    if json {
        print_out(&escape_json_for_terminal(&to_json(&events)?))?;
    } else {
        let rows: Vec<String> = events
            .iter()
            .map(|e| {
                let decision = serde_json::to_value(e.decision)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let operation = serde_json::to_value(e.operation)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default();
                let extra = e
                    .exit_status
                    .map(|s| format!(" [exit {s}]"))
                    .unwrap_or_default();
                format!(
                    "{}  {:<17} {:<15} {:<10} {}{}",
                    shown(&e.timestamp),
                    decision,
                    operation,
                    shown(&e.source),
                    shown(&e.target),
                    extra
                )
            })
            .collect();
        print_out(format!("{} event(s)\n{}", rows.len(), rows.join("\n")).trim_end())?;
    }
    Ok(0)
}

/// `audit append`: events from standard input, redacted, one write each.
pub(crate) fn append(log: Log) -> Result<u8, Failure> {
    let mut sink =
        AuditSink::open(&log.path, log.options).map_err(|e| Failure::new(exit::CANNOT_START, e))?;
    append_events(std::io::stdin().lock(), "<stdin>", &mut sink).map_err(|e| {
        let status = if e.is_bad_input() {
            exit::INVALID_INPUT
        } else {
            exit::CANNOT_START
        };
        Failure::new(status, e)
    })?;
    Ok(0)
}
