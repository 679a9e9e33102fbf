//! Program definitions (`define_program`): which options and arguments a
//! program may get, each argument typed, so a command line is classified as
//! Safe, Match, Forbidden or Unverified.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::ProgramOutcome;

/// What an argument is.
///
/// # Examples
///
/// Each `ARG_*` constant of a program definition is one type:
///
/// ```
/// use codex_execpolicy::{ArgType, PolicyLoader, RuleMatch};
///
/// let mut loader = PolicyLoader::new();
/// loader.load_str("tools.rules", r#"
/// define_program(
///     program = "jq",
///     options = [flag("-r"), opt("--indent", ARG_POS_INT)],
///     args = [ARG_OPAQUE_VALUE, ARG_RFILES],
///     should_match = ["jq -r .name package.json"],
/// )
/// "#)?;
/// let policy = loader.finish();
/// let argv = ["jq", "--indent", "2", ".version", "package.json"].map(String::from);
/// let RuleMatch::ProgramMatch { args, .. } = &policy.check(&argv).matched_rules[0] else { panic!() };
/// let types: Vec<ArgType> = args.iter().map(|arg| arg.arg_type).collect();
/// assert_eq!(types, [ArgType::PositiveInteger, ArgType::OpaqueValue, ArgType::ReadableFile]);
/// assert_eq!(serde_json::to_string(&ArgType::WritableFile)?, r#""writableFile""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ArgType {
    /// A file the program reads (`ARG_RFILE`).
    ReadableFile,
    /// A file the program writes (`ARG_WFILE`): must lie inside a writable root.
    WritableFile,
    /// A value that names no file (`ARG_OPAQUE_VALUE`).
    OpaqueValue,
    /// A positive integer (`ARG_POS_INT`).
    PositiveInteger,
    /// A sed script that only prints (`ARG_SED_COMMAND`).
    SedCommand,
}

/// How many positional arguments a slot takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Arity {
    /// Exactly one.
    One,
    /// One or more.
    OneOrMore,
    /// Zero or more.
    ZeroOrMore,
}

/// A positional argument slot (`ARG_RFILES` is readable files, one or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ArgSlot {
    /// The type of each argument.
    pub(crate) arg_type: ArgType,
    /// How many.
    pub(crate) arity: Arity,
}

/// An option: `flag("-l")` or `opt("-n", ARG_POS_INT)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProgramOption {
    /// `-l`, `--count`.
    pub(crate) name: Box<str>,
    /// The value's type, for options that take one.
    pub(crate) value: Option<ArgType>,
}

/// One `define_program(...)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProgramSpec {
    /// The program name (first token).
    pub(crate) program: Arc<str>,
    /// For programs with subcommands (`git branch`): the required second token.
    pub(crate) subcommand: Option<Box<str>>,
    /// Absolute paths under which the program may also be invoked.
    pub(crate) system_path: Vec<Box<str>>,
    /// Allowed options.
    pub(crate) options: Vec<ProgramOption>,
    /// Positional argument slots, in order.
    pub(crate) args: Vec<ArgSlot>,
    /// When set, every match is forbidden with this reason.
    pub(crate) forbidden: Option<Box<str>>,
    /// `file:line:column` of the definition.
    pub(crate) defined_at: Arc<str>,
}

/// An argument of a matched command line and its type.
///
/// # Examples
///
/// The default policy's `sort` writes the file given to `-o`:
///
/// ```
/// use codex_execpolicy::{ArgType, PolicyLoader, RuleMatch};
///
/// let policy = PolicyLoader::with_default_policy()?.finish();
/// let argv = ["sort", "-o", "sorted.txt", "data.txt"].map(String::from);
/// let evaluation = policy.check(&argv);
/// let RuleMatch::ProgramMatch { args, .. } = &evaluation.matched_rules[0] else { panic!() };
/// let written = args.iter().find(|arg| arg.arg_type == ArgType::WritableFile).ok_or("no write")?;
/// assert_eq!(written.value, "sorted.txt");
/// assert_eq!(serde_json::to_string(written)?, r#"{"value":"sorted.txt","type":"writableFile"}"#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct MatchedArg {
    /// The argument as given.
    pub value: String,
    /// Its type.
    #[serde(rename = "type")]
    pub arg_type: ArgType,
}

/// The classification of one command line by one definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProgramVerdict {
    /// Safe, Match, Forbidden or Unverified.
    pub(crate) outcome: ProgramOutcome,
    /// Every typed argument (options' values included).
    pub(crate) args: Vec<MatchedArg>,
    /// Why, when not Safe/Match.
    pub(crate) reason: Option<String>,
}

impl ProgramSpec {
    /// Whether this definition is about `argv` at all (program and subcommand).
    pub(crate) fn applies_to(&self, argv: &[String]) -> bool {
        match &self.subcommand {
            Some(sub) => argv.get(1).is_some_and(|a| a == &**sub),
            None => true,
        }
    }

    /// Classifies `argv` (the program token already matched).
    pub(crate) fn classify(&self, argv: &[String]) -> ProgramVerdict {
        let unverified = |reason: String, args| ProgramVerdict {
            outcome: ProgramOutcome::Unverified,
            args,
            reason: Some(reason),
        };
        let start = 1 + usize::from(self.subcommand.is_some());
        let mut typed = Vec::new();
        let mut positional: Vec<&str> = Vec::new();
        let mut tokens = argv.iter().skip(start);
        let mut options_done = false;
        while let Some(token) = tokens.next() {
            if options_done || !token.starts_with('-') || token == "-" {
                positional.push(token);
                continue;
            }
            if token == "--" {
                options_done = true;
                continue;
            }
            let (name, inline) = match token.split_once('=') {
                Some((n, v)) if n.starts_with("--") => (n, Some(v)),
                _ => (token.as_str(), None),
            };
            let Some(option) = self.options.iter().find(|o| &*o.name == name) else {
                // Bundled short flags: `-la` is `-l -a`, when each is a plain flag.
                let bundle_ok = !name.starts_with("--")
                    && name.len() > 2
                    && name[1..].chars().all(|c| {
                        self.options
                            .iter()
                            .any(|o| o.value.is_none() && o.name.len() == 2 && o.name.ends_with(c))
                    });
                if bundle_ok {
                    continue;
                }
                return unverified(
                    format!(
                        "option {token:?} is not in the definition of {}",
                        self.program
                    ),
                    typed,
                );
            };
            if let Some(value_type) = option.value {
                let Some(value) = inline.map(str::to_owned).or_else(|| tokens.next().cloned())
                else {
                    return unverified(format!("option {name} needs a value"), typed);
                };
                if let Err(reason) = check_value(value_type, &value) {
                    return unverified(reason, typed);
                }
                typed.push(MatchedArg {
                    value,
                    arg_type: value_type,
                });
            } else if inline.is_some() {
                return unverified(format!("option {name} takes no value"), typed);
            }
        }
        match self.assign_positionals(&positional) {
            Ok(assigned) => {
                for (value, arg_type) in assigned {
                    if let Err(reason) = check_value(arg_type, value) {
                        return unverified(reason, typed);
                    }
                    typed.push(MatchedArg {
                        value: value.to_owned(),
                        arg_type,
                    });
                }
            }
            Err(reason) => return unverified(reason, typed),
        }
        if let Some(reason) = &self.forbidden {
            return ProgramVerdict {
                outcome: ProgramOutcome::Forbidden,
                args: typed,
                reason: Some(reason.to_string()),
            };
        }
        let writes = typed.iter().any(|a| a.arg_type == ArgType::WritableFile);
        ProgramVerdict {
            outcome: if writes {
                ProgramOutcome::Match
            } else {
                ProgramOutcome::Safe
            },
            args: typed,
            reason: None,
        }
    }

    /// Assigns positional arguments to slots: fixed slots take one each, the
    /// (single) variadic slot takes what is left.
    fn assign_positionals<'a>(
        &self,
        values: &[&'a str],
    ) -> Result<Vec<(&'a str, ArgType)>, String> {
        let fixed = self.args.iter().filter(|s| s.arity == Arity::One).count();
        let variadic = self.args.iter().find(|s| s.arity != Arity::One);
        let spare = values.len().checked_sub(fixed).ok_or_else(|| {
            format!(
                "{} needs at least {fixed} argument(s), got {}",
                self.program,
                values.len()
            )
        })?;
        match variadic {
            None if spare > 0 => return Err(format!("too many arguments for {}", self.program)),
            Some(slot) if slot.arity == Arity::OneOrMore && spare == 0 => {
                return Err(format!("{} needs at least one more argument", self.program));
            }
            _ => {}
        }
        let mut out = Vec::with_capacity(values.len());
        let mut rest = values.iter();
        for slot in &self.args {
            let take = if slot.arity == Arity::One { 1 } else { spare };
            for value in rest.by_ref().take(take) {
                out.push((*value, slot.arg_type));
            }
        }
        Ok(out)
    }
}

fn check_value(arg_type: ArgType, value: &str) -> Result<(), String> {
    match arg_type {
        ArgType::PositiveInteger => value
            .parse::<u64>()
            .ok()
            .filter(|n| *n > 0)
            .map(|_| ())
            .ok_or_else(|| format!("{value:?} is not a positive integer")),
        ArgType::SedCommand => check_sed_command(value),
        ArgType::ReadableFile | ArgType::WritableFile if value.is_empty() => {
            Err("an empty file name".into())
        }
        _ => Ok(()),
    }
}

/// A sed script that only reads its input and prints: addresses, and the
/// commands `p d q = l n N P D h H g G x`, `s///` with flags among `g p i I m M`
/// and digits, `y///`. Refused: `w`/`W`/`r`/`R` (files), `e` and the `e` flag of
/// `s` (execution), and anything not recognized.
fn check_sed_command(script: &str) -> Result<(), String> {
    let refuse = || {
        Err(format!(
            "sed script {script:?} may write files or run commands (only printing scripts are verified)"
        ))
    };
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let skip_delimited = |i: &mut usize, delimiter: char| -> bool {
        while *i < chars.len() {
            match chars[*i] {
                '\\' => *i += 2,
                c if c == delimiter => {
                    *i += 1;
                    return true;
                }
                _ => *i += 1,
            }
        }
        false
    };
    while i < chars.len() {
        // Separators and whitespace between commands.
        while i < chars.len() && matches!(chars[i], ';' | '\n' | ' ' | '\t') {
            i += 1;
        }
        if i >= chars.len() {
            break;
        }
        // Address: numbers, `$`, ranges, `/regex/`, and a trailing `!`.
        loop {
            match chars.get(i) {
                Some(c) if c.is_ascii_digit() || matches!(c, '$' | ',' | '~' | '+' | '!' | ' ') => {
                    i += 1
                }
                Some('/') => {
                    i += 1;
                    if !skip_delimited(&mut i, '/') {
                        return refuse();
                    }
                }
                _ => break,
            }
        }
        let Some(&command) = chars.get(i) else {
            return refuse();
        };
        i += 1;
        match command {
            'p' | 'd' | 'q' | '=' | 'l' | 'n' | 'N' | 'P' | 'D' | 'h' | 'H' | 'g' | 'G' | 'x' => {}
            's' | 'y' => {
                let Some(&delimiter) = chars.get(i) else {
                    return refuse();
                };
                if delimiter.is_alphanumeric() || delimiter == '\\' || delimiter == '\n' {
                    return refuse();
                }
                i += 1;
                if !skip_delimited(&mut i, delimiter) || !skip_delimited(&mut i, delimiter) {
                    return refuse();
                }
                while let Some(&flag) = chars.get(i) {
                    match flag {
                        'g' | 'p' | 'i' | 'I' | 'm' | 'M' if command == 's' => i += 1,
                        c if c.is_ascii_digit() && command == 's' => i += 1,
                        ';' | '\n' | ' ' | '}' => break,
                        _ => return refuse(),
                    }
                }
            }
            _ => return refuse(),
        }
    }
    if script.trim().is_empty() {
        refuse()
    } else {
        Ok(())
    }
}
