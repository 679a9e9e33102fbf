//! The three checks of "Testing Security Profiles": under `offline`,
//! curl is blocked, a write to /etc is blocked, and a shell cannot escape (here:
//! a reverse shell to a listener on the host's loopback).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::TcpListener;

use common::escape::{Fixture, Outcome, Table, skip, skip_reason};

#[test]
fn security_profile_escape_checks() {
    if let Some(reason) = skip_reason() {
        return skip("security_profile_escape_checks", &reason);
    }
    let fixture = Fixture::new();
    let mut table = Table::new("security profile checks (offline)");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();

    let output = fixture.run(
        "offline",
        &[],
        &format!(
            "if command -v curl >/dev/null; then curl -s --max-time 1 http://127.0.0.1:{port}/; \
             else exec bash -c 'echo GET > /dev/tcp/127.0.0.1/{port}'; fi"
        ),
    );
    table.record(
        "offline",
        "blocks network (curl)",
        Outcome::Refused,
        Outcome::allowed_if(listener.accept().is_ok()),
        &output,
    );

    let target = format!("/etc/codex-policy-profile-check-{}", std::process::id());
    let output = fixture.run("offline", &[], &format!("echo pwned > {target}"));
    let written = std::path::Path::new(&target).exists();
    let _ = std::fs::remove_file(&target);
    table.record(
        "offline",
        "blocks unauthorized write to /etc",
        Outcome::Refused,
        Outcome::allowed_if(written),
        &output,
    );

    let output = fixture.run(
        "offline",
        &[],
        &format!("exec bash -c 'bash -i >& /dev/tcp/127.0.0.1/{port} 0>&1'"),
    );
    table.record(
        "offline",
        "blocks shell escape (bash reverse shell)",
        Outcome::Refused,
        Outcome::allowed_if(listener.accept().is_ok()),
        &output,
    );
    table.finish();
}
