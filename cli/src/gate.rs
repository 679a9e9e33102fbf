//! The exec-policy gate: the rules a session loads once, and the decision on
//! each command line, with its written paths verified against the policy the
//! sandbox enforces.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use codex_audit::{AuditDecision, escape_for_terminal as shown};
use codex_execpolicy::{Decision, Evaluation, Policy, PolicyLoader, RuleMatch, verify_paths};
use codex_policy_model::CommandWritable;

use crate::SandboxPolicy;
use crate::egress::NetworkRuleEffect;
use crate::error::{ConfigurationError, Refusal};

/// Which exec-policy rules a session consults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecRules {
    /// None: commands are not gated (what `codex-policy run` does without
    /// `--rules`).
    #[default]
    None,
    /// The built-in default policy (what `codex-policy check` uses without
    /// `--rules`).
    BuiltIn,
    /// These Starlark rules files, in order. A file the sandboxed command
    /// could have written is loaded tightening-only: it may forbid or ask,
    /// never allow.
    Files(Vec<PathBuf>),
}

/// A command line shown to the session's approver.
#[derive(Debug)]
#[non_exhaustive]
pub struct ApprovalRequest<'a> {
    /// The command line.
    pub argv: &'a [String],
    /// The rules that asked, in one line.
    pub explanation: &'a str,
}

/// Decides on a command line the exec policy asks approval for; `true` runs it.
pub type Approver = Arc<dyn Fn(&ApprovalRequest<'_>) -> bool + Send + Sync>;

/// The exec policy's decision on one command line, and why.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Check {
    /// The decision and every matched rule (Codex's `{"decision",
    /// "matchedRules"}` when serialized).
    pub evaluation: Evaluation,
}

impl Check {
    /// The decision; `None` when no rule matched.
    pub fn decision(&self) -> Option<Decision> {
        self.evaluation.decision.map(|v| v.decision())
    }

    /// The matched rules in one line (what refusals and the audit log say).
    pub fn summary(&self) -> String {
        self.explanation()
            .lines()
            .skip(1)
            .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// The decision and each matched rule, one per line, with control
    /// characters of rules and arguments made visible.
    pub fn explanation(&self) -> String {
        let evaluation = &self.evaluation;
        let decision = evaluation
            .decision
            .map_or_else(|| "none (no rule matched)".to_owned(), |v| serde_text(&v));
        let mut lines = vec![format!("decision: {decision}")];
        for matched in &evaluation.matched_rules {
            lines.push(match matched {
                RuleMatch::PrefixRuleMatch {
                    matched_prefix,
                    decision,
                    justification,
                    defined_at,
                    ..
                } => format!(
                    "  {:<10} prefix rule {}: {}{}",
                    decision.as_str(),
                    shown(&defined_at.to_string()),
                    shown(&matched_prefix.join(" ")),
                    justification
                        .as_deref()
                        .map(|j| format!(" — {}", shown(j.trim())))
                        .unwrap_or_default()
                ),
                RuleMatch::ProgramMatch {
                    program,
                    outcome,
                    reason,
                    defined_at,
                    ..
                } => format!(
                    "  {:<10} program {} ({}){}",
                    shown(&program.to_string()),
                    shown(&defined_at.to_string()),
                    serde_text(outcome),
                    reason
                        .as_deref()
                        .map(|r| format!(" — {}", shown(r)))
                        .unwrap_or_default()
                ),
                RuleMatch::ShellRuleMatch { script, reason, .. } => {
                    format!("  prompt     shell: {}: {}", shown(reason), shown(script))
                }
            });
        }
        lines.join("\n")
    }

    /// The audit decision and reason of this check.
    pub(crate) fn audit_view(&self) -> (AuditDecision, String) {
        match self.decision() {
            None => (AuditDecision::Allowed, "no rule matched".into()),
            Some(Decision::Allow) => (AuditDecision::Allowed, self.summary()),
            Some(Decision::Prompt) => (AuditDecision::RequiresApproval, self.summary()),
            Some(Decision::Forbidden) => (AuditDecision::Denied, self.summary()),
        }
    }
}

/// A value's serde spelling (`"allow"`, `"forbidden"`).
fn serde_text(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|j| j.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The rules of a session, loaded once.
#[derive(Debug)]
pub(crate) struct ExecGate {
    policy: Policy,
}

impl ExecGate {
    /// Loads `rules`; `None` when the session consults none.
    pub(crate) fn load(
        rules: &ExecRules,
        writable: &CommandWritable,
    ) -> Result<Option<Self>, ConfigurationError> {
        let loader = match rules {
            ExecRules::None => return Ok(None),
            ExecRules::BuiltIn => PolicyLoader::with_default_policy()?,
            ExecRules::Files(files) => {
                let mut loader = PolicyLoader::new();
                for file in files {
                    loader
                        .tightening_only(writable.could_write(file))
                        .load_file(file)?;
                }
                loader
            }
        };
        Ok(Some(Self {
            policy: loader.finish(),
        }))
    }

    /// The rules' `network_rule` entries as domain rules, which make the
    /// network filtered: a `deny` is denied, a `prompt` needs approval, an
    /// `allow` widens nothing (see [`crate::egress::NetworkRuleEffect`]). A
    /// host the egress proxy could not match is refused, never dropped.
    pub(crate) fn network_rules(
        &self,
    ) -> Result<Vec<(codex_policy_model::DomainPattern, NetworkRuleEffect)>, ConfigurationError>
    {
        let mut out = Vec::new();
        for rule in self.policy.network_rules() {
            let effect = match rule.decision {
                codex_execpolicy::Decision::Forbidden => NetworkRuleEffect::Deny,
                codex_execpolicy::Decision::Prompt => NetworkRuleEffect::Ask,
                _ => NetworkRuleEffect::Allow,
            };
            let pattern =
                rule.host
                    .parse()
                    .map_err(|source| ConfigurationError::NetworkRuleHost {
                        host: rule.host.clone(),
                        source,
                    })?;
            out.push((pattern, effect));
        }
        Ok(out)
    }

    /// Decides on `argv` run in `cwd`, and verifies the paths it writes
    /// against `policy` (the session's effective policy, always).
    pub(crate) fn check(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        tmpdir: Option<&std::ffi::OsStr>,
        argv: &[String],
    ) -> Check {
        let mut evaluation = self.policy.check(argv);
        verify_paths(&mut evaluation, policy, cwd, tmpdir);
        Check { evaluation }
    }
}

/// What the gate lets through for one command.
pub(crate) struct GateOutcome {
    pub(crate) audit: (AuditDecision, String),
    pub(crate) result: Result<(), Refusal>,
}

/// Applies a check: allowed, monitored (refusal reported, command run),
/// approved or refused.
pub(crate) fn decide(
    check: &Check,
    argv: &[String],
    monitor: bool,
    approver: Option<&Approver>,
) -> GateOutcome {
    let (decision, reason) = check.audit_view();
    let explanation = check.summary();
    match check.decision() {
        None | Some(Decision::Allow) => GateOutcome {
            audit: (decision, reason),
            result: Ok(()),
        },
        Some(_) if monitor => GateOutcome {
            audit: (decision, format!("monitor mode, allowed: {reason}")),
            result: Ok(()),
        },
        Some(Decision::Forbidden) => GateOutcome {
            audit: (decision, reason),
            result: Err(Refusal::Forbidden { explanation }),
        },
        Some(Decision::Prompt) => {
            let request = ApprovalRequest {
                argv,
                explanation: &explanation,
            };
            if approver.is_some_and(|approve| approve(&request)) {
                // Still `requires_approval`: sampling never drops one, and the
                // log shows that a person (or the harness) let it through.
                GateOutcome {
                    audit: (decision, format!("approved: {reason}")),
                    result: Ok(()),
                }
            } else {
                GateOutcome {
                    audit: (decision, reason),
                    result: Err(Refusal::NotApproved { explanation }),
                }
            }
        }
    }
}
