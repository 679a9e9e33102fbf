//! Configuration inputs that are not regular files — a FIFO, a directory, a
//! device, a socket, or a symlink to one — are refused at once, never read
//! (a FIFO without a writer would hang `run`, `explain` and `validate`).

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use codex_policy_model::NaiveDate;
use codex_policy_model::validate::{ValidationInputs, validate};
use codex_policy_model::{
    CodexConfig, CodexRc, ConfigError, HarnessPolicy, MAX_CONFIG_BYTES, Requirements, SourceFile,
};

/// The date the files are validated on: these tests write no expiry date.
const TODAY: NaiveDate = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the duration of the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Runs `f` on another thread and fails the test instead of hanging.
fn within_5s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("{what}: hung on a special file"))
}

/// Every special file the tests use, by name.
fn special_files(dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let fifo = dir.join("fifo");
    mkfifo(&fifo);
    let sub = dir.join("a-directory");
    std::fs::create_dir(&sub).unwrap();
    let socket = dir.join("sock");
    // The socket file stays after the listener is closed.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let link = dir.join("link-to-fifo");
    std::os::unix::fs::symlink(&fifo, &link).unwrap();
    vec![
        (fifo, "FIFO"),
        (sub, "directory"),
        (PathBuf::from("/dev/zero"), "character device"),
        (socket, "socket"),
        (link, "FIFO"),
    ]
}

fn assert_refused(err: &ConfigError, path: &Path, kind: &str) {
    let text = err.to_string();
    assert!(
        matches!(err, ConfigError::NotARegularFile { .. }),
        "{path:?}: {text}"
    );
    assert!(text.starts_with(&path.display().to_string()), "{text}");
    assert!(text.contains(kind), "{text} lacks {kind}");
    assert!(text.contains("not a regular file"), "{text}");
    assert!(text.contains(&MAX_CONFIG_BYTES.to_string()), "{text}");
}

#[test]
fn every_loader_refuses_special_files_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    for (path, kind) in special_files(dir.path()) {
        let p = path.clone();
        let results = within_5s("loaders", move || {
            vec![
                SourceFile::read(&p).map(drop),
                CodexRc::load(&p).map(drop),
                HarnessPolicy::load(&p).map(drop),
                CodexConfig::load(&p).map(drop),
                Requirements::load(&p).map(drop),
            ]
        });
        for result in results {
            assert_refused(&result.unwrap_err(), &path, kind);
        }
    }
}

#[test]
fn validate_reports_special_files_as_findings_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    for (path, kind) in special_files(dir.path()) {
        let p = path.clone();
        let v = within_5s("validate", move || {
            validate(
                &ValidationInputs {
                    runtime: Some(p.clone()),
                    policy: Some(p.clone()),
                    config: Some(p.clone()),
                    requirements: Some(p),
                },
                TODAY,
            )
        });
        assert_eq!(v.findings.len(), 4, "{:?}", v.findings);
        for f in &v.findings {
            assert_eq!(f.code, "CP0001");
            assert_eq!((f.line, f.column), (Some(1), Some(1)));
            assert_eq!(f.file.as_deref(), Some(path.as_path()));
            assert!(f.message.contains(kind), "{}", f.message);
            // The location names the file; the message does not repeat it.
            assert!(
                !f.message.contains(&*path.to_string_lossy()),
                "{}",
                f.message
            );
        }
    }
}

#[test]
fn a_regular_file_behind_a_symlink_is_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.json");
    std::fs::write(&real, r#"{"deny_on_violation": true}"#).unwrap();
    let link = dir.path().join("harness.policy.json");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert!(HarnessPolicy::load(&link).unwrap().value.deny_on_violation);
}
