//! "Did you mean" hints: the closest known key or allowed value, in every
//! configuration file, at any depth; none when nothing is close.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codex_policy_model::{
    CodexConfig, CodexRc, ConfigError, HarnessPolicy, Requirements, SourceFile,
};

fn source(name: &str, text: &str) -> SourceFile {
    SourceFile::from_bytes(Path::new(name), text.as_bytes().to_vec()).expect("UTF-8")
}

/// The fix line of a refused file, and the key it names.
fn hint(result: Result<impl std::fmt::Debug, ConfigError>) -> (Option<String>, String) {
    let err = result.expect_err("the file must be refused");
    let diagnostic = err.diagnostic().expect("a located error");
    (
        diagnostic.help.clone(),
        diagnostic.key.clone().unwrap_or_default(),
    )
}

#[test]
fn config_toml_keys_and_values_at_any_depth() {
    let cases = [
        (
            "[sandbox_workspace_write]\nnetwork_acess = true\n",
            "network_access",
            "sandbox_workspace_write.network_acess",
        ),
        (
            "sandbox_mode = \"workspace-wirte\"\n",
            "workspace-write",
            "sandbox_mode",
        ),
        (
            "approval_policy = \"on-requets\"\n",
            "on-request",
            "approval_policy",
        ),
        (
            "[permissions.dev.filesystem]\ndeny_raed = [\"/x\"]\n",
            "deny_read",
            "permissions.dev.filesystem.deny_raed",
        ),
    ];
    for (text, expected, key) in cases {
        let (help, at) = hint(CodexConfig::parse(&source("config.toml", text)));
        assert_eq!(
            help.as_deref(),
            Some(&*format!("did you mean `{expected}`?")),
            "{text}"
        );
        assert_eq!(at, key, "{text}");
    }
}

#[test]
fn requirements_and_json_files() {
    let (help, _) = hint(Requirements::parse(&source(
        "requirements.toml",
        "allowed_sandbox_mode = [\"read-only\"]\n",
    )));
    assert_eq!(
        help.as_deref(),
        Some("did you mean `allowed_sandbox_modes`?")
    );

    let (help, key) = hint(CodexRc::parse(source(
        ".codexrc.json",
        "{\"environment_context\": {\"nmae\": \"dev\"}}",
    )));
    assert_eq!(help.as_deref(), Some("did you mean `name`?"));
    assert_eq!(key, "environment_context.nmae");

    let (help, _) = hint(HarnessPolicy::parse(source(
        "harness.policy.json",
        "{\"versoin\": 1}",
    )));
    assert_eq!(help.as_deref(), Some("did you mean `version`?"));
}

#[test]
fn nothing_close_means_no_hint() {
    for text in [
        "[sandbox_workspace_write]\ncolour = \"blue\"\n",
        "sandbox_mode = \"everything\"\n",
        // A known key with a value of the wrong type: the key is right.
        "sandbox_mode = 3\n",
        "[sandbox_workspace_write]\nnetwork_access = \"yes\"\n",
    ] {
        let (help, _) = hint(CodexConfig::parse(&source("config.toml", text)));
        assert_eq!(help, None, "{text}");
    }
}

#[test]
fn a_json_error_points_at_its_key_as_a_toml_error_does() {
    let line = "  \"environment_context\": {\"nmae\": \"dev\"}";
    let text = format!("{{\n{line}\n}}");
    let err = CodexRc::parse(source(".codexrc.json", &text)).unwrap_err();
    let diagnostic = err.diagnostic().unwrap();
    let column = line.find("\"nmae\"").unwrap() + 1;
    assert_eq!(
        (diagnostic.location.line, diagnostic.location.column),
        (2, column)
    );
    // The caret spans the quoted key.
    let snippet = diagnostic.snippet.as_deref().unwrap();
    assert!(
        snippet.contains(&format!("{}^^^^^^", " ".repeat(column - 1))),
        "{snippet}"
    );
}
