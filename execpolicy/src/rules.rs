//! Prefix rules (Codex's `prefix_rule`), network rules, and what a match reports.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use crate::program::MatchedArg;
use crate::{Decision, ProgramOutcome};

/// One token of a prefix pattern: a word, or one of several alternatives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PatternToken {
    /// Exactly this word.
    Single(Box<str>),
    /// Any of these words.
    Alternatives(Box<[Box<str>]>),
}

impl PatternToken {
    fn matches(&self, token: &str) -> bool {
        match self {
            Self::Single(word) => &**word == token,
            Self::Alternatives(words) => words.iter().any(|w| &**w == token),
        }
    }

    /// The words this token accepts.
    pub(crate) fn alternatives(&self) -> Vec<&str> {
        match self {
            Self::Single(word) => vec![word],
            Self::Alternatives(words) => words.iter().map(|w| &**w).collect(),
        }
    }
}

/// `prefix_rule(pattern=[...], decision=..., justification=...)` for one program
/// (a rule whose first token has alternatives becomes one rule per program).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrefixRule {
    /// The program (first token).
    pub(crate) program: Box<str>,
    /// The tokens after the program.
    pub(crate) rest: Arc<[PatternToken]>,
    /// What a match decides.
    pub(crate) decision: Decision,
    /// Why the rule exists.
    pub(crate) justification: Option<Arc<str>>,
    /// `file:line:column` of the rule.
    pub(crate) defined_at: Arc<str>,
}

impl PrefixRule {
    /// The matched prefix when `argv` (whose first token already names the
    /// program) starts with this pattern.
    pub(crate) fn matches(&self, argv: &[String]) -> bool {
        argv.len() > self.rest.len()
            && self
                .rest
                .iter()
                .zip(&argv[1..])
                .all(|(pattern, token)| pattern.matches(token))
    }
}

/// `network_rule(host=..., protocol=..., decision=...)`: exposed to the network
/// policy; not used to decide on command lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NetworkRule {
    /// Lowercase host without port or trailing dot.
    pub host: String,
    /// The protocol the rule is about.
    pub protocol: NetworkProtocol,
    /// `deny` in a rules file is `forbidden` here.
    pub decision: Decision,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
}

/// The protocol of a `network_rule`, spelled as in rules files and JSON
/// (`http`, `https`, `socks5_tcp`, `socks5_udp`). Codex's `https_connect` and
/// `http-connect` are `https`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub enum NetworkProtocol {
    /// Plain HTTP.
    #[serde(rename = "http")]
    Http,
    /// HTTPS (and HTTP `CONNECT` tunnels).
    #[serde(rename = "https")]
    Https,
    /// SOCKS5 TCP connections.
    #[serde(rename = "socks5_tcp")]
    Socks5Tcp,
    /// SOCKS5 UDP associations.
    #[serde(rename = "socks5_udp")]
    Socks5Udp,
}

impl NetworkProtocol {
    /// The spelling in rules files and JSON.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Socks5Tcp => "socks5_tcp",
            Self::Socks5Udp => "socks5_udp",
        }
    }
}

impl std::fmt::Display for NetworkProtocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule that matched, in Codex's JSON shape (`{"prefixRuleMatch": {...}}`),
/// plus where the rule is defined.
///
/// The three kinds are Codex's, and a caller rendering matches handles each
/// one, so the enum is exhaustive; each kind's fields are not (match them
/// with `..`). [`RuleMatch::decision`] gives what any match contributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleMatch {
    /// A prefix rule matched.
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    PrefixRuleMatch {
        /// The tokens the pattern covered.
        matched_prefix: Vec<String>,
        /// The rule's decision.
        decision: Decision,
        /// The absolute program path, when a `host_executable` mapped it.
        #[serde(skip_serializing_if = "Option::is_none")]
        resolved_program: Option<PathBuf>,
        /// The rule's justification.
        #[serde(skip_serializing_if = "Option::is_none")]
        justification: Option<String>,
        /// `file:line:column` of the rule.
        defined_at: String,
    },
    /// A program definition matched.
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    ProgramMatch {
        /// The program.
        program: String,
        /// Its outcome for this command line.
        outcome: ProgramOutcome,
        /// Each argument with its type, for the caller to check paths.
        args: Vec<MatchedArg>,
        /// Why it is forbidden or unverified.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// `file:line:column` of the definition.
        defined_at: String,
    },
    /// Something that may change what runs without being understood: shell
    /// features that hide what runs, an assignment to a variable not known to
    /// be harmless, a wrapper option, a path that is not a known location of
    /// its program, a non-UTF-8 argument, nesting too deep to analyse, or a
    /// part of a split command no rule covers. Always `prompt`: the command
    /// needs approval unless something else forbids it.
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    ShellRuleMatch {
        /// The command line or script concerned.
        script: String,
        /// Always `prompt`.
        decision: Decision,
        /// What makes it unverifiable.
        reason: String,
    },
}

impl RuleMatch {
    /// The decision this match contributes: a program definition's outcome
    /// as a decision ([`ProgramOutcome::decision`]).
    pub fn decision(&self) -> Decision {
        match self {
            Self::PrefixRuleMatch { decision, .. } | Self::ShellRuleMatch { decision, .. } => {
                *decision
            }
            Self::ProgramMatch { outcome, .. } => outcome.decision(),
        }
    }
}
