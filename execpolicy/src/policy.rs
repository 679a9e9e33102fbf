//! A loaded policy, and deciding on command lines.

use std::path::Path;

use serde::Serialize;

use crate::loader::Map;
use crate::normalize::{Normalized, normalize};
use crate::program::ProgramSpec;
use crate::rules::{NetworkRule, PrefixRule, RuleMatch};
use crate::{Decision, ProgramOutcome};

/// Rules and program definitions, keyed by program name.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    pub(crate) prefix_rules: Map<Vec<PrefixRule>>,
    pub(crate) programs: Map<Vec<ProgramSpec>>,
    pub(crate) host_executables: Map<Vec<std::path::PathBuf>>,
    pub(crate) network_rules: Vec<NetworkRule>,
}

/// The overall decision: Codex's vocabulary when a rule decided, the program
/// definitions' vocabulary when only definitions did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Verdict {
    /// `allow`, `prompt` or `forbidden`.
    Rule(Decision),
    /// `safe`, `match`, `unverified` or `forbidden`.
    Program(ProgramOutcome),
}

impl Verdict {
    /// As a rule decision (Safe and Match allow, Unverified prompts).
    pub fn decision(self) -> Decision {
        match self {
            Self::Rule(d) => d,
            Self::Program(o) => o.decision(),
        }
    }
}

/// The result of checking a command line: Codex's `{"decision", "matchedRules"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// The strictest decision of all matches; absent when nothing matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decision: Option<Verdict>,
    /// Every rule or definition that matched, for every sub-command.
    pub matched_rules: Vec<RuleMatch>,
    /// The commands actually decided on, after unwrapping shells and prefixes.
    pub commands: Vec<Vec<String>>,
}

impl Policy {
    pub(crate) fn add_prefix_rule(&mut self, rule: PrefixRule) {
        self.prefix_rules
            .entry(rule.program.clone())
            .or_default()
            .push(rule);
    }

    pub(crate) fn add_program(&mut self, spec: ProgramSpec) {
        self.programs
            .entry(spec.program.clone())
            .or_default()
            .push(spec);
    }

    /// `network_rule(...)` entries, for the network policy.
    pub fn network_rules(&self) -> &[NetworkRule] {
        &self.network_rules
    }

    /// Number of prefix rules (one per program alternative).
    pub fn prefix_rule_count(&self) -> usize {
        self.prefix_rules.values().map(Vec::len).sum()
    }

    /// Matches for one plain argv, without shell unwrapping: prefix rules first;
    /// program definitions when no rule matched. An absolute path uses the
    /// program's rules only when a `host_executable` (or `system_path`) lists it.
    pub fn matches_for_argv(&self, argv: &[String]) -> Vec<RuleMatch> {
        let Some(first) = argv.first() else {
            return Vec::new();
        };
        let (name, resolved) = if first.contains('/') {
            let Some(name) = Path::new(first).file_name().and_then(|n| n.to_str()) else {
                return Vec::new();
            };
            (name, Some(Path::new(first)))
        } else {
            (first.as_str(), None)
        };
        let listed =
            |paths: &[std::path::PathBuf]| resolved.is_some_and(|r| paths.iter().any(|p| p == r));
        let rule_path_ok =
            resolved.is_none() || self.host_executables.get(name).is_some_and(|p| listed(p));
        let mut matches: Vec<RuleMatch> = Vec::new();
        if rule_path_ok && let Some(rules) = self.prefix_rules.get(name) {
            for rule in rules.iter().filter(|r| r.matches(argv)) {
                matches.push(RuleMatch::PrefixRuleMatch {
                    matched_prefix: argv[..=rule.rest.len()].to_vec(),
                    decision: rule.decision,
                    resolved_program: resolved.map(Path::to_path_buf),
                    justification: rule.justification.as_deref().map(str::to_owned),
                    defined_at: rule.defined_at.to_string(),
                });
            }
        }
        if !matches.is_empty() {
            return matches;
        }
        let Some(specs) = self.programs.get(name) else {
            return matches;
        };
        // Of several applicable definitions, the one that verifies the most wins.
        let best = specs
            .iter()
            .filter(|spec| spec.applies_to(argv))
            .filter(|spec| match resolved {
                None => true,
                Some(path) => {
                    spec.system_path.iter().any(|p| Path::new(&**p) == path)
                        || self.host_executables.get(name).is_some_and(|p| listed(p))
                }
            })
            .map(|spec| (spec, spec.classify(argv)))
            .min_by_key(|(_, verdict)| verdict.outcome);
        if let Some((spec, verdict)) = best {
            matches.push(RuleMatch::ProgramMatch {
                program: spec.program.to_string(),
                outcome: verdict.outcome,
                args: verdict.args,
                reason: verdict.reason,
                defined_at: spec.defined_at.to_string(),
            });
        }
        matches
    }

    /// Decides on a command line: shell wrappers (`bash -lc '...'`) are parsed and
    /// split, safe prefixes (`env A=1`, `timeout 5`, …) removed, and every
    /// sub-command decided; the strictest decision wins. In a split script a
    /// sub-command no rule covers makes the whole command `prompt`.
    pub fn check(&self, argv: &[String]) -> Evaluation {
        let mut matched_rules = Vec::new();
        let commands = match normalize(argv) {
            Normalized::Commands(commands) => commands,
            Normalized::Opaque { script, reason } => {
                matched_rules.push(RuleMatch::ShellRuleMatch {
                    script,
                    decision: Decision::Prompt,
                    reason,
                });
                Vec::new()
            }
        };
        let split = commands.len() > 1 || commands.first().is_some_and(|c| c.as_slice() != argv);
        for command in &commands {
            let found = self.matches_for_argv(command);
            if found.is_empty() && split {
                matched_rules.push(RuleMatch::ShellRuleMatch {
                    script: shlex::try_join(command.iter().map(String::as_str)).unwrap_or_default(),
                    decision: Decision::Prompt,
                    reason: "no rule covers this part of the command".into(),
                });
            }
            matched_rules.extend(found);
        }
        Evaluation {
            decision: verdict(&matched_rules),
            matched_rules,
            commands,
        }
    }
}

/// The strictest verdict; program vocabulary only when no rule took part.
pub(crate) fn verdict(matches: &[RuleMatch]) -> Option<Verdict> {
    if matches
        .iter()
        .all(|m| matches!(m, RuleMatch::ProgramMatch { .. }))
    {
        matches
            .iter()
            .filter_map(|m| match m {
                RuleMatch::ProgramMatch { outcome, .. } => Some(*outcome),
                _ => None,
            })
            .max()
            .map(Verdict::Program)
    } else {
        matches
            .iter()
            .map(RuleMatch::decision)
            .max()
            .map(Verdict::Rule)
    }
}
