//! `LinuxSandbox`: decides which layers a policy needs, checks the host can
//! provide them, prepares them in the parent and applies them in the child.

use std::ffi::{CString, OsStr, OsString};
use std::io::{self, Read};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use codex_policy_model::{
    ALWAYS_PROTECTED_NAMES, EffectiveWritableRoots, EnforcementReport, GIT_DIR_NAME, Protection,
    ProtectionReport, ProtectionStatus, Sandbox, SandboxPolicy, SandboxedChild, WritableRootsError,
};

use crate::child::{BindMount, ChildSetup, NamespaceSetup, Role, Stage};
use crate::host::HostCapabilities;
use crate::landlock_rules::{self, ABI_SCOPES, ABI_TCP, ABI_TRUNCATE, LandlockRequest};
use crate::seccomp_filter;

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
    #[error("{}: {source}", program.to_string_lossy())]
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
    roots: EffectiveWritableRoots,
    unrestricted: bool,
}

impl LinuxSandbox {
    /// A strict sandbox: it refuses to start a command when the host lacks a
    /// protection the policy needs. Probing is cheap (two system calls): whether
    /// user namespaces work is found out when the child tries to create them.
    pub fn new() -> Self {
        Self {
            compatibility: Compatibility::Strict,
            host: HostCapabilities::probe(false),
        }
    }

    /// A sandbox that runs commands with whatever the host can enforce. Forks once
    /// to find out whether user namespaces work here.
    pub fn best_effort() -> Self {
        Self {
            compatibility: Compatibility::BestEffort,
            host: HostCapabilities::probe(true),
        }
    }

    /// A sandbox for an already probed host (`doctor` probes once for every profile).
    pub fn with_host(compatibility: Compatibility, host: HostCapabilities) -> Self {
        Self {
            compatibility,
            host,
        }
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
                roots,
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
        let has_protected = roots.roots.iter().any(|r| {
            r.read_only_subpaths
                .iter()
                .any(|p| p.symlink_metadata().is_ok())
        });

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
            roots,
            unrestricted: false,
        })
    }

    /// Builds the Landlock ruleset, seccomp programs and mount list for `plan`.
    fn prepare(&self, plan: &mut SandboxPlan, cwd: &Path) -> Result<ChildSetup, LinuxSandboxError> {
        let rules = &mut plan.report.rules;
        let landlock = match plan.landlock_abi {
            Some(abi) => {
                let ruleset = landlock_rules::build(&LandlockRequest {
                    abi,
                    writable_roots: &plan.roots.roots,
                    deny_tcp: plan.deny_network && abi >= ABI_TCP,
                    scopes: abi >= ABI_SCOPES,
                })?;
                rules.extend(ruleset.description);
                Some(ruleset.fd)
            }
            None => None,
        };
        let seccomp = if plan.seccomp {
            let built = seccomp_filter::build(plan.deny_network)?;
            rules.extend(built.description);
            Some(built.program)
        } else {
            None
        };
        let namespaces = if plan.namespaces {
            let setup = namespace_setup(&plan.roots, plan.network_namespace, cwd)?;
            rules.push(format!(
                "namespaces: user, mount, pid{}",
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
        Ok(ChildSetup {
            // The process that will fork the child (`exec` replaces it).
            // SAFETY: getpid has no preconditions.
            parent_pid: unsafe { libc::getpid() },
            namespaces,
            landlock,
            seccomp,
            error_pipe: None,
        })
    }
}

const ALL_PROTECTIONS: [Protection; 10] = [
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
        let Prepared { report, setup } = self.prepare_command(policy, cwd, command)?;
        let Some(mut setup) = setup else {
            let child = command
                .spawn()
                .map_err(|source| exec_error(command, source))?;
            return Ok(SandboxedChild { child, report });
        };
        let (error_read, error_write) = error_pipe()?;
        setup.error_pipe = Some(error_write);
        // SAFETY: `apply` only makes async-signal-safe system calls on memory
        // prepared here, as `pre_exec` requires.
        unsafe {
            command.pre_exec(move || setup.apply());
        }
        match command.spawn() {
            Ok(child) => Ok(SandboxedChild { child, report }),
            Err(source) => Err(match read_failure(error_read) {
                Some((stage, errno)) => LinuxSandboxError::Setup {
                    stage: stage.describe(),
                    source: io::Error::from_raw_os_error(errno),
                },
                None => exec_error(command, source),
            }),
        }
    }
}

/// A report and, unless the policy is unrestricted, the child's setup.
struct Prepared {
    report: EnforcementReport,
    setup: Option<ChildSetup>,
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
}

impl Running {
    /// Waits for the command; its exit code, or 128+N when signal N ended it.
    /// A supervisor forwards SIGTERM and SIGHUP to the command and leaves
    /// Ctrl-C / Ctrl-\\ to it (they reach it directly) from the moment
    /// [`LinuxSandbox::run_command`] returns.
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
                let mut status = 0;
                loop {
                    // SAFETY: waiting for our own child with a valid pointer.
                    if unsafe { libc::waitpid(supervisor.init, &mut status, 0) } == supervisor.init
                    {
                        break;
                    }
                    let err = io::Error::last_os_error();
                    if err.kind() != io::ErrorKind::Interrupted {
                        return Err(err);
                    }
                }
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
    /// `codex-policy run` uses. With namespaces, the calling process sets the
    /// sandbox up in place and becomes its supervisor — one process fewer than
    /// [`Sandbox::spawn`] — so it must be single-threaded. Without namespaces
    /// (best effort) or without a sandbox, the command is a child process.
    /// `on_start` receives the report before anything is applied (to print and
    /// record it); an error from it aborts the start.
    pub fn run_command(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        command: &mut Command,
        on_start: impl FnOnce(&EnforcementReport) -> Result<(), String>,
    ) -> Result<Running, LinuxSandboxError> {
        let Prepared { report, setup } = self.prepare_command(policy, cwd, command)?;
        on_start(&report).map_err(LinuxSandboxError::Aborted)?;
        let Some(mut setup) = setup.filter(|s| s.namespaces.is_some()) else {
            return Ok(Running::Child(self.spawn(policy, cwd, command)?.child));
        };
        if let Some(ns) = &mut setup.namespaces {
            ns.return_reaper = true;
        }
        // SAFETY: getpid/getppid have no preconditions.
        let (supervisor, parent) = unsafe { (libc::getpid(), libc::getppid()) };
        setup.parent_pid = parent;
        // Held until the supervisor's handlers are in place (below): under load
        // the command can start, and be signalled, before the fork returns here.
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
                Ok(Running::Supervised(Supervisor {
                    init,
                    // SAFETY: the write end of the lifeline pipe, now ours alone.
                    _lifeline: unsafe { OwnedFd::from_raw_fd(lifeline) },
                }))
            }
            Err((stage, errno)) if in_supervisor => {
                // SAFETY: restoring our own signal mask.
                unsafe { libc::sigprocmask(libc::SIG_SETMASK, &caller_mask, std::ptr::null_mut()) };
                Err(LinuxSandboxError::Setup {
                    stage: stage.describe(),
                    source: io::Error::from_raw_os_error(errno),
                })
            }
            // In the sandbox's own processes: never return into the caller's code.
            Err((stage, errno)) => {
                eprintln!(
                    "codex-policy: error: sandbox setup failed: {}: {}",
                    stage.describe(),
                    io::Error::from_raw_os_error(errno)
                );
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
        let tmpdir = child_env(command, "TMPDIR");
        let mut plan = self.plan(policy, cwd, tmpdir.as_deref())?;
        command.current_dir(cwd);
        if plan.unrestricted {
            return Ok(Prepared {
                report: plan.report,
                setup: None,
            });
        }
        if plan.deny_network {
            command.env("CODEX_SANDBOX_NETWORK_DISABLED", "1");
        }
        let setup = self.prepare(&mut plan, cwd)?;
        Ok(Prepared {
            report: plan.report,
            setup: Some(setup),
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

/// Bind mounts: each existing protected path read-only, and the directory holding
/// `.git`/`.codex`/`.agents` pinned (a mount point cannot be renamed), so the
/// repository cannot be moved aside and replaced by a planted one.
fn namespace_setup(
    roots: &EffectiveWritableRoots,
    network_namespace: bool,
    cwd: &Path,
) -> io::Result<NamespaceSetup> {
    let mut pins: Vec<PathBuf> = Vec::new();
    let mut protected: Vec<PathBuf> = Vec::new();
    for path in roots.roots.iter().flat_map(|r| &r.read_only_subpaths) {
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        // A mount on a symlink lands on its target, which is listed separately.
        if meta.file_type().is_symlink() {
            continue;
        }
        let protected_name = path
            .file_name()
            .is_some_and(|n| n == GIT_DIR_NAME || ALWAYS_PROTECTED_NAMES.iter().any(|p| n == *p));
        if let (true, Some(parent)) = (protected_name, path.parent()) {
            pins.push(parent.to_path_buf());
        }
        protected.push(path.clone());
    }
    pins.sort();
    pins.dedup();
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
    let mut flags = libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID;
    if network_namespace {
        flags |= libc::CLONE_NEWNET;
    }
    Ok(NamespaceSetup {
        flags,
        uid_map: format!("{uid} {uid} 1\n").into_bytes(),
        gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        mounts,
        cwd: c_path(&std::fs::canonicalize(cwd)?)?,
        return_reaper: false,
    })
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

/// The (stage, errno) record the child wrote, if any. The child has exited when
/// this runs (std waits for it on spawn failure), so a non-blocking read suffices.
fn read_failure(read_end: OwnedFd) -> Option<(Stage, i32)> {
    let mut record = [0u8; 8];
    let mut file = std::fs::File::from(read_end);
    file.read_exact(&mut record).ok()?;
    let stage = u32::from_ne_bytes(record[..4].try_into().ok()?);
    let errno = i32::from_ne_bytes(record[4..].try_into().ok()?);
    Some((Stage::from_code(stage)?, errno))
}
