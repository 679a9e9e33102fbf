//! The policy an OS sandbox enforces on a child process.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::NetworkMode;

/// What a sandboxed child may do with the file system and the network.
///
/// The serialized form is Codex's: an object tagged by `mode`, so
/// `{"mode":"read-only","network_access":false}` and
/// `{"mode":"danger-full-access"}` deserialize unchanged, in JSON and in TOML.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{SandboxMode, SandboxPolicy};
///
/// let policy: SandboxPolicy = toml::from_str(
///     r#"
///     mode = "workspace-write"
///     network_access = true
///     writable_roots = ["/srv/cache"]
///     "#,
/// )?;
/// assert_eq!(policy.mode(), SandboxMode::WorkspaceWrite);
/// assert!(policy.has_network_access() && !policy.has_full_disk_write_access());
/// assert!(!policy.with_network_closed().has_network_access());
///
/// // Full access has no network switch: closing it there is refused, not ignored.
/// let json = r#"{"mode":"danger-full-access","network_access":false}"#;
/// assert!(serde_json::from_str::<SandboxPolicy>(json).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "mode",
    rename_all = "kebab-case",
    deny_unknown_fields,
    from = "StrictSandboxPolicy"
)]
#[non_exhaustive]
pub enum SandboxPolicy {
    /// Read the whole file system, write nothing.
    ReadOnly {
        /// Whether outbound network is allowed.
        #[serde(default)]
        network_access: bool,
    },
    /// Read the whole file system, write only inside the writable roots.
    ///
    /// The roots are the configured ones plus the working directory, `/tmp` and
    /// `$TMPDIR` (see [`SandboxPolicy::writable_roots`]).
    WorkspaceWrite {
        /// Extra directories the child may write, besides cwd and the temp dirs.
        #[serde(default)]
        writable_roots: Vec<PathBuf>,
        /// Whether outbound network is allowed.
        #[serde(default)]
        network_access: bool,
        /// Leave `$TMPDIR` out of the writable roots.
        #[serde(default)]
        exclude_tmpdir_env_var: bool,
        /// Leave `/tmp` out of the writable roots.
        #[serde(default)]
        exclude_slash_tmp: bool,
    },
    /// No restriction at all: the child runs as the caller would.
    DangerFullAccess,
}

impl SandboxPolicy {
    /// The same policy with the network closed; full access, which has no
    /// network switch, becomes workspace-write without network (the
    /// strictest policy with one), as composition does.
    pub fn with_network_closed(&self) -> SandboxPolicy {
        self.with_network(false)
    }

    /// The same policy with the network `open` or closed; full access, which
    /// has no network switch, is closed as [`SandboxPolicy::with_network_closed`]
    /// says and left as it is when opened.
    pub(crate) fn with_network(&self, open: bool) -> SandboxPolicy {
        match self {
            Self::ReadOnly { .. } => Self::ReadOnly {
                network_access: open,
            },
            Self::WorkspaceWrite {
                writable_roots,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
                ..
            } => Self::WorkspaceWrite {
                writable_roots: writable_roots.clone(),
                network_access: open,
                exclude_tmpdir_env_var: *exclude_tmpdir_env_var,
                exclude_slash_tmp: *exclude_slash_tmp,
            },
            // Full access has no network switch; a closed network must be honoured
            // by the strictest policy that has one.
            Self::DangerFullAccess if !open => Self::workspace_write(false),
            Self::DangerFullAccess => Self::DangerFullAccess,
        }
    }

    /// A read-only policy without network.
    pub const fn read_only() -> Self {
        Self::ReadOnly {
            network_access: false,
        }
    }

    /// A workspace-write policy with no extra roots and the temp dirs included.
    pub const fn workspace_write(network_access: bool) -> Self {
        Self::WorkspaceWrite {
            writable_roots: Vec::new(),
            network_access,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: false,
        }
    }

    /// The mode tag of this policy.
    pub const fn mode(&self) -> SandboxMode {
        match self {
            Self::ReadOnly { .. } => SandboxMode::ReadOnly,
            Self::WorkspaceWrite { .. } => SandboxMode::WorkspaceWrite,
            Self::DangerFullAccess => SandboxMode::DangerFullAccess,
        }
    }

    /// The network mode the policy itself asks for: `limited` (read-only
    /// methods, HTTPS inspected) for a read-only sandbox with network — the
    /// `net-read-only` profile, whose network may read but not change
    /// anything — `full` otherwise.
    pub const fn network_mode(&self) -> NetworkMode {
        match self {
            Self::ReadOnly {
                network_access: true,
            } => NetworkMode::Limited,
            _ => NetworkMode::Full,
        }
    }

    /// Whether the child may open network connections.
    pub const fn has_network_access(&self) -> bool {
        match self {
            Self::ReadOnly { network_access } | Self::WorkspaceWrite { network_access, .. } => {
                *network_access
            }
            Self::DangerFullAccess => true,
        }
    }

    /// Whether the child may write anywhere on the file system.
    pub const fn has_full_disk_write_access(&self) -> bool {
        matches!(self, Self::DangerFullAccess)
    }

    /// Whether the child may write anything at all.
    pub const fn allows_any_write(&self) -> bool {
        !matches!(self, Self::ReadOnly { .. })
    }
}

/// The deserialization mirror of [`SandboxPolicy`]. Serde ignores extra keys on a
/// unit variant even with `deny_unknown_fields`, so `danger-full-access` is an
/// empty struct variant here: `{"mode":"danger-full-access","network_access":false}`
/// must be refused, not read as full access.
#[derive(Deserialize, schemars::JsonSchema)]
#[serde(tag = "mode", rename_all = "kebab-case", deny_unknown_fields)]
enum StrictSandboxPolicy {
    /// Read the whole file system, write nothing.
    ReadOnly {
        /// Whether outbound network is allowed.
        #[serde(default)]
        network_access: bool,
    },
    /// Read the whole file system, write only in cwd, /tmp, $TMPDIR and `writable_roots`.
    WorkspaceWrite {
        /// Extra directories the child may write.
        #[serde(default)]
        writable_roots: Vec<PathBuf>,
        /// Whether outbound network is allowed.
        #[serde(default)]
        network_access: bool,
        /// Leave `$TMPDIR` out of the writable roots.
        #[serde(default)]
        exclude_tmpdir_env_var: bool,
        /// Leave `/tmp` out of the writable roots.
        #[serde(default)]
        exclude_slash_tmp: bool,
    },
    /// No restriction at all (network included).
    DangerFullAccess {},
}

impl From<StrictSandboxPolicy> for SandboxPolicy {
    fn from(strict: StrictSandboxPolicy) -> Self {
        match strict {
            StrictSandboxPolicy::ReadOnly { network_access } => Self::ReadOnly { network_access },
            StrictSandboxPolicy::WorkspaceWrite {
                writable_roots,
                network_access,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
            } => Self::WorkspaceWrite {
                writable_roots,
                network_access,
                exclude_tmpdir_env_var,
                exclude_slash_tmp,
            },
            StrictSandboxPolicy::DangerFullAccess {} => Self::DangerFullAccess,
        }
    }
}

/// The three sandbox modes, as spelled in `config.toml` (`sandbox_mode`, `[sandbox] mode`).
///
/// # Examples
///
/// ```
/// use codex_policy_model::{SandboxMode, SandboxPolicy};
///
/// let mode: SandboxMode = "read-only".parse()?;
/// assert_eq!(mode, SandboxPolicy::read_only().mode());
/// assert_eq!(mode.to_string(), "read-only");
/// // In order of increasing permission.
/// assert_eq!(SandboxMode::ALL.last(), Some(&SandboxMode::DangerFullAccess));
/// # Ok::<(), codex_policy_model::UnknownSandboxMode>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SandboxMode {
    /// Commands may read the file system (hidden credential stores excepted)
    /// and write nothing. No network
    /// unless `network_access = true`, and then read-only: only `GET`,
    /// `HEAD` and `OPTIONS` requests, through the egress proxy.
    ReadOnly,
    /// Commands may read the file system (hidden credential stores excepted)
    /// and write only in the working directory, `/tmp`, `$TMPDIR` and the configured `writable_roots`. No
    /// network unless `network_access = true`.
    WorkspaceWrite,
    /// No sandbox: commands may read and write anything and use the network,
    /// as the user running them could.
    DangerFullAccess,
}

impl SandboxMode {
    /// Every mode, in order of increasing permission.
    pub const ALL: [Self; 3] = [Self::ReadOnly, Self::WorkspaceWrite, Self::DangerFullAccess];

    /// The kebab-case name used in configuration files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ReadOnly => "read-only",
            Self::WorkspaceWrite => "workspace-write",
            Self::DangerFullAccess => "danger-full-access",
        }
    }
}

impl std::fmt::Display for SandboxMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a name that is not one of [`SandboxMode::ALL`].
///
/// # Examples
///
/// ```
/// use codex_policy_model::{SandboxMode, UnknownSandboxMode};
///
/// let err = "full-access".parse::<SandboxMode>().unwrap_err();
/// assert_eq!(err, UnknownSandboxMode("full-access".to_owned()));
/// assert!(err.to_string().ends_with("read-only, workspace-write, danger-full-access"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown sandbox mode {0:?}; expected one of: read-only, workspace-write, danger-full-access"
)]
pub struct UnknownSandboxMode(pub String);

impl std::str::FromStr for SandboxMode {
    type Err = UnknownSandboxMode;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == name)
            .ok_or_else(|| UnknownSandboxMode(name.to_owned()))
    }
}

/// Hand-written so that a wrong type (`sandbox_mode = 3`) reads "expected one of
/// read-only, ..." rather than the TOML parser's generic "wanted string or table".
impl<'de> Deserialize<'de> for SandboxMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl serde::de::Visitor<'_> for ModeVisitor {
            type Value = SandboxMode;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("one of \"read-only\", \"workspace-write\", \"danger-full-access\"")
            }

            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<SandboxMode, E> {
                name.parse().map_err(|_| {
                    E::unknown_variant(
                        name,
                        &["read-only", "workspace-write", "danger-full-access"],
                    )
                })
            }
        }
        deserializer.deserialize_str(ModeVisitor)
    }
}
