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
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, Operation, Redactor};
///
/// let redactor = Redactor::with_home(Some("/home/alice".to_owned()), &[]);
/// assert_eq!(redactor.redact("cat /home/alice/notes.txt"), "cat /home/[USER]/notes.txt");
/// assert_eq!(redactor.redact("mysql -uroot -psecret db"), "mysql -uroot -p[REDACTED] db");
///
/// let mut event = AuditEvent::now("s1", Operation::CommandExec,
///     "deploy --password=hunter2", AuditDecision::Denied, "execpolicy");
/// redactor.redact_event(&mut event);
/// assert_eq!(event.target, "deploy --password=[REDACTED]");
/// ```
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
            // The configured names, and every name that says it holds a
            // secret (`Cookie`, `X-Api-Key`, `X-Auth`, `*-Token`): the same
            // names a header dump in a command line is redacted by.
            *value = if self.headers.contains(&name.to_ascii_lowercase())
                || names_secret(name)
                || name.eq_ignore_ascii_case("cookie")
                || name.eq_ignore_ascii_case("set-cookie")
            {
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
        let passes: [(Pass, Applies); 10] = [
            (secrets::secret_spans, |_| true),
            (token_shape_spans, might_hold_token_shape),
            (aws_secret_key_spans, |t| t.len() >= 40),
            (url_userinfo_spans, |t| t.contains("://")),
            (webhook_spans, |t| {
                t.contains("/services/") || t.contains("/webhooks/")
            }),
            (authorization_spans, |t| t.contains(' ') || t.contains('=')),
            (key_value_spans, |t| t.contains(':')),
            (secret_parameter_spans, |t| t.contains('=')),
            (flag_value_spans, |t| t.contains(" -")),
            (program_credential_spans, |t| t.contains(" -")),
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
    for header in ["authorization:", "authorization="] {
        let mut from = 0;
        while let Some(i) = find_from(&lower, header, from) {
            let spaces = lower[i + header.len()..].len()
                - lower[i + header.len()..]
                    .trim_start_matches([' ', '\t'])
                    .len();
            let start = i + header.len() + spaces;
            let value = &lower[start..];
            let skip_scheme = ["bearer ", "basic ", "token "]
                .iter()
                .find(|s| value.starts_with(**s))
                .map_or(0, |s| s.len());
            let start = start + skip_scheme;
            // To the end of the line or quote where the header starts one;
            // one word inside a command line (see `key_value_spans`).
            let starts_text = i == 0 || matches!(lower.as_bytes()[i - 1], b'\n' | b'"' | b'\'');
            let end = if starts_text {
                text[start..].find(['\n', '"', '\''])
            } else {
                text[start..].find(|c: char| c.is_whitespace() || matches!(c, '"' | '\''))
            }
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
        // A secret name anywhere in it, or a last word that says secret
        // (`DB_PASS`, `GPG_PASSPHRASE`, `COOKIE`, `--creds`).
        let trimmed = name.trim_start_matches('-');
        if name.is_empty()
            || !(SECRET_NAMES.iter().any(|s| name.contains(s)) || names_secret(trimmed))
        {
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

/// The last two words of a flag, key or header name, split at `-`, `_`, `.`
/// and lower-to-upper case changes (`X-Api-Key`, `client_secret`,
/// `accessToken`): `(last, before it)`. No allocation.
fn last_words(name: &str) -> (&str, &str) {
    let is_sep = |b: u8| matches!(b, b'-' | b'_' | b'.');
    let bytes = name.as_bytes();
    let mut end = bytes.len();
    while end > 0 && is_sep(bytes[end - 1]) {
        end -= 1;
    }
    let start_of = |end: usize| {
        let mut i = end;
        while i > 0 {
            let prev = bytes[i - 1];
            // `accessToken`: a capital after a lower-case letter or digit starts a word.
            let camel = i < end
                && bytes[i].is_ascii_uppercase()
                && (prev.is_ascii_lowercase() || prev.is_ascii_digit());
            if is_sep(prev) || camel {
                break;
            }
            i -= 1;
        }
        i
    };
    let last_start = start_of(end);
    let mut before_end = last_start;
    while before_end > 0 && is_sep(bytes[before_end - 1]) {
        before_end -= 1;
    }
    let before_start = start_of(before_end);
    (&name[last_start..end], &name[before_start..before_end])
}

/// Whether a flag, key or header name says its value is secret, judged by its
/// last word: `--password`, `--db-passwd`, `--client-secret`, `--access-token`,
/// `--api-key`/`api_key`/`apiKey`, `--auth`, `--credentials`, `Cookie`,
/// `X-Api-Key`, `Private-Token`. So `--password-stdin`, `--token-file`,
/// `token_type`, `--max-tokens` and `--author` are not: their values are not
/// the secret.
fn names_secret(name: &str) -> bool {
    const LAST: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "pass",
        "secret",
        "token",
        "auth",
        "credential",
        "credentials",
        "creds",
        "cookie",
        "apikey",
    ];
    const BEFORE_KEY: &[&str] = &[
        "api",
        "access",
        "private",
        "secret",
        "signing",
        "client",
        "master",
        "encryption",
        "license",
        "account",
        "storage",
        "subscription",
        "app",
        "service",
        "auth",
    ];
    let (last, before) = last_words(name);
    LAST.iter().any(|w| last.eq_ignore_ascii_case(w))
        || (last.eq_ignore_ascii_case("key")
            && BEFORE_KEY.iter().any(|w| before.eq_ignore_ascii_case(w)))
}

/// The end of the shell word starting at `start` (quotes and backslashes as
/// the shell reads them; an unclosed quote runs to the end).
fn shell_word_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = start;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(b'"') if b == b'\\' => i += 1,
            Some(_) => {}
            None if b.is_ascii_whitespace() => break,
            None if b == b'\'' || b == b'"' => quote = Some(b),
            None if b == b'\\' => i += 1,
            None => {}
        }
        i += 1;
    }
    i.min(bytes.len())
}

/// Each whitespace-separated word: `(start, end)`.
fn words(text: &str) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= bytes.len() {
            return None;
        }
        let start = i;
        i = shell_word_end(text, start);
        Some((start, i))
    })
}

/// The word after the one ending at `end`, unless it is another flag.
fn value_after(text: &str, end: usize) -> Option<std::ops::Range<usize>> {
    let rest = &text[end..];
    let start = end + (rest.len() - rest.trim_start().len());
    if start >= text.len() || text[start..].starts_with('-') {
        return None;
    }
    let value = start..shell_word_end(text, start);
    (&text[value.clone()] != REDACTED).then_some(value)
}

/// `--password VALUE`, `--token VALUE`, `-password VALUE`, `--api-key VALUE`,
/// … (the value as its own word: `--name=value` is [`secret_parameter_spans`]).
fn flag_value_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    for (start, end) in words(text) {
        let word = &text[start..end];
        let name = word.trim_start_matches('-');
        let dashes = word.len() - name.len();
        let plain = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !(1..=2).contains(&dashes)
            || !plain
            || !name.starts_with(|c: char| c.is_ascii_alphabetic())
            || name.len() < 3
            || name.to_ascii_lowercase().starts_with("no-")
            || !names_secret(name)
        {
            continue;
        }
        spans.extend(value_after(text, end));
    }
    sorted(spans)
}

/// The program names of a command line's words (`/usr/bin/curl` → `curl`).
fn programs(text: &str) -> impl Iterator<Item = &str> {
    words(text).map(move |(s, e)| {
        let word = text[s..e].trim_matches(|c| c == '\'' || c == '"');
        word.rsplit('/').next().unwrap_or(word)
    })
}

/// Credentials only some programs take: `mysql -pSECRET` (and the other
/// MySQL/MariaDB clients), `sshpass -p SECRET`/`-pSECRET`, and curl's
/// `-u user:SECRET`, `--user user:SECRET`, `-U`/`--proxy-user` (glued or not).
/// Elsewhere `-p` and `-u` mean other things (`mkdir -p`, `sort -u`).
fn program_credential_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let (mut mysql, mut sshpass, mut curl) = (false, false, false);
    for program in programs(text) {
        mysql |= program.starts_with("mysql") || program.starts_with("mariadb");
        sshpass |= program == "sshpass";
        curl |= program == "curl";
    }
    if !(mysql || sshpass || curl) {
        return Vec::new();
    }
    let mut spans = Vec::new();
    let mut after_curl_user = false;
    for (start, end) in words(text) {
        let word = &text[start..end];
        if after_curl_user {
            after_curl_user = false;
            if !word.starts_with('-') {
                spans.extend(password_after_colon(text, start..end));
                continue;
            }
        }
        if (mysql || sshpass)
            && let Some(rest) = word.strip_prefix("-p")
            && !rest.is_empty()
            && !rest.starts_with('-')
            && rest != REDACTED
        {
            spans.push(start + 2..end);
        }
        if sshpass && word == "-p" {
            spans.extend(value_after(text, end));
        }
        if curl {
            if matches!(word, "-u" | "-U" | "--user" | "--proxy-user") {
                after_curl_user = true;
            } else if let Some(prefix) = ["--user=", "--proxy-user=", "-u", "-U"]
                .iter()
                .find(|p| word.starts_with(**p) && word.len() > p.len())
            {
                spans.extend(password_after_colon(text, start + prefix.len()..end));
            }
        }
    }
    sorted(spans)
}

/// In a `user:password` word (maybe quoted), the password.
fn password_after_colon(
    text: &str,
    word: std::ops::Range<usize>,
) -> Option<std::ops::Range<usize>> {
    let value = &text[word.clone()];
    let colon = value.find(':')?;
    let mut end = word.end;
    if let Some(q) = value.chars().next().filter(|c| *c == '\'' || *c == '"')
        && value.len() > 1
        && value.ends_with(q)
    {
        end -= 1;
    }
    let start = word.start + colon + 1;
    (start < end && &text[start..end] != REDACTED).then_some(start..end)
}

/// Values under secret-named keys and headers: `{"password": "x"}`,
/// `password: x`, `api_key: 'x'`, `Cookie: a=b; c=d`, `Set-Cookie: …`,
/// `X-Api-Key: …`, `Private-Token: …`. A header's value (a name with a `-`,
/// or `Cookie`) runs to the end of the line or quote; a key's value is one
/// word or one quoted string.
fn key_value_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut spans = Vec::new();
    for (colon, _) in text.match_indices(':') {
        if bytes.get(colon + 1) == Some(&b':') || (colon > 0 && bytes[colon - 1] == b':') {
            continue;
        }
        // Back over `"name" :` / `\"name\":` / `name:`.
        let mut k = colon;
        while k > 0 && matches!(bytes[k - 1], b' ' | b'\t') {
            k -= 1;
        }
        let mut quoted = false;
        if k > 0 && matches!(bytes[k - 1], b'"' | b'\'') {
            quoted = true;
            k -= 1;
            if k > 0 && bytes[k - 1] == b'\\' {
                k -= 1;
            }
        }
        let name_end = k;
        while k > 0
            && (bytes[k - 1].is_ascii_alphanumeric() || matches!(bytes[k - 1], b'_' | b'-' | b'.'))
        {
            k -= 1;
        }
        let name = &text[k..name_end];
        if name.is_empty() || !names_secret(name) {
            continue;
        }
        // A header's value runs to the end of its line or quote only where a
        // header starts one (`-H 'X-Api-Key: a b'`, a header dump); elsewhere
        // in a command line it is one word, so that an argument made to look
        // like a header cannot hide the arguments after it.
        let starts_text = k == 0 || matches!(bytes[k - 1], b'\n' | b'\r' | b'"' | b'\'');
        let header =
            !quoted && starts_text && (name.contains('-') || name.eq_ignore_ascii_case("cookie"));
        let after = &text[colon + 1..];
        let start = colon + 1 + (after.len() - after.trim_start_matches([' ', '\t']).len());
        let rest = &text[start..];
        let span = if header {
            let end = rest
                .find(['\n', '\r', '"', '\''])
                .map_or(text.len(), |e| start + e);
            start..end
        } else if let Some(open) = ["\\\"", "\"", "'"].iter().find(|q| rest.starts_with(**q)) {
            let inner = start + open.len();
            let close = if *open == "'" {
                text[inner..].find('\'')
            } else if *open == "\\\"" {
                text[inner..].find("\\\"")
            } else {
                // The closing quote of a JSON string: skip escaped characters.
                let b = &bytes[inner..];
                let mut i = 0;
                loop {
                    match b.get(i) {
                        None => break None,
                        Some(b'\\') => i += 2,
                        Some(b'"') => break Some(i),
                        Some(_) => i += 1,
                    }
                }
            };
            inner..close.map_or(text.len(), |c| inner + c)
        } else if rest.starts_with(['{', '[']) {
            continue;
        } else {
            let end = rest
                .find(|c: char| {
                    c.is_whitespace() || matches!(c, ',' | ';' | '}' | ']' | '"' | '\'')
                })
                .map_or(text.len(), |e| start + e);
            start..end
        };
        if span.start < span.end && &text[span.clone()] != REDACTED {
            spans.push(span);
        }
    }
    sorted(spans)
}

/// Slack and Discord webhook URLs: the path after `hooks.slack.com/services/`
/// or `/api/webhooks/` is the credential.
fn webhook_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    for marker in [
        "hooks.slack.com/services/",
        "discord.com/api/webhooks/",
        "discordapp.com/api/webhooks/",
    ] {
        for (i, _) in text.match_indices(marker) {
            let start = i + marker.len();
            let end = text[start..]
                .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '?' | '#' | ','))
                .map_or(text.len(), |e| start + e);
            if start < end && &text[start..end] != REDACTED {
                spans.push(start..end);
            }
        }
    }
    sorted(spans)
}

/// Whether `text` may hold one of [`token_shape_spans`]' prefixes.
fn might_hold_token_shape(text: &str) -> bool {
    ["npm_", "pypi-", "hf_", "SG.", "xapp-", "_v1_"]
        .iter()
        .any(|p| text.contains(p))
}

/// Token shapes the configuration checks do not need but the log must not
/// keep: npm (`npm_…`), PyPI (`pypi-…`), Hugging Face (`hf_…`), SendGrid
/// (`SG.….…`), Slack app-level (`xapp-…`) and DigitalOcean (`dop_v1_…`,
/// `doo_v1_…`, `dor_v1_…`). Each needs its full length, so words such as
/// `hf_hub_download` or `npm_config_cache` are left alone.
fn token_shape_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let is_word = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.');
    let token = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-');
    let run = |from: usize, ok: &dyn Fn(u8) -> bool| {
        bytes[from..]
            .iter()
            .position(|b| !ok(*b))
            .map_or(bytes.len(), |n| from + n)
    };
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if i > 0 && is_word(bytes[i - 1]) {
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        let end = if rest.starts_with(b"npm_") || rest.starts_with(b"hf_") {
            // Mixed-case letters and digits, no separators.
            let from = i + if rest.starts_with(b"npm_") { 4 } else { 3 };
            let end = run(from, &|b: u8| b.is_ascii_alphanumeric());
            let body = &bytes[from..end];
            (body.len() >= 30
                && body.iter().any(u8::is_ascii_uppercase)
                && body.iter().any(u8::is_ascii_lowercase))
            .then_some(end)
        } else if rest.starts_with(b"pypi-") {
            let end = run(i + 5, &token);
            (end - (i + 5) >= 40).then_some(end)
        } else if rest.starts_with(b"xapp-") {
            let end = run(i + 5, &token);
            (end - (i + 5) >= 20 && bytes[i + 5..end].iter().any(u8::is_ascii_digit)).then_some(end)
        } else if [b"dop_v1_", b"doo_v1_", b"dor_v1_"]
            .iter()
            .any(|p| rest.starts_with(*p))
        {
            let end = run(i + 7, &|b: u8| b.is_ascii_alphanumeric());
            (end - (i + 7) >= 32).then_some(end)
        } else if rest.starts_with(b"SG.") {
            let first = run(i + 3, &token);
            (first - (i + 3) >= 16 && bytes.get(first) == Some(&b'.'))
                .then(|| run(first + 1, &token))
                .filter(|second| second - (first + 1) >= 16)
        } else {
            None
        };
        match end {
            Some(end) => {
                spans.push(i..end);
                i = end;
            }
            None => i += 1,
        }
    }
    spans
}

/// Sorted by start (overlaps are skipped by `replace_spans`).
fn sorted(mut spans: Vec<std::ops::Range<usize>>) -> Vec<std::ops::Range<usize>> {
    spans.sort_by_key(|s| s.start);
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_headers_named_as_secrets_are_redacted_without_configuration() {
        let r = Redactor::with_home(None, &[]);
        let mut http = HttpDetails::default();
        for (name, value) in [
            ("Cookie", "sid=topsecret3"),
            ("x-api-key", "topsecret4"),
            ("X-Auth", "topsecret20"),
            ("x-amz-security-token", "topsecret21"),
            ("Private-Token", "topsecret22"),
            ("Set-Cookie", "a=topsecret23"),
            ("Accept", "text/html"),
        ] {
            http = http.with_header(name, value);
        }
        r.redact_http(&mut http);
        for (name, value) in &http.headers {
            if name == "Accept" {
                assert_eq!(value, "text/html");
            } else {
                assert_eq!(value, REDACTED, "{name}");
            }
        }
    }

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
