//! A file refused as the audit log says why as a typed [`UnsafeLogFile`],
//! and the text of the error is what it always was: the path, what is
//! there, and how to fix it, with control characters made visible.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use codex_audit::{AuditError, AuditSink, FileKind, SinkOptions, UnsafeLogFile, read_log};

fn refused(result: Result<(), AuditError>) -> (String, PathBuf, UnsafeLogFile) {
    let err = result.unwrap_err();
    let text = err.to_string();
    match err {
        AuditError::Unsafe { path, problem } => (text, path, problem),
        other => panic!("expected an unsafe file, got {other:?}"),
    }
}

fn open(path: &Path) -> (String, PathBuf, UnsafeLogFile) {
    refused(AuditSink::open(path, SinkOptions::default()).map(|_| ()))
}

fn read(path: &Path) -> (String, PathBuf, UnsafeLogFile) {
    refused(read_log(path).map(|_| ()))
}

#[test]
fn a_link_is_typed_with_its_target() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link");
    let target = dir.path().join("victim\x1b[2J");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let expected = format!(
        "audit log {}: is a symbolic link to {}\\x1b[2J, not a regular file; the audit log is never opened through a link (remove the link, or name the real file)",
        link.display(),
        dir.path().join("victim").display()
    );
    for (text, path, problem) in [open(&link), read(&link)] {
        assert_eq!(text, expected);
        assert_eq!(path, link);
        assert_eq!(
            problem,
            UnsafeLogFile::SymbolicLink {
                target: Some(target.clone())
            }
        );
    }
}

#[test]
fn other_files_are_typed_by_kind() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("d");
    std::fs::create_dir(&sub).unwrap();
    for (text, _, problem) in [open(&sub), read(&sub)] {
        assert_eq!(
            text,
            format!(
                "audit log {}: is a directory, not a regular file; the audit log must be a regular file",
                sub.display()
            )
        );
        assert_eq!(
            problem,
            UnsafeLogFile::NotRegular {
                kind: FileKind::Directory
            }
        );
    }
    let (text, _, problem) = open(Path::new("/dev/null"));
    assert_eq!(
        text,
        "audit log /dev/null: is a character device, not a regular file; the audit log must be a regular file"
    );
    assert_eq!(
        problem,
        UnsafeLogFile::NotRegular {
            kind: FileKind::CharacterDevice
        }
    );
    assert_eq!(FileKind::Fifo.describe(), "a FIFO (named pipe)");
}

#[test]
fn hard_links_and_permissions_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    std::fs::write(&a, "").unwrap();
    std::fs::hard_link(&a, dir.path().join("b")).unwrap();
    let (text, _, problem) = open(&a);
    assert_eq!(
        text,
        format!(
            "audit log {}: has 2 hard links; the audit log must be a file of its own (another name for it could be any file of this user's)",
            a.display()
        )
    );
    assert_eq!(problem, UnsafeLogFile::HardLinks { links: 2 });

    let writable = dir.path().join("gw\x07");
    std::fs::write(&writable, "").unwrap();
    std::fs::set_permissions(&writable, std::fs::Permissions::from_mode(0o620)).unwrap();
    let (text, _, problem) = open(&writable);
    let shown = format!("{}/gw\\x07", dir.path().display());
    assert_eq!(
        text,
        format!(
            "audit log {}: may be written by its group or by others (mode 0620), so its events could be forged; if its contents are trusted, run `chmod 600 {shown}`",
            writable.display()
        )
    );
    assert_eq!(problem, UnsafeLogFile::WritableByOthers { mode: 0o620 });
}

/// Only root can give a file away; elsewhere the case is covered by the
/// variant's text alone.
#[test]
fn another_users_file_is_typed() {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    std::fs::write(&other, "").unwrap();
    if me != 0 {
        return;
    }
    std::os::unix::fs::chown(&other, Some(1000), Some(1000)).unwrap();
    let (text, _, problem) = open(&other);
    assert_eq!(
        text,
        format!(
            "audit log {}: is owned by uid 1000, not by this user (uid 0); the audit log must be the user's own file",
            other.display()
        )
    );
    assert_eq!(
        problem,
        UnsafeLogFile::OwnedByOther {
            owner: 1000,
            user: 0
        }
    );
}
