//! `--show-profile`.

use codex_policy::model::NetworkMode;
use codex_policy::{Capabilities, ResolvedProfile};
use serde::Serialize;

use crate::{Failure, to_json};

#[derive(Serialize)]
struct ProfileReport<'a> {
    #[serde(flatten)]
    resolved: &'a ResolvedProfile,
    capabilities: Capabilities,
}

/// The resolved profile as human text or JSON.
pub(crate) fn render(resolved: &ResolvedProfile, json: bool) -> Result<String, Failure> {
    let caps = resolved.profile.capabilities();
    if json {
        return to_json(&ProfileReport {
            resolved,
            capabilities: caps,
        });
    }
    let network = match (caps.network, resolved.sandbox_policy.network_mode()) {
        (false, _) => "denied".to_owned(),
        (true, NetworkMode::Limited) => format!(
            "read-only, through the egress proxy ({})",
            NetworkMode::Limited.describe()
        ),
        (true, _) => "allowed".to_owned(),
    };
    let mut lines = vec![
        format!("profile:        {}", resolved.profile),
        format!("chosen by:      {}", resolved.source),
        format!("file writes:    {}", caps.file_writes),
        format!("network:        {network}"),
        format!(
            "sandbox policy: {}",
            serde_json::to_string(&resolved.sandbox_policy).map_err(Failure::internal)?
        ),
    ];
    lines.push(format!(
        "approval:       {} ({})",
        resolved.approval.policy, resolved.approval
    ));
    lines.extend(crate::explain::chain_lines(
        resolved,
        "named profile:  ",
        "  extends:      ",
    ));
    for lost in &resolved.overridden {
        lines.push(format!(
            "overridden:     {} from {}",
            lost.profile, lost.source
        ));
    }
    Ok(lines.join("\n"))
}
