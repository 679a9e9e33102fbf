//! The macOS backend's Seatbelt profile for a session, generated on every
//! OS from the same composition a Linux run enforces: what
//! `codex-policy debug seatbelt` prints (and, on macOS, runs).

use std::ffi::OsString;
use std::path::Path;

use codex_policy_model::EgressPorts;
use codex_sandbox_macos::{SeatbeltNetwork, SeatbeltProfile, UnixSockets};

use crate::compose::Composition;
use crate::environment::Environment;
use crate::error::Error;

/// A command under Seatbelt: the profile and the exact `sandbox-exec`
/// argument vector.
///
/// # Examples
///
/// [`SessionBuilder::seatbelt`](crate::SessionBuilder::seatbelt) makes one on
/// every OS (what `codex-policy debug seatbelt` shows):
///
/// ```
/// use std::ffi::OsString;
/// use codex_policy::{Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let command = [OsString::from("make"), OsString::from("test")];
/// let plan = Session::builder()
///     .profile("workspace".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .seatbelt(&command)?
///     .ok_or("a restricted profile has a Seatbelt profile")?;
/// assert_eq!(plan.argv[0], "/usr/bin/sandbox-exec");
/// assert!(plan.argv.ends_with(&command));
/// assert!(plan.profile.text().contains("(deny default)"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SeatbeltPlan {
    /// The generated profile and its parameters.
    pub profile: SeatbeltProfile,
    /// `/usr/bin/sandbox-exec -p PROFILE -D NAME=VALUE … -- COMMAND…`.
    pub argv: Vec<OsString>,
}

/// The plan for `command` under `composition`; `None` under full access,
/// which runs commands unconfined. The network is off, open, or — when the
/// composition filters it — only the egress proxy's loopback ports; the
/// unix sockets are the composition's allowed ones; the hidden paths are
/// the composition's, and Codex's home stays read-only.
pub(crate) fn plan(
    composition: &Composition,
    env: &Environment,
    command: &[OsString],
) -> Result<Option<SeatbeltPlan>, Error> {
    let policy = composition.sandbox_policy();
    if policy.has_full_disk_write_access() {
        return Ok(None);
    }
    let effective = &composition.effective;
    let network = if effective.network_enforced_open {
        SeatbeltNetwork::Full
    } else if effective.egress.is_some() {
        let ports = EgressPorts::default();
        SeatbeltNetwork::Proxy {
            http: ports.http,
            socks: ports.socks,
        }
    } else {
        SeatbeltNetwork::Off
    };
    let sockets = if effective.unix_sockets.is_empty() {
        UnixSockets::None
    } else {
        UnixSockets::Allow(effective.unix_sockets.clone())
    };
    let codex_home = env
        .codex_home()
        .map_err(|e| Error::Configuration(e.into()))?;
    let tmpdir = env.var("TMPDIR");
    let profile = SeatbeltProfile::builder(policy, &composition.cwd)
        .tmpdir(tmpdir.as_deref())
        .network(network)
        .unix_sockets(sockets)
        .hidden_paths(composition.hidden.iter().map(Path::to_path_buf))
        .protected_paths(codex_home)
        .build()
        .map_err(Error::Seatbelt)?;
    let argv = profile.sandbox_exec_argv(command);
    Ok(Some(SeatbeltPlan { profile, argv }))
}
