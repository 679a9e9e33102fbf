//! The shapes of literal secrets — API keys, tokens, private keys — found in
//! any text: below every layer, so that the environment policy can drop a
//! variable holding one, configuration validation can refuse one, and the
//! audit log can redact one. Detection never needs to print the value: it
//! names the kind.
//!
//! Hand-written prefix and shape checks rather than a regex engine: a dozen
//! fixed shapes, checked in one pass over each string.

/// The kind of secret a string looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SecretKind {
    /// `sk-…` / `sk_live_…` style API keys.
    ApiKey,
    /// `ghp_…`, `github_pat_…` and the other GitHub token prefixes.
    GitHubToken,
    /// `xoxb-…` and other Slack tokens.
    SlackToken,
    /// `glpat-…`.
    GitLabToken,
    /// `AKIA…`/`ASIA…` access key ids.
    AwsAccessKeyId,
    /// A 40-character AWS secret access key (under a key naming a secret).
    AwsSecretKey,
    /// `AIza…` Google API keys.
    GoogleApiKey,
    /// A PEM private key block.
    PrivateKey,
    /// A JSON Web Token.
    Jwt,
    /// Any non-reference value under a key named like a password or token.
    NamedSecret,
}

impl SecretKind {
    /// A human name for messages.
    pub const fn describe(self) -> &'static str {
        match self {
            Self::ApiKey => "an API key",
            Self::GitHubToken => "a GitHub token",
            Self::SlackToken => "a Slack token",
            Self::GitLabToken => "a GitLab token",
            Self::AwsAccessKeyId => "an AWS access key id",
            Self::AwsSecretKey => "an AWS secret access key",
            Self::GoogleApiKey => "a Google API key",
            Self::PrivateKey => "a private key",
            Self::Jwt => "a JSON Web Token",
            Self::NamedSecret => "a password or token",
        }
    }
}

fn token_chars(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Finds a known secret shape anywhere in `text` (as a whole word).
pub fn find_secret(text: &str) -> Option<SecretKind> {
    if text.contains("-----BEGIN") && text.contains("PRIVATE KEY") {
        return Some(SecretKind::PrivateKey);
    }
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        .find_map(word_holds_secret)
}

/// Byte ranges of every known secret shape in `text` (whole words, and PEM
/// private key blocks), for redaction.
pub fn secret_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("-----BEGIN").map(|i| from + i) {
        let end = text[start..].find("PRIVATE KEY-----").and_then(|first| {
            let after_header = start + first + "PRIVATE KEY-----".len();
            text[after_header..]
                .find("PRIVATE KEY-----")
                .map(|second| after_header + second + "PRIVATE KEY-----".len())
        });
        match end {
            Some(end) => {
                spans.push(start..end);
                from = end;
            }
            None => break,
        }
    }
    let mut word_start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        let in_word = c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        match (in_word, word_start) {
            (true, None) => word_start = Some(i),
            (false, Some(start)) => {
                let overlaps = spans
                    .iter()
                    .any(|s: &std::ops::Range<usize>| s.start <= start && start < s.end);
                if !overlaps && word_holds_secret(&text[start..i]).is_some() {
                    spans.push(start..i);
                }
                word_start = None;
            }
            _ => {}
        }
    }
    spans.sort_by_key(|s| s.start);
    spans
}

/// Longest prefix glued to a token that is still looked through: a glued
/// prefix is short, and the bound keeps a long word linear to check.
const MAX_GLUED_PREFIX: usize = 64;

/// A word that is a secret, or ends in one after a short prefix and a
/// separator: `x_ghp_…` hides a token as well as `ghp_…` does.
fn word_holds_secret(word: &str) -> Option<SecretKind> {
    word_secret(word).or_else(|| {
        word.char_indices()
            .take_while(|(i, _)| *i < MAX_GLUED_PREFIX)
            .filter(|(_, c)| matches!(c, '_' | '-' | '.'))
            .find_map(|(i, _)| word_secret(&word[i + 1..]))
    })
}

fn word_secret(word: &str) -> Option<SecretKind> {
    let prefixed = |prefixes: &[&str], min_rest: usize| {
        prefixes.iter().any(|p| {
            word.strip_prefix(p)
                .is_some_and(|rest| rest.len() >= min_rest && token_chars(rest))
        })
    };
    if prefixed(
        &[
            "sk-", "sk_live_", "sk_test_", "rk_live_", "sk-proj-", "sk-ant-",
        ],
        20,
    ) {
        Some(SecretKind::ApiKey)
    } else if prefixed(&["ghp_", "gho_", "ghs_", "ghu_", "ghr_", "github_pat_"], 20) {
        Some(SecretKind::GitHubToken)
    } else if prefixed(&["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"], 10) {
        Some(SecretKind::SlackToken)
    } else if prefixed(&["glpat-"], 20) {
        Some(SecretKind::GitLabToken)
    } else if word.len() >= 20
        && (word.starts_with("AKIA") || word.starts_with("ASIA"))
        && word.as_bytes()[..20]
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
    {
        // An id with more glued to it (the secret key, written right after)
        // is still an id: the whole word goes.
        Some(SecretKind::AwsAccessKeyId)
    } else if word.len() == 39 && word.starts_with("AIza") && token_chars(word) {
        Some(SecretKind::GoogleApiKey)
    } else if is_jwt(word) {
        Some(SecretKind::Jwt)
    } else {
        None
    }
}

/// Three dot-separated parts, the first two base64url JSON (`eyJ`); more parts
/// too, so that tokens written back to back are caught as one word.
fn is_jwt(word: &str) -> bool {
    // Checked for every word: no allocation, and most words stop at `eyJ`.
    let mut parts = word.split('.');
    let mut count = 0;
    let well_formed = parts.all(|p| {
        count += 1;
        (count > 2 || p.starts_with("eyJ")) && p.len() >= 8 && token_chars(p)
    });
    well_formed && count >= 3
}

/// `text` with every secret-shaped word replaced by `…`: for messages that
/// quote what a file or a command line said.
///
/// # Examples
///
/// ```
/// use codex_policy_model::validate::secrets::mask_secrets;
///
/// let said = "profile \"ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8\" is no profile";
/// assert_eq!(mask_secrets(said), "profile \"…\" is no profile");
/// assert_eq!(mask_secrets("profile \"worksapce\""), "profile \"worksapce\"");
/// ```
pub fn mask_secrets(text: &str) -> String {
    let spans = secret_spans(text);
    if spans.is_empty() {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut kept = 0;
    for span in spans {
        out.push_str(&text[kept..span.start]);
        out.push('…');
        kept = span.end;
    }
    out.push_str(&text[kept..]);
    out
}

/// A dotted key path masked segment by segment: to the secret shapes a
/// dotted path is one word.
pub(crate) fn mask_secrets_in_key(key: &str) -> String {
    key.split('.')
        .map(mask_secrets)
        .collect::<Vec<_>>()
        .join(".")
}
