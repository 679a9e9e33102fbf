//! Runs the real `codex-policy` binary with a cleared environment, so a test never
//! reads the developer's own `~/.codex` or `CODEX_*` variables.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub(crate) mod escape;
pub(crate) mod probe;
pub(crate) mod pty;
pub(crate) mod session;

use std::path::Path;
use std::process::{Command, Output};

/// The binary under test.
pub(crate) fn codex_policy_bin() -> &'static str {
    env!("CARGO_BIN_EXE_codex-policy")
}

pub(crate) struct Run {
    pub(crate) status: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.stdout))
    }
}

/// Runs the binary with `args` and only the variables in `env`; `HOME` defaults to
/// `home` so that `~/.codex/config.toml` lives in a test directory.
pub(crate) fn codex_policy(home: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = Command::new(codex_policy_bin());
    cmd.env_clear().env("HOME", home).args(args);
    for (key, value) in env {
        cmd.env(key, value);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("spawn codex-policy");
    Run {
        status: status.code().expect("exited normally"),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}
