//! Dates after which allow entries stop applying: `allowlist_expiry` in
//! `[sandbox_workspace_write]` and `expires` in `[permissions.<profile>.network]`.
//!
//! A date is the last day (UTC) the entries apply: they drop out once it is
//! before *today*. Today is always passed in by the caller (the facade reads
//! the clock once, tests pin it), so the model never depends on when it runs.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::{Error as _, Unexpected};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Location, SourceFile};

/// What an expiry date may look like, for error messages.
const EXPECTED: &str =
    "a date YYYY-MM-DD (or an RFC 3339 timestamp with an offset, such as 2025-10-15T18:00:00Z)";

/// The UTC calendar date of `at`: what the facade passes as *today*.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use codex_policy_model::{NaiveDate, utc_date};
///
/// // The last second of 1970 and the first of 1971, in UTC.
/// let at = SystemTime::UNIX_EPOCH + Duration::from_secs(365 * 86_400 - 1);
/// assert_eq!(Some(utc_date(at)), NaiveDate::from_ymd_opt(1970, 12, 31));
/// assert_eq!(Some(utc_date(at + Duration::from_secs(1))), NaiveDate::from_ymd_opt(1971, 1, 1));
/// ```
pub fn utc_date(at: SystemTime) -> NaiveDate {
    DateTime::<Utc>::from(at).date_naive()
}

/// An expiry date as written in `config.toml`: `"YYYY-MM-DD"`, a TOML date
/// (`2025-10-15` unquoted), or an RFC 3339 timestamp with an offset (string or
/// TOML offset date-time), which counts by its UTC date. Anything else — a
/// date that is not in the calendar, a local time without an offset, a
/// number, a table — is refused where it is written.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{ExpiryDate, NaiveDate};
///
/// let date: ExpiryDate = "2025-10-15".parse()?;
/// assert_eq!(Some(date.date()), NaiveDate::from_ymd_opt(2025, 10, 15));
/// // A timestamp with an offset counts by its UTC date.
/// let evening_in_chicago: ExpiryDate = "2025-10-14T22:00:00-05:00".parse()?;
/// assert_eq!(evening_in_chicago, date);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExpiryDate(NaiveDate);

impl ExpiryDate {
    /// The last day (UTC) the entries apply.
    pub const fn date(self) -> NaiveDate {
        self.0
    }
}

/// Why a text is not an [`ExpiryDate`] (the message names the expected form).
///
/// # Examples
///
/// ```
/// use codex_policy_model::{ExpiryDate, ExpiryDateError};
///
/// let err: ExpiryDateError = "2025-02-30".parse::<ExpiryDate>().unwrap_err();
/// assert!(err.to_string().starts_with("\"2025-02-30\" is not a calendar date: expected"));
/// // Only one spelling is a date: no unpadded fields, no local times.
/// for text in ["2025-1-5", "2025-10-15T18:00:00", "tomorrow"] {
///     let err = text.parse::<ExpiryDate>().unwrap_err();
///     assert!(err.to_string().contains("expected a date YYYY-MM-DD"), "{err}");
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {problem}: expected {EXPECTED}")]
pub struct ExpiryDateError {
    text: String,
    problem: &'static str,
}

impl FromStr for ExpiryDate {
    type Err = ExpiryDateError;

    fn from_str(text: &str) -> Result<Self, ExpiryDateError> {
        let error = |problem| ExpiryDateError {
            text: text.to_owned(),
            problem,
        };
        // chrono's `%Y-%m-%d` also takes unpadded and signed fields
        // (`2025-1-5`, `+2025-…`); only the one spelling people read
        // unambiguously is a date here.
        let bytes = text.as_bytes();
        let date_shaped = bytes.len() == 10
            && bytes.iter().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    *b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if date_shaped {
            return NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(Self)
                .map_err(|_| error("a calendar date"));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|at| Self(at.with_timezone(&Utc).date_naive()))
            .map_err(|_| error("a date"))
    }
}

impl<'de> Deserialize<'de> for ExpiryDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A TOML date or date-time arrives as its own type, not a string: read
        // any value and take the two that can spell a date.
        let value = toml::Value::deserialize(deserializer)?;
        let text = match value {
            toml::Value::String(text) => text,
            toml::Value::Datetime(at) => at.to_string(),
            other => {
                let unexpected = match &other {
                    toml::Value::Integer(i) => Unexpected::Signed(*i),
                    toml::Value::Float(f) => Unexpected::Float(*f),
                    toml::Value::Boolean(b) => Unexpected::Bool(*b),
                    toml::Value::Array(_) => Unexpected::Seq,
                    _ => Unexpected::Map,
                };
                return Err(D::Error::invalid_type(unexpected, &EXPECTED));
            }
        };
        text.parse().map_err(D::Error::custom)
    }
}

impl schemars::JsonSchema for ExpiryDate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExpiryDate".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "The last day (UTC) the allow entries apply: YYYY-MM-DD, or an \
                            RFC 3339 timestamp with an offset (counted by its UTC date). Past \
                            it, the allow entries no longer apply; nothing else changes.",
            "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ].+)?$"
        })
    }
}

/// An expiry date and where it was written.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{CodexConfig, NaiveDate, SourceFile};
///
/// let text = br#"[permissions.ci.network]
/// expires = 2025-10-15
/// [permissions.ci.network.domains]
/// "pypi.org" = "allow"
/// "#;
/// let source = SourceFile::from_bytes(Path::new("config.toml"), text.to_vec())?;
/// let config = CodexConfig::parse(&source)?;
/// let table = config.permissions["ci"].network.as_ref().ok_or("no network table")?;
/// let today = NaiveDate::from_ymd_opt(2025, 10, 13).ok_or("not a date")?;
/// let expiry = table.normalize(&source, "ci", today)?.expiry.ok_or("no expiry")?;
/// assert!(!expiry.is_past(today));
/// assert_eq!(expiry.days_left(today), 2);
/// assert_eq!(expiry.at(), "config.toml:2:11 permissions.ci.network.expires");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Expiry {
    /// The last day (UTC) the allow entries apply.
    #[serde(serialize_with = "as_text")]
    pub date: NaiveDate,
    /// Where the date is written.
    #[serde(serialize_with = "as_text")]
    pub location: Location,
    /// Its dotted key (`sandbox_workspace_write.allowlist_expiry`,
    /// `permissions.<profile>.network.expires`).
    pub key: String,
}

impl Expiry {
    pub(crate) fn new(
        source: &SourceFile,
        written: &toml::Spanned<ExpiryDate>,
        key: impl Into<String>,
    ) -> Self {
        Self {
            date: written.get_ref().date(),
            location: source.locate(written.span().start),
            key: key.into(),
        }
    }

    /// Whether the date is before `today`: on the date itself the entries
    /// still apply.
    pub fn is_past(&self, today: NaiveDate) -> bool {
        self.date < today
    }

    /// Days from `today` to the date: 0 on the date itself, negative once past.
    pub fn days_left(&self, today: NaiveDate) -> i64 {
        (self.date - today).num_days()
    }

    /// `file:line:column key`, as provenance is written.
    pub fn at(&self) -> String {
        format!("{} {}", self.location, self.key)
    }
}

fn as_text<T: fmt::Display, S: Serializer>(value: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> Result<NaiveDate, ExpiryDateError> {
        text.parse::<ExpiryDate>().map(ExpiryDate::date)
    }

    #[test]
    fn dates_and_timestamps() {
        let day = NaiveDate::from_ymd_opt(2025, 10, 15).unwrap();
        assert_eq!(date("2025-10-15"), Ok(day));
        assert_eq!(date("2025-10-15T23:59:59Z"), Ok(day));
        // A timestamp counts by its UTC date.
        assert_eq!(date("2025-10-14T22:00:00-05:00"), Ok(day));
        for bad in [
            "2025-13-01",
            "2025-02-30",
            "2025-1-5",
            "+2025-10-15",
            "tomorrow",
            "",
        ] {
            let err = date(bad).unwrap_err().to_string();
            assert!(err.contains("expected a date YYYY-MM-DD"), "{bad}: {err}");
        }
        assert!(
            date("2025-13-01")
                .unwrap_err()
                .to_string()
                .contains("calendar date")
        );
    }

    #[test]
    fn today_is_the_utc_date() {
        let at = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(86_400 * 365 - 1);
        assert_eq!(utc_date(at), NaiveDate::from_ymd_opt(1970, 12, 31).unwrap());
    }
}
