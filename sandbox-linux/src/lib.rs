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
//!   ancestor inside a writable root pinned), cover the paths the caller
//!   hides ([`LinuxSandbox::hide_paths`]) with empty read-only mounts, give a
//!   private `/dev` and IPC,
//!   and make every process of the sandbox die with it; the command holds no
//!   capability;
//! - a **broker** outside the sandbox (seccomp user notification) performs
//!   every `connect` and `chmod` itself, so path-named unix sockets outside the
//!   sandbox and modes outside the writable roots stay out of reach;
//! - with [`LinuxSandbox::filtered_network`], a policy without network gets
//!   an empty network namespace whose only way out is two listeners on its
//!   own loopback, made inside at each start and handed to the caller's
//!   egress proxy.
//!
//! [`LinuxSandbox::plan`] decides which layers a policy needs and whether this
//! host provides them; [`LinuxSandbox::prepare`] builds, once, what does not
//! depend on the command (the Landlock rules, the seccomp program, the
//! broker's policy, the namespace settings); the [`PreparedSandbox`] then
//! starts any number of commands, from any thread, each with what depends on
//! the moment (its mounts, looked for on disk again, its broker). The child
//! only makes async-signal-safe system calls, so the caller is never
//! restricted and may be multi-threaded. When the host lacks a layer the
//! policy needs, a strict sandbox ([`LinuxSandbox::new`]) refuses to start
//! anything; [`LinuxSandbox::best_effort`] starts with what there is and its
//! [`EnforcementReport`](codex_policy_model::EnforcementReport) says what is
//! not enforced.
//!
//! ```no_run
//! # #[cfg(target_os = "linux")] {
//! use codex_policy_model::SandboxPolicy;
//! use codex_sandbox_linux::LinuxSandbox;
//!
//! let sandbox = LinuxSandbox::new();
//! let plan = sandbox.plan(
//!     &SandboxPolicy::workspace_write(false),
//!     "/home/me/project".as_ref(),
//!     std::env::var_os("TMPDIR").as_deref(),
//! )?;
//! let prepared = sandbox.prepare(plan)?; // share it between threads (it is Sync)
//! print!("{}", prepared.report());
//! for args in [["test", "--quiet"], ["build", "--release"]] {
//!     let mut command = std::process::Command::new("cargo");
//!     command.args(args);
//!     let mut started = prepared.spawn(&mut command)?;
//!     let status = started.child.wait()?;
//! }
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Sandbox::spawn`](codex_policy_model::Sandbox::spawn) does the three steps
//! in one call. A single-threaded program that runs one command and waits for
//! it can save a process with [`PreparedSandbox::supervise`], which makes the
//! calling process the sandbox's supervisor (process-wide effects: see there).

#[cfg(target_os = "linux")]
mod child;
#[cfg(target_os = "linux")]
mod egress;
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
    CA_BUNDLE_PATH, Compatibility, LinuxSandbox, LinuxSandboxError, PreparedSandbox,
    RepointableStep, SandboxPlan, Supervised,
};
#[cfg(target_os = "linux")]
pub use seccomp_filter::SeccompError;
