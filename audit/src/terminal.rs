//! Showing untrusted text (command lines, log fields) on a terminal without
//! letting it drive the terminal: an argument carrying ESC/CSI/OSC sequences,
//! a carriage return, backspaces or a bidi override could otherwise redraw the
//! line to show another command than the one that runs.

use std::borrow::Cow;
use std::fmt::Write;

/// Whether `c` must not reach a terminal raw: C0 controls, DEL, C1 controls
/// (`char::is_control`), the Unicode bidi embeddings, overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069), the bidi marks (U+200E, U+200F, U+061C)
/// and the line and paragraph separators (U+2028, U+2029).
pub(crate) fn is_unsafe_for_terminal(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200E}'
                | '\u{200F}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every character that could drive a terminal — C0 controls,
/// DEL, C1 controls, bidi embeddings, overrides, isolates and marks, line and
/// paragraph separators — written visibly:
/// `\n`, `\r`, `\t`, `\xNN` for the other ASCII controls (`\x1b` for ESC,
/// `\x08` for backspace, `\x7f` for DEL) and `\u{NNNN}` for the rest (`\u{9b}`
/// for the C1 CSI, `\u{202e}` for RIGHT-TO-LEFT OVERRIDE). Everything else,
/// backslashes included, is left as it is; text without such characters is
/// borrowed, not copied.
///
/// ```
/// use codex_audit::escape_for_terminal;
/// assert_eq!(escape_for_terminal("rm -rf /\r\x1b[2Kls"), "rm -rf /\\r\\x1b[2Kls");
/// assert_eq!(escape_for_terminal("git status"), "git status");
/// ```
pub fn escape_for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_unsafe_for_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() && is_unsafe_for_terminal(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_unsafe_for_terminal(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text (as `serde_json` writes it, pretty or not) with the characters
/// that could drive a terminal and that JSON allows raw inside strings — DEL, the
/// C1 controls, bidi controls, U+2028/U+2029 — written as `\uNNNN` escapes;
/// newlines, carriage returns and tabs are left alone, since they can only be
/// formatting between tokens (`serde_json` escapes them inside strings).
/// The result is the same JSON value, safe to print on a terminal. Such
/// characters can only occur inside strings, where the escape is valid.
///
/// ```
/// use codex_audit::escape_json_for_terminal;
/// assert_eq!(escape_json_for_terminal("\"a\u{202e}b\""), "\"a\\u202eb\"");
/// ```
pub fn escape_json_for_terminal(json: &str) -> Cow<'_, str> {
    // JSON's own whitespace (outside strings: inside, it is always escaped).
    let needs = |c: char| is_unsafe_for_terminal(c) && !matches!(c, '\n' | '\r' | '\t');
    if !json.chars().any(needs) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        // Raw C0 controls other than whitespace cannot appear in valid JSON;
        // escaping them as well keeps this safe for any input.
        if needs(c) {
            let _ = write!(out, "\\u{:04x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_is_visible() {
        let cases = [
            ("a\x1b[2Jb", "a\\x1b[2Jb"),
            ("a\x1b]0;title\x07b", "a\\x1b]0;title\\x07b"),
            ("safe\rrm -rf ~", "safe\\rrm -rf ~"),
            ("ls\x08\x08rm", "ls\\x08\\x08rm"),
            ("x\ny\tz\0", "x\\ny\\tz\\x00"),
            ("del\x7f", "del\\x7f"),
            ("c1\u{9b}31m", "c1\\u{9b}31m"),
            ("\u{85}nel", "\\u{85}nel"),
            ("evil\u{202e}txt.exe", "evil\\u{202e}txt.exe"),
            (
                "\u{2066}\u{2067}\u{2068}\u{2069}",
                "\\u{2066}\\u{2067}\\u{2068}\\u{2069}",
            ),
            (
                "\u{202a}\u{202b}\u{202c}\u{202d}",
                "\\u{202a}\\u{202b}\\u{202c}\\u{202d}",
            ),
            ("mark\u{200f}", "mark\\u{200f}"),
            ("line\u{2028}sep", "line\\u{2028}sep"),
        ];
        for (raw, shown) in cases {
            assert_eq!(escape_for_terminal(raw), shown, "{raw:?}");
            assert!(!escape_for_terminal(raw).chars().any(is_unsafe_for_terminal));
        }
    }

    #[test]
    fn ordinary_text_is_borrowed_unchanged() {
        for text in [
            "git status",
            "grep 'a\\|b' file",
            "café — naïve ✓ 日本語 עברית",
            "",
        ] {
            assert!(matches!(escape_for_terminal(text), Cow::Borrowed(t) if t == text));
        }
    }

    #[test]
    fn json_stays_the_same_value() {
        let value = serde_json::json!({"target": "a\u{9b}b\u{202e}c\u{7f}\u{2028}\x1b"});
        for text in [
            serde_json::to_string(&value).unwrap_or_default(),
            serde_json::to_string_pretty(&value).unwrap_or_default(),
        ] {
            let safe = escape_json_for_terminal(&text);
            assert!(
                !safe.chars().any(|c| is_unsafe_for_terminal(c) && c != '\n'),
                "{safe}"
            );
            let back: serde_json::Value = serde_json::from_str(&safe).unwrap_or_default();
            assert_eq!(back, value);
        }
    }
}
