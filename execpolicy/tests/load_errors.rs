//! Every way a rules file is refused has a typed kind ([`LoadErrorKind`]),
//! and its text is exactly what the error said before it was typed: the
//! CLI prints it as it is.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_execpolicy::{
    Decision, ExampleList, InvalidRuleValue as V, LoadError, LoadErrorKind as K, LooseningRule,
    NetworkProtocol, PolicyLoader, UnboundedConstruct,
};
use codex_policy_model::ConfigError;

fn load(text: &str) -> Result<(), LoadError> {
    PolicyLoader::new().load_str("bad.star", text)
}

fn load_tight(text: &str) -> Result<(), LoadError> {
    let mut loader = PolicyLoader::new();
    loader.tightening_only(true);
    loader.load_str("w.rules", text)
}

#[track_caller]
fn check(result: Result<(), LoadError>, text: &str, kind: impl Fn(&K) -> bool) {
    let err = result.expect_err(text);
    assert_eq!(err.to_string(), text);
    assert!(kind(&err.kind), "{text}: unexpected kind {:?}", err.kind);
    assert_eq!(
        format!("{}:{}:{}: {}", err.file, err.line, err.column, err.kind),
        text
    );
}

#[test]
fn each_refusal_has_its_kind_and_its_text() {
    check(
        load("prefix_rule(pattern = [\"ls\"]\n"),
        "bad.star:2:1: Parse error: unexpected new line, expected symbol ')'",
        |k| matches!(k, K::Syntax(_)),
    );
    check(
        load("load(\"other.star\", \"x\")\n"),
        "bad.star:1:1: `load` is not allowed in this dialect",
        |k| matches!(k, K::Syntax(_)),
    );
    check(
        load("undefined_function()\n"),
        "bad.star:1:1: Variable `undefined_function` not found",
        |k| matches!(k, K::UnknownName(_)),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], bogus = 1)\n"),
        "bad.star:1:1: Found `bogus` extra named parameter(s) for call to prefix_rule",
        |k| matches!(k, K::BadArguments(_)),
    );
    check(
        load("prefix_rule()\n"),
        "bad.star:1:1: Missing parameter `pattern` for call to `prefix_rule`",
        |k| matches!(k, K::BadArguments(_)),
    );
    check(
        load("prefix_rule(pattern = \"ls\")\n"),
        "bad.star:1:1: Type of parameter `pattern` doesn't match, expected `list`, actual `string (repr: \"ls\")`",
        |k| matches!(k, K::Evaluation(_)),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], decision = \"deny\")\n"),
        "bad.star:1:1: decision must be \"allow\", \"prompt\" or \"forbidden\" (got \"deny\")",
        |k| matches!(k, K::InvalidValue(V::Decision(e)) if e.got() == "deny"),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], decision = 3)\n"),
        "bad.star:1:1: Type of parameter `decision` doesn't match, expected `str`, actual `int (repr: 3)`",
        |k| matches!(k, K::Evaluation(_)),
    );
    check(
        load("prefix_rule(pattern = [])\n"),
        "bad.star:1:1: pattern cannot be empty",
        |k| matches!(k, K::InvalidValue(V::EmptyPattern)),
    );
    check(
        load("prefix_rule(pattern = [1])\n"),
        "bad.star:1:1: a pattern element must be a string or a list of strings (got int)",
        |k| matches!(k, K::InvalidValue(V::PatternElement { got_type: "int" })),
    );
    check(
        load("prefix_rule(pattern = [\"git\", []])\n"),
        "bad.star:1:1: pattern alternatives cannot be empty",
        |k| matches!(k, K::InvalidValue(V::EmptyAlternatives)),
    );
    check(
        load("prefix_rule(pattern = [\"git\", [1]])\n"),
        "bad.star:1:1: pattern alternatives must be strings",
        |k| matches!(k, K::InvalidValue(V::AlternativeNotString)),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], justification = \"  \")\n"),
        "bad.star:1:1: justification cannot be empty",
        |k| matches!(k, K::InvalidValue(V::EmptyJustification)),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], match = [\"ls 'unterminated\"])\n"),
        "bad.star:1:1: example \"ls 'unterminated\" has invalid shell quoting",
        |k| matches!(k, K::InvalidValue(V::ExampleQuoting { example }) if example == "ls 'unterminated"),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], match = [[1]])\n"),
        "bad.star:1:1: example tokens must be strings",
        |k| matches!(k, K::InvalidValue(V::ExampleTokenNotString)),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], match = [1])\n"),
        "bad.star:1:1: an example must be a string or a list of strings (got int)",
        |k| matches!(k, K::InvalidValue(V::ExampleType { got_type: "int" })),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], match = [\"\"])\n"),
        "bad.star:1:1: an example cannot be empty",
        |k| matches!(k, K::InvalidValue(V::EmptyExample)),
    );
    check(
        load("prefix_rule(pattern = [\"ls\"], match = [[]])\n"),
        "bad.star:1:1: an example cannot be empty",
        |k| matches!(k, K::InvalidValue(V::EmptyExample)),
    );
    check(
        load(
            "prefix_rule(pattern = [\"ls\"])\nprefix_rule(\n  pattern = [\"git\", \"status\"],\n  match = [\"git log\"])\n",
        ),
        "bad.star:2:1: example \"git log\" does not match this rule",
        |k| matches!(k, K::ExampleMismatch { example, listed_in: ExampleList::Match } if example == &["git", "log"]),
    );
    check(
        load("prefix_rule(pattern = [\"git\"], not_match = [\"git push\"])\n"),
        "bad.star:1:1: example \"git push\" matches this rule but is listed in not_match",
        |k| {
            matches!(
                k,
                K::ExampleMismatch {
                    listed_in: ExampleList::NotMatch,
                    ..
                }
            )
        },
    );
    check(
        load(
            "define_program(program = \"ls\", options = [flag(\"-l\")], args = [ARG_RFILES_OR_CWD],\n  should_match = [\"ls -Z\"])\n",
        ),
        "bad.star:1:1: should_match example \"ls -Z\" is not verified by this definition",
        |k| {
            matches!(
                k,
                K::ExampleMismatch {
                    listed_in: ExampleList::ShouldMatch,
                    ..
                }
            )
        },
    );
    check(
        load(
            "define_program(program = \"ls\", args = [ARG_RFILES_OR_CWD], should_not_match = [\"ls x\"])\n",
        ),
        "bad.star:1:1: should_not_match example \"ls x\" is verified by this definition",
        |k| {
            matches!(
                k,
                K::ExampleMismatch {
                    listed_in: ExampleList::ShouldNotMatch,
                    ..
                }
            )
        },
    );
    check(
        load("host_executable(name = \"git\", paths = [\"bin/git\"])\n"),
        "bad.star:1:1: host_executable paths must be absolute (got \"bin/git\")",
        |k| matches!(k, K::InvalidValue(V::HostExecutablePathRelative { path }) if path == "bin/git"),
    );
    check(
        load("host_executable(name = \"git\", paths = [\"/usr/bin/gitx\"])\n"),
        "bad.star:1:1: host_executable path \"/usr/bin/gitx\" must end in \"git\"",
        |k| matches!(k, K::InvalidValue(V::HostExecutablePathName { path, name }) if path == "/usr/bin/gitx" && name == "git"),
    );
    check(
        load("host_executable(name = \"a/b\", paths = [])\n"),
        "bad.star:1:1: host_executable name must be a bare program name (got \"a/b\")",
        |k| matches!(k, K::InvalidValue(V::HostExecutableName { name }) if name == "a/b"),
    );
    check(
        load("host_executable(name = \"git\", paths = [1])\n"),
        "bad.star:1:1: host_executable paths must be strings (got int)",
        |k| {
            matches!(
                k,
                K::InvalidValue(V::HostExecutablePathType { got_type: "int" })
            )
        },
    );
    check(
        load("define_program(program = \"ls\", args = [\"ARG_NOPE\"])\n"),
        "bad.star:1:1: unknown argument type \"ARG_NOPE\"; use one of the ARG_* constants",
        |k| matches!(k, K::InvalidValue(V::ArgType { got }) if got == "ARG_NOPE"),
    );
    check(
        load("define_program(program = \"ls\", args = [ARG_RFILES, ARG_OPAQUE_VALUES])\n"),
        "bad.star:1:1: at most one variable-length argument (ARG_RFILES, ARG_RFILES_OR_CWD, ARG_OPAQUE_VALUES)",
        |k| matches!(k, K::InvalidValue(V::SeveralVariableLength)),
    );
    check(
        load("define_program(program = \"ls\", options = [\"-l\"])\n"),
        "bad.star:1:1: options must be made with flag() or opt() (got \"-l\")",
        |k| matches!(k, K::InvalidValue(V::OptionSpec { text }) if text == "-l"),
    );
    check(
        load("define_program(program = \"ls\", system_path = [\"ls\"])\n"),
        "bad.star:1:1: system_path entries must be absolute (got \"ls\")",
        |k| matches!(k, K::InvalidValue(V::SystemPathRelative { path }) if path == "ls"),
    );
    check(
        load("define_program(program = \"a/b\")\n"),
        "bad.star:1:1: define_program program must be a bare name (got \"a/b\")",
        |k| matches!(k, K::InvalidValue(V::ProgramName { program }) if program == "a/b"),
    );
    check(
        load("define_program(program = \"ls\", args = [1])\n"),
        "bad.star:1:1: args must be strings (got int)",
        |k| matches!(k, K::InvalidValue(V::ArgsType { got_type: "int" })),
    );
    check(
        load("define_program(program = \"ls\", options = [1])\n"),
        "bad.star:1:1: options (use flag() and opt()) must be strings (got int)",
        |k| matches!(k, K::InvalidValue(V::OptionType { got_type: "int" })),
    );
    check(
        load("define_program(program = \"ls\", system_path = [1])\n"),
        "bad.star:1:1: system_path must be strings (got int)",
        |k| matches!(k, K::InvalidValue(V::SystemPathType { got_type: "int" })),
    );
    check(
        load("flag(\"l\")\n"),
        "bad.star:1:1: a flag starts with `-` (got \"l\")",
        |k| matches!(k, K::InvalidValue(V::FlagName { name }) if name == "l"),
    );
    check(
        load("opt(\"l\", ARG_RFILE)\n"),
        "bad.star:1:1: an option starts with `-` (got \"l\")",
        |k| matches!(k, K::InvalidValue(V::OptionName { name }) if name == "l"),
    );
    check(
        load("opt(\"-l\", \"ARG_NOPE\")\n"),
        "bad.star:1:1: unknown argument type \"ARG_NOPE\"; use one of the ARG_* constants",
        |k| matches!(k, K::InvalidValue(V::ArgType { got }) if got == "ARG_NOPE"),
    );
    check(
        load(
            "network_rule(host = \"*.example.com\", protocol = \"https\", decision = \"allow\")\n",
        ),
        "bad.star:1:1: network_rule host must be one specific host name or IP address",
        |k| matches!(k, K::InvalidValue(V::NetworkHostNotSpecific { host }) if host == "*.example.com"),
    );
    check(
        load("network_rule(host = \"example.com\", protocol = \"ftp\", decision = \"allow\")\n"),
        "bad.star:1:1: network_rule protocol must be one of http, https, socks5_tcp, socks5_udp (got ftp)",
        |k| matches!(k, K::InvalidValue(V::NetworkProtocol { got }) if got == "ftp"),
    );
    check(
        load("network_rule(host = \"example.com\", protocol = \"https\", decision = \"nope\")\n"),
        "bad.star:1:1: a network_rule's decision must be \"allow\", \"prompt\", \"deny\" or \"forbidden\" (got \"nope\")",
        |k| matches!(k, K::InvalidValue(V::NetworkDecision { got }) if got == "nope"),
    );
    check(
        load(
            "network_rule(host = \"https://example.com\", protocol = \"https\", decision = \"allow\")\n",
        ),
        "bad.star:1:1: network_rule host must be a host name or IP address, without scheme or path",
        |k| matches!(k, K::InvalidValue(V::NetworkHostSchemeOrPath { .. })),
    );
    check(
        load("network_rule(host = \"[::1\", protocol = \"https\", decision = \"allow\")\n"),
        "bad.star:1:1: network_rule host has an unclosed [IPv6] literal",
        |k| matches!(k, K::InvalidValue(V::NetworkHostUnclosedBracket { host }) if host == "[::1"),
    );
    check(
        load("network_rule(host = \"[::1]x\", protocol = \"https\", decision = \"allow\")\n"),
        "bad.star:1:1: network_rule host has an unexpected suffix: [::1]x",
        |k| matches!(k, K::InvalidValue(V::NetworkHostSuffix { host }) if host == "[::1]x"),
    );
    check(
        load("x = \"a\" * 1000000000\n"),
        "bad.star:1:9: the `*` operator is not allowed in rules files: it could build unbounded values (rules files are declarative)",
        |k| {
            matches!(
                k,
                K::Unbounded {
                    construct: UnboundedConstruct::StarOperator
                }
            )
        },
    );
    check(
        load("x = \"%s\" % 1\n"),
        "bad.star:1:10: the `%` operator is not allowed in rules files: it could build unbounded values (rules files are declarative)",
        |k| {
            matches!(
                k,
                K::Unbounded {
                    construct: UnboundedConstruct::PercentOperator
                }
            )
        },
    );
    check(
        load("L = [1, 2]\nx = [a for a in L for b in L]\n"),
        "bad.star:2:8: a comprehension is not allowed in rules files: it could build unbounded values (rules files are declarative)",
        |k| {
            matches!(
                k,
                K::Unbounded {
                    construct: UnboundedConstruct::Comprehension
                }
            )
        },
    );
    check(
        load("x = \"abc\".replace(\"\", \"abc\")\n"),
        "bad.star:1:10: a method call is not allowed in rules files: it could build unbounded values (rules files are declarative)",
        |k| {
            matches!(
                k,
                K::Unbounded {
                    construct: UnboundedConstruct::MethodCall
                }
            )
        },
    );
    check(load("x = 1)\n"), "bad.star:1:6: unmatched `)`", |k| {
        matches!(k, K::UnmatchedBracket { bracket: ')' })
    });
    check(load("x = ]\n"), "bad.star:1:5: unmatched `]`", |k| {
        matches!(k, K::UnmatchedBracket { bracket: ']' })
    });
    check(
        load("def f():\n  f()\nf()\n"),
        "bad.star:2:3: Starlark call stack overflow",
        |k| matches!(k, K::Evaluation(_)),
    );
    check(
        load("x = 1 + \"a\"\n"),
        "bad.star:1:5: Operation `+` not supported for types `int` and `string`",
        |k| matches!(k, K::Evaluation(_)),
    );
    check(
        load("x = [1][5]\n"),
        "bad.star:1:5: Index `5` is out of bound",
        |k| matches!(k, K::Evaluation(_)),
    );
    check(
        load("x = {}\nx[1]\n"),
        "bad.star:2:1: Key `1` was not found",
        |k| matches!(k, K::Evaluation(_)),
    );
    check(
        load("fail(\"x\")\n"),
        "bad.star:1:1: Variable `fail` not found",
        |k| matches!(k, K::UnknownName(_)),
    );
    check(
        load("def f(a):\n  return a\nf()\n"),
        "bad.star:3:1: Missing parameter `a` for call to `bad.star.f`",
        |k| matches!(k, K::BadArguments(_)),
    );
    check(
        load_tight("prefix_rule(pattern = [\"curl\"])\n"),
        "w.rules:1:1: this rules file is loaded as tightening-only (the sandboxed command could have written it), so it may only make the policy stricter; expected rules that prompt or forbid, got a prefix_rule whose decision is \"allow\" (the default when none is given); to fix: give decision = \"prompt\" or \"forbidden\", or move it into a rules file the sandbox cannot write",
        |k| matches!(k, K::Loosening(LooseningRule::AllowPrefixRule)),
    );
    check(
        load_tight("host_executable(name = \"git\", paths = [\"/usr/bin/git\"])\n"),
        "w.rules:1:1: this rules file is loaded as tightening-only (the sandboxed command could have written it), so it may only make the policy stricter; expected rules that prompt or forbid, got host_executable (it lets a path be judged by a program's rules as they are); to fix: remove it; an unlisted path is judged by its program's rules, at best needing approval, or move it into a rules file the sandbox cannot write",
        |k| matches!(k, K::Loosening(LooseningRule::HostExecutable)),
    );
    check(
        load_tight("define_program(program = \"ls\")\n"),
        "w.rules:1:1: this rules file is loaded as tightening-only (the sandboxed command could have written it), so it may only make the policy stricter; expected rules that prompt or forbid, got a define_program without `forbidden` (its commands could be judged safe); to fix: add forbidden = \"reason\" to forbid what it matches, or move it into a rules file the sandbox cannot write",
        |k| matches!(k, K::Loosening(LooseningRule::ProgramWithoutForbidden)),
    );
    check(
        load_tight(
            "network_rule(host = \"example.com\", protocol = \"https\", decision = \"allow\")\n",
        ),
        "w.rules:1:1: this rules file is loaded as tightening-only (the sandboxed command could have written it), so it may only make the policy stricter; expected rules that prompt or forbid, got a network_rule whose decision is \"allow\"; to fix: give decision = \"prompt\" or \"deny\", or move it into a rules file the sandbox cannot write",
        |k| matches!(k, K::Loosening(LooseningRule::AllowNetworkRule)),
    );
}

#[test]
fn prescan_and_budget_refusals_are_typed() {
    let deep = format!("x = {}1{}\n", "(".repeat(40), ")".repeat(40));
    check(
        load(&deep),
        "bad.star:1:21: nesting deeper than 32 levels (brackets, chained operators or calls, indented blocks); expected a flat, declarative rules file: split the expression into several statements",
        |k| matches!(k, K::TooDeep { limit: 32 }),
    );
    check(
        load("x = f\"{a + b}\"\n"),
        "bad.star:1:7: only a name is allowed inside the braces of an f-string in rules files (expected `{name}`; write `{{` for a literal brace)",
        |k| matches!(k, K::FStringExpression),
    );
    let big = "#".repeat(codex_execpolicy::MAX_RULES_BYTES + 1);
    check(
        load(&big),
        "bad.star:1:1: larger than 1048576 bytes",
        |k| matches!(k, K::TooLarge { limit } if *limit == codex_execpolicy::MAX_RULES_BYTES),
    );
    let list = format!(
        "L = [{}]\n",
        (0..200)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    check(
        load(&format!(
            "{list}for a in L:\n  for b in L:\n    for c in L:\n      x = a\n"
        )),
        "bad.star:5:11: the rules file ran more than 1000000 statements; rules files must be declarative",
        |k| matches!(k, K::TooManyStatements { limit: 1_000_000 }),
    );
    let doubling = format!(
        "s = \"xxxxxxxxxxxxxxxx\"\nfor i in [{}]:\n  s = s + s\n",
        (0..40)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    check(
        load(&doubling),
        "bad.star:3:7: the rules file used more than 256 MiB",
        |k| matches!(k, K::TooMuchMemory { limit_mib: 256 }),
    );
}

#[test]
fn file_refusals_are_typed_and_keep_the_operating_system_error_as_source() {
    let dir = tempfile::tempdir().unwrap();
    let shown = |p: &std::path::Path| p.display().to_string();

    let big = dir.path().join("big.star");
    std::fs::write(&big, "#".repeat(codex_execpolicy::MAX_RULES_BYTES + 1)).unwrap();
    check(
        PolicyLoader::new().load_file(&big),
        &format!("{}:1:1: larger than 1048576 bytes", shown(&big)),
        |k| matches!(k, K::TooLarge { .. }),
    );

    let binary = dir.path().join("binary.star");
    std::fs::write(&binary, b"prefix_rule(pattern = [\"ls\"])\n\xff\xfe").unwrap();
    check(
        PolicyLoader::new().load_file(&binary),
        &format!("{}:2:1: not valid UTF-8", shown(&binary)),
        |k| matches!(k, K::NotUtf8),
    );

    let missing = dir.path().join("missing.star");
    let err = PolicyLoader::new().load_file(&missing).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{0}:1:1: {0}: cannot read: No such file or directory (os error 2)",
            shown(&missing)
        )
    );
    assert!(
        matches!(err.kind, K::Open(ConfigError::Io { .. })),
        "{err:?}"
    );
    let source = std::error::Error::source(&err).expect("the opener's error");
    assert!(source.downcast_ref::<ConfigError>().is_some(), "{source:?}");

    let err = PolicyLoader::new().load_file(dir.path()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{0}:1:1: {0}: is a directory, not a regular file; configuration files must be regular files (at most 1048576 bytes)",
            shown(dir.path())
        )
    );
    assert!(
        matches!(err.kind, K::Open(ConfigError::NotARegularFile { .. })),
        "{err:?}"
    );
}

#[test]
fn kinds_describe_themselves() {
    assert_eq!(
        UnboundedConstruct::StarOperator.describe(),
        "the `*` operator"
    );
    assert_eq!(ExampleList::ShouldNotMatch.as_str(), "should_not_match");
    assert_eq!(
        LooseningRule::AllowNetworkRule.fix(),
        "give decision = \"prompt\" or \"deny\""
    );
    let err = load("undefined_function()\n").unwrap_err();
    let K::UnknownName(interpreter) = &err.kind else {
        panic!("{err:?}");
    };
    assert_eq!(
        interpreter.message(),
        "Variable `undefined_function` not found"
    );
}

#[test]
fn decisions_parse_with_a_typed_error() {
    for decision in [Decision::Allow, Decision::Prompt, Decision::Forbidden] {
        assert_eq!(decision.as_str().parse::<Decision>(), Ok(decision));
        assert_eq!(Decision::parse(&decision.to_string()), Ok(decision));
    }
    let err = "deny".parse::<Decision>().unwrap_err();
    assert_eq!(err.got(), "deny");
    assert_eq!(
        err.to_string(),
        "decision must be \"allow\", \"prompt\" or \"forbidden\" (got \"deny\")"
    );
    assert!(Decision::parse("Allow").is_err(), "the spelling is exact");
}

#[test]
fn network_rules_carry_a_typed_protocol_serialized_as_written() {
    let mut loader = PolicyLoader::new();
    loader
        .load_str(
            "net.rules",
            "network_rule(host = \"a.example\", protocol = \"http-connect\", decision = \"allow\")\n\
             network_rule(host = \"b.example\", protocol = \"socks5_udp\", decision = \"deny\")\n",
        )
        .unwrap();
    let policy = loader.finish();
    let rules = policy.network_rules();
    assert_eq!(rules[0].protocol, NetworkProtocol::Https);
    assert_eq!(rules[1].protocol, NetworkProtocol::Socks5Udp);
    assert_eq!(rules[1].protocol.to_string(), "socks5_udp");
    assert_eq!(
        serde_json::to_string(&rules[1]).unwrap(),
        r#"{"host":"b.example","protocol":"socks5_udp","decision":"forbidden"}"#
    );
}
