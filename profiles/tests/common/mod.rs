//! Shared helpers: a fake environment and a Codex home with a config.toml.

#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use codex_profiles::{ProfileError, ProfileResolver, ResolvedProfile};

/// A fake environment; never the process's, so tests cannot leak into each other.
pub(crate) fn env(pairs: &[(&str, &Path)]) -> impl Fn(&str) -> Option<OsString> + use<> {
    let map: HashMap<String, OsString> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.as_os_str().to_owned()))
        .collect();
    move |key| map.get(key).cloned()
}

/// A temporary Codex home holding `config` as config.toml.
pub(crate) fn codex_home(config: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    dir
}

/// Resolves with `home` as CODEX_HOME and `project` as the working directory.
pub(crate) fn resolve_in(
    home: &Path,
    project: &Path,
    resolver: ProfileResolver,
) -> Result<ResolvedProfile, ProfileError> {
    resolver
        .environment(env(&[("CODEX_HOME", home), ("HOME", home)]))
        .project_dir(Some(project.to_path_buf()))
        .resolve()
}
