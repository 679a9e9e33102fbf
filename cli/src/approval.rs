//! Approval: what each approval policy does with each class of command
//! (the gate's table), and the approver a session asks.

use std::sync::Arc;

use codex_policy_model::ApprovalPolicy;

/// A command line shown to the session's approver.
#[derive(Debug)]
#[non_exhaustive]
pub struct ApprovalRequest<'a> {
    /// The command line.
    pub argv: &'a [String],
    /// The rules that asked, in one line (or, for a rerun, why it is asked).
    pub explanation: &'a str,
    /// What is asked.
    pub kind: ApprovalKind,
}

/// What an approval request asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApprovalKind {
    /// Whether to run the command (in the sandbox).
    Run,
    /// `on-failure`: the command failed in the sandbox; whether to run it
    /// again WITHOUT the sandbox's restrictions.
    RerunWithoutSandbox,
}

/// The exec policy's verdict on a command line, in the classes the approval
/// policies act on. Ordered from least to most strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GateClass {
    /// Known to only read (a program definition's Safe), or allowed by a rule.
    Safe,
    /// Writes, only to paths verified against the policy.
    Match,
    /// No rule or definition says anything about it.
    Unmatched,
    /// Its safety is unknown: an option a definition does not know, a
    /// write outside the writable roots, something that could change what
    /// runs (a variable such as `LD_PRELOAD`, a program at an unlisted path).
    Unverified,
    /// A rule asks for approval (`decision = "prompt"`).
    Prompt,
    /// A rule or definition forbids it.
    Forbidden,
}

impl GateClass {
    /// Every class, from the least to the most strict.
    pub const ALL: [Self; 6] = [
        Self::Safe,
        Self::Match,
        Self::Unmatched,
        Self::Unverified,
        Self::Prompt,
        Self::Forbidden,
    ];

    /// The class's name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Safe => "safe",
            Self::Match => "match",
            Self::Unmatched => "unmatched",
            Self::Unverified => "unverified",
            Self::Prompt => "prompt",
            Self::Forbidden => "forbidden",
        }
    }
}

/// What the gate does with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum GateAction {
    /// Run it (in the sandbox).
    Run,
    /// Ask the approver first.
    Ask,
    /// Refuse it (126).
    Refuse,
}

/// The gate's table: what `approval` does with a command of `class`.
/// `unsandboxed` is the `trusted` profile: there only `never` runs what
/// would ask, without asking (the `--yolo` preset). `forbidden` is refused
/// whatever the mode.
///
/// | class | untrusted | on-request, on-failure | never |
/// |---|---|---|---|
/// | safe | run | run | run |
/// | match, unmatched, unverified | ask | run | run |
/// | prompt | ask | ask | refuse (trusted: run) |
/// | forbidden | refuse | refuse | refuse |
pub fn gate_action(class: GateClass, approval: ApprovalPolicy, unsandboxed: bool) -> GateAction {
    match (class, approval) {
        (GateClass::Forbidden, _) => GateAction::Refuse,
        (GateClass::Safe, _) => GateAction::Run,
        (_, ApprovalPolicy::Untrusted) => GateAction::Ask,
        (GateClass::Prompt, ApprovalPolicy::Never) if unsandboxed => GateAction::Run,
        (GateClass::Prompt, ApprovalPolicy::Never) => GateAction::Refuse,
        (GateClass::Prompt, _) => GateAction::Ask,
        _ => GateAction::Run,
    }
}

/// An approver's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Approval {
    /// Run it.
    Approved,
    /// A person said no.
    Declined,
    /// Nobody could be asked (no terminal): a refusal that says how to approve.
    Unavailable,
}

impl From<bool> for Approval {
    fn from(approved: bool) -> Self {
        if approved {
            Self::Approved
        } else {
            Self::Declined
        }
    }
}

/// Decides on a command line the session asks approval for.
pub type Approver = Arc<dyn Fn(&ApprovalRequest<'_>) -> Approval + Send + Sync>;
