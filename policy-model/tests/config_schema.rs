//! The JSON Schema of `config.toml` describes the allowlist keys: domain
//! patterns, and expiry dates in the form accepted; published schemas carry
//! prose only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_policy_model::{
    CodexConfig, CodexRc, HarnessPolicy, Requirements, SandboxPolicy, json_schema,
};

#[test]
fn the_schema_describes_allowlists_and_their_expiry() {
    let schema = serde_json::to_value(json_schema::<CodexConfig>()).unwrap();
    let defs = &schema["$defs"];
    let refs = |value: &serde_json::Value| value.to_string();

    let workspace = &defs["WorkspaceWriteTable"]["properties"];
    assert!(
        refs(&workspace["allowlisted_domains"]).contains("#/$defs/DomainPattern"),
        "{workspace}"
    );
    assert!(
        refs(&workspace["allowlist_expiry"]).contains("#/$defs/ExpiryDate"),
        "{workspace}"
    );
    let network = &defs["ProfileNetworkTable"]["properties"];
    assert!(
        refs(&network["expires"]).contains("#/$defs/ExpiryDate"),
        "{network}"
    );

    let date = &defs["ExpiryDate"];
    assert_eq!(date["type"], "string");
    // The pattern asks for a `YYYY-MM-DD` start; the rest is the parser's to judge.
    assert!(
        date["pattern"]
            .as_str()
            .unwrap()
            .starts_with("^[0-9]{4}-[0-9]{2}-[0-9]{2}"),
        "{date}"
    );
}

#[test]
fn published_descriptions_carry_no_rust_examples() {
    for schema in [
        json_schema::<CodexConfig>(),
        json_schema::<Requirements>(),
        json_schema::<CodexRc>(),
        json_schema::<HarnessPolicy>(),
        json_schema::<SandboxPolicy>(),
    ] {
        let text = serde_json::to_string(&schema).unwrap();
        assert!(
            !text.contains("```") && !text.contains("# Examples"),
            "{text}"
        );
        // The prose before them is kept.
        assert!(text.contains("\"description\""), "{text}");
    }
}
