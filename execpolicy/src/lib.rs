//! Decides, before a command runs, whether its command line is allowed, needs
//! approval or is forbidden.
//!
//! Rules are Starlark files in Codex's dialect — `prefix_rule`,
//! `host_executable`, `network_rule` — plus program definitions
//! (`define_program`) whose typed arguments classify a command as Safe, Match,
//! Forbidden or Unverified. Shell wrappers (`bash -lc '...'`, any flag
//! cluster) are parsed with a real shell parser and split; `env`, `timeout`,
//! `sudo` and other wrappers are unwrapped; every command found is decided and
//! the strictest decision wins. Whatever could change what runs without being
//! understood (an unknown variable such as `LD_PRELOAD`, an unlisted program
//! path, a non-UTF-8 argument, nesting too deep) makes the command at best
//! `prompt`. Rules files the sandbox could have written can be loaded
//! tightening-only ([`PolicyLoader::tightening_only`]).
//! Rules files are evaluated in a hardened interpreter: no `load()`, no file or
//! network access, bounded steps and memory (a file of literal rules only is
//! read without it, to the same policy). A file that is refused is a
//! [`LoadError`]: where (`file:line:column`) and a typed [`LoadErrorKind`].
//! The embedded default policy ([`PolicyLoader::with_default_policy`]) is
//! prepared when the crate is built, and forbids the well-known catastrophic
//! commands (`rm -rf /`, `mkfs`, `dd of=/dev/sda`, fork bombs, …).
//!
//! ```
//! use codex_execpolicy::{Decision, InvalidRuleValue, LoadErrorKind, PolicyLoader};
//!
//! let mut loader = PolicyLoader::new();
//! loader.load_str("rules.star", r#"
//! prefix_rule(pattern = ["git", ["status", "log"]], decision = "allow",
//!             match = ["git status", ["git", "log", "-3"]], not_match = ["git push"])
//! prefix_rule(pattern = ["curl"], decision = "forbidden", justification = "no network tools")
//! "#)?;
//! let policy = loader.finish();
//! let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
//! let check = |s: &str| policy.check(&argv(s)).decision.map(|v| v.decision());
//! assert_eq!(check("git status"), Some(Decision::Allow));
//! assert_eq!(check("bash -lc git&&curl"), Some(Decision::Forbidden));
//!
//! let err = PolicyLoader::new()
//!     .load_str("team.rules", r#"prefix_rule(pattern = ["rm"], decision = "deny")"#)
//!     .unwrap_err();
//! assert!(matches!(err.kind, LoadErrorKind::InvalidValue(InvalidRuleValue::Decision(_))));
//! assert_eq!(
//!     err.to_string(),
//!     r#"team.rules:1:1: decision must be "allow", "prompt" or "forbidden" (got "deny")"#
//! );
//! # Ok::<(), codex_execpolicy::LoadError>(())
//! ```

mod commands;
mod decision;
mod default_policy;
mod error;
mod literal;
mod loader;
mod names;
mod normalize;
mod paths;
mod policy;
mod program;
mod rules;

pub use commands::{Command, Commands};
pub use decision::{Decision, ParseDecisionError, ProgramOutcome};
pub use error::{
    ExampleList, InterpreterError, InvalidRuleValue, LoadError, LoadErrorKind, LooseningRule,
    UnboundedConstruct,
};
pub use loader::{MAX_RULES_BYTES, MAX_RULES_NESTING, PolicyLoader};
pub use normalize::MAX_SHELL_OPENERS;
pub use paths::verify_paths;
pub use policy::{Evaluation, Policy, Verdict};
pub use program::{ArgType, MatchedArg};
pub use rules::{NetworkProtocol, NetworkRule, RuleMatch};
