//! Which directories a `workspace-write` child may write, and what stays read-only inside them.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::SandboxPolicy;

/// Names under every writable root that stay read-only, whether or not they exist yet:
/// they hold agent configuration, and letting the agent create them would let it
/// raise its own permissions on the next run.
pub const ALWAYS_PROTECTED_NAMES: [&str; 3] = [".codex", ".agents", ".codex-profile"];

/// The repository metadata under a writable root; read-only when present, together
/// with the real git directory a `.git` *file* (worktree, submodule) points to.
pub const GIT_DIR_NAME: &str = ".git";

/// A `.git` file is one line; anything longer is not a git pointer.
const MAX_GIT_POINTER_BYTES: u64 = 4096;

/// One directory the child may write, minus the subpaths that stay read-only.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
///
/// let project = tempfile::tempdir()?;
/// std::fs::create_dir(project.path().join(".git"))?;
/// let policy: SandboxPolicy =
///     serde_json::from_str(r#"{"mode":"workspace-write","exclude_slash_tmp":true}"#)?;
///
/// let roots = policy.writable_roots(project.path(), None)?;
/// let root = &roots.roots[0];
/// assert_eq!(root.root, project.path().canonicalize()?);
/// assert!(root.allows_write_to(&root.root.join("src/main.rs")));
/// assert!(!root.allows_write_to(&root.root.join(".git/hooks/pre-commit")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct WritableRoot {
    /// Canonical path (symlinks resolved) of the writable directory.
    pub root: PathBuf,
    /// Paths inside `root` the child must not modify, replace, rename or create.
    pub read_only_subpaths: Vec<PathBuf>,
}

impl WritableRoot {
    /// Whether writing `path` (already canonical) is allowed by this root.
    pub fn allows_write_to(&self, path: &Path) -> bool {
        path.starts_with(&self.root)
            && !self
                .read_only_subpaths
                .iter()
                .any(|protected| path.starts_with(protected))
    }
}

/// Why a requested root is not among the effective ones.
///
/// # Examples
///
/// ```
/// use std::ffi::OsStr;
/// use codex_policy_model::{SandboxPolicy, SkipReason};
///
/// let project = tempfile::tempdir()?;
/// std::fs::write(project.path().join("notes.txt"), "")?;
/// let policy: SandboxPolicy = serde_json::from_str(
///     r#"{"mode":"workspace-write","writable_roots":["notes.txt"],"exclude_slash_tmp":true}"#,
/// )?;
///
/// let effective = policy.writable_roots(project.path(), Some(OsStr::new("relative/tmp")))?;
/// let reasons: Vec<SkipReason> = effective.skipped.iter().map(|s| s.reason).collect();
/// assert_eq!(reasons, [SkipReason::NotAbsolute, SkipReason::NotADirectory]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum SkipReason {
    /// Nothing exists at the path, so there is nothing to grant.
    DoesNotExist,
    /// The path exists but is not a directory.
    NotADirectory,
    /// `$TMPDIR` was set to a relative path, which names no fixed directory.
    NotAbsolute,
    /// `$TMPDIR` is or contains a path that must stay read-only: the working
    /// directory's repository or git directory, a `.codex` or `.agents`
    /// directory, Codex's home or the user's home (`$TMPDIR=/`, `$TMPDIR=$HOME`).
    ContainsProtectedPath,
}

/// A requested root that was left out, and why.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{ProtectedHomes, SandboxPolicy, SkipReason};
///
/// let tmp = tempfile::tempdir()?;
/// let project = tmp.path().join("project");
/// std::fs::create_dir_all(project.join(".git"))?;
/// let policy: SandboxPolicy =
///     serde_json::from_str(r#"{"mode":"workspace-write","exclude_slash_tmp":true}"#)?;
///
/// // A `$TMPDIR` above the repository would make the repository writable.
/// let tmpdir = Some(tmp.path().as_os_str());
/// let effective =
///     policy.writable_roots_protecting(&project, tmpdir, &ProtectedHomes::default())?;
/// let skipped = &effective.skipped[0];
/// assert_eq!(skipped.reason, SkipReason::ContainsProtectedPath);
/// assert_eq!(skipped.protected, Some(project.canonicalize()?));
/// assert!(skipped.to_string().contains("which must stay read-only"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct SkippedRoot {
    /// The path as requested.
    pub path: PathBuf,
    /// Why it was left out.
    pub reason: SkipReason,
    /// With [`SkipReason::ContainsProtectedPath`]: the protected path it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protected: Option<PathBuf>,
}

impl std::fmt::Display for SkippedRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: ", self.path.display())?;
        match self.reason {
            SkipReason::DoesNotExist => f.write_str("does not exist"),
            SkipReason::NotADirectory => f.write_str("is not a directory"),
            SkipReason::NotAbsolute => f.write_str("$TMPDIR is a relative path"),
            SkipReason::ContainsProtectedPath => write!(
                f,
                "$TMPDIR is or contains {}, which must stay read-only; not a writable root",
                self.protected.as_deref().map_or_else(
                    || "a protected path".to_owned(),
                    |p| p.display().to_string()
                )
            ),
        }
    }
}

/// The homes no `$TMPDIR` may be or contain, besides the working directory's
/// repository and its `.codex`/`.agents`.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{ProtectedHomes, SandboxPolicy, SkipReason};
///
/// let home = tempfile::tempdir()?; // stands in for the user's home
/// let project = tempfile::tempdir()?;
/// let mut homes = ProtectedHomes::default(); // `ProtectedHomes::from_env()` reads the real ones
/// homes.home = Some(home.path().to_path_buf());
///
/// // `$TMPDIR=$HOME` must not make the home writable.
/// let policy: SandboxPolicy =
///     serde_json::from_str(r#"{"mode":"workspace-write","exclude_slash_tmp":true}"#)?;
/// let effective =
///     policy.writable_roots_protecting(project.path(), Some(home.path().as_os_str()), &homes)?;
/// assert_eq!(effective.skipped[0].reason, SkipReason::ContainsProtectedPath);
/// assert!(!effective.allows_write_to(&home.path().canonicalize()?.join(".bashrc")));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProtectedHomes {
    /// The user's home (`$HOME`).
    pub home: Option<PathBuf>,
    /// Codex's home (`$CODEX_HOME`; `$HOME/.codex` is inside `home`).
    pub codex_home: Option<PathBuf>,
}

impl ProtectedHomes {
    /// `$HOME` and `$CODEX_HOME` of this process (empty values are ignored).
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Self {
            home: var("HOME"),
            codex_home: var("CODEX_HOME"),
        }
    }
}

/// The writable roots of a policy for one working directory.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{SandboxPolicy, SkipReason};
///
/// let project = tempfile::tempdir()?;
/// std::fs::create_dir(project.path().join("build"))?;
/// let policy: SandboxPolicy = serde_json::from_str(
///     r#"{"mode":"workspace-write","writable_roots":["build","missing"],"exclude_slash_tmp":true}"#,
/// )?;
///
/// let effective = policy.writable_roots(project.path(), None)?;
/// // `build` lies inside the working directory, so it folds into that root.
/// assert_eq!(effective.roots.len(), 1);
/// assert!(effective.allows_write_to(&project.path().canonicalize()?.join("build/out.o")));
/// assert_eq!(effective.skipped[0].reason, SkipReason::DoesNotExist);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct EffectiveWritableRoots {
    /// Canonical, de-duplicated roots; none is inside another.
    pub roots: Vec<WritableRoot>,
    /// Requested roots that were left out.
    pub skipped: Vec<SkippedRoot>,
}

impl EffectiveWritableRoots {
    /// Whether writing `path` (already canonical) is allowed by any root.
    pub fn allows_write_to(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| root.allows_write_to(path))
    }
}

/// Why the writable roots could not be computed.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{SandboxPolicy, WritableRootsError};
///
/// let dir = tempfile::tempdir()?;
/// let gone = dir.path().join("gone");
/// let err = SandboxPolicy::workspace_write(false).writable_roots(&gone, None).unwrap_err();
/// assert!(matches!(err, WritableRootsError::Cwd { .. }));
///
/// // A read-only policy has no writable roots, wherever it runs.
/// assert!(SandboxPolicy::read_only().writable_roots(&gone, None)?.roots.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WritableRootsError {
    /// The working directory does not exist or cannot be resolved.
    #[error("working directory {}: {source}", path.display())]
    Cwd {
        /// The working directory as given.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },
    /// The working directory is not a directory.
    #[error("working directory {} is not a directory", path.display())]
    CwdNotADirectory {
        /// The working directory as given.
        path: PathBuf,
    },
}

impl SandboxPolicy {
    /// The effective writable roots for a child started in `cwd`, with `tmpdir`
    /// being the child's `$TMPDIR` (pass `std::env::var_os("TMPDIR")`).
    ///
    /// For `workspace-write`: configured roots (relative ones resolved against
    /// `cwd`) + `cwd` + `/tmp` + `$TMPDIR`, unless excluded. Every root is
    /// canonicalized; duplicates and roots nested in another root are folded into
    /// the outer one, which inherits their read-only subpaths. Roots that do not
    /// exist are reported in `skipped`. `read-only` and `danger-full-access` have
    /// no writable roots (check [`SandboxPolicy::has_full_disk_write_access`]).
    ///
    /// A `$TMPDIR` that is or contains a protected path (see
    /// [`SkipReason::ContainsProtectedPath`]) is skipped; the homes are read
    /// from this process's `$HOME` and `$CODEX_HOME`
    /// ([`SandboxPolicy::writable_roots_protecting`] takes them explicitly).
    ///
    /// # Errors
    ///
    /// For `workspace-write` only: [`WritableRootsError::Cwd`] when `cwd` does not exist or
    /// cannot be resolved, [`WritableRootsError::CwdNotADirectory`] when it is not a directory.
    pub fn writable_roots(
        &self,
        cwd: &Path,
        tmpdir: Option<&std::ffi::OsStr>,
    ) -> Result<EffectiveWritableRoots, WritableRootsError> {
        self.writable_roots_protecting(cwd, tmpdir, &ProtectedHomes::from_env())
    }

    /// [`SandboxPolicy::writable_roots`] with the protected homes given.
    ///
    /// # Errors
    ///
    /// For `workspace-write` only: [`WritableRootsError::Cwd`] when `cwd` does not exist or
    /// cannot be resolved, [`WritableRootsError::CwdNotADirectory`] when it is not a directory.
    pub fn writable_roots_protecting(
        &self,
        cwd: &Path,
        tmpdir: Option<&std::ffi::OsStr>,
        homes: &ProtectedHomes,
    ) -> Result<EffectiveWritableRoots, WritableRootsError> {
        let Self::WorkspaceWrite {
            writable_roots,
            exclude_tmpdir_env_var,
            exclude_slash_tmp,
            ..
        } = self
        else {
            return Ok(EffectiveWritableRoots::default());
        };

        let cwd = canonical_cwd(cwd)?;
        let mut skipped = Vec::new();
        let mut candidates = vec![cwd.clone()];
        let mut requested: Vec<PathBuf> = writable_roots.iter().map(|r| cwd.join(r)).collect();
        if !exclude_slash_tmp {
            requested.push(PathBuf::from("/tmp"));
        }
        let mut tmpdir_root = None;
        if let Some(tmpdir) = tmpdir.filter(|t| !t.is_empty() && !exclude_tmpdir_env_var) {
            let tmpdir = PathBuf::from(tmpdir);
            if tmpdir.is_absolute() {
                tmpdir_root = Some(tmpdir);
            } else {
                skipped.push(SkippedRoot {
                    path: tmpdir,
                    reason: SkipReason::NotAbsolute,
                    protected: None,
                });
            }
        }
        let skip = |path: PathBuf, reason| SkippedRoot {
            path,
            reason,
            protected: None,
        };
        for path in requested {
            match fs::canonicalize(&path) {
                Ok(real) if real.is_dir() => candidates.push(real),
                Ok(_) => skipped.push(skip(path, SkipReason::NotADirectory)),
                Err(_) => skipped.push(skip(path, SkipReason::DoesNotExist)),
            }
        }
        if let Some(path) = tmpdir_root {
            match fs::canonicalize(&path) {
                Ok(real) if real.is_dir() => {
                    // The working directory itself adds nothing, so it is no threat.
                    let held = (real != cwd)
                        .then(|| {
                            protected_for_tmpdir(&cwd, homes)
                                .into_iter()
                                .find(|p| p.starts_with(&real))
                        })
                        .flatten();
                    match held {
                        Some(protected) => skipped.push(SkippedRoot {
                            path,
                            reason: SkipReason::ContainsProtectedPath,
                            protected: Some(protected),
                        }),
                        None => candidates.push(real),
                    }
                }
                Ok(_) => skipped.push(skip(path, SkipReason::NotADirectory)),
                Err(_) => skipped.push(skip(path, SkipReason::DoesNotExist)),
            }
        }

        Ok(EffectiveWritableRoots {
            roots: fold_roots(candidates),
            skipped,
        })
    }
}

/// Paths `$TMPDIR` must not be or contain: the working directory's repository
/// (the nearest ancestor with a `.git`) and that repository's and the working
/// directory's protected subpaths (`.git`, the git directory a `.git` file
/// names, `.codex`, `.agents`), Codex's home and the user's home.
fn protected_for_tmpdir(cwd: &Path, homes: &ProtectedHomes) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(repo) = cwd
        .ancestors()
        .find(|dir| fs::symlink_metadata(dir.join(GIT_DIR_NAME)).is_ok())
    {
        out.push(repo.to_path_buf());
        out.extend(protected_subpaths(repo));
    }
    out.extend(protected_subpaths(cwd));
    for home in [&homes.home, &homes.codex_home].into_iter().flatten() {
        let home = cwd.join(home);
        out.push(fs::canonicalize(&home).unwrap_or(home));
    }
    out
}

fn canonical_cwd(cwd: &Path) -> Result<PathBuf, WritableRootsError> {
    let real = fs::canonicalize(cwd).map_err(|source| WritableRootsError::Cwd {
        path: cwd.to_path_buf(),
        source,
    })?;
    if !real.is_dir() {
        return Err(WritableRootsError::CwdNotADirectory {
            path: cwd.to_path_buf(),
        });
    }
    Ok(real)
}

/// Drops duplicates and nested roots; every protected subpath of every candidate is
/// kept on the outer root that contains it, so folding never makes `.git` writable.
fn fold_roots(mut candidates: Vec<PathBuf>) -> Vec<WritableRoot> {
    // Path ordering is component-wise, so a root's descendants sort right after it.
    candidates.sort();
    candidates.dedup();
    let mut roots: Vec<WritableRoot> = Vec::new();
    for candidate in &candidates {
        let nested = roots
            .last()
            .is_some_and(|outer| candidate.starts_with(&outer.root));
        if !nested {
            roots.push(WritableRoot {
                root: candidate.clone(),
                read_only_subpaths: Vec::new(),
            });
        }
    }
    for protected in candidates.iter().flat_map(|c| protected_subpaths(c)) {
        // A protected path outside every root is read-only already.
        if let Some(root) = roots.iter_mut().find(|r| protected.starts_with(&r.root)) {
            root.read_only_subpaths.push(protected);
        }
    }
    for root in &mut roots {
        root.read_only_subpaths.sort();
        root.read_only_subpaths.dedup();
    }
    roots
}

/// What keeps a repository's `.git` safe: the `.git` entry itself (and its
/// target when a symlink), and when it is a file (`gitdir: …`, a linked
/// worktree or submodule) the git directory it names and that directory's
/// `commondir` — where hooks and config live. Empty when `dot_git` is absent.
///
/// # Examples
///
/// ```
/// use codex_policy_model::git_metadata_paths;
///
/// // A linked worktree: its `.git` is a file naming a git directory inside
/// // the main repository's, whose `commondir` names the shared one.
/// let tmp = tempfile::tempdir()?;
/// let main_git = tmp.path().join("main/.git");
/// let git_dir = main_git.join("worktrees/feature");
/// std::fs::create_dir_all(&git_dir)?;
/// std::fs::write(git_dir.join("commondir"), "../..\n")?;
/// let dot_git = tmp.path().join("feature/.git");
/// std::fs::create_dir(tmp.path().join("feature"))?;
/// std::fs::write(&dot_git, format!("gitdir: {}\n", git_dir.display()))?;
///
/// let protected = git_metadata_paths(&dot_git);
/// assert_eq!(protected, [main_git.canonicalize()?, git_dir.canonicalize()?, dot_git]);
/// assert!(git_metadata_paths(&tmp.path().join("elsewhere/.git")).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn git_metadata_paths(dot_git: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(meta) = fs::symlink_metadata(dot_git) {
        if meta.is_file()
            && let Some(git_dir) = git_dir_from_pointer(dot_git)
        {
            out.extend(common_dir(&git_dir));
            out.push(git_dir);
        }
        push_with_target(&mut out, dot_git.to_path_buf(), &meta);
    }
    out
}

/// The symlinks on the way from a `.git` file to the git directory it names
/// (`gitdir: ../link/…`): protecting the directory protects nothing if a link
/// on the way can be re-pointed. Empty for a `.git` directory.
///
/// # Examples
///
/// ```
/// use codex_policy_model::git_dir_links;
///
/// let tmp = tempfile::tempdir()?;
/// std::fs::create_dir_all(tmp.path().join("store/repo.git"))?;
/// std::os::unix::fs::symlink(tmp.path().join("store"), tmp.path().join("link"))?;
/// std::fs::create_dir(tmp.path().join("work"))?;
/// let dot_git = tmp.path().join("work/.git");
/// std::fs::write(&dot_git, "gitdir: ../link/repo.git\n")?;
///
/// // Whoever can re-point `link` can swap the git directory.
/// assert_eq!(git_dir_links(&dot_git), [tmp.path().canonicalize()?.join("link")]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn git_dir_links(dot_git: &Path) -> Vec<PathBuf> {
    let Some(target) = read_small(dot_git).and_then(|c| {
        c.lines()
            .next()
            .and_then(|l| l.strip_prefix("gitdir:"))
            .map(|t| PathBuf::from(t.trim()))
    }) else {
        return Vec::new();
    };
    let Some(base) = dot_git.parent() else {
        return Vec::new();
    };
    let mut links = Vec::new();
    let mut current = if target.is_absolute() {
        PathBuf::new()
    } else {
        base.to_path_buf()
    };
    for component in target.components() {
        match component {
            std::path::Component::Normal(name) => {
                let entry = current.join(name);
                if fs::symlink_metadata(&entry).is_ok_and(|m| m.file_type().is_symlink()) {
                    links.push(entry.clone());
                }
                current = fs::canonicalize(&entry).unwrap_or(entry);
            }
            std::path::Component::ParentDir => {
                current = fs::canonicalize(&current).unwrap_or(current);
                current.pop();
            }
            std::path::Component::CurDir => {}
            other => current.push(other),
        }
    }
    links
}

/// The paths under `root` that must stay read-only, plus what they point to.
fn protected_subpaths(root: &Path) -> Vec<PathBuf> {
    let mut out = git_metadata_paths(&root.join(GIT_DIR_NAME));
    for name in ALWAYS_PROTECTED_NAMES {
        let path = root.join(name);
        match fs::symlink_metadata(&path) {
            Ok(meta) => push_with_target(&mut out, path, &meta),
            Err(_) => out.push(path),
        }
    }
    out
}

/// Protects `path` and, when it is a symlink, the directory it resolves to.
fn push_with_target(out: &mut Vec<PathBuf>, path: PathBuf, meta: &fs::Metadata) {
    if meta.file_type().is_symlink()
        && let Ok(target) = fs::canonicalize(&path)
    {
        out.push(target);
    }
    out.push(path);
}

/// Reads a `.git` file (`gitdir: <path>`) and returns the canonical git directory.
fn git_dir_from_pointer(dot_git_file: &Path) -> Option<PathBuf> {
    let content = read_small(dot_git_file)?;
    let target = content.lines().next()?.strip_prefix("gitdir:")?.trim();
    if target.is_empty() {
        return None;
    }
    let base = dot_git_file.parent()?;
    fs::canonicalize(base.join(target)).ok()
}

/// A linked worktree's git dir names the shared one (hooks, config) in `commondir`.
fn common_dir(git_dir: &Path) -> Option<PathBuf> {
    let content = read_small(&git_dir.join("commondir"))?;
    let target = content.lines().next()?.trim();
    if target.is_empty() {
        return None;
    }
    fs::canonicalize(git_dir.join(target)).ok()
}

fn read_small(path: &Path) -> Option<String> {
    let mut text = String::new();
    crate::regular_file::open(path)
        .ok()?
        .take(MAX_GIT_POINTER_BYTES)
        .read_to_string(&mut text)
        .ok()?;
    Some(text)
}

/// Which paths the sandboxed command could have written: anything inside one of
/// the effective writable roots — read-only subpaths included, because a
/// `.codex` that did not exist when an earlier run started may not have been
/// protected by every backend — or anything at all under full disk access.
///
/// A path counts when *any* directory entry on the way to it lies inside a
/// root: a symlink the command could have created or re-pointed decides what
/// the path means even when its target lies elsewhere.
///
/// # Examples
///
/// ```
/// use codex_policy_model::{CommandWritable, SandboxPolicy};
///
/// let project = tempfile::tempdir()?;
/// let elsewhere = tempfile::tempdir()?;
/// let policy: SandboxPolicy =
///     serde_json::from_str(r#"{"mode":"workspace-write","exclude_slash_tmp":true}"#)?;
///
/// let writable = CommandWritable::for_policy(&policy, project.path(), None)?;
/// // A policy file inside the project may have been planted by the command.
/// assert!(writable.could_write(&project.path().join(".codex/harness.policy.json")));
/// assert!(!writable.could_write(&elsewhere.path().join("requirements.toml")));
///
/// let anything = CommandWritable::for_policy(&SandboxPolicy::DangerFullAccess, project.path(), None)?;
/// assert!(anything.everything());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommandWritable {
    everything: bool,
    roots: Vec<PathBuf>,
}

impl CommandWritable {
    /// The command can write nothing (a read-only policy).
    pub fn nothing() -> Self {
        Self::default()
    }

    /// For `policy` run in `cwd` with `$TMPDIR` = `tmpdir` (pass
    /// `std::env::var_os("TMPDIR")`), as [`SandboxPolicy::writable_roots`].
    ///
    /// # Errors
    ///
    /// For `workspace-write` only: [`WritableRootsError::Cwd`] when `cwd` does not exist or
    /// cannot be resolved, [`WritableRootsError::CwdNotADirectory`] when it is not a directory.
    pub fn for_policy(
        policy: &SandboxPolicy,
        cwd: &Path,
        tmpdir: Option<&std::ffi::OsStr>,
    ) -> Result<Self, WritableRootsError> {
        if policy.has_full_disk_write_access() {
            return Ok(Self {
                everything: true,
                roots: Vec::new(),
            });
        }
        Ok(Self::from_roots(&policy.writable_roots(cwd, tmpdir)?))
    }

    /// What a command *of any run* could have written, for judging policy
    /// files before they are trusted: [`for_policy`](Self::for_policy) plus
    /// the shared temp directories (`/tmp`, `$TMPDIR`) whatever the policy
    /// says of them. An earlier run under a profile that writes them may have
    /// planted a file there, and a file's own `exclude_slash_tmp` must not
    /// take it out of the check that judges it. (The working directory of a
    /// read-only run is not counted: its project files, `init`'s patterns
    /// among them, are the user's — see `docs/composition.md`.)
    ///
    /// # Errors
    ///
    /// For `workspace-write` only: [`WritableRootsError::Cwd`] when `cwd` does not exist or
    /// cannot be resolved, [`WritableRootsError::CwdNotADirectory`] when it is not a directory.
    pub fn for_tightening(
        policy: &SandboxPolicy,
        cwd: &Path,
        tmpdir: Option<&std::ffi::OsStr>,
    ) -> Result<Self, WritableRootsError> {
        let mut writable = Self::for_policy(policy, cwd, tmpdir)?;
        if writable.everything {
            return Ok(writable);
        }
        let temp = [Some(Path::new("/tmp")), tmpdir.map(Path::new)];
        for dir in temp.into_iter().flatten().filter(|d| d.is_absolute()) {
            let real = fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
            if !writable.roots.contains(&real) {
                writable.roots.push(real);
            }
        }
        Ok(writable)
    }

    /// From roots already computed.
    pub fn from_roots(roots: &EffectiveWritableRoots) -> Self {
        Self {
            everything: false,
            roots: roots.roots.iter().map(|r| r.root.clone()).collect(),
        }
    }

    /// Whether the command can write everywhere.
    pub fn everything(&self) -> bool {
        self.everything
    }

    /// The canonical roots.
    pub fn roots(&self) -> &[PathBuf] {
        &self.roots
    }

    /// The first symlink on the way to `path` (final component included) that
    /// the command could have planted: one lying inside a writable root.
    /// Following it would let the command choose where a file opened outside
    /// the sandbox (the audit log) is created. `None` when there is none, or
    /// when the command can write everything anyway.
    pub fn planted_link(&self, path: &Path) -> Option<PathBuf> {
        if self.everything || self.roots.is_empty() {
            return None;
        }
        let absolute = std::path::absolute(path).ok()?;
        let mut current = PathBuf::new();
        for component in absolute.components() {
            match component {
                std::path::Component::Normal(name) => {
                    let entry = current.join(name);
                    let is_link = entry
                        .symlink_metadata()
                        .is_ok_and(|m| m.file_type().is_symlink());
                    if is_link && self.roots.iter().any(|root| entry.starts_with(root)) {
                        return Some(entry);
                    }
                    current = fs::canonicalize(&entry).unwrap_or(entry);
                }
                std::path::Component::ParentDir => {
                    current.pop();
                }
                std::path::Component::CurDir => {}
                other => current.push(other),
            }
        }
        None
    }

    /// Whether the command could have written (created, replaced, or
    /// re-pointed a symlink on the way to) `path`. A relative `path` is taken
    /// against the current directory. Paths that do not exist are judged by
    /// where they would be created.
    pub fn could_write(&self, path: &Path) -> bool {
        if self.everything {
            return true;
        }
        if self.roots.is_empty() {
            return false;
        }
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            match std::env::current_dir() {
                Ok(dir) => dir.join(path),
                // Cannot place it: assume the worst.
                Err(_) => return true,
            }
        };
        // Strictly inside: the root directory itself cannot be replaced.
        let inside = |p: &Path| {
            self.roots
                .iter()
                .any(|root| p.starts_with(root) && p != root.as_path())
        };
        let mut current = PathBuf::new();
        for component in absolute.components() {
            match component {
                std::path::Component::Normal(name) => {
                    let entry = current.join(name);
                    if inside(&entry) {
                        return true;
                    }
                    current = match fs::canonicalize(&entry) {
                        Ok(real) if inside(&real) => return true,
                        Ok(real) => real,
                        Err(_) => entry,
                    };
                }
                std::path::Component::ParentDir => {
                    current.pop();
                }
                std::path::Component::CurDir => {}
                other => current.push(other),
            }
        }
        false
    }
}
