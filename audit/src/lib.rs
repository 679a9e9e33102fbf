//! Evidence of every decision codex-policy takes, as JSON Lines.
//!
//! Each event (`timestamp`, `session_id`, `operation`, `target`, `decision`,
//! `reason`, `source`) is redacted before it is written (user names in home
//! paths, credentials in URLs, bearer tokens, cloud keys), reaches the file in a
//! single append so concurrent writers never interleave, and sampling never drops
//! a `denied` or `requires_approval` event.
//!
//! Status: not implemented yet. This crate is reserved in the workspace layout so
//! that the dependency rules of `ARCHITECTURE.md` hold from the start; it exposes
//! no API until the audit log lands.
