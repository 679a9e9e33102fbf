//! The finding catalogue: codes are unique and ordered, and docs/findings.md
//! documents each one with its severity.

use codex_policy_model::validate::ALL_CODES;

#[test]
fn codes_are_unique_ordered_and_documented() {
    let docs = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/findings.md"))
        .expect("docs/findings.md");
    let mut previous = "";
    for code in ALL_CODES {
        assert!(code.code > previous, "{} out of order", code.code);
        previous = code.code;
        let row = format!("| `{}` | {} |", code.code, code.severity);
        assert!(docs.contains(&row), "docs/findings.md lacks {row}");
    }
}
