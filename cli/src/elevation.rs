//! Time-limited elevation: grants made with [`SessionBuilder::elevate`]
//! (`codex-policy elevate`), used by the sessions of their project while
//! valid, each grant, use, expiry and revocation audited.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use codex_audit::{AuditDecision, Operation};
use codex_profiles::{ELEVATIONS_DIR_NAME, ElevationStore, Grant, GrantStatus, SecurityProfile};

use crate::compose::RuntimeFiles;
use crate::environment::Environment;
use crate::error::{ConfigurationError, Error};
use crate::notice::{Notice, Notices};
use crate::session::SessionBuilder;

/// The project a directory belongs to, as grants are bound: the nearest
/// ancestor (or the directory itself) holding `.git`, else the directory;
/// symlinks resolved.
///
/// # Examples
///
/// ```
/// use codex_policy::{Error, elevation_project};
///
/// let repo = tempfile::tempdir()?;
/// std::fs::create_dir(repo.path().join(".git"))?;
/// let src = repo.path().join("crates/app/src");
/// std::fs::create_dir_all(&src)?;
/// // A grant made anywhere in the repository is bound to its top.
/// assert_eq!(elevation_project(&src)?, repo.path().canonicalize()?);
///
/// let missing = elevation_project(&repo.path().join("missing"));
/// assert!(matches!(missing, Err(Error::Io { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`Error::Io`] when `dir` cannot be resolved (missing, unreadable).
pub fn elevation_project(dir: &Path) -> Result<PathBuf, Error> {
    let real = std::fs::canonicalize(dir)
        .and_then(|real| {
            if real.is_dir() {
                Ok(real)
            } else {
                Err(std::io::Error::other("not a directory"))
            }
        })
        .map_err(|source| Error::Io {
            what: "the project directory",
            source: std::io::Error::new(source.kind(), format!("{}: {source}", dir.display())),
        })?;
    Ok(real
        .ancestors()
        .find(|a| a.join(".git").symlink_metadata().is_ok())
        .map_or_else(|| real.clone(), Path::to_path_buf))
}

/// The store, if grants were ever made (nothing is created to look).
fn existing_store(env: &Environment) -> Result<Option<ElevationStore>, Error> {
    let Some(home) = env
        .codex_home()
        .map_err(|e| Error::Configuration(e.into()))?
    else {
        return Ok(None);
    };
    if home.join(ELEVATIONS_DIR_NAME).symlink_metadata().is_err() {
        return Ok(None);
    }
    ElevationStore::open(&home)
        .map(Some)
        .map_err(Error::Elevation)
}

/// Refused when managed requirements set `allow_elevation = false`.
fn check_allowed(files: &RuntimeFiles) -> Result<(), Error> {
    for (source, requirements) in crate::compose::managed_requirements(files)? {
        if let Some(allowed) = &requirements.allow_elevation
            && !allowed.get_ref()
        {
            return Err(ConfigurationError::NotPermitted(source.error(
                Some(allowed.span()),
                Some("allow_elevation".into()),
                "managed requirements forbid time-limited elevation",
                Some("ask whoever manages this machine's requirements.toml".into()),
            ))
            .into());
        }
    }
    Ok(())
}

/// The grant for the project of `cwd` a session may use: an active one
/// (unless managed requirements forbid elevation: then a warning), or an
/// expired one (a note; never used).
pub(crate) fn usable_grant(
    env: &Environment,
    files: &RuntimeFiles,
    cwd: &Path,
    notices: &Notices,
) -> Result<Option<GrantStatus>, Error> {
    let Some(store) = existing_store(env)? else {
        return Ok(None);
    };
    let project = elevation_project(cwd)?;
    let status = store
        .lookup(&project, SystemTime::now())
        .map_err(Error::Elevation)?;
    match &status {
        GrantStatus::Active(grant) => {
            if let Err(err) = check_allowed(files) {
                notices.emit(Notice::warning(format!(
                    "the elevation to {} for {} is not used: {err}",
                    grant.profile,
                    project.display()
                )));
                return Ok(None);
            }
        }
        GrantStatus::Expired(grant) => notices.emit(Notice::note(format!(
            "the elevation to {} for {} expired at {}: ignored",
            grant.profile,
            project.display(),
            codex_profiles::format_time(grant.expires_at)
        ))),
        _ => return Ok(None),
    }
    Ok(Some(status))
}

/// Records the use or the expiry of the session's grant, and removes an
/// expired one.
pub(crate) fn record_use(
    core_trail: &mut crate::trail::AuditTrail,
    env: &Environment,
    files: &RuntimeFiles,
    cwd: &Path,
    elevated: bool,
) -> Result<(), Error> {
    let Some(store) = existing_store(env)? else {
        return Ok(());
    };
    let project = elevation_project(cwd)?;
    let status = store
        .lookup(&project, SystemTime::now())
        .map_err(Error::Elevation)?;
    let (decision, reason) = match status {
        GrantStatus::Active(grant) if elevated => (
            AuditDecision::Allowed,
            format!(
                "used: {} until {} ({})",
                grant.profile,
                codex_profiles::format_time(grant.expires_at),
                grant.reason
            ),
        ),
        GrantStatus::Active(grant) => {
            if check_allowed(files).is_ok() {
                return Ok(());
            }
            (
                AuditDecision::Denied,
                format!(
                    "not used: managed requirements forbid elevation ({})",
                    grant.profile
                ),
            )
        }
        GrantStatus::Expired(grant) => {
            store.revoke(&project).map_err(Error::Elevation)?;
            (
                AuditDecision::Denied,
                format!(
                    "expired at {}, ignored and removed: {} ({})",
                    codex_profiles::format_time(grant.expires_at),
                    grant.profile,
                    grant.reason
                ),
            )
        }
        _ => return Ok(()),
    };
    let event = core_trail
        .event(
            Operation::Elevation,
            project.display().to_string(),
            decision,
            "elevation",
        )
        .with_reason(reason);
    core_trail.record(event)
}

impl SessionBuilder {
    /// Grants the project of the session's directory the profile `to` for
    /// `duration` (at most 8 hours), for `reason`; sessions of the project
    /// use it until it expires. Refused when managed requirements forbid
    /// elevation or the profile's sandbox mode. Audited.
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`] when requirements forbid elevation or the
    /// profile's mode, or the duration is out of range; [`Error::Elevation`]
    /// when the grant cannot be written; [`Error::AuditLog`] when it cannot be
    /// recorded under a fail-closed log. No grant exists then.
    pub fn elevate(
        &self,
        to: SecurityProfile,
        duration: Duration,
        reason: &str,
    ) -> Result<Grant, Error> {
        // Every configuration file is validated, as for a run.
        self.compose()?;
        check_allowed(self.runtime_files_ref())?;
        crate::compose::check_sandbox_mode(self.runtime_files_ref(), to)?;
        let (store, project) = self.elevation_store(true)?;
        let Some(store) = store else {
            return Err(ConfigurationError::NoCodexHome.into());
        };
        let grant = store
            .grant(&project, to, duration, reason, SystemTime::now())
            .map_err(Error::Elevation)?;
        self.record_elevation(
            &project,
            AuditDecision::Allowed,
            format!(
                "granted: {} for {} until {} ({})",
                grant.profile,
                codex_profiles::format_duration(duration),
                codex_profiles::format_time(grant.expires_at),
                grant.reason
            ),
        )?;
        Ok(grant)
    }

    /// The grant of the project of the session's directory, and the project.
    ///
    /// # Errors
    ///
    /// [`Error::Elevation`] when the grant store cannot be read (a tampered
    /// grant is reported as invalid, not an error).
    pub fn elevation_status(&self) -> Result<(PathBuf, GrantStatus), Error> {
        let (store, project) = self.elevation_store(false)?;
        let status = match store {
            Some(store) => store
                .lookup(&project, SystemTime::now())
                .map_err(Error::Elevation)?,
            None => GrantStatus::None,
        };
        Ok((project, status))
    }

    /// Revokes the grant of the project of the session's directory; the
    /// grant that was revoked, if any. Audited.
    ///
    /// # Errors
    ///
    /// [`Error::Elevation`] when the grant cannot be removed;
    /// [`Error::AuditLog`] when it cannot be recorded under a fail-closed log.
    pub fn revoke_elevation(&self) -> Result<(PathBuf, Option<Grant>), Error> {
        let (store, project) = self.elevation_store(false)?;
        let Some(store) = store else {
            return Ok((project, None));
        };
        let revoked = store.revoke(&project).map_err(Error::Elevation)?;
        if let Some(grant) = &revoked {
            self.record_elevation(
                &project,
                AuditDecision::Allowed,
                format!("revoked: {} ({})", grant.profile, grant.reason),
            )?;
        }
        Ok((project, revoked))
    }

    fn elevation_store(&self, create: bool) -> Result<(Option<ElevationStore>, PathBuf), Error> {
        let project = elevation_project(&self.absolute_cwd()?)?;
        let env = self.environment_ref();
        let store = if create {
            match env
                .codex_home()
                .map_err(|e| Error::Configuration(e.into()))?
            {
                Some(home) => Some(ElevationStore::open(&home).map_err(Error::Elevation)?),
                None => None,
            }
        } else {
            existing_store(env)?
        };
        Ok((store, project))
    }

    fn record_elevation(
        &self,
        project: &Path,
        decision: AuditDecision,
        reason: String,
    ) -> Result<(), Error> {
        let mut trail = self.audit_trail()?;
        let event = trail
            .event(
                Operation::Elevation,
                project.display().to_string(),
                decision,
                "elevation",
            )
            .with_reason(reason);
        trail.record(event)
    }
}
