//! Recognizes literal secrets in configuration values, so that validation can
//! refuse them: the token, key and JWT shapes the crate knows, and any value under a
//! key named like a password or token that is not a reference to a secret.

pub use crate::secret_shapes::{SecretKind, find_secret, mask_secrets, secret_spans};

/// Whether a key names something secret (`password`, `api_key`, `token`, …),
/// not where one is kept: `bearer_token_env_var` holds a variable's name,
/// `cli_auth_credentials_store` a storage kind, `token_file` a path.
pub fn key_names_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    let names_a_place = [
        "_env_var", "_env", "_store", "_file", "_path", "_command", "_cmd", "_helper",
    ]
    .iter()
    .any(|suffix| key.ends_with(suffix));
    !names_a_place
        && [
            "password",
            "passwd",
            "secret",
            "token",
            "api_key",
            "apikey",
            "private_key",
            "access_key",
            "credential",
        ]
        .iter()
        .any(|word| key.contains(word))
}

/// Whether a value is a reference to a secret rather than one (`arn:…`,
/// `${VAR}`, `env:…`, …); such values are fine under secret-named keys.
pub fn is_reference(value: &str) -> bool {
    value.parse::<crate::files::SecretRef>().is_ok()
        || (value.starts_with("${") && value.ends_with('}'))
        || value.is_empty()
}

/// The secret `value` (under `key`) looks like, if any.
pub fn classify(key: &str, value: &str) -> Option<SecretKind> {
    if is_reference(value) {
        return None;
    }
    if let Some(kind) = find_secret(value) {
        return Some(kind);
    }
    if key_names_secret(key) {
        let is_aws_secret = value.len() == 40
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'/' || b == b'+');
        return Some(if is_aws_secret {
            SecretKind::AwsSecretKey
        } else {
            SecretKind::NamedSecret
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_shapes_are_found_and_references_are_not() {
        let cases = [
            (
                "api_key",
                "sk-1234567890abcdefghijklmn",
                Some(SecretKind::ApiKey),
            ),
            (
                "x",
                "token ghp_abcdefghijklmnopqrstuvwxyz0123456789 here",
                Some(SecretKind::GitHubToken),
            ),
            (
                "x",
                "AKIAIOSFODNN7EXAMPLE",
                Some(SecretKind::AwsAccessKeyId),
            ),
            (
                "aws_secret_access_key",
                "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                Some(SecretKind::AwsSecretKey),
            ),
            (
                "db_password",
                "actual-password-here",
                Some(SecretKind::NamedSecret),
            ),
            (
                "DB_PASSWORD_ARN",
                "arn:aws:secretsmanager:us-east-1:123456:secret:db-pwd",
                None,
            ),
            ("token", "${GITHUB_TOKEN}", None),
            ("name", "production", None),
            ("x", "xoxb-1234567890-abcdef", Some(SecretKind::SlackToken)),
        ];
        for (key, value, expected) in cases {
            assert_eq!(classify(key, value), expected, "{key}={value}");
        }
    }
}
