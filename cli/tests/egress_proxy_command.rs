//! `codex-policy proxy`: the egress proxy in the foreground on the host's
//! loopback, its listener lines and `--print-env`, and the flags it refuses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use common::codex_policy_bin;

/// A running `codex-policy proxy`, killed (only it, by its id) on drop.
struct Proxy {
    child: Child,
    lines: Vec<String>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(home: &std::path::Path, args: &[&str], expected_lines: usize) -> Proxy {
    let mut child = Command::new(codex_policy_bin())
        .env_clear()
        .env("HOME", home)
        .env("CODEX_HOME", home.join("codex-home"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let mut lines = Vec::new();
    for _ in 0..expected_lines {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("proxy ended early: {lines:?} {err}");
        }
        lines.push(line.trim_end().to_owned());
    }
    Proxy { child, lines }
}

fn rc(dir: &std::path::Path, hosts: &str) -> String {
    let path = dir.join("codexrc.json");
    std::fs::write(
        &path,
        format!(
            r#"{{"environment_context": {{"name": "dev", "network_access": "enabled",
                "outbound_policy": {{"mode": "allowlist", "dns_allow": [{hosts}]}}}}}}"#
        ),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn it_prints_its_listeners_and_the_variables_and_decides() {
    let dir = tempfile::tempdir().unwrap();
    let rc = rc(dir.path(), r#""allowed.invalid""#);
    let log = dir.path().join("audit.jsonl");
    let proxy = start(
        dir.path(),
        &[
            "--profile",
            "workspace-net",
            "proxy",
            "--listen",
            "127.0.0.1:0",
            "--socks",
            "127.0.0.1:0",
            "--print-env",
            "--runtime",
            &rc,
            "--audit-log",
            log.to_str().unwrap(),
        ],
        10,
    );
    let http = proxy.lines[0]
        .strip_prefix("http proxy listening on ")
        .unwrap_or_else(|| panic!("{:?}", proxy.lines));
    let socks = proxy.lines[1]
        .strip_prefix("socks5 proxy listening on ")
        .unwrap_or_else(|| panic!("{:?}", proxy.lines));
    assert!(
        http.starts_with("127.0.0.1:") && !http.ends_with(":0"),
        "{http}"
    );
    let env = &proxy.lines[2..];
    for line in [
        format!("export HTTP_PROXY=http://{http}"),
        format!("export https_proxy=http://{http}"),
        format!("export ALL_PROXY=socks5h://{socks}"),
        "export NO_PROXY=''".to_owned(),
    ] {
        assert!(env.contains(&line), "{line} not in {env:?}");
    }
    // A refusal, answered and recorded before the answer is sent.
    let mut stream = TcpStream::connect(http).unwrap();
    stream
        .write_all(b"GET http://elsewhere.invalid/ HTTP/1.1\r\nHost: elsewhere.invalid\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let lower = answer.to_lowercase();
    assert!(lower.starts_with("http/1.1 403"), "{answer}");
    assert!(
        lower.contains("x-codex-policy-reason: not_allowed"),
        "{answer}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("\"network_connect\"") && logged.contains("elsewhere.invalid"),
        "{logged}"
    );
}

#[test]
fn bad_flags_and_an_off_network_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (args, status, says) in [
        (
            vec![
                "--profile",
                "workspace-net",
                "proxy",
                "--listen",
                "0.0.0.0:3128",
            ],
            2,
            "loopback only",
        ),
        (
            vec![
                "--profile",
                "workspace-net",
                "proxy",
                "--socks",
                "10.0.0.1:1080",
            ],
            2,
            "loopback only",
        ),
        (
            vec![
                "--profile",
                "workspace-net",
                "proxy",
                "--listen",
                "localhost",
            ],
            2,
            "not an address",
        ),
        (
            vec![
                "--profile",
                "workspace-net",
                "proxy",
                "--listen",
                "127.0.0.1:99999",
            ],
            2,
            "not an address",
        ),
        (vec!["--profile", "offline", "proxy"], 125, "network is off"),
    ] {
        let run = common::codex_policy(dir.path(), &[], &args);
        assert_eq!(run.status, status, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_listener_address_in_use_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = common::codex_policy(
        dir.path(),
        &[],
        &[
            "--profile",
            "workspace-net",
            "proxy",
            "--listen",
            &addr,
            "--socks",
            "127.0.0.1:0",
        ],
    );
    assert_eq!(run.status, 125, "{}", run.stderr);
    assert!(run.stderr.contains(&addr), "{}", run.stderr);
}
