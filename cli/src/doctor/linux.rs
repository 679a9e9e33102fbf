//! Linux: Landlock, seccomp and namespaces as probed.

use std::fmt;

use codex_policy_model::{EgressPorts, EnvironmentPolicy, HiddenPath, NetworkMode};
use codex_profiles::SecurityProfile;
use serde::Serialize;

use super::{DefaultHidden, ProfileVerdict};
use crate::error::Error;
use crate::native::{Compatibility, HostCapabilities, LinuxSandbox};

/// The host's sandboxing features and every profile's verdict.
///
/// # Examples
///
/// What `codex-policy doctor` prints; probing starts no command.
///
/// ```
/// use codex_policy::{HostReport, SecurityProfile};
///
/// let report = HostReport::probe()?;
/// assert_eq!(report.profiles.len(), SecurityProfile::ALL.len());
/// // `trusted` needs no protection: every host enforces it.
/// let trusted = report.profiles.iter().find(|v| v.profile == SecurityProfile::Trusted);
/// assert!(trusted.is_some_and(|v| v.fully_enforceable));
/// assert!(report.to_string().starts_with("kernel:"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Serialize)]
#[non_exhaustive]
pub struct HostReport {
    /// What the kernel offers.
    pub host: HostCapabilities,
    /// One verdict per profile, in [`SecurityProfile::ALL`] order.
    pub profiles: Vec<ProfileVerdict>,
    /// Whether a filtered network (allow and deny lists, ports, limits) can
    /// be enforced here: an empty network namespace whose only way out is
    /// the egress proxy. When not, such a policy is refused, or run with
    /// the network off under best effort.
    pub filtered_network: bool,
    /// Why a filtered network cannot be enforced here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filtered_network_error: Option<String>,
    /// The read-only network's upstream roots: how many certificates the
    /// egress proxy would verify HTTPS servers against, and where from
    /// (`SSL_CERT_FILE`/`SSL_CERT_DIR`, else the system's store). None: every
    /// inspected HTTPS request would be refused.
    pub upstream_roots: usize,
    /// Where the upstream roots come from.
    pub upstream_roots_origin: String,
    /// The default hidden paths that exist here (credential stores, Codex's
    /// `auth.json`, the elevation grants), which every restricted profile
    /// hides; [`ProfileVerdict::protections`] says whether this host can.
    /// Reading `$HOME`, `$CODEX_HOME` and the variables that move a store.
    pub hidden_paths: Vec<HiddenPath>,
    /// The variables of this process the default environment policy keeps
    /// from every command (`NAME: why`; values are never shown). `explain`
    /// shows the configured policy's.
    pub filtered_variables: Vec<String>,
}

impl HostReport {
    /// Probes the host once (user namespaces included) and plans every
    /// profile for the current directory. Starts nothing.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the working directory cannot be read;
    /// [`Error::Configuration`] when Codex's home cannot be found;
    /// [`Error::Unenforceable`] when a profile cannot even be planned.
    pub fn probe() -> Result<Self, Error> {
        let host = HostCapabilities::probe(true);
        let DefaultHidden { cwd, hide, present } = DefaultHidden::find()?;
        let sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, host.clone())
            .hide_paths(hide.clone());
        let tmpdir = std::env::var_os("TMPDIR");
        // A read-only network (net-read-only) runs behind the egress proxy,
        // as a filtered network does: judged as such.
        let filtered_sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, host.clone())
            .hide_paths(hide)
            .filtered_network(EgressPorts::default());
        let mut profiles = Vec::new();
        for profile in SecurityProfile::ALL {
            let policy = profile.to_sandbox_policy();
            let plan = if policy.network_mode() == NetworkMode::Limited {
                filtered_sandbox.plan(&policy.with_network_closed(), &cwd, tmpdir.as_deref())
            } else {
                sandbox.plan(&policy, &cwd, tmpdir.as_deref())
            }
            .map_err(Error::Unenforceable)?;
            profiles.push(ProfileVerdict {
                profile,
                fully_enforceable: plan.report.is_complete(),
                protections: plan.report,
            });
        }
        let filtered = SecurityProfile::WorkspaceNet
            .to_sandbox_policy()
            .with_network_closed();
        let filtered_network = LinuxSandbox::with_host(Compatibility::Strict, host.clone())
            .filtered_network(EgressPorts::default())
            .plan(&filtered, &cwd, tmpdir.as_deref())
            .err()
            .map(|e| e.to_string());
        let roots = codex_network_proxy::UpstreamRoots::system();
        Ok(Self {
            host,
            profiles,
            filtered_network: filtered_network.is_none(),
            filtered_network_error: filtered_network,
            upstream_roots: roots.len(),
            upstream_roots_origin: roots.origin().to_owned(),
            hidden_paths: present,
            filtered_variables: EnvironmentPolicy::default().dropped(std::env::vars_os()),
        })
    }

    /// Whether every profile is fully enforceable here.
    pub fn fully_enforceable(&self) -> bool {
        self.profiles.iter().all(|p| p.fully_enforceable)
    }
}

impl fmt::Display for HostReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = &self.host;
        let yes_no = |b: bool| if b { "yes" } else { "no" };
        writeln!(f, "kernel:            {}", host.kernel)?;
        match host.landlock_abi {
            Some(abi) => writeln!(f, "landlock:          ABI {abi}")?,
            None => writeln!(
                f,
                "landlock:          unavailable ({})",
                host.landlock_error.as_deref().unwrap_or("?")
            )?,
        }
        writeln!(f, "seccomp:           {}", yes_no(host.seccomp))?;
        match (host.namespaces, &host.namespaces_error) {
            (Some(true), _) => writeln!(f, "user namespaces:   yes (user, mount, network, pid)")?,
            (_, Some(err)) => writeln!(f, "user namespaces:   no ({err})")?,
            _ => writeln!(f, "user namespaces:   unknown")?,
        }
        match &self.filtered_network_error {
            None => writeln!(
                f,
                "filtered network:  yes (empty network namespace; the egress proxy is its only \
                 way out)"
            )?,
            Some(why) => writeln!(f, "filtered network:  no ({why})")?,
        }
        writeln!(
            f,
            "read-only network: HTTPS inspected; upstream servers verified against {} \
             certificate(s) from {}{}",
            self.upstream_roots,
            self.upstream_roots_origin,
            if self.upstream_roots == 0 {
                " (none: every inspected HTTPS request would be refused; set SSL_CERT_FILE)"
            } else {
                ""
            }
        )?;
        let namespaces = host.namespaces == Some(true);
        if self.hidden_paths.is_empty() {
            writeln!(
                f,
                "hidden paths:      none of the default credential stores exist here"
            )?;
        } else {
            writeln!(
                f,
                "hidden paths:      {} (every profile but trusted)",
                if namespaces {
                    "empty read-only mounts in a private mount namespace"
                } else {
                    "CANNOT be hidden here: needs user namespaces (a strict session refuses \
                     with 125; --best-effort runs with them readable)"
                }
            )?;
            for hidden in &self.hidden_paths {
                writeln!(f, "  {}  <- {}", hidden.path.display(), hidden.decided_by)?;
            }
        }
        super::write_environment(f, &self.filtered_variables)?;
        super::write_verdicts(f, &self.profiles)?;
        Ok(())
    }
}
