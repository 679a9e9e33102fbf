//! The environment a command starts with: Codex's `[shell_environment_policy]`
//! resolved into an [`EnvironmentPolicy`] that filters a set of variables.
//!
//! The order is Codex's: inherit (all, the core set, or none) → drop the
//! default excludes → drop `exclude` → insert `set` → keep only
//! `include_only`. One addition, part of the default excludes: a variable
//! whose *value* holds a known secret shape (a token, a key, a URL with a
//! password) is dropped whatever its name, since `DATABASE_URL` or `X` carry
//! credentials as well as `GITHUB_TOKEN` does.
//!
//! The secret shapes are those of `validate::secrets` (shared with the audit
//! log's redaction), the one thing here from a higher layer: a set of pure
//! text checks with nothing of validation in them.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::secret_shapes::find_secret;

/// Which of the parent's variables a command inherits before any filter.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, EnvironmentInherit, EnvironmentPolicy, SourceFile};
///
/// let text = "[shell_environment_policy]\ninherit = \"core\"\n";
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.into())?;
/// let config = CodexConfig::parse(&source)?;
/// let policy = EnvironmentPolicy::from_config(&source, config.shell_environment_policy.as_ref())?;
/// assert_eq!(policy.inherit.value, EnvironmentInherit::Core);
///
/// let parent = [("PATH".into(), "/usr/bin".into()), ("EDITOR".into(), "vi".into())];
/// assert_eq!(policy.apply(parent).kept, [("PATH".into(), "/usr/bin".into())]);
/// # Ok::<(), codex_policy_model::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum EnvironmentInherit {
    /// Every variable (Codex's default).
    #[default]
    All,
    /// Only `HOME`, `LOGNAME`, `PATH`, `SHELL`, `USER`, `USERNAME`, `TMPDIR`,
    /// `TEMP` and `TMP` (exact names, Codex's core set): what a shell needs
    /// to find programs, the user and a temporary directory.
    Core,
    /// Nothing: only what `set` adds.
    None,
}

impl EnvironmentInherit {
    /// Every value, in the order of the most inherited first.
    pub const ALL: [Self; 3] = [Self::All, Self::Core, Self::None];

    /// The name used in `config.toml`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Core => "core",
            Self::None => "none",
        }
    }
}

/// Hand-written so that a wrong type (`inherit = 1`) reads "expected one of
/// "all", "core", "none"" rather than the TOML parser's generic "wanted
/// string or table".
impl<'de> Deserialize<'de> for EnvironmentInherit {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InheritVisitor;
        impl serde::de::Visitor<'_> for InheritVisitor {
            type Value = EnvironmentInherit;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("one of \"all\", \"core\", \"none\"")
            }

            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<EnvironmentInherit, E> {
                EnvironmentInherit::ALL
                    .into_iter()
                    .find(|inherit| inherit.as_str() == name)
                    .ok_or_else(|| E::unknown_variant(name, &["all", "core", "none"]))
            }
        }
        deserializer.deserialize_str(InheritVisitor)
    }
}

impl fmt::Display for EnvironmentInherit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A case-insensitive glob on variable names: `*` matches any run of
/// characters (none included), `?` exactly one; everything else matches
/// itself, ignoring case. `*TOKEN*` matches `github_token`.
///
/// Matched by hand rather than with a glob crate (Codex uses `wildmatch`):
/// two wildcards and no character classes are a dozen lines, not worth a
/// dependency of the crate everything else builds on.
///
/// # Examples
///
/// ```
/// use codex_policy_model::VariablePattern;
///
/// let pattern: VariablePattern = "AWS_*".parse()?;
/// assert!(pattern.matches("aws_region") && pattern.matches("AWS_PROFILE"));
/// assert!(!pattern.matches("MY_AWS_KEY"));
/// assert_eq!(pattern.to_string(), "AWS_*"); // as written
/// # Ok::<(), codex_policy_model::VariablePatternError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct VariablePattern {
    text: String,
    folded: Vec<char>,
}

/// Why a string is not a [`VariablePattern`] (or a variable name `set` may
/// use: the same characters are refused there).
///
/// # Examples
///
/// ```
/// use codex_policy_model::{VariablePattern, VariablePatternError};
///
/// let err = "TOKEN=1".parse::<VariablePattern>().unwrap_err();
/// assert!(matches!(err, VariablePatternError::ContainsEquals(_)));
/// assert_eq!("".parse::<VariablePattern>(), Err(VariablePatternError::Empty));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VariablePatternError {
    /// The empty string: it would match only a variable without a name.
    #[error("the pattern is empty")]
    Empty,
    /// `=` ends a variable's name in the environment, so no name contains one.
    #[error("{0:?} contains `=`, which no variable name can contain")]
    ContainsEquals(String),
    /// NUL ends an environment entry, so no name contains one.
    #[error("the pattern contains a NUL character, which no variable name can contain")]
    ContainsNul,
    /// Longer than [`VariablePattern::MAX_LEN`].
    #[error("the pattern is {len} characters long; at most {max} are accepted")]
    TooLong {
        /// Its length in characters.
        len: usize,
        /// [`VariablePattern::MAX_LEN`].
        max: usize,
    },
}

impl VariablePattern {
    /// Longest pattern accepted, in characters: real ones are a few words,
    /// and the cap bounds the matching work per variable.
    pub const MAX_LEN: usize = 256;

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `name` matches, ignoring case.
    pub fn matches(&self, name: &str) -> bool {
        glob_match(&self.folded, &fold(name))
    }
}

impl FromStr for VariablePattern {
    type Err = VariablePatternError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(VariablePatternError::Empty);
        }
        if text.contains('\0') {
            return Err(VariablePatternError::ContainsNul);
        }
        if text.contains('=') {
            return Err(VariablePatternError::ContainsEquals(text.to_owned()));
        }
        let len = text.chars().count();
        if len > Self::MAX_LEN {
            return Err(VariablePatternError::TooLong {
                len,
                max: Self::MAX_LEN,
            });
        }
        Ok(Self {
            text: text.to_owned(),
            folded: fold(text),
        })
    }
}

impl<'de> Deserialize<'de> for VariablePattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for VariablePattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl fmt::Display for VariablePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for VariablePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VariablePattern({:?})", self.text)
    }
}

impl schemars::JsonSchema for VariablePattern {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VariablePattern".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A case-insensitive glob on variable names: `*` matches any run \
                            of characters, `?` exactly one (`*TOKEN*`, `AWS_*`). No `=` or NUL.",
            "minLength": 1,
            "maxLength": VariablePattern::MAX_LEN,
            "pattern": "^[^=\\u0000]+$"
        })
    }
}

/// Lower-cased characters: matching compares these, so that case never matters.
fn fold(text: &str) -> Vec<char> {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// `*` and `?` over folded characters. On a mismatch after a `*`, the star
/// takes one more character and matching resumes there: at most
/// pattern × name steps, never exponential.
fn glob_match(pattern: &[char], name: &[char]) -> bool {
    let (mut p, mut n) = (0, 0);
    // The last `*` seen and the name position it was tried at.
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some('*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == '?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((star_p, star_n)) => {
                    star = Some((star_p, star_n + 1));
                    p = star_p + 1;
                    n = star_n + 1;
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

/// One setting of an [`EnvironmentPolicy`] and where it was decided
/// (`config.toml:12:11 shell_environment_policy.inherit`, or `default`), as
/// `explain` shows every setting.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{
///     CodexConfig, EnvironmentInherit, EnvironmentPolicy, EnvironmentSetting, SourceFile,
/// };
///
/// let text = "[shell_environment_policy]\ninherit = \"none\"\n";
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.into())?;
/// let config = CodexConfig::parse(&source)?;
/// let policy = EnvironmentPolicy::from_config(&source, config.shell_environment_policy.as_ref())?;
///
/// let inherit: &EnvironmentSetting<EnvironmentInherit> = &policy.inherit;
/// assert_eq!(inherit.value, EnvironmentInherit::None);
/// assert_eq!(inherit.decided_by, "config.toml:2:11 shell_environment_policy.inherit");
/// assert_eq!(policy.exclude.decided_by, "default"); // not written
/// # Ok::<(), codex_policy_model::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EnvironmentSetting<T> {
    /// The value.
    pub value: T,
    /// Who decided it: `file:line:column key`, or `default`.
    pub decided_by: String,
}

impl<T> EnvironmentSetting<T> {
    pub(crate) fn new(value: T, decided_by: impl Into<String>) -> Self {
        Self {
            value,
            decided_by: decided_by.into(),
        }
    }

    fn default_of(value: T) -> Self {
        Self::new(value, "default")
    }
}

/// The environment a command gets, resolved from `[shell_environment_policy]`
/// (see [`EnvironmentPolicy::from_config`]); [`Default`] is Codex's default:
/// inherit everything but the default excludes.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct EnvironmentPolicy {
    /// Which variables are inherited.
    pub inherit: EnvironmentSetting<EnvironmentInherit>,
    /// `true` turns off [`Self::DEFAULT_EXCLUDES`] and the check of values
    /// for secrets.
    pub ignore_default_excludes: EnvironmentSetting<bool>,
    /// Names dropped after the default excludes.
    pub exclude: EnvironmentSetting<Vec<VariablePattern>>,
    /// Variables inserted (or overridden) after the excludes. Serialized as
    /// the names only: a value may be a credential.
    #[serde(serialize_with = "names_only")]
    pub set: EnvironmentSetting<BTreeMap<String, String>>,
    /// When not empty, only names matching one of these are kept, `set`'s
    /// included.
    pub include_only: EnvironmentSetting<Vec<VariablePattern>>,
}

impl Default for EnvironmentPolicy {
    fn default() -> Self {
        Self {
            inherit: EnvironmentSetting::default_of(EnvironmentInherit::All),
            ignore_default_excludes: EnvironmentSetting::default_of(false),
            exclude: EnvironmentSetting::default_of(Vec::new()),
            set: EnvironmentSetting::default_of(BTreeMap::new()),
            include_only: EnvironmentSetting::default_of(Vec::new()),
        }
    }
}

/// Debug without `set`'s values, for the same reason they are not serialized.
impl fmt::Debug for EnvironmentPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvironmentPolicy")
            .field("inherit", &self.inherit)
            .field("ignore_default_excludes", &self.ignore_default_excludes)
            .field("exclude", &self.exclude)
            .field("set", &self.set.value.keys().collect::<Vec<_>>())
            .field("set_decided_by", &self.set.decided_by)
            .field("include_only", &self.include_only)
            .finish()
    }
}

fn names_only<S: serde::Serializer>(
    set: &EnvironmentSetting<BTreeMap<String, String>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    EnvironmentSetting::new(set.value.keys().collect::<Vec<_>>(), set.decided_by.clone())
        .serialize(serializer)
}

/// The result of [`EnvironmentPolicy::apply`]: the variables the command
/// gets, and every inherited one it does not get, with why.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, EnvironmentPolicy, FilteredEnvironment, SourceFile};
///
/// let text = "[shell_environment_policy]\nexclude = [\"AWS_*\"]\nset = { CI = \"1\" }\n";
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.into())?;
/// let config = CodexConfig::parse(&source)?;
/// let policy = EnvironmentPolicy::from_config(&source, config.shell_environment_policy.as_ref())?;
///
/// let parent = [("PATH".into(), "/usr/bin".into()), ("AWS_PROFILE".into(), "prod".into())];
/// let filtered: FilteredEnvironment = policy.apply(parent);
/// assert_eq!(filtered.kept, [("PATH".into(), "/usr/bin".into()), ("CI".into(), "1".into())]);
/// assert_eq!(filtered.dropped[0].name, "AWS_PROFILE");
/// # Ok::<(), codex_policy_model::ConfigError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FilteredEnvironment {
    /// The command's environment: inherited variables in their order, then
    /// the ones `set` adds (by name).
    pub kept: Vec<(OsString, OsString)>,
    /// Variables not in the command's environment, in the order they were
    /// dropped.
    pub dropped: Vec<DroppedVariable>,
}

/// A variable left out of a command's environment. It holds the name only:
/// the value may be the very secret that got it dropped.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{DroppedVariable, EnvironmentPolicy};
///
/// let parent = [("DATABASE_URL".into(), "postgres://app:hunter2@db/app".into())];
/// let filtered = EnvironmentPolicy::default().apply(parent);
///
/// let dropped: &DroppedVariable = &filtered.dropped[0];
/// assert_eq!(dropped.name, "DATABASE_URL");
/// // What `explain` prints: the name and why, never the value.
/// assert_eq!(dropped.to_string(), "DATABASE_URL: the value holds a URL with a password");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DroppedVariable {
    /// The name (lossily decoded when it is not UTF-8).
    pub name: String,
    /// Why it was dropped.
    pub reason: DropReason,
}

impl fmt::Display for DroppedVariable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name.escape_debug(), self.reason)
    }
}

/// Why a variable was left out. Never carries the value.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{DropReason, EnvironmentPolicy};
///
/// let mut policy = EnvironmentPolicy::default();
/// policy.exclude.value = vec!["AWS_*".parse()?];
/// let filtered = policy.apply([
///     ("GITHUB_TOKEN".into(), "t".into()),
///     ("AWS_PROFILE".into(), "prod".into()),
/// ]);
///
/// let reasons: Vec<&DropReason> = filtered.dropped.iter().map(|d| &d.reason).collect();
/// assert_eq!(reasons[0], &DropReason::DefaultExclude { pattern: "*TOKEN*" });
/// assert!(matches!(reasons[1], DropReason::Excluded { pattern } if pattern.as_str() == "AWS_*"));
/// # Ok::<(), codex_policy_model::VariablePatternError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DropReason {
    /// `inherit` is `core` (and the name is not a core variable) or `none`.
    NotInherited,
    /// The name matches a default exclude ([`EnvironmentPolicy::DEFAULT_EXCLUDES`]).
    DefaultExclude {
        /// The pattern it matched.
        pattern: &'static str,
    },
    /// The value holds a known secret shape (a default exclude of ours).
    SecretValue {
        /// What the value looks like (`a GitHub token`, `a URL with a password`).
        kind: &'static str,
    },
    /// The name matches an `exclude` pattern.
    Excluded {
        /// The pattern it matched.
        pattern: VariablePattern,
    },
    /// `include_only` is set and the name matches none of its patterns.
    NotIncluded,
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotInherited => f.write_str("not inherited"),
            Self::DefaultExclude { pattern } => {
                write!(f, "the name matches the default exclude `{pattern}`")
            }
            Self::SecretValue { kind } => write!(f, "the value holds {kind}"),
            Self::Excluded { pattern } => {
                write!(
                    f,
                    "the name matches exclude pattern `{}`",
                    pattern.as_str().escape_debug()
                )
            }
            Self::NotIncluded => f.write_str("the name matches no include_only pattern"),
        }
    }
}

impl EnvironmentPolicy {
    /// What `inherit = "core"` keeps (Codex's list).
    pub const CORE_VARIABLES: &[&str] = &[
        "HOME", "LOGNAME", "PATH", "SHELL", "USER", "USERNAME", "TMPDIR", "TEMP", "TMP",
    ];

    /// Names dropped unless `ignore_default_excludes = true`: Codex's three,
    /// two more words that name credentials, the shorter spellings clients
    /// read passwords from (`MYSQL_PWD`, `SSHPASS`, `DB_PASSWD`, `ADMIN_PW`,
    /// `NPM_CONFIG__AUTH`, `SESSION_COOKIE`, `GIT_CREDS`, `GPG_PASSPHRASE`) —
    /// as prefixes or suffixes where the word alone is common (`PWD`,
    /// `OLDPWD`, `SSH_AUTH_SOCK` and `PASSWD_FILE`-like names with the word
    /// inside are judged by the longer patterns) — and the names of values
    /// that carry one (`AUTHORIZATION`, `DOCKER_AUTH_CONFIG`, a connection
    /// string, a DSN, a webhook URL). Case-insensitive.
    pub const DEFAULT_EXCLUDES: &[&str] = &[
        "*KEY*",
        "*SECRET*",
        "*TOKEN*",
        "*PASSWORD*",
        "*CREDENTIAL*",
        "*PASSWD*",
        "*CREDS*",
        "*COOKIE*",
        "*_PWD",
        "*_PW",
        "*PASS",
        "PASS_*",
        "*_PASS_*",
        "*PASSPHRASE*",
        "*_AUTH",
        "*AUTHORIZATION*",
        "*AUTH_CONFIG*",
        "*CONNECTION_STRING*",
        "*DSN*",
        "*WEBHOOK*",
    ];

    /// Filters `vars` (a parent's environment) into the command's. Names and
    /// values that are not UTF-8 are matched and checked lossily and kept as
    /// they are. A name given twice keeps its last value, at its first place.
    ///
    /// ```
    /// use codex_policy_model::EnvironmentPolicy;
    ///
    /// let parent = vec![
    ///     ("PATH".into(), "/usr/bin".into()),
    ///     ("GITHUB_TOKEN".into(), "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB".into()),
    ///     ("DATABASE_URL".into(), "postgres://app:hunter2@db/app".into()),
    /// ];
    /// let filtered = EnvironmentPolicy::default().apply(parent);
    /// // Only PATH reaches the command: a secret-like name, and a URL with a password.
    /// assert_eq!(filtered.kept, vec![("PATH".into(), "/usr/bin".into())]);
    /// let dropped: Vec<&str> = filtered.dropped.iter().map(|d| d.name.as_str()).collect();
    /// assert_eq!(dropped, ["GITHUB_TOKEN", "DATABASE_URL"]);
    /// ```
    pub fn apply(
        &self,
        vars: impl IntoIterator<Item = (OsString, OsString)>,
    ) -> FilteredEnvironment {
        let mut out = FilteredEnvironment::default();
        // A name `set` puts back is in the environment after all.
        let set_back = |name: &OsString| {
            name.to_str()
                .is_some_and(|n| self.set.value.contains_key(n))
        };
        let mut discard = |name: &OsString, reason| {
            if !set_back(name) {
                out.dropped.push(DroppedVariable {
                    name: name.to_string_lossy().into_owned(),
                    reason,
                });
            }
        };

        let mut inherited: Vec<(OsString, OsString)> = Vec::new();
        let mut index: HashMap<OsString, usize> = HashMap::new();
        for (name, value) in vars {
            match index.get(&name) {
                Some(&i) => inherited[i].1 = value,
                None => {
                    index.insert(name.clone(), inherited.len());
                    inherited.push((name, value));
                }
            }
        }

        let default_excludes: Vec<(&'static str, Vec<char>)> = if self.ignore_default_excludes.value
        {
            Vec::new()
        } else {
            Self::DEFAULT_EXCLUDES
                .iter()
                .map(|p| (*p, fold(p)))
                .collect()
        };
        let mut kept = Vec::with_capacity(inherited.len());
        for (name, value) in inherited {
            let lossy = name.to_string_lossy();
            let inherit = match self.inherit.value {
                EnvironmentInherit::All => true,
                EnvironmentInherit::Core => Self::CORE_VARIABLES.contains(&lossy.as_ref()),
                EnvironmentInherit::None => false,
            };
            if !inherit {
                discard(&name, DropReason::NotInherited);
                continue;
            }
            let folded = fold(&lossy);
            if let Some((pattern, _)) = default_excludes
                .iter()
                .find(|(_, p)| glob_match(p, &folded))
            {
                discard(&name, DropReason::DefaultExclude { pattern });
                continue;
            }
            if !self.ignore_default_excludes.value
                && let Some(kind) = secret_in_value(&value.to_string_lossy())
            {
                discard(&name, DropReason::SecretValue { kind });
                continue;
            }
            if let Some(pattern) = self
                .exclude
                .value
                .iter()
                .find(|p| glob_match(&p.folded, &folded))
            {
                discard(
                    &name,
                    DropReason::Excluded {
                        pattern: pattern.clone(),
                    },
                );
                continue;
            }
            kept.push((name, value));
        }

        let position: HashMap<OsString, usize> = kept
            .iter()
            .enumerate()
            .map(|(i, (name, _))| (name.clone(), i))
            .collect();
        for (name, value) in &self.set.value {
            let (name, value) = (OsString::from(name), OsString::from(value));
            match position.get(&name) {
                Some(&i) => kept[i].1 = value,
                None => kept.push((name, value)),
            }
        }

        if !self.include_only.value.is_empty() {
            kept.retain(|(name, _)| {
                let lossy = name.to_string_lossy();
                let included = self.include_only.value.iter().any(|p| p.matches(&lossy));
                if !included {
                    out.dropped.push(DroppedVariable {
                        name: lossy.into_owned(),
                        reason: DropReason::NotIncluded,
                    });
                }
                included
            });
        }
        out.kept = kept;
        out
    }

    /// What `apply` would drop of `vars`, each as `NAME: why`, sorted
    /// (values are never shown): what `explain` and `doctor` print.
    pub fn dropped(&self, vars: impl IntoIterator<Item = (OsString, OsString)>) -> Vec<String> {
        let mut dropped: Vec<String> = self
            .apply(vars)
            .dropped
            .iter()
            .map(ToString::to_string)
            .collect();
        dropped.sort();
        dropped
    }

    /// The policy in a few lines, for `explain`: inherit, the excludes,
    /// include_only and the names `set` sets (never their values), each
    /// with where it was decided.
    pub fn describe(&self) -> Vec<String> {
        let patterns = |list: &[VariablePattern]| {
            list.iter()
                .map(|p| p.as_str().escape_debug().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut lines = vec![format!(
            "inherit: {} ({})",
            self.inherit.value, self.inherit.decided_by
        )];
        lines.push(if self.ignore_default_excludes.value {
            format!(
                "default excludes: off ({})",
                self.ignore_default_excludes.decided_by
            )
        } else {
            format!(
                "default excludes: names {} and values holding a secret ({})",
                Self::DEFAULT_EXCLUDES.join(", "),
                self.ignore_default_excludes.decided_by
            )
        });
        if !self.exclude.value.is_empty() {
            lines.push(format!(
                "exclude: {} ({})",
                patterns(&self.exclude.value),
                self.exclude.decided_by
            ));
        }
        if !self.set.value.is_empty() {
            let names: Vec<String> = self
                .set
                .value
                .keys()
                .map(|n| n.escape_debug().to_string())
                .collect();
            lines.push(format!(
                "set: {} ({})",
                names.join(", "),
                self.set.decided_by
            ));
        }
        if !self.include_only.value.is_empty() {
            lines.push(format!(
                "include_only: {} ({})",
                patterns(&self.include_only.value),
                self.include_only.decided_by
            ));
        }
        lines
    }
}

/// The secret a value holds, in words: a known token or key shape, or a URL
/// with a password in its user info.
fn secret_in_value(value: &str) -> Option<&'static str> {
    if let Some(kind) = find_secret(value) {
        return Some(kind.describe());
    }
    if url_with_password(value) {
        return Some("a URL with a password");
    }
    if connection_string_password(value) {
        return Some("a connection string with a password or key");
    }
    if authorization(value) {
        return Some("an HTTP authorization");
    }
    if url_with_token_user(value) {
        return Some("a URL with a key in its user name");
    }
    if value.contains("hooks.slack.com/services/") {
        return Some("a Slack webhook");
    }
    glued_token(value)
}

/// `Authorization: Basic …`, `Bearer …` (a header written into a variable,
/// as `GIT_CONFIG_VALUE_0` or `AUTHORIZATION` carry them).
fn authorization(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    ["basic ", "bearer ", "token "].iter().any(|scheme| {
        lower.match_indices(scheme).any(|(at, _)| {
            let before = lower[..at].trim_end();
            let starts = before.is_empty() || before.ends_with(':') || before.ends_with('=');
            let credential = &value[at + scheme.len()..];
            let run = credential
                .bytes()
                .take_while(|b| b.is_ascii_alphanumeric() || b"+/=._-".contains(b))
                .count();
            starts && run >= 8
        })
    })
}

/// `scheme://<long key>@host`: a key in the user name, no password (a
/// Sentry DSN, a token used as user).
fn url_with_token_user(text: &str) -> bool {
    text.match_indices("://").any(|(at, _)| {
        let after = &text[at + 3..];
        let authority_end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        after[..authority_end]
            .rsplit_once('@')
            .is_some_and(|(user, _)| {
                !user.contains(':')
                    && user.len() >= 20
                    && user
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
            })
    })
}

/// A token prefix glued to what comes before it (`x_ghp_…`, `1AKIA…`), which
/// the whole-word shapes do not see: each prefix found anywhere, followed by
/// enough characters of the token's own alphabet. Stricter than the audit
/// log's redaction needs to be, since a dropped variable costs less than a
/// leaked one; generic prefixes (`sk-`) stay whole-word only, since they
/// occur inside ordinary words.
fn glued_token(value: &str) -> Option<&'static str> {
    /// Which bytes a token's body is made of.
    type Alphabet = fn(u8) -> bool;
    let alnum: Alphabet = |b| b.is_ascii_alphanumeric();
    let alnum_underscore: Alphabet = |b| b.is_ascii_alphanumeric() || b == b'_';
    let alnum_dash: Alphabet = |b| b.is_ascii_alphanumeric() || b == b'-';
    let upper_digit: Alphabet = |b| b.is_ascii_uppercase() || b.is_ascii_digit();
    let prefixes: [(&str, usize, Alphabet, &str); 12] = [
        ("ghp_", 30, alnum, "a GitHub token"),
        ("gho_", 30, alnum, "a GitHub token"),
        ("ghs_", 30, alnum, "a GitHub token"),
        ("ghu_", 30, alnum, "a GitHub token"),
        ("github_pat_", 30, alnum_underscore, "a GitHub token"),
        ("glpat-", 20, alnum_dash, "a GitLab token"),
        ("xoxb-", 20, alnum_dash, "a Slack token"),
        ("xoxp-", 20, alnum_dash, "a Slack token"),
        ("npm_", 30, alnum, "an npm token"),
        ("AKIA", 16, upper_digit, "an AWS access key id"),
        ("hvs.", 20, alnum_underscore, "a Vault token"),
        ("hf_", 30, alnum, "a Hugging Face token"),
    ];
    prefixes.iter().find_map(|(prefix, min, alphabet, kind)| {
        value.match_indices(prefix).find_map(|(at, _)| {
            let rest = &value.as_bytes()[at + prefix.len()..];
            let run = rest.iter().take_while(|&&b| alphabet(b)).count();
            (run >= *min).then_some(*kind)
        })
    })
}

/// `Password=…;` / `pwd=…` / `AccountKey=…` / `SharedAccessKey=…` in an
/// ADO.NET, ODBC, JDBC or Azure connection string (spaces around `=`
/// allowed).
fn connection_string_password(value: &str) -> bool {
    let lower: String = value
        .to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" =", "=")
        .replace("= ", "=");
    [
        "password=",
        "pwd=",
        "accountkey=",
        "sharedaccesskey=",
        "sharedaccesssignature=",
    ]
    .iter()
    .any(|key| {
        lower.match_indices(key).any(|(at, _)| {
            let before = lower[..at].chars().next_back();
            let starts_key = before.is_none_or(|c| matches!(c, ';' | '?' | '&' | ' ' | ':'));
            let after = &lower[at + key.len()..];
            starts_key && after.chars().next().is_some_and(|c| c != ';' && c != '&')
        })
    })
}

/// Whether `text` holds `scheme://user:password@host` (any user, a
/// non-empty password) anywhere, e.g. `postgres://app:pw@db/prod`.
fn url_with_password(text: &str) -> bool {
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let scheme = rest[..at]
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .next()
            .unwrap_or_default();
        let after = &rest[at + 3..];
        let authority_end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..authority_end];
        let starts_with_letter = scheme.starts_with(|c: char| c.is_ascii_alphabetic());
        if starts_with_letter
            && let Some((user_info, _host)) = authority.rsplit_once('@')
            && user_info
                .split_once(':')
                .is_some_and(|(_, password)| !password.is_empty())
        {
            return true;
        }
        rest = after;
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn glued_tokens_and_connection_strings_are_secret_values() {
        for (value, secret) in [
            ("abc_ghp_abcdefghijklmnopqrstuvwxyz0123456789", true),
            ("1AKIAIOSFODNN7EXAMPLE", true),
            ("xoxb-1234567890-abcdefghijklmnop", true),
            ("Server=db;Database=app;User Id=u;Password=hunter2;", true),
            ("jdbc:mysql://db/app?user=u&password=pw", true),
            ("task-runner-with-a-very-long-name-here", false),
            ("Password=;", false),
            ("npm_config_cache", false),
            ("AKIAlowercase0000000000", false),
            (
                "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=abc==",
                true,
            ),
            ("Driver={x};PWD = hunter2;", true),
            ("AUTHORIZATION: basic dXNlcjpwYXNzd29yZA==", true),
            ("Bearer abcdefghijklmnop", true),
            (
                "https://0123456789abcdef0123456789abcdef@o1.ingest.sentry.io/1",
                true,
            ),
            ("https://hooks.slack.com/services/T000/B000/XXXX", true),
            (
                "hvs.CAESIJlU9JMYEhOPYv4igdhm9PnZDrabYTobQ4Ymnlq1qY-LGh4KHGh2",
                true,
            ),
            ("git@github.com:org/repo.git", false),
            ("token expired", false),
            ("https://user@example.com/x", false),
        ] {
            assert_eq!(super::secret_in_value(value).is_some(), secret, "{value}");
        }
    }

    use super::*;

    fn pattern(text: &str) -> VariablePattern {
        text.parse().unwrap()
    }

    fn env(vars: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        vars.iter()
            .map(|(n, v)| (OsString::from(n), OsString::from(v)))
            .collect()
    }

    fn kept_names(filtered: &FilteredEnvironment) -> Vec<String> {
        filtered
            .kept
            .iter()
            .map(|(n, _)| n.to_string_lossy().into_owned())
            .collect()
    }

    fn reasons(filtered: &FilteredEnvironment) -> Vec<(String, DropReason)> {
        filtered
            .dropped
            .iter()
            .map(|d| (d.name.clone(), d.reason.clone()))
            .collect()
    }

    fn with(f: impl FnOnce(&mut EnvironmentPolicy)) -> EnvironmentPolicy {
        let mut policy = EnvironmentPolicy::default();
        f(&mut policy);
        policy
    }

    const GITHUB: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

    #[test]
    fn patterns_are_case_insensitive_globs() {
        let p = pattern("*TOKEN*");
        for name in ["github_token", "TOKEN", "my_Token_x", "tokens"] {
            assert!(p.matches(name), "{name}");
        }
        assert!(!p.matches("TOKE"));
        let q = pattern("A?C");
        assert!(q.matches("abc") && q.matches("A-C"));
        assert!(!q.matches("AC") && !q.matches("ABBC"));
        let multi = pattern("*a*b*c*");
        assert!(multi.matches("xxAyyBzzC") && multi.matches("abc"));
        assert!(!multi.matches("acb"));
        assert!(pattern("*").matches("") && pattern("**").matches("ANY"));
        assert!(!pattern("?").matches("") && !pattern("A").matches(""));
        assert!(pattern("A*").matches("a") && !pattern("A*B").matches("a"));
        // Backtracking past an earlier partial match.
        assert!(pattern("*ab").matches("aab") && pattern("a*ab").matches("aaab"));
        // Literal characters are literal: no classes, no escapes.
        assert!(pattern("[ab]").matches("[AB]") && !pattern("[ab]").matches("a"));
        // Non-ASCII folds too.
        assert!(pattern("ÄPFEL*").matches("äpfel_x"));
        // Many stars do not blow up.
        let long = "*a".repeat(100);
        assert!(!pattern(&long).matches(&"a".repeat(99)));
    }

    #[test]
    fn patterns_refuse_what_no_name_holds() {
        assert_eq!(
            "".parse::<VariablePattern>(),
            Err(VariablePatternError::Empty)
        );
        assert!(matches!(
            "A=B".parse::<VariablePattern>(),
            Err(VariablePatternError::ContainsEquals(_))
        ));
        assert_eq!(
            "A\0".parse::<VariablePattern>(),
            Err(VariablePatternError::ContainsNul)
        );
        assert!(matches!(
            "x".repeat(257).parse::<VariablePattern>(),
            Err(VariablePatternError::TooLong { len: 257, max: 256 })
        ));
        assert!("x".repeat(256).parse::<VariablePattern>().is_ok());
    }

    #[test]
    fn inherit_all_core_none() {
        let vars = env(&[
            ("PATH", "/bin"),
            ("HOME", "/h"),
            ("EDITOR", "vi"),
            ("path", "x"),
        ]);
        let all = EnvironmentPolicy::default().apply(vars.clone());
        assert_eq!(kept_names(&all), ["PATH", "HOME", "EDITOR", "path"]);
        assert!(all.dropped.is_empty());

        let core = with(|p| p.inherit.value = EnvironmentInherit::Core).apply(vars.clone());
        assert_eq!(kept_names(&core), ["PATH", "HOME"]);
        assert_eq!(
            reasons(&core),
            [
                ("EDITOR".to_owned(), DropReason::NotInherited),
                ("path".to_owned(), DropReason::NotInherited)
            ]
        );

        let none = with(|p| {
            p.inherit.value = EnvironmentInherit::None;
            p.set.value.insert("ONLY".into(), "1".into());
        })
        .apply(vars);
        assert_eq!(kept_names(&none), ["ONLY"]);
        assert_eq!(none.dropped.len(), 4);
    }

    #[test]
    fn default_excludes_drop_secret_names_in_any_case() {
        let vars = env(&[
            ("github_token", "x"),
            ("MY_Api_Key", "x"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("DB_Password", "x"),
            ("gcp_credentials", "x"),
            ("client_secret", "x"),
            ("EDITOR", "vi"),
        ]);
        let got = EnvironmentPolicy::default().apply(vars.clone());
        assert_eq!(kept_names(&got), ["EDITOR"]);
        let patterns: Vec<_> = got
            .dropped
            .iter()
            .map(|d| match d.reason {
                DropReason::DefaultExclude { pattern } => pattern,
                _ => panic!("{d}"),
            })
            .collect();
        assert_eq!(
            patterns,
            [
                "*TOKEN*",
                "*KEY*",
                "*KEY*",
                "*PASSWORD*",
                "*CREDENTIAL*",
                "*SECRET*"
            ]
        );
        assert!(
            got.dropped[0]
                .to_string()
                .contains("matches the default exclude `*TOKEN*`")
        );
        let all = with(|p| p.ignore_default_excludes.value = true).apply(vars);
        assert_eq!(all.kept.len(), 7);
    }

    #[test]
    fn secret_shaped_values_are_dropped_under_any_name() {
        let vars = env(&[
            ("X", GITHUB),
            ("DATABASE_URL", "postgres://u:pw@h/db"),
            (
                "LIST",
                "a https://example.com b redis://:hunter2@cache:6379",
            ),
            ("PLAIN_URL", "https://user@example.com/x?a=b:c@d"),
            ("EMPTY_USERINFO", "postgres://u:@h/db"),
            ("PEM", "-----BEGIN RSA PRIVATE KEY-----\nabc"),
            ("EDITOR", "vi"),
        ]);
        let got = EnvironmentPolicy::default().apply(vars.clone());
        assert_eq!(kept_names(&got), ["PLAIN_URL", "EMPTY_USERINFO", "EDITOR"]);
        assert_eq!(
            reasons(&got),
            [
                (
                    "X".to_owned(),
                    DropReason::SecretValue {
                        kind: "a GitHub token"
                    }
                ),
                (
                    "DATABASE_URL".to_owned(),
                    DropReason::SecretValue {
                        kind: "a URL with a password"
                    }
                ),
                (
                    "LIST".to_owned(),
                    DropReason::SecretValue {
                        kind: "a URL with a password"
                    }
                ),
                (
                    "PEM".to_owned(),
                    DropReason::SecretValue {
                        kind: "a private key"
                    }
                ),
            ]
        );
        // The reason names the kind, never the value.
        for dropped in &got.dropped {
            let text = dropped.to_string();
            assert!(!text.contains("ghp_") && !text.contains("pw@") && !text.contains("hunter2"));
            assert!(!format!("{dropped:?}").contains("hunter2"));
        }
        let all = with(|p| p.ignore_default_excludes.value = true).apply(vars);
        assert_eq!(all.kept.len(), 7);
        assert!(all.dropped.is_empty());
    }

    #[test]
    fn exclude_set_and_include_only_in_codex_order() {
        let vars = env(&[
            ("PATH", "/bin"),
            ("AWS_REGION", "eu"),
            ("aws_profile", "p"),
            ("LANG", "C"),
            ("HOME", "/h"),
        ]);
        let got = with(|p| {
            p.exclude.value = vec![pattern("aws_*")];
            p.set.value.insert("LANG".into(), "C.UTF-8".into());
            p.set.value.insert("AWS_REGION".into(), "us".into());
            p.set.value.insert("NEW".into(), "1".into());
            p.include_only.value = vec![pattern("PATH"), pattern("LANG"), pattern("aws_r*")];
        })
        .apply(vars);
        // `set` overrides in place and puts back an excluded name;
        // include_only filters what `set` added too (NEW).
        assert_eq!(
            got.kept,
            env(&[("PATH", "/bin"), ("LANG", "C.UTF-8"), ("AWS_REGION", "us")])
        );
        assert_eq!(
            reasons(&got),
            [
                (
                    "aws_profile".to_owned(),
                    DropReason::Excluded {
                        pattern: pattern("aws_*")
                    }
                ),
                ("HOME".to_owned(), DropReason::NotIncluded),
                ("NEW".to_owned(), DropReason::NotIncluded),
            ]
        );
        assert_eq!(
            got.dropped[0].to_string(),
            "aws_profile: the name matches exclude pattern `aws_*`"
        );
    }

    #[test]
    fn set_may_set_a_name_the_default_excludes_drop() {
        let got = with(|p| {
            p.set.value.insert("GITHUB_TOKEN".into(), "chosen".into());
        })
        .apply(env(&[("GITHUB_TOKEN", GITHUB)]));
        assert_eq!(got.kept, env(&[("GITHUB_TOKEN", "chosen")]));
        assert!(got.dropped.is_empty());
    }

    #[test]
    fn a_repeated_name_keeps_its_last_value() {
        let got = EnvironmentPolicy::default().apply(env(&[("A", "1"), ("B", "2"), ("A", GITHUB)]));
        assert_eq!(kept_names(&got), ["B"]);
        assert_eq!(got.dropped[0].name, "A");
    }

    #[cfg(unix)]
    #[test]
    fn names_and_values_that_are_not_utf8_do_not_panic() {
        use std::os::unix::ffi::OsStringExt;
        let bad_name = OsString::from_vec(b"MY_\xffTOKEN".to_vec());
        let bad_value =
            OsString::from_vec(b"\xfe ghp_abcdefghijklmnopqrstuvwxyz0123456789".to_vec());
        let odd = OsString::from_vec(b"ODD\xff".to_vec());
        let fine = OsString::from_vec(b"\xff\xfe".to_vec());
        let got = EnvironmentPolicy::default().apply([
            (bad_name, OsString::from("x")),
            (OsString::from("V"), bad_value),
            (odd.clone(), fine.clone()),
        ]);
        assert_eq!(got.kept, [(odd.clone(), fine.clone())]);
        assert_eq!(got.dropped[0].name, "MY_\u{fffd}TOKEN");
        assert!(matches!(
            got.dropped[1].reason,
            DropReason::SecretValue { .. }
        ));

        let core = with(|p| p.inherit.value = EnvironmentInherit::Core)
            .apply([(odd.clone(), fine.clone())]);
        assert_eq!(core.dropped[0].name, "ODD\u{fffd}");
        let only = with(|p| p.include_only.value = vec![pattern("ODD?")]).apply([(odd, fine)]);
        assert_eq!(only.kept.len(), 1);
    }

    #[test]
    fn description_names_set_variables_but_never_values() {
        let policy = with(|p| {
            p.inherit = EnvironmentSetting::new(
                EnvironmentInherit::Core,
                "config.toml:2:11 shell_environment_policy.inherit",
            );
            p.exclude.value = vec![pattern("AWS_*")];
            p.set
                .value
                .insert("LD_PRELOAD".into(), "/secret/value.so".into());
            p.include_only.value = vec![pattern("PATH")];
        });
        let lines = policy.describe();
        assert_eq!(
            lines,
            [
                "inherit: core (config.toml:2:11 shell_environment_policy.inherit)",
                &format!(
                    "default excludes: names {} and values holding a secret (default)",
                    EnvironmentPolicy::DEFAULT_EXCLUDES.join(", ")
                ),
                "exclude: AWS_* (default)",
                "set: LD_PRELOAD (default)",
                "include_only: PATH (default)",
            ]
        );
        let json = serde_json::to_string(&policy).unwrap();
        assert!(
            json.contains("LD_PRELOAD") && !json.contains("/secret/value.so"),
            "{json}"
        );
        assert!(!format!("{policy:?}").contains("/secret/value.so"));
        assert_eq!(
            EnvironmentPolicy::default().describe(),
            [
                "inherit: all (default)",
                &format!(
                    "default excludes: names {} and values holding a secret (default)",
                    EnvironmentPolicy::DEFAULT_EXCLUDES.join(", ")
                )
            ]
        );
    }

    #[test]
    fn urls_with_passwords() {
        for yes in [
            "postgres://u:pw@h/db",
            "x=mysql://root:p@ss@db:3306",
            "git+https://a:b@host",
            "(redis://:pw@h)",
        ] {
            assert!(url_with_password(yes), "{yes}");
        }
        for no in [
            "https://example.com/a:b@c",
            "https://user@host",
            "postgres://u:@h",
            "://a:b@c",
            "1://a:b@c",
            "plain text",
            "",
        ] {
            assert!(!url_with_password(no), "{no}");
        }
    }
}
