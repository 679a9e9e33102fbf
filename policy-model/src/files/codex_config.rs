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

use super::network_rules::PermissionsProfile;
use super::toml_source::parse_toml;
use super::{ConfigError, SourceFile};
use crate::policy::{SandboxMode, SandboxPolicy};

/// The keys of `config.toml` that decide the sandbox.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct CodexConfig {
    /// Codex's top-level sandbox mode.
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<SandboxMode>"))]
    pub sandbox_mode: Option<Spanned<SandboxMode>>,
    /// The `[sandbox]` table: `mode` and `network_access` together.
    pub sandbox: Option<SandboxTable>,
    /// Settings that apply when the mode is `workspace-write`.
    pub sandbox_workspace_write: Option<WorkspaceWriteTable>,
    /// Settings that apply when the mode is `read-only`.
    pub sandbox_read_only: Option<ReadOnlyTable>,
    /// Codex's active profile: its `sandbox_mode` replaces the top-level one.
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<String>"))]
    pub profile: Option<Spanned<String>>,
    /// Codex's named profiles (`[profiles.<name>]`).
    #[serde(default)]
    pub profiles: BTreeMap<String, CodexProfileTable>,
    /// Permission profiles (`[permissions.<name>.network]` domain and socket rules).
    #[serde(default)]
    pub permissions: BTreeMap<String, PermissionsProfile>,
    /// Where and how codex-policy writes its audit log.
    pub audit: Option<AuditTable>,
}

/// `[audit]`: the audit log of codex-policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct AuditTable {
    /// The log file (default `$CODEX_HOME/audit/audit.jsonl`).
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
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
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SandboxTable {
    /// The sandbox mode.
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<SandboxMode>"))]
    pub mode: Option<Spanned<SandboxMode>>,
    /// Whether outbound network is allowed (default `false`).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<bool>"))]
    pub network_access: Option<Spanned<bool>>,
}

/// `[sandbox_workspace_write]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct WorkspaceWriteTable {
    /// Whether outbound network is allowed in `workspace-write` (default `false`).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<bool>"))]
    pub network_access: Option<Spanned<bool>>,
    /// Extra absolute directories the child may write.
    #[cfg_attr(feature = "json-schema", schemars(with = "Vec<PathBuf>"))]
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
    /// Not supported here; present only to explain where domain rules go instead.
    #[cfg_attr(feature = "json-schema", schemars(skip))]
    pub allowlisted_domains: Option<Spanned<toml::Value>>,
    /// Not supported here; see `allowlisted_domains`.
    #[cfg_attr(feature = "json-schema", schemars(skip))]
    pub allowlist_expiry: Option<Spanned<toml::Value>>,
}

/// `[sandbox_read_only]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ReadOnlyTable {
    /// Whether outbound network is allowed in `read-only` (default `false`).
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<bool>"))]
    pub network_access: Option<Spanned<bool>>,
    /// Codex's approval setting; accepted for compatibility, decided by the harness.
    pub ask_for_approval: Option<ApprovalPolicy>,
}

/// `[profiles.<name>]`: only `sandbox_mode` matters here; other keys belong to Codex.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct CodexProfileTable {
    /// The profile's sandbox mode.
    #[cfg_attr(feature = "json-schema", schemars(with = "Option<SandboxMode>"))]
    pub sandbox_mode: Option<Spanned<SandboxMode>>,
}

/// Codex's approval policies, spelled as in its `config.toml`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ApprovalPolicy {
    /// Ask before anything not known to be safe.
    Untrusted,
    /// Ask when a sandboxed command fails.
    OnFailure,
    /// The model decides when to ask.
    OnRequest,
    /// Never ask.
    Never,
}

/// The sandbox a `config.toml` asks for, with the keys that decided it.
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
    pub fn load(path: &Path) -> Result<(SourceFile, Self), ConfigError> {
        let source = SourceFile::read(path)?;
        let config = Self::parse(&source)?;
        Ok((source, config))
    }

    /// Parses the text of `source`; errors carry file, line, column and key.
    pub fn parse(source: &SourceFile) -> Result<Self, ConfigError> {
        let config: Self = parse_toml(source)?;
        config.check_unsupported(source)?;
        Ok(config)
    }

    fn check_unsupported(&self, source: &SourceFile) -> Result<(), ConfigError> {
        let Some(table) = &self.sandbox_workspace_write else {
            return Ok(());
        };
        for (key, value) in [
            ("allowlisted_domains", &table.allowlisted_domains),
            ("allowlist_expiry", &table.allowlist_expiry),
        ] {
            if let Some(value) = value {
                return Err(source.error(
                    Some(value.span()),
                    Some(format!("sandbox_workspace_write.{key}")),
                    "domain allowlists are not part of the sandbox mode; with \
                     network_access = true every domain would be reachable",
                    Some(
                        "remove this key and list domains in \
                         [permissions.<profile>.network] domains or in the managed \
                         requirements.toml [experimental_network]"
                            .to_owned(),
                    ),
                ));
            }
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
    /// `[sandbox] mode` and Codex's `sandbox_mode` (or the active profile's) may
    /// both be present only if they agree; likewise `[sandbox] network_access`
    /// and the mode's own table. Conflicts are errors, never resolved silently.
    pub fn configured_sandbox(
        &self,
        source: &SourceFile,
    ) -> Result<Option<ConfiguredSandbox>, ConfigError> {
        let codex_mode = self.codex_mode(source)?;
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

    /// Codex's own mode keys: the active profile's `sandbox_mode`, else the top-level one.
    fn codex_mode<'a>(
        &'a self,
        source: &SourceFile,
    ) -> Result<Option<(String, &'a Spanned<SandboxMode>)>, ConfigError> {
        if let Some(name) = &self.profile {
            let Some(profile) = self.profiles.get(name.get_ref()) else {
                let known: Vec<&str> = self.profiles.keys().map(String::as_str).collect();
                return Err(source.error(
                    Some(name.span()),
                    Some("profile".to_owned()),
                    format!(
                        "profile {:?} has no [profiles.{}] table",
                        name.get_ref(),
                        name.get_ref()
                    ),
                    Some(if known.is_empty() {
                        "add the table or remove the `profile` key".to_owned()
                    } else {
                        format!("defined profiles: {}", known.join(", "))
                    }),
                ));
            };
            if let Some(mode) = &profile.sandbox_mode {
                let key = format!("profiles.{}.sandbox_mode", name.get_ref());
                // The active profile's mode and the top-level one must agree:
                // picking either silently would hide what the file says.
                if let Some(top) = &self.sandbox_mode
                    && top.get_ref() != mode.get_ref()
                {
                    return Err(conflict(source, ("sandbox_mode", top), (&key, mode)));
                }
                return Ok(Some((key, mode)));
            }
        }
        Ok(self
            .sandbox_mode
            .as_ref()
            .map(|m| ("sandbox_mode".to_owned(), m)))
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
