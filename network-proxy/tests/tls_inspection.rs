//! Limited mode inspects tunnels: HTTPS (CONNECT or SOCKS5) is terminated
//! with a leaf certificate the run's authority signs for the tunnel's host,
//! each request inside is checked (read-only, origin-form, the tunnel's
//! host) and forwarded over TLS verified against the upstream roots;
//! anything that cannot be read as HTTP is closed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use codex_audit::{AuditDecision, AuditEvent};
use codex_network_proxy::{HardLimits, InspectionCa, UpstreamRoots, trust_environment};
use codex_policy_model::NetworkMode;
use codex_policy_model::effective::EgressRules;
use common::*;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const BLOCK: &str = "codex.network_proxy.block_decision";

fn limited() -> EgressRules {
    rules(&["allowed.test"]).with_mode(NetworkMode::Limited)
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A limited-mode proxy whose upstream roots are `roots_pem`, and the
/// bundle a client trusts (those roots and the run's authority), written to
/// a file.
struct Inspecting {
    p: TestProxy,
    ca: InspectionCa,
    bundle: tempfile::NamedTempFile,
}

impl Inspecting {
    fn start(rules: EgressRules, roots_pem: &str, hard: HardLimits) -> Self {
        let ca = InspectionCa::generate().unwrap();
        let roots = UpstreamRoots::from_pem(roots_pem.as_bytes(), "test roots").unwrap();
        let mut bundle = tempfile::NamedTempFile::new().unwrap();
        bundle
            .write_all(roots.trust_bundle(&ca).as_bytes())
            .unwrap();
        bundle.flush().unwrap();
        let p = start_with(
            rules,
            Options {
                hard,
                inspection: Some((ca.clone(), roots)),
                ..Options::default()
            },
        );
        Self { p, ca, bundle }
    }

    fn proxy_url(&self) -> String {
        format!("http://{}", self.p.http)
    }

    fn cacert(&self) -> String {
        self.bundle.path().display().to_string()
    }

    /// curl through a CONNECT tunnel, trusting the bundle, with `args`.
    async fn curl(&self, args: &[&str]) -> Option<std::process::Output> {
        let proxy = self.proxy_url();
        let cacert = self.cacert();
        let mut all = vec![
            "--proxytunnel",
            "--suppress-connect-headers",
            "-x",
            &proxy,
            "--cacert",
            &cacert,
        ];
        all.extend_from_slice(args);
        curl(&all).await
    }

    fn events_with_reason(&self, prefix: &str) -> Vec<AuditEvent> {
        events_with_reason(&self.p, prefix)
    }
}

fn events_with_reason(p: &TestProxy, prefix: &str) -> Vec<AuditEvent> {
    p.events()
        .into_iter()
        .filter(|e| e.reason.as_deref().unwrap_or_default().starts_with(prefix))
        .collect()
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts curl's `-i` output is a refusal with `status` and `reason`.
fn assert_curl_refused(out: &std::process::Output, status: u16, reason: &str) {
    let text = stdout(out).to_lowercase();
    assert!(text.starts_with(&format!("http/1.1 {status} ")), "{out:?}");
    assert!(
        text.contains(&format!("x-codex-policy-reason: {reason}\r\n")),
        "{out:?}"
    );
    assert!(
        text.contains("x-codex-policy-decision: deny\r\n"),
        "{out:?}"
    );
}

/// The inner requests' events (their targets name a path).
fn request_events(p: &TestProxy) -> Vec<AuditEvent> {
    p.events()
        .into_iter()
        .filter(|e| e.http.is_some())
        .collect()
}

/// A rustls client trusting only `root`, for `name`.
fn tls_connector(root: &CertificateDer<'static>) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(root.clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn name(text: &str) -> ServerName<'static> {
    ServerName::try_from(text.to_owned()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_get_and_head_pass_and_are_audited() {
    let (mut up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let authority = format!("allowed.test:{}", up.addr.port());
    let url = format!("https://{authority}/read?q=1");

    let Some(out) = t.curl(&["-i", &url]).await else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(text.starts_with("HTTP/1.1 200"), "{out:?}");
    assert!(text.ends_with("upstream saw /read?q=1"), "{out:?}");
    let seen = up.next_seen().await;
    assert_eq!(seen.request_line, "GET /read?q=1 HTTP/1.1");
    assert_eq!(seen.header("host"), Some(authority.as_str()));

    let Some(out) = t.curl(&["-I", &url]).await else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with("HTTP/1.1 200"), "{out:?}");
    assert_eq!(up.next_seen().await.request_line, "HEAD /read?q=1 HTTP/1.1");

    // Each tunnel: one event for the CONNECT, one per request inside it.
    let events = t.p.events();
    assert!(
        events.iter().all(|e| e.decision == AuditDecision::Allowed),
        "{events:#?}"
    );
    let tunnels: Vec<_> = events.iter().filter(|e| e.http.is_none()).collect();
    assert_eq!(tunnels.len(), 2, "{events:#?}");
    assert!(tunnels.iter().all(|e| e.target == authority), "{events:#?}");
    let requests = request_events(&t.p);
    let described: Vec<_> = requests
        .iter()
        .map(|e| {
            (
                e.target.clone(),
                e.http.as_ref().unwrap().method.clone().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            (format!("{authority}/read?q=1"), "GET".to_owned()),
            (format!("{authority}/read?q=1"), "HEAD".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_write_methods_are_refused_with_the_reason_visible() {
    let (mut up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let authority = format!("allowed.test:{}", up.addr.port());
    let url = format!("https://{authority}/w");
    let cases: [(&str, &[&str]); 5] = [
        ("POST", &["-d", "secret=1"]),
        ("PUT", &["-X", "PUT", "-d", "x"]),
        ("DELETE", &["-X", "DELETE"]),
        ("PATCH", &["-X", "PATCH", "-d", "x"]),
        ("GET", &["-X", "GET", "-d", "x"]),
    ];
    for (method, args) in cases {
        let mut all = vec!["-i"];
        all.extend_from_slice(args);
        all.push(&url);
        let Some(out) = t.curl(&all).await else {
            return;
        };
        assert_curl_refused(&out, 403, "method_not_allowed");
        let refusals = t.events_with_reason("method_not_allowed: ");
        let last = refusals.last().expect("no refusal event");
        assert_eq!(last.decision, AuditDecision::Denied, "{last:#?}");
        assert_eq!(last.event_name.as_deref(), Some(BLOCK), "{last:#?}");
        assert_eq!(
            last.http.as_ref().and_then(|h| h.method.as_deref()),
            Some(method),
            "{last:#?}"
        );
        let why = if method == "GET" {
            "a request body on GET".to_owned()
        } else {
            format!("method {method}")
        };
        assert_eq!(last.target, format!("{authority}/w ({why})"), "{last:#?}");
    }
    assert_eq!(t.events_with_reason("method_not_allowed: ").len(), 5);
    // The upstream never saw a request (the tunnels' TLS connections to it
    // were made, no request went on them).
    assert!(up.seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_upgrade_inside_tls_is_refused() {
    let (mut up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let url = format!("https://allowed.test:{}/socket", up.addr.port());
    let Some(out) = t
        .curl(&[
            "-i",
            "-H",
            "Connection: Upgrade",
            "-H",
            "Upgrade: websocket",
            "-H",
            "Sec-WebSocket-Version: 13",
            "-H",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            &url,
        ])
        .await
    else {
        return;
    };
    assert_curl_refused(&out, 403, "method_not_allowed");
    let refusals = t.events_with_reason("method_not_allowed: ");
    assert_eq!(refusals.len(), 1, "{:#?}", t.p.events());
    assert!(
        refusals[0]
            .target
            .ends_with("/socket (an upgrade to websocket)"),
        "{refusals:#?}"
    );
    assert!(up.seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_client_falls_back_to_http11() {
    let (mut up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let url = format!("https://allowed.test:{}/h2", up.addr.port());
    let Some(out) = t.curl(&["--http2", "-w", "|%{http_version}", &url]).await else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "upstream saw /h2|1.1");
    assert_eq!(up.next_seen().await.request_line, "GET /h2 HTTP/1.1");

    // And a POST over it is still refused.
    let Some(out) = t.curl(&["--http2", "-i", "-d", "x", &url]).await else {
        return;
    };
    assert_curl_refused(&out, 403, "method_not_allowed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_authority_is_not_inspected() {
    let (mut up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let authority = format!("allowed.test:{}", up.addr.port());

    // A rustls client that trusts only the upstream's real authority: it
    // would accept the upstream, not the proxy's leaf.
    let (reply, stream) = connect_tunnel(t.p.http, &authority).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let handshake = tls_connector(&up_ca.ca_der)
        .connect(name("allowed.test"), stream)
        .await;
    let Err(err) = handshake else {
        panic!("the client accepted the proxy's leaf");
    };
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    eventually(
        || events_with_reason(&t.p, "not_inspectable: ").len() == 1,
        "the not_inspectable event",
    )
    .await;
    let event = &events_with_reason(&t.p, "not_inspectable: ")[0];
    assert_eq!(event.decision, AuditDecision::Denied, "{event:#?}");
    assert_eq!(event.event_name.as_deref(), Some(BLOCK), "{event:#?}");
    assert!(
        event.target.starts_with(&format!(
            "{authority} (the TLS handshake with the client failed"
        )),
        "{event:#?}"
    );

    // curl with its own default roots, not told about the run's authority.
    let url = format!("https://{authority}/");
    let proxy = t.proxy_url();
    if let Some(out) = curl(&["--proxytunnel", "-x", &proxy, &url]).await {
        assert_eq!(out.status.code(), Some(60), "{out:?}");
        eventually(
            || events_with_reason(&t.p, "not_inspectable: ").len() == 2,
            "the second not_inspectable event",
        )
        .await;
    }
    assert!(up.seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_run_has_its_own_authority() {
    let one = InspectionCa::generate().unwrap();
    let two = InspectionCa::generate().unwrap();
    assert_ne!(one.certificate_der(), two.certificate_der());
    assert_ne!(one.certificate_pem(), two.certificate_pem());
    for ca in [&one, &two] {
        let pem = ca.certificate_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"), "{pem}");
        assert!(
            pem.trim_end().ends_with("-----END CERTIFICATE-----"),
            "{pem}"
        );
        // The PEM is the DER.
        let roots = UpstreamRoots::from_pem(pem.as_bytes(), "ca").unwrap();
        assert_eq!(roots.len(), 1);
        let bundle = roots.trust_bundle(ca);
        assert_eq!(bundle.matches("-----BEGIN CERTIFICATE-----").count(), 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_leaf_names_the_tunnels_host_and_chains_to_the_authority() {
    let (up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let authority = format!("allowed.test:{}", up.addr.port());
    let ca_der = CertificateDer::from(t.ca.certificate_der().to_vec());

    let (reply, stream) = connect_tunnel(t.p.http, &authority).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let tls = tls_connector(&ca_der)
        .connect(name("allowed.test"), stream)
        .await
        .expect("a client trusting only the run's authority accepts the leaf");
    let (_, session) = tls.get_ref();
    assert_eq!(session.alpn_protocol(), None);
    let chain: Vec<CertificateDer<'static>> = session
        .peer_certificates()
        .unwrap()
        .iter()
        .map(|c| c.clone().into_owned())
        .collect();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[1].as_ref(), t.ca.certificate_der());

    let verifier = |root: &CertificateDer<'static>| {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.clone()).unwrap();
        rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider())
            .build()
            .unwrap()
    };
    let by_ca = verifier(&ca_der);
    let now = UnixTime::now();
    by_ca
        .verify_server_cert(&chain[0], &chain[1..], &name("allowed.test"), &[], now)
        .expect("the leaf verifies for allowed.test");
    assert!(
        by_ca
            .verify_server_cert(&chain[0], &chain[1..], &name("other.test"), &[], now)
            .is_err(),
        "the leaf must name allowed.test only"
    );
    // It does not verify against another authority (the upstream's).
    assert!(
        verifier(&up_ca.ca_der)
            .verify_server_cert(&chain[0], &chain[1..], &name("allowed.test"), &[], now)
            .is_err()
    );
    // Another run's authority does not sign it either.
    let other_run = InspectionCa::generate().unwrap();
    let other_der = CertificateDer::from(other_run.certificate_der().to_vec());
    assert!(
        verifier(&other_der)
            .verify_server_cert(&chain[0], &[], &name("allowed.test"), &[], now)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_that_does_not_verify_is_answered_502() {
    for monitor in [false, true] {
        let (mut up, _up_ca) = tls::upstream(Behavior::Answer).await;
        // The roots are an authority that did not sign the upstream.
        let unrelated = InspectionCa::generate().unwrap();
        let t = Inspecting::start(
            limited().with_monitor(monitor),
            unrelated.certificate_pem(),
            HardLimits::default(),
        );
        let authority = format!("allowed.test:{}", up.addr.port());
        let url = format!("https://{authority}/secret");
        let Some(out) = t.curl(&["-i", &url]).await else {
            return;
        };
        assert_curl_refused(&out, 502, "upstream_tls");
        let refusals = t.events_with_reason("upstream_tls: ");
        assert_eq!(refusals.len(), 1, "monitor {monitor}: {:#?}", t.p.events());
        assert_eq!(refusals[0].decision, AuditDecision::Denied);
        assert_eq!(refusals[0].event_name.as_deref(), Some(BLOCK));
        assert!(
            refusals[0].target.starts_with(&format!("{authority} (")),
            "{refusals:#?}"
        );
        assert!(up.seen.try_recv().is_err(), "monitor {monitor}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_host_inside_the_tunnel_is_refused_400() {
    let (mut up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let authority = format!("allowed.test:{}", up.addr.port());
    let url = format!("https://{authority}/front");
    let front = format!("Host: other.test:{}", up.addr.port());
    let Some(out) = t.curl(&["-i", "-H", &front, &url]).await else {
        return;
    };
    assert!(stdout(&out).starts_with("HTTP/1.1 400 "), "{out:?}");
    let malformed = t.events_with_reason("malformed request: ");
    assert_eq!(malformed.len(), 1, "{:#?}", t.p.events());
    assert_malformed(&malformed[0], &format!("{authority}/front"));
    assert!(request_events(&t.p).is_empty(), "{:#?}", t.p.events());
    assert!(up.seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn absolute_form_inside_the_tunnel_is_refused_400() {
    let (mut up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let authority = format!("allowed.test:{}", up.addr.port());
    let url = format!("https://{authority}/abs");
    let target = format!("https://other.test:{}/abs", up.addr.port());
    let Some(out) = t.curl(&["-i", "--request-target", &target, &url]).await else {
        return;
    };
    assert!(stdout(&out).starts_with("HTTP/1.1 400 "), "{out:?}");
    let malformed = t.events_with_reason("malformed request: ");
    assert_eq!(malformed.len(), 1, "{:#?}", t.p.events());
    assert_malformed(&malformed[0], &target);
    assert!(up.seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_waits_for_the_server_is_closed() {
    let mut up = upstream(Behavior::Answer).await;
    let hard = HardLimits {
        handshake_timeout: Duration::from_millis(300),
        ..HardLimits::default()
    };
    let unrelated = InspectionCa::generate().unwrap();
    let t = Inspecting::start(limited(), unrelated.certificate_pem(), hard);
    let authority = format!("allowed.test:{}", up.addr.port());
    let (reply, mut stream) = connect_tunnel(t.p.http, &authority).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let started = std::time::Instant::now();
    assert!(closed_by_peer(&mut stream).await);
    assert!(started.elapsed() >= Duration::from_millis(250));
    eventually(
        || events_with_reason(&t.p, "not_inspectable: ").len() == 1,
        "the not_inspectable event",
    )
    .await;
    let event = &events_with_reason(&t.p, "not_inspectable: ")[0];
    assert_eq!(event.decision, AuditDecision::Denied, "{event:#?}");
    assert!(
        event
            .target
            .starts_with(&format!("{authority} (the client sent nothing")),
        "{event:#?}"
    );
    assert!(up.seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_that_is_not_http_is_closed() {
    let mut up = upstream(Behavior::Answer).await;
    let unrelated = InspectionCa::generate().unwrap();
    let t = Inspecting::start(
        limited(),
        unrelated.certificate_pem(),
        HardLimits::default(),
    );
    let authority = format!("allowed.test:{}", up.addr.port());
    let (reply, mut stream) = connect_tunnel(t.p.http, &authority).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    stream
        .write_all(b"SSH-2.0-OpenSSH_9.6\r\n\x00\x00\x05\xdc\x07\x14")
        .await
        .unwrap();
    assert!(closed_by_peer(&mut stream).await);
    eventually(
        || events_with_reason(&t.p, "not_inspectable: ").len() == 1,
        "the not_inspectable event",
    )
    .await;
    let event = &events_with_reason(&t.p, "not_inspectable: ")[0];
    assert!(
        event
            .target
            .starts_with(&format!("{authority} (not an HTTP/1.1 request")),
        "{event:#?}"
    );
    assert!(up.seen.try_recv().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_inside_connect_is_inspected_too() {
    let mut up = upstream(Behavior::Answer).await;
    let unrelated = InspectionCa::generate().unwrap();
    let t = Inspecting::start(
        limited(),
        unrelated.certificate_pem(),
        HardLimits::default(),
    );
    let authority = format!("allowed.test:{}", up.addr.port());
    let (reply, mut stream) = connect_tunnel(t.p.http, &authority).await;
    assert_eq!(reply.status, 200, "{reply:#?}");

    stream
        .write_all(format!("GET /p HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let reply = read_reply(&mut stream, false).await.expect("no answer");
    assert_eq!(reply.status, 200, "{reply:#?}");
    assert_eq!(reply.body, "upstream saw /p");
    assert_eq!(up.next_seen().await.request_line, "GET /p HTTP/1.1");

    // The same connection, a POST: refused, and the connection ends.
    stream
        .write_all(
            format!("POST /p HTTP/1.1\r\nHost: {authority}\r\nContent-Length: 6\r\n\r\nsecret")
                .as_bytes(),
        )
        .await
        .unwrap();
    let reply = read_reply(&mut stream, false).await.expect("no answer");
    reply.assert_blocked(403, "deny", "method_not_allowed");
    assert!(closed_by_peer(&mut stream).await);
    let refusals = t.events_with_reason("method_not_allowed: ");
    assert_eq!(refusals.len(), 1, "{:#?}", t.p.events());
    assert_eq!(refusals[0].target, format!("{authority}/p (method POST)"));
    assert!(up.seen.try_recv().is_err(), "the upstream saw the POST");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socks5_https_is_inspected() {
    let (mut up, up_ca) = tls::upstream(Behavior::Answer).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let socks = format!("{}", t.p.socks);
    let cacert = t.cacert();
    let url = format!("https://allowed.test:{}/s", up.addr.port());
    let Some(out) = curl(&["--socks5-hostname", &socks, "--cacert", &cacert, &url]).await else {
        return;
    };
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "upstream saw /s");
    assert_eq!(up.next_seen().await.request_line, "GET /s HTTP/1.1");

    let Some(out) = curl(&[
        "--socks5-hostname",
        &socks,
        "--cacert",
        &cacert,
        "-i",
        "-d",
        "x",
        &url,
    ])
    .await
    else {
        return;
    };
    assert_curl_refused(&out, 403, "method_not_allowed");
    assert!(up.seen.try_recv().is_err());
    assert_eq!(t.events_with_reason("method_not_allowed: ").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_requests_share_one_inspected_connection() {
    for behavior in [Behavior::Answer, Behavior::AnswerClose] {
        let (mut up, up_ca) = tls::upstream(behavior).await;
        let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
        let base = format!("https://allowed.test:{}", up.addr.port());
        let (one, two, three) = (
            format!("{base}/one"),
            format!("{base}/two"),
            format!("{base}/three"),
        );
        let Some(out) = t
            .curl(&["-w", "|%{num_connects}\n", &one, &two, &three])
            .await
        else {
            return;
        };
        assert!(out.status.success(), "{behavior:?}: {out:?}");
        // One connection to the proxy, reused for the next two.
        assert_eq!(
            stdout(&out),
            "upstream saw /one|1\nupstream saw /two|0\nupstream saw /three|0\n",
            "{behavior:?}"
        );
        for path in ["/one", "/two", "/three"] {
            assert_eq!(
                up.next_seen().await.request_line,
                format!("GET {path} HTTP/1.1")
            );
        }
        // One tunnel; upstream, one connection kept alive, or a new one per
        // request when the upstream closes each.
        let tunnels = t.p.events().iter().filter(|e| e.http.is_none()).count();
        assert_eq!(tunnels, 1, "{:#?}", t.p.events());
        assert_eq!(request_events(&t.p).len(), 3);
        let expected = if behavior == Behavior::Answer { 1 } else { 3 };
        assert_eq!(up.connection_count(), expected, "{behavior:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rustls_client_reads_over_a_raw_tunnel() {
    // Without curl: CONNECT, TLS trusting the run's authority, two requests
    // on one connection, the second after the upstream closed the first.
    let (mut up, up_ca) = tls::upstream(Behavior::AnswerClose).await;
    let t = Inspecting::start(limited(), &up_ca.ca_pem, HardLimits::default());
    let authority = format!("allowed.test:{}", up.addr.port());
    let (reply, stream) = connect_tunnel(t.p.http, &authority).await;
    assert_eq!(reply.status, 200, "{reply:#?}");
    let ca_der = CertificateDer::from(t.ca.certificate_der().to_vec());
    let mut tls = tls_connector(&ca_der)
        .connect(name("allowed.test"), stream)
        .await
        .unwrap();
    for path in ["/a", "/b"] {
        tls.write_all(format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n").as_bytes())
            .await
            .unwrap();
        let reply = read_reply(&mut tls, false).await.expect("no answer");
        assert_eq!(reply.status, 200, "{reply:#?}");
        assert_eq!(reply.body, format!("upstream saw {path}"));
        // The upstream's Connection: close is the proxy's business.
        assert_eq!(reply.header("connection"), None, "{reply:#?}");
        assert_eq!(
            up.next_seen().await.request_line,
            format!("GET {path} HTTP/1.1")
        );
    }
    assert_eq!(up.connection_count(), 2);
    tls.write_all(b"DELETE /a HTTP/1.1\r\nHost: allowed.test\r\n\r\n")
        .await
        .unwrap();
    let reply = read_reply(&mut tls, false).await.expect("no answer");
    reply.assert_blocked(403, "deny", "method_not_allowed");
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(PATIENCE, tls.read_to_end(&mut rest)).await;
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn trust_environment_names_every_tool() {
    let vars = trust_environment(std::path::Path::new("/tmp/run/bundle.pem"));
    let names: Vec<_> = vars.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        names,
        [
            "SSL_CERT_FILE",
            "CURL_CA_BUNDLE",
            "REQUESTS_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
            "GIT_SSL_CAINFO",
            "PIP_CERT",
            "CARGO_HTTP_CAINFO",
        ]
    );
    assert!(vars.iter().all(|(_, v)| v == "/tmp/run/bundle.pem"));
}
