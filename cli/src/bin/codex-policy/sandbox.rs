//! `run`, `debug landlock` and `doctor`.

use std::process::Command;

#[cfg(target_os = "linux")]
use crate::audit::{AuditTrail, TrailOptions, audit_target};
#[cfg(target_os = "linux")]
use codex_policy::ProtectionStatus;
#[cfg(target_os = "linux")]
use codex_policy::audit::{AuditDecision, Operation};
use codex_policy::{ResolvedProfile, SecurityProfile};

use crate::{Cli, Failure, RunArgs, exit, print_out, to_json};

/// Which command is running the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `run`.
    Run,
    /// `launch`: `run` plus the launcher's environment.
    Launch,
    /// `debug landlock`: `run` plus the report of rules.
    Debug,
}

/// Runs the command under the effective policy; returns only on failure, since
/// codex-policy becomes the sandbox's reaper (or the command itself).
#[cfg(target_os = "linux")]
pub(crate) fn run(
    cli: &Cli,
    resolved: &ResolvedProfile,
    args: &RunArgs,
    mode: Mode,
) -> Result<u8, Failure> {
    use codex_policy::LinuxSandbox;

    let composed = crate::effective::compose(cli, resolved, &args.inputs, exit::CANNOT_START)?;
    let cwd = match &args.inputs.cwd {
        Some(dir) => dir.clone(),
        None => std::env::current_dir()
            .map_err(|e| Failure::new(exit::CANNOT_START, format!("current directory: {e}")))?,
    };
    let sandbox = if args.best_effort {
        LinuxSandbox::best_effort()
    } else {
        LinuxSandbox::new()
    };
    let (program, rest) = args
        .command
        .split_first()
        .ok_or_else(|| Failure::new(exit::USAGE, "no command given after --"))?;
    let argv: Vec<String> = args
        .command
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let monitor = !composed.effective.deny_on_violation.value;
    let tmpdir = std::env::var_os("TMPDIR");
    let writable = codex_policy::model::CommandWritable::for_policy(
        &composed.effective.sandbox_policy.value,
        &cwd,
        tmpdir.as_deref(),
    )
    .map_err(|e| Failure::new(exit::CANNOT_START, e))?;
    let mut trail = AuditTrail::open(
        TrailOptions {
            explicit_path: args.audit.audit_log.as_deref(),
            session_id: args.audit.session_id.as_deref(),
            disabled: args.audit.no_audit,
            fail_closed: !monitor,
            profile: Some(resolved.profile.to_string()),
            writable: Some(&writable),
        },
        &composed.files,
    )?;
    trail.reserve_rotated_names(&writable)?;
    // The profile is loaded even when no file is: record where it came from.
    let profile = trail
        .event(
            Operation::PolicyLoad,
            format!("profile {}", resolved.profile),
            AuditDecision::Allowed,
            "config",
        )
        .with_reason(resolved.source.to_string());
    trail.record(profile)?;
    let loaded = loaded_files(&composed)
        .into_iter()
        .chain(args.rules.iter().map(|r| r.display().to_string()));
    for file in loaded {
        let event = trail.event(
            Operation::PolicyLoad,
            file,
            AuditDecision::Allowed,
            "config",
        );
        trail.record(event)?;
    }
    let rules_filter_network = crate::exec_rules::gate(
        &args.rules,
        resolved,
        &composed.effective.sandbox_policy.value,
        &cwd,
        &argv,
        monitor,
        &mut trail,
    )?;
    let mut command = Command::new(program);
    command.args(rest);
    if mode == Mode::Launch {
        launcher_environment(&composed, &mut command);
    }
    for note in &composed.effective.notes {
        eprintln!("codex-policy: note: {note}");
    }
    // A rules file's `network_rule` filters the network like any domain rule:
    // without the egress proxy, filtered means closed.
    let closed;
    let mut policy = &composed.effective.sandbox_policy.value;
    if rules_filter_network && policy.has_network_access() {
        eprintln!(
            "codex-policy: note: the rules files hold network_rule entries; domain filtering \
             needs the egress proxy, which this release does not have, so the network is OFF"
        );
        closed = policy.with_network_closed();
        policy = &closed;
    }
    // The audit log and Codex's home stay out of the command's reach even
    // inside a writable root (read-only binds; their directories pinned).
    let mut protected = trail.protected_paths();
    if let Ok(roots) = policy.writable_roots(&cwd, tmpdir.as_deref()) {
        match codex_policy::prepare_codex_home(&roots) {
            Ok(Some((home, created))) => {
                if created {
                    eprintln!(
                        "codex-policy: note: created {} (mode 0700): Codex's home lies inside a \
                         writable root, and must exist for the sandbox to keep it read-only",
                        home.display()
                    );
                }
                protected.push(home);
            }
            Ok(None) => {}
            Err(err) => return Err(Failure::new(exit::CANNOT_START, err.to_string())),
        }
    }
    let sandbox = sandbox
        .protect_paths(protected)
        .allow_unix_sockets(composed.effective.unix_sockets.iter().cloned());
    let target = audit_target(&argv);
    let started_at = std::time::Instant::now();
    // Once `sandbox_start` is recorded as allowed, every outcome ends with a
    // `sandbox_exit` (a command that could not be executed included).
    let mut start_recorded = false;
    let running = sandbox.run_command(policy, &cwd, &mut command, |report| {
        if mode == Mode::Debug {
            eprintln!(
                "codex-policy: profile {} ({})",
                resolved.profile, resolved.source
            );
            eprint!("{report}");
            for rule in &report.rules {
                eprintln!("  rule: {rule}");
            }
        }
        if mode != Mode::Debug {
            for warning in report
                .rules
                .iter()
                .filter(|r| r.starts_with("warning:") || r.starts_with("note:"))
            {
                eprintln!("codex-policy: {warning}");
            }
        }
        let missing: Vec<&str> = report.missing().map(|m| m.protection.describe()).collect();
        if !missing.is_empty() {
            eprintln!("codex-policy: warning: --best-effort: running WITHOUT these protections:");
            for entry in report.missing() {
                eprintln!("  - {}", entry.protection);
                if let ProtectionStatus::NotEnforced { reason } = &entry.status {
                    eprintln!("    because: {reason}");
                }
            }
        }
        let reason = if missing.is_empty() {
            serde_json::to_string(policy).unwrap_or_default()
        } else {
            format!("best effort, not enforced: {}", missing.join(", "))
        };
        let event = trail
            .event(
                Operation::SandboxStart,
                target.clone(),
                AuditDecision::Allowed,
                "sandbox",
            )
            .with_reason(reason);
        let recorded = trail.record(event).map_err(|failure| failure.message);
        start_recorded = recorded.is_ok();
        recorded
    });
    let running = match running {
        Ok(running) => running,
        Err(err) if start_recorded => {
            // Started, then the command could not be executed (127 not found,
            // 126 not executable) or the sandbox could not be set up (125).
            let mut event = trail
                .event(
                    Operation::SandboxExit,
                    target,
                    AuditDecision::Allowed,
                    "sandbox",
                )
                .with_reason(format!("the command did not start: {err}"));
            event.exit_status = Some(i32::from(err.exit_status()));
            event.duration_ms =
                Some(u64::try_from(started_at.elapsed().as_millis()).unwrap_or(u64::MAX));
            if let Err(failure) = trail.record(event) {
                eprintln!("codex-policy: error: {}", failure.message);
            }
            return Err(Failure::new(err.exit_status(), err));
        }
        Err(err) => {
            let event = trail
                .event(
                    Operation::SandboxStart,
                    target,
                    AuditDecision::Denied,
                    "sandbox",
                )
                .with_reason(err.to_string());
            // Best effort: the start already failed and is reported below.
            let _ = trail.record(event);
            return Err(Failure::new(err.exit_status(), err));
        }
    };
    let status = running
        .wait()
        .map_err(|e| Failure::internal(format!("waiting for the command: {e}")))?;
    let mut event = trail.event(
        Operation::SandboxExit,
        target,
        AuditDecision::Allowed,
        "sandbox",
    );
    event.exit_status = Some(status);
    event.duration_ms = Some(u64::try_from(started_at.elapsed().as_millis()).unwrap_or(u64::MAX));
    // The command has run: a failure to record its end can only be reported.
    if let Err(failure) = trail.record(event) {
        eprintln!("codex-policy: error: {}", failure.message);
    }
    Ok(u8::try_from(status).unwrap_or(u8::MAX))
}

/// The configuration files the effective policy was composed from.
fn loaded_files(composed: &crate::effective::Composed) -> Vec<String> {
    let files = &composed.files;
    [
        files
            .codexrc
            .as_ref()
            .map(|f| f.source.path().display().to_string()),
        files
            .harness
            .as_ref()
            .map(|f| f.source.path().display().to_string()),
        files
            .config
            .as_ref()
            .map(|f| f.source.path().display().to_string()),
        files
            .requirements
            .as_ref()
            .map(|(s, _)| s.path().display().to_string()),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The environment the launcher gives the command.
fn launcher_environment(composed: &crate::effective::Composed, command: &mut Command) {
    let absolute =
        |path: &std::path::Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(rc) = &composed.files.codexrc {
        let ctx = &rc.value.environment_context;
        command
            .env("CODEX_RUNTIME_CONFIG", absolute(rc.source.path()))
            .env("CODEX_CONTEXT_NAME", ctx.name.as_str())
            .env("CODEX_NETWORK_ACCESS", ctx.network_access.as_str());
        if let Some(credentials) = &rc.value.credentials {
            if let Some(profile) = &credentials.aws_profile {
                command.env("AWS_PROFILE", profile);
            }
            if let Some(region) = &credentials.aws_region {
                command.env("AWS_REGION", region);
            }
        }
    }
    if let Some(policy) = &composed.files.harness {
        command.env("CODEX_POLICY_FILE", absolute(policy.source.path()));
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn run(_: &Cli, _: &ResolvedProfile, _: &RunArgs, _: Mode) -> Result<u8, Failure> {
    Err(Failure::new(
        exit::CANNOT_START,
        "no sandbox backend for this operating system yet",
    ))
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
