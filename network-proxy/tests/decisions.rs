//! The pure decision (`decide`, `is_local`): pattern kinds, deny wins, ask
//! next, ports, local, private and special-purpose ranges in every spelling,
//! deny and ask entries over every IPv6 form of an IPv4 address, literal vs
//! name, localhost, `ip_allow` (internal addresses only), allowlist misses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_network_proxy::{CompiledRules, Decision, Reason, decide, is_local};
use codex_policy_model::effective::{AllowlistMiss, EgressRules};
use codex_policy_model::{Host, IpRule};
use common::{pattern, ports};

fn compiled(rules: &EgressRules) -> CompiledRules {
    CompiledRules::new(rules)
}

fn allow_only(patterns: &[&str]) -> EgressRules {
    patterns
        .iter()
        .fold(EgressRules::open(), |r, p| r.allowing(pattern(p)))
}

fn host(text: &str) -> Host {
    Host::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn verdict(rules: &CompiledRules, text: &str, port: u16) -> Decision {
    decide(rules, &host(text), port)
}

const ALLOW: Decision = Decision::Allow;
const MISS: Decision = Decision::Ask(Reason::NotAllowed);
const LOCAL: Decision = Decision::Deny(Reason::NotAllowedLocal);
const DENIED: Decision = Decision::Deny(Reason::Denied);
const ASK: Decision = Decision::Ask(Reason::NotAllowed);

#[test]
fn exact_pattern_matches_only_the_name() {
    let rules = compiled(&allow_only(&["example.com"]));
    assert_eq!(verdict(&rules, "example.com", 443), ALLOW);
    assert_eq!(verdict(&rules, "EXAMPLE.com.", 443), ALLOW);
    assert_eq!(verdict(&rules, "www.example.com", 443), MISS);
    assert_eq!(verdict(&rules, "example.com.evil.net", 443), MISS);
    assert_eq!(verdict(&rules, "notexample.com", 443), MISS);
}

#[test]
fn subdomain_pattern_excludes_the_apex() {
    let rules = compiled(&allow_only(&["*.example.com"]));
    assert_eq!(verdict(&rules, "api.example.com", 443), ALLOW);
    assert_eq!(verdict(&rules, "a.b.example.com", 443), ALLOW);
    assert_eq!(verdict(&rules, "example.com", 443), MISS);
    assert_eq!(verdict(&rules, "badexample.com", 443), MISS);
}

#[test]
fn apex_and_subdomains_pattern() {
    let rules = compiled(&allow_only(&["**.example.com"]));
    assert_eq!(verdict(&rules, "example.com", 443), ALLOW);
    assert_eq!(verdict(&rules, "deep.api.example.com", 443), ALLOW);
    assert_eq!(verdict(&rules, "example.org", 443), MISS);
}

#[test]
fn global_wildcard_allows_public_names_and_addresses_only() {
    let rules = compiled(&allow_only(&["*"]));
    assert_eq!(verdict(&rules, "anything.example", 80), ALLOW);
    assert_eq!(verdict(&rules, "8.8.8.8", 53), ALLOW);
    assert_eq!(verdict(&rules, "[2606:4700::1111]", 443), ALLOW);
    // `*` is not an allow entry for local literals, nor for localhost.
    assert_eq!(verdict(&rules, "127.0.0.1", 80), LOCAL);
    assert_eq!(verdict(&rules, "10.1.2.3", 80), LOCAL);
    assert_eq!(verdict(&rules, "localhost", 80), LOCAL);
}

#[test]
fn idna_names_are_matched_in_punycode() {
    let rules = compiled(&allow_only(&["bücher.test"]));
    assert_eq!(verdict(&rules, "xn--bcher-kva.test", 443), ALLOW);
    assert_eq!(verdict(&rules, "BÜCHER.test", 443), ALLOW);
}

#[test]
fn deny_wins_over_every_allow_kind() {
    let base = allow_only(&["*", "**.example.com", "api.example.com"]);
    let rules = compiled(&base.clone().denying(pattern("api.example.com")));
    assert_eq!(verdict(&rules, "api.example.com", 443), DENIED);
    assert_eq!(verdict(&rules, "www.example.com", 443), ALLOW);

    let rules = compiled(&base.clone().denying(pattern("*.example.com")));
    assert_eq!(verdict(&rules, "api.example.com", 443), DENIED);
    assert_eq!(verdict(&rules, "example.com", 443), ALLOW);

    let rules = compiled(&base.denying(pattern("**.example.com")));
    assert_eq!(verdict(&rules, "example.com", 443), DENIED);
    // Deny comes before the port check and before the local check.
    let rules = compiled(
        &allow_only(&["10.0.0.1"])
            .denying(pattern("10.0.0.1"))
            .with_ports(ports(&[443])),
    );
    assert_eq!(verdict(&rules, "10.0.0.1", 80), DENIED);
}

#[test]
fn denied_ip_literal_in_any_spelling() {
    let rules = compiled(&allow_only(&["*"]).denying(pattern("1.2.3.4")));
    for spelling in [
        "1.2.3.4",
        "0x01020304",
        "16909060",
        "1.2.0x304",
        "[::ffff:1.2.3.4]",
    ] {
        assert_eq!(verdict(&rules, spelling, 80), DENIED, "{spelling}");
    }
    assert_eq!(verdict(&rules, "1.2.3.5", 80), ALLOW);
}

#[test]
fn allowlist_miss_is_ask_or_deny() {
    let ask = compiled(&allow_only(&["example.com"]));
    assert_eq!(verdict(&ask, "other.com", 443), MISS);
    assert_eq!(MISS.as_str(), "ask");
    let deny = compiled(&allow_only(&["example.com"]).with_allowlist_miss(AllowlistMiss::Deny));
    assert_eq!(
        verdict(&deny, "other.com", 443),
        Decision::Deny(Reason::NotAllowed)
    );
}

#[test]
fn ports_are_checked_after_the_allow_list() {
    let rules = compiled(&allow_only(&["example.com"]).with_ports(ports(&[443, 8443])));
    assert_eq!(verdict(&rules, "example.com", 443), ALLOW);
    assert_eq!(verdict(&rules, "example.com", 8443), ALLOW);
    assert_eq!(
        verdict(&rules, "example.com", 80),
        Decision::Deny(Reason::PortNotAllowed)
    );
    // A miss stays a miss (ask), whatever the port.
    assert_eq!(verdict(&rules, "other.com", 80), MISS);
    let any_port = compiled(&allow_only(&["example.com"]));
    assert_eq!(verdict(&any_port, "example.com", 1), ALLOW);
    assert_eq!(verdict(&any_port, "example.com", 65535), ALLOW);
}

const LOCAL_V4: &[&str] = &[
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.255.255.254",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.168.0.1",
    "192.168.255.255",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    // Special purpose: IETF protocol assignments, documentation, 6to4
    // relays, benchmarking.
    "192.0.0.0",
    "192.0.0.255",
    "192.0.2.0",
    "192.0.2.255",
    "192.88.99.1",
    "198.18.0.0",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.0",
    "203.0.113.255",
];

const PUBLIC_V4: &[&str] = &[
    "1.1.1.1",
    "8.8.8.8",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.0.1",
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "192.169.0.0",
    "223.255.255.255",
    "191.255.255.255",
    "192.0.1.0",
    "192.0.3.0",
    "192.88.98.255",
    "192.88.100.0",
    "198.17.255.255",
    "198.20.0.0",
    "198.51.99.255",
    "198.51.101.0",
    "203.0.112.255",
    "203.0.114.0",
];

#[test]
fn every_private_ipv4_range_and_its_boundaries() {
    for ip in LOCAL_V4 {
        assert!(is_local(ip.parse().unwrap()), "{ip} must be local");
    }
    for ip in PUBLIC_V4 {
        assert!(!is_local(ip.parse().unwrap()), "{ip} must be public");
    }
}

#[test]
fn every_private_ipv6_range() {
    for ip in [
        "::",
        "::1",
        "fc00::1",
        "fd12:3456:789a::1",
        "fe80::1",
        "febf:ffff::1",
        "ff02::1",
        "ff05::1:3",
        // Special purpose.
        "100::",
        "100::ffff:ffff:ffff:ffff",
        "2001::",
        "2001:0:ffff:ffff:ffff:ffff:ffff:ffff",
        "2001:0:4136:e378:8000:63bf:a247:27dd", // Teredo of a public client
        "2001:10::1",
        "2001:1f:ffff::1",
        "2001:20::1",
        "2001:2f:ffff::1",
        "2001:db8::1",
        "2001:db8:ffff:ffff::1",
        "3fff::1",
        "3fff:fff:ffff::1",
        "5f00::1",
        "5f00:ffff::1",
    ] {
        assert!(is_local(ip.parse().unwrap()), "{ip} must be local");
    }
    for ip in [
        "2001:4860:4860::8888",
        "2606:4700::1111",
        "fbff::1",
        "fe7f::1",
        "ff::1",
        "100:0:0:1::",
        "2001:1::1",
        "2001:f:ffff::1",
        "2001:30::1",
        "2001:db7:ffff::1",
        "2001:db9::1",
        "3ffe:ffff::1",
        "3fff:1000::1",
        "5eff:ffff::1",
        "5f01::1",
    ] {
        assert!(!is_local(ip.parse().unwrap()), "{ip} must be public");
    }
}

#[test]
fn ipv4_embedded_in_ipv6_is_judged_as_ipv4() {
    for v4 in LOCAL_V4 {
        let v4: std::net::Ipv4Addr = v4.parse().unwrap();
        let [a, b, c, d] = v4.octets();
        let forms = [
            format!("::ffff:{v4}"),                           // mapped
            format!("::{v4}"),                                // compatible
            format!("64:ff9b::{v4}"),                         // NAT64
            format!("2002:{a:02x}{b:02x}:{c:02x}{d:02x}::1"), // 6to4
        ];
        for form in forms {
            assert!(is_local(form.parse().unwrap()), "{form} embeds local {v4}");
        }
    }
    for v4 in PUBLIC_V4 {
        let v4: std::net::Ipv4Addr = v4.parse().unwrap();
        let [a, b, c, d] = v4.octets();
        for form in [
            format!("::ffff:{v4}"),
            format!("64:ff9b::{v4}"),
            format!("2002:{a:02x}{b:02x}:{c:02x}{d:02x}::1"),
        ] {
            assert!(
                !is_local(form.parse().unwrap()),
                "{form} embeds public {v4}"
            );
        }
    }
}

#[test]
fn local_literals_are_refused_even_under_the_global_wildcard() {
    let rules = compiled(&allow_only(&["*"]));
    for spelling in [
        "127.0.0.1",
        "127.1",
        "0x7f.0.0.1",
        "2130706433",
        "0177.0.0.1",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:10.0.0.1]",
        "[64:ff9b::a00:1]",
        "[2002:c0a8:101::1]",
        "[fe80::1]",
        "169.254.169.254",
        "0.0.0.0",
    ] {
        assert_eq!(verdict(&rules, spelling, 80), LOCAL, "{spelling}");
    }
}

#[test]
fn local_literal_exceptions() {
    // Exactly in the allow list.
    let rules = compiled(&allow_only(&["10.0.0.5"]));
    assert_eq!(verdict(&rules, "10.0.0.5", 80), ALLOW);
    assert_eq!(verdict(&rules, "[::ffff:10.0.0.5]", 80), ALLOW);
    assert_eq!(verdict(&rules, "10.0.0.6", 80), LOCAL);
    // Inside ip_allow.
    let rules = compiled(
        &allow_only(&["example.com"]).with_ip_allow(vec!["10.1.0.0/16".parse::<IpRule>().unwrap()]),
    );
    assert_eq!(verdict(&rules, "10.1.200.3", 80), ALLOW);
    assert_eq!(verdict(&rules, "10.2.0.1", 80), LOCAL);
    // Loopback allowed: loopback only, not the other private ranges.
    let rules = compiled(&EgressRules::open().with_loopback(true));
    assert_eq!(verdict(&rules, "127.0.0.1", 80), ALLOW);
    assert_eq!(verdict(&rules, "127.9.9.9", 80), ALLOW);
    assert_eq!(verdict(&rules, "[::1]", 80), ALLOW);
    assert_eq!(verdict(&rules, "192.168.1.1", 80), LOCAL);
}

#[test]
fn a_literal_is_not_allowed_by_a_name_and_a_name_not_by_a_literal() {
    let rules = compiled(&allow_only(&["example.com", "93.184.216.34"]));
    assert_eq!(verdict(&rules, "93.184.216.34", 443), ALLOW);
    assert_eq!(verdict(&rules, "93.184.216.35", 443), MISS);
    assert_eq!(verdict(&rules, "www.example.com", 443), MISS);
}

#[test]
fn localhost_needs_an_exact_entry_or_loopback() {
    let wildcard = compiled(&allow_only(&["**.localhost", "*"]));
    assert_eq!(verdict(&wildcard, "localhost", 80), LOCAL);
    let exact = compiled(&allow_only(&["localhost"]));
    assert_eq!(verdict(&exact, "LOCALHOST.", 80), ALLOW);
    let loopback = compiled(&EgressRules::open().with_loopback(true));
    assert_eq!(verdict(&loopback, "localhost", 80), ALLOW);
    let denied = compiled(&allow_only(&["localhost"]).denying(pattern("localhost")));
    assert_eq!(verdict(&denied, "localhost", 80), DENIED);
    let missing = compiled(&allow_only(&["example.com"]));
    assert_eq!(verdict(&missing, "localhost", 80), LOCAL);
}

#[test]
fn reasons_have_stable_codes_and_event_names() {
    let all = [
        (
            Reason::Denied,
            "denied",
            "codex.network_proxy.domain_policy_decision",
        ),
        (
            Reason::NotAllowed,
            "not_allowed",
            "codex.network_proxy.domain_policy_decision",
        ),
        (
            Reason::NotAllowedLocal,
            "not_allowed_local",
            "codex.network_proxy.block_decision",
        ),
        (
            Reason::PortNotAllowed,
            "port_not_allowed",
            "codex.network_proxy.block_decision",
        ),
        (
            Reason::LimitExceeded,
            "limit_exceeded",
            "codex.network_proxy.block_decision",
        ),
        (
            Reason::MethodNotAllowed,
            "method_not_allowed",
            "codex.network_proxy.block_decision",
        ),
        (
            Reason::UpstreamTls,
            "upstream_tls",
            "codex.network_proxy.block_decision",
        ),
        (
            Reason::NotInspectable,
            "not_inspectable",
            "codex.network_proxy.block_decision",
        ),
    ];
    for (reason, code, event) in all {
        assert_eq!(reason.code(), code);
        assert_eq!(reason.event_name(), event);
        assert!(!reason.describe().is_empty());
    }
}

#[test]
fn ask_comes_after_deny_and_before_everything_else() {
    let rules = compiled(
        &allow_only(&["**.example.com", "10.0.0.5", "93.184.216.34"])
            .asking(pattern("api.example.com"))
            .asking(pattern("*.ask.example.com"))
            .asking(pattern("10.0.0.5"))
            .asking(pattern("93.184.216.34"))
            .denying(pattern("denied.ask.example.com"))
            .with_ports(ports(&[443])),
    );
    // Even when the allow list names it, and whatever the port.
    assert_eq!(verdict(&rules, "api.example.com", 443), ASK);
    assert_eq!(verdict(&rules, "API.example.com.", 80), ASK);
    assert_eq!(verdict(&rules, "x.ask.example.com", 443), ASK);
    assert_eq!(verdict(&rules, "ask.example.com", 443), ALLOW);
    assert_eq!(verdict(&rules, "www.example.com", 443), ALLOW);
    // Deny comes first.
    assert_eq!(verdict(&rules, "denied.ask.example.com", 443), DENIED);
    // IP literals, before the local check and the allow list.
    assert_eq!(verdict(&rules, "10.0.0.5", 443), ASK);
    assert_eq!(verdict(&rules, "93.184.216.34", 443), ASK);
    assert_eq!(verdict(&rules, "[::ffff:93.184.216.34]", 443), ASK);
    assert_eq!(verdict(&rules, "[64:ff9b::93.184.216.34]", 443), ASK);
    assert_eq!(verdict(&rules, "93.184.216.35", 443), MISS);
    // Ask stays ask under a managed-only allowlist: the rule says a person decides.
    let managed = compiled(
        &allow_only(&["example.com"])
            .asking(pattern("example.com"))
            .with_allowlist_miss(AllowlistMiss::Deny),
    );
    assert_eq!(verdict(&managed, "example.com", 443), ASK);
    assert_eq!(ASK.as_str(), "ask");
    assert_eq!(ASK.reason(), Some(Reason::NotAllowed));
}

/// Every IPv6 form that embeds `v4` (a public address).
fn embedded_forms(v4: &str) -> Vec<String> {
    let v4: std::net::Ipv4Addr = v4.parse().unwrap();
    let [a, b, c, d] = v4.octets();
    let (hi, lo) = (u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d]));
    let (ihi, ilo) = (!hi, !lo);
    vec![
        format!("[::ffff:{v4}]"),                                // IPv4-mapped
        format!("[::{v4}]"),                                     // IPv4-compatible
        format!("[::ffff:0:{v4}]"),                              // SIIT
        format!("[64:ff9b::{v4}]"),                              // NAT64
        format!("[64:ff9b:1::{v4}]"),                            // local-use NAT64, /96
        format!("[64:ff9b:1:{hi:x}:{c:x}:{d:x}00::]"),           // local-use NAT64, /48
        format!("[2002:{hi:x}:{lo:x}::1]"),                      // 6to4
        format!("[2002:{hi:x}:{lo:x}:ffff::]"),                  // 6to4, another host
        format!("[2001:0:4136:e378:8000:63bf:{ihi:x}:{ilo:x}]"), // Teredo client
    ]
}

#[test]
fn ipv4_deny_and_ask_entries_cover_every_embedding_form() {
    let rules = compiled(
        &allow_only(&["*"])
            .denying(pattern("93.184.216.34"))
            .asking(pattern("1.2.3.4")),
    );
    for form in embedded_forms("93.184.216.34") {
        assert_eq!(verdict(&rules, &form, 443), DENIED, "{form}");
    }
    for form in embedded_forms("1.2.3.4") {
        assert_eq!(verdict(&rules, &form, 443), ASK, "{form}");
    }
    // Another address in the same forms is not denied (NAT64 and 6to4 of a
    // public address are public).
    for form in ["[64:ff9b::93.184.216.35]", "[2002:5db8:d823::1]"] {
        assert_eq!(verdict(&rules, form, 443), ALLOW, "{form}");
    }
}

#[test]
fn an_ipv4_allow_entry_covers_only_what_it_names() {
    let rules = compiled(&allow_only(&["93.184.216.34"]));
    assert_eq!(verdict(&rules, "93.184.216.34", 443), ALLOW);
    // The mapped form is the same destination on a dual-stack socket.
    assert_eq!(verdict(&rules, "[::ffff:93.184.216.34]", 443), ALLOW);
    for form in [
        "[::93.184.216.34]",
        "[64:ff9b::93.184.216.34]",
        "[2002:5db8:d822::1]",
    ] {
        assert_eq!(verdict(&rules, form, 443), MISS, "{form}");
    }
}

#[test]
fn ip_allow_lifts_the_local_refusal_only() {
    for everything in ["0.0.0.0/0", "::/0"] {
        let rules = compiled(&allow_only(&["example.com"]).with_ip_allow(vec![
            everything.parse::<IpRule>().unwrap(),
            "93.184.216.0/24".parse::<IpRule>().unwrap(),
        ]));
        // Public addresses inside ip_allow still need the allow list.
        assert_eq!(verdict(&rules, "93.184.216.34", 443), MISS, "{everything}");
        assert_eq!(verdict(&rules, "8.8.8.8", 53), MISS, "{everything}");
        assert_eq!(
            verdict(&rules, "[2606:4700::1111]", 443),
            MISS,
            "{everything}"
        );
        assert_eq!(verdict(&rules, "example.com", 443), ALLOW);
    }
    // Internal ones inside it are reachable.
    let rules = compiled(
        &allow_only(&["example.com"]).with_ip_allow(vec!["0.0.0.0/0".parse::<IpRule>().unwrap()]),
    );
    assert_eq!(verdict(&rules, "10.1.2.3", 80), ALLOW);
    assert_eq!(verdict(&rules, "192.0.2.7", 80), ALLOW);
    // Under a managed-only allowlist a public address in ip_allow is denied.
    let managed = compiled(
        &allow_only(&["example.com"])
            .with_ip_allow(vec!["0.0.0.0/0".parse::<IpRule>().unwrap()])
            .with_allowlist_miss(AllowlistMiss::Deny),
    );
    assert_eq!(
        verdict(&managed, "8.8.8.8", 443),
        Decision::Deny(Reason::NotAllowed)
    );
}

#[test]
fn special_purpose_literals_are_refused_as_local() {
    let rules = compiled(&allow_only(&["*"]));
    for literal in [
        "192.0.2.2",
        "198.51.100.1",
        "203.0.113.9",
        "198.18.0.1",
        "192.0.0.8",
        "192.88.99.1",
        "[2001:db8::1]",
        "[2001::1]",
        "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
        "[100::1]",
        "[3fff::1]",
        "[5f00::1]",
        "[2001:10::1]",
        "[2001:20::1]",
        "[::ffff:192.0.2.1]",
        "[2002:c000:0201::1]",
    ] {
        assert_eq!(verdict(&rules, literal, 443), LOCAL, "{literal}");
    }
}

#[test]
fn the_hosts_own_addresses_are_host_addresses() {
    // What the test finds with getifaddrs, the proxy finds too.
    let found = common::host_interface_addresses();
    if found.is_empty() {
        println!("SKIPPED: getifaddrs lists no address here");
        return;
    }
    for ip in &found {
        assert!(codex_network_proxy::is_host_address(*ip), "{ip}");
        let host = Host::Ip(*ip);
        assert_eq!(
            decide(&compiled(&allow_only(&["*"])), &host, 80),
            LOCAL,
            "{ip}"
        );
        if let std::net::IpAddr::V4(v4) = ip {
            let mapped = std::net::IpAddr::V6(v4.to_ipv6_mapped());
            assert!(codex_network_proxy::is_host_address(mapped), "{mapped}");
        }
    }
    // A documentation address no host has.
    assert!(!codex_network_proxy::is_host_address(
        "2001:db8:ffff::1".parse().unwrap()
    ));
}
