//! Prefix rules (Codex's `prefix_rule`), network rules, and what a match reports.

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::program::MatchedArg;
use crate::{Decision, ProgramOutcome};

/// One token of a prefix pattern: a word, or one of several alternatives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum PatternToken {
    /// Exactly this word.
    Single(Box<str>),
    /// Any of these words.
    Alternatives(Box<[Box<str>]>),
}

impl PatternToken {
    /// Whether `token` is one of this token's words.
    fn matches(&self, token: &str) -> bool {
        self.alternatives().iter().any(|w| same(w, token))
    }

    /// The words this token accepts.
    pub(crate) fn alternatives(&self) -> &[Box<str>] {
        match self {
            Self::Single(word) => std::slice::from_ref(word),
            Self::Alternatives(words) => words,
        }
    }
}

/// Whether two words are equal, compared inline: the words of a command
/// line are short, and a call into the C library's `memcmp` costs more than
/// comparing them.
#[inline]
fn same(a: &str, b: &str) -> bool {
    same_bytes(a.as_bytes(), b.as_bytes())
}

#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The prefix rules of one program compiled for matching, in order, as
/// parallel arrays: a filter word per rule, scanned first; a small head per
/// rule, read for the few the filter lets through; the words of each
/// pattern after the program, with their lengths, in one shared buffer; and
/// the shared matched prefixes, read only on a match. Matching a command
/// line reads a few contiguous bytes per rule instead of following a pointer
/// per rule, token and word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Compiled {
    /// One bit per alternative of the token after the program, from its
    /// length and first byte ([`fingerprint`]): a command line whose second
    /// token's bit is not set cannot match. All bits for a rule with no such
    /// token, or checked in full.
    filters: Vec<u64>,
    heads: Vec<Head>,
    /// For each rule, each token after the program: the number of
    /// alternatives, then each alternative as a length byte and the word.
    words: Vec<u8>,
    /// For each rule, the matched prefix of a command line given by name,
    /// for each combination of alternatives (the first token's varying
    /// fastest), made once so that a match shares it; empty when there
    /// would be more than [`MAX_SHARED_PREFIXES`], or the rule is checked
    /// in full.
    prefixes: Vec<Box<[Arc<[String]>]>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Head {
    /// Where the rule's tokens start in `words`.
    at: u32,
    /// How many tokens follow the program in the pattern.
    count: u8,
    decision: Decision,
    /// The rule is matched with [`PrefixRule::matches`] (it has an argument
    /// condition, or a part too long for the compiled form).
    check: bool,
}

/// Rules with more combinations of alternatives build their matched prefix
/// when they match.
const MAX_SHARED_PREFIXES: usize = 16;

/// The bit of a word in [`Compiled::filters`]: bits 0 to 62 from its length and
/// first byte; bit 63 stands for "no word".
#[inline]
fn fingerprint(word: Option<&[u8]>) -> u64 {
    match word {
        Some(word) => {
            let first = u64::from(word.first().copied().unwrap_or(0));
            1 << ((word.len() as u64 * 31 + first) % 63)
        }
        None => 1 << 63,
    }
}

impl Compiled {
    /// Appends `rule` (the next rule of the program).
    pub(crate) fn push(&mut self, rule: &PrefixRule) {
        let at = u32::try_from(self.words.len()).ok();
        let fits = at.is_some()
            && rule.rest.len() <= usize::from(u8::MAX)
            && rule.rest.iter().all(|token| {
                let words = token.alternatives();
                words.len() <= usize::from(u8::MAX)
                    && words.iter().all(|w| w.len() <= usize::from(u8::MAX))
            });
        let check = !fits || rule.arguments.is_some();
        let filter = match rule.rest.first() {
            Some(token) if !check => token
                .alternatives()
                .iter()
                .fold(0, |bits, word| bits | fingerprint(Some(word.as_bytes()))),
            _ => u64::MAX,
        };
        let combinations = rule
            .rest
            .iter()
            .try_fold(1usize, |n, token| n.checked_mul(token.alternatives().len()))
            .filter(|n| !check && *n <= MAX_SHARED_PREFIXES)
            .unwrap_or(0);
        let prefixes = (0..combinations)
            .map(|mut combination| {
                let mut prefix = Vec::with_capacity(1 + rule.rest.len());
                prefix.push(rule.program.to_string());
                for token in rule.rest.iter() {
                    let words = token.alternatives();
                    prefix.push(words[combination % words.len()].to_string());
                    combination /= words.len();
                }
                Arc::from(prefix)
            })
            .collect();
        if !check {
            for token in rule.rest.iter() {
                let words = token.alternatives();
                self.words.push(words.len() as u8);
                for word in words {
                    self.words.push(word.len() as u8);
                    self.words.extend_from_slice(word.as_bytes());
                }
            }
        }
        self.filters.push(filter);
        self.heads.push(Head {
            at: at.unwrap_or(0),
            // Checked in full when the pattern is longer.
            count: u8::try_from(rule.rest.len()).unwrap_or(u8::MAX),
            decision: rule.decision,
            check,
        });
        self.prefixes.push(prefixes);
    }

    /// Calls `found` with the index (in the program's rules), decision and
    /// shared matched prefix (when there is one) of every rule whose pattern
    /// `argv` starts with; a rule checked in full is given to `check` to
    /// decide whether it matches.
    #[inline]
    pub(crate) fn matches(
        &self,
        argv: &[String],
        check: impl Fn(usize) -> bool,
        mut found: impl FnMut(usize, Decision, Option<&Arc<[String]>>),
    ) {
        let probe = fingerprint(argv.get(1).map(String::as_bytes));
        for (index, filter) in self.filters.iter().enumerate() {
            if filter & probe == 0 {
                continue;
            }
            let Some(head) = self.heads.get(index) else {
                return;
            };
            let count = usize::from(head.count);
            if head.check {
                if check(index) {
                    found(index, head.decision, None);
                }
            } else if argv.len() > count
                && let Some(combination) = tokens_match(
                    self.words.get(head.at as usize..).unwrap_or_default(),
                    &argv[1..=count],
                )
            {
                let prefix = self.prefixes.get(index).and_then(|p| p.get(combination));
                found(index, head.decision, prefix);
            }
        }
    }
}

/// Whether `tokens` are, one by one, among the alternatives `words` lists:
/// the combination of alternatives they are (as [`Compiled::prefixes`]
/// numbers them), or `None`.
#[inline]
fn tokens_match(words: &[u8], tokens: &[String]) -> Option<usize> {
    let (mut at, mut combination, mut radix) = (0, 0, 1usize);
    for token in tokens {
        let token = token.as_bytes();
        let alternatives = usize::from(*words.get(at)?);
        at += 1;
        let mut found = None;
        for alternative in 0..alternatives {
            let len = usize::from(*words.get(at)?);
            let word = words.get(at + 1..at + 1 + len)?;
            at += 1 + len;
            if found.is_none() && same_bytes(word, token) {
                found = Some(alternative);
            }
        }
        combination += found? * radix;
        radix = radix.saturating_mul(alternatives);
    }
    Some(combination)
}

/// A shell-style pattern for one argument (an extension of the rules
/// language): `*` is any run of characters (`/` included), `?` one
/// character, `[abc]`, `[a-z]` and `[!abc]` one character of (or not of) a
/// set; anything else stands for itself, and `[*]` is a literal `*`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Glob(Box<str>);

impl Glob {
    /// Checks the pattern: every `[` has its `]`.
    pub(crate) fn new(pattern: &str) -> Option<Self> {
        let bytes = pattern.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'[' {
                i = class_end(bytes, i)?;
            } else {
                i += 1;
            }
        }
        Some(Self(pattern.into()))
    }

    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        let (p, t) = (self.0.as_bytes(), text.as_bytes());
        let (mut pi, mut ti) = (0, 0);
        // After a `*`: where the pattern resumes, and where in the text the
        // star's run ends so far (backtracking extends it one character).
        let mut star: Option<(usize, usize)> = None;
        while ti < t.len() {
            let step = match p.get(pi) {
                Some(b'*') => {
                    star = Some((pi + 1, ti));
                    pi += 1;
                    continue;
                }
                Some(b'?') => Some((pi + 1, char_len(t, ti))),
                Some(b'[') => class_end(p, pi).and_then(|end| {
                    let c = text[ti..].chars().next()?;
                    class_matches(&self.0[pi + 1..end - 1], c).then(|| (end, c.len_utf8()))
                }),
                Some(b) if *b == t[ti] => Some((pi + 1, 1)),
                _ => None,
            };
            match (step, star) {
                (Some((next, advance)), _) => {
                    pi = next;
                    ti += advance;
                }
                (None, Some((resume, run_end))) => {
                    let next = run_end + char_len(t, run_end);
                    star = Some((resume, next));
                    pi = resume;
                    ti = next;
                }
                (None, None) => return false,
            }
        }
        p[pi..].iter().all(|b| *b == b'*')
    }
}

/// Length of the UTF-8 character starting at `i` (1 past the end).
fn char_len(text: &[u8], i: usize) -> usize {
    match text.get(i) {
        Some(b) if *b >= 0xF0 => 4,
        Some(b) if *b >= 0xE0 => 3,
        Some(b) if *b >= 0xC0 => 2,
        _ => 1,
    }
}

/// The index just past the `]` closing the class that opens at `start`: a
/// `]` right after `[` or `[!` belongs to the set.
fn class_end(pattern: &[u8], start: usize) -> Option<usize> {
    let mut i = start + 1;
    if matches!(pattern.get(i), Some(b'!')) {
        i += 1;
    }
    if matches!(pattern.get(i), Some(b']')) {
        i += 1;
    }
    while i < pattern.len() {
        if pattern[i] == b']' {
            return Some(i + 1);
        }
        i += 1;
    }
    None
}

/// Whether `c` is in the set written between the brackets (`!` negates).
fn class_matches(set: &str, c: char) -> bool {
    let (negated, set) = match set.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, set),
    };
    let mut found = false;
    let mut chars = set.chars();
    while let Some(first) = chars.next() {
        let mut ahead = chars.clone();
        if let (Some('-'), Some(last)) = (ahead.next(), ahead.next()) {
            found |= (first..=last).contains(&c);
            chars = ahead;
        } else {
            found |= first == c;
        }
    }
    found != negated
}

/// What the arguments after a rule's pattern must hold (an extension of the
/// rules language): for each set, some argument matching one of its
/// patterns; and no argument matching an `unless` pattern.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ArgumentCondition {
    /// Each set needs one matching argument, in any position.
    pub(crate) all_of: Box<[Box<[Glob]>]>,
    /// An argument matching one of these makes the rule not apply.
    pub(crate) unless: Box<[Glob]>,
}

impl ArgumentCondition {
    /// The positions (in `args`) of the first argument matching each set, or
    /// `None` when a set has none or an `unless` pattern matches.
    fn matched(&self, args: &[String]) -> Option<Vec<usize>> {
        if args
            .iter()
            .any(|a| self.unless.iter().any(|g| g.matches(a)))
        {
            return None;
        }
        let mut found = Vec::with_capacity(self.all_of.len());
        for set in &self.all_of {
            found.push(args.iter().position(|a| set.iter().any(|g| g.matches(a)))?);
        }
        found.sort_unstable();
        found.dedup();
        Some(found)
    }
}

/// `prefix_rule(pattern=[...], decision=..., justification=...)` for one program
/// (a rule whose first token has alternatives becomes one rule per program).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PrefixRule {
    /// The program (first token).
    pub(crate) program: Box<str>,
    /// The tokens after the program.
    pub(crate) rest: Arc<[PatternToken]>,
    /// `arguments` / `unless`, when given. Stored apart in the prepared
    /// default policy, where rules share it (`chmod`, `chown`, `chgrp`).
    #[serde(skip)]
    pub(crate) arguments: Option<Arc<ArgumentCondition>>,
    /// What a match decides.
    pub(crate) decision: Decision,
    /// Why the rule exists.
    pub(crate) justification: Option<Arc<str>>,
    /// `file:line:column` of the rule.
    pub(crate) defined_at: Arc<str>,
}

impl PrefixRule {
    /// Whether `argv` (whose first token already names the program) starts
    /// with this pattern and its arguments meet the rule's condition.
    pub(crate) fn matches(&self, argv: &[String]) -> bool {
        self.prefix_matches(argv)
            && self
                .arguments
                .as_ref()
                .is_none_or(|c| c.matched(&argv[1 + self.rest.len()..]).is_some())
    }

    fn prefix_matches(&self, argv: &[String]) -> bool {
        argv.len() > self.rest.len()
            && self
                .rest
                .iter()
                .zip(&argv[1..])
                .all(|(pattern, token)| pattern.matches(token))
    }

    /// The tokens this rule covers in `argv`, when it matches: the prefix
    /// as given, then the arguments that met its condition.
    pub(crate) fn matched_tokens(&self, argv: &[String]) -> Option<Arc<[String]>> {
        if !self.prefix_matches(argv) {
            return None;
        }
        let after = 1 + self.rest.len();
        let extra = match &self.arguments {
            Some(condition) => condition.matched(&argv[after..])?,
            None => Vec::new(),
        };
        let mut tokens = Vec::with_capacity(after + extra.len());
        tokens.extend(argv[..after].iter().cloned());
        tokens.extend(extra.into_iter().map(|i| argv[after + i].clone()));
        Some(tokens.into())
    }
}

/// `network_rule(host=..., protocol=..., decision=...)`: exposed to the network
/// policy; not used to decide on command lines.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{Decision, NetworkProtocol, PolicyLoader};
///
/// let mut loader = PolicyLoader::new();
/// loader.load_str("net.rules", r#"
/// network_rule(host = "Registry.NPMJS.org", protocol = "https", decision = "allow",
///              justification = "package installs")
/// network_rule(host = "pastebin.com", protocol = "http", decision = "deny")
/// "#)?;
/// let policy = loader.finish();
/// let rules = policy.network_rules();
/// assert_eq!((rules[0].host.as_str(), rules[0].protocol), ("registry.npmjs.org", NetworkProtocol::Https));
/// assert_eq!(rules[0].justification.as_deref(), Some("package installs"));
/// assert_eq!(rules[1].decision, Decision::Forbidden); // `deny` in the file
/// assert_eq!(
///     serde_json::to_string(&rules[1])?,
///     r#"{"host":"pastebin.com","protocol":"http","decision":"forbidden"}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{NetworkProtocol, PolicyLoader};
///
/// let mut loader = PolicyLoader::new();
/// loader.load_str("net.rules", r#"
/// network_rule(host = "github.com", protocol = "http-connect", decision = "allow")
/// network_rule(host = "10.0.0.53", protocol = "socks5_udp", decision = "deny")
/// "#)?;
/// let policy = loader.finish();
/// let protocols: Vec<NetworkProtocol> = policy.network_rules().iter().map(|r| r.protocol).collect();
/// assert_eq!(protocols, [NetworkProtocol::Https, NetworkProtocol::Socks5Udp]);
/// assert_eq!(NetworkProtocol::Socks5Udp.to_string(), "socks5_udp");
/// assert_eq!(serde_json::to_string(&NetworkProtocol::Https)?, r#""https""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{Decision, PolicyLoader, RuleMatch, Verdict};
///
/// let mut loader = PolicyLoader::new();
/// loader.load_str("rules.star", r#"prefix_rule(pattern = ["git", "status"], decision = "allow")"#)?;
/// let policy = loader.finish();
/// let argv = ["bash", "-lc", "git status && make"].map(String::from);
/// let evaluation = policy.check(&argv);
/// let [first, second] = evaluation.matched_rules.as_slice() else { panic!("{evaluation:?}") };
/// assert!(matches!(first, RuleMatch::PrefixRuleMatch { defined_at, .. } if &**defined_at == "rules.star:1:1"));
/// // No rule covers `make`: it needs approval.
/// assert!(matches!(second, RuleMatch::ShellRuleMatch { script, .. } if script == "make"));
/// assert_eq!((first.decision(), second.decision()), (Decision::Allow, Decision::Prompt));
/// assert_eq!(evaluation.decision, Some(Verdict::Rule(Decision::Prompt)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RuleMatch {
    /// A prefix rule matched.
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    PrefixRuleMatch {
        /// The tokens the pattern covered, then, for a rule with an
        /// `arguments` condition, the arguments that met it. Shared: most
        /// matches reuse a prefix made when the rule was loaded.
        matched_prefix: Arc<[String]>,
        /// The rule's decision.
        decision: Decision,
        /// The absolute program path, when a `host_executable` mapped it.
        #[serde(skip_serializing_if = "Option::is_none")]
        resolved_program: Option<PathBuf>,
        /// The rule's justification (shared with the rule).
        #[serde(skip_serializing_if = "Option::is_none")]
        justification: Option<Arc<str>>,
        /// `file:line:column` of the rule (shared with the rule).
        defined_at: Arc<str>,
    },
    /// A program definition matched.
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    ProgramMatch {
        /// The program (shared with the definition).
        program: Arc<str>,
        /// Its outcome for this command line.
        outcome: ProgramOutcome,
        /// Each argument with its type, for the caller to check paths.
        args: Vec<MatchedArg>,
        /// Why it is forbidden or unverified.
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// `file:line:column` of the definition (shared with it).
        defined_at: Arc<str>,
    },
    /// Something that may change what runs without being understood: shell
    /// features that hide what runs, an assignment to a variable not known to
    /// be harmless, a wrapper option, a path that is not a known location of
    /// its program, a non-UTF-8 argument, nesting too deep to analyse, a
    /// network download piped into a shell, or a part of a split command no
    /// rule covers: `prompt`, the command needs approval unless something
    /// else forbids it. Or a shell construct that is destructive whatever the
    /// rules say — a fork bomb, a redirection onto a block device:
    /// `forbidden`.
    #[serde(rename_all = "camelCase")]
    #[non_exhaustive]
    ShellRuleMatch {
        /// The command line or script concerned.
        script: String,
        /// `prompt`, or `forbidden` for a destructive construct.
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
