//! Strict TOML with locations: typed parsing whose errors carry file, line,
//! column and key, even for syntax errors where the parser names no key.

use std::ops::Range;

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use super::diagnostic::key_path;
use super::known_keys::{steps, suggestion};
use super::{ConfigError, SourceFile};

/// Parses TOML into `T`; every error carries file, line, column and key, and
/// a hint from `T`'s known keys where a name is a likely typo.
pub(crate) fn parse_toml<T: DeserializeOwned + JsonSchema>(
    source: &SourceFile,
) -> Result<T, ConfigError> {
    let deserializer = toml::Deserializer::parse(source.text()).map_err(|err| {
        let key = err
            .span()
            .and_then(|span| toml_key_at(source.text(), span.start));
        toml_error(source, &err, key, None).syntax()
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let help = steps(err.path())
            .and_then(|path| suggestion::<T>(&path, || toml::from_str(source.text()).ok()));
        toml_error(source, err.inner(), key_path(err.path()), help)
    })
}

fn toml_error(
    source: &SourceFile,
    err: &toml::de::Error,
    key: Option<String>,
    help: Option<String>,
) -> ConfigError {
    let span: Option<Range<usize>> = err.span();
    source.error(span, key, err.message().trim_end().to_owned(), help)
}

/// The dotted key a TOML line defines, for syntax errors where the parser cannot
/// name one: the last `[table]` header before `offset` plus the `key =` on the
/// offending line (or the header itself when the error is on a header line).
fn toml_key_at(text: &str, offset: usize) -> Option<String> {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[offset..].find('\n').map_or(text.len(), |i| offset + i);
    let header = |line: &str| {
        let line = line.trim();
        let inner = line.strip_prefix("[[").or_else(|| line.strip_prefix('['))?;
        let end = inner.find(']')?;
        Some(inner[..end].trim().to_owned())
    };
    let line = &text[line_start..line_end];
    if let Some(table) = header(line) {
        return Some(table);
    }
    let key = line
        .split_once('=')
        .map(|(key, _)| key.trim())
        .filter(|key| !key.is_empty() && !key.starts_with('#'))?;
    let table = text[..line_start].lines().rev().find_map(header);
    Some(match table {
        Some(table) if !table.is_empty() => format!("{table}.{key}"),
        _ => key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_key_is_read_from_the_offending_line() {
        let text = "top = 1\n[sandbox]\nmode = \"x\nother = 2\n[[arr]]\n";
        assert_eq!(toml_key_at(text, 3).as_deref(), Some("top"));
        assert_eq!(toml_key_at(text, 12).as_deref(), Some("sandbox"));
        assert_eq!(toml_key_at(text, 25).as_deref(), Some("sandbox.mode"));
        assert_eq!(toml_key_at(text, text.len() - 2).as_deref(), Some("arr"));
        assert_eq!(toml_key_at("# only = comment", 3), None);
    }
}
