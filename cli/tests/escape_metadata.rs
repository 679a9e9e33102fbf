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
            let shell: [Attempt<'_>; 9] = [
                (
                    "chmod 777 a binary outside",
                    format!("chmod 777 {b}"),
                    Box::new(|| mode(&binary) & 0o777 == 0o777),
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
                    "chown a set-uid binary outside to its owner",
                    // The binary is made set-uid below; chown would strip it.
                    format!("chown $(id -u):$(id -g) {b}"),
                    Box::new(|| mode(&binary) & 0o4000 == 0),
                ),
                (
                    "chgrp a directory outside",
                    format!("chgrp $(id -g) {h}"),
                    Box::new(|| {
                        use std::os::unix::fs::MetadataExt;
                        std::fs::metadata(&fixture.home).unwrap().gid() != 4242
                    }),
                ),
                (
                    "control: chmod +x a workspace file",
                    "chmod +x script.sh".into(),
                    Box::new(|| mode(&inside) & 0o100 != 0),
                ),
            ];
            // Set-uid (so chown would strip it) and an odd group (so chgrp shows).
            std::fs::set_permissions(&binary, std::fs::Permissions::from_mode(0o4755)).unwrap();
            let c_home = std::ffi::CString::new(fixture.home.to_str().unwrap()).unwrap();
            // SAFETY: chown of a NUL-terminated path of ours.
            unsafe { libc::chown(c_home.as_ptr(), u32::MAX, 4242) };
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

/// A set-uid root binary already inside a writable root: a shared writable
/// mapping would change its code and keep the bit (unlike `write(2)`), so
/// when codex-policy runs as root such files are bound read-only.
#[test]
fn a_set_uid_file_inside_a_root_cannot_be_rewritten_through_a_mapping() {
    if let Some(reason) = skip_reason() {
        return skip("a_set_uid_file_inside_a_root", &reason);
    }
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip(
            "a_set_uid_file_inside_a_root",
            "needs root: only root-owned set-uid files give anything away",
        );
    }
    let mut table = Table::new("set-uid file inside a writable root");
    for profile in ["workspace", "trusted"] {
        let fixture = Fixture::new();
        let helper = fixture.workspace.join("helper");
        std::fs::copy("/bin/true", &helper).unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o4755)).unwrap();
        let before = std::fs::read(&helper).unwrap();
        let output = probe::attack(
            &fixture,
            profile,
            "mmap-write",
            helper.to_str().unwrap(),
            false,
        )
        .unwrap();
        let changed = std::fs::read(&helper).unwrap() != before && mode(&helper) & 0o4000 != 0;
        table.record(
            profile,
            "rewrite a set-uid root binary through mmap",
            Outcome::allowed_if(profile == "trusted"),
            Outcome::allowed_if(changed),
            &output,
        );
    }
    table.finish();
}

/// `file_setattr` (Linux 6.17) sets file flags by path, like the refused
/// `FS_IOC_FSSETXATTR`: refused inside the sandbox for a file outside.
#[test]
fn file_flags_outside_cannot_be_set_by_path() {
    if let Some(reason) = skip_reason() {
        return skip("file_flags_outside", &reason);
    }
    let mut table = Table::new("file flags by path");
    for profile in ["offline", "workspace"] {
        let fixture = Fixture::new();
        let target = fixture.home.join("flagged");
        std::fs::write(&target, "x").unwrap();
        let output = probe::attack(
            &fixture,
            profile,
            "file-setattr",
            target.to_str().unwrap(),
            false,
        )
        .unwrap();
        table.record(
            profile,
            "file_setattr NODUMP on a file outside",
            Outcome::Refused,
            Outcome::allowed_if(Verdict::of(&output) == Verdict::Allowed),
            &output,
        );
    }
    table.finish();
}
