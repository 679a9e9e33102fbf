//! The embedded default policy loads (which verifies every example in it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_execpolicy::PolicyLoader;

#[test]
fn default_policy_loads_and_its_examples_hold() {
    let loader = PolicyLoader::with_default_policy().unwrap_or_else(|e| panic!("{e}"));
    let policy = loader.finish();
    assert!(policy.network_rules().is_empty());
}
