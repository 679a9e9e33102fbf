//! Codex's approval policies: when a person is asked before a command runs.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Codex's approval policies (`-a`/`--ask-for-approval`, `approval_policy`),
/// spelled as in its `config.toml`. The default is `on-request`.
///
/// ```
/// use codex_policy_model::ApprovalPolicy;
///
/// let mode: ApprovalPolicy = "on-failure".parse()?;
/// assert!(mode.asks_less_than(ApprovalPolicy::OnRequest));
/// assert_eq!(ApprovalPolicy::default(), ApprovalPolicy::OnRequest);
/// # Ok::<(), codex_policy_model::UnknownApprovalPolicy>(())
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ApprovalPolicy {
    /// Ask before anything the exec policy does not know to be safe.
    Untrusted,
    /// Ask when a sandboxed command fails, to run it again without the sandbox.
    OnFailure,
    /// Ask where a rule says `prompt`; the sandbox is the boundary otherwise.
    #[default]
    OnRequest,
    /// Never ask: what would ask is refused.
    Never,
}

impl ApprovalPolicy {
    /// Every policy, from the one that asks most to the one that asks least.
    pub const ALL: [Self; 4] = [
        Self::Untrusted,
        Self::OnRequest,
        Self::OnFailure,
        Self::Never,
    ];

    /// The spelling in `config.toml` and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Untrusted => "untrusted",
            Self::OnFailure => "on-failure",
            Self::OnRequest => "on-request",
            Self::Never => "never",
        }
    }

    /// How much runs without a person's say, from 0 (`untrusted`) to 3
    /// (`never`): `on-failure` can lift the sandbox after a failure, and
    /// `never` is meant for places where nobody watches.
    const fn looseness(self) -> u8 {
        match self {
            Self::Untrusted => 0,
            Self::OnRequest => 1,
            Self::OnFailure => 2,
            Self::Never => 3,
        }
    }

    /// Whether this policy lets more run without asking than `other`.
    pub const fn asks_less_than(self, other: Self) -> bool {
        self.looseness() > other.looseness()
    }
}

impl fmt::Display for ApprovalPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A name that is not an approval policy.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{ApprovalPolicy, UnknownApprovalPolicy};
///
/// let err = "always".parse::<ApprovalPolicy>().unwrap_err();
/// assert_eq!(err, UnknownApprovalPolicy("always".to_owned()));
/// assert!(err.to_string().ends_with("expected untrusted, on-request, on-failure or never"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown approval policy {0:?}; expected untrusted, on-request, on-failure or never")]
pub struct UnknownApprovalPolicy(pub String);

impl FromStr for ApprovalPolicy {
    type Err = UnknownApprovalPolicy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|mode| mode.as_str() == text)
            .ok_or_else(|| UnknownApprovalPolicy(text.to_owned()))
    }
}
