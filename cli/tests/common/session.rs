//! Sessions over the escape suite's fixtures: the library path of the same
//! cases `codex-policy run` is tested with.

use std::path::{Path, PathBuf};

use codex_policy::{AuditDestination, Environment, SessionBuilder};

use super::escape::Fixture;

/// The environment a fixture's commands get: its own home and Codex home,
/// nothing of the developer's.
pub(crate) fn environment(fixture: &Fixture) -> Environment {
    Environment::from_vars([
        ("HOME", fixture.home.clone().into_os_string()),
        ("CODEX_HOME", fixture.codex_home.clone().into_os_string()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".into()),
    ])
}

/// A session builder for `profile` over `fixture`'s workspace, logging to
/// the returned file (outside every writable root).
pub(crate) fn builder(fixture: &Fixture, profile: &str) -> (SessionBuilder, PathBuf) {
    let log = fixture.home.join("audit.jsonl");
    let builder = codex_policy::Session::builder()
        .profile(profile.parse().expect("profile name"))
        .cwd(&fixture.workspace)
        .environment(environment(fixture))
        .audit(AuditDestination::File(log.clone()));
    (builder, log)
}

/// The events of a log, as JSON values.
pub(crate) fn events(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("an event per line"))
        .collect()
}

/// A rules file in the fixture's home (outside every writable root).
pub(crate) fn rules(fixture: &Fixture, text: &str) -> PathBuf {
    // Not directly in the home: `/home/NAME` reads as a user name to redact.
    let dir = fixture.home.join("rules");
    std::fs::create_dir_all(&dir).expect("rules dir");
    let path = dir.join("session.rules");
    std::fs::write(&path, text).expect("rules file");
    path
}
