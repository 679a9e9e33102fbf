//! The exec-policy gate: the rules a session loads once, and the decision on
//! each command line, with its written paths verified against the policy the
//! sandbox enforces.

use std::path::{Path, PathBuf};

use codex_audit::{AuditDecision, escape_for_terminal as shown};
use codex_execpolicy::{
    Decision, Evaluation, Policy, PolicyLoader, ProgramOutcome, RuleMatch, verify_paths,
};
use codex_policy_model::{ApprovalPolicy, CommandWritable};

use crate::SandboxPolicy;
use crate::approval::{
    Approval, ApprovalKind, ApprovalRequest, Approver, GateAction, GateClass, gate_action,
};
use crate::egress::NetworkRuleEffect;
use crate::error::{ConfigurationError, Refusal};

/// Which exec-policy rules a session consults.
///
/// # Examples
///
/// A project's own rules instead of the built-in default policy:
///
/// ```
/// use codex_policy::{AuditDestination, ExecRules, GateClass, Session};
///
/// assert_eq!(ExecRules::default(), ExecRules::BuiltIn);
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let rules = project.path().join("project.rules");
/// let text = r#"prefix_rule(pattern = ["npm", "publish"], decision = "forbidden")"#;
/// std::fs::write(&rules, text)?;
/// let checker = Session::builder()
///     .profile("workspace".parse()?)
///     .rules(ExecRules::Files(vec![rules]))
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .build_checker()?;
/// assert_eq!(checker.check(&["npm", "publish"])?.class(), GateClass::Forbidden);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExecRules {
    /// None: commands are not gated and the approval policy asks nothing.
    /// Only for embedders that gate commands themselves.
    None,
    /// The built-in default policy: what every session consults unless
    /// given rules files.
    #[default]
    BuiltIn,
    /// These Starlark rules files, in order. A file the sandboxed command
    /// could have written is loaded tightening-only: it may forbid or ask,
    /// never allow.
    Files(Vec<PathBuf>),
}

/// The exec policy's decision on one command line, and why.
///
/// # Examples
///
/// [`Session::check`](crate::Session::check) and
/// [`Checker::check`](crate::Checker::check) give one:
///
/// ```
/// use codex_policy::execpolicy::Decision;
/// use codex_policy::{AuditDestination, GateClass, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let checker = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .build_checker()?;
/// let check = checker.check(&["rm", "-rf", "/"])?;
/// assert_eq!(check.decision(), Some(Decision::Forbidden));
/// assert_eq!(check.class(), GateClass::Forbidden);
/// assert!(check.explanation().starts_with("decision: forbidden"));
/// assert!(!check.summary().is_empty()); // the matched rules, in one line
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
                    shown(defined_at.as_ref()),
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
                    shown(program.as_ref()),
                    shown(defined_at.as_ref()),
                    serde_text(outcome),
                    reason
                        .as_deref()
                        .map(|r| format!(" — {}", shown(r)))
                        .unwrap_or_default()
                ),
                RuleMatch::ShellRuleMatch {
                    script,
                    reason,
                    decision,
                    ..
                } => format!(
                    "  {:<10} shell: {}: {}",
                    decision.as_str(),
                    shown(reason),
                    shown(script)
                ),
            });
        }
        lines.join("\n")
    }

    /// The class the approval policies act on: the strictest of every
    /// matched rule's (see [`GateClass`]); [`GateClass::Unmatched`] when
    /// nothing matched.
    pub fn class(&self) -> GateClass {
        self.evaluation
            .matched_rules
            .iter()
            .map(|matched| match matched {
                RuleMatch::PrefixRuleMatch { decision, .. } => match decision {
                    Decision::Allow => GateClass::Safe,
                    Decision::Prompt => GateClass::Prompt,
                    Decision::Forbidden => GateClass::Forbidden,
                },
                RuleMatch::ProgramMatch { outcome, .. } => match outcome {
                    ProgramOutcome::Safe => GateClass::Safe,
                    ProgramOutcome::Match => GateClass::Match,
                    ProgramOutcome::Forbidden => GateClass::Forbidden,
                    _ => GateClass::Unverified,
                },
                RuleMatch::ShellRuleMatch {
                    decision, reason, ..
                } => match decision {
                    Decision::Forbidden => GateClass::Forbidden,
                    // The engine's one deliberate ask among its findings
                    // (tested in `approval_modes.rs`: the text is the link).
                    _ if reason.starts_with(NETWORK_PIPE) => GateClass::Prompt,
                    // A part of a split command line nothing says anything
                    // about: as a plain command no rule matches.
                    _ if reason == NO_RULE_COVERS => GateClass::Unmatched,
                    // What could not be understood: its safety is unknown.
                    _ => GateClass::Unverified,
                },
            })
            .max()
            .unwrap_or(GateClass::Unmatched)
    }

    /// What the gate would do with this command under `approval`, as an
    /// audit decision and reason: `check` asks a question, so what is
    /// recorded is the answer the gate would act on — never an approval
    /// nobody gave (a command no rule matches is "allowed" only where the
    /// approval policy runs it in the sandbox, "requires_approval" under
    /// `untrusted`).
    pub(crate) fn audit_view(
        &self,
        approval: ApprovalPolicy,
        unsandboxed: bool,
    ) -> (AuditDecision, String) {
        let found = match self.decision() {
            None => "no rule matched".to_owned(),
            Some(_) => self.summary(),
        };
        let (decision, action) =
            match crate::approval::gate_action(self.class(), approval, unsandboxed) {
                GateAction::Run if unsandboxed => (AuditDecision::Allowed, "would run"),
                GateAction::Run => (AuditDecision::Allowed, "would run in the sandbox"),
                GateAction::Ask => (AuditDecision::RequiresApproval, "would ask first"),
                GateAction::Refuse => (AuditDecision::Denied, "would be refused"),
            };
        (decision, format!("{found}; {action} (approval {approval})"))
    }
}

/// How the engine's finding about a download piped into a shell begins.
const NETWORK_PIPE: &str = "a network download piped into";
/// The engine's finding about a part of a split command line no rule covers.
const NO_RULE_COVERS: &str = "no rule covers this part of the command";

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
        self.find_hidden_forbidden(&mut evaluation);
        verify_paths(&mut evaluation, policy, cwd, tmpdir);
        Check { evaluation }
    }

    /// A forbidden command line the rules would miss as written: behind a
    /// wrapper they do not know (`taskset 1 rm -rf /`, `strace -f mkfs.ext4
    /// /dev/sda`), or with its paths spelled another way (`rm -rf /./`,
    /// `/usr/../`, `of=/dev//sda`). Each command found is checked again
    /// from every later word on (at least a program and one argument), and
    /// with its absolute paths written plainly (lexically: `.`, `..` and
    /// repeated `/` removed); a forbidden result joins the evaluation, so
    /// that `forbidden` holds under every approval policy.
    fn find_hidden_forbidden(&self, evaluation: &mut Evaluation) {
        if evaluation.decision.map(|v| v.decision()) == Some(Decision::Forbidden) {
            return;
        }
        let mut found = Vec::new();
        for command in &evaluation.commands.to_vec() {
            let plain: Vec<String> = command.iter().map(|a| plain_paths(a)).collect();
            let spellings = if plain == *command {
                vec![command]
            } else {
                vec![command, &plain]
            };
            for spelling in spellings {
                // The command as written was decided already.
                let first = usize::from(std::ptr::eq(spelling, command));
                let hit = (first..spelling.len().saturating_sub(1))
                    .filter(|&i| !spelling[i].starts_with('-') && !spelling[i].contains('='))
                    .map(|i| self.policy.check(&spelling[i..]))
                    .find(|e| e.decision.map(|v| v.decision()) == Some(Decision::Forbidden));
                if let Some(hit) = hit {
                    found.extend(
                        hit.matched_rules
                            .into_iter()
                            .filter(|m| m.decision() == Decision::Forbidden),
                    );
                    break;
                }
            }
        }
        if !found.is_empty() {
            evaluation.matched_rules.extend(found);
            evaluation.decision = Some(codex_execpolicy::Verdict::Rule(Decision::Forbidden));
        }
    }
}

/// `arg` with the absolute path in it (the whole word, or after `=`)
/// written plainly: `/./` and `//` collapsed, `..` applied lexically.
fn plain_paths(arg: &str) -> String {
    let (prefix, path) = match arg.find('/') {
        Some(0) => ("", arg),
        Some(at) if arg[..at].ends_with('=') => arg.split_at(at),
        _ => return arg.to_owned(),
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    format!("{prefix}/{}", parts.join("/"))
}

/// What the gate lets through for one command: the audit events of the
/// decision (an ask adds its answer), then the result.
pub(crate) struct GateOutcome {
    pub(crate) events: Vec<(AuditDecision, String)>,
    pub(crate) result: Result<(), Refusal>,
}

/// The session's gate settings for one decision.
pub(crate) struct GateContext<'a> {
    pub(crate) approval: ApprovalPolicy,
    pub(crate) unsandboxed: bool,
    pub(crate) monitor: bool,
    pub(crate) approver: Option<&'a Approver>,
}

/// Applies the approval policy to a check: run, ask (approved or not), or
/// refuse; in monitor mode a refusal is reported and the command runs.
pub(crate) fn decide(check: &Check, argv: &[String], context: &GateContext<'_>) -> GateOutcome {
    let class = check.class();
    let explanation = match check.decision() {
        None => "no rule matched".to_owned(),
        Some(_) => check.summary(),
    };
    let approval = context.approval;
    let described = format!("{} ({}, approval {approval})", explanation, class.as_str());
    let action = gate_action(class, approval, context.unsandboxed);
    let refusal = |asked: bool| match class {
        GateClass::Forbidden => Refusal::Forbidden {
            explanation: explanation.clone(),
        },
        _ => Refusal::NotApproved {
            explanation: explanation.clone(),
            class,
            approval,
            asked,
        },
    };
    match action {
        GateAction::Run => GateOutcome {
            events: vec![(
                if class == GateClass::Prompt {
                    // `never` on `trusted`: the ask is bypassed; recorded as
                    // such, never sampled away.
                    AuditDecision::RequiresApproval
                } else {
                    AuditDecision::Allowed
                },
                if class == GateClass::Prompt {
                    format!("approval bypassed (trusted, never): {described}")
                } else {
                    described
                },
            )],
            result: Ok(()),
        },
        _ if context.monitor => GateOutcome {
            events: vec![(
                if action == GateAction::Refuse {
                    AuditDecision::Denied
                } else {
                    AuditDecision::RequiresApproval
                },
                format!("monitor mode, allowed: {described}"),
            )],
            result: Ok(()),
        },
        GateAction::Refuse => GateOutcome {
            events: vec![(AuditDecision::Denied, described)],
            result: Err(refusal(false)),
        },
        GateAction::Ask => {
            let mut events = vec![(
                AuditDecision::RequiresApproval,
                format!("asking: {described}"),
            )];
            let Some(approve) = context.approver else {
                events.push((
                    AuditDecision::Denied,
                    format!("refused: nobody to ask: {described}"),
                ));
                return GateOutcome {
                    events,
                    result: Err(refusal(false)),
                };
            };
            let request = ApprovalRequest {
                argv,
                explanation: &described,
                kind: ApprovalKind::Run,
            };
            match approve(&request) {
                Approval::Approved => {
                    // `requires_approval`: sampling never drops it, and the
                    // log shows a person (or the harness) let it through.
                    events.push((
                        AuditDecision::RequiresApproval,
                        format!("approved: {described}"),
                    ));
                    GateOutcome {
                        events,
                        result: Ok(()),
                    }
                }
                answer => {
                    let asked = answer == Approval::Declined;
                    events.push((
                        AuditDecision::Denied,
                        if asked {
                            format!("declined: {described}")
                        } else {
                            format!("refused: nobody to ask: {described}")
                        },
                    ));
                    GateOutcome {
                        events,
                        result: Err(refusal(asked)),
                    }
                }
            }
        }
    }
}
