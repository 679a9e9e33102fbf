//! What runs in the child between `fork` and `exec`.
//!
//! Everything here was allocated by the parent; the child only makes system calls
//! that are async-signal-safe (prctl, unshare, open/write/close, mount, umount2,
//! fork, waitpid, poll, socket/ioctl/bind/listen/sendmsg, landlock_restrict_self,
//! seccomp, _exit), because after `fork` in a multi-threaded caller any
//! allocation could deadlock.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use seccompiler::BpfProgram;

/// The steps of the child's setup, reported to the parent when one fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Stage {
    DeathSignal = 1,
    ParentGone,
    Unshare,
    Setgroups,
    UidMap,
    GidMap,
    PrivateMounts,
    BindMount,
    ReadOnlyRemount,
    Devices,
    Chdir,
    Fork,
    Capabilities,
    NoNewPrivileges,
    Landlock,
    Seccomp,
    SocketBroker,
    Loopback,
    EgressListeners,
    HideStaging,
    HidePath,
    OwnProc,
}

impl Stage {
    const ALL: [Self; 22] = [
        Self::DeathSignal,
        Self::ParentGone,
        Self::Unshare,
        Self::Setgroups,
        Self::UidMap,
        Self::GidMap,
        Self::PrivateMounts,
        Self::BindMount,
        Self::ReadOnlyRemount,
        Self::Devices,
        Self::Chdir,
        Self::Fork,
        Self::Capabilities,
        Self::NoNewPrivileges,
        Self::Landlock,
        Self::Seccomp,
        Self::SocketBroker,
        Self::Loopback,
        Self::EgressListeners,
        Self::HideStaging,
        Self::HidePath,
        Self::OwnProc,
    ];

    pub(crate) fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u32 == code)
    }

    /// What the step does, for error messages.
    pub(crate) const fn describe(self) -> &'static str {
        match self {
            Self::DeathSignal => "prctl(PR_SET_PDEATHSIG)",
            Self::ParentGone => "parent exited before the sandbox started",
            Self::Unshare => "clone(user, mount, pid, ipc namespaces)",
            Self::Setgroups => "writing /proc/self/setgroups",
            Self::UidMap => "writing /proc/self/uid_map",
            Self::GidMap => "writing /proc/self/gid_map",
            Self::PrivateMounts => "making mounts private",
            Self::BindMount => "bind-mounting a protected path",
            Self::ReadOnlyRemount => "remounting a protected path read-only",
            Self::Devices => "building the sandbox's /dev (tmpfs, device binds, devpts, /dev/shm)",
            Self::Chdir => "entering the working directory inside the mount namespace",
            Self::Fork => "forking the sandbox's first process",
            Self::Capabilities => "dropping every capability (bounding, ambient, permitted)",
            Self::NoNewPrivileges => "prctl(PR_SET_NO_NEW_PRIVS)",
            Self::Landlock => "landlock_restrict_self",
            Self::Seccomp => "installing the seccomp filter",
            Self::SocketBroker => "handing the unix-socket broker its seccomp listener",
            Self::Loopback => "bringing up `lo` in the sandbox's network namespace",
            Self::EgressListeners => {
                "listening on 127.0.0.1 for the egress proxy and handing the listeners out"
            }
            Self::HideStaging => {
                "making the empty read-only file and directory that cover hidden paths"
            }
            Self::HidePath => "covering a hidden path with an empty read-only mount",
            Self::OwnProc => "mounting the sandbox's own /proc (only its own processes)",
        }
    }
}

/// One mount in the sandbox's private mount namespace, made in plan order
/// (shallow first).
#[derive(Debug)]
pub(crate) struct MountStep {
    pub(crate) path: CString,
    pub(crate) kind: MountKind,
    /// Skipped if the path no longer exists (a pin, a nested repository
    /// removed since it was found, a hidden path: nothing left to hide); a
    /// required one fails the start.
    pub(crate) optional: bool,
}

/// What a [`MountStep`] puts on its path.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MountKind {
    /// The path bound onto itself: a pin (`None`), or a protected path
    /// remounted read-only with these extra flags (the original mount's
    /// locked nosuid/nodev/noexec/atime flags, which a user namespace may
    /// not drop).
    Bind { read_only: Option<libc::c_ulong> },
    /// A hidden directory: the staged empty directory ([`HIDDEN_DIR`])
    /// bound over it, read-only.
    HideDirectory,
    /// A hidden file (of any type but a directory): the staged empty file
    /// ([`HIDDEN_FILE`]) bound over it, read-only.
    HideFile,
}

/// Flags of every mount that hides a path: nothing on it can be written,
/// executed, or act as a device or set-uid file.
const HIDE_FLAGS: libc::c_ulong =
    libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
/// Where the empty file and the empty directory bound over hidden paths are
/// made: on one small tmpfs mounted over the host's `/dev` for the time of
/// the mounts (the private `/dev` replaces it afterwards, so no path of the
/// host is shadowed), then detached: only the read-only binds still reach
/// them. One tmpfs for every hidden path, and a bind per path, rather than
/// a file system per hidden directory.
const HIDE_STAGING: &std::ffi::CStr = c"/dev";
const HIDDEN_FILE: &std::ffi::CStr = c"/dev/codex-policy-hidden";
const HIDDEN_DIR: &std::ffi::CStr = c"/dev/codex-policy-hidden-dir";

/// The sandbox's own `/dev`: a tmpfs holding only the ordinary devices (bound
/// from the host), a private devpts instance and a private `/dev/shm`.
#[derive(Debug)]
pub(crate) struct DeviceSetup {
    /// The host's device nodes to bind (the same path under the new `/dev`).
    pub(crate) nodes: Vec<CString>,
    /// The tmpfs's options (its size leaves room for the bundle).
    pub(crate) tmpfs_options: CString,
    /// Certificates the command trusts, written read-only at
    /// [`CA_BUNDLE_PATH`](crate::sandbox::CA_BUNDLE_PATH).
    pub(crate) ca_bundle: Option<std::sync::Arc<[u8]>>,
    /// Landlock rights granted beneath the private `/dev/shm` and `/dev/pts`,
    /// which exist only once mounted: rules added in the child.
    pub(crate) shm_access: u64,
    pub(crate) pts_access: u64,
}

/// The namespace settings that do not depend on the command nor on what is
/// on disk: built once, shared by every start.
#[derive(Debug)]
pub(crate) struct NamespaceConfig {
    pub(crate) flags: libc::c_int,
    pub(crate) uid_map: Vec<u8>,
    pub(crate) gid_map: Vec<u8>,
    pub(crate) devices: Option<DeviceSetup>,
    /// A filtered network: the ports (HTTP, SOCKS) of the listeners made on
    /// the loopback of the sandbox's own network namespace and handed out
    /// for the caller's egress proxy.
    pub(crate) egress: Option<[u16; 2]>,
    /// Best effort: where the kernel refuses a new procfs (a container
    /// whose /proc has masked paths), keep the host's /proc rather than fail.
    pub(crate) host_proc_tolerated: bool,
}

/// Namespace work done in the child.
#[derive(Debug)]
pub(crate) struct NamespaceSetup {
    pub(crate) config: Arc<NamespaceConfig>,
    /// Pins, read-only binds and hidden paths, shallow first: found on disk
    /// for each start.
    pub(crate) mounts: Vec<MountStep>,
    /// The working directory, entered again after mounting: a directory entered
    /// before (std does it before `pre_exec`) still refers to the original mount
    /// and would see beneath the read-only binds.
    pub(crate) cwd: CString,
    /// A filtered network: the sandbox's end of this start's socket pair,
    /// where its first process sends the egress listeners (one message).
    pub(crate) egress: Option<OwnedFd>,
}

/// How the sandbox learns that whoever started it is gone.
#[derive(Debug)]
pub(crate) enum ParentLink {
    /// A forked child of the caller (`spawn`): a reaper stays between the
    /// caller and the sandbox and watches a pidfd of the caller's *process* —
    /// `PR_SET_PDEATHSIG` would follow the calling thread, and a thread that
    /// exits would kill the sandbox. Without pidfds (Linux < 5.3) there is no
    /// reaper without namespaces, and the death signal it is.
    Forked {
        pid: libc::pid_t,
        pidfd: Option<OwnedFd>,
    },
    /// The caller runs the steps itself (`supervise`) and supervises; it
    /// watches its own parent while it waits.
    InPlace,
}

/// Everything the child needs, prepared by the parent.
#[derive(Debug)]
pub(crate) struct ChildSetup {
    pub(crate) parent: ParentLink,
    pub(crate) namespaces: Option<NamespaceSetup>,
    /// A ruleset of this start's own: the child adds rules for its private
    /// `/dev` to it.
    pub(crate) landlock: Option<OwnedFd>,
    pub(crate) seccomp: Option<Arc<BpfProgram>>,
    /// The sandbox's end of a socket pair: the seccomp listener for `connect`
    /// goes to the unix-socket broker through it.
    pub(crate) broker: Option<OwnedFd>,
    /// Write end of a CLOEXEC pipe: a failing step writes (stage, errno) here.
    pub(crate) error_pipe: Option<OwnedFd>,
}

type StepResult = Result<(), (Stage, i32)>;

/// Which process [`ChildSetup::steps`] returned in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The process that becomes the command: exec it.
    Command,
    /// The supervisor outside the namespaces: wait for `init`; keep `lifeline`
    /// open until then (its closing tells the sandbox its supervisor is gone);
    /// `status` (non-blocking) holds the command's wait status once init has
    /// exited.
    Reaper {
        init: libc::pid_t,
        lifeline: libc::c_int,
        status: libc::c_int,
    },
}

fn errno() -> i32 {
    // SAFETY: reading the thread's errno is always valid.
    unsafe { *libc::__errno_location() }
}

fn check(ret: libc::c_long, stage: Stage) -> StepResult {
    if ret < 0 {
        Err((stage, errno()))
    } else {
        Ok(())
    }
}

impl ChildSetup {
    /// Runs in the forked child. Returns an error (after reporting it on the error
    /// pipe) if any step fails; `std` then reports it as a spawn failure.
    ///
    /// # Safety
    /// Must be called only between `fork` and `exec`, in the child.
    pub(crate) unsafe fn apply(&self) -> io::Result<()> {
        // SAFETY: forwarded from the caller's contract.
        match unsafe { self.steps() } {
            Ok(Role::Command) => Ok(()),
            // Not requested on this path (the parent link is `Forked`).
            Ok(Role::Reaper { .. }) => Err(io::Error::from_raw_os_error(libc::EINVAL)),
            Err((stage, code)) => {
                self.report(stage, code);
                Err(io::Error::from_raw_os_error(code))
            }
        }
    }

    /// Writes a failed step on the error pipe (async-signal-safe).
    pub(crate) fn report(&self, stage: Stage, code: i32) {
        let mut record = [0u8; 8];
        record[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
        record[4..].copy_from_slice(&code.to_ne_bytes());
        if let Some(pipe) = &self.error_pipe {
            // SAFETY: writing a stack buffer to a descriptor we own.
            unsafe {
                libc::write(pipe.as_raw_fd(), record.as_ptr().cast(), record.len());
            }
        }
    }

    /// The setup steps. Never returns on the reaper's side of the namespace
    /// clone (unless the parent link is `InPlace`), nor on init's: only the
    /// process that becomes the command returns `Role::Command`.
    ///
    /// # Safety
    /// In a forked child only async-signal-safe calls may follow; the memory
    /// used was prepared by the parent.
    pub(crate) unsafe fn steps(&self) -> Result<Role, (Stage, i32)> {
        // SAFETY (whole function): only async-signal-safe system calls on memory
        // the parent prepared and that outlives the child's use of it.
        unsafe {
            let mut watch: Option<libc::c_int> = None;
            let mut status_write: libc::c_int = -1;
            match &self.parent {
                ParentLink::Forked {
                    pidfd: Some(pidfd), ..
                } => {
                    if process_gone(pidfd.as_raw_fd()) {
                        return Err((Stage::ParentGone, libc::ESRCH));
                    }
                    watch = Some(pidfd.as_raw_fd());
                }
                ParentLink::Forked { pid, .. } => {
                    check(
                        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL).into(),
                        Stage::DeathSignal,
                    )?;
                    if libc::getppid() != *pid {
                        return Err((Stage::ParentGone, libc::ESRCH));
                    }
                }
                ParentLink::InPlace => {}
            }
            if let Some(ns) = &self.namespaces {
                // Stop signals wait until each process of the chain relays them
                // (the reaper, then init); a supervisor has blocked them already.
                block_supervised_signals(true, std::ptr::null_mut());
                match clone_into_namespaces(ns)? {
                    Side::Outside {
                        init,
                        lifeline,
                        status,
                    } => {
                        if matches!(self.parent, ParentLink::InPlace) {
                            return Ok(Role::Reaper {
                                init,
                                lifeline,
                                status,
                            });
                        }
                        reap(init, Some(lifeline), Some(status), watch);
                    }
                    Side::Inside { status } => status_write = status,
                }
                if let (Some(devices), Some(ruleset)) = (&ns.config.devices, &self.landlock) {
                    grant_private_devices(devices, ruleset.as_raw_fd())?;
                }
            } else if let Some(watch) = watch {
                // No namespaces: a reaper all the same, watching the caller's
                // process, and the command's death signal armed against the
                // reaper — single-threaded, it lives as long as the command.
                block_supervised_signals(true, std::ptr::null_mut());
                let reaper = libc::getpid();
                let pid = libc::syscall(
                    libc::SYS_clone,
                    libc::SIGCHLD,
                    0usize,
                    0usize,
                    0usize,
                    0usize,
                );
                if pid < 0 {
                    return Err((Stage::Fork, errno()));
                }
                if pid > 0 {
                    reap(pid as libc::pid_t, None, None, Some(watch));
                }
                check(
                    libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL).into(),
                    Stage::DeathSignal,
                )?;
                if libc::getppid() != reaper {
                    return Err((Stage::ParentGone, libc::ESRCH));
                }
                block_supervised_signals(false, std::ptr::null_mut());
            }
            drop_capabilities()?;
            check(
                libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0).into(),
                Stage::NoNewPrivileges,
            )?;
            if let Some(ruleset) = &self.landlock {
                check(
                    libc::syscall(libc::SYS_landlock_restrict_self, ruleset.as_raw_fd(), 0u32),
                    Stage::Landlock,
                )?;
            }
            if let Some(program) = &self.seccomp {
                install_seccomp(program, self.broker.as_ref().map(AsRawFd::as_raw_fd))?;
            }
            if self.namespaces.is_some() {
                become_init(status_write)?;
            }
        }
        Ok(Role::Command)
    }
}

/// Whether the process behind `pidfd` has exited (its pidfd polls readable).
pub(crate) fn process_gone(pidfd: libc::c_int) -> bool {
    let mut poll = libc::pollfd {
        fd: pidfd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polling one valid pollfd without waiting.
    unsafe { libc::poll(&mut poll, 1, 0) > 0 }
}

/// `pidfd_open(2)`, or `None` where the kernel has none (Linux < 5.3).
pub(crate) fn pidfd_open(pid: libc::pid_t) -> Option<libc::c_int> {
    // SAFETY: pidfd_open takes a pid and flags; returns a new descriptor.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    (fd >= 0).then_some(fd as libc::c_int)
}

/// Which side of the namespace clone [`clone_into_namespaces`] returned on.
enum Side {
    /// The caller (reaper or supervisor): the new PID 1, the write end of
    /// the lifeline, the read end (non-blocking) of the status pipe.
    Outside {
        init: libc::pid_t,
        lifeline: libc::c_int,
        status: libc::c_int,
    },
    /// The new PID 1: the write end of the status pipe, where it leaves the
    /// command's raw wait status.
    Inside { status: libc::c_int },
}

/// Creates the sandbox's first process directly in new user, mount, PID and
/// IPC (and network) namespaces — the caller stays in its own, so a supervisor
/// keeps writing its audit log on the host's mounts — and returns its pid in
/// the caller. In the new process: death signal, uid/gid maps, private mounts,
/// pins and read-only binds, the private `/dev`, `chdir`; for a filtered
/// network, `lo` up and the egress listeners handed out.
unsafe fn clone_into_namespaces(ns: &NamespaceSetup) -> Result<Side, (Stage, i32)> {
    // SAFETY (whole function): async-signal-safe calls on parent-prepared memory.
    unsafe {
        // The lifeline lets the new PID 1 notice if the reaper died before PID 1
        // armed its own death signal.
        let mut lifeline = [0 as libc::c_int; 2];
        check(
            libc::pipe2(lifeline.as_mut_ptr(), libc::O_CLOEXEC).into(),
            Stage::Fork,
        )?;
        // PID 1 exits with 128+N when signal N killed the command (it cannot
        // die of most signals itself); the raw status, here, tells the two
        // apart.
        let mut status = [0 as libc::c_int; 2];
        if libc::pipe2(status.as_mut_ptr(), libc::O_CLOEXEC) < 0 {
            let err = errno();
            libc::close(lifeline[0]);
            libc::close(lifeline[1]);
            return Err((Stage::Fork, err));
        }
        // A raw clone with no new stack behaves as fork, with namespace flags.
        let flags = (ns.config.flags | libc::SIGCHLD) as libc::c_ulong;
        let pid = libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize);
        if pid < 0 {
            let err = errno();
            for fd in lifeline.into_iter().chain(status) {
                libc::close(fd);
            }
            return Err((Stage::Unshare, err));
        }
        if pid > 0 {
            libc::close(lifeline[0]);
            libc::close(status[1]);
            libc::fcntl(status[0], libc::F_SETFL, libc::O_NONBLOCK);
            return Ok(Side::Outside {
                init: pid as libc::pid_t,
                lifeline: lifeline[1],
                status: status[0],
            });
        }
        libc::close(lifeline[1]);
        libc::close(status[0]);
        check(
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL).into(),
            Stage::DeathSignal,
        )?;
        let mut poll = libc::pollfd {
            fd: lifeline[0],
            events: libc::POLLIN,
            revents: 0,
        };
        if libc::poll(&mut poll, 1, 0) != 0 {
            // The reaper is gone (its end of the pipe closed): do not run orphaned.
            return Err((Stage::ParentGone, libc::ESRCH));
        }
        libc::close(lifeline[0]);

        write_file(c"/proc/self/setgroups", b"deny", Stage::Setgroups)?;
        write_file(c"/proc/self/uid_map", &ns.config.uid_map, Stage::UidMap)?;
        write_file(c"/proc/self/gid_map", &ns.config.gid_map, Stage::GidMap)?;
        let none = std::ptr::null();
        mount(
            none,
            c"/".as_ptr(),
            libc::MS_REC | libc::MS_PRIVATE,
            Stage::PrivateMounts,
        )?;
        let hides = ns
            .mounts
            .iter()
            .any(|step| matches!(step.kind, MountKind::HideFile | MountKind::HideDirectory));
        if hides {
            stage_hidden()?;
        }
        for step in &ns.mounts {
            let path = step.path.as_ptr();
            let (made, stage) = match step.kind {
                MountKind::Bind { .. } => (
                    libc::mount(
                        path,
                        path,
                        none,
                        libc::MS_BIND | libc::MS_REC,
                        std::ptr::null(),
                    ),
                    Stage::BindMount,
                ),
                MountKind::HideDirectory => (
                    libc::mount(
                        HIDDEN_DIR.as_ptr(),
                        path,
                        none,
                        libc::MS_BIND,
                        std::ptr::null(),
                    ),
                    Stage::HidePath,
                ),
                MountKind::HideFile => (
                    libc::mount(
                        HIDDEN_FILE.as_ptr(),
                        path,
                        none,
                        libc::MS_BIND,
                        std::ptr::null(),
                    ),
                    Stage::HidePath,
                ),
            };
            if made < 0 {
                if step.optional && errno() == libc::ENOENT {
                    continue;
                }
                return Err((stage, errno()));
            }
            match step.kind {
                MountKind::Bind {
                    read_only: Some(locked),
                } => {
                    let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | locked;
                    mount(none, path, flags, Stage::ReadOnlyRemount)?;
                }
                // The staging tmpfs is this namespace's own: no flag of it
                // is locked.
                MountKind::HideFile | MountKind::HideDirectory => {
                    let flags = libc::MS_REMOUNT | libc::MS_BIND | HIDE_FLAGS;
                    mount(none, path, flags, Stage::HidePath)?;
                }
                MountKind::Bind { read_only: None } => {}
            }
        }
        if hides {
            check(
                libc::umount2(HIDE_STAGING.as_ptr(), libc::MNT_DETACH).into(),
                Stage::HideStaging,
            )?;
        }
        if let Some(devices) = &ns.config.devices {
            private_dev(devices)?;
        }
        // The host's /proc would show every host process's command line
        // (passwords passed as arguments) and, through `/proc/<pid>/root`,
        // a view past the hidden paths' mounts: this process is PID 1 of
        // the new PID namespace, and its own proc shows that namespace only.
        if libc::mount(
            c"proc".as_ptr(),
            c"/proc".as_ptr(),
            c"proc".as_ptr(),
            libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
            std::ptr::null(),
        ) < 0
            && !ns.config.host_proc_tolerated
        {
            return Err((Stage::OwnProc, errno()));
        }
        check(libc::chdir(ns.cwd.as_ptr()).into(), Stage::Chdir)?;
        // While this process still holds every capability of its user
        // namespace (so of the network namespace it owns): configuring `lo`
        // needs CAP_NET_ADMIN, and nothing of the command ever holds it.
        if let Some(ports) = ns.config.egress {
            let Some(socket) = &ns.egress else {
                return Err((Stage::EgressListeners, libc::EBADF));
            };
            loopback_up()?;
            hand_out_listeners(ports, socket.as_raw_fd())?;
        }
        Ok(Side::Inside { status: status[1] })
    }
}

/// Mounts a tmpfs at [`HIDE_STAGING`] holding one empty file, mode 0444,
/// at [`HIDDEN_FILE`] and one empty directory, mode 0555, at [`HIDDEN_DIR`]:
/// what every hidden file and directory is covered with. Async-signal-safe.
unsafe fn stage_hidden() -> StepResult {
    // SAFETY (whole function): mount/open/close on constant paths.
    unsafe {
        check(
            libc::mount(
                c"tmpfs".as_ptr(),
                HIDE_STAGING.as_ptr(),
                c"tmpfs".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                c"size=4k,mode=0700".as_ptr().cast(),
            )
            .into(),
            Stage::HideStaging,
        )?;
        let fd = libc::open(
            HIDDEN_FILE.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0o444,
        );
        if fd < 0 {
            return Err((Stage::HideStaging, errno()));
        }
        libc::close(fd);
        check(
            libc::mkdir(HIDDEN_DIR.as_ptr(), 0o555).into(),
            Stage::HideStaging,
        )?;
    }
    Ok(())
}

/// Mounts the sandbox's `/dev`: only null, zero, full, random, urandom and tty
/// from the host; a new devpts instance (the command's own pty pairs, none of
/// the host's terminals); a private `/dev/shm`; the usual fd links.
unsafe fn private_dev(devices: &DeviceSetup) -> StepResult {
    // SAFETY (whole function): async-signal-safe calls on parent-prepared memory.
    unsafe {
        let fs = |source: &std::ffi::CStr,
                  target: &std::ffi::CStr,
                  fstype: &std::ffi::CStr,
                  flags: libc::c_ulong,
                  data: &std::ffi::CStr| {
            check(
                libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    fstype.as_ptr(),
                    flags,
                    data.as_ptr().cast(),
                )
                .into(),
                Stage::Devices,
            )
        };
        // Detached copies of the host's nodes, taken before /dev is covered
        // (a bind needs its source in this namespace: open_tree clones it).
        const OPEN_TREE_CLONE: libc::c_uint = 1;
        const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;
        let mut trees = [-1 as libc::c_int; 8];
        for (tree, node) in trees.iter_mut().zip(&devices.nodes) {
            *tree = libc::syscall(
                libc::SYS_open_tree,
                libc::AT_FDCWD,
                node.as_ptr(),
                OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint,
            ) as libc::c_int;
        }
        fs(
            c"tmpfs",
            c"/dev",
            c"tmpfs",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            &devices.tmpfs_options,
        )?;
        for (&tree, node) in trees.iter().zip(&devices.nodes) {
            if tree < 0 {
                continue; // absent on this host: absent in the sandbox too
            }
            let fd = libc::open(
                node.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
                0o666,
            );
            if fd < 0 {
                return Err((Stage::Devices, errno()));
            }
            libc::close(fd);
            check(
                libc::syscall(
                    libc::SYS_move_mount,
                    tree,
                    c"".as_ptr(),
                    libc::AT_FDCWD,
                    node.as_ptr(),
                    MOVE_MOUNT_F_EMPTY_PATH,
                ),
                Stage::Devices,
            )?;
            libc::close(tree);
        }
        check(
            libc::mkdir(c"/dev/pts".as_ptr(), 0o755).into(),
            Stage::Devices,
        )?;
        fs(
            c"devpts",
            c"/dev/pts",
            c"devpts",
            libc::MS_NOSUID | libc::MS_NOEXEC,
            c"newinstance,ptmxmode=0666,mode=0620",
        )?;
        check(
            libc::mkdir(c"/dev/shm".as_ptr(), 0o1777).into(),
            Stage::Devices,
        )?;
        fs(
            c"tmpfs",
            c"/dev/shm",
            c"tmpfs",
            libc::MS_NOSUID | libc::MS_NODEV,
            c"mode=1777",
        )?;
        if let Some(bundle) = &devices.ca_bundle {
            write_new_file(crate::sandbox::CA_BUNDLE_C_PATH, bundle)?;
        }
        for (target, link) in [
            (c"pts/ptmx", c"/dev/ptmx"),
            (c"/proc/self/fd", c"/dev/fd"),
            (c"/proc/self/fd/0", c"/dev/stdin"),
            (c"/proc/self/fd/1", c"/dev/stdout"),
            (c"/proc/self/fd/2", c"/dev/stderr"),
        ] {
            check(
                libc::symlink(target.as_ptr(), link.as_ptr()).into(),
                Stage::Devices,
            )?;
        }
        // Complete: read-only from here (its own devpts and /dev/shm are
        // mounts of their own and stay writable), so the command can neither
        // add to /dev nor replace, move or re-mode what is in it.
        fs(
            c"none",
            c"/dev",
            c"",
            libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | libc::MS_NOSUID | libc::MS_NOEXEC,
            c"",
        )?;
    }
    Ok(())
}

/// Creates `path` (it must not exist), read-only for everyone, holding `bytes`.
unsafe fn write_new_file(path: &std::ffi::CStr, bytes: &[u8]) -> StepResult {
    // SAFETY (whole function): open/write/close on parent-prepared memory.
    unsafe {
        let fd = libc::open(
            path.as_ptr(),
            libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NOFOLLOW,
            0o444,
        );
        if fd < 0 {
            return Err((Stage::Devices, errno()));
        }
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = libc::write(fd, rest.as_ptr().cast(), rest.len());
            if n < 0 && errno() == libc::EINTR {
                continue;
            }
            if n <= 0 {
                let err = errno();
                libc::close(fd);
                return Err((Stage::Devices, err));
            }
            rest = &rest[n as usize..];
        }
        libc::close(fd);
        Ok(())
    }
}

/// `struct landlock_path_beneath_attr` (packed in the kernel ABI).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

/// Grants the rights prepared by the parent beneath the private `/dev/shm` and
/// `/dev/pts`, which did not exist when the ruleset was built.
unsafe fn grant_private_devices(devices: &DeviceSetup, ruleset: libc::c_int) -> StepResult {
    for (path, access) in [
        (c"/dev/shm", devices.shm_access),
        (c"/dev/pts", devices.pts_access),
    ] {
        if access == 0 {
            continue;
        }
        // SAFETY: open/landlock_add_rule/close on a NUL-terminated path and a
        // stack attribute.
        unsafe {
            let fd = libc::open(
                path.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            );
            if fd < 0 {
                return Err((Stage::Landlock, errno()));
            }
            let attr = PathBeneathAttr {
                allowed_access: access,
                parent_fd: fd,
            };
            let ret = libc::syscall(
                libc::SYS_landlock_add_rule,
                ruleset,
                1u32, // LANDLOCK_RULE_PATH_BENEATH
                &attr as *const PathBeneathAttr,
                0u32,
            );
            let err = errno();
            libc::close(fd);
            if ret < 0 {
                return Err((Stage::Landlock, err));
            }
        }
    }
    Ok(())
}

/// `struct __user_cap_header_struct` and `__user_cap_data_struct` (version 3).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Locks root out of capabilities for good (`SECBIT_NOROOT`, no set-uid fixup,
/// no ambient raise — all locked), empties the bounding and ambient sets, then
/// the effective, permitted and inheritable ones, and checks they are empty.
/// Inside the sandbox's user namespace every capability of that namespace is
/// held at this point, and a root command would get them back at `exec`.
unsafe fn drop_capabilities() -> StepResult {
    const PR_SET_SECUREBITS: libc::c_int = 28;
    // NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE and every *_LOCKED bit.
    const SECUREBITS: libc::c_ulong = 0b1110_1111;
    let stage = Stage::Capabilities;
    let mut header = CapHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY (whole function): prctl/capget/capset on stack structures.
    unsafe {
        check(
            libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
            stage,
        )?;
        // Without any capability (an unprivileged caller without a user
        // namespace) none can be dropped, and none can be gained: no_new_privs
        // follows and the bounding set needs CAP_SETPCAP to change.
        if data.iter().any(|d| d.permitted != 0) {
            check(
                libc::prctl(PR_SET_SECUREBITS, SECUREBITS, 0, 0, 0).into(),
                stage,
            )?;
            for cap in 0..64 {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 {
                    if errno() == libc::EINVAL {
                        break; // past the last capability this kernel knows
                    }
                    return Err((stage, errno()));
                }
            }
        }
        // EINVAL: a kernel without ambient capabilities (< 4.3) has none to clear.
        if libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL,
            0,
            0,
            0,
        ) < 0
            && errno() != libc::EINVAL
        {
            return Err((stage, errno()));
        }
        let empty = [CapData::default(); 2];
        check(
            libc::syscall(libc::SYS_capset, &mut header, empty.as_ptr()),
            stage,
        )?;
        check(
            libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
            stage,
        )?;
        if data
            .iter()
            .any(|d| d.effective != 0 || d.permitted != 0 || d.inheritable != 0)
        {
            return Err((stage, libc::EPERM));
        }
    }
    Ok(())
}

/// Installs the seccomp program; with a broker socket, asks for a listener
/// (the program sends `connect` to it) and hands it to the broker.
unsafe fn install_seccomp(program: &BpfProgram, broker: Option<libc::c_int>) -> StepResult {
    const SECCOMP_FILTER_FLAG_NEW_LISTENER: libc::c_ulong = 1 << 3;
    let fprog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_ptr().cast_mut().cast(),
    };
    let flags = if broker.is_some() {
        SECCOMP_FILTER_FLAG_NEW_LISTENER
    } else {
        0
    };
    // SAFETY: the program outlives the call; the kernel copies it.
    let listener = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    };
    if listener < 0 {
        return Err((Stage::Seccomp, errno()));
    }
    if let Some(socket) = broker {
        let listener = listener as libc::c_int;
        // SAFETY: sendmsg of one descriptor, then closing our copy.
        let sent = unsafe { send_fd(socket, listener) };
        // SAFETY: closing a descriptor we own.
        unsafe { libc::close(listener) };
        if !sent {
            return Err((Stage::SocketBroker, errno()));
        }
    }
    Ok(())
}

/// Room for a few descriptors (the broker's listener; the two egress
/// listeners) in an `SCM_RIGHTS` control message, aligned as a `cmsghdr`
/// must be.
#[repr(C)]
pub(crate) union RightsBuffer {
    pub(crate) bytes: [u8; RIGHTS_BUFFER_BYTES],
    _align: libc::cmsghdr,
}

/// The size of a [`RightsBuffer`]: `CMSG_SPACE` of two descriptors (24 on
/// 64-bit targets) fits.
pub(crate) const RIGHTS_BUFFER_BYTES: usize = 32;

/// A message of the one byte behind `iov`, with `control` as its control
/// buffer (all of it; a sender sets the length it fills). Async-signal-safe.
pub(crate) fn rights_message(iov: &mut libc::iovec, control: &mut RightsBuffer) -> libc::msghdr {
    // SAFETY: a zeroed msghdr is valid; the pointers set outlive its use.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    // SAFETY: taking the address of the union's byte view.
    msg.msg_control = unsafe { control.bytes.as_mut_ptr() }.cast();
    msg.msg_controllen = std::mem::size_of::<RightsBuffer>() as _;
    msg
}

/// Sends `fd` over the unix socket `socket` (`SCM_RIGHTS`); async-signal-safe.
unsafe fn send_fd(socket: libc::c_int, fd: libc::c_int) -> bool {
    // SAFETY: forwarded from the caller's contract.
    unsafe { send_fds(socket, &[fd]) }
}

/// Sends `fds` (as many as a [`RightsBuffer`] holds; `false` for more) over
/// the unix socket `socket`, in one `SCM_RIGHTS` message with one byte of
/// data, so the receiver gets all of them or none; async-signal-safe.
pub(crate) unsafe fn send_fds(socket: libc::c_int, fds: &[libc::c_int]) -> bool {
    let size = std::mem::size_of_val(fds) as u32;
    // SAFETY: CMSG_SPACE is arithmetic.
    if fds.is_empty() || unsafe { libc::CMSG_SPACE(size) } as usize > RIGHTS_BUFFER_BYTES {
        return false;
    }
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = RightsBuffer {
        bytes: [0; RIGHTS_BUFFER_BYTES],
    };
    let mut msg = rights_message(&mut iov, &mut control);
    // SAFETY: the CMSG_* arithmetic of the C ABI over our control buffer,
    // which has room for the data (checked above); sendmsg is
    // async-signal-safe.
    unsafe {
        msg.msg_controllen = libc::CMSG_SPACE(size) as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size) as _;
        let data = libc::CMSG_DATA(cmsg).cast::<libc::c_int>();
        for (i, fd) in fds.iter().enumerate() {
            std::ptr::write_unaligned(data.add(i), *fd);
        }
        libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) == 1
    }
}

/// Brings up `lo` in the sandbox's new network namespace (it is created
/// down, without 127.0.0.1): the egress listeners are bound there.
/// Async-signal-safe.
unsafe fn loopback_up() -> StepResult {
    // SAFETY (whole function): socket/ioctl/close on a stack `ifreq`.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err((Stage::Loopback, errno()));
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        for (to, from) in request.ifr_name.iter_mut().zip(b"lo") {
            *to = *from as libc::c_char;
        }
        request.ifr_ifru.ifru_flags = (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
        let ret = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &request);
        let err = errno();
        libc::close(fd);
        if ret < 0 {
            return Err((Stage::Loopback, err));
        }
    }
    Ok(())
}

/// A TCP socket listening on 127.0.0.1:`port` (CLOEXEC, backlog 1024), or
/// the errno. Async-signal-safe.
unsafe fn listen_on_loopback(port: u16) -> Result<libc::c_int, i32> {
    // SAFETY (whole function): socket/bind/listen/close on a stack address.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(errno());
        }
        let mut addr: libc::sockaddr_in = std::mem::zeroed();
        addr.sin_family = libc::AF_INET as libc::sa_family_t;
        addr.sin_port = port.to_be();
        addr.sin_addr.s_addr = libc::INADDR_LOOPBACK.to_be();
        let bound = libc::bind(
            fd,
            (&addr as *const libc::sockaddr_in).cast(),
            std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
        );
        if bound < 0 || libc::listen(fd, 1024) < 0 {
            let err = errno();
            libc::close(fd);
            return Err(err);
        }
        Ok(fd)
    }
}

/// Listens on 127.0.0.1 at `ports` (HTTP, SOCKS) in the sandbox's network
/// namespace and sends both listeners in one message on `socket`, to the
/// caller's egress proxy; then closes them and `socket`, so no process of
/// the sandbox holds them (they are CLOEXEC besides). Async-signal-safe.
pub(crate) unsafe fn hand_out_listeners(ports: [u16; 2], socket: libc::c_int) -> StepResult {
    let mut listeners = [-1 as libc::c_int; 2];
    let mut failure = None;
    for (slot, port) in listeners.iter_mut().zip(ports) {
        // SAFETY: async-signal-safe calls only.
        match unsafe { listen_on_loopback(port) } {
            Ok(fd) => *slot = fd,
            Err(err) => {
                failure = Some(err);
                break;
            }
        }
    }
    // SAFETY: sendmsg of two descriptors we own.
    if failure.is_none() && !unsafe { send_fds(socket, &listeners) } {
        failure = Some(errno());
    }
    // SAFETY: closing descriptors we own.
    unsafe {
        for fd in listeners.into_iter().filter(|fd| *fd >= 0) {
            libc::close(fd);
        }
        libc::close(socket);
    }
    match failure {
        Some(err) => Err((Stage::EgressListeners, err)),
        None => Ok(()),
    }
}

/// Where forwarded signals go: the sandbox's init (from the reaper) or the
/// command (from the init). Set after `fork`, in the process that forwards.
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);

/// Signals a harness sends to stop a command gracefully.
const FORWARDED: [libc::c_int; 2] = [libc::SIGTERM, libc::SIGHUP];

extern "C" fn forward_signal(signal: libc::c_int) {
    let target = FORWARD_TO.load(Ordering::Relaxed);
    if target > 0 {
        // SAFETY: kill is async-signal-safe.
        unsafe { libc::kill(target, signal) };
    }
}

/// Signals the supervisor handles itself (forwards or leaves to the command).
const SUPERVISED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT, libc::SIGQUIT];

/// Blocks (or unblocks) [`SUPERVISED`] in the calling thread; with `old`, the
/// previous mask is stored there. A supervisor blocks them from before the
/// fork until its handlers are in place, so a signal sent as soon as the
/// command runs is held, not fatal; the sandbox's processes unblock them.
pub(crate) unsafe fn block_supervised_signals(block: bool, old: *mut libc::sigset_t) {
    // SAFETY: sigset manipulation and sigprocmask are async-signal-safe.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in SUPERVISED {
            libc::sigaddset(&mut set, signal);
        }
        let how = if block {
            libc::SIG_BLOCK
        } else {
            libc::SIG_UNBLOCK
        };
        libc::sigprocmask(how, &set, old);
    }
}

/// Forwards SIGTERM and SIGHUP to `target` instead of dying of them, so a
/// command can stop cleanly; SIGKILL still ends the whole sandbox at once.
pub(crate) unsafe fn forward_stop_signals_to(target: libc::pid_t) {
    FORWARD_TO.store(target, Ordering::Relaxed);
    // SAFETY: installing a handler that only calls kill(2); sigaction is
    // async-signal-safe and the struct is fully initialized.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = forward_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        for signal in FORWARDED {
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// PID 1 of the sandbox forks the command as PID 2 and stays behind as its init:
/// the kernel shields PID 1 from signals it has no handler for, so a command
/// running as PID 1 could not, for example, `kill -TERM $$` itself. Init reaps
/// orphans and leaves with the command's status (128+N for a signal), having
/// written its raw wait status on `status` for the process outside; its exit
/// makes the kernel kill whatever is left in the namespace.
unsafe fn become_init(status_pipe: libc::c_int) -> StepResult {
    // SAFETY (whole function): async-signal-safe calls only.
    unsafe {
        // Held since before the sandbox was created (see
        // block_supervised_signals), and still held across this fork: PID 1
        // drops a signal from outside that it has no handler for, so a stop
        // request must wait until the relay below is in place. The command
        // receives all four.
        //
        // PID 1 is a copy of the process that started the sandbox, secrets of
        // the session included (limited mode's certificate authority key),
        // and the command runs as the same user in the same namespaces: made
        // non-dumpable, its memory, environment and descriptors under
        // /proc/1 are out of the command's reach (reading them would need
        // CAP_SYS_PTRACE over the host's user namespace). The command becomes
        // dumpable again when it execs.
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
        let command = libc::fork();
        if command < 0 {
            return Err((Stage::Fork, errno()));
        }
        if command == 0 {
            libc::close(status_pipe);
            block_supervised_signals(false, std::ptr::null_mut());
            return Ok(());
        }
        close_all_except(&[Some(status_pipe)]);
        // PID 1 receives only signals it handles: relay stop requests to PID 2,
        // then take what arrived meanwhile.
        forward_stop_signals_to(command);
        block_supervised_signals(false, std::ptr::null_mut());
        loop {
            let mut status = 0;
            let pid = libc::waitpid(-1, &mut status, 0);
            if pid == command {
                let raw = status.to_ne_bytes();
                libc::write(status_pipe, raw.as_ptr().cast(), raw.len());
                if libc::WIFSIGNALED(status) {
                    libc::_exit(128 + libc::WTERMSIG(status));
                }
                libc::_exit(libc::WEXITSTATUS(status));
            }
            if pid < 0 && errno() != libc::EINTR {
                libc::_exit(125);
            }
        }
    }
}

/// The reaper: waits for its child — PID 1 of the sandbox, or the command
/// itself without namespaces — and leaves with the command's status: the
/// same exit code, or death by the same signal (re-raised on itself), so the
/// caller's `ExitStatus` tells "exited with 130" from "killed by SIGINT".
/// When the reaper dies (SIGKILL, SIGTERM), its child gets SIGKILL (and the
/// kernel kills every process of the namespace); when the process that
/// spawned the sandbox exits (`watch`, a pidfd of it), the reaper kills its
/// child first.
unsafe fn reap(
    child: libc::pid_t,
    lifeline: Option<libc::c_int>,
    status_pipe: Option<libc::c_int>,
    watch: Option<libc::c_int>,
) -> ! {
    // SAFETY (whole function): async-signal-safe calls only.
    unsafe {
        // Close every inherited descriptor but stdio, the lifeline, the status
        // pipe and the pidfd watched, so the parent's exec-status and error
        // pipes see EOF when the command execs.
        close_all_except(&[lifeline, status_pipe, watch]);
        // Ctrl-C and Ctrl-\ go to the whole foreground group: the command decides
        // what they mean. If the reaper died of them it would tear the sandbox down
        // before a command that handles SIGINT could (as system(3) does).
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        forward_stop_signals_to(child);
        block_supervised_signals(false, std::ptr::null_mut());
        let Ok(init_status) = wait_watching(child, watch) else {
            libc::_exit(125);
        };
        let status = command_status(init_status, status_pipe);
        if libc::WIFSIGNALED(status) {
            // Die of the same signal so the caller sees what killed the
            // command — without a core dump of the reaper's own.
            let signal = libc::WTERMSIG(status);
            let no_core = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &no_core);
            libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
            libc::signal(signal, libc::SIG_DFL);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, signal);
            libc::sigprocmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
            libc::kill(libc::getpid(), signal);
            libc::_exit(128 + signal);
        }
        libc::_exit(libc::WEXITSTATUS(status));
    }
}

/// The command's raw wait status: what PID 1 left on `status_pipe` (read
/// end, non-blocking) before exiting, else `init_status` itself (PID 1 was
/// killed, or there is no PID 1). Async-signal-safe.
pub(crate) fn command_status(
    init_status: libc::c_int,
    status_pipe: Option<libc::c_int>,
) -> libc::c_int {
    let Some(fd) = status_pipe else {
        return init_status;
    };
    if !libc::WIFEXITED(init_status) {
        return init_status;
    }
    let mut raw = [0u8; 4];
    // SAFETY: a non-blocking read into a stack buffer.
    let n = unsafe { libc::read(fd, raw.as_mut_ptr().cast(), raw.len()) };
    if n == 4 {
        libc::c_int::from_ne_bytes(raw)
    } else {
        init_status
    }
}

/// Waits for `child` (a raw wait status, or the errno of `waitpid`); if the
/// process behind the pidfd `watch` exits first, kills `child` and then
/// waits. Async-signal-safe.
pub(crate) unsafe fn wait_watching(
    child: libc::pid_t,
    watch: Option<libc::c_int>,
) -> Result<libc::c_int, i32> {
    // SAFETY (whole function): poll/waitpid/kill/close only.
    unsafe {
        let child_fd = watch.and_then(|_| pidfd_open(child));
        if let (Some(child_fd), Some(watch)) = (child_fd, watch) {
            let mut fds = [
                libc::pollfd {
                    fd: child_fd,
                    events: libc::POLLIN,
                    revents: 0,
                },
                libc::pollfd {
                    fd: watch,
                    events: libc::POLLIN,
                    revents: 0,
                },
            ];
            loop {
                let ready = libc::poll(fds.as_mut_ptr(), 2, -1);
                if ready < 0 && errno() != libc::EINTR {
                    break;
                }
                if fds[0].revents != 0 {
                    break;
                }
                if fds[1].revents != 0 {
                    libc::kill(child, libc::SIGKILL);
                    break;
                }
            }
            libc::close(child_fd);
        }
        let mut status = 0;
        loop {
            if libc::waitpid(child, &mut status, 0) == child {
                return Ok(status);
            }
            if errno() != libc::EINTR {
                return Err(errno());
            }
        }
    }
}

/// Closes every descriptor from 3 up but those listed.
unsafe fn close_all_except(keep: &[Option<libc::c_int>]) {
    let mut kept = [-1 as libc::c_int; 4];
    let mut n = 0;
    for fd in keep.iter().flatten() {
        if n < kept.len() {
            kept[n] = *fd;
            n += 1;
        }
    }
    kept[..n].sort_unstable();
    let mut from: libc::c_int = 3;
    for &fd in &kept[..n] {
        if fd >= from {
            if fd > from {
                // SAFETY: close_range on our own descriptor table.
                unsafe { libc::syscall(libc::SYS_close_range, from as u32, (fd - 1) as u32, 0u32) };
            }
            from = fd + 1;
        }
    }
    // SAFETY: as above.
    unsafe { libc::syscall(libc::SYS_close_range, from as u32, u32::MAX, 0u32) };
}

/// `mount(2)` with no filesystem type or data, as binds and remounts need.
unsafe fn mount(
    source: *const libc::c_char,
    target: *const libc::c_char,
    flags: libc::c_ulong,
    stage: Stage,
) -> StepResult {
    // SAFETY: NUL-terminated paths (or null) prepared by the parent.
    let ret = unsafe { libc::mount(source, target, std::ptr::null(), flags, std::ptr::null()) };
    check(ret.into(), stage)
}

unsafe fn write_file(path: &std::ffi::CStr, data: &[u8], stage: Stage) -> StepResult {
    // SAFETY: async-signal-safe open/write/close on a NUL-terminated path.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return Err((stage, errno()));
        }
        let written = libc::write(fd, data.as_ptr().cast(), data.len());
        let err = errno();
        libc::close(fd);
        if written != data.len() as isize {
            return Err((stage, if written < 0 { err } else { libc::EIO }));
        }
    }
    Ok(())
}
