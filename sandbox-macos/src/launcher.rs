//! Starting commands under a profile: [`MacSandbox`] collects what every
//! command of a session shares, [`MacSandbox::prepare`] makes the profile
//! once, and [`PreparedMacSandbox`] starts each command through
//! `/usr/bin/sandbox-exec`.
//!
//! Every line of it is ordinary Rust that compiles and runs on every OS:
//! what is macOS-specific is only that `/usr/bin/sandbox-exec` exists there.
//! Elsewhere each start is refused
//! ([`SandboxExecMissing`](MacSandboxError::SandboxExecMissing)), never run
//! unconfined.

use std::ffi::{OsStr, OsString};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use codex_policy_model::{
    EgressListeners, EgressPorts, EnforcementReport, Protection, ProtectionReport,
    ProtectionStatus, Sandbox, SandboxPolicy, SandboxedChild,
};

use crate::{SANDBOX_EXEC, SeatbeltError, SeatbeltNetwork, SeatbeltProfile, UnixSockets};

/// What every command of a session runs under on macOS: the policy's
/// profile plus the caller's hidden and protected paths, unix sockets,
/// egress proxy and trust bundle. [`prepare`](Self::prepare) checks it all
/// and makes the profile.
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{MacSandbox, MacSandboxError};
///
/// let project = tempfile::tempdir()?;
/// let prepared = MacSandbox::new()
///     .hide_paths([project.path().join(".env")])
///     .prepare(&SandboxPolicy::workspace_write(false), project.path(), None)?;
/// let mut command = prepared.command("make".as_ref(), &["test".into()]);
/// assert_eq!(command.get_program(), "/usr/bin/sandbox-exec");
/// # if cfg!(not(target_os = "macos")) {
/// // Only macOS has sandbox-exec: elsewhere nothing starts, unconfined or not.
/// assert!(matches!(prepared.spawn(&mut command), Err(MacSandboxError::SandboxExecMissing)));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use = "a sandbox does nothing until prepared"]
pub struct MacSandbox {
    protected: Vec<PathBuf>,
    hidden: Vec<PathBuf>,
    unix_sockets: UnixSockets,
    egress: Option<EgressPorts>,
    ca_bundle: Option<Arc<[u8]>>,
}

/// Why a command was not started.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{MacSandbox, MacSandboxError, PathRole, SeatbeltError};
///
/// let project = tempfile::tempdir()?;
/// let err = MacSandbox::new()
///     .hide_paths(["relative/.env".into()])
///     .prepare(&SandboxPolicy::read_only(), project.path(), None)
///     .unwrap_err();
/// assert!(matches!(
///     err,
///     MacSandboxError::Profile(SeatbeltError::RelativePath { role: PathRole::Hidden, .. })
/// ));
/// // 125: codex-policy itself could not do it (127 and 126 are the program's).
/// assert_eq!(err.exit_status(), 125);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MacSandboxError {
    /// The profile could not be made.
    #[error(transparent)]
    Profile(SeatbeltError),
    /// `/usr/bin/sandbox-exec` is not there (this is not macOS, or the system
    /// lacks it): nothing is started, since nothing could confine it.
    #[error("{SANDBOX_EXEC} is missing: commands cannot be confined by Seatbelt here")]
    SandboxExecMissing,
    /// The command was not made by [`PreparedMacSandbox::command`], so it
    /// would not run under the profile: refused rather than started bare.
    #[error("the command does not start {SANDBOX_EXEC}: make it with PreparedMacSandbox::command")]
    NotWrapped,
    /// The program could not be found or is not executable (looked up as
    /// `sandbox-exec` will: in the command's `$PATH`).
    #[error("{}", codex_policy_model::exec_failure(program.as_os_str(), source))]
    Exec {
        /// The program as given.
        program: PathBuf,
        /// What the lookup found.
        #[source]
        source: io::Error,
    },
    /// Another command of this process is being supervised: its signals
    /// are forwarded to one command at a time.
    #[error("another command of this process is already supervised; use spawn for more")]
    AlreadySupervising,
    /// The egress proxy's listeners could not be opened on loopback.
    #[error("opening the egress proxy's listeners on 127.0.0.1: {0}")]
    EgressListeners(#[source] io::Error),
    /// The trust bundle could not be written.
    #[error("writing the certificates the command trusts: {0}")]
    CaBundle(#[source] io::Error),
    /// `sandbox-exec` (or, for full access, the command) did not start.
    #[error("starting the command: {0}")]
    Spawn(#[from] io::Error),
}

impl MacSandboxError {
    /// The exit status of the contract: 127 not found, 126 not executable,
    /// 125 for everything codex-policy itself could not do.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Exec { source, .. } if source.kind() == io::ErrorKind::NotFound => 127,
            Self::Exec { .. } => 126,
            _ => 125,
        }
    }

    /// Whether the host lacks what the policy needs (rather than a failure
    /// of this start).
    pub fn lacks_protection(&self) -> bool {
        matches!(self, Self::SandboxExecMissing)
    }
}

impl MacSandbox {
    /// A sandbox with nothing added to the policy's profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same as [`new`](Self::new): Seatbelt applies a whole profile or
    /// none, so there is nothing to leave out on a best-effort basis. Kept so
    /// that callers choose a mode on every backend alike.
    pub fn best_effort() -> Self {
        Self::default()
    }

    /// See [`SeatbeltBuilder::protected_paths`](crate::SeatbeltBuilder::protected_paths).
    pub fn protect_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.protected.extend(paths);
        self
    }

    /// See [`SeatbeltBuilder::hidden_paths`](crate::SeatbeltBuilder::hidden_paths).
    pub fn hide_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.hidden.extend(paths);
        self
    }

    /// Path-named unix sockets the command may reach, at or beneath each
    /// path (adds to earlier ones).
    pub fn allow_unix_sockets(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        let mut allowed = match std::mem::take(&mut self.unix_sockets) {
            UnixSockets::Allow(paths) => paths,
            UnixSockets::AllowAll => {
                self.unix_sockets = UnixSockets::AllowAll;
                return self;
            }
            _ => Vec::new(),
        };
        allowed.extend(paths);
        if !allowed.is_empty() {
            self.unix_sockets = UnixSockets::Allow(allowed);
        }
        self
    }

    /// See [`SeatbeltBuilder::unix_sockets`](crate::SeatbeltBuilder::unix_sockets).
    pub fn unix_sockets(mut self, sockets: UnixSockets) -> Self {
        self.unix_sockets = sockets;
        self
    }

    /// The network goes only to the egress proxy: [`prepare`](Self::prepare)
    /// opens its two listeners on this host's loopback at `ports` (0: any
    /// free port; [`PreparedMacSandbox::egress_ports`] says which), the
    /// profile lets the command reach those two ports and nothing else, and
    /// the first start hands the listeners out for the caller's proxy to
    /// serve. Unlike the Linux sandbox's, they are on the host's loopback:
    /// other local processes can reach the proxy too, and get only what the
    /// proxy allows. Ignored when the policy has full network access.
    pub fn filtered_network(mut self, ports: EgressPorts) -> Self {
        self.egress = Some(ports);
        self
    }

    /// Certificates (PEM) the command is to trust: written by
    /// [`prepare`](Self::prepare) to a file of a fresh private directory that
    /// the profile keeps read-only ([`PreparedMacSandbox::ca_bundle_path`]).
    pub fn ca_bundle(mut self, pem: impl Into<Arc<[u8]>>) -> Self {
        self.ca_bundle = Some(pem.into());
        self
    }

    /// Makes the profile for `policy` and commands started in `cwd` (with
    /// `tmpdir` as their `$TMPDIR`): checks every path, opens the egress
    /// listeners and writes the trust bundle. A `danger-full-access` policy
    /// makes no profile: its commands run unconfined, and the report says so.
    ///
    /// # Errors
    ///
    /// [`MacSandboxError::Profile`] for what the profile cannot carry (see
    /// [`SeatbeltBuilder::build`](crate::SeatbeltBuilder::build)),
    /// [`MacSandboxError::EgressListeners`] when the proxy's ports cannot be
    /// bound, [`MacSandboxError::CaBundle`] when the bundle cannot be written.
    pub fn prepare(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        tmpdir: Option<&OsStr>,
    ) -> Result<PreparedMacSandbox, MacSandboxError> {
        let cwd = std::path::absolute(cwd)?;
        let filtered = self.egress.filter(|_| {
            !policy.has_network_access()
                || policy.network_mode() == codex_policy_model::NetworkMode::Limited
        });
        let listeners = match filtered {
            Some(ports) if !policy.has_full_disk_write_access() => {
                Some(open_listeners(ports).map_err(MacSandboxError::EgressListeners)?)
            }
            _ => None,
        };
        let bundle = match &self.ca_bundle {
            Some(pem) if !policy.has_full_disk_write_access() => {
                Some(TrustBundle::write(pem).map_err(MacSandboxError::CaBundle)?)
            }
            _ => None,
        };
        let mut builder = SeatbeltProfile::builder(policy, &cwd)
            .terminal(caller_terminal())
            .tmpdir(tmpdir)
            .unix_sockets(self.unix_sockets.clone())
            .hidden_paths(self.hidden.iter().cloned())
            .protected_paths(self.protected.iter().cloned())
            .protected_paths(bundle.iter().map(|b| b.file.clone()));
        let ports = listeners.as_ref().map(|(_, ports, _)| *ports);
        if let Some(ports) = ports {
            builder = builder.network(SeatbeltNetwork::Proxy {
                http: ports.http,
                socks: ports.socks,
            });
        }
        let profile = match builder.build() {
            Ok(profile) => Some(profile),
            Err(SeatbeltError::FullAccess) => None,
            Err(e) => return Err(MacSandboxError::Profile(e)),
        };
        let (egress, held_on_ipv6) = match listeners {
            Some((listeners, ports, held)) => (Some((ports, Mutex::new(Some(listeners)))), held),
            None => (None, Vec::new()),
        };
        let report = match &profile {
            Some(profile) => profile.report(),
            None => unconfined_report(),
        };
        Ok(PreparedMacSandbox {
            network_disabled: profile.is_some() && !policy.has_network_access() && ports.is_none(),
            profile,
            report,
            cwd,
            egress,
            _held_on_ipv6: held_on_ipv6,
            bundle,
        })
    }
}

/// The terminal on this process's standard input, output or error
/// (`/dev/ttysNNN`): the one the commands are given.
fn caller_terminal() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    (0..3).find_map(|fd| {
        let mut name = [0u8; 256];
        // SAFETY: ttyname_r writes at most `len` bytes, NUL included, into
        // the buffer; isatty has no preconditions.
        let found = unsafe {
            libc::isatty(fd) == 1 && libc::ttyname_r(fd, name.as_mut_ptr().cast(), name.len()) == 0
        };
        let end = name.iter().position(|&b| b == 0)?;
        found.then(|| PathBuf::from(OsStr::from_bytes(&name[..end])))
    })
}

/// The report of a command run without a profile.
fn unconfined_report() -> EnforcementReport {
    let protections = Protection::ALL
        .into_iter()
        .map(|p| ProtectionReport::new(p, false, ProtectionStatus::NotNeeded))
        .collect();
    EnforcementReport::new(protections, vec!["no sandbox".to_owned()])
}

/// The two listeners on 127.0.0.1, and the same ports held on `::1`:
/// Seatbelt's `localhost` is both, and nothing else on this host may be
/// listening on `[::1]` at a port the profile opens (unused when IPv6 is
/// off).
fn open_listeners(
    ports: EgressPorts,
) -> io::Result<(EgressListeners, EgressPorts, Vec<TcpListener>)> {
    let http = TcpListener::bind((Ipv4Addr::LOCALHOST, ports.http))?;
    let socks = TcpListener::bind((Ipv4Addr::LOCALHOST, ports.socks))?;
    let bound = EgressPorts {
        http: http.local_addr()?.port(),
        socks: socks.local_addr()?.port(),
    };
    let held = [bound.http, bound.socks]
        .into_iter()
        .filter_map(|port| TcpListener::bind((Ipv6Addr::LOCALHOST, port)).ok())
        .collect();
    Ok((EgressListeners { http, socks }, bound, held))
}

/// The trust bundle's file, in a private directory removed with it.
#[derive(Debug)]
struct TrustBundle {
    _dir: tempfile::TempDir,
    file: PathBuf,
}

impl TrustBundle {
    fn write(pem: &[u8]) -> io::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("codex-policy-ca-")
            .tempdir()?;
        let file = dir.path().join("ca-bundle.pem");
        std::fs::write(&file, pem)?;
        // Readable by the command; nobody else's business but harmless.
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444))?;
        Ok(Self { _dir: dir, file })
    }
}

/// A profile made once, starting every command of a session.
///
/// [`command`](Self::command) makes the `std` command (program, arguments
/// after `sandbox-exec`'s own); the caller sets its directory, environment
/// and streams; [`spawn`](Self::spawn) or [`supervise`](Self::supervise)
/// starts it. Safe from any thread.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{MacSandbox, MacSandboxError};
///
/// let project = tempfile::tempdir()?;
/// let prepared = MacSandbox::new().prepare(&SandboxPolicy::read_only(), project.path(), None)?;
/// assert!(prepared.network_disabled());
/// let command = prepared.command("cargo".as_ref(), &["test".into()]);
/// let args: Vec<_> = command.get_args().collect();
/// assert_eq!(args[args.len() - 3..], ["--", "cargo", "test"]);
///
/// // A command made elsewhere would run without the profile: refused.
/// let err = prepared.spawn(&mut std::process::Command::new("cargo")).unwrap_err();
/// assert!(matches!(err, MacSandboxError::NotWrapped));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PreparedMacSandbox {
    /// `None`: full access, commands run unconfined.
    profile: Option<SeatbeltProfile>,
    report: EnforcementReport,
    cwd: PathBuf,
    network_disabled: bool,
    /// The egress listeners' ports, and the listeners until the first start
    /// takes them.
    egress: Option<(EgressPorts, Mutex<Option<EgressListeners>>)>,
    /// The egress ports held on `::1`, so that nothing else listens there.
    _held_on_ipv6: Vec<TcpListener>,
    bundle: Option<TrustBundle>,
}

impl PreparedMacSandbox {
    /// What every start enforces, and what Seatbelt does not.
    pub fn report(&self) -> &EnforcementReport {
        &self.report
    }

    /// The profile (`None` under full access).
    pub fn profile(&self) -> Option<&SeatbeltProfile> {
        self.profile.as_ref()
    }

    /// Where a command without a directory of its own runs.
    pub fn cwd(&self) -> &Path {
        &self.cwd
    }

    /// Whether the network is closed to the commands.
    pub fn network_disabled(&self) -> bool {
        self.network_disabled
    }

    /// The egress proxy's listening ports on loopback, for a filtered
    /// network.
    pub fn egress_ports(&self) -> Option<EgressPorts> {
        self.egress.as_ref().map(|(ports, _)| *ports)
    }

    /// Whether the commands are given a trust bundle.
    pub fn has_ca_bundle(&self) -> bool {
        self.bundle.is_some()
    }

    /// The trust bundle's file, read-only to the commands.
    pub fn ca_bundle_path(&self) -> Option<&Path> {
        self.bundle.as_ref().map(|b| b.file.as_path())
    }

    /// The command that runs `program` with `args` under the profile:
    /// `/usr/bin/sandbox-exec -p PROFILE -D NAME=VALUE … -- program args…`
    /// (under full access, `program` itself). Set its directory,
    /// environment and streams, then start it with [`spawn`](Self::spawn).
    pub fn command(&self, program: &OsStr, args: &[OsString]) -> Command {
        match &self.profile {
            Some(profile) => {
                let mut command = vec![program.to_os_string()];
                command.extend(args.iter().cloned());
                let argv = profile.sandbox_exec_argv(&command);
                let mut wrapped = Command::new(&argv[0]);
                wrapped.args(&argv[1..]);
                wrapped
            }
            None => {
                let mut bare = Command::new(program);
                bare.args(args);
                bare
            }
        }
    }

    /// Starts a command made by [`command`](Self::command). The first start
    /// of a filtered network hands out the egress listeners
    /// ([`SandboxedChild::egress_listeners`]); later ones share them.
    /// Killing the child ends `sandbox-exec`'s command, not necessarily its
    /// descendants (Seatbelt has no process containment).
    ///
    /// # Errors
    ///
    /// [`MacSandboxError::NotWrapped`] for a command line that is not this
    /// profile's, [`MacSandboxError::SandboxExecMissing`] off macOS,
    /// [`MacSandboxError::Exec`] for a program that is missing (127) or not
    /// executable (126), [`MacSandboxError::Spawn`] when the start fails.
    /// Nothing runs then.
    pub fn spawn(&self, command: &mut Command) -> Result<SandboxedChild, MacSandboxError> {
        let child = self.start(command)?;
        Ok(SandboxedChild {
            child,
            report: self.report.clone(),
            egress_listeners: self.take_listeners(),
        })
    }

    /// [`spawn`](Self::spawn) for a program that runs one command and
    /// waits for it (`codex-policy run`). The command runs in a session of
    /// its own, so the terminal's Ctrl-C reaches the caller, not it: until
    /// [`MacSupervised::wait`] returns, the *process* forwards SIGINT,
    /// SIGQUIT, SIGTERM and SIGHUP to the command's process group (its
    /// handlers for them are replaced meanwhile, and restored after). One
    /// supervised command at a time per process.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn), and [`MacSandboxError::AlreadySupervising`]
    /// while another command of this process is supervised.
    pub fn supervise(&self, command: &mut Command) -> Result<MacSupervised, MacSandboxError> {
        let forwarding = match self.profile {
            Some(_) => Some(SignalForwarding::install()?),
            None => None,
        };
        let child = self.start(command)?;
        if forwarding.is_some() {
            let group = libc::pid_t::try_from(child.id()).unwrap_or(0);
            FORWARD_TO.store(group, Ordering::SeqCst);
            // A signal that came while the command was starting.
            let pending = PENDING.swap(0, Ordering::SeqCst);
            if pending > 0 {
                // SAFETY: signalling the group of our own child.
                unsafe { libc::kill(-group, pending) };
            }
        }
        Ok(MacSupervised {
            child,
            egress: self.take_listeners(),
            forwarding,
        })
    }

    fn take_listeners(&self) -> Option<EgressListeners> {
        self.egress
            .as_ref()
            .and_then(|(_, slot)| slot.lock().unwrap_or_else(PoisonError::into_inner).take())
    }

    fn start(&self, command: &mut Command) -> Result<Child, MacSandboxError> {
        if command.get_current_dir().is_none() {
            command.current_dir(&self.cwd);
        }
        let dir = command
            .get_current_dir()
            .map_or_else(|| self.cwd.clone(), Path::to_path_buf);
        let program = match &self.profile {
            None => command.get_program().to_os_string(),
            Some(profile) => {
                // Exactly this profile's `sandbox-exec -p TEXT -D … --`, then
                // the program: any other command line (another profile, -f
                // FILE) is not what this sandbox enforces.
                let prefix = profile.sandbox_exec_argv(&[]);
                if command.get_program() != prefix[0] {
                    return Err(MacSandboxError::NotWrapped);
                }
                let args: Vec<&OsStr> = command.get_args().collect();
                let options = &prefix[1..];
                if args.len() <= options.len()
                    || args[..options.len()]
                        .iter()
                        .zip(options)
                        .any(|(given, expected)| *given != expected.as_os_str())
                {
                    return Err(MacSandboxError::NotWrapped);
                }
                if !Path::new(SANDBOX_EXEC).is_file() {
                    return Err(MacSandboxError::SandboxExecMissing);
                }
                args[options.len()].to_os_string()
            }
        };
        let path = command
            .get_envs()
            .find(|(key, _)| *key == "PATH")
            .map_or_else(
                || std::env::var_os("PATH"),
                |(_, v)| v.map(OsStr::to_os_string),
            );
        check_program(Path::new(&program), path.as_deref(), &dir)?;
        if self.profile.is_some() {
            // A session of its own, whoever built the command: no
            // controlling terminal, so no keystrokes pushed into the user's
            // (TIOCSTI needs the controlling terminal), and /dev/tty does
            // not open. The signals this process's terminal sends are
            // forwarded by `supervise`.
            // SAFETY: setsid is async-signal-safe and touches no memory.
            unsafe {
                command.pre_exec(|| {
                    if libc::setsid() == -1 {
                        return Err(io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        Ok(command.spawn()?)
    }
}

/// Looks `program` up as `execvp` will (in `path` unless it names a
/// directory), so that a missing or non-executable program is 127 or 126 of
/// the contract rather than whatever status `sandbox-exec` gives.
pub(crate) fn check_program(
    program: &Path,
    path: Option<&OsStr>,
    dir: &Path,
) -> Result<(), MacSandboxError> {
    let exec_error = |kind: io::ErrorKind, why: &str| MacSandboxError::Exec {
        program: program.to_path_buf(),
        source: io::Error::new(kind, why.to_owned()),
    };
    let executable = |candidate: &Path| {
        std::fs::metadata(candidate)
            .map(|meta| (meta.is_file(), meta.permissions().mode() & 0o111 != 0))
    };
    if program.as_os_str().is_empty() {
        return Err(exec_error(io::ErrorKind::NotFound, "empty program name"));
    }
    if program.as_os_str().as_encoded_bytes().contains(&b'/') {
        return match executable(&dir.join(program)) {
            Ok((true, true)) => Ok(()),
            Ok(_) => Err(exec_error(
                io::ErrorKind::PermissionDenied,
                "not an executable file",
            )),
            Err(e) => Err(MacSandboxError::Exec {
                program: program.to_path_buf(),
                source: e,
            }),
        };
    }
    let mut found_not_executable = false;
    for entry in std::env::split_paths(path.unwrap_or(OsStr::new("/usr/bin:/bin"))) {
        let entry = if entry.as_os_str().is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(entry)
        };
        match executable(&entry.join(program)) {
            Ok((true, true)) => return Ok(()),
            Ok((true, false)) => found_not_executable = true,
            _ => {}
        }
    }
    Err(if found_not_executable {
        exec_error(io::ErrorKind::PermissionDenied, "not executable")
    } else {
        exec_error(io::ErrorKind::NotFound, "not found in $PATH")
    })
}

/// The process group a supervising process forwards signals to (0: none
/// yet).
static FORWARD_TO: AtomicI32 = AtomicI32::new(0);
/// A termination signal that came before the command's group was known.
static PENDING: AtomicI32 = AtomicI32::new(0);
/// Termination signals forwarded so far: the second one kills the group.
static TERMINATIONS: AtomicI32 = AtomicI32::new(0);
/// Whether a supervised command is running: one per process at a time.
static SUPERVISING: AtomicBool = AtomicBool::new(false);

/// The signals a terminal or a service manager ends a command with, and
/// the terminal's job control and window size: all go to the command.
const FORWARDED: [libc::c_int; 7] = [
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGTERM,
    libc::SIGHUP,
    libc::SIGTSTP,
    libc::SIGCONT,
    libc::SIGWINCH,
];

extern "C" fn forward_signal(signal: libc::c_int) {
    let group = FORWARD_TO.load(Ordering::SeqCst);
    if group <= 0 {
        if !matches!(signal, libc::SIGWINCH | libc::SIGCONT) {
            PENDING.store(signal, Ordering::SeqCst);
        }
        return;
    }
    let ending = matches!(
        signal,
        libc::SIGINT | libc::SIGQUIT | libc::SIGTERM | libc::SIGHUP
    );
    // A command that ignores the first is not allowed to outlive the
    // second: the caller must stay able to end it.
    let signal = if ending && TERMINATIONS.fetch_add(1, Ordering::SeqCst) >= 1 {
        libc::SIGKILL
    } else {
        signal
    };
    // SAFETY: kill is async-signal-safe.
    unsafe { libc::kill(-group, signal) };
}

/// The forwarding handlers, installed until dropped (the previous
/// dispositions are restored then).
#[derive(Debug)]
struct SignalForwarding {
    previous: Vec<(libc::c_int, libc::sigaction)>,
}

impl SignalForwarding {
    fn install() -> Result<Self, MacSandboxError> {
        if SUPERVISING.swap(true, Ordering::SeqCst) {
            return Err(MacSandboxError::AlreadySupervising);
        }
        FORWARD_TO.store(0, Ordering::SeqCst);
        PENDING.store(0, Ordering::SeqCst);
        TERMINATIONS.store(0, Ordering::SeqCst);
        let mut forwarding = Self {
            previous: Vec::new(),
        };
        for signal in FORWARDED {
            // SAFETY: sigaction is plain data, zeroed then filled in; the
            // handler only uses atomics and kill.
            unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = forward_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&raw mut action.sa_mask);
                action.sa_flags = libc::SA_RESTART;
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(signal, &raw const action, &raw mut previous) != 0 {
                    return Err(io::Error::last_os_error().into());
                }
                forwarding.previous.push((signal, previous));
            }
        }
        Ok(forwarding)
    }
}

impl Drop for SignalForwarding {
    fn drop(&mut self) {
        let group = FORWARD_TO.swap(0, Ordering::SeqCst);
        if group > 0 {
            // Whatever the command left in its group (a background job)
            // ends with it: without process containment, this is what can
            // be done.
            // SAFETY: signalling the group of our own, waited-for child.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        for (signal, previous) in &self.previous {
            // SAFETY: restoring a disposition sigaction gave us.
            unsafe { libc::sigaction(*signal, previous, std::ptr::null_mut()) };
        }
        SUPERVISING.store(false, Ordering::SeqCst);
    }
}

/// A command started by [`PreparedMacSandbox::supervise`].
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{MacSandbox, MacSandboxError};
///
/// let project = tempfile::tempdir()?;
/// let prepared = MacSandbox::new().prepare(&SandboxPolicy::read_only(), project.path(), None)?;
/// let mut command = prepared.command("sh".as_ref(), &["-c".into(), "exit 3".into()]);
/// match prepared.supervise(&mut command) {
///     Ok(supervised) => assert_eq!(supervised.wait()?.code(), Some(3)),
///     // Only macOS has sandbox-exec: elsewhere nothing starts, confined or not.
///     Err(err) => assert!(
///         cfg!(not(target_os = "macos")) && matches!(err, MacSandboxError::SandboxExecMissing)
///     ),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MacSupervised {
    child: Child,
    egress: Option<EgressListeners>,
    /// Dropped after the wait: the signals are the caller's again.
    forwarding: Option<SignalForwarding>,
}

impl MacSupervised {
    /// The egress listeners, for the caller's proxy: `Some` once, on the
    /// first start of a filtered network.
    pub fn take_egress_listeners(&mut self) -> Option<EgressListeners> {
        self.egress.take()
    }

    /// The process id of `sandbox-exec`, which became the command.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the command; then what is left in its process group is
    /// killed and the caller's signal handlers are restored.
    pub fn wait(mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait();
        drop(self.forwarding.take());
        status
    }
}

impl Sandbox for MacSandbox {
    type Error = MacSandboxError;

    /// Prepares and starts `command` in one call. Its program, arguments,
    /// directory and environment carry over; `std` cannot read back its
    /// stream settings, so the child inherits the caller's: for pipes, use
    /// [`PreparedMacSandbox::command`].
    fn spawn(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        command: &mut Command,
    ) -> Result<SandboxedChild, Self::Error> {
        let tmpdir = command
            .get_envs()
            .find(|(key, _)| *key == "TMPDIR")
            .map_or_else(
                || std::env::var_os("TMPDIR"),
                |(_, v)| v.map(OsStr::to_os_string),
            );
        let prepared = self.prepare(policy, cwd, tmpdir.as_deref())?;
        let args: Vec<OsString> = command.get_args().map(OsStr::to_os_string).collect();
        let mut wrapped = prepared.command(command.get_program(), &args);
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        prepared.spawn(&mut wrapped)
    }
}

impl From<SeatbeltError> for MacSandboxError {
    fn from(e: SeatbeltError) -> Self {
        Self::Profile(e)
    }
}
