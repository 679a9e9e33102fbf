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

use rustc_hash::FxHashMap;
use starlark::any::ProvidesStaticType;
use starlark::codemap::{FileSpan, FileSpanRef};
use starlark::environment::{GlobalsBuilder, Module};
use starlark::eval::{BeforeStmtFunc, BeforeStmtFuncDyn, Evaluator};
use starlark::starlark_module;
use starlark::syntax::{AstModule, Dialect};
use starlark::values::Value;
use starlark::values::list::{ListRef, UnpackList};
use starlark::values::none::NoneType;

use crate::program::{ArgSlot, ArgType, Arity, ProgramOption, ProgramSpec};
use crate::rules::{NetworkRule, PatternToken, PrefixRule};
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

/// Why a rules file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct LoadError {
    /// The file (as named when loaded).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl LoadError {
    fn at(file: &str, line: usize, column: usize, message: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            line,
            column,
            message: message.into(),
        }
    }

    fn from_span(span: Option<&FileSpan>, file: &str, message: impl Into<String>) -> Self {
        match span {
            Some(span) => {
                let resolved = span.resolve_span();
                Self::at(
                    file,
                    resolved.begin.line + 1,
                    resolved.begin.column + 1,
                    message,
                )
            }
            None => Self::at(file, 1, 1, message),
        }
    }
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

/// The embedded default policy (`default.policy`): read-only programs and their
/// safe options, with examples for each.
pub const DEFAULT_POLICY: &str = include_str!("default.policy");

impl PolicyLoader {
    /// An empty loader.
    pub fn new() -> Self {
        Self::default()
    }

    /// A loader with the embedded default policy already loaded.
    pub fn with_default_policy() -> Result<Self, LoadError> {
        let mut loader = Self::new();
        loader.load_str("default.policy", DEFAULT_POLICY)?;
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
    pub fn load_file(&mut self, path: &Path) -> Result<(), LoadError> {
        let name = path.display().to_string();
        // Never blocks on a FIFO, refuses what is not a regular file, and reads
        // at most one byte past the limit.
        let file = codex_policy_model::open_regular(path)
            .map_err(|e| LoadError::at(&name, 1, 1, e.to_string()))?;
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(
            &mut std::io::Read::take(file, MAX_RULES_BYTES as u64 + 1),
            &mut bytes,
        )
        .map_err(|e| LoadError::at(&name, 1, 1, format!("cannot read: {e}")))?;
        if bytes.len() > MAX_RULES_BYTES {
            return Err(LoadError::at(
                &name,
                1,
                1,
                format!("larger than {MAX_RULES_BYTES} bytes"),
            ));
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let prefix =
                String::from_utf8_lossy(&e.as_bytes()[..e.utf8_error().valid_up_to()]).into_owned();
            let line = prefix.matches('\n').count() + 1;
            LoadError::at(&name, line, 1, "not valid UTF-8")
        })?;
        self.load_str(&name, &text)
    }

    /// Loads rules from text; `name` appears in errors and rule locations.
    pub fn load_str(&mut self, name: &str, text: &str) -> Result<(), LoadError> {
        if text.len() > MAX_RULES_BYTES {
            return Err(LoadError::at(
                name,
                1,
                1,
                format!("larger than {MAX_RULES_BYTES} bytes"),
            ));
        }
        prescan(name, text)?;
        let mut dialect = Dialect::Extended.clone();
        dialect.enable_load = false;
        dialect.enable_f_strings = true;
        let ast = AstModule::parse(name, text.to_owned(), &dialect).map_err(|e| {
            LoadError::from_span(e.span(), name, e.without_diagnostic().to_string())
        })?;
        let globals = GlobalsBuilder::new().with(policy_builtins).build();
        let pending_before = self.builder.borrow().pending.len();
        let builder = &self.builder;
        Module::with_temp_heap(|module| -> Result<(), LoadError> {
            let mut eval = Evaluator::new(&module);
            eval.extra = Some(builder);
            eval.set_max_callstack_size(64)
                .map_err(|e| LoadError::at(name, 1, 1, e.to_string()))?;
            eval.before_stmt_for_dap(BeforeStmtFunc::from_dyn(Box::new(Budget { steps: 0 })));
            eval.eval_module(ast, &globals).map_err(|e| {
                LoadError::from_span(e.span(), name, e.without_diagnostic().to_string())
            })?;
            Ok(())
        })?;
        self.builder.borrow().verify_examples(pending_before)
    }

    /// The loaded policy.
    pub fn finish(self) -> Policy {
        self.builder.into_inner().policy
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
            return Err(starlark::Error::new_other(anyhow::anyhow!(
                "the rules file ran more than {MAX_STEPS} statements; rules files must be declarative"
            )));
        }
        if eval.heap().allocated_bytes() > MAX_HEAP_BYTES {
            return Err(starlark::Error::new_other(anyhow::anyhow!(
                "the rules file used more than {} MiB",
                MAX_HEAP_BYTES >> 20
            )));
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
    let error = |i: usize, line: usize, line_start: usize, message: String| {
        let column = text[line_start..i].chars().count() + 1;
        Err(LoadError::at(name, line, column, message))
    };
    let refuse = |i: usize, line: usize, line_start: usize, what: &str| {
        error(
            i,
            line,
            line_start,
            format!(
                "{what} is not allowed in rules files: it could build unbounded values (rules files are declarative)"
            ),
        )
    };
    let too_deep = |i: usize, line: usize, line_start: usize| {
        error(
            i,
            line,
            line_start,
            format!(
                "nesting deeper than {MAX_RULES_NESTING} levels (brackets, chained operators or calls, indented blocks); expected a flat, declarative rules file: split the expression into several statements"
            ),
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
                            return error(
                                i,
                                line,
                                line_start,
                                "only a name is allowed inside the braces of an f-string in rules files (expected `{name}`; write `{{` for a literal brace)".into(),
                            );
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
                        format!("unmatched `{}`", char::from(c)),
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
            b'*' => return refuse(i, line, line_start, "the `*` operator"),
            b'%' => return refuse(i, line, line_start, "the `%` operator"),
            b'.' if i > 0
                && (bytes[i - 1].is_ascii_alphanumeric()
                    || matches!(bytes[i - 1], b'_' | b')' | b']' | b'"' | b'\''))
                && bytes
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') =>
            {
                return refuse(i, line, line_start, "a method call");
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
                    return refuse(start, line, line_start, "a comprehension");
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

/// In a tightening-only file, `what` would loosen the policy: an error that
/// says why and how to fix it (the caller's span locates it).
fn refuse_if_tightening(eval: &Evaluator<'_, '_, '_>, what: &str, fix: &str) -> anyhow::Result<()> {
    if builder(eval)?.tightening_only {
        anyhow::bail!(
            "this rules file is loaded as tightening-only (the sandboxed command could have written it), so it may only make the policy stricter; expected prompt or forbidden rules, got {what}; to fix: {fix}, or move it into a rules file the sandbox cannot write"
        );
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

fn strings(list: UnpackList<Value<'_>>, what: &str) -> anyhow::Result<Vec<String>> {
    list.items
        .into_iter()
        .map(|v| {
            v.unpack_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("{what} must be strings (got {})", v.get_type()))
        })
        .collect()
}

fn example(value: Value<'_>) -> anyhow::Result<Vec<String>> {
    let tokens = if let Some(text) = value.unpack_str() {
        shlex::split(text)
            .ok_or_else(|| anyhow::anyhow!("example {text:?} has invalid shell quoting"))?
    } else if let Some(list) = ListRef::from_value(value) {
        list.content()
            .iter()
            .map(|v| {
                v.unpack_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow::anyhow!("example tokens must be strings"))
            })
            .collect::<anyhow::Result<_>>()?
    } else {
        anyhow::bail!(
            "an example must be a string or a list of strings (got {})",
            value.get_type()
        );
    };
    if tokens.is_empty() {
        anyhow::bail!("an example cannot be empty");
    }
    Ok(tokens)
}

fn examples(list: Option<UnpackList<Value<'_>>>) -> anyhow::Result<Vec<Vec<String>>> {
    list.map_or(Ok(Vec::new()), |l| {
        l.items.into_iter().map(example).collect()
    })
}

fn justification(text: Option<&str>) -> anyhow::Result<Option<String>> {
    match text {
        Some(t) if t.trim().is_empty() => anyhow::bail!("justification cannot be empty"),
        other => Ok(other.map(str::to_owned)),
    }
}

/// A `network_rule` host as Codex normalizes it: no scheme or path, a `:port`
/// (or `[v6]:port`) removed, lowercase, no trailing dot, no wildcard.
fn network_host(raw: &str) -> anyhow::Result<String> {
    let mut host = raw.trim();
    if host.contains("://") || host.contains(['/', '?', '#']) {
        anyhow::bail!(
            "network_rule host must be a host name or IP address, without scheme or path"
        );
    }
    if let Some(inside) = host.strip_prefix('[') {
        let Some((address, rest)) = inside.split_once(']') else {
            anyhow::bail!("network_rule host has an unclosed [IPv6] literal");
        };
        let port_ok = rest
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
        if !rest.is_empty() && !port_ok {
            anyhow::bail!("network_rule host has an unexpected suffix: {raw}");
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
        anyhow::bail!("network_rule host must be one specific host name or IP address");
    }
    Ok(host)
}

/// `ARG_*` constants name a type and how many positional arguments it takes.
fn arg_slot(name: &str) -> anyhow::Result<ArgSlot> {
    let (arg_type, arity) = match name {
        "ARG_RFILE" => (ArgType::ReadableFile, Arity::One),
        "ARG_RFILES" => (ArgType::ReadableFile, Arity::OneOrMore),
        "ARG_RFILES_OR_CWD" => (ArgType::ReadableFile, Arity::ZeroOrMore),
        "ARG_WFILE" => (ArgType::WritableFile, Arity::One),
        "ARG_OPAQUE_VALUE" => (ArgType::OpaqueValue, Arity::One),
        "ARG_OPAQUE_VALUES" => (ArgType::OpaqueValue, Arity::ZeroOrMore),
        "ARG_POS_INT" => (ArgType::PositiveInteger, Arity::One),
        "ARG_SED_COMMAND" => (ArgType::SedCommand, Arity::One),
        other => anyhow::bail!("unknown argument type {other:?}; use one of the ARG_* constants"),
    };
    Ok(ArgSlot { arg_type, arity })
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
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let decision = decision
            .map_or(Ok(Decision::Allow), Decision::parse)
            .map_err(anyhow::Error::msg)?;
        if decision == Decision::Allow {
            refuse_if_tightening(
                eval,
                "a prefix_rule whose decision is \"allow\" (the default when none is given)",
                "give decision = \"prompt\" or \"forbidden\"",
            )?;
        }
        let justification = self::justification(justification)?.map(Arc::<str>::from);
        let mut tokens = Vec::with_capacity(pattern.items.len());
        for value in pattern.items {
            tokens.push(if let Some(word) = value.unpack_str() {
                PatternToken::Single(word.into())
            } else if let Some(list) = ListRef::from_value(value) {
                let words: Vec<Box<str>> = list
                    .content()
                    .iter()
                    .map(|v| {
                        v.unpack_str()
                            .map(Box::from)
                            .ok_or_else(|| anyhow::anyhow!("pattern alternatives must be strings"))
                    })
                    .collect::<anyhow::Result<_>>()?;
                match words.len() {
                    0 => anyhow::bail!("pattern alternatives cannot be empty"),
                    1 => PatternToken::Single(words.into_iter().next().unwrap_or_default()),
                    _ => PatternToken::Alternatives(words.into()),
                }
            } else {
                anyhow::bail!(
                    "a pattern element must be a string or a list of strings (got {})",
                    value.get_type()
                );
            });
        }
        let Some((first, rest)) = tokens.split_first() else {
            anyhow::bail!("pattern cannot be empty");
        };
        let at = location(eval);
        let defined_at: Arc<str> = format!("{}:{}:{}", at.0, at.1, at.2).into();
        let rest: Arc<[PatternToken]> = rest.into();
        let rules: Vec<PrefixRule> = first
            .alternatives()
            .into_iter()
            .map(|program| PrefixRule {
                program: program.into(),
                rest: rest.clone(),
                decision,
                justification: justification.clone(),
                defined_at: defined_at.clone(),
            })
            .collect();
        let matches = examples(r#match)?;
        let not_matches = examples(not_match)?;
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
        refuse_if_tightening(
            eval,
            "host_executable (it lets a path be judged by a program's rules as they are)",
            "remove it; an unlisted path is judged by its program's rules, at best needing approval",
        )?;
        if name.is_empty() || name.contains('/') {
            anyhow::bail!("host_executable name must be a bare program name (got {name:?})");
        }
        let mut resolved = Vec::new();
        for path in strings(paths, "host_executable paths")? {
            let p = PathBuf::from(&path);
            if !p.is_absolute() {
                anyhow::bail!("host_executable paths must be absolute (got {path:?})");
            }
            if p.file_name().and_then(|n| n.to_str()) != Some(name) {
                anyhow::bail!("host_executable path {path:?} must end in {name:?}");
            }
            if !resolved.contains(&p) {
                resolved.push(p);
            }
        }
        builder(eval)?
            .policy
            .host_executables
            .insert(name.into(), resolved);
        Ok(NoneType)
    }

    fn network_rule<'v>(
        host: &'v str,
        protocol: &'v str,
        decision: &'v str,
        justification: Option<&'v str>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        if !matches!(
            protocol,
            "http" | "https" | "https_connect" | "http-connect" | "socks5_tcp" | "socks5_udp"
        ) {
            anyhow::bail!(
                "network_rule protocol must be one of http, https, socks5_tcp, socks5_udp (got {protocol})"
            );
        }
        let decision = if decision == "deny" {
            Decision::Forbidden
        } else {
            Decision::parse(decision).map_err(anyhow::Error::msg)?
        };
        if decision == Decision::Allow {
            refuse_if_tightening(
                eval,
                "a network_rule whose decision is \"allow\"",
                "give decision = \"prompt\" or \"deny\"",
            )?;
        }
        let host = network_host(host)?;
        let protocol = if protocol.starts_with("http") && protocol != "http" {
            "https"
        } else {
            protocol
        };
        let justification = self::justification(justification)?;
        builder(eval)?.policy.network_rules.push(NetworkRule {
            host,
            protocol: protocol.into(),
            decision,
            justification,
        });
        Ok(NoneType)
    }

    fn flag<'v>(name: &'v str) -> anyhow::Result<String> {
        if !name.starts_with('-') || name.len() < 2 {
            anyhow::bail!("a flag starts with `-` (got {name:?})");
        }
        Ok(format!("flag\u{0}{name}"))
    }

    fn opt<'v>(name: &'v str, r#type: &'v str, required: Option<bool>) -> anyhow::Result<String> {
        let _ = required;
        if !name.starts_with('-') || name.len() < 2 {
            anyhow::bail!("an option starts with `-` (got {name:?})");
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
            refuse_if_tightening(
                eval,
                "a define_program without `forbidden` (its commands could be judged safe)",
                "add forbidden = \"reason\" to forbid what it matches",
            )?;
        }
        if program.is_empty() || program.contains('/') {
            anyhow::bail!("define_program program must be a bare name (got {program:?})");
        }
        let mut parsed_options = Vec::new();
        for text in options.map_or(Ok(Vec::new()), |o| {
            strings(o, "options (use flag() and opt())")
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
                _ => anyhow::bail!("options must be made with flag() or opt() (got {text:?})"),
            });
        }
        let slots: Vec<ArgSlot> = args
            .map_or(Ok(Vec::new()), |a| strings(a, "args"))?
            .iter()
            .map(|a| arg_slot(a))
            .collect::<anyhow::Result<_>>()?;
        if slots.iter().filter(|s| s.arity != Arity::One).count() > 1 {
            anyhow::bail!(
                "at most one variable-length argument (ARG_RFILES, ARG_RFILES_OR_CWD, ARG_OPAQUE_VALUES)"
            );
        }
        let system_path: Vec<Box<str>> = system_path
            .map_or(Ok(Vec::new()), |p| strings(p, "system_path"))?
            .into_iter()
            .map(|p| {
                if Path::new(&p).is_absolute() {
                    Ok(p.into_boxed_str())
                } else {
                    Err(anyhow::anyhow!(
                        "system_path entries must be absolute (got {p:?})"
                    ))
                }
            })
            .collect::<anyhow::Result<_>>()?;
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
        let matches = examples(should_match)?;
        let not_matches = examples(should_not_match)?;
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
            let (file, line, column) = &pending.at;
            let fail = |message: String| Err(LoadError::at(file, *line, *column, message));
            match &pending.kind {
                PendingKind::Prefix(rules) => {
                    let mut alone = Policy {
                        host_executables: self.policy.host_executables.clone(),
                        ..Policy::default()
                    };
                    for rule in rules {
                        alone.add_prefix_rule(rule.clone());
                    }
                    for example in &pending.matches {
                        if alone.matches_for_argv(example).is_empty() {
                            return fail(format!(
                                "example {:?} does not match this rule",
                                example.join(" ")
                            ));
                        }
                    }
                    for example in &pending.not_matches {
                        if !alone.matches_for_argv(example).is_empty() {
                            return fail(format!(
                                "example {:?} matches this rule but is listed in not_match",
                                example.join(" ")
                            ));
                        }
                    }
                }
                PendingKind::Program(spec) => {
                    let mut alone = Policy {
                        host_executables: self.policy.host_executables.clone(),
                        ..Policy::default()
                    };
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
                                return fail(format!(
                                    "should_match example {:?} is not verified by this definition",
                                    example.join(" ")
                                ));
                            }
                            _ => {}
                        }
                    }
                    for example in &pending.not_matches {
                        if !matches!(outcome(example), Some(ProgramOutcome::Unverified) | None) {
                            return fail(format!(
                                "should_not_match example {:?} is verified by this definition",
                                example.join(" ")
                            ));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Keeps `FxHashMap` in the public shape of `Policy` without exposing it.
pub(crate) type Map<V> = FxHashMap<Box<str>, V>;
