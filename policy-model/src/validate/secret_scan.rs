//! Literal secrets anywhere in a configuration file, found in its raw JSON or
//! TOML (every string, under every key), reported without their values.

use std::path::Path;

use super::findings::{Finding, LITERAL_SECRET};
use super::secrets;
use crate::files::{Location, SourceFile, dotted, locate_json_keys, pointer_segment};

fn secret_finding(
    kind: secrets::SecretKind,
    location: Location,
    key_path: String,
    length: usize,
) -> Finding {
    Finding::new(
        LITERAL_SECRET,
        Some(location),
        Some(key_path),
        format!(
            "looks like {} ({length} characters); the value is not shown",
            kind.describe()
        ),
    )
}

pub(super) fn scan_json_secrets(path: &Path, out: &mut Vec<Finding>) {
    let Ok(source) = SourceFile::read(path) else {
        return;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(source.text()) else {
        return;
    };
    let locator = locate_json_keys(&source).unwrap_or_default();
    let mut stack = vec![(String::new(), String::new(), &value)];
    while let Some((pointer, key_name, value)) = stack.pop() {
        match value {
            serde_json::Value::String(text) => {
                if let Some(kind) = secrets::classify(&key_name, text) {
                    out.push(secret_finding(
                        kind,
                        source.locate(locator.offset(&pointer)),
                        dotted(&pointer),
                        text.len(),
                    ));
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter().rev() {
                    stack.push((format!("{pointer}/{}", pointer_segment(k)), k.clone(), v));
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate().rev() {
                    stack.push((format!("{pointer}/{i}"), key_name.clone(), v));
                }
            }
            _ => {}
        }
    }
}

pub(super) fn scan_toml_secrets(path: &Path, out: &mut Vec<Finding>) {
    use toml::de::{DeTable, DeValue};
    let Ok(source) = SourceFile::read(path) else {
        return;
    };
    // Spanned, so that each finding points at its own value, not at the
    // first place the same text appears.
    let Ok(table) = DeTable::parse(source.text()) else {
        return;
    };
    let mut stack: Vec<(String, String, &toml::Spanned<DeValue<'_>>)> = table
        .get_ref()
        .iter()
        .map(|(k, v)| (k.get_ref().to_string(), k.get_ref().to_string(), v))
        .collect();
    while let Some((path_key, key_name, value)) = stack.pop() {
        match value.get_ref() {
            DeValue::String(text) => {
                if let Some(kind) = secrets::classify(&key_name, text) {
                    out.push(secret_finding(
                        kind,
                        source.locate(value.span().start),
                        path_key,
                        text.len(),
                    ));
                }
            }
            DeValue::Table(t) => {
                stack.extend(t.iter().map(|(k, v)| {
                    (
                        format!("{path_key}.{}", k.get_ref()),
                        k.get_ref().to_string(),
                        v,
                    )
                }));
            }
            DeValue::Array(items) => {
                stack.extend(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (format!("{path_key}[{i}]"), key_name.clone(), v)),
                );
            }
            _ => {}
        }
    }
}
