//! Enforces a [`SandboxPolicy`](codex_policy_model::SandboxPolicy) on a macOS
//! child process with Seatbelt, the kernel's sandbox, by way of
//! `/usr/bin/sandbox-exec`.
//!
//! The crate's work is to *write the profile*, and that part is plain Rust
//! that runs and is tested on every platform: [`SeatbeltProfile::builder`]
//! takes the same typed policy the Linux backend enforces, asks the model for
//! its writable roots and their read-only subpaths
//! ([`SandboxPolicy::writable_roots`](codex_policy_model::SandboxPolicy::writable_roots)),
//! and [`SeatbeltBuilder::build`] checks every input and renders a profile
//! that:
//!
//! - denies everything by default (`(deny default)`), then allows reading the
//!   whole file system, as every sandboxed profile does;
//! - allows writes only beneath the writable roots, with `.git`, `.codex`,
//!   `.agents`, `.codex-profile` and the caller's
//!   [protected paths](SeatbeltBuilder::protected_paths) excluded, and every
//!   directory from a root down to them pinned (no `mv` of an ancestor);
//! - denies reading and writing the [hidden paths](SeatbeltBuilder::hidden_paths)
//!   (credential stores), last, so that no allow reopens them;
//! - allows no network, all of it, or only TCP to the egress proxy's two
//!   listeners on loopback ([`SeatbeltNetwork`]); path-named unix sockets are
//!   a separate grant ([`UnixSockets`]);
//! - allows the few process, sysctl, Mach and device operations ordinary
//!   tools need, each named in a `;` comment of the profile with its reason.
//!
//! **No path is ever part of the profile's text.** Each is a
//! `(param "NAME")` whose value travels as `-D NAME=VALUE`
//! ([`SeatbeltProfile::parameters`]), as an `OsString`: a path holding quotes,
//! parentheses, `;`, `#|`, newlines or bytes that are not UTF-8 cannot change
//! what the profile says, and is passed on exactly. Relative paths and NUL
//! bytes are errors ([`SeatbeltError`]), as is a network wider than the
//! policy's. A `danger-full-access` policy has no profile:
//! [`SeatbeltError::FullAccess`] tells the caller to run the command without
//! a sandbox, and to say so.
//!
//! Seatbelt matches the path the kernel resolved (`/tmp` is `/private/tmp`,
//! `/var` is `/private/var`): the writable roots come canonical from the
//! model, and a hidden, protected or socket path that exists is matched at
//! its resolved path as well as at the one given.
//!
//! ```
//! use codex_policy_model::SandboxPolicy;
//! use codex_sandbox_macos::{SeatbeltNetwork, SeatbeltProfile};
//!
//! let project = tempfile::tempdir()?;
//! let profile = SeatbeltProfile::builder(&SandboxPolicy::workspace_write(false), project.path())
//!     .tmpdir(None)
//!     .network(SeatbeltNetwork::Proxy { http: 3128, socks: 1080 })
//!     .hidden_paths([project.path().join("secrets")])
//!     .build()?;
//!
//! // The text names parameters only; the paths are their values.
//! let root = project.path().canonicalize()?;
//! assert!(profile.text().contains(r#"(subpath (param "WRITABLE_ROOT_0"))"#));
//! assert!(!profile.text().contains(root.to_str().unwrap_or("/")));
//! assert!(profile.parameters().iter().any(|(_, value)| *value == *root.as_os_str()));
//!
//! // What runs: /usr/bin/sandbox-exec -p TEXT -D NAME=VALUE … -- make test
//! let argv = profile.sandbox_exec_argv(&["make".into(), "test".into()]);
//! assert_eq!(argv[0], "/usr/bin/sandbox-exec");
//! assert_eq!(argv[argv.len() - 3], "--");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`MacSandbox`] starts commands with it: [`MacSandbox::prepare`] makes the
//! profile once per session, [`PreparedMacSandbox::command`] wraps each
//! command in `sandbox-exec`, and [`PreparedMacSandbox::spawn`] starts it
//! (`MacSandbox` also implements the [`Sandbox`](codex_policy_model::Sandbox)
//! trait). That code, too, compiles and runs everywhere; only macOS has
//! `/usr/bin/sandbox-exec`, and elsewhere a start is refused, never made
//! without the profile. It decides nothing of its own.
//!
//! What Seatbelt does not give, said plainly ([`SeatbeltProfile::report`]):
//! no system-call filter, no capability drop, no process containment (the
//! command's descendants may outlive it), set-uid programs keep their
//! privileges, and POSIX semaphores are shared with the user's other
//! processes. The command runs in a session of its own, without a
//! controlling terminal (no `TIOCSTI` into the user's), and opens no
//! terminal by path but the one it was given.

mod error;
mod launcher;
mod profile;
mod render;

pub use error::{PathRole, SeatbeltError};
pub use launcher::{MacSandbox, MacSandboxError, MacSupervised, PreparedMacSandbox};
pub use profile::{SANDBOX_EXEC, SeatbeltBuilder, SeatbeltNetwork, SeatbeltProfile, UnixSockets};
