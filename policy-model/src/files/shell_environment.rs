//! `[shell_environment_policy]` of Codex's `config.toml`: which variables a
//! command inherits, as written, with the checks serde cannot make; resolved
//! into an [`EnvironmentPolicy`].
//!
//! Everything is kept [`Spanned`] so that an error, a finding of the
//! tightening check or `explain` points at the entry rather than the table.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{ConfigError, SourceFile};
use crate::policy::{
    EnvironmentInherit, EnvironmentPolicy, EnvironmentSetting, VariablePattern,
    VariablePatternError,
};

/// Most entries in `exclude`, `include_only` or `set`: real lists name a few
/// variables; the cap bounds the work per variable of every command.
const MAX_ENTRIES: usize = 1_000;

/// The table's name, the start of every key in its errors.
const TABLE: &str = "shell_environment_policy";

/// `[shell_environment_policy]`, Codex's keys as written. Unknown keys are
/// refused: a misspelt `exclude` would silently hand the command more.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, EnvironmentInherit, EnvironmentPolicy, SourceFile};
///
/// let text = b"[shell_environment_policy]\ninherit = \"core\"\nexclude = [\"AWS_*\"]\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text)?;
/// let config = CodexConfig::parse(&source)?;
/// let policy = EnvironmentPolicy::from_config(&source, config.shell_environment_policy.as_ref())?;
/// assert_eq!(policy.inherit.value, EnvironmentInherit::Core);
/// assert_eq!(policy.inherit.decided_by, "config.toml:2:11 shell_environment_policy.inherit");
///
/// // A pattern that could never match a name is refused at its entry.
/// let text = b"[shell_environment_policy]\nexclude = [\"AWS_KEY=x\"]\n".to_vec();
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text)?;
/// let err = CodexConfig::parse(&source).unwrap_err();
/// let key = err.diagnostic().and_then(|d| d.key.as_deref());
/// assert_eq!(key, Some("shell_environment_policy.exclude[0]"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ShellEnvironmentPolicyTable {
    /// `all` (default), `core` or `none`: what is inherited before filtering.
    #[schemars(with = "Option<EnvironmentInherit>")]
    pub inherit: Option<Spanned<EnvironmentInherit>>,
    /// `true` keeps variables the default excludes would drop (default
    /// `false`): names that look like credentials, matched case-insensitively
    /// (`*KEY*`, `*SECRET*`, `*TOKEN*`, `*PASSWORD*`, `*CREDENTIAL*` and
    /// shorter spellings such as `*PASSWD*`, `*_PWD`, `*PASS`, `*AUTHORIZATION*`
    /// or `*DSN*`; `codex-policy explain` prints the full list), and variables
    /// whose value holds a secret.
    #[schemars(with = "Option<bool>")]
    pub ignore_default_excludes: Option<Spanned<bool>>,
    /// Case-insensitive globs on names (`*`, `?`) to drop.
    #[schemars(with = "Option<Vec<VariablePattern>>")]
    pub exclude: Option<Spanned<Vec<Spanned<String>>>>,
    /// Variables to insert or override (name → value), after the excludes.
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub set: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
    /// When not empty, only names matching one of these globs are kept
    /// (`set`'s included).
    #[schemars(with = "Option<Vec<VariablePattern>>")]
    pub include_only: Option<Spanned<Vec<Spanned<String>>>>,
    /// Codex's switch to run commands through the user's shell profile;
    /// accepted so that Codex's files parse, without effect here.
    pub experimental_use_profile: Option<bool>,
}

impl ShellEnvironmentPolicyTable {
    /// What serde cannot check: patterns (not empty, no `=` or NUL, at most
    /// [`VariablePattern::MAX_LEN`] characters), `set`'s names (not empty,
    /// no `=` or NUL) and values (no NUL), and at most 1,000 entries in each
    /// list or in `set`. Errors carry file, line, column and the entry's key
    /// (`shell_environment_policy.exclude[2]`).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`], located at the entry, when a pattern, a `set` name or a `set`
    /// value breaks the rules above, or `exclude`, `include_only` or `set` has over 1,000 entries.
    pub fn check(&self, source: &SourceFile) -> Result<(), ConfigError> {
        self.resolve(source).map(|_| ())
    }

    fn resolve(&self, source: &SourceFile) -> Result<EnvironmentPolicy, ConfigError> {
        let at = |span: std::ops::Range<usize>, key: &str| {
            format!("{} {TABLE}.{key}", source.locate(span.start))
        };
        let mut policy = EnvironmentPolicy::default();
        if let Some(inherit) = &self.inherit {
            policy.inherit =
                EnvironmentSetting::new(*inherit.get_ref(), at(inherit.span(), "inherit"));
        }
        if let Some(flag) = &self.ignore_default_excludes {
            policy.ignore_default_excludes = EnvironmentSetting::new(
                *flag.get_ref(),
                at(flag.span(), "ignore_default_excludes"),
            );
        }
        if let Some(list) = &self.exclude {
            policy.exclude = EnvironmentSetting::new(
                patterns(source, list, "exclude")?,
                at(list.span(), "exclude"),
            );
        }
        if let Some(list) = &self.include_only {
            policy.include_only = EnvironmentSetting::new(
                patterns(source, list, "include_only")?,
                at(list.span(), "include_only"),
            );
        }
        if let Some(set) = &self.set {
            policy.set = EnvironmentSetting::new(set_entries(source, set)?, at(set.span(), "set"));
        }
        Ok(policy)
    }
}

impl EnvironmentPolicy {
    /// The policy `table` (from `source`) asks for; Codex's defaults for
    /// every key it leaves out, or for all of them without a table.
    ///
    /// Runs [`ShellEnvironmentPolicyTable::check`]: a table deserialized
    /// directly, without [`CodexConfig::parse`](super::CodexConfig::parse),
    /// may hold a pattern that matches nothing, and ignoring it would hand
    /// the command what the user meant to exclude.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when `table` fails [`ShellEnvironmentPolicyTable::check`];
    /// never when `table` is `None`.
    pub fn from_config(
        source: &SourceFile,
        table: Option<&ShellEnvironmentPolicyTable>,
    ) -> Result<Self, ConfigError> {
        table.map_or_else(|| Ok(Self::default()), |t| t.resolve(source))
    }
}

/// `shell_environment_policy.set.NAME`, the name quoted unless it is a bare
/// TOML key.
pub(crate) fn set_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    if bare {
        format!("{TABLE}.set.{name}")
    } else {
        format!("{TABLE}.set.{name:?}")
    }
}

fn too_many(
    source: &SourceFile,
    span: std::ops::Range<usize>,
    key: &str,
    len: usize,
) -> ConfigError {
    source.error(
        Some(span),
        Some(format!("{TABLE}.{key}")),
        format!("{len} entries; at most {MAX_ENTRIES} are accepted"),
        Some("match many names with one glob (`AWS_*`)".to_owned()),
    )
}

fn patterns(
    source: &SourceFile,
    list: &Spanned<Vec<Spanned<String>>>,
    key: &str,
) -> Result<Vec<VariablePattern>, ConfigError> {
    if list.get_ref().len() > MAX_ENTRIES {
        return Err(too_many(source, list.span(), key, list.get_ref().len()));
    }
    list.get_ref()
        .iter()
        .enumerate()
        .map(|(i, entry)| {
            entry
                .get_ref()
                .parse()
                .map_err(|err: VariablePatternError| {
                    let help = match err {
                        VariablePatternError::ContainsEquals(_) => {
                            "write a name or a glob on names; values go in \
                         [shell_environment_policy.set]"
                        }
                        VariablePatternError::TooLong { .. } => "shorten it with `*`",
                        _ => "write a name or a glob on names (`AWS_*`, `*TOKEN*`)",
                    };
                    source.error(
                        Some(entry.span()),
                        Some(format!("{TABLE}.{key}[{i}]")),
                        err.to_string(),
                        Some(help.to_owned()),
                    )
                })
        })
        .collect()
}

fn set_entries(
    source: &SourceFile,
    set: &Spanned<BTreeMap<Spanned<String>, Spanned<String>>>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    if set.get_ref().len() > MAX_ENTRIES {
        return Err(too_many(source, set.span(), "set", set.get_ref().len()));
    }
    let mut out = BTreeMap::new();
    for (name, value) in set.get_ref() {
        let key = Some(set_key(name.get_ref()));
        let problem = if name.get_ref().is_empty() {
            Some("the variable name is empty")
        } else if name.get_ref().contains('\0') {
            Some("the variable name contains a NUL character")
        } else if name.get_ref().contains('=') {
            Some("the variable name contains `=`, which would end it")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(source.error(
                Some(name.span()),
                key,
                problem,
                Some("write the variable's name alone".to_owned()),
            ));
        }
        if value.get_ref().contains('\0') {
            return Err(source.error(
                Some(value.span()),
                key,
                "the value contains a NUL character, which would end it",
                Some("remove the NUL (`\\u0000`)".to_owned()),
            ));
        }
        out.insert(name.get_ref().clone(), value.get_ref().clone());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    fn resolved(text: &str) -> Result<EnvironmentPolicy, ConfigError> {
        #[derive(Deserialize, schemars::JsonSchema)]
        struct Doc {
            shell_environment_policy: Option<ShellEnvironmentPolicyTable>,
        }
        let source = SourceFile::from_bytes(Path::new("config.toml"), text.as_bytes().to_vec())?;
        let doc: Doc = super::super::toml_source::parse_toml(&source)?;
        EnvironmentPolicy::from_config(&source, doc.shell_environment_policy.as_ref())
    }

    #[test]
    fn each_setting_says_where_it_was_decided() {
        let policy = resolved(
            "[shell_environment_policy]\ninherit = \"core\"\nexclude = [\"AWS_*\"]\n\
             [shell_environment_policy.set]\nA = \"1\"\n",
        )
        .unwrap();
        assert_eq!(policy.inherit.value, EnvironmentInherit::Core);
        assert_eq!(
            policy.inherit.decided_by,
            "config.toml:2:11 shell_environment_policy.inherit"
        );
        assert_eq!(
            policy.exclude.decided_by,
            "config.toml:3:11 shell_environment_policy.exclude"
        );
        assert!(
            policy
                .set
                .decided_by
                .ends_with(" shell_environment_policy.set"),
            "{}",
            policy.set.decided_by
        );
        assert_eq!(policy.include_only.decided_by, "default");
        assert_eq!(resolved("").unwrap(), EnvironmentPolicy::default());
    }

    #[test]
    fn set_keys_are_quoted_unless_bare() {
        assert_eq!(set_key("PATH"), "shell_environment_policy.set.PATH");
        assert_eq!(set_key("A B"), "shell_environment_policy.set.\"A B\"");
        assert_eq!(set_key("A\0"), "shell_environment_policy.set.\"A\\0\"");
    }
}
