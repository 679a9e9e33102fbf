//! Every other Unix (the BSDs, …): no backend, so every start is refused.
//! Windows does not get this far: the crate does not build there.

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
         none is started (Linux and macOS have one)"
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
