//! Why no profile could be made.

use std::fmt;
use std::path::PathBuf;

use codex_policy_model::WritableRootsError;

/// What a path given to the builder stands for, so that an error names it.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{PathRole, SeatbeltError, SeatbeltProfile};
///
/// let project = tempfile::tempdir()?;
/// let err = SeatbeltProfile::builder(&SandboxPolicy::read_only(), project.path())
///     .hidden_paths(["secrets/token".into()])
///     .build()
///     .unwrap_err();
/// let SeatbeltError::RelativePath { role, .. } = &err else { panic!("{err}") };
/// assert_eq!(*role, PathRole::Hidden);
/// assert_eq!(err.to_string(), "hidden path secrets/token is not absolute");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathRole {
    /// The working directory the command starts in.
    WorkingDirectory,
    /// A directory the command may write.
    WritableRoot,
    /// A path inside a writable root that stays read-only (`.git`, `.codex`, …).
    ReadOnlySubpath,
    /// A path the command may neither read nor write (a credential store).
    Hidden,
    /// A path the caller keeps read-only (the audit log, `$CODEX_HOME`).
    Protected,
    /// A path-named unix socket the command may connect to or bind.
    UnixSocket,
    /// The terminal the command is given.
    Terminal,
}

impl PathRole {
    /// The role in words, as error messages use it.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::WorkingDirectory => "working directory",
            Self::WritableRoot => "writable root",
            Self::ReadOnlySubpath => "read-only subpath",
            Self::Hidden => "hidden path",
            Self::Protected => "protected path",
            Self::UnixSocket => "unix socket path",
            Self::Terminal => "terminal",
        }
    }
}

impl fmt::Display for PathRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

/// Why [`SeatbeltBuilder::build`](crate::SeatbeltBuilder::build) made no profile.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_macos::{SeatbeltError, SeatbeltNetwork, SeatbeltProfile};
///
/// let project = tempfile::tempdir()?;
/// // A builder setting may narrow the policy's network, never open it.
/// let err = SeatbeltProfile::builder(&SandboxPolicy::workspace_write(false), project.path())
///     .network(SeatbeltNetwork::Full)
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, SeatbeltError::NetworkWiderThanPolicy { asked: "full network" }));
///
/// // Full access has no profile: the caller runs the command unconfined, and says so.
/// let err = SeatbeltProfile::builder(&SandboxPolicy::DangerFullAccess, project.path())
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, SeatbeltError::FullAccess));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeatbeltError {
    /// The policy is `danger-full-access`: it restricts nothing, so there is
    /// no profile to make. Not a failure of the policy — the caller runs the
    /// command without `sandbox-exec` and says so; matching on this variant is
    /// how it learns that nothing confines the command.
    #[error("the policy is danger-full-access: it asks for no sandbox")]
    FullAccess,
    /// Seatbelt matches the path the kernel resolved, which is always
    /// absolute: a relative path would match nothing, and the rule meant to
    /// hold would silently not.
    #[error("{role} {} is not absolute", path.display())]
    RelativePath {
        /// What the path stands for.
        role: PathRole,
        /// The path as given.
        path: PathBuf,
    },
    /// A parameter travels as a command-line argument (`-D NAME=VALUE`),
    /// which cannot hold a NUL byte.
    #[error("{role} {} contains a NUL byte", path.display())]
    NulByte {
        /// What the path stands for.
        role: PathRole,
        /// The path as given.
        path: PathBuf,
    },
    /// A hidden path is, or contains, a writable root: the command could not
    /// work there, and hiding less than asked is not an option.
    #[error("hidden path {} is or contains the writable root {}", hidden.display(), root.display())]
    HiddenContainsRoot {
        /// The hidden path.
        hidden: PathBuf,
        /// The writable root it is or contains.
        root: PathBuf,
    },
    /// The network asked for is wider than the policy's: a builder setting
    /// may narrow the policy, never loosen it.
    #[error("the policy allows no network; {asked} would open it")]
    NetworkWiderThanPolicy {
        /// The network asked for, in words.
        asked: &'static str,
    },
    /// The policy's network may only read (`limited`: GET, HEAD, OPTIONS,
    /// HTTPS inspected), which only the egress proxy can enforce: Seatbelt
    /// sees connections, not requests. Ask for
    /// [`SeatbeltNetwork::Proxy`](crate::SeatbeltNetwork::Proxy) (or `Off`).
    #[error(
        "the policy's network is limited to read-only methods, which only the egress proxy enforces; no proxy was given"
    )]
    LimitedNetworkNeedsProxy,
    /// Port 0 names no listener: the proxy's real port must be given.
    #[error("proxy port 0 names no listener")]
    ProxyPortZero,
    /// The writable roots could not be computed (the working directory does
    /// not exist or is not a directory).
    #[error(transparent)]
    WritableRoots(#[from] WritableRootsError),
}
