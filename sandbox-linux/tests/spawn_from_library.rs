//! The library API: `Sandbox::spawn` restricts the child only. The caller may be
//! multi-threaded, keeps its own file-system and network rights, and gets a
//! report of what was enforced.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::net::TcpListener;
use std::process::Command;

use codex_policy_model::{Protection, ProtectionStatus, Sandbox, SandboxPolicy};
use codex_sandbox_linux::{HostCapabilities, LinuxSandbox};

fn usable_host() -> Option<String> {
    let host = HostCapabilities::probe(true);
    if host.landlock_abi.unwrap_or(0) < 6 || host.namespaces != Some(true) {
        return Some(format!(
            "needs Landlock ABI >= 6 and user namespaces: {host:?}"
        ));
    }
    None
}

#[test]
fn spawn_restricts_the_child_and_not_the_multithreaded_caller() {
    if let Some(reason) = usable_host() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED spawn_restricts_the_child: {reason}"
        );
        return;
    }
    // Busy threads make the caller multi-threaded while it forks.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    drop(vec![0u8; 4096]);
                }
            })
        })
        .collect();

    // The fixture's "outside" must be outside every writable root, /tmp included:
    // the first candidate directory for which the model itself confirms that.
    let policy = SandboxPolicy::workspace_write(false);
    let fixture = [env!("CARGO_TARGET_TMPDIR"), "/var/tmp"]
        .into_iter()
        .find_map(|dir| {
            let base = tempfile::tempdir_in(dir).ok()?;
            let workspace = base.path().join("ws");
            std::fs::create_dir(&workspace).ok()?;
            let roots = policy.writable_roots(&workspace, None).ok()?;
            let outside = base.path().canonicalize().ok()?.join("outside.txt");
            (!roots.allows_write_to(&outside)).then_some((base, workspace, outside))
        });
    let Some((_base, workspace, outside)) = fixture else {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED spawn_restricts_the_child: no directory outside the writable roots"
        );
        return;
    };
    let sandbox = LinuxSandbox::new();
    for _ in 0..20 {
        let mut command = Command::new("sh");
        command.args([
            "-c",
            &format!("echo in > inside.txt; echo out > {}", outside.display()),
        ]);
        let mut started = sandbox
            .spawn(
                &SandboxPolicy::workspace_write(false),
                &workspace,
                &mut command,
            )
            .unwrap();
        started.child.wait().unwrap();
        assert!(started.report.is_complete(), "{}", started.report);
        assert!(matches!(
            started.report.status(Protection::FileWrites),
            Some(ProtectionStatus::Enforced { .. })
        ));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in workers {
        worker.join().unwrap();
    }
    assert!(workspace.join("inside.txt").exists());
    assert!(!outside.exists(), "the child wrote outside its roots");
    // The caller is untouched: it writes anywhere and still has its network.
    std::fs::write(&outside, "caller").unwrap();
    TcpListener::bind("127.0.0.1:0").unwrap();
}

#[test]
fn plan_reports_without_starting_anything() {
    let sandbox = LinuxSandbox::best_effort();
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let plan = sandbox
        .plan(&SandboxPolicy::read_only(), dir.path(), None)
        .unwrap();
    assert_eq!(
        plan.report.status(Protection::ReadOnlySubpaths),
        Some(&ProtectionStatus::NotNeeded)
    );
    let full = sandbox
        .plan(&SandboxPolicy::DangerFullAccess, dir.path(), None)
        .unwrap();
    assert!(
        full.report
            .protections
            .iter()
            .all(|p| p.status == ProtectionStatus::NotNeeded)
    );
}

#[test]
fn missing_cwd_is_an_error_not_a_start() {
    let err = LinuxSandbox::new()
        .spawn(
            &SandboxPolicy::workspace_write(false),
            "/nonexistent/codex-policy".as_ref(),
            &mut Command::new("true"),
        )
        .unwrap_err();
    assert_eq!(err.exit_status(), 125);
    assert!(
        err.to_string().contains("/nonexistent/codex-policy"),
        "{err}"
    );
}

/// `Sandbox::spawn` from a thread that exits while the child runs: the sandbox
/// survives (it watches the caller's process, not the thread), and dies only
/// with the process.
#[test]
fn spawn_from_a_thread_that_exits_survives() {
    if let Some(reason) = usable_host() {
        let _ = writeln!(std::io::stderr(), "SKIPPED spawn_from_a_thread: {reason}");
        return;
    }
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let workspace = dir.path().canonicalize().unwrap();
    let target = workspace.clone();
    let mut started = std::thread::spawn(move || {
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 0.3; echo done > finished.txt"]);
        LinuxSandbox::new()
            .spawn(
                &SandboxPolicy::workspace_write(false),
                &target,
                &mut command,
            )
            .unwrap()
    })
    .join()
    .unwrap();
    let status = started.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert_eq!(
        std::fs::read_to_string(workspace.join("finished.txt"))
            .ok()
            .as_deref(),
        Some("done\n")
    );
}
