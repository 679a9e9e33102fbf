//! `cargo xtask schema [--check]`: the JSON Schemas in `docs/schemas/`, generated
//! by `codex-policy schema <name>` from the types. `--check` (run by CI) fails
//! when a committed copy is stale.

use std::path::Path;
use std::process::Command;

/// Every schema `codex-policy schema` prints.
const NAMES: &[&str] = &[
    "codexrc",
    "harness-policy",
    "config",
    "requirements",
    "sandbox-policy",
    "audit-event",
];

pub(crate) fn schema(check: bool) -> Result<(), String> {
    let status = Command::new(crate::cargo_path())
        .args(["build", "--quiet", "-p", "codex-policy"])
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !status.success() {
        return Err("building codex-policy failed".into());
    }
    let binary = crate::target_dir()?.join("debug/codex-policy");
    let dir = Path::new("docs/schemas");
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut stale = Vec::new();
    for name in NAMES {
        let output = Command::new(&binary)
            .args(["schema", name])
            .output()
            .map_err(|e| format!("codex-policy schema {name}: {e}"))?;
        if !output.status.success() {
            return Err(format!("codex-policy schema {name} failed"));
        }
        let path = dir.join(format!("{name}.schema.json"));
        let current = std::fs::read(&path).unwrap_or_default();
        if current != output.stdout {
            if check {
                stale.push(path.display().to_string());
            } else {
                std::fs::write(&path, &output.stdout)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                eprintln!("xtask: wrote {}", path.display());
            }
        }
    }
    if stale.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "stale schemas (run `cargo xtask schema`): {}",
            stale.join(", ")
        ))
    }
}
