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
    "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "pypi-AgEIcHlwaS5vcmcCJDEyMzQ1Njc4LTkwYWItY2RlZi0xMjM0LTU2Nzg5MGFiY2RlZgACKlszLCJhYmMiXQ",
    "hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh",
    "SG.abcdefghijklmnopqrstuv.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq",
    "xapp-1-A0123456789-1234567890123-abcdef0123456789abcdef",
    "dop_v1_0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
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
    // Secret-named flags with the value as the next word, and `name=value`.
    ("tool --password hunter2x db", "hunter2x"),
    ("tool --password=hunter3x db", "hunter3x"),
    ("gh api --token tok3nval /user", "tok3nval"),
    ("deploy --api-key apikey12 --region eu", "apikey12"),
    ("deploy --api_key apikey13", "apikey13"),
    ("deploy --access-token acctok14", "acctok14"),
    ("deploy --passwd passwd15", "passwd15"),
    ("deploy --client-secret clisec16", "clisec16"),
    ("http --auth user:httpie17 example.com", "httpie17"),
    ("deploy --credentials creds18", "creds18"),
    ("deploy --db-password 'two words19'", "two words19"),
    ("java -jar x.jar -password single22", "single22"),
    // Program-specific forms.
    ("mysql -uroot -pS3cretPw db", "S3cretPw"),
    ("/usr/bin/mysqldump -h db -pDumpPw23 app", "DumpPw23"),
    ("sshpass -p sshpw19 ssh host", "sshpw19"),
    ("sshpass -psshglued24 ssh host", "sshglued24"),
    ("curl -u alice:curlpw123 https://x", "curlpw123"),
    ("curl --user 'bob:curl pw 4' https://x", "curl pw 4"),
    ("curl -ucarol:gluedpw5 https://x", "gluedpw5"),
    ("curl --user=dave:eqpw25 https://x", "eqpw25"),
    ("curl -U proxy:proxypw26 https://x", "proxypw26"),
    // Keys of JSON and YAML-like text.
    ("echo '{\"password\":\"jsonpw6\"}'", "jsonpw6"),
    ("{\"api_key\": \"jsonkey20\", \"n\": 1}", "jsonkey20"),
    ("{\\\"secret\\\":\\\"escapedjs27\\\"}", "escapedjs27"),
    ("password: yamlpw7", "yamlpw7"),
    ("accessToken: camel21", "camel21"),
    ("client_secret: 'quoted28'", "quoted28"),
    // Headers.
    (
        "curl -H 'Cookie: session=cookieval8; theme=dark'",
        "cookieval8",
    ),
    ("Set-Cookie: id=setcookie9; Path=/", "setcookie9"),
    ("curl -H 'X-Api-Key: apikeyval10'", "apikeyval10"),
    ("curl -H 'Private-Token: privtok11'", "privtok11"),
    ("curl -H \"X-Auth-Token: authtok29\" https://x", "authtok29"),
    // Webhook URLs.
    (
        "curl -X POST https://hooks.slack.com/services/T0ABCDEF1/B0ABCDEF2/slackhookpath30",
        "slackhookpath30",
    ),
    (
        "curl https://discord.com/api/webhooks/123456/discordhook31?wait=true",
        "discordhook31",
    ),
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
        SinkOptions::default()
            .with_http_log_headers(true)
            .with_http_log_bodies(true)
            .with_redact_headers(vec!["X-Api-Key".into()]),
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
        event.http = Some(
            HttpDetails::default()
                .with_method("POST")
                .with_header("X-Api-Key", "opaque-header-secret")
                .with_header("X-Trace", text.clone())
                .with_body(text.clone()),
        );
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
        "mkdir -p build && sort -u names.txt",
        "ssh -p 2222 host ps -p 123",
        "docker run -u 1000:1000 -p 8080:80 image",
        "git commit --author 'A U Thor <a@example.com>' -m 'fix parser'",
        "docker login --password-stdin registry.example.com",
        "llm --max-tokens 100 --temperature 0",
        "tool --token-file tok.txt --password-file pw.txt --no-password db",
        "curl --key client.pem --cert client.crt -u alice https://example.com",
        "gpg --recv-keys ABCDEF0123456789",
        "python -c 'from huggingface_hub import hf_hub_download_with_progress_bar'",
        "npm_config_cache=/tmp/npm npm ci",
        "echo token_type: bearer; time: 5s; scp a host:/srv/b",
        "git log --format=%H:%s",
        "SG.short.short",
        "curl https://hooks.example.com/services/status",
    ] {
        assert_eq!(r.redact(text), text);
    }
}

#[test]
fn new_shapes_become_exactly() {
    let r = Redactor::with_home(None, &[]);
    for (text, expected) in [
        ("mysql -uroot -psecret db", "mysql -uroot -p[REDACTED] db"),
        ("tool --password secret x", "tool --password [REDACTED] x"),
        ("tool --password=secret x", "tool --password=[REDACTED] x"),
        ("tool --token 'a b' x", "tool --token [REDACTED] x"),
        (
            "curl -u user:pw https://x",
            "curl -u user:[REDACTED] https://x",
        ),
        (
            "curl -u 'user:p w' https://x",
            "curl -u 'user:[REDACTED]' https://x",
        ),
        (r#"{"password":"x"}"#, r#"{"password":"[REDACTED]"}"#),
        (
            r#"{"password": 1234, "user": "u"}"#,
            r#"{"password": [REDACTED], "user": "u"}"#,
        ),
        ("password: x", "password: [REDACTED]"),
        ("Cookie: a=b; c=d", "Cookie: [REDACTED]"),
        (
            "-H 'Set-Cookie: a=b; Path=/'",
            "-H 'Set-Cookie: [REDACTED]'",
        ),
        ("X-Api-Key: k", "X-Api-Key: [REDACTED]"),
        ("Private-Token: t", "Private-Token: [REDACTED]"),
        (
            "https://hooks.slack.com/services/T0/B0/XYZ ok",
            "https://hooks.slack.com/services/[REDACTED] ok",
        ),
        (
            "NPM_TOKEN npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789.",
            "NPM_TOKEN [REDACTED].",
        ),
        (
            "Authorization: Bearer opaque",
            "Authorization: Bearer [REDACTED]",
        ),
        // An argument made to look like a header hides nothing after it.
        (
            "find X-Api-Key:1 important -delete",
            "find X-Api-Key:[REDACTED] important -delete",
        ),
        (
            "find Cookie: 1 important -delete",
            "find Cookie: [REDACTED] important -delete",
        ),
        (
            "curl -H authorization:SECRET https://x",
            "curl -H authorization:[REDACTED] https://x",
        ),
        ("DB_PASS=hunter2 make", "DB_PASS=[REDACTED] make"),
        ("GPG_PASSPHRASE=abc gpg", "GPG_PASSPHRASE=[REDACTED] gpg"),
        ("tool --creds=abc", "tool --creds=[REDACTED]"),
    ] {
        assert_eq!(r.redact(text), expected, "{text}");
        assert_eq!(r.redact(expected), expected, "fixed point: {expected}");
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
            "--password ",
            "--api-key ",
            "-p",
            "-u",
            "mysql ",
            "curl ",
            "sshpass ",
            "\"password\":",
            "password: ",
            "Cookie: ",
            "X-Api-Key: ",
            "\\\"",
            "{",
            "hooks.slack.com/services/",
            "npm_",
            "SG.",
            "hf_",
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
