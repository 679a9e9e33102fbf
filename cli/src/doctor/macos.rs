//! macOS: Seatbelt, through `/usr/bin/sandbox-exec`.

use std::fmt;
use std::path::{Path, PathBuf};

use codex_policy_model::{EgressPorts, EnvironmentPolicy, HiddenPath, NetworkMode};
use codex_profiles::SecurityProfile;
use codex_sandbox_macos::{MacSandbox, SANDBOX_EXEC};
use serde::Serialize;

use super::{DefaultHidden, ProfileVerdict};
use crate::error::Error;

/// The Seatbelt backend here and every profile's verdict.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HostReport {
    /// The backend: Seatbelt.
    pub backend: &'static str,
    /// The one `sandbox-exec` used, by absolute path.
    pub sandbox_exec: PathBuf,
    /// Whether it is there: without it nothing is started.
    pub sandbox_exec_present: bool,
    /// One verdict per profile, in [`SecurityProfile::ALL`] order.
    pub profiles: Vec<ProfileVerdict>,
    /// The default hidden paths that exist here; Seatbelt denies reading
    /// them in every profile but `trusted`.
    pub hidden_paths: Vec<HiddenPath>,
    /// The variables of this process the default environment policy keeps
    /// from every command (`NAME: why`; values are never shown).
    pub filtered_variables: Vec<String>,
}

impl HostReport {
    /// Makes every profile for the current directory. Starts nothing; a
    /// filtered network's listeners are opened and closed again.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the working directory cannot be read;
    /// [`Error::Configuration`] when Codex's home cannot be found;
    /// [`Error::Unenforceable`] when a profile's Seatbelt profile cannot be made.
    pub fn probe() -> Result<Self, Error> {
        let DefaultHidden { cwd, hide, present } = DefaultHidden::find()?;
        let sandbox_exec_present = Path::new(SANDBOX_EXEC).is_file();
        let tmpdir = std::env::var_os("TMPDIR");
        let mut profiles = Vec::new();
        for profile in SecurityProfile::ALL {
            let policy = profile.to_sandbox_policy();
            let sandbox = MacSandbox::new().hide_paths(hide.iter().cloned());
            // A read-only network runs behind the egress proxy: judged so.
            let prepared = if policy.network_mode() == NetworkMode::Limited {
                sandbox
                    .filtered_network(EgressPorts { http: 0, socks: 0 })
                    .prepare(&policy.with_network_closed(), &cwd, tmpdir.as_deref())
            } else {
                sandbox.prepare(&policy, &cwd, tmpdir.as_deref())
            }
            .map_err(Error::Unenforceable)?;
            let protections = prepared.report().clone();
            profiles.push(ProfileVerdict {
                profile,
                fully_enforceable: sandbox_exec_present && protections.is_complete(),
                protections,
            });
        }
        Ok(Self {
            backend: "Seatbelt",
            sandbox_exec: PathBuf::from(SANDBOX_EXEC),
            sandbox_exec_present,
            profiles,
            hidden_paths: present,
            filtered_variables: EnvironmentPolicy::default().dropped(std::env::vars_os()),
        })
    }

    /// Whether every profile is fully enforceable here.
    pub fn fully_enforceable(&self) -> bool {
        self.profiles.iter().all(|p| p.fully_enforceable)
    }
}

impl fmt::Display for HostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "backend:           Seatbelt ({}: {})",
            self.sandbox_exec.display(),
            if self.sandbox_exec_present {
                "present"
            } else {
                "MISSING: every sandboxed command is refused with 125"
            }
        )?;
        writeln!(
            f,
            "not enforced:      no system-call filter, no process containment (descendants \
             may outlive the command), set-uid programs keep their privileges"
        )?;
        writeln!(
            f,
            "filtered network:  the egress proxy's two listeners on 127.0.0.1, the only \
             addresses the profile lets commands reach"
        )?;
        if self.hidden_paths.is_empty() {
            writeln!(
                f,
                "hidden paths:      none of the default credential stores exist here"
            )?;
        } else {
            writeln!(
                f,
                "hidden paths:      denied to read and write by the profile (every profile but \
                 trusted)"
            )?;
            for hidden in &self.hidden_paths {
                writeln!(f, "  {}  <- {}", hidden.path.display(), hidden.decided_by)?;
            }
        }
        super::write_environment(f, &self.filtered_variables)?;
        super::write_verdicts(f, &self.profiles)
    }
}
