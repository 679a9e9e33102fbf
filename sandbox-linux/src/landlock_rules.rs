//! The Landlock ruleset: reads everywhere, writes only beneath the writable roots,
//! no TCP when network is off, and scopes that cut signals and abstract unix
//! sockets off from the rest of the machine.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use codex_policy_model::WritableRoot;
use landlock::{ABI, AccessFs, AccessNet, BitFlags, Scope};

/// Why the ruleset could not be built.
///
/// # Examples
///
/// ```
/// use codex_policy_model::SandboxPolicy;
/// use codex_sandbox_linux::{Compatibility, HostCapabilities, LandlockError, LinuxSandbox};
/// use codex_sandbox_linux::LinuxSandboxError;
///
/// let host = HostCapabilities::assumed("6.12.0").with_landlock_abi(Some(6));
/// let sandbox = LinuxSandbox::with_host(Compatibility::BestEffort, host);
/// let project = tempfile::tempdir()?;
/// let root = project.path().canonicalize()?;
/// let policy = SandboxPolicy::WorkspaceWrite {
///     writable_roots: Vec::new(),
///     network_access: false,
///     exclude_tmpdir_env_var: true,
///     exclude_slash_tmp: true,
/// };
/// let plan = sandbox.plan(&policy, &root, None)?;
/// project.close()?; // the only writable root is gone before the rules are built
/// let err = sandbox.prepare(plan).unwrap_err();
/// let LinuxSandboxError::Landlock(LandlockError::Open { path, .. }) = err else { panic!("{err}") };
/// assert_eq!(path, root);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LandlockError {
    /// A path the ruleset grants rights beneath could not be opened.
    #[error("opening {} for a Landlock rule: {source}", path.display())]
    Open {
        /// The path (a writable root, a device).
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
    /// The kernel refused to create the ruleset.
    #[error("landlock_create_ruleset: {0}")]
    Create(#[source] io::Error),
    /// The kernel refused a rule.
    #[error("landlock_add_rule for {}: {source}", path.display())]
    AddRule {
        /// The path the rule is for.
        path: PathBuf,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },
}

/// Device files every program expects to write (`> /dev/null`), with nothing to
/// leak or damage.
const WRITABLE_DEVICES: &[&str] = &[
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/tty",
    "/dev/random",
    "/dev/urandom",
];

/// Landlock ABIs with the features the sandbox relies on.
pub(crate) const ABI_TRUNCATE: i32 = 3;
pub(crate) const ABI_TCP: i32 = 4;
pub(crate) const ABI_IOCTL_DEV: i32 = 5;
pub(crate) const ABI_SCOPES: i32 = 6;

/// `struct landlock_ruleset_attr`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel ABI).
#[repr(C, packed)]
struct PathBeneathAttr {
    allowed_access: u64,
    parent_fd: i32,
}

const LANDLOCK_RULE_PATH_BENEATH: u32 = 1;

/// One rule: the rights granted beneath an opened path.
#[derive(Debug)]
struct Rule {
    path: PathBuf,
    /// `O_PATH | O_CLOEXEC`, opened once when the sandbox is prepared: every
    /// ruleset made from the template grants rights beneath that very inode.
    fd: OwnedFd,
    access: u64,
}

/// What a Landlock ruleset holds, prepared once (the paths opened, the rights
/// computed, the kernel's acceptance checked): [`instantiate`](Self::instantiate)
/// makes a fresh ruleset from it for each child in a few system calls. A
/// ruleset is not shared between children: each one adds rules for its own
/// private `/dev/shm` and `/dev/pts` before enforcing it, and a shared ruleset
/// would collect those of every earlier child.
#[derive(Debug)]
pub(crate) struct LandlockTemplate {
    attr: RulesetAttr,
    rules: Vec<Rule>,
    pub(crate) description: Vec<String>,
    /// Rights for the sandbox's private `/dev/shm` (every handled right) and
    /// `/dev/pts` (write and device ioctls), granted in the child once mounted.
    pub(crate) shm_access: u64,
    pub(crate) pts_access: u64,
}

/// What the ruleset should contain.
pub(crate) struct LandlockRequest<'a> {
    pub(crate) abi: i32,
    pub(crate) writable_roots: &'a [WritableRoot],
    pub(crate) deny_tcp: bool,
    pub(crate) scopes: bool,
}

fn abi_of(version: i32) -> ABI {
    match version {
        ..=0 => ABI::Unsupported,
        1 => ABI::V1,
        2 => ABI::V2,
        3 => ABI::V3,
        4 => ABI::V4,
        5 => ABI::V5,
        6 => ABI::V6,
        _ => ABI::V7,
    }
}

/// The write rights of an ABI with device ioctls (ABI 5: refused on every
/// device but the terminal and the harmless ones), minus unix-socket
/// resolution (the socket broker decides connects).
/// `WriteFile` as `write-file`.
fn kebab(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

pub(crate) fn write_access(abi: i32) -> BitFlags<AccessFs> {
    AccessFs::from_write(abi_of(abi)) & !AccessFs::ResolveUnix
}

impl LandlockTemplate {
    /// Opens the paths and computes the rights; checks once that the kernel
    /// accepts the ruleset. Nothing is enforced until a child calls
    /// `landlock_restrict_self` on a ruleset made from it.
    pub(crate) fn build(request: &LandlockRequest<'_>) -> Result<Self, LandlockError> {
        let handled = write_access(request.abi);
        // The rights by name, for people: `write-file, remove-dir, …`.
        let rights: Vec<String> = handled
            .iter()
            .map(|right| kebab(&format!("{right:?}")))
            .collect();
        let mut description = vec![format!(
            "landlock ABI {}: handled {}",
            request.abi,
            rights.join(", ")
        )];
        let mut attr = RulesetAttr {
            handled_access_fs: handled.bits(),
            handled_access_net: 0,
            scoped: 0,
        };
        if request.deny_tcp {
            attr.handled_access_net = (AccessNet::BindTcp | AccessNet::ConnectTcp).bits();
            description
                .push("landlock: TCP bind and connect refused (no rule allows any port)".into());
        }
        if request.scopes {
            attr.scoped = (Scope::AbstractUnixSocket | Scope::Signal).bits();
            description.push("landlock scopes: signals, abstract unix sockets".into());
        }
        let file_rights = AccessFs::from_file(abi_of(request.abi));
        let mut rules = Vec::new();
        for root in request.writable_roots {
            let (fd, is_dir) = open_path(&root.root)?;
            // A root that is a file gets the rights that apply to files.
            let access = if is_dir {
                handled
            } else {
                handled & file_rights
            };
            rules.push(Rule {
                path: root.root.clone(),
                fd,
                access: access.bits(),
            });
            description.push(format!("landlock write: {}", root.root.display()));
        }
        let device_access =
            handled & (AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev);
        for device in WRITABLE_DEVICES {
            let path = Path::new(device);
            if path.exists() {
                let (fd, _) = open_path(path)?;
                rules.push(Rule {
                    path: path.to_owned(),
                    fd,
                    access: device_access.bits(),
                });
            }
        }
        description.push(format!(
            "landlock write and ioctl (files): {}",
            WRITABLE_DEVICES.join(", ")
        ));
        if handled.contains(AccessFs::IoctlDev) {
            description.push("landlock: ioctl refused on every other device".into());
        }
        let template = Self {
            attr,
            rules,
            description,
            shm_access: handled.bits(),
            pts_access: (handled & (AccessFs::WriteFile | AccessFs::IoctlDev)).bits(),
        };
        // The kernel's verdict now, not at the first start.
        drop(template.instantiate()?);
        Ok(template)
    }

    /// A new ruleset (close-on-exec) holding the template's rules.
    pub(crate) fn instantiate(&self) -> Result<OwnedFd, LandlockError> {
        let size = if self.attr.scoped != 0 {
            std::mem::size_of::<RulesetAttr>()
        } else if self.attr.handled_access_net != 0 {
            2 * std::mem::size_of::<u64>()
        } else {
            std::mem::size_of::<u64>()
        };
        // SAFETY: a valid attribute of at least `size` bytes; the kernel
        // returns a new close-on-exec descriptor.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_landlock_create_ruleset,
                &self.attr as *const RulesetAttr,
                size,
                0u32,
            )
        };
        if fd < 0 {
            return Err(LandlockError::Create(io::Error::last_os_error()));
        }
        // SAFETY: a descriptor just returned to us, owned by nobody else.
        let ruleset = unsafe { OwnedFd::from_raw_fd(fd as libc::c_int) };
        for rule in &self.rules {
            let attr = PathBeneathAttr {
                allowed_access: rule.access,
                parent_fd: rule.fd.as_raw_fd(),
            };
            // SAFETY: valid descriptors and a stack attribute.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_landlock_add_rule,
                    ruleset.as_raw_fd(),
                    LANDLOCK_RULE_PATH_BENEATH,
                    &attr as *const PathBeneathAttr,
                    0u32,
                )
            };
            if ret < 0 {
                return Err(LandlockError::AddRule {
                    path: rule.path.clone(),
                    source: io::Error::last_os_error(),
                });
            }
        }
        Ok(ruleset)
    }
}

/// `open(path, O_PATH | O_CLOEXEC)`, and whether it is a directory.
fn open_path(path: &Path) -> Result<(OwnedFd, bool), LandlockError> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_PATH | libc::O_CLOEXEC)
        .open(path)
        .map_err(|source| LandlockError::Open {
            path: path.to_owned(),
            source,
        })?;
    let is_dir = file.metadata().is_ok_and(|m| m.is_dir());
    Ok((OwnedFd::from(file), is_dir))
}
