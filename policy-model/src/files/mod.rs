//! The configuration files, parsed into types whose errors point at file, line,
//! column and key.
//!
//! - `diagnostic`: [`SourceFile`] (a file's text, read without blocking and up
//!   to [`MAX_CONFIG_BYTES`]) and [`ConfigError`] with its located [`Diagnostic`].
//! - `json_source`, `toml_source`: strict parsing (duplicate keys refused) that
//!   turns every serde error into a located diagnostic; where each JSON key is.
//! - `codex_config`: the sandbox keys of Codex's `config.toml` ([`CodexConfig`]).
//! - `expiry`: dates after which allow entries stop applying ([`ExpiryDate`],
//!   [`Expiry`]), judged against a *today* the caller passes in.
//! - `filesystem_rules`: `[permissions.<name>.filesystem]`, the paths a
//!   profile hides (`deny_read`) or shows again (`allow_read`).
//! - `network_rules`: the domain and unix-socket rules of managed
//!   `requirements.toml` and of `[permissions.<name>.network]`, normalized into
//!   [`NetworkRules`].
//! - `runtime_files`: the runtime-control files `.codexrc.json` ([`CodexRc`])
//!   and `harness.policy.json` ([`HarnessPolicy`]), each [`Located`].
//! - `shell_environment`: `[shell_environment_policy]` as written
//!   ([`ShellEnvironmentPolicyTable`]), checked and resolved into an
//!   `EnvironmentPolicy`.
//! - `patterns`: the four environment patterns `init` writes ([`RuntimePattern`]).
//! - `runtime_context`: the runtime environment as harness code reads it
//!   ([`RuntimeContext`]).
//!
//! This layer knows the policy types and domain patterns; it knows nothing of
//! validation findings or composition.

mod codex_config;
mod diagnostic;
mod expiry;
mod filesystem_rules;
mod json_source;
mod known_keys;
pub use known_keys::closest_name;
mod network_rules;
mod patterns;
mod runtime_context;
mod runtime_files;
mod shell_environment;
mod toml_source;

pub use codex_config::{
    ApprovalPolicy, AuditTable, CodexConfig, CodexProfileTable, ConfiguredSandbox, FsyncSetting,
    ProjectTable, ReadOnlyTable, SandboxTable, TrustLevel, WorkspaceWriteTable,
};
pub use diagnostic::{
    ConfigError, Diagnostic, DiagnosticKind, Location, MAX_CONFIG_BYTES, SourceFile, open_regular,
};
pub use expiry::{Expiry, ExpiryDate, ExpiryDateError, utc_date};
pub use filesystem_rules::{MAX_READ_RULES, ProfileFilesystemTable, ReadRuleEntry};
pub(crate) use json_source::{dotted, locate as locate_json_keys, pointer_segment};
pub use network_rules::{
    DomainEntry, DomainRule, ExpiredAllows, ManagedNetworkTable, ModeEntry, NetworkRules,
    PermissionsProfile, ProfileNetworkTable, Requirements, SocketEntry, SocketRule,
};
pub use patterns::{RuntimePattern, UnknownRuntimePattern};
pub use runtime_context::{ContextSource, NetworkAccessError, RuntimeContext, RuntimeContextError};
pub use runtime_files::{
    CodexRc, Credentials, Egress, EgressMode, EnvironmentContext, EnvironmentName, HarnessPolicy,
    IpRule, IpRuleError, Limits, Located, NetworkAccess, NetworkGate, Observability,
    OutboundPolicy, PolicyVersion, SampleRate, SecretRef, SecretRefError, Telemetry,
    UnknownNetworkAccess,
};
pub use shell_environment::ShellEnvironmentPolicyTable;
pub(crate) use shell_environment::set_key as shell_environment_set_key;
