//! The seam through which names are resolved: once per connection, and only
//! for names the rules allow.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

/// What [`Resolver::resolve`] returns: a boxed future, so that resolvers can
/// be stored behind `dyn`.
///
/// # Examples
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use codex_network_proxy::{ResolveFuture, Resolver};
///
/// /// Every name is the one internal mirror.
/// struct Mirror;
///
/// impl Resolver for Mirror {
///     fn resolve<'a>(&'a self, _host: &'a str, _port: u16) -> ResolveFuture<'a> {
///         Box::pin(async { Ok(vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))]) })
///     }
/// }
///
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let addresses = runtime.block_on(Mirror.resolve("crates.io", 443))?;
/// assert_eq!(addresses, [IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Resolves a host name to addresses. The proxy calls it at most once per
/// request or tunnel, only for names the rules allow, and connects only to
/// the addresses it returned (after vetting every one of them).
///
/// A plain function or closure `Fn(&str, u16) -> io::Result<Vec<IpAddr>>` is
/// a resolver too; it runs on the proxy's runtime, so it must not block.
///
/// # Examples
///
/// ```
/// use std::io;
/// use std::net::{IpAddr, Ipv4Addr};
/// use codex_network_proxy::{EgressProxy, Resolver};
/// use codex_policy_model::IpRule;
/// use codex_policy_model::effective::EgressRules;
///
/// // A fixed table instead of the system's DNS: a package mirror on the internal network.
/// let table = |host: &str, _port: u16| -> io::Result<Vec<IpAddr>> {
///     match host {
///         "mirror.internal" => Ok(vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))]),
///         _ => Err(io::Error::new(io::ErrorKind::NotFound, host.to_owned())),
///     }
/// };
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// assert_eq!(runtime.block_on(table.resolve("mirror.internal", 443))?.len(), 1);
/// assert!(runtime.block_on(table.resolve("example.com", 443)).is_err());
///
/// let rules = EgressRules::open().with_ip_allow(vec!["10.0.0.0/8".parse::<IpRule>()?]);
/// let _proxy = EgressProxy::builder(rules).resolver(table).start()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host` (a normalized name, never an IP literal), for
    /// a connection to `port`.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a>;
}

/// The system resolver (`getaddrinfo`, through `tokio::net::lookup_host`).
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{Resolver, SystemResolver};
///
/// // The proxy's default; `localhost` resolves without leaving the host.
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
/// let addresses = runtime.block_on(SystemResolver.resolve("localhost", 80))?;
/// assert!(!addresses.is_empty());
/// assert!(addresses.iter().all(|ip| ip.is_loopback()));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(async move {
            let addresses = tokio::net::lookup_host((host, port)).await?;
            let mut out: Vec<IpAddr> = Vec::new();
            for address in addresses {
                if !out.contains(&address.ip()) {
                    out.push(address.ip());
                }
            }
            Ok(out)
        })
    }
}

impl<F> Resolver for F
where
    F: Fn(&str, u16) -> io::Result<Vec<IpAddr>> + Send + Sync + 'static,
{
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a> {
        Box::pin(std::future::ready(self(host, port)))
    }
}
