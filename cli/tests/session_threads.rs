//! A session shared by several threads: concurrent starts, each sandboxed
//! and audited; no process-wide state of the embedder is changed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::escape::{Fixture, skip, skip_reason};
use common::session::{builder, events};

/// The disposition of `signal` in this process.
fn disposition(signal: libc::c_int) -> libc::sighandler_t {
    // SAFETY: reading the current action into a zeroed struct.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, std::ptr::null(), &mut action);
        action.sa_sigaction
    }
}

#[test]
fn four_threads_spawn_at_once() {
    if let Some(reason) = skip_reason() {
        return skip("four_threads_spawn_at_once", &reason);
    }
    let fixture = Fixture::new();
    let (builder, log) = builder(&fixture, "workspace");
    let session = builder.build().unwrap();
    let before: Vec<_> = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT]
        .map(disposition)
        .to_vec();
    let victim = fixture.home.join("victim");
    std::thread::scope(|scope| {
        for t in 0..4 {
            let session = session.clone();
            let victim = &victim;
            scope.spawn(move || {
                for i in 0..10 {
                    let name = format!("t{t}-{i}");
                    let out = session
                        .command([
                            "sh",
                            "-c",
                            &format!("echo {name} > {name}; echo pwned > {}", victim.display()),
                        ])
                        .output()
                        .unwrap();
                    // The second write is refused, the first is not.
                    assert!(!out.status.success(), "{name}: {out:?}");
                    assert!(
                        std::path::Path::new(&session.composition().cwd)
                            .join(&name)
                            .exists(),
                        "{name}"
                    );
                }
            });
        }
    });
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "original\n");
    let after: Vec<_> = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT]
        .map(disposition)
        .to_vec();
    assert_eq!(before, after, "signal dispositions changed");
    let log = events(&log);
    let exits = log
        .iter()
        .filter(|e| e["operation"] == "sandbox_exit")
        .count();
    assert_eq!(exits, 40);
}

#[test]
fn supervising_from_a_threaded_process_is_refused_with_the_reason() {
    if let Some(reason) = skip_reason() {
        return skip(
            "supervising_from_a_threaded_process_is_refused_with_the_reason",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let (builder, log) = builder(&fixture, "workspace");
    let session = builder.build().unwrap();
    // The test harness runs tests on threads: this process has several.
    let _extra = std::thread::spawn(|| std::thread::sleep(std::time::Duration::from_secs(5)));
    let err = session
        .command(["sh", "-c", "touch supervised"])
        .supervise()
        .unwrap_err();
    assert!(
        matches!(
            err,
            codex_policy::Error::Spawn(codex_policy::SandboxError::MultiThreaded { .. })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("thread"), "{err}");
    assert!(!fixture.workspace.join("supervised").exists());
    // Refused before the gate and the log: nothing was recorded as started.
    assert!(
        !events(&log)
            .iter()
            .any(|e| e["operation"] == "sandbox_start" || e["operation"] == "command_exec"),
        "a start that could not happen was recorded"
    );
}
