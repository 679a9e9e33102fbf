//! Helpers shared by the filtered-network tests: the host check, a one-shot
//! echo server on an egress listener, servers on the host's own addresses
//! for the command to (fail to) reach, and running a script in a sandbox.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use codex_sandbox_linux::{HostCapabilities, PreparedSandbox};

/// How long anything the tests wait for may take before it counts as lost.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// Why this host cannot run the filtered-network tests, if it cannot.
pub(crate) fn unusable_host() -> Option<String> {
    let host = HostCapabilities::probe(true);
    if host.landlock_abi.unwrap_or(0) < 6 || host.namespaces != Some(true) || !host.seccomp {
        return Some(format!(
            "needs Landlock ABI >= 6, seccomp and user namespaces: {host:?}"
        ));
    }
    None
}

pub(crate) fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}

/// Accepts one connection on `listener` (an egress listener: the caller's
/// side of the sandbox's loopback), reads one line, writes it back and
/// closes; the line read, or why none was.
pub(crate) fn echo_once(listener: TcpListener) -> std::thread::JoinHandle<Result<String, String>> {
    std::thread::spawn(move || {
        let stream = accept_within(&listener, PATIENCE)?;
        stream
            .set_read_timeout(Some(PATIENCE))
            .map_err(|e| e.to_string())?;
        let mut line = String::new();
        BufReader::new(&stream)
            .read_line(&mut line)
            .map_err(|e| format!("reading: {e}"))?;
        (&stream)
            .write_all(line.as_bytes())
            .map_err(|e| format!("writing: {e}"))?;
        let _ = stream.shutdown(Shutdown::Both);
        Ok(line)
    })
}

/// One connection from `listener`, or an error after `patience`.
pub(crate) fn accept_within(
    listener: &TcpListener,
    patience: Duration,
) -> Result<TcpStream, String> {
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("nonblocking: {e}"))?;
    let deadline = Instant::now() + patience;
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                stream.set_nonblocking(false).map_err(|e| e.to_string())?;
                return Ok(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if Instant::now() >= deadline {
                    return Err("no connection arrived".into());
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(format!("accept: {e}")),
        }
    }
}

/// Whether a connection is waiting on `listener` (without waiting).
pub(crate) fn has_pending(listener: &TcpListener) -> bool {
    listener.set_nonblocking(true).unwrap();
    listener.accept().is_ok()
}

/// Whether the descriptor is close-on-exec.
pub(crate) fn cloexec(fd: &impl AsRawFd) -> bool {
    // SAFETY: F_GETFD on a descriptor we hold.
    let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
    flags >= 0 && flags & libc::FD_CLOEXEC != 0
}

/// `bash -c script` in `prepared`, its output collected.
pub(crate) fn bash(script: &str) -> Command {
    let mut command = Command::new("bash");
    command
        .args(["-c", script])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

pub(crate) fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A script line that tries a TCP connection to `host`:`port` from inside
/// and prints `reached HOST PORT` or `refused HOST PORT`.
pub(crate) fn tcp_probe(host: &str, port: u16) -> String {
    format!(
        "if timeout 5 bash -c 'exec 3<>/dev/tcp/{host}/{port}' 2>/dev/null; \
         then echo 'reached {host} {port}'; else echo 'refused {host} {port}'; fi\n"
    )
}

/// The host's first IPv4 address outside 127/8 (an interface the sandbox
/// must not reach), from `getifaddrs`.
pub(crate) fn host_address() -> Option<Ipv4Addr> {
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list we free below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return None;
    }
    let mut found = None;
    let mut entry = list;
    while !entry.is_null() && found.is_none() {
        // SAFETY: walking the list the kernel's answer built; each address
        // of family AF_INET is a sockaddr_in.
        unsafe {
            let addr = (*entry).ifa_addr;
            if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                let v4 = &*addr.cast::<libc::sockaddr_in>();
                let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                if !ip.is_loopback() && !ip.is_unspecified() {
                    found = Some(ip);
                }
            }
            entry = (*entry).ifa_next;
        }
    }
    // SAFETY: freeing the list getifaddrs returned.
    unsafe { libc::freeifaddrs(list) };
    found
}

/// A TCP server of the host at `addr` (port 0: any), checked reachable from
/// the host itself (the connection drained), so that a refusal from inside
/// means something.
pub(crate) fn host_tcp_server(addr: SocketAddr) -> Option<TcpListener> {
    let listener = TcpListener::bind(addr).ok()?;
    let local = listener.local_addr().ok()?;
    TcpStream::connect_timeout(&local, Duration::from_secs(2)).ok()?;
    accept_within(&listener, Duration::from_secs(2)).ok()?;
    Some(listener)
}

/// A UDP socket of the host on 127.0.0.1, checked to receive from the host
/// itself.
pub(crate) fn host_udp_socket() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let probe = UdpSocket::bind("127.0.0.1:0").unwrap();
    probe
        .send_to(b"control", socket.local_addr().unwrap())
        .unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = [0u8; 64];
    let (n, _) = socket.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"control");
    socket
}

/// The interfaces `/proc/net/dev` lists.
pub(crate) fn interfaces(proc_net_dev: &str) -> Vec<String> {
    proc_net_dev
        .lines()
        .skip(2)
        .filter_map(|line| line.split(':').next())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .collect()
}

/// Starts `command` in `prepared` and serves both egress listeners once;
/// the output and what each server read.
pub(crate) fn run_with_proxy(
    prepared: &PreparedSandbox,
    command: &mut Command,
) -> (Output, Result<String, String>, Result<String, String>) {
    let mut started = prepared.spawn(command).unwrap();
    let listeners = started
        .egress_listeners
        .take()
        .expect("a filtered network hands out its listeners");
    let http = echo_once(listeners.http);
    let socks = echo_once(listeners.socks);
    let output = started.child.wait_with_output().unwrap();
    (output, http.join().unwrap(), socks.join().unwrap())
}
