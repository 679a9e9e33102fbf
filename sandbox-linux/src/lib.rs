//! Enforces a [`SandboxPolicy`](codex_policy_model::SandboxPolicy) on a Linux child
//! process with the kernel's own mechanisms, natively (no helper binary):
//!
//! - **Landlock** confines writes to the writable roots (reads stay open), refuses
//!   TCP when network is off (ABI ≥ 4), and scopes signals and abstract unix
//!   sockets to the sandbox (ABI ≥ 6);
//! - **seccomp** refuses non-`AF_UNIX` sockets when network is off, and ptrace,
//!   io_uring, bpf, mount, namespace creation, TIOCSTI and the like always;
//! - **user, mount, PID, IPC (and network) namespaces** keep `.git`, `.codex`,
//!   `.agents` and the caller's protected paths read-only and unmovable (every
//!   ancestor inside a writable root pinned), give a private `/dev` and IPC,
//!   and make every process of the sandbox die with it; the command holds no
//!   capability;
//! - a **broker** outside the sandbox (seccomp user notification) performs
//!   every `connect` and `chmod` itself, so path-named unix sockets outside the
//!   sandbox and modes outside the writable roots stay out of reach.
//!
//! Everything is prepared in the parent; the child only makes async-signal-safe
//! system calls, so the caller is never restricted and may be multi-threaded. When
//! the host lacks a layer the policy needs, [`LinuxSandbox::new`] refuses to start
//! the command; [`LinuxSandbox::best_effort`] starts it and its
//! [`EnforcementReport`](codex_policy_model::EnforcementReport) says what is not
//! enforced.
//!
//! ```no_run
//! # #[cfg(target_os = "linux")] {
//! use codex_policy_model::{Sandbox, SandboxPolicy};
//! use codex_sandbox_linux::LinuxSandbox;
//!
//! let policy = SandboxPolicy::workspace_write(false);
//! let mut command = std::process::Command::new("cargo");
//! command.arg("test");
//! let mut started = LinuxSandbox::new().spawn(&policy, "/home/me/project".as_ref(), &mut command)?;
//! print!("{}", started.report);
//! let status = started.child.wait()?;
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(target_os = "linux")]
mod child;
#[cfg(target_os = "linux")]
mod host;
#[cfg(target_os = "linux")]
mod landlock_rules;
#[cfg(target_os = "linux")]
mod sandbox;
#[cfg(target_os = "linux")]
mod seccomp_filter;
#[cfg(target_os = "linux")]
mod socket_broker;

#[cfg(target_os = "linux")]
pub use host::HostCapabilities;
#[cfg(target_os = "linux")]
pub use landlock_rules::LandlockError;
#[cfg(target_os = "linux")]
pub use sandbox::{
    Compatibility, LinuxSandbox, LinuxSandboxError, Running, SandboxPlan, Supervisor,
};
#[cfg(target_os = "linux")]
pub use seccomp_filter::SeccompError;
