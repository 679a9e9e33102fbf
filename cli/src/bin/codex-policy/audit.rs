//! The audit trail of `run`, `launch` and `check`, and `audit tail|query|append`.

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use codex_policy::audit::{
    AuditDecision, AuditEvent, AuditSink, Filter, FsyncPolicy, Operation, SinkOptions,
    escape_for_terminal, escape_json_for_terminal, log_files_kept, new_session_id, read_log_kept,
};
use codex_policy::model::FsyncSetting;
use codex_policy::model::validate::Validation;
use serde::Deserialize;

use crate::{Failure, exit, print_out, to_json};

/// A command line as a shell would need it typed: the audit target.
pub(crate) fn shell_words(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
}

/// A command line as an event's target: each argument redacted on its own
/// first — a `bash -c` script is then read as the command line it is, where
/// `--password x` or `-u user:pw` inside one quoted word would not be — and
/// the whole again by the sink.
pub(crate) fn audit_target(argv: &[String]) -> String {
    let redactor = codex_policy::audit::Redactor::new(&[]);
    let redacted: Vec<String> = argv.iter().map(|a| redactor.redact(a)).collect();
    shell_words(&redacted)
}

/// Where events go for one command, and what to do when they cannot.
pub(crate) struct AuditTrail {
    sink: Option<AuditSink>,
    session: String,
    profile: Option<String>,
    /// `deny_on_violation`: a log that cannot be written refuses the command.
    fail_closed: bool,
}

/// Options chosen by the caller.
pub(crate) struct TrailOptions<'a> {
    pub(crate) explicit_path: Option<&'a Path>,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) disabled: bool,
    pub(crate) fail_closed: bool,
    pub(crate) profile: Option<String>,
    /// What the sandboxed command can write: a symlink it could have planted
    /// on the way to the log is refused, never followed.
    pub(crate) writable: Option<&'a codex_policy::model::CommandWritable>,
}

/// `$CODEX_HOME/audit/audit.jsonl` (default `~/.codex/audit/audit.jsonl`),
/// with Codex's home found as for `config.toml`.
fn default_path() -> Result<Option<PathBuf>, Failure> {
    let home = codex_policy::profiles::codex_home(|k| std::env::var_os(k))
        .map_err(|e| Failure::new(exit::INVALID_INPUT, e))?;
    Ok(home.map(|home| home.join("audit").join("audit.jsonl")))
}

/// The log `audit tail|query|append` work on: `--file`, else the default.
fn log_path(file: Option<&Path>) -> Result<PathBuf, Failure> {
    match file {
        Some(file) => Ok(file.to_path_buf()),
        None => default_path()?
            .ok_or_else(|| Failure::new(exit::INVALID_INPUT, "no audit log location; pass --file")),
    }
}

impl AuditTrail {
    /// Opens the log for this command. Destination: `--audit-log`, else
    /// `[audit] path` of config.toml, else the default path.
    pub(crate) fn open(options: TrailOptions<'_>, files: &Validation) -> Result<Self, Failure> {
        let session = options
            .session_id
            .map_or_else(new_session_id, str::to_owned);
        let mut trail = Self {
            sink: None,
            session,
            profile: options.profile,
            fail_closed: options.fail_closed,
        };
        if options.disabled {
            return Ok(trail);
        }
        let table = files
            .config
            .as_ref()
            .and_then(|c| c.config.audit.clone())
            .unwrap_or_default();
        let path = match options
            .explicit_path
            .map(Path::to_path_buf)
            .or(table.path.clone())
        {
            Some(path) => Some(path),
            None => default_path()?,
        };
        let Some(path) = path else {
            return trail
                .failed(
                    "no audit log location (set --audit-log, [audit] path, CODEX_HOME or HOME)"
                        .into(),
                )
                .map(|()| trail);
        };
        let mut sink_options = SinkOptions {
            fsync: match table.fsync {
                Some(FsyncSetting::EachEvent) => FsyncPolicy::EachEvent,
                Some(FsyncSetting::Interval) => FsyncPolicy::Interval(Duration::from_millis(
                    table.fsync_interval_ms.map_or(1000, |n| n.get()),
                )),
                _ => FsyncPolicy::Never,
            },
            ..SinkOptions::default()
        };
        if let Some(max) = table.max_bytes {
            sink_options.max_bytes = Some(max.get());
        }
        if let Some(keep) = table.keep {
            sink_options.keep = keep.get();
        }
        if let Some(harness) = &files.harness {
            let o = &harness.value.observability;
            sink_options.sample_rate = o.sample_rate.get();
            sink_options.http_log_headers = o.http_log_headers;
            sink_options.http_log_bodies = o.http_log_bodies;
        }
        if let Some(t) = files
            .codexrc
            .as_ref()
            .and_then(|rc| rc.value.environment_context.telemetry.as_ref())
        {
            sink_options.redact_headers = t.redact_headers.clone();
        }
        if let Some(link) = options.writable.and_then(|w| w.planted_link(&path)) {
            return trail
                .failed(format!(
                    "{}: the way to the audit log passes through the symbolic link {}, which the \
                     sandboxed command could have planted; not following it (use --audit-log \
                     with a path outside the writable roots, or remove the link)",
                    path.display(),
                    link.display()
                ))
                .map(|()| trail);
        }
        // Opening creates missing directories (0700); Codex's home among them
        // is said, never created silently.
        let new_home = options
            .explicit_path
            .is_none()
            .then(|| {
                codex_policy::profiles::codex_home(|k| std::env::var_os(k))
                    .ok()
                    .flatten()
            })
            .flatten()
            .filter(|home| path.starts_with(home) && home.symlink_metadata().is_err());
        match AuditSink::open(&path, sink_options) {
            Ok(sink) => {
                if let Some(home) = new_home.filter(|home| home.is_dir()) {
                    eprintln!(
                        "codex-policy: note: created {} (mode 0700) for the audit log",
                        home.display()
                    );
                }
                trail.sink = Some(sink);
            }
            Err(e) => trail.failed(e.to_string())?,
        }
        Ok(trail)
    }

    /// The files the sandboxed command must not write, replace or remove: the
    /// log and its rotated siblings (see `AuditSink::protected_paths`); none
    /// when nothing is logged.
    /// When the sandboxed command could write where the log lies, creates
    /// the log's missing rotated names (empty, 0600) so that the sandbox can
    /// keep them read-only too, and says so.
    pub(crate) fn reserve_rotated_names(
        &mut self,
        writable: &codex_policy::model::CommandWritable,
    ) -> Result<(), Failure> {
        let Some(sink) = &self.sink else {
            return Ok(());
        };
        if !writable.could_write(sink.path()) {
            return Ok(());
        }
        match sink.reserve_rotated_names() {
            Ok(created) if !created.is_empty() => {
                eprintln!(
                    "codex-policy: note: created {} empty rotated audit file(s) next to {} \
                     (mode 0600), so that the sandbox can keep them read-only",
                    created.len(),
                    sink.path().display()
                );
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => self.failed(e.to_string()),
        }
    }

    pub(crate) fn protected_paths(&self) -> Vec<PathBuf> {
        self.sink
            .as_ref()
            .map(AuditSink::protected_paths)
            .unwrap_or_default()
    }

    /// The log cannot be written: refuse (fail closed) or warn.
    fn failed(&mut self, why: String) -> Result<(), Failure> {
        if self.fail_closed {
            return Err(Failure::new(
                exit::CANNOT_START,
                format!(
                    "the audit log cannot be written ({why}); refusing because deny_on_violation is in force (use --audit-log to choose another file)"
                ),
            ));
        }
        eprintln!(
            "codex-policy: warning: the audit log cannot be written ({why}); continuing (monitor mode)"
        );
        self.sink = None;
        Ok(())
    }

    /// A new event for this session.
    pub(crate) fn event(
        &self,
        operation: Operation,
        target: impl Into<String>,
        decision: AuditDecision,
        source: &str,
    ) -> AuditEvent {
        let mut event = AuditEvent::now(&self.session, operation, target, decision, source);
        event.profile = self.profile.clone();
        event
    }

    /// Writes an event; a failure refuses or warns as [`AuditTrail::open`] does.
    pub(crate) fn record(&mut self, event: AuditEvent) -> Result<(), Failure> {
        let Some(sink) = &mut self.sink else {
            return Ok(());
        };
        match sink.record(event) {
            Ok(_) => Ok(()),
            Err(e) => self.failed(e.to_string()),
        }
    }
}

/// `audit tail|query`.
pub(crate) fn show(
    file: Option<&Path>,
    filter: &Filter,
    last: Option<usize>,
    json: bool,
    keep: usize,
) -> Result<u8, Failure> {
    let path = log_path(file)?;
    // Whatever the log holds, and the names of its files, may come from the
    // sandboxed command: printed with control characters made visible.
    let shown = |text: &str| escape_for_terminal(text).into_owned();
    if log_files_kept(&path, keep).is_empty() {
        return Err(Failure::new(
            exit::INVALID_INPUT,
            format!("{}: no audit log here", shown(&path.to_string_lossy())),
        ));
    }
    let log = read_log_kept(&path, keep)
        .map_err(|e| Failure::new(exit::INVALID_INPUT, shown(&e.to_string())))?;
    for bad in &log.bad_lines {
        eprintln!(
            "codex-policy: note: {}:{}: {} ({})",
            shown(&bad.file.to_string_lossy()),
            bad.line,
            if bad.torn {
                "torn last line, a writer stopped mid-event"
            } else {
                "not an audit event"
            },
            shown(&bad.error)
        );
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

/// One event given to `audit append` (JSON, one per line).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AppendedEvent {
    operation: Operation,
    target: String,
    decision: AuditDecision,
    source: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
}

/// The longest event line `audit append` accepts (1 MiB).
const MAX_APPEND_LINE: u64 = 1024 * 1024;

/// `audit append`: events from standard input, redacted, one write each.
pub(crate) fn append(file: Option<&Path>) -> Result<u8, Failure> {
    let path = log_path(file)?;
    let mut sink = AuditSink::open(&path, SinkOptions::default())
        .map_err(|e| Failure::new(exit::CANNOT_START, e))?;
    let session = new_session_id();
    let mut stdin = std::io::stdin().lock();
    let mut buffer = Vec::new();
    for n in 0.. {
        buffer.clear();
        // Bounded, so a hostile producer cannot make one "line" exhaust memory.
        let read = (&mut stdin)
            .take(MAX_APPEND_LINE + 1)
            .read_until(b'\n', &mut buffer)
            .map_err(|e| Failure::new(exit::INVALID_INPUT, format!("stdin: {e}")))?;
        if read == 0 {
            break;
        }
        if buffer.len() as u64 > MAX_APPEND_LINE {
            return Err(Failure::new(
                exit::INVALID_INPUT,
                format!(
                    "<stdin>:{}: line longer than {MAX_APPEND_LINE} bytes",
                    n + 1
                ),
            ));
        }
        let line = std::str::from_utf8(&buffer).map_err(|e| {
            Failure::new(
                exit::INVALID_INPUT,
                format!("<stdin>:{}: not UTF-8 ({e})", n + 1),
            )
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let input: AppendedEvent = serde_json::from_str(line).map_err(|e| {
            Failure::new(
                exit::INVALID_INPUT,
                format!("<stdin>:{}:{}: {e}", n + 1, e.column()),
            )
        })?;
        let mut event = AuditEvent::now(
            input.session_id.as_deref().unwrap_or(&session),
            input.operation,
            input.target,
            input.decision,
            &input.source,
        );
        event.reason = input.reason;
        sink.record(event)
            .map_err(|e| Failure::new(exit::CANNOT_START, e))?;
    }
    Ok(0)
}
