//! Enforces a `SandboxPolicy` on a macOS child process by generating a Seatbelt
//! profile and launching the child under it.
//!
//! Status: not implemented yet. This crate is reserved in the workspace layout so
//! that the dependency rules of `ARCHITECTURE.md` hold from the start; it exposes
//! no API until the backend lands.
