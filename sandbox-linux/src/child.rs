//! What runs in the child between `fork` and `exec`.
//!
//! Everything here was allocated by the parent; the child only makes system calls
//! that are async-signal-safe (prctl, unshare, open/write/close, mount, fork,
//! waitpid, poll, landlock_restrict_self, seccomp, _exit), because after `fork`
//! in a multi-threaded caller any allocation could deadlock.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
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
    Chdir,
    Fork,
    NoNewPrivileges,
    Landlock,
    Seccomp,
}

impl Stage {
    const ALL: [Self; 14] = [
        Self::DeathSignal,
        Self::ParentGone,
        Self::Unshare,
        Self::Setgroups,
        Self::UidMap,
        Self::GidMap,
        Self::PrivateMounts,
        Self::BindMount,
        Self::ReadOnlyRemount,
        Self::Chdir,
        Self::Fork,
        Self::NoNewPrivileges,
        Self::Landlock,
        Self::Seccomp,
    ];

    pub(crate) fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|s| *s as u32 == code)
    }

    /// What the step does, for error messages.
    pub(crate) const fn describe(self) -> &'static str {
        match self {
            Self::DeathSignal => "prctl(PR_SET_PDEATHSIG)",
            Self::ParentGone => "parent exited before the sandbox started",
            Self::Unshare => {
                "unshare(user, mount, pid namespaces): unprivileged user namespaces \
                 are unavailable on this host (common in containers); use --best-effort to run \
                 with Landlock and seccomp only"
            }
            Self::Setgroups => "writing /proc/self/setgroups",
            Self::UidMap => "writing /proc/self/uid_map",
            Self::GidMap => "writing /proc/self/gid_map",
            Self::PrivateMounts => "making mounts private",
            Self::BindMount => "bind-mounting a protected path",
            Self::ReadOnlyRemount => "remounting a protected path read-only",
            Self::Chdir => "entering the working directory inside the mount namespace",
            Self::Fork => "forking the sandbox's first process",
            Self::NoNewPrivileges => "prctl(PR_SET_NO_NEW_PRIVS)",
            Self::Landlock => "landlock_restrict_self",
            Self::Seccomp => "installing the seccomp filter",
        }
    }
}

/// One bind mount in the sandbox's private mount namespace.
#[derive(Debug)]
pub(crate) struct BindMount {
    pub(crate) path: CString,
    /// Remount read-only with these extra flags (the original mount's locked
    /// nosuid/nodev/noexec/atime flags, which a user namespace may not drop).
    pub(crate) read_only: Option<libc::c_ulong>,
}

/// Namespace work done in the child.
#[derive(Debug)]
pub(crate) struct NamespaceSetup {
    pub(crate) flags: libc::c_int,
    pub(crate) uid_map: Vec<u8>,
    pub(crate) gid_map: Vec<u8>,
    pub(crate) mounts: Vec<BindMount>,
    /// The outer side of the namespace fork returns from [`ChildSetup::steps`]
    /// as [`Role::Reaper`] (to a supervisor that waits and reports) instead of
    /// reaping and exiting itself.
    pub(crate) return_reaper: bool,
    /// The working directory, entered again after mounting: a directory entered
    /// before (std does it before `pre_exec`) still refers to the original mount
    /// and would see beneath the read-only binds.
    pub(crate) cwd: CString,
}

/// Everything the child needs, prepared by the parent.
#[derive(Debug)]
pub(crate) struct ChildSetup {
    pub(crate) parent_pid: libc::pid_t,
    pub(crate) namespaces: Option<NamespaceSetup>,
    pub(crate) landlock: Option<OwnedFd>,
    pub(crate) seccomp: Option<BpfProgram>,
    /// Write end of a CLOEXEC pipe: a failing step writes (stage, errno) here,
    /// for the parent of a spawned child to read.
    pub(crate) error_pipe: Option<OwnedFd>,
}

type StepResult = Result<(), (Stage, i32)>;

/// Which process [`ChildSetup::steps`] returned in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// The process that becomes the command: exec it.
    Command,
    /// The supervisor outside the namespaces: wait for `init`; keep `lifeline`
    /// open until then (its closing tells the sandbox its supervisor is gone).
    Reaper {
        init: libc::pid_t,
        lifeline: libc::c_int,
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
            // Not requested on this path (`return_reaper` is false for spawn).
            Ok(Role::Reaper { .. }) => Err(io::Error::from_raw_os_error(libc::EINVAL)),
            Err((stage, code)) => {
                let mut record = [0u8; 8];
                record[..4].copy_from_slice(&(stage as u32).to_ne_bytes());
                record[4..].copy_from_slice(&code.to_ne_bytes());
                if let Some(pipe) = &self.error_pipe {
                    // SAFETY: writing a stack buffer to a descriptor we own.
                    unsafe {
                        libc::write(pipe.as_raw_fd(), record.as_ptr().cast(), record.len());
                    }
                }
                Err(io::Error::from_raw_os_error(code))
            }
        }
    }

    /// The setup steps. Never returns on the reaper's side of the namespace
    /// fork, nor on init's: only the process that becomes the command returns.
    ///
    /// # Safety
    /// The calling process must be single-threaded (a forked child, or a program
    /// that started no thread), as `unshare(CLONE_NEWUSER)` and `fork` require,
    /// and in a forked child only async-signal-safe calls may follow.
    pub(crate) unsafe fn steps(&self) -> Result<Role, (Stage, i32)> {
        // SAFETY (whole function): only async-signal-safe system calls on memory
        // the parent prepared and that outlives the child's use of it.
        unsafe {
            check(
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL).into(),
                Stage::DeathSignal,
            )?;
            if libc::getppid() != self.parent_pid {
                return Err((Stage::ParentGone, libc::ESRCH));
            }
            if let Some(ns) = &self.namespaces
                && let Some((init, lifeline)) = enter_namespaces(ns)?
            {
                return Ok(Role::Reaper { init, lifeline });
            }
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
                let fprog = libc::sock_fprog {
                    len: program.len() as u16,
                    filter: program.as_ptr().cast_mut().cast(),
                };
                check(
                    libc::syscall(
                        libc::SYS_seccomp,
                        libc::SECCOMP_SET_MODE_FILTER,
                        0u32,
                        &fprog as *const libc::sock_fprog,
                    ),
                    Stage::Seccomp,
                )?;
            }
            if self.namespaces.is_some() {
                become_init()?;
            }
        }
        Ok(Role::Command)
    }
}

/// Enters new user, mount, PID (and network) namespaces, applies the bind mounts,
/// then forks: this process stays outside as the reaper, the new child is PID 1
/// of the sandbox and returns to become the command.
unsafe fn enter_namespaces(
    ns: &NamespaceSetup,
) -> Result<Option<(libc::pid_t, libc::c_int)>, (Stage, i32)> {
    // SAFETY (whole function): async-signal-safe calls on parent-prepared memory.
    unsafe {
        check(libc::unshare(ns.flags).into(), Stage::Unshare)?;
        write_file(c"/proc/self/setgroups", b"deny", Stage::Setgroups)?;
        write_file(c"/proc/self/uid_map", &ns.uid_map, Stage::UidMap)?;
        write_file(c"/proc/self/gid_map", &ns.gid_map, Stage::GidMap)?;
        let none = std::ptr::null();
        mount(
            none,
            c"/".as_ptr(),
            libc::MS_REC | libc::MS_PRIVATE,
            Stage::PrivateMounts,
        )?;
        for bind in &ns.mounts {
            let path = bind.path.as_ptr();
            mount(path, path, libc::MS_BIND | libc::MS_REC, Stage::BindMount)?;
            if let Some(locked) = bind.read_only {
                let flags = libc::MS_REMOUNT | libc::MS_BIND | libc::MS_RDONLY | locked;
                mount(none, path, flags, Stage::ReadOnlyRemount)?;
            }
        }

        check(libc::chdir(ns.cwd.as_ptr()).into(), Stage::Chdir)?;

        // The lifeline lets the new PID 1 notice if the reaper died before PID 1
        // armed its own death signal.
        let mut lifeline = [0 as libc::c_int; 2];
        check(
            libc::pipe2(lifeline.as_mut_ptr(), libc::O_CLOEXEC).into(),
            Stage::Fork,
        )?;
        let pid = libc::fork();
        if pid < 0 {
            return Err((Stage::Fork, errno()));
        }
        if pid > 0 {
            libc::close(lifeline[0]);
            if ns.return_reaper {
                return Ok(Some((pid, lifeline[1])));
            }
            reap(pid, lifeline[1]);
        }
        libc::close(lifeline[1]);
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
    }
    Ok(None)
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
/// orphans and leaves with the command's status (128+N for a signal), and its
/// exit makes the kernel kill whatever is left in the namespace.
unsafe fn become_init() -> StepResult {
    // SAFETY (whole function): async-signal-safe calls only.
    unsafe {
        // Held by a supervisor while it set up (see block_supervised_signals):
        // PID 1 must receive forwarded stop signals, and the command all four.
        block_supervised_signals(false, std::ptr::null_mut());
        let command = libc::fork();
        if command < 0 {
            return Err((Stage::Fork, errno()));
        }
        if command == 0 {
            return Ok(());
        }
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        // PID 1 receives only signals it handles: relay stop requests to PID 2.
        forward_stop_signals_to(command);
        loop {
            let mut status = 0;
            let pid = libc::waitpid(-1, &mut status, 0);
            if pid == command {
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

/// The reaper: waits for PID 1 of the sandbox and leaves with its status. When it
/// dies (SIGKILL, SIGTERM, or its own parent's death via the death signal), PID 1
/// gets SIGKILL and the kernel kills every process of the namespace.
unsafe fn reap(child: libc::pid_t, lifeline: libc::c_int) -> ! {
    // SAFETY (whole function): async-signal-safe calls only.
    unsafe {
        // Close every inherited descriptor but stdio and the lifeline, so the
        // parent's exec-status and error pipes see EOF when PID 1 execs.
        if lifeline > 3 {
            libc::syscall(libc::SYS_close_range, 3u32, (lifeline - 1) as u32, 0u32);
        }
        libc::syscall(libc::SYS_close_range, (lifeline + 1) as u32, u32::MAX, 0u32);
        // Ctrl-C and Ctrl-\ go to the whole foreground group: the command decides
        // what they mean. If the reaper died of them it would tear the sandbox down
        // before a command that handles SIGINT could (as system(3) does).
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGQUIT, libc::SIG_IGN);
        forward_stop_signals_to(child);
        let mut status = 0;
        loop {
            if libc::waitpid(child, &mut status, 0) == child {
                break;
            }
            if errno() != libc::EINTR {
                libc::_exit(125);
            }
        }
        if libc::WIFSIGNALED(status) {
            // Die of the same signal so the caller sees what killed the command.
            let signal = libc::WTERMSIG(status);
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
