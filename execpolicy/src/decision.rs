//! Decisions: Codex's three for rules, and the four outcomes of program
//! definitions.

use serde::{Deserialize, Serialize};

/// The decision of a rule (Codex's spelling). Ordered from least to most strict.
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
    /// Parses `allow`, `prompt` or `forbidden`.
    pub fn parse(text: &str) -> Result<Self, String> {
        match text {
            "allow" => Ok(Self::Allow),
            "prompt" => Ok(Self::Prompt),
            "forbidden" => Ok(Self::Forbidden),
            other => Err(format!(
                "decision must be \"allow\", \"prompt\" or \"forbidden\" (got {other:?})"
            )),
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

/// The outcome of a program definition for one command line. Ordered from least
/// to most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
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
