//! The macOS launcher: the shared profile, started through `sandbox-exec`.
//! Every decision is made in the platform-independent code; this file only
//! spawns.

use std::path::{Path, PathBuf};
use std::process::Command;

use codex_policy_model::{
    EnforcementReport, Protection, ProtectionReport, ProtectionStatus, Sandbox, SandboxPolicy,
    SandboxedChild,
};

use crate::{SeatbeltError, SeatbeltNetwork, SeatbeltProfile, UnixSockets};

/// Runs commands under a Seatbelt profile made for each start.
#[derive(Debug, Clone, Default)]
pub struct MacSandbox {
    network: Option<SeatbeltNetwork>,
    unix_sockets: UnixSockets,
    hidden: Vec<PathBuf>,
    protected: Vec<PathBuf>,
}

/// Why a command was not started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MacSandboxError {
    /// The profile could not be made.
    #[error(transparent)]
    Profile(SeatbeltError),
    /// `sandbox-exec` (or, for full access, the command) did not start.
    #[error("starting the command: {0}")]
    Spawn(#[from] std::io::Error),
}

impl MacSandbox {
    /// A sandbox with the builder's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// See [`crate::SeatbeltBuilder::network`].
    pub fn network(mut self, network: SeatbeltNetwork) -> Self {
        self.network = Some(network);
        self
    }

    /// See [`crate::SeatbeltBuilder::unix_sockets`].
    pub fn unix_sockets(mut self, sockets: UnixSockets) -> Self {
        self.unix_sockets = sockets;
        self
    }

    /// See [`crate::SeatbeltBuilder::hidden_paths`].
    pub fn hide_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.hidden.extend(paths);
        self
    }

    /// See [`crate::SeatbeltBuilder::protected_paths`].
    pub fn protect_paths(mut self, paths: impl IntoIterator<Item = PathBuf>) -> Self {
        self.protected.extend(paths);
        self
    }
}

impl Sandbox for MacSandbox {
    type Error = MacSandboxError;

    fn spawn(
        &self,
        policy: &SandboxPolicy,
        cwd: &Path,
        command: &mut Command,
    ) -> Result<SandboxedChild, Self::Error> {
        let mut builder = SeatbeltProfile::builder(policy, cwd)
            .tmpdir(std::env::var_os("TMPDIR").as_deref())
            .unix_sockets(self.unix_sockets.clone())
            .hidden_paths(self.hidden.iter().cloned())
            .protected_paths(self.protected.iter().cloned());
        if let Some(network) = self.network {
            builder = builder.network(network);
        }
        match builder.build() {
            Ok(profile) => {
                let mut wrapped = profile.command(command);
                if command.get_current_dir().is_none() {
                    wrapped.current_dir(cwd);
                }
                Ok(SandboxedChild {
                    child: wrapped.spawn()?,
                    report: profile.report(),
                    egress_listeners: None,
                })
            }
            Err(SeatbeltError::FullAccess) => {
                if command.get_current_dir().is_none() {
                    command.current_dir(cwd);
                }
                let protections = Protection::ALL
                    .into_iter()
                    .map(|p| ProtectionReport::new(p, false, ProtectionStatus::NotNeeded))
                    .collect();
                Ok(SandboxedChild {
                    child: command.spawn()?,
                    report: EnforcementReport::new(protections, vec!["no sandbox".to_owned()]),
                    egress_listeners: None,
                })
            }
            Err(e) => Err(MacSandboxError::Profile(e)),
        }
    }
}
