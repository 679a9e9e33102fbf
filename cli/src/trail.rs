//! The audit trail of a session: where its events go, and what happens when
//! they cannot be written.

use std::path::{Path, PathBuf};
use std::time::Duration;

use codex_audit::{
    AuditDecision, AuditEvent, AuditSink, FsyncPolicy, Operation, SinkOptions, new_session_id,
};
use codex_policy_model::validate::Validation;
use codex_policy_model::{AuditTable, CommandWritable, FsyncSetting};

use crate::environment::Environment;
use crate::error::Error;
use crate::notice::{Notice, Notices};

/// Where the audit events of a session go.
///
/// # Examples
///
/// ```
/// # #[cfg(target_os = "linux")] {
/// use codex_policy::audit::{Operation, read_log};
/// use codex_policy::{AuditDestination, Session};
///
/// let project = tempfile::tempdir()?;
/// let logs = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let log = logs.path().join("audit.jsonl");
/// let session = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::File(log.clone()))
///     .best_effort(true)
///     .build()?;
/// assert_eq!(session.audit_log(), Some(log.clone()));
/// // Building the session recorded what it loaded.
/// let events = read_log(&log)?.events;
/// assert!(events.iter().any(|e| e.operation == Operation::PolicyLoad));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditDestination {
    /// `[audit] path` of `config.toml`, else `$CODEX_HOME/audit/audit.jsonl`.
    #[default]
    Configured,
    /// This file.
    File(PathBuf),
    /// Nowhere: no event is written.
    Off,
}

/// `$CODEX_HOME/audit/audit.jsonl` (default `~/.codex/audit/audit.jsonl`),
/// with Codex's home found as for `config.toml`; `None` when there is no home.
///
/// # Examples
///
/// ```
/// use std::path::PathBuf;
/// use codex_policy::{Environment, default_audit_log};
///
/// let env = Environment::from_vars([("CODEX_HOME", "/srv/codex")]);
/// assert_eq!(default_audit_log(&env)?, Some(PathBuf::from("/srv/codex/audit/audit.jsonl")));
/// let env = Environment::from_vars([("HOME", "/home/ada")]);
/// let expected = PathBuf::from("/home/ada/.codex/audit/audit.jsonl");
/// assert_eq!(default_audit_log(&env)?, Some(expected));
/// assert_eq!(default_audit_log(&Environment::from_vars::<String, String>([]))?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ProfileError`](codex_profiles::ProfileError) for a relative or empty
/// `CODEX_HOME` or `HOME`.
pub fn default_audit_log(
    env: &Environment,
) -> Result<Option<PathBuf>, codex_profiles::ProfileError> {
    let home = env.codex_home()?;
    Ok(home.map(|home| home.join("audit").join("audit.jsonl")))
}

/// How many rotated files the log keeps: `[audit] keep` of `config` (default
/// `$CODEX_HOME/config.toml`). Readers read no other `.N` (one beyond it was
/// not written by the log). A config.toml that does not load leaves the
/// default: reading a log must not depend on it.
///
/// # Examples
///
/// ```
/// use codex_policy::{Environment, configured_audit_keep};
///
/// let codex_home = tempfile::tempdir()?;
/// let env = Environment::from_vars([("CODEX_HOME", codex_home.path())]);
/// // No config.toml: the log's default.
/// assert_eq!(configured_audit_keep(None, &env)?, codex_policy::audit::DEFAULT_KEEP);
///
/// std::fs::write(codex_home.path().join("config.toml"), "[audit]\nkeep = 3\n")?;
/// assert_eq!(configured_audit_keep(None, &env)?, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ProfileError`](codex_profiles::ProfileError) when Codex's home cannot be
/// found; a config.toml that does not load is not an error.
pub fn configured_audit_keep(
    config: Option<&Path>,
    env: &Environment,
) -> Result<usize, codex_profiles::ProfileError> {
    Ok(validate_config_alone(config, env)?
        .config
        .and_then(|loaded| loaded.config.audit)
        .and_then(|audit| audit.keep)
        .map_or(codex_audit::DEFAULT_KEEP, |k| k.get()))
}

/// `config.toml` (`config`, else `$CODEX_HOME/config.toml` if present)
/// validated on its own, findings and all.
fn validate_config_alone(
    config: Option<&Path>,
    env: &Environment,
) -> Result<Validation, codex_profiles::ProfileError> {
    let files = match config {
        Some(config) => crate::RuntimeFiles::default().with_config(config),
        None => crate::RuntimeFiles::default(),
    };
    let Some(config) = files.discover(Path::new("."), env)?.config else {
        return Ok(Validation::default());
    };
    let only_config = codex_policy_model::validate::ValidationInputs {
        config: Some(config),
        ..Default::default()
    };
    Ok(codex_policy_model::validate::validate(
        &only_config,
        crate::compose::today(),
    ))
}

/// The log file: the one named, else `[audit] path`, else the default.
fn log_path(
    named: Option<PathBuf>,
    table: &AuditTable,
    env: &Environment,
) -> Result<Option<PathBuf>, codex_profiles::ProfileError> {
    match named.or_else(|| table.path.clone()) {
        Some(path) => Ok(Some(path)),
        None => default_audit_log(env),
    }
}

/// The audit log as `run` and `check` write it, found without a session:
/// what `codex-policy audit` reads back and appends to.
///
/// # Examples
///
/// ```
/// use std::path::PathBuf;
/// use codex_policy::{Environment, configured_audit_log};
///
/// let codex_home = tempfile::tempdir()?;
/// let env = Environment::from_vars([("CODEX_HOME", codex_home.path())]);
/// // No config.toml: the default log, the log's default rotation.
/// let log = configured_audit_log(None, None, &env)?;
/// assert_eq!(log.path, Some(codex_home.path().join("audit/audit.jsonl")));
/// assert_eq!(log.options.keep, codex_policy::audit::DEFAULT_KEEP);
///
/// // `[audit] path` and `keep` of config.toml decide, as for a run.
/// let config = codex_home.path().join("config.toml");
/// std::fs::write(&config, "[audit]\npath = \"/var/log/codex/audit.jsonl\"\nkeep = 3\n")?;
/// let log = configured_audit_log(None, None, &env)?;
/// assert_eq!(log.path, Some(PathBuf::from("/var/log/codex/audit.jsonl")));
/// assert_eq!(log.options.keep, 3);
///
/// // A config.toml with errors cannot say where the log is: refused...
/// std::fs::write(&config, "[audit]\npath = 3\n")?;
/// assert!(configured_audit_log(None, None, &env).is_err());
/// // ...unless the log is named: its rotation is then the default.
/// let named = codex_home.path().join("review.jsonl");
/// let log = configured_audit_log(Some(&named), None, &env)?;
/// assert_eq!(log.path, Some(named));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfiguredAuditLog {
    /// The file named, else `[audit] path` of config.toml, else
    /// `$CODEX_HOME/audit/audit.jsonl`; `None` when there is none of them.
    pub path: Option<PathBuf>,
    /// Rotation and syncing as `[audit]` sets them (`keep`: how many rotated
    /// files the log keeps, and readers read).
    pub options: SinkOptions,
}

/// The audit log `run` and `check` write to, as the same `config.toml`
/// (`config`, else `$CODEX_HOME/config.toml`) and environment choose it,
/// unless `file` names one; its rotation from `[audit]` either way.
///
/// # Errors
///
/// [`Error::Configuration`] for an unusable `CODEX_HOME` or `HOME`, or a
/// `config.toml` with errors when it is needed to find the log (no `file`)
/// or was given (`config`): it could name another log, so none is guessed.
/// With `file` and no `config`, a found config.toml that does not load
/// leaves the default rotation, as [`configured_audit_keep`] does.
///
/// # Examples
///
/// ```
/// use codex_policy::{Environment, configured_audit_log};
///
/// let home = tempfile::tempdir()?;
/// let config = home.path().join("team.toml");
/// std::fs::write(&config, "[audit]\npath = \"/srv/audit/agent.jsonl\"\n")?;
/// let env = Environment::from_vars([("CODEX_HOME", home.path())]);
/// let log = configured_audit_log(None, Some(&config), &env)?;
/// assert_eq!(log.path.as_deref(), Some(std::path::Path::new("/srv/audit/agent.jsonl")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn configured_audit_log(
    file: Option<&Path>,
    config: Option<&Path>,
    env: &Environment,
) -> Result<ConfiguredAuditLog, Error> {
    if let (Some(file), None) = (file, config) {
        let keep = configured_audit_keep(None, env).map_err(|e| Error::Configuration(e.into()))?;
        return Ok(ConfiguredAuditLog {
            path: Some(file.to_path_buf()),
            options: SinkOptions::default().with_keep(keep),
        });
    }
    let validation = config_alone(config, env)?;
    let table = validation
        .config
        .and_then(|loaded| loaded.config.audit)
        .unwrap_or_default();
    let path = log_path(file.map(Path::to_path_buf), &table, env)
        .map_err(|e| Error::Configuration(e.into()))?;
    Ok(ConfiguredAuditLog {
        path,
        options: table_options(&table),
    })
}

/// [`validate_config_alone`], its errors refusing: they could name another log.
fn config_alone(config: Option<&Path>, env: &Environment) -> Result<Validation, Error> {
    let validation =
        validate_config_alone(config, env).map_err(|e| Error::Configuration(e.into()))?;
    let errors: Vec<_> = validation
        .findings
        .iter()
        .filter(|f| f.severity == codex_policy_model::validate::Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        return Err(crate::error::ConfigurationError::AuditLogUnknown { findings: errors }.into());
    }
    Ok(validation)
}

/// The sink options `[audit]` sets (fsync, rotation).
fn table_options(table: &AuditTable) -> SinkOptions {
    let mut options = SinkOptions::default().with_fsync(match table.fsync {
        Some(FsyncSetting::EachEvent) => FsyncPolicy::EachEvent,
        Some(FsyncSetting::Interval) => FsyncPolicy::Interval(Duration::from_millis(
            table.fsync_interval_ms.map_or(1000, |n| n.get()),
        )),
        _ => FsyncPolicy::Never,
    });
    if let Some(max) = table.max_bytes {
        options.max_bytes = Some(max.get());
    }
    if let Some(keep) = table.keep {
        options.keep = keep.get();
    }
    options
}

/// A command line as a shell would need it typed.
///
/// # Examples
///
/// ```
/// use codex_policy::shell_words;
///
/// let argv = ["git".to_owned(), "commit".into(), "-m".into(), "fix the build".into()];
/// assert_eq!(shell_words(&argv), "git commit -m 'fix the build'");
/// ```
pub fn shell_words(argv: &[String]) -> String {
    shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "))
}

/// A command line as an event's target: each argument redacted on its own
/// first — a `bash -c` script is then read as the command line it is, where
/// `--password x` or `-u user:pw` inside one quoted word would not be — and
/// the whole again by the sink.
///
/// # Examples
///
/// ```
/// use codex_policy::audit_target;
///
/// let argv = ["sh".to_owned(), "-c".into(), "mysql --password hunter2 app".into()];
/// let target = audit_target(&argv);
/// assert!(target.starts_with("sh -c '") && target.contains("[REDACTED]"));
/// assert!(!target.contains("hunter2"));
/// ```
pub fn audit_target(argv: &[String]) -> String {
    let redactor = codex_audit::Redactor::new(&[]);
    let redacted: Vec<String> = argv.iter().map(|a| redactor.redact(a)).collect();
    shell_words(&redacted)
}

/// The audit log of one session.
pub(crate) struct AuditTrail {
    sink: Option<AuditSink>,
    session: String,
    profile: Option<String>,
    /// `deny_on_violation`: a log that cannot be written refuses the command.
    fail_closed: bool,
    /// Whether the session enforces what it decides (a run, the proxy);
    /// else it only answers (a check).
    enforces: bool,
    notices: Notices,
}

/// How the trail is opened.
pub(crate) struct TrailOptions<'a> {
    pub(crate) destination: &'a AuditDestination,
    pub(crate) session_id: Option<&'a str>,
    pub(crate) fail_closed: bool,
    /// Whether the session enforces what it decides (the warning of a log
    /// that cannot be written says what goes on).
    pub(crate) enforces: bool,
    pub(crate) profile: Option<String>,
    /// What the sandboxed command can write: a symlink it could have planted
    /// on the way to the log is refused, never followed.
    pub(crate) writable: Option<&'a CommandWritable>,
    pub(crate) notices: Notices,
    pub(crate) env: &'a Environment,
}

impl AuditTrail {
    /// Opens the log. Destination: the explicit file, else `[audit] path` of
    /// config.toml, else the default path.
    pub(crate) fn open(options: TrailOptions<'_>, files: &Validation) -> Result<Self, Error> {
        let session = options
            .session_id
            .map_or_else(new_session_id, str::to_owned);
        let mut trail = Self {
            sink: None,
            session,
            profile: options.profile,
            fail_closed: options.fail_closed,
            enforces: options.enforces,
            notices: options.notices,
        };
        let explicit = match options.destination {
            AuditDestination::Off => return Ok(trail),
            AuditDestination::File(path) => Some(path.clone()),
            AuditDestination::Configured => None,
        };
        let table = files
            .config
            .as_ref()
            .and_then(|c| c.config.audit.clone())
            .unwrap_or_default();
        let path =
            log_path(explicit.clone(), &table, options.env).map_err(|e| Error::AuditLog {
                reason: e.to_string(),
            })?;
        let Some(path) = path else {
            trail.failed("no audit log location (set [audit] path, CODEX_HOME or HOME)".into())?;
            return Ok(trail);
        };
        let mut sink_options = table_options(&table);
        if let Some(harness) = &files.harness {
            let o = &harness.value.observability;
            sink_options.sample_rate = o.sample_rate.get();
            sink_options.http_log_headers = o.http_log_headers;
            sink_options.http_log_bodies = o.http_log_bodies;
        }
        if let Some(t) = files
            .codexrc
            .as_ref()
            .and_then(|rc| rc.value.environment_context.telemetry.as_ref())
        {
            sink_options.redact_headers = t.redact_headers.clone();
        }
        if let Some(link) = options.writable.and_then(|w| w.planted_link(&path)) {
            trail.failed(format!(
                "{}: the way to the audit log passes through the symbolic link {}, which the \
                 sandboxed command could have planted; not following it (choose a log outside \
                 the writable roots, or remove the link)",
                path.display(),
                link.display()
            ))?;
            return Ok(trail);
        }
        // Opening creates missing directories (0700); Codex's home among them
        // is said, never created silently.
        let new_home = explicit
            .is_none()
            .then(|| options.env.codex_home().ok().flatten())
            .flatten()
            .filter(|home| path.starts_with(home) && home.symlink_metadata().is_err());
        match AuditSink::open(&path, sink_options) {
            Ok(sink) => {
                if let Some(home) = new_home.filter(|home| home.is_dir()) {
                    trail.notices.note(format!(
                        "created {} (mode 0700) for the audit log",
                        home.display()
                    ));
                }
                trail.sink = Some(sink);
            }
            Err(e) => trail.failed(e.to_string())?,
        }
        Ok(trail)
    }

    /// The session id of every event.
    pub(crate) fn session_id(&self) -> &str {
        &self.session
    }

    /// The log, when one is written.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.sink.as_ref().map(AuditSink::path)
    }

    /// When the sandboxed command could write where the log lies, creates
    /// the log's missing rotated names (empty, 0600) so that the sandbox can
    /// keep them read-only too, and says so.
    pub(crate) fn reserve_rotated_names(
        &mut self,
        writable: &CommandWritable,
    ) -> Result<(), Error> {
        let Some(sink) = &self.sink else {
            return Ok(());
        };
        if !writable.could_write(sink.path()) {
            return Ok(());
        }
        match sink.reserve_rotated_names() {
            Ok(created) if !created.is_empty() => {
                let message = format!(
                    "created {} empty rotated audit file(s) next to {} (mode 0600), so that the \
                     sandbox can keep them read-only",
                    created.len(),
                    sink.path().display()
                );
                self.notices.note(message);
                Ok(())
            }
            Ok(_) => Ok(()),
            Err(e) => self.failed(e.to_string()),
        }
    }

    /// The files the sandboxed command must not write, replace or remove: the
    /// log and its rotated siblings; none when nothing is logged.
    pub(crate) fn protected_paths(&self) -> Vec<PathBuf> {
        self.sink
            .as_ref()
            .map(AuditSink::protected_paths)
            .unwrap_or_default()
    }

    /// The log cannot be written: refuse (fail closed) or warn.
    fn failed(&mut self, why: String) -> Result<(), Error> {
        if self.fail_closed {
            return Err(Error::AuditLog { reason: why });
        }
        // Said as it is: a run or proxy in monitor mode goes on; a check,
        // which enforces nothing, goes on unrecorded.
        let continuing = if self.enforces {
            "continuing (monitor mode)"
        } else {
            "continuing without recording, since nothing is enforced here"
        };
        self.notices.emit(Notice::warning(format!(
            "the audit log cannot be written ({why}); {continuing}"
        )));
        self.sink = None;
        Ok(())
    }

    /// The profile every event of this session names.
    pub(crate) fn event_profile(&self) -> Option<String> {
        self.profile.clone()
    }

    /// A new event of this session.
    pub(crate) fn event(
        &self,
        operation: Operation,
        target: impl Into<String>,
        decision: AuditDecision,
        source: &str,
    ) -> AuditEvent {
        let mut event = AuditEvent::now(&self.session, operation, target, decision, source);
        event.profile = self.profile.clone();
        event
    }

    /// Writes an event; a failure refuses or warns as [`AuditTrail::open`] does.
    pub(crate) fn record(&mut self, event: AuditEvent) -> Result<(), Error> {
        let Some(sink) = &mut self.sink else {
            return Ok(());
        };
        match sink.record(event) {
            Ok(_) => Ok(()),
            Err(e) => self.failed(e.to_string()),
        }
    }
}
