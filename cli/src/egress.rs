//! The filtered network of a session: the egress rules (the composed files'
//! and the rules files' `network_rule`s), the proxy that enforces them for
//! the session's commands, and the standalone proxy of `codex-policy proxy`.
//!
//! A command of a filtered session runs in an empty network namespace: its
//! only way out is a pair of listeners on its own loopback that the sandbox
//! hands to this process, where the proxy decides on every connection.

use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use codex_network_proxy::{EgressProxy, InspectionCa, RunningProxy, UpstreamRoots};
use codex_policy_model::effective::{AllowlistMiss, EffectivePolicy, EgressRules, NetworkLevel};
use codex_policy_model::{DomainPattern, EgressListeners, NetworkMode, SandboxPolicy};

use crate::environment::Environment;
use crate::error::{ConfigurationError, Error};
use crate::notice::{Notice, Notices};
use crate::session::Core;

/// What a rules file's `network_rule` does to the egress rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    not(feature = "exec-policy"),
    expect(
        dead_code,
        reason = "only rules files, of the exec-policy feature, make them"
    )
)]
pub(crate) enum NetworkRuleEffect {
    /// `deny`: denied, whatever the protocol it names (stricter).
    Deny,
    /// `prompt`: refused with `ask` even where an allow list names it (with
    /// `deny` under a managed-only allowlist, which nobody may approve past).
    Ask,
    /// `allow`: nothing. The runtime files, `config.toml` and the managed
    /// requirements decide what is allowed; a rules file cannot widen that
    /// (a managed-only allowlist, or two runtime files that must agree).
    Allow,
}

/// The egress rules of a session, or `None` when its network is off or open
/// without any filter. Any `network_rule` of the rules files filters an open
/// network (see [`NetworkRuleEffect`] for what each does).
pub(crate) fn session_egress(
    effective: &EffectivePolicy,
    policy: &SandboxPolicy,
    network_rules: &[(DomainPattern, NetworkRuleEffect)],
) -> Option<EgressRules> {
    let mut rules = match &effective.egress {
        Some(rules) => rules.clone(),
        None if policy.has_network_access() && !network_rules.is_empty() => {
            EgressRules::open().with_monitor(!effective.deny_on_violation.value)
        }
        None => return None,
    };
    for (pattern, effect) in network_rules {
        rules = match effect {
            NetworkRuleEffect::Deny => rules.denying(pattern.clone()),
            // Under a managed-only allowlist nobody may approve: denied.
            NetworkRuleEffect::Ask if rules.allowlist_miss == AllowlistMiss::Deny => {
                rules.denying(pattern.clone())
            }
            NetworkRuleEffect::Ask => rules.asking(pattern.clone()),
            NetworkRuleEffect::Allow => rules,
        };
    }
    Some(rules)
}

/// Limited mode's HTTPS inspection for one session: a certificate authority
/// made for it (its key stays in this process's memory), the roots the
/// proxy verifies upstream servers against, and the bundle of both (PEM)
/// that the session's commands are told to trust. A sandboxed command gets
/// the bundle as a file of its own sandbox
/// ([`LinuxSandbox::ca_bundle`](crate::native::LinuxSandbox::ca_bundle)), which no
/// other process can reach; only the standalone proxy writes it to disk
/// ([`BundleFile`]).
pub(crate) struct Inspection {
    ca: InspectionCa,
    roots: UpstreamRoots,
    bundle: String,
}

impl std::fmt::Debug for Inspection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inspection")
            .field("roots", &self.roots)
            .finish_non_exhaustive()
    }
}

impl Inspection {
    /// For `rules` in limited mode: a fresh authority and the system's roots
    /// (as `SSL_CERT_FILE`/`SSL_CERT_DIR` of this process name them). `None`
    /// in full mode.
    pub(crate) fn for_rules(rules: &EgressRules, notices: &Notices) -> Result<Option<Self>, Error> {
        if rules.mode != NetworkMode::Limited {
            return Ok(None);
        }
        let ca = InspectionCa::generate().map_err(Error::EgressProxy)?;
        let roots = UpstreamRoots::system();
        if roots.is_empty() {
            notices.emit(Notice::warning(format!(
                "read-only network: no root certificate found in {}: every HTTPS request will \
                 be refused (upstream_tls); set SSL_CERT_FILE or SSL_CERT_DIR",
                roots.origin()
            )));
        }
        for problem in roots.problems() {
            notices.emit(Notice::note(format!(
                "read-only network: a root certificate location was skipped: {problem}"
            )));
        }
        let bundle = roots.trust_bundle(&ca);
        Ok(Some(Self { ca, roots, bundle }))
    }

    /// The bundle (PEM): the system's roots, then the run's authority.
    pub(crate) fn bundle(&self) -> &str {
        &self.bundle
    }
}

/// The standalone proxy's bundle on disk, for programs on the host:
/// `$CODEX_HOME/ca-bundles/run-XXXXXX/ca-bundle.pem`, in directories of this
/// user that nobody else may write, removed when the proxy stops.
#[derive(Debug)]
struct BundleFile {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl BundleFile {
    fn write(inspection: &Inspection, env: &Environment) -> Result<Self, Error> {
        let io = |source| Error::Io {
            what: "writing the proxy's certificate bundle",
            source,
        };
        let home = env
            .codex_home()
            .map_err(|e| Error::Configuration(e.into()))?
            .ok_or(ConfigurationError::NoCodexHome)?;
        let parent = home.join(BUNDLES);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&parent)
            .map_err(io)?;
        private_directory(&home).map_err(io)?;
        private_directory(&parent).map_err(io)?;
        let dir = tempfile::Builder::new()
            .prefix("run-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir_in(&parent)
            .map_err(io)?;
        let path = dir.path().join("ca-bundle.pem");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io)?;
        file.write_all(inspection.bundle.as_bytes()).map_err(io)?;
        Ok(Self { path, _dir: dir })
    }
}

/// `dir` must be a directory (not a link to one) of this user that nobody
/// else may write: the bundle programs trust is made beneath it.
fn private_directory(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != me || meta.mode() & 0o022 != 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!(
                "{} is not a directory of this user that only it may write (a link, another \
                 owner, or group/world-writable): refusing to keep the certificate bundle there",
                dir.display()
            ),
        ));
    }
    Ok(())
}

/// Where the standalone proxy's bundles live, under `$CODEX_HOME`.
const BUNDLES: &str = "ca-bundles";

/// The proxy of a session: started at the first command that needs it (a
/// supervising start must begin single-threaded), then shared by every
/// command, so that limits count per session.
pub(crate) struct SessionProxy {
    rules: EgressRules,
    log_http: (bool, bool),
    inspection: Option<Inspection>,
    running: Mutex<Option<RunningProxy>>,
}

impl std::fmt::Debug for SessionProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionProxy")
            .field("rules", &self.rules)
            .finish_non_exhaustive()
    }
}

impl SessionProxy {
    pub(crate) fn new(
        rules: EgressRules,
        log_http: (bool, bool),
        inspection: Option<Inspection>,
    ) -> Self {
        Self {
            rules,
            log_http,
            inspection,
            running: Mutex::new(None),
        }
    }

    /// Serves a started command's listeners, starting the proxy if needed.
    pub(crate) fn serve(&self, core: &Arc<Core>, listeners: EgressListeners) -> Result<(), Error> {
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        let proxy = match &mut *running {
            Some(proxy) => proxy,
            empty => empty.insert(start(
                core,
                self.rules.clone(),
                self.log_http,
                self.inspection.as_ref(),
            )?),
        };
        proxy.serve(listeners).map_err(Error::EgressProxy)
    }
}

/// Starts a proxy whose decisions go to `core`'s audit trail.
fn start(
    core: &Arc<Core>,
    rules: EgressRules,
    log_http: (bool, bool),
    inspection: Option<&Inspection>,
) -> Result<RunningProxy, Error> {
    let trail = Arc::clone(core);
    let session_id = core.trail().session_id().to_owned();
    let mut builder = EgressProxy::builder(rules);
    if let Some(inspection) = inspection {
        builder = builder.inspection(inspection.ca.clone(), inspection.roots.clone());
    }
    builder
        .session_id(session_id)
        .log_http(log_http.0, log_http.1)
        .audit(move |mut event| {
            let mut trail = trail.trail();
            event.profile = trail.event_profile();
            trail.record(event).map_err(|e| e.to_string())
        })
        .start()
        .map_err(Error::EgressProxy)
}

/// `codex-policy proxy`: the egress proxy on this host's loopback, for the
/// effective policy of a session that runs nothing. Built by
/// [`SessionBuilder::build_proxy`](crate::SessionBuilder::build_proxy).
///
/// # Examples
///
/// Under a profile with network, on any free loopback ports:
///
/// ```
/// use codex_policy::{AuditDestination, Session};
///
/// let project = tempfile::tempdir()?;
/// # let home = tempfile::tempdir()?;
/// let proxy = Session::builder()
///     .profile("workspace-net".parse()?)
///     .cwd(project.path())
/// #   .environment(codex_policy::Environment::from_vars([("HOME", home.path())]))
///     .audit(AuditDestination::Off)
///     .build_proxy("127.0.0.1:0".parse()?, "127.0.0.1:0".parse()?)?;
/// assert!(proxy.http_addr().ip().is_loopback() && proxy.http_addr().port() != 0);
/// // What a program on the host needs to go through it.
/// let http = format!("http://{}", proxy.http_addr());
/// assert!(proxy.environment().iter().any(|(key, value)| *key == "HTTP_PROXY" && *value == http));
/// proxy.stop();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct StandaloneProxy {
    proxy: RunningProxy,
    http: SocketAddr,
    socks: SocketAddr,
    rules: EgressRules,
    bundle: Option<BundleFile>,
}

impl StandaloneProxy {
    pub(crate) fn start(
        core: &Arc<Core>,
        env: &Environment,
        rules: EgressRules,
        log_http: (bool, bool),
        http: SocketAddr,
        socks: SocketAddr,
    ) -> Result<Self, Error> {
        let inspection = Inspection::for_rules(&rules, &core.notices)?;
        let bundle = inspection
            .as_ref()
            .map(|i| BundleFile::write(i, env))
            .transpose()?;
        let proxy = start(core, rules.clone(), log_http, inspection.as_ref())?;
        let (http, socks) = proxy.bind(http, socks).map_err(Error::EgressProxy)?;
        Ok(Self {
            proxy,
            http,
            socks,
            rules,
            bundle,
        })
    }

    /// Limited mode: the certificate bundle (the system's roots and the
    /// proxy's own authority) a client must trust for HTTPS to work; removed
    /// when the proxy stops.
    pub fn ca_bundle(&self) -> Option<&Path> {
        self.bundle.as_ref().map(|b| b.path.as_path())
    }

    /// Where the HTTP proxy listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// Where the SOCKS5 proxy listens.
    pub fn socks_addr(&self) -> SocketAddr {
        self.socks
    }

    /// The rules it enforces.
    pub fn rules(&self) -> &EgressRules {
        &self.rules
    }

    /// The variables that point a program at it (`HTTP_PROXY`, `HTTPS_PROXY`,
    /// `ALL_PROXY` as `socks5h://`, lower-case forms, `NO_PROXY` cleared), and
    /// in limited mode those that make it trust [`StandaloneProxy::ca_bundle`]
    /// (`SSL_CERT_FILE`, `CURL_CA_BUNDLE`, `REQUESTS_CA_BUNDLE`, ...).
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let mut vars = codex_network_proxy::proxy_environment(self.http, self.socks);
        if let Some(bundle) = &self.bundle {
            vars.extend(codex_network_proxy::trust_environment(&bundle.path));
        }
        vars
    }

    /// Stops accepting and closes every connection.
    pub fn stop(self) {
        self.proxy.stop();
    }
}

/// The rules a standalone proxy enforces: the filtered network's
/// (`egress`), or every public host for an open one. An effective network
/// that is off has nothing to let through: refused, naming who decided.
pub(crate) fn standalone_rules(
    effective: &EffectivePolicy,
    egress: Option<&EgressRules>,
) -> Result<EgressRules, Error> {
    if let Some(rules) = egress {
        return Ok(rules.clone());
    }
    if effective.network.value == NetworkLevel::Open {
        return Ok(EgressRules::open().with_monitor(!effective.deny_on_violation.value));
    }
    Err(ConfigurationError::NetworkOff {
        decided_by: effective.network.decided_by.clone(),
    }
    .into())
}
