//! The builder: from a policy and the caller's settings to a checked profile.

use std::collections::BTreeSet;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;

use codex_policy_model::{
    EnforcementReport, NetworkMode, ProtectedHomes, Protection, ProtectionReport, ProtectionStatus,
    SandboxPolicy,
};

use crate::error::{PathRole, SeatbeltError};
use crate::render::render;

/// The one `sandbox-exec` a profile is handed to, by absolute path: a name
/// looked up in `$PATH` could be a program the command planted.
pub const SANDBOX_EXEC: &str = "/usr/bin/sandbox-exec";

/// What the command's network may reach.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{SeatbeltNetwork, SeatbeltProfile};
///
/// let project = tempfile::tempdir()?;
/// // No network of its own: only the egress proxy's listeners on loopback.
/// let network = SeatbeltNetwork::Proxy { http: 3128, socks: 1080 };
/// let profile = SeatbeltProfile::builder(&SandboxPolicy::read_only(), project.path())
///     .network(network)
///     .build()?;
/// assert!(profile.text().contains(r#"(remote tcp "localhost:3128")"#));
/// assert!(profile.report().rules.contains(&format!("network: {}", network.describe())));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SeatbeltNetwork {
    /// Nothing: no IP socket is created, bound or connected. The default when
    /// the policy has no network.
    Off,
    /// Anything. The default when the policy has a (full) network; refused
    /// when it has none.
    Full,
    /// Only the egress proxy's listeners on this host's loopback (TCP to
    /// `localhost:http` and `localhost:socks`), for a policy whose network
    /// is filtered or limited: the proxy decides every connection.
    Proxy {
        /// The HTTP proxy's port (`HTTP_PROXY`, `HTTPS_PROXY`).
        http: u16,
        /// The SOCKS5 proxy's port (`ALL_PROXY`).
        socks: u16,
    },
}

impl SeatbeltNetwork {
    /// The network in words, as errors and reports name it.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Off => "no network",
            Self::Full => "full network",
            Self::Proxy { .. } => "the egress proxy's loopback listeners only",
        }
    }
}

/// Which path-named unix sockets the command may bind and connect to.
///
/// They are a separate grant from the network: a unix socket leads to a
/// local server (ssh-agent, Docker, a tmux server) that acts with the user's
/// full rights, whatever the sandbox.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{SeatbeltProfile, UnixSockets};
///
/// let project = tempfile::tempdir()?;
/// let agent = project.path().join("agent.sock");
/// let profile = SeatbeltProfile::builder(&SandboxPolicy::read_only(), project.path())
///     .unix_sockets(UnixSockets::Allow(vec![agent.clone()]))
///     .build()?;
/// // The socket's path travels as a parameter, never as profile text.
/// let socket = ("UNIX_SOCKET_0".to_owned(), agent.into_os_string());
/// assert!(profile.parameters().contains(&socket));
/// assert_eq!(UnixSockets::default(), UnixSockets::None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnixSockets {
    /// None (the default).
    #[default]
    None,
    /// Those at or beneath these absolute paths.
    Allow(Vec<PathBuf>),
    /// Every one: an escape hatch for a command that must reach local
    /// servers, named so that it is chosen on purpose.
    AllowAll,
}

/// A Seatbelt profile and the parameters its paths travel in.
///
/// The text holds no path at all: each one is a `(param "NAME")`, and
/// [`SeatbeltProfile::parameters`] gives the values, passed to
/// `sandbox-exec` as `-D NAME=VALUE`. A path with quotes, parentheses, `;`,
/// newlines or bytes that are not UTF-8 therefore cannot change what the
/// profile says.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{SANDBOX_EXEC, SeatbeltProfile};
///
/// let project = tempfile::tempdir()?;
/// let profile = SeatbeltProfile::builder(&SandboxPolicy::read_only(), project.path()).build()?;
/// assert!(profile.text().starts_with("(version 1)"));
///
/// let mut make = Command::new("make");
/// make.arg("test").current_dir(project.path());
/// let wrapped = profile.command(&make);
/// assert_eq!(wrapped.get_program(), SANDBOX_EXEC);
/// assert_eq!(wrapped.get_current_dir(), Some(project.path()));
/// assert!(profile.report().is_complete());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeatbeltProfile {
    text: String,
    parameters: Vec<(String, OsString)>,
    summary: Summary,
}

/// What the profile enforces, for its report.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    writable_roots: Vec<PathBuf>,
    read_only: Vec<PathBuf>,
    hidden: Vec<PathBuf>,
    network: SeatbeltNetwork,
    sockets: UnixSockets,
}

impl SeatbeltProfile {
    /// Starts a profile for `policy`, run in `cwd` (an absolute path).
    pub fn builder(policy: &SandboxPolicy, cwd: &Path) -> SeatbeltBuilder {
        SeatbeltBuilder {
            policy: policy.clone(),
            cwd: cwd.to_path_buf(),
            tmpdir: None,
            homes: None,
            network: None,
            unix_sockets: UnixSockets::None,
            hidden: Vec::new(),
            protected: Vec::new(),
            terminal: None,
        }
    }

    /// The profile, for `sandbox-exec -p`. It contains no path.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The `-D NAME=VALUE` pairs the profile's `(param "NAME")`s read, in
    /// the order they are passed.
    pub fn parameters(&self) -> &[(String, OsString)] {
        &self.parameters
    }

    /// `/usr/bin/sandbox-exec -p TEXT -D NAME=VALUE … -- COMMAND…`: the
    /// argument vector that runs `command` (program first) under the
    /// profile. `--` ends `sandbox-exec`'s options, so a program whose name
    /// starts with `-` is still the program.
    pub fn sandbox_exec_argv(&self, command: &[OsString]) -> Vec<OsString> {
        let mut argv = Vec::with_capacity(4 + 2 * self.parameters.len() + command.len());
        argv.push(OsString::from(SANDBOX_EXEC));
        argv.push(OsString::from("-p"));
        argv.push(OsString::from(&self.text));
        for (name, value) in &self.parameters {
            argv.push(OsString::from("-D"));
            let mut definition = OsString::from(name);
            definition.push("=");
            definition.push(value);
            argv.push(definition);
        }
        argv.push(OsString::from("--"));
        argv.extend(command.iter().cloned());
        argv
    }

    /// A [`Command`] that runs `command` under the profile: the same
    /// program, arguments, working directory and environment changes,
    /// started through `sandbox-exec`. Standard I/O settings cannot be read
    /// back from a `Command`: set them on the returned one.
    pub fn command(&self, command: &Command) -> Command {
        let mut program = vec![command.get_program().to_os_string()];
        program.extend(command.get_args().map(OsStr::to_os_string));
        let argv = self.sandbox_exec_argv(&program);
        let mut wrapped = Command::new(&argv[0]);
        wrapped.args(&argv[1..]);
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        for (key, value) in command.get_envs() {
            match value {
                Some(value) => wrapped.env(key, value),
                None => wrapped.env_remove(key),
            };
        }
        wrapped
    }

    /// What this profile enforces, in the terms every backend reports.
    pub fn report(&self) -> EnforcementReport {
        let seatbelt = || ProtectionStatus::Enforced {
            by: "Seatbelt".to_owned(),
        };
        let s = &self.summary;
        let mut protections = vec![
            ProtectionReport::new(Protection::FileWrites, true, seatbelt()),
            ProtectionReport::new(
                Protection::ReadOnlySubpaths,
                !s.writable_roots.is_empty(),
                if s.writable_roots.is_empty() {
                    ProtectionStatus::NotNeeded
                } else {
                    seatbelt()
                },
            ),
            ProtectionReport::new(
                Protection::HiddenPaths,
                !s.hidden.is_empty(),
                if s.hidden.is_empty() {
                    ProtectionStatus::NotNeeded
                } else {
                    seatbelt()
                },
            ),
            ProtectionReport::new(
                Protection::NetworkSockets,
                s.network != SeatbeltNetwork::Full,
                match s.network {
                    SeatbeltNetwork::Full => ProtectionStatus::NotNeeded,
                    _ => seatbelt(),
                },
            ),
            ProtectionReport::new(Protection::SignalIsolation, true, seatbelt()),
            ProtectionReport::new(
                Protection::AbstractUnixIsolation,
                false,
                ProtectionStatus::NotNeeded,
            ),
            ProtectionReport::new(
                Protection::PathSocketIsolation,
                s.sockets != UnixSockets::AllowAll,
                if s.sockets == UnixSockets::AllowAll {
                    ProtectionStatus::NotNeeded
                } else {
                    seatbelt()
                },
            ),
        ];
        // What Seatbelt does not do, said plainly; not required, so a
        // strict caller does not refuse on them.
        for (protection, reason) in [
            (
                Protection::SyscallFilter,
                "Seatbelt filters operations, not system calls",
            ),
            (
                Protection::NoNewPrivileges,
                "set-uid programs keep their privileges (the profile still applies)",
            ),
            (
                Protection::ProcessContainment,
                "sandbox-exec does not kill the command's descendants",
            ),
            (
                Protection::NoCapabilities,
                "macOS has no capabilities; a root command stays root",
            ),
            (
                Protection::IpcIsolation,
                "POSIX semaphores are shared with the user's other processes",
            ),
            (
                Protection::DeviceIsolation,
                "devices are readable as the user may read them",
            ),
        ] {
            protections.push(ProtectionReport::new(
                protection,
                false,
                ProtectionStatus::NotEnforced {
                    reason: reason.to_owned(),
                },
            ));
        }
        let mut rules = vec![format!("network: {}", s.network.describe())];
        rules.extend(
            s.writable_roots
                .iter()
                .map(|p| format!("write beneath {}", p.display())),
        );
        rules.extend(
            s.read_only
                .iter()
                .map(|p| format!("read-only {}", p.display())),
        );
        rules.extend(s.hidden.iter().map(|p| format!("hidden {}", p.display())));
        match &s.sockets {
            UnixSockets::None => {}
            UnixSockets::Allow(paths) => {
                rules.extend(paths.iter().map(|p| format!("unix socket {}", p.display())))
            }
            UnixSockets::AllowAll => rules.push("unix sockets: all".to_owned()),
        }
        EnforcementReport::new(protections, rules)
    }
}

/// Collects what a profile needs and checks it in [`SeatbeltBuilder::build`].
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::SeatbeltProfile;
///
/// let project = tempfile::tempdir()?;
/// let audit_log = project.path().join("audit.jsonl");
/// std::fs::write(&audit_log, "")?;
/// let profile = SeatbeltProfile::builder(&SandboxPolicy::workspace_write(false), project.path())
///     .tmpdir(None)
///     .protected_paths([audit_log.clone()])
///     .build()?;
/// // Inside the writable workspace, the audit log stays read-only.
/// let read_only = format!("read-only {}", audit_log.display());
/// assert!(profile.report().rules.contains(&read_only));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until build() is called"]
pub struct SeatbeltBuilder {
    policy: SandboxPolicy,
    cwd: PathBuf,
    tmpdir: Option<OsString>,
    homes: Option<ProtectedHomes>,
    network: Option<SeatbeltNetwork>,
    unix_sockets: UnixSockets,
    hidden: Vec<PathBuf>,
    protected: Vec<PathBuf>,
    terminal: Option<PathBuf>,
}

impl SeatbeltBuilder {
    /// The command's `$TMPDIR` (pass `std::env::var_os("TMPDIR")`): a
    /// writable root of a workspace-write policy unless it excludes it. On
    /// macOS it is the per-user `/var/folders/…/T/`, where `xcrun` (behind
    /// `/usr/bin/git`, `clang`, `make`) keeps its cache.
    pub fn tmpdir(mut self, tmpdir: Option<&OsStr>) -> Self {
        self.tmpdir = tmpdir.map(OsStr::to_os_string);
        self
    }

    /// The homes a `$TMPDIR` may not be or contain; by default this
    /// process's `$HOME` and `$CODEX_HOME` (see
    /// [`SandboxPolicy::writable_roots`]).
    pub fn protected_homes(mut self, homes: ProtectedHomes) -> Self {
        self.homes = Some(homes);
        self
    }

    /// What the network may reach. By default: nothing when the policy has
    /// no network, everything when it has a full one. A setting may narrow
    /// the policy, never widen it; a limited network needs
    /// [`SeatbeltNetwork::Proxy`].
    pub fn network(mut self, network: SeatbeltNetwork) -> Self {
        self.network = Some(network);
        self
    }

    /// Which path-named unix sockets may be reached; none by default.
    pub fn unix_sockets(mut self, sockets: UnixSockets) -> Self {
        self.unix_sockets = sockets;
        self
    }

    /// Paths neither read nor written, at or beneath each (credential
    /// stores). A path that exists is denied at its resolved path too,
    /// since Seatbelt matches the path the kernel resolved.
    pub fn hidden_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.hidden.extend(paths);
        self
    }

    /// Paths kept read-only inside the writable roots, besides `.git`,
    /// `.codex`, `.agents` and `.codex-profile` (the audit log,
    /// `$CODEX_HOME`). Resolved like hidden paths.
    pub fn protected_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.protected.extend(paths);
        self
    }

    /// The terminal the commands are given (`/dev/ttysNNN`, the caller's),
    /// the one terminal they may open by path: reading and writing it, and
    /// its modes (isatty, tcsetattr, window size are ioctls). Every other
    /// terminal of the machine stays closed (another tab's typing could be
    /// read from it), and so does `/dev/tty`. None by default.
    pub fn terminal(mut self, terminal: Option<PathBuf>) -> Self {
        self.terminal = terminal;
        self
    }

    /// Checks everything and makes the profile.
    ///
    /// # Errors
    ///
    /// Refuses a `danger-full-access` policy ([`SeatbeltError::FullAccess`]:
    /// nothing to enforce), relative paths, NUL bytes, a hidden path that is
    /// or contains a writable root, and a network wider than the policy's.
    pub fn build(self) -> Result<SeatbeltProfile, SeatbeltError> {
        if self.policy.has_full_disk_write_access() {
            return Err(SeatbeltError::FullAccess);
        }
        let network = resolve_network(&self.policy, self.network)?;
        check_path(PathRole::WorkingDirectory, &self.cwd)?;
        let homes = self.homes.unwrap_or_else(ProtectedHomes::from_env);
        let roots =
            self.policy
                .writable_roots_protecting(&self.cwd, self.tmpdir.as_deref(), &homes)?;

        let hidden = resolved(PathRole::Hidden, &self.hidden)?;
        let protected = resolved(PathRole::Protected, &self.protected)?;
        for h in &hidden {
            if let Some(root) = roots.roots.iter().find(|r| r.root.starts_with(h)) {
                return Err(SeatbeltError::HiddenContainsRoot {
                    hidden: h.clone(),
                    root: root.root.clone(),
                });
            }
        }
        let sockets = match &self.unix_sockets {
            UnixSockets::Allow(paths) => Some(resolved(PathRole::UnixSocket, paths)?),
            _ => None,
        };

        let mut params = Params::default();
        let mut plan = Plan {
            roots: Vec::new(),
            protected: Vec::new(),
            hidden: Vec::new(),
            pins: Vec::new(),
            network,
            sockets: SocketPlan::None,
            terminal: None,
        };
        let mut pins = BTreeSet::new();
        let mut read_only_all = Vec::new();
        for (i, root) in roots.roots.iter().enumerate() {
            let name = params.add(
                format!("WRITABLE_ROOT_{i}"),
                PathRole::WritableRoot,
                &root.root,
            )?;
            // `.git` at the top of every root, there or not: a command must
            // not make a repository (hooks included) that the user's next git
            // command would run. Seatbelt, unlike Landlock, can refuse a name
            // that does not exist yet.
            let mut subpaths = root.read_only_subpaths.clone();
            let dot_git = root.root.join(".git");
            if !subpaths.contains(&dot_git) {
                subpaths.push(dot_git);
                subpaths.sort();
            }
            let mut read_only = Vec::new();
            for (j, sub) in subpaths.iter().enumerate() {
                read_only.push(params.add(
                    format!("WRITABLE_ROOT_{i}_RO_{j}"),
                    PathRole::ReadOnlySubpath,
                    sub,
                )?);
                pin_ancestors(&mut pins, &root.root, sub);
                read_only_all.push(sub.clone());
            }
            for p in protected.iter().chain(&hidden) {
                pin_ancestors(&mut pins, &root.root, p);
            }
            plan.roots.push(RootPlan {
                root: name,
                read_only,
            });
        }
        // Without a writable root everything is read-only already: a
        // protected path would be a parameter no rule reads.
        let protected_params = if plan.roots.is_empty() {
            &[][..]
        } else {
            &protected[..]
        };
        for (k, p) in protected_params.iter().enumerate() {
            plan.protected
                .push(params.add(format!("PROTECTED_{k}"), PathRole::Protected, p)?);
        }
        for (k, p) in hidden.iter().enumerate() {
            plan.hidden
                .push(params.add(format!("HIDDEN_{k}"), PathRole::Hidden, p)?);
        }
        for (k, p) in pins.iter().enumerate() {
            plan.pins
                .push(params.add(format!("PINNED_{k}"), PathRole::WritableRoot, p)?);
        }
        plan.sockets = match (&self.unix_sockets, sockets) {
            (UnixSockets::AllowAll, _) => SocketPlan::All,
            (_, Some(paths)) if !paths.is_empty() => {
                let mut names = Vec::new();
                for (k, p) in paths.iter().enumerate() {
                    names.push(params.add(format!("UNIX_SOCKET_{k}"), PathRole::UnixSocket, p)?);
                }
                SocketPlan::Allow(names)
            }
            _ => SocketPlan::None,
        };
        if let Some(terminal) = &self.terminal {
            plan.terminal =
                Some(params.add("TERMINAL".to_owned(), PathRole::Terminal, terminal)?);
        }
        read_only_all.extend(protected);

        Ok(SeatbeltProfile {
            text: render(&plan),
            parameters: params.values,
            summary: Summary {
                writable_roots: roots.roots.iter().map(|r| r.root.clone()).collect(),
                read_only: read_only_all,
                hidden,
                network,
                sockets: self.unix_sockets,
            },
        })
    }
}

/// Decides the network: the caller's setting may narrow the policy's, never
/// widen it.
fn resolve_network(
    policy: &SandboxPolicy,
    asked: Option<SeatbeltNetwork>,
) -> Result<SeatbeltNetwork, SeatbeltError> {
    let open = policy.has_network_access();
    let limited = open && policy.network_mode() == NetworkMode::Limited;
    match asked {
        Some(SeatbeltNetwork::Proxy { http, socks }) if http == 0 || socks == 0 => {
            Err(SeatbeltError::ProxyPortZero)
        }
        Some(SeatbeltNetwork::Full) if !open => Err(SeatbeltError::NetworkWiderThanPolicy {
            asked: SeatbeltNetwork::Full.describe(),
        }),
        Some(SeatbeltNetwork::Full) | None if limited => {
            Err(SeatbeltError::LimitedNetworkNeedsProxy)
        }
        Some(network) => Ok(network),
        None if open => Ok(SeatbeltNetwork::Full),
        None => Ok(SeatbeltNetwork::Off),
    }
}

fn check_path(role: PathRole, path: &Path) -> Result<(), SeatbeltError> {
    if path.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(SeatbeltError::NulByte {
            role,
            path: path.to_path_buf(),
        });
    }
    if !path.is_absolute() {
        return Err(SeatbeltError::RelativePath {
            role,
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Each path as given and, when it exists through a link, as the kernel
/// resolves it — the name Seatbelt matches. Order kept, duplicates dropped.
fn resolved(role: PathRole, paths: &[PathBuf]) -> Result<Vec<PathBuf>, SeatbeltError> {
    let mut out: Vec<PathBuf> = Vec::new();
    for path in paths {
        check_path(role, path)?;
        let real = resolve_existing_prefix(path);
        for p in std::iter::once(path.clone()).chain(real) {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Ok(out)
}

/// `path` as the kernel will resolve it: its deepest existing ancestor
/// made canonical, the rest appended. A store created later beneath a
/// symlinked home (`gh auth login` making `~/.config/gh`) is then matched at
/// the path Seatbelt sees. `None` when nothing on the way resolves.
fn resolve_existing_prefix(path: &Path) -> Option<PathBuf> {
    let mut rest = Vec::new();
    for ancestor in path.ancestors() {
        if let Ok(real) = std::fs::canonicalize(ancestor) {
            return Some(
                rest.iter()
                    .rev()
                    .fold(real, |acc: PathBuf, name| acc.join(name)),
            );
        }
        rest.push(ancestor.file_name()?.to_os_string());
    }
    None
}

/// The directories from `root` down to `path`'s parent, when `path` lies
/// beneath `root`: renaming any of them would carry `path` away from its rule.
fn pin_ancestors(pins: &mut BTreeSet<PathBuf>, root: &Path, path: &Path) {
    if path == root || !path.starts_with(root) {
        return;
    }
    for dir in path.ancestors().skip(1) {
        pins.insert(dir.to_path_buf());
        if dir == root {
            break;
        }
    }
}

/// The parameters, each name once.
#[derive(Default)]
struct Params {
    values: Vec<(String, OsString)>,
}

impl Params {
    fn add(&mut self, name: String, role: PathRole, path: &Path) -> Result<String, SeatbeltError> {
        check_path(role, path)?;
        self.values
            .push((name.clone(), path.as_os_str().to_os_string()));
        Ok(name)
    }
}

/// What the text is rendered from: parameter names, never paths.
pub(crate) struct Plan {
    pub(crate) roots: Vec<RootPlan>,
    pub(crate) protected: Vec<String>,
    pub(crate) hidden: Vec<String>,
    pub(crate) pins: Vec<String>,
    pub(crate) network: SeatbeltNetwork,
    pub(crate) sockets: SocketPlan,
    /// The parameter naming the commands' terminal.
    pub(crate) terminal: Option<String>,
}

pub(crate) struct RootPlan {
    pub(crate) root: String,
    pub(crate) read_only: Vec<String>,
}

pub(crate) enum SocketPlan {
    None,
    Allow(Vec<String>),
    All,
}
