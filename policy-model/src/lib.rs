//! The typed model every other codex-policy crate speaks.
//!
//! A [`SandboxPolicy`] says what a child process may do: read everything and write
//! nothing, write only inside some roots, or anything at all; with or without
//! network. [`SandboxPolicy::writable_roots`] turns a policy and a working directory
//! into the exact, canonical directories an OS sandbox must allow, and the
//! subpaths (`.git`, `.codex`, `.agents`) it must keep read-only. Configuration
//! files are parsed here too, into types whose errors point at file, line, column
//! and key ([`ConfigError`]); JSON Schemas are generated from the same types.
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

mod codex_config;
mod diagnostic;
mod domain;
pub mod effective;
mod json_source;
mod network_rules;
mod patterns;
mod runtime_context;
mod runtime_files;
mod sandbox;
mod sandbox_policy;
pub mod secrets;
pub mod tightening;
pub mod validate;
mod writable_roots;

pub use codex_config::{
    ApprovalPolicy, AuditTable, CodexConfig, CodexProfileTable, ConfiguredSandbox, FsyncSetting,
    ReadOnlyTable, SandboxTable, WorkspaceWriteTable,
};
pub use diagnostic::{
    ConfigError, Diagnostic, DiagnosticKind, Location, MAX_CONFIG_BYTES, SourceFile, open_regular,
};
pub use domain::{
    DomainError, DomainMatcher, DomainName, DomainPattern, DomainVerdict, Host, decide,
};
pub use json_source::{JsonLocator, dotted};
pub use network_rules::{
    DomainEntry, DomainRule, ManagedNetworkTable, NetworkRules, PermissionsProfile,
    ProfileNetworkTable, Requirements, SocketEntry, SocketRule,
};
pub use patterns::RuntimePattern;
pub use runtime_context::{ContextSource, NetworkAccessError, RuntimeContext, RuntimeContextError};
pub use runtime_files::{
    CodexRc, Credentials, Egress, EgressMode, EnvironmentContext, EnvironmentName, HarnessPolicy,
    IpRule, Limits, Located, NetworkAccess, NetworkGate, Observability, OutboundPolicy,
    PolicyVersion, SampleRate, SecretRef, Telemetry,
};
pub use sandbox::{
    EnforcementReport, Protection, ProtectionReport, ProtectionStatus, Sandbox, SandboxedChild,
};
pub use sandbox_policy::{SandboxMode, SandboxPolicy, UnknownSandboxMode};
pub use writable_roots::{
    ALWAYS_PROTECTED_NAMES, CommandWritable, EffectiveWritableRoots, GIT_DIR_NAME, ProtectedHomes,
    SkipReason, SkippedRoot, WritableRoot, WritableRootsError, git_dir_links, git_metadata_paths,
};
