//! A filtered network through `PreparedSandbox::supervise` (no harness:
//! `main` runs on the only thread, as `supervise` requires): the listeners
//! come back once from `take_egress_listeners`, the command reaches them and
//! not the host's loopback, sees only `lo`, holds no socket, and each start
//! gets a fresh pair on the same ports.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[cfg(target_os = "linux")]
mod common;

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {}

#[cfg(target_os = "linux")]
mod linux {
    use std::io::{BufRead, BufReader, Write};
    use std::net::{Shutdown, SocketAddr, TcpListener};
    use std::time::{Duration, Instant};

    use codex_policy_model::{EgressPorts, SandboxPolicy};
    use codex_sandbox_linux::LinuxSandbox;

    use crate::common::{
        PATIENCE, accept_within, bash, cloexec, has_pending, host_tcp_server, interfaces, skip,
        tcp_probe, unusable_host,
    };

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

    /// Serves one connection on `listener` on this thread: reads a line and
    /// writes it back.
    fn echo_here(listener: &TcpListener) -> String {
        let stream = accept_within(listener, PATIENCE).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        (&stream).write_all(line.as_bytes()).unwrap();
        stream.shutdown(Shutdown::Both).unwrap();
        line
    }

    pub(super) fn main() {
        if let Some(reason) = unusable_host() {
            return skip("filtered_network_supervise", &reason);
        }
        assert_eq!(threads(), 1, "this test must run without a harness");
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        let sandbox = LinuxSandbox::new().filtered_network(EgressPorts::default());
        let plan = sandbox
            .plan(&SandboxPolicy::workspace_write(false), &cwd, None)
            .unwrap();
        let prepared = sandbox.prepare(plan).unwrap();
        let host = host_tcp_server(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let host_port = host.local_addr().unwrap().port();

        let mut seen = Vec::new();
        for run in 0..2 {
            single_threaded();
            // `supervise` execs the command in a process of this one's: its
            // output goes to a file (a pipe's read end would be lost).
            let view = cwd.join(format!("view-{run}.txt"));
            let script = format!(
                "{{ {}cat /proc/net/dev; echo @@\n\
                 exec 3<>/dev/tcp/127.0.0.1/3128; echo http-{run} >&3; cat <&3; exec 3>&-\n\
                 exec 4<>/dev/tcp/127.0.0.1/1080; echo socks-{run} >&4; cat <&4; exec 4>&-\n\
                 echo @@; ls -l /proc/self/fd; }} > {} 2>&1",
                tcp_probe("127.0.0.1", host_port),
                view.display()
            );
            let mut command = bash(&script);
            command
                .stdout(std::process::Stdio::inherit())
                .stderr(std::process::Stdio::inherit());
            let mut running = prepared.supervise(&mut command).unwrap();
            let listeners = running
                .take_egress_listeners()
                .expect("a filtered network hands out its listeners");
            assert!(running.take_egress_listeners().is_none(), "taken once");
            assert!(cloexec(&listeners.http) && cloexec(&listeners.socks));
            // A fresh pair at each start (the earlier one went with its
            // namespace).
            let inode = |l: &TcpListener| {
                use std::os::fd::AsRawFd;
                std::fs::read_link(format!("/proc/self/fd/{}", l.as_raw_fd())).unwrap()
            };
            seen.push(inode(&listeners.http));
            assert_eq!(echo_here(&listeners.http), format!("http-{run}\n"));
            assert_eq!(echo_here(&listeners.socks), format!("socks-{run}\n"));
            let status = running.wait().unwrap();
            let view = std::fs::read_to_string(&view).unwrap();
            assert!(status.success(), "{status:?}: {view}");
            let parts: Vec<&str> = view.split("@@\n").collect();
            assert_eq!(parts.len(), 3, "{view}");
            let (probe, net) = parts[0].split_once('\n').unwrap();
            assert_eq!(probe, format!("refused 127.0.0.1 {host_port}"), "{view}");
            assert_eq!(interfaces(net), ["lo"], "{view}");
            assert_eq!(parts[1], format!("http-{run}\nsocks-{run}\n"), "{view}");
            // The file (1 and 2), stdin and ls's directory: no socket.
            assert!(!parts[2].contains("socket:"), "{view}");
        }
        assert_ne!(seen[0], seen[1], "each start has its own listeners");
        assert!(
            !has_pending(&host),
            "a connection reached the host's loopback"
        );
        eprintln!("filtered_network_supervise: ok");
    }
}
