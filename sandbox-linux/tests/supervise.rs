//! `PreparedSandbox::supervise` from a single-threaded process (this test
//! has no harness: `main` runs on the only thread): the process becomes the
//! supervisor of the sandbox's init, statuses come back as the command's
//! own, and the signal dispositions change as documented.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {}

#[cfg(target_os = "linux")]
mod linux {
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, ExitStatus};
    use std::time::{Duration, Instant};

    use codex_policy_model::SandboxPolicy;
    use codex_sandbox_linux::{HostCapabilities, LinuxSandbox, PreparedSandbox};

    fn threads() -> usize {
        std::fs::read_dir("/proc/self/task").unwrap().count()
    }

    /// The broker's thread of the previous run ends once its sandbox is
    /// gone: wait for it before supervising again.
    fn single_threaded() {
        let deadline = Instant::now() + Duration::from_secs(10);
        while threads() > 1 {
            assert!(
                Instant::now() < deadline,
                "the broker's thread is still running"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn run(prepared: &PreparedSandbox, script: &str) -> ExitStatus {
        single_threaded();
        let mut command = Command::new("sh");
        command.args(["-c", script]);
        prepared.supervise(&mut command).unwrap().wait().unwrap()
    }

    fn handler(signal: libc::c_int) -> libc::sighandler_t {
        // SAFETY: reading the current action into a zeroed struct.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut action);
            action.sa_sigaction
        }
    }

    pub(super) fn main() {
        let host = HostCapabilities::probe(true);
        if host.landlock_abi.unwrap_or(0) < 6 || host.namespaces != Some(true) || !host.seccomp {
            eprintln!("SKIPPED supervise: needs Landlock ABI >= 6, seccomp, user namespaces");
            return;
        }
        assert_eq!(threads(), 1, "this test must run without a harness");
        // As from a terminal: a job started in the background by a
        // non-interactive shell inherits SIGINT and SIGQUIT ignored.
        // SAFETY: signal(2) only resets two dispositions; single-threaded.
        unsafe {
            libc::signal(libc::SIGINT, libc::SIG_DFL);
            libc::signal(libc::SIGQUIT, libc::SIG_DFL);
        }
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let workspace = dir.path().canonicalize().unwrap();
        let sandbox = LinuxSandbox::new();
        let plan = sandbox
            .plan(&SandboxPolicy::workspace_write(false), &workspace, None)
            .unwrap();
        let prepared = sandbox.prepare(plan).unwrap();
        assert_eq!(handler(libc::SIGINT), libc::SIG_DFL);

        let status = run(&prepared, "echo in > inside.txt; exit 3");
        assert_eq!((status.code(), status.signal()), (Some(3), None));
        assert!(workspace.join("inside.txt").exists());
        // From now on the process ignores SIGINT/SIGQUIT and forwards
        // SIGTERM/SIGHUP, as documented.
        assert_eq!(handler(libc::SIGINT), libc::SIG_IGN);
        assert_eq!(handler(libc::SIGQUIT), libc::SIG_IGN);
        assert_ne!(handler(libc::SIGTERM), libc::SIG_DFL);

        let status = run(&prepared, "exit 130");
        assert_eq!((status.code(), status.signal()), (Some(130), None));
        let status = run(&prepared, "kill -TERM $$");
        assert_eq!((status.code(), status.signal()), (None, Some(15)));
        let status = run(&prepared, "kill -KILL $$");
        assert_eq!((status.code(), status.signal()), (None, Some(9)));

        // SIGTERM to the supervised process (the sandbox's init) reaches
        // the command, which may handle it.
        single_threaded();
        let mut command = Command::new("sh");
        command.args(["-c", "trap 'exit 42' TERM; while :; do sleep 0.05; done"]);
        let running = prepared.supervise(&mut command).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        // SAFETY: signalling the sandbox's init, our child.
        unsafe { libc::kill(running.id() as libc::pid_t, libc::SIGTERM) };
        let status = running.wait().unwrap();
        assert_eq!(status.code(), Some(42), "{status:?}");

        // A program that does not exist: 127, as a shell says.
        single_threaded();
        let status = prepared
            .supervise(&mut Command::new("/nonexistent/codex-policy-test"))
            .unwrap()
            .wait()
            .unwrap();
        assert_eq!(status.code(), Some(127));

        // A supervise after a spawn looks at the disk again: what the
        // spawned command created is protected (the mounts found at prepare
        // time are only for a first start).
        let fresh = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let fresh = fresh.path().canonicalize().unwrap();
        let plan = sandbox
            .plan(&SandboxPolicy::workspace_write(false), &fresh, None)
            .unwrap();
        let prepared = sandbox.prepare(plan).unwrap();
        let mut setup = Command::new("sh");
        setup.args(["-c", "mkdir .codex .agents"]);
        let status = prepared.spawn(&mut setup).unwrap().child.wait().unwrap();
        assert!(status.success());
        let status = run(&prepared, "echo x > .codex/x || echo x > .agents/x");
        assert!(!status.success(), "{status:?}");
        assert!(!fresh.join(".codex/x").exists() && !fresh.join(".agents/x").exists());
        eprintln!("supervise: ok");
    }
}
