//! `run`, `debug landlock` and `doctor`.

use std::path::PathBuf;
use std::process::Command;

#[cfg(target_os = "linux")]
use codex_policy::ProtectionStatus;
use codex_policy::{ResolvedProfile, SandboxPolicy, SecurityProfile};

use crate::{Failure, RunArgs, exit, print_out, to_json};

/// Runs the command under the profile's policy; returns its exit status.
#[cfg(target_os = "linux")]
pub(crate) fn run(resolved: &ResolvedProfile, args: &RunArgs, debug: bool) -> Result<u8, Failure> {
    use codex_policy::LinuxSandbox;

    let cwd = match &args.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| Failure::new(exit::CANNOT_START, format!("current directory: {e}")))?,
    };
    let policy = with_extra_roots(
        &resolved.sandbox_policy,
        &args.writable_roots,
        resolved.profile,
    )?;
    let sandbox = if args.best_effort {
        LinuxSandbox::best_effort()
    } else {
        LinuxSandbox::new()
    };
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::new(exit::USAGE, "no command given after --"))?;
    let mut command = Command::new(program);
    command.args(rest);
    // codex-policy is single-threaded here, so it can set the sandbox up in
    // place and stay as its reaper: one process fewer than a spawn.
    let err = sandbox.exec(&policy, &cwd, &mut command, |report| {
        if debug {
            eprintln!(
                "codex-policy: profile {} ({})",
                resolved.profile, resolved.source
            );
            eprint!("{report}");
            for rule in &report.rules {
                eprintln!("  rule: {rule}");
            }
        }
        if !report.is_complete() {
            eprintln!("codex-policy: warning: --best-effort: running WITHOUT these protections:");
            for missing in report.missing() {
                eprintln!("  - {}", missing.protection);
                if let ProtectionStatus::NotEnforced { reason } = &missing.status {
                    eprintln!("    because: {reason}");
                }
            }
        }
    });
    Err(Failure::new(err.exit_status(), err))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn run(_: &ResolvedProfile, _: &RunArgs, _: bool) -> Result<u8, Failure> {
    Err(Failure::new(
        exit::CANNOT_START,
        "no sandbox backend for this operating system yet",
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

/// Prints what this host can enforce; exit 0 if every profile is fully enforceable.
#[cfg(target_os = "linux")]
pub(crate) fn doctor(json: bool) -> Result<u8, Failure> {
    use codex_policy::{Compatibility, EnforcementReport, HostCapabilities, LinuxSandbox};
    use serde::Serialize;

    #[derive(Serialize)]
    struct ProfileVerdict {
        profile: SecurityProfile,
        fully_enforceable: bool,
        protections: EnforcementReport,
    }
    #[derive(Serialize)]
    struct Doctor {
        host: HostCapabilities,
        profiles: Vec<ProfileVerdict>,
    }

    let host = HostCapabilities::probe(true);
    let sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, host.clone());
    let cwd = std::env::current_dir()
        .map_err(|e| Failure::new(exit::CANNOT_START, format!("current directory: {e}")))?;
    let mut profiles = Vec::new();
    for profile in SecurityProfile::ALL {
        let plan = sandbox
            .plan(
                &profile.to_sandbox_policy(),
                &cwd,
                std::env::var_os("TMPDIR").as_deref(),
            )
            .map_err(|e| Failure::new(exit::CANNOT_START, e))?;
        profiles.push(ProfileVerdict {
            profile,
            fully_enforceable: plan.report.is_complete(),
            protections: plan.report,
        });
    }
    let all_ok = profiles.iter().all(|p| p.fully_enforceable);
    let report = Doctor { host, profiles };
    if json {
        print_out(&to_json(&report)?)?;
    } else {
        let host = &report.host;
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        let mut text = format!(
            "kernel:            {}\nlandlock:          {}\nseccomp:           {}\nuser namespaces:   {}\n",
            host.kernel,
            host.landlock_abi.map_or_else(
                || format!(
                    "unavailable ({})",
                    host.landlock_error.as_deref().unwrap_or("?")
                ),
                |abi| format!("ABI {abi}")
            ),
            yes_no(host.seccomp),
            match (host.namespaces, &host.namespaces_error) {
                (Some(true), _) => "yes (user, mount, network, pid)".to_owned(),
                (_, Some(err)) => format!("no ({err})"),
                _ => "unknown".to_owned(),
            },
        );
        for verdict in &report.profiles {
            text.push_str(&format!(
                "\nprofile {}: {}\n{}",
                verdict.profile,
                if verdict.fully_enforceable {
                    "fully enforceable"
                } else {
                    "NOT fully enforceable (run refuses it without --best-effort)"
                },
                verdict.protections
            ));
        }
        print_out(text.trim_end())?;
    }
    Ok(if all_ok { 0 } else { 1 })
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn doctor(_: bool) -> Result<u8, Failure> {
    Err(Failure::new(
        exit::CANNOT_START,
        "no sandbox backend for this operating system yet",
    ))
}
