//! A command-writable `config.toml` may only tighten the command's
//! environment: `ignore_default_excludes = true` and every `set` entry are
//! `CP0024` (an earlier sandboxed command could plant `LD_PRELOAD` for a later,
//! unsandboxed run); `inherit`, `exclude` and `include_only` only take away.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use codex_policy_model::tightening::{RunContext, loosening_findings};
use codex_policy_model::validate::{ValidationInputs, validate};
use codex_policy_model::{CommandWritable, NaiveDate, SandboxPolicy};

/// `(key, line, column)` of every loosening finding for `text` written as
/// `config.toml` in a workspace the command can write (`writable`) or not.
fn loosening(text: &str, writable: bool) -> Vec<(String, usize, usize)> {
    let cwd = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let config = cwd.path().join("config.toml");
    std::fs::write(&config, text).unwrap();
    let inputs = ValidationInputs {
        config: Some(config.clone()),
        ..ValidationInputs::default()
    };
    let v = validate(&inputs, NaiveDate::from_ymd_opt(2025, 10, 1).unwrap());
    assert!(!v.fails(false), "{:?}", v.findings);
    let policy = SandboxPolicy::workspace_write(false);
    let command_writable = if writable {
        CommandWritable::for_policy(&policy, cwd.path(), None).unwrap()
    } else {
        CommandWritable::nothing()
    };
    assert_eq!(command_writable.could_write(Path::new(&config)), writable);
    loosening_findings(
        &v,
        &RunContext {
            profile_policy: &policy,
            profile_name: "workspace",
            profile_from_config: false,
            writable: &command_writable,
        },
    )
    .into_iter()
    .map(|f| {
        assert_eq!(f.code, "CP0024");
        assert!(
            f.message.contains("may only make the policy stricter"),
            "{}",
            f.message
        );
        assert!(f.fix.contains("outside every writable root"), "{}", f.fix);
        (f.key.unwrap(), f.line.unwrap(), f.column.unwrap())
    })
    .collect()
}

#[test]
fn ignore_default_excludes_and_set_may_not_come_from_a_command_writable_file() {
    let text = "[shell_environment_policy]\n\
                inherit = \"all\"\n\
                ignore_default_excludes = true\n\
                [shell_environment_policy.set]\n\
                LD_PRELOAD = \"/work/evil.so\"\n\
                \"MY VAR\" = \"x\"\n";
    assert_eq!(
        loosening(text, true),
        [
            (
                "shell_environment_policy.ignore_default_excludes".to_owned(),
                3,
                27
            ),
            ("shell_environment_policy.set.LD_PRELOAD".to_owned(), 5, 1),
            ("shell_environment_policy.set.\"MY VAR\"".to_owned(), 6, 1),
        ]
    );
    // The same file where the command cannot write is the user's own choice.
    assert!(loosening(text, false).is_empty());
}

#[test]
fn keys_that_only_take_variables_away_are_allowed() {
    let text = "[shell_environment_policy]\n\
                inherit = \"core\"\n\
                ignore_default_excludes = false\n\
                exclude = [\"AWS_*\"]\n\
                include_only = [\"PATH\", \"HOME\"]\n\
                experimental_use_profile = true\n";
    assert!(loosening(text, true).is_empty());
    assert!(loosening("[shell_environment_policy]\ninherit = \"all\"\n", true).is_empty());
}
