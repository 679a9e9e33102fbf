//! `cargo xtask bench limited`: the read-only network (limited mode, HTTPS
//! inspected) against the same HTTPS download direct, and against a plain
//! `CONNECT` tunnel, in one hyperfine run; plus criterion's added latency
//! per HTTPS request.

use std::fmt::Write as _;
use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::bench::{
    DOWNLOAD_BYTES, answer_download, criterion_bench, criterion_median, host_line,
    hyperfine_medians, read_head,
};

/// A loopback HTTPS server (rustls, a thread per connection) whose
/// certificate, for `127.0.0.1`, a test authority signs; `/big` answers
/// [`DOWNLOAD_BYTES`], anything else two bytes. Returns its port and the
/// authority's PEM.
fn https_download_server() -> Result<(u16, String), String> {
    let err = |e: rcgen::Error| e.to_string();
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Names of their own: a leaf whose subject were its issuer's would look
    // self-signed to OpenSSL.
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "codex-policy benchmark CA");
    let ca_cert = ca_params.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().map_err(err)?;
    let mut leaf_params = CertificateParams::new(vec!["127.0.0.1".to_owned()]).map_err(err)?;
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "127.0.0.1");
    let leaf = leaf_params.signed_by(&key, &issuer).map_err(err)?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(
        vec![leaf.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .map_err(|e| e.to_string())?;
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                let Ok(connection) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = rustls::StreamOwned::new(connection, stream);
                let Some(head) = read_head(&mut tls) else {
                    return;
                };
                if answer_download(&mut tls, &head, DOWNLOAD_BYTES).is_err() {
                    return;
                }
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    Ok((port, ca_cert.pem()))
}

/// The section: throughput (hyperfine) and added latency (criterion).
pub(crate) fn limited_section(
    bin: &Path,
    root: &Path,
    codex_home: &Path,
) -> Result<String, String> {
    let (port, ca_pem) = https_download_server()?;
    let work = root.join("target/bench/limited");
    let workspace = work.join("workspace");
    std::fs::create_dir_all(&workspace).map_err(|e| e.to_string())?;
    let ca = work.join("test-ca.pem");
    std::fs::write(&ca, ca_pem).map_err(|e| e.to_string())?;
    // The loopback server is reachable only because its IP literal is
    // allowlisted exactly (local addresses are refused otherwise).
    let rc = work.join("codexrc.json");
    std::fs::write(
        &rc,
        r#"{"environment_context": {"name": "dev", "network_access": "enabled",
            "outbound_policy": {"mode": "allowlist", "dns_allow": ["127.0.0.1"]}}}"#,
    )
    .map_err(|e| e.to_string())?;
    let url = format!("https://127.0.0.1:{port}/big");
    let ws = workspace.display().to_string();
    let run_with = |profile: &str, command: &str| {
        format!(
            "{} --profile {profile} run --no-audit --cwd {ws} --runtime {} -- {command}",
            bin.display(),
            rc.display()
        )
    };
    let cases: Vec<(&str, String)> = vec![
        (
            "curl, direct",
            format!("curl -sf --cacert {} -o /dev/null {url}", ca.display()),
        ),
        (
            "run (workspace-net, filtered) -- curl through a CONNECT tunnel",
            run_with(
                "workspace-net",
                &format!("curl -sf --cacert {} -o /dev/null {url}", ca.display()),
            ),
        ),
        (
            "run (net-read-only) -- curl, HTTPS inspected",
            run_with("net-read-only", &format!("curl -sf -o /dev/null {url}")),
        ),
    ];
    let runs = "10";
    let mut command = Command::new("hyperfine");
    command
        .env("CODEX_HOME", codex_home)
        // The proxy verifies the loopback server against the test authority.
        .env("SSL_CERT_FILE", &ca)
        .env_remove("SSL_CERT_DIR");
    let medians = hyperfine_medians(command, &cases, runs, &work.join("limited.json"))?;
    let mib = DOWNLOAD_BYTES as f64 / f64::from(1u32 << 20);
    let mut out = String::new();
    let _ = writeln!(out, "## Read-only network: an HTTPS download, inspected\n");
    let _ = writeln!(
        out,
        "Made by `cargo xtask bench` (or `cargo xtask bench limited`) on {}: hyperfine -N, \
         {runs} runs, one session; curl downloads {mib:.0} MiB over HTTPS from a loopback \
         server (rustls, allowlisted by its IP literal). Inspected, the proxy decrypts and \
         re-encrypts every byte; a plain tunnel copies them.\n",
        host_line()
    );
    let _ = writeln!(
        out,
        "| command | median (s) | MiB/s | × direct |\n|---|---|---|---|"
    );
    let direct = medians[0];
    for ((name, _), median) in cases.iter().zip(&medians) {
        let _ = writeln!(
            out,
            "| {name} | {median:.3} | {:.0} | {:.2} |",
            mib / median,
            direct / median
        );
    }
    let ratio = direct / medians[2];
    let _ = writeln!(
        out,
        "\n| goal | measured | |\n|---|---|---|\n| HTTPS download through limited mode ≥ 0.7× \
         direct | {ratio:.2}× | {} |",
        if ratio >= 0.7 { "met" } else { "NOT met" }
    );
    out.push_str(&inspection_latency()?);
    Ok(out.trim_end().to_owned())
}

/// Criterion medians of one HTTPS `GET` direct and inspected, one run.
fn inspection_latency() -> Result<String, String> {
    criterion_bench("codex-network-proxy", "proxy", "5")?;
    let median = |id: &str| criterion_median(&format!("limited/{id}")).map(|ns| ns / 1e3);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n### Added latency (`cargo bench -p codex-network-proxy --bench proxy`, group `limited`)\n\n\
         Criterion medians, one run, the proxy in-process on loopback, a rustls client and \
         server: a `GET` (2-byte answer) on a kept-alive TLS connection, and a fresh \
         connection (TCP, TLS handshake, `GET`) — direct, and through limited mode (`CONNECT`, \
         the client's handshake with the proxy, the proxy's with the server).\n\n\
         | exchange | direct (µs) | inspected (µs) | added (µs) |\n|---|---|---|---|"
    );
    for (name, direct, inspected) in [
        (
            "`GET` on a kept-alive connection",
            "https_request_direct",
            "https_request_inspected",
        ),
        (
            "new connection + handshake + `GET`",
            "https_connect_direct",
            "https_connect_inspected",
        ),
    ] {
        let (d, i) = (median(direct)?, median(inspected)?);
        let _ = writeln!(out, "| {name} | {d:.1} | {i:.1} | {:.1} |", i - d);
    }
    Ok(out)
}
