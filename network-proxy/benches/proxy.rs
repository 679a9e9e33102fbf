//! What the egress proxy adds per request and per tunnel set-up: the same
//! exchange with a loopback server direct and through the proxy, in one
//! criterion run (group `egress`); and what limited mode's HTTPS inspection
//! adds to an HTTPS request (group `limited`). Blocking clients and
//! thread-per-connection servers keep the baseline as cheap as loopback
//! allows.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;

use codex_network_proxy::{EgressProxy, InspectionCa, UpstreamRoots};
use codex_policy_model::effective::EgressRules;
use codex_policy_model::{DomainPattern, NetworkMode};
use criterion::{Criterion, criterion_group, criterion_main};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, StreamOwned};

/// Reads one HTTP response with a `Content-Length` body.
fn read_response(stream: &mut impl Read, buf: &mut Vec<u8>) {
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed mid-response");
        buf.extend_from_slice(&chunk[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if buf.len() >= end + 4 + length {
                assert!(head.starts_with("http/1.1 200"), "{head}");
                return;
            }
        }
    }
}

/// A keep-alive HTTP server answering `ok` to every request.
fn http_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                stream.set_nodelay(true).unwrap();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if stream
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .is_err()
                        {
                            return;
                        }
                    }
                    match stream.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    addr
}

/// Echoes every byte back.
fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                stream.set_nodelay(true).unwrap();
                let mut chunk = [0u8; 512];
                while let Ok(n @ 1..) = stream.read(&mut chunk) {
                    if stream.write_all(&chunk[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn echo_once(stream: &mut TcpStream) {
    stream.write_all(b"x").unwrap();
    let mut byte = [0u8; 1];
    stream.read_exact(&mut byte).unwrap();
}

fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

fn bench(c: &mut Criterion) {
    let http = http_server();
    let echo = echo_server();
    // Loopback is local: allowed only because its IP literal is listed.
    let rules = EgressRules::open().allowing("127.0.0.1".parse::<DomainPattern>().unwrap());
    let proxy = EgressProxy::builder(rules)
        .session_id("bench")
        .audit(|_| Ok(()))
        .start()
        .unwrap();
    let (proxy_http, proxy_socks) = proxy
        .bind(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
    let mut group = c.benchmark_group("egress");
    let mut buf = Vec::new();

    let request = format!("GET / HTTP/1.1\r\nHost: {http}\r\n\r\n");
    let mut direct = connect(http);
    group.bench_function("request_direct", |b| {
        b.iter(|| {
            direct.write_all(request.as_bytes()).unwrap();
            read_response(&mut direct, &mut buf);
        });
    });
    let proxied_request = format!("GET http://{http}/ HTTP/1.1\r\nHost: {http}\r\n\r\n");
    let mut through = connect(proxy_http);
    group.bench_function("request_through_proxy", |b| {
        b.iter(|| {
            through.write_all(proxied_request.as_bytes()).unwrap();
            read_response(&mut through, &mut buf);
        });
    });

    group.bench_function("connect_direct", |b| {
        b.iter(|| {
            let mut stream = connect(echo);
            echo_once(&mut stream);
        });
    });
    let connect_request = format!("CONNECT {echo} HTTP/1.1\r\nHost: {echo}\r\n\r\n");
    group.bench_function("connect_tunnel", |b| {
        b.iter(|| {
            let mut stream = connect(proxy_http);
            stream.write_all(connect_request.as_bytes()).unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).unwrap();
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"HTTP/1.1 200"));
            echo_once(&mut stream);
        });
    });
    let SocketAddr::V4(echo_v4) = echo else {
        unreachable!("bound to 127.0.0.1")
    };
    let mut socks_connect = vec![5, 1, 0, 1];
    socks_connect.extend_from_slice(&echo_v4.ip().octets());
    socks_connect.extend_from_slice(&echo_v4.port().to_be_bytes());
    group.bench_function("connect_socks5", |b| {
        b.iter(|| {
            let mut stream = connect(proxy_socks);
            stream.write_all(&[5, 1, 0]).unwrap();
            let mut choice = [0u8; 2];
            stream.read_exact(&mut choice).unwrap();
            stream.write_all(&socks_connect).unwrap();
            let mut reply = [0u8; 10];
            stream.read_exact(&mut reply).unwrap();
            assert_eq!(reply[1], 0, "SOCKS5 refused");
            echo_once(&mut stream);
        });
    });
    group.finish();
    proxy.stop();
}

/// A keep-alive HTTPS server answering `ok`, with a certificate for
/// `127.0.0.1` a test authority signs; returns its address and the
/// authority's certificate.
fn https_server() -> (SocketAddr, CertificateDer<'static>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Names of their own: a leaf whose subject were its issuer's would look
    // self-signed to OpenSSL.
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "codex-policy benchmark CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "127.0.0.1");
    let leaf = leaf_params.signed_by(&key, &issuer).unwrap();
    let config = Arc::new(
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![leaf.der().clone()],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let config = Arc::clone(&config);
            std::thread::spawn(move || {
                stream.set_nodelay(true).unwrap();
                let connection = rustls::ServerConnection::new(config).unwrap();
                let mut tls = StreamOwned::new(connection, stream);
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    while let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        buf.drain(..end + 4);
                        if tls
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                            .and_then(|()| tls.flush())
                            .is_err()
                        {
                            return;
                        }
                    }
                    match tls.read(&mut chunk) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            });
        }
    });
    (addr, ca.der().clone())
}

/// A TLS client trusting `root` only, speaking HTTP/1.1.
fn client_config(root: CertificateDer<'static>) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    roots.add(root).unwrap();
    let mut config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// TLS over `stream` to `127.0.0.1`, handshake done.
fn tls_over(
    stream: TcpStream,
    config: &Arc<ClientConfig>,
) -> StreamOwned<ClientConnection, TcpStream> {
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let connection = ClientConnection::new(Arc::clone(config), name).unwrap();
    let mut tls = StreamOwned::new(connection, stream);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock).unwrap();
    }
    tls
}

/// A `CONNECT` to `target` through the proxy at `proxy`, answered 200.
fn tunnel(proxy: SocketAddr, target: SocketAddr) -> TcpStream {
    let mut stream = connect(proxy);
    stream
        .write_all(format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n").as_bytes())
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 200"));
    stream
}

fn bench_limited(c: &mut Criterion) {
    let (https, server_ca) = https_server();
    let ca = InspectionCa::generate().unwrap();
    let run_ca = CertificateDer::from(ca.certificate_der().to_vec());
    let roots = UpstreamRoots::from_pem(
        pem::encode(&pem::Pem::new("CERTIFICATE", server_ca.to_vec())).as_bytes(),
        "the benchmark's authority",
    )
    .unwrap();
    let rules = EgressRules::open()
        .allowing("127.0.0.1".parse::<DomainPattern>().unwrap())
        .with_mode(NetworkMode::Limited);
    let proxy = EgressProxy::builder(rules)
        .session_id("bench")
        .audit(|_| Ok(()))
        .inspection(ca, roots)
        .start()
        .unwrap();
    let (proxy_http, _) = proxy
        .bind(
            "127.0.0.1:0".parse().unwrap(),
            "127.0.0.1:0".parse().unwrap(),
        )
        .unwrap();
    let direct_config = client_config(server_ca);
    let inspected_config = client_config(run_ca);
    let request = format!("GET / HTTP/1.1\r\nHost: {https}\r\n\r\n");
    let mut group = c.benchmark_group("limited");
    let mut buf = Vec::new();

    let mut direct = tls_over(connect(https), &direct_config);
    group.bench_function("https_request_direct", |b| {
        b.iter(|| {
            direct.write_all(request.as_bytes()).unwrap();
            read_response(&mut direct, &mut buf);
        });
    });
    let mut inspected = tls_over(tunnel(proxy_http, https), &inspected_config);
    group.bench_function("https_request_inspected", |b| {
        b.iter(|| {
            inspected.write_all(request.as_bytes()).unwrap();
            read_response(&mut inspected, &mut buf);
        });
    });
    group.bench_function("https_connect_direct", |b| {
        b.iter(|| {
            let mut tls = tls_over(connect(https), &direct_config);
            tls.write_all(request.as_bytes()).unwrap();
            read_response(&mut tls, &mut buf);
        });
    });
    group.bench_function("https_connect_inspected", |b| {
        b.iter(|| {
            let mut tls = tls_over(tunnel(proxy_http, https), &inspected_config);
            tls.write_all(request.as_bytes()).unwrap();
            read_response(&mut tls, &mut buf);
        });
    });
    group.finish();
    proxy.stop();
}

criterion_group!(benches, bench, bench_limited);
criterion_main!(benches);
