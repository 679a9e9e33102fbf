//! Escape suite, file modes: Landlock confines writes, not metadata, so the
//! broker decides `chmod`, `fchmod`, `fchmodat` and `fchmodat2` — a mode
//! changes only where the sandbox may write, and only on the caller's own
//! files — and extended-attribute writes (a POSIX ACL rewrites the mode) are
//! refused. A root command could otherwise `chmod 4755` a binary of the host or
//! open `/etc` to everyone. As root and as an unprivileged user.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::escape::{Fixture, Outcome, Table, skip, skip_reason};
use common::probe::{self, Verdict};

#[test]
fn probe_entry() {
    probe::entry();
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn modes_change_only_inside_the_writable_roots() {
    if let Some(reason) = skip_reason() {
        return skip("escape_metadata", &reason);
    }
    let mut table = Table::new("file modes");
    for nobody in [false, true] {
        let who = if nobody { "nobody" } else { "root" };
        for profile in ["offline", "workspace", "trusted"] {
            let fixture = Fixture::new();
            let binary = fixture.home.join("tool");
            std::fs::write(&binary, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
            let inside = fixture.workspace.join("script.sh");
            std::fs::write(&inside, "#!/bin/sh\n").unwrap();
            std::fs::set_permissions(&inside, std::fs::Permissions::from_mode(0o644)).unwrap();
            if nobody {
                probe::give_to_nobody(fixture.workspace.parent().unwrap());
            }
            let with_user = |mut run: std::process::Command| {
                if nobody {
                    run = probe::as_nobody(&run).expect("setpriv");
                }
                run.output().unwrap()
            };
            let b = binary.display().to_string();
            let h = fixture.home.display().to_string();
            // chmod(1) uses fchmodat; the probe fchmod.
            /// What it tries, the script, whether the mode changed.
            type Attempt<'a> = (&'a str, String, Box<dyn Fn() -> bool + 'a>);
            let config = fixture.workspace.join(".git/config");
            let c = config.display().to_string();
            let setuid = fixture.workspace.join("setuid-copy");
            let shell: [Attempt<'_>; 7] = [
                (
                    "chmod 4755 a binary outside",
                    format!("chmod 4755 {b}"),
                    Box::new(|| mode(&binary) != 0o755),
                ),
                (
                    "chmod 777 a directory outside",
                    format!("chmod 777 {h}"),
                    Box::new(|| mode(&fixture.home) & 0o002 != 0),
                ),
                (
                    "chmod 000 .git (protected)",
                    "chmod 000 .git".into(),
                    Box::new(|| mode(&fixture.workspace.join(".git")) == 0),
                ),
                (
                    "chmod .git/config via an absolute link",
                    format!("ln -s {c} l && chmod 666 l"),
                    Box::new(|| mode(&config) == 0o666),
                ),
                (
                    "chmod 4755 a copy in the workspace",
                    "cp /bin/true setuid-copy && chmod 4755 setuid-copy".into(),
                    Box::new(|| setuid.exists() && mode(&setuid) & 0o4000 != 0),
                ),
                (
                    "chmod the writable root itself",
                    "chmod 777 .".into(),
                    Box::new(|| mode(&fixture.workspace) & 0o002 != 0),
                ),
                (
                    "control: chmod +x a workspace file",
                    "chmod +x script.sh".into(),
                    Box::new(|| mode(&inside) & 0o100 != 0),
                ),
            ];
            for (label, script, changed) in &shell {
                let output = with_user(fixture.command(profile, &[], &["sh", "-c", script]));
                // Unsandboxed, nobody cannot reach the fixture by its absolute
                // path (a parent of the target directory is private): that row
                // shows the attack only as root.
                let unreachable = nobody && label.contains("absolute link");
                let expected = (profile == "trusted" && !unreachable)
                    || (label.starts_with("control") && profile != "offline");
                table.record(
                    profile,
                    &format!("{label} as {who}"),
                    Outcome::allowed_if(expected),
                    Outcome::allowed_if(changed()),
                    &output,
                );
            }
            std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
            let acl = probe::attack(&fixture, profile, "posix-acl", &b, nobody).expect("setpriv");
            table.record(
                profile,
                &format!("ACL u::rwx,g::rwx,o::rwx on a binary outside as {who}"),
                Outcome::allowed_if(profile == "trusted"),
                Outcome::allowed_if(mode(&binary) != 0o755),
                &acl,
            );
            std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o755)).unwrap();
            let output =
                probe::attack(&fixture, profile, "fchmod-setuid", &b, nobody).expect("setpriv");
            assert_ne!(Verdict::of(&output), Verdict::NoReport, "{output:?}");
            table.record(
                profile,
                &format!("fchmod 4777 a binary outside as {who}"),
                Outcome::allowed_if(profile == "trusted"),
                Outcome::allowed_if(mode(&binary) != 0o755),
                &output,
            );
        }
    }
    table.finish();
}
