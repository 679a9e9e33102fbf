//! Opening the log's files without being redirected: never through a symbolic
//! link in the last component (`O_NOFOLLOW`), never blocking on a FIFO
//! (`O_NONBLOCK`, cleared once the descriptor is known to be a regular file),
//! and — for the writer — only a regular file of our own that nobody else may
//! write and that no other name shares.
//!
//! The checks run on the descriptor (`fstat`), not on the name, so a swap
//! between a check and the open cannot slip another file in.

use std::fs::{File, FileType, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use crate::sink::{AuditError, FileKind, UnsafeLogFile};

impl FileKind {
    /// The kind of a file that is not a regular file.
    fn of(file_type: FileType) -> Self {
        if file_type.is_dir() {
            Self::Directory
        } else if file_type.is_fifo() {
            Self::Fifo
        } else if file_type.is_socket() {
            Self::Socket
        } else if file_type.is_char_device() {
            Self::CharacterDevice
        } else if file_type.is_block_device() {
            Self::BlockDevice
        } else {
            Self::Other
        }
    }
}

fn unsafe_file(path: &Path, problem: UnsafeLogFile) -> AuditError {
    AuditError::Unsafe {
        path: path.to_path_buf(),
        problem,
    }
}

fn io_error(path: &Path, source: io::Error) -> AuditError {
    AuditError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Why `path` is not a regular file, from its own entry (`lstat`), if it is not.
pub(crate) fn not_regular(path: &Path) -> Option<AuditError> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    let file_type = meta.file_type();
    if file_type.is_file() {
        return None;
    }
    Some(unsafe_file(
        path,
        if file_type.is_symlink() {
            UnsafeLogFile::SymbolicLink {
                target: std::fs::read_link(path).ok(),
            }
        } else {
            UnsafeLogFile::NotRegular {
                kind: FileKind::of(file_type),
            }
        },
    ))
}

/// An error from `open(2)` on `path`, explained by what is there when that is
/// the reason (`ELOOP` for a link, `ENXIO` for a FIFO without a reader,
/// `EISDIR` for a directory, …).
fn open_failed(path: &Path, source: io::Error) -> AuditError {
    not_regular(path).unwrap_or_else(|| io_error(path, source))
}

fn clear_nonblock(path: &Path, file: &File) -> Result<(), AuditError> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io_error(path, io::Error::last_os_error()));
    }
    Ok(())
}

/// The flags every open of a log file carries.
const FLAGS: i32 = libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// Opens (creating it 0600 if absent) the log at `path` for appending.
///
/// Refused: a symbolic link (even a dangling one: nothing is created through
/// it), anything but a regular file, a file owned by another user, a file its
/// group or others may write (its lines could be forged; `chmod 600` it if its
/// contents are trusted), and a file with more than one hard link (another
/// name for it could be any file of ours). A file others may only read is
/// narrowed to 0600.
pub(crate) fn open_append(path: &Path) -> Result<File, AuditError> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(|e| open_failed(path, e))?;
    let meta = regular_file_metadata(path, &file)?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(unsafe_file(
            path,
            UnsafeLogFile::OwnedByOther {
                owner: meta.uid(),
                user: me,
            },
        ));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o022 != 0 {
        return Err(unsafe_file(path, UnsafeLogFile::WritableByOthers { mode }));
    }
    if meta.nlink() > 1 {
        return Err(unsafe_file(
            path,
            UnsafeLogFile::HardLinks {
                links: meta.nlink(),
            },
        ));
    }
    clear_nonblock(path, &file)?;
    if mode & 0o077 != 0 {
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(|e| io_error(path, e))?;
    }
    Ok(file)
}

/// The metadata of the open `file`, which must be a regular file.
fn regular_file_metadata(path: &Path, file: &File) -> Result<std::fs::Metadata, AuditError> {
    let meta = file.metadata().map_err(|e| io_error(path, e))?;
    if !meta.file_type().is_file() {
        return Err(unsafe_file(
            path,
            UnsafeLogFile::NotRegular {
                kind: FileKind::of(meta.file_type()),
            },
        ));
    }
    Ok(meta)
}

/// Opens the log file at `path` for reading: a regular file, not through a
/// link, never blocking on a FIFO. Ownership is not checked: reading another
/// user's log (an administrator's) is legitimate.
pub(crate) fn open_read(path: &Path) -> Result<File, AuditError> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(FLAGS)
        .open(path)
        .map_err(|e| open_failed(path, e))?;
    regular_file_metadata(path, &file)?;
    clear_nonblock(path, &file)?;
    Ok(file)
}
