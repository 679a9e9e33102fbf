//! Loopback servers, clients and a proxy factory shared by the integration
//! tests. Every byte stays on 127.0.0.1 / ::1.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU16;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use codex_audit::{AuditDecision, AuditEvent, Operation};
use codex_network_proxy::{EgressProxy, HardLimits, InspectionCa, RunningProxy, UpstreamRoots};
use codex_policy_model::effective::EgressRules;
use codex_policy_model::{DomainPattern, IpRule};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Generous: no test asserts on time, only on things eventually happening.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// Parses a pattern.
pub fn pattern(text: &str) -> DomainPattern {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Rules allowing `allow`, with 127.0.0.1 reachable through `ip_allow` (the
/// names of the test resolver all map to it).
pub fn rules(allow: &[&str]) -> EgressRules {
    allow
        .iter()
        .fold(EgressRules::open(), |rules, p| rules.allowing(pattern(p)))
        .with_ip_allow(vec!["127.0.0.1/32".parse::<IpRule>().unwrap()])
}

/// Rules allowing `allow`, with no `ip_allow`.
pub fn rules_no_ip_allow(allow: &[&str]) -> EgressRules {
    allow
        .iter()
        .fold(EgressRules::open(), |rules, p| rules.allowing(pattern(p)))
}

pub fn ports(list: &[u16]) -> Vec<NonZeroU16> {
    list.iter().map(|&p| NonZeroU16::new(p).unwrap()).collect()
}

/// The names the test resolver knows; everything else does not resolve.
/// `*.test` names map to 127.0.0.1; `v6.test` to ::1; `mixed.test` to
/// 127.0.0.1 and 127.0.0.2 (the second outside the tests' `ip_allow`).
pub fn test_names() -> HashMap<String, Vec<IpAddr>> {
    let mut map = HashMap::new();
    for name in [
        "allowed.test",
        "other.test",
        "a.allowed.test",
        "b.a.allowed.test",
        "denied.allowed.test",
        "rebind.test",
        "xn--bcher-kva.test",
        "monitor.test",
        "denied.test",
        "slow.test",
    ] {
        map.insert(name.to_owned(), vec![LOCALHOST]);
    }
    map.insert("v6.test".to_owned(), vec!["::1".parse().unwrap()]);
    map.insert(
        "mixed.test".to_owned(),
        vec![LOCALHOST, "127.0.0.2".parse().unwrap()],
    );
    map.insert("empty.test".to_owned(), Vec::new());
    map
}

/// A running proxy with its addresses, the events it logged and the names
/// it resolved.
pub struct TestProxy {
    pub proxy: RunningProxy,
    pub http: SocketAddr,
    pub socks: SocketAddr,
    pub events: Arc<Mutex<Vec<AuditEvent>>>,
    pub resolved: Arc<Mutex<Vec<String>>>,
}

impl TestProxy {
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().unwrap().clone()
    }

    pub fn resolved(&self) -> Vec<String> {
        self.resolved.lock().unwrap().clone()
    }

    /// The only event logged so far.
    pub fn single_event(&self) -> AuditEvent {
        let events = self.events();
        assert_eq!(events.len(), 1, "{events:#?}");
        events.into_iter().next().unwrap()
    }
}

/// Options of [`start`].
#[derive(Default)]
pub struct Options {
    pub hard: HardLimits,
    pub audit_fails: bool,
    pub log_http: (bool, bool),
    /// Limited mode's authority and upstream roots (the builder's
    /// `inspection`); `None`: the proxy's own defaults.
    pub inspection: Option<(InspectionCa, UpstreamRoots)>,
}

pub fn start(rules: EgressRules) -> TestProxy {
    start_with(rules, Options::default())
}

pub fn start_with(rules: EgressRules, options: Options) -> TestProxy {
    let events = Arc::new(Mutex::new(Vec::new()));
    let resolved = Arc::new(Mutex::new(Vec::new()));
    let names = test_names();
    let resolved_log = Arc::clone(&resolved);
    let resolver = move |host: &str, _port: u16| -> io::Result<Vec<IpAddr>> {
        resolved_log.lock().unwrap().push(host.to_owned());
        names
            .get(host)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("{host}: unknown")))
    };
    let sink = Arc::clone(&events);
    let fails = options.audit_fails;
    let mut builder = EgressProxy::builder(rules);
    if let Some((ca, roots)) = options.inspection {
        builder = builder.inspection(ca, roots);
    }
    let proxy = builder
        .session_id("test-session")
        .resolver(resolver)
        .hard_limits(options.hard)
        .log_http(options.log_http.0, options.log_http.1)
        .audit(move |event| {
            sink.lock().unwrap().push(event);
            if fails {
                Err("disk full".to_owned())
            } else {
                Ok(())
            }
        })
        .start()
        .unwrap();
    let (http, socks) = proxy
        .bind(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
    TestProxy {
        proxy,
        http,
        socks,
        events,
        resolved,
    }
}

/// Asserts that `event` records the refusal of a malformed request whose
/// destination was given as `target`.
pub fn assert_malformed(event: &AuditEvent, target: &str) {
    assert_eq!(event.session_id, "test-session", "{event:?}");
    assert_eq!(event.operation, Operation::NetworkConnect, "{event:?}");
    assert_eq!(event.decision, AuditDecision::Denied, "{event:?}");
    assert_eq!(event.source, "network-proxy", "{event:?}");
    assert_eq!(
        event.event_name.as_deref(),
        Some("codex.network_proxy.block_decision"),
        "{event:?}"
    );
    let reason = event.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("malformed request: ") && reason.len() > 20,
        "{event:?}"
    );
    assert_eq!(event.target, target, "{event:?}");
}

/// Bytes as the proxy records a destination given as them: printable ASCII
/// as is, anything else (and `\`) as `\xNN`.
pub fn escaped(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_graphic() && b != b'\\' {
                char::from(b).to_string()
            } else {
                format!("\\x{b:02x}")
            }
        })
        .collect()
}

/// This host's own addresses, read with `getifaddrs` independently of the
/// proxy: IPv4 and IPv6, neither loopback nor link-local (those need no
/// interface to be reached by), sorted, without duplicates.
pub fn host_interface_addresses() -> Vec<IpAddr> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: a valid out-pointer; the list is freed once, below.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut cursor = head;
    while !cursor.is_null() {
        // SAFETY: a non-null entry of the list getifaddrs returned.
        let entry = unsafe { &*cursor };
        cursor = entry.ifa_next;
        let addr = entry.ifa_addr;
        if addr.is_null() {
            continue;
        }
        // SAFETY: the family says which sockaddr it is.
        let ip = match i32::from(unsafe { (*addr).sa_family }) {
            libc::AF_INET => {
                let sin = unsafe { &*addr.cast::<libc::sockaddr_in>() };
                IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
            }
            libc::AF_INET6 => {
                let sin6 = unsafe { &*addr.cast::<libc::sockaddr_in6>() };
                IpAddr::V6(std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr))
            }
            _ => continue,
        };
        let link_local = match ip {
            IpAddr::V4(v4) => v4.is_link_local(),
            IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
        };
        if !ip.is_loopback() && !link_local && !ip.is_unspecified() {
            out.push(ip);
        }
    }
    // SAFETY: the list getifaddrs returned; nothing of it is used after.
    unsafe { libc::freeifaddrs(head) };
    out.sort();
    out.dedup();
    out
}

// ---------------------------------------------------------------- servers

/// One request as the upstream server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub request_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn has_header(&self, name: &str) -> bool {
        self.header(name).is_some()
    }
}

/// How the upstream HTTP server behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behavior {
    /// Answers `200` with `upstream saw <path>`.
    Answer,
    /// Reads the request and never answers.
    Stall,
    /// Answers with `n` bytes of body.
    Big(usize),
    /// Sends the head and half the body, then nothing more.
    StallMidBody,
    /// Answers like [`Behavior::Answer`] with `Connection: close`, then
    /// closes the connection.
    AnswerClose,
}

/// A loopback HTTP/1.1 server that records what it receives.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: mpsc::UnboundedReceiver<Seen>,
    pub connections: Arc<Mutex<usize>>,
}

impl Upstream {
    pub async fn next_seen(&mut self) -> Seen {
        tokio::time::timeout(PATIENCE, self.seen.recv())
            .await
            .expect("the upstream saw no request")
            .expect("the upstream is gone")
    }

    pub fn connection_count(&self) -> usize {
        *self.connections.lock().unwrap()
    }

    /// No request arrived so far.
    pub fn saw_nothing(&mut self) -> bool {
        self.seen.try_recv().is_err() && self.connection_count() == 0
    }
}

pub async fn upstream(behavior: Behavior) -> Upstream {
    upstream_on("127.0.0.1:0", behavior).await
}

pub async fn upstream_on(addr: &str, behavior: Behavior) -> Upstream {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let connections = Arc::new(Mutex::new(0));
    let count = Arc::clone(&connections);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            *count.lock().unwrap() += 1;
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = serve_upstream(stream, tx, behavior).await;
            });
        }
    });
    Upstream {
        addr,
        seen: rx,
        connections,
    }
}

/// Serves HTTP/1.1 requests on `stream` (plain TCP, or TLS over it) as
/// `behavior` says, sending each request seen to `tx`. A `HEAD` is answered
/// without a body.
pub async fn serve_upstream<S>(
    stream: S,
    tx: mpsc::UnboundedSender<Seen>,
    behavior: Behavior,
) -> io::Result<()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (read, mut write) = tokio::io::split(stream);
    let mut reader = BufReader::new(read);
    loop {
        let Some(seen) = read_request(&mut reader).await? else {
            return Ok(());
        };
        let path = seen
            .request_line
            .split(' ')
            .nth(1)
            .unwrap_or_default()
            .to_owned();
        let head_only = seen.request_line.starts_with("HEAD ");
        let _ = tx.send(seen);
        match behavior {
            Behavior::Answer | Behavior::AnswerClose => {
                let body = format!("upstream saw {path}");
                let connection = if behavior == Behavior::AnswerClose {
                    "close"
                } else {
                    "keep-alive\r\nKeep-Alive: timeout=5"
                };
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: {connection}\r\nX-Upstream: yes\r\n\r\n{}",
                    body.len(),
                    if head_only { "" } else { body.as_str() }
                );
                write.write_all(response.as_bytes()).await?;
                write.flush().await?;
                if behavior == Behavior::AnswerClose {
                    write.shutdown().await?;
                    return Ok(());
                }
            }
            Behavior::Stall => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Behavior::StallMidBody => {
                write
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf!")
                    .await?;
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Behavior::Big(n) => {
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n");
                write.write_all(head.as_bytes()).await?;
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = n;
                while left > 0 {
                    let k = left.min(chunk.len());
                    write.write_all(&chunk[..k]).await?;
                    left -= k;
                }
            }
        }
    }
}

/// Reads one request (head, and a Content-Length or chunked body).
async fn read_request<R: AsyncRead + Unpin>(reader: &mut BufReader<R>) -> io::Result<Option<Seen>> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).await? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0u8; n + 2];
            reader.read_exact(&mut chunk).await?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body).await?;
    }
    Ok(Some(Seen {
        request_line: request_line.trim_end().to_owned(),
        headers,
        body,
    }))
}

/// A loopback echo server; counts connections open now.
pub struct Echo {
    pub addr: SocketAddr,
    pub open: Arc<Mutex<usize>>,
    pub accepted: Arc<Mutex<usize>>,
}

impl Echo {
    pub fn open_now(&self) -> usize {
        *self.open.lock().unwrap()
    }

    pub fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }

    /// Waits until no connection is open.
    pub async fn wait_all_closed(&self) {
        eventually(
            || self.open_now() == 0,
            "the echo server's connections to close",
        )
        .await;
    }
}

pub async fn echo() -> Echo {
    echo_on("127.0.0.1:0").await
}

pub async fn echo_on(addr: &str) -> Echo {
    let listener = TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let open = Arc::new(Mutex::new(0usize));
    let accepted = Arc::new(Mutex::new(0usize));
    let (o, a) = (Arc::clone(&open), Arc::clone(&accepted));
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            *o.lock().unwrap() += 1;
            *a.lock().unwrap() += 1;
            let o = Arc::clone(&o);
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                drop(stream);
                *o.lock().unwrap() -= 1;
            });
        }
    });
    Echo {
        addr,
        open,
        accepted,
    }
}

/// Polls `check` until it holds (or panics after [`PATIENCE`]).
pub async fn eventually(mut check: impl FnMut() -> bool, what: &str) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------- TLS

pub mod tls {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::sync::Arc;

    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A loopback HTTPS server (a thread per connection) with a fresh
    /// self-signed certificate for `allowed.test`; answers `hello over tls`.
    pub struct TlsServer {
        pub addr: SocketAddr,
        pub cert: CertificateDer<'static>,
    }

    pub fn server() -> TlsServer {
        let certified =
            rcgen::generate_simple_self_signed(vec!["allowed.test".to_owned()]).unwrap();
        let cert = certified.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        ));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.clone()], key)
            .unwrap();
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let config = Arc::clone(&config);
                std::thread::spawn(move || {
                    let Ok(conn) = rustls::ServerConnection::new(config) else {
                        return;
                    };
                    let mut tls = rustls::StreamOwned::new(conn, stream);
                    let mut reader = BufReader::new(&mut tls);
                    let mut line = String::new();
                    loop {
                        line.clear();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) if line == "\r\n" => break,
                            Ok(_) => {}
                        }
                    }
                    let body = "hello over tls";
                    let response = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = tls.write_all(response.as_bytes());
                    let _ = tls.flush();
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        TlsServer { addr, cert }
    }

    /// A test certificate authority (not the proxy's) and a leaf it signed
    /// for `allowed.test`, `other.test` and 127.0.0.1.
    pub struct UpstreamCa {
        /// The authority's certificate, PEM: what the proxy's upstream roots
        /// are made of.
        pub ca_pem: String,
        pub ca_der: CertificateDer<'static>,
        pub config: Arc<rustls::ServerConfig>,
    }

    pub fn upstream_ca() -> UpstreamCa {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "upstream test CA");
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca_params, ca_key);
        let leaf_key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec![
            "allowed.test".to_owned(),
            "other.test".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone(), ca_cert.der().clone()], key)
            .unwrap();
        UpstreamCa {
            ca_pem: ca_cert.pem(),
            ca_der: ca_cert.der().clone(),
            config: Arc::new(config),
        }
    }

    /// A loopback HTTPS server (tokio, keep-alive) with a certificate the
    /// returned [`UpstreamCa`] signed, behaving and recording like
    /// [`super::upstream`].
    pub async fn upstream(behavior: super::Behavior) -> (super::Upstream, UpstreamCa) {
        let ca = upstream_ca();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&ca.config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let connections = Arc::new(std::sync::Mutex::new(0));
        let count = Arc::clone(&connections);
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                *count.lock().unwrap() += 1;
                let tx = tx.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(stream).await {
                        let _ = super::serve_upstream(tls, tx, behavior).await;
                    }
                });
            }
        });
        (
            super::Upstream {
                addr,
                seen: rx,
                connections,
            },
            ca,
        )
    }

    /// A TLS GET over an established (tunnelled) blocking stream, trusting
    /// only `cert`; returns everything the server sent.
    pub fn get_over(
        stream: std::net::TcpStream,
        cert: &CertificateDer<'static>,
        name: &str,
    ) -> std::io::Result<String> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).map_err(std::io::Error::other)?;
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let server_name = ServerName::try_from(name.to_owned()).map_err(std::io::Error::other)?;
        let conn = rustls::ClientConnection::new(Arc::new(config), server_name)
            .map_err(std::io::Error::other)?;
        let mut tls = rustls::StreamOwned::new(conn, stream);
        tls.write_all(
            format!("GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n").as_bytes(),
        )?;
        let mut out = Vec::new();
        match tls.read_to_end(&mut out) {
            Ok(_) => {}
            // Some servers close without close_notify; what arrived counts.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => return Err(e),
        }
        Ok(String::from_utf8_lossy(&out).into_owned())
    }
}

// ---------------------------------------------------------------- clients

/// A response as a client saw it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Asserts a block answer: status, decision and reason headers, text body.
    pub fn assert_blocked(&self, status: u16, decision: &str, reason: &str) {
        assert_eq!(self.status, status, "{self:#?}");
        assert_eq!(
            self.header("x-codex-policy-decision"),
            Some(decision),
            "{self:#?}"
        );
        assert_eq!(
            self.header("x-codex-policy-reason"),
            Some(reason),
            "{self:#?}"
        );
        assert_eq!(self.header("content-type"), Some("text/plain"), "{self:#?}");
        assert!(
            self.body.starts_with("codex-policy: ")
                && self.body.ends_with(&format!("({reason})\n")),
            "{self:#?}"
        );
    }
}

/// Connects to `addr` (the proxy's HTTP listener).
pub async fn connect(addr: SocketAddr) -> TcpStream {
    tokio::time::timeout(PATIENCE, TcpStream::connect(addr))
        .await
        .expect("connect timed out")
        .expect("connect failed")
}

/// Sends `raw` on a fresh connection and reads one response.
pub async fn raw(addr: SocketAddr, raw: &str) -> Reply {
    let mut stream = connect(addr).await;
    stream.write_all(raw.as_bytes()).await.unwrap();
    read_reply(&mut stream, false).await.expect("no response")
}

/// `GET http://{target}{path}` through the proxy with a matching Host.
pub async fn get(proxy: SocketAddr, authority: &str, path: &str) -> Reply {
    raw(
        proxy,
        &format!("GET http://{authority}{path} HTTP/1.1\r\nHost: {authority}\r\n\r\n"),
    )
    .await
}

/// Reads one response head and its body (Content-Length or chunked; none
/// after a 2xx to CONNECT when `connect`). `None` when the connection closed
/// before a head.
pub async fn read_reply<R: AsyncRead + Unpin>(stream: &mut R, connect: bool) -> Option<Reply> {
    tokio::time::timeout(PATIENCE, read_reply_inner(stream, connect))
        .await
        .expect("reading a response timed out")
}

async fn read_reply_inner<R: AsyncRead + Unpin>(stream: &mut R, connect: bool) -> Option<Reply> {
    // Byte by byte: nothing past the head may be consumed (a tunnel follows).
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        match stream.read(&mut byte).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => head.push(byte[0]),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if connect && (200..300).contains(&status) {
        // The tunnel begins.
    } else if let Some(n) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        stream.read_exact(&mut body).await.ok()?;
    } else if find("transfer-encoding").is_some() {
        let mut reader = BufReader::new(stream);
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await.ok()?;
            let n = usize::from_str_radix(size.trim(), 16).ok()?;
            let mut chunk = vec![0u8; n + 2];
            reader.read_exact(&mut chunk).await.ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Some(Reply {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Sends `CONNECT target` and reads the answer; the stream is the tunnel
/// after a 200.
pub async fn connect_tunnel(proxy: SocketAddr, target: &str) -> (Reply, TcpStream) {
    let mut stream = connect(proxy).await;
    stream
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let reply = read_reply(&mut stream, true)
        .await
        .expect("no CONNECT answer");
    (reply, stream)
}

/// Whether the peer closed `stream` (EOF or reset) within [`PATIENCE`].
pub async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// SOCKS5 destinations.
pub enum SocksTarget<'a> {
    Name(&'a str),
    V4([u8; 4]),
    V6([u8; 16]),
}

/// Greets with no-auth, sends `command` for `target:port`; returns the
/// reply code (`None`: closed before a reply) and the stream.
pub async fn socks_request(
    proxy: SocketAddr,
    command: u8,
    target: SocksTarget<'_>,
    port: u16,
) -> (Option<u8>, TcpStream) {
    let mut stream = connect(proxy).await;
    stream.write_all(&[5, 1, 0]).await.unwrap();
    let mut method = [0u8; 2];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut method))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(method, [5, 0]);
    let mut request = vec![5, command, 0];
    match target {
        SocksTarget::Name(name) => {
            request.push(3);
            request.push(u8::try_from(name.len()).unwrap());
            request.extend_from_slice(name.as_bytes());
        }
        SocksTarget::V4(octets) => {
            request.push(1);
            request.extend_from_slice(&octets);
        }
        SocksTarget::V6(octets) => {
            request.push(4);
            request.extend_from_slice(&octets);
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    stream.write_all(&request).await.unwrap();
    let code = read_socks_reply(&mut stream).await;
    (code, stream)
}

/// Reads a SOCKS5 reply; its code.
pub async fn read_socks_reply(stream: &mut TcpStream) -> Option<u8> {
    let mut reply = [0u8; 10];
    match tokio::time::timeout(PATIENCE, stream.read_exact(&mut reply)).await {
        Ok(Ok(_)) => {
            assert_eq!(reply[0], 5, "{reply:?}");
            Some(reply[1])
        }
        _ => None,
    }
}

/// Writes `data` to an established tunnel and expects it echoed back.
pub async fn echo_roundtrip(stream: &mut TcpStream, data: &[u8]) {
    stream.write_all(data).await.unwrap();
    let mut back = vec![0u8; data.len()];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut back))
        .await
        .expect("echo timed out")
        .expect("echo failed");
    assert_eq!(back, data);
}

// ---------------------------------------------------------------- curl

pub const CURL: &str = "/usr/bin/curl";

/// Runs curl with `args` (never through the environment's proxies); `None`
/// when curl is not installed (the test prints SKIPPED and returns).
pub async fn curl(args: &[&str]) -> Option<std::process::Output> {
    if !std::path::Path::new(CURL).exists() {
        println!("SKIPPED: {CURL} is not installed");
        return None;
    }
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(CURL)
            .args(["-sS", "--max-time", "20"])
            .args(&args)
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("HTTPS_PROXY")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    Some(output)
}
