//! Which profile applies, and which source chose it.
//!
//! Precedence: the caller's explicit choice (the CLI's `--profile`) >
//! `CODEX_SECURITY_PROFILE` > `config.toml` > `offline`.
//! Every source that is present is read and validated, even when a higher one
//! decides: a broken value is an error naming its source, never skipped.

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use codex_policy_model::{CodexConfig, ConfigError, SandboxMode, SandboxPolicy};
use serde::Serialize;

use crate::{SecurityProfile, UnknownProfile};

/// Environment variable naming the profile.
pub const PROFILE_ENV: &str = "CODEX_SECURITY_PROFILE";
/// Environment variable naming Codex's home directory (default `~/.codex`).
pub const CODEX_HOME_ENV: &str = "CODEX_HOME";
/// Environment variable naming the user's home directory.
pub const HOME_ENV: &str = "HOME";
/// File name of the configuration inside Codex's home directory.
pub const CONFIG_FILE_NAME: &str = "config.toml";

/// Where a profile choice came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProfileSource {
    /// The `--profile` command-line flag.
    CommandLine,
    /// An environment variable.
    Environment {
        /// The variable's name.
        variable: String,
    },
    /// A `config.toml` file.
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// The keys that decided (`sandbox.mode`, `sandbox.network_access`).
        keys: Vec<String>,
    },
    /// Nothing chose a profile, so the safest one applies.
    Default,
}

impl fmt::Display for ProfileSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CommandLine => f.write_str("command line (--profile)"),
            Self::Environment { variable } => write!(f, "environment ({variable})"),
            Self::ConfigFile { path, keys } => {
                write!(f, "config file {} ({})", path.display(), keys.join(", "))
            }
            Self::Default => f.write_str("default (nothing else chose a profile)"),
        }
    }
}

/// A profile offered by a source that lost to a higher-precedence one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct OverriddenChoice {
    /// The profile it offered.
    pub profile: SecurityProfile,
    /// The source that offered it.
    pub source: ProfileSource,
}

/// The outcome of resolution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ResolvedProfile {
    /// The profile that applies.
    pub profile: SecurityProfile,
    /// The source that chose it.
    pub source: ProfileSource,
    /// The sandbox policy: the profile's, with `[sandbox_workspace_write]`
    /// settings from `config.toml` applied when the mode is `workspace-write`.
    pub sandbox_policy: SandboxPolicy,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
    /// Lower-precedence choices that were present but lost.
    pub overridden: Vec<OverriddenChoice>,
}

/// Why no profile could be resolved.
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
    /// The config file is broken.
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
/// # Ok::<(), codex_profiles::ProfileError>(())
/// ```
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct ProfileResolver {
    command_line: Option<SecurityProfile>,
    profile_env: Option<OsString>,
    codex_home: Option<OsString>,
    home: Option<OsString>,
    explicit_config: Option<PathBuf>,
}

impl ProfileResolver {
    /// A resolver with no inputs: it resolves to the default profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// The profile the caller was given explicitly (the CLI's `--profile`),
    /// if any: it outranks every other source.
    pub fn command_line(mut self, profile: Option<SecurityProfile>) -> Self {
        self.command_line = profile;
        self
    }

    /// Reads `CODEX_SECURITY_PROFILE`, `CODEX_HOME` and `HOME` through `lookup`
    /// (pass `|k| std::env::var_os(k)` for the process environment).
    pub fn environment(mut self, lookup: impl Fn(&str) -> Option<OsString>) -> Self {
        self.profile_env = lookup(PROFILE_ENV);
        self.codex_home = lookup(CODEX_HOME_ENV);
        self.home = lookup(HOME_ENV);
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
    pub fn config_location(&self) -> Result<Option<(PathBuf, bool)>, ProfileError> {
        if let Some(path) = &self.explicit_config {
            return Ok(Some((path.clone(), true)));
        }
        let home = codex_home_from(self.codex_home.as_deref(), self.home.as_deref())?;
        Ok(home.map(|home| (home.join(CONFIG_FILE_NAME), false)))
    }

    /// Reads every source present and returns the highest-precedence choice.
    pub fn resolve(self) -> Result<ResolvedProfile, ProfileError> {
        let mut choices: Vec<(SecurityProfile, ProfileSource)> = Vec::new();
        if let Some(profile) = self.command_line {
            choices.push((profile, ProfileSource::CommandLine));
        }
        if let Some(value) = &self.profile_env {
            choices.push((
                parse_profile_env(value)?,
                ProfileSource::Environment {
                    variable: PROFILE_ENV.to_owned(),
                },
            ));
        }

        let location = match self.config_location()? {
            Some((path, required)) => {
                let present = required
                    || path.try_exists().map_err(|source| ConfigError::Io {
                        path: path.clone(),
                        source,
                    })?;
                present.then_some(path)
            }
            None => None,
        };
        let config = match location {
            Some(path) => {
                let (source, config) = CodexConfig::load(&path)?;
                if let Some(chosen) = config.configured_sandbox(&source)? {
                    let profile = SecurityProfile::from_mode(chosen.mode, chosen.network_access)
                        .ok_or_else(|| ProfileError::NoMatchingProfile {
                            path: path.clone(),
                            mode: chosen.mode,
                            network_access: chosen.network_access,
                        })?;
                    let keys = std::iter::once(chosen.mode_key)
                        .chain(chosen.network_key)
                        .collect();
                    choices.push((
                        profile,
                        ProfileSource::ConfigFile {
                            path: path.clone(),
                            keys,
                        },
                    ));
                }
                Some((path, config))
            }
            None => None,
        };

        let mut choices = choices.into_iter();
        let (profile, source) = choices
            .next()
            .unwrap_or((SecurityProfile::default(), ProfileSource::Default));
        let overridden = choices
            .map(|(profile, source)| OverriddenChoice { profile, source })
            .collect();
        let mut sandbox_policy = profile.to_sandbox_policy();
        if let Some((_, config)) = &config {
            sandbox_policy = config.apply_workspace_settings(sandbox_policy);
        }
        Ok(ResolvedProfile {
            profile,
            source,
            sandbox_policy,
            config_file: config.map(|(path, _)| path),
            overridden,
        })
    }
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

/// Codex's home directory: `$CODEX_HOME`, else `$HOME/.codex`; `None` when
/// neither is set. An empty `CODEX_HOME` is an error, not a fallback; a
/// relative `CODEX_HOME`, or a relative `HOME` when it decides, is an error
/// ([`ProfileError::RelativeHome`]). This is the one place that finds Codex's
/// home: config.toml, the audit log and file discovery all use it. Pass
/// `|k| std::env::var_os(k)` for the process environment.
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
    match home.filter(|home| !home.is_empty()) {
        Some(home) if !Path::new(home).is_absolute() => Err(ProfileError::RelativeHome {
            variable: HOME_ENV,
            value: PathBuf::from(home),
        }),
        Some(home) => Ok(Some(Path::new(home).join(".codex"))),
        None => Ok(None),
    }
}
