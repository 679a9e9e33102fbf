//! Paths a command writes are verified against the policy the sandbox
//! enforces — the composed one — whether the run has rules or not, through
//! the library and through `codex-policy run`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use codex_policy::{ExecRules, Session};
use common::escape::{Fixture, skip, skip_reason};
use common::session::{builder, rules};

#[test]
fn an_extra_writable_root_is_writable_with_rules_too() {
    if let Some(reason) = skip_reason() {
        return skip("an_extra_writable_root_is_writable_with_rules_too", &reason);
    }
    let fixture = Fixture::new();
    let extra = fixture.home.join("extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(fixture.workspace.join("in.txt"), "b\na\n").unwrap();
    let out = extra.join("out");
    let rules = rules(
        &fixture,
        "prefix_rule(pattern = [\"ls\"], decision = \"allow\")\n",
    );
    let argv = ["sort", "-o", out.to_str().unwrap(), "in.txt"];

    // The library: with and without rules, the same verdict.
    for with_rules in [false, true] {
        let (builder, _) = builder(&fixture, "workspace");
        let mut builder = builder.writable_root(&extra);
        if with_rules {
            builder = builder.rules(ExecRules::Files(vec![rules.clone()]));
        }
        let session: Session = builder.build().unwrap();
        if with_rules {
            let check = session.check(&argv).unwrap().unwrap();
            assert!(
                check.decision() != Some(codex_policy::execpolicy::Decision::Forbidden),
                "{}",
                check.explanation()
            );
        }
        let status = session.command(argv).status().unwrap();
        assert!(status.success(), "rules: {with_rules}");
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "a\nb\n");
        std::fs::remove_file(&out).unwrap();
    }

    // The command line: the same case, both ways.
    for with_rules in [false, true] {
        let mut extra_flags = vec!["--writable-root", extra.to_str().unwrap()];
        if with_rules {
            extra_flags.extend(["--rules", rules.to_str().unwrap()]);
        }
        let output = fixture
            .command("workspace", &extra_flags, &argv)
            .output()
            .unwrap();
        assert_eq!(
            output.status.code(),
            Some(0),
            "rules {with_rules}: {output:?}"
        );
        std::fs::remove_file(&out).unwrap();
    }

    // And outside every root the rules (the built-in ones know `sort -o`)
    // find it unverified: under `untrusted` it is asked about (nobody to
    // ask: refused), under `on-request` the sandbox refuses the write.
    let outside = fixture.home.join("nope");
    let (builder, _) = builder(&fixture, "workspace");
    let session = builder.rules(ExecRules::BuiltIn).build().unwrap();
    let argv = ["sort", "-o", outside.to_str().unwrap(), "in.txt"];
    let check = session.check(&argv).unwrap().unwrap();
    assert!(
        matches!(
            check.decision(),
            Some(
                codex_policy::execpolicy::Decision::Prompt
                    | codex_policy::execpolicy::Decision::Forbidden
            )
        ),
        "{}",
        check.explanation()
    );
    let status = session.command(argv).status().unwrap();
    assert!(!status.success());
    assert!(!outside.exists());
    let (untrusted, _) = common::session::builder(&fixture, "workspace");
    let session = untrusted
        .rules(ExecRules::BuiltIn)
        .approval_policy(codex_policy::ApprovalPolicy::Untrusted, "-a")
        .build()
        .unwrap();
    let err = session.command(argv).status().unwrap_err();
    assert_eq!(err.exit_status(), 126, "{err}");
    assert!(!outside.exists());
}
