//! Credential stores stay out of reach: real secrets planted under a test
//! `$HOME` and `$CODEX_HOME` are unreadable inside every sandboxed profile —
//! through links, `/proc/self/root` and `..` too — readable under `trusted`
//! and outside; the profile's `deny_read`/`allow_read` add and remove
//! entries, and bad entries are located errors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::escape::{Fixture, Outcome, PROFILES, Table, skip, skip_reason};

/// Every default credential store, as a file planted under `$HOME`.
const STORES: [&str; 14] = [
    ".ssh/id_ed25519",
    ".aws/credentials",
    ".gnupg/private-keys-v1.d/key.key",
    ".config/gh/hosts.yml",
    ".config/gcloud/credentials.db",
    ".config/git/credentials",
    ".azure/msal_token_cache.json",
    ".kube/config",
    ".docker/config.json",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials.toml",
];

/// The secret planted in `file`: unique, so any leak is attributed.
fn secret(file: &str) -> String {
    format!("SECRET<{file}>")
}

fn plant(path: &Path, content: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, content).unwrap();
}

/// Plants every store under the fixture's home and Codex's home; returns
/// `(label, path)` for each secret.
fn plant_all(fixture: &Fixture) -> Vec<(String, PathBuf)> {
    let mut planted = Vec::new();
    for store in STORES {
        let path = fixture.home.join(store);
        plant(&path, &secret(store));
        planted.push((store.to_owned(), path));
    }
    for (label, relative) in [
        ("auth.json", "auth.json"),
        ("elevation grants", "elevations/grant"),
    ] {
        let path = fixture.codex_home.join(relative);
        plant(&path, &secret(label));
        planted.push((label.to_owned(), path));
    }
    planted
}

/// A script that prints each file through several names: as written, through
/// `/proc/self/root`, through `..`, and a directory listing of its parent.
fn read_script(planted: &[(String, PathBuf)]) -> String {
    planted
        .iter()
        .map(|(_, path)| {
            let p = path.display();
            let parent = path.parent().unwrap().display();
            let name = path.file_name().unwrap().to_string_lossy();
            format!(
                "cat '{p}' 2>/dev/null; cat '/proc/self/root{p}' 2>/dev/null; \
                 cat '{parent}/../{}/{name}' 2>/dev/null; ls -a '{parent}' 2>/dev/null; ",
                parent_name(path)
            )
        })
        .collect()
}

fn parent_name(path: &Path) -> String {
    path.parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn leaked<'a>(output: &Output, planted: &'a [(String, PathBuf)]) -> Vec<&'a str> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    planted
        .iter()
        .filter(|(label, _)| stdout.contains(&secret(label)))
        .map(|(label, _)| label.as_str())
        .collect()
}

#[test]
fn default_stores_are_hidden_in_every_sandboxed_profile() {
    if let Some(reason) = skip_reason() {
        return skip(
            "default_stores_are_hidden_in_every_sandboxed_profile",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let planted = plant_all(&fixture);
    // Outside the sandbox every secret is there to read.
    for (label, path) in &planted {
        assert_eq!(fixture.read(path).as_deref(), Some(secret(label).as_str()));
    }
    let script = read_script(&planted);
    let mut table = Table::new("hidden credential stores");
    for profile in PROFILES {
        let output = fixture.run(profile, &[], &script);
        assert!(
            output.status.success(),
            "{profile}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let leaked = leaked(&output, &planted);
        for (label, _) in &planted {
            let read = leaked.contains(&label.as_str());
            table.record(
                profile,
                &format!("read {label}"),
                Outcome::allowed_if(profile == "trusted"),
                Outcome::allowed_if(read),
                &output,
            );
        }
    }
    table.finish();
}

#[test]
fn the_audit_log_is_hidden_and_the_listing_is_empty() {
    if let Some(reason) = skip_reason() {
        return skip("the_audit_log_is_hidden_and_the_listing_is_empty", &reason);
    }
    let fixture = Fixture::new();
    let log_dir = fixture.codex_home.join("audit");
    let script = format!(
        "cat '{0}/audit.jsonl'; ls -a '{0}' | wc -l; ls -a '{1}/.ssh' | wc -l",
        log_dir.display(),
        fixture.home.display()
    );
    plant(&fixture.home.join(".ssh/id_rsa"), "key");
    let output = fixture.run("workspace", &[], &script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    // The log holds this run's policy_load events outside, nothing inside;
    // both directories list only `.` and `..`.
    assert!(!stdout.contains("session_id"), "{stdout}");
    assert_eq!(
        stdout.lines().map(str::trim).collect::<Vec<_>>(),
        ["2", "2"],
        "{stdout}"
    );
    let outside = std::fs::read_to_string(log_dir.join("audit.jsonl")).unwrap();
    assert!(outside.contains("session_id"));
}

#[test]
fn links_into_a_hidden_store_read_nothing() {
    if let Some(reason) = skip_reason() {
        return skip("links_into_a_hidden_store_read_nothing", &reason);
    }
    let fixture = Fixture::new();
    let key = fixture.home.join(".ssh/id_ed25519");
    plant(&key, &secret("key"));
    // A link made outside, before the run, in the workspace.
    std::os::unix::fs::symlink(&key, fixture.workspace.join("key-link")).unwrap();
    // `~/.aws` itself a link to where the credentials really are.
    let real_aws = fixture.home.join("real-aws");
    plant(&real_aws.join("credentials"), &secret("aws"));
    std::os::unix::fs::symlink(&real_aws, fixture.home.join(".aws")).unwrap();
    let script = format!(
        "cat key-link; cat '{0}/.aws/credentials'; cat '{0}/real-aws/credentials'; \
         ln -s '{1}' /tmp/inner-link-$$ && cat /tmp/inner-link-$$; \
         ln '{1}' hard-$$ 2>/dev/null && cat hard-$$; true",
        fixture.home.display(),
        key.display()
    );
    for profile in ["offline", "workspace"] {
        let output = fixture.run(profile, &[], &script);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{profile}: {stdout}");
        assert!(!stdout.contains("SECRET"), "{profile} leaked: {stdout}");
    }
}

#[test]
fn a_hidden_store_in_the_workspace_cannot_be_moved_out() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_hidden_store_in_the_workspace_cannot_be_moved_out",
            &reason,
        );
    }
    let fixture = Fixture::new();
    // The workspace is the home: every store lies inside a writable root.
    plant(&fixture.home.join(".ssh/id_ed25519"), &secret("key"));
    plant(&fixture.home.join(".config/gh/hosts.yml"), &secret("gh"));
    plant(&fixture.home.join(".netrc"), &secret("netrc"));
    let home = fixture.home.display().to_string();
    let script = "mv .ssh moved-ssh; mv .config moved-config; mv .netrc moved-netrc; \
                  rm -rf .ssh .netrc; cat moved-ssh/id_ed25519 moved-config/gh/hosts.yml \
                  moved-netrc .netrc .ssh/id_ed25519 2>/dev/null; true";
    let output = fixture.run("workspace", &["--cwd", &home], script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("SECRET"), "leaked: {stdout}");
    // Nothing moved on the host either: a later run cannot find them elsewhere.
    for file in [".ssh/id_ed25519", ".config/gh/hosts.yml", ".netrc"] {
        assert!(
            fixture.home.join(file).exists(),
            "{file} was moved or removed"
        );
    }
    for moved in ["moved-ssh", "moved-config", "moved-netrc"] {
        assert!(!fixture.home.join(moved).exists(), "{moved} exists");
    }
}

#[test]
fn deny_read_adds_and_allow_read_removes() {
    if let Some(reason) = skip_reason() {
        return skip("deny_read_adds_and_allow_read_removes", &reason);
    }
    let fixture = Fixture::new();
    let extra = fixture.home.parent().unwrap().join("extra-secrets");
    plant(&extra.join("db.key"), &secret("extra"));
    plant(
        &fixture.home.join("project-secrets/token"),
        &secret("project"),
    );
    plant(&fixture.home.join(".aws/credentials"), &secret("aws"));
    plant(&fixture.home.join(".ssh/id_rsa"), &secret("ssh"));
    std::fs::write(
        fixture.codex_home.join("config.toml"),
        format!(
            "[permissions.workspace.filesystem]\n\
             deny_read = [\"~/project-secrets\", \"{}\"]\n\
             allow_read = [\"~/.aws\"]\n",
            extra.display()
        ),
    )
    .unwrap();
    let script = format!(
        "cat '{0}/db.key' '{1}/project-secrets/token' '{1}/.aws/credentials' \
         '{1}/.ssh/id_rsa' 2>/dev/null; true",
        extra.display(),
        fixture.home.display()
    );
    let output = fixture.run("workspace", &[], &script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains(&secret("aws")), "allow_read: {stdout}");
    for hidden in ["extra", "project", "ssh"] {
        assert!(
            !stdout.contains(&secret(hidden)),
            "{hidden} leaked: {stdout}"
        );
    }
    // Another profile's table does not apply: .aws is hidden there, and
    // what the workspace table added is not.
    let output = fixture.run("offline", &[], &script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for (name, shown) in [
        ("extra", true),
        ("project", true),
        ("aws", false),
        ("ssh", false),
    ] {
        assert_eq!(
            stdout.contains(&secret(name)),
            shown,
            "offline {name}: {stdout}"
        );
    }
    // explain names each entry and where it was written.
    let explain = common::codex_policy(
        &fixture.home,
        &[("CODEX_HOME", fixture.codex_home.to_str().unwrap())],
        &["--profile", "workspace", "explain"],
    );
    assert_eq!(explain.status, 0, "{}", explain.stderr);
    let text = explain.stdout;
    assert!(
        text.contains("project-secrets") && text.contains("filesystem.deny_read[0]"),
        "{text}"
    );
    assert!(
        text.contains("shown:") && text.contains("filesystem.allow_read[0]"),
        "{text}"
    );
}

#[test]
fn absent_stores_and_an_empty_home_are_fine() {
    if let Some(reason) = skip_reason() {
        return skip("absent_stores_and_an_empty_home_are_fine", &reason);
    }
    let fixture = Fixture::new();
    let output = fixture.run("workspace", &[], "echo ran");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ran");
}

#[test]
fn a_store_created_after_the_session_was_built_is_hidden_from_the_next_command() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_store_created_after_the_session_was_built_is_hidden_from_the_next_command",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let env = common::session::environment(&fixture);
    let session = codex_policy::Session::builder()
        .profile("workspace".parse().unwrap())
        .cwd(&fixture.workspace)
        .environment(env)
        .rules(codex_policy::ExecRules::None)
        .build()
        .unwrap();
    let key = fixture.home.join(".ssh/id_ed25519");
    plant(&key, &secret("late"));
    let output = session
        .command(["cat", &key.display().to_string()])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&output.stdout).contains("SECRET"));
}

#[test]
fn bad_entries_are_located_errors_and_nothing_runs() {
    // `offline`: nothing is writable, so the file may loosen and each entry
    // reaches its own check (under a profile that writes the temp dir, the
    // file would be refused as command-writable first).
    // Outside the shared temp dirs: a config.toml there is judged
    // command-writable whatever the profile, and refused before its entries.
    let Some(base) = common::escape::fixture_base() else {
        return skip(
            "bad_entries_are_located_errors_and_nothing_runs",
            "no directory outside /tmp for fixtures",
        );
    };
    let dir = tempfile::tempdir_in(base).unwrap();
    let home = dir.path().join("home");
    let codex_home = home.join(".codex");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&codex_home).unwrap();
    let marker = dir.path().join("ran");
    let cases: [(&str, &str, &str); 9] = [
        ("deny_read = [\"secrets\"]", "deny_read[0]", "relative"),
        ("deny_read = [\"~/.ssh/*\"]", "deny_read[0]", "glob"),
        ("deny_read = [\"/\"]", "deny_read[0]", "whole file system"),
        (
            "deny_read = [\"~bob/.ssh\"]",
            "deny_read[0]",
            "another user",
        ),
        ("allow_read = [\"~/.sshh\"]", "allow_read", "not hidden"),
        (
            "allow_read = [\"~/.ssh/known_hosts\"]",
            "allow_read",
            "inside the hidden",
        ),
        ("deny_read = \"~/.ssh\"", "deny_read", "invalid type"),
        (
            "allow_read = [\"~/.codex/elevations\"]",
            "allow_read",
            "always hidden",
        ),
        // A whole home would show the harness's own files too.
        ("allow_read = [\"~\"]", "allow_read", "always hidden"),
    ];
    for (line, key, why) in cases {
        let config = codex_home.join("config.toml");
        std::fs::write(
            &config,
            format!("# test\n[permissions.offline.filesystem]\n{line}\n"),
        )
        .unwrap();
        let run = common::codex_policy(
            &home,
            &[("CODEX_HOME", codex_home.to_str().unwrap())],
            &[
                "--profile",
                "offline",
                "run",
                "--cwd",
                dir.path().to_str().unwrap(),
                "--",
                "touch",
                marker.to_str().unwrap(),
            ],
        );
        assert_eq!(run.status, 125, "{line}: {}", run.stderr);
        assert!(
            run.stderr.contains("config.toml:3:"),
            "{line}: no location: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains(key),
            "{line}: no key {key}: {}",
            run.stderr
        );
        assert!(
            run.stderr.to_lowercase().contains(why),
            "{line}: no {why:?}: {}",
            run.stderr
        );
        assert!(!marker.exists(), "{line}: the command ran");
    }
}

#[test]
fn the_working_directory_inside_a_hidden_store_is_refused() {
    if let Some(reason) = skip_reason() {
        return skip(
            "the_working_directory_inside_a_hidden_store_is_refused",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let inside = fixture.home.join(".aws/project");
    std::fs::create_dir_all(&inside).unwrap();
    let output = fixture.run(
        "workspace",
        &["--cwd", inside.to_str().unwrap()],
        "echo ran",
    );
    assert_eq!(output.status.code(), Some(125));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(".aws"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("ran"));
    // A store name that is a link to the workspace (what an earlier command
    // with the home writable could plant): refused, and the link is named.
    std::os::unix::fs::symlink(&fixture.workspace, fixture.home.join(".azure")).unwrap();
    let output = fixture.run("workspace", &[], "echo ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains(".azure") && stderr.contains("may have planted it"),
        "{stderr}"
    );
}

#[test]
fn hidden_as_an_unprivileged_user_too() {
    if let Some(reason) = skip_reason() {
        return skip("hidden_as_an_unprivileged_user_too", &reason);
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        // The suite itself runs unprivileged: every other test is this case.
        return;
    }
    let fixture = Fixture::new();
    plant(&fixture.home.join(".ssh/id_ed25519"), &secret("key"));
    common::probe::give_to_nobody(fixture.home.parent().unwrap());
    let script = format!(
        "cat '{}/.ssh/id_ed25519'; echo done",
        fixture.home.display()
    );
    let run = fixture.command("workspace", &[], &["sh", "-c", &script]);
    let Some(mut as_nobody) = common::probe::as_nobody(&run) else {
        return skip(
            "hidden_as_an_unprivileged_user_too",
            "setpriv is not installed",
        );
    };
    let output = as_nobody.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("done"),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("SECRET"), "leaked as nobody: {stdout}");
    // And nobody reads it outside the sandbox: the test is not vacuous.
    let mut outside = std::process::Command::new("cat");
    outside.arg(fixture.home.join(".ssh/id_ed25519"));
    let outside = common::probe::as_nobody(&outside)
        .unwrap()
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&outside.stdout).contains("SECRET"));
}

#[test]
fn every_profile_runs_with_hidden_paths_listed_in_debug_output() {
    if let Some(reason) = skip_reason() {
        return skip(
            "every_profile_runs_with_hidden_paths_listed_in_debug_output",
            &reason,
        );
    }
    let fixture = Fixture::new();
    plant(&fixture.home.join(".kube/config"), "k");
    let output = fixture
        .invoke("workspace", &["debug", "landlock"], &[], &["true"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "hidden (empty, read-only) {}",
            fixture.home.join(".kube").display()
        )),
        "{stderr}"
    );
}

#[test]
fn stores_named_by_relative_or_tilde_variables_are_hidden() {
    if let Some(reason) = skip_reason() {
        return skip(
            "stores_named_by_relative_or_tilde_variables_are_hidden",
            &reason,
        );
    }
    let fixture = Fixture::new();
    plant(&fixture.workspace.join("kubecfg"), &secret("kube"));
    plant(&fixture.home.join("awscreds"), &secret("aws"));
    plant(&fixture.home.join("gpg/key"), &secret("gpg"));
    let output = fixture
        .command(
            "workspace",
            &[],
            &[
                "sh",
                "-c",
                "cat kubecfg ~/awscreds ~/gpg/key 2>/dev/null; true",
            ],
        )
        .env("KUBECONFIG", "kubecfg")
        .env("AWS_SHARED_CREDENTIALS_FILE", "~/awscreds")
        .env("GNUPGHOME", "~/gpg")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("SECRET"), "leaked: {stdout}");
}

#[test]
fn earlier_audit_history_is_hidden_when_this_run_does_not_log() {
    if let Some(reason) = skip_reason() {
        return skip(
            "earlier_audit_history_is_hidden_when_this_run_does_not_log",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let log = fixture.codex_home.join("audit/audit.jsonl");
    plant(&log, &format!("{}\n", secret("history")));
    let output = fixture.run(
        "workspace",
        &["--no-audit"],
        &format!("cat '{}' 2>/dev/null; true", log.display()),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!String::from_utf8_lossy(&output.stdout).contains("SECRET"));
}

#[test]
fn a_second_name_of_a_file_in_a_hidden_store_is_warned_about() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_second_name_of_a_file_in_a_hidden_store_is_warned_about",
            &reason,
        );
    }
    let fixture = Fixture::new();
    // What a command could have planted while `~/.aws` did not exist: the
    // store's file as a second name of one in the workspace.
    let decoy = fixture.workspace.join("notes.txt");
    plant(&decoy, "");
    std::fs::create_dir_all(fixture.home.join(".aws")).unwrap();
    std::fs::hard_link(&decoy, fixture.home.join(".aws/credentials")).unwrap();
    let output = fixture.run("workspace", &[], "true");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warning = format!(
        "another name of {} exists elsewhere",
        fixture.home.join(".aws/credentials").display()
    );
    assert_eq!(stderr.matches(&warning).count(), 1, "{stderr}");
}

#[test]
fn a_config_in_a_shared_temp_dir_may_not_loosen_even_if_it_excludes_tmp() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_config_in_a_shared_temp_dir_may_not_loosen_even_if_it_excludes_tmp",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let planted = tempfile::Builder::new()
        .prefix("planted-config-")
        .suffix(".toml")
        .tempfile_in("/tmp")
        .unwrap();
    std::fs::write(
        planted.path(),
        "[sandbox_workspace_write]\nexclude_slash_tmp = true\n\
         [permissions.workspace.filesystem]\nallow_read = [\"~/.ssh\"]\n",
    )
    .unwrap();
    plant(&fixture.home.join(".ssh/id_rsa"), &secret("ssh"));
    for profile in ["workspace", "offline"] {
        let output = fixture
            .command(
                profile,
                &["--config", planted.path().to_str().unwrap()],
                &["cat", fixture.home.join(".ssh/id_rsa").to_str().unwrap()],
            )
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(125), "{profile}: {stderr}");
        assert!(stderr.contains("CP0024"), "{profile}: {stderr}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("SECRET"));
    }
}

#[test]
fn a_codex_profile_file_may_not_choose_a_profile_that_reads_more() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_codex_profile_file_may_not_choose_a_profile_that_reads_more",
            &reason,
        );
    }
    let fixture = Fixture::new();
    plant(&fixture.home.join(".aws/credentials"), &secret("aws"));
    let keys = fixture.home.parent().unwrap().join("srvkeys");
    plant(&keys.join("k"), &secret("keys"));
    std::fs::write(
        fixture.codex_home.join("config.toml"),
        format!(
            "profile = \"workspace\"\n\
             [permissions.workspace.filesystem]\ndeny_read = [\"{}\"]\n\
             [profiles.deploy]\nextends = \"workspace\"\n\
             [permissions.deploy.filesystem]\nallow_read = [\"~/.aws\"]\ndeny_read = [\"{}\"]\n\
             [profiles.dev]\nextends = \"workspace\"\n\
             [permissions.dev.filesystem]\ndeny_read = []\n",
            keys.display(),
            keys.display()
        ),
    )
    .unwrap();
    // What an earlier command of the workspace could have written.
    for (name, why) in [
        ("deploy", "allow_read shows ~/.aws"),
        ("dev", "does not hide"),
    ] {
        std::fs::write(
            fixture.workspace.join(".codex-profile"),
            format!("{name}\n"),
        )
        .unwrap();
        // Without --profile: the file is what chooses.
        let mut run = std::process::Command::new(common::codex_policy_bin());
        run.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("HOME", &fixture.home)
            .env("CODEX_HOME", &fixture.codex_home)
            .args(["run", "--cwd"])
            .arg(&fixture.workspace)
            .args(["--", "sh", "-c"])
            .arg(format!(
                "cat ~/.aws/credentials '{}/k'; true",
                keys.display()
            ));
        let output = run.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(125), "{name}: {stderr}");
        assert!(stderr.contains(why), "{name}: {stderr}");
        assert!(!String::from_utf8_lossy(&output.stdout).contains("SECRET"));
    }
}

#[test]
fn a_store_linked_from_inside_the_workspace_must_be_named_itself() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_store_linked_from_inside_the_workspace_must_be_named_itself",
            &reason,
        );
    }
    let fixture = Fixture::new();
    // A dotfiles layout: ~/.ssh -> dotfiles/ssh.
    let real = fixture.home.join("dotfiles/ssh");
    plant(&real.join("id_ed25519"), &secret("key"));
    std::os::unix::fs::symlink("dotfiles/ssh", fixture.home.join(".ssh")).unwrap();
    let home = fixture.home.to_str().unwrap().to_owned();
    let script = "cat dotfiles/ssh/id_ed25519 2>/dev/null; echo ran";
    // With the home writable, a command could re-point the link and a later
    // run would leave dotfiles/ssh readable: refused.
    let output = fixture.run("workspace", &["--cwd", &home], script);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("a link inside a writable root"), "{stderr}");
    // Named itself, the target stays hidden whatever the link says later.
    std::fs::write(
        fixture.codex_home.join("config.toml"),
        "[permissions.workspace.filesystem]\ndeny_read = [\"~/dotfiles/ssh\"]\n",
    )
    .unwrap();
    let output = fixture.run("workspace", &["--cwd", &home], script);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ran"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("SECRET"), "{stdout}");
    // From a workspace that does not hold the link: hidden at its target.
    std::fs::remove_file(fixture.codex_home.join("config.toml")).unwrap();
    let output = fixture.run(
        "workspace",
        &[],
        &format!("cat '{}/id_ed25519'; echo ran", real.display()),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ran") && !stdout.contains("SECRET"),
        "{stdout}"
    );
}

#[test]
fn a_link_out_of_a_store_has_its_target_hidden_too() {
    if let Some(reason) = skip_reason() {
        return skip("a_link_out_of_a_store_has_its_target_hidden_too", &reason);
    }
    let fixture = Fixture::new();
    // What a command could have planted while ~/.aws did not exist; the
    // user's tools then wrote the credentials through the link.
    std::fs::create_dir_all(fixture.home.join(".aws")).unwrap();
    std::os::unix::fs::symlink("../leak", fixture.home.join(".aws/credentials")).unwrap();
    plant(&fixture.home.join("leak"), &secret("aws"));
    let output = fixture.run(
        "offline",
        &[],
        &format!("cat '{}/leak'; echo ran", fixture.home.display()),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stdout.contains("ran"), "{stderr}");
    assert!(!stdout.contains("SECRET"), "{stdout}");
    assert!(
        stderr.contains("is a link out of a hidden directory"),
        "{stderr}"
    );
}

#[test]
fn links_out_of_a_store_are_followed_link_after_link() {
    if let Some(reason) = skip_reason() {
        return skip("links_out_of_a_store_are_followed_link_after_link", &reason);
    }
    let fixture = Fixture::new();
    let home = &fixture.home;
    // ~/.aws/sso -> ~/x1, ~/x1/cache -> ~/x2: what `aws sso login` writes
    // into ~/.aws/sso/cache lands in ~/x2.
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    std::fs::create_dir_all(home.join("x1")).unwrap();
    std::os::unix::fs::symlink(home.join("x1"), home.join(".aws/sso")).unwrap();
    std::os::unix::fs::symlink(home.join("x2"), home.join("x1/cache")).unwrap();
    plant(&home.join("x2/tok.json"), &secret("sso"));
    let output = fixture.run(
        "offline",
        &[],
        &format!("cat '{}/x2/tok.json'; echo ran", home.display()),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("ran"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!stdout.contains("SECRET"), "{stdout}");
}

#[test]
fn a_link_out_of_a_store_through_a_re_pointable_link_is_refused() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_link_out_of_a_store_through_a_re_pointable_link_is_refused",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let home = &fixture.home;
    // ~/.azure/cache -> ~/z1link -> ~/z1, with the home writable: the
    // command could re-point ~/z1link while the host writes the cache.
    std::fs::create_dir_all(home.join(".azure")).unwrap();
    std::fs::create_dir_all(home.join("z1")).unwrap();
    std::os::unix::fs::symlink(home.join("z1"), home.join("z1link")).unwrap();
    std::os::unix::fs::symlink(home.join("z1link"), home.join(".azure/cache")).unwrap();
    let output = fixture.run("workspace", &["--cwd", home.to_str().unwrap()], "echo ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("z1link"), "{stderr}");
}

#[test]
fn a_store_that_cannot_be_looked_at_is_refused() {
    if let Some(reason) = skip_reason() {
        return skip("a_store_that_cannot_be_looked_at_is_refused", &reason);
    }
    let fixture = Fixture::new();
    // A loop of links on the way: whether the store exists cannot be told
    // (a command could do the same with chmod 0 on a directory above it).
    std::os::unix::fs::symlink(fixture.home.join("loop"), fixture.home.join("loop")).unwrap();
    std::fs::write(
        fixture.codex_home.join("config.toml"),
        "[permissions.offline.filesystem]\ndeny_read = [\"~/loop/keys\"]\n",
    )
    .unwrap();
    let output = fixture.run("offline", &[], "echo ran");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("cannot be looked at"), "{stderr}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("ran"));
}
