//! Located errors for the allowlist keys of `config.toml`: a date that is not
//! one, an expiry without an allowlist, `*` and malformed domains — each
//! naming file, line, column, key and what was expected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use codex_policy_model::validate::{INVALID_VALUE, ValidationInputs, validate};
use codex_policy_model::{CodexConfig, ConfigError, NaiveDate, SourceFile};

const TODAY: NaiveDate = NaiveDate::from_ymd_opt(2025, 10, 1).unwrap();

fn parse(text: &str) -> Result<CodexConfig, ConfigError> {
    let source =
        SourceFile::from_bytes(Path::new("/cfg/config.toml"), text.as_bytes().to_vec()).unwrap();
    CodexConfig::parse(&source)
}

/// Asserts `text` is refused at `line:column` on `key`, mentioning `needle`.
fn assert_refused(text: &str, line: usize, column: usize, key: &str, needle: &str) {
    let err = parse(text).expect_err(text);
    let d = err
        .diagnostic()
        .unwrap_or_else(|| panic!("not located: {err}"));
    assert_eq!(d.location.file, PathBuf::from("/cfg/config.toml"));
    assert_eq!(
        (d.location.line, d.location.column, d.key.as_deref()),
        (line, column, Some(key)),
        "{text}\n{err}"
    );
    let shown = err.to_string();
    assert!(
        shown.starts_with(&format!("/cfg/config.toml:{line}:{column}: ")),
        "{shown}"
    );
    assert!(shown.contains(needle), "{shown:?} lacks {needle:?}");
}

const EXPECTED_DATE: &str = "expected a date YYYY-MM-DD";

#[test]
fn an_expiry_that_is_not_a_date_is_refused_where_it_is_written() {
    for (value, needle) in [
        ("\"2025-13-01\"", "\"2025-13-01\" is not a calendar date"),
        ("\"2025-02-30\"", "\"2025-02-30\" is not a calendar date"),
        ("\"tomorrow\"", "\"tomorrow\" is not a date"),
        ("\"\"", "\"\" is not a date"),
        ("\"2025-10-15T10:00:00\"", "is not a date"),
        ("2025-10-15T10:00:00", "is not a date"),
        ("20251015", "invalid type: integer `20251015`"),
        ("{ date = \"2025-10-15\" }", "invalid type: map"),
        ("[\"2025-10-15\"]", "invalid type: sequence"),
    ] {
        let text = format!(
            "[sandbox_workspace_write]\n\
             allowlisted_domains = [\"api.example.dev\"]\n\
             allowlist_expiry = {value}\n"
        );
        assert_refused(
            &text,
            3,
            20,
            "sandbox_workspace_write.allowlist_expiry",
            needle,
        );
        assert_refused(
            &text,
            3,
            20,
            "sandbox_workspace_write.allowlist_expiry",
            EXPECTED_DATE,
        );

        let text = format!("[permissions.dev.network]\nexpires = {value}\n");
        assert_refused(&text, 2, 11, "permissions.dev.network.expires", needle);
    }
}

#[test]
fn an_expiry_written_as_a_table_is_refused_at_the_table() {
    let text = "[sandbox_workspace_write]\n\
                allowlisted_domains = [\"api.example.dev\"]\n\
                [sandbox_workspace_write.allowlist_expiry]\n\
                date = \"2025-10-15\"\n";
    let err = parse(text).unwrap_err();
    let d = err.diagnostic().unwrap();
    assert_eq!(
        d.key.as_deref(),
        Some("sandbox_workspace_write.allowlist_expiry"),
        "{err}"
    );
    assert!(d.location.line >= 3, "{err}");
    assert!(err.to_string().contains(EXPECTED_DATE), "{err}");
}

#[test]
fn an_expiry_needs_an_allowlist() {
    assert_refused(
        "[sandbox_workspace_write]\nnetwork_access = true\nallowlist_expiry = \"2025-10-15\"\n",
        3,
        20,
        "sandbox_workspace_write.allowlist_expiry",
        "allowlist_expiry without allowlisted_domains",
    );
}

#[test]
fn the_allowlist_must_name_domains() {
    assert_refused(
        "[sandbox_workspace_write]\nallowlisted_domains = [\"api.example.dev\", \"*\"]\n",
        2,
        43,
        "sandbox_workspace_write.allowlisted_domains[1]",
        "`*` in allowlisted_domains would allow every domain",
    );
    for (entry, needle) in [
        ("a*.example.com", "a*.example.com"),
        ("*.*.example.com", "*.*.example.com"),
        ("exa mple.com", "exa mple.com"),
        ("*.10.0.0.1", "*.10.0.0.1"),
        ("", "empty"),
    ] {
        assert_refused(
            &format!(
                "[sandbox_workspace_write]\nallowlisted_domains = [\"ok.example\", \"{entry}\"]\n"
            ),
            2,
            38,
            "sandbox_workspace_write.allowlisted_domains[1]",
            needle,
        );
    }
    assert_refused(
        "[sandbox_workspace_write]\nallowlisted_domains = \"api.example.dev\"\n",
        2,
        23,
        "sandbox_workspace_write.allowlisted_domains",
        "invalid type: string",
    );
}

#[test]
fn validate_reports_them_as_invalid_values_at_the_same_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(
        &path,
        "[sandbox_workspace_write]\n\
         allowlisted_domains = [\"api.example.dev\"]\n\
         allowlist_expiry = \"tomorrow\"\n",
    )
    .unwrap();
    let v = validate(
        &ValidationInputs {
            config: Some(path.clone()),
            ..ValidationInputs::default()
        },
        TODAY,
    );
    assert!(v.fails(false));
    let f = &v.findings[0];
    assert_eq!(f.code, INVALID_VALUE.code, "{f}");
    assert_eq!(
        (f.file.as_deref(), f.line, f.column, f.key.as_deref()),
        (
            Some(path.as_path()),
            Some(3),
            Some(20),
            Some("sandbox_workspace_write.allowlist_expiry")
        ),
        "{f}"
    );
}
