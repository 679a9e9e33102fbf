//! Normalization before matching: what will really run, and what could make it
//! differ from what is read.
//!
//! Wrappers that run another command — `env`, `command`, `exec`, `builtin`,
//! `nice`, `nohup`, `time`, `timeout`, `stdbuf`, `setsid`, `ionice`, `sudo`,
//! `doas`, `xargs`, `busybox`, `eval`, `find -exec` and shells with `-c`
//! (any flag cluster: `-c`, `-lc`, `-xc`, `--norc -c`, `-o errexit -c`, …) —
//! are unwrapped, and the command inside is decided, so a rule on `rm` holds
//! through every one of them. The wrapper itself is kept too, and decided by
//! its own rules (`prefix_rule(["sudo"], …)` still applies).
//!
//! Whatever could change what runs without being understood is a *concern*:
//! an assignment to a variable not known to be harmless (`LD_PRELOAD`,
//! `GIT_EXTERNAL_DIFF`, `BASH_ENV`, `PYTHONPATH`, …), `env -S`/`-C`, a
//! wrapper or shell run by a path outside the system directories, shell
//! options that are not known, substitutions, expansions, redirections to
//! files, compound commands, nesting too deep to analyse, a replacement
//! character (a lossy copy of a non-UTF-8 argument), a network download fed
//! to a shell (`curl … | sh`, `bash <(curl …)`). Each concern makes the
//! command at best `prompt`; the commands found are still decided, so a
//! forbidden rule still wins. Two shell constructs are forbidden whatever
//! the rules say: a fork bomb and a redirection onto a block device.

use std::ops::Range;
use std::sync::OnceLock;

use brush_parser::ast::{self, Command, CommandPrefixOrSuffixItem, CompoundCommand, IoRedirect};
use rustc_hash::FxHashSet;

use crate::Decision;

/// What a command line comes down to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Normalized {
    /// The commands that will run, each to be decided.
    pub(crate) commands: Vec<Vec<String>>,
    /// The wrappers around them (`sudo ls`, `timeout 5 ls`, `bash -c '…'`):
    /// decided by their own rules when some match; no rule is needed.
    pub(crate) wrappers: Vec<Vec<String>>,
    /// What could make the real effect differ from what is decided: each
    /// makes the command at best `prompt`.
    pub(crate) concerns: Vec<Concern>,
}

/// Why a command line cannot be verified as read, or why it must not run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Concern {
    /// The command line or script concerned.
    pub(crate) script: String,
    /// What makes it unverifiable (or destructive).
    pub(crate) reason: String,
    /// `prompt`; `forbidden` for a construct that is destructive whatever
    /// the rules say (a fork bomb, a write onto a block device).
    pub(crate) decision: Decision,
}

/// Shells whose `-c` scripts are parsed.
const SHELLS: &[&str] = &[
    "bash", "rbash", "sh", "zsh", "dash", "ksh", "ksh93", "mksh", "ash", "yash", "posh",
];

/// Programs and builtins that run another command, unwrapped here.
const WRAPPERS: &[&str] = &[
    "env", "command", "exec", "builtin", "nice", "nohup", "time", "timeout", "stdbuf", "setsid",
    "ionice", "sudo", "doas", "xargs", "busybox", "toybox", "eval", "find",
];

/// Programs that run another program with arguments of their own syntax, not
/// read here: a command under one of them needs approval at best — matching
/// no rule, it would otherwise pass where the same command inside `bash -c`
/// would not.
const LAUNCHERS: &[&str] = &[
    "taskset",
    "setarch",
    "linux32",
    "linux64",
    "i386",
    "x86_64",
    "chrt",
    "prlimit",
    "script",
    "flock",
    "chroot",
    "su",
    "runuser",
    "watch",
    "unbuffer",
    "strace",
    "ltrace",
    "gdb",
    "valgrind",
    "nsenter",
    "unshare",
    "firejail",
    "systemd-run",
    "setpriv",
    "setuidgid",
    "numactl",
    "cgexec",
    "faketime",
    "catchsegv",
    "parallel",
    "entr",
    "expect",
    "rlwrap",
    "torsocks",
    "proxychains",
    "proxychains4",
    "nocache",
    "eatmydata",
    "fakeroot",
];

/// Where a wrapper or shell given by path is trusted to be the real one.
const SYSTEM_DIRS: &[&str] = &["/bin", "/usr/bin", "/sbin", "/usr/sbin"];

/// How many wrappers and nested shells are unwrapped before giving up.
pub(crate) const MAX_UNWRAP_DEPTH: usize = 16;

/// How many nesting openers (`(`, `{`, `[`, `!`, backquote, `if`, `while`,
/// `until`, `for`, `case`, `select`, `elif`, `function`, `coproc`) a shell
/// script may contain before it is handed to the parser. The parser recurses
/// on nesting, and the number of openers bounds the nesting depth whatever
/// the quoting, so a deeper script is refused (`prompt`) instead of
/// overflowing the stack.
pub const MAX_SHELL_OPENERS: usize = 64;

/// How many wrappers and assignments one command may have before giving up.
const MAX_LAYERS: usize = 64;

/// Longest shell script parsed.
pub(crate) const MAX_SCRIPT_BYTES: usize = 64 * 1024;

/// Variables whose value cannot change which program runs or what it loads.
/// Any other assignment is a concern: an allowlist, not a denylist, because
/// the variables that load code (`LD_*`, `GIT_*`, `BASH_ENV`, `PYTHONPATH`,
/// `NODE_OPTIONS`, `PERL5OPT`, `HOME`, `PATH`, …) are too many to list.
const HARMLESS_VARS: &[&str] = &[
    "LANG",
    "LANGUAGE",
    "LC_ALL",
    "LC_ADDRESS",
    "LC_COLLATE",
    "LC_CTYPE",
    "LC_IDENTIFICATION",
    "LC_MEASUREMENT",
    "LC_MESSAGES",
    "LC_MONETARY",
    "LC_NAME",
    "LC_NUMERIC",
    "LC_PAPER",
    "LC_TELEPHONE",
    "LC_TIME",
    "TZ",
    "TERM",
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "CLICOLOR",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "COLORTERM",
    "CI",
    "DEBIAN_FRONTEND",
    "POSIXLY_CORRECT",
    "TIME_STYLE",
    "GREP_COLOR",
    "GREP_COLORS",
    "LS_COLORS",
    "RUST_BACKTRACE",
    "RUST_LOG",
    "CARGO_TERM_COLOR",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONIOENCODING",
    "PYTHONHASHSEED",
    "NODE_ENV",
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_TERMINAL_PROMPT",
    "GIT_OPTIONAL_LOCKS",
];

/// Normalizes `argv`.
pub(crate) fn normalize(argv: &[String]) -> Normalized {
    let mut out = Normalized::default();
    if let Some(i) = argv.iter().position(|t| t.contains('\u{FFFD}')) {
        out.concerns.push(Concern {
            script: join(argv),
            reason: format!(
                "argument {i} is not valid UTF-8 (or contains U+FFFD): it was decided on a lossy copy"
            ),
            decision: Decision::Prompt,
        });
    }
    unwrap(argv, 0, &mut out);
    out
}

/// Whether a command line run by the program `name` must be normalized
/// before it is decided: a shell, a wrapper or a launcher. Any other program
/// given by name, with no assignment before it and no replacement character,
/// normalizes to itself (the fast path of `Policy::decide` and `check`).
pub(crate) fn unwraps(name: &str) -> bool {
    // This runs for every command line whose program no rule is about, so
    // it must cost far less than a decision: a filter computed at compile
    // time rules out almost every other name, then a set built once
    // answers.
    if UNWRAPPED_SKETCHES[sketch(name.as_bytes()) / 64] & (1 << (sketch(name.as_bytes()) % 64)) == 0
    {
        return false;
    }
    static NAMES: OnceLock<FxHashSet<&'static str>> = OnceLock::new();
    NAMES
        .get_or_init(|| {
            SHELLS
                .iter()
                .chain(WRAPPERS)
                .chain(LAUNCHERS)
                .copied()
                .collect()
        })
        .contains(name)
}

/// A name's bit in [`UNWRAPPED_SKETCHES`], from its length and first and
/// last bytes.
const fn sketch(name: &[u8]) -> usize {
    match name {
        [] => 0,
        [first, .., last] | [first @ last] => {
            (name.len() * 61 + *first as usize * 7 + *last as usize) % 256
        }
    }
}

/// The sketches of every shell, wrapper and launcher name.
const UNWRAPPED_SKETCHES: [u64; 4] = {
    let mut bits = [0u64; 4];
    let lists = [SHELLS, WRAPPERS, LAUNCHERS];
    let mut l = 0;
    while l < lists.len() {
        let mut i = 0;
        while i < lists[l].len() {
            let bit = sketch(lists[l][i].as_bytes());
            bits[bit / 64] |= 1 << (bit % 64);
            i += 1;
        }
        l += 1;
    }
    bits
};

pub(crate) fn join(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str))
        .unwrap_or_else(|_| argv.join(" ").replace('\0', "\\0"))
}

fn concern(out: &mut Normalized, argv: &[String], reason: impl Into<String>) {
    out.concerns.push(Concern {
        script: join(argv),
        reason: reason.into(),
        decision: Decision::Prompt,
    });
}

fn basename(token: &str) -> &str {
    token.rsplit('/').next().unwrap_or(token)
}

fn is_assignment(token: &str) -> bool {
    token.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// `None` when `NAME=value` is harmless, else why not.
fn assignment_concern(token: &str) -> Option<String> {
    let (name, value) = token.split_once('=')?;
    let harmless = HARMLESS_VARS.contains(&name) && (name == "TZ" || !value.contains('/'));
    (!harmless).then(|| {
        format!(
            "it sets {name}, which may change what runs or what it loads (only variables known to be harmless, such as LANG, TZ or TERM, are accepted)"
        )
    })
}

/// Unwraps one command line into `out`.
fn unwrap(argv: &[String], depth: usize, out: &mut Normalized) {
    if depth > MAX_UNWRAP_DEPTH {
        concern(
            out,
            argv,
            format!("wrappers and shells nested more than {MAX_UNWRAP_DEPTH} deep"),
        );
        return;
    }
    let mut rest = argv;
    let mut layers = 0;
    loop {
        let Some(first) = rest.first() else {
            return;
        };
        layers += 1;
        if layers > MAX_LAYERS {
            concern(
                out,
                &rest[..rest.len().min(8)],
                format!("more than {MAX_LAYERS} wrappers and assignments in one command"),
            );
            return;
        }
        if is_assignment(first) {
            if let Some(why) = assignment_concern(first) {
                concern(out, rest, why);
            }
            if rest.len() == 1 {
                concern(out, rest, "an assignment without a command");
                return;
            }
            rest = &rest[1..];
            continue;
        }
        let name = basename(first);
        let is_shell = SHELLS.contains(&name);
        if LAUNCHERS.contains(&name) {
            concern(
                out,
                rest,
                format!("{name} runs another program with arguments not read here"),
            );
            out.commands.push(rest.to_vec());
            return;
        }
        if !is_shell && !WRAPPERS.contains(&name) {
            out.commands.push(rest.to_vec());
            return;
        }
        if first.contains('/') {
            let dir = first.rsplit_once('/').map_or("", |(d, _)| d);
            if !SYSTEM_DIRS.contains(&dir) {
                concern(
                    out,
                    rest,
                    format!(
                        "{first} is run by a path outside {}: it may not be the real {name}",
                        SYSTEM_DIRS.join(", ")
                    ),
                );
            }
        }
        let step = if is_shell {
            shell_step(rest)
        } else {
            wrapper_step(name, rest)
        };
        match step {
            Step::Run => {
                out.commands.push(rest.to_vec());
                return;
            }
            Step::Unknown(why) => {
                concern(out, rest, why);
                out.commands.push(rest.to_vec());
                return;
            }
            Step::Inner { skip, concerns } => {
                out.wrappers.push(rest.to_vec());
                for why in concerns {
                    concern(out, rest, why);
                }
                if skip >= rest.len() {
                    concern(out, rest, format!("{name} without a command to run"));
                    return;
                }
                rest = &rest[skip..];
            }
            Step::Rebuilt {
                argv: inner,
                concerns,
            } => {
                out.wrappers.push(rest.to_vec());
                for why in concerns {
                    concern(out, rest, why);
                }
                unwrap(&inner, depth + 1, out);
                return;
            }
            Step::Script { script, concerns } => {
                out.wrappers.push(rest.to_vec());
                for why in concerns {
                    concern(out, rest, why);
                }
                script_commands(&script, depth, out);
                return;
            }
            Step::Find(inner) => {
                out.commands.push(rest.to_vec());
                for command in inner {
                    concern(
                        out,
                        &command,
                        "find runs this for every file it finds (`{}` is each file name)",
                    );
                    unwrap(&command, depth + 1, out);
                }
                return;
            }
        }
    }
}

/// What one wrapper does.
enum Step {
    /// Nothing is wrapped: decide the command line as it is.
    Run,
    /// The options are not understood: decide it as it is, at best `prompt`.
    Unknown(String),
    /// The command starts `skip` tokens further.
    Inner { skip: usize, concerns: Vec<String> },
    /// The command is a rebuilt argv (`env -S`).
    Rebuilt {
        argv: Vec<String>,
        concerns: Vec<String>,
    },
    /// A shell script (`bash -c`, `eval`).
    Script {
        script: String,
        concerns: Vec<String>,
    },
    /// `find … -exec CMD ;`: find itself, and these commands.
    Find(Vec<Vec<String>>),
}

fn unknown(name: &str, option: &str) -> Step {
    Step::Unknown(format!(
        "{name} option {option:?} is not understood, so what it runs is not known"
    ))
}

/// Skips options: `with_value` take the next token (or `--opt=value`,
/// `-ovalue`), `flags` take none; `--` ends them. Returns where the command
/// starts, or the first unknown option.
fn skip_options<'a>(
    argv: &'a [String],
    flags: &[&str],
    with_value: &[&str],
) -> Result<usize, &'a str> {
    let mut i = 1;
    while let Some(token) = argv.get(i) {
        if token == "--" {
            return Ok(i + 1);
        }
        if !token.starts_with('-') || token == "-" {
            return Ok(i);
        }
        if flags.contains(&token.as_str()) {
            i += 1;
        } else if with_value.contains(&token.as_str()) {
            i += 2;
        } else if let Some((name, _)) = token.split_once('=')
            && name.starts_with("--")
            && with_value.contains(&name)
        {
            i += 1;
        } else if !token.starts_with("--")
            && (with_value
                .iter()
                .any(|o| o.len() == 2 && token.starts_with(o))
                || (token.len() > 2
                    && token[1..]
                        .chars()
                        .all(|c| flags.iter().any(|f| f.len() == 2 && f.ends_with(c)))))
        {
            // `-n5` (a value attached) or `-rt` (a cluster of flags).
            i += 1;
        } else {
            return Err(token);
        }
    }
    Ok(i.min(argv.len()))
}

fn inner(skip: usize) -> Step {
    Step::Inner {
        skip,
        concerns: Vec::new(),
    }
}

fn wrapper_step(name: &str, argv: &[String]) -> Step {
    let options = |flags: &[&str], with_value: &[&str]| match skip_options(argv, flags, with_value)
    {
        Ok(skip) => inner(skip),
        Err(option) => unknown(name, option),
    };
    match name {
        "env" => env_step(argv),
        "command" => match argv.get(1).map(String::as_str) {
            Some(o) if o.starts_with('-') && o != "--" && o.contains(['v', 'V']) => Step::Run,
            _ => options(&["-p"], &[]),
        },
        "exec" => match skip_options(argv, &["-c", "-l"], &["-a"]) {
            Ok(skip) => Step::Inner {
                skip,
                concerns: if argv[1..skip].iter().any(|t| t.starts_with("-a")) {
                    vec!["exec -a gives the program another name".into()]
                } else {
                    Vec::new()
                },
            },
            Err(option) => unknown(name, option),
        },
        "builtin" | "nohup" => options(&[], &[]),
        "nice" => {
            // `nice -5 cmd` and `nice -n 5 cmd`.
            if argv
                .get(1)
                .is_some_and(|t| t.len() > 1 && t[1..].parse::<i32>().is_ok() && t.starts_with('-'))
            {
                inner(2)
            } else {
                options(&[], &["-n", "--adjustment"])
            }
        }
        "time" => match skip_options(
            argv,
            &[
                "-p",
                "-v",
                "--verbose",
                "-a",
                "--append",
                "-q",
                "--quiet",
                "--portability",
            ],
            &["-f", "--format", "-o", "--output"],
        ) {
            Ok(skip) => Step::Inner {
                skip,
                concerns: if argv[1..skip]
                    .iter()
                    .any(|t| t.starts_with("-o") || t.starts_with("--output"))
                {
                    vec!["time -o writes a file".into()]
                } else {
                    Vec::new()
                },
            },
            Err(option) => unknown(name, option),
        },
        "timeout" => match skip_options(
            argv,
            &["--preserve-status", "--foreground", "-v", "--verbose"],
            &["-s", "-k", "--signal", "--kill-after"],
        ) {
            Ok(skip) => {
                let duration_ok = argv.get(skip).is_some_and(|d| {
                    let number = d.trim_end_matches(['s', 'm', 'h', 'd']);
                    !number.is_empty() && number.parse::<f64>().is_ok()
                });
                if duration_ok {
                    inner(skip + 1)
                } else {
                    Step::Unknown("timeout without a duration".into())
                }
            }
            Err(option) => unknown(name, option),
        },
        "stdbuf" => options(&[], &["-i", "-o", "-e", "--input", "--output", "--error"]),
        "setsid" => options(&["-c", "-f", "-w", "--ctty", "--fork", "--wait"], &[]),
        "ionice" => options(&["-t", "--ignore"], &["-c", "-n", "--class", "--classdata"]),
        "sudo" | "doas" => {
            let (flags, with_value): (&[&str], &[&str]) = if name == "sudo" {
                (
                    &[
                        "-A",
                        "-b",
                        "-E",
                        "-H",
                        "-n",
                        "-P",
                        "-S",
                        "-s",
                        "-i",
                        "--askpass",
                        "--background",
                        "--preserve-env",
                        "--set-home",
                        "--non-interactive",
                        "--preserve-groups",
                        "--stdin",
                        "--shell",
                        "--login",
                    ],
                    &[
                        "-C",
                        "-D",
                        "-g",
                        "-h",
                        "-p",
                        "-R",
                        "-r",
                        "-t",
                        "-T",
                        "-U",
                        "-u",
                        "--close-from",
                        "--chdir",
                        "--group",
                        "--host",
                        "--prompt",
                        "--chroot",
                        "--role",
                        "--type",
                        "--command-timeout",
                        "--other-user",
                        "--user",
                    ],
                )
            } else {
                (&["-n", "-s"], &["-u", "-C"])
            };
            match skip_options(argv, flags, with_value) {
                Ok(skip) if skip < argv.len() => Step::Inner {
                    skip,
                    concerns: vec![format!("{name} runs the command as another user")],
                },
                Ok(_) => Step::Run,
                Err(option) => unknown(name, option),
            }
        }
        "xargs" => match skip_options(
            argv,
            &[
                "-0",
                "-r",
                "-t",
                "-p",
                "-x",
                "--null",
                "--no-run-if-empty",
                "--verbose",
                "--interactive",
                "--exit",
                "--open-tty",
                "-o",
            ],
            &[
                "-d",
                "-a",
                "-E",
                "-I",
                "-L",
                "-n",
                "-P",
                "-s",
                "--delimiter",
                "--arg-file",
                "--max-args",
                "--max-procs",
                "--max-chars",
                "--max-lines",
                "--replace",
                "--eof",
                "--process-slot-var",
            ],
        ) {
            Ok(skip) => {
                let why = "xargs adds arguments read from its input, which are not known";
                if skip >= argv.len() {
                    // `xargs` alone runs `echo`.
                    Step::Rebuilt {
                        argv: vec!["echo".into()],
                        concerns: vec![why.into()],
                    }
                } else {
                    Step::Inner {
                        skip,
                        concerns: vec![why.into()],
                    }
                }
            }
            Err(option) => unknown(name, option),
        },
        "busybox" | "toybox" => match argv.get(1) {
            Some(applet) if !applet.starts_with('-') => inner(1),
            _ => Step::Run,
        },
        "eval" => {
            let words = &argv[1..];
            if words.is_empty() {
                Step::Run
            } else {
                Step::Script {
                    script: words.join(" "),
                    concerns: Vec::new(),
                }
            }
        }
        "find" => find_step(argv),
        _ => Step::Run,
    }
}

/// `env [-i] [-u NAME] [-0] [-v] [NAME=value]… [--] COMMAND`.
fn env_step(argv: &[String]) -> Step {
    let mut concerns = Vec::new();
    let mut i = 1;
    let mut options_done = false;
    while let Some(token) = argv.get(i) {
        let token = token.as_str();
        // env takes any word with `=` (not an option) as an assignment, name
        // or not (`X-Y=1`, `BASH_FUNC_f%%=…`): the program is the first word
        // without one, and the rules must see that program.
        if !token.starts_with('-') && token.contains('=') {
            if let Some(why) = assignment_concern(token) {
                concerns.push(why);
            }
            i += 1;
            continue;
        }
        if options_done || !token.starts_with('-') {
            break;
        }
        let value_of = |short: &str, long: &str| -> Option<(Option<String>, usize)> {
            if token == short || token == long {
                Some((argv.get(i + 1).cloned(), 2))
            } else if let Some(v) = token.strip_prefix(&format!("{long}=")) {
                Some((Some(v.to_owned()), 1))
            } else {
                token.strip_prefix(short).map(|v| (Some(v.to_owned()), 1))
            }
        };
        match token {
            "--" => {
                options_done = true;
                i += 1;
                continue;
            }
            "-"
            | "-i"
            | "--ignore-environment"
            | "-0"
            | "--null"
            | "-v"
            | "--debug"
            | "--list-signal-handling" => {
                i += 1;
                continue;
            }
            t if t.starts_with("--block-signal")
                || t.starts_with("--default-signal")
                || t.starts_with("--ignore-signal") =>
            {
                i += 1;
                continue;
            }
            _ => {}
        }
        if let Some((_, used)) = value_of("-u", "--unset") {
            i += used;
        } else if let Some((_, used)) = value_of("-C", "--chdir") {
            concerns.push("env -C runs the command in another directory".into());
            i += used;
        } else if let Some((_, used)) = value_of("-a", "--argv0") {
            concerns.push("env -a gives the program another name".into());
            i += used;
        } else if let Some((value, used)) = value_of("-S", "--split-string") {
            concerns.push(
                "env -S splits a string into words by its own rules (escapes, ${VAR}), read here only approximately"
                    .into(),
            );
            let Some(words) = value.as_deref().and_then(shlex::split) else {
                return Step::Unknown("env -S with a string that cannot be split".into());
            };
            let mut rebuilt = vec!["env".to_owned()];
            rebuilt.extend(words);
            rebuilt.extend(argv[i + used..].iter().cloned());
            return Step::Rebuilt {
                argv: rebuilt,
                concerns,
            };
        } else {
            return unknown("env", token);
        }
    }
    if i >= argv.len() {
        // `env` alone prints the environment.
        return if concerns.is_empty() {
            Step::Run
        } else {
            Step::Unknown(concerns.join("; "))
        };
    }
    Step::Inner { skip: i, concerns }
}

/// `find … -exec CMD… ;` (and `-execdir`, `-ok`, `-okdir`, ending in `;` or `+`).
fn find_step(argv: &[String]) -> Step {
    let mut inner = Vec::new();
    let mut i = 1;
    while i < argv.len() {
        if matches!(argv[i].as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            let start = i + 1;
            let end = argv[start..]
                .iter()
                .position(|t| t == ";" || t == "+")
                .map_or(argv.len(), |p| start + p);
            if end > start {
                inner.push(argv[start..end].to_vec());
            }
            i = end + 1;
        } else {
            i += 1;
        }
    }
    if inner.is_empty() {
        Step::Run
    } else {
        Step::Find(inner)
    }
}

/// Why a builtin call inside a script may change what runs: it sets a shell
/// variable whose value it builds itself (`printf -v x 'a[\x24(rm v)]'` holds
/// no `$(` a reader can see), or reads one as an array subscript that bash
/// evaluates (`test -v 'y[x]'`), or sets `PS4` and the like.
fn sets_shell_variable(argv: &[String]) -> Option<String> {
    let (program, args) = argv.split_first()?;
    let assigns = match program.as_str() {
        "printf" | "test" | "[" | "[[" | "wait" => args.iter().any(|a| a == "-v"),
        "read" | "mapfile" | "readarray" | "declare" | "typeset" | "local" | "export"
        | "readonly" | "let" | "getopts" | "unset" => true,
        _ => false,
    };
    assigns.then(|| format!("{program} sets or evaluates a shell variable the script builds"))
}

/// Shell options that cannot change what a `-c` script runs.
/// Not `-x` (xtrace): bash expands `PS4` — which the script itself may have
/// set, `printf -v PS4 '\x24(…)'` — before every command it traces.
const HARMLESS_SHELL_FLAGS: &str = "eEuvlinfrhBHPTmbapCt";
const HARMLESS_SHELL_LONG: &[&str] = &[
    "--norc",
    "--noprofile",
    "--login",
    "--posix",
    "--noediting",
    "--restricted",
    "--verbose",
];
const HARMLESS_SET_O: &[&str] = &[
    "allexport",
    "braceexpand",
    "emacs",
    "errexit",
    "errtrace",
    "functrace",
    "hashall",
    "histexpand",
    "history",
    "ignoreeof",
    "interactive-comments",
    "monitor",
    "noclobber",
    "noexec",
    "noglob",
    "nolog",
    "notify",
    "nounset",
    "onecmd",
    "physical",
    "pipefail",
    "posix",
    "privileged",
    "verbose",
    "vi",
];

/// `bash [options] -c SCRIPT [NAME [ARGS…]]`, options in any clusters.
fn shell_step(argv: &[String]) -> Step {
    let name = basename(&argv[0]);
    let mut concerns = Vec::new();
    let mut command_string = false;
    let mut i = 1;
    while let Some(token) = argv.get(i) {
        if token == "--" || token == "-" {
            i += 1;
            break;
        }
        if token.starts_with("--") {
            if token == "--rcfile" || token == "--init-file" {
                concerns.push(format!("{name} {token} reads another start-up file"));
                i += 2;
            } else {
                if !HARMLESS_SHELL_LONG.contains(&token.as_str()) {
                    concerns.push(format!(
                        "{name} option {token:?} is not known to be harmless"
                    ));
                }
                i += 1;
            }
            continue;
        }
        let Some(letters) = token.strip_prefix('-').or_else(|| token.strip_prefix('+')) else {
            break;
        };
        if letters.is_empty() {
            break;
        }
        let setting = token.starts_with('-');
        let mut consumed = 1;
        for letter in letters.chars() {
            match letter {
                'c' if setting => command_string = true,
                'o' | 'O' => {
                    let option = argv.get(i + consumed).map_or("", String::as_str);
                    consumed += 1;
                    if letter == 'O' || !HARMLESS_SET_O.contains(&option) {
                        concerns.push(format!(
                            "{name} -{letter} {option} is not known to be harmless"
                        ));
                    }
                }
                l if HARMLESS_SHELL_FLAGS.contains(l) => {}
                other => concerns.push(format!(
                    "{name} option -{other} is not known to be harmless (it may change how the script runs)"
                )),
            }
        }
        i += consumed;
    }
    if !command_string {
        // A script file or standard input: decided as the shell itself.
        return Step::Run;
    }
    match argv.get(i) {
        // Further arguments only set $0, $1…, which a plain script never reads.
        Some(script) => Step::Script {
            script: script.clone(),
            concerns,
        },
        None => Step::Run,
    }
}

/// Parses a script and unwraps every command in it.
fn script_commands(script: &str, depth: usize, out: &mut Normalized) {
    let shown = || vec![script.to_owned()];
    if script.len() > MAX_SCRIPT_BYTES {
        concern(
            out,
            &shown(),
            format!("a script longer than {MAX_SCRIPT_BYTES} bytes"),
        );
        return;
    }
    let openers = count_openers(script);
    if openers > MAX_SHELL_OPENERS {
        concern(
            out,
            &shown(),
            format!(
                "a script with {openers} nesting constructs (brackets, braces, `!`, if/for/while/case…), more than the {MAX_SHELL_OPENERS} analysed"
            ),
        );
        return;
    }
    let mut parser = brush_parser::Parser::new(
        std::io::BufReader::new(script.as_bytes()),
        &brush_parser::ParserOptions::default(),
    );
    let program = match parser.parse_program() {
        Ok(program) => program,
        Err(e) => {
            concern(out, &shown(), format!("the shell cannot parse it: {e}"));
            return;
        }
    };
    let mut walk = Walk::default();
    for complete in &program.complete_commands {
        walk.list(complete);
    }
    drop(program);
    if walk.commands.is_empty() && walk.concerns.is_empty() && walk.forbidden.is_empty() {
        walk.concerns.push("an empty script".into());
    }
    for why in walk.forbidden {
        out.concerns.push(Concern {
            script: join(&shown()),
            reason: why,
            decision: Decision::Forbidden,
        });
    }
    for why in walk.concerns {
        concern(out, &shown(), why);
    }
    // What each command of the script came to once unwrapped: the commands
    // and wrappers it added to `out`.
    let mut produced = Vec::with_capacity(walk.commands.len());
    for command in &walk.commands {
        let (commands, wrappers) = (out.commands.len(), out.wrappers.len());
        unwrap(command, depth + 1, out);
        produced.push((commands..out.commands.len(), wrappers..out.wrappers.len()));
    }
    let mut substituted = Vec::with_capacity(walk.scripts.len());
    for inner in walk.scripts {
        let start = out.commands.len();
        if depth + 1 > MAX_UNWRAP_DEPTH {
            concern(out, &[inner], "command substitutions nested too deep");
        } else {
            script_commands(&inner, depth + 1, out);
        }
        substituted.push(start..out.commands.len());
    }
    // A download fed to something that runs code: whatever the server sends
    // runs, even when every command alone is allowed.
    let commands_of = |indices: Range<usize>| {
        indices
            .flat_map(|k| produced.get(k).map_or(0..0, |p| p.0.clone()))
            .collect::<Vec<_>>()
    };
    let downloads = |commands: &[usize]| commands.iter().any(|j| is_download(&out.commands[*j]));
    let mut found = Vec::new();
    for stages in &walk.pipelines {
        let stages: Vec<Vec<usize>> = stages.iter().map(|s| commands_of(s.clone())).collect();
        if let Some(first) = stages.iter().position(|s| downloads(s))
            && stages[first + 1..]
                .iter()
                .flatten()
                .any(|j| reads_program_from_stdin(&out.commands[*j]))
        {
            found.push(
                "a network download piped into a shell or interpreter: what runs is whatever the server sends",
            );
        }
    }
    for feed in &walk.feeds {
        let source = match &feed.source {
            FeedSource::Process(commands) => commands_of(commands.clone()),
            FeedSource::Command(scripts) => scripts
                .clone()
                .flat_map(|i| substituted.get(i).cloned().unwrap_or(0..0))
                .collect(),
        };
        let mut consumer = walk.commands.get(feed.consumer).into_iter().chain(
            produced
                .get(feed.consumer)
                .into_iter()
                .flat_map(|(commands, wrappers)| {
                    out.commands[commands.clone()]
                        .iter()
                        .chain(&out.wrappers[wrappers.clone()])
                }),
        );
        if downloads(&source) && consumer.any(|argv| runs_code(argv)) {
            found.push(
                "a network download given to a shell or interpreter to run (`bash <(curl …)`, `sh -c \"$(curl …)\"`): what runs is whatever the server sends",
            );
        }
    }
    found.dedup();
    for why in found {
        concern(out, &shown(), why);
    }
}

/// Programs that fetch from the network and can print what they fetch.
const DOWNLOADERS: &[&str] = &[
    "curl",
    "wget",
    "fetch",
    "http",
    "https",
    "xh",
    "GET",
    "lwp-request",
];

/// Interpreters that run a program given in an argument or read from their
/// standard input.
const INTERPRETERS: &[&str] = &[
    "python", "python2", "python3", "perl", "ruby", "node", "php", "lua",
];

fn is_download(argv: &[String]) -> bool {
    argv.first()
        .is_some_and(|program| DOWNLOADERS.contains(&basename(program)))
}

/// Whether `argv` runs code it is given: a shell, an interpreter, `eval`,
/// `source` or `.`, with any arguments.
fn runs_code(argv: &[String]) -> bool {
    argv.first().is_some_and(|program| {
        let name = basename(program);
        SHELLS.contains(&name)
            || INTERPRETERS.contains(&name)
            || matches!(name, "eval" | "source" | ".")
    })
}

/// Whether `argv` (a command already unwrapped) runs a program it reads from
/// its standard input: a shell without a script file (or with `-s`), an
/// interpreter without a program argument.
fn reads_program_from_stdin(argv: &[String]) -> bool {
    let Some((program, args)) = argv.split_first() else {
        return false;
    };
    let name = basename(program);
    if SHELLS.contains(&name) {
        let mut i = 0;
        while let Some(arg) = args.get(i) {
            match arg.as_str() {
                "-o" | "+o" | "-O" | "+O" => i += 2,
                // The end of the options: a script file may follow.
                "-" | "--" => return i + 1 >= args.len(),
                a if a.starts_with('-') && !a.starts_with("--") && a.contains('s') => return true,
                a if a.starts_with(['-', '+']) => i += 1,
                // A script file: the shell runs it, not its input.
                _ => return false,
            }
        }
        true
    } else if INTERPRETERS.contains(&name) {
        args.iter().all(|a| a.starts_with('-'))
            && !args.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "-c" | "-e"
                        | "-E"
                        | "-m"
                        | "-r"
                        | "-p"
                        | "--eval"
                        | "--print"
                        | "-V"
                        | "--version"
                        | "-h"
                        | "--help"
                )
            })
    } else {
        false
    }
}

/// Block devices by their usual names under `/dev`: disks and their
/// partitions, device-mapper, loop and RAID devices.
const BLOCK_DEVICES: &[&str] = &[
    "sd", "hd", "vd", "xvd", "nvme", "mmcblk", "dm-", "loop", "md", "disk/", "mapper/",
];

fn is_block_device(path: &str) -> bool {
    path.strip_prefix("/dev/").is_some_and(|name| {
        BLOCK_DEVICES
            .iter()
            .any(|prefix| name.len() > prefix.len() && name.starts_with(prefix))
    })
}

/// Whether a function body calls `name` in a way that multiplies processes:
/// in a pipeline, in the background or in a subshell (`:(){ :|:& };:`).
fn list_forks(list: &ast::CompoundList, name: &str, forking: bool) -> bool {
    list.0
        .iter()
        .any(|ast::CompoundListItem(and_or, separator)| {
            let forking = forking || matches!(separator, ast::SeparatorOperator::Async);
            std::iter::once(&and_or.first)
                .chain(and_or.additional.iter().map(|a| match a {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
                }))
                .any(|pipeline| {
                    let forking = forking || pipeline.seq.len() > 1;
                    pipeline
                        .seq
                        .iter()
                        .any(|command| command_forks(command, name, forking))
                })
        })
}

fn command_forks(command: &Command, name: &str, forking: bool) -> bool {
    match command {
        Command::Simple(simple) => {
            forking
                && simple
                    .word_or_name
                    .as_ref()
                    .is_some_and(|word| plain_word(&word.value).is_ok_and(|w| w == name))
        }
        Command::Compound(compound, _) => compound_forks(compound, name, forking),
        Command::Function(_) | Command::ExtendedTest(..) => false,
    }
}

fn compound_forks(compound: &CompoundCommand, name: &str, forking: bool) -> bool {
    match compound {
        CompoundCommand::BraceGroup(group) => list_forks(&group.list, name, forking),
        CompoundCommand::Subshell(subshell) => list_forks(&subshell.list, name, true),
        CompoundCommand::ForClause(clause) => list_forks(&clause.body.list, name, forking),
        CompoundCommand::ArithmeticForClause(clause) => {
            list_forks(&clause.body.list, name, forking)
        }
        CompoundCommand::CaseClause(case) => case
            .cases
            .iter()
            .filter_map(|item| item.cmd.as_ref())
            .any(|list| list_forks(list, name, forking)),
        CompoundCommand::IfClause(clause) => {
            list_forks(&clause.condition, name, forking)
                || list_forks(&clause.then, name, forking)
                || clause.elses.iter().flatten().any(|e| {
                    e.condition
                        .as_ref()
                        .is_some_and(|c| list_forks(c, name, forking))
                        || list_forks(&e.body, name, forking)
                })
        }
        CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
            list_forks(&clause.0, name, forking) || list_forks(&clause.1.list, name, forking)
        }
        CompoundCommand::Coprocess(coprocess) => command_forks(&coprocess.body, name, true),
        CompoundCommand::Arithmetic(_) => false,
    }
}

/// An upper bound of the nesting depth of a shell script, counted without
/// trusting any quoting (an opener inside quotes still counts).
fn count_openers(script: &str) -> usize {
    let mut count = 0;
    let mut word = String::new();
    let keywords = [
        "if", "elif", "while", "until", "for", "case", "select", "function", "coproc",
    ];
    for c in script.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_alphanumeric() || c == '_' {
            word.push(c);
            continue;
        }
        if keywords.contains(&word.as_str()) {
            count += 1;
        }
        word.clear();
        if matches!(c, '(' | '{' | '[' | '!' | '`') {
            count += 1;
        }
    }
    count
}

/// Commands found in a script, and what makes it opaque.
#[derive(Default)]
struct Walk {
    commands: Vec<Vec<String>>,
    concerns: Vec<String>,
    /// What must not run whatever the rules say: a fork bomb, a write onto
    /// a block device.
    forbidden: Vec<String>,
    /// Scripts of command substitutions (`$(…)`, backquotes).
    scripts: Vec<String>,
    /// Pipelines of several stages: the `commands` of each stage.
    pipelines: Vec<Vec<Range<usize>>>,
    /// Substitutions given to a command as arguments.
    feeds: Vec<Feed>,
}

/// A substitution given to a command (`bash <(curl …)`, `sh -c "$(curl …)"`).
struct Feed {
    source: FeedSource,
    /// The command given it (an index in `Walk::commands`).
    consumer: usize,
}

enum FeedSource {
    /// A process substitution: these `Walk::commands`.
    Process(Range<usize>),
    /// Command substitutions: these `Walk::scripts`.
    Command(Range<usize>),
}

impl Walk {
    fn list(&mut self, list: &ast::CompoundList) {
        for ast::CompoundListItem(and_or, separator) in &list.0 {
            if matches!(separator, ast::SeparatorOperator::Async) {
                self.concerns.push("a background job (`&`)".into());
            }
            let pipelines =
                std::iter::once(&and_or.first).chain(and_or.additional.iter().map(|a| match a {
                    ast::AndOr::And(p) | ast::AndOr::Or(p) => p,
                }));
            for pipeline in pipelines {
                // `time` and `!` run the pipeline as it is.
                let mut stages = Vec::with_capacity(pipeline.seq.len());
                for command in &pipeline.seq {
                    let start = self.commands.len();
                    self.command(command);
                    stages.push(start..self.commands.len());
                }
                if stages.len() > 1 {
                    self.pipelines.push(stages);
                }
            }
        }
    }

    fn command(&mut self, command: &Command) {
        match command {
            Command::Simple(simple) => self.simple(simple),
            Command::Compound(compound, redirects) => {
                self.concerns.push(
                    "a compound command (subshell, group, if, for, while, case): its commands are decided, but not how they combine"
                        .into(),
                );
                for redirect in redirects.iter().flat_map(|r| &r.0) {
                    self.redirect(redirect);
                }
                self.compound(compound);
            }
            Command::Function(function) => {
                let name = &function.fname.value;
                self.concerns.push(format!(
                    "a function definition ({name}): a later command of that name runs the function"
                ));
                if compound_forks(&function.body.0, name, false) {
                    self.forbidden.push(format!(
                        "the function {name} calls itself in a pipeline, in the background or in a subshell: each call starts more copies until the system runs out of processes (a fork bomb)"
                    ));
                }
                self.compound(&function.body.0);
            }
            Command::ExtendedTest(..) => self.concerns.push("a `[[ ]]` test".into()),
        }
    }

    fn compound(&mut self, compound: &CompoundCommand) {
        match compound {
            CompoundCommand::BraceGroup(group) => self.list(&group.list),
            CompoundCommand::Subshell(subshell) => self.list(&subshell.list),
            CompoundCommand::ForClause(for_clause) => self.list(&for_clause.body.list),
            CompoundCommand::ArithmeticForClause(for_clause) => self.list(&for_clause.body.list),
            CompoundCommand::CaseClause(case) => {
                for item in &case.cases {
                    if let Some(list) = &item.cmd {
                        self.list(list);
                    }
                }
            }
            CompoundCommand::IfClause(if_clause) => {
                self.list(&if_clause.condition);
                self.list(&if_clause.then);
                for clause in if_clause.elses.iter().flatten() {
                    if let Some(condition) = &clause.condition {
                        self.list(condition);
                    }
                    self.list(&clause.body);
                }
            }
            CompoundCommand::WhileClause(clause) | CompoundCommand::UntilClause(clause) => {
                self.list(&clause.0);
                self.list(&clause.1.list);
            }
            CompoundCommand::Coprocess(coprocess) => self.command(&coprocess.body),
            CompoundCommand::Arithmetic(_) => {}
        }
    }

    /// A word's value, or its raw text with a concern (and the scripts of
    /// its command substitutions, decided too).
    fn word(&mut self, raw: &str) -> String {
        match plain_word(raw) {
            Ok(value) => {
                // Quoted text a builtin may evaluate again: bash runs `$(…)` in
                // an array subscript given to `printf -v`, `read`, `test -v`,
                // `declare`, `let`… (`printf -v 'a[$(rm x)]' y`).
                if ["$(", "`", "${", "$[", "$(("]
                    .iter()
                    .any(|syntax| value.contains(syntax))
                {
                    self.concerns.push(format!(
                        "the word {raw:?} holds shell syntax a builtin may evaluate again"
                    ));
                }
                value
            }
            Err(why) => {
                self.concerns.push(why);
                if raw.contains("$(") || raw.contains('`') {
                    match brush_parser::word::parse(raw, &brush_parser::ParserOptions::default()) {
                        Ok(pieces) => self.substitutions(&pieces),
                        Err(_) => self
                            .concerns
                            .push(format!("the shell cannot parse the word {raw:?}")),
                    }
                }
                raw.to_owned()
            }
        }
    }

    fn substitutions(&mut self, pieces: &[brush_parser::word::WordPieceWithSource]) {
        use brush_parser::word::WordPiece;
        for piece in pieces {
            match &piece.piece {
                WordPiece::CommandSubstitution(script)
                | WordPiece::BackquotedCommandSubstitution(script) => {
                    self.scripts.push(script.clone());
                }
                WordPiece::DoubleQuotedSequence(inner)
                | WordPiece::GettextDoubleQuotedSequence(inner) => self.substitutions(inner),
                _ => {}
            }
        }
    }

    fn simple(&mut self, simple: &ast::SimpleCommand) {
        let mut argv = Vec::new();
        let scripts = self.scripts.len();
        let mut processes = Vec::new();
        for item in simple.prefix.iter().flat_map(|p| &p.0) {
            match item {
                CommandPrefixOrSuffixItem::AssignmentWord(_, word) => {
                    // `A=1 cmd` sets the environment of `cmd`: the same check
                    // as on the command line applies.
                    let token = self.word(&word.value);
                    argv.push(token);
                }
                CommandPrefixOrSuffixItem::IoRedirect(redirect) => self.redirect(redirect),
                CommandPrefixOrSuffixItem::Word(_) => {
                    self.concerns
                        .push("an unexpected word before the command".into());
                }
                CommandPrefixOrSuffixItem::ProcessSubstitution(_, subshell) => {
                    self.concerns.push("a process substitution".into());
                    let start = self.commands.len();
                    self.list(&subshell.list);
                    processes.push(start..self.commands.len());
                }
            }
        }
        let Some(name) = simple.word_or_name.as_ref() else {
            self.concerns
                .push("a command without a name (only assignments)".into());
            return;
        };
        let program = self.word(&name.value);
        if program.contains('=') {
            self.concerns.push(format!(
                "a command named {program:?} (quoted, so not an assignment)"
            ));
        }
        argv.push(program);
        for item in simple.suffix.iter().flat_map(|s| &s.0) {
            match item {
                CommandPrefixOrSuffixItem::Word(word)
                | CommandPrefixOrSuffixItem::AssignmentWord(_, word) => {
                    let token = self.word(&word.value);
                    argv.push(token);
                }
                CommandPrefixOrSuffixItem::IoRedirect(redirect) => self.redirect(redirect),
                CommandPrefixOrSuffixItem::ProcessSubstitution(_, subshell) => {
                    self.concerns.push("a process substitution".into());
                    let start = self.commands.len();
                    self.list(&subshell.list);
                    processes.push(start..self.commands.len());
                }
            }
        }
        if let Some(why) = sets_shell_variable(&argv) {
            self.concerns.push(why);
        }
        self.commands.push(argv);
        let consumer = self.commands.len() - 1;
        self.feeds
            .extend(processes.into_iter().map(|commands| Feed {
                source: FeedSource::Process(commands),
                consumer,
            }));
        if self.scripts.len() > scripts {
            self.feeds.push(Feed {
                source: FeedSource::Command(scripts..self.scripts.len()),
                consumer,
            });
        }
    }

    /// `2>&1` and redirections to `/dev/null` change no file; anything else
    /// might, and writing onto a block device is forbidden.
    fn redirect(&mut self, redirect: &IoRedirect) {
        use ast::{IoFileRedirectKind as K, IoFileRedirectTarget as T};
        let written = match redirect {
            IoRedirect::File(
                _,
                K::Write | K::Append | K::Clobber | K::ReadAndWrite,
                T::Filename(word),
            )
            | IoRedirect::OutputAndError(word, _) => Some(&word.value),
            _ => None,
        };
        if let Some(raw) = written {
            let path = plain_word(raw).unwrap_or_else(|_| raw.clone());
            if is_block_device(&path) {
                self.forbidden.push(format!(
                    "a redirection writes onto the block device {path}: it overwrites the disk (or partition) under every file system on it"
                ));
            }
        }
        let ok = match redirect {
            IoRedirect::File(_, kind, target) => {
                match (kind, target) {
                    (K::DuplicateOutput | K::DuplicateInput, T::Fd(_)) => true,
                    // `2>&1`, `>&-`: a descriptor number or a close, never a file.
                    (K::DuplicateOutput | K::DuplicateInput, T::Duplicate(word)) => {
                        word.value == "-"
                            || (!word.value.is_empty()
                                && word.value.bytes().all(|b| b.is_ascii_digit()))
                    }
                    (_, T::Filename(word)) => word.value == "/dev/null",
                    _ => false,
                }
            }
            IoRedirect::HereDocument(..) | IoRedirect::HereString(..) => {
                self.concerns.push("a heredoc or here-string".into());
                return;
            }
            IoRedirect::OutputAndError(word, _) => word.value == "/dev/null",
        };
        if !ok {
            self.concerns.push("a redirection to a file".into());
        }
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
