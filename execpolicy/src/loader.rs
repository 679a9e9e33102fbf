//! Loading rules files: Starlark in Codex's dialect, hardened.
//!
//! - Only the policy builtins exist (no `range`, `list`, string methods, no
//!   `load()`), and a pre-scan refuses `*`, `%`, comprehensions and method
//!   calls: the constructs that can build unbounded values in one statement.
//! - Every statement counts against a step budget and checks the heap, so a
//!   runaway file (nested loops, doubling) is an error, not a hang.
//! - Files are at most 1 MiB of UTF-8; errors carry file:line:column.

// The builtins mirror the rules language's keyword arguments one to one
// (define_program has eight), and the starlark macro generates the functions.
#![allow(clippy::too_many_arguments)]

use std::cell::{RefCell, RefMut};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use starlark::ErrorKind;
use starlark::any::ProvidesStaticType;
use starlark::codemap::FileSpanRef;
use starlark::environment::{GlobalsBuilder, Module};
use starlark::eval::{BeforeStmtFunc, BeforeStmtFuncDyn, Evaluator};
use starlark::starlark_module;
use starlark::syntax::{AstModule, Dialect};
use starlark::values::Value;
use starlark::values::list::UnpackList;
use starlark::values::none::NoneType;

use crate::error::{
    ExampleList, InterpreterError, InvalidRuleValue, LoadError, LoadErrorKind, LooseningRule,
    UnboundedConstruct,
};
use crate::literal::{Call, Lit, read_calls};
use crate::program::{ArgSlot, ArgType, Arity, ProgramOption, ProgramSpec};
use crate::rules::{
    ArgumentCondition, Glob, NetworkProtocol, NetworkRule, PatternToken, PrefixRule,
};
use crate::{Decision, Policy, ProgramOutcome};

/// Largest rules file read.
pub const MAX_RULES_BYTES: usize = 1024 * 1024;
/// Statements one file may execute.
const MAX_STEPS: u64 = 1_000_000;
/// Heap one file may use.
const MAX_HEAP_BYTES: usize = 256 * 1024 * 1024;
/// How deeply a rules file may nest: brackets, operator and call chains
/// within one expression, and indented blocks, counted together. The
/// Starlark compiler recurses on nesting, so deeper input is refused by the
/// pre-scan (a located error) before it reaches the parser.
pub const MAX_RULES_NESTING: usize = 32;

/// Where a starlark error points, and what it is.
fn interpreter_error(error: starlark::Error, file: &str, parsing: bool) -> LoadError {
    let (line, column) = error.span().map_or((1, 1), |span| {
        let resolved = span.resolve_span();
        (resolved.begin.line + 1, resolved.begin.column + 1)
    });
    let text = InterpreterError::new(error.without_diagnostic().to_string());
    let kind = if parsing {
        LoadErrorKind::Syntax(text)
    } else {
        match error.into_kind() {
            // The builtins' and the budget's own errors, typed.
            ErrorKind::Native(e) | ErrorKind::Other(e) => match e.downcast::<LoadErrorKind>() {
                Ok(kind) => kind,
                Err(e) => match e.downcast::<InvalidRuleValue>() {
                    Ok(value) => LoadErrorKind::InvalidValue(value),
                    Err(_) => LoadErrorKind::Evaluation(text),
                },
            },
            ErrorKind::Parser(_) => LoadErrorKind::Syntax(text),
            ErrorKind::Scope(_) => LoadErrorKind::UnknownName(text),
            ErrorKind::Function(_) => LoadErrorKind::BadArguments(text),
            _ => LoadErrorKind::Evaluation(text),
        }
    };
    LoadError::at(file, line, column, kind)
}

/// Builds a [`Policy`] from one or more rules files.
#[derive(Debug, Default)]
pub struct PolicyLoader {
    builder: RefCell<Builder>,
}

#[derive(Debug, Default, ProvidesStaticType)]
struct Builder {
    policy: Policy,
    pending: Vec<Pending>,
    /// Files now loaded may only make the policy stricter.
    tightening_only: bool,
}

/// Examples to verify once the whole file is loaded (host executables may be
/// declared after the rule).
#[derive(Debug)]
struct Pending {
    at: (String, usize, usize),
    kind: PendingKind,
    matches: Vec<Vec<String>>,
    not_matches: Vec<Vec<String>>,
}

#[derive(Debug)]
enum PendingKind {
    Prefix(Vec<PrefixRule>),
    Program(Box<ProgramSpec>),
}

impl PolicyLoader {
    /// An empty loader.
    pub fn new() -> Self {
        Self::default()
    }

    /// A loader with the embedded default policy already loaded.
    ///
    /// The policy is prepared when the crate is built (evaluated, its
    /// examples verified, stored compactly), so obtaining it costs no
    /// interpretation; should the prepared form not match `default.policy`,
    /// the text is evaluated instead.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] naming `default.policy` if the policy embedded in the crate
    /// does not load: a defect of the build, never of the host or the caller.
    ///
    /// ```
    /// use codex_execpolicy::{Decision, PolicyLoader};
    ///
    /// let policy = PolicyLoader::with_default_policy()?.finish();
    /// let argv: Vec<String> = ["rm", "-rf", "/"].map(String::from).to_vec();
    /// let decision = policy.check(&argv).decision.map(|d| d.decision());
    /// assert_eq!(decision, Some(Decision::Forbidden));
    /// # Ok::<(), codex_execpolicy::LoadError>(())
    /// ```
    pub fn with_default_policy() -> Result<Self, LoadError> {
        if let Some(policy) = crate::default_policy::prepared() {
            let loader = Self::new();
            loader.builder.borrow_mut().policy = policy;
            return Ok(loader);
        }
        let mut loader = Self::new();
        loader.load_str(crate::default_policy::NAME, crate::default_policy::TEXT)?;
        Ok(loader)
    }

    /// Loads the files that follow as **tightening-only** (`true`) or with
    /// full trust (`false`, the default). Use it for rules files the
    /// sandboxed command could have written (in the workspace, say): such a
    /// file may add `prompt` and `forbidden` prefix rules, `forbidden`
    /// program definitions and `prompt`/`deny` network rules, and nothing
    /// that loosens the policy. A `prefix_rule` whose decision is `allow`
    /// (the default), a `define_program` without `forbidden`, a
    /// `host_executable` (it lets a path be judged by a program's rules as
    /// they are) or an `allow` `network_rule` is a located error.
    ///
    /// ```
    /// use codex_execpolicy::PolicyLoader;
    ///
    /// let mut loader = PolicyLoader::with_default_policy()?;
    /// loader.tightening_only(true);
    /// loader.load_str("workspace.rules", r#"prefix_rule(pattern = ["curl"], decision = "forbidden")"#)?;
    /// let err = loader
    ///     .load_str("workspace.rules", r#"prefix_rule(pattern = ["curl"], decision = "allow")"#)
    ///     .unwrap_err();
    /// assert_eq!((err.line, err.column), (1, 1));
    /// # Ok::<(), codex_execpolicy::LoadError>(())
    /// ```
    pub fn tightening_only(&mut self, on: bool) -> &mut Self {
        self.builder.get_mut().tightening_only = on;
        self
    }

    /// Reads and loads a rules file.
    ///
    /// # Errors
    ///
    /// [`LoadErrorKind::Open`] when `path` does not exist, may not be read or is
    /// not a regular file; [`LoadErrorKind::Read`] when reading fails;
    /// [`LoadErrorKind::TooLarge`] above [`MAX_RULES_BYTES`];
    /// [`LoadErrorKind::NotUtf8`] for text that is not UTF-8; otherwise as
    /// [`load_str`](Self::load_str).
    pub fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let name = path.display().to_string();
        // Never blocks on a FIFO, refuses what is not a regular file, and reads
        // at most one byte past the limit.
        let file = codex_policy_model::open_regular(path)
            .map_err(|e| LoadError::at(&name, 1, 1, LoadErrorKind::Open(e)))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_RULES_BYTES as u64 + 1),
            &mut bytes,
        )
        .map_err(|e| LoadError::at(&name, 1, 1, LoadErrorKind::Read(e)))?;
        if bytes.len() > MAX_RULES_BYTES {
            return Err(LoadError::at(&name, 1, 1, too_large()));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let prefix =
                String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]).into_owned();
            let line = prefix.matches('\n').count() + 1;
            LoadError::at(&name, line, 1, LoadErrorKind::NotUtf8)
        })?;
        self.load_str(&name, &text)
    }

    /// Loads rules from text; `name` appears in errors and rule locations.
    ///
    /// # Errors
    ///
    /// A [`LoadError`] at the file, line and column of the first problem, its
    /// [`LoadErrorKind`] saying which: text over [`MAX_RULES_BYTES`], a construct
    /// or nesting rules files may not use, a Starlark syntax or evaluation error,
    /// an unknown name or bad arguments, a value the rules language does not
    /// accept, a loosening rule in a [tightening-only](Self::tightening_only)
    /// load, or an example the rule does not decide as listed.
    pub fn load_str(&mut self, name: &str, text: &str) -> Result<(), LoadError> {
        if text.len() > MAX_RULES_BYTES {
            return Err(LoadError::at(name, 1, 1, too_large()));
        }
        prescan(name, text)?;
        let pending_before = self.builder.borrow().pending.len();
        if self.load_literal(name, text) {
            return self.builder.borrow().verify_examples(pending_before);
        }
        self.evaluate(name, text)
    }

    /// Evaluates `text` in the hardened interpreter (the general path).
    fn evaluate(&mut self, name: &str, text: &str) -> Result<(), LoadError> {
        let mut dialect = Dialect::Extended.clone();
        dialect.enable_load = false;
        dialect.enable_f_strings = true;
        let ast = AstModule::parse(name, text.to_owned(), &dialect)
            .map_err(|e| interpreter_error(e, name, true))?;
        let globals = GlobalsBuilder::new().with(policy_builtins).build();
        let pending_before = self.builder.borrow().pending.len();
        let builder = &self.builder;
        Module::with_temp_heap(|module| -> Result<(), LoadError> {
            let mut eval = Evaluator::new(&module);
            eval.extra = Some(builder);
            eval.set_max_callstack_size(64).map_err(|e| {
                let text = InterpreterError::new(e.to_string());
                LoadError::at(name, 1, 1, LoadErrorKind::Evaluation(text))
            })?;
            eval.before_stmt_for_dap(BeforeStmtFunc::from_dyn(Box::new(Budget { steps: 0 })));
            eval.eval_module(ast, &globals)
                .map_err(|e| interpreter_error(e, name, false))?;
            Ok(())
        })?;
        self.builder.borrow().verify_examples(pending_before)
    }

    /// Loads a file made only of calls of `prefix_rule`, `host_executable`
    /// and `network_rule` with literal arguments ([`crate::literal`]), as
    /// evaluating it would. `false`, with nothing loaded, for any other file
    /// and for any value the builtins would refuse: the interpreter then
    /// reads the file and reports the error where it is.
    fn load_literal(&mut self, name: &str, text: &str) -> bool {
        let Some(calls) = read_calls(text, LITERAL_BUILTINS) else {
            return false;
        };
        let builder = self.builder.get_mut();
        let mut effects = Vec::with_capacity(calls.len());
        for call in &calls {
            let at = (name.to_owned(), call.line, 1);
            match literal_call(call, at, builder.tightening_only) {
                Some(effect) => effects.push(effect),
                None => return false,
            }
        }
        for effect in effects {
            match effect {
                Effect::Prefix(pending) => {
                    if let PendingKind::Prefix(rules) = &pending.kind {
                        for rule in rules {
                            builder.policy.add_prefix_rule(rule.clone());
                        }
                    }
                    builder.pending.push(pending);
                }
                Effect::Host(program, paths) => builder.policy.set_host_executable(&program, paths),
                Effect::Network(rule) => builder.policy.network_rules.push(rule),
            }
        }
        true
    }

    /// The loaded policy.
    pub fn finish(self) -> Policy {
        self.builder.into_inner().policy
    }

    /// Loads `text` through the interpreter even when the literal reader
    /// could: the reference the fast path is compared with in tests.
    #[cfg(test)]
    pub(crate) fn load_str_evaluated(&mut self, name: &str, text: &str) -> Result<(), LoadError> {
        prescan(name, text)?;
        self.evaluate(name, text)
    }
}

/// The builtins the literal reader handles, with their keywords.
const LITERAL_BUILTINS: &[(&str, &[&str])] = &[
    (
        "prefix_rule",
        &[
            "pattern",
            "decision",
            "match",
            "not_match",
            "justification",
            "arguments",
            "unless",
        ],
    ),
    ("host_executable", &["name", "paths"]),
    (
        "network_rule",
        &["host", "protocol", "decision", "justification"],
    ),
];

/// What one literal call does to the policy, applied once the whole file
/// was read.
enum Effect {
    /// Rules, with the examples to verify.
    Prefix(Pending),
    Host(String, Vec<PathBuf>),
    Network(NetworkRule),
}

/// The effect of one call read by the literal reader, checked as the
/// builtin checks it; `None` when the builtin would refuse it (or the
/// interpreter would, for an argument of the wrong type).
fn literal_call(
    call: &Call<'_>,
    at: (String, usize, usize),
    tightening_only: bool,
) -> Option<Effect> {
    match call.name {
        "prefix_rule" => {
            let pattern = call.list_arg("pattern").ok()??;
            let rules = prefix_rules(
                pattern,
                call.str_arg("decision").ok()?,
                call.str_arg("justification").ok()?,
                call.list_arg("arguments").ok()?,
                call.list_arg("unless").ok()?,
                tightening_only,
                &at,
            )
            .ok()?;
            let matches = examples(call.list_arg("match").ok()?).ok()?;
            let not_matches = examples(call.list_arg("not_match").ok()?).ok()?;
            Some(Effect::Prefix(Pending {
                at,
                kind: PendingKind::Prefix(rules),
                matches,
                not_matches,
            }))
        }
        "host_executable" => {
            let name = call.str_arg("name").ok()??;
            let paths = call.list_arg("paths").ok()??;
            if tightening_only {
                return None;
            }
            host_paths(name, paths)
                .ok()
                .map(|p| Effect::Host(name.to_owned(), p))
        }
        "network_rule" => network(
            call.str_arg("host").ok()??,
            call.str_arg("protocol").ok()??,
            call.str_arg("decision").ok()??,
            call.str_arg("justification").ok()?,
            tightening_only,
        )
        .ok()
        .map(Effect::Network),
        _ => None,
    }
}

/// `prefix_rule`'s rules (one per program alternative), checked; `at` is
/// where the call is.
fn prefix_rules(
    pattern: &[Lit<'_>],
    decision: Option<&str>,
    justification: Option<&str>,
    arguments: Option<&[Lit<'_>]>,
    unless: Option<&[Lit<'_>]>,
    tightening_only: bool,
    at: &(String, usize, usize),
) -> Result<Vec<PrefixRule>, LoadErrorKind> {
    let decision = decision
        .map_or(Ok(Decision::Allow), Decision::parse)
        .map_err(InvalidRuleValue::Decision)?;
    if decision == Decision::Allow && tightening_only {
        return Err(LoadErrorKind::Loosening(LooseningRule::AllowPrefixRule));
    }
    let justification = self::justification(justification)?.map(Arc::<str>::from);
    let tokens = pattern
        .iter()
        .map(pattern_token)
        .collect::<Result<Vec<_>, _>>()?;
    let Some((first, rest)) = tokens.split_first() else {
        return Err(InvalidRuleValue::EmptyPattern.into());
    };
    let arguments = argument_condition(arguments, unless)?;
    let defined_at: Arc<str> = format!("{}:{}:{}", at.0, at.1, at.2).into();
    let rest: Arc<[PatternToken]> = rest.into();
    Ok(first
        .alternatives()
        .iter()
        .map(|program| PrefixRule {
            program: program.clone(),
            rest: rest.clone(),
            arguments: arguments.clone(),
            decision,
            justification: justification.clone(),
            defined_at: defined_at.clone(),
        })
        .collect())
}

/// `arguments` and `unless` of a `prefix_rule`; `None` when neither says
/// anything.
fn argument_condition(
    arguments: Option<&[Lit<'_>]>,
    unless: Option<&[Lit<'_>]>,
) -> Result<Option<Arc<ArgumentCondition>>, InvalidRuleValue> {
    let glob = |pattern: &str| {
        Glob::new(pattern).ok_or_else(|| InvalidRuleValue::ArgumentPattern {
            pattern: pattern.to_owned(),
        })
    };
    let all_of = arguments
        .unwrap_or_default()
        .iter()
        .map(|element| match element {
            Lit::Str(pattern) => Ok(Box::from([glob(pattern)?])),
            Lit::List(patterns) if patterns.is_empty() => {
                Err(InvalidRuleValue::ArgumentsElement { got: "empty list" })
            }
            Lit::List(patterns) => patterns
                .iter()
                .map(|p| match p {
                    Lit::Str(pattern) => glob(pattern),
                    other => Err(InvalidRuleValue::ArgumentsElement {
                        got: other.type_name(),
                    }),
                })
                .collect(),
            Lit::Other(type_name) => Err(InvalidRuleValue::ArgumentsElement { got: type_name }),
        })
        .collect::<Result<Box<[Box<[Glob]>]>, _>>()?;
    let unless = unless
        .unwrap_or_default()
        .iter()
        .map(|p| match p {
            Lit::Str(pattern) => glob(pattern),
            other => Err(InvalidRuleValue::UnlessType {
                got_type: other.type_name(),
            }),
        })
        .collect::<Result<Box<[Glob]>, _>>()?;
    if all_of.is_empty() && unless.is_empty() {
        return Ok(None);
    }
    Ok(Some(Arc::new(ArgumentCondition { all_of, unless })))
}

/// `host_executable`'s paths, checked.
fn host_paths(name: &str, paths: &[Lit<'_>]) -> Result<Vec<PathBuf>, InvalidRuleValue> {
    if name.is_empty() || name.contains('/') {
        return Err(InvalidRuleValue::HostExecutableName {
            name: name.to_owned(),
        });
    }
    let mut resolved = Vec::new();
    for path in strings(paths, |got_type| InvalidRuleValue::HostExecutablePathType {
        got_type,
    })? {
        let p = PathBuf::from(&path);
        if !p.is_absolute() {
            return Err(InvalidRuleValue::HostExecutablePathRelative { path });
        }
        if p.file_name().and_then(|n| n.to_str()) != Some(name) {
            return Err(InvalidRuleValue::HostExecutablePathName {
                path,
                name: name.to_owned(),
            });
        }
        if !resolved.contains(&p) {
            resolved.push(p);
        }
    }
    Ok(resolved)
}

/// A `network_rule`, checked.
fn network(
    host: &str,
    protocol: &str,
    decision: &str,
    justification: Option<&str>,
    tightening_only: bool,
) -> Result<NetworkRule, LoadErrorKind> {
    let protocol = network_protocol(protocol)?;
    let decision = match decision {
        "deny" => Decision::Forbidden,
        other => Decision::parse(other).map_err(|_| InvalidRuleValue::NetworkDecision {
            got: other.to_owned(),
        })?,
    };
    if decision == Decision::Allow && tightening_only {
        return Err(LoadErrorKind::Loosening(LooseningRule::AllowNetworkRule));
    }
    let host = network_host(host)?;
    let justification = self::justification(justification)?;
    Ok(NetworkRule {
        host,
        protocol,
        decision,
        justification,
    })
}

fn too_large() -> LoadErrorKind {
    LoadErrorKind::TooLarge {
        limit: MAX_RULES_BYTES,
    }
}

struct Budget {
    steps: u64,
}

impl<'e> BeforeStmtFuncDyn<'e> for Budget {
    fn call<'v>(
        &mut self,
        _: FileSpanRef<'_>,
        _: bool,
        eval: &mut Evaluator<'v, '_, 'e>,
    ) -> starlark::Result<()> {
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(starlark::Error::new_other(
                LoadErrorKind::TooManyStatements { limit: MAX_STEPS },
            ));
        }
        if eval.heap().allocated_bytes() > MAX_HEAP_BYTES {
            return Err(starlark::Error::new_other(LoadErrorKind::TooMuchMemory {
                limit_mib: MAX_HEAP_BYTES >> 20,
            }));
        }
        Ok(())
    }
}

/// Refuses constructs that can allocate without bound within one statement,
/// and nesting deeper than [`MAX_RULES_NESTING`] (the compiler recurses on
/// it). The depth counted is an upper bound of the syntax tree's: open
/// brackets, plus the operators, keyword operators and call or index
/// brackets chained at each bracket level since its last comma, plus the
/// indented blocks around the line.
fn prescan(name: &str, text: &str) -> Result<(), LoadError> {
    let bytes = text.as_bytes();
    let (mut i, mut line, mut line_start) = (0, 1, 0);
    // One entry per open bracket (and one for the statement): the length of
    // the operator chain at that level.
    let mut chains: Vec<usize> = vec![0];
    // Indentation of the enclosing blocks.
    let mut indents: Vec<usize> = vec![0];
    let mut at_line_start = true;
    let error = |i: usize, line: usize, line_start: usize, kind: LoadErrorKind| {
        let column = text[line_start..i].chars().count() + 1;
        Err(LoadError::at(name, line, column, kind))
    };
    let refuse = |i: usize, line: usize, line_start: usize, construct: UnboundedConstruct| {
        error(i, line, line_start, LoadErrorKind::Unbounded { construct })
    };
    let too_deep = |i: usize, line: usize, line_start: usize| {
        error(
            i,
            line,
            line_start,
            LoadErrorKind::TooDeep {
                limit: MAX_RULES_NESTING,
            },
        )
    };
    // Adds one link to the current chain; `Err` when too deep.
    let link = |chains: &mut Vec<usize>, indents: &Vec<usize>| -> bool {
        if let Some(last) = chains.last_mut() {
            *last += 1;
        }
        chains.iter().sum::<usize>() + chains.len() + indents.len() <= MAX_RULES_NESTING + 2
    };
    while i < bytes.len() {
        let c = bytes[i];
        if at_line_start && chains.len() == 1 {
            // Indentation of a logical line: blocks nest by indenting.
            let start = i;
            while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
                i += 1;
            }
            let blank = i >= bytes.len() || matches!(bytes[i], b'\n' | b'\r' | b'#');
            if !blank {
                let indent = i - start;
                while indents.last().is_some_and(|top| *top > indent) {
                    indents.pop();
                }
                if indents.last().is_some_and(|top| *top < indent) {
                    indents.push(indent);
                }
                if indents.len() > MAX_RULES_NESTING {
                    return too_deep(i, line, line_start);
                }
            }
            at_line_start = false;
            continue;
        }
        match c {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                i += 1;
                if chains.len() == 1 {
                    chains[0] = 0;
                    at_line_start = true;
                }
            }
            // A line continuation: the statement goes on.
            b'\\' if bytes.get(i + 1) == Some(&b'\n') => {
                line += 1;
                line_start = i + 2;
                i += 2;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' | b'\'' => {
                // An f-string's braces hold expressions the compiler nests
                // on: only a plain name is accepted there.
                let prefix_start = bytes[..i]
                    .iter()
                    .rposition(|b| !b.is_ascii_alphanumeric() && *b != b'_')
                    .map_or(0, |p| p + 1);
                let prefix = &text[prefix_start..i];
                let f_string = prefix.len() <= 2
                    && prefix.contains(['f', 'F'])
                    && prefix.chars().all(|c| matches!(c, 'f' | 'F' | 'r' | 'R'));
                let triple = bytes[i..].starts_with(&[c, c, c]);
                let quote_len = if triple { 3 } else { 1 };
                i += quote_len;
                while i < bytes.len() {
                    if bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if f_string && matches!(bytes[i], b'{' | b'}') {
                        if bytes.get(i + 1) == Some(&bytes[i]) {
                            i += 2;
                            continue;
                        }
                        let mut j = i + 1;
                        while j < bytes.len() && bytes[j] == b' ' {
                            j += 1;
                        }
                        let name_start = j;
                        while j < bytes.len()
                            && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_')
                        {
                            j += 1;
                        }
                        let named = j > name_start;
                        while j < bytes.len() && bytes[j] == b' ' {
                            j += 1;
                        }
                        if bytes[i] == b'}' || !named || bytes.get(j) != Some(&b'}') {
                            return error(i, line, line_start, LoadErrorKind::FStringExpression);
                        }
                        i = j + 1;
                        continue;
                    }
                    if bytes[i] == b'\n' {
                        line += 1;
                        line_start = i + 1;
                    }
                    if bytes[i] == c && (!triple || bytes[i..].starts_with(&[c, c, c])) {
                        i += quote_len;
                        break;
                    }
                    i += 1;
                }
            }
            b'(' | b'[' | b'{' => {
                if !link(&mut chains, &indents) {
                    return too_deep(i, line, line_start);
                }
                chains.push(0);
                i += 1;
            }
            b')' | b']' | b'}' => {
                if chains.len() == 1 {
                    return error(
                        i,
                        line,
                        line_start,
                        LoadErrorKind::UnmatchedBracket {
                            bracket: char::from(c),
                        },
                    );
                }
                chains.pop();
                i += 1;
            }
            b',' => {
                if let Some(last) = chains.last_mut() {
                    *last = 0;
                }
                i += 1;
            }
            b';' if chains.len() == 1 => {
                chains[0] = 0;
                i += 1;
            }
            b'*' => return refuse(i, line, line_start, UnboundedConstruct::StarOperator),
            b'%' => return refuse(i, line, line_start, UnboundedConstruct::PercentOperator),
            b'.' if i > 0
                && (bytes[i - 1].is_ascii_alphanumeric()
                    || matches!(bytes[i - 1], b'_' | b')' | b']' | b'"' | b'\''))
                && bytes
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') =>
            {
                return refuse(i, line, line_start, UnboundedConstruct::MethodCall);
            }
            b'+' | b'-' | b'/' | b'<' | b'>' | b'=' | b'!' | b'&' | b'|' | b'^' | b'~' | b'@'
            | b':' => {
                if !link(&mut chains, &indents) {
                    return too_deep(i, line, line_start);
                }
                i += 1;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let start = i;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
                let word = &text[start..i];
                if chains.len() > 1 && word == "for" {
                    return refuse(start, line, line_start, UnboundedConstruct::Comprehension);
                }
                let links = match word {
                    "not" | "and" | "or" | "in" | "is" | "if" | "else" | "elif" => 1,
                    // A lambda compiles to a nested function: heavier.
                    "lambda" | "def" => 4,
                    _ => 0,
                };
                for _ in 0..links {
                    if !link(&mut chains, &indents) {
                        return too_deep(start, line, line_start);
                    }
                }
            }
            _ => i += 1,
        }
    }
    Ok(())
}

fn builder<'v, 'a>(eval: &Evaluator<'v, 'a, '_>) -> anyhow::Result<RefMut<'a, Builder>> {
    eval.extra
        .as_ref()
        .and_then(|extra| extra.downcast_ref::<RefCell<Builder>>())
        .map(RefCell::borrow_mut)
        .ok_or_else(|| anyhow::anyhow!("internal error: the policy builder is missing"))
}

/// In a tightening-only file, `rule` would loosen the policy: an error that
/// says why and how to fix it (the caller's span locates it).
fn refuse_if_tightening(eval: &Evaluator<'_, '_, '_>, rule: LooseningRule) -> anyhow::Result<()> {
    if builder(eval)?.tightening_only {
        return Err(LoadErrorKind::Loosening(rule).into());
    }
    Ok(())
}

fn location(eval: &Evaluator<'_, '_, '_>) -> (String, usize, usize) {
    match eval.call_stack_top_location() {
        Some(span) => {
            let r = span.resolve_span();
            (
                span.filename().to_owned(),
                r.begin.line + 1,
                r.begin.column + 1,
            )
        }
        None => ("<rules>".into(), 1, 1),
    }
}

/// The strings of `list`; `not_string` says what is wrong with another value
/// (given its type).
fn strings(
    list: &[Lit<'_>],
    not_string: fn(&'static str) -> InvalidRuleValue,
) -> Result<Vec<String>, InvalidRuleValue> {
    list.iter()
        .map(|v| match v {
            Lit::Str(text) => Ok(text.to_string()),
            other => Err(not_string(other.type_name())),
        })
        .collect()
}

/// The interpreter's list, in literal form.
fn literals<'v>(list: UnpackList<Value<'v>>) -> Vec<Lit<'v>> {
    list.items.into_iter().map(Lit::from_value).collect()
}

fn example(value: &Lit<'_>) -> Result<Vec<String>, InvalidRuleValue> {
    let tokens = match value {
        Lit::Str(text) => shlex::split(text).ok_or_else(|| InvalidRuleValue::ExampleQuoting {
            example: text.to_string(),
        })?,
        Lit::List(items) => items
            .iter()
            .map(|v| match v {
                Lit::Str(token) => Ok(token.to_string()),
                _ => Err(InvalidRuleValue::ExampleTokenNotString),
            })
            .collect::<Result<_, _>>()?,
        Lit::Other(got_type) => return Err(InvalidRuleValue::ExampleType { got_type }),
    };
    if tokens.is_empty() {
        return Err(InvalidRuleValue::EmptyExample);
    }
    Ok(tokens)
}

fn examples(list: Option<&[Lit<'_>]>) -> Result<Vec<Vec<String>>, InvalidRuleValue> {
    list.unwrap_or_default().iter().map(example).collect()
}

fn justification(text: Option<&str>) -> Result<Option<String>, InvalidRuleValue> {
    match text {
        Some(t) if t.trim().is_empty() => Err(InvalidRuleValue::EmptyJustification),
        other => Ok(other.map(str::to_owned)),
    }
}

/// A `network_rule` host as Codex normalizes it: no scheme or path, a `:port`
/// (or `[v6]:port`) removed, lowercase, no trailing dot, no wildcard.
fn network_host(raw: &str) -> Result<String, InvalidRuleValue> {
    let given = || raw.to_owned();
    let mut host = raw.trim();
    if host.contains("://") || host.contains(['/', '?', '#']) {
        return Err(InvalidRuleValue::NetworkHostSchemeOrPath { host: given() });
    }
    if let Some(inside) = host.strip_prefix('[') {
        let Some((address, rest)) = inside.split_once(']') else {
            return Err(InvalidRuleValue::NetworkHostUnclosedBracket { host: given() });
        };
        let port_ok = rest
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !rest.is_empty() && !port_ok {
            return Err(InvalidRuleValue::NetworkHostSuffix { host: given() });
        }
        host = address;
    } else if host.matches(':').count() == 1
        && let Some((name, port)) = host.rsplit_once(':')
        && !name.is_empty()
        && !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
    {
        host = name;
    }
    let host = host.trim_end_matches('.').trim().to_ascii_lowercase();
    if host.is_empty() || host.contains('*') || host.chars().any(char::is_whitespace) {
        return Err(InvalidRuleValue::NetworkHostNotSpecific { host: given() });
    }
    Ok(host)
}

/// A `network_rule` protocol; Codex's `https_connect` and `http-connect` are
/// `https`.
pub(crate) fn network_protocol(protocol: &str) -> Result<NetworkProtocol, InvalidRuleValue> {
    Ok(match protocol {
        "http" => NetworkProtocol::Http,
        "https" | "https_connect" | "http-connect" => NetworkProtocol::Https,
        "socks5_tcp" => NetworkProtocol::Socks5Tcp,
        "socks5_udp" => NetworkProtocol::Socks5Udp,
        other => {
            return Err(InvalidRuleValue::NetworkProtocol {
                got: other.to_owned(),
            });
        }
    })
}

/// `ARG_*` constants name a type and how many positional arguments it takes.
fn arg_slot(name: &str) -> Result<ArgSlot, InvalidRuleValue> {
    let (arg_type, arity) = match name {
        "ARG_RFILE" => (ArgType::ReadableFile, Arity::One),
        "ARG_RFILES" => (ArgType::ReadableFile, Arity::OneOrMore),
        "ARG_RFILES_OR_CWD" => (ArgType::ReadableFile, Arity::ZeroOrMore),
        "ARG_WFILE" => (ArgType::WritableFile, Arity::One),
        "ARG_OPAQUE_VALUE" => (ArgType::OpaqueValue, Arity::One),
        "ARG_OPAQUE_VALUES" => (ArgType::OpaqueValue, Arity::ZeroOrMore),
        "ARG_POS_INT" => (ArgType::PositiveInteger, Arity::One),
        "ARG_SED_COMMAND" => (ArgType::SedCommand, Arity::One),
        other => {
            return Err(InvalidRuleValue::ArgType {
                got: other.to_owned(),
            });
        }
    };
    Ok(ArgSlot { arg_type, arity })
}

/// One `pattern` element: a word, or a non-empty list of alternatives.
fn pattern_token(value: &Lit<'_>) -> Result<PatternToken, InvalidRuleValue> {
    let list = match value {
        Lit::Str(word) => return Ok(PatternToken::Single(Box::from(&**word))),
        Lit::List(list) => list,
        Lit::Other(got_type) => return Err(InvalidRuleValue::PatternElement { got_type }),
    };
    let mut words: Vec<Box<str>> = list
        .iter()
        .map(|v| match v {
            Lit::Str(word) => Ok(Box::from(&**word)),
            _ => Err(InvalidRuleValue::AlternativeNotString),
        })
        .collect::<Result<_, _>>()?;
    Ok(match words.pop() {
        None => return Err(InvalidRuleValue::EmptyAlternatives),
        Some(word) if words.is_empty() => PatternToken::Single(word),
        Some(word) => {
            words.push(word);
            PatternToken::Alternatives(words.into())
        }
    })
}

#[starlark_module]
fn policy_builtins(globals: &mut GlobalsBuilder) {
    const ARG_RFILE: &str = "ARG_RFILE";
    const ARG_RFILES: &str = "ARG_RFILES";
    const ARG_RFILES_OR_CWD: &str = "ARG_RFILES_OR_CWD";
    const ARG_WFILE: &str = "ARG_WFILE";
    const ARG_OPAQUE_VALUE: &str = "ARG_OPAQUE_VALUE";
    const ARG_OPAQUE_VALUES: &str = "ARG_OPAQUE_VALUES";
    const ARG_POS_INT: &str = "ARG_POS_INT";
    const ARG_SED_COMMAND: &str = "ARG_SED_COMMAND";

    fn prefix_rule<'v>(
        pattern: UnpackList<Value<'v>>,
        decision: Option<&'v str>,
        r#match: Option<UnpackList<Value<'v>>>,
        not_match: Option<UnpackList<Value<'v>>>,
        justification: Option<&'v str>,
        arguments: Option<UnpackList<Value<'v>>>,
        unless: Option<UnpackList<Value<'v>>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let tightening_only = builder(eval)?.tightening_only;
        let at = location(eval);
        let arguments = arguments.map(literals);
        let unless = unless.map(literals);
        let rules = prefix_rules(
            &literals(pattern),
            decision,
            justification,
            arguments.as_deref(),
            unless.as_deref(),
            tightening_only,
            &at,
        )?;
        let matches = examples(r#match.map(literals).as_deref())?;
        let not_matches = examples(not_match.map(literals).as_deref())?;
        let mut b = builder(eval)?;
        for rule in &rules {
            b.policy.add_prefix_rule(rule.clone());
        }
        b.pending.push(Pending {
            at,
            kind: PendingKind::Prefix(rules),
            matches,
            not_matches,
        });
        Ok(NoneType)
    }

    fn host_executable<'v>(
        name: &'v str,
        paths: UnpackList<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        refuse_if_tightening(eval, LooseningRule::HostExecutable)?;
        let resolved = host_paths(name, &literals(paths))?;
        builder(eval)?.policy.set_host_executable(name, resolved);
        Ok(NoneType)
    }

    fn network_rule<'v>(
        host: &'v str,
        protocol: &'v str,
        decision: &'v str,
        justification: Option<&'v str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let tightening_only = builder(eval)?.tightening_only;
        let rule = network(host, protocol, decision, justification, tightening_only)?;
        builder(eval)?.policy.network_rules.push(rule);
        Ok(NoneType)
    }

    fn flag<'v>(name: &'v str) -> anyhow::Result<String> {
        if !name.starts_with('-') || name.len() < 2 {
            return Err(InvalidRuleValue::FlagName {
                name: name.to_owned(),
            }
            .into());
        }
        Ok(format!("flag\u{0}{name}"))
    }

    fn opt<'v>(name: &'v str, r#type: &'v str, required: Option<bool>) -> anyhow::Result<String> {
        let _ = required;
        if !name.starts_with('-') || name.len() < 2 {
            return Err(InvalidRuleValue::OptionName {
                name: name.to_owned(),
            }
            .into());
        }
        arg_slot(r#type)?;
        Ok(format!("opt\u{0}{name}\u{0}{}", r#type))
    }

    fn define_program<'v>(
        program: &'v str,
        subcommand: Option<&'v str>,
        system_path: Option<UnpackList<Value<'v>>>,
        options: Option<UnpackList<Value<'v>>>,
        args: Option<UnpackList<Value<'v>>>,
        forbidden: Option<&'v str>,
        should_match: Option<UnpackList<Value<'v>>>,
        should_not_match: Option<UnpackList<Value<'v>>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        if forbidden.is_none() {
            refuse_if_tightening(eval, LooseningRule::ProgramWithoutForbidden)?;
        }
        if program.is_empty() || program.contains('/') {
            return Err(InvalidRuleValue::ProgramName {
                program: program.to_owned(),
            }
            .into());
        }
        let mut parsed_options = Vec::new();
        for text in options.map_or(Ok(Vec::new()), |o| {
            strings(&literals(o), |got_type| InvalidRuleValue::OptionType {
                got_type,
            })
        })? {
            let parts: Vec<&str> = text.split('\u{0}').collect();
            parsed_options.push(match parts.as_slice() {
                ["flag", name] => ProgramOption {
                    name: (*name).into(),
                    value: None,
                },
                ["opt", name, arg] => ProgramOption {
                    name: (*name).into(),
                    value: Some(arg_slot(arg)?.arg_type),
                },
                _ => return Err(InvalidRuleValue::OptionSpec { text }.into()),
            });
        }
        let slots: Vec<ArgSlot> = args
            .map_or(Ok(Vec::new()), |a| {
                strings(&literals(a), |got_type| InvalidRuleValue::ArgsType {
                    got_type,
                })
            })?
            .iter()
            .map(|a| arg_slot(a))
            .collect::<Result<_, _>>()?;
        if slots.iter().filter(|s| s.arity != Arity::One).count() > 1 {
            return Err(InvalidRuleValue::SeveralVariableLength.into());
        }
        let system_path: Vec<Box<str>> = system_path
            .map_or(Ok(Vec::new()), |p| {
                strings(&literals(p), |got_type| InvalidRuleValue::SystemPathType {
                    got_type,
                })
            })?
            .into_iter()
            .map(|path| {
                if Path::new(&path).is_absolute() {
                    Ok(path.into_boxed_str())
                } else {
                    Err(InvalidRuleValue::SystemPathRelative { path })
                }
            })
            .collect::<Result<_, _>>()?;
        let at = location(eval);
        let spec = ProgramSpec {
            program: program.into(),
            subcommand: subcommand.map(Box::from),
            system_path,
            options: parsed_options,
            args: slots,
            forbidden: forbidden.map(Box::from),
            defined_at: format!("{}:{}:{}", at.0, at.1, at.2).into(),
        };
        let matches = examples(should_match.map(literals).as_deref())?;
        let not_matches = examples(should_not_match.map(literals).as_deref())?;
        let mut b = builder(eval)?;
        b.policy.add_program(spec.clone());
        b.pending.push(Pending {
            at,
            kind: PendingKind::Program(Box::new(spec)),
            matches,
            not_matches,
        });
        Ok(NoneType)
    }
}

impl Builder {
    /// Checks the examples of every rule loaded since `from`, against only that
    /// rule (and the file's host executables), as Codex does.
    fn verify_examples(&self, from: usize) -> Result<(), LoadError> {
        for pending in &self.pending[from..] {
            if pending.matches.is_empty() && pending.not_matches.is_empty() {
                continue;
            }
            let (file, line, column) = &pending.at;
            let fail = |example: &Vec<String>, listed_in: ExampleList| {
                Err(LoadError::at(
                    file,
                    *line,
                    *column,
                    LoadErrorKind::ExampleMismatch {
                        example: example.clone(),
                        listed_in,
                    },
                ))
            };
            match &pending.kind {
                PendingKind::Prefix(rules) => {
                    let mut alone = self.hosts_of(rules.iter().map(|r| &*r.program));
                    for rule in rules {
                        alone.add_prefix_rule(rule.clone());
                    }
                    for example in &pending.matches {
                        if alone.matches_for_argv(example).is_empty() {
                            return fail(example, ExampleList::Match);
                        }
                    }
                    for example in &pending.not_matches {
                        if !alone.matches_for_argv(example).is_empty() {
                            return fail(example, ExampleList::NotMatch);
                        }
                    }
                }
                PendingKind::Program(spec) => {
                    let mut alone = self.hosts_of([&*spec.program]);
                    alone.add_program((**spec).clone());
                    let outcome = |example: &Vec<String>| {
                        alone
                            .matches_for_argv(example)
                            .first()
                            .and_then(|m| match m {
                                crate::RuleMatch::ProgramMatch { outcome, .. } => Some(*outcome),
                                _ => None,
                            })
                    };
                    for example in &pending.matches {
                        match outcome(example) {
                            Some(ProgramOutcome::Unverified) | None => {
                                return fail(example, ExampleList::ShouldMatch);
                            }
                            _ => {}
                        }
                    }
                    for example in &pending.not_matches {
                        if !matches!(outcome(example), Some(ProgramOutcome::Unverified) | None) {
                            return fail(example, ExampleList::ShouldNotMatch);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// A policy with only the host executables of `programs`: examples of a
    /// rule can only match through its own programs, so only their paths
    /// matter.
    fn hosts_of<'a>(&self, programs: impl IntoIterator<Item = &'a str>) -> Policy {
        let mut alone = Policy::default();
        for name in programs {
            if let Some(program) = self.policy.programs.get(name) {
                alone.set_host_executable(name, program.host_paths.clone());
            }
        }
        alone
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// The rules of the shared benchmark workload
    /// (`shared/bench/execpolicy_workload.py`), written the same way.
    fn workload_rules() -> String {
        const VERBS: [&str; 8] = [
            "build", "test", "run", "check", "lint", "fmt", "deploy", "clean",
        ];
        const DECISIONS: [&str; 3] = ["allow", "prompt", "forbidden"];
        let mut out = String::new();
        for p in 0..200 {
            let program = format!("prog{p:03}");
            for r in 0..5 {
                let (a, b) = (VERBS[(p + r) % 8], VERBS[(p + r + 1) % 8]);
                let mut pattern = format!("\"{program}\", [\"{a}\", \"{b}\"]");
                if r % 2 == 0 {
                    pattern.push_str(&format!(", \"x{r}\""));
                }
                let decision = DECISIONS[(p * 5 + r) % 3];
                out.push_str(&format!(
                    "prefix_rule(pattern=[{pattern}], decision=\"{decision}\""
                ));
                if decision == "forbidden" {
                    out.push_str(&format!(
                        ", justification=\"{program} {a} or {b} is not allowed here\""
                    ));
                }
                out.push_str(")\n");
            }
        }
        out
    }

    /// Loads `text` both ways (after `setup`, tightening-only or not) and
    /// returns both outcomes, displayed errors included.
    fn both(text: &str, tightening: bool) -> [Result<Policy, String>; 2] {
        let load = |evaluated: bool| {
            let mut loader = PolicyLoader::new();
            loader.load_str("setup.rules", r#"prefix_rule(pattern = ["ls"])"#)?;
            loader.tightening_only(tightening);
            if evaluated {
                loader.load_str_evaluated("rules.star", text)?;
            } else {
                loader.load_str("rules.star", text)?;
            }
            Ok(loader.finish())
        };
        [load(false), load(true)].map(|r: Result<Policy, LoadError>| r.map_err(|e| e.to_string()))
    }

    fn literal(text: &str) -> bool {
        read_calls(text, LITERAL_BUILTINS).is_some()
    }

    #[test]
    fn the_literal_reader_builds_the_policy_the_interpreter_builds() {
        let fixture = include_str!("../tests/fixtures/codex-style.rules");
        let workload = workload_rules();
        let files: &[&str] = &[
            &workload,
            fixture,
            "",
            "# only a comment\n\n   \n",
            "prefix_rule(pattern=[\"git\", \"push\"])",
            "prefix_rule (\n  # a comment\n  pattern = [ 'rm' , [ '-rf' , '-fr' , ] , ] , # trailing\n  decision = 'forbidden' ,\n)\n",
            "prefix_rule(pattern=[\"a\"], justification=\"say \\\"no\\\" \\\\ \\n\\t'ok'\")\n",
            "prefix_rule(pattern=[\"a\"], justification='''multi\nline \"quoted\" '' text''')\n",
            "prefix_rule(pattern=[\"é\", \"ü\"], decision=\"prompt\", justification=\"unicode: ✓\")\n",
            "prefix_rule(pattern=[\"rm\"], arguments=[[\"-r*\", \"-[!-]*r*\"], \"/\"], unless=[\"--help\"], decision=\"forbidden\", match=[\"rm -rf /\"], not_match=[\"rm -rf /tmp\", \"rm --help -r /\"])\n",
            "prefix_rule(pattern=[[\"a\", \"b\"], \"x\"], match=[[\"a\", \"x\"], \"b x y\"], not_match=[\"a\"])\nhost_executable(name=\"a\", paths=[\"/bin/a\", \"/usr/bin/a\", \"/bin/a\"])\n",
            "network_rule(host=\"Example.COM:443\", protocol=\"https_connect\", decision=\"deny\", justification=\"no\")\nnetwork_rule(host=\"[::1]:80\", protocol=\"http\", decision=\"allow\")\n",
            "prefix_rule(pattern=[\"curl\"], decision=\"prompt\")\nprefix_rule(pattern=[\"curl\", \"-k\"], decision=\"forbidden\")\n",
        ];
        for text in files {
            assert!(literal(text), "the literal reader should read {text:?}");
            let [fast, evaluated] = both(text, false);
            assert_eq!(fast, evaluated, "{text}");
            assert!(fast.is_ok(), "{text}: {fast:?}");
            let [fast, evaluated] = both(text, true);
            assert_eq!(fast, evaluated, "tightening-only: {text}");
        }
    }

    #[test]
    fn anything_else_is_left_to_the_interpreter_with_the_same_result() {
        let cases: &[&str] = &[
            // Other shapes: read by the interpreter.
            "x = \"git\"\nprefix_rule(pattern=[x])\n",
            "prefix_rule([\"git\"])\n",
            "prefix_rule(pattern=[\"a\"]); prefix_rule(pattern=[\"b\"])\n",
            "  prefix_rule(pattern=[\"a\"])\n",
            "prefix_rule(pattern=[\"a\"],\n decision=\\\n\"allow\")\n",
            "prefix_rule(pattern=[\"a\"])\r\n",
            "prefix_rule(pattern=[r\"a\\d\"])\n",
            "prefix_rule(pattern=[\"a\\x41\"])\n",
            "prefix_rule(pattern=[\"a\"], decision=None)\n",
            "prefix_rule(pattern=(\"a\", \"b\"))\n",
            "define_program(program=\"x\", args=[ARG_RFILES])\n",
            // Refused, with the interpreter's located error.
            "prefix_rule(pattern=[\"a\"])\nprefix_rule(pattern=[])\n",
            "prefix_rule(pattern=[\"a\"], decision=\"deny\")\n",
            "prefix_rule(pattern=[\"a\"], pattern=[\"b\"])\n",
            "prefix_rule(pattern=[\"a\"], decison=\"allow\")\n",
            "prefix_rule(decision=\"allow\")\n",
            "prefix_rule(pattern=[\"a\", []])\n",
            "prefix_rule(pattern=[[\"a\", [\"b\"]]])\n",
            "prefix_rule(pattern=[\"a\"], justification=\"  \")\n",
            "prefix_rule(pattern=[\"a\"], match=[\"b\"])\n",
            "prefix_rule(pattern=[\"a\"], not_match=[\"a 'x\"])\n",
            "prefix_rule(pattern=[\"a\"], match=[[]])\n",
            "prefix_rule(pattern=[\"a\"], arguments=[[]])\n",
            "prefix_rule(pattern=[\"a\"], arguments=[\"[x\"])\n",
            "prefix_rule(pattern=[\"a\"], unless=[[\"x\"]])\n",
            "prefix_rule(pattern=\"a\")\n",
            "prefix_rule(pattern=[\"a\"]\n",
            "prefix_rule(pattern=[\"a\"]) x\n",
            "prefix_rule(pattern=[\"a\"], decision=\"allow\", decision=\"allow\")\n",
            "host_executable(name=\"a\", paths=[\"bin/a\"])\n",
            "host_executable(name=\"a/b\", paths=[])\n",
            "host_executable(name=\"a\", paths=[\"/bin/b\"])\n",
            "network_rule(host=\"https://x\", protocol=\"https\", decision=\"allow\")\n",
            "network_rule(host=\"x\", protocol=\"ftp\", decision=\"allow\")\n",
            "network_rule(host=\"x\", protocol=\"http\")\n",
            "\n\nprefix_rule(pattern=[\"a\"], match=[\"a\"], not_match=[\"a b\"])\n",
        ];
        for text in cases {
            for tightening in [false, true] {
                let [fast, evaluated] = both(text, tightening);
                assert_eq!(fast, evaluated, "{text:?} (tightening-only: {tightening})");
            }
        }
        // Allowing rules in a tightening-only file are read, refused, and
        // reported by the interpreter where they are.
        let text = "prefix_rule(pattern=[\"a\"], decision=\"forbidden\")\n\nprefix_rule(pattern=[\"b\"])\n";
        assert!(literal(text));
        let [fast, evaluated] = both(text, true);
        assert_eq!(fast, evaluated);
        assert!(
            fast.as_ref()
                .is_err_and(|e| e
                    .starts_with("rules.star:3:1: this rules file is loaded as tightening-only")),
            "{fast:?}"
        );
    }
}
