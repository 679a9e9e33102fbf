//! What this host can enforce, for every profile: `codex-policy doctor`.
//! The backend's own report (Linux: the kernel's features; macOS:
//! Seatbelt), with what every backend shares: the hidden credential stores
//! present here, the variables kept from commands, a verdict per profile.

use std::fmt;
use std::path::PathBuf;

use codex_policy_model::{EnforcementReport, EnvironmentPolicy, HiddenPath};
use codex_profiles::SecurityProfile;
use serde::Serialize;

use crate::environment::Environment;
use crate::error::Error;

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::HostReport;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::HostReport;

/// One profile's verdict on this host.
///
/// # Examples
///
/// [`HostReport::probe`] gives one per profile:
///
/// ```
/// use codex_policy::{HostReport, SecurityProfile};
///
/// let report = HostReport::probe()?;
/// let verdict = report
///     .profiles
///     .iter()
///     .find(|v| v.profile == SecurityProfile::Workspace)
///     .ok_or("every profile has a verdict")?;
/// // Fully enforceable exactly when no protection it needs is missing here.
/// assert_eq!(verdict.fully_enforceable, verdict.protections.missing().next().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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

/// The default hidden paths for the current directory.
struct DefaultHidden {
    cwd: PathBuf,
    /// All of them: every profile is planned with the whole list, as a
    /// session is (a store created later is hidden from the next command).
    hide: Vec<PathBuf>,
    /// Those there now, which the report names.
    present: Vec<HiddenPath>,
}

impl DefaultHidden {
    fn find() -> Result<Self, Error> {
        let cwd = std::env::current_dir().map_err(|source| Error::Io {
            what: "the working directory",
            source,
        })?;
        let defaults = crate::compose::default_hidden_paths(&Environment::process(), Some(&cwd))
            .map_err(Error::Configuration)?;
        let hide = defaults.iter().map(std::path::Path::to_path_buf).collect();
        let present = defaults
            .paths
            .into_iter()
            .filter(|p| p.path.symlink_metadata().is_ok())
            .collect();
        Ok(Self { cwd, hide, present })
    }
}

/// The environment policy's line and the variables it drops here.
fn write_environment(f: &mut fmt::Formatter<'_>, filtered: &[String]) -> fmt::Result {
    writeln!(
        f,
        "environment:       variables named like {} or holding a secret are not passed to \
         commands (the default [shell_environment_policy]); here: {}",
        EnvironmentPolicy::DEFAULT_EXCLUDES.join(", "),
        if filtered.is_empty() {
            "none".to_owned()
        } else {
            filtered.len().to_string()
        }
    )?;
    for dropped in filtered {
        writeln!(f, "  {dropped}")?;
    }
    Ok(())
}

/// Every profile's verdict and protections.
fn write_verdicts(f: &mut fmt::Formatter<'_>, verdicts: &[ProfileVerdict]) -> fmt::Result {
    for verdict in verdicts {
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
