//! The seam through which names are resolved: once per connection, and only
//! for names the rules allow.

use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;

/// What [`Resolver::resolve`] returns: a boxed future, so that resolvers can
/// be stored behind `dyn`.
pub type ResolveFuture<'a> = Pin<Box<dyn Future<Output = io::Result<Vec<IpAddr>>> + Send + 'a>>;

/// Resolves a host name to addresses. The proxy calls it at most once per
/// request or tunnel, only for names the rules allow, and connects only to
/// the addresses it returned (after vetting every one of them).
///
/// A plain function or closure `Fn(&str, u16) -> io::Result<Vec<IpAddr>>` is
/// a resolver too; it runs on the proxy's runtime, so it must not block.
pub trait Resolver: Send + Sync + 'static {
    /// The addresses of `host` (a normalized name, never an IP literal), for
    /// a connection to `port`.
    fn resolve<'a>(&'a self, host: &'a str, port: u16) -> ResolveFuture<'a>;
}

/// The system resolver (`getaddrinfo`, through `tokio::net::lookup_host`).
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
