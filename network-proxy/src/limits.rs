//! Hard limits (protection of the proxy itself, never relaxed by monitor
//! mode) and the policy's per-run limits.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Limits that protect the proxy, whatever the policy says: monitor mode
/// never lifts them.
///
/// # Examples
///
/// ```
/// use std::io::{Read, Write};
/// use codex_network_proxy::{EgressProxy, HardLimits};
/// use codex_policy_model::effective::EgressRules;
///
/// let limits = HardLimits { max_head_bytes: 16 * 1024, ..HardLimits::default() };
/// let proxy = EgressProxy::builder(EgressRules::open()).hard_limits(limits).start()?;
/// let (http, _socks) = proxy.bind("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?)?;
///
/// let mut client = std::net::TcpStream::connect(http)?;
/// let big = "a".repeat(20 * 1024);
/// write!(client, "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\nX-Big: {big}\r\n\r\n")?;
/// let mut status = [0; 12];
/// client.read_exact(&mut status)?;
/// assert_eq!(&status, b"HTTP/1.1 431"); // Request Header Fields Too Large
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HardLimits {
    /// Largest HTTP request head (request line and headers), in bytes; a
    /// larger one is answered 431. Values under 8 KiB count as 8 KiB for the
    /// read buffer, but a complete head is still held to this size.
    pub max_head_bytes: usize,
    /// Longest time a client may take to send a request head (slowloris).
    pub header_read_timeout: Duration,
    /// Most client connections open at once, both listeners together; past
    /// it a new connection is closed at once.
    pub max_connections: usize,
    /// Longest time a SOCKS5 client may take to send its greeting and
    /// request; in limited mode, also the longest a tunnel's client may take
    /// to send its first byte, and then to complete its TLS handshake.
    pub handshake_timeout: Duration,
    /// Longest time to resolve a name, and to connect to one address.
    pub connect_timeout: Duration,
}

impl Default for HardLimits {
    /// 64 KiB heads, 10 s to send them, 4096 connections, 10 s for a SOCKS5
    /// handshake, 10 s to resolve and to connect.
    fn default() -> Self {
        Self {
            max_head_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            handshake_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// `max_requests` and `concurrency` of one run.
#[derive(Debug)]
pub(crate) struct RunLimits {
    started: AtomicU64,
    max_requests: Option<u64>,
    slots: Option<Arc<Semaphore>>,
    wait: Option<Duration>,
}

/// A request or tunnel in flight: holds its `concurrency` slot.
#[derive(Debug)]
pub(crate) struct Admitted {
    _slot: Option<OwnedSemaphorePermit>,
}

impl Admitted {
    /// Admitted without a slot (monitor mode past a limit).
    pub(crate) fn unlimited() -> Self {
        Self { _slot: None }
    }
}

impl RunLimits {
    pub(crate) fn new(
        max_requests: Option<u64>,
        concurrency: Option<u32>,
        wait: Option<Duration>,
    ) -> Self {
        Self {
            started: AtomicU64::new(0),
            max_requests,
            slots: concurrency.map(|n| Arc::new(Semaphore::new(n as usize))),
            wait,
        }
    }

    /// Counts one more request or tunnel and waits for a slot (up to the
    /// policy's timeout, or until one frees when there is none). `None`: a
    /// limit is exceeded.
    pub(crate) async fn admit(&self) -> Option<Admitted> {
        let n = self
            .started
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        if self.max_requests.is_some_and(|max| n > max) {
            return None;
        }
        let Some(slots) = &self.slots else {
            return Some(Admitted { _slot: None });
        };
        let acquire = Arc::clone(slots).acquire_owned();
        let slot = match self.wait {
            Some(wait) => tokio::time::timeout(wait, acquire).await.ok()?.ok()?,
            None => acquire.await.ok()?,
        };
        Some(Admitted { _slot: Some(slot) })
    }
}
