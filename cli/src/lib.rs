//! codex-policy decides and enforces what an AI agent's child processes may do.
//!
//! An embedder holds one [`Session`] per agent session. Building it runs the
//! whole pipeline once — the profile resolved ([`ProfileResolver`]), the
//! runtime-control files found, validated and composed into one effective
//! policy (most restrictive wins), the exec-policy rules loaded, the audit
//! trail opened, the OS sandbox planned and prepared — and every command of
//! the session is then gated, sandboxed and audited the way `codex-policy
//! run` does it, from any thread. [`Error`] says which stage failed.
//!
//! ```
//! use codex_policy::{AuditDestination, SecurityProfile, Session};
//!
//! let profile: SecurityProfile = "workspace".parse()?;
//! assert!(profile.allows_write() && !profile.allows_network());
//! # #[cfg(target_os = "linux")] {
//! let project = tempfile::tempdir()?;
//! # let home = tempfile::tempdir()?;
//! let session = Session::builder()
//! #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
//!     .profile(profile)
//!     .cwd(project.path())
//!     .audit(AuditDestination::File(project.path().join("audit.jsonl")))
//!     .best_effort(true)
//!     .build()?;
//! let output = session.command(["sh", "-c", "echo hi > note; touch /etc/x"]).output()?;
//! assert!(!output.status.success()); // /etc is not writable
//! assert!(project.path().join("note").exists()); // the project is
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The embedder's path
//!
//! **1. Build the session once.** Everything that can be wrong is found
//! here, before anything runs: each [`Error`] variant names its stage, and
//! [`Error::exit_status`] gives the status `codex-policy run` would exit
//! with (125: cannot enforce or invalid configuration).
//!
//! ```
//! use codex_policy::{AuditDestination, ConfigurationError, Error, Session};
//!
//! let project = tempfile::tempdir()?;
//! // A configuration file with a typo: a located error, and nothing runs.
//! std::fs::write(project.path().join(".codexrc.json"), r#"{"network_acces": "enabled"}"#)?;
//! # let home = tempfile::tempdir()?;
//! let err = Session::builder()
//! #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
//!     .profile("workspace".parse()?)
//!     .cwd(project.path())
//!     .audit(AuditDestination::Off)
//!     .build()
//!     .unwrap_err();
//! assert!(matches!(err, Error::Configuration(ConfigurationError::InvalidFiles { .. })));
//! assert_eq!(err.exit_status(), 125);
//! assert!(err.to_string().contains(".codexrc.json:1:"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **2. Ask before running.** [`Session::check`] is the exec policy's answer
//! on a command line, with the rules that decided it; nothing is recorded.
//!
//! ```
//! # #[cfg(all(target_os = "linux", feature = "exec-policy"))] {
//! use codex_policy::{AuditDestination, GateClass, Session};
//!
//! let project = tempfile::tempdir()?;
//! # let home = tempfile::tempdir()?;
//! let session = Session::builder()
//! #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
//!     .profile("workspace".parse()?)
//!     .cwd(project.path())
//!     .audit(AuditDestination::Off)
//!     .best_effort(true)
//!     .build()?;
//! // The built-in default policy forbids destroying the system.
//! let check = session.check(&["rm", "-rf", "/"])?.expect("built-in rules");
//! assert_eq!(check.class(), GateClass::Forbidden);
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **3. Run commands** with [`Session::command`], shaped like
//! `std::process::Command`. A refused one is [`Error::Refused`] (126) and
//! never starts; the others run in the sandbox, from any thread.
//!
//! **4. Read what happened**: every decision is a line of the audit log,
//! which [`audit::read_log`] reads back and [`audit::Filter`] narrows.
//!
//! ```
//! # #[cfg(target_os = "linux")] {
//! use codex_policy::audit::{AuditDecision, Filter, Operation, read_log};
//! use codex_policy::{AuditDestination, Session};
//!
//! let project = tempfile::tempdir()?;
//! let log = project.path().join("audit.jsonl");
//! # let home = tempfile::tempdir()?;
//! let session = Session::builder()
//! #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
//!     .profile("offline".parse()?)
//!     .cwd(project.path())
//!     .audit(AuditDestination::File(log.clone()))
//!     .best_effort(true)
//!     .build()?;
//! session.command(["true"]).status()?;
//! let starts = Filter::default().with_operation(Operation::SandboxStart);
//! let events = read_log(&log)?.events;
//! assert!(events.iter().any(|e| starts.matches(e) && e.decision == AuditDecision::Allowed));
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The pieces stay available on their own: [`SecurityProfile::to_sandbox_policy`]
//! gives a [`SandboxPolicy`], and [`NativeSandbox`] (a [`Sandbox`]) runs one
//! command under it. Features: `exec-policy` (the Starlark rule engine and
//! the shell parser: [`Session::check`], rules files) and `cli` (the
//! `codex-policy` binary) are on by default; `default-features = false`
//! leaves profiles, runtime files, the sandbox and the audit log.

// Standard error may be a closed pipe: `eprintln!` would panic there.
#![deny(clippy::print_stderr)]

// Windows has no sandbox backend, and this crate's files, permissions and
// processes are Unix ones: say so at build time rather than with a wall of
// unrelated errors, and say where it does work.
#[cfg(windows)]
compile_error!(
    "codex-policy does not build for Windows: it has no sandbox there, so commands could not \
     be confined. Build and run it inside WSL 2, where the Linux sandbox enforces the policy. \
     (codex-policy-model and codex-execpolicy build on Windows, for decisions without \
     enforcement.)"
);

mod approval;
mod compose;
#[cfg(any(target_os = "linux", target_os = "macos"))]
mod doctor;
mod egress;
mod elevation;
mod environment;
mod error;
#[cfg(feature = "exec-policy")]
mod gate;
mod native;
mod notice;
mod seatbelt;
mod session;
mod template;
mod trail;

pub use approval::{
    Approval, ApprovalKind, ApprovalRequest, Approver, GateAction, GateClass, gate_action,
};
pub use compose::{
    Composition, MANAGED_REQUIREMENTS, RuntimeFiles, default_hidden_paths, loosening,
    validate_files,
};
#[cfg(any(target_os = "linux", target_os = "macos"))]
pub use doctor::{HostReport, ProfileVerdict};
pub use egress::StandaloneProxy;
pub use elevation::elevation_project;
pub use environment::Environment;
pub use error::{ConfigurationError, Error, Refusal};
#[cfg(feature = "exec-policy")]
pub use gate::{Check, ExecRules};
pub use native::*;
pub use notice::{Notice, NoticeLevel};
pub use seatbelt::SeatbeltPlan;
#[cfg(feature = "exec-policy")]
pub use session::Checker;
pub use session::{Session, SessionBuilder, SessionChild, SessionCommand};
pub use template::add_profile_template;
pub use trail::{
    AuditDestination, ConfiguredAuditLog, audit_target, configured_audit_keep,
    configured_audit_log, default_audit_log, shell_words,
};

pub use codex_audit as audit;
#[cfg(feature = "exec-policy")]
pub use codex_execpolicy as execpolicy;
pub use codex_network_proxy as network_proxy;
pub use codex_policy_model as model;
pub use codex_policy_model::ApprovalPolicy;
pub use codex_policy_model::{
    CodexConfig, ConfigError, Diagnostic, EffectiveWritableRoots, EnforcementReport, Location,
    Protection, ProtectionStatus, Sandbox, SandboxMode, SandboxPolicy, SandboxedChild,
    WritableRoot, WritableRootsError,
};
pub use codex_profiles as profiles;
pub use codex_profiles::{
    ApprovalChoice, Capabilities, ProfileChoice, ProfileError, ProfileResolver, ProfileSource,
    ResolvedProfile, SecurityProfile,
};

/// The status `codex-policy run` exits with for a command that ended with
/// `status`: its exit code, or 128+N when signal N killed it.
///
/// # Examples
///
/// ```
/// use std::os::unix::process::ExitStatusExt;
/// use std::process::ExitStatus;
/// use codex_policy::exit_code;
///
/// assert_eq!(exit_code(ExitStatus::from_raw(3 << 8)), 3); // exit(3)
/// assert_eq!(exit_code(ExitStatus::from_raw(libc::SIGKILL)), 128 + 9); // killed
///
/// let status = std::process::Command::new("sh").args(["-c", "exit 7"]).status()?;
/// assert_eq!(exit_code(status), 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(128)
}

/// Codex's home (`$CODEX_HOME`, else `~/.codex`) as the sandbox must protect
/// it: never writable by the command. A home that does not exist but lies
/// inside one of `roots` could be created by the command — and a
/// `config.toml` it planted there would be read by the next run — so it is
/// created first (mode 0700), and a note says so. `Ok(None)` when no home is
/// configured.
fn prepare_codex_home(
    roots: &EffectiveWritableRoots,
    notices: &notice::Notices,
    env: &Environment,
) -> Result<Option<std::path::PathBuf>, ProfileError> {
    let Some(home) = env.codex_home()? else {
        return Ok(None);
    };
    if home.symlink_metadata().is_ok() {
        return Ok(Some(home));
    }
    // Where it would be created, as the sandbox sees paths (canonical parents).
    let nearest = home.ancestors().find_map(|a| std::fs::canonicalize(a).ok());
    let inside =
        nearest.is_some_and(|existing| roots.roots.iter().any(|r| existing.starts_with(&r.root)));
    if !inside {
        return Ok(Some(home));
    }
    use std::os::unix::fs::DirBuilderExt;
    let created = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&home)
        .is_ok();
    if created {
        notices.note(format!(
            "created {} (mode 0700): Codex's home lies inside a writable root, and must exist \
             for the sandbox to keep it read-only",
            home.display()
        ));
    }
    Ok(Some(home))
}
