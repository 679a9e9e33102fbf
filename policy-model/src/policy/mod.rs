//! What a child process may do: [`SandboxPolicy`] and its [`SandboxMode`], and
//! the writable roots a policy grants in one working directory, with the
//! subpaths (`.git`, `.codex`, `.agents`) that stay read-only inside them.
//!
//! Also what a command may not read ([`HiddenPaths`]: the credential stores)
//! and the environment it starts with ([`EnvironmentPolicy`]: Codex's
//! `[shell_environment_policy]`, resolved).
//!
//! The bottom layer: nothing here knows about configuration files, validation
//! or composition (reading a `.git` pointer file goes through the crate's
//! non-blocking open, and the environment policy recognizes secret-shaped
//! values with the crate's secret shapes, both below every layer). The
//! `Sandbox` contract that enforces a policy builds on it.

mod approval;
mod environment;
mod hidden_paths;
mod network_mode;
mod sandbox_policy;
mod writable_roots;

pub use approval::{ApprovalPolicy, UnknownApprovalPolicy};
pub use environment::{
    DropReason, DroppedVariable, EnvironmentInherit, EnvironmentPolicy, EnvironmentSetting,
    FilteredEnvironment, VariablePattern, VariablePatternError,
};
pub use hidden_paths::{
    AllowReadError, CODEX_AUTH_FILE_NAME, DEFAULT_HIDDEN_IN_HOME, DefaultLocations, HiddenPath,
    HiddenPaths, ReadPath, ReadPathError,
};
pub use network_mode::NetworkMode;
pub use sandbox_policy::{SandboxMode, SandboxPolicy, UnknownSandboxMode};
pub use writable_roots::{
    ALWAYS_PROTECTED_NAMES, CommandWritable, EffectiveWritableRoots, GIT_DIR_NAME, ProtectedHomes,
    SkipReason, SkippedRoot, WritableRoot, WritableRootsError, git_dir_links, git_metadata_paths,
};
