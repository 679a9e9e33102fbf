//! The crate's error type.

use std::io;
use std::net::SocketAddr;

/// Why the proxy could not start or listen.
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{EgressProxy, ProxyError};
/// use codex_policy_model::effective::EgressRules;
///
/// let proxy = EgressProxy::builder(EgressRules::open()).start()?;
/// // A standalone proxy listens on loopback only.
/// let err = proxy.bind("0.0.0.0:3128".parse()?, "127.0.0.1:0".parse()?).unwrap_err();
/// assert!(matches!(err, ProxyError::NotLoopback { addr } if addr.port() == 3128));
///
/// proxy.stop();
/// let err = proxy.bind("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?).unwrap_err();
/// assert!(matches!(err, ProxyError::Stopped));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy's runtime or its thread could not be started.
    #[error("could not start the proxy runtime: {0}")]
    Runtime(#[source] io::Error),
    /// A standalone proxy listens on loopback only.
    #[error("{addr} is not a loopback address: the proxy listens on loopback only")]
    NotLoopback {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Listening on an address failed.
    #[error("could not listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        #[source]
        source: io::Error,
    },
    /// A handed-over listener could not be used.
    #[error("could not use a handed-over listener: {0}")]
    Listener(#[source] io::Error),
    /// The proxy was stopped.
    #[error("the proxy has been stopped")]
    Stopped,
    /// The run's certificate authority or a certificate could not be made
    /// (limited mode inspects HTTPS and cannot run without it).
    #[error("HTTPS inspection cannot be set up: {0}")]
    Inspection(String),
    /// No certificate to verify upstream servers with was found, or a root
    /// certificate file could not be read.
    #[error("upstream root certificates: {0}")]
    UpstreamRoots(String),
}
