//! Runs `codex-policy` on a real pseudo-terminal: its standard streams and
//! controlling terminal are the pty's slave, and the test answers each
//! `[y/N]` question it prints, as a person at a terminal would.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

/// What the terminal showed, and the exit status.
pub(crate) struct PtyRun {
    pub(crate) status: i32,
    pub(crate) screen: String,
    /// How many questions were asked.
    pub(crate) questions: usize,
}

/// Runs the binary with `args` on a new pty, answering the questions with
/// `answers` in order (an unanswered question gets end-of-file).
pub(crate) fn run_on_pty(
    home: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    answers: &[&str],
) -> PtyRun {
    let (mut master, slave) = open_pty();
    let mut cmd = Command::new(super::codex_policy_bin());
    cmd.env_clear().env("HOME", home).args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let stdio = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup the pty"));
    cmd.stdin(stdio(&slave))
        .stdout(stdio(&slave))
        .stderr(stdio(&slave));
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 || libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("spawn codex-policy on a pty");
    // The command holds the copies of the slave it was given: only the
    // child may keep the slave open, or end-of-file never comes.
    drop(cmd);
    drop(slave);
    let mut screen = String::new();
    let mut questions = 0;
    let mut buffer = [0u8; 4096];
    loop {
        let mut poll = libc::pollfd {
            fd: master.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        let ready = unsafe { libc::poll(&raw mut poll, 1, 60_000) };
        assert!(
            ready > 0,
            "no output for 60 s; the terminal showed:\n{screen}"
        );
        match master.read(&mut buffer) {
            Ok(0) | Err(_) => break, // EIO: every holder of the slave is gone
            Ok(n) => screen.push_str(&String::from_utf8_lossy(&buffer[..n])),
        }
        while screen.matches("[y/N]").count() > questions {
            match answers.get(questions) {
                Some(answer) => master
                    .write_all(format!("{answer}\n").as_bytes())
                    .expect("answer on the pty"),
                // End of file on the terminal: no answer.
                None => master.write_all(&[4]).expect("EOF on the pty"),
            }
            questions += 1;
        }
    }
    let status = child.wait().expect("wait for codex-policy");
    PtyRun {
        status: status.code().unwrap_or(128),
        screen,
        questions,
    }
}

/// A new pty pair, both ends close-on-exec from the start: a command that
/// another test thread starts meanwhile must not inherit either end (the
/// master would never see end-of-file).
fn open_pty() -> (std::fs::File, OwnedFd) {
    // SAFETY: plain libc calls on descriptors opened here; ptsname_r writes
    // at most the buffer's length.
    unsafe {
        let master = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(
            master >= 0,
            "posix_openpt: {}",
            std::io::Error::last_os_error()
        );
        let master = std::fs::File::from_raw_fd(master);
        assert_eq!(libc::grantpt(master.as_raw_fd()), 0);
        assert_eq!(libc::unlockpt(master.as_raw_fd()), 0);
        let mut name = [0 as libc::c_char; 128];
        assert_eq!(
            libc::ptsname_r(master.as_raw_fd(), name.as_mut_ptr(), name.len()),
            0
        );
        let slave = libc::open(
            name.as_ptr(),
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        );
        assert!(
            slave >= 0,
            "open the pty slave: {}",
            std::io::Error::last_os_error()
        );
        (master, OwnedFd::from_raw_fd(slave))
    }
}
