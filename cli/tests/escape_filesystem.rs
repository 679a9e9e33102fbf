//! Escape suite, file system: for every profile, writes that must be allowed
//! and writes that must be refused — outside the roots, `.git`, `.codex`, and
//! symlink or hard-link tricks. The host's file system decides what happened.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::escape::{Fixture, Outcome, PROFILES, Table, skip, skip_reason};

/// An attempt: a shell script run in the workspace, and a check of the host
/// afterwards that says whether the escape happened.
struct Attempt {
    name: &'static str,
    script: String,
    happened: Box<dyn Fn(&Fixture) -> bool>,
    /// Profiles in which the attempt is legitimate and must succeed.
    allowed_in: &'static [&'static str],
}

const WRITERS: &[&str] = &["workspace", "workspace-net", "trusted"];
const ONLY_TRUSTED: &[&str] = &["trusted"];

fn attempts(id: &str) -> Vec<Attempt> {
    let etc_file = PathBuf::from(format!("/etc/codex-policy-escape-{id}"));
    let tmp_file = PathBuf::from(format!("/tmp/codex-policy-escape-{id}"));
    let victim_changed = || -> Box<dyn Fn(&Fixture) -> bool> {
        Box::new(|f| f.read(&f.home.join("victim")).as_deref() != Some("original\n"))
    };
    vec![
        Attempt {
            name: "write /etc",
            script: format!("echo pwned > {}", etc_file.display()),
            happened: Box::new(move |_| etc_file.exists()),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "write $HOME outside the roots",
            script: "echo pwned > \"$HOME/victim\"".into(),
            happened: victim_changed(),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "create a directory in $HOME",
            script: "mkdir \"$HOME/planted\"".into(),
            happened: Box::new(|f| f.home.join("planted").exists()),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "remove a file outside the roots",
            script: "rm -f \"$HOME/victim\"".into(),
            happened: Box::new(|f| !f.home.join("victim").exists()),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "truncate a file outside the roots",
            script: "truncate -s 0 \"$HOME/victim\"".into(),
            happened: victim_changed(),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "write inside cwd",
            script: "echo ok > inside.txt".into(),
            happened: Box::new(|f| f.workspace.join("inside.txt").exists()),
            allowed_in: WRITERS,
        },
        Attempt {
            name: "write /tmp",
            script: format!("echo ok > {}", tmp_file.display()),
            happened: Box::new(move |_| {
                let there = tmp_file.exists();
                let _ = std::fs::remove_file(&tmp_file);
                there
            }),
            allowed_in: WRITERS,
        },
        Attempt {
            name: "append to .git/config",
            script: "echo pwned >> .git/config".into(),
            happened: Box::new(|f| {
                f.read(&f.workspace.join(".git/config"))
                    .unwrap_or_default()
                    .contains("pwned")
            }),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "plant .git/hooks/pre-commit",
            script: "printf '#!/bin/sh\\necho pwned\\n' > .git/hooks/pre-commit".into(),
            happened: Box::new(|f| f.workspace.join(".git/hooks/pre-commit").exists()),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "rename .git away",
            script: "mv .git .git-moved".into(),
            happened: Box::new(|f| f.workspace.join(".git-moved").exists()),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "replace .git with a symlink",
            script: "rm -rf .git; ln -s /tmp .git".into(),
            happened: Box::new(|f| f.workspace.join(".git").is_symlink()),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "move the workspace aside",
            script: "cd .. && mv workspace workspace-moved".into(),
            happened: Box::new(|f| f.workspace.with_file_name("workspace-moved").exists()),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "write .codex/config.toml",
            script: "echo 'sandbox_mode = \"danger-full-access\"' >> .codex/config.toml".into(),
            happened: Box::new(|f| {
                f.read(&f.workspace.join(".codex/config.toml"))
                    .unwrap_or_default()
                    .contains("danger")
            }),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "write through a symlink pointing outside",
            script: "echo pwned > link-out".into(),
            happened: victim_changed(),
            allowed_in: ONLY_TRUSTED,
        },
        Attempt {
            name: "hard-link an outside file, then write",
            script: "ln \"$HOME/victim\" hardlink && echo pwned >> hardlink".into(),
            happened: victim_changed(),
            allowed_in: ONLY_TRUSTED,
        },
    ]
}

#[test]
fn file_system_escapes() {
    if let Some(reason) = skip_reason() {
        return skip("file_system_escapes", &reason);
    }
    let id = std::process::id().to_string();
    let mut table = Table::new("file system");
    for profile in PROFILES {
        for attempt in attempts(&id) {
            let fixture = Fixture::new();
            let output = fixture.run(profile, &[], &attempt.script);
            let observed = Outcome::allowed_if((attempt.happened)(&fixture));
            let expected = Outcome::allowed_if(attempt.allowed_in.contains(&profile));
            table.record(profile, attempt.name, expected, observed, &output);
        }
    }
    let _ = std::fs::remove_file(format!("/etc/codex-policy-escape-{id}"));
    table.finish();
}
