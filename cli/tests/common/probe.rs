//! Attacks that need system calls a shell cannot make, run inside the sandbox
//! by the test binary itself: a test file declares
//! `#[test] fn probe_entry() { common::probe::entry() }`, and
//! [`command`] re-executes the binary (only that test) with the attack named in
//! `CODEX_POLICY_PROBE`. The attack prints `PROBE allowed …` or
//! `PROBE refused …`; [`Verdict`] reads it back.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::{Command, Output};

use super::escape::Fixture;

const ATTACK: &str = "CODEX_POLICY_PROBE";
const ARGUMENT: &str = "CODEX_POLICY_PROBE_ARG";

/// The argv that runs `attack` on `argument` inside a sandbox.
pub(crate) fn argv() -> Vec<String> {
    let exe = std::env::current_exe().expect("test binary");
    vec![
        exe.display().to_string(),
        "--exact".into(),
        "probe_entry".into(),
        "--nocapture".into(),
        "--test-threads=1".into(),
        "-q".into(),
    ]
}

/// Adds the attack's name and argument to a `codex-policy run` command.
pub(crate) fn command(mut run: Command, attack: &str, argument: &str) -> Command {
    run.env(ATTACK, attack).env(ARGUMENT, argument);
    run
}

/// Runs `attack` on `argument` in a `profile` sandbox over `fixture`'s
/// workspace, as root or as `nobody`; `None` when `nobody` is asked for and
/// `setpriv` is missing.
pub(crate) fn attack(
    fixture: &Fixture,
    profile: &str,
    attack: &str,
    argument: &str,
    nobody: bool,
) -> Option<Output> {
    let argv = argv();
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let mut run = command(fixture.command(profile, &[], &argv), attack, argument);
    if nobody {
        run = as_nobody(&run)?;
    }
    Some(run.output().expect("spawn codex-policy"))
}

/// What an attack reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed,
    Refused,
    /// The attack did not run (setup failed, or the sandbox refused to start).
    NoReport,
}

impl Verdict {
    pub(crate) fn of(output: &Output) -> Self {
        let stdout = String::from_utf8_lossy(&output.stdout);
        if stdout.lines().any(|l| l.starts_with("PROBE allowed")) {
            Self::Allowed
        } else if stdout.lines().any(|l| l.starts_with("PROBE refused")) {
            Self::Refused
        } else {
            Self::NoReport
        }
    }
}

/// Runs the attack named in the environment, if any, and exits.
pub(crate) fn entry() {
    let Ok(attack) = std::env::var(ATTACK) else {
        return; // an ordinary test run
    };
    let argument = std::env::var(ARGUMENT).unwrap_or_default();
    let (allowed, detail) = match attack.as_str() {
        "capabilities" => capabilities(),
        "handle-open" => handle_open(&argument),
        "sysv-shm" => sysv_shm(&argument),
        "sysv-msg" => sysv_msg(&argument),
        "connect" => connect_path(argument.as_bytes()),
        "connect-proc-fd" => connect_proc_fd(&argument),
        "connect-race" => connect_race(&argument),
        "unix-datagram" => unix_datagram(),
        "connect-own" => connect_own(&argument),
        "fchmod-setuid" => fchmod_setuid(&argument),
        "posix-acl" => posix_acl(&argument),
        "mmap-write" => mmap_write(&argument),
        "file-setattr" => file_setattr(&argument),
        "tcp-connect" => tcp_connect(&argument),
        "connect-as-recycled-pid" => connect_as_recycled_pid(&argument),
        "device" => device(&argument),
        "device-ioctl" => device_ioctl(&argument),
        other => (false, format!("unknown attack {other}")),
    };
    println!(
        "PROBE {} {attack}: {detail}",
        if allowed { "allowed" } else { "refused" }
    );
    std::process::exit(0);
}

fn errno() -> std::io::Error {
    std::io::Error::last_os_error()
}

fn capabilities() -> (bool, String) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let caps: Vec<&str> = status.lines().filter(|l| l.starts_with("Cap")).collect();
    let any = caps.iter().any(|l| {
        l.split_whitespace()
            .nth(1)
            .is_some_and(|v| !v.trim_start_matches('0').is_empty())
    });
    (any, caps.join(" "))
}

/// `name_to_handle_at` then `open_by_handle_at` for writing: reaches the inode
/// beneath any bind mount when it works.
fn handle_open(path: &str) -> (bool, String) {
    #[repr(C)]
    struct Handle {
        bytes: u32,
        kind: i32,
        data: [u8; 128],
    }
    let mut handle = Handle {
        bytes: 128,
        kind: 0,
        data: [0; 128],
    };
    let mut mount_id = 0;
    let c = CString::new(path).unwrap_or_default();
    // SAFETY: valid pointers to a file_handle and an int.
    let r = unsafe {
        libc::syscall(
            libc::SYS_name_to_handle_at,
            libc::AT_FDCWD,
            c.as_ptr(),
            &mut handle,
            &mut mount_id,
            0,
        )
    };
    if r < 0 {
        return (false, format!("name_to_handle_at: {}", errno()));
    }
    // SAFETY: open of a NUL-terminated path.
    let mount_fd = unsafe { libc::open(c"/".as_ptr(), libc::O_RDONLY) };
    // SAFETY: the handle filled above.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_open_by_handle_at,
            mount_fd,
            &mut handle,
            libc::O_RDONLY | libc::O_DIRECTORY,
        )
    };
    if fd < 0 {
        return (false, format!("open_by_handle_at: {}", errno()));
    }
    (true, "reopened by handle".into())
}

fn sysv_shm(key: &str) -> (bool, String) {
    let key: libc::key_t = key.parse().unwrap_or(0);
    // SAFETY: shmget/shmat/shmctl with plain integers.
    unsafe {
        let id = libc::shmget(key, 0, 0);
        if id < 0 {
            return (false, format!("shmget: {}", errno()));
        }
        let at = libc::shmat(id, std::ptr::null(), 0);
        if at as isize == -1 {
            return (false, format!("shmat: {}", errno()));
        }
        *at.cast::<u8>() = b'X';
        (true, "attached and wrote host shared memory".into())
    }
}

fn sysv_msg(key: &str) -> (bool, String) {
    let key: libc::key_t = key.parse().unwrap_or(0);
    // SAFETY: msgget with plain integers.
    let id = unsafe { libc::msgget(key, 0) };
    if id < 0 {
        return (false, format!("msgget: {}", errno()));
    }
    (true, "opened the host's message queue".into())
}

fn unix_address(path: &[u8]) -> (libc::sockaddr_un, libc::socklen_t) {
    // SAFETY: sockaddr_un is plain old data.
    let mut address: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    address.sun_family = libc::AF_UNIX as libc::sa_family_t;
    for (dst, src) in address.sun_path.iter_mut().zip(path) {
        *dst = *src as libc::c_char;
    }
    let len = (std::mem::size_of::<libc::sa_family_t>() + path.len().min(107)) as libc::socklen_t;
    (address, len)
}

fn connect_path(path: &[u8]) -> (bool, String) {
    // SAFETY: a new socket of ours; connect with a valid sockaddr_un.
    unsafe {
        let socket = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
        if socket < 0 {
            return (false, format!("socket: {}", errno()));
        }
        let (address, len) = unix_address(path);
        if libc::connect(socket, (&raw const address).cast(), len) == 0 {
            return (true, "connected".into());
        }
        (false, format!("connect: {}", errno()))
    }
}

/// Opens the socket file `O_PATH`, then connects to `/proc/self/fd/N`.
fn connect_proc_fd(path: &str) -> (bool, String) {
    let c = CString::new(path).unwrap_or_default();
    // SAFETY: open of a NUL-terminated path.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_PATH) };
    if fd < 0 {
        return (false, format!("open O_PATH: {}", errno()));
    }
    connect_path(format!("/proc/self/fd/{fd}").as_bytes())
}

/// Two threads: one flips a shared address between an allowed path (the
/// first, inside) and a refused one (the second, outside) while the other
/// connects again and again. A check-then-continue would connect outside.
fn connect_race(paths: &str) -> (bool, String) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let Some((inside, outside)) = paths.split_once('\n') else {
        return (false, "bad argument".into());
    };
    let (a, len_a) = unix_address(inside.as_bytes());
    let (b, len_b) = unix_address(outside.as_bytes());
    let len = len_a.max(len_b);
    let shared = Box::leak(Box::new(a));
    let address = shared as *mut libc::sockaddr_un as usize;
    let stop = Arc::new(AtomicBool::new(false));
    let flipper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut toggle = false;
            while !stop.load(Ordering::Relaxed) {
                let source = if toggle { &a } else { &b };
                // SAFETY: a racy write into our own leaked buffer, on purpose.
                unsafe { std::ptr::write_volatile(address as *mut libc::sockaddr_un, *source) };
                toggle = !toggle;
            }
        })
    };
    let mut connected = 0;
    for _ in 0..2000 {
        // SAFETY: socket/connect/close of our own descriptors.
        unsafe {
            let socket = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if libc::connect(socket, (address as *const libc::sockaddr_un).cast(), len) == 0 {
                connected += 1;
            }
            libc::close(socket);
        }
    }
    stop.store(true, Ordering::Relaxed);
    let _ = flipper.join();
    // The outside listener counts what reached it; this side only says it ran.
    (
        false,
        format!("{connected} connects succeeded (inside or outside)"),
    )
}

/// Binds a socket at `path`, listens and connects to it: a server of the
/// sandbox's own, which must keep working.
fn connect_own(path: &str) -> (bool, String) {
    let _ = std::fs::remove_file(path);
    let listener = match std::os::unix::net::UnixListener::bind(path) {
        Ok(listener) => listener,
        Err(e) => return (false, format!("bind: {e}")),
    };
    let result = connect_path(path.as_bytes());
    drop(listener);
    let _ = std::fs::remove_file(path);
    result
}

/// Forks until a process of the sandbox holds host pid `target` (the pid of
/// an exited process that created a listener), then connects to the socket:
/// a broker that trusted pid numbers would take the listener for its own.
fn connect_as_recycled_pid(argument: &str) -> (bool, String) {
    use std::sync::atomic::{AtomicBool, Ordering};
    static GOT_IT: AtomicBool = AtomicBool::new(false);
    let Some((target, path)) = argument.split_once('\n') else {
        return (false, "bad argument".into());
    };
    let target = CString::new(target).unwrap_or_default();
    let sleep_argv = [c"sleep".as_ptr(), c"60".as_ptr(), std::ptr::null()];
    let mut holder = 0;
    // SAFETY: vfork: the child shares our memory and only reads /proc/self,
    // sets a flag and execs or exits, which releases the parent.
    unsafe {
        for _ in 0..200_000 {
            #[allow(deprecated)]
            let child = libc::vfork();
            if child == 0 {
                let mut buf = [0u8; 32];
                let n = libc::readlink(c"/proc/self".as_ptr(), buf.as_mut_ptr().cast(), 31);
                if n > 0 && buf[..n as usize] == *target.as_bytes() {
                    GOT_IT.store(true, Ordering::SeqCst);
                    libc::execv(c"/bin/sleep".as_ptr(), sleep_argv.as_ptr());
                }
                libc::_exit(0);
            }
            if child < 0 {
                continue;
            }
            if GOT_IT.load(Ordering::SeqCst) {
                holder = child;
                break;
            }
            libc::waitpid(child, std::ptr::null_mut(), 0);
        }
    }
    if holder == 0 {
        return (false, "never got the pid".into());
    }
    let result = connect_path(path.as_bytes());
    // SAFETY: ending our own child.
    unsafe { libc::kill(holder, libc::SIGKILL) };
    (
        result.0,
        format!("holding the recycled host pid: {}", result.1),
    )
}

/// `fchmod(open(path), 04777)`: a mode change through a descriptor.
fn fchmod_setuid(path: &str) -> (bool, String) {
    let c = CString::new(path).unwrap_or_default();
    // SAFETY: open and fchmod of our own descriptor.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return (false, format!("open: {}", errno()));
        }
        if libc::fchmod(fd, 0o4777) == 0 {
            return (true, "mode changed".into());
        }
        (false, format!("fchmod: {}", errno()))
    }
}

/// `setxattr(path, "system.posix_acl_access", u::rwx,g::rwx,o::rwx)`: an ACL
/// of the three basic entries rewrites the mode to 0777, no chmod involved.
fn posix_acl(path: &str) -> (bool, String) {
    let mut acl = 2u32.to_le_bytes().to_vec(); // POSIX_ACL_XATTR_VERSION
    for tag in [1u16, 4, 0x20] {
        // ACL_USER_OBJ, ACL_GROUP_OBJ, ACL_OTHER: rwx, no id
        acl.extend_from_slice(&tag.to_le_bytes());
        acl.extend_from_slice(&7u16.to_le_bytes());
        acl.extend_from_slice(&u32::MAX.to_le_bytes());
    }
    let c = CString::new(path).unwrap_or_default();
    // SAFETY: setxattr with a NUL-terminated path and name, and our buffer.
    let r = unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"system.posix_acl_access".as_ptr(),
            acl.as_ptr().cast(),
            acl.len(),
            0,
        )
    };
    if r == 0 {
        (true, "ACL set".into())
    } else {
        (false, format!("setxattr: {}", errno()))
    }
}

/// Writes the first byte of `path` through a shared writable mapping: unlike
/// `write(2)`, that keeps a set-uid bit.
fn mmap_write(path: &str) -> (bool, String) {
    let c = CString::new(path).unwrap_or_default();
    // SAFETY: open, mmap of one page of our descriptor, one byte written, unmap.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC);
        if fd < 0 {
            return (false, format!("open O_RDWR: {}", errno()));
        }
        let map = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED,
            fd,
            0,
        );
        if map == libc::MAP_FAILED {
            return (false, format!("mmap: {}", errno()));
        }
        *map.cast::<u8>() = b'#';
        libc::munmap(map, 4096);
        (true, "wrote through a shared mapping".into())
    }
}

/// `file_setattr(AT_FDCWD, path, {FS_XFLAG_NODUMP})` (Linux 6.17): file
/// flags by path, the syscall form of `FS_IOC_FSSETXATTR`.
fn file_setattr(path: &str) -> (bool, String) {
    #[repr(C)]
    #[derive(Default)]
    struct FileAttr {
        xflags: u64,
        extsize: u32,
        nextents: u32,
        projid: u32,
        cowextsize: u32,
    }
    let c = CString::new(path).unwrap_or_default();
    let mut attr = FileAttr::default();
    let size = std::mem::size_of::<FileAttr>();
    // SAFETY: file_getattr/file_setattr with a valid path and struct.
    unsafe {
        if libc::syscall(468, libc::AT_FDCWD, c.as_ptr(), &mut attr, size, 0) < 0 {
            return (false, format!("file_getattr: {}", errno()));
        }
        attr.xflags |= 0x80; // FS_XFLAG_NODUMP
        if libc::syscall(469, libc::AT_FDCWD, c.as_ptr(), &attr, size, 0) < 0 {
            return (false, format!("file_setattr: {}", errno()));
        }
    }
    (true, "flags changed".into())
}

/// A TCP connection to `127.0.0.1:<port>`.
fn tcp_connect(port: &str) -> (bool, String) {
    match std::net::TcpStream::connect(("127.0.0.1", port.parse().unwrap_or(9))) {
        Ok(_) => (true, "connected".into()),
        Err(e) => (false, format!("connect: {e}")),
    }
}

fn unix_datagram() -> (bool, String) {
    let mut made = Vec::new();
    for (name, kind) in [
        ("SOCK_DGRAM", libc::SOCK_DGRAM),
        ("SOCK_RAW", libc::SOCK_RAW),
    ] {
        // SAFETY: socket/socketpair of our own.
        unsafe {
            let s = libc::socket(libc::AF_UNIX, kind, 0);
            if s >= 0 {
                made.push(format!("socket {name}"));
            }
            let mut pair = [0; 2];
            if libc::socketpair(libc::AF_UNIX, kind, 0, pair.as_mut_ptr()) == 0 {
                made.push(format!("socketpair {name}"));
            }
        }
    }
    (!made.is_empty(), format!("created: {made:?}"))
}

/// Opens a device read-only (what a loop-device attack starts with).
fn device(path: &str) -> (bool, String) {
    match std::fs::File::open(Path::new(path)) {
        Ok(_) => (true, format!("opened {path}")),
        Err(e) => (false, format!("{path}: {e}")),
    }
}

/// `LOOP_CTL_GET_FREE` on `/dev/loop-control`: a device ioctl that changes the
/// host (it may create a loop device).
fn device_ioctl(path: &str) -> (bool, String) {
    const LOOP_CTL_GET_FREE: libc::c_ulong = 0x4C82;
    let c = CString::new(path).unwrap_or_default();
    // SAFETY: open and ioctl with integer arguments.
    unsafe {
        let fd = libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return (false, format!("open: {}", errno()));
        }
        let r = libc::ioctl(fd, LOOP_CTL_GET_FREE);
        if r < 0 {
            return (false, format!("ioctl: {}", errno()));
        }
        (true, format!("ioctl answered {r}"))
    }
}

/// Runs a command as the unprivileged user `nobody` (65534) with `setpriv`,
/// when available.
pub(crate) fn as_nobody(run: &Command) -> Option<Command> {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).exists())?;
    let mut command = Command::new(setpriv);
    command.args([
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
        "--bounding-set=-all",
    ]);
    command.arg(run.get_program()).args(run.get_args());
    command.env_clear();
    for (key, value) in run.get_envs() {
        if let Some(value) = value {
            command.env(key, value);
        }
    }
    if let Some(dir) = run.get_current_dir() {
        command.current_dir(dir);
    }
    Some(command)
}

/// Hands a directory tree to `nobody`, so an unprivileged run can use it.
pub(crate) fn give_to_nobody(dir: &Path) {
    fn walk(path: &Path) {
        let c = CString::new(path.as_os_str().as_bytes()).unwrap_or_default();
        // SAFETY: lchown of a NUL-terminated path.
        unsafe { libc::lchown(c.as_ptr(), 65534, 65534) };
        if path.is_dir() && !path.is_symlink() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                walk(&entry.path());
            }
        }
    }
    walk(dir);
    // Every ancestor must be searchable by nobody.
    for ancestor in dir.ancestors().skip(1) {
        if let Ok(meta) = std::fs::metadata(ancestor) {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode();
            if mode & 0o001 == 0 {
                let _ = std::fs::set_permissions(
                    ancestor,
                    std::fs::Permissions::from_mode(mode | 0o001),
                );
            }
        }
    }
}
