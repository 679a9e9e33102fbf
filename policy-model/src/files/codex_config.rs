//! The sandbox-related part of Codex's `config.toml`.
//!
//! `config.toml` holds many settings owned by other tools, so unknown top-level keys
//! are left alone. The sandbox tables we interpret (`[sandbox]`,
//! `[sandbox_workspace_write]`, `[sandbox_read_only]`) reject unknown keys: a typo
//! there would otherwise silently change what the sandbox allows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::known_keys::{closest_name, top_level_keys};
use super::network_rules::PermissionsProfile;
use super::shell_environment::ShellEnvironmentPolicyTable;
use super::toml_source::parse_toml;
use super::{ConfigError, SourceFile};
pub use crate::policy::ApprovalPolicy;
use crate::policy::{SandboxMode, SandboxPolicy};

/// The keys of `config.toml` that decide the sandbox.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct CodexConfig {
    /// Codex's top-level sandbox mode.
    #[schemars(with = "Option<SandboxMode>")]
    pub sandbox_mode: Option<Spanned<SandboxMode>>,
    /// The `[sandbox]` table: `mode` and `network_access` together.
    pub sandbox: Option<SandboxTable>,
    /// Settings that apply when the mode is `workspace-write`.
    pub sandbox_workspace_write: Option<WorkspaceWriteTable>,
    /// Settings that apply when the mode is `read-only`.
    pub sandbox_read_only: Option<ReadOnlyTable>,
    /// Codex's active profile: its `sandbox_mode` replaces the top-level one.
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// Codex's named profiles (`[profiles.<name>]`).
    #[serde(default)]
    pub profiles: BTreeMap<String, CodexProfileTable>,
    /// Permission profiles (`[permissions.<name>.network]` domain and socket rules).
    #[serde(default)]
    pub permissions: BTreeMap<String, PermissionsProfile>,
    /// Where and how codex-policy writes its audit log.
    pub audit: Option<AuditTable>,
    /// Codex's approval policy (default `on-request`).
    #[schemars(with = "Option<ApprovalPolicy>")]
    pub approval_policy: Option<Spanned<ApprovalPolicy>>,
    /// Codex's per-directory settings (`[projects."/abs/path"] trust_level`).
    #[serde(default)]
    pub projects: BTreeMap<String, ProjectTable>,
    /// Codex's `[shell_environment_policy]`: which environment variables a
    /// command starts with.
    pub shell_environment_policy: Option<ShellEnvironmentPolicyTable>,
}

/// `[audit] path`, refused unless absolute.
fn absolute_path<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathBuf>, D::Error> {
    let path = Option::<PathBuf>::deserialize(deserializer)?;
    match path {
        Some(path) if !path.is_absolute() => Err(serde::de::Error::custom(format!(
            "the audit log must be an absolute path (got {:?}; `~` is not expanded)",
            path
        ))),
        path => Ok(path),
    }
}

/// A key `config.toml` leaves to Codex that is likely a typo of a policy key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NearMiss {
    pub(crate) location: super::Location,
    /// The key as written, as a dotted path (`profiles.dev.sandbx_mode`).
    pub(crate) key: String,
    /// The policy key it is close to.
    pub(crate) meant: String,
    /// The line, with a caret under the key.
    pub(crate) snippet: Option<String>,
}

impl CodexConfig {
    /// The keys of the top level and of each `[profiles.<name>]`,
    /// `[permissions.<name>]` and `[projects."<path>"]` table that
    /// this crate does not know (they are Codex's, and ignored) but that are
    /// within a typo of a key it does know: `sandbx_mode` would silently
    /// leave the sandbox mode unset.
    pub(crate) fn near_misses(source: &SourceFile) -> Vec<NearMiss> {
        use serde::de::IgnoredAny;
        type Keys = BTreeMap<Spanned<String>, IgnoredAny>;
        /// The tables below the top level that also leave unknown keys alone.
        #[derive(Deserialize)]
        struct Nested {
            #[serde(default)]
            profiles: BTreeMap<String, Keys>,
            #[serde(default)]
            permissions: BTreeMap<String, Keys>,
            #[serde(default)]
            projects: BTreeMap<String, Keys>,
        }
        // `known`: each table type's keys, generated once per call.
        let near = |prefix: String, keys: Keys, known: &[String]| {
            keys.into_keys()
                .filter_map(|key| {
                    let meant = closest_name(key.get_ref(), known)?.to_owned();
                    let location = source.locate(key.span().start);
                    Some(NearMiss {
                        snippet: super::diagnostic::source_snippet(
                            source.text(),
                            location.line,
                            location.column,
                            false,
                        ),
                        location,
                        key: format!("{prefix}{}", key.get_ref()),
                        meant,
                    })
                })
                .collect::<Vec<_>>()
        };
        let mut found = Vec::new();
        if let Ok(top) = toml::from_str::<Keys>(source.text()) {
            found.extend(near(String::new(), top, &top_level_keys::<Self>()));
        }
        if let Ok(nested) = toml::from_str::<Nested>(source.text()) {
            let tables = [
                (
                    "profiles",
                    nested.profiles,
                    top_level_keys::<CodexProfileTable> as fn() -> Vec<String>,
                ),
                (
                    "permissions",
                    nested.permissions,
                    top_level_keys::<PermissionsProfile>,
                ),
                ("projects", nested.projects, top_level_keys::<ProjectTable>),
            ];
            for (table, entries, keys_of) in tables {
                if entries.is_empty() {
                    continue;
                }
                let known = keys_of();
                for (name, keys) in entries {
                    let name = if table == "projects" {
                        format!("{name:?}")
                    } else {
                        name
                    };
                    found.extend(near(format!("{table}.{name}."), keys, &known));
                }
            }
        }
        found.sort_by_key(|miss| (miss.location.line, miss.location.column));
        found
    }
}

/// `[projects."<absolute path>"]`: how far the user trusts one directory.
/// Other keys belong to Codex and are left alone.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SourceFile, TrustLevel};
///
/// let text = b"[projects.\"/home/me/app\"]\ntrust_level = \"trusted\"\n".to_vec();
/// let config = CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), text)?)?;
/// let project = config.projects.get("/home/me/app").ok_or("no such project")?;
/// assert_eq!(project.trust_level.as_ref().map(|t| *t.get_ref()), Some(TrustLevel::Trusted));
/// assert!(!config.projects.contains_key("/home/me/other"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct ProjectTable {
    /// `trusted`: a `.codex-profile` in this directory may ask for more than
    /// the user would otherwise get.
    #[schemars(with = "Option<TrustLevel>")]
    pub trust_level: Option<Spanned<TrustLevel>>,
}

/// Codex's trust levels of a project directory.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SourceFile, TrustLevel};
///
/// let text = br#"[projects."/home/me/app"]
/// trust_level = "trusted"
/// [projects."/tmp/download"]
/// trust_level = "untrusted"
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let trusted: Vec<&str> = config
///     .projects
///     .iter()
///     .filter(|(_, p)| p.trust_level.as_ref().map(|t| *t.get_ref()) == Some(TrustLevel::Trusted))
///     .map(|(dir, _)| dir.as_str())
///     .collect();
/// assert_eq!(trusted, ["/home/me/app"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum TrustLevel {
    /// The user trusts the directory's own settings.
    Trusted,
    /// The user does not.
    Untrusted,
}

/// `[audit]`: the audit log of codex-policy.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, FsyncSetting, SourceFile};
///
/// let text = b"[audit]\npath = \"/var/log/codex/audit.jsonl\"\nfsync = \"interval\"\nkeep = 2\n";
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let audit = config.audit.ok_or("no [audit] table")?;
/// assert_eq!(audit.path.as_deref(), Some(Path::new("/var/log/codex/audit.jsonl")));
/// assert_eq!(audit.fsync, Some(FsyncSetting::Interval));
/// assert_eq!(audit.keep.map(|n| n.get()), Some(2));
/// // Keys left out take their defaults (1000 ms between syncs, 64 MiB per file).
/// assert!(audit.fsync_interval_ms.is_none() && audit.max_bytes.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditTable {
    /// The log file (default `$CODEX_HOME/audit/audit.jsonl`): an absolute
    /// path. A relative one would follow the working directory into the
    /// project, where the command could write it; `~` is not expanded.
    #[serde(default, deserialize_with = "absolute_path")]
    pub path: Option<PathBuf>,
    /// `never` (default), `each-event`, or `interval`.
    pub fsync: Option<FsyncSetting>,
    /// With `fsync = "interval"`: milliseconds between syncs (default 1000).
    pub fsync_interval_ms: Option<std::num::NonZeroU64>,
    /// Rotate past this many bytes (default 64 MiB).
    pub max_bytes: Option<std::num::NonZeroU64>,
    /// Rotated files kept (default 5).
    pub keep: Option<std::num::NonZeroUsize>,
}

/// When audit events are forced to disk.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, ConfigError, FsyncSetting, SourceFile};
///
/// let fsync = |text: &str| -> Result<Option<FsyncSetting>, ConfigError> {
///     let source = SourceFile::from_bytes(Path::new("config.toml"), text.as_bytes().to_vec())?;
///     Ok(CodexConfig::parse(&source)?.audit.and_then(|audit| audit.fsync))
/// };
/// assert_eq!(fsync("[audit]\nfsync = \"each-event\"\n")?, Some(FsyncSetting::EachEvent));
/// assert_eq!(fsync("")?, None); // `never`, the default
/// // A setting that is not one of the three is an error at its value.
/// let err = fsync("[audit]\nfsync = \"sometimes\"\n").unwrap_err();
/// let at = &err.diagnostic().ok_or("not located")?.location;
/// assert_eq!((at.line, at.column), (2, 9));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum FsyncSetting {
    /// Leave it to the kernel.
    Never,
    /// After every event.
    EachEvent,
    /// Every `fsync_interval_ms`.
    Interval,
}

/// `[sandbox]`: the mode and its network switch in one place.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SandboxMode, SourceFile};
///
/// let text = b"[sandbox]\nmode = \"workspace-write\"\nnetwork_access = true\n".to_vec();
/// let config = CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), text)?)?;
/// let table = config.sandbox.ok_or("no [sandbox] table")?;
/// assert_eq!(table.mode.map(|m| *m.get_ref()), Some(SandboxMode::WorkspaceWrite));
/// assert_eq!(table.network_access.map(|n| *n.get_ref()), Some(true));
///
/// // Unknown keys are refused here: a typo would change what the sandbox allows.
/// let typo = b"[sandbox]\nnetwork = true\n".to_vec();
/// assert!(CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), typo)?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SandboxTable {
    /// The sandbox mode.
    #[schemars(with = "Option<SandboxMode>")]
    pub mode: Option<Spanned<SandboxMode>>,
    /// Whether outbound network is allowed (default `false`).
    #[schemars(with = "Option<bool>")]
    pub network_access: Option<Spanned<bool>>,
}

/// `[sandbox_workspace_write]`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, NaiveDate, SourceFile};
///
/// let text = br#"sandbox_mode = "workspace-write"
/// [sandbox_workspace_write]
/// network_access = true
/// writable_roots = ["/srv/cache"]
/// exclude_slash_tmp = true
/// allowlisted_domains = ["pypi.org", "*.pythonhosted.org"]
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.sandbox_workspace_write.as_ref().ok_or("no table")?;
/// assert_eq!(table.writable_roots[0].get_ref(), Path::new("/srv/cache"));
/// assert!(table.exclude_slash_tmp && !table.exclude_tmpdir_env_var);
/// // The allowlist, as allow entries in force today (UTC).
/// let today = NaiveDate::from_ymd_opt(2025, 10, 1).ok_or("not a date")?;
/// let allowlist = table.allowlist_rules(&source, today)?.ok_or("no allowlist")?;
/// assert_eq!(allowlist.domains.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WorkspaceWriteTable {
    /// Whether outbound network is allowed in `workspace-write` (default `false`).
    #[schemars(with = "Option<bool>")]
    pub network_access: Option<Spanned<bool>>,
    /// Extra absolute directories the child may write.
    #[schemars(with = "Vec<PathBuf>")]
    #[serde(default)]
    pub writable_roots: Vec<Spanned<PathBuf>>,
    /// Leave `$TMPDIR` out of the writable roots.
    #[serde(default)]
    pub exclude_tmpdir_env_var: bool,
    /// Leave `/tmp` out of the writable roots.
    #[serde(default)]
    pub exclude_slash_tmp: bool,
    /// Codex's approval setting; accepted for compatibility, decided by the harness.
    pub ask_for_approval: Option<ApprovalPolicy>,
    /// With `network_access = true` in `workspace-write`: the network is
    /// filtered by the egress proxy and these domains are allowed, as
    /// `"allow"` entries of `[permissions.<profile>.network.domains]` would
    /// be. Domain patterns as in those maps, checked when the file is parsed
    /// (`*` is refused: the allowlist must name domains); with the network
    /// off they open nothing. Kept as written, like the maps' keys, so that
    /// an error points at the entry rather than at the list.
    #[schemars(with = "Option<Vec<crate::domain::DomainPattern>>")]
    pub allowlisted_domains: Option<Spanned<Vec<Spanned<String>>>>,
    /// The last day (UTC) `allowlisted_domains` apply. Past it they no longer
    /// apply and the network stays filtered, allowing nothing from them.
    #[schemars(with = "Option<super::expiry::ExpiryDate>")]
    pub allowlist_expiry: Option<Spanned<super::expiry::ExpiryDate>>,
}

/// `[sandbox_read_only]`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SourceFile};
///
/// let text = b"sandbox_mode = \"read-only\"\n[sandbox_read_only]\nnetwork_access = true\n";
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.sandbox_read_only.as_ref().ok_or("no [sandbox_read_only]")?;
/// assert_eq!(table.network_access.as_ref().map(|n| *n.get_ref()), Some(true));
/// // In `read-only` mode, this table decides the network.
/// let sandbox = config.configured_sandbox(&source)?.ok_or("no mode")?;
/// assert!(sandbox.network_access);
/// assert_eq!(sandbox.network_key.as_deref(), Some("sandbox_read_only.network_access"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ReadOnlyTable {
    /// Whether outbound network is allowed in `read-only` (default `false`).
    #[schemars(with = "Option<bool>")]
    pub network_access: Option<Spanned<bool>>,
    /// Codex's approval setting; accepted for compatibility, decided by the harness.
    pub ask_for_approval: Option<ApprovalPolicy>,
}

/// `[profiles.<name>]`: a named configuration, chosen by `profile = "name"`
/// or `--profile name`. Only the keys below matter here; other keys belong to
/// Codex and are left alone.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{ApprovalPolicy, CodexConfig, SandboxMode, SourceFile};
///
/// let text = br#"profile = "ci"
/// [profiles.ci]
/// extends = "workspace"
/// sandbox_mode = "read-only"
/// approval_policy = "never"
/// model = "o4"
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let ci = config.profiles.get("ci").ok_or("no such profile")?;
/// assert_eq!(ci.extends.as_ref().map(|e| e.get_ref().as_str()), Some("workspace"));
/// assert_eq!(ci.sandbox_mode.as_ref().map(|m| *m.get_ref()), Some(SandboxMode::ReadOnly));
/// assert_eq!(ci.approval_policy.as_ref().map(|p| *p.get_ref()), Some(ApprovalPolicy::Never));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct CodexProfileTable {
    /// The profile's sandbox mode; with it, the profile decides the network
    /// too (its `[sandbox_workspace_write] network_access`, default off).
    #[schemars(with = "Option<SandboxMode>")]
    pub sandbox_mode: Option<Spanned<SandboxMode>>,
    /// The profile's approval policy.
    #[schemars(with = "Option<ApprovalPolicy>")]
    pub approval_policy: Option<Spanned<ApprovalPolicy>>,
    /// The profile this one builds on: a security profile (`workspace`), a
    /// built-in template or another `[profiles.<name>]`. Keys this profile
    /// leaves out come from it.
    #[schemars(with = "Option<String>")]
    pub extends: Option<Spanned<String>>,
    /// Workspace settings of this profile, replacing the top-level table.
    pub sandbox_workspace_write: Option<WorkspaceWriteTable>,
}

/// The sandbox a `config.toml` asks for, with the keys that decided it.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SandboxMode, SourceFile};
///
/// let text = b"sandbox_mode = \"workspace-write\"\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text)?;
/// let sandbox = CodexConfig::parse(&source)?.configured_sandbox(&source)?.ok_or("no mode")?;
/// assert_eq!(sandbox.mode, SandboxMode::WorkspaceWrite);
/// assert_eq!(sandbox.mode_key, "sandbox_mode");
/// // No key turns the network on: the default, decided by no key.
/// assert!(!sandbox.network_access && sandbox.network_key.is_none());
///
/// // Two keys that disagree are an error, never resolved silently.
/// let text = b"sandbox_mode = \"read-only\"\n[sandbox]\nmode = \"workspace-write\"\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text)?;
/// assert!(CodexConfig::parse(&source)?.configured_sandbox(&source).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfiguredSandbox {
    /// The mode.
    pub mode: SandboxMode,
    /// The dotted key that set the mode (`sandbox.mode`, `sandbox_mode`, …).
    pub mode_key: String,
    /// Whether network is allowed.
    pub network_access: bool,
    /// The dotted key that set `network_access`, or `None` for the default `false`.
    pub network_key: Option<String>,
}

impl CodexConfig {
    /// Reads and parses `path`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`], [`ConfigError::NotARegularFile`] or [`ConfigError::TooLarge`]
    /// when `path` cannot be read as a configuration file (see [`SourceFile::read`]);
    /// [`ConfigError::Invalid`] when the file is not UTF-8 or [`CodexConfig::parse`] refuses it.
    pub fn load(path: &Path) -> Result<(SourceFile, Self), ConfigError> {
        let source = SourceFile::read(path)?;
        let config = Self::parse(&source)?;
        Ok((source, config))
    }

    /// Parses the text of `source`; errors carry file, line, column and key.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the text is not valid TOML or does not fit the schema, or
    /// when a writable root is relative, `allowlisted_domains` is invalid or missing under
    /// `allowlist_expiry`, or a `[shell_environment_policy]` or `*_read` entry is refused.
    ///
    /// ```
    /// use std::path::Path;
    /// use codex_policy_model::{ApprovalPolicy, CodexConfig, SourceFile};
    ///
    /// let text = b"approval_policy = \"never\"\n".to_vec();
    /// let config = CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), text)?)?;
    /// assert_eq!(config.approval_policy.map(|p| *p.get_ref()), Some(ApprovalPolicy::Never));
    ///
    /// // Keys Codex reads and this crate does not are left alone; a typo in a
    /// // table this crate owns is an error at its file, line and column.
    /// let typo = b"[permissions.workspace.filesystem]\ndeny_reed = [\"~/x\"]\n".to_vec();
    /// let err = CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), typo)?)
    ///     .unwrap_err();
    /// let at = &err.diagnostic().expect("located").location;
    /// assert_eq!((at.line, at.column), (2, 1));
    /// assert!(err.to_string().contains("did you mean `deny_read`?"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(source: &SourceFile) -> Result<Self, ConfigError> {
        let config: Self = parse_toml(source)?;
        config.check_unsupported(source)?;
        if let Some(table) = &config.shell_environment_policy {
            table.check(source)?;
        }
        for (name, profile) in &config.permissions {
            if let Some(filesystem) = &profile.filesystem {
                filesystem.check(source, name)?;
            }
        }
        Ok(config)
    }

    /// What serde cannot check in `[sandbox_workspace_write]`: an allowlist
    /// that names domains (an expiry needs one), absolute writable roots.
    fn check_unsupported(&self, source: &SourceFile) -> Result<(), ConfigError> {
        let Some(table) = &self.sandbox_workspace_write else {
            return Ok(());
        };
        match (&table.allowlisted_domains, &table.allowlist_expiry) {
            (None, Some(expiry)) => {
                return Err(source.error(
                    Some(expiry.span()),
                    Some("sandbox_workspace_write.allowlist_expiry".to_owned()),
                    "allowlist_expiry without allowlisted_domains: there is no allowlist \
                     to expire",
                    Some("add allowlisted_domains, or remove allowlist_expiry".to_owned()),
                ));
            }
            (Some(list), _) => {
                super::network_rules::allowlist_entries(source, list)?;
            }
            (None, None) => {}
        }
        for root in &table.writable_roots {
            if !root.get_ref().is_absolute() {
                return Err(source.error(
                    Some(root.span()),
                    Some("sandbox_workspace_write.writable_roots".to_owned()),
                    format!(
                        "writable root {:?} is relative; in config.toml it would depend \
                         on whichever directory a command starts in",
                        root.get_ref()
                    ),
                    Some("write an absolute path".to_owned()),
                ));
            }
        }
        Ok(())
    }

    /// The sandbox this file chooses, or `None` when it sets no mode.
    ///
    /// `[sandbox] mode` and Codex's top-level `sandbox_mode` may both be present
    /// only if they agree (a named profile's own `sandbox_mode` is resolved with
    /// the profile, not here); likewise `[sandbox] network_access`
    /// and the mode's own table. Conflicts are errors, never resolved silently.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the two mode keys, or the two `network_access` keys,
    /// disagree, or when the mode is `danger-full-access` with `network_access = false`.
    pub fn configured_sandbox(
        &self,
        source: &SourceFile,
    ) -> Result<Option<ConfiguredSandbox>, ConfigError> {
        let codex_mode = self.codex_mode();
        let table_mode = self
            .sandbox
            .as_ref()
            .and_then(|t| t.mode.as_ref())
            .map(|m| ("sandbox.mode".to_owned(), m));
        let (mode_key, mode) = match (table_mode, codex_mode) {
            (Some((k1, m1)), Some((k2, m2))) if m1.get_ref() != m2.get_ref() => {
                return Err(conflict(source, (&k1, m1), (&k2, m2)));
            }
            (Some((key, mode)), _) | (None, Some((key, mode))) => (key, *mode.get_ref()),
            (None, None) => return Ok(None),
        };

        let table_network = self
            .sandbox
            .as_ref()
            .and_then(|t| t.network_access.as_ref())
            .map(|n| ("sandbox.network_access".to_owned(), n));
        let mode_network = match mode {
            SandboxMode::WorkspaceWrite => self
                .sandbox_workspace_write
                .as_ref()
                .and_then(|t| t.network_access.as_ref())
                .map(|n| ("sandbox_workspace_write.network_access".to_owned(), n)),
            SandboxMode::ReadOnly => self
                .sandbox_read_only
                .as_ref()
                .and_then(|t| t.network_access.as_ref())
                .map(|n| ("sandbox_read_only.network_access".to_owned(), n)),
            SandboxMode::DangerFullAccess => None,
        };
        let (network_key, network_access) = match (table_network, mode_network) {
            (Some((k1, n1)), Some((k2, n2))) if n1.get_ref() != n2.get_ref() => {
                return Err(conflict(source, (&k1, n1), (&k2, n2)));
            }
            (Some((key, n)), _) | (None, Some((key, n))) => (Some(key), *n.get_ref()),
            (None, None) => (None, mode == SandboxMode::DangerFullAccess),
        };
        if mode == SandboxMode::DangerFullAccess && !network_access {
            let span = self
                .sandbox
                .as_ref()
                .and_then(|t| t.network_access.as_ref())
                .map(Spanned::span);
            return Err(source.error(
                span,
                network_key,
                "danger-full-access cannot be combined with network_access = false",
                Some(
                    "use mode = \"workspace-write\" to keep the network off, or remove \
                     network_access"
                        .to_owned(),
                ),
            ));
        }
        Ok(Some(ConfiguredSandbox {
            mode,
            mode_key,
            network_access,
            network_key,
        }))
    }

    /// Codex's top-level mode key. The active profile's (`profile = "name"`)
    /// is resolved with its `extends` chain by the profile resolver, and
    /// replaces this one.
    fn codex_mode(&self) -> Option<(String, &Spanned<SandboxMode>)> {
        self.sandbox_mode
            .as_ref()
            .map(|m| ("sandbox_mode".to_owned(), m))
    }

    /// Applies `[sandbox_workspace_write]` settings to a `workspace-write` policy;
    /// other policies are returned unchanged.
    pub fn apply_workspace_settings(&self, policy: SandboxPolicy) -> SandboxPolicy {
        let (Some(table), SandboxPolicy::WorkspaceWrite { network_access, .. }) =
            (&self.sandbox_workspace_write, &policy)
        else {
            return policy;
        };
        SandboxPolicy::WorkspaceWrite {
            writable_roots: table
                .writable_roots
                .iter()
                .map(|r| r.get_ref().clone())
                .collect(),
            network_access: *network_access,
            exclude_tmpdir_env_var: table.exclude_tmpdir_env_var,
            exclude_slash_tmp: table.exclude_slash_tmp,
        }
    }
}

fn conflict<T: std::fmt::Debug>(
    source: &SourceFile,
    (first_key, first): (&str, &Spanned<T>),
    (second_key, second): (&str, &Spanned<T>),
) -> ConfigError {
    let second_at = source.locate(second.span().start);
    source.error(
        Some(first.span()),
        Some(first_key.to_owned()),
        format!(
            "{first_key} = {:?} conflicts with {second_key} = {:?} (line {}, column {})",
            first.get_ref(),
            second.get_ref(),
            second_at.line,
            second_at.column
        ),
        Some("make them agree or remove one of them".to_owned()),
    )
}
