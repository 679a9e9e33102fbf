//! Time-limited elevation grants: "use profile X in this project for the next
//! N minutes".
//!
//! Grants live in `<codex_home>/elevations/`, one file per project, named by
//! the SHA-256 of the project path so that any path, UTF-8 or not, maps to a
//! safe file name; the full path is inside the file and checked on reading.
//! A grant raises what the agent's commands may do, so every file here is
//! treated as attacker-supplied until proven otherwise:
//!
//! - the directory must be ours, not a link, and writable by us alone, and so
//!   must Codex's home around it (else anyone could swap the directory);
//! - a grant file, and the integrity key beside it (`.key`), must be a regular
//!   file of ours (opened with `O_NOFOLLOW`, checked on the descriptor), private
//!   to us (no group or other bits) and small;
//! - a grant carries an HMAC-SHA256 over its content, keyed by the 32 random
//!   bytes of `.key`, so an edited grant (a later expiry, another profile) is
//!   refused, as is one copied from another project or claiming more than
//!   [`MAX_ELEVATION`] or a start in the future.
//!
//! A refused file is an error, never "no grant" and never silently removed:
//! it is evidence for whoever investigates. Every time comes from the caller
//! (`now`), so the clock is the caller's to control and to test.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use codex_profiles::{ElevationStore, GrantStatus, SecurityProfile, parse_duration};
//!
//! let home = tempfile::tempdir()?;
//! let store = ElevationStore::open(home.path())?;
//! let project = home.path().join("project");
//! let now = SystemTime::now();
//! let duration = parse_duration("15m")?;
//! store.grant(&project, SecurityProfile::Trusted, duration, "deploy fix", now)?;
//! let GrantStatus::Active(grant) = store.lookup(&project, now)? else { panic!() };
//! assert_eq!(grant.profile, SecurityProfile::Trusted);
//! assert_eq!(grant.remaining(now), Some(Duration::from_secs(15 * 60)));
//! assert!(matches!(store.lookup(&project, now + duration)?, GrantStatus::Expired(_)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt::{self, Write as _};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hmac};
use serde::{Deserialize, Serialize};

use crate::SecurityProfile;

/// The longest elevation: 8 hours. Longer trust should be a profile choice in
/// `config.toml`, made once and visibly, not a grant that is easy to forget.
pub const MAX_ELEVATION: Duration = Duration::from_secs(8 * 60 * 60);

/// The longest reason, in characters.
pub const MAX_REASON_CHARS: usize = 500;

/// Name of the directory inside Codex's home that holds the grants.
pub const ELEVATIONS_DIR_NAME: &str = "elevations";

/// Name of the integrity key inside the elevations directory.
const KEY_FILE_NAME: &str = ".key";
const KEY_LEN: usize = 32;
/// The grant format this code writes and reads.
const GRANT_VERSION: u32 = 1;
/// The largest grant file read. A grant is at most a 4096-byte path (up to 9
/// bytes each in pretty JSON: a line of a byte array, or an escaped control
/// character), a 500-character reason (4 bytes each) and a few hundred bytes
/// more, about 40 KiB, so anything larger was not written here.
const MAX_GRANT_FILE_BYTES: u64 = 64 * 1024;
/// `PATH_MAX` on Linux: no longer path names a real directory.
const MAX_PROJECT_BYTES: usize = 4096;
/// Separates the MAC input of a grant from anything else that key could sign.
const MAC_DOMAIN: &[u8] = b"codex-policy elevation grant\0";
/// The permission bits that let the group or others write.
const GROUP_OTHER_WRITE: u32 = 0o022;
/// Every permission bit of the group and others.
const GROUP_OTHER_ANY: u32 = 0o077;

/// Why a file or directory of the elevation store is not trusted.
///
/// # Examples
///
/// An elevations directory its group may write is refused, since a member
/// of the group could plant a grant there:
///
/// ```
/// use std::os::unix::fs::PermissionsExt;
/// use codex_profiles::{ElevationError, ElevationStore, UnsafeEntry};
///
/// let codex_home = tempfile::tempdir()?;
/// let store = ElevationStore::open(codex_home.path())?;
/// std::fs::set_permissions(store.dir(), std::fs::Permissions::from_mode(0o770))?;
/// let err = ElevationStore::open(codex_home.path()).unwrap_err();
/// let ElevationError::Unsafe { path, problem } = err else { panic!("{err}") };
/// assert_eq!(path, store.dir());
/// assert_eq!(problem, UnsafeEntry::WritableByOthers { mode: 0o770 });
/// assert!(problem.to_string().starts_with("has mode 0770"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsafeEntry {
    /// A symbolic link, which could point anywhere.
    SymbolicLink,
    /// Something other than a regular file where a file belongs.
    NotRegularFile,
    /// Something other than a directory where a directory belongs.
    NotDirectory,
    /// Owned by another user, who could have planted it or could change it.
    OwnedByOther {
        /// Its owner's uid.
        owner: u32,
        /// The current (effective) uid.
        user: u32,
    },
    /// A file the group or others may read or write.
    AccessibleByOthers {
        /// Its permission bits.
        mode: u32,
    },
    /// A directory the group or others may write.
    WritableByOthers {
        /// Its permission bits.
        mode: u32,
    },
    /// Larger than any file the store writes.
    TooLarge {
        /// The largest size read, in bytes.
        limit: u64,
    },
    /// The file has other names (hard links), which could lie elsewhere.
    HardLinked {
        /// How many names it has.
        links: u64,
    },
}

impl fmt::Display for UnsafeEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SymbolicLink => f.write_str(
                "is a symbolic link, which could point anywhere; elevation files are never \
                 used through a link; remove the link",
            ),
            Self::NotRegularFile => f.write_str("is not a regular file; remove it"),
            Self::NotDirectory => f.write_str("is not a directory; remove it or move it away"),
            Self::OwnedByOther { owner, user } => write!(
                f,
                "is owned by uid {owner}, not by the current user (uid {user}), so another \
                 user may have planted it or may change it; remove it, or give it to uid {user} \
                 if its contents are trusted"
            ),
            Self::AccessibleByOthers { mode } => write!(
                f,
                "has mode {mode:04o}, which lets its group or others read or write it; remove it, \
                 or restrict it to its owner (mode 0600) if its contents are trusted"
            ),
            Self::WritableByOthers { mode } => write!(
                f,
                "has mode {mode:04o}, which lets its group or others add, replace or remove files \
                 in it; make it writable by its owner only (mode 0700)"
            ),
            Self::TooLarge { limit } => write!(
                f,
                "is larger than {limit} bytes, more than any file the elevation store writes; \
                 remove it"
            ),
            Self::HardLinked { links } => write!(
                f,
                "has {links} names (hard links); the elevation store writes files with one; \
                 remove it"
            ),
        }
    }
}

/// Why an elevation could not be granted, looked up or revoked.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use std::time::SystemTime;
/// use codex_profiles::{ElevationError, ElevationStore, parse_duration};
///
/// let err = parse_duration("9h").unwrap_err();
/// assert!(matches!(err, ElevationError::DurationTooLong { .. }));
/// assert!(err.to_string().starts_with("an elevation of 9h is longer than the maximum of 8h"));
///
/// let codex_home = tempfile::tempdir()?;
/// let store = ElevationStore::open(codex_home.path())?;
/// let err = store.lookup(Path::new("project"), SystemTime::now()).unwrap_err();
/// assert!(matches!(err, ElevationError::InvalidProject { problem: "relative", .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ElevationError {
    /// A duration that is not of the form `1h30m`.
    #[error(
        "invalid duration {text:?}: {problem}; write whole hours, minutes and seconds, such as \
         90s, 15m, 2h or 1h30m"
    )]
    InvalidDuration {
        /// The text given.
        text: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An elevation of zero length.
    #[error("an elevation must last at least one second; ask for a longer duration")]
    ZeroDuration,
    /// An elevation longer than [`MAX_ELEVATION`].
    #[error(
        "an elevation of {} is longer than the maximum of {}; ask for {} or less, or choose the \
         profile in config.toml for lasting trust",
        format_duration(*requested),
        format_duration(MAX_ELEVATION),
        format_duration(MAX_ELEVATION)
    )]
    DurationTooLong {
        /// The duration asked for.
        requested: Duration,
    },
    /// A reason that is empty, too long or not a single line of text.
    #[error(
        "the elevation reason {problem}; give one line of 1 to {MAX_REASON_CHARS} characters \
         saying why"
    )]
    InvalidReason {
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A project path that cannot name a project directory.
    #[error(
        "project path {} is {problem}; pass the project's absolute, canonical directory",
        path.display()
    )]
    InvalidProject {
        /// The path given.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `now`, or `now` plus the duration, lies outside the dates a grant can
    /// record (years 1 BCE to 262143 CE, past `SystemTime`'s range).
    #[error(
        "an elevation starting at {now:?} and lasting {} ends beyond the dates a grant can \
         record; check the system clock",
        format_duration(*duration)
    )]
    TimeOutOfRange {
        /// The start asked for.
        now: SystemTime,
        /// The duration asked for.
        duration: Duration,
    },
    /// A file or directory of the store that is not trusted.
    #[error("{}: {problem}", path.display())]
    Unsafe {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong with it.
        problem: UnsafeEntry,
    },
    /// A grant file that is not a grant (bad JSON, unknown fields, unknown
    /// profile, bad dates).
    #[error(
        "{}: not a valid elevation grant ({source}); remove it and grant again",
        path.display()
    )]
    Malformed {
        /// The grant file.
        path: PathBuf,
        /// What the parser found.
        #[source]
        source: serde_json::Error,
    },
    /// A grant file in a format this version does not know.
    #[error(
        "{}: elevation grant format version {found}, but only version {GRANT_VERSION} is \
         understood; remove it and grant again with this version",
        path.display()
    )]
    UnsupportedVersion {
        /// The grant file.
        path: PathBuf,
        /// The version it claims.
        found: u32,
    },
    /// A grant exists but the key that vouches for it does not.
    #[error(
        "{}: the integrity key is missing, so grant {} cannot be checked and is not used; \
         remove the grant and grant again",
        key.display(),
        grant.display()
    )]
    KeyMissing {
        /// The key file.
        key: PathBuf,
        /// The grant file found.
        grant: PathBuf,
    },
    /// A key file of the wrong length.
    #[error(
        "{}: the integrity key holds {len} bytes instead of {KEY_LEN}; remove it and every \
         grant beside it, then grant again",
        path.display()
    )]
    KeyCorrupt {
        /// The key file.
        path: PathBuf,
        /// Its length in bytes.
        len: u64,
    },
    /// A grant whose content was changed after it was written.
    #[error(
        "{}: the elevation grant {problem}: it was altered after it was written and is not \
         used; remove it and grant again",
        path.display()
    )]
    Tampered {
        /// The grant file.
        path: PathBuf,
        /// What gave it away.
        problem: &'static str,
    },
    /// A grant found under another project's name.
    #[error(
        "{}: the elevation grant is for project {}, not {}: it was copied or moved from \
         another project and is not used; remove it",
        path.display(),
        found.display(),
        expected.display()
    )]
    ProjectMismatch {
        /// The grant file.
        path: PathBuf,
        /// The project asked about.
        expected: PathBuf,
        /// The project the grant names.
        found: PathBuf,
    },
    /// A grant made by another user.
    #[error(
        "{}: the elevation grant was made by uid {granted_by}, not by the current user \
         (uid {user}), and is not used; remove it",
        path.display()
    )]
    OtherUsersGrant {
        /// The grant file.
        path: PathBuf,
        /// The uid that made it.
        granted_by: u32,
        /// The current (effective) uid.
        user: u32,
    },
    /// A grant that starts after `now`: the clock moved back, or it is forged.
    #[error(
        "{}: the elevation grant starts at {}, after the current time {}; the clock moved back \
         or the grant was forged, so it is not used; remove it and grant again",
        path.display(),
        rfc3339_or_debug(*granted_at),
        rfc3339_or_debug(*now)
    )]
    GrantedInFuture {
        /// The grant file.
        path: PathBuf,
        /// When the grant claims to start.
        granted_at: SystemTime,
        /// The time it was looked up.
        now: SystemTime,
    },
    /// A file system operation failed.
    #[error("cannot {operation} {}: {source}", path.display())]
    Io {
        /// What was being done (`read`, `create`, …).
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The system's error.
        #[source]
        source: io::Error,
    },
    /// The operating system's random number generator failed.
    #[error(
        "the system's random number generator failed; an elevation needs it for its \
         integrity key and grant id"
    )]
    Random,
}

/// One elevation: `project` uses `profile` from `granted_at` until `expires_at`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use codex_profiles::{ElevationStore, SecurityProfile, parse_duration};
///
/// let codex_home = tempfile::tempdir()?;
/// let store = ElevationStore::open(codex_home.path())?;
/// let project = codex_home.path().join("project");
/// let now = SystemTime::now();
/// let grant = store.grant(&project, SecurityProfile::Trusted, parse_duration("1h")?, "deploy fix", now)?;
/// assert_eq!((grant.profile, grant.reason.as_str()), (SecurityProfile::Trusted, "deploy fix"));
/// assert_eq!(grant.expires_at, now + Duration::from_secs(3600));
/// let later = now + Duration::from_secs(40 * 60);
/// assert_eq!(grant.remaining(later), Some(Duration::from_secs(20 * 60)));
/// assert_eq!(grant.remaining(grant.expires_at), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Grant {
    /// The project directory, exactly as granted. Serialized as a string, or
    /// as an array of bytes when the path is not UTF-8.
    #[serde(with = "project_path")]
    pub project: PathBuf,
    /// The profile the project uses while the grant is active.
    pub profile: SecurityProfile,
    /// Why it was granted.
    pub reason: String,
    /// When it starts (RFC 3339, UTC).
    #[serde(with = "rfc3339")]
    pub granted_at: SystemTime,
    /// When it ends (RFC 3339, UTC); the grant no longer applies at this instant.
    #[serde(with = "rfc3339")]
    pub expires_at: SystemTime,
    /// A random identifier (32 hex digits), to tell grants apart in logs.
    pub id: String,
    /// The (effective) uid that made it.
    pub uid: u32,
}

impl Grant {
    /// The time left at `now`; `None` once expired.
    pub fn remaining(&self, now: SystemTime) -> Option<Duration> {
        self.expires_at
            .duration_since(now)
            .ok()
            .filter(|left| !left.is_zero())
    }
}

/// The grant of a project at some moment.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use codex_profiles::{ElevationStore, GrantStatus, SecurityProfile};
///
/// let codex_home = tempfile::tempdir()?;
/// let store = ElevationStore::open(codex_home.path())?;
/// let project = codex_home.path().join("project");
/// let now = SystemTime::now();
/// assert_eq!(store.lookup(&project, now)?, GrantStatus::None);
/// assert_eq!(serde_json::to_string(&GrantStatus::None)?, r#"{"status":"none"}"#);
///
/// let ten_minutes = Duration::from_secs(600);
/// store.grant(&project, SecurityProfile::WorkspaceNet, ten_minutes, "fetch crates", now)?;
/// match store.lookup(&project, now + ten_minutes)? {
///     GrantStatus::Expired(grant) => assert_eq!(grant.reason, "fetch crates"),
///     other => panic!("expected an expired grant, got {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "grant", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GrantStatus {
    /// No grant.
    None,
    /// A grant that applies now.
    Active(Grant),
    /// A grant that has ended: report it, never use it.
    Expired(Grant),
}

/// The grants of every project, in `<codex_home>/elevations/`.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use codex_profiles::{ElevationStore, GrantStatus, SecurityProfile};
///
/// let codex_home = tempfile::tempdir()?;
/// let store = ElevationStore::open(codex_home.path())?;
/// assert_eq!(store.dir(), codex_home.path().join("elevations"));
/// let project = codex_home.path().join("project");
/// let now = SystemTime::now();
/// let half_hour = Duration::from_secs(30 * 60);
/// store.grant(&project, SecurityProfile::WorkspaceNet, half_hour, "run the integration tests", now)?;
/// assert!(matches!(store.lookup(&project, now)?, GrantStatus::Active(_)));
///
/// let revoked = store.revoke(&project)?;
/// assert_eq!(revoked.map(|grant| grant.profile), Some(SecurityProfile::WorkspaceNet));
/// assert_eq!(store.lookup(&project, now)?, GrantStatus::None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ElevationStore {
    dir: PathBuf,
    /// The effective uid, that must own every file.
    uid: u32,
    rng: SystemRandom,
}

impl ElevationStore {
    /// Opens `<codex_home>/elevations`, creating it (and Codex's home) with mode
    /// 0700 when missing.
    ///
    /// Refused ([`ElevationError::Unsafe`]): an elevations directory that is a
    /// symbolic link, not a directory, owned by another user or writable by its
    /// group or others, and a Codex home (followed if a link) that is not a
    /// directory, is owned by another user or is writable by its group or
    /// others, since whoever can write there can replace the elevations
    /// directory.
    ///
    /// # Errors
    ///
    /// [`ElevationError::Unsafe`] for a directory refused as above;
    /// [`ElevationError::Io`] when Codex's home or the elevations directory cannot
    /// be created or inspected.
    pub fn open(codex_home: &Path) -> Result<Self, ElevationError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let uid = unsafe { libc::geteuid() };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(codex_home)
            .map_err(io_error("create", codex_home))?;
        let home = fs::metadata(codex_home).map_err(io_error("inspect", codex_home))?;
        check_directory(codex_home, &home, uid)?;

        let dir = codex_home.join(ELEVATIONS_DIR_NAME);
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            // Whatever is there is checked below, without following a link.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io_error("create", &dir)(e)),
        }
        let meta = fs::symlink_metadata(&dir).map_err(io_error("inspect", &dir))?;
        if meta.file_type().is_symlink() {
            return Err(unsafe_entry(&dir, UnsafeEntry::SymbolicLink));
        }
        check_directory(&dir, &meta, uid)?;
        Ok(Self {
            dir,
            uid,
            rng: SystemRandom::new(),
        })
    }

    /// The elevations directory: a sandbox should not let commands write it.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Grants `project` (an absolute, canonical directory; the caller finds
    /// the project root) `profile` for `duration` from `now`, replacing any
    /// earlier grant of the project.
    ///
    /// Refused: a reason that is empty or blank, longer than
    /// [`MAX_REASON_CHARS`] characters or holding a control character (a
    /// newline, an escape, a text-direction control: it is shown on
    /// terminals); a zero duration or one above [`MAX_ELEVATION`]; a relative
    /// project path or one with `..`. The grant is written to a private
    /// temporary file that is synced and then renamed into place, so a reader
    /// sees the old grant or the new one, never part of one; nothing is left
    /// behind on failure.
    ///
    /// # Errors
    ///
    /// [`ElevationError::InvalidReason`], [`ElevationError::ZeroDuration`] or
    /// [`ElevationError::DurationTooLong`] for the reason or duration refused
    /// above; [`ElevationError::InvalidProject`] for a project path that is
    /// relative, holds `..` or is longer than 4096 bytes;
    /// [`ElevationError::TimeOutOfRange`] when `now` or the expiry lies outside
    /// the dates a grant can record; [`ElevationError::Unsafe`] or
    /// [`ElevationError::KeyCorrupt`] for an untrusted integrity key;
    /// [`ElevationError::Random`] when the system's random number generator fails;
    /// [`ElevationError::Io`] when the key or the grant cannot be written.
    pub fn grant(
        &self,
        project: &Path,
        profile: SecurityProfile,
        duration: Duration,
        reason: &str,
        now: SystemTime,
    ) -> Result<Grant, ElevationError> {
        check_reason(reason)?;
        check_duration(duration)?;
        let project = normalize_project(project)?;
        let out_of_range = || ElevationError::TimeOutOfRange { now, duration };
        let expires_at = now.checked_add(duration).ok_or_else(out_of_range)?;
        if to_datetime(now).is_none() || to_datetime(expires_at).is_none() {
            return Err(out_of_range());
        }

        let key = self.load_or_create_key()?;
        let grant = Grant {
            project,
            profile,
            reason: reason.to_owned(),
            granted_at: now,
            expires_at,
            id: hex(&self.random::<16>()?),
            uid: self.uid,
        };
        let mac = hmac::sign(&key, &mac_input(GRANT_VERSION, &grant));
        let record = GrantFile {
            version: GRANT_VERSION,
            project: grant.project.clone(),
            profile: grant.profile,
            reason: grant.reason.clone(),
            granted_at: grant.granted_at,
            expires_at: grant.expires_at,
            id: grant.id.clone(),
            uid: grant.uid,
            mac: hex(mac.as_ref()),
        };
        let path = self.grant_path(&grant.project);
        // Only a time outside the dates RFC 3339 can write fails to encode,
        // and that was refused above; should it happen anyway, say so.
        let mut json = serde_json::to_vec_pretty(&record).map_err(|_| out_of_range())?;
        json.push(b'\n');

        let temp = self.write_temp(&json)?;
        fs::rename(&temp.path, &path).map_err(io_error("replace", &path))?;
        temp.persisted();
        self.sync_dir()?;
        Ok(grant)
    }

    /// The grant of `project` (matched exactly: a grant of `/p` says nothing
    /// about `/p/sub`) as of `now`. An expired grant is reported, never to be
    /// used; the caller may [`revoke`](Self::revoke) it.
    ///
    /// A grant file that is present but not trusted is an error, not
    /// [`GrantStatus::None`]: a link, not a regular file, another user's,
    /// readable or writable by others, too large, not a grant, altered (its
    /// MAC does not match, or it lasts more than [`MAX_ELEVATION`]), made for
    /// another project or by another user, or starting after `now`.
    ///
    /// # Errors
    ///
    /// [`ElevationError::InvalidProject`] for a project path that is relative,
    /// holds `..` or is longer than 4096 bytes; [`ElevationError::Io`] when the
    /// grant or the key cannot be read; for an untrusted grant, the variant naming
    /// why: [`ElevationError::Unsafe`], [`ElevationError::Malformed`],
    /// [`ElevationError::UnsupportedVersion`], [`ElevationError::KeyMissing`],
    /// [`ElevationError::KeyCorrupt`], [`ElevationError::Tampered`],
    /// [`ElevationError::ProjectMismatch`], [`ElevationError::OtherUsersGrant`]
    /// or [`ElevationError::GrantedInFuture`].
    pub fn lookup(&self, project: &Path, now: SystemTime) -> Result<GrantStatus, ElevationError> {
        let project = normalize_project(project)?;
        let Some((path, grant)) = self.read_grant(&project)? else {
            return Ok(GrantStatus::None);
        };
        if grant.granted_at > now {
            return Err(ElevationError::GrantedInFuture {
                path,
                granted_at: grant.granted_at,
                now,
            });
        }
        Ok(if now >= grant.expires_at {
            GrantStatus::Expired(grant)
        } else {
            GrantStatus::Active(grant)
        })
    }

    /// Removes the grant of `project`, active or expired, and returns it;
    /// `None` when there was none.
    ///
    /// A grant file that is not trusted (see [`lookup`](Self::lookup); a
    /// start in the future excepted, which revoking must still be able to
    /// undo) is an error and stays where it is, as evidence.
    ///
    /// # Errors
    ///
    /// As [`lookup`](Self::lookup), [`ElevationError::GrantedInFuture`] excepted;
    /// and [`ElevationError::Io`] when the grant file cannot be removed or the
    /// removal cannot be made durable.
    pub fn revoke(&self, project: &Path) -> Result<Option<Grant>, ElevationError> {
        let project = normalize_project(project)?;
        let Some((path, grant)) = self.read_grant(&project)? else {
            return Ok(None);
        };
        match fs::remove_file(&path) {
            Ok(()) => {}
            // Revoked meanwhile by someone else, who reports it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("remove", &path)(e)),
        }
        // A revocation that a crash could undo is no revocation.
        self.sync_dir()?;
        Ok(Some(grant))
    }

    /// The file that holds the grant of the normalized `project`.
    fn grant_path(&self, project: &Path) -> PathBuf {
        let hash = digest::digest(&digest::SHA256, project.as_os_str().as_bytes());
        self.dir.join(format!("{}.json", hex(hash.as_ref())))
    }

    fn key_path(&self) -> PathBuf {
        self.dir.join(KEY_FILE_NAME)
    }

    /// The grant of `project`, checked in every way that does not depend on
    /// the time; `None` when there is no grant file.
    fn read_grant(&self, project: &Path) -> Result<Option<(PathBuf, Grant)>, ElevationError> {
        let path = self.grant_path(project);
        let Some(bytes) = read_private_file(&path, self.uid, MAX_GRANT_FILE_BYTES)? else {
            return Ok(None);
        };
        let record: GrantFile =
            serde_json::from_slice(&bytes).map_err(|source| ElevationError::Malformed {
                path: path.clone(),
                source,
            })?;
        if record.version != GRANT_VERSION {
            return Err(ElevationError::UnsupportedVersion {
                path,
                found: record.version,
            });
        }
        let key_path = self.key_path();
        let Some(key) = self.read_key()? else {
            return Err(ElevationError::KeyMissing {
                key: key_path,
                grant: path,
            });
        };
        let (grant, mac) = record.into_parts();
        let tampered = |problem| ElevationError::Tampered {
            path: path.clone(),
            problem,
        };
        // A MAC that is not hex cannot match: it is as altered as a wrong one.
        let mac = unhex(&mac).ok_or_else(|| tampered("has a corrupt integrity check"))?;
        hmac::verify(&key, &mac_input(GRANT_VERSION, &grant), &mac)
            .map_err(|_| tampered("fails its integrity check"))?;
        // The MAC proves the key signed it; these prove it was signed for this
        // project, this user and a span a grant can have.
        if grant.project != project {
            return Err(ElevationError::ProjectMismatch {
                path,
                expected: project.to_path_buf(),
                found: grant.project,
            });
        }
        if grant.uid != self.uid {
            return Err(ElevationError::OtherUsersGrant {
                path,
                granted_by: grant.uid,
                user: self.uid,
            });
        }
        match grant.expires_at.duration_since(grant.granted_at) {
            Ok(span) if span.is_zero() => Err(tampered("ends when it starts")),
            Ok(span) if span > MAX_ELEVATION => {
                Err(tampered("lasts longer than the maximum elevation"))
            }
            Ok(_) => Ok(Some((path, grant))),
            Err(_) => Err(tampered("ends before it starts")),
        }
    }

    /// The integrity key, `None` when there is none yet.
    fn read_key(&self) -> Result<Option<hmac::Key>, ElevationError> {
        let path = self.key_path();
        let Some(bytes) = read_private_file(&path, self.uid, KEY_LEN as u64)? else {
            return Ok(None);
        };
        if bytes.len() != KEY_LEN {
            return Err(ElevationError::KeyCorrupt {
                path,
                len: bytes.len() as u64,
            });
        }
        Ok(Some(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// The integrity key, created on first use.
    fn load_or_create_key(&self) -> Result<hmac::Key, ElevationError> {
        if let Some(key) = self.read_key()? {
            return Ok(key);
        }
        let bytes = self.random::<KEY_LEN>()?;
        // Written whole under a temporary name, then linked into place: a
        // link, like O_EXCL, never replaces an existing key (a grant made with
        // it would stop verifying), and unlike O_EXCL on the final name no
        // concurrent grant ever reads a key half written.
        let temp = self.write_temp(&bytes)?;
        let path = self.key_path();
        match fs::hard_link(&temp.path, &path) {
            Ok(()) => {
                drop(temp);
                self.sync_dir()?;
                Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
            }
            // Another grant created it first: use theirs.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                drop(temp);
                self.read_key()?.ok_or_else(|| {
                    io_error("read", &path)(io::Error::from(io::ErrorKind::NotFound))
                })
            }
            Err(e) => Err(io_error("create", &path)(e)),
        }
    }

    /// Writes `bytes` to a new private file in the store and syncs it; the
    /// file is removed when the returned guard drops, unless persisted.
    fn write_temp(&self, bytes: &[u8]) -> Result<TempFile, ElevationError> {
        let path = self
            .dir
            .join(format!(".tmp-{}", hex(&self.random::<16>()?)));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(io_error("create", &path))?;
        // From here on the guard removes the file whatever fails.
        let temp = TempFile { path, remove: true };
        file.write_all(bytes)
            .and_then(|()| file.sync_all())
            .map_err(io_error("write", &temp.path))?;
        Ok(temp)
    }

    /// Makes renames, links and removals in the store durable.
    fn sync_dir(&self) -> Result<(), ElevationError> {
        File::open(&self.dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error("sync", &self.dir))
    }

    fn random<const N: usize>(&self) -> Result<[u8; N], ElevationError> {
        let mut bytes = [0; N];
        self.rng
            .fill(&mut bytes)
            .map_err(|_| ElevationError::Random)?;
        Ok(bytes)
    }
}

/// A temporary file that is removed when dropped, unless persisted.
struct TempFile {
    path: PathBuf,
    remove: bool,
}

impl TempFile {
    /// The file now lives under another name: nothing to remove.
    fn persisted(mut self) {
        self.remove = false;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if self.remove {
            // Best effort: the operation that failed reports its own error.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// A grant as stored: the grant, its format version and its MAC.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantFile {
    version: u32,
    #[serde(with = "project_path")]
    project: PathBuf,
    profile: SecurityProfile,
    reason: String,
    #[serde(with = "rfc3339")]
    granted_at: SystemTime,
    #[serde(with = "rfc3339")]
    expires_at: SystemTime,
    id: String,
    uid: u32,
    /// HMAC-SHA256 of [`mac_input`], in hex.
    mac: String,
}

impl GrantFile {
    fn into_parts(self) -> (Grant, String) {
        (
            Grant {
                project: self.project,
                profile: self.profile,
                reason: self.reason,
                granted_at: self.granted_at,
                expires_at: self.expires_at,
                id: self.id,
                uid: self.uid,
            },
            self.mac,
        )
    }
}

/// What the MAC covers: every field, each length-prefixed so that no two
/// grants encode alike, and times as exact nanoseconds, so the MAC does not
/// depend on how JSON or RFC 3339 happen to spell them.
fn mac_input(version: u32, grant: &Grant) -> Vec<u8> {
    fn field(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    let mut out = MAC_DOMAIN.to_vec();
    out.extend_from_slice(&version.to_be_bytes());
    field(&mut out, grant.project.as_os_str().as_bytes());
    field(&mut out, grant.profile.as_str().as_bytes());
    field(&mut out, grant.reason.as_bytes());
    out.extend_from_slice(&unix_nanos(grant.granted_at).to_be_bytes());
    out.extend_from_slice(&unix_nanos(grant.expires_at).to_be_bytes());
    field(&mut out, grant.id.as_bytes());
    out.extend_from_slice(&grant.uid.to_be_bytes());
    out
}

/// Reads a file of the store that must be a regular file of `uid`'s, private
/// to it and at most `limit` bytes; `None` when it does not exist.
///
/// It is opened without following a link (`O_NOFOLLOW`: even a link to a
/// valid file is refused) and without blocking on a FIFO (`O_NONBLOCK`), and
/// checked on the descriptor, so nothing can be swapped in between the checks
/// and the read.
fn read_private_file(path: &Path, uid: u32, limit: u64) -> Result<Option<Vec<u8>>, ElevationError> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            // ELOOP (a link) and ENXIO (a FIFO or socket) say little: say what is there.
            return Err(match fs::symlink_metadata(path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    unsafe_entry(path, UnsafeEntry::SymbolicLink)
                }
                Ok(meta) if !meta.file_type().is_file() => {
                    unsafe_entry(path, UnsafeEntry::NotRegularFile)
                }
                _ => io_error("open", path)(e),
            });
        }
    };
    let meta = file.metadata().map_err(io_error("inspect", path))?;
    if !meta.file_type().is_file() {
        return Err(unsafe_entry(path, UnsafeEntry::NotRegularFile));
    }
    if meta.uid() != uid {
        return Err(unsafe_entry(
            path,
            UnsafeEntry::OwnedByOther {
                owner: meta.uid(),
                user: uid,
            },
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & GROUP_OTHER_ANY != 0 {
        return Err(unsafe_entry(path, UnsafeEntry::AccessibleByOthers { mode }));
    }
    if meta.nlink() > 1 {
        return Err(unsafe_entry(
            path,
            UnsafeEntry::HardLinked {
                links: meta.nlink(),
            },
        ));
    }
    // Reading one byte past the limit tells a file that is too large (or
    // grows while read) without reading all of it.
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(io_error("read", path))?;
    if bytes.len() as u64 > limit {
        return Err(unsafe_entry(path, UnsafeEntry::TooLarge { limit }));
    }
    Ok(Some(bytes))
}

/// Refuses a directory that is not ours alone to write.
fn check_directory(path: &Path, meta: &fs::Metadata, uid: u32) -> Result<(), ElevationError> {
    if !meta.is_dir() {
        return Err(unsafe_entry(path, UnsafeEntry::NotDirectory));
    }
    if meta.uid() != uid {
        return Err(unsafe_entry(
            path,
            UnsafeEntry::OwnedByOther {
                owner: meta.uid(),
                user: uid,
            },
        ));
    }
    let mode = meta.mode() & 0o7777;
    if mode & GROUP_OTHER_WRITE != 0 {
        return Err(unsafe_entry(path, UnsafeEntry::WritableByOthers { mode }));
    }
    Ok(())
}

fn unsafe_entry(path: &Path, problem: UnsafeEntry) -> ElevationError {
    ElevationError::Unsafe {
        path: path.to_path_buf(),
        problem,
    }
}

fn io_error(operation: &'static str, path: &Path) -> impl FnOnce(io::Error) -> ElevationError {
    let path = path.to_path_buf();
    move |source| ElevationError::Io {
        operation,
        path,
        source,
    }
}

/// The project path as grants store and match it: absolute, with `.` and
/// repeated or trailing slashes dropped (`/p/./` is `/p`), so that spelling
/// does not decide which file holds a project's grant. `..` is refused: only
/// the file system knows where it leads, and the caller canonicalizes.
fn normalize_project(project: &Path) -> Result<PathBuf, ElevationError> {
    let invalid = |problem| ElevationError::InvalidProject {
        path: project.to_path_buf(),
        problem,
    };
    if !project.is_absolute() {
        return Err(invalid("relative"));
    }
    if project.components().any(|c| c == Component::ParentDir) {
        return Err(invalid("not canonical (it contains `..`)"));
    }
    if project.as_os_str().len() > MAX_PROJECT_BYTES {
        return Err(invalid("longer than 4096 bytes"));
    }
    Ok(project.components().collect())
}

fn check_reason(reason: &str) -> Result<(), ElevationError> {
    let invalid = |problem| ElevationError::InvalidReason { problem };
    if reason.trim().is_empty() {
        return Err(invalid("is empty or blank"));
    }
    if reason.chars().count() > MAX_REASON_CHARS {
        return Err(invalid("is too long"));
    }
    if reason.chars().any(is_control) {
        return Err(invalid(
            "contains a control character (such as a newline, a tab, an escape or a \
             text-direction control)",
        ));
    }
    Ok(())
}

/// Characters that could disguise the reason on a terminal: C0 and C1
/// controls (escape sequences, line breaks) and the Unicode text-direction
/// controls that can reorder what is shown.
fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{200E}' | '\u{200F}' | '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}' | '\u{061C}'
        )
}

fn check_duration(duration: Duration) -> Result<(), ElevationError> {
    if duration.is_zero() {
        return Err(ElevationError::ZeroDuration);
    }
    if duration > MAX_ELEVATION {
        return Err(ElevationError::DurationTooLong {
            requested: duration,
        });
    }
    Ok(())
}

/// Parses a duration written as whole hours, minutes and seconds, each unit
/// at most once and in that order: `90s`, `15m`, `2h`, `1h30m`, `45m30s`.
///
/// Refused: an empty text, a number without a unit (`15`), a sign, a
/// fraction (`1.5h`), an unknown unit (`15x`), spaces, a repeated or
/// misordered unit, a number too large to count, zero and anything above
/// [`MAX_ELEVATION`].
///
/// ```
/// use std::time::Duration;
/// use codex_profiles::parse_duration;
///
/// assert_eq!(parse_duration("1h30m")?, Duration::from_secs(90 * 60));
/// assert!(parse_duration("1.5h").is_err());
/// # Ok::<(), codex_profiles::ElevationError>(())
/// ```
///
/// # Errors
///
/// [`ElevationError::InvalidDuration`] for text not of that form;
/// [`ElevationError::ZeroDuration`] for zero;
/// [`ElevationError::DurationTooLong`] above [`MAX_ELEVATION`].
pub fn parse_duration(text: &str) -> Result<Duration, ElevationError> {
    const UNITS: [(char, u64); 3] = [('h', 3600), ('m', 60), ('s', 1)];
    let invalid = |problem| ElevationError::InvalidDuration {
        text: text.to_owned(),
        problem,
    };
    if text.is_empty() {
        return Err(invalid("it is empty"));
    }
    let mut seconds: u64 = 0;
    // The first unit the next part may use: units go h, m, s, once each.
    let mut next_unit = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(invalid(
                "expected a whole number (without a sign or spaces) before each unit",
            ));
        }
        let (number, after) = rest.split_at(digits);
        let Some(unit) = after.chars().next() else {
            return Err(invalid("the last number has no unit (h, m or s)"));
        };
        let Some(index) = UNITS.iter().position(|&(name, _)| name == unit) else {
            return Err(invalid(if matches!(unit, '.' | ',') {
                "fractions are not accepted; use smaller units, such as 1h30m for 1.5h"
            } else if unit.is_whitespace() {
                "spaces are not accepted"
            } else {
                "the units are h, m and s"
            }));
        };
        if index < next_unit {
            return Err(invalid("each unit may appear once, in the order h, m, s"));
        }
        next_unit = index + 1;
        let too_large = || invalid("the number is too large");
        // Only digits: parsing fails on overflow alone.
        let value: u64 = number.parse().map_err(|_| too_large())?;
        seconds = value
            .checked_mul(UNITS[index].1)
            .and_then(|part| seconds.checked_add(part))
            .ok_or_else(too_large)?;
        rest = &after[unit.len_utf8()..];
    }
    let duration = Duration::from_secs(seconds);
    check_duration(duration)?;
    Ok(duration)
}

/// Writes `duration` the way [`parse_duration`] reads it (`1h30m`, `45s`),
/// rounding a fraction of a second up so that time left never shows as `0s`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use codex_profiles::{format_duration, parse_duration};
///
/// assert_eq!(format_duration(Duration::from_secs(90 * 60)), "1h30m");
/// assert_eq!(format_duration(Duration::from_secs(3600 + 5)), "1h5s");
/// assert_eq!(format_duration(Duration::from_millis(200)), "1s");
/// assert_eq!(format_duration(Duration::ZERO), "0s");
/// let duration = parse_duration("2h15m")?;
/// assert_eq!(parse_duration(&format_duration(duration))?, duration);
/// # Ok::<(), codex_profiles::ElevationError>(())
/// ```
pub fn format_duration(duration: Duration) -> String {
    let mut seconds = duration.as_secs();
    if duration.subsec_nanos() > 0 {
        seconds = seconds.saturating_add(1);
    }
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut text = String::new();
    for (value, unit) in [(hours, 'h'), (minutes, 'm'), (seconds, 's')] {
        if value > 0 {
            // Writing to a String cannot fail.
            let _ = write!(text, "{value}{unit}");
        }
    }
    if text.is_empty() {
        text.push_str("0s");
    }
    text
}

/// Nanoseconds since the Unix epoch. Every `SystemTime` fits: `as_nanos` of
/// any `Duration` is below 2^95, far inside `i128`, so the casts are exact.
fn unix_nanos(time: SystemTime) -> i128 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_nanos() as i128,
        Err(before) => -(before.duration().as_nanos() as i128),
    }
}

/// `time` as a UTC date, `None` outside the dates chrono can represent.
fn to_datetime(time: SystemTime) -> Option<chrono::DateTime<chrono::Utc>> {
    const NANOS: i128 = 1_000_000_000;
    let nanos = unix_nanos(time);
    let seconds = i64::try_from(nanos.div_euclid(NANOS)).ok()?;
    let fraction = u32::try_from(nanos.rem_euclid(NANOS)).ok()?;
    chrono::DateTime::from_timestamp(seconds, fraction)
}

/// `time` in RFC 3339 for messages; its debug form when no date can show it.
fn rfc3339_or_debug(time: SystemTime) -> String {
    to_datetime(time).map_or_else(|| format!("{time:?}"), rfc3339_text)
}

fn rfc3339_text(time: chrono::DateTime<chrono::Utc>) -> String {
    // Exact to the nanosecond (digits only as needed), so a time read back is
    // the time written and its MAC still matches.
    time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// RFC 3339 UTC text for `SystemTime` fields.
mod rfc3339 {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use serde::{Deserialize, Deserializer, Serializer, de, ser};

    pub(super) fn serialize<S: Serializer>(
        time: &SystemTime,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let date = super::to_datetime(*time)
            .ok_or_else(|| ser::Error::custom(format!("{time:?} cannot be written as a date")))?;
        serializer.serialize_str(&super::rfc3339_text(date))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<SystemTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        let date = chrono::DateTime::parse_from_rfc3339(&text)
            .map_err(|e| de::Error::custom(format!("{text:?} is not an RFC 3339 date: {e}")))?;
        let seconds = date.timestamp();
        let whole = if seconds >= 0 {
            UNIX_EPOCH.checked_add(Duration::from_secs(seconds.unsigned_abs()))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(seconds.unsigned_abs()))
        };
        whole
            .and_then(|t| t.checked_add(Duration::from_nanos(date.timestamp_subsec_nanos().into())))
            .ok_or_else(|| de::Error::custom(format!("{text:?} is out of the system's time range")))
    }
}

/// A path as JSON: a string when it is UTF-8, else an array of its bytes.
mod project_path {
    use std::ffi::OsString;
    use std::os::unix::ffi::{OsStrExt, OsStringExt};
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
        match path.to_str() {
            Some(text) => serializer.serialize_str(text),
            None => serializer.collect_seq(path.as_os_str().as_bytes()),
        }
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Spelling {
        Text(String),
        Bytes(Vec<u8>),
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<PathBuf, D::Error> {
        Ok(PathBuf::from(match Spelling::deserialize(deserializer)? {
            Spelling::Text(text) => OsString::from(text),
            Spelling::Bytes(bytes) => OsString::from_vec(bytes),
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// The bytes `text` spells in hex; `None` for anything but hex digit pairs
/// (`from_str_radix` alone would take a sign).
fn unhex(text: &str) -> Option<Vec<u8>> {
    fn digit(c: u8) -> Option<u8> {
        char::from(c)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    }
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks(2)
        .map(|pair| match *pair {
            [high, low] => Some(digit(high)? << 4 | digit(low)?),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    //! Grants that only the key's holder could make: these checks stand
    //! behind the MAC, so only a test that can sign reaches them.

    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// Writes `grant`, signed with the store's key, as the grant of `project`.
    fn write_signed(store: &ElevationStore, project: &Path, grant: &Grant) {
        let key = store.load_or_create_key().unwrap();
        let mac = hmac::sign(&key, &mac_input(GRANT_VERSION, grant));
        let record = GrantFile {
            version: GRANT_VERSION,
            project: grant.project.clone(),
            profile: grant.profile,
            reason: grant.reason.clone(),
            granted_at: grant.granted_at,
            expires_at: grant.expires_at,
            id: grant.id.clone(),
            uid: grant.uid,
            mac: hex(mac.as_ref()),
        };
        let temp = store
            .write_temp(&serde_json::to_vec(&record).unwrap())
            .unwrap();
        fs::rename(&temp.path, store.grant_path(project)).unwrap();
        temp.persisted();
    }

    fn setup() -> (tempfile::TempDir, ElevationStore, Grant) {
        let home = tempfile::tempdir().unwrap();
        let store = ElevationStore::open(home.path()).unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let grant = store
            .grant(
                Path::new("/p"),
                SecurityProfile::Trusted,
                Duration::from_secs(60),
                "why",
                now,
            )
            .unwrap();
        (home, store, grant)
    }

    #[test]
    fn a_signed_grant_longer_than_the_maximum_is_tampered() {
        let (_home, store, mut grant) = setup();
        grant.expires_at = grant.granted_at + MAX_ELEVATION + Duration::from_secs(1);
        write_signed(&store, Path::new("/p"), &grant);
        let err = store.lookup(Path::new("/p"), grant.granted_at).unwrap_err();
        assert!(
            matches!(err, ElevationError::Tampered { problem, .. } if problem.contains("longer")),
            "{err}"
        );
    }

    #[test]
    fn a_signed_grant_ending_before_it_starts_is_tampered() {
        let (_home, store, mut grant) = setup();
        grant.expires_at = grant.granted_at - Duration::from_secs(1);
        write_signed(&store, Path::new("/p"), &grant);
        let err = store.lookup(Path::new("/p"), grant.granted_at).unwrap_err();
        assert!(
            matches!(err, ElevationError::Tampered { problem, .. } if problem.contains("before")),
            "{err}"
        );
    }

    #[test]
    fn a_signed_grant_of_another_uid_is_refused() {
        let (_home, store, mut grant) = setup();
        grant.uid = store.uid.wrapping_add(1);
        write_signed(&store, Path::new("/p"), &grant);
        let err = store.lookup(Path::new("/p"), grant.granted_at).unwrap_err();
        assert!(
            matches!(err, ElevationError::OtherUsersGrant { granted_by, .. }
                if granted_by == grant.uid),
            "{err}"
        );
    }

    #[test]
    fn times_survive_rfc3339_to_the_nanosecond() {
        let (_home, store, _) = setup();
        for now in [
            UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789),
            UNIX_EPOCH - Duration::new(86_400, 1),
        ] {
            let project = Path::new("/q");
            let granted = store
                .grant(
                    project,
                    SecurityProfile::Workspace,
                    Duration::from_secs(5),
                    "why",
                    now,
                )
                .unwrap();
            assert_eq!(
                store.lookup(project, now).unwrap(),
                GrantStatus::Active(granted)
            );
        }
    }

    #[test]
    fn hex_round_trips_and_refuses_non_hex() {
        assert_eq!(unhex(&hex(&[0, 0xab, 0xff])), Some(vec![0, 0xab, 0xff]));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex("+f"), None);
    }
}
