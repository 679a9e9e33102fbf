//! What a session tells its user besides results: notes (a directory it
//! created) and warnings (a protection it could not apply in best-effort
//! mode, a log it could not write in monitor mode).

use std::fmt;
use std::sync::Arc;

/// How serious a [`Notice`] is.
///
/// # Examples
///
/// ```
/// use codex_policy::{Notice, NoticeLevel};
///
/// let notice = Notice::warning("the audit log cannot be written");
/// assert_eq!(notice.level, NoticeLevel::Warning);
/// assert_eq!(Notice::note("created ~/.codex").level, NoticeLevel::Note);
/// // A handler can route them: warnings to the user, notes to a debug log.
/// let for_user = |n: &Notice| n.level == NoticeLevel::Warning;
/// assert!(for_user(&notice));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoticeLevel {
    /// Something the session did on the user's behalf.
    Note,
    /// Something weaker than asked, or not recorded.
    Warning,
}

/// One message for the user.
///
/// # Examples
///
/// A session's notices go to the handler given to
/// [`SessionBuilder::on_notice`](crate::SessionBuilder::on_notice): here the
/// warning about a writable root that does not exist.
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use std::sync::{Arc, Mutex};
/// use codex_policy::{AuditDestination, Notice, NoticeLevel, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let notices = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&notices);
/// let _session = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
///     .writable_root(project.path().join("missing"))
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .on_notice(move |notice: &Notice| sink.lock().unwrap().push(notice.clone()))
///     .build()?;
/// let notices = notices.lock().unwrap();
/// let left_out = notices
///     .iter()
///     .find(|n| n.message.starts_with("left out of the writable roots"))
///     .ok_or("a warning about the missing root")?;
/// assert_eq!(left_out.level, NoticeLevel::Warning);
/// assert!(left_out.to_string().starts_with("warning: left out"));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notice {
    /// Note or warning.
    pub level: NoticeLevel,
    /// The text, without a level prefix.
    pub message: String,
}

impl Notice {
    /// A note.
    pub fn note(message: impl Into<String>) -> Self {
        Self {
            level: NoticeLevel::Note,
            message: message.into(),
        }
    }

    /// A warning.
    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            level: NoticeLevel::Warning,
            message: message.into(),
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.level {
            NoticeLevel::Note => "note",
            NoticeLevel::Warning => "warning",
        };
        write!(f, "{level}: {}", self.message)
    }
}

/// Where a session's notices go: the embedder's handler, by default standard
/// error (`codex-policy: warning: …`), so that a warning is never lost.
#[derive(Clone)]
pub(crate) struct Notices(Arc<dyn Fn(&Notice) + Send + Sync>);

impl Notices {
    pub(crate) fn new(handler: Arc<dyn Fn(&Notice) + Send + Sync>) -> Self {
        Self(handler)
    }

    pub(crate) fn emit(&self, notice: Notice) {
        (self.0)(&notice);
    }

    pub(crate) fn note(&self, message: String) {
        self.emit(Notice::note(message));
    }
}

impl Default for Notices {
    fn default() -> Self {
        Self(Arc::new(|notice: &Notice| {
            // Messages quote file names and commands: control characters are
            // shown, not obeyed by the terminal.
            // A notice may quote a value that is a token: never shown.
            let text = codex_policy_model::validate::secrets::mask_secrets(&notice.to_string());
            let shown: Vec<_> = text.lines().map(codex_audit::escape_for_terminal).collect();
            // Never a panic over a closed standard error: the notice is
            // lost, the session's outcome is not.
            let line = format!("codex-policy: {}\n", shown.join("\n"));
            let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
        }))
    }
}

impl fmt::Debug for Notices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Notices")
    }
}
