//! SOCKS5 (RFC 1928), no authentication, CONNECT only.
//!
//! Hand-written rather than taken from a crate: it is small, and a SOCKS
//! crate would resolve names itself, which must not happen here (a name is
//! resolved once, by the proxy's resolver, and only when the rules allow it).

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use bytes::Bytes;
use codex_policy_model::Host;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use crate::bound::escape;
use crate::gate::{Gate, Shared, connect_any, host_port};
use crate::inspect::{self, Destination};
use crate::tunnel;

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;

const CMD_CONNECT: u8 = 1;

const ATYP_IPV4: u8 = 1;
const ATYP_DOMAIN: u8 = 3;
const ATYP_IPV6: u8 = 4;

/// Reply codes (RFC 1928, section 6).
mod reply {
    pub(super) const SUCCEEDED: u8 = 0x00;
    pub(super) const GENERAL_FAILURE: u8 = 0x01;
    pub(super) const NOT_ALLOWED: u8 = 0x02;
    pub(super) const NETWORK_UNREACHABLE: u8 = 0x03;
    pub(super) const HOST_UNREACHABLE: u8 = 0x04;
    pub(super) const CONNECTION_REFUSED: u8 = 0x05;
    pub(super) const COMMAND_NOT_SUPPORTED: u8 = 0x07;
    pub(super) const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;
}

/// Why a handshake ended before a destination could be decided on.
enum Handshake {
    /// Answer this reply code, then close; record the refusal of a
    /// malformed request.
    Reply(u8, Malformed),
    /// Close without a reply (already answered, or not SOCKS5 at all);
    /// record the refusal, if any.
    Close(Option<Malformed>),
}

/// A refused malformed request: the destination as given (`None`: it named
/// none) and why.
struct Malformed {
    target: Option<String>,
    why: String,
}

impl Malformed {
    fn new(target: Option<String>, why: impl Into<String>) -> Self {
        Self {
            target,
            why: why.into(),
        }
    }
}

impl From<io::Error> for Handshake {
    /// The client left or sent too little: nothing was refused.
    fn from(_: io::Error) -> Self {
        Self::Close(None)
    }
}

/// Serves one SOCKS5 client connection.
pub(crate) async fn serve(mut client: TcpStream, shared: Arc<Shared>, _conn: OwnedSemaphorePermit) {
    let _ = client.set_nodelay(true);
    let handshake =
        tokio::time::timeout(shared.hard.handshake_timeout, negotiate(&mut client)).await;
    let (host, port) = match handshake {
        Ok(Ok(destination)) => destination,
        Ok(Err(Handshake::Reply(code, malformed))) => {
            record(&shared, malformed);
            let _ = send_reply(&mut client, code).await;
            return;
        }
        Ok(Err(Handshake::Close(malformed))) => {
            if let Some(malformed) = malformed {
                record(&shared, malformed);
            }
            return;
        }
        Err(_) => return,
    };

    let target = host_port(&host, port);
    let (addresses, admitted) = match shared.gate(&host, port, target, None).await {
        Gate::Pass {
            addresses,
            admitted,
        } => (addresses, admitted),
        Gate::Refused(_) => {
            let _ = send_reply(&mut client, reply::NOT_ALLOWED).await;
            return;
        }
        Gate::AuditFailed => {
            let _ = send_reply(&mut client, reply::GENERAL_FAILURE).await;
            return;
        }
        Gate::ResolveFailed(_) => {
            let _ = send_reply(&mut client, reply::HOST_UNREACHABLE).await;
            return;
        }
    };
    let upstream = match connect_any(&addresses, shared.hard.connect_timeout).await {
        Ok(upstream) => upstream,
        Err(e) => {
            let _ = send_reply(&mut client, connect_error_reply(&e)).await;
            return;
        }
    };
    if send_reply(&mut client, reply::SUCCEEDED).await.is_err() {
        return;
    }
    if shared.rules.limited() {
        let destination = Destination {
            host,
            port,
            addresses,
        };
        inspect::serve(
            client,
            Bytes::new(),
            upstream,
            destination,
            shared,
            admitted,
        )
        .await;
        return;
    }
    tunnel::tcp(client, &[], upstream, shared.rules.timeout()).await;
    drop(admitted);
}

/// One event per connection at most: a handshake ends once.
fn record(shared: &Shared, malformed: Malformed) {
    let target = malformed.target.unwrap_or_else(|| "unknown".to_owned());
    shared.record_malformed(target, &format!("SOCKS5: {}", malformed.why));
}

fn connect_error_reply(e: &io::Error) -> u8 {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => reply::CONNECTION_REFUSED,
        io::ErrorKind::NetworkUnreachable => reply::NETWORK_UNREACHABLE,
        io::ErrorKind::HostUnreachable | io::ErrorKind::TimedOut => reply::HOST_UNREACHABLE,
        _ => reply::GENERAL_FAILURE,
    }
}

/// Reads the greeting and the request; the destination of a CONNECT.
async fn negotiate(client: &mut TcpStream) -> Result<(Host, u16), Handshake> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head).await?;
    if head[0] != VERSION {
        return Err(Handshake::Close(Some(Malformed::new(
            None,
            format!("not a SOCKS5 greeting (version byte 0x{:02x})", head[0]),
        ))));
    }
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods).await?;
    if !methods.contains(&NO_AUTH) {
        client.write_all(&[VERSION, NO_ACCEPTABLE_METHOD]).await?;
        return Err(Handshake::Close(Some(Malformed::new(
            None,
            "no acceptable authentication method (only \"no authentication\" is served)",
        ))));
    }
    client.write_all(&[VERSION, NO_AUTH]).await?;

    let mut request = [0u8; 4];
    client.read_exact(&mut request).await?;
    let [version, command, _reserved, address_type] = request;
    if version != VERSION {
        return Err(Handshake::Reply(
            reply::GENERAL_FAILURE,
            Malformed::new(
                None,
                format!("not a SOCKS5 request (version byte 0x{version:02x})"),
            ),
        ));
    }
    // The host, or the name as given when it is not a host name.
    let host: Result<Host, Vec<u8>> = match address_type {
        ATYP_IPV4 => {
            let mut octets = [0u8; 4];
            client.read_exact(&mut octets).await?;
            Ok(Host::Ip(IpAddr::V4(Ipv4Addr::from(octets))))
        }
        ATYP_IPV6 => {
            let mut octets = [0u8; 16];
            client.read_exact(&mut octets).await?;
            Ok(Host::Ip(IpAddr::V6(Ipv6Addr::from(octets))))
        }
        ATYP_DOMAIN => {
            let len = client.read_u8().await?;
            let mut name = vec![0u8; usize::from(len)];
            client.read_exact(&mut name).await?;
            // The same normalization as HTTP (case, trailing dot, IDNA, every
            // IPv4 spelling); bytes that are not a host name are refused.
            std::str::from_utf8(&name)
                .ok()
                .filter(|name| !name.contains('%'))
                .and_then(|name| Host::parse(name).ok())
                .ok_or(name)
        }
        _ => {
            return Err(Handshake::Reply(
                reply::ADDRESS_TYPE_NOT_SUPPORTED,
                Malformed::new(
                    None,
                    format!("address type 0x{address_type:02x} not supported"),
                ),
            ));
        }
    };
    let port = client.read_u16().await?;
    let given = match &host {
        Ok(host) => host_port(host, port),
        Err(name) => format!("{}:{port}", escape(name)),
    };
    if command != CMD_CONNECT {
        return Err(Handshake::Reply(
            reply::COMMAND_NOT_SUPPORTED,
            Malformed::new(
                Some(given),
                format!("command 0x{command:02x} not supported (CONNECT only)"),
            ),
        ));
    }
    let Ok(host) = host else {
        return Err(Handshake::Reply(
            reply::HOST_UNREACHABLE,
            Malformed::new(Some(given), "invalid host name"),
        ));
    };
    if port == 0 {
        return Err(Handshake::Reply(
            reply::GENERAL_FAILURE,
            Malformed::new(Some(given), "port 0 is not a destination"),
        ));
    }
    Ok((host, port))
}

/// A reply with an empty bound address (0.0.0.0:0): the proxy's own
/// outgoing address is none of the client's business.
async fn send_reply(client: &mut TcpStream, code: u8) -> io::Result<()> {
    client
        .write_all(&[VERSION, code, 0, ATYP_IPV4, 0, 0, 0, 0, 0, 0])
        .await?;
    client.flush().await
}
