//! Limited mode (`net-read-only`, or `mode = "limited"` for a profile's
//! network in config.toml): the command's only way out is the egress proxy,
//! which lets GET, HEAD and OPTIONS through and refuses every other method,
//! any request body and any protocol upgrade, over plain HTTP and inside
//! HTTPS (read with a certificate authority made for the run). Real curl
//! and python3 inside the sandbox, real HTTP and HTTPS servers on the host's
//! loopback that record what reached them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use common::escape::{Fixture, skip, skip_reason};
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

// ---------------------------------------------------------------------------
// Test certificate authorities and servers
// ---------------------------------------------------------------------------

/// A certificate authority for the test servers.
struct TestCa {
    pem: String,
    der: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> Self {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, "codex-policy tests");
        dn.push(DnType::CommonName, name);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        Self {
            pem: cert.pem(),
            der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A TLS server configuration for `127.0.0.1` (IP SAN) whose leaf this
    /// authority signs. It offers h2 before http/1.1 (and records a client
    /// that took h2, see [`Server::start`]): a proxy that passed the
    /// client's `--http2` on upstream would be caught.
    fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "127.0.0.1");
        let leaf = params.signed_by(&key, &self.issuer).unwrap();
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), self.der.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .unwrap();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// A loopback server answering every request `<METHOD> ok` and recording
/// `<METHOD> <path>` of each request that reached it.
struct Server {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    connections: Arc<AtomicUsize>,
}

impl Server {
    /// Plain HTTP/1.1 when `tls` is `None`, HTTPS otherwise.
    fn start(tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let (thread_seen, thread_connections) = (Arc::clone(&seen), Arc::clone(&connections));
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                thread_connections.fetch_add(1, Ordering::SeqCst);
                let seen = Arc::clone(&thread_seen);
                let tls = tls.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                    match tls {
                        None => {
                            let mut stream = stream;
                            answer(&mut stream, &seen);
                        }
                        Some(config) => {
                            let Ok(connection) = rustls::ServerConnection::new(config) else {
                                return;
                            };
                            let mut stream = rustls::StreamOwned::new(connection, stream);
                            // It speaks HTTP/1.1 only: a client that got h2
                            // is recorded as such, and not answered.
                            while stream.conn.is_handshaking() {
                                if stream.conn.complete_io(&mut stream.sock).is_err() {
                                    return;
                                }
                            }
                            if stream.conn.alpn_protocol() == Some(b"h2") {
                                seen.lock().unwrap().push("h2 negotiated".to_owned());
                                return;
                            }
                            if answer(&mut stream, &seen) {
                                stream.conn.send_close_notify();
                                let _ = stream.flush();
                            }
                        }
                    }
                });
            }
        });
        Self {
            port,
            seen,
            connections,
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().unwrap().clone()
    }
}

/// Reads one request, records it, answers `<METHOD> ok` and closes.
/// Whether a request was read.
fn answer(stream: &mut (impl Read + Write), seen: &Mutex<Vec<String>>) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
        if head.len() > 64 * 1024 {
            return false;
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut words = head.split_whitespace();
    let method = words.next().unwrap_or_default().to_owned();
    let path = words.next().unwrap_or_default().to_owned();
    seen.lock().unwrap().push(format!("{method} {path}"));
    let length: usize = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    let mut body = vec![0u8; length];
    let _ = stream.read_exact(&mut body);
    let reply = format!("{method} ok");
    let mut out = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.len()
    );
    if method != "HEAD" {
        out.push_str(&reply);
    }
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
    true
}

// ---------------------------------------------------------------------------
// The fixture: servers, the test CA file, a runtime file allowing loopback
// ---------------------------------------------------------------------------

struct Setup {
    fixture: Fixture,
    /// The test CA's PEM: `SSL_CERT_FILE` of `codex-policy`, so that the
    /// proxy trusts the HTTPS servers.
    ca_file: PathBuf,
    ca_pem: String,
    rc: String,
    log: PathBuf,
    http: Server,
    https: Server,
}

impl Setup {
    fn new() -> Self {
        let fixture = Fixture::new();
        let ca = TestCa::new("codex-policy test upstream CA");
        let ca_file = fixture.home.join("test-ca.pem");
        std::fs::write(&ca_file, &ca.pem).unwrap();
        // Outside the workspace, so it is trusted as written: loopback is
        // reachable only because the IP literal is allowlisted.
        let rc = fixture.home.join("codexrc.json");
        std::fs::write(
            &rc,
            r#"{"environment_context": {"name": "dev", "network_access": "enabled",
                "outbound_policy": {"mode": "allowlist", "dns_allow": ["127.0.0.1"]}}}"#,
        )
        .unwrap();
        let log = fixture.home.join("audit.jsonl");
        let http = Server::start(None);
        let https = Server::start(Some(ca.server_config()));
        Self {
            ca_pem: ca.pem,
            fixture,
            ca_file,
            rc: rc.display().to_string(),
            log,
            http,
            https,
        }
    }

    fn http_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http.port)
    }

    fn https_url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.https.port)
    }

    /// `codex-policy --profile PROFILE run --runtime RC --audit-log LOG
    /// EXTRA... -- bash -c SCRIPT`, with `SSL_CERT_FILE` naming the test CA.
    fn run(&self, profile: &str, extra: &[&str], script: &str) -> Output {
        let mut args = vec![
            "--runtime",
            self.rc.as_str(),
            "--audit-log",
            self.log.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        self.fixture
            .command(profile, &args, &["bash", "-c", script])
            .env("SSL_CERT_FILE", &self.ca_file)
            .output()
            .unwrap()
    }

    fn events(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

fn curl_missing() -> Option<String> {
    (!Path::new("/usr/bin/curl").exists()).then(|| "curl is not installed".to_owned())
}

fn text(output: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// The script's output cut at `=== NAME` lines: the text after each.
fn sections(output: &Output) -> Vec<(String, String)> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in stdout.split_inclusive('\n') {
        if let Some(name) = line.strip_prefix("=== ") {
            out.push((name.trim().to_owned(), String::new()));
        } else if let Some((_, text)) = out.last_mut() {
            text.push_str(line);
        }
    }
    out
}

fn section<'a>(sections: &'a [(String, String)], name: &str, output: &Output) -> &'a str {
    sections
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t.as_str())
        .unwrap_or_else(|| panic!("no section {name}: {}", text(output)))
}

/// The status code of the last `HTTP/...` status line (after a CONNECT's
/// `200 Connection established`, the answer inside the tunnel).
fn last_status(response: &str) -> Option<u16> {
    response
        .lines()
        .rev()
        .find(|l| l.starts_with("HTTP/"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
}

/// The value of header `name` in the last response of `response`.
fn last_header(response: &str, name: &str) -> Option<String> {
    let lines: Vec<&str> = response.lines().collect();
    let start = lines.iter().rposition(|l| l.starts_with("HTTP/"))?;
    lines[start + 1..]
        .iter()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
}

/// A refusal by limited mode as curl `-i` shows it: 403 with the reason.
fn assert_refused(response: &str, what: &str, output: &Output) {
    assert_eq!(last_status(response), Some(403), "{what}: {}", text(output));
    assert_eq!(
        last_header(response, "x-codex-policy-decision").as_deref(),
        Some("deny"),
        "{what}: {}",
        text(output)
    );
    assert_eq!(
        last_header(response, "x-codex-policy-reason").as_deref(),
        Some("method_not_allowed"),
        "{what}: {}",
        text(output)
    );
}

/// The `method_not_allowed` events naming `path` on `port`.
fn method_refusals<'a>(
    events: &'a [serde_json::Value],
    port: u16,
    path: &str,
) -> Vec<&'a serde_json::Value> {
    let prefix = format!("127.0.0.1:{port}{path} ");
    events
        .iter()
        .filter(|e| e["operation"] == "network_connect")
        .filter(|e| e["target"].as_str().is_some_and(|t| t.starts_with(&prefix)))
        .filter(|e| {
            e["reason"]
                .as_str()
                .is_some_and(|r| r.starts_with("method_not_allowed"))
        })
        .collect()
}

/// Exactly one denied event for the request to `path` on `port`, with
/// `method` in its HTTP details and its target.
fn assert_one_refusal(events: &[serde_json::Value], port: u16, path: &str, method: &str) {
    let found = method_refusals(events, port, path);
    assert_eq!(
        found.len(),
        1,
        "{method} {path} on {port}: {found:?}\nall events: {events:#?}"
    );
    let event = found[0];
    assert_eq!(event["source"], "network-proxy", "{event}");
    assert_eq!(event["decision"], "denied", "{event}");
    assert!(
        event["reason"]
            .as_str()
            .unwrap()
            .starts_with("method_not_allowed:"),
        "{event}"
    );
    assert_eq!(event["http"]["method"], method, "{event}");
}

/// The base64 bodies of the PEM certificates in `text`, whitespace removed.
fn pem_certificates(text: &str) -> Vec<String> {
    text.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .filter_map(|rest| rest.split("-----END CERTIFICATE-----").next())
        .map(|body| body.split_whitespace().collect())
        .collect()
}

/// Where a sandboxed command finds the certificates it trusts.
const BUNDLE_IN_SANDBOX: &str = "/dev/codex-policy-ca-bundle.pem";

macro_rules! skip_unless_ready {
    ($name:expr) => {
        if let Some(reason) = skip_reason().or_else(curl_missing) {
            return skip($name, &reason);
        }
    };
}

// ---------------------------------------------------------------------------
// Inside `run`
// ---------------------------------------------------------------------------

#[test]
fn get_head_and_options_pass_over_http_and_https() {
    skip_unless_ready!("get_head_and_options_pass_over_http_and_https");
    let setup = Setup::new();
    let python = Path::new("/usr/bin/python3").exists();
    let mut script = String::new();
    for (scheme, url) in [
        ("http", Setup::http_url as fn(&Setup, &str) -> String),
        ("https", Setup::https_url),
    ] {
        script.push_str(&format!(
            "echo '=== get-{scheme}'; curl -sS -i --max-time 20 {get}; echo\n\
             echo '=== head-{scheme}'; curl -sS -I --max-time 20 {head}; echo\n\
             echo '=== options-{scheme}'; curl -sS -i --max-time 20 -X OPTIONS {options}; echo\n",
            get = url(&setup, &format!("/get-{scheme}")),
            head = url(&setup, &format!("/head-{scheme}")),
            options = url(&setup, &format!("/options-{scheme}")),
        ));
    }
    if python {
        script.push_str(&format!(
            "echo '=== python'; python3 -c 'import sys, urllib.request\n\
             r = urllib.request.urlopen(sys.argv[1], timeout=20)\n\
             print(r.status, r.read().decode())' {}\n",
            setup.https_url("/python-https")
        ));
    } else {
        skip(
            "get_head_and_options_pass_over_http_and_https (python part)",
            "python3 is not installed",
        );
    }
    let output = setup.run("net-read-only", &[], &script);
    assert!(output.status.success(), "{}", text(&output));
    let parts = sections(&output);
    for scheme in ["http", "https"] {
        let get = section(&parts, &format!("get-{scheme}"), &output);
        assert_eq!(last_status(get), Some(200), "{scheme}: {}", text(&output));
        assert!(get.trim_end().ends_with("GET ok"), "{}", text(&output));
        let head = section(&parts, &format!("head-{scheme}"), &output);
        assert_eq!(last_status(head), Some(200), "{scheme}: {}", text(&output));
        let options = section(&parts, &format!("options-{scheme}"), &output);
        assert_eq!(last_status(options), Some(200), "{}", text(&output));
        assert!(
            options.trim_end().ends_with("OPTIONS ok"),
            "{}",
            text(&output)
        );
    }
    if python {
        assert_eq!(
            section(&parts, "python", &output).trim(),
            "200 GET ok",
            "{}",
            text(&output)
        );
    }
    assert_eq!(
        setup.http.seen(),
        ["GET /get-http", "HEAD /head-http", "OPTIONS /options-http"]
    );
    let mut expected = vec![
        "GET /get-https",
        "HEAD /head-https",
        "OPTIONS /options-https",
    ];
    if python {
        expected.push("GET /python-https");
    }
    assert_eq!(setup.https.seen(), expected);
    // Each allowed request is recorded, with its method.
    let events = setup.events();
    for (port, path, method) in [
        (setup.http.port, "/get-http", "GET"),
        (setup.https.port, "/head-https", "HEAD"),
    ] {
        let prefix = format!("127.0.0.1:{port}{path}");
        assert!(
            events.iter().any(|e| e["decision"] == "allowed"
                && e["target"].as_str().is_some_and(|t| t.starts_with(&prefix))
                && e["http"]["method"] == method),
            "no allowed event for {method} {prefix}: {events:#?}"
        );
    }
}

/// The ways out of the sandbox a request can take: plain HTTP through
/// `HTTP_PROXY` (absolute-form), plain HTTP in a CONNECT tunnel (`-p`),
/// HTTPS in a CONNECT tunnel, and both through SOCKS5 (`ALL_PROXY`):
/// `(name, scheme, curl flags)`.
const ROUTES: [(&str, &str, &str); 5] = [
    ("forward", "http", ""),
    ("tunnel", "http", "-p"),
    ("tls", "https", ""),
    ("socks", "http", "--proxy \"$ALL_PROXY\""),
    ("socks-tls", "https", "--proxy \"$ALL_PROXY\""),
];

#[test]
fn writing_methods_are_refused_and_never_reach_the_server() {
    skip_unless_ready!("writing_methods_are_refused_and_never_reach_the_server");
    let setup = Setup::new();
    let python = Path::new("/usr/bin/python3").exists();
    let mut script = String::new();
    let mut requests = Vec::new();
    for (route, scheme, flags) in ROUTES {
        let port = if scheme == "http" {
            setup.http.port
        } else {
            setup.https.port
        };
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            // The method alone (no body), then with a body.
            let bare = format!("/{}-{route}", method.to_lowercase());
            let with_body = format!("/{}-body-{route}", method.to_lowercase());
            script.push_str(&format!(
                "echo '=== {method} {bare}'; curl -sS -i --max-time 20 {flags} -X {method} {scheme}://127.0.0.1:{port}{bare}; echo\n\
                 echo '=== {method} {with_body}'; curl -sS -i --max-time 20 {flags} -X {method} --data payload {scheme}://127.0.0.1:{port}{with_body}; echo\n"
            ));
            requests.push((port, method, bare));
            requests.push((port, method, with_body));
        }
        // After the refusals, a read the same way still works.
        script.push_str(&format!(
            "echo '=== GET /after-{route}'; curl -sS --max-time 20 {flags} {scheme}://127.0.0.1:{port}/after-{route}; echo\n"
        ));
    }
    if python {
        script.push_str(&format!(
            "echo '=== python'; python3 -c 'import sys, urllib.error, urllib.request\n\
             request = urllib.request.Request(sys.argv[1], data=b\"x\", method=\"POST\")\n\
             try:\n    urllib.request.urlopen(request, timeout=20)\n    print(\"sent\")\n\
             except urllib.error.HTTPError as e:\n    print(e.code, e.headers[\"x-codex-policy-reason\"])' {}\n",
            setup.https_url("/python-post")
        ));
        requests.push((setup.https.port, "POST", "/python-post".to_owned()));
    } else {
        skip(
            "writing_methods_are_refused_and_never_reach_the_server (python part)",
            "python3 is not installed",
        );
    }
    let output = setup.run("net-read-only", &[], &script);
    assert!(output.status.success(), "{}", text(&output));
    let parts = sections(&output);
    let events = setup.events();
    for (port, method, path) in &requests {
        if path == "/python-post" {
            assert_eq!(
                section(&parts, "python", &output).trim(),
                "403 method_not_allowed",
                "{}",
                text(&output)
            );
        } else {
            let response = section(&parts, &format!("{method} {path}"), &output);
            assert_refused(response, &format!("{method} {path}"), &output);
        }
        assert_one_refusal(&events, *port, path, method);
    }
    for (route, _, _) in ROUTES {
        assert_eq!(
            section(&parts, &format!("GET /after-{route}"), &output).trim(),
            "GET ok",
            "{route}: {}",
            text(&output)
        );
    }
    assert_eq!(
        setup.http.seen(),
        [
            "GET /after-forward",
            "GET /after-tunnel",
            "GET /after-socks"
        ]
    );
    assert_eq!(
        setup.https.seen(),
        ["GET /after-tls", "GET /after-socks-tls"]
    );
}

#[test]
fn websocket_and_h2c_upgrades_are_refused() {
    skip_unless_ready!("websocket_and_h2c_upgrades_are_refused");
    let setup = Setup::new();
    let websocket = "-H 'Connection: Upgrade' -H 'Upgrade: websocket' \
                     -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=='";
    let h2c = "-H 'Connection: Upgrade, HTTP2-Settings' -H 'Upgrade: h2c' \
               -H 'HTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA'";
    let mut script = String::new();
    let mut requests = Vec::new();
    for (route, scheme, flags) in ROUTES {
        let port = if scheme == "http" {
            setup.http.port
        } else {
            setup.https.port
        };
        for (name, headers) in [("websocket", websocket), ("h2c", h2c)] {
            let path = format!("/{name}-{route}");
            script.push_str(&format!(
                "echo '=== {path}'; curl -sS -i --max-time 20 {flags} {headers} {scheme}://127.0.0.1:{port}{path}; echo\n"
            ));
            requests.push((port, path, name));
        }
    }
    let output = setup.run("net-read-only", &[], &script);
    assert!(output.status.success(), "{}", text(&output));
    let parts = sections(&output);
    let events = setup.events();
    for (port, path, name) in &requests {
        assert_refused(section(&parts, path, &output), path, &output);
        assert_one_refusal(&events, *port, path, "GET");
        let event = method_refusals(&events, *port, path)[0];
        let target = event["target"].as_str().unwrap();
        assert!(
            target.contains("upgrade") && target.contains(name),
            "{event}"
        );
    }
    assert_eq!(setup.http.seen(), Vec::<String>::new());
    assert_eq!(setup.https.seen(), Vec::<String>::new());
}

#[test]
fn a_get_with_a_body_is_refused() {
    skip_unless_ready!("a_get_with_a_body_is_refused");
    let setup = Setup::new();
    let mut script = String::new();
    let mut requests = Vec::new();
    for (route, scheme, route_flags) in ROUTES {
        let port = if scheme == "http" {
            setup.http.port
        } else {
            setup.https.port
        };
        for (name, flags) in [
            ("length", "-X GET --data x"),
            (
                "chunked",
                "-X GET -H 'Transfer-Encoding: chunked' --data-binary x",
            ),
        ] {
            let path = format!("/get-{name}-{route}");
            script.push_str(&format!(
                "echo '=== {path}'; curl -sS -i --max-time 20 {route_flags} {flags} {scheme}://127.0.0.1:{port}{path}; echo\n"
            ));
            requests.push((port, path));
        }
    }
    let output = setup.run("net-read-only", &[], &script);
    assert!(output.status.success(), "{}", text(&output));
    let parts = sections(&output);
    let events = setup.events();
    for (port, path) in &requests {
        assert_refused(section(&parts, path, &output), path, &output);
        assert_one_refusal(&events, *port, path, "GET");
        let event = method_refusals(&events, *port, path)[0];
        assert!(
            event["target"].as_str().unwrap().contains("body"),
            "{event}"
        );
    }
    assert_eq!(setup.http.seen(), Vec::<String>::new());
    assert_eq!(setup.https.seen(), Vec::<String>::new());
}

#[test]
fn curl_http2_over_https_ends_up_on_http_1_1() {
    skip_unless_ready!("curl_http2_over_https_ends_up_on_http_1_1");
    let setup = Setup::new();
    let script = format!(
        "curl -sS --max-time 20 --http2 -w '\\n%{{http_version}}\\n' {}",
        setup.https_url("/h2")
    );
    let output = setup.run("net-read-only", &[], &script);
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "GET ok\n1.1\n",
        "{}",
        text(&output)
    );
    assert_eq!(setup.https.seen(), ["GET /h2"]);
}

/// What one run shows of its bundle: the path `SSL_CERT_FILE` names inside,
/// and the bundle's text.
struct Bundle {
    path: String,
    text: String,
}

impl Bundle {
    fn last_certificate(&self) -> String {
        pem_certificates(&self.text)
            .pop()
            .unwrap_or_else(|| panic!("no certificate in {}", self.text))
    }
}

fn bundle_of(output: &Output) -> Bundle {
    let parts = sections(output);
    Bundle {
        path: section(&parts, "path", output).trim().to_owned(),
        text: section(&parts, "bundle", output).to_owned(),
    }
}

const SHOW_BUNDLE: &str = "echo '=== path'; echo \"$SSL_CERT_FILE\"; \
                           echo '=== bundle'; cat \"$SSL_CERT_FILE\"";

#[test]
fn the_run_ca_is_trusted_inside_and_unknown_outside() {
    skip_unless_ready!("the_run_ca_is_trusted_inside_and_unknown_outside");
    let setup = Setup::new();
    let script = format!(
        "echo '=== env'; env | sort; \
         echo '=== curl'; curl -sS -v --max-time 20 {} 2>&1; echo; {SHOW_BUNDLE}",
        setup.https_url("/trusted")
    );
    let output = setup.run("net-read-only", &[], &script);
    assert!(output.status.success(), "{}", text(&output));
    let parts = sections(&output);
    let bundle = bundle_of(&output);
    // A file of the sandbox's own, in its private /dev.
    assert_eq!(bundle.path, BUNDLE_IN_SANDBOX, "{}", text(&output));
    // Every tool's variable names the bundle, and the proxy variables are set.
    let env = section(&parts, "env", &output);
    for var in [
        "SSL_CERT_FILE",
        "CURL_CA_BUNDLE",
        "REQUESTS_CA_BUNDLE",
        "NODE_EXTRA_CA_CERTS",
        "GIT_SSL_CAINFO",
        "PIP_CERT",
        "CARGO_HTTP_CAINFO",
    ] {
        let line = format!("{var}={}", bundle.path);
        assert!(env.lines().any(|l| l == line), "{line} not in:\n{env}");
    }
    for var in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"] {
        assert!(
            env.lines().any(|l| l.starts_with(&format!("{var}="))),
            "{var} not in:\n{env}"
        );
    }
    // curl, without -k, verified a certificate the run's authority signed:
    // the proxy read the request, it did not pass the server's through.
    let curl = section(&parts, "curl", &output);
    assert!(curl.contains("SSL certificate verify ok"), "{curl}");
    assert!(curl.contains("CN=codex-policy run CA"), "{curl}");
    assert!(curl.trim_end().ends_with("GET ok"), "{curl}");
    assert_eq!(setup.https.seen(), ["GET /trusted"]);
    // The bundle: the roots the proxy was given (here the test CA, named by
    // SSL_CERT_FILE), then the run's authority.
    let certificates = pem_certificates(&bundle.text);
    let test_ca = pem_certificates(&setup.ca_pem).pop().unwrap();
    assert_eq!(certificates.first(), Some(&test_ca), "{}", text(&output));
    let run_ca = bundle.last_certificate();
    assert_ne!(run_ca, test_ca, "{}", text(&output));
    // Never on the host's file system: nothing to outlive the run.
    assert!(
        !Path::new(&bundle.path).exists(),
        "{} on the host",
        bundle.path
    );
    assert!(
        !setup.fixture.codex_home.join("ca-bundles").exists(),
        "a bundle was written under $CODEX_HOME"
    );
    // And never added to the host's store.
    let store = Path::new("/etc/ssl/certs/ca-certificates.crt");
    match std::fs::read_to_string(store) {
        Ok(host) => {
            let host = pem_certificates(&host);
            assert!(!host.is_empty(), "no certificate in {}", store.display());
            assert!(
                !host.contains(&run_ca),
                "the run's CA is in {}",
                store.display()
            );
        }
        Err(e) => skip(
            "the_run_ca_is_trusted_inside_and_unknown_outside (host store part)",
            &format!("{}: {e}", store.display()),
        ),
    }
}

#[test]
fn each_run_gets_its_own_ca() {
    skip_unless_ready!("each_run_gets_its_own_ca");
    let setup = Setup::new();
    let first = setup.run("net-read-only", &[], SHOW_BUNDLE);
    assert!(first.status.success(), "{}", text(&first));
    let second = setup.run("net-read-only", &[], SHOW_BUNDLE);
    assert!(second.status.success(), "{}", text(&second));
    let (first, second) = (bundle_of(&first), bundle_of(&second));
    assert_ne!(
        first.last_certificate(),
        second.last_certificate(),
        "two runs share a certificate authority"
    );
}

#[test]
fn the_bundle_is_read_only_even_where_tmp_is_writable() {
    skip_unless_ready!("the_bundle_is_read_only_even_where_tmp_is_writable");
    let setup = Setup::new();
    let config = setup.fixture.home.join("config.toml");
    std::fs::write(
        &config,
        "[permissions.workspace-net.network]\nmode = \"limited\"\n",
    )
    .unwrap();
    let script = format!(
        "echo '=== path'; echo \"$SSL_CERT_FILE\"\n\
         before=$(cksum < \"$SSL_CERT_FILE\")\n\
         dir=$(dirname \"$SSL_CERT_FILE\")\n\
         echo '=== tmp'; echo probe > /tmp/codex-policy-limited-probe-$$ && echo WROTE && rm -f /tmp/codex-policy-limited-probe-$$\n\
         echo '=== append'; (echo junk >> \"$SSL_CERT_FILE\") 2>&1 || echo REFUSED\n\
         echo '=== truncate'; (: > \"$SSL_CERT_FILE\") 2>&1 || echo REFUSED\n\
         echo '=== create'; (echo junk > \"$dir/extra.pem\") 2>&1 || echo REFUSED\n\
         echo '=== rename'; mv \"$SSL_CERT_FILE\" \"$dir/moved.pem\" 2>&1 || echo REFUSED\n\
         echo '=== remove'; rm -f \"$SSL_CERT_FILE\" 2>&1 || echo REFUSED\n\
         echo '=== chmod'; chmod 666 \"$SSL_CERT_FILE\" 2>&1 || echo REFUSED\n\
         echo '=== unchanged'; [ \"$before\" = \"$(cksum < \"$SSL_CERT_FILE\")\" ] && echo SAME\n\
         echo '=== post-http'; curl -sS -i --max-time 20 -X POST --data x {post_http}; echo\n\
         echo '=== post-https'; curl -sS -i --max-time 20 -X POST --data x {post_https}; echo\n\
         echo '=== get-https'; curl -sS --max-time 20 {get_https}; echo\n",
        post_http = setup.http_url("/post"),
        post_https = setup.https_url("/post"),
        get_https = setup.https_url("/get"),
    );
    let output = setup.run(
        "workspace-net",
        &["--config", config.to_str().unwrap()],
        &script,
    );
    assert!(output.status.success(), "{}", text(&output));
    let parts = sections(&output);
    let path = section(&parts, "path", &output).trim();
    assert_eq!(
        path,
        BUNDLE_IN_SANDBOX,
        "limited mode not on: {}",
        text(&output)
    );
    assert_eq!(
        section(&parts, "tmp", &output).trim(),
        "WROTE",
        "/tmp is not writable here, the test proves nothing: {}",
        text(&output)
    );
    for attempt in ["append", "truncate", "create", "rename", "remove", "chmod"] {
        let said = section(&parts, attempt, &output);
        assert!(
            said.trim_end().ends_with("REFUSED"),
            "{attempt} got through: {}",
            text(&output)
        );
    }
    assert_eq!(
        section(&parts, "unchanged", &output).trim(),
        "SAME",
        "{}",
        text(&output)
    );
    assert_refused(section(&parts, "post-http", &output), "POST http", &output);
    assert_refused(
        section(&parts, "post-https", &output),
        "POST https",
        &output,
    );
    assert_eq!(
        section(&parts, "get-https", &output).trim(),
        "GET ok",
        "{}",
        text(&output)
    );
    let events = setup.events();
    assert_one_refusal(&events, setup.http.port, "/post", "POST");
    assert_one_refusal(&events, setup.https.port, "/post", "POST");
    assert_eq!(setup.http.seen(), Vec::<String>::new());
    assert_eq!(setup.https.seen(), ["GET /get"]);
    assert!(!Path::new(path).exists(), "{path} outlived the run");
}

#[test]
fn an_upstream_with_a_bad_certificate_is_502_upstream_tls() {
    skip_unless_ready!("an_upstream_with_a_bad_certificate_is_502_upstream_tls");
    let setup = Setup::new();
    let bad = Server::start(Some(TestCa::new("some other CA").server_config()));
    let script = format!(
        "curl -sS -i --max-time 20 https://127.0.0.1:{}/bad",
        bad.port
    );
    let output = setup.run("net-read-only", &[], &script);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert_eq!(last_status(&stdout), Some(502), "{}", text(&output));
    assert_eq!(
        last_header(&stdout, "x-codex-policy-reason").as_deref(),
        Some("upstream_tls"),
        "{}",
        text(&output)
    );
    assert_eq!(
        last_header(&stdout, "x-codex-policy-decision").as_deref(),
        Some("deny"),
        "{}",
        text(&output)
    );
    let events = setup.events();
    let target = format!("127.0.0.1:{}", bad.port);
    let refused: Vec<_> = events
        .iter()
        .filter(|e| {
            e["operation"] == "network_connect"
                && e["decision"] == "denied"
                && e["reason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("upstream_tls:"))
                && e["target"].as_str().is_some_and(|t| t.starts_with(&target))
        })
        .collect();
    assert_eq!(refused.len(), 1, "{events:#?}");
    assert_eq!(refused[0]["source"], "network-proxy");
    // The proxy reached the server, and stopped at its certificate.
    assert!(bad.connections.load(Ordering::SeqCst) >= 1);
    assert_eq!(bad.seen(), Vec::<String>::new());
}

#[test]
fn full_mode_still_lets_every_method_through() {
    skip_unless_ready!("full_mode_still_lets_every_method_through");
    let setup = Setup::new();
    let script = format!(
        "echo '=== bundle'; env | grep -c ca-bundles\n\
         echo '=== post-http'; curl -sS -i --max-time 20 -X POST --data x {}; echo\n\
         echo '=== put-https'; curl -sS -i --max-time 20 --http1.1 --cacert {} -X PUT --data x {}; echo\n",
        setup.http_url("/post"),
        setup.ca_file.display(),
        setup.https_url("/put"),
    );
    let output = setup.run("workspace-net", &[], &script);
    assert!(output.status.success(), "{}", text(&output));
    let parts = sections(&output);
    assert_eq!(
        section(&parts, "bundle", &output).trim(),
        "0",
        "{}",
        text(&output)
    );
    let post = section(&parts, "post-http", &output);
    assert_eq!(last_status(post), Some(200), "{}", text(&output));
    assert!(post.trim_end().ends_with("POST ok"), "{}", text(&output));
    let put = section(&parts, "put-https", &output);
    assert_eq!(last_status(put), Some(200), "{}", text(&output));
    assert!(put.trim_end().ends_with("PUT ok"), "{}", text(&output));
    assert_eq!(setup.http.seen(), ["POST /post"]);
    assert_eq!(setup.https.seen(), ["PUT /put"]);
}

// ---------------------------------------------------------------------------
// `codex-policy proxy`
// ---------------------------------------------------------------------------

/// A running `codex-policy proxy`, killed (only it, by its id) on drop.
struct Proxy {
    child: Child,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_standalone_proxy_hands_out_its_bundle_and_removes_it() {
    if let Some(reason) = curl_missing() {
        return skip(
            "the_standalone_proxy_hands_out_its_bundle_and_removes_it",
            &reason,
        );
    }
    // Not under /tmp: a runtime file in a shared temp dir counts as one a
    // sandboxed command could have planted, and may not loosen.
    let dir = tempfile::tempdir_in(common::escape::fixture_base().unwrap()).unwrap();
    let home = dir.path();
    let ca = TestCa::new("codex-policy test upstream CA");
    let ca_file = home.join("test-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let rc = home.join("codexrc.json");
    std::fs::write(
        &rc,
        r#"{"environment_context": {"name": "dev", "network_access": "enabled",
            "outbound_policy": {"mode": "allowlist", "dns_allow": ["127.0.0.1"]}}}"#,
    )
    .unwrap();
    let log = home.join("audit.jsonl");
    let http = Server::start(None);
    let https = Server::start(Some(ca.server_config()));

    let mut child = Command::new(common::codex_policy_bin())
        .env_clear()
        .env("HOME", home)
        .env("CODEX_HOME", home.join("codex-home"))
        .env("SSL_CERT_FILE", &ca_file)
        .args(["--profile", "net-read-only", "proxy"])
        .args(["--listen", "127.0.0.1:0", "--socks", "127.0.0.1:0"])
        .args(["--print-env", "--runtime", rc.to_str().unwrap()])
        .args(["--audit-log", log.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut proxy = Proxy { child };
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if send.send(line).is_err() {
                break;
            }
        }
    });
    // The lines come in one write; wait for the first, then for a pause.
    let mut lines = Vec::new();
    let mut wait = Duration::from_secs(60);
    while let Ok(line) = receive.recv_timeout(wait) {
        lines.push(line);
        wait = Duration::from_secs(2);
    }
    if lines.is_empty() {
        let _ = proxy.child.kill();
        let mut err = String::new();
        let _ = stderr.read_to_string(&mut err);
        panic!("the proxy printed nothing: {err}");
    }
    let all = lines.join("\n");
    let announced = lines
        .iter()
        .find_map(|l| {
            l.strip_prefix("read-only network: HTTPS is inspected; clients must trust ")
                .and_then(|rest| rest.strip_suffix(" (removed when the proxy stops)"))
        })
        .unwrap_or_else(|| panic!("no bundle line:\n{all}"))
        .to_owned();
    assert!(
        lines.contains(&format!("export SSL_CERT_FILE={announced}")),
        "{all}"
    );
    let bundle = PathBuf::from(&announced);
    let bundle_dir = bundle.parent().unwrap().to_owned();
    // Private: the directory and the file are the owner's alone.
    let dir_mode = std::fs::metadata(&bundle_dir).unwrap().permissions().mode() & 0o777;
    let file_mode = std::fs::metadata(&bundle).unwrap().permissions().mode() & 0o777;
    assert_eq!((dir_mode, file_mode), (0o700, 0o600), "{announced}");
    let exports: String = lines
        .iter()
        .filter(|l| l.starts_with("export "))
        .map(|l| format!("{l}\n"))
        .collect();
    let env_file = home.join("proxy.env");
    std::fs::write(&env_file, exports).unwrap();

    // curl on the host, with nothing but the printed variables.
    let script = format!(
        ". {env}\n\
         echo '=== get-https'; curl -sS --max-time 20 {https}/get; echo\n\
         echo '=== get-http'; curl -sS --max-time 20 {http}/get; echo\n\
         echo '=== post-https'; curl -sS -i --max-time 20 -X POST --data x {https}/post; echo\n\
         echo '=== post-http'; curl -sS -i --max-time 20 -X POST --data x {http}/post; echo\n",
        env = env_file.display(),
        https = format!("https://127.0.0.1:{}", https.port),
        http = format!("http://127.0.0.1:{}", http.port),
    );
    let output = Command::new("sh")
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let parts = sections(&output);
    for scheme in ["http", "https"] {
        assert_eq!(
            section(&parts, &format!("get-{scheme}"), &output).trim(),
            "GET ok",
            "{all}\n{}",
            text(&output)
        );
        assert_refused(
            section(&parts, &format!("post-{scheme}"), &output),
            &format!("POST {scheme}"),
            &output,
        );
    }
    assert_eq!(http.seen(), ["GET /get"]);
    assert_eq!(https.seen(), ["GET /get"]);
    let events: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_one_refusal(&events, http.port, "/post", "POST");
    assert_one_refusal(&events, https.port, "/post", "POST");

    // SIGTERM: the proxy stops, and its bundle goes with it.
    let pid = libc::pid_t::try_from(proxy.child.id()).unwrap();
    // SAFETY: kill(2) on the child this test started and still holds.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = proxy.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the proxy ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    let _ = stderr.read_to_string(&mut err);
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(!bundle.exists(), "{announced} outlived the proxy");
    assert!(
        !bundle_dir.exists(),
        "{} outlived the proxy",
        bundle_dir.display()
    );
}

/// The sandbox's PID 1 is a copy of the process that made the run's
/// certificate authority: its memory (and environment, descriptors) must be
/// out of the command's reach, or the command could sign certificates the
/// bundle trusts.
#[test]
fn the_authority_key_is_out_of_the_commands_reach() {
    skip_unless_ready!("the_authority_key_is_out_of_the_commands_reach");
    let setup = Setup::new();
    // `/proc` is the host's: the sandbox's PID 1 is found by the host pid
    // the kernel reports as this shell's parent.
    let script = "while read -r key value; do \
                    [ \"$key\" = PPid: ] && init=$value; \
                  done < /proc/self/status; \
                  grep '^NSpid:' /proc/$init/status; \
                  tr '\\0' ' ' < /proc/$init/cmdline; echo; \
                  for f in mem maps environ; do \
                    if head -c 1 /proc/$init/$f > /dev/null 2>&1; then echo \"READ $f\"; \
                    else echo \"refused $f\"; fi; \
                  done";
    let output = setup.run("net-read-only", &[], script);
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The parent is the sandbox's PID 1, a copy of codex-policy.
    let nspid = stdout.lines().next().unwrap_or_default();
    assert!(nspid.ends_with("\t1"), "{}", text(&output));
    assert!(stdout.contains("codex-policy"), "{}", text(&output));
    for file in ["mem", "maps", "environ"] {
        assert!(
            stdout.contains(&format!("refused {file}")),
            "PID 1's {file} readable: {}",
            text(&output)
        );
    }
}

/// A command of another session running beside a limited run — with the
/// directories that hold `$CODEX_HOME` and `/tmp` writable — finds no bundle
/// of that run anywhere on the host to plant an authority in: it exists only
/// in the limited run's own sandbox, unchanged until the end.
#[test]
fn another_sandbox_cannot_touch_a_live_bundle() {
    skip_unless_ready!("another_sandbox_cannot_touch_a_live_bundle");
    let setup = Setup::new();
    let limited = setup
        .fixture
        .command(
            "net-read-only",
            &["--runtime", setup.rc.as_str(), "--no-audit"],
            &[
                "bash",
                "-c",
                "cksum < \"$SSL_CERT_FILE\"; echo started > /dev/stderr; sleep 3; \
                 cksum < \"$SSL_CERT_FILE\"",
            ],
        )
        .env("SSL_CERT_FILE", &setup.ca_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(800));
    let base = setup.fixture.codex_home.parent().unwrap();
    let attack = format!(
        "found=$(find {base} -name '*ca-bundle*' 2>/dev/null | head -5); \
         echo \"found: $found\"; \
         for f in $found; do echo '# PLANTED' >> \"$f\" && echo \"APPENDED $f\"; done; \
         echo '# PLANTED' >> {BUNDLE_IN_SANDBOX} 2>/dev/null && echo APPENDED-OWN; \
         touch {base}/writable-here && echo BASE-WRITABLE",
        base = base.display(),
    );
    let other = setup
        .fixture
        .command(
            "workspace",
            &["--no-audit", "--writable-root", base.to_str().unwrap()],
            &["bash", "-c", &attack],
        )
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&other.stdout);
    assert!(said.contains("BASE-WRITABLE"), "{}", text(&other));
    assert!(
        said.contains("found: \n"),
        "a bundle on the host: {}",
        text(&other)
    );
    assert!(!said.contains("APPENDED"), "{}", text(&other));
    let output = limited.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let sums: Vec<&str> = stdout.lines().collect();
    assert_eq!(sums.len(), 2, "{}", text(&output));
    assert_eq!(sums[0], sums[1], "the bundle changed: {}", text(&output));
}

/// The standalone proxy writes its bundle (for programs on the host) only
/// in private directories of this user: a `$CODEX_HOME/ca-bundles` that is a
/// link, or that others may write, is refused before anything listens.
#[test]
fn a_bundle_directory_that_is_not_private_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    for case in ["link", "world-writable"] {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path();
        let codex_home = home.join("codex-home");
        std::fs::create_dir(&codex_home).unwrap();
        std::fs::set_permissions(&codex_home, std::fs::Permissions::from_mode(0o700)).unwrap();
        let bundles = codex_home.join("ca-bundles");
        let elsewhere = home.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        match case {
            "link" => std::os::unix::fs::symlink(&elsewhere, &bundles).unwrap(),
            _ => {
                std::fs::create_dir(&bundles).unwrap();
                std::fs::set_permissions(&bundles, std::fs::Permissions::from_mode(0o777)).unwrap();
            }
        }
        let output = Command::new(common::codex_policy_bin())
            .env_clear()
            .env("HOME", home)
            .env("CODEX_HOME", &codex_home)
            .args(["--profile", "net-read-only", "proxy", "--no-audit"])
            .args(["--listen", "127.0.0.1:0", "--socks", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(125), "{case}: {}", text(&output));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("is not a directory of this user that only it may write"),
            "{case}: {}",
            text(&output)
        );
        assert!(!String::from_utf8_lossy(&output.stdout).contains("listening"));
        assert_eq!(
            std::fs::read_dir(&elsewhere).unwrap().count(),
            0,
            "{case}: something was written through the link"
        );
    }
}
