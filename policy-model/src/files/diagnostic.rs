//! A configuration file's text, read safely, and the errors that point at the
//! exact place in it.
//!
//! Every configuration error a user can see names the file, the 1-based line and
//! column, the key path and, where we know one, how to fix it.

use std::fmt;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::regular_file::OpenError;
use crate::secret_shapes::{mask_secrets, mask_secrets_in_key};

/// Largest configuration file we read. Real files are a few KiB; the cap keeps a
/// hostile or mistaken path (a log file, `/dev/zero`) from exhausting memory.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The text of one configuration file together with where it came from.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SourceFile;
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("config.toml");
/// std::fs::write(&path, "model = \"o4\"\n[sandbox]\nmode = \"read-only\"\n")?;
/// let source = SourceFile::read(&path)?;
/// assert_eq!(source.path(), path);
/// // Byte offsets (from a parser) become line and column for messages.
/// let offset = source.text().find("[sandbox]").ok_or("no table")?;
/// let at = source.locate(offset);
/// assert_eq!((at.line, at.column), (2, 1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct SourceFile {
    path: PathBuf,
    text: String,
}

impl SourceFile {
    /// Reads `path`, refusing files over [`MAX_CONFIG_BYTES`] and text that is not UTF-8.
    ///
    /// The file is opened without blocking and must be a regular file (after
    /// following symlinks): a FIFO would hang the reader, a device could be
    /// endless, and a directory or socket is never a configuration file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`] when `path` cannot be opened or read, [`ConfigError::NotARegularFile`]
    /// when it is not a regular file, [`ConfigError::TooLarge`] when it is larger than
    /// [`MAX_CONFIG_BYTES`], and [`ConfigError::Invalid`] when its text is not UTF-8.
    pub fn read(path: &Path) -> Result<Self, ConfigError> {
        let io_error = |source| ConfigError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = open_regular(path)?;
        let mut bytes = Vec::new();
        file.take(MAX_CONFIG_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(io_error)?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_path_buf(),
                limit: MAX_CONFIG_BYTES,
            });
        }
        Self::from_bytes(path, bytes)
    }

    /// Wraps bytes already in memory (tests, stdin), checking they are UTF-8.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] (kind [`DiagnosticKind::Unreadable`]), located at the first
    /// invalid byte, when `bytes` is not valid UTF-8.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, ConfigError> {
        match String::from_utf8(bytes) {
            Ok(text) => Ok(Self {
                path: path.to_path_buf(),
                text,
            }),
            Err(err) => {
                let valid_up_to = err.utf8_error().valid_up_to();
                let bytes = err.into_bytes();
                // The valid prefix is UTF-8 by definition, so locating inside it is exact.
                let prefix = String::from_utf8_lossy(&bytes[..valid_up_to]).into_owned();
                let (line, column) = line_column(&prefix, valid_up_to);
                Err(ConfigError::Invalid(Box::new(Diagnostic {
                    kind: DiagnosticKind::Unreadable,
                    location: Location {
                        file: path.to_path_buf(),
                        line,
                        column,
                    },
                    key: None,
                    message: "the file is not valid UTF-8".to_owned(),
                    help: Some("save the file as UTF-8".to_owned()),
                    snippet: None,
                })))
            }
        }
    }

    /// The file's path as given.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The location of a byte offset in this file.
    pub fn locate(&self, offset: usize) -> Location {
        let (line, column) = line_column(&self.text, offset);
        Location {
            file: self.path.clone(),
            line,
            column,
        }
    }

    /// Builds an error located at `span` (or at the start of the file when unknown).
    pub fn error(
        &self,
        span: Option<Range<usize>>,
        key: Option<String>,
        message: impl Into<String>,
        help: Option<String>,
    ) -> ConfigError {
        let location = self.locate(span.map_or(0, |s| s.start));
        // The parser quotes the value it refused (`unknown variant `ghp_…``):
        // a secret there is masked as in the snippet, wherever the text goes.
        let message = mask_secrets(&message.into());
        let key = key.as_deref().map(mask_secrets_in_key);
        let help = help.as_deref().map(mask_secrets);
        let kind = if message.starts_with("unknown field") {
            DiagnosticKind::UnknownKey
        } else if message.starts_with("duplicate") {
            DiagnosticKind::DuplicateKey
        } else {
            DiagnosticKind::InvalidValue
        };
        // A value under a key named like a secret (`DB_PASSWORD`) is masked
        // even at the caret, whatever it looks like.
        let secret_key = key
            .as_deref()
            .is_some_and(|k| k.split('.').any(crate::validate::secrets::key_names_secret));
        let snippet = source_snippet(&self.text, location.line, location.column, secret_key);
        ConfigError::Invalid(Box::new(Diagnostic {
            kind,
            location,
            key,
            message,
            help,
            snippet,
        }))
    }
}

/// Opens `path` for reading as a regular file, never blocking on the open: the
/// file is opened with `O_NONBLOCK` (a FIFO without a writer would otherwise
/// hang here), checked with `fstat`, and then switched back to blocking reads.
/// Anything that is not a regular file (after symlinks) is
/// [`ConfigError::NotARegularFile`].
///
/// # Errors
///
/// [`ConfigError::NotARegularFile`] when `path` is a directory, FIFO, socket or device;
/// [`ConfigError::Io`] when it cannot be opened or inspected (missing, no permission).
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// use codex_policy_model::{ConfigError, open_regular};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("requirements.toml");
/// std::fs::write(&path, "allow_elevation = false\n")?;
/// let mut text = String::new();
/// open_regular(&path)?.read_to_string(&mut text)?;
/// assert_eq!(text, "allow_elevation = false\n");
///
/// // A directory (like a FIFO or a device) is never a configuration file.
/// let err = open_regular(dir.path()).unwrap_err();
/// assert!(matches!(err, ConfigError::NotARegularFile { kind: "a directory", .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_regular(path: &Path) -> Result<std::fs::File, ConfigError> {
    crate::regular_file::open(path).map_err(|err| match err {
        OpenError::Io(source) => ConfigError::Io {
            path: path.to_path_buf(),
            source,
        },
        OpenError::NotARegularFile(kind) => ConfigError::NotARegularFile {
            path: path.to_path_buf(),
            kind,
        },
    })
}

/// Dotted key path of a deserialization error (`sandbox.mode`, `a.b[2]`),
/// without `toml::Spanned`'s internal wrapper segment.
pub(crate) fn key_path(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Map { key } if key.starts_with("$__") => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Unknown => {}
        }
    }
    // Hostile nesting makes paths of hundreds of segments; the start locates it.
    if out.len() > MAX_KEY_PATH {
        let mut cut = MAX_KEY_PATH;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push('…');
    }
    (!out.is_empty()).then_some(out)
}

/// Longest key path shown in a diagnostic.
const MAX_KEY_PATH: usize = 120;

/// 1-based line and column (in characters) of a byte offset; offsets past the end
/// or inside a character are clamped to the nearest preceding character boundary.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

/// Characters of a line a snippet shows at most, around the column.
const SNIPPET_WIDTH: usize = 100;

/// Line `line` of `text` with a caret under `column` (both 1-based), as
/// rustc shows a source line; `None` past the end of the text.
///
/// A configuration line may hold a secret beside the typo being reported
/// (`tokne = "ghp_…"`), and snippets go to terminals and CI logs: every
/// quoted string the caret is not on is shown as `"…"`, and the one it is on
/// too when it looks like a secret or `secret_at_caret` says its key names
/// one, as is a bare word that looks like one
/// (a token pasted as a key). Keys stay readable (a quoted string
/// followed by `:` is a JSON key). A long line is cut to a window around
/// the column.
pub(crate) fn source_snippet(
    text: &str,
    line: usize,
    column: usize,
    secret_at_caret: bool,
) -> Option<String> {
    use annotate_snippets::display_list::{DisplayList, FormatOptions};
    use annotate_snippets::snippet::{AnnotationType, Slice, Snippet, SourceAnnotation};

    let source = text.lines().nth(line.checked_sub(1)?)?;
    let chars: Vec<char> = source.chars().collect();
    let caret = column.saturating_sub(1).min(chars.len());
    let (masked, caret) = mask_strings(&chars, caret, secret_at_caret);
    let start = caret.saturating_sub(SNIPPET_WIDTH / 2);
    let end = (start + SNIPPET_WIDTH).min(masked.len());
    // Control characters (tabs included) as spaces: one column each, so
    // the caret stays under its character, and nothing reaches a terminal
    // that it would obey.
    let mut shown: String = masked[start..end]
        .iter()
        .map(|&c| if c.is_control() { ' ' } else { c })
        .collect();
    let at = caret - start;
    // A caret past the last character (an empty line, an unexpected end)
    // points at the space after it: the renderer wants a character there.
    if at >= end - start {
        shown.push(' ');
    }
    // The token under the caret: a quoted string, a key, a number, a word,
    // or one character.
    let width = match masked.get(caret) {
        Some(&quote @ ('"' | '\'')) => masked[caret + 1..end]
            .iter()
            .position(|&c| c == quote)
            .map_or(1, |close| close + 2),
        _ => masked[caret..end]
            .iter()
            .take_while(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
            .count()
            .max(1),
    };
    let shown_chars = shown.chars().count();
    let snippet = Snippet {
        title: None,
        footer: Vec::new(),
        slices: vec![Slice {
            source: &shown,
            line_start: line,
            origin: None,
            fold: false,
            annotations: vec![SourceAnnotation {
                label: "",
                annotation_type: AnnotationType::Error,
                range: (
                    at.min(shown_chars),
                    (at + width).min(shown_chars.max(at + 1)),
                ),
            }],
        }],
        opt: FormatOptions::default(),
    };
    let rendered = DisplayList::from(snippet).to_string();
    Some(rendered.trim_end().to_owned())
}

/// `chars` with quoted strings masked as [`source_snippet`] says, and where
/// the caret at `caret` lands in the result.
fn mask_strings(chars: &[char], caret: usize, secret_at_caret: bool) -> (Vec<char>, usize) {
    let mut out = Vec::with_capacity(chars.len());
    let mut new_caret = None;
    let mut i = 0;
    while i < chars.len() {
        if i == caret {
            new_caret = Some(out.len());
        }
        let quote = chars[i];
        let word_char = |c: &char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        // A bare word (a TOML key) that looks like a secret is masked too.
        if word_char(&quote) {
            let end = i + chars[i..].iter().take_while(|c| word_char(c)).count();
            let word: String = chars[i..end].iter().collect();
            if crate::secret_shapes::find_secret(&word).is_some() {
                if (i..end).contains(&caret) && new_caret.is_none() {
                    new_caret = Some(out.len());
                }
                out.push('…');
            } else {
                if (i..end).contains(&caret) && new_caret.is_none() {
                    new_caret = Some(out.len() + (caret - i));
                }
                out.extend_from_slice(&chars[i..end]);
            }
            i = end;
            continue;
        }
        if quote != '"' && quote != '\'' {
            out.push(quote);
            i += 1;
            continue;
        }
        // The closing quote (a backslash escapes the next character in "…").
        let mut j = i + 1;
        while j < chars.len() && chars[j] != quote {
            j += if quote == '"' && chars[j] == '\\' {
                2
            } else {
                1
            };
        }
        let close = j.min(chars.len());
        let inner: String = chars[i + 1..close].iter().collect();
        let is_key = chars[(close + 1).min(chars.len())..]
            .iter()
            .find(|c| !c.is_whitespace())
            == Some(&':');
        let on_caret = (i..=close).contains(&caret);
        let secret =
            // `secret_at_caret` is about the refused value, never a key.
            crate::secret_shapes::find_secret(&inner).is_some()
                || (on_caret && secret_at_caret && !is_key);
        if inner.is_empty() || (is_key && !secret) || (on_caret && !secret) {
            if on_caret && new_caret.is_none() {
                new_caret = Some(out.len() + (caret - i));
            }
            out.extend_from_slice(&chars[i..(close + 1).min(chars.len())]);
        } else {
            if on_caret && new_caret.is_none() {
                new_caret = Some(out.len());
            }
            out.extend([quote, '…', quote]);
        }
        i = close + 1;
    }
    let caret = new_caret.unwrap_or(out.len());
    (out, caret)
}

/// A position in a file: 1-based line and column.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, SourceFile};
///
/// let text = b"model = \"o4\"\nsandbox_mode = \"read-write\"\n".to_vec();
/// let err = CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), text)?)
///     .unwrap_err();
/// let location = &err.diagnostic().ok_or("not located")?.location;
/// assert_eq!((location.line, location.column), (2, 16));
/// assert_eq!(location.file, Path::new("config.toml"));
/// assert_eq!(location.to_string(), "config.toml:2:16");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// What kind of problem a [`Diagnostic`] is.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, ConfigError, DiagnosticKind, SourceFile};
///
/// let kind_of = |text: &[u8]| -> Result<(), DiagnosticKind> {
///     let parsed = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())
///         .and_then(|source| CodexConfig::parse(&source));
///     parsed.map(drop).map_err(|err: ConfigError| err.kind())
/// };
/// assert_eq!(kind_of(b"[sandbox]\nmode = \"read-only\"\n"), Ok(()));
/// assert_eq!(kind_of(b"[sandbox\n"), Err(DiagnosticKind::Syntax));
/// assert_eq!(kind_of(b"[sandbox]\nmdoe = \"read-only\"\n"), Err(DiagnosticKind::UnknownKey));
/// let wrong_type = b"[sandbox]\nnetwork_access = \"yes\"\n";
/// assert_eq!(kind_of(wrong_type), Err(DiagnosticKind::InvalidValue));
/// assert_eq!(kind_of(b"model = \"\xff\"\n"), Err(DiagnosticKind::Unreadable));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DiagnosticKind {
    /// The bytes are not text we can read (not UTF-8).
    Unreadable,
    /// Not well-formed JSON or TOML.
    Syntax,
    /// A key the format does not have.
    UnknownKey,
    /// A key written twice.
    DuplicateKey,
    /// A value of the wrong type, out of range, or not allowed.
    InvalidValue,
}

/// One located problem in a configuration file.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, DiagnosticKind, SourceFile};
///
/// let text = b"[sandbox]\nnetwork_acess = true\n".to_vec();
/// let err = CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), text)?)
///     .unwrap_err();
/// let diagnostic = err.diagnostic().ok_or("not about the content")?;
/// assert_eq!(diagnostic.kind, DiagnosticKind::UnknownKey);
/// assert_eq!((diagnostic.location.line, diagnostic.location.column), (2, 1));
/// assert_eq!(diagnostic.key.as_deref(), Some("sandbox.network_acess"));
/// assert_eq!(diagnostic.help.as_deref(), Some("did you mean `network_access`?"));
/// // Displayed as `file:line:column: key `…`: message`, the line, and the help.
/// assert!(diagnostic.to_string().starts_with("config.toml:2:1: key `sandbox.network_acess`: "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// What kind of problem.
    pub kind: DiagnosticKind,
    /// Where the problem is.
    pub location: Location,
    /// Dotted key path (`sandbox.mode`), when the problem belongs to a key.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
    /// The offending line with a caret under the column, rustc-style, its
    /// quoted values masked (every quoted value but the one under the
    /// caret, and that one too when it looks like a secret).
    pub snippet: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if let Some(key) = &self.key {
            write!(f, "key `{key}`: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// Why a configuration file could not be used.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, ConfigError, DiagnosticKind, SourceFile};
///
/// // A file that cannot be read at all.
/// let dir = tempfile::tempdir()?;
/// let err = CodexConfig::load(&dir.path().join("missing.toml")).unwrap_err();
/// assert!(matches!(err, ConfigError::Io { .. }));
/// assert_eq!(err.kind(), DiagnosticKind::Unreadable);
///
/// // A file read, but with a value its key does not take: located.
/// let text = b"[sandbox]\nmode = \"everything\"\n".to_vec();
/// let err = CodexConfig::parse(&SourceFile::from_bytes(Path::new("config.toml"), text)?)
///     .unwrap_err();
/// assert!(matches!(err, ConfigError::Invalid(_)));
/// assert_eq!(err.diagnostic().and_then(|d| d.key.as_deref()), Some("sandbox.mode"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be opened or read.
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error(
        "{}: file is larger than {limit} bytes; refusing to read it (configuration \
         files are read up to {limit} bytes)",
        path.display()
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The path names something other than a regular file (after symlinks).
    #[error(
        "{}: is {kind}, not a regular file; configuration files must be regular \
         files (at most {MAX_CONFIG_BYTES} bytes)",
        path.display()
    )]
    NotARegularFile {
        /// The path as given.
        path: PathBuf,
        /// `a FIFO (named pipe)`, `a directory`, `a character device`, …
        kind: &'static str,
    },
    /// The file was read but its content is wrong.
    #[error("{0}")]
    Invalid(Box<Diagnostic>),
}

impl ConfigError {
    /// Marks a content error as a syntax error (the parser could not read it).
    pub(crate) fn syntax(mut self) -> Self {
        if let Self::Invalid(d) = &mut self
            && d.kind == DiagnosticKind::InvalidValue
        {
            d.kind = DiagnosticKind::Syntax;
        }
        self
    }

    /// The kind of problem; files that could not be read are `Unreadable`.
    pub fn kind(&self) -> DiagnosticKind {
        match self {
            Self::Invalid(d) => d.kind,
            _ => DiagnosticKind::Unreadable,
        }
    }

    /// The located diagnostic, for errors about the content of a file.
    pub fn diagnostic(&self) -> Option<&Diagnostic> {
        match self {
            Self::Invalid(d) => Some(d),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based_and_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // 'é' is two bytes; the column after it is 3.
        assert_eq!(line_column(text, 9), (2, 3));
        // An offset inside a character is clamped back to its start.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 10_000), (3, 1));
    }

    #[test]
    fn invalid_utf8_is_located() {
        let err = SourceFile::from_bytes(Path::new("c.toml"), b"a = 1\nb = \"\xff\"\n".to_vec())
            .unwrap_err();
        let d = err.diagnostic().unwrap();
        assert_eq!((d.location.line, d.location.column), (2, 6));
        assert!(err.to_string().contains("not valid UTF-8"));
    }

    proptest::proptest! {
        /// Whatever the file and wherever the error, a snippet is made or
        /// not, and never panics (the renderer asserts its ranges).
        #[test]
        fn a_snippet_never_panics(
            text in "(\\PC|\\p{M}|\n|\t|\r|\"|')*",
            line in 0usize..6,
            column in 0usize..160,
        ) {
            let _ = super::source_snippet(&text, line, column, false);
        }

        /// On a printable line, the caret is always drawn.
        #[test]
        fn a_printable_line_always_gets_its_caret(
            text in "[ -~\t\n]*",
            line in 1usize..4,
            column in 0usize..120,
        ) {
            if let Some(snippet) = super::source_snippet(&text, line, column, false) {
                proptest::prop_assert!(snippet.contains('^'), "{}", snippet);
            }
        }
    }

    #[test]
    fn a_snippet_masks_values_but_not_keys_or_the_value_at_the_caret() {
        let line =
            r#"{"tokne": "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB", "mode": "loud", "x": "y"}"#;
        // At the key: every value masked, keys kept.
        let at_key = super::source_snippet(line, 1, 3, false).unwrap();
        assert!(
            at_key.contains(r#"{"tokne": "…", "mode": "…", "x": "…"}"#),
            "{at_key}"
        );
        // At a value: that one shown, unless it is a secret.
        let at_value = super::source_snippet(line, 1, line.find("loud").unwrap(), false).unwrap();
        assert!(at_value.contains(r#""mode": "loud""#), "{at_value}");
        let at_secret = super::source_snippet(line, 1, 12, false).unwrap();
        assert!(!at_secret.contains("ghp_"), "{at_secret}");
        // At a value whose key names a secret: masked whatever it looks like.
        let named = super::source_snippet(line, 1, line.find("loud").unwrap(), true).unwrap();
        assert!(named.contains(r#""mode": "…""#), "{named}");
        // Past the end: no line, no snippet.
        assert!(super::source_snippet(line, 2, 1, false).is_none());
    }
}
