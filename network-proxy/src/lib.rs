//! An egress proxy (HTTP CONNECT and SOCKS5) that lets a sandboxed child reach
//! only the domains its policy allows: names are normalized and matched against
//! allow and deny patterns (deny wins), resolved once, and the connection goes to
//! the vetted address so DNS rebinding cannot redirect it.
//!
//! Status: not implemented yet. This crate is reserved in the workspace layout so
//! that the dependency rules of `ARCHITECTURE.md` hold from the start; it exposes
//! no API until the proxy lands.
