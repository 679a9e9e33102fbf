//! Escape suite, path-named unix sockets: a server outside the sandbox (a
//! tmux server, an ssh-agent, Docker, D-Bus) is not reachable — not by its
//! path, not through a symlink in the workspace, not through `/proc/self/fd`,
//! not by racing the address the check read, not with datagrams — as root and
//! as an unprivileged user. The sandbox's own servers keep working.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::net::UnixListener;
use std::path::Path;
use std::process::Command;

use common::escape::{Fixture, Outcome, Table, skip, skip_reason};
use common::probe::{self, Verdict};

#[test]
fn probe_entry() {
    probe::entry();
}

fn accepted(listener: &UnixListener) -> usize {
    listener.set_nonblocking(true).unwrap();
    std::iter::from_fn(|| listener.accept().ok()).count()
}

#[test]
fn outside_path_sockets_are_unreachable() {
    if let Some(reason) = skip_reason() {
        return skip("escape_unix_sockets", &reason);
    }
    let mut table = Table::new("path-named unix sockets");
    for as_nobody in [false, true] {
        let who = if as_nobody { "nobody" } else { "root" };
        for profile in ["offline", "workspace", "workspace-net", "trusted"] {
            let fixture = Fixture::new();
            let outside = fixture.home.join("outside.sock");
            let listener = UnixListener::bind(&outside).unwrap();
            let link = fixture.workspace.join("sock-link");
            std::os::unix::fs::symlink(&outside, &link).unwrap();
            if as_nobody {
                probe::give_to_nobody(fixture.workspace.parent().unwrap());
            }
            let outside_s = outside.display().to_string();
            let race = format!(
                "{}\n{outside_s}",
                fixture.workspace.join("none.sock").display()
            );
            let own = format!(
                "/dev/shm/codex-policy-own-{}-{who}.sock",
                std::process::id()
            );
            let attacks = [
                ("connect", outside_s.as_str(), "connect by path"),
                (
                    "connect",
                    "sock-link",
                    "connect through a workspace symlink",
                ),
                (
                    "connect-proc-fd",
                    outside_s.as_str(),
                    "connect via /proc/self/fd",
                ),
                ("connect-race", race.as_str(), "race the checked address"),
                ("unix-datagram", "", "datagram sockets (sendto by path)"),
            ];
            let mut sandboxed_attempts = 0;
            for (attack, argument, label) in attacks {
                let Some(output) = probe::attack(&fixture, profile, attack, argument, as_nobody)
                else {
                    return skip("escape_unix_sockets (unprivileged)", "setpriv not found");
                };
                let verdict = Verdict::of(&output);
                assert_ne!(verdict, Verdict::NoReport, "{who} {profile} {attack}");
                let observed = if attack == "connect-race" {
                    // What counts is whether the outside server saw anything.
                    Outcome::allowed_if(accepted(&listener) > 0)
                } else {
                    Outcome::allowed_if(verdict == Verdict::Allowed)
                };
                sandboxed_attempts += 1;
                table.record(
                    profile,
                    &format!("{label} as {who}"),
                    Outcome::allowed_if(profile == "trusted"),
                    observed,
                    &output,
                );
            }
            if profile != "trusted" {
                assert_eq!(
                    accepted(&listener),
                    0,
                    "{who} {profile}: a connection reached the outside server \
                     ({sandboxed_attempts} attempts)"
                );
            }
            // The sandbox's own server (in its private /dev/shm) still works.
            let output =
                probe::attack(&fixture, profile, "connect-own", &own, as_nobody).expect("setpriv");
            table.record(
                profile,
                &format!("its own server as {who}"),
                Outcome::Allowed,
                Outcome::allowed_if(Verdict::of(&output) == Verdict::Allowed),
                &output,
            );
        }
    }
    table.finish();
}

/// The escape that was reported: `tmux -S <socket outside> send-keys` ran a
/// command outside the sandbox.
#[test]
fn tmux_outside_cannot_be_driven() {
    if let Some(reason) = skip_reason() {
        return skip("tmux_outside_cannot_be_driven", &reason);
    }
    let tmux = ["/usr/bin/tmux", "/bin/tmux", "/usr/local/bin/tmux"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let Some(tmux) = tmux else {
        return skip("tmux_outside_cannot_be_driven", "tmux is not installed");
    };
    let mut table = Table::new("tmux server outside");
    for profile in ["offline", "workspace", "trusted"] {
        let fixture = Fixture::new();
        let socket = fixture.home.join("tmux.sock");
        let marker = fixture.home.join("pwned");
        let started = Command::new(tmux)
            .arg("-S")
            .arg(&socket)
            .args(["new-session", "-d", "sh"])
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("TERM", "xterm")
            .status()
            .unwrap();
        assert!(started.success(), "starting a tmux server");
        let keys = format!("touch {}", marker.display());
        let output = fixture
            .command(
                profile,
                &[],
                &[
                    tmux,
                    "-S",
                    &socket.display().to_string(),
                    "send-keys",
                    &keys,
                    "Enter",
                ],
            )
            .output()
            .unwrap();
        // Give the outside shell time to run what was typed, if anything was.
        for _ in 0..50 {
            if marker.exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = Command::new(tmux)
            .arg("-S")
            .arg(&socket)
            .arg("kill-server")
            .status();
        table.record(
            profile,
            "tmux send-keys to a server outside",
            Outcome::allowed_if(profile == "trusted"),
            Outcome::allowed_if(marker.exists()),
            &output,
        );
    }
    table.finish();
}

/// The reported attack on the broker: a daemon-style server (its listener was
/// created by a process that then forked and exited) in a writable root; the
/// sandbox forks until one of its processes holds the dead creator's host pid,
/// then connects. The broker knows the listener by pidfd, not by number.
#[test]
fn a_recycled_listener_pid_does_not_pass_for_the_sandbox() {
    if let Some(reason) = skip_reason() {
        return skip("a_recycled_listener_pid", &reason);
    }
    let pid_max: u64 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(u64::MAX);
    if pid_max > 70_000 {
        return skip(
            "a_recycled_listener_pid",
            &format!("pid_max is {pid_max}: cycling to a given pid would take too long here"),
        );
    }
    let fixture = Fixture::new();
    let socket = fixture.workspace.join("daemon.sock");
    let c_socket = std::ffi::CString::new(socket.to_str().unwrap()).unwrap();
    // The creator: binds, listens, leaves the socket to a child, exits; the
    // child's pid comes back through a pipe so it can be ended by pid.
    let mut pipe = [0; 2];
    // SAFETY: a pipe of ours.
    unsafe { libc::pipe(pipe.as_mut_ptr()) };
    // SAFETY: the forked children only make system calls before _exit.
    let creator = unsafe { libc::fork() };
    if creator == 0 {
        // SAFETY: as above.
        unsafe {
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            let mut address: libc::sockaddr_un = std::mem::zeroed();
            address.sun_family = libc::AF_UNIX as libc::sa_family_t;
            for (dst, src) in address.sun_path.iter_mut().zip(c_socket.as_bytes()) {
                *dst = *src as libc::c_char;
            }
            libc::bind(
                fd,
                (&raw const address).cast(),
                std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t,
            );
            libc::listen(fd, 64);
            let keeper = libc::fork();
            if keeper == 0 {
                libc::sleep(120);
                libc::_exit(0);
            }
            libc::write(pipe[1], (&raw const keeper).cast(), 4);
            libc::_exit(0);
        }
    }
    let mut keeper: libc::pid_t = 0;
    // SAFETY: reaping our child (its pid becomes free for reuse) and reading
    // the keeper's pid it wrote.
    unsafe {
        libc::waitpid(creator, std::ptr::null_mut(), 0);
        libc::read(pipe[0], (&raw mut keeper).cast(), 4);
        libc::close(pipe[0]);
        libc::close(pipe[1]);
    }
    let argv = probe::argv();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let argument = format!("{creator}\n{}", socket.display());
    let output = probe::command(
        fixture.command("workspace", &[], &argv),
        "connect-as-recycled-pid",
        &argument,
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if keeper > 0 {
        // SAFETY: ending the process this test started.
        unsafe { libc::kill(keeper, libc::SIGKILL) };
    }
    if stdout.contains("never got the pid") {
        return skip(
            "a_recycled_listener_pid",
            "the sandbox never got the recycled pid",
        );
    }
    assert_eq!(
        Verdict::of(&output),
        Verdict::Refused,
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A socket allowed by name in config.toml (`[permissions.<profile>.network.
/// unix_sockets]`, a file the command cannot write) is reachable whoever
/// listens on it; `none` in the same map, or no entry, keeps it refused.
#[test]
fn a_socket_allowed_by_name_is_reachable() {
    if let Some(reason) = skip_reason() {
        return skip("a_socket_allowed_by_name", &reason);
    }
    let fixture = Fixture::new();
    let allowed = fixture.home.join("allowed.sock");
    let refused = fixture.home.join("refused.sock");
    let other = fixture.home.join("other.sock");
    let listeners: Vec<UnixListener> = [&allowed, &refused, &other]
        .iter()
        .map(|p| UnixListener::bind(p).unwrap())
        .collect();
    std::fs::write(
        fixture.codex_home.join("config.toml"),
        format!(
            "[permissions.workspace.network.unix_sockets]\n\"{}\" = \"allow\"\n\"{}\" = \"none\"\n",
            allowed.display(),
            refused.display()
        ),
    )
    .unwrap();
    let mut table = Table::new("sockets allowed by name");
    for (path, expected) in [
        (&allowed, Outcome::Allowed),
        (&refused, Outcome::Refused),
        (&other, Outcome::Refused),
    ] {
        let output = probe::attack(
            &fixture,
            "workspace",
            "connect",
            path.to_str().unwrap(),
            false,
        )
        .unwrap();
        table.record(
            "workspace",
            &format!("connect {}", path.file_name().unwrap().to_string_lossy()),
            expected,
            Outcome::allowed_if(Verdict::of(&output) == Verdict::Allowed),
            &output,
        );
    }
    drop(listeners);
    table.finish();
}
