//! The launcher, which compiles and runs on every OS: what it hands to
//! `sandbox-exec`, what it refuses to start, the exit statuses of the
//! contract, the egress listeners and the trust bundle. The last test puts a
//! recording `sandbox-exec` at `/usr/bin/sandbox-exec` in a private mount
//! namespace (Linux, root) and starts real commands through it.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use codex_policy_model::{EgressPorts, SandboxPolicy};
use codex_sandbox_macos::{MacSandbox, MacSandboxError, SANDBOX_EXEC};

fn workspace() -> SandboxPolicy {
    SandboxPolicy::workspace_write(false)
}

#[test]
fn command_wraps_the_program_after_the_profile_and_its_parameters() {
    let project = tempfile::tempdir().expect("tempdir");
    let prepared = MacSandbox::new()
        .prepare(&workspace(), project.path(), None)
        .expect("prepare");
    let command = prepared.command(OsStr::new("-rf"), &["a b".into(), "--".into()]);
    assert_eq!(command.get_program(), SANDBOX_EXEC);
    let args: Vec<&OsStr> = command.get_args().collect();
    assert_eq!(args[0], "-p");
    let profile = prepared.profile().expect("a profile");
    assert_eq!(args[1], profile.text());
    let end = args.iter().position(|a| *a == "--").expect("--");
    assert_eq!(&args[end + 1..], ["-rf", "a b", "--"]);
    // Everything between the text and `--` is a -D NAME=VALUE pair.
    assert_eq!((end - 2) % 2, 0);
    assert!(args[2..end].chunks(2).all(|pair| pair[0] == "-D"));
}

#[test]
fn nothing_starts_without_sandbox_exec_or_outside_the_wrapper() {
    if Path::new(SANDBOX_EXEC).exists() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED nothing_starts_without_sandbox_exec: {SANDBOX_EXEC} exists here"
        );
        return;
    }
    let project = tempfile::tempdir().expect("tempdir");
    let marker = project.path().join("ran");
    let prepared = MacSandbox::new()
        .prepare(&workspace(), project.path(), None)
        .expect("prepare");
    let script = format!("touch {}", marker.display());
    let mut wrapped = prepared.command(OsStr::new("sh"), &["-c".into(), script.clone().into()]);
    let err = prepared
        .spawn(&mut wrapped)
        .expect_err("no sandbox-exec here");
    assert!(matches!(err, MacSandboxError::SandboxExecMissing), "{err}");
    assert_eq!(err.exit_status(), 125);
    assert!(err.lacks_protection());
    // A command not made by `command` would run bare: refused.
    let mut bare = Command::new("sh");
    bare.args(["-c", &script]);
    let err = prepared.spawn(&mut bare).expect_err("not wrapped");
    assert!(matches!(err, MacSandboxError::NotWrapped), "{err}");
    assert_eq!(err.exit_status(), 125);
    let err = prepared.supervise(&mut bare).expect_err("not wrapped");
    assert!(matches!(err, MacSandboxError::NotWrapped), "{err}");
    // sandbox-exec, but not with this profile: a file of the command's, or
    // another sandbox's profile.
    let mut own_file = Command::new(SANDBOX_EXEC);
    own_file.args(["-f", "/tmp/loose.sb", "--", "sh", "-c", &script]);
    let other = MacSandbox::new()
        .prepare(&SandboxPolicy::workspace_write(true), project.path(), None)
        .expect("prepare");
    let mut other_profile = other.command(OsStr::new("sh"), &["-c".into(), script.clone().into()]);
    for command in [&mut own_file, &mut other_profile] {
        let err = prepared.spawn(command).expect_err("not this profile");
        assert!(matches!(err, MacSandboxError::NotWrapped), "{err}");
    }
    assert!(!marker.exists(), "a refused command ran");
}

#[test]
fn full_access_runs_the_command_itself_and_says_so() {
    let project = tempfile::tempdir().expect("tempdir");
    let prepared = MacSandbox::new()
        .prepare(&SandboxPolicy::DangerFullAccess, project.path(), None)
        .expect("prepare");
    assert!(prepared.profile().is_none());
    assert!(prepared.report().rules.iter().any(|r| r == "no sandbox"));
    let mut command = prepared.command(OsStr::new("sh"), &["-c".into(), "pwd".into()]);
    command.stdout(Stdio::piped());
    let child = prepared.spawn(&mut command).expect("spawn");
    let output = child.child.wait_with_output().expect("wait");
    assert!(output.status.success());
    let cwd = std::fs::canonicalize(project.path()).expect("canonical");
    assert_eq!(
        std::fs::canonicalize(OsStr::from_bytes(output.stdout.trim_ascii_end())).expect("pwd"),
        cwd
    );
}

#[test]
fn a_missing_program_is_127_and_a_non_executable_one_126() {
    let project = tempfile::tempdir().expect("tempdir");
    let prepared = MacSandbox::new()
        .prepare(&SandboxPolicy::DangerFullAccess, project.path(), None)
        .expect("prepare");
    let mut missing = prepared.command(OsStr::new("codex-policy-no-such-program"), &[]);
    let err = prepared.spawn(&mut missing).expect_err("missing");
    assert_eq!(err.exit_status(), 127, "{err}");

    let plain = project.path().join("plain");
    std::fs::write(&plain, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    for program in [plain.as_os_str(), OsStr::new("./plain")] {
        let mut command = prepared.command(program, &[]);
        let err = prepared.spawn(&mut command).expect_err("not executable");
        assert_eq!(err.exit_status(), 126, "{program:?}: {err}");
    }
    // Found through the command's own PATH, as sandbox-exec's execvp will.
    std::fs::set_permissions(&plain, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let mut on_path = prepared.command(OsStr::new("plain"), &[]);
    on_path.env("PATH", project.path());
    let mut child = prepared.spawn(&mut on_path).expect("found on PATH").child;
    assert!(child.wait().expect("wait").success());
    let mut off_path = prepared.command(OsStr::new("plain"), &[]);
    off_path.env("PATH", "/nonexistent");
    let err = prepared.spawn(&mut off_path).expect_err("not on that PATH");
    assert_eq!(err.exit_status(), 127, "{err}");
}

#[test]
fn a_filtered_network_opens_two_loopback_listeners_the_profile_alone_reaches() {
    let project = tempfile::tempdir().expect("tempdir");
    let prepared = MacSandbox::new()
        .filtered_network(EgressPorts { http: 0, socks: 0 })
        .prepare(&workspace(), project.path(), None)
        .expect("prepare");
    let ports = prepared.egress_ports().expect("filtered");
    assert!(ports.http != 0 && ports.socks != 0 && ports.http != ports.socks);
    assert!(!prepared.network_disabled());
    let text = prepared.profile().expect("profile").text();
    for port in [ports.http, ports.socks] {
        assert!(
            text.contains(&format!("localhost:{port}")),
            "port {port} not in the profile:\n{text}"
        );
    }
    // The listeners are real and on loopback.
    std::net::TcpStream::connect(("127.0.0.1", ports.http)).expect("http listener");
    std::net::TcpStream::connect(("127.0.0.1", ports.socks)).expect("socks listener");

    // Without a filtered network: off, and no listener.
    let off = MacSandbox::new()
        .prepare(&workspace(), project.path(), None)
        .expect("prepare");
    assert!(off.egress_ports().is_none());
    assert!(off.network_disabled());
    // A policy with the whole network has nothing to filter.
    let open = MacSandbox::new()
        .filtered_network(EgressPorts { http: 0, socks: 0 })
        .prepare(&SandboxPolicy::workspace_write(true), project.path(), None)
        .expect("prepare");
    assert!(open.egress_ports().is_none());
}

#[test]
fn the_trust_bundle_is_a_read_only_file_the_profile_protects_and_is_removed_after() {
    let project = tempfile::tempdir().expect("tempdir");
    let pem = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let prepared = MacSandbox::new()
        .ca_bundle(&pem[..])
        .prepare(&workspace(), project.path(), None)
        .expect("prepare");
    let path = prepared.ca_bundle_path().expect("bundle").to_path_buf();
    assert_eq!(std::fs::read(&path).expect("read"), pem);
    let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
    assert_eq!(mode & 0o777, 0o444);
    let resolved = std::fs::canonicalize(&path).expect("canonical");
    let profile = prepared.profile().expect("profile");
    assert!(
        profile
            .parameters()
            .iter()
            .any(|(name, value)| name.starts_with("PROTECTED_")
                && (*value == *path.as_os_str() || *value == *resolved.as_os_str())),
        "{:?}",
        profile.parameters()
    );
    drop(prepared);
    assert!(!path.exists(), "the bundle outlived its sandbox");
}

/// Set in the copy of this binary that runs inside the private mount
/// namespace; the entry test without it returns at once (it is part of the
/// test below, whose result counts).
const INSIDE: &str = "CODEX_SEATBELT_FAKE_INSIDE";

/// The recording `sandbox-exec`: writes its arguments, NUL-terminated, to
/// `$CODEX_SEATBELT_RECORD`, then runs what follows the first `--`.
const FAKE_SANDBOX_EXEC: &str = r#"#!/bin/sh
: > "$CODEX_SEATBELT_RECORD"
for a in "$@"; do printf '%s\0' "$a" >> "$CODEX_SEATBELT_RECORD"; done
while [ $# -gt 0 ]; do
  if [ "$1" = "--" ]; then shift; exec "$@"; fi
  shift
done
exit 71
"#;

#[test]
fn through_a_recording_sandbox_exec_the_argv_streams_and_status_arrive_intact() {
    if std::env::var_os(INSIDE).is_some() || Path::new(SANDBOX_EXEC).exists() {
        return;
    }
    let skip = |why: &str| {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED through_a_recording_sandbox_exec: {why}"
        );
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return skip("mounting an overlay over /usr/bin needs root");
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = dir.path().join("fake");
    std::fs::create_dir(&fake).expect("mkdir");
    let script = fake.join("sandbox-exec");
    std::fs::write(&script, FAKE_SANDBOX_EXEC).expect("write");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let record = dir.path().join("record");
    let exe = std::env::current_exe().expect("current_exe");
    let mount = format!(
        "mount --make-rprivate / && mount -t overlay overlay -o lowerdir={}:/usr/bin /usr/bin \
         || exit 99; exec \"$0\" --exact inside_a_namespace_with_a_recording_sandbox_exec \
         --nocapture --test-threads=1",
        fake.display()
    );
    let output = Command::new("unshare")
        .args(["-m", "sh", "-c", &mount])
        .arg(&exe)
        .env(INSIDE, "1")
        .env("CODEX_SEATBELT_RECORD", &record)
        .output();
    let output = match output {
        Ok(output) if output.status.code() == Some(99) => {
            return skip(&format!(
                "no overlay mount here: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(output) => output,
        Err(e) => return skip(&format!("unshare: {e}")),
    };
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn inside_a_namespace_with_a_recording_sandbox_exec() {
    let Some(record) = std::env::var_os(INSIDE).and(std::env::var_os("CODEX_SEATBELT_RECORD"))
    else {
        return;
    };
    let project = tempfile::tempdir().expect("tempdir");
    // A hostile workspace name: quotes, parentheses, a newline, not UTF-8.
    let hostile = project
        .path()
        .join(OsStr::from_bytes(b"w \"(allow default)\"\n\xff"));
    std::fs::create_dir(&hostile).expect("mkdir");
    let prepared = MacSandbox::new()
        .prepare(&workspace(), &hostile, None)
        .expect("prepare");
    let args: Vec<OsString> = vec!["-c".into(), "cat; echo err >&2; exit 7".into()];
    let mut command = prepared.command(OsStr::new("sh"), &args);
    command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = prepared.spawn(&mut command).expect("spawn").child;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"through")
        .expect("write");
    let output = child.wait_with_output().expect("wait");
    assert_eq!(output.status.code(), Some(7));
    assert_eq!(output.stdout, b"through");
    assert_eq!(output.stderr, b"err\n");
    // sandbox-exec got exactly the argv the profile makes, byte for byte.
    let recorded = std::fs::read(&record).expect("record");
    let received: Vec<&[u8]> = recorded
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    let mut expected = vec![OsString::from("sh")];
    expected.extend(args);
    let expected = prepared
        .profile()
        .expect("profile")
        .sandbox_exec_argv(&expected);
    let expected: Vec<&[u8]> = expected[1..].iter().map(|a| a.as_bytes()).collect();
    assert_eq!(received, expected);

    // The command leads a session of its own: no controlling terminal.
    let script = "read pid comm state ppid pgrp session rest < /proc/$$/stat; echo \"$$ $session\"";
    let mut own_session = prepared.command(OsStr::new("sh"), &["-c".into(), script.into()]);
    own_session.stdout(Stdio::piped());
    let output = prepared
        .spawn(&mut own_session)
        .expect("spawn")
        .child
        .wait_with_output()
        .expect("wait");
    let text = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert!(
        ids.len() == 2 && ids[0] == ids[1],
        "pid and session: {text}"
    );

    // Also when the caller built the sandbox-exec command line itself.
    let argv = prepared.profile().expect("profile").sandbox_exec_argv(&[
        "sh".into(),
        "-c".into(),
        script.into(),
    ]);
    let mut by_hand = Command::new(&argv[0]);
    by_hand.args(&argv[1..]).stdout(Stdio::piped());
    let output = prepared
        .spawn(&mut by_hand)
        .expect("spawn")
        .child
        .wait_with_output()
        .expect("wait");
    let text = String::from_utf8_lossy(&output.stdout);
    let ids: Vec<&str> = text.split_whitespace().collect();
    assert!(ids.len() == 2 && ids[0] == ids[1], "by hand: {text}");

    // While a supervised command runs, this process's SIGTERM goes to it.
    let mut sleeper = prepared.command(OsStr::new("sleep"), &["30".into()]);
    let supervised = prepared.supervise(&mut sleeper).expect("supervise");
    // SAFETY: raising a signal whose handler forwards it.
    unsafe { libc::raise(libc::SIGTERM) };
    // One command at a time is supervised.
    let mut second = prepared.command(OsStr::new("true"), &[]);
    let err = prepared
        .supervise(&mut second)
        .expect_err("already supervising");
    assert!(matches!(err, MacSandboxError::AlreadySupervising), "{err}");
    let status = supervised.wait().expect("wait");
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");

    // A command that ignores the first termination signal gets SIGKILL at
    // the second: the caller stays able to end it.
    let mut stubborn = prepared.command(
        OsStr::new("sh"),
        &[
            "-c".into(),
            "trap '' TERM INT; while :; do sleep 1; done".into(),
        ],
    );
    let supervised = prepared.supervise(&mut stubborn).expect("supervise");
    std::thread::sleep(std::time::Duration::from_millis(200));
    // SAFETY: raising signals whose handler forwards them.
    unsafe {
        libc::raise(libc::SIGTERM);
        libc::raise(libc::SIGINT);
    }
    let status = supervised.wait().expect("wait");
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");

    let root = std::fs::canonicalize(&hostile).expect("canonical");
    // The hostile name travelled as a parameter's value, unchanged.
    let root = root.as_os_str().as_bytes();
    assert!(
        received
            .iter()
            .any(|a| a.ends_with(root) && a.contains(&b'=') && !a.starts_with(b"(")),
        "{:?}",
        received
            .iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );
}
