//! macOS: Seatbelt through `/usr/bin/sandbox-exec` (`codex-sandbox-macos`).

pub use codex_sandbox_macos::{MacSandbox, MacSandboxError, MacSupervised, PreparedMacSandbox};

/// The sandbox of the operating system this was built for.
pub type NativeSandbox = codex_sandbox_macos::MacSandbox;

/// Why the native sandbox refused or failed.
pub type SandboxError = codex_sandbox_macos::MacSandboxError;

pub(crate) use codex_sandbox_macos::{
    MacSandbox as Backend, PreparedMacSandbox as PreparedBackend,
};

/// Any free ports on the host's loopback: Seatbelt has no private network,
/// so fixed ports would collide between sessions.
pub(crate) fn egress_ports() -> codex_policy_model::EgressPorts {
    codex_policy_model::EgressPorts { http: 0, socks: 0 }
}

/// The listeners are the session's, handed out by its first start.
pub(crate) const LISTENERS_PER_START: bool = false;

/// Prepares `backend` for the session's commands.
pub(crate) fn prepare(
    backend: &Backend,
    policy: &codex_policy_model::SandboxPolicy,
    cwd: &std::path::Path,
    tmpdir: Option<&std::ffi::OsStr>,
) -> Result<PreparedBackend, SandboxError> {
    backend.prepare(policy, cwd, tmpdir)
}

pub(crate) fn exit_status(err: &SandboxError) -> u8 {
    err.exit_status()
}

/// Seatbelt starts commands as ordinary children: any thread may.
pub(crate) fn check_single_threaded() -> Result<(), SandboxError> {
    Ok(())
}

pub(crate) fn lacks_protection(err: &SandboxError) -> bool {
    err.lacks_protection()
}
