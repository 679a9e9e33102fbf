//! The one error type of a session: which stage failed, wrapping the error of
//! the crate that failed.

use std::path::PathBuf;

use codex_policy_model::WritableRootsError;
use codex_policy_model::validate::Finding;
use codex_profiles::{ProfileError, SecurityProfile};

/// Why a session could not be built, or a command of it not started.
///
/// Each variant is a stage: the configuration (nothing was prepared), the
/// exec policy (the command was refused), the audit log (it cannot record,
/// and the policy says to fail closed), the host (it cannot enforce the
/// policy) and the start of the command. [`Error::exit_status`] maps each to
/// the status `codex-policy run` exits with.
///
/// # Examples
///
/// ```
/// # #[cfg(all(target_os = "linux", feature = "exec-policy"))] {
/// use codex_policy::{AuditDestination, ConfigurationError, Error, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let session = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .build()?;
///
/// // Refused by the built-in exec policy: never started.
/// let err = session.command(["rm", "-rf", "/"]).status().unwrap_err();
/// assert!(matches!(err, Error::Refused(_)));
/// assert_eq!(err.exit_status(), 126);
///
/// // Let through, but there is no such program.
/// let err = session.command(["/no/such/program"]).status().unwrap_err();
/// assert!(matches!(err, Error::Spawn(_)));
/// assert_eq!(err.exit_status(), 127);
///
/// // Nothing to run at all.
/// let err = session.command(Vec::<String>::new()).status().unwrap_err();
/// assert!(matches!(err, Error::Configuration(ConfigurationError::EmptyCommand)));
/// assert_eq!(err.exit_status(), 125);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The profile, a runtime-control file, a rules file or an option is
    /// invalid; nothing was started.
    #[error(transparent)]
    Configuration(#[from] ConfigurationError),
    /// The exec policy refused the command; it was not started.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The audit log cannot be written while `deny_on_violation` is in force.
    #[error(
        "the audit log cannot be written ({reason}); refusing because deny_on_violation is in force"
    )]
    AuditLog {
        /// What went wrong with the log.
        reason: String,
    },
    /// This host cannot enforce the policy (or the sandbox could not be
    /// prepared); nothing was started.
    #[error(transparent)]
    Unenforceable(crate::SandboxError),
    /// The command could not be started: not found, not executable, or a
    /// sandbox step failed in the child.
    #[error(transparent)]
    Spawn(crate::SandboxError),
    /// A time-limited elevation grant could not be read or written.
    #[error("elevation: {0}")]
    Elevation(codex_profiles::ElevationError),
    /// The Seatbelt profile could not be made (a path it cannot carry).
    #[error("the Seatbelt profile: {0}")]
    Seatbelt(codex_sandbox_macos::SeatbeltError),
    /// The egress proxy of a filtered network could not be started, or
    /// could not take a command's listeners; the command does not run.
    #[error("the egress proxy: {0}")]
    EgressProxy(codex_network_proxy::ProxyError),
    /// The calling process could not do its part (its working directory, a
    /// pipe, waiting).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The system's answer.
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The exit status of the contract: 126 refused by the exec policy or not
    /// executable, 127 not found, 125 for everything else codex-policy could
    /// not do.
    pub fn exit_status(&self) -> u8 {
        match self {
            Self::Refused(_) => 126,
            Self::Spawn(err) => crate::native::exit_status(err),
            _ => 125,
        }
    }

    /// Whether this host lacks a protection the policy needs: a best-effort
    /// session would run the command without it (and say so).
    pub fn lacks_protection(&self) -> bool {
        matches!(self, Self::Unenforceable(err) if crate::native::lacks_protection(err))
    }
}

/// What is wrong with the configuration of a session.
///
/// # Examples
///
/// Extra writable roots under a profile that writes nothing are refused
/// before anything is prepared:
///
/// ```
/// use codex_policy::{ConfigurationError, Error, SecurityProfile, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let err = Session::builder()
///     .profile(SecurityProfile::Offline)
///     .cwd(project.path())
///     .writable_root(project.path().join("out"))
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .compose()
///     .unwrap_err();
/// assert!(matches!(
///     err,
///     Error::Configuration(ConfigurationError::ExtraRootsNeedWrites {
///         profile: SecurityProfile::Offline
///     })
/// ));
/// assert_eq!(err.exit_status(), 125);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigurationError {
    /// The profile could not be resolved (environment, `config.toml`).
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The runtime-control files have errors.
    #[error(
        "the configuration has errors; nothing was started\n{}",
        lines(findings)
    )]
    InvalidFiles {
        /// Every error, with file, line, column and key.
        findings: Vec<Finding>,
    },
    /// `config.toml` has errors, so the audit log it names (`[audit] path`)
    /// is not known; no other log is guessed.
    #[error(
        "config.toml has errors, so the audit log it names is not known\n{}",
        lines(findings)
    )]
    AuditLogUnknown {
        /// Every error, with file, line, column and key.
        findings: Vec<Finding>,
    },
    /// A policy file the sandboxed command could have written would loosen
    /// the policy (`CP0024`).
    #[error(
        "a policy file the sandboxed command could have written would loosen the policy; \
         nothing was started\n{}",
        lines(findings)
    )]
    Loosening {
        /// The keys that would loosen it.
        findings: Vec<Finding>,
    },
    /// Extra writable roots were given to a profile that writes nothing.
    #[error(
        "extra writable roots need a profile that writes (workspace, workspace-net, trusted); \
         profile {profile} is read-only"
    )]
    ExtraRootsNeedWrites {
        /// The read-only profile.
        profile: SecurityProfile,
    },
    /// The working directory or the writable roots cannot be resolved.
    #[error(transparent)]
    WritableRoots(#[from] WritableRootsError),
    /// A command's working directory lies outside the session's directory
    /// and its writable roots.
    #[error(
        "{}: a command's working directory must lie inside the session's directory {} or a \
         writable root",
        dir.display(),
        session.display()
    )]
    DirectoryOutsideSession {
        /// The directory asked for.
        dir: PathBuf,
        /// The session's directory.
        session: PathBuf,
    },
    /// A rules file does not load.
    #[cfg(feature = "exec-policy")]
    #[error(transparent)]
    Rules(#[from] codex_execpolicy::LoadError),
    /// No command was given.
    #[error("no command given")]
    EmptyCommand,
    /// A variable set for a command has no name, or one with `=` or NUL:
    /// it cannot be set, and the rules could not judge it.
    #[error("{name:?} is not a name an environment variable can have")]
    BadVariableName {
        /// The name as given.
        name: String,
    },
    /// A rules file's `network_rule` names a host the egress proxy cannot
    /// match (a wildcard in the middle, an invalid name).
    #[cfg(feature = "exec-policy")]
    #[error("network_rule host {host:?}: {source}")]
    NetworkRuleHost {
        /// The host as written.
        host: String,
        /// Why it is not a domain pattern.
        source: codex_policy_model::DomainError,
    },
    /// The standalone proxy was asked for while the effective network is
    /// off: there is nothing it could let through.
    #[error(
        "the effective network is off (decided by {decided_by}): a proxy would refuse \
         everything; choose a profile with network (workspace-net) or a runtime file that \
         enables it"
    )]
    NetworkOff {
        /// Who decided.
        decided_by: String,
    },
    /// The standalone proxy in limited mode needs `$CODEX_HOME` (or
    /// `$HOME`) for the bundle of certificates its clients trust.
    #[error(
        "the read-only network's standalone proxy needs CODEX_HOME or HOME: the certificate \
         bundle its clients trust is kept there"
    )]
    NoCodexHome,
    /// A `.codex-profile` that asks for more (its directory is trusted) lies
    /// where the command could write it with the final writable roots.
    #[error(
        "{}: asks for more than you would otherwise get (its directory is trusted), but the \
         command could rewrite it with these writable roots; it would choose its own next \
         policy",
        path.display()
    )]
    TrustedFileWritable {
        /// The file.
        path: std::path::PathBuf,
    },
    /// A `config.toml` that is not (re)written; nothing was changed.
    #[error("{}: {reason}; nothing was written", path.display())]
    ConfigNotWritten {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
    /// Managed requirements forbid the profile, approval policy or
    /// elevation asked for (located at the requirement).
    #[error("{0}")]
    NotPermitted(codex_policy_model::ConfigError),
}

fn lines(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The exec policy's refusal of one command line.
///
/// # Examples
///
/// A rule that asks, under an approval policy that never asks: refused.
///
/// ```
/// # #[cfg(all(target_os = "linux", feature = "exec-policy"))] {
/// use codex_policy::{
///     ApprovalPolicy, AuditDestination, Error, ExecRules, GateClass, Refusal, Session,
/// };
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let rules = project.path().join("project.rules");
/// std::fs::write(&rules, r#"prefix_rule(pattern = ["git", "push"], decision = "prompt")"#)?;
/// let session = Session::builder()
///     .profile("workspace".parse()?)
///     .approval_policy(ApprovalPolicy::Never, "--ask-for-approval never")
///     .rules(ExecRules::Files(vec![rules]))
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .best_effort(true)
///     .build()?;
/// let err = session.command(["git", "push"]).status().unwrap_err();
/// assert!(matches!(
///     err,
///     Error::Refused(Refusal::NotApproved { class: GateClass::Prompt, asked: false, .. })
/// ));
/// assert!(err.to_string().contains("that policy never asks"));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// A rule forbids it.
    #[error("refused by the exec policy: {explanation}")]
    Forbidden {
        /// The matched rules, in one line.
        explanation: String,
    },
    /// The approval policy asks (or, under `never`, refuses what would ask),
    /// and no approval was given.
    #[error(
        "needs approval under approval policy {approval} ({}) and {}: {explanation}",
        class.as_str(),
        if *asked { "the answer was no" } else if *approval == codex_policy_model::ApprovalPolicy::Never { "that policy never asks" } else { "there was nobody to ask" }
    )]
    NotApproved {
        /// The matched rules, in one line.
        explanation: String,
        /// The class the policy acted on.
        class: crate::GateClass,
        /// The approval policy in force.
        approval: codex_policy_model::ApprovalPolicy,
        /// Whether someone was asked (and declined).
        asked: bool,
    },
}
