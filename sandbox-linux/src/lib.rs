//! Enforces a `SandboxPolicy` on a Linux child process with the kernel's own
//! mechanisms: Landlock for the file system, seccomp for dangerous system calls
//! and non-Unix sockets, and user, mount, network and PID namespaces for
//! isolation. No external helper binary is involved.
//!
//! When the host cannot enforce what the policy asks for, spawning fails closed
//! and says what is missing; a best-effort mode reports exactly what was left
//! unenforced.
//!
//! Status: not implemented yet. This crate is reserved in the workspace layout so
//! that the dependency rules of `ARCHITECTURE.md` hold from the start; it exposes
//! no API until the backend lands.
