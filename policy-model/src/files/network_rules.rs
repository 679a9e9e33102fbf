//! Typed network rule maps: `domains` (`"host" = "allow" | "deny"`)
//! and `unix_sockets` (`"/path" = "allow" | "none"`), in managed
//! `requirements.toml` `[experimental_network]` and in `config.toml`
//! `[permissions.<profile>.network]`.
//!
//! The legacy lists (`allowed_domains`, `denied_domains`, `allow_unix_sockets`)
//! are accepted and normalized only in managed requirements, never mixed with
//! the typed maps in one block, and refused in permission profiles with a
//! message saying what to write instead.
//!
//! `config.toml`'s `[sandbox_workspace_write] allowlisted_domains` is normalized
//! here too, into the same [`NetworkRules`] as a block of allow entries, so it
//! reaches composition and the egress proxy by the path the maps take.
//!
//! A block may expire (`expires`, `allowlist_expiry`): normalization is given
//! *today*, and past the date the block's allow entries move to
//! [`NetworkRules::expired`], where nothing enforces them.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use toml::Spanned;

use super::codex_config::WorkspaceWriteTable;
use super::expiry::{Expiry, ExpiryDate};
use super::toml_source::parse_toml;
use super::{ConfigError, SourceFile};
use crate::domain::{DomainError, DomainPattern};
use crate::policy::NetworkMode;

/// A domain's entry in a `domains` map.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use std::time::SystemTime;
/// use codex_policy_model::{CodexConfig, DomainRule, SourceFile, utc_date};
///
/// let text = br#"[permissions.workspace.network.domains]
/// "pypi.org" = "allow"
/// "*.tracker.example" = "deny"
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["workspace"].network.as_ref().ok_or("no network table")?;
/// let rules = table.normalize(&source, "workspace", utc_date(SystemTime::now()))?;
/// let denied: Vec<String> = rules
///     .domains
///     .iter()
///     .filter(|entry| entry.rule == DomainRule::Deny)
///     .map(|entry| entry.pattern.to_string())
///     .collect();
/// assert_eq!(denied, ["*.tracker.example"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DomainRule {
    /// Connections to the domain are allowed.
    Allow,
    /// Connections to the domain are refused (deny always wins).
    Deny,
}

/// A unix socket's entry in an `unix_sockets` map.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use std::time::SystemTime;
/// use codex_policy_model::{CodexConfig, SocketRule, SourceFile, utc_date};
///
/// let text = br#"[permissions.workspace.network.unix_sockets]
/// "/run/user/1000/ssh-agent.sock" = "allow"
/// "/var/run/docker.sock" = "none"
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["workspace"].network.as_ref().ok_or("no network table")?;
/// let rules = table.normalize(&source, "workspace", utc_date(SystemTime::now()))?;
/// let docker = rules.unix_sockets.iter().find(|s| s.path == Path::new("/var/run/docker.sock"));
/// assert_eq!(docker.map(|s| s.rule), Some(SocketRule::None));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SocketRule {
    /// The socket may be connected to.
    Allow,
    /// Explicitly not allowed.
    None,
}

/// `[experimental_network]` as written, before normalization.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{Requirements, SourceFile};
///
/// let text = br#"[experimental_network]
/// managed_allowed_domains_only = true
/// [experimental_network.domains]
/// "api.example.com" = "allow"
/// "#;
/// let source = SourceFile::from_bytes(Path::new("requirements.toml"), text.to_vec())?;
/// let requirements = Requirements::parse(&source)?;
/// let table = requirements.experimental_network.as_ref().ok_or("no table")?;
/// assert!(table.managed_allowed_domains_only && !table.dangerously_allow_all_unix_sockets);
/// assert!(table.allowed_domains.is_none());
///
/// // A typed map and its legacy list are never mixed in one block.
/// let mixed = br#"[experimental_network]
/// allowed_domains = ["a.example"]
/// domains = { "b.example" = "allow" }
/// "#;
/// let source = SourceFile::from_bytes(Path::new("requirements.toml"), mixed.to_vec())?;
/// assert!(Requirements::parse(&source)?.network_rules(&source).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ManagedNetworkTable {
    /// Domain rules: `"api.example.com" = "allow"`.
    #[schemars(with = "Option<BTreeMap<String, DomainRule>>")]
    pub domains: Option<Spanned<BTreeMap<String, Spanned<DomainRule>>>>,
    /// Unix socket rules: `"/var/run/x.sock" = "allow"`.
    #[schemars(with = "Option<BTreeMap<String, SocketRule>>")]
    pub unix_sockets: Option<Spanned<BTreeMap<String, Spanned<SocketRule>>>>,
    /// Legacy allow list (normalized into `domains`).
    #[schemars(with = "Option<Vec<String>>")]
    pub allowed_domains: Option<Spanned<Vec<Spanned<String>>>>,
    /// Legacy deny list (normalized into `domains`).
    #[schemars(with = "Option<Vec<String>>")]
    pub denied_domains: Option<Spanned<Vec<Spanned<String>>>>,
    /// Legacy socket list (normalized into `unix_sockets`).
    #[schemars(with = "Option<Vec<String>>")]
    pub allow_unix_sockets: Option<Spanned<Vec<Spanned<String>>>>,
    /// Only managed allow entries count; user additions are ignored and other
    /// domains are hard-denied.
    #[serde(default)]
    pub managed_allowed_domains_only: bool,
    /// Escape hatch: any absolute unix socket path may be connected to.
    #[serde(default)]
    pub dangerously_allow_all_unix_sockets: bool,
}

/// Managed `requirements.toml`.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{Requirements, SandboxMode};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("requirements.toml");
/// std::fs::write(
///     &path,
///     "allowed_sandbox_modes = [\"read-only\", \"workspace-write\"]\nallow_elevation = false\n",
/// )?;
/// let (_source, requirements) = Requirements::load(&path)?;
/// let modes = requirements.allowed_sandbox_modes.ok_or("no allowed modes")?.into_inner();
/// assert!(!modes.contains(&SandboxMode::DangerFullAccess));
/// assert_eq!(requirements.allow_elevation.map(|a| *a.get_ref()), Some(false));
/// // Absent keys allow everything: every approval policy here.
/// assert!(requirements.allowed_approval_policies.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Requirements {
    /// The managed network baseline.
    pub experimental_network: Option<ManagedNetworkTable>,
    /// Codex's key: the approval policies users may choose (default: all).
    #[schemars(with = "Option<Vec<crate::policy::ApprovalPolicy>>")]
    pub allowed_approval_policies: Option<Spanned<Vec<crate::policy::ApprovalPolicy>>>,
    /// Codex's key: the sandbox modes users may choose (default: all).
    #[schemars(with = "Option<Vec<crate::policy::SandboxMode>>")]
    pub allowed_sandbox_modes: Option<Spanned<Vec<crate::policy::SandboxMode>>>,
    /// `false`: time-limited elevation (`codex-policy elevate`) is refused,
    /// and grants made earlier are not used (default `true`).
    #[schemars(with = "Option<bool>")]
    pub allow_elevation: Option<Spanned<bool>>,
}

/// `[permissions.<profile>.network]` in `config.toml`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use std::time::SystemTime;
/// use codex_policy_model::{CodexConfig, SourceFile, utc_date};
///
/// let today = utc_date(SystemTime::now());
/// let text = b"[permissions.workspace.network.domains]\n\"pypi.org\" = \"allow\"\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text)?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["workspace"].network.as_ref().ok_or("no network table")?;
/// let rules = table.normalize(&source, "workspace", today)?;
/// assert_eq!(rules.domains[0].pattern.to_string(), "pypi.org");
///
/// // Legacy lists are refused in permission profiles, saying what to write instead.
/// let text = b"[permissions.workspace.network]\nallowed_domains = [\"pypi.org\"]\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text)?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["workspace"].network.as_ref().ok_or("no network table")?;
/// let err = table.normalize(&source, "workspace", today).unwrap_err();
/// assert!(err.to_string().contains("write [permissions.workspace.network.domains]"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ProfileNetworkTable {
    /// Domain rules.
    #[schemars(with = "Option<BTreeMap<String, DomainRule>>")]
    pub domains: Option<Spanned<BTreeMap<String, Spanned<DomainRule>>>>,
    /// Unix socket rules.
    #[schemars(with = "Option<BTreeMap<String, SocketRule>>")]
    pub unix_sockets: Option<Spanned<BTreeMap<String, Spanned<SocketRule>>>>,
    /// Escape hatch: any absolute unix socket path may be connected to.
    #[serde(default)]
    pub dangerously_allow_all_unix_sockets: bool,
    /// `limited`: only read-only methods (`GET`, `HEAD`, `OPTIONS`), HTTPS
    /// inspected. `full` does not lift a profile's limited mode: the most
    /// restrictive source wins.
    #[schemars(with = "Option<NetworkMode>")]
    pub mode: Option<Spanned<NetworkMode>>,
    /// The last day (UTC) this table's allow entries apply (`domains` and
    /// `unix_sockets` allows, `dangerously_allow_all_unix_sockets`). Past it
    /// they no longer apply; deny entries and `mode` stay, as they only
    /// restrict.
    #[schemars(with = "Option<ExpiryDate>")]
    pub expires: Option<Spanned<ExpiryDate>>,
    /// Refused here: see [`ProfileNetworkTable::normalize`].
    #[schemars(skip)]
    pub allowed_domains: Option<Spanned<toml::Value>>,
    /// Refused here.
    #[schemars(skip)]
    pub denied_domains: Option<Spanned<toml::Value>>,
    /// Refused here.
    #[schemars(skip)]
    pub allow_unix_sockets: Option<Spanned<toml::Value>>,
}

/// `[permissions.<profile>]`: `network` and `filesystem` are read here.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SourceFile};
///
/// let text = br#"[permissions.workspace.network.domains]
/// "www.example.com" = "allow"
/// [permissions.workspace.filesystem]
/// deny_read = ["~/.config/gcloud"]
/// [permissions.offline.filesystem]
/// deny_read = ["~/.netrc"]
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let names: Vec<&str> = config.permissions.keys().map(String::as_str).collect();
/// assert_eq!(names, ["offline", "workspace"]);
/// let workspace = &config.permissions["workspace"];
/// assert!(workspace.network.is_some() && workspace.filesystem.is_some());
/// assert!(config.permissions["offline"].network.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct PermissionsProfile {
    /// Network rules of the profile.
    pub network: Option<ProfileNetworkTable>,
    /// Paths the profile hides from commands, or shows again.
    pub filesystem: Option<super::filesystem_rules::ProfileFilesystemTable>,
}

/// One normalized domain rule and where it was written.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{DomainRule, Requirements, SourceFile};
///
/// let text = br#"[experimental_network]
/// allowed_domains = ["www.example.com", "*.pypi.org"]
/// "#.to_vec();
/// let source = SourceFile::from_bytes(Path::new("requirements.toml"), text)?;
/// let rules = Requirements::parse(&source)?.network_rules(&source)?;
/// let entry = &rules.domains[1];
/// assert_eq!(entry.pattern.to_string(), "*.pypi.org");
/// assert_eq!(entry.rule, DomainRule::Allow);
/// assert_eq!(entry.at, "requirements.toml:2:39");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct DomainEntry {
    /// The normalized pattern.
    pub pattern: DomainPattern,
    /// Allow or deny.
    pub rule: DomainRule,
    /// `file:line:column` of the entry.
    pub at: String,
}

/// A network mode and where it was written.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use std::time::SystemTime;
/// use codex_policy_model::{CodexConfig, NetworkMode, SourceFile, utc_date};
///
/// let text = b"[permissions.workspace.network]\nmode = \"limited\"\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text)?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["workspace"].network.as_ref().ok_or("no network table")?;
/// let rules = table.normalize(&source, "workspace", utc_date(SystemTime::now()))?;
/// let mode = rules.mode.ok_or("no mode")?;
/// assert_eq!(mode.mode, NetworkMode::Limited);
/// assert_eq!(mode.at, "config.toml:2:8 permissions.workspace.network.mode");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ModeEntry {
    /// The mode.
    pub mode: NetworkMode,
    /// `file:line:column key` of the entry.
    pub at: String,
}

/// One normalized unix-socket rule.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{Requirements, SocketRule, SourceFile};
///
/// let text = b"[experimental_network]\nallow_unix_sockets = [\"/tmp/agent.sock\"]\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("requirements.toml"), text)?;
/// let rules = Requirements::parse(&source)?.network_rules(&source)?;
/// assert_eq!(rules.unix_sockets[0].path, Path::new("/tmp/agent.sock"));
/// assert_eq!(rules.unix_sockets[0].rule, SocketRule::Allow);
///
/// // A socket is named by its absolute path.
/// let text = b"[experimental_network]\nallow_unix_sockets = [\"agent.sock\"]\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("requirements.toml"), text)?;
/// assert!(Requirements::parse(&source)?.network_rules(&source).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct SocketEntry {
    /// Absolute socket path.
    pub path: PathBuf,
    /// Allow or none.
    pub rule: SocketRule,
}

/// A network block after normalization: one canonical shape whatever was written.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{DomainRule, Requirements, SourceFile};
///
/// // The legacy lists of managed requirements...
/// let text = br#"[experimental_network]
/// allowed_domains = ["www.example.com", "*.pypi.org"]
/// denied_domains = ["evil.example.com"]
/// allow_unix_sockets = ["/tmp/agent.sock"]
/// "#;
/// let source = SourceFile::from_bytes(Path::new("requirements.toml"), text.to_vec())?;
/// let rules = Requirements::parse(&source)?.network_rules(&source)?;
/// // ...become the one shape the typed maps take too.
/// let allowed: Vec<String> = rules
///     .domains
///     .iter()
///     .filter(|entry| entry.rule == DomainRule::Allow)
///     .map(|entry| entry.pattern.to_string())
///     .collect();
/// assert_eq!(allowed, ["www.example.com", "*.pypi.org"]);
/// assert_eq!(rules.unix_sockets.len(), 1);
/// assert!(rules.expiry.is_none() && rules.expired.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NetworkRules {
    /// Domain rules.
    pub domains: Vec<DomainEntry>,
    /// Unix socket rules.
    pub unix_sockets: Vec<SocketEntry>,
    /// See [`ManagedNetworkTable::managed_allowed_domains_only`].
    pub managed_allowed_domains_only: bool,
    /// See [`ManagedNetworkTable::dangerously_allow_all_unix_sockets`].
    pub dangerously_allow_all_unix_sockets: bool,
    /// See [`ProfileNetworkTable::mode`].
    pub mode: Option<ModeEntry>,
    /// When the block's allow entries stop applying, if it says.
    pub expiry: Option<Expiry>,
    /// The allow entries dropped because [`NetworkRules::expiry`] is past:
    /// never enforced, kept to say what expired.
    pub expired: ExpiredAllows,
    /// Where the block makes the network allowlist-only even with no allow
    /// entry in force (`file:line:column key`): an `allowlisted_domains` list
    /// (an allowlist even when empty), or an expiry that dropped the block's
    /// domain allows. An allowlist that allows nothing refuses everything: it
    /// never opens the network, nor leaves the block's deny entries to read
    /// as "everything but these".
    pub allowlist_at: Option<String>,
}

/// Allow entries an expired block no longer applies.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, NaiveDate, SourceFile};
///
/// let text = br#"[permissions.ci.network]
/// expires = 2025-10-15
/// [permissions.ci.network.domains]
/// "pypi.org" = "allow"
/// "tracker.example.com" = "deny"
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["ci"].network.as_ref().ok_or("no network table")?;
/// let today = NaiveDate::from_ymd_opt(2025, 10, 16).ok_or("not a date")?;
/// let rules = table.normalize(&source, "ci", today)?;
/// assert_eq!(rules.expired.to_string(), "domains pypi.org");
/// // The deny entry stays in force: it only restricts.
/// assert_eq!(rules.domains.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct ExpiredAllows {
    /// Domain allow entries.
    pub domains: Vec<DomainEntry>,
    /// Unix socket allow entries.
    pub unix_sockets: Vec<SocketEntry>,
    /// Whether `dangerously_allow_all_unix_sockets = true` was dropped.
    pub dangerously_allow_all_unix_sockets: bool,
}

impl ExpiredAllows {
    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.domains.is_empty()
            && self.unix_sockets.is_empty()
            && !self.dangerously_allow_all_unix_sockets
    }
}

/// What was dropped, for messages: `domains a.example, b.example and unix
/// sockets /run/x.sock`.
impl fmt::Display for ExpiredAllows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if !self.domains.is_empty() {
            let names: Vec<String> = self.domains.iter().map(|e| e.pattern.to_string()).collect();
            parts.push(format!("domains {}", names.join(", ")));
        }
        if !self.unix_sockets.is_empty() {
            let paths: Vec<String> = self
                .unix_sockets
                .iter()
                .map(|e| e.path.display().to_string())
                .collect();
            parts.push(format!("unix sockets {}", paths.join(", ")));
        }
        if self.dangerously_allow_all_unix_sockets {
            parts.push("dangerously_allow_all_unix_sockets".to_owned());
        }
        f.write_str(&parts.join(" and "))
    }
}

impl NetworkRules {
    /// Records `expiry` and, when it is before `today`, moves every allow
    /// entry to [`NetworkRules::expired`].
    fn set_expiry(&mut self, expiry: Expiry, today: NaiveDate) {
        if expiry.is_past(today) {
            let (dropped, kept) = std::mem::take(&mut self.domains)
                .into_iter()
                .partition(|e| e.rule == DomainRule::Allow);
            self.domains = kept;
            let (sockets, kept) = std::mem::take(&mut self.unix_sockets)
                .into_iter()
                .partition(|e| e.rule == SocketRule::Allow);
            self.unix_sockets = kept;
            self.expired = ExpiredAllows {
                domains: dropped,
                unix_sockets: sockets,
                dangerously_allow_all_unix_sockets: std::mem::take(
                    &mut self.dangerously_allow_all_unix_sockets,
                ),
            };
            if !self.expired.domains.is_empty() {
                self.allowlist_at = Some(expiry.at());
            }
        }
        self.expiry = Some(expiry);
    }
}

impl Requirements {
    /// Reads and parses a managed `requirements.toml`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`], [`ConfigError::NotARegularFile`] or [`ConfigError::TooLarge`]
    /// when `path` cannot be read as a configuration file (see [`SourceFile::read`]);
    /// [`ConfigError::Invalid`] when the file is not UTF-8 or [`Requirements::parse`] refuses it.
    pub fn load(path: &Path) -> Result<(SourceFile, Self), ConfigError> {
        let source = SourceFile::read(path)?;
        let value = Self::parse(&source)?;
        Ok((source, value))
    }

    /// Parses text already read.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the text is not valid TOML, a key is unknown, or a value
    /// does not fit its key.
    pub fn parse(source: &SourceFile) -> Result<Self, ConfigError> {
        parse_toml(source)
    }

    /// The normalized managed network baseline (empty when absent).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `[experimental_network]` combines a typed map with its
    /// legacy list, names an invalid domain pattern, denies `*`, or gives a relative unix
    /// socket path.
    pub fn network_rules(&self, source: &SourceFile) -> Result<NetworkRules, ConfigError> {
        let Some(table) = &self.experimental_network else {
            return Ok(NetworkRules::default());
        };
        let prefix = "experimental_network";
        let mixed = |canonical: &str, legacy: &str, span: std::ops::Range<usize>| {
            source.error(
                Some(span),
                Some(format!("{prefix}.{legacy}")),
                format!("`{legacy}` cannot be combined with `{canonical}` in one block"),
                Some(format!("move every entry into `[{prefix}.{canonical}]`")),
            )
        };
        let mut rules = NetworkRules {
            managed_allowed_domains_only: table.managed_allowed_domains_only,
            dangerously_allow_all_unix_sockets: table.dangerously_allow_all_unix_sockets,
            ..NetworkRules::default()
        };
        if let Some(domains) = &table.domains {
            for (legacy, name) in [
                (&table.allowed_domains, "allowed_domains"),
                (&table.denied_domains, "denied_domains"),
            ] {
                if let Some(list) = legacy {
                    return Err(mixed("domains", name, list.span()));
                }
            }
            rules.domains = domain_entries(source, prefix, domains)?;
        } else {
            for (list, rule, key) in [
                (&table.allowed_domains, DomainRule::Allow, "allowed_domains"),
                (&table.denied_domains, DomainRule::Deny, "denied_domains"),
            ] {
                for item in list.iter().flat_map(|l| l.get_ref()) {
                    rules.domains.push(domain_entry(
                        source,
                        &format!("{prefix}.{key}"),
                        item,
                        rule,
                    )?);
                }
            }
        }
        if let Some(sockets) = &table.unix_sockets {
            if let Some(list) = &table.allow_unix_sockets {
                return Err(mixed("unix_sockets", "allow_unix_sockets", list.span()));
            }
            rules.unix_sockets = socket_entries(source, prefix, sockets)?;
        } else {
            for item in table.allow_unix_sockets.iter().flat_map(|l| l.get_ref()) {
                rules.unix_sockets.push(socket_entry(
                    source,
                    &format!("{prefix}.allow_unix_sockets"),
                    item.get_ref(),
                    item.span(),
                    SocketRule::Allow,
                )?);
            }
        }
        Ok(rules)
    }
}

impl ProfileNetworkTable {
    /// The normalized rules of `[permissions.<profile>.network]` as of
    /// `today` (UTC): past [`ProfileNetworkTable::expires`], its allow entries
    /// are in [`NetworkRules::expired`] instead.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when the table holds a legacy list (`allowed_domains`,
    /// `denied_domains`, `allow_unix_sockets`), names an invalid domain pattern, denies `*`,
    /// or gives a relative unix socket path.
    pub fn normalize(
        &self,
        source: &SourceFile,
        profile: &str,
        today: NaiveDate,
    ) -> Result<NetworkRules, ConfigError> {
        let prefix = format!("permissions.{profile}.network");
        for (value, key, instead) in [
            (
                &self.allowed_domains,
                "allowed_domains",
                "[permissions.<profile>.network.domains] with \"host\" = \"allow\"",
            ),
            (
                &self.denied_domains,
                "denied_domains",
                "[permissions.<profile>.network.domains] with \"host\" = \"deny\"",
            ),
            (
                &self.allow_unix_sockets,
                "allow_unix_sockets",
                "[permissions.<profile>.network.unix_sockets] with \"/path\" = \"allow\"",
            ),
        ] {
            if let Some(value) = value {
                return Err(source.error(
                    Some(value.span()),
                    Some(format!("{prefix}.{key}")),
                    format!("the legacy list `{key}` is not accepted in permission profiles"),
                    Some(format!(
                        "write {} instead",
                        instead.replace("<profile>", profile)
                    )),
                ));
            }
        }
        let mut rules = NetworkRules {
            domains: match &self.domains {
                Some(map) => domain_entries(source, &prefix, map)?,
                None => Vec::new(),
            },
            unix_sockets: match &self.unix_sockets {
                Some(map) => socket_entries(source, &prefix, map)?,
                None => Vec::new(),
            },
            managed_allowed_domains_only: false,
            dangerously_allow_all_unix_sockets: self.dangerously_allow_all_unix_sockets,
            mode: self.mode.as_ref().map(|mode| ModeEntry {
                mode: *mode.get_ref(),
                at: format!("{} {prefix}.mode", source.locate(mode.span().start)),
            }),
            ..NetworkRules::default()
        };
        if let Some(expires) = &self.expires {
            rules.set_expiry(
                Expiry::new(source, expires, format!("{prefix}.expires")),
                today,
            );
        }
        Ok(rules)
    }
}

// Next to the other rule maps rather than in `codex_config`: the list becomes
// the same `NetworkRules` they do.
impl WorkspaceWriteTable {
    /// `allowlisted_domains` as allow entries, as of `today` (UTC): past
    /// `allowlist_expiry` they are in [`NetworkRules::expired`] instead.
    /// `Ok(None)` without the key. Errors as [`crate::CodexConfig::parse`]
    /// reports them.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when an `allowlisted_domains` entry is not a valid domain
    /// pattern, or is `*`.
    pub fn allowlist_rules(
        &self,
        source: &SourceFile,
        today: NaiveDate,
    ) -> Result<Option<NetworkRules>, ConfigError> {
        let Some(list) = &self.allowlisted_domains else {
            return Ok(None);
        };
        let mut rules = NetworkRules {
            domains: allowlist_entries(source, list)?,
            allowlist_at: Some(format!(
                "{} sandbox_workspace_write.allowlisted_domains",
                source.locate(list.span().start)
            )),
            ..NetworkRules::default()
        };
        if let Some(expiry) = &self.allowlist_expiry {
            rules.set_expiry(
                Expiry::new(source, expiry, "sandbox_workspace_write.allowlist_expiry"),
                today,
            );
        }
        Ok(Some(rules))
    }
}

/// `allowlisted_domains` as allow entries: each a domain pattern as in the
/// `domains` maps, located at the entry; `*` is refused, since it would make
/// the allowlist a no-op that still reads as one.
pub(super) fn allowlist_entries(
    source: &SourceFile,
    list: &Spanned<Vec<Spanned<String>>>,
) -> Result<Vec<DomainEntry>, ConfigError> {
    list.get_ref()
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let key = format!("sandbox_workspace_write.allowlisted_domains[{i}]");
            let entry = domain_entry(source, &key, text, DomainRule::Allow)?;
            if entry.pattern.is_global_wildcard() {
                return Err(source.error(
                    Some(text.span()),
                    Some(key),
                    "`*` in allowlisted_domains would allow every domain: the allowlist must \
                     name domains",
                    Some(
                        "list the domains the command needs (for an open network, remove \
                         allowlisted_domains)"
                            .to_owned(),
                    ),
                ));
            }
            Ok(entry)
        })
        .collect()
}

fn domain_entries(
    source: &SourceFile,
    prefix: &str,
    map: &Spanned<BTreeMap<String, Spanned<DomainRule>>>,
) -> Result<Vec<DomainEntry>, ConfigError> {
    map.get_ref()
        .iter()
        .map(|(pattern, rule)| {
            let located = Spanned::new(rule.span(), pattern.clone());
            domain_entry(
                source,
                &format!("{prefix}.domains"),
                &located,
                *rule.get_ref(),
            )
        })
        .collect()
}

fn domain_entry(
    source: &SourceFile,
    key: &str,
    text: &Spanned<String>,
    rule: DomainRule,
) -> Result<DomainEntry, ConfigError> {
    let pattern: DomainPattern = text.get_ref().parse().map_err(|e: DomainError| {
        source.error(Some(text.span()), Some(key.to_owned()), e.to_string(), None)
    })?;
    if rule == DomainRule::Deny && pattern.is_global_wildcard() {
        return Err(source.error(
            Some(text.span()),
            Some(key.to_owned()),
            "`*` cannot be denied: a global wildcard is only meaningful in an allow list \
             (the denylist-only posture)",
            Some("to refuse all network, turn network off instead".to_owned()),
        ));
    }
    Ok(DomainEntry {
        pattern,
        rule,
        at: source.locate(text.span().start).to_string(),
    })
}

fn socket_entries(
    source: &SourceFile,
    prefix: &str,
    map: &Spanned<BTreeMap<String, Spanned<SocketRule>>>,
) -> Result<Vec<SocketEntry>, ConfigError> {
    map.get_ref()
        .iter()
        .map(|(path, rule)| {
            socket_entry(
                source,
                &format!("{prefix}.unix_sockets"),
                path,
                rule.span(),
                *rule.get_ref(),
            )
        })
        .collect()
}

fn socket_entry(
    source: &SourceFile,
    key: &str,
    path: &str,
    span: std::ops::Range<usize>,
    rule: SocketRule,
) -> Result<SocketEntry, ConfigError> {
    let path = PathBuf::from(path);
    if !path.is_absolute() {
        return Err(source.error(
            Some(span),
            Some(key.to_owned()),
            format!("unix socket path {path:?} is relative"),
            Some("write the absolute path of the socket".to_owned()),
        ));
    }
    Ok(SocketEntry { path, rule })
}
