//! Why a rules file was refused: where ([`LoadError`]) and what is wrong
//! ([`LoadErrorKind`]). Every kind displays as one line of text; the kinds
//! that carry data (the value given, the limit passed) expose it as fields.

use std::fmt;

use codex_policy_model::ConfigError;

use crate::ParseDecisionError;

/// Why a rules file was refused: the file, the 1-based line and column of the
/// problem, and what it is.
///
/// Displays as `file:line:column: ` followed by the [`LoadErrorKind`].
///
/// ```
/// use codex_execpolicy::{InvalidRuleValue, LoadErrorKind, PolicyLoader};
///
/// let err = PolicyLoader::new()
///     .load_str("team.rules", "prefix_rule(pattern = [])\n")
///     .unwrap_err();
/// assert_eq!((err.file.as_str(), err.line, err.column), ("team.rules", 1, 1));
/// assert!(matches!(err.kind, LoadErrorKind::InvalidValue(InvalidRuleValue::EmptyPattern)));
/// assert_eq!(err.to_string(), "team.rules:1:1: pattern cannot be empty");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct LoadError {
    /// The file (as named when loaded).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub kind: LoadErrorKind,
}

impl LoadError {
    pub(crate) fn at(file: &str, line: usize, column: usize, kind: LoadErrorKind) -> Self {
        Self {
            file: file.to_owned(),
            line,
            column,
            kind,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.kind
        )
    }
}

impl std::error::Error for LoadError {
    /// The cause of the kind, when it has one (the operating system's error
    /// for a file that could not be read): the kind itself is part of this
    /// error's text, so it is not repeated as a source.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

/// What is wrong with a rules file.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{LoadErrorKind, PolicyLoader};
///
/// let kind = |text: &str| PolicyLoader::new().load_str("team.rules", text).unwrap_err().kind;
/// assert!(matches!(kind("prefix_rule(pattern = [\"ls\"]\n"), LoadErrorKind::Syntax(_)));
/// assert!(matches!(kind("load(\"other.rules\", \"x\")\n"), LoadErrorKind::Syntax(_)));
/// assert!(matches!(kind("x = ]\n"), LoadErrorKind::UnmatchedBracket { bracket: ']' }));
/// assert!(matches!(kind("prefix_rule(pattern = [\"ls\"], bogus = 1)\n"), LoadErrorKind::BadArguments(_)));
///
/// let dir = tempfile::tempdir()?;
/// let err = PolicyLoader::new().load_file(&dir.path().join("missing.rules")).unwrap_err();
/// assert!(matches!(err.kind, LoadErrorKind::Open(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// The file could not be opened: it does not exist, may not be read, or
    /// is not a regular file (a FIFO, a directory or a device is refused at
    /// once, never waited on) — [`ConfigError::Io`] or
    /// [`ConfigError::NotARegularFile`].
    #[error("{0}")]
    Open(#[source] ConfigError),
    /// The file was opened but reading it failed.
    #[error("cannot read: {0}")]
    Read(#[source] std::io::Error),
    /// The file is larger than [`MAX_RULES_BYTES`](crate::MAX_RULES_BYTES).
    #[error("larger than {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The file is not UTF-8 (the line is where the first invalid byte is).
    #[error("not valid UTF-8")]
    NotUtf8,
    /// The file does not parse as Starlark, or uses a statement rules files
    /// may not (`load`).
    #[error("{0}")]
    Syntax(InterpreterError),
    /// A closing bracket without an opening one.
    #[error("unmatched `{bracket}`")]
    UnmatchedBracket {
        /// `)`, `]` or `}`.
        bracket: char,
    },
    /// A construct that could build an unbounded value in one statement.
    #[error(
        "{} is not allowed in rules files: it could build unbounded values (rules files are declarative)",
        construct.describe()
    )]
    Unbounded {
        /// Which construct.
        construct: UnboundedConstruct,
    },
    /// An f-string whose braces hold more than a name (`f"{a + b}"`).
    #[error(
        "only a name is allowed inside the braces of an f-string in rules files (expected `{{name}}`; write `{{{{` for a literal brace)"
    )]
    FStringExpression,
    /// Nesting deeper than [`MAX_RULES_NESTING`](crate::MAX_RULES_NESTING).
    #[error(
        "nesting deeper than {limit} levels (brackets, chained operators or calls, indented blocks); expected a flat, declarative rules file: split the expression into several statements"
    )]
    TooDeep {
        /// The limit, in levels.
        limit: usize,
    },
    /// A name that is not defined: rules files have only the policy builtins
    /// (`prefix_rule`, `host_executable`, `network_rule`, `define_program`,
    /// `flag`, `opt`) and the `ARG_*` constants.
    #[error("{0}")]
    UnknownName(InterpreterError),
    /// A builtin called with a keyword argument it does not take, without
    /// one it needs, or with too many positional arguments.
    #[error("{0}")]
    BadArguments(InterpreterError),
    /// An argument of a builtin has a value the rules language does not
    /// accept.
    #[error(transparent)]
    InvalidValue(InvalidRuleValue),
    /// A `match`/`not_match` or `should_match`/`should_not_match` example
    /// that the rule does not decide as listed.
    #[error("{}", example_mismatch(example, *listed_in))]
    ExampleMismatch {
        /// The example, as tokens.
        example: Vec<String>,
        /// The list it is in.
        listed_in: ExampleList,
    },
    /// A rule that would loosen the policy, in a file loaded
    /// [tightening-only](crate::PolicyLoader::tightening_only).
    #[error(
        "this rules file is loaded as tightening-only (the sandboxed command could have written it), so it may only make the policy stricter; expected rules that prompt or forbid, got {}; to fix: {}, or move it into a rules file the sandbox cannot write",
        .0.describe(),
        .0.fix()
    )]
    Loosening(LooseningRule),
    /// The file executed more statements than a declarative file needs.
    #[error("the rules file ran more than {limit} statements; rules files must be declarative")]
    TooManyStatements {
        /// The limit.
        limit: u64,
    },
    /// The file used more memory than a declarative file needs.
    #[error("the rules file used more than {limit_mib} MiB")]
    TooMuchMemory {
        /// The limit, in MiB.
        limit_mib: usize,
    },
    /// Anything else the interpreter refused: a value of the wrong type
    /// (for a builtin's argument too), an operation its operands do not
    /// support, a call stack too deep.
    #[error("{0}")]
    Evaluation(InterpreterError),
}

fn example_mismatch(example: &[String], listed_in: ExampleList) -> String {
    let example = example.join(" ");
    match listed_in {
        ExampleList::Match => format!("example {example:?} does not match this rule"),
        ExampleList::NotMatch => {
            format!("example {example:?} matches this rule but is listed in not_match")
        }
        ExampleList::ShouldMatch => {
            format!("should_match example {example:?} is not verified by this definition")
        }
        ExampleList::ShouldNotMatch => {
            format!("should_not_match example {example:?} is verified by this definition")
        }
    }
}

/// What the Starlark interpreter reported, as it worded it. Its own error type
/// is not part of this API; only the text is kept.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{LoadErrorKind, PolicyLoader};
///
/// let err = PolicyLoader::new()
///     .load_str("team.rules", "undefined_rule(pattern = [\"ls\"])\n")
///     .unwrap_err();
/// let LoadErrorKind::UnknownName(interpreter) = &err.kind else { panic!("{err}") };
/// assert_eq!(interpreter.message(), "Variable `undefined_rule` not found");
/// assert_eq!(err.to_string(), "team.rules:1:1: Variable `undefined_rule` not found");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterpreterError {
    message: String,
}

impl InterpreterError {
    pub(crate) fn new(message: String) -> Self {
        Self { message }
    }

    /// The interpreter's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for InterpreterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for InterpreterError {}

/// A construct refused before the file runs: each could build an unbounded
/// value in one statement.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{LoadErrorKind, PolicyLoader, UnboundedConstruct};
///
/// let err = PolicyLoader::new()
///     .load_str("team.rules", "flags = [\"-v\"] * 3\n")
///     .unwrap_err();
/// assert!(matches!(
///     err.kind,
///     LoadErrorKind::Unbounded { construct: UnboundedConstruct::StarOperator }
/// ));
/// assert_eq!((err.line, err.column), (1, 16));
/// assert_eq!(UnboundedConstruct::StarOperator.describe(), "the `*` operator");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnboundedConstruct {
    /// `*` (repetition, unpacking).
    StarOperator,
    /// `%` (formatting).
    PercentOperator,
    /// A list or dict comprehension.
    Comprehension,
    /// A method call (`"a".replace(…)`).
    MethodCall,
}

impl UnboundedConstruct {
    /// In words: `the `*` operator`, `a comprehension`, ….
    pub const fn describe(self) -> &'static str {
        match self {
            Self::StarOperator => "the `*` operator",
            Self::PercentOperator => "the `%` operator",
            Self::Comprehension => "a comprehension",
            Self::MethodCall => "a method call",
        }
    }
}

/// The keyword argument an example is listed under.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{ExampleList, LoadErrorKind, PolicyLoader};
///
/// let err = PolicyLoader::new()
///     .load_str("team.rules", r#"prefix_rule(pattern = ["git"], not_match = ["git push"])"#)
///     .unwrap_err();
/// let LoadErrorKind::ExampleMismatch { example, listed_in } = &err.kind else { panic!("{err}") };
/// assert_eq!(example, &["git", "push"]);
/// assert_eq!(*listed_in, ExampleList::NotMatch);
/// assert_eq!(listed_in.as_str(), "not_match");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExampleList {
    /// `prefix_rule(match = …)`: must match the rule.
    Match,
    /// `prefix_rule(not_match = …)`: must not match the rule.
    NotMatch,
    /// `define_program(should_match = …)`: must be verified by the definition.
    ShouldMatch,
    /// `define_program(should_not_match = …)`: must not be verified by it.
    ShouldNotMatch,
}

impl ExampleList {
    /// The keyword: `match`, `not_match`, `should_match`, `should_not_match`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Match => "match",
            Self::NotMatch => "not_match",
            Self::ShouldMatch => "should_match",
            Self::ShouldNotMatch => "should_not_match",
        }
    }
}

/// A rule that a tightening-only file may not contain.
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{LoadErrorKind, LooseningRule, PolicyLoader};
///
/// let mut loader = PolicyLoader::new();
/// loader.tightening_only(true);
/// let err = loader
///     .load_str("workspace.rules", r#"host_executable(name = "git", paths = ["/tmp/git"])"#)
///     .unwrap_err();
/// let LoadErrorKind::Loosening(rule) = err.kind else { panic!("{err}") };
/// assert_eq!(rule, LooseningRule::HostExecutable);
/// assert!(rule.fix().starts_with("remove it"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LooseningRule {
    /// A `prefix_rule` whose decision is `allow` (the default).
    AllowPrefixRule,
    /// A `host_executable`.
    HostExecutable,
    /// A `define_program` without `forbidden`.
    ProgramWithoutForbidden,
    /// A `network_rule` whose decision is `allow`.
    AllowNetworkRule,
}

impl LooseningRule {
    /// What the rule is, and why it loosens.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::AllowPrefixRule => {
                "a prefix_rule whose decision is \"allow\" (the default when none is given)"
            }
            Self::HostExecutable => {
                "host_executable (it lets a path be judged by a program's rules as they are)"
            }
            Self::ProgramWithoutForbidden => {
                "a define_program without `forbidden` (its commands could be judged safe)"
            }
            Self::AllowNetworkRule => "a network_rule whose decision is \"allow\"",
        }
    }

    /// How to change the rule so that the file only tightens.
    pub const fn fix(self) -> &'static str {
        match self {
            Self::AllowPrefixRule => "give decision = \"prompt\" or \"forbidden\"",
            Self::HostExecutable => {
                "remove it; an unlisted path is judged by its program's rules, at best needing approval"
            }
            Self::ProgramWithoutForbidden => "add forbidden = \"reason\" to forbid what it matches",
            Self::AllowNetworkRule => "give decision = \"prompt\" or \"deny\"",
        }
    }
}

/// An argument of a builtin with a value the rules language does not accept,
/// and what was expected. `got_type` fields name the Starlark type given
/// (`int`, `dict`, …).
///
/// # Examples
///
/// ```
/// use codex_execpolicy::{InvalidRuleValue, LoadErrorKind, PolicyLoader};
///
/// let err = PolicyLoader::new()
///     .load_str("team.rules", r#"host_executable(name = "git", paths = ["bin/git"])"#)
///     .unwrap_err();
/// assert!(matches!(
///     &err.kind,
///     LoadErrorKind::InvalidValue(InvalidRuleValue::HostExecutablePathRelative { path }) if path == "bin/git"
/// ));
/// assert_eq!(err.to_string(), r#"team.rules:1:1: host_executable paths must be absolute (got "bin/git")"#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRuleValue {
    /// A `prefix_rule`'s `decision` is not `allow`, `prompt` or `forbidden`.
    #[error(transparent)]
    Decision(ParseDecisionError),
    /// A `network_rule`'s `decision` is not `allow`, `prompt`, `deny` or
    /// `forbidden`.
    #[error(
        "a network_rule's decision must be \"allow\", \"prompt\", \"deny\" or \"forbidden\" (got {got:?})"
    )]
    NetworkDecision {
        /// The text given.
        got: String,
    },
    /// `prefix_rule(pattern = [])`.
    #[error("pattern cannot be empty")]
    EmptyPattern,
    /// A `pattern` element that is neither a string nor a list of strings.
    #[error("a pattern element must be a string or a list of strings (got {got_type})")]
    PatternElement {
        /// The type given.
        got_type: &'static str,
    },
    /// A list of alternatives in a `pattern` holding something else than strings.
    #[error("pattern alternatives must be strings")]
    AlternativeNotString,
    /// An empty list of alternatives in a `pattern`.
    #[error("pattern alternatives cannot be empty")]
    EmptyAlternatives,
    /// An `arguments` element of a `prefix_rule` that is neither a string
    /// nor a non-empty list of strings.
    #[error("an arguments element must be a pattern or a non-empty list of patterns (got {got})")]
    ArgumentsElement {
        /// What was given: a type name, or `empty list`.
        got: &'static str,
    },
    /// An `unless` entry of a `prefix_rule` that is not a string.
    #[error("unless must be a list of patterns (got {got_type})")]
    UnlessType {
        /// The type given.
        got_type: &'static str,
    },
    /// An argument pattern (`arguments`, `unless`) with a `[` and no `]`.
    #[error(
        "argument pattern {pattern:?} has a `[` without its `]` (write `[[]` for a literal `[`)"
    )]
    ArgumentPattern {
        /// The pattern given.
        pattern: String,
    },
    /// A `justification` that is empty or only blanks.
    #[error("justification cannot be empty")]
    EmptyJustification,
    /// An example string that is not valid shell quoting.
    #[error("example {example:?} has invalid shell quoting")]
    ExampleQuoting {
        /// The example.
        example: String,
    },
    /// An example given as a list holding something else than strings.
    #[error("example tokens must be strings")]
    ExampleTokenNotString,
    /// An example that is neither a string nor a list of strings.
    #[error("an example must be a string or a list of strings (got {got_type})")]
    ExampleType {
        /// The type given.
        got_type: &'static str,
    },
    /// An example with no token.
    #[error("an example cannot be empty")]
    EmptyExample,
    /// A `host_executable` name that is empty or holds a `/`.
    #[error("host_executable name must be a bare program name (got {name:?})")]
    HostExecutableName {
        /// The name given.
        name: String,
    },
    /// A `host_executable` path that is not a string.
    #[error("host_executable paths must be strings (got {got_type})")]
    HostExecutablePathType {
        /// The type given.
        got_type: &'static str,
    },
    /// A `host_executable` path that is not absolute.
    #[error("host_executable paths must be absolute (got {path:?})")]
    HostExecutablePathRelative {
        /// The path given.
        path: String,
    },
    /// A `host_executable` path whose file name is not the program's name.
    #[error("host_executable path {path:?} must end in {name:?}")]
    HostExecutablePathName {
        /// The path given.
        path: String,
        /// The program's name.
        name: String,
    },
    /// A `network_rule` protocol other than `http`, `https`, `socks5_tcp`,
    /// `socks5_udp`.
    #[error("network_rule protocol must be one of http, https, socks5_tcp, socks5_udp (got {got})")]
    NetworkProtocol {
        /// The protocol given.
        got: String,
    },
    /// A `network_rule` host with a scheme, a path, a query or a fragment.
    #[error("network_rule host must be a host name or IP address, without scheme or path")]
    NetworkHostSchemeOrPath {
        /// The host given.
        host: String,
    },
    /// A `network_rule` host `[` without its `]`.
    #[error("network_rule host has an unclosed [IPv6] literal")]
    NetworkHostUnclosedBracket {
        /// The host given.
        host: String,
    },
    /// A `network_rule` host `[v6]` followed by something else than `:port`.
    #[error("network_rule host has an unexpected suffix: {host}")]
    NetworkHostSuffix {
        /// The host given.
        host: String,
    },
    /// A `network_rule` host that is empty, has a wildcard or blanks.
    #[error("network_rule host must be one specific host name or IP address")]
    NetworkHostNotSpecific {
        /// The host given.
        host: String,
    },
    /// `flag(name)` where `name` does not start with `-`.
    #[error("a flag starts with `-` (got {name:?})")]
    FlagName {
        /// The name given.
        name: String,
    },
    /// `opt(name, …)` where `name` does not start with `-`.
    #[error("an option starts with `-` (got {name:?})")]
    OptionName {
        /// The name given.
        name: String,
    },
    /// An argument type that is not one of the `ARG_*` constants.
    #[error("unknown argument type {got:?}; use one of the ARG_* constants")]
    ArgType {
        /// The type given.
        got: String,
    },
    /// A `define_program` program that is empty or holds a `/`.
    #[error("define_program program must be a bare name (got {program:?})")]
    ProgramName {
        /// The program given.
        program: String,
    },
    /// A `define_program` option that is not a string.
    #[error("options (use flag() and opt()) must be strings (got {got_type})")]
    OptionType {
        /// The type given.
        got_type: &'static str,
    },
    /// A `define_program` option not made by `flag()` or `opt()`.
    #[error("options must be made with flag() or opt() (got {text:?})")]
    OptionSpec {
        /// The option given.
        text: String,
    },
    /// A `define_program` argument slot that is not a string.
    #[error("args must be strings (got {got_type})")]
    ArgsType {
        /// The type given.
        got_type: &'static str,
    },
    /// More than one variable-length argument slot in a `define_program`.
    #[error(
        "at most one variable-length argument (ARG_RFILES, ARG_RFILES_OR_CWD, ARG_OPAQUE_VALUES)"
    )]
    SeveralVariableLength,
    /// A `define_program` `system_path` entry that is not a string.
    #[error("system_path must be strings (got {got_type})")]
    SystemPathType {
        /// The type given.
        got_type: &'static str,
    },
    /// A `define_program` `system_path` entry that is not absolute.
    #[error("system_path entries must be absolute (got {path:?})")]
    SystemPathRelative {
        /// The path given.
        path: String,
    },
}

impl From<ParseDecisionError> for InvalidRuleValue {
    fn from(error: ParseDecisionError) -> Self {
        Self::Decision(error)
    }
}

impl From<InvalidRuleValue> for LoadErrorKind {
    fn from(error: InvalidRuleValue) -> Self {
        Self::InvalidValue(error)
    }
}
