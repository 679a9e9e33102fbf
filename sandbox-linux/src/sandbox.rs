//! `LinuxSandbox`: decides which layers a policy needs, checks the host can
//! provide them, prepares them in the parent and applies them in the child.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use codex_policy_model::{
    EffectiveWritableRoots, EnforcementReport, GIT_DIR_NAME, Protection, ProtectionReport,
    ProtectionStatus, Sandbox, SandboxPolicy, SandboxedChild, WritableRootsError,
};

use crate::child::{BindMount, ChildSetup, DeviceSetup, NamespaceSetup, ParentLink, Role, Stage};
use crate::host::HostCapabilities;
use crate::landlock_rules::{
    self, ABI_IOCTL_DEV, ABI_SCOPES, ABI_TCP, ABI_TRUNCATE, LandlockRequest,
};
use crate::seccomp_filter;
use crate::socket_broker::{self, BrokerPolicy};

/// What to do when the host cannot enforce everything a policy needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compatibility {
    /// Refuse to start the command (the default).
    #[default]
    Strict,
    /// Start it with what the host can enforce; the report says what is missing.
    BestEffort,
}

/// Why a command was not started in the sandbox.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinuxSandboxError {
    /// A protection the policy needs cannot be enforced on this host.
    #[error(
        "refusing to run: this host cannot enforce the policy\n{}  run `codex-policy doctor` for \
         details, or pass --best-effort to run with only the protections listed as enforced",
        missing_lines(.report)
    )]
    Unenforceable {
        /// What would and would not be enforced.
        report: EnforcementReport,
    },
    /// The working directory or roots could not be resolved.
    #[error(transparent)]
    WritableRoots(#[from] WritableRootsError),
    /// The Landlock ruleset could not be built.
    #[error("building the Landlock ruleset: {0}")]
    Landlock(#[from] landlock_rules::LandlockError),
    /// The seccomp filter could not be compiled.
    #[error("compiling the seccomp filter: {0}")]
    Seccomp(#[from] seccomp_filter::SeccompError),
    /// A setup step failed in the child; nothing of the command ran.
    #[error("sandbox setup failed: {stage}: {source}")]
    Setup {
        /// The step.
        stage: &'static str,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// The command could not be executed (not found, not executable).
    #[error("{}: {source}", program.to_string_lossy().escape_debug())]
    Exec {
        /// The program as given.
        program: OsString,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// Preparing the sandbox failed in the parent.
    #[error("preparing the sandbox: {0}")]
    Io(#[from] io::Error),
    /// The caller's start hook refused (for example: the audit log cannot be written).
    #[error("{0}")]
    Aborted(String),
    /// A path to protect does not exist yet inside a writable root: the command
    /// could create it, and nothing can be bound over what is not there.
    #[error(
        "refusing to run: {} must be kept out of the command's reach but does not exist yet \
         inside a writable root; create it first, or run from a directory that does not contain it",
        path.display()
    )]
    UnprotectablePath {
        /// The path.
        path: PathBuf,
    },
}

impl LinuxSandboxError {
    /// The exit status of the contract: 127 not found, 126 not executable, 125
    /// for everything codex-policy itself could not do.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Exec { source, .. } if source.kind() == io::ErrorKind::NotFound => 127,
            Self::Exec { .. } => 126,
            _ => 125,
        }
    }
}

fn missing_lines(report: &EnforcementReport) -> String {
    report
        .missing()
        .map(|entry| match &entry.status {
            ProtectionStatus::NotEnforced { reason } => {
                format!("  missing: {} ({reason})\n", entry.protection)
            }
            _ => String::new(),
        })
        .collect()
}

/// The Linux sandbox: Landlock, seccomp and user/mount/PID/network namespaces.
///
/// ```no_run
/// use codex_sandbox_linux::LinuxSandbox;
/// use codex_policy_model::{Sandbox, SandboxPolicy};
///
/// let sandbox = LinuxSandbox::new();
/// let mut command = std::process::Command::new("make");
/// let mut started = sandbox.spawn(&SandboxPolicy::workspace_write(false), "/src/app".as_ref(), &mut command)?;
/// println!("{}", started.report);
/// let status = started.child.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LinuxSandbox {
    compatibility: Compatibility,
    host: HostCapabilities,
    protected_paths: Vec<PathBuf>,
    allowed_unix_sockets: Vec<PathBuf>,
}

impl Default for LinuxSandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// The layers chosen for one policy on this host.
#[derive(Debug, Clone)]
pub struct SandboxPlan {
    /// What will and will not be enforced.
    pub report: EnforcementReport,
    landlock_abi: Option<i32>,
    seccomp: bool,
    namespaces: bool,
    deny_network: bool,
    /// An empty network namespace: only where Landlock cannot scope abstract
    /// unix sockets (ABI < 6). Elsewhere seccomp and Landlock TCP rules close
    /// the network, and the namespace would cost ~0.8 ms per run (see
    /// docs/linux-sandbox.md).
    network_namespace: bool,
    /// `connect` goes through the unix-socket broker.
    broker: bool,
    /// Run with what can be enforced (`--best-effort`).
    best_effort: bool,
    roots: EffectiveWritableRoots,
    /// The caller's protected paths that lie inside a writable root.
    protected: Vec<PathBuf>,
    unrestricted: bool,
}

impl LinuxSandbox {
    /// A strict sandbox: it refuses to start a command when the host lacks a
    /// protection the policy needs. Probing is cheap (two system calls): whether
    /// user namespaces work is found out when the child tries to create them.
    pub fn new() -> Self {
        Self::with_host(Compatibility::Strict, HostCapabilities::probe(false))
    }

    /// A sandbox that runs commands with whatever the host can enforce. Forks once
    /// to find out whether user namespaces work here.
    pub fn best_effort() -> Self {
        Self::with_host(Compatibility::BestEffort, HostCapabilities::probe(true))
    }

    /// A sandbox for an already probed host (`doctor` probes once for every profile).
    pub fn with_host(compatibility: Compatibility, host: HostCapabilities) -> Self {
        Self {
            compatibility,
            host,
            protected_paths: Vec::new(),
            allowed_unix_sockets: Vec::new(),
        }
    }

    /// Paths the command may neither write, move, replace nor shadow, even
    /// inside a writable root: the audit log, Codex's home, policy files. Each
    /// is bound read-only and every directory between it and its writable root
    /// is pinned (a mount point cannot be renamed). A path that does not exist
    /// when the sandbox starts, inside a writable root, cannot be kept from
    /// being created: [`plan`](Self::plan) refuses it. Relative paths are taken
    /// from the process's working directory.
    #[must_use]
    pub fn protect_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.protected_paths.extend(paths);
        self
    }

    /// Path-named unix sockets the command may connect to whoever listens on
    /// them (the policy's `unix_sockets` allowed by name). Every other socket
    /// outside the sandbox is refused.
    #[must_use]
    pub fn allow_unix_sockets(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.allowed_unix_sockets.extend(
            paths
                .into_iter()
                .map(|p| std::fs::canonicalize(&p).unwrap_or(p)),
        );
        self
    }

    /// The host's sandboxing features as probed.
    pub fn host(&self) -> &HostCapabilities {
        &self.host
    }

    /// The compatibility mode.
    pub fn compatibility(&self) -> Compatibility {
        self.compatibility
    }

    /// Decides which layers `policy` needs for a child in `cwd` (with `tmpdir` as
    /// its `$TMPDIR`) and which this host provides. Starts nothing.
    pub fn plan(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        tmpdir: Option<&OsStr>,
    ) -> Result<SandboxPlan, LinuxSandboxError> {
        let roots = policy.writable_roots(cwd, tmpdir)?;
        if policy.has_full_disk_write_access() {
            return Ok(SandboxPlan {
                report: EnforcementReport {
                    protections: ALL_PROTECTIONS
                        .iter()
                        .map(|&protection| not_needed(protection))
                        .collect(),
                    rules: vec!["danger-full-access: no restriction".into()],
                },
                landlock_abi: None,
                seccomp: false,
                namespaces: false,
                deny_network: false,
                network_namespace: false,
                broker: false,
                best_effort: self.compatibility == Compatibility::BestEffort,
                roots,
                protected: Vec::new(),
                unrestricted: true,
            });
        }

        let abi = self.host.landlock_abi.unwrap_or(0);
        let landlock_why = self
            .host
            .landlock_error
            .clone()
            .unwrap_or_else(|| format!("Landlock ABI {abi} is too old"));
        let namespaces = self.host.namespaces.unwrap_or(true);
        let namespace_why = self
            .host
            .namespaces_error
            .clone()
            .unwrap_or_else(|| "user namespaces unavailable".into());
        let deny_network = !policy.has_network_access();
        let scopes = abi >= ABI_SCOPES;
        let network_namespace = deny_network && !scopes && namespaces;
        let protected = protected_inside_roots(&roots, &self.protected_paths)?;
        let has_protected = !protected.is_empty()
            || roots.roots.iter().any(|r| {
                r.read_only_subpaths
                    .iter()
                    .any(|p| p.symlink_metadata().is_ok())
            });
        let broker = self.host.seccomp && self.host.seccomp_user_notification;

        let status = |ok: bool, by: &str, why: &str| {
            if ok {
                ProtectionStatus::Enforced { by: by.to_owned() }
            } else {
                ProtectionStatus::NotEnforced {
                    reason: why.to_owned(),
                }
            }
        };
        let entry = |protection, required, status| ProtectionReport {
            protection,
            required,
            status,
        };
        let either = |a: (bool, &str), b: (bool, &str), why: &str| {
            let by: Vec<&str> = [a, b]
                .iter()
                .filter(|(ok, _)| *ok)
                .map(|(_, n)| *n)
                .collect();
            status(!by.is_empty(), &by.join(" + "), why)
        };
        let seccomp_why = "seccomp is unavailable (kernel built without CONFIG_SECCOMP_FILTER)";
        let mut protections = vec![
            entry(
                Protection::FileWrites,
                true,
                status(
                    abi >= ABI_TRUNCATE,
                    &format!("Landlock ABI {abi}"),
                    &if abi >= 1 {
                        format!(
                            "Landlock ABI {abi} cannot confine truncate(2); needs ABI 3 (Linux 6.2)"
                        )
                    } else {
                        landlock_why.clone()
                    },
                ),
            ),
            if policy.allows_any_write() && has_protected {
                entry(
                    Protection::ReadOnlySubpaths,
                    true,
                    status(
                        namespaces,
                        "read-only bind mounts in a private mount namespace",
                        &namespace_why,
                    ),
                )
            } else {
                not_needed(Protection::ReadOnlySubpaths)
            },
        ];
        if deny_network {
            protections.extend([
                entry(
                    Protection::NetworkSockets,
                    true,
                    status(self.host.seccomp, "seccomp", seccomp_why),
                ),
                if scopes {
                    not_needed(Protection::NetworkNamespace)
                } else {
                    entry(
                        Protection::NetworkNamespace,
                        false,
                        status(namespaces, "empty network namespace", &namespace_why),
                    )
                },
                entry(
                    Protection::LandlockTcp,
                    false,
                    status(
                        abi >= ABI_TCP,
                        &format!("Landlock ABI {abi}"),
                        "needs Landlock ABI 4 (Linux 6.7)",
                    ),
                ),
            ]);
        } else {
            protections.extend(
                [
                    Protection::NetworkSockets,
                    Protection::NetworkNamespace,
                    Protection::LandlockTcp,
                ]
                .map(not_needed),
            );
        }
        protections.extend([
            entry(
                Protection::SignalIsolation,
                true,
                either(
                    (scopes, "Landlock signal scope"),
                    (namespaces, "PID namespace"),
                    "needs Landlock ABI 6 (Linux 6.12) or user namespaces",
                ),
            ),
            entry(
                Protection::AbstractUnixIsolation,
                true,
                either(
                    (scopes, "Landlock abstract-unix scope"),
                    (network_namespace, "network namespace"),
                    "needs Landlock ABI 6 (Linux 6.12), or user namespaces with network off",
                ),
            ),
            entry(
                Protection::SyscallFilter,
                true,
                status(self.host.seccomp, "seccomp", seccomp_why),
            ),
            entry(
                Protection::NoNewPrivileges,
                true,
                ProtectionStatus::Enforced {
                    by: "prctl(PR_SET_NO_NEW_PRIVS)".into(),
                },
            ),
            entry(
                Protection::ProcessContainment,
                true,
                status(
                    namespaces,
                    "PID namespace + parent-death signal",
                    &format!(
                        "{namespace_why}; only the direct child dies with its parent \
                         (PR_SET_PDEATHSIG), its descendants may outlive it"
                    ),
                ),
            ),
            entry(
                Protection::NoCapabilities,
                true,
                ProtectionStatus::Enforced {
                    by: if self.host.seccomp {
                        "capability sets emptied, SECBIT_NOROOT locked; seccomp: handle-based opens"
                    } else {
                        "capability sets emptied, SECBIT_NOROOT locked"
                    }
                    .into(),
                },
            ),
            entry(
                Protection::IpcIsolation,
                true,
                status(namespaces, "IPC namespace", &namespace_why),
            ),
            entry(
                Protection::DeviceIsolation,
                true,
                either(
                    (namespaces, "private /dev"),
                    (abi >= ABI_IOCTL_DEV, "Landlock IOCTL_DEV"),
                    "needs user namespaces (a private /dev) or Landlock ABI 5 (Linux 6.10)",
                ),
            ),
            entry(
                Protection::PathSocketIsolation,
                true,
                status(
                    broker,
                    "seccomp user notification: connect decided by the socket broker",
                    "needs seccomp user notification and pidfd_getfd (Linux 5.6)",
                ),
            ),
        ]);

        let report = EnforcementReport {
            protections,
            rules: Vec::new(),
        };
        if self.compatibility == Compatibility::Strict && !report.is_complete() {
            return Err(LinuxSandboxError::Unenforceable { report });
        }
        Ok(SandboxPlan {
            report,
            landlock_abi: (abi >= 1).then_some(abi),
            seccomp: self.host.seccomp,
            namespaces,
            deny_network,
            network_namespace,
            broker,
            best_effort: self.compatibility == Compatibility::BestEffort,
            roots,
            protected,
            unrestricted: false,
        })
    }

    /// Builds the Landlock ruleset, seccomp programs and mount list for `plan`.
    fn prepare(&self, plan: &mut SandboxPlan, cwd: &Path) -> Result<ChildSetup, LinuxSandboxError> {
        let mut rules = Vec::new();
        let mut device_access = (0, 0);
        let landlock = match plan.landlock_abi {
            Some(abi) => {
                let ruleset = landlock_rules::build(&LandlockRequest {
                    abi,
                    writable_roots: &plan.roots.roots,
                    deny_tcp: plan.deny_network && abi >= ABI_TCP,
                    scopes: abi >= ABI_SCOPES,
                })?;
                rules.extend(ruleset.description);
                device_access = (ruleset.shm_access, ruleset.pts_access);
                Some(ruleset.fd)
            }
            None => None,
        };
        let seccomp = if plan.seccomp {
            let built = seccomp_filter::build(plan.deny_network, plan.broker)?;
            rules.extend(built.description);
            Some(built.program)
        } else {
            None
        };
        let namespaces = if plan.namespaces {
            let setup = namespace_setup(plan, cwd, device_access, &mut rules)?;
            rules.push(format!(
                "namespaces: user, mount, pid, ipc{}; private /dev (null, zero, full, random, \
                 urandom, tty, own devpts and /dev/shm); no capabilities",
                if plan.network_namespace {
                    ", net (empty)"
                } else {
                    ""
                }
            ));
            for mount in &setup.mounts {
                rules.push(format!(
                    "mount: {} {}",
                    if mount.read_only.is_some() {
                        "read-only bind"
                    } else {
                        "pinned (cannot be moved)"
                    },
                    mount.path.to_string_lossy()
                ));
            }
            Some(setup)
        } else {
            None
        };
        plan.report.rules.extend(rules);
        Ok(ChildSetup {
            parent: ParentLink::InPlace,
            namespaces,
            landlock,
            seccomp,
            broker: None,
            error_pipe: None,
        })
    }

    /// What the broker lets through for `plan`.
    fn broker_policy(&self, plan: &SandboxPlan) -> BrokerPolicy {
        BrokerPolicy {
            allowed: self.allowed_unix_sockets.clone(),
            writable: plan.roots.roots.iter().map(|r| r.root.clone()).collect(),
            own_pid_namespace: plan.namespaces,
            own_network_namespace: plan.network_namespace,
            network_allowed: !plan.deny_network,
        }
    }
}

/// The caller's protected paths (canonical) that lie inside a writable root;
/// one that does not exist there cannot be protected, and is refused.
fn protected_inside_roots(
    roots: &EffectiveWritableRoots,
    paths: &[PathBuf],
) -> Result<Vec<PathBuf>, LinuxSandboxError> {
    let mut inside = Vec::new();
    for path in paths {
        let absolute = std::path::absolute(path)?;
        let resolved = match std::fs::canonicalize(&absolute) {
            Ok(real) => real,
            // Canonical parent + name: where it would be created.
            Err(_) => match (absolute.parent(), absolute.file_name()) {
                (Some(parent), Some(name)) => std::fs::canonicalize(parent)
                    .map(|p| p.join(name))
                    .unwrap_or(absolute.clone()),
                _ => absolute.clone(),
            },
        };
        if !roots.roots.iter().any(|r| resolved.starts_with(&r.root)) {
            continue;
        }
        if resolved.symlink_metadata().is_err() {
            return Err(LinuxSandboxError::UnprotectablePath { path: resolved });
        }
        inside.push(resolved);
    }
    Ok(inside)
}

const ALL_PROTECTIONS: [Protection; 14] = [
    Protection::FileWrites,
    Protection::ReadOnlySubpaths,
    Protection::NetworkSockets,
    Protection::NetworkNamespace,
    Protection::LandlockTcp,
    Protection::SignalIsolation,
    Protection::AbstractUnixIsolation,
    Protection::SyscallFilter,
    Protection::NoNewPrivileges,
    Protection::ProcessContainment,
    Protection::NoCapabilities,
    Protection::IpcIsolation,
    Protection::DeviceIsolation,
    Protection::PathSocketIsolation,
];

fn not_needed(protection: Protection) -> ProtectionReport {
    ProtectionReport {
        protection,
        required: false,
        status: ProtectionStatus::NotNeeded,
    }
}

impl Sandbox for LinuxSandbox {
    type Error = LinuxSandboxError;

    fn spawn(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        command: &mut Command,
    ) -> Result<SandboxedChild, LinuxSandboxError> {
        let Prepared {
            report,
            setup,
            broker,
        } = self.prepare_command(policy, cwd, command)?;
        let Some(mut setup) = setup else {
            let child = command
                .spawn()
                .map_err(|source| exec_error(command, source))?;
            return Ok(SandboxedChild { child, report });
        };
        let (error_read, error_write) = error_pipe()?;
        setup.error_pipe = Some(error_write);
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        setup.parent = ParentLink::Forked {
            pid,
            // SAFETY: a pidfd of our own process, owned from here on.
            pidfd: crate::child::pidfd_open(pid).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
        };
        let broker_end = attach_broker(&mut setup, broker.is_some())?;
        // SAFETY: `apply` only makes async-signal-safe system calls on memory
        // prepared here, as `pre_exec` requires.
        unsafe {
            command.pre_exec(move || setup.apply());
        }
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(source) => {
                return Err(match read_failure(&error_read) {
                    Some(failure) => failure,
                    None => exec_error(command, source),
                });
            }
        };
        // The sandbox's init reports a failed step on the pipe and exits; std
        // saw no exec error from the reaper, so look.
        if let Some(failure) = read_failure(&error_read) {
            let _ = child.wait();
            return Err(failure);
        }
        if let (Some(end), Some(policy)) = (broker_end, broker) {
            start_broker(&end, policy).inspect_err(|_| {
                let _ = child.kill();
                let _ = child.wait();
            })?;
        }
        Ok(SandboxedChild { child, report })
    }
}

/// Gives the child its end of a socket pair for the seccomp listener; returns
/// ours.
fn attach_broker(setup: &mut ChildSetup, wanted: bool) -> io::Result<Option<OwnedFd>> {
    if !wanted || setup.seccomp.is_none() {
        return Ok(None);
    }
    let mut fds = [0; 2];
    // SAFETY: socketpair fills two descriptors we then own.
    if unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    } != 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (ours, theirs) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    setup.broker = Some(theirs);
    Ok(Some(ours))
}

/// Receives the listener the sandbox sent and starts the broker on it.
fn start_broker(end: &OwnedFd, policy: BrokerPolicy) -> Result<(), LinuxSandboxError> {
    let listener =
        socket_broker::receive_listener(end).map_err(|source| LinuxSandboxError::Setup {
            stage: Stage::SocketBroker.describe(),
            source,
        })?;
    socket_broker::start(listener, policy)?;
    Ok(())
}

/// A report and, unless the policy is unrestricted, the child's setup.
struct Prepared {
    report: EnforcementReport,
    setup: Option<ChildSetup>,
    broker: Option<BrokerPolicy>,
}

/// A command started by [`LinuxSandbox::run_command`].
#[derive(Debug)]
pub enum Running {
    /// The caller is the supervisor of the sandbox's init (the fast path).
    Supervised(Supervisor),
    /// A child process (no namespaces here, or no sandbox at all).
    Child(std::process::Child),
}

/// The supervisor side of an in-place sandbox: the caller, outside the
/// namespaces, waiting for the sandbox's init.
#[derive(Debug)]
pub struct Supervisor {
    init: libc::pid_t,
    /// Kept open until the sandbox ends: PID 1 checks it to notice a supervisor
    /// that died before PID 1 armed its death signal.
    _lifeline: OwnedFd,
    /// A pidfd of the supervisor's own parent: when that process exits, the
    /// sandbox is killed. Not `PR_SET_PDEATHSIG`, which follows the parent's
    /// *thread* (one that exits would kill a healthy run).
    parent: Option<OwnedFd>,
}

impl Running {
    /// Waits for the command; its exit code, or 128+N when signal N ended it.
    /// A supervisor forwards SIGTERM and SIGHUP to the command and leaves
    /// Ctrl-C / Ctrl-\\ to it (they reach it directly) from the moment
    /// [`LinuxSandbox::run_command`] returns; if the supervisor's parent exits
    /// meanwhile, the sandbox is killed.
    pub fn wait(self) -> io::Result<i32> {
        match self {
            Self::Child(mut child) => {
                use std::os::unix::process::ExitStatusExt;
                let status = child.wait()?;
                Ok(status
                    .code()
                    .or_else(|| status.signal().map(|s| 128 + s))
                    .unwrap_or(128))
            }
            Self::Supervised(supervisor) => {
                let watch = supervisor.parent.as_ref().map(AsRawFd::as_raw_fd);
                // SAFETY: waiting for our own child; the pidfd is ours.
                let status = unsafe { crate::child::wait_watching(supervisor.init, watch) };
                Ok(if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    libc::WEXITSTATUS(status)
                })
            }
        }
    }
}

impl LinuxSandbox {
    /// Starts `command` under `policy` and returns a handle to wait for it: what
    /// `codex-policy run` uses. With namespaces, the calling process creates the
    /// sandbox's init directly in its namespaces and stays outside as its
    /// supervisor — one process fewer than [`Sandbox::spawn`] — so it must be
    /// single-threaded. Without namespaces (best effort) or without a sandbox,
    /// the command is a child process. `on_start` receives the report before
    /// anything is applied (to print and record it); an error from it aborts
    /// the start.
    pub fn run_command(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        command: &mut Command,
        on_start: impl FnOnce(&EnforcementReport) -> Result<(), String>,
    ) -> Result<Running, LinuxSandboxError> {
        let Prepared {
            report,
            setup,
            broker,
        } = self.prepare_command(policy, cwd, command)?;
        on_start(&report).map_err(LinuxSandboxError::Aborted)?;
        let Some(mut setup) = setup.filter(|s| s.namespaces.is_some()) else {
            return Ok(Running::Child(self.spawn(policy, cwd, command)?.child));
        };
        let (error_read, error_write) = error_pipe()?;
        setup.error_pipe = Some(error_write);
        let broker_end = attach_broker(&mut setup, broker.is_some())?;
        // A pidfd of our parent, checked to be it (not a subreaper that took
        // us over after it exited); without pidfds, the death signal.
        // SAFETY: getppid has no preconditions.
        let parent_pid = unsafe { libc::getppid() };
        let parent = crate::child::pidfd_open(parent_pid)
            // SAFETY: a pidfd just returned to us.
            .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) });
        // SAFETY: getppid has no preconditions.
        if parent.is_none() || unsafe { libc::getppid() } != parent_pid {
            // SAFETY: arming our own death signal.
            unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        }
        // SAFETY: getpid has no preconditions.
        let supervisor = unsafe { libc::getpid() };
        // Held until the supervisor's handlers are in place (below): under load
        // the command can start, and be signalled, before the clone returns here.
        // SAFETY: a zeroed sigset_t is a valid out-parameter.
        let mut caller_mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: changing our own signal mask.
        unsafe { crate::child::block_supervised_signals(true, &mut caller_mask) };
        // SAFETY: the caller guarantees a single-threaded process.
        let steps = unsafe { setup.steps() };
        // SAFETY: getpid has no preconditions.
        let in_supervisor = unsafe { libc::getpid() } == supervisor;
        match steps {
            Ok(Role::Reaper { init, lifeline }) => {
                // At once, not in `wait`: the command may already be running,
                // and a Ctrl-C or SIGTERM meant for it must not kill us first.
                // SAFETY: installing handlers that only call kill(2), and
                // ignoring terminal signals, in our own process.
                unsafe {
                    crate::child::forward_stop_signals_to(init);
                    libc::signal(libc::SIGINT, libc::SIG_IGN);
                    libc::signal(libc::SIGQUIT, libc::SIG_IGN);
                    // Signals that arrived meanwhile are delivered now, handled.
                    libc::sigprocmask(libc::SIG_SETMASK, &caller_mask, std::ptr::null_mut());
                }
                let running = Supervisor {
                    init,
                    // SAFETY: the write end of the lifeline pipe, now ours alone.
                    _lifeline: unsafe { OwnedFd::from_raw_fd(lifeline) },
                    parent,
                };
                // Our copy closed, the pipe reaches EOF once the command has
                // exec'd (or init failed and wrote why).
                drop(setup);
                if let Some(failure) = wait_for_setup(&error_read) {
                    let _ = Running::Supervised(running).wait();
                    return Err(failure);
                }
                if let (Some(end), Some(policy)) = (broker_end, broker)
                    && let Err(err) = start_broker(&end, policy)
                {
                    // SAFETY: killing our own child.
                    unsafe { libc::kill(init, libc::SIGKILL) };
                    let _ = Running::Supervised(running).wait();
                    return Err(err);
                }
                Ok(Running::Supervised(running))
            }
            Err((stage, errno)) if in_supervisor => {
                // SAFETY: restoring our own signal mask.
                unsafe { libc::sigprocmask(libc::SIG_SETMASK, &caller_mask, std::ptr::null_mut()) };
                Err(LinuxSandboxError::Setup {
                    stage: stage.describe(),
                    source: io::Error::from_raw_os_error(errno),
                })
            }
            // In the sandbox's own processes: never return into the caller's
            // code; the supervisor reads the failure from the pipe.
            Err((stage, errno)) => {
                setup.report(stage, errno);
                // SAFETY: leaving a forked child.
                unsafe { libc::_exit(125) }
            }
            Ok(Role::Command) => {
                let source = command.exec();
                let err = exec_error(command, source);
                eprintln!("codex-policy: error: {err}");
                // SAFETY: leaving the forked command process.
                unsafe { libc::_exit(i32::from(err.exit_status())) }
            }
        }
    }

    /// Plans for `command` (its `$TMPDIR`, `cwd`), sets its environment, and
    /// builds the child's setup.
    fn prepare_command(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        command: &mut Command,
    ) -> Result<Prepared, LinuxSandboxError> {
        // Absolute once: a relative directory would be applied again from
        // itself by the child's chdir.
        let cwd = &std::path::absolute(cwd)?;
        let tmpdir = child_env(command, "TMPDIR");
        let mut plan = self.plan(policy, cwd, tmpdir.as_deref())?;
        command.current_dir(cwd);
        if plan.unrestricted {
            return Ok(Prepared {
                report: plan.report,
                setup: None,
                broker: None,
            });
        }
        if plan.deny_network {
            command.env("CODEX_SANDBOX_NETWORK_DISABLED", "1");
        }
        let setup = self.prepare(&mut plan, cwd)?;
        let broker = plan.broker.then(|| self.broker_policy(&plan));
        Ok(Prepared {
            report: plan.report,
            setup: Some(setup),
            broker,
        })
    }
}

fn exec_error(command: &Command, source: io::Error) -> LinuxSandboxError {
    LinuxSandboxError::Exec {
        program: command.get_program().to_owned(),
        source,
    }
}

/// The value of `name` in the child's environment: an explicit `env`/`env_remove`
/// on the command wins over the inherited environment.
fn child_env(command: &Command, name: &str) -> Option<OsString> {
    command
        .get_envs()
        .find(|(key, _)| *key == OsStr::new(name))
        .map_or_else(
            || std::env::var_os(name),
            |(_, value)| value.map(OsStr::to_owned),
        )
}

/// Device nodes bound from the host into the sandbox's own `/dev`.
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// The child's namespace work: pins, read-only binds, the private `/dev`.
///
/// Every protected path inside a writable root (`.git` and the real git dir,
/// `.codex`, `.agents`, the git hooks directory `core.hooksPath` names, and the
/// caller's protected paths) is bound read-only, and every directory from its
/// writable root down to it is pinned — bound onto itself, so a mount point —
/// so that neither it nor any ancestor can be renamed and replaced by a planted
/// copy (`mv project x` gets `EBUSY`).
fn namespace_setup(
    plan: &SandboxPlan,
    cwd: &Path,
    (shm_access, pts_access): (u64, u64),
    warnings: &mut Vec<String>,
) -> io::Result<NamespaceSetup> {
    let roots = &plan.roots;
    let mut protected: Vec<PathBuf> = Vec::new();
    for path in roots.roots.iter().flat_map(|r| &r.read_only_subpaths) {
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        // A mount on a symlink lands on its target, which is listed separately.
        if meta.file_type().is_symlink() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == GIT_DIR_NAME) {
            let git_dir = if meta.is_dir() {
                Some(path.clone())
            } else {
                codex_policy_model::git_metadata_paths(path)
                    .into_iter()
                    .find(|p| p.is_dir())
            };
            if let (Some(worktree), Some(git_dir)) = (path.parent(), git_dir) {
                protected.extend(protect_hooks(worktree, &git_dir, plan, true, warnings)?);
            }
        }
        protected.push(path.clone());
    }
    let nested = nested_repositories(roots);
    // A git dir reached through a symlink the command could re-point is not
    // protected by binding the directory: refuse (best effort: say so).
    // Refused for a root's own repository; for a nested one (one in /tmp must
    // not stop every run) a warning.
    let dot_gits = roots
        .roots
        .iter()
        .map(|r| (r.root.join(GIT_DIR_NAME), true))
        .chain(nested.found.iter().map(|g| (g.clone(), false)));
    for (dot_git, refuse) in dot_gits {
        for link in codex_policy_model::git_dir_links(&dot_git) {
            if roots.roots.iter().any(|r| link.starts_with(&r.root)) {
                let why = format!(
                    "the git directory named by {} is reached through the symlink {}, \
                     which the command could re-point; write the real path in that file",
                    dot_git.display(),
                    link.display()
                );
                if refuse && !plan.best_effort {
                    return Err(io::Error::other(format!("refusing to run: {why}")));
                }
                warnings.push(format!("warning: not protected: {why}"));
            }
        }
    }
    protected.extend(nested.privileged_files);
    for git in nested.found {
        let paths = codex_policy_model::git_metadata_paths(&git);
        // The git directory: the `.git` directory, or the one a `.git` file names.
        let git_dir = paths.iter().find(|p| p.is_dir()).cloned();
        if let (Some(worktree), Some(git_dir)) = (git.parent(), git_dir) {
            protected.extend(protect_hooks(worktree, &git_dir, plan, false, warnings)?);
        }
        protected.extend(paths);
    }
    if let Some(stopped) = nested.stopped_at {
        warnings.push(format!(
            "warning: the search for nested repositories stopped after \
             {NESTED_REPOSITORY_ENTRIES} entries (in {}): repositories below that point are \
             not protected",
            stopped.display()
        ));
    }
    protected.extend(plan.protected.iter().cloned());
    protected.retain(|p| roots.roots.iter().any(|r| p.starts_with(&r.root)));
    let mut pins: Vec<PathBuf> = Vec::new();
    for path in &protected {
        let Some(root) = roots.roots.iter().find(|r| path.starts_with(&r.root)) else {
            continue;
        };
        pins.extend(
            path.ancestors()
                .skip(1)
                .take_while(|a| a.starts_with(&root.root))
                .map(Path::to_path_buf),
        );
    }
    // Shallow first: a bind made later would hide one made below it.
    let depth = |p: &PathBuf| p.components().count();
    for list in [&mut pins, &mut protected] {
        list.sort_by(|a, b| depth(a).cmp(&depth(b)).then(a.cmp(b)));
        list.dedup();
    }
    pins.retain(|p| !protected.contains(p));
    let mut mounts = Vec::new();
    for pin in pins {
        mounts.push(BindMount {
            path: c_path(&pin)?,
            read_only: None,
        });
    }
    for path in protected {
        mounts.push(BindMount {
            read_only: Some(locked_mount_flags(&path)?),
            path: c_path(&path)?,
        });
    }
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut flags =
        libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC;
    if plan.network_namespace {
        flags |= libc::CLONE_NEWNET;
    }
    Ok(NamespaceSetup {
        flags,
        uid_map: format!("{uid} {uid} 1\n").into_bytes(),
        gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        mounts,
        devices: Some(device_setup(shm_access, pts_access)?),
        cwd: c_path(&std::fs::canonicalize(cwd)?)?,
    })
}

/// The host's ordinary device nodes the child binds into its own `/dev`.
fn device_setup(shm_access: u64, pts_access: u64) -> io::Result<DeviceSetup> {
    Ok(DeviceSetup {
        nodes: DEVICES
            .iter()
            .map(|name| c_path(Path::new(&format!("/dev/{name}"))))
            .collect::<io::Result<_>>()?,
        shm_access,
        pts_access,
    })
}

/// How far the search for nested repositories looks: directory levels below
/// each writable root, and entries per root (a bound on start-up cost; when it
/// is reached the report says so, and `run` prints it).
const NESTED_REPOSITORY_DEPTH: usize = 6;
const NESTED_REPOSITORY_ENTRIES: usize = 10_000;

/// Directories not searched: trees of installed or built files (a package
/// manager's or a compiler's), large — reading them cost tens of
/// milliseconds per run — and not where a repository whose hooks anyone runs
/// lives.
const NOT_SEARCHED: [&str; 6] = [
    "node_modules",
    "target",
    ".venv",
    "venv",
    "__pycache__",
    ".git",
];

/// Directories searched last at each level.
const SEARCHED_LAST: [&str; 3] = ["dist", "build", "vendor"];

/// The `.git` entries found below the writable roots, and where the search
/// stopped if its budget ran out.
struct NestedRepositories {
    found: Vec<PathBuf>,
    /// Set-uid or set-gid files met on the way, when running as root: a
    /// shared writable mapping changes their contents and keeps the bit, so
    /// they are bound read-only (a root-owned one is root for any user).
    privileged_files: Vec<PathBuf>,
    stopped_at: Option<PathBuf>,
}

/// Every `.git` (directory or file) below the writable roots, other than the
/// roots' own: a vendored clone, a repository under `/tmp`. Their hooks and
/// config would run on the host at the user's next git command, so they are
/// protected like the working directory's. Breadth first, symlinks not
/// followed, bulky directories last.
fn nested_repositories(roots: &EffectiveWritableRoots) -> NestedRepositories {
    let mut result = NestedRepositories {
        found: Vec::new(),
        privileged_files: Vec::new(),
        stopped_at: None,
    };
    // SAFETY: geteuid has no preconditions.
    let as_root = unsafe { libc::geteuid() } == 0;
    for root in &roots.roots {
        let mut budget = NESTED_REPOSITORY_ENTRIES;
        let mut level = vec![root.root.clone()];
        'search: for _ in 0..NESTED_REPOSITORY_DEPTH {
            let mut next = Vec::new();
            for dir in level {
                let Ok(entries) = std::fs::read_dir(&dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    if budget == 0 {
                        result.stopped_at = Some(dir);
                        break 'search;
                    }
                    budget -= 1;
                    let Ok(kind) = entry.file_type() else {
                        continue;
                    };
                    let path = entry.path();
                    if entry.file_name() == GIT_DIR_NAME {
                        if !kind.is_symlink() && dir != root.root {
                            result.found.push(path);
                        }
                    } else if kind.is_dir() && !NOT_SEARCHED.iter().any(|n| entry.file_name() == *n)
                    {
                        next.push(path);
                    } else if as_root
                        && kind.is_file()
                        && entry.metadata().is_ok_and(|m| {
                            use std::os::unix::fs::PermissionsExt;
                            m.permissions().mode() & 0o6000 != 0
                        })
                    {
                        result.privileged_files.push(path);
                    }
                }
            }
            let bulky = |p: &PathBuf| {
                p.file_name()
                    .is_some_and(|n| SEARCHED_LAST.iter().any(|b| n == *b))
            };
            next.sort_by_key(|p| (bulky(p), p.components().count()));
            level = next;
        }
    }
    result
}

/// The hooks directory git itself would use in the work tree `worktree`
/// (whose git directory is `git_dir`), asked of git (`rev-parse --git-path
/// hooks`): it reads `core.hooksPath` from every config git reads —
/// includes, worktree config, the user's and the system's, with comments,
/// quoting and continuations — where a parser of our own could disagree with
/// it and protect the wrong directory. No hook or `core.fsmonitor` runs for
/// that. Git is asked only when a config it would read mentions `hooksPath`
/// or an include (a process costs a millisecond or two); without git, a plain
/// `[core] hooksPath` line is read. `None` for the default (inside the git
/// directory, protected with it).
fn hooks_path(worktree: &Path, git_dir: &Path) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let configs = [
        Some(git_dir.join("config")),
        Some(git_dir.join("config.worktree")),
        home.as_ref().map(|h| h.join(".gitconfig")),
        home.as_ref().map(|h| h.join(".config/git/config")),
        std::env::var_os("GIT_CONFIG_GLOBAL").map(PathBuf::from),
        Some(PathBuf::from("/etc/gitconfig")),
    ];
    let mentioned = configs.iter().flatten().any(|file| {
        std::fs::read(file).is_ok_and(|bytes| {
            let text = String::from_utf8_lossy(&bytes).to_ascii_lowercase();
            text.contains("hookspath") || text.contains("include")
        })
    }) || std::env::var_os("GIT_CONFIG_COUNT").is_some();
    if !mentioned {
        return None;
    }
    // This repository's git directory, named: discovery could find another
    // repository above a git directory git does not recognize.
    let mut git_dir_arg = std::ffi::OsString::from("--git-dir=");
    git_dir_arg.push(git_dir);
    let mut work_tree_arg = std::ffi::OsString::from("--work-tree=");
    work_tree_arg.push(worktree);
    let asked = Command::new("git")
        .arg(git_dir_arg)
        .arg(work_tree_arg)
        .arg("-c")
        .arg("safe.directory=*")
        .arg("-C")
        .arg(worktree)
        // As configured (relative to the work tree), not canonical: a link
        // or `..` on the way must be seen to be refused.
        .args(["rev-parse", "--git-path", "hooks"])
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_COMMON_DIR")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output();
    let path = match asked {
        Ok(out) if out.status.success() => {
            let text = std::str::from_utf8(&out.stdout)
                .ok()?
                .trim_end_matches('\n');
            worktree.join(text)
        }
        _ => plain_hooks_path(git_dir, worktree)?,
    };
    let common = std::fs::canonicalize(git_dir).ok();
    let default = common
        .as_ref()
        .is_some_and(|c| std::fs::canonicalize(&path).is_ok_and(|p| p.starts_with(c)));
    (!default && !path.starts_with(git_dir)).then_some(path)
}

/// Protects the hooks directory of the work tree `worktree`: `Ok(Some)` with
/// the directory to bind read-only. One that cannot be protected — a `..` or
/// a symlink on the way inside a writable root, which the command could
/// re-point before the host's next commit — refuses the run when `refuse`
/// (the working directory's repository; best effort: a warning), and is a
/// warning for a nested repository (one in `/tmp` must not stop every run).
fn protect_hooks(
    worktree: &Path,
    git_dir: &Path,
    plan: &SandboxPlan,
    refuse: bool,
    notes: &mut Vec<String>,
) -> io::Result<Option<PathBuf>> {
    let Some(path) = hooks_path(worktree, git_dir) else {
        return Ok(None);
    };
    if let Some(why) = replaceable_hooks_path(&path, &plan.roots) {
        let why = format!(
            "core.hooksPath of {} ({}) passes through {why}, which the command could \
             re-point; give it a path without links or `..`",
            worktree.display(),
            path.display()
        );
        if refuse && !plan.best_effort {
            return Err(io::Error::other(format!("refusing to run: {why}")));
        }
        notes.push(format!("warning: not protected: {why}"));
        return Ok(None);
    }
    Ok(existing_hooks_dir(path, &plan.roots, notes))
}

/// `core.hooksPath` from `.git/config` read without git: the last plain
/// `hooksPath = value` line of a `[core]` section.
fn plain_hooks_path(git_dir: &Path, worktree: &Path) -> Option<PathBuf> {
    let config = std::fs::read_to_string(git_dir.join("config")).ok()?;
    let mut in_core = false;
    let mut found = None;
    for line in config.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_core = line
                .trim_start_matches('[')
                .trim_end_matches(']')
                .trim()
                .eq_ignore_ascii_case("core");
        } else if in_core
            && let Some((key, value)) = line.split_once('=')
            && key.trim().eq_ignore_ascii_case("hookspath")
        {
            found = Some(value.trim().trim_matches('"').to_owned());
        }
    }
    let value = found?;
    Some(match value.strip_prefix("~/") {
        Some(rest) => PathBuf::from(std::env::var_os("HOME")?).join(rest),
        None => worktree.join(value),
    })
}

/// Why `path` (a hooks directory) cannot be protected: a `..` component, or a
/// symlink on the way, inside a writable root.
fn replaceable_hooks_path(path: &Path, roots: &EffectiveWritableRoots) -> Option<String> {
    let inside = |p: &Path| roots.roots.iter().any(|r| p.starts_with(&r.root));
    let mut current = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir if inside(&current) => {
                return Some(format!("`..` after {}", current.display()));
            }
            std::path::Component::Normal(name) => {
                current.push(name);
                let link = current
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink());
                if link && inside(&current) {
                    return Some(format!("the symlink {}", current.display()));
                }
            }
            other => current.push(other),
        }
    }
    None
}

/// A hooks directory to protect: `path` itself when it exists; when it does
/// not but would lie inside a writable root, the command could create it and
/// fill it for the host's next git command — so it is created now (empty,
/// 0755) to be bound read-only, and `notes` says so. `None` otherwise.
fn existing_hooks_dir(
    path: PathBuf,
    roots: &EffectiveWritableRoots,
    notes: &mut Vec<String>,
) -> Option<PathBuf> {
    // A `..` or a symlink on the way inside a writable root: git resolves the
    // path anew at each commit, and the command could re-point it — binding
    // the directory it resolves to now would protect nothing. The run is
    // refused in `namespace_setup` (see `replaceable_hooks_path`).
    if let Ok(real) = std::fs::canonicalize(&path) {
        return Some(real);
    }
    let nearest = path
        .ancestors()
        .find_map(|a| std::fs::canonicalize(a).ok())?;
    if !roots.roots.iter().any(|r| nearest.starts_with(&r.root)) {
        return None;
    }
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(&path)
        .ok()?;
    notes.push(format!(
        "note: created {} (empty): core.hooksPath names it, and the sandbox keeps it read-only",
        path.display()
    ));
    std::fs::canonicalize(path).ok()
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))
}

/// The flags of the mount holding `path` that a user namespace may not clear on
/// remount (the kernel locks them); they must be repeated or the remount fails.
fn locked_mount_flags(path: &Path) -> io::Result<libc::c_ulong> {
    let c = c_path(path)?;
    // SAFETY: statvfs is plain old data, filled by the call.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: valid path and output pointer.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let pairs = [
        (libc::ST_NOSUID, libc::MS_NOSUID),
        (libc::ST_NODEV, libc::MS_NODEV),
        (libc::ST_NOEXEC, libc::MS_NOEXEC),
        (libc::ST_NOATIME, libc::MS_NOATIME),
        (libc::ST_NODIRATIME, libc::MS_NODIRATIME),
        (libc::ST_RELATIME, libc::MS_RELATIME),
    ];
    Ok(pairs
        .iter()
        .filter(|(st_flag, _)| st.f_flag & st_flag != 0)
        .fold(0, |acc, (_, ms_flag)| acc | ms_flag))
}

fn error_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors we then own.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: both descriptors were just created and are owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: setting a flag on a descriptor we own.
    unsafe { libc::fcntl(fds[0], libc::F_SETFL, libc::O_NONBLOCK) };
    Ok((read, write))
}

/// The (stage, errno) record the sandbox wrote, if any, as an error. The
/// read end is non-blocking: this never waits.
fn read_failure(read_end: &OwnedFd) -> Option<LinuxSandboxError> {
    let mut record = [0u8; 8];
    // SAFETY: reading into a stack buffer from our descriptor.
    let n = unsafe { libc::read(read_end.as_raw_fd(), record.as_mut_ptr().cast(), 8) };
    (n == 8).then_some(())?;
    let stage = u32::from_ne_bytes(record[..4].try_into().ok()?);
    let errno = i32::from_ne_bytes(record[4..].try_into().ok()?);
    Some(LinuxSandboxError::Setup {
        stage: Stage::from_code(stage)?.describe(),
        source: io::Error::from_raw_os_error(errno),
    })
}

/// Waits until every writer of the error pipe is gone (the command exec'd) or
/// one wrote a failure.
fn wait_for_setup(read_end: &OwnedFd) -> Option<LinuxSandboxError> {
    loop {
        let mut poll = libc::pollfd {
            fd: read_end.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: polling one valid descriptor.
        if unsafe { libc::poll(&mut poll, 1, -1) } < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return None;
        }
        return read_failure(read_end);
    }
}
