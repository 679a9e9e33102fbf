//! Linux: Landlock, seccomp and namespaces (`codex-sandbox-linux`).

pub use codex_sandbox_linux::{
    CA_BUNDLE_PATH, Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError,
    PreparedSandbox, SandboxPlan, Supervised,
};

/// The sandbox of the operating system this was built for.
pub type NativeSandbox = codex_sandbox_linux::LinuxSandbox;

/// Why the native sandbox refused or failed.
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
