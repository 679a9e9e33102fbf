//! The Landlock ruleset: reads everywhere, writes only beneath the writable roots,
//! no TCP when network is off, and scopes that cut signals and abstract unix
//! sockets off from the rest of the machine.

use std::os::fd::OwnedFd;
use std::path::Path;

use codex_policy_model::WritableRoot;
use landlock::{
    ABI, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd, PathFdError,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetError, Scope,
};

/// Why the ruleset could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LandlockError {
    /// The kernel refused the ruleset or a rule.
    #[error(transparent)]
    Ruleset(#[from] RulesetError),
    /// A writable root could not be opened.
    #[error(transparent)]
    Path(#[from] PathFdError),
    /// The kernel returned no ruleset descriptor.
    #[error("the kernel returned no Landlock ruleset descriptor")]
    NoDescriptor,
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

/// A ruleset ready to be enforced in a child with `landlock_restrict_self`.
#[derive(Debug)]
pub(crate) struct LandlockRuleset {
    pub(crate) fd: OwnedFd,
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
pub(crate) fn write_access(abi: i32) -> BitFlags<AccessFs> {
    AccessFs::from_write(abi_of(abi)) & !AccessFs::ResolveUnix
}

/// Builds the ruleset in the calling process; nothing is enforced until a child
/// calls `landlock_restrict_self` on the returned descriptor.
pub(crate) fn build(request: &LandlockRequest<'_>) -> Result<LandlockRuleset, LandlockError> {
    let handled = write_access(request.abi);
    let mut description = vec![format!(
        "landlock ABI {}: handled {:?}",
        request.abi, handled
    )];
    // Every right requested here exists at `abi`: refuse rather than silently drop one.
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(handled)?;
    if request.deny_tcp {
        ruleset = ruleset.handle_access(AccessNet::BindTcp | AccessNet::ConnectTcp)?;
        description.push("landlock: TCP bind and connect refused (no rule allows any port)".into());
    }
    if request.scopes {
        ruleset = ruleset.scope(Scope::AbstractUnixSocket | Scope::Signal)?;
        description.push("landlock scopes: signals, abstract unix sockets".into());
    }
    let mut created = ruleset.create()?;
    for root in request.writable_roots {
        created = created.add_rule(PathBeneath::new(PathFd::new(&root.root)?, handled))?;
        description.push(format!("landlock write: {}", root.root.display()));
    }
    let device_access = handled & (AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev);
    for device in WRITABLE_DEVICES {
        if Path::new(device).exists() {
            created = created.add_rule(PathBeneath::new(PathFd::new(device)?, device_access))?;
        }
    }
    description.push(format!(
        "landlock write and ioctl (files): {}",
        WRITABLE_DEVICES.join(", ")
    ));
    if handled.contains(AccessFs::IoctlDev) {
        description.push("landlock: ioctl refused on every other device".into());
    }
    let fd: Option<OwnedFd> = created.into();
    let fd = fd.ok_or(LandlockError::NoDescriptor)?;
    Ok(LandlockRuleset {
        fd,
        description,
        shm_access: handled.bits(),
        pts_access: (handled & (AccessFs::WriteFile | AccessFs::IoctlDev)).bits(),
    })
}
