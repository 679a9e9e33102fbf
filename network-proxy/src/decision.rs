//! The pure part of the proxy: what the rules say about a host and a port
//! before any name is resolved, and what they say about the addresses a
//! name resolved to.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use codex_policy_model::effective::{AllowlistMiss, EgressRules};
use codex_policy_model::{DomainMatcher, DomainPattern, Host, IpRule};

/// Why a destination is refused, as the stable code the block answers and the
/// audit log carry.
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
}

impl Reason {
    /// The stable code: `denied`, `not_allowed`, `not_allowed_local`,
    /// `port_not_allowed`, `limit_exceeded`.
    pub const fn code(self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::NotAllowed => "not_allowed",
            Self::NotAllowedLocal => "not_allowed_local",
            Self::PortNotAllowed => "port_not_allowed",
            Self::LimitExceeded => "limit_exceeded",
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
        }
    }

    /// The OpenTelemetry event name of an audit event for this reason:
    /// `codex.network_proxy.domain_policy_decision` for the domain policy
    /// (deny and allow lists), `codex.network_proxy.block_decision` for the
    /// other refusals.
    pub const fn event_name(self) -> &'static str {
        match self {
            Self::Denied | Self::NotAllowed => DOMAIN_POLICY_EVENT,
            Self::NotAllowedLocal | Self::PortNotAllowed | Self::LimitExceeded => BLOCK_EVENT,
        }
    }
}

/// `event.name` of decisions made by the domain policy (and of every allowed
/// connection).
pub const DOMAIN_POLICY_EVENT: &str = "codex.network_proxy.domain_policy_decision";
/// `event.name` of refusals for a local address, a port or a limit.
pub const BLOCK_EVENT: &str = "codex.network_proxy.block_decision";

/// What the rules say about a destination before it is resolved.
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
#[derive(Debug, Clone)]
pub struct CompiledRules {
    allow: DomainMatcher,
    deny: DomainMatcher,
    allow_ips: Vec<IpAddr>,
    deny_ips: Vec<IpAddr>,
    localhost_listed: bool,
    ip_allow: Vec<IpRule>,
    loopback: bool,
    ports: Option<Vec<u16>>,
    allowlist_miss: AllowlistMiss,
    monitor: bool,
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
            allow_ips: ips(&rules.allow),
            deny_ips: ips(&rules.deny),
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

    fn deny_names_ip(&self, ip: IpAddr) -> bool {
        self.deny_ips.contains(&canonical(ip))
    }

    /// A local or private IP literal may be reached only when it is listed
    /// exactly, is inside `ip_allow`, or is loopback with loopback allowed.
    fn local_literal_allowed(&self, ip: IpAddr) -> bool {
        let canon = canonical(ip);
        self.allow_ips.contains(&canon)
            || self.in_ip_allow(ip)
            || (self.loopback && canon.is_loopback())
    }

    /// What the addresses a name resolved to say (step 5): the first refusal,
    /// if any. Every address must pass, not only the one connected to.
    pub(crate) fn vet_resolved(&self, addresses: &[IpAddr]) -> Option<Reason> {
        if addresses.iter().any(|&ip| self.deny_names_ip(ip)) {
            return Some(Reason::Denied);
        }
        if addresses
            .iter()
            .any(|&ip| is_local(ip) && !self.in_ip_allow(ip))
        {
            return Some(Reason::NotAllowedLocal);
        }
        None
    }

    /// Whether a name in the deny list's IP entries is among `addresses`
    /// (for `localhost`, whose addresses are fixed).
    pub(crate) fn vet_denied(&self, addresses: &[IpAddr]) -> Option<Reason> {
        addresses
            .iter()
            .any(|&ip| self.deny_names_ip(ip))
            .then_some(Reason::Denied)
    }
}

impl From<&EgressRules> for CompiledRules {
    fn from(rules: &EgressRules) -> Self {
        Self::new(rules)
    }
}

/// The decision on `host:port` before any resolution (steps 1 to 4):
/// explicit deny, local literals, the allow list, the port. A name allowed
/// here is still refused if it resolves to a local address ([`is_local`]).
pub fn decide(rules: &CompiledRules, host: &Host, port: u16) -> Decision {
    // 1. Deny wins, over names and IP literals in any spelling.
    let denied = match host {
        Host::Ip(ip) => rules.deny.matches(host) || rules.deny_names_ip(*ip),
        Host::Name(_) => rules.deny.matches(host),
    };
    if denied {
        return Decision::Deny(Reason::Denied);
    }
    // 2. and 3. Local literals, then the allow list.
    let allowed = match host {
        Host::Ip(ip) if is_local(*ip) => {
            if !rules.local_literal_allowed(*ip) {
                return Decision::Deny(Reason::NotAllowedLocal);
            }
            true
        }
        Host::Ip(ip) => {
            rules.allow.matches(host)
                || rules.allow_ips.contains(&canonical(*ip))
                || rules.in_ip_allow(*ip)
        }
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
    // 4. Ports.
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

/// Whether `ip` is local or private: never reachable through the proxy unless
/// `ip_allow` (or loopback, or an exact allow entry for a literal) says so.
///
/// IPv4: 0.0.0.0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
/// 192.168/16, 224/4 (multicast), 240/4 (reserved) and 255.255.255.255.
/// IPv6: `::`, `::1`, fc00::/7, fe80::/10, fec0::/10 (old site-local),
/// ff00::/8, and every IPv6 form that embeds one of the IPv4 ranges:
/// IPv4-mapped (`::ffff:a.b.c.d`), IPv4-translated (`::ffff:0:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (64:ff9b::/96; 64:ff9b:1::/48,
/// local-use, is local as a whole) and 6to4 (2002::/16).
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_local_v4(v4),
        IpAddr::V6(v6) => is_local_v6(v6),
    }
}

fn is_local_v4(ip: Ipv4Addr) -> bool {
    let [a, b, _, _] = ip.octets();
    a == 0
        || a == 10
        || (a == 100 && (b & 0xc0) == 64)
        || a == 127
        || (a == 169 && b == 254)
        || (a == 172 && (b & 0xf0) == 16)
        || (a == 192 && b == 168)
        || a >= 224
}

fn is_local_v6(ip: Ipv6Addr) -> bool {
    let bits = u128::from(ip);
    let first = ip.segments()[0];
    let low_v4 = || Ipv4Addr::from((bits & 0xffff_ffff) as u32);
    if (first & 0xfe00) == 0xfc00 // fc00::/7 unique local
        || (first & 0xffc0) == 0xfe80 // fe80::/10 link local
        || (first & 0xffc0) == 0xfec0 // fec0::/10 site local
        || (first & 0xff00) == 0xff00
    // ff00::/8 multicast
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

    #[test]
    fn embedded_ipv4_forms() {
        assert!(local("::"));
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
}
