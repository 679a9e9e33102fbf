//! `plan` → `prepare` → `spawn`: one prepared sandbox starts many commands,
//! from several threads at once, without touching the calling process; each
//! start looks at the disk again; `supervise` refuses a multi-threaded caller
//! before doing anything.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use codex_policy_model::{Protection, ProtectionStatus, SandboxPolicy};
use codex_sandbox_linux::{
    Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError, PreparedSandbox,
};

fn usable_host() -> Option<String> {
    let host = HostCapabilities::probe(true);
    if host.landlock_abi.unwrap_or(0) < 6 || host.namespaces != Some(true) || !host.seccomp {
        return Some(format!(
            "needs Landlock ABI >= 6, seccomp and user namespaces: {host:?}"
        ));
    }
    None
}

fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// A workspace (a repository: it has a `.git`) and a path outside every
/// writable root of `policy`, /tmp included.
fn fixture(policy: &SandboxPolicy) -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    [env!("CARGO_TARGET_TMPDIR"), "/var/tmp"]
        .into_iter()
        .find_map(|dir| {
            let base = tempfile::tempdir_in(dir).ok()?;
            let workspace = base.path().canonicalize().ok()?.join("ws");
            std::fs::create_dir_all(workspace.join(".git")).ok()?;
            let roots = policy.writable_roots(&workspace, None).ok()?;
            let outside = base.path().canonicalize().ok()?.join("outside");
            std::fs::create_dir(&outside).ok()?;
            (!roots.allows_write_to(&outside.join("x"))).then_some((base, workspace, outside))
        })
}

fn prepare(sandbox: &LinuxSandbox, policy: &SandboxPolicy, cwd: &Path) -> PreparedSandbox {
    let plan = sandbox.plan(policy, cwd, None).unwrap();
    sandbox.prepare(plan).unwrap()
}

const _: () = {
    const fn shared<T: Send + Sync + std::fmt::Debug>() {}
    shared::<PreparedSandbox>();
};

/// What the process does with the signals a supervisor takes over, and
/// whether this thread blocks them.
fn signal_state() -> Vec<(libc::c_int, libc::sighandler_t, libc::c_int, bool)> {
    [
        libc::SIGINT,
        libc::SIGQUIT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGCHLD,
        libc::SIGPIPE,
    ]
    .into_iter()
    .map(|signal| {
        // SAFETY: reading the current action and mask into zeroed structs.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut action);
            let mut mask: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut mask);
            (
                signal,
                action.sa_sigaction,
                action.sa_flags,
                libc::sigismember(&mask, signal) == 1,
            )
        }
    })
    .collect()
}

#[test]
fn four_threads_spawn_at_once_and_every_child_is_confined() {
    if let Some(reason) = usable_host() {
        return skip("four_threads_spawn_at_once", &reason);
    }
    let policy = SandboxPolicy::workspace_write(false);
    let Some((_base, workspace, outside)) = fixture(&policy) else {
        return skip(
            "four_threads_spawn_at_once",
            "no directory outside the roots",
        );
    };
    let prepared = Arc::new(prepare(&LinuxSandbox::new(), &policy, &workspace));
    assert!(prepared.report().is_complete(), "{}", prepared.report());
    assert!(prepared.network_disabled());
    assert_eq!(prepared.cwd(), workspace);
    let before = signal_state();

    // A live extra thread that allocates while the others fork.
    let stop = Arc::new(AtomicBool::new(false));
    let busy = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                drop(vec![0u8; 4096]);
            }
        })
    };
    let starts = std::sync::Barrier::new(4);
    std::thread::scope(|scope| {
        for thread in 0..4 {
            let prepared = Arc::clone(&prepared);
            let (outside, starts) = (&outside, &starts);
            scope.spawn(move || {
                starts.wait();
                for run in 0..5 {
                    let name = format!("{thread}-{run}");
                    let mut command = Command::new("sh");
                    command.args([
                        "-c",
                        &format!(
                            "echo in > inside-{name}.txt || exit 3; \
                             if echo out 2>/dev/null > {}/{name}.txt; then exit 4; fi; \
                             test \"$CODEX_SANDBOX_NETWORK_DISABLED\" = 1 || exit 5",
                            outside.display()
                        ),
                    ]);
                    let mut started = prepared.spawn(&mut command).unwrap();
                    let status = started.child.wait().unwrap();
                    assert!(status.success(), "{name}: {status:?}");
                    assert!(started.report.is_complete(), "{}", started.report);
                    assert!(matches!(
                        started.report.status(Protection::FileWrites),
                        Some(ProtectionStatus::Enforced { .. })
                    ));
                }
            });
        }
    });
    stop.store(true, Ordering::Relaxed);
    busy.join().unwrap();
    for thread in 0..4 {
        for run in 0..5 {
            assert!(
                workspace
                    .join(format!("inside-{thread}-{run}.txt"))
                    .exists()
            );
            assert!(!outside.join(format!("{thread}-{run}.txt")).exists());
        }
    }
    // The caller is untouched: same signal dispositions and mask, and it
    // still writes anywhere.
    assert_eq!(signal_state(), before);
    std::fs::write(outside.join("caller.txt"), "caller").unwrap();
}

#[test]
fn supervise_refuses_a_multithreaded_caller_and_changes_nothing() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let workspace = dir.path().canonicalize().unwrap();
    // Best effort: on any host, nothing is refused for a missing layer.
    let sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, HostCapabilities::probe(true));
    let before = signal_state();
    for policy in [
        SandboxPolicy::workspace_write(false),
        SandboxPolicy::DangerFullAccess,
    ] {
        let prepared = prepare(&sandbox, &policy, &workspace);
        // The test harness runs this on a thread of its own: there are two
        // at least.
        let mut command = Command::new("touch");
        command.arg("ran");
        let err = prepared.supervise(&mut command).unwrap_err();
        match &err {
            LinuxSandboxError::MultiThreaded { threads } => assert!(*threads >= 2, "{err}"),
            other => panic!("expected MultiThreaded, got {other:?}"),
        }
        assert_eq!(err.exit_status(), 125);
        assert!(!workspace.join("ran").exists(), "the command ran");
        assert_eq!(signal_state(), before);
    }
    // A spawn leaves the process as it was too.
    let prepared = prepare(&sandbox, &SandboxPolicy::read_only(), &workspace);
    let mut started = prepared.spawn(&mut Command::new("true")).unwrap();
    assert!(started.child.wait().unwrap().success());
    assert_eq!(signal_state(), before);
}

/// A command killed by a signal is reported as killed by that signal, not
/// as an exit code 128+N; an exit code of 130 stays an exit code.
#[test]
fn spawn_reports_exit_codes_and_signals_apart() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let workspace = dir.path().canonicalize().unwrap();
    let probed = HostCapabilities::probe(true);
    let mut hosts = vec![("this host", probed.clone())];
    // The same host without namespaces: the reaper waits for the command
    // itself.
    if probed.landlock_abi.is_some() {
        hosts.push(("without namespaces", probed.with_namespaces(Some(false))));
    }
    for (name, host) in hosts {
        let sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, host);
        let prepared = prepare(&sandbox, &SandboxPolicy::workspace_write(false), &workspace);
        let run = |script: &str| {
            let mut command = Command::new("sh");
            command.args(["-c", script]);
            prepared.spawn(&mut command).unwrap().child.wait().unwrap()
        };
        let status = run("exit 3");
        assert_eq!((status.code(), status.signal()), (Some(3), None), "{name}");
        let status = run("exit 130");
        assert_eq!(
            (status.code(), status.signal()),
            (Some(130), None),
            "{name}"
        );
        let status = run("kill -TERM $$");
        assert_eq!((status.code(), status.signal()), (None, Some(15)), "{name}");
        let status = run("kill -KILL $$");
        assert_eq!((status.code(), status.signal()), (None, Some(9)), "{name}");
        let status = run("kill -SEGV $$");
        assert_eq!(status.signal(), Some(libc::SIGSEGV), "{name}");
        assert!(!status.core_dumped(), "{name}: the reaper dumped core");
    }
}

#[test]
fn each_spawn_protects_repositories_created_since_prepare() {
    if let Some(reason) = usable_host() {
        return skip("each_spawn_protects_repositories", &reason);
    }
    // A workspace that is a writable root of its own (not below /tmp, whose
    // search could run out of budget first).
    let policy = SandboxPolicy::workspace_write(false);
    let Some((_base, workspace, _)) = fixture(&policy) else {
        return skip(
            "each_spawn_protects_repositories",
            "no directory outside /tmp",
        );
    };
    let prepared = prepare(&LinuxSandbox::new(), &policy, &workspace);
    let nested = workspace.join("vendor/lib/.git");
    let bind = format!("mount: read-only bind {}", nested.display());
    assert!(!prepared.report().rules.contains(&bind));
    // An earlier command of the session (or anyone) creates a repository.
    std::fs::create_dir_all(&nested).unwrap();
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "echo '[core] hooksPath=/tmp' > vendor/lib/.git/config",
    ]);
    let mut started = prepared.spawn(&mut command).unwrap();
    assert!(!started.child.wait().unwrap().success());
    assert!(
        !nested.join("config").exists(),
        "the nested .git was written"
    );
    assert!(
        started.report.rules.contains(&bind),
        "{:#?}",
        started.report.rules
    );
    assert_eq!(started.report.protections, prepared.report().protections);
}

#[test]
fn working_directory_is_the_commands_or_the_plans() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let workspace = dir.path().canonicalize().unwrap().join("ws");
    let elsewhere = dir.path().canonicalize().unwrap().join("elsewhere");
    std::fs::create_dir(&workspace).unwrap();
    std::fs::create_dir(&elsewhere).unwrap();
    let sandbox = LinuxSandbox::best_effort();
    let prepared = prepare(&sandbox, &SandboxPolicy::read_only(), &workspace);
    let pwd = |command: &mut Command| {
        command.stdout(Stdio::piped());
        let out = prepared
            .spawn(command)
            .unwrap()
            .child
            .wait_with_output()
            .unwrap();
        assert!(out.status.success());
        PathBuf::from(String::from_utf8(out.stdout).unwrap().trim_end())
    };
    assert_eq!(pwd(&mut Command::new("pwd")), workspace);
    // Outside the plan's directory and roots: fine, read-only anyway.
    assert_eq!(pwd(Command::new("pwd").current_dir(&elsewhere)), elsewhere);
    let err = prepared
        .spawn(Command::new("pwd").current_dir(dir.path().join("missing")))
        .unwrap_err();
    assert!(
        matches!(err, LinuxSandboxError::WorkingDirectory { .. }),
        "{err:?}"
    );
    assert_eq!(err.exit_status(), 125);
}

#[test]
fn a_command_starts_once() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let sandbox = LinuxSandbox::best_effort();
    let prepared = prepare(&sandbox, &SandboxPolicy::read_only(), dir.path());
    let mut command = Command::new("true");
    assert!(
        prepared
            .spawn(&mut command)
            .unwrap()
            .child
            .wait()
            .unwrap()
            .success()
    );
    assert!(prepared.spawn(&mut command).is_err());
}
