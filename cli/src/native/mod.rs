//! The sandbox of the operating system this was built for: the Linux backend
//! on Linux, Seatbelt on macOS; elsewhere a sandbox that refuses, saying why.
//!
//! `Backend` and `PreparedBackend` name the chosen backend's builder and
//! prepared sandbox for the session, which uses only what both offer alike.

#[cfg(target_os = "linux")]
mod linux;
#[cfg(target_os = "linux")]
pub use linux::*;

#[cfg(target_os = "macos")]
mod macos;
#[cfg(target_os = "macos")]
pub use macos::*;

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod unsupported;
#[cfg(not(any(target_os = "linux", target_os = "macos")))]
pub use unsupported::*;
