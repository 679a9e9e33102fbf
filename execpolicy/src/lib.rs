//! Decides, before a command runs, whether its command line is allowed, needs
//! approval or is forbidden.
//!
//! Rules are Starlark files in Codex's dialect (`prefix_rule`, `host_executable`,
//! `network_rule`) plus program definitions (`define_program`) with typed
//! arguments. Shell wrappers such as `bash -lc '...'` and `env VAR=x` prefixes are
//! normalized with a real shell parser before matching, and the strictest decision
//! of every sub-command wins.
//!
//! Status: not implemented yet. This crate is reserved in the workspace layout so
//! that the dependency rules of `ARCHITECTURE.md` hold from the start; it exposes
//! no API until the engine lands.
