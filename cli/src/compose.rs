//! The configuration stage of a session: finding the runtime-control files,
//! validating them, and composing them with the profile into one
//! [`EffectivePolicy`].

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use codex_policy_model::effective::{self, EffectivePolicy};
use codex_policy_model::tightening::{RunContext, loosening_findings};
use codex_policy_model::validate::{Finding, Severity, Validation, ValidationInputs, validate};
use codex_policy_model::{
    CommandWritable, DefaultLocations, EnvironmentPolicy, HiddenPaths, NaiveDate,
};
use codex_profiles::{ProfileError, ProfileSource, ResolvedProfile, SecurityProfile};

use crate::SandboxPolicy;
use crate::environment::Environment;
use crate::error::ConfigurationError;

/// Where managed requirements live on Codex installations.
pub const MANAGED_REQUIREMENTS: &str = "/etc/codex/requirements.toml";

/// The runtime-control files a session reads. A file left `None` is found as
/// `codex-policy run` finds it: `.codexrc.json` from `$CODEX_RUNTIME_CONFIG`,
/// else in the project directory; `harness.policy.json` from
/// `$CODEX_POLICY_FILE`, else in the project directory; `config.toml` in
/// `$CODEX_HOME` (default `~/.codex`); `requirements.toml` at
/// [`MANAGED_REQUIREMENTS`]. A file at a conventional place is read only if
/// it exists; a path named by `$CODEX_RUNTIME_CONFIG` or `$CODEX_POLICY_FILE`
/// is always read, so a missing one is reported rather than skipped (and a
/// variable set but empty is refused, never read as unset).
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy::{Environment, RuntimeFiles};
///
/// let project = tempfile::tempdir()?;
/// let home = tempfile::tempdir()?;
/// std::fs::write(project.path().join("harness.policy.json"), "{}")?;
///
/// let files = RuntimeFiles::default().with_runtime("/etc/agent/codexrc.json");
/// let env = Environment::from_vars([("HOME", home.path())]);
/// let inputs = files.discover(project.path(), &env)?;
/// // The explicit file is used as given; the other is found in the project.
/// assert_eq!(inputs.runtime.as_deref(), Some(Path::new("/etc/agent/codexrc.json")));
/// assert_eq!(inputs.policy, Some(project.path().join("harness.policy.json")));
/// assert_eq!(inputs.config, None); // no config.toml in Codex's home
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RuntimeFiles {
    /// `.codexrc.json`.
    pub runtime: Option<PathBuf>,
    /// `harness.policy.json`.
    pub policy: Option<PathBuf>,
    /// `config.toml`.
    pub config: Option<PathBuf>,
    /// Managed `requirements.toml`.
    pub requirements: Option<PathBuf>,
}

impl RuntimeFiles {
    /// This `.codexrc.json`.
    #[must_use]
    pub fn with_runtime(mut self, path: impl Into<PathBuf>) -> Self {
        self.runtime = Some(path.into());
        self
    }

    /// This `harness.policy.json`.
    #[must_use]
    pub fn with_policy(mut self, path: impl Into<PathBuf>) -> Self {
        self.policy = Some(path.into());
        self
    }

    /// This `config.toml`.
    #[must_use]
    pub fn with_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.config = Some(path.into());
        self
    }

    /// This managed `requirements.toml`.
    #[must_use]
    pub fn with_requirements(mut self, path: impl Into<PathBuf>) -> Self {
        self.requirements = Some(path.into());
        self
    }

    /// The files to read for a project in `project_dir`: the explicit ones,
    /// else the environment, else the conventional locations where a file is
    /// there. Codex's home is found as everywhere else, so a relative or empty
    /// `CODEX_HOME` (or relative `HOME`) is refused.
    ///
    /// # Errors
    ///
    /// [`ProfileError`](codex_profiles::ProfileError) for a relative or empty
    /// `CODEX_HOME` or `HOME`, or a `CODEX_RUNTIME_CONFIG` or
    /// `CODEX_POLICY_FILE` that is set but empty.
    pub fn discover(
        &self,
        project_dir: &Path,
        env: &Environment,
    ) -> Result<ValidationInputs, ProfileError> {
        let existing = |path: PathBuf| path.exists().then_some(path);
        // A variable set but empty names no file: refused as an empty
        // CODEX_HOME is, never read as unset (which would fall back to the
        // project's own file).
        let from_env = |var: &'static str, file: &'static str| match env.var(var) {
            Some(value) if value.is_empty() => Err(ProfileError::UnusableEnvironment {
                variable: var,
                problem: "empty",
                fix: file,
            }),
            value => Ok(value.map(PathBuf::from)),
        };
        let runtime_env = from_env("CODEX_RUNTIME_CONFIG", "point it at a .codexrc.json")?;
        let policy_env = from_env("CODEX_POLICY_FILE", "point it at a harness.policy.json")?;
        let config = match &self.config {
            Some(path) => Some(path.clone()),
            None => env
                .codex_home()?
                .and_then(|home| existing(home.join(codex_profiles::CONFIG_FILE_NAME))),
        };
        Ok(ValidationInputs {
            runtime: self
                .runtime
                .clone()
                .or(runtime_env)
                .or_else(|| existing(project_dir.join(".codexrc.json"))),
            policy: self
                .policy
                .clone()
                .or(policy_env)
                .or_else(|| existing(project_dir.join("harness.policy.json"))),
            config,
            requirements: self
                .requirements
                .clone()
                .or_else(|| existing(PathBuf::from(MANAGED_REQUIREMENTS))),
        })
    }
}

/// The effective policy of a session and what it was composed from.
///
/// # Examples
///
/// [`SessionBuilder::compose`](crate::SessionBuilder::compose) gives it
/// without starting anything. A `harness.policy.json` that turns the network
/// off wins over a profile that has it (most restrictive wins), and says so:
///
/// ```
/// use codex_policy::model::effective::NetworkLevel;
/// use codex_policy::{Environment, Session};
///
/// let project = tempfile::tempdir()?;
/// let home = tempfile::tempdir()?;
/// let policy = project.path().join("harness.policy.json");
/// std::fs::write(&policy, r#"{"network": {"enabled": false}}"#)?;
///
/// let composition = Session::builder()
///     .profile("workspace-net".parse()?)
///     .cwd(project.path())
///     .environment(Environment::from_vars([("HOME", home.path())]))
///     .compose()?;
/// assert_eq!(composition.loaded_files(), [policy.as_path()]);
/// assert_eq!(composition.effective.network.value, NetworkLevel::Off);
/// assert!(composition.effective.network.decided_by.contains("harness.policy.json"));
/// assert!(!composition.sandbox_policy().has_network_access());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Composition {
    /// The profile and the source that chose it.
    pub resolved: ResolvedProfile,
    /// The runtime-control files as validated (warnings included).
    pub files: Validation,
    /// Profile, files and extra writable roots composed: most restrictive wins.
    pub effective: EffectivePolicy,
    /// The directory commands run in (absolute).
    pub cwd: PathBuf,
    /// What the commands may not read: the credential stores and the
    /// harness's files, with the profile's `deny_read` and `allow_read`
    /// applied; nothing under full access. The audit log joins them when the
    /// session is built.
    pub hidden: HiddenPaths,
    /// Which of the caller's environment variables the commands get
    /// (`[shell_environment_policy]`; by default every one but those named
    /// like or holding a secret), under every profile.
    pub environment_policy: EnvironmentPolicy,
}

impl Composition {
    /// The sandbox policy every command of the session runs under.
    pub fn sandbox_policy(&self) -> &SandboxPolicy {
        &self.effective.sandbox_policy.value
    }

    /// The configuration files the policy was composed from.
    pub fn loaded_files(&self) -> Vec<&Path> {
        let files = &self.files;
        [
            files.codexrc.as_ref().map(|f| f.source.path()),
            files.harness.as_ref().map(|f| f.source.path()),
            files.config.as_ref().map(|f| f.source.path()),
            files.requirements.as_ref().map(|(s, _)| s.path()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// Whether a refusal is only reported (`deny_on_violation: false`).
    pub fn monitor_mode(&self) -> bool {
        !self.effective.deny_on_violation.value
    }
}

/// Validates the files (an error stops everything) and composes them with
/// the profile and the extra writable roots.
pub(crate) fn compose(
    resolved: ResolvedProfile,
    files: &RuntimeFiles,
    cwd: &Path,
    extra_roots: &[PathBuf],
    env: &Environment,
) -> Result<Composition, ConfigurationError> {
    let given = files;
    let mut discovered = files.discover(cwd, env)?;
    // config.toml was already read by profile resolution; validate it too.
    discovered.config = discovered.config.or_else(|| resolved.config_file.clone());
    let files = if [
        &discovered.runtime,
        &discovered.policy,
        &discovered.config,
        &discovered.requirements,
    ]
    .iter()
    .all(|f| f.is_none())
    {
        Validation::default()
    } else {
        validate(&discovered, today())
    };
    let errors: Vec<Finding> = files
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(ConfigurationError::InvalidFiles { findings: errors });
    }
    for (source, requirements) in managed_requirements(given)? {
        check_requirements(
            &source,
            &requirements,
            Some(resolved.profile),
            Some(&resolved),
        )?;
    }
    let policy = with_extra_roots(&resolved.sandbox_policy, extra_roots, resolved.profile)?;
    trusted_file_out_of_reach(&resolved, &policy, cwd, env)?;
    let loosening = loosening(&resolved, cwd, &policy, &files, env)?;
    if !loosening.is_empty() {
        return Err(ConfigurationError::Loosening {
            findings: loosening,
        });
    }
    let source = format!("profile {} ({})", resolved.profile, resolved.source);
    let effective = effective::compose(&policy, &source, &resolved.permissions, &files);
    let hidden = hidden_paths(&policy, &resolved.permissions, &files, cwd, env)?;
    let environment_policy = match &files.config {
        Some(loaded) => EnvironmentPolicy::from_config(
            &loaded.source,
            loaded.config.shell_environment_policy.as_ref(),
        )
        .map_err(|e| ConfigurationError::InvalidFiles {
            findings: vec![Finding::from_error(&e, loaded.source.path())],
        })?,
        None => EnvironmentPolicy::default(),
    };
    Ok(Composition {
        resolved,
        files,
        effective,
        cwd: cwd.to_path_buf(),
        hidden,
        environment_policy,
    })
}

/// The paths hidden from commands under `policy`:
/// [`default_hidden_paths`] with the profile's
/// `[permissions.<name>.filesystem]` applied.
fn hidden_paths(
    policy: &SandboxPolicy,
    permissions: &str,
    files: &Validation,
    cwd: &Path,
    env: &Environment,
) -> Result<HiddenPaths, ConfigurationError> {
    let home = env
        .var(codex_profiles::HOME_ENV)
        .map(PathBuf::from)
        .filter(|h| h.is_absolute());
    effective::hidden_paths(
        policy,
        permissions,
        files.config.as_ref(),
        default_hidden_paths(env, Some(cwd))?,
        home.as_deref(),
    )
    .map_err(|e| {
        let path = files
            .config
            .as_ref()
            .map_or_else(PathBuf::new, |c| c.source.path().to_path_buf());
        ConfigurationError::InvalidFiles {
            findings: vec![Finding::from_error(&e, &path)],
        }
    })
}

/// What every restricted session hides before the configuration has its
/// say: the credential stores under `$HOME` and the account's home (when
/// they differ — a tool may find either), the stores the environment moves
/// elsewhere (a relative value from `cwd`), `auth.json`, the elevation
/// grants and the default audit log directory in Codex's home.
///
/// # Examples
///
/// ```
/// use codex_policy::{Environment, default_hidden_paths};
///
/// let home = tempfile::tempdir()?;
/// let codex_home = home.path().join(".codex");
/// let env = Environment::from_vars([("HOME", home.path())]);
/// let hidden = default_hidden_paths(&env, None)?;
/// assert!(hidden.iter().any(|p| p == home.path().join(".ssh")));
/// assert!(hidden.iter().any(|p| p == codex_home.join("auth.json")));
/// assert!(hidden.iter().any(|p| p == codex_home.join("elevations")));
///
/// let relative = Environment::from_vars([("CODEX_HOME", "codex")]);
/// assert!(default_hidden_paths(&relative, None).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ConfigurationError`] when Codex's home cannot be found (a relative or
/// empty `CODEX_HOME` or `HOME`).
pub fn default_hidden_paths(
    env: &Environment,
    cwd: Option<&Path>,
) -> Result<HiddenPaths, ConfigurationError> {
    let mut homes: Vec<PathBuf> = env
        .var(codex_profiles::HOME_ENV)
        .map(PathBuf::from)
        .filter(|h| h.is_absolute())
        .into_iter()
        .collect();
    if let Some(account) = account_home()
        && !homes.contains(&account)
    {
        homes.push(account);
    }
    let codex_home = env.codex_home()?;
    let mut defaults = HiddenPaths::defaults(&DefaultLocations {
        homes: &homes,
        codex_home: codex_home.as_deref(),
        cwd,
        var: &|key| env.var(key),
    });
    if let Some(codex_home) = &codex_home {
        defaults.add(
            codex_home.join(codex_profiles::ELEVATIONS_DIR_NAME),
            "the elevation grants",
            true,
        );
        // Whether or not this run logs there: earlier runs' history.
        if let Ok(Some(log)) = crate::trail::default_audit_log(env)
            && let Some(dir) = log.parent()
        {
            defaults.add(dir.to_path_buf(), "the audit log", true);
        }
    }
    Ok(defaults)
}

/// The home directory of the account the process runs as (the password
/// database's), which tools use when `$HOME` is unset or points elsewhere.
fn account_home() -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buffer = vec![0u8; 16 * 1024];
    // SAFETY: a zeroed passwd is a valid out-parameter for getpwuid_r.
    let mut entry: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: the buffer and out-parameters live for the call; getuid cannot fail.
    let ret = unsafe {
        libc::getpwuid_r(
            libc::getuid(),
            &mut entry,
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            &mut found,
        )
    };
    if ret != 0 || found.is_null() || entry.pw_dir.is_null() {
        return None;
    }
    // SAFETY: pw_dir points into `buffer`, NUL-terminated by getpwuid_r.
    let dir = unsafe { std::ffi::CStr::from_ptr(entry.pw_dir) };
    let dir = PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes()));
    dir.is_absolute().then_some(dir)
}

/// A policy file the command could have written (inside a writable root of
/// a run of `policy` in `cwd`, with the environment's `$TMPDIR`, or in a
/// shared temp directory, which any run may have written) may only
/// tighten: the findings (`CP0024`) of anything in `files` that would loosen it.
///
/// # Examples
///
/// A `harness.policy.json` inside the project a `workspace` session writes
/// to may not switch to monitor mode:
///
/// ```
/// use codex_policy::{Environment, RuntimeFiles, Session, loosening, validate_files};
///
/// let project = tempfile::tempdir()?;
/// let home = tempfile::tempdir()?;
/// std::fs::write(project.path().join("harness.policy.json"), r#"{"deny_on_violation": false}"#)?;
/// let env = Environment::from_vars([("HOME", home.path())]);
///
/// let resolved = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
///     .environment(env.clone())
///     .resolve()?;
/// let inputs = RuntimeFiles::default().discover(project.path(), &env)?;
/// let files = validate_files(&inputs, None, project.path(), &env)?;
/// let findings = loosening(&resolved, project.path(), &resolved.sandbox_policy, &files, &env)?;
/// assert_eq!(findings.len(), 1);
/// assert_eq!(findings[0].code, "CP0024");
/// assert_eq!(findings[0].key.as_deref(), Some("deny_on_violation"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ConfigurationError`] when the writable roots of `policy` in `cwd` cannot
/// be computed (the directory is missing or not a directory).
pub fn loosening(
    resolved: &ResolvedProfile,
    cwd: &Path,
    policy: &SandboxPolicy,
    files: &Validation,
    env: &Environment,
) -> Result<Vec<Finding>, ConfigurationError> {
    let tmpdir = env.var("TMPDIR");
    let writable = CommandWritable::for_tightening(policy, cwd, tmpdir.as_deref())?;
    Ok(loosening_findings(
        files,
        &RunContext {
            profile_policy: policy,
            profile_name: &resolved.permissions,
            profile_from_config: matches!(resolved.source, ProfileSource::ConfigFile { .. }),
            writable: &writable,
        },
    ))
}

/// Validates the runtime-control files of `inputs` as `codex-policy validate`
/// does: every finding, plus — for the profile that applies, run in `cwd` —
/// the keys of a file the sandboxed command could have written that would
/// loosen the policy (`CP0024`).
///
/// # Examples
///
/// ```
/// use codex_policy::{Environment, RuntimeFiles, Session, validate_files};
///
/// let project = tempfile::tempdir()?;
/// let home = tempfile::tempdir()?;
/// std::fs::write(project.path().join("harness.policy.json"), r#"{"deny_on_violation": false}"#)?;
/// let env = Environment::from_vars([("HOME", home.path())]);
/// let inputs = RuntimeFiles::default().discover(project.path(), &env)?;
///
/// // The file alone is valid...
/// let validation = validate_files(&inputs, None, project.path(), &env)?;
/// assert!(!validation.fails(false));
///
/// // ...but a `workspace` session could have written it, and it loosens.
/// let resolved = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
///     .environment(env.clone())
///     .resolve()?;
/// let validation = validate_files(&inputs, Some(&resolved), project.path(), &env)?;
/// assert!(validation.fails(false));
/// assert!(validation.findings.iter().any(|f| f.code == "CP0024"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ConfigurationError`] when the profile cannot be resolved; the files'
/// own problems are findings, not errors.
pub fn validate_files(
    inputs: &ValidationInputs,
    resolved: Option<&ResolvedProfile>,
    cwd: &Path,
    env: &Environment,
) -> Result<Validation, ConfigurationError> {
    let mut validation = validate(inputs, today());
    if let Some(resolved) = resolved {
        let found = loosening(resolved, cwd, &resolved.sandbox_policy, &validation, env)?;
        validation.findings.extend(found);
    }
    Ok(validation)
}

impl crate::SessionBuilder {
    /// What `codex-policy validate` reports: the runtime-control files of
    /// the session (found for its directory as a run finds them), validated,
    /// and those the sandboxed command could have written checked for keys
    /// that would loosen the policy (`CP0024`), judged for the profile that
    /// applies. The files' problems are findings; the environment's are
    /// errors, as for every other command.
    ///
    /// # Examples
    ///
    /// ```
    /// use codex_policy::{Environment, Error, RuntimeFiles, Session};
    ///
    /// let project = tempfile::tempdir()?;
    /// let config = project.path().join("config.toml");
    /// std::fs::write(&config, "approval_policy = \"sometimes\"\n")?;
    /// let builder = |codex_home: &str| {
    ///     Session::builder()
    ///         .cwd(project.path())
    ///         .runtime_files(RuntimeFiles::default().with_config(&config))
    ///         .environment(Environment::from_vars([("CODEX_HOME", codex_home)]))
    /// };
    /// let home = project.path().to_str().ok_or("a UTF-8 path")?;
    /// let (inputs, validation) = builder(home).validate()?;
    /// assert_eq!(inputs.config, Some(config.clone()));
    /// assert!(validation.fails(false)); // a finding, located in the file
    ///
    /// // An empty CODEX_HOME is no file's finding: refused.
    /// assert!(matches!(builder("").validate(), Err(Error::Configuration(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Configuration`](crate::Error::Configuration) for an unusable environment variable
    /// (`CODEX_HOME`, `HOME`, `CODEX_SECURITY_PROFILE`, `CODEX_RUNTIME_CONFIG`,
    /// `CODEX_POLICY_FILE`); [`Error::Io`](crate::Error::Io) when the directory cannot be
    /// resolved.
    pub fn validate(&self) -> Result<(ValidationInputs, Validation), crate::Error> {
        let cwd = self.absolute_cwd()?;
        let env = self.environment_ref();
        let inputs = self
            .runtime_files_ref()
            .discover(&cwd, env)
            .map_err(|e| crate::Error::Configuration(e.into()))?;
        let resolved = match self.resolve() {
            Ok(resolved) => Some(resolved),
            Err(crate::Error::Configuration(ConfigurationError::Profile(e)))
                if e.variable().is_some() =>
            {
                return Err(crate::Error::Configuration(e.into()));
            }
            // A file that decides the profile reports its problem among
            // the findings.
            Err(_) => None,
        };
        let validation = validate_files(&inputs, resolved.as_ref(), &cwd, env)?;
        Ok((inputs, validation))
    }
}

/// Today's UTC date, against which allow entries' expiry dates are judged:
/// the model never reads the clock, the facade passes it in.
pub(crate) fn today() -> NaiveDate {
    codex_policy_model::utc_date(SystemTime::now())
}

/// Extra writable roots widen a workspace policy; on a read-only one they
/// would grant writes the profile forbids, so they are refused.
fn with_extra_roots(
    policy: &SandboxPolicy,
    extra: &[PathBuf],
    profile: SecurityProfile,
) -> Result<SandboxPolicy, ConfigurationError> {
    if extra.is_empty() {
        return Ok(policy.clone());
    }
    match policy {
        SandboxPolicy::WorkspaceWrite {
            writable_roots,
            network_access,
            exclude_tmpdir_env_var,
            exclude_slash_tmp,
        } => Ok(SandboxPolicy::WorkspaceWrite {
            writable_roots: writable_roots.iter().chain(extra).cloned().collect(),
            network_access: *network_access,
            exclude_tmpdir_env_var: *exclude_tmpdir_env_var,
            exclude_slash_tmp: *exclude_slash_tmp,
        }),
        SandboxPolicy::DangerFullAccess => Ok(policy.clone()),
        _ => Err(ConfigurationError::ExtraRootsNeedWrites { profile }),
    }
}

/// The requirements whose approval, mode and elevation keys apply: the
/// managed file when present, and the one given explicitly — an explicit
/// file adds to the managed one here, never replaces it.
pub(crate) fn managed_requirements(
    files: &RuntimeFiles,
) -> Result<
    Vec<(
        codex_policy_model::SourceFile,
        codex_policy_model::Requirements,
    )>,
    ConfigurationError,
> {
    let managed = PathBuf::from(MANAGED_REQUIREMENTS);
    let managed = (managed.symlink_metadata().is_ok()
        && files.requirements.as_ref() != Some(&managed))
    .then_some(managed);
    files
        .requirements
        .iter()
        .cloned()
        .chain(managed)
        .map(|path| {
            codex_policy_model::Requirements::load(&path)
                .map_err(|e| ConfigurationError::Profile(e.into()))
        })
        .collect()
}

/// A `.codex-profile` that loosened (its directory is trusted) must stay out
/// of the command's reach with the final writable roots too (`--writable-root`
/// included): a command that could rewrite it would choose its next policy.
fn trusted_file_out_of_reach(
    resolved: &ResolvedProfile,
    policy: &SandboxPolicy,
    cwd: &Path,
    env: &Environment,
) -> Result<(), ConfigurationError> {
    let ProfileSource::ProjectFile {
        path,
        trusted_loosening: true,
    } = &resolved.source
    else {
        return Ok(());
    };
    let tmpdir = env.var("TMPDIR");
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
    let reachable = policy.has_full_disk_write_access()
        || policy
            .writable_roots(cwd, tmpdir.as_deref())?
            .roots
            .iter()
            .any(|root| root.allows_write_to(&real));
    if reachable {
        return Err(ConfigurationError::TrustedFileWritable { path: path.clone() });
    }
    Ok(())
}

/// Refused when `profile`'s sandbox mode is not in managed requirements'
/// `allowed_sandbox_modes` (what `elevate --to` asks for).
pub(crate) fn check_sandbox_mode(
    files: &RuntimeFiles,
    profile: SecurityProfile,
) -> Result<(), ConfigurationError> {
    for (source, requirements) in managed_requirements(files)? {
        check_requirements(&source, &requirements, Some(profile), None)?;
    }
    Ok(())
}

/// Codex's `allowed_sandbox_modes` and `allowed_approval_policies`: a
/// profile or approval policy outside them is refused, located at the
/// requirement, naming what chose it.
fn check_requirements(
    source: &codex_policy_model::SourceFile,
    requirements: &codex_policy_model::Requirements,
    profile: Option<SecurityProfile>,
    resolved: Option<&ResolvedProfile>,
) -> Result<(), ConfigurationError> {
    if let (Some(profile), Some(allowed)) = (profile, &requirements.allowed_sandbox_modes) {
        let mode = profile.to_sandbox_policy().mode();
        if !allowed.get_ref().contains(&mode) {
            let chosen = resolved
                .map(|r| format!(" (chosen by {})", r.source))
                .unwrap_or_default();
            return Err(ConfigurationError::NotPermitted(source.error(
                Some(allowed.span()),
                Some("allowed_sandbox_modes".into()),
                format!(
                    "managed requirements do not allow sandbox mode {mode} of profile {profile}{chosen}"
                ),
                Some(format!(
                    "choose a profile whose mode is one of: {}",
                    allowed.get_ref().iter().map(|m| m.as_str()).collect::<Vec<_>>().join(", ")
                )),
            )));
        }
    }
    if let (Some(resolved), Some(allowed)) = (resolved, &requirements.allowed_approval_policies) {
        let policy = resolved.approval.policy;
        if !allowed.get_ref().contains(&policy) {
            return Err(ConfigurationError::NotPermitted(source.error(
                Some(allowed.span()),
                Some("allowed_approval_policies".into()),
                format!(
                    "managed requirements do not allow approval policy {policy} (chosen by {})",
                    resolved.approval
                ),
                Some(format!(
                    "choose one of: {}",
                    allowed.get_ref().iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
                )),
            )));
        }
    }
    Ok(())
}
