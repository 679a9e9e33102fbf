//! `LinuxSandbox`: decides which layers a policy needs and checks the host can
//! provide them ([`LinuxSandbox::plan`]), builds them once
//! ([`LinuxSandbox::prepare`]), and applies them in each child
//! ([`PreparedSandbox::spawn`], [`PreparedSandbox::supervise`]).

use std::ffi::{CString, OsStr, OsString};
use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::{Arc, Mutex};

use codex_policy_model::{
    ALWAYS_PROTECTED_NAMES, EffectiveWritableRoots, EgressListeners, EgressPorts,
    EnforcementReport, GIT_DIR_NAME, Protection, ProtectionReport, ProtectionStatus, Sandbox,
    SandboxPolicy, SandboxedChild, WritableRootsError,
};
use seccompiler::BpfProgram;

use crate::child::{
    ChildSetup, DeviceSetup, MountKind, MountStep, NamespaceConfig, NamespaceSetup, ParentLink,
    Role, Stage,
};
use crate::egress;
use crate::host::HostCapabilities;
use crate::landlock_rules::{
    self, ABI_IOCTL_DEV, ABI_SCOPES, ABI_TCP, ABI_TRUNCATE, LandlockRequest, LandlockTemplate,
};
use crate::seccomp_filter::{self, Sockets};
use crate::socket_broker::{self, BrokerPolicy};

/// What to do when the host cannot enforce everything a policy needs.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_linux::{Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError};
///
/// // A host described as having none of the kernel's sandboxing features.
/// let host = HostCapabilities::assumed("5.4.0");
/// let project = tempfile::tempdir()?;
/// let policy = SandboxPolicy::workspace_write(false);
///
/// let strict = LinuxSandbox::with_host(Compatibility::Strict, host.clone());
/// let refused = strict.plan(&policy, project.path(), None);
/// assert!(matches!(refused, Err(LinuxSandboxError::Unenforceable { .. })));
///
/// let best_effort = LinuxSandbox::with_host(Compatibility::BestEffort, host);
/// let plan = best_effort.plan(&policy, project.path(), None)?;
/// assert!(!plan.report.is_complete()); // its report says what is not enforced
/// assert_eq!(Compatibility::default(), Compatibility::Strict);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// # Examples
///
/// ```
/// use codex_policy_model::{EgressPorts, SandboxPolicy};
/// use codex_sandbox_linux::{LinuxSandbox, LinuxSandboxError};
///
/// let project = tempfile::tempdir()?;
/// let sandbox = LinuxSandbox::new().filtered_network(EgressPorts { http: 3128, socks: 3128 });
/// let err = sandbox
///     .plan(&SandboxPolicy::read_only(), project.path(), None)
///     .unwrap_err();
/// assert!(matches!(err, LinuxSandboxError::InvalidEgressPorts { .. }));
/// // 125: codex-policy itself could not start it (127 and 126 are the program's).
/// assert_eq!(err.exit_status(), 125);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinuxSandboxError {
    /// A protection the policy needs cannot be enforced on this host.
    #[error(
        "refusing to run: this host cannot enforce the policy\n{}",
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
    /// The sandbox's user, mount, PID and IPC namespaces could not be
    /// created: unprivileged user namespaces are unavailable on this host.
    #[error(
        "refusing to run: the sandbox's user, mount, PID and IPC namespaces cannot be created: \
         unprivileged user namespaces are unavailable on this host (common in containers): \
         {source}; without them the hidden paths (credential stores) would be readable, \
         .git and .codex writable, and processes could outlive the sandbox"
    )]
    NamespacesUnavailable {
        /// The kernel's answer to `clone`.
        #[source]
        source: io::Error,
    },
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
    #[error("{}", codex_policy_model::exec_failure(program, source))]
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
    /// The hooks directory of the working directory's repository
    /// (`core.hooksPath`) is reached through a symlink or `..` inside a
    /// writable root: the command could re-point it before the host's next
    /// git command, so binding what it names now would protect nothing.
    #[error("refusing to run: {}", hooks_path_why(worktree, hooks_path, through))]
    UnprotectableHooksPath {
        /// The work tree whose configuration names it.
        worktree: PathBuf,
        /// The hooks directory as configured.
        hooks_path: PathBuf,
        /// Where it can be re-pointed.
        through: RepointableStep,
    },
    /// The git directory a `.git` file names is reached through a symlink
    /// inside a writable root, which the command could re-point.
    #[error("refusing to run: {}", git_dir_why(dot_git, link))]
    UnprotectableGitDir {
        /// The `.git` file.
        dot_git: PathBuf,
        /// The symlink on the way.
        link: PathBuf,
    },
    /// A path to hide ([`LinuxSandbox::hide_paths`]) is, or contains, the
    /// working directory or a writable root: the command could not run, or
    /// write, there.
    #[error(
        "refusing to run: {}{} is to be hidden from the command, but it is or contains {role} \
         ({}); un-hide it, or run from a directory outside it{}",
        hidden.display(),
        if given == hidden {
            String::new()
        } else {
            format!(" (as {})", given.display())
        },
        root.display(),
        if given == hidden {
            ""
        } else {
            "; if that link is not yours, a command may have planted it: remove it"
        }
    )]
    HiddenPathContainsRoot {
        /// The hidden path (its real path, or another mount showing it).
        hidden: PathBuf,
        /// The path as given to [`LinuxSandbox::hide_paths`] (a link, maybe).
        given: PathBuf,
        /// The working directory or writable root inside it.
        root: PathBuf,
        /// Which of the two `root` is: "the working directory" or "a
        /// writable root".
        role: &'static str,
    },
    /// A path to hide is reached through a symbolic link inside a writable
    /// root: a command could re-point the link, and a later run would hide
    /// the new target while the real one stayed readable.
    #[error(
        "refusing to run: {}{} a link inside a writable root that a command could re-point, \
         and later runs would then leave {} readable; hide the target itself (add it to \
         deny_read), or run with a working directory and writable roots that do not hold \
         the link",
        given.display(),
        if given == link {
            " is".to_owned()
        } else {
            format!(" is reached through {},", link.display())
        },
        target.display()
    )]
    HiddenPathThroughLink {
        /// The path as given.
        given: PathBuf,
        /// The link on the way, inside a writable root.
        link: PathBuf,
        /// What the path names now.
        target: PathBuf,
    },
    /// A path to hide cannot be looked at (no search permission on a
    /// directory above it, a loop of links, a name too long): whether it
    /// exists is unknown, and a store left unhidden would be readable.
    #[error(
        "refusing to run: {} is to be hidden, but cannot be looked at ({source}); a command \
         may have made it so (chmod of a directory above it) to keep it from being hidden: \
         fix its permissions, or un-hide it",
        path.display()
    )]
    HiddenPathUnknown {
        /// The path.
        path: PathBuf,
        /// Why it cannot be looked at.
        #[source]
        source: io::Error,
    },
    /// The command's working directory is not an existing directory.
    #[error("the working directory {} cannot be used: {source}", path.display())]
    WorkingDirectory {
        /// The directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A filtered network was asked for
    /// ([`LinuxSandbox::filtered_network`]), but this host cannot create the
    /// user and network namespaces it is made of. Strict mode refuses rather
    /// than open the network; best effort keeps it off instead.
    #[error(
        "refusing to run: the filtered network needs user and network namespaces (an empty \
         network namespace whose only way out is the egress proxy's listeners), which this \
         host cannot create: {reason}"
    )]
    FilteredNetworkUnavailable {
        /// What is missing on this host, or the kernel's answer.
        reason: String,
    },
    /// The ports given to [`LinuxSandbox::filtered_network`] cannot be used.
    #[error(
        "the egress proxy's ports cannot be used (HTTP {}, SOCKS {}): {why}",
        ports.http,
        ports.socks
    )]
    InvalidEgressPorts {
        /// The ports as given.
        ports: EgressPorts,
        /// Why not.
        why: &'static str,
    },
    /// [`PreparedSandbox::supervise`] was called from a process with more
    /// than one thread; nothing was started.
    #[error(
        "the calling process has {threads} threads: only a single-threaded process can become \
         the sandbox's supervisor (`spawn` starts a sandbox from any thread)"
    )]
    MultiThreaded {
        /// How many threads the process had.
        threads: usize,
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

    /// Why a path is not protected, for a warning (best effort, or a nested
    /// repository).
    fn why(&self) -> String {
        match self {
            Self::UnprotectableHooksPath {
                worktree,
                hooks_path,
                through,
            } => hooks_path_why(worktree, hooks_path, through),
            Self::UnprotectableGitDir { dot_git, link } => git_dir_why(dot_git, link),
            other => other.to_string(),
        }
    }
}

/// A step of a configured path that the command could re-point.
///
/// # Examples
///
/// A repository whose `core.hooksPath` passes through a symlink inside the
/// workspace: the command could re-point the link before the user's next
/// commit, so a strict sandbox refuses to start there.
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_linux::{LinuxSandbox, LinuxSandboxError, RepointableStep};
///
/// let dir = tempfile::tempdir()?;
/// let repo = dir.path().canonicalize()?;
/// std::fs::create_dir_all(repo.join(".git"))?;
/// std::fs::write(repo.join(".git/config"), "[core]\n\thooksPath = shared/hooks\n")?;
/// std::fs::create_dir_all(repo.join("tools/hooks"))?;
/// std::os::unix::fs::symlink("tools", repo.join("shared"))?;
///
/// let sandbox = LinuxSandbox::new();
/// let policy = SandboxPolicy::workspace_write(false);
/// # if sandbox.plan(&policy, &repo, None).is_err() {
/// #     return Ok(()); // a host that cannot enforce the policy at all
/// # }
/// let plan = sandbox.plan(&policy, &repo, None)?;
/// let err = sandbox.prepare(plan).unwrap_err();
/// let LinuxSandboxError::UnprotectableHooksPath { through, .. } = err else { panic!("{err}") };
/// assert_eq!(through, RepointableStep::Symlink(repo.join("shared")));
/// assert_eq!(through.to_string(), format!("the symlink {}", repo.join("shared").display()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RepointableStep {
    /// A `..` after this directory, inside a writable root.
    ParentOf(PathBuf),
    /// This symlink, inside a writable root.
    Symlink(PathBuf),
}

impl fmt::Display for RepointableStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ParentOf(dir) => write!(f, "`..` after {}", dir.display()),
            Self::Symlink(link) => write!(f, "the symlink {}", link.display()),
        }
    }
}

fn hooks_path_why(worktree: &Path, hooks_path: &Path, through: &RepointableStep) -> String {
    format!(
        "core.hooksPath of {} ({}) passes through {through}, which the command could \
         re-point; give it a path without links or `..`",
        worktree.display(),
        hooks_path.display()
    )
}

fn git_dir_why(dot_git: &Path, link: &Path) -> String {
    format!(
        "the git directory named by {} is reached through the symlink {}, which the command \
         could re-point; write the real path in that file",
        dot_git.display(),
        link.display()
    )
}

fn missing_lines(report: &EnforcementReport) -> String {
    report
        .missing()
        .filter_map(|entry| match &entry.status {
            ProtectionStatus::NotEnforced { reason } => {
                Some(format!("  missing: {} ({reason})", entry.protection))
            }
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The Linux sandbox: Landlock, seccomp and user/mount/PID/IPC (and network)
/// namespaces.
///
/// [`plan`](Self::plan) decides what a policy needs on this host,
/// [`prepare`](Self::prepare) builds it once, and the [`PreparedSandbox`]
/// starts any number of commands, from any thread:
///
/// ```no_run
/// use codex_sandbox_linux::LinuxSandbox;
/// use codex_policy_model::SandboxPolicy;
///
/// let sandbox = LinuxSandbox::new();
/// let plan = sandbox.plan(&SandboxPolicy::workspace_write(false), "/src/app".as_ref(), None)?;
/// let prepared = sandbox.prepare(plan)?;
/// println!("{}", prepared.report());
/// let mut started = prepared.spawn(&mut std::process::Command::new("make"))?;
/// let status = started.child.wait()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LinuxSandbox {
    compatibility: Compatibility,
    host: HostCapabilities,
    protected_paths: Vec<PathBuf>,
    /// Set by [`hide_paths`](Self::hide_paths).
    hidden_paths: Vec<PathBuf>,
    allowed_unix_sockets: Vec<PathBuf>,
    /// Set by [`filtered_network`](Self::filtered_network).
    egress: Option<EgressPorts>,
    /// Set by [`ca_bundle`](Self::ca_bundle).
    ca_bundle: Option<Arc<[u8]>>,
}

impl Default for LinuxSandbox {
    fn default() -> Self {
        Self::new()
    }
}

/// The layers chosen for one policy on this host: what
/// [`LinuxSandbox::plan`] decided, before anything is built.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{Protection, ProtectionStatus, SandboxPolicy};
/// use codex_sandbox_linux::{Compatibility, HostCapabilities, LinuxSandbox};
///
/// // Planning starts nothing: for a described host, it says what a policy would get there.
/// let host = HostCapabilities::assumed("6.12.0")
///     .with_landlock_abi(Some(6))
///     .with_seccomp(true)
///     .with_seccomp_user_notification(true)
///     .with_namespaces(Some(true));
/// let project = tempfile::tempdir()?;
/// let sandbox = LinuxSandbox::with_host(Compatibility::Strict, host);
/// let plan = sandbox.plan(&SandboxPolicy::read_only(), project.path(), None)?;
/// assert!(plan.report.is_complete());
/// let network = plan.report.status(Protection::NetworkSockets);
/// assert!(matches!(network, Some(ProtectionStatus::Enforced { .. })));
/// assert_eq!(plan.cwd(), project.path());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SandboxPlan {
    /// What will and will not be enforced.
    pub report: EnforcementReport,
    /// The working directory, absolute.
    cwd: PathBuf,
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
    /// Run with what can be enforced (`BestEffort`).
    best_effort: bool,
    /// A filtered network (the policy has no network of its own, and the
    /// namespaces it needs are there): the egress listeners' ports.
    egress: Option<EgressPorts>,
    roots: EffectiveWritableRoots,
    /// The caller's protected paths that lie inside a writable root.
    protected: Vec<PathBuf>,
    /// The paths to hide, absolute as given and, for those that existed at
    /// `plan`, their real paths then (a link the command re-points later
    /// does not uncover them).
    hidden: Vec<PathBuf>,
    unrestricted: bool,
}

impl SandboxPlan {
    /// The working directory the plan was made for (absolute).
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }
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

    /// A sandbox for an already probed host (`doctor` probes once for every
    /// profile), or for a host described with [`HostCapabilities::assumed`]
    /// (to plan for it; starting needs the features to be really there).
    pub fn with_host(compatibility: Compatibility, host: HostCapabilities) -> Self {
        Self {
            compatibility,
            host,
            protected_paths: Vec::new(),
            hidden_paths: Vec::new(),
            allowed_unix_sockets: Vec::new(),
            egress: None,
            ca_bundle: None,
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

    /// Paths the command may not read: credential stores (`~/.ssh`,
    /// `~/.aws`, a token file). In the sandbox's private mount namespace
    /// every one that exists when a command starts is covered — a directory
    /// by an empty read-only directory, any other file by an empty read-only
    /// file — so every process of the sandbox finds it empty and cannot write
    /// it. A path given as or through a symlink is hidden at its real target
    /// (at [`plan`](Self::plan) and again at each start); so are the other
    /// mounts that show the same directory (a bind mount of `/home`
    /// elsewhere). A path that does not exist at a start is skipped; the list
    /// is looked at again at every start, so a file created after
    /// [`prepare`](Self::prepare) is hidden from the next command.
    ///
    /// A hidden path inside a writable root is a mount point, and every
    /// directory from the root down to it is pinned: neither it nor an
    /// ancestor can be moved, so its contents cannot be carried out to an
    /// unhidden name. A hidden path that is, or contains, the working
    /// directory or a writable root is refused
    /// ([`HiddenPathContainsRoot`](LinuxSandboxError::HiddenPathContainsRoot)).
    /// Not hidden: other hard links of a hidden file (the report warns),
    /// and anything on a host without user namespaces — a strict sandbox
    /// refuses there, a best-effort one hides nothing and says so — or
    /// without Landlock (the host's processes under `/proc/<pid>/root` would
    /// still show them). Nothing is hidden under `danger-full-access`.
    /// Relative paths are taken from the process's working directory.
    #[must_use]
    pub fn hide_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.hidden_paths.extend(paths);
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

    /// The policy's network is filtered by an egress proxy the caller runs:
    /// when the policy has no network access of its own, each command gets
    /// an empty network namespace whose only way out is two listeners on its
    /// own loopback, `127.0.0.1:<ports.http>` and `127.0.0.1:<ports.socks>`,
    /// made inside the namespace at each start and handed to the caller
    /// ([`SandboxedChild::egress_listeners`], or
    /// [`Supervised::take_egress_listeners`]); every connection to them is
    /// the proxy's to accept and decide. Nothing else is reachable: not the
    /// host's loopback, not another interface, and no UDP leaves the
    /// namespace. The command may open TCP and UDP sockets (the namespace is
    /// the boundary, not seccomp or Landlock) and does not get
    /// `CODEX_SANDBOX_NETWORK_DISABLED`; pointing it at the proxy
    /// (`HTTP_PROXY`, `ALL_PROXY`) is the caller's.
    ///
    /// Ignored when the policy already has full network access: there is
    /// nothing to filter. Needs user and network namespaces: without them a
    /// strict sandbox refuses
    /// ([`FilteredNetworkUnavailable`](LinuxSandboxError::FilteredNetworkUnavailable)),
    /// and a best-effort one keeps the network off — never open — and its
    /// report says the egress proxy is not reachable.
    #[must_use]
    pub fn filtered_network(mut self, ports: EgressPorts) -> Self {
        self.egress = Some(ports);
        self
    }

    /// Certificates (PEM) the command is to trust, as a file of the
    /// sandbox's own at [`CA_BUNDLE_PATH`], in its private `/dev`: made at each
    /// start, in a mount namespace no other process enters, so no command of
    /// another sandbox and nothing on the host can read or replace it (the
    /// command itself may only change its own copy). Needs user namespaces
    /// (the private `/dev`); without them the file is absent, and whatever
    /// the command would verify with it fails — closed.
    #[must_use]
    pub fn ca_bundle(mut self, pem: impl Into<Arc<[u8]>>) -> Self {
        self.ca_bundle = Some(pem.into());
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
    /// its `$TMPDIR`) and which this host provides. Starts nothing, builds
    /// nothing; a strict sandbox refuses here
    /// ([`Unenforceable`](LinuxSandboxError::Unenforceable)) when a required
    /// protection cannot be enforced.
    ///
    /// # Errors
    ///
    /// [`LinuxSandboxError::WritableRoots`] when `cwd` does not exist or is not a
    /// directory (for a policy with writable roots);
    /// [`LinuxSandboxError::InvalidEgressPorts`] when a filtered network's port is
    /// 0 or both ports are equal; [`LinuxSandboxError::UnprotectablePath`] for a
    /// protected path not yet created inside a writable root;
    /// [`LinuxSandboxError::HiddenPathThroughLink`],
    /// [`LinuxSandboxError::HiddenPathContainsRoot`] or
    /// [`LinuxSandboxError::HiddenPathUnknown`] for a path to hide reached through
    /// a link a command could re-point, holding the working directory or a
    /// writable root, or that cannot be looked at; in strict mode,
    /// [`LinuxSandboxError::FilteredNetworkUnavailable`] and
    /// [`LinuxSandboxError::Unenforceable`]; [`LinuxSandboxError::Io`] when a path
    /// cannot be made absolute or, in strict mode with paths to hide, the mount
    /// table cannot be read.
    pub fn plan(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        tmpdir: Option<&OsStr>,
    ) -> Result<SandboxPlan, LinuxSandboxError> {
        // Absolute once: a relative directory would be applied again from
        // itself by the child's chdir.
        let cwd = std::path::absolute(cwd)?;
        let roots = policy.writable_roots(&cwd, tmpdir)?;
        if policy.has_full_disk_write_access() {
            return Ok(SandboxPlan {
                report: EnforcementReport::new(
                    Protection::ALL
                        .iter()
                        .map(|&protection| not_needed(protection))
                        .collect(),
                    vec!["danger-full-access: no restriction".into()],
                ),
                cwd,
                landlock_abi: None,
                seccomp: false,
                namespaces: false,
                deny_network: false,
                network_namespace: false,
                broker: false,
                best_effort: self.compatibility == Compatibility::BestEffort,
                egress: None,
                roots,
                protected: Vec::new(),
                hidden: Vec::new(),
                unrestricted: true,
            });
        }

        let abi = self.host.landlock_abi.unwrap_or(0);
        let landlock_why = self.host.landlock_error.clone().unwrap_or_else(|| {
            if abi >= 1 {
                format!("Landlock ABI {abi} is too old")
            } else {
                "Landlock is unavailable on this host".into()
            }
        });
        let namespaces = self.host.namespaces.unwrap_or(true);
        let namespace_why = self
            .host
            .namespaces_error
            .clone()
            .unwrap_or_else(|| "user namespaces unavailable".into());
        // A filtered network replaces "network off" only where its namespace
        // can be made; elsewhere the network stays off (best effort) or the
        // plan is refused (strict) — it is never opened instead.
        let filter = self.egress.filter(|_| !policy.has_network_access());
        if let Some(ports) = filter
            && let Some(why) = egress::invalid_ports(ports)
        {
            return Err(LinuxSandboxError::InvalidEgressPorts { ports, why });
        }
        if filter.is_some() && !namespaces && self.compatibility == Compatibility::Strict {
            return Err(LinuxSandboxError::FilteredNetworkUnavailable {
                reason: namespace_why,
            });
        }
        let egress = filter.filter(|_| namespaces);
        let deny_network = !policy.has_network_access() && egress.is_none();
        let scopes = abi >= ABI_SCOPES;
        let landlock_tcp = deny_network && abi >= ABI_TCP;
        let network_namespace = (deny_network && !scopes && namespaces) || egress.is_some();
        let protected = protected_inside_roots(&roots, &self.protected_paths)?;
        let has_protected = !protected.is_empty()
            || roots.roots.iter().any(|r| {
                r.read_only_subpaths
                    .iter()
                    .any(|p| p.symlink_metadata().is_ok())
            });
        let broker = self.host.seccomp && self.host.seccomp_user_notification;
        let mut hidden = Vec::new();
        let writable = codex_policy_model::CommandWritable::from_roots(&roots);
        let given: Vec<PathBuf> = self
            .hidden_paths
            .iter()
            .map(std::path::absolute)
            .collect::<io::Result<_>>()?;
        for absolute in &given {
            // One stat rules out what does not exist (most default stores)
            // before the costlier resolution, a system call per component.
            if !exists_to_hide(absolute)? {
                hidden.push(absolute.clone());
                continue;
            }
            if let Ok(real) = std::fs::canonicalize(absolute) {
                // Re-pointable: the real store must be named itself. Only a
                // path that resolves elsewhere has a link on the way (the
                // walk is costly: a resolution per component).
                if !lexically_equal(absolute, &real)
                    && let Some(link) = writable.planted_link(absolute)
                    && !given.iter().any(|g| lexically_equal(g, &real))
                {
                    return Err(LinuxSandboxError::HiddenPathThroughLink {
                        given: absolute.clone(),
                        link,
                        target: real,
                    });
                }
                hidden.push(real);
            }
            hidden.push(absolute.clone());
        }
        // Refused here, as it would be at every start.
        hidden_now(
            &hidden,
            &roots,
            &cwd,
            self.compatibility == Compatibility::BestEffort,
            &mut Vec::new(),
        )?;

        let status = |ok: bool, by: &str, why: &str| {
            if ok {
                ProtectionStatus::Enforced { by: by.to_owned() }
            } else {
                ProtectionStatus::NotEnforced {
                    reason: why.to_owned(),
                }
            }
        };
        let entry = ProtectionReport::new;
        let either = |a: (bool, &str), b: (bool, &str), why: &str| {
            let by: Vec<&str> = [a, b]
                .iter()
                .filter(|(ok, _)| *ok)
                .map(|(_, n)| *n)
                .collect();
            status(!by.is_empty(), &by.join(" + "), why)
        };
        let seccomp_why = "seccomp is unavailable (kernel built without CONFIG_SECCOMP_FILTER)";
        // Every mechanism that closes the network, named in the one
        // protection's status; seccomp is the one it depends on.
        let network_also: Vec<&str> = [
            (landlock_tcp, "Landlock TCP bind/connect rules"),
            (network_namespace, "empty network namespace"),
        ]
        .iter()
        .filter(|(ok, _)| *ok)
        .map(|(_, n)| *n)
        .collect();
        // Asked for, but not possible here (best effort): said on the line
        // of the network, which is off.
        let unreachable_proxy = filter.is_some() && egress.is_none();
        let proxy_note = if unreachable_proxy {
            format!(
                "; the egress proxy is not reachable, the network is off: a filtered network \
                 needs user and network namespaces ({namespace_why})"
            )
        } else {
            String::new()
        };
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
            if hidden.is_empty() {
                not_needed(Protection::HiddenPaths)
            } else if !namespaces {
                entry(
                    Protection::HiddenPaths,
                    true,
                    ProtectionStatus::NotEnforced {
                        reason: format!("{namespace_why}: nothing is hidden"),
                    },
                )
            } else {
                // Without Landlock's ptrace restriction, /proc/<pid>/root of
                // a host process of the same user leads to the host's
                // mounts, where nothing is hidden.
                entry(
                    Protection::HiddenPaths,
                    true,
                    status(
                        abi >= 1,
                        "empty read-only mounts in a private mount namespace",
                        &format!(
                            "{landlock_why}: the host's processes under /proc/<pid>/root \
                             still show the hidden paths (Landlock refuses that access)"
                        ),
                    ),
                )
            },
            if let Some(ports) = egress {
                entry(
                    Protection::NetworkSockets,
                    true,
                    ProtectionStatus::Enforced {
                        by: format!(
                            "filtered network: empty network namespace, only the egress \
                             proxy's listeners at 127.0.0.1:{} (HTTP) and :{} (SOCKS5)",
                            ports.http, ports.socks
                        ),
                    },
                )
            } else if deny_network {
                entry(
                    Protection::NetworkSockets,
                    true,
                    if self.host.seccomp {
                        ProtectionStatus::Enforced {
                            by: std::iter::once("seccomp")
                                .chain(network_also.iter().copied())
                                .collect::<Vec<_>>()
                                .join(" + ")
                                + &proxy_note,
                        }
                    } else if network_also.is_empty() {
                        ProtectionStatus::NotEnforced {
                            reason: format!("{seccomp_why}{proxy_note}"),
                        }
                    } else {
                        ProtectionStatus::NotEnforced {
                            reason: format!(
                                "{seccomp_why}; only {} in force{proxy_note}",
                                network_also.join(" + ")
                            ),
                        }
                    },
                )
            } else {
                not_needed(Protection::NetworkSockets)
            },
        ];
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
                    (network_namespace, "empty network namespace"),
                    "needs Landlock ABI 6 (Linux 6.12), or user namespaces with network off \
                     or filtered",
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

        let report = EnforcementReport::new(protections, Vec::new());
        if self.compatibility == Compatibility::Strict && !report.is_complete() {
            return Err(LinuxSandboxError::Unenforceable { report });
        }
        Ok(SandboxPlan {
            report,
            cwd,
            landlock_abi: (abi >= 1).then_some(abi),
            seccomp: self.host.seccomp,
            namespaces,
            deny_network,
            network_namespace,
            broker,
            best_effort: self.compatibility == Compatibility::BestEffort,
            egress,
            roots,
            protected,
            hidden,
            unrestricted: false,
        })
    }

    /// Builds, once, what does not depend on the command: the Landlock
    /// ruleset (its paths opened, its rights computed, the kernel's
    /// acceptance checked), the seccomp program, the broker's policy, the
    /// namespace settings and the private `/dev`; and finds the paths to
    /// protect as they are on disk now, which each start looks for again
    /// (see [`PreparedSandbox::spawn`]). Starts nothing. Consumes the plan,
    /// so that [`PreparedSandbox::report`] is the report of what is applied.
    ///
    /// Fails when a protected path cannot be protected (a hooks directory or
    /// git directory reached through a link the command could re-point, in
    /// strict mode), or when the kernel refuses a layer.
    ///
    /// # Errors
    ///
    /// [`LinuxSandboxError::Landlock`] when a writable root cannot be opened or
    /// the kernel refuses the ruleset; [`LinuxSandboxError::Seccomp`] when the
    /// filter cannot be compiled; in strict mode,
    /// [`LinuxSandboxError::UnprotectableGitDir`] or
    /// [`LinuxSandboxError::UnprotectableHooksPath`] for a git or hooks directory
    /// reached through a link or `..` inside a writable root; the hidden-path
    /// refusals of [`plan`](Self::plan), for the disk as it is now;
    /// [`LinuxSandboxError::Io`] when a path to bind read-only cannot be examined.
    pub fn prepare(&self, plan: SandboxPlan) -> Result<PreparedSandbox, LinuxSandboxError> {
        let SandboxPlan {
            mut report,
            cwd,
            landlock_abi,
            seccomp,
            namespaces,
            deny_network,
            network_namespace,
            broker,
            best_effort,
            egress,
            roots,
            protected,
            hidden,
            unrestricted,
        } = plan;
        if unrestricted {
            let common_rules = report.rules.len();
            return Ok(PreparedSandbox {
                report,
                common_rules,
                cwd,
                network_disabled: false,
                egress: None,
                layers: None,
                first_mounts: Mutex::new(None),
            });
        }
        let mut rules = Vec::new();
        let mut device_access = (0, 0);
        let landlock = match landlock_abi {
            Some(abi) => {
                let template = LandlockTemplate::build(&LandlockRequest {
                    abi,
                    writable_roots: &roots.roots,
                    deny_tcp: deny_network && abi >= ABI_TCP,
                    scopes: abi >= ABI_SCOPES,
                })?;
                rules.extend(template.description.iter().cloned());
                device_access = (template.shm_access, template.pts_access);
                Some(template)
            }
            None => None,
        };
        let sockets = if deny_network {
            Sockets::UnixOnly
        } else if egress.is_some() {
            Sockets::Namespaced
        } else {
            Sockets::Any
        };
        let seccomp = if seccomp {
            let built = seccomp_filter::build(sockets, broker)?;
            rules.extend(built.description);
            Some(Arc::new(built.program))
        } else {
            None
        };
        let namespaces = if namespaces {
            rules.push(format!(
                "namespaces: user, mount, pid, ipc{}; private /dev (null, zero, full, random, \
                 urandom, tty, own devpts and /dev/shm); own /proc; no capabilities",
                if network_namespace {
                    ", net (empty)"
                } else {
                    ""
                }
            ));
            if let Some(ports) = egress {
                rules.push(format!(
                    "network: filtered: empty network namespace, lo up; listeners for the \
                     egress proxy at 127.0.0.1:{} (HTTP) and 127.0.0.1:{} (SOCKS5), made \
                     inside it at each start and handed to the caller",
                    ports.http, ports.socks
                ));
            }
            if let Some(bundle) = &self.ca_bundle {
                rules.push(format!(
                    "certificates to trust: {CA_BUNDLE_PATH} ({} bytes), in the private /dev",
                    bundle.len()
                ));
            }
            Some(Arc::new(namespace_config(
                network_namespace,
                device_access,
                egress,
                self.ca_bundle.clone(),
                best_effort,
            )?))
        } else {
            None
        };
        let broker = (broker && seccomp.is_some()).then(|| BrokerPolicy {
            allowed: self.allowed_unix_sockets.clone(),
            writable: roots.roots.iter().map(|r| r.root.clone()).collect(),
            own_pid_namespace: namespaces.is_some(),
            own_network_namespace: network_namespace,
            network_allowed: !deny_network,
        });
        let mounts = MountInputs {
            roots,
            protected,
            hidden,
            best_effort,
        };
        let first_mounts = match namespaces {
            Some(_) => Some(mount_plan(&mounts, &cwd)?),
            None => None,
        };
        report.rules.extend(rules);
        let common_rules = report.rules.len();
        if let Some(first) = &first_mounts {
            report.rules.extend(first.rules.iter().cloned());
        }
        Ok(PreparedSandbox {
            report,
            common_rules,
            cwd,
            network_disabled: deny_network,
            egress,
            layers: Some(Layers {
                landlock,
                seccomp,
                namespaces,
                broker,
                mounts,
            }),
            first_mounts: Mutex::new(first_mounts),
        })
    }
}

/// What the mount plan of a start is computed from.
#[derive(Debug)]
struct MountInputs {
    roots: EffectiveWritableRoots,
    /// The caller's protected paths inside a writable root.
    protected: Vec<PathBuf>,
    /// The paths to hide (see [`SandboxPlan`]).
    hidden: Vec<PathBuf>,
    best_effort: bool,
}

/// Each root's read-only subpaths as the disk holds them now: those listed
/// when the plan was made, and a `.git`, `.codex` or `.agents` (or what a
/// link there points to) an earlier command of the session created since.
fn read_only_subpaths_now(roots: &EffectiveWritableRoots) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = Vec::new();
    let mut add = |path: PathBuf| {
        if !paths.contains(&path) {
            paths.push(path);
        }
    };
    for root in &roots.roots {
        root.read_only_subpaths.iter().cloned().for_each(&mut add);
        let fresh = codex_policy_model::git_metadata_paths(&root.root.join(GIT_DIR_NAME))
            .into_iter()
            .chain(
                ALWAYS_PROTECTED_NAMES
                    .iter()
                    .map(|name| root.root.join(name)),
            );
        for path in fresh {
            if path
                .symlink_metadata()
                .is_ok_and(|m| m.file_type().is_symlink())
                && let Ok(target) = std::fs::canonicalize(&path)
            {
                add(target);
            }
            add(path);
        }
    }
    paths
}

/// The mounts of one start, and their lines (warnings first) for its report.
#[derive(Debug)]
struct MountPlan {
    mounts: Vec<MountStep>,
    rules: Vec<String>,
}

/// The layers built by [`LinuxSandbox::prepare`], shared by every start.
#[derive(Debug)]
struct Layers {
    landlock: Option<LandlockTemplate>,
    seccomp: Option<Arc<BpfProgram>>,
    namespaces: Option<Arc<NamespaceConfig>>,
    broker: Option<BrokerPolicy>,
    mounts: MountInputs,
}

/// A sandbox built for one policy and working directory, ready to start any
/// number of commands.
///
/// Built once by [`LinuxSandbox::prepare`]: the Landlock rules, the seccomp
/// program, the broker's policy and the namespace settings are shared by
/// every start. Each start has its own error pipe, broker socket pair and
/// broker thread, Landlock ruleset (made from the prepared rules: the child
/// adds its private `/dev` to it) and mount plan: the repositories, hooks
/// directories and pinned ancestors are looked for on disk again, since an
/// earlier command of the session may have created a repository.
///
/// [`spawn`](Self::spawn) may be called from any thread, concurrently; it
/// changes nothing in the calling process.
/// [`supervise`](Self::supervise) is the single-threaded fast path of a
/// program that runs one command and waits for it.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_linux::LinuxSandbox;
///
/// let project = tempfile::tempdir()?;
/// let sandbox = LinuxSandbox::best_effort();
/// let plan = sandbox.plan(&SandboxPolicy::read_only(), project.path(), None)?;
/// let prepared = sandbox.prepare(plan)?;
/// assert!(prepared.network_disabled());
/// assert_eq!(prepared.cwd(), project.path());
/// // Each command started with `spawn` (from any thread) gets the same layers.
/// let command = prepared.command("cargo".as_ref(), &["test".into()]);
/// assert_eq!(command.get_program(), "cargo");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PreparedSandbox {
    report: EnforcementReport,
    /// Where the mount lines of `report` begin.
    common_rules: usize,
    cwd: PathBuf,
    network_disabled: bool,
    /// A filtered network: the egress listeners' ports (every start has
    /// namespaces then).
    egress: Option<EgressPorts>,
    /// `None`: the policy is unrestricted.
    layers: Option<Layers>,
    /// The mount plan found by `prepare` (shown in `report`), used only by
    /// the one-call `Sandbox::spawn`; `spawn` and `supervise` look again.
    first_mounts: Mutex<Option<MountPlan>>,
}

impl PreparedSandbox {
    /// What every start applies: each protection and how it is enforced, and
    /// the rules — the Landlock paths, the seccomp lists, the namespaces, then
    /// the mounts as found when prepared (and warnings about them). Each
    /// [`spawn`](Self::spawn) finds the mounts again; the report of its child
    /// lists those it applied.
    pub fn report(&self) -> &EnforcementReport {
        &self.report
    }

    /// The working directory of the plan (absolute): where a command without
    /// one of its own runs.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Whether the network is closed to the commands (they also get
    /// `CODEX_SANDBOX_NETWORK_DISABLED=1`).
    pub fn network_disabled(&self) -> bool {
        self.network_disabled
    }

    /// For a filtered network ([`LinuxSandbox::filtered_network`]), the
    /// ports of the listeners each start makes on the sandbox's loopback and
    /// hands out; `None` when the network is not filtered (the policy has
    /// the network, or it is off — also where a filtered one could not be
    /// built, in best effort).
    pub fn egress_ports(&self) -> Option<EgressPorts> {
        self.egress
    }

    /// Whether each command finds the certificates of
    /// [`LinuxSandbox::ca_bundle`] at [`CA_BUNDLE_PATH`] (only where the
    /// sandbox has its private `/dev`).
    pub fn has_ca_bundle(&self) -> bool {
        self.layers
            .as_ref()
            .and_then(|l| l.namespaces.as_ref())
            .and_then(|ns| ns.devices.as_ref())
            .is_some_and(|d| d.ca_bundle.is_some())
    }

    /// Where each command finds the certificates of
    /// [`LinuxSandbox::ca_bundle`]: [`CA_BUNDLE_PATH`] when
    /// [`has_ca_bundle`](Self::has_ca_bundle).
    pub fn ca_bundle_path(&self) -> Option<&Path> {
        self.has_ca_bundle().then(|| Path::new(CA_BUNDLE_PATH))
    }

    /// The `std` command for `program` and `args`, to be given to
    /// [`spawn`](Self::spawn) or [`supervise`](Self::supervise) (any
    /// `Command` will do here; the method exists so that a caller writes
    /// the same code for every backend, some of which wrap the program).
    pub fn command(&self, program: &OsStr, args: &[OsString]) -> Command {
        let mut command = Command::new(program);
        command.args(args);
        command
    }

    /// Starts `command` in the sandbox and returns it with the report of what
    /// was applied to it.
    ///
    /// A helper process is forked between the caller and the sandbox: it
    /// becomes the sandbox's reaper, forwards SIGTERM and SIGHUP to the
    /// command, and watches the calling *process* (not the thread): when the
    /// process exits, the sandbox is killed; a thread that exits does not
    /// matter. [`Child::wait`] gives the command's own status: its exit code,
    /// or, when signal N killed it, `ExitStatus::signal() == Some(N)` (the
    /// reaper dies of the same signal, without a core dump of its own).
    /// Killing the child kills every process of the sandbox.
    ///
    /// Safe from any thread, and concurrently: everything the child does
    /// between `fork` and `exec` is an async-signal-safe system call on memory
    /// prepared here, and the calling process's signal dispositions, mask and
    /// rights are left as they are.
    ///
    /// The command runs in its `current_dir` — which must be an existing
    /// directory, and may lie outside the writable roots (it is then only
    /// readable) — or, without one, in [`cwd`](Self::cwd). The command
    /// carries this start's setup: start it once, through this method (a
    /// second `spawn` of the same `Command` fails). Its `$TMPDIR` is not
    /// read: the plan's writable roots are fixed.
    ///
    /// # Errors
    ///
    /// [`LinuxSandboxError::WorkingDirectory`] when the command's directory is not
    /// an existing directory; [`LinuxSandboxError::Exec`] when the program cannot
    /// be executed (not found, not executable) or the `Command` was started
    /// before; [`LinuxSandboxError::NamespacesUnavailable`] (with a filtered
    /// network, [`LinuxSandboxError::FilteredNetworkUnavailable`]) when the
    /// namespaces cannot be created, and [`LinuxSandboxError::Setup`] when another
    /// setup step fails; the mount refusals of [`LinuxSandbox::prepare`], for the
    /// disk as it is now; [`LinuxSandboxError::Io`] or
    /// [`LinuxSandboxError::Landlock`] when the host refuses a descriptor or the
    /// ruleset.
    pub fn spawn(&self, command: &mut Command) -> Result<SandboxedChild, LinuxSandboxError> {
        self.start_child(command, false)
    }

    /// Starts `command` with the *calling process* as the supervisor of the
    /// sandbox's init — one process fewer than [`spawn`](Self::spawn), what
    /// `codex-policy run` uses — and returns the handle to wait for it.
    ///
    /// Process-wide and opt-in:
    /// - the process must be single-threaded (the namespaces are created by
    ///   `clone` in the calling process, and the command's process runs
    ///   ordinary code before `exec`): the thread count is read first, and with
    ///   more than one thread nothing is done and
    ///   [`MultiThreaded`](LinuxSandboxError::MultiThreaded) is returned;
    /// - once the sandbox is started, the process forwards SIGTERM and SIGHUP
    ///   to the command and ignores SIGINT and SIGQUIT (which reach the
    ///   command directly from the terminal), for the rest of its life;
    /// - it starts the broker's thread, so the process is multi-threaded
    ///   until the sandbox ends;
    /// - without pidfds (Linux < 5.3) it arms `PR_SET_PDEATHSIG` on itself.
    ///
    /// The sandbox is killed if the process's parent exits while it runs.
    /// Without namespaces (best effort) or for an unrestricted plan, the
    /// command is started as by [`spawn`](Self::spawn) instead, and the
    /// process is left as it was. Like [`spawn`](Self::spawn), it looks for
    /// the mounts on disk again (the [`report`](Self::report) lists them as
    /// they were at [`LinuxSandbox::prepare`]).
    ///
    /// # Errors
    ///
    /// [`LinuxSandboxError::MultiThreaded`] when the process has more than one
    /// thread; [`LinuxSandboxError::Io`] when its thread count cannot be read from
    /// `/proc`; otherwise as [`spawn`](Self::spawn), except that when the caller
    /// supervises, a program that cannot be executed is no error: the command
    /// exits with status 127 (not found) or 126.
    pub fn supervise(&self, command: &mut Command) -> Result<Supervised, LinuxSandboxError> {
        let threads = thread_count()?;
        if threads > 1 {
            return Err(LinuxSandboxError::MultiThreaded { threads });
        }
        let Some((layers, config)) = self
            .layers
            .as_ref()
            .and_then(|l| l.namespaces.clone().map(|c| (l, c)))
        else {
            let started = self.start_child(command, false)?;
            return Ok(Supervised {
                running: Running::Child(started.child),
                egress: started.egress_listeners,
            });
        };
        let cwd = self.working_directory(command)?;
        if self.network_disabled {
            command.env("CODEX_SANDBOX_NETWORK_DISABLED", "1");
        }
        // Looked for again even on a first start: anything (the caller, another
        // session) may have created a repository since `prepare`.
        let _ = self.first_mounts.lock().ok().and_then(|mut m| m.take());
        let mounts = mount_plan(&layers.mounts, &cwd)?;
        let (egress_end, sandbox_end) = self.egress_pair()?;
        let namespaces = NamespaceSetup {
            config,
            mounts: mounts.mounts,
            cwd: c_path(&std::fs::canonicalize(&cwd)?)?,
            egress: sandbox_end,
        };
        let mut setup = child_setup(layers, ParentLink::InPlace, Some(namespaces))?;
        let (error_read, error_write) = error_pipe()?;
        setup.error_pipe = Some(error_write);
        let broker_end = attach_broker(&mut setup, layers.broker.is_some())?;
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
        // SAFETY: the process is single-threaded (checked above).
        let steps = unsafe { setup.steps() };
        // SAFETY: getpid has no preconditions.
        let in_supervisor = unsafe { libc::getpid() } == supervisor;
        match steps {
            Ok(Role::Reaper {
                init,
                lifeline,
                status,
            }) => {
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
                    // SAFETY: the read end of the status pipe, now ours alone.
                    status: unsafe { OwnedFd::from_raw_fd(status) },
                    parent,
                };
                // Our copy closed, the pipe reaches EOF once the command has
                // exec'd (or init failed and wrote why).
                drop(setup);
                if let Some(failure) = wait_for_setup(&error_read) {
                    let _ = running.wait();
                    return Err(self.explain(failure));
                }
                let started = receive_egress(egress_end.as_ref()).and_then(|egress| {
                    if let (Some(end), Some(policy)) = (broker_end, layers.broker.clone()) {
                        start_broker(&end, policy)?;
                    }
                    Ok(egress)
                });
                match started {
                    Ok(egress) => Ok(Supervised {
                        running: Running::Supervisor(running),
                        egress,
                    }),
                    Err(err) => {
                        // SAFETY: killing our own child.
                        unsafe { libc::kill(init, libc::SIGKILL) };
                        let _ = running.wait();
                        Err(err)
                    }
                }
            }
            Err((stage, errno)) if in_supervisor => {
                // SAFETY: restoring our own signal mask.
                unsafe { libc::sigprocmask(libc::SIG_SETMASK, &caller_mask, std::ptr::null_mut()) };
                Err(self.explain(setup_error(stage, errno)))
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
                // A closed standard error must turn 127/126 neither into a
                // panic nor into death by SIGPIPE (exec restored its default).
                // SAFETY: ignoring a signal in this process, about to exit.
                unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
                let line = format!("codex-policy: error: {err}\n");
                let _ = io::Write::write_all(&mut io::stderr(), line.as_bytes());
                // SAFETY: leaving the forked command process.
                unsafe { libc::_exit(i32::from(err.exit_status())) }
            }
        }
    }

    /// The command's working directory: its own (absolute, an existing
    /// directory), else the plan's; set on the command.
    fn working_directory(&self, command: &mut Command) -> Result<PathBuf, LinuxSandboxError> {
        let dir = match command.get_current_dir() {
            Some(dir) => {
                std::path::absolute(dir).map_err(|source| LinuxSandboxError::WorkingDirectory {
                    path: dir.to_owned(),
                    source,
                })?
            }
            None => self.cwd.clone(),
        };
        match std::fs::metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            Ok(_) => {
                return Err(LinuxSandboxError::WorkingDirectory {
                    path: dir,
                    source: io::Error::from_raw_os_error(libc::ENOTDIR),
                });
            }
            Err(source) => return Err(LinuxSandboxError::WorkingDirectory { path: dir, source }),
        }
        command.current_dir(&dir);
        Ok(dir)
    }

    /// [`spawn`](Self::spawn); `first_mounts`: apply the mounts found by
    /// `prepare` if no start has yet (a one-shot `Sandbox::spawn`).
    fn start_child(
        &self,
        command: &mut Command,
        first_mounts: bool,
    ) -> Result<SandboxedChild, LinuxSandboxError> {
        let cwd = self.working_directory(command)?;
        let Some(layers) = &self.layers else {
            let child = command
                .spawn()
                .map_err(|source| exec_error(command, source))?;
            return Ok(SandboxedChild {
                child,
                report: self.report.clone(),
                egress_listeners: None,
            });
        };
        if self.network_disabled {
            command.env("CODEX_SANDBOX_NETWORK_DISABLED", "1");
        }
        let mut rules = self.report.rules[..self.common_rules].to_vec();
        let (egress_end, sandbox_end) = self.egress_pair()?;
        let namespaces = match &layers.namespaces {
            Some(config) => {
                // Taken by every start: once anything has run, the disk may
                // differ from what `prepare` found, and a later `supervise`
                // must look again too.
                let prepared = self.first_mounts.lock().ok().and_then(|mut m| m.take());
                let first = prepared.filter(|_| first_mounts);
                let mounts = match first {
                    Some(mounts) => mounts,
                    None => mount_plan(&layers.mounts, &cwd)?,
                };
                rules.extend(mounts.rules);
                Some(NamespaceSetup {
                    config: Arc::clone(config),
                    mounts: mounts.mounts,
                    cwd: c_path(&std::fs::canonicalize(&cwd)?)?,
                    egress: sandbox_end,
                })
            }
            None => None,
        };
        let report = EnforcementReport::new(self.report.protections.clone(), rules);
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() };
        let parent = ParentLink::Forked {
            pid,
            // SAFETY: a pidfd of our own process, owned from here on.
            pidfd: crate::child::pidfd_open(pid).map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
        };
        let mut setup = child_setup(layers, parent, namespaces)?;
        let (error_read, error_write) = error_pipe()?;
        setup.error_pipe = Some(error_write);
        let broker_end = attach_broker(&mut setup, layers.broker.is_some())?;
        // The command keeps its `pre_exec` closure: it reaches the setup
        // through this cell, emptied as soon as the start is over, so that
        // this start's descriptors close now and a second start of the same
        // command fails instead of reusing them. `try_lock` in the child
        // never waits: only this thread locks the cell, after the fork.
        let cell = Arc::new(Mutex::new(Some(setup)));
        let in_child = Arc::clone(&cell);
        // SAFETY: the closure only makes async-signal-safe system calls on
        // memory prepared here (`apply`), as `pre_exec` requires.
        unsafe {
            command.pre_exec(move || match in_child.try_lock() {
                Ok(guard) => match guard.as_ref() {
                    Some(setup) => setup.apply(),
                    None => Err(io::Error::from_raw_os_error(libc::EALREADY)),
                },
                Err(_) => Err(io::Error::from_raw_os_error(libc::EALREADY)),
            });
        }
        let spawned = command.spawn();
        if let Ok(mut setup) = cell.lock() {
            setup.take();
        }
        let mut child = match spawned {
            Ok(child) => child,
            Err(source) => {
                return Err(match read_failure(&error_read) {
                    Some(failure) => self.explain(failure),
                    None => exec_error(command, source),
                });
            }
        };
        // The sandbox's init reports a failed step on the pipe and exits; std
        // saw no exec error from the reaper, so look.
        if let Some(failure) = read_failure(&error_read) {
            let _ = child.wait();
            return Err(self.explain(failure));
        }
        // The command has exec'd (std's spawn returned): the listeners were
        // sent before, or the start fails.
        let egress_listeners = receive_egress(egress_end.as_ref()).and_then(|egress| {
            if let (Some(end), Some(policy)) = (broker_end, layers.broker.clone()) {
                start_broker(&end, policy)?;
            }
            Ok(egress)
        });
        let egress_listeners = egress_listeners.inspect_err(|_| {
            let _ = child.kill();
            let _ = child.wait();
        })?;
        Ok(SandboxedChild {
            child,
            report,
            egress_listeners,
        })
    }

    /// For a filtered network, a fresh socket pair for this start: (ours,
    /// the sandbox's); `(None, None)` otherwise.
    fn egress_pair(&self) -> io::Result<(Option<OwnedFd>, Option<OwnedFd>)> {
        if self.egress.is_none() {
            return Ok((None, None));
        }
        let (ours, theirs) = egress::socket_pair()?;
        Ok((Some(ours), Some(theirs)))
    }

    /// A start's failure, named for a filtered network where the namespaces
    /// could not be created (a strict sandbox assumes they can until a
    /// start finds out).
    fn explain(&self, err: LinuxSandboxError) -> LinuxSandboxError {
        match err {
            LinuxSandboxError::NamespacesUnavailable { source } if self.egress.is_some() => {
                LinuxSandboxError::FilteredNetworkUnavailable {
                    reason: format!("clone(user, mount, pid, ipc, net): {source}"),
                }
            }
            other => other,
        }
    }
}

/// The setup of one child: a fresh Landlock ruleset from the template, the
/// shared seccomp program.
fn child_setup(
    layers: &Layers,
    parent: ParentLink,
    namespaces: Option<NamespaceSetup>,
) -> Result<ChildSetup, LinuxSandboxError> {
    Ok(ChildSetup {
        parent,
        namespaces,
        landlock: layers
            .landlock
            .as_ref()
            .map(LandlockTemplate::instantiate)
            .transpose()?,
        seccomp: layers.seccomp.clone(),
        broker: None,
        error_pipe: None,
    })
}

/// The namespace settings shared by every start: flags, uid/gid maps, the
/// private `/dev`.
fn namespace_config(
    network_namespace: bool,
    (shm_access, pts_access): (u64, u64),
    egress: Option<EgressPorts>,
    ca_bundle: Option<Arc<[u8]>>,
    best_effort: bool,
) -> io::Result<NamespaceConfig> {
    // SAFETY: getuid/getgid have no preconditions.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    let mut flags =
        libc::CLONE_NEWUSER | libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWIPC;
    if network_namespace {
        flags |= libc::CLONE_NEWNET;
    }
    Ok(NamespaceConfig {
        flags,
        uid_map: format!("{uid} {uid} 1\n").into_bytes(),
        gid_map: format!("{gid} {gid} 1\n").into_bytes(),
        devices: Some(device_setup(shm_access, pts_access, ca_bundle)?),
        egress: egress.map(egress::child_ports),
        host_proc_tolerated: best_effort,
    })
}

/// How many threads the calling process has.
fn thread_count() -> io::Result<usize> {
    // Field 20 of /proc/self/stat, counted after the command name (which
    // may hold spaces and parentheses).
    let from_stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            let (_, rest) = stat.rsplit_once(')')?;
            rest.split_whitespace().nth(17)?.parse().ok()
        });
    match from_stat {
        Some(threads) => Ok(threads),
        None => Ok(std::fs::read_dir("/proc/self/task")?.count()),
    }
}

/// A command started by [`PreparedSandbox::supervise`].
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_linux::LinuxSandbox;
///
/// let project = tempfile::tempdir()?;
/// let sandbox = LinuxSandbox::best_effort();
/// let plan = sandbox.plan(&SandboxPolicy::read_only(), project.path(), None)?;
/// let prepared = sandbox.prepare(plan)?;
/// // Called from a single-threaded process, which becomes the sandbox's supervisor.
/// let mut command = prepared.command("sh".as_ref(), &["-c".into(), "exit 3".into()]);
/// let mut supervised = prepared.supervise(&mut command)?;
/// assert!(supervised.take_egress_listeners().is_none()); // no filtered network
/// assert_eq!(supervised.wait()?.code(), Some(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Supervised {
    running: Running,
    /// A filtered network's listeners, until taken.
    egress: Option<EgressListeners>,
}

#[derive(Debug)]
enum Running {
    /// The caller is the supervisor of the sandbox's init (the fast path).
    Supervisor(Supervisor),
    /// A child process (no namespaces here, or no sandbox at all).
    Child(Child),
}

/// The supervisor side of an in-place sandbox: the caller, outside the
/// namespaces, waiting for the sandbox's init.
#[derive(Debug)]
struct Supervisor {
    init: libc::pid_t,
    /// Kept open until the sandbox ends: PID 1 checks it to notice a supervisor
    /// that died before PID 1 armed its death signal.
    _lifeline: OwnedFd,
    /// Where PID 1 leaves the command's raw wait status (non-blocking).
    status: OwnedFd,
    /// A pidfd of the supervisor's own parent: when that process exits, the
    /// sandbox is killed. Not `PR_SET_PDEATHSIG`, which follows the parent's
    /// *thread* (one that exits would kill a healthy run).
    parent: Option<OwnedFd>,
}

impl Supervisor {
    fn wait(self) -> io::Result<ExitStatus> {
        let watch = self.parent.as_ref().map(AsRawFd::as_raw_fd);
        // SAFETY: waiting for our own child; the pidfd is ours.
        let init_status = unsafe { crate::child::wait_watching(self.init, watch) }
            .map_err(io::Error::from_raw_os_error)?;
        Ok(ExitStatus::from_raw(crate::child::command_status(
            init_status,
            Some(self.status.as_raw_fd()),
        )))
    }
}

impl Supervised {
    /// For a filtered network ([`LinuxSandbox::filtered_network`]): the
    /// listeners the sandbox made on its own loopback, for the caller's
    /// egress proxy to accept on (`Some` once; `None` afterwards, and
    /// without a filtered network). A start without them fails instead.
    pub fn take_egress_listeners(&mut self) -> Option<EgressListeners> {
        self.egress.take()
    }

    /// The process id: the sandbox's init (outside view) when the caller
    /// supervises it, else the child's. Signalling it with SIGTERM or
    /// SIGHUP reaches the command; SIGKILL ends the whole sandbox.
    pub fn id(&self) -> u32 {
        match &self.running {
            Running::Supervisor(supervisor) => supervisor.init.unsigned_abs(),
            Running::Child(child) => child.id(),
        }
    }

    /// Waits for the command: its exit code, or, when signal N killed it,
    /// `ExitStatus::signal() == Some(N)` (with `core_dumped()` as the
    /// command's when the caller supervises). If the caller's parent exits
    /// meanwhile, the sandbox is killed (status: SIGKILL).
    ///
    /// # Errors
    ///
    /// The operating system's error when `waitpid(2)` fails, as when the process
    /// ignores `SIGCHLD` or another part of it already reaped the command.
    pub fn wait(self) -> io::Result<ExitStatus> {
        match self.running {
            Running::Child(mut child) => child.wait(),
            Running::Supervisor(supervisor) => supervisor.wait(),
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

fn not_needed(protection: Protection) -> ProtectionReport {
    ProtectionReport::new(protection, false, ProtectionStatus::NotNeeded)
}

impl Sandbox for LinuxSandbox {
    type Error = LinuxSandboxError;

    /// [`plan`](LinuxSandbox::plan) (with the command's `$TMPDIR`),
    /// [`prepare`](LinuxSandbox::prepare) and
    /// [`PreparedSandbox::spawn`] in one call; the command runs in `cwd`.
    fn spawn(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        command: &mut Command,
    ) -> Result<SandboxedChild, LinuxSandboxError> {
        let tmpdir = child_env(command, "TMPDIR");
        let prepared = self.prepare(self.plan(policy, cwd, tmpdir.as_deref())?)?;
        command.current_dir(prepared.cwd());
        prepared.start_child(command, true)
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

/// The egress listeners the sandbox sent on `ours` (our end of this start's
/// pair), for a filtered network; `None` without one.
fn receive_egress(ours: Option<&OwnedFd>) -> Result<Option<EgressListeners>, LinuxSandboxError> {
    ours.map(|end| {
        egress::receive_listeners(end).map_err(|source| LinuxSandboxError::Setup {
            stage: Stage::EgressListeners.describe(),
            source,
        })
    })
    .transpose()
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

/// The mounts of one start: pins and read-only binds, from what is on disk
/// now (the repositories, their hooks directories), and the warnings and
/// mount lines for its report.
///
/// Every protected path inside a writable root (`.git` and the real git dir,
/// `.codex`, `.agents`, the git hooks directory `core.hooksPath` names, and the
/// caller's protected paths) is bound read-only, and every directory from its
/// writable root down to it is pinned — bound onto itself, so a mount point —
/// so that neither it nor any ancestor can be renamed and replaced by a planted
/// copy (`mv project x` gets `EBUSY`). The hidden paths that exist now are
/// covered with empty read-only mounts, their ancestors inside a writable
/// root pinned alike; one that is, or contains, `cwd` (the command's working
/// directory) or a writable root is refused.
fn mount_plan(inputs: &MountInputs, cwd: &Path) -> Result<MountPlan, LinuxSandboxError> {
    let mut warnings = Vec::new();
    let warnings = &mut warnings;
    let roots = &inputs.roots;
    let mut protected: Vec<PathBuf> = Vec::new();
    for path in &read_only_subpaths_now(roots) {
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
                protected.extend(protect_hooks(worktree, &git_dir, inputs, true, warnings)?);
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
                let err = LinuxSandboxError::UnprotectableGitDir {
                    dot_git: dot_git.clone(),
                    link,
                };
                if refuse && !inputs.best_effort {
                    return Err(err);
                }
                warnings.push(format!("warning: not protected: {}", err.why()));
            }
        }
    }
    // What the search found may go away before the sandbox is set up (a
    // repository under /tmp that its owner removes): nothing is left to
    // protect then, and the start goes on without that bind.
    let mut found: Vec<PathBuf> = nested.privileged_files;
    for git in nested.found {
        let paths = codex_policy_model::git_metadata_paths(&git);
        // The git directory: the `.git` directory, or the one a `.git` file names.
        let git_dir = paths.iter().find(|p| p.is_dir()).cloned();
        if let (Some(worktree), Some(git_dir)) = (git.parent(), git_dir) {
            found.extend(protect_hooks(worktree, &git_dir, inputs, false, warnings)?);
        }
        found.extend(paths);
    }
    // A `.git` that is a symlink (as `repo` checkouts make them): the git
    // directory it points to now is protected; the link itself, inside a
    // writable root, could be re-pointed, which is said.
    for (link, git_dir) in nested.linked {
        if let Some(worktree) = link.parent() {
            found.extend(protect_hooks(worktree, &git_dir, inputs, false, warnings)?);
        }
        warnings.push(format!(
            "warning: {} is a symbolic link the command could re-point; the git directory it \
             names now ({}) is kept read-only",
            link.display(),
            git_dir.display()
        ));
        found.push(git_dir);
    }
    if let Some(stopped) = nested.stopped_at {
        warnings.push(format!(
            "warning: the search for nested repositories stopped after \
             {NESTED_REPOSITORY_ENTRIES} entries (in {}): repositories below that point are \
             not protected",
            stopped.display()
        ));
    }
    protected.extend(inputs.protected.iter().cloned());
    let required = protected.clone();
    protected.extend(found);
    protected.retain(|p| roots.roots.iter().any(|r| p.starts_with(&r.root)));
    let hidden = hidden_now(&inputs.hidden, roots, cwd, inputs.best_effort, warnings)?;
    // Nothing beneath a hidden path is reachable, and a bind there would
    // fail: the empty file system covers it.
    let covered = |p: &Path| hidden.iter().any(|h| p.starts_with(&h.path));
    protected.retain(|p| !covered(p));
    let mut pins: Vec<PathBuf> = Vec::new();
    for path in protected.iter().chain(hidden.iter().map(|h| &h.path)) {
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
    let depth = |p: &Path| p.components().count();
    for list in [&mut pins, &mut protected] {
        list.sort_by(|a, b| depth(a).cmp(&depth(b)).then(a.cmp(b)));
        list.dedup();
    }
    // A pin on or beneath a read-only bind would be a writable mount in
    // it (and nothing there can be renamed anyway); on or beneath a hidden
    // path it is covered.
    pins.retain(|p| !protected.iter().any(|q| p.starts_with(q)) && !covered(p));
    let mut steps: Vec<(PathBuf, MountKind, bool)> = Vec::new();
    // A pin that is gone at mount time takes whatever it held with it:
    // a required path below it fails its own bind.
    steps.extend(
        pins.into_iter()
            .map(|pin| (pin, MountKind::Bind { read_only: None }, true)),
    );
    for path in protected {
        let optional = !required.contains(&path);
        let flags = match locked_mount_flags(&path) {
            Ok(flags) => flags,
            Err(_) if optional => continue,
            Err(err) => return Err(err.into()),
        };
        steps.push((
            path,
            MountKind::Bind {
                read_only: Some(flags),
            },
            optional,
        ));
    }
    // Gone at mount time: nothing is left there to hide.
    steps.extend(hidden.into_iter().map(|h| {
        let kind = if h.directory {
            MountKind::HideDirectory
        } else {
            MountKind::HideFile
        };
        (h.path, kind, true)
    }));
    // Shallow first: a mount made later would cover one made below it. The
    // sort is stable: at one depth, pins, then binds, then hides.
    steps.sort_by_key(|(path, _, _)| depth(path));
    let mut mounts = Vec::new();
    let mut rules = std::mem::take(warnings);
    for (path, kind, optional) in steps {
        rules.push(match kind {
            MountKind::Bind { read_only: None } => {
                format!("mount: pinned (cannot be moved) {}", path.display())
            }
            MountKind::Bind { read_only: Some(_) } => {
                format!("mount: read-only bind {}", path.display())
            }
            MountKind::HideDirectory | MountKind::HideFile => {
                format!("mount: hidden (empty, read-only) {}", path.display())
            }
        });
        mounts.push(MountStep {
            path: c_path(&path)?,
            kind,
            optional,
        });
    }
    Ok(MountPlan { mounts, rules })
}

/// A path hidden at one start: its real path, and whether it is a
/// directory (covered by a tmpfs) or not (by the empty file).
#[derive(Debug)]
struct HiddenTarget {
    path: PathBuf,
    directory: bool,
}

/// The paths to hide as the disk holds them now: the real path of each
/// given one that exists (one that does not is skipped: nothing to hide),
/// and every other mount that shows it; none beneath another (it is
/// covered). Refuses one that is, or contains, `cwd` or a writable root;
/// warns (in `notes`) of a hidden file with other hard links.
fn hidden_now(
    given: &[PathBuf],
    roots: &EffectiveWritableRoots,
    cwd: &Path,
    best_effort: bool,
    notes: &mut Vec<String>,
) -> Result<Vec<HiddenTarget>, LinuxSandboxError> {
    if given.is_empty() {
        return Ok(Vec::new());
    }
    let table = match mount_table() {
        Ok(table) => table,
        // Without it, a second mount of the same directory stays visible.
        Err(err) if best_effort => {
            notes.push(format!(
                "warning: /proc/self/mountinfo could not be read ({err}): other mounts of the \
                 hidden paths are not hidden"
            ));
            Vec::new()
        }
        Err(err) => return Err(err.into()),
    };
    // What a link inside a hidden directory leads to is the store's too, and
    // so on down the links found there: a worklist over the given paths and
    // every link out found below them.
    let mut budget = HARD_LINK_SEARCH_ENTRIES;
    let writable = codex_policy_model::CommandWritable::from_roots(roots);
    let mut given = given.to_vec();
    let mut scanned: Vec<PathBuf> = Vec::new();
    let mut links_noted = 0_usize;
    let mut next = 0;
    while next < given.len() {
        let path = given[next].clone();
        next += 1;
        if !exists_to_hide(&path)? {
            continue;
        }
        let Ok(real) = std::fs::canonicalize(&path) else {
            continue;
        };
        if !real.is_dir() || scanned.contains(&real) {
            continue;
        }
        scanned.push(real.clone());
        for link in links_out_of(&real, &mut budget) {
            // The link itself lies in a hidden directory, out of the
            // command's reach; a link further on its way that the command
            // could re-point would send the store's data elsewhere.
            if let Ok(text) = std::fs::read_link(&link)
                && let Some(on_the_way) =
                    writable.planted_link(&link.parent().unwrap_or(&real).join(text))
            {
                return Err(LinuxSandboxError::HiddenPathThroughLink {
                    given: link,
                    link: on_the_way,
                    target: std::fs::canonicalize(&path).unwrap_or(real),
                });
            }
            links_noted += 1;
            if links_noted <= MAX_LINK_NOTES {
                notes.push(format!(
                    "note: {} is a link out of a hidden directory: its target is hidden too",
                    link.display()
                ));
            }
            given.push(link);
        }
    }
    if links_noted > MAX_LINK_NOTES {
        notes.push(format!(
            "note: … and {} more links out of hidden directories, whose targets are hidden too",
            links_noted - MAX_LINK_NOTES
        ));
    }
    let given = &given;
    let mut found: Vec<(PathBuf, std::fs::Metadata)> = Vec::new();
    for path in given {
        // Nothing there: nothing to hide (one stat, before the resolution).
        if !exists_to_hide(path)? {
            continue;
        }
        let Ok(real) = std::fs::canonicalize(path) else {
            continue;
        };
        let views = std::iter::once(real.clone()).chain(other_views(&real, &table));
        for view in views {
            if found.iter().any(|(p, _)| *p == view) {
                continue;
            }
            if let Ok(meta) = std::fs::metadata(&view) {
                found.push((view, meta));
            }
        }
    }
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let contained = std::iter::once((canonical(cwd), "the working directory")).chain(
        roots
            .roots
            .iter()
            .map(|r| (canonical(&r.root), "a writable root")),
    );
    for (root, role) in contained {
        if let Some((hidden, _)) = found.iter().find(|(p, _)| root.starts_with(p)) {
            // The link that led there, if one did: a command may have planted it.
            let given = given
                .iter()
                .find(|g| *g != hidden && std::fs::canonicalize(g).is_ok_and(|r| r == *hidden))
                .unwrap_or(hidden)
                .clone();
            return Err(LinuxSandboxError::HiddenPathContainsRoot {
                given,
                hidden: hidden.clone(),
                root,
                role,
            });
        }
    }
    found.sort_by_key(|(p, _)| p.components().count());
    let mut hidden: Vec<HiddenTarget> = Vec::new();
    // One warning per file, however many mounts show it.
    let mut warned: Vec<(u64, u64)> = Vec::new();
    let mut budget = HARD_LINK_SEARCH_ENTRIES;
    for (path, meta) in found {
        if hidden.iter().any(|h| path.starts_with(&h.path)) {
            continue;
        }
        let linked = if meta.is_dir() {
            linked_files_below(&path, &mut budget)
        } else if meta.nlink() > 1 {
            vec![(path.clone(), meta.clone())]
        } else {
            Vec::new()
        };
        for (file, file_meta) in linked {
            if warned.contains(&(file_meta.dev(), file_meta.ino())) {
                continue;
            }
            warned.push((file_meta.dev(), file_meta.ino()));
            notes.push(format!(
                "warning: another name of {} exists elsewhere and is not hidden ({} hard links)",
                file.display(),
                file_meta.nlink()
            ));
        }
        hidden.push(HiddenTarget {
            path,
            directory: meta.is_dir(),
        });
    }
    Ok(hidden)
}

/// Whether `path` exists (followed), `false` when it does not (nothing to
/// hide); an error when it cannot be told — a search permission taken
/// away, a loop of links, a name too long — since a store skipped on such an
/// error would be left readable.
fn exists_to_hide(path: &Path) -> Result<bool, LinuxSandboxError> {
    match std::fs::metadata(path) {
        Ok(_) => Ok(true),
        Err(err)
            if matches!(
                err.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(false)
        }
        Err(source) => Err(LinuxSandboxError::HiddenPathUnknown {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Whether two absolute paths are the same once `.` and repeated slashes
/// are gone (links not followed).
fn lexically_equal(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

/// The symbolic links below `dir` that lead out of it: a link a command
/// planted in a store before it existed (`~/.aws/credentials -> ../leak`)
/// sends what tools write there to a readable place. Looks at no more than
/// `budget` entries.
fn links_out_of(dir: &Path, budget: &mut usize) -> Vec<PathBuf> {
    let mut out = Vec::new();
    walk_below(dir, budget, |path, meta| {
        if meta.file_type().is_symlink()
            && std::fs::canonicalize(path).is_ok_and(|target| !target.starts_with(dir))
        {
            out.push(path.to_path_buf());
        }
    });
    out
}

/// Visits every entry below `dir` that is not a directory (links not
/// followed), at most `budget` entries in all: the bounded walk both store
/// scans share.
fn walk_below(dir: &Path, budget: &mut usize, mut visit: impl FnMut(&Path, &std::fs::Metadata)) {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(current) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            if *budget == 0 {
                return;
            }
            *budget -= 1;
            let path = entry.path();
            let Ok(meta) = path.symlink_metadata() else {
                continue;
            };
            if meta.is_dir() {
                pending.push(path);
            } else {
                visit(&path, &meta);
            }
        }
    }
}

/// How many links out of hidden directories a start names in its notes
/// (the rest are counted): a store full of links would drown the output.
const MAX_LINK_NOTES: usize = 5;

/// How many entries below the hidden directories each start looks at for
/// files with other hard links (a bound on start-up cost; credential stores
/// are small).
const HARD_LINK_SEARCH_ENTRIES: usize = 2_000;

/// The regular files below `dir` with more than one hard link: another name
/// of such a file — one a command made before the store existed, say —
/// shows its content outside the hidden directory. Looks at no more than
/// `budget` entries, links not followed.
fn linked_files_below(dir: &Path, budget: &mut usize) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    walk_below(dir, budget, |path, meta| {
        if meta.is_file() && meta.nlink() > 1 {
            out.push((path.to_path_buf(), meta.clone()));
        }
    });
    out
}

/// One line of `/proc/self/mountinfo`: the device, the directory of that
/// file system the mount shows, and where.
#[derive(Debug)]
struct MountEntry {
    device: String,
    root: PathBuf,
    point: PathBuf,
}

/// This process's mounts, in mount order.
fn mount_table() -> io::Result<Vec<MountEntry>> {
    let text = std::fs::read("/proc/self/mountinfo")?;
    Ok(text
        .split(|b| *b == b'\n')
        .filter_map(|line| {
            let mut fields = line.split(|b| *b == b' ');
            let device = std::str::from_utf8(fields.nth(2)?).ok()?.to_owned();
            let root = unescape_mountinfo(fields.next()?);
            let point = unescape_mountinfo(fields.next()?);
            Some(MountEntry {
                device,
                root,
                point,
            })
        })
        .collect())
}

/// A path field of mountinfo: the kernel writes space, tab, newline and
/// backslash as `\ooo` (octal).
fn unescape_mountinfo(field: &[u8]) -> PathBuf {
    let mut bytes = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        let octal = field
            .get(i + 1..i + 4)
            .filter(|d| field[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .map(|d| d.iter().fold(0u32, |n, c| n * 8 + u32::from(c - b'0')))
            .and_then(|n| u8::try_from(n).ok());
        match octal {
            Some(byte) => {
                bytes.push(byte);
                i += 4;
            }
            None => {
                bytes.push(field[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(OsString::from_vec(bytes))
}

/// The mount through which `path` is reached: the deepest mount point on
/// its way, the last mounted where several share it (it covers the others).
fn holder<'a>(path: &Path, table: &'a [MountEntry]) -> Option<(usize, &'a MountEntry)> {
    table
        .iter()
        .enumerate()
        .filter(|(_, m)| path.starts_with(&m.point))
        .max_by_key(|(i, m)| (m.point.components().count(), *i))
}

/// Where else `path` (a real path) is visible: the same place of its file
/// system under every other mount of that file system whose directory
/// holds it (a bind of `/home` at `/mnt/home`), and every such mount that
/// shows a part of it — where that place is not itself covered.
fn other_views(path: &Path, table: &[MountEntry]) -> Vec<PathBuf> {
    let Some((index, mount)) = holder(path, table) else {
        return Vec::new();
    };
    let Ok(relative) = path.strip_prefix(&mount.point) else {
        return Vec::new();
    };
    let inside = mount.root.join(relative);
    table
        .iter()
        .enumerate()
        .filter(|(i, m)| *i != index && m.device == mount.device)
        .filter_map(|(i, m)| {
            let view = match inside.strip_prefix(&m.root) {
                Ok(rest) if rest.as_os_str().is_empty() => m.point.clone(),
                Ok(rest) => m.point.join(rest),
                Err(_) if m.root.starts_with(&inside) => m.point.clone(),
                Err(_) => return None,
            };
            holder(&view, table)
                .is_some_and(|(j, _)| j == i)
                .then_some(view)
        })
        .filter(|view| view != path)
        .collect()
}

/// The host's ordinary device nodes the child binds into its own `/dev`.
pub(crate) fn device_setup(
    shm_access: u64,
    pts_access: u64,
    ca_bundle: Option<Arc<[u8]>>,
) -> io::Result<DeviceSetup> {
    // 64 KiB for the nodes and links, and room for the bundle.
    let size = 64 * 1024
        + ca_bundle
            .as_ref()
            .map_or(0, |b| b.len().div_ceil(4096) * 4096);
    Ok(DeviceSetup {
        nodes: DEVICES
            .iter()
            .map(|name| c_path(Path::new(&format!("/dev/{name}"))))
            .collect::<io::Result<_>>()?,
        tmpfs_options: CString::new(format!("mode=0755,size={size}"))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?,
        ca_bundle,
        shm_access,
        pts_access,
    })
}

/// Where [`LinuxSandbox::ca_bundle`] puts the certificates, inside the sandbox.
pub const CA_BUNDLE_PATH: &str = "/dev/codex-policy-ca-bundle.pem";
/// [`CA_BUNDLE_PATH`] for the system call.
pub(crate) const CA_BUNDLE_C_PATH: &std::ffi::CStr = c"/dev/codex-policy-ca-bundle.pem";

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
    /// `.git` symlinks and the git directories they point to now.
    linked: Vec<(PathBuf, PathBuf)>,
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
        linked: Vec::new(),
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
                        if dir == root.root {
                            // The root's own, listed with its read-only subpaths.
                        } else if !kind.is_symlink() {
                            result.found.push(path);
                        } else if let Ok(target) = std::fs::canonicalize(&path)
                            && target.is_dir()
                        {
                            result.linked.push((path, target));
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
/// directory, protected with it). The git that is asked runs outside the
/// sandbox, so it is never looked up on `$PATH` (a directory there may be
/// one the command can write): see [`host_git`].
fn hooks_path(worktree: &Path, git_dir: &Path, roots: &EffectiveWritableRoots) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let configs = [
        Some(git_dir.join("config")),
        Some(git_dir.join("config.worktree")),
        home.as_ref().map(|h| h.join(".gitconfig")),
        home.as_ref().map(|h| h.join(".config/git/config")),
        std::env::var_os("XDG_CONFIG_HOME").map(|x| PathBuf::from(x).join("git/config")),
        std::env::var_os("GIT_CONFIG_GLOBAL").map(PathBuf::from),
        std::env::var_os("GIT_CONFIG_SYSTEM").map(PathBuf::from),
        Some(PathBuf::from("/etc/gitconfig")),
        Some(PathBuf::from("/usr/local/etc/gitconfig")),
    ];
    // A config the command could plant may be a FIFO (an open would hang
    // the host) or a link to /dev/zero: regular files only, size-capped.
    // One that is there but not readable so counts as mentioning: git
    // decides, and git is given a deadline.
    let mentioned = configs.iter().flatten().any(|file| {
        if file.symlink_metadata().is_err() {
            return false;
        }
        read_config(file).is_none_or(|text| {
            let text = text.to_ascii_lowercase();
            text.contains("hookspath") || text.contains("include")
        })
    }) || ["GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"]
        .iter()
        .any(|var| std::env::var_os(var).is_some());
    if !mentioned {
        return None;
    }
    // This repository's git directory, named: discovery could find another
    // repository above a git directory git does not recognize.
    let mut git_dir_arg = std::ffi::OsString::from("--git-dir=");
    git_dir_arg.push(git_dir);
    let mut work_tree_arg = std::ffi::OsString::from("--work-tree=");
    work_tree_arg.push(worktree);
    let asked = match host_git(roots) {
        Some(git) => output_within(
            Command::new(git)
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
                .stderr(std::process::Stdio::null()),
        ),
        None => Err(io::Error::from(io::ErrorKind::NotFound)),
    };
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

/// A git config file's text: a regular file (after links), opened without
/// blocking, at most 1 MiB; `None` for anything else.
fn read_config(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = codex_policy_model::open_regular(path).ok()?;
    let mut text = String::new();
    file.take(1 << 20).read_to_string(&mut text).ok()?;
    Some(text)
}

/// `git`'s output, or an error when it has not finished within a few
/// seconds (a config that includes a FIFO would block it for good): the
/// host's start must not hang on what the command planted.
fn output_within(command: &mut Command) -> io::Result<std::process::Output> {
    let mut child = command.stdout(std::process::Stdio::piped()).spawn()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        if child.try_wait()?.is_some() {
            return child.wait_with_output();
        }
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(io::Error::from(io::ErrorKind::TimedOut));
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}

/// The system's git, by absolute path, from directories that hold the
/// distribution's programs — never from `$PATH`, never one whose real path
/// lies inside a writable root (the command could have put it there). `None`
/// when there is none: the plain config line is read instead.
fn host_git(roots: &EffectiveWritableRoots) -> Option<PathBuf> {
    // /usr/local first: where one is installed, it is the git users run.
    ["/usr/local/bin/git", "/usr/bin/git", "/bin/git"]
        .iter()
        .filter_map(|candidate| std::fs::canonicalize(candidate).ok())
        .find(|real| real.is_file() && !roots.roots.iter().any(|root| real.starts_with(&root.root)))
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
    inputs: &MountInputs,
    refuse: bool,
    notes: &mut Vec<String>,
) -> Result<Option<PathBuf>, LinuxSandboxError> {
    let Some(path) = hooks_path(worktree, git_dir, &inputs.roots) else {
        return Ok(None);
    };
    if let Some(through) = replaceable_hooks_path(&path, &inputs.roots) {
        let err = LinuxSandboxError::UnprotectableHooksPath {
            worktree: worktree.to_owned(),
            hooks_path: path,
            through,
        };
        if refuse && !inputs.best_effort {
            return Err(err);
        }
        notes.push(format!("warning: not protected: {}", err.why()));
        return Ok(None);
    }
    Ok(existing_hooks_dir(path, &inputs.roots, notes))
}

/// `core.hooksPath` from `.git/config` read without git: the last plain
/// `hooksPath = value` line of a `[core]` section.
fn plain_hooks_path(git_dir: &Path, worktree: &Path) -> Option<PathBuf> {
    let config = read_config(&git_dir.join("config"))?;
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
fn replaceable_hooks_path(path: &Path, roots: &EffectiveWritableRoots) -> Option<RepointableStep> {
    let inside = |p: &Path| roots.roots.iter().any(|r| p.starts_with(&r.root));
    let mut current = PathBuf::new();
    for component in path.components() {
        match component {
            std::path::Component::ParentDir if inside(&current) => {
                return Some(RepointableStep::ParentOf(current));
            }
            std::path::Component::Normal(name) => {
                current.push(name);
                let link = current
                    .symlink_metadata()
                    .is_ok_and(|m| m.file_type().is_symlink());
                if link && inside(&current) {
                    return Some(RepointableStep::Symlink(current));
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
    // refused in `mount_plan` (see `replaceable_hooks_path`).
    if let Ok(real) = std::fs::canonicalize(&path) {
        return Some(real);
    }
    let (existing, nearest) = path
        .ancestors()
        .find_map(|a| std::fs::canonicalize(a).ok().map(|real| (a, real)))?;
    let root = roots.roots.iter().find(|r| nearest.starts_with(&r.root))?;
    // Created from the writable root down, one directory at a time, never
    // through a link: the command could swap a directory on the way for one
    // between the checks above and the creation.
    let below_root = nearest.strip_prefix(&root.root).ok()?;
    let missing = path.strip_prefix(existing).ok()?;
    create_below(&root.root, &below_root.join(missing))?;
    notes.push(format!(
        "note: created {} (empty): core.hooksPath names it, and the sandbox keeps it read-only",
        path.display()
    ));
    std::fs::canonicalize(path).ok()
}

/// Creates `relative` (plain names only) below the directory `base`, with
/// `mkdirat`/`openat` and `O_NOFOLLOW` at every step: a link anywhere on the
/// way stops it. `None` when it could not.
fn create_below(base: &Path, relative: &Path) -> Option<()> {
    let open = |dir: libc::c_int, name: &CString| {
        // SAFETY: opening a name relative to a descriptor we hold.
        let fd = unsafe {
            libc::openat(
                dir,
                name.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            )
        };
        // SAFETY: a descriptor just returned to us.
        (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd) })
    };
    let mut dir = open(libc::AT_FDCWD, &c_path(base).ok()?)?;
    for component in relative.components() {
        let std::path::Component::Normal(name) = component else {
            return None;
        };
        let name = CString::new(name.as_bytes()).ok()?;
        // SAFETY: creating a name relative to a descriptor we hold.
        let made = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) };
        if made != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EEXIST) {
            return None;
        }
        dir = open(dir.as_raw_fd(), &name)?;
    }
    Some(())
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
    Some(setup_error(Stage::from_code(stage)?, errno))
}

/// The error for a failed setup step: creating the namespaces has a variant
/// of its own (what is missing on the host), every other step its name.
fn setup_error(stage: Stage, errno: i32) -> LinuxSandboxError {
    let source = io::Error::from_raw_os_error(errno);
    match stage {
        Stage::Unshare => LinuxSandboxError::NamespacesUnavailable { source },
        _ => LinuxSandboxError::Setup {
            stage: stage.describe(),
            source,
        },
    }
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
