//! Events given as JSON lines by another program (`codex-policy audit
//! append`, a harness's own decisions): checked, redacted and appended one
//! write each, like the events codex-policy records itself.

use std::io::{BufRead, Read};

use serde::Deserialize;

use crate::event::{AuditDecision, AuditEvent, Operation, new_session_id};
use crate::sink::{AuditError, AuditSink};

/// The longest event line accepted (1 MiB): a hostile producer cannot make
/// one "line" exhaust memory.
pub const MAX_APPEND_LINE: u64 = 1024 * 1024;

/// One event as given: `operation`, `target`, `decision`, `source`, and
/// optionally `reason` and `session_id`; nothing else.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GivenEvent {
    operation: Operation,
    target: String,
    decision: AuditDecision,
    source: String,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    session_id: Option<String>,
}

/// Why appending stopped. Lines before the failing one were written.
///
/// # Examples
///
/// ```
/// use codex_audit::{AppendError, AuditSink, SinkOptions, append_events, read_log};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// let mut sink = AuditSink::open(&path, SinkOptions::default())?;
/// let input = concat!(
///     r#"{"operation":"command_exec","target":"ls","decision":"allowed","source":"harness"}"#, "\n",
///     r#"{"operation":"launch","target":"ls","decision":"allowed","source":"harness"}"#, "\n",
/// );
/// let err = append_events(input.as_bytes(), "events.jsonl", &mut sink).unwrap_err();
/// assert!(matches!(err, AppendError::Malformed { line: 2, .. }));
/// assert!(err.is_bad_input());
/// assert!(err.to_string().starts_with("events.jsonl:2:"));
/// // The line before the bad one was written.
/// assert_eq!(read_log(&path)?.events.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppendError {
    /// The input could not be read.
    #[error("{name}: {source}")]
    Read {
        /// The input's name (`<stdin>`).
        name: String,
        /// The system's answer.
        #[source]
        source: std::io::Error,
    },
    /// A line longer than [`MAX_APPEND_LINE`].
    #[error("{name}:{line}: line longer than {MAX_APPEND_LINE} bytes")]
    TooLong {
        /// The input's name.
        name: String,
        /// 1-based line.
        line: usize,
    },
    /// A line that is not UTF-8.
    #[error("{name}:{line}: not UTF-8 ({source})")]
    NotUtf8 {
        /// The input's name.
        name: String,
        /// 1-based line.
        line: usize,
        /// Where the bytes went wrong.
        #[source]
        source: std::str::Utf8Error,
    },
    /// A line that is not one event of the accepted shape.
    #[error("{name}:{line}:{column}: {message}")]
    Malformed {
        /// The input's name.
        name: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong, as the JSON reader says it.
        message: String,
    },
    /// The log refused the event.
    #[error(transparent)]
    Record(#[from] AuditError),
}

impl AppendError {
    /// Whether the input was at fault (rather than the log).
    pub fn is_bad_input(&self) -> bool {
        !matches!(self, Self::Record(_))
    }
}

/// Appends every event of `input` (JSON, one per line; blank lines skipped)
/// to `sink`, each redacted and in one write, under a new session id unless
/// the line names one. Returns how many lines were events.
///
/// # Errors
///
/// [`AppendError::Read`] when `input` cannot be read;
/// [`AppendError::TooLong`], [`AppendError::NotUtf8`] or
/// [`AppendError::Malformed`] for a line longer than [`MAX_APPEND_LINE`]
/// bytes, not UTF-8, or not one event of the accepted shape;
/// [`AppendError::Record`] when the log refuses an event. The lines before
/// the failing one stay written.
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditDecision, AuditSink, SinkOptions, append_events, read_log};
///
/// # let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// let mut sink = AuditSink::open(&path, SinkOptions::default())?;
/// let input = concat!(
///     r#"{"operation":"command_exec","target":"make deploy","decision":"requires_approval","source":"harness"}"#, "\n",
///     "\n",
///     r#"{"operation":"file_write","target":"/etc/hosts","decision":"denied","source":"harness","#,
///     r#""reason":"outside the workspace","session_id":"run-42"}"#, "\n",
/// );
/// assert_eq!(append_events(input.as_bytes(), "<stdin>", &mut sink)?, 2);
/// let events = read_log(&path)?.events;
/// assert_eq!(events[0].decision, AuditDecision::RequiresApproval);
/// assert_eq!(events[0].session_id.len(), 32); // a new session id
/// assert_eq!(events[1].session_id, "run-42");
/// assert_eq!(events[1].reason.as_deref(), Some("outside the workspace"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn append_events(
    mut input: impl BufRead,
    name: &str,
    sink: &mut AuditSink,
) -> Result<usize, AppendError> {
    let session = new_session_id();
    let mut buffer = Vec::new();
    let mut appended = 0;
    for line in 1.. {
        buffer.clear();
        let read = (&mut input)
            .take(MAX_APPEND_LINE + 1)
            .read_until(b'\n', &mut buffer)
            .map_err(|source| AppendError::Read {
                name: name.to_owned(),
                source,
            })?;
        if read == 0 {
            break;
        }
        if buffer.len() as u64 > MAX_APPEND_LINE {
            return Err(AppendError::TooLong {
                name: name.to_owned(),
                line,
            });
        }
        let text = std::str::from_utf8(&buffer).map_err(|source| AppendError::NotUtf8 {
            name: name.to_owned(),
            line,
            source,
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let given: GivenEvent = serde_json::from_str(text).map_err(|e| AppendError::Malformed {
            name: name.to_owned(),
            line,
            column: e.column(),
            message: e.to_string(),
        })?;
        let event = AuditEvent::now(
            given.session_id.as_deref().unwrap_or(&session),
            given.operation,
            given.target,
            given.decision,
            &given.source,
        );
        let event = match given.reason {
            Some(reason) => event.with_reason(reason),
            None => event,
        };
        sink.record(event)?;
        appended += 1;
    }
    Ok(appended)
}
