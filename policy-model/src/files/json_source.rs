//! Strict JSON with locations: typed parsing whose errors carry file, line,
//! column and key; the position of every key for later findings; and duplicate
//! keys refused everywhere (serde keeps the last one silently inside maps).

use rustc_hash::FxHashMap;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::diagnostic::key_path;
use super::known_keys::{Step, steps, suggestion};
use super::{ConfigError, SourceFile};

/// Byte offsets of the keys (and array elements) of a JSON document, by JSON
/// pointer (`/environment_context/outbound_policy/dns_allow/2`).
#[derive(Debug, Clone, Default)]
pub(crate) struct JsonLocator {
    offsets: FxHashMap<String, usize>,
}

impl JsonLocator {
    /// The offset of `pointer`, or of its nearest present ancestor, or 0.
    pub(crate) fn offset(&self, pointer: &str) -> usize {
        let mut pointer = pointer;
        loop {
            if let Some(offset) = self.offsets.get(pointer) {
                return *offset;
            }
            match pointer.rfind('/') {
                Some(slash) => pointer = &pointer[..slash],
                None => return 0,
            }
        }
    }

    /// Whether `pointer` is present in the document.
    pub(crate) fn contains(&self, pointer: &str) -> bool {
        self.offsets.contains_key(pointer)
    }
}

/// Parses `source` as `T`, then records key positions and refuses duplicates.
/// An error carries a hint from `T`'s known keys where a name is a likely typo.
pub(crate) fn parse_json<T: DeserializeOwned + JsonSchema>(
    source: &SourceFile,
) -> Result<(T, JsonLocator), ConfigError> {
    let mut deserializer = serde_json::Deserializer::from_str(source.text());
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let key = key_path(err.path());
        let path = steps(err.path());
        let help = path
            .as_ref()
            .and_then(|path| suggestion::<T>(path, || serde_json::from_str(source.text()).ok()));
        let inner = err.into_inner();
        // serde_json stops after the token it refused (the `:` after a key,
        // the closing quote of a value): point at the start of the unknown
        // key or of the refused value instead, as TOML errors do, when the
        // document is well formed enough to locate it.
        let message = strip_position(&inner.to_string());
        let located = match (inner.classify(), &path) {
            (serde_json::error::Category::Data, Some(path)) => {
                // An array element's offset is its value already.
                let at_member_value = matches!(path.last(), Some(Step::Key(_)))
                    && !message.starts_with("unknown field");
                key_offset(source, path).map(|at| {
                    if at_member_value {
                        value_offset(source.text(), at)
                    } else {
                        at
                    }
                })
            }
            _ => None,
        };
        let offset =
            located.unwrap_or_else(|| offset_of(source.text(), inner.line(), inner.column()));
        let error = source.error(Some(offset..offset), key, message, help);
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                error.syntax()
            }
            _ => error,
        }
    })?;
    deserializer.end().map_err(|err| {
        let offset = offset_of(source.text(), err.line(), err.column());
        source
            .error(
                Some(offset..offset),
                None,
                strip_position(&err.to_string()),
                None,
            )
            .syntax()
    })?;
    let locator = locate(source)?;
    Ok((value, locator))
}

/// serde_json appends " at line L column C"; the diagnostic carries both already.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Where the key at `path` starts, if the text is valid JSON.
fn key_offset(source: &SourceFile, path: &[Step]) -> Option<usize> {
    serde_json::from_str::<serde::de::IgnoredAny>(source.text()).ok()?;
    let pointer: String = path
        .iter()
        .map(|step| match step {
            Step::Key(key) => format!("/{}", pointer_segment(key)),
            Step::Index(index) => format!("/{index}"),
        })
        .collect();
    let locator = locate(source).ok()?;
    locator.contains(&pointer).then(|| locator.offset(&pointer))
}

/// Where the value of the member at `at` starts: past its key (`at` is the
/// key's opening quote; an array element is its own value), the `:` and
/// the blanks around it.
fn value_offset(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    if bytes.get(at) != Some(&b'"') {
        return at;
    }
    let mut i = at + 1;
    while i < bytes.len() && bytes[i] != b'"' {
        i += if bytes[i] == b'\\' { 2 } else { 1 };
    }
    i += 1;
    while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b':') {
        i += 1;
    }
    if i < bytes.len() { i } else { at }
}

/// Byte offset of serde_json's 1-based line and column (a column counts bytes).
fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>();
    (line_start + column.saturating_sub(1)).min(text.len())
}

enum Frame {
    Object {
        pointer: String,
        keys: Vec<String>,
        expect_key: bool,
    },
    Array {
        pointer: String,
        index: usize,
    },
}

/// Walks a document serde_json has already accepted (so it is well formed and
/// at most 128 levels deep) and records where each key and element starts.
pub(crate) fn locate(source: &SourceFile) -> Result<JsonLocator, ConfigError> {
    let text = source.text();
    let bytes = text.as_bytes();
    let mut locator = JsonLocator::default();
    let mut stack: Vec<Frame> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' | b'[' => {
                let pointer = element_pointer(&mut stack, &mut locator, i);
                stack.push(if bytes[i] == b'{' {
                    Frame::Object {
                        pointer,
                        keys: Vec::new(),
                        expect_key: true,
                    }
                } else {
                    Frame::Array { pointer, index: 0 }
                });
                i += 1;
            }
            b'}' | b']' => {
                stack.pop();
                i += 1;
            }
            b',' => {
                match stack.last_mut() {
                    Some(Frame::Object { expect_key, .. }) => *expect_key = true,
                    Some(Frame::Array { index, .. }) => *index += 1,
                    None => {}
                }
                i += 1;
            }
            b'"' => {
                let end = string_end(bytes, i);
                if let Some(Frame::Object {
                    pointer,
                    keys,
                    expect_key,
                }) = stack.last_mut()
                    && *expect_key
                {
                    let key: String = serde_json::from_str(&text[i..end]).unwrap_or_default();
                    if keys.contains(&key) {
                        return Err(source.error(
                            Some(i..end),
                            Some(dotted(&format!("{pointer}/{}", pointer_segment(&key)))),
                            format!("duplicate key {key:?}"),
                            Some("keep one of the entries".to_owned()),
                        ));
                    }
                    locator
                        .offsets
                        .insert(format!("{pointer}/{}", pointer_segment(&key)), i);
                    keys.push(key);
                    *expect_key = false;
                } else {
                    element_pointer(&mut stack, &mut locator, i);
                }
                i = end;
            }
            b if b.is_ascii_whitespace() || b == b':' => i += 1,
            _ => {
                // A scalar: record array elements; skip to the next delimiter.
                element_pointer(&mut stack, &mut locator, i);
                while i < bytes.len()
                    && !matches!(bytes[i], b',' | b'}' | b']')
                    && !bytes[i].is_ascii_whitespace()
                {
                    i += 1;
                }
            }
        }
    }
    Ok(locator)
}

/// The pointer of a value starting at `offset`; array elements are recorded.
fn element_pointer(stack: &mut [Frame], locator: &mut JsonLocator, offset: usize) -> String {
    match stack.last() {
        Some(Frame::Array { pointer, index }) => {
            let p = format!("{pointer}/{index}");
            locator.offsets.insert(p.clone(), offset);
            p
        }
        Some(Frame::Object { pointer, keys, .. }) => {
            format!(
                "{pointer}/{}",
                keys.last().map(|k| pointer_segment(k)).unwrap_or_default()
            )
        }
        None => String::new(),
    }
}

/// The index just past the closing quote of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// RFC 6901 escaping of one pointer segment.
pub(crate) fn pointer_segment(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// `/a/b/0` as the dotted key path used in diagnostics: `a.b[0]`.
pub(crate) fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if segment.parse::<usize>().is_ok() && !out.is_empty() {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn src(text: &str) -> SourceFile {
        SourceFile::from_bytes(Path::new("f.json"), text.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn keys_and_elements_are_located() {
        let s = src("{\n  \"a\": {\"b\": [1, \"x\", {\"c\": true}]},\n  \"d/e\": null\n}");
        let loc = locate(&s).unwrap();
        assert_eq!(s.locate(loc.offset("/a")).line, 2);
        assert_eq!(s.locate(loc.offset("/a/b/1")).column, 18);
        assert!(loc.contains("/a/b/2/c"));
        assert!(loc.contains("/d~1e"));
        assert_eq!(loc.offset("/a/missing"), loc.offset("/a"));
        assert_eq!(dotted("/a/b/2/c"), "a.b[2].c");
    }

    #[test]
    fn duplicate_keys_are_refused_even_in_maps() {
        let s = src("{\"m\": {\"k\": 1,\n \"k\": 2}}");
        let err = locate(&s).unwrap_err();
        let d = err.diagnostic().unwrap();
        assert_eq!((d.location.line, d.location.column), (2, 2));
        assert_eq!(d.key.as_deref(), Some("m.k"));
    }
}
