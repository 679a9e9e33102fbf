//! Escape suite, capabilities: the command holds none — effective, permitted,
//! inheritable, ambient, bounding — as root and as an unprivileged user, and
//! handle-based opens (`open_by_handle_at`), which reach an inode beneath the
//! read-only binds, are refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::escape::{Fixture, Outcome, Table, skip, skip_reason};
use common::probe::{self, Verdict};

#[test]
fn probe_entry() {
    probe::entry();
}

fn observed(output: &std::process::Output) -> Outcome {
    match Verdict::of(output) {
        Verdict::Allowed => Outcome::Allowed,
        _ => Outcome::Refused,
    }
}

#[test]
fn no_capabilities_and_no_handle_opens_as_root_and_unprivileged() {
    if let Some(reason) = skip_reason() {
        return skip("escape_capabilities", &reason);
    }
    let mut table = Table::new("capabilities");
    for as_nobody in [false, true] {
        let fixture = Fixture::new();
        if as_nobody {
            probe::give_to_nobody(fixture.workspace.parent().unwrap());
        }
        let who = if as_nobody { "nobody" } else { "root" };
        for profile in ["offline", "workspace", "workspace-net", "trusted"] {
            let git = fixture.workspace.join(".git").display().to_string();
            for (attack, argument) in [("capabilities", ""), ("handle-open", git.as_str())] {
                let Some(output) = probe::attack(&fixture, profile, attack, argument, as_nobody)
                else {
                    return skip("escape_capabilities (unprivileged)", "setpriv not found");
                };
                assert_ne!(
                    Verdict::of(&output),
                    Verdict::NoReport,
                    "{who} {profile} {attack}: {}",
                    String::from_utf8_lossy(&output.stderr)
                );
                // Root outside the sandbox (trusted) holds capabilities; an
                // unprivileged user never does, and cannot open by handle.
                let expected = Outcome::allowed_if(profile == "trusted" && !as_nobody);
                table.record(
                    profile,
                    &format!("{attack} as {who}"),
                    expected,
                    observed(&output),
                    &output,
                );
            }
        }
    }
    table.finish();
}
