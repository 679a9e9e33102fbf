//! The sandbox of the operating system this was built for: the Linux backend
//! on Linux; elsewhere a sandbox that refuses, saying why.

#[cfg(target_os = "linux")]
pub use codex_sandbox_linux::{
    CA_BUNDLE_PATH, Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError,
    PreparedSandbox, SandboxPlan, Supervised,
};

/// The sandbox of the operating system this was built for.
#[cfg(target_os = "linux")]
pub type NativeSandbox = codex_sandbox_linux::LinuxSandbox;

/// Why the native sandbox refused or failed.
#[cfg(target_os = "linux")]
pub type SandboxError = codex_sandbox_linux::LinuxSandboxError;

#[cfg(target_os = "linux")]
pub(crate) fn exit_status(err: &SandboxError) -> u8 {
    err.exit_status()
}

/// Refuses, before anything is decided or recorded, to make a
/// multi-threaded process the supervisor of a sandbox.
#[cfg(target_os = "linux")]
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
#[cfg(target_os = "linux")]
pub(crate) fn lacks_protection(err: &SandboxError) -> bool {
    matches!(
        err,
        SandboxError::Unenforceable { .. } | SandboxError::NamespacesUnavailable { .. }
    )
}

#[cfg(not(target_os = "linux"))]
mod unsupported {
    use std::path::Path;
    use std::process::Command;

    use codex_policy_model::{Sandbox, SandboxPolicy, SandboxedChild};

    /// Why there is no sandbox here.
    #[derive(Debug, thiserror::Error)]
    #[non_exhaustive]
    pub enum SandboxError {
        /// This operating system has no backend in this build.
        #[error(
            "no sandbox backend for {os} in this build: commands cannot be confined here, so \
             none is started{}",
            if *os == "windows" {
                "; Windows has no sandbox guarantees: run codex-policy inside WSL 2, where the \
                 Linux sandbox enforces the policy"
            } else {
                ""
            }
        )]
        UnsupportedPlatform {
            /// `std::env::consts::OS`.
            os: &'static str,
        },
    }

    /// The native sandbox of an operating system without a backend: every
    /// spawn is refused (never run unconfined).
    #[derive(Debug, Clone, Default)]
    #[non_exhaustive]
    pub struct NativeSandbox;

    impl NativeSandbox {
        /// The refusing sandbox.
        pub fn new() -> Self {
            Self
        }
    }

    impl Sandbox for NativeSandbox {
        type Error = SandboxError;

        fn spawn(
            &self,
            _: &SandboxPolicy,
            _: &Path,
            _: &mut Command,
        ) -> Result<SandboxedChild, SandboxError> {
            Err(SandboxError::UnsupportedPlatform {
                os: std::env::consts::OS,
            })
        }
    }

    pub(crate) fn exit_status(_: &SandboxError) -> u8 {
        125
    }

    pub(crate) fn lacks_protection(_: &SandboxError) -> bool {
        true
    }

    pub(crate) fn check_single_threaded() -> Result<(), SandboxError> {
        Ok(())
    }
}

#[cfg(not(target_os = "linux"))]
pub use unsupported::{NativeSandbox, SandboxError};
#[cfg(not(target_os = "linux"))]
pub(crate) use unsupported::{check_single_threaded, exit_status, lacks_protection};
