//! `config.toml`: which sandbox it asks for, and located errors for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use codex_policy_model::{
    CodexConfig, ConfigError, ConfiguredSandbox, MAX_CONFIG_BYTES, SandboxMode, SandboxPolicy,
    SourceFile,
};

fn source(text: &str) -> SourceFile {
    SourceFile::from_bytes(Path::new("/cfg/config.toml"), text.as_bytes().to_vec()).unwrap()
}

fn configured(text: &str) -> Result<Option<ConfiguredSandbox>, ConfigError> {
    let src = source(text);
    CodexConfig::parse(&src)?.configured_sandbox(&src)
}

/// Asserts the error is located at `line:column` on `key` and mentions `needle`.
fn assert_located(err: &ConfigError, line: usize, column: usize, key: Option<&str>, needle: &str) {
    let d = err
        .diagnostic()
        .unwrap_or_else(|| panic!("not located: {err}"));
    assert_eq!(d.location.file, PathBuf::from("/cfg/config.toml"));
    assert_eq!(
        (d.location.line, d.location.column),
        (line, column),
        "{err}"
    );
    assert_eq!(d.key.as_deref(), key, "{err}");
    let text = err.to_string();
    assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    assert!(
        text.starts_with(&format!("/cfg/config.toml:{line}:{column}: ")),
        "{text}"
    );
}

#[test]
fn the_sandbox_table_of_the_profiles() {
    let got = configured("[sandbox]\nmode = \"workspace-write\"\nnetwork_access = true\n")
        .unwrap()
        .unwrap();
    assert_eq!(got.mode, SandboxMode::WorkspaceWrite);
    assert!(got.network_access);
    assert_eq!(got.mode_key, "sandbox.mode");
    assert_eq!(got.network_key.as_deref(), Some("sandbox.network_access"));
}

#[test]
fn codex_top_level_keys() {
    let got = configured(
        "approval_policy = \"on-request\"\nsandbox_mode = \"workspace-write\"\n\n\
         [sandbox_workspace_write]\nnetwork_access = true\nask_for_approval = \"on-request\"\n\n\
         [tools]\nweb_search = false\n",
    )
    .unwrap()
    .unwrap();
    assert_eq!(got.mode, SandboxMode::WorkspaceWrite);
    assert!(got.network_access);
    assert_eq!(got.mode_key, "sandbox_mode");
    assert_eq!(
        got.network_key.as_deref(),
        Some("sandbox_workspace_write.network_access")
    );

    let got = configured(
        "sandbox_mode = \"read-only\"\n[sandbox_read_only]\nnetwork_access = true\n\
         [sandbox_workspace_write]\nnetwork_access = false\n",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (got.mode, got.network_access),
        (SandboxMode::ReadOnly, true)
    );
}

#[test]
fn network_defaults_to_off_and_full_access_implies_on() {
    let got = configured("sandbox_mode = \"workspace-write\"")
        .unwrap()
        .unwrap();
    assert!(!got.network_access);
    assert_eq!(got.network_key, None);
    let got = configured("sandbox_mode = \"danger-full-access\"")
        .unwrap()
        .unwrap();
    assert!(got.network_access);
}

#[test]
fn no_mode_means_the_file_chooses_nothing() {
    for text in [
        "",
        "model = \"o3\"\n",
        "[sandbox_workspace_write]\nnetwork_access = true\n",
        "[sandbox]\nnetwork_access = true\n",
    ] {
        assert_eq!(configured(text).unwrap(), None, "{text:?}");
    }
}

#[test]
fn the_top_level_choice_ignores_named_profiles() {
    // A named profile (`profile = "x"`) is resolved, with its `extends`
    // chain, by the profile resolver, and replaces the top-level keys; the
    // top-level choice is the file's own keys only.
    let text =
        "profile = \"quiet\"\n[profiles.quiet]\nsandbox_mode = \"read-only\"\nmodel = \"x\"\n";
    assert!(configured(text).unwrap().is_none());
    let text = "profile = \"quiet\"\nsandbox_mode = \"workspace-write\"\n\
                [profiles.quiet]\nsandbox_mode = \"read-only\"\n";
    let got = configured(text).unwrap().unwrap();
    assert_eq!(got.mode, SandboxMode::WorkspaceWrite);
    assert_eq!(got.mode_key, "sandbox_mode");
}

#[test]
fn conflicting_mode_keys_are_an_error() {
    let err = configured("sandbox_mode = \"read-only\"\n[sandbox]\nmode = \"workspace-write\"\n")
        .unwrap_err();
    assert_located(
        &err,
        3,
        8,
        Some("sandbox.mode"),
        "conflicts with sandbox_mode",
    );
    // Agreeing keys are fine.
    assert!(configured("sandbox_mode = \"read-only\"\n[sandbox]\nmode = \"read-only\"\n").is_ok());
}

#[test]
fn conflicting_network_keys_are_an_error() {
    let err = configured(
        "[sandbox]\nmode = \"workspace-write\"\nnetwork_access = false\n\
         [sandbox_workspace_write]\nnetwork_access = true\n",
    )
    .unwrap_err();
    assert_located(
        &err,
        3,
        18,
        Some("sandbox.network_access"),
        "conflicts with sandbox_workspace_write.network_access",
    );
}

#[test]
fn full_access_without_network_is_refused_not_upgraded() {
    let err = configured("[sandbox]\nmode = \"danger-full-access\"\nnetwork_access = false\n")
        .unwrap_err();
    assert_located(
        &err,
        3,
        18,
        Some("sandbox.network_access"),
        "danger-full-access cannot be combined",
    );
}

#[test]
fn unknown_mode_is_located() {
    let err = configured("[sandbox]\nmode = \"yolo\"\n").unwrap_err();
    assert_located(&err, 2, 8, Some("sandbox.mode"), "unknown variant `yolo`");
    assert!(err.to_string().contains("workspace-write"));

    let err = configured("# comment\nsandbox_mode = \"Workspace-Write\"\n").unwrap_err();
    assert_located(&err, 2, 16, Some("sandbox_mode"), "unknown variant");
}

#[test]
fn wrong_types_are_located() {
    let err = configured("[sandbox]\nmode = \"workspace-write\"\nnetwork_access = \"yes\"\n")
        .unwrap_err();
    assert_located(
        &err,
        3,
        18,
        Some("sandbox.network_access"),
        "expected a boolean",
    );

    let err = configured("sandbox_mode = 3\n").unwrap_err();
    assert_located(&err, 1, 16, Some("sandbox_mode"), "invalid type");

    let err = configured("sandbox = \"workspace-write\"\n").unwrap_err();
    assert_located(&err, 1, 11, Some("sandbox"), "invalid type");

    let err = configured("[sandbox_workspace_write]\nwritable_roots = \"/srv\"\n").unwrap_err();
    assert_located(
        &err,
        2,
        18,
        Some("sandbox_workspace_write.writable_roots"),
        "invalid type",
    );
}

#[test]
fn unknown_keys_in_sandbox_tables_are_errors() {
    let err = configured("[sandbox]\nmode = \"read-only\"\nnetwrok_access = true\n").unwrap_err();
    assert_located(
        &err,
        3,
        1,
        Some("sandbox.netwrok_access"),
        "unknown field `netwrok_access`",
    );
    assert!(err.to_string().contains("network_access"), "{err}");

    let err = configured("[sandbox_read_only]\nwritable_roots = []\n").unwrap_err();
    assert_located(
        &err,
        2,
        1,
        Some("sandbox_read_only.writable_roots"),
        "unknown field",
    );
}

#[test]
fn relative_writable_roots_in_config_are_refused() {
    let err = configured("[sandbox_workspace_write]\nwritable_roots = [\"/ok\", \"cache\"]\n")
        .unwrap_err();
    assert_located(
        &err,
        2,
        26,
        Some("sandbox_workspace_write.writable_roots"),
        "is relative",
    );
}

#[test]
fn syntax_errors_and_duplicate_keys_are_located() {
    let err = configured("[sandbox]\nmode = \"read-only\n").unwrap_err();
    let d = err.diagnostic().unwrap();
    assert_eq!(d.location.line, 2, "{err}");
    assert_eq!(d.key.as_deref(), Some("sandbox.mode"), "{err}");

    let err =
        configured("[sandbox]\nmode = \"workspace-write\"\nnetwork_access = tru\n").unwrap_err();
    assert_located(
        &err,
        3,
        18,
        Some("sandbox.network_access"),
        "invalid boolean",
    );

    let err = configured("[sandbox]\nmode = \"read-only\"\nmode = \"read-only\"\n").unwrap_err();
    assert_eq!(err.diagnostic().unwrap().location.line, 3, "{err}");
    assert!(err.to_string().contains("duplicate"), "{err}");

    let err = configured("[sandbox]\n[sandbox]\n").unwrap_err();
    assert_eq!(err.diagnostic().unwrap().location.line, 2, "{err}");
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let text = format!("x = {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert!(configured(&text).is_err());
    let text = format!("x = {}1{}\n", "{a=".repeat(50_000), "}".repeat(50_000));
    assert!(configured(&text).is_err());
}

#[test]
fn oversized_missing_and_non_utf8_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("config.toml");
    std::fs::write(&big, vec![b'#'; MAX_CONFIG_BYTES as usize + 1]).unwrap();
    assert!(matches!(
        CodexConfig::load(&big),
        Err(ConfigError::TooLarge { .. })
    ));

    let missing = dir.path().join("absent.toml");
    let err = CodexConfig::load(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(err.to_string().contains("absent.toml"));

    let binary = dir.path().join("binary.toml");
    std::fs::write(&binary, b"sandbox_mode = \"read-only\"\n\xc3\x28").unwrap();
    let err = CodexConfig::load(&binary).unwrap_err();
    let d = err.diagnostic().unwrap();
    assert_eq!((d.location.line, d.location.column), (2, 1));
}

#[test]
fn workspace_settings_apply_only_to_workspace_write() {
    let src = source(
        "[sandbox_workspace_write]\nwritable_roots = [\"/srv/cache\"]\n\
         exclude_slash_tmp = true\n",
    );
    let config = CodexConfig::parse(&src).unwrap();
    assert_eq!(
        config.apply_workspace_settings(SandboxPolicy::workspace_write(true)),
        SandboxPolicy::WorkspaceWrite {
            writable_roots: vec![PathBuf::from("/srv/cache")],
            network_access: true,
            exclude_tmpdir_env_var: false,
            exclude_slash_tmp: true,
        }
    );
    assert_eq!(
        config.apply_workspace_settings(SandboxPolicy::read_only()),
        SandboxPolicy::read_only()
    );
}

#[test]
fn audit_table_is_typed_and_its_errors_are_located() {
    let src = source(
        "[audit]\npath = \"/var/log/codex/audit.jsonl\"\nfsync = \"interval\"\nfsync_interval_ms = 250\nmax_bytes = 1024\nkeep = 2\n",
    );
    let audit = CodexConfig::parse(&src).unwrap().audit.unwrap();
    assert_eq!(
        audit.path.unwrap(),
        PathBuf::from("/var/log/codex/audit.jsonl")
    );
    assert_eq!(
        audit.fsync,
        Some(codex_policy_model::FsyncSetting::Interval)
    );
    assert_eq!(audit.keep.unwrap().get(), 2);

    let cases: [(&str, usize, usize, &str); 4] = [
        ("[audit]\nfsync = \"sometimes\"\n", 2, 9, "audit.fsync"),
        ("[audit]\nkeep = 0\n", 2, 8, "audit.keep"),
        ("[audit]\nmax_bytes = -5\n", 2, 13, "audit.max_bytes"),
        ("[audit]\nretention = 3\n", 2, 1, "audit.retention"),
    ];
    for (text, line, column, key) in cases {
        let err = CodexConfig::parse(&source(text)).unwrap_err();
        let d = err
            .diagnostic()
            .unwrap_or_else(|| panic!("not located: {err}"));
        assert_eq!(
            (d.location.line, d.location.column),
            (line, column),
            "{text}: {err}"
        );
        assert_eq!(d.key.as_deref(), Some(key), "{text}: {err}");
    }
}

#[test]
fn the_audit_log_path_must_be_absolute() {
    use std::path::Path;
    for relative in ["logs/audit.jsonl", "~/audit.jsonl", "./a.jsonl"] {
        let text = format!("[audit]\npath = {relative:?}\n");
        let source =
            codex_policy_model::SourceFile::from_bytes(Path::new("config.toml"), text.into_bytes())
                .unwrap();
        let err = codex_policy_model::CodexConfig::parse(&source).unwrap_err();
        let diagnostic = err.diagnostic().unwrap();
        assert_eq!(diagnostic.key.as_deref(), Some("audit.path"), "{err}");
        assert_eq!(
            (diagnostic.location.line, diagnostic.location.column),
            (2, 8),
            "{err}"
        );
        assert!(
            err.to_string().contains("must be an absolute path"),
            "{err}"
        );
    }
}
