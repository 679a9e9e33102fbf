//! Runtime context for harness code ("Runtime Context Propagation" of the runtime-control files):
//! which environment this process runs in and whether it may use the network,
//! without going through the CLI.
//!
//! ```
//! use codex_policy_model::RuntimeContext;
//!
//! // As `codex-policy launch` leaves it for the child:
//! let env = |key: &str| match key {
//!     "CODEX_CONTEXT_NAME" => Some("sandbox".into()),
//!     "CODEX_NETWORK_ACCESS" => Some("restricted".into()),
//!     _ => None,
//! };
//! let context = RuntimeContext::load_with(env, std::path::Path::new("/nonexistent"))?;
//! let err = context.validate_network_access().unwrap_err();
//! assert!(err.to_string().contains("network_access=restricted"));
//! # Ok::<(), codex_policy_model::RuntimeContextError>(())
//! ```

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::{CodexRc, ConfigError, NetworkAccess, OutboundPolicy, UnknownNetworkAccess};

/// Where the context came from.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{ContextSource, RuntimeContext};
///
/// let dir = tempfile::tempdir()?;
/// // No file: the environment variables, or their defaults.
/// let context = RuntimeContext::load_with(|_| None, dir.path())?;
/// assert_eq!(context.source, ContextSource::Environment);
///
/// let path = dir.path().join("runtime.json");
/// std::fs::write(&path, r#"{"environment_context": {"name": "dev"}}"#)?;
/// let env = |key: &str| (key == "CODEX_RUNTIME_CONFIG").then(|| path.clone().into_os_string());
/// let context = RuntimeContext::load_with(env, dir.path())?;
/// assert_eq!(context.source, ContextSource::File(path.clone()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextSource {
    /// A `.codexrc.json` file.
    File(PathBuf),
    /// `CODEX_CONTEXT_NAME` / `CODEX_NETWORK_ACCESS` (or their defaults).
    Environment,
}

/// The runtime environment a handler runs in.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{NetworkAccess, RuntimeContext};
///
/// let dir = tempfile::tempdir()?;
/// std::fs::write(
///     dir.path().join(".codexrc.json"),
///     r#"{"environment_context": {"name": "sandbox", "network_access": "enabled"},
///         "environments": {"sandbox": {"api_url": "https://api.sandbox.example.com"}}}"#,
/// )?;
/// // `.codexrc.json` in the directory, ahead of the environment variables.
/// let context = RuntimeContext::load_with(|_| None, dir.path())?;
/// assert_eq!(context.name, "sandbox");
/// assert_eq!(context.network_access, NetworkAccess::Enabled);
/// let api_url = context.environment_config.as_ref().and_then(|c| c.get("api_url"));
/// assert_eq!(api_url.and_then(|u| u.as_str()), Some("https://api.sandbox.example.com"));
/// context.validate_network_access()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RuntimeContext {
    /// Environment name (`dev`, `sandbox`, `production`, `air-gapped`, or what
    /// `CODEX_CONTEXT_NAME` says).
    pub name: String,
    /// Network reach.
    pub network_access: NetworkAccess,
    /// Outbound rules, when read from a file.
    pub outbound_policy: Option<OutboundPolicy>,
    /// `environments.<name>` of the file, when present.
    pub environment_config: Option<serde_json::Map<String, serde_json::Value>>,
    /// Where this came from.
    pub source: ContextSource,
}

/// Why the context could not be loaded.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{RuntimeContext, RuntimeContextError};
///
/// let dir = tempfile::tempdir()?;
/// let env = |key: &str| (key == "CODEX_NETWORK_ACCESS").then(|| "open".into());
/// let err = RuntimeContext::load_with(env, dir.path()).unwrap_err();
/// assert!(matches!(err, RuntimeContextError::NetworkVariable(_)));
///
/// // A broken file is an error, never replaced by defaults.
/// std::fs::write(dir.path().join(".codexrc.json"), "{ not json")?;
/// let err = RuntimeContext::load_with(|_| None, dir.path()).unwrap_err();
/// assert!(matches!(err, RuntimeContextError::Config(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeContextError {
    /// The runtime file is broken (never silently replaced by defaults).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// `CODEX_NETWORK_ACCESS` holds something else than enabled/restricted/disabled.
    #[error("environment variable CODEX_NETWORK_ACCESS: {0}")]
    NetworkVariable(UnknownNetworkAccess),
    /// `CODEX_RUNTIME_CONFIG` is set but empty: it names no file, and reading
    /// it as unset would silently pick another one.
    #[error("environment variable CODEX_RUNTIME_CONFIG is set but empty; unset it or name a file")]
    EmptyRuntimeConfig,
}

/// The network is not enabled for this runtime.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{NetworkAccess, RuntimeContext};
///
/// let dir = tempfile::tempdir()?;
/// let env = |key: &str| (key == "CODEX_NETWORK_ACCESS").then(|| "disabled".into());
/// let context = RuntimeContext::load_with(env, dir.path())?;
/// let err = context.validate_network_access().unwrap_err();
/// assert_eq!(err.access, NetworkAccess::Disabled);
/// assert_eq!(err.source_name, "CODEX_NETWORK_ACCESS");
/// assert!(err.to_string().contains("codex-policy launch"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
#[error(
    "Network disabled by runtime harness (network_access={access}, from {source_name}). Set \
     environment_context.network_access to \"enabled\" in .codexrc.json (and network.enabled \
     to true in harness.policy.json), then start the command with `codex-policy launch`."
)]
pub struct NetworkAccessError {
    /// The access level in force.
    pub access: NetworkAccess,
    /// Where it came from.
    pub source_name: String,
}

impl RuntimeContext {
    /// Loads the context of this process: `CODEX_RUNTIME_CONFIG`, else
    /// `./.codexrc.json`, else the environment variables.
    ///
    /// # Errors
    ///
    /// [`RuntimeContextError::Config`] when the file used (`CODEX_RUNTIME_CONFIG`, or an existing
    /// `./.codexrc.json`) cannot be read or parsed; [`RuntimeContextError::NetworkVariable`] when
    /// there is no file and `CODEX_NETWORK_ACCESS` is not `enabled`, `restricted` or `disabled`.
    pub fn load() -> Result<Self, RuntimeContextError> {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
        Self::load_with(|key| std::env::var_os(key), &cwd)
    }

    /// Like [`RuntimeContext::load`] with an explicit environment and directory.
    ///
    /// # Errors
    ///
    /// [`RuntimeContextError::Config`] when the file used (`CODEX_RUNTIME_CONFIG`, or an existing
    /// `.codexrc.json` in `cwd`) cannot be read or parsed; [`RuntimeContextError::EmptyRuntimeConfig`]
    /// when `CODEX_RUNTIME_CONFIG` is set but empty; [`RuntimeContextError::NetworkVariable`]
    /// when there is none and `CODEX_NETWORK_ACCESS` is not `enabled`, `restricted` or `disabled`.
    pub fn load_with(
        env: impl Fn(&str) -> Option<OsString>,
        cwd: &Path,
    ) -> Result<Self, RuntimeContextError> {
        let explicit = match env("CODEX_RUNTIME_CONFIG") {
            Some(value) if value.is_empty() => return Err(RuntimeContextError::EmptyRuntimeConfig),
            value => value.map(PathBuf::from),
        };
        let path = explicit.or_else(|| Some(cwd.join(".codexrc.json")).filter(|p| p.exists()));
        if let Some(path) = path {
            // An explicit path that does not exist is an error, not a fallback.
            let rc = CodexRc::load(&path)?.value;
            let ctx = rc.environment_context;
            let name = ctx.name.as_str().to_owned();
            return Ok(Self {
                environment_config: rc.environments.get(&name).cloned(),
                name,
                network_access: ctx.network_access,
                outbound_policy: Some(ctx.outbound_policy),
                source: ContextSource::File(path),
            });
        }
        let text = |key: &str| env(key).map(|v| v.to_string_lossy().into_owned());
        let network_access = match text("CODEX_NETWORK_ACCESS") {
            Some(value) => value
                .parse()
                .map_err(RuntimeContextError::NetworkVariable)?,
            None => NetworkAccess::default(),
        };
        Ok(Self {
            name: text("CODEX_CONTEXT_NAME").unwrap_or_else(|| "dev".into()),
            network_access,
            outbound_policy: None,
            environment_config: None,
            source: ContextSource::Environment,
        })
    }

    /// `Ok` when the network is enabled; otherwise an error saying what to change.
    ///
    /// # Errors
    ///
    /// [`NetworkAccessError`] when [`RuntimeContext::network_access`] is not
    /// [`NetworkAccess::Enabled`].
    pub fn validate_network_access(&self) -> Result<(), NetworkAccessError> {
        if self.network_access == NetworkAccess::Enabled {
            return Ok(());
        }
        Err(NetworkAccessError {
            access: self.network_access,
            source_name: match &self.source {
                ContextSource::File(path) => path.display().to_string(),
                ContextSource::Environment => "CODEX_NETWORK_ACCESS".into(),
            },
        })
    }
}
