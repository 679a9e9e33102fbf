//! The audit event: one JSON object per line.

use serde::{Deserialize, Serialize};

/// What was attempted.
///
/// # Examples
///
/// ```
/// use codex_audit::Operation;
///
/// let operation: Operation = serde_json::from_str(r#""network_connect""#)?;
/// assert_eq!(operation, Operation::NetworkConnect);
/// assert_eq!(serde_json::to_string(&Operation::PolicyLoad)?, r#""policy_load""#);
/// assert!(serde_json::from_str::<Operation>(r#""NetworkConnect""#).is_err());
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Operation {
    /// A file was read.
    FileRead,
    /// A file was written.
    FileWrite,
    /// A command line was decided on.
    CommandExec,
    /// A network connection.
    NetworkConnect,
    /// A sandbox started a command.
    SandboxStart,
    /// The sandboxed command ended.
    SandboxExit,
    /// A policy or configuration file was loaded.
    PolicyLoad,
    /// A privilege elevation.
    Elevation,
}

/// What was decided.
///
/// # Examples
///
/// Sampling may drop allowed events, never refusals:
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, Operation, SinkOptions};
///
/// let decision: AuditDecision = serde_json::from_str(r#""requires_approval""#)?;
/// assert!(decision.is_refusal() && !AuditDecision::Allowed.is_refusal());
///
/// let dir = tempfile::tempdir()?;
/// let options = SinkOptions::default().with_sample_rate(0.0);
/// let mut sink = AuditSink::open(&dir.path().join("audit.jsonl"), options)?;
/// let event = |decision| AuditEvent::now("s1", Operation::CommandExec, "ls", decision, "execpolicy");
/// assert!(!sink.record(event(AuditDecision::Allowed))?);
/// assert!(sink.record(event(decision))?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditDecision {
    /// Allowed.
    Allowed,
    /// Denied.
    Denied,
    /// Held for approval.
    RequiresApproval,
}

impl AuditDecision {
    /// Events that sampling must never drop.
    pub const fn is_refusal(self) -> bool {
        matches!(self, Self::Denied | Self::RequiresApproval)
    }
}

/// HTTP details of a network event, kept only when the policy asks for them
/// (`http_log_headers`, `http_log_bodies`); header values named in
/// `redact_headers` are redacted.
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, AuditSink, HttpDetails, Operation, SinkOptions, read_log};
///
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("audit.jsonl");
/// let options = SinkOptions::default()
///     .with_http_log_headers(true)
///     .with_redact_headers(vec!["X-Session".to_owned()]);
/// let mut sink = AuditSink::open(&path, options)?;
/// let http = HttpDetails::default().with_method("POST")
///     .with_header("Accept", "application/json")
///     .with_header("X-Session", "abc123")
///     .with_body(r#"{"query":"status"}"#);
/// sink.record(AuditEvent::now("s1", Operation::NetworkConnect, "api.example.com:443",
///     AuditDecision::Allowed, "network-proxy").with_http(http))?;
///
/// let logged = read_log(&path)?.events.remove(0).http.ok_or("no HTTP details")?;
/// assert_eq!(logged.method.as_deref(), Some("POST"));
/// assert_eq!(logged.headers[0], ("Accept".to_owned(), "application/json".to_owned()));
/// assert_eq!(logged.headers[1], ("X-Session".to_owned(), "[REDACTED]".to_owned()));
/// assert_eq!(logged.body, None); // bodies are kept only with `http_log_bodies`
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct HttpDetails {
    /// Request method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Headers as name/value pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Body (text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl HttpDetails {
    /// The request method.
    #[must_use]
    pub fn with_method(mut self, method: impl Into<String>) -> Self {
        self.method = Some(method.into());
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body (text).
    #[must_use]
    pub fn with_body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }
}

/// One audit event.
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, Operation};
///
/// let mut event = AuditEvent::now("s1", Operation::SandboxExit, "cargo test",
///     AuditDecision::Allowed, "sandbox").with_profile("workspace");
/// event.exit_status = Some(101);
/// event.duration_ms = Some(1520);
///
/// let json = serde_json::to_value(&event)?;
/// assert_eq!(json["operation"], "sandbox_exit");
/// assert_eq!(json["exit_status"], 101);
/// assert_eq!(json["profile"], "workspace");
/// assert!(json.get("reason").is_none()); // unset fields are left out
/// assert_eq!(serde_json::from_value::<AuditEvent>(json)?, event);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "json-schema", derive(schemars::JsonSchema))]
#[non_exhaustive]
pub struct AuditEvent {
    /// RFC 3339 UTC with milliseconds: `2026-11-23T18:30:00.123Z`.
    pub timestamp: String,
    /// The session (one per `run` unless `--session-id` is given).
    pub session_id: String,
    /// What was attempted.
    pub operation: Operation,
    /// What it was attempted on (a command line, a path, a host), redacted.
    pub target: String,
    /// What was decided.
    pub decision: AuditDecision,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Which component decided (`execpolicy`, `sandbox`, `config`, …).
    pub source: String,
    /// For `sandbox_exit`: the command's exit code, or 128+N for signal N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_status: Option<i32>,
    /// For `sandbox_exit`: how long the command ran, in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// The security profile in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// The OpenTelemetry event name of network events
    /// (`codex.network_proxy.domain_policy_decision`, `codex.network_proxy.block_decision`).
    #[serde(
        default,
        rename = "event.name",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_name: Option<String>,
    /// HTTP details of network events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpDetails>,
}

impl AuditEvent {
    /// An event stamped now. The optional fields are set afterwards
    /// (`event.exit_status = Some(0)`) or with the `with_*` methods: the
    /// event may gain fields, so it cannot be built as a struct literal.
    pub fn now(
        session_id: &str,
        operation: Operation,
        target: impl Into<String>,
        decision: AuditDecision,
        source: &str,
    ) -> Self {
        Self {
            timestamp: timestamp_now(),
            session_id: session_id.to_owned(),
            operation,
            target: target.into(),
            decision,
            reason: None,
            source: source.to_owned(),
            exit_status: None,
            duration_ms: None,
            profile: None,
            event_name: None,
            http: None,
        }
    }

    /// Sets the reason.
    #[must_use]
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Sets the security profile in force.
    #[must_use]
    pub fn with_profile(mut self, profile: impl Into<String>) -> Self {
        self.profile = Some(profile.into());
        self
    }

    /// Sets the HTTP details of a network event.
    #[must_use]
    pub fn with_http(mut self, http: HttpDetails) -> Self {
        self.http = Some(http);
        self
    }
}

/// RFC 3339, UTC, milliseconds, `Z`.
pub(crate) fn timestamp_now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A fresh session id: 16 random bytes, hex.
///
/// # Examples
///
/// ```
/// use codex_audit::{AuditDecision, AuditEvent, Operation, new_session_id};
///
/// let session = new_session_id();
/// assert_eq!(session.len(), 32);
/// assert!(session.bytes().all(|b| b.is_ascii_hexdigit()));
/// assert_ne!(session, new_session_id());
/// let event = AuditEvent::now(&session, Operation::CommandExec, "ls", AuditDecision::Allowed, "execpolicy");
/// assert_eq!(event.session_id, session);
/// ```
pub fn new_session_id() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    let random = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if random.is_err() {
        // No /dev/urandom: time and pid still make a run's id unique on this host.
        let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
        bytes[..8].copy_from_slice(&nanos.to_le_bytes());
        bytes[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
