//! Normalization before matching: what will really run.
//!
//! `bash -c`, `bash -lc`, `sh -c`, `zsh -lc` (and `dash`) scripts are parsed
//! with a real shell parser (brush-parser) and split into their commands when
//! they use only plain words, quotes, `&&`, `||`, `;` and `|`. Any
//! substitution, expansion, redirection to a file, subshell, compound command,
//! function, heredoc or assignment makes the whole command opaque (`prompt`).
//! Leading `env [VAR=value...]`, `VAR=value`, `command`, `nice [-n N]` and
//! `timeout [-s SIG] DURATION` are removed, since they run the rest as is.

use brush_parser::ast::{self, Command, CommandPrefixOrSuffixItem, IoRedirect};

/// What a command line comes down to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Normalized {
    /// The commands that will run.
    Commands(Vec<Vec<String>>),
    /// A script whose effect cannot be read off its words.
    Opaque {
        /// The script.
        script: String,
        /// What made it opaque.
        reason: String,
    },
}

const SHELLS: &[&str] = &["bash", "sh", "zsh", "dash"];

/// Normalizes `argv`.
pub fn normalize(argv: &[String]) -> Normalized {
    let argv = strip_prefixes(argv);
    let Some(script) = shell_script(argv) else {
        return Normalized::Commands(vec![argv.to_vec()]);
    };
    match split_script(&script) {
        Ok(commands) => {
            let mut out = Vec::new();
            for command in commands {
                match normalize(&command) {
                    Normalized::Commands(inner) => out.extend(inner),
                    opaque => return opaque,
                }
            }
            Normalized::Commands(out)
        }
        Err(reason) => Normalized::Opaque { script, reason },
    }
}

/// The script of `bash -c SCRIPT` / `bash -lc SCRIPT` (no further arguments).
pub(crate) fn shell_script(argv: &[String]) -> Option<String> {
    let program = argv.first()?;
    let name = program.rsplit('/').next().unwrap_or(program);
    if !SHELLS.contains(&name) {
        return None;
    }
    match argv.get(1..)? {
        [flag, script] if flag == "-c" || flag == "-lc" => Some(script.clone()),
        [login, flag, script] if login == "-l" && flag == "-c" => Some(script.clone()),
        _ => None,
    }
}

fn is_assignment(token: &str) -> bool {
    token.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Removes prefixes that run the rest of the line unchanged (only leading
/// tokens go, so the rest is a sub-slice: no allocation on the hot path).
pub(crate) fn strip_prefixes(argv: &[String]) -> &[String] {
    let mut rest = argv;
    loop {
        let Some(first) = rest.first() else {
            return rest;
        };
        let name = first.rsplit('/').next().unwrap_or(first);
        let skip = if is_assignment(first) {
            1
        } else if name == "env" {
            // `env` options other than assignments (-i, -u, -S, ...) change what
            // runs in ways not read here: keep the command as is.
            let assignments = rest[1..].iter().take_while(|t| is_assignment(t)).count();
            if rest
                .get(1 + assignments)
                .is_some_and(|t| t.starts_with('-'))
            {
                return rest;
            }
            1 + assignments
        } else if name == "command" {
            if rest.get(1).is_some_and(|t| t.starts_with('-')) {
                return rest;
            }
            1
        } else if name == "nice" {
            match rest.get(1).map(String::as_str) {
                Some("-n") if rest.get(2).is_some_and(|n| n.parse::<i32>().is_ok()) => 3,
                Some(flag) if flag.starts_with('-') => return rest,
                _ => 1,
            }
        } else if name == "timeout" {
            let mut i = 1;
            while let Some(flag) = rest.get(i) {
                match flag.as_str() {
                    "-s" | "-k" | "--signal" | "--kill-after" => i += 2,
                    "--preserve-status" | "--foreground" | "-v" | "--verbose" => i += 1,
                    f if f.starts_with("--signal=") || f.starts_with("--kill-after=") => i += 1,
                    _ => break,
                }
            }
            let duration_ok = rest.get(i).is_some_and(|d| {
                let number = d.trim_end_matches(['s', 'm', 'h', 'd']);
                !number.is_empty() && number.parse::<f64>().is_ok()
            });
            if !duration_ok {
                return rest;
            }
            i + 1
        } else {
            return rest;
        };
        if skip >= rest.len() {
            return rest;
        }
        rest = &rest[skip..];
    }
}

/// Splits a script into plain commands, or says why it cannot.
fn split_script(script: &str) -> Result<Vec<Vec<String>>, String> {
    let mut parser = brush_parser::Parser::new(
        std::io::BufReader::new(script.as_bytes()),
        &brush_parser::ParserOptions::default(),
    );
    let program = parser
        .parse_program()
        .map_err(|e| format!("the shell cannot parse it: {e}"))?;
    let mut commands = Vec::new();
    for complete in &program.complete_commands {
        for ast::CompoundListItem(and_or, separator) in &complete.0 {
            if matches!(separator, ast::SeparatorOperator::Async) {
                return Err("a background job (`&`)".into());
            }
            let pipelines =
                std::iter::once(&and_or.first).chain(and_or.additional.iter().map(|a| match a {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
                }));
            for pipeline in pipelines {
                if pipeline.timed.is_some() || pipeline.bang {
                    return Err("`time` or `!` before a pipeline".into());
                }
                for command in &pipeline.seq {
                    commands.push(simple_command(command)?);
                }
            }
        }
    }
    if commands.is_empty() {
        return Err("an empty script".into());
    }
    Ok(commands)
}

fn simple_command(command: &Command) -> Result<Vec<String>, String> {
    let Command::Simple(simple) = command else {
        return Err(match command {
            Command::Function(_) => "a function definition".into(),
            _ => "a compound command (subshell, group, if, for, while, case, [[ ]])".into(),
        });
    };
    // `A=1 cmd` only sets the environment of `cmd`, as on the command line; the
    // value must still be plain text.
    for item in simple.prefix.iter().flat_map(|p| &p.0) {
        match item {
            CommandPrefixOrSuffixItem::AssignmentWord(_, word) => {
                plain_word(&word.value)?;
            }
            CommandPrefixOrSuffixItem::IoRedirect(redirect) => check_redirect(redirect)?,
            CommandPrefixOrSuffixItem::Word(_) => {
                return Err("an unexpected word before the command".into());
            }
            CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                return Err("a process substitution".into());
            }
        }
    }
    let name = simple
        .word_or_name
        .as_ref()
        .ok_or("a command without a name (only assignments)")?;
    let mut argv = vec![plain_word(&name.value)?];
    for item in simple.suffix.iter().flat_map(|s| &s.0) {
        match item {
            CommandPrefixOrSuffixItem::Word(word)
            | CommandPrefixOrSuffixItem::AssignmentWord(_, word) => {
                argv.push(plain_word(&word.value)?);
            }
            CommandPrefixOrSuffixItem::IoRedirect(redirect) => check_redirect(redirect)?,
            CommandPrefixOrSuffixItem::ProcessSubstitution(..) => {
                return Err("a process substitution".into());
            }
        }
    }
    Ok(argv)
}

/// `2>&1` and redirections to `/dev/null` change no file; anything else might.
fn check_redirect(redirect: &IoRedirect) -> Result<(), String> {
    match redirect {
        IoRedirect::File(_, kind, target) => {
            use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T};
            match (kind, target) {
                (K::DuplicateOutput | K::DuplicateInput, T::Fd(_)) => Ok(()),
                // `2>&1`, `>&-`: a descriptor number or a close, never a file.
                (K::DuplicateOutput | K::DuplicateInput, T::Duplicate(word))
                    if word.value == "-"
                        || (!word.value.is_empty()
                            && word.value.bytes().all(|b| b.is_ascii_digit())) =>
                {
                    Ok(())
                }
                (_, T::Filename(word)) if word.value == "/dev/null" => Ok(()),
                _ => Err("a redirection to a file".into()),
            }
        }
        IoRedirect::HereDocument(..) | IoRedirect::HereString(..) => {
            Err("a heredoc or here-string".into())
        }
        IoRedirect::OutputAndError(word, _) if word.value == "/dev/null" => Ok(()),
        IoRedirect::OutputAndError(..) => Err("a redirection to a file".into()),
    }
}

/// The value of a word made only of literal text and quotes. Expansions
/// (`$`, backticks, globs, braces, a leading `~`) are refused: they would make
/// the real argument differ from what is checked.
fn plain_word(raw: &str) -> Result<String, String> {
    let (mut single, mut double, mut escaped) = (false, false, false);
    for (i, c) in raw.chars().enumerate() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if !single => escaped = true,
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '$' | '`' if !single => return Err(format!("an expansion or substitution in {raw:?}")),
            '*' | '?' | '[' | '{' if !single && !double => {
                return Err(format!("a glob or brace expansion in {raw:?}"));
            }
            '~' if i == 0 => return Err(format!("a tilde expansion in {raw:?}")),
            _ => {}
        }
    }
    match shlex::split(raw).as_deref() {
        Some([value]) => Ok(value.clone()),
        Some([]) => Ok(String::new()),
        _ => Err(format!("a word that does not stand alone: {raw:?}")),
    }
}
