//! Escape suite, SysV IPC: the sandbox has its own IPC namespace, so host
//! shared memory and message queues are out of reach — as root and as an
//! unprivileged user (the host objects are world-accessible, so permissions
//! alone would let anyone in).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::escape::{Fixture, Outcome, Table, skip, skip_reason};
use common::probe::{self, Verdict};

#[test]
fn probe_entry() {
    probe::entry();
}

/// Host IPC objects with a fixed key, removed on drop.
struct HostObjects {
    key: libc::key_t,
    shm: libc::c_int,
    msg: libc::c_int,
}

impl HostObjects {
    fn new() -> Self {
        // A key of our own: the test's pid in the high bits.
        let key = 0x5c00_0000 | (std::process::id() as libc::key_t & 0x00ff_ffff);
        // SAFETY: shmget/msgget with plain integers.
        let (shm, msg) = unsafe {
            (
                libc::shmget(key, 4096, libc::IPC_CREAT | 0o666),
                libc::msgget(key, libc::IPC_CREAT | 0o666),
            )
        };
        assert!(shm >= 0 && msg >= 0, "creating host IPC objects");
        Self { key, shm, msg }
    }
}

impl Drop for HostObjects {
    fn drop(&mut self) {
        // SAFETY: removing the objects we created.
        unsafe {
            libc::shmctl(self.shm, libc::IPC_RMID, std::ptr::null_mut());
            libc::msgctl(self.msg, libc::IPC_RMID, std::ptr::null_mut());
        }
    }
}

#[test]
fn host_sysv_ipc_is_out_of_reach() {
    if let Some(reason) = skip_reason() {
        return skip("escape_ipc", &reason);
    }
    let host = HostObjects::new();
    let key = host.key.to_string();
    let mut table = Table::new("sysv ipc");
    for as_nobody in [false, true] {
        let fixture = Fixture::new();
        if as_nobody {
            probe::give_to_nobody(fixture.workspace.parent().unwrap());
        }
        let who = if as_nobody { "nobody" } else { "root" };
        for profile in ["offline", "workspace", "workspace-net", "trusted"] {
            for attack in ["sysv-shm", "sysv-msg"] {
                let Some(output) = probe::attack(&fixture, profile, attack, &key, as_nobody) else {
                    return skip("escape_ipc (unprivileged)", "setpriv not found");
                };
                let verdict = Verdict::of(&output);
                assert_ne!(verdict, Verdict::NoReport, "{who} {profile} {attack}");
                table.record(
                    profile,
                    &format!("{attack} as {who}"),
                    // trusted runs unsandboxed: the host's objects are there, which
                    // shows the attack works when nothing stops it.
                    Outcome::allowed_if(profile == "trusted"),
                    Outcome::allowed_if(verdict == Verdict::Allowed),
                    &output,
                );
            }
        }
    }
    table.finish();
}
