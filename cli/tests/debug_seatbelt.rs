//! `codex-policy debug seatbelt`: the macOS profile of the run's policy and
//! the exact `sandbox-exec` command line, shown on every OS; on Linux a dry
//! run that says it did not execute. No path of the run appears in the
//! profile text: every one is a `-D` parameter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

#[cfg(not(target_os = "macos"))]
#[test]
fn a_dry_run_prints_the_profile_and_the_sandbox_exec_argv() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let ws = dir.path().join("work space (x)");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    std::fs::create_dir_all(home.join(".ssh")).unwrap();
    let marker = ws.join("ran");
    let run = common::codex_policy(
        &home,
        &[],
        &[
            "--profile",
            "workspace",
            "debug",
            "seatbelt",
            "--cwd",
            ws.to_str().unwrap(),
            "--",
            "touch",
            marker.to_str().unwrap(),
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("(version 1)"), "{}", run.stdout);
    assert!(run.stdout.contains("(deny default)"), "{}", run.stdout);
    assert!(run.stderr.contains("dry run"), "{}", run.stderr);
    assert!(
        run.stderr.contains("/usr/bin/sandbox-exec -p"),
        "{}",
        run.stderr
    );
    assert!(!marker.exists(), "the command ran");
    // Paths are parameters, never text of the profile.
    assert!(!run.stdout.contains(ws.to_str().unwrap()), "{}", run.stdout);
    assert!(!run.stdout.contains(".ssh"), "{}", run.stdout);

    let run = common::codex_policy(
        &home,
        &[],
        &[
            "--profile",
            "workspace",
            "--json",
            "debug",
            "seatbelt",
            "--cwd",
            ws.to_str().unwrap(),
            "--",
            "true",
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let report = run.json();
    assert_eq!(report["executed"], false);
    let argv: Vec<&str> = report["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[0], "/usr/bin/sandbox-exec");
    assert_eq!(argv[1], "-p");
    assert_eq!(argv.last(), Some(&"true"));
    // The workspace and the hidden ~/.ssh travel as -D parameters.
    let parameters: Vec<&&str> = argv.iter().filter(|a| a.contains('=')).collect();
    assert!(
        parameters
            .iter()
            .any(|p| p.ends_with(ws.canonicalize().unwrap().to_str().unwrap())),
        "{argv:?}"
    );
    assert!(
        parameters
            .iter()
            .any(|p| p.ends_with(home.join(".ssh").to_str().unwrap())),
        "{argv:?}"
    );
}

#[test]
fn full_access_has_no_profile() {
    let dir = tempfile::tempdir().unwrap();
    let run = common::codex_policy(
        dir.path(),
        &[],
        &["--profile", "trusted", "debug", "seatbelt", "--", "true"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(run.stderr.contains("unconfined"), "{}", run.stderr);
}

#[test]
fn a_filtered_network_reaches_only_the_proxy_ports() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let codex_home = home.join(".codex");
    std::fs::create_dir_all(&codex_home).unwrap();
    std::fs::write(
        codex_home.join("config.toml"),
        "[permissions.workspace-net.network.domains]\n\"example.com\" = \"allow\"\n",
    )
    .unwrap();
    let run = common::codex_policy(
        &home,
        &[],
        &[
            "--profile",
            "workspace-net",
            "debug",
            "seatbelt",
            "--cwd",
            home.to_str().unwrap(),
            "--",
            "true",
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("localhost:3128"), "{}", run.stdout);
    assert!(!run.stdout.contains("(allow network*)\n"), "{}", run.stdout);
}
