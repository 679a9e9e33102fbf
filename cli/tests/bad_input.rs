//! Hostile and malformed input: every failure is a clear, located message with the
//! contract's exit status (1 invalid input, 2 usage), and nothing on stdout.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Run, codex_policy};

fn assert_fails(run: &Run, status: i32, needles: &[&str]) {
    assert_eq!(run.status, status, "stderr: {}", run.stderr);
    assert!(run.stdout.is_empty(), "stdout not empty: {}", run.stdout);
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "{needle:?} not in: {}",
            run.stderr
        );
    }
}

fn with_config(text: &[u8]) -> (tempfile::TempDir, Run) {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), text).unwrap();
    let run = codex_policy(
        home.path(),
        &[("CODEX_HOME", home.path().to_str().unwrap())],
        &["--show-profile", "--json"],
    );
    (home, run)
}

#[test]
fn bogus_environment_profile_names_the_variable_and_valid_names() {
    let home = tempfile::tempdir().unwrap();
    for value in ["bogus", "", "TRUSTED"] {
        let run = codex_policy(
            home.path(),
            &[("CODEX_SECURITY_PROFILE", value)],
            &["--show-profile"],
        );
        assert_fails(
            &run,
            1,
            &[
                "CODEX_SECURITY_PROFILE",
                "offline, net-read-only, workspace, workspace-net, trusted",
            ],
        );
    }
}

#[test]
fn config_syntax_error_is_located_with_key() {
    let (home, run) = with_config(b"[sandbox]\nmode = \"workspace-write\"\nnetwork_access = tru\n");
    let path = home.path().join("config.toml");
    assert_fails(
        &run,
        1,
        &[&format!(
            "{}:3:18: key `sandbox.network_access`",
            path.display()
        )],
    );
}

#[test]
fn config_wrong_type_is_located_with_key() {
    let (home, run) =
        with_config(b"[sandbox]\nmode = \"workspace-write\"\nnetwork_access = \"yes\"\n");
    let path = home.path().join("config.toml");
    assert_fails(
        &run,
        1,
        &[
            &format!("{}:3:18: key `sandbox.network_access`", path.display()),
            "expected a boolean",
        ],
    );
}

#[test]
fn config_unknown_mode_is_located_with_key_and_valid_modes() {
    let (home, run) = with_config(b"# team default\nsandbox_mode = \"full-auto\"\n");
    let path = home.path().join("config.toml");
    assert_fails(
        &run,
        1,
        &[
            &format!("{}:2:16: key `sandbox_mode`", path.display()),
            "unknown variant `full-auto`",
            "workspace-write",
        ],
    );
}

#[test]
fn config_errors_are_reported_even_when_the_flag_decides() {
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("config.toml"), "[sandbox]\nmode = 7\n").unwrap();
    let run = codex_policy(
        home.path(),
        &[("CODEX_HOME", home.path().to_str().unwrap())],
        &["--profile", "offline", "--show-profile"],
    );
    assert_fails(&run, 1, &["config.toml:2:8: key `sandbox.mode`"]);
}

#[test]
fn hostile_config_files_fail_cleanly() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![b'#'; 1024 * 1024 + 1], "larger than"),
        (
            b"sandbox_mode = \"read-only\"\n\xff\xfe".to_vec(),
            "not valid UTF-8",
        ),
        (
            format!("x = {}{}\n", "[".repeat(50_000), "]".repeat(50_000)).into_bytes(),
            "config.toml:",
        ),
        (
            b"[sandbox]\nmode = \"read-only\"\nmode = \"read-only\"\n".to_vec(),
            ":3:",
        ),
        (b"\0\0\0".to_vec(), "config.toml:1:"),
    ];
    for (text, needle) in cases {
        let (_home, run) = with_config(&text);
        assert_fails(&run, 1, &[needle]);
    }
}

#[test]
fn missing_explicit_config_is_an_error() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(
        home.path(),
        &[],
        &[
            "--config",
            "/nonexistent/codex-policy.toml",
            "--show-profile",
        ],
    );
    assert_fails(&run, 1, &["/nonexistent/codex-policy.toml", "cannot read"]);

    let run = codex_policy(
        home.path(),
        &[],
        &["--config", home.path().to_str().unwrap(), "--show-profile"],
    );
    assert_fails(&run, 1, &["cannot read"]);
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--profile", "bogus", "--show-profile"],
            "valid profiles: offline",
        ),
        (&["--profile"], "--profile <PROFILE>"),
        (&[], "nothing to do"),
        (&["--no-such-flag"], "--no-such-flag"),
        (&["schema", "bogus"], "possible values"),
        (&["schema"], "<NAME>"),
    ];
    for (args, needle) in cases {
        let run = codex_policy(home.path(), &[], args);
        assert_fails(&run, 2, &[needle]);
    }
}
