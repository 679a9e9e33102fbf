//! What this host can enforce, for every profile: `codex-policy doctor`.

use std::fmt;

use codex_policy_model::EnforcementReport;
use codex_profiles::SecurityProfile;
use serde::Serialize;

use crate::error::Error;
use crate::native::{Compatibility, HostCapabilities, LinuxSandbox};

/// One profile's verdict on this host.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct ProfileVerdict {
    /// The profile.
    pub profile: SecurityProfile,
    /// Whether every protection it needs is enforced here.
    pub fully_enforceable: bool,
    /// Every protection, enforced or not.
    pub protections: EnforcementReport,
}

/// The host's sandboxing features and every profile's verdict.
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HostReport {
    /// What the kernel offers.
    pub host: HostCapabilities,
    /// One verdict per profile, in [`SecurityProfile::ALL`] order.
    pub profiles: Vec<ProfileVerdict>,
}

impl HostReport {
    /// Probes the host once (user namespaces included) and plans every
    /// profile for the current directory. Starts nothing.
    pub fn probe() -> Result<Self, Error> {
        let host = HostCapabilities::probe(true);
        let sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, host.clone());
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            what: "the working directory",
            source,
        })?;
        let tmpdir = std::env::var_os("TMPDIR");
        let mut profiles = Vec::new();
        for profile in SecurityProfile::ALL {
            let plan = sandbox
                .plan(&profile.to_sandbox_policy(), &cwd, tmpdir.as_deref())
                .map_err(Error::Unenforceable)?;
            profiles.push(ProfileVerdict {
                profile,
                fully_enforceable: plan.report.is_complete(),
                protections: plan.report,
            });
        }
        Ok(Self { host, profiles })
    }

    /// Whether every profile is fully enforceable here.
    pub fn fully_enforceable(&self) -> bool {
        self.profiles.iter().all(|p| p.fully_enforceable)
    }
}

impl fmt::Display for HostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        writeln!(f, "kernel:            {}", host.kernel)?;
        match host.landlock_abi {
            Some(abi) => writeln!(f, "landlock:          ABI {abi}")?,
            None => writeln!(
                f,
                "landlock:          unavailable ({})",
                host.landlock_error.as_deref().unwrap_or("?")
            )?,
        }
        writeln!(f, "seccomp:           {}", yes_no(host.seccomp))?;
        match (host.namespaces, &host.namespaces_error) {
            (Some(true), _) => writeln!(f, "user namespaces:   yes (user, mount, network, pid)")?,
            (_, Some(err)) => writeln!(f, "user namespaces:   no ({err})")?,
            _ => writeln!(f, "user namespaces:   unknown")?,
        }
        for verdict in &self.profiles {
            write!(
                f,
                "\nprofile {}: {}\n{}",
                verdict.profile,
                if verdict.fully_enforceable {
                    "fully enforceable"
                } else {
                    "NOT fully enforceable (a strict session refuses it; best effort runs it \
                     without the missing protections)"
                },
                verdict.protections
            )?;
        }
        Ok(())
    }
}
