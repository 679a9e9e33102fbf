//! Validation: every check of the runtime-control files and their best
//! practices, as findings with stable codes, severity, location and fix.
//!
//! [`validate`] parses the files it is given (`.codexrc.json`,
//! `harness.policy.json`, `config.toml`, managed `requirements.toml`), turns
//! every parse error into a finding, and checks each file and the relations
//! between them. The parsed files it returns in a [`Validation`] are what
//! `effective::compose` reads.
//!
//! - `findings`: [`Finding`], [`Severity`] and every [`FindingCode`] ([`ALL_CODES`]).
//! - `checks`: the checks on the parsed runtime-control files, and on
//!   `config.toml`'s allowlists (expired, expiring soon, without effect).
//! - `secret_scan`: literal secrets in any of the files ([`LITERAL_SECRET`]).
//! - [`secrets`]: what a secret looks like, shared with the audit log's redaction.

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::files::{
    CodexConfig, CodexRc, ConfigError, HarnessPolicy, Located, NetworkRules, Requirements,
    SourceFile,
};
use checks::{check_alignment, check_codexrc, check_config, check_harness};
use secret_scan::{scan_json_secrets, scan_toml_secrets};

mod checks;
mod findings;
mod secret_scan;
pub mod secrets;

pub use findings::*;

/// The files to validate; `None` means "not given".
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use codex_policy_model::utc_date;
/// use codex_policy_model::validate::{NOTHING, ValidationInputs, validate};
///
/// let dir = tempfile::tempdir()?;
/// let config = dir.path().join("config.toml");
/// std::fs::write(&config, "sandbox_mode = \"workspace-write\"\n")?;
/// let inputs = ValidationInputs { config: Some(config), ..ValidationInputs::default() };
///
/// let today = utc_date(SystemTime::now());
/// assert!(validate(&inputs, today).findings.is_empty());
/// // Giving no file at all is a finding of its own.
/// let nothing = validate(&ValidationInputs::default(), today);
/// assert_eq!(nothing.findings[0].code, NOTHING.code);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ValidationInputs {
    /// `.codexrc.json`.
    pub runtime: Option<PathBuf>,
    /// `harness.policy.json`.
    pub policy: Option<PathBuf>,
    /// `config.toml`.
    pub config: Option<PathBuf>,
    /// Managed `requirements.toml`.
    pub requirements: Option<PathBuf>,
}

/// A parsed `config.toml` with its normalized permission-profile network rules.
///
/// # Examples
///
/// ```
/// use codex_policy_model::NaiveDate;
/// use codex_policy_model::validate::{LoadedConfig, ValidationInputs, validate};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("config.toml");
/// std::fs::write(&path, "[permissions.workspace.network.domains]\n\"WWW.Example.com\" = \"allow\"\n")?;
/// let inputs = ValidationInputs { config: Some(path), ..ValidationInputs::default() };
/// let validation = validate(&inputs, NaiveDate::from_ymd_opt(2025, 10, 1).expect("a date"));
///
/// let loaded: &LoadedConfig = validation.config.as_ref().expect("config.toml parsed");
/// let (profile, rules) = &loaded.permissions[0];
/// assert_eq!(profile, "workspace");
/// assert_eq!(rules.domains[0].pattern.to_string(), "www.example.com"); // normalized
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadedConfig {
    /// The file.
    pub source: SourceFile,
    /// Its sandbox keys.
    pub config: CodexConfig,
    /// `[permissions.<name>.network]`, normalized, by profile name.
    pub permissions: Vec<(String, NetworkRules)>,
    /// `[sandbox_workspace_write] allowlisted_domains`, normalized as allow
    /// entries; composition applies them only to a `workspace-write` sandbox
    /// with network.
    pub workspace_allowlist: Option<NetworkRules>,
}

/// Everything that parsed, for composition, plus the findings.
///
/// # Examples
///
/// ```
/// use codex_policy_model::NaiveDate;
/// use codex_policy_model::validate::{EMPTY_ALLOWLIST, Severity, ValidationInputs, validate};
///
/// let dir = tempfile::tempdir()?;
/// let runtime = dir.path().join(".codexrc.json");
/// // Network enabled, but the allowlist names nothing.
/// std::fs::write(&runtime, r#"{"environment_context": {"name": "dev", "network_access": "enabled"}}"#)?;
/// let inputs = ValidationInputs { runtime: Some(runtime), ..ValidationInputs::default() };
/// let validation = validate(&inputs, NaiveDate::from_ymd_opt(2025, 10, 1).expect("a date"));
///
/// assert!(validation.codexrc.is_some()); // parsed, for composition
/// assert_eq!(validation.findings[0].code, EMPTY_ALLOWLIST.code);
/// assert_eq!(validation.findings[0].severity, Severity::Warning);
/// assert!(!validation.fails(false) && validation.fails(true)); // fails only with --strict
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Validation {
    /// Parsed `.codexrc.json`.
    pub codexrc: Option<Located<CodexRc>>,
    /// Parsed `harness.policy.json`.
    pub harness: Option<Located<HarnessPolicy>>,
    /// Parsed `config.toml`.
    pub config: Option<LoadedConfig>,
    /// Parsed managed requirements, normalized.
    pub requirements: Option<(SourceFile, NetworkRules)>,
    /// What was found, in file order.
    pub findings: Vec<Finding>,
}

impl Validation {
    /// Whether any finding is an error (or, with `strict`, any finding at all).
    pub fn fails(&self, strict: bool) -> bool {
        self.findings
            .iter()
            .any(|f| strict || f.severity == Severity::Error)
    }
}

/// Validates the given files and the relations between them, as of `today`
/// (the UTC date, see [`crate::utc_date`]): allow entries past their expiry
/// date are reported ([`ALLOWLIST_EXPIRED`]) and normalized out of force
/// ([`NetworkRules::expired`]), so composition never applies them; those
/// expiring within a week are reported too ([`ALLOWLIST_EXPIRES_SOON`]).
///
/// # Examples
///
/// ```
/// use codex_policy_model::NaiveDate;
/// use codex_policy_model::validate::{NETWORK_MISMATCH, ValidationInputs, validate};
///
/// let dir = tempfile::tempdir()?;
/// let runtime = dir.path().join(".codexrc.json");
/// std::fs::write(&runtime, r#"{"environment_context": {"name": "dev", "network_access": "enabled"}}"#)?;
/// let policy = dir.path().join("harness.policy.json");
/// std::fs::write(&policy, r#"{"version": "1.0", "network": {"enabled": false}, "deny_on_violation": true}"#)?;
///
/// let inputs = ValidationInputs { runtime: Some(runtime), policy: Some(policy), ..Default::default() };
/// let validation = validate(&inputs, NaiveDate::from_ymd_opt(2025, 10, 1).expect("a date"));
/// // The two files disagree on whether the network is open.
/// assert!(validation.findings.iter().any(|f| f.code == NETWORK_MISMATCH.code));
/// assert!(validation.fails(false));
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn validate(inputs: &ValidationInputs, today: NaiveDate) -> Validation {
    let mut v = Validation::default();
    if inputs.runtime.is_none()
        && inputs.policy.is_none()
        && inputs.config.is_none()
        && inputs.requirements.is_none()
    {
        v.findings.push(Finding::new(
            NOTHING,
            None,
            None,
            "no configuration file was found or given".into(),
        ));
        return v;
    }
    if let Some(path) = &inputs.runtime {
        scan_json_secrets(path, &mut v.findings);
        match CodexRc::load(path) {
            Ok(rc) => v.codexrc = Some(rc),
            Err(e) => v
                .findings
                .push(Finding::from_error_in(&e, path, Some("codexrc"))),
        }
    }
    if let Some(path) = &inputs.policy {
        scan_json_secrets(path, &mut v.findings);
        match HarnessPolicy::load(path) {
            Ok(policy) => v.harness = Some(policy),
            Err(e) => v
                .findings
                .push(Finding::from_error_in(&e, path, Some("harness-policy"))),
        }
    }
    if let Some(path) = &inputs.config {
        scan_toml_secrets(path, &mut v.findings);
        let loaded = CodexConfig::load(path).and_then(|(source, config)| {
            config.configured_sandbox(&source)?;
            let rules = config
                .permissions
                .iter()
                .filter_map(|(name, profile)| profile.network.as_ref().map(|n| (name, n)))
                .map(|(name, network)| Ok((name.clone(), network.normalize(&source, name, today)?)))
                .collect::<Result<Vec<_>, ConfigError>>()?;
            let workspace_allowlist = match &config.sandbox_workspace_write {
                Some(table) => table.allowlist_rules(&source, today)?,
                None => None,
            };
            Ok(LoadedConfig {
                source,
                config,
                permissions: rules,
                workspace_allowlist,
            })
        });
        match loaded {
            Ok(config) => v.config = Some(config),
            Err(e) => v
                .findings
                .push(Finding::from_error_in(&e, path, Some("config"))),
        }
    }
    if let Some(path) = &inputs.requirements {
        scan_toml_secrets(path, &mut v.findings);
        let loaded = Requirements::load(path)
            .and_then(|(source, requirements)| Ok((requirements.network_rules(&source)?, source)));
        match loaded {
            Ok((rules, source)) => v.requirements = Some((source, rules)),
            Err(e) => v
                .findings
                .push(Finding::from_error_in(&e, path, Some("requirements"))),
        }
    }
    let environment = v
        .codexrc
        .as_ref()
        .map(|rc| rc.value.environment_context.name);
    if let Some(rc) = &v.codexrc {
        check_codexrc(rc, &mut v.findings);
    }
    if let Some(policy) = &v.harness {
        check_harness(policy, environment, &mut v.findings);
    }
    if let (Some(rc), Some(policy)) = (&v.codexrc, &v.harness) {
        check_alignment(rc, policy, &mut v.findings);
    }
    if let Some(config) = &v.config {
        check_config(config, today, &mut v.findings);
    }
    v
}
