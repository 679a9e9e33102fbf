//! Limited mode: every tunnel (HTTP CONNECT or SOCKS5) is read, never
//! copied blind. A tunnel that starts with a TLS hello is terminated with a
//! certificate the run's authority signs for the host the client asked for,
//! and its requests go upstream over TLS verified against the upstream
//! roots; a tunnel that starts with anything else is read as plain HTTP/1.1.
//! Each request must be read-only ([`not_read_only`]) and name the tunnel's
//! host; anything that cannot be read as HTTP ends the connection.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use bytes::Bytes;
use codex_audit::HttpDetails;
use codex_policy_model::Host;
use hyper::body::{Body, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderMap};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::ClientConfig;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::ca::InspectionCa;
use crate::decision::{Decision, Reason};
use crate::gate::{Shared, connect_any, host_port};
use crate::http::{
    AbortOnDrop, ProxyBody, bad_request, blocked, check_host_header, host_header, relay_response,
    strip_hop_by_hop, text,
};
use crate::limits::Admitted;

/// What limited mode needs besides the rules: the run's authority and the
/// client side of upstream TLS.
pub(crate) struct Inspection {
    pub(crate) ca: InspectionCa,
    pub(crate) upstream: Arc<ClientConfig>,
}

/// The first byte of a TLS record carrying a handshake message.
const TLS_HANDSHAKE: u8 = 0x16;

/// Why a request is not read-only (limited mode), or `None`: a method other
/// than `GET`, `HEAD` or `OPTIONS`, a body (announced or not), or an
/// upgrade to another protocol (WebSocket, `h2c`).
pub(crate) fn not_read_only(
    method: &Method,
    headers: &HeaderMap,
    body: &Incoming,
) -> Option<String> {
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Some(format!("method {method}"));
    }
    if let Some(upgrade) = headers.get(header::UPGRADE) {
        return Some(format!(
            "an upgrade to {}",
            String::from_utf8_lossy(upgrade.as_bytes())
        ));
    }
    let announced = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .any(|v| v.as_bytes() != b"0");
    if announced || !body.is_end_stream() {
        return Some(format!("a request body on {method}"));
    }
    None
}

/// Where an inspected tunnel goes: the host the client named (and the
/// decision was about) and its vetted addresses.
pub(crate) struct Destination {
    pub(crate) host: Host,
    pub(crate) port: u16,
    pub(crate) addresses: Vec<SocketAddr>,
}

/// Serves an allowed tunnel in limited mode. `client`: the stream after the
/// CONNECT answer or the SOCKS5 reply; `prefix`: bytes of it already read;
/// `upstream`: the connection to the vetted address.
pub(crate) async fn serve<C>(
    client: C,
    prefix: Bytes,
    upstream: TcpStream,
    destination: Destination,
    shared: Arc<Shared>,
    admitted: Admitted,
) where
    C: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let _admitted = admitted;
    let Some(inspection) = &shared.inspection else {
        return;
    };
    let dest = host_port(&destination.host, destination.port);
    let mut client = Prefixed {
        prefix,
        inner: client,
    };
    // The client speaks first in HTTP and TLS; one that waits for the
    // server (SSH, SMTP, ...) is not something limited mode can read.
    let first = match client.first_byte(shared.hard.handshake_timeout).await {
        Ok(first) => first,
        Err(why) => {
            refuse_tunnel(&shared, &dest, &why);
            return;
        }
    };
    if first != TLS_HANDSHAKE {
        let connection = Arc::new(Inspected::new(
            Arc::clone(&shared),
            destination,
            None,
            Ok(Box::new(upstream)),
        ));
        serve_http(client, connection).await;
        return;
    }
    let config = match inspection.ca.server_config(&destination.host) {
        Ok(config) => config,
        Err(e) => {
            refuse_tunnel(&shared, &dest, &e.to_string());
            return;
        }
    };
    let accepted = tokio::time::timeout(
        shared.hard.handshake_timeout,
        TlsAcceptor::from(config).accept(client),
    )
    .await;
    let client = match accepted {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => {
            refuse_tunnel(
                &shared,
                &dest,
                &format!(
                    "the TLS handshake with the client failed ({e}); a client that does not trust the run's certificate authority, or pins certificates, cannot be inspected"
                ),
            );
            return;
        }
        Err(_) => {
            refuse_tunnel(&shared, &dest, "the client's TLS handshake timed out");
            return;
        }
    };
    let server_name = server_name(&destination.host);
    let tls = TlsConnector::from(Arc::clone(&inspection.upstream));
    let first_upstream = match tokio::time::timeout(
        shared.hard.connect_timeout,
        tls.connect(server_name.clone(), upstream),
    )
    .await
    {
        Ok(Ok(stream)) => Ok(Box::new(stream) as Box<dyn Stream>),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("the TLS handshake timed out".to_owned()),
    };
    if let Err(why) = &first_upstream {
        // Refused, whatever monitor mode says: a certificate error is never
        // ignored. One event for the tunnel; every request on it is 502.
        let _ = shared.refuse(
            Decision::Deny(Reason::UpstreamTls),
            format!("{dest} ({why})"),
            None,
        );
    }
    let connection = Arc::new(Inspected::new(
        Arc::clone(&shared),
        destination,
        Some((Arc::clone(&inspection.upstream), server_name)),
        first_upstream,
    ));
    serve_http(client, connection).await;
}

/// Records the refusal of a tunnel limited mode could not read.
fn refuse_tunnel(shared: &Shared, dest: &str, why: &str) {
    let _ = shared.refuse(
        Decision::Deny(Reason::NotInspectable),
        format!("{dest} ({why})"),
        None,
    );
}

/// The name the upstream certificate must carry. A name rustls does not
/// accept as a DNS name becomes the unspecified address, which no
/// certificate names: the handshake then fails (`upstream_tls`), closed.
fn server_name(host: &Host) -> ServerName<'static> {
    match host {
        Host::Ip(ip) => ServerName::IpAddress((*ip).into()),
        Host::Name(name) => ServerName::try_from(name.as_str().to_owned())
            .unwrap_or_else(|_| ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into())),
    }
}

/// Serves the requests of one inspected client connection.
async fn serve_http<S>(client: S, connection: Arc<Inspected>)
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let shared = Arc::clone(&connection.shared);
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.hard.header_read_timeout)
        .max_buf_size(shared.hard.max_head_bytes.max(8192))
        .max_header_size(shared.hard.max_head_bytes)
        .keep_alive(true);
    let service_connection = Arc::clone(&connection);
    let service = service_fn(move |req| {
        let connection = Arc::clone(&service_connection);
        async move { Ok::<_, Infallible>(connection.handle(req).await) }
    });
    if let Err(e) = builder
        .serve_connection(TokioIo::new(client), service)
        .await
        && e.is_parse()
        && !connection.garbage_logged.swap(true, Ordering::Relaxed)
    {
        refuse_tunnel(
            &shared,
            &connection.dest,
            &format!("not an HTTP/1.1 request ({e})"),
        );
    }
}

/// Any stream a request can go upstream on (TCP, or TLS over it).
trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

/// One inspected client connection and its upstream connection.
struct Inspected {
    shared: Arc<Shared>,
    destination: Destination,
    /// `host:port`, as events name it.
    dest: String,
    /// Upstream TLS: the client configuration and the name verified.
    tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
    /// Why the upstream TLS handshake failed: every request is then 502.
    upstream_error: Option<String>,
    upstream: tokio::sync::Mutex<Upstream>,
    /// A refused unparseable request was recorded (once per connection).
    garbage_logged: AtomicBool,
}

/// The upstream connection: a stream not yet used, or a connection in use.
enum Upstream {
    Fresh(Box<dyn Stream>),
    Ready {
        sender: SendRequest<Incoming>,
        /// Drives the connection; ends it when replaced or dropped.
        _task: AbortOnDrop,
    },
    None,
}

impl Inspected {
    fn new(
        shared: Arc<Shared>,
        destination: Destination,
        tls: Option<(Arc<ClientConfig>, ServerName<'static>)>,
        first: Result<Box<dyn Stream>, String>,
    ) -> Self {
        let (upstream, upstream_error) = match first {
            Ok(stream) => (Upstream::Fresh(stream), None),
            Err(why) => (Upstream::None, Some(why)),
        };
        Self {
            dest: host_port(&destination.host, destination.port),
            shared,
            destination,
            tls,
            upstream_error,
            upstream: tokio::sync::Mutex::new(upstream),
            garbage_logged: AtomicBool::new(false),
        }
    }

    async fn handle(&self, req: Request<Incoming>) -> Response<ProxyBody> {
        let shared = &self.shared;
        let path = match origin_form(req.method(), req.uri()) {
            Some(path) => path,
            None => {
                // The destination as given: an absolute-form target names
                // its own; anything else is read against the tunnel's.
                let given = match req.uri().authority() {
                    Some(_) => req.uri().to_string(),
                    None => format!("{}{}", self.dest, req.uri()),
                };
                shared.record_malformed(
                    given,
                    "inside a tunnel, a request names a path (origin-form)",
                );
                return bad_request("inside a tunnel, send origin-form (GET /path)", true);
            }
        };
        // `OPTIONS *` names no path: kept apart from the port.
        let target = if path.starts_with('/') {
            format!("{}{path}", self.dest)
        } else {
            format!("{} {path}", self.dest)
        };
        if let Err(why) =
            check_host_header(req.headers(), &self.destination.host, self.destination.port)
        {
            shared.record_malformed(target, why);
            return bad_request(why, true);
        }
        if self.upstream_error.is_some() {
            return blocked(Decision::Deny(Reason::UpstreamTls), &self.dest, true);
        }
        let mut details = HttpDetails::default().with_method(req.method().as_str());
        if shared.log_headers {
            for (name, value) in req.headers() {
                details = details.with_header(
                    name.as_str(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                );
            }
        }
        if let Some(why) = not_read_only(req.method(), req.headers(), req.body()) {
            let target = format!("{target} ({why})");
            if !shared.rules.monitor() {
                return match shared.refuse(
                    Decision::Deny(Reason::MethodNotAllowed),
                    target,
                    Some(details),
                ) {
                    crate::gate::Gate::AuditFailed => audit_failed(&self.dest),
                    _ => blocked(Decision::Deny(Reason::MethodNotAllowed), &self.dest, true),
                };
            }
            if shared
                .record_monitored(Reason::MethodNotAllowed, target, Some(details))
                .is_err()
            {
                return audit_failed(&self.dest);
            }
        } else if shared.record_allowed(target, Some(details)).is_err() {
            return audit_failed(&self.dest);
        }

        let (mut parts, body) = req.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        if parts.headers.remove(header::TRANSFER_ENCODING).is_some() {
            parts.headers.remove(header::CONTENT_LENGTH);
        }
        let default_port = if self.tls.is_some() { 443 } else { 80 };
        match host_header(&self.destination.host, self.destination.port, default_port) {
            Some(value) => {
                parts.headers.insert(header::HOST, value);
            }
            None => return bad_request("invalid host", true),
        }
        let Ok(uri) = Uri::builder().path_and_query(path.as_str()).build() else {
            return bad_request("invalid path", true);
        };
        parts.uri = uri;
        parts.version = Version::HTTP_11;

        let deadline = shared.rules.timeout().map(|t| Instant::now() + t);
        let exchange = self.send(Request::from_parts(parts, body));
        let result = match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, exchange).await {
                Ok(result) => result,
                Err(_) => {
                    return text(
                        StatusCode::GATEWAY_TIMEOUT,
                        format!("codex-policy: {}: the request timed out\n", self.dest),
                        true,
                    );
                }
            },
            None => exchange.await,
        };
        let response = match result {
            Ok(response) => response,
            Err(why) => {
                return text(
                    StatusCode::BAD_GATEWAY,
                    format!("codex-policy: {}: {why}\n", self.dest),
                    true,
                );
            }
        };
        // The tunnel holds its own slot and upstream connection.
        relay_response(response, deadline, None, None)
    }

    /// Sends a request on the upstream connection, opening a new one (to
    /// the same vetted addresses) when the last one was closed.
    async fn send(&self, request: Request<Incoming>) -> Result<Response<Incoming>, String> {
        let mut upstream = self.upstream.lock().await;
        let reusable = match &mut *upstream {
            Upstream::Ready { sender, .. } => sender.ready().await.is_ok(),
            _ => false,
        };
        if !reusable {
            let stream = match std::mem::replace(&mut *upstream, Upstream::None) {
                Upstream::Fresh(stream) => stream,
                _ => self.reconnect().await?,
            };
            let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| format!("upstream error: {e}"))?;
            let task = tokio::spawn(async move {
                let _ = connection.await;
            });
            *upstream = Upstream::Ready {
                sender,
                _task: AbortOnDrop(task),
            };
        }
        let Upstream::Ready { sender, .. } = &mut *upstream else {
            return Err("upstream error: no connection".to_owned());
        };
        sender
            .send_request(request)
            .await
            .map_err(|e| format!("upstream error: {e}"))
    }

    async fn reconnect(&self) -> Result<Box<dyn Stream>, String> {
        let timeout = self.shared.hard.connect_timeout;
        let tcp = connect_any(&self.destination.addresses, timeout)
            .await
            .map_err(|e| format!("could not connect: {e}"))?;
        let Some((config, name)) = &self.tls else {
            return Ok(Box::new(tcp));
        };
        match tokio::time::timeout(
            timeout,
            TlsConnector::from(Arc::clone(config)).connect(name.clone(), tcp),
        )
        .await
        {
            Ok(Ok(stream)) => Ok(Box::new(stream)),
            Ok(Err(e)) => {
                let _ = self.shared.refuse(
                    Decision::Deny(Reason::UpstreamTls),
                    format!("{} ({e})", self.dest),
                    None,
                );
                Err(format!("upstream TLS: {e}"))
            }
            Err(_) => Err("the upstream TLS handshake timed out".to_owned()),
        }
    }
}

fn audit_failed(dest: &str) -> Response<ProxyBody> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        format!("codex-policy: {dest} refused: the audit log could not record the decision\n"),
        true,
    )
}

/// The path of a request inside a tunnel: origin-form (`/path?query`), or
/// `*` for `OPTIONS`. Anything else (absolute-form naming a host, or a bare
/// authority) is refused: the tunnel's host is the only destination.
fn origin_form(method: &Method, uri: &Uri) -> Option<String> {
    if uri.scheme().is_some() || uri.authority().is_some() {
        return None;
    }
    let path = uri.path_and_query()?.as_str();
    if path.starts_with('/') || (path == "*" && *method == Method::OPTIONS) {
        Some(path.to_owned())
    } else {
        None
    }
}

/// A client stream with bytes already read from it put back in front.
struct Prefixed<C> {
    prefix: Bytes,
    inner: C,
}

impl<C: AsyncRead + Unpin> Prefixed<C> {
    /// The first byte the client sends (read ahead and kept), within `wait`.
    async fn first_byte(&mut self, wait: std::time::Duration) -> Result<u8, String> {
        if let Some(first) = self.prefix.first() {
            return Ok(*first);
        }
        let mut buf = vec![0u8; 1024];
        match tokio::time::timeout(wait, self.inner.read(&mut buf)).await {
            Ok(Ok(0)) => Err("the client closed the tunnel before sending anything".into()),
            Ok(Ok(n)) => {
                buf.truncate(n);
                self.prefix = Bytes::from(buf);
                Ok(self.prefix[0])
            }
            Ok(Err(e)) => Err(format!("reading from the client: {e}")),
            Err(_) => Err(
                "the client sent nothing: a protocol where the server speaks first cannot be inspected"
                    .into(),
            ),
        }
    }
}

impl<C: AsyncRead + Unpin> AsyncRead for Prefixed<C> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix.split_to(n));
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<C: AsyncWrite + Unpin> AsyncWrite for Prefixed<C> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
