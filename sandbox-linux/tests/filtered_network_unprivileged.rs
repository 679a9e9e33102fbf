//! A filtered network built by an unprivileged user (no harness: run as
//! root, this test re-runs a copy of itself as `nobody` with `setpriv`;
//! run unprivileged, it tests directly). The user namespace gives the
//! sandbox's first process what it needs to bring `lo` up and bind the
//! listeners; the command still holds nothing, through `spawn` and through
//! `supervise`. Where the user may not create user namespaces it prints
//! SKIPPED with the reason.

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
    use std::net::SocketAddr;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use codex_policy_model::{EgressPorts, SandboxPolicy};
    use codex_sandbox_linux::LinuxSandbox;

    use crate::common::{
        PATIENCE, accept_within, bash, has_pending, host_tcp_server, interfaces, run_with_proxy,
        skip, tcp_probe, text, unusable_host,
    };

    /// Set in the copy run as `nobody`.
    const ROLE: &str = "CODEX_POLICY_FILTERED_NETWORK_UNPRIVILEGED";
    const NOBODY: u32 = 65534;

    pub(super) fn main() {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        if std::env::var_os(ROLE).is_some() || euid != 0 {
            return unprivileged();
        }
        as_nobody();
    }

    /// Runs a copy of this binary as `nobody` and passes its verdict on.
    fn as_nobody() {
        let Some(setpriv) = ["/usr/bin/setpriv", "/bin/setpriv"]
            .into_iter()
            .find(|p| Path::new(p).exists())
        else {
            return skip(
                "filtered_network_unprivileged",
                "no setpriv to become nobody",
            );
        };
        // A copy `nobody` can execute wherever the build tree is (its
        // ancestors may not be searchable by others).
        let dir = tempfile::Builder::new()
            .prefix("codex-filtered-network-")
            .tempdir_in(std::env::temp_dir())
            .unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let copy = dir.path().join("filtered_network_unprivileged");
        std::fs::copy(std::env::current_exe().unwrap(), &copy).unwrap();
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut child = Command::new(setpriv)
            .args([
                &format!("--reuid={NOBODY}"),
                &format!("--regid={NOBODY}"),
                "--clear-groups",
                "--inh-caps=-all",
                "--bounding-set=-all",
            ])
            .arg(&copy)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", "/nonexistent")
            .env(ROLE, "1")
            .current_dir("/")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprint!("{stderr}");
        if output.status.code() == Some(126) || output.status.code() == Some(127) {
            // setpriv could not execute the copy (a noexec temporary directory).
            return skip(
                "filtered_network_unprivileged",
                &format!("nobody cannot run the test's copy: {}", text(&output)),
            );
        }
        assert!(output.status.success(), "as nobody: {}", text(&output));
        assert!(
            stderr.contains("filtered_network_unprivileged: ok") || stderr.contains("SKIPPED"),
            "{}",
            text(&output)
        );
    }

    /// The test proper, as an unprivileged user.
    fn unprivileged() {
        if let Some(reason) = unusable_host() {
            return skip("filtered_network_unprivileged", &reason);
        }
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let dir = tempfile::tempdir_in(std::env::temp_dir()).unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        let sandbox = LinuxSandbox::new().filtered_network(EgressPorts::default());
        let plan = sandbox
            .plan(&SandboxPolicy::workspace_write(false), &cwd, None)
            .unwrap();
        let prepared = sandbox.prepare(plan).unwrap();
        assert_eq!(prepared.egress_ports(), Some(EgressPorts::default()));
        let host = host_tcp_server(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        let port = host.local_addr().unwrap().port();

        // spawn: both listeners reached, the host's loopback not, nothing
        // held.
        let script = format!(
            "{}id -u; grep CapEff /proc/self/status; cat /proc/net/dev; echo @@\n\
             exec 3<>/dev/tcp/127.0.0.1/3128; echo http >&3; cat <&3; exec 3>&-\n\
             exec 4<>/dev/tcp/127.0.0.1/1080; echo socks >&4; cat <&4; exec 4>&-\n\
             echo @@; ls -l /proc/self/fd",
            tcp_probe("127.0.0.1", port)
        );
        let (output, http, socks) = run_with_proxy(&prepared, &mut bash(&script));
        assert!(output.status.success(), "{}", text(&output));
        assert_eq!(http.as_deref(), Ok("http\n"));
        assert_eq!(socks.as_deref(), Ok("socks\n"));
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let parts: Vec<&str> = stdout.split("@@\n").collect();
        assert_eq!(parts.len(), 3, "{}", text(&output));
        let mut lines = parts[0].splitn(4, '\n');
        assert_eq!(
            lines.next(),
            Some(format!("refused 127.0.0.1 {port}").as_str())
        );
        assert_eq!(lines.next(), Some(uid.to_string().as_str()));
        assert_eq!(lines.next(), Some("CapEff:\t0000000000000000"));
        assert_eq!(interfaces(lines.next().unwrap_or("")), ["lo"], "{stdout}");
        assert_eq!(parts[1], "http\nsocks\n");
        assert!(!parts[2].contains("socket:"), "{stdout}");
        assert!(!has_pending(&host));

        // supervise (this process has no harness: once the broker's thread
        // of the start above is gone, it is single-threaded again).
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_dir("/proc/self/task").unwrap().count() > 1 {
            assert!(Instant::now() < deadline, "a thread is still running");
            std::thread::sleep(Duration::from_millis(10));
        }
        let view = cwd.join("supervised.txt");
        let script = format!(
            "{{ {}grep CapEff /proc/self/status
             exec 3<>/dev/tcp/127.0.0.1/3128; echo supervised >&3; cat <&3; }} > {} 2>&1",
            tcp_probe("127.0.0.1", port),
            view.display()
        );
        let mut command = bash(&script);
        command.stdout(Stdio::null()).stderr(Stdio::inherit());
        let mut running = prepared.supervise(&mut command).unwrap();
        let listeners = running.take_egress_listeners().expect("the listeners");
        let stream = accept_within(&listeners.http, PATIENCE).unwrap();
        stream.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line).unwrap();
        (&stream).write_all(line.as_bytes()).unwrap();
        drop(stream);
        let status = running.wait().unwrap();
        let view = std::fs::read_to_string(&view).unwrap();
        assert!(status.success(), "{status:?}: {view}");
        assert_eq!(
            view,
            format!("refused 127.0.0.1 {port}\nCapEff:\t0000000000000000\nsupervised\n")
        );
        assert!(!has_pending(&host));
        eprintln!("filtered_network_unprivileged: ok (uid {uid})");
    }
}
