//! `run`, `launch`, `debug landlock` and `doctor`: flags → a [`Session`] → the
//! command, supervised by this process.

use codex_policy::{AuditDestination, ExecRules};

use crate::{Cli, Failure, RunArgs, exit, failure, print_err, print_out, to_json};

/// Which command is running the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `run`.
    Run,
    /// `launch`: `run` plus the launcher's environment.
    Launch,
    /// `debug landlock`: `run` plus the report of rules.
    Debug,
    /// `debug seatbelt` on macOS: `run` plus the session's Seatbelt
    /// profile and `sandbox-exec` command line.
    #[cfg(target_os = "macos")]
    Seatbelt,
}

/// Where `--audit-log` / `--no-audit` send the events.
pub(crate) fn audit_destination(audit: &crate::AuditArgs) -> AuditDestination {
    match (&audit.audit_log, audit.no_audit) {
        (_, true) => AuditDestination::Off,
        (Some(path), false) => AuditDestination::File(path.clone()),
        (None, false) => AuditDestination::Configured,
    }
}

/// Runs the command under the session's policy; its status is ours.
pub(crate) fn run(cli: &Cli, args: &RunArgs, mode: Mode) -> Result<u8, Failure> {
    // Every run is gated: by the built-in default policy unless rules are given.
    let rules = if args.rules.is_empty() {
        ExecRules::BuiltIn
    } else {
        ExecRules::Files(args.rules.clone())
    };
    let mut builder = crate::session_builder(cli, &args.inputs)
        .rules(rules)
        .approver(crate::exec_rules::ask_on_terminal)
        .audit(audit_destination(&args.audit))
        .best_effort(args.best_effort)
        .launcher_environment(mode == Mode::Launch);
    if let Some(id) = &args.audit.session_id {
        builder = builder.session_id(id);
    }
    let session = builder
        .build()
        .map_err(|e| failure(e, exit::CANNOT_START))?;
    #[cfg(target_os = "macos")]
    if mode == Mode::Seatbelt {
        let command: Vec<std::ffi::OsString> = args.command.iter().map(Into::into).collect();
        show_seatbelt(cli.json, session.seatbelt_plan(&command).as_ref(), true)?;
    }
    if mode == Mode::Debug {
        let resolved = &session.composition().resolved;
        print_err(&format!(
            "codex-policy: profile {} ({})\n",
            resolved.profile, resolved.source
        ));
        let report = session.report();
        print_err(&report.to_string());
        for rule in &report.rules {
            print_err(&format!("  rule: {rule}\n"));
        }
        let composition = session.composition();
        for line in crate::explain::hidden_lines(&composition.hidden, session.sandbox_policy())
            .into_iter()
            .chain(crate::explain::environment_lines(
                &composition.environment_policy,
            ))
        {
            print_err(&format!("codex-policy: {line}\n"));
        }
    }
    let status = session
        .command(&args.command)
        .supervise()
        .map_err(|e| failure(e, exit::CANNOT_START))?;
    Ok(u8::try_from(codex_policy::exit_code(status)).unwrap_or(u8::MAX))
}

/// `proxy`: the egress proxy in the foreground until a signal ends it.
pub(crate) fn proxy(cli: &Cli, args: &crate::ProxyArgs) -> Result<u8, Failure> {
    // Before the proxy's threads exist, so that they inherit the mask and
    // the signal reaches the wait below.
    let signals = block_termination_signals();
    let rules = if args.rules.is_empty() {
        ExecRules::None
    } else {
        ExecRules::Files(args.rules.clone())
    };
    let mut builder = crate::session_builder(cli, &args.inputs)
        .rules(rules)
        .audit(audit_destination(&args.audit));
    if let Some(id) = &args.audit.session_id {
        builder = builder.session_id(id);
    }
    let proxy = builder
        .build_proxy(args.listen, args.socks)
        .map_err(|e| failure(e, exit::CANNOT_START))?;
    let mut lines = vec![
        format!("http proxy listening on {}", proxy.http_addr()),
        format!("socks5 proxy listening on {}", proxy.socks_addr()),
    ];
    if let Some(bundle) = proxy.ca_bundle() {
        lines.push(format!(
            "read-only network: HTTPS is inspected; clients must trust {} (removed when the proxy stops)",
            bundle.display()
        ));
    }
    if args.print_env {
        for (key, value) in proxy.environment() {
            lines.push(format!(
                "export {key}={}",
                codex_policy::shell_words(&[value])
            ));
        }
    }
    print_out(&lines.join("\n"))?;
    // Serves until SIGINT, SIGTERM or SIGHUP; every decision is already in
    // the log when its answer is sent. Then the proxy stops and removes its
    // files (limited mode's certificate bundle).
    wait_for(&signals);
    proxy.stop();
    Ok(0)
}

/// Blocks SIGINT, SIGTERM and SIGHUP in this thread (and the threads it
/// starts later).
fn block_termination_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data, initialized by sigemptyset before use;
    // pthread_sigmask only changes this thread's mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&raw mut set);
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&raw mut set, signal);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &raw const set, std::ptr::null_mut());
        set
    }
}

/// Waits until one of `signals` (blocked) arrives.
fn wait_for(signals: &libc::sigset_t) {
    let mut received = 0;
    // SAFETY: `signals` is an initialized set; sigwait writes one int.
    while unsafe { libc::sigwait(signals, &raw mut received) } != 0 {}
}

/// `debug seatbelt`: the Seatbelt profile of the run's policy and the exact
/// `sandbox-exec` command line. On macOS the command then runs as `run`
/// runs it (gated, audited), under the very profile shown; elsewhere it is a
/// dry run of the profile composed from the same policy.
#[cfg(target_os = "macos")]
pub(crate) fn seatbelt(cli: &Cli, args: &RunArgs) -> Result<u8, Failure> {
    run(cli, args, Mode::Seatbelt)
}

/// `debug seatbelt` off macOS: the profile and command line, not run.
#[cfg(not(target_os = "macos"))]
pub(crate) fn seatbelt(cli: &Cli, args: &RunArgs) -> Result<u8, Failure> {
    let command: Vec<std::ffi::OsString> = args.command.iter().map(Into::into).collect();
    let plan = crate::session_builder(cli, &args.inputs)
        .seatbelt(&command)
        .map_err(|e| failure(e, exit::CANNOT_START))?;
    show_seatbelt(cli.json, plan.as_ref(), false)?;
    if plan.is_some() {
        print_err(&format!(
            "codex-policy: dry run: sandbox-exec exists only on macOS; nothing was executed on {}\n",
            std::env::consts::OS
        ));
    }
    Ok(0)
}

/// Prints a Seatbelt plan: the profile on standard output and the
/// command line on standard error, or both as JSON.
fn show_seatbelt(
    json: bool,
    plan: Option<&codex_policy::SeatbeltPlan>,
    executed: bool,
) -> Result<(), Failure> {
    let Some(plan) = plan else {
        print_err(&format!(
            "codex-policy: the profile has full access: no Seatbelt profile, the command {} \
             unconfined\n",
            if executed { "runs" } else { "would run" }
        ));
        return Ok(());
    };
    if json {
        let argv: Vec<String> = plan
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        print_out(&to_json(&serde_json::json!({
            "profile": plan.profile.text(),
            "argv": argv,
            "executed": executed,
        }))?)?;
    } else {
        print_out(plan.profile.text().trim_end())?;
        let shown: Vec<String> = plan
            .argv
            .iter()
            .map(|a| {
                shlex::try_quote(&a.to_string_lossy())
                    .map_or_else(|_| format!("{a:?}"), |q| q.into_owned())
            })
            .collect();
        print_err(&format!(
            "codex-policy: sandbox-exec command line:\n{}\n",
            shown.join(" ")
        ));
    }
    Ok(())
}

/// Prints what this host can enforce; exit 0 if every profile is fully enforceable.
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub(crate) fn doctor(json: bool) -> Result<u8, Failure> {
    // Codex's home from the environment decides what is hidden: a bad
    // variable is invalid input (1), as for every command that reads it.
    let report = codex_policy::HostReport::probe().map_err(|e| failure(e, exit::INVALID_INPUT))?;
    if json {
        print_out(&to_json(&report)?)?;
    } else {
        print_out(report.to_string().trim_end())?;
    }
    Ok(if report.fully_enforceable() { 0 } else { 1 })
}

/// No backend (another Unix): the same refusal a run gets.
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub(crate) fn doctor(_: bool) -> Result<u8, Failure> {
    Err(Failure::new(
        exit::CANNOT_START,
        codex_policy::SandboxError::UnsupportedPlatform {
            os: std::env::consts::OS,
        }
        .to_string(),
    ))
}

/// A session for `check`: the rules (the built-in ones without `--rules`)
/// and the audit trail, no sandbox.
pub(crate) fn checker(
    cli: &Cli,
    rules: &[std::path::PathBuf],
    audit: &crate::AuditArgs,
) -> Result<codex_policy::Checker, Failure> {
    let inputs = crate::PolicyInputs {
        cwd: None,
        writable_roots: Vec::new(),
        files: crate::RuntimeFiles {
            runtime: None,
            policy: None,
            requirements: None,
        },
    };
    let mut builder = crate::session_builder(cli, &inputs)
        .rules(if rules.is_empty() {
            ExecRules::BuiltIn
        } else {
            ExecRules::Files(rules.to_vec())
        })
        .audit(audit_destination(audit));
    if let Some(id) = &audit.session_id {
        builder = builder.session_id(id);
    }
    builder
        .build_checker()
        .map_err(|e| failure(e, exit::INVALID_INPUT))
}
