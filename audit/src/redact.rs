//! Redaction before anything is written. Every pass is idempotent, so a line
//! redacted twice is the line redacted once (property-tested).

use codex_policy_model::secrets;

use crate::event::{AuditEvent, HttpDetails};

/// What replaces a secret.
pub const REDACTED: &str = "[REDACTED]";
/// What replaces a user name.
pub const USER: &str = "[USER]";

/// Names that make a `name=value` parameter secret.
const SECRET_NAMES: &[&str] = &[
    "token",
    "key",
    "secret",
    "signature",
    "sig",
    "password",
    "passwd",
    "pwd",
    "code",
    "auth",
    "credential",
];

/// Redacts events: user names in home paths, credentials in URLs, secret
/// parameters, authorization values, API keys and tokens, and the values of
/// headers named in `redact_headers`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    home: Option<String>,
    headers: Vec<String>,
}

impl Redactor {
    /// A redactor for this process: its `$HOME` and the configured header names.
    pub fn new(redact_headers: &[String]) -> Self {
        Self::with_home(std::env::var("HOME").ok(), redact_headers)
    }

    /// A redactor with an explicit home directory.
    pub fn with_home(home: Option<String>, redact_headers: &[String]) -> Self {
        let mut headers: Vec<String> = redact_headers
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        headers.extend(["authorization".into(), "proxy-authorization".into()]);
        Self {
            home: home.filter(|h| h.len() > 1 && h.starts_with('/')),
            headers,
        }
    }

    /// Redacts every text field of `event` in place.
    pub fn redact_event(&self, event: &mut AuditEvent) {
        event.target = self.redact(&event.target);
        if let Some(reason) = &event.reason {
            event.reason = Some(self.redact(reason));
        }
        if let Some(http) = &mut event.http {
            self.redact_http(http);
        }
    }

    fn redact_http(&self, http: &mut HttpDetails) {
        for (name, value) in &mut http.headers {
            *value = if self.headers.contains(&name.to_ascii_lowercase()) {
                REDACTED.to_owned()
            } else {
                self.redact(value)
            };
        }
        if let Some(body) = &http.body {
            http.body = Some(self.redact(body));
        }
    }

    /// Redacts one string.
    ///
    /// A replacement can split a word and expose a shape that was hidden inside
    /// a longer one (two tokens written back to back), so the passes repeat
    /// until nothing changes: the result is a fixed point, which is what makes
    /// redaction idempotent. Text without secrets takes one pass.
    pub fn redact(&self, text: &str) -> String {
        let mut current = self.redact_once(text);
        // Each pass that changes something replaces secret text with a marker no
        // pass matches, so this ends; the bound only guards against a bug.
        for _ in 0..8 {
            let next = self.redact_once(&current);
            if next == current {
                break;
            }
            current = next;
        }
        current
    }

    fn redact_once(&self, text: &str) -> String {
        type Pass = fn(&str) -> Vec<std::ops::Range<usize>>;
        type Applies = fn(&str) -> bool;
        // Each pass after the first needs a character its shape cannot do
        // without; most text lacks it, and skipping keeps redaction cheap.
        let passes: [(Pass, Applies); 5] = [
            (secrets::secret_spans, |_| true),
            (aws_secret_key_spans, |t| t.len() >= 40),
            (url_userinfo_spans, |t| t.contains("://")),
            (authorization_spans, |t| t.contains(' ') || t.contains('=')),
            (secret_parameter_spans, |t| t.contains('=')),
        ];
        let mut text = text.to_owned();
        for (spans_of, applies) in passes {
            if applies(&text) {
                let spans = spans_of(&text);
                if !spans.is_empty() {
                    text = replace_spans(&text, &spans, REDACTED);
                }
            }
        }
        if text.contains('/') {
            text = self.redact_home(&text);
        }
        text
    }

    fn redact_home(&self, text: &str) -> String {
        let mut out = text.to_owned();
        if let Some(home) = &self.home
            && let Some((parent, _)) = home.rsplit_once('/')
            && out.contains(home.as_str())
        {
            out = replace_path_prefix(&out, home, &format!("{parent}/{USER}"));
        }
        for base in ["/home/", "/Users/"] {
            if out.contains(base) {
                out = redact_component_after(&out, base);
            }
        }
        out
    }
}

/// Replaces `prefix` where it is a whole path prefix (followed by `/`, end, or a
/// non-path character).
fn replace_path_prefix(text: &str, prefix: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(prefix) {
        let after = &rest[i + prefix.len()..];
        let boundary = after
            .chars()
            .next()
            .is_none_or(|c| !(c.is_alphanumeric() || matches!(c, '_' | '-' | '.')));
        out.push_str(&rest[..i]);
        out.push_str(if boundary { with } else { prefix });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// `/home/alice/x` → `/home/[USER]/x`.
fn redact_component_after(text: &str, base: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(base) {
        out.push_str(&rest[..i + base.len()]);
        let after = &rest[i + base.len()..];
        let end = after
            .find(|c: char| c == '/' || c.is_whitespace() || matches!(c, '"' | '\'' | ':' | ','))
            .unwrap_or(after.len());
        if end > 0 {
            out.push_str(USER);
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn replace_spans(text: &str, spans: &[std::ops::Range<usize>], with: &str) -> String {
    if spans.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for span in spans {
        if span.start < last {
            continue;
        }
        out.push_str(&text[last..span.start]);
        out.push_str(with);
        last = span.end;
    }
    out.push_str(&text[last..]);
    out
}

/// A bare AWS secret access key: 40 characters of `[A-Za-z0-9/+]` with upper
/// and lower case letters and a digit or `/`/`+` (a git object id, all lower
/// case hex, does not match; neither does an absolute path).
fn aws_secret_key_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let is_key_char = |b: u8| b.is_ascii_alphanumeric() || b == b'/' || b == b'+';
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !is_key_char(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_key_char(bytes[i]) {
            i += 1;
        }
        // The key may close a path (`/tmp/KEY`): try each start after a `/`.
        let key_start = (start..i).find(|&s| {
            let word = &bytes[s..i];
            (s == start || bytes[s - 1] == b'/')
                && word.len() == 40
                && word[0] != b'/'
                && word.iter().any(u8::is_ascii_uppercase)
                && word.iter().any(u8::is_ascii_lowercase)
                && word
                    .iter()
                    .any(|b| b.is_ascii_digit() || *b == b'/' || *b == b'+')
        });
        if let Some(key_start) = key_start {
            spans.push(key_start..i);
        }
    }
    spans
}

/// `scheme://user:password@host` → `scheme://[REDACTED]@host`.
fn url_userinfo_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("://").map(|i| from + i + 3) {
        let authority_end = text[i..]
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || matches!(c, '"' | '\'')
            })
            .map_or(text.len(), |e| i + e);
        if let Some(at) = text[i..authority_end].rfind('@') {
            spans.push(i..i + at);
        }
        from = authority_end.max(i);
    }
    spans
}

/// The value after `Bearer `/`Basic ` and after an `Authorization:` header.
/// `needle` in `haystack` at or after `from`. For the short needles and lines
/// here a plain window scan beats `str::find`, whose two-way searcher setup
/// dominated redaction time under `perf`.
fn find_from(haystack: &str, needle: &str, from: usize) -> Option<usize> {
    haystack.as_bytes()[from..]
        .windows(needle.len())
        .position(|window| window == needle.as_bytes())
        .map(|i| from + i)
}

fn authorization_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let lower = text.to_ascii_lowercase();
    let mut spans = Vec::new();
    for scheme in ["bearer ", "basic ", "token "] {
        let mut from = 0;
        while let Some(i) = find_from(&lower, scheme, from) {
            let start = i + scheme.len();
            let end = text[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | ','))
                .map_or(text.len(), |e| start + e);
            let word_start = i == 0 || !lower.as_bytes()[i - 1].is_ascii_alphanumeric();
            if word_start
                && end > start
                && (scheme != "token " || lower[..i].ends_with("authorization: "))
            {
                spans.push(start..end);
            }
            from = start;
        }
    }
    for header in ["authorization: ", "authorization="] {
        let mut from = 0;
        while let Some(i) = find_from(&lower, header, from) {
            let start = i + header.len();
            let value = &lower[start..];
            let skip_scheme = ["bearer ", "basic ", "token "]
                .iter()
                .find(|s| value.starts_with(**s))
                .map_or(0, |s| s.len());
            let start = start + skip_scheme;
            let end = text[start..]
                .find(['\n', '"', '\''])
                .map_or(text.len(), |e| start + e);
            if end > start {
                spans.push(start..end);
            }
            from = start;
        }
    }
    spans.sort_by_key(|s| s.start);
    spans
}

/// `name=value` where the name says secret (`?token=…`, `--password=…`,
/// `X-Amz-Signature=…`, `aws_secret_access_key=…`).
fn secret_parameter_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    for (eq, _) in text.match_indices('=') {
        let name_start = text[..eq]
            .char_indices()
            .rev()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            .map_or(0, |(i, c)| i + c.len_utf8());
        let name = text[name_start..eq].to_ascii_lowercase();
        if name.is_empty() || !SECRET_NAMES.iter().any(|s| name.contains(s)) {
            continue;
        }
        let start = eq + 1;
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || matches!(c, '&' | '#' | '"' | '\'' | ',' | ';'))
            .map_or(text.len(), |e| start + e);
        if end > start && &text[start..end] != REDACTED {
            spans.push(start..end);
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule() {
        let r = Redactor::with_home(Some("/srv/alice".into()), &["x-api-key".into()]);
        let cases = [
            ("cat /home/bob/.ssh/id_rsa", "cat /home/[USER]/.ssh/id_rsa"),
            ("ls /Users/carol", "ls /Users/[USER]"),
            ("cd /srv/alice/proj", "cd /srv/[USER]/proj"),
            (
                "curl https://u:p4ss@example.com/x",
                "curl https://[REDACTED]@example.com/x",
            ),
            (
                "GET /x?token=abc123&page=2",
                "GET /x?token=[REDACTED]&page=2",
            ),
            (
                "mysql --password=hunter2 db",
                "mysql --password=[REDACTED] db",
            ),
            (
                "Authorization: Bearer eyJx.y",
                "Authorization: Bearer [REDACTED]",
            ),
            (
                "curl -H 'Authorization: Basic dXNlcjpwYXNz'",
                "curl -H 'Authorization: Basic [REDACTED]'",
            ),
            ("key AKIAIOSFODNN7EXAMPLE", "key [REDACTED]"),
            (
                "aws configure set aws_secret_access_key wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws configure set aws_secret_access_key [REDACTED]",
            ),
            (
                "git show 3f786850e387550fdab836ed7e6dc881de23001b",
                "git show 3f786850e387550fdab836ed7e6dc881de23001b",
            ),
            (
                "export OPENAI=sk-abcdefghijklmnopqrstuvwx",
                "export OPENAI=[REDACTED]",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(r.redact(input), expected, "{input}");
            assert_eq!(r.redact(&r.redact(input)), expected, "idempotent: {input}");
        }
    }
}
