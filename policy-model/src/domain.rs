//! Host names, domain patterns and the matcher that decides allow and deny.
//!
//! Everything is normalized before it is compared: case, a trailing dot, and
//! Unicode (UTS 46 mapping to punycode, so `ＥＸＡＭＰＬＥ.com` and `example.com`
//! are the same name). Numbers that a resolver would read as an IPv4 address in
//! any spelling (`127.1`, `0x7f.0.0.1`, `2130706433`) are IP literals, never names,
//! and are matched only against IP entries.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::str::FromStr;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

/// A host as a connection names it: a normalized domain name or an IP address.
///
/// # Examples
///
/// ```
/// use std::net::IpAddr;
/// use codex_policy_model::Host;
///
/// // Case, the root dot and Unicode are normalized away.
/// let host = Host::parse("Crates.IO.")?;
/// assert!(matches!(&host, Host::Name(name) if name.as_str() == "crates.io"));
///
/// // Whatever a resolver reads as an IPv4 address is one, however spelled.
/// assert_eq!(Host::parse("127.1")?, Host::Ip(IpAddr::from([127, 0, 0, 1])));
/// assert_eq!(Host::parse("[::1]")?, Host::Ip("::1".parse()?));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// Lowercase ASCII (punycode) labels, no trailing dot.
    Name(DomainName),
    /// An IP address, however it was spelled.
    Ip(IpAddr),
}

/// A normalized domain name.
///
/// # Examples
///
/// ```
/// use codex_policy_model::Host;
///
/// // A host that is a name holds one; Unicode becomes its ASCII (punycode) form.
/// let Host::Name(name) = Host::parse("Bücher.Example.")? else {
///     panic!("a name, not an IP address");
/// };
/// assert_eq!(name.as_str(), "xn--bcher-kva.example");
/// assert_eq!(name.to_string(), "xn--bcher-kva.example");
/// # Ok::<(), codex_policy_model::DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(Box<str>);

impl DomainName {
    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a host name or pattern is not acceptable.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{DomainError, DomainPattern, Host};
///
/// assert_eq!(Host::parse("."), Err(DomainError::Empty));
/// assert!(matches!(Host::parse("999.1"), Err(DomainError::AmbiguousNumeric(_))));
///
/// let err = "api.*.example.com".parse::<DomainPattern>().unwrap_err();
/// assert!(matches!(err, DomainError::MisplacedWildcard(_)));
/// assert!(matches!(
///     "*.10.0.0.1".parse::<DomainPattern>(),
///     Err(DomainError::WildcardIp(_))
/// ));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// Nothing to parse.
    #[error("empty host name")]
    Empty,
    /// Not a valid name after UTS 46 processing (characters, DNS length limits).
    #[error("{0:?} is not a valid host name")]
    Invalid(String),
    /// Digits that no resolver reads the same way.
    #[error("{0:?} looks like an IPv4 address but is not a valid one")]
    AmbiguousNumeric(String),
    /// A `*` somewhere other than a leading `*.` / `**.` label, or alone.
    #[error("{0:?}: a wildcard may only be a whole leading label (`*.x`, `**.x`) or `*` alone")]
    MisplacedWildcard(String),
    /// A wildcard over an IP address.
    #[error("{0:?}: wildcards apply to names, not IP addresses")]
    WildcardIp(String),
}

impl Host {
    /// Parses and normalizes a host as a connection would name it.
    ///
    /// # Errors
    ///
    /// [`DomainError::Empty`] if `input` is empty or only a dot;
    /// [`DomainError::Invalid`] if it is neither an IP address nor a valid host name;
    /// [`DomainError::AmbiguousNumeric`] if its last label is numeric but it is no IPv4 address.
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let trimmed = input.strip_suffix('.').unwrap_or(input);
        if trimmed.is_empty() {
            return Err(DomainError::Empty);
        }
        let unbracketed = trimmed
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .unwrap_or(trimmed);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(Self::Ip(ip));
        }
        // STD3 rules: letters, digits and hyphens only; DNS length limits.
        let ascii = idna::domain_to_ascii_strict(trimmed)
            .map_err(|_| DomainError::Invalid(input.to_owned()))?;
        if ascii.is_empty() || ascii.split('.').any(str::is_empty) {
            return Err(DomainError::Invalid(input.to_owned()));
        }
        // What inet_aton would accept as an address must be treated as one.
        let last = ascii.rsplit('.').next().unwrap_or_default();
        if looks_numeric(last) {
            return parse_ipv4_loose(&ascii)
                .map(|v4| Self::Ip(IpAddr::V4(v4)))
                .ok_or_else(|| DomainError::AmbiguousNumeric(input.to_owned()));
        }
        Ok(Self::Name(DomainName(ascii.into_boxed_str())))
    }
}

fn looks_numeric(label: &str) -> bool {
    !label.is_empty()
        && (label.bytes().all(|b| b.is_ascii_digit())
            || (label.len() > 2
                && label[..2].eq_ignore_ascii_case("0x")
                && label[2..].bytes().all(|b| b.is_ascii_hexdigit())))
}

/// IPv4 in every spelling inet_aton accepts: 1 to 4 parts, each decimal, octal
/// (leading 0) or hex (0x), the last part filling the remaining bytes.
fn parse_ipv4_loose(text: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = text.split('.').collect();
    if parts.is_empty() || parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let value = if let Some(hex) = part.strip_prefix("0x").or_else(|| part.strip_prefix("0X")) {
            u64::from_str_radix(hex, 16).ok()?
        } else if part.len() > 1 && part.starts_with('0') {
            u64::from_str_radix(&part[1..], 8).ok()?
        } else {
            part.parse::<u64>().ok()?
        };
        values.push(value);
    }
    let (last, leading) = values.split_last()?;
    if leading.iter().any(|&v| v > 255) {
        return None;
    }
    let remaining_bits = 8 * (4 - leading.len() as u32);
    if remaining_bits < 64 && *last >= 1u64 << remaining_bits {
        return None;
    }
    let mut address: u64 = 0;
    for (i, &v) in leading.iter().enumerate() {
        address |= v << (24 - 8 * i as u32);
    }
    Some(Ipv4Addr::from((address | last) as u32))
}

/// One allow or deny entry: `example.com` (exactly), `*.example.com`
/// (subdomains only), `**.example.com` (apex and subdomains), `*` (everything),
/// or an IP address. Parsing accepts `*` anywhere; validation refuses it in a
/// deny list, where it would block everything and hide a mistake.
///
/// # Examples
///
/// ```
/// use codex_policy_model::DomainPattern;
///
/// let pattern: DomainPattern = "**.Example.COM".parse()?;
/// assert!(matches!(pattern, DomainPattern::ApexAndSubdomains(_)));
/// assert!(pattern.is_wildcard() && !pattern.is_global_wildcard());
/// assert_eq!(pattern.to_string(), "**.example.com"); // written back normalized
///
/// // Configuration files hold them as strings.
/// let deny: Vec<DomainPattern> = serde_json::from_str(r#"["ads.example.com", "10.0.0.1"]"#)?;
/// assert!(matches!(deny[1], DomainPattern::Ip(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DomainPattern {
    /// Exactly this name.
    Exact(DomainName),
    /// Strict subdomains of this name (`*.x`).
    Subdomains(DomainName),
    /// This name and its subdomains (`**.x`).
    ApexAndSubdomains(DomainName),
    /// Every host (`*`).
    Any,
    /// Exactly this IP address.
    Ip(IpAddr),
}

impl DomainPattern {
    /// Whether this is the global `*`.
    pub fn is_global_wildcard(&self) -> bool {
        matches!(self, Self::Any)
    }

    /// Whether this pattern covers more than one name (`*`, `*.x`, `**.x`).
    pub fn is_wildcard(&self) -> bool {
        matches!(
            self,
            Self::Any | Self::Subdomains(_) | Self::ApexAndSubdomains(_)
        )
    }

    /// `localhost` and loopback addresses: local reach, not external egress.
    pub(crate) fn is_loopback(&self) -> bool {
        match self {
            Self::Ip(ip) => ip.is_loopback(),
            Self::Exact(name) => name.as_str() == "localhost",
            _ => false,
        }
    }

    /// Whether every host `inner` names is also named by `self`.
    pub(crate) fn covers(&self, inner: &DomainPattern) -> bool {
        let strictly_under = |name: &DomainName, base: &DomainName| {
            name.as_str()
                .strip_suffix(base.as_str())
                .is_some_and(|head| head.ends_with('.') && head.len() > 1)
        };
        match (self, inner) {
            (Self::Any, _) => true,
            (a, b) if a == b => true,
            (
                Self::Subdomains(base),
                Self::Exact(n) | Self::Subdomains(n) | Self::ApexAndSubdomains(n),
            ) => strictly_under(n, base),
            (
                Self::ApexAndSubdomains(base),
                Self::Exact(n) | Self::Subdomains(n) | Self::ApexAndSubdomains(n),
            ) => n == base || strictly_under(n, base),
            _ => false,
        }
    }
}

impl FromStr for DomainPattern {
    type Err = DomainError;

    fn from_str(input: &str) -> Result<Self, DomainError> {
        if input == "*" {
            return Ok(Self::Any);
        }
        let (rest, make): (&str, fn(DomainName) -> Self) =
            if let Some(rest) = input.strip_prefix("**.") {
                (rest, Self::ApexAndSubdomains)
            } else if let Some(rest) = input.strip_prefix("*.") {
                (rest, Self::Subdomains)
            } else {
                (input, Self::Exact)
            };
        if rest.contains('*') {
            return Err(DomainError::MisplacedWildcard(input.to_owned()));
        }
        match Host::parse(rest)? {
            Host::Name(name) => Ok(make(name)),
            Host::Ip(ip) if rest.len() == input.len() => Ok(Self::Ip(ip)),
            Host::Ip(_) => Err(DomainError::WildcardIp(input.to_owned())),
        }
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => write!(f, "{name}"),
            Self::Subdomains(name) => write!(f, "*.{name}"),
            Self::ApexAndSubdomains(name) => write!(f, "**.{name}"),
            Self::Any => f.write_str("*"),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

impl Serialize for DomainPattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DomainPattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for DomainPattern {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DomainPattern".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "`example.com` (exact), `*.example.com` (subdomains only), \
                            `**.example.com` (apex and subdomains), `*` (everything; allow \
                            lists only) or an IP address. Case, a trailing dot and Unicode \
                            are normalized.",
            "minLength": 1,
            "maxLength": 256
        })
    }
}

const EXACT: u8 = 1;
const SUBDOMAINS: u8 = 2;

/// A set of patterns, matched in a handful of hash lookups: one per label of
/// the name. Hand-written over a trie or regex set: the lookups are a few
/// `FxHashMap` probes on suffixes of the name, with no allocation.
#[derive(Debug, Clone, Default)]
pub struct DomainMatcher {
    names: FxHashMap<Box<str>, u8>,
    ips: Vec<IpAddr>,
    any: bool,
}

impl DomainMatcher {
    /// Builds a matcher from patterns.
    ///
    /// ```
    /// use codex_policy_model::{DomainMatcher, DomainPattern, Host};
    ///
    /// let patterns: Vec<DomainPattern> = vec!["crates.io".parse()?, "*.crates.io".parse()?];
    /// let allow = DomainMatcher::new(&patterns);
    /// assert!(allow.matches(&Host::parse("static.crates.io")?));
    /// assert!(allow.matches(&Host::parse("CRATES.IO.")?)); // case and the root dot are normalized
    /// assert!(!allow.matches(&Host::parse("crates.io.evil.example")?));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<'a>(patterns: impl IntoIterator<Item = &'a DomainPattern>) -> Self {
        let mut matcher = Self::default();
        for pattern in patterns {
            match pattern {
                DomainPattern::Exact(name) => *matcher.entry(name) |= EXACT,
                DomainPattern::Subdomains(name) => *matcher.entry(name) |= SUBDOMAINS,
                DomainPattern::ApexAndSubdomains(name) => {
                    *matcher.entry(name) |= EXACT | SUBDOMAINS
                }
                DomainPattern::Any => matcher.any = true,
                DomainPattern::Ip(ip) => matcher.ips.push(*ip),
            }
        }
        matcher
    }

    fn entry(&mut self, name: &DomainName) -> &mut u8 {
        self.names.entry(name.0.clone()).or_default()
    }

    /// Whether `host` is matched.
    pub fn matches(&self, host: &Host) -> bool {
        match host {
            Host::Name(name) => self.matches_normalized(name.as_str()),
            Host::Ip(ip) => self.any || self.ips.contains(ip),
        }
    }

    /// Whether an already normalized name (see [`Host::parse`]) is matched.
    pub fn matches_normalized(&self, name: &str) -> bool {
        if self.any {
            return true;
        }
        if self.names.get(name).is_some_and(|flags| flags & EXACT != 0) {
            return true;
        }
        let mut rest = name;
        while let Some(dot) = rest.find('.') {
            rest = &rest[dot + 1..];
            if self
                .names
                .get(rest)
                .is_some_and(|flags| flags & SUBDOMAINS != 0)
            {
                return true;
            }
        }
        false
    }

    /// Whether nothing can match.
    pub fn is_empty(&self) -> bool {
        !self.any && self.names.is_empty() && self.ips.is_empty()
    }
}

/// The verdict on a host under an allow list and a deny list.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{decide, DomainMatcher, DomainPattern, DomainVerdict, Host};
///
/// let allow: Vec<DomainPattern> = vec!["*.github.com".parse()?];
/// let (allow, deny) = (DomainMatcher::new(&allow), DomainMatcher::default());
/// let verdict = decide(&allow, &deny, &Host::parse("api.github.com")?);
/// assert_eq!(verdict, DomainVerdict::Allowed);
/// assert_eq!(decide(&allow, &deny, &Host::parse("github.com")?), DomainVerdict::Unlisted);
///
/// // Serialized in kebab-case, as JSON output shows it.
/// assert_eq!(serde_json::to_string(&verdict)?, r#""allowed""#);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DomainVerdict {
    /// Denied by an entry of the deny list (deny always wins).
    Denied,
    /// Allowed by an entry of the allow list.
    Allowed,
    /// In neither list.
    Unlisted,
}

/// Deny wins: a host in both lists is denied.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{decide, DomainMatcher, DomainPattern, DomainVerdict, Host};
///
/// let allow: Vec<DomainPattern> = vec!["**.example.com".parse()?];
/// let deny: Vec<DomainPattern> = vec!["ads.example.com".parse()?];
/// let (allow, deny) = (DomainMatcher::new(&allow), DomainMatcher::new(&deny));
///
/// let verdict = |host: &str| -> Result<DomainVerdict, codex_policy_model::DomainError> {
///     Ok(decide(&allow, &deny, &Host::parse(host)?))
/// };
/// assert_eq!(verdict("api.example.com")?, DomainVerdict::Allowed);
/// assert_eq!(verdict("ADS.example.com.")?, DomainVerdict::Denied); // in both lists
/// assert_eq!(verdict("example.org")?, DomainVerdict::Unlisted);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decide(allow: &DomainMatcher, deny: &DomainMatcher, host: &Host) -> DomainVerdict {
    if deny.matches(host) {
        DomainVerdict::Denied
    } else if allow.matches(host) {
        DomainVerdict::Allowed
    } else {
        DomainVerdict::Unlisted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(s: &str) -> Host {
        Host::parse(s).unwrap()
    }

    #[test]
    fn ipv4_in_every_resolver_spelling_is_an_ip() {
        for spelling in [
            "127.0.0.1",
            "127.1",
            "0x7f.0.0.1",
            "2130706433",
            "0177.0.0.01",
            "0x7f000001",
            "127.0.0.1.",
        ] {
            assert_eq!(
                host(spelling),
                Host::Ip("127.0.0.1".parse().unwrap()),
                "{spelling}"
            );
        }
        for bad in ["256.1.1.1", "1.2.3.4.5", "0x1g.1", "1.2.3.4294967296"] {
            assert!(Host::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            Host::parse("999.1"),
            Err(DomainError::AmbiguousNumeric("999.1".into()))
        );
        assert_eq!(host("[::1]"), Host::Ip("::1".parse().unwrap()));
    }

    fn p(text: &str) -> DomainPattern {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e:?}"))
    }

    #[test]
    fn pattern_coverage() {
        assert!(p("*").covers(&p("a.com")));
        assert!(p("**.a.com").covers(&p("a.com")));
        assert!(p("**.a.com").covers(&p("*.a.com")));
        assert!(p("**.a.com").covers(&p("x.y.a.com")));
        assert!(p("*.a.com").covers(&p("x.a.com")));
        assert!(p("*.a.com").covers(&p("**.x.a.com")));
        assert!(!p("*.a.com").covers(&p("a.com")));
        assert!(!p("*.a.com").covers(&p("**.a.com")));
        assert!(!p("*.a.com").covers(&p("xa.com")));
        assert!(!p("a.com").covers(&p("x.a.com")));
        assert!(!p("a.com").covers(&p("*")));
        assert!(p("10.0.0.1").covers(&p("10.0.0.1")));
    }

    #[test]
    fn loopback_patterns() {
        assert!(p("localhost").is_loopback() && p("127.0.0.1").is_loopback());
        assert!(p("::1").is_loopback());
        assert!(!p("**.localhost").is_loopback() && !p("10.0.0.1").is_loopback());
    }
}
