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
use starlark::ErrorKind;
use starlark::any::ProvidesStaticType;
use starlark::codemap::FileSpanRef;
use starlark::environment::{GlobalsBuilder, Module};
use starlark::eval::{BeforeStmtFunc, BeforeStmtFuncDyn, Evaluator};
use starlark::starlark_module;
use starlark::syntax::{AstModule, Dialect};
use starlark::values::Value;
use starlark::values::list::{ListRef, UnpackList};
use starlark::values::none::NoneType;

use crate::error::{
    ExampleList, InterpreterError, InvalidRuleValue, LoadError, LoadErrorKind, LooseningRule,
    UnboundedConstruct,
};
use crate::program::{ArgSlot, ArgType, Arity, ProgramOption, ProgramSpec};
use crate::rules::{NetworkProtocol, NetworkRule, PatternToken, PrefixRule};
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

/// The embedded default policy (`default.policy`): read-only programs and their
/// safe options, with examples for each.
pub(crate) const DEFAULT_POLICY: &str = include_str!("default.policy");

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
    pub fn load_str(&mut self, name: &str, text: &str) -> Result<(), LoadError> {
        if text.len() > MAX_RULES_BYTES {
            return Err(LoadError::at(name, 1, 1, too_large()));
        }
        prescan(name, text)?;
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

    /// The loaded policy.
    pub fn finish(self) -> Policy {
        self.builder.into_inner().policy
    }
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
    list: UnpackList<Value<'_>>,
    not_string: fn(&'static str) -> InvalidRuleValue,
) -> Result<Vec<String>, InvalidRuleValue> {
    list.items
        .into_iter()
        .map(|v| {
            v.unpack_str()
                .map(str::to_owned)
                .ok_or_else(|| not_string(v.get_type()))
        })
        .collect()
}

fn example(value: Value<'_>) -> Result<Vec<String>, InvalidRuleValue> {
    let tokens = if let Some(text) = value.unpack_str() {
        shlex::split(text).ok_or_else(|| InvalidRuleValue::ExampleQuoting {
            example: text.to_owned(),
        })?
    } else if let Some(list) = ListRef::from_value(value) {
        list.content()
            .iter()
            .map(|v| {
                v.unpack_str()
                    .map(str::to_owned)
                    .ok_or(InvalidRuleValue::ExampleTokenNotString)
            })
            .collect::<Result<_, _>>()?
    } else {
        return Err(InvalidRuleValue::ExampleType {
            got_type: value.get_type(),
        });
    };
    if tokens.is_empty() {
        return Err(InvalidRuleValue::EmptyExample);
    }
    Ok(tokens)
}

fn examples(list: Option<UnpackList<Value<'_>>>) -> Result<Vec<Vec<String>>, InvalidRuleValue> {
    list.map_or(Ok(Vec::new()), |l| {
        l.items.into_iter().map(example).collect()
    })
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
fn network_protocol(protocol: &str) -> Result<NetworkProtocol, InvalidRuleValue> {
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
fn pattern_token(value: Value<'_>) -> Result<PatternToken, InvalidRuleValue> {
    if let Some(word) = value.unpack_str() {
        return Ok(PatternToken::Single(word.into()));
    }
    let Some(list) = ListRef::from_value(value) else {
        return Err(InvalidRuleValue::PatternElement {
            got_type: value.get_type(),
        });
    };
    let words: Vec<Box<str>> = list
        .content()
        .iter()
        .map(|v| {
            v.unpack_str()
                .map(Box::from)
                .ok_or(InvalidRuleValue::AlternativeNotString)
        })
        .collect::<Result<_, _>>()?;
    Ok(match words.len() {
        0 => return Err(InvalidRuleValue::EmptyAlternatives),
        1 => PatternToken::Single(words.into_iter().next().unwrap_or_default()),
        _ => PatternToken::Alternatives(words.into()),
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
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<NoneType> {
        let decision = decision
            .map_or(Ok(Decision::Allow), Decision::parse)
            .map_err(InvalidRuleValue::Decision)?;
        if decision == Decision::Allow {
            refuse_if_tightening(eval, LooseningRule::AllowPrefixRule)?;
        }
        let justification = self::justification(justification)?.map(Arc::<str>::from);
        let tokens = pattern
            .items
            .into_iter()
            .map(pattern_token)
            .collect::<Result<Vec<_>, _>>()?;
        let Some((first, rest)) = tokens.split_first() else {
            return Err(InvalidRuleValue::EmptyPattern.into());
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
        refuse_if_tightening(eval, LooseningRule::HostExecutable)?;
        if name.is_empty() || name.contains('/') {
            return Err(InvalidRuleValue::HostExecutableName {
                name: name.to_owned(),
            }
            .into());
        }
        let mut resolved = Vec::new();
        for path in strings(paths, |got_type| InvalidRuleValue::HostExecutablePathType {
            got_type,
        })? {
            let p = PathBuf::from(&path);
            if !p.is_absolute() {
                return Err(InvalidRuleValue::HostExecutablePathRelative { path }.into());
            }
            if p.file_name().and_then(|n| n.to_str()) != Some(name) {
                return Err(InvalidRuleValue::HostExecutablePathName {
                    path,
                    name: name.to_owned(),
                }
                .into());
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
        let protocol = network_protocol(protocol)?;
        let decision = if decision == "deny" {
            Decision::Forbidden
        } else {
            Decision::parse(decision).map_err(InvalidRuleValue::Decision)?
        };
        if decision == Decision::Allow {
            refuse_if_tightening(eval, LooseningRule::AllowNetworkRule)?;
        }
        let host = network_host(host)?;
        let justification = self::justification(justification)?;
        builder(eval)?.policy.network_rules.push(NetworkRule {
            host,
            protocol,
            decision,
            justification,
        });
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
            strings(o, |got_type| InvalidRuleValue::OptionType { got_type })
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
                strings(a, |got_type| InvalidRuleValue::ArgsType { got_type })
            })?
            .iter()
            .map(|a| arg_slot(a))
            .collect::<Result<_, _>>()?;
        if slots.iter().filter(|s| s.arity != Arity::One).count() > 1 {
            return Err(InvalidRuleValue::SeveralVariableLength.into());
        }
        let system_path: Vec<Box<str>> = system_path
            .map_or(Ok(Vec::new()), |p| {
                strings(p, |got_type| InvalidRuleValue::SystemPathType { got_type })
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
                    let mut alone = Policy {
                        host_executables: self.policy.host_executables.clone(),
                        ..Policy::default()
                    };
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
}

/// Keeps `FxHashMap` in the public shape of `Policy` without exposing it.
pub(crate) type Map<V> = FxHashMap<Box<str>, V>;
