//! Decisions: Codex's three for rules, and the four outcomes of program
//! definitions.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The decision of a rule (Codex's spelling). Ordered from least to most strict.
///
/// Deliberately exhaustive: these three are the whole vocabulary every other
/// result maps to ([`ProgramOutcome::decision`],
/// [`Verdict::decision`](crate::Verdict::decision)), and a caller that gates
/// commands should handle each one explicitly rather than through a
/// wildcard.
///
/// ```
/// use codex_execpolicy::Decision;
///
/// assert_eq!("prompt".parse::<Decision>(), Ok(Decision::Prompt));
/// let err = "deny".parse::<Decision>().unwrap_err();
/// assert_eq!(err.got(), "deny");
/// assert_eq!(err.to_string(), r#"decision must be "allow", "prompt" or "forbidden" (got "deny")"#);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// May run without approval.
    Allow,
    /// Needs explicit approval.
    Prompt,
    /// Must not run.
    Forbidden,
}

impl Decision {
    /// Parses `allow`, `prompt` or `forbidden` (as [`str::parse`] does).
    ///
    /// # Errors
    ///
    /// [`ParseDecisionError`] when `text` is not exactly `allow`, `prompt` or
    /// `forbidden` (case and surrounding spaces count).
    pub fn parse(text: &str) -> Result<Self, ParseDecisionError> {
        match text {
            "allow" => Ok(Self::Allow),
            "prompt" => Ok(Self::Prompt),
            "forbidden" => Ok(Self::Forbidden),
            other => Err(ParseDecisionError {
                got: other.to_owned(),
            }),
        }
    }

    /// The spelling in rules files and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Prompt => "prompt",
            Self::Forbidden => "forbidden",
        }
    }
}

impl FromStr for Decision {
    type Err = ParseDecisionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A decision spelled other than `allow`, `prompt` or `forbidden`.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{Decision, ParseDecisionError};
///
/// // The spelling is exact: case counts.
/// let err: ParseDecisionError = Decision::parse("Allow").unwrap_err();
/// assert_eq!(err.got(), "Allow");
/// assert_eq!(err.to_string(), r#"decision must be "allow", "prompt" or "forbidden" (got "Allow")"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("decision must be \"allow\", \"prompt\" or \"forbidden\" (got {got:?})")]
pub struct ParseDecisionError {
    got: String,
}

impl ParseDecisionError {
    /// The text that is not a decision.
    pub fn got(&self) -> &str {
        &self.got
    }
}

/// The outcome of a program definition for one command line. Ordered from least
/// to most strict.
///
/// Not exhaustive: match the outcomes you treat specially and map the rest
/// through [`ProgramOutcome::decision`], which every outcome has.
///
/// # Examples
///
/// The default policy defines `cat` and `ls`, with the options that keep them
/// read-only:
///
/// ```
/// use codex_execpolicy::{Decision, PolicyLoader, ProgramOutcome, Verdict};
///
/// let policy = PolicyLoader::with_default_policy()?.finish();
/// let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
/// let outcome = |s: &str| match policy.decide(&argv(s)) {
///     Some(Verdict::Program(outcome)) => Some(outcome),
///     _ => None,
/// };
/// assert_eq!(outcome("cat -n README.md"), Some(ProgramOutcome::Safe));
/// // An option the definition does not list.
/// assert_eq!(outcome("ls --hyperlink"), Some(ProgramOutcome::Unverified));
/// assert_eq!(ProgramOutcome::Unverified.decision(), Decision::Prompt);
/// assert!(ProgramOutcome::Safe < ProgramOutcome::Forbidden);
/// # Ok::<(), codex_execpolicy::LoadError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ProgramOutcome {
    /// Verified safe: only reads.
    Safe,
    /// Matches the definition; writes only to verified paths.
    Match,
    /// Not verified (unknown option, wrong argument): needs approval.
    Unverified,
    /// Explicitly forbidden.
    Forbidden,
}

impl ProgramOutcome {
    /// The equivalent rule decision.
    pub const fn decision(self) -> Decision {
        match self {
            Self::Safe | Self::Match => Decision::Allow,
            Self::Unverified => Decision::Prompt,
            Self::Forbidden => Decision::Forbidden,
        }
    }
}
