//! codex-policy decides and enforces what an AI agent's child processes may do.
//!
//! This crate is the one dependency an embedder needs (`cargo add codex-policy`):
//! it re-exports the typed model ([`SandboxPolicy`], writable roots, config files)
//! and the security profiles ([`SecurityProfile`], [`ProfileResolver`]), and ships
//! the `codex-policy` command-line tool built on them. [`NativeSandbox`] is the
//! [`Sandbox`] of the platform it was built for (Linux: Landlock, seccomp and
//! namespaces).
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
//!
//! // Run a command under the policy; the calling process stays unrestricted.
//! # #[cfg(target_os = "linux")] {
//! use codex_policy::{NativeSandbox, Sandbox};
//! let cwd = std::env::current_dir()?;
//! let mut command = std::process::Command::new("true");
//! let mut started = NativeSandbox::best_effort().spawn(&policy, &cwd, &mut command)?;
//! assert!(started.child.wait()?.success());
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub use codex_audit as audit;
pub use codex_execpolicy as execpolicy;
pub use codex_policy_model as model;
pub use codex_policy_model::{
    CodexConfig, ConfigError, Diagnostic, EffectiveWritableRoots, EnforcementReport, Location,
    Protection, ProtectionStatus, Sandbox, SandboxMode, SandboxPolicy, SandboxedChild,
    WritableRoot, WritableRootsError,
};
#[cfg(target_os = "linux")]
pub use codex_sandbox_linux::{
    Compatibility, HostCapabilities, LinuxSandbox, LinuxSandboxError, SandboxPlan,
};

/// The sandbox of the operating system this was built for.
#[cfg(target_os = "linux")]
pub type NativeSandbox = codex_sandbox_linux::LinuxSandbox;
pub use codex_profiles as profiles;
pub use codex_profiles::{
    Capabilities, ProfileError, ProfileResolver, ProfileSource, ResolvedProfile, SecurityProfile,
};
