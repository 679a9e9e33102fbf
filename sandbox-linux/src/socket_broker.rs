//! The unix-socket broker: the sandbox's `connect(2)` calls are sent here by
//! seccomp user notification, and the broker — outside the sandbox — performs
//! each allowed connect itself, on the very socket of the caller (a duplicate of
//! its descriptor, taken with `pidfd_getfd`), with an address it copied out of
//! the caller's memory. The caller's system call never continues on its own
//! (`SECCOMP_USER_NOTIF_FLAG_CONTINUE` is never used), so nothing it changes
//! after the check — the address, the descriptor — can swap what was checked.
//!
//! Path-named sockets are resolved in the caller's view (its root and working
//! directory, no magic links) to one inode, and connected through that inode
//! only. A socket is reachable when its path is allowed by name, or when it
//! lies where the sandbox can write and the process listening on it — known by
//! a pidfd (`SO_PEERPIDFD`), never by a pid number that could be recycled —
//! is alive and belongs to the sandbox (same PID namespace). That is checked
//! with a connect of the broker's own throw-away socket first (the listener
//! sees a connection open and close, no byte), so the caller's socket is never
//! connected to anything refused. Abstract sockets get
//! the same listener check where the sandbox shares the host's network
//! namespace (Landlock's scope does not bind the broker). With network off,
//! non-unix sockets are refused, as Landlock would.
//!
//! Landlock ABI 9 can refuse path sockets in the kernel; this broker makes the
//! same guarantee on older kernels (5.9+).

use std::ffi::{CString, OsStr};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::Arc;

/// What the broker lets through.
#[derive(Debug, Clone, Default)]
pub(crate) struct BrokerPolicy {
    /// Canonical paths of sockets reachable whoever listens on them.
    pub(crate) allowed: Vec<PathBuf>,
    /// Where the sandbox can bind sockets: its writable roots (and its private
    /// `/dev/shm`). A socket file anywhere else was bound outside it.
    pub(crate) writable: Vec<PathBuf>,
    /// The sandbox has its own PID namespace: its listeners can be told apart.
    pub(crate) own_pid_namespace: bool,
    /// The sandbox has its own network namespace: abstract names are its own.
    pub(crate) own_network_namespace: bool,
    /// Non-unix sockets may connect (the policy allows the network).
    pub(crate) network_allowed: bool,
}

/// Starts the broker on `listener` in a thread of the calling process. The
/// thread ends when every process of the sandbox has exited.
pub(crate) fn start(listener: OwnedFd, policy: BrokerPolicy) -> io::Result<()> {
    let listener = Arc::new(listener);
    let policy = Arc::new(policy);
    std::thread::Builder::new()
        .name("codex-policy-socket-broker".into())
        .spawn(move || serve(&listener, &policy))?;
    Ok(())
}

/// Receives the sandbox's listener from its end of the socket pair.
pub(crate) fn receive_listener(socket: &OwnedFd) -> io::Result<OwnedFd> {
    use crate::child::{RightsBuffer, rights_message};
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = RightsBuffer { bytes: [0; 32] };
    let mut msg = rights_message(&mut iov, &mut control);
    // SAFETY: recvmsg into our buffers; the CMSG_* arithmetic of the C ABI.
    unsafe {
        let n = libc::recvmsg(
            socket.as_raw_fd(),
            &mut msg,
            libc::MSG_DONTWAIT | libc::MSG_CMSG_CLOEXEC,
        );
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        if n != 1
            || cmsg.is_null()
            || (*cmsg).cmsg_level != libc::SOL_SOCKET
            || (*cmsg).cmsg_type != libc::SCM_RIGHTS
        {
            return Err(io::Error::other(
                "the sandbox sent no seccomp listener to the socket broker",
            ));
        }
        let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::c_int>());
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

/// Whether this kernel can run the broker: seccomp user notification and
/// `pidfd_getfd` (Linux 5.6).
pub(crate) fn supported() -> bool {
    const SECCOMP_GET_NOTIF_SIZES: libc::c_uint = 3;
    let mut sizes = [0u16; 3];
    // SAFETY: the call fills three u16 values.
    let notif = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            SECCOMP_GET_NOTIF_SIZES,
            0u32,
            sizes.as_mut_ptr(),
        )
    } == 0;
    // SAFETY: invalid descriptors: the kernel answers EBADF if the call exists.
    let getfd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, -1, -1, 0u32) } < 0
        && io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
    notif && getfd && sizes[0] as usize <= std::mem::size_of::<libc::seccomp_notif>()
}

fn serve(listener: &Arc<OwnedFd>, policy: &Arc<BrokerPolicy>) {
    loop {
        let mut poll = libc::pollfd {
            fd: listener.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polling one valid descriptor.
        let ready = unsafe { libc::poll(&mut poll, 1, -1) };
        if ready < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return;
        }
        if poll.revents & libc::POLLIN == 0 {
            return; // POLLHUP: no process of the sandbox is left
        }
        // SAFETY: a zeroed seccomp_notif is the required input.
        let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl fills `notif`.
        if unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut notif,
            )
        } < 0
        {
            match io::Error::last_os_error().raw_os_error() {
                // The caller was interrupted or died before we read it.
                Some(libc::ENOENT) | Some(libc::EINTR) => continue,
                _ => return,
            }
        }
        // A connect may block (a full backlog, a TCP handshake): one thread per
        // call, so one slow peer never holds the others up. Without a thread,
        // the call is handled here.
        let (shared, rules) = (Arc::clone(listener), Arc::clone(policy));
        let spawned = std::thread::Builder::new()
            .name("codex-policy-connect".into())
            .spawn(move || respond(&shared, notif.id, handle(&shared, &notif, &rules)));
        if spawned.is_err() {
            respond(listener, notif.id, handle(listener, &notif, policy));
        }
    }
}

fn respond(listener: &OwnedFd, id: u64, result: Result<(), i32>) {
    let resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: match result {
            Ok(()) => 0,
            Err(errno) => -errno,
        },
        flags: 0,
    };
    // SAFETY: the ioctl reads `resp`. ENOENT (the caller is gone) needs nothing.
    unsafe { libc::ioctl(listener.as_raw_fd(), libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) };
}

fn last_errno() -> i32 {
    io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

fn owned(fd: libc::c_long) -> Result<OwnedFd, i32> {
    if fd < 0 {
        Err(last_errno())
    } else {
        // SAFETY: a descriptor the kernel just returned to us.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
    }
}

fn still_valid(listener: &OwnedFd, id: u64) -> bool {
    // SAFETY: the ioctl reads one u64.
    unsafe {
        libc::ioctl(
            listener.as_raw_fd(),
            libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
            &id,
        ) == 0
    }
}

/// Decides one notified system call and performs it if allowed.
fn handle(
    listener: &OwnedFd,
    notif: &libc::seccomp_notif,
    policy: &BrokerPolicy,
) -> Result<(), i32> {
    if i64::from(notif.data.nr) == libc::SYS_connect {
        handle_connect(listener, notif, policy)
    } else {
        handle_metadata(listener, notif, policy)
    }
}

/// Decides one `connect(fd, addr, len)` and performs it if allowed.
fn handle_connect(
    listener: &OwnedFd,
    notif: &libc::seccomp_notif,
    policy: &BrokerPolicy,
) -> Result<(), i32> {
    let pid = notif.pid as libc::pid_t;
    let [fd, addr, len, ..] = notif.data.args;
    let pidfd = task_pidfd(pid)?;
    // The pid named the caller when the notification was read; still valid now
    // means the pidfd is the caller's, not a recycled pid's.
    if !still_valid(listener, notif.id) {
        return Err(libc::ENOENT);
    }
    // SAFETY: duplicates the caller's descriptor `fd` into our table.
    let socket = owned(unsafe {
        libc::syscall(
            libc::SYS_pidfd_getfd,
            pidfd.as_raw_fd(),
            fd as libc::c_int,
            0u32,
        )
    })?;
    let len = (len as u32) as usize;
    if !(2..=std::mem::size_of::<libc::sockaddr_storage>()).contains(&len) {
        return Err(libc::EINVAL);
    }
    let mut buf = vec![0u8; len];
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: len,
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: len,
    };
    // SAFETY: reads `len` bytes of the caller's memory into `buf`.
    if unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) } != len as isize {
        return Err(libc::EFAULT);
    }
    if !still_valid(listener, notif.id) {
        return Err(libc::ENOENT);
    }
    let domain = sockopt(&socket, libc::SO_DOMAIN)?;
    if domain != libc::AF_UNIX {
        if !policy.network_allowed {
            return Err(libc::EACCES);
        }
        return connect(&socket, &buf);
    }
    let family = u16::from_ne_bytes([buf[0], buf[1]]);
    if family != libc::AF_UNIX as u16 || len <= 2 {
        return Err(libc::EINVAL);
    }
    let kind = sockopt(&socket, libc::SO_TYPE)?;
    let name = &buf[2..];
    if name[0] == 0 {
        // Abstract: the broker's network namespace is the sandbox's unless the
        // sandbox has its own, where its names are isolated already.
        if !policy.own_network_namespace && !listener_inside(kind, &buf, pid, policy)? {
            return Err(libc::EPERM);
        }
        return connect(&socket, &buf);
    }
    let path = &name[..name.iter().position(|&b| b == 0).unwrap_or(name.len())];
    let target = resolve(pid, path)?;
    let via = proc_address(&target)?;
    let real = std::fs::read_link(format!("/proc/self/fd/{}", target.as_raw_fd())).ok();
    if real
        .as_ref()
        .is_some_and(|real| policy.allowed.iter().any(|a| a == real))
    {
        return connect(&socket, &via);
    }
    // Only a socket file where the sandbox can write may have a listener of the
    // sandbox; only then is the listener asked (a throw-away connect, no byte).
    let bindable = real.as_ref().is_none_or(|real| {
        !real.is_absolute()
            || real.starts_with("/dev/shm")
            || policy.writable.iter().any(|root| real.starts_with(root))
    });
    if !bindable || !listener_inside(kind, &via, pid, policy)? {
        return Err(libc::EACCES);
    }
    connect(&socket, &via)
}

/// What a notified metadata call changes.
enum Change {
    Mode(u64),
    Owner { uid: u32, gid: u32 },
}

/// The `chmod` and `chown` families: Landlock confines writes, not metadata,
/// so a command (as root: the owner of most of the system) could `chmod 4755`
/// a binary or `chmod 777 /etc` outside its roots, or `chown` a file to its
/// own owner — which needs no capability and strips set-uid bits and file
/// capabilities — or to its own group. The broker resolves the file as the
/// caller would, allows the change only strictly beneath a writable root (or
/// in the private `/dev/shm`), only on the caller's own file, only to the
/// caller's own uid and gids, never adding a set-uid or set-gid bit, and
/// performs it on that inode itself; read-only binds still answer `EROFS`.
fn handle_metadata(
    listener: &OwnedFd,
    notif: &libc::seccomp_notif,
    policy: &BrokerPolicy,
) -> Result<(), i32> {
    let pid = notif.pid as libc::pid_t;
    let nr = i64::from(notif.data.nr);
    let a = notif.data.args;
    const FCHMODAT2: i64 = 452;
    let at_fdcwd = libc::AT_FDCWD as u64 as u32;
    let empty = libc::AT_EMPTY_PATH as u64;
    let nofollow_flag = libc::AT_SYMLINK_NOFOLLOW as u64;
    let owner = |uid: u64, gid: u64| Change::Owner {
        uid: uid as u32,
        gid: gid as u32,
    };
    // (directory or descriptor, path pointer, change, flags)
    let (base, path, change, flags) = match nr {
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chmod => (at_fdcwd, Some(a[0]), Change::Mode(a[1]), 0),
        libc::SYS_fchmod => (a[0] as u32, None, Change::Mode(a[1]), empty),
        libc::SYS_fchmodat => (a[0] as u32, Some(a[1]), Change::Mode(a[2]), 0),
        FCHMODAT2 => (a[0] as u32, Some(a[1]), Change::Mode(a[2]), a[3]),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_chown => (at_fdcwd, Some(a[0]), owner(a[1], a[2]), 0),
        #[cfg(target_arch = "x86_64")]
        libc::SYS_lchown => (at_fdcwd, Some(a[0]), owner(a[1], a[2]), nofollow_flag),
        libc::SYS_fchown => (a[0] as u32, None, owner(a[1], a[2]), empty),
        libc::SYS_fchownat => (a[0] as u32, Some(a[1]), owner(a[2], a[3]), a[4]),
        _ => return Err(libc::ENOSYS),
    };
    let pidfd = task_pidfd(pid)?;
    if !still_valid(listener, notif.id) {
        return Err(libc::ENOENT);
    }
    let path = match path {
        Some(address) => read_c_string(pid, address)?,
        None => Vec::new(),
    };
    if !still_valid(listener, notif.id) {
        return Err(libc::ENOENT);
    }
    let nofollow = flags & nofollow_flag != 0;
    let target = if path.is_empty() {
        if flags & empty == 0 {
            return Err(libc::ENOENT);
        }
        // SAFETY: duplicates the caller's descriptor into our table.
        let fd = owned(unsafe {
            libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), base as i32, 0u32)
        })?;
        // fchmod/fchown on an O_PATH descriptor is EBADF for the caller too.
        // SAFETY: reading our descriptor's flags.
        let o_path = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFL) } & libc::O_PATH != 0;
        if o_path && (nr == libc::SYS_fchmod || nr == libc::SYS_fchown) {
            return Err(libc::EBADF);
        }
        fd
    } else if path[0] == b'/' || base == at_fdcwd {
        resolve_path(pid, None, &path, nofollow)?
    } else {
        // SAFETY: duplicates the caller's directory descriptor.
        let dir = owned(unsafe {
            libc::syscall(libc::SYS_pidfd_getfd, pidfd.as_raw_fd(), base as i32, 0u32)
        })?;
        resolve_path(pid, Some(dir), &path, nofollow)?
    };
    let st = stat_of(&target)?;
    let symlink = st.st_mode & libc::S_IFMT == libc::S_IFLNK;
    if symlink && matches!(change, Change::Mode(_)) {
        return Err(libc::EOPNOTSUPP); // Linux has no symlink modes
    }
    let real = std::fs::read_link(format!("/proc/self/fd/{}", target.as_raw_fd()))
        .map_err(|_| libc::EPERM)?;
    // Strictly beneath a root: a writable root itself (/tmp!) keeps its mode.
    let writable = real.is_absolute()
        && (real.starts_with("/dev/shm/")
            || policy
                .writable
                .iter()
                .any(|r| real.starts_with(r) && real != *r));
    let credentials = caller_credentials(pid).ok_or(libc::EPERM)?;
    if !writable || st.st_uid != credentials.fsuid {
        return Err(libc::EPERM);
    }
    // SAFETY (both arms): calls on our O_PATH descriptor of the resolved inode.
    let done = match change {
        Change::Mode(mode) => {
            // No set-uid or set-gid bit: a root command would leave a
            // root-owned set-uid binary for any local user.
            if mode & u64::from(libc::S_ISUID | libc::S_ISGID) != 0 {
                return Err(libc::EPERM);
            }
            let via = CString::new(format!("/proc/self/fd/{}", target.as_raw_fd()))
                .map_err(|_| libc::EINVAL)?;
            unsafe { libc::chmod(via.as_ptr(), (mode as libc::mode_t) & 0o7777) }
        }
        Change::Owner { uid, gid } => {
            // What the caller, holding no capability, could do itself.
            let keep = u32::MAX;
            if (uid != keep && uid != credentials.fsuid)
                || (gid != keep && !credentials.groups.contains(&gid))
            {
                return Err(libc::EPERM);
            }
            unsafe {
                libc::fchownat(
                    target.as_raw_fd(),
                    c"".as_ptr(),
                    uid,
                    gid,
                    libc::AT_EMPTY_PATH | libc::AT_SYMLINK_NOFOLLOW,
                )
            }
        }
    };
    if done < 0 {
        return Err(last_errno());
    }
    Ok(())
}

/// A caller's file-system uid and the gids it may give a file (its fsgid and
/// supplementary groups), as this process sees them.
struct Credentials {
    fsuid: libc::uid_t,
    groups: Vec<libc::gid_t>,
}

fn caller_credentials(pid: libc::pid_t) -> Option<Credentials> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| status.lines().find_map(|l| l.strip_prefix(name));
    let fsuid = field("Uid:")?.split_whitespace().nth(3)?.parse().ok()?;
    let mut groups: Vec<libc::gid_t> = field("Groups:")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|g| g.parse().ok())
        .collect();
    groups.push(field("Gid:")?.split_whitespace().nth(3)?.parse().ok()?);
    Some(Credentials { fsuid, groups })
}

/// A NUL-terminated string of at most `PATH_MAX` bytes from the caller's
/// memory, read page by page (a string near the end of a mapping must not
/// fault on the page after it).
fn read_c_string(pid: libc::pid_t, address: u64) -> Result<Vec<u8>, i32> {
    const PAGE: u64 = 4096;
    let mut out = Vec::new();
    let mut at = address;
    while out.len() < libc::PATH_MAX as usize {
        let chunk = (PAGE - at % PAGE) as usize;
        let mut buf = vec![0u8; chunk];
        let local = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: chunk,
        };
        let remote = libc::iovec {
            iov_base: at as *mut libc::c_void,
            iov_len: chunk,
        };
        // SAFETY: reads up to `chunk` bytes of the caller's memory into `buf`.
        let n = unsafe { libc::process_vm_readv(pid, &local, 1, &remote, 1, 0) };
        if n <= 0 {
            return Err(libc::EFAULT);
        }
        let got = &buf[..n as usize];
        if let Some(end) = got.iter().position(|&b| b == 0) {
            out.extend_from_slice(&got[..end]);
            return Ok(out);
        }
        out.extend_from_slice(got);
        at += n as u64;
    }
    Err(libc::ENAMETOOLONG)
}

/// A pidfd for the calling task: `pid` is a thread id. `PIDFD_THREAD` (Linux
/// 6.9) names the thread itself; before it, the thread group's leader (found
/// in `/proc/<tid>/status`) — the same descriptor table either way.
fn task_pidfd(tid: libc::pid_t) -> Result<OwnedFd, i32> {
    const PIDFD_THREAD: u32 = libc::O_EXCL as u32;
    // SAFETY: pidfd_open takes a pid and flags.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, tid, PIDFD_THREAD) };
    if fd >= 0 {
        return owned(fd);
    }
    let status = std::fs::read_to_string(format!("/proc/{tid}/status")).map_err(|_| libc::ESRCH)?;
    let tgid: libc::pid_t = status
        .lines()
        .find_map(|l| l.strip_prefix("Tgid:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or(libc::ESRCH)?;
    // SAFETY: as above.
    owned(unsafe { libc::syscall(libc::SYS_pidfd_open, tgid, 0u32) })
}

fn sockopt(socket: &OwnedFd, option: libc::c_int) -> Result<libc::c_int, i32> {
    let mut value: libc::c_int = 0;
    let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into an int-sized buffer.
    let ret = unsafe {
        libc::getsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            option,
            (&mut value as *mut libc::c_int).cast(),
            &mut size,
        )
    };
    if ret < 0 {
        Err(last_errno())
    } else {
        Ok(value)
    }
}

fn connect(socket: &OwnedFd, address: &[u8]) -> Result<(), i32> {
    // SAFETY: `address` holds `address.len()` bytes of a sockaddr.
    let ret = unsafe {
        libc::connect(
            socket.as_raw_fd(),
            address.as_ptr().cast(),
            address.len() as libc::socklen_t,
        )
    };
    if ret < 0 { Err(last_errno()) } else { Ok(()) }
}

/// Opens the socket file `path` as the caller sees it: from its root
/// (absolute) or its working directory (relative), following ordinary
/// symlinks but no `/proc` magic link (which would name the broker's own
/// descriptors and root).
fn resolve(pid: libc::pid_t, path: &[u8]) -> Result<OwnedFd, i32> {
    let fd = resolve_path(pid, None, path, false)?;
    if stat_of(&fd)?.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return Err(libc::ECONNREFUSED);
    }
    Ok(fd)
}

/// `path` as the caller `pid` sees it, opened `O_PATH`: relative to `start`
/// (a directory of the caller's) or its working directory, or from its root.
/// One component at a time, so that every symlink — an absolute one too — is
/// followed in the caller's view (its root, its mounts: the read-only binds,
/// the private `/dev`), never the broker's; symlinks on procfs (the magic
/// links of `/proc/<pid>/…`, which would name the broker's own descriptors and
/// root) are refused. The final symlink is not followed when `nofollow`.
fn resolve_path(
    pid: libc::pid_t,
    start: Option<OwnedFd>,
    path: &[u8],
    nofollow: bool,
) -> Result<OwnedFd, i32> {
    const MAX_LINKS: usize = 40;
    const PROC_SUPER_MAGIC: libc::c_long = 0x9fa0;
    let root = open_dir(&format!("/proc/{pid}/root"))?;
    let mut current = match (path.first(), start) {
        (Some(b'/'), _) => duplicate(&root)?,
        (_, Some(dir)) => dir,
        (_, None) => open_dir(&format!("/proc/{pid}/cwd"))?,
    };
    let mut pending: std::collections::VecDeque<Vec<u8>> = path
        .split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let mut links = 0;
    while let Some(name) = pending.pop_front() {
        if name == b"." {
            continue;
        }
        if name == b".." {
            if same_inode(&current, &root) {
                continue;
            }
            current = open_at(&current, b"..", libc::O_DIRECTORY)?;
            continue;
        }
        let next = open_at(&current, &name, libc::O_NOFOLLOW)?;
        let st = stat_of(&next)?;
        let last = pending.is_empty();
        if st.st_mode & libc::S_IFMT == libc::S_IFLNK && !(last && nofollow) {
            links += 1;
            // SAFETY: a zeroed statfs is a valid out-parameter.
            let mut fs: libc::statfs = unsafe { std::mem::zeroed() };
            // SAFETY: fstatfs of our descriptor.
            let on_proc = unsafe { libc::fstatfs(next.as_raw_fd(), &mut fs) } == 0
                && fs.f_type as libc::c_long == PROC_SUPER_MAGIC;
            if links > MAX_LINKS || on_proc {
                return Err(libc::ELOOP);
            }
            let mut buf = vec![0u8; libc::PATH_MAX as usize];
            // SAFETY: readlinkat of our O_PATH symlink descriptor into `buf`.
            let n = unsafe {
                libc::readlinkat(
                    next.as_raw_fd(),
                    c"".as_ptr(),
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                )
            };
            if n < 0 {
                return Err(last_errno());
            }
            let target = &buf[..n as usize];
            if target.first() == Some(&b'/') {
                current = duplicate(&root)?;
            }
            for component in target.split(|&b| b == b'/').rev() {
                if !component.is_empty() {
                    pending.push_front(component.to_vec());
                }
            }
            continue;
        }
        if !last && st.st_mode & libc::S_IFMT != libc::S_IFDIR {
            return Err(libc::ENOTDIR);
        }
        current = next;
    }
    Ok(current)
}

fn open_dir(path: &str) -> Result<OwnedFd, i32> {
    let path = CString::new(path).map_err(|_| libc::EINVAL)?;
    // SAFETY: open of a NUL-terminated path.
    owned(
        unsafe {
            libc::open(
                path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        }
        .into(),
    )
}

fn open_at(dir: &OwnedFd, name: &[u8], flags: libc::c_int) -> Result<OwnedFd, i32> {
    let name = CString::new(name).map_err(|_| libc::EINVAL)?;
    // SAFETY: openat of one NUL-terminated component beneath our descriptor.
    owned(
        unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_PATH | libc::O_CLOEXEC | flags,
            )
        }
        .into(),
    )
}

fn duplicate(fd: &OwnedFd) -> Result<OwnedFd, i32> {
    fd.try_clone()
        .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
}

fn stat_of(fd: &OwnedFd) -> Result<libc::stat, i32> {
    // SAFETY: a zeroed stat is a valid out-parameter.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat of our descriptor.
    if unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } < 0 {
        return Err(last_errno());
    }
    Ok(st)
}

fn same_inode(a: &OwnedFd, b: &OwnedFd) -> bool {
    match (stat_of(a), stat_of(b)) {
        (Ok(a), Ok(b)) => a.st_dev == b.st_dev && a.st_ino == b.st_ino,
        _ => false,
    }
}

/// A `sockaddr_un` naming the inode behind `target` through `/proc/self/fd`.
fn proc_address(target: &OwnedFd) -> Result<Vec<u8>, i32> {
    let path = format!("/proc/self/fd/{}", target.as_raw_fd());
    let mut address = (libc::AF_UNIX as u16).to_ne_bytes().to_vec();
    address.extend_from_slice(OsStr::new(&path).as_bytes());
    address.push(0);
    Ok(address)
}

/// Whether the process listening at `address` belongs to the sandbox (shares
/// the PID namespace of the caller `pid`). Finds out with a throw-away socket
/// of the broker's own; the caller's socket is untouched.
fn listener_inside(
    kind: libc::c_int,
    address: &[u8],
    pid: libc::pid_t,
    policy: &BrokerPolicy,
) -> Result<bool, i32> {
    if !policy.own_pid_namespace {
        return Ok(false);
    }
    // SAFETY: a new socket of ours.
    let probe = owned(
        unsafe {
            libc::socket(
                libc::AF_UNIX,
                kind | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        }
        .into(),
    )?;
    connect(&probe, address)?;
    // The listener as a pidfd (SO_PEERPIDFD, Linux 6.5), never as a pid
    // number: the process that called listen() may have exited (a daemon that
    // forks) and its number been handed to a process of the sandbox. A dead
    // listener, or a kernel without the option, counts as outside.
    const SO_PEERPIDFD: libc::c_int = 77;
    let mut raw: libc::c_int = -1;
    let mut size = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt into an int.
    if unsafe {
        libc::getsockopt(
            probe.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&mut raw as *mut libc::c_int).cast(),
            &mut size,
        )
    } < 0
    {
        return Ok(false);
    }
    let listener = owned(raw.into())?;
    if crate::child::process_gone(listener.as_raw_fd()) {
        return Ok(false);
    }
    let Some(listener_pid) =
        std::fs::read_to_string(format!("/proc/self/fdinfo/{}", listener.as_raw_fd()))
            .ok()
            .and_then(|info| {
                info.lines()
                    .find_map(|l| l.strip_prefix("Pid:"))
                    .and_then(|v| v.trim().parse::<libc::pid_t>().ok())
            })
            .filter(|pid| *pid > 0)
    else {
        return Ok(false);
    };
    let namespace = |p: libc::pid_t| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(format!("/proc/{p}/ns/pid")).map(|m| (m.dev(), m.ino()))
    };
    let same = matches!(
        (namespace(listener_pid), namespace(pid)),
        (Ok(listener), Ok(caller)) if listener == caller
    );
    // Alive after the look at /proc/<pid>: that number was still its own.
    Ok(same && !crate::child::process_gone(listener.as_raw_fd()))
}
