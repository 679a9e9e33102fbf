//! An egress proxy (HTTP/1.1 with CONNECT, and SOCKS5) that lets a sandboxed
//! child reach only the destinations its policy allows.
//!
//! A sandbox with a filtered network hands over two listening sockets on its
//! own loopback ([`EgressListeners`](codex_policy_model::EgressListeners));
//! the child finds them through [`proxy_environment`]. For every request or
//! tunnel the proxy normalizes the host, decides on it ([`decide`]: deny list,
//! ask list, local literals and the host's own addresses, allow list, port),
//! resolves an allowed name once through its [`Resolver`], refuses it if any
//! address is local or private or the host's own (DNS rebinding), counts it
//! against the run's limits, logs one (bounded) audit event, and connects to
//! the vetted address, never resolving again. A malformed or evasive request
//! is refused and logged too. Monitor mode lets what would be refused
//! through and logs it as a violation; the hard limits ([`HardLimits`])
//! protect the proxy whatever the mode.
//!
//! In limited mode (`EgressRules::with_mode(NetworkMode::Limited)`, the
//! read-only network) only `GET`, `HEAD` and `OPTIONS` without a body or an
//! upgrade pass, and no tunnel is copied blind: TLS is terminated with a leaf
//! certificate the run's [`InspectionCa`] signs, each request is checked, and
//! the proxy speaks TLS upstream itself, verifying against [`UpstreamRoots`].
//! Clients trust the authority through [`UpstreamRoots::trust_bundle`] and
//! [`trust_environment`].
//!
//! ```no_run
//! use codex_network_proxy::{EgressProxy, proxy_environment};
//! use codex_policy_model::DomainPattern;
//! use codex_policy_model::effective::EgressRules;
//!
//! let rules = EgressRules::open()
//!     .allowing("**.example.com".parse::<DomainPattern>()?)
//!     .denying("ads.example.com".parse::<DomainPattern>()?);
//! let proxy = EgressProxy::builder(rules)
//!     .session_id("s1")
//!     .audit(|event| {
//!         println!("{} {:?}", event.target, event.decision);
//!         Ok(())
//!     })
//!     .start()?;
//! let (http, socks) = proxy.bind("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?)?;
//! for (name, value) in proxy_environment(http, socks) {
//!     println!("{name}={value}");
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The decision alone, with no proxy running:
//!
//! ```
//! use codex_network_proxy::{CompiledRules, Decision, Reason, decide};
//! use codex_policy_model::{DomainPattern, Host};
//! use codex_policy_model::effective::EgressRules;
//!
//! let rules = CompiledRules::new(
//!     &EgressRules::open().allowing("*.example.com".parse::<DomainPattern>()?),
//! );
//! let host = Host::parse("API.Example.COM.")?;
//! assert_eq!(decide(&rules, &host, 443), Decision::Allow);
//! let local = Host::parse("0x7f.1")?; // 127.0.0.1
//! assert_eq!(decide(&rules, &local, 80), Decision::Deny(Reason::NotAllowedLocal));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod bound;
mod ca;
mod decision;
mod error;
mod gate;
mod host;
mod http;
mod inspect;
mod limits;
mod proxy;
mod resolver;
mod roots;
mod socks;
mod tunnel;

pub use ca::InspectionCa;
pub use decision::{
    BLOCK_EVENT, CompiledRules, DOMAIN_POLICY_EVENT, Decision, Reason, decide, is_host_address,
    is_local,
};
pub use error::ProxyError;
pub use limits::HardLimits;
pub use proxy::{EgressProxy, EgressProxyBuilder, RunningProxy, check_loopback, proxy_environment};
pub use resolver::{ResolveFuture, Resolver, SystemResolver};
pub use roots::{UpstreamRoots, trust_environment};
