//! What a session tells its user besides results: notes (a directory it
//! created) and warnings (a protection it could not apply in best-effort
//! mode, a log it could not write in monitor mode).

use std::fmt;
use std::sync::Arc;

/// How serious a [`Notice`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NoticeLevel {
    /// Something the session did on the user's behalf.
    Note,
    /// Something weaker than asked, or not recorded.
    Warning,
}

/// One message for the user.
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
            let text = notice.to_string();
            let shown: Vec<_> = text.lines().map(codex_audit::escape_for_terminal).collect();
            eprintln!("codex-policy: {}", shown.join("\n"));
        }))
    }
}

impl fmt::Debug for Notices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Notices")
    }
}
