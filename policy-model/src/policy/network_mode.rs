//! The network mode: whether a network may only read (`limited`) or do
//! anything (`full`).

use serde::{Deserialize, Serialize};

/// What a network lets through: every method (`full`), or only the
/// read-only ones (`limited`: `GET`, `HEAD`, `OPTIONS`, with HTTPS inspected
/// so that the rule holds inside TLS too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
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
