//! [`Session`]: the one pipeline from configuration to a sandboxed, gated,
//! audited command. Built once per agent session; every command of it uses
//! the same composed policy, the same loaded rules, the same prepared
//! sandbox and the same audit trail.

use std::ffi::{OsStr, OsString};
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use codex_audit::{AuditDecision, Operation};
use codex_policy_model::ApprovalPolicy;
use codex_policy_model::effective::EgressRules;
use codex_policy_model::{CommandWritable, EgressListeners, EnforcementReport, ProtectionStatus};
use codex_profiles::{
    ActiveElevation, GrantStatus, ProfileChoice, ProfileResolver, ResolvedProfile, SecurityProfile,
};

use crate::approval::{Approval, ApprovalKind, ApprovalRequest, Approver};
use crate::compose::{Composition, RuntimeFiles, compose};
use crate::egress::{Inspection, SessionProxy, StandaloneProxy};
use crate::environment::Environment;
use crate::error::{ConfigurationError, Error};
#[cfg(feature = "exec-policy")]
use crate::gate::{Check, ExecGate, ExecRules, GateContext, decide};
use crate::native::{Backend, PreparedBackend};
use crate::notice::{Notice, Notices};
use crate::trail::{AuditDestination, AuditTrail, TrailOptions, audit_target};
use crate::{SandboxPolicy, exit_code};

/// Everything a session is built from. Start with [`Session::builder`].
///
/// # Examples
///
/// The profile and the approval policy as the flags of `codex-policy run`
/// would give them, resolved (nothing started), then the session built:
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use codex_policy::{ApprovalPolicy, AuditDestination, SecurityProfile, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let builder = Session::builder()
///     .profile(SecurityProfile::Workspace)
///     .approval_policy(ApprovalPolicy::Never, "--ask-for-approval never")
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true);
/// let resolved = builder.resolve()?;
/// assert_eq!(resolved.approval.policy, ApprovalPolicy::Never);
///
/// let session = builder.build()?;
/// assert_eq!(session.composition().resolved.profile, SecurityProfile::Workspace);
/// assert!(session.command(["true"]).status()?.success());
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
#[must_use]
pub struct SessionBuilder {
    profile: Option<(ProfileChoice, String)>,
    approval: Option<(ApprovalPolicy, String)>,
    files: RuntimeFiles,
    cwd: Option<PathBuf>,
    writable_roots: Vec<PathBuf>,
    #[cfg(feature = "exec-policy")]
    rules: ExecRules,
    approver: Option<ApproverSlot>,
    audit: AuditDestination,
    session_id: Option<String>,
    best_effort: bool,
    launcher_environment: bool,
    notices: Notices,
    env: Environment,
}

#[derive(Clone)]
struct ApproverSlot(Approver);

impl std::fmt::Debug for ApproverSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Approver")
    }
}

impl SessionBuilder {
    /// The security profile; without it, the usual resolution decides
    /// (an elevation grant, `CODEX_SECURITY_PROFILE`, `.codex-profile`,
    /// `config.toml`, then `offline`).
    pub fn profile(self, profile: SecurityProfile) -> Self {
        self.profile_choice(ProfileChoice::Security(profile), "--profile")
    }

    /// The profile, security or named (`[profiles.<name>]` of
    /// `config.toml`, or a built-in template), and the flag that chose it
    /// (`--profile`, `--sandbox`, `--full-auto`, `--yolo`: provenance).
    pub fn profile_choice(mut self, choice: ProfileChoice, flag: impl Into<String>) -> Self {
        self.profile = Some((choice, flag.into()));
        self
    }

    /// The approval policy (default: the resolved one, else `on-request`),
    /// and the flag that chose it.
    pub fn approval_policy(mut self, policy: ApprovalPolicy, flag: impl Into<String>) -> Self {
        self.approval = Some((policy, flag.into()));
        self
    }

    /// The runtime-control files; those left unset are found as
    /// `codex-policy run` finds them (see [`RuntimeFiles`]).
    pub fn runtime_files(mut self, files: RuntimeFiles) -> Self {
        self.files = files;
        self
    }

    /// The directory commands run in and the main writable root (default:
    /// the current directory).
    pub fn cwd(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cwd = Some(dir.into());
        self
    }

    /// An extra writable directory (workspace profiles only; a read-only
    /// profile refuses it).
    pub fn writable_root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.writable_roots.push(dir.into());
        self
    }

    /// The exec-policy rules every command is checked against (default:
    /// the built-in default policy).
    #[cfg(feature = "exec-policy")]
    pub fn rules(mut self, rules: ExecRules) -> Self {
        self.rules = rules;
        self
    }

    /// Who answers when the approval policy asks: whether to run a command
    /// (`true`/[`Approval::Approved`] runs it), and under `on-failure`
    /// whether to rerun a failed one without the sandbox. Without one, what
    /// would ask is refused ([`crate::Refusal::NotApproved`]).
    pub fn approver<R: Into<Approval>>(
        mut self,
        approve: impl Fn(&crate::ApprovalRequest<'_>) -> R + Send + Sync + 'static,
    ) -> Self {
        self.approver = Some(ApproverSlot(Arc::new(move |request| {
            approve(request).into()
        })));
        self
    }

    /// Where the audit events go (default: `[audit] path` of config.toml,
    /// else `$CODEX_HOME/audit/audit.jsonl`).
    pub fn audit(mut self, destination: AuditDestination) -> Self {
        self.audit = destination;
        self
    }

    /// The session id of the events (default: a new random id).
    pub fn session_id(mut self, id: impl Into<String>) -> Self {
        self.session_id = Some(id.into());
        self
    }

    /// Run commands even if this host cannot enforce every protection the
    /// policy needs; a warning lists what is not enforced. Default: refuse.
    pub fn best_effort(mut self, best_effort: bool) -> Self {
        self.best_effort = best_effort;
        self
    }

    /// Give every command the launcher's environment: `CODEX_RUNTIME_CONFIG`,
    /// `CODEX_CONTEXT_NAME`, `CODEX_NETWORK_ACCESS`, `CODEX_POLICY_FILE`,
    /// `AWS_PROFILE`, `AWS_REGION` from the runtime-control files.
    pub fn launcher_environment(mut self, enabled: bool) -> Self {
        self.launcher_environment = enabled;
        self
    }

    /// Where notes and warnings go (default: standard error, as
    /// `codex-policy: warning: …`).
    pub fn on_notice(mut self, handler: impl Fn(&Notice) + Send + Sync + 'static) -> Self {
        self.notices = Notices::new(Arc::new(handler));
        self
    }

    /// The environment variables the session reads (`CODEX_*`, `HOME`,
    /// `TMPDIR`); default: the process's own.
    pub fn environment(mut self, env: Environment) -> Self {
        self.env = env;
        self
    }

    /// The Seatbelt profile (the macOS backend) of this session's policy
    /// and the exact `sandbox-exec` command line for `command`, on every
    /// OS: composed as [`build`](Self::build) would, started nothing.
    /// `None` under full access (no sandbox).
    ///
    /// # Errors
    ///
    /// What [`compose`](Self::compose) refuses, and [`Error::Seatbelt`] when the
    /// profile cannot be made (a relative or NUL-holding path, a hidden path that
    /// contains a writable root).
    pub fn seatbelt(&self, command: &[OsString]) -> Result<Option<crate::SeatbeltPlan>, Error> {
        crate::seatbelt::plan(&self.compose()?, &self.env, command)
    }

    /// Stage one: the profile and approval policy, and the sources that
    /// chose them. An elevation grant for the project is used while valid;
    /// an expired one is ignored with a note.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`]: an unknown profile name, a `config.toml` or
    /// `.codex-profile` that is invalid (located), a choice the managed
    /// requirements forbid, or `$CODEX_HOME` set but empty.
    pub fn resolve(&self) -> Result<ResolvedProfile, Error> {
        let cwd = self.absolute_cwd()?;
        let mut resolver = ProfileResolver::new()
            .environment(|key| self.env.var(key))
            .config_file(self.files.config.clone())
            .project_dir(Some(cwd.clone()));
        if let Some((choice, flag)) = &self.profile {
            resolver = resolver.choice(Some(choice.clone()), flag);
        }
        if let Some((policy, flag)) = &self.approval {
            resolver = resolver.approval(Some(*policy), flag);
        }
        if self.profile.is_none()
            && let Some(GrantStatus::Active(grant)) =
                crate::elevation::usable_grant(&self.env, &self.files, &cwd, &self.notices)?
        {
            resolver = resolver.elevation(Some(ActiveElevation::from(&grant)));
        }
        resolver
            .resolve()
            .map_err(|e| Error::Configuration(e.into()))
    }

    pub(crate) fn absolute_cwd(&self) -> Result<PathBuf, Error> {
        match &self.cwd {
            Some(dir) => std::path::absolute(dir),
            None => std::env::current_dir(),
        }
        .map_err(|source| Error::Io {
            what: "the working directory",
            source,
        })
    }

    pub(crate) fn runtime_files_ref(&self) -> &RuntimeFiles {
        &self.files
    }

    pub(crate) fn environment_ref(&self) -> &Environment {
        &self.env
    }

    /// The audit trail alone (no composition): for events outside a run,
    /// written fail-closed.
    pub(crate) fn audit_trail(&self) -> Result<AuditTrail, Error> {
        // The log config.toml names (`[audit] path`) whether the file was
        // given or found in Codex's home, judged as for a run (a file the
        // command could have written may not move the log).
        let validation = match &self.audit {
            AuditDestination::Off => codex_policy_model::validate::Validation::default(),
            _ => self.compose()?.files,
        };
        AuditTrail::open(
            TrailOptions {
                destination: &self.audit,
                session_id: self.session_id.as_deref(),
                fail_closed: true,
                enforces: false,
                profile: None,
                writable: None,
                notices: self.notices.clone(),
                env: &self.env,
            },
            &validation,
        )
    }

    /// Stages one and two: the profile composed with the runtime-control
    /// files and the extra writable roots. Starts and writes nothing.
    ///
    /// # Errors
    ///
    /// What [`resolve`](Self::resolve) refuses, and [`Error::Configuration`] for
    /// runtime-control files with errors (every finding, located), a file the
    /// command could have written that would loosen the policy, or extra
    /// writable roots under a read-only profile.
    pub fn compose(&self) -> Result<Composition, Error> {
        let resolved = self.resolve()?;
        let cwd = self.absolute_cwd()?;
        Ok(compose(
            resolved,
            &self.files,
            &cwd,
            &self.writable_roots,
            &self.env,
        )?)
    }

    /// Composes the policy, loads the rules, opens the audit trail (and
    /// records what was loaded), and prepares the sandbox: everything that
    /// can be done once for the whole session. An invalid file, a rules file
    /// that does not load, a log that cannot be written under
    /// `deny_on_violation`, or a host that cannot enforce the policy stops
    /// here, before anything is started.
    ///
    /// # Errors
    ///
    /// What [`compose`](Self::compose) refuses; [`Error::Configuration`] for
    /// rules that do not load; [`Error::AuditLog`] for a log that cannot be
    /// written when `deny_on_violation` holds; [`Error::Unenforceable`] when
    /// this host cannot enforce the policy and best effort is off.
    pub fn build(self) -> Result<Session, Error> {
        let (core, policy) = self.core_from(self.compose()?, true, true)?;
        let tmpdir = core.tmpdir.clone();
        // The audit log and Codex's home stay out of the command's reach even
        // inside a writable root (read-only binds; their directories pinned).
        let mut protected = core.trail().protected_paths();
        if let Ok(roots) = policy.writable_roots(&core.composition.cwd, tmpdir.as_deref()) {
            // A root asked for and left out (missing, not a directory) is said:
            // the command would find it read-only.
            for skipped in &roots.skipped {
                core.notices.emit(Notice::warning(format!(
                    "left out of the writable roots: {skipped}"
                )));
            }
            if let Some(home) = crate::prepare_codex_home(&roots, &core.notices, &self.env)
                .map_err(|e| Error::Configuration(e.into()))?
            {
                protected.push(home);
            }
            // The `.codex-profile` of a directory the user trusts may loosen
            // the next run: no command may rewrite it, wherever it runs from.
            protected.extend(
                trusted_project_files(&core.composition)
                    .filter(|file| roots.roots.iter().any(|root| file.starts_with(&root.root))),
            );
        }
        // Limited mode: the run's certificate authority and the bundle the
        // commands trust, read-only inside the sandbox.
        let inspection = match &core.egress {
            Some(rules) => Inspection::for_rules(rules, &core.notices)?,
            None => None,
        };
        let sandbox = if self.best_effort {
            Backend::best_effort()
        } else {
            Backend::new()
        }
        .protect_paths(protected.clone())
        .hide_paths(core.composition.hidden.iter().map(Path::to_path_buf))
        .allow_unix_sockets(core.composition.effective.unix_sockets.iter().cloned());
        let sandbox = match &core.egress {
            Some(_) => sandbox.filtered_network(crate::native::egress_ports()),
            None => sandbox,
        };
        let sandbox = match &inspection {
            Some(inspection) => sandbox.ca_bundle(inspection.bundle().as_bytes()),
            None => sandbox,
        };
        let prepared =
            crate::native::prepare(&sandbox, &policy, &core.composition.cwd, tmpdir.as_deref());
        let prepared = match prepared {
            Ok(prepared) => prepared,
            Err(err) => {
                let mut trail = core.trail();
                let event = trail
                    .event(
                        Operation::SandboxStart,
                        core.composition.cwd.display().to_string(),
                        AuditDecision::Denied,
                        "sandbox",
                    )
                    .with_reason(err.to_string());
                // The session is refused below whether or not this is written.
                let _ = trail.record(event);
                return Err(Error::Unenforceable(err));
            }
        };
        let report = prepared.report();
        if core.egress.is_some() && prepared.egress_ports().is_none() {
            core.notices.emit(Notice::warning(
                "best effort: a filtered network (the egress proxy) cannot be set up on this \
                 host: it needs user and network namespaces; the command runs with the network \
                 OFF",
            ));
        }
        for rule in &report.rules {
            if let Some(text) = rule.strip_prefix("warning: ") {
                core.notices.emit(Notice::warning(text));
            } else if let Some(text) = rule.strip_prefix("note: ") {
                core.notices.emit(Notice::note(text));
            }
        }
        let missing: Vec<String> = report
            .missing()
            .map(|entry| match &entry.status {
                ProtectionStatus::NotEnforced { reason } => {
                    format!("  - {}\n    because: {reason}", entry.protection)
                }
                _ => format!("  - {}", entry.protection),
            })
            .collect();
        if !missing.is_empty() {
            core.notices.emit(Notice::warning(format!(
                "best effort: running WITHOUT these protections:\n{}",
                missing.join("\n")
            )));
        }
        let start_reason = if missing.is_empty() {
            serde_json::to_string(&policy).unwrap_or_default()
        } else {
            let names: Vec<&str> = report.missing().map(|m| m.protection.describe()).collect();
            format!("best effort, not enforced: {}", names.join(", "))
        };
        let proxy = core.egress.clone().map(|rules| {
            Arc::new(SessionProxy::new(
                rules,
                http_logging(&core.composition),
                inspection,
            ))
        });
        Ok(Session {
            core: Arc::new(core),
            policy,
            sandbox: Arc::new(prepared),
            start_reason,
            launcher_environment: self.launcher_environment,
            proxy,
            rerun: Arc::new(RerunSandbox {
                protected,
                best_effort: self.best_effort,
                prepared: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The egress proxy alone, on this host's loopback at `http` and
    /// `socks` (port 0: any free port), for the effective policy — what
    /// `codex-policy proxy` runs. Its decisions go to the session's audit
    /// trail. Refused when the effective network is off.
    ///
    /// # Errors
    ///
    /// What [`compose`](Self::compose) refuses, a network that is off or not
    /// filtered (nothing to proxy), a listen address off loopback, or a port
    /// that cannot be bound.
    pub fn build_proxy(
        self,
        http: SocketAddr,
        socks: SocketAddr,
    ) -> Result<StandaloneProxy, Error> {
        // A listener off loopback is refused whatever the policy says.
        codex_network_proxy::check_loopback(&[http, socks]).map_err(Error::EgressProxy)?;
        let composition = self.compose()?;
        // The proxy enforces the network policy: with deny_on_violation, a
        // log it cannot write refuses it, as it refuses a run.
        let (core, _) = self.core_from(composition, false, true)?;
        let rules =
            crate::egress::standalone_rules(&core.composition.effective, core.egress.as_ref())?;
        let log_http = http_logging(&core.composition);
        StandaloneProxy::start(&Arc::new(core), &self.env, rules, log_http, http, socks)
    }

    /// A session that decides on command lines and records its decisions,
    /// but starts nothing: what `codex-policy check` uses. Without rules it
    /// consults the built-in default policy.
    ///
    /// # Errors
    ///
    /// What [`compose`](Self::compose) refuses, rules that do not load, and an
    /// audit log that cannot be opened.
    #[cfg(feature = "exec-policy")]
    pub fn build_checker(mut self) -> Result<Checker, Error> {
        if self.rules == ExecRules::None {
            self.rules = ExecRules::BuiltIn;
        }
        let composition = self.compose()?;
        Ok(Checker {
            core: Arc::new(self.core_from(composition, false, false)?.0),
        })
    }

    /// The rules files the session loads.
    fn rules_files(&self) -> &[PathBuf] {
        #[cfg(feature = "exec-policy")]
        if let ExecRules::Files(files) = &self.rules {
            return files;
        }
        &[]
    }

    /// The parts shared by sessions and checkers. `runs` says whether
    /// commands will run (the log is then written fail-closed under
    /// `deny_on_violation`, and guarded from links they could plant).
    /// `runs`: commands start under it; `enforces`: it acts on its
    /// decisions (a run, the proxy), so a log it cannot write refuses it
    /// unless in monitor mode.
    fn core_from(
        &self,
        composition: Composition,
        runs: bool,
        enforces: bool,
    ) -> Result<(Core, SandboxPolicy), Error> {
        let monitor = composition.monitor_mode();
        let tmpdir = self.env.var("TMPDIR");
        let cwd = composition.cwd.clone();
        let writable = if runs {
            CommandWritable::for_policy(composition.sandbox_policy(), &cwd, tmpdir.as_deref())
                .map_err(|e| Error::Configuration(e.into()))?
        } else {
            // Nothing starts, so nothing the command wrote is in question.
            CommandWritable::nothing()
        };
        // Everything that can fail on bad input fails before the log is
        // touched: nothing is written for a session that is not built.
        #[cfg(feature = "exec-policy")]
        let gate = ExecGate::load(&self.rules, &writable)?;
        #[cfg(feature = "exec-policy")]
        let network_rules = match &gate {
            Some(gate) => gate.network_rules()?,
            None => Vec::new(),
        };
        #[cfg(not(feature = "exec-policy"))]
        let network_rules = Vec::new();
        // The rules files filter the network: a `.codexrc.json` the command
        // could have written must not open internal destinations through
        // the proxy that the run without it would refuse.
        if runs && !network_rules.is_empty() {
            let findings = codex_policy_model::tightening::internal_grant_findings(
                &composition.files,
                &|path| writable.could_write(path),
                false,
                &|_| false,
            );
            if !findings.is_empty() {
                return Err(ConfigurationError::Loosening { findings }.into());
            }
        }
        // A misspelt policy key decides nothing: say so on every run, not
        // only under `validate`, since the run goes ahead without it.
        for finding in composition
            .files
            .findings
            .iter()
            .filter(|f| f.code == codex_policy_model::validate::IGNORED_NEAR_MISS.code)
        {
            let place = match (&finding.file, finding.line, finding.column) {
                (Some(file), Some(line), Some(column)) => {
                    format!("{}:{line}:{column}: ", file.display())
                }
                _ => String::new(),
            };
            self.notices
                .emit(Notice::warning(format!("{place}{}", finding.message)));
        }
        self.env
            .codex_home()
            .map_err(|e| Error::Configuration(e.into()))?;
        let mut trail = AuditTrail::open(
            TrailOptions {
                destination: &self.audit,
                session_id: self.session_id.as_deref(),
                fail_closed: enforces && !monitor,
                enforces,
                profile: Some(composition.resolved.profile.to_string()),
                writable: runs.then_some(&writable),
                notices: self.notices.clone(),
                env: &self.env,
            },
            &composition.files,
        )?;
        let mut composition = composition;
        if runs {
            trail.reserve_rotated_names(&writable)?;
            hide_audit_log(&mut composition, &trail, &writable);
        }
        let policy = composition.sandbox_policy().clone();
        // A filtered network (a domain rule, a port list or a limit in any
        // file, or a rules file's `network_rule`) runs in an empty network
        // namespace whose only way out is the egress proxy.
        let egress = crate::egress::session_egress(&composition.effective, &policy, &network_rules);
        if runs && egress.is_some() && composition.effective.egress.is_none() {
            self.notices.note(
                "the rules files hold network_rule entries: the network is filtered by them, \
                 through the egress proxy"
                    .into(),
            );
        }
        let policy = if egress.is_some() {
            policy.with_network_closed()
        } else {
            policy
        };
        if runs {
            // The profile is loaded even when no file is: record where it came from.
            let resolved = &composition.resolved;
            let event = trail
                .event(
                    Operation::PolicyLoad,
                    format!("profile {}", resolved.profile),
                    AuditDecision::Allowed,
                    "config",
                )
                .with_reason(format!(
                    "{}; approval {} ({})",
                    resolved.source, resolved.approval.policy, resolved.approval
                ));
            trail.record(event)?;
            crate::elevation::record_use(
                &mut trail,
                &self.env,
                &self.files,
                &composition.cwd,
                matches!(
                    resolved.source,
                    codex_profiles::ProfileSource::Elevation { .. }
                ),
            )?;
            let loaded = composition
                .loaded_files()
                .into_iter()
                .chain(self.rules_files().iter().map(PathBuf::as_path))
                .map(|p| p.display().to_string());
            for file in loaded {
                let event = trail.event(
                    Operation::PolicyLoad,
                    file,
                    AuditDecision::Allowed,
                    "config",
                );
                trail.record(event)?;
            }
            for note in &composition.effective.notes {
                self.notices.note(note.clone());
            }
        }
        Ok((
            Core {
                composition,
                trail: Mutex::new(trail),
                #[cfg(feature = "exec-policy")]
                gate,
                approver: self.approver.clone(),
                notices: self.notices.clone(),
                tmpdir,
                egress,
            },
            policy,
        ))
    }
}

/// What sessions and checkers share: the composition, the rules, the trail.
#[derive(Debug)]
pub(crate) struct Core {
    composition: Composition,
    trail: Mutex<AuditTrail>,
    #[cfg(feature = "exec-policy")]
    gate: Option<ExecGate>,
    approver: Option<ApproverSlot>,
    pub(crate) notices: Notices,
    /// `$TMPDIR` of the session's environment: a writable root of workspace
    /// profiles.
    tmpdir: Option<OsString>,
    /// The rules of a filtered network, enforced by the egress proxy.
    egress: Option<EgressRules>,
}

impl std::fmt::Debug for AuditTrail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditTrail")
            .field("path", &self.path())
            .field("session", &self.session_id())
            .finish_non_exhaustive()
    }
}

impl Core {
    /// The trail; a thread that panicked while holding it left it usable
    /// (every event is written in one append, or not at all).
    pub(crate) fn trail(&self) -> MutexGuard<'_, AuditTrail> {
        self.trail.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Checks `argv` run in `cwd` against the rules and records the decision.
    #[cfg(feature = "exec-policy")]
    fn check(&self, policy: &SandboxPolicy, cwd: &Path, argv: &[String]) -> Option<Check> {
        let gate = self.gate.as_ref()?;
        Some(gate.check(policy, cwd, self.tmpdir.as_deref(), argv))
    }

    /// Records the exec policy's decision on `argv`.
    #[cfg(feature = "exec-policy")]
    fn record_decision(
        &self,
        argv: &[String],
        decision: AuditDecision,
        reason: String,
    ) -> Result<(), Error> {
        let mut trail = self.trail();
        let event = trail
            .event(
                Operation::CommandExec,
                audit_target(argv),
                decision,
                "execpolicy",
            )
            .with_reason(reason);
        trail.record(event)
    }

    /// The gate of one command: decided under the approval policy (asking
    /// the approver when it says so), every step recorded, then refused or
    /// let through.
    fn gate(&self, policy: &SandboxPolicy, cwd: &Path, argv: &[String]) -> Result<(), Error> {
        #[cfg(feature = "exec-policy")]
        if let Some(check) = self.check(policy, cwd, argv) {
            let monitor = self.composition.monitor_mode();
            let outcome = decide(
                &check,
                argv,
                &GateContext {
                    approval: self.composition.resolved.approval.policy,
                    unsandboxed: policy.has_full_disk_write_access(),
                    monitor,
                    approver: self.approver.as_ref().map(|slot| &slot.0),
                },
            );
            if monitor
                && outcome
                    .events
                    .iter()
                    .any(|(d, _)| *d != AuditDecision::Allowed)
            {
                self.notices.emit(Notice::warning(format!(
                    "monitor mode: the gate would not run this command without approval ({}); \
                     running it",
                    check.summary()
                )));
            }
            for (decision, reason) in outcome.events {
                self.record_decision(argv, decision, reason)?;
            }
            return outcome.result.map_err(Error::Refused);
        }
        let _ = (policy, cwd, argv);
        Ok(())
    }

    /// `on-failure`: asks whether a command that failed in the sandbox may
    /// run again without it; records the question and the answer (an
    /// approved rerun is an elevation).
    fn approve_rerun(&self, argv: &[String], status: i32) -> Result<bool, Error> {
        let reason = format!("failed in the sandbox (status {status})");
        let approved = match &self.approver {
            Some(slot) => (slot.0)(&ApprovalRequest {
                argv,
                explanation: &reason,
                kind: ApprovalKind::RerunWithoutSandbox,
            }),
            None => Approval::Unavailable,
        };
        let (decision, answer) = match approved {
            Approval::Approved => (AuditDecision::RequiresApproval, "approved"),
            Approval::Declined => (AuditDecision::Denied, "declined"),
            _ => {
                self.notices.emit(Notice::note(format!(
                    "on-failure: the command {reason}; there was nobody to ask whether to run it \
                     again without the sandbox"
                )));
                (AuditDecision::Denied, "nobody to ask")
            }
        };
        let mut trail = self.trail();
        let event = trail
            .event(
                Operation::Elevation,
                audit_target(argv),
                decision,
                "approval",
            )
            .with_reason(format!(
                "on-failure: rerun without the sandbox {answer}: {reason}"
            ));
        trail.record(event)?;
        Ok(approved == Approval::Approved)
    }
}

/// One agent session: a composed policy, loaded rules, a prepared sandbox
/// and an audit trail, shared by every command it starts. Cheap to clone
/// (the clones share everything) and safe to use from several threads.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let session = codex_policy::Session::builder()
///     .profile("workspace".parse()?)
///     .cwd("/home/me/project")
///     .build()?;
/// let output = session.command(["cargo", "test"]).output()?;
/// println!("{}", String::from_utf8_lossy(&output.stdout));
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Session {
    core: Arc<Core>,
    /// What the sandbox enforces: the composed policy, network closed when
    /// the rules filter it.
    policy: SandboxPolicy,
    sandbox: Arc<PreparedBackend>,
    /// The `sandbox_start` reason of every command.
    start_reason: String,
    launcher_environment: bool,
    /// The egress proxy of a filtered network.
    proxy: Option<Arc<SessionProxy>>,
    /// `on-failure`'s sandbox for approved reruns, prepared when first needed.
    rerun: Arc<RerunSandbox>,
}

/// What an approved `on-failure` rerun runs in: the `trusted` policy, with
/// the session's protected paths (the audit log, Codex's home) still
/// read-only.
#[derive(Debug)]
struct RerunSandbox {
    protected: Vec<PathBuf>,
    best_effort: bool,
    prepared: std::sync::OnceLock<Arc<PreparedBackend>>,
}

/// The existing `.codex-profile` of each directory `config.toml` marks
/// trusted (real paths).
fn trusted_project_files(composition: &Composition) -> impl Iterator<Item = PathBuf> + '_ {
    composition
        .files
        .config
        .iter()
        .flat_map(|loaded| loaded.config.projects.iter())
        .filter(|(_, project)| {
            project
                .trust_level
                .as_ref()
                .is_some_and(|level| *level.get_ref() == codex_policy_model::TrustLevel::Trusted)
        })
        .filter_map(|(dir, _)| {
            let file = std::fs::canonicalize(dir)
                .ok()?
                .join(codex_profiles::PROJECT_FILE_NAME);
            file.symlink_metadata()
                .is_ok_and(|meta| meta.is_file())
                .then_some(file)
        })
}

/// The audit log joins the hidden paths of a restricted policy: its whole
/// directory when that holds nothing but the log's files (the default
/// `$CODEX_HOME/audit`), so rotations made during a run stay hidden too;
/// else — a log in the home directory or in the workspace — the log and its
/// rotated files.
fn hide_audit_log(composition: &mut Composition, trail: &AuditTrail, writable: &CommandWritable) {
    if trail.path().is_none() || composition.sandbox_policy().has_full_disk_write_access() {
        return;
    }
    let files = trail.protected_paths();
    let directory = files
        .first()
        .and_then(|log| log.parent())
        .map(Path::to_path_buf);
    let only_the_log = |dir: &Path| {
        std::fs::read_dir(dir).is_ok_and(|entries| {
            entries.take(256).all(|entry| {
                entry.is_ok_and(|e| {
                    files
                        .iter()
                        .any(|f| f.file_name() == Some(e.file_name().as_os_str()))
                })
            })
        })
    };
    let holds_a_root = |dir: &Path| {
        composition.cwd.starts_with(dir) || writable.roots().iter().any(|r| r.starts_with(dir))
    };
    match directory {
        Some(dir) if only_the_log(&dir) && !holds_a_root(&dir) => {
            composition.hidden.add(dir, "the audit log", true);
        }
        _ => {
            for file in files {
                composition.hidden.add(file, "the audit log", true);
            }
        }
    }
}

/// Whether network events carry headers and bodies (`observability` of
/// `harness.policy.json`).
fn http_logging(composition: &Composition) -> (bool, bool) {
    composition
        .files
        .harness
        .as_ref()
        .map_or((false, false), |h| {
            let o = &h.value.observability;
            (o.http_log_headers, o.http_log_bodies)
        })
}

impl Session {
    /// A builder with nothing set: the profile and files are then resolved
    /// as `codex-policy run` resolves them, in the current directory.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// The session id of every audit event.
    pub fn id(&self) -> String {
        self.core.trail().session_id().to_owned()
    }

    /// The profile, the files and the effective policy with provenance.
    pub fn composition(&self) -> &Composition {
        &self.core.composition
    }

    /// The policy every command runs under.
    pub fn sandbox_policy(&self) -> &SandboxPolicy {
        &self.policy
    }

    /// What the sandbox enforces on this host, and what it does not.
    pub fn report(&self) -> &EnforcementReport {
        self.sandbox.report()
    }

    /// The Seatbelt profile every command runs under and the exact
    /// `sandbox-exec` command line for `command`; `None` under full access.
    #[cfg(target_os = "macos")]
    pub fn seatbelt_plan(&self, command: &[OsString]) -> Option<crate::SeatbeltPlan> {
        self.sandbox.profile().map(|profile| crate::SeatbeltPlan {
            profile: profile.clone(),
            argv: profile.sandbox_exec_argv(command),
        })
    }

    /// The audit log, when events are written.
    pub fn audit_log(&self) -> Option<PathBuf> {
        self.core.trail().path().map(Path::to_path_buf)
    }

    /// The exec policy's decision on `argv` run in the session's directory,
    /// with the paths it writes verified against the session's policy: a
    /// question, so nothing is recorded — the gate of
    /// [`command`](Self::command) records the decision it acts on. `None`
    /// when the session has no rules.
    ///
    /// # Errors
    ///
    /// None today; the `Result` leaves room for rules that can fail at check time.
    #[cfg(feature = "exec-policy")]
    pub fn check<S: AsRef<str>>(&self, argv: &[S]) -> Result<Option<Check>, Error> {
        let argv: Vec<String> = argv.iter().map(|a| a.as_ref().to_owned()).collect();
        Ok(self
            .core
            .check(&self.policy, &self.core.composition.cwd, &argv))
    }

    /// The sandbox of an approved `on-failure` rerun.
    fn unsandboxed(&self) -> Result<Arc<PreparedBackend>, Error> {
        let rerun = &self.rerun;
        if let Some(prepared) = rerun.prepared.get() {
            return Ok(Arc::clone(prepared));
        }
        let sandbox = if rerun.best_effort {
            Backend::best_effort()
        } else {
            Backend::new()
        }
        .protect_paths(rerun.protected.clone());
        let prepared = crate::native::prepare(
            &sandbox,
            &SandboxPolicy::DangerFullAccess,
            &self.core.composition.cwd,
            self.core.tmpdir.as_deref(),
        )
        .map_err(Error::Unenforceable)?;
        Ok(Arc::clone(
            rerun.prepared.get_or_init(|| Arc::new(prepared)),
        ))
    }

    /// Hands a started command's listeners to the session's proxy. A
    /// filtered sandbox hands some at every start (Linux: a network
    /// namespace each) or at its first (macOS: the session's listeners on
    /// the host's loopback); otherwise their absence is an error.
    fn serve_egress(&self, listeners: Option<EgressListeners>) -> Result<(), Error> {
        match (&self.proxy, listeners) {
            (Some(proxy), Some(listeners)) => proxy.serve(&self.core, listeners),
            (None, None) => Ok(()),
            (Some(_), None)
                if self.sandbox.egress_ports().is_none() || !crate::native::LISTENERS_PER_START =>
            {
                Ok(())
            }
            _ => Err(Error::Io {
                what: "handing the command's network to the egress proxy",
                source: io::Error::other("the sandbox and the session disagree on the network"),
            }),
        }
    }

    /// A command of this session, shaped like [`std::process::Command`]:
    /// `argv[0]` is the program. Each start is gated by the rules, sandboxed
    /// and audited.
    pub fn command<I, S>(&self, argv: I) -> SessionCommand<'_>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        SessionCommand {
            session: self,
            argv: argv.into_iter().map(|a| a.as_ref().to_owned()).collect(),
            env: Vec::new(),
            env_clear: false,
            dir: None,
            stdin: None,
            stdout: None,
            stderr: None,
        }
    }
}

/// Decides on command lines and records each decision (`command_exec`);
/// starts nothing: what `codex-policy check` is. Built by
/// [`SessionBuilder::build_checker`].
///
/// # Examples
///
/// Unlike [`Session::check`], every decision is recorded:
///
/// ```
/// use codex_policy::audit::{AuditDecision, Operation, read_log};
/// use codex_policy::{AuditDestination, GateClass, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let log = project.path().join("audit.jsonl");
/// let checker = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::File(log.clone()))
///     .build_checker()?;
/// assert_eq!(checker.check(&["rm", "-rf", "/"])?.class(), GateClass::Forbidden);
///
/// let events = read_log(&log)?.events;
/// let recorded = events
///     .iter()
///     .find(|e| e.operation == Operation::CommandExec)
///     .ok_or("the decision is recorded")?;
/// assert_eq!(recorded.target, "rm -rf /");
/// assert_eq!(recorded.decision, AuditDecision::Denied);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "exec-policy")]
#[derive(Debug, Clone)]
pub struct Checker {
    core: Arc<Core>,
}

#[cfg(feature = "exec-policy")]
impl Checker {
    /// The exec policy's decision on `argv` run in the session's directory,
    /// with the paths it writes verified against the composed policy; the
    /// decision is recorded.
    ///
    /// # Errors
    ///
    /// [`Error::AuditLog`] when the decision cannot be recorded and the log is
    /// fail-closed.
    pub fn check<S: AsRef<str>>(&self, argv: &[S]) -> Result<Check, Error> {
        let argv: Vec<String> = argv.iter().map(|a| a.as_ref().to_owned()).collect();
        let core = &self.core;
        let Some(check) = core.check(
            core.composition.sandbox_policy(),
            &core.composition.cwd,
            &argv,
        ) else {
            unreachable_rules()
        };
        let policy = core.composition.sandbox_policy();
        let (decision, reason) = check.audit_view(
            core.composition.resolved.approval.policy,
            policy.has_full_disk_write_access(),
        );
        core.record_decision(&argv, decision, reason)?;
        Ok(check)
    }
}

/// A checker always has rules (the built-in ones at least).
#[cfg(feature = "exec-policy")]
fn unreachable_rules() -> ! {
    unreachable!("a checker is built with rules")
}

/// A command of a [`Session`], built like [`std::process::Command`].
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use codex_policy::{AuditDestination, ConfigurationError, Error, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// std::fs::create_dir(project.path().join("docs"))?;
/// let session = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .build()?;
/// let output = session
///     .command(["sh", "-c"])
///     .arg("echo \"$GREETING\" > hello.txt && pwd")
///     .env("GREETING", "hi")
///     .current_dir("docs")
///     .output()?;
/// assert!(output.status.success());
/// assert!(String::from_utf8(output.stdout)?.trim_end().ends_with("/docs"));
/// assert_eq!(std::fs::read_to_string(project.path().join("docs/hello.txt"))?, "hi\n");
///
/// // Only inside the session's directory and writable roots.
/// let err = session.command(["true"]).current_dir("/").status().unwrap_err();
/// assert!(matches!(
///     err,
///     Error::Configuration(ConfigurationError::DirectoryOutsideSession { .. })
/// ));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct SessionCommand<'s> {
    session: &'s Session,
    argv: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    env_clear: bool,
    dir: Option<PathBuf>,
    stdin: Option<Stdio>,
    stdout: Option<Stdio>,
    stderr: Option<Stdio>,
}

impl SessionCommand<'_> {
    /// Adds an argument.
    pub fn arg(&mut self, arg: impl AsRef<OsStr>) -> &mut Self {
        self.argv.push(arg.as_ref().to_owned());
        self
    }

    /// Adds arguments.
    pub fn args<I, S>(&mut self, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.argv
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable of the command.
    pub fn env(&mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> &mut Self {
        self.env
            .push((key.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Removes an environment variable of the command.
    pub fn env_remove(&mut self, key: impl AsRef<OsStr>) -> &mut Self {
        self.env.push((key.as_ref().to_owned(), None));
        self
    }

    /// Starts from an empty environment.
    pub fn env_clear(&mut self) -> &mut Self {
        self.env.clear();
        self.env_clear = true;
        self
    }

    /// The command's working directory: inside the session's directory or
    /// one of its writable roots (default: the session's directory).
    pub fn current_dir(&mut self, dir: impl AsRef<Path>) -> &mut Self {
        self.dir = Some(dir.as_ref().to_owned());
        self
    }

    /// Standard input (default: inherited; null for [`output`](Self::output)).
    pub fn stdin(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.stdin = Some(cfg.into());
        self
    }

    /// Standard output (default: inherited; piped for [`output`](Self::output)).
    pub fn stdout(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.stdout = Some(cfg.into());
        self
    }

    /// Standard error (default: inherited; piped for [`output`](Self::output)).
    pub fn stderr(&mut self, cfg: impl Into<Stdio>) -> &mut Self {
        self.stderr = Some(cfg.into());
        self
    }

    /// Gates, sandboxes and starts the command. The streams set here are
    /// used once: a second `spawn` inherits them again, as `std` does not.
    ///
    /// # Errors
    ///
    /// [`Error::Refused`] when the exec policy refuses it or nobody approves it
    /// (the contract's 126); [`Error::Configuration`] for an empty command or a
    /// bad variable name; [`Error::Spawn`] when the sandbox cannot start it (a
    /// missing program is 127 by [`Error::exit_status`]); [`Error::AuditLog`] when
    /// the start cannot be recorded under a fail-closed log. Nothing runs then.
    pub fn spawn(&mut self) -> Result<SessionChild, Error> {
        let (mut command, start) = self.prepare()?;
        let session = self.session;
        match session.sandbox.spawn(&mut command) {
            Ok(mut started) => {
                if let Err(err) = session.serve_egress(started.egress_listeners.take()) {
                    let _ = started.child.kill();
                    let _ = started.child.wait();
                    start.record_exit(
                        &session.core,
                        125,
                        Some(format!("the command did not start: {err}")),
                    );
                    return Err(err);
                }
                let child = &mut started.child;
                Ok(SessionChild {
                    stdin: child.stdin.take(),
                    stdout: child.stdout.take(),
                    stderr: child.stderr.take(),
                    child: Some(started.child),
                    exited: None,
                    core: Arc::clone(&session.core),
                    start,
                })
            }
            Err(err) => {
                start.record_not_started(&session.core, &err);
                Err(spawn_error(err))
            }
        }
    }

    /// Runs the command to its end with standard output and error captured
    /// (standard input null unless set).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn), and [`Error::Io`] when waiting fails.
    pub fn output(&mut self) -> Result<Output, Error> {
        self.stdin.get_or_insert_with(Stdio::null);
        self.stdout.get_or_insert_with(Stdio::piped);
        self.stderr.get_or_insert_with(Stdio::piped);
        self.spawn()?
            .wait_with_output()
            .map_err(|source| Error::Io {
                what: "waiting for the command",
                source,
            })
    }

    /// Runs the command to its end. Under `on-failure`, a failed command
    /// may run again without the sandbox, if the approver says so: the
    /// status is then the rerun's.
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn), and [`Error::Io`] when waiting fails.
    pub fn status(&mut self) -> Result<ExitStatus, Error> {
        let status = self.spawn()?.wait().map_err(|source| Error::Io {
            what: "waiting for the command",
            source,
        })?;
        Ok(self.rerun_on_failure(status)?.unwrap_or(status))
    }

    /// Runs the command with the CALLING PROCESS as the supervisor of the
    /// sandbox (one process fewer than [`spawn`](Self::spawn)): what the
    /// `codex-policy` command line does. Under `on-failure`, as
    /// [`status`](Self::status). Process-wide, hence explicit: the
    /// process must be single-threaded ([`crate::SandboxError::MultiThreaded`]
    /// otherwise), and from here on it forwards `SIGTERM` and `SIGHUP` to
    /// the command and ignores `SIGINT` and `SIGQUIT` (they reach the
    /// command from the terminal directly).
    ///
    /// # Errors
    ///
    /// As [`spawn`](Self::spawn); [`Error::Spawn`] also when the process has more
    /// than one thread (Linux: nothing is started then).
    pub fn supervise(&mut self) -> Result<ExitStatus, Error> {
        // Before the gate and the log: a start that cannot happen is neither
        // approved nor recorded.
        crate::native::check_single_threaded().map_err(Error::Spawn)?;
        let (mut command, start) = self.prepare()?;
        let core = &self.session.core;
        let mut supervised = match self.session.sandbox.supervise(&mut command) {
            Ok(supervised) => supervised,
            Err(err) => {
                start.record_not_started(core, &err);
                return Err(spawn_error(err));
            }
        };
        if let Err(err) = self
            .session
            .serve_egress(supervised.take_egress_listeners())
        {
            if let Ok(pid) = libc::pid_t::try_from(supervised.id()) {
                // SAFETY: signalling our own child, the sandbox's init, which
                // has not been waited for (so the pid is still ours).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            let _ = supervised.wait();
            start.record_exit(core, 125, Some(format!("the command did not start: {err}")));
            return Err(err);
        }
        let status = supervised.wait().map_err(|source| Error::Io {
            what: "waiting for the command",
            source,
        })?;
        start.record_exit(core, exit_code(status), None);
        Ok(self.rerun_on_failure(status)?.unwrap_or(status))
    }

    /// Gates the command and builds its `std` command; records the start.
    fn prepare(&mut self) -> Result<(std::process::Command, Start), Error> {
        let session = self.session;
        let core = &session.core;
        let argv = self.argv.clone();
        let (program, rest) = argv.split_first().ok_or(ConfigurationError::EmptyCommand)?;
        let dir = self.working_directory()?;
        let argv: Vec<String> = argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if let Some((key, _)) = self.env.iter().find(|(key, _)| {
            key.is_empty() || key.as_encoded_bytes().iter().any(|&b| b == b'=' || b == 0)
        }) {
            return Err(ConfigurationError::BadVariableName {
                name: key.to_string_lossy().into_owned(),
            }
            .into());
        }
        core.gate(&session.policy, &dir, &self.gated_argv(&argv))?;
        let command = self.std_command(program, rest, &dir, &session.sandbox);
        let start = Start::begin(core, &argv, session.start_reason.clone())?;
        Ok((command, start))
    }

    /// The `std` command for `sandbox`: the launcher's variables, the
    /// egress proxy's and the trust bundle's when the sandbox has them, the
    /// caller's variables and streams (each stream used once).
    fn std_command(
        &mut self,
        program: &OsStr,
        args: &[OsString],
        dir: &Path,
        sandbox: &PreparedBackend,
    ) -> std::process::Command {
        let session = self.session;
        let mut command = sandbox.command(program, args);
        command.current_dir(dir);
        // The caller's variables (none after `env_clear`) as the environment
        // policy lets them through; what the session and the caller set
        // below always arrives.
        let inherited: Vec<(OsString, OsString)> = if self.env_clear {
            Vec::new()
        } else {
            std::env::vars_os().collect()
        };
        let filtered = session.core.composition.environment_policy.apply(inherited);
        command.env_clear().envs(filtered.kept);
        if session.launcher_environment {
            launcher_environment(&session.core.composition, &mut command);
        }
        if let Some(ports) = sandbox.egress_ports() {
            let loopback = std::net::Ipv4Addr::LOCALHOST;
            for (key, value) in codex_network_proxy::proxy_environment(
                (loopback, ports.http).into(),
                (loopback, ports.socks).into(),
            ) {
                command.env(key, value);
            }
            // Limited mode: HTTPS goes through the proxy's inspection, whose
            // authority the command must trust: the bundle in its sandbox.
            if let Some(bundle) = sandbox.ca_bundle_path() {
                for (key, value) in codex_network_proxy::trust_environment(bundle) {
                    command.env(key, value);
                }
            }
        }
        for (key, value) in &self.env {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        for (slot, set) in [
            (
                self.stdin.take(),
                std::process::Command::stdin as fn(&mut _, Stdio) -> &mut _,
            ),
            (self.stdout.take(), std::process::Command::stdout),
            (self.stderr.take(), std::process::Command::stderr),
        ] {
            if let Some(stdio) = slot {
                set(&mut command, stdio);
            }
        }
        command
    }

    /// `on-failure`: after a failed `status`, asks whether to run the
    /// command again without the sandbox's restrictions (the `trusted`
    /// policy; the audit log and Codex's home stay protected), and does so
    /// when approved. `None` when nothing was rerun.
    fn rerun_on_failure(&mut self, status: ExitStatus) -> Result<Option<ExitStatus>, Error> {
        let session = self.session;
        let core = &session.core;
        if status.success()
            || core.composition.resolved.approval.policy != ApprovalPolicy::OnFailure
            || session.policy.has_full_disk_write_access()
        {
            return Ok(None);
        }
        let argv: Vec<String> = self
            .argv
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        if !core.approve_rerun(&argv, exit_code(status))? {
            return Ok(None);
        }
        let sandbox = session.unsandboxed()?;
        let dir = self.working_directory()?;
        let argv_os = self.argv.clone();
        let (program, rest) = argv_os
            .split_first()
            .ok_or(ConfigurationError::EmptyCommand)?;
        let mut command = self.std_command(program, rest, &dir, &sandbox);
        let start = Start::begin(
            core,
            &argv,
            "rerun WITHOUT the sandbox's restrictions (on-failure, approved)".to_owned(),
        )?;
        let status = match sandbox.spawn(&mut command) {
            Ok(mut started) => started.child.wait().map_err(|source| Error::Io {
                what: "waiting for the command",
                source,
            })?,
            Err(err) => {
                start.record_not_started(core, &err);
                return Err(spawn_error(err));
            }
        };
        start.record_exit(core, exit_code(status), None);
        Ok(Some(status))
    }

    /// The command line the rules decide on: the variables set for the
    /// command come first, as `env NAME=VALUE … PROGRAM ARGS`, so that one
    /// that changes what runs (`PATH`, `BASH_ENV`, `LD_PRELOAD`) is judged as
    /// it would be on a command line — only the exec policy's harmless
    /// variables pass without approval.
    fn gated_argv(&self, argv: &[String]) -> Vec<String> {
        let set: Vec<String> = self
            .env
            .iter()
            .filter_map(|(key, value)| {
                let value = value.as_ref()?;
                Some(format!(
                    "{}={}",
                    key.to_string_lossy(),
                    value.to_string_lossy()
                ))
            })
            .collect();
        if set.is_empty() {
            return argv.to_vec();
        }
        std::iter::once("env".to_owned())
            .chain(set)
            .chain(argv.iter().cloned())
            .collect()
    }

    /// The directory asked for, absolute, refused outside the session's
    /// directory and writable roots.
    fn working_directory(&self) -> Result<PathBuf, Error> {
        let cwd = &self.session.core.composition.cwd;
        let Some(dir) = &self.dir else {
            return Ok(cwd.clone());
        };
        let dir = cwd.join(dir);
        let real = std::fs::canonicalize(&dir).map_err(|source| Error::Io {
            what: "the command's working directory",
            source,
        })?;
        let inside =
            |root: &Path| std::fs::canonicalize(root).is_ok_and(|root| real.starts_with(root));
        let in_roots = self
            .session
            .policy
            .writable_roots(cwd, self.session.core.tmpdir.as_deref())
            .is_ok_and(|roots| roots.roots.iter().any(|r| real.starts_with(&r.root)));
        if inside(cwd) || in_roots {
            Ok(real)
        } else {
            Err(ConfigurationError::DirectoryOutsideSession {
                dir,
                session: cwd.clone(),
            }
            .into())
        }
    }
}

/// A start that failed: the host lacking a protection (found out only when
/// the namespaces are created), or the command itself.
fn spawn_error(err: crate::SandboxError) -> Error {
    if crate::native::lacks_protection(&err) {
        Error::Unenforceable(err)
    } else {
        Error::Spawn(err)
    }
}

/// A started command's audit target and start time.
#[derive(Debug)]
struct Start {
    target: String,
    at: Instant,
}

impl Start {
    /// Records the `sandbox_start` of `argv`, with `reason`.
    fn begin(core: &Core, argv: &[String], reason: String) -> Result<Self, Error> {
        let start = Self {
            target: audit_target(argv),
            at: Instant::now(),
        };
        let mut trail = core.trail();
        let event = trail
            .event(
                Operation::SandboxStart,
                start.target.clone(),
                AuditDecision::Allowed,
                "sandbox",
            )
            .with_reason(reason);
        trail.record(event)?;
        Ok(start)
    }

    /// Records the `sandbox_exit` that closes a recorded start.
    fn record_exit(&self, core: &Core, status: i32, reason: Option<String>) {
        let mut trail = core.trail();
        let mut event = trail.event(
            Operation::SandboxExit,
            self.target.clone(),
            AuditDecision::Allowed,
            "sandbox",
        );
        event.reason = reason;
        event.exit_status = Some(status);
        event.duration_ms = Some(u64::try_from(self.at.elapsed().as_millis()).unwrap_or(u64::MAX));
        // The command has run: a failure to record its end can only be reported.
        if let Err(err) = trail.record(event) {
            core.notices.emit(Notice::warning(err.to_string()));
        }
    }

    /// Started, then the command could not be executed (127 not found, 126
    /// not executable) or the sandbox could not be set up (125).
    fn record_not_started(&self, core: &Core, err: &crate::SandboxError) {
        self.record_exit(
            core,
            i32::from(crate::native::exit_status(err)),
            Some(format!("the command did not start: {err}")),
        );
    }
}

/// A running command of a [`Session`], like [`std::process::Child`]. Dropping
/// it kills the command and reaps it: nothing is left running, no zombie.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use std::io::Write;
/// use std::process::Stdio;
/// use codex_policy::{AuditDestination, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let session = Session::builder()
///     .profile("offline".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .build()?;
/// let mut child = session
///     .command(["tr", "a-z", "A-Z"])
///     .stdin(Stdio::piped())
///     .stdout(Stdio::piped())
///     .spawn()?;
/// let mut stdin = child.stdin.take().ok_or("stdin is piped")?;
/// stdin.write_all(b"hello\n")?;
/// drop(stdin); // end of input
/// let output = child.wait_with_output()?;
/// assert!(output.status.success());
/// assert_eq!(output.stdout, b"HELLO\n");
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct SessionChild {
    /// The command's standard input, when piped.
    pub stdin: Option<ChildStdin>,
    /// The command's standard output, when piped.
    pub stdout: Option<ChildStdout>,
    /// The command's standard error, when piped.
    pub stderr: Option<ChildStderr>,
    /// `None` once waited for and recorded.
    child: Option<std::process::Child>,
    /// The status once the command has ended, for later `wait`s.
    exited: Option<ExitStatus>,
    core: Arc<Core>,
    start: Start,
}

impl SessionChild {
    /// The process id of the sandbox's outermost process (killing it ends
    /// every process of the sandbox).
    pub fn id(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
    }

    /// Kills the command and every process of its sandbox.
    ///
    /// # Errors
    ///
    /// The system's error when the signal cannot be sent.
    pub fn kill(&mut self) -> io::Result<()> {
        match &mut self.child {
            Some(child) => child.kill(),
            None => Ok(()),
        }
    }

    /// Waits for the command's end. Its status is the command's own: the
    /// exit code, or the signal that killed it (see [`crate::exit_code`]).
    ///
    /// # Errors
    ///
    /// The system's error when waiting fails, or when the status was already
    /// taken by [`wait_with_output`](Self::wait_with_output).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let Some(child) = &mut self.child else {
            return self
                .exited
                .ok_or_else(|| io::Error::other("the command's status was taken"));
        };
        let status = child.wait()?;
        self.finish(status, None);
        Ok(status)
    }

    /// The status if the command has ended, without waiting.
    ///
    /// # Errors
    ///
    /// The system's error when the check fails.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let Some(child) = &mut self.child else {
            return Ok(self.exited);
        };
        let status = child.try_wait()?;
        if let Some(status) = status {
            self.finish(status, None);
        }
        Ok(status)
    }

    /// Waits for the end, collecting standard output and error.
    ///
    /// # Errors
    ///
    /// The system's error when reading the streams or waiting fails, or when
    /// the command was already waited for.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        let Some(mut child) = self.child.take() else {
            return Err(io::Error::other("the command was already waited for"));
        };
        child.stdin = self.stdin.take();
        child.stdout = self.stdout.take();
        child.stderr = self.stderr.take();
        let output = child.wait_with_output();
        match &output {
            Ok(output) => self
                .start
                .record_exit(&self.core, exit_code(output.status), None),
            Err(err) => self.start.record_exit(
                &self.core,
                125,
                Some(format!("waiting for the command failed: {err}")),
            ),
        }
        output
    }

    fn finish(&mut self, status: ExitStatus, reason: Option<String>) {
        self.child = None;
        self.exited = Some(status);
        self.start
            .record_exit(&self.core, exit_code(status), reason);
    }
}

impl Drop for SessionChild {
    fn drop(&mut self) {
        let Some(child) = &mut self.child else {
            return;
        };
        // Already ended: just reap it.
        if let Ok(Some(status)) = child.try_wait() {
            self.finish(status, None);
            return;
        }
        let _ = child.kill();
        match child.wait() {
            Ok(status) => self.finish(
                status,
                Some("the handle was dropped before the command ended: killed".into()),
            ),
            Err(err) => {
                self.child = None;
                self.start.record_exit(
                    &self.core,
                    125,
                    Some(format!("the handle was dropped; reaping failed: {err}")),
                );
            }
        }
    }
}

/// The environment the launcher gives the command.
fn launcher_environment(composition: &Composition, command: &mut std::process::Command) {
    let absolute = |path: &Path| std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    if let Some(rc) = &composition.files.codexrc {
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
    if let Some(policy) = &composition.files.harness {
        command.env("CODEX_POLICY_FILE", absolute(policy.source.path()));
    }
}
