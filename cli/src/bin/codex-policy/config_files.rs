//! `validate` and `init`: the runtime-control files.

use std::path::{Path, PathBuf};

use codex_policy::model::RuntimePattern;
use codex_policy::model::validate::{Severity, Validation, ValidationInputs, validate};
use serde::Serialize;

use crate::{Failure, RuntimeFiles, exit, print_out, to_json};

/// Where managed requirements live on Codex installations.
const MANAGED_REQUIREMENTS: &str = "/etc/codex/requirements.toml";

/// The files to read: explicit flags, else the environment, else the
/// conventional locations when a file is there (project files in `project_dir`).
/// Codex's home is found by `codex_profiles::codex_home`, as everywhere else, so
/// a relative or empty `CODEX_HOME` (or relative `HOME`) is refused here too.
pub(crate) fn discover(
    files: &RuntimeFiles,
    config: Option<&Path>,
    project_dir: &Path,
) -> Result<ValidationInputs, codex_policy::ProfileError> {
    let (runtime, policy, requirements) = (
        files.runtime.as_deref(),
        files.policy.as_deref(),
        files.requirements.as_deref(),
    );
    let existing = |path: PathBuf| path.exists().then_some(path);
    let from_env = |var: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let config = match config {
        Some(path) => Some(path.to_path_buf()),
        None => codex_policy::profiles::codex_home(|k| std::env::var_os(k))?
            .and_then(|home| existing(home.join(codex_policy::profiles::CONFIG_FILE_NAME))),
    };
    Ok(ValidationInputs {
        runtime: runtime
            .map(Path::to_path_buf)
            .or_else(|| from_env("CODEX_RUNTIME_CONFIG"))
            .or_else(|| existing(project_dir.join(".codexrc.json"))),
        policy: policy
            .map(Path::to_path_buf)
            .or_else(|| from_env("CODEX_POLICY_FILE"))
            .or_else(|| existing(project_dir.join("harness.policy.json"))),
        config,
        requirements: requirements
            .map(Path::to_path_buf)
            .or_else(|| existing(PathBuf::from(MANAGED_REQUIREMENTS))),
    })
}

/// The `[audit]` table of the config.toml that applies (`--config`, else
/// `$CODEX_HOME/config.toml`), if it loads.
pub(crate) fn audit_table(
    cli: &crate::Cli,
) -> Result<Option<codex_policy::model::AuditTable>, Failure> {
    let none = RuntimeFiles {
        runtime: None,
        policy: None,
        requirements: None,
    };
    let found = discover(&none, cli.config.as_deref(), Path::new("."))
        .map_err(|e| Failure::new(exit::INVALID_INPUT, e))?;
    let only_config = ValidationInputs {
        config: found.config,
        ..Default::default()
    };
    Ok(validate(&only_config)
        .config
        .and_then(|loaded| loaded.config.audit))
}

#[derive(Serialize)]
struct Report<'a> {
    files: Vec<&'a Path>,
    errors: usize,
    warnings: usize,
    findings: &'a [codex_policy::model::validate::Finding],
}

/// Runs `validate`; exit 0 when clean, 1 on errors (or warnings with `strict`).
///
/// Files the sandboxed command could have written (judged for the profile
/// that applies, run here with this `$TMPDIR`) are checked for keys that
/// would loosen the policy (`CP0024`).
pub(crate) fn run_validate(
    cli: &crate::Cli,
    inputs: &ValidationInputs,
    json: bool,
    strict: bool,
) -> Result<u8, Failure> {
    let mut validation = validate(inputs);
    // A profile that cannot be resolved is reported through its file already.
    if let Ok(resolved) = crate::resolve_profile(cli) {
        let loosening =
            crate::effective::loosening(&resolved, None, &resolved.sandbox_policy, &validation)?;
        validation.findings.extend(loosening);
    }
    print_out(&render(inputs, &validation, json)?)?;
    Ok(if validation.fails(strict) {
        exit::INVALID_INPUT
    } else {
        0
    })
}

fn render(inputs: &ValidationInputs, v: &Validation, json: bool) -> Result<String, Failure> {
    let files: Vec<&Path> = [
        &inputs.runtime,
        &inputs.policy,
        &inputs.config,
        &inputs.requirements,
    ]
    .into_iter()
    .flatten()
    .map(PathBuf::as_path)
    .collect();
    let errors = v
        .findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = v.findings.len() - errors;
    if json {
        // Keys and values come from the files: C1 and bidi controls as \u escapes.
        return to_json(&Report {
            files,
            errors,
            warnings,
            findings: &v.findings,
        })
        .map(|text| codex_policy::audit::escape_json_for_terminal(&text).into_owned());
    }
    // Line by line: a key or value from a hostile file shows its control
    // characters instead of sending them to the terminal.
    let mut lines: Vec<String> = v
        .findings
        .iter()
        .map(|f| {
            f.to_string()
                .lines()
                .map(codex_policy::audit::escape_for_terminal)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect();
    lines.push(format!(
        "{} checked: {errors} error(s), {warnings} warning(s)",
        if files.is_empty() {
            "nothing".to_owned()
        } else {
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        }
    ));
    Ok(lines.join("\n"))
}

/// Pretty JSON in the types' own key order, with a final newline.
fn pretty(value: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value)
        .map(|s| s + "\n")
        .map_err(Failure::internal)
}

/// Directory (inside the target dir) where `init` writes the schemas the files
/// reference through `$schema`.
const SCHEMA_DIR: &str = ".codex-policy";

/// Writes a pattern's file pair (and their schemas); never overwrites without
/// `force`, and writes nothing if any target exists.
pub(crate) fn run_init(pattern: RuntimePattern, dir: &Path, force: bool) -> Result<u8, Failure> {
    let (rc, policy) = pattern.files(&format!("./{SCHEMA_DIR}"));
    let files = [
        (dir.join(".codexrc.json"), pretty(&rc)?),
        (dir.join("harness.policy.json"), pretty(&policy)?),
        (
            dir.join(SCHEMA_DIR).join("codexrc.schema.json"),
            pretty(&schemars::schema_for!(codex_policy::model::CodexRc))?,
        ),
        (
            dir.join(SCHEMA_DIR).join("harness-policy.schema.json"),
            pretty(&schemars::schema_for!(codex_policy::model::HarnessPolicy))?,
        ),
    ];
    if !force {
        let present: Vec<String> = files
            .iter()
            .filter(|(path, _)| path.exists())
            .map(|(path, _)| path.display().to_string())
            .collect();
        if !present.is_empty() {
            return Err(Failure::new(
                exit::INVALID_INPUT,
                format!(
                    "{} already exist(s); nothing was written (use --force to replace)",
                    present.join(", ")
                ),
            ));
        }
    }
    std::fs::create_dir_all(dir.join(SCHEMA_DIR))
        .map_err(|e| Failure::new(exit::INVALID_INPUT, format!("{}: {e}", dir.display())))?;
    for (path, text) in &files {
        // Write beside, then rename: a reader never sees half a file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Failure::new(exit::INVALID_INPUT, format!("{}: {e}", path.display())))?;
    }
    print_out(&format!(
        "wrote the {} pattern: {}, {} (schemas in {})",
        pattern.as_str(),
        files[0].0.display(),
        files[1].0.display(),
        dir.join(SCHEMA_DIR).display()
    ))?;
    Ok(0)
}
