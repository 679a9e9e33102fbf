//! Domain patterns and the matcher: the documented cases, hostile spellings, and
//! property tests against a naive reference implementation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_policy_model::{DomainMatcher, DomainPattern, DomainVerdict, Host, decide};
use proptest::prelude::*;

fn pattern(s: &str) -> DomainPattern {
    s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn matcher(patterns: &[&str]) -> DomainMatcher {
    let parsed: Vec<DomainPattern> = patterns.iter().map(|p| pattern(p)).collect();
    DomainMatcher::new(&parsed)
}

fn hits(m: &DomainMatcher, host: &str) -> bool {
    m.matches(&Host::parse(host).unwrap())
}

#[test]
fn exact_subdomain_and_apex_forms() {
    let exact = matcher(&["example.com"]);
    assert!(hits(&exact, "example.com"));
    assert!(!hits(&exact, "api.example.com"));

    let sub = matcher(&["*.example.com"]);
    assert!(hits(&sub, "api.example.com") && hits(&sub, "a.b.example.com"));
    assert!(!hits(&sub, "example.com"));

    let apex = matcher(&["**.example.com"]);
    assert!(hits(&apex, "example.com") && hits(&apex, "a.b.example.com"));

    let any = matcher(&["*"]);
    assert!(hits(&any, "anything.invalid") && hits(&any, "10.0.0.1"));
}

#[test]
fn lookalike_names_do_not_match() {
    let m = matcher(&["example.com", "*.trusted.com", "**.apex.org"]);
    for host in [
        "example.com.evil.com",
        "evilexample.com",
        "notexample.com",
        "example.co",
        "trusted.com",
        "eviltrusted.com",
        "apex.org.evil",
        "xapex.org",
    ] {
        assert!(!hits(&m, host), "{host} matched");
    }
}

#[test]
fn normalization_case_trailing_dot_and_unicode() {
    let m = matcher(&["example.com", "*.bücher.de"]);
    for host in [
        "EXAMPLE.COM",
        "example.com.",
        "Example.Com.",
        "ｅｘａｍｐｌｅ.ｃｏｍ",
    ] {
        assert!(hits(&m, host), "{host}");
    }
    assert!(hits(&m, "shop.xn--bcher-kva.de"));
    assert!(hits(&m, "SHOP.BÜCHER.DE"));
    assert_eq!(pattern("*.BÜCHER.de.").to_string(), "*.xn--bcher-kva.de");
}

#[test]
fn ip_literals_only_match_ip_entries() {
    let m = matcher(&["localhost", "127.0.0.1", "*.example.com"]);
    assert!(hits(&m, "127.1"), "any spelling of 127.0.0.1");
    assert!(hits(&m, "0x7f000001"));
    assert!(!hits(&m, "127.0.0.2"));
    // A name pattern never matches an address, and an address never a name.
    let names = matcher(&["*.0.0.1.example.com", "localhost"]);
    assert!(!hits(&names, "127.0.0.1"));
    assert_eq!(pattern("[::1]"), DomainPattern::Ip("::1".parse().unwrap()));
}

#[test]
fn deny_always_wins() {
    let allow = matcher(&["**.example.com"]);
    let deny = matcher(&["secret.example.com"]);
    let verdict = |h: &str| decide(&allow, &deny, &Host::parse(h).unwrap());
    assert_eq!(verdict("secret.example.com"), DomainVerdict::Denied);
    assert_eq!(verdict("SECRET.example.com."), DomainVerdict::Denied);
    assert_eq!(verdict("api.example.com"), DomainVerdict::Allowed);
    assert_eq!(verdict("other.org"), DomainVerdict::Unlisted);
}

#[test]
fn malformed_patterns_are_refused() {
    for bad in [
        "",
        ".",
        "*.",
        "**.",
        "a*.com",
        "*.*.com",
        "ex*mple.com",
        "*example.com",
        "**",
        "*.127.0.0.1",
        "**.10.0.0.1",
        "exa mple.com",
        "a..b",
        "999.1",
        "-bad-.com\u{0}",
        &format!("{}.com", "a".repeat(64)),
        &"a.".repeat(130),
    ] {
        assert!(bad.parse::<DomainPattern>().is_err(), "accepted {bad:?}");
    }
}

/// The reference: a name matches `x` exactly, `*.x` if it ends in `.x`, `**.x`
/// if either. Deliberately naive.
fn reference(pattern: &DomainPattern, name: &str) -> bool {
    match pattern {
        DomainPattern::Exact(x) => name == x.as_str(),
        DomainPattern::Subdomains(x) => name.ends_with(&format!(".{x}")),
        DomainPattern::ApexAndSubdomains(x) => {
            name == x.as_str() || name.ends_with(&format!(".{x}"))
        }
        DomainPattern::Any => true,
        _ => false,
    }
}

fn label() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b",
        "api",
        "x",
        "com",
        "org",
        "ex",
        "example",
        "xn--bcher-kva",
    ])
    .prop_map(String::from)
}

fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..5).prop_map(|labels| labels.join("."))
}

fn pattern_text() -> impl Strategy<Value = String> {
    (prop::sample::select(vec!["", "*.", "**."]), name())
        .prop_map(|(prefix, n)| format!("{prefix}{n}"))
}

proptest! {
    #[test]
    fn matcher_agrees_with_the_reference(patterns in prop::collection::vec(pattern_text(), 0..12), host in name()) {
        let parsed: Vec<DomainPattern> = patterns.iter().map(|p| p.parse().unwrap()).collect();
        let expected = parsed.iter().any(|p| reference(p, &host));
        prop_assert_eq!(DomainMatcher::new(&parsed).matches_normalized(&host), expected);
    }

    #[test]
    fn case_and_trailing_dot_never_change_the_verdict(patterns in prop::collection::vec(pattern_text(), 1..6), host in name(), dot in any::<bool>()) {
        let parsed: Vec<DomainPattern> = patterns.iter().map(|p| p.parse().unwrap()).collect();
        let m = DomainMatcher::new(&parsed);
        let spelled = format!("{}{}", host.to_uppercase(), if dot { "." } else { "" });
        prop_assert_eq!(m.matches(&Host::parse(&spelled).unwrap()), m.matches_normalized(&host));
    }

    #[test]
    fn normalization_is_idempotent(text in pattern_text()) {
        let once: DomainPattern = text.parse().unwrap();
        let twice: DomainPattern = once.to_string().parse().unwrap();
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn deny_wins_over_any_allow(patterns in prop::collection::vec(pattern_text(), 1..6), host in name()) {
        let parsed: Vec<DomainPattern> = patterns.iter().map(|p| p.parse().unwrap()).collect();
        let m = DomainMatcher::new(&parsed);
        let h = Host::parse(&host).unwrap();
        if m.matches(&h) {
            prop_assert_eq!(decide(&m, &m, &h), DomainVerdict::Denied);
        }
    }

    #[test]
    fn arbitrary_input_never_panics(text in ".{0,80}") {
        let _ = text.parse::<DomainPattern>();
        let _ = Host::parse(&text);
    }
}
