//! Composing the effective policy for `run`, `launch` and `explain`.

use std::path::PathBuf;

use codex_policy::model::CommandWritable;
use codex_policy::model::effective::{self, EffectivePolicy};
use codex_policy::model::tightening::{RunContext, loosening_findings};
use codex_policy::model::validate::{Finding, Severity, Validation, validate};
use codex_policy::{ProfileSource, ResolvedProfile, SandboxPolicy, SecurityProfile};
use serde::Serialize;

use crate::{Cli, Failure, PolicyInputs, exit, to_json};

/// Everything `run`/`launch`/`explain` need.
pub(crate) struct Composed {
    pub(crate) resolved: ResolvedProfile,
    pub(crate) files: Validation,
    pub(crate) effective: EffectivePolicy,
}

/// Validates the files (an error stops everything, with `error_status`) and
/// composes them with the profile and the flags.
pub(crate) fn compose(
    cli: &Cli,
    resolved: &ResolvedProfile,
    inputs: &PolicyInputs,
    error_status: u8,
) -> Result<Composed, Failure> {
    // Project files belong to the directory the command runs in.
    let project_dir = inputs.cwd.clone().unwrap_or_else(|| PathBuf::from("."));
    let mut discovered =
        crate::config_files::discover(&inputs.files, cli.config.as_deref(), &project_dir)
            .map_err(|e| Failure::new(error_status, e))?;
    // config.toml was already read by profile resolution; validate it too.
    discovered.config = discovered.config.or_else(|| resolved.config_file.clone());
    let files = if [
        &discovered.runtime,
        &discovered.policy,
        &discovered.config,
        &discovered.requirements,
    ]
    .iter()
    .all(|f| f.is_none())
    {
        Validation::default()
    } else {
        validate(&discovered)
    };
    let errors: Vec<String> = files
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(ToString::to_string)
        .collect();
    if !errors.is_empty() {
        return Err(Failure::new(
            error_status,
            format!(
                "the configuration has errors; nothing was started\n{}\n(run `codex-policy validate` for every finding)",
                errors.join("\n")
            ),
        ));
    }
    let policy = with_extra_roots(
        &resolved.sandbox_policy,
        &inputs.writable_roots,
        resolved.profile,
    )?;
    refuse_loosening(resolved, inputs, &policy, &files)?;
    let source = format!("profile {} ({})", resolved.profile, resolved.source);
    let effective = effective::compose(&policy, &source, resolved.profile.as_str(), &files);
    Ok(Composed {
        resolved: resolved.clone(),
        files,
        effective,
    })
}

/// A policy file the command could have written (inside a writable root of
/// this run, for its cwd and `$TMPDIR`) may only tighten: anything in it that
/// would loosen the policy stops `run`, `launch` and `explain` with 125.
fn refuse_loosening(
    resolved: &ResolvedProfile,
    inputs: &PolicyInputs,
    policy: &SandboxPolicy,
    files: &Validation,
) -> Result<(), Failure> {
    let findings = loosening(resolved, inputs.cwd.as_deref(), policy, files)?;
    if findings.is_empty() {
        return Ok(());
    }
    Err(Failure::new(
        exit::CANNOT_START,
        format!(
            "a policy file the sandboxed command could have written would loosen the policy; \
             nothing was started\n{}",
            findings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    ))
}

/// The loosening findings of `files` for a run of `policy` in `cwd` (default:
/// the current directory) with this process's `$TMPDIR`.
pub(crate) fn loosening(
    resolved: &ResolvedProfile,
    cwd: Option<&std::path::Path>,
    policy: &SandboxPolicy,
    files: &Validation,
) -> Result<Vec<Finding>, Failure> {
    let cwd = match cwd {
        Some(dir) => dir.to_path_buf(),
        None => std::env::current_dir()
            .map_err(|e| Failure::new(exit::CANNOT_START, format!("current directory: {e}")))?,
    };
    let tmpdir = std::env::var_os("TMPDIR");
    let writable = CommandWritable::for_policy(policy, &cwd, tmpdir.as_deref())
        .map_err(|e| Failure::new(exit::CANNOT_START, e))?;
    Ok(loosening_findings(
        files,
        &RunContext {
            profile_policy: policy,
            profile_name: resolved.profile.as_str(),
            profile_from_config: matches!(resolved.source, ProfileSource::ConfigFile { .. }),
            writable: &writable,
        },
    ))
}

/// `--writable-root` adds roots to a workspace policy; on a read-only one it would
/// grant writes the profile forbids, so it is refused.
fn with_extra_roots(
    policy: &SandboxPolicy,
    extra: &[PathBuf],
    profile: SecurityProfile,
) -> Result<SandboxPolicy, Failure> {
    if extra.is_empty() {
        return Ok(policy.clone());
    }
    match policy {
        SandboxPolicy::WorkspaceWrite {
            writable_roots,
            network_access,
            exclude_tmpdir_env_var,
            exclude_slash_tmp,
        } => Ok(SandboxPolicy::WorkspaceWrite {
            writable_roots: writable_roots.iter().chain(extra).cloned().collect(),
            network_access: *network_access,
            exclude_tmpdir_env_var: *exclude_tmpdir_env_var,
            exclude_slash_tmp: *exclude_slash_tmp,
        }),
        SandboxPolicy::DangerFullAccess => Ok(policy.clone()),
        _ => Err(Failure::new(
            exit::USAGE,
            format!(
                "--writable-root needs a profile that writes (workspace, workspace-net); \
                 profile {profile} is read-only"
            ),
        )),
    }
}

#[derive(Serialize)]
struct Explanation<'a> {
    profile: &'a ResolvedProfile,
    effective: &'a EffectivePolicy,
    warnings: Vec<String>,
}

/// `explain` output.
pub(crate) fn render(composed: &Composed, json: bool) -> Result<String, Failure> {
    let warnings: Vec<String> = composed
        .files
        .findings
        .iter()
        .map(ToString::to_string)
        .collect();
    let e = &composed.effective;
    if json {
        return to_json(&Explanation {
            profile: &composed.resolved,
            effective: e,
            warnings,
        });
    }
    let policy = serde_json::to_string(&e.sandbox_policy.value).map_err(Failure::internal)?;
    let mut out = vec![
        format!(
            "profile            {} ({})",
            composed.resolved.profile, composed.resolved.source
        ),
        format!("sandbox policy     {policy}"),
        format!(
            "network            {}  <- {}",
            e.network.value, e.network.decided_by
        ),
        format!(
            "network enforced   {}",
            if e.network_enforced_open {
                "open (host network)"
            } else {
                "off"
            }
        ),
        format!(
            "deny_on_violation  {}  <- {}",
            e.deny_on_violation.value, e.deny_on_violation.decided_by
        ),
        format!(
            "managed-only       {}  <- {}",
            e.managed_allowed_domains_only.value, e.managed_allowed_domains_only.decided_by
        ),
    ];
    if let Some(env) = &e.environment {
        out.push(format!(
            "environment        {}  <- {}",
            env.value, env.decided_by
        ));
    }
    if !e.domains.is_empty() {
        out.push("domains:".into());
        for d in &e.domains {
            out.push(format!(
                "  {:<12} {:<32} <- {}  ({})",
                d.decision, d.pattern, d.decided_by, d.reason
            ));
        }
    }
    for note in &e.notes {
        out.push(format!("note: {note}"));
    }
    for warning in warnings {
        out.push(format!("warning: {warning}"));
    }
    Ok(out.join("\n"))
}
