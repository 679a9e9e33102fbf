//! Evidence of every decision codex-policy takes, as JSON Lines.
//!
//! Each [`AuditEvent`] (`timestamp`, `session_id`, `operation`, `target`,
//! `decision`, `reason`, `source`, and per-operation fields such as the exit
//! status) is redacted before it is written — user names in home paths,
//! credentials in URLs, secret parameters, bearer and basic credentials, cloud
//! and API keys, configured headers — and reaches the file in a single append,
//! so concurrent writers never interleave. Sampling never drops a `denied` or
//! `requires_approval` event. [`read_log`] reads it back across rotated files.
//! A file that may not be the log (a link, a FIFO, another user's file, …) is
//! refused with [`AuditError::Unsafe`], saying why as an [`UnsafeLogFile`].
//!
//! ```
//! use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions, read_log};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("audit.jsonl");
//! let mut sink = AuditSink::open(&path, SinkOptions::default())?;
//! let event = AuditEvent::now("s1", Operation::CommandExec,
//!     "curl https://user:pw@example.com/?token=abc", AuditDecision::Denied, "execpolicy");
//! sink.record(event)?;
//! let log = read_log(&path)?;
//! assert_eq!(log.events[0].target, "curl https://[REDACTED]@example.com/?token=[REDACTED]");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Windows has no sandbox backend, and this crate's files, permissions and
// processes are Unix ones: say so at build time rather than with a wall of
// unrelated errors, and say where it does work.
#[cfg(windows)]
compile_error!(
    "codex-policy does not build for Windows: it has no sandbox there, so commands could not \
     be confined. Build and run it inside WSL 2, where the Linux sandbox enforces the policy. \
     (codex-policy-model and codex-execpolicy build on Windows, for decisions without \
     enforcement.)"
);

mod append;
mod event;
mod read;
mod redact;
mod safe_file;
mod sample;
mod sink;
mod terminal;

pub use append::{AppendError, MAX_APPEND_LINE, append_events};
pub use event::{AuditDecision, AuditEvent, HttpDetails, Operation, new_session_id};
pub use read::{BadLine, Filter, LogContents, log_files, log_files_kept, read_log, read_log_kept};
pub use redact::{REDACTED, Redactor, USER};
pub use sink::{
    AuditError, AuditSink, DEFAULT_KEEP, FileKind, FsyncPolicy, SinkOptions, UnsafeLogFile,
};
pub use terminal::{escape_for_terminal, escape_json_for_terminal};
