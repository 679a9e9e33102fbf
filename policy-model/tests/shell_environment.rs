//! `[shell_environment_policy]` in `config.toml`: Codex's keys resolved into
//! an `EnvironmentPolicy`, and located errors for malformed input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use codex_policy_model::{
    CodexConfig, ConfigError, DiagnosticKind, DropReason, EnvironmentInherit, EnvironmentPolicy,
    SourceFile,
};

fn source(text: &str) -> SourceFile {
    SourceFile::from_bytes(Path::new("/cfg/config.toml"), text.as_bytes().to_vec()).unwrap()
}

fn policy(text: &str) -> EnvironmentPolicy {
    let src = source(text);
    let config = CodexConfig::parse(&src).unwrap();
    EnvironmentPolicy::from_config(&src, config.shell_environment_policy.as_ref()).unwrap()
}

fn parse_error(text: &str) -> ConfigError {
    CodexConfig::parse(&source(text)).expect_err("should be refused")
}

/// Asserts the error names the file, `line:column`, `key`, and mentions `needle`.
fn assert_located(err: &ConfigError, line: usize, column: usize, key: &str, needle: &str) {
    let d = err
        .diagnostic()
        .unwrap_or_else(|| panic!("not located: {err}"));
    assert_eq!(d.location.file, PathBuf::from("/cfg/config.toml"));
    assert_eq!(
        (d.location.line, d.location.column),
        (line, column),
        "{err}"
    );
    assert_eq!(d.key.as_deref(), Some(key), "{err}");
    let text = err.to_string();
    assert!(text.contains(needle), "{text:?} lacks {needle:?}");
    assert!(
        text.starts_with(&format!("/cfg/config.toml:{line}:{column}: key `{key}`: ")),
        "{text}"
    );
}

const TABLE: &str = "[shell_environment_policy]\n";

#[test]
fn codex_keys_resolve_with_where_they_were_decided() {
    let p = policy(
        "model = \"o3\"\n\
         [shell_environment_policy]\n\
         inherit = \"core\"\n\
         ignore_default_excludes = false\n\
         exclude = [\"AWS_*\", \"*_URL\"]\n\
         include_only = [\"PATH\", \"HOME\", \"LANG\", \"CI\"]\n\
         experimental_use_profile = true\n\
         set = { CI = \"1\", LANG = \"C.UTF-8\" }\n",
    );
    assert_eq!(p.inherit.value, EnvironmentInherit::Core);
    assert_eq!(
        p.inherit.decided_by,
        "/cfg/config.toml:3:11 shell_environment_policy.inherit"
    );
    assert_eq!(
        p.set.decided_by,
        "/cfg/config.toml:8:7 shell_environment_policy.set"
    );
    let names: Vec<_> = p.set.value.keys().map(String::as_str).collect();
    assert_eq!(names, ["CI", "LANG"]);

    let vars = [
        ("PATH", "/usr/bin"),
        ("HOME", "/home/u"),
        ("EDITOR", "vi"),
        ("GITHUB_TOKEN", "x"),
    ]
    .map(|(n, v)| (OsString::from(n), OsString::from(v)));
    let env = p.apply(vars);
    let kept: Vec<_> = env
        .kept
        .iter()
        .map(|(n, v)| format!("{}={}", n.to_string_lossy(), v.to_string_lossy()))
        .collect();
    assert_eq!(
        kept,
        ["PATH=/usr/bin", "HOME=/home/u", "CI=1", "LANG=C.UTF-8"]
    );
    assert!(
        env.dropped
            .iter()
            .all(|d| d.reason == DropReason::NotInherited)
    );

    // No table, or an empty one: Codex's defaults, decided by nobody.
    let default = EnvironmentPolicy::default();
    assert_eq!(policy("sandbox_mode = \"read-only\"\n"), default);
    assert_eq!(policy(TABLE), default);
    assert_eq!(default.inherit.value, EnvironmentInherit::All);
    assert!(!default.ignore_default_excludes.value);
}

#[test]
fn a_set_table_is_located_at_its_entries() {
    let p = policy("[shell_environment_policy.set]\nA = \"1\"\n");
    assert_eq!(p.set.value.get("A").map(String::as_str), Some("1"));
    let err = parse_error("[shell_environment_policy.set]\nOK = \"1\"\n\"A=B\" = \"x\"\n");
    assert_located(
        &err,
        3,
        1,
        "shell_environment_policy.set.\"A=B\"",
        "contains `=`",
    );
}

#[test]
fn unknown_keys_and_wrong_types_are_refused() {
    let err = parse_error(&format!("{TABLE}exlude = [\"A\"]\n"));
    assert_eq!(err.kind(), DiagnosticKind::UnknownKey);
    let d = err.diagnostic().unwrap();
    assert_eq!((d.location.line, d.location.column), (2, 1), "{err}");
    assert!(
        d.key
            .as_deref()
            .is_some_and(|k| k.starts_with("shell_environment_policy")),
        "{err}"
    );
    assert!(err.to_string().contains("did you mean `exclude`?"), "{err}");

    for (text, line, column, key, needle) in [
        (
            "inherit = \"some\"\n",
            2,
            11,
            "shell_environment_policy.inherit",
            "unknown variant `some`",
        ),
        (
            "inherit = 1\n",
            2,
            11,
            "shell_environment_policy.inherit",
            "invalid type: integer `1`, expected one of \"all\", \"core\", \"none\"",
        ),
        (
            "ignore_default_excludes = \"yes\"\n",
            2,
            27,
            "shell_environment_policy.ignore_default_excludes",
            "invalid type",
        ),
        (
            "exclude = \"AWS_*\"\n",
            2,
            11,
            "shell_environment_policy.exclude",
            "invalid type",
        ),
        (
            "exclude = [\"A\", 2]\n",
            2,
            17,
            "shell_environment_policy.exclude[1]",
            "invalid type",
        ),
        (
            "set = [\"A\"]\n",
            2,
            7,
            "shell_environment_policy.set",
            "invalid type",
        ),
        (
            // Located at the value; serde cannot name a located map key.
            "set = { A = 1 }\n",
            2,
            13,
            "shell_environment_policy.set",
            "invalid type",
        ),
        (
            "experimental_use_profile = \"yes\"\n",
            2,
            28,
            "shell_environment_policy.experimental_use_profile",
            "invalid type",
        ),
    ] {
        let err = parse_error(&format!("{TABLE}{text}"));
        assert_located(&err, line, column, key, needle);
    }
    assert_located(
        &parse_error("shell_environment_policy = \"all\"\n"),
        1,
        28,
        "shell_environment_policy",
        "invalid type",
    );
}

#[test]
fn malformed_patterns_are_refused_at_the_entry() {
    for (text, column, key, needle) in [
        (
            "exclude = [\"A\", \"B\", \"A=B\"]\n",
            22,
            "shell_environment_policy.exclude[2]",
            "contains `=`",
        ),
        (
            "exclude = [\"\"]\n",
            12,
            "shell_environment_policy.exclude[0]",
            "the pattern is empty",
        ),
        (
            "include_only = [\"PATH\", \"A\\u0000\"]\n",
            25,
            "shell_environment_policy.include_only[1]",
            "NUL",
        ),
        (
            "include_only = [\"=\"]\n",
            17,
            "shell_environment_policy.include_only[0]",
            "contains `=`",
        ),
    ] {
        let err = parse_error(&format!("{TABLE}{text}"));
        assert_eq!(err.kind(), DiagnosticKind::InvalidValue);
        assert_located(&err, 2, column, key, needle);
    }
    let long = "X".repeat(257);
    assert_located(
        &parse_error(&format!("{TABLE}exclude = [\"{long}\"]\n")),
        2,
        12,
        "shell_environment_policy.exclude[0]",
        "257 characters long; at most 256",
    );
    policy(&format!("{TABLE}exclude = [\"{}\"]\n", "X".repeat(256)));
}

#[test]
fn set_names_and_values_must_fit_an_environment() {
    for (text, column, key, needle) in [
        (
            "set = { \"A=B\" = \"x\" }\n",
            9,
            "shell_environment_policy.set.\"A=B\"",
            "contains `=`",
        ),
        (
            "set = { \"\" = \"x\" }\n",
            9,
            "shell_environment_policy.set.\"\"",
            "name is empty",
        ),
        (
            "set = { \"A\\u0000\" = \"x\" }\n",
            9,
            "shell_environment_policy.set.\"A\\0\"",
            "name contains a NUL",
        ),
        (
            "set = { OK = \"1\", B = \"x\\u0000y\" }\n",
            23,
            "shell_environment_policy.set.B",
            "value contains a NUL",
        ),
    ] {
        assert_located(
            &parse_error(&format!("{TABLE}{text}")),
            2,
            column,
            key,
            needle,
        );
    }
    // `=` in a value is fine: only the name ends at the first one.
    let p = policy(&format!("{TABLE}set = {{ OPTS = \"a=b\" }}\n"));
    assert_eq!(p.set.value["OPTS"], "a=b");
}

#[test]
fn lists_are_capped_at_a_thousand_entries() {
    let list = |n: usize| {
        (0..n)
            .map(|i| format!("\"V{i}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    policy(&format!("{TABLE}exclude = [{}]\n", list(1000)));
    for key in ["exclude", "include_only"] {
        let err = parse_error(&format!("{TABLE}{key} = [{}]\n", list(1001)));
        assert_located(
            &err,
            2,
            key.len() + 4,
            &format!("shell_environment_policy.{key}"),
            "1001 entries; at most 1000",
        );
    }
    let set: Vec<_> = (0..1001).map(|i| format!("V{i} = \"x\"")).collect();
    let err = parse_error(&format!("{TABLE}set = {{ {} }}\n", set.join(", ")));
    assert_located(&err, 2, 7, "shell_environment_policy.set", "1001 entries");
}

#[test]
fn an_unchecked_table_is_checked_again_when_resolved() {
    #[derive(serde::Deserialize)]
    struct Doc {
        shell_environment_policy: codex_policy_model::ShellEnvironmentPolicyTable,
    }
    let text = "[shell_environment_policy]\nexclude = [\"A=B\"]\n";
    let doc: Doc = toml::from_str(text).unwrap();
    let err = EnvironmentPolicy::from_config(&source(text), Some(&doc.shell_environment_policy))
        .unwrap_err();
    assert_located(
        &err,
        2,
        12,
        "shell_environment_policy.exclude[0]",
        "contains `=`",
    );
}

#[test]
fn the_schema_describes_the_table() {
    let schema = serde_json::to_value(schemars::schema_for!(CodexConfig)).unwrap();
    let defs = &schema["$defs"];
    let table = &defs["ShellEnvironmentPolicyTable"];
    assert_eq!(table["additionalProperties"], false, "{table}");
    let exclude = table["properties"]["exclude"].to_string();
    assert!(exclude.contains("#/$defs/VariablePattern"), "{exclude}");
    assert_eq!(defs["VariablePattern"]["maxLength"], 256);
    assert!(defs["EnvironmentInherit"].to_string().contains("\"core\""));
}
