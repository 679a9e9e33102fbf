//! Escape suite, isolation: a sandboxed process must not signal, ptrace or read
//! the memory of processes outside, reach their abstract unix sockets, create
//! namespaces to regain rights, or use the system calls on the deny list.
//!
//! Every attempt first runs under `trusted` (no sandbox) as the baseline: a row
//! is asserted only when the host itself allows the action, so a refusal in the
//! sandbox is the sandbox's doing. Skipped rows are printed with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixListener};
use std::process::{Child, Command};

use common::escape::{Fixture, Outcome, PROFILES, Table, skip, skip_reason};

/// A perl snippet that exits 0 when the system call got past permission checks,
/// 1 when it was refused (EPERM, EACCES, or ESRCH for an invisible process).
fn perl_syscall(call: &str) -> String {
    format!(
        "perl -e '$r = {call}; exit 0 if defined $r && $r >= 0; \
         $e = $!+0; exit(($e == 1 || $e == 13 || $e == 3) ? 1 : 0)'"
    )
}

fn attempts(abstract_name: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "signal a process outside (kill -TERM)",
            "kill -TERM {pid}".into(),
        ),
        (
            "ptrace-attach a process outside",
            perl_syscall(&format!("syscall({}, 16, {{pid}}, 0, 0)", libc::SYS_ptrace)),
        ),
        (
            "process_vm_readv a process outside",
            perl_syscall(&format!(
                "do {{ $b = \"\\0\" x 8; $l = pack(\"PQ\", $b, 8); $r = pack(\"QQ\", 65536, 8); \
                 syscall({}, {{pid}}, $l, 1, $r, 1, 0) }}",
                libc::SYS_process_vm_readv
            )),
        ),
        (
            "connect to an abstract unix socket outside",
            format!(
                "perl -MSocket -e 'socket(S, AF_UNIX, SOCK_STREAM, 0) or exit 1; \
                 connect(S, pack_sockaddr_un(\"\\0{abstract_name}\")) or exit 1'"
            ),
        ),
        (
            "nested unshare -r to regain rights",
            "unshare -r true".into(),
        ),
        (
            "nested unshare -rn (new network namespace)",
            "unshare -rn true".into(),
        ),
        (
            "io_uring_setup",
            perl_syscall(&format!(
                "do {{ $p = \"\\0\" x 120; syscall({}, 1, $p) }}",
                libc::SYS_io_uring_setup
            )),
        ),
        (
            "bpf",
            perl_syscall(&format!(
                "do {{ $a = \"\\0\" x 128; syscall({}, 0, $a, 128) }}",
                libc::SYS_bpf
            )),
        ),
        (
            "perf_event_open",
            perl_syscall(&format!(
                "do {{ $a = \"\\0\" x 128; syscall({}, $a, 0, -1, -1, 0) }}",
                libc::SYS_perf_event_open
            )),
        ),
        (
            "keyctl",
            perl_syscall(&format!("syscall({}, 0, -3, 0)", libc::SYS_keyctl)),
        ),
        (
            "personality(READ_IMPLIES_EXEC)",
            perl_syscall(&format!("syscall({}, 4194304)", libc::SYS_personality)),
        ),
        (
            "ioctl TIOCSTI (inject terminal input)",
            perl_syscall("do { $c = \"x\"; ioctl(STDIN, 0x5412, $c) }"),
        ),
        (
            "an x32 system call (bypasses x86_64 rules)",
            // x32 getpid; ENOSYS where the kernel lacks x32 still means the call
            // reached the kernel, which the sandbox must prevent.
            if cfg!(target_arch = "x86_64") {
                perl_syscall(&format!("syscall({})", 0x4000_0000 + libc::SYS_getpid))
            } else {
                "true".into()
            },
        ),
        (
            "clone3 (flags hidden from seccomp)",
            // A null argument: EFAULT/EINVAL when the call is allowed, ENOSYS
            // when the sandbox turns it away so libc falls back to clone.
            format!(
                "perl -e 'syscall({}, 0, 0); exit($!+0 == 38 ? 1 : 0)'",
                libc::SYS_clone3
            ),
        ),
        (
            "run without no_new_privs",
            "grep -q 'NoNewPrivs:[[:space:]]*0' /proc/self/status".into(),
        ),
    ]
}

/// A process outside every sandbox, owned by the test.
struct Target(Child);

impl Target {
    fn start() -> Self {
        Self(
            Command::new("sleep")
                .arg("60")
                .spawn()
                .expect("spawn sleep"),
        )
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn isolation_escapes() {
    if let Some(reason) = skip_reason() {
        return skip("isolation_escapes", &reason);
    }
    let abstract_name = format!("codex-policy-escape-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(abstract_name.as_bytes()).unwrap();
    let _listener = UnixListener::bind_addr(&addr).unwrap();

    let mut table = Table::new("isolation");
    let fixture = Fixture::new();
    for (name, template) in attempts(&abstract_name) {
        let run = |profile: &str| {
            let target = Target::start();
            let script = template.replace("{pid}", &target.pid().to_string());
            let output = fixture.run(profile, &[], &script);
            (output.status.success(), output)
        };
        let (baseline, output) = run("trusted");
        if !baseline {
            skip(
                &format!("isolation row {name:?}"),
                &format!(
                    "the host refuses it even without a sandbox ({})",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
            );
            continue;
        }
        table.record("trusted", name, Outcome::Allowed, Outcome::Allowed, &output);
        for profile in PROFILES.iter().filter(|p| **p != "trusted") {
            let (succeeded, output) = run(profile);
            table.record(
                profile,
                name,
                Outcome::Refused,
                Outcome::allowed_if(succeeded),
                &output,
            );
        }
    }
    table.finish();
}
