//! The five security profiles and what each one allows.

use std::fmt;
use std::str::FromStr;

use codex_policy_model::{SandboxMode, SandboxPolicy};
use serde::{Deserialize, Serialize};

/// A named bundle of permissions for an agent's child processes.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxMode;
/// use codex_profiles::SecurityProfile;
///
/// let profile: SecurityProfile = "workspace".parse()?;
/// assert!(profile.allows_write() && !profile.allows_network());
/// assert_eq!(profile.to_sandbox_policy().mode(), SandboxMode::WorkspaceWrite);
/// assert_eq!(SecurityProfile::from_mode(SandboxMode::WorkspaceWrite, false), Some(profile));
/// // `workspace` allows nothing `workspace-net` does not, but not the reverse.
/// assert!(profile.is_within(SecurityProfile::WorkspaceNet));
/// assert!(!SecurityProfile::WorkspaceNet.is_within(profile));
/// assert_eq!(profile.to_string(), "workspace");
/// # Ok::<(), codex_profiles::UnknownProfile>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SecurityProfile {
    /// Read-only file system, no network. The default.
    #[default]
    Offline,
    /// Read-only file system, network allowed for read-only methods only
    /// (`GET`, `HEAD`, `OPTIONS`), through the egress proxy.
    NetReadOnly,
    /// Writes in the workspace and temp dirs only, no network.
    Workspace,
    /// Writes in the workspace and temp dirs only, network allowed.
    WorkspaceNet,
    /// No restriction at all. Opt in explicitly, for trusted work only.
    Trusted,
}

impl SecurityProfile {
    /// Every profile, from most to least restrictive.
    pub const ALL: [Self; 5] = [
        Self::Offline,
        Self::NetReadOnly,
        Self::Workspace,
        Self::WorkspaceNet,
        Self::Trusted,
    ];

    /// The kebab-case name (`workspace-net`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Offline => "offline",
            Self::NetReadOnly => "net-read-only",
            Self::Workspace => "workspace",
            Self::WorkspaceNet => "workspace-net",
            Self::Trusted => "trusted",
        }
    }

    /// Whether child processes may use the network.
    pub const fn allows_network(self) -> bool {
        matches!(self, Self::NetReadOnly | Self::WorkspaceNet | Self::Trusted)
    }

    /// Whether child processes may write anything (workspace or more).
    pub const fn allows_write(self) -> bool {
        matches!(self, Self::Workspace | Self::WorkspaceNet | Self::Trusted)
    }

    /// Whether child processes may write anywhere on the file system.
    pub const fn allows_full_write(self) -> bool {
        matches!(self, Self::Trusted)
    }

    /// The sandbox policy this profile stands for, with default workspace settings.
    pub const fn to_sandbox_policy(self) -> SandboxPolicy {
        match self {
            Self::Offline => SandboxPolicy::read_only(),
            Self::NetReadOnly => SandboxPolicy::ReadOnly {
                network_access: true,
            },
            Self::Workspace => SandboxPolicy::workspace_write(false),
            Self::WorkspaceNet => SandboxPolicy::workspace_write(true),
            Self::Trusted => SandboxPolicy::DangerFullAccess,
        }
    }

    /// The profile a sandbox mode and network switch stand for, or `None` for a
    /// combination no profile has (`danger-full-access` without network).
    pub fn from_mode(mode: SandboxMode, network_access: bool) -> Option<Self> {
        match (mode, network_access) {
            (SandboxMode::ReadOnly, false) => Some(Self::Offline),
            (SandboxMode::ReadOnly, true) => Some(Self::NetReadOnly),
            (SandboxMode::WorkspaceWrite, false) => Some(Self::Workspace),
            (SandboxMode::WorkspaceWrite, true) => Some(Self::WorkspaceNet),
            (SandboxMode::DangerFullAccess, true) => Some(Self::Trusted),
            _ => None,
        }
    }

    /// Whether this profile allows nothing beyond `other`: no more file
    /// writes (none < workspace < anywhere) and no more network (none <
    /// read-only < full).
    pub const fn is_within(self, other: Self) -> bool {
        self.write_rank() <= other.write_rank() && self.network_rank() <= other.network_rank()
    }

    const fn write_rank(self) -> u8 {
        match self {
            Self::Offline | Self::NetReadOnly => 0,
            Self::Workspace | Self::WorkspaceNet => 1,
            Self::Trusted => 2,
        }
    }

    const fn network_rank(self) -> u8 {
        match self {
            Self::Offline | Self::Workspace => 0,
            Self::NetReadOnly => 1,
            Self::WorkspaceNet | Self::Trusted => 2,
        }
    }

    /// What the profile allows, for display and JSON output.
    pub const fn capabilities(self) -> Capabilities {
        Capabilities {
            network: self.allows_network(),
            write: self.allows_write(),
            full_write: self.allows_full_write(),
            file_writes: if self.allows_full_write() {
                FileWrites::Anywhere
            } else if self.allows_write() {
                FileWrites::WorkspaceAndTemp
            } else {
                FileWrites::None
            },
        }
    }
}

/// The capabilities of a profile.
///
/// # Examples
///
/// ```
/// use codex_profiles::{FileWrites, SecurityProfile};
///
/// let capabilities = SecurityProfile::WorkspaceNet.capabilities();
/// assert!(capabilities.network && capabilities.write && !capabilities.full_write);
/// assert_eq!(capabilities.file_writes, FileWrites::WorkspaceAndTemp);
/// assert_eq!(
///     serde_json::to_string(&capabilities)?,
///     r#"{"network":true,"write":true,"full_write":false,"file_writes":"workspace-and-temp"}"#
/// );
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct Capabilities {
    /// Network allowed ([`SecurityProfile::allows_network`]).
    pub network: bool,
    /// Some writes allowed ([`SecurityProfile::allows_write`]).
    pub write: bool,
    /// Writes allowed everywhere ([`SecurityProfile::allows_full_write`]).
    pub full_write: bool,
    /// Where writes are allowed, in words.
    pub file_writes: FileWrites,
}

/// Where a profile lets child processes write.
///
/// # Examples
///
/// ```
/// use codex_profiles::{FileWrites, SecurityProfile};
///
/// let writes = SecurityProfile::Workspace.capabilities().file_writes;
/// assert_eq!(writes, FileWrites::WorkspaceAndTemp);
/// assert_eq!(writes.to_string(), "workspace and temp dirs only");
/// assert_eq!(SecurityProfile::Offline.capabilities().file_writes, FileWrites::None);
/// assert_eq!(serde_json::to_string(&FileWrites::Anywhere)?, r#""anywhere""#);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FileWrites {
    /// Nowhere.
    None,
    /// In the working directory, configured roots, `/tmp` and `$TMPDIR`.
    WorkspaceAndTemp,
    /// Anywhere the user could.
    Anywhere,
}

impl fmt::Display for FileWrites {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::WorkspaceAndTemp => "workspace and temp dirs only",
            Self::Anywhere => "anywhere",
        })
    }
}

impl fmt::Display for SecurityProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not one of the five profiles. Its message lists them,
/// after a "did you mean" when one is a likely typo of the name.
///
/// ```
/// use codex_profiles::SecurityProfile;
///
/// let err = "Workspace".parse::<SecurityProfile>().unwrap_err();
/// assert_eq!(err.name(), "Workspace");
/// assert_eq!(
///     err.to_string(),
///     "unknown security profile \"Workspace\"; did you mean `workspace`? valid profiles: \
///      offline, net-read-only, workspace, workspace-net, trusted"
/// );
/// // Nothing close: no guess.
/// let err = "bogus".parse::<SecurityProfile>().unwrap_err();
/// assert!(!err.to_string().contains("did you mean"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownProfile(String);

impl fmt::Display for UnknownProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown security profile {:?}; ", self.0)?;
        let names = SecurityProfile::ALL.map(SecurityProfile::as_str);
        if let Some(best) = codex_policy_model::closest_name(&self.0, &names) {
            write!(f, "did you mean `{best}`? ")?;
        }
        write!(f, "valid profiles: {}", names.join(", "))
    }
}

impl std::error::Error for UnknownProfile {}

impl UnknownProfile {
    pub(crate) fn new(name: &str) -> Self {
        Self(name.to_owned())
    }

    /// The name given.
    pub fn name(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecurityProfile {
    type Err = UnknownProfile;

    /// Parses the exact kebab-case name; anything else is refused, never guessed.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|profile| profile.as_str() == name)
            .ok_or_else(|| UnknownProfile(name.to_owned()))
    }
}

/// Codex's command-line presets, each a profile and perhaps an approval
/// policy.
///
/// # Examples
///
/// `--full-auto` chooses both a profile and an approval policy, which a
/// [`ProfileResolver`](crate::ProfileResolver) records as the flag's choice:
///
/// ```
/// use codex_policy_model::ApprovalPolicy;
/// use codex_profiles::{Preset, ProfileChoice, ProfileResolver, SecurityProfile};
///
/// let preset = Preset::FullAuto;
/// let resolved = ProfileResolver::new()
///     .environment(|_| None)
///     .choice(Some(ProfileChoice::Security(preset.profile())), preset.flag())
///     .approval(preset.approval(), preset.flag())
///     .resolve()?;
/// assert_eq!(resolved.profile, SecurityProfile::Workspace);
/// assert_eq!(resolved.approval.policy, ApprovalPolicy::OnFailure);
/// assert_eq!(resolved.source.to_string(), "command line (--full-auto)");
/// # Ok::<(), codex_profiles::ProfileError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preset {
    /// `--sandbox MODE`: `read-only` is `offline`, `workspace-write` is
    /// `workspace` (no network), `danger-full-access` is `trusted`.
    Sandbox(SandboxMode),
    /// `--full-auto`: `workspace` with `on-failure`.
    FullAuto,
    /// `--dangerously-bypass-approvals-and-sandbox` (`--yolo`): `trusted`
    /// with `never`.
    Yolo,
}

impl Preset {
    /// The profile it chooses.
    pub const fn profile(self) -> SecurityProfile {
        match self {
            Self::Sandbox(SandboxMode::ReadOnly) => SecurityProfile::Offline,
            Self::Sandbox(SandboxMode::WorkspaceWrite) | Self::FullAuto => {
                SecurityProfile::Workspace
            }
            Self::Sandbox(SandboxMode::DangerFullAccess) | Self::Yolo => SecurityProfile::Trusted,
            // A mode this version does not know: the safest profile.
            Self::Sandbox(_) => SecurityProfile::Offline,
        }
    }

    /// The approval policy it chooses, if any.
    pub const fn approval(self) -> Option<codex_policy_model::ApprovalPolicy> {
        match self {
            Self::Sandbox(_) => None,
            Self::FullAuto => Some(codex_policy_model::ApprovalPolicy::OnFailure),
            Self::Yolo => Some(codex_policy_model::ApprovalPolicy::Never),
        }
    }

    /// The flag, as provenance shows it.
    pub const fn flag(self) -> &'static str {
        match self {
            Self::Sandbox(_) => "--sandbox",
            Self::FullAuto => "--full-auto",
            Self::Yolo => "--yolo",
        }
    }
}
