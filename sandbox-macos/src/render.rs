//! The profile's text: fixed rules, and parameter *names* where paths go.
//!
//! Nothing here sees a path. What is written is either a constant of this
//! file, a parameter name made by [`crate::profile`] (ASCII capitals, digits
//! and `_`), or a port (a `u16`, printed as digits). That is what makes the
//! text safe whatever the paths hold: quotes, parentheses, `;`, `#|`, newlines
//! and bytes that are not UTF-8 all stay in the `-D NAME=VALUE` arguments.

use std::fmt::Write as _;

use crate::{SeatbeltNetwork, profile::Plan, profile::SocketPlan};

/// Where DNS answers come from on macOS: `getaddrinfo` asks mDNSResponder
/// over this socket (the kernel's resolved name: `/var` is `/private/var`).
const MDNS_RESPONDER_SOCKET: &str = "/private/var/run/mDNSResponder";

/// The sysctl names ordinary tools read, and why. Reading every sysctl
/// (`(allow sysctl-read)`) was rejected: `kern.proc.*` lists every process
/// of the host and `kern.procargs2` returns the arguments *and environment*
/// of the user's other processes — tokens included — which the Linux
/// backend hides behind a private `/proc`.
const SYSCTL_NAMES: &[(&str, &str)] = &[
    // CPU counts: thread pools (make -j, cargo, Go's GOMAXPROCS, Node's os.cpus()).
    ("hw.ncpu", "CPU count"),
    ("hw.activecpu", "CPU count"),
    ("hw.logicalcpu", "CPU count"),
    ("hw.logicalcpu_max", "CPU count"),
    ("hw.physicalcpu", "CPU count"),
    ("hw.physicalcpu_max", "CPU count"),
    ("hw.nperflevels", "performance/efficiency core split"),
    (
        "hw.memsize",
        "memory size: JVM heap sizing, allocators, build tools",
    ),
    ("hw.pagesize", "page size: allocators"),
    ("hw.pagesize_compat", "page size: allocators"),
    ("hw.cachelinesize", "cache geometry: runtimes tune to it"),
    ("hw.l1dcachesize", "cache geometry"),
    ("hw.l1icachesize", "cache geometry"),
    ("hw.l2cachesize", "cache geometry"),
    ("hw.l3cachesize", "cache geometry"),
    ("hw.byteorder", "endianness"),
    ("hw.cputype", "CPU type: uname -m, arch, Rosetta checks"),
    ("hw.cpusubtype", "CPU type"),
    ("hw.cpufamily", "CPU type"),
    ("hw.machine", "uname -m"),
    ("hw.model", "machine model"),
    ("hw.tbfrequency", "timebase: clocks of some runtimes"),
    ("kern.ostype", "uname -s"),
    ("kern.osrelease", "uname -r"),
    ("kern.version", "uname -v"),
    ("kern.hostname", "uname -n, hostname"),
    ("kern.osversion", "OS build: sw_vers, toolchains"),
    ("kern.osproductversion", "OS version: sw_vers, toolchains"),
    (
        "kern.osvariant_status",
        "libSystem's variant checks at start-up",
    ),
    (
        "kern.secure_kernel",
        "libSystem's variant checks at start-up",
    ),
    ("kern.argmax", "argument space: xargs, find -exec, shells"),
    (
        "kern.maxfilesperproc",
        "descriptor limit: servers, build tools",
    ),
    ("kern.maxproc", "process limit"),
    ("kern.usrstack64", "stack location: JVM, Go"),
    (
        "vm.loadavg",
        "load average: make -l, uptime, Node's os.loadavg()",
    ),
    (
        "sysctl.proc_cputype",
        "the process's architecture: Rosetta checks",
    ),
    (
        "sysctl.proc_translated",
        "whether Rosetta translates: Homebrew, toolchains",
    ),
];

/// Prefixes of hardware facts, read by feature detection everywhere (Rust's
/// std_detect, OpenSSL, Go, the JVM).
const SYSCTL_PREFIXES: &[(&str, &str)] = &[
    ("hw.optional.", "CPU features (SIMD) for feature detection"),
    ("hw.perflevel", "per-core-type counts and caches"),
    (
        "machdep.cpu.",
        "CPU brand and features: Node's os.cpus(), x86 detection",
    ),
];

pub(crate) fn render(plan: &Plan) -> String {
    let mut out = Sbpl::default();
    out.raw("(version 1)");
    out.comment("codex-policy: Seatbelt profile. Every path is a parameter (-D NAME=VALUE),");
    out.comment("never text of this profile. Later rules win over earlier ones.");
    out.blank();
    out.comment("Closed by default: what no rule below allows is refused.");
    out.raw("(deny default)");

    process_rules(&mut out);
    system_rules(&mut out);
    file_rules(&mut out, plan);
    device_rules(&mut out, plan);
    network_rules(&mut out, plan);
    final_denies(&mut out, plan);
    out.text
}

fn process_rules(out: &mut Sbpl) {
    out.section("processes");
    out.comment("Commands start other commands; every child inherits this profile.");
    out.raw("(allow process-fork)");
    out.raw("(allow process-exec)");
    out.comment("Signals only within the sandbox: no kill of the caller or any other process.");
    out.raw("(allow signal (target same-sandbox))");
    out.comment(
        "A process may inspect its own and its sandboxed children (ps of its jobs, resource use).",
    );
    out.raw("(allow process-info* (target same-sandbox))");
}

fn system_rules(out: &mut Sbpl) {
    out.section("system information");
    out.comment("Named sysctls only: reading all would expose every host process's arguments");
    out.comment("and environment (kern.procargs2), tokens included.");
    out.raw("(allow sysctl-read");
    for (name, why) in SYSCTL_NAMES {
        out.raw_with_comment(&format!("  (sysctl-name \"{name}\")"), why);
    }
    for (prefix, why) in SYSCTL_PREFIXES {
        out.raw_with_comment(&format!("  (sysctl-name-prefix \"{prefix}\")"), why);
    }
    out.raw(")");
    out.comment("Host statistics: Node's os.cpus() (host_processor_info), vm_stat, top.");
    out.raw("(allow mach-host*)");
    out.comment("User and group lookups (getpwuid, getgrgid: whoami, ls -l, git, ssh) go to opendirectoryd.");
    out.raw("(allow mach-lookup (global-name \"com.apple.system.opendirectoryd.libinfo\"))");
    out.comment("POSIX semaphores: Python's multiprocessing (SemLock) and concurrent.futures.");
    out.comment("POSIX shared memory stays closed: its namespace is shared with the user's other processes.");
    out.raw("(allow ipc-posix-sem)");
    out.comment(
        "Unix sockets may be created (socketpair: Node's and libuv's child stdio); binding and",
    );
    out.comment("connecting them are separate rules, in the network section.");
    out.raw("(allow system-socket (socket-domain AF_UNIX))");
}

fn file_rules(out: &mut Sbpl, plan: &Plan) {
    out.section("files");
    out.comment(
        "The policy lets a command read the whole file system; hidden paths are denied at the end.",
    );
    out.raw("(allow file-read*)");
    if plan.roots.is_empty() {
        out.comment("No writable root: the policy is read-only.");
    }
    if !plan.roots.is_empty() {
        out.comment("Writes beneath each writable root, except what stays read-only in it:");
        out.comment(
            ".git, .codex, .agents, .codex-profile at its top (so a command cannot plant hooks or",
        );
        out.comment(
            "raise its own permissions for the next run), and the caller's protected paths.",
        );
    }
    for root in &plan.roots {
        out.raw("(allow file-write*");
        out.raw("  (require-all");
        let excluded: Vec<&String> = root.read_only.iter().chain(&plan.protected).collect();
        let subpath = format!("    (subpath (param \"{}\"))", root.root);
        if excluded.is_empty() {
            out.raw(&format!("{subpath}))"));
            continue;
        }
        out.raw(&subpath);
        let last = excluded.len() - 1;
        for (i, name) in excluded.iter().enumerate() {
            let close = if i == last { "))" } else { "" };
            out.raw(&format!(
                "    (require-not (subpath (param \"{name}\"))){close}"
            ));
        }
    }
    if !plan.roots.is_empty() {
        out.comment(
            "APFS is case-insensitive: to the host's tools `.Codex` is `.codex`, but these rules",
        );
        out.comment(
            "compare bytes. So no write beneath any .codex, .agents or .codex-profile, in any",
        );
        out.comment(
            "case, anywhere; and none beneath a .git spelled with a capital (a .git in lower case",
        );
        out.comment("below the top of a root is an ordinary nested repository).");
        for pattern in CASE_FOLDED_PROTECTED {
            out.raw(&format!("(deny file-write* (regex #\"{pattern}\"))"));
        }
    }
}

/// Case variants of the protected names, as path regexes (no path of the
/// user's in them: they match a component anywhere).
const CASE_FOLDED_PROTECTED: [&str; 4] = [
    r"/\.[Cc][Oo][Dd][Ee][Xx](/|$)",
    r"/\.[Aa][Gg][Ee][Nn][Tt][Ss](/|$)",
    r"/\.[Cc][Oo][Dd][Ee][Xx]-[Pp][Rr][Oo][Ff][Ii][Ll][Ee](/|$)",
    r"/\.(G[Ii][Tt]|g(I[Tt]|iT))(/|$)",
];

fn device_rules(out: &mut Sbpl, plan: &Plan) {
    out.section("devices");
    out.comment(
        "Output thrown away (`> /dev/null`): data writes only, no other change to the device.",
    );
    out.raw("(allow file-write-data (literal \"/dev/null\"))");
    out.comment(
        "/dev/fd/N and /dev/stdout, /dev/stderr: opening one only duplicates a descriptor the",
    );
    out.comment("process already holds (`echo x > /dev/stderr`).");
    out.raw("(allow file-write-data (regex #\"^/dev/fd/[0-9]+$\"))");
    out.comment(
        "dyld registers the DTrace probes of node, python, ruby, java here at every start;",
    );
    out.comment("refused, each exec logs a violation.");
    out.raw("(allow file-write-data file-ioctl (literal \"/dev/dtracehelper\"))");
    out.comment("Terminals and serial lines: every one of the machine is closed, to reading too");
    out.comment(
        "(another tab's typing, a sudo password, could be read from it; opening a USB serial",
    );
    out.comment(
        "line resets the board behind it), /dev/tty included. The command leads a session of",
    );
    out.comment("its own, without a controlling terminal, so it cannot push keystrokes into the");
    out.comment("user's (TIOCSTI). No new pseudo-terminals either.");
    out.raw("(deny file-read* file-write* file-ioctl (regex #\"^/dev/(tty|cu\\.|pty)\"))");
    if let Some(terminal) = &plan.terminal {
        out.comment(
            "The terminal the command was given: its input and output, its metadata (fstat:",
        );
        out.comment("stdio buffering, ttyname) and its modes (isatty, tcsetattr, window size).");
        out.raw(&format!(
            "(allow file-read-data file-read-metadata file-write-data file-ioctl (literal (param \"{terminal}\")))"
        ));
    }
}

fn network_rules(out: &mut Sbpl, plan: &Plan) {
    out.section("network");
    match plan.network {
        SeatbeltNetwork::Off => {
            out.comment(
                "No network: no IP socket may be created, bound or connected (deny default).",
            );
        }
        SeatbeltNetwork::Full => {
            out.comment("Full network: the policy allows any connection.");
            out.raw("(allow network*)");
            out.raw("(allow system-socket)");
            out.comment(
                "DNS: resolver configuration, mDNSResponder (below); proxy settings (configd);",
            );
            out.comment("Network.framework (networkd); certificate trust for TLS (trustd). Not the keychain");
            out.comment("(com.apple.SecurityServer): it is a credential store.");
            out.raw("(allow mach-lookup");
            out.raw("  (global-name \"com.apple.SystemConfiguration.DNSConfiguration\")");
            out.raw("  (global-name \"com.apple.SystemConfiguration.configd\")");
            out.raw("  (global-name \"com.apple.networkd\")");
            out.raw("  (global-name \"com.apple.trustd.agent\"))");
            if !matches!(plan.sockets, SocketPlan::All) {
                out.comment(
                    "network* above includes unix sockets; they stay confined to the allowed ones.",
                );
                out.raw("(deny network-bind (local unix-socket))");
                out.raw("(deny network-outbound (remote unix-socket))");
            }
            out.comment("getaddrinfo asks mDNSResponder over its socket.");
            out.raw(&format!(
                "(allow network-outbound (remote unix-socket (path-literal \"{MDNS_RESPONDER_SOCKET}\")))"
            ));
        }
        SeatbeltNetwork::Proxy { http, socks } => {
            out.comment(
                "Filtered network: only the egress proxy's two listeners on this host's loopback.",
            );
            out.comment(
                "No DNS (the proxy resolves; DNS would be a way out). Ports are u16 values printed",
            );
            out.comment("as digits (Seatbelt's remote-address syntax takes no parameters); nothing else is spliced.");
            out.raw("(allow system-socket (socket-domain AF_INET) (socket-domain AF_INET6))");
            out.raw_with_comment(
                &format!("(allow network-outbound (remote tcp \"localhost:{http}\"))"),
                "HTTP proxy",
            );
            if socks != http {
                out.raw_with_comment(
                    &format!("(allow network-outbound (remote tcp \"localhost:{socks}\"))"),
                    "SOCKS5 proxy",
                );
            }
            out.comment(
                "No trustd: it fetches intermediate certificates and revocation answers over the",
            );
            out.comment(
                "network itself, outside the proxy, to URLs a certificate names (a way out). TLS",
            );
            out.comment("clients verify with the bundle in SSL_CERT_FILE instead.");
        }
    }
    match &plan.sockets {
        SocketPlan::None => {
            out.comment("No path-named unix socket may be bound or connected (ssh-agent, Docker, tmux servers).");
        }
        SocketPlan::Allow(names) => {
            out.comment(
                "Path-named unix sockets allowed by name: bind and connect at or beneath each.",
            );
            out.comment("Binding also creates a file, which the file rules above must allow too.");
            for name in names {
                out.raw(&format!(
                    "(allow network-bind (local unix-socket (subpath (param \"{name}\"))))"
                ));
                out.raw(&format!(
                    "(allow network-outbound (remote unix-socket (subpath (param \"{name}\"))))"
                ));
            }
        }
        SocketPlan::All => {
            out.comment("Escape hatch: every path-named unix socket may be bound and connected");
            out.comment("(ssh-agent, Docker, any local server), IP networking unchanged.");
            out.raw("(allow network-bind (local unix-socket))");
            out.raw("(allow network-outbound (remote unix-socket))");
        }
    }
}

fn final_denies(out: &mut Sbpl, plan: &Plan) {
    if plan.hidden.is_empty() && plan.pins.is_empty() {
        return;
    }
    out.section("last: these win over every allow above");
    if !plan.hidden.is_empty() {
        out.comment(
            "Hidden paths (credential stores): neither read nor written, at or beneath each;",
        );
        out.comment("subpath covers a directory and a file of that name alike.");
        for name in &plan.hidden {
            out.raw(&format!(
                "(deny file-read* file-write* (subpath (param \"{name}\")))"
            ));
        }
    }
    if !plan.pins.is_empty() {
        out.comment("Every directory from a writable root down to a read-only or hidden path stays where it");
        out.comment("is: renaming one (mv .. away, edit, move back) would carry the protected path out of its rule.");
        for name in &plan.pins {
            out.raw(&format!(
                "(deny file-write-unlink (literal (param \"{name}\")))"
            ));
        }
    }
}

/// A line-oriented writer of profile text.
#[derive(Default)]
struct Sbpl {
    text: String,
}

impl Sbpl {
    fn raw(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn raw_with_comment(&mut self, line: &str, why: &str) {
        let _ = writeln!(self.text, "{line} ; {why}");
    }

    fn comment(&mut self, text: &str) {
        let _ = writeln!(self.text, "; {text}");
    }

    fn blank(&mut self) {
        self.text.push('\n');
    }

    fn section(&mut self, title: &str) {
        let _ = write!(self.text, "\n;;; {title}\n");
    }
}
