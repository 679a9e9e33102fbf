//! The `codex-policy` command-line tool. See `docs/cli.md` for the contract.

// Standard output and error may be closed pipes (`2>&1 | head -1`):
// `println!`/`eprintln!` would panic (exit 101) instead of giving the
// contract's status; every line goes through `print_out` or `print_err`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod audit;
mod config_files;
mod elevate;
mod exec_rules;
mod explain;
mod profile;
mod sandbox;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};
use codex_policy::model::{CodexRc, HarnessPolicy, Requirements, RuntimePattern};
use codex_policy::{
    ApprovalPolicy, CodexConfig, ConfigurationError, Error, ProfileChoice, Refusal, SandboxPolicy,
    SecurityProfile, SessionBuilder, profiles::Preset,
};
use serde::Serialize;

/// Exit statuses of the contract.
mod exit {
    /// The inputs (environment, config files) are invalid.
    pub(crate) const INVALID_INPUT: u8 = 1;
    /// The command line itself is wrong (clap uses the same status).
    pub(crate) const USAGE: u8 = 2;
    /// codex-policy could not start the command under the requested restrictions,
    /// or failed itself.
    pub(crate) const CANNOT_START: u8 = 125;
}

/// Decide and enforce what an AI agent's child processes may do.
#[derive(Debug, Parser)]
#[command(name = "codex-policy", version, about, max_term_width = 100)]
struct Cli {
    /// Profile: a security profile (offline, net-read-only, workspace, workspace-net,
    /// trusted), a built-in template (review, research, ci) or a [profiles.<name>] of
    /// config.toml. Wins over elevation, CODEX_SECURITY_PROFILE, .codex-profile and config.toml.
    #[arg(long, global = true, value_name = "PROFILE", value_parser = parse_profile,
          group = "preset")]
    profile: Option<ProfileChoice>,

    /// Codex's sandbox modes: read-only (= offline), workspace-write (= workspace),
    /// danger-full-access (= trusted).
    #[arg(long, global = true, value_name = "MODE", value_parser = parse_sandbox_mode,
          group = "preset")]
    sandbox: Option<codex_policy::SandboxMode>,

    /// When to ask before a command runs: untrusted, on-request (default), on-failure, never.
    #[arg(short = 'a', long = "ask-for-approval", global = true, value_name = "POLICY",
          value_parser = parse_approval)]
    ask_for_approval: Option<ApprovalPolicy>,

    /// Preset: workspace profile, approval on-failure.
    #[arg(
        long,
        global = true,
        group = "preset",
        conflicts_with = "ask_for_approval"
    )]
    full_auto: bool,

    /// Preset: trusted profile (no sandbox restrictions) and approval never. Only for
    /// disposable machines; refused where managed requirements forbid either.
    #[arg(
        long = "dangerously-bypass-approvals-and-sandbox",
        visible_alias = "yolo",
        global = true,
        group = "preset",
        conflicts_with = "ask_for_approval"
    )]
    yolo: bool,

    /// config.toml to read instead of $CODEX_HOME/config.toml (default ~/.codex/config.toml).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,

    /// Print the resolved profile, approval policy, their sources and capabilities.
    #[arg(long)]
    show_profile: bool,

    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a command under the effective policy's sandbox.
    Run(RunArgs),
    /// The launcher: validate the runtime files (errors: 125, nothing
    /// started), export CODEX_* and AWS_* for the command, then `run` it.
    Launch(RunArgs),
    /// Show the effective policy and the source that decided each field.
    Explain(PolicyInputs),
    /// Read the audit log: `tail` (the last events) or `query` (filtered).
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Decide on a command line with the exec policy (the default policy
    /// without --rules); --json prints Codex's {"decision", "matchedRules"} and
    /// "commands" (what was decided), "decision" left out when no rule matched.
    Check {
        /// A rules file (Starlark); may be repeated. Default: the built-in policy.
        #[arg(long = "rules", value_name = "FILE")]
        rules: Vec<PathBuf>,
        /// The command line to decide on.
        #[arg(last = true, required = true, value_name = "CMD")]
        command: Vec<String>,
        #[command(flatten)]
        audit: AuditArgs,
    },
    /// Show what this host can enforce, for every profile.
    Doctor,
    /// Codex-compatible debugging: `run` plus a report of the rules applied.
    Debug {
        /// Which sandbox: `landlock` (Linux: runs the command) or `seatbelt`
        /// (the macOS profile: runs the command on macOS, a dry run elsewhere).
        backend: DebugBackend,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Check .codexrc.json, harness.policy.json, config.toml and requirements.toml.
    Validate {
        #[command(flatten)]
        files: RuntimeFiles,
        /// Fail on warnings too.
        #[arg(long)]
        strict: bool,
    },
    /// Write one of the environment patterns (.codexrc.json + harness.policy.json),
    /// or add a profile template to config.toml as [profiles.<name>] for editing.
    #[command(group(clap::ArgGroup::new("what").required(true).args(["pattern", "template"])))]
    Init {
        /// development, sandbox, production or air-gapped.
        #[arg(long, value_parser = parse_pattern)]
        pattern: Option<RuntimePattern>,
        /// review (read-only, asks before anything not known safe), research (read-only
        /// network), ci (workspace, never asks): written into config.toml (--config).
        #[arg(long, value_name = "NAME", value_parser = parse_template)]
        template: Option<&'static codex_policy::profiles::ProfileTemplate>,
        /// Where to write the pattern's files (default: the current directory).
        #[arg(long, value_name = "DIR", default_value = ".")]
        dir: PathBuf,
        /// Replace existing files.
        #[arg(long)]
        force: bool,
    },
    /// Time-limited elevation of this project: `--to PROFILE --for 15m --reason TEXT`
    /// (confirmed on the terminal, or --yes), `--status`, or `--revoke`.
    Elevate(ElevateArgs),
    /// Run the egress proxy in the foreground, on this host's loopback, for
    /// the effective policy (the inputs of `run`); one line per listener.
    Proxy(ProxyArgs),
    /// Print the JSON Schema of a configuration type, generated from the code.
    Schema {
        /// Which schema.
        name: SchemaName,
    },
}

fn parse_pattern(name: &str) -> Result<RuntimePattern, String> {
    name.parse::<RuntimePattern>().map_err(|e| e.to_string())
}

/// What the effective policy is composed from, besides profile and config.toml.
#[derive(Debug, Args)]
struct PolicyInputs {
    /// Directory to run in (and the main writable root); default: the current one.
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Extra writable directory (workspace profiles only); may be repeated.
    #[arg(long = "writable-root", value_name = "DIR")]
    writable_roots: Vec<PathBuf>,
    #[command(flatten)]
    files: RuntimeFiles,
}

/// The runtime-control files (config.toml is the global `--config`).
#[derive(Debug, Clone, Args)]
struct RuntimeFiles {
    /// .codexrc.json (default: $CODEX_RUNTIME_CONFIG, else ./.codexrc.json if present).
    #[arg(long, value_name = "FILE")]
    runtime: Option<PathBuf>,
    /// harness.policy.json (default: $CODEX_POLICY_FILE, else ./harness.policy.json if present).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Managed requirements.toml (default: /etc/codex/requirements.toml if present).
    #[arg(long, value_name = "FILE")]
    requirements: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RunArgs {
    #[command(flatten)]
    inputs: PolicyInputs,
    /// Run even if this host cannot enforce everything, and say what is not enforced.
    #[arg(long)]
    best_effort: bool,
    /// Consult these exec-policy rules first (forbidden: 126; prompt: ask on the
    /// terminal, 126 without one); may be repeated.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    #[command(flatten)]
    audit: AuditArgs,
    /// The command and its arguments.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<OsString>,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("action").required(true).args(["to", "status", "revoke"])))]
struct ElevateArgs {
    /// The profile to elevate to (a security profile).
    #[arg(long, value_name = "PROFILE", requires_all = ["duration", "reason"],
          value_parser = parse_security_profile)]
    to: Option<SecurityProfile>,
    /// For how long: 90s, 15m, 2h, 1h30m (at most 8h).
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    duration: Option<std::time::Duration>,
    /// Why (recorded in the grant and the audit log).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// Do not ask for confirmation on the terminal.
    #[arg(long)]
    yes: bool,
    /// Show this project's elevation.
    #[arg(long)]
    status: bool,
    /// End this project's elevation now.
    #[arg(long)]
    revoke: bool,
    /// The project's directory (default: the current one; its repository's top is the project).
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Managed requirements.toml (default: /etc/codex/requirements.toml if present).
    #[arg(long, value_name = "FILE")]
    requirements: Option<PathBuf>,
    #[command(flatten)]
    audit: AuditArgs,
}

#[derive(Debug, Args)]
struct ProxyArgs {
    /// Where the HTTP proxy listens (a loopback address; port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:3128", value_parser = parse_listen)]
    listen: std::net::SocketAddr,
    /// Where the SOCKS5 proxy listens (a loopback address; port 0: any free port).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1080", value_parser = parse_listen)]
    socks: std::net::SocketAddr,
    /// Also print the variables to export, in shell syntax.
    #[arg(long)]
    print_env: bool,
    #[command(flatten)]
    inputs: PolicyInputs,
    /// Exec-policy rules whose network_rule entries filter the network too; may be repeated.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    #[command(flatten)]
    audit: AuditArgs,
}

/// An address and port; whether the proxy may listen there (loopback only)
/// is the library's to decide.
fn parse_listen(text: &str) -> Result<std::net::SocketAddr, String> {
    text.parse()
        .map_err(|e| format!("{text:?} is not an address and port (127.0.0.1:3128): {e}"))
}

/// Where the audit events of one command go.
#[derive(Debug, Args)]
struct AuditArgs {
    /// Audit log file (default: [audit] path of config.toml, else $CODEX_HOME/audit/audit.jsonl).
    #[arg(long, value_name = "FILE")]
    audit_log: Option<PathBuf>,
    /// Session id of the events (default: a new random id per run).
    #[arg(long, value_name = "ID")]
    session_id: Option<String>,
    /// Write no audit events.
    #[arg(long, conflicts_with = "audit_log")]
    no_audit: bool,
}

#[derive(Debug, Subcommand)]
enum AuditAction {
    /// The last events.
    Tail {
        /// The log (default: [audit] path of config.toml, else $CODEX_HOME/audit/audit.jsonl).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// How many.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: usize,
    },
    /// Events matching filters, across rotated files.
    Query {
        /// The log (default: [audit] path of config.toml, else $CODEX_HOME/audit/audit.jsonl).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// allowed, denied or requires_approval.
        #[arg(long, value_parser = parse_enum::<codex_policy::audit::AuditDecision>)]
        decision: Option<codex_policy::audit::AuditDecision>,
        /// file_read, file_write, command_exec, network_connect, sandbox_start, sandbox_exit, policy_load, elevation.
        #[arg(long, value_parser = parse_enum::<codex_policy::audit::Operation>)]
        operation: Option<codex_policy::audit::Operation>,
        /// The deciding component (execpolicy, sandbox, config).
        #[arg(long)]
        source: Option<String>,
        /// One session.
        #[arg(long)]
        session: Option<String>,
        /// At or after this RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        since: Option<chrono::DateTime<chrono::Utc>>,
        /// Before this RFC 3339 time.
        #[arg(long, value_parser = parse_time)]
        until: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Append events read from standard input (one JSON object per line with
    /// operation, target, decision, source, and optionally reason and
    /// session_id), redacted, each in one write.
    Append {
        /// The log (default: [audit] path of config.toml, else $CODEX_HOME/audit/audit.jsonl).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned())).map_err(|e| e.to_string())
}

fn parse_time(text: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{text:?} is not an RFC 3339 time (2026-11-23T18:30:00Z): {e}"))
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DebugBackend {
    /// The Linux backend: Landlock, seccomp and namespaces.
    Landlock,
    /// The macOS backend: prints the Seatbelt profile and the exact
    /// `sandbox-exec` command line; runs it on macOS only (elsewhere a dry run).
    Seatbelt,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum SchemaName {
    /// .codexrc.json.
    Codexrc,
    /// harness.policy.json.
    HarnessPolicy,
    /// The keys of config.toml that codex-policy reads.
    Config,
    /// Managed requirements.toml.
    Requirements,
    /// A sandbox policy (`{"mode": "workspace-write", ...}`).
    SandboxPolicy,
    /// One line of the audit log.
    AuditEvent,
}

fn parse_profile(name: &str) -> Result<ProfileChoice, String> {
    name.parse().map_err(|e: codex_policy::profiles::UnknownProfile| {
        format!("{e}; also a built-in template (review, research, ci) or a [profiles.<name>] of config.toml")
    })
}

fn parse_security_profile(name: &str) -> Result<SecurityProfile, String> {
    name.parse()
        .map_err(|e: codex_policy::profiles::UnknownProfile| e.to_string())
}

fn parse_sandbox_mode(name: &str) -> Result<codex_policy::SandboxMode, String> {
    name.parse::<codex_policy::SandboxMode>().map_err(|_| {
        format!(
            "{name:?} is not a sandbox mode; expected read-only, workspace-write or danger-full-access"
        )
    })
}

fn parse_approval(name: &str) -> Result<ApprovalPolicy, String> {
    name.parse()
        .map_err(|e: codex_policy::model::UnknownApprovalPolicy| e.to_string())
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    codex_policy::profiles::parse_duration(text).map_err(|e| e.to_string())
}

fn parse_template(name: &str) -> Result<&'static codex_policy::profiles::ProfileTemplate, String> {
    codex_policy::profiles::ProfileTemplate::find(name).ok_or_else(|| {
        let names: Vec<&str> = codex_policy::profiles::TEMPLATES
            .iter()
            .map(|t| t.name)
            .collect();
        format!(
            "{name:?} is not a profile template; templates: {}",
            names.join(", ")
        )
    })
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version go to standard output as clap writes them; a
        // wrong command line is reported with the same prefix as every other
        // error of this program.
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            print_err(&format!("codex-policy: {}", err.render()));
            return ExitCode::from(u8::try_from(err.exit_code()).unwrap_or(exit::USAGE));
        }
    };
    if let Some(message) = ignored_flag(&cli) {
        print_err(&format!("codex-policy: error: {message}\n"));
        return ExitCode::from(exit::USAGE);
    }
    match dispatch(&cli) {
        Ok(status) => ExitCode::from(status),
        Err(failure) => {
            // Messages quote file names, programs and arguments: line by line,
            // control characters are shown, not obeyed by the terminal.
            let message: Vec<_> = failure
                .message
                .lines()
                .map(codex_policy::audit::escape_for_terminal)
                .collect();
            print_err(&format!("codex-policy: error: {}\n", message.join("\n")));
            ExitCode::from(failure.status)
        }
    }
}

/// A global flag the chosen command would not use: refused, never dropped
/// in silence (a user who asks for JSON, for a profile or for a config.toml
/// must not get something else without a word).
fn ignored_flag(cli: &Cli) -> Option<String> {
    // Each command's name, whether it renders JSON, whether it resolves a
    // profile, and whether it reads config.toml. Without JSON: a command's
    // own output (run), lines for a shell (proxy), files (init), a message
    // (elevate --to/--revoke), or JSON already (schema). Without a profile:
    // the host's report covers every one; a schema, the audit log, a
    // written file or an elevation (its profile is --to) has none. Without
    // config.toml: a schema, the host's report, a pattern's files, an
    // elevation's status.
    let (name, uses_json, uses_profile, uses_config) = match cli.command.as_ref()? {
        Command::Run(_) => ("run", false, true, true),
        Command::Launch(_) => ("launch", false, true, true),
        Command::Explain(_) => ("explain", true, true, true),
        // The log is the one config.toml names ([audit] path, keep).
        Command::Audit { action } => match action {
            AuditAction::Tail { .. } => ("audit tail", true, false, true),
            AuditAction::Query { .. } => ("audit query", true, false, true),
            AuditAction::Append { .. } => ("audit append", false, false, true),
        },
        Command::Check { .. } => ("check", true, true, true),
        Command::Doctor => ("doctor", true, false, false),
        Command::Debug {
            backend: DebugBackend::Landlock,
            ..
        } => ("debug landlock", false, true, true),
        Command::Debug {
            backend: DebugBackend::Seatbelt,
            ..
        } => ("debug seatbelt", true, true, true),
        Command::Validate { .. } => ("validate", true, true, true),
        Command::Init {
            pattern: Some(_), ..
        } => ("init --pattern", false, false, false),
        Command::Init { .. } => ("init --template", false, false, true),
        Command::Elevate(args) if args.status => ("elevate --status", true, false, false),
        // Both record in the audit log config.toml names.
        Command::Elevate(args) if args.revoke => ("elevate --revoke", false, false, true),
        Command::Elevate(_) => ("elevate --to", false, false, true),
        Command::Proxy(_) => ("proxy", false, true, true),
        Command::Schema { .. } => ("schema", false, false, false),
    };
    // `--show-profile` resolves the profile from config.toml and prints it
    // (as JSON with --json), whatever the command does.
    let (uses_json, uses_profile, uses_config) = (
        uses_json || cli.show_profile,
        uses_profile || cli.show_profile,
        uses_config || cli.show_profile,
    );
    let profile_flag = [
        (cli.profile.is_some(), "--profile"),
        (cli.sandbox.is_some(), "--sandbox"),
        (cli.ask_for_approval.is_some(), "--ask-for-approval"),
        (cli.full_auto, "--full-auto"),
        (cli.yolo, "--dangerously-bypass-approvals-and-sandbox"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag));
    let (flag, why) = if cli.json && !uses_json {
        let why = match name {
            "schema" => Some(" (a schema is JSON already)"),
            "elevate --to" | "elevate --revoke" => Some(" (only `elevate --status` prints JSON)"),
            _ => None,
        };
        ("--json", why)
    } else if let Some(flag) = profile_flag.filter(|_| !uses_profile) {
        let why = match name {
            "doctor" => Some(" (it reports every profile)"),
            "elevate --to" => Some(" (the profile granted is --to)"),
            _ => None,
        };
        (flag, why)
    } else if cli.config.is_some() && !uses_config {
        ("--config", Some(" (it reads no config.toml)"))
    } else {
        return None;
    };
    Some(format!(
        "{flag} has no effect on `{name}`{}; leave it out",
        why.unwrap_or("")
    ))
}

/// An error message and the exit status it maps to.
struct Failure {
    status: u8,
    message: String,
}

impl Failure {
    fn new(status: u8, err: impl std::fmt::Display) -> Self {
        Self {
            status,
            message: err.to_string(),
        }
    }

    fn internal(err: impl std::fmt::Display) -> Self {
        Self::new(exit::CANNOT_START, format!("internal error: {err}"))
    }
}

/// Runs the requested command; `Ok` carries the exit status.
fn dispatch(cli: &Cli) -> Result<u8, Failure> {
    if !cli.show_profile && cli.command.is_none() {
        return Err(Failure::new(
            exit::USAGE,
            "nothing to do: give --show-profile or a command (see --help)",
        ));
    }
    if cli.yolo {
        print_err(
            "codex-policy: warning: --dangerously-bypass-approvals-and-sandbox (--yolo): \
             commands run with NO sandbox restrictions (writes anywhere, full network, \
             credential stores readable) and \
             are never asked about; only forbidden rules still refuse. Use it only on a \
             disposable machine.\n",
        );
    }
    // Commands that start a process report bad configuration as 125 (the contract).
    let config_status = match cli.command {
        Some(Command::Run(_) | Command::Launch(_) | Command::Debug { .. } | Command::Proxy(_)) => {
            exit::CANNOT_START
        }
        _ => exit::INVALID_INPUT,
    };
    if cli.show_profile {
        let no_inputs = PolicyInputs {
            cwd: None,
            writable_roots: Vec::new(),
            files: RuntimeFiles {
                runtime: None,
                policy: None,
                requirements: None,
            },
        };
        // The profile of the command's own directory: a `.codex-profile` or
        // an elevation there decides too.
        let inputs = match &cli.command {
            Some(
                Command::Run(RunArgs { inputs, .. })
                | Command::Launch(RunArgs { inputs, .. })
                | Command::Debug {
                    run: RunArgs { inputs, .. },
                    ..
                }
                | Command::Proxy(ProxyArgs { inputs, .. })
                | Command::Explain(inputs),
            ) => inputs,
            _ => &no_inputs,
        };
        let resolved = session_builder(cli, inputs)
            .resolve()
            .map_err(|e| failure(e, config_status))?;
        print_out(&profile::render(&resolved, cli.json)?)?;
    }
    match &cli.command {
        None => Ok(0),
        Some(Command::Schema { name }) => {
            print_out(&schema_json(*name)?)?;
            Ok(0)
        }
        Some(Command::Doctor) => sandbox::doctor(cli.json),
        Some(Command::Validate { files, strict }) => {
            config_files::run_validate(cli, files, *strict)
        }
        Some(Command::Init {
            pattern: Some(pattern),
            dir,
            force,
            ..
        }) => config_files::run_init(*pattern, dir, *force),
        Some(Command::Init {
            template: Some(template),
            ..
        }) => config_files::add_template(cli, template),
        Some(Command::Init { .. }) => Err(Failure::new(
            exit::USAGE,
            "init needs --pattern or --template",
        )),
        Some(Command::Elevate(args)) => elevate::run(cli, args),
        Some(Command::Run(args)) => sandbox::run(cli, args, sandbox::Mode::Run),
        Some(Command::Proxy(args)) => sandbox::proxy(cli, args),
        Some(Command::Launch(args)) => sandbox::run(cli, args, sandbox::Mode::Launch),
        Some(Command::Debug {
            backend: DebugBackend::Landlock,
            run,
        }) => sandbox::run(cli, run, sandbox::Mode::Debug),
        Some(Command::Debug {
            backend: DebugBackend::Seatbelt,
            run,
        }) => sandbox::seatbelt(cli, run),
        Some(Command::Check {
            rules,
            command,
            audit,
        }) => exec_rules::check(cli, rules, command, audit, cli.json),
        Some(Command::Audit { action }) => match action {
            AuditAction::Tail { file, lines } => audit::show(
                &audit::log(cli, file.as_deref())?,
                &Default::default(),
                Some(*lines),
                cli.json,
            ),
            AuditAction::Query {
                file,
                decision,
                operation,
                source,
                session,
                since,
                until,
            } => {
                let filter = codex_policy::audit::Filter::default()
                    .with_decision(*decision)
                    .with_operation(*operation)
                    .with_source(source.clone())
                    .with_session(session.clone())
                    .with_since(*since)
                    .with_until(*until);
                audit::show(&audit::log(cli, file.as_deref())?, &filter, None, cli.json)
            }
            AuditAction::Append { file } => audit::append(audit::log(cli, file.as_deref())?),
        },
        Some(Command::Explain(inputs)) => {
            let composition = session_builder(cli, inputs)
                .compose()
                .map_err(|e| failure(e, exit::INVALID_INPUT))?;
            print_out(&explain::render(&composition, cli.json)?)?;
            Ok(0)
        }
    }
}

/// The runtime-control files the flags name.
fn runtime_files(cli: &Cli, files: &RuntimeFiles) -> codex_policy::RuntimeFiles {
    let mut chosen = codex_policy::RuntimeFiles::default();
    chosen.runtime = files.runtime.clone();
    chosen.policy = files.policy.clone();
    chosen.requirements = files.requirements.clone();
    chosen.config = cli.config.clone();
    chosen
}

/// A session as the flags describe it.
fn session_builder(cli: &Cli, inputs: &PolicyInputs) -> SessionBuilder {
    let mut builder =
        codex_policy::Session::builder().runtime_files(runtime_files(cli, &inputs.files));
    if let Some((choice, flag)) = preset_profile(cli) {
        builder = builder.profile_choice(choice, flag);
    }
    if let Some((policy, flag)) = preset_approval(cli) {
        builder = builder.approval_policy(policy, flag);
    }
    if let Some(dir) = &inputs.cwd {
        builder = builder.cwd(dir);
    }
    for root in &inputs.writable_roots {
        builder = builder.writable_root(root);
    }
    builder
}

/// The preset the flags choose, if any.
fn preset(cli: &Cli) -> Option<Preset> {
    if let Some(mode) = cli.sandbox {
        return Some(Preset::Sandbox(mode));
    }
    if cli.full_auto {
        return Some(Preset::FullAuto);
    }
    cli.yolo.then_some(Preset::Yolo)
}

/// The profile the flags choose, and the flag that chose it.
fn preset_profile(cli: &Cli) -> Option<(ProfileChoice, &'static str)> {
    if let Some(choice) = &cli.profile {
        return Some((choice.clone(), "--profile"));
    }
    preset(cli).map(|p| (ProfileChoice::Security(p.profile()), p.flag()))
}

/// The approval policy the flags choose, and the flag that chose it.
fn preset_approval(cli: &Cli) -> Option<(ApprovalPolicy, &'static str)> {
    if let Some(policy) = cli.ask_for_approval {
        return Some((policy, "-a"));
    }
    preset(cli).and_then(|p| Some((p.approval()?, p.flag())))
}

/// A library error as the command line reports it: its exit status (bad
/// configuration is `config_status`), with the flags that would help.
fn failure(err: Error, config_status: u8) -> Failure {
    let status = match &err {
        Error::Configuration(ConfigurationError::ExtraRootsNeedWrites { .. }) => exit::USAGE,
        // `--profile NAME` naming nothing is a wrong flag (the resolver
        // locates a name from a file instead).
        Error::Configuration(ConfigurationError::Profile(
            codex_policy::ProfileError::UnknownName { .. },
        )) => exit::USAGE,
        // A file the command could have written is a refusal to start, even
        // for `explain`.
        Error::Configuration(ConfigurationError::Loosening { .. }) => exit::CANNOT_START,
        Error::Configuration(_) | Error::Elevation(_) => config_status,
        // A listener address the proxy refuses is a wrong flag.
        Error::EgressProxy(codex_policy::network_proxy::ProxyError::NotLoopback { .. }) => {
            exit::USAGE
        }
        other => other.exit_status(),
    };
    let advice = match &err {
        Error::Configuration(ConfigurationError::InvalidFiles { .. }) => {
            "\n(run `codex-policy validate` for every finding)"
        }
        Error::Configuration(ConfigurationError::ExtraRootsNeedWrites { .. }) => {
            " (--writable-root)"
        }
        Error::AuditLog { .. } => " (use --audit-log to choose another file)",
        Error::Refused(Refusal::NotApproved { asked: true, .. }) => "",
        Error::Refused(Refusal::NotApproved {
            class, approval, ..
        }) => {
            if *class == codex_policy::GateClass::Prompt {
                "\n  to run it: run it from a terminal and answer y (approval on-request or \
                 untrusted asks), or allow it with a rule in a file given with --rules \
                 (prefix_rule(pattern = [...], decision = \"allow\"))"
            } else if *approval == ApprovalPolicy::Untrusted {
                "\n  to run it: run it from a terminal and answer y, or choose -a on-request \
                 (the sandbox is then the boundary for commands not known to be safe), or \
                 allow it with a rule in a file given with --rules"
            } else {
                "\n  to run it: run it from a terminal and answer y"
            }
        }
        err if err.lacks_protection() => {
            "\n  run `codex-policy doctor` for details, or pass --best-effort to run with only \
             the protections listed as enforced"
        }
        _ => "",
    };
    Failure::new(status, format!("{err}{advice}"))
}

/// Writes `text` to standard error as it is (the caller ends its lines).
/// A closed or failing standard error is ignored: the exit status still
/// says what happened, where `eprintln!` would panic with 101.
pub(crate) fn print_err(text: &str) {
    // Whatever an error quotes (a profile name, a key, a command line) may
    // be a token pasted in the wrong place: never shown on a terminal.
    let text = codex_policy::model::validate::secrets::mask_secrets(text);
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

fn print_out(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        // The reader stopped reading (`| head`): nothing is lost that it wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => {
            other.map_err(|e| Failure::internal(format!("cannot write to standard output: {e}")))
        }
    }
}

fn to_json(value: &impl Serialize) -> Result<String, Failure> {
    serde_json::to_string_pretty(value).map_err(Failure::internal)
}

fn schema_json(name: SchemaName) -> Result<String, Failure> {
    let schema = match name {
        SchemaName::Codexrc => codex_policy::model::json_schema::<CodexRc>(),
        SchemaName::HarnessPolicy => codex_policy::model::json_schema::<HarnessPolicy>(),
        SchemaName::Config => codex_policy::model::json_schema::<CodexConfig>(),
        SchemaName::Requirements => codex_policy::model::json_schema::<Requirements>(),
        SchemaName::SandboxPolicy => codex_policy::model::json_schema::<SandboxPolicy>(),
        SchemaName::AuditEvent => {
            codex_policy::model::json_schema::<codex_policy::audit::AuditEvent>()
        }
    };
    to_json(&schema)
}
