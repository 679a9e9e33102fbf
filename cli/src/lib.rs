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

/// Codex's home (`$CODEX_HOME`, else `~/.codex`) as the sandbox must protect
/// it: never writable by the command. A home that does not exist but lies
/// inside one of `roots` could be created by the command — and a
/// `config.toml` it planted there would be read by the next run — so it is
/// created first (mode 0700), and `Ok(Some((home, true)))` says so, for the
/// caller to tell the user. `Ok(None)` when no home is configured.
pub fn prepare_codex_home(
    roots: &EffectiveWritableRoots,
) -> Result<Option<(std::path::PathBuf, bool)>, ProfileError> {
    let Some(home) = profiles::codex_home(|key| std::env::var_os(key))? else {
        return Ok(None);
    };
    if home.symlink_metadata().is_ok() {
        return Ok(Some((home, false)));
    }
    // Where it would be created, as the sandbox sees paths (canonical parents).
    let nearest = home.ancestors().find_map(|a| std::fs::canonicalize(a).ok());
    let inside =
        nearest.is_some_and(|existing| roots.roots.iter().any(|r| existing.starts_with(&r.root)));
    if !inside {
        return Ok(Some((home, false)));
    }
    use std::os::unix::fs::DirBuilderExt;
    let created = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&home)
        .is_ok();
    Ok(Some((home, created)))
}
