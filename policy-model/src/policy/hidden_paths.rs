//! Paths a sandboxed command may not read: the credential stores of the
//! user's home (`~/.ssh`, `~/.aws`, …), Codex's `auth.json`, and what the
//! harness keeps for itself (the audit log, the elevation grants).
//!
//! Reading the whole file system is what every sandboxed profile allows, so a
//! command that was talked into it could read `~/.ssh/id_ed25519` and send it
//! wherever it may connect. [`HiddenPaths`] is the list a backend covers with
//! empty, read-only mounts; it is built from the defaults
//! ([`HiddenPaths::defaults`]), the user's additions and removals (`deny_read`,
//! `allow_read`), and the paths the harness always hides. Each entry says what
//! put it there.

use std::ffi::OsString;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

/// The credential stores hidden by default, relative to the user's home.
pub const DEFAULT_HIDDEN_IN_HOME: &[&str] = &[
    ".ssh",
    ".aws",
    ".gnupg",
    ".config/gh",
    ".config/hub",
    ".config/gcloud",
    ".config/git/credentials",
    ".config/op",
    ".config/rclone",
    ".azure",
    ".kube",
    ".docker/config.json",
    ".netrc",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".cargo/credentials.toml",
    ".cargo/credentials",
    ".codex/auth.json",
    ".pgpass",
    ".my.cnf",
    ".vault-token",
    ".terraform.d/credentials.tfrc.json",
    ".boto",
    ".s3cfg",
    ".password-store",
    ".local/share/keyrings",
    ".config/containers/auth.json",
];

/// Variables that move a credential store elsewhere (a tool reads the store
/// where the variable says, so that is where it is hidden too), and what is
/// hidden relative to each. An empty relative part hides the named path
/// itself; `KUBECONFIG` is a list.
const RELOCATED_STORES: [(&str, &str); 25] = [
    ("XDG_CONFIG_HOME", "gh"),
    ("XDG_CONFIG_HOME", "hub"),
    ("XDG_CONFIG_HOME", "gcloud"),
    ("XDG_CONFIG_HOME", "git/credentials"),
    ("XDG_CONFIG_HOME", "op"),
    ("XDG_CONFIG_HOME", "rclone"),
    ("XDG_CONFIG_HOME", "containers/auth.json"),
    ("XDG_DATA_HOME", "keyrings"),
    ("XDG_RUNTIME_DIR", "containers/auth.json"),
    ("RCLONE_CONFIG", ""),
    ("REGISTRY_AUTH_FILE", ""),
    ("GH_CONFIG_DIR", ""),
    ("CLOUDSDK_CONFIG", ""),
    ("GNUPGHOME", ""),
    ("AZURE_CONFIG_DIR", ""),
    ("CARGO_HOME", "credentials.toml"),
    ("CARGO_HOME", "credentials"),
    ("DOCKER_CONFIG", "config.json"),
    ("AWS_SHARED_CREDENTIALS_FILE", ""),
    ("AWS_CONFIG_FILE", ""),
    ("NPM_CONFIG_USERCONFIG", ""),
    ("KUBECONFIG", ""),
    ("NETRC", ""),
    ("GOOGLE_APPLICATION_CREDENTIALS", ""),
    ("PASSWORD_STORE_DIR", ""),
];

/// Name of Codex's credentials file in its home.
pub const CODEX_AUTH_FILE_NAME: &str = "auth.json";

/// A path as `deny_read` and `allow_read` take it: absolute, or under the
/// user's home (`~/…`). Written without `..`, globs or a trailing slash
/// mattering; `/` alone is refused (it would hide everything).
///
/// # Examples
///
/// ```
/// use std::path::{Path, PathBuf};
/// use codex_policy_model::ReadPath;
///
/// let path: ReadPath = "~/.config/gh/".parse()?;
/// assert_eq!(path.to_string(), "~/.config/gh");
/// let home = Path::new("/home/ada");
/// assert_eq!(path.resolve(Some(home)), Some(PathBuf::from("/home/ada/.config/gh")));
///
/// let absolute: ReadPath = "//srv/./keys".parse()?;
/// assert_eq!(absolute, ReadPath::Absolute(PathBuf::from("/srv/keys")));
/// # Ok::<(), codex_policy_model::ReadPathError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(into = "String")]
#[non_exhaustive]
pub enum ReadPath {
    /// An absolute path.
    Absolute(PathBuf),
    /// A path relative to the user's home (`~` itself when empty).
    InHome(PathBuf),
}

/// Why a `deny_read` or `allow_read` entry is not a [`ReadPath`].
///
/// # Examples
///
/// ```
/// use codex_policy_model::{ReadPath, ReadPathError};
///
/// let err = "~/.ssh/*".parse::<ReadPath>().unwrap_err();
/// assert!(matches!(err, ReadPathError::Glob(_)));
/// assert_eq!("keys".parse::<ReadPath>(), Err(ReadPathError::Relative("keys".into())));
/// assert_eq!("/".parse::<ReadPath>(), Err(ReadPathError::Root));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReadPathError {
    /// Nothing was written.
    #[error("the path is empty")]
    Empty,
    /// Neither absolute nor under `~/`.
    #[error("{0:?} is relative: write an absolute path or one under the home directory (~/...)")]
    Relative(String),
    /// `~user/…`: another user's home is not looked up.
    #[error("{0:?} names another user's home: write the absolute path")]
    OtherUsersHome(String),
    /// `..` would make the entry mean something other than what it reads.
    #[error("{0:?} contains '..': write the path without it")]
    ParentComponent(String),
    /// Glob characters: entries are paths, matched exactly.
    #[error("{0:?} contains a glob character (* ? [): name each path")]
    Glob(String),
    /// A NUL byte cannot be part of a path.
    #[error("the path contains a NUL byte")]
    Nul,
    /// `/`: the whole file system.
    #[error("\"/\" names the whole file system: name the paths themselves")]
    Root,
    /// Longer than [`ReadPath::MAX_LEN`].
    #[error("the path is longer than {} bytes", ReadPath::MAX_LEN)]
    TooLong,
}

impl ReadPath {
    /// The longest entry accepted (Linux's `PATH_MAX`).
    pub const MAX_LEN: usize = 4096;

    /// The path on this machine, given the user's home (`None` for a home
    /// path when no home is known).
    pub fn resolve(&self, home: Option<&Path>) -> Option<PathBuf> {
        match self {
            Self::Absolute(path) => Some(path.clone()),
            Self::InHome(relative) if relative.as_os_str().is_empty() => {
                home.map(Path::to_path_buf)
            }
            Self::InHome(relative) => home.map(|h| h.join(relative)),
        }
    }
}

impl FromStr for ReadPath {
    type Err = ReadPathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err(ReadPathError::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(ReadPathError::TooLong);
        }
        if text.contains('\0') {
            return Err(ReadPathError::Nul);
        }
        if text.contains(['*', '?', '[']) {
            return Err(ReadPathError::Glob(text.to_owned()));
        }
        let (in_home, rest) = if text == "~" {
            (true, "")
        } else if let Some(rest) = text.strip_prefix("~/") {
            (true, rest)
        } else if text.starts_with('~') {
            return Err(ReadPathError::OtherUsersHome(text.to_owned()));
        } else if text.starts_with('/') {
            (false, text)
        } else {
            return Err(ReadPathError::Relative(text.to_owned()));
        };
        let mut normal = PathBuf::new();
        for component in Path::new(rest).components() {
            match component {
                Component::ParentDir => return Err(ReadPathError::ParentComponent(text.into())),
                Component::CurDir | Component::RootDir | Component::Prefix(_) => {}
                Component::Normal(part) => normal.push(part),
            }
        }
        if in_home {
            Ok(Self::InHome(normal))
        } else if normal.as_os_str().is_empty() {
            Err(ReadPathError::Root)
        } else {
            Ok(Self::Absolute(Path::new("/").join(normal)))
        }
    }
}

impl fmt::Display for ReadPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Absolute(path) => write!(f, "{}", path.display()),
            Self::InHome(relative) if relative.as_os_str().is_empty() => f.write_str("~"),
            Self::InHome(relative) => write!(f, "~/{}", relative.display()),
        }
    }
}

impl From<ReadPath> for String {
    fn from(path: ReadPath) -> Self {
        path.to_string()
    }
}

/// One path the command may not read, and what hid it.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{HiddenPath, HiddenPaths};
///
/// let mut hidden = HiddenPaths::default();
/// hidden.add("/srv/keys/".into(), "config.toml:3:14 permissions.workspace.filesystem.deny_read", false);
/// hidden.add("/home/ada/.codex/audit".into(), "the audit log", true);
///
/// let keys: &HiddenPath = &hidden.paths[0];
/// assert_eq!(keys.path, Path::new("/srv/keys")); // the trailing slash is not kept
/// assert!(keys.decided_by.starts_with("config.toml:3:14"));
/// assert!(!keys.always && hidden.paths[1].always); // `allow_read` may not show the audit log
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HiddenPath {
    /// The path (absolute; as written, links not followed: the backend hides
    /// what it names when the command starts).
    pub path: PathBuf,
    /// `default (credential store)`, `config.toml:12:3
    /// permissions.workspace.filesystem.deny_read`, `the audit log`, ….
    pub decided_by: String,
    /// `allow_read` may not remove it (the audit log, the elevation grants).
    pub always: bool,
}

/// What `allow_read` could not do.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use codex_policy_model::{AllowReadError, HiddenPaths};
///
/// let mut hidden = HiddenPaths::default();
/// hidden.add("/home/ada/.ssh".into(), "default (credential store)", false);
/// hidden.add("/home/ada/.codex/audit".into(), "the audit log", true);
///
/// let err = hidden.allow(Path::new("/home/ada/.ssh/known_hosts"), "allow_read").unwrap_err();
/// assert!(matches!(err, AllowReadError::InsideHidden { .. }));
/// let err = hidden.allow(Path::new("/home/ada"), "allow_read").unwrap_err();
/// assert!(matches!(err, AllowReadError::AlwaysHidden { ref what, .. } if what == "the audit log"));
/// let err = hidden.allow(Path::new("/opt/tools"), "allow_read").unwrap_err();
/// assert!(matches!(err, AllowReadError::NotHidden { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AllowReadError {
    /// The path and everything below it is readable already.
    #[error("{path} is not hidden: nothing to allow")]
    NotHidden {
        /// The entry, resolved.
        path: PathBuf,
    },
    /// A path inside a hidden directory cannot be shown on its own.
    #[error(
        "{path} lies inside the hidden {hidden}: a path inside a hidden directory cannot be \
         shown on its own; allow the whole directory"
    )]
    InsideHidden {
        /// The entry, resolved.
        path: PathBuf,
        /// The hidden directory it lies in.
        hidden: PathBuf,
    },
    /// The harness's own files stay hidden whatever the configuration says.
    #[error("{path} is or holds {what}, which is always hidden from sandboxed commands")]
    AlwaysHidden {
        /// The entry, resolved.
        path: PathBuf,
        /// What it is (`the audit log`, `the elevation grants`).
        what: String,
    },
}

/// The paths a sandboxed command may not read, each with what hid it, and
/// the defaults `allow_read` showed again.
///
/// # Examples
///
/// ```
/// use std::path::{Path, PathBuf};
/// use codex_policy_model::{DefaultLocations, HiddenPaths};
///
/// let homes = [PathBuf::from("/home/ada")];
/// let mut hidden = HiddenPaths::defaults(&DefaultLocations {
///     homes: &homes,
///     codex_home: Some(Path::new("/home/ada/.codex")),
///     cwd: None,
///     var: &|_| None,
/// });
/// assert!(hidden.iter().any(|p| p == Path::new("/home/ada/.ssh")));
///
/// // `allow_read = ["~/.npmrc"]` shows one store again, and says where it was written.
/// hidden.allow(Path::new("/home/ada/.npmrc"), "config.toml:4:14 allow_read")?;
/// assert!(!hidden.iter().any(|p| p == Path::new("/home/ada/.npmrc")));
/// assert_eq!(hidden.shown, [(PathBuf::from("/home/ada/.npmrc"), "config.toml:4:14 allow_read".to_owned())]);
/// # Ok::<(), codex_policy_model::AllowReadError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct HiddenPaths {
    /// What is hidden, in the order it was added.
    pub paths: Vec<HiddenPath>,
    /// Paths removed from the list by `allow_read`, and where that was written.
    pub shown: Vec<(PathBuf, String)>,
}

/// Where the defaults are looked for: the user's home directories (`$HOME`
/// and the account's home when they differ), Codex's home, and a variable
/// lookup for the stores moved elsewhere (`GNUPGHOME`, `CARGO_HOME`, …).
///
/// # Examples
///
/// ```
/// use std::ffi::OsString;
/// use std::path::{Path, PathBuf};
/// use codex_policy_model::{DefaultLocations, HiddenPaths};
///
/// let homes = [PathBuf::from("/home/ada")];
/// // A real caller passes `&|name| std::env::var_os(name)`.
/// let var = |name: &str| (name == "GNUPGHOME").then(|| OsString::from("/keys/gnupg"));
/// let at = DefaultLocations { homes: &homes, codex_home: None, cwd: None, var: &var };
///
/// let hidden = HiddenPaths::defaults(&at);
/// let gnupg = hidden.paths.iter().find(|p| p.path == Path::new("/keys/gnupg"));
/// assert_eq!(gnupg.map(|p| p.decided_by.as_str()), Some("default (credential store, $GNUPGHOME)"));
/// ```
pub struct DefaultLocations<'a> {
    /// Every home directory the user's tools may read from.
    pub homes: &'a [PathBuf],
    /// Codex's home (`$CODEX_HOME`, else `~/.codex`).
    pub codex_home: Option<&'a Path>,
    /// The directory commands start in: a variable's relative value names a
    /// store there, as the tool reading it would find it.
    pub cwd: Option<&'a Path>,
    /// The environment's variables.
    pub var: &'a dyn Fn(&str) -> Option<OsString>,
}

impl fmt::Debug for DefaultLocations<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefaultLocations")
            .field("homes", &self.homes)
            .field("codex_home", &self.codex_home)
            .finish_non_exhaustive()
    }
}

impl HiddenPaths {
    /// The default list: [`DEFAULT_HIDDEN_IN_HOME`] under every home, the
    /// stores the environment moves elsewhere, and `auth.json` in Codex's
    /// home.
    pub fn defaults(at: &DefaultLocations<'_>) -> Self {
        let mut out = Self::default();
        for home in at.homes {
            for relative in DEFAULT_HIDDEN_IN_HOME {
                out.add(home.join(relative), "default (credential store)", false);
            }
        }
        for (var, relative) in RELOCATED_STORES {
            let Some(value) = (at.var)(var) else {
                continue;
            };
            let decided_by = format!("default (credential store, ${var})");
            let values: Vec<PathBuf> = if var == "KUBECONFIG" {
                std::env::split_paths(&value).collect()
            } else {
                vec![PathBuf::from(value)]
            };
            // Where the tool would look: `~` as the home (many tools expand
            // it themselves), a relative value from the directory commands
            // start in.
            let resolved = values.into_iter().filter_map(|value| {
                let text = value.to_str().unwrap_or_default();
                if value.is_absolute() {
                    Some(value)
                } else if text == "~" || text.starts_with("~/") {
                    at.homes
                        .first()
                        .map(|home| home.join(text.trim_start_matches('~').trim_start_matches('/')))
                } else if value.as_os_str().is_empty() {
                    None
                } else {
                    at.cwd.map(|cwd| cwd.join(&value))
                }
            });
            for base in resolved {
                let path = if relative.is_empty() {
                    base
                } else {
                    base.join(relative)
                };
                out.add(path, &decided_by, false);
            }
        }
        if let Some(codex_home) = at.codex_home {
            out.add(
                codex_home.join(CODEX_AUTH_FILE_NAME),
                "default (Codex's credentials)",
                false,
            );
        }
        out
    }

    /// Hides `path` (`deny_read`, or a path of the harness's own); a path
    /// listed already keeps its first reason, unless this one is `always`.
    pub fn add(&mut self, path: PathBuf, decided_by: &str, always: bool) {
        let path = lexically_normal(&path);
        if let Some(existing) = self.paths.iter_mut().find(|p| p.path == path) {
            if always && !existing.always {
                existing.always = true;
                existing.decided_by = decided_by.to_owned();
            }
            return;
        }
        self.shown.retain(|(shown, _)| *shown != path);
        self.paths.push(HiddenPath {
            path,
            decided_by: decided_by.to_owned(),
            always,
        });
    }

    /// Shows `path` and everything below it again (`allow_read`): every
    /// hidden entry there is removed. Refused when nothing there is hidden,
    /// when `path` lies inside a hidden directory (it cannot be shown on its
    /// own), or when it would show what is always hidden.
    ///
    /// # Errors
    ///
    /// [`AllowReadError::AlwaysHidden`] when `path` is, holds or lies inside an always-hidden path;
    /// [`AllowReadError::InsideHidden`] when it lies inside a hidden directory;
    /// [`AllowReadError::NotHidden`] when nothing at or below it is hidden.
    pub fn allow(&mut self, path: &Path, decided_by: &str) -> Result<(), AllowReadError> {
        let path = lexically_normal(path);
        if let Some(always) = self
            .paths
            .iter()
            .find(|p| p.always && (p.path.starts_with(&path) || path.starts_with(&p.path)))
        {
            return Err(AllowReadError::AlwaysHidden {
                path,
                what: always.decided_by.clone(),
            });
        }
        if let Some(outer) = self
            .paths
            .iter()
            .find(|p| path.starts_with(&p.path) && p.path != path)
        {
            return Err(AllowReadError::InsideHidden {
                path,
                hidden: outer.path.clone(),
            });
        }
        let before = self.paths.len();
        let mut removed = Vec::new();
        self.paths.retain(|p| {
            let keep = !p.path.starts_with(&path);
            if !keep {
                removed.push(p.path.clone());
            }
            keep
        });
        if self.paths.len() == before {
            return Err(AllowReadError::NotHidden { path });
        }
        self.shown
            .extend(removed.into_iter().map(|p| (p, decided_by.to_owned())));
        Ok(())
    }

    /// Whether nothing is hidden.
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }

    /// The hidden paths.
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.paths.iter().map(|p| p.path.as_path())
    }
}

/// `path` with `.` components and repeated or trailing slashes gone (links
/// are not followed: that is the backend's, when the command starts).
fn lexically_normal(path: &Path) -> PathBuf {
    path.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn locations<'a>(
        homes: &'a [PathBuf],
        var: &'a dyn Fn(&str) -> Option<OsString>,
    ) -> DefaultLocations<'a> {
        DefaultLocations {
            homes,
            codex_home: Some(Path::new("/h/.codex")),
            cwd: Some(Path::new("/work")),
            var,
        }
    }

    #[test]
    fn read_paths_parse_strictly() {
        assert_eq!(
            "~/.ssh/".parse::<ReadPath>(),
            Ok(ReadPath::InHome(".ssh".into()))
        );
        assert_eq!("~".parse::<ReadPath>(), Ok(ReadPath::InHome("".into())));
        assert_eq!(
            "//srv/./keys//".parse::<ReadPath>(),
            Ok(ReadPath::Absolute("/srv/keys".into()))
        );
        for (bad, expected) in [
            ("", ReadPathError::Empty),
            ("keys", ReadPathError::Relative("keys".into())),
            (
                "~bob/.ssh",
                ReadPathError::OtherUsersHome("~bob/.ssh".into()),
            ),
            ("/a/../b", ReadPathError::ParentComponent("/a/../b".into())),
            ("~/.ssh/*", ReadPathError::Glob("~/.ssh/*".into())),
            ("/", ReadPathError::Root),
            ("///.", ReadPathError::Root),
            ("/a\0", ReadPathError::Nul),
        ] {
            assert_eq!(bad.parse::<ReadPath>(), Err(expected), "{bad:?}");
        }
        assert_eq!(
            "/".repeat(ReadPath::MAX_LEN + 1).parse::<ReadPath>(),
            Err(ReadPathError::TooLong)
        );
    }

    #[test]
    fn defaults_cover_every_home_and_relocated_stores() {
        let homes = [PathBuf::from("/h"), PathBuf::from("/root")];
        let var = |name: &str| match name {
            "GNUPGHOME" => Some(OsString::from("/keys/gnupg")),
            "KUBECONFIG" => Some(OsString::from("/k/one:relative:/k/two")),
            "CARGO_HOME" => Some(OsString::from("cargo-relative")),
            "AWS_SHARED_CREDENTIALS_FILE" => Some(OsString::from("~/creds")),
            _ => None,
        };
        let hidden = HiddenPaths::defaults(&locations(&homes, &var));
        let has = |p: &str| hidden.iter().any(|h| h == Path::new(p));
        for p in [
            "/h/.ssh",
            "/root/.ssh",
            "/h/.docker/config.json",
            "/keys/gnupg",
            "/k/one",
            "/k/two",
            "/work/relative",
            "/work/cargo-relative/credentials.toml",
            "/h/creds",
            "/h/.codex/auth.json",
        ] {
            assert!(has(p), "{p} hidden");
        }
        assert!(!hidden.iter().any(|p| p.is_relative()));
    }

    #[test]
    fn allow_read_removes_defaults_but_never_the_harness_files() {
        let homes = [PathBuf::from("/h")];
        let hidden_with = |extra: &mut dyn FnMut(&mut HiddenPaths)| {
            let mut hidden = HiddenPaths::defaults(&locations(&homes, &|_| None));
            hidden.add("/h/.codex/audit".into(), "the audit log", true);
            extra(&mut hidden);
            hidden
        };
        let hidden = hidden_with(&mut |h| h.allow(Path::new("/h/.ssh/"), "here").unwrap());
        assert!(!hidden.iter().any(|p| p == Path::new("/h/.ssh")));
        assert_eq!(
            hidden.shown,
            vec![(PathBuf::from("/h/.ssh"), "here".into())]
        );

        hidden_with(&mut |h| {
            assert!(matches!(
                h.allow(Path::new("/h/.ssh/known_hosts"), "x"),
                Err(AllowReadError::InsideHidden { .. })
            ));
            assert!(matches!(
                h.allow(Path::new("/h/.sshh"), "x"),
                Err(AllowReadError::NotHidden { .. })
            ));
            assert!(matches!(
                h.allow(Path::new("/h/.codex/audit"), "x"),
                Err(AllowReadError::AlwaysHidden { .. })
            ));
            // Showing a whole home would show the harness's files too.
            assert!(matches!(
                h.allow(Path::new("/h"), "x"),
                Err(AllowReadError::AlwaysHidden { .. })
            ));
        });
        // Without harness files below it, a whole home may be shown.
        let mut hidden = HiddenPaths::defaults(&locations(&homes, &|_| None));
        hidden.allow(Path::new("/h"), "x").unwrap();
        assert!(hidden.is_empty());
    }

    #[test]
    fn deny_read_adds_once_and_the_harness_reason_wins() {
        let mut hidden = HiddenPaths::default();
        hidden.add("/srv/keys/".into(), "config", false);
        hidden.add("/srv/keys".into(), "again", false);
        hidden.add("/srv/./keys".into(), "the audit log", true);
        assert_eq!(hidden.paths.len(), 1);
        assert!(hidden.paths[0].always);
        assert_eq!(hidden.paths[0].decided_by, "the audit log");
    }
}
