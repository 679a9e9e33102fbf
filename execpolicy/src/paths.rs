//! Path verification: a `Match` is only as good as the files it writes. Every
//! writable-file argument must resolve (symlinks and `..` included) inside a
//! writable root of the sandbox policy and outside its protected subpaths;
//! otherwise the outcome is escalated, with the reason.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use codex_policy_model::SandboxPolicy;

use crate::program::ArgType;
use crate::rules::RuleMatch;
use crate::{Evaluation, ProgramOutcome};

/// Checks the writable-file arguments of every program match in `evaluation`
/// against `policy` for a command running in `cwd` (with `$TMPDIR` = `tmpdir`).
///
/// # Examples
///
/// The default policy lets `sort -o` write its output, once the path is
/// verified:
///
/// ```
/// use codex_execpolicy::{PolicyLoader, ProgramOutcome, Verdict, verify_paths};
/// use codex_policy_model::SandboxPolicy;
///
/// let policy = PolicyLoader::with_default_policy()?.finish();
/// let workspace = tempfile::tempdir()?;
/// let outcome = |command: &str, sandbox: &SandboxPolicy| {
///     let argv: Vec<String> = command.split(' ').map(String::from).collect();
///     let mut evaluation = policy.check(&argv);
///     verify_paths(&mut evaluation, sandbox, workspace.path(), None);
///     evaluation.decision
/// };
/// let program = |outcome| Some(Verdict::Program(outcome));
/// let workspace_write = SandboxPolicy::workspace_write(false);
/// assert_eq!(outcome("sort -o sorted.txt data.txt", &workspace_write), program(ProgramOutcome::Match));
/// assert_eq!(outcome("sort -o /etc/passwd data.txt", &workspace_write), program(ProgramOutcome::Unverified));
/// // A sandbox that allows no writes forbids the command.
/// assert_eq!(outcome("sort -o sorted.txt data.txt", &SandboxPolicy::read_only()), program(ProgramOutcome::Forbidden));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_paths(
    evaluation: &mut Evaluation,
    policy: &SandboxPolicy,
    cwd: &Path,
    tmpdir: Option<&OsStr>,
) {
    if policy.has_full_disk_write_access() {
        return;
    }
    let roots = policy.writable_roots(cwd, tmpdir).unwrap_or_default();
    for matched in &mut evaluation.matched_rules {
        let RuleMatch::ProgramMatch {
            outcome,
            args,
            reason,
            ..
        } = matched
        else {
            continue;
        };
        if *outcome != ProgramOutcome::Match {
            continue;
        }
        for arg in args.iter().filter(|a| a.arg_type == ArgType::WritableFile) {
            let target = resolve(cwd, &arg.value);
            let allowed = target.as_deref().is_some_and(|t| roots.allows_write_to(t));
            if allowed {
                continue;
            }
            let shown = target
                .as_deref()
                .map_or_else(|| arg.value.clone(), |t| t.display().to_string());
            if policy.allows_any_write() {
                *outcome = ProgramOutcome::Unverified;
                *reason = Some(format!(
                    "writes {shown}, outside the writable roots or into a protected path"
                ));
            } else {
                *outcome = ProgramOutcome::Forbidden;
                *reason = Some(format!(
                    "writes {shown}, but the sandbox policy allows no writes"
                ));
            }
            break;
        }
    }
    evaluation.decision = crate::policy::verdict(&evaluation.matched_rules);
}

/// Where writing `value` (relative to `cwd`) really lands: the parent directory
/// canonicalized, and the file itself followed if it is a symlink. `None` when
/// the parent does not exist (the write would fail anyway; not verified).
fn resolve(cwd: &Path, value: &str) -> Option<PathBuf> {
    let path = cwd.join(value);
    if let Ok(real) = std::fs::canonicalize(&path) {
        return Some(real);
    }
    let name = path.file_name()?;
    if name == ".." || name == "." {
        return None;
    }
    Some(std::fs::canonicalize(path.parent()?).ok()?.join(name))
}
