//! Codex's flags and keys: `-a`, `--sandbox`, `--full-auto`, `--yolo`,
//! `approval_policy`, `profile = "name"`, `[profiles.<name>]`, templates,
//! `init --template`, and managed requirements restricting them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::codex_policy;

fn show(home: &std::path::Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["--show-profile", "--json"]);
    let run = codex_policy(home, &[], &all);
    assert_eq!(run.status, 0, "{args:?}: {}", run.stderr);
    run.json()
}

#[test]
fn presets_map_to_profiles_and_approval_policies() {
    let home = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str, &str, &str); 8] = [
        (&[], "offline", "on-request", "default"),
        (
            &["--sandbox", "read-only"],
            "offline",
            "on-request",
            "--sandbox",
        ),
        (
            &["--sandbox", "workspace-write"],
            "workspace",
            "on-request",
            "--sandbox",
        ),
        (
            &["--sandbox", "danger-full-access"],
            "trusted",
            "on-request",
            "--sandbox",
        ),
        (&["--full-auto"], "workspace", "on-failure", "--full-auto"),
        (&["--yolo"], "trusted", "never", "--yolo"),
        (
            &["--dangerously-bypass-approvals-and-sandbox"],
            "trusted",
            "never",
            "--yolo",
        ),
        (
            &["--sandbox", "read-only", "-a", "never"],
            "offline",
            "never",
            "--sandbox",
        ),
    ];
    for (args, profile, approval, flag) in cases {
        let json = show(home.path(), args);
        println!(
            "{args:?} -> {} {} ({})",
            json["profile"], json["approval"]["policy"], json["source"]
        );
        assert_eq!(json["profile"], profile, "{args:?}");
        assert_eq!(json["approval"]["policy"], approval, "{args:?}");
        if flag != "default" {
            assert_eq!(json["source"]["flag"], flag, "{args:?}");
        }
    }
}

#[test]
fn conflicting_presets_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for args in [
        &["--profile", "workspace", "--sandbox", "read-only"][..],
        &["--full-auto", "--yolo"],
        &["--full-auto", "-a", "never"],
        &["--yolo", "-a", "untrusted"],
        &["--profile", "offline", "--full-auto"],
    ] {
        let mut all = args.to_vec();
        all.push("--show-profile");
        let run = codex_policy(home.path(), &[], &all);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
    }
}

#[test]
fn bad_flag_values_are_usage_errors() {
    let home = tempfile::tempdir().unwrap();
    for (args, expect) in [
        (&["-a", "sometimes"][..], "unknown approval policy"),
        (&["-a", ""], "unknown approval policy"),
        (&["--sandbox", "yolo"], "not a sandbox mode"),
        (&["--profile", "../etc"], "unknown security profile"),
        (&["--profile", ""], "unknown security profile"),
    ] {
        let mut all = args.to_vec();
        all.push("--show-profile");
        let run = codex_policy(home.path(), &[], &all);
        println!("{args:?}: {}", run.stderr);
        assert_eq!(run.status, 2, "{args:?}");
        assert!(run.stderr.contains(expect), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn show_profile_prints_the_approval_policy_and_the_chain() {
    let home = tempfile::tempdir().unwrap();
    let run = codex_policy(home.path(), &[], &["--profile", "ci", "--show-profile"]);
    println!("{}", run.stdout);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("profile:        workspace"));
    assert!(
        run.stdout
            .contains("approval:       never (command line (--profile ci)")
    );
    assert!(
        run.stdout
            .contains("named profile:  ci (built-in template ci")
    );
    assert!(
        run.stdout
            .contains("extends:      security profile workspace")
    );
}

#[test]
fn config_keys_choose_profile_and_approval() {
    // Outside /tmp: a config.toml the workspace profile could write may not
    // choose a named profile (CP0024).
    let home = tempfile::Builder::new()
        .prefix("codex-policy-presets-")
        .tempdir_in(common::escape::fixture_base().expect("a directory outside /tmp"))
        .unwrap();
    let codex = home.path().join(".codex");
    std::fs::create_dir(&codex).unwrap();
    std::fs::write(
        codex.join("config.toml"),
        "approval_policy = \"untrusted\"\nprofile = \"team\"\n\
         [profiles.team]\nextends = \"workspace-net\"\n",
    )
    .unwrap();
    let json = show(home.path(), &[]);
    assert_eq!(json["profile"], "workspace-net");
    assert_eq!(json["approval"]["policy"], "untrusted");
    assert_eq!(json["approval"]["source"]["keys"][0], "approval_policy");
    assert_eq!(json["named"]["name"], "team");
    // explain shows it too.
    let run = codex_policy(home.path(), &[], &["explain"]);
    println!("{}", run.stdout);
    assert!(
        run.stdout.contains("approval           untrusted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("named profile      team"),
        "{}",
        run.stdout
    );
}

#[test]
fn config_profile_errors_are_located_and_exit_125_for_run() {
    let home = tempfile::tempdir().unwrap();
    let codex = home.path().join(".codex");
    std::fs::create_dir(&codex).unwrap();
    std::fs::write(
        codex.join("config.toml"),
        "[profiles.a]\nextends = \"b\"\n[profiles.b]\nextends = \"a\"\n",
    )
    .unwrap();
    let run = codex_policy(home.path(), &[], &["--profile", "a", "run", "--", "true"]);
    println!("{}", run.stderr);
    assert_eq!(run.status, 125);
    assert!(
        run.stderr.contains("config.toml:") && run.stderr.contains("cycle"),
        "{}",
        run.stderr
    );
    let run = codex_policy(home.path(), &[], &["--profile", "nope", "--show-profile"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("unknown profile \"nope\"") && run.stderr.contains("review"),
        "{}",
        run.stderr
    );
}

#[test]
fn managed_requirements_restrict_modes_and_approvals() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let requirements = dir.path().join("requirements.toml");
    std::fs::write(
        &requirements,
        "allowed_sandbox_modes = [\"read-only\", \"workspace-write\"]\n\
         allowed_approval_policies = [\"untrusted\", \"on-request\"]\n",
    )
    .unwrap();
    let req = requirements.display().to_string();
    let cwd = dir.path().display().to_string();
    for (flags, key) in [
        (&["--yolo"][..], "allowed_sandbox_modes"),
        (&["--profile", "trusted"], "allowed_sandbox_modes"),
        (&["--full-auto"], "allowed_approval_policies"),
        (&["-a", "never"], "allowed_approval_policies"),
    ] {
        let mut args = flags.to_vec();
        args.extend([
            "run",
            "--cwd",
            &cwd,
            "--requirements",
            &req,
            "--no-audit",
            "--",
            "true",
        ]);
        let run = codex_policy(home.path(), &[], &args);
        println!("{flags:?}: {}", run.stderr);
        assert_eq!(run.status, 125, "{flags:?}: {}", run.stderr);
        assert!(run.stderr.contains("requirements.toml:"), "{}", run.stderr);
        assert!(run.stderr.contains(key), "{}", run.stderr);
    }
    let run = codex_policy(
        home.path(),
        &[],
        &[
            "-a",
            "untrusted",
            "--profile",
            "workspace",
            "run",
            "--cwd",
            &cwd,
            "--requirements",
            &req,
            "--no-audit",
            "--",
            "cat",
            "/dev/null",
        ],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
}

#[test]
fn bad_requirement_values_are_located() {
    let home = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let requirements = dir.path().join("requirements.toml");
    for text in [
        "allowed_sandbox_modes = [\"yolo\"]\n",
        "allowed_approval_policies = \"never\"\n",
        "allow_elevation = \"no\"\n",
    ] {
        std::fs::write(&requirements, text).unwrap();
        let run = codex_policy(
            home.path(),
            &[],
            &[
                "validate",
                "--requirements",
                &requirements.display().to_string(),
            ],
        );
        println!("{text}: {}{}", run.stdout, run.stderr);
        assert_eq!(run.status, 1, "{text}");
        assert!(
            format!("{}{}", run.stdout, run.stderr).contains("requirements.toml:1:"),
            "{text}"
        );
    }
}

#[test]
fn init_template_adds_a_profile_table_and_refuses_twice() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("cfg/config.toml");
    let path = config.display().to_string();
    let run = codex_policy(
        home.path(),
        &[],
        &["--config", &path, "init", "--template", "review"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[profiles.review]") && text.contains("approval_policy = \"untrusted\""));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&config).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // A second template is appended; the file keeps what it had.
    let run = codex_policy(
        home.path(),
        &[],
        &["--config", &path, "init", "--template", "ci"],
    );
    assert_eq!(run.status, 0, "{}", run.stderr);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("[profiles.review]") && text.contains("[profiles.ci]"));
    let json = show(home.path(), &["--config", &path, "--profile", "ci"]);
    assert_eq!(json["named"]["chain"][0]["kind"], "config");
    // Twice: refused, nothing written.
    let run = codex_policy(
        home.path(),
        &[],
        &["--config", &path, "init", "--template", "ci"],
    );
    assert_eq!(run.status, 1);
    assert!(
        run.stderr.contains("already defines [profiles.ci]"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
    // A broken file is not touched.
    std::fs::write(&config, "profile = [\n").unwrap();
    let run = codex_policy(
        home.path(),
        &[],
        &["--config", &path, "init", "--template", "research"],
    );
    assert_eq!(run.status, 1);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "profile = [\n");
    let leftovers = std::fs::read_dir(config.parent().unwrap()).unwrap().count();
    assert_eq!(leftovers, 1, "no temporary file left behind");
    // A read-only config.toml is not replaced.
    std::fs::write(&config, "# mine\n").unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o444)).unwrap();
    let run = codex_policy(
        home.path(),
        &[],
        &["--config", &path, "init", "--template", "ci"],
    );
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(run.stderr.contains("not writable"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&config).unwrap(), "# mine\n");
    let run = codex_policy(home.path(), &[], &["init", "--template", "nope"]);
    assert_eq!(run.status, 2);
    assert!(
        run.stderr.contains("templates: review, research, ci"),
        "{}",
        run.stderr
    );
}
