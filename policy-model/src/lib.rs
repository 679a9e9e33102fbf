//! The typed model every other codex-policy crate speaks.
//!
//! A [`SandboxPolicy`] says what a child process may do: read everything and write
//! nothing, write only inside some roots, or anything at all; with or without
//! network. [`SandboxPolicy::writable_roots`] turns a policy and a working directory
//! into the exact, canonical directories an OS sandbox must allow, and the
//! subpaths (`.git`, `.codex`, `.agents`) it must keep read-only; a [`Sandbox`]
//! backend enforces it and says what it enforced ([`EnforcementReport`]).
//!
//! The crate is built in layers, each using only the ones before it:
//!
//! 1. **policy** (`policy/`, `sandbox.rs`): [`SandboxPolicy`], [`SandboxMode`],
//!    writable roots; and the [`Sandbox`] contract the OS backends implement.
//! 2. **domain** (`domain.rs`): host names, [`DomainPattern`]s and the
//!    [`DomainMatcher`].
//! 3. **files** (`files/`): the configuration files (`config.toml`, managed
//!    `requirements.toml`, `.codexrc.json`, `harness.policy.json`) as types whose
//!    errors point at file, line, column and key ([`ConfigError`]); the
//!    [`RuntimeContext`] harness code reads. The same types derive
//!    `schemars::JsonSchema`: the schemas `codex-policy schema` publishes, and
//!    the known keys behind an error's "did you mean" hint.
//! 4. [`validate`] (`validate/`): every check on those files, as [`validate::Finding`]s with
//!    stable codes.
//! 5. [`effective`] (`effective/`): the validated files composed with a profile's policy into
//!    an [`effective::EffectivePolicy`], each field with the source that
//!    decided it.
//!
//! The types of layers 1 to 3 are re-exported here, at the crate root. An
//! embedder that only enforces a policy needs layer 1; one that reads the
//! configuration files as the `codex-policy` command does calls
//! [`validate::validate`] and then [`effective::compose`]. Validation is given
//! *today* (UTC, see [`utc_date`]): allow entries past their expiry date no
//! longer apply, and the model never reads the clock itself.
//!
//! ```
//! use codex_policy_model::SandboxPolicy;
//!
//! let policy: SandboxPolicy =
//!     serde_json::from_str(r#"{"mode":"workspace-write","network_access":false}"#)?;
//! assert!(policy.allows_any_write() && !policy.has_network_access());
//!
//! let cwd = std::env::current_dir()?;
//! let roots = policy.writable_roots(&cwd, None)?;
//! assert!(roots.allows_write_to(&cwd.canonicalize()?.join("src/main.rs")));
//! assert!(!roots.allows_write_to(std::path::Path::new("/etc/passwd")));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod domain;
pub mod effective;
mod files;
mod json_schema;
mod policy;
mod regular_file;
mod sandbox;
mod secret_shapes;
pub mod validate;

/// The calendar date type of *today* and of expiry dates, so that callers
/// need no `chrono` of their own.
pub use chrono::NaiveDate;
pub use domain::{
    DomainError, DomainMatcher, DomainName, DomainPattern, DomainVerdict, Host, decide,
};
/// The check that policy files the sandboxed command could have written only
/// tighten the policy; also reachable as [`effective::tightening`].
pub use effective::tightening;
/// The environment a command starts with: `[shell_environment_policy]` as
/// written and resolved, and what it keeps of a parent's variables.
pub use files::ShellEnvironmentPolicyTable;
pub use files::{
    ApprovalPolicy, AuditTable, CodexConfig, CodexProfileTable, CodexRc, ConfigError,
    ConfiguredSandbox, ContextSource, Credentials, Diagnostic, DiagnosticKind, DomainEntry,
    DomainRule, Egress, EgressMode, EnvironmentContext, EnvironmentName, FsyncSetting,
    HarnessPolicy, IpRule, IpRuleError, Limits, Located, Location, MAX_CONFIG_BYTES,
    MAX_READ_RULES, ManagedNetworkTable, ModeEntry, NetworkAccess, NetworkAccessError, NetworkGate,
    NetworkRules, Observability, OutboundPolicy, PermissionsProfile, PolicyVersion,
    ProfileFilesystemTable, ProfileNetworkTable, ProjectTable, ReadOnlyTable, ReadRuleEntry,
    Requirements, RuntimeContext, RuntimeContextError, RuntimePattern, SampleRate, SandboxTable,
    SecretRef, SecretRefError, SocketEntry, SocketRule, SourceFile, Telemetry, TrustLevel,
    UnknownNetworkAccess, UnknownRuntimePattern, WorkspaceWriteTable, closest_name, open_regular,
};
/// Expiring allow entries: the dates as written and where, judged against a
/// *today* the caller passes in.
pub use files::{ExpiredAllows, Expiry, ExpiryDate, ExpiryDateError, utc_date};
pub use json_schema::json_schema;
pub use policy::{
    ALWAYS_PROTECTED_NAMES, AllowReadError, CODEX_AUTH_FILE_NAME, CommandWritable,
    DEFAULT_HIDDEN_IN_HOME, DefaultLocations, EffectiveWritableRoots, GIT_DIR_NAME, HiddenPath,
    HiddenPaths, NetworkMode, ProtectedHomes, ReadPath, ReadPathError, SandboxMode, SandboxPolicy,
    SkipReason, SkippedRoot, UnknownApprovalPolicy, UnknownSandboxMode, WritableRoot,
    WritableRootsError, git_dir_links, git_metadata_paths,
};
/// The resolved environment policy and its result (see
/// [`ShellEnvironmentPolicyTable`]).
pub use policy::{
    DropReason, DroppedVariable, EnvironmentInherit, EnvironmentPolicy, EnvironmentSetting,
    FilteredEnvironment, VariablePattern, VariablePatternError,
};
pub use sandbox::{
    EgressListeners, EgressPorts, EnforcementReport, Protection, ProtectionReport,
    ProtectionStatus, Sandbox, SandboxedChild, exec_failure,
};
/// Secret detection, shared by validation and the audit log's redaction; also
/// reachable as [`validate::secrets`].
pub use validate::secrets;
