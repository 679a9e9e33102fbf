//! A filtered network through `run`: the command's only way out is the egress
//! proxy. Real curl inside the sandbox, real servers on the host's loopback;
//! what the proxy allows goes through, what it refuses is answered 403 with
//! the reason, and every way around it (ignoring the proxy variables, bash's
//! `/dev/tcp`, UDP, another interface) reaches nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::Path;
use std::time::Duration;

use common::escape::{Fixture, skip, skip_reason};

/// An HTTP server on the host's loopback answering every request with
/// `hello from the host`; returns its port.
fn host_server() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match stream.read(&mut byte) {
                        Ok(1) => head.push(byte[0]),
                        _ => return,
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\nConnection: close\r\n\r\nhello from the host",
                );
            });
        }
    });
    port
}

/// A `.codexrc.json` outside the workspace (so it is trusted as written).
fn runtime_file(fixture: &Fixture, mode: &str, hosts: &[&str]) -> String {
    let path = fixture.home.join(format!("codexrc-{mode}.json"));
    let list: Vec<String> = hosts.iter().map(|h| format!("{h:?}")).collect();
    std::fs::write(
        &path,
        format!(
            r#"{{"environment_context": {{"name": "dev", "network_access": "enabled",
                "outbound_policy": {{"mode": "{mode}", "dns_allow": [{}]}}}}}}"#,
            list.join(", ")
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn curl_missing() -> Option<String> {
    (!Path::new("/usr/bin/curl").exists()).then(|| "curl is not installed".to_owned())
}

fn run_script(fixture: &Fixture, rc: &str, log: &Path, script: &str) -> std::process::Output {
    fixture
        .command(
            "workspace-net",
            &["--runtime", rc, "--audit-log", log.to_str().unwrap()],
            &["bash", "-c", script],
        )
        .output()
        .unwrap()
}

fn text(output: &std::process::Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn events(log: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn an_allowlisted_destination_is_reached_through_every_way_of_the_proxy() {
    if let Some(reason) = skip_reason().or_else(curl_missing) {
        return skip("an_allowlisted_destination_is_reached", &reason);
    }
    let fixture = Fixture::new();
    let port = host_server();
    // Loopback is local: reachable only because the IP literal is allowlisted.
    let rc = runtime_file(&fixture, "allowlist", &["127.0.0.1"]);
    let log = fixture.home.join("audit.jsonl");
    let url = format!("http://127.0.0.1:{port}/index.html");
    for (how, flags) in [
        ("plain HTTP through HTTP_PROXY", ""),
        ("a CONNECT tunnel", "-p"),
        ("SOCKS5 through ALL_PROXY", "--proxy \"$ALL_PROXY\""),
    ] {
        let output = run_script(
            &fixture,
            &rc,
            &log,
            &format!("curl -sS --max-time 20 {flags} {url}"),
        );
        assert!(output.status.success(), "{how}: {}", text(&output));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "hello from the host",
            "{how}"
        );
    }
    let env = run_script(&fixture, &rc, &log, "env | sort");
    let env = String::from_utf8_lossy(&env.stdout).into_owned();
    for line in [
        "HTTP_PROXY=http://127.0.0.1:3128",
        "https_proxy=http://127.0.0.1:3128",
        "ALL_PROXY=socks5h://127.0.0.1:1080",
        "NO_PROXY=",
    ] {
        assert!(env.lines().any(|l| l == line), "{line} missing:\n{env}");
    }
    assert!(!env.contains("CODEX_SANDBOX_NETWORK_DISABLED"), "{env}");
    let connects: Vec<_> = events(&log)
        .into_iter()
        .filter(|e| e["operation"] == "network_connect")
        .collect();
    assert!(connects.len() >= 3, "{connects:?}");
    for event in &connects {
        assert_eq!(event["source"], "network-proxy", "{event}");
        assert_eq!(event["decision"], "allowed", "{event}");
        assert!(
            event["target"]
                .as_str()
                .unwrap()
                .starts_with(&format!("127.0.0.1:{port}")),
            "{event}"
        );
    }
}

#[test]
fn refusals_name_their_reason_and_are_recorded() {
    if let Some(reason) = skip_reason().or_else(curl_missing) {
        return skip("refusals_name_their_reason", &reason);
    }
    let fixture = Fixture::new();
    let port = host_server();
    let log = fixture.home.join("audit.jsonl");
    let allow = runtime_file(&fixture, "allowlist", &["allowed.invalid"]);
    let deny = runtime_file(&fixture, "denylist", &["blocked.invalid"]);
    for (rc, url, reason, decision) in [
        (
            &allow,
            format!("http://127.0.0.1:{port}/"),
            "not_allowed_local",
            "deny",
        ),
        (
            &allow,
            "http://elsewhere.invalid/".to_owned(),
            "not_allowed",
            "ask",
        ),
        (
            &allow,
            "http://169.254.169.254/latest/meta-data/".to_owned(),
            "not_allowed_local",
            "deny",
        ),
        (
            &allow,
            "http://[::ffff:127.0.0.1]:80/".to_owned(),
            "not_allowed_local",
            "deny",
        ),
        (
            &deny,
            "http://blocked.invalid/".to_owned(),
            "denied",
            "deny",
        ),
        (
            &deny,
            "http://BLOCKED.invalid./".to_owned(),
            "denied",
            "deny",
        ),
    ] {
        let _ = std::fs::remove_file(&log);
        let output = run_script(&fixture, rc, &log, &format!("curl -si --max-time 20 {url}"));
        let out = String::from_utf8_lossy(&output.stdout).to_lowercase();
        assert!(out.starts_with("http/1.1 403"), "{url}: {}", text(&output));
        assert!(
            out.contains(&format!("x-codex-policy-reason: {reason}")),
            "{url}: {}",
            text(&output)
        );
        assert!(
            out.contains(&format!("x-codex-policy-decision: {decision}")),
            "{url}: {}",
            text(&output)
        );
        let recorded = events(&log);
        let event = recorded
            .iter()
            .find(|e| e["operation"] == "network_connect")
            .unwrap_or_else(|| panic!("{url}: no network event in {recorded:?}"));
        assert_eq!(event["source"], "network-proxy");
        let expected = if decision == "ask" {
            "requires_approval"
        } else {
            "denied"
        };
        assert_eq!(event["decision"], expected, "{url}: {event}");
        assert!(
            event["reason"]
                .as_str()
                .unwrap_or_default()
                .contains(reason),
            "{url}: {event}"
        );
    }
}

#[test]
fn nothing_but_the_proxy_leads_out() {
    if let Some(reason) = skip_reason().or_else(curl_missing) {
        return skip("nothing_but_the_proxy_leads_out", &reason);
    }
    let fixture = Fixture::new();
    let port = host_server();
    let rc = runtime_file(&fixture, "allowlist", &["127.0.0.1"]);
    let log = fixture.home.join("audit.jsonl");
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    udp.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/");
    for (attempt, script) in [
        (
            "curl --noproxy",
            format!("curl -sS --max-time 5 --noproxy '*' {url}"),
        ),
        (
            "env -u every proxy variable",
            format!(
                "env -u HTTP_PROXY -u http_proxy -u ALL_PROXY -u all_proxy curl -sS --max-time 5 {url}"
            ),
        ),
        (
            "bash /dev/tcp to the host's loopback",
            format!(
                "exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&3 && cat <&3"
            ),
        ),
        (
            "bash /dev/udp",
            format!("echo escaped > /dev/udp/127.0.0.1/{udp_port} && sleep 0.2"),
        ),
    ] {
        let output = run_script(&fixture, &rc, &log, &script);
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("hello from the host"),
            "{attempt} reached the host: {}",
            text(&output)
        );
        if !attempt.contains("udp") {
            assert!(!output.status.success(), "{attempt}: {}", text(&output));
        }
    }
    let mut buf = [0u8; 64];
    assert!(
        udp.recv_from(&mut buf).is_err(),
        "a datagram left the sandbox"
    );
    // The namespace has one interface, and it is its own loopback.
    let output = run_script(&fixture, &rc, &log, "cat /proc/net/dev");
    let devices: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next().map(|d| d.trim().to_owned()))
        .collect();
    assert_eq!(devices, ["lo"], "{}", text(&output));
}

#[test]
fn explain_says_the_proxy_enforces_the_filter() {
    let fixture = Fixture::new();
    let rc = runtime_file(&fixture, "allowlist", &["pypi.org", "**.pythonhosted.org"]);
    let output = std::process::Command::new(common::codex_policy_bin())
        .env_clear()
        .env("HOME", &fixture.home)
        .env("CODEX_HOME", &fixture.codex_home)
        .args(["--profile", "workspace-net", "explain", "--runtime", &rc])
        .arg("--cwd")
        .arg(&fixture.workspace)
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        out.contains("filtered: enforced by the egress proxy"),
        "{out}"
    );
    assert!(
        out.contains("allow            pypi.org, **.pythonhosted.org"),
        "{out}"
    );
    assert!(!out.contains("open (host network)"), "{out}");
}

/// A rules file's `network_rule` filters the network whatever its decision:
/// `prompt` is refused with `ask` even where an allow list names the host,
/// `deny` is denied, and an `allow` widens nothing another source decided.
#[test]
fn every_network_rule_filters_and_none_widens() {
    if let Some(reason) = skip_reason().or_else(curl_missing) {
        return skip("every_network_rule_filters_and_none_widens", &reason);
    }
    let fixture = Fixture::new();
    let port = host_server();
    let log = fixture.home.join("audit.jsonl");
    let rules = |name: &str, text: &str| {
        let path = fixture.home.join(name);
        std::fs::write(
            &path,
            format!("prefix_rule(pattern = [\"bash\"], decision = \"allow\")\n{text}"),
        )
        .unwrap();
        path.display().to_string()
    };
    let prompt = rules(
        "prompt.rules",
        "network_rule(host = \"127.0.0.1\", protocol = \"http\", decision = \"prompt\")\n",
    );
    let allow = rules(
        "allow.rules",
        "network_rule(host = \"127.0.0.2\", protocol = \"http\", decision = \"allow\")\n",
    );
    let rc = runtime_file(&fixture, "allowlist", &["127.0.0.1"]);
    let url = format!("http://127.0.0.1:{port}/");
    // A script file: the rules judge `bash probe.sh`, not its contents.
    let script = fixture.home.join("probe.sh");
    std::fs::write(
        &script,
        format!(
            "env | grep -c '^HTTP_PROXY=' ; (exec 3<>/dev/tcp/127.0.0.1/{port} && echo direct-open); \
             curl -si --max-time 10 {url}\n"
        ),
    )
    .unwrap();
    let script = script.display().to_string();
    for (what, extra, reason, decision) in [
        // Only a prompt rule, no runtime file: still filtered, and asked.
        (
            "prompt alone",
            vec!["--rules", prompt.as_str()],
            "not_allowed",
            "ask",
        ),
        // Prompt wins over the runtime file's allow entry.
        (
            "prompt over an allow",
            vec!["--rules", prompt.as_str(), "--runtime", rc.as_str()],
            "not_allowed",
            "ask",
        ),
    ] {
        let mut args = extra.clone();
        args.extend(["--audit-log", log.to_str().unwrap()]);
        let output = fixture
            .command("workspace-net", &args, &["bash", &script])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&output.stdout).to_lowercase();
        assert!(
            out.starts_with("1\n"),
            "{what}: no proxy: {}",
            text(&output)
        );
        assert!(!out.contains("direct-open"), "{what}: {}", text(&output));
        assert!(out.contains("http/1.1 403"), "{what}: {}", text(&output));
        assert!(
            out.contains(&format!("x-codex-policy-reason: {reason}"))
                && out.contains(&format!("x-codex-policy-decision: {decision}")),
            "{what}: {}",
            text(&output)
        );
    }
    // An allow rule for a host the runtime file does not allow: not allowed.
    let allow_probe = fixture.home.join("allow-probe.sh");
    std::fs::write(
        &allow_probe,
        format!("curl -si --max-time 10 http://127.0.0.2:{port}/\n"),
    )
    .unwrap();
    let allow_probe = allow_probe.display().to_string();
    let output = fixture
        .command(
            "workspace-net",
            &["--rules", &allow, "--runtime", &rc],
            &["bash", &allow_probe],
        )
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout).to_lowercase();
    assert!(
        out.contains("http/1.1 403") && !out.contains("hello from the host"),
        "{}",
        text(&output)
    );
}

/// A `.codexrc.json` the command could have written (in the workspace) may
/// not open internal destinations through the proxy when something else —
/// here a rules file's `network_rule` — filters the network: refused, 125.
#[test]
fn a_workspace_runtime_file_cannot_open_internal_addresses() {
    if let Some(reason) = skip_reason() {
        return skip(
            "a_workspace_runtime_file_cannot_open_internal_addresses",
            &reason,
        );
    }
    let fixture = Fixture::new();
    let rules = fixture.home.join("deny.rules");
    std::fs::write(
        &rules,
        "network_rule(host = \"evil.example\", protocol = \"https\", decision = \"deny\")\n",
    )
    .unwrap();
    for planted in [
        r#"{"environment_context": {"name": "dev", "network_access": "enabled",
            "outbound_policy": {"mode": "open", "ip_allow": ["127.0.0.0/8"]}}}"#,
        r#"{"environment_context": {"name": "dev", "network_access": "enabled",
            "outbound_policy": {"mode": "allowlist", "dns_allow": ["localhost"]}}}"#,
    ] {
        std::fs::write(fixture.workspace.join(".codexrc.json"), planted).unwrap();
        let output = fixture
            .command(
                "workspace-net",
                &["--rules", rules.to_str().unwrap()],
                &["true"],
            )
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(125),
            "{planted}: {}",
            text(&output)
        );
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("CP0024"),
            "{planted}: {}",
            text(&output)
        );
    }
}
