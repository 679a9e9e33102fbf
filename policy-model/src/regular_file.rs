//! Opening a path that must be a regular file, without ever blocking on the
//! open. Shared by the configuration files (`open_regular`) and the
//! writable roots (git pointer files), so it sits below both.

use std::fs::{File, Metadata};
use std::path::Path;

/// Why [`open`] refused a path.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The operating system could not open or inspect it.
    Io(std::io::Error),
    /// It is something else (after symlinks): `a FIFO (named pipe)`, `a directory`, …
    NotARegularFile(&'static str),
}

/// Opens `path` for reading as a regular file: with `O_NONBLOCK` (a FIFO
/// without a writer would otherwise hang here), checked with `fstat`, and then
/// switched back to blocking reads.
pub(crate) fn open(path: &Path) -> Result<File, OpenError> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(|source| {
        // A socket cannot be opened at all (ENXIO); say what it is.
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => OpenError::NotARegularFile(file_kind(&meta)),
            _ => OpenError::Io(source),
        }
    })?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(OpenError::NotARegularFile(file_kind(&meta)));
    }
    #[cfg(unix)]
    clear_nonblocking(&file).map_err(OpenError::Io)?;
    Ok(file)
}

#[cfg(unix)]
fn clear_nonblocking(file: &File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: `fd` is a descriptor owned by `file` for the whole call; F_GETFL
    // and F_SETFL only read and set its status flags.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// What a non-regular file is, in words.
fn file_kind(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if kind.is_socket() {
            return "a socket";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
    }
    "not a regular file"
}
