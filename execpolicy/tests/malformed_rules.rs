//! Malformed and hostile rules files: each is refused with file:line:column and
//! a message; runaway files end with an error instead of hanging or exhausting
//! memory.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use codex_execpolicy::{LoadError, PolicyLoader};

fn load(text: &str) -> Result<(), LoadError> {
    PolicyLoader::new().load_str("bad.star", text)
}

fn assert_refused(text: &str, line: usize, needle: &str) {
    let err = load(text).expect_err(text);
    assert_eq!(err.file, "bad.star");
    assert_eq!(err.line, line, "{err}");
    assert!(err.column >= 1);
    assert!(err.to_string().contains(needle), "{needle:?} not in {err}");
    assert!(
        err.to_string().starts_with(&format!("bad.star:{line}:")),
        "{err}"
    );
}

#[test]
fn syntax_and_call_errors_are_located() {
    assert_refused("prefix_rule(pattern = [\"ls\"]\n", 2, "");
    assert_refused(
        "\n\nprefix_rule(pattern = [\"ls\"], decision = \"deny\")\n",
        3,
        "decision must be",
    );
    assert_refused("prefix_rule(pattern = [])\n", 1, "pattern cannot be empty");
    assert_refused(
        "prefix_rule(pattern = [1])\n",
        1,
        "string or a list of strings",
    );
    assert_refused(
        "prefix_rule(pattern = [\"git\", []])\n",
        1,
        "alternatives cannot be empty",
    );
    assert_refused(
        "prefix_rule(pattern = [\"ls\"], justification = \"  \")\n",
        1,
        "justification cannot be empty",
    );
    assert_refused("prefix_rule(pattern = [\"ls\"], bogus = 1)\n", 1, "bogus");
    assert_refused("undefined_function()\n", 1, "undefined_function");
    assert_refused(
        "prefix_rule(pattern = [\"ls\"], match = [\"ls 'unterminated\"])\n",
        1,
        "invalid shell quoting",
    );
}

#[test]
fn failing_examples_are_load_errors_naming_the_rule() {
    assert_refused(
        "prefix_rule(pattern = [\"ls\"])\nprefix_rule(\n  pattern = [\"git\", \"status\"],\n  match = [\"git log\"])\n",
        2,
        "does not match this rule",
    );
    assert_refused(
        "prefix_rule(pattern = [\"git\"], not_match = [\"git push\"])\n",
        1,
        "listed in not_match",
    );
    assert_refused(
        "define_program(program = \"ls\", options = [flag(\"-l\")], args = [ARG_RFILES_OR_CWD],\n  should_match = [\"ls -Z\"])\n",
        1,
        "not verified by this definition",
    );
    assert_refused(
        "define_program(program = \"ls\", args = [ARG_RFILES_OR_CWD], should_not_match = [\"ls x\"])\n",
        1,
        "is verified by this definition",
    );
}

#[test]
fn invalid_definitions_are_refused() {
    assert_refused(
        "host_executable(name = \"git\", paths = [\"bin/git\"])\n",
        1,
        "must be absolute",
    );
    assert_refused(
        "host_executable(name = \"git\", paths = [\"/usr/bin/gitx\"])\n",
        1,
        "must end in",
    );
    assert_refused(
        "host_executable(name = \"a/b\", paths = [])\n",
        1,
        "bare program name",
    );
    assert_refused(
        "define_program(program = \"ls\", args = [\"ARG_NOPE\"])\n",
        1,
        "unknown argument type",
    );
    assert_refused(
        "define_program(program = \"ls\", args = [ARG_RFILES, ARG_OPAQUE_VALUES])\n",
        1,
        "at most one variable-length",
    );
    assert_refused(
        "define_program(program = \"ls\", options = [\"-l\"])\n",
        1,
        "flag() or opt()",
    );
    assert_refused(
        "define_program(program = \"ls\", system_path = [\"ls\"])\n",
        1,
        "must be absolute",
    );
    assert_refused("flag(\"l\")\n", 1, "starts with `-`");
    assert_refused(
        "network_rule(host = \"*.example.com\", protocol = \"https\", decision = \"allow\")\n",
        1,
        "one specific host",
    );
    assert_refused(
        "network_rule(host = \"example.com\", protocol = \"ftp\", decision = \"allow\")\n",
        1,
        "protocol must be",
    );
}

#[test]
fn dangerous_constructs_are_refused_before_running() {
    assert_refused("load(\"other.star\", \"x\")\n", 1, "");
    assert_refused("x = \"a\" * 1000000000\n", 1, "the `*` operator");
    assert_refused("x = \"%s\" % 1\n", 1, "the `%` operator");
    assert_refused(
        "L = [1, 2]\nx = [a for a in L for b in L]\n",
        2,
        "a comprehension",
    );
    assert_refused("x = \"abc\".replace(\"\", \"abc\")\n", 1, "a method call");
    // A `*` inside a string or comment is text, not an operator.
    load("# a * comment\nprefix_rule(pattern = [\"echo\", \"*\"], justification = \"a % in text\")\n").unwrap();
}

#[test]
fn runaway_files_stop_with_an_error() {
    let list = format!(
        "L = [{}]\n",
        (0..200)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let loops = format!("{list}for a in L:\n  for b in L:\n    for c in L:\n      x = a\n");
    let err = load(&loops).unwrap_err();
    assert!(err.to_string().contains("more than"), "{err}");

    let doubling = format!(
        "s = \"xxxxxxxxxxxxxxxx\"\nfor i in [{}]:\n  s = s + s\n",
        (0..40)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let err = load(&doubling).unwrap_err();
    assert!(err.to_string().contains("MiB"), "{err}");

    let recursion = "def f():\n  f()\nf()\n";
    assert!(load(recursion).is_err());
}

#[test]
fn unreadable_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.star");
    std::fs::write(&big, "#".repeat(codex_execpolicy::MAX_RULES_BYTES + 1)).unwrap();
    let err = PolicyLoader::new().load_file(&big).unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");

    let binary = dir.path().join("binary.star");
    std::fs::write(&binary, b"prefix_rule(pattern = [\"ls\"])\n\xff\xfe").unwrap();
    let err = PolicyLoader::new().load_file(&binary).unwrap_err();
    assert_eq!(err.line, 2, "{err}");

    let missing = dir.path().join("missing.star");
    assert!(
        PolicyLoader::new()
            .load_file(&missing)
            .unwrap_err()
            .to_string()
            .contains("cannot read")
    );
}

/// A FIFO, a directory or a device given as a rules file is refused at once,
/// never waited on.
#[test]
fn special_files_are_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("rules.fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo of a NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    for path in [
        fifo.as_path(),
        dir.path(),
        std::path::Path::new("/dev/zero"),
    ] {
        let err = codex_execpolicy::PolicyLoader::new()
            .load_file(path)
            .unwrap_err();
        assert!(err.to_string().contains("regular file"), "{err}");
    }
}
