//! A loaded policy, and deciding on command lines.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::commands::Commands;
use crate::names::NameMap;
use crate::normalize::{self, Normalized, join, normalize};
use crate::program::{ProgramSpec, ProgramVerdict};
use crate::rules::{Compiled, NetworkRule, PrefixRule, RuleMatch};
use crate::{Decision, ProgramOutcome};

/// Rules and program definitions, keyed by program name.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{Decision, PolicyLoader, Verdict};
///
/// let mut loader = PolicyLoader::with_default_policy()?;
/// loader.load_str("team.rules", r#"
/// prefix_rule(pattern = ["npm", ["test", "ci"]], decision = "allow")
/// network_rule(host = "registry.npmjs.org", protocol = "https", decision = "allow")
/// "#)?;
/// let policy = loader.finish();
/// let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
/// assert_eq!(policy.decide(&argv("npm test")), Some(Verdict::Rule(Decision::Allow)));
/// assert_eq!(policy.decide(&argv("rm -rf /")).map(Verdict::decision), Some(Decision::Forbidden));
/// assert_eq!(policy.decide(&argv("npm publish")), None); // no rule: the caller decides
/// assert_eq!(policy.network_rules().len(), 1);
/// # Ok::<(), codex_execpolicy::LoadError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    /// Everything about each program name, found with one lookup.
    pub(crate) programs: NameMap<ProgramRules>,
    pub(crate) network_rules: Vec<NetworkRule>,
}

/// The rules, definitions and known paths of one program name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProgramRules {
    pub(crate) prefix_rules: Vec<PrefixRule>,
    /// The same rules, compiled for matching.
    compiled: Compiled,
    pub(crate) specs: Vec<ProgramSpec>,
    /// Where `host_executable` says the program is.
    pub(crate) host_paths: Vec<PathBuf>,
    /// A wrapper, shell or launcher, or a name no plain command has (with a
    /// `/` or `=`): its command lines are normalized first.
    unwraps: bool,
}

/// How a command line is decided.
enum Route<'p> {
    /// A plain command whose program has rules: decided as it is.
    Plain(&'p ProgramRules),
    /// A plain command that no rule is about.
    Unmatched,
    /// Anything else (a path, a wrapper, a shell, an assignment, a
    /// replacement character, no program): normalized first.
    Normalize,
}

/// The overall decision: Codex's vocabulary when a rule decided, the program
/// definitions' vocabulary when only definitions did.
///
/// Not exhaustive: [`Verdict::decision`] maps every verdict to a [`Decision`].
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{Decision, PolicyLoader, ProgramOutcome, Verdict};
///
/// let policy = PolicyLoader::with_default_policy()?.finish();
/// let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
/// // Only a program definition decided: its vocabulary.
/// let verdict = policy.decide(&argv("grep -rn TODO src")).ok_or("undecided")?;
/// assert_eq!(verdict, Verdict::Program(ProgramOutcome::Safe));
/// assert_eq!(verdict.decision(), Decision::Allow);
/// assert_eq!(serde_json::to_string(&verdict)?, r#""safe""#);
/// // A rule decided: Codex's vocabulary.
/// let verdict = policy.decide(&argv("rm -rf /")).ok_or("undecided")?;
/// assert_eq!(verdict, Verdict::Rule(Decision::Forbidden));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{Decision, PolicyLoader, Verdict};
///
/// let mut loader = PolicyLoader::new();
/// loader.load_str("rules.star", r#"
/// prefix_rule(pattern = ["git", "push"], decision = "prompt", justification = "publishes commits")
/// "#)?;
/// let policy = loader.finish();
/// let argv = ["sudo", "git", "push", "origin"].map(String::from);
/// let evaluation = policy.check(&argv);
/// assert_eq!(evaluation.decision, Some(Verdict::Rule(Decision::Prompt)));
/// assert_eq!(evaluation.commands, vec![vec!["git", "push", "origin"]]); // `sudo` unwrapped
/// let json = serde_json::to_value(&evaluation)?;
/// assert_eq!(json["decision"], "prompt");
/// let matched = &json["matchedRules"][0]["prefixRuleMatch"];
/// assert_eq!(matched["matchedPrefix"], serde_json::json!(["git", "push"]));
/// assert_eq!(matched["justification"], "publishes commits");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
    pub commands: Commands,
}

impl Policy {
    fn program_mut(&mut self, name: &str) -> &mut ProgramRules {
        self.programs.get_or_insert_with(name, || ProgramRules {
            prefix_rules: Vec::new(),
            compiled: Compiled::default(),
            specs: Vec::new(),
            host_paths: Vec::new(),
            unwraps: name.contains(['/', '=']) || normalize::unwraps(name),
        })
    }

    pub(crate) fn add_prefix_rule(&mut self, rule: PrefixRule) {
        let program = self.program_mut(&rule.program);
        program.compiled.push(&rule);
        program.prefix_rules.push(rule);
    }

    pub(crate) fn add_program(&mut self, spec: ProgramSpec) {
        self.program_mut(&spec.program).specs.push(spec);
    }

    pub(crate) fn set_host_executable(&mut self, name: &str, paths: Vec<PathBuf>) {
        self.program_mut(name).host_paths = paths;
    }

    /// `network_rule(...)` entries, for the network policy.
    pub fn network_rules(&self) -> &[NetworkRule] {
        &self.network_rules
    }

    /// Number of prefix rules (one per program alternative).
    pub fn prefix_rule_count(&self) -> usize {
        self.programs
            .iter()
            .map(|(_, p)| p.prefix_rules.len())
            .sum()
    }

    /// How `argv` is decided: one lookup of its program decides whether
    /// normalizing could change anything.
    fn route(&self, argv: &[String]) -> Route<'_> {
        let Some(first) = argv.first() else {
            return Route::Normalize;
        };
        // A replacement character is looked for only in what is not ASCII
        // (checked a word at a time).
        if argv.iter().any(|t| !t.is_ascii() && t.contains('\u{FFFD}')) {
            return Route::Normalize;
        }
        match self.programs.get(first.as_str()) {
            Some(program) if program.unwraps => Route::Normalize,
            Some(program) => Route::Plain(program),
            None if first.contains(['/', '=']) || normalize::unwraps(first) => Route::Normalize,
            None => Route::Unmatched,
        }
    }

    /// Matches for one plain argv, without unwrapping: prefix rules first, and
    /// a program definition when no rule matched or when it forbids. A path
    /// is judged by the rules of its program's name; unless a
    /// `host_executable` (or `system_path`) lists it, it is also a concern
    /// (at best `prompt`): `/tmp/rm` is not known to be `rm`, but may be.
    pub(crate) fn matches_for_argv(&self, argv: &[String]) -> Vec<RuleMatch> {
        let mut matches = Vec::new();
        self.push_matches(argv, &mut matches);
        matches
    }

    fn push_matches(&self, argv: &[String], out: &mut Vec<RuleMatch>) {
        let Some(first) = argv.first() else {
            return;
        };
        let (name, path) = if first.contains('/') {
            let path = Path::new(first);
            match path.file_name().and_then(|n| n.to_str()) {
                Some(name) => (name, Some(path)),
                None => return,
            }
        } else {
            (first.as_str(), None)
        };
        if let Some(program) = self.programs.get(name) {
            program.push_matches(name, path, argv, out);
        }
    }

    /// The decision alone, without the explanation [`Policy::check`] builds:
    /// for hot paths. Identical to `check(argv).decision` (tested); a plain
    /// command given by name is decided without allocating.
    pub fn decide(&self, argv: &[String]) -> Option<Verdict> {
        match self.route(argv) {
            Route::Plain(program) => program.decide(argv),
            Route::Unmatched => None,
            Route::Normalize => self.check(argv).decision,
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
        // A plain command normalizes to itself, with no wrapper and no
        // concern: only its own matches count.
        let matched_rules = match self.route(argv) {
            Route::Plain(program) => {
                let mut matches = Vec::new();
                program.push_matches(&argv[0], None, argv, &mut matches);
                matches
            }
            Route::Unmatched => Vec::new(),
            Route::Normalize => return self.check_normalized(argv),
        };
        Evaluation {
            decision: verdict(&matched_rules),
            matched_rules,
            commands: Commands::one(argv),
        }
    }

    fn check_normalized(&self, argv: &[String]) -> Evaluation {
        let Normalized {
            commands,
            wrappers,
            concerns,
        } = normalize(argv);
        let mut matched_rules = Vec::new();
        for wrapper in &wrappers {
            self.push_matches(wrapper, &mut matched_rules);
        }
        let split = !wrappers.is_empty()
            || commands.len() > 1
            || commands.first().is_some_and(|c| c.as_slice() != argv);
        for command in &commands {
            let before = matched_rules.len();
            self.push_matches(command, &mut matched_rules);
            if matched_rules.len() == before && split {
                matched_rules.push(RuleMatch::ShellRuleMatch {
                    script: join(command),
                    decision: Decision::Prompt,
                    reason: "no rule covers this part of the command".into(),
                });
            }
        }
        matched_rules.extend(concerns.into_iter().map(|c| RuleMatch::ShellRuleMatch {
            script: c.script,
            decision: c.decision,
            reason: c.reason,
        }));
        Evaluation {
            decision: verdict(&matched_rules),
            matched_rules,
            commands: Commands::from_lists(&commands),
        }
    }
}

impl ProgramRules {
    fn host_listed(&self, path: &Path) -> bool {
        self.host_paths.iter().any(|p| p == path)
    }

    /// Whether `path` is a known location of the program: listed by a
    /// `host_executable`, or by the `system_path` of a definition.
    fn path_known(&self, path: &Path) -> bool {
        self.host_listed(path)
            || self
                .specs
                .iter()
                .any(|s| s.system_path.iter().any(|p| Path::new(&**p) == path))
    }

    /// The most verifying program definition for `argv`, with its verdict. A
    /// known path uses only the definitions that list it (or all, when a
    /// `host_executable` does); an unknown path uses all, under a concern.
    fn best_program(
        &self,
        path: Option<&Path>,
        argv: &[String],
    ) -> Option<(&ProgramSpec, ProgramVerdict)> {
        let restrict = path.filter(|p| self.path_known(p) && !self.host_listed(p));
        self.specs
            .iter()
            .filter(|spec| spec.applies_to(argv))
            .filter(|spec| match restrict {
                None => true,
                Some(path) => spec.system_path.iter().any(|p| Path::new(&**p) == path),
            })
            .map(|spec| (spec, spec.classify(argv)))
            .min_by_key(|(_, verdict)| verdict.outcome)
    }

    /// [`Policy::push_matches`] once the program is found: `name` is its
    /// name, `path` the path it was given by, if any.
    fn push_matches(
        &self,
        name: &str,
        path: Option<&Path>,
        argv: &[String],
        out: &mut Vec<RuleMatch>,
    ) {
        let before = out.len();
        self.compiled.matches(
            argv,
            |i| self.prefix_rules.get(i).is_some_and(|r| r.matches(argv)),
            |i, _, shared| {
                let Some(rule) = self.prefix_rules.get(i) else {
                    return;
                };
                // The shared prefix has the program's name: a path given
                // instead is shown as given.
                let matched_prefix = match shared {
                    Some(prefix) if path.is_none() => Some(prefix.clone()),
                    _ => rule.matched_tokens(argv),
                };
                if let Some(matched_prefix) = matched_prefix {
                    out.push(RuleMatch::PrefixRuleMatch {
                        matched_prefix,
                        decision: rule.decision,
                        resolved_program: path.map(Path::to_path_buf),
                        justification: rule.justification.clone(),
                        defined_at: rule.defined_at.clone(),
                    });
                }
            },
        );
        if let Some((spec, verdict)) = self.best_program(path, argv)
            && (out.len() == before || verdict.outcome == ProgramOutcome::Forbidden)
        {
            out.push(RuleMatch::ProgramMatch {
                program: spec.program.clone(),
                outcome: verdict.outcome,
                args: verdict.args,
                reason: verdict.reason,
                defined_at: spec.defined_at.clone(),
            });
        }
        let has_rules = !self.prefix_rules.is_empty() || !self.specs.is_empty();
        if let Some(path) = path
            && has_rules
            && !self.path_known(path)
        {
            out.push(RuleMatch::ShellRuleMatch {
                script: join(argv),
                decision: Decision::Prompt,
                reason: format!(
                    "{} is not a known location of {name} (list it with host_executable): it is judged by the rules of {name}, at best needing approval",
                    path.display()
                ),
            });
        }
    }

    /// The decision on a plain command line (the program given by name).
    fn decide(&self, argv: &[String]) -> Option<Verdict> {
        let mut rule = None;
        self.compiled.matches(
            argv,
            |i| self.prefix_rules.get(i).is_some_and(|r| r.matches(argv)),
            |_, decision, _| rule = rule.max(Some(decision)),
        );
        let program = if self.specs.is_empty() {
            None
        } else {
            self.best_program(None, argv)
                .map(|(_, verdict)| verdict.outcome)
        };
        match (rule, program) {
            (Some(_), Some(ProgramOutcome::Forbidden)) => Some(Verdict::Rule(Decision::Forbidden)),
            (Some(decision), _) => Some(Verdict::Rule(decision)),
            (None, outcome) => outcome.map(Verdict::Program),
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use crate::PolicyLoader;

    /// The fast paths (a plain command decided as it is, `decide` without an
    /// explanation, compiled matching with shared prefixes) give what the
    /// general path gives.
    #[test]
    fn fast_paths_agree_with_normalizing_first() {
        let mut loader = PolicyLoader::with_default_policy().unwrap();
        loader
            .load_str(
                "rules.star",
                r#"
prefix_rule(pattern = ["git", ["push", "send-pack"], ["-f", "--force"]], decision = "forbidden")
prefix_rule(pattern = ["git", "push"], decision = "prompt", justification = "publishes")
prefix_rule(pattern = ["git"], decision = "allow")
prefix_rule(pattern = ["npm", ["a", "b", "c", "d", "e"], ["f", "g", "h", "i"]])
prefix_rule(pattern = ["cp"], arguments = ["/etc/*"], unless = ["-n"], decision = "prompt")
host_executable(name = "git", paths = ["/usr/bin/git"])
"#,
            )
            .unwrap();
        let policy = loader.finish();
        let lines = [
            "git push -f origin",
            "git push origin",
            "git send-pack --force",
            "git",
            "git status --short",
            "/usr/bin/git push --force",
            "npm c h x",
            "npm e i",
            "npm e",
            "cp a /etc/passwd",
            "cp -n a /etc/passwd",
            "rm -rf /",
            "rm -rf ./build",
            "dd if=/dev/zero of=/dev/sda",
            "ls -la src",
            "sed -i s/a/b/ f",
            "sort -o out.txt in.txt",
            "unknown x y",
            "",
        ];
        for line in lines {
            let argv: Vec<String> = line.split_whitespace().map(String::from).collect();
            let check = policy.check(&argv);
            assert_eq!(check, policy.check_normalized(&argv), "{line}");
            assert_eq!(policy.decide(&argv), check.decision, "{line}");
        }
    }
}
