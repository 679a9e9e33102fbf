//! Linux: Landlock, seccomp and namespaces (`codex-sandbox-linux`).

pub use codex_sandbox_linux::{
    CA_BUNDLE_PATH, Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError,
    PreparedSandbox, SandboxPlan, Supervised,
};

/// The sandbox of the operating system this was built for.
///
/// # Examples
///
/// One command under a profile's policy, without a session (no exec
/// policy, no audit log):
///
/// ```
/// use std::process::Command;
/// use codex_policy::{NativeSandbox, Sandbox, SecurityProfile};
///
/// let project = tempfile::tempdir()?;
/// let policy = SecurityProfile::Offline.to_sandbox_policy();
/// let mut command = Command::new("sh");
/// command.args(["-c", "echo hi > note"]);
/// let mut started = NativeSandbox::best_effort().spawn(&policy, project.path(), &mut command)?;
/// let status = started.child.wait()?;
/// assert!(!status.success()); // `offline` writes nothing
/// assert!(!project.path().join("note").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type NativeSandbox = codex_sandbox_linux::LinuxSandbox;

/// Why the native sandbox refused or failed.
///
/// # Examples
///
/// ```
/// use std::process::Command;
/// use codex_policy::{NativeSandbox, Sandbox, SandboxError, SecurityProfile};
///
/// let project = tempfile::tempdir()?;
/// let policy = SecurityProfile::Workspace.to_sandbox_policy();
/// let err = NativeSandbox::best_effort()
///     .spawn(&policy, project.path(), &mut Command::new("/no/such/program"))
///     .unwrap_err();
/// assert!(matches!(err, SandboxError::Exec { .. }));
/// assert_eq!(err.exit_status(), 127); // the shell's "not found"
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type SandboxError = codex_sandbox_linux::LinuxSandboxError;

pub(crate) use codex_sandbox_linux::{LinuxSandbox as Backend, PreparedSandbox as PreparedBackend};

/// Where a filtered network's listeners are: the fixed default ports on the
/// sandbox's own loopback (its network namespace is empty).
pub(crate) fn egress_ports() -> codex_policy_model::EgressPorts {
    codex_policy_model::EgressPorts::default()
}

/// Whether each start makes listeners of its own (a network namespace per
/// start) rather than sharing the first start's.
pub(crate) const LISTENERS_PER_START: bool = true;

/// Plans and prepares `backend` for the session's commands.
pub(crate) fn prepare(
    backend: &Backend,
    policy: &codex_policy_model::SandboxPolicy,
    cwd: &std::path::Path,
    tmpdir: Option<&std::ffi::OsStr>,
) -> Result<PreparedBackend, SandboxError> {
    backend
        .plan(policy, cwd, tmpdir)
        .and_then(|plan| backend.prepare(plan))
}

pub(crate) fn exit_status(err: &SandboxError) -> u8 {
    err.exit_status()
}

/// Refuses, before anything is decided or recorded, to make a
/// multi-threaded process the supervisor of a sandbox.
pub(crate) fn check_single_threaded() -> Result<(), SandboxError> {
    let threads = std::fs::read_dir("/proc/self/task")
        .map(Iterator::count)
        .map_err(SandboxError::Io)?;
    if threads > 1 {
        return Err(SandboxError::MultiThreaded { threads });
    }
    Ok(())
}

/// Whether `err` says the host lacks a protection the policy needs (a
/// best-effort sandbox would run without it), rather than a failure.
pub(crate) fn lacks_protection(err: &SandboxError) -> bool {
    matches!(
        err,
        SandboxError::Unenforceable { .. } | SandboxError::NamespacesUnavailable { .. }
    )
}
