//! The network mode: whether a network may only read (`limited`) or do
//! anything (`full`).

use serde::{Deserialize, Serialize};

/// What a network lets through: every method (`full`), or only the
/// read-only ones (`limited`: `GET`, `HEAD`, `OPTIONS`, with HTTPS inspected
/// so that the rule holds inside TLS too).
///
/// # Examples
///
/// ```
/// use codex_policy_model::{NetworkMode, SandboxPolicy};
///
/// // A read-only sandbox with network (the `net-read-only` profile) may only read.
/// let policy = SandboxPolicy::ReadOnly { network_access: true };
/// assert_eq!(policy.network_mode(), NetworkMode::Limited);
/// assert_eq!(SandboxPolicy::workspace_write(true).network_mode(), NetworkMode::Full);
///
/// // Spelled as in `[permissions.<name>.network] mode`; the most restrictive sorts first.
/// let mode: NetworkMode = serde_json::from_str(r#""limited""#)?;
/// assert_eq!(mode.min(NetworkMode::Full), NetworkMode::Limited);
/// assert_eq!(mode.describe(), "GET, HEAD, OPTIONS only; HTTPS inspected");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum NetworkMode {
    // The most restrictive, so it sorts first (the derived `Ord`).
    /// Read-only methods only: `GET`, `HEAD`, `OPTIONS`, no request body, no
    /// protocol upgrade.
    Limited,
    /// Every method.
    #[default]
    Full,
}

impl NetworkMode {
    /// Every mode, most restrictive first.
    pub const ALL: [Self; 2] = [Self::Limited, Self::Full];

    /// What the mode lets through, in words (`explain`, `--show-profile`,
    /// the composition's notes).
    pub const fn describe(self) -> &'static str {
        match self {
            Self::Limited => "GET, HEAD, OPTIONS only; HTTPS inspected",
            Self::Full => "every method",
        }
    }

    /// The name used in configuration files.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Limited => "limited",
            Self::Full => "full",
        }
    }
}

impl std::fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hand-written so that a wrong type (`mode = 1`, a `[…network.mode]` table)
/// reads "expected one of "limited", "full"" rather than the TOML parser's
/// generic "wanted string or table" (or an enum-in-a-table error).
impl<'de> Deserialize<'de> for NetworkMode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModeVisitor;
        impl serde::de::Visitor<'_> for ModeVisitor {
            type Value = NetworkMode;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("one of \"limited\", \"full\"")
            }

            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<NetworkMode, E> {
                NetworkMode::ALL
                    .into_iter()
                    .find(|mode| mode.as_str() == name)
                    .ok_or_else(|| E::unknown_variant(name, &["limited", "full"]))
            }
        }
        deserializer.deserialize_str(ModeVisitor)
    }
}
