//! The effective policy: the security profile's sandbox policy composed with
//! `.codexrc.json`, `harness.policy.json`, managed `requirements.toml` and
//! `config.toml` permission rules and workspace allowlist. Most restrictive
//! wins, denies win over allows, allow entries past their expiry date allow
//! nothing (validation dated them), and every field records the source that
//! decided it.
//!
//! - `view`: which of the validated files composition reads.
//! - `domains`: the [`DomainDecision`] on every domain pattern any file names.
//! - `composition`: [`compose`] itself, into an [`EffectivePolicy`] (network level
//!   and filters, unix sockets, monitor mode).
//! - `egress`: the [`EgressRules`] a filtered network is enforced with.
//! - `hidden`: [`hidden_paths`], the defaults with the profile's `deny_read`
//!   and `allow_read` applied.
//! - [`tightening`]: the check that files the sandboxed command could have
//!   written only make the policy stricter, by composing with and without them.
//!
//! This is the top layer: it reads what validation parsed, and nothing else in
//! the crate depends on it.

mod composition;
mod domains;
mod egress;
mod hidden;
pub mod tightening;
mod view;

pub use composition::{Decided, EffectivePolicy, NetworkLevel, compose};
pub use domains::{DomainDecision, DomainOutcome};
pub use egress::{AllowlistMiss, EgressRules};
pub use hidden::hidden_paths;
