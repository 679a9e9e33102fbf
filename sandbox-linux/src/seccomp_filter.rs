//! The seccomp programs: a deny list that refuses escape-prone system calls, and,
//! with network off, every socket that is not `AF_UNIX`.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

/// Why a filter could not be compiled (a bug in the rules, never input-dependent).
///
/// Opaque: its message says what the filter compiler refused, and the
/// compiler's own error type stays an implementation detail, so a new
/// version of it changes no signature here.
///
/// # Examples
///
/// No policy or host produces one; when [`LinuxSandbox::prepare`](crate::LinuxSandbox::prepare)
/// meets one, it arrives wrapped, before any command starts, as an error
/// that can cross threads and be boxed:
///
/// ```
/// use codex_sandbox_linux::{LinuxSandboxError, SeccompError};
///
/// fn seccomp_cause(err: &LinuxSandboxError) -> Option<&SeccompError> {
///     match err {
///         LinuxSandboxError::Seccomp(cause) => Some(cause),
///         _ => None,
///     }
/// }
/// fn boxable<E: std::error::Error + Send + Sync + 'static>() {}
/// boxable::<SeccompError>();
/// let other = LinuxSandboxError::from(std::io::Error::other("no such thing"));
/// assert!(seccomp_cause(&other).is_none());
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SeccompError(seccompiler::BackendError);

impl From<seccompiler::BackendError> for SeccompError {
    fn from(err: seccompiler::BackendError) -> Self {
        Self(err)
    }
}

#[cfg(target_arch = "x86_64")]
const ARCH: TargetArch = TargetArch::x86_64;
#[cfg(target_arch = "aarch64")]
const ARCH: TargetArch = TargetArch::aarch64;

/// System calls refused outright (EPERM).
const DENIED: &[(libc::c_long, &str)] = &[
    (libc::SYS_ptrace, "ptrace"),
    (libc::SYS_process_vm_readv, "process_vm_readv"),
    (libc::SYS_process_vm_writev, "process_vm_writev"),
    (libc::SYS_io_uring_setup, "io_uring_setup"),
    (libc::SYS_io_uring_enter, "io_uring_enter"),
    (libc::SYS_io_uring_register, "io_uring_register"),
    (libc::SYS_bpf, "bpf"),
    (libc::SYS_perf_event_open, "perf_event_open"),
    (libc::SYS_kexec_load, "kexec_load"),
    (libc::SYS_kexec_file_load, "kexec_file_load"),
    (libc::SYS_add_key, "add_key"),
    (libc::SYS_request_key, "request_key"),
    (libc::SYS_keyctl, "keyctl"),
    (libc::SYS_mount, "mount"),
    (libc::SYS_umount2, "umount2"),
    (libc::SYS_pivot_root, "pivot_root"),
    (libc::SYS_setns, "setns"),
    (libc::SYS_open_tree, "open_tree"),
    (libc::SYS_move_mount, "move_mount"),
    (libc::SYS_fsopen, "fsopen"),
    (libc::SYS_fsconfig, "fsconfig"),
    (libc::SYS_fsmount, "fsmount"),
    (libc::SYS_fspick, "fspick"),
    (libc::SYS_mount_setattr, "mount_setattr"),
    (libc::SYS_init_module, "init_module"),
    (libc::SYS_finit_module, "finit_module"),
    (libc::SYS_delete_module, "delete_module"),
    (libc::SYS_reboot, "reboot"),
    (libc::SYS_swapon, "swapon"),
    (libc::SYS_swapoff, "swapoff"),
    (libc::SYS_acct, "acct"),
    (libc::SYS_userfaultfd, "userfaultfd"),
    // Handle-based opens reach files by inode, beneath every bind mount.
    (libc::SYS_name_to_handle_at, "name_to_handle_at"),
    (libc::SYS_open_by_handle_at, "open_by_handle_at"),
];

/// Namespace flags that `clone` and `unshare` may not use.
const NAMESPACE_FLAGS: &[libc::c_int] = &[
    libc::CLONE_NEWUSER,
    libc::CLONE_NEWNS,
    libc::CLONE_NEWNET,
    libc::CLONE_NEWPID,
    libc::CLONE_NEWIPC,
    libc::CLONE_NEWUTS,
    libc::CLONE_NEWCGROUP,
    0x80, // CLONE_NEWTIME
];

const TIOCLINUX: u64 = 0x541C;

/// `FS_IOC_SETFLAGS` (and its 32-bit form), `FS_IOC_FSSETXATTR`,
/// `FS_IOC_SETVERSION` (and ext4's own numbers for it), `FS_IOC_ENABLE_VERITY`,
/// `FS_IOC_SET_ENCRYPTION_POLICY`.
const FILE_ATTRIBUTE_IOCTLS: [u64; 9] = [
    0x4008_6602,
    0x4004_6602,
    0x401c_5820,
    0x4008_7602,
    0x4004_7602, // FS_IOC32_SETVERSION
    0x4008_6604, // EXT4_IOC_SETVERSION
    0x4004_6604, // EXT4_IOC32_SETVERSION
    0x4080_6685,
    0x800c_6613,
];

/// Extended-attribute writes: `system.posix_acl_access` rewrites a file's
/// mode bits and a default ACL those of files created later, beyond the
/// broker's `chmod` rules, and seccomp cannot read the attribute's name.
/// Refused as unsupported (`EOPNOTSUPP`), which copying tools take in stride.
const XATTR_WRITES: [u32; 9] = [
    libc::SYS_setxattr as u32,
    libc::SYS_lsetxattr as u32,
    libc::SYS_fsetxattr as u32,
    libc::SYS_removexattr as u32,
    libc::SYS_lremovexattr as u32,
    libc::SYS_fremovexattr as u32,
    463, // setxattrat
    466, // removexattrat
    469, // file_setattr: the flags of FS_IOC_FSSETXATTR, by path (Linux 6.17)
];

/// The compiled program.
#[derive(Debug)]
pub(crate) struct SeccompProgram {
    pub(crate) program: BpfProgram,
    /// One line per rule, for `debug` reports.
    pub(crate) description: Vec<String>,
}

/// The socket families a child may create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sockets {
    /// Every family (the policy has the network).
    Any,
    /// `AF_UNIX` only (network off).
    UnixOnly,
    /// A filtered network: the sandbox's own, empty network namespace is the
    /// boundary, so only the families it confines — `AF_UNIX`, `AF_INET`,
    /// `AF_INET6`, and `AF_NETLINK` for `NETLINK_ROUTE` (to read its own
    /// interfaces) — never one that reaches past a network namespace
    /// (`AF_VSOCK` reaches the hypervisor of a virtual machine, Bluetooth a
    /// radio).
    Namespaced,
}

/// Compiles the filters for a child; `sockets` adds the socket rule;
/// `broker` sends every `connect` to the unix-socket broker and refuses unix
/// datagram sockets (their `sendto`/`sendmsg` name a peer by path per message,
/// out of the broker's sight).
pub(crate) fn build(sockets: Sockets, broker: bool) -> Result<SeccompProgram, SeccompError> {
    let mut rules: BTreeMap<i64, Vec<SeccompRule>> =
        DENIED.iter().map(|(nr, _)| (*nr, Vec::new())).collect();
    let mut description = vec![format!(
        "seccomp EPERM: {}",
        DENIED
            .iter()
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    )];

    rules.insert(
        libc::SYS_ioctl,
        vec![
            rule(vec![cond(1, SeccompCmpOp::Eq, libc::TIOCSTI)?])?,
            rule(vec![cond(1, SeccompCmpOp::Eq, TIOCLINUX)?])?,
        ]
        .into_iter()
        // File attributes an owner may set outside any writable root
        // (Landlock does not see them): flags, project id, verity (freezes
        // the contents), encryption policy (makes a directory unusable).
        .chain(
            FILE_ATTRIBUTE_IOCTLS
                .iter()
                .map(|&cmd| rule(vec![cond(1, SeccompCmpOp::Eq, cmd)?]))
                .collect::<Result<Vec<_>, _>>()?,
        )
        .collect(),
    );
    description.push(
        "seccomp EPERM: ioctl(TIOCSTI, TIOCLINUX, FS_IOC_SETFLAGS, FS_IOC_FSSETXATTR, \
         FS_IOC_SETVERSION, FS_IOC_ENABLE_VERITY, FS_IOC_SET_ENCRYPTION_POLICY)"
            .into(),
    );

    let namespace_rules = |arg| -> Result<Vec<SeccompRule>, SeccompError> {
        NAMESPACE_FLAGS
            .iter()
            .map(|&flag| {
                let flag = flag as u64;
                rule(vec![cond(arg, SeccompCmpOp::MaskedEq(flag), flag)?])
            })
            .collect()
    };
    rules.insert(libc::SYS_clone, namespace_rules(0)?);
    rules.insert(libc::SYS_unshare, namespace_rules(0)?);
    description.push("seccomp EPERM: clone/unshare with any CLONE_NEW* flag".into());

    // No set-uid or set-gid file is created: a root command would leave a
    // root-owned set-uid binary for any local user (chmod goes to the broker,
    // which refuses those bits too). (syscall, flags argument, mode argument)
    let creating: &[(libc::c_long, Option<u8>, u8)] = &[
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_open, Some(1), 2),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_creat, None, 1),
        #[cfg(target_arch = "x86_64")]
        (libc::SYS_mknod, None, 1),
        (libc::SYS_openat, Some(2), 3),
        (libc::SYS_mknodat, None, 2),
    ];
    for &(syscall, flags, mode) in creating {
        let entry = rules.entry(syscall).or_default();
        for bit in [libc::S_ISUID as u64, libc::S_ISGID as u64] {
            let special = cond(mode, SeccompCmpOp::MaskedEq(bit), bit)?;
            match flags {
                // O_CREAT and O_TMPFILE are the flags that use the mode.
                Some(arg) => {
                    for create in [libc::O_CREAT as u64, libc::O_TMPFILE as u64] {
                        entry.push(rule(vec![
                            cond(arg, SeccompCmpOp::MaskedEq(create), create)?,
                            special.clone(),
                        ])?);
                    }
                }
                None => entry.push(rule(vec![special])?),
            }
        }
    }
    description
        .push("seccomp EPERM: creating a set-uid or set-gid file (open, creat, mknod)".into());

    // A lease on a file outside the roots holds the host's writers of it up
    // to lease-break-time (45 s) each: refused.
    rules.insert(
        libc::SYS_fcntl,
        vec![rule(vec![cond(
            1,
            SeccompCmpOp::Eq,
            libc::F_SETLEASE as u64,
        )?])?],
    );
    description.push("seccomp EPERM: fcntl(F_SETLEASE)".into());

    // Only the query (0xffffffff) and the default persona (PER_LINUX = 0) pass.
    rules.insert(
        libc::SYS_personality,
        vec![rule(vec![
            cond(0, SeccompCmpOp::Ne, 0xffff_ffff)?,
            cond(0, SeccompCmpOp::Ne, 0)?,
        ])?],
    );
    description.push("seccomp EPERM: personality() other than query and PER_LINUX".into());

    match sockets {
        Sockets::Any => {}
        Sockets::UnixOnly => {
            rules.insert(
                libc::SYS_socket,
                vec![rule(vec![cond(
                    0,
                    SeccompCmpOp::Ne,
                    libc::AF_UNIX as u64,
                )?])?],
            );
            description.push("seccomp EPERM: socket() of any family but AF_UNIX".into());
        }
        Sockets::Namespaced => {
            let other_family = [
                libc::AF_UNIX,
                libc::AF_INET,
                libc::AF_INET6,
                libc::AF_NETLINK,
            ]
            .iter()
            .map(|&family| cond(0, SeccompCmpOp::Ne, family as u64))
            .collect::<Result<Vec<_>, _>>()?;
            rules.insert(
                libc::SYS_socket,
                vec![
                    rule(other_family)?,
                    rule(vec![
                        cond(0, SeccompCmpOp::Eq, libc::AF_NETLINK as u64)?,
                        cond(2, SeccompCmpOp::Ne, libc::NETLINK_ROUTE as u64)?,
                    ])?,
                ],
            );
            description.push(
                "seccomp EPERM: socket() of any family but AF_UNIX, AF_INET, AF_INET6 and \
                 AF_NETLINK/NETLINK_ROUTE (filtered network: its namespace confines those)"
                    .into(),
            );
        }
    }
    if broker {
        // SOCK_RAW is a datagram socket for AF_UNIX; the type's low bits name it.
        for syscall in [libc::SYS_socket, libc::SYS_socketpair] {
            let entry = rules.entry(syscall).or_default();
            for kind in [libc::SOCK_DGRAM, libc::SOCK_RAW] {
                entry.push(rule(vec![
                    cond(0, SeccompCmpOp::Eq, libc::AF_UNIX as u64)?,
                    cond(1, SeccompCmpOp::MaskedEq(0xf), kind as u64)?,
                ])?);
            }
        }
        description.push("seccomp EPERM: unix datagram sockets (socket, socketpair)".into());
        description.push(
            "seccomp USER_NOTIF: connect, chmod, fchmod, fchmodat, fchmodat2, chown, fchown, \
             lchown, fchownat (decided by the broker)"
                .into(),
        );
    }

    let rules_program: BpfProgram = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        ARCH,
    )?
    .try_into()?;
    description
        .push("seccomp ENOSYS: clone3, openat2 (flags or mode unreadable by seccomp)".into());
    description.push(
        "seccomp EOPNOTSUPP: setxattr, lsetxattr, fsetxattr, removexattr, lremovexattr, \
         fremovexattr, setxattrat, removexattrat, file_setattr (an ACL rewrites a mode)"
            .into(),
    );
    #[cfg(target_arch = "x86_64")]
    description.push("seccomp EPERM: every x32 system call (nr >= 0x40000000)".into());

    // One program: the prefix, then seccompiler's rules. A single filter is
    // attached with one system call and evaluated once per system call.
    let mut program = prefix(broker);
    program.extend(rules_program);
    Ok(SeccompProgram {
        program,
        description,
    })
}

/// Checks seccompiler has no rule shape for, written by hand (a few BPF
/// instructions): `connect` goes to the broker's listener (seccompiler has no
/// user-notification action) when `broker`; clone3 gets ENOSYS — its flags are in memory, where seccomp
/// cannot look, and ENOSYS makes libc fall back to clone, whose flags the rules
/// check — and, on x86_64, every x32 system call is refused: x32 shares the
/// x86_64 audit arch but numbers its calls from 0x40000000, so rules keyed on
/// x86_64 numbers would not see them. Other architectures fall through to
/// seccompiler's program, which kills on an arch mismatch.
fn prefix(broker: bool) -> BpfProgram {
    use seccompiler::sock_filter;
    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;
    const X32_SYSCALL_BIT: u32 = 0x4000_0000;
    let stmt = |code: u32, k: u32| sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jump = |code: u32, k: u32, jt: u8, jf: u8| sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let ld_abs = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let jeq = libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K;
    let jge = libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K;
    let ret = libc::BPF_RET | libc::BPF_K;
    let x32_bit = if cfg!(target_arch = "x86_64") {
        X32_SYSCALL_BIT
    } else {
        u32::MAX
    };
    let notified: &[u32] = if broker { &NOTIFIED } else { &[] };
    // What each checked number returns, by index into `returns` below.
    // clone3: flags in memory; openat2: mode in memory. ENOSYS makes libc
    // fall back to clone / callers to openat, whose arguments the rules see.
    let (enosys, notify, unsupported, eperm) = (0, 1, 2, 3);
    let returns = [
        libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32,
        libc::SECCOMP_RET_USER_NOTIF,
        libc::SECCOMP_RET_ERRNO | libc::EOPNOTSUPP as u32,
        libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
    ];
    let checks: Vec<(u32, usize)> = [libc::SYS_clone3 as u32, libc::SYS_openat2 as u32]
        .iter()
        .map(|&nr| (nr, enosys))
        .chain(notified.iter().map(|&nr| (nr, notify)))
        .chain(XATTR_WRITES.iter().map(|&nr| (nr, unsupported)))
        .collect();
    // Layout: 0 ld arch, 1 arch check, 2 ld nr, 3 x32 check, the checks, a
    // jump to the rules, the returns, the rules.
    let first_return = 5 + checks.len();
    let rules_start = first_return + returns.len();
    let offset = |from: usize, to: usize| (to - from - 1) as u8;
    let mut program = vec![
        stmt(ld_abs, 4), // seccomp_data.arch
        jump(jeq, AUDIT_ARCH, 0, offset(1, rules_start)),
        stmt(ld_abs, 0), // seccomp_data.nr
        jump(jge, x32_bit, offset(3, first_return + eperm), 0),
    ];
    for (nr, target) in &checks {
        let at = program.len();
        program.push(jump(jeq, *nr, offset(at, first_return + target), 0));
    }
    let at = program.len();
    program.push(stmt(
        libc::BPF_JMP | libc::BPF_JA,
        u32::from(offset(at, rules_start)),
    ));
    program.extend(returns.map(|action| stmt(ret, action)));
    program
}

/// System calls the broker decides: `connect` (path-named unix sockets) and the
/// `chmod` and `chown` families (Landlock does not confine metadata: the
/// broker applies the writable roots to modes and owners).
#[cfg(target_arch = "x86_64")]
const NOTIFIED: [u32; 9] = [
    libc::SYS_connect as u32,
    libc::SYS_chmod as u32,
    libc::SYS_fchmod as u32,
    libc::SYS_fchmodat as u32,
    libc::SYS_fchmodat2 as u32,
    libc::SYS_chown as u32,
    libc::SYS_fchown as u32,
    libc::SYS_lchown as u32,
    libc::SYS_fchownat as u32,
];
#[cfg(target_arch = "aarch64")]
const NOTIFIED: [u32; 6] = [
    libc::SYS_connect as u32,
    libc::SYS_fchmod as u32,
    libc::SYS_fchmodat as u32,
    452, // fchmodat2
    libc::SYS_fchown as u32,
    libc::SYS_fchownat as u32,
];

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, SeccompError> {
    Ok(SeccompRule::new(conditions)?)
}

fn cond(arg: u8, op: SeccompCmpOp, value: u64) -> Result<SeccompCondition, SeccompError> {
    // Every argument checked here is an int in the kernel ABI: compare 32 bits so
    // garbage in the upper half of the register cannot dodge the rule.
    Ok(SeccompCondition::new(
        arg,
        SeccompCmpArgLen::Dword,
        op,
        value,
    )?)
}
