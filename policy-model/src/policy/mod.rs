//! What a child process may do: [`SandboxPolicy`] and its [`SandboxMode`], and
//! the writable roots a policy grants in one working directory, with the
//! subpaths (`.git`, `.codex`, `.agents`) that stay read-only inside them.
//!
//! The bottom layer: nothing here knows about configuration files, validation
//! or composition (reading a `.git` pointer file goes through the crate's
//! non-blocking open, below every layer). The `Sandbox` contract that enforces
//! a policy builds on it.

mod approval;
mod network_mode;
mod sandbox_policy;
mod writable_roots;

pub use approval::{ApprovalPolicy, UnknownApprovalPolicy};
pub use network_mode::NetworkMode;
pub use sandbox_policy::{SandboxMode, SandboxPolicy, UnknownSandboxMode};
pub use writable_roots::{
    ALWAYS_PROTECTED_NAMES, CommandWritable, EffectiveWritableRoots, GIT_DIR_NAME, ProtectedHomes,
    SkipReason, SkippedRoot, WritableRoot, WritableRootsError, git_dir_links, git_metadata_paths,
};
