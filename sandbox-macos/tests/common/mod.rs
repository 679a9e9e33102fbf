//! Shared by the integration tests: fixture directories, a small reader of
//! Seatbelt's s-expressions, and the checks every generated profile passes.
#![allow(dead_code, unreachable_pub, clippy::expect_used, clippy::unwrap_used)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use codex_policy_model::{ProtectedHomes, SandboxPolicy};
use codex_sandbox_macos::{SeatbeltBuilder, SeatbeltProfile};

/// A project directory outside `/tmp` (which is a writable root itself),
/// canonical, removed on drop.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("seatbelt-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("fixture dir");
        let root = dir.path().canonicalize().expect("canonical fixture");
        Self { dir, root }
    }

    /// A subdirectory, created.
    pub fn mkdir(&self, rel: &str) -> PathBuf {
        let path = self.root.join(rel);
        std::fs::create_dir_all(&path).expect("mkdir");
        path
    }

    /// A builder for `policy` in `cwd`, with no `$TMPDIR` and no homes from
    /// the environment, so that the result depends on the fixture only.
    pub fn builder(&self, policy: &SandboxPolicy, cwd: &Path) -> SeatbeltBuilder {
        SeatbeltProfile::builder(policy, cwd)
            .tmpdir(None)
            .protected_homes(ProtectedHomes::default())
    }
}

/// Workspace-write without `/tmp` or `$TMPDIR`: the roots are the fixture's only.
pub fn workspace(extra: Vec<PathBuf>, network: bool) -> SandboxPolicy {
    SandboxPolicy::WorkspaceWrite {
        writable_roots: extra,
        network_access: network,
        exclude_tmpdir_env_var: true,
        exclude_slash_tmp: true,
    }
}

/// One datum of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sexp {
    List(Vec<Sexp>),
    Str(String),
    Regex(String),
    Atom(String),
}

impl Sexp {
    pub fn head(&self) -> Option<&str> {
        match self {
            Sexp::List(items) => match items.first() {
                Some(Sexp::Atom(a)) => Some(a),
                _ => None,
            },
            _ => None,
        }
    }

    /// Every `(param "NAME")` inside, in order.
    pub fn params(&self, out: &mut Vec<String>) {
        if let Sexp::List(items) = self {
            if let [Sexp::Atom(a), Sexp::Str(name)] = items.as_slice()
                && a == "param"
            {
                out.push(name.clone());
            }
            for item in items {
                item.params(out);
            }
        }
    }
}

/// Reads a whole profile: `;` comments to the end of the line, lists,
/// strings (`\"` and `\\` escapes), regex literals `#"…"`, atoms. Block
/// comments (`#|`) are refused: the generator never writes one, so one
/// appearing means a value leaked into the text.
pub fn parse(text: &str) -> Result<Vec<Sexp>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut pos = 0;
    let mut stack: Vec<Vec<Sexp>> = vec![Vec::new()];
    while pos < chars.len() {
        let c = chars[pos];
        match c {
            ';' => {
                while pos < chars.len() && chars[pos] != '\n' {
                    pos += 1;
                }
            }
            '(' => {
                stack.push(Vec::new());
                pos += 1;
            }
            ')' => {
                let list = stack.pop().ok_or("unbalanced )")?;
                stack
                    .last_mut()
                    .ok_or_else(|| format!("unbalanced ) at {pos}"))?
                    .push(Sexp::List(list));
                pos += 1;
            }
            '"' => {
                let (s, next) = read_string(&chars, pos + 1)?;
                stack.last_mut().ok_or("no list")?.push(Sexp::Str(s));
                pos = next;
            }
            '#' if chars.get(pos + 1) == Some(&'"') => {
                let (s, next) = read_string(&chars, pos + 2)?;
                stack.last_mut().ok_or("no list")?.push(Sexp::Regex(s));
                pos = next;
            }
            '#' if chars.get(pos + 1) == Some(&'|') => {
                return Err(format!("block comment at {pos}"));
            }
            c if c.is_whitespace() => pos += 1,
            _ => {
                let start = pos;
                while pos < chars.len()
                    && !chars[pos].is_whitespace()
                    && !matches!(chars[pos], '(' | ')' | '"' | ';')
                {
                    pos += 1;
                }
                let atom: String = chars[start..pos].iter().collect();
                if !atom
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-*_#.".contains(c))
                {
                    return Err(format!("odd atom {atom:?} at {start}"));
                }
                stack.last_mut().ok_or("no list")?.push(Sexp::Atom(atom));
            }
        }
    }
    if stack.len() != 1 {
        return Err(format!("{} unclosed (", stack.len() - 1));
    }
    Ok(stack.pop().unwrap_or_default())
}

fn read_string(chars: &[char], mut pos: usize) -> Result<(String, usize), String> {
    let mut s = String::new();
    while pos < chars.len() {
        match chars[pos] {
            '"' => return Ok((s, pos + 1)),
            '\\' => {
                let next = chars.get(pos + 1).ok_or("dangling escape")?;
                s.push(*next);
                pos += 2;
            }
            '\n' => return Err(format!("newline in a string at {pos}")),
            c => {
                s.push(c);
                pos += 1;
            }
        }
    }
    Err("unterminated string".to_owned())
}

/// What every generated profile must satisfy: it parses; it opens with
/// `(version 1)` then `(deny default)`; every top-level form is a rule;
/// every parameter it reads is passed and every one passed is read; names
/// are plain; and no parameter's value appears anywhere in the text.
pub fn check_profile(profile: &SeatbeltProfile) -> Vec<Sexp> {
    let text = profile.text();
    let forms = parse(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(
        forms.first().and_then(Sexp::head),
        Some("version"),
        "{text}"
    );
    assert_eq!(
        forms.get(1),
        Some(&Sexp::List(vec![
            Sexp::Atom("deny".into()),
            Sexp::Atom("default".into())
        ]))
    );
    for form in &forms[1..] {
        assert!(
            matches!(form.head(), Some("allow" | "deny")),
            "not a rule: {form:?}"
        );
    }
    let mut used = Vec::new();
    for form in &forms {
        form.params(&mut used);
    }
    let passed: Vec<&str> = profile
        .parameters()
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    for name in &used {
        assert!(
            passed.contains(&name.as_str()),
            "{name} read but not passed"
        );
    }
    for name in &passed {
        assert!(used.iter().any(|u| u == name), "{name} passed but not read");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'),
            "{name}"
        );
    }
    let mut sorted = passed.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), passed.len(), "a parameter name twice");
    for (name, value) in profile.parameters() {
        let bytes = value.as_encoded_bytes();
        assert!(
            !text.as_bytes().windows(bytes.len()).any(|w| w == bytes),
            "{name}'s value {value:?} appears in the text"
        );
    }
    forms
}

/// The value of one parameter.
pub fn param<'a>(profile: &'a SeatbeltProfile, name: &str) -> Option<&'a OsString> {
    profile
        .parameters()
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}
