//! The builder, the running proxy and its accept loops.

use std::fmt;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use codex_audit::AuditEvent;
use codex_policy_model::EgressListeners;
use codex_policy_model::effective::EgressRules;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::sync::{Semaphore, oneshot};

use crate::ca::InspectionCa;
use crate::decision::CompiledRules;
use crate::error::ProxyError;
use crate::gate::{AuditFn, Shared};
use crate::inspect::Inspection;
use crate::limits::{HardLimits, RunLimits};
use crate::resolver::{Resolver, SystemResolver};
use crate::roots::UpstreamRoots;
use crate::{http, socks};

/// The egress proxy: [`EgressProxy::builder`] configures one,
/// [`EgressProxyBuilder::start`] runs it.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use codex_network_proxy::EgressProxy;
/// use codex_policy_model::DomainPattern;
/// use codex_policy_model::effective::EgressRules;
///
/// let rules = EgressRules::open().denying("ads.example.com".parse::<DomainPattern>()?);
/// let proxy = EgressProxy::builder(rules).start()?;
/// let (http, _socks) = proxy.bind("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?)?;
///
/// // What a client with `HTTP_PROXY` set sends: the proxy answers for the refused host.
/// let mut client = std::net::TcpStream::connect(http)?;
/// let request = "GET http://ads.example.com/ HTTP/1.1\r\nHost: ads.example.com\r\n";
/// write!(client, "{request}Connection: close\r\n\r\n")?;
/// let mut reply = String::new();
/// client.read_to_string(&mut reply)?;
/// assert!(reply.starts_with("HTTP/1.1 403"));
/// assert!(reply.contains("x-codex-policy-decision: deny"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct EgressProxy {
    _private: (),
}

impl EgressProxy {
    /// A proxy enforcing `rules`.
    pub fn builder(rules: EgressRules) -> EgressProxyBuilder {
        EgressProxyBuilder {
            rules,
            session_id: String::new(),
            audit: None,
            log_headers: false,
            log_bodies: false,
            resolver: Box::new(SystemResolver),
            hard: HardLimits::default(),
            worker_threads: None,
            inspection: None,
        }
    }
}

/// Configures an [`EgressProxy`].
///
/// # Examples
///
/// ```
/// use std::io::Write;
/// use std::sync::mpsc;
/// use std::time::Duration;
/// use codex_audit::AuditDecision;
/// use codex_network_proxy::EgressProxy;
/// use codex_policy_model::DomainPattern;
/// use codex_policy_model::effective::EgressRules;
///
/// let (events, received) = mpsc::channel();
/// let rules = EgressRules::open().denying("ads.example.com".parse::<DomainPattern>()?);
/// let proxy = EgressProxy::builder(rules)
///     .session_id("session-1")
///     .audit(move |event| events.send(event).map_err(|e| e.to_string()))
///     .worker_threads(1)
///     .start()?;
/// let (http, _socks) = proxy.bind("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?)?;
/// let mut client = std::net::TcpStream::connect(http)?;
/// client.write_all(b"GET http://ads.example.com/ HTTP/1.1\r\nHost: ads.example.com\r\n\r\n")?;
///
/// let event = received.recv_timeout(Duration::from_secs(10))?;
/// assert_eq!((event.decision, event.session_id.as_str()), (AuditDecision::Denied, "session-1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct EgressProxyBuilder {
    rules: EgressRules,
    session_id: String,
    audit: Option<Box<AuditFn>>,
    log_headers: bool,
    log_bodies: bool,
    resolver: Box<dyn Resolver>,
    hard: HardLimits,
    worker_threads: Option<usize>,
    inspection: Option<(InspectionCa, UpstreamRoots)>,
}

impl fmt::Debug for EgressProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EgressProxyBuilder")
            .field("rules", &self.rules)
            .field("session_id", &self.session_id)
            .field("audit", &self.audit.is_some())
            .field("log_headers", &self.log_headers)
            .field("log_bodies", &self.log_bodies)
            .field("hard", &self.hard)
            .finish_non_exhaustive()
    }
}

impl EgressProxyBuilder {
    /// The session the audit events belong to.
    #[must_use]
    pub fn session_id(mut self, session_id: impl Into<String>) -> Self {
        self.session_id = session_id.into();
        self
    }

    /// Receives one event per decision. An `Err` refuses the connection it
    /// was about (HTTP 503, SOCKS5 reply 0x01): nothing unlogged goes through.
    /// It runs on the proxy's runtime and may block briefly (a file append).
    #[must_use]
    pub fn audit<F>(mut self, audit: F) -> Self
    where
        F: Fn(AuditEvent) -> Result<(), String> + Send + Sync + 'static,
    {
        self.audit = Some(Box::new(audit));
        self
    }

    /// Attaches the request headers (as sent upstream) and, for bodies of at
    /// most 4 KiB announced by `Content-Length`, the body, to the events of
    /// plain HTTP requests. The audit sink decides what it keeps.
    #[must_use]
    pub fn log_http(mut self, headers: bool, bodies: bool) -> Self {
        self.log_headers = headers;
        self.log_bodies = bodies;
        self
    }

    /// Resolves names through `resolver` instead of the system's.
    #[must_use]
    pub fn resolver(mut self, resolver: impl Resolver) -> Self {
        self.resolver = Box::new(resolver);
        self
    }

    /// The limits that protect the proxy itself.
    #[must_use]
    pub fn hard_limits(mut self, hard: HardLimits) -> Self {
        self.hard = hard;
        self
    }

    /// Limited mode: the run's certificate authority (whose certificate the
    /// commands were told to trust, see [`UpstreamRoots::trust_bundle`]) and
    /// the roots upstream servers are verified against. Without it, a proxy
    /// in limited mode makes a fresh authority and uses
    /// [`UpstreamRoots::system`]; in full mode it is not used.
    #[must_use]
    pub fn inspection(mut self, ca: InspectionCa, roots: UpstreamRoots) -> Self {
        self.inspection = Some((ca, roots));
        self
    }

    /// Threads of the proxy's runtime (default: the CPUs, at most 4).
    #[must_use]
    pub fn worker_threads(mut self, threads: usize) -> Self {
        self.worker_threads = Some(threads.max(1));
        self
    }

    /// Starts the proxy's runtime on threads of its own. It accepts nothing
    /// until [`RunningProxy::serve`] or [`RunningProxy::bind`].
    ///
    /// # Errors
    ///
    /// [`ProxyError::Runtime`] when the runtime cannot start;
    /// [`ProxyError::Inspection`] when limited mode's authority or TLS
    /// configuration cannot be made.
    pub fn start(self) -> Result<RunningProxy, ProxyError> {
        let rules = CompiledRules::new(&self.rules);
        let inspection = if rules.limited() {
            let (ca, roots) = match self.inspection {
                Some(given) => given,
                None => (InspectionCa::generate()?, UpstreamRoots::system()),
            };
            Some(Inspection {
                upstream: roots.client_config()?,
                ca,
            })
        } else {
            None
        };
        let limits = RunLimits::new(rules.max_requests(), rules.concurrency(), rules.timeout());
        let shared = Arc::new(Shared {
            rules,
            session_id: self.session_id,
            audit: self.audit,
            log_headers: self.log_headers,
            log_bodies: self.log_bodies,
            resolver: self.resolver,
            connections: Arc::new(Semaphore::new(self.hard.max_connections.max(1))),
            hard: self.hard,
            limits,
            inspection,
        });
        let threads = self.worker_threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
                .min(4)
        });
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name(THREAD_NAME)
            .enable_all()
            .build()
            .map_err(ProxyError::Runtime)?;
        let handle = runtime.handle().clone();
        let (shutdown, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(THREAD_NAME.into())
            .spawn(move || {
                runtime.block_on(async {
                    let _ = stopped.await;
                });
                // Drops every task: listeners, connections and tunnels close.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(ProxyError::Runtime)?;
        Ok(RunningProxy {
            shared,
            state: Mutex::new(Some(Running {
                handle,
                shutdown,
                thread,
            })),
        })
    }
}

/// A started proxy. [`RunningProxy::stop`], or dropping it, stops accepting,
/// closes every connection and tunnel, and joins its threads. Limits
/// (`max_requests`, `concurrency`) count per `RunningProxy`.
///
/// # Examples
///
/// ```
/// use std::net::{TcpListener, TcpStream};
/// use codex_network_proxy::EgressProxy;
/// use codex_policy_model::EgressListeners;
/// use codex_policy_model::effective::EgressRules;
///
/// let proxy = EgressProxy::builder(EgressRules::open()).start()?;
/// // Run mode: the listeners a sandbox with a filtered network handed over.
/// let listeners = EgressListeners {
///     http: TcpListener::bind("127.0.0.1:0")?,
///     socks: TcpListener::bind("127.0.0.1:0")?,
/// };
/// let http = listeners.http.local_addr()?;
/// proxy.serve(listeners)?;
/// assert!(!proxy.rules().monitor());
/// TcpStream::connect(http)?;
///
/// proxy.stop(); // the listeners close with every connection and tunnel
/// assert!(TcpStream::connect(http).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RunningProxy {
    shared: Arc<Shared>,
    /// `None` once stopped (a runtime handle keeps the runtime's descriptors
    /// open, so it goes too).
    state: Mutex<Option<Running>>,
}

/// The runtime of a proxy that has not been stopped.
struct Running {
    handle: Handle,
    shutdown: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl fmt::Debug for RunningProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningProxy")
            .field("running", &self.state().is_some())
            .finish_non_exhaustive()
    }
}

/// The name of every thread of a proxy.
const THREAD_NAME: &str = "codex-egress-proxy";

/// Which protocol a listener speaks.
#[derive(Clone, Copy)]
enum Protocol {
    Http,
    Socks,
}

impl RunningProxy {
    /// Accepts on the listeners a sandbox handed over (run mode). They may
    /// be blocking; they are made non-blocking here.
    ///
    /// # Errors
    ///
    /// [`ProxyError::Stopped`] when the proxy has been stopped;
    /// [`ProxyError::Listener`] when a listener cannot be made non-blocking or
    /// registered with the proxy's runtime.
    pub fn serve(&self, listeners: EgressListeners) -> Result<(), ProxyError> {
        self.accept_on(listeners.http, listeners.socks)
            .map_err(|e| match e {
                Accept::Stopped => ProxyError::Stopped,
                Accept::Io(e) => ProxyError::Listener(e),
            })
    }

    /// Listens on `http` and `socks` (standalone mode): loopback addresses
    /// only, port 0 for any free port. Returns the addresses bound.
    ///
    /// # Errors
    ///
    /// [`ProxyError::Stopped`] when the proxy has been stopped;
    /// [`ProxyError::NotLoopback`] when either address is not a loopback address;
    /// [`ProxyError::Bind`] when an address cannot be listened on (in use, say).
    pub fn bind(
        &self,
        http: SocketAddr,
        socks: SocketAddr,
    ) -> Result<(SocketAddr, SocketAddr), ProxyError> {
        if self.state().is_none() {
            return Err(ProxyError::Stopped);
        }
        check_loopback(&[http, socks])?;
        let bind = |addr: SocketAddr| {
            StdListener::bind(addr).map_err(|source| ProxyError::Bind { addr, source })
        };
        let http_listener = bind(http)?;
        let socks_listener = bind(socks)?;
        let local = |listener: &StdListener, addr: SocketAddr| {
            listener
                .local_addr()
                .map_err(|source| ProxyError::Bind { addr, source })
        };
        let bound = (local(&http_listener, http)?, local(&socks_listener, socks)?);
        self.accept_on(http_listener, socks_listener)
            .map_err(|e| match e {
                Accept::Stopped => ProxyError::Stopped,
                Accept::Io(source) => ProxyError::Bind { addr: http, source },
            })?;
        Ok(bound)
    }

    fn accept_on(&self, http: StdListener, socks: StdListener) -> Result<(), Accept> {
        // Held while spawning: a concurrent stop waits for the accept loops
        // to exist, then drops them with the runtime.
        let state = self.state();
        let Some(Running { handle, .. }) = state.as_ref() else {
            return Err(Accept::Stopped);
        };
        http.set_nonblocking(true).map_err(Accept::Io)?;
        socks.set_nonblocking(true).map_err(Accept::Io)?;
        let _guard = handle.enter();
        let http = TcpListener::from_std(http).map_err(Accept::Io)?;
        let socks = TcpListener::from_std(socks).map_err(Accept::Io)?;
        handle.spawn(accept_loop(http, Arc::clone(&self.shared), Protocol::Http));
        handle.spawn(accept_loop(
            socks,
            Arc::clone(&self.shared),
            Protocol::Socks,
        ));
        Ok(())
    }

    /// The rules in force.
    pub fn rules(&self) -> &CompiledRules {
        &self.shared.rules
    }

    /// Limited mode's certificate authority (`None` in full mode).
    pub fn inspection_ca(&self) -> Option<&InspectionCa> {
        self.shared.inspection.as_ref().map(|i| &i.ca)
    }

    /// Stops accepting, closes every connection and tunnel, and joins the
    /// proxy's threads. Idempotent; also done on drop. Call it from outside
    /// the proxy's own runtime (an audit callback must not).
    pub fn stop(&self) {
        let Some(running) = self.state().take() else {
            return;
        };
        let Running {
            handle,
            shutdown,
            thread,
        } = running;
        let _ = shutdown.send(());
        // From one of the proxy's own threads (an audit callback), joining
        // would wait for itself: the runtime ends on its own once signalled.
        if std::thread::current().name() != Some(THREAD_NAME) {
            let _ = thread.join();
        }
        drop(handle);
    }

    fn state(&self) -> MutexGuard<'_, Option<Running>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        self.stop();
    }
}

enum Accept {
    Stopped,
    Io(std::io::Error),
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, protocol: Protocol) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of descriptors, or a connection aborted before it was
                // accepted: wait a little rather than spin.
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&shared.connections).try_acquire_owned() else {
            // Past max_connections: closed at once.
            drop(stream);
            continue;
        };
        let shared = Arc::clone(&shared);
        match protocol {
            Protocol::Http => tokio::spawn(http::serve(stream, shared, permit)),
            Protocol::Socks => tokio::spawn(socks::serve(stream, shared, permit)),
        };
    }
}

/// The environment that points a child at the proxy: `HTTP_PROXY`,
/// `HTTPS_PROXY` (and lowercase) = `http://HTTP`, `ALL_PROXY` (and
/// lowercase) = `socks5h://SOCKS` (names resolved by the proxy), and
/// `NO_PROXY`/`no_proxy` cleared so that nothing bypasses it.
///
/// # Examples
///
/// ```
/// use codex_network_proxy::proxy_environment;
///
/// let env = proxy_environment("127.0.0.1:3128".parse()?, "127.0.0.1:1080".parse()?);
/// let mut command = std::process::Command::new("cargo");
/// command.arg("fetch").envs(env.clone());
/// assert!(env.contains(&("HTTPS_PROXY", "http://127.0.0.1:3128".to_owned())));
/// assert!(env.contains(&("ALL_PROXY", "socks5h://127.0.0.1:1080".to_owned())));
/// assert!(env.contains(&("NO_PROXY", String::new()))); // nothing bypasses the proxy
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn proxy_environment(http: SocketAddr, socks: SocketAddr) -> Vec<(&'static str, String)> {
    let http_url = format!("http://{http}");
    let socks_url = format!("socks5h://{socks}");
    vec![
        ("HTTP_PROXY", http_url.clone()),
        ("HTTPS_PROXY", http_url.clone()),
        ("http_proxy", http_url.clone()),
        ("https_proxy", http_url),
        ("ALL_PROXY", socks_url.clone()),
        ("all_proxy", socks_url),
        ("NO_PROXY", String::new()),
        ("no_proxy", String::new()),
    ]
}

/// Whether the standalone proxy may listen at `addrs`: on loopback only
/// (what [`RunningProxy::bind`] requires), checked before anything else is
/// prepared.
///
/// ```
/// use codex_network_proxy::{ProxyError, check_loopback};
///
/// assert!(check_loopback(&["127.0.0.1:3128".parse()?, "[::1]:1080".parse()?]).is_ok());
/// let err = check_loopback(&["0.0.0.0:3128".parse()?]).unwrap_err();
/// assert!(matches!(err, ProxyError::NotLoopback { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
///
/// [`ProxyError::NotLoopback`] for the first address that is not a loopback
/// address.
pub fn check_loopback(addrs: &[SocketAddr]) -> Result<(), ProxyError> {
    match addrs.iter().find(|addr| !addr.ip().is_loopback()) {
        Some(&addr) => Err(ProxyError::NotLoopback { addr }),
        None => Ok(()),
    }
}
