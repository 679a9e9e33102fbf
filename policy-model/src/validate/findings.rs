//! The vocabulary of validation: every [`FindingCode`] (`CP0001`…) with its
//! severity, meaning and usual fix, and the located [`Finding`]s that use them.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::files::{ConfigError, DiagnosticKind, Location};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Severity {
    /// The configuration must not be used (`validate` exits 1).
    Error,
    /// Probably a mistake or a weak posture (`--strict` makes it fail).
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// A documented finding code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct FindingCode {
    /// `CP0012`.
    pub code: &'static str,
    /// Its severity.
    pub severity: Severity,
    /// What it means.
    pub title: &'static str,
    /// The usual fix.
    pub fix: &'static str,
}

macro_rules! codes {
    ($($name:ident = $code:literal, $sev:ident, $title:literal, $fix:literal;)*) => {
        $(
            #[doc = $title]
            pub const $name: FindingCode = FindingCode {
                code: $code, severity: Severity::$sev, title: $title, fix: $fix,
            };
        )*
        /// Every finding code, for documentation.
        pub const ALL_CODES: &[FindingCode] = &[$($name),*];
    };
}

codes! {
    UNREADABLE = "CP0001", Error, "the file cannot be read (missing, too large, not UTF-8, not a regular file)",
        "check the path; configuration files are UTF-8 and at most 1 MiB";
    SYNTAX = "CP0002", Error, "not well-formed JSON or TOML",
        "fix the syntax at the location shown";
    UNKNOWN_KEY = "CP0003", Error, "a key the format does not have",
        "remove the key or correct its spelling (`codex-policy schema` prints the keys each file takes)";
    INVALID_VALUE = "CP0004", Error, "a value of the wrong type, out of range, or not allowed",
        "use a value of the type and range the key takes (`codex-policy schema` prints them for each file)";
    DUPLICATE_KEY = "CP0005", Error, "a key written twice",
        "keep one of the entries";
    NOTHING = "CP0006", Error, "no configuration file to validate",
        "pass --runtime, --policy, --config or --requirements, or run in a directory with .codexrc.json";
    NETWORK_MISMATCH = "CP0010", Error, ".codexrc.json network_access and harness.policy.json network.enabled disagree",
        "set network_access to \"enabled\" exactly when network.enabled is true";
    ALLOWLIST_DIFFERS = "CP0011", Warning, "the two files allow different domains",
        "list the same domains in dns_allow and network.egress.domains (may be intentional)";
    PRODUCTION_MONITOR_MODE = "CP0012", Error, "production requires deny_on_violation: true",
        "set \"deny_on_violation\": true in harness.policy.json";
    PRODUCTION_NOT_ALLOWLIST = "CP0013", Error, "production must use allowlist mode",
        "set the egress mode to \"allowlist\" and list every domain";
    PRODUCTION_WILDCARD = "CP0014", Warning, "a wildcard domain pattern in production",
        "list explicit domains in production";
    GLOBAL_WILDCARD_IN_PRODUCTION = "CP0015", Error, "the global `*` in production",
        "list explicit domains in production";
    LITERAL_SECRET = "CP0016", Error, "a literal secret in a configuration file (value not shown)",
        "remove it, rotate it, and reference it instead: a secret store or an environment variable the harness reads (in .codexrc.json, under credentials.secrets, e.g. arn:aws:secretsmanager:…)";
    WILDCARD_IN_DENYLIST = "CP0017", Error, "`*` in a deny list",
        "a deny list names what to block; to block everything, disable the network";
    MONITOR_MODE_IN_SANDBOX = "CP0018", Warning, "deny_on_violation: false in the sandbox environment",
        "sandbox is production-like: set \"deny_on_violation\": true";
    OPEN_EGRESS = "CP0019", Warning, "egress mode \"open\" allows any destination",
        "use \"allowlist\" (development only: \"open\")";
    RULES_WITHOUT_EFFECT = "CP0020", Warning, "egress rules that the network setting makes irrelevant",
        "remove them, or enable the network they describe";
    EMPTY_ALLOWLIST = "CP0021", Warning, "network enabled in allowlist mode with nothing allowed",
        "list the domains the agent needs, or disable the network";
    PRODUCTION_HTTP_LOGGING = "CP0022", Warning, "production logs HTTP bodies or headers",
        "set http_log_bodies and http_log_headers to false (compliance)";
    PORTS_DIFFER = "CP0023", Warning, "the two files allow different ports",
        "list the same ports in port_allow and network.egress.ports";
    COMMAND_WRITABLE_LOOSENS = "CP0024", Error, "a policy file the sandboxed command could have written loosens the policy",
        "remove the key, or keep the file outside every writable root of the run (pass it with --policy, --runtime, --config or --requirements from a directory the command cannot write)";
    ALLOWLIST_EXPIRED = "CP0025", Warning, "allow entries past their expiry date no longer apply",
        "renew the date if they are still needed, or remove them; until then nothing is allowed from them (the network stays filtered)";
    ALLOWLIST_EXPIRES_SOON = "CP0026", Warning, "allow entries expire within 7 days",
        "renew the date if they will still be needed; past it nothing is allowed from them";
    IGNORED_NEAR_MISS = "CP0027", Warning, "an unknown key close to a policy key is ignored",
        "correct its spelling; config.toml leaves keys it does not know to Codex, so a misspelt policy key changes nothing";
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Finding {
    /// Stable code, e.g. `CP0012`.
    pub code: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// The file, when the finding belongs to one.
    pub file: Option<PathBuf>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub column: Option<usize>,
    /// Dotted key path.
    pub key: Option<String>,
    /// What is wrong (never a secret's value).
    pub message: String,
    /// How to fix it.
    pub fix: String,
    /// The offending line with a caret, quoted values masked (text output
    /// only; JSON has `line` and `column`).
    #[serde(skip)]
    pub snippet: Option<String>,
}

impl Finding {
    pub(crate) fn new(
        code: FindingCode,
        location: Option<Location>,
        key: Option<String>,
        message: String,
    ) -> Self {
        let (file, line, column) = match location {
            Some(l) => (Some(l.file), Some(l.line), Some(l.column)),
            None => (None, None, None),
        };
        // A finding quotes keys and values of a file that may hold a secret
        // where the finding is (a token as a profile name): never shown.
        Self {
            code: code.code,
            severity: code.severity,
            file,
            line,
            column,
            key: key
                .as_deref()
                .map(crate::secret_shapes::mask_secrets_in_key),
            message: crate::secret_shapes::mask_secrets(&message),
            fix: code.fix.to_owned(),
            snippet: None,
        }
    }

    /// The finding of a configuration error found in `file`, coded by its kind.
    pub fn from_error(err: &ConfigError, file: &Path) -> Self {
        Self::from_error_in(err, file, None)
    }

    /// [`Finding::from_error`] for a file whose role is known: its fix names
    /// that file's schema (`config`, `codexrc`, …) whatever the file is called.
    pub(crate) fn from_error_in(err: &ConfigError, file: &Path, schema: Option<&str>) -> Self {
        let code = match err.kind() {
            DiagnosticKind::Unreadable => UNREADABLE,
            DiagnosticKind::Syntax => SYNTAX,
            DiagnosticKind::UnknownKey => UNKNOWN_KEY,
            DiagnosticKind::DuplicateKey => DUPLICATE_KEY,
            _ => INVALID_VALUE,
        };
        match err.diagnostic() {
            Some(d) => {
                let mut finding = Self::new(
                    code,
                    Some(d.location.clone()),
                    d.key.clone(),
                    d.message.clone(),
                );
                match &d.help {
                    Some(help) => finding.fix = help.clone(),
                    None => finding.fix = fix_for(code, &d.location.file, schema),
                }
                finding.snippet = d.snippet.clone();
                finding
            }
            None => Self::new(
                code,
                Some(Location {
                    file: file.to_path_buf(),
                    line: 1,
                    column: 1,
                }),
                None,
                // The location names the file already.
                err.to_string()
                    .strip_prefix(&format!("{}: ", file.display()))
                    .map_or_else(|| err.to_string(), str::to_owned),
            ),
        }
    }
}

/// The code's usual fix, made specific to `file`: which schema lists its
/// keys (by its role when known, else by its name), and what JSON does not
/// allow.
fn fix_for(code: FindingCode, file: &Path, schema: Option<&str>) -> String {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let schema = schema.or(match name {
        ".codexrc.json" => Some("codexrc"),
        "harness.policy.json" => Some("harness-policy"),
        "requirements.toml" => Some("requirements"),
        "config.toml" => Some("config"),
        _ => None,
    });
    let json = matches!(schema, Some("codexrc" | "harness-policy")) || name.ends_with(".json");
    let schema = format!(
        "`codex-policy schema {}`",
        schema.unwrap_or("config|requirements|codexrc|harness-policy")
    );
    match code.code {
        "CP0002" if json => format!("{} (JSON allows no comments or trailing commas)", code.fix),
        "CP0003" => format!("remove the key or correct its spelling ({schema} prints the keys)"),
        "CP0004" => {
            format!("use a value of the type and range the key takes ({schema} prints them)")
        }
        _ => code.fix.to_owned(),
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}", file.display())?;
            if let (Some(line), Some(column)) = (self.line, self.column) {
                write!(f, ":{line}:{column}")?;
            }
            write!(f, ": ")?;
        }
        write!(f, "{} {}", self.severity, self.code)?;
        if let Some(key) = &self.key {
            write!(f, " [{key}]")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(snippet) = &self.snippet {
            write!(f, "\n{snippet}")?;
        }
        // `help:`, as rustc and every other error of the command label a remedy.
        write!(f, "\n  help: {}", self.fix)
    }
}
