//! The JSON Schema of a configuration type, as published.

use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use serde_json::Value;

/// The JSON Schema of `T` for editors and validators, generated from the
/// type itself: its keys, types and closed sets, with each item's rustdoc
/// as its `description`, cut before the first code block or section heading
/// (`# Examples`): those are Rust for embedders, not help for a file's author.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{CodexRc, json_schema};
///
/// let schema = serde_json::to_value(json_schema::<CodexRc>())?;
/// assert_eq!(schema["title"], "CodexRc");
/// assert!(schema["properties"]["environment_context"].is_object());
/// // No description carries a Rust example.
/// assert!(!schema.to_string().contains("```"));
/// # Ok::<(), serde_json::Error>(())
/// ```
pub fn json_schema<T: schemars::JsonSchema>() -> schemars::Schema {
    SchemaSettings::default()
        .with_transform(RecursiveTransform(cut_rust_sections))
        .into_generator()
        .into_root_schema_for::<T>()
}

fn cut_rust_sections(schema: &mut schemars::Schema) {
    if let Some(Value::String(description)) = schema.get_mut("description") {
        let rust = ["\n# ", "\n```"]
            .iter()
            .filter_map(|marker| description.find(marker))
            .min();
        if let Some(start) = rust {
            description.truncate(start);
        }
        let kept = description.trim_end().len();
        description.truncate(kept);
    }
}
