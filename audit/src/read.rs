//! Reading the log back: across rotated files, oldest first; a torn last line
//! (a writer killed mid-event) is reported, not fatal.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::event::{AuditDecision, AuditEvent, Operation};
use crate::safe_file::open_read;
use crate::sink::AuditError;

/// A line that is not an event.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions, read_log};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// let mut sink = AuditSink::open(&path, SinkOptions::default())?;
/// sink.record(AuditEvent::now("s1", Operation::CommandExec, "ls", AuditDecision::Allowed, "execpolicy"))?;
/// // A writer killed mid-event leaves part of a line at the end.
/// std::fs::OpenOptions::new().append(true).open(&path)?.write_all(br#"{"timestamp":"20"#)?;
///
/// let log = read_log(&path)?;
/// assert_eq!(log.events.len(), 1);
/// let bad = &log.bad_lines[0];
/// assert_eq!((bad.file.as_path(), bad.line, bad.torn), (path.as_path(), 2, true));
/// assert!(bad.error.starts_with("EOF while parsing"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BadLine {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number.
    pub line: usize,
    /// Whether it is the file's unfinished last line (a torn write).
    pub torn: bool,
    /// Why it is not an event, as the JSON parser worded it.
    pub error: String,
}

/// What was read.
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions, read_log};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// let mut sink = AuditSink::open(&path, SinkOptions::default())?;
/// let event = |target| AuditEvent::now("s1", Operation::CommandExec, target, AuditDecision::Allowed, "execpolicy");
/// sink.record(event("ls"))?;
/// std::fs::OpenOptions::new().append(true).open(&path)?.write_all(b"not an event\n")?;
/// sink.record(event("pwd"))?;
///
/// let contents = read_log(&path)?;
/// let targets: Vec<&str> = contents.events.iter().map(|e| e.target.as_str()).collect();
/// assert_eq!(targets, ["ls", "pwd"]);
/// assert_eq!(contents.bad_lines.len(), 1);
/// assert_eq!((contents.bad_lines[0].line, contents.bad_lines[0].torn), (2, false));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct LogContents {
    /// Every event, oldest first.
    pub events: Vec<AuditEvent>,
    /// Lines that did not parse.
    pub bad_lines: Vec<BadLine>,
}

/// The files of a log with the default number of rotated files
/// ([`SinkOptions::keep`](crate::SinkOptions)); see [`log_files_kept`].
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions, log_files};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// assert!(log_files(&path).is_empty());
/// // Rotate at every event: three events make three files.
/// let mut sink = AuditSink::open(&path, SinkOptions::default().with_max_bytes(Some(1)))?;
/// for target in ["ls", "pwd", "id"] {
///     sink.record(AuditEvent::now("s1", Operation::CommandExec, target, AuditDecision::Allowed, "execpolicy"))?;
/// }
/// let rotated = |n: usize| dir.path().join(format!("audit.jsonl.{n}"));
/// assert_eq!(log_files(&path), [rotated(2), rotated(1), path.clone()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn log_files(path: &Path) -> Vec<PathBuf> {
    log_files_kept(path, crate::sink::DEFAULT_KEEP)
}

/// The files of a log, oldest first: `path.keep` … `path.1`, `path` — every
/// one of these names there is, whatever it is (a link at one of these names
/// is listed, so that reading it is refused rather than silently skipped).
/// Only the names rotation writes count: a `path.N` beyond `keep` was not
/// written by the log (a sandboxed command could plant one), and is not read.
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions, log_files_kept};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// let options = SinkOptions::default().with_max_bytes(Some(1)).with_keep(2);
/// let mut sink = AuditSink::open(&path, options)?;
/// for target in ["ls", "pwd", "id", "date"] {
///     sink.record(AuditEvent::now("s1", Operation::CommandExec, target, AuditDecision::Allowed, "execpolicy"))?;
/// }
/// // Planted beyond `keep`: never a file of the log.
/// std::fs::write(dir.path().join("audit.jsonl.9"), "")?;
/// let rotated = |n: usize| dir.path().join(format!("audit.jsonl.{n}"));
/// assert_eq!(log_files_kept(&path, 2), [rotated(2), rotated(1), path.clone()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn log_files_kept(path: &Path, keep: usize) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = (1..=keep)
        .rev()
        .map(|n| rotated_name(path, n))
        .filter(|p| std::fs::symlink_metadata(p).is_ok())
        .collect();
    if std::fs::symlink_metadata(path).is_ok() {
        files.push(path.to_path_buf());
    }
    files
}

/// `path.N`.
pub(crate) fn rotated_name(path: &Path, n: usize) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Reads every event of the log at `path` (and its rotated files).
///
/// Each file is opened without following a symbolic link and without blocking
/// on a FIFO, and must be a regular file: a link, FIFO, directory or device at
/// the log's name or at a rotated name is [`AuditError::Unsafe`], naming it.
///
/// # Errors
///
/// As [`read_log_kept`]: [`AuditError::Unsafe`] when the log or a rotated file
/// is not a regular file; [`AuditError::Io`] when one cannot be opened or
/// read. A log that does not exist reads as empty.
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, Filter, Operation, SinkOptions, read_log};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// assert!(read_log(&path)?.events.is_empty());
/// let mut sink = AuditSink::open(&path, SinkOptions::default())?;
/// sink.record(AuditEvent::now("s1", Operation::CommandExec, "ls", AuditDecision::Allowed, "execpolicy"))?;
/// sink.record(AuditEvent::now("s1", Operation::CommandExec, "rm -rf /", AuditDecision::Denied, "execpolicy"))?;
///
/// let denials = Filter::default().with_decision(AuditDecision::Denied);
/// let log = read_log(&path)?;
/// let denied: Vec<&str> = log.events.iter().filter(|e| denials.matches(e)).map(|e| e.target.as_str()).collect();
/// assert_eq!(denied, ["rm -rf /"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_log(path: &Path) -> Result<LogContents, AuditError> {
    read_log_kept(path, crate::sink::DEFAULT_KEEP)
}

/// Reads every event of the log at `path` and its rotated files `.1` …
/// `.keep` (the `[audit] keep` the log was written with).
///
/// # Errors
///
/// [`AuditError::Unsafe`] when the log or a rotated file is a symbolic link,
/// FIFO, directory or device; [`AuditError::Io`] when one cannot be opened or
/// read. A log that does not exist reads as empty.
///
/// # Examples
///
/// A log written with `keep = 6` has more rotated files than [`read_log`]
/// reads:
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions, read_log, read_log_kept};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// let options = SinkOptions::default().with_max_bytes(Some(1)).with_keep(6);
/// let mut sink = AuditSink::open(&path, options)?;
/// for n in 1..=7 {
///     let target = format!("make step{n}");
///     sink.record(AuditEvent::now("s1", Operation::CommandExec, target, AuditDecision::Allowed, "execpolicy"))?;
/// }
/// assert_eq!(read_log(&path)?.events.len(), 6);
/// let all = read_log_kept(&path, 6)?.events;
/// assert_eq!(all.len(), 7);
/// assert_eq!(all[0].target, "make step1"); // oldest first
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_log_kept(path: &Path, keep: usize) -> Result<LogContents, AuditError> {
    let mut contents = LogContents::default();
    for file in log_files_kept(path, keep) {
        let mut bytes = Vec::new();
        open_read(&file)?
            .read_to_end(&mut bytes)
            .map_err(|source| AuditError::Io {
                path: file.clone(),
                source,
            })?;
        let complete = bytes.ends_with(b"\n");
        let lines: Vec<&[u8]> = bytes.split(|b| *b == b'\n').collect();
        let count = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            if line.is_empty() {
                continue;
            }
            match serde_json::from_slice::<AuditEvent>(line) {
                Ok(event) => contents.events.push(event),
                Err(e) => contents.bad_lines.push(BadLine {
                    file: file.clone(),
                    line: i + 1,
                    torn: !complete && i + 1 == count,
                    error: e.to_string(),
                }),
            }
        }
    }
    Ok(contents)
}

/// Which events to keep when reading a log back: every condition set must
/// hold. Start from [`Filter::default`] (keeps everything):
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, Filter, Operation};
///
/// let denials = Filter::default().with_decision(AuditDecision::Denied).with_source("execpolicy".to_owned());
/// let event = AuditEvent::now("s1", Operation::CommandExec, "curl x", AuditDecision::Denied, "execpolicy");
/// assert!(denials.matches(&event));
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Filter {
    /// Only this decision.
    pub decision: Option<AuditDecision>,
    /// Only this operation.
    pub operation: Option<Operation>,
    /// Only this source.
    pub source: Option<String>,
    /// Only this session.
    pub session: Option<String>,
    /// At or after (RFC 3339).
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Before (RFC 3339).
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

impl Filter {
    /// Only this decision (`None`: any).
    #[must_use]
    pub fn with_decision(mut self, decision: impl Into<Option<AuditDecision>>) -> Self {
        self.decision = decision.into();
        self
    }

    /// Only this operation (`None`: any).
    #[must_use]
    pub fn with_operation(mut self, operation: impl Into<Option<Operation>>) -> Self {
        self.operation = operation.into();
        self
    }

    /// Only this source (`None`: any).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Option<String>>) -> Self {
        self.source = source.into();
        self
    }

    /// Only this session (`None`: any).
    #[must_use]
    pub fn with_session(mut self, session: impl Into<Option<String>>) -> Self {
        self.session = session.into();
        self
    }

    /// Only events at or after this time (`None`: no lower bound).
    #[must_use]
    pub fn with_since(mut self, since: impl Into<Option<chrono::DateTime<chrono::Utc>>>) -> Self {
        self.since = since.into();
        self
    }

    /// Only events before this time (`None`: no upper bound).
    #[must_use]
    pub fn with_until(mut self, until: impl Into<Option<chrono::DateTime<chrono::Utc>>>) -> Self {
        self.until = until.into();
        self
    }

    /// Whether `event` passes.
    pub fn matches(&self, event: &AuditEvent) -> bool {
        let time = chrono::DateTime::parse_from_rfc3339(&event.timestamp)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc));
        self.decision.is_none_or(|d| d == event.decision)
            && self.operation.is_none_or(|o| o == event.operation)
            && self.source.as_deref().is_none_or(|s| s == event.source)
            && self
                .session
                .as_deref()
                .is_none_or(|s| s == event.session_id)
            && self
                .since
                .is_none_or(|since| time.is_some_and(|t| t >= since))
            && self
                .until
                .is_none_or(|until| time.is_some_and(|t| t < until))
    }
}
