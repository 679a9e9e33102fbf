//! `validate`: every check of the runtime-control validation script and its best
//! practices, as findings with stable codes, severity, location and fix.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::{
    CodexConfig, CodexRc, ConfigError, DiagnosticKind, DomainPattern, EgressMode, EnvironmentName,
    HarnessPolicy, Located, Location, NetworkAccess, NetworkRules, Requirements, SourceFile,
    secrets,
};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
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
        "fix the syntax at the location shown (JSON allows no comments or trailing commas)";
    UNKNOWN_KEY = "CP0003", Error, "a key the format does not have",
        "remove the key or correct its spelling (see the hint)";
    INVALID_VALUE = "CP0004", Error, "a value of the wrong type, out of range, or not allowed",
        "use a value of the documented type and range (docs/configuration.md)";
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
        "remove it, rotate it, and reference it under credentials.secrets (e.g. arn:aws:secretsmanager:…)";
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
}

/// One problem found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        Self {
            code: code.code,
            severity: code.severity,
            file,
            line,
            column,
            key,
            message,
            fix: code.fix.to_owned(),
        }
    }

    fn from_error(err: &ConfigError, file: &Path) -> Self {
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
                if let Some(help) = &d.help {
                    finding.fix = help.clone();
                }
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
                err.to_string(),
            ),
        }
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
        write!(f, ": {}\n  fix: {}", self.message, self.fix)
    }
}

/// The files to validate; `None` means "not given".
#[derive(Debug, Clone, Default)]
pub struct ValidationInputs {
    /// `.codexrc.json`.
    pub runtime: Option<PathBuf>,
    /// `harness.policy.json`.
    pub policy: Option<PathBuf>,
    /// `config.toml`.
    pub config: Option<PathBuf>,
    /// Managed `requirements.toml`.
    pub requirements: Option<PathBuf>,
}

/// A parsed `config.toml` with its normalized permission-profile network rules.
#[derive(Debug)]
pub struct LoadedConfig {
    /// The file.
    pub source: SourceFile,
    /// Its sandbox keys.
    pub config: CodexConfig,
    /// `[permissions.<name>.network]`, normalized, by profile name.
    pub permissions: Vec<(String, NetworkRules)>,
}

/// Everything that parsed, for composition, plus the findings.
#[derive(Debug, Default)]
pub struct Validation {
    /// Parsed `.codexrc.json`.
    pub codexrc: Option<Located<CodexRc>>,
    /// Parsed `harness.policy.json`.
    pub harness: Option<Located<HarnessPolicy>>,
    /// Parsed `config.toml`.
    pub config: Option<LoadedConfig>,
    /// Parsed managed requirements, normalized.
    pub requirements: Option<(SourceFile, NetworkRules)>,
    /// What was found, in file order.
    pub findings: Vec<Finding>,
}

impl Validation {
    /// Whether any finding is an error (or, with `strict`, any finding at all).
    pub fn fails(&self, strict: bool) -> bool {
        self.findings
            .iter()
            .any(|f| strict || f.severity == Severity::Error)
    }
}

/// Validates the given files and the relations between them.
pub fn validate(inputs: &ValidationInputs) -> Validation {
    let mut v = Validation::default();
    if inputs.runtime.is_none()
        && inputs.policy.is_none()
        && inputs.config.is_none()
        && inputs.requirements.is_none()
    {
        v.findings.push(Finding::new(
            NOTHING,
            None,
            None,
            "no configuration file was found or given".into(),
        ));
        return v;
    }
    if let Some(path) = &inputs.runtime {
        scan_json_secrets(path, &mut v.findings);
        match CodexRc::load(path) {
            Ok(rc) => v.codexrc = Some(rc),
            Err(e) => v.findings.push(Finding::from_error(&e, path)),
        }
    }
    if let Some(path) = &inputs.policy {
        scan_json_secrets(path, &mut v.findings);
        match HarnessPolicy::load(path) {
            Ok(policy) => v.harness = Some(policy),
            Err(e) => v.findings.push(Finding::from_error(&e, path)),
        }
    }
    if let Some(path) = &inputs.config {
        scan_toml_secrets(path, &mut v.findings);
        let loaded = CodexConfig::load(path).and_then(|(source, config)| {
            config.configured_sandbox(&source)?;
            let rules = config
                .permissions
                .iter()
                .filter_map(|(name, profile)| profile.network.as_ref().map(|n| (name, n)))
                .map(|(name, network)| Ok((name.clone(), network.normalize(&source, name)?)))
                .collect::<Result<Vec<_>, ConfigError>>()?;
            Ok(LoadedConfig {
                source,
                config,
                permissions: rules,
            })
        });
        match loaded {
            Ok(config) => v.config = Some(config),
            Err(e) => v.findings.push(Finding::from_error(&e, path)),
        }
    }
    if let Some(path) = &inputs.requirements {
        scan_toml_secrets(path, &mut v.findings);
        let loaded = Requirements::load(path)
            .and_then(|(source, requirements)| Ok((requirements.network_rules(&source)?, source)));
        match loaded {
            Ok((rules, source)) => v.requirements = Some((source, rules)),
            Err(e) => v.findings.push(Finding::from_error(&e, path)),
        }
    }
    let environment = v
        .codexrc
        .as_ref()
        .map(|rc| rc.value.environment_context.name);
    if let Some(rc) = &v.codexrc {
        check_codexrc(rc, &mut v.findings);
    }
    if let Some(policy) = &v.harness {
        check_harness(policy, environment, &mut v.findings);
    }
    if let (Some(rc), Some(policy)) = (&v.codexrc, &v.harness) {
        check_alignment(rc, policy, &mut v.findings);
    }
    v
}

fn at<T>(file: &Located<T>, pointer: &str) -> Option<Location> {
    Some(file.locate(pointer))
}

fn key(pointer: &str) -> Option<String> {
    Some(crate::dotted(pointer))
}

/// Production/denylist checks shared by both files' egress lists.
fn check_patterns<T>(
    file: &Located<T>,
    list_pointer: &str,
    mode: EgressMode,
    patterns: &[DomainPattern],
    production: bool,
    out: &mut Vec<Finding>,
) {
    for (i, pattern) in patterns.iter().enumerate() {
        let pointer = format!("{list_pointer}/{i}");
        if pattern.is_global_wildcard() && mode == EgressMode::Denylist {
            out.push(Finding::new(
                WILDCARD_IN_DENYLIST,
                at(file, &pointer),
                key(&pointer),
                "`*` in a deny list".into(),
            ));
        } else if pattern.is_global_wildcard() && production {
            out.push(Finding::new(
                GLOBAL_WILDCARD_IN_PRODUCTION,
                at(file, &pointer),
                key(&pointer),
                "`*` allows every domain in production".into(),
            ));
        } else if pattern.is_wildcard() && production {
            out.push(Finding::new(
                PRODUCTION_WILDCARD,
                at(file, &pointer),
                key(&pointer),
                format!("wildcard `{pattern}` in production"),
            ));
        }
    }
}

fn check_mode<T>(
    file: &Located<T>,
    pointer: &str,
    mode: EgressMode,
    production: bool,
    out: &mut Vec<Finding>,
) {
    if production && mode != EgressMode::Allowlist {
        out.push(Finding::new(
            PRODUCTION_NOT_ALLOWLIST,
            at(file, pointer),
            key(pointer),
            format!("egress mode is {mode:?} in production").to_lowercase(),
        ));
    } else if mode == EgressMode::Open {
        out.push(Finding::new(
            OPEN_EGRESS,
            at(file, pointer),
            key(pointer),
            "egress mode is \"open\"".into(),
        ));
    }
}

/// An AWS region as AWS names them (`us-east-1`, `eu-central-2`,
/// `us-gov-west-1`): `launch` exports it to the command and SDKs build
/// endpoint host names from it.
fn valid_aws_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    region.len() <= 32
        && parts.len() >= 3
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_lowercase()))
        && parts
            .last()
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// An AWS profile name `launch` can export: printable ASCII letters, digits
/// and `_ . @ + -`, as the AWS CLI writes them.
fn valid_aws_profile(profile: &str) -> bool {
    !profile.is_empty()
        && profile.len() <= 128
        && profile
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.@+-".contains(&b))
}

fn check_codexrc(rc: &Located<CodexRc>, out: &mut Vec<Finding>) {
    if let Some(credentials) = &rc.value.credentials {
        for (pointer, value, valid, expected) in [
            (
                "/credentials/aws_region",
                credentials.aws_region.as_deref(),
                valid_aws_region as fn(&str) -> bool,
                "an AWS region such as \"us-east-1\"",
            ),
            (
                "/credentials/aws_profile",
                credentials.aws_profile.as_deref(),
                valid_aws_profile,
                "a profile name of letters, digits and _ . @ + -",
            ),
        ] {
            if let Some(value) = value.filter(|v| !valid(v)) {
                out.push(Finding::new(
                    INVALID_VALUE,
                    at(rc, pointer),
                    key(pointer),
                    format!(
                        "{:?} is not {expected}; launch exports it to the command",
                        value
                    ),
                ));
            }
        }
    }
    let ctx = &rc.value.environment_context;
    let production = ctx.name == EnvironmentName::Production;
    let policy = &ctx.outbound_policy;
    let base = "/environment_context/outbound_policy";
    check_mode(rc, &format!("{base}/mode"), policy.mode, production, out);
    check_patterns(
        rc,
        &format!("{base}/dns_allow"),
        policy.mode,
        &policy.dns_allow,
        production,
        out,
    );
    let has_rules = !policy.dns_allow.is_empty() || !policy.port_allow.is_empty();
    if ctx.network_access == NetworkAccess::Disabled && has_rules {
        out.push(Finding::new(
            RULES_WITHOUT_EFFECT,
            at(rc, base),
            key(base),
            "network_access is \"disabled\": outbound_policy has no effect".into(),
        ));
    }
    if ctx.network_access == NetworkAccess::Enabled
        && policy.mode == EgressMode::Allowlist
        && policy.dns_allow.is_empty()
        && policy.ip_allow.is_empty()
    {
        out.push(Finding::new(
            EMPTY_ALLOWLIST,
            at(rc, base),
            key(base),
            "network_access is \"enabled\" but the allowlist is empty".into(),
        ));
    }
}

fn check_harness(
    policy: &Located<HarnessPolicy>,
    environment: Option<EnvironmentName>,
    out: &mut Vec<Finding>,
) {
    let production = environment == Some(EnvironmentName::Production);
    let p = &policy.value;
    if !p.deny_on_violation {
        if production {
            out.push(Finding::new(
                PRODUCTION_MONITOR_MODE,
                at(policy, "/deny_on_violation"),
                key("/deny_on_violation"),
                "deny_on_violation is false in production (monitor mode)".into(),
            ));
        } else if environment == Some(EnvironmentName::Sandbox) {
            out.push(Finding::new(
                MONITOR_MODE_IN_SANDBOX,
                at(policy, "/deny_on_violation"),
                key("/deny_on_violation"),
                "deny_on_violation is false in the sandbox environment".into(),
            ));
        }
    }
    if let Some(egress) = &p.network.egress {
        if !p.network.enabled {
            out.push(Finding::new(
                RULES_WITHOUT_EFFECT,
                at(policy, "/network/egress"),
                key("/network/egress"),
                "network.enabled is false: network.egress has no effect".into(),
            ));
        }
        check_mode(policy, "/network/egress/mode", egress.mode, production, out);
        check_patterns(
            policy,
            "/network/egress/domains",
            egress.mode,
            &egress.domains,
            production,
            out,
        );
    }
    if production && (p.observability.http_log_bodies || p.observability.http_log_headers) {
        out.push(Finding::new(
            PRODUCTION_HTTP_LOGGING,
            at(policy, "/observability"),
            key("/observability"),
            "HTTP bodies or headers are logged in production".into(),
        ));
    }
}

/// Loopback entries are local reach, not egress; the environment patterns list them
/// in `dns_allow` only.
fn egress_names(patterns: &[DomainPattern]) -> BTreeSet<String> {
    patterns
        .iter()
        .filter(|p| !crate::effective::is_loopback(p))
        .map(ToString::to_string)
        .collect()
}

fn check_alignment(rc: &Located<CodexRc>, policy: &Located<HarnessPolicy>, out: &mut Vec<Finding>) {
    let access = rc.value.environment_context.network_access;
    let enabled = policy.value.network.enabled;
    if (access == NetworkAccess::Enabled) != enabled {
        out.push(Finding::new(
            NETWORK_MISMATCH,
            at(policy, "/network/enabled"),
            key("/network/enabled"),
            format!(
                "{}: network_access is \"{}\" but network.enabled is {enabled}",
                rc.source.path().display(),
                access.as_str()
            ),
        ));
    }
    let rc_policy = &rc.value.environment_context.outbound_policy;
    let empty = crate::Egress::default();
    let egress = policy.value.network.egress.as_ref().unwrap_or(&empty);
    if egress_names(&rc_policy.dns_allow) != egress_names(&egress.domains) {
        out.push(Finding::new(
            ALLOWLIST_DIFFERS,
            at(policy, "/network/egress/domains"),
            key("/network/egress/domains"),
            format!("differs from dns_allow in {}", rc.source.path().display()),
        ));
    }
    let ports = |list: &[std::num::NonZeroU16]| list.iter().copied().collect::<BTreeSet<_>>();
    if !rc_policy.port_allow.is_empty()
        && !egress.ports.is_empty()
        && ports(&rc_policy.port_allow) != ports(&egress.ports)
    {
        out.push(Finding::new(
            PORTS_DIFFER,
            at(policy, "/network/egress/ports"),
            key("/network/egress/ports"),
            format!("differs from port_allow in {}", rc.source.path().display()),
        ));
    }
}

fn secret_finding(
    kind: secrets::SecretKind,
    location: Location,
    key_path: String,
    length: usize,
) -> Finding {
    Finding::new(
        LITERAL_SECRET,
        Some(location),
        Some(key_path),
        format!(
            "looks like {} ({length} characters); the value is not shown",
            kind.describe()
        ),
    )
}

fn scan_json_secrets(path: &Path, out: &mut Vec<Finding>) {
    let Ok(source) = SourceFile::read(path) else {
        return;
    };
    let Ok(value) = serde_json::from_str::<serde_json::Value>(source.text()) else {
        return;
    };
    let locator = crate::json_source::locate(&source).unwrap_or_default();
    let mut stack = vec![(String::new(), String::new(), &value)];
    while let Some((pointer, key_name, value)) = stack.pop() {
        match value {
            serde_json::Value::String(text) => {
                if let Some(kind) = secrets::classify(&key_name, text) {
                    out.push(secret_finding(
                        kind,
                        source.locate(locator.offset(&pointer)),
                        crate::dotted(&pointer),
                        text.len(),
                    ));
                }
            }
            serde_json::Value::Object(map) => {
                for (k, v) in map.iter().rev() {
                    stack.push((
                        format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                        k.clone(),
                        v,
                    ));
                }
            }
            serde_json::Value::Array(items) => {
                for (i, v) in items.iter().enumerate().rev() {
                    stack.push((format!("{pointer}/{i}"), key_name.clone(), v));
                }
            }
            _ => {}
        }
    }
}

fn scan_toml_secrets(path: &Path, out: &mut Vec<Finding>) {
    let Ok(source) = SourceFile::read(path) else {
        return;
    };
    let Ok(table) = toml::from_str::<toml::Table>(source.text()) else {
        return;
    };
    let mut stack: Vec<(String, String, &toml::Value)> = table
        .iter()
        .map(|(k, v)| (k.clone(), k.clone(), v))
        .collect();
    while let Some((path_key, key_name, value)) = stack.pop() {
        match value {
            toml::Value::String(text) => {
                if let Some(kind) = secrets::classify(&key_name, text) {
                    let offset = source.text().find(text.as_str()).unwrap_or(0);
                    out.push(secret_finding(
                        kind,
                        source.locate(offset),
                        path_key,
                        text.len(),
                    ));
                }
            }
            toml::Value::Table(t) => {
                stack.extend(
                    t.iter()
                        .map(|(k, v)| (format!("{path_key}.{k}"), k.clone(), v)),
                );
            }
            toml::Value::Array(items) => {
                stack.extend(
                    items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| (format!("{path_key}[{i}]"), key_name.clone(), v)),
                );
            }
            _ => {}
        }
    }
}
