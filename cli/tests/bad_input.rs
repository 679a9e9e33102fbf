//! Hostile and malformed input: every failure is a clear, located message with the
//! contract's exit status (1 invalid input, 2 usage), and nothing on stdout.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    assert_fails(&run, 1, &["is a directory, not a regular file"]);
}

/// Runs the binary in `dir` with a cleared environment plus `env`, killing it
/// (and failing the test) if it has not finished within 10 seconds.
fn bounded(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let mut cmd = Command::new(common::codex_policy_bin());
    cmd.env_clear()
        .env("HOME", dir)
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("codex-policy {args:?} hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Run {
        status: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {path:?}");
}

/// A FIFO, a directory or a device given as any configuration input (or
/// found in the workspace, also through a symlink) is refused at once with
/// the path and what it is: never read, never a hang.
#[test]
fn special_files_as_config_inputs_are_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mkfifo(&d.join("fifo"));
    std::fs::create_dir(d.join("a-dir")).unwrap();
    let fifo = d.join("fifo");
    let fifo = fifo.to_str().unwrap();
    let a_dir = d.join("a-dir");
    let a_dir = a_dir.to_str().unwrap();
    for (target, kind) in [
        (fifo, "a FIFO"),
        (a_dir, "a directory"),
        ("/dev/zero", "a character device"),
    ] {
        for flag in ["--runtime", "--policy", "--requirements", "--config"] {
            for (cmd, status) in [("explain", 1), ("validate", 1), ("run", 125)] {
                let mut args = vec![];
                if flag == "--config" {
                    args.extend(["--config", target, cmd]);
                } else {
                    args.extend([cmd, flag, target]);
                }
                if cmd == "run" {
                    args.extend(["--", "true"]);
                }
                let run = bounded(d, &[], &args);
                assert_eq!(run.status, status, "{args:?}: {}{}", run.stdout, run.stderr);
                let all = format!("{}{}", run.stdout, run.stderr);
                assert!(all.contains(target), "{args:?}: {all}");
                assert!(
                    all.contains(&format!("is {kind}")) && all.contains("not a regular file"),
                    "{args:?}: {all}"
                );
            }
        }
    }
    // Found in the workspace by name, directly or through a symlink.
    for (name, how) in [
        (".codexrc.json", "fifo"),
        ("harness.policy.json", "symlink"),
    ] {
        let ws = tempfile::tempdir().unwrap();
        let path = ws.path().join(name);
        if how == "fifo" {
            mkfifo(&path);
        } else {
            std::os::unix::fs::symlink(d.join("fifo"), &path).unwrap();
        }
        for (args, status) in [
            (&["explain"][..], 1),
            (&["validate"][..], 1),
            (&["--profile", "workspace", "run", "--", "true"][..], 125),
        ] {
            let run = bounded(ws.path(), &[], args);
            assert_eq!(run.status, status, "{name} {args:?}: {}", run.stderr);
            let all = format!("{}{}", run.stdout, run.stderr);
            assert!(all.contains("is a FIFO (named pipe)"), "{all}");
        }
    }
    // A FIFO as $CODEX_HOME/config.toml: the profile lookup is refused too.
    let home = tempfile::tempdir().unwrap();
    mkfifo(&home.path().join("config.toml"));
    let run = bounded(
        d,
        &[("CODEX_HOME", home.path().to_str().unwrap())],
        &["--show-profile"],
    );
    assert_fails(
        &run,
        1,
        &["config.toml: is a FIFO (named pipe), not a regular file"],
    );
}

/// Codex's home must be an absolute path: a relative one would move with
/// whichever directory a command starts in.
#[test]
fn relative_codex_home_or_home_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (env, variable) in [
        (&[("CODEX_HOME", "rel")][..], "CODEX_HOME"),
        (&[("CODEX_HOME", "./.codex")][..], "CODEX_HOME"),
        (&[("HOME", "relative")][..], "HOME"),
    ] {
        for (args, status) in [
            (&["--show-profile"][..], 1),
            (&["validate"][..], 1),
            (&["explain"][..], 1),
            (&["run", "--", "true"][..], 125),
            (&["audit", "tail"][..], 1),
        ] {
            let run = bounded(dir.path(), env, args);
            assert_eq!(run.status, status, "{env:?} {args:?}: {}", run.stderr);
            let needle = format!("environment variable {variable} is the relative path");
            assert!(
                run.stderr.contains(&needle),
                "{env:?} {args:?}: {}",
                run.stderr
            );
        }
    }
}

#[test]
fn usage_errors_exit_2() {
    let home = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 6] = [
        (
            &["--profile", "bogus", "--show-profile"],
            "profiles: offline, net-read-only",
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
