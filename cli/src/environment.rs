//! The environment variables a session reads: `CODEX_SECURITY_PROFILE`,
//! `CODEX_HOME`, `HOME`, `CODEX_RUNTIME_CONFIG`, `CODEX_POLICY_FILE`,
//! `CODEX_NETWORK_ACCESS`, `TMPDIR`, … — by default the process's own, or a
//! set the embedder chooses (a harness with its own Codex home, a test).

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::sync::Arc;

/// A variable lookup.
type Lookup = dyn Fn(&str) -> Option<OsString> + Send + Sync;

/// Where a session looks variables up.
///
/// # Examples
///
/// ```
/// use std::ffi::OsStr;
/// use std::path::PathBuf;
/// use codex_policy::{Environment, Session};
///
/// let env = Environment::from_vars([("HOME", "/home/ada")]);
/// assert_eq!(env.var("PATH"), None); // exactly these variables
/// assert_eq!(env.codex_home()?, Some(PathBuf::from("/home/ada/.codex")));
///
/// let env = Environment::from_vars([("CODEX_HOME", "relative/codex")]);
/// assert!(env.codex_home().is_err());
/// // Set but empty is not unset.
/// let env = Environment::from_vars([("HOME", "")]);
/// assert!(env.codex_home().is_err());
///
/// // A session reads its variables from it.
/// let home = tempfile::tempdir()?;
/// let resolved = Session::builder()
///     .environment(Environment::from_vars([
///         ("HOME", home.path().as_os_str()),
///         ("CODEX_SECURITY_PROFILE", OsStr::new("workspace")),
///     ]))
///     .cwd(home.path())
///     .resolve()?;
/// assert_eq!(resolved.profile.as_str(), "workspace");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Environment(Arc<Lookup>);

impl Environment {
    /// The process's environment, read when needed.
    pub fn process() -> Self {
        Self(Arc::new(|key: &str| std::env::var_os(key)))
    }

    /// Exactly these variables, and no other.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<OsString>,
    {
        let vars: HashMap<String, OsString> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Self(Arc::new(move |key: &str| vars.get(key).cloned()))
    }

    /// Looked up by `lookup`.
    pub fn from_fn(lookup: impl Fn(&str) -> Option<OsString> + Send + Sync + 'static) -> Self {
        Self(Arc::new(lookup))
    }

    /// The value of `key`.
    pub fn var(&self, key: &str) -> Option<OsString> {
        (self.0)(key)
    }

    /// Codex's home as the environment gives it (`$CODEX_HOME`, else
    /// `~/.codex`); a relative or empty value is refused.
    ///
    /// # Errors
    ///
    /// [`ProfileError`](codex_profiles::ProfileError) for a relative or empty
    /// `CODEX_HOME`, or a relative or empty `HOME` when `CODEX_HOME` is unset.
    pub fn codex_home(&self) -> Result<Option<std::path::PathBuf>, codex_profiles::ProfileError> {
        codex_profiles::codex_home(|key| self.var(key))
    }
}

impl Default for Environment {
    fn default() -> Self {
        Self::process()
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Environment")
    }
}
