//! A refused value that looks like a secret never reaches an error's text:
//! not the snippet, not the parser's message that quotes it, not the key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codex_policy_model::{CodexConfig, CodexRc, HarnessPolicy, Requirements, SourceFile};

const TOKEN: &str = "ghp_abcdefghijklmnopqrstuvwxyz0123456789";
const OPENAI: &str = "sk-proj-abcdefghijklmnopqrstuvwxyz012345";

fn source(name: &str, text: &str) -> SourceFile {
    SourceFile::from_bytes(Path::new(name), text.as_bytes().to_vec()).unwrap()
}

fn assert_hidden(err: impl std::fmt::Display + std::fmt::Debug, secret: &str) {
    let shown = format!("{err}\n{err:?}");
    assert!(!shown.contains(secret), "{shown}");
    assert!(shown.contains('…'), "{shown}");
}

#[test]
fn a_secret_as_an_unknown_value_is_masked_in_the_message() {
    for (text, secret) in [
        (format!("sandbox_mode = \"{TOKEN}\"\n"), TOKEN),
        (format!("approval_policy = \"{OPENAI}\"\n"), OPENAI),
        (format!("[profiles.x]\nsandbox_mode = \"{TOKEN}\"\n"), TOKEN),
        // As a key: the key path is masked too.
        (
            format!("[sandbox_workspace_write]\n{TOKEN} = true\n"),
            TOKEN,
        ),
    ] {
        let err = CodexConfig::parse(&source("config.toml", &text)).unwrap_err();
        assert_hidden(err, secret);
    }
    let err = Requirements::parse(&source(
        "requirements.toml",
        &format!("allowed_sandbox_modes = [\"{TOKEN}\"]\n"),
    ))
    .unwrap_err();
    assert_hidden(err, TOKEN);
}

#[test]
fn json_files_too() {
    let err = HarnessPolicy::parse(source(
        "harness.policy.json",
        &format!("{{\"version\": 1, \"egress\": {{\"mode\": \"{TOKEN}\"}}}}"),
    ))
    .unwrap_err();
    assert_hidden(err, TOKEN);
    let err = CodexRc::parse(source(
        ".codexrc.json",
        &format!("{{\"environment_context\": {{\"name\": \"{TOKEN}\"}}}}"),
    ))
    .unwrap_err();
    assert_hidden(err, TOKEN);
}

#[test]
fn an_ordinary_refused_value_stays_readable() {
    let err =
        CodexConfig::parse(&source("config.toml", "sandbox_mode = \"everything\"\n")).unwrap_err();
    assert!(
        err.to_string().contains("unknown variant `everything`"),
        "{err}"
    );
}

#[test]
fn a_token_with_a_prefix_glued_on_is_masked_too() {
    let glued = format!("x_{TOKEN}");
    let err = CodexConfig::parse(&source(
        "config.toml",
        &format!("[sandbox]\nmode = \"{glued}\"\n"),
    ))
    .unwrap_err();
    assert_hidden(err, TOKEN);
    assert!(codex_policy_model::validate::secrets::find_secret(&glued).is_some());
    // A long prefix is a word of its own, not a glued one.
    assert!(
        codex_policy_model::validate::secrets::find_secret(&format!("{}_{TOKEN}", "a".repeat(80)))
            .is_none()
    );
}
