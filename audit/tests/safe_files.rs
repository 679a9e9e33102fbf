//! The log's files are never opened through a link, never block on a FIFO, and
//! must be regular files of the user's own: real symlinks, FIFOs, hard links,
//! directories and rotated siblings that are links, on the real file system.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use codex_audit::{
    AuditDecision, AuditError, AuditEvent, AuditSink, Operation, SinkOptions, read_log,
};

fn event(target: &str) -> AuditEvent {
    AuditEvent::now(
        "s1",
        Operation::CommandExec,
        target,
        AuditDecision::Allowed,
        "test",
    )
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

/// Runs `f` on another thread and fails the test if it has not returned after
/// a generous while: what a FIFO opened the blocking way would do. Not a timing
/// assertion — any answer at all passes the watchdog.
fn returns<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = send.send(f());
    });
    receive
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or_else(|_| panic!("{what} never returned: it blocked"))
}

/// The path refused and the text of the refusal (what is wrong, after the path).
fn unsafe_problem(err: AuditError) -> (PathBuf, String) {
    let text = err.to_string();
    match err {
        AuditError::Unsafe { path, .. } => (path, text),
        other => panic!("expected a refusal of an unsafe file, got {other}"),
    }
}

#[test]
fn a_symlink_at_the_log_path_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "original\n").unwrap();
    let log = dir.path().join("review.jsonl");
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    let err = AuditSink::open(&log, SinkOptions::default()).unwrap_err();
    let message = err.to_string();
    let (path, problem) = unsafe_problem(err);
    assert_eq!(path, log);
    assert!(problem.contains("symbolic link"), "{problem}");
    assert!(message.contains(&log.display().to_string()), "{message}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n");
    // Reading refuses it too, instead of reading the victim.
    let (path, problem) = unsafe_problem(read_log(&log).unwrap_err());
    assert_eq!(path, log);
    assert!(problem.contains("symbolic link"), "{problem}");
}

#[test]
fn nothing_is_created_through_a_dangling_symlink() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("created-elsewhere");
    let log = dir.path().join("audit.jsonl");
    std::os::unix::fs::symlink(&target, &log).unwrap();
    let (_, problem) = unsafe_problem(AuditSink::open(&log, SinkOptions::default()).unwrap_err());
    assert!(problem.contains("symbolic link"), "{problem}");
    assert!(!target.exists(), "the log was created through the link");
}

#[test]
fn a_fifo_at_the_log_path_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    mkfifo(&log);
    // No reader: a blocking open for writing would wait forever.
    let path = log.clone();
    let err = returns("opening a FIFO for writing", move || {
        AuditSink::open(&path, SinkOptions::default()).map(|_| ())
    })
    .unwrap_err();
    let (_, problem) = unsafe_problem(err);
    assert!(problem.contains("FIFO"), "{problem}");
    // No writer: a blocking open for reading would wait forever.
    let path = log.clone();
    let err = returns("reading a FIFO", move || read_log(&path).map(|_| ())).unwrap_err();
    let (_, problem) = unsafe_problem(err);
    assert!(problem.contains("FIFO"), "{problem}");
    // With a reader holding it open, the open succeeds: the descriptor's type
    // is what refuses it.
    let c = CString::new(log.as_os_str().as_bytes()).unwrap();
    // SAFETY: opening a FIFO for reading without blocking.
    let reader = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
    assert!(reader >= 0);
    let path = log.clone();
    let err = returns("opening a FIFO that has a reader", move || {
        AuditSink::open(&path, SinkOptions::default()).map(|_| ())
    })
    .unwrap_err();
    // SAFETY: our descriptor.
    unsafe { libc::close(reader) };
    let (_, problem) = unsafe_problem(err);
    assert!(problem.contains("FIFO"), "{problem}");
}

#[test]
fn a_directory_at_the_log_path_is_named_as_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::create_dir(&log).unwrap();
    let (path, problem) =
        unsafe_problem(AuditSink::open(&log, SinkOptions::default()).unwrap_err());
    assert_eq!(path, log);
    assert!(problem.contains("a directory"), "{problem}");
    let (_, problem) = unsafe_problem(read_log(&log).unwrap_err());
    assert!(problem.contains("a directory"), "{problem}");
}

#[test]
fn a_log_with_another_hard_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "original\n").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::hard_link(&victim, &log).unwrap();
    let (_, problem) = unsafe_problem(AuditSink::open(&log, SinkOptions::default()).unwrap_err());
    assert!(problem.contains("2 hard links"), "{problem}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n");
}

#[test]
fn a_log_others_may_write_is_refused_one_they_may_read_is_narrowed() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, "").unwrap();
    for mode in [0o620, 0o602, 0o666] {
        std::fs::set_permissions(&log, std::fs::Permissions::from_mode(mode)).unwrap();
        let (_, problem) =
            unsafe_problem(AuditSink::open(&log, SinkOptions::default()).unwrap_err());
        assert!(problem.contains("chmod 600"), "{mode:o}: {problem}");
    }
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut sink = AuditSink::open(&log, SinkOptions::default()).unwrap();
    sink.record(event("true")).unwrap();
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_log_owned_by_another_user_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.jsonl");
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o600)).unwrap();
    // Only root can give a file away; as anyone else, make one that is not ours.
    let other = if unsafe { libc::geteuid() } == 0 {
        std::os::unix::fs::chown(&log, Some(65534), Some(65534)).unwrap();
        log.clone()
    } else {
        // A root-owned regular file every system has, named through a link-free path.
        let passwd = PathBuf::from("/etc/passwd");
        if std::fs::symlink_metadata(&passwd).is_ok_and(|m| m.file_type().is_file()) {
            passwd
        } else {
            eprintln!("skipped: no file owned by another user to try");
            return;
        }
    };
    let err = AuditSink::open(&other, SinkOptions::default()).unwrap_err();
    let message = err.to_string();
    // Not root and not ours: refused by the kernel or by the owner check.
    assert!(
        message.contains("owned by uid") || message.contains("ermission denied"),
        "{message}"
    );
    if other == log {
        assert!(message.contains("owned by uid 65534"), "{message}");
    }
}

#[test]
fn rotation_never_carries_or_follows_a_link_planted_at_a_rotated_name() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "original\n").unwrap();
    let log = dir.path().join("audit.jsonl");
    let options = SinkOptions::default()
        .with_max_bytes(Some(600))
        .with_keep(3);
    let mut sink = AuditSink::open(&log, options.clone()).unwrap();
    for i in 0..3 {
        sink.record(event(&format!("before {i}"))).unwrap();
    }
    // The oldest kept name (overwritten by rotation) and a middle one.
    let rotated = |n: usize| PathBuf::from(format!("{}.{n}", log.display()));
    std::os::unix::fs::symlink(&victim, rotated(3)).unwrap();
    std::os::unix::fs::symlink(&victim, rotated(1)).unwrap();
    let mut refused = None;
    for i in 0..20 {
        if let Err(err) = sink.record(event(&format!("after {i}"))) {
            refused = Some(err);
            break;
        }
    }
    let (path, problem) = unsafe_problem(refused.expect("rotation met the planted link"));
    assert_eq!(path, rotated(1));
    assert!(problem.contains("symbolic link"), "{problem}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n");
    // Reading the log refuses the link rather than reading the victim.
    let (path, _) = unsafe_problem(read_log(&log).unwrap_err());
    assert!(
        path == rotated(1) || path == rotated(3),
        "{}",
        path.display()
    );

    // A link only at the name rotation overwrites is replaced, not written through.
    std::fs::remove_file(rotated(1)).unwrap();
    let mut sink = AuditSink::open(&log, options).unwrap();
    for i in 0..40 {
        sink.record(event(&format!("again {i}"))).unwrap();
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n");
    assert!(
        std::fs::symlink_metadata(rotated(3))
            .unwrap()
            .file_type()
            .is_file()
    );
    assert!(read_log(&log).unwrap().events.len() > 3);
}

#[test]
fn protected_paths_are_the_log_and_its_rotated_files() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::canonicalize(dir.path()).unwrap();
    let log = dir.path().join("audit.jsonl");
    let options = SinkOptions::default()
        .with_max_bytes(Some(600))
        .with_keep(2);
    let mut sink = AuditSink::open(&log, options).unwrap();
    assert_eq!(sink.protected_paths(), vec![real.join("audit.jsonl")]);
    for i in 0..30 {
        sink.record(event(&format!("cmd {i}"))).unwrap();
    }
    // A link at a sibling's name is not a log file: not listed.
    std::os::unix::fs::symlink("/etc/hostname", dir.path().join("audit.jsonl.7")).unwrap();
    assert_eq!(
        sink.protected_paths(),
        vec![
            real.join("audit.jsonl.2"),
            real.join("audit.jsonl.1"),
            real.join("audit.jsonl"),
        ]
    );
}

#[test]
fn a_relative_log_path_is_protected_by_its_absolute_name() {
    let dir = tempfile::tempdir().unwrap();
    let real = std::fs::canonicalize(dir.path()).unwrap();
    // Relative to the current directory: a path with `..` through the temp dir.
    let cwd = std::env::current_dir().unwrap();
    let relative = pathdiff(&real.join("r.jsonl"), &cwd);
    let sink = AuditSink::open(&relative, SinkOptions::default()).unwrap();
    assert_eq!(sink.protected_paths(), vec![real.join("r.jsonl")]);
}

/// `path` relative to `base` (both absolute).
fn pathdiff(path: &Path, base: &Path) -> PathBuf {
    let mut up = PathBuf::new();
    let mut base = base.to_path_buf();
    while !path.starts_with(&base) {
        up.push("..");
        base.pop();
    }
    up.join(path.strip_prefix(&base).unwrap())
}
