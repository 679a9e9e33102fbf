//! A finding's fix says what to do for that file: the schema that lists its
//! keys, JSON's rules only for JSON, and a "did you mean" only when there
//! is a close name.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_policy_model::NaiveDate;
use codex_policy_model::validate::{Finding, ValidationInputs, validate};

fn only_finding(name: &str, text: &str) -> Finding {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let mut inputs = ValidationInputs::default();
    match name {
        "requirements.toml" => inputs.requirements = Some(path),
        "harness.policy.json" => inputs.policy = Some(path),
        ".codexrc.json" => inputs.runtime = Some(path),
        _ => inputs.config = Some(path),
    }
    let mut findings = validate(&inputs, NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).findings;
    assert_eq!(findings.len(), 1, "{findings:#?}");
    findings.remove(0)
}

#[test]
fn an_unknown_key_far_from_any_names_its_files_schema() {
    let f = only_finding("requirements.toml", "zzqxwv = 1\n");
    assert_eq!(f.code, "CP0003");
    assert!(
        f.fix.contains("`codex-policy schema requirements`"),
        "{}",
        f.fix
    );
    assert!(!f.fix.contains("hint"), "{}", f.fix);
    let f = only_finding(
        "harness.policy.json",
        "{\"version\": \"1.0\", \"xyzzyq\": 1}",
    );
    assert!(
        f.fix.contains("`codex-policy schema harness-policy`"),
        "{}",
        f.fix
    );
    // A file under another name: its role (here config.toml) names the schema.
    let f = only_finding("team.toml", "[sandbox]\nmode = \"yolo\"\n");
    assert_eq!(f.code, "CP0004");
    assert!(f.fix.contains("`codex-policy schema config`"), "{}", f.fix);
}

#[test]
fn a_close_name_gets_the_hint_instead() {
    let f = only_finding("config.toml", "[sandbox]\nmode = \"read-onyl\"\n");
    assert_eq!(f.fix, "did you mean `read-only`?");
}

#[test]
fn syntax_fixes_speak_of_the_files_own_format() {
    let toml = only_finding("config.toml", "sandbox_mode = \n");
    assert_eq!(toml.code, "CP0002");
    assert!(!toml.fix.contains("JSON"), "{}", toml.fix);
    let json = only_finding(".codexrc.json", "{\"limits\": {} // comment\n}");
    assert_eq!(json.code, "CP0002");
    assert!(
        json.fix
            .contains("JSON allows no comments or trailing commas"),
        "{}",
        json.fix
    );
}
