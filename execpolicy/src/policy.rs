//! A loaded policy, and deciding on command lines.

use std::ffi::OsStr;
use std::path::Path;

use serde::Serialize;

use crate::loader::Map;
use crate::normalize::{Normalized, is_plain, join, normalize};
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
///
/// Not exhaustive: [`Verdict::decision`] maps every verdict to a [`Decision`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(untagged)]
#[non_exhaustive]
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
#[non_exhaustive]
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

    /// The program name `argv` invokes and, for a path, the path.
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

    /// Whether `path` is a known location of `name`: listed by a
    /// `host_executable`, or by the `system_path` of a definition.
    fn path_known(&self, name: &str, path: &Path) -> bool {
        self.host_listed(name, path)
            || self.programs.get(name).is_some_and(|specs| {
                specs
                    .iter()
                    .any(|s| s.system_path.iter().any(|p| Path::new(&**p) == path))
            })
    }

    /// Whether any rule or definition is about `name`.
    fn has_rules(&self, name: &str) -> bool {
        self.prefix_rules.contains_key(name) || self.programs.contains_key(name)
    }

    /// The prefix rules that apply to `argv`. A path applies the rules of its
    /// program's name (a path that is not a known location also gets a
    /// concern, see [`Policy::matches_for_argv`]).
    fn rules_matching<'s>(
        &'s self,
        name: &str,
        argv: &'s [String],
    ) -> impl Iterator<Item = &'s PrefixRule> {
        self.prefix_rules
            .get(name)
            .into_iter()
            .flatten()
            .filter(move |rule| rule.matches(argv))
    }

    /// The most verifying program definition for `argv`, with its verdict. A
    /// known path uses only the definitions that list it (or all, when a
    /// `host_executable` does); an unknown path uses all, under a concern.
    fn best_program(
        &self,
        name: &str,
        path: Option<&Path>,
        argv: &[String],
    ) -> Option<(&ProgramSpec, crate::program::ProgramVerdict)> {
        let restrict = path.filter(|p| self.path_known(name, p) && !self.host_listed(name, p));
        self.programs
            .get(name)?
            .iter()
            .filter(|spec| spec.applies_to(argv))
            .filter(|spec| match restrict {
                None => true,
                Some(path) => spec.system_path.iter().any(|p| Path::new(&**p) == path),
            })
            .map(|spec| (spec, spec.classify(argv)))
            .min_by_key(|(_, verdict)| verdict.outcome)
    }

    /// Matches for one plain argv, without unwrapping: prefix rules first, and
    /// a program definition when no rule matched or when it forbids. A path
    /// is judged by the rules of its program's name; unless a
    /// `host_executable` (or `system_path`) lists it, it is also a concern
    /// (at best `prompt`): `/tmp/rm` is not known to be `rm`, but may be.
    pub(crate) fn matches_for_argv(&self, argv: &[String]) -> Vec<RuleMatch> {
        let Some((name, path)) = self.program_of(argv) else {
            return Vec::new();
        };
        let mut matches: Vec<RuleMatch> = self
            .rules_matching(name, argv)
            .map(|rule| RuleMatch::PrefixRuleMatch {
                matched_prefix: argv[..=rule.rest.len()].to_vec(),
                decision: rule.decision,
                resolved_program: path.map(Path::to_path_buf),
                justification: rule.justification.as_deref().map(str::to_owned),
                defined_at: rule.defined_at.to_string(),
            })
            .collect();
        if let Some((spec, verdict)) = self.best_program(name, path, argv)
            && (matches.is_empty() || verdict.outcome == ProgramOutcome::Forbidden)
        {
            matches.push(RuleMatch::ProgramMatch {
                program: spec.program.to_string(),
                outcome: verdict.outcome,
                args: verdict.args,
                reason: verdict.reason,
                defined_at: spec.defined_at.to_string(),
            });
        }
        if let Some(path) = path
            && self.has_rules(name)
            && !self.path_known(name, path)
        {
            matches.push(RuleMatch::ShellRuleMatch {
                script: join(argv),
                decision: Decision::Prompt,
                reason: format!(
                    "{} is not a known location of {name} (list it with host_executable): it is judged by the rules of {name}, at best needing approval",
                    path.display()
                ),
            });
        }
        matches
    }

    /// The decision alone, without the explanation [`Policy::check`] builds:
    /// for hot paths. Identical to `check(argv).decision` (tested); a plain
    /// command given by name is decided without allocating.
    pub fn decide(&self, argv: &[String]) -> Option<Verdict> {
        if !is_plain(argv) {
            return self.check(argv).decision;
        }
        let name = argv.first()?.as_str();
        let rule = self.rules_matching(name, argv).map(|r| r.decision).max();
        let program = self
            .best_program(name, None, argv)
            .map(|(_, verdict)| verdict.outcome);
        match (rule, program) {
            (Some(_), Some(ProgramOutcome::Forbidden)) => Some(Verdict::Rule(Decision::Forbidden)),
            (Some(decision), _) => Some(Verdict::Rule(decision)),
            (None, outcome) => outcome.map(Verdict::Program),
        }
    }

    /// [`Policy::decide`] for arguments as the OS gives them: an argument that
    /// is not UTF-8 is decided on a lossy copy, at best `prompt`.
    pub fn decide_os<S: AsRef<OsStr>>(&self, argv: &[S]) -> Option<Verdict> {
        self.check_os(argv).decision
    }

    /// [`Policy::check`] for arguments as the OS gives them (`OsString`): an
    /// argument that is not UTF-8 is decided on a lossy copy and makes the
    /// command at best `prompt` — never allowed by a safe-command rule, since
    /// the bytes that run are not the text that was read.
    pub fn check_os<S: AsRef<OsStr>>(&self, argv: &[S]) -> Evaluation {
        let argv: Vec<String> = argv
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        // A lossy copy carries U+FFFD, which `check` treats as a concern.
        self.check(&argv)
    }

    /// Decides on a command line: wrappers (`env`, `sudo`, `timeout`, …) and
    /// shells (`bash -lc '...'`) are unwrapped, and every command found is
    /// decided, as is every wrapper that has rules; the strictest decision
    /// wins. A concern (something that may change what runs without being
    /// understood) makes the command at best `prompt`, and so does, once a
    /// command line was unwrapped or split, a part no rule covers.
    pub fn check(&self, argv: &[String]) -> Evaluation {
        let Normalized {
            commands,
            wrappers,
            concerns,
        } = normalize(argv);
        let mut matched_rules = Vec::new();
        for wrapper in &wrappers {
            matched_rules.extend(self.matches_for_argv(wrapper));
        }
        let split = !wrappers.is_empty()
            || commands.len() > 1
            || commands.first().is_some_and(|c| c.as_slice() != argv);
        for command in &commands {
            let found = self.matches_for_argv(command);
            if found.is_empty() && split {
                matched_rules.push(RuleMatch::ShellRuleMatch {
                    script: join(command),
                    decision: Decision::Prompt,
                    reason: "no rule covers this part of the command".into(),
                });
            }
            matched_rules.extend(found);
        }
        matched_rules.extend(concerns.into_iter().map(|c| RuleMatch::ShellRuleMatch {
            script: c.script,
            decision: Decision::Prompt,
            reason: c.reason,
        }));
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
