//! Arguments that are not UTF-8 are never allowed by a safe-command rule: the
//! bytes that run are not the text that was read. `check_os`/`decide_os` take
//! them as the OS gives them; a lossy copy (U+FFFD) passed to `check` is
//! caught the same way. A forbidden rule still wins.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

use codex_execpolicy::{Decision, PolicyLoader, Verdict};

fn os(parts: &[&[u8]]) -> Vec<OsString> {
    parts
        .iter()
        .map(|p| OsString::from_vec(p.to_vec()))
        .collect()
}

fn defaults() -> codex_execpolicy::Policy {
    PolicyLoader::with_default_policy().unwrap().finish()
}

#[test]
fn a_non_utf8_argument_is_never_safe() {
    let policy = defaults();
    let cases: &[&[&[u8]]] = &[
        // The sed that wrote a file: its script is not UTF-8.
        &[b"sed", b"-n", b"1p;w out\xff", b"f"],
        &[b"sed", b"s/a/b/\xffw out", b"f"],
        &[b"sed", b"-n", b"1p", b"f\xfe"],
        &[b"cat", b"\xff\xfe"],
        &[b"ls", b"-la", b"dir\x80"],
        &[b"git", b"status", b"\xc3\x28"],
        &[b"bash", b"-lc", b"ls \xff"],
        &[b"env", b"LANG=C\xff", b"ls"],
    ];
    for argv in cases {
        let argv = os(argv);
        let evaluation = policy.check_os(&argv);
        assert_eq!(
            evaluation.decision.map(Verdict::decision),
            Some(Decision::Prompt),
            "{argv:?}: {evaluation:?}"
        );
        assert_eq!(policy.decide_os(&argv), evaluation.decision, "{argv:?}");
        let json = serde_json::to_string(&evaluation).unwrap();
        assert!(json.contains("not valid UTF-8"), "{json}");
    }
}

#[test]
fn utf8_arguments_decide_as_strings_do() {
    let policy = defaults();
    let argv = os(&[b"sed", b"-n", b"1p", "f\u{e9}".as_bytes()]);
    let strings: Vec<String> = argv
        .iter()
        .map(|a| a.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(policy.check_os(&argv), policy.check(&strings));
    assert_eq!(
        serde_json::to_value(policy.decide_os(&argv)).unwrap(),
        "safe"
    );
    // `&[&str]` works as well.
    assert!(policy.decide_os(&["ls", "-la"]).is_some());
}

#[test]
fn a_lossy_copy_passed_as_string_is_caught() {
    let policy = defaults();
    let lossy: Vec<String> = os(&[b"sed", b"-n", b"1p", b"f\xff"])
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        policy.decide(&lossy).map(Verdict::decision),
        Some(Decision::Prompt)
    );
    assert_eq!(policy.decide(&lossy), policy.check(&lossy).decision);
}

#[test]
fn a_forbidden_rule_still_wins_over_non_utf8() {
    let mut loader = PolicyLoader::new();
    loader
        .load_str(
            "r.star",
            "prefix_rule(pattern = [\"rm\"], decision = \"forbidden\")",
        )
        .unwrap();
    let policy = loader.finish();
    for argv in [
        os(&[b"rm", b"-rf", b"\xff"]),
        os(&[b"/bin/rm", b"\xff"]),
        os(&[b"bash", b"-c", b"rm \xff"]),
        os(&[b"env", b"X=\xff", b"rm", b"f"]),
    ] {
        assert_eq!(
            policy.decide_os(&argv).map(Verdict::decision),
            Some(Decision::Forbidden),
            "{argv:?}"
        );
    }
    // A program name that is not UTF-8 is not `rm`: at best prompt.
    let argv = os(&[b"r\xffm", b"x"]);
    assert_eq!(
        policy.decide_os(&argv).map(Verdict::decision),
        Some(Decision::Prompt)
    );
}
