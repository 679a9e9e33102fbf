//! A typo in `config.toml` never goes unnoticed: a misspelt policy key that
//! the file would leave to Codex is a warning on `validate` (an error under
//! `--strict`) and on every `run`; a secret given as a refused value never
//! reaches the terminal, whichever command reads the file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::codex_policy;

const TOKEN: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";

fn home_with(config: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".codex")).unwrap();
    std::fs::write(home.path().join(".codex/config.toml"), config).unwrap();
    home
}

#[test]
fn a_misspelt_policy_key_is_a_warning_on_validate_and_on_run() {
    let home = home_with("model = \"o3\"\nsandbx_mode = \"read-only\"\n");
    let project = tempfile::tempdir().unwrap();
    let cwd = project.path().to_str().unwrap();

    let validate = codex_policy(home.path(), &[], &["validate"]);
    assert_eq!(validate.status, 0, "{}", validate.stdout);
    assert!(
        validate.stdout.contains("warning CP0027 [sandbx_mode]"),
        "{}",
        validate.stdout
    );
    assert!(
        validate.stdout.contains("did you mean `sandbox_mode`?"),
        "{}",
        validate.stdout
    );
    assert!(
        !validate.stdout.contains("model"),
        "Codex's keys stay quiet: {}",
        validate.stdout
    );
    let strict = codex_policy(home.path(), &[], &["validate", "--strict"]);
    assert_eq!(strict.status, 1, "{}", strict.stdout);

    let run = codex_policy(
        home.path(),
        &[],
        &["run", "--cwd", cwd, "--best-effort", "--", "true"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("warning: ") && run.stderr.contains("config.toml:2:1: `sandbx_mode`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_secret_as_a_refused_value_is_masked_by_every_command() {
    let home = home_with(&format!("sandbox_mode = \"{TOKEN}\"\n"));
    let project = tempfile::tempdir().unwrap();
    let cwd = project.path().to_str().unwrap();
    for args in [
        &["validate"][..],
        &["validate", "--json"],
        &["--show-profile"],
        &["run", "--cwd", cwd, "--", "true"],
        &["check", "--no-audit", "--", "ls"],
    ] {
        let out = codex_policy(home.path(), &[], args);
        assert_ne!(out.status, 0, "{args:?}");
        let shown = format!("{}{}", out.stdout, out.stderr);
        assert!(!shown.contains(TOKEN), "{args:?}: {shown}");
        assert!(shown.contains("unknown variant `…`"), "{args:?}: {shown}");
    }
}

#[test]
fn a_secret_as_a_profile_name_is_masked_by_every_command() {
    let home = home_with(&format!(
        "profile = \"{TOKEN}\"\n[profiles.x_{TOKEN}]\nsandbox_mode = \"read-only\"\n"
    ));
    let project = tempfile::tempdir().unwrap();
    let cwd = project.path().to_str().unwrap();
    for args in [
        &["validate"][..],
        &["validate", "--json"],
        &["--show-profile"],
        &["--show-profile", "--json"],
        &["explain"],
        &["run", "--cwd", cwd, "--", "true"],
        &["check", "--no-audit", "--", "ls"],
    ] {
        let out = codex_policy(home.path(), &[], args);
        let shown = format!("{}{}", out.stdout, out.stderr);
        assert!(!shown.contains(TOKEN), "{args:?}: {shown}");
    }
}

#[test]
fn codex_keys_that_name_where_a_secret_is_kept_are_not_secrets() {
    let home = home_with(
        "cli_auth_credentials_store = \"file\"\nmcp_oauth_credentials_store = \"auto\"\n\
         [mcp_servers.github]\ncommand = \"gh-mcp\"\nbearer_token_env_var = \"GITHUB_TOKEN\"\n",
    );
    let validate = codex_policy(home.path(), &[], &["validate", "--strict"]);
    assert_eq!(validate.status, 0, "{}", validate.stdout);
    assert!(!validate.stdout.contains("CP0016"), "{}", validate.stdout);
}
