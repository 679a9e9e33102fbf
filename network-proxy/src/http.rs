//! The HTTP/1.1 proxy: absolute-form requests are forwarded, CONNECT opens
//! a tunnel; everything else is a bad request.

use std::convert::Infallible;
use std::error::Error as StdError;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use codex_audit::HttpDetails;
use codex_policy_model::Host;
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::Authority;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode, Uri, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::task::JoinHandle;
use tokio::time::{Instant, Sleep};

use crate::bound::{MAX_TARGET, bound_cut, escape};
use crate::decision::{Decision, Reason, decide};
use crate::gate::{Gate, Shared, connect_any, host_port};
use crate::inspect::{self, Destination, not_read_only};
use crate::limits::Admitted;
use crate::tunnel;

type BoxError = Box<dyn StdError + Send + Sync>;

/// The largest request body attached to an audit event (`log_http(_, true)`),
/// and only when `Content-Length` announces it.
const MAX_LOGGED_BODY: u64 = 4096;

/// hyper's smallest read buffer.
const MIN_BUF: usize = 8192;

/// What one client connection shares with its requests: its slot among the
/// hard limit's connections, and what the audit of a refused malformed
/// request needs.
pub(crate) struct ClientConnection {
    _permit: OwnedSemaphorePermit,
    /// Requests hyper parsed and handed to the service.
    requests: AtomicUsize,
    /// An event with target `unknown` was recorded: at most one per
    /// connection, so a flood of garbage cannot multiply events.
    garbage_logged: AtomicBool,
    /// The request line of the first request, as it arrived.
    first_line: Mutex<FirstLine>,
}

impl ClientConnection {
    /// Records a refused malformed request: with its destination as given,
    /// or, when it named none, as `unknown` (once per connection).
    fn record_malformed(&self, shared: &Shared, target: Option<String>, why: &str) {
        match target {
            Some(target) => shared.record_malformed(target, why),
            None => {
                if !self.garbage_logged.swap(true, Ordering::Relaxed) {
                    shared.record_malformed(UNKNOWN.to_owned(), why);
                }
            }
        }
    }

    fn first_line(&self) -> MutexGuard<'_, FirstLine> {
        self.first_line
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The target of an event about a request that named no destination.
const UNKNOWN: &str = "unknown";

/// Serves one client connection of the HTTP listener.
pub(crate) async fn serve(stream: TcpStream, shared: Arc<Shared>, conn: OwnedSemaphorePermit) {
    let _ = stream.set_nodelay(true);
    let conn = Arc::new(ClientConnection {
        _permit: conn,
        requests: AtomicUsize::new(0),
        garbage_logged: AtomicBool::new(false),
        first_line: Mutex::new(FirstLine::default()),
    });
    let io = Recorder {
        inner: stream,
        first_line: Some(Arc::clone(&conn)),
    };
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(shared.hard.header_read_timeout)
        .max_buf_size(shared.hard.max_head_bytes.max(MIN_BUF))
        .max_header_size(shared.hard.max_head_bytes)
        .keep_alive(true);
    let service_shared = Arc::clone(&shared);
    let service_conn = Arc::clone(&conn);
    let service = service_fn(move |req| {
        let shared = Arc::clone(&service_shared);
        let conn = Arc::clone(&service_conn);
        conn.requests.fetch_add(1, Ordering::Relaxed);
        async move { Ok::<_, Infallible>(handle(shared, conn, req).await) }
    });
    let served = builder
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await;
    // A head hyper could not parse was answered 400 or 431 by hyper itself:
    // record it. (Timeouts and clients that left are not refusals.)
    if let Err(e) = served
        && e.is_parse()
    {
        let why = if e.is_parse_too_large() {
            format!(
                "the request head is larger than {} bytes",
                shared.hard.max_head_bytes
            )
        } else {
            format!("not a valid HTTP/1.1 request head ({e})")
        };
        // Only the first request's line is kept: a later head's start may
        // have been read with the request before it.
        let target = if conn.requests.load(Ordering::Relaxed) == 0 {
            conn.first_line().target()
        } else {
            None
        };
        conn.record_malformed(&shared, target, &why);
    }
}

/// The client stream, keeping the request line of the first request while
/// it arrives (and nothing more: after it, reads go straight through).
struct Recorder {
    inner: TcpStream,
    first_line: Option<Arc<ClientConnection>>,
}

impl AsyncRead for Recorder {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(conn)) = (&polled, &this.first_line)
            && conn.first_line().feed(&buf.filled()[before..])
        {
            this.first_line = None;
        }
        polled
    }
}

impl AsyncWrite for Recorder {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The longest method kept of a request line that is not parsed.
const MAX_METHOD: usize = 32;

/// The request target of the first request line, byte by byte as it
/// arrives: `METHOD SP TARGET SP ...`. Bounded: at most [`MAX_TARGET`] bytes
/// of the target are kept, the rest only counted.
#[derive(Default)]
pub(crate) struct FirstLine {
    state: LineState,
    target: Vec<u8>,
    target_len: usize,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum LineState {
    /// Before the method (empty lines are skipped, as HTTP allows).
    #[default]
    Start,
    /// In the method, with this many bytes.
    Method(usize),
    /// In the request target.
    Target,
    /// The target ended.
    Done,
    /// Not a request line: no destination to tell.
    Garbage,
}

impl FirstLine {
    /// Takes in `bytes`; `true` once nothing more is needed.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            self.state = match self.state {
                LineState::Start if b == b'\r' || b == b'\n' => LineState::Start,
                LineState::Start if is_tchar(b) => LineState::Method(1),
                LineState::Method(n) if b == b' ' && n > 0 => LineState::Target,
                LineState::Method(n) if is_tchar(b) && n < MAX_METHOD => LineState::Method(n + 1),
                LineState::Target if b == b' ' || b == b'\r' || b == b'\n' => LineState::Done,
                LineState::Target => {
                    if self.target.len() < MAX_TARGET {
                        self.target.push(b);
                    }
                    self.target_len += 1;
                    LineState::Target
                }
                LineState::Done => LineState::Done,
                _ => LineState::Garbage,
            };
            if matches!(self.state, LineState::Done | LineState::Garbage) {
                return true;
            }
        }
        false
    }

    /// The target as given (escaped and bounded), if the line named one.
    fn target(&self) -> Option<String> {
        if self.state == LineState::Garbage || self.target_len == 0 {
            return None;
        }
        Some(bound_cut(
            escape(&self.target),
            MAX_TARGET,
            self.target_len - self.target.len(),
        ))
    }
}

/// A token character of RFC 9110 (what a method is made of).
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

async fn handle(
    shared: Arc<Shared>,
    conn: Arc<ClientConnection>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    if req.method() == Method::CONNECT {
        connect(shared, conn, req).await
    } else {
        forward(shared, conn, req).await
    }
}

/// A CONNECT tunnel: decided, connected, answered 200, then copied.
async fn connect(
    shared: Arc<Shared>,
    conn: Arc<ClientConnection>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let uri = req.uri();
    let malformed = |why: &str| {
        conn.record_malformed(&shared, Some(uri.to_string()), why);
        bad_request(why, true)
    };
    if uri.scheme().is_some() || uri.path_and_query().is_some() {
        return malformed("CONNECT takes host:port");
    }
    let Some(authority) = uri.authority() else {
        return malformed("CONNECT takes host:port");
    };
    let (host, port) = match authority_target(authority, None) {
        Ok(target) => target,
        Err(why) => return malformed(why),
    };
    if let Err(why) = check_host_header(req.headers(), &host, port) {
        return malformed(why);
    }
    let dest = host_port(&host, port);
    let (addresses, admitted) = match shared.gate(&host, port, dest.clone(), None).await {
        Gate::Pass {
            addresses,
            admitted,
        } => (addresses, admitted),
        other => return gate_refusal(other, &dest, true),
    };
    let upstream = match connect_any(&addresses, shared.hard.connect_timeout).await {
        Ok(upstream) => upstream,
        Err(e) => {
            return text(
                StatusCode::BAD_GATEWAY,
                format!("codex-policy: {dest}: could not connect: {e}\n"),
                true,
            );
        }
    };
    let idle = shared.rules.timeout();
    tokio::spawn(async move {
        let _conn = conn;
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        if shared.rules.limited() {
            let destination = Destination {
                host,
                port,
                addresses,
            };
            match upgraded.downcast::<TokioIo<Recorder>>() {
                Ok(parts) => {
                    let client = parts.io.into_inner().inner;
                    inspect::serve(
                        client,
                        parts.read_buf,
                        upstream,
                        destination,
                        shared,
                        admitted,
                    )
                    .await;
                }
                Err(upgraded) => {
                    inspect::serve(
                        TokioIo::new(upgraded),
                        Bytes::new(),
                        upstream,
                        destination,
                        shared,
                        admitted,
                    )
                    .await;
                }
            }
            return;
        }
        let _admitted = admitted;
        match upgraded.downcast::<TokioIo<Recorder>>() {
            Ok(parts) => {
                let client = parts.io.into_inner().inner;
                tunnel::tcp(client, &parts.read_buf, upstream, idle).await;
            }
            Err(upgraded) => tunnel::generic(TokioIo::new(upgraded), upstream, idle).await,
        }
    });
    Response::new(ProxyBody::empty())
}

/// The destination a request that is not in absolute-form names, as given:
/// its authority, or its `Host` header and path; `None` when it names none.
fn named_destination(uri: &Uri, headers: &HeaderMap) -> Option<String> {
    if uri.authority().is_some() {
        return Some(uri.to_string());
    }
    let host = headers.get(header::HOST)?;
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| p.starts_with('/'))
        .unwrap_or("");
    Some(format!("{}{path}", escape(host.as_bytes())))
}

/// A plain request: decided, rewritten to origin-form, sent on a connection
/// of its own to the vetted address.
async fn forward(
    shared: Arc<Shared>,
    conn: Arc<ClientConnection>,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let uri = req.uri().clone();
    let malformed = |why: &str| {
        conn.record_malformed(&shared, Some(uri.to_string()), why);
        bad_request(why, false)
    };
    let Some(scheme) = uri.scheme_str() else {
        let why =
            "not a proxy request: send absolute-form (GET http://host/path) or CONNECT host:port";
        conn.record_malformed(&shared, named_destination(&uri, req.headers()), why);
        return bad_request(why, false);
    };
    if !scheme.eq_ignore_ascii_case("http") {
        return malformed("only http:// targets are forwarded; use CONNECT for others");
    }
    let Some(authority) = uri.authority() else {
        return malformed("the target has no host");
    };
    let (host, port) = match authority_target(authority, Some(80)) {
        Ok(target) => target,
        Err(why) => return malformed(why),
    };
    if let Err(why) = check_host_header(req.headers(), &host, port) {
        return malformed(why);
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let Ok(origin_form) = Uri::builder().path_and_query(path).build() else {
        return malformed("invalid path");
    };
    let dest = host_port(&host, port);
    let target = format!("{dest}{path}");
    if shared.rules.limited()
        && let Some(why) = not_read_only(req.method(), req.headers(), req.body())
    {
        let details = HttpDetails::default().with_method(req.method().as_str());
        let refused = format!("{target} ({why})");
        if !shared.rules.monitor() {
            // The destination is decided first, as for a tunnel (decided
            // before the requests inside it): a host the rules deny or ask
            // about is refused for that, whatever the method.
            let domain = decide(&shared.rules, &host, port);
            let (decision, target) = match domain.reason() {
                Some(_) => (domain, target),
                None => (Decision::Deny(Reason::MethodNotAllowed), refused),
            };
            // The body, if any, is not read: the connection ends.
            return gate_refusal(shared.refuse(decision, target, Some(details)), &dest, true);
        }
        if shared
            .record_monitored(Reason::MethodNotAllowed, refused, Some(details))
            .is_err()
        {
            return gate_refusal(Gate::AuditFailed, &dest, true);
        }
    }

    let (mut parts, body) = req.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let chunked = parts.headers.contains_key(header::TRANSFER_ENCODING);
    if chunked {
        // hyper frames the body again; a Content-Length beside a
        // Transfer-Encoding must not reach the upstream (request smuggling).
        parts.headers.remove(header::TRANSFER_ENCODING);
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    let Some(host_value) = host_header(&host, port, 80) else {
        return malformed("invalid host");
    };
    parts.headers.insert(header::HOST, host_value);
    parts.uri = origin_form;
    parts.version = Version::HTTP_11;

    let mut details = HttpDetails::default().with_method(parts.method.as_str());
    if shared.log_headers {
        for (name, value) in &parts.headers {
            details = details.with_header(
                name.as_str(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            );
        }
    }
    let content_length = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let body: Either<Incoming, Full<Bytes>> =
        if shared.log_bodies && !chunked && content_length.is_some_and(|n| n <= MAX_LOGGED_BODY) {
            match tokio::time::timeout(shared.hard.header_read_timeout, body.collect()).await {
                Ok(Ok(collected)) => {
                    let bytes = collected.to_bytes();
                    if !bytes.is_empty() {
                        details = details.with_body(String::from_utf8_lossy(&bytes).into_owned());
                    }
                    Either::Right(Full::new(bytes))
                }
                _ => return malformed("the request body did not arrive"),
            }
        } else {
            Either::Left(body)
        };

    let (addresses, admitted) = match shared.gate(&host, port, target, Some(details)).await {
        Gate::Pass {
            addresses,
            admitted,
        } => (addresses, admitted),
        other => return gate_refusal(other, &dest, false),
    };

    let deadline = shared.rules.timeout().map(|t| Instant::now() + t);
    let request = Request::from_parts(parts, body);
    let exchange = exchange(&addresses, shared.hard.connect_timeout, request);
    let result = match deadline {
        Some(deadline) => match tokio::time::timeout_at(deadline, exchange).await {
            Ok(result) => result,
            Err(_) => {
                return text(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("codex-policy: {dest}: the request timed out\n"),
                    false,
                );
            }
        },
        None => exchange.await,
    };
    let (response, task) = match result {
        Ok(ok) => ok,
        Err(why) => {
            return text(
                StatusCode::BAD_GATEWAY,
                format!("codex-policy: {dest}: {why}\n"),
                false,
            );
        }
    };
    relay_response(response, deadline, Some(admitted), Some(task))
}

/// The upstream's response as the client gets it: hop-by-hop headers
/// removed, framed again by hyper, its body held to `deadline` and holding
/// `admitted` and `connection` until it is done.
pub(crate) fn relay_response(
    response: Response<Incoming>,
    deadline: Option<Instant>,
    admitted: Option<Admitted>,
    connection: Option<AbortOnDrop>,
) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    if parts.headers.remove(header::TRANSFER_ENCODING).is_some() {
        parts.headers.remove(header::CONTENT_LENGTH);
    }
    parts.version = Version::HTTP_11;
    let body = ProxyBody::Upstream(Box::new(UpstreamBody {
        inner: body,
        deadline: deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
        _admitted: admitted,
        _connection: connection,
    }));
    Response::from_parts(parts, body)
}

/// The `Host` header sent upstream: the name alone on the scheme's default
/// port, `host:port` otherwise (IPv6 in brackets).
pub(crate) fn host_header(host: &Host, port: u16, default_port: u16) -> Option<HeaderValue> {
    let text = match host {
        Host::Name(name) if port == default_port => name.to_string(),
        _ => host_port(host, port),
    };
    HeaderValue::from_str(&text).ok()
}

/// Connects, sends `request`, and returns the response head with the task
/// that drives the upstream connection.
async fn exchange<B>(
    addresses: &[std::net::SocketAddr],
    connect_timeout: std::time::Duration,
    request: Request<B>,
) -> Result<(Response<Incoming>, AbortOnDrop), String>
where
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let stream = connect_any(addresses, connect_timeout)
        .await
        .map_err(|e| format!("could not connect: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("upstream error: {e}"))?;
    let task = tokio::spawn(async move {
        let _ = connection.await;
    });
    let guard = AbortOnDrop(task);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("upstream error: {e}"))?;
    Ok((response, guard))
}

/// Aborts the upstream connection's task when the response is done or dropped.
pub(crate) struct AbortOnDrop(pub(crate) JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The target of a request (authority of the absolute-form, or of CONNECT):
/// normalized host and port. `default_port`: `None` for CONNECT, which must
/// name one.
fn authority_target(
    authority: &Authority,
    default_port: Option<u16>,
) -> Result<(Host, u16), &'static str> {
    let text = authority.as_str();
    if text.contains('@') {
        return Err("user-info in the target is not accepted");
    }
    if text.contains('%') {
        return Err("a percent-encoded host is not accepted");
    }
    let host_text = authority.host();
    let rest = text.strip_prefix(host_text).ok_or("invalid host")?;
    let port = match rest.strip_prefix(':') {
        None if rest.is_empty() => default_port.ok_or("the target has no port")?,
        None => return Err("invalid port"),
        Some("") => default_port.ok_or("the target has no port")?,
        Some(digits) => parse_port(digits).ok_or("invalid port")?,
    };
    if port == 0 {
        return Err("port 0 is not a destination");
    }
    let host = Host::parse(host_text).map_err(|_| "invalid host")?;
    Ok((host, port))
}

fn parse_port(digits: &str) -> Option<u16> {
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// A `Host` header must name the host the proxy connects to (and its port,
/// when it names one); one `Host` header at most.
pub(crate) fn check_host_header(
    headers: &HeaderMap,
    host: &Host,
    port: u16,
) -> Result<(), &'static str> {
    let mut values = headers.get_all(header::HOST).iter();
    let Some(value) = values.next() else {
        return Ok(());
    };
    if values.next().is_some() {
        return Err("several Host headers");
    }
    let authority: Authority = value
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .ok_or("invalid Host header")?;
    let (named_host, named_port) =
        authority_target(&authority, Some(port)).map_err(|_| "invalid Host header")?;
    if &named_host != host || named_port != port {
        return Err("the Host header disagrees with the target");
    }
    Ok(())
}

/// Removes the hop-by-hop headers (RFC 9110, section 7.6.1), those the
/// `Connection` header names, and the proxy's own.
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        // Framing and the target are the proxy's to set, never a client's to drop.
        .filter(|name| {
            name != header::HOST
                && name != header::CONTENT_LENGTH
                && name != header::TRANSFER_ENCODING
        })
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        header::CONNECTION,
        header::PROXY_AUTHORIZATION,
        header::PROXY_AUTHENTICATE,
        header::TE,
        header::TRAILER,
        header::UPGRADE,
    ] {
        headers.remove(name);
    }
    headers.remove("keep-alive");
    headers.remove("proxy-connection");
}

fn gate_refusal(gate: Gate, dest: &str, close: bool) -> Response<ProxyBody> {
    match gate {
        Gate::Refused(decision) => blocked(decision, dest, close),
        Gate::AuditFailed => text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("codex-policy: {dest} refused: the audit log could not record the decision\n"),
            close,
        ),
        Gate::ResolveFailed(e) => text(
            StatusCode::BAD_GATEWAY,
            format!("codex-policy: {dest}: could not resolve the name: {e}\n"),
            close,
        ),
        Gate::Pass { .. } => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "codex-policy: internal error\n".to_owned(),
            true,
        ),
    }
}

/// The block answer: 403 (429 for a limit) with the decision and the reason.
pub(crate) fn blocked(decision: Decision, dest: &str, close: bool) -> Response<ProxyBody> {
    let Some(reason) = decision.reason() else {
        return text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "codex-policy: internal error\n".to_owned(),
            true,
        );
    };
    let status = match reason {
        crate::Reason::LimitExceeded => StatusCode::TOO_MANY_REQUESTS,
        crate::Reason::UpstreamTls => StatusCode::BAD_GATEWAY,
        _ => StatusCode::FORBIDDEN,
    };
    let mut response = text(
        status,
        format!(
            "codex-policy: {dest} refused: {} ({})\n",
            reason.describe(),
            reason.code()
        ),
        close,
    );
    let headers = response.headers_mut();
    headers.insert(
        "x-codex-policy-decision",
        HeaderValue::from_static(decision.as_str()),
    );
    headers.insert(
        "x-codex-policy-reason",
        HeaderValue::from_static(reason.code()),
    );
    response
}

pub(crate) fn bad_request(why: &str, close: bool) -> Response<ProxyBody> {
    text(
        StatusCode::BAD_REQUEST,
        format!("codex-policy: bad request: {why}\n"),
        close,
    )
}

/// A text answer; `close`: the client connection ends after it (a refused
/// CONNECT must not go on as anything else).
pub(crate) fn text(status: StatusCode, body: String, close: bool) -> Response<ProxyBody> {
    let mut response = Response::new(ProxyBody::Text(Some(Bytes::from(body))));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    if close {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// What the proxy answers: its own text, or the upstream's body.
pub(crate) enum ProxyBody {
    Text(Option<Bytes>),
    Upstream(Box<UpstreamBody>),
}

impl ProxyBody {
    fn empty() -> Self {
        Self::Text(None)
    }
}

/// An upstream body, held to the request's deadline; holds the request's
/// `concurrency` slot and upstream connection (a tunnel holds its own)
/// until it is done.
pub(crate) struct UpstreamBody {
    inner: Incoming,
    deadline: Option<Pin<Box<Sleep>>>,
    _admitted: Option<Admitted>,
    _connection: Option<AbortOnDrop>,
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Self::Text(bytes) => Poll::Ready(bytes.take().map(|b| Ok(Frame::data(b)))),
            Self::Upstream(upstream) => {
                if let Some(deadline) = &mut upstream.deadline
                    && deadline.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Some(Err("the request timed out".into())));
                }
                Pin::new(&mut upstream.inner)
                    .poll_frame(cx)
                    .map_err(Into::into)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Self::Text(bytes) => bytes.is_none(),
            Self::Upstream(upstream) => upstream.inner.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Self::Text(bytes) => SizeHint::with_exact(bytes.as_ref().map_or(0, |b| b.len() as u64)),
            Self::Upstream(upstream) => upstream.inner.size_hint(),
        }
    }
}
