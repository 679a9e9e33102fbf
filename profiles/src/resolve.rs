//! Which profile applies, which approval policy, and which source chose each.
//!
//! Precedence: the caller's explicit choice (the CLI's `--profile`,
//! `--sandbox`, `--full-auto`, `--yolo`) > an active elevation grant >
//! `CODEX_SECURITY_PROFILE` > the nearest `.codex-profile` > `config.toml`
//! (`profile = "name"`, else `sandbox_mode`/`[sandbox]`) > `offline`. The
//! approval policy: the caller's (`-a`, or the named profile it chose) > the
//! `.codex-profile`'s > `config.toml`'s > `on-request`.
//! Every source that is present is read and validated, even when a higher one
//! decides: a broken value is an error naming its source, never skipped. A
//! `.codex-profile` may only restrict what the user would otherwise get.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use codex_policy_model::{
    ApprovalPolicy, CodexConfig, ConfigError, SandboxMode, SandboxPolicy, SourceFile, TrustLevel,
    WorkspaceWriteTable,
};
use serde::Serialize;

use crate::named::{self, NamedProfile};
use crate::project_file::{self, ProjectFile};
use crate::{SecurityProfile, UnknownProfile};

/// Environment variable naming the profile.
pub const PROFILE_ENV: &str = "CODEX_SECURITY_PROFILE";
/// Environment variable naming Codex's home directory (default `~/.codex`).
pub const CODEX_HOME_ENV: &str = "CODEX_HOME";
/// Environment variable naming the user's home directory.
pub const HOME_ENV: &str = "HOME";
/// File name of the configuration inside Codex's home directory.
pub const CONFIG_FILE_NAME: &str = "config.toml";

/// Where a choice came from.
///
/// # Examples
///
/// ```
/// use codex_profiles::{ProfileResolver, ProfileSource, SecurityProfile};
///
/// let dir = tempfile::tempdir()?;
/// let config = dir.path().join("config.toml");
/// std::fs::write(&config, "sandbox_mode = \"workspace-write\"\n")?;
/// let resolved = ProfileResolver::new()
///     .environment(|_| None)
///     .config_file(Some(config.clone()))
///     .resolve()?;
/// assert_eq!(resolved.profile, SecurityProfile::Workspace);
/// assert_eq!(
///     resolved.source,
///     ProfileSource::ConfigFile { path: config.clone(), keys: vec!["sandbox_mode".into()] }
/// );
/// assert_eq!(resolved.source.to_string(), format!("config file {} (sandbox_mode)", config.display()));
/// assert_eq!(serde_json::to_string(&ProfileSource::Default)?, r#"{"kind":"default"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProfileSource {
    /// A command-line flag (`--profile`, `--sandbox`, `--full-auto`, `-a`, …).
    CommandLine {
        /// The flag as given (`--profile review`, `--full-auto`).
        flag: String,
    },
    /// A time-limited elevation grant for the project.
    Elevation {
        /// The project directory the grant is bound to.
        project: PathBuf,
        /// When it expires (RFC 3339).
        expires_at: String,
    },
    /// An environment variable.
    Environment {
        /// The variable's name.
        variable: String,
    },
    /// The nearest `.codex-profile`.
    ProjectFile {
        /// The file.
        path: PathBuf,
        /// Whether it asks for more than the user would otherwise get, allowed
        /// because `config.toml` marks its directory trusted.
        trusted_loosening: bool,
    },
    /// A `config.toml` file.
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The keys that decided (`sandbox.mode`, `profile`, …).
        keys: Vec<String>,
    },
    /// Nothing chose, so the safest default applies.
    Default,
}

impl fmt::Display for ProfileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CommandLine { flag } => write!(f, "command line ({flag})"),
            Self::Elevation {
                project,
                expires_at,
            } => write!(
                f,
                "elevation granted for {} until {expires_at}",
                project.display()
            ),
            Self::Environment { variable } => write!(f, "environment ({variable})"),
            Self::ProjectFile {
                path,
                trusted_loosening,
            } => {
                write!(f, "project file {}", path.display())?;
                if *trusted_loosening {
                    f.write_str(" (loosens: its directory is trusted in config.toml)")?;
                }
                Ok(())
            }
            Self::ConfigFile { path, keys } => {
                write!(f, "config file {} ({})", path.display(), keys.join(", "))
            }
            Self::Default => f.write_str("default (nothing else chose)"),
        }
    }
}

/// A profile as named on a command line: a security profile, or a named
/// profile (`[profiles.<name>]` of `config.toml`, or a built-in template).
///
/// # Examples
///
/// ```
/// use codex_profiles::{ProfileChoice, SecurityProfile};
///
/// let choice: ProfileChoice = "workspace-net".parse()?;
/// assert_eq!(choice, ProfileChoice::Security(SecurityProfile::WorkspaceNet));
/// // Any other plausible name is a named profile, resolved later.
/// assert_eq!("ci".parse::<ProfileChoice>()?, ProfileChoice::Named("ci".into()));
/// assert!("no such profile!".parse::<ProfileChoice>().is_err());
/// assert_eq!(choice.to_string(), "workspace-net");
/// # Ok::<(), codex_profiles::UnknownProfile>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum ProfileChoice {
    /// One of the five security profiles.
    Security(SecurityProfile),
    /// A named profile, resolved against `config.toml` and the templates.
    Named(String),
}

impl std::str::FromStr for ProfileChoice {
    type Err = UnknownProfile;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        if let Ok(profile) = name.parse() {
            return Ok(Self::Security(profile));
        }
        let plausible = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if plausible {
            Ok(Self::Named(name.to_owned()))
        } else {
            Err(UnknownProfile::new(name))
        }
    }
}

impl fmt::Display for ProfileChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Security(profile) => profile.fmt(f),
            Self::Named(name) => f.write_str(name),
        }
    }
}

/// A profile offered by a source that lost to a higher-precedence one.
///
/// # Examples
///
/// ```
/// use std::ffi::OsString;
/// use codex_profiles::{OverriddenChoice, ProfileResolver, ProfileSource, SecurityProfile};
///
/// let env = |key: &str| (key == "CODEX_SECURITY_PROFILE").then(|| OsString::from("workspace"));
/// let resolved = ProfileResolver::new()
///     .environment(env)
///     .command_line(Some(SecurityProfile::Offline))
///     .resolve()?;
/// assert_eq!(resolved.profile, SecurityProfile::Offline);
/// let [OverriddenChoice { profile, source, .. }] = resolved.overridden.as_slice() else {
///     panic!("{:?}", resolved.overridden);
/// };
/// assert_eq!(*profile, SecurityProfile::Workspace);
/// assert_eq!(source.to_string(), "environment (CODEX_SECURITY_PROFILE)");
/// assert!(matches!(source, ProfileSource::Environment { .. }));
/// # Ok::<(), codex_profiles::ProfileError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OverriddenChoice {
    /// The profile it offered.
    pub profile: SecurityProfile,
    /// The source that offered it.
    pub source: ProfileSource,
}

/// The approval policy that applies and where it came from.
///
/// # Examples
///
/// ```
/// use codex_policy_model::ApprovalPolicy;
/// use codex_profiles::{ProfileChoice, ProfileResolver};
///
/// // `--profile ci`: the built-in template sets the approval policy.
/// let resolved = ProfileResolver::new()
///     .environment(|_| None)
///     .choice(Some("ci".parse::<ProfileChoice>()?), "--profile")
///     .resolve()?;
/// let approval = resolved.approval;
/// assert_eq!(approval.policy, ApprovalPolicy::Never);
/// assert_eq!(approval.key.as_deref(), Some("template ci.approval_policy"));
/// assert_eq!(approval.to_string(), "command line (--profile ci), template ci.approval_policy");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ApprovalChoice {
    /// The policy.
    pub policy: ApprovalPolicy,
    /// The source that chose it.
    pub source: ProfileSource,
    /// The key inside that source (`profiles.ci.approval_policy`), if any.
    pub key: Option<String>,
}

impl fmt::Display for ApprovalChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)?;
        if let Some(key) = &self.key {
            write!(f, ", {key}")?;
        }
        Ok(())
    }
}

/// An elevation grant in force for the project, as the caller found it.
///
/// # Examples
///
/// An active grant from the [`ElevationStore`](crate::ElevationStore),
/// handed to the resolver: it outranks the environment.
///
/// ```
/// # use std::ffi::OsString;
/// # use std::time::{Duration, SystemTime};
/// use codex_profiles::{ActiveElevation, ElevationStore, GrantStatus, ProfileResolver, SecurityProfile};
///
/// # let codex_home = tempfile::tempdir()?;
/// # let project = codex_home.path().join("project");
/// let store = ElevationStore::open(codex_home.path())?;
/// let now = SystemTime::now();
/// store.grant(&project, SecurityProfile::Trusted, Duration::from_secs(900), "deploy fix", now)?;
/// let GrantStatus::Active(grant) = store.lookup(&project, now)? else { panic!("no active grant") };
/// let elevation = ActiveElevation::from(&grant);
/// assert_eq!(elevation.expires_at, now + Duration::from_secs(900));
///
/// let resolved = ProfileResolver::new()
///     .environment(|key| (key == "CODEX_SECURITY_PROFILE").then(|| OsString::from("offline")))
///     .elevation(Some(elevation))
///     .resolve()?;
/// assert_eq!(resolved.profile, SecurityProfile::Trusted);
/// assert!(resolved.source.to_string().starts_with("elevation granted for "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActiveElevation {
    /// The profile granted.
    pub profile: SecurityProfile,
    /// The project it is bound to.
    pub project: PathBuf,
    /// When it expires.
    pub expires_at: std::time::SystemTime,
}

impl From<&crate::Grant> for ActiveElevation {
    fn from(grant: &crate::Grant) -> Self {
        Self {
            profile: grant.profile,
            project: grant.project.clone(),
            expires_at: grant.expires_at,
        }
    }
}

/// The outcome of resolution.
///
/// # Examples
///
/// With nothing configured, the safest profile applies:
///
/// ```
/// use codex_policy_model::{ApprovalPolicy, SandboxPolicy};
/// use codex_profiles::{ProfileResolver, ProfileSource, SecurityProfile};
///
/// let resolved = ProfileResolver::new().environment(|_| None).resolve()?;
/// assert_eq!(resolved.profile, SecurityProfile::Offline);
/// assert_eq!(resolved.source, ProfileSource::Default);
/// assert_eq!(resolved.sandbox_policy, SandboxPolicy::read_only());
/// assert_eq!(resolved.approval.policy, ApprovalPolicy::OnRequest);
/// assert_eq!(resolved.permissions, "offline");
/// assert!(resolved.config_file.is_none() && resolved.overridden.is_empty());
/// # Ok::<(), codex_profiles::ProfileError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResolvedProfile {
    /// The profile that applies.
    pub profile: SecurityProfile,
    /// The source that chose it.
    pub source: ProfileSource,
    /// The named profile (config table or template) that chose it, with the
    /// chain of `extends` that produced it.
    pub named: Option<NamedProfile>,
    /// The sandbox policy: the profile's, with the `[sandbox_workspace_write]`
    /// settings that apply (the named profile's, else `config.toml`'s) when
    /// the mode is `workspace-write`.
    pub sandbox_policy: SandboxPolicy,
    /// The approval policy and its source.
    pub approval: ApprovalChoice,
    /// The name whose `[permissions.<name>.network]` table applies.
    pub permissions: String,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// The `.codex-profile` that was read, if any.
    pub project_file: Option<PathBuf>,
    /// Lower-precedence choices that were present but lost.
    pub overridden: Vec<OverriddenChoice>,
}

/// Why no profile could be resolved.
///
/// # Examples
///
/// ```
/// use std::ffi::OsString;
/// use codex_profiles::{ProfileError, ProfileResolver};
///
/// // Profile names are exact: `Workspace` is not `workspace`.
/// let env = |key: &str| (key == "CODEX_SECURITY_PROFILE").then(|| OsString::from("Workspace"));
/// let err = ProfileResolver::new().environment(env).resolve().unwrap_err();
/// assert!(matches!(err, ProfileError::InvalidEnvironment { variable: "CODEX_SECURITY_PROFILE", .. }));
/// assert!(err.to_string().starts_with(
///     r#"environment variable CODEX_SECURITY_PROFILE: unknown security profile "Workspace""#
/// ));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// An environment variable holds something that is not a profile name.
    #[error("environment variable {variable}: {source}")]
    InvalidEnvironment {
        /// The variable's name.
        variable: &'static str,
        /// What was wrong with its value.
        #[source]
        source: UnknownProfile,
    },
    /// An environment variable is set but empty or not UTF-8.
    #[error("environment variable {variable} is set but {problem}; unset it or {fix}")]
    UnusableEnvironment {
        /// The variable's name.
        variable: &'static str,
        /// `empty` or `not valid UTF-8`.
        problem: &'static str,
        /// What to set instead.
        fix: &'static str,
    },
    /// `CODEX_HOME` (or `HOME`, when it decides) is a relative path: Codex's
    /// home would move with whatever directory a command starts in.
    #[error(
        "environment variable {variable} is the relative path {value:?}; Codex's home \
         would depend on the directory a command starts in; set it to an absolute path"
    )]
    RelativeHome {
        /// The variable's name (`CODEX_HOME` or `HOME`).
        variable: &'static str,
        /// Its value.
        value: PathBuf,
    },
    /// A file is broken (located: file, line, column, key).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The config file asks for a mode and network combination no profile has.
    #[error(
        "{}: sandbox mode {mode} with network_access = {network_access} matches no \
         security profile",
        path.display()
    )]
    NoMatchingProfile {
        /// The config file.
        path: PathBuf,
        /// The mode it asks for.
        mode: SandboxMode,
        /// The network switch it asks for.
        network_access: bool,
    },
    /// A name that is neither a security profile, nor a template, nor a
    /// `[profiles.<name>]` table.
    #[error("unknown profile {name:?}; {known}")]
    UnknownName {
        /// The name.
        name: String,
        /// The names that exist (`profiles: offline, …`), after a `did you
        /// mean` hint when one of them is a likely typo of `name`.
        known: String,
    },
    /// A `.codex-profile` that is a symbolic link.
    #[error(
        "{}: is a symbolic link; a .codex-profile must be a regular file of its own \
         directory",
        path.display()
    )]
    ProjectFileLink {
        /// The file.
        path: PathBuf,
    },
    /// A `.codex-profile` with more than one hard link.
    #[error(
        "{}: has other hard links; a .codex-profile must be a file of its own directory, \
         with no other name",
        path.display()
    )]
    ProjectFileHardLinked {
        /// The file.
        path: PathBuf,
    },
    /// A `[profiles.<name>]` named like a security profile: `--profile
    /// offline` and `extends = "offline"` would mean different things.
    #[error(
        "{}: [profiles.{name}] has the name of a security profile; rename the table (the \
         security profile {name} cannot be redefined)",
        path.display()
    )]
    ShadowingProfile {
        /// The config file.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// A `.codex-profile` (or the directory holding it) that cannot be read.
    #[error("{}: cannot read: {source}", path.display())]
    ProjectFileUnreadable {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
}

impl ProfileError {
    /// The environment variable at fault, when the error is one's (not a
    /// file's): a caller that reports files' problems as findings still
    /// refuses these.
    ///
    /// ```
    /// use std::ffi::OsString;
    /// use codex_profiles::ProfileResolver;
    ///
    /// let env = |key: &str| (key == "CODEX_HOME").then(|| OsString::new());
    /// let err = ProfileResolver::new().environment(env).resolve().unwrap_err();
    /// assert_eq!(err.variable(), Some("CODEX_HOME"));
    /// ```
    pub fn variable(&self) -> Option<&'static str> {
        match self {
            Self::InvalidEnvironment { variable, .. }
            | Self::UnusableEnvironment { variable, .. }
            | Self::RelativeHome { variable, .. } => Some(variable),
            _ => None,
        }
    }
}

/// Collects the inputs of profile resolution, then resolves them.
///
/// ```
/// use codex_profiles::{ProfileResolver, SecurityProfile};
///
/// let resolved = ProfileResolver::new()
///     .command_line(Some(SecurityProfile::Workspace))
///     .environment(|_| None)
///     .resolve()?;
/// assert_eq!(resolved.profile, SecurityProfile::Workspace);
/// assert_eq!(resolved.approval.policy.as_str(), "on-request");
/// # Ok::<(), codex_profiles::ProfileError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ProfileResolver {
    command_line: Option<(ProfileChoice, String)>,
    approval: Option<(ApprovalPolicy, String)>,
    elevation: Option<ActiveElevation>,
    profile_env: Option<OsString>,
    codex_home: Option<OsString>,
    home: Option<OsString>,
    tmpdir: Option<OsString>,
    explicit_config: Option<PathBuf>,
    project_dir: Option<PathBuf>,
}

/// One source's choice while resolving.
#[derive(Debug, Clone)]
struct Layer {
    profile: SecurityProfile,
    source: ProfileSource,
    named: Option<NamedProfile>,
    approval: Option<(ApprovalPolicy, Option<String>)>,
}

impl Layer {
    fn plain(profile: SecurityProfile, source: ProfileSource) -> Self {
        Self {
            profile,
            source,
            named: None,
            approval: None,
        }
    }
}

impl ProfileResolver {
    /// A resolver with no inputs: it resolves to the default profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// The profile the caller was given explicitly (the CLI's `--profile`),
    /// if any: it outranks every other source.
    pub fn command_line(self, profile: Option<SecurityProfile>) -> Self {
        self.choice(profile.map(ProfileChoice::Security), "--profile")
    }

    /// The profile the caller was given explicitly, security or named, and
    /// the flag that gave it (`--profile`, `--sandbox`, `--yolo`).
    pub fn choice(mut self, choice: Option<ProfileChoice>, flag: &str) -> Self {
        self.command_line = choice.map(|choice| {
            let flag = match &choice {
                ProfileChoice::Named(name) if flag == "--profile" => format!("--profile {name}"),
                _ => flag.to_owned(),
            };
            (choice, flag)
        });
        self
    }

    /// The approval policy the caller was given explicitly (`-a`, or a
    /// preset such as `--full-auto`), and the flag that gave it.
    pub fn approval(mut self, policy: Option<ApprovalPolicy>, flag: &str) -> Self {
        self.approval = policy.map(|p| (p, flag.to_owned()));
        self
    }

    /// An elevation grant in force for the project: it outranks every
    /// source but the caller's explicit choice.
    pub fn elevation(mut self, grant: Option<ActiveElevation>) -> Self {
        self.elevation = grant;
        self
    }

    /// The directory commands run in: the nearest `.codex-profile` from
    /// there (up to the repository's top or `$HOME`) takes part.
    pub fn project_dir(mut self, dir: Option<PathBuf>) -> Self {
        self.project_dir = dir;
        self
    }

    /// Reads `CODEX_SECURITY_PROFILE`, `CODEX_HOME`, `HOME` and `TMPDIR`
    /// through `lookup` (pass `|k| std::env::var_os(k)` for the process
    /// environment).
    pub fn environment(mut self, lookup: impl Fn(&str) -> Option<OsString>) -> Self {
        self.profile_env = lookup(PROFILE_ENV);
        self.codex_home = lookup(CODEX_HOME_ENV);
        self.home = lookup(HOME_ENV);
        self.tmpdir = lookup("TMPDIR");
        self
    }

    /// Uses this `config.toml` instead of the default location; it must exist.
    pub fn config_file(mut self, path: Option<PathBuf>) -> Self {
        self.explicit_config = path;
        self
    }

    /// The config file that will be read: the explicit one, else
    /// `$CODEX_HOME/config.toml`, else `$HOME/.codex/config.toml`. The flag says
    /// whether the file must exist (only an explicit one must).
    ///
    /// # Errors
    ///
    /// Without an explicit file: [`ProfileError::UnusableEnvironment`] when
    /// `CODEX_HOME`, or `HOME` when it decides, is set but empty;
    /// [`ProfileError::RelativeHome`] when
    /// `CODEX_HOME`, or `HOME` when it decides, is a relative path.
    pub fn config_location(&self) -> Result<Option<(PathBuf, bool)>, ProfileError> {
        if let Some(path) = &self.explicit_config {
            return Ok(Some((path.clone(), true)));
        }
        let home = codex_home_from(self.codex_home.as_deref(), self.home.as_deref())?;
        Ok(home.map(|home| (home.join(CONFIG_FILE_NAME), false)))
    }

    /// Reads every source present and returns the highest-precedence choice.
    ///
    /// # Errors
    ///
    /// [`ProfileError::UnusableEnvironment`], [`ProfileError::InvalidEnvironment`]
    /// or [`ProfileError::RelativeHome`] for an unusable `CODEX_SECURITY_PROFILE`,
    /// `CODEX_HOME` or `HOME`; [`ProfileError::UnknownName`] for a profile named
    /// by the caller that does not exist; [`ProfileError::Config`] for a missing
    /// explicit config file, or a `config.toml` or `.codex-profile` that cannot be
    /// read or is invalid, including a `.codex-profile` asking for more than it
    /// may; [`ProfileError::ShadowingProfile`] or
    /// [`ProfileError::NoMatchingProfile`] for a `config.toml` that redefines a
    /// security profile or asks for a mode and network no profile has;
    /// [`ProfileError::ProjectFileLink`], [`ProfileError::ProjectFileHardLinked`]
    /// or [`ProfileError::ProjectFileUnreadable`] for a `.codex-profile` that is a
    /// symbolic link, has other hard links or cannot be read.
    ///
    /// ```
    /// use std::ffi::OsString;
    /// use codex_profiles::{ProfileResolver, ProfileSource, SecurityProfile};
    ///
    /// let home = tempfile::tempdir()?;
    /// let env = |key: &str| match key {
    ///     "HOME" => Some(OsString::from(home.path())),
    ///     "CODEX_SECURITY_PROFILE" => Some(OsString::from("workspace")),
    ///     _ => None,
    /// };
    /// // The environment chooses, and the result says so.
    /// let resolved = ProfileResolver::new().environment(env).resolve()?;
    /// assert_eq!(resolved.profile, SecurityProfile::Workspace);
    /// assert!(matches!(resolved.source, ProfileSource::Environment { .. }));
    ///
    /// // A flag wins over the environment.
    /// let resolved = ProfileResolver::new()
    ///     .environment(env)
    ///     .command_line(Some(SecurityProfile::Offline))
    ///     .resolve()?;
    /// assert_eq!(resolved.profile, SecurityProfile::Offline);
    /// assert!(matches!(resolved.source, ProfileSource::CommandLine { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resolve(self) -> Result<ResolvedProfile, ProfileError> {
        let config = self.load_config()?;
        let config_ref = config.as_ref().map(|(s, c)| (s, c));
        let base = config_layer(config_ref)?;
        let otherwise = base
            .clone()
            .unwrap_or_else(|| Layer::plain(SecurityProfile::default(), ProfileSource::Default));

        let mut layers: Vec<Layer> = Vec::new();
        if let Some((choice, flag)) = &self.command_line {
            let source = ProfileSource::CommandLine { flag: flag.clone() };
            layers.push(choice_layer(choice, source, config_ref, otherwise.profile)?);
        }
        if let Some(grant) = &self.elevation {
            layers.push(Layer::plain(
                grant.profile,
                ProfileSource::Elevation {
                    project: grant.project.clone(),
                    expires_at: format_time(grant.expires_at),
                },
            ));
        }
        if let Some(value) = &self.profile_env {
            layers.push(Layer::plain(
                parse_profile_env(value)?,
                ProfileSource::Environment {
                    variable: PROFILE_ENV.to_owned(),
                },
            ));
        }
        let mut project_file = None;
        if let Some(dir) = &self.project_dir {
            let home = self.home.as_deref().map(Path::new);
            // The farthest first: each nearer file may only restrict what
            // the one above it gives (a command may create one in a
            // subdirectory).
            let mut above = otherwise.clone();
            let mut files = Vec::new();
            for path in project_file::find_all(dir, home)?.into_iter().rev() {
                let file = project_file::read(&path)?;
                above = self.project_layer(&file, config_ref, &above, dir)?;
                files.push(above.clone());
                project_file = Some(path);
            }
            // The nearest decides; a farther one still gives the approval
            // policy when the nearer ones name none.
            layers.extend(files.into_iter().rev());
        }
        layers.extend(base);

        let mut layers = layers.into_iter();
        let chosen = layers.next().unwrap_or_else(|| otherwise.clone());
        let rest: Vec<Layer> = layers.collect();
        let approval = match &self.approval {
            Some((policy, flag)) => ApprovalChoice {
                policy: *policy,
                source: ProfileSource::CommandLine { flag: flag.clone() },
                key: None,
            },
            None => std::iter::once(&chosen)
                .chain(&rest)
                .find_map(|layer| {
                    let (policy, key) = layer.approval.clone()?;
                    Some(ApprovalChoice {
                        policy,
                        source: layer.source.clone(),
                        key,
                    })
                })
                .or_else(|| config_approval(config_ref, chosen.profile.to_sandbox_policy().mode()))
                .unwrap_or(ApprovalChoice {
                    policy: ApprovalPolicy::default(),
                    source: ProfileSource::Default,
                    key: None,
                }),
        };
        let sandbox_policy = layer_policy(&chosen, config_ref);
        let permissions = chosen
            .named
            .as_ref()
            .and_then(|n| n.permissions.clone())
            .unwrap_or_else(|| chosen.profile.to_string());
        Ok(ResolvedProfile {
            profile: chosen.profile,
            source: chosen.source,
            named: chosen.named,
            sandbox_policy,
            approval,
            permissions,
            config_file: config.map(|(source, _)| source.path().to_path_buf()),
            project_file,
            overridden: rest
                .into_iter()
                .map(|layer| OverriddenChoice {
                    profile: layer.profile,
                    source: layer.source,
                })
                .collect(),
        })
    }

    fn load_config(&self) -> Result<Option<(SourceFile, CodexConfig)>, ProfileError> {
        let Some((path, required)) = self.config_location()? else {
            return Ok(None);
        };
        let present = required
            || path.try_exists().map_err(|source| ConfigError::Io {
                path: path.clone(),
                source,
            })?;
        if !present {
            return Ok(None);
        }
        let (source, config) = CodexConfig::load(&path)?;
        if let Some(name) = config
            .profiles
            .keys()
            .find(|name| name.parse::<SecurityProfile>().is_ok())
        {
            return Err(ProfileError::ShadowingProfile {
                path,
                name: name.clone(),
            });
        }
        Ok(Some((source, config)))
    }

    /// The `.codex-profile`'s choice, refused when it asks for more than
    /// `otherwise` unless its directory is trusted and the command could
    /// not have written it.
    fn project_layer(
        &self,
        file: &ProjectFile,
        config: Option<(&SourceFile, &CodexConfig)>,
        otherwise: &Layer,
        cwd: &Path,
    ) -> Result<Layer, ProfileError> {
        let (name, span) = &file.name;
        let source = ProfileSource::ProjectFile {
            path: file.source.path().to_path_buf(),
            trusted_loosening: false,
        };
        let choice: ProfileChoice = name.parse().map_err(|_| {
            file.source.error(
                Some(span.clone()),
                Some("profile".into()),
                format!("{name:?} is not a profile name"),
                None,
            )
        })?;
        let mut layer =
            choice_layer(&choice, source, config, otherwise.profile).map_err(|err| match err {
                ProfileError::UnknownName { name, known } => file
                    .source
                    .error(
                        Some(span.clone()),
                        Some("profile".into()),
                        format!("unknown profile {name:?}"),
                        Some(known),
                    )
                    .into(),
                other => other,
            })?;
        if let Some((policy, _)) = &file.approval {
            layer.approval = Some((*policy, Some("approval".into())));
        }
        let Some(looser) = looser_than(&layer, otherwise, config) else {
            return Ok(layer);
        };
        let trusted = trusted_directory(file.source.path(), config);
        let at = file
            .approval
            .as_ref()
            .filter(|_| looser.starts_with("approval"));
        let at = at.map_or(span.clone(), |(_, s)| s.clone());
        if !trusted {
            return Err(file
                .source
                .error(
                    Some(at),
                    Some("profile".into()),
                    format!(
                        "asks for more than you would otherwise get ({}): {looser}; a \
                         .codex-profile may only restrict",
                        otherwise.source
                    ),
                    Some(format!(
                        "ask for a profile within {} (approval {}), or mark the directory \
                         trusted in config.toml: [projects.\"{}\"] trust_level = \"trusted\"",
                        otherwise.profile,
                        layer_approval(otherwise, config),
                        file.source
                            .path()
                            .parent()
                            .unwrap_or(Path::new("/"))
                            .display()
                    )),
                )
                .into());
        }
        // Trusted: still refused when a command of the policy it grants could
        // have rewritten it (it would choose its own next policy).
        let policy = layer_policy(&layer, config);
        if let (Ok(real), Ok(roots)) = (
            std::fs::canonicalize(file.source.path()),
            policy.writable_roots(cwd, self.tmpdir.as_deref()),
        ) && (policy.has_full_disk_write_access()
            || roots.roots.iter().any(|r| r.allows_write_to(&real)))
        {
            return Err(file
                .source
                .error(
                    Some(at),
                    Some("profile".into()),
                    format!(
                        "asks for more than you would otherwise get ({looser}), and the \
                         commands it would run could rewrite it: a trusted directory's \
                         .codex-profile must lie outside what they may write"
                    ),
                    Some(
                        "keep it at the top of the working directory (where it stays \
                         read-only), or choose the profile on the command line"
                            .into(),
                    ),
                )
                .into());
        }
        if let ProfileSource::ProjectFile {
            trusted_loosening, ..
        } = &mut layer.source
        {
            *trusted_loosening = true;
        }
        Ok(layer)
    }
}

/// The choice `config.toml` makes: `profile = "name"` (a named profile),
/// else its sandbox keys; with its approval policy.
fn config_layer(
    config: Option<(&SourceFile, &CodexConfig)>,
) -> Result<Option<Layer>, ProfileError> {
    let Some((source, config)) = config else {
        return Ok(None);
    };
    let path = source.path().to_path_buf();
    let top = match config.configured_sandbox(source)? {
        Some(chosen) => {
            let profile = SecurityProfile::from_mode(chosen.mode, chosen.network_access)
                .ok_or_else(|| ProfileError::NoMatchingProfile {
                    path: path.clone(),
                    mode: chosen.mode,
                    network_access: chosen.network_access,
                })?;
            let keys = std::iter::once(chosen.mode_key)
                .chain(chosen.network_key)
                .collect();
            Some((profile, keys))
        }
        None => None,
    };
    let layer = if let Some(name) = &config.profile {
        let fallback = top.as_ref().map_or(SecurityProfile::default(), |t| t.0);
        let source_of = |keys: Vec<String>| ProfileSource::ConfigFile {
            path: path.clone(),
            keys,
        };
        let choice: Option<ProfileChoice> = name.get_ref().parse().ok();
        match choice {
            Some(ProfileChoice::Security(profile))
                if !config.profiles.contains_key(name.get_ref()) =>
            {
                Layer::plain(profile, source_of(vec!["profile".into()]))
            }
            _ => {
                let named = named::resolve(name.get_ref(), Some((source, config)), fallback)
                    .map_err(|err| match err {
                        ProfileError::UnknownName { name: n, known } => source
                            .error(
                                Some(name.span()),
                                Some("profile".into()),
                                format!(
                                    "profile {n:?} has no [profiles.{n}] table and is no template"
                                ),
                                Some(known),
                            )
                            .into(),
                        other => other,
                    })?;
                Layer {
                    profile: named.profile,
                    source: source_of(vec!["profile".into(), named.profile_key.clone()]),
                    approval: named.approval.clone().map(|(p, k)| (p, Some(k))),
                    named: Some(named),
                }
            }
        }
    } else if let Some((profile, keys)) = top {
        Layer::plain(
            profile,
            ProfileSource::ConfigFile {
                path: path.clone(),
                keys,
            },
        )
    } else {
        return Ok(None);
    };
    Ok(Some(layer))
}

/// The approval policy `config.toml` sets for a profile of `mode` outside
/// named profiles: the mode's table (`[sandbox_workspace_write]
/// ask_for_approval`), else the top-level `approval_policy`.
fn config_approval(
    config: Option<(&SourceFile, &CodexConfig)>,
    mode: SandboxMode,
) -> Option<ApprovalChoice> {
    let (source, config) = config?;
    let table = match mode {
        SandboxMode::WorkspaceWrite => config
            .sandbox_workspace_write
            .as_ref()
            .and_then(|t| t.ask_for_approval)
            .map(|p| (p, "sandbox_workspace_write.ask_for_approval")),
        SandboxMode::ReadOnly => config
            .sandbox_read_only
            .as_ref()
            .and_then(|t| t.ask_for_approval)
            .map(|p| (p, "sandbox_read_only.ask_for_approval")),
        _ => None,
    };
    let top = config
        .approval_policy
        .as_ref()
        .map(|p| (*p.get_ref(), "approval_policy"));
    let (policy, key) = table.or(top)?;
    Some(ApprovalChoice {
        policy,
        source: ProfileSource::ConfigFile {
            path: source.path().to_path_buf(),
            keys: vec![key.to_owned()],
        },
        key: None,
    })
}

/// The layer of a profile named by `source` (command line or `.codex-profile`).
fn choice_layer(
    choice: &ProfileChoice,
    source: ProfileSource,
    config: Option<(&SourceFile, &CodexConfig)>,
    fallback: SecurityProfile,
) -> Result<Layer, ProfileError> {
    match choice {
        ProfileChoice::Security(profile) => Ok(Layer::plain(*profile, source)),
        ProfileChoice::Named(name) => {
            let named = named::resolve(name, config, fallback)?;
            Ok(Layer {
                profile: named.profile,
                approval: named.approval.clone().map(|(p, k)| (p, Some(k))),
                named: Some(named),
                source,
            })
        }
    }
}

/// The sandbox policy of a layer: its profile's, with the workspace settings
/// of its named profile, else of `config.toml`.
fn layer_policy(layer: &Layer, config: Option<(&SourceFile, &CodexConfig)>) -> SandboxPolicy {
    let config = config.map(|(_, c)| c);
    let named = layer
        .named
        .as_ref()
        .and_then(|n| n.workspace_settings_of.as_ref())
        .and_then(|name| config?.profiles.get(name)?.sandbox_workspace_write.as_ref());
    let table = named.or_else(|| config?.sandbox_workspace_write.as_ref());
    let policy = layer.profile.to_sandbox_policy();
    match table {
        Some(table) => apply_workspace_settings(table, policy),
        None => policy,
    }
}

/// `[sandbox_workspace_write]` settings applied to a `workspace-write`
/// policy; other policies are returned unchanged.
fn apply_workspace_settings(table: &WorkspaceWriteTable, policy: SandboxPolicy) -> SandboxPolicy {
    let SandboxPolicy::WorkspaceWrite { network_access, .. } = policy else {
        return policy;
    };
    SandboxPolicy::WorkspaceWrite {
        writable_roots: table
            .writable_roots
            .iter()
            .map(|r| r.get_ref().clone())
            .collect(),
        network_access,
        exclude_tmpdir_env_var: table.exclude_tmpdir_env_var,
        exclude_slash_tmp: table.exclude_slash_tmp,
    }
}

/// What `layer` allows beyond `otherwise`, in words; `None` when it stays
/// within (profile, writable roots, network rules, approval).
fn looser_than(
    layer: &Layer,
    otherwise: &Layer,
    config: Option<(&SourceFile, &CodexConfig)>,
) -> Option<String> {
    if !layer.profile.is_within(otherwise.profile) {
        return Some(format!(
            "profile {} allows more than {}",
            layer.profile, otherwise.profile
        ));
    }
    let (asked, given) = (layer_policy(layer, config), layer_policy(otherwise, config));
    if let (
        SandboxPolicy::WorkspaceWrite {
            writable_roots: asked_roots,
            exclude_tmpdir_env_var: asked_tmpdir,
            exclude_slash_tmp: asked_tmp,
            ..
        },
        SandboxPolicy::WorkspaceWrite {
            writable_roots: given_roots,
            exclude_tmpdir_env_var: given_tmpdir,
            exclude_slash_tmp: given_tmp,
            ..
        },
    ) = (&asked, &given)
    {
        if let Some(extra) = asked_roots
            .iter()
            .find(|root| !given_roots.iter().any(|g| root.starts_with(g)))
        {
            return Some(format!(
                "writable root {} is not granted otherwise",
                extra.display()
            ));
        }
        if (*given_tmpdir && !asked_tmpdir) || (*given_tmp && !asked_tmp) {
            return Some("temporary directories excluded otherwise would be writable".into());
        }
    }
    let permissions = |l: &Layer| l.named.as_ref().and_then(|n| n.permissions.clone());
    if let Some(name) = permissions(layer)
        && permissions(otherwise).as_ref() != Some(&name)
        && config.is_some_and(|(_, c)| c.permissions.get(&name).is_some_and(allows_anything))
    {
        return Some(format!("[permissions.{name}.network] allows destinations"));
    }
    if let Some(why) = reads_more(layer, otherwise, config) {
        return Some(why);
    }
    // A file that names no approval policy keeps the one above it.
    let given = layer_approval(otherwise, config);
    let asked = layer.approval.as_ref().map_or(given, |a| a.0);
    if asked.asks_less_than(given) {
        return Some(format!("approval {asked} asks less than {given}"));
    }
    None
}

/// What `layer`'s `[permissions.<name>.filesystem]` shows that `otherwise`'s
/// hides: an `allow_read` the other lacks, or a `deny_read` of the other it
/// drops. Entries are compared as written (`~/.aws/` and `~/.aws` alike).
fn reads_more(
    layer: &Layer,
    otherwise: &Layer,
    config: Option<(&SourceFile, &CodexConfig)>,
) -> Option<String> {
    let (_, config) = config?;
    let name = |l: &Layer| {
        l.named
            .as_ref()
            .and_then(|n| n.permissions.clone())
            .unwrap_or_else(|| l.profile.to_string())
    };
    let (asked, given) = (name(layer), name(otherwise));
    if asked == given {
        return None;
    }
    let entries = |name: &str, deny: bool| -> Vec<codex_policy_model::ReadPath> {
        config
            .permissions
            .get(name)
            .and_then(|p| p.filesystem.as_ref())
            .map(|f| if deny { &f.deny_read } else { &f.allow_read })
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.get_ref().parse().ok())
            .collect()
    };
    let given_allow = entries(&given, false);
    if let Some(extra) = entries(&asked, false)
        .into_iter()
        .find(|p| !given_allow.contains(p))
    {
        return Some(format!(
            "[permissions.{asked}.filesystem] allow_read shows {extra}, which is hidden otherwise"
        ));
    }
    let asked_deny = entries(&asked, true);
    entries(&given, true)
        .into_iter()
        .find(|p| !asked_deny.contains(p))
        .map(|missing| {
            format!(
                "[permissions.{asked}.filesystem] does not hide {missing}, which \
                 [permissions.{given}.filesystem] deny_read hides"
            )
        })
}

/// The approval policy a layer comes with when nothing above it sets one.
fn layer_approval(layer: &Layer, config: Option<(&SourceFile, &CodexConfig)>) -> ApprovalPolicy {
    layer
        .approval
        .as_ref()
        .map(|a| a.0)
        .or_else(|| {
            config_approval(config, layer.profile.to_sandbox_policy().mode()).map(|a| a.policy)
        })
        .unwrap_or_default()
}

/// Whether a `[permissions.<name>]` table lets anything through: an allowed
/// domain or socket.
fn allows_anything(table: &codex_policy_model::PermissionsProfile) -> bool {
    table.network.as_ref().is_some_and(|n| {
        n.dangerously_allow_all_unix_sockets
            || n.domains.as_ref().is_some_and(|d| {
                d.get_ref()
                    .values()
                    .any(|r| *r.get_ref() == codex_policy_model::DomainRule::Allow)
            })
            || n.unix_sockets.as_ref().is_some_and(|u| {
                u.get_ref()
                    .values()
                    .any(|r| *r.get_ref() == codex_policy_model::SocketRule::Allow)
            })
    })
}

/// Whether `config.toml` marks the directory holding `file` trusted (Codex's
/// `[projects."<abs path>"] trust_level = "trusted"`; exactly that
/// directory, not an ancestor).
fn trusted_directory(file: &Path, config: Option<(&SourceFile, &CodexConfig)>) -> bool {
    let Some((_, config)) = config else {
        return false;
    };
    let Some(dir) = file.parent().and_then(|d| std::fs::canonicalize(d).ok()) else {
        return false;
    };
    config.projects.iter().any(|(path, table)| {
        table
            .trust_level
            .as_ref()
            .is_some_and(|t| *t.get_ref() == TrustLevel::Trusted)
            // Written as the directory's own real path: a symlink there
            // could be re-pointed later.
            && Path::new(path).is_absolute()
            && std::fs::canonicalize(path).is_ok_and(|p| p == dir && p == Path::new(path))
    })
}

fn parse_profile_env(value: &std::ffi::OsStr) -> Result<SecurityProfile, ProfileError> {
    const FIX: &str = "set one of: offline, net-read-only, workspace, workspace-net, trusted";
    let Some(text) = value.to_str() else {
        return Err(ProfileError::UnusableEnvironment {
            variable: PROFILE_ENV,
            problem: "not valid UTF-8",
            fix: FIX,
        });
    };
    if text.is_empty() {
        return Err(ProfileError::UnusableEnvironment {
            variable: PROFILE_ENV,
            problem: "empty",
            fix: FIX,
        });
    }
    text.parse()
        .map_err(|source| ProfileError::InvalidEnvironment {
            variable: PROFILE_ENV,
            source,
        })
}

/// A time as RFC 3339 UTC to the second (`2026-11-27T21:30:00Z`), as
/// notes and provenance show it.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use codex_profiles::format_time;
///
/// let time = UNIX_EPOCH + Duration::from_millis(1_800_000_000_750);
/// assert_eq!(format_time(time), "2027-01-15T08:00:00Z");
/// ```
pub fn format_time(time: std::time::SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(time).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Codex's home directory: `$CODEX_HOME`, else `$HOME/.codex`; `None` when
/// neither is set. An empty `CODEX_HOME`, or an empty `HOME` when it
/// decides, is an error, not a fallback; so is a relative `CODEX_HOME`, or a
/// relative `HOME` when it decides ([`ProfileError::RelativeHome`]). This is the one place that finds Codex's
/// home: config.toml, the audit log and file discovery all use it. Pass
/// `|k| std::env::var_os(k)` for the process environment.
///
/// # Examples
///
/// ```
/// use std::ffi::OsString;
/// use std::path::PathBuf;
/// use codex_profiles::{ProfileError, codex_home};
///
/// let home = codex_home(|key| (key == "HOME").then(|| OsString::from("/home/alice")))?;
/// assert_eq!(home, Some(PathBuf::from("/home/alice/.codex")));
///
/// let env = |key: &str| match key {
///     "CODEX_HOME" => Some(OsString::from("/srv/codex")),
///     "HOME" => Some(OsString::from("/home/alice")),
///     _ => None,
/// };
/// assert_eq!(codex_home(env)?, Some(PathBuf::from("/srv/codex")));
///
/// let err = codex_home(|key| (key == "CODEX_HOME").then(|| OsString::from("codex"))).unwrap_err();
/// assert!(matches!(err, ProfileError::RelativeHome { variable: "CODEX_HOME", .. }));
///
/// // Set but empty is not unset.
/// let err = codex_home(|key| (key == "HOME").then(OsString::new)).unwrap_err();
/// assert!(matches!(err, ProfileError::UnusableEnvironment { variable: "HOME", .. }));
/// assert!(err.to_string().starts_with("environment variable HOME is set but empty"));
/// // An empty HOME does not matter when CODEX_HOME decides.
/// let env = |key: &str| match key {
///     "CODEX_HOME" => Some(OsString::from("/srv/codex")),
///     _ => Some(OsString::new()),
/// };
/// assert_eq!(codex_home(env)?, Some(PathBuf::from("/srv/codex")));
/// # Ok::<(), ProfileError>(())
/// ```
///
/// # Errors
///
/// [`ProfileError::UnusableEnvironment`] when `CODEX_HOME`, or `HOME` when
/// `CODEX_HOME` is unset, is set but empty; [`ProfileError::RelativeHome`]
/// when `CODEX_HOME`, or `HOME` when `CODEX_HOME` is unset, is a relative
/// path.
pub fn codex_home(
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Result<Option<PathBuf>, ProfileError> {
    codex_home_from(
        lookup(CODEX_HOME_ENV).as_deref(),
        lookup(HOME_ENV).as_deref(),
    )
}

fn codex_home_from(
    codex_home: Option<&std::ffi::OsStr>,
    home: Option<&std::ffi::OsStr>,
) -> Result<Option<PathBuf>, ProfileError> {
    if let Some(codex_home) = codex_home {
        if codex_home.is_empty() {
            return Err(ProfileError::UnusableEnvironment {
                variable: CODEX_HOME_ENV,
                problem: "empty",
                fix: "point it at Codex's home directory",
            });
        }
        if !Path::new(codex_home).is_absolute() {
            return Err(ProfileError::RelativeHome {
                variable: CODEX_HOME_ENV,
                value: PathBuf::from(codex_home),
            });
        }
        return Ok(Some(PathBuf::from(codex_home)));
    }
    match home {
        // Set but empty is not unset: `~/.codex` is unknown, not absent.
        Some(home) if home.is_empty() => Err(ProfileError::UnusableEnvironment {
            variable: HOME_ENV,
            problem: "empty",
            fix: "point it at your home directory (or set CODEX_HOME)",
        }),
        Some(home) if !Path::new(home).is_absolute() => Err(ProfileError::RelativeHome {
            variable: HOME_ENV,
            value: PathBuf::from(home),
        }),
        Some(home) => Ok(Some(Path::new(home).join(".codex"))),
        None => Ok(None),
    }
}
