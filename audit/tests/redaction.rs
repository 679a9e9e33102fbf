//! No secret of the corpus survives into the file, wherever it sits: in argv,
//! paths, URLs, headers or bodies. Redaction is idempotent.

#![allow(clippy::unwrap_used)]

use codex_audit::{
    AuditDecision, AuditEvent, AuditSink, HttpDetails, Operation, REDACTED, Redactor, SinkOptions,
};
use proptest::prelude::*;

/// Raw secrets of every shape the redactor knows.
const CORPUS: &[&str] = &[
    "sk-abcdefghijklmnopqrstuvwx0123",
    "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX0123",
    "sk-ant-api03-abcdefghijklmnopqrstuv",
    "sk_live_abcdefghijklmnopqrstuvwx",
    "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
    "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
    "glpat-abcdefghijklmnopqrst",
    "xoxb-123456789012-abcdefghijkl",
    "xoxp-1234567890-abcdefgh",
    "AKIAIOSFODNN7EXAMPLE",
    "ASIAJEXAMPLEXEKEXAMP",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "AIzaSyA-abcdefghijklmnopqrstuvwxyz01234",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
];

/// Secrets only recognizable by where they sit.
const PLACED: &[(&str, &str)] = &[
    ("curl https://alice:hunter2pw@example.com/x", "hunter2pw"),
    ("GET /cb?code=oauthcode77&state=1", "oauthcode77"),
    ("GET /x?X-Amz-Signature=f00dfeedbeef", "f00dfeedbeef"),
    ("psql --password=Tr0ub4dor", "Tr0ub4dor"),
    (
        "curl -H 'Authorization: Bearer opaqueBearerValue'",
        "opaqueBearerValue",
    ),
    (
        "curl -H 'Authorization: Basic dXNlcjpwYXNz'",
        "dXNlcjpwYXNz",
    ),
    ("Authorization: token plainghtoken", "plainghtoken"),
    ("cat /home/mallory/notes.txt", "mallory"),
    ("ls /Users/trudy/Library", "trudy"),
    ("API_TOKEN=tokval99 ./deploy.sh", "tokval99"),
];

/// How a secret can appear in an event.
fn placements(secret: &str) -> Vec<String> {
    vec![
        format!("env KEY={secret} cmd"),
        format!("tool --api-key {secret}"),
        format!("cat /tmp/{secret}"),
        format!("curl https://example.com/api?key={secret}&x=1"),
        format!("curl -H 'Authorization: Bearer {secret}' https://example.com"),
        format!("\"{secret}\""),
        secret.to_owned(),
    ]
}

fn sink_with_http(path: &std::path::Path) -> AuditSink {
    AuditSink::open(
        path,
        SinkOptions {
            http_log_headers: true,
            http_log_bodies: true,
            redact_headers: vec!["X-Api-Key".into()],
            ..SinkOptions::default()
        },
    )
    .unwrap()
}

#[test]
fn no_corpus_secret_reaches_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut sink = sink_with_http(&path);
    let mut texts: Vec<String> = CORPUS.iter().flat_map(|s| placements(s)).collect();
    texts.extend(PLACED.iter().map(|(text, _)| (*text).to_owned()));
    for text in &texts {
        let mut event = AuditEvent::now(
            "s",
            Operation::NetworkConnect,
            text.clone(),
            AuditDecision::Denied,
            "test",
        )
        .with_reason(text.clone());
        event.http = Some(HttpDetails {
            method: Some("POST".into()),
            headers: vec![
                ("X-Api-Key".into(), "opaque-header-secret".into()),
                ("X-Trace".into(), text.clone()),
            ],
            body: Some(text.clone()),
        });
        sink.record(event).unwrap();
    }
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(written.lines().count(), texts.len());
    let raw: Vec<&str> = CORPUS
        .iter()
        .copied()
        .chain(PLACED.iter().map(|(_, secret)| *secret))
        .chain(["opaque-header-secret"])
        .collect();
    for secret in raw {
        assert!(
            !written.contains(secret),
            "{secret} survived redaction:\n{written}"
        );
    }
    assert!(written.contains(REDACTED));
    assert!(written.contains("/home/[USER]/notes.txt"));
}

#[test]
fn secrets_written_back_to_back_are_all_redacted() {
    let r = Redactor::with_home(None, &[]);
    for (a, b) in [
        (CORPUS[13], CORPUS[13]),
        (CORPUS[0], CORPUS[4]),
        (CORPUS[4], CORPUS[9]),
    ] {
        let text = format!("{a}{b}");
        let redacted = r.redact(&text);
        assert!(!redacted.contains(&a[a.len() - 8..]), "{text} → {redacted}");
        assert!(!redacted.contains(&b[b.len() - 8..]), "{text} → {redacted}");
        assert_eq!(r.redact(&redacted), redacted);
    }
}

#[test]
fn ordinary_text_is_left_alone() {
    let r = Redactor::with_home(Some("/home/alice".into()), &[]);
    for text in [
        "git status",
        "cargo test --workspace -- --nocapture",
        "git checkout 3f786850e387550fdab836ed7e6dc881de23001b",
        "ls /usr/share/doc/libc6",
        "curl https://example.com/path?page=2&sort=asc",
        "rg --files /srv/data",
    ] {
        assert_eq!(r.redact(text), text);
    }
}

fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(CORPUS).prop_map(str::to_owned),
        proptest::sample::select(PLACED).prop_map(|(text, _)| text.to_owned()),
        proptest::sample::select(vec![
            " ",
            "=",
            "?",
            "&",
            "/",
            "@",
            "://",
            "'",
            "\"",
            ":",
            "\n",
            "token=",
            "Bearer ",
            "Authorization: ",
            "/home/",
            "/Users/",
            "https://",
            "[REDACTED]",
            "[USER]",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z0-9_.+/-]{0,12}",
        "\\PC{0,6}",
    ]
}

proptest! {
    #[test]
    fn redaction_is_idempotent(parts in proptest::collection::vec(fragment(), 0..12)) {
        let r = Redactor::with_home(Some("/home/alice".into()), &["x-api-key".into()]);
        let text: String = parts.concat();
        let once = r.redact(&text);
        prop_assert_eq!(r.redact(&once), once.clone(), "input: {:?}", text);
    }

    #[test]
    fn corpus_secrets_never_survive_any_surroundings(
        before in "[a-z /=:'\"-]{0,10}",
        secret in proptest::sample::select(CORPUS),
        after in "[ '\"&,;\n]{1}[a-z /=:-]{0,10}",
    ) {
        let r = Redactor::with_home(None, &[]);
        let text = format!("{before} {secret}{after}");
        let redacted = r.redact(&text);
        prop_assert!(!redacted.contains(secret), "{:?} → {:?}", text, redacted);
    }
}
