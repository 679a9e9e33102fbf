//! The contract every OS sandbox backend implements, and what it reports back.

use std::fmt;
use std::path::Path;
use std::process::{Child, Command};

use serde::Serialize;

use crate::SandboxPolicy;

/// How every backend words a program that could not be executed, for the
/// person who typed the command: `command not found` (exit 127) and
/// `command not executable` (126) as a shell says them, the system's words
/// for anything else. The name is escaped: it comes from the command line
/// and goes to a terminal; an empty one shows as `''`.
///
/// A path (a name with a `/`) that is there yet "not found" is a file whose
/// interpreter is missing (a script's `#!` line, or a binary's dynamic
/// loader): that is said, rather than a `command not found` the file's
/// presence contradicts. A relative path is looked at from this process's
/// working directory.
///
/// # Examples
///
/// ```
/// use std::io::{Error, ErrorKind};
/// use codex_policy_model::exec_failure;
///
/// let missing = Error::from(ErrorKind::NotFound);
/// assert_eq!(exec_failure("cargo".as_ref(), &missing), "command not found: cargo");
/// assert_eq!(exec_failure("".as_ref(), &missing), "command not found: ''");
/// let denied = Error::from(ErrorKind::PermissionDenied);
/// assert_eq!(
///     exec_failure("./build\x1b[2J".as_ref(), &denied),
///     "command not executable: ./build\\u{1b}[2J (permission denied)"
/// );
///
/// // A script that is there, whose `#!` interpreter is not.
/// let dir = tempfile::tempdir()?;
/// let script = dir.path().join("badinterp");
/// std::fs::write(&script, "#!/nonexistent/interp\n")?;
/// assert_eq!(
///     exec_failure(script.as_os_str(), &missing),
///     format!("cannot execute {}: its interpreter (the #! line) was not found", script.display())
/// );
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn exec_failure(program: &std::ffi::OsStr, error: &std::io::Error) -> String {
    let shown = if program.is_empty() {
        "''".to_owned()
    } else {
        program.to_string_lossy().escape_debug().to_string()
    };
    match error.kind() {
        std::io::ErrorKind::NotFound => match missing_interpreter(program) {
            Some(interpreter) => {
                format!("cannot execute {shown}: its interpreter ({interpreter}) was not found")
            }
            None => format!("command not found: {shown}"),
        },
        std::io::ErrorKind::PermissionDenied => {
            format!("command not executable: {shown} (permission denied)")
        }
        _ => format!("cannot execute {shown}: {error}"),
    }
}

/// For a path that `exec` did not find although it is there: which
/// interpreter it names, in words (`the #! line`, or an ELF binary's
/// dynamic loader). `None` for a bare name (looked up in `$PATH`) or a path
/// that is not there.
fn missing_interpreter(program: &std::ffi::OsStr) -> Option<&'static str> {
    use std::io::Read;

    if !program.as_encoded_bytes().contains(&b'/') || !Path::new(program).is_file() {
        return None;
    }
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(program)
        .and_then(|mut file| file.read(&mut magic))
        .unwrap_or(0);
    Some(if magic[..read] == *b"\x7fELF" {
        "the binary's dynamic loader"
    } else {
        // A script (or one this process may not read: the kernel's
        // "not found" for a file that is there is its interpreter's).
        "the #! line"
    })
}

/// An OS mechanism that runs a child process under a [`SandboxPolicy`].
///
/// Implementations restrict only the child: the calling process keeps every
/// right it had. One implementation exists per operating system, chosen by `cfg`
/// in the `codex-policy` facade.
///
/// # Examples
///
/// A backend that can restrict nothing: it starts only what needs no
/// restriction, and refuses every other policy rather than run it unconfined.
///
/// ```
/// # use std::path::Path;
/// # use std::process::Command;
/// use codex_policy_model::{EnforcementReport, Protection, ProtectionReport, ProtectionStatus};
/// use codex_policy_model::{Sandbox, SandboxPolicy, SandboxedChild};
///
/// struct Unconfined;
///
/// impl Sandbox for Unconfined {
///     type Error = std::io::Error;
///
///     fn spawn(&self, policy: &SandboxPolicy, cwd: &Path, command: &mut Command)
///         -> Result<SandboxedChild, Self::Error> {
///         if !policy.has_full_disk_write_access() {
///             return Err(std::io::Error::other("no protection can be enforced here"));
///         }
///         let protections = Protection::ALL.into_iter()
///             .map(|p| ProtectionReport::new(p, false, ProtectionStatus::NotNeeded));
///         let report = EnforcementReport::new(protections.collect(), vec!["no sandbox".into()]);
///         let child = command.current_dir(cwd).spawn()?;
///         Ok(SandboxedChild { child, report, egress_listeners: None })
///     }
/// }
///
/// let cwd = tempfile::tempdir()?;
/// let read_only = SandboxPolicy::read_only();
/// assert!(Unconfined.spawn(&read_only, cwd.path(), &mut Command::new("true")).is_err());
/// let full = SandboxPolicy::DangerFullAccess;
/// let mut sandboxed = Unconfined.spawn(&full, cwd.path(), &mut Command::new("true"))?;
/// assert!(sandboxed.child.wait()?.success());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Sandbox {
    /// Why a child could not be started under the policy.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Starts `command` in `cwd` under `policy` and says what was enforced.
    ///
    /// Fails without starting anything when a protection the policy needs cannot
    /// be enforced on this host, unless the sandbox was built in best-effort mode.
    fn spawn(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        command: &mut Command,
    ) -> Result<SandboxedChild, Self::Error>;
}

/// A child started by a [`Sandbox`].
///
/// # Examples
///
/// ```
/// # use std::path::Path;
/// # use std::process::Command;
/// # use codex_policy_model::{EnforcementReport, Protection, ProtectionReport, ProtectionStatus};
/// use codex_policy_model::{Sandbox, SandboxPolicy, SandboxedChild};
/// # struct Unconfined; // a stand-in backend: it runs only `danger-full-access`
/// # impl Sandbox for Unconfined {
/// #     type Error = std::io::Error;
/// #     fn spawn(&self, policy: &SandboxPolicy, cwd: &Path, command: &mut Command)
/// #         -> Result<SandboxedChild, Self::Error> {
/// #         assert!(policy.has_full_disk_write_access());
/// #         let protections = Protection::ALL.into_iter()
/// #             .map(|p| ProtectionReport::new(p, false, ProtectionStatus::NotNeeded)).collect();
/// #         Ok(SandboxedChild {
/// #             child: command.current_dir(cwd).spawn()?,
/// #             report: EnforcementReport::new(protections, vec!["no sandbox".to_owned()]),
/// #             egress_listeners: None,
/// #         })
/// #     }
/// # }
///
/// let cwd = tempfile::tempdir()?;
/// let policy = SandboxPolicy::DangerFullAccess;
/// let mut sandboxed: SandboxedChild =
///     Unconfined.spawn(&policy, cwd.path(), Command::new("sh").args(["-c", "exit 3"]))?;
/// assert!(sandboxed.report.is_complete()); // nothing required is missing
/// assert!(sandboxed.egress_listeners.is_none()); // no filtered network to serve
/// assert_eq!(sandboxed.child.wait()?.code(), Some(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SandboxedChild {
    /// The process to wait on. Killing it ends every process of the sandbox.
    pub child: Child,
    /// What was enforced, and what was not.
    pub report: EnforcementReport,
    /// For a filtered network: the listening sockets on the sandbox's own
    /// loopback, whose connections only the caller's egress proxy serves.
    pub egress_listeners: Option<EgressListeners>,
}

/// The two listening sockets a sandbox with a filtered network made on its
/// own loopback (inside its empty network namespace) and handed out: every
/// connection the command opens to them is accepted, and decided on, by the
/// egress proxy outside. Nothing else in that namespace leads anywhere.
///
/// # Examples
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use codex_policy_model::EgressListeners;
///
/// // A backend binds both inside the sandbox; here, on the host's loopback.
/// let listeners = EgressListeners {
///     http: TcpListener::bind("127.0.0.1:0")?,
///     socks: TcpListener::bind("127.0.0.1:0")?,
/// };
/// // The command connects to `HTTP_PROXY`; the egress proxy accepts and decides.
/// let _command_side = TcpStream::connect(listeners.http.local_addr()?)?;
/// let (_proxy_side, peer) = listeners.http.accept()?;
/// assert!(peer.ip().is_loopback());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct EgressListeners {
    /// The HTTP proxy's listener (`HTTP_PROXY`, `HTTPS_PROXY`).
    pub http: std::net::TcpListener,
    /// The SOCKS5 proxy's listener (`ALL_PROXY`).
    pub socks: std::net::TcpListener,
}

/// Where the listeners of [`EgressListeners`] are, inside the sandbox: its
/// own loopback, at fixed ports (the namespace is empty, so they are free).
///
/// # Examples
///
/// ```
/// use codex_policy_model::EgressPorts;
///
/// let ports = EgressPorts::default();
/// assert_eq!((ports.http, ports.socks), (3128, 1080));
/// // Port 0 lets the OS choose free ports (where the loopback is the host's).
/// let any_free = EgressPorts { http: 0, socks: 0 };
/// assert_eq!(serde_json::to_string(&any_free)?, r#"{"http":0,"socks":0}"#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EgressPorts {
    /// The HTTP proxy's port.
    pub http: u16,
    /// The SOCKS5 proxy's port.
    pub socks: u16,
}

impl Default for EgressPorts {
    /// 3128 (HTTP, the customary proxy port) and 1080 (SOCKS).
    fn default() -> Self {
        Self {
            http: 3128,
            socks: 1080,
        }
    }
}

/// One protection a sandbox may provide.
///
/// # Examples
///
/// ```
/// use codex_policy_model::Protection;
///
/// let network = Protection::NetworkSockets;
/// assert_eq!(network.to_string(), "no network, or only through the egress proxy");
/// assert_eq!(serde_json::to_string(&network)?, r#""network-sockets""#);
/// // Reports list them in this order.
/// assert_eq!(Protection::ALL[0], Protection::FileWrites);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Protection {
    /// Writes only inside the writable roots (create, delete, rename, link, truncate).
    FileWrites,
    /// `.git`, `.codex`, `.agents` read-only inside writable roots, and not movable.
    ReadOnlySubpaths,
    /// The paths the caller hides (credential stores) are empty and
    /// read-only for every process of the sandbox.
    HiddenPaths,
    /// No TCP, UDP, raw or netlink socket leads anywhere — or, for a
    /// filtered network, only to the egress proxy's listeners. A backend
    /// names every mechanism that holds the network closed in the status of
    /// this one protection.
    NetworkSockets,
    /// Signals cannot reach processes outside the sandbox.
    SignalIsolation,
    /// Abstract unix sockets outside the sandbox cannot be reached.
    AbstractUnixIsolation,
    /// ptrace, process_vm_*, io_uring, bpf, perf_event_open, kexec, keyctl, mount
    /// family, namespace creation, TIOCSTI/TIOCLINUX and personality changes refused.
    SyscallFilter,
    /// The child cannot gain privileges through set-uid binaries or file caps.
    NoNewPrivileges,
    /// Every process of the sandbox dies with it, and with its parent.
    ProcessContainment,
    /// The command holds no capability (effective, permitted, inheritable,
    /// ambient, bounding), and handle-based opens are refused.
    NoCapabilities,
    /// SysV IPC and POSIX message queues of the host are out of reach.
    IpcIsolation,
    /// Only ordinary devices are visible, and device ioctls are restricted.
    DeviceIsolation,
    /// Path-named unix sockets outside the sandbox cannot be connected to,
    /// unless allowed by name.
    PathSocketIsolation,
}

impl Protection {
    /// Every protection, in report order.
    pub const ALL: [Protection; 13] = [
        Protection::FileWrites,
        Protection::ReadOnlySubpaths,
        Protection::HiddenPaths,
        Protection::NetworkSockets,
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

    /// A short human description.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::FileWrites => "file writes confined to the writable roots",
            Self::ReadOnlySubpaths => ".git, .codex and .agents read-only inside writable roots",
            Self::HiddenPaths => "credential stores and other hidden paths unreadable",
            Self::NetworkSockets => "no network, or only through the egress proxy",
            Self::SignalIsolation => "no signals to processes outside the sandbox",
            Self::AbstractUnixIsolation => "no abstract unix sockets outside the sandbox",
            Self::SyscallFilter => "dangerous system calls refused",
            Self::NoNewPrivileges => "no new privileges (set-uid, file capabilities)",
            Self::ProcessContainment => "all sandbox processes die with it and with its parent",
            Self::NoCapabilities => "no capabilities, no handle-based opens",
            Self::IpcIsolation => "no SysV IPC or POSIX message queues of the host",
            Self::DeviceIsolation => "only ordinary devices, device ioctls restricted",
            Self::PathSocketIsolation => "no path-named unix sockets outside the sandbox",
        }
    }
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Whether one protection is in force.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{Protection, ProtectionReport, ProtectionStatus};
///
/// let status = ProtectionStatus::Enforced { by: "seccomp".to_owned() };
/// let line = ProtectionReport::new(Protection::SyscallFilter, true, status);
/// // In a JSON report the status is flattened into its line.
/// assert_eq!(
///     serde_json::to_string(&line)?,
///     r#"{"protection":"syscall-filter","required":true,"status":"enforced","by":"seccomp"}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProtectionStatus {
    /// In force, by the named mechanism.
    Enforced {
        /// The mechanism (`Landlock ABI 7`, `seccomp`, `user+mount namespace`).
        by: String,
    },
    /// Not in force, and why.
    NotEnforced {
        /// What is missing on this host.
        reason: String,
    },
    /// The policy does not ask for it.
    NotNeeded,
}

/// One line of an [`EnforcementReport`].
///
/// # Examples
///
/// ```
/// use codex_policy_model::{EnforcementReport, Protection, ProtectionReport, ProtectionStatus};
///
/// let reason = "user namespaces are disabled".to_owned();
/// let line = ProtectionReport::new(
///     Protection::NetworkSockets,
///     true,
///     ProtectionStatus::NotEnforced { reason },
/// );
/// let report = EnforcementReport::new(vec![line.clone()], Vec::new());
/// // A required protection that is not in force: a strict sandbox refuses to start.
/// assert_eq!(report.missing().collect::<Vec<_>>(), [&line]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ProtectionReport {
    /// The protection.
    pub protection: Protection,
    /// Whether the policy depends on it; a required protection that is not
    /// enforced makes a strict sandbox refuse to start.
    pub required: bool,
    /// Whether it is in force.
    #[serde(flatten)]
    pub status: ProtectionStatus,
}

/// What a sandbox enforced for one child, like the landlock crate's
/// `RestrictionStatus` but across every layer.
///
/// # Examples
///
/// A backend builds one as it sets the sandbox up; its caller checks it.
///
/// ```
/// use codex_policy_model::{EnforcementReport, Protection, ProtectionReport, ProtectionStatus};
///
/// let enforced = |by: &str| ProtectionStatus::Enforced { by: by.to_owned() };
/// let report = EnforcementReport::new(
///     vec![
///         ProtectionReport::new(Protection::FileWrites, true, enforced("Landlock ABI 6")),
///         ProtectionReport::new(Protection::NetworkSockets, false, ProtectionStatus::NotNeeded),
///     ],
///     vec!["landlock: write /home/ada/project".to_owned()],
/// );
/// assert!(report.is_complete());
/// assert_eq!(report.status(Protection::FileWrites), Some(&enforced("Landlock ABI 6")));
/// assert!(report.to_string().contains("enforced     file writes confined to the writable roots"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EnforcementReport {
    /// One entry per protection.
    pub protections: Vec<ProtectionReport>,
    /// The concrete rules applied (Landlock paths, mounts, seccomp), for `debug`.
    pub rules: Vec<String>,
}

impl ProtectionReport {
    /// One protection, whether the policy depends on it, and its status.
    pub fn new(protection: Protection, required: bool, status: ProtectionStatus) -> Self {
        Self {
            protection,
            required,
            status,
        }
    }
}

impl EnforcementReport {
    /// A report of `protections` (one entry each) and the concrete `rules`
    /// applied.
    pub fn new(protections: Vec<ProtectionReport>, rules: Vec<String>) -> Self {
        Self { protections, rules }
    }

    /// Required protections that are not in force.
    pub fn missing(&self) -> impl Iterator<Item = &ProtectionReport> {
        self.protections
            .iter()
            .filter(|p| p.required && matches!(p.status, ProtectionStatus::NotEnforced { .. }))
    }

    /// Whether every required protection is in force.
    pub fn is_complete(&self) -> bool {
        self.missing().next().is_none()
    }

    /// The status of one protection.
    pub fn status(&self, protection: Protection) -> Option<&ProtectionStatus> {
        self.protections
            .iter()
            .find(|p| p.protection == protection)
            .map(|p| &p.status)
    }
}

impl fmt::Display for EnforcementReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.protections {
            let (mark, detail) = match &entry.status {
                ProtectionStatus::Enforced { by } => ("enforced", by.as_str()),
                ProtectionStatus::NotEnforced { reason } => ("NOT ENFORCED", reason.as_str()),
                ProtectionStatus::NotNeeded => ("not needed", ""),
            };
            write!(f, "  {mark:<12} {}", entry.protection)?;
            if !detail.is_empty() {
                write!(f, " ({detail})")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
