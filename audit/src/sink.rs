//! The JSON Lines sink: each event reaches the file in one `write(2)` on an
//! `O_APPEND` descriptor, so concurrent threads and processes never interleave;
//! file mode 0600; fsync policy; size-based rotation with retention.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::event::AuditEvent;
use crate::redact::Redactor;
use crate::safe_file::open_append;
use crate::sample::Sampler;
use crate::terminal::escape_for_terminal;

/// When events are forced to disk.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, FsyncPolicy, Operation, SinkOptions};
///
/// assert_eq!(SinkOptions::default().fsync, FsyncPolicy::Never);
/// let batched = SinkOptions::default().with_fsync(FsyncPolicy::Interval(Duration::from_secs(1)));
/// assert_eq!(batched.fsync, FsyncPolicy::Interval(Duration::from_secs(1)));
///
/// // Each event is on disk when `record` returns.
/// let dir = tempfile::tempdir()?;
/// let options = SinkOptions::default().with_fsync(FsyncPolicy::EachEvent);
/// let mut sink = AuditSink::open(&dir.path().join("audit.jsonl"), options)?;
/// let event = AuditEvent::now("s1", Operation::CommandExec, "ls", AuditDecision::Allowed, "execpolicy");
/// assert!(sink.record(event)?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum FsyncPolicy {
    /// Leave it to the kernel (fastest; a crash of the machine may lose the tail).
    #[default]
    Never,
    /// `fdatasync` after every event (durable; slowest).
    EachEvent,
    /// `fdatasync` when this much time passed since the last one.
    Interval(Duration),
}

/// Rotated files kept unless configured otherwise.
pub const DEFAULT_KEEP: usize = 5;

/// How the sink behaves. Start from [`SinkOptions::default`] and change what
/// differs with the `with_*` methods:
///
/// ```
/// use std::time::Duration;
/// use codex_audit::{FsyncPolicy, SinkOptions};
///
/// let options = SinkOptions::default()
///     .with_fsync(FsyncPolicy::Interval(Duration::from_secs(1)))
///     .with_max_bytes(Some(1 << 20))
///     .with_keep(3);
/// assert_eq!(options.keep, 3);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SinkOptions {
    /// When to force events to disk.
    pub fsync: FsyncPolicy,
    /// Rotate when the file would grow past this many bytes (`None`: never).
    pub max_bytes: Option<u64>,
    /// Rotated files kept (`audit.jsonl.1` … `.N`).
    pub keep: usize,
    /// Share of allowed events written (denials and approvals always are).
    pub sample_rate: f64,
    /// Keep HTTP headers of network events.
    pub http_log_headers: bool,
    /// Keep HTTP bodies of network events.
    pub http_log_bodies: bool,
    /// Header names whose values are redacted.
    pub redact_headers: Vec<String>,
}

impl SinkOptions {
    /// When to force events to disk.
    #[must_use]
    pub fn with_fsync(mut self, fsync: FsyncPolicy) -> Self {
        self.fsync = fsync;
        self
    }

    /// Rotate when the file would grow past this many bytes (`None`: never).
    #[must_use]
    pub fn with_max_bytes(mut self, max_bytes: Option<u64>) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// Rotated files kept (`audit.jsonl.1` … `.keep`).
    #[must_use]
    pub fn with_keep(mut self, keep: usize) -> Self {
        self.keep = keep;
        self
    }

    /// Share of allowed events written, in `0..=1` (denials and approvals
    /// always are).
    #[must_use]
    pub fn with_sample_rate(mut self, sample_rate: f64) -> Self {
        self.sample_rate = sample_rate;
        self
    }

    /// Keep HTTP headers of network events.
    #[must_use]
    pub fn with_http_log_headers(mut self, on: bool) -> Self {
        self.http_log_headers = on;
        self
    }

    /// Keep HTTP bodies of network events.
    #[must_use]
    pub fn with_http_log_bodies(mut self, on: bool) -> Self {
        self.http_log_bodies = on;
        self
    }

    /// Header names whose values are redacted.
    #[must_use]
    pub fn with_redact_headers(mut self, names: Vec<String>) -> Self {
        self.redact_headers = names;
        self
    }
}

impl Default for SinkOptions {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::Never,
            max_bytes: Some(64 * 1024 * 1024),
            keep: DEFAULT_KEEP,
            sample_rate: 1.0,
            http_log_headers: false,
            http_log_bodies: false,
            redact_headers: Vec::new(),
        }
    }
}

/// Why the audit log could not be written.
///
/// # Examples
///
/// The log is never opened through a symbolic link, even one that points
/// nowhere yet:
///
/// ```
/// use codex_audit::{AuditError, AuditSink, SinkOptions, UnsafeLogFile};
///
/// let dir = tempfile::tempdir()?;
/// let elsewhere = dir.path().join("elsewhere.jsonl");
/// let path = dir.path().join("audit.jsonl");
/// std::os::unix::fs::symlink(&elsewhere, &path)?;
/// let err = AuditSink::open(&path, SinkOptions::default()).unwrap_err();
/// assert!(matches!(&err,
///     AuditError::Unsafe { problem: UnsafeLogFile::SymbolicLink { target: Some(t) }, .. } if *t == elsewhere));
/// assert!(err.to_string().contains("is a symbolic link to"));
/// assert!(!elsewhere.exists()); // nothing was created through the link
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The file system refused.
    #[error("audit log {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The reason.
        #[source]
        source: std::io::Error,
    },
    /// The path holds something the log must not be written to: a symbolic
    /// link, a FIFO, a directory or another non-regular file, another user's
    /// file, a file others may write, or a file with several hard links.
    #[error("audit log {}: {}", path.display(), problem.explain(path))]
    Unsafe {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: UnsafeLogFile,
    },
    /// An event could not be serialized (a bug).
    #[error("serializing an audit event: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// Why a file may not be the audit log (see [`AuditError::Unsafe`], whose
/// text explains it and how to fix it).
///
/// # Examples
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// use codex_audit::{AuditError, AuditSink, SinkOptions, UnsafeLogFile};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("audit.jsonl");
/// std::fs::write(&path, "")?;
/// std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664))?;
/// let err = AuditSink::open(&path, SinkOptions::default()).unwrap_err();
/// assert!(matches!(&err,
///     AuditError::Unsafe { problem: UnsafeLogFile::WritableByOthers { mode: 0o664 }, .. }));
/// assert!(err.to_string().contains("run `chmod 600"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsafeLogFile {
    /// A symbolic link: the log is never opened through one.
    SymbolicLink {
        /// Where it points, when that could be read.
        target: Option<PathBuf>,
    },
    /// Something else than a regular file.
    NotRegular {
        /// What it is.
        kind: FileKind,
    },
    /// A file of another user's.
    OwnedByOther {
        /// Its owner's uid.
        owner: u32,
        /// This process's effective uid.
        user: u32,
    },
    /// A file its group or others may write: its events could be forged.
    WritableByOthers {
        /// Its permission bits (`0o620`).
        mode: u32,
    },
    /// A file with several hard links: another name for it could be any
    /// file of this user's.
    HardLinks {
        /// How many.
        links: u64,
    },
}

impl UnsafeLogFile {
    /// The problem in words, about the file at `path`.
    fn explain<'a>(&'a self, path: &'a Path) -> impl std::fmt::Display + 'a {
        Explained(self, path)
    }
}

struct Explained<'a>(&'a UnsafeLogFile, &'a Path);

impl std::fmt::Display for Explained<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names a link may hold, or the log's own name, come from wherever
        // the log lies: shown with control characters made visible.
        let shown = |p: &Path| escape_for_terminal(&p.to_string_lossy()).into_owned();
        match self.0 {
            UnsafeLogFile::SymbolicLink { target } => write!(
                f,
                "is a symbolic link{}, not a regular file; the audit log is never opened \
                 through a link (remove the link, or name the real file)",
                target
                    .as_deref()
                    .map(|t| format!(" to {}", shown(t)))
                    .unwrap_or_default()
            ),
            UnsafeLogFile::NotRegular { kind } => write!(
                f,
                "is {}, not a regular file; the audit log must be a regular file",
                kind.describe()
            ),
            UnsafeLogFile::OwnedByOther { owner, user } => write!(
                f,
                "is owned by uid {owner}, not by this user (uid {user}); the audit log must be \
                 the user's own file"
            ),
            UnsafeLogFile::WritableByOthers { mode } => write!(
                f,
                "may be written by its group or by others (mode {mode:04o}), so its events \
                 could be forged; if its contents are trusted, run `chmod 600 {}`",
                shown(self.1)
            ),
            UnsafeLogFile::HardLinks { links } => write!(
                f,
                "has {links} hard links; the audit log must be a file of its own (another name \
                 for it could be any file of this user's)"
            ),
        }
    }
}

/// What a file that is not a regular file is.
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditError, AuditSink, FileKind, SinkOptions, UnsafeLogFile};
///
/// let dir = tempfile::tempdir()?;
/// let err = AuditSink::open(dir.path(), SinkOptions::default()).unwrap_err();
/// let AuditError::Unsafe { problem: UnsafeLogFile::NotRegular { kind }, .. } = err else {
///     panic!("{err}");
/// };
/// assert_eq!(kind, FileKind::Directory);
/// assert_eq!(kind.describe(), "a directory");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// A directory.
    Directory,
    /// A FIFO (named pipe).
    Fifo,
    /// A Unix socket.
    Socket,
    /// A character device.
    CharacterDevice,
    /// A block device.
    BlockDevice,
    /// Anything else that is not a regular file.
    Other,
}

impl FileKind {
    /// In words: `a directory`, `a FIFO (named pipe)`, ….
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Directory => "a directory",
            Self::Fifo => "a FIFO (named pipe)",
            Self::Socket => "a socket",
            Self::CharacterDevice => "a character device",
            Self::BlockDevice => "a block device",
            Self::Other => "not a regular file",
        }
    }
}

/// An open audit log.
///
/// # Examples
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions, read_log};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("logs").join("audit.jsonl");
/// let mut sink = AuditSink::open(&path, SinkOptions::default())?;
/// let event = AuditEvent::now("s1", Operation::CommandExec, "git push --force",
///     AuditDecision::RequiresApproval, "execpolicy").with_reason("rewrites published history");
/// assert!(sink.record(event)?);
///
/// assert_eq!(std::fs::metadata(sink.path())?.permissions().mode() & 0o777, 0o600);
/// assert_eq!(sink.protected_paths(), [std::fs::canonicalize(&path)?]);
/// let log = read_log(sink.path())?;
/// assert_eq!(log.events[0].reason.as_deref(), Some("rewrites published history"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct AuditSink {
    path: PathBuf,
    file: File,
    options: SinkOptions,
    redactor: Redactor,
    sampler: Sampler,
    last_sync: Instant,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> AuditError + '_ {
    move |source| AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn open_log(path: &Path) -> Result<File, AuditError> {
    open_append(path)
}

impl AuditSink {
    /// Opens (creating directories 0700 and the file 0600) the log at `path`.
    ///
    /// The file is opened without following a symbolic link in its last
    /// component and without blocking on a FIFO, and must be a regular file of
    /// this user's, not writable by group or others, with no other hard link:
    /// anything else is [`AuditError::Unsafe`], naming the path and what it is.
    ///
    /// # Errors
    ///
    /// [`AuditError::Unsafe`] when the file is refused as above (see
    /// [`UnsafeLogFile`]); [`AuditError::Io`] when its directories or the file
    /// cannot be created or opened.
    pub fn open(path: &Path, options: SinkOptions) -> Result<Self, AuditError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io(dir))?;
        }
        Ok(Self {
            file: open_log(path)?,
            path: path.to_path_buf(),
            redactor: Redactor::new(&options.redact_headers),
            sampler: Sampler::new(options.sample_rate),
            options,
            last_sync: Instant::now(),
        })
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The files a sandboxed command must not be able to write, replace or
    /// remove: the log file and its existing rotated siblings (`<log>.1` …),
    /// oldest first, as absolute paths with the directory resolved. Only
    /// regular files are listed (a link or other object at a sibling's name is
    /// not a log file: rotation and reading refuse it). Rotation locks the
    /// log's own descriptor, so there is no separate lock file.
    pub fn protected_paths(&self) -> Vec<PathBuf> {
        let path = match (self.path.parent(), self.path.file_name()) {
            (Some(dir), Some(name)) => {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                std::fs::canonicalize(dir).map_or_else(
                    |_| std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone()),
                    |dir| dir.join(name),
                )
            }
            _ => std::path::absolute(&self.path).unwrap_or_else(|_| self.path.clone()),
        };
        crate::read::log_files_kept(&path, self.options.keep)
            .into_iter()
            .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_file()))
            .collect()
    }

    /// Creates the rotated names `.1` … `.keep` that do not exist yet, empty
    /// and private, and returns them: a log inside a directory a sandboxed
    /// command may write needs every name its readers trust to exist, so the
    /// sandbox can keep them read-only — otherwise the command could plant
    /// a `.1` of forged events. Never through a link.
    ///
    /// # Errors
    ///
    /// [`AuditError::Io`], naming the file, when a missing rotated name cannot be
    /// created (the directory is missing or not writable, say). A name already
    /// taken, by anything, is left as it is.
    pub fn reserve_rotated_names(&self) -> Result<Vec<PathBuf>, AuditError> {
        let mut created = Vec::new();
        for n in 1..=self.options.keep {
            let name = crate::read::rotated_name(&self.path, n);
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
                .open(&name)
            {
                Ok(_) => created.push(name),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(source) => return Err(AuditError::Io { path: name, source }),
            }
        }
        Ok(created)
    }

    /// Redacts and writes `event`; `Ok(false)` when sampling left it out.
    ///
    /// # Errors
    ///
    /// [`AuditError::Io`] when the write fails or is short (a full disk), or when
    /// locking, rotating or syncing the log fails; [`AuditError::Unsafe`] when
    /// rotation meets a rotated file, or a log replaced meanwhile, that may not be
    /// written (see [`UnsafeLogFile`]); [`AuditError::Serialize`] only on a bug.
    pub fn record(&mut self, mut event: AuditEvent) -> Result<bool, AuditError> {
        if !self.sampler.keep(event.decision) {
            return Ok(false);
        }
        if let Some(http) = &mut event.http {
            if !self.options.http_log_headers {
                http.headers.clear();
            }
            if !self.options.http_log_bodies {
                http.body = None;
            }
        }
        self.redactor.redact_event(&mut event);
        let mut line = serde_json::to_vec(&event)?;
        line.push(b'\n');
        self.rotate_if_needed(line.len() as u64)?;
        // One write(2) on O_APPEND: the line lands whole, after every other
        // process's lines. A short write (disk full) is an error, not a retry that
        // could interleave. Under a shared lock: rotation (exclusive) copies
        // and truncates the live file, and must not lose a line written meanwhile.
        let written = {
            // Not had within the wait: someone else (a sandboxed command can
            // open the log read-only and lock it) holds an exclusive lock, so
            // no rotation of ours is running, and the append is safe without.
            let _shared = FileLock::shared(&self.file, &self.path)?;
            (&self.file).write(&line).map_err(io(&self.path))?
        };
        if written != line.len() {
            return Err(AuditError::Io {
                path: self.path.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::WriteZero,
                    "short write to the audit log",
                ),
            });
        }
        let sync = match self.options.fsync {
            FsyncPolicy::Never => false,
            FsyncPolicy::EachEvent => true,
            FsyncPolicy::Interval(every) => self.last_sync.elapsed() >= every,
        };
        if sync {
            self.file.sync_data().map_err(io(&self.path))?;
            self.last_sync = Instant::now();
        }
        Ok(true)
    }

    /// Rotates `audit.jsonl` → `.1` → … → `.keep` when the next line would pass
    /// `max_bytes`; under an exclusive `flock` so processes rotate once.
    fn rotate_if_needed(&mut self, next: u64) -> Result<(), AuditError> {
        let Some(max) = self.options.max_bytes else {
            return Ok(());
        };
        let size = self.file.metadata().map_err(io(&self.path))?.len();
        if size == 0 || size + next <= max {
            return Ok(());
        }
        // On a duplicate of the descriptor (the same open file, so the same
        // lock): rotation may reopen `self.file`.
        let held = self.file.try_clone().map_err(io(&self.path))?;
        // Not had within the wait (a lock held elsewhere, perhaps by a
        // sandboxed command that opened the log to read): the file grows past
        // `max_bytes` for now, rather than every writer waiting on it.
        let Some(_exclusive) = FileLock::exclusive(&held, &self.path)? else {
            return Ok(());
        };
        self.rotate_locked(max, next)
    }

    /// Rotation keeps every file where it is: each rotated name receives a
    /// copy of the one before it, and the live log is truncated. A sandbox
    /// that keeps the log and its rotated files read-only does it with a bind
    /// mount on each file; renaming a file on the host would end that mount
    /// in the sandbox's namespace and give a running command the files to
    /// rewrite. Copies cost a little more than renames, once every
    /// `max_bytes` (the kernel copies, `copy_file_range`).
    fn rotate_locked(&mut self, max: u64, next: u64) -> Result<(), AuditError> {
        // Another process may have rotated already (a log rotated by renaming,
        // by an older release): then just follow the path. Nothing here
        // follows a link: `lstat` to compare, and every file opened with the
        // log's own checks.
        let ours = self.file.metadata().map_err(io(&self.path))?;
        let current = std::fs::symlink_metadata(&self.path).ok();
        let already = current
            .as_ref()
            .is_some_and(|m| m.ino() != ours.ino() || m.dev() != ours.dev());
        if already {
            self.file = open_log(&self.path)?;
            return Ok(());
        }
        if ours.len() + next <= max {
            return Ok(());
        }
        let numbered = |n: usize| crate::read::rotated_name(&self.path, n);
        for n in (1..self.options.keep.max(1)).rev() {
            let from = numbered(n);
            if std::fs::symlink_metadata(&from).is_err() {
                continue;
            }
            copy_over(&from, &numbered(n + 1))?;
        }
        copy_over(&self.path, &numbered(1))?;
        self.file.set_len(0).map_err(io(&self.path))?;
        Ok(())
    }
}

/// Replaces the contents of `to` with those of `from`, in place (same
/// inode). `from` must be a regular file of the log's kind: a link or other
/// object planted at a rotated name is refused, never carried along. A link
/// at `to` is removed (never written through) and a new file made.
fn copy_over(from: &Path, to: &Path) -> Result<(), AuditError> {
    let mut source = crate::safe_file::open_read(from)?;
    if std::fs::symlink_metadata(to).is_ok_and(|m| m.file_type().is_symlink()) {
        std::fs::remove_file(to).map_err(io(to))?;
    }
    let target = open_log(to)?;
    target.set_len(0).map_err(io(to))?;
    std::io::copy(&mut source, &mut &target).map_err(io(to))?;
    Ok(())
}

/// An `flock` on the log's descriptor, released when dropped. Taken with a
/// bounded wait: the log is readable by sandboxed commands, and a lock one of
/// them holds must not stop every writer of the log.
struct FileLock<'a>(&'a File);

/// How long a writer waits for the log's lock.
const LOCK_WAIT: Duration = Duration::from_secs(2);

impl<'a> FileLock<'a> {
    fn shared(file: &'a File, path: &Path) -> Result<Option<Self>, AuditError> {
        Self::take(file, path, libc::LOCK_SH)
    }

    fn exclusive(file: &'a File, path: &Path) -> Result<Option<Self>, AuditError> {
        Self::take(file, path, libc::LOCK_EX)
    }

    /// `None` when the lock was not had within [`LOCK_WAIT`].
    fn take(
        file: &'a File,
        path: &Path,
        operation: libc::c_int,
    ) -> Result<Option<Self>, AuditError> {
        let deadline = Instant::now() + LOCK_WAIT;
        loop {
            // SAFETY: flock on a descriptor the caller owns and keeps open.
            if unsafe { libc::flock(file.as_raw_fd(), operation | libc::LOCK_NB) } == 0 {
                return Ok(Some(Self(file)));
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(io(path)(err));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl Drop for FileLock<'_> {
    fn drop(&mut self) {
        // SAFETY: unlocking the descriptor locked in `take`.
        unsafe { libc::flock(self.0.as_raw_fd(), libc::LOCK_UN) };
    }
}
