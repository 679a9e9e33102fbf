//! `validate` and `init`: the runtime-control files.

use std::path::{Path, PathBuf};

use codex_policy::model::RuntimePattern;
use codex_policy::model::validate::{Severity, Validation, ValidationInputs};
use serde::Serialize;

use crate::{Cli, Failure, exit, print_out, to_json};

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
    files: &crate::RuntimeFiles,
    strict: bool,
) -> Result<u8, Failure> {
    let builder = crate::session_builder(
        cli,
        &crate::PolicyInputs {
            cwd: None,
            writable_roots: Vec::new(),
            files: files.clone(),
        },
    );
    // The files' problems are findings; the environment's (an empty
    // CODEX_HOME, say) are refused as every command refuses them.
    let (inputs, validation) = builder
        .validate()
        .map_err(|e| crate::failure(e, exit::INVALID_INPUT))?;
    print_out(&render(&inputs, &validation, cli.json)?)?;
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

/// `init --template`: the template's table added to config.toml (`--config`,
/// else `$CODEX_HOME/config.toml`) by the library.
pub(crate) fn add_template(
    cli: &Cli,
    template: &codex_policy::profiles::ProfileTemplate,
) -> Result<u8, Failure> {
    let env = codex_policy::Environment::process();
    let path = match &cli.config {
        Some(path) => path.clone(),
        None => env
            .codex_home()
            .map_err(|e| Failure::new(exit::INVALID_INPUT, e))?
            .map(|home| home.join(codex_policy::profiles::CONFIG_FILE_NAME))
            .ok_or_else(|| {
                Failure::new(
                    exit::INVALID_INPUT,
                    "no config.toml to write: set CODEX_HOME or HOME, or pass --config FILE",
                )
            })?,
    };
    codex_policy::add_profile_template(&path, template)
        .map_err(|e| Failure::new(exit::INVALID_INPUT, e))?;
    print_out(&format!(
        "added [profiles.{}] to {}: {} (use it with --profile {}, or profile = \"{}\")",
        template.name,
        path.display(),
        template.description,
        template.name,
        template.name
    ))?;
    Ok(0)
}

/// Writes a pattern's file pair (and their schemas); never overwrites without
/// `force`, and writes nothing if any target exists.
pub(crate) fn run_init(pattern: RuntimePattern, dir: &Path, force: bool) -> Result<u8, Failure> {
    let (rc, policy) = pattern.files(&format!("./{SCHEMA_DIR}"));
    let files = [
        (dir.join(".codexrc.json"), pretty(&rc)?),
        (dir.join("harness.policy.json"), pretty(&policy)?),
        (
            dir.join(SCHEMA_DIR).join("codexrc.schema.json"),
            pretty(&codex_policy::model::json_schema::<
                codex_policy::model::CodexRc,
            >())?,
        ),
        (
            dir.join(SCHEMA_DIR).join("harness-policy.schema.json"),
            pretty(&codex_policy::model::json_schema::<
                codex_policy::model::HarnessPolicy,
            >())?,
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
                    "{} already {}; nothing was written (use --force to replace)",
                    present.join(", "),
                    if present.len() == 1 {
                        "exists"
                    } else {
                        "exist"
                    }
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
