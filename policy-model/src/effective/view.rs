//! The files composition reads: all of a [`Validation`]'s, or the subset the
//! sandboxed command could not have written.

use std::path::Path;

use crate::files::{CodexRc, HarnessPolicy, Located, NetworkRules, SourceFile, dotted};
use crate::policy::SandboxPolicy;
use crate::validate::{LoadedConfig, Validation};

/// The files composition reads, possibly a subset of a [`Validation`].
pub(super) struct View<'a> {
    pub(super) codexrc: Option<&'a Located<CodexRc>>,
    pub(super) harness: Option<&'a Located<HarnessPolicy>>,
    pub(super) config: Option<&'a LoadedConfig>,
    pub(super) requirements: Option<&'a (SourceFile, NetworkRules)>,
}

impl<'a> View<'a> {
    /// The files of `files` whose path `include` accepts.
    pub(super) fn of(files: &'a Validation, include: &dyn Fn(&Path) -> bool) -> Self {
        Self {
            codexrc: files.codexrc.as_ref().filter(|f| include(f.source.path())),
            harness: files.harness.as_ref().filter(|f| include(f.source.path())),
            config: files.config.as_ref().filter(|f| include(f.source.path())),
            requirements: files
                .requirements
                .as_ref()
                .filter(|(s, _)| include(s.path())),
        }
    }

    /// `[sandbox_workspace_write] allowlisted_domains`, where they apply: they
    /// live in the workspace-write table, so only a `workspace-write` sandbox
    /// reads them, and only one with network has anything for them to filter.
    pub(super) fn workspace_allowlist(&self, policy: &SandboxPolicy) -> Option<&'a NetworkRules> {
        if !matches!(
            policy,
            SandboxPolicy::WorkspaceWrite {
                network_access: true,
                ..
            }
        ) {
            return None;
        }
        self.config?.workspace_allowlist.as_ref()
    }
}

/// `file:line:column key` of a JSON pointer in a runtime file.
pub(super) fn where_<T>(file: &Located<T>, pointer: &str) -> String {
    format!("{} {}", file.locate(pointer), dotted(pointer))
}
