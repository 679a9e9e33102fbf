//! `elevate`: grant, show or revoke this project's time-limited elevation.

use std::time::SystemTime;

use codex_policy::profiles::{GrantStatus, format_duration, format_time};
use serde::Serialize;

use crate::{Cli, ElevateArgs, Failure, exit, failure, print_out, to_json};

#[derive(Serialize)]
struct StatusReport<'a> {
    project: &'a std::path::Path,
    #[serde(flatten)]
    status: &'a GrantStatus,
}

/// Runs `elevate`; 0 on success.
pub(crate) fn run(cli: &Cli, args: &ElevateArgs) -> Result<u8, Failure> {
    let inputs = crate::PolicyInputs {
        cwd: args.cwd.clone(),
        writable_roots: Vec::new(),
        files: crate::RuntimeFiles {
            runtime: None,
            policy: None,
            requirements: args.requirements.clone(),
        },
    };
    let mut builder =
        crate::session_builder(cli, &inputs).audit(crate::sandbox::audit_destination(&args.audit));
    if let Some(id) = &args.audit.session_id {
        builder = builder.session_id(id);
    }
    if args.status {
        let (project, status) = builder
            .elevation_status()
            .map_err(|e| failure(e, exit::INVALID_INPUT))?;
        if cli.json {
            print_out(&to_json(&StatusReport {
                project: &project,
                status: &status,
            })?)?;
        } else {
            print_out(&status_text(&project, &status))?;
        }
        return Ok(0);
    }
    if args.revoke {
        let (project, revoked) = builder
            .revoke_elevation()
            .map_err(|e| failure(e, exit::INVALID_INPUT))?;
        print_out(&match revoked {
            Some(grant) => format!(
                "revoked the elevation of {} to {}",
                project.display(),
                grant.profile
            ),
            None => format!("no elevation of {} to revoke", project.display()),
        })?;
        return Ok(0);
    }
    let (Some(to), Some(duration), Some(reason)) = (args.to, args.duration, &args.reason) else {
        return Err(Failure::new(
            exit::USAGE,
            "elevate needs --to PROFILE --for DURATION --reason TEXT, --status or --revoke",
        ));
    };
    let project = codex_policy::elevation_project(args.cwd.as_deref().unwrap_or(".".as_ref()))
        .map_err(|e| failure(e, exit::INVALID_INPUT))?;
    if !args.yes {
        let question = format!(
            "codex-policy: elevate {} to {to} for {} ({})? Commands run there will have {}. \
             [y/N] ",
            codex_policy::audit::escape_for_terminal(&project.display().to_string()),
            format_duration(duration),
            codex_policy::audit::escape_for_terminal(reason),
            to.capabilities().file_writes,
        );
        match crate::exec_rules::ask_yes_no(&question) {
            Some(true) => {}
            Some(false) => {
                return Err(Failure::new(
                    exit::INVALID_INPUT,
                    "not elevated: the answer was no",
                ));
            }
            None => {
                return Err(Failure::new(
                    exit::INVALID_INPUT,
                    "not elevated: an elevation is confirmed on a terminal, and there is none \
                     (pass --yes to confirm without one)",
                ));
            }
        }
    }
    let grant = builder
        .elevate(to, duration, reason)
        .map_err(|e| failure(e, exit::INVALID_INPUT))?;
    print_out(&format!(
        "elevated {} to {} until {} ({}); `codex-policy run` there uses it until then \
         (end it with `codex-policy elevate --revoke`)",
        grant.project.display(),
        grant.profile,
        format_time(grant.expires_at),
        format_duration(duration)
    ))?;
    Ok(0)
}

fn status_text(project: &std::path::Path, status: &GrantStatus) -> String {
    match status {
        GrantStatus::Active(grant) => format!(
            "{}: elevated to {} until {} ({} left): {}",
            project.display(),
            grant.profile,
            format_time(grant.expires_at),
            grant
                .remaining(SystemTime::now())
                .map_or_else(|| "0s".to_owned(), format_duration),
            codex_policy::audit::escape_for_terminal(&grant.reason)
        ),
        GrantStatus::Expired(grant) => format!(
            "{}: the elevation to {} expired at {}; it is ignored",
            project.display(),
            grant.profile,
            format_time(grant.expires_at)
        ),
        _ => format!("{}: no elevation", project.display()),
    }
}
