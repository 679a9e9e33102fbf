//! `[permissions.<profile>.filesystem]` in `config.toml`: the paths the
//! profile hides from sandboxed commands besides the defaults (`deny_read`),
//! and the defaults it shows again (`allow_read`).

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, SourceFile};
use crate::policy::ReadPath;

/// The most entries one list may hold: a bound on the mounts of every start.
pub const MAX_READ_RULES: usize = 1_000;

/// `[permissions.<profile>.filesystem]`.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SourceFile};
///
/// let text = br#"[permissions.workspace.filesystem]
/// deny_read = ["~/.config/gcloud"]
/// allow_read = ["~/.aws"]
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["workspace"].filesystem.as_ref().ok_or("no filesystem table")?;
/// assert_eq!(table.deny_entries(&source, "workspace")?[0].path.to_string(), "~/.config/gcloud");
/// assert_eq!(table.allow_entries(&source, "workspace")?[0].path.to_string(), "~/.aws");
///
/// // A relative path is refused when the file is parsed.
/// let text = b"[permissions.workspace.filesystem]\ndeny_read = [\"secrets\"]\n".to_vec();
/// assert!(CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), text)?).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ProfileFilesystemTable {
    /// Paths the command may not read (absolute, or `~/…`), hidden in
    /// addition to the default credential stores.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub deny_read: Vec<Spanned<String>>,
    /// Hidden paths to show again, each with everything below it: a default
    /// credential store the profile's commands need (`~/.aws`). The audit
    /// log and the elevation grants stay hidden.
    #[schemars(with = "Vec<String>")]
    #[serde(default)]
    pub allow_read: Vec<Spanned<String>>,
}

/// A `deny_read` or `allow_read` entry, checked, with where it is written.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SourceFile};
///
/// let text = b"[permissions.ci.filesystem]\ndeny_read = [\"~/.ssh\", \"/etc/ssl/private/\"]\n";
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["ci"].filesystem.as_ref().ok_or("no filesystem table")?;
/// let entries = table.deny_entries(&source, "ci")?;
/// // Normalized, and located for messages and explanations.
/// assert_eq!(entries[1].path.to_string(), "/etc/ssl/private");
/// assert_eq!(entries[1].at, "config.toml:2:24 permissions.ci.filesystem.deny_read[1]");
/// assert_eq!(&source.text()[entries[1].span.clone()], "\"/etc/ssl/private/\"");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReadRuleEntry {
    /// The path.
    pub path: ReadPath,
    /// `file:line:column key`.
    pub at: String,
    /// The entry's byte range in the file.
    pub span: std::ops::Range<usize>,
}

impl ProfileFilesystemTable {
    /// The `deny_read` entries of profile `profile`, checked; an entry that
    /// is not a path this table takes is a located error.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`], located at the entry, when `deny_read` holds more than
    /// [`MAX_READ_RULES`] entries or an entry that is not a valid [`ReadPath`] (empty,
    /// relative, `~user/…`, with `..`, a glob or NUL, `/` alone, or too long).
    pub fn deny_entries(
        &self,
        source: &SourceFile,
        profile: &str,
    ) -> Result<Vec<ReadRuleEntry>, ConfigError> {
        entries(
            source,
            &self.deny_read,
            &format!("permissions.{profile}.filesystem.deny_read"),
        )
    }

    /// The `allow_read` entries, checked likewise.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`], located at the entry, when `allow_read` holds more than
    /// [`MAX_READ_RULES`] entries or an entry that is not a valid [`ReadPath`] (empty,
    /// relative, `~user/…`, with `..`, a glob or NUL, `/` alone, or too long).
    pub fn allow_entries(
        &self,
        source: &SourceFile,
        profile: &str,
    ) -> Result<Vec<ReadRuleEntry>, ConfigError> {
        entries(
            source,
            &self.allow_read,
            &format!("permissions.{profile}.filesystem.allow_read"),
        )
    }

    /// Both lists checked, for the parser: errors surface when the file is
    /// read, not when a profile is chosen.
    pub(super) fn check(&self, source: &SourceFile, profile: &str) -> Result<(), ConfigError> {
        self.deny_entries(source, profile)?;
        self.allow_entries(source, profile)?;
        Ok(())
    }
}

fn entries(
    source: &SourceFile,
    list: &[Spanned<String>],
    key: &str,
) -> Result<Vec<ReadRuleEntry>, ConfigError> {
    if let Some(extra) = list.get(MAX_READ_RULES) {
        return Err(source.error(
            Some(extra.span()),
            Some(key.to_owned()),
            format!("more than {MAX_READ_RULES} entries"),
            Some("name directories rather than each file in them".to_owned()),
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, entry)| {
            let indexed = format!("{key}[{i}]");
            let path = entry.get_ref().parse::<ReadPath>().map_err(|e| {
                source.error(
                    Some(entry.span()),
                    Some(indexed.clone()),
                    e.to_string(),
                    Some("write an absolute path, or one under ~/".to_owned()),
                )
            })?;
            Ok(ReadRuleEntry {
                path,
                at: format!("{} {indexed}", source.locate(entry.span().start)),
                span: entry.span(),
            })
        })
        .collect()
}
