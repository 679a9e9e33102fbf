//! The certificates a sandbox is given to trust (`LinuxSandbox::ca_bundle`):
//! a file of its own in its private `/dev`, read by the command, invisible
//! on the host and to a second sandbox, which has its own.

#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use codex_policy_model::SandboxPolicy;
use codex_sandbox_linux::{CA_BUNDLE_PATH, LinuxSandbox, PreparedSandbox};
use common::{bash, skip, text, unusable_host};

fn prepare(cwd: &Path, bundle: &[u8]) -> PreparedSandbox {
    let sandbox = LinuxSandbox::new().ca_bundle(bundle.to_vec());
    let plan = sandbox
        .plan(&SandboxPolicy::workspace_write(false), cwd, None)
        .unwrap();
    let prepared = sandbox.prepare(plan).unwrap();
    let rules = &prepared.report().rules;
    assert!(
        rules.iter().any(|r| r.contains(CA_BUNDLE_PATH)),
        "{rules:?}"
    );
    prepared
}

#[test]
fn the_command_reads_its_own_bundle_and_nothing_else_sees_it() {
    if let Some(reason) = unusable_host() {
        return skip("the_command_reads_its_own_bundle", &reason);
    }
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let cwd = dir.path().canonicalize().unwrap();
    // Larger than the private /dev's own 64 KiB: its size makes room.
    let mut first = b"-----BEGIN CERTIFICATE-----\nfirst\n".to_vec();
    first.resize(200 * 1024, b'a');
    let second = b"second bundle\n".to_vec();
    let a = prepare(&cwd, &first);
    let b = prepare(&cwd, &second);
    assert!(
        !Path::new(CA_BUNDLE_PATH).exists(),
        "the host has {CA_BUNDLE_PATH}"
    );
    let script = format!(
        "sha256sum < {CA_BUNDLE_PATH}; stat -c '%a %s' {CA_BUNDLE_PATH}; \
         echo tampered > {CA_BUNDLE_PATH} 2>/dev/null && echo WROTE || echo read-only"
    );
    let out_a = a
        .spawn(&mut bash(&script))
        .unwrap()
        .child
        .wait_with_output()
        .unwrap();
    let out_b = b
        .spawn(&mut bash(&script))
        .unwrap()
        .child
        .wait_with_output()
        .unwrap();
    let sha = |bytes: &[u8]| {
        let out = std::process::Command::new("sha256sum")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(bytes)?;
                child.wait_with_output()
            })
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let (said_a, said_b) = (
        String::from_utf8_lossy(&out_a.stdout).into_owned(),
        String::from_utf8_lossy(&out_b.stdout).into_owned(),
    );
    assert!(out_a.status.success(), "{}", text(&out_a));
    assert!(said_a.starts_with(&sha(&first)), "{}", text(&out_a));
    assert!(
        said_a.contains(&format!("444 {}", first.len())),
        "{}",
        text(&out_a)
    );
    assert!(said_a.contains("read-only"), "{}", text(&out_a));
    assert!(said_b.starts_with(&sha(&second)), "{}", text(&out_b));
}
