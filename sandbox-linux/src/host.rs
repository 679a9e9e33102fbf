//! What this kernel offers: Landlock ABI, seccomp, user namespaces.

use std::io;

use serde::Serialize;

/// The sandboxing features of the running kernel, as seen by this process
/// ([`probe`](Self::probe)), or of a host described by the caller
/// ([`assumed`](Self::assumed)) to plan for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HostCapabilities {
    /// `uname -r`.
    pub kernel: String,
    /// The Landlock ABI version, or `None` when Landlock is off or absent.
    pub landlock_abi: Option<i32>,
    /// Why Landlock is unavailable, when it is.
    pub landlock_error: Option<String>,
    /// Whether seccomp filters can be installed.
    pub seccomp: bool,
    /// Whether seccomp user notification and `pidfd_getfd` (Linux 5.6) work:
    /// what the unix-socket broker needs.
    pub seccomp_user_notification: bool,
    /// Whether an unprivileged process may create user, mount, network and PID
    /// namespaces (probed by trying in a short-lived child), or `None` if not probed.
    pub namespaces: Option<bool>,
    /// Why namespaces are unavailable, when they are.
    pub namespaces_error: Option<String>,
}

impl HostCapabilities {
    /// A host described, not probed: nothing available until the `with_*`
    /// methods say so. [`LinuxSandbox::with_host`](crate::LinuxSandbox::with_host)
    /// then plans for it as it would on such a machine (what a policy would
    /// need, what would be missing); starting a command needs the features to
    /// be really there.
    ///
    /// ```
    /// use codex_sandbox_linux::HostCapabilities;
    ///
    /// let host = HostCapabilities::assumed("6.12.0")
    ///     .with_landlock_abi(Some(6))
    ///     .with_seccomp(true)
    ///     .with_seccomp_user_notification(true)
    ///     .with_namespaces(Some(false));
    /// assert_eq!(host.landlock_abi, Some(6));
    /// ```
    pub fn assumed(kernel: impl Into<String>) -> Self {
        Self {
            kernel: kernel.into(),
            landlock_abi: None,
            landlock_error: None,
            seccomp: false,
            seccomp_user_notification: false,
            namespaces: Some(false),
            namespaces_error: None,
        }
    }

    /// The Landlock ABI version; `None` (or a version below 1): no Landlock.
    #[must_use]
    pub fn with_landlock_abi(mut self, abi: Option<i32>) -> Self {
        self.landlock_abi = abi.filter(|v| *v >= 1);
        self.landlock_error = None;
        self
    }

    /// Whether seccomp filters can be installed.
    #[must_use]
    pub fn with_seccomp(mut self, available: bool) -> Self {
        self.seccomp = available;
        self
    }

    /// Whether seccomp user notification and `pidfd_getfd` work.
    #[must_use]
    pub fn with_seccomp_user_notification(mut self, available: bool) -> Self {
        self.seccomp_user_notification = available;
        self
    }

    /// Whether unprivileged user namespaces work; `None`: not known (a plan
    /// assumes they do, and a start finds out).
    #[must_use]
    pub fn with_namespaces(mut self, available: Option<bool>) -> Self {
        self.namespaces = available;
        self.namespaces_error = None;
        self
    }

    /// Probes the kernel. `with_namespaces` forks a child that tries to create the
    /// namespaces; without it (the cheap probe) `namespaces` is `None`.
    pub fn probe(with_namespaces: bool) -> Self {
        let (landlock_abi, landlock_error) = match landlock_abi() {
            Ok(abi) => (Some(abi), None),
            Err(err) => (None, Some(describe_landlock_error(&err))),
        };
        let (namespaces, namespaces_error) = if with_namespaces {
            match probe_namespaces() {
                Ok(()) => (Some(true), None),
                Err(err) => (
                    Some(false),
                    Some(format!("unshare(user, mount, net, pid): {err}")),
                ),
            }
        } else {
            (None, None)
        };
        Self {
            kernel: kernel_release(),
            landlock_abi,
            landlock_error,
            seccomp: seccomp_available(),
            seccomp_user_notification: crate::socket_broker::supported(),
            namespaces,
            namespaces_error,
        }
    }
}

fn landlock_abi() -> io::Result<i32> {
    // SAFETY: landlock_create_ruleset with a null attribute and the VERSION flag
    // only returns the ABI version; it touches no memory.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            1u32, // LANDLOCK_CREATE_RULESET_VERSION
        )
    };
    if abi < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(i32::try_from(abi).unwrap_or(i32::MAX))
    }
}

fn describe_landlock_error(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::ENOSYS) => {
            "the kernel was built without Landlock (CONFIG_SECURITY_LANDLOCK)".into()
        }
        Some(libc::EOPNOTSUPP) => {
            "Landlock is built in but disabled; add `landlock` to the lsm= boot parameter".into()
        }
        _ => format!("landlock_create_ruleset: {err}"),
    }
}

fn seccomp_available() -> bool {
    // SAFETY: PR_GET_SECCOMP reads the calling thread's mode; no memory involved.
    unsafe { libc::prctl(libc::PR_GET_SECCOMP) >= 0 }
}

/// Forks a child that tries to create the namespaces the sandbox uses.
fn probe_namespaces() -> io::Result<()> {
    // SAFETY: the child only calls async-signal-safe functions (unshare, _exit).
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(io::Error::last_os_error());
    }
    if pid == 0 {
        let flags =
            libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWNET | libc::CLONE_NEWPID;
        // SAFETY: unshare and _exit are async-signal-safe.
        unsafe {
            let code = if libc::unshare(flags) == 0 {
                0
            } else {
                // errno values fit in an exit status on Linux (all are < 256).
                *libc::__errno_location()
            };
            libc::_exit(code);
        }
    }
    let mut status = 0;
    loop {
        // SAFETY: waiting on our own child with a valid status pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            break;
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
    match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
        Some(0) => Ok(()),
        Some(errno) => Err(io::Error::from_raw_os_error(errno)),
        None => Err(io::Error::other("probe child was killed")),
    }
}

fn kernel_release() -> String {
    // SAFETY: utsname is plain old data; uname fills it.
    let mut uts: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a utsname.
    if unsafe { libc::uname(&mut uts) } != 0 {
        return "unknown".into();
    }
    // SAFETY: uname NUL-terminates the release field.
    unsafe { std::ffi::CStr::from_ptr(uts.release.as_ptr()) }
        .to_string_lossy()
        .into_owned()
}
