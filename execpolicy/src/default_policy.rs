//! The embedded default policy (`default.policy`), prepared ahead of time.
//!
//! Every sandboxed run consults it, in a new process each time, so
//! evaluating its Starlark on every run would cost milliseconds. It is
//! evaluated (and its examples verified) once, by the test below, which
//! stores the result in `default_policy_prepared.rs`; a run only
//! deserializes that. The prepared form records a hash of the text it was
//! made from: when `default.policy` changes without it, the build falls back
//! to evaluating the text (correct, only slower) and the test fails until
//! it is made again:
//!
//! ```text
//! UPDATE_DEFAULT_POLICY=1 cargo test -p codex-execpolicy --lib default_policy
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::Decision;
use crate::policy::Policy;
use crate::program::ProgramSpec;
use crate::rules::{ArgumentCondition, NetworkRule, PrefixRule};

mod prepared;

/// The name the default policy's rules are located by (`default.policy:12:1`).
pub(crate) const NAME: &str = "default.policy";

/// The text of the default policy.
pub(crate) const TEXT: &str = include_str!("default.policy");

/// Whether the prepared form was made from this very text.
const FRESH: bool = fnv1a(TEXT.as_bytes()) == prepared::SOURCE_FNV1A;

/// 64-bit FNV-1a, evaluated when the crate is compiled.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The default policy from its prepared form; `None` when that form is stale
/// (or unreadable), for the caller to evaluate the text instead.
pub(crate) fn prepared() -> Option<Policy> {
    if !FRESH {
        return None;
    }
    let prepared: Prepared = serde_json::from_str(prepared::POLICY).ok()?;
    prepared.into_policy()
}

/// A policy as stored: its rules, definitions and paths, each program's in
/// the order they were loaded, programs by name.
#[derive(Debug, Serialize, Deserialize)]
struct Prepared {
    /// Each rule, and the index of its argument condition in `conditions`.
    prefix_rules: Vec<(PrefixRule, Option<usize>)>,
    /// The rules' argument conditions, each once: the rules of one
    /// `prefix_rule` share theirs, and deserializing them once per rule
    /// would cost more than the rest of the policy.
    conditions: Vec<ArgumentCondition>,
    programs: Vec<ProgramSpec>,
    host_executables: Vec<(String, Vec<PathBuf>)>,
    /// Host, protocol (as written in rules files), decision, justification.
    network_rules: Vec<(String, String, Decision, Option<String>)>,
}

impl Prepared {
    fn into_policy(self) -> Option<Policy> {
        let mut policy = Policy::default();
        let conditions: Vec<Arc<ArgumentCondition>> =
            self.conditions.into_iter().map(Arc::new).collect();
        for (mut rule, condition) in self.prefix_rules {
            if let Some(index) = condition {
                rule.arguments = Some(conditions.get(index)?.clone());
            }
            policy.add_prefix_rule(rule);
        }
        for spec in self.programs {
            policy.add_program(spec);
        }
        for (name, paths) in self.host_executables {
            policy.set_host_executable(&name, paths);
        }
        for (host, protocol, decision, justification) in self.network_rules {
            policy.network_rules.push(NetworkRule {
                host,
                protocol: crate::loader::network_protocol(&protocol).ok()?,
                decision,
                justification,
            });
        }
        Some(policy)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::PolicyLoader;

    impl Prepared {
        fn from_policy(policy: &Policy) -> Self {
            let mut programs: Vec<_> = policy.programs.iter().collect();
            programs.sort_by_key(|(name, _)| *name);
            let mut conditions: Vec<ArgumentCondition> = Vec::new();
            let mut prefix_rules = Vec::new();
            for rule in programs.iter().flat_map(|(_, p)| &p.prefix_rules) {
                let index = rule.arguments.as_deref().map(|condition| {
                    conditions
                        .iter()
                        .position(|c| c == condition)
                        .unwrap_or_else(|| {
                            conditions.push(condition.clone());
                            conditions.len() - 1
                        })
                });
                prefix_rules.push((rule.clone(), index));
            }
            Self {
                prefix_rules,
                conditions,
                programs: programs
                    .iter()
                    .flat_map(|(_, p)| p.specs.iter().cloned())
                    .collect(),
                host_executables: programs
                    .iter()
                    .filter(|(_, p)| !p.host_paths.is_empty())
                    .map(|(name, p)| (name.to_string(), p.host_paths.clone()))
                    .collect(),
                network_rules: policy
                    .network_rules
                    .iter()
                    .map(|r| {
                        (
                            r.host.clone(),
                            r.protocol.as_str().to_owned(),
                            r.decision,
                            r.justification.clone(),
                        )
                    })
                    .collect(),
            }
        }
    }

    /// The text of `prepared.rs` for `policy`, made from `text`.
    fn prepared_source(policy: &Policy, text: &str) -> String {
        let json = serde_json::to_string(&Prepared::from_policy(policy)).unwrap();
        // A raw string delimiter that the JSON cannot close early.
        let mut hashes = String::from("#");
        while json.contains(&format!("\"{hashes}")) {
            hashes.push('#');
        }
        format!(
            "// @generated from default.policy by\n\
             // `UPDATE_DEFAULT_POLICY=1 cargo test -p codex-execpolicy --lib default_policy`:\n\
             // do not edit.\n\n\
             /// FNV-1a of the `default.policy` text this was prepared from.\n\
             pub(super) const SOURCE_FNV1A: u64 = {:#018x};\n\n\
             /// The evaluated policy, serialized.\n\
             pub(super) const POLICY: &str = r{hashes}\"{json}\"{hashes};\n",
            fnv1a(text.as_bytes())
        )
    }

    /// Evaluates `default.policy` (which verifies every example in it) and
    /// checks that the prepared form is that policy, made from this text.
    #[test]
    fn default_policy_prepared_form_is_current() {
        let mut loader = PolicyLoader::new();
        loader
            .load_str(NAME, TEXT)
            .unwrap_or_else(|e| panic!("{e}"));
        let evaluated = loader.finish();
        let expected = prepared_source(&evaluated, TEXT);
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/src/default_policy/prepared.rs"
        );
        if std::env::var_os("UPDATE_DEFAULT_POLICY").is_some() {
            std::fs::write(path, &expected).unwrap();
            return;
        }
        let current = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            current == expected,
            "{path} is stale: run `UPDATE_DEFAULT_POLICY=1 cargo test -p codex-execpolicy --lib default_policy`"
        );
        // `None` if the recorded hash were not this text's.
        assert_eq!(prepared(), Some(evaluated));
    }
}
