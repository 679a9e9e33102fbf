//! Security profiles: five named answers to "what may the agent's commands do?".
//!
//! | profile | file writes | network |
//! |---|---|---|
//! | `offline` (default) | none | no |
//! | `net-read-only` | none | read-only methods through the egress proxy |
//! | `workspace` | workspace + temp dirs | no |
//! | `workspace-net` | workspace + temp dirs | yes |
//! | `trusted` | anywhere | yes |
//!
//! Each profile maps to a [`SandboxPolicy`](codex_policy_model::SandboxPolicy).
//! [`ProfileResolver`] picks the profile that applies from the caller's explicit
//! choice, the environment and `config.toml`, and records which source chose
//! it; a source it cannot use is a [`ProfileError`] naming that source.
//!
//! ```
//! use codex_profiles::SecurityProfile;
//!
//! let profile: SecurityProfile = "workspace-net".parse()?;
//! assert!(profile.allows_network() && profile.allows_write());
//! assert!(!profile.allows_full_write());
//! assert_eq!(
//!     serde_json::to_string(&profile.to_sandbox_policy())?,
//!     r#"{"mode":"workspace-write","writable_roots":[],"network_access":true,"exclude_tmpdir_env_var":false,"exclude_slash_tmp":false}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// Windows has no sandbox backend, and this crate's files, permissions and
// processes are Unix ones: say so at build time rather than with a wall of
// unrelated errors, and say where it does work.
#[cfg(windows)]
compile_error!(
    "codex-policy does not build for Windows: it has no sandbox there, so commands could not \
     be confined. Build and run it inside WSL 2, where the Linux sandbox enforces the policy. \
     (codex-policy-model and codex-execpolicy build on Windows, for decisions without \
     enforcement.)"
);

mod elevation;
mod named;
mod profile;
mod project_file;
mod resolve;

pub use elevation::{
    ELEVATIONS_DIR_NAME, ElevationError, ElevationStore, Grant, GrantStatus, MAX_ELEVATION,
    MAX_REASON_CHARS, UnsafeEntry, format_duration, parse_duration,
};
pub use named::{NamedProfile, ProfileLink, ProfileTemplate, TEMPLATES};
pub use profile::{Capabilities, FileWrites, Preset, SecurityProfile, UnknownProfile};
pub use project_file::PROJECT_FILE_NAME;
pub use resolve::{
    ActiveElevation, ApprovalChoice, CODEX_HOME_ENV, CONFIG_FILE_NAME, HOME_ENV, OverriddenChoice,
    PROFILE_ENV, ProfileChoice, ProfileError, ProfileResolver, ProfileSource, ResolvedProfile,
    codex_home, format_time,
};
