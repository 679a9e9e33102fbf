//! The decision every connection goes through, whichever protocol asked for
//! it: the rules, one resolution, the addresses, the limits, one audit event.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use codex_audit::{AuditDecision, AuditEvent, HttpDetails, Operation};
use codex_policy_model::Host;
use tokio::net::TcpStream;
use tokio::sync::Semaphore;

use crate::bound::{MAX_TARGET, bound, bound_http};
use crate::decision::{BLOCK_EVENT, CompiledRules, DOMAIN_POLICY_EVENT, Decision, Reason, decide};
use crate::inspect::Inspection;
use crate::limits::{Admitted, HardLimits, RunLimits};
use crate::resolver::Resolver;

/// The audit callback.
pub(crate) type AuditFn = dyn Fn(AuditEvent) -> Result<(), String> + Send + Sync;

/// What every connection of one run shares.
pub(crate) struct Shared {
    pub(crate) rules: CompiledRules,
    pub(crate) session_id: String,
    pub(crate) audit: Option<Box<AuditFn>>,
    pub(crate) log_headers: bool,
    pub(crate) log_bodies: bool,
    pub(crate) resolver: Box<dyn Resolver>,
    pub(crate) hard: HardLimits,
    pub(crate) limits: RunLimits,
    pub(crate) connections: Arc<Semaphore>,
    /// Limited mode's HTTPS inspection (`Some` exactly in limited mode).
    pub(crate) inspection: Option<Inspection>,
}

/// The outcome of [`Shared::gate`].
pub(crate) enum Gate {
    /// Go: connect to one of these (vetted) addresses while holding the slot.
    Pass {
        addresses: Vec<SocketAddr>,
        admitted: Admitted,
    },
    /// Refused by the rules or a limit (and logged).
    Refused(Decision),
    /// The audit callback failed: refused, nothing unlogged goes through.
    AuditFailed,
    /// The name did not resolve (nothing was decided, nothing logged unless
    /// monitor mode had a violation to record).
    ResolveFailed(io::Error),
}

/// A destination as the audit log and the block answers name it.
pub(crate) fn host_port(host: &Host, port: u16) -> String {
    match host {
        Host::Name(name) => format!("{name}:{port}"),
        Host::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{port}"),
        Host::Ip(IpAddr::V4(v4)) => format!("{v4}:{port}"),
    }
}

impl Shared {
    /// Decides on `host:port` (steps 1 to 6) and logs the one event of the
    /// decision. `target` and `http` are what the event records.
    pub(crate) async fn gate(
        &self,
        host: &Host,
        port: u16,
        target: String,
        http: Option<HttpDetails>,
    ) -> Gate {
        let monitor = self.rules.monitor();
        let mut violation: Option<Reason> = None;
        let decision = decide(&self.rules, host, port);
        if let Some(reason) = decision.reason() {
            if !monitor {
                return self.refuse(decision, target, http);
            }
            violation = Some(reason);
        }

        // 5. One resolution, for allowed names only (or, in monitor mode,
        // for what is let through anyway).
        let ips: Vec<IpAddr> = match host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) if name.as_str() == "localhost" => {
                let ips = vec![
                    IpAddr::V4(Ipv4Addr::LOCALHOST),
                    IpAddr::V6(Ipv6Addr::LOCALHOST),
                ];
                let listed = self.rules.vet_listed(&ips);
                if let Some(reason) = listed.reason() {
                    if !monitor {
                        return self.refuse(listed, target, http);
                    }
                    violation.get_or_insert(reason);
                }
                ips
            }
            Host::Name(name) => {
                let resolved = match tokio::time::timeout(
                    self.hard.connect_timeout,
                    self.resolver.resolve(name.as_str(), port),
                )
                .await
                {
                    Ok(Ok(ips)) if !ips.is_empty() => Ok(ips),
                    Ok(Ok(_)) => Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        "the name has no address",
                    )),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "name resolution timed out",
                    )),
                };
                let ips = match resolved {
                    Ok(ips) => ips,
                    Err(e) => {
                        if let Some(reason) = violation
                            && self.record_monitored(reason, target, http).is_err()
                        {
                            return Gate::AuditFailed;
                        }
                        return Gate::ResolveFailed(e);
                    }
                };
                let vetted = self.rules.vet_resolved(&ips);
                if let Some(reason) = vetted.reason() {
                    if !monitor {
                        return self.refuse(vetted, target, http);
                    }
                    violation.get_or_insert(reason);
                }
                ips
            }
        };

        // 6. Limits of the run.
        let admitted = match self.limits.admit().await {
            Some(admitted) => admitted,
            None if monitor => {
                violation.get_or_insert(Reason::LimitExceeded);
                Admitted::unlimited()
            }
            None => {
                return self.refuse(Decision::Deny(Reason::LimitExceeded), target, http);
            }
        };

        let logged = match violation {
            Some(reason) => self.record_monitored(reason, target, http),
            None => self.record_allowed(target, http),
        };
        if logged.is_err() {
            return Gate::AuditFailed;
        }
        Gate::Pass {
            addresses: ips
                .into_iter()
                .map(|ip| SocketAddr::new(ip, port))
                .collect(),
            admitted,
        }
    }

    /// Records an allowed connection or request.
    pub(crate) fn record_allowed(
        &self,
        target: String,
        http: Option<HttpDetails>,
    ) -> Result<(), ()> {
        self.record(
            AuditEvent::now(
                &self.session_id,
                Operation::NetworkConnect,
                target,
                AuditDecision::Allowed,
                SOURCE,
            )
            .with_reason("allowed: the policy allows this destination"),
            DOMAIN_POLICY_EVENT,
            http,
        )
    }

    /// Records a refusal: `Refused`, or `AuditFailed` when it could not be
    /// recorded.
    pub(crate) fn refuse(
        &self,
        decision: Decision,
        target: String,
        http: Option<HttpDetails>,
    ) -> Gate {
        let Some(reason) = decision.reason() else {
            return Gate::Refused(decision);
        };
        let audit_decision = match decision {
            Decision::Ask(_) => AuditDecision::RequiresApproval,
            _ => AuditDecision::Denied,
        };
        let event = AuditEvent::now(
            &self.session_id,
            Operation::NetworkConnect,
            target,
            audit_decision,
            SOURCE,
        )
        .with_reason(format!("{}: {}", reason.code(), reason.describe()));
        match self.record(event, reason.event_name(), http) {
            Ok(()) => Gate::Refused(decision),
            Err(()) => Gate::AuditFailed,
        }
    }

    pub(crate) fn record_monitored(
        &self,
        reason: Reason,
        target: String,
        http: Option<HttpDetails>,
    ) -> Result<(), ()> {
        let event = AuditEvent::now(
            &self.session_id,
            Operation::NetworkConnect,
            target,
            AuditDecision::Denied,
            SOURCE,
        )
        .with_reason(format!(
            "monitor mode: let through; would be refused: {} ({})",
            reason.code(),
            reason.describe()
        ));
        self.record(event, reason.event_name(), http)
    }

    /// Records the refusal of a malformed or evasive request (answered 400,
    /// 431, or a SOCKS5 failure): decision `denied`, reason `malformed
    /// request: <why>`, `target` the destination as the client gave it
    /// (`unknown` when it gave none). The answer is a refusal whether or not
    /// the event could be written.
    pub(crate) fn record_malformed(&self, target: String, why: &str) {
        let event = AuditEvent::now(
            &self.session_id,
            Operation::NetworkConnect,
            target,
            AuditDecision::Denied,
            SOURCE,
        )
        .with_reason(format!("malformed request: {why}"));
        let _ = self.record(event, BLOCK_EVENT, None);
    }

    /// Hands one event to the callback, bounded (see [`crate::bound`]);
    /// `Err` when it fails.
    fn record(
        &self,
        mut event: AuditEvent,
        event_name: &str,
        http: Option<HttpDetails>,
    ) -> Result<(), ()> {
        let Some(audit) = &self.audit else {
            return Ok(());
        };
        event.event_name = Some(event_name.to_owned());
        event.target = bound(std::mem::take(&mut event.target), MAX_TARGET);
        event.reason = event.reason.map(|r| bound(r, MAX_TARGET));
        if let Some(http) = http {
            event = event.with_http(bound_http(http));
        }
        // The callback may write and sync a file: let the runtime move other
        // connections to another worker meanwhile.
        tokio::task::block_in_place(|| audit(event)).map_err(|_| ())
    }
}

/// `source` of every event.
pub(crate) const SOURCE: &str = "network-proxy";

/// Connects to the first of `addresses` that answers, each within `timeout`.
pub(crate) async fn connect_any(
    addresses: &[SocketAddr],
    timeout: Duration,
) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address to connect to");
    for address in addresses {
        match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Ok(Err(e)) => last = e,
            Err(_) => {
                last = io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("connecting to {address} timed out"),
                );
            }
        }
    }
    Err(last)
}
