//! The escape suite's harness: a fixture per profile (a workspace with a `.git`,
//! a `$HOME` outside every root, an empty `CODEX_HOME`), attempts run through the
//! real `codex-policy run`, and a printed table of expected against observed.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use super::codex_policy_bin;

pub(crate) const PROFILES: [&str; 5] = [
    "offline",
    "net-read-only",
    "workspace",
    "workspace-net",
    "trusted",
];

/// Whether an attempt got through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allowed,
    Refused,
}

impl Outcome {
    pub(crate) fn allowed_if(allowed: bool) -> Self {
        if allowed {
            Self::Allowed
        } else {
            Self::Refused
        }
    }
}

/// A workspace, a home and a Codex home, under the target directory (not `/tmp`,
/// which is a writable root of the workspace profiles).
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) workspace: PathBuf,
    pub(crate) home: PathBuf,
    pub(crate) codex_home: PathBuf,
}

/// A directory for fixtures outside `/tmp`, which the workspace profiles may
/// write: the target directory unless the checkout itself lives under `/tmp`,
/// else `/var/tmp`.
pub(crate) fn fixture_base() -> Option<PathBuf> {
    let tmp = std::fs::canonicalize("/tmp").unwrap_or_else(|_| "/tmp".into());
    [env!("CARGO_TARGET_TMPDIR"), "/var/tmp"]
        .into_iter()
        .filter_map(|dir| std::fs::canonicalize(dir).ok())
        .find(|dir| !dir.starts_with(&tmp))
}

/// The rules of an escape test's `run`: none. The attacks must reach the
/// sandbox, not stop at the exec-policy gate (the default policy forbids
/// `rm -rf /` and the like; that gate has its own tests).
const NEUTRAL_RULES: &str = "# No rules: these runs test the sandbox, not the exec-policy gate.\n";

impl Fixture {
    pub(crate) fn new() -> Self {
        let base = fixture_base().expect("skip_reason() checks for a fixture base");
        let dir = tempfile::Builder::new()
            .prefix("codex-policy-escape-")
            .tempdir_in(base)
            .expect("fixture dir");
        let base = std::fs::canonicalize(dir.path()).expect("canonical fixture");
        let workspace = base.join("workspace");
        let home = base.join("home");
        let codex_home = base.join("codex-home");
        // A repository laid out by hand: the tests must not need git installed.
        for d in [
            workspace.join(".git/hooks"),
            workspace.join(".codex"),
            home.clone(),
            codex_home.clone(),
        ] {
            std::fs::create_dir_all(d).expect("fixture dirs");
        }
        std::fs::write(workspace.join(".git/config"), "[core]\n").expect("git config");
        std::fs::write(workspace.join(".git/HEAD"), "ref: refs/heads/main\n").expect("HEAD");
        std::fs::write(workspace.join(".codex/config.toml"), "# project\n").expect(".codex");
        std::fs::write(home.join("victim"), "original\n").expect("victim");
        std::fs::write(base.join("neutral.rules"), NEUTRAL_RULES).expect("neutral rules");
        std::os::unix::fs::symlink(home.join("victim"), workspace.join("link-out"))
            .expect("symlink");
        Self {
            _dir: dir,
            workspace,
            home,
            codex_home,
        }
    }

    /// `codex-policy --profile P run -- sh -c SCRIPT` in the workspace.
    pub(crate) fn run(&self, profile: &str, extra: &[&str], script: &str) -> Output {
        self.command(profile, extra, &["sh", "-c", script])
            .output()
            .expect("spawn codex-policy")
    }

    /// `codex-policy --profile P run --cwd WORKSPACE EXTRA... -- ARGV...`.
    pub(crate) fn command(&self, profile: &str, extra: &[&str], argv: &[&str]) -> Command {
        self.invoke(profile, &["run"], extra, argv)
    }

    /// Like [`Fixture::command`] with another subcommand (`debug landlock`);
    /// `--cwd` is added unless `extra` sets it.
    pub(crate) fn invoke(
        &self,
        profile: &str,
        subcommand: &[&str],
        extra: &[&str],
        argv: &[&str],
    ) -> Command {
        let mut cmd = Command::new(codex_policy_bin());
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", &self.home)
            .env("CODEX_HOME", &self.codex_home)
            .arg("--profile")
            .arg(profile)
            .args(subcommand);
        if !extra.contains(&"--cwd") {
            cmd.arg("--cwd").arg(&self.workspace);
        }
        if !extra.contains(&"--rules") && subcommand != ["proxy"] {
            let base = self.home.parent().expect("the fixture's base");
            cmd.arg("--rules").arg(base.join("neutral.rules"));
        }
        cmd.args(extra).arg("--").args(argv).stdin(Stdio::null());
        cmd
    }

    pub(crate) fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// One row of a concern's table.
pub(crate) struct Row {
    pub(crate) profile: String,
    pub(crate) attempt: String,
    pub(crate) expected: Outcome,
    pub(crate) observed: Outcome,
    pub(crate) detail: String,
}

/// Collects rows, prints the table (uncaptured, so it shows in CI logs) and fails
/// the test if any row differs.
pub(crate) struct Table {
    concern: &'static str,
    rows: Vec<Row>,
}

impl Table {
    pub(crate) fn new(concern: &'static str) -> Self {
        Self {
            concern,
            rows: Vec::new(),
        }
    }

    pub(crate) fn record(
        &mut self,
        profile: &str,
        attempt: &str,
        expected: Outcome,
        observed: Outcome,
        output: &Output,
    ) {
        let detail = if expected == observed {
            String::new()
        } else {
            format!(
                "status {:?}; stdout {:?}; stderr {:?}",
                output.status.code(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        };
        self.rows.push(Row {
            profile: profile.to_owned(),
            attempt: attempt.to_owned(),
            expected,
            observed,
            detail,
        });
    }

    pub(crate) fn finish(self) {
        let mut out = format!("\n== escape suite: {} ==\n", self.concern);
        out.push_str(&format!(
            "{:<14} {:<44} {:<9} {:<9} {}\n",
            "profile", "attempt", "expected", "observed", "result"
        ));
        let mut failures = 0;
        for row in &self.rows {
            let ok = row.expected == row.observed;
            failures += usize::from(!ok);
            out.push_str(&format!(
                "{:<14} {:<44} {:<9} {:<9} {}\n",
                row.profile,
                row.attempt,
                format!("{:?}", row.expected).to_lowercase(),
                format!("{:?}", row.observed).to_lowercase(),
                if ok {
                    "ok".to_owned()
                } else {
                    format!("MISMATCH {}", row.detail)
                }
            ));
        }
        out.push_str(&format!(
            "{} rows, {} as expected, {} mismatched\n",
            self.rows.len(),
            self.rows.len() - failures,
            failures
        ));
        let _ = std::io::stderr().write_all(out.as_bytes());
        assert_eq!(failures, 0, "{out}");
    }
}

/// Whether the host offers what the suite needs; otherwise the reason to skip,
/// printed so a skip is never silent.
pub(crate) fn skip_reason() -> Option<String> {
    if fixture_base().is_none() {
        return Some(
            "no directory outside /tmp for fixtures (the target dir is under /tmp and \
             /var/tmp is missing)"
                .into(),
        );
    }
    let doctor = Command::new(codex_policy_bin())
        .args(["doctor", "--json"])
        .output()
        .expect("run doctor");
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).expect("doctor json");
    let host = &report["host"];
    if host["landlock_abi"].as_i64().unwrap_or(0) < 6 {
        return Some(format!(
            "Landlock ABI >= 6 needed, host has {}",
            host["landlock_abi"]
        ));
    }
    if host["namespaces"] != true {
        return Some(format!(
            "user namespaces needed: {}",
            host["namespaces_error"]
        ));
    }
    None
}

/// Prints why a test is skipped, uncaptured.
pub(crate) fn skip(test: &str, reason: &str) {
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {reason}");
}
