//! A loaded policy, and deciding on command lines.

use std::path::Path;

use serde::Serialize;

use crate::loader::Map;
use crate::normalize::{Normalized, normalize, shell_script, strip_prefixes};
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

    /// The program name `argv` invokes and, for a path, the path — `None` when a
    /// path is not listed for the program (by `host_executable` or, for program
    /// definitions, `system_path`).
    fn program_of<'a>(&self, argv: &'a [String]) -> Option<(&'a str, Option<&'a Path>)> {
        let first = argv.first()?;
        if !first.contains('/') {
            return Some((first, None));
        }
        let path = Path::new(first);
        Some((path.file_name()?.to_str()?, Some(path)))
    }

    fn host_listed(&self, name: &str, path: &Path) -> bool {
        self.host_executables
            .get(name)
            .is_some_and(|paths| paths.iter().any(|p| p == path))
    }

    /// The prefix rules that apply to `argv` (none for an unlisted path).
    fn rules_matching<'s>(
        &'s self,
        name: &str,
        path: Option<&Path>,
        argv: &'s [String],
    ) -> impl Iterator<Item = &'s PrefixRule> {
        let listed = path.is_none_or(|p| self.host_listed(name, p));
        self.prefix_rules
            .get(name)
            .filter(|_| listed)
            .into_iter()
            .flatten()
            .filter(move |rule| rule.matches(argv))
    }

    /// The most verifying program definition for `argv`, with its verdict.
    fn best_program(
        &self,
        name: &str,
        path: Option<&Path>,
        argv: &[String],
    ) -> Option<(&ProgramSpec, crate::program::ProgramVerdict)> {
        self.programs
            .get(name)?
            .iter()
            .filter(|spec| spec.applies_to(argv))
            .filter(|spec| match path {
                None => true,
                Some(path) => {
                    spec.system_path.iter().any(|p| Path::new(&**p) == path)
                        || self.host_listed(name, path)
                }
            })
            .map(|spec| (spec, spec.classify(argv)))
            .min_by_key(|(_, verdict)| verdict.outcome)
    }

    /// Matches for one plain argv, without shell unwrapping: prefix rules first;
    /// program definitions when no rule matched. An absolute path uses the
    /// program's rules only when a `host_executable` (or `system_path`) lists it.
    pub fn matches_for_argv(&self, argv: &[String]) -> Vec<RuleMatch> {
        let Some((name, path)) = self.program_of(argv) else {
            return Vec::new();
        };
        let matches: Vec<RuleMatch> = self
            .rules_matching(name, path, argv)
            .map(|rule| RuleMatch::PrefixRuleMatch {
                matched_prefix: argv[..=rule.rest.len()].to_vec(),
                decision: rule.decision,
                resolved_program: path.map(Path::to_path_buf),
                justification: rule.justification.as_deref().map(str::to_owned),
                defined_at: rule.defined_at.to_string(),
            })
            .collect();
        if !matches.is_empty() {
            return matches;
        }
        self.best_program(name, path, argv)
            .map(|(spec, verdict)| RuleMatch::ProgramMatch {
                program: spec.program.to_string(),
                outcome: verdict.outcome,
                args: verdict.args,
                reason: verdict.reason,
                defined_at: spec.defined_at.to_string(),
            })
            .into_iter()
            .collect()
    }

    /// The decision alone, without the explanation [`Policy::check`] builds:
    /// for hot paths. Identical to `check(argv).decision` (tested); a plain
    /// command is decided without allocating.
    pub fn decide(&self, argv: &[String]) -> Option<Verdict> {
        let argv = strip_prefixes(argv);
        if shell_script(argv).is_some() {
            return self.check(argv).decision;
        }
        let (name, path) = self.program_of(argv)?;
        if let Some(decision) = self
            .rules_matching(name, path, argv)
            .map(|r| r.decision)
            .max()
        {
            return Some(Verdict::Rule(decision));
        }
        self.best_program(name, path, argv)
            .map(|(_, verdict)| Verdict::Program(verdict.outcome))
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
