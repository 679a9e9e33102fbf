//! The common shape of a rules file, read without the interpreter: only
//! calls of the rules builtins at the top level, each argument a keyword
//! argument whose value is a string literal or a list of them (nested once
//! more for alternatives). Evaluating such a file in Starlark only calls the
//! builtins with those values, so the loader checks them with the same code
//! and builds the same policy, several times faster. Anything else — another
//! statement, a variable, a positional argument, an escape other than `\\`,
//! `\"`, `\'`, `\n`, `\t`, a string prefix, a carriage return, a `;` — makes
//! the reader give up, and the interpreter reads the file (and reports any
//! error, with its location).

use std::borrow::Cow;

use starlark::values::Value;
use starlark::values::list::ListRef;

/// A builtin's argument as the rules language has it: what this reader
/// parses, and what the interpreter's values are turned into, so both paths
/// are checked by the same code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Lit<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// A list.
    List(Vec<Lit<'a>>),
    /// Any other value, by its Starlark type name (`int`, `dict`, …).
    Other(&'static str),
}

impl<'a> Lit<'a> {
    /// The literal form of an interpreter value (a builtin's argument, or an
    /// element of a list argument). Lists are followed two levels down, as
    /// deep as any builtin looks; deeper ones stay opaque, which also keeps
    /// a list that contains itself (`a[0] = a`) from being followed forever.
    pub(crate) fn from_value<'v: 'a>(value: Value<'v>) -> Self {
        Self::at_depth(value, 0)
    }

    fn at_depth<'v: 'a>(value: Value<'v>, depth: usize) -> Self {
        if let Some(text) = value.unpack_str() {
            Self::Str(Cow::Borrowed(text))
        } else if let Some(list) = ListRef::from_value(value).filter(|_| depth < 2) {
            Self::List(
                list.content()
                    .iter()
                    .map(|v| Self::at_depth(*v, depth + 1))
                    .collect(),
            )
        } else {
            Self::Other(value.get_type())
        }
    }

    /// The Starlark type name, for errors.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Self::Str(_) => "string",
            Self::List(_) => "list",
            Self::Other(name) => name,
        }
    }
}

/// One call of a builtin: its name, the line it starts on (at column 1),
/// and its keyword arguments in order.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) name: &'a str,
    pub(crate) line: usize,
    pub(crate) args: Vec<(&'a str, Lit<'a>)>,
}

impl<'a> Call<'a> {
    /// The value of keyword `key`, if given.
    pub(crate) fn arg(&self, key: &str) -> Option<&Lit<'a>> {
        self.args.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// The string value of keyword `key`: `Ok(None)` when absent, `Err` when
    /// given another type (the interpreter would refuse the call).
    pub(crate) fn str_arg(&self, key: &str) -> Result<Option<&str>, ()> {
        match self.arg(key) {
            None => Ok(None),
            Some(Lit::Str(text)) => Ok(Some(text)),
            Some(_) => Err(()),
        }
    }

    /// The list value of keyword `key`, as [`Call::str_arg`].
    pub(crate) fn list_arg(&self, key: &str) -> Result<Option<&[Lit<'a>]>, ()> {
        match self.arg(key) {
            None => Ok(None),
            Some(Lit::List(items)) => Ok(Some(items)),
            Some(_) => Err(()),
        }
    }
}

/// Lists nested deeper than this are left to the interpreter.
const MAX_DEPTH: usize = 4;

/// The calls of a file in the common shape, each of one of `builtins` with
/// keyword arguments among its `keywords`, each keyword at most once; `None`
/// when the file has any other shape.
pub(crate) fn read_calls<'a>(text: &'a str, builtins: &[(&str, &[&str])]) -> Option<Vec<Call<'a>>> {
    let mut reader = Reader {
        text,
        bytes: text.as_bytes(),
        i: 0,
        line: 1,
    };
    let mut calls = Vec::new();
    loop {
        // At the start of a line: blank, a comment, or a call at column 1.
        match reader.peek() {
            None => return Some(calls),
            Some(b'\n') => {
                reader.i += 1;
                reader.line += 1;
            }
            Some(b' ' | b'\t' | b'#') => reader.end_of_line()?,
            Some(_) => {
                let line = reader.line;
                let name = reader.ident()?;
                let keywords = builtins.iter().find(|(n, _)| *n == name)?.1;
                reader.skip_spaces();
                reader.expect(b'(')?;
                let mut args: Vec<(&'a str, Lit<'a>)> = Vec::new();
                loop {
                    reader.skip_blank()?;
                    if reader.peek() == Some(b')') {
                        reader.i += 1;
                        break;
                    }
                    let key = reader.ident()?;
                    if !keywords.contains(&key) || args.iter().any(|(k, _)| *k == key) {
                        return None;
                    }
                    reader.skip_blank()?;
                    reader.expect(b'=')?;
                    if reader.peek() == Some(b'=') {
                        return None;
                    }
                    reader.skip_blank()?;
                    args.push((key, reader.value(0)?));
                    reader.skip_blank()?;
                    match reader.peek() {
                        Some(b',') => reader.i += 1,
                        Some(b')') => {}
                        _ => return None,
                    }
                }
                reader.end_of_line()?;
                calls.push(Call { name, line, args });
            }
        }
    }
}

struct Reader<'a> {
    text: &'a str,
    bytes: &'a [u8],
    i: usize,
    line: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.i).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek() == Some(byte)).then(|| self.i += 1)
    }

    fn skip_spaces(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.i += 1;
        }
    }

    /// Spaces, then an optional comment, then the end of the line (or of
    /// the file), which is consumed.
    fn end_of_line(&mut self) -> Option<()> {
        self.skip_spaces();
        if self.peek() == Some(b'#') {
            self.skip_comment();
        }
        match self.peek() {
            None => Some(()),
            Some(b'\n') => {
                self.i += 1;
                self.line += 1;
                Some(())
            }
            Some(_) => None,
        }
    }

    fn skip_comment(&mut self) {
        while let Some(b) = self.peek() {
            if b == b'\n' || b == b'\r' {
                return;
            }
            self.i += 1;
        }
    }

    /// Inside brackets: spaces, line breaks and comments.
    fn skip_blank(&mut self) -> Option<()> {
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.i += 1,
                Some(b'\n') => {
                    self.i += 1;
                    self.line += 1;
                }
                Some(b'#') => self.skip_comment(),
                Some(b'\r') => return None,
                _ => return Some(()),
            }
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        let start = self.i;
        if !matches!(self.peek(), Some(b) if b.is_ascii_alphabetic() || b == b'_') {
            return None;
        }
        while matches!(self.peek(), Some(b) if b.is_ascii_alphanumeric() || b == b'_') {
            self.i += 1;
        }
        Some(&self.text[start..self.i])
    }

    fn value(&mut self, depth: usize) -> Option<Lit<'a>> {
        match self.peek()? {
            b'"' | b'\'' => self.string().map(Lit::Str),
            b'[' if depth < MAX_DEPTH => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_blank()?;
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        return Some(Lit::List(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_blank()?;
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b']') => {}
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// A string literal, plain or triple-quoted, with the escapes listed in
    /// the module's documentation.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let quote = self.peek()?;
        let triple = self.bytes[self.i..].starts_with(&[quote, quote, quote]);
        self.i += if triple { 3 } else { 1 };
        // Borrowed until the first escape.
        let start = self.i;
        let mut owned: Option<String> = None;
        let mut run = start;
        loop {
            let b = self.peek()?;
            match b {
                b'\\' => {
                    let unescaped = match self.bytes.get(self.i + 1)? {
                        b'\\' => '\\',
                        b'"' => '"',
                        b'\'' => '\'',
                        b'n' => '\n',
                        b't' => '\t',
                        _ => return None,
                    };
                    let text = owned.get_or_insert_with(String::new);
                    text.push_str(&self.text[run..self.i]);
                    text.push(unescaped);
                    self.i += 2;
                    run = self.i;
                }
                b'\n' if triple => {
                    self.i += 1;
                    self.line += 1;
                }
                b'\t' => self.i += 1,
                b if b < 0x20 || b == 0x7f => return None,
                b if b == quote => {
                    let closes =
                        !triple || self.bytes[self.i..].starts_with(&[quote, quote, quote]);
                    if !closes {
                        self.i += 1;
                        continue;
                    }
                    let end = self.i;
                    self.i += if triple { 3 } else { 1 };
                    return Some(match owned {
                        Some(mut text) => {
                            text.push_str(&self.text[run..end]);
                            Cow::Owned(text)
                        }
                        None => Cow::Borrowed(&self.text[start..end]),
                    });
                }
                _ => self.i += 1,
            }
        }
    }
}
