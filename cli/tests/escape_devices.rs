//! Escape suite, devices: the command sees only the devices an ordinary
//! program needs — null, zero, full, random, urandom, tty, its own pty pairs
//! and its own `/dev/shm` — so a host block or loop device (a read-only open
//! is all `LOOP_SET_FD` needed) cannot be reached; and where no private `/dev`
//! can be built, Landlock refuses device ioctls. As root and unprivileged.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::escape::{Fixture, Outcome, Table, skip, skip_reason};
use common::probe::{self, Verdict};

#[test]
fn probe_entry() {
    probe::entry();
}

/// Devices of the host that must not be reachable, those this host has.
fn host_devices() -> Vec<String> {
    let mut found: Vec<String> = std::fs::read_dir("/dev")
        .unwrap()
        .flatten()
        .map(|e| e.path().display().to_string())
        .filter(|p| {
            [
                "/dev/loop",
                "/dev/vd",
                "/dev/sd",
                "/dev/nvme",
                "/dev/kmsg",
                "/dev/mem",
                "/dev/kvm",
                "/dev/fuse",
            ]
            .iter()
            .any(|prefix| p.starts_with(prefix))
        })
        .collect();
    found.sort();
    found.truncate(6);
    found
}

#[test]
fn only_ordinary_devices_are_reachable() {
    if let Some(reason) = skip_reason() {
        return skip("escape_devices", &reason);
    }
    let devices = host_devices();
    if devices.is_empty() {
        return skip(
            "escape_devices",
            "this host has no loop, block or kernel devices to try",
        );
    }
    let mut table = Table::new("devices");
    for nobody in [false, true] {
        let who = if nobody { "nobody" } else { "root" };
        let fixture = Fixture::new();
        if nobody {
            probe::give_to_nobody(fixture.workspace.parent().unwrap());
        }
        for profile in ["offline", "workspace", "trusted"] {
            let attempts = devices
                .iter()
                .map(|d| ("device", d.as_str()))
                .chain([("device", "/dev/null")]);
            for (attack, device) in attempts {
                let Some(output) = probe::attack(&fixture, profile, attack, device, nobody) else {
                    return skip("escape_devices (unprivileged)", "setpriv not found");
                };
                let verdict = Verdict::of(&output);
                assert_ne!(verdict, Verdict::NoReport, "{who} {profile} {device}");
                // Outside a sandbox only root can open these (they are 0660);
                // /dev/null is open to everyone everywhere.
                let expected = device == "/dev/null" || (profile == "trusted" && !nobody);
                table.record(
                    profile,
                    &format!("open {device} as {who}"),
                    Outcome::allowed_if(expected),
                    Outcome::allowed_if(verdict == Verdict::Allowed),
                    &output,
                );
            }
        }
    }
    table.finish();
}

/// The sandbox's `/dev` lists only what it should, and its pty pairs and
/// `/dev/shm` work.
#[test]
fn the_private_dev_is_usable_and_minimal() {
    if let Some(reason) = skip_reason() {
        return skip("the_private_dev", &reason);
    }
    let fixture = Fixture::new();
    let output = fixture.run(
        "workspace",
        &[],
        "ls -A /dev | tr '\\n' ' '; echo; echo shm > /dev/shm/x && cat /dev/shm/x; \
         test -c /dev/pts/ptmx && echo ptmx",
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut lines = stdout.lines();
    let mut listed: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    listed.sort_unstable();
    let allowed = [
        "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin", "stdout", "tty",
        "urandom", "zero",
    ];
    assert!(
        listed.iter().all(|d| allowed.contains(d)),
        "unexpected devices in the sandbox: {listed:?}"
    );
    assert_eq!(lines.next(), Some("shm"), "{stdout}");
    assert_eq!(lines.next(), Some("ptmx"), "{stdout}");
}
