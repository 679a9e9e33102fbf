//! The pure part of the proxy: what the rules say about a host and a port
//! before any name is resolved, and what they say about the addresses a
//! name resolved to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use codex_policy_model::effective::{AllowlistMiss, EgressRules};
use codex_policy_model::{DomainMatcher, DomainPattern, Host, IpRule, NetworkMode};

use crate::host::host_addresses;

/// Why a destination is refused, as the stable code the block answers and the
/// audit log carry.
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{CompiledRules, DOMAIN_POLICY_EVENT, Reason, decide};
/// use codex_policy_model::{DomainPattern, Host};
/// use codex_policy_model::effective::EgressRules;
///
/// let rules = CompiledRules::new(
///     &EgressRules::open().denying("ads.example.com".parse::<DomainPattern>()?),
/// );
/// let decision = decide(&rules, &Host::parse("ads.example.com")?, 443);
/// let reason = decision.reason().ok_or("allowed")?;
/// assert_eq!(reason, Reason::Denied);
/// assert_eq!(reason.code(), "denied"); // x-codex-policy-reason, and the audit log's
/// assert_eq!(reason.event_name(), DOMAIN_POLICY_EVENT);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The deny list names the host (`denied`).
    Denied,
    /// No allow entry names the host (`not_allowed`).
    NotAllowed,
    /// A local or private address, by literal or by resolution (`not_allowed_local`).
    NotAllowedLocal,
    /// The port is not in the allowed ports (`port_not_allowed`).
    PortNotAllowed,
    /// Past `max_requests`, or no free `concurrency` slot in time (`limit_exceeded`).
    LimitExceeded,
    /// Limited mode: a method other than `GET`, `HEAD`, `OPTIONS`, a request
    /// body, or a protocol upgrade (`method_not_allowed`).
    MethodNotAllowed,
    /// Limited mode: the upstream server's certificate did not verify
    /// against the upstream roots (`upstream_tls`; answered 502).
    UpstreamTls,
    /// Limited mode: a tunnel whose traffic is neither HTTP nor HTTPS the
    /// client lets the proxy read, for instance a client that rejects the
    /// run's certificate authority (`not_inspectable`; the connection closes).
    NotInspectable,
}

impl Reason {
    /// The stable code: `denied`, `not_allowed`, `not_allowed_local`,
    /// `port_not_allowed`, `limit_exceeded`, `method_not_allowed`,
    /// `upstream_tls`, `not_inspectable`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::NotAllowed => "not_allowed",
            Self::NotAllowedLocal => "not_allowed_local",
            Self::PortNotAllowed => "port_not_allowed",
            Self::LimitExceeded => "limit_exceeded",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UpstreamTls => "upstream_tls",
            Self::NotInspectable => "not_inspectable",
        }
    }

    /// The reason in words.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Denied => "denied by policy",
            Self::NotAllowed => "not in the allowlist",
            Self::NotAllowedLocal => "a local or private address",
            Self::PortNotAllowed => "port not allowed",
            Self::LimitExceeded => "request limit exceeded",
            Self::MethodNotAllowed => {
                "read-only network: only GET, HEAD and OPTIONS, without a body or an upgrade"
            }
            Self::UpstreamTls => "the upstream server's certificate did not verify",
            Self::NotInspectable => {
                "read-only network: the connection could not be inspected as HTTP or HTTPS"
            }
        }
    }

    /// The OpenTelemetry event name of an audit event for this reason:
    /// `codex.network_proxy.domain_policy_decision` for the domain policy
    /// (deny and allow lists), `codex.network_proxy.block_decision` for the
    /// other refusals.
    pub const fn event_name(self) -> &'static str {
        match self {
            Self::Denied | Self::NotAllowed => DOMAIN_POLICY_EVENT,
            Self::NotAllowedLocal
            | Self::PortNotAllowed
            | Self::LimitExceeded
            | Self::MethodNotAllowed
            | Self::UpstreamTls
            | Self::NotInspectable => BLOCK_EVENT,
        }
    }
}

/// `event.name` of decisions made by the domain policy (and of every allowed
/// connection).
pub const DOMAIN_POLICY_EVENT: &str = "codex.network_proxy.domain_policy_decision";
/// `event.name` of refusals for a local address, a port or a limit.
pub const BLOCK_EVENT: &str = "codex.network_proxy.block_decision";

/// What the rules say about a destination before it is resolved.
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{CompiledRules, Decision, Reason, decide};
/// use codex_policy_model::{DomainPattern, Host};
/// use codex_policy_model::effective::EgressRules;
///
/// let rules = CompiledRules::new(
///     &EgressRules::open().asking("*.example.com".parse::<DomainPattern>()?),
/// );
/// let decision = decide(&rules, &Host::parse("upload.example.com")?, 443);
/// assert_eq!(decision, Decision::Ask(Reason::NotAllowed));
/// assert!(!decision.is_allowed());
/// assert_eq!(decision.as_str(), "ask"); // x-codex-policy-decision: a person may approve it
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// It may be resolved (a name) and connected to, if the addresses pass.
    Allow,
    /// Refused; nobody may approve it (`x-codex-policy-decision: deny`).
    Deny(Reason),
    /// Refused, but a person could approve it (`x-codex-policy-decision: ask`).
    Ask(Reason),
}

impl Decision {
    /// Whether the destination may be connected to.
    pub const fn is_allowed(self) -> bool {
        matches!(self, Self::Allow)
    }

    /// Why it is refused.
    pub const fn reason(self) -> Option<Reason> {
        match self {
            Self::Allow => None,
            Self::Deny(reason) | Self::Ask(reason) => Some(reason),
        }
    }

    /// The value of `x-codex-policy-decision`: `allow`, `deny` or `ask`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Allow => "allow",
            Self::Deny(_) => "deny",
            Self::Ask(_) => "ask",
        }
    }
}

/// [`EgressRules`] prepared for fast decisions: matchers built once.
///
/// # Examples
///
/// ```
/// use std::num::NonZeroU16;
/// use codex_network_proxy::{CompiledRules, Decision, Reason, decide};
/// use codex_policy_model::{DomainPattern, Host};
/// use codex_policy_model::effective::EgressRules;
///
/// let https = NonZeroU16::new(443).ok_or("port 0")?;
/// let rules = CompiledRules::new(
///     &EgressRules::open()
///         .allowing("crates.io".parse::<DomainPattern>()?)
///         .with_ports(vec![https]),
/// );
/// assert!(!rules.monitor() && !rules.limited());
/// let host = Host::parse("crates.io")?;
/// assert_eq!(decide(&rules, &host, 443), Decision::Allow);
/// assert_eq!(decide(&rules, &host, 80), Decision::Deny(Reason::PortNotAllowed));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct CompiledRules {
    allow: DomainMatcher,
    deny: DomainMatcher,
    ask: DomainMatcher,
    allow_ips: Vec<IpAddr>,
    deny_ips: Vec<IpAddr>,
    ask_ips: Vec<IpAddr>,
    localhost_listed: bool,
    ip_allow: Vec<IpRule>,
    loopback: bool,
    ports: Option<Vec<u16>>,
    allowlist_miss: AllowlistMiss,
    monitor: bool,
    limited: bool,
    max_requests: Option<u64>,
    concurrency: Option<u32>,
    timeout: Option<Duration>,
}

impl CompiledRules {
    /// Builds the matchers of `rules`.
    pub fn new(rules: &EgressRules) -> Self {
        let ips = |patterns: &[DomainPattern]| -> Vec<IpAddr> {
            patterns
                .iter()
                .filter_map(|p| match p {
                    DomainPattern::Ip(ip) => Some(canonical(*ip)),
                    _ => None,
                })
                .collect()
        };
        Self {
            allow: DomainMatcher::new(&rules.allow),
            deny: DomainMatcher::new(&rules.deny),
            ask: DomainMatcher::new(&rules.ask),
            allow_ips: ips(&rules.allow),
            deny_ips: ips(&rules.deny),
            ask_ips: ips(&rules.ask),
            localhost_listed: rules
                .allow
                .iter()
                .any(|p| matches!(p, DomainPattern::Exact(name) if name.as_str() == "localhost")),
            ip_allow: rules.ip_allow.clone(),
            loopback: rules.loopback,
            ports: rules
                .ports
                .as_ref()
                .map(|ports| ports.iter().map(|p| p.get()).collect()),
            allowlist_miss: rules.allowlist_miss,
            monitor: rules.monitor,
            limited: rules.mode == NetworkMode::Limited,
            max_requests: rules.max_requests.map(|n| u64::from(n.get())),
            concurrency: rules.concurrency.map(|n| n.get()),
            timeout: rules
                .timeout_seconds
                .map(|s| Duration::from_secs(u64::from(s.get()))),
        }
    }

    /// Monitor mode: refusals are let through and logged as violations.
    pub fn monitor(&self) -> bool {
        self.monitor
    }

    /// Limited mode: read-only methods only, HTTPS inspected.
    pub fn limited(&self) -> bool {
        self.limited
    }

    pub(crate) fn max_requests(&self) -> Option<u64> {
        self.max_requests
    }

    pub(crate) fn concurrency(&self) -> Option<u32> {
        self.concurrency
    }

    /// The longest plain request, and the longest idle tunnel.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Whether `ip` is inside an `ip_allow` network (an IPv4-mapped IPv6
    /// address counts as its IPv4 address).
    fn in_ip_allow(&self, ip: IpAddr) -> bool {
        let canon = canonical(ip);
        self.ip_allow
            .iter()
            .any(|rule| rule.contains(ip) || rule.contains(canon))
    }

    /// A local or private IP literal (or one of the host's own addresses) may
    /// be reached only when it is listed exactly, is inside `ip_allow`, or is
    /// loopback with loopback allowed.
    fn local_literal_allowed(&self, ip: IpAddr) -> bool {
        let canon = canonical(ip);
        self.allow_ips.contains(&canon)
            || self.in_ip_allow(ip)
            || (self.loopback && canon.is_loopback())
    }

    /// What the addresses a name resolved to say (step 5): the first refusal
    /// (deny, then ask, then local), if any. Every address must pass, not
    /// only the one connected to.
    pub(crate) fn vet_resolved(&self, addresses: &[IpAddr]) -> Decision {
        self.vet_resolved_with(addresses, &host_addresses())
    }

    fn vet_resolved_with(&self, addresses: &[IpAddr], host: &[IpAddr]) -> Decision {
        let listed = self.vet_listed(addresses);
        if !listed.is_allowed() {
            return listed;
        }
        if addresses
            .iter()
            .any(|&ip| is_local_or_host(ip, host) && !self.in_ip_allow(ip))
        {
            return Decision::Deny(Reason::NotAllowedLocal);
        }
        Decision::Allow
    }

    /// Whether the deny list, then the ask list, names one of `addresses`
    /// by an IP entry (in any form that embeds it); for `localhost`, whose
    /// addresses are fixed, and as the first part of [`Self::vet_resolved`].
    pub(crate) fn vet_listed(&self, addresses: &[IpAddr]) -> Decision {
        if addresses.iter().any(|&ip| names_ip(&self.deny_ips, ip)) {
            return Decision::Deny(Reason::Denied);
        }
        if addresses.iter().any(|&ip| names_ip(&self.ask_ips, ip)) {
            return Decision::Ask(Reason::NotAllowed);
        }
        Decision::Allow
    }
}

impl From<&EgressRules> for CompiledRules {
    fn from(rules: &EgressRules) -> Self {
        Self::new(rules)
    }
}

/// The decision on `host:port` before any resolution (steps 1 to 5):
/// explicit deny, ask, local literals (and the host's own addresses, see
/// [`is_host_address`]), the allow list, the port. A name allowed here is
/// still refused if it resolves to a local address ([`is_local`]).
///
/// Deny and ask entries for an IPv4 address also cover every IPv6 form that
/// embeds it (IPv4-mapped, IPv4-compatible, `::ffff:0:a.b.c.d`, NAT64,
/// 6to4, Teredo, ISATAP); an allow entry covers exactly what it names (and
/// its IPv4-mapped form, the same destination on a dual-stack socket).
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{CompiledRules, Decision, Reason, decide};
/// use codex_policy_model::{DomainPattern, Host};
/// use codex_policy_model::effective::EgressRules;
///
/// let rules = CompiledRules::new(
///     &EgressRules::open()
///         .allowing("**.example.com".parse::<DomainPattern>()?)
///         .denying("ads.example.com".parse::<DomainPattern>()?),
/// );
/// let verdict = |host: &str| Host::parse(host).map(|host| decide(&rules, &host, 443));
/// assert_eq!(verdict("www.example.com")?, Decision::Allow);
/// assert_eq!(verdict("ads.example.com")?, Decision::Deny(Reason::Denied)); // deny wins
/// assert_eq!(verdict("example.org")?, Decision::Ask(Reason::NotAllowed)); // not listed
/// // A local literal, in any spelling, before any name is resolved.
/// assert_eq!(verdict("[::ffff:10.0.0.1]")?, Decision::Deny(Reason::NotAllowedLocal));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decide(rules: &CompiledRules, host: &Host, port: u16) -> Decision {
    match host {
        Host::Ip(_) => decide_with(rules, host, port, &host_addresses()),
        Host::Name(_) => decide_with(rules, host, port, &[]),
    }
}

/// [`decide`] with the host's own addresses given: `host_addrs`.
fn decide_with(rules: &CompiledRules, host: &Host, port: u16, host_addrs: &[IpAddr]) -> Decision {
    // 1. Deny wins, over names and IP literals in any spelling.
    let (denied, asked) = match host {
        Host::Ip(ip) => (
            rules.deny.matches(host) || names_ip(&rules.deny_ips, *ip),
            rules.ask.matches(host) || names_ip(&rules.ask_ips, *ip),
        ),
        Host::Name(_) => (rules.deny.matches(host), rules.ask.matches(host)),
    };
    if denied {
        return Decision::Deny(Reason::Denied);
    }
    // 2. Ask: a person must approve it, whatever the allow list says.
    if asked {
        return Decision::Ask(Reason::NotAllowed);
    }
    // 3. and 4. Local literals, then the allow list. `ip_allow` lifts the
    // local refusal only: a public address must be in the allow list.
    let allowed = match host {
        Host::Ip(ip) if is_local_or_host(*ip, host_addrs) => {
            if !rules.local_literal_allowed(*ip) {
                return Decision::Deny(Reason::NotAllowedLocal);
            }
            true
        }
        Host::Ip(ip) => rules.allow.matches(host) || rules.allow_ips.contains(&canonical(*ip)),
        Host::Name(name) if name.as_str() == "localhost" => {
            if !(rules.localhost_listed || rules.loopback) {
                return Decision::Deny(Reason::NotAllowedLocal);
            }
            true
        }
        Host::Name(_) => rules.allow.matches(host),
    };
    if !allowed {
        return match rules.allowlist_miss {
            AllowlistMiss::Deny => Decision::Deny(Reason::NotAllowed),
            _ => Decision::Ask(Reason::NotAllowed),
        };
    }
    // 5. Ports.
    if let Some(ports) = &rules.ports
        && !ports.contains(&port)
    {
        return Decision::Deny(Reason::PortNotAllowed);
    }
    Decision::Allow
}

/// An IPv4-mapped IPv6 address as its IPv4 address; any other unchanged.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `list` (canonical addresses) names `ip`, or, for an IPv6
/// address, one of the IPv4 addresses it embeds ([`embedded_v4`]).
fn names_ip(list: &[IpAddr], ip: IpAddr) -> bool {
    if list.is_empty() {
        return false;
    }
    match canonical(ip) {
        canon @ IpAddr::V4(_) => list.contains(&canon),
        canon @ IpAddr::V6(v6) => {
            list.contains(&canon)
                || embedded_v4(v6)
                    .iter()
                    .any(|v4| list.contains(&IpAddr::V4(*v4)))
        }
    }
}

/// Local or private ([`is_local`]), or one of `host_addrs` (the host's own
/// addresses) in any form that embeds it.
fn is_local_or_host(ip: IpAddr, host_addrs: &[IpAddr]) -> bool {
    is_local(ip) || names_ip(host_addrs, ip)
}

/// Whether `ip` is assigned to one of this host's network interfaces (read
/// with `getifaddrs`, cached for about a second), directly or embedded in
/// an IPv6 form that leads to it. A service bound to `0.0.0.0` answers on
/// every such address, so the proxy treats them as local: refused
/// (`not_allowed_local`) unless inside `ip_allow` or allowlisted exactly.
///
/// # Examples
///
/// ```
/// use codex_network_proxy::{is_host_address, is_local};
///
/// // The loopback interface's address, also in its IPv4-mapped form.
/// assert!(is_host_address("127.0.0.1".parse()?));
/// assert!(is_host_address("::ffff:127.0.0.1".parse()?));
/// // A documentation address is on no interface (and refused as local anyway).
/// let documentation = "192.0.2.1".parse()?;
/// assert!(!is_host_address(documentation) && is_local(documentation));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn is_host_address(ip: IpAddr) -> bool {
    names_ip(&host_addresses(), ip)
}

/// The IPv4 addresses an IPv6 address embeds, in every form that leads to
/// them: IPv4-compatible (`::a.b.c.d`), IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-translated (`::ffff:0:a.b.c.d`), NAT64 (`64:ff9b::/96`, and
/// `64:ff9b:1::/48` with each RFC 6052 prefix length it may use), 6to4
/// (`2002:AABB:CCDD::/48`), Teredo (`2001::/32`: the server, and the
/// bit-inverted client) and ISATAP (`…:0:5efe:a.b.c.d`).
pub(crate) fn embedded_v4(v6: Ipv6Addr) -> Embedded {
    let bits = u128::from(v6);
    let b = v6.octets();
    let seg = v6.segments();
    let v4 = |o: [u8; 4]| Ipv4Addr::from(o);
    let mut out = Embedded::default();
    match bits >> 32 {
        0 | 0xffff | 0xffff_0000 | 0x0064_ff9b_0000_0000_0000_0000 => {
            out.push(v4([b[12], b[13], b[14], b[15]]));
        }
        _ => {}
    }
    if bits >> 80 == 0x0064_ff9b_0001 {
        // RFC 6052 section 2.2: the address around the reserved octet 8.
        out.push(v4([b[6], b[7], b[9], b[10]])); // /48
        out.push(v4([b[7], b[9], b[10], b[11]])); // /56
        out.push(v4([b[9], b[10], b[11], b[12]])); // /64
        out.push(v4([b[12], b[13], b[14], b[15]])); // /96
    }
    if seg[0] == 0x2002 {
        out.push(v4([b[2], b[3], b[4], b[5]]));
    }
    if seg[0] == 0x2001 && seg[1] == 0 {
        out.push(v4([b[4], b[5], b[6], b[7]]));
        out.push(v4([!b[12], !b[13], !b[14], !b[15]]));
    }
    if seg[4] & 0xfdff == 0 && seg[5] == 0x5efe {
        out.push(v4([b[12], b[13], b[14], b[15]]));
    }
    out
}

/// At most a handful of embedded addresses, without allocating.
#[derive(Debug, Default)]
pub(crate) struct Embedded {
    addrs: [Option<Ipv4Addr>; 8],
}

impl Embedded {
    fn push(&mut self, v4: Ipv4Addr) {
        if let Some(slot) = self.addrs.iter_mut().find(|slot| slot.is_none()) {
            *slot = Some(v4);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &Ipv4Addr> {
        self.addrs.iter().flatten()
    }
}

/// Whether `ip` is local or private: never reachable through the proxy unless
/// `ip_allow` (or loopback, or an exact allow entry for a literal) says so.
/// (The proxy also refuses the host's own addresses: [`is_host_address`].)
///
/// IPv4: 0.0.0.0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
/// 192.0.0/24 (IETF protocol assignments), 192.0.2/24, 198.51.100/24 and
/// 203.0.113/24 (documentation), 192.88.99/24 (6to4 relays), 198.18/15
/// (benchmarking), 192.168/16, 224/4 (multicast), 240/4 (reserved) and
/// 255.255.255.255.
/// IPv6: `::`, `::1`, fc00::/7, fe80::/10, fec0::/10 (old site-local),
/// ff00::/8, 100::/64 (discard), 2001::/32 (Teredo), 2001:2::/48
/// (benchmarking), 2001:10::/28 and
/// 2001:20::/28 (ORCHID), 2001:db8::/32 and 3fff::/20 (documentation),
/// 5f00::/16 (SRv6 SIDs), and every IPv6 form that embeds one of the IPv4
/// ranges: IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated
/// (`::ffff:0:a.b.c.d`), IPv4-compatible (`::a.b.c.d`), NAT64
/// (64:ff9b::/96; 64:ff9b:1::/48, local-use, is local as a whole) and 6to4
/// (2002::/16).
///
/// # Examples
///
/// ```
/// use codex_network_proxy::is_local;
///
/// assert!(is_local("10.1.2.3".parse()?));
/// assert!(is_local("169.254.169.254".parse()?)); // cloud metadata services
/// assert!(is_local("::ffff:192.168.0.1".parse()?)); // IPv4-mapped
/// assert!(is_local("fd00::1".parse()?));
/// assert!(!is_local("93.184.216.34".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => is_local_v6(v6),
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0
        || a == 10
        || (a == 100 && (b & 0xc0) == 64)
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (b & 0xf0) == 16)
        || (a == 192 && b == 0 && (c == 0 || c == 2))
        || (a == 192 && b == 88 && c == 99)
        || (a == 192 && b == 168)
        || (a == 198 && (b & 0xfe) == 18)
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || a >= 224
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    let [first, second, ..] = ip.segments();
    let low_v4 = || Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (first & 0xffc0) == 0xfe80 // fe80::/10 link local
        || (first & 0xffc0) == 0xfec0 // fec0::/10 site local
        || (first & 0xff00) == 0xff00 // ff00::/8 multicast
        || bits >> 64 == 0x0100_0000_0000_0000 // 100::/64 discard only
        || (first == 0x2001 && second == 0) // 2001::/32 Teredo
        || bits >> 80 == 0x2001_0002_0000 // 2001:2::/48 benchmarking
        || (first == 0x2001 && (second & 0xfff0) == 0x0010) // 2001:10::/28 ORCHID
        || (first == 0x2001 && (second & 0xfff0) == 0x0020) // 2001:20::/28 ORCHIDv2
        || (first == 0x2001 && second == 0x0db8) // 2001:db8::/32 documentation
        || (first == 0x3fff && (second & 0xf000) == 0) // 3fff::/20 documentation
        || first == 0x5f00
    // 5f00::/16 SRv6 SIDs
    {
        return true;
    }
    match bits >> 32 {
        // ::/96 (IPv4-compatible, with :: and ::1), ::ffff:0:0/96 (mapped),
        // ::ffff:0:0:0/96 (translated), 64:ff9b::/96 (NAT64).
        0 | 0xffff | 0xffff_0000 | 0x0064_ff9b_0000_0000_0000_0000 => {
            return bits <= 1 || is_local_v4(low_v4());
        }
        _ => {}
    }
    if bits >> 80 == 0x0064_ff9b_0001 {
        return true;
    }
    if first == 0x2002 {
        let embedded = ((bits >> 80) & 0xffff_ffff) as u32;
        return is_local_v4(Ipv4Addr::from(embedded));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(text: &str) -> bool {
        is_local(text.parse().unwrap_or_else(|e| panic!("{text}: {e}")))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn embedded_ipv4_forms() {
        assert!(local("::"));
        assert!(local("2001:2::1"));
        assert!(!local("2001:2:1::1"));
        assert!(local("::1"));
        assert!(local("::ffff:127.0.0.1"));
        assert!(local("::ffff:0:10.1.2.3"));
        assert!(local("::10.0.0.1"));
        assert!(local("64:ff9b::192.168.1.1"));
        assert!(local("64:ff9b:1::1"));
        assert!(local("2002:a00:1::"));
        assert!(!local("2002:5db8:d822::"));
        assert!(!local("64:ff9b::8.8.8.8"));
        assert!(!local("::ffff:8.8.8.8"));
        assert!(!local("2606:4700::1111"));
    }

    #[test]
    fn embedded_v4_finds_every_form() {
        let v4: Ipv4Addr = "93.184.216.34".parse().unwrap_or_else(|e| panic!("{e}"));
        let found = |text: &str| -> bool {
            match ip(text) {
                IpAddr::V6(v6) => embedded_v4(v6).iter().any(|e| *e == v4),
                IpAddr::V4(_) => false,
            }
        };
        for form in [
            "::ffff:93.184.216.34",
            "::93.184.216.34",
            "::ffff:0:93.184.216.34",
            "64:ff9b::93.184.216.34",
            "64:ff9b:1::93.184.216.34",             // local-use NAT64, /96
            "64:ff9b:1:5db8:d8:2200::",             // /48: 5db8 ; u-octet ; d822
            "64:ff9b:1:5d:b8:d822::",               // /56
            "64:ff9b:1:0:5d:b8d8:2200:0",           // /64
            "2002:5db8:d822::1",                    // 6to4
            "2001:0:5db8:d822::1",                  // Teredo server
            "2001:0:4136:e378:8000:63bf:a247:27dd", // Teredo client, inverted
            "2001:db8::5efe:93.184.216.34",         // ISATAP
            "2001:db8::200:5efe:93.184.216.34",
        ] {
            assert!(found(form), "{form} embeds {v4}");
        }
        for form in [
            "2606:4700::5db8:d822",
            "2002:5db8:d823::",
            "64:ff9b:2::93.184.216.34",
        ] {
            assert!(!found(form), "{form} does not embed {v4}");
        }
    }

    #[test]
    fn the_hosts_own_addresses_are_local() {
        // A public address, as if it were one of this host's interfaces.
        let rules = CompiledRules::new(&EgressRules::open());
        let host_addrs = [ip("93.184.216.34"), ip("2606:4700::1111")];
        let verdict = |text: &str, host_addrs: &[IpAddr]| {
            let host = Host::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            decide_with(&rules, &host, 443, host_addrs)
        };
        let local = Decision::Deny(Reason::NotAllowedLocal);
        for literal in [
            "93.184.216.34",
            "[::ffff:93.184.216.34]",
            "[64:ff9b::93.184.216.34]",
            "[2002:5db8:d822::1]",
            "[2606:4700::1111]",
        ] {
            assert_eq!(verdict(literal, &host_addrs), local, "{literal}");
            assert_eq!(verdict(literal, &[]), Decision::Allow, "{literal}");
        }
        // Resolved addresses too.
        assert_eq!(
            rules.vet_resolved_with(&[ip("8.8.8.8"), ip("93.184.216.34")], &host_addrs),
            local
        );
        assert_eq!(
            rules.vet_resolved_with(&[ip("8.8.8.8")], &host_addrs),
            Decision::Allow
        );
        // An exact literal, or ip_allow, lifts it; `*` and loopback do not.
        let exact = CompiledRules::new(
            &EgressRules::open().allowing(DomainPattern::Ip(ip("93.184.216.34"))),
        );
        let host = Host::Ip(ip("93.184.216.34"));
        assert_eq!(
            decide_with(&exact, &host, 443, &host_addrs),
            Decision::Allow
        );
        let looped = CompiledRules::new(&EgressRules::open().with_loopback(true));
        assert_eq!(decide_with(&looped, &host, 443, &host_addrs), local);
        let ip_allow = CompiledRules::new(&EgressRules::open().with_ip_allow(vec![IpRule {
            address: ip("93.184.216.0"),
            prefix: 24,
        }]));
        assert_eq!(
            decide_with(&ip_allow, &host, 443, &host_addrs),
            Decision::Allow
        );
        assert_eq!(
            ip_allow.vet_resolved_with(&[ip("93.184.216.34")], &host_addrs),
            Decision::Allow
        );
    }
}
