//! codex-policy decides and enforces what an AI agent's child processes may do.
//!
//! This crate is the one dependency an embedder needs (`cargo add codex-policy`):
//! it re-exports the typed model ([`SandboxPolicy`], writable roots, config files)
//! and the security profiles ([`SecurityProfile`], [`ProfileResolver`]), and ships
//! the `codex-policy` command-line tool built on them.
//!
//! ```
//! use codex_policy::{ProfileResolver, SandboxPolicy, SecurityProfile};
//!
//! let profile: SecurityProfile = "workspace".parse()?;
//! assert!(profile.allows_write() && !profile.allows_network());
//! let policy: SandboxPolicy = profile.to_sandbox_policy();
//! assert!(!policy.has_full_disk_write_access());
//!
//! // Or let the command line, environment and config.toml decide, as the CLI does:
//! let resolved = ProfileResolver::new()
//!     .command_line(Some(profile))
//!     .environment(|key| std::env::var_os(key))
//!     .resolve()?;
//! println!("{} chosen by {}", resolved.profile, resolved.source);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use codex_policy_model as model;
pub use codex_policy_model::{
    CodexConfig, ConfigError, Diagnostic, EffectiveWritableRoots, Location, SandboxMode,
    SandboxPolicy, WritableRoot, WritableRootsError,
};
pub use codex_profiles as profiles;
pub use codex_profiles::{
    Capabilities, ProfileError, ProfileResolver, ProfileSource, ResolvedProfile, SecurityProfile,
};
